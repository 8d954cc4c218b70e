// OriginAssertions (feature `assertion`, issue 15): the gateway's signed assertions for origins
// made, published and verified from JavaScript, on the package built by `make pkg-assertion`
// (target/pkg-assertion). Checked against jose (what origins verify with) and against the
// known-answer keys of tests/vectors/assertion.json (Node's own HKDF and key export).
import { test } from "node:test";
import assert from "node:assert/strict";
import { hkdfSync } from "node:crypto";
import { createRequire } from "node:module";
import * as jose from "jose";
import { NOW, SECRET_1, SECRET_2, codeOf, vectors } from "./fixtures.mjs";

const require = createRequire(import.meta.url);
const { OriginAssertions } = require("../../target/pkg-assertion/edge_session.js");

const ISSUER = "https://app.example";
const AUD = "http://10.0.0.1:8080";
const ring = [{ id: "k2", secret: SECRET_2 }, { id: "k1", secret: SECRET_1 }];
/** The kid of the first key of `ring` for `alg`: its id, the algorithm and a tag of its secret. */
const KID = (alg) => {
  const tag = hkdfSync("sha256", Buffer.from(SECRET_2, "base64url"), "edge-session/v1", "origin-assertion/kid", 32);
  return `k2-${alg}-${Buffer.from(tag).subarray(0, 6).toString("base64url")}`;
};

/** The code a Promise rejects with (an EdgeSessionError). */
const rejection = async (promise) => {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.name, "EdgeSessionError");
    return e.code;
  }
  assert.fail("did not reject");
};

/** The `.setting` of the `invalid_config` error `fn` throws. */
function invalidSetting(fn) {
  try {
    fn();
  } catch (e) {
    assert.equal(e.code, "invalid_config", e.message);
    return e.setting;
  }
  assert.fail("did not throw");
}

test("the published keys are those of tests/vectors/assertion.json, public members only", async () => {
  const v = vectors("assertion.json");
  for (const alg of ["EdDSA", "ES256"]) {
    const a = new OriginAssertions({ alg, keys: v.keys, issuer: ISSUER });
    const set = await a.jwks();
    const want = v.derived.filter((d) => d.alg === alg);
    assert.deepEqual(set.keys.map((k) => k.kid), want.map((d) => d.kid));
    for (const [k, d] of set.keys.map((k, i) => [k, want[i]])) {
      assert.equal(k.x, d.x);
      assert.equal(k.y, d.y);
      assert.equal(k.alg, alg);
      assert.equal(k.use, "sig");
      assert.equal("d" in k, false);
    }
    assert.equal(JSON.stringify(set).includes('"d"'), false);
  }
  // A kid names one key: the EdDSA and ES256 keys of one secret are published under other kids,
  // and so is a secret replaced under the same id.
  const kids = async (alg, keys = v.keys) => (await new OriginAssertions({ alg, keys, issuer: ISSUER }).jwks()).keys.map((k) => k.kid);
  const [ed, es] = [await kids("EdDSA"), await kids("ES256")];
  assert.deepEqual([ed, es], [v.derived.filter((d) => d.alg === "EdDSA").map((d) => d.kid), v.derived.filter((d) => d.alg === "ES256").map((d) => d.kid)]);
  assert.deepEqual(ed, ["k1-EdDSA-TaOamQgZ", "k2-EdDSA-3VmIyURG"]);
  const [replaced] = await kids("EdDSA", [{ id: "k1", secret: v.keys[1].secret }]);
  assert.match(replaced, /^k1-EdDSA-[\w-]{8}$/);
  assert.notEqual(replaced, ed[0]);
});

test("sign makes no assertion verify would refuse: the longest it signs (8192 bytes at most) verifies, one byte more of claims is too_large", async () => {
  // sign made assertions of any size, and verify refuses one over 8192 bytes (too_large):
  // claims of a few hundred groups gave an 11 KB JWT that its own verify refused.
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  const sign = (n) => a.sign({ audience: AUD, claims: { sub: "u", pad: "x".repeat(n) }, now: NOW });
  let [fits, over] = [0, 8192];
  while (over - fits > 1) {
    const mid = (fits + over) >> 1;
    try {
      await sign(mid);
      fits = mid;
    } catch (e) {
      assert.equal(e.code, "too_large", e.message);
      over = mid;
    }
  }
  const longest = await sign(fits);
  assert.ok(longest.length <= 8192 && longest.length > 8180, `${longest.length}`);
  assert.equal((await a.verify(longest, { audience: AUD, now: NOW })).pad.length, fits);
  assert.equal(await rejection(sign(fits + 1)), "too_large");
  assert.equal(await rejection(sign(700 * 16)), "too_large");
});

