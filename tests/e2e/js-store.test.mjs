// The JavaScript library's session stores on the real local runtime: workerd (Miniflare, the
// engine under `wrangler dev`) with local KV and Durable Objects, driven over HTTP. The worker
// (js-store-worker.mjs) is what a user writes: `SessionStore` over `env.SESSIONS` or
// `env.SESSION_OBJECTS`, and a Durable Object class calling `handleSessionObject`. It imports the
// library built with the store (`--features conformance`, which adds `runStoreConformance`):
//
//   make e2e        (builds target/pkg-store-web first; STORE_PKG=<dir> to use another build)
//
// 1. The Rust conformance suite (src/store/conformance.rs) runs inside the worker against KV and
//    against Durable Objects (same body as `cargo test` runs against the memory store).
// 2. 100 concurrent HTTP requests increment one session's counter: with Durable Objects none is
//    lost (compare-and-set and retries); with KV, last write wins (the figure is printed).
// 3. Login regenerates the id; revocation ends every session of a user; `revokeTokens` and
//    `minIssuedAt` revoke stateless session tokens, `endToken` and `tokenEnded` one session's; on Durable Objects, a session regenerated
//    while `revokeSubject` runs is ended too. The longest timeouts and keep times are written.
// 4. A binding that throws, rejects or hangs gives `store_unavailable`, never a crash; a
//    session object's alarm whose storage read fails keeps the session (and fails, for a retry);
//    a save whose alarm cannot be set (a class without alarm()) stores nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { MODULE_RULES } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = process.env.STORE_PKG ?? join(here, "../../target/pkg-store-web");
let mf;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "edge-store-"));
  cpSync(join(here, "js-store-worker.mjs"), join(dir, "worker.mjs"));
  // The glue, its wasm, and the crate's JavaScript snippets the glue imports.
  for (const f of ["edge_session.js", "edge_session_bg.wasm", "snippets"]) cpSync(join(pkg, f), join(dir, f), { recursive: true });
  mf = new Miniflare({
    modules: true,
    modulesRoot: dir,
    scriptPath: join(dir, "worker.mjs"),
    modulesRules: MODULE_RULES,
    compatibilityDate: "2026-04-01",
    kvNamespaces: ["SESSIONS"],
    durableObjects: {
      SESSION_OBJECTS: { className: "SessionObject", useSQLite: true },
      NO_ALARM_OBJECTS: { className: "SessionObjectWithoutAlarm", useSQLite: true },
    },
    kvPersist: false,
    durableObjectsPersist: false,
  });
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const now = () => Math.floor(Date.now() / 1000);

const get = async (path, sid) => {
  const res = await mf.dispatchFetch(`http://store.test${path}`, { headers: sid ? { "x-sid": sid } : {} });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
};

for (const [store, consistency] of [["kv", "eventual"], ["durable", "strong"], ["memory", "strong"]]) {
  test(`conformance suite against ${store}`, async () => {
    const report = await get(`/conformance?store=${store}`);
    assert.equal(report.consistency, consistency);
    const failed = report.checks.filter((c) => c.status === "fail");
    assert.deepEqual(failed, [], JSON.stringify(failed, null, 2));
    const passed = report.checks.filter((c) => c.status === "pass").map((c) => c.name);
    assert.ok(passed.includes("encryption_at_rest") && passed.includes("revoke_subject"));
    if (consistency === "strong") assert.ok(passed.includes("concurrent_increments"));
    console.log(`# ${store}: ${passed.length} checks passed: ${passed.join(", ")}`);
  });
}

for (const store of ["durable", "kv"]) {
  test(`100 concurrent requests increment one counter (${store})`, async () => {
    const first = await get(`/counter?store=${store}`);
    assert.equal(first.n, 1);
    assert.ok(first.cookie);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => get(`/counter?store=${store}`, first.cookie)),
    );
    const final = await get(`/get?store=${store}`, first.cookie);
    if (store === "durable") {
      assert.equal(final.data.n, 101, "no update lost");
      assert.deepEqual(results.map((r) => r.n).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 2));
    } else {
      // Last write wins: the count is at most 101, usually less.
      assert.ok(final.data.n >= 2 && final.data.n <= 101);
    }
    console.log(`# ${store}: 100 concurrent increments -> counter ${final.data.n} (version ${final.version})`);
  });
}

