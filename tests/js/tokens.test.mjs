// The JavaScript API of SessionTokens, exercised on the package built by
// `wasm-pack build --target nodejs --out-dir pkg-node` (run by `make js-test`); the receiver
// test sweeps the subpath builds' classes too (target/pkg-store, pkg-assertion, pkg-dbsc).
import { test } from "node:test";
import assert from "node:assert/strict";
import { KEYS_1, NOW, SECRET_1, SECRET_2, assertStillWorks, codeOf, requireGlue, sealedTokens, sessionTokens, vectors, pkg, wasm } from "./fixtures.mjs";

const { SessionTokens, Affinity } = pkg;

const make = (extra = {}) => sessionTokens({ ttlSeconds: 3600, leewaySeconds: 30, ...extra });

test("sign and verify round trip with iat and exp", () => {
  const tokens = make();
  const token = tokens.sign({ sub: "user-12345", role: "admin" }, { now: NOW });
  assert.match(token, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(tokens.verify(token, { now: NOW + 1 }), {
    sub: "user-12345", role: "admin", iat: NOW, exp: NOW + 3600,
  });
});

test("the known-answer vectors (tests/vectors/compact.json) match the Rust tests", () => {
  const { sign, verify } = vectors("compact.json");
  assert.ok(sign.length > 0 && verify.length > 0);
  for (const v of sign) {
    assert.equal(new SessionTokens(v.config).sign(v.claims, { now: v.now }), v.token, v.name);
  }
  for (const v of verify) {
    const tokens = new SessionTokens(v.config);
    if (v.error) assert.equal(codeOf(() => tokens.verify(v.token, { now: v.now })), v.error, v.name);
    else assert.deepEqual(tokens.verify(v.token, { now: v.now }), v.claims, v.name);
  }
});

test("defaults: the clock for now, and configured ttl", () => {
  const tokens = new SessionTokens({ keys: [{ id: "k1", secret: SECRET_1 }] });
  const before = Math.floor(Date.now() / 1000);
  const claims = tokens.verify(tokens.sign({ sub: "u" }));
  assert.ok(claims.iat >= before && claims.iat <= before + 2);
  assert.equal(claims.exp - claims.iat, 3600);
});

test("claims of any JSON shape round trip; iat and exp are replaced, nbf kept", () => {
  const tokens = make();
  const claims = {
    sub: "u", "quo\"te\\": "é\n\u0001😀", nested: { z: [1, 2.5, -3e-7, null, true], a: { "": "" } },
    big: 12345678901234567890, iat: 1, exp: 2, nbf: NOW - 10,
  };
  const got = tokens.verify(tokens.sign(claims, { now: NOW }), { now: NOW });
  assert.deepEqual(got, { ...claims, iat: NOW, exp: NOW + 3600 });
  assert.equal(codeOf(() => tokens.sign({ nbf: 1.5 }, { now: NOW })), "invalid_claims");
  assert.equal(codeOf(() => tokens.sign({ nbf: "soon" }, { now: NOW })), "invalid_claims");
  // In milliseconds (or at exp) the token would never verify: refused, not signed.
  assert.equal(codeOf(() => tokens.sign({ nbf: NOW * 1000 }, { now: NOW })), "invalid_claims");
  assert.equal(codeOf(() => tokens.sign({ nbf: NOW + 3600 }, { now: NOW })), "invalid_claims");
  assert.equal(tokens.verify(tokens.sign({ nbf: NOW + 3599 }, { now: NOW }), { now: NOW + 3599 }).nbf, NOW + 3599);
});

test("per-token ttlSeconds", () => {
  const tokens = make();
  const claims = tokens.verify(tokens.sign({ sub: "u" }, { now: NOW, ttlSeconds: 600 }), { now: NOW });
  assert.equal(claims.exp, NOW + 600);
});

// A revocation is kept maxLifetimeSeconds (plus leeway): a "remember me" token of 30 days under
// the default week outlived it, and verified again from day 8 to day 30 (an audit, simulated
// time). Refused, naming maxLifetimeSeconds (to raise), in each format; the longest life itself
// is taken.
test("a per-token ttlSeconds is at most maxLifetimeSeconds", () => {
  const WEEK = 7 * 24 * 3600;
  for (const [name, tokens] of [["SessionTokens", sessionTokens()], ["SealedTokens", sealedTokens()]]) {
    assert.equal(tokens.verify(tokens.sign({ sub: "u" }, { now: NOW, ttlSeconds: WEEK }), { now: NOW }).exp, NOW + WEEK, name);
    assert.throws(
      () => tokens.sign({ sub: "u" }, { now: NOW, ttlSeconds: WEEK + 1 }),
      (e) => e.code === "invalid_config" && e.setting === "maxLifetimeSeconds" && /at least ttlSeconds/.test(e.message),
      name,
    );
  }
  const tokens = sessionTokens();
  assert.equal(tokens.verifyJwt(tokens.signJwt({ sub: "u" }, { now: NOW, ttlSeconds: WEEK }), { now: NOW }).exp, NOW + WEEK);
  assert.throws(
    () => tokens.signJwt({ sub: "u" }, { now: NOW, ttlSeconds: WEEK + 1 }),
    (e) => e.code === "invalid_config" && e.setting === "maxLifetimeSeconds",
  );
  const month = sessionTokens({ maxLifetimeSeconds: 30 * 24 * 3600 });
  assert.ok(month.sign({ sub: "u" }, { now: NOW, ttlSeconds: 30 * 24 * 3600 }));
});

test("expiry and leeway boundaries; expired errors carry the claims", () => {
  const tokens = make();
  const token = tokens.sign({ sub: "u" }, { now: NOW });
  assert.equal(tokens.verify(token, { now: NOW + 3629 }).sub, "u");
  try {
    tokens.verify(token, { now: NOW + 3630 });
    assert.fail("should throw");
  } catch (e) {
    assert.equal(e.code, "expired");
    assert.equal(e.name, "EdgeSessionError");
    assert.deepEqual(e.claims, { sub: "u", iat: NOW, exp: NOW + 3600 });
  }
  assert.equal(tokens.verify(token, { now: NOW - 30 }).sub, "u");
  assert.equal(codeOf(() => tokens.verify(token, { now: NOW - 31 })), "not_yet_valid");
});

test("an expired token of another issuer or audience, or revoked, is refused as such, without claims", () => {
  const tokens = make();
  const token = tokens.sign({ sub: "u", iss: "me", aud: "web" }, { now: NOW });
  const jwt = tokens.signJwt({ sub: "u" }, { now: NOW, issuer: "me", audience: "web" });
  const errorOf = (verify) => { try { verify(); } catch (e) { return e; } assert.fail("should throw"); };
  const later = NOW + 3630;
  for (const verify of ["verify", "verifyJwt"]) {
    const t = verify === "verify" ? token : jwt;
    const ok = errorOf(() => tokens[verify](t, { now: later, issuer: "me", audience: "web", minIssuedAt: NOW }));
    assert.equal(ok.code, "expired", verify);
    assert.equal(ok.claims.aud, "web", verify);
    for (const [options, code] of [
      [{ issuer: "you" }, "wrong_issuer"], [{ audience: "api" }, "wrong_audience"], [{ minIssuedAt: NOW + 1 }, "revoked"],
    ]) {
      const e = errorOf(() => tokens[verify](t, { now: later, ...options }));
      assert.deepEqual([e.code, e.claims], [code, undefined], `${verify} ${code}`);
    }
  }
});

test("key rotation: old tokens verify and are flagged stale", () => {
  const old = make();
  const rotated = new SessionTokens({ keys: [{ id: "k2", secret: SECRET_2 }, { id: "k1", secret: SECRET_1 }] });
  const token = old.sign({ sub: "u" }, { now: NOW });
  const v = rotated.verifyDetailed(token, { now: NOW });
  assert.equal(v.keyId, "k1");
  assert.equal(v.staleKey, true);
  assert.equal(v.claims.sub, "u");
  const fresh = rotated.verifyDetailed(rotated.sign(v.claims, { now: NOW }), { now: NOW });
  assert.deepEqual([fresh.keyId, fresh.staleKey], ["k2", false]);
  const retired = new SessionTokens({ keys: [{ id: "k2", secret: SECRET_2 }] });
  assert.equal(codeOf(() => retired.verify(token, { now: NOW })), "unknown_key");
});

test("purpose separation", () => {
  const csrf = make({ purpose: "csrf" });
  const token = csrf.sign({ sub: "u" }, { now: NOW });
  assert.equal(codeOf(() => make().verify(token, { now: NOW })), "wrong_purpose");
});

test("purposes, issuers and audiences with a lone surrogate are refused, not merged", () => {
  // The wasm reads a lone surrogate as U+FFFD: these three purposes would be one key.
  for (const purpose of ["csrf\uD800", "csrf\uDC00", "\uDFFF"]) {
    assert.equal(codeOf(() => make({ purpose })), "invalid_config", JSON.stringify(purpose));
  }
  const tokens = make({ purpose: "csrf\uFFFD" });
  const jwt = tokens.signJwt({ sub: "u" }, { now: NOW, issuer: "\uFFFD", audience: "\uFFFD" });
  for (const options of [{ issuer: "\uD800" }, { audience: "a\uDBFF" }]) {
    assert.equal(codeOf(() => tokens.verifyJwt(jwt, { now: NOW, ...options })), "invalid_config");
    assert.equal(codeOf(() => tokens.signJwt({}, { now: NOW, ...options })), "invalid_config");
  }
  assert.equal(tokens.verifyJwt(jwt, { now: NOW, issuer: "\uFFFD", audience: "\uFFFD" }).iss, "\uFFFD");
  assert.equal(tokens.verify(tokens.sign({ sub: "u" }, { now: NOW }), { now: NOW }).sub, "u");
});

test("each character of a token changed (to A, or an A to B) is rejected; tests/token_kinds.rs tries every other character too", () => {
  const tokens = make();
  const token = tokens.sign({ sub: "user-12345", role: "admin" }, { now: NOW });
  for (let i = 0; i < token.length; i++) {
    const c = token[i] === "A" ? "B" : "A";
    const forged = token.slice(0, i) + c + token.slice(i + 1);
    const code = codeOf(() => tokens.verify(forged, { now: NOW }));
    assert.ok(["malformed", "bad_signature", "unknown_key", "wrong_purpose"].includes(code), `${i}: ${code}`);
  }
});

test("the codes of SessionTokens' calls are reachable from JS, each by its fault (the others: the store's, assertion's, DBSC's and affinity's tests)", () => {
  const tokens = make();
  const token = tokens.sign({ sub: "u" }, { now: NOW });
  const codes = [
    codeOf(() => tokens.verify("A".repeat(4097))),
    codeOf(() => tokens.verify("not a token")),
    codeOf(() => new SessionTokens({ keys: [{ id: "k9", secret: SECRET_1 }] }).verify(token, { now: NOW })),
    codeOf(() => new SessionTokens({ keys: [{ id: "k1", secret: SECRET_2 }] }).verify(token, { now: NOW })),
    codeOf(() => make({ purpose: "csrf" }).verify(token, { now: NOW })),
    codeOf(() => tokens.verify(token, { now: NOW + 9999 })),
    codeOf(() => tokens.verify(token, { now: NOW - 9999 })),
    codeOf(() => tokens.sign([1, 2])),
    codeOf(() => new SessionTokens({ keys: [{ id: "k1", secret: "c2hvcnQ" }] })),
  ];
  assert.deepEqual(codes, [
    "too_large", "malformed", "unknown_key", "bad_signature", "wrong_purpose", "expired",
    "not_yet_valid", "invalid_claims", "invalid_config",
  ]);
});

test("bad configuration and options are refused with invalid_config", () => {
  for (const config of [
    {},
    { keys: [] },
    { keys: [{ id: "k1", secret: SECRET_1 }], ttlSeconds: 0 },
    { keys: [{ id: "k1", secret: SECRET_1 }], ttlSeconds: -5 },
    { keys: [{ id: "k1", secret: SECRET_1 }], tttl: 5 },
    { keys: [{ id: "k1", secret: SECRET_1 }, { id: "k1", secret: SECRET_2 }] },
    { keys: [{ id: "has space", secret: SECRET_1 }] },
    { keys: [{ id: "k1", secret: SECRET_1, extra: 1 }] },
    { keys: { id: "k1", secret: SECRET_1 } },
    { keys: [{ id: "k1", secret: SECRET_1 }], ttlSeconds: "3600" },
    { keys: [{ id: "k1", secret: SECRET_1 }], purpose: 7 },
    { keys: [{ id: "k1", secret: SECRET_1 }], maxTokenBytes: 2 ** 40 },
  ]) {
    assert.equal(codeOf(() => new SessionTokens(config)), "invalid_config", JSON.stringify(config));
  }
  for (const config of [undefined, null, "keys", [{ id: "k1", secret: SECRET_1 }]]) {
    assert.equal(codeOf(() => new SessionTokens(config)), "invalid_config", String(config));
  }
  const tokens = make();
  for (const now of [-1, 1.5, NaN, Infinity, 2 ** 60]) {
    assert.equal(codeOf(() => tokens.sign({}, { now })), "invalid_config", String(now));
  }
  assert.equal(codeOf(() => tokens.sign({}, { ttlSeconds: 0 })), "invalid_config");
});

test("the longest ttlSeconds signs and verifies at any now accepted; one more is refused at construction", () => {
  // exp = now + ttl must stay an exact JSON number (at most 2^53 - 1) for every now: a Date ends
  // at 8.64e15 ms, so the longest lifetime is 2^53 - 1 - 8.64e12 s. A ttlSeconds near 2^53 used
  // to be accepted, and then every sign failed. `now` itself is at most 10^11 s (the year 5138):
  // a time in milliseconds is refused (below).
  const MAX_CLOCK = 8.64e12;
  const LATEST_NOW = 1e11;
  assert.ok(!Number.isNaN(new Date(MAX_CLOCK * 1000).getTime()));
  assert.ok(Number.isNaN(new Date((MAX_CLOCK + 1) * 1000).getTime()));
  const MAX_TTL = 2 ** 53 - 1 - MAX_CLOCK;
  const refused = (make, config) => {
    const what = JSON.stringify(config);
    assert.throws(() => make(config), (e) => e.code === "invalid_config" && e.setting === Object.keys(config)[0], what);
  };
  for (const make of [sessionTokens, sealedTokens]) {
    const tokens = make({ ttlSeconds: MAX_TTL });
    for (const now of [NOW, LATEST_NOW - 1]) {
      assert.equal(tokens.verify(tokens.sign({ sub: "u" }, { now }), { now }).exp, now + MAX_TTL, `${make.name} at ${now}`);
      assert.equal(tokens.refresh(tokens.sign({ sub: "u" }, { now }), { now: now + 1 }), null);
    }
    refused(make, { ttlSeconds: MAX_TTL + 1 });
    refused(make, { ttlSeconds: 2 ** 53 - 1 });
    refused(make, { maxLifetimeSeconds: MAX_TTL + 1 });
    assert.ok(make({ maxLifetimeSeconds: MAX_TTL }));
    assert.equal(codeOf(() => tokens.sign({}, { now: NOW, ttlSeconds: MAX_TTL + 1 })), "invalid_config");
  }
  const tokens = sessionTokens({ ttlSeconds: MAX_TTL });
  for (const now of [NOW, LATEST_NOW]) {
    assert.equal(tokens.verifyJwt(tokens.signJwt({ sub: "u" }, { now }), { now }).exp, now + MAX_TTL);
  }
  assert.equal(codeOf(() => tokens.signJwt({}, { now: NOW, ttlSeconds: MAX_TTL + 1 })), "invalid_config");
});

test("a now in milliseconds (Date.now(), as jose takes it) is refused as `now` by every call, not signed into a token that lives for ages", () => {
  // signJwt({ now: Date.now() }) wrote iat ≈ 1.8e12 and exp = iat + ttl: a JWT jose and fast-jwt
  // accept for 57,000 years (they check no future iat), though verifyJwt refuses it here.
  const ms = NOW * 1000;
  const tokens = make();
  const sealed = sealedTokens();
  const token = tokens.sign({ sub: "u" }, { now: NOW });
  const router = new Affinity({ secret: SECRET_1, backends: [{ id: "a" }] });
  const calls = {
    sign: (now) => tokens.sign({ sub: "u" }, { now }),
    signJwt: (now) => tokens.signJwt({ sub: "u" }, { now }),
    "sealed sign": (now) => sealed.sign({ sub: "u" }, { now }),
    verify: (now) => tokens.verify(token, { now }),
    verifyDetailed: (now) => tokens.verifyDetailed(token, { now }),
    refresh: (now) => tokens.refresh(token, { now }),
    verifyJwt: (now) => tokens.verifyJwt(tokens.signJwt({ sub: "u" }, { now: NOW }), { now }),
    route: (now) => router.route({ now }),
  };
  for (const [name, call] of Object.entries(calls)) {
    for (const now of [ms, 1e11 + 1]) {
      assert.throws(() => call(now), (e) => e.code === "invalid_config" && e.setting === "now" && /not milliseconds/.test(e.message), `${name} at ${now}`);
    }
    assert.doesNotThrow(() => call(NOW), name);
  }
});

test("claims nested more than 127 levels deep are refused as such, not as \"not a JSON object\"", () => {
  const nested = (n) => ({ a: JSON.parse("[".repeat(n) + "]".repeat(n)) });
  const tokens = make();
  // The object is the first level: { a: [126 arrays] } is 127 deep.
  assert.ok(tokens.verify(tokens.sign(nested(126), { now: NOW }), { now: NOW }));
  assert.ok(tokens.verifyJwt(tokens.signJwt(nested(126), { now: NOW }), { now: NOW }));
  for (const sign of [(c) => tokens.sign(c), (c) => tokens.signJwt(c), (c) => sealedTokens().sign(c)]) {
    assert.throws(() => sign(nested(127)), (e) => e.code === "invalid_claims" && /nested more than 127/.test(e.message));
  }
});

test("a freed instance (free(), Symbol.dispose) throws a TypeError from every method, and the module keeps working", () => {
  // A method of a freed instance reached the wasm with a null pointer, and wasm-bindgen's error
  // for it went through the wasm's frames: each call left the stack pointer moved (and the
  // token's copy and the options' table slot behind), and some 20,000 such calls later every
  // call of the module failed with "memory access out of bounds", other instances' too. free()
  // twice (a `using` and a free(), say) did the same.
  for (const [name, make] of [["SessionTokens", sessionTokens], ["SealedTokens", sealedTokens]]) {
    const freed = make();
    const token = freed.sign({ sub: "u" }, { now: NOW });
    freed.free();
    const calls = [
      () => freed.verify(token, { now: NOW }),
      () => freed.verifyDetailed(token, { now: NOW }),
      () => freed.refresh(token, { now: NOW }),
      () => freed.sign({ sub: "u" }, { now: NOW }),
    ];
    if (name === "SessionTokens") calls.push(() => freed.signJwt({ sub: "u" }), () => freed.verifyJwt(token));
    for (let i = 0; i < 30_000; i++) {
      assert.throws(calls[i % calls.length], TypeError, `${name} ${i}`);
      freed.free();
      freed[Symbol.dispose]?.();
    }
    assertStillWorks(make);
  }
});

// The builds the receiver test below sweeps: the base package and the subpath builds (`make
// js-test` builds them all), each with its own copy of the shared classes and its own wasm.
const BUILDS = {
  "pkg-node": pkg,
  store: requireGlue("../../target/pkg-store/edge_session.js").module,
  assertion: requireGlue("../../target/pkg-assertion/edge_session.js").module,
  dbsc: requireGlue("../../target/pkg-dbsc/edge_session.js").module,
};
// The members each build has at least (getters and setters count one each): fewer is a class
// the sweep no longer finds.
const SWEPT = { "pkg-node": 21, store: 53, assertion: 26, dbsc: 32 };

// How each class of build `m` is made (a Session only by a store).
const makersOf = (m) => ({
  Affinity: () => new m.Affinity({ secret: SECRET_1, backends: [{ id: "a" }] }),
  SealedTokens: () => new m.SealedTokens({ keys: KEYS_1 }),
  SessionTokens: () => new m.SessionTokens({ keys: KEYS_1 }),
  Session: () => new m.SessionStore({ keys: KEYS_1 }).load(null, { now: NOW }),
  SessionStore: () => new m.SessionStore({ keys: KEYS_1 }),
  OriginAssertions: () => new m.OriginAssertions({ alg: "EdDSA", keys: KEYS_1, issuer: "https://app.example" }),
  DeviceBoundSessions: () => new m.DeviceBoundSessions({ keys: KEYS_1 }),
});

// The arguments of each member of a class, made for (and with) its live instance `live`: a getter
// takes none, a setter is `set <name>`. A member without them fails the test until given some.
const now = { now: NOW };
const tokenArgs = (t) => {
  const token = t.sign({ sub: "u" }, now);
  return { sign: [{ sub: "u" }, now], verify: [token, now], verifyDetailed: [token, now], refresh: [token, now] };
};
const ARGS = {
  Affinity: () => ({ header: [], route: [now], setDraining: ["a", true], setHealthy: ["a", true] }),
  SealedTokens: tokenArgs,
  SessionTokens: (t) => {
    const jwt = [t.signJwt({ sub: "u" }, now), now];
    return { ...tokenArgs(t), signJwt: [{ sub: "u" }, now], verifyJwt: jwt, verifyJwtDetailed: jwt };
  },
  Session: () => ({
    cookie: [], created: [], isNew: [], renewed: [], touched: [], version: [], data: [], "set data": [{ n: 1 }],
    subject: [], "set subject": ["u"], get: ["n"], set: ["n", 2], delete: ["n"],
  }),
  SessionStore: async (store) => {
    const session = await store.load(null, now);
    return {
      consistency: [], clearCookie: [], load: [null, now], find: [null, now], update: [null, (s) => s.set("n", 1), now],
      commit: [session, now], setCookie: [session, now], cookieMaxAge: [session, now], regenerate: [session, now],
      applyCookies: [new Response(""), session, now], destroy: [session, now], clearCookies: [new Response("")],
      withheldFrom: [new Request("https://app.example/")], minIssuedAt: ["u"], revokeSubject: ["u"], revokeTokens: ["u", 60, now],
      endToken: ["u", 60, now], tokenEnded: ["u"],
    };
  },
  OriginAssertions: async (a) => {
    const assertion = { audience: "https://origin.example", now: NOW };
    return { jwks: [], sign: [assertion], verify: [await a.sign(assertion), assertion] };
  },
  // No device here to sign a proof: verifyRegistration and verifyRefresh refuse "a.b.c" (MALFORMED).
  DeviceBoundSessions: (s) => ({
    boundSeconds: [], challenge: ["sid", now], challengeHeader: ["sid", now], registrationHeader: ["sid", { path: "/r", now: NOW }],
    boundCookie: ["sid", "jkt", now], checkBound: [s.boundCookie("sid", "jkt", now), "sid", "jkt", now],
    sessionConfig: [{ sessionId: "sid", refreshUrl: "/r", origin: "https://app.example", cookieName: "__Host-b" }],
    verifyRegistration: ["a.b.c", "sid", now], verifyRefresh: ["a.b.c", "sid", '{"kty":"EC"}', now],
  }),
};
// The members whose live call refuses its arguments' content (malformed), not their type.
const MALFORMED = ["DeviceBoundSessions.verifyRegistration", "DeviceBoundSessions.verifyRefresh"];

// A method given another class's instance read its Rust value as one of its own class (a
// SessionTokens verified as SealedTokens; another build's is a pointer into another wasm's
// memory); a freed instance or a bare Object.create copy handed the wasm a null pointer. Every
// class each build exports and every method, getter and setter of it, so that one added later
// is checked too.
for (const [build, m] of Object.entries(BUILDS)) {
  test(`every method of every class refuses a \`this\` that is not a live instance of the class: another class's, a freed one, a copy of the prototype (${build})`, async (t) => {
    const makers = makersOf(m);
    const classes = Object.entries(m).filter(([, v]) => /^class\b/.test(Function.prototype.toString.call(v)));
    let checked = 0;
    for (const [name, Class] of classes) {
      assert.ok(makers[name], `a maker for ${build}'s ${name}`);
      const live = await makers[name]();
      const args = { free: [], [Symbol.dispose]: [], ...(await ARGS[name](live)) };
      // Every other class's instance, and the same class's of another build.
      const others = await Promise.all(classes.filter(([n]) => n !== name).map(async ([n]) => [await makers[n](), `an instance of ${n}`]));
      const elsewhere = Object.entries(BUILDS).find(([b, o]) => b !== build && o[name]);
      if (elsewhere) others.push([await makersOf(elsewhere[1])[name](), `${elsewhere[0]}'s ${name}`]);
      const freed = await makers[name]();
      freed.free();
      const members = [];
      // wasm-bindgen's own __destroy_into_raw is no method of the API.
      for (const key of Reflect.ownKeys(Class.prototype).filter((k) => k !== "constructor" && !String(k).startsWith("__"))) {
        const { get, set, value } = Object.getOwnPropertyDescriptor(Class.prototype, key);
        if (get) members.push([key, `${name}.${String(key)}`, (self) => get.call(self)]);
        if (set) members.push([`set ${String(key)}`, `set ${name}.${String(key)}`, (self, a) => set.apply(self, a)]);
        if (value) members.push([key, `${name}.${String(key)}`, (self, a) => value.apply(self, a), value === Class.prototype.free]);
      }
      for (const [key, what, member, frees] of members) {
        assert.ok(args[key], `arguments for ${build}'s ${what}`);
        const call = (self) => member(self, args[key]);
        // The glue checks `this` before the wasm makes a Promise: an async method (load, commit,
        // jwks, verifyRegistration) throws as the others do, it does not reject.
        for (const [other, whose] of others) {
          assert.throws(() => call(other), (e) => e instanceof TypeError && e.message === `expected instance of ${name}`, `${what}, ${whose}`);
        }
        assert.throws(() => call(Object.create(Class.prototype)), (e) => e instanceof TypeError && e.message.startsWith(`${name}: not an instance its constructor made`), `${what}, a copy`);
        // free() of a freed instance does nothing (a `using` and a free(), say).
        if (frees) assert.equal(call(freed), undefined, `${what}, freed`);
        else assert.throws(() => call(freed), (e) => e instanceof TypeError && e.message === `${name} used after free()`, `${what}, freed`);
        // A live instance takes the same arguments (free() a new one): the refusals were the
        // receiver's.
        const taken = Promise.resolve().then(async () => call(frees ? await makers[name]() : live));
        if (MALFORMED.includes(what)) await assert.rejects(taken, { name: "EdgeSessionError", code: "malformed" }, what);
        else await taken.catch((e) => assert.fail(`${what}, live: ${e}`));
        checked++;
      }
    }
    assert.ok(checked >= SWEPT[build], `every member found: ${checked}`);
    t.diagnostic(`${checked} members swept`);
  });
}

test("an instance freed during its own call (a claims getter frees it) is dropped once the call ends, and the module keeps working", () => {
  // wasm-bindgen's free() of a borrowed instance threw "attempted to take ownership of Rust
  // value while it was borrowed" through the frames of the call in progress.
  for (let i = 0; i < 20_000; i++) {
    const tokens = sessionTokens();
    const token = tokens.sign({ get sub() { tokens.free(); return "u"; } }, { now: NOW });
    assert.equal(typeof token, "string");
    assert.throws(() => tokens.verify(token, { now: NOW }), TypeError, "used after free()");
  }
  assertStillWorks(sessionTokens);
});

test("garbage, huge and non-string inputs never crash the instance", () => {
  const tokens = make();
  for (const bad of ["", ".", "💥", "\u0000", "a".repeat(4096), "A".repeat(1 << 20)]) {
    assert.ok(["malformed", "too_large"].includes(codeOf(() => tokens.verify(bad))));
  }
  // A token that is not a string is a programming error: a TypeError, as README says.
  for (const bad of [undefined, null, 42, {}]) {
    assert.throws(() => tokens.verify(bad), TypeError);
    assert.throws(() => tokens.verifyJwt(bad), TypeError);
  }
  // Nor is anything read into the wasm first: an object with a `length` (a token taken from a
  // JSON body, `{"token":{"length":134217728}}`) had that many bytes of the wasm memory taken for
  // its copy before the TypeError, never given back: some 30 such calls took all 4 GiB of it,
  // and every later call of the module failed. A String object is read as its string.
  for (let i = 0; i < 40; i++) {
    assert.throws(() => tokens.verify({ length: 2 ** 27 }), TypeError);
    assert.throws(() => pkg.setCookie("a", { length: 2 ** 27 }), TypeError);
  }
  assert.equal(codeOf(() => tokens.verify(new String("x"))), "malformed");
  // Claims that are not an object are the caller's input: invalid_claims.
  assert.equal(codeOf(() => tokens.sign(undefined)), "invalid_claims");
  assert.equal(codeOf(() => tokens.sign(() => 1)), "invalid_claims");
  // The instance still works after all that.
  assertStillWorks(make, tokens);
});

test("claims whose JSON is longer than maxTokenBytes are refused before they are copied into the wasm memory", () => {
  // `sign({ name })` of a 30 MB name (taken from a request body) returned too_large, but only
  // once its JSON was copied into the wasm memory: 1.1 to 125 MiB, which never shrinks.
  const tokens = make();
  const sealed = sealedTokens();
  const before = wasm.memory.buffer.byteLength;
  for (const name of ["a".repeat(30e6), "é".repeat(10e6)]) {
    for (const [t, method] of [[tokens, "sign"], [tokens, "signJwt"], [sealed, "sign"]]) {
      assert.throws(() => t[method]({ name }, { now: NOW }), (e) => {
        assert.equal(e.code, "too_large", method);
        const bytes = Buffer.byteLength(JSON.stringify({ name }));
        assert.equal(e.message, `input of ${bytes} bytes exceeds the limit of 4096 bytes`, method);
        return true;
      });
    }
  }
  const grown = wasm.memory.buffer.byteLength - before;
  assert.ok(grown < 1 << 20, `the wasm memory grew by ${grown} bytes`);
  // Claims of at most maxTokenBytes characters are signed, or refused by the wasm as before.
  assert.equal(codeOf(() => tokens.sign({ name: "a".repeat(4000) }, { now: NOW })), "too_large");
  assert.equal(tokens.verify(tokens.sign({ name: "a".repeat(2000) }, { now: NOW }), { now: NOW }).name.length, 2000);
  assertStillWorks(make, tokens);
  assertStillWorks(sealedTokens, sealed);
});

test("a copy of an instance (a deep copy of what holds it) is refused, even once the original is freed and its memory reused", () => {
  // The copy held the original's pointer: once the original was freed, another instance's
  // Rust value took its memory, and the copy signed with that instance's key and purpose.
  const copies = (instance) => [
    Object.assign(Object.create(Object.getPrototypeOf(instance)), instance),
    { __proto__: Object.getPrototypeOf(instance), ...instance },
    Object.create(Object.getPrototypeOf(instance), Object.getOwnPropertyDescriptors(instance)),
  ];
  for (const [make, use] of [
    [() => sessionTokens({ purpose: "session" }), (t) => t.sign({ sub: "mallory" }, { now: NOW })],
    [() => sealedTokens(), (t) => t.sign({ sub: "mallory" }, { now: NOW })],
    [() => new Affinity({ secret: SECRET_1, backends: [{ id: "a" }] }), (a) => a.route({})],
  ]) {
    const original = make();
    const held = copies(original);
    for (const copy of held) assert.throws(() => use(copy), TypeError, "a copy holds no Rust value");
    original.free();
    const other = Array.from({ length: 8 }, make);
    for (const copy of held) {
      assert.throws(() => use(copy), /a copy holds no Rust value of its own/);
      assert.throws(() => copy.free(), TypeError);
    }
    for (const o of other) use(o);
  }
  const admin = sessionTokens({ purpose: "admin" });
  assert.equal(admin.verify(admin.sign({ sub: "u" }, { now: NOW }), { now: NOW }).sub, "u");
});

test("a String object is read as its string: its toString (which could free the instance) is never called", () => {
  // A toString that freed the instance ran between the glue's check and its call: the wasm was
  // handed a null pointer and threw through its frames, and some 20,000 such calls later every
  // call of the module failed.
  for (let i = 0; i < 40_000; i++) {
    const tokens = make();
    const token = new String(tokens.sign({ sub: "u" }, { now: NOW }));
    token.toString = () => (tokens.free(), "x");
    assert.equal(tokens.verify(token, { now: NOW }).sub, "u");
    tokens.free();
  }
  assertStillWorks(make);
});

test("a token longer than maxTokenBytes is refused before it is copied into the wasm memory", () => {
  // The wasm memory never shrinks: a 20 MB token (a token from a JSON body) was copied into it
  // before the wasm refused it, and the instance kept 20 MB more (60 MB when not ASCII).
  const tokens = make();
  const sealed = sealedTokens({ maxTokenBytes: 1 << 20 });
  const calls = ["verify", "verifyJwt", "verifyDetailed", "verifyJwtDetailed", "refresh"].map((m) => [tokens, m, 4096]);
  calls.push(...["verify", "verifyDetailed", "refresh"].map((m) => [sealed, m, 1 << 20]));
  const tooLarge = (bytes, max, what) => (e) => {
    assert.equal(e.name, "EdgeSessionError", what);
    assert.equal(e.code, "too_large", what);
    assert.equal(e.message, `input of ${bytes} bytes exceeds the limit of ${max} bytes`, what);
    return true;
  };
  const before = wasm.memory.buffer.byteLength;
  // Its length in the error is in bytes of UTF-8, as the wasm counts it (a lone surrogate is 3).
  for (const [big, bytes] of [["a".repeat(20e6), 20e6], ["é".repeat(20e6), 40e6], ["😀".repeat(5e6) + "\ud800", 20e6 + 3]]) {
    for (const [t, method, max] of calls) {
      assert.throws(() => t[method](big, { now: NOW }), tooLarge(bytes, max, method));
      assert.throws(() => t[method](new String(big), { now: NOW }), tooLarge(bytes, max, `${method}, a String object`));
    }
  }
  const grown = wasm.memory.buffer.byteLength - before;
  assert.ok(grown < 1 << 20, `the wasm memory grew by ${grown} bytes`);
  // Just over the limit, the same error; a string of at most maxTokenBytes characters but more
  // bytes is refused by the wasm, as before (it copies at most 3 times maxTokenBytes).
  assert.throws(() => tokens.verify("a".repeat(4097)), tooLarge(4097, 4096, "4097 bytes"));
  assert.throws(() => tokens.verify("é".repeat(4096)), tooLarge(8192, 4096, "4096 characters"));
  assert.equal(codeOf(() => tokens.verify("a".repeat(4096))), "malformed");
  // A non-string is still a TypeError, however long it says it is.
  assert.throws(() => tokens.verify({ length: 2 ** 30 }), TypeError);
  assertStillWorks(make, tokens);
  assertStillWorks(sealedTokens, sealed);
});
