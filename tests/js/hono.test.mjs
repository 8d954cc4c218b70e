// The Hono middleware (npm/hono.js, published as edge-session/hono) in a Hono app, driven with
// app.request(): session tokens, stored sessions (the store build, in memory), login, logout,
// refresh, revocation and affinity. npm/hono.js imports "edge-session": here that resolves to the
// package built by `make pkg-node`, linked into a temporary node_modules, next to a copy of
// hono.js (tests/pkg and examples/ run it from the packed package).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { deleteCookie } from "hono/cookie";
import { etag } from "hono/etag";
import { stream, streamSSE, streamText } from "hono/streaming";
import { KEYS_1, SECRET_1, SECRET_2, importHono, pkg } from "./fixtures.mjs";

const ROOT = resolve(fileURLToPath(import.meta.url), "../../..");
const { SessionTokens, Affinity, getCookie } = pkg;
const { SessionStore, handleSessionObject } = createRequire(import.meta.url)(join(ROOT, "target/pkg-store/edge_session.js"));

let mw, removeHono;
before(async () => ({ module: mw, remove: removeHono } = await importHono()));
after(() => removeHono());

/** The name=value pairs of a response's Set-Cookie headers, as a browser sends them back. */
const cookiesOf = (res) => res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");

const tokenApp = (tokens, options) => {
  const app = new Hono();
  app.use(mw.sessionTokens(tokens, options));
  app.get("/", (c) => c.json({ session: c.get("session"), error: c.get("sessionError") ?? null }));
  app.post("/login", (c) => {
    mw.login(c, { sub: "alice", role: "admin" });
    return c.json({ session: c.get("session"), error: c.get("sessionError") ?? null });
  });
  app.post("/logout", async (c) => {
    await mw.logout(c);
    return c.json({ session: c.get("session") });
  });
  return app;
};

test("sessionTokens: no cookie, login, the cookie back, tampered, logout", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const app = tokenApp(tokens);
  const anon = await app.request("/");
  assert.deepEqual(await anon.json(), { session: null, error: null });
  assert.deepEqual(anon.headers.getSetCookie(), []);

  const login = await app.request("/login", { method: "POST" });
  const [set] = login.headers.getSetCookie();
  assert.match(set, /^__Host-session=[^;]+; Max-Age=(3600|3599); Path=\/; Secure; HttpOnly; SameSite=Lax$/);
  assert.equal((await login.json()).session.sub, "alice");

  const cookie = cookiesOf(login);
  const me = await (await app.request("/", { headers: { cookie: `theme=dark; ${cookie}` } })).json();
  assert.equal(me.session.sub, "alice");
  assert.equal(me.session.role, "admin");

  const token = getCookie(cookie, "__Host-session");
  const tampered = `__Host-session=${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`;
  assert.deepEqual(await (await app.request("/", { headers: { cookie: tampered } })).json(), {
    session: null,
    error: "bad_signature",
  });
  // A login over the refused cookie: the request is logged in, no refusal left to read.
  const over = await (await app.request("/login", { method: "POST", headers: { cookie: tampered } })).json();
  assert.deepEqual([over.session.sub, over.error], ["alice", null]);

  const out = await app.request("/logout", { method: "POST", headers: { cookie } });
  assert.deepEqual(out.headers.getSetCookie(), ["__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"]);
  assert.equal((await out.json()).session, null);
});

test("sessionTokens: a token past refreshAfter is re-issued on the way out; expired is refused", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5, leewaySeconds: 0 });
  const app = tokenApp(tokens, { cookie: { sameSite: "Strict" } });
  const now = Math.floor(Date.now() / 1000);
  const young = tokens.sign({ sub: "a" }, { now: now - 10 });
  assert.deepEqual((await app.request("/", { headers: { cookie: `__Host-session=${young}` } })).headers.getSetCookie(), []);
  const old = tokens.sign({ sub: "a" }, { now: now - 60 });
  const res = await app.request("/", { headers: { cookie: `__Host-session=${old}` } });
  const [fresh] = res.headers.getSetCookie();
  assert.match(fresh, /^__Host-session=[^;]+; Max-Age=(100|99); Path=\/; Secure; HttpOnly; SameSite=Strict$/);
  assert.notEqual(getCookie(fresh.split(";")[0], "__Host-session"), old);
  const expired = tokens.sign({ sub: "a" }, { now: now - 200 });
  assert.equal((await (await app.request("/", { headers: { cookie: `__Host-session=${expired}` } })).json()).error, "expired");
});

test("sessionTokens: a session cookie sent twice is read but never refreshed (a sibling subdomain's, tossed ahead of the visitor's)", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const app = tokenApp(tokens, { cookieName: "__Secure-session" });
  const now = Math.floor(Date.now() / 1000);
  const attacker = tokens.sign({ sub: "mallory" }, { now: now - 60 });
  const victim = tokens.sign({ sub: "alice" }, { now: now - 60 });
  const expired = tokens.sign({ sub: "mallory" }, { now: now - 200 });
  const otherApp = new SessionTokens({ keys: [{ id: "k1", secret: SECRET_2 }] }).sign({ sub: "mallory" });
  // A browser sends the cookie of the longer path first: evil.example.com's, Domain=example.com.
  // Cookies of the name that are no token of these keys (junk, another app's) change nothing.
  for (const [cookie, sub, refreshed] of [
    [`__Secure-session=${attacker}; __Secure-session=${victim}`, "mallory", false],
    [`__Secure-session=${victim}; __Secure-session=${attacker}`, "alice", false],
    // The visitor's own past the first four read, behind junk or copies of the attacker's.
    [`__Secure-session=a; __Secure-session=b; __Secure-session=c; __Secure-session=${attacker}; __Secure-session=${victim}`, "mallory", false],
    [`${`__Secure-session=${attacker}; `.repeat(4)}__Secure-session=${victim}`, "mallory", false],
    // The visitor's own behind the attacker's and four junk ones: not read, but more than four came.
    [`__Secure-session=${attacker}; __Secure-session=a; __Secure-session=b; __Secure-session=c; __Secure-session=d; __Secure-session=${victim}`, "mallory", false],
    // Four exactly, all read: the one token among them is refreshed.
    [`__Secure-session=${victim}; __Secure-session=a; __Secure-session=b; __Secure-session=c`, "alice", true],
    // Cookies after a comma (in a value a sibling can set) are not read, and stop nothing.
    [`theme=a, __Secure-session=1, __Secure-session=2, __Secure-session=3, __Secure-session=4; __Secure-session=${victim}`, "alice", true],
    [`__Secure-session=${expired}; __Secure-session=${victim}`, "alice", false],
    [`__Secure-session=junk; __Secure-session=${otherApp}; __Secure-session=${victim}`, "alice", true],
    [`__Secure-session=${victim}; __Secure-session=${victim}`, "alice", true],
    [`__Secure-session=${victim}`, "alice", true],
  ]) {
    const res = await app.request("/", { headers: { cookie } });
    assert.equal((await res.json()).session.sub, sub, cookie);
    assert.equal(res.headers.getSetCookie().length, refreshed ? 1 : 0, cookie);
  }
});

test("a response that gets one of the middleware's cookies is private: a shared cache never hands it on", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const app = new Hono();
  app.use(mw.sessionTokens(tokens));
  // A page the app made cacheable, knowing nothing of the refresh that rides on it.
  app.get("/", (c) => c.text("home", 200, { "cache-control": "public, max-age=60, s-maxage=600" }));
  app.get("/secret", (c) => c.text("x", 200, { "cache-control": "no-store" }));
  app.post("/login", (c) => {
    mw.login(c, { sub: "alice" });
    return c.text("in", 200, { "cache-control": "public, max-age=60" });
  });
  const now = Math.floor(Date.now() / 1000);
  const old = tokens.sign({ sub: "a" }, { now: now - 60 });
  const refreshed = await app.request("/", { headers: { cookie: `__Host-session=${old}` } });
  assert.equal(refreshed.headers.getSetCookie().length, 1);
  assert.equal(refreshed.headers.get("cache-control"), "private, max-age=60");
  const login = await app.request("/login", { method: "POST" });
  assert.equal(login.headers.getSetCookie().length, 1);
  assert.equal(login.headers.get("cache-control"), "private, max-age=60");
  const kept = await app.request("/secret", { headers: { cookie: `__Host-session=${old}` } });
  assert.equal(kept.headers.getSetCookie().length, 1);
  assert.equal(kept.headers.get("cache-control"), "no-store");
  // No cookie set: the app's caching stays as it is.
  const young = tokens.sign({ sub: "a" }, { now: now - 1 });
  const plain = await app.request("/", { headers: { cookie: `__Host-session=${young}` } });
  assert.deepEqual(plain.headers.getSetCookie(), []);
  assert.equal(plain.headers.get("cache-control"), "public, max-age=60, s-maxage=600");

  const store = new SessionStore({ keys: KEYS_1 });
  const stored = new Hono();
  stored.use(mw.sessionStore(store));
  stored.get("/", (c) => {
    c.get("session").set("seen", true);
    return c.text("home", 200, { "cache-control": "public, max-age=60" });
  });
  const first = await stored.request("/");
  assert.equal(first.headers.getSetCookie().length, 1);
  assert.equal(first.headers.get("cache-control"), "private, max-age=60");
});

test("with etag() inside the session middleware, a 304 still carries the refresh and the logout", async () => {
  // etag() answering 304 makes a new response with none of the handler's headers: mounted
  // outside the session middleware it would drop the cookie (npm/README.md says which order).
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const app = new Hono();
  app.use(mw.sessionTokens(tokens));
  app.use(etag());
  app.get("/", (c) => c.text("the same page for everyone"));
  app.get("/logout", async (c) => {
    await mw.logout(c);
    return c.text("the same page for everyone");
  });
  const tag = (await app.request("/")).headers.get("etag");
  const now = Math.floor(Date.now() / 1000);
  const old = tokens.sign({ sub: "a" }, { now: now - 60 });
  const headers = { cookie: `__Host-session=${old}`, "if-none-match": tag };
  const refreshed = await app.request("/", { headers });
  assert.equal(refreshed.status, 304);
  const [fresh] = refreshed.headers.getSetCookie();
  assert.equal(tokens.verify(getCookie(fresh.split(";")[0], "__Host-session")).sub, "a");
  const out = await app.request("/logout", { headers });
  assert.equal(out.status, 304);
  assert.match(out.headers.getSetCookie()[0], /^__Host-session=; Max-Age=0/);
});

