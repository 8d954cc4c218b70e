// End-to-end tests of the gateway on the real local runtime: the worker built by worker-build,
// served by `wrangler dev` (workerd, local KV), three demo origins, real HTTP from Node.
//
//   make e2e        (builds the gateway first; part of `make test`)
//
// The tests run in order against one gateway: later ones kill and restart origins.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createHash, randomBytes } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import WebSocket from "ws";

import { Gateway, Jar, STORE_BINDINGS, rawRequest, requestBytes, sleep, startOrigins, tcpServer } from "./harness.mjs";

const DOWN_SECONDS = 2;
let origins;
let gw;
const byId = (id) => origins.find((o) => o.id === id);

/** A new visitor's first request; returns its jar and origin. */
async function newVisitor(path = "/") {
  const jar = new Jar();
  const r = await gw.request(path, jar);
  assert.equal(r.status, 200, r.text);
  return { jar, backend: r.body.backend };
}

/** Opens a WebSocket through the gateway; resolves once open, with the handshake's headers
 * and `next()` for the next message. */
function openSocket(path, headers = {}) {
  const ws = new WebSocket(gw.url.replace(/^http/, "ws") + path, { headers });
  const queue = [];
  const waiting = [];
  ws.on("message", (m) => (waiting.length ? waiting.shift()(String(m)) : queue.push(String(m))));
  const next = () =>
    queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r));
  return new Promise((resolve, reject) => {
    let upgrade;
    ws.on("upgrade", (res) => (upgrade = res.headers));
    ws.on("open", () => resolve({ ws, upgrade, next }));
    ws.on("error", reject);
    ws.on("unexpected-response", (_, res) => reject(new Error(`answered ${res.statusCode}`)));
  });
}

before(async () => {
  origins = await startOrigins();
  gw = new Gateway(origins, {
    vars: { HEALTH_DOWN_SECONDS: DOWN_SECONDS, HEALTH_CACHE_SECONDS: 1, PROBE_TIMEOUT_MS: 2000 },
  });
  await gw.start();
});

after(async () => {
  await gw?.stop();
  await Promise.all((origins || []).map((o) => o.kill()));
});

