// `invalid_config` errors name the option at fault as `.setting` (issue 13), on the package
// built by `wasm-pack build --target nodejs --out-dir pkg-node` (run by `make js-test`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { SECRET_1 as SECRET, KEYS_1 as keys, pkg } from "./fixtures.mjs";

const { SessionTokens, SealedTokens, Affinity } = pkg;
const backends = [{ id: "a" }];

/** The error `fn` throws: `invalid_config`, with its `.setting` (undefined when none). */
const settingOf = (fn, what) => {
  try {
    fn();
  } catch (e) {
    assert.equal(e.name, "EdgeSessionError", what);
    assert.equal(e.code, "invalid_config", `${what}: ${e.message}`);
    return e.setting;
  }
  assert.fail(`${what}: did not throw`);
};

test("SessionTokens: the setting of an invalid configuration", () => {
  assert.equal(settingOf(() => new SessionTokens({ keys, ttlSeconds: 0 }), "ttlSeconds 0"), "ttlSeconds");
  for (const [config, setting] of [
    [{ keys, ttlSeconds: -1 }, "ttlSeconds"],
    [{ keys, ttlSeconds: "60" }, "ttlSeconds"],
    [{ keys, leewaySeconds: 86401 }, "leewaySeconds"],
    [{ keys, refreshAfter: 2 }, "refreshAfter"],
    [{ keys, ttlSeconds: 3600, maxLifetimeSeconds: 60 }, "maxLifetimeSeconds"],
    [{ keys, purpose: "" }, "purpose"],
    [{ keys, maxTokenBytes: 2 }, "maxTokenBytes"],
    [{}, "keys"],
    [{ keys: [] }, "keys"],
    [{ keys: [{ id: "k1", secret: "c2hvcnQ" }] }, "keys"],
    [{ keys: [{ id: "has space", secret: SECRET }] }, "keys"],
    [{ keys: [{ id: "k1" }] }, "keys"],
    [{ keys: [{ id: "k1", secret: SECRET, extra: 1 }] }, "keys"],
    // A key list of the wrong shape (the shape of AFFINITY_PREVIOUS_SECRETS: bare secrets).
    [{ keys: [SECRET] }, "keys"],
    [{ keys: [[SECRET]] }, "keys"],
    [{ keys: [42] }, "keys"],
    [{ keys, tttl: 5 }, undefined],
  ]) {
    assert.equal(settingOf(() => new SessionTokens(config), JSON.stringify(config)), setting, JSON.stringify(config));
  }
  assert.equal(settingOf(() => new SessionTokens("keys"), "not an object"), undefined);
  assert.equal(settingOf(() => new SealedTokens({ keys, ttlSeconds: 0 }), "sealed"), "ttlSeconds");
  // An option of a call is named as well as one of the configuration.
  assert.equal(settingOf(() => new SessionTokens({ keys }).sign({}, { now: -1 }), "now"), "now");
});

test("a message made of another's says \"invalid configuration\" once", () => {
  // A refused secret's message inside the keyring's (keys[0]: ...), or the affinity secret's:
  // "invalid configuration: keys[0]: invalid configuration: a secret must be ..." before.
  const { SessionStore } = createRequire(import.meta.url)("../../target/pkg-store/edge_session.js");
  for (const [what, make] of [
    ["SessionTokens", () => new SessionTokens({ keys: [{ id: "k1", secret: "c2hvcnQ" }] })],
    ["SealedTokens", () => new SealedTokens({ keys: [{ id: "k1", secret: "not base64!" }] })],
    ["SessionStore", () => new SessionStore({ keys: [{ id: "k1", secret: "c2hvcnQ" }] })],
    ["Affinity secret", () => new Affinity({ secret: "c2hvcnQ", backends })],
    ["Affinity previousSecrets", () => new Affinity({ secret: SECRET, backends, previousSecrets: ["c2hvcnQ"] })],
  ]) {
    assert.throws(make, (e) => e.code === "invalid_config" && e.message.split("invalid configuration").length === 2, what);
  }
});

