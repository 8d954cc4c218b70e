// JWT HS256 interop (both ways with jose, RFC 7515 A.1), sliding refresh and revocation, on
// the package built by `wasm-pack build --target nodejs --out-dir pkg-node` (`make js-test`).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as jose from "jose";
import { NOW, bytes, b64url, KEY_1, KEY_2, SECRET_1, SECRET_2, assertStillWorks, codeOf, sessionTokens, sealedTokens, vectors, pkg } from "./fixtures.mjs";

const { SessionTokens } = pkg;
const at = (seconds) => new Date(seconds * 1000);

const single = sessionTokens;
const rotated = () =>
  new SessionTokens({ keys: [{ id: "k2", secret: SECRET_2 }, { id: "k1", secret: SECRET_1 }] });

const decodeHeader = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[0], "base64url").toString());

test("the known-answer vectors (tests/vectors/jwt.json: RFC 7515 appendix A.1) match the Rust tests", () => {
  const { verify } = vectors("jwt.json");
  assert.ok(verify.length > 0);
  for (const v of verify) {
    const tokens = new SessionTokens(v.config);
    const options = { now: v.now, ...(v.issuer === undefined ? {} : { issuer: v.issuer }) };
    if (v.error) {
      assert.equal(codeOf(() => tokens.verifyJwt(v.token, options)), v.error, v.name);
      assert.equal(codeOf(() => tokens.verifyJwtDetailed(v.token, options)), v.error, v.name);
    } else {
      assert.deepEqual(tokens.verifyJwt(v.token, options), v.claims, v.name);
      assert.deepEqual(
        tokens.verifyJwtDetailed(v.token, options),
        { claims: v.claims, keyId: v.keyId, staleKey: v.staleKey },
        v.name,
      );
    }
  }
});

test("the sign vectors (tests/vectors/jwt.json) match the Rust tests", () => {
  const { sign } = vectors("jwt.json");
  assert.equal(sign.length, 2);
  for (const v of sign) {
    const tokens = new SessionTokens(v.config);
    const options = { now: v.now };
    for (const name of ["ttlSeconds", "issuer", "audience"]) if (v[name] !== undefined) options[name] = v[name];
    const jwt = tokens.signJwt(v.claims, options);
    assert.equal(jwt, v.token, v.name);
    assert.equal(tokens.verifyJwt(jwt, { now: v.now }).sub, v.claims.sub, v.name);
  }
});

