// The npm package on every runtime it supports (`make pkg-test`, part of `make test`): pkg/ is
// packed, the tarball installed into a fresh temporary project as a user installs it, and the
// same smoke suite (smoke.mjs: sign, verify, tamper, expiry, errors, sealed tokens, JWT interop
// with jose both ways, affinity routing, a store round trip, origin assertions signed, published
// and verified, device-bound session proofs made by WebCrypto and verified) runs on
//
//   Node (ES modules and CommonJS), Deno, Bun      the package as each resolves it, no flags
//                                                   (and edge-session/hono by require() where
//                                                   Node cannot require an ES module)
//   Node, a server bundled by esbuild               ESM and CJS, the wasm copied next to the
//                                                   bundle (and the error without it)
//   workerd                                         bundled by wrangler (`wrangler deploy
//                                                   --dry-run`), run by Miniflare with KV; and
//                                                   a Hono app that proxies a WebSocket (ws-app.mjs)
//   Vercel's edge runtime                           bundled with the `edge-light` condition,
//                                                   run by the `edge-runtime` package, compiling
//                                                   wasm from bytes refused as on Vercel
//   Chromium                                        bundled by esbuild, built by Vite, and from
//                                                   Vite's dev server; headless, playwright-core
//
// and `tsc --noEmit` type-checks types/usage.ts and types/usage-cjs.cts against the published
// .d.ts files. CHROMIUM=<path> for another browser binary (default /usr/bin/chromium);
// KEEP_PROJECT=1 keeps the temporary project (its path is printed).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { chromium } from "playwright-core";

import { BIN, makeProject, removeProject, wasmModules } from "./project.mjs";
import { CHECKS } from "./smoke.mjs";

const run = promisify(execFile);
let dir;

before(() => {
  dir = makeProject();
  console.log(`# project: ${dir}`);
});

after(() => {
  if (process.env.KEEP_PROJECT) console.log(`# kept ${dir}`);
  else removeProject(dir);
});

// Every check of the suite passed, and every check ran (`store-kv` only with KV).
function assertSmoke(results, { kv = false } = {}) {
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], JSON.stringify(failed, null, 2));
  const expected = CHECKS.filter((name) => kv || name !== "store-kv");
  assert.deepEqual(
    results.map((r) => r.name),
    expected,
  );
}

async function smokeProcess(command, args, env = {}) {
  const { stdout } = await run(command, args, {
    cwd: dir,
    env: { ...process.env, ...env },
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split("\n").find((l) => l.startsWith("SMOKE "));
  assert.ok(line, `no SMOKE line in the output:\n${stdout}`);
  return JSON.parse(line.slice("SMOKE ".length));
}

test("the tarball holds the package and nothing else", () => {
  const pkg = JSON.parse(readFileSync(join(dir, "node_modules/edge-session/package.json"), "utf8"));
  assert.equal(pkg.name, "edge-session");
  assert.equal(pkg.type, "module");
  assert.ok(pkg.engines.node, "engines");
  for (const [subpath, entry] of Object.entries(pkg.exports)) {
    if (subpath === "./package.json") continue;
    const types = JSON.stringify(entry).match(/"types":/g) ?? [];
    assert.ok(types.length > 0, `${subpath} has types`);
  }
  const installed = join(dir, "node_modules/edge-session");
  for (const f of ["edge_session_bg.wasm", "store/edge_session_store_bg.wasm", "assertion/edge_session_assertion_bg.wasm", "assertion/index.d.ts", "assertion/node.cjs", "dbsc/edge_session_dbsc_bg.wasm", "dbsc/index.d.ts", "dbsc/node.cjs", "index.d.ts", "index.d.cts", "node.cjs", "hono.js", "hono.d.ts", "hono.cjs", "hono.d.cts", "README.md", "LICENSE-MIT", "LICENSE-APACHE", "THIRD-PARTY-LICENSES.md"]) {
    assert.ok(readFileSync(join(installed, f)).length > 0, f);
  }
  // The notices of the crates compiled into the wasm: those under MIT alone among them.
  const notices = readFileSync(join(installed, "THIRD-PARTY-LICENSES.md"), "utf8");
  for (const crate of ["talc", "slab", "sha2", "serde_json", "chacha20poly1305"]) {
    assert.match(notices, new RegExp(`^## ${crate} \\d`, "m"), crate);
  }
  assert.match(notices, /Permission is hereby granted/);
  // The published types declare no init function: there is none to call.
  assert.doesNotMatch(readFileSync(join(installed, "index.d.ts"), "utf8"), /initSync|InitInput/);
  // No file carries a path of the machine that built it (the wasm's panic locations named
  // `/root/.cargo/registry/src/index.crates.io-.../serde_json-.../de.rs`: the Makefile remaps
  // them to the registry's own `serde_json-.../de.rs`).
  const files = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)]));
  for (const f of files(installed)) {
    const text = readFileSync(f, "latin1");
    for (const path of [/\/(root|home|Users|tmp)\//, /\.cargo\/registry/, /registry\/src\//]) {
      assert.doesNotMatch(text, path, `${f.slice(installed.length)}: a path of the build machine`);
    }
  }
});