test("sessionTokens: a token that expires while its handler runs is not refreshed, and the handler's answer stands", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5, leewaySeconds: 0 });
  const app = new Hono();
  app.use(mw.sessionTokens(tokens));
  const realNow = Date.now;
  // The handler (a slow database call, an async minIssuedAt) ends after the token's exp.
  app.get("/", (c) => {
    Date.now = () => realNow() + 20_000;
    return c.json({ sub: c.get("session")?.sub ?? null });
  });
  const now = Math.floor(realNow() / 1000);
  const late = tokens.sign({ sub: "a" }, { now: now - 95 });
  try {
    const res = await app.request("/", { headers: { cookie: `__Host-session=${late}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { sub: "a" });
    assert.deepEqual(res.headers.getSetCookie(), []);
  } finally {
    Date.now = realNow;
  }
});

test("sessionTokens: an answer made more than 2 s after its request (a long poll) carries no refresh", async () => {
  // Answered after a logout in another tab, a refresh would put the session back in the browser.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5, leewaySeconds: 0 });
  const realNow = Date.now;
  const now = Math.floor(realNow() / 1000);
  const due = tokens.sign({ sub: "a" }, { now: now - 60 });
  // The time counts from the request's arrival: a slow minIssuedAt lookup is part of it.
  for (const [waited, refreshed, lookup] of [[0, true], [2000, true], [2001, false], [0, false, 2001]]) {
    const app = new Hono();
    const minIssuedAt = async () => {
      if (lookup) Date.now = () => at + lookup;
      return undefined;
    };
    app.use(mw.sessionTokens(tokens, { minIssuedAt }));
    const at = realNow();
    app.get("/poll", (c) => {
      if (waited) Date.now = () => at + waited;
      return c.json({ sub: c.get("session")?.sub ?? null });
    });
    Date.now = () => at;
    try {
      const res = await app.request("/poll", { headers: { cookie: `__Host-session=${due}` } });
      assert.deepEqual(await res.json(), { sub: "a" });
      assert.equal(res.headers.getSetCookie().length, refreshed ? 1 : 0, `${waited} ms`);
    } finally {
      Date.now = realNow;
    }
  }
});

test("sessionTokens: a refreshed token too big for a cookie is not sent, and the handler's answer stands", async () => {
  // A refresh adds auth_time: a token that just fitted in a cookie (4096 bytes with its name)
  // may not fit any more. setCookie refuses it (a browser would drop it); the old one stays.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const app = tokenApp(tokens);
  const name = "__Host-session";
  const now = Math.floor(Date.now() / 1000);
  let old;
  for (let pad = 2900; ; pad++) {
    old = tokens.sign({ sub: "a", pad: "x".repeat(pad) }, { now: now - 60 });
    assert.ok(name.length + old.length <= 4096, "a pad that fits at login but not refreshed");
    if (name.length + tokens.refresh(old, { now }).length > 4096) break;
  }
  const res = await app.request("/", { headers: { cookie: `${name}=${old}` } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).session.sub, "a");
  assert.deepEqual(res.headers.getSetCookie(), []);
});

/** An app whose POST /login?pad=N logs in `{ sub: "a", pad: "x" * N }`: the token, or 400 with
 * the error's code and message. */
const padLoginApp = (tokens) => {
  const app = new Hono();
  app.use(mw.sessionTokens(tokens));
  app.post("/login", (c) => {
    try {
      return c.text(mw.login(c, { sub: "a", pad: "x".repeat(Number(c.req.query("pad"))) }));
    } catch (e) {
      return c.json({ code: e.code, message: e.message }, 400);
    }
  });
  return app;
};

/** POST /login?pad=N of a `padLoginApp` is refused: a 400 `invalid_claims` whose message matches
 * `why`, and no cookie. */
const assertLoginRefused = async (app, pad, why) => {
  const refused = await app.request(`/login?pad=${pad}`, { method: "POST" });
  assert.equal(refused.status, 400);
  const { code, message } = await refused.json();
  assert.equal(code, "invalid_claims");
  assert.match(message, why);
  assert.deepEqual(refused.headers.getSetCookie(), []);
};

test("sessionTokens: a login keeps room for what a refresh adds (128 bytes, as the gateway): one that would not be refreshable is refused", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const app = padLoginApp(tokens);
  const name = "__Host-session";
  // Name and value, without the "=", as RFC 6265bis, setCookie and the gateway count them: with
  // the "=", a login the gateway takes (exactly 4096 bytes) was refused here.
  const size = (pad) => name.length + tokens.sign({ sub: "a", pad: "x".repeat(pad) }).length + 128;
  let pad = 2000;
  while (size(pad + 1) <= 4096) pad++;
  assert.deepEqual([size(pad), size(pad + 1)], [4096, 4097], "pads at the exact boundary");
  // Exactly 4096 with the room to spare: logged in, and its refresh fits a cookie.
  const ok = await app.request(`/login?pad=${pad}`, { method: "POST" });
  assert.equal(ok.status, 200);
  const token = await ok.text();
  const now = Math.floor(Date.now() / 1000);
  assert.ok(name.length + tokens.refresh(token, { now: now + 60 }).length <= 4096);
  // One more byte: refused, never a cookie that stops being refreshed.
  await assertLoginRefused(app, pad + 1, new RegExp(`would be ${4097 - 128} bytes, name and value: .*auth_time`));
  // Without refresh nothing is added later: a cookie up to the 4096 bytes browsers keep.
  const still = new Hono();
  still.use(mw.sessionTokens(tokens, { refresh: false }));
  still.post("/login", (c) => c.text(mw.login(c, { sub: "a", pad: "x".repeat(Number(c.req.query("pad"))) })));
  assert.equal((await still.request(`/login?pad=${pad + 60}`, { method: "POST" })).status, 200);
});

test("sessionTokens: a login keeps room for what a refresh adds within the tokens' maxTokenBytes too", async () => {
  // A refresh over maxTokenBytes answers null: with maxTokenBytes below the cookie's limit, a
  // login the cookie check let through was never refreshed, and its user logged out at exp.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5, maxTokenBytes: 300 });
  const app = padLoginApp(tokens);
  const now = Math.floor(Date.now() / 1000);
  const refreshable = (pad) => {
    try {
      return tokens.refresh(tokens.sign({ sub: "a", pad: "x".repeat(pad) }, { now: now - 60 }), { now }) !== null;
    } catch {
      return false; // too large to sign at all
    }
  };
  let pad = 0;
  while (refreshable(pad + 1)) pad++;
  // The largest whose refresh fits: logged in, and refreshed later.
  const ok = await app.request(`/login?pad=${pad}`, { method: "POST" });
  assert.equal(ok.status, 200);
  assert.equal(typeof tokens.refresh(await ok.text(), { now: now + 60 }), "string");
  // One more byte signs (it is under maxTokenBytes) but would never be refreshed: refused.
  tokens.sign({ sub: "a", pad: "x".repeat(pad + 1) });
  await assertLoginRefused(app, pad + 1, /maxTokenBytes/);
});

test("sessionTokens: minIssuedAt (async) refuses tokens issued before a logout everywhere", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const revokedAt = new Map();
  const app = tokenApp(tokens, { minIssuedAt: async (claims) => revokedAt.get(claims.sub) });
  const now = Math.floor(Date.now() / 1000);
  const token = tokens.sign({ sub: "alice" }, { now: now - 100 });
  const ask = async () => (await app.request("/", { headers: { cookie: `__Host-session=${token}` } })).json();
  assert.equal((await ask()).session.sub, "alice");
  revokedAt.set("alice", now - 50);
  assert.deepEqual(await ask(), { session: null, error: "revoked" });
});

test("sessionTokens: a minIssuedAt that gives what is not a time is the app's error (500), not the token's", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  // A revocation time read from KV as text: the lookup is wrong, the token is not.
  const app = tokenApp(tokens, { minIssuedAt: async () => "1700000000" });
  const token = tokens.sign({ sub: "alice" });
  const res = await app.request("/", { headers: { cookie: `__Host-session=${token}` } });
  assert.equal(res.status, 500);
  assert.deepEqual(res.headers.getSetCookie(), []); // the session cookie is not cleared
});

test("sessionTokens: a login is a new login, whatever claims it copies: the old auth_time is not carried over", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const now = Math.floor(Date.now() / 1000);
  let revokedAt;
  const app = new Hono();
  app.use(mw.sessionTokens(tokens, { minIssuedAt: () => revokedAt }));
  // "Log out my other devices, stay here": the revocation recorded, then a login with the
  // session's own claims.
  app.post("/others-out", (c) => {
    revokedAt = now;
    return c.json({ token: mw.login(c, { ...c.get("session") }) });
  });
  // A refreshed token: its login (auth_time) long ago.
  const refreshed = tokens.sign({ sub: "alice", auth_time: now - 5000 }, { now: now - 5 });
  const res = await app.request("/others-out", { method: "POST", headers: { cookie: `__Host-session=${refreshed}` } });
  const { token } = await res.json();
  const claims = tokens.verify(token, { minIssuedAt: revokedAt });
  assert.equal(claims.sub, "alice");
  assert.equal(claims.auth_time, undefined);
});

test("sessionStore: a new session, data kept across requests, login regenerates, logout deletes", async () => {
  const store = new SessionStore({ keys: KEYS_1 });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.get("/count", (c) => {
    const s = c.get("session");
    s.set("n", (s.get("n") ?? 0) + 1);
    return c.json({ n: s.get("n"), subject: s.subject ?? null });
  });
  app.post("/login", async (c) => {
    await mw.login(c, { sub: "bob" });
    return c.text("ok");
  });
  app.post("/logout", async (c) => {
    await mw.logout(c);
    return c.text("bye");
  });

  const first = await app.request("/count");
  assert.equal((await first.json()).n, 1);
  const [set] = first.headers.getSetCookie();
  // Max-Age counts down to the session's absolute timeout: a second may turn between the
  // session's creation and its cookie on a loaded machine.
  assert.match(set, /^__Host-sid=[^;]+; Max-Age=(86400|86399); Path=\/; Secure; HttpOnly; SameSite=Lax$/);
  let cookie = cookiesOf(first);

  const second = await app.request("/count", { headers: { cookie } });
  assert.equal((await second.json()).n, 2);
  assert.deepEqual(second.headers.getSetCookie(), [], "the client knows the session: no cookie");

  const login = await app.request("/login", { method: "POST", headers: { cookie } });
  const renewed = cookiesOf(login);
  assert.match(renewed, /^__Host-sid=/);
  assert.notEqual(renewed, cookie, "a new id at login");
  assert.deepEqual(await (await app.request("/count", { headers: { cookie: renewed } })).json(), { n: 3, subject: "bob" });
  assert.deepEqual(await (await app.request("/count", { headers: { cookie } })).json(), { n: 1, subject: null }, "the old id is gone");

  const out = await app.request("/logout", { method: "POST", headers: { cookie: renewed } });
  assert.deepEqual(out.headers.getSetCookie(), ["__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"]);
  assert.equal(await store.find(renewed.replace(/^__Host-sid=/, "")), undefined);
});

test("sessionStore: a login over several id cookies keeps no data (a sibling subdomain's, tossed ahead with data of its choosing); over one, it does", async () => {
  const store = new SessionStore({ keys: KEYS_1, cookieName: "__Secure-sid" });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.get("/set", (c) => {
    c.get("session").set("ship_to", c.req.query("to"));
    return c.text("ok");
  });
  app.post("/login", async (c) => {
    await mw.login(c, { sub: "vera" });
    return c.text("ok");
  });
  app.get("/me", (c) => c.json({ subject: c.get("session").subject ?? null, ship_to: c.get("session").get("ship_to") ?? null }));
  for (const [header, kept] of [
    [(tossed, own) => `${tossed}; ${own}`, null],
    [(tossed, own) => `${own}; ${tossed}`, null],
    // The second after a comma (two Cookie headers joined), which is not read: still counted.
    [(tossed, own) => `${tossed}; x=1, ${own}`, null],
    [(_, own) => own, "2 Home Rd"],
    // Cookies of other names beside it are no second id cookie: the data stay.
    [(_, own) => `theme=dark; ${own}`, "2 Home Rd"],
  ]) {
    const tossed = cookiesOf(await app.request("/set?to=1%20Evil%20St"));
    const own = cookiesOf(await app.request("/set?to=2%20Home%20Rd"));
    const cookie = header(tossed, own);
    const login = await app.request("/login", { method: "POST", headers: { cookie } });
    const me = await (await app.request("/me", { headers: { cookie: cookiesOf(login) } })).json();
    assert.deepEqual(me, { subject: "vera", ship_to: kept }, cookie);
  }
});

test("a sessionTokens login renews the sessionStore around it without the data of a tossed id cookie; with its own alone, the data stay", async () => {
  const store = new SessionStore({ keys: KEYS_1, cookieName: "__Secure-sid" });
  const tokens = new SessionTokens({ keys: KEYS_1 });
  const app = new Hono();
  app.use(mw.sessionStore(store, { variable: "cart" }));
  app.use(mw.sessionTokens(tokens));
  app.get("/set", (c) => {
    c.get("cart").set("ship_to", c.req.query("to"));
    return c.text("ok");
  });
  app.post("/login", (c) => {
    mw.login(c, { sub: "vera" });
    return c.text("ok");
  });
  // A store login, data set after it, then a tokens login: the data set after the first stay.
  app.post("/both", async (c) => {
    await mw.login(c, "vera", { variable: "cart" });
    c.get("cart").set("after", 1);
    mw.login(c, { sub: "vera" });
    return c.text("ok");
  });
  app.get("/me", (c) => c.json({ user: c.get("session")?.sub ?? null, ship_to: c.get("cart").get("ship_to") ?? null, after: c.get("cart").get("after") ?? null }));
  {
    const tossed = cookiesOf(await app.request("/set?to=1%20Evil%20St"));
    const own = cookiesOf(await app.request("/set?to=2%20Home%20Rd"));
    const both = await app.request("/both", { method: "POST", headers: { cookie: `${tossed}; ${own}` } });
    const me = await (await app.request("/me", { headers: { cookie: cookiesOf(both) } })).json();
    assert.deepEqual(me, { user: "vera", ship_to: null, after: 1 });
  }
  for (const [two, kept] of [[true, null], [false, "2 Home Rd"]]) {
    const tossed = cookiesOf(await app.request("/set?to=1%20Evil%20St"));
    const own = cookiesOf(await app.request("/set?to=2%20Home%20Rd"));
    const login = await app.request("/login", { method: "POST", headers: { cookie: two ? `${tossed}; ${own}` : own } });
    const me = await (await app.request("/me", { headers: { cookie: cookiesOf(login) } })).json();
    assert.deepEqual(me, { user: "vera", ship_to: kept, after: null }, `two: ${two}`);
  }
});

test("sessionStore: a form another site posts plants no session; a login there is stored and sent", async () => {
  const store = new SessionStore({ keys: KEYS_1 });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.post("/cart", (c) => {
    c.get("session").set("cart", [c.req.query("item")]);
    return c.text("ok");
  });
  app.post("/login", async (c) => {
    c.get("session").set("cart", ["sso"]);
    await mw.login(c, { sub: "carol" });
    return c.text("ok");
  });
  app.get("/cart", (c) => c.json({ cart: c.get("session").get("cart") ?? null }));
  app.get("/visit", (c) => {
    c.get("session").set("seen", true);
    return c.text("ok");
  });
  app.post("/logout", async (c) => {
    await mw.logout(c);
    return c.text("bye");
  });
  const own = cookiesOf(await app.request("/cart?item=book", { method: "POST" }));
  // The browser sends no SameSite=Lax cookie with it, and would keep the cookie its answer sets.
  const crossSite = { "sec-fetch-site": "cross-site" };
  const warned = [];
  const warn = console.warn;
  console.warn = (m) => warned.push(m);
  let form;
  try {
    form = await app.request("/cart?item=planted", { method: "POST", headers: crossSite });
  } finally {
    console.warn = warn;
  }
  assert.equal(form.status, 200);
  assert.deepEqual(form.headers.getSetCookie(), [], "no cookie to replace the visitor's own");
  assert.match(warned.join("\n"), /cross-site request sent without its cookie .* was not stored/);
  assert.deepEqual(await (await app.request("/cart", { headers: { cookie: own } })).json(), { cart: ["book"] });
  // A logout there sends no removal of the cookie it never saw: it would orphan the visitor's session.
  const out = await app.request("/logout", { method: "POST", headers: crossSite });
  assert.deepEqual(out.headers.getSetCookie(), []);
  // A link followed from another site carries the Lax cookie: a page that writes gets its cookie.
  const get = await app.request("/visit", { headers: crossSite });
  assert.equal(get.headers.getSetCookie().length, 1);
  // A login there (a SAML POST binding, OIDC's form_post) is stored and its cookie sent.
  const login = await app.request("/login", { method: "POST", headers: crossSite });
  const renewed = cookiesOf(login);
  assert.match(renewed, /^__Host-sid=/);
  assert.deepEqual(await (await app.request("/cart", { headers: { cookie: renewed } })).json(), { cart: ["sso"] });
  // Sent with its cookie all the same (no browser, or sameSite "None"): the visitor's session.
  const sent = await app.request("/cart?item=pen", { method: "POST", headers: { ...crossSite, cookie: own } });
  assert.deepEqual(sent.headers.getSetCookie(), []);
  assert.deepEqual(await (await app.request("/cart", { headers: { cookie: own } })).json(), { cart: ["pen"] });
  // With sameSite "Strict" a link followed from another site comes without it too.
  const strict = new Hono();
  strict.use(mw.sessionStore(new SessionStore({ keys: KEYS_1, cookieOptions: { sameSite: "Strict" } })));
  strict.get("/visit", (c) => {
    c.get("session").set("seen", true);
    return c.text("ok");
  });
  console.warn = () => {};
  try {
    assert.deepEqual((await strict.request("/visit", { headers: crossSite })).headers.getSetCookie(), []);
  } finally {
    console.warn = warn;
  }
  assert.equal((await strict.request("/visit")).headers.getSetCookie().length, 1);
});

test("a handler that throws: its session changes are not committed, its login not sent", async () => {
  const store = new SessionStore({ keys: KEYS_1 });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.get("/set", (c) => {
    c.get("session").set("n", 1);
    return c.text("ok");
  });
  app.get("/fail", (c) => {
    c.get("session").set("n", 2);
    throw new Error("boom");
  });
  app.get("/n", (c) => c.json({ n: c.get("session").get("n") ?? null }));
  app.onError((e, c) => c.text(e.message, 500));
  const cookie = cookiesOf(await app.request("/set"));
  const failed = await app.request("/fail", { headers: { cookie } });
  assert.equal(failed.status, 500);
  assert.deepEqual(failed.headers.getSetCookie(), []);
  assert.deepEqual(await (await app.request("/n", { headers: { cookie } })).json(), { n: 1 });

  const tokens = new SessionTokens({ keys: KEYS_1 });
  const login = new Hono();
  login.use(mw.sessionTokens(tokens));
  login.post("/login", (c) => {
    mw.login(c, { sub: "x" });
    throw new Error("after login");
  });
  login.onError((e, c) => c.text(e.message, 500));
  const res = await login.request("/login", { method: "POST" });
  assert.equal(res.status, 500);
  assert.deepEqual(res.headers.getSetCookie(), []);
});

test("sessionStore: a logout ends this session only; logout everywhere, every session of the subject", async () => {
  // Only { everywhere: true } revokes the subject: logging out on a shared computer must not
  // log the user out of their phone.
  const store = new SessionStore({ keys: KEYS_1 });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.post("/login", async (c) => {
    await mw.login(c, "carol");
    return c.text("ok");
  });
  app.get("/me", (c) => c.json({ subject: c.get("session").subject ?? null }));
  app.post("/logout", async (c) => {
    await mw.logout(c, c.req.query("everywhere") ? { everywhere: true } : undefined);
    return c.text("bye");
  });
  const subject = async (cookie) => (await (await app.request("/me", { headers: { cookie } })).json()).subject;
  const login = async () => cookiesOf(await app.request("/login", { method: "POST" }));
  const [laptop, phone, tablet] = [await login(), await login(), await login()];
  await app.request("/logout", { method: "POST", headers: { cookie: laptop } });
  assert.equal(await subject(laptop), null);
  assert.equal(await subject(phone), "carol");
  await app.request("/logout?everywhere=1", { method: "POST", headers: { cookie: phone } });
  assert.equal(await subject(phone), null);
  assert.equal(await subject(tablet), null);
});

test("affinity: the same visitor to the same backend, the cookie set once", async () => {
  const router = new Affinity({ secret: SECRET_1, backends: [{ id: "a" }, { id: "b" }, { id: "c" }] });
  const app = new Hono();
  app.use(mw.affinity(router));
  app.get("/", (c) => c.json({ backend: c.get("backend"), reassigned: c.get("route").reassigned }));
  const first = await app.request("/");
  const { backend } = await first.json();
  assert.ok(["a", "b", "c"].includes(backend));
  const [set] = first.headers.getSetCookie();
  assert.match(set, /^__Host-affinity=[^;]+; Max-Age=\d+; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
  const cookie = cookiesOf(first);
  for (let i = 0; i < 5; i++) {
    const again = await (await app.request("/", { headers: { cookie } })).json();
    assert.deepEqual(again, { backend, reassigned: false });
  }
  router.setHealthy("a", false);
  router.setHealthy("b", false);
  router.setHealthy("c", false);
  const down = await app.request("/", { headers: { cookie } });
  assert.equal(down.status, 503);
  assert.deepEqual(await down.json(), { error: "no_backend" });
});

test("affinity: with strict failover, a visitor whose backend is down gets a 503 backend_unavailable, the others their backends", async () => {
  const router = new Affinity({ secret: SECRET_1, backends: [{ id: "a" }, { id: "b" }], failover: "strict" });
  const app = new Hono();
  app.use(mw.affinity(router));
  app.get("/", (c) => c.text(c.get("backend")));
  const first = await app.request("/");
  const home = await first.text();
  const cookie = cookiesOf(first);
  router.setHealthy(home, false);
  const down = await app.request("/", { headers: { cookie } });
  assert.equal(down.status, 503);
  assert.deepEqual(await down.json(), { error: "backend_unavailable" });
  const other = home === "a" ? "b" : "a";
  assert.equal(await (await app.request("/")).text(), other, "a new visitor goes to the healthy backend");
});

test("affinity: a form another site posts, which came without the cookie, sets none (the browser would keep it in place of the visitor's)", async () => {
  const router = new Affinity({ secret: SECRET_1, backends: [{ id: "a" }, { id: "b" }] });
  const app = new Hono();
  app.use(mw.affinity(router));
  app.all("/", (c) => c.text(c.get("backend")));
  const cross = await app.request("/", { method: "POST", headers: { "sec-fetch-site": "cross-site" } });
  assert.equal(cross.status, 200);
  assert.deepEqual(cross.headers.getSetCookie(), []);
  const same = await app.request("/", { method: "POST", headers: { "sec-fetch-site": "same-origin" } });
  assert.equal(same.headers.getSetCookie().length, 1);
});

test("affinity: in header mode the router's own header is the key (no option needed)", async () => {
  // Without the router's header the middleware routed every request at random.
  const router = new Affinity({ secret: SECRET_1, mode: "header", header: "X-Tenant", backends: [{ id: "a" }, { id: "b" }, { id: "c" }] });
  assert.equal(router.header, "x-tenant");
  const app = new Hono();
  app.use(mw.affinity(router));
  app.get("/", (c) => c.text(c.get("backend")));
  const backends = new Set();
  for (const tenant of ["t1", "t2", "t3", "t4", "t5", "t6"]) {
    const first = await (await app.request("/", { headers: { "x-tenant": tenant } })).text();
    for (let i = 0; i < 5; i++) {
      assert.equal(await (await app.request("/", { headers: { "x-tenant": tenant } })).text(), first, tenant);
    }
    backends.add(first);
  }
  assert.ok(backends.size > 1, "tenants spread over the backends");
  assert.equal(new Affinity({ secret: SECRET_1, backends: [{ id: "a" }] }).header, undefined);
});

test("login and logout outside the middleware say what is missing", async () => {
  const app = new Hono();
  app.get("/", (c) => {
    assert.throws(() => mw.login(c, { sub: "x" }), /needs the sessionTokens or sessionStore middleware/);
    return c.text("ok");
  });
  assert.equal((await app.request("/")).status, 200);
});

test("a middleware given something other than the instance it takes throws a TypeError at once", () => {
  // A configuration passed in place of the instance failed only once a cookie came, or at a login.
  for (const [make, kind] of [
    [(x) => mw.sessionTokens(x), "a SessionTokens or SealedTokens"],
    [(x) => mw.sessionStore(x), "a SessionStore"],
    [(x) => mw.affinity(x), "an Affinity"],
  ]) {
    for (const wrong of [undefined, null, { keys: KEYS_1 }, "tokens", { verify() {} }]) {
      assert.throws(() => make(wrong), (e) => e instanceof TypeError && e.message.includes(kind), String(wrong));
    }
  }
});

test("middleware options of the wrong type are refused when the middleware is made, not at each request", () => {
  // minIssuedAt: 1700000000 (a number, as verify takes it) was taken, then threw a TypeError at
  // every request with a session: logged-in users got 500s. refresh: "false" kept refreshing.
  const tokens = new SessionTokens({ keys: KEYS_1 });
  const store = new SessionStore({ keys: KEYS_1 });
  const router = new Affinity({ secret: SECRET_1, backends: [{ id: "a" }] });
  for (const [make, message] of [
    [() => mw.sessionTokens(tokens, { minIssuedAt: 1700000000 }), "sessionTokens options: minIssuedAt must be a function, not number"],
    [() => mw.sessionTokens(tokens, { refresh: "false" }), "sessionTokens options: refresh must be a boolean, not string"],
    [() => mw.sessionTokens(tokens, { cookieName: 42 }), "sessionTokens options: cookieName must be a string, not number"],
    [() => mw.sessionTokens(tokens, { cookieName: null }), "sessionTokens options: cookieName must be a string, not null"],
    [() => mw.sessionTokens(tokens, { cookie: { secure: "yes" } }), "sessionTokens cookie: secure must be a boolean, not string"],
    [() => mw.sessionTokens(tokens, { cookie: { path: ["/"] } }), "sessionTokens cookie: path must be a string, not object"],
    [() => mw.sessionStore(store, { commit: 0 }), "sessionStore options: commit must be a boolean, not number"],
    [() => mw.affinity(router, { header: true }), "affinity options: header must be a string, not boolean"],
    [() => mw.affinity(router, { clientIp: "cf-connecting-ip" }), "affinity options: clientIp must be a function, not string"],
  ]) {
    assert.throws(make, (e) => e.name === "EdgeSessionError" && e.code === "invalid_config" && e.message === message, message);
  }
  // Each of the right type, or unset, is taken.
  assert.equal(typeof mw.sessionTokens(tokens, { minIssuedAt: () => 0, refresh: false, cookieName: "__Host-s", cookie: { sameSite: "Strict", secure: true } }), "function");
  assert.equal(typeof mw.sessionTokens(tokens, { minIssuedAt: undefined }), "function");
  // null is unset where the library reads it so: a cookie attribute (setCookie's), minIssuedAt.
  assert.equal(typeof mw.sessionTokens(tokens, { minIssuedAt: null, cookie: { domain: null, sameSite: null, secure: null } }), "function");
  assert.equal(typeof mw.sessionStore(store, { commit: false }), "function");
  assert.equal(typeof mw.affinity(router, { header: "x-tenant", clientIp: () => null }), "function");
});

test("middleware options with a name none of theirs are refused, never ignored", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1 });
  const store = new SessionStore({ keys: KEYS_1 });
  const router = new Affinity({ secret: SECRET_1, backends: [{ id: "a" }] });
  const refused = (fn, name) => {
    try {
      fn();
    } catch (e) {
      assert.equal(e.name, "EdgeSessionError");
      assert.equal(e.code, "invalid_config");
      assert.match(e.message, new RegExp(`unknown option "${name}"`));
      return;
    }
    assert.fail(`${name} accepted`);
  };
  // A misspelt cookieName put the session in the default cookie; a misspelt refresh kept refreshing.
  refused(() => mw.sessionTokens(tokens, { cookiename: "s" }), "cookiename");
  refused(() => mw.sessionTokens(tokens, { refesh: false }), "refesh");
  refused(() => mw.sessionStore(store, { comit: false }), "comit");
  refused(() => mw.affinity(router, { clientIP: () => "192.0.2.1" }), "clientIP");
  // Inherited names too, as the options are read through the prototype chain.
  refused(() => mw.sessionTokens(tokens, Object.create({ cookiename: "s" })), "cookiename");
  refused(() => mw.sessionStore(store, Object.create({ comit: false })), "comit");
  // The cookie's attributes too; Max-Age is the token's life.
  refused(() => mw.sessionTokens(tokens, { cookie: { samesite: "Strict" } }), "samesite");
  refused(() => mw.sessionTokens(tokens, { cookie: { maxAge: 60 } }), "maxAge");
  const long = "x".repeat(40);
  try {
    mw.sessionTokens(tokens, { [long]: 1 });
    assert.fail("accepted");
  } catch (e) {
    assert.equal(e.code, "invalid_config");
    assert.ok(!e.message.includes(long));
  }
  // A name is quoted up to 32 bytes; past that (perhaps a secret put in the wrong place) only
  // its size is told.
  refused(() => mw.sessionTokens(tokens, { ["x".repeat(32)]: 1 }), "x".repeat(32));
  assert.throws(() => mw.sessionTokens(tokens, { ["x".repeat(33)]: 1 }), (e) => e.code === "invalid_config" && e.message.endsWith("an unknown option (a name of 33 bytes)"));
  // Options that are no object were read as none: logout(c, true) logged out of this session only.
  const notAnObject = (fn, what) => {
    assert.throws(fn, (e) => e.name === "EdgeSessionError" && e.code === "invalid_config" && e.message === `${what} must be an object`, what);
  };
  notAnObject(() => mw.sessionTokens(tokens, "s"), "sessionTokens options");
  notAnObject(() => mw.sessionTokens(tokens, { cookie: "Strict" }), "sessionTokens cookie");
  notAnObject(() => mw.sessionStore(store, false), "sessionStore options");
  notAnObject(() => mw.affinity(router, "x-tenant"), "affinity options");
  // null is no options, as for the library's calls (it threw a TypeError, destructuring null).
  for (const make of [() => mw.sessionTokens(tokens, null), () => mw.sessionStore(store, null), () => mw.affinity(router, null)]) {
    assert.equal(typeof make(), "function");
  }
  // logout's, in a handler.
  const app = new Hono();
  app.use(mw.sessionTokens(tokens, { cookieName: "s", cookie: {}, minIssuedAt: () => undefined, refresh: true }));
  app.get("/", async (c) => {
    // A misspelt variable logged in under the innermost middleware, not the one meant.
    refused(() => mw.login(c, "alice", { varible: "account" }), "varible");
    refused(() => mw.logout(c, { everywere: true }), "everywere");
    notAnObject(() => mw.logout(c, true), "logout options");
    await mw.logout(c, null);
    await mw.logout(c, { everywhere: true });
    return c.text("ok");
  });
  assert.equal((await app.request("/")).status, 200);
  mw.sessionStore(store, { commit: false });
  mw.affinity(router, { header: "x-tenant", clientIp: () => null });
});

/** A Workers KV binding in memory whose every call takes a few milliseconds, as a real one does. */
const slowKv = () => {
  const m = new Map();
  const later = (f) => new Promise((r) => setTimeout(() => r(f()), 3));
  return {
    m,
    get: (k) => later(() => m.get(k) ?? null),
    put: (k, v) => later(() => void m.set(k, v)),
    delete: (k) => later(() => void m.delete(k)),
    list: ({ prefix = "" } = {}) =>
      later(() => ({ keys: [...m.keys()].filter((k) => k.startsWith(prefix)).map((name) => ({ name })), list_complete: true })),
  };
};

/** A memory store and a (slow) KV one: the strongly consistent kind and Workers KV. */
const memoryAndKv = () => [
  ["memory", new SessionStore({ keys: KEYS_1 })],
  ["kv", new SessionStore({ keys: KEYS_1, kv: slowKv() })],
];

/** A Hono app under sessionStore(store) whose failures answer 500 `error: <code or message>`. */
function storeApp(store) {
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.onError((e, c) => c.text(`error: ${e.code ?? e.message}`, 500));
  return app;
}

test("sessionStore: a login or logout the handler did not await is finished before the commit and the answer", async () => {
  // login(c, ...) under sessionTokens returns at once: a handler written that way under
  // sessionStore committed while regenerate was under way, answered without the new cookie,
  // and the old id named the logged-in session (session fixation); its logout answered before
  // the session was deleted (a Worker may stop there), and a failure of it was unhandled.
  const kv = slowKv();
  const store = new SessionStore({ keys: KEYS_1, kv });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.get("/cart", (c) => {
    c.get("session").set("items", ["book"]);
    return c.text("ok");
  });
  app.post("/login", (c) => {
    mw.login(c, "bob");
    return c.text("in");
  });
  app.post("/logout", (c) => {
    mw.logout(c);
    return c.text("bye");
  });
  app.get("/me", (c) => c.json({ subject: c.get("session").subject ?? null }));
  const cookie = cookiesOf(await app.request("/cart"));
  const login = await app.request("/login", { method: "POST", headers: { cookie } });
  const renewed = cookiesOf(login);
  assert.match(renewed, /^__Host-sid=/, "the new id goes out");
  assert.notEqual(renewed, cookie);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await (await app.request("/me", { headers: { cookie } })).json(), { subject: null }, "the old id names nothing");
  assert.deepEqual(await (await app.request("/me", { headers: { cookie: renewed } })).json(), { subject: "bob" });

  const out = await app.request("/logout", { method: "POST", headers: { cookie: renewed } });
  assert.deepEqual(out.headers.getSetCookie(), ["__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"]);
  assert.equal(await store.find(renewed.replace(/^__Host-sid=/, "")), undefined, "deleted before the answer");

  // A logout that fails (the store is down) is the request's error, not an unhandled rejection.
  const cookie2 = cookiesOf(await app.request("/cart"));
  kv.put = kv.delete = () => Promise.reject(new Error("KV down"));
  app.onError((e, c) => c.text(`error: ${e.code}`, 500));
  const failed = await app.request("/logout", { method: "POST", headers: { cookie: cookie2 } });
  assert.equal(failed.status, 500);
  assert.equal(await failed.text(), "error: store_unavailable");
  assert.deepEqual(failed.headers.getSetCookie(), []);
});

test("sessionStore: a login after a logout in the same request starts an empty session", async () => {
  // A 'switch user' handler: logout, then login as someone else. The logged-out session's
  // data (deleted from the store) went on into the new user's session.
  const kv = slowKv();
  const store = new SessionStore({ keys: KEYS_1, kv });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.post("/login", async (c) => {
    await mw.login(c, c.req.query("user"));
    c.get("session").set("secret", `${c.req.query("user")}'s`);
    return c.text("in");
  });
  app.post("/switch", async (c) => {
    await mw.logout(c);
    await mw.login(c, c.req.query("user"));
    return c.json({ subject: c.get("session")?.subject ?? null });
  });
  app.get("/me", (c) => c.json({ subject: c.get("session").subject ?? null, data: c.get("session").data }));
  const alice = cookiesOf(await app.request("/login?user=alice", { method: "POST" }));
  const switched = await app.request("/switch?user=bob", { method: "POST", headers: { cookie: alice } });
  assert.deepEqual(await switched.json(), { subject: "bob" }, "c.get('session') is the new session");
  const bob = cookiesOf(switched);
  assert.match(bob, /^__Host-sid=/);
  assert.deepEqual(await (await app.request("/me", { headers: { cookie: bob } })).json(), { subject: "bob", data: {} });
  assert.deepEqual(await (await app.request("/me", { headers: { cookie: alice } })).json(), { subject: null, data: {} });
  assert.equal(await store.find(alice.replace(/^__Host-sid=/, "")), undefined);
});

