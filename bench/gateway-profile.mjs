// Where the gateway's time goes inside workerd: V8's sampling profiler (the inspector protocol
// Miniflare exposes) over a batch of requests sent as bench/gateway-cpu.mjs sends them, the
// functions printed by self and by inclusive share of the gateway isolate's samples.
//
//   GATEWAY_NAMES=1 GATEWAY_OUT=target/gw-named scripts/build-gateway.sh    (wasm function names)
//   node bench/gateway-profile.mjs [BUILD_DIR] [STORE] [PATH] [anonymous|user]
//
// Defaults: target/gw-named, STORE none, "/", anonymous (a returning visitor's affinity cookie).
// PASSTHROUGH=1 profiles the JS pass-through worker (bench/passthrough-worker.js) in the
// gateway's place, for comparison (its samples per request). FIRST=1 profiles a fresh
// instance's first request instead of N warm ones (no warm-up; V8 compiles each wasm function
// as it is first called, so its samples spread over the functions reached). INTERVAL sets the
// sampling interval in µs (default 50); NOKV=1 leaves the gateway's KV namespaces unbound.
import { Miniflare } from "miniflare";

import { DRIVER, ORIGIN } from "./gateway-cpu-workers.mjs";
import { COMPAT, ROOT, freePort, gatewayWorker, profileWorker } from "./workerd.mjs";

const [dir = "target/gw-named", store = "none", path = "/", who = "anonymous"] = process.argv.slice(2);
const N = Number(process.env.N || 3000);
const port = await freePort();
const mf = new Miniflare({
  inspectorPort: port,
  workers: [
    { name: "driver", modules: true, script: DRIVER, compatibilityDate: COMPAT, serviceBindings: { gw: "gw" } },
    process.env.PASSTHROUGH
      ? {
          name: "gw",
          modules: true,
          scriptPath: `${ROOT}/bench/passthrough-worker.js`,
          compatibilityDate: COMPAT,
          bindings: { ORIGINS: JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]) },
          outboundService: "origin",
        }
      : { ...gatewayWorker("gw", store, "origin", dir), ...(process.env.NOKV ? { kvNamespaces: [] } : {}) },
    { name: "origin", modules: true, script: ORIGIN, compatibilityDate: COMPAT },
  ],
});
try {
  await mf.ready;
  const run = async (p, cookie, n) => {
    const q = new URLSearchParams({ target: "gw", path: p, n: String(n), cookie });
    return (await mf.dispatchFetch(`http://driver.internal/run?${q}`)).json();
  };
  const cookies = (r) => r.last.cookies.map((c) => c.split(";")[0]);
  const FIRST = !!process.env.FIRST;
  const requests = FIRST ? 1 : N;
  let cookie = "";
  if (!FIRST) {
    cookie = cookies(await run(store === "none" ? "/" : "/cart/add", "", 1)).join("; ");
    if (who === "user") {
      const login = cookies(await run("/login", cookie, 1));
      cookie = [cookie, ...login.filter((c) => c.startsWith("__Host-session="))].join("; ");
    }
    await run(path, cookie, 500); // warm-up
  }

  const profile = await profileWorker(port, "gw", Number(process.env.INTERVAL || 50), () => run(path, cookie, requests));

  const { nodes, samples } = profile;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of nodes) for (const c of n.children || []) parent.set(c, n.id);
  const label = (n) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").pop()}`.trim();
  const count = new Map();
  for (const s of samples) count.set(s, (count.get(s) || 0) + 1);
  const self = new Map();
  const inclusive = new Map();
  for (const [nid, c] of count) {
    self.set(label(byId.get(nid)), (self.get(label(byId.get(nid))) || 0) + c);
    const seen = new Set();
    for (let x = nid; x !== undefined; x = parent.get(x)) {
      const k = label(byId.get(x));
      if (!seen.has(k)) seen.add(k), inclusive.set(k, (inclusive.get(k) || 0) + c);
    }
  }
  const show = (title, m, top) => {
    console.log(`--- ${title}`);
    for (const [k, c] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${((100 * c) / samples.length).toFixed(1).padStart(5)}%  ${k.slice(0, 160)}`);
    }
  };
  // Self samples by kind: the wasm, the JavaScript glue (worker-build's index.js), other
  // JavaScript, workerd's and V8's native functions, and V8's own entries ((program), (idle)...).
  const kinds = new Map();
  for (const [k, c] of self) {
    const kind = k.includes(".wasm")
      ? "wasm"
      : k.endsWith(" index.js")
        ? "JavaScript glue (index.js)"
        : /\.m?js$/.test(k)
          ? "other JavaScript"
          : k.startsWith("(")
            ? k
            : "native (workerd, V8)";
    kinds.set(kind, (kinds.get(kind) || 0) + c);
  }
  const what = process.env.PASSTHROUGH ? "the pass-through" : dir;
  console.log(`${requests} ${FIRST ? "first request" : "requests"}, STORE=${store}, ${path} (${who}), ${what}: ${samples.length} samples of the isolate (${(samples.length / requests).toFixed(2)} per request)`);
  show("by kind (self)", kinds, 10);
  show("inclusive", inclusive, 50);
  show("self", self, Number(process.env.TOP || 30));
} finally {
  await mf.dispose();
}
