// Where the time of one token operation goes, per function, wasm included: builds the JS library
// for Node as the release does (cargo's release profile, wasm-bindgen, wasm-opt -Oz) but keeping
// the wasm function names (wasm-opt -g), into target/wasm-profile/, then runs the operation in a
// loop under V8's sampling profiler (node --cpu-prof, a sample every 20 µs) and prints the
// self time of each function, the largest first. The same V8 as workerd's; Node's own costs
// (its WebCrypto, its TextDecoder) are not workerd's, so read the wasm rows.
//
//   node bench/wasm-profile.mjs "compact verify" [--n 1000000] [--top 40] [--no-build]
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
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const op = process.argv.slice(2).find((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));

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
  console.error('usage: node bench/wasm-profile.mjs "compact verify" [--n 1000000] [--top 40] [--no-build]');
  process.exit(2);
}
const env = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, env, stdio: ["ignore", "ignore", "inherit"] });
if (!process.argv.includes("--no-build")) {
  run("cargo", ["build", "--lib", "--release", "--target", "wasm32-unknown-unknown", "-q"]);
  rmSync(out, { recursive: true, force: true });
  run("wasm-bindgen", ["--target", "nodejs", "--out-dir", out, "target/wasm32-unknown-unknown/release/edge_session.wasm"]);
  // A package.json without "type", as wasm-pack writes for Node (the repository's says module).
  writeFileSync(join(out, "package.json"), "{}\n");
  const wasm = join(out, "edge_session_bg.wasm");
  // The flags of Cargo.toml's wasm-pack profile, and -g to keep the names.
  run("wasm-opt", ["-Oz", "--converge", "-g", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-simd", wasm, "-o", wasm]);
}

const dir = mkdtempSync(join(tmpdir(), "edge-prof-"));
try {
  const script = fileURLToPath(import.meta.url);
  const args = ["--cpu-prof", "--cpu-prof-interval", "20", "--cpu-prof-dir", dir, script, ...process.argv.slice(2)];
  execFileSync(process.execPath, args, { env: { ...process.env, WASM_PROFILE_CHILD: "1" }, stdio: ["ignore", "inherit", "inherit"] });
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8"));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  let wasm = 0;
  for (const id of profile.samples) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    if (functionName === "(idle)") continue;
    if (url.startsWith("wasm://")) wasm++;
    // Rust symbols without their hash; anonymous JavaScript by file and line.
    const name = (functionName || `(anonymous ${url.split("/").pop()}:${lineNumber + 1})`).replace(/::h[0-9a-f]{16}/, "");
    self.set(name, (self.get(name) ?? 0) + 1);
    total++;
  }
  console.log(`self time per function, ${total} samples; ${((100 * wasm) / total).toFixed(1)}% in the wasm:`);
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, arg("top", 40))) {
    console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${name.slice(0, 140)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
