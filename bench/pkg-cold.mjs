#!/usr/bin/env node
// The npm package's cold start (`make bench`, after `make pkg`): its wasm sizes, and per runtime
// the time from importing `edge-session` to the end of the first `verify`, as a user's first
// request pays it. The package is packed and installed into a fresh temporary project as in
// tests/pkg/ (the same tarball a user installs), and each figure is the median of RUNS fresh
// processes (or fresh browsers, or fresh sandboxes), each timing itself:
//
//   Node ESM, Node CJS, Deno, Bun   a fresh process: performance.now() before `await import` /
//                                   `require`, after the first verify
//   Vercel's edge runtime           a fresh Node process creating a fresh EdgeRuntime: compile
//                                   of the .wasm (what `?module` does at deploy or cold start),
//                                   evaluation of the edge-light bundle, first verify
//   Chromium (esbuild bundle)       a fresh browser: a dynamic import() of the bundle (fetching
//                                   and compiling the .wasm) and the first verify
//   workerd                         performance.now() does not advance inside workerd during
//                                   computation, so from outside: a fresh Miniflare instance's
//                                   first request (dynamic import of the package, first verify)
//                                   minus its second (the package already loaded), median of
//                                   fresh instances, and the same for a worker without the
//                                   package (what any first request costs); the package's share
//                                   is the difference. The .wasm is compiled at worker start-up
//                                   and not counted
//
//   node bench/pkg-cold.mjs [RUNS]      (default 11)
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { chromium } from "playwright-core";

import { BIN, ROOT, makeProject, removeProject, wasmModules } from "../tests/pkg/project.mjs";

