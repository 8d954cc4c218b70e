// A/B of the JS library's token operations inside workerd (Miniflare), as bench/ab.mjs does in
// Node: two (or more) web builds bundled into one worker side by side, each operation run on
// each build in turn, interleaved, so that the load of a shared machine falls on all alike.
// Timed from outside (inside workerd the clock does not advance during computation): a request
// running N operations minus one running none, by the CPU time of the workerd process (its
// threads' schedstat, Linux). Prints µs of CPU per operation: the median and the spread.
//
// With --instructions, counted instead of timed: workerd runs under valgrind's callgrind, whose
// counters are zeroed before each request and read after it (callgrind_control), and it prints
// instructions per operation. For builds a few percent apart on a shared machine, where CPU time
// cannot tell them apart. Unlike bench/instructions.mjs (Node, V8 made deterministic), this is
// workerd's own V8 and platform (its TextEncoder, its Date.now), whose costs can differ from
// Node's by thousands of instructions an operation. The rounds of a run agree to a few hundredths
// of a percent, but one build's count can differ between runs by up to a tenth (what V8's
// optimizing compiler made of it): compare builds within one run. Needs valgrind; a run takes a
// few minutes per operation.
//
//   cp -r www/pkg /tmp/before   # then change something, `make pkg-www`
//   node bench/ab-workerd.mjs /tmp/before www/pkg [--rounds 7] [--n 20000] [--ops "compact verify,verifyJwt"]
//   node bench/ab-workerd.mjs /tmp/before www/pkg --instructions [--rounds 6] [--warmup 3]
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { Miniflare } from "miniflare";

import { callgrind, cpuNs, median, workerdPids } from "./workerd.mjs";

const { values, positionals: dirs } = parseArgs({
  allowPositionals: true,
  options: {
    instructions: { type: "boolean", default: false },
    rounds: { type: "string" },
    n: { type: "string" },
    warmup: { type: "string" },
    ops: { type: "string" },
  },
});
const INSTRUCTIONS = values.instructions;
const ROUNDS = Number(values.rounds ?? (INSTRUCTIONS ? 6 : 7));
const N = Number(values.n ?? 20_000);
// Rounds run first and not counted: V8 compiles the hot code with its optimizing tiers in the
// background, which under valgrind takes a few rounds.
const WARMUP = Number(values.warmup ?? (INSTRUCTIONS ? 3 : 1));
const OPS = values.ops?.split(",");
if (dirs.length === 0) {
  console.error("usage: node bench/ab-workerd.mjs DIR_A DIR_B ... [--rounds 7] [--n 20000] [--warmup 1] [--ops A,B] [--instructions]");
  process.exit(2);
}

// The worker: per build, the operations of bench/ab.mjs on the claims of bench/ops.mjs, from a
// copy of their module of its own (see bench/ab-workerd-ops.mjs).
const ops = fileURLToPath(new URL("./ab-workerd-ops.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "edge-ab-"));
// The operations are made at the first request: workerd gives no randomness (sealed tokens)
// at start-up.
let source = "const builds = [];\nlet made;\n";
dirs.forEach((d, i) => {
  cpSync(resolve(d), join(dir, `v${i}`), { recursive: true });
  cpSync(ops, join(dir, `v${i}`, "ab-ops.mjs"));
  source += `import * as m${i} from "./v${i}/edge_session.js";\nimport w${i} from "./v${i}/edge_session_bg.wasm";\n`;
  source += `import * as ops${i} from "./v${i}/ab-ops.mjs";\n`;
  source += `m${i}.initSync({ module: w${i} });\nbuilds.push({ m: m${i}, ops: ops${i} });\n`;
});
source += `export default {
  async fetch(request) {
    const p = new URL(request.url).searchParams;
    made ??= builds.map(({ m, ops }) => ({ ops: ops.makeOps(m), repeat: ops.repeat }));
    if (p.has("info")) return Response.json(Object.keys(made[0].ops));
    const { ops, repeat } = made[Number(p.get("v"))];
    repeat(ops[p.get("op")], Number(p.get("n")));
    return new Response("ok");
  },
};\n`;
writeFileSync(join(dir, "entry.mjs"), source);
try {
  await build({
    entryPoints: [join(dir, "entry.mjs")],
    bundle: true,
    format: "esm",
    platform: "browser",
    external: ["*.wasm"],
    outfile: join(dir, "worker.mjs"),
    logLevel: "error",
  });
  const count = INSTRUCTIONS ? callgrind(dir) : undefined;
  const mf = new Miniflare({
    modules: true,
    modulesRoot: dir,
    scriptPath: join(dir, "worker.mjs"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-01",
  });
  try {
    await mf.ready;
    const get = async (query) => {
      const res = await mf.dispatchFetch(`http://ab.test/?${query}`);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${query}: ${res.status} ${body}`);
      return body;
    };
    const names = JSON.parse(await get("info")).filter((name) => !OPS || OPS.includes(name));
    const pids = workerdPids();
    const timed = async (query) => {
      const start = cpuNs(pids);
      await get(query);
      return cpuNs(pids) - start;
    };
    const measure = INSTRUCTIONS ? (query) => count(() => get(query)) : timed;
    const times = dirs.map(() => Object.fromEntries(names.map((n) => [n, []])));
    // The builds take turns in one order, then in the other: what the one before leaves behind
    // (garbage to collect, a compilation finishing in the background) falls on each alike.
    for (let round = 1 - WARMUP; round <= ROUNDS; round++)
      for (const name of names)
        for (const v of round % 2 ? dirs.keys() : [...dirs.keys()].reverse()) {
          const q = `v=${v}&op=${encodeURIComponent(name)}`;
          const empty = await measure(`${q}&n=0`);
          const full = await measure(`${q}&n=${N}`);
          // Nanoseconds of CPU (shown as µs), or instructions.
          if (round > 0) times[v][name].push((full - empty) / N / (INSTRUCTIONS ? 1 : 1000));
        }
    const unit = INSTRUCTIONS ? "instructions (callgrind)" : "CPU µs";
    const digits = INSTRUCTIONS ? 0 : 3;
    console.log(`workerd ${unit} per operation, median [min-max] of ${ROUNDS} interleaved rounds of ${N}`);
    for (const name of names)
      console.log(
        name.padEnd(15),
        dirs
          .map((d, v) => {
            const xs = times[v][name];
            return `${d}: ${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}]`;
          })
          .join("  |  "),
      );
  } finally {
    await mf.dispose();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