test("our JWT verifies in jose", async () => {
  const tokens = single();
  const jwt = tokens.signJwt(
    { sub: "user-12345", role: "admin" },
    { now: NOW, ttlSeconds: 600, issuer: "https://auth.example", audience: "app" },
  );
  const { payload, protectedHeader } = await jose.jwtVerify(jwt, KEY_1, {
    algorithms: ["HS256"],
    currentDate: at(NOW + 1),
    issuer: "https://auth.example",
    audience: "app",
  });
  assert.deepEqual(protectedHeader, { alg: "HS256", typ: "JWT" });
  assert.deepEqual(payload, {
    sub: "user-12345", role: "admin", iat: NOW, exp: NOW + 600, iss: "https://auth.example", aud: "app",
  });
  // With a CryptoKey too, and with a kid when the ring has several keys.
  const cryptoKey = await crypto.subtle.importKey("raw", KEY_2, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const named = rotated().signJwt({ sub: "u" }, { now: NOW });
  assert.deepEqual(decodeHeader(named), { alg: "HS256", typ: "JWT", kid: "k2" });
  const verified = await jose.jwtVerify(named, cryptoKey, { currentDate: at(NOW) });
  assert.equal(verified.payload.sub, "u");
  await assert.rejects(jose.jwtVerify(jwt, KEY_1, { currentDate: at(NOW + 700) }), { code: "ERR_JWT_EXPIRED" });
});

test("jose's JWT verifies here", async () => {
  const jwt = await new jose.SignJWT({ sub: "user-12345", role: "admin" })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt(NOW)
    .setExpirationTime(NOW + 600)
    .setIssuer("https://auth.example")
    .setAudience(["web", "app"])
    .sign(KEY_1);
  const claims = single().verifyJwt(jwt, { now: NOW + 1, issuer: "https://auth.example", audience: "app" });
  assert.deepEqual(claims, {
    sub: "user-12345", role: "admin", iat: NOW, exp: NOW + 600, iss: "https://auth.example", aud: ["web", "app"],
  });
  assert.equal(codeOf(() => single().verifyJwt(jwt, { now: NOW, audience: "api" })), "wrong_audience");
  assert.equal(codeOf(() => single().verifyJwt(jwt, { now: NOW, issuer: "x" })), "wrong_issuer");
  // No kid: tried against each key; the old key is reported through rotation.
  assert.equal(rotated().verifyJwt(jwt, { now: NOW }).sub, "user-12345");
  // verifyJwtDetailed names the key that verified it, and says when that key is not current.
  const detailed = rotated().verifyJwtDetailed(jwt, { now: NOW, audience: "web" });
  assert.deepEqual(detailed, { claims, keyId: "k1", staleKey: true });
  assert.deepEqual(single().verifyJwtDetailed(jwt, { now: NOW }), { claims, keyId: "k1", staleKey: false });
  assert.equal(codeOf(() => rotated().verifyJwtDetailed(jwt, { now: NOW, audience: "api" })), "wrong_audience");
  // jose with a kid this ring knows, and one it does not.
  const withKid = (kid, key) =>
    new jose.SignJWT({ sub: "u" }).setProtectedHeader({ alg: "HS256", kid }).setIssuedAt(NOW).setExpirationTime(NOW + 60).sign(key);
  assert.equal(rotated().verifyJwt(await withKid("k2", KEY_2), { now: NOW }).sub, "u");
  const unknown = await withKid("k9", KEY_1);
  assert.equal(codeOf(() => rotated().verifyJwt(unknown, { now: NOW })), "unknown_key");
});

test("fractional times from jose: valid and refused at the same seconds as in jose", async () => {
  // jose compares a NumericDate as it is with whole seconds of now (and a clock tolerance).
  const tolerance = 30; // the default leewaySeconds
  const verdicts = async (build, from, to) => {
    const jwt = await build(new jose.SignJWT({ sub: "u" }).setProtectedHeader({ alg: "HS256" })).sign(KEY_1);
    for (let now = from; now <= to; now++) {
      const theirs = await jose
        .jwtVerify(jwt, KEY_1, { currentDate: at(now), clockTolerance: tolerance })
        .then(() => "ok", (e) => e.code);
      let ours = "ok";
      try {
        single().verifyJwt(jwt, { now });
      } catch (e) {
        ours = e.code;
      }
      assert.equal(ours === "ok", theirs === "ok", `${now - NOW}: ${ours} against jose's ${theirs}`);
    }
  };
  await verdicts((j) => j.setExpirationTime(NOW + 0.5), NOW + 28, NOW + 32);
  await verdicts((j) => j.setExpirationTime(NOW + 999).setNotBefore(NOW + 100.5), NOW + 68, NOW + 72);
  await verdicts((j) => j.setExpirationTime(NOW + 999).setNotBefore(NOW + 100.000001), NOW + 68, NOW + 72);
  // The claims come back as jose gives them, fractions kept.
  const jwt = await new jose.SignJWT({ sub: "u" })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt(NOW - 0.25)
    .setExpirationTime(NOW + 0.5)
    .sign(KEY_1);
  assert.deepEqual(single().verifyJwt(jwt, { now: NOW }), { sub: "u", iat: NOW - 0.25, exp: NOW + 0.5 });
  // Revocation: issued a quarter of a second before minIssuedAt is before it.
  assert.equal(codeOf(() => single().verifyJwt(jwt, { now: NOW, minIssuedAt: NOW })), "revoked");
  assert.equal(single().verifyJwt(jwt, { now: NOW, minIssuedAt: NOW - 1 }).sub, "u");
});

test("revocation: a JWT without iat whose auth_time is far ahead (milliseconds) began at no known time", async () => {
  // Another system's JWT with the login time in milliseconds and no iat: it would have begun after
  // every revocation. It shows no login time, and any minIssuedAt refuses it, as one without both.
  const sign = (authTime) =>
    new jose.SignJWT({ sub: "u", auth_time: authTime }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(NOW + 3600).sign(KEY_1);
  for (const authTime of [NOW * 1000, 1e300]) {
    const jwt = await sign(authTime);
    assert.equal(single().verifyJwt(jwt, { now: NOW }).sub, "u");
    assert.equal(codeOf(() => single().verifyJwt(jwt, { now: NOW, minIssuedAt: NOW - 60 })), "revoked", `${authTime}`);
  }
  // In seconds, or a little ahead (a signer's clock), it counts as before.
  for (const authTime of [NOW - 30, NOW + 60]) {
    const jwt = await sign(authTime);
    assert.equal(single().verifyJwt(jwt, { now: NOW, minIssuedAt: NOW - 60 }).sub, "u", `${authTime}`);
  }
});

test("typ: JWT or application/jwt in any case, as jose's typ option reads them; other types refused", async () => {
  const withTyp = (typ) =>
    new jose.SignJWT({ sub: "u" }).setProtectedHeader({ alg: "HS256", typ }).setExpirationTime(NOW + 60).sign(KEY_1);
  for (const typ of ["JWT", "jwt", "application/jwt", "application/JWT"]) {
    const jwt = await withTyp(typ);
    await jose.jwtVerify(jwt, KEY_1, { currentDate: at(NOW), typ: "JWT" });
    assert.equal(single().verifyJwt(jwt, { now: NOW }).sub, "u", typ);
  }
  for (const typ of ["at+jwt", "application/at+jwt", "secevent+jwt"]) {
    const jwt = await withTyp(typ);
    assert.equal(codeOf(() => single().verifyJwt(jwt, { now: NOW })), "malformed", typ);
  }
});

test("only HS256 is accepted", async () => {
  const tokens = single();
  const none = new jose.UnsecuredJWT({ sub: "u" }).setIssuedAt(NOW).setExpirationTime(NOW + 60).encode();
  assert.equal(codeOf(() => tokens.verifyJwt(none, { now: NOW })), "unsupported_alg");
  const hs512 = await new jose.SignJWT({ sub: "u" })
    .setProtectedHeader({ alg: "HS512" })
    .setExpirationTime(NOW + 60)
    .sign(bytes(64, 1));
  assert.equal(codeOf(() => tokens.verifyJwt(hs512, { now: NOW })), "unsupported_alg");
  // A JWT without exp is refused; so is garbage.
  const noExp = await new jose.SignJWT({ sub: "u" }).setProtectedHeader({ alg: "HS256" }).sign(KEY_1);
  assert.equal(codeOf(() => tokens.verifyJwt(noExp, { now: NOW })), "malformed");
  for (const junk of ["", "a.b", "a.b.c.d", "x.y.z", "...", tokens.sign({ sub: "u" }, { now: NOW })]) {
    assert.equal(codeOf(() => tokens.verifyJwt(junk, { now: NOW })), "malformed", junk);
  }
  assert.equal(codeOf(() => tokens.verifyJwt("a".repeat(5000), { now: NOW })), "too_large");
});

test("tampering, wrong key, time and options errors", () => {
  const tokens = single();
  const jwt = tokens.signJwt({ sub: "user-12345" }, { now: NOW });
  const [h, p, s] = jwt.split(".");
  const otherPayload = b64url(Buffer.from(JSON.stringify({ sub: "admin", iat: NOW, exp: NOW + 3600 })));
  assert.equal(codeOf(() => tokens.verifyJwt(`${h}.${otherPayload}.${s}`, { now: NOW })), "bad_signature");
  assert.equal(codeOf(() => new SessionTokens({ keys: [{ id: "k1", secret: SECRET_2 }] }).verifyJwt(jwt, { now: NOW })), "bad_signature");
  assert.equal(codeOf(() => tokens.verifyJwt(`${h}.${p}.${s}=`, { now: NOW })), "malformed");
  assert.equal(codeOf(() => tokens.verifyJwt(jwt, { now: NOW - 31 })), "not_yet_valid");
  try {
    tokens.verifyJwt(jwt, { now: NOW + 3630 });
    assert.fail("should throw");
  } catch (e) {
    assert.equal(e.code, "expired");
    assert.deepEqual(e.claims, { sub: "user-12345", iat: NOW, exp: NOW + 3600 });
  }
  assert.equal(codeOf(() => tokens.verifyJwt(jwt, { now: 1.5 })), "invalid_config");
  assert.equal(codeOf(() => tokens.verifyJwt(jwt, { now: NOW, issuer: 7 })), "invalid_config");
  assert.equal(codeOf(() => tokens.signJwt({ sub: "u" }, { now: NOW, audience: ["a"] })), "invalid_config");
  assert.equal(codeOf(() => tokens.signJwt("text", { now: NOW })), "invalid_claims");
  // Defaults: the clock.
  const fresh = tokens.verifyJwt(tokens.signJwt({ sub: "u" }));
  assert.ok(Math.abs(fresh.iat - Date.now() / 1000) < 5);
});

test("revocation with minIssuedAt: a number or a lookup, on every kind of verify", () => {
  const tokens = single();
  const compact = tokens.sign({ sub: "user-12345" }, { now: NOW });
  const jwt = tokens.signJwt({ sub: "user-12345" }, { now: NOW });
  const revokedAt = new Map([["user-12345", NOW + 1]]);
  const lookup = (claims) => revokedAt.get(claims.sub);
  for (const [verify, token] of [
    [(t, o) => tokens.verify(t, o), compact],
    [(t, o) => tokens.verifyDetailed(t, o), compact],
    [(t, o) => tokens.verifyJwt(t, o), jwt],
  ]) {
    assert.ok(verify(token, { now: NOW + 5, minIssuedAt: NOW }));
    assert.equal(codeOf(() => verify(token, { now: NOW + 5, minIssuedAt: NOW + 1 })), "revoked");
    assert.equal(codeOf(() => verify(token, { now: NOW + 5, minIssuedAt: lookup })), "revoked");
    assert.ok(verify(token, { now: NOW + 5, minIssuedAt: () => undefined }));
    assert.ok(verify(token, { now: NOW + 5, minIssuedAt: null }));
  }
  // The lookup sees the verified claims; its errors come through; it must answer synchronously.
  let seen;
  tokens.verify(compact, { now: NOW, minIssuedAt: (c) => { seen = c; } });
  assert.deepEqual(seen, { sub: "user-12345", iat: NOW, exp: NOW + 3600 });
  assert.throws(() => tokens.verify(compact, { now: NOW, minIssuedAt: () => { throw new TypeError("kv down"); } }), TypeError);
  assert.equal(codeOf(() => tokens.verify(compact, { now: NOW, minIssuedAt: async () => NOW })), "invalid_config");
  assert.equal(codeOf(() => tokens.verify(compact, { now: NOW, minIssuedAt: () => "soon" })), "invalid_config");
  assert.equal(codeOf(() => tokens.verify(compact, { now: NOW, minIssuedAt: "soon" })), "invalid_config");
  // Forged tokens never reach the lookup.
  let calls = 0;
  codeOf(() => tokens.verify(compact.slice(0, -2) + "AA", { now: NOW, minIssuedAt: () => { calls++; } }));
  assert.equal(calls, 0);
});

// verify and verifyJwt answer where their claims lie in the wasm or -1, the glue reading the
// claims or throwing the error the wasm kept (src/js/thrown.rs): whatever a lookup throws comes
// out as it is, a verify inside a lookup (of another token, failing or not) is not mistaken for
// the outer call, and no error is thrown twice.
test("a lookup's exception, of any value, is what verify, verifyJwt and sealed verify throw", () => {
  const tokens = single();
  const sealed = sealedTokens();
  const calls = [
    [(o) => tokens.verify(tokens.sign({ sub: "u" }, { now: NOW }), o)],
    [(o) => tokens.verifyJwt(tokens.signJwt({ sub: "u" }, { now: NOW }), o)],
    [(o) => sealed.verify(sealed.sign({ sub: "u" }, { now: NOW }), o)],
  ];
  const plain = { reason: "kv down" };
  for (const [verify] of calls) {
    for (const value of ["kv down", 0, null, undefined, plain]) {
      let caught = "nothing thrown";
      try {
        verify({ now: NOW, minIssuedAt: () => { throw value; } });
      } catch (e) {
        caught = e;
      }
      assert.equal(caught, value);
    }
    // A verify of another token inside the lookup: each call answers its own claims (the glue
    // reads them from the wasm once the call returned).
    const other = tokens.sign({ sub: "other", n: 1 }, { now: NOW });
    let inside;
    assert.equal(verify({ now: NOW, minIssuedAt: () => { inside = tokens.verify(other, { now: NOW }); } }).sub, "u");
    assert.deepEqual(inside, { sub: "other", n: 1, iat: NOW, exp: NOW + 3600 });
    // A verify that fails inside the lookup, caught there: the outer call still succeeds.
    const inner = () => { assert.equal(codeOf(() => tokens.verify("nope")), "malformed"); return undefined; };
    assert.equal(verify({ now: NOW, minIssuedAt: inner }).sub, "u");
    // Caught there, then the outer call fails: its own error.
    const revoking = () => { codeOf(() => tokens.verifyJwt("a.b.c")); return NOW + 1; };
    assert.equal(codeOf(() => verify({ now: NOW, minIssuedAt: revoking })), "revoked");
    // After a failure, a good call returns its claims.
    assert.equal(verify({ now: NOW }).sub, "u");
  }
});

test("a lookup that frees its own instance: the call still answers its claims, and the module keeps working", () => {
  // The claims verify answers were kept in the instance for the glue to read once the call
  // returned; freed during the call (its `free()` throws while the call holds it, but the
  // instance goes once the call ends), the glue read them from freed memory: a SyntaxError of
  // JSON.parse on the allocator's bytes, or claims of whatever lay there.
  // The free() throws (wasm-bindgen's "attempted to take ownership ... while it was borrowed");
  // caught, the lookup answers undefined.
  const freeing = (t) => ({ now: NOW, minIssuedAt: () => { try { t.free(); } catch {} } });
  const claims = { sub: "u", pad: "p".repeat(40) };
  const calls = [
    ["verify", sessionTokens, (t) => t.verify(t.sign(claims, { now: NOW }), freeing(t))],
    ["verifyJwt", sessionTokens, (t) => t.verifyJwt(t.signJwt(claims, { now: NOW }), freeing(t))],
    ["sealed verify", sealedTokens, (t) => t.verify(t.sign(claims, { now: NOW }), freeing(t))],
  ];
  for (const [name, make, call] of calls) {
    for (let i = 0; i < 100; i++) {
      const tokens = make();
      assert.deepEqual(call(tokens), { ...claims, iat: NOW, exp: NOW + 3600 }, `${name} ${i}`);
      assert.throws(() => tokens.sign(claims), TypeError, `${name}: freed once the call ended`);
    }
    assertStillWorks(make);
  }
});

test("sliding refresh: null until due, then a new token, up to the absolute limit", () => {
  const tokens = single({ ttlSeconds: 3600, refreshAfter: 0.5, maxLifetimeSeconds: 7200 });
  const token = tokens.sign({ sub: "u" }, { now: NOW });
  assert.equal(tokens.refresh(token, { now: NOW + 1799 }), null);
  const fresh = tokens.refresh(token, { now: NOW + 1800 });
  assert.equal(typeof fresh, "string");
  assert.deepEqual(tokens.verify(fresh, { now: NOW + 1800 }), {
    sub: "u", auth_time: NOW, iat: NOW + 1800, exp: NOW + 5400,
  });
  // Next refresh is capped at auth_time + maxLifetimeSeconds.
  const last = tokens.refresh(fresh, { now: NOW + 3600 });
  assert.equal(tokens.verify(last, { now: NOW + 3600 }).exp, NOW + 7200);
  assert.equal(tokens.refresh(last, { now: NOW + 7000 }), null);
  assert.equal(codeOf(() => tokens.refresh(last, { now: NOW + 7231 })), "expired");
  // Revocation applies to refresh, and survives a refresh.
  assert.equal(codeOf(() => tokens.refresh(token, { now: NOW + 1800, minIssuedAt: NOW + 1 })), "revoked");
  assert.equal(codeOf(() => tokens.verify(fresh, { now: NOW + 1800, minIssuedAt: NOW + 1 })), "revoked");
  // Rotation: a token of an older key is re-issued at once.
  const moved = rotated().refresh(single().sign({ sub: "u" }, { now: NOW }), { now: NOW + 1 });
  assert.equal(rotated().verifyDetailed(moved, { now: NOW + 1 }).keyId, "k2");
  // Config checks.
  assert.equal(codeOf(() => single({ refreshAfter: 1.5 })), "invalid_config");
  assert.equal(codeOf(() => single({ ttlSeconds: 3600, maxLifetimeSeconds: 60 })), "invalid_config");
});

test("sliding refresh: a token whose replacement would be over maxTokenBytes is kept (null), not refused", () => {
  for (const t of [sessionTokens({ ttlSeconds: 3600, maxTokenBytes: 200 }), sealedTokens({ ttlSeconds: 3600, maxTokenBytes: 200 })]) {
    let kept = 0;
    for (let n = 0; n < 200; n++) {
      let token;
      try {
        token = t.sign({ sub: "u", pad: "x".repeat(n) }, { now: NOW });
      } catch (e) {
        assert.equal(e.code, "too_large");
        break;
      }
      const fresh = t.refresh(token, { now: NOW + 1800 });
      if (fresh === null) kept++;
      else assert.ok(fresh.length <= 200);
      assert.equal(t.verify(token, { now: NOW + 3599 }).sub, "u");
    }
    assert.ok(kept > 0);
  }
});

test("sliding refresh: a decimal refreshAfter is due on the second it names", () => {
  // 0.55 of 3600 is 1980, though 3600 * 0.55 is 1980.0000000000002 in doubles.
  for (const [refreshAfter, ttlSeconds, due] of [[0.55, 3600, 1980], [0.07, 100, 7]]) {
    const tokens = single({ ttlSeconds, refreshAfter });
    const token = tokens.sign({ sub: "u" }, { now: NOW });
    assert.equal(tokens.refresh(token, { now: NOW + due - 1 }), null);
    assert.equal(typeof tokens.refresh(token, { now: NOW + due }), "string", `${refreshAfter} of ${ttlSeconds}`);
  }
});

test("a lone surrogate in the claims (a string cut inside an emoji) is refused, and said", async () => {
  const name = "Ada 😀".slice(0, 5); // "Ada \uD83D"
  const messageOf = (f) => {
    try {
      f();
    } catch (e) {
      return `${e.code}: ${e.message}`;
    }
  };
  const tokens = single();
  for (const sign of [() => tokens.sign({ name }, { now: NOW }), () => tokens.signJwt({ name }, { now: NOW })]) {
    assert.match(messageOf(sign), /^invalid_claims: .*lone surrogate/);
  }
  // jose signs it (JSON.stringify writes "\ud83d"); verifying says why it is refused.
  const jwt = await new jose.SignJWT({ name }).setProtectedHeader({ alg: "HS256" }).setIssuedAt(NOW).setExpirationTime(NOW + 60).sign(KEY_1);
  assert.match(messageOf(() => tokens.verifyJwt(jwt, { now: NOW })), /^malformed: .*lone surrogate/);
  // A whole emoji is text.
  assert.equal(tokens.verifyJwt(tokens.signJwt({ name: "Ada 😀" }, { now: NOW }), { now: NOW }).name, "Ada 😀");
});