const RUNS = Number(process.argv[2] ?? 11);
const KEYS = [{ id: "k1", secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" }];
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

execFileSync(process.execPath, [join(ROOT, "scripts/sizes.mjs"), "npm-base", "npm-store"], { stdio: "inherit" });

const dir = makeProject("edge-session-cold-");
try {
  // A token signed by the package itself, verified cold by each run.
  const NOW = 1_800_000_000;
  const sign = `const { SessionTokens } = require("edge-session");
    process.stdout.write(new SessionTokens({ keys: ${JSON.stringify(KEYS)} }).sign({ sub: "user-1" }, { now: ${NOW} }));`;
  const TOKEN = execFileSync(process.execPath, ["-e", sign], { cwd: dir, encoding: "utf8" });
  const verify = (lib) => `new ${lib}.SessionTokens({ keys: ${JSON.stringify(KEYS)} }).verify(${JSON.stringify(TOKEN)}, { now: ${NOW} })`;

  writeFileSync(
    join(dir, "cold.mjs"),
    `const t0 = performance.now();
const lib = await import("edge-session");
if (${verify("lib")}.sub !== "user-1") throw new Error("verify");
console.log("COLD " + (performance.now() - t0));\n`,
  );
  writeFileSync(
    join(dir, "cold.cjs"),
    `const t0 = performance.now();
const lib = require("edge-session");
if (${verify("lib")}.sub !== "user-1") throw new Error("verify");
console.log("COLD " + (performance.now() - t0));\n`,
  );
  const fromProcess = (cmd, args, env = {}) => {
    const out = execFileSync(cmd, args, { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env } });
    const line = out.split("\n").find((l) => l.startsWith("COLD "));
    if (!line) throw new Error(`no COLD line from ${cmd}: ${out}`);
    return Number(line.slice(5));
  };

  // Vercel's edge runtime: the edge-light bundle, its `?module` wasm compiled by the host.
  const wasmFiles = [];
  const edge = await build({
    stdin: { contents: `import * as lib from "edge-session"; globalThis.lib = lib;`, resolveDir: dir },
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["edge-light"],
    logLevel: "warning",
    plugins: [wasmModules(wasmFiles)],
  });
  writeFileSync(join(dir, "edge-bundle.js"), edge.outputFiles[0].text);
  writeFileSync(
    join(dir, "cold-edge.mjs"),
    `import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
const { EdgeRuntime } = createRequire(${JSON.stringify(join(ROOT, "package.json"))})("edge-runtime");
const runtime = new EdgeRuntime();
const WA = runtime.evaluate("WebAssembly");
const code = readFileSync("edge-bundle.js", "utf8");
const bytes = ${JSON.stringify(Object.fromEntries(wasmFiles.map((f) => [f, f])))};
const t0 = performance.now();
const modules = {};
for (const [k, f] of Object.entries(bytes)) modules[k] = new WA.Module(readFileSync(f));
runtime.context.__wasmModules = modules;
runtime.evaluate(code);
const claims = runtime.evaluate(${JSON.stringify(verify("globalThis.lib"))});
if (claims.sub !== "user-1") throw new Error("verify");
console.log("COLD " + (performance.now() - t0));\n`,
  );

  const figures = [];
  const measure = async (name, once, note = "") => {
    const times = [];
    for (let i = 0; i < RUNS; i++) times.push(await once());
    figures.push({ name, median: median(times), min: Math.min(...times), max: Math.max(...times), note });
    const f = figures.at(-1);
    console.log(`${name.padEnd(30)} median ${f.median.toFixed(1).padStart(6)} ms  (min ${f.min.toFixed(1)}, max ${f.max.toFixed(1)}; ${RUNS} fresh runs)${note ? `  ${note}` : ""}`);
  };

  console.log(`\nimport to first verify, cold (${RUNS} fresh runs each, median):`);
  await measure("Node ESM", () => fromProcess(process.execPath, ["cold.mjs"]));
  await measure("Node CommonJS", () => fromProcess(process.execPath, ["cold.cjs"]));
  await measure("Deno", () => fromProcess(join(BIN, "deno"), ["run", "--no-prompt", "cold.mjs"], { DENO_DIR: join(dir, ".deno"), DENO_NO_UPDATE_CHECK: "1" }));
  await measure("Bun", () => fromProcess(join(BIN, "bun"), ["cold.mjs"]));
  await measure("Vercel edge runtime", () => fromProcess(process.execPath, ["cold-edge.mjs"]), "(edge-runtime in Node; wasm compile included)");

  // Chromium: the esbuild bundle and the .wasm beside it, served locally.
  const out = join(dir, "dist-cold");
  mkdirSync(out, { recursive: true });
  await build({
    stdin: { contents: `export * from "edge-session";`, resolveDir: dir },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile: join(out, "lib.js"),
    logLevel: "warning",
  });
  copyFileSync(join(dir, "node_modules/edge-session/edge_session_bg.wasm"), join(out, "edge_session_bg.wasm"));
  writeFileSync(
    join(out, "index.html"),
    `<!doctype html><script type="module">
const t0 = performance.now();
const lib = await import("./lib.js");
if (${verify("lib")}.sub !== "user-1") throw new Error("verify");
window.cold = performance.now() - t0;
</script>`,
  );
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const server = createServer((req, res) => {
    const name = new URL(req.url, "http://x").pathname.slice(1) || "index.html";
    try {
      const body = readFileSync(join(out, name.replace(/[^A-Za-z0-9_.-]/g, "")));
      res.writeHead(200, { "content-type": types[name.slice(name.lastIndexOf("."))], "cache-control": "no-store" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await measure("Chromium (esbuild bundle)", async () => {
      const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
        args: ["--headless", "--no-sandbox", "--disable-gpu"],
      });
      try {
        const page = await browser.newPage();
        await page.goto(`http://127.0.0.1:${server.address().port}/`);
        await page.waitForFunction(() => window.cold !== undefined, null, { timeout: 30_000 });
        return await page.evaluate(() => window.cold);
      } finally {
        await browser.close();
      }
    }, "(local server; fetch and compile of the .wasm included)");
  } finally {
    server.close();
  }

  // workerd: wrangler's bundle of a worker that imports the package on its first request.
  writeFileSync(
    join(dir, "cold-worker.mjs"),
    `export default {
  async fetch() {
    const lib = await import("edge-session");
    return new Response(${verify("lib")}.sub);
  },
};\n`,
  );
  // The control: the same worker without the package, for what a first request costs anyway.
  writeFileSync(join(dir, "control-worker.mjs"), `export default { async fetch() { return new Response("user-1"); } };\n`);
  const workerd = async (name, main, note) => {
    const out = `dist-${main.replace(/\.mjs$/, "")}`;
    writeFileSync(join(dir, `wrangler-${main}.toml`), `name = "cold"\nmain = "${main}"\ncompatibility_date = "2026-04-01"\n`);
    execFileSync(join(BIN, "wrangler"), ["deploy", "--dry-run", "--config", `wrangler-${main}.toml`, "--outdir", out], {
      cwd: dir,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    await measure(name, async () => {
      const mf = new Miniflare({
        modules: true,
        modulesRoot: join(dir, out),
        scriptPath: join(dir, out, main.replace(/\.mjs$/, ".js")),
        modulesRules: [
          { type: "ESModule", include: ["**/*.js"] },
          { type: "CompiledWasm", include: ["**/*.wasm"] },
        ],
        compatibilityDate: "2026-04-01",
      });
      try {
        await mf.ready;
        const time = async () => {
          const t0 = performance.now();
          const res = await mf.dispatchFetch("http://cold.test/");
          if ((await res.text()) !== "user-1") throw new Error("verify");
          return performance.now() - t0;
        };
        const first = await time();
        const second = await time();
        return first - second;
      } finally {
        await mf.dispose();
      }
    }, note);
  };
  await workerd("workerd (wrangler bundle)", "cold-worker.mjs", "(first request minus second, from outside; the .wasm compiled at start-up is not counted)");
  await workerd("workerd, without the package", "control-worker.mjs", "(the same for a worker that only answers: what any first request costs)");
  const [pkg, control] = figures.slice(-2);
  console.log(`${"workerd, the package's share".padEnd(30)} median ${(pkg.median - control.median).toFixed(1).padStart(6)} ms  (the difference of the two medians)`);
} finally {
  removeProject(dir);
}
