// Shared by the workerd benchmarks (bench/gateway-cpu.mjs, bench/cold-start.mjs,
// bench/ab-workerd.mjs...): the gateway as a Miniflare worker, the CPU time of the workerd
// processes or their instructions under callgrind, medians, and the docs file the figures go to.
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import workerdPackage from "workerd";
import WebSocket from "ws";

import { ROOT } from "../tests/e2e/harness.mjs";

export { ROOT };
export const COMPAT = "2026-04-01";

/** Miniflare's module rules for worker-build's output (index.js is an ES module) and the wasm. */
export const RULES = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];

const KEY = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"; // 32 bytes, base64url: benchmarks only

/** The gateway (build/, or the build in `dir`) as a Miniflare worker named `name`, with STORE =
 * `store`, one origin at http://origin.internal whose fetches go to the worker `outbound`. */
export function gatewayWorker(name, store, outbound, dir = "build", vars = {}) {
  return {
    name,
    modules: true,
    scriptPath: join(ROOT, dir, "worker/shim.mjs"),
    modulesRules: RULES,
    compatibilityDate: COMPAT,
    bindings: {
      ORIGINS: JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]),
      STORE: store,
      SESSION_KEYS: JSON.stringify([{ id: "k1", secret: KEY }]),
      ...vars,
    },
    kvNamespaces: ["EDGE_HEALTH", "SESSIONS"],
    durableObjects: { SESSION_OBJECTS: "EdgeSessionObject" },
    ...(outbound ? { outboundService: outbound } : {}),
  };
}

/** Every process below this one (pid list), by /proc. */
function descendants(root = process.pid) {
  const parent = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "latin1");
      const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(d), Number(after[1]));
    } catch {}
  }
  const out = [];
  const walk = (p) => {
    for (const [c, pp] of parent) if (pp === p) out.push(c), walk(c);
  };
  walk(root);
  return out;
}

/** The workerd processes this process started (Miniflare's), by pid. */
export function workerdPids() {
  return descendants().filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, "latin1").trim() === "workerd";
    } catch {
      return false;
    }
  });
}

/** Instructions instead of time: the workerd that Miniflare starts next runs under valgrind's
 * callgrind (MINIFLARE_WORKERD_PATH names a wrapper script written into `dir`, where callgrind's
 * files go). Returns `counted(fn)`, to call once Miniflare is ready: the instructions workerd ran
 * (every thread) while `fn` ran, callgrind's counters zeroed before it and dumped after it
 * (callgrind_control) into a file of their own (callgrind.PID.K, K counting the dumps), whose
 * totals are read. Needs valgrind. */
export function callgrind(dir) {
  // The package is CommonJS: its binary's path is its `default` export.
  const workerd = workerdPackage.default;
  const wrapper = join(dir, "workerd-callgrind.sh");
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=${dir}/callgrind.%p --dump-line=no --dump-instr=no ${workerd} "$@" 2>>${dir}/valgrind.log\n`,
  );
  chmodSync(wrapper, 0o755);
  process.env.MINIFLARE_WORKERD_PATH = wrapper;
  let pid;
  let dumps = 0;
  return async (fn) => {
    if (pid === undefined) {
      const found = descendants().filter((p) => {
        try {
          return readFileSync(`/proc/${p}/comm`, "latin1").startsWith("callgrind");
        } catch {
          return false;
        }
      });
      if (found.length !== 1) throw new Error(`one workerd under callgrind expected, found ${found.length}`);
      pid = String(found[0]);
    }
    const control = (option) => execFileSync("callgrind_control", [option, pid], { stdio: "ignore" });
    control("-z");
    await fn();
    control("-d");
    const text = readFileSync(join(dir, `callgrind.${pid}.${++dumps}`), "utf8");
    return Number(/^(?:summary|totals): (\d+)/m.exec(text)[1]);
  };
}

/** CPU time (ns) the given processes have used, every thread (/proc/PID/task/TID/schedstat). */
export function cpuNs(pids) {
  let total = 0;
  for (const pid of pids) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "latin1").split(" ")[0]);
      } catch {}
    }
  }
  return total;
}

/** Waits until workerd is idle (less than 0.2 ms of CPU in 25 ms, at most 3 s) and returns its
 * CPU time then (`cpuNs`): work a batch left running after its last answer (waitUntil, store
 * writes) is counted in that batch. */
export async function settle(pids) {
  const deadline = Date.now() + 3000;
  let last = cpuNs(pids);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    const now = cpuNs(pids);
    if (now - last < 200_000) return now;
    last = now;
  }
  return last;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const spread = (xs) => [Math.min(...xs), Math.max(...xs)];

/** What the figures were measured on: CPU model, cores, load, commit, versions. */
export function machine() {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["-C", ROOT, "status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" });
    if (dirty.trim()) commit += " (with uncommitted changes)";
  } catch {}
  const mf = JSON.parse(readFileSync(join(ROOT, "node_modules/miniflare/package.json"), "utf8")).version;
  const load = loadavg().map((x) => x.toFixed(2)).join(", ");
  return `${cpus()[0]?.model ?? "?"}, ${cpus().length} cores, load average ${load} (uptime) at the start; commit ${commit}; Miniflare ${mf} (workerd), Node ${process.version}`;
}

/** Rewrites the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in each of `docs`
 * (paths from the repository's root; docs/gateway-cost.md unless given). */
export function writeSection(name, text, docs = ["docs/gateway-cost.md"]) {
  const begin = `<!-- ${name}:begin (written by bench/${name}.mjs, do not edit by hand) -->`;
  const end = `<!-- ${name}:end -->`;
  for (const path of docs) {
    const file = join(ROOT, path);
    const doc = readFileSync(file, "utf8");
    const a = doc.indexOf(begin);
    const b = doc.indexOf(end);
    if (a < 0 || b < a) throw new Error(`${path}: markers for ${name} not found`);
    writeFileSync(file, doc.slice(0, a + begin.length) + "\n" + text.trim() + "\n" + doc.slice(b));
    console.log(`wrote ${name} figures to ${path}`);
  }
}

/** V8's CPU profile of the worker `name` of a Miniflare started with `inspectorPort: port`, taken
 * through workerd's inspector while `work()` runs, a sample every `interval` µs. */
export async function profileWorker(port, name, interval, work) {
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = list.find((t) => t.id === `core:user:${name}`);
  if (!target) throw new Error(`no inspector target for ${name}: ${list.map((t) => t.id)}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r) => ws.once("open", r));
  let id = 0;
  const pending = new Map();
  ws.on("message", (m) => {
    const x = JSON.parse(m);
    pending.get(x.id)?.(x);
    pending.delete(x.id);
  });
  const call = (method, params = {}) =>
    new Promise((r) => {
      pending.set(++id, r);
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("Profiler.enable");
    await call("Profiler.setSamplingInterval", { interval });
    await call("Profiler.start");
    await work();
    const { result } = await call("Profiler.stop");
    return result.profile;
  } finally {
    ws.close();
  }
}

export { freePort } from "../tests/e2e/harness.mjs";