describe("gateway on wrangler dev", { concurrency: false }, () => {
  test("a visitor sticks to one origin across 50 requests", async () => {
    const seen = new Set();
    for (let v = 0; v < 12; v++) {
      const jar = new Jar();
      const first = await gw.request("/page", jar);
      assert.equal(first.status, 200);
      const cookie = first.setCookies.find((c) => c.startsWith("__Host-affinity="));
      assert.ok(cookie, "a new visitor gets an affinity cookie");
      assert.match(cookie, /; Path=\/; Secure; HttpOnly; SameSite=Lax/);
      assert.doesNotMatch(cookie, new RegExp(`127\\.0\\.0\\.1|${origins.map((o) => o.port).join("|")}`));
      for (let i = 1; i < 50; i++) {
        const r = await gw.request(`/page/${i}`, jar);
        assert.equal(r.status, 200);
        assert.equal(r.body.backend, first.body.backend, `request ${i} stays on ${first.body.backend}`);
        assert.deepEqual(r.setCookies, [], "the cookie is not re-sent on every request");
      }
      seen.add(first.body.backend);
    }
    assert.ok(seen.size >= 2, `12 visitors spread over the origins, saw ${[...seen]}`);
  });

  test("login through an origin header yields a cookie and the identity reaches the origin", async () => {
    const { jar, backend } = await newVisitor();
    const before = jar.cookies.get("__Host-affinity");
    const login = await gw.request("/login?user=alice&role=admin", jar);
    assert.equal(login.status, 200);
    assert.equal(login.headers.get("x-session-issue"), null, "the directive never reaches the browser");
    const session = login.setCookies.find((c) => c.startsWith("__Host-session="));
    assert.match(session, /^__Host-session=[A-Za-z0-9_-]+; Max-Age=3600; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    assert.notEqual(jar.cookies.get("__Host-affinity"), before, "affinity value rotated at login");
    const me = await gw.request("/me", jar);
    assert.equal(me.body.backend, backend, "still on the origin that logged the user in");
    assert.equal(me.body.session["x-session-status"], "valid");
    assert.equal(me.body.session["x-session-sub"], "alice");
    const claims = JSON.parse(me.body.session["x-session-claims"]);
    assert.equal(claims.role, "admin");
    assert.match(claims.sid, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(me.body.session["x-session-id"], claims.sid);

    // A second login gets a new session id (no fixation).
    await gw.request("/login?user=alice&role=admin", jar);
    const again = await gw.request("/me", jar);
    assert.notEqual(JSON.parse(again.body.session["x-session-claims"]).sid, claims.sid);

    const logout = await gw.request("/logout", jar);
    assert.equal(logout.headers.get("x-session-clear"), null);
    assert.ok(logout.setCookies.some((c) => /^__Host-session=; Max-Age=0;/.test(c)), logout.setCookies.join("\n"));
    const anon = await gw.request("/me", jar);
    assert.equal(anon.body.session["x-session-status"], "none");
    assert.equal(anon.body.backend, backend, "logout keeps the visitor where it is");
  });

  test("a request carrying a visitor's session bypasses shared caches on the way to the origin, an anonymous one does not", async () => {
    // The gateway fetches it with `cache: "no-store"` (Cloudflare's cache keys by URL, not by
    // the identity headers): neither answered from a cache nor kept. Locally workerd shows the
    // mode as the request headers it adds for it (production skips its cache instead).
    const bypassed = (r) => r.body.headers.pragma === "no-cache" && /no-cache/.test(r.body.headers["cache-control"] ?? "");
    const jar = new Jar();
    const anonymous = await gw.request("/headers", jar);
    assert.equal(anonymous.status, 200);
    assert.equal(bypassed(anonymous), false, JSON.stringify(anonymous.body.headers));
    await gw.request("/login?user=dora", jar);
    const dora = await gw.request("/headers", jar);
    assert.equal(dora.body.headers["x-session-sub"], "dora");
    assert.equal(bypassed(dora), true, JSON.stringify(dora.body.headers));
    await gw.request("/logout", jar);
    assert.equal(bypassed(await gw.request("/headers", jar)), false);
  });

  test("spoofed x-session-* headers are stripped", async () => {
    const spoof = {
      "x-session-sub": "admin",
      "X-Session-Status": "valid",
      "x-session-claims": '{"sub":"admin","role":"root"}',
      "x-session-id": "stolen",
      "x-session-reassigned": "1",
    };
    const anon = await gw.request("/", new Jar(), { headers: spoof });
    assert.deepEqual(anon.body.session, { "x-session-status": "none" });

    const jar = new Jar();
    await gw.request("/login?user=bob", jar);
    const bob = await gw.request("/", jar, { headers: spoof });
    assert.equal(bob.body.session["x-session-sub"], "bob");
    assert.notEqual(bob.body.session["x-session-id"], "stolen");
    assert.equal(JSON.parse(bob.body.session["x-session-claims"]).role, "member");
    assert.equal(bob.body.session["x-session-reassigned"], undefined);
  });

  test("malformed, huge or forged cookies give a normal anonymous response, never a 500", async () => {
    const jar = new Jar();
    await gw.request("/login?user=carol", jar);
    const token = jar.cookies.get("__Host-session");
    const affinity = jar.cookies.get("__Host-affinity");
    const flip = (s, i) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    const cases = [
      `__Host-session=${flip(token, 5)}`,
      `__Host-session=${flip(token, token.length - 3)}`,
      `__Host-session=${flip(token, Math.floor(token.length / 2))}`,
      `__Host-session=${token.slice(0, -10)}`,
      `__Host-session=${token}x`,
      `__Host-session=${"A".repeat(6000)}`,
      `__Host-session=${"\u00ff".repeat(3000)}`,
      `__Host-session=.....; __Host-session=%%%; __Host-session=`,
      `__Host-session="${token.slice(0, 20)}"`,
      `__Host-affinity=${flip(affinity, 8)}; __Host-session=garbage`,
      `__Host-affinity=${"Z".repeat(5000)}`,
      `__Host-affinity=; =; ;;; novalue; a=b=c`,
      `${"x".repeat(200)}=${"y".repeat(4000)}; __Host-session=${"B".repeat(4097)}`,
    ];
    for (const cookie of cases) {
      const r = await gw.request("/", new Jar(), { headers: { cookie } });
      assert.equal(r.status, 200, `${cookie.slice(0, 60)}: ${r.text}`);
      assert.ok(["none", "invalid"].includes(r.body.session["x-session-status"]), cookie.slice(0, 60));
      assert.equal(r.body.session["x-session-sub"], undefined);
      assert.ok(["a", "b", "c"].includes(r.body.backend));
    }
    // The genuine cookie still works alongside junk.
    const ok = await gw.request("/", new Jar(), { headers: { cookie: `junk; __Host-session=${token}; x=1` } });
    assert.equal(ok.body.session["x-session-sub"], "carol");
  });

  test("request and response bodies are streamed through", async () => {
    const start = Date.now();
    // identity: workerd gzips text for clients that accept it, and its encoder holds chunks back.
    const res = await fetch(`${gw.url}/stream`, { headers: { "accept-encoding": "identity" } });
    const reader = res.body.getReader();
    const first = await reader.read();
    const firstAt = Date.now() - start;
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    const total = Date.now() - start;
    assert.match(new TextDecoder().decode(first.value), /^chunk 0/);
    assert.match(rest, /chunk 2/);
    assert.ok(total >= 550, `the origin takes ~600 ms (took ${total})`);
    assert.ok(firstAt < total - 300, `first chunk at ${firstAt} ms, long before the end at ${total} ms`);

    const body = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 255);
    const { createHash } = await import("node:crypto");
    const echo = await gw.request("/echo", new Jar(), { method: "POST", body });
    assert.equal(echo.status, 200);
    assert.equal(echo.body.bytes, body.length);
    assert.equal(echo.body.sha256, createHash("sha256").update(body).digest("hex"));
  });

  test("the origin's own cookies pass through beside the gateway's", async () => {
    const r = await gw.request("/cookies", new Jar());
    assert.equal(r.status, 200);
    assert.ok(r.setCookies.includes("theme=dark; Path=/"), r.setCookies.join("\n"));
    assert.ok(r.setCookies.includes("lang=en; Path=/; HttpOnly"));
    assert.ok(r.setCookies.some((c) => c.startsWith("__Host-affinity=")));
  });

  test("WebSockets reach the visitor's origin with the verified identity, never a spoofed one", async () => {
    const jar = new Jar();
    await gw.request("/login?user=wendy", jar);
    const home = (await gw.request("/", jar)).body.backend;
    const socket = await openSocket("/ws", { cookie: jar.header(), "x-session-sub": "root" });
    const hello = JSON.parse(await socket.next());
    assert.equal(hello.backend, home, "the same origin as the visitor's HTTP requests");
    assert.equal(hello.session["x-session-status"], "valid");
    assert.equal(hello.session["x-session-sub"], "wendy");
    socket.ws.send("ping");
    assert.equal(await socket.next(), "echo ping");
    socket.ws.close();
    // A new visitor's first request may be the WebSocket: the 101 pins it like any answer.
    const fresh = await openSocket("/ws");
    const pinned = fresh.upgrade["set-cookie"].find((c) => c.startsWith("__Host-affinity="));
    assert.ok(pinned, JSON.stringify(fresh.upgrade));
    const first = JSON.parse(await fresh.next());
    fresh.ws.close();
    const later = new Jar();
    later.cookies.set("__Host-affinity", pinned.split(";")[0].split("=")[1]);
    assert.equal((await gw.request("/", later)).body.backend, first.backend);
  });

  test("an origin's redirect to its own address goes to the public host instead", async () => {
    const r = await gw.request("/redirect?to=/landing%3Fa%3D1", new Jar());
    assert.equal(r.status, 302);
    assert.equal(r.headers.get("location"), `${gw.url}/landing?a=1`);
    const away = await gw.request("/redirect?to=https://id.example/authorize", new Jar());
    assert.equal(away.headers.get("location"), "https://id.example/authorize", "other sites are left alone");
    // Scheme-relative, as an app writes one from its Host: read on the public page's scheme
    // (http here, as the origins'), so the origin's address; it used to pass through.
    for (const o of origins) {
      const to = `location://${new URL(o.url).host}/landing?a=1`;
      const r = await gw.request(`/reflect?h=${encodeURIComponent(to)}`, new Jar());
      assert.equal(r.headers.get("location"), `${gw.url}/landing?a=1`, o.id);
    }
  });

  let moved; // visitors moved off the killed origin, for the next test
  let victim;

  test("killing an origin moves its visitors with a new affinity cookie, no 5xx for GET", async () => {
    const visitors = [];
    for (let i = 0; i < 15; i++) visitors.push(await newVisitor());
    const counts = {};
    for (const v of visitors) counts[v.backend] = (counts[v.backend] || 0) + 1;
    victim = Object.keys(counts).sort((x, y) => counts[y] - counts[x])[0];
    await byId(victim).kill();

    moved = [];
    for (const v of visitors) {
      for (let i = 0; i < 5; i++) {
        const r = await gw.request(`/after-kill/${i}`, v.jar);
        assert.equal(r.status, 200, `GET after ${victim} died: ${r.status} ${r.text}`);
        const newCookie = r.setCookies.some((c) => c.startsWith("__Host-affinity="));
        if (v.backend !== victim) {
          assert.equal(r.body.backend, v.backend, "visitors of live origins do not move");
          assert.equal(newCookie, false);
        } else {
          assert.notEqual(r.body.backend, victim);
          if (i === 0) {
            assert.ok(newCookie, "the moved visitor gets a new affinity cookie");
            assert.equal(r.body.session["x-session-reassigned"], "1", "the new origin is told");
            v.movedTo = r.body.backend;
          } else {
            assert.equal(r.body.backend, v.movedTo, "and stays on its new origin");
          }
        }
      }
      if (v.backend === victim) moved.push(v);
    }
    assert.ok(moved.length >= 5, `15 visitors, the busiest origin had ${moved.length}`);
  });

  test("restarting the origin does not move its former visitors back", async () => {
    await byId(victim).start();
    assert.match(await gw.cron(), /Ran scheduled event/);
    await sleep(DOWN_SECONDS * 1000 + 1100); // the passive mark expires
    const report = await gw.health();
    assert.equal(report.origins.find((o) => o.id === victim).up, true, JSON.stringify(report));
    for (const v of moved) {
      for (let i = 0; i < 5; i++) {
        const r = await gw.request(`/after-restart/${i}`, v.jar);
        assert.equal(r.status, 200);
        assert.equal(r.body.backend, v.movedTo, "no flapping back to the restarted origin");
      }
    }
    // The restarted origin takes new visitors again.
    let back = false;
    for (let i = 0; i < 60 && !back; i++) back = (await newVisitor()).backend === victim;
    assert.ok(back, `new visitors reach ${victim} again`);
  });

  test("a cron run probes the origins and updates the shared health in KV", async () => {
    const anon = await fetch(`${gw.url}/__edge/health`);
    assert.equal(anon.status, 401);
    const wrong = await fetch(`${gw.url}/__edge/health`, { headers: { authorization: "Bearer nope-nope-nope-nope" } });
    assert.equal(wrong.status, 401);

    const target = origins.find((o) => o.id !== victim);
    await target.kill();
    const started = Math.floor(Date.now() / 1000);
    assert.match(await gw.cron(), /Ran scheduled event/);
    const report = await gw.health();
    assert.ok(report.sharedCheckedAt >= started - 1, JSON.stringify(report));
    assert.equal(report.kvBinding, true);
    const entry = report.origins.find((o) => o.id === target.id);
    assert.equal(entry.shared.healthy, false, JSON.stringify(entry));
    assert.ok(entry.shared.error, "the probe says why");
    assert.equal(entry.passiveDownUntil, null, "no request failed on it: the shared result alone took it out");
    assert.equal(entry.up, false);
    for (const o of report.origins.filter((o) => o.id !== target.id)) assert.equal(o.shared.healthy, true);
    // New visitors avoid it without trying it first.
    for (let i = 0; i < 20; i++) {
      const v = await newVisitor();
      assert.notEqual(v.backend, target.id);
    }
    const still = await gw.health();
    assert.equal(still.origins.find((o) => o.id === target.id).passiveDownUntil, null);

    await target.start();
    await gw.cron();
    const healed = await gw.health();
    assert.equal(healed.origins.find((o) => o.id === target.id).shared.healthy, true);
  });

  test("all origins down gives 503 with Retry-After, never a 500", async () => {
    const jars = [];
    for (let i = 0; i < 3; i++) jars.push((await newVisitor()).jar);
    await Promise.all(origins.map((o) => o.kill()));
    // Each request's first try counts one connection failure against an origin not yet marked;
    // HEALTH_FAILURES (3) in a row mark it: after at most 9 requests all three are marked.
    let last;
    for (let i = 0; i < 12; i++) {
      last = await gw.request(`/down/${i}`, jars[i % jars.length]);
      assert.equal(last.status, 503, last.text);
      const retry = Number(last.headers.get("retry-after"));
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= DOWN_SECONDS, `Retry-After ${retry}`);
    }
    assert.match(last.text, /all origins are down/);
    const post = await gw.request("/form", new Jar(), { method: "POST", body: "x=1" });
    assert.equal(post.status, 503);
    assert.ok(post.headers.get("retry-after"));
    // A failed try that marks its origin down says so; one that does not but leaves the client
    // a 503 (the last origin tried) says that.
    assert.match(gw.log, /origin "[abc]" unreachable \([^\n]*\); marked down/);
    assert.match(await gw.logged(/; answered 503/), /origin "[abc]" unreachable \([^\n]*\); answered 503/);
  });
});