test("Affinity: the setting of an invalid configuration", () => {
  for (const [config, setting] of [
    [{ secret: "c2hvcnQ", backends }, "secret"],
    [{ backends }, "secret"],
    [{ secret: SECRET, backends, previousSecrets: ["c2hvcnQ"] }, "previousSecrets"],
    [{ secret: SECRET, backends, previousSecrets: [1] }, "previousSecrets"],
    [{ secret: SECRET, backends: [] }, "backends"],
    [{ secret: SECRET, backends: [{ id: "a" }, { id: "a" }] }, "backends"],
    [{ secret: SECRET, backends: [{ id: "a", weight: 0 }] }, "backends"],
    [{ secret: SECRET, backends: [{ id: "a", wieght: 2 }] }, "backends"],
    [{ secret: SECRET, backends: ["a"] }, "backends"],
    [{ secret: SECRET, backends, ttlSeconds: 0 }, "ttlSeconds"],
    [{ secret: SECRET, backends, ttlSeconds: 10, idleSeconds: 11 }, "idleSeconds"],
    [{ secret: SECRET, backends, cookieName: "bad name" }, "cookieName"],
    [{ secret: SECRET, backends, domain: "example.com" }, "domain"],
    [{ secret: SECRET, backends, mode: "dns" }, "mode"],
    [{ secret: SECRET, backends, failover: "maybe" }, "failover"],
    [{ secret: SECRET, backends, sameSite: "Sometimes" }, "sameSite"],
    [{ secret: SECRET, backends, param: "a&b" }, "param"],
    [{ secret: SECRET, backends, header: "x tenant" }, "header"],
    [{ secret: SECRET, backends, colour: "red" }, undefined],
  ]) {
    assert.equal(settingOf(() => new Affinity(config), JSON.stringify(config)), setting, JSON.stringify(config));
  }
});

test("SessionStore: a value with no JSON form is refused, not read as the default", () => {
  // The store's options cross as JSON, where NaN and Infinity become null and functions vanish.
  const { SessionStore } = createRequire(import.meta.url)("../../target/pkg-store/edge_session.js");
  for (const [config, setting] of [
    [{ keys, idleTimeoutSeconds: NaN }, "idleTimeoutSeconds"],
    [{ keys, absoluteTimeoutSeconds: Infinity }, "absoluteTimeoutSeconds"],
    [{ keys, touchIntervalSeconds: -Infinity }, "touchIntervalSeconds"],
    [{ keys, maxDataBytes: Number("16k") }, "maxDataBytes"],
    [{ keys, timeoutMs: NaN }, "timeoutMs"],
    [{ keys, purpose: () => "data" }, "purpose"],
    [{ keys, purpose: Symbol("data") }, "purpose"],
    [{ keys, idleTimeoutSeconds: 0 }, "idleTimeoutSeconds"],
  ]) {
    assert.equal(settingOf(() => new SessionStore(config), String(Object.values(config)[1])), setting);
  }
  // Left out, undefined or null: the default.
  assert.ok(new SessionStore({ keys, idleTimeoutSeconds: undefined, maxDataBytes: null }));
});

test("SessionStore: the setting of an option of the wrong type, never its value", () => {
  const { SessionStore } = createRequire(import.meta.url)("../../target/pkg-store/edge_session.js");
  for (const [config, setting] of [
    [{ keys, idleTimeoutSeconds: "60" }, "idleTimeoutSeconds"],
    [{ keys, absoluteTimeoutSeconds: -1 }, "absoluteTimeoutSeconds"],
    [{ keys, touchIntervalSeconds: 1.5 }, "touchIntervalSeconds"],
    [{ keys, maxDataBytes: "16k" }, "maxDataBytes"],
    [{ keys, purpose: 5 }, "purpose"],
    [{ keys, timeoutMs: "a" }, "timeoutMs"],
    [{ keys, cookieName: 5 }, "cookieName"],
    [{}, "keys"],
    [{ keys: SECRET }, "keys"],
    [{ keys: [SECRET] }, "keys"],
    [{ keys: [{ id: "k1" }] }, "keys"],
    [{ keys: [{ id: "k1", secret: SECRET, extra: 1 }] }, "keys"],
    [{ keys, idleTimeoutSecond: 5 }, undefined],
  ]) {
    const what = JSON.stringify(config);
    assert.equal(settingOf(() => new SessionStore(config), what), setting, what);
    try {
      new SessionStore(config);
    } catch (e) {
      assert.ok(!e.message.includes(SECRET), `${what}: ${e.message}`);
    }
  }
  // The message says what the option must be, by its kind, in the words of the other classes.
  for (const [config, expected] of [
    [{ keys: SECRET }, "keys must be an array"],
    [{ keys, purpose: 5 }, "purpose must be a string"],
    [{ keys, timeoutMs: "a" }, "timeoutMs must be a number"],
    [{ keys, timeoutMs: 0 }, "timeoutMs must be a whole number of milliseconds, 1 to 2147483647"],
    [{ keys, timeoutMs: 2 ** 31 }, "timeoutMs must be a whole number of milliseconds, 1 to 2147483647"],
    [{ keys, timeoutMs: 2 ** 32 }, "timeoutMs must be a whole number of milliseconds, 1 to 2147483647"],
    [{ keys, maxDataBytes: "16k" }, "maxDataBytes must be a number"],
    [{ keys, maxDataBytes: 1.5 }, "maxDataBytes must be a whole, non-negative number"],
  ]) {
    assert.throws(() => new SessionStore(config), (e) => e.message.includes(expected), JSON.stringify(config));
  }
});