for (const alg of ["EdDSA", "ES256"]) {
  test(`${alg}: signed as the gateway signs, verified by jose and by verify()`, async () => {
    const a = new OriginAssertions({ alg, keys: ring, issuer: ISSUER });
    const claims = { sub: "alice", sid: "s1", role: "admin", iat: 1, exp: 2, iss: "x" };
    const token = await a.sign({ audience: AUD, claims, now: NOW });
    assert.deepEqual(jose.decodeProtectedHeader(token), { alg, kid: KID(alg), typ: "JWT" });
    const want = { aud: AUD, iss: ISSUER, iat: NOW, exp: NOW + 300, role: "admin", sid: "s1", status: "valid", sub: "alice" };
    assert.deepEqual(jose.decodeJwt(token), want);
    // jose, with the published keys.
    const jwks = jose.createLocalJWKSet(await a.jwks());
    const { payload } = await jose.jwtVerify(token, jwks, { issuer: ISSUER, audience: AUD, currentDate: new Date(NOW * 1000) });
    assert.deepEqual(payload, want);
    // verify(): the same claims; the refusals with their codes.
    assert.deepEqual(await a.verify(token, { audience: AUD, now: NOW + 10 }), want);
    assert.equal(await rejection(a.verify(token, { audience: "http://other", now: NOW })), "wrong_audience");
    assert.equal(await rejection(a.verify(token, { audience: AUD, now: NOW + 300 })), "expired");
    assert.deepEqual(await a.verify(token, { audience: AUD, now: NOW + 300, leewaySeconds: 5 }), want);
    assert.equal(await rejection(a.verify(token, { audience: AUD, now: NOW - 1 })), "not_yet_valid");
    const [h, p, s] = token.split(".");
    const changed = Buffer.from(JSON.stringify({ ...want, sub: "admin" })).toString("base64url");
    assert.equal(await rejection(a.verify(`${h}.${changed}.${s}`, { audience: AUD, now: NOW })), "bad_signature");
    assert.equal(await rejection(a.verify(`${h}.${p}.${s.slice(0, -2)}`, { audience: AUD, now: NOW })), "bad_signature");
    assert.equal(await rejection(a.verify("not.a-token", { audience: AUD, now: NOW })), "malformed");
    const none = Buffer.from('{"alg":"none","kid":"k2"}').toString("base64url");
    assert.equal(await rejection(a.verify(`${none}.${p}.${s}`, { audience: AUD, now: NOW })), "unsupported_alg");
    const otherIssuer = new OriginAssertions({ alg, keys: ring, issuer: "https://elsewhere" });
    assert.equal(await rejection(otherIssuer.verify(token, { audience: AUD, now: NOW })), "wrong_issuer");
    // A key rotation: the old ring does not know k2; the new one verifies what k1 signed.
    const old = new OriginAssertions({ alg, keys: [ring[1]], issuer: ISSUER });
    assert.equal(await rejection(old.verify(token, { audience: AUD, now: NOW })), "unknown_key");
    const byOld = await old.sign({ audience: AUD, now: NOW });
    assert.equal((await a.verify(byOld, { audience: AUD, now: NOW })).status, "none");
  });
}