describe("a health path every origin answers 404 to", () => {
  test("the cron marks every origin down while they serve: requests still get 200s, dead origins the 503", async () => {
    // An operator's mistake (docs/gateway.md: "check the path with curl on every origin"): one
    // cron run records every origin down in KV. The gateway sets that result aside rather than
    // answer 503 to everybody at every location, and logs it once.
    const own = await startOrigins(["p", "q"]);
    const g = new Gateway(own, { vars: { HEALTH_PATH: "/status?code=404", HEALTH_CACHE_SECONDS: 1 } });
    await g.start();
    try {
      assert.match(await g.cron(), /Ran scheduled event/);
      const report = await g.health();
      assert.equal(report.sharedFresh, true, JSON.stringify(report));
      assert.equal(report.failOpen, true, JSON.stringify(report));
      for (const o of report.origins) {
        assert.equal(o.shared.status, 404, JSON.stringify(o));
        assert.equal(o.shared.healthy, false);
        assert.equal(o.up, true);
      }
      const seen = new Set();
      for (let i = 0; i < 20; i++) {
        const r = await g.request(`/open/${i}`);
        assert.equal(r.status, 200, r.text);
        seen.add(r.body.backend);
      }
      assert.deepEqual([...seen].sort(), ["p", "q"]);
      const line = /failing open/g;
      const logged = (await g.logged(line)).match(line) || [];
      assert.equal(logged.length, 1, g.log);

      // The origins die: their first tries fail (HEALTH_FAILURES, 3, in a row mark one: after at
      // most 6 requests both are marked, for HEALTH_DOWN_SECONDS, 30), and it is all down.
      await Promise.all(own.map((o) => o.kill()));
      let last;
      for (let i = 0; i < 8; i++) {
        last = await g.request(`/dead/${i}`);
        assert.equal(last.status, 503, last.text);
      }
      assert.match(last.text, /all origins are down/);
      assert.ok(Number(last.headers.get("retry-after")) >= 1);
      const dead = await g.health();
      assert.equal(dead.failOpen, false, JSON.stringify(dead));
      for (const o of dead.origins) assert.ok(!o.up && o.passiveDownUntil, JSON.stringify(o));
    } finally {
      await g.stop();
      await Promise.all(own.map((o) => o.kill()));
    }
  });
});