test("a configuration that is no object is invalid_config for every class, SessionStore's too", () => {
  // new SessionStore(env.MISSING) threw a TypeError ("Reflect.get called on non-object").
  const { SessionStore } = createRequire(import.meta.url)("../../target/pkg-store/edge_session.js");
  for (const Class of [SessionTokens, SealedTokens, Affinity, SessionStore]) {
    for (const bad of [undefined, null, 5, "keys"]) {
      assert.throws(() => new Class(bad), (e) => e.name === "EdgeSessionError" && e.code === "invalid_config" && /config must be an object/.test(e.message), `${Class.name}(${String(bad)})`);
    }
  }
});

test("SessionStore: a binding given as undefined or null is refused, not the memory store", () => {
  // `kv: env.SESIONS` (a misspelt binding) would otherwise keep sessions in one isolate's memory.
  const { SessionStore } = createRequire(import.meta.url)("../../target/pkg-store/edge_session.js");
  const env = {};
  for (const [config, setting] of [
    [{ keys, kv: env.SESIONS }, "kv"],
    [{ keys, kv: null }, "kv"],
    [{ keys, durableObject: env.SESSION_OBJECT }, "durableObject"],
    [{ keys, durableObject: null }, "durableObject"],
  ]) {
    assert.equal(settingOf(() => new SessionStore(config), "SESIONS"), setting);
  }
  assert.equal(new SessionStore({ keys }).consistency, "strong", "left out: the memory store");
});

/**
 * Each call of a token class that takes options, as [name, (options) => result], on a token
 * (and, for SessionTokens, a JWT of issuer "i" and audience "a") signed at `now`.
 */
function tokenCalls(Tokens, now) {
  const tokens = new Tokens({ keys });
  const token = tokens.sign({ sub: "u" }, { now });
  const jwt = tokens.signJwt?.({ sub: "u" }, { now, issuer: "i", audience: "a" });
  const calls = [
    ["verify", (o) => tokens.verify(token, o)],
    ["verifyDetailed", (o) => tokens.verifyDetailed(token, o)],
    ["refresh", (o) => tokens.refresh(token, o)],
    ["sign", (o) => tokens.sign({ sub: "u" }, o)],
  ];
  if (jwt) {
    calls.push(
      ["verifyJwt", (o) => tokens.verifyJwt(jwt, o)],
      ["verifyJwtDetailed", (o) => tokens.verifyJwtDetailed(jwt, o)],
      ["signJwt", (o) => tokens.signJwt({ sub: "u" }, o)],
    );
  }
  return { tokens, token, jwt, calls };
}