test("Node, ES modules", async () => {
  assertSmoke(await smokeProcess(process.execPath, ["run-esm.mjs"]));
});

test("Node, CommonJS", async () => {
  assertSmoke(await smokeProcess(process.execPath, ["run-cjs.cjs"]));
});

// node.cjs is node.js bundled by esbuild, which renamed the classes whose names clash in the
// bundle (`SessionTokens.name` was "_SessionTokens", and so the glue's TypeErrors, "expected
// instance of _SessionTokens"): by require(), every export of each entry has the name it has by
// import.
test("Node, CommonJS: the exports have the names they have in the ES modules", async () => {
  const script = `
    const subpaths = ["edge-session", "edge-session/store", "edge-session/assertion", "edge-session/dbsc"];
    (async () => {
      const out = {};
      for (const subpath of subpaths) {
        const names = (m) => Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === "function").map(([k, v]) => [k, v.name]));
        out[subpath] = { cjs: names(require(subpath)), esm: names(await import(subpath)) };
      }
      const { SessionTokens } = require("edge-session");
      try {
        SessionTokens.prototype.verify.call({}, "x");
      } catch (e) {
        out.error = e.constructor.name + ": " + e.message;
      }
      console.log(JSON.stringify(out));
    })();`;
  const { stdout } = await run(process.execPath, ["-e", script], { cwd: dir, timeout: 120_000 });
  const { error, ...subpaths } = JSON.parse(stdout);
  for (const [subpath, { cjs, esm }] of Object.entries(subpaths)) {
    assert.ok(Object.keys(esm).length > 0, `${subpath}: exports`);
    assert.deepEqual(cjs, esm, `${subpath}: names by require() and by import`);
    for (const [name, fnName] of Object.entries(cjs)) {
      if (/^[A-Z]/.test(name)) assert.equal(fnName, name, `${subpath}: ${name}.name`);
    }
  }
  assert.equal(subpaths["edge-session"].cjs.SessionTokens, "SessionTokens");
  assert.equal(error, "TypeError: expected instance of SessionTokens");
});

// edge-session/hono through require() where Node cannot require an ES module (before 20.19;
// `--no-experimental-require-module` makes this Node one of those): a login, then its cookie read.
test("Node, CommonJS: edge-session/hono without require(esm)", async () => {
  const script = `
    const { Hono } = require("hono");
    const { SessionTokens } = require("edge-session");
    const { sessionTokens, login } = require("edge-session/hono");
    const app = new Hono();
    app.use(sessionTokens(new SessionTokens({ keys: [{ id: "k1", secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" }] })));
    app.post("/login", (c) => { login(c, { sub: "ann" }); return c.text("ok"); });
    app.get("/", (c) => c.json(c.get("session")));
    (async () => {
      const res = await app.request("/login", { method: "POST" });
      const cookie = res.headers.getSetCookie()[0].split(";")[0];
      const me = await (await app.request("/", { headers: { cookie } })).json();
      console.log("SUB " + me.sub);
    })();`;
  const { stdout } = await run(process.execPath, ["--no-experimental-require-module", "-e", script], { cwd: dir, timeout: 120_000 });
  assert.equal(stdout.trim(), "SUB ann");
});

