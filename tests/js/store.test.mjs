// SessionStore's boundary in Node, on its memory store, with the library built with the store
// (`wasm-pack build --target nodejs --out-dir target/pkg-store -- --features store`, run by
// `make js-test`); the same store on KV and Durable Objects runs in workerd (tests/e2e/js-store.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { KEYS_1 as keys, NOW, SECRET_2, requireGlue } from "./fixtures.mjs";

const { module: glue, wasm: storeWasm } = requireGlue("../../target/pkg-store/edge_session.js");
const { SessionStore, SessionTokens, handleSessionObject, sessionObjectAlarm } = glue;

/** The `.code` of the error `promise` rejects with (or `fn` throws). */
const rejection = async (fn) => {
  try {
    await fn();
  } catch (e) {
    assert.equal(e.name, "EdgeSessionError", e.message);
    return e.code;
  }
  assert.fail("expected a rejection");
};

test("inherited options are options: an unknown name on the prototype is refused, a known one read", async () => {
  const inheriting = (proto, own) => Object.assign(Object.create(proto), own);
  assert.throws(
    () => new SessionStore(inheriting({ idleTimeoutSecond: 60 }, { keys })),
    (e) => e.code === "invalid_config" && /unknown option "idleTimeoutSecond"/.test(e.message),
  );
  assert.throws(
    () => new SessionStore(inheriting({ idleTimeoutSeconds: 0 }, { keys })),
    (e) => e.code === "invalid_config" && e.setting === "idleTimeoutSeconds",
  );
  assert.throws(() => new SessionStore(inheriting({ kv: undefined }, { keys })), (e) => e.setting === "kv");
  // A key's id and secret too, as the token classes read them (SessionStore's own reader refused
  // them), and the same message for a list that is none.
  const inheritedKeys = keys.map((k) => Object.create(k));
  assert.ok(new SessionStore({ keys: inheritedKeys }));
  assert.ok(new SessionTokens({ keys: inheritedKeys }));
  for (const Class of [SessionStore, SessionTokens]) {
    assert.throws(() => new Class({ keys: null }), (e) => e.setting === "keys" && /keys is required/.test(e.message), Class.name);
    assert.throws(() => new Class({ keys: [{ ...keys[0], note: 1 }] }), (e) => e.setting === "keys" && /unknown option "note"/.test(e.message), Class.name);
  }
  const store = new SessionStore(inheriting({ absoluteTimeoutSeconds: 7200 }, { keys }));
  const session = await store.load(undefined, Object.create({ now: NOW }));
  assert.equal(store.cookieMaxAge(session, { now: NOW }), 7200);
  assert.equal(await rejection(() => store.load(undefined, Object.create({ nwo: NOW }))), "invalid_config");
  assert.equal(await rejection(() => store.update(undefined, () => {}, Object.create({ retry: 1 }))), "invalid_config");
});

test("a configuration's options are read as JavaScript reads them: a class's getters too; a name of no option, __proto__ included, is refused", async () => {
  // Names came from for...in and values were copied one by one: a class's getters (not
  // enumerable) were dropped for the defaults, silently, and a "__proto__" name set a prototype.
  class Settings {
    keys = keys;
    get absoluteTimeoutSeconds() { return 7200; }
    get purpose() { return "admin"; }
  }
  const store = new SessionStore(new Settings());
  const session = await store.load(undefined, { now: NOW });
  assert.equal(store.cookieMaxAge(session, { now: NOW }), 7200);
  session.set("n", 1);
  await store.commit(session, { now: NOW });
  const cookie = store.setCookie(session, { now: NOW }).split(";")[0];
  // Its own purpose: another store of these keys sees nothing of it.
  assert.equal((await new SessionStore({ keys }).load(cookie, { now: NOW })).isNew, true);
  assert.equal((await store.load(cookie, { now: NOW })).get("n"), 1);
  assert.throws(
    () => new SessionStore(Object.defineProperty({ keys }, "idleTimeoutSeconds", { value: "soon" })),
    (e) => e.code === "invalid_config" && e.setting === "idleTimeoutSeconds",
  );
  assert.throws(
    () => new SessionStore(JSON.parse(`{"keys":${JSON.stringify(keys)},"__proto__":{"idleTimeoutSeconds":60}}`)),
    (e) => e.code === "invalid_config" && /unknown option "__proto__"/.test(e.message),
  );
});

test("a binding of another kind, or a timeout no timer can wait, is refused at construction, not a store_unavailable at every call", async () => {
  const kv = memoryKv();
  for (const [config, setting] of [
    [{ kv: "SESSIONS" }, "kv"],
    [{ kv: 5 }, "kv"],
    [{ kv: {} }, "kv"],
    [{ kv: { ...kv, list: undefined } }, "kv"],
    [{ kv: objects().namespace }, "kv"],
    [{ durableObject: "SESSION_OBJECTS" }, "durableObject"],
    [{ durableObject: kv }, "durableObject"],
    // setTimeout fires at once past 2^31 - 1 ms: every call timed out within milliseconds.
    [{ timeoutMs: 2 ** 31 }, "timeoutMs"],
    [{ timeoutMs: 2 ** 32 - 1 }, "timeoutMs"],
    [{ timeoutMs: 0 }, "timeoutMs"],
  ]) {
    assert.throws(() => new SessionStore({ keys, ...config }), (e) => e.code === "invalid_config" && e.setting === setting, JSON.stringify(config));
  }
  const store = new SessionStore({ keys, kv, timeoutMs: 2 ** 31 - 1 });
  const session = await store.load(undefined, { now: NOW });
  session.set("n", 1);
  assert.equal(await store.commit(session, { now: NOW }), "created");
  assert.equal((await store.load(store.setCookie(session, { now: NOW }).split(";")[0], { now: NOW })).get("n"), 1);
  assert.equal(new SessionStore({ keys, durableObject: objects().namespace }).consistency, "strong");
});

test("a config value without a JSON form (a BigInt, a throwing toJSON, a cycle) names the option at fault, as for a value of the wrong type", () => {
  const cycle = {};
  cycle.self = cycle;
  for (const [config, setting, message] of [
    [{ keys, ttlSeconds: 3600n }, undefined, /unknown option "ttlSeconds"/],
    [{ keys, idleTimeoutSeconds: 3600n }, "idleTimeoutSeconds", /idleTimeoutSeconds must be a number/],
    [{ keys, purpose: { toJSON: () => { throw new Error("no"); } } }, "purpose", /purpose must be a string/],
    [{ keys, mine: cycle }, undefined, /unknown option "mine"/],
  ]) {
    assert.throws(() => new SessionStore(config), (e) => e.code === "invalid_config" && e.setting === setting && message.test(e.message), String(message));
  }
});

test("a method given something other than a Session throws a TypeError, not a plain Error", async () => {
  // wasm-bindgen's glue threw `new Error("expected instance of Session")`; README promises a
  // TypeError for an argument of the wrong type.
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  const calls = [
    ["commit", (s) => store.commit(s, { now: NOW })],
    ["regenerate", (s) => store.regenerate(s, { now: NOW })],
    ["destroy", (s) => store.destroy(s, { now: NOW })],
    ["cookieMaxAge", (s) => store.cookieMaxAge(s, { now: NOW })],
    ["setCookie", (s) => store.setCookie(s, { now: NOW })],
    ["applyCookies", (s) => store.applyCookies(new Response(), s, { now: NOW })],
  ];
  for (const [name, call] of calls) {
    for (const bad of [{}, undefined, null, "sid", store, { ...session }]) {
      assert.throws(() => call(bad), (e) => e instanceof TypeError && !("code" in e) && /Session/.test(e.message), `${name}(${String(bad)})`);
    }
  }
  // A Session still works.
  assert.equal(await store.commit(session, { now: NOW }), "unchanged");
});

test("a cookie source or a subject of the wrong type is invalid_config, not a TypeError (README)", async () => {
  const store = new SessionStore({ keys });
  for (const bad of [42, {}, true]) {
    assert.equal(await rejection(() => store.load(bad, { now: NOW })), "invalid_config", `load(${String(bad)})`);
    assert.equal(await rejection(() => store.find(bad, { now: NOW })), "invalid_config", `find(${String(bad)})`);
    assert.equal(await rejection(() => store.update(bad, () => {}, { now: NOW })), "invalid_config", `update(${String(bad)})`);
    assert.equal(await rejection(() => store.revokeSubject(bad)), "invalid_config", `revokeSubject(${String(bad)})`);
    assert.equal(await rejection(() => store.revokeTokens(bad, 60, { now: NOW })), "invalid_config", `revokeTokens(${String(bad)})`);
    assert.equal(await rejection(() => store.minIssuedAt(bad)), "invalid_config", `minIssuedAt(${String(bad)})`);
    assert.equal(await rejection(() => store.endToken(bad, 60, { now: NOW })), "invalid_config", `endToken(${String(bad)})`);
    assert.equal(await rejection(() => store.tokenEnded(bad)), "invalid_config", `tokenEnded(${String(bad)})`);
  }
});

test("endToken ends one session's tokens at logout: tokenEnded says so, and a minIssuedAt lookup refuses a copy", async () => {
  const { SessionTokens } = glue;
  const store = new SessionStore({ keys });
  const tokens = new SessionTokens({ keys });
  const token = tokens.sign({ sub: "alice", sid: "s-1" }, { now: NOW });
  const other = tokens.sign({ sub: "alice", sid: "s-2" }, { now: NOW });
  // What an app checks on each request: the subject's revocation, and its session's end.
  const minIssuedAt = async (claims) =>
    (await store.tokenEnded(claims.sid)) ? claims.iat + 1 : ((await store.minIssuedAt(claims.sub)) ?? 0);
  const check = async (t) => {
    const claims = tokens.verify(t, { now: NOW + 5 });
    return tokens.verify(t, { now: NOW + 5, minIssuedAt: await minIssuedAt(claims) }).sid;
  };
  assert.equal(await store.tokenEnded("s-1"), false);
  assert.equal(await check(token), "s-1");
  await store.endToken("s-1", 3600, { now: NOW + 1 });
  assert.equal(await store.tokenEnded("s-1"), true);
  assert.equal(await store.tokenEnded("s-2"), false);
  assert.throws(() => tokens.verify(token, { now: NOW + 5, minIssuedAt: NOW + 1 }), (e) => e.code === "revoked");
  assert.equal(await rejection(() => check(token)), "revoked");
  assert.equal(await check(other), "s-2", "the user's other session stands");
  // Ended again, earlier: nothing moves; an empty id, a time in milliseconds, a bad keepSeconds.
  await store.endToken("s-1", 60, { now: NOW });
  assert.equal(await store.tokenEnded("s-1"), true);
  assert.equal(await rejection(() => store.endToken("", 60, { now: NOW })), "malformed");
  assert.equal(await rejection(() => store.tokenEnded("")), "malformed");
  assert.equal(await rejection(() => store.endToken("s-3", 60, { now: NOW * 1000 })), "invalid_config");
  assert.equal(await rejection(() => store.endToken("s-3", -1, { now: NOW })), "invalid_config");
  assert.equal(await rejection(() => store.endToken("s\uD800", 60, { now: NOW })), "invalid_config");
  assert.equal(await store.tokenEnded("s-3"), false);
});