/**
 * README's counter under sessionStore(store): GET / counts the visitor's visits and answers its
 * subject; POST /login?user= logs in (alice by default), POST /logout logs out, and POST
 * /switch?user= does both in one request.
 */
function countingApp(store) {
  const app = storeApp(store);
  app.get("/", (c) => {
    const session = c.get("session");
    session.set("visits", (session.get("visits") ?? 0) + 1);
    return c.json({ subject: session.subject ?? null });
  });
  app.post("/login", async (c) => {
    await mw.login(c, c.req.query("user") ?? "alice");
    return c.text("in");
  });
  app.post("/logout", async (c) => {
    await mw.logout(c);
    return c.text("out");
  });
  app.post("/switch", async (c) => {
    await mw.logout(c);
    await mw.login(c, c.req.query("user"));
    return c.text("in");
  });
  return app;
}

/** What `fn` resolves to, and the lines it wrote with console.warn meanwhile. */
async function warningsOf(fn) {
  const warned = [];
  const warn = console.warn;
  console.warn = (m) => warned.push(m);
  try {
    return [await fn(), warned.join("\n")];
  } finally {
    console.warn = warn;
  }
}

test("sessionStore: a request sent before a login of its browser, answered after it, drops its change and sends no cookie", async () => {
  // README's counter on every GET, beside a login: the counter's new session and its cookie,
  // sent after the login's, logged the user out (18 of 20 logins with Durable Objects).
  for (const [kind, store] of memoryAndKv()) {
    const app = countingApp(store);
    const before = cookiesOf(await app.request("/"));
    const login = cookiesOf(await app.request("/login", { method: "POST", headers: { cookie: before } }));
    assert.match(login, /^__Host-sid=/, kind);
    const [late, warned] = await warningsOf(() => app.request("/", { headers: { cookie: before } }));
    assert.equal(late.status, 200, kind);
    assert.deepEqual(late.headers.getSetCookie(), [], kind);
    assert.match(warned, /renewed by a login/, kind);
    assert.deepEqual(await (await app.request("/", { headers: { cookie: login } })).json(), { subject: "alice" }, kind);
  }
});

