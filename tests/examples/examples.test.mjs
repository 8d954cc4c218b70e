// The examples (examples/*), each run as a user runs it (`make examples-test`, part of `make
// test`): the example's directory copied into a fresh temporary project, the package packed from
// pkg/ (`make pkg`) and installed there from its tarball (hono too, for examples/hono), then
//
//   examples/node        node server.mjs
//   examples/deno        deno run --allow-net --allow-env server.mjs (deno from npm)
//   examples/js-worker   wrangler dev (workerd, local KV), bundled by wrangler
//   examples/hono        wrangler dev, the Hono app with edge-session/hono
//
// on a free 127.0.0.1 port, driven over HTTP as a browser would (cookies sent back by hand).
// README.md shows these files (tests/examples/readme.test.mjs checks that it shows them as they
// are). KEEP_PROJECT=1 keeps the temporary projects (their paths are printed).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { describe, test, before, after } from "node:test";
import { join } from "node:path";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { BIN, ROOT, exampleProject, removeProject } from "./project.mjs";
import { freePort, waitFor } from "../e2e/harness.mjs";

/**
 * A predicate for the Set-Cookie of `name` with the safe defaults, living `seconds`: exactly, or a
 * few seconds less when a cookie's Max-Age counts down to an expiry (a session's absolute timeout,
 * a token's `exp`) and the clock ticked between the two.
 */
function isCookie(name, seconds) {
  const re = new RegExp(`^${name}=[^;]+; Max-Age=(\\d+); Path=/; Secure; HttpOnly; SameSite=Lax$`);
  return (c) => {
    const m = re.exec(c);
    return m !== null && Number(m[1]) > seconds - 10 && Number(m[1]) <= seconds;
  };
}

const HERE = fileURLToPath(new URL(".", import.meta.url));
const SECRET = randomBytes(32).toString("base64url");