// A server bundled by esbuild (as for a Lambda, or Vite SSR with the package not external): the
// entries read their wasm next to the bundle. Without the files there, the error says which file
// to copy where (it was a bare ENOENT); with them copied (npm/README.md), the suite passes.
test("Node, bundled by esbuild for a server (ES modules and CommonJS)", async () => {
  const wasm = [
    "edge_session_bg.wasm",
    "store/edge_session_store_bg.wasm",
    "assertion/edge_session_assertion_bg.wasm",
    "dbsc/edge_session_dbsc_bg.wasm",
  ];
  for (const [format, entry, outfile] of [
    ["esm", "run-esm.mjs", "dist-node-esm/server.mjs"],
    ["cjs", "run-cjs.cjs", "dist-node-cjs/server.cjs"],
  ]) {
    await build({
      entryPoints: [join(dir, entry)],
      absWorkingDir: dir,
      bundle: true,
      platform: "node",
      format,
      target: "node20",
      outfile: join(dir, outfile),
      logLevel: "error",
    });
    const out = join(dir, outfile, "..");
    await assert.rejects(
      run(process.execPath, [join(dir, outfile)], { cwd: dir, timeout: 120_000 }),
      (e) => {
        assert.match(e.stderr, /edge_session_bg\.wasm not found/, e.stderr);
        assert.match(e.stderr, /copy node_modules\/edge-session\/edge_session_bg\.wasm next to the bundle/, e.stderr);
        return true;
      },
      `${format}: no wasm next to the bundle`,
    );
    for (const f of wasm) copyFileSync(join(dir, "node_modules/edge-session", f), join(out, f.split("/").pop()));
    assertSmoke(await smokeProcess(process.execPath, [join(dir, outfile)]));
  }
});

test("Deno, with no permissions", async () => {
  const results = await smokeProcess(join(BIN, "deno"), ["run", "--no-prompt", "run-esm.mjs"], {
    DENO_DIR: join(dir, ".deno"),
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
  });
  assertSmoke(results);
});

test("Bun", async () => {
  assertSmoke(await smokeProcess(join(BIN, "bun"), ["run-esm.mjs"], { NO_COLOR: "1" }));
});

/** The project's worker (wrangler.toml's, or `entry`) bundled by `wrangler deploy --dry-run`
 * into `outdir`. */
const wranglerBundle = (outdir, entry = []) =>
  run(join(BIN, "wrangler"), ["deploy", "--dry-run", "--outdir", outdir, ...entry], {
    cwd: dir,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    timeout: 120_000,
  });