test("a data name is a string of well-formed text: a lone surrogate is refused by set (invalid_claims), as by data =, never taken for another name", async () => {
  // The name went through wasm-bindgen's lossy UTF-8 copy: set("k\uD800") stored "k\uFFFD",
  // which set("k\uDC00") then overwrote and get("k\uDBFF") read.
  const store = new SessionStore({ keys });
  const s = await store.load(undefined, { now: NOW });
  assert.throws(() => { s.data = { "k\uD800": 1 }; }, (e) => e.code === "invalid_claims");
  for (const lone of ["k\uD800", "k\uDC00", "\uDBFF"]) {
    assert.throws(() => s.set(lone, 1), (e) => e.code === "invalid_claims", JSON.stringify(lone));
  }
  s.set("k\uFFFD", "replacement");
  s.set("k\u{1F600}", "emoji");
  assert.equal(s.get("k\uD800"), undefined);
  assert.equal(s.delete("k\uDFFF"), false);
  assert.deepEqual(s.data, { "k\uFFFD": "replacement", "k\u{1F600}": "emoji" });
  assert.equal(s.delete("k\u{1F600}"), true);
  for (const bad of [42, null, undefined, {}, Symbol("x"), new String("k\uFFFD")]) {
    for (const call of [() => s.get(bad), () => s.set(bad, 1), () => s.delete(bad)]) {
      assert.throws(call, (e) => e instanceof TypeError && !("code" in e), String(bad?.toString?.() ?? bad));
    }
  }
  assert.deepEqual(s.data, { "k\uFFFD": "replacement" });
});

test("a value no store value can hold is refused with why: by set and data = for a lone surrogate or 128 levels, by commit for data nested past 127", async () => {
  const store = new SessionStore({ keys, kv: memoryKv() });
  const nested = (levels) => { let v = 1; for (let i = 0; i < levels; i++) v = [v]; return v; };
  const why = /nests arrays and objects 128 deep or more, or holds a lone surrogate/;
  const s = await store.load(undefined, { now: NOW });
  for (const value of ["a\uD800", { "\uDC00": 1 }, nested(128)]) {
    assert.throws(() => s.set("x", value), (e) => e.code === "invalid_claims" && why.test(e.message));
    assert.throws(() => { s.data = { x: value }; }, (e) => e.code === "invalid_claims" && why.test(e.message));
  }
  // 127 levels in a value are 128 with the data object: taken by set, refused by commit, which
  // writes nothing a load could not read back.
  s.set("x", nested(127));
  assert.equal(await rejection(() => store.commit(s, { now: NOW })), "invalid_claims");
  s.set("x", nested(126));
  assert.equal(await store.commit(s, { now: NOW }), "created");
});

test("withheldFrom: a cross-site request a browser sends without the store's cookie, by sameSite and method", () => {
  const request = (method, site, cookie) => {
    const headers = new Headers(site ? { "sec-fetch-site": site } : {});
    if (cookie) headers.set("cookie", cookie);
    return new Request("https://app.example/x", { method, headers });
  };
  for (const [sameSite, method, site, cookie, withheld] of [
    ["Lax", "POST", "cross-site", undefined, true],
    ["Lax", "put", "cross-site", undefined, true],
    ["Lax", "GET", "cross-site", undefined, false],
    ["Lax", "HEAD", "cross-site", undefined, false],
    ["Lax", "POST", "same-site", undefined, false],
    ["Lax", "POST", "same-origin", undefined, false],
    ["Lax", "POST", undefined, undefined, false],
    ["Lax", "POST", "cross-site", "theme=dark", true],
    ["Lax", "POST", "cross-site", "__Host-sid=x", false],
    ["Strict", "GET", "cross-site", undefined, true],
    ["Strict", "GET", "none", undefined, false],
    ["None", "POST", "cross-site", undefined, false],
  ]) {
    const store = new SessionStore({ keys, cookieOptions: { sameSite } });
    const what = `${sameSite} ${method} ${site} ${cookie}`;
    assert.equal(store.withheldFrom(request(method, site, cookie)), withheld, what);
  }
  const store = new SessionStore({ keys });
  for (const wrong of [undefined, null, "__Host-sid=x", new Headers(), { method: "POST" }]) {
    assert.throws(() => store.withheldFrom(wrong), { name: "EdgeSessionError", code: "invalid_config" }, String(wrong));
  }
});

test("an idle timeout given alone moves the defaults it would break, as at the gateway", async () => {
  // idleTimeoutSeconds: 60 alone was refused for touchIntervalSeconds (default 60, which must be
  // under it), and 100000 alone for absoluteTimeoutSeconds (default 86400): options never given.
  const short = new SessionStore({ keys, idleTimeoutSeconds: 60 });
  const session = await short.load(undefined, { now: NOW });
  session.set("n", 1);
  assert.equal(await short.commit(session, { now: NOW }), "created");
  const setCookie = short.setCookie(session, { now: NOW });
  assert.match(setCookie, /; Max-Age=86400;/);
  const cookie = new Headers({ cookie: setCookie.split(";")[0] });
  // Touched at most every 30 s (half the idle timeout), so the session lives on while visited.
  const at = async (t) => {
    const s = await short.load(cookie, { now: NOW + t });
    return [s.isNew, await short.commit(s, { now: NOW + t })];
  };
  assert.deepEqual(await at(29), [false, "unchanged"]);
  assert.deepEqual(await at(30), [false, "touched"]);
  assert.deepEqual(await at(89), [false, "touched"]);
  assert.equal((await short.load(cookie, { now: NOW + 150 })).isNew, true, "ended 60 s after its last touch");
  const long = new SessionStore({ keys, idleTimeoutSeconds: 100_000 });
  const kept = await long.load(undefined, { now: NOW });
  kept.set("n", 1);
  await long.commit(kept, { now: NOW });
  assert.equal(long.cookieMaxAge(kept, { now: NOW }), 100_000, "the absolute timeout is the idle one");
  // Given, they are checked as before.
  assert.throws(() => new SessionStore({ keys, idleTimeoutSeconds: 60, touchIntervalSeconds: 60 }), (e) => e.setting === "touchIntervalSeconds");
  assert.throws(() => new SessionStore({ keys, idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 59 }), (e) => e.setting === "absoluteTimeoutSeconds");
});

test("an option of a call that is wrong is named as the error's setting", async () => {
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  const settingOf = async (fn, what) => {
    try {
      await fn();
    } catch (e) {
      assert.equal(e.code, "invalid_config", `${what}: ${e.message}`);
      return e.setting;
    }
    assert.fail(`${what}: did not throw`);
  };
  for (const [what, call, setting] of [
    ["load", () => store.load(undefined, { now: -1 }), "now"],
    ["find", () => store.find("x", { now: "now" }), "now"],
    ["commit", () => store.commit(session, { now: 1.5 }), "now"],
    ["regenerate", () => store.regenerate(session, { now: -1 }), "now"],
    ["destroy", () => store.destroy(session, { now: -1 }), "now"],
    ["setCookie", () => store.setCookie(session, { now: -1 }), "now"],
    ["cookieMaxAge", () => store.cookieMaxAge(session, { now: -1 }), "now"],
    ["revokeTokens", () => store.revokeTokens("alice", 60, { now: -1 }), "now"],
    ["endToken", () => store.endToken("s", 60, { now: -1 }), "now"],
    ["endToken keepSeconds", () => store.endToken("s", 1.5, { now: NOW }), "keepSeconds"],
    ["update", () => store.update(undefined, () => {}, { retries: -1 }), "retries"],
    ["update (positional)", () => store.update(undefined, () => {}, 1.5), "retries"],
    ["update now", () => store.update(undefined, () => {}, { now: -1 }), "now"],
    ["cookieOptions", () => new SessionStore({ keys, cookieOptions: "Lax" }), "cookieOptions"],
    ["cookieOptions.sameSite", () => new SessionStore({ keys, cookieOptions: { sameSite: "x" } }), "sameSite"],
    ["kv and durableObject", () => new SessionStore({ keys, kv: {}, durableObject: {} }), "kv"],
  ]) {
    assert.equal(await settingOf(call, what), setting, what);
  }
});

test("subjects with a lone surrogate are refused: they would be one subject with U+FFFD", async () => {
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  session.set("cart", 1);
  session.subject = "bob\uFFFD";
  await store.commit(session, { now: NOW });
  await store.revokeTokens("bob\uFFFD", 3600, { now: NOW });
  for (const subject of ["bob\uD800", "bob\uDC00"]) {
    assert.equal(await rejection(() => store.revokeSubject(subject)), "invalid_config");
    assert.equal(await rejection(() => store.revokeTokens(subject, 3600, { now: NOW + 5 })), "invalid_config");
    assert.equal(await rejection(() => store.minIssuedAt(subject)), "invalid_config");
    assert.equal(await rejection(() => (session.subject = subject)), "invalid_config");
  }
  assert.equal(session.subject, "bob\uFFFD");
  assert.equal(await store.minIssuedAt("bob\uFFFD"), NOW);
  assert.equal(await store.revokeSubject("bob\uFFFD"), 1);
  session.subject = undefined;
  assert.equal(session.subject, undefined);
});

/**
 * A Durable Object namespace in memory whose objects are the library's own
 * (handleSessionObject), each with its storage, serving one request at a time; `failOnce(name, op)`
 * makes that object's next request of that op fail as a reset object does. `storage(name)` is an
 * object's storage, which keeps what its alarm was last set for (`alarm`, in milliseconds) and how
 * many entries its lists have read (`listed`; a list reads at most its `limit`).
 */