test("sessionStore: a request sent before a switch of users or a logout then a login, answered after them, drops its change and sends no cookie", async () => {
  // The old id was deleted by the logout: the late request's change went into a new session
  // whose cookie replaced the login's (the user just logged in was logged out again).
  for (const [kind, store] of memoryAndKv()) {
    const app = countingApp(store);
    for (const apart of [false, true]) {
      const alice = cookiesOf(await app.request("/login?user=alice", { method: "POST" }));
      let bob;
      if (apart) {
        const out = await app.request("/logout", { method: "POST", headers: { cookie: alice } });
        assert.match(out.headers.getSetCookie().join(), /Max-Age=0/, kind);
        bob = cookiesOf(await app.request("/login?user=bob", { method: "POST" }));
      } else {
        bob = cookiesOf(await app.request("/switch?user=bob", { method: "POST", headers: { cookie: alice } }));
      }
      assert.match(bob, /^__Host-sid=/, kind);
      const [late, warned] = await warningsOf(() => app.request("/", { headers: { cookie: alice } }));
      assert.deepEqual(await late.json(), { subject: null }, `${kind} ${apart}`);
      assert.deepEqual(late.headers.getSetCookie(), [], `${kind} ${apart}: no cookie over bob's`);
      assert.match(warned, /ended by a logout/, kind);
      assert.deepEqual(await (await app.request("/", { headers: { cookie: bob } })).json(), { subject: "bob" }, kind);
    }
  }
});

test("sessionStore: a handler that throws after a login removes the old id's cookie, which then names no session", async () => {
  // Kept, the old id (ended by the login) named one renewed for a minute: every change the
  // visitor made in that minute was dropped, each answered 200.
  for (const [kind, store] of memoryAndKv()) {
    const app = storeApp(store);
    app.post("/cart", (c) => {
      const session = c.get("session");
      session.set("cart", [...(session.get("cart") ?? []), c.req.query("item")]);
      return c.json(session.data);
    });
    app.post("/login", async (c) => {
      await mw.login(c, "alice");
      throw new Error("the database failed after the login");
    });
    const before = cookiesOf(await app.request("/cart?item=book", { method: "POST" }));
    const failed = await app.request("/login", { method: "POST", headers: { cookie: before } });
    assert.equal(failed.status, 500, kind);
    assert.deepEqual(failed.headers.getSetCookie(), ["__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"], kind);
    // The browser dropped it: its next change begins a new session, with its cookie.
    const next = await app.request("/cart?item=pen", { method: "POST" });
    assert.deepEqual(await next.json(), { cart: ["pen"] }, kind);
    assert.match(cookiesOf(next), /^__Host-sid=/, kind);
  }
});

test("sessionStore and sessionTokens: on Workers the request's work is kept by waitUntil, so that a client gone away leaves no store call unsettled", async () => {
  // workerd cancels what a request awaits when its client goes away: a store call that never
  // settled kept its state in the wasm memory for good (about 1 KB each).
  const store = new SessionStore({ keys: KEYS_1, kv: slowKv() });
  const app = storeApp(store);
  app.get("/", (c) => {
    c.get("session").set("n", 1);
    return c.text("ok");
  });
  const kept = [];
  const ctx = { waitUntil: (p) => kept.push(p), passThroughOnException() {} };
  const res = await app.request("/", {}, {}, ctx);
  assert.equal(res.status, 200);
  assert.equal(kept.length, 1, "the middleware's work");
  assert.equal(await kept[0], undefined, "settled, the commit done");
  assert.match(cookiesOf(res), /^__Host-sid=/);
  // Without an execution context (Node, Deno, Bun), the same answer.
  assert.equal((await app.request("/")).status, 200);
  // So is sessionTokens' work, whose minIssuedAt may ask the store.
  const tokens = new SessionTokens({ keys: KEYS_1 });
  const app2 = new Hono();
  app2.use(mw.sessionTokens(tokens, { minIssuedAt: (claims) => store.minIssuedAt(claims.sub) }));
  app2.get("/", (c) => c.json(c.get("session")));
  kept.length = 0;
  const token = tokens.sign({ sub: "alice" });
  const res2 = await app2.request("/", { headers: { cookie: `__Host-session=${token}` } }, {}, ctx);
  assert.equal((await res2.json()).sub, "alice");
  assert.equal(kept.length, 1);
  await kept[0];
});

/**
 * Durable Objects in memory (the library's own object handler over a Map per object), whose
 * next answer to an operation `op` waits, once the object has done it, until `open()` is called:
 * another step of the request lands in the middle of an operation of several round trips.
 */
const pausingObjects = () => {
  const objects = new Map();
  const storage = (id) => {
    if (!objects.has(id)) {
      const m = new Map();
      objects.set(id, {
        get: async (k) => m.get(k),
        put: async (k, v) => void m.set(k, v),
        delete: async (k) => m.delete(k),
        list: async ({ prefix = "" } = {}) => new Map([...m].filter(([k]) => k.startsWith(prefix))),
        deleteAll: async () => m.clear(),
        setAlarm: async () => {},
      });
    }
    return objects.get(id);
  };
  let pause;
  const namespace = {
    idFromName: (name) => name,
    get: (id) => ({
      fetch: async (url, init) => {
        const answer = await handleSessionObject(storage(id), new Request(url, init));
        if (pause && JSON.parse(init.body).op === pause.op) {
          const { reached, open } = pause;
          pause = undefined;
          reached();
          await open;
        }
        return answer;
      },
    }),
  };
  const after = (op) => {
    let reached, open;
    const at = new Promise((r) => (reached = r));
    const opened = new Promise((r) => (open = r));
    pause = { op, reached, open: opened };
    return { at, open };
  };
  return { namespace, after };
};

test("sessionStore: a logout while a login of the same request is under way (not awaited) logs out, never fails the request", async () => {
  // The logout deleted the session under the login's regenerate (paused after its first
  // compare-and-set): the regenerate's last one was a `conflict` (Durable Objects), which the
  // middleware threw: a 500, and no removal of the cookie sent.
  const objects = pausingObjects();
  const store = new SessionStore({ keys: KEYS_1, durableObject: objects.namespace });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.post("/login", async (c) => {
    await mw.login(c, "alice");
    return c.text("in");
  });
  app.post("/mfa", async (c) => {
    const paused = objects.after("save");
    mw.login(c, "bob"); // not awaited, as the docs allow
    await paused.at; // the handler's own await (a second factor checked)
    const out = mw.logout(c); // it failed
    await new Promise((resolve) => setTimeout(resolve, 5));
    paused.open();
    await out;
    return c.text("out");
  });
  const alice = cookiesOf(await app.request("/login", { method: "POST" }));
  const res = await app.request("/mfa", { method: "POST", headers: { cookie: alice } });
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(res.headers.getSetCookie().map((c) => c.split(";")[0]), ["__Host-sid="]);
  assert.equal(await store.find(alice.replace(/^__Host-sid=/, "")), undefined);
});

test("a login after a logout, the session middleware mounted twice (the app's and a sub-app's): the login's cookie is the one kept", async () => {
  // The outer middleware of the same cookie stayed logged out, and sent its removal after the
  // login's cookie: the browser kept the removal, and the user who had just logged in was out.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const kinds = [
    ["sessionStore", () => mw.sessionStore(new SessionStore({ keys: KEYS_1 })), "__Host-sid"],
    ["sessionTokens", () => mw.sessionTokens(tokens), "__Host-session"],
  ];
  for (const [kind, make, name] of kinds) {
    const middleware = make();
    const app = new Hono();
    app.use(middleware);
    app.use("/account/*", middleware);
    app.post("/account/login", async (c) => {
      await mw.login(c, c.req.query("user"));
      return c.text("in");
    });
    app.post("/account/switch", async (c) => {
      await mw.logout(c);
      await mw.login(c, c.req.query("user"));
      return c.text("switched");
    });
    app.get("/account/me", (c) => {
      const session = c.get("session");
      return c.json({ subject: session?.subject ?? session?.sub ?? null });
    });
    const alice = cookiesOf(await app.request("/account/login?user=alice", { method: "POST" }));
    const switched = await app.request("/account/switch?user=bob", { method: "POST", headers: { cookie: alice } });
    assert.equal(switched.status, 200, kind);
    const set = switched.headers.getSetCookie().filter((c) => c.startsWith(`${name}=`));
    assert.equal(set.length, 1, `${kind}: ${set}`);
    assert.doesNotMatch(set[0], /Max-Age=0/, kind);
    const me = await app.request("/account/me", { headers: { cookie: cookiesOf(switched) } });
    assert.deepEqual(await me.json(), { subject: "bob" }, kind);
  }
});

test("sessionStore: a login after a logout everywhere in the same request starts an empty session, on every kind of store", async () => {
  // 'Log out everywhere, then log in as someone else' (a password reset that signs the user in
  // again, a switch of user): the revoked session stayed the request's Session, so the login's
  // regenerate compared-and-set an id the revocation had deleted: a conflict on the strongly
  // consistent stores (memory here, Durable Objects), and the request failed.
  for (const [kind, store] of memoryAndKv()) {
    const app = storeApp(store);
    app.post("/login", async (c) => {
      await mw.login(c, c.req.query("user"));
      c.get("session").set("secret", `${c.req.query("user")}'s`);
      return c.text("in");
    });
    app.post("/switch", async (c) => {
      await mw.logout(c, { everywhere: true });
      await mw.login(c, c.req.query("user"));
      return c.json({ subject: c.get("session")?.subject ?? null });
    });
    app.get("/me", (c) => c.json({ subject: c.get("session").subject ?? null, data: c.get("session").data }));
    const alice = cookiesOf(await app.request("/login?user=alice", { method: "POST" }));
    const phone = cookiesOf(await app.request("/login?user=alice", { method: "POST" }));
    const switched = await app.request("/switch?user=bob", { method: "POST", headers: { cookie: alice } });
    assert.equal(switched.status, 200, `${kind}: ${await switched.clone().text()}`);
    assert.deepEqual(await switched.json(), { subject: "bob" }, kind);
    const bob = cookiesOf(switched);
    assert.match(bob, /^__Host-sid=/, kind);
    assert.notEqual(bob, alice, kind);
    assert.deepEqual(await (await app.request("/me", { headers: { cookie: bob } })).json(), { subject: "bob", data: {} }, kind);
    for (const gone of [alice, phone]) {
      assert.deepEqual(await (await app.request("/me", { headers: { cookie: gone } })).json(), { subject: null, data: {} }, kind);
    }
    assert.equal(await store.revokeSubject("alice"), 0, `${kind}: nothing of alice's is left`);
  }
});

test("sessionTokens and sessionStore on one route: logout ends both, login the innermost", async () => {
  // Each middleware kept its state under one key of the context, the inner one replacing the
  // outer's: logout cleared the store's cookie and left the session token valid in the browser.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const store = new SessionStore({ keys: KEYS_1 });
  const app = new Hono();
  app.use(mw.sessionTokens(tokens, { variable: "account" }));
  app.use(mw.sessionStore(store));
  app.post("/login", async (c) => {
    await mw.login(c, "dave");
    return c.text("in");
  });
  app.post("/logout", async (c) => {
    await mw.logout(c);
    return c.json({ session: c.get("session") });
  });
  const token = tokens.sign({ sub: "dave" });
  const sid = cookiesOf(await app.request("/login", { method: "POST" }));
  assert.match(sid, /^__Host-sid=[^;]+$/, "login: the store's (innermost) session only");
  const out = await app.request("/logout", { method: "POST", headers: { cookie: `__Host-session=${token}; ${sid}` } });
  assert.deepEqual(out.headers.getSetCookie().sort(), [
    "__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
    "__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
  ]);
  assert.deepEqual(await out.json(), { session: null });
  assert.equal(await store.find(sid.replace(/^__Host-sid=/, "")), undefined);
});

