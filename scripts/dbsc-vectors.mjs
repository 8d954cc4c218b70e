// Writes tests/vectors/dbsc.json: known vectors of device-bound sessions (issue 14), made with
// Node's WebCrypto through the e2e protocol client (tests/e2e/dbsc-client.mjs: ES256 and RS256
// key pairs, proof JWTs as Chromium writes them) and Node's HKDF/HMAC (the server's stamped
// values, computed here independently of src/dbsc/).
// Run once: `node scripts/dbsc-vectors.mjs`. The key pairs are new on every run, so the file is
// committed as it was made; the challenges and bound cookies come out the same every time.
// Read by tests/dbsc.rs and tests/fuzz_corpus.rs (cargo test), src/webcrypto.rs, benches/core.rs
// and the JS tests of DeviceBoundSessions (tests/js/dbsc.test.mjs).
import { createHmac, hkdfSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { DeviceKey, signProof } from "../tests/e2e/dbsc-client.mjs";

const { subtle } = globalThis.crypto;
const b64 = (bytes) => Buffer.from(bytes).toString("base64url");
const text = (s) => b64(Buffer.from(s, "utf8"));

// The server's keyring (a SESSION_KEYS ring) and the session.
const secret = Buffer.alloc(32, 0x44);
const keys = [{ id: "k1", secret: b64(secret) }];
const sessionId = "sid-0001";
const now = 1_800_000_000;
const boundSeconds = 600;

// The stamped format of src/dbsc/stamp.rs: base64url of issue time (8 bytes, big-endian),
// 8 random bytes and HMAC-SHA256 truncated to 16 bytes over context || those 16 bytes, the key
// HKDF-SHA256(secret, salt "edge-session/v1", info purpose). A context is one byte, then each
// part as a LEB128 length and its UTF-8 bytes.
const purposeKey = (purpose) =>
  Buffer.from(hkdfSync("sha256", secret, "edge-session/v1", purpose, 32));
const varint = (n) => {
  const out = [];
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
};
const context = (first, parts) =>
  Buffer.concat([Buffer.from([first]), ...parts.flatMap((p) => [varint(Buffer.byteLength(p)), Buffer.from(p)])]);
const stamp = (purpose, ctx, time, random) => {
  const body = Buffer.alloc(16);
  body.writeBigUInt64BE(BigInt(time), 0);
  random.copy(body, 8);
  const tag = createHmac("sha256", purposeKey(purpose)).update(Buffer.concat([ctx, body])).digest().subarray(0, 16);
  return b64(Buffer.concat([body, tag]));
};
const KIND = { registration: 1, refresh: 2 };
const challenge = (kind, sid, time, random) =>
  stamp("dbsc/challenge", context(KIND[kind], [sid]), time, random);
const bound = (sid, jkt, time, random) => stamp("dbsc/bound", context(0, [sid, jkt]), time, random);

// The browser's side: key pairs and proofs exactly as the e2e protocol client makes them
// (Chromium's member order), so the vectors and the e2e tests share one proof maker.
const pair = (alg) => DeviceKey.generate(alg);
const proof = (key, { header, payload }) => signProof(key, { header, payload });
const thumbprint = (key) => key.thumbprint();

const random = (byte) => Buffer.alloc(8, byte);
const vectors = {
  description:
    "Device-bound sessions (DBSC, issue 14). Written by scripts/dbsc-vectors.mjs with Node's WebCrypto through the e2e protocol client (key pairs, proofs as Chromium writes them) and HKDF/HMAC (challenges, bound cookies: the format of src/dbsc/stamp.rs, computed independently). `proofs`: each with the steps it passes; `verifies` is what WebCrypto says of its signature with `jwk` (the key it claims or the bound one); `code` the error Proof::parse, register or refresh gives, or null. Read by tests/dbsc.rs (natively and in wasm), the wasm test of verify_device (src/webcrypto.rs) and the JS tests.",
  keys,
  sessionId,
  now,
  boundSeconds,
  rfc7638: {
    description: "RFC 7638 section 3.1: the example RSA key and its thumbprint.",
    jwk: {
      kty: "RSA",
      n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
      e: "AQAB",
      alg: "RS256",
      kid: "2011-04-29",
    },
    thumbprint: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
  },
  challenges: [],
  bound: [],
  proofs: [],
};

for (const [kind, byte] of [["registration", 1], ["refresh", 2]]) {
  const random8 = random(byte);
  vectors.challenges.push({ kind, sessionId, now, random: random8.toString("hex"), challenge: challenge(kind, sessionId, now, random8) });
}

const typ = "dbsc+jwt";
for (const alg of ["ES256", "RS256"]) {
  const key = await pair(alg);
  const other = await pair(alg);
  const jkt = await thumbprint(key);
  const reg = challenge("registration", sessionId, now, random(alg === "ES256" ? 3 : 4));
  const ref = challenge("refresh", sessionId, now + boundSeconds, random(alg === "ES256" ? 5 : 6));
  const boundValue = bound(sessionId, jkt, now, random(7));
  vectors.bound.push({ sessionId, jkt, now, random: random(7).toString("hex"), value: boundValue });
  // Headers and payloads in Chromium's member order (sorted).
  const withJwk = (k) => ({ alg, jwk: k.jwk, typ });
  const registration = await proof(key, { header: withJwk(key), payload: { authorization: "ac", jti: reg } });
  const refresh = await proof(key, { header: { alg, typ }, payload: { jti: ref } });
  const [h, p, s] = registration.split(".");
  const flip = (seg) => (seg[0] === "A" ? "B" : "A") + seg.slice(1);
  // `by`: the key whose WebCrypto verify says `verifies` (checked below, then dropped).
  const push = (v) => vectors.proofs.push({ alg, jwk: key.jwk, jkt, by: key, ...v });
  push({ name: `${alg} registration`, step: "registration", jwt: registration, jti: reg, authorization: "ac", verifies: true, code: null });
  push({ name: `${alg} refresh`, step: "refresh", jwt: refresh, jti: ref, authorization: null, verifies: true, code: null });
  // The refresh proof made by another key: it parses and its challenge checks; WebCrypto refuses
  // it with the bound key.
  push({ name: `${alg} refresh by another key`, step: "refresh", jwt: await proof(other, { header: { alg, typ }, payload: { jti: ref } }), jti: ref, authorization: null, verifies: false, code: null });
  // Registration with another key's jwk in the header: the signature is not by that jwk.
  push({ name: `${alg} registration claiming another key`, step: "registration", jwt: await proof(key, { header: withJwk(other), payload: { jti: reg } }), jti: reg, authorization: null, jwk: other.jwk, jkt: await thumbprint(other), by: other, verifies: false, code: null });
  // A changed payload and a changed signature: parse, fail WebCrypto.
  push({ name: `${alg} registration, payload changed`, step: "registration", jwt: `${h}.${text(JSON.stringify({ authorization: "ad", jti: reg }))}.${s}`, jti: reg, authorization: "ad", verifies: false, code: null });
  push({ name: `${alg} registration, signature changed`, step: "registration", jwt: `${h}.${p}.${flip(s)}`, jti: reg, authorization: "ac", verifies: false, code: null });
  // Refusals before any signature.
  const never = b64(Buffer.alloc(32, 9));
  push({ name: `${alg} registration, challenge never issued`, step: "registration", jwt: await proof(key, { header: withJwk(key), payload: { jti: never } }), jti: never, authorization: null, verifies: true, code: "unknown_challenge" });
  push({ name: `${alg} refresh answering a registration challenge`, step: "refresh", jwt: await proof(key, { header: { alg, typ }, payload: { jti: reg } }), jti: reg, authorization: null, verifies: true, code: "unknown_challenge" });
  push({ name: `${alg} registration without typ`, step: "parse", jwt: await proof(key, { header: { alg, jwk: key.jwk }, payload: { jti: reg } }), verifies: true, code: "malformed" });
  push({ name: `${alg} registration without jwk`, step: "registration", jwt: await proof(key, { header: { alg, typ }, payload: { jti: reg } }), jti: reg, authorization: null, verifies: true, code: "malformed" });
}
// alg none: no signature at all.
vectors.proofs.push({
  name: "alg none",
  step: "parse",
  jwt: `${text(JSON.stringify({ alg: "none", typ }))}.${text(JSON.stringify({ jti: vectors.challenges[0].challenge }))}.`,
  verifies: false,
  code: "unsupported_alg",
});

// The W3C draft's example (spec.bs, #secure-session-response-example): an older layout, with
// the key in the payload and no jwk in the header. It parses; as a registration it is refused
// (no jwk in the header); its signature does not verify with the key of its payload (WebCrypto).
vectors.draftExample = {
  description: "The Secure-Session-Response example of the W3C draft (w3c/webappsec-dbsc spec.bs at d346811, 2026-02-17), as a structured-field string. jwk in the payload (an older layout), none in the header: parses; refused as a registration (malformed); its signature does not verify with the payload's key (checked with Node's WebCrypto).",
  header: "\"eyJhbGciOiJFUzI1NiIsInR5cCI6ImRic2Mrand0In0.eyJhdWQiOiJodHRwczovL2V4YW1wbGUuY29tL3JlZyIsImp0aSI6ImN2IiwiaWF0IjoiMTcyNTU3OTA1NSIsImp3ayI6eyJrdHkiOiJFQyIsImNydiI6IlAtMjU2IiwieCI6IjZfR0Iydm9RMHFyb01oNk9sREZDRlNfU0pyaVFpMVBUdnZCT2hHWjNiSEkiLCJ5IjoiSWVnT0pVTHlFN1N4SF9DZDFLQ0VSN2xXQnZHRkhRLWgweHlqelVqRUlXRSJ9LCJhdXRob3JpemF0aW9uIjoiYWMifQ.6Fb_vVBDmfNghQiBmIGe8o7tBfYPbPCywhQruP0vIhxgmcJmuNTaMHeVn_M8ZnOm1_bzIitbZqCWEn-1Qzmtyw\"",
  alg: "ES256",
  jti: "cv",
  authorization: "ac",
  payloadJwk: { kty: "EC", crv: "P-256", x: "6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI", y: "IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE" },
  registrationCode: "malformed",
};
{
  const jwt = JSON.parse(vectors.draftExample.header);
  const [h, p, s] = jwt.split(".");
  const publicKey = await subtle.importKey("jwk", vectors.draftExample.payloadJwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const key = Object.assign(new DeviceKey(), { alg: "ES256", publicKey });
  vectors.draftExample.verifies = await key.verify(Buffer.from(s, "base64url"), Buffer.from(`${h}.${p}`));
}

// Every `verifies` above, checked now with WebCrypto.
for (const v of vectors.proofs) {
  const { by } = v;
  delete v.by;
  const [h, p, s] = v.jwt.split(".");
  if (!by || s === "") continue;
  const ok = await by.verify(Buffer.from(s, "base64url"), Buffer.from(`${h}.${p}`));
  if (ok !== v.verifies) throw new Error(`${v.name}: verifies is ${ok}`);
}

const out = new URL("../tests/vectors/dbsc.json", import.meta.url);
writeFileSync(out, JSON.stringify(vectors, null, 2) + "\n");
console.log(`wrote ${out.pathname}: ${vectors.proofs.length} proofs`);