const objects = () => {
  const storages = new Map();
  const failing = new Map();
  const storage = (name) => {
    if (!storages.has(name)) {
      const m = new Map();
      const s = {
        alarm: undefined,
        listed: 0,
        get: async (k) => m.get(k),
        put: async (k, v) => void m.set(k, v),
        delete: async (k) => m.delete(k),
        list: async ({ prefix = "", limit = Infinity } = {}) => {
          const found = [...m].filter(([k]) => k.startsWith(prefix)).sort().slice(0, limit);
          s.listed += found.length;
          return new Map(found);
        },
        deleteAll: async () => m.clear(),
        setAlarm: async (ms) => void (s.alarm = ms),
      };
      storages.set(name, s);
    }
    return storages.get(name);
  };
  // One request at a time per object, as a Durable Object's input gate delivers no other
  // while its storage work is under way: the compare-and-set of a save is atomic there.
  const queues = new Map();
  const serve = async (id, url, init) => {
    if (failing.get(id) === JSON.parse(init.body).op) {
      failing.delete(id);
      throw new Error("Durable Object reset because its code was updated");
    }
    return handleSessionObject(storage(id), new Request(url, init));
  };
  const namespace = {
    idFromName: (name) => name,
    get: (id) => ({
      fetch: (url, init) => {
        const turn = (queues.get(id) ?? Promise.resolve()).then(() => serve(id, url, init));
        queues.set(id, turn.catch(() => {}));
        return turn;
      },
    }),
  };
  const names = () => [...storages.keys()];
  return { namespace, names, storage, failOnce: (name, op) => failing.set(name, op) };
};

/** A Workers KV namespace in memory (get, put, delete, list); `onPut` sees each put's options. */
const memoryKv = (onPut = () => {}) => {
  const m = new Map();
  return {
    get: async (k) => m.get(k) ?? null,
    put: async (k, v, options) => void (m.set(k, v), onPut(options)),
    delete: async (k) => void m.delete(k),
    list: async ({ prefix = "" } = {}) => ({ keys: [...m.keys()].filter((k) => k.startsWith(prefix)).map((name) => ({ name })), list_complete: true }),
  };
};

test("KV: a page's requests touching its session at once all succeed, though KV takes one write a second per key", async () => {
  // KV's binding throws this for a second write to a key within a second.
  const kv = memoryKv();
  const last = new Map();
  const put = kv.put;
  kv.put = async (k, v, options) => {
    if (Date.now() - (last.get(k) ?? -Infinity) < 1000) throw new Error("KV PUT failed: 429 Too Many Requests");
    last.set(k, Date.now());
    return put(k, v, options);
  };
  const store = new SessionStore({ keys, kv });
  const session = await store.load(undefined, { now: NOW });
  session.set("cart", ["book"]);
  assert.equal(await store.commit(session, { now: NOW }), "created");
  last.clear(); // the create's second has passed
  // Ten minutes on, the session is due for its touch: four requests of a page load it at once.
  const page = await Promise.all([1, 2, 3, 4].map(() => store.load(session.cookie, { now: NOW + 600 })));
  const commits = await Promise.all(page.map((s) => store.commit(s, { now: NOW + 600 })));
  assert.deepEqual(commits.toSorted(), ["touched", "unchanged", "unchanged", "unchanged"]);
  assert.equal((await store.find(session.cookie, { now: NOW + 600 })).touched, NOW + 600);
  // A change in that second is refused, and says so: it would be lost.
  page[1].set("n", 1);
  assert.equal(await rejection(() => store.commit(page[1], { now: NOW + 600 })), "store_unavailable");
});

test("Durable Objects: a revocation that fails part-way is retried until every session is gone", async () => {
  const { namespace, names, failOnce } = objects();
  const store = new SessionStore({ keys, durableObject: namespace });
  const cookies = [];
  for (const device of ["phone", "laptop"]) {
    const s = await store.load(undefined, { now: NOW });
    s.set("device", device);
    s.subject = "alice";
    await store.commit(s, { now: NOW });
    cookies.push(s.cookie);
  }
  // One session object fails to delete: the revocation fails, and says so.
  failOnce(names().filter((n) => n.startsWith("s:"))[1], "delete");
  assert.equal(await rejection(() => store.revokeSubject("alice")), "store_unavailable");
  // The retry finds the session left (it stayed linked) and ends it.
  assert.equal(await store.revokeSubject("alice"), 1);
  for (const cookie of cookies) assert.equal(await store.find(cookie, { now: NOW + 10 }), undefined);
  assert.equal(await store.revokeSubject("alice"), 0);
});

test("Durable Objects: a subject of more sessions than an invocation may call objects is revoked over a few tries, a batch at a time", async () => {
  const { namespace } = objects();
  // Each revokeSubject is one invocation, allowed 50 object calls (the Free plan's subrequests).
  let budget = Infinity;
  let inFlight = 0;
  let most = 0;
  const limited = {
    idFromName: namespace.idFromName,
    get: (id) => ({
      fetch: async (url, init) => {
        if (budget-- <= 0) throw new Error("Too many subrequests.");
        most = Math.max(most, ++inFlight);
        try {
          return await namespace.get(id).fetch(url, init);
        } finally {
          inFlight--;
        }
      },
    }),
  };
  const store = new SessionStore({ keys, durableObject: limited });
  const cookies = [];
  for (let i = 0; i < 100; i++) {
    const s = await store.load(undefined, { now: NOW });
    s.set("n", i);
    s.subject = "alice";
    await store.commit(s, { now: NOW });
    cookies.push(s.cookie);
  }
  let tries = 0;
  for (;;) {
    budget = 50;
    most = 0;
    tries += 1;
    try {
      await store.revokeSubject("alice");
      break;
    } catch (e) {
      assert.equal(e.code, "store_unavailable", e.message);
    }
    // Deleting all 100 at once, then unlinking them, each try failed at the same place with
    // nothing unlinked: the next try did the same, forever.
    assert.ok(tries < 10, "the revocation makes no progress from one try to the next");
  }
  assert.equal(tries, 3);
  assert.ok(most <= 32, `${most} object calls at once`);
  budget = Infinity;
  for (const cookie of cookies) assert.equal(await store.find(cookie, { now: NOW + 10 }), undefined);
});

test("Durable Objects: a session object's alarm is set, in milliseconds, for the second past its expiry, and ends it once that has passed, not before", async () => {
  const { namespace, names, storage } = objects();
  const store = new SessionStore({ keys, durableObject: namespace });
  // The alarm runs on the runtime's clock: one session live now, one that expired a day ago.
  const clock = Math.floor(Date.now() / 1000);
  const [live, old] = [clock, clock - 2 * 86400];
  const cookies = [];
  for (const now of [live, old]) {
    const s = await store.load(undefined, { now });
    s.set("n", 1);
    await store.commit(s, { now });
    cookies.push(s.cookie);
  }
  const objectsOf = names().map(storage);
  for (const object of objectsOf) {
    const { x } = JSON.parse(await object.get("entry"));
    assert.equal(object.alarm, (x + 1) * 1000);
    await sessionObjectAlarm(object);
  }
  assert.equal((await store.find(cookies[0], { now: live }))?.get("n"), 1);
  assert.equal(await store.find(cookies[1], { now: old }), undefined);
});

test("Durable Objects: a login reads at most 32 of its user's links, however many sessions they have", async () => {
  const { namespace, names, storage } = objects();
  const store = new SessionStore({ keys, durableObject: namespace });
  const login = async () => {
    const s = await store.load(undefined, { now: NOW });
    s.subject = "alice";
    await store.commit(s, { now: NOW });
  };
  for (let i = 0; i < 40; i++) await login();
  const user = storage(names().find((n) => n.startsWith("u:")));
  const before = user.listed;
  await login();
  assert.ok(user.listed - before <= 32, `${user.listed - before} links read`);
  // Revoked, every session goes: the revocation lists them all.
  assert.equal(await store.revokeSubject("alice"), 41);
});

test("Durable Objects: an update whose commit meets a conflict waits a moment (a setTimeout of less than 2 ms) before it tries again", async () => {
  const store = new SessionStore({ keys, durableObject: objects().namespace });
  const { cookie } = await store.update(undefined, (s) => s.set("n", 0), { now: NOW });
  const waits = [];
  const setTimeout = globalThis.setTimeout;
  globalThis.setTimeout = (f, ms, ...rest) => (waits.push(ms), setTimeout(f, ms, ...rest));
  let tries = 0;
  let updated;
  try {
    updated = await store.update(cookie, async (s) => {
      // The first try's session changes under it: its commit is a conflict.
      if (tries++ === 0) await store.update(cookie, (other) => other.set("other", 1), { now: NOW });
      s.set("n", s.get("n") + 1);
    }, { now: NOW });
  } finally {
    globalThis.setTimeout = setTimeout;
  }
  assert.equal(tries, 2);
  assert.deepEqual([updated.get("n"), updated.get("other")], [1, 1]);
  // Besides each object call's time limit (5 s), one wait before the second try: up to 2^1 ms.
  const backoffs = waits.filter((ms) => ms !== 5000);
  assert.equal(backoffs.length, 1, `${waits}`);
  assert.ok(backoffs[0] < 2, `${waits}`);
});

test("update gives up on conflict after its retries: { retries: n } tries n + 1 times (default 10 more), then rejects with conflict", async () => {
  const store = new SessionStore({ keys });
  const { cookie } = await store.update(undefined, (s) => s.set("n", 0), { now: NOW });
  let writes = 0;
  /** How `update` with these options ends, and how many tries it made, when each of its first 20 tries' session changes under it. */
  const outcome = async (...options) => {
    let tries = 0;
    const change = async (s) => {
      if (tries++ < 20) await store.update(cookie, (other) => other.set("other", ++writes), { retries: 0, now: NOW });
      s.set("n", tries);
    };
    const result = await store.update(cookie, change, ...options).then(() => "committed", (e) => e.code);
    return [result, tries];
  };
  assert.deepEqual(await outcome({ retries: 0, now: NOW }), ["conflict", 1]);
  assert.deepEqual(await outcome({ retries: 2, now: NOW }), ["conflict", 3]);
  assert.deepEqual(await outcome(3, { now: NOW }), ["conflict", 4], "the positional form");
  assert.deepEqual(await outcome({ now: NOW }), ["conflict", 11], "the default");
  assert.deepEqual(await outcome({ retries: 30, now: NOW }), ["committed", 21], "a try after the last conflict commits");
});