describe("misconfigured gateway", () => {
  test("invalid configuration gives a generic 500 page, logged at each request naming the setting, never a crash", async () => {
    const bad = new Gateway([{ id: "a", url: "http://127.0.0.1:9" }], {
      vars: { AFFINITY_IDLE_SECONDS: "ninety" },
    });
    await bad.start();
    try {
      for (let i = 0; i < 3; i++) {
        const r = await bad.request(`/any/${i}`);
        assert.equal(r.status, 500);
        assert.match(r.text, /misconfigured/);
        assert.doesNotMatch(r.text, /AFFINITY_IDLE_SECONDS/, "settings are for the log, not for clients");
        assert.doesNotMatch(r.text, new RegExp(JSON.parse(bad.secrets.SESSION_KEYS)[0].secret));
      }
      // Each request logs it (an operator who runs `wrangler tail` after seeing the 500, as the
      // page says, sees why; it was logged at the instance's first request only).
      const line = /invalid configuration: AFFINITY_IDLE_SECONDS: "ninety" is not a whole number/g;
      const count = async () => ((await bad.logged(line)).match(line) || []).length;
      const before = await count();
      assert.ok(before >= 3, bad.log);
      assert.equal((await bad.request("/more")).status, 500);
      assert.equal(await count(), before + 1, bad.log);
    } finally {
      await bad.stop();
    }
  });

  test("a variable that is no setting (a misspelt STORE), a setting of another affinity mode or milliseconds that look like seconds is named in a warning, once per instance, an unknown one's value never", async () => {
    // The configuration reads its settings by name: `STROE = "kv"` left the store off, and a
    // lowercase `origin_timeout_ms` the timeout unset, without a word.
    const own = await startOrigins(["w"]);
    // A table whose name is no setting's (THEME) and a binding that is a plain object
    // (CF_VERSION_METADATA) are not named.
    // PROBE_TIMEOUT_MS = 30 (a number from wrangler.toml, meant as seconds?) is taken, and warned
    // of; so are SESSION_TTL_SECONDS of a day in milliseconds, SESSION_LEEWAY_SECONDS of 30 s
    // in milliseconds (over its 300) and AFFINITY_IDLE_SECONDS of half an hour in milliseconds
    // (20.8 days); 400 days of AFFINITY_TTL_SECONDS are not. STORE_TIMEOUT_MS = 99 is not read
    // (the store is off here): warned of as such only. A number or a boolean of a name that
    // looks like no setting's (REFRESH_AFTER, NONCE) is named too: neither is ever a binding.
    const vars = { PROBE_TIMEOUT_MS: { toml: "30" }, STORE_TIMEOUT_MS: "99", SESSION_TTL_SECONDS: "86400000", SESSION_LEEWAY_SECONDS: "30000", AFFINITY_IDLE_SECONDS: "1800000", AFFINITY_TTL_SECONDS: String(400 * 86400), AFFINITY_HEADER: "x-tenant", AFFINITY_PARAM: "qparam7", ORIGIN_ASSERTION_KEY: "{}", STROE: "kv", origin_timeout_ms: "5000", ORIGIN_TIMEOUT: { toml: "4999" }, AFFINITY: { toml: '{ mode = "ip" }' }, DBSC_ON: { toml: "true" }, REFRESH_AFTER: { toml: "0.9" }, NONCE: { toml: "true" }, THEME: { toml: '{ dark = true }' }, SESSION_COOKIE: "app-session", AFFINITY_MODE: " " };
    const toml = [`[version_metadata]`, `binding = "CF_VERSION_METADATA"`];
    // So is an ORIGINS whose every origin is draining (served all the same).
    vars.ORIGINS = JSON.stringify(own.map((o) => ({ id: o.id, url: o.url, draining: true })));
    // A cookie name without __Host- and an operator token pasted with its quotes are named too
    // (.dev.vars is dotenv: the single quotes are its own, the double ones the token's).
    const g = new Gateway(own, { vars, toml, secrets: { SECERT_TOKEN: "hunter2-hunter2-hunter2", OPERATOR_TOKEN: `'"op-token-4242-4242-4242"'` } });
    await g.start();
    try {
      for (let i = 0; i < 3; i++) assert.equal((await g.request(`/w/${i}`)).status, 200);
      for (const name of ["STROE", "origin_timeout_ms", "SECERT_TOKEN", "ORIGIN_TIMEOUT", "AFFINITY", "DBSC_ON", "REFRESH_AFTER", "NONCE"]) {
        const line = new RegExp(`the variable ${name} is no setting of the gateway and is ignored`, "g");
        assert.equal(((await g.logged(line)).match(line) || []).length, 1, g.log);
      }
      // AFFINITY_MODE unset is cookie mode: the header and the query parameter are not read;
      // nor, with the store and the assertions off, their settings.
      for (const [name, on] of [
        ["AFFINITY_HEADER", 'AFFINITY_MODE = "header"'],
        ["AFFINITY_PARAM", 'AFFINITY_MODE = "url"'],
        ["STORE_TIMEOUT_MS", 'STORE = "kv" or "durable"'],
        ["ORIGIN_ASSERTION_KEY", 'ORIGIN_ASSERTION = "EdDSA" or "ES256"'],
      ]) {
        const line = new RegExp(`${name} is read with ${on} only and is ignored`, "g");
        assert.equal(((await g.logged(line)).match(line) || []).length, 1, g.log);
      }
      const ms = /PROBE_TIMEOUT_MS = 30 is 30 milliseconds, not seconds \(30 seconds is 30000\)/g;
      assert.equal(((await g.logged(ms)).match(ms) || []).length, 1, g.log);
      assert.doesNotMatch(g.log, /STORE_TIMEOUT_MS = 99/);
      for (const days of [
        /SESSION_TTL_SECONDS = 86400000 is 1000 days, seconds, not milliseconds; for 86400000 milliseconds set 86400/g,
        /SESSION_LEEWAY_SECONDS = 30000 is 8.3 hours, seconds, not milliseconds; for 30000 milliseconds set 30/g,
        /AFFINITY_IDLE_SECONDS = 1800000 is 21 days, seconds, not milliseconds; for 1800000 milliseconds set 1800/g,
      ]) {
        assert.equal(((await g.logged(days)).match(days) || []).length, 1, g.log);
      }
      assert.doesNotMatch(g.log, /ORIGIN_TIMEOUT_MS = |AFFINITY_TTL_SECONDS = /);
      for (const line of [
        /SESSION_COOKIE has no __Host- prefix: a subdomain can set a cookie of its name/g,
        /OPERATOR_TOKEN begins and ends with a quote, which is part of the token/g,
        /every origin of ORIGINS is draining: new visitors still go to them/g,
      ]) {
        assert.equal(((await g.logged(line)).match(line) || []).length, 1, g.log);
      }
      assert.doesNotMatch(g.log, /op-token-4242|app-session|(AFFINITY|STORE)_COOKIE has no/);
      // Read in cookie mode, AFFINITY_MODE blank (as unset).
      assert.doesNotMatch(g.log, /AFFINITY_(TTL|IDLE)_SECONDS is read with/);
      assert.doesNotMatch(g.log, /hunter2|5000|4999|"ip"|x-tenant|qparam7/);
      // Settings and bindings are not named.
      assert.doesNotMatch(g.log, /variable (ORIGINS|SESSION_KEYS|EDGE_HEALTH|CF_VERSION_METADATA|THEME) /);
    } finally {
      await g.stop();
      await Promise.all(own.map((o) => o.kill()));
    }
  });

  test("an origin url the runtime's URL parser refuses fails at start, not at every request", async () => {
    // `xn--a` is no IDNA label (it decodes to U+0080): the gateway's own check took it, and every
    // request's fetch then threw "Invalid URL".
    const bad = new Gateway([{ id: "a", url: "http://xn--a.localhost:9" }]);
    await bad.start();
    try {
      const r = await bad.request("/any");
      assert.equal(r.status, 500, r.text);
      assert.match(r.text, /misconfigured/);
      const line = /invalid configuration: ORIGINS: origin "a": url the runtime's URL parser refuses/;
      assert.match(await bad.logged(line), line, bad.log);
    } finally {
      await bad.stop();
    }
  });
});

