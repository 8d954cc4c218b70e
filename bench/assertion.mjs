// The cost of a new ORIGIN_ASSERTION signature (issue 15) inside workerd.
//
//   make bench-assertion          (also runs benches/assertion.rs: the Rust part, natively)
//   N=2000 RUNS=5 node bench/assertion.mjs
//
// One WebCrypto signature of an assertion's signing input (Ed25519, ECDSA P-256), as the gateway
// makes it, in workerd (Miniflare): a worker signs N times per request; each request is timed
// from outside minus one that signs 0 times (inside workerd, Date.now() does not advance during
// computation). Timing whole gateway requests through wrangler dev (about 7 to 11 ms each on a
// shared machine) could not resolve differences of tens of microseconds: it was tried and gave
// noise of several milliseconds, so it is not here.
import { Miniflare } from "miniflare";

const N = Number(process.env.N || 2000);
const RUNS = Number(process.env.RUNS || 5);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------- 1. signatures in workerd
const SIGNER = `
const pkcs8 = {
  Ed25519: "302e020100300506032b657004220420",
  "P-256": "3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420",
};
const hex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
const keys = {};
async function key(alg) {
  if (keys[alg]) return keys[alg];
  const der = new Uint8Array([...hex(pkcs8[alg === "EdDSA" ? "Ed25519" : "P-256"]), ...new Uint8Array(32).fill(7)]);
  const params = alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" };
  return (keys[alg] = await crypto.subtle.importKey("pkcs8", der, params, false, ["sign"]));
}
// A signing input of the size the gateway makes for a logged-in visitor (about 330 bytes).
const input = new TextEncoder().encode("eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0." + "x".repeat(280));
export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    const alg = q.get("alg");
    const k = await key(alg);
    const params = alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
    for (let i = 0, n = Number(q.get("n")); i < n; i++) await crypto.subtle.sign(params, k, input);
    return new Response("ok");
  },
};`;

async function signatures() {
  const mf = new Miniflare({ modules: true, script: SIGNER, compatibilityDate: "2026-04-01" });
  try {
    await mf.ready;
    const timed = async (q) => {
      const start = performance.now();
      const res = await mf.dispatchFetch(`http://bench.test/?${q}`);
      if ((await res.text()) !== "ok") throw new Error(q);
      return performance.now() - start;
    };
    const out = {};
    for (const alg of ["EdDSA", "ES256"]) {
      await timed(`alg=${alg}&n=${N}`); // warm-up
      const us = [];
      for (let r = 0; r < RUNS; r++) {
        const empty = await timed(`alg=${alg}&n=0`);
        const full = await timed(`alg=${alg}&n=${N}`);
        us.push(((full - empty) * 1000) / N);
      }
      out[alg] = median(us);
    }
    return out;
  } finally {
    await mf.dispose();
  }
}

const sig = await signatures();
console.log(`One WebCrypto signature of a 330-byte assertion in workerd (median of ${RUNS} runs of ${N}):`);
console.log("| alg | µs per signature |\n| --- | ---: |");
for (const [alg, us] of Object.entries(sig)) console.log(`| ${alg} | ${us.toFixed(1)} |`);
