// The token operations `make bench` times, defined once for both runtimes: bench/tokens.mjs
// runs them in Node (pkg-node/) and, through bench/workerd-worker.mjs, inside workerd
// (Miniflare, the web build in www/pkg/). Claims {"sub":"user-12345","role":"admin"} plus iat
// and exp; every library gets the same 32-byte secret, and the JWT libraries the same JWT
// (signed by jose), so verifyJwt is measured on a foreign token.
//
// No Buffer here: workerd has none without nodejs_compat.
import * as jose from "jose";
import * as honoJwt from "hono/jwt";
import tsndr from "@tsndr/cloudflare-worker-jwt";

export const CLAIMS = { sub: "user-12345", role: "admin" };

const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64url = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

/**
 * The operations, each a function of no arguments (sync, or returning a Promise), in the
 * order of the table: `verify` and `sign` rows, ours first, then the JS libraries, then raw
 * WebCrypto. `edge` is the library's exports ({ SessionTokens, SealedTokens }); `extra` adds
 * runtime-specific rows (Node: fast-jwt, @noble/hashes). Each is run once and checked here.
 */
export async function makeOps(edge, extra = {}) {
  const secretBytes = new Uint8Array(32).map((_, i) => i + 1);
  const keys = [{ id: "k1", secret: b64url(secretBytes) }];
  const now = Math.floor(Date.now() / 1000);

  const tokens = new edge.SessionTokens({ keys, ttlSeconds: 3600 });
  const sealed = new edge.SealedTokens({ keys, ttlSeconds: 3600 });
  const compact = tokens.sign(CLAIMS);
  const sealedToken = sealed.sign(CLAIMS);

  // jose with the key imported once as a CryptoKey, its best case.
  const cryptoKey = await crypto.subtle.importKey("raw", secretBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  const joseSign = () => new jose.SignJWT(CLAIMS).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt(now).setExpirationTime(now + 3600).sign(cryptoKey);
  const jwt = await joseSign();
  // hono/jwt and @tsndr/cloudflare-worker-jwt take the secret as a string (and import it per call).
  const textSecret = String.fromCharCode(...secretBytes);
  const payload = { ...CLAIMS, iat: now, exp: now + 3600 };

  // Raw WebCrypto: one HMAC of the JWT's signing input, the bytes prepared in advance (no
  // parsing, no encoding): what any WebCrypto-based verifier pays at least.
  const dot = jwt.lastIndexOf(".");
  const signingInput = new TextEncoder().encode(jwt.slice(0, dot));
  const signature = unb64url(jwt.slice(dot + 1));

  // References: what any verify returning a fresh object, and any sign of a JS object, pays
  // in JavaScript before any cryptography (the claims as the compact verify returns them).
  const claimsText = JSON.stringify(tokens.verify(compact));

  const verify = {
    "edge-session compact verify": () => tokens.verify(compact),
    "edge-session verifyJwt": () => tokens.verifyJwt(jwt),
    "edge-session sealed verify": () => sealed.verify(sealedToken),
    "jose jwtVerify (cached CryptoKey)": () => jose.jwtVerify(jwt, cryptoKey),
    "hono/jwt verify": () => honoJwt.verify(jwt, textSecret, "HS256"),
    "@tsndr/cloudflare-worker-jwt verify": () => tsndr.verify(jwt, textSecret),
    "raw crypto.subtle.verify (HMAC of the JWT, no parsing)": () => crypto.subtle.verify("HMAC", cryptoKey, signature, signingInput),
    ...extra.verify?.({ secretBytes, jwt }),
    "reference: JSON.parse of the verified claims": () => JSON.parse(claimsText),
  };
  const sign = {
    "edge-session compact sign": () => tokens.sign(CLAIMS),
    "edge-session signJwt": () => tokens.signJwt(CLAIMS),
    "edge-session sealed sign": () => sealed.sign(CLAIMS),
    "jose SignJWT (cached CryptoKey)": joseSign,
    "hono/jwt sign": () => honoJwt.sign(payload, textSecret, "HS256"),
    "@tsndr/cloudflare-worker-jwt sign": () => tsndr.sign(payload, textSecret),
    "raw crypto.subtle.sign (HMAC of the JWT, no encoding)": () => crypto.subtle.sign("HMAC", cryptoKey, signingInput),
    ...extra.sign?.({ secretBytes, payload }),
    "reference: JSON.stringify of the claims": () => JSON.stringify(CLAIMS),
  };

  // Sanity: every verifier accepts its token, every signer's token verifies, before timing.
  const sub = async (x) => (await x)?.sub ?? (await x)?.payload?.sub;
  for (const [name, fn] of Object.entries(verify)) {
    const out = await fn();
    if (out !== true && (await sub(out)) !== CLAIMS.sub) throw new Error(`${name} did not verify`);
  }
  const checks = {
    "edge-session compact sign": (t) => tokens.verify(t).sub,
    "edge-session signJwt": (t) => tokens.verifyJwt(t).sub,
    "edge-session sealed sign": (t) => sealed.verify(t).sub,
  };
  for (const [name, fn] of Object.entries(sign)) {
    const out = await fn();
    const check = checks[name] ?? ((t) => (name.startsWith("reference") ? JSON.parse(t).sub : typeof t === "string" ? tokens.verifyJwt(t).sub : t.byteLength === 32 && CLAIMS.sub));
    if (check(out) !== CLAIMS.sub) throw new Error(`${name} did not sign`);
  }
  return { verify, sign, info: { compact: compact.length, jwt: jwt.length, sealed: sealedToken.length } };
}

/** Runs `fn` `n` times, awaiting each result when `fn` is asynchronous. */
export async function runOp(fn, n) {
  if (n <= 0) return undefined;
  let last = fn();
  if (last instanceof Promise) {
    last = await last;
    for (let i = 1; i < n; i++) last = await fn();
  } else {
    for (let i = 1; i < n; i++) last = fn();
  }
  return last;
}