test("KV keeps a session through its last valid second, as the memory store and Durable Objects do", async () => {
  const puts = [];
  const kv = memoryKv((options) => puts.push(options?.expirationTtl));
  const store = new SessionStore({ keys, kv, idleTimeoutSeconds: 600 });
  const session = await store.load(undefined, { now: NOW });
  session.set("cart", 1);
  await store.commit(session, { now: NOW });
  // Valid through NOW + 600 (gone at NOW + 601): KV must not drop it before.
  assert.ok((await store.find(session.cookie, { now: NOW + 600 })) !== undefined);
  assert.equal(await store.find(session.cookie, { now: NOW + 601 }), undefined);
  assert.deepEqual(puts, [601]);
});

/** What `fn` throws or its promise rejects with. */
const thrownBy = async (fn) => {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected a throw or a rejection");
};

test("call options, cookie sources and responses whose getter (or Proxy) throws: thrown as they are, and the store keeps working", async () => {
  // Read through wasm-bindgen's getters, the exception went through the wasm's frames and left
  // its stack pointer moved: a few thousand later, every call failed with "memory access out of
  // bounds". `update`'s options were read with the exception swallowed (its default retries).
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  session.set("a", 1);
  await store.commit(session, { now: NOW });
  const boom = new Error("getter");
  const throwing = (name) => Object.defineProperty({}, name, { enumerable: true, get() { throw boom; } });
  const proxy = new Proxy({}, { get() { throw boom; }, ownKeys() { throw boom; } });
  const response = new Response("x");
  const change = () => {};
  const calls = [
    ["load", (o) => store.load(undefined, o)],
    ["find", (o) => store.find(session.cookie, o)],
    ["commit", (o) => store.commit(session, o)],
    ["regenerate", (o) => store.regenerate(session, o)],
    ["revokeTokens", (o) => store.revokeTokens("s", 60, o)],
    ["endToken", (o) => store.endToken("s", 60, o)],
    ["cookieMaxAge", (o) => store.cookieMaxAge(session, o)],
    ["setCookie", (o) => store.setCookie(session, o)],
    ["applyCookies", (o) => store.applyCookies(response, session, o)],
    ["update", (o) => store.update(undefined, change, o)],
    ["update, positional", (o) => store.update(undefined, change, 1, o)],
  ];
  for (let i = 0; i < 5_000; i++) {
    for (const [name, call] of calls) {
      assert.equal(await thrownBy(() => call(throwing("now"))), boom, `${name}, ${i}`);
      assert.equal(await thrownBy(() => call(proxy)), boom, `${name} Proxy, ${i}`);
    }
    assert.equal(await thrownBy(() => store.update(undefined, change, throwing("retries"))), boom, `update retries, ${i}`);
    assert.equal(await thrownBy(() => store.load(throwing("headers"))), boom, `load's cookie source, ${i}`);
    assert.equal(await thrownBy(() => store.clearCookies(throwing("headers"))), boom, `clearCookies, ${i}`);
  }
  assert.equal((await store.find(session.cookie, { now: NOW + 1 })).get("a"), 1);
});

test("a freed store or Session (free(), Symbol.dispose) throws a TypeError, and the store keeps working", async () => {
  // wasm-bindgen's error for a freed instance's null pointer went through the wasm's frames: each
  // call left its stack pointer moved, and some 20,000 later every call of the module failed.
  const store = new SessionStore({ keys });
  const freed = await store.load(undefined, { now: NOW });
  freed.free();
  const freedStore = new SessionStore({ keys });
  freedStore.free();
  const calls = [
    () => store.commit(freed, { now: NOW }),
    () => store.setCookie(freed, { now: NOW }),
    () => freed.set("a", 1),
    () => freed.data,
    () => freedStore.load(undefined, { now: NOW }),
    () => freedStore.clearCookie(),
  ];
  for (let i = 0; i < 30_000; i++) {
    assert.throws(calls[i % calls.length], TypeError, `${i}`);
    freed.free();
    freedStore[Symbol.dispose]?.();
  }
  const session = await store.load(undefined, { now: NOW });
  session.set("a", 1);
  assert.equal(await store.commit(session, { now: NOW }), "created");
  assert.equal((await store.find(session.cookie, { now: NOW + 1 })).get("a"), 1);
});

test("call options with a name that is none of their options are refused, never ignored", async () => {
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  const change = (s) => s.set("n", 1);
  const refused = [
    ["load", () => store.load(undefined, { nwo: NOW })],
    ["find", () => store.find("x", { nwo: NOW })],
    ["find, no cookie", () => store.find(undefined, { nwo: NOW })],
    ["commit", () => store.commit(session, { now: NOW, force: true })],
    ["regenerate", () => store.regenerate(session, { nwo: NOW })],
    ["destroy", () => store.destroy(session, { nwo: NOW })],
    ["revokeTokens", () => store.revokeTokens("s", 60, { nwo: NOW })],
    ["endToken", () => store.endToken("s", 60, { nwo: NOW })],
    ["cookieMaxAge", () => store.cookieMaxAge(session, { nwo: NOW })],
    ["setCookie", () => store.setCookie(session, { now: NOW, maxAge: 60 })],
    ["applyCookies", () => store.applyCookies(new Response("x"), session, { nwo: NOW })],
    // A misspelt retries was the default 10.
    ["update", () => store.update(undefined, change, { now: NOW, retry: 0 })],
    ["update, positional", () => store.update(undefined, change, 1, { nwo: NOW })],
  ];
  for (const [name, call] of refused) {
    const e = await thrownBy(call);
    assert.equal(e.code, "invalid_config", `${name}: ${e}`);
    assert.match(e.message, /unknown option "(nwo|force|maxAge|retry)"/, name);
  }
  const long = "x".repeat(40);
  assert.ok(!(await thrownBy(() => store.load(undefined, { [long]: 1 }))).message.includes(long));
  // Options that are not an object were ignored: `load(cookie, now)` read the clock instead.
  const notObjects = [
    ["load", () => store.load(undefined, NOW)],
    ["find", () => store.find("x", NOW)],
    ["commit", () => store.commit(session, NOW)],
    ["regenerate", () => store.regenerate(session, String(NOW))],
    ["destroy", () => store.destroy(session, NOW)],
    ["cookieMaxAge", () => store.cookieMaxAge(session, NOW)],
    ["update, positional", () => store.update(undefined, change, 1, NOW)],
  ];
  for (const [name, call] of notObjects) {
    const e = await thrownBy(call);
    assert.equal(e.code, "invalid_config", `${name}: ${e}`);
    assert.match(e.message, /options must be an object/, name);
  }
  // Options, and a `{ now }` after them as the older positional form takes it: the second was
  // ignored without a word, and the clock read instead of the time given.
  for (const after of [{ now: NOW }, NOW, "x"]) {
    const e = await thrownBy(() => store.update(undefined, change, { retries: 0 }, after));
    assert.equal(e.code, "invalid_config", `${after}: ${e}`);
    assert.match(e.message, /now goes in the options/, String(after));
  }
  assert.equal((await store.update(undefined, change, { retries: 0 }, undefined)).get("n"), 1);
  assert.equal((await store.update(undefined, change, undefined, { now: NOW })).get("n"), 1);
  // Every name of each call is known.
  assert.equal((await store.update(undefined, change, { now: NOW, retries: 0 })).get("n"), 1);
  assert.equal((await store.update(undefined, change, 0, { now: NOW })).get("n"), 1);
  assert.equal(typeof store.cookieMaxAge(session, { now: NOW }), "number");
});

test("a configuration whose names or options cannot be read throws that error, and the store keeps working", () => {
  const boom = new Error("trap");
  const names = new Proxy({ keys }, { ownKeys() { throw boom; } });
  const binding = Object.defineProperty({ keys }, "kv", { enumerable: true, get() { throw boom; } });
  const attributes = new Proxy({}, { get() { throw boom; } });
  for (let i = 0; i < 5_000; i++) {
    assert.throws(() => new SessionStore(names), (e) => e === boom, `ownKeys, ${i}`);
    assert.throws(() => new SessionStore(binding), (e) => e === boom, `kv getter, ${i}`);
    assert.throws(() => new SessionStore({ keys, cookieOptions: attributes }), (e) => e === boom, `cookieOptions, ${i}`);
  }
  assert.equal(new SessionStore({ keys }).consistency, "strong");
});