for (const store of ["durable", "kv"]) {
  test(`login regenerates; revocation ends every session of a user (${store})`, async () => {
    const user = `user-${Math.random().toString(36).slice(2)}`;
    const anon = (await get(`/counter?store=${store}`)).cookie;
    const logins = [];
    for (let i = 0; i < 3; i++) logins.push(await get(`/login?store=${store}&user=${user}`, i === 0 ? anon : undefined));
    assert.notEqual(logins[0].cookie, anon);
    assert.ok(logins[0].maxAge > 86000 && logins[0].maxAge <= 86400);
    // The pre-login id is gone (session fixation); the data moved.
    assert.equal((await get(`/get?store=${store}`, anon)).isNew, true);
    const moved = await get(`/get?store=${store}`, logins[0].cookie);
    assert.equal(moved.data.n, 1);
    assert.equal(moved.data.role, "member");
    assert.equal((await get(`/revoke?store=${store}&user=${user}`)).revoked, 3);
    for (const l of logins) assert.equal((await get(`/get?store=${store}`, l.cookie)).isNew, true);
  });
}

for (const store of ["durable", "kv"]) {
  test(`a page's requests at once, its session due for a touch, all succeed (${store})`, async () => {
    const { cookie } = await get(`/counter?store=${store}`);
    const at = now() + 600;
    const page = await get(`/page?store=${store}&at=${at}`, cookie);
    // Each touch extends the session, at the version it read (on Durable Objects every one but
    // the first was a `conflict`); on Workers KV one beaten by another write in its second is
    // "unchanged" (the local KV takes them all).
    assert.ok(page.outcomes.includes("touched"), JSON.stringify(page));
    assert.ok(page.outcomes.every((o) => o === "touched" || o === "unchanged"), JSON.stringify(page));
    assert.deepEqual(page.stored.data, { n: 1 });
    assert.equal(page.stored.touched, at);
  });
}

test("a login beside a touch of the same session by another request of the page (durable)", async () => {
  const { cookie } = await get(`/counter?store=durable`);
  const login = await get(`/login-beside-touch?store=durable&user=alice&at=${now() + 600}`, cookie);
  // The touch changed nothing, and kept the version: the login's compare-and-set on the old id
  // holds (it was a `conflict`, a failed login).
  assert.deepEqual(login, { touch: "touched", done: "ok", renewed: true, held: { data: { n: 1, role: "member" }, subject: "alice" } });
  assert.equal((await get(`/get?store=durable`, cookie)).isNew, true, "the old id ended");
});

test("revokeSubject ends a session regenerated while it runs (durable)", async () => {
  // The regenerate runs after the revocation listed the user's sessions, before it deleted
  // them: it stored and linked the new id, ended the old, and the revocation, deleting only
  // what it had listed, left the user's session alive under the new id.
  const user = `user-${Math.random().toString(36).slice(2)}`;
  const r = await get(`/revoke-race?user=${user}`);
  assert.ok(["ok", "conflict"].includes(r.regenerated), JSON.stringify(r));
  assert.equal(r.oldLoads, false, JSON.stringify(r));
  assert.equal(r.renewedLoads, false, `the user's session outlived the revocation: ${JSON.stringify(r)}`);
  assert.equal(r.revoked, 1, JSON.stringify(r));
});

for (const store of ["durable", "kv"]) {
  test(`load(request): a session cookie planted ahead of the visitor's own does not hide it (${store})`, async () => {
    // A sibling subdomain can set a cookie of the store's name (one without __Host-) with a
    // longer path, which browsers send first: only the first was read, and the visitor got a
    // new, empty session at every request.
    const own = (await get(`/counter?store=${store}`)).cookie;
    const mine = async (cookie) => {
      const res = await mf.dispatchFetch(`http://store.test/mine?store=${store}`, { headers: { cookie } });
      assert.equal(res.status, 200);
      return res.json();
    };
    assert.deepEqual(await mine(`__Host-sid=${own}`), { data: { n: 1 }, isNew: false });
    for (const ahead of ["junk", own.slice(0, -2)]) {
      assert.deepEqual(await mine(`__Host-sid=${ahead}; lang=en; __Host-sid=${own}`), { data: { n: 1 }, isNew: false }, ahead);
    }
  });
}