/** Miniflare's rules for wrangler's bundle: its modules and the wasm it leaves beside them. */
const BUNDLE_RULES = [
  { type: "ESModule", include: ["**/*.js"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];

test("workerd, bundled by wrangler, with Workers KV", async () => {
  await wranglerBundle("dist-worker");
  // Before 2025-05-05 workerd has no FinalizationRegistry, by which what the library returns is
  // freed: the import says so.
  for (const [date, warned] of [["2026-04-01", false], ["2025-05-04", true]]) {
    let log = "";
    const mf = new Miniflare({
      modules: true,
      modulesRoot: join(dir, "dist-worker"),
      scriptPath: join(dir, "dist-worker/worker.js"),
      modulesRules: BUNDLE_RULES,
      compatibilityDate: date,
      kvNamespaces: ["SESSIONS"],
      kvPersist: false,
      handleRuntimeStdio(stdout, stderr) {
        stdout.on("data", (chunk) => (log += chunk));
        stderr.on("data", (chunk) => (log += chunk));
      },
    });
    try {
      const res = await mf.dispatchFetch("http://smoke.test/");
      assert.equal(res.status, 200, date);
      assertSmoke(await res.json(), { kv: true });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(/edge-session: this runtime has no FinalizationRegistry/.test(log), warned, `${date}: ${log}`);
    } finally {
      await mf.dispose();
    }
  }
});

test("workerd: the Hono middleware's cookie on a WebSocket handshake that a fetch returned (immutable headers)", async () => {
  // An app that proxies a WebSocket returns the backend's 101, whose headers are immutable in
  // workerd: the affinity cookie (a first visit, or a refresh) was appended to them in place and
  // the upgrade failed with a 500 ("Can't modify immutable headers"). Copied with its socket now.
  await wranglerBundle("dist-ws", ["ws-app.mjs"]);
  const mf = new Miniflare({
    workers: [
      {
        name: "app",
        modules: true,
        modulesRoot: join(dir, "dist-ws"),
        scriptPath: join(dir, "dist-ws/ws-app.js"),
        modulesRules: BUNDLE_RULES,
        compatibilityDate: "2026-04-01",
        serviceBindings: { BACKEND: "backend" },
      },
      {
        name: "backend",
        modules: true,
        modulesRoot: dir,
        scriptPath: join(dir, "ws-backend.mjs"),
        compatibilityDate: "2026-04-01",
      },
    ],
  });
  try {
    const res = await mf.dispatchFetch("http://app.test/", { headers: { upgrade: "websocket" } });
    assert.equal(res.status, 101, res.status === 101 ? "" : await res.text());
    assert.match(res.headers.getSetCookie().join("\n"), /^__Host-affinity=[^;]+; Max-Age=\d+; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    assert.equal(res.headers.get("cache-control"), "private");
    // The socket is the backend's.
    const socket = res.webSocket;
    socket.accept();
    const echo = new Promise((ok) => socket.addEventListener("message", (event) => ok(event.data), { once: true }));
    socket.send("hi");
    assert.equal(await echo, "echo hi");
    socket.close();
  } finally {
    await mf.dispose();
  }
});

// Run in the sandbox before the bundle: compiles the modules there (so that they are of its
// realm), as Vercel's edge runtime does.
const COMPILE_INSIDE = `
  globalThis.__wasmModules = {};
  for (const [file, bytes] of Object.entries(globalThis.__wasmBytes)) {
    globalThis.__wasmModules[file] = new WebAssembly.Module(bytes);
  }
`;
// Then, before the bundle: forbids compiling wasm from bytes, as Vercel's edge runtime does.
const FORBID_BYTES = `
  const Module = WebAssembly.Module;
  const refuse = () => { throw new EvalError("wasm compiled from bytes (refused on Vercel's edge runtime)"); };
  const Refused = function () { refuse(); };
  Refused.prototype = Module.prototype;
  WebAssembly.Module = Refused;
  WebAssembly.compile = async () => refuse();
  WebAssembly.compileStreaming = async () => refuse();
  WebAssembly.instantiateStreaming = async () => refuse();
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = (m, imports) => (m instanceof Module ? instantiate(m, imports) : refuse());
`;

test("Vercel's edge runtime (edge-light), no wasm compiled from bytes; and Next.js's sandbox, which compiles it in another realm", async () => {
  const { EdgeRuntime } = await import("edge-runtime");
  const files = [];
  const out = await build({
    entryPoints: [join(dir, "edge.mjs")],
    absWorkingDir: dir,
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["edge-light"],
    plugins: [wasmModules(files)],
    logLevel: "warning",
  });
  assert.equal(files.length, 4, "the base, store, assertion and dbsc entries import their wasm with ?module");
  const bytes = Object.fromEntries(files.map((f) => [f, new Uint8Array(readFileSync(f))]));
  // Next.js's sandbox (next dev, next start, next build's page-data step) compiles them outside
  // the context, in another realm: no instanceof WebAssembly.Module there (scripts/glue.mjs,
  // rewrite 11).
  const outside = Object.fromEntries(Object.entries(bytes).map(([f, b]) => [f, new WebAssembly.Module(b)]));
  for (const [where, globals, setup] of [
    ["Vercel", { __wasmBytes: bytes }, COMPILE_INSIDE + FORBID_BYTES],
    ["Next.js", { __wasmModules: outside }, FORBID_BYTES],
  ]) {
    const runtime = new EdgeRuntime({ extend: (context) => Object.assign(context, globals) });
    runtime.evaluate(setup);
    assert.equal(runtime.evaluate("Object.values(__wasmModules)[0] instanceof WebAssembly.Module"), where === "Vercel", where);
    runtime.evaluate(out.outputFiles[0].text);
    const json = await runtime.evaluate("globalThis.smokeTest().then((r) => JSON.stringify(r))");
    assertSmoke(JSON.parse(json));
  }
});

// Serves `out` on 127.0.0.1, opens `page` in headless Chromium, returns the suite's results.
async function inChromium(out, page) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const server = createServer((req, res) => {
    const name = new URL(req.url, "http://x").pathname.slice(1) || "index.html";
    try {
      const body = readFileSync(join(out, ...name.split("/").map((p) => p.replace(/[^A-Za-z0-9_.-]/g, ""))));
      res.writeHead(200, { "content-type": types[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  try {
    const tab = await browser.newPage();
    const errors = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    await tab.goto(`http://127.0.0.1:${server.address().port}/${page}`);
    await tab.waitForFunction(() => window.smokeResult !== undefined, null, { timeout: 30_000 });
    const results = await tab.evaluate(() => window.smokeResult);
    assert.deepEqual(errors, []);
    return results;
  } finally {
    await browser.close();
    server.close();
  }
}

test("Chromium, bundled by esbuild", async () => {
  const out = join(dir, "dist-browser");
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(dir, "browser.mjs")],
    absWorkingDir: dir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile: join(out, "app.js"),
    logLevel: "warning",
  });
  // The one step esbuild users take (npm/README.md): the .wasm files next to the bundle.
  copyFileSync(join(dir, "node_modules/edge-session/edge_session_bg.wasm"), join(out, "edge_session_bg.wasm"));
  copyFileSync(join(dir, "node_modules/edge-session/store/edge_session_store_bg.wasm"), join(out, "edge_session_store_bg.wasm"));
  copyFileSync(join(dir, "node_modules/edge-session/assertion/edge_session_assertion_bg.wasm"), join(out, "edge_session_assertion_bg.wasm"));
  copyFileSync(join(dir, "node_modules/edge-session/dbsc/edge_session_dbsc_bg.wasm"), join(out, "edge_session_dbsc_bg.wasm"));
  copyFileSync(join(dir, "index.html"), join(out, "index.html"));
  assertSmoke(await inChromium(out, "index.html"));
});

test("Chromium, built by Vite (it emits the .wasm files itself)", async () => {
  const vite = await import("vite");
  const out = join(dir, "dist-vite");
  await vite.build({
    root: dir,
    configFile: false,
    logLevel: "warn",
    build: { outDir: out, target: "es2022", rollupOptions: { input: join(dir, "vite.html") } },
  });
  const assets = readdirSync(join(out, "assets"));
  assert.ok(assets.some((f) => /^edge_session_bg.*\.wasm$/.test(f)), `Vite emitted the base wasm: ${assets}`);
  assert.ok(assets.some((f) => /^edge_session_store_bg.*\.wasm$/.test(f)), `and the store's: ${assets}`);
  assert.ok(assets.some((f) => /^edge_session_assertion_bg.*\.wasm$/.test(f)), `and the assertion build's: ${assets}`);
  assert.ok(assets.some((f) => /^edge_session_dbsc_bg.*\.wasm$/.test(f)), `and the dbsc build's: ${assets}`);
  assertSmoke(await inChromium(out, "vite.html"));
});

test("Chromium, from Vite's dev server", async () => {
  const vite = await import("vite");
  const server = await vite.createServer({
    root: dir,
    configFile: false,
    logLevel: "warn",
    server: { host: "127.0.0.1", port: 0, strictPort: false },
  });
  await server.listen();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  try {
    const tab = await browser.newPage();
    const errors = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    await tab.goto(new URL("vite.html", server.resolvedUrls.local[0]).href);
    await tab.waitForFunction(() => window.smokeResult !== undefined, null, { timeout: 30_000 });
    const results = await tab.evaluate(() => window.smokeResult);
    assert.deepEqual(errors, []);
    assertSmoke(results);
  } finally {
    await browser.close();
    await server.close();
  }
});

test("tsc --noEmit: a usage file against the published types", async () => {
  try {
    await run(join(BIN, "tsc"), ["-p", "types/tsconfig.json"], { cwd: dir, timeout: 120_000 });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});