describe("an origin that fails slowly", () => {
  test("a connection failure after HEALTH_DOWN_SECONDS still marks the origin down", async () => {
    // Accepts, then resets the connection later than HEALTH_DOWN_SECONDS (2): the mark must
    // count from the failure, not from the request's start (which would put it in the past).
    const server = await tcpServer((socket) => setTimeout(() => socket.resetAndDestroy(), 3000));
    const slow = new Gateway([{ id: "slow", url: server.url }], {
      vars: { HEALTH_DOWN_SECONDS: 2, HEALTH_FAILURES: 1 },
    });
    await slow.start();
    try {
      const r = await slow.request("/slow");
      assert.equal(r.status, 503, r.text);
      const entry = (await slow.health()).origins[0];
      assert.equal(entry.up, false, JSON.stringify(entry));
      assert.ok(entry.passiveDownUntil > Math.floor(Date.now() / 1000) - 1, JSON.stringify(entry));
    } finally {
      await slow.stop();
      server.close();
    }
  });
});

describe("an origin that hangs on its health path", () => {
  test("the cron times each probe on its own: a hung origin does not slow the others' results", async () => {
    // The first origin accepts and never answers: its probe runs into PROBE_TIMEOUT_MS. The
    // second answers at once, and its result must say so (it was timed when the first one
    // timed out, as if it took PROBE_TIMEOUT_MS too).
    const hung = await tcpServer(() => {});
    const [fast] = await startOrigins(["fast"]);
    const timeout = 2500;
    const probed = new Gateway([{ id: "hung", url: hung.url }, fast], {
      vars: { PROBE_TIMEOUT_MS: timeout },
    });
    await probed.start();
    try {
      assert.match(await probed.cron(), /Ran scheduled event/);
      const report = await probed.health();
      const [h, f] = ["hung", "fast"].map((id) => report.origins.find((o) => o.id === id).shared);
      assert.equal(h.healthy, false, JSON.stringify(report));
      assert.ok(h.ms >= timeout - 100, JSON.stringify(h));
      assert.equal(f.healthy, true, JSON.stringify(f));
      assert.ok(f.ms < timeout / 2, `the fast origin answered in ${f.ms} ms, not its own time`);
    } finally {
      await probed.stop();
      await fast.kill();
      hung.close();
    }
  });
});

/**
 * An origin of its own (node:http) with paths that take their time: `/hang...` is accepted
 * and never answered; `/late` answers after 1.5 s; `/upload` answers once the request's body
 * has all come (`{"bytes", "sha256", "length"}`, the last its Content-Length); `/trickle` sends
 * its headers at once, then
 * its body in 8 chunks 300 ms apart (`TRICKLE`); anything else answers at once as a demo origin
 * does (`{"backend", "session"}`). `close()` ends its connections too.
 */
async function slowOrigin(id) {
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    req.resume(); // a body is read and dropped
    if (path.startsWith("/hang")) return;
    const json = (body) => {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(body));
    };
    const session = Object.fromEntries(Object.entries(req.headers).filter(([n]) => n.startsWith("x-session-")));
    if (path === "/late") return void setTimeout(() => json({ backend: id, late: true }), 1500);
    if (path === "/upload") {
      const hash = createHash("sha256");
      let bytes = 0;
      req.removeAllListeners("data");
      req.on("data", (c) => ((bytes += c.length), hash.update(c)));
      req.on("end", () => json({ backend: id, bytes, sha256: hash.digest("hex"), length: req.headers["content-length"] ?? null }));
      return;
    }
    if (path !== "/trickle") return json({ backend: id, session });
    res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" });
    res.flushHeaders();
    let n = 0;
    const tick = () => {
      res.write(TRICKLE[n]);
      if (++n < TRICKLE.length) setTimeout(tick, 300);
      else res.end();
    };
    setTimeout(tick, 300);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    id,
    url: `http://127.0.0.1:${server.address().port}`,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
const TRICKLE = Array.from({ length: 8 }, (_, i) => `part ${i} ${"x".repeat(1000)}\n`);

/** POSTs `chunks` to `g` + `path` with `jar`'s cookies with node:http (chunked, no
 * Content-Length), `delayMs` apart; resolves with { status, body, text }, or status 0. */
function trickleUpload(g, path, jar, chunks, delayMs) {
  const { hostname, port } = new URL(g.url);
  return new Promise((resolve) => {
    const req = httpRequest({ host: hostname, port, path, method: "POST", headers: { cookie: jar.header() } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        let body;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, text, body });
      });
    });
    req.on("error", (e) => resolve({ status: 0, text: e.message }));
    (async () => {
      for (const chunk of chunks) {
        req.write(chunk);
        await sleep(delayMs);
      }
      req.end();
    })();
  });
}

/** `gw.request` that fails (status 0) rather than waiting past `ms` for the answer. */
async function within(g, ms, path, jar, init = {}) {
  try {
    return await g.request(path, jar, { ...init, signal: AbortSignal.timeout(ms) });
  } catch (e) {
    return { status: 0, text: `no answer within ${ms} ms: ${e.message}` };
  }
}

