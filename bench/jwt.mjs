// JWT HS256 verify of edge-session against jose (key imported once as a CryptoKey, its best
// case) and fast-jwt (Node-only, native crypto), and sealed token sign/verify throughput, in one
// Node process, for the claims {"sub":"user-12345","role":"admin"} plus iat and exp.
// Run: make bench   (or: node bench/jwt.mjs after `make pkg-node`)
import { createRequire } from "node:module";
import * as jose from "jose";
import { createVerifier } from "fast-jwt";
import { opsPerSecond, fmt, table } from "./harness.mjs";

const require = createRequire(import.meta.url);
const { SessionTokens, SealedTokens } = require("../pkg-node/edge_session.js");

const secretBytes = new Uint8Array(32).map((_, i) => i + 1);
const keys = [{ id: "k1", secret: Buffer.from(secretBytes).toString("base64url") }];
const claims = { sub: "user-12345", role: "admin" };
const now = Math.floor(Date.now() / 1000);

const tokens = new SessionTokens({ keys, ttlSeconds: 3600 });
const sealed = new SealedTokens({ keys, ttlSeconds: 3600 });
const cryptoKey = await crypto.subtle.importKey("raw", secretBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);

// The same JWT for everybody: signed by jose, so our verify is measured on a foreign token.
const jwt = await new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt(now).setExpirationTime(now + 3600).sign(cryptoKey);
const fastVerify = createVerifier({ key: Buffer.from(secretBytes), algorithms: ["HS256"] });
const sealedToken = sealed.sign(claims);
const compactToken = tokens.sign(claims);

// Sanity: every verifier accepts its token before we time it.
for (const [name, check] of [
  ["ours", () => tokens.verifyJwt(jwt).sub],
  ["jose", async () => (await jose.jwtVerify(jwt, cryptoKey)).payload.sub],
  ["fast-jwt", () => fastVerify(jwt).sub],
  ["sealed", () => sealed.verify(sealedToken).sub],
]) {
  if ((await check()) !== "user-12345") throw new Error(`${name} did not verify`);
}

const results = {
  ours: await opsPerSecond(() => tokens.verifyJwt(jwt)),
  jose: await opsPerSecond(() => jose.jwtVerify(jwt, cryptoKey)),
  fast: await opsPerSecond(() => fastVerify(jwt)),
  oursSign: await opsPerSecond(() => tokens.signJwt(claims)),
  sealedVerify: await opsPerSecond(() => sealed.verify(sealedToken)),
  sealedSign: await opsPerSecond(() => sealed.sign(claims)),
  compactVerify: await opsPerSecond(() => tokens.verify(compactToken)),
  compactSign: await opsPerSecond(() => tokens.sign(claims)),
};

console.log(`JWT HS256 verify (${jwt.length} chars, signed by jose), Node ${process.version}`);
table([
  ["verifier", "ops/s", "vs jose"],
  ["edge-session verifyJwt", fmt(results.ours), `${(results.ours / results.jose).toFixed(1)}x`],
  ["jose jwtVerify (cached CryptoKey)", fmt(results.jose), "1.0x"],
  ["fast-jwt (native crypto)", fmt(results.fast), `${(results.fast / results.jose).toFixed(1)}x`],
]);
console.log();
console.log(`Sealed tokens (${sealedToken.length} chars) against signed compact tokens (${compactToken.length} chars)`);
table([
  ["operation", "ops/s", "µs/op"],
  ["sealed sign", fmt(results.sealedSign), (1e6 / results.sealedSign).toFixed(2)],
  ["sealed verify", fmt(results.sealedVerify), (1e6 / results.sealedVerify).toFixed(2)],
  ["compact sign", fmt(results.compactSign), (1e6 / results.compactSign).toFixed(2)],
  ["compact verify", fmt(results.compactVerify), (1e6 / results.compactVerify).toFixed(2)],
  ["JWT sign (signJwt)", fmt(results.oursSign), (1e6 / results.oursSign).toFixed(2)],
]);
const ratio = results.ours / results.jose;
console.log();
console.log(`JWT verify target: at least 20x jose: ${ratio >= 20 ? "met" : "NOT met"} (${ratio.toFixed(1)}x)`);
