// Instructions per token operation, counted, not timed: for comparing builds on a machine whose
// timings other load makes too noisy to tell a few percent apart. Each operation runs N1 and then
// N2 times in a Node process under valgrind (callgrind, which counts the instructions executed);
// (count(N2) - count(N1)) / (N2 - N1) is what one more operation costs once warm. V8 is made
// deterministic: `--predictable` (no background threads, so no timing-dependent tier-up or GC)
// and `--no-liftoff` (the wasm compiled by the optimizing tier from the start, as it ends up in a
// long-running isolate). Runs of the same build agree to within a few instructions per
// operation. It is Node's V8, not workerd's, and instructions are not time (a cache miss or a
// slow instruction counts one): a tool for A/B, not a figure for README's table.
//
//   cp -r pkg-node /tmp/before   # then change something, `make pkg-node`
//   node bench/instructions.mjs /tmp/before pkg-node [--ops "compact verify,verifyJwt"] [--n1 20000 --n2 60000]
//
// Operations: those of bench/ab-workerd-ops.mjs. Needs valgrind.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { makeOps } from "./ab-workerd-ops.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};

if (process.env.INSTRUCTIONS_CHILD) {
  // The counted process: `n` operations `op` of the build `dir`, nothing else.
  const { createRequire } = await import("node:module");
  const edge = createRequire(import.meta.url)(resolve(process.env.INSTRUCTIONS_DIR, "edge_session.js"));
  const fn = makeOps(edge)[process.env.INSTRUCTIONS_OP];
  const n = Number(process.env.INSTRUCTIONS_N);
  for (let i = 0; i < n; i++) fn();
  process.exit(0);
}

const N1 = Number(arg("n1", 20_000));
const N2 = Number(arg("n2", 60_000));
const OPS = arg("ops", "compact verify,verifyJwt,sealed verify,compact sign,signJwt,sealed sign").split(",");
const dirs = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
if (dirs.length === 0) {
  console.error('usage: node bench/instructions.mjs DIR_A [DIR_B ...] [--ops "compact verify,verifyJwt"] [--n1 20000] [--n2 60000]');
  process.exit(2);
}
if (spawnSync("valgrind", ["--version"]).status !== 0) {
  console.error("instructions.mjs: valgrind is needed (apt-get install valgrind)");
  process.exit(2);
}

const self = fileURLToPath(import.meta.url);
function refs(stderr) {
  const m = stderr.match(/Collected : (\d+)/);
  if (!m) throw new Error(`no instruction count in valgrind's output:\n${stderr}`);
  return Number(m[1]);
}
function perOp(dir, op) {
  const a = refs(spawnCount(dir, op, N1));
  const b = refs(spawnCount(dir, op, N2));
  return (b - a) / (N2 - N1);
}
function spawnCount(dir, op, n) {
  const r = spawnSync(
    "valgrind",
    ["--tool=callgrind", "--callgrind-out-file=/dev/null", "--smc-check=all-non-file", process.execPath, "--predictable", "--no-liftoff", self],
    {
      env: { ...process.env, INSTRUCTIONS_CHILD: "1", INSTRUCTIONS_DIR: resolve(dir), INSTRUCTIONS_OP: op, INSTRUCTIONS_N: String(n) },
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`${dir} ${op}: exit ${r.status}\n${r.stderr}`);
  return r.stderr;
}

console.log(`Instructions per operation (callgrind, Node ${process.version} --predictable --no-liftoff, (I(${N2}) - I(${N1})) / ${N2 - N1}):`);
console.log(`| operation | ${dirs.join(" | ")} |${dirs.length > 1 ? " change |" : ""}`);
console.log(`| --- |${dirs.map(() => " ---: |").join("")}${dirs.length > 1 ? " ---: |" : ""}`);
for (const op of OPS) {
  const counts = dirs.map((dir) => perOp(dir, op));
  const change = dirs.length > 1 ? ` ${(((counts.at(-1) - counts[0]) / counts[0]) * 100).toFixed(1)}% |` : "";
  console.log(`| ${op} | ${counts.map((c) => Math.round(c).toLocaleString("en")).join(" | ")} |${change}`);
}
