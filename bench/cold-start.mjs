// Cold start in workerd: what loading the JS library and the gateway adds to a fresh worker
// instance (script and wasm compilation, module instantiation at the top level), and what their
// first request costs. Every sample is a fresh workerd (a new Miniflare), timed from outside.
//
//   make bench-gateway                  (builds the gateway first; the JS library: make pkg-www)
//   INSTANCES=7 node bench/cold-start.mjs [--write]
//
// Per fresh instance and per worker: the time from `new Miniflare` to ready (workerd started and
// the worker's modules evaluated, so the wasm compiled and instantiated), then the first request
// and the median of 5 more (warm), in wall time and in CPU time of the workerd process
// (/proc/PID/task/*/schedstat). Each worker is compared with a plain JS worker measured the same
// way in the same round: "adds" is the difference. The workers:
// - JS library: the web build (www/pkg/, `make pkg-www`) imported with `initSync`, as
//   bench/workerd-worker.mjs does; its first request builds SessionTokens (one key) and signs and
//   verifies one compact token. Baseline: a JS worker answering "ok".
// - gateway: build/ (`make gateway`), STORE none; its first request reads the configuration,
//   derives the keys, proxies to an in-process origin (outboundService) and reads the shared
//   health snapshot from KV (EDGE_HEALTH, in `waitUntil`); again with that KV unbound, since
//   locally the read runs Miniflare's KV simulator in the same workerd process. Baseline: the
//   JS pass-through worker (bench/passthrough-worker.js) in front of the same origin.
// The figures are medians over INSTANCES rounds, with their spread (min–max); --write puts the
// table in docs/gateway-cost.md.
import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Miniflare } from "miniflare";

import { ORIGIN } from "./gateway-cpu-workers.mjs";
import { COMPAT, ROOT, RULES, cpuNs, gatewayWorker, machine, median, spread, workerdPids, writeSection } from "./workerd.mjs";

const INSTANCES = Number(process.env.INSTANCES || 7);
const WRITE = process.argv.includes("--write");
const WEB_PKG = join(ROOT, "www/pkg");

for (const [file, make] of [
  [join(ROOT, "build/worker/shim.mjs"), "make gateway"],
  [join(WEB_PKG, "edge_session_bg.wasm"), "make pkg-www"],
]) {
  if (!existsSync(file)) {
    console.error(`cold-start: ${file} is missing: run \`${make}\``);
    process.exit(2);
  }
}

// The JS library's worker, next to a copy of the web build.
const dir = mkdtempSync(join(tmpdir(), "edge-cold-start-"));
copyFileSync(join(WEB_PKG, "edge_session.js"), join(dir, "edge_session.js"));
copyFileSync(join(WEB_PKG, "edge_session_bg.wasm"), join(dir, "edge_session_bg.wasm"));
// The crate's JavaScript snippets, which the glue imports.
cpSync(join(WEB_PKG, "snippets"), join(dir, "snippets"), { recursive: true });
writeFileSync(
  join(dir, "library.mjs"),
  `import { initSync, SessionTokens } from "./edge_session.js";
import wasm from "./edge_session_bg.wasm";
initSync({ module: wasm });
let tokens;
export default {
  async fetch() {
    tokens ??= new SessionTokens({ keys: [{ id: "k1", secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA" }], ttlSeconds: 3600 });
    const token = tokens.sign({ sub: "user-12345", role: "admin" });
    tokens.verify(token);
    return new Response("ok");
  },
};
`,
);
writeFileSync(join(dir, "empty.mjs"), `export default { fetch() { return new Response("ok"); } };\n`);

const origin = { name: "origin", modules: true, script: ORIGIN, compatibilityDate: COMPAT };
/** The gateway (with or without its health KV) against the JS pass-through worker. */
function gateway(name, adds, healthKv) {
  const subject = gatewayWorker("main", "none", "origin");
  if (!healthKv) subject.kvNamespaces = subject.kvNamespaces.filter((n) => n !== "EDGE_HEALTH");
  return {
    name,
    adds,
    baseline: "JS pass-through worker",
    workers: (which) => [
      which === "subject"
        ? subject
        : {
            name: "main",
            modules: true,
            scriptPath: join(ROOT, "bench/passthrough-worker.js"),
            compatibilityDate: COMPAT,
            bindings: { ORIGINS: JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]) },
            outboundService: "origin",
          },
      origin,
    ],
  };
}