// With one variable, the inner middleware hid the outer's session: the cart of a sessionStore
// around the account's sessionTokens was unreachable (c.get("cart").set threw in the handler),
// and the types made c.get("session") both a Session and claims.
test("two session middlewares on a route: each under a variable of its own, or every request refused", async () => {
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const store = new SessionStore({ keys: KEYS_1 });
  for (const [outer, inner] of [
    [mw.sessionStore(store), mw.sessionTokens(tokens)],
    // The other way round: the store's one name among the tokens' two (session, sessionError).
    [mw.sessionTokens(tokens), mw.sessionStore(store)],
    [mw.sessionTokens(tokens), mw.sessionTokens(tokens, { cookieName: "__Host-admin" })],
    [mw.sessionStore(store), mw.sessionStore(new SessionStore({ keys: KEYS_1 }))],
  ]) {
    const clash = new Hono();
    let error;
    clash.onError((e, c) => ((error = e), c.text("error", 500)));
    clash.use(outer).use(inner).get("/", (c) => c.text("never"));
    assert.equal((await clash.request("/")).status, 500);
    assert.equal(error?.code, "invalid_config");
    assert.match(error.message, /c\.get\("session"\).*variable/);
  }
  const app = new Hono();
  app.use(mw.sessionStore(store, { variable: "cart" }));
  app.use(mw.sessionTokens(tokens, { variable: "account" }));
  app.post("/add", (c) => {
    c.get("cart").set("items", ["book"]);
    return c.json({ account: c.get("account"), error: c.get("accountError") ?? null, session: c.get("session") ?? null });
  });
  app.post("/login", (c) => {
    mw.login(c, "alice");
    return c.json({ account: c.get("account").sub, items: c.get("cart").get("items") });
  });
  app.post("/logout", async (c) => {
    await mw.logout(c);
    return c.json({ account: c.get("account"), cart: c.get("cart") });
  });
  const added = await app.request("/add", { method: "POST", headers: { cookie: "__Host-session=forged" } });
  assert.deepEqual(await added.json(), { account: null, error: "malformed", session: null });
  const login = await app.request("/login", { method: "POST", headers: { cookie: cookiesOf(added) } });
  assert.deepEqual(await login.json(), { account: "alice", items: ["book"] }, "the cart kept, under a new id");
  const out = await app.request("/logout", { method: "POST", headers: { cookie: cookiesOf(login) } });
  assert.deepEqual(await out.json(), { account: null, cart: null });
  assert.equal(out.headers.getSetCookie().filter((c) => /Max-Age=0/.test(c)).length, 2, "both cookies cleared");
  for (const variable of ["", "backend", "route", 42]) {
    assert.throws(() => mw.sessionStore(store, { variable }), (e) => e.code === "invalid_config", String(variable));
    assert.throws(() => mw.sessionTokens(tokens, { variable }), (e) => e.code === "invalid_config", String(variable));
  }
  // The cart inside the account: login names the middleware it logs in under (the innermost,
  // the cart, took it, signed no token and dropped the role), and the cart gets a new id.
  const inside = new Hono();
  inside.use(mw.sessionTokens(tokens, { variable: "account" }));
  inside.use(mw.sessionStore(store, { variable: "cart" }));
  inside.post("/add", (c) => (c.get("cart").set("items", ["pen"]), c.text("ok")));
  inside.post("/login", (c) => {
    const token = mw.login(c, { sub: "bob", role: "admin" }, { variable: "account" });
    return c.json({ token: typeof token, role: c.get("account").role, subject: c.get("cart").subject ?? null });
  });
  inside.post("/nobody", (c) => (mw.login(c, "bob", { variable: "admin" }), c.text("never")));
  const cart = cookiesOf(await inside.request("/add", { method: "POST" }));
  const bob = await inside.request("/login", { method: "POST", headers: { cookie: cart } });
  assert.deepEqual(await bob.json(), { token: "string", role: "admin", subject: null });
  const set = bob.headers.getSetCookie().map((c) => c.split("=")[0]).sort();
  assert.deepEqual(set, ["__Host-session", "__Host-sid"], "the token, and the cart under a new id");
  assert.notEqual(cookiesOf(bob).match(/__Host-sid=[^;]+/)[0], cart);
  let nobody;
  inside.onError((e, c) => ((nobody = e), c.text("error", 500)));
  await inside.request("/nobody", { method: "POST" });
  assert.equal(nobody?.code, "invalid_config");
  // Mounted twice, but not alike (the sub-app's without the app's minIssuedAt, which would hand
  // the handler a revoked session), or a name that is another's error variable: refused.
  const revoked = tokens.sign({ sub: "mallory" });
  for (const [outer, inner] of [
    [mw.sessionTokens(tokens, { minIssuedAt: () => Math.floor(Date.now() / 1000) + 10 }), mw.sessionTokens(tokens)],
    [mw.sessionStore(store, { variable: "accountError" }), mw.sessionTokens(tokens, { variable: "account" })],
  ]) {
    const twice = new Hono();
    let error;
    twice.onError((e, c) => ((error = e), c.text("error", 500)));
    twice.use(outer).use(inner).get("/", (c) => c.json(c.get("session") ?? null));
    assert.equal((await twice.request("/", { headers: { cookie: `__Host-session=${revoked}` } })).status, 500);
    assert.equal(error?.code, "invalid_config");
  }
  // Two stores under one cookie, named apart: a login renewed both, and the browser kept the id
  // of the one without the login. Refused.
  const shared = new Hono();
  let sharedError;
  shared.onError((e, c) => ((sharedError = e), c.text("error", 500)));
  shared.use(mw.sessionStore(store)).use(mw.sessionStore(store, { variable: "cart" })).get("/", (c) => c.text("never"));
  assert.equal((await shared.request("/")).status, 500);
  assert.match(sharedError?.message ?? "", /write the cookie __Host-sid/);
  // A middleware made at each request (its minIssuedAt a new function each time), mounted by
  // the app and by a sub-app: the same settings, so no name is needed.
  const auth = (c, next) => mw.sessionTokens(tokens, { minIssuedAt: async () => undefined })(c, next);
  const sub = new Hono().use(auth).get("/me", (c) => c.json(c.get("session")?.sub ?? null));
  const outer = new Hono().use(auth).route("/sub", sub);
  const me = await outer.request("/sub/me", { headers: { cookie: `__Host-session=${tokens.sign({ sub: "carol" })}` } });
  assert.deepEqual([me.status, await me.json()], [200, "carol"]);
});

test("sessionTokens: login with a subject string, as under sessionStore, signs { sub }", async () => {
  // hono.d.ts types login(c, subject: string) for any context and README says login works under
  // either middleware: under sessionTokens it threw invalid_claims (a 500).
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const app = new Hono();
  app.use(mw.sessionTokens(tokens));
  app.post("/login", (c) => {
    const token = mw.login(c, "erin");
    return c.json({ sub: c.get("session").sub, token: typeof token });
  });
  const res = await app.request("/login", { method: "POST" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { sub: "erin", token: "string" });
  assert.equal(tokens.verify(getCookie(cookiesOf(res), "__Host-session")).sub, "erin");
});

test("a response that gets one of the middleware's cookies loses the CDN's own cache fields, which a CDN reads before Cache-Control", async () => {
  // CDN-Cache-Control (RFC 9213), Cloudflare-CDN-Cache-Control, Vercel-CDN-Cache-Control and
  // Surrogate-Control tell a CDN how to cache in place of Cache-Control: an app's (or a global
  // middleware's) 'CDN-Cache-Control: max-age=600' kept a login or a refresh cacheable there
  // whatever Cache-Control said. Removed, the CDN falls back to the private Cache-Control.
  const targeted = {
    "cdn-cache-control": "max-age=600",
    "cloudflare-cdn-cache-control": "public, max-age=600",
    "vercel-cdn-cache-control": "max-age=600",
    "surrogate-control": "max-age=600",
    "edge-control": "max-age=600",
  };
  const fields = (res) => Object.keys(targeted).filter((name) => res.headers.has(name));
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const store = new SessionStore({ keys: KEYS_1 });
  const router = new Affinity({ secret: SECRET_1, backends: [{ id: "a" }] });
  const app = new Hono();
  app.use("/t/*", mw.sessionTokens(tokens));
  app.use("/s/*", mw.sessionStore(store));
  app.use("/a/*", mw.affinity(router));
  app.use(async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(targeted)) c.res.headers.set(name, value);
  });
  for (const kind of ["t", "s", "a"]) {
    app.get(`/${kind}/page`, (c) => {
      if (kind === "s") c.get("session").set("seen", true);
      return c.text("page", 200, { "cache-control": c.req.query("cc") ?? "public, max-age=60" });
    });
    app.post(`/${kind}/login`, async (c) => {
      await mw.login(c, "frank");
      return c.text("in");
    });
    app.post(`/${kind}/logout`, async (c) => {
      await mw.logout(c);
      return c.text("out");
    });
  }
  const now = Math.floor(Date.now() / 1000);
  const old = `__Host-session=${tokens.sign({ sub: "a" }, { now: now - 60 })}`;
  const young = `__Host-session=${tokens.sign({ sub: "a" }, { now: now - 1 })}`;
  const answers = {
    "token refresh": await app.request("/t/page", { headers: { cookie: old } }),
    "token refresh, no-store": await app.request("/t/page?cc=no-store", { headers: { cookie: old } }),
    "token login": await app.request("/t/login", { method: "POST" }),
    "token logout": await app.request("/t/logout", { method: "POST", headers: { cookie: young } }),
    "new stored session": await app.request("/s/page"),
    "stored login": await app.request("/s/login", { method: "POST" }),
    "stored logout": await app.request("/s/logout", { method: "POST" }),
    "affinity cookie": await app.request("/a/page"),
  };
  for (const [what, res] of Object.entries(answers)) {
    assert.equal(res.headers.getSetCookie().length, 1, what);
    assert.match(res.headers.get("cache-control"), /^(private|no-store)\b/, what);
    assert.deepEqual(fields(res), [], what);
  }
  // Without a cookie of ours, the app's fields stay.
  const plain = await app.request("/t/page", { headers: { cookie: young } });
  assert.deepEqual(plain.headers.getSetCookie(), []);
  assert.deepEqual(fields(plain), Object.keys(targeted));
});

test("sessionStore: a login as another user, with no logout before, starts an empty session (as at the gateway)", async () => {
  // login(c, "bob") on alice's session moved alice's data to bob's new id: who logs in on a
  // shared browser read what the previous user left. The gateway empties it (docs/store.md).
  const store = new SessionStore({ keys: KEYS_1, kv: slowKv() });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.post("/login", async (c) => {
    await mw.login(c, c.req.query("user"));
    return c.text("in");
  });
  app.post("/note", (c) => {
    c.get("session").set("note", "alice's secret");
    return c.text("ok");
  });
  app.get("/me", (c) => c.json({ subject: c.get("session").subject ?? null, data: c.get("session").data }));
  const me = async (cookie) => (await app.request("/me", { headers: { cookie } })).json();
  const alice = cookiesOf(await app.request("/login?user=alice", { method: "POST" }));
  await app.request("/note", { method: "POST", headers: { cookie: alice } });
  // The same user again (a login renewed): the data stay.
  const again = cookiesOf(await app.request("/login?user=alice", { method: "POST", headers: { cookie: alice } }));
  assert.deepEqual(await me(again), { subject: "alice", data: { note: "alice's secret" } });
  const bob = cookiesOf(await app.request("/login?user=bob", { method: "POST", headers: { cookie: again } }));
  assert.deepEqual(await me(bob), { subject: "bob", data: {} });
  assert.equal(await store.find(again.replace(/^__Host-sid=/, "")), undefined);
});

test("sessionStore: a handler that sets the subject itself (no login(c)) gets a new session id: the new cookie goes out, the old one names nothing", async () => {
  // `c.get("session").subject = "alice"` then the middleware's commit kept the id the browser
  // had (or an attacker planted): session fixation.
  for (const commit of [true, false]) {
    const store = new SessionStore({ keys: KEYS_1 });
    const app = new Hono();
    app.use(mw.sessionStore(store, { commit }));
    app.get("/cart", async (c) => {
      c.get("session").set("items", ["book"]);
      if (!commit) await store.commit(c.get("session"));
      return c.text("ok");
    });
    app.post("/login", async (c) => {
      c.get("session").subject = "alice";
      if (!commit) await store.commit(c.get("session"));
      return c.text("in");
    });
    app.get("/me", (c) => c.json({ subject: c.get("session").subject ?? null, data: c.get("session").data }));
    const planted = cookiesOf(await app.request("/cart"));
    assert.match(planted, /^__Host-sid=[^;]+$/);
    const login = await app.request("/login", { method: "POST", headers: { cookie: planted } });
    const renewed = cookiesOf(login);
    assert.match(renewed, /^__Host-sid=[^;]+$/, `commit: ${commit}: the new id goes out`);
    assert.notEqual(renewed, planted, `commit: ${commit}`);
    assert.match(login.headers.get("cache-control"), /private/);
    assert.deepEqual(await (await app.request("/me", { headers: { cookie: renewed } })).json(), { subject: "alice", data: { items: ["book"] } });
    assert.deepEqual(await (await app.request("/me", { headers: { cookie: planted } })).json(), { subject: null, data: {} }, "the planted id names nothing");
    assert.equal(await store.find(planted.replace(/^__Host-sid=/, "")), undefined);
  }
});

test("sessionStore: a session cookie planted ahead of the visitor's own (a name without __Host-) does not hide the visitor's session", async () => {
  // A sibling subdomain can set `sid` with a longer path, which browsers send first; the store
  // read only the first cookie of the name, and the visitor got a new, empty session.
  const store = new SessionStore({ keys: KEYS_1, cookieName: "sid" });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.post("/cart", (c) => {
    c.get("session").set("items", ["book"]);
    return c.text("ok");
  });
  app.get("/me", (c) => c.json(c.get("session").data));
  const own = cookiesOf(await app.request("/cart", { method: "POST" }));
  assert.match(own, /^sid=[^;]+$/);
  for (const ahead of ["sid=forged", own.slice(0, -2)]) {
    const res = await app.request("/me", { headers: { cookie: `${ahead}; ${own}` } });
    assert.deepEqual(await res.json(), { items: ["book"] }, ahead);
    assert.deepEqual(res.headers.getSetCookie(), [], `${ahead}: the visitor keeps its cookie`);
  }
});

test("a login that throws changes nothing: a logout before it stays, an answer's Clear-Site-Data still logs out, the session's data stay", async () => {
  // The login marked the request logged in before its signing or its subject check could throw:
  // a handler that caught the error kept the visitor logged in (the logout's removal not sent,
  // the old token refreshed; a Clear-Site-Data answer left the stored session working).
  const REMOVED = (name) => `${name}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax`;
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const store = new SessionStore({ keys: KEYS_1 });
  const refused = (c, claims) => {
    try {
      mw.login(c, claims);
    } catch (e) {
      return e.code;
    }
  };
  const tokenApp = new Hono();
  tokenApp.use(mw.sessionTokens(tokens));
  // Claims sign refuses, and claims it signs that are not valid yet (the login's own verify).
  const later = Math.floor(Date.now() / 1000) + 60; // past the leeway, before exp
  const bad = { invalid_claims: { sub: "bob", n: 10n }, not_yet_valid: { sub: "bob", nbf: later } };
  tokenApp.post("/:code", async (c) => {
    await mw.logout(c);
    return c.json({ code: refused(c, bad[c.req.param("code")]) }, 400);
  });
  const old = tokens.sign({ sub: "alice" }, { now: Math.floor(Date.now() / 1000) - 60 }); // due a refresh
  for (const code of Object.keys(bad)) {
    const res = await tokenApp.request(`/${code}`, { method: "POST", headers: { cookie: `__Host-session=${old}` } });
    assert.deepEqual(await res.json(), { code });
    assert.deepEqual(res.headers.getSetCookie(), [REMOVED("__Host-session")], `${code}: the logout's removal, no refreshed token`);
  }

  const storeApp = new Hono();
  storeApp.use(mw.sessionStore(store));
  storeApp.post("/login", async (c) => {
    await mw.login(c, "alice");
    c.get("session").set("cart", ["book"]);
    return c.text("in");
  });
  storeApp.post("/logout", async (c) => {
    await mw.logout(c);
    return c.json({ code: refused(c, undefined) });
  });
  storeApp.post("/bye", (c) => c.json({ code: refused(c, undefined) }, 200, { "clear-site-data": '"cookies"' }));
  storeApp.post("/switch", (c) => c.json({ code: refused(c, "bob\uD800"), data: c.get("session").data }));
  const login = async () => cookiesOf(await storeApp.request("/login", { method: "POST" }));
  for (const path of ["/logout", "/bye"]) {
    const cookie = await login();
    const res = await storeApp.request(path, { method: "POST", headers: { cookie } });
    assert.equal((await res.json()).code, "invalid_config", path);
    assert.deepEqual(res.headers.getSetCookie(), [REMOVED("__Host-sid")], `${path}: the removal goes out`);
    assert.equal(await store.find(cookie), undefined, `${path}: the stored session is deleted`);
  }
  // A subject the store refuses (not well-formed UTF-16): the session keeps its user and data.
  const cookie = await login();
  const switched = await storeApp.request("/switch", { method: "POST", headers: { cookie } });
  assert.deepEqual(await switched.json(), { code: "invalid_config", data: { cart: ["book"] } });
  assert.deepEqual((await store.find(cookie))?.data, { cart: ["book"] });
  assert.equal((await store.find(cookie))?.subject, "alice");
});