test("cookieOptions: an attribute it does not know, or maxAge (the store's own), is refused", () => {
  for (const [cookieOptions, message] of [[{ maxAge: 60 }, /maxAge is the store's own/], [{ samesite: "Strict" }, /unknown option "samesite"/]]) {
    assert.throws(() => new SessionStore({ keys, cookieOptions }), (e) => e.code === "invalid_config" && message.test(e.message), message.source);
  }
  assert.equal(new SessionStore({ keys, cookieOptions: { sameSite: "Strict" } }).consistency, "strong");
});

test("update awaits an async change: its changes are committed, and its rejection rejects update", async () => {
  // The change's promise was dropped: update committed the session as it was before the first
  // await (nothing), resolved, and the later changes were lost without a word.
  const store = new SessionStore({ keys });
  const session = await store.update(undefined, async (s) => {
    await null;
    s.set("cart", ["book"]);
  }, { now: NOW });
  assert.deepEqual(session.get("cart"), ["book"]);
  assert.ok(session.cookie, "a new session's cookie");
  assert.deepEqual((await store.find(session.cookie, { now: NOW + 1 })).get("cart"), ["book"]);
  const boom = new Error("async change");
  const failing = async (s) => {
    s.set("half", 1);
    await null;
    throw boom;
  };
  assert.equal(await thrownBy(() => store.update(session.cookie, failing, { now: NOW + 2 })), boom);
  assert.equal((await store.find(session.cookie, { now: NOW + 3 })).get("half"), undefined);
});

test("after destroy the Session is a new, empty one: committing it never brings the ended session back", async () => {
  // The Session kept its id, version and data: committing it afterwards (a middleware that
  // commits every request's session; a touch was due) wrote the ended session back on KV, where
  // its old cookie worked again, and was a conflict on the memory store and Durable Objects; a
  // session created in the request still had its cookie to send.
  const kv = memoryKv();
  for (const [kind, config] of [["memory", {}], ["kv", { kv }], ["durableObject", { durableObject: objects().namespace }]]) {
    const store = new SessionStore({ keys, ...config });
    const created = await store.load(undefined, { now: NOW });
    created.set("cart", ["book"]);
    created.subject = "alice";
    await store.commit(created, { now: NOW });
    const cookie = created.cookie;
    const later = NOW + 120; // past the touch interval
    const session = await store.load(cookie, { now: later });
    await store.destroy(session, { now: later });
    assert.deepEqual(session.data, {}, kind);
    assert.equal(session.subject, undefined, kind);
    assert.ok(session.isNew, kind);
    assert.equal(await store.commit(session, { now: later }), "unchanged", kind);
    assert.equal(store.setCookie(session, { now: later }), undefined, kind);
    assert.equal(await store.find(cookie, { now: later + 1 }), undefined, kind);
    // The one created in this request: no cookie for it goes out.
    await store.destroy(created, { now: later });
    assert.equal(created.cookie, undefined, kind);
    // Something set afterwards is a new session, under a new id.
    session.set("flash", "logged out");
    assert.equal(await store.commit(session, { now: later }), "created", kind);
    assert.notEqual(session.cookie, cookie, kind);
    assert.equal(await store.find(cookie, { now: later + 1 }), undefined, kind);
    // Logout then login in one request, the logout not awaited ('switch user'): the login is a
    // new session, the logged-out one stays ended.
    const bob = await store.load(session.cookie, { now: later });
    const loggedOut = store.destroy(bob, { now: later });
    bob.subject = "bob";
    await Promise.all([loggedOut, store.regenerate(bob, { now: later })]);
    assert.equal(bob.subject, "bob", kind);
    assert.deepEqual(bob.data, {}, kind);
    assert.equal((await store.find(bob.cookie, { now: later + 1 })).subject, "bob", kind);
    assert.equal(await store.find(session.cookie, { now: later + 1 }), undefined, kind);
  }
  // A destroy that fails (neither its end marker nor a delete taken) leaves the Session as it was.
  let down = false;
  const failing = (f) => async (...args) => {
    if (down) throw new Error("KV down");
    return f(...args);
  };
  const store = new SessionStore({ keys, kv: { ...kv, put: failing(kv.put), delete: failing(kv.delete) } });
  const kept = await store.load(undefined, { now: NOW });
  kept.set("cart", 1);
  await store.commit(kept, { now: NOW });
  down = true;
  assert.equal(await rejection(() => store.destroy(kept, { now: NOW })), "store_unavailable");
  assert.equal(kept.get("cart"), 1);
  assert.ok(kept.cookie);
  // Unless the new, empty Session was used meanwhile (a login after the logout): it stays that.
  const used = await store.load(kept.cookie, { now: NOW });
  const failed = rejection(() => store.destroy(used, { now: NOW }));
  used.set("flash", "logged out");
  assert.equal(await failed, "store_unavailable");
  assert.deepEqual(used.data, { flash: "logged out" });
  assert.ok(used.isNew);
});

test("regenerate of a session that ended since it was loaded (a logout, a revocation) is a conflict: it never comes back under a new id", async () => {
  // regenerate wrote the loaded record under a new id without comparing the old one: a request
  // in flight during a logout or "log out everywhere" (a login, a change of privilege) brought
  // the ended session back, with a fresh cookie, on the stores whose logout is final.
  for (const [kind, config] of [["memory", {}], ["durableObject", { durableObject: objects().namespace }]]) {
    for (const end of ["destroy", "revokeSubject"]) {
      const store = new SessionStore({ keys, ...config });
      const session = await store.load(undefined, { now: NOW });
      session.set("cart", ["book"]);
      session.subject = "alice";
      await store.commit(session, { now: NOW });
      const cookie = session.cookie;
      const inFlight = await store.load(cookie, { now: NOW + 1 });
      if (end === "destroy") await store.destroy(await store.load(cookie, { now: NOW + 1 }), { now: NOW + 1 });
      else assert.equal(await store.revokeSubject("alice"), 1);
      inFlight.set("role", "admin");
      assert.equal(await rejection(() => store.regenerate(inFlight, { now: NOW + 2 })), "conflict", `${kind} ${end}`);
      assert.equal(inFlight.cookie, undefined, `${kind} ${end}`);
      assert.equal(await store.find(cookie, { now: NOW + 3 }), undefined, `${kind} ${end}`);
      assert.equal(await store.revokeSubject("alice"), 0, `${kind} ${end}: nothing of alice's came back`);
    }
  }
});

test("a request sent before a login of its browser finds its id renewed: a change it makes is a conflict, never a new session whose cookie would replace the login's", async () => {
  // Its session was a new one, stored with its change: its cookie, sent after the login's,
  // logged the user out of the session just begun (the audit: 18 of 20 logins on Durable
  // Objects with one request sent alongside).
  for (const [kind, config] of [["memory", {}], ["durableObject", { durableObject: objects().namespace }], ["kv", { kv: memoryKv() }]]) {
    const store = new SessionStore({ keys, ...config });
    const session = await store.load(undefined, { now: NOW });
    session.set("cart", ["book"]);
    await store.commit(session, { now: NOW });
    const old = session.cookie;
    const login = await store.load(old, { now: NOW + 1 });
    assert.equal(login.renewed, false, kind);
    login.subject = "alice";
    await store.regenerate(login, { now: NOW + 1 });
    const late = await store.load(old, { now: NOW + 2 });
    assert.ok(late.renewed && late.isNew, kind);
    assert.deepEqual(late.data, {}, kind);
    assert.equal(await store.commit(late, { now: NOW + 2 }), "unchanged", `${kind}: nothing to store`);
    late.set("visits", 1);
    assert.equal(await rejection(() => store.commit(late, { now: NOW + 2 })), "conflict", kind);
    assert.equal(await rejection(() => store.regenerate(late, { now: NOW + 2 })), "conflict", kind);
    assert.equal(store.setCookie(late), undefined, `${kind}: no cookie`);
    let calls = 0;
    const change = (s) => void (calls++, s.set("visits", 1));
    assert.equal(await rejection(() => store.update(old, change, { now: NOW + 2 })), "conflict", kind);
    assert.equal(calls, 1, `${kind}: not tried again`);
    // A login there is a login: a new session of its own.
    const again = await store.load(old, { now: NOW + 2 });
    again.subject = "alice";
    assert.equal(await store.commit(again, { now: NOW + 2 }), "created", kind);
    assert.ok(store.setCookie(again), kind);
    // A minute on, the id names nothing, as an unknown one.
    const gone = await store.load(old, { now: NOW + 63 });
    assert.equal(gone.renewed, false, kind);
    assert.equal((await store.load("unknown", { now: NOW + 2 })).renewed, false, kind);
  }
});

test("a login the store could not link to its user (Durable Objects) can be retried: the session keeps its id and its version", async () => {
  // regenerate claims the old id (compare-and-set) before it stores and links the new one; when
  // the link failed the Session kept the version from before the claim, and every later commit
  // or regenerate of it was a conflict.
  const { namespace, names, failOnce } = objects();
  const store = new SessionStore({ keys, durableObject: namespace });
  const other = await store.load(undefined, { now: NOW });
  other.set("device", "phone");
  other.subject = "alice";
  await store.commit(other, { now: NOW });
  const session = await store.load(undefined, { now: NOW });
  session.set("cart", ["book"]);
  await store.commit(session, { now: NOW });
  const cookie = session.cookie;
  const loaded = await store.load(cookie, { now: NOW + 1 });
  loaded.subject = "alice";
  failOnce(names().find((n) => n.startsWith("u:")), "link");
  assert.equal(await rejection(() => store.regenerate(loaded, { now: NOW + 1 })), "store_unavailable");
  assert.equal(loaded.cookie, undefined);
  assert.deepEqual((await store.find(cookie, { now: NOW + 2 })).get("cart"), ["book"]);
  await store.regenerate(loaded, { now: NOW + 2 });
  assert.notEqual(loaded.cookie, undefined);
  assert.equal(await store.find(cookie, { now: NOW + 3 }), undefined);
  assert.equal(await store.revokeSubject("alice"), 2);
});

test("a value JSON cannot hold is invalid_claims, as StoreErrorCode and docs/store.md say, and the data stays as it was", async () => {
  const { readFileSync } = await import("node:fs");
  const dts = readFileSync(new URL("../../target/pkg-store/edge_session.d.ts", import.meta.url), "utf8");
  assert.match(dts, /type StoreErrorCode = [^;]*"invalid_claims"/);
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  session.set("kept", 1);
  const cycle = {};
  cycle.self = cycle;
  for (const value of [undefined, () => 1, 1n, cycle, Symbol("s")]) {
    assert.equal(await rejection(() => session.set("x", value)), "invalid_claims", String(typeof value));
  }
  for (const data of [[], null, 1, "x", { big: 1n }]) {
    assert.equal(await rejection(() => (session.data = data)), "invalid_claims", typeof data);
  }
  // Why JSON.stringify refused it is named.
  await assert.rejects(async () => session.set("x", 1n), (e) => e.code === "invalid_claims" && /JSON\.stringify threw: .*BigInt/.test(e.message));
  assert.deepEqual(session.data, { kept: 1 });
});

test("a commit of data nested deeper than a load reads is invalid_claims, and the stored session stays as it was", async () => {
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  session.set("cart", ["book"]);
  assert.equal(await store.commit(session, { now: NOW }), "created");
  const cookie = session.cookie;
  const loaded = await store.load(cookie, { now: NOW + 1 });
  // As deep as JSON reads (127 levels), one level under the data: it was "written", and every
  // load of it after was a new, empty session.
  loaded.set("deep", JSON.parse("[".repeat(127) + "]".repeat(127)));
  assert.equal(await rejection(() => store.commit(loaded, { now: NOW + 1 })), "invalid_claims");
  assert.deepEqual((await store.find(cookie, { now: NOW + 2 })).data, { cart: ["book"] });
});

test("session.delete removes a value and says whether it was there", async () => {
  const session = await new SessionStore({ keys }).load(undefined, { now: NOW });
  session.set("cart", ["book"]);
  session.set("theme", "dark");
  assert.equal(session.delete("cart"), true);
  assert.equal(session.delete("cart"), false);
  assert.equal(session.delete("never"), false);
  assert.deepEqual(session.data, { theme: "dark" });
});

test("a Session's version is 0 until stored and one more at every change (a touch keeps it); created stays, touched is its last write", async () => {
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  const times = (s) => [s.version, s.created, s.touched];
  assert.deepEqual(times(session), [0, NOW, NOW]);
  session.set("n", 1);
  await store.commit(session, { now: NOW });
  assert.deepEqual(times(session), [1, NOW, NOW]);
  const later = await store.load(session.cookie, { now: NOW + 100 });
  assert.deepEqual(times(later), [1, NOW, NOW]);
  later.set("n", 2);
  assert.equal(await store.commit(later, { now: NOW + 100 }), "written");
  assert.deepEqual(times(later), [2, NOW, NOW + 100]);
  assert.deepEqual(times(await store.find(session.cookie, { now: NOW + 101 })), [2, NOW, NOW + 100]);
  const idle = await store.load(session.cookie, { now: NOW + 200 });
  assert.equal(await store.commit(idle, { now: NOW + 200 }), "touched");
  assert.deepEqual(times(await store.find(session.cookie, { now: NOW + 201 })), [2, NOW, NOW + 200]);
});

test("load reads its cookie where the runtime joined two Cookie headers (workerd: `, `): up to the join, never after it", async () => {
  const store = new SessionStore({ keys });
  const first = await store.load(undefined, { now: NOW });
  first.set("cart", ["book"]);
  assert.equal(await store.commit(first, { now: NOW }), "created");
  const pair = `__Host-sid=${first.cookie}`;
  const joined = await store.load(new Headers({ cookie: `theme=dark; ${pair}, lang=en` }), { now: NOW + 1 });
  assert.deepEqual(joined.data, { cart: ["book"] });
  // `theme=dark, <pair>` is also a cookie `theme` whose value a subdomain can set: a new session.
  const after = await store.load(new Headers({ cookie: `theme=dark, ${pair}` }), { now: NOW + 1 });
  assert.deepEqual(after.data, {});
});

test("a subject set on a stored session the client knew (a login without regenerate) gives it a new id at commit: no session fixation", async () => {
  // `session.subject = "alice"; await store.commit(session)` kept the id the client (or whoever
  // planted its cookie) already knew: that id became alice's logged-in session.
  const kv = memoryKv();
  for (const [kind, config] of [["memory", {}], ["kv", { kv }], ["durableObject", { durableObject: objects().namespace }]]) {
    const store = new SessionStore({ keys, ...config });
    const anon = await store.load(undefined, { now: NOW });
    anon.set("cart", ["book"]);
    assert.equal(await store.commit(anon, { now: NOW }), "created", kind);
    const planted = anon.cookie;

    const session = await store.load(planted, { now: NOW + 1 });
    session.subject = "alice";
    session.set("role", "member");
    assert.equal(await store.commit(session, { now: NOW + 1 }), "written", kind);
    const header = store.setCookie(session, { now: NOW + 1 });
    assert.match(header, /^__Host-sid=[^;]+; Max-Age=86399; Path=\/; Secure; HttpOnly; SameSite=Lax$/, kind);
    const renewed = header.slice("__Host-sid=".length, header.indexOf(";"));
    assert.notEqual(renewed, planted, kind);
    assert.equal(session.cookie, renewed, kind);
    const response = store.applyCookies(new Response("ok"), session, { now: NOW + 1 });
    assert.deepEqual(response.headers.getSetCookie(), [header], kind);
    assert.equal(await store.find(planted, { now: NOW + 2 }), undefined, `${kind}: the planted cookie no longer loads`);
    const moved = await store.find(renewed, { now: NOW + 2 });
    assert.deepEqual(moved.data, { cart: ["book"], role: "member" }, `${kind}: the data set before is kept`);
    assert.equal(moved.subject, "alice", kind);
    // Committed again: nothing more, and the same cookie.
    assert.equal(await store.commit(session, { now: NOW + 1 }), "unchanged", kind);
    assert.equal(store.setCookie(session, { now: NOW + 1 }), header, kind);

    // update: a change that switches the user renews the id too; the session it resolves to
    // has the cookie to send.
    const switched = await store.update(renewed, (s) => void (s.subject = "bob"), { now: NOW + 3 });
    assert.equal(switched.subject, "bob", kind);
    assert.ok(switched.cookie && switched.cookie !== renewed, kind);
    assert.equal(await store.find(renewed, { now: NOW + 4 }), undefined, kind);
    assert.deepEqual((await store.find(switched.cookie, { now: NOW + 4 })).data, { cart: ["book"], role: "member" }, kind);

    // An explicit regenerate, then commit: one new id, not two.
    const login = await store.load(switched.cookie, { now: NOW + 5 });
    login.subject = "carol";
    await store.regenerate(login, { now: NOW + 5 });
    const regenerated = login.cookie;
    login.set("n", 1);
    assert.equal(await store.commit(login, { now: NOW + 5 }), "written", kind);
    assert.equal(login.cookie, regenerated, kind);
    assert.equal((await store.find(regenerated, { now: NOW + 6 })).get("n"), 1, kind);

    // A new session given a subject keeps its id: nobody knew it.
    const fresh = await store.load(undefined, { now: NOW });
    fresh.subject = "dave";
    assert.equal(await store.commit(fresh, { now: NOW }), "created", kind);
    assert.equal((await store.find(fresh.cookie, { now: NOW + 1 })).subject, "dave", kind);
  }
});

test("revokeSubject leaves the Session the request holds as it is: committed, KV stores it again and Durable Objects refuse; destroyed, a login after it is a new session", async () => {
  // What docs/store.md and revokeSubject's doc say about "log out everywhere" from a request that
  // holds one of the user's sessions.
  const kv = memoryKv();
  for (const [kind, config, afterCommit] of [
    ["kv", { kv }, "stored again"],
    ["durableObject", { durableObject: objects().namespace }, "conflict"],
    ["memory", {}, "conflict"],
  ]) {
    const store = new SessionStore({ keys, ...config });
    const first = await store.load(undefined, { now: NOW });
    first.set("cart", ["book"]);
    first.subject = "alice";
    await store.commit(first, { now: NOW });
    const held = await store.load(first.cookie, { now: NOW + 1 });
    assert.equal(await store.revokeSubject("alice"), 1, kind);
    held.set("cart", ["book", "pen"]);
    if (afterCommit === "conflict") {
      assert.equal(await rejection(() => store.commit(held, { now: NOW + 2 })), "conflict", kind);
      assert.equal(await store.find(first.cookie, { now: NOW + 2 }), undefined, kind);
    } else {
      assert.equal(await store.commit(held, { now: NOW + 2 }), "written", kind);
      assert.deepEqual((await store.find(first.cookie, { now: NOW + 2 }))?.get("cart"), ["book", "pen"], kind);
      assert.equal(await store.revokeSubject("alice"), 1, `${kind}: linked again, so a revocation finds it`);
    }
    // The documented way: destroy it too, then log in again: a new session, the old cookie dead.
    const again = await store.load(first.cookie, { now: NOW + 3 });
    await store.destroy(again, { now: NOW + 3 });
    again.subject = "alice";
    assert.equal(await store.commit(again, { now: NOW + 3 }), "created", kind);
    assert.notEqual(again.cookie, first.cookie, kind);
    assert.equal((await store.find(again.cookie, { now: NOW + 4 }))?.subject, "alice", kind);
    assert.equal(await store.find(first.cookie, { now: NOW + 4 }), undefined, kind);
  }
});

/**
 * A KV and a Durable Object store whose writes wait, after `hold()`, until the `release()` it
 * returns: an operation of the store is under way meanwhile.
 */
function heldStores() {
  let gate = Promise.resolve();
  const held = (f) => async (...args) => (await gate, f(...args));
  const kv = memoryKv();
  const gatedKv = { ...kv, put: held(kv.put) };
  const { namespace } = objects();
  const gatedObjects = { idFromName: namespace.idFromName, get: (id) => ({ fetch: held(namespace.get(id).fetch) }) };
  const hold = () => {
    let release;
    gate = new Promise((r) => (release = r));
    return release;
  };
  return { hold, stores: [["kv", new SessionStore({ keys, kv: gatedKv })], ["durableObject", new SessionStore({ keys, durableObject: gatedObjects })]] };
}

test("what is set on a Session while its regenerate is under way is kept, as a change for the next commit", async () => {
  // regenerate copied the Session when it started and put the copy back when it ended: a value
  // set meanwhile (a login not awaited, then a change after another await, as the Hono
  // middleware allows) was lost without a word, and the commit after it wrote nothing.
  const { hold, stores } = heldStores();
  for (const [kind, store] of stores) {
    const anon = await store.load(undefined, { now: NOW });
    anon.set("cart", ["book"]);
    await store.commit(anon, { now: NOW });
    const session = await store.load(anon.cookie, { now: NOW + 1 });
    session.subject = "alice";
    const release = hold();
    const regenerated = store.regenerate(session, { now: NOW + 1 });
    await new Promise((r) => setImmediate(r)); // the regenerate has started, and waits on the store
    session.set("greeting", "hi alice");
    session.subject = "alice2";
    release();
    await regenerated;
    assert.deepEqual(session.data, { cart: ["book"], greeting: "hi alice" }, kind);
    assert.equal(session.subject, "alice2", kind);
    assert.ok(session.cookie && session.cookie !== anon.cookie, kind);
    assert.equal(await store.commit(session, { now: NOW + 1 }), "written", kind);
    const stored = await store.find(session.cookie, { now: NOW + 2 });
    assert.deepEqual(stored.data, { cart: ["book"], greeting: "hi alice" }, kind);
    assert.equal(stored.subject, "alice2", kind);
    assert.equal(await store.find(anon.cookie, { now: NOW + 2 }), undefined, kind);
    assert.equal(await store.revokeSubject("alice2"), 1, `${kind}: linked to the subject set meanwhile`);
  }
});

test("what is set on a Session while its commit is under way is kept, as a change for the next commit", async () => {
  // The same for commit, which also worked on a copy and put it back: a value set while its
  // write was under way was lost, and the next commit found nothing to write.
  const { hold, stores } = heldStores();
  for (const [kind, store] of stores) {
    const session = await store.load(undefined, { now: NOW });
    session.set("cart", ["book"]);
    const release = hold();
    const committed = store.commit(session, { now: NOW });
    await new Promise((r) => setImmediate(r)); // the commit has started, and waits on the store
    session.set("greeting", "hi");
    release();
    assert.equal(await committed, "created", kind);
    assert.deepEqual(session.data, { cart: ["book"], greeting: "hi" }, kind);
    assert.equal(await store.commit(session, { now: NOW }), "written", kind);
    const stored = await store.find(session.cookie, { now: NOW + 1 });
    assert.deepEqual(stored.data, { cart: ["book"], greeting: "hi" }, kind);
  }
});

test("a getRandomValues that fills nothing is randomness_unavailable, not one id for every new session", async () => {
  const store = new SessionStore({ keys });
  const real = crypto.getRandomValues;
  crypto.getRandomValues = (array) => array; // a stub left in: the bytes stay zero
  try {
    // A new session gets its id as it is made.
    assert.equal(await rejection(() => store.load(undefined, { now: NOW })), "randomness_unavailable");
  } finally {
    crypto.getRandomValues = real;
  }
});

test("a destroy while a commit or regenerate of the Session is under way leaves it the new, empty one", async () => {
  // The commit (or regenerate) put the session it worked on back into the Session when it
  // ended, though a logout had made it another one meanwhile: the logged-out user's session
  // (subject, data, version) came back in it, and the next commit (the Hono middleware commits
  // every request's session) wrote it again under the old id, whose cookie worked again.
  const { hold, stores } = heldStores();
  for (const [kind, store] of stores) {
    for (const op of ["commit", "regenerate"]) {
      const first = await store.load(undefined, { now: NOW });
      first.set("cart", ["book"]);
      first.subject = "alice";
      await store.commit(first, { now: NOW });
      const session = await store.load(first.cookie, { now: NOW + 1 });
      session.set("cart", ["book", "pen"]);
      const release = hold();
      const pending = store[op](session, { now: NOW + 1 });
      await new Promise((r) => setImmediate(r)); // under way, waiting on the store
      const loggedOut = store.destroy(session, { now: NOW + 1 });
      release();
      await Promise.allSettled([pending, loggedOut]);
      const what = `${kind}, ${op}`;
      assert.ok(session.isNew, what);
      assert.equal(session.subject, undefined, what);
      assert.deepEqual(session.data, {}, what);
      assert.equal(session.cookie, undefined, what);
      assert.equal(await store.commit(session, { now: NOW + 2 }), "unchanged", what);
      session.set("flash", "logged out");
      assert.equal(await store.commit(session, { now: NOW + 2 }), "created", what);
      assert.equal((await store.find(session.cookie, { now: NOW + 3 })).subject, undefined, what);
    }
  }
});

test("two commits of one Session at once: the one that loses leaves the Session as the store holds it, never at an older version", async () => {
  // Each commit works on a copy of the Session and puts it back when it ends. On Durable Objects
  // the second is a `conflict` (the first saved the version both began with), and putting its
  // copy back took the Session to that older version: every later commit of it was a conflict
  // too, and what was set on it could never be saved.
  for (const [kind, config] of [["memory", {}], ["kv", { kv: memoryKv() }], ["durableObject", { durableObject: objects().namespace }]]) {
    const store = new SessionStore({ keys, ...config });
    const first = await store.load(undefined, { now: NOW });
    first.set("cart", ["book"]);
    await store.commit(first, { now: NOW });
    const session = await store.load(first.cookie, { now: NOW + 1 });
    session.set("cart", ["book", "pen"]);
    const one = store.commit(session, { now: NOW + 1 });
    session.set("greeting", "hi");
    const two = store.commit(session, { now: NOW + 1 });
    const outcomes = await Promise.allSettled([one, two]);
    for (const o of outcomes) if (o.status === "rejected") assert.equal(o.reason.code, "conflict", kind);
    assert.ok(outcomes.some((o) => o.status === "fulfilled"), kind);
    const held = await store.find(first.cookie, { now: NOW + 1 });
    assert.ok(session.version >= held.version, `${kind}: ${session.version} < ${held.version}`);
    assert.deepEqual(session.data, { cart: ["book", "pen"], greeting: "hi" }, kind);
    // Committed again, everything set on it is stored.
    assert.notEqual(await store.commit(session, { now: NOW + 1 }), "created", kind);
    const stored = await store.find(first.cookie, { now: NOW + 2 });
    assert.deepEqual(stored.data, { cart: ["book", "pen"], greeting: "hi" }, kind);
    assert.equal(stored.version, session.version, kind);
  }
});

test("of several cookies of its name, load, find and update take the first of four that names a live session: one planted ahead does not hide it", async () => {
  // A name without __Host- can be set by a sibling subdomain (Domain=) or a page without HTTPS,
  // with a longer path, which browsers send first. Only the first was read: a forged, foreign,
  // ended or expired cookie planted ahead of the visitor's own gave a new, empty session (its
  // cart, its login gone), and `find` rejected.
  const store = new SessionStore({ keys, cookieName: "sid", absoluteTimeoutSeconds: 7200 });
  const own = await store.update(undefined, (s) => s.set("cart", ["book"]), { now: NOW });
  const endedSession = await store.update(undefined, (s) => s.set("cart", ["pen"]), { now: NOW });
  const ended = { cookie: endedSession.cookie };
  await store.destroy(endedSession, { now: NOW });
  const foreign = await new SessionStore({ keys: [{ id: "k1", secret: SECRET_2 }], cookieName: "sid" }).update(
    undefined,
    (s) => s.set("cart", ["attacker's"]),
    { now: NOW },
  );
  const old = await store.update(undefined, (s) => s.set("cart", ["old"]), { now: NOW - 3 * 7200 }); // its cookie expired
  const planted = [["forged"], [foreign.cookie], [ended.cookie], [old.cookie], ["forged", foreign.cookie, ended.cookie]];
  for (const ahead of planted) {
    const cookie = [...ahead.map((v) => `sid=${v}`), `theme=dark`, `sid=${own.cookie}`].join("; ");
    const what = `${ahead.length} ahead: ${ahead[0].slice(0, 12)}`;
    for (const source of [new Request("https://app.example/", { headers: { cookie } }), new Headers({ cookie }), { headers: { get: () => cookie } }, cookie]) {
      const loaded = await store.load(source, { now: NOW + 1 });
      assert.equal(loaded.isNew, false, what);
      assert.deepEqual(loaded.get("cart"), ["book"], what);
      assert.deepEqual((await store.find(source, { now: NOW + 1 })).get("cart"), ["book"], what);
    }
    const updated = await store.update(new Headers({ cookie }), (s) => s.set("n", ahead.length), { now: NOW + 2 });
    assert.equal(updated.cookie, undefined, `${what}: the visitor's own session, no new cookie`);
    assert.deepEqual((await store.find(own.cookie, { now: NOW + 3 })).data, { cart: ["book"], n: ahead.length }, what);
  }
  // Four at most are read (a bound on the store reads one request costs): a fifth is not.
  const five = new Headers({ cookie: [...Array(4).fill(`sid=${ended.cookie}`), `sid=${own.cookie}`].join("; ") });
  assert.equal((await store.load(five, { now: NOW + 4 })).isNew, true);
  assert.equal((await store.load(five.get("cookie"), { now: NOW + 4 })).isNew, true);
  // The text of a Cookie header is read as one (it has a `=`); a cookie's value as itself.
  assert.equal((await store.load(`theme=dark; sid=${own.cookie}`, { now: NOW + 4 })).isNew, false);
  assert.equal((await store.load(`theme=dark; other=${own.cookie}`, { now: NOW + 4 })).isNew, true);
  assert.equal((await store.load(own.cookie, { now: NOW + 4 })).isNew, false);
  assert.equal(await store.find(five, { now: NOW + 4 }), undefined);
  // None live: `find` is undefined when one named an ended session, else the first one's refusal.
  const none = (...values) => new Headers({ cookie: values.map((v) => `sid=${v}`).join("; ") });
  assert.equal(await store.find(none("forged", ended.cookie), { now: NOW + 4 }), undefined);
  assert.equal(await rejection(() => store.find(none(foreign.cookie, "forged"), { now: NOW + 4 })), "bad_signature");
  assert.equal(await rejection(() => store.find(none(old.cookie, foreign.cookie), { now: NOW + 4 })), "expired");
  assert.equal((await store.load(none("forged", foreign.cookie), { now: NOW + 4 })).isNew, true);
});

test("applyCookies and clearCookies make the response private: a shared cache never hands the session cookie to other visitors", async () => {
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  session.set("n", 1);
  await store.commit(session, { now: NOW });
  /** A page the app made cacheable, knowing nothing of the cookie that rides on it. */
  const page = (headers) => new Response("page", { headers: { "content-type": "text/html", ...headers } });
  const cdn = {
    "CDN-Cache-Control": "max-age=600",
    "cloudflare-cdn-cache-control": "public, max-age=600",
    "Vercel-CDN-Cache-Control": "max-age=600",
    "surrogate-control": "max-age=600",
    "edge-control": "cache-maxage=600s",
  };
  const apply = [
    ["applyCookies", (res) => store.applyCookies(res, session, { now: NOW })],
    ["clearCookies", (res) => store.clearCookies(res)],
  ];
  for (const [name, call] of apply) {
    for (const [cacheControl, expected] of [
      [undefined, "private"],
      ["public, max-age=600", "private, max-age=600"],
      ["s-maxage=60, public", "private"],
      ["no-store", "no-store"],
      ["Private", "Private"],
      ["max-age=0", "private, max-age=0"],
    ]) {
      const what = `${name}, ${cacheControl}`;
      const res = call(page({ ...cdn, ...(cacheControl === undefined ? {} : { "cache-control": cacheControl }) }));
      assert.equal(res.headers.getSetCookie().length, 1, what);
      assert.equal(res.headers.get("cache-control"), expected, what);
      // The fields a CDN obeys in place of Cache-Control go, whatever Cache-Control says.
      for (const field of Object.keys(cdn)) assert.equal(res.headers.get(field), null, `${what}: ${field}`);
      assert.equal(res.headers.get("content-type"), "text/html", what);
    }
  }
  // No cookie to send (the client knows the session): the response stays as the app made it.
  const known = await store.load(session.cookie, { now: NOW + 1 });
  const untouched = store.applyCookies(page({ "cache-control": "public, max-age=600", ...cdn }), known, { now: NOW + 1 });
  assert.deepEqual(untouched.headers.getSetCookie(), []);
  assert.equal(untouched.headers.get("cache-control"), "public, max-age=600");
  assert.equal(untouched.headers.get("cdn-cache-control"), "max-age=600");
  // Headers that cannot change (a fetch response's): invalid_config, as before.
  const immutable = Response.redirect("https://example.com/", 302);
  for (const [name, call] of apply) {
    assert.throws(() => call(immutable), (e) => e.code === "invalid_config" && /cannot be changed/.test(e.message), name);
  }
});

test("whatever update's change returns, update settles and the instance lives on (no trap, no throw through the wasm)", async () => {
  const store = new SessionStore({ keys });
  const uncaught = [];
  const onUncaught = (e) => uncaught.push(e);
  process.on("uncaughtException", onUncaught);
  try {
    // A native promise whose `then` calls back at once: awaited as `await` would, the change
    // committed (it was a `RuntimeError: unreachable`: the instance dead).
    const early = await store.update(undefined, (s) => {
      s.set("a", 1);
      const p = Promise.resolve();
      p.then = (resolve) => resolve();
      return p;
    }, { now: NOW });
    assert.equal(early.get("a"), 1);
    // A `then` or a `constructor` that throws: update rejects with that error, nothing
    // written. Thousands of them (each threw through the wasm's frames, leaving its stack
    // pointer moved, and update pending for ever: after a few thousand every call trapped).
    const boom = new Error("then threw");
    for (let i = 0; i < 5000; i++) {
      const p = Promise.resolve();
      if (i % 2) p.then = () => { throw boom; };
      else Object.defineProperty(p, "constructor", { get() { throw boom; } });
      const outcome = await store.update(undefined, () => p, { now: NOW }).then(() => "resolved", (e) => e);
      if (i % 2) assert.equal(outcome, boom);
    }
    const after = await store.update(undefined, (s) => s.set("b", 2), { now: NOW });
    assert.equal(after.get("b"), 2);
    // Let a stray exception of a microtask or a later job surface.
    await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    process.off("uncaughtException", onUncaught);
  }
  assert.deepEqual(uncaught, []);
});

test("a session object's request or storage answering with a promise whose then calls back at once is awaited, never a trap", async () => {
  // What `await` does with it; `JsFuture` over the value itself trapped (`unreachable`).
  const early = (value) => {
    const p = Promise.resolve(value);
    p.then = (resolve) => resolve(value);
    return p;
  };
  const storage = {
    get: () => early(undefined),
    put: () => early(undefined),
    delete: () => early(true),
    list: () => early(new Map()),
    deleteAll: () => early(undefined),
    setAlarm: () => early(undefined),
  };
  const answer = await handleSessionObject(storage, { text: () => early("{}") });
  assert.ok(answer instanceof Response);
  await sessionObjectAlarm(storage);
  const session = await new SessionStore({ keys }).load(undefined, { now: NOW });
  assert.equal(session.isNew, true, "the instance lives on");
});

test("session data's objects come back with their members in name order, as README and the types say; arrays keep theirs", async () => {
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  session.set("cart", { "sku-9": 1, "sku-1": 2, abc: { z: 1, a: 2 } });
  session.set("steps", ["z", "a"]);
  const want = '{"abc":{"a":2,"z":1},"sku-1":2,"sku-9":1}';
  assert.equal(JSON.stringify(session.get("cart")), want);
  assert.deepEqual(session.get("steps"), ["z", "a"]);
  await store.commit(session, { now: NOW });
  const again = await store.load(session.cookie, { now: NOW });
  assert.equal(JSON.stringify(again.get("cart")), want);
  assert.deepEqual(Object.keys(again.data), ["cart", "steps"]);
});

/** A store on a KV namespace in memory holding one session of alice's. */
async function aliceOnKv() {
  const kv = memoryKv();
  const store = new SessionStore({ keys, kv });
  const session = await store.load(undefined, { now: NOW });
  session.subject = "alice";
  session.set("secret", "alice-data");
  await store.commit(session, { now: NOW });
  return { kv, store, session };
}

test("KV: a session a request in flight writes back during a revocation keeps its link, so the next revocation ends it", async () => {
  const { kv, store, session } = await aliceOnKv();
  const saved = new Map(await Promise.all((await kv.list()).keys.map(async ({ name }) => [name, await kv.get(name)])));
  // A request at another location lands its write (the session, then its link) right after
  // the revocation's first delete, whichever key that is.
  const del = kv.delete;
  let landed = false;
  kv.delete = async (k) => {
    await del(k);
    if (landed) return;
    landed = true;
    for (const [name, value] of saved) await kv.put(name, value);
  };
  assert.equal(await store.revokeSubject("alice"), 1);
  kv.delete = del;
  const after = await store.load(session.cookie, { now: NOW + 1 });
  if (!after.isNew) {
    assert.equal(await store.revokeSubject("alice"), 1, "written back, and linked");
    assert.ok((await store.load(session.cookie, { now: NOW + 2 })).isNew);
  }
});

test("update of a session another request's login ended meanwhile rejects with conflict, never a new session holding this change alone", async () => {
  for (const [kind, config] of [["memory", {}], ["durableObject", { durableObject: objects().namespace }]]) {
    const store = new SessionStore({ keys, ...config });
    const session = await store.load(undefined, { now: NOW });
    session.set("items", ["book"]);
    await store.commit(session, { now: NOW });
    const cookie = session.cookie;
    let raced = false;
    const updating = store.update(cookie, async (s) => {
      if (!raced) {
        raced = true;
        const other = await store.load(cookie, { now: NOW + 1 });
        other.subject = "alice";
        await store.regenerate(other, { now: NOW + 1 });
        await store.commit(other, { now: NOW + 1 });
      }
      s.set("items", [...(s.get("items") ?? []), "pen"]);
    }, { now: NOW + 1 });
    assert.equal(await rejection(() => updating), "conflict", kind);
    // A cookie that named nothing from the start gets a new session, as before.
    const fresh = await store.update("none", (s) => s.set("n", 1), { now: NOW + 2 });
    assert.equal(fresh.isNew, false, kind);
  }
});

test("data over maxDataBytes: commit and update reject with too_large, and the stored session keeps its data", async () => {
  const store = new SessionStore({ keys, maxDataBytes: 100 });
  const session = await store.load(undefined, { now: NOW });
  session.set("a", "x".repeat(50));
  await store.commit(session, { now: NOW });
  const cookie = session.cookie;
  const loaded = await store.load(cookie, { now: NOW + 1 });
  loaded.set("b", "y".repeat(60));
  assert.equal(await rejection(() => store.commit(loaded, { now: NOW + 1 })), "too_large");
  assert.equal(await rejection(() => store.update(cookie, (s) => s.set("b", "y".repeat(60)), { now: NOW + 1 })), "too_large");
  assert.deepEqual((await store.find(cookie, { now: NOW + 2 })).data, { a: "x".repeat(50) });
  // One value, or data, whose JSON is over 1 MiB (which no store takes) is refused when it is
  // set, before it is copied into the wasm memory, which never shrinks: `session.set("name",
  // body)` of a 30 MB body took 30 MB of it for good, and only the commit refused it. Shorter,
  // the commit judges it: JavaScript's JSON of a number can be longer than what the commit
  // counts, and a session may hold more than a lowered limit.
  const before = storeWasm.memory.buffer.byteLength;
  assert.equal(await rejection(() => loaded.set("c", "z".repeat(30e6))), "too_large");
  assert.equal(await rejection(() => { loaded.data = { c: "z".repeat(30e6) }; }), "too_large");
  const grown = storeWasm.memory.buffer.byteLength - before;
  assert.ok(grown < 1 << 20, `the wasm memory grew by ${grown} bytes`);
  loaded.set("c", "z".repeat(10));
  assert.equal(loaded.get("c"), "z".repeat(10));
  loaded.set("c", "z".repeat(1000));
  assert.equal(loaded.get("c").length, 1000);
  // Sixty numbers JavaScript writes as 0.000001 and the commit as 1e-6 fit the limit's 500.
  const small = new SessionStore({ keys, maxDataBytes: 500 });
  const numbers = await small.load(undefined, { now: NOW });
  numbers.set("r", Array(60).fill(0.000001));
  assert.equal(await small.commit(numbers, { now: NOW }), "created");
});

test("KV: a revocation whose session delete fails links the session again, so that the revocation tried again ends it", async () => {
  // Until the link's expiration, by a time-to-live: KV refuses an `expiration` past 2038 (a
  // 32-bit time), and the link put back with one was lost.
  for (const expiration of [NOW + 86400, 2 ** 31 + 86400]) {
    const { kv, store, session } = await aliceOnKv();
    const links = (await kv.list()).keys.filter(({ name }) => name.startsWith("u:"));
    assert.equal(links.length, 1);
    const puts = [];
    const { put, delete: del, list } = kv;
    kv.list = async (options) => ({ ...(await list(options)), keys: (await list(options)).keys.map((k) => ({ ...k, expiration })) });
    kv.put = async (k, v, options) => (puts.push([k, options]), put(k, v, options));
    let failed = false;
    kv.delete = async (k) => {
      if (!k.startsWith("u:") && !failed) {
        failed = true;
        throw new Error("KV delete failed: 503");
      }
      return del(k);
    };
    assert.equal(await rejection(() => store.revokeSubject("alice")), "store_unavailable");
    const ttl = expiration - Math.floor(Date.now() / 1000);
    assert.equal(puts.length, 1);
    const [[name, options]] = puts;
    assert.equal(name, links[0].name, "the link put back");
    assert.deepEqual(Object.keys(options), ["expirationTtl"]);
    assert.ok(Math.abs(options.expirationTtl - ttl) <= 2, `${options.expirationTtl} for ${ttl}`);
    assert.equal(await store.revokeSubject("alice"), 1);
    assert.ok((await store.load(session.cookie, { now: NOW + 1 })).isNew);
  }
});

test("find rejects a bad cookie only with a code docs/store.md lists for it", async () => {
  const { SessionTokens } = glue;
  const store = new SessionStore({ keys });
  const later = await store.load(undefined, { now: NOW + 1000 });
  later.set("a", 1);
  await store.commit(later, { now: NOW + 1000 });
  const cookies = {
    // The app's session token under the same keys (README's worker shares them) in the id cookie.
    wrong_purpose: new SessionTokens({ keys }).sign({ sub: "alice" }, { now: NOW }),
    // An id cookie of a server whose clock is ahead.
    not_yet_valid: later.cookie,
    malformed: "x",
  };
  const docs = readFileSync(new URL("../../docs/store.md", import.meta.url), "utf8");
  const from = docs.indexOf("and those of the cookie");
  const listed = docs.slice(from, docs.indexOf(").", from));
  for (const [code, cookie] of Object.entries(cookies)) {
    assert.equal(await rejection(() => store.find(cookie, { now: NOW })), code);
    assert.ok(listed.includes(`\`${code}\``), `docs/store.md does not list ${code}: ${listed}`);
  }
});