for (const store of ["durable", "kv"]) {
  test(`session tokens revoked through the store: revokeTokens, minIssuedAt (${store})`, async () => {
    const user = `user-${Math.random().toString(36).slice(2)}`;
    const T = now();
    const token = async (at) => (await get(`/token?store=${store}&user=${user}&at=${at}`)).token;
    const check = (t, at) => get(`/token?store=${store}&token=${encodeURIComponent(t)}&at=${at}`);
    const [phone, laptop] = [await token(T), await token(T + 5)];
    assert.deepEqual(await check(phone, T + 6), { status: "valid", sub: user });
    await get(`/token?store=${store}&revoke=${user}&at=${T + 10}`);
    for (const t of [phone, laptop]) assert.equal((await check(t, T + 11)).status, "revoked");
    // A token issued in the second of the revocation or later is valid.
    const fresh = await token(T + 10);
    assert.deepEqual(await check(fresh, T + 11), { status: "valid", sub: user, minIssuedAt: T + 10 });
    // An earlier revocation arriving late changes nothing.
    await get(`/token?store=${store}&revoke=${user}&at=${T + 2}`);
    assert.equal((await check(fresh, T + 12)).status, "valid");
    assert.equal((await check(laptop, T + 12)).status, "revoked");
  });

  test(`one session's tokens ended at its logout through the store: endToken, tokenEnded (${store})`, async () => {
    const user = `user-${Math.random().toString(36).slice(2)}`;
    const T = now();
    const token = async (sid) => (await get(`/token?store=${store}&user=${user}&sid=${sid}&at=${T}`)).token;
    const check = (t, at) => get(`/token?store=${store}&token=${encodeURIComponent(t)}&at=${at}`);
    const [phone, laptop] = [await token(`${user}-phone`), await token(`${user}-laptop`)];
    assert.equal((await check(phone, T + 1)).status, "valid");
    assert.deepEqual(await get(`/token?store=${store}&end=${user}-phone&at=${T + 2}`), { ended: `${user}-phone` });
    assert.equal((await check(phone, T + 3)).status, "revoked", "the logged-out session's copy");
    assert.equal((await check(laptop, T + 3)).status, "valid", "the user's other session");
  });

  test(`the longest timeouts and keep times the store takes are written (${store})`, async () => {
    // KV takes a time-to-live of at most 2^31 - 1 s: past it, every write failed with
    // store_unavailable ("Value out of range"), a revocation too.
    assert.deepEqual(await get(`/longest?store=${store}`), { data: { n: 1 } });
    const user = `user-${Math.random().toString(36).slice(2)}`;
    const T = now();
    const token = (await get(`/token?store=${store}&user=${user}&sid=${user}-a&at=${T}`)).token;
    const check = (at) => get(`/token?store=${store}&token=${encodeURIComponent(token)}&at=${at}`);
    await get(`/token?store=${store}&end=${user}-a&at=${T + 1}&keep=4294967295`);
    assert.equal((await check(T + 2)).status, "revoked");
    const other = (await get(`/token?store=${store}&user=${user}&at=${T}`)).token;
    await get(`/token?store=${store}&revoke=${user}&at=${T + 1}&keep=4294967295`);
    assert.equal((await get(`/token?store=${store}&token=${encodeURIComponent(other)}&at=${T + 2}`)).status, "revoked");
  });
}

for (const store of ["durable", "kv"]) {
  test(`two commits of one Session at once leave it as the store holds it, never older (${store})`, async () => {
    // On Durable Objects the second commit is a conflict, and it took the Session back to the
    // version both began with (a new session: unstored, without its cookie): every later commit
    // of it was a conflict too.
    const cookie = (await get(`/counter?store=${store}`)).cookie;
    for (const sid of [undefined, cookie]) {
      const what = `${store}, ${sid ? "stored" : "new"} session`;
      const r = await get(`/twice?store=${store}`, sid);
      for (const o of r.outcomes) assert.ok(["created", "written", "unchanged", "conflict"].includes(o), `${what}: ${o}`);
      if (store === "durable") assert.ok(r.outcomes.includes("conflict"), `${what}: ${r.outcomes}`);
      assert.ok(r.version >= 1, what);
      assert.equal(r.last, "written", what);
      assert.ok(r.session.cookie || sid, `${what}: a new session has its cookie`);
      assert.deepEqual(r.stored, { data: r.session.data, version: r.session.version }, what);
      assert.equal(typeof r.stored.data.after, "string", what);
    }
  });
}

test("a failing binding is store_unavailable, never a crash", async () => {
  const cookie = (await get(`/counter?store=kv`)).cookie;
  for (const how of ["throw", "reject", "hang"]) {
    const { read, write } = await get(`/fault?how=${how}`, cookie);
    assert.equal(read.code, "store_unavailable", `${how}: ${JSON.stringify(read)}`);
    assert.equal(read.name, "EdgeSessionError");
    assert.equal(write.code, "store_unavailable", `${how}: ${JSON.stringify(write)}`);
    console.log(`# ${how}: ${read.message}`);
  }
});

test("a session object's alarm whose storage read fails keeps the live session, and fails for a retry", async () => {
  const r = await get("/alarm-fault");
  assert.equal(r.saved, true, JSON.stringify(r));
  assert.equal(r.alarm, "store_unavailable", JSON.stringify(r));
  assert.equal(r.kept, true, `the live entry was deleted: ${JSON.stringify(r)}`);
  assert.equal(r.entry?.v, 1, JSON.stringify(r));
});

test("a save to a session object whose alarm cannot be set (a class without alarm()) stores nothing", async () => {
  const r = await get("/no-alarm");
  assert.equal(r.saved, "store_unavailable", JSON.stringify(r));
  assert.equal(r.entry, null, `an entry without its alarm was left: ${JSON.stringify(r)}`);
  assert.equal(r.commit, "store_unavailable", JSON.stringify(r));
});
