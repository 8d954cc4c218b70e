// SealedTokens from JavaScript: the SessionTokens API with the claims encrypted, on the
// package built by `wasm-pack build --target nodejs --out-dir pkg-node` (`make js-test`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { NOW, b64url, SECRET_1, SECRET_2, codeOf, sealedTokens, vectors, pkg } from "./fixtures.mjs";

const { SealedTokens, SessionTokens } = pkg;
const CLAIMS = { sub: "user-12345", role: "admin" };

const make = sealedTokens;

test("the known-answer vectors (tests/vectors/sealed.json) open as in the Rust tests", () => {
  const { verify } = vectors("sealed.json");
  assert.ok(verify.length > 0);
  for (const v of verify) {
    const tokens = new SealedTokens(v.config);
    if (v.error) assert.equal(codeOf(() => tokens.verify(v.token, { now: v.now })), v.error, v.name);
    else assert.deepEqual(tokens.verify(v.token, { now: v.now }), v.claims, v.name);
  }
});

test("seal and open round trip; the claims are not readable", () => {
  const tokens = make();
  const token = tokens.sign(CLAIMS, { now: NOW });
  assert.match(token, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(tokens.verify(token, { now: NOW + 1 }), { ...CLAIMS, iat: NOW, exp: NOW + 3600 });
  const raw = Buffer.from(token, "base64url").toString("latin1");
  for (const secret of ["admin", "user-12345", "role"]) assert.ok(!raw.includes(secret), secret);
  assert.notEqual(tokens.sign(CLAIMS, { now: NOW }), token, "a fresh nonce each time");
  assert.equal(tokens.verify(tokens.sign(CLAIMS, { now: NOW, ttlSeconds: 60 }), { now: NOW }).exp, NOW + 60);
});

test("overhead against the signed token: 30 characters", () => {
  const keys = [{ id: "k1", secret: SECRET_1 }];
  const signed = new SessionTokens({ keys }).sign(CLAIMS, { now: NOW });
  const sealed = new SealedTokens({ keys }).sign(CLAIMS, { now: NOW });
  assert.deepEqual([signed.length, sealed.length], [86, 116]);
});

test("wrong key, tampering, truncation and the other token kind are refused", () => {
  const tokens = make();
  const token = tokens.sign(CLAIMS, { now: NOW });
  assert.equal(codeOf(() => new SealedTokens({ keys: [{ id: "k1", secret: SECRET_2 }] }).verify(token, { now: NOW })), "bad_signature");
  assert.equal(codeOf(() => make({ purpose: "csrf" }).verify(token, { now: NOW })), "bad_signature");
  assert.equal(codeOf(() => new SealedTokens({ keys: [{ id: "k2", secret: SECRET_1 }] }).verify(token, { now: NOW })), "unknown_key");
  const bytes = Buffer.from(token, "base64url");
  for (let i = 0; i < bytes.length; i++) {
    const changed = Buffer.from(bytes);
    changed[i] ^= 0x01;
    const code = codeOf(() => tokens.verify(b64url(changed), { now: NOW }));
    assert.ok(["bad_signature", "malformed", "unknown_key"].includes(code), `byte ${i}: ${code}`);
  }
  for (let len = 0; len < bytes.length; len++) {
    const code = codeOf(() => tokens.verify(b64url(bytes.subarray(0, len)), { now: NOW }));
    assert.ok(["bad_signature", "malformed"].includes(code), `length ${len}: ${code}`);
  }
  const signed = new SessionTokens({ keys: [{ id: "k1", secret: SECRET_1 }] });
  assert.equal(codeOf(() => signed.verify(token, { now: NOW })), "malformed");
  assert.equal(codeOf(() => tokens.verify(signed.sign(CLAIMS, { now: NOW }), { now: NOW })), "malformed");
  assert.equal(codeOf(() => tokens.verify("x".repeat(5000), { now: NOW })), "too_large");
});

test("lifetime: leeway on both sides; expired errors carry the claims, not enumerable", async () => {
  const tokens = make();
  const token = tokens.sign(CLAIMS, { now: NOW });
  assert.equal(tokens.verify(token, { now: NOW + 3629 }).sub, "user-12345");
  try {
    tokens.verify(token, { now: NOW + 3630 });
    assert.fail("should throw");
  } catch (e) {
    assert.equal(e.code, "expired");
    assert.deepEqual(e.claims, { ...CLAIMS, iat: NOW, exp: NOW + 3600 });
    // The decrypted claims are read, never logged or serialized with the error by accident.
    assert.equal(Object.keys(e).includes("claims"), false);
    assert.doesNotMatch(JSON.stringify(e), /user-12345/);
    assert.doesNotMatch((await import("node:util")).inspect(e), /user-12345/);
  }
  assert.equal(codeOf(() => tokens.verify(token, { now: NOW - 31 })), "not_yet_valid");
});

test("rotation, refresh and revocation", () => {
  const old = make();
  const both = new SealedTokens({ keys: [{ id: "k2", secret: SECRET_2 }, { id: "k1", secret: SECRET_1 }] });
  const token = old.sign(CLAIMS, { now: NOW });
  assert.deepEqual(both.verifyDetailed(token, { now: NOW }), {
    claims: { ...CLAIMS, iat: NOW, exp: NOW + 3600 },
    keyId: "k1",
    staleKey: true,
  });
  const moved = both.refresh(token, { now: NOW + 1 });
  assert.equal(both.verifyDetailed(moved, { now: NOW + 1 }).keyId, "k2");
  assert.equal(both.refresh(moved, { now: NOW + 2 }), null);
  const fresh = old.refresh(token, { now: NOW + 1800 });
  assert.deepEqual(old.verify(fresh, { now: NOW + 1800 }), {
    ...CLAIMS, auth_time: NOW, iat: NOW + 1800, exp: NOW + 5400,
  });
  const lookup = (claims) => (claims.sub === "user-12345" ? NOW + 1 : undefined);
  assert.equal(codeOf(() => old.verify(token, { now: NOW, minIssuedAt: lookup })), "revoked");
  assert.equal(codeOf(() => old.verify(fresh, { now: NOW + 1800, minIssuedAt: lookup })), "revoked");
  assert.equal(codeOf(() => old.refresh(token, { now: NOW + 1800, minIssuedAt: lookup })), "revoked");
});

test("configuration and claims errors", () => {
  assert.equal(codeOf(() => new SealedTokens({ keys: [] })), "invalid_config");
  assert.equal(codeOf(() => new SealedTokens({ keys: [{ id: "k1", secret: "c2hvcnQ" }] })), "invalid_config");
  assert.equal(codeOf(() => make({ ttlSeconds: 0 })), "invalid_config");
  assert.equal(codeOf(() => make({ unknown: 1 })), "invalid_config");
  assert.equal(codeOf(() => make().sign("text", { now: NOW })), "invalid_claims");
  assert.equal(codeOf(() => make().sign({ big: "x".repeat(4000) }, { now: NOW })), "too_large");
  assert.equal(codeOf(() => make().sign(CLAIMS, { now: -1 })), "invalid_config");
});

test("a getRandomValues that fills nothing is randomness_unavailable, not one nonce for every token", () => {
  const tokens = make();
  const real = crypto.getRandomValues;
  crypto.getRandomValues = (array) => array; // a stub left in: the bytes stay zero
  try {
    assert.equal(codeOf(() => tokens.sign(CLAIMS, { now: NOW })), "randomness_unavailable");
  } finally {
    crypto.getRandomValues = real;
  }
  assert.equal(tokens.verify(tokens.sign(CLAIMS, { now: NOW }), { now: NOW }).sub, CLAIMS.sub);
});