const SUBJECTS = [
  {
    name: "JS library (www/pkg, default features)",
    adds: "JS library adds",
    baseline: "plain JS worker",
    workers: (which) => [
      {
        name: "main",
        modules: true,
        modulesRoot: dir,
        scriptPath: join(dir, which === "subject" ? "library.mjs" : "empty.mjs"),
        modulesRules: RULES,
        compatibilityDate: COMPAT,
      },
    ],
  },
  gateway("gateway (build/, STORE none)", "gateway adds", true),
  // The same without the health KV: the first request's read of the shared health snapshot
  // (in `waitUntil`) is then not made. Locally that read runs Miniflare's KV simulator in the
  // same workerd, whose CPU Cloudflare would not bill as the gateway's.
  gateway("gateway, health KV unbound", "gateway adds, health KV unbound", false),
];

/** One fresh workerd running `workers` (the first one gets the requests): times in ms. */
async function fresh(workers) {
  const t0 = process.hrtime.bigint();
  const mf = new Miniflare({ workers });
  try {
    await mf.ready;
    const ready = Number(process.hrtime.bigint() - t0) / 1e6;
    const pids = workerdPids();
    const startCpu = cpuNs(pids) / 1e6;
    const request = async () => {
      const c0 = cpuNs(pids);
      const t = process.hrtime.bigint();
      const res = await mf.dispatchFetch("https://gateway.example/");
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${workers[0].scriptPath}: ${res.status} ${body}`);
      return { wall: Number(process.hrtime.bigint() - t) / 1e6, cpu: (cpuNs(pids) - c0) / 1e6 };
    };
    const first = await request();
    const warm = [];
    for (let i = 0; i < 5; i++) warm.push(await request());
    return {
      ready,
      startCpu,
      first: first.wall,
      firstCpu: first.cpu,
      warm: median(warm.map((w) => w.wall)),
      warmCpu: median(warm.map((w) => w.cpu)),
    };
  } finally {
    await mf.dispose();
  }
}

const started = machine();
const keys = ["ready", "startCpu", "first", "firstCpu", "warm", "warmCpu"];
const samples = SUBJECTS.map(() => ({ subject: [], baseline: [] }));
try {
  for (let round = 0; round < INSTANCES; round++) {
    for (const [i, s] of SUBJECTS.entries()) {
      // Alternate which goes first, so that neither always follows the other.
      const order = round % 2 ? ["baseline", "subject"] : ["subject", "baseline"];
      for (const which of order) samples[i][which].push(await fresh(s.workers(which)));
    }
    process.stdout.write(`instance ${round + 1}/${INSTANCES}\r`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const f = (x) => x.toFixed(1);
const cell = (xs) => `${f(median(xs))} (${spread(xs).map(f).join("–")})`;
const rows = [
  "| ms, median (spread) | start to ready, wall | startup CPU | first request, wall | first request, CPU | warm request, wall |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
];
SUBJECTS.forEach((s, i) => {
  const { subject, baseline } = samples[i];
  const col = (k) => subject.map((x) => x[k]);
  const base = (k) => baseline.map((x) => x[k]);
  const adds = (k) => subject.map((x, r) => x[k] - baseline[r][k]);
  rows.push(`| ${s.name} | ${keys.slice(0, 5).map((k) => cell(col(k))).join(" | ")} |`);
  rows.push(`| ${s.baseline} | ${keys.slice(0, 5).map((k) => cell(base(k))).join(" | ")} |`);
  rows.push(`| **${s.adds}** | ${keys.slice(0, 5).map((k) => cell(adds(k))).join(" | ")} |`);
});
const text = [
  `Measured by \`node bench/cold-start.mjs\` (\`make bench-gateway\`): ${INSTANCES} fresh workerd instances per worker, medians and spread (min–max).`,
  `"start to ready" is \`new Miniflare\` to ready: workerd starting, the modules compiled and evaluated (the wasm instantiated); startup CPU is the workerd process's CPU time until then. "adds" subtracts the baseline worker measured in the same round.`,
  `Machine: ${started}.`,
  "",
  ...rows,
].join("\n");
console.log(text);
if (WRITE) writeSection("cold-start", text);