test("algorithm confusion: the kid's key of another alg, HS256 keyed with the public key", async () => {
  const { createHmac } = await import("node:crypto");
  for (const [alg, other] of [["EdDSA", "ES256"], ["ES256", "EdDSA"]]) {
    const a = new OriginAssertions({ alg, keys: ring, issuer: ISSUER });
    const [, p, s] = (await a.sign({ audience: AUD, now: NOW })).split(".");
    const header = (h) => Buffer.from(JSON.stringify(h)).toString("base64url");
    // The signer's kid with the other algorithm (a signature of its length): never tried with
    // that key (WebCrypto would throw, not refuse), refused by name.
    const crossed = `${header({ alg: other, kid: KID(alg), typ: "JWT" })}.${p}.${s}`;
    assert.equal(await rejection(a.verify(crossed, { audience: AUD, now: NOW })), "unsupported_alg");
    // HS256 keyed with what the JWKS publishes (x, or the whole JWK's text): not an algorithm
    // here, whatever the key.
    const [jwk] = (await a.jwks()).keys;
    for (const secret of [jwk.x, Buffer.from(jwk.x, "base64url"), JSON.stringify(jwk)]) {
      const input = `${header({ alg: "HS256", kid: jwk.kid, typ: "JWT" })}.${p}`;
      const mac = createHmac("sha256", secret).update(input).digest("base64url");
      assert.equal(await rejection(a.verify(`${input}.${mac}`, { audience: AUD, now: NOW })), "unsupported_alg");
    }
    // Keys from a header are never taken: a jwk, jku or x5u beside the signer's kid changes
    // nothing, and one in place of it names no key.
    const ownKey = await jose.generateKeyPair(alg === "EdDSA" ? "Ed25519" : "ES256", { extractable: true });
    const own = await jose.exportJWK(ownKey.publicKey);
    for (const extra of [{ jwk: own }, { jku: "https://evil.example/jwks" }, { x5u: "https://evil.example/x" }]) {
      const forged = await new jose.SignJWT({ iss: ISSUER, aud: AUD, iat: NOW, exp: NOW + 300, status: "valid", sub: "admin" })
        .setProtectedHeader({ alg, kid: KID(alg), ...extra })
        .sign(ownKey.privateKey);
      assert.equal(await rejection(a.verify(forged, { audience: AUD, now: NOW })), "bad_signature");
      const { kid: _, ...noKid } = { alg, kid: "", ...extra };
      const keyless = await new jose.SignJWT({ iss: ISSUER, aud: AUD, iat: NOW, exp: NOW + 300 })
        .setProtectedHeader(noKid)
        .sign(ownKey.privateKey);
      assert.equal(await rejection(a.verify(keyless, { audience: AUD, now: NOW })), "malformed");
    }
  }
});

test("an unknown kid, the sender's text, is named in the error bounded and ASCII only", async () => {
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  const [, p, s] = (await a.sign({ audience: AUD, now: NOW })).split(".");
  const message = async (kid) => {
    const h = Buffer.from(JSON.stringify({ alg: "EdDSA", kid })).toString("base64url");
    try {
      await a.verify(`${h}.${p}.${s}`, { audience: AUD, now: NOW });
    } catch (e) {
      assert.equal(e.code, "unknown_key");
      return e.message;
    }
    assert.fail("did not reject");
  };
  assert.equal(await message("k9"), 'token was signed with unknown key id "k9"');
  // As for a JWT's kid: other bytes U+FFFD, cut at 64 bytes (no longer id names a key).
  assert.equal(await message("\u202ek9"), 'token was signed with unknown key id "\ufffd\ufffd\ufffdk9"');
  assert.equal(await message("x".repeat(2000)), `token was signed with unknown key id "${"x".repeat(64)}..."`);
});

test("an assertion is reused for the same claims and origin while more than half its life is left", async () => {
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  const anon = (now, audience = AUD) => a.sign({ audience, now });
  const first = await anon(NOW);
  assert.equal(await anon(NOW + 149), first);
  assert.notEqual(await anon(NOW + 150), first);
  assert.notEqual(await anon(NOW, "http://other"), first);
  assert.notEqual(await a.sign({ audience: AUD, now: NOW, claims: { sub: "bob" } }), first);
  // A shorter lifetime, and reuse with it.
  const short = new OriginAssertions({ alg: "ES256", keys: ring, issuer: ISSUER, lifetimeSeconds: 60 });
  const t = await short.sign({ audience: AUD, now: NOW });
  assert.equal(jose.decodeJwt(t).exp, NOW + 60);
  assert.equal(await short.sign({ audience: AUD, now: NOW + 29 }), t);
  assert.notEqual(await short.sign({ audience: AUD, now: NOW + 30 }), t);
});

