// The JavaScript API of Affinity, exercised on the package built by
// `wasm-pack build --target nodejs --out-dir pkg-node` (run by `make js-test`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { NOW, b64url, SECRET_1 as SECRET, SECRET_2 as OTHER_SECRET, codeOf, vectors, pkg } from "./fixtures.mjs";

const { Affinity } = pkg;

const make = (extra = {}) =>
  new Affinity({
    secret: SECRET,
    backends: [{ id: "a", weight: 1 }, { id: "b", weight: 2 }, { id: "c" }],
    ...extra,
  });

/** The name=value pair of a Set-Cookie header, as a browser sends it back. */
const pairOf = (setCookie) => setCookie.split(";")[0];

/** A cookie that pins a new visitor to `backend`. */
const cookieOn = (affinity, backend, now = NOW) => {
  for (let i = 0; i < 10000; i++) {
    const r = affinity.route({ now });
    if (r.backend === backend) return pairOf(r.setCookie);
  }
  assert.fail(`no visitor landed on ${backend}`);
};

test("the issue's example works as written", () => {
  const affinity = new Affinity({
    secret: SECRET, mode: "cookie",
    backends: [{ id: "a", weight: 1 }, { id: "b", weight: 2 }],
    ttlSeconds: 86400, idleSeconds: 1800, cookieName: "__Host-affinity", sameSite: "Lax",
    failover: "sticky", param: "_aff", header: "x-tenant",
  });
  // The header is the key only in header mode: `undefined` in the others, as its type says.
  assert.equal(affinity.header, undefined);
  const r = affinity.route({ cookie: null, url: "https://app.example/", clientIp: null, header: "t", now: NOW });
  assert.deepEqual(Object.keys(r).sort(), ["backend", "reassigned", "setCookie"]);
  assert.ok(["a", "b"].includes(r.backend));
  assert.equal(r.reassigned, false);
  assert.match(r.setCookie, /^__Host-affinity=[A-Za-z0-9_-]{52}; Max-Age=1800; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
  affinity.setHealthy("a", false);
  affinity.setDraining("b", true);
  assert.equal(affinity.route({ now: NOW }).backend, "b", "draining beats nothing");
});

test("a returning visitor stays; the cookie is refreshed only past half the idle time", () => {
  const affinity = make();
  const first = affinity.route({ now: NOW });
  const cookie = `theme=dark; ${pairOf(first.setCookie)}; junk`;
  const same = affinity.route({ cookie, now: NOW + 900 });
  assert.deepEqual(same, { backend: first.backend, reassigned: false });
  const refreshed = affinity.route({ cookie, now: NOW + 901 });
  assert.equal(refreshed.backend, first.backend);
  assert.equal(refreshed.reassigned, false);
  assert.match(refreshed.setCookie, /Max-Age=1800/);
});

test("a Cookie header the runtime joined (workerd: `, `): the value ends at the join; one after it is not read", () => {
  const affinity = make();
  const first = affinity.route({ now: NOW });
  const pair = pairOf(first.setCookie);
  const joined = affinity.route({ cookie: `theme=dark; ${pair}, lang=en`, now: NOW + 5 });
  assert.deepEqual(joined, { backend: first.backend, reassigned: false });
  // `theme=dark, <pair>` is also a cookie `theme` whose value a subdomain can set: a new visitor.
  const after = affinity.route({ cookie: `theme=dark, ${pair}`, now: NOW + 5 });
  assert.equal(after.reassigned, false);
  assert.ok(after.setCookie, "a new value: the one after the join was not read");
});

test("a cross-site request the browser withheld the cookie from gets no setCookie, from a Request or from { method, secFetchSite }", () => {
  // A browser keeps a cookie set by the answer to a cross-site navigation, though it withheld
  // its SameSite cookie from the request (Lax: a form another site posts; Strict: any): a new
  // visitor's value there would replace the visitor's own, moving it off its backend.
  const post = (site, headers = {}) =>
    new Request("https://app.example/", { method: "POST", headers: { "sec-fetch-site": site, ...headers } });
  const lax = make();
  assert.equal(lax.route(post("cross-site")).setCookie, undefined);
  assert.equal(lax.route({ method: "POST", secFetchSite: "cross-site" }).setCookie, undefined);
  assert.equal(typeof lax.route(post("same-origin")).setCookie, "string");
  assert.equal(typeof lax.route({ method: "GET", secFetchSite: "cross-site" }).setCookie, "string");
  assert.equal(typeof lax.route(new Request("https://app.example/", { headers: { "sec-fetch-site": "cross-site" } })).setCookie, "string");
  assert.equal(typeof lax.route({ secFetchSite: "cross-site" }).setCookie, "string", "no method: GET");
  // A cookie presented all the same: honoured, or replaced when it is not.
  const cookie = cookieOn(lax, "c", Math.floor(Date.now() / 1000));
  assert.deepEqual(lax.route(post("cross-site", { cookie })), { backend: "c", reassigned: false });
  const forged = lax.route(post("cross-site", { cookie: "__Host-affinity=forged" }));
  assert.equal(forged.reassigned, true);
  assert.equal(typeof forged.setCookie, "string");
  // A method as Fetch normalizes it (`get` is GET); one of the wrong type is refused, not taken
  // for a GET.
  assert.equal(typeof lax.route({ method: "get", secFetchSite: "cross-site" }).setCookie, "string");
  for (const [request, setting] of [
    [{ method: 5, secFetchSite: "cross-site" }, "method"],
    [{ method: "POST", secFetchSite: ["cross-site"] }, "secFetchSite"],
  ]) {
    let thrown;
    try {
      lax.route(request);
    } catch (e) {
      thrown = e;
    }
    assert.deepEqual([thrown?.code, thrown?.setting], ["invalid_config", setting], JSON.stringify(request));
  }
  const strict = make({ sameSite: "Strict" });
  assert.equal(strict.route({ method: "GET", secFetchSite: "cross-site" }).setCookie, undefined);
  assert.equal(typeof make({ sameSite: "None" }).route(post("cross-site")).setCookie, "string");
});

test("route(request) reads a Fetch Request as the route's request: its Cookie header, URL or the mode's header", () => {
  // TypeScript lets a Request through where a RouteRequest goes (it has `url`); before, its cookie
  // was not read and every request was a new visitor, sent anywhere.
  const affinity = make();
  const cookie = cookieOn(affinity, "c", Math.floor(Date.now() / 1000));
  for (let i = 0; i < 20; i++) {
    const request = new Request("https://app.example/", { headers: { cookie: `theme=dark; ${cookie}` } });
    assert.deepEqual(affinity.route(request), { backend: "c", reassigned: false });
  }
  assert.ok(affinity.route(new Request("https://app.example/")).setCookie, "no cookie: a new visitor");

  const byHeader = make({ mode: "header", header: "X-Tenant" });
  const tenant = (t) => byHeader.route(new Request("https://app.example/", { headers: { "x-tenant": t } })).backend;
  for (const t of ["t1", "t2", "t3", "t4", "t5"]) {
    assert.equal(tenant(t), byHeader.route({ header: t }).backend, t);
  }

  // Header mode without the header's name (the caller passes values): a Request says nothing.
  const nameless = make({ mode: "header" });
  assert.equal(codeOf(() => nameless.route(new Request("https://app.example/"))), "invalid_config");

  const byUrl = make({ mode: "url" });
  const first = byUrl.route(new Request("https://app.example/cart?x=1"));
  assert.match(first.url, /^https:\/\/app\.example\/cart\?x=1&_aff=/);
  assert.deepEqual(byUrl.route(new Request(first.url)), { backend: first.backend, reassigned: false });

  // Headers of another kind (Node's IncomingMessage, Express's req): refused, where they were
  // read as a request without a cookie (a new visitor, sent anywhere, at each request).
  for (const router of [affinity, byHeader, make({ mode: "ip" })]) {
    let thrown;
    try {
      router.route({ method: "GET", url: "/p", headers: { cookie } });
    } catch (e) {
      thrown = e;
    }
    assert.deepEqual([thrown?.code, thrown?.setting], ["invalid_config", "headers"]);
  }
  assert.deepEqual(affinity.route({ headers: null, cookie }), { backend: "c", reassigned: false });

  // A Request does not say who sent it: IP mode wants the address the platform vouches for.
  const byIp = make({ mode: "ip" });
  const e = codeOf(() => byIp.route(new Request("https://app.example/", { headers: { "cf-connecting-ip": "192.0.2.7" } })));
  assert.equal(e, "invalid_config");
  assert.ok(byIp.route({ clientIp: "192.0.2.7" }).backend);
});

test("idle time and lifetime are enforced by the server at their boundaries", () => {
  const affinity = make({ ttlSeconds: 3000, idleSeconds: 1000 });
  const cookie = pairOf(affinity.route({ now: NOW }).setCookie);
  assert.equal(affinity.route({ cookie, now: NOW + 1000 }).reassigned, false);
  assert.equal(affinity.route({ cookie, now: NOW + 1001 }).reassigned, true);
  // Kept active, the value still ends at its lifetime.
  let c = cookie;
  for (let t = NOW + 600; t <= NOW + 3000; t += 600) {
    const r = affinity.route({ cookie: c, now: t });
    assert.equal(r.reassigned, false, `at +${t - NOW}`);
    if (r.setCookie) c = pairOf(r.setCookie);
  }
  assert.equal(affinity.route({ cookie: c, now: NOW + 3001 }).reassigned, true);
});

test("a lifetime given alone, shorter than the default idle time (1800 s), shortens it too", () => {
  // It threw invalid_config naming idleSeconds, an option the caller never gave.
  const affinity = make({ ttlSeconds: 600 });
  const cookie = pairOf(affinity.route({ now: NOW }).setCookie);
  // Refreshed past half the idle time, now 600 s: at 301 s, not before.
  assert.equal(affinity.route({ cookie, now: NOW + 300 }).setCookie, undefined);
  assert.ok(affinity.route({ cookie, now: NOW + 301 }).setCookie);
  assert.equal(affinity.route({ cookie, now: NOW + 600 }).reassigned, false);
  assert.equal(affinity.route({ cookie, now: NOW + 601 }).reassigned, true);
  // Given, the idle time is checked against it as before.
  assert.throws(() => make({ ttlSeconds: 600, idleSeconds: 601 }), (e) => e.code === "invalid_config" && e.setting === "idleSeconds");
});

test("forged, altered and foreign values are never honoured", () => {
  const affinity = make();
  const cookie = pairOf(affinity.route({ now: NOW }).setCookie);
  const [name, value] = cookie.split("=");
  for (let i = 0; i < value.length; i++) {
    const swapped = value[i] === "A" ? "B" : "A";
    const tampered = `${name}=${value.slice(0, i)}${swapped}${value.slice(i + 1)}`;
    const r = affinity.route({ cookie: tampered, now: NOW });
    assert.equal(r.reassigned, true, `position ${i}`);
    assert.ok(r.setCookie);
  }
  const foreign = pairOf(make({ secret: OTHER_SECRET }).route({ now: NOW }).setCookie);
  for (const bad of [foreign, `${name}=`, `${name}=${"x".repeat(10000)}`, `${name}=%00\u00e9`]) {
    assert.equal(affinity.route({ cookie: bad, now: NOW }).reassigned, true);
  }
  // Not a string where a string belongs: a configuration mistake.
  assert.equal(codeOf(() => affinity.route({ cookie: 42, now: NOW })), "invalid_config");
});

test("previousSecrets: rotating the secret moves nobody", () => {
  const old = make();
  const rotated = make({ secret: OTHER_SECRET, previousSecrets: [SECRET] });
  for (const backend of ["a", "b", "c"]) {
    const cookie = cookieOn(old, backend);
    const r = rotated.route({ cookie, now: NOW + 1 });
    assert.deepEqual([r.backend, r.reassigned], [backend, false]);
    assert.ok(r.setCookie, "signed again with the current secret");
    const again = rotated.route({ cookie: pairOf(r.setCookie), now: NOW + 2 });
    assert.deepEqual([again.backend, again.reassigned, again.setCookie], [backend, false, undefined]);
    assert.equal(make({ secret: OTHER_SECRET }).route({ cookie, now: NOW + 1 }).reassigned, true);
  }
  assert.equal(codeOf(() => make({ previousSecrets: "x" })), "invalid_config");
  assert.equal(codeOf(() => make({ previousSecrets: [1] })), "invalid_config");
  assert.equal(codeOf(() => make({ previousSecrets: ["c2hvcnQ"] })), "invalid_config");
});

test("failover moves the visitor once and it does not flap back", () => {
  const affinity = make();
  const onA = cookieOn(affinity, "a");
  affinity.setHealthy("a", false);
  const moved = affinity.route({ cookie: onA, now: NOW + 10 });
  assert.equal(moved.reassigned, true);
  assert.notEqual(moved.backend, "a");
  // Another edge location with the same secret decides alike.
  const elsewhere = make();
  elsewhere.setHealthy("a", false);
  assert.equal(elsewhere.route({ cookie: onA, now: NOW + 11 }).backend, moved.backend);
  affinity.setHealthy("a", true);
  const back = affinity.route({ cookie: pairOf(moved.setCookie), now: NOW + 20 });
  assert.deepEqual(back, { backend: moved.backend, reassigned: false });
});

test("strict failover throws backend_unavailable; no healthy backend throws no_backend", () => {
  const affinity = make({ failover: "strict" });
  const onA = cookieOn(affinity, "a");
  affinity.setHealthy("a", false);
  assert.equal(codeOf(() => affinity.route({ cookie: onA, now: NOW })), "backend_unavailable");
  affinity.setHealthy("b", false);
  affinity.setHealthy("c", false);
  assert.equal(codeOf(() => affinity.route({ now: NOW })), "no_backend");
  for (const mode of ["cookie", "url", "ip", "header"]) {
    const a = make({ mode });
    for (const id of ["a", "b", "c"]) a.setHealthy(id, false);
    assert.equal(codeOf(() => a.route({ url: "/", clientIp: "192.0.2.1", header: "t", now: NOW })), "no_backend", mode);
  }
});

test("a draining backend keeps its visitors and takes no new ones", () => {
  const affinity = make();
  const onA = cookieOn(affinity, "a");
  affinity.setDraining("a", true);
  assert.deepEqual(affinity.route({ cookie: onA, now: NOW + 5 }), { backend: "a", reassigned: false });
  for (let i = 0; i < 300; i++) assert.notEqual(affinity.route({ now: NOW }).backend, "a");
  affinity.setDraining("a", false);
  assert.equal(codeOf(() => affinity.setDraining("zz", true)), "invalid_config");
  assert.equal(codeOf(() => affinity.setHealthy("zz", false)), "invalid_config");
});

test("setHealthy and setDraining take true or false, nothing else", () => {
  // Read as numbers by wasm-bindgen's glue, "true" was false (NaN): a backend marked up from a
  // configuration's text went down, and setDraining(id) without a flag stopped draining.
  const affinity = make({ mode: "header", header: "x-tenant" });
  const keys = Array.from({ length: 60 }, (_, i) => `tenant-${i}`);
  const onA = () => keys.filter((header) => affinity.route({ header, now: NOW }).backend === "a").length;
  const before = onA();
  assert.ok(before > 0);
  for (const flag of ["true", "false", 1, 0, undefined, null, {}]) {
    assert.equal(codeOf(() => affinity.setHealthy("a", flag)), "invalid_config", `setHealthy(${String(flag)})`);
    assert.equal(codeOf(() => affinity.setDraining("a", flag)), "invalid_config", `setDraining(${String(flag)})`);
    assert.equal(onA(), before, `unchanged by ${String(flag)}`);
  }
  assert.equal(codeOf(() => affinity.setHealthy("a")), "invalid_config");
  affinity.setHealthy("a", false);
  assert.equal(onA(), 0);
  affinity.setHealthy("a", true);
  affinity.setDraining("a", true);
  assert.equal(onA(), 0);
  affinity.setDraining("a", false);
  assert.equal(onA(), before);
});

test("url mode rewrites the URL with the affinity parameter", () => {
  const affinity = make({ mode: "url", param: "_aff" });
  const first = affinity.route({ url: "https://app.example/cart?item=3#top", now: NOW });
  assert.equal(first.setCookie, undefined);
  assert.match(first.url, /^https:\/\/app\.example\/cart\?item=3&_aff=[A-Za-z0-9_-]{52}#top$/);
  assert.deepEqual(affinity.route({ url: first.url, now: NOW + 1 }), { backend: first.backend, reassigned: false });
  assert.equal(affinity.route({ url: "/x?_aff=forged", now: NOW }).reassigned, true);
  assert.equal(codeOf(() => affinity.route({ now: NOW })), "invalid_config");
});

test("ip and header modes are deterministic and need no cookie", () => {
  const ids = Array.from({ length: 10 }, (_, i) => ({ id: `b${i}` }));
  const ip = new Affinity({ secret: SECRET, mode: "ip", backends: ids });
  const r = ip.route({ clientIp: "203.0.113.9", now: NOW });
  assert.deepEqual(Object.keys(r).sort(), ["backend", "reassigned"]);
  assert.equal(ip.route({ clientIp: "203.0.113.9" }).backend, r.backend);
  assert.equal(ip.route({ clientIp: "2001:db8:1:2::1" }).backend, ip.route({ clientIp: "2001:db8:1:2::ffff" }).backend);
  const header = new Affinity({ secret: SECRET, mode: "header", header: "x-tenant", backends: [...ids].reverse() });
  const again = new Affinity({ secret: SECRET, mode: "header", backends: ids });
  for (let i = 0; i < 100; i++) {
    assert.equal(header.route({ header: `tenant-${i}` }).backend, again.route({ header: `tenant-${i}` }).backend);
  }
});

test("ip and header modes: a key sent away from its first backend (down or draining) is reassigned", () => {
  const ip = new Affinity({ secret: SECRET, mode: "ip", backends: [{ id: "a" }, { id: "b" }, { id: "c" }] });
  const ips = Array.from({ length: 60 }, (_, i) => `192.0.2.${i + 1}`);
  const first = ips.map((clientIp) => ip.route({ clientIp }).backend);
  assert.ok(ips.every((clientIp) => !ip.route({ clientIp }).reassigned));
  for (const [what, set, unset] of [
    ["down", () => ip.setHealthy("a", false), () => ip.setHealthy("a", true)],
    ["draining", () => ip.setDraining("a", true), () => ip.setDraining("a", false)],
  ]) {
    set();
    ips.forEach((clientIp, i) => {
      const r = ip.route({ clientIp });
      assert.notEqual(r.backend, "a");
      assert.equal(r.reassigned, first[i] === "a", `${what}: ${clientIp} of ${first[i]}`);
    });
    unset();
  }
  // Without a key (no address): never reassigned.
  ip.setHealthy("a", false);
  assert.equal(ip.route({}).reassigned, false);
});

test("the frozen routing vectors (tests/vectors/affinity.json) match the Rust tests", () => {
  const { routing } = vectors("affinity.json");
  assert.equal(routing.length, 5);
  for (const v of routing) {
    const a = new Affinity(v.config);
    for (const id of v.down ?? []) a.setHealthy(id, false);
    for (const id of v.draining ?? []) a.setDraining(id, true);
    const requests = [
      ...(v.headers ?? []).map((header) => ({ header })),
      ...(v.clientIps ?? []).map((clientIp) => ({ clientIp })),
      ...(v.cookies ?? []).map((cookie) => ({ cookie })),
      ...(v.urls ?? []).map((url) => ({ url })),
    ];
    const routes = requests.map((r) => a.route({ ...r, now: v.now }));
    assert.equal(routes.map((r) => r.backend).join(""), v.expected, v.name);
    if (v.reassigned !== undefined) {
      assert.equal(routes.map((r) => (r.reassigned ? "1" : "0")).join(""), v.reassigned, v.name);
    }
  }
});

test("load is balanced over 10 backends and follows weights", () => {
  const ids = Array.from({ length: 10 }, (_, i) => ({ id: `b${i}` }));
  const a = new Affinity({ secret: SECRET, mode: "header", backends: ids });
  const load = new Map();
  for (let i = 0; i < 20000; i++) {
    const b = a.route({ header: `visitor-${i}`, now: NOW }).backend;
    load.set(b, (load.get(b) ?? 0) + 1);
  }
  assert.equal(load.size, 10);
  assert.ok(Math.max(...load.values()) / 2000 < 1.06, JSON.stringify([...load]));
});

test("routers started the same second (a fresh isolate each) draw new visitors at random: not one id and one backend for all", () => {
  // A new visitor's id mixes the router's count and the time with Math.random(): without it,
  // every isolate that starts in the same second would give its first visitor the same id, and
  // send them all to one backend.
  const firsts = Array.from({ length: 100 }, () => make().route({ now: NOW }));
  assert.equal(new Set(firsts.map((r) => pairOf(r.setCookie))).size, firsts.length);
  assert.deepEqual(new Set(firsts.map((r) => r.backend)), new Set(["a", "b", "c"]));
});

test("invalid configuration throws invalid_config", () => {
  const backends = [{ id: "a" }];
  for (const [what, config] of [
    ["short secret", { secret: b64url(new Uint8Array(31)), backends }],
    ["no backends", { secret: SECRET, backends: [] }],
    ["duplicate ids", { secret: SECRET, backends: [{ id: "a" }, { id: "a" }] }],
    ["zero weight", { secret: SECRET, backends: [{ id: "a", weight: 0 }] }],
    ["fractional weight", { secret: SECRET, backends: [{ id: "a", weight: 1.5 }] }],
    ["unknown mode", { secret: SECRET, backends, mode: "dns" }],
    ["unknown failover", { secret: SECRET, backends, failover: "maybe" }],
    ["unknown sameSite", { secret: SECRET, backends, sameSite: "Sometimes" }],
    ["domain with __Host-", { secret: SECRET, backends, domain: "example.com" }],
    ["idle over ttl", { secret: SECRET, backends, ttlSeconds: 10, idleSeconds: 11 }],
    ["unknown option", { secret: SECRET, backends, colour: "red" }],
    ["unknown backend option", { secret: SECRET, backends: [{ id: "a", wieght: 2 }] }],
    ["backends not a list", { secret: SECRET, backends: { id: "a" } }],
    ["mode not a string", { secret: SECRET, backends, mode: 1 }],
    ["partitioned not a boolean", { secret: SECRET, backends, cookieName: "aff", partitioned: "yes" }],
    ["missing secret", { backends }],
  ]) {
    assert.equal(codeOf(() => new Affinity(config)), "invalid_config", what);
  }
  const ok = new Affinity({ secret: SECRET, backends, cookieName: "aff", domain: "example.com", sameSite: "None", partitioned: true });
  assert.match(ok.route({ now: NOW }).setCookie, /^aff=.*; Max-Age=1800; Domain=example\.com; Path=\/; Secure; HttpOnly; SameSite=None; Partitioned$/);
  assert.equal(codeOf(() => ok.route({ now: -1 })), "invalid_config");
  assert.equal(codeOf(() => ok.route({ now: 1.5 })), "invalid_config");
});

test("a weight out of range is named in the error as given, past 2^32 too", () => {
  // Read into the core's u32, a weight of 2^32 or more was named as 4294967295.
  for (const weight of [0, 1_000_001, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 53 - 1]) {
    const config = { secret: SECRET, backends: [{ id: "a" }, { id: "b", weight }] };
    assert.throws(() => new Affinity(config), {
      name: "EdgeSessionError",
      code: "invalid_config",
      setting: "backends",
      message: `invalid configuration: backends["b"]: weight must be 1 to 1000000, got ${weight}`,
    });
  }
});

test("route works without arguments and with the clock", () => {
  const r = make().route();
  assert.ok(["a", "b", "c"].includes(r.backend));
  assert.ok(r.setCookie);
});

test("a request whose getter (or Proxy) throws is thrown as it is, and the router keeps working", () => {
  // Read through wasm-bindgen's getters, the exception went through the wasm's frames and left
  // its stack pointer moved: a few thousand later, every call of the instance failed with
  // "memory access out of bounds" (route is called per request, with the request's values).
  const boom = new Error("getter");
  const throwing = (name) => Object.defineProperty({}, name, { enumerable: true, get() { throw boom; } });
  const routers = {
    cookie: make(),
    url: make({ mode: "url" }),
    clientIp: make({ mode: "ip" }),
    header: make({ mode: "header", header: "x-tenant" }),
  };
  const proxy = new Proxy({}, { get() { throw boom; }, ownKeys() { throw boom; } });
  for (let i = 0; i < 5_000; i++) {
    for (const [name, router] of Object.entries(routers)) {
      assert.throws(() => router.route(throwing(name)), (e) => e === boom, `${name}, ${i}`);
      assert.throws(() => router.route(throwing("now")), (e) => e === boom, `now (${name}), ${i}`);
      assert.throws(() => router.route(proxy), (e) => e === boom, `Proxy (${name}), ${i}`);
    }
  }
  assert.ok(["a", "b", "c"].includes(routers.cookie.route({ now: NOW }).backend));
  assert.ok(routers.url.route({ url: "https://app.example/", now: NOW }).url);
  assert.ok(routers.clientIp.route({ clientIp: "192.0.2.1", now: NOW }).backend);
  assert.ok(routers.header.route({ header: "t1", now: NOW }).backend);
});

test("a freed router (free(), Symbol.dispose) throws a TypeError from every method, and the module keeps working", () => {
  // wasm-bindgen's error for a freed instance's null pointer went through the wasm's frames: each
  // call left its stack pointer moved, and some 20,000 later every call of the module failed.
  const freed = make();
  freed.free();
  const calls = [
    () => freed.route({ now: NOW }),
    () => freed.header,
    () => freed.setHealthy("a", false),
    () => freed.setDraining("a", true),
  ];
  for (let i = 0; i < 30_000; i++) {
    assert.throws(calls[i % calls.length], TypeError, `${i}`);
    freed.free();
    freed[Symbol.dispose]?.();
  }
  // Nor is another class's instance read as a router.
  assert.throws(() => Affinity.prototype.setHealthy.call(new pkg.SessionTokens({ keys: [{ id: "k", secret: SECRET }] }), "a", true), TypeError);
  assert.ok(["a", "b", "c"].includes(make().route({ now: NOW }).backend));
});

test("route(request) takes its `now` before the request's Headers run code: another call's options do not stand in", () => {
  // Header mode reads the header from the request's Headers after the options were read; a
  // Headers whose `get` runs code (a wrapper, a Proxy) that calls the library with options of
  // its own left those as the ones `route` read its `now` from: here a time past 2^53 - 1, and
  // route threw about a `now` its caller never gave.
  const byHeader = make({ mode: "header", header: "x-tenant" });
  const other = make();
  const headers = {
    get(name) {
      // Refused for its own `now`: the call ran, with options of its own.
      assert.throws(() => other.route({ cookie: null, now: 2 ** 60 }), (e) => e.code === "invalid_config" && /^invalid configuration: now /.test(e.message));
      return name === "x-tenant" ? "t1" : null;
    },
  };
  const r = byHeader.route({ headers, url: "https://app.example/", now: NOW });
  assert.equal(r.backend, byHeader.route({ header: "t1", now: NOW }).backend);
});

test("a route whose request calls back into the same router (a getter that marks a backend down) is a TypeError, and the router keeps working", () => {
  // wasm-bindgen's refusal of the second call was a plain Error, without a `.code`: neither an
  // EdgeSessionError nor the TypeError of every other misuse.
  const router = new Affinity({ secret: SECRET, backends: [{ id: "a" }, { id: "b" }] });
  for (let i = 0; i < 1000; i++) {
    const request = { get cookie() { router.setHealthy("a", false); return null; } };
    assert.throws(() => router.route(request), (e) => e instanceof TypeError && /recursive use/.test(e.message));
  }
  assert.ok(["a", "b"].includes(router.route({}).backend));
});