test("options of a call with a name that is none of its options are refused, never ignored", () => {
  for (const Tokens of [SessionTokens, SealedTokens]) {
    const now = 1_800_000_000;
    // A misspelt audience would skip the audience check; jose's clockTolerance would be no leeway.
    const { tokens, token, jwt, calls } = tokenCalls(Tokens, now);
    for (const [name, call] of calls) {
      const what = `${Tokens.name}.${name}`;
      assert.equal(settingOf(() => call({ now, audiance: "a" }), what), undefined, what);
      assert.equal(settingOf(() => call({ now, clockTolerance: 30 }), what), undefined, what);
      try {
        call({ now, audiance: "a" });
      } catch (e) {
        assert.match(e.message, /unknown option "audiance"/, what);
      }
      // A long name may be a secret in the wrong place: refused all the same, never quoted.
      assert.equal(settingOf(() => call({ now, [SECRET]: 1 }), what), undefined, what);
      try {
        call({ now, [SECRET]: 1 });
      } catch (e) {
        assert.ok(!e.message.includes(SECRET), `${what}: ${e.message}`);
      }
    }
    // Every name of each call is known; undefined and null still mean no options.
    assert.equal(tokens.verify(token, { now, issuer: undefined, audience: undefined, minIssuedAt: 0 }).sub, "u");
    assert.equal(tokens.verifyDetailed(token, { now }).claims.sub, "u");
    assert.equal(tokens.refresh(token, { now }), null);
    assert.ok(tokens.sign({ sub: "u" }, { now, ttlSeconds: 60 }));
    if (jwt) {
      assert.equal(tokens.verifyJwt(jwt, { now, issuer: "i", audience: "a", minIssuedAt: () => undefined }).sub, "u");
      assert.ok(tokens.signJwt({ sub: "u" }, { now, ttlSeconds: 60, issuer: "i", audience: "a" }));
    }
  }
});

test("options of a call that are no object are refused, never read as no options", async () => {
  // verifyJwt(jwt, "app") verified without the audience check it was meant to ask for, and
  // route("<Cookie header>") routed every visitor as new: anything but an object was no options.
  const now = Math.floor(Date.now() / 1000); // the clock's: the calls without options read it
  for (const Tokens of [SessionTokens, SealedTokens]) {
    const { calls } = tokenCalls(Tokens, now);
    for (const [name, call] of calls) {
      for (const bad of ["b", now, true, () => ({ now })]) {
        const what = `${Tokens.name}.${name}(…, ${typeof bad})`;
        assert.equal(settingOf(() => call(bad), what), undefined, what);
      }
      // undefined and null are no options.
      assert.ok(call(undefined) !== undefined && call(null) !== undefined, name);
    }
  }
  const affinity = new Affinity({ secret: SECRET, backends });
  assert.equal(settingOf(() => affinity.route("__Host-affinity=x"), "route(string)"), undefined);
  assert.equal(affinity.route(undefined).backend, "a");
  const { SessionStore } = createRequire(import.meta.url)("../../target/pkg-store/edge_session.js");
  const store = new SessionStore({ keys });
  await assert.rejects(store.load(undefined, now), (e) => e.code === "invalid_config" && /must be an object/.test(e.message));
  assert.equal((await store.load(undefined, null)).isNew, true);
});