test("explicit private JWKs, and configuration errors with their setting", async () => {
  const { privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = { ...(await jose.exportJWK(privateKey)), kid: "ops-1" };
  const a = new OriginAssertions({ alg: "EdDSA", privateKeys: [jwk], issuer: ISSUER });
  const set = await a.jwks();
  assert.deepEqual(set.keys.map((k) => [k.kid, k.x]), [["ops-1", jwk.x]]);
  const token = await a.sign({ audience: AUD });
  const { payload } = await jose.jwtVerify(token, jose.createLocalJWKSet(set), { issuer: ISSUER, audience: AUD });
  assert.equal(payload.status, "none");
  // ES256 too: a P-256 private JWK signs, and its JWKS publishes only its public half.
  const es = await jose.generateKeyPair("ES256", { extractable: true });
  const esJwk = { ...(await jose.exportJWK(es.privateKey)), kid: "ops-es" };
  const b = new OriginAssertions({ alg: "ES256", privateKeys: [esJwk], issuer: ISSUER });
  const esSet = await b.jwks();
  assert.deepEqual(esSet.keys.map((k) => [k.kid, k.alg, k.x, k.y, k.d]), [["ops-es", "ES256", esJwk.x, esJwk.y, undefined]]);
  const esToken = await b.sign({ audience: AUD, claims: { sub: "u" } });
  const verified = await jose.jwtVerify(esToken, await jose.importJWK((await jose.exportJWK(es.publicKey)), "ES256"), {
    issuer: ISSUER,
    audience: AUD,
  });
  assert.equal(verified.payload.sub, "u");
  assert.equal(verified.protectedHeader.kid, "ops-es");

  const settingOf = (config) => {
    try {
      new OriginAssertions(config);
    } catch (e) {
      assert.equal(e.code, "invalid_config");
      assert.equal(JSON.stringify(e.message).includes(jwk.d), false);
      return e.setting;
    }
    assert.fail("accepted");
  };
  assert.equal(settingOf({ alg: "HS256", keys: ring, issuer: ISSUER }), "alg");
  assert.equal(settingOf({ alg: "EdDSA", issuer: ISSUER }), "keys");
  // An empty list of JWKs is refused by its name (taken, nothing could be signed).
  assert.equal(settingOf({ alg: "EdDSA", privateKeys: [], issuer: ISSUER }), "privateKeys");
  assert.equal(settingOf({ alg: "EdDSA", keys: ring, privateKeys: [jwk], issuer: ISSUER }), "keys");
  assert.equal(settingOf({ alg: "ES256", privateKeys: [jwk], issuer: ISSUER }), "privateKeys");
  assert.equal(settingOf({ alg: "EdDSA", privateKeys: [{ ...jwk, kid: undefined }], issuer: ISSUER }), "privateKeys");
  // Two keys under one kid: the JWKS would publish both under it.
  assert.equal(settingOf({ alg: "EdDSA", privateKeys: [jwk, { ...jwk, d: SECRET_2 }], issuer: ISSUER }), "privateKeys");
  assert.equal(settingOf({ alg: "EdDSA", keys: ring }), "issuer");
  assert.equal(settingOf({ alg: "EdDSA", keys: ring, issuer: ISSUER, lifetimeSeconds: 301 }), "lifetimeSeconds");
  assert.equal(settingOf({ alg: "EdDSA", keys: ring, issuer: ISSUER, ttl: 1 }), undefined);
  // And an option of a call: each wrong one named.
  const made = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  for (const [subject, setting] of [
    [{ audience: 5 }, "audience"],
    [{ audience: AUD, status: 5 }, "status"],
    [{ audience: AUD, data: 5 }, "data"],
    [{ audience: AUD, now: -1 }, "now"],
  ]) {
    assert.equal(invalidSetting(() => made.sign(subject)), setting, JSON.stringify(subject));
  }
  for (const [options, setting] of [
    [{ audience: 5 }, "audience"],
    [{ audience: AUD, leewaySeconds: -1 }, "leewaySeconds"],
    // As for tokens: a day at most. A larger one took any expired assertion for a valid one.
    [{ audience: AUD, leewaySeconds: 86_401 }, "leewaySeconds"],
    [{ audience: AUD, data: 5 }, "data"],
    [{ audience: AUD, now: "now" }, "now"],
  ]) {
    assert.equal(invalidSetting(() => made.verify("x.y.z", options)), setting, JSON.stringify(options));
  }
  assert.equal(codeOf(() => a.sign({})), "invalid_config");
});

test("a subject or options whose getter (or Proxy) throws is thrown as it is, and the instance keeps working", async () => {
  // Read through wasm-bindgen's getters, the exception went through the wasm's frames and left
  // its stack pointer moved: a few thousand later, every call failed with "memory access out of
  // bounds". So did the TypeError of a verify without options, or a sign without a subject.
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  const token = await a.sign({ audience: AUD, now: NOW });
  const boom = new Error("getter");
  const throwing = (name, extra) => Object.defineProperty({ ...extra }, name, { enumerable: true, get() { throw boom; } });
  const proxy = new Proxy({}, { get() { throw boom; }, ownKeys() { throw boom; } });
  for (let i = 0; i < 5_000; i++) {
    for (const name of ["audience", "status", "claims", "now"]) {
      assert.throws(() => a.sign(throwing(name, { audience: AUD })), (e) => e === boom, `sign ${name}, ${i}`);
    }
    for (const name of ["audience", "now", "leewaySeconds"]) {
      assert.throws(() => a.verify(token, throwing(name, { audience: AUD })), (e) => e === boom, `verify ${name}, ${i}`);
    }
    assert.throws(() => a.sign(proxy), (e) => e === boom, `sign Proxy, ${i}`);
    assert.throws(() => a.verify(token, proxy), (e) => e === boom, `verify Proxy, ${i}`);
    assert.equal(codeOf(() => a.sign()), "invalid_config", `sign(), ${i}`);
    assert.equal(codeOf(() => a.verify(token)), "invalid_config", `verify(token), ${i}`);
  }
  assert.equal((await a.verify(token, { audience: AUD, now: NOW })).aud, AUD);
});

test("a subject or verify options with a name that is none of theirs are refused, never ignored", async () => {
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  const token = await a.sign({ audience: AUD, now: NOW });
  const refused = (fn, name) => {
    try {
      fn();
    } catch (e) {
      assert.equal(e.code, "invalid_config", String(e));
      assert.match(e.message, new RegExp(`unknown option "${name}"`));
      return;
    }
    assert.fail(`${name} accepted`);
  };
  // A misspelt claims signed an assertion without them; jose's clockTolerance was no leeway.
  refused(() => a.sign({ audience: AUD, claim: { sub: "alice" } }), "claim");
  refused(() => a.verify(token, { audience: AUD, clockTolerance: 30 }), "clockTolerance");
  refused(() => a.verify(token, { audience: AUD, issuer: ISSUER }), "issuer");
  const long = "x".repeat(40);
  try {
    a.verify(token, { audience: AUD, [long]: 1 });
    assert.fail("accepted");
  } catch (e) {
    assert.equal(e.code, "invalid_config");
    assert.ok(!e.message.includes(long));
  }
  assert.equal((await a.verify(token, { audience: AUD, now: NOW, leewaySeconds: 0 })).aud, AUD);
  assert.ok(await a.sign({ audience: AUD, status: "valid", claims: { sub: "a" }, now: NOW }));
});

test("session data: sign binds it as data_sha256 (as the gateway does), verify checks it", async () => {
  const { createHash } = await import("node:crypto");
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  const data = '{"cart":["sku-1"],"note":"caf\\u00e9"}';
  const digest = createHash("sha256").update(data).digest("base64url");
  // A session claim of that name is never carried: only the signer says it.
  const claims = { sub: "alice", data_sha256: "forged" };
  const bound = await a.sign({ audience: AUD, claims, data, now: NOW });
  const { payload } = await jose.jwtVerify(bound, jose.createLocalJWKSet(await a.jwks()), {
    currentDate: new Date(NOW * 1000),
  });
  assert.equal(payload.data_sha256, digest);
  const plain = await a.sign({ audience: AUD, claims, now: NOW });
  assert.equal((await a.verify(plain, { audience: AUD, now: NOW })).data_sha256, undefined);
  // Verify: the data that came with it, or none (absent, null), else bad_signature.
  assert.equal((await a.verify(bound, { audience: AUD, data, now: NOW })).sub, "alice");
  for (const none of [undefined, null]) {
    assert.equal((await a.verify(bound, { audience: AUD, data: none, now: NOW })).data_sha256, digest);
  }
  for (const forged of ['{"cart":[]}', data + " ", ""]) {
    assert.equal(await rejection(a.verify(bound, { audience: AUD, data: forged, now: NOW })), "bad_signature", forged);
  }
  assert.equal(await rejection(a.verify(plain, { audience: AUD, data, now: NOW })), "bad_signature");
  // Data that is not a string is a mistake of the caller's.
  assert.equal(codeOf(() => a.sign({ audience: AUD, data: { cart: [] } })), "invalid_config");
  assert.equal(codeOf(() => a.verify(bound, { audience: AUD, data: 42 })), "invalid_config");
});

test("claims that are not a JSON object of text are refused with invalid_claims, never signed away", async () => {
  // They were left out of the assertion, which was signed all the same with `status: "valid"`
  // (the default with claims) and no `sub`: a valid session of nobody. Tokens' sign refuses them.
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  let deep = { sub: "alice" };
  for (let i = 0; i < 200; i++) deep = { deep };
  for (const claims of ["alice", 42, true, [{ sub: "alice" }], { sub: "al\ud800ice" }, deep]) {
    assert.equal(codeOf(() => a.sign({ audience: AUD, claims, now: NOW })), "invalid_claims", JSON.stringify(claims)?.slice(0, 40));
  }
  assert.throws(() => a.sign({ audience: AUD, claims: { n: 1n }, now: NOW }), (e) => e.code === "invalid_claims" && /JSON\.stringify threw: .*BigInt/.test(e.message));
  // An object of text still signs, and null or undefined is an anonymous request's.
  assert.equal(jose.decodeJwt(await a.sign({ audience: AUD, claims: { sub: "alice" }, now: NOW })).sub, "alice");
  for (const claims of [null, undefined]) {
    assert.equal(jose.decodeJwt(await a.sign({ audience: AUD, claims, now: NOW })).status, "none");
  }
});

test("an audience or status that is not text (a lone surrogate) is refused, not read as U+FFFD", async () => {
  // Read with U+FFFD for the half of a UTF-16 pair, "http://o\ud800" and "http://o\udc00" were
  // one audience: an assertion for one verified for the other. Strings elsewhere are refused so.
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  assert.equal(invalidSetting(() => a.sign({ audience: "http://o\ud800", now: NOW })), "audience");
  assert.equal(invalidSetting(() => a.sign({ audience: AUD, status: "valid\udc00", claims: { sub: "a" }, now: NOW })), "status");
  const token = await a.sign({ audience: "http://o\ufffd", now: NOW });
  assert.equal(invalidSetting(() => a.verify(token, { audience: "http://o\udc00", now: NOW })), "audience");
  assert.equal((await a.verify(token, { audience: "http://o\ufffd", now: NOW })).aud, "http://o\ufffd");
});

test("a token null or undefined (headers.get of a header not sent) rejects with malformed, as README's example awaits it; a bad option still throws at once", async () => {
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  for (const missing of [null, undefined]) {
    const verifying = a.verify(missing, { audience: AUD, now: NOW });
    assert.ok(verifying instanceof Promise);
    assert.equal(await rejection(verifying), "malformed");
  }
  assert.throws(() => a.verify(null, {}), (e) => e.code === "invalid_config" && e.setting === "audience");
});

test("without WebCrypto (a browser's page over plain http): signing and verifying reject with an error that says so", async () => {
  const a = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
  const token = await a.sign({ audience: AUD, claims: { sub: "alice" }, now: NOW });
  const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  delete globalThis.crypto;
  try {
    const fresh = new OriginAssertions({ alg: "EdDSA", keys: ring, issuer: ISSUER });
    const missing = { message: /WebCrypto \(crypto\.subtle\) is not available/ };
    await assert.rejects(fresh.sign({ audience: AUD, claims: { sub: "alice" }, now: NOW }), missing);
    await assert.rejects(fresh.verify(token, { audience: AUD, now: NOW }), missing);
  } finally {
    Object.defineProperty(globalThis, "crypto", saved);
  }
});
