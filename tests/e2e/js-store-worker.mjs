// A JavaScript worker using the session store of the JS library (built with `--features
// conformance`, `--target web`), run in workerd by tests/e2e/js-store.test.mjs with local KV and
// Durable Objects: what a user's worker does, plus test endpoints.
import {
  initSync,
  SessionStore,
  SessionTokens,
  handleSessionObject,
  sessionObjectAlarm,
  runStoreConformance,
} from "./edge_session.js";
import wasm from "./edge_session_bg.wasm";

initSync({ module: wasm });

/** The session Durable Object: all of its logic is in the library. */
export class SessionObject {
  constructor(ctx) {
    this.ctx = ctx;
  }
  fetch(request) {
    if (new URL(request.url).pathname === "/alarm-with-failing-read") return this.alarmWithFailingRead();
    return handleSessionObject(this.ctx.storage, request);
  }
  alarm() {
    return sessionObjectAlarm(this.ctx.storage);
  }
  /**
   * The alarm run over this object's storage with `get` failing (the storage overloaded or
   * timing out for a moment), everything else working: whether it failed (so that the runtime
   * runs it again) and whether the entry is still there.
   */
  async alarmWithFailingRead() {
    const storage = this.ctx.storage;
    const failing = new Proxy(storage, {
      get: (target, name) => {
        if (name === "get") return () => Promise.reject(new Error("storage overloaded"));
        const value = Reflect.get(target, name);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const alarm = await sessionObjectAlarm(failing).then(
      () => "ok",
      (e) => e.code ?? String(e),
    );
    return Response.json({ alarm, kept: (await storage.get("entry")) !== undefined });
  }
}

/** A session object class without `alarm()` (a misconfiguration): its `setAlarm` throws. */
export class SessionObjectWithoutAlarm {
  constructor(ctx) {
    this.ctx = ctx;
  }
  fetch(request) {
    return handleSessionObject(this.ctx.storage, request);
  }
}

const KEYS = [{ id: "k1", secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA" }];

/** A KV namespace whose every method throws or rejects: the binding failing. */
const broken = (how) => {
  const fail = () => {
    if (how === "throw") throw new Error("binding exploded");
    return Promise.reject(new Error("binding rejected"));
  };
  return { get: fail, put: fail, delete: fail, list: fail };
};
/** A KV namespace that never answers. */
const never = () => new Promise(() => {});
const hanging = { get: never, put: never, delete: never, list: never };

/**
 * The Durable Object namespace `ns`, whose stubs run `hook` (once) after the object answered a
 * request of operation `op` and before the caller reads the answer: another request landing
 * at that point of an operation of several round trips.
 */
const hooked = (ns, op, hook) => ({
  idFromName: (name) => ns.idFromName(name),
  get: (id) => {
    const stub = ns.get(id);
    return {
      fetch: async (url, init) => {
        const res = await stub.fetch(url, init);
        if (hook && JSON.parse(init.body).op === op) {
          const run = hook;
          hook = undefined;
          await run();
        }
        return res;
      },
    };
  },
});

const bindings = (env, kind) =>
  kind === "kv" ? { kv: env.SESSIONS } : kind === "durable" ? { durableObject: env.SESSION_OBJECTS } : {};

const stores = new Map();
const store = (env, kind) => {
  if (!stores.has(kind)) stores.set(kind, new SessionStore({ keys: KEYS, ...bindings(env, kind) }));
  return stores.get(kind);
};

const now = () => Math.floor(Date.now() / 1000);

/** Stateless session tokens, revocable through the store (`revokeTokens`, `minIssuedAt`). */
const tokens = new SessionTokens({ keys: KEYS, ttlSeconds: 3600, maxLifetimeSeconds: 86400 });
const KEEP_SECONDS = 86400 + 30; // maxLifetimeSeconds plus leeway

/**
 * Verifies a token, then again against its subject's revocation time and, for a token with a
 * session id, whether a logout ended that session (`endToken`).
 */
const check = async (s, token, at) => {
  try {
    const { sub, sid, iat } = tokens.verify(token, { now: at });
    const [minIssuedAt, ended] = await Promise.all([s.minIssuedAt(sub), sid ? s.tokenEnded(sid) : false]);
    tokens.verify(token, { now: at, minIssuedAt: ended ? iat + 1 : (minIssuedAt ?? 0) });
    return { status: "valid", sub, minIssuedAt };
  } catch (e) {
    return { status: e.code };
  }
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const kind = url.searchParams.get("store") ?? "memory";
    const cookie = request.headers.get("x-sid") ?? undefined;
    try {
      switch (url.pathname) {
        case "/conformance":
          return Response.json(JSON.parse(await runStoreConformance(bindings(env, kind), now())));
        case "/counter": {
          // One increment of the session's counter, retried on conflict.
          const session = await store(env, kind).update(
            cookie,
            (s) => s.set("n", (s.get("n") ?? 0) + 1),
            1000,
          );
          return Response.json({ n: session.get("n"), cookie: session.cookie, version: session.version });
        }
        case "/get": {
          const session = await store(env, kind).load(cookie);
          return Response.json({ data: session.data, isNew: session.isNew, version: session.version });
        }
        case "/mine": {
          // The session the request's own Cookie header names (`load(request)`).
          const session = await store(env, kind).load(request);
          return Response.json({ data: session.data, isNew: session.isNew });
        }
        case "/login": {
          // A typical login: set the subject, regenerate, send the new cookie.
          const s = store(env, kind);
          const session = await s.load(cookie);
          session.subject = url.searchParams.get("user");
          session.set("role", "member");
          await s.regenerate(session);
          return Response.json({ cookie: session.cookie, maxAge: s.cookieMaxAge(session) });
        }
        case "/token": {
          // ?user=&at= (&sid=): a token issued at `at`; ?token=&at=: its check at `at`;
          // ?end=<sid>&at=: a logout of that session at `at`; ?revoke=<user>&at=: log the
          // user out everywhere at `at` (either kept for ?keep= seconds, by default KEEP_SECONDS).
          const at = Number(url.searchParams.get("at"));
          const s = store(env, kind);
          const q = (n) => url.searchParams.get(n);
          if (q("user")) {
            const claims = q("sid") ? { sub: q("user"), sid: q("sid") } : { sub: q("user") };
            return Response.json({ token: tokens.sign(claims, { now: at }) });
          }
          if (q("token")) return Response.json(await check(s, q("token"), at));
          const keep = Number(q("keep") ?? KEEP_SECONDS);
          if (q("end")) {
            await s.endToken(q("end"), keep, { now: at });
            return Response.json({ ended: q("end") });
          }
          await s.revokeTokens(q("revoke"), keep, { now: at });
          return Response.json({ revoked: q("revoke") });
        }
        case "/longest": {
          // A session with the longest timeouts the store takes, written and read back.
          const s = new SessionStore({ keys: KEYS, ...bindings(env, kind), idleTimeoutSeconds: 4294967295, absoluteTimeoutSeconds: 4294967295 });
          const session = await s.load(undefined);
          session.set("n", 1);
          await s.commit(session);
          return Response.json({ data: (await s.find(session.cookie))?.data });
        }
        case "/page": {
          // ?at=: a page's four requests at once when the session is due for its touch (each
          // loads it, then each commits it unchanged): what each commit gave.
          const s = store(env, kind);
          const at = Number(url.searchParams.get("at"));
          const page = await Promise.all([1, 2, 3, 4].map(() => s.load(cookie, { now: at })));
          const outcomes = await Promise.allSettled(page.map((session) => s.commit(session, { now: at })));
          const stored = await s.find(cookie, { now: at });
          return Response.json({
            outcomes: outcomes.map((o) => (o.status === "fulfilled" ? o.value : o.reason.code)),
            stored: { data: stored?.data, touched: stored?.touched },
          });
        }
        case "/login-beside-touch": {
          // ?at=&user=: a login (subject set, a change, regenerate) while another request of the
          // page, loaded at the same time, touches the session first.
          const s = store(env, kind);
          const at = Number(url.searchParams.get("at"));
          const [login, other] = await Promise.all([s.load(cookie, { now: at }), s.load(cookie, { now: at })]);
          const touch = await s.commit(other, { now: at });
          login.subject = url.searchParams.get("user");
          login.set("role", "member");
          const done = await s.regenerate(login, { now: at }).then(() => "ok", (e) => e.code);
          const held = login.cookie && (await s.find(login.cookie, { now: at }));
          return Response.json({ touch, done, renewed: login.cookie !== cookie, held: held && { data: held.data, subject: held.subject } });
        }
        case "/twice": {
          // Two commits of one Session at once (the visitor's, or a new one), then one more.
          const s = store(env, kind);
          const session = await s.load(cookie);
          session.set("n", (session.get("n") ?? 0) + 1);
          const outcomes = await Promise.allSettled([s.commit(session), s.commit(session)]);
          const version = session.version;
          session.set("after", crypto.randomUUID());
          const last = await s.commit(session).catch((e) => e.code);
          const stored = await s.find(session.cookie ?? cookie);
          return Response.json({
            outcomes: outcomes.map((o) => (o.status === "fulfilled" ? o.value : o.reason.code)),
            version,
            last,
            session: { data: session.data, version: session.version, cookie: session.cookie },
            stored: { data: stored?.data, version: stored?.version },
          });
        }
        case "/revoke-race": {
          // "Log out everywhere" (revokeSubject) of a user while a request that loaded one of
          // the user's sessions regenerates it (a change of privilege): the regenerate runs once
          // the revocation has read the user's sessions from the subject's object.
          const user = url.searchParams.get("user");
          const s = store(env, "durable");
          const session = await s.load();
          session.subject = user;
          session.set("k", 1);
          await s.commit(session);
          const cookie = session.cookie;
          const inFlight = await s.load(cookie);
          let regenerated;
          const revoking = new SessionStore({
            keys: KEYS,
            durableObject: hooked(env.SESSION_OBJECTS, "links", async () => {
              regenerated = await s.regenerate(inFlight).then(
                () => "ok",
                (e) => e.code,
              );
            }),
          });
          const revoked = await revoking.revokeSubject(user);
          const renewed = regenerated === "ok" ? await s.find(inFlight.cookie) : undefined;
          return Response.json({
            regenerated,
            revoked,
            oldLoads: (await s.find(cookie)) !== undefined,
            renewedLoads: renewed !== undefined,
          });
        }
        case "/revoke":
          return Response.json({ revoked: await store(env, kind).revokeSubject(url.searchParams.get("user")) });
        case "/alarm-fault": {
          // A session object holding a live entry, whose alarm runs while its storage fails reads.
          const ns = env.SESSION_OBJECTS;
          const stub = ns.get(ns.idFromName(`alarm-fault-${crypto.randomUUID()}`));
          const entry = { v: 1, r: "sealed", x: now() + 3600 };
          const saved = await stub.fetch("https://edge-session.store/", {
            method: "POST",
            body: JSON.stringify({ op: "save", entry, expected: null }),
          });
          const reply = await saved.json();
          const alarm = await (await stub.fetch("https://edge-session.store/alarm-with-failing-read")).json();
          const load = await stub.fetch("https://edge-session.store/", { method: "POST", body: JSON.stringify({ op: "load" }) });
          return Response.json({ saved: reply.ok, ...alarm, entry: (await load.json()).entry ?? null });
        }
        case "/no-alarm": {
          // A save to an object of a class without alarm(): refused, and nothing left stored
          // (an entry without its alarm would never be forgotten). A commit through it fails.
          const ns = env.NO_ALARM_OBJECTS;
          const stub = ns.get(ns.idFromName(`no-alarm-${crypto.randomUUID()}`));
          const op = (body) =>
            stub.fetch("https://edge-session.store/", { method: "POST", body: JSON.stringify(body) }).then((r) => r.json());
          const entry = { v: 1, r: "sealed", x: now() + 3600 };
          const saved = await op({ op: "save", entry, expected: null });
          const loaded = await op({ op: "load" });
          const s = new SessionStore({ keys: KEYS, durableObject: ns });
          const session = await s.load();
          session.set("x", 1);
          const commit = await s.commit(session).then(
            (c) => c,
            (e) => e.code,
          );
          return Response.json({ saved: saved.code ?? "ok", entry: loaded.entry ?? null, commit });
        }
        case "/fault": {
          const how = url.searchParams.get("how");
          const kv = how === "hang" ? hanging : broken(how);
          const s = new SessionStore({ keys: KEYS, kv, timeoutMs: 200 });
          const outcome = async (f) => {
            try {
              await f();
              return { ok: true };
            } catch (e) {
              return { code: e.code, name: e.name, message: e.message };
            }
          };
          // A read (needs a valid cookie to reach the store), then a first write.
          const read = await outcome(() => s.load(cookie));
          const write = await outcome(async () => {
            const session = await s.load();
            session.set("x", 1);
            await s.commit(session);
          });
          return Response.json({ read, write });
        }
        default:
          return new Response("not found", { status: 404 });
      }
    } catch (e) {
      return Response.json({ error: String(e), code: e.code }, { status: 500 });
    }
  },
};