test("every option of a call that is wrong is named as the error's setting", () => {
  // It was set for some (sameSite, a cookie's path) and not others (now, ttlSeconds, issuer...).
  const now = 1_800_000_000;
  for (const Tokens of [SessionTokens, SealedTokens]) {
    const tokens = new Tokens({ keys });
    const token = tokens.sign({ sub: "u" }, { now });
    const verifies = [
      ["verify", (o) => tokens.verify(token, o)],
      ["verifyDetailed", (o) => tokens.verifyDetailed(token, o)],
      ["refresh", (o) => tokens.refresh(token, o)],
    ];
    const signs = [["sign", (o) => tokens.sign({ sub: "u" }, o)]];
    if (tokens.signJwt) {
      const jwt = tokens.signJwt({ sub: "u" }, { now });
      verifies.push(["verifyJwt", (o) => tokens.verifyJwt(jwt, o)], ["verifyJwtDetailed", (o) => tokens.verifyJwtDetailed(jwt, o)]);
      signs.push(["signJwt", (o) => tokens.signJwt({ sub: "u" }, o)]);
    }
    for (const [name, call] of verifies) {
      for (const [options, setting] of [
        [{ now: -1 }, "now"],
        [{ now: "1800000000" }, "now"],
        [{ now, issuer: 5 }, "issuer"],
        [{ now, audience: ["a"] }, "audience"],
        [{ now, minIssuedAt: "0" }, "minIssuedAt"],
        [{ now, minIssuedAt: -1 }, "minIssuedAt"],
        [{ now, minIssuedAt: () => 1.5 }, "minIssuedAt"],
        [{ now, minIssuedAt: () => "0" }, "minIssuedAt"],
        // Milliseconds (Date.now(), a Date's getTime()) revoked every token, silently.
        [{ now, minIssuedAt: 1.8e12 }, "minIssuedAt"],
        [{ now, minIssuedAt: () => Date.now() }, "minIssuedAt"],
      ]) {
        const what = `${Tokens.name}.${name}(${JSON.stringify(options)})`;
        assert.equal(settingOf(() => call(options), what), setting, what);
      }
    }
    for (const [name, call] of signs) {
      for (const [options, setting] of [
        [{ now: -1 }, "now"],
        // A time no clock tells: exp = now + ttl would pass 2^53 - 1.
        [{ now: 2 ** 53 - 1 }, "now"],
        [{ now, ttlSeconds: "60" }, "ttlSeconds"],
        [{ now, ttlSeconds: 0 }, "ttlSeconds"],
        ...(name === "signJwt" ? [[{ now, issuer: 5 }, "issuer"], [{ now, audience: 5 }, "audience"]] : []),
      ]) {
        const what = `${Tokens.name}.${name}(${JSON.stringify(options)})`;
        assert.equal(settingOf(() => call(options), what), setting, what);
      }
    }
  }
  for (const [options, setting] of [
    [{ maxAge: -1 }, "maxAge"],
    [{ path: 5 }, "path"],
    [{ path: "no-slash" }, "path"],
    [{ domain: 5 }, "domain"],
    [{ domain: "a..b" }, "domain"],
    [{ sameSite: "Sometimes" }, "sameSite"],
    [{ httpOnly: "yes" }, "httpOnly"],
    [{ secure: 1 }, "secure"],
    [{ partitioned: "no" }, "partitioned"],
  ]) {
    const what = JSON.stringify(options);
    assert.equal(settingOf(() => pkg.setCookie("sid", "v", options), `setCookie ${what}`), setting, what);
    if (!("maxAge" in options)) {
      assert.equal(settingOf(() => pkg.clearCookie("sid", options), `clearCookie ${what}`), setting, what);
    }
  }
  for (const [mode, request, setting] of [
    ["cookie", { cookie: 5 }, "cookie"],
    ["url", { url: 5 }, "url"],
    ["url", {}, "url"],
    ["ip", { clientIp: 5 }, "clientIp"],
    ["cookie", { now: -1 }, "now"],
  ]) {
    const affinity = new Affinity({ secret: SECRET, backends, mode });
    assert.equal(settingOf(() => affinity.route(request), `${mode} ${JSON.stringify(request)}`), setting);
  }
  const header = new Affinity({ secret: SECRET, backends, mode: "header", header: "x-tenant" });
  assert.equal(settingOf(() => header.route({ header: 5 }), "header"), "header");
});