/** Starts `command` in `dir` and waits until `url` answers; returns a stop function. */
async function serve(dir, command, args, url, env = {}) {
  const proc = spawn(command, args, {
    cwd: dir,
    env: { ...process.env, SESSION_SECRET: SECRET, NO_COLOR: "1", WRANGLER_SEND_METRICS: "false", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  try {
    await Promise.race([
      waitFor(url, 120_000, command),
      exited.then((code) => {
        throw new Error(`exited with ${code}`);
      }),
    ]);
  } catch (e) {
    try {
      process.kill(-proc.pid, "SIGTERM");
    } catch {}
    throw new Error(`${command} ${args.join(" ")} in ${dir}: ${e.message}\n${log}`);
  }
  return async () => {
    try {
      process.kill(-proc.pid, "SIGTERM");
    } catch {}
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  };
}

/** A visitor: a cookie jar over fetch (`send` answers any status; `get` and `post` expect 200). */
function visitor(base) {
  const jar = new Map();
  const send = async (method, path, headers = {}) => {
    const cookie = [...jar].map(([n, v]) => `${n}=${v}`).join("; ");
    const res = await fetch(`${base}${path}`, { method, headers: { ...headers, ...(cookie && { cookie }) } });
    const set = res.headers.getSetCookie();
    for (const line of set) {
      const [pair, ...attrs] = line.split(";");
      const at = pair.indexOf("=");
      const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) jar.delete(name);
      else jar.set(name, value);
    }
    const body = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
    return { status: res.status, body, set, cache: res.headers.get("cache-control") };
  };
  const request = async (method, path, headers) => {
    const answer = await send(method, path, headers);
    assert.equal(answer.status, 200, `${method} ${path}`);
    // The answer depends on the visitor (their cookies), whether it sets one or not (a cart
    // changed): no shared cache may keep it for others.
    assert.match(answer.cache ?? "", /\b(private|no-store)\b/, `${method} ${path}: Cache-Control ${answer.cache}`);
    return answer;
  };
  return { jar, send, get: (p, h) => request("GET", p, h), post: (p, h) => request("POST", p, h) };
}

/**
 * Login CSRF: a state-changing request from another origin (its `Sec-Fetch-Site: cross-site`, or
 * `same-site` from a sibling subdomain, which SameSite cookies do not stop; or, from a browser
 * without Sec-Fetch-*, an `Origin` not the app's own) is a 403 that sets no cookie and changes
 * nothing; the app's own pages (same-origin, typed: `none`) still log in. `posts`: the example's
 * other state-changing paths.
 */
async function crossOriginFlow(base, posts = []) {
  const own = new URL(base).origin;
  const foreign = [{ "sec-fetch-site": "cross-site" }, { origin: "https://evil.example" }, { origin: "null" }];
  foreign.push({ "sec-fetch-site": "cross-site", origin: own }); // Sec-Fetch-Site decides
  // A sibling subdomain (user content, a forgotten or taken-over host) is same-site, not same-origin.
  foreign.push({ "sec-fetch-site": "same-site" }, { "sec-fetch-site": "same-site", origin: "https://blog.example" });
  // The same host in another scheme (a page injected into the http site of an https app) is
  // another origin: only the host was compared.
  const other = new URL(own);
  foreign.push({ origin: `${other.protocol === "https:" ? "http:" : "https:"}//${other.host}` });
  for (const headers of foreign) {
    for (const path of ["/login?user=mallory", ...posts]) {
      const v = visitor(base);
      const refused = await v.send("POST", path, headers);
      assert.equal(refused.status, 403, `POST ${path} ${JSON.stringify(headers)}`);
      assert.deepEqual(refused.set, [], "a refused request sets no cookie");
    }
  }
  for (const headers of [{ "sec-fetch-site": "same-origin", origin: own }, { "sec-fetch-site": "none" }, { origin: own }, {}]) {
    const v = visitor(base);
    assert.equal((await v.post("/login?user=alice", headers)).body.user, "alice", JSON.stringify(headers));
    assert.equal((await v.get("/")).body.user, "alice");
    // Another origin cannot log the visitor out either (nor change anything else).
    for (const other of [{ "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }]) {
      const out = await v.send("POST", "/logout", other);
      assert.equal(out.status, 403);
      assert.deepEqual(out.set, []);
    }
    assert.equal((await v.get("/")).body.user, "alice", "still logged in");
    await v.post("/logout", headers);
    assert.equal((await v.get("/")).body.user, null);
  }
}

/** Session tokens: nobody, login, who I am, a changed token refused, logout. */
async function tokenFlow(base) {
  const v = visitor(base);
  assert.equal((await v.get("/")).body.user, null);
  const login = await v.post("/login?user=alice");
  assert.equal(login.body.user, "alice");
  assert.ok(
    login.set.some(isCookie("__Host-session", 3600)),
    login.set.join("\n"),
  );
  assert.equal((await v.get("/")).body.user, "alice");
  const token = v.jar.get("__Host-session");
  v.jar.set("__Host-session", token.slice(0, -1) + (token.endsWith("A") ? "B" : "A"));
  assert.equal((await v.get("/")).body.user, null, "a changed token is nobody");
  v.jar.set("__Host-session", token);
  const out = await v.post("/logout");
  assert.ok(out.set.some((c) => c.startsWith("__Host-session=; Max-Age=0")));
  assert.equal((await v.get("/")).body.user, null);
  return v;
}

/**
 * No login, logout or other change that matters is reachable by GET (a link or an image on
 * another site sends one, with the visitor's cookies): GET /login, /logout and `paths` (the
 * example's other POST routes) neither log in nor out nor change what GET / shows.
 */
async function getChangesNothing(base, paths = []) {
  const stranger = visitor(base);
  const login = await stranger.send("GET", "/login?user=mallory");
  assert.deepEqual(login.set, [], "GET /login sets no cookie");
  assert.equal((await stranger.get("/")).body.user, null, "GET /login logs nobody in");
  const v = visitor(base);
  await v.post("/login?user=alice");
  const before = (await v.get("/")).body;
  assert.equal(before.user, "alice");
  for (const path of ["/login?user=mallory", "/logout", ...paths]) {
    const answer = await v.send("GET", path);
    assert.ok(!answer.set.some((c) => /max-age=0/i.test(c)), `GET ${path} clears no cookie: ${answer.set}`);
    assert.deepEqual((await v.get("/")).body, before, `GET ${path} changes nothing`);
  }
}

/**
 * The cart is bounded: anyone can post to it, and the whole cart is read, decrypted and written
 * back at every request. An item too long, or one past the 20th, is a 400 that changes nothing
 * (unbounded, an item that took the data past the store's 16 KiB, the second of 9,000
 * characters, was a 500: the commit's too_large, uncaught).
 */
async function cartBounds(base) {
  const v = visitor(base);
  await v.post("/cart?item=pen");
  const long = await v.send("POST", `/cart?item=${"x".repeat(9000)}`);
  assert.equal(long.status, 400, "an item of 9,000 characters");
  assert.deepEqual(long.set, []);
  for (let i = 2; i <= 20; i++) assert.equal((await v.post(`/cart?item=i${i}`)).body.items.length, i);
  const full = await v.send("POST", "/cart?item=one-more");
  assert.equal(full.status, 400, "a 21st item");
  assert.deepEqual((await v.get("/")).body.items, ["pen", ...Array.from({ length: 19 }, (_, i) => `i${i + 2}`)]);
}

/**
 * A user name too long to keep (past 100 characters) is a 400 that logs nobody in, and the app
 * stays up. Unchecked, 20,000 characters made a token or a session past its size limit: the
 * commit's too_large, uncaught, a 500 (Node's example answers any EdgeSessionError with a 400).
 */
async function longUser(base) {
  const v = visitor(base);
  const long = await v.send("POST", `/login?user=${"x".repeat(20_000)}`);
  assert.equal(long.status, 400, "a user of 20,000 characters");
  assert.deepEqual(long.set, []);
  assert.equal((await v.get("/")).status, 200);
  assert.equal((await v.post(`/login?user=${"y".repeat(100)}`)).body.user, "y".repeat(100));
}

test("each example's opening comment says how to run it, npm install first (Deno's too: node_modules)", () => {
  for (const file of ["node/server.mjs", "deno/server.mjs", "js-worker/worker.js", "hono/app.js"]) {
    const head = readFileSync(join(ROOT, "examples", file), "utf8").split("\n").slice(0, 4).join("\n");
    assert.match(head, /^\/\/ {3}npm install && \S/m, `examples/${file}`);
  }
});

const projects = [];
after(() => {
  for (const dir of projects) {
    if (process.env.KEEP_PROJECT) console.log(`# kept ${dir}`);
    else removeProject(dir);
  }
});
const project = (name) => {
  const dir = exampleProject(name);
  projects.push(dir);
  return dir;
};

/** wrangler dev in `dir` on a free port, with local KV kept in the project; the secret in .dev.vars. */
async function wranglerDev(dir) {
  const [port, inspector] = [await freePort(), await freePort()];
  writeFileSync(join(dir, ".dev.vars"), `SESSION_SECRET=${SECRET}\n`);
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector)];
  args.push("--persist-to", join(dir, ".wrangler/state"), "--show-interactive-dev-session=false");
  const url = `http://127.0.0.1:${port}`;
  return { url, stop: await serve(dir, join(BIN, "wrangler"), args, url) };
}

describe("examples/node", () => {
  let url, stop;
  before(async () => {
    const dir = project("node");
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    stop = await serve(dir, process.execPath, ["server.mjs"], url, { PORT: String(port) });
  });
  after(() => stop?.());
  test("log in, who am I, a changed token, log out", () => tokenFlow(url));
  test("a cross-origin login or logout is a 403 that sets no cookie; the app's own still work", () => crossOriginFlow(url));
  test("GET /login and GET /logout change nothing", () => getChangesNothing(url));
  test("a request it cannot take is a 400, and the server stays up", async () => {
    // node:http does not catch a handler's throw: the process ended (new URL of a request for
    // `//` throws; so does sign for a user too long for a token).
    assert.equal((await fetch(`${url}//`)).status, 400);
    const long = await fetch(`${url}/login?user=${"x".repeat(5000)}`, { method: "POST" });
    assert.equal(long.status, 400);
    assert.equal((await long.json()).error, "too_large");
    assert.equal((await fetch(`${url}/`)).status, 200);
  });
});

describe("examples/deno", () => {
  let url, stop;
  before(async () => {
    const dir = project("deno");
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const args = ["run", "--allow-net", "--allow-env", "server.mjs"];
    stop = await serve(dir, join(BIN, "deno"), args, url, {
      PORT: String(port),
      DENO_DIR: join(dir, ".deno"),
      DENO_NO_UPDATE_CHECK: "1",
    });
  });
  after(() => stop?.());
  test("log in, who am I, a changed token, log out", () => tokenFlow(url));
  test("a cross-origin login, logout or count is a 403 that sets no cookie; the app's own still work", () =>
    crossOriginFlow(url, ["/count"]));
  test("GET /login, GET /logout and GET /count change nothing", () => getChangesNothing(url, ["/count"]));
  test("a user name past 100 characters is a 400 that logs nobody in", () => longUser(url));
  test("server-side data: the count goes up for this visitor only", async () => {
    const v = visitor(url);
    const first = await v.post("/count");
    assert.equal(first.body.n, 1);
    assert.ok(first.set.some(isCookie("__Host-sid", 86400)));
    assert.equal((await v.post("/count")).body.n, 2);
    assert.equal((await visitor(url).post("/count")).body.n, 1, "another visitor starts at 1");
    const sid = v.jar.get("__Host-sid");
    await v.post("/logout");
    assert.equal(v.jar.has("__Host-sid"), false, "logout clears the data's cookie too");
    v.jar.set("__Host-sid", sid);
    // For a minute the old id is one a logout ended (a request of the same browser sent before
    // the logout, answered after it): a 409 that sets no cookie, not a new session whose cookie
    // would replace a login's; either way, the data are not there.
    const late = await v.send("POST", "/count");
    assert.equal(late.status, 409, JSON.stringify(late.body));
    assert.deepEqual(late.set, [], "and ends the data: its old cookie names nothing");
  });
  test("another user's data is not the next login's: bob, logged in after alice without her logout, starts at 1", async () => {
    const v = visitor(url);
    await v.post("/login?user=alice");
    await v.post("/count");
    assert.equal((await v.post("/count")).body.n, 2);
    await v.post("/login?user=bob");
    assert.equal((await v.post("/count")).body.n, 1);
    // Counted while logged in, the data is its user's: another login here starts again.
    await v.post("/login?user=alice");
    v.jar.delete("__Host-sid");
    assert.equal((await v.post("/count")).body.n, 1);
    await v.post("/login?user=bob");
    assert.equal((await v.post("/count")).body.n, 1);
  });
  test("login keeps the data under a new id: the one from before names nothing", async () => {
    const v = visitor(url);
    await v.post("/count");
    const before = v.jar.get("__Host-sid");
    const login = await v.post("/login?user=alice");
    assert.ok(login.set.some(isCookie("__Host-sid", 86400)), login.set.join("\n"));
    assert.equal((await v.post("/count")).body.n, 2);
    const planted = visitor(url);
    planted.jar.set("__Host-sid", before);
    // For a minute the id is one a login renewed (a request of the same browser sent before
    // the login, answered after it): a 409 that sets no cookie, not a new session whose cookie
    // would replace the login's; either way, the data are not there.
    const late = await planted.send("POST", "/count");
    assert.equal(late.status, 409, JSON.stringify(late.body));
    assert.deepEqual(late.set, []);
  });
});

/**
 * A Workers example copied alone as the start of a project (its own git repository, without this
 * one's .gitignore) keeps its secret, .dev.vars, out of git, and what npm and wrangler make there.
 */
function ignoresSecrets(dir) {
  execFileSync("git", ["init", "-q"], { cwd: dir });
  for (const path of [".dev.vars", "node_modules/", ".wrangler/"]) {
    try {
      execFileSync("git", ["check-ignore", "-q", path], { cwd: dir });
    } catch {
      assert.fail(`git would commit ${path}`);
    }
  }
}

describe("examples/js-worker (wrangler dev, local KV)", () => {
  let url, stop, dir;
  before(async () => {
    dir = project("js-worker");
    ({ url, stop } = await wranglerDev(dir));
  });
  after(() => stop?.());
  test("copied alone into a git repository, .dev.vars (the secret) is ignored", () => ignoresSecrets(dir));
  test("log in, who am I, a changed token, log out", () => tokenFlow(url));
  test("a cross-origin login, logout or cart change is a 403 that sets no cookie; the app's own still work", () =>
    crossOriginFlow(url, ["/cart?item=pen"]));
  test("GET /login, /logout and /cart change nothing", () => getChangesNothing(url, ["/cart?item=pen"]));
  test("a cart in KV across requests, gone after logout", async () => {
    const v = visitor(url);
    const login = await v.post("/login?user=bob");
    const first = await v.post("/cart?item=pen");
    assert.deepEqual(first.body.items, ["pen"]);
    assert.ok([...login.set, ...first.set].some((c) => c.startsWith("__Host-sid=")));
    assert.deepEqual((await v.post("/cart?item=cup")).body.items, ["pen", "cup"]);
    assert.deepEqual((await v.get("/")).body, { user: "bob", items: ["pen", "cup"] });
    const sid = v.jar.get("__Host-sid");
    await v.post("/logout");
    assert.deepEqual((await v.get("/")).body, { user: null, items: [] });
    v.jar.set("__Host-sid", sid);
    assert.deepEqual((await v.get("/")).body.items, [], "the old cart was deleted from KV");
  });
  test("another user's cart is not the next login's: bob, logged in after alice without her logout, sees an empty one", async () => {
    const v = visitor(url);
    await v.post("/login?user=alice");
    await v.post("/cart?item=alice-private");
    assert.deepEqual((await v.get("/")).body, { user: "alice", items: ["alice-private"] });
    await v.post("/login?user=bob");
    assert.deepEqual((await v.get("/")).body, { user: "bob", items: [] });
    // A cart begun while logged in (the earlier one gone idle) is its user's too.
    await v.post("/login?user=alice");
    v.jar.delete("__Host-sid");
    await v.post("/cart?item=alice-again");
    await v.post("/login?user=bob");
    assert.deepEqual((await v.get("/")).body, { user: "bob", items: [] });
  });
  test("a user whose login here ended keeps their cart: a change without logging in again is a 401, and the login finds it", async () => {
    const v = visitor(url);
    await v.post("/login?user=dora");
    await v.post("/cart?item=dora-item");
    v.jar.delete("__Host-session"); // the token expired
    assert.deepEqual((await v.get("/")).body, { user: null, items: [] });
    assert.equal((await v.send("POST", "/cart?item=anon")).status, 401);
    await v.post("/login?user=dora");
    assert.deepEqual((await v.get("/")).body, { user: "dora", items: ["dora-item"] });
  });
  test("a cart begun before login keeps its items under a new id: the old one names nothing", async () => {
    const v = visitor(url);
    await v.post("/cart?item=pen");
    const before = v.jar.get("__Host-sid");
    const login = await v.post("/login?user=erin");
    assert.ok(login.set.some(isCookie("__Host-sid", 86400)), login.set.join("\n"));
    assert.notEqual(v.jar.get("__Host-sid"), before, "login gives the cart a new id");
    assert.deepEqual((await v.get("/")).body, { user: "erin", items: ["pen"] });
    const planted = visitor(url);
    planted.jar.set("__Host-sid", before);
    assert.deepEqual((await planted.get("/")).body.items, [], "the id from before login is gone");
  });
  test("at most 20 items of at most 100 characters: more is a 400 that changes nothing", () => cartBounds(url));
  test("a user name past 100 characters is a 400 that logs nobody in", () => longUser(url));
  test("a cart cookie that names nothing valid is no cart, and logout clears it", async () => {
    // Tampered, cut short, or signed with a key since removed: store.find would reject (a 500 on
    // every request until the cookie expires, and no way to log out).
    const v = visitor(url);
    await v.post("/cart?item=pen");
    const sid = v.jar.get("__Host-sid");
    for (const bad of [sid.slice(0, -1) + (sid.endsWith("A") ? "B" : "A"), "AAAA"]) {
      v.jar.set("__Host-sid", bad);
      assert.deepEqual((await v.get("/")).body, { user: null, items: [] });
      const out = await v.post("/logout");
      assert.ok(out.set.some((c) => c.startsWith("__Host-sid=; Max-Age=0")), out.set.join("\n"));
    }
  });
});

describe("examples/hono (wrangler dev, local KV, edge-session/hono)", () => {
  let url, stop, dir;
  before(async () => {
    dir = project("hono");
    ({ url, stop } = await wranglerDev(dir));
  });
  after(() => stop?.());
  test("copied alone into a git repository, .dev.vars (the secret) is ignored", () => ignoresSecrets(dir));
  test("tsc --noEmit: the middleware's types on Hono's context (tests/examples/hono-types.ts)", async () => {
    copyFileSync(join(HERE, "hono-types.ts"), join(dir, "hono-types.ts"));
    const config = {
      compilerOptions: {
        strict: true, noEmit: true, target: "es2022", module: "nodenext", moduleResolution: "nodenext",
        lib: ["es2022", "dom"], types: [], skipLibCheck: false,
      },
      files: ["hono-types.ts"],
    };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config));
    try {
      execFileSync(join(BIN, "tsc"), ["-p", "tsconfig.json"], { cwd: dir, encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
    }
  });
  test("a cart before login, kept through login (a new session id), gone after logout", async () => {
    const v = visitor(url);
    assert.deepEqual((await v.get("/")).body, { user: null, items: [] });
    const cart = await v.post("/cart?item=pen");
    assert.deepEqual(cart.body.items, ["pen"]);
    assert.ok(cart.set.some(isCookie("__Host-sid", 86400)));
    const more = await v.post("/cart?item=cup"); // no cookie to set: still the visitor's own answer
    assert.deepEqual([more.body.items, more.set], [["pen", "cup"], []]);
    const before = v.jar.get("__Host-sid");
    const login = await v.post("/login?user=carol");
    assert.equal(login.body.user, "carol");
    assert.notEqual(v.jar.get("__Host-sid"), before, "login gives the session a new id");
    assert.deepEqual((await v.get("/")).body, { user: "carol", items: ["pen", "cup"] });
    const old = visitor(url);
    old.jar.set("__Host-sid", before);
    assert.deepEqual((await old.get("/")).body, { user: null, items: [] }, "the old id is gone");
    const out = await v.post("/logout");
    assert.ok(out.set.some((c) => c.startsWith("__Host-sid=; Max-Age=0")));
    assert.deepEqual((await v.get("/")).body, { user: null, items: [] });
  });
  test("a cross-origin login, logout or cart change is a 403 that sets no cookie; the app's own still work", () =>
    crossOriginFlow(url, ["/cart?item=pen", "/logout?everywhere=1"]));
  test("GET /login, /logout and /cart change nothing", () =>
    getChangesNothing(url, ["/cart?item=pen", "/logout?everywhere=1"]));
  test("at most 20 items of at most 100 characters: more is a 400 that changes nothing", () => cartBounds(url));
  test("a user name past 100 characters is a 400 that logs nobody in", () => longUser(url));
  test("log out everywhere ends the user's other sessions", async () => {
    const laptop = visitor(url);
    const phone = visitor(url);
    await laptop.post("/login?user=dave");
    await phone.post("/login?user=dave");
    assert.equal((await phone.get("/")).body.user, "dave");
    await laptop.post("/logout?everywhere=1");
    assert.equal((await phone.get("/")).body.user, null);
  });
});