// STORE none: the first try is the fast path's (one promise, proxy.rs `start`); durable: a Rust
// future's (`run`), as with ORIGIN_ASSERTION. The other try is always `run`'s.
for (const store of ["none", "durable"]) describe(`ORIGIN_TIMEOUT_MS, STORE = "${store}": an origin that takes the request and never answers`, { concurrency: false }, () => {
  // Two origins: `h`, which hangs on /hang, and a demo origin. Visitors of `h` are found first,
  // while it answers. HEALTH_FAILURES 1: one timeout marks it down, as one connection failure does.
  let h;
  let demo;
  let timed;
  const visitors = [];
  before(async () => {
    h = await slowOrigin("h");
    [demo] = await startOrigins(["d"]);
    const vars = { ORIGIN_TIMEOUT_MS: 500, HEALTH_FAILURES: 1, HEALTH_DOWN_SECONDS: 30, STORE: store };
    timed = new Gateway([h, demo], { vars, toml: store === "none" ? [] : STORE_BINDINGS });
    await timed.start();
    for (let i = 0; i < 60 && visitors.length < 3; i++) {
      const jar = new Jar();
      const r = await timed.request("/", jar);
      assert.equal(r.status, 200, r.text);
      if (r.body.backend === "h") visitors.push(jar);
    }
    assert.equal(visitors.length, 3, "three visitors of h");
  });
  after(async () => {
    await timed?.stop();
    await demo?.kill();
    h?.close();
  });

  test("a slow body after prompt headers arrives whole: only the wait for the headers is timed", async () => {
    const started = Date.now();
    const r = await within(timed, 20_000, "/trickle", visitors[0], { headers: { "accept-encoding": "identity" } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, TRICKLE.join(""), "the whole body");
    assert.ok(Date.now() - started >= 2000, "it did trickle, for far longer than ORIGIN_TIMEOUT_MS");
    const entry = (await timed.health()).origins.find((o) => o.id === "h");
    assert.equal(entry.passiveDownUntil, null, JSON.stringify(entry));
  });

  test("a POST to a hung origin gets the 504 promptly, not retried, the origin not marked (it had a body)", async () => {
    for (const path of ["/hang/order", "/late"]) {
      const r = await within(timed, 10_000, path, visitors[1], { method: "POST", body: "item=1" });
      assert.equal(r.status, 504, `${path}: ${r.text}`);
      assert.match(r.text, /^504 Gateway Timeout: the origin server for this request did not answer in time/);
      assert.equal(r.headers.get("retry-after"), null);
    }
    const entry = (await timed.health()).origins.find((o) => o.id === "h");
    assert.equal(entry.up, true, JSON.stringify(entry));
    assert.equal(entry.passiveDownUntil, null, JSON.stringify(entry));
    // Each 504 is in the log (no mark, no retry: it was logged nowhere).
    const line = /origin "h" too slow \(no answer within 500 ms \(ORIGIN_TIMEOUT_MS\)\); answered 504/g;
    assert.equal(((await timed.logged(line)).match(line) || []).length, 2, timed.log.slice(-3000));
  });

  test("an upload slower than the setting is not cut: the wait counts from its last byte", async () => {
    const chunks = Array.from({ length: 8 }, () => randomBytes(1000));
    const all = Buffer.concat(chunks);
    const sha256 = createHash("sha256").update(all).digest("hex");
    const started = Date.now();
    const slow = await trickleUpload(timed, "/upload", visitors[1], chunks, 300);
    assert.equal(slow.status, 200, slow.text);
    assert.ok(Date.now() - started >= 2000, "it did trickle, for far longer than ORIGIN_TIMEOUT_MS");
    assert.deepEqual([slow.body.backend, slow.body.bytes, slow.body.sha256], ["h", all.length, sha256]);
    // A body of a known length reaches the origin with its Content-Length, as without the setting.
    const sized = await within(timed, 10_000, "/upload", visitors[1], { method: "POST", body: all });
    assert.equal(sized.status, 200, sized.text);
    assert.deepEqual([sized.body.bytes, sized.body.sha256, sized.body.length], [all.length, sha256, String(all.length)]);
  });

  test("a Content-Length past 2^53 streams on as a body of no length: the origin answers, the instance is not reset", async () => {
    // No FixedLengthStream takes such a length: its constructor threw, uncaught through the
    // wasm, which reset the instance (in-flight requests of others included); the client got
    // nothing (STORE none) or the runtime's 500 for a hung Worker (durable).
    const host = new URL(timed.url).host;
    const bytes = Buffer.concat([requestBytes("POST", "/", [["content-length", "9007199254740993"]], { host }), Buffer.from("hello")]);
    // The client keeps the connection open (its body never ends): the answer's head and first
    // bytes are what can come.
    const r = await rawRequest(timed.url, bytes, { timeoutMs: 3000 });
    assert.equal(r.status, 200, r.error || r.partial);
    assert.match(r.text, /"backend":"[hd]"/);
    await sleep(300);
    assert.doesNotMatch(timed.log, /Critical error|Reinitializing/, timed.log.slice(-2000));
  });

  test("a GET to a hung origin is answered by another within seconds; its visitor moves and the origin is marked down", async () => {
    const jar = visitors[2];
    const before = jar.cookies.get("__Host-affinity");
    const r = await within(timed, 10_000, "/hang/page", jar);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.backend, "d");
    assert.equal(r.body.session["x-session-reassigned"], "1", "the new origin is told");
    assert.notEqual(jar.cookies.get("__Host-affinity"), before, "a new affinity cookie");
    const entry = (await timed.health()).origins.find((o) => o.id === "h");
    assert.equal(entry.up, false, JSON.stringify(entry));
    assert.match(await timed.logged(/origin "h" too slow/), /origin "h" too slow \(no answer within 500 ms \(ORIGIN_TIMEOUT_MS\)\); marked down/);
    const next = await within(timed, 10_000, "/", jar);
    assert.equal(next.body.backend, "d", "and stays there");
    assert.equal(next.body.session["x-session-reassigned"], undefined);
  });

});

describe("without ORIGIN_TIMEOUT_MS", () => {
  test("nothing changes: a late answer is waited for, a slow body passes, a hung origin holds the request", async () => {
    const h = await slowOrigin("h");
    const plain = new Gateway([h], {});
    await plain.start();
    try {
      const late = await within(plain, 20_000, "/late", new Jar(), { method: "POST", body: "x" });
      assert.equal(late.status, 200, late.text);
      assert.equal(late.body.late, true);
      const trickle = await within(plain, 20_000, "/trickle", new Jar(), { headers: { "accept-encoding": "identity" } });
      assert.equal(trickle.text, TRICKLE.join(""));
      // A hung origin still holds the request: nothing answers it within 2 s.
      const hung = await within(plain, 2000, "/hang", new Jar());
      assert.equal(hung.status, 0, hung.text);
    } finally {
      await plain.stop();
      h.close();
    }
  });
});