test("inherited options are options: an unknown name on the prototype is refused, a known one read", () => {
  // The values were read through the prototype chain but only own names were checked, so a
  // misspelt option inherited (Object.create({ ttlSecond: 5 })) was ignored without a word.
  const now = 1_800_000_000;
  const tokens = new SessionTokens({ keys });
  const token = tokens.sign({ sub: "u" }, { now });
  const unknown = (fn, name, what) =>
    assert.throws(fn, (e) => e.code === "invalid_config" && e.message.includes(`unknown option "${name}"`), what);
  const inheriting = (proto, own) => Object.assign(Object.create(proto), own);
  unknown(() => new SessionTokens(inheriting({ ttlSecond: 5 }, { keys })), "ttlSecond", "SessionTokens");
  unknown(() => new SealedTokens(inheriting({ leeway: 5 }, { keys })), "leeway", "SealedTokens");
  unknown(() => new SessionTokens({ keys: [inheriting({ extra: 1 }, { id: "k1", secret: SECRET })] }), "extra", "keys[]");
  unknown(() => new Affinity(inheriting({ colour: "red" }, { secret: SECRET, backends })), "colour", "Affinity");
  unknown(() => new Affinity({ secret: SECRET, backends: [inheriting({ wieght: 2 }, { id: "a" })] }), "wieght", "backends[]");
  unknown(() => tokens.sign({}, Object.create({ ttlSecond: 5 })), "ttlSecond", "sign");
  unknown(() => tokens.verify(token, inheriting({ audiance: "api" }, { now })), "audiance", "verify");
  unknown(() => tokens.verifyJwt(tokens.signJwt({}, { now }), inheriting({ clockTolerance: 30 }, { now })), "clockTolerance", "verifyJwt");
  unknown(() => pkg.setCookie("sid", "v", Object.create({ maxage: 60 })), "maxage", "setCookie");
  // Known names on the prototype are read, as they always were.
  const short = new SessionTokens(inheriting({ ttlSeconds: 5 }, { keys }));
  assert.equal(short.verify(short.sign({}, { now }), { now }).exp, now + 5);
  assert.equal(tokens.verify(tokens.sign({}, inheriting({ ttlSeconds: 7 }, { now })), { now }).exp, now + 7);
  assert.throws(() => tokens.verify(token, inheriting({ audience: "api" }, { now })), (e) => e.code === "wrong_audience");
  assert.match(pkg.setCookie("sid", "v", Object.create({ maxAge: 60 })), /Max-Age=60/);
  // Names that are not enumerable (a class's getters) are not listed: read, never refused.
  class Options {
    get now() {
      return now;
    }
    get audience() {
      return "api";
    }
  }
  assert.throws(() => tokens.verify(token, new Options()), (e) => e.code === "wrong_audience");
});

test("options whose names cannot be listed throw their error, and the library keeps working", () => {
  // A Proxy whose ownKeys trap throws: the exception must come back through the wasm's own error
  // path. Thrown through the wasm frames instead, each left the wasm's stack pointer moved; about
  // 3,000 of them later every call failed with "memory access out of bounds".
  const tokens = new SessionTokens({ keys });
  const now = 1_800_000_000;
  const token = tokens.sign({ sub: "u" }, { now });
  const boom = new Error("ownKeys");
  const options = new Proxy({ now }, { ownKeys() { throw boom; } });
  for (let i = 0; i < 5_000; i++) {
    assert.throws(() => tokens.verify(token, options), (e) => e === boom, `verify, ${i}`);
    assert.throws(() => tokens.sign({ sub: "u" }, options), (e) => e === boom, `sign, ${i}`);
  }
  assert.equal(tokens.verify(token, { now }).sub, "u");
});

test("a getter of the options that throws is thrown as it is, and the library keeps working", () => {
  // Read through wasm-bindgen's getters, the exception went through the wasm's frames: after a
  // few thousand, every call of the instance failed with "memory access out of bounds".
  const now = 1_800_000_000;
  for (const Tokens of [SessionTokens, SealedTokens]) {
    const tokens = new Tokens({ keys });
    const token = tokens.sign({ sub: "u" }, { now });
    const boom = new Error("getter");
    const throwing = (name) => Object.defineProperty({}, name, { enumerable: true, get() { throw boom; } });
    for (let i = 0; i < 5_000; i++) {
      for (const name of ["now", "issuer", "audience", "minIssuedAt"]) {
        assert.throws(() => tokens.verify(token, throwing(name)), (e) => e === boom, `verify ${name}, ${i}`);
      }
      assert.throws(() => tokens.sign({ sub: "u" }, throwing("ttlSeconds")), (e) => e === boom, `sign, ${i}`);
      if (tokens.signJwt) {
        assert.throws(() => tokens.signJwt({ sub: "u" }, throwing("issuer")), (e) => e === boom, `signJwt, ${i}`);
      }
    }
    assert.equal(tokens.verify(token, { now }).sub, "u");
    // A time that is not a number is refused, not coerced ("60" was read as 60).
    assert.equal(settingOf(() => tokens.verify(token, { now: String(now) }), "now as text"), "now");
    assert.equal(settingOf(() => tokens.sign({ sub: "u" }, { now, ttlSeconds: "60" }), "ttl as text"), "ttlSeconds");
  }
});

