// Where the time of one token operation goes, per function, wasm included: builds the JS library
// as the release does (cargo's release profile, wasm-bindgen, wasm-opt -Oz) but keeping the wasm
// function names (wasm-opt -g), into target/wasm-profile/, then runs the operation in a loop
// under V8's sampling profiler (a sample every 20 µs) and prints the self time of each function,
// the largest first.
//
//   node bench/wasm-profile.mjs "compact verify" [--n 1000000] [--top 40] [--no-build] [--workerd]
//
// In Node by default (node --cpu-prof): the same V8 as workerd's, but Node's own costs (its
// WebCrypto, its TextDecoder) are not workerd's. With --workerd, inside workerd (Miniflare, the
// web build in target/wasm-profile/web, profiled through the inspector as
// bench/gateway-profile.mjs does), where the Workers platform's own functions (TextDecoder,
// Date.now...) show at their real cost.
//
// Operations: those of bench/ab-workerd-ops.mjs ("compact verify", verifyJwt, "sealed verify",
// "compact sign", signJwt, "sealed sign").
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { makeOps } from "./ab-workerd-ops.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "target", "wasm-profile");
const web = join(out, "web");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const op = process.argv.slice(2).find((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
const WORKERD = process.argv.includes("--workerd");

if (process.env.WASM_PROFILE_CHILD) {
  // The profiled process: the loop only.
  const edge = createRequire(import.meta.url)(join(out, "edge_session.js"));
  const fn = makeOps(edge)[op];
  const n = arg("n", 1_000_000);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  const ns = Number(process.hrtime.bigint() - start) / n;
  console.log(`${op}: ${(ns / 1000).toFixed(3)} µs per operation under the profiler (Node ${process.version})`);
  process.exit(0);
}

if (!op) {
  console.error('usage: node bench/wasm-profile.mjs "compact verify" [--n 1000000] [--top 40] [--no-build] [--workerd]');
  process.exit(2);
}
const env = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, env, stdio: ["ignore", "ignore", "inherit"] });
if (!process.argv.includes("--no-build")) {
  run("cargo", ["build", "--lib", "--release", "--target", "wasm32-unknown-unknown", "-q"]);
  rmSync(out, { recursive: true, force: true });
  const built = "target/wasm32-unknown-unknown/release/edge_session.wasm";
  run("wasm-bindgen", ["--target", "nodejs", "--out-dir", out, built]);
  run("wasm-bindgen", ["--target", "web", "--out-dir", web, built]);
  // The glue as the Makefile leaves it (verify's error thrown by the glue: src/js/thrown.rs).
  run("node", ["scripts/glue.mjs", join(out, "edge_session.js"), join(web, "edge_session.js")]);
  // A package.json without "type", as wasm-pack writes for Node (the repository's says module).
  writeFileSync(join(out, "package.json"), "{}\n");
  for (const wasm of [join(out, "edge_session_bg.wasm"), join(web, "edge_session_bg.wasm")]) {
    // The flags of Cargo.toml's wasm-pack profile, and -g to keep the names.
    run("wasm-opt", ["-Oz", "--converge", "-g", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-simd", wasm, "-o", wasm]);
  }
}

/** Self time per function of a V8 CPU profile, printed. */
function report(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  let wasm = 0;
  for (const id of profile.samples) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    if (functionName === "(idle)") continue;
    if (url.startsWith("wasm://") || /\.wasm-[0-9a-f]+$/.test(url)) wasm++;
    // Rust symbols without their hash; anonymous JavaScript by file and line.
    const name = (functionName || `(anonymous ${url.split("/").pop()}:${lineNumber + 1})`).replace(/::h[0-9a-f]{16}/, "");
    self.set(name, (self.get(name) ?? 0) + 1);
    total++;
  }
  console.log(`self time per function, ${total} samples; ${((100 * wasm) / total).toFixed(1)}% in the wasm:`);
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, arg("top", 40))) {
    console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${name.slice(0, 140)}`);
  }
}

/** The profile of `op` run n times in a request inside workerd (the web build). */
async function workerdProfile() {
  const [{ build }, { Miniflare }, { freePort, profileWorker }] = await Promise.all([
    import("esbuild"),
    import("miniflare"),
    import("./workerd.mjs"),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "edge-prof-workerd-"));
  try {
    const ops = fileURLToPath(new URL("./ab-workerd-ops.mjs", import.meta.url));
    writeFileSync(
      join(dir, "entry.mjs"),
      `import { makeOps } from ${JSON.stringify(ops)};
import * as edge from ${JSON.stringify(join(web, "edge_session.js"))};
import wasm from "./edge_session_bg.wasm";
edge.initSync({ module: wasm });
let fns;
export default {
  async fetch(request) {
    const p = new URL(request.url).searchParams;
    fns ??= makeOps(edge); // at the first request: workerd gives no randomness at start-up
    const fn = fns[p.get("op")];
    for (let i = Number(p.get("n")); i > 0; i--) fn();
    return new Response("ok");
  },
};
`,
    );
    writeFileSync(join(dir, "edge_session_bg.wasm"), readFileSync(join(web, "edge_session_bg.wasm")));
    await build({ entryPoints: [join(dir, "entry.mjs")], bundle: true, format: "esm", platform: "browser", external: ["*.wasm"], outfile: join(dir, "worker.mjs"), logLevel: "error" });
    const port = await freePort();
    const mf = new Miniflare({
      inspectorPort: port,
      workers: [{ name: "tokens", modules: true, modulesRoot: dir, scriptPath: join(dir, "worker.mjs"), modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }], compatibilityDate: "2026-04-01" }],
    });
    try {
      await mf.ready;
      const get = async (n) => {
        const res = await mf.dispatchFetch(`http://tokens.test/?${new URLSearchParams({ op, n: String(n) })}`);
        if (res.status !== 200) throw new Error(`${op}: ${res.status} ${await res.text()}`);
        await res.text();
      };
      await get(50_000); // warm-up: the hot functions optimized
      const n = arg("n", 1_000_000);
      const profile = await profileWorker(port, "tokens", 20, async () => {
        for (let done = 0; done < n; done += 100_000) await get(Math.min(100_000, n - done));
      });
      console.log(`${op}: ${n} operations inside workerd (Miniflare), profiled through the inspector`);
      return profile;
    } finally {
      await mf.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (WORKERD) {
  report(await workerdProfile());
} else {
  const dir = mkdtempSync(join(tmpdir(), "edge-prof-"));
  try {
    const script = fileURLToPath(import.meta.url);
    const args = ["--cpu-prof", "--cpu-prof-interval", "20", "--cpu-prof-dir", dir, script, ...process.argv.slice(2)];
    execFileSync(process.execPath, args, { env: { ...process.env, WASM_PROFILE_CHILD: "1" }, stdio: ["ignore", "inherit", "inherit"] });
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    report(JSON.parse(readFileSync(join(dir, file), "utf8")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