describe("a small MAX_REQUEST_HEADER_BYTES", () => {
  // A login whose session cookie browsers keep, under a limit of 4 KB: it was taken, and then
  // each of the visitor's requests (its cookie alone near 4 KB) got a 431, the logout too. It is
  // refused now, and a login that leaves the browser its room is taken.
  test("a login that would lock its visitor out is refused (502); one that fits is taken", async () => {
    const own = await startOrigins(["m"]);
    const g = new Gateway(own, { vars: { MAX_REQUEST_HEADER_BYTES: 4096 } });
    await g.start();
    try {
      const issue = (jar, pad) =>
        g.request(`/issue?claims=${encodeURIComponent(JSON.stringify({ sub: "alice", pad: "x".repeat(pad) }))}`, jar);
      const big = new Jar();
      const refused = await issue(big, 2700);
      assert.equal(refused.status, 502, refused.text);
      assert.match(refused.text, /MAX_REQUEST_HEADER_BYTES \(4096\)/);
      assert.equal(big.cookies.get("__Host-session"), undefined);
      const after = await g.request("/me", big);
      assert.equal(after.status, 200, after.text);
      assert.equal(after.body.session["x-session-status"], "none");

      const small = new Jar();
      assert.equal((await issue(small, 1000)).status, 200);
      for (const path of ["/me", "/logout"]) {
        const r = await g.request(path, small);
        assert.equal(r.status, 200, `${path}: ${r.text}`);
      }
      assert.equal((await g.request("/me", small)).body.session["x-session-status"], "none", "logged out");
    } finally {
      await g.stop();
      await Promise.all(own.map((o) => o.kill()));
    }
  });

  // A session made before that check, or before the limit was lowered: each of its visitor's
  // requests was a 431, the logout too, until the session ended. Its first 431 now ends it, and
  // the next request is served; a session that leaves its room is kept at a 431 (a long URL).
  test("a session made before the limit was lowered ends at its first 431", async () => {
    const own = await startOrigins(["m"]);
    const secrets = { SESSION_KEYS: JSON.stringify([{ id: "k1", secret: randomBytes(32).toString("base64url") }]) };
    const login = async (g, pad) => {
      const jar = new Jar();
      const claims = encodeURIComponent(JSON.stringify({ sub: "alice", pad: "x".repeat(pad) }));
      assert.equal((await g.request(`/issue?claims=${claims}`, jar)).status, 200);
      return jar;
    };
    const before = new Gateway(own, { secrets });
    await before.start();
    let big, small;
    try {
      [big, small] = [await login(before, 2600), await login(before, 100)];
    } finally {
      await before.stop();
    }
    const g = new Gateway(own, { secrets, vars: { MAX_REQUEST_HEADER_BYTES: 4096 } });
    await g.start();
    try {
      const browser = { headers: { "user-agent": "u".repeat(600) } };
      const long = `/me?q=${"q".repeat(4096)}`;
      const kept = await g.request(long, small, browser);
      assert.equal(kept.status, 431, kept.text);
      assert.match(kept.text, /Clear this site's cookies/);
      assert.deepEqual(kept.setCookies, []);
      assert.equal((await g.request("/me", small, browser)).body.session["x-session-sub"], "alice");

      const ended = await g.request("/me", big, browser);
      assert.equal(ended.status, 431, ended.text);
      assert.match(ended.text, /has been ended: log in again/);
      assert.ok(ended.setCookies.some((c) => /^__Host-session=;.*Max-Age=0/i.test(c)), ended.setCookies.join("\n"));
      assert.equal(big.cookies.get("__Host-session"), undefined);
      const after = await g.request("/me", big, browser);
      assert.equal(after.status, 200, after.text);
      assert.equal(after.body.session["x-session-status"], "none");
    } finally {
      await g.stop();
      await Promise.all(own.map((o) => o.kill()));
    }
  });
});

describe("session formats", () => {
  // SESSION_FORMAT = sealed: the browser cannot read the claims; jwt: a standard JWT HS256.
  for (const [format, looksRight] of [
    ["sealed", (v) => /^[A-Za-z0-9_-]+$/.test(v) && !Buffer.from(v, "base64url").includes("alice")],
    ["jwt", (v) => {
      const claims = v.split(".").length === 3 && JSON.parse(Buffer.from(v.split(".")[1], "base64url"));
      return claims.sub === "alice" && claims.iss === "https://app.example" && claims.aud === "edge-gateway";
    }],
  ]) {
    test(`SESSION_FORMAT=${format}: login, identity at the origin, logout`, async () => {
      const own = await startOrigins(["f"]);
      const jwtBinding = { SESSION_JWT_ISSUER: "https://app.example", SESSION_JWT_AUDIENCE: "edge-gateway" };
      const g = new Gateway(own, { vars: { SESSION_FORMAT: format, ...(format === "jwt" ? jwtBinding : {}) } });
      await g.start();
      try {
        const jar = new Jar();
        const login = await g.request("/login?user=alice&role=admin", jar);
        assert.equal(login.status, 200, login.text);
        const value = jar.cookies.get("__Host-session");
        assert.ok(value && looksRight(value), `${format} cookie: ${value}`);
        const me = await g.request("/me", jar);
        assert.equal(me.body.session["x-session-status"], "valid");
        assert.equal(me.body.session["x-session-sub"], "alice");
        assert.equal(JSON.parse(me.body.session["x-session-claims"]).role, "admin");
        const forged = new Jar();
        forged.cookies.set("__Host-session", value.slice(0, -2) + (value.endsWith("AA") ? "BB" : "AA"));
        const bad = await g.request("/me", forged);
        assert.equal(bad.status, 200);
        assert.equal(bad.body.session["x-session-status"], "invalid");
        await g.request("/logout", jar);
        assert.equal((await g.request("/me", jar)).body.session["x-session-status"], "none");
      } finally {
        await g.stop();
        await Promise.all(own.map((o) => o.kill()));
      }
    });
  }
});

test("UTF-8 in the headers the gateway writes again reaches each side as it was sent", async () => {
  // The runtime reads a header as UTF-8 and writes one as the UTF-8 of its text: the headers the
  // gateway writes again (the origin's Set-Cookie list it adds its cookie to, a Location it moves
  // to the public host, the browser's Cookie header without the gateway's cookies) keep UTF-8
  // bytes as they came, not doubled (`é` as `Ã©`). Bytes that are not UTF-8 become U+FFFD in
  // those headers (the runtime's reading; docs/gateway.md).
  const bytes = (text) => Buffer.from(text, "utf8").toString("latin1"); // one character per byte
  let port;
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/moved") res.writeHead(302, { location: `http://127.0.0.1:${port}/${bytes("café")}` });
    else res.writeHead(200, { "set-cookie": [`name=${bytes("José")}; Path=/`, "theme=dark"], "x-cookie": req.headers.cookie ?? "" });
    res.end();
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  port = server.address().port;
  const gateway = new Gateway([{ id: "u", url: `http://127.0.0.1:${port}` }]);
  try {
    await gateway.start();
    const host = new URL(gateway.url).host;
    const get = (path, headers = []) => rawRequest(gateway.url, requestBytes("GET", path, headers, { host }));
    const r = await get("/");
    assert.equal(r.status, 200);
    const affinity = r.setCookies.find((c) => c.startsWith("__Host-affinity="));
    assert.ok(affinity, "the gateway adds its cookie");
    assert.deepEqual(r.setCookies.filter((c) => c !== affinity), [`name=${bytes("José")}; Path=/`, "theme=dark"]);
    const back = await get("/", [["cookie", `name=${bytes("José")}; ${affinity.split(";")[0]}; theme=dark`]]);
    assert.equal(back.headers["x-cookie"], `name=${bytes("José")}; theme=dark`);
    const moved = await get("/moved");
    assert.equal(moved.status, 302);
    assert.equal(moved.headers.location, `${gateway.url}/${bytes("café")}`);
  } finally {
    await gateway.stop();
    server.close();
  }
});

test("a long poll answered after a logout does not put the session back: an answer over 2 s late carries no refresh", async () => {
  // A poll (socket.io's waits up to 25 s) sent while a refresh was due, answered after the
  // visitor logged out in another tab: its refresh would log the browser back in, or replace
  // the session of the next user who logged in there. Nor does it carry the affinity value's
  // refresh, which would put the old visitor id over the one a login there rotated.
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/health") return res.end("ok");
    if (url.pathname === "/login") return res.writeHead(200, { "x-session-issue": '{"sub":"alice"}' }).end();
    if (url.pathname === "/logout") return res.writeHead(200, { "x-session-clear": "1" }).end();
    setTimeout(() => res.writeHead(200, { "cache-control": "no-store" }).end(req.headers["x-session-sub"] ?? ""), Number(url.searchParams.get("wait") ?? 0));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const gateway = new Gateway([{ id: "p", url: `http://127.0.0.1:${server.address().port}` }], {
    vars: { SESSION_TTL_SECONDS: 60, SESSION_REFRESH_AFTER: "0", AFFINITY_IDLE_SECONDS: 12 },
  });
  try {
    await gateway.start();
    const host = new URL(gateway.url).host;
    const send = (path, cookie) => rawRequest(gateway.url, requestBytes("GET", path, cookie ? [["cookie", cookie]] : [], { host }), { timeoutMs: 30_000 });
    const session = (r) => r.setCookies.find((c) => c.startsWith("__Host-session="));
    const affinity = (r) => r.setCookies.find((c) => c.startsWith("__Host-affinity="));
    const login = await send("/login");
    const cookie = `${session(login).split(";")[0]}; ${affinity(login).split(";")[0]}`;
    await sleep(7100);
    // Due at once (SESSION_REFRESH_AFTER 0; the affinity value past half its idle 12 s): a quick
    // answer carries the refreshes...
    const quick = await send("/poll", cookie);
    assert.equal(quick.text, "alice");
    assert.ok(session(quick) && !session(quick).includes("Max-Age=0"), `${quick.setCookies}`);
    assert.ok(affinity(quick), `${quick.setCookies}`);
    // ...a poll answered 4 s later, after a logout, does not.
    const poll = send("/poll?wait=4000", cookie);
    await sleep(500);
    const logout = await send("/logout", cookie);
    assert.match(session(logout), /Max-Age=0/);
    const late = await poll;
    assert.equal(late.text, "alice");
    assert.equal(session(late), undefined, `${late.setCookies}`);
    assert.equal(affinity(late), undefined, `${late.setCookies}`);
  } finally {
    await gateway.stop();
    server.close();
  }
});

test("HEAD, 304, 204, 206 and compressed answers keep their length and bytes beside the gateway's cookies; a refresh due rides a 304", async () => {
  // The answers a browser's cache and downloads rely on: the gateway's cookie is added (a new
  // visitor's affinity cookie, a session refresh) without a body made up, a length dropped or
  // compressed bytes decoded, and a refresh due is not lost to a 304 (a cached page).
  const page = Buffer.from("hello ".repeat(400));
  const gzipped = gzipSync(page);
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/health") return res.end("ok");
    if (path === "/login") return res.writeHead(200, { "x-session-issue": '{"sub":"alice"}' }).end();
    if (path === "/204") return res.writeHead(204).end();
    if (path === "/gzip") return res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip", "content-length": gzipped.length }).end(gzipped);
    if (path === "/range") return res.writeHead(206, { "content-range": "bytes 0-9/2400", "content-length": 10 }).end(page.subarray(0, 10));
    const headers = { "content-type": "text/plain", etag: '"v1"', "cache-control": "public, max-age=0, s-maxage=600" };
    if (req.headers["if-none-match"] === '"v1"') return res.writeHead(304, headers).end();
    res.writeHead(200, { ...headers, "content-length": page.length });
    res.end(req.method === "HEAD" ? undefined : page);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const gateway = new Gateway([{ id: "h", url: `http://127.0.0.1:${server.address().port}` }], {
    vars: { SESSION_TTL_SECONDS: 4 },
  });
  try {
    await gateway.start();
    const host = new URL(gateway.url).host;
    const send = (method, path, headers = []) => rawRequest(gateway.url, requestBytes(method, path, headers, { host }));
    const named = (r, name) => r.setCookies.find((c) => c.startsWith(`${name}=`));
    // A new visitor: each answer gets the affinity cookie, made private, and keeps the rest.
    const head = await send("HEAD", "/page");
    assert.equal(head.status, 200);
    assert.ok(named(head, "__Host-affinity"));
    assert.equal(head.headers["content-length"], String(page.length));
    assert.equal(head.body.length, 0);
    assert.equal(head.headers["cache-control"], "private, max-age=0");
    const gz = await send("GET", "/gzip", [["accept-encoding", "gzip"]]);
    assert.ok(named(gz, "__Host-affinity"));
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.deepEqual(gunzipSync(gz.body), page);
    const part = await send("GET", "/range", [["range", "bytes=0-9"]]);
    assert.equal(part.status, 206);
    assert.ok(named(part, "__Host-affinity"));
    assert.equal(part.headers["content-range"], "bytes 0-9/2400");
    assert.equal(part.text, "hello hell");
    for (const [path, status, headers] of [["/204", 204, []], ["/page", 304, [["if-none-match", '"v1"']]]]) {
      const r = await send("GET", path, headers);
      assert.equal(r.status, status);
      assert.ok(named(r, "__Host-affinity"), path);
      assert.equal(r.body.length, 0);
    }
    // A session past half its life is refreshed on a 304 and on a HEAD.
    const login = await send("GET", "/login");
    const jar = ["cookie", [named(login, "__Host-affinity"), named(login, "__Host-session")].map((c) => c.split(";")[0]).join("; ")];
    await sleep(2500);
    for (const [method, headers, status] of [["GET", [["if-none-match", '"v1"']], 304], ["HEAD", [], 200]]) {
      const r = await send(method, "/page", [jar, ...headers]);
      assert.equal(r.status, status);
      const refreshed = named(r, "__Host-session");
      assert.ok(refreshed && refreshed !== named(login, "__Host-session"), `${method}: ${r.setCookies}`);
      assert.equal(r.headers["cache-control"], "private, max-age=0");
      assert.equal(r.headers.etag, '"v1"');
    }
  } finally {
    await gateway.stop();
    server.close();
  }
});