test("a configuration whose names or list cannot be read throws that error, and the library keeps working", () => {
  // A Proxy whose ownKeys trap throws, or a list whose elements are read by a trap that throws:
  // listed and read without wasm-bindgen's catch, the exception went through the wasm's frames
  // and left its stack pointer moved: a few thousand later, every call failed.
  const boom = new Error("trap");
  const names = new Proxy({}, { ownKeys() { throw boom; } });
  const list = new Proxy([], { get() { throw boom; } });
  const backends = [{ id: "a" }];
  for (let i = 0; i < 5_000; i++) {
    assert.throws(() => new SessionTokens(names), (e) => e === boom, `SessionTokens, ${i}`);
    assert.throws(() => new SessionTokens({ keys: list }), (e) => e === boom, `keys, ${i}`);
    assert.throws(() => new Affinity(names), (e) => e === boom, `Affinity, ${i}`);
    assert.throws(() => new Affinity({ secret: SECRET, backends: list }), (e) => e === boom, `backends, ${i}`);
    assert.throws(() => new Affinity({ secret: SECRET, backends, previousSecrets: list }), (e) => e === boom, `previousSecrets, ${i}`);
  }
  assert.equal(new SessionTokens({ keys }).verify(new SessionTokens({ keys }).sign({ sub: "u" })).sub, "u");
});

test("a revoked Proxy as a configuration, a key or a list throws its TypeError, and the library keeps working", () => {
  // `Array.isArray` throws on a revoked Proxy. Called without wasm-bindgen's catch, its TypeError
  // went through the wasm's frames and left the stack pointer moved: a few thousand later, every
  // call of the module failed ("unreachable").
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  const isTypeError = (e) => e instanceof TypeError && !("code" in e);
  for (let i = 0; i < 5_000; i++) {
    assert.throws(() => new SessionTokens(revoked), isTypeError, `config, ${i}`);
    assert.throws(() => new SealedTokens({ keys: revoked }), isTypeError, `keys, ${i}`);
    assert.throws(() => new SessionTokens({ keys: [revoked] }), isTypeError, `a key, ${i}`);
    assert.throws(() => new Affinity({ secret: SECRET, backends: [revoked] }), isTypeError, `a backend, ${i}`);
  }
  const tokens = new SessionTokens({ keys });
  assert.equal(tokens.verify(tokens.sign({ sub: "u" })).sub, "u");
});

test("an option given alone, at any value, is never an error naming another option", () => {
  const load = (dir) => createRequire(import.meta.url)(`../../target/${dir}/edge_session.js`);
  const { SessionStore } = load("pkg-store");
  const { DeviceBoundSessions } = load("pkg-dbsc");
  const { OriginAssertions } = load("pkg-assertion");
  const times = ["ttlSeconds", "leewaySeconds", "maxTokenBytes", "refreshAfter", "maxLifetimeSeconds"];
  const classes = [
    [(o) => new SessionTokens({ keys, ...o }), times],
    [(o) => new SealedTokens({ keys, ...o }), times],
    [(o) => new Affinity({ secret: SECRET, backends, ...o }), ["ttlSeconds", "idleSeconds"]],
    [
      (o) => new SessionStore({ keys, ...o }),
      ["idleTimeoutSeconds", "absoluteTimeoutSeconds", "touchIntervalSeconds", "maxDataBytes", "timeoutMs"],
    ],
    [(o) => new DeviceBoundSessions({ keys, ...o }), ["boundSeconds"]],
    [(o) => new OriginAssertions({ alg: "EdDSA", keys, issuer: "https://app.example", ...o }), ["lifetimeSeconds"]],
  ];
  const values = [0, 1, 2, 9, 10, 29, 30, 59, 60, 299, 300, 600, 1800, 3600, 86400, 100000, 604800, 604801, 4294967295, 0.1, 0.5, 0.9];
  const wrong = [];
  for (const [make, names] of classes) {
    make({});
    for (const name of names) {
      for (const value of values) {
        try {
          make({ [name]: value });
        } catch (e) {
          if (e.setting !== name) wrong.push(`${name}: ${value}: ${e.message}`);
        }
      }
    }
  }
  // idleTimeoutSeconds: 1 named touchIntervalSeconds (no interval of at least 1 s is under it).
  assert.deepEqual(wrong, []);
});