test("login without a subject is an EdgeSessionError, as the library's own refusals are: invalid_config under sessionStore, invalid_claims under sessionTokens", async () => {
  // Under sessionStore it was a plain TypeError, which `isEdgeSessionError` and a handler
  // switching on `error.code` did not recognise.
  const store = new SessionStore({ keys: KEYS_1 });
  const tokens = new SessionTokens({ keys: KEYS_1 });
  for (const [middleware, claims, code] of [
    [mw.sessionStore(store), {}, "invalid_config"],
    [mw.sessionStore(store), { sub: 42 }, "invalid_config"],
    [mw.sessionStore(store), undefined, "invalid_config"],
    [mw.sessionTokens(tokens), 42, "invalid_claims"],
  ]) {
    const app = new Hono();
    app.use(middleware);
    app.post("/login", (c) => {
      try {
        mw.login(c, claims);
      } catch (e) {
        return c.json({ name: e.name, code: e.code });
      }
      return c.json({ name: null });
    });
    const res = await app.request("/login", { method: "POST" });
    assert.deepEqual(await res.json(), { name: "EdgeSessionError", code }, JSON.stringify(claims));
    assert.deepEqual(res.headers.getSetCookie(), [], "nothing logged in");
  }
});

test("sessionStore: what a handler sets after a login it did not await (another await between) is kept", async () => {
  // The login's regenerate put back the Session as it was when it started: a value set after
  // the handler's next await (a database call) was lost, and the commit wrote nothing.
  const store = new SessionStore({ keys: KEYS_1, kv: slowKv() });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  app.get("/cart", (c) => {
    c.get("session").set("items", ["book"]);
    return c.text("ok");
  });
  app.post("/login", async (c) => {
    mw.login(c, "bob");
    await new Promise((r) => setTimeout(r, 1));
    c.get("session").set("greeting", "hi bob");
    return c.text("in");
  });
  app.get("/me", (c) => c.json({ subject: c.get("session").subject ?? null, data: c.get("session").data }));
  const cookie = cookiesOf(await app.request("/cart"));
  const renewed = cookiesOf(await app.request("/login", { method: "POST", headers: { cookie } }));
  assert.match(renewed, /^__Host-sid=/);
  assert.deepEqual(await (await app.request("/me", { headers: { cookie: renewed } })).json(), {
    subject: "bob",
    data: { items: ["book"], greeting: "hi bob" },
  });
});

test("sessionStore: a login after a logout everywhere the handler did not await ends the other sessions, not the new one", async () => {
  // 'Log out my other devices, stay logged in here': logout(c, { everywhere: true }) not awaited
  // (the middleware allows it), then login(c, sameUser). The login's regenerate ran beside the
  // logout, linked the new session to the user, and the revocation that came after the destroy
  // ended it: the response sent a cookie that named nothing.
  for (const [kind, store] of memoryAndKv()) {
    const app = storeApp(store);
    app.post("/login", async (c) => {
      await mw.login(c, "alice");
      return c.text("in");
    });
    app.post("/others-out", async (c) => {
      mw.logout(c, { everywhere: true });
      await mw.login(c, "alice");
      return c.text("ok");
    });
    app.get("/me", (c) => c.json({ subject: c.get("session").subject ?? null }));
    const laptop = cookiesOf(await app.request("/login", { method: "POST" }));
    const phone = cookiesOf(await app.request("/login", { method: "POST" }));
    const res = await app.request("/others-out", { method: "POST", headers: { cookie: laptop } });
    assert.equal(res.status, 200, `${kind}: ${await res.clone().text()}`);
    const here = cookiesOf(res);
    assert.match(here, /^__Host-sid=/, kind);
    assert.deepEqual(await (await app.request("/me", { headers: { cookie: here } })).json(), { subject: "alice" }, `${kind}: logged in here`);
    for (const gone of [laptop, phone]) {
      assert.deepEqual(await (await app.request("/me", { headers: { cookie: gone } })).json(), { subject: null }, kind);
    }
    assert.equal(await store.revokeSubject("alice"), 1, `${kind}: the new session alone is left`);
  }
});

test("sessionTokens: a minIssuedAt lookup that fails with an error code of its own (the store down) fails the request, not the token", async () => {
  // The lookup's errors were told from the token's by having a string `code`: the store's
  // store_unavailable (or a database driver's ECONNREFUSED) made the visitor anonymous for the
  // request, sessionError the lookup's code, where hono.d.ts says a lookup that throws fails it.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const kv = slowKv();
  kv.get = () => Promise.reject(new Error("KV down"));
  const store = new SessionStore({ keys: KEYS_1, kv });
  const lookups = [
    ["store", (claims) => store.minIssuedAt(claims.sub), "store_unavailable"],
    ["driver", async () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })), "ECONNREFUSED"],
  ];
  for (const [what, minIssuedAt, code] of lookups) {
    const app = tokenApp(tokens, { minIssuedAt });
    app.onError((e, c) => c.text(`error: ${e.code}`, 500));
    const old = tokens.sign({ sub: "alice" }, { now: Math.floor(Date.now() / 1000) - 3000 });
    const res = await app.request("/", { headers: { cookie: `__Host-session=${old}` } });
    assert.equal(res.status, 500, `${what}: ${await res.clone().text()}`);
    assert.equal(await res.text(), `error: ${code}`, what);
    assert.deepEqual(res.headers.getSetCookie(), [], `${what}: the session cookie is neither cleared nor refreshed`);
  }
  // A token that is refused is still the token's: no lookup, the visitor anonymous.
  const app = tokenApp(tokens, { minIssuedAt: (claims) => store.minIssuedAt(claims.sub) });
  const expired = tokens.sign({ sub: "alice" }, { now: Math.floor(Date.now() / 1000) - 7200 });
  const res = await app.request("/", { headers: { cookie: `__Host-session=${expired}` } });
  assert.deepEqual(await res.json(), { session: null, error: "expired" });
});

test("sessionTokens: no sliding refresh over a Set-Cookie of the session cookie already on the response", async () => {
  // The refresh was appended after whatever the response carried, and a browser keeps the last
  // Set-Cookie of a name: a handler that logged out by deleting the cookie itself (hono/cookie)
  // was logged in again by the refresh of a token past refreshAfter; a second sessionTokens
  // (the app's and a sub-app's) put the old user's refreshed token after the inner one's login.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const now = Math.floor(Date.now() / 1000);
  const old = `__Host-session=${tokens.sign({ sub: "alice" }, { now: now - 60 })}`;
  const last = (res) => getCookie(res.headers.getSetCookie().map((c) => c.split(";")[0]).at(-1) ?? "", "__Host-session");

  const app = new Hono();
  app.use(mw.sessionTokens(tokens));
  app.post("/logout", (c) => {
    deleteCookie(c, "__Host-session", { path: "/", secure: true });
    return c.text("bye");
  });
  const out = await app.request("/logout", { method: "POST", headers: { cookie: old } });
  assert.equal(out.headers.getSetCookie().length, 1, out.headers.getSetCookie().join("\n"));
  assert.equal(last(out), "", "the deletion is the last word");

  const sub = new Hono();
  sub.use(mw.sessionTokens(tokens));
  sub.post("/login", (c) => {
    mw.login(c, "bob");
    return c.text("in");
  });
  sub.get("/page", (c) => c.text(c.get("session").sub));
  const outer = new Hono();
  outer.use(mw.sessionTokens(tokens));
  outer.route("/sub", sub);
  const login = await outer.request("/sub/login", { method: "POST", headers: { cookie: old } });
  assert.equal(tokens.verify(last(login)).sub, "bob", "bob is logged in");
  assert.equal(login.headers.getSetCookie().length, 1);
  // A refresh alone: once.
  const page = await outer.request("/sub/page", { headers: { cookie: old } });
  assert.equal(page.headers.getSetCookie().length, 1);
  assert.equal(tokens.verify(last(page)).sub, "alice");
});

test("login and logout once the middleware has answered (in a stream's callback) throw, never do nothing", async () => {
  // The callback of hono/streaming's stream() runs after the handler returned and the middleware
  // made its cookies: under sessionTokens a logout there cleared nothing and left the token
  // valid, a login returned a token that no cookie carried; under sessionStore a login
  // regenerated the session (the old id deleted) without sending the new id, logging the
  // visitor out.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const store = new SessionStore({ keys: KEYS_1 });
  for (const [kind, middleware] of [
    ["tokens", mw.sessionTokens(tokens)],
    ["store", mw.sessionStore(store)],
  ]) {
    const app = new Hono();
    app.use(middleware);
    app.post("/in", async (c) => {
      await mw.login(c, "alice");
      return c.text("in");
    });
    for (const action of ["login", "logout"]) {
      app.post(`/late-${action}`, (c) =>
        stream(c, async (s) => {
          await s.write("working; ");
          try {
            await (action === "login" ? mw.login(c, "bob") : mw.logout(c));
            await s.write("done");
          } catch (e) {
            await s.write(e.message);
          }
        }),
      );
    }
    app.get("/me", (c) => {
      const session = c.get("session");
      return c.text((kind === "tokens" ? session?.sub : session.subject) ?? "nobody");
    });
    const cookie = cookiesOf(await app.request("/in", { method: "POST" }));
    for (const action of ["login", "logout"]) {
      const res = await app.request(`/late-${action}`, { method: "POST", headers: { cookie } });
      assert.match(await res.text(), /^working; edge-session\/hono: (login|logout) after the session middleware answered/, `${kind} ${action}`);
      assert.deepEqual(res.headers.getSetCookie(), [], `${kind} ${action}`);
      assert.equal(await (await app.request("/me", { headers: { cookie } })).text(), "alice", `${kind} ${action}: nothing changed`);
    }
  }
});

test("login and logout once the inner of two session middlewares has answered throw too, though the outer has not", async () => {
  // A middleware between the two, after next(): the inner one has made its cookies, so a login
  // there would renew the cart's id without sending it, a logout clear the account alone.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const store = new SessionStore({ keys: KEYS_1 });
  for (const action of ["login", "logout"]) {
    const app = new Hono();
    let error;
    app.use(mw.sessionTokens(tokens, { variable: "account" }));
    app.use(async (c, next) => {
      await next();
      try {
        await (action === "login" ? mw.login(c, "bob") : mw.logout(c));
      } catch (e) {
        error = e;
      }
    });
    app.use(mw.sessionStore(store, { variable: "cart" }));
    app.get("/", (c) => c.text("ok"));
    await app.request("/");
    assert.match(error?.message ?? "", /^edge-session\/hono: (login|logout) after the session middleware answered/, action);
  }
});

test("sessionTokens: cookie attributes the cookie's name forbids fail every request, not only a login or logout", async () => {
  // `cookie: { path: "/app" }` (or `secure: false` for http://localhost) with the default
  // __Host- name: setCookie refuses them, which a login and a logout made a 500, but a refresh
  // was dropped without a word, so an app whose tokens are issued elsewhere (the gateway, an
  // auth service) never refreshed a session and never learnt why.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const now = Math.floor(Date.now() / 1000);
  const old = `__Host-session=${tokens.sign({ sub: "alice" }, { now: now - 60 })}`;
  for (const cookie of [{ path: "/app" }, { secure: false }, { domain: "example.com" }]) {
    const app = tokenApp(tokens, { cookie });
    app.onError((e, c) => c.text(`error: ${e.code}`, 500));
    for (const headers of [{ cookie: old }, {}]) {
      const res = await app.request("/", { headers });
      assert.equal(res.status, 500, JSON.stringify(cookie));
      assert.equal(await res.text(), "error: invalid_config", JSON.stringify(cookie));
    }
  }
  // The same attributes with a name that allows them: refreshed.
  const app = tokenApp(tokens, { cookieName: "session", cookie: { path: "/app", secure: false, domain: "example.com" } });
  const res = await app.request("/", { headers: { cookie: old.replace("__Host-session", "session") } });
  assert.match(res.headers.getSetCookie()[0] ?? "", /^session=[^;]+; Max-Age=\d+; Domain=example\.com; Path=\/app; HttpOnly; SameSite=Lax$/);
});

test("a logout the handler made before it threw still clears the cookie: the error does not keep the visitor logged in", async () => {
  // 'Log out, then write the audit log' with the audit log down: under sessionTokens the logout
  // was dropped with the rest of the handler's work, and the token stayed valid in the browser
  // (under sessionStore the session was already deleted, its cookie left naming nothing).
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const store = new SessionStore({ keys: KEYS_1 });
  const cases = [
    ["tokens", [mw.sessionTokens(tokens)], ["__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"]],
    ["store", [mw.sessionStore(store)], ["__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"]],
    [
      "both",
      [mw.sessionTokens(tokens, { variable: "account" }), mw.sessionStore(store)],
      ["__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax", "__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"],
    ],
  ];
  for (const [kind, middlewares, cleared] of cases) {
    const app = new Hono();
    for (const m of middlewares) app.use(m);
    app.post("/in", async (c) => {
      await mw.login(c, "alice");
      return c.text("in");
    });
    app.post("/out", async (c) => {
      await mw.logout(c);
      throw new Error("audit log down");
    });
    app.post("/out-then-in", async (c) => {
      await mw.logout(c);
      await mw.login(c, "bob");
      throw new Error("audit log down");
    });
    app.onError((e, c) => c.text(e.message, 500));
    const token = `__Host-session=${tokens.sign({ sub: "alice" })}`;
    const sid = cookiesOf(await app.request("/in", { method: "POST" }));
    const cookie = kind === "both" ? `${token}; ${sid}` : kind === "tokens" ? token : sid;
    const out = await app.request("/out", { method: "POST", headers: { cookie } });
    assert.equal(out.status, 500, kind);
    assert.deepEqual(out.headers.getSetCookie().sort(), cleared, kind);
    // A login after it is not sent, as nothing of a handler that threw is: the cookies are
    // removed all the same (the logged-out session's token would still be valid).
    const again = await app.request("/out-then-in", { method: "POST", headers: { cookie } });
    assert.equal(again.status, 500, kind);
    assert.deepEqual(again.headers.getSetCookie().sort(), cleared, kind);
  }
});

