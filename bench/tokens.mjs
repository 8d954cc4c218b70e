// Session token throughput of edge-session against the JWT libraries people use today, in
// one Node process, for the claims {"sub":"user-12345","role":"admin"} plus iat and exp.
// Run: make bench   (builds pkg-node in release form and the native criterion bench first)
import { createRequire } from "node:module";
import { readFileSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import * as jose from "jose";
import * as honoJwt from "hono/jwt";
import tsndr from "@tsndr/cloudflare-worker-jwt";
import { createSigner, createVerifier } from "fast-jwt";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { opsPerSecond, fmt, table } from "./harness.mjs";

const require = createRequire(import.meta.url);
const { SessionTokens } = require("../pkg-node/edge_session.js");

const secretBytes = new Uint8Array(32).map((_, i) => i + 1);
const secretText = Buffer.from(secretBytes).toString("base64url");
const claims = { sub: "user-12345", role: "admin" };
const now = Math.floor(Date.now() / 1000);

// edge-session
const ours = new SessionTokens({ keys: [{ id: "k1", secret: secretText }], ttlSeconds: 3600 });
const ourToken = ours.sign(claims);

// jose, with the key imported once as a CryptoKey (its best case)
const cryptoKey = await crypto.subtle.importKey("raw", secretBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
const joseSign = () => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt(now).setExpirationTime(now + 3600).sign(cryptoKey);
const jwt = await joseSign();

// hono/jwt and @tsndr/cloudflare-worker-jwt take the secret as a string
const honoSecret = Buffer.from(secretBytes).toString("latin1");
const payload = { ...claims, iat: now, exp: now + 3600 };

// fast-jwt: Node-only, native crypto
const fastVerify = createVerifier({ key: Buffer.from(secretBytes), algorithms: ["HS256"] });
const fastSign = createSigner({ key: Buffer.from(secretBytes), algorithm: "HS256" });

// @noble/hashes: the same JWT checked by hand with a pure-JS HMAC-SHA256
const enc = new TextEncoder();
const nobleKey = hmac.create(sha256, secretBytes);
const nobleVerify = (token) => {
  const dot = token.lastIndexOf(".");
  const mac = nobleKey.clone().update(enc.encode(token.slice(0, dot))).digest();
  const sig = Buffer.from(token.slice(dot + 1), "base64url");
  let diff = sig.length ^ mac.length;
  for (let i = 0; i < mac.length; i++) diff |= mac[i] ^ sig[i];
  if (diff !== 0) throw new Error("bad signature");
  const body = JSON.parse(Buffer.from(token.slice(token.indexOf(".") + 1, dot), "base64url").toString());
  if (body.exp < Date.now() / 1000) throw new Error("expired");
  return body;
};
const header = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
const nobleSign = () => {
  const body = `${header}.${Buffer.from(JSON.stringify({ ...claims, iat: now, exp: now + 3600 })).toString("base64url")}`;
  return `${body}.${Buffer.from(nobleKey.clone().update(enc.encode(body)).digest()).toString("base64url")}`;
};

// Sanity: every verifier accepts its token before we time it.
ours.verify(ourToken);
await jose.jwtVerify(jwt, cryptoKey);
await honoJwt.verify(jwt, honoSecret, "HS256");
if (!(await tsndr.verify(jwt, honoSecret))) throw new Error("tsndr rejected the token");
fastVerify(jwt);
nobleVerify(jwt);

const verifiers = [
  ["edge-session verify", () => ours.verify(ourToken)],
  ["jose jwtVerify (cached CryptoKey)", () => jose.jwtVerify(jwt, cryptoKey)],
  ["hono/jwt verify", () => honoJwt.verify(jwt, honoSecret, "HS256")],
  ["@tsndr/cloudflare-worker-jwt verify", () => tsndr.verify(jwt, honoSecret)],
  ["fast-jwt verify (Node native crypto)", () => fastVerify(jwt)],
  ["@noble/hashes HMAC by hand", () => nobleVerify(jwt)],
];
const signers = [
  ["edge-session sign", () => ours.sign(claims)],
  ["jose SignJWT (cached CryptoKey)", joseSign],
  ["hono/jwt sign", () => honoJwt.sign(payload, honoSecret, "HS256")],
  ["@tsndr/cloudflare-worker-jwt sign", () => tsndr.sign(payload, honoSecret)],
  ["fast-jwt sign (Node native crypto)", () => fastSign(payload)],
  ["@noble/hashes HMAC by hand", nobleSign],
];

async function section(title, entries) {
  const results = [];
  for (const [name, fn] of entries) results.push([name, await opsPerSecond(fn)]);
  const oursOps = results[0][1];
  console.log(`\n${title}`);
  table([["library", "ops/s", "edge-session is ×"], ...results.map(([n, ops]) => [n, fmt(ops), i(oursOps / ops)])]);
  return Object.fromEntries(results);
}
const i = (x) => x.toFixed(1);

console.log(`Node ${process.version}, token ${ourToken.length} chars vs JWT ${jwt.length} chars (${(ourToken.length / jwt.length).toFixed(2)})`);
const v = await section("verify", verifiers);
const s = await section("sign", signers);

const oursVerify = v["edge-session verify"];
const joseVerify = v["jose jwtVerify (cached CryptoKey)"];
const fastVerifyOps = v["fast-jwt verify (Node native crypto)"];
console.log(`\nverify: ${i(oursVerify / joseVerify)}× jose (target ≥ 20), ${i(oursVerify / fastVerifyOps)}× fast-jwt (target ≥ 2)`);

const estimates = "target/criterion/token_verify/new/estimates.json";
if (existsSync(estimates)) {
  const nativeNs = JSON.parse(readFileSync(estimates, "utf8")).mean.point_estimate;
  const jsNs = 1e9 / oursVerify;
  console.log(`verify from JS ${fmt(jsNs)} ns vs native core ${fmt(nativeNs)} ns: ${i(jsNs / nativeNs)}× (target ≤ 8)`);
}

const wasm = readFileSync(new URL("../pkg-node/edge_session_bg.wasm", import.meta.url));
const gz = gzipSync(wasm, { level: 9 }).length;
console.log(`wasm: ${fmt(wasm.length)} bytes raw, ${fmt(gz)} bytes gzip -9 (target < 60 KB = 61,440)`);
void s;