// hono/timeout mounted outside the session middleware answers 504 for a slow handler, which
// goes on: its logout's removal, appended once the 504 had gone out, copied the sent body and
// threw ("Response body object should not be disturbed or locked"), reaching the app's onError a
// second time as an error of this library. Now the lost cookie is a warning naming the fix.
test("a cookie after a timeout() outside the middleware answered is a warning, not a second error", async () => {
  const { timeout } = await import("hono/timeout");
  const tokens = new SessionTokens({ keys: KEYS_1 });
  const errors = [];
  const app = new Hono();
  app.use(timeout(30));
  app.use(mw.sessionTokens(tokens));
  let finished;
  const done = new Promise((r) => (finished = r));
  app.post("/slow-logout", async (c) => {
    await new Promise((r) => setTimeout(r, 100));
    await mw.logout(c);
    finished();
    return c.text("late");
  });
  app.onError((e, c) => {
    if (typeof e.getResponse === "function") return e.getResponse(); // the timeout's 504
    errors.push(e);
    return c.text("error", 500);
  });
  const warned = [];
  const warn = console.warn;
  console.warn = (...args) => warned.push(args.join(" "));
  try {
    const cookie = `__Host-session=${tokens.sign({ sub: "alice" })}`;
    const res = await app.request("/slow-logout", { method: "POST", headers: { cookie } });
    assert.equal(res.status, 504);
    await res.text();
    await done;
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(errors.map((e) => e.message), []);
  assert.equal(warned.length, 1);
  assert.match(warned[0], /mount timeout\(\) inside the session middleware/);
});

test("a Response the handler returns to every request (a constant) never carries one visitor's cookie to the next", async () => {
  // The cookie was appended to the handler's Response itself: a module-level
  // `new Response(null, { status: 204 })` gave alice's refreshed token (or her new stored
  // session's id, or her affinity cookie) to every visitor after her.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const store = new SessionStore({ keys: KEYS_1 });
  const router = new Affinity({ secret: SECRET_1, backends: [{ id: "a" }] });
  const EMPTY = new Response(null, { status: 204, headers: { "cache-control": "max-age=60" } });
  const app = new Hono();
  app.use("/t", mw.sessionTokens(tokens));
  app.use("/s", mw.sessionStore(store));
  app.use("/a", mw.affinity(router));
  app.get("/t", () => EMPTY);
  app.get("/s", (c) => {
    if (c.req.query("seen")) c.get("session").set("seen", true);
    return EMPTY;
  });
  app.get("/a", () => EMPTY);
  const now = Math.floor(Date.now() / 1000);
  const alice = `__Host-session=${tokens.sign({ sub: "alice" }, { now: now - 60 })}`;
  for (const [path, headers] of [
    ["/t", { cookie: alice }],
    ["/s?seen=1", {}],
    ["/a", {}],
  ]) {
    const first = await app.request(path, { headers });
    assert.equal(first.status, 204, path);
    assert.equal(first.headers.getSetCookie().length, 1, path);
    assert.equal(first.headers.get("cache-control"), "private, max-age=60", path);
    const next = await app.request(path.replace("?seen=1", ""), { headers: { cookie: "__Host-affinity=x" } });
    assert.equal(next.status, 204, path);
    // Nothing of the first visitor's (the second gets its own affinity cookie).
    assert.equal(next.headers.getSetCookie().length, path === "/a" ? 1 : 0, `${path}: ${next.headers.getSetCookie()}`);
    assert.deepEqual(EMPTY.headers.getSetCookie(), [], `${path}: the handler's Response is not changed`);
    assert.equal(EMPTY.headers.get("cache-control"), "max-age=60", path);
  }
});

test("a login under sessionTokens gives a sessionStore outside it a new id: the id a visitor had before the login (perhaps planted) names nothing after it", async () => {
  // The app's cart in a stored session, the login in session tokens on the account pages: the
  // login changed the token only, and the stored session kept the id it had before (one an
  // attacker may have planted), now holding what the logged-in user put there (session fixation).
  for (const [kind, store] of memoryAndKv()) {
    const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
    const app = storeApp(store);
    app.use("/account/*", mw.sessionTokens(tokens, { variable: "account" }));
    app.post("/cart", (c) => {
      c.get("session").set("items", ["book"]);
      return c.text("ok");
    });
    app.post("/account/login", (c) => {
      mw.login(c, "alice");
      return c.text("in");
    });
    app.get("/cart", (c) => c.json({ items: c.get("session").get("items") ?? [] }));
    const planted = cookiesOf(await app.request("/cart", { method: "POST" }));
    const login = await app.request("/account/login", { method: "POST", headers: { cookie: planted } });
    assert.equal(login.status, 200, `${kind}: ${await login.clone().text()}`);
    const set = login.headers.getSetCookie().map((c) => c.split(";")[0]);
    assert.ok(set.some((c) => c.startsWith("__Host-session=")), `${kind}: the token`);
    const sid = set.find((c) => c.startsWith("__Host-sid="));
    assert.ok(sid, `${kind}: a new stored session id goes out`);
    assert.notEqual(sid, planted, kind);
    assert.deepEqual(await (await app.request("/cart", { headers: { cookie: sid } })).json(), { items: ["book"] }, `${kind}: the cart kept`);
    assert.equal(await store.find(planted.replace(/^__Host-sid=/, "")), undefined, `${kind}: the old id names nothing`);
    // No stored session before: none after (the token alone).
    const fresh = await app.request("/account/login", { method: "POST" });
    assert.equal(fresh.status, 200, kind);
    assert.deepEqual(fresh.headers.getSetCookie().map((c) => c.split("=")[0]), ["__Host-session"], kind);

    // The same store mounted twice (the app's and a sub-app's) around the login: renewed once.
    const sub = new Hono();
    sub.use(mw.sessionStore(store));
    sub.use(mw.sessionTokens(tokens, { variable: "account" }));
    sub.post("/login", (c) => {
      mw.login(c, "alice");
      return c.text("in");
    });
    const outer = storeApp(store);
    outer.post("/cart", (c) => {
      c.get("session").set("items", ["book"]);
      return c.text("ok");
    });
    outer.route("/sub", sub);
    const cart = cookiesOf(await outer.request("/cart", { method: "POST" }));
    const twice = await outer.request("/sub/login", { method: "POST", headers: { cookie: cart } });
    assert.equal(twice.status, 200, `${kind}: ${await twice.clone().text()}`);
    const renewed = twice.headers.getSetCookie().map((c) => c.split(";")[0]).filter((c) => c.startsWith("__Host-sid="));
    assert.equal(renewed.length, 1, kind);
    assert.notEqual(renewed[0], cart, kind);
    assert.deepEqual(await (await app.request("/cart", { headers: { cookie: renewed[0] } })).json(), { items: ["book"] }, kind);
  }
});

test("a login under sessionStore gives the route's other sessionStore a new id too: the cart id a visitor had before it names nothing after it", async () => {
  // As under sessionTokens: a cart id planted before the login would otherwise hold what the
  // logged-in user puts in the cart, for the attacker to read.
  const carts = new SessionStore({ keys: KEYS_1, cookieName: "__Host-cart" });
  const accounts = new SessionStore({ keys: KEYS_1 });
  const app = new Hono();
  app.use(mw.sessionStore(carts, { variable: "cart" }));
  app.use(mw.sessionStore(accounts));
  app.post("/add", (c) => {
    c.get("cart").set("items", ["book"]);
    return c.text("ok");
  });
  app.post("/login", async (c) => {
    await mw.login(c, "alice");
    return c.text("in");
  });
  const planted = cookiesOf(await app.request("/add", { method: "POST" }));
  const login = await app.request("/login", { method: "POST", headers: { cookie: planted } });
  const cart = login.headers.getSetCookie().map((c) => c.split(";")[0]).find((c) => c.startsWith("__Host-cart="));
  assert.ok(cart && cart !== planted, "a new cart id goes out");
  assert.equal(await carts.find(planted.replace(/^__Host-cart=/, "")), undefined, "the old id names nothing");
  assert.deepEqual((await carts.find(cart.replace(/^__Host-cart=/, "")))?.data, { items: ["book"] }, "the cart kept");
});

test("sessionStore mounted twice (the app's and a sub-app's): the outer one writes nothing back over the inner one's commit", async () => {
  // The outer middleware committed its own copy of the session, loaded before the handler ran:
  // on a store where the last write wins, a touch due undid the handler's change, and after a
  // login wrote the old id back, naming the session again.
  const kv = slowKv();
  const store = new SessionStore({ keys: KEYS_1, kv, idleTimeoutSeconds: 60, touchIntervalSeconds: 1 });
  const sub = new Hono();
  sub.use(mw.sessionStore(store));
  sub.post("/add", (c) => {
    const s = c.get("session");
    s.set("cart", [...(s.get("cart") ?? []), "pen"]);
    return c.json(s.get("cart"));
  });
  sub.post("/login", (c) => mw.login(c, "alice").then(() => c.text("in")));
  const app = storeApp(store);
  app.post("/cart", (c) => {
    c.get("session").set("cart", ["book"]);
    return c.text("ok");
  });
  app.route("/shop", sub);
  const cookie = cookiesOf(await app.request("/cart", { method: "POST" }));
  const id = cookie.replace(/^__Host-sid=/, "");
  await new Promise((r) => setTimeout(r, 1100)); // a touch due
  const added = await app.request("/shop/add", { method: "POST", headers: { cookie } });
  assert.deepEqual(await added.json(), ["book", "pen"]);
  assert.deepEqual((await store.find(id)).data, { cart: ["book", "pen"] }, "the handler's change kept");

  await new Promise((r) => setTimeout(r, 1100));
  const login = await app.request("/shop/login", { method: "POST", headers: { cookie } });
  assert.equal(login.status, 200, await login.clone().text());
  const renewed = login.headers.getSetCookie().map((c) => c.split(";")[0]);
  assert.equal(renewed.length, 1);
  assert.notEqual(renewed[0], cookie);
  assert.equal(await store.find(id), undefined, "the id before the login names nothing");
  assert.deepEqual((await store.find(renewed[0].replace(/^__Host-sid=/, ""))).data, { cart: ["book", "pen"] });
});

test("the handler's Response is copied once, however many of the middleware's cookies it gets", async () => {
  // Each cookie appended made a copy of the response (and Hono's c.res setter copies what it is
  // given once more): three middlewares with a cookie each copied it three times.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const store = new SessionStore({ keys: KEYS_1 });
  const router = new Affinity({ secret: SECRET_1, backends: [{ id: "a" }] });
  const appOf = (layers) => {
    const app = new Hono();
    for (const layer of layers) app.use(layer);
    app.get("/", (c) => {
      c.get("session")?.set?.("seen", true);
      return c.text("body", 201, { "x-app": "kept", "cache-control": "public, max-age=60", "cdn-cache-control": "max-age=600" });
    });
    return app;
  };
  /** The response to GET /, and how many Responses were made for it. */
  const counted = async (app, headers) => {
    const Real = globalThis.Response;
    let made = 0;
    globalThis.Response = class extends Real {
      constructor(...args) {
        super(...args);
        made++;
      }
    };
    try {
      return [await app.request("/", { headers }), made];
    } finally {
      globalThis.Response = Real;
    }
  };
  const old = tokens.sign({ sub: "alice" }, { now: Math.floor(Date.now() / 1000) - 60 });
  const headers = { cookie: `__Host-session=${old}` };
  const [one, oneMade] = await counted(appOf([mw.affinity(router)]), headers);
  assert.equal(one.headers.getSetCookie().length, 1);
  const [three, threeMade] = await counted(appOf([mw.affinity(router), mw.sessionTokens(tokens, { variable: "account" }), mw.sessionStore(store)]), headers);
  assert.equal(threeMade, oneMade, "as many Responses made for three cookies as for one");
  assert.deepEqual(three.headers.getSetCookie().map((c) => c.split("=")[0]), ["__Host-sid", "__Host-session", "__Host-affinity"]);
  assert.equal(three.status, 201);
  assert.equal(await three.text(), "body");
  assert.equal(three.headers.get("x-app"), "kept");
  assert.match(three.headers.get("content-type"), /^text\/plain/);
  assert.equal(three.headers.get("cache-control"), "private, max-age=60");
  assert.equal(three.headers.get("cdn-cache-control"), null);
  // The cookies work: the visitor is back with each.
  const back = await appOf([mw.affinity(router), mw.sessionTokens(tokens, { variable: "account" }), mw.sessionStore(store)]).request("/", { headers: { cookie: cookiesOf(three) } });
  assert.deepEqual(back.headers.getSetCookie(), []);
});

test("sessionTokens: of several cookies of its name, the first of four that verifies is the session, as at the gateway", async () => {
  // Only the first was read: a cookie of the name planted by a sibling subdomain (possible for a
  // name without __Host-), with a longer path, which browsers send first, logged the visitor
  // out for as long as it lived. The gateway tries the first four and takes the first valid one.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5, leewaySeconds: 0 });
  const other = new SessionTokens({ keys: [{ id: "k1", secret: SECRET_2 }], ttlSeconds: 100 });
  const app = tokenApp(tokens, { cookieName: "session" });
  const now = Math.floor(Date.now() / 1000);
  const mine = tokens.sign({ sub: "alice" }, { now: now - 10 });
  const forged = other.sign({ sub: "mallory" });
  const expired = tokens.sign({ sub: "alice" }, { now: now - 200 });
  const visit = async (...values) => {
    const res = await app.request("/", { headers: { cookie: ["theme=dark", ...values.map((v) => `session=${v}`)].join("; ") } });
    const { session, error } = await res.json();
    return { sub: session?.sub ?? null, error, set: res.headers.getSetCookie() };
  };
  for (const values of [["junk", mine], [forged, mine], [expired, "junk", forged, mine], [mine, forged]]) {
    assert.deepEqual(await visit(...values), { sub: "alice", error: null, set: [] }, values.join(", "));
  }
  // None verifies: expired when one is, then unknown_key (a key of a newer deployment, which the
  // gateway does not clear), otherwise the first one's reason (the gateway's rule). A junk cookie
  // ahead of a token of an unknown key gave `malformed`, where the gateway says unknown_key.
  const newer = new SessionTokens({ keys: [{ id: "k9", secret: SECRET_2 }], ttlSeconds: 100 }).sign({ sub: "alice" });
  assert.equal((await visit("junk", expired)).error, "expired");
  assert.equal((await visit(newer, expired)).error, "expired");
  assert.equal((await visit("junk", newer, forged)).error, "unknown_key");
  assert.equal((await visit(forged, "junk")).error, "bad_signature");
  // Past the first four, as at the gateway: not read.
  assert.deepEqual(await visit("a", "b", "c", "d", mine), { sub: null, error: "malformed", set: [] });
  // Two Cookie headers, which workerd joins with `, `: the token that ends the first is read
  // up to the join; one after a `,` is not (a cookie `theme` whose value a subdomain can set).
  const joined = async (cookie) => (await (await app.request("/", { headers: { cookie } })).json()).session?.sub ?? null;
  assert.equal(await joined(`theme=dark; session=${mine}, lang=en`), "alice");
  assert.equal(await joined(`theme=dark, session=${mine}`), null);
  // Read, but not refreshed beside another token of these keys: the refresh would reach the
  // app's own cookie, which the one read may not be (the test "a session cookie sent twice is
  // read but never refreshed"); beside junk, refreshed.
  const old = tokens.sign({ sub: "alice" }, { now: now - 60 });
  assert.deepEqual(await visit(expired, old), { sub: "alice", error: null, set: [] });
  assert.equal((await visit("junk", old)).set.length, 1);
});

test("sessionTokens: of several cookies of its name, a revoked one does not hide a valid one after it", async () => {
  // minIssuedAt was asked of the first token that verified only: an older cookie of the name (at
  // another path or domain), revoked, logged its user out after every new login.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const now = Math.floor(Date.now() / 1000);
  const asked = [];
  const app = tokenApp(tokens, {
    cookieName: "session",
    minIssuedAt: async (claims) => {
      asked.push(claims.iat);
      return claims.sub === "alice" ? now - 10 : undefined;
    },
  });
  const revoked = tokens.sign({ sub: "alice" }, { now: now - 20 });
  const fresh = tokens.sign({ sub: "alice", n: 2 }, { now: now - 5 });
  const visit = async (...values) => {
    asked.length = 0;
    const res = await app.request("/", { headers: { cookie: values.map((v) => `session=${v}`).join("; ") } });
    return res.json();
  };
  const ahead = await visit(revoked, fresh);
  assert.deepEqual([ahead.session?.n, ahead.error], [2, null]);
  assert.deepEqual(asked, [now - 20, now - 5]);
  const behind = await visit(fresh, revoked);
  assert.deepEqual([behind.session?.n, behind.error], [2, null]);
  assert.deepEqual(asked, [now - 5], "the first valid one ends the search");
  assert.deepEqual(await visit(revoked, "junk"), { session: null, error: "revoked" });
});

test("sessionTokens reads its cookie as the library reads its own (Affinity's cookie, the gateway's session): quoted values and joined Cookie headers alike", async () => {
  // The middleware cut each piece of the header at its first `,` before unquoting the value,
  // the library (cookie::get_all_tokens) after: of `session="T", lang=en` (workerd joins two
  // Cookie headers with `, `) the middleware took T, the library `"T"`, refused; of
  // `session="T, x"` the library took T, the middleware `"T`. Each shape, with an Affinity
  // value of the same cookie name in it, is read by the router (the core) and by the middleware
  // with a token: both take it, or neither does.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 3600 });
  const app = tokenApp(tokens, { cookieName: "session" });
  const token = tokens.sign({ sub: "alice" });
  const router = new Affinity({ secret: SECRET_1, cookieName: "session", backends: [{ id: "a" }] });
  const value = getCookie(router.route({}).setCookie.split(";")[0], "session");
  const shapes = [
    "session=V", 'session="V"', ' session = "V" ', 'session="V", lang=en', 'session="V, x"', 'session=" V , x"',
    'session="V,"', "session=V , x", "session=V,x", 'session=V"', 'session="V', "theme=dark, session=V", "session=,V",
    '"session"=V', 'session=""V""', "session=\tV\t, x", 'x=1; session="V" , y=2; session=W',
  ];
  // The router kept the value it was given: no new one issued (none found, or one refused).
  const kept = (shape) => router.route({ cookie: shape.replaceAll("V", value) }).setCookie === undefined;
  for (const shape of shapes) {
    const res = await app.request("/", { headers: { cookie: shape.replaceAll("V", token) } });
    assert.equal((await res.json()).session?.sub === "alice", kept(shape), shape);
  }
  assert.ok(shapes.some(kept) && !shapes.every(kept));
});

test("sessionTokens reads a cookie value of a long run of spaces in one pass (the trim regex took n^2 steps: 0.9 s for 32,000)", async () => {
  // `a<n spaces>b` as the session cookie: no token (`too_large`), read in linear time. The regex
  // `/^[ \t]+|[ \t]+$/g` that trimmed it tried `[ \t]+$` from every space of the run: at
  // n = 400,000 minutes of one request's CPU, now milliseconds. A visitor chooses the Cookie
  // header, and Workers bill CPU. Run in a child process killed after 20 s: a regex blocks the
  // event loop, and with it any timeout of this process.
  const child = `
    import { Hono } from "hono";
    import { importHono, KEYS_1, pkg } from ${JSON.stringify(new URL("./fixtures.mjs", import.meta.url).href)};
    const { module: mw, remove } = await importHono();
    const app = new Hono();
    app.use(mw.sessionTokens(new pkg.SessionTokens({ keys: KEYS_1 }), { cookieName: "session" }));
    app.get("/", (c) => c.json({ session: c.get("session"), error: c.get("sessionError") ?? null }));
    const out = [];
    for (const cookie of ["session=a" + " ".repeat(400000) + "b", "session=a" + "\\t ".repeat(200000) + "b"]) {
      const res = await app.request("/", { headers: { cookie } });
      out.push([res.status, await res.json()]);
    }
    remove();
    console.log(JSON.stringify(out));
  `;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", child], { cwd: ROOT, timeout: 20_000, encoding: "utf8" });
  assert.equal(run.signal, null, "killed after 20 s");
  assert.equal(run.status, 0, run.stderr);
  const refused = [200, { session: null, error: "too_large" }];
  assert.deepEqual(JSON.parse(run.stdout), [refused, refused]);
  // Still trimmed of spaces and tabs at either end, and only of those (a no-break space stays).
  const tokens = new SessionTokens({ keys: KEYS_1 });
  const app = tokenApp(tokens, { cookieName: "session" });
  const token = tokens.sign({ sub: "alice" });
  for (const [cookie, sub] of [[`session= \t${token}\t `, "alice"], [`session=\u00a0${token}`, undefined]]) {
    const res = await app.request("/", { headers: { cookie } });
    assert.equal((await res.json()).session?.sub, sub, JSON.stringify(cookie));
  }
});

test("sessionStore under stream(), streamText() and streamSSE(): changes before the body streams are saved, a change after the middleware answered throws", async () => {
  // The handler returns the streaming Response at once and its callback runs on afterwards: the
  // middleware committed (and sent the cookie) when the handler returned, before the callback's
  // first await was over. A change the callback made after that was lost without a word.
  const store = new SessionStore({ keys: KEYS_1 });
  const helpers = { stream, streamText, streamSSE };
  for (const [kind, helper] of Object.entries(helpers)) {
    const app = new Hono();
    app.use(mw.sessionStore(store));
    app.get("/", (c) => {
      const session = c.get("session");
      session.set("before", 1); // in the handler: saved
      return helper(
        c,
        async (s) => {
          session.set("start", 2); // the callback's part before its first await: saved too
          await s.write("a;");
          for (const [what, change] of [
            ["set", () => session.set("late", 3)],
            ["delete", () => session.delete("before")],
            ["data", () => (session.data = {})],
            ["subject", () => (session.subject = "eve")],
            ["through c", () => c.get("session").set("late", 3)],
          ]) {
            try {
              change();
              await s.write(`${what}: no error;`);
            } catch (e) {
              await s.write(`${what}: ${e.message};`);
            }
          }
          await s.write(`read: ${session.get("before")},${session.get("start")},${session.get("late")};`);
        },
      );
    });
    const res = await app.request("/");
    const body = await res.text();
    const lines = body.split(";").filter((l) => l.trim());
    for (const what of ["set", "delete", "data", "subject", "through c"]) {
      assert.ok(
        lines.some((l) => l.includes(`${what}: edge-session/hono: a change to the session after the session middleware answered`)),
        `${kind} ${what}: ${body}`,
      );
    }
    assert.ok(body.includes("read: 1,2,undefined"), `${kind}: ${body}`);
    const cookie = cookiesOf(res);
    assert.match(cookie, /^__Host-sid=/, kind);
    const stored = await store.find(cookie.replace(/^__Host-sid=/, ""));
    assert.deepEqual(stored.data, { before: 1, start: 2 }, kind);
    assert.equal(stored.subject, undefined, kind);
  }
  // With commit: false the app commits itself, when it likes: nothing is refused.
  const app = new Hono();
  app.use(mw.sessionStore(store, { commit: false }));
  app.get("/", (c) =>
    stream(c, async (s) => {
      await s.write("a");
      c.get("session").set("late", 1);
      await s.write(`:${c.get("session").get("late")}`);
    }),
  );
  assert.equal(await (await app.request("/")).text(), "a:1");
});

test("the middleware and SessionStore's applyCookies and clearCookies make the same caching headers out of the same response", async () => {
  // Two copies of one rule (npm/hono.js `appendCookie`; the library's `cookie::cache`, which the
  // gateway uses too): a response that sets a cookie is private, and loses the CDN's own fields.
  const store = new SessionStore({ keys: KEYS_1 });
  const app = new Hono();
  app.use(mw.sessionStore(store));
  const cases = new Map();
  app.get("/:i", (c) => {
    c.get("session").set("n", 1); // a new session: its cookie goes out
    return new Response("page", { headers: cases.get(c.req.param("i")) });
  });
  const CDN = [
    ["CDN-Cache-Control", "max-age=600"],
    ["cloudflare-cdn-cache-control", "public, max-age=600"],
    ["Vercel-CDN-Cache-Control", "max-age=600"],
    ["surrogate-control", "max-age=600"],
    ["Edge-Control", "cache-maxage=600s"],
  ];
  const table = [
    [],
    [["cache-control", "public, max-age=600"]],
    [["cache-control", "s-maxage=60, public"]],
    [["cache-control", "no-store"]],
    [["cache-control", "Private"]],
    [["cache-control", "max-age=0"]],
    [["cache-control", "\tPUBLIC ,max-age=5,, S-MaxAge = 9 ,No-Cache"]],
    [["Cache-Control", "public"], ["cache-control", "max-age=60"]],
    [["cache-control", 'private="set-cookie", max-age=9']],
    [["cache-control", "NO-STORE, public"]],
    [["cache-control", "no-store\u00a0, public"]],
    [["cache-control", "public\u0085, max-age=1"]],
    [["cache-control", 'x="a, no-store, b", public, s-maxage=600']],
    [["cache-control", 'no-cache="set-cookie, private", max-age=60, public']],
    [["cache-control", "public, max-age=600"], ...CDN],
    [["cache-control", "no-store"], ...CDN],
    [...CDN, ["content-type", "text/html"]],
  ];
  // And lists made at random (a fixed seed) from directives, case, spaces and tabs.
  const words = [
    "public", "private", "no-store", "s-maxage=60", "max-age=600", "no-cache", 'private="x"', "immutable", "",
    '"', 'no-cache="a, no-store"', 'x="\\", public"', "\\",
  ];
  let seed = 7;
  const next = (n) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % n;
  const spaced = (w) => [" ", "\t", "", ""][next(4)] + w + [" ", "\t", "", ""][next(4)];
  const cased = (w) => [w, w.toUpperCase(), w.charAt(0).toUpperCase() + w.slice(1)][next(3)];
  for (let i = 0; i < 200; i++) {
    const list = Array.from({ length: 1 + next(4) }, () => spaced(cased(words[next(words.length)]))).join(",");
    table.push([["cache-control", list], ...CDN.filter(() => next(2))]);
  }
  /** A response's headers but its Set-Cookie, as [name, value] pairs in order. */
  const caching = (res) => [...res.headers].filter(([name]) => name !== "set-cookie");
  for (const [i, headers] of table.entries()) {
    const what = JSON.stringify(headers);
    cases.set(String(i), headers);
    const viaHono = await app.request(`/${i}`);
    assert.equal(viaHono.headers.getSetCookie().length, 1, what);
    const session = await store.load(undefined);
    session.set("n", 1);
    await store.commit(session);
    const applied = store.applyCookies(new Response("page", { headers }), session);
    assert.equal(applied.headers.getSetCookie().length, 1, what);
    assert.deepEqual(caching(applied), caching(viaHono), `applyCookies: ${what}`);
    assert.deepEqual(caching(store.clearCookies(new Response("page", { headers }))), caching(viaHono), `clearCookies: ${what}`);
    assert.match(viaHono.headers.get("cache-control"), /private|no-store/i, what);
  }
  // A comma or a directive's name in a quoted string is part of the string (as in src/cookie/cache.rs).
  for (const [origin, expected] of [
    ['x="a, no-store, b", public, s-maxage=600', 'private, x="a, no-store, b"'],
    ['no-cache="set-cookie, private", max-age=60, public', 'private, no-cache="set-cookie, private", max-age=60'],
  ]) {
    cases.set("quoted", [["cache-control", origin]]);
    assert.equal((await app.request("/quoted")).headers.get("cache-control"), expected, origin);
  }
});

test("an answer whose Clear-Site-Data clears cookies logs out, as at the gateway; with a login in the request it does not", async () => {
  // The browser drops the session's cookie with the others, but a stored session lived on until
  // its idle timeout (a copy of the cookie kept working), and sessionTokens sent a refreshed
  // token beside the header.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const store = new SessionStore({ keys: KEYS_1 });
  const app = new Hono();
  app.use(mw.sessionTokens(tokens, { variable: "account" }));
  app.use(mw.sessionStore(store));
  app.post("/login", async (c) => {
    await mw.login(c, "erin");
    c.get("session").set("cart", ["book"]);
    return c.text("in");
  });
  // Clear-Site-Data as the handler sets it, with no logout(c); the value from the query.
  app.post("/page", (c) => c.text("page", 200, { "clear-site-data": c.req.query("csd") }));
  app.post("/switch", async (c) => {
    await mw.login(c, "frank");
    return c.text("switched", 200, { "clear-site-data": '"cookies"' });
  });
  const sid = cookiesOf(await app.request("/login", { method: "POST" }));
  const old = tokens.sign({ sub: "erin" }, { now: Math.floor(Date.now() / 1000) - 60 }); // due a refresh
  const cookie = `__Host-session=${old}; ${sid}`;
  const id = sid.replace(/^__Host-sid=/, "");
  const page = (csd) => app.request(`/page?${new URLSearchParams({ csd })}`, { method: "POST", headers: { cookie } });

  // "cache" alone (and "cookies" unquoted, which browsers ignore) clears no cookie: the refresh goes out, the session stays.
  for (const csd of ['"cache"', "cookies"]) {
    const res = await page(csd);
    assert.match(res.headers.getSetCookie().join("\n"), /^__Host-session=[^;]+; Max-Age=/, csd);
    assert.equal((await store.find(id))?.subject, "erin", csd);
  }
  for (const csd of ['"cookies"', '"cache", "*"']) {
    const cart = cookiesOf(await app.request("/login", { method: "POST" }));
    const res = await app.request(`/page?${new URLSearchParams({ csd })}`, { method: "POST", headers: { cookie: `__Host-session=${old}; ${cart}` } });
    assert.equal(res.headers.get("clear-site-data"), csd, "the header reaches the browser");
    assert.deepEqual(res.headers.getSetCookie().sort(), [
      "__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
      "__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
    ], csd);
    assert.equal(await store.find(cart.replace(/^__Host-sid=/, "")), undefined, `${csd}: the stored session is deleted`);
  }
  // A login's answer that clears the old cookies keeps the new session ("switch user").
  const switched = await app.request("/switch", { method: "POST", headers: { cookie } });
  assert.ok(!switched.headers.getSetCookie().some((v) => v.includes("Max-Age=0")), "no removal");
  const fresh = getCookie(cookiesOf(switched), "__Host-sid");
  assert.equal((await store.find(fresh))?.subject, "frank", "the login's session");
  assert.equal(await store.find(id), undefined, "the old session ended with the login");
});

test("sessionTokens: a login, a refresh and a logout set the same cookie, whatever form its attributes take (inherited, getters)", async () => {
  // The library reads options through the prototype chain, as the middleware checks them; a
  // login copied only own enumerable ones (`{ ...cookie, maxAge }`): with an inherited domain it
  // set a host-only cookie that the logout's (with Domain) did not remove, and the browser kept
  // the session.
  const tokens = new SessionTokens({ keys: KEYS_1, ttlSeconds: 100, refreshAfter: 0.5 });
  const hidden = Object.defineProperty({}, "domain", { value: "example.com", enumerable: false });
  const getter = { get domain() { return "example.com"; } };
  for (const cookie of [{ domain: "example.com" }, Object.create({ domain: "example.com" }), hidden, getter]) {
    const app = tokenApp(tokens, { cookieName: "__Secure-session", cookie });
    const attributes = (res) => res.headers.getSetCookie().map((c) => c.split("; ").filter((a) => !/^(__Secure-session=|Max-Age=)/.test(a)).join("; "));
    const login = await app.request("/login", { method: "POST" });
    const logout = await app.request("/logout", { method: "POST", headers: { cookie: cookiesOf(login) } });
    const old = `__Secure-session=${tokens.sign({ sub: "alice" }, { now: Math.floor(Date.now() / 1000) - 60 })}`;
    const refresh = await app.request("/", { headers: { cookie: old } });
    const expected = ["Domain=example.com; Path=/; Secure; HttpOnly; SameSite=Lax"];
    assert.deepEqual(attributes(login), expected, "login");
    assert.deepEqual(attributes(logout), expected, "logout");
    assert.deepEqual(attributes(refresh), expected, "refresh");
  }
});
