// Where the gateway's CPU goes in workerd's own code, which V8's profiler (bench/gateway-profile.mjs)
// does not see: Linux `perf` samples workerd's main thread (where the isolates run) while the
// driver of bench/gateway-cpu-workers.mjs sends a returning anonymous visitor's requests, first
// through the JS pass-through worker, then through the gateway, each in its own workerd. Prints
// µs of CPU per request by binary (`workerd`: its C++, V8's runtime and builtins, the
// interpreter; `[JIT]`: V8's compiled code, the wasm and optimized JavaScript; the kernel...)
// and the symbols whose time per request differs most between the two.
//
//   node bench/gateway-perf.mjs [BUILD_DIR] [SECONDS]      (default build/, 6 s each)
//   BASE=rewrite node bench/gateway-perf.mjs ...            (against the JS header-rewriting
//                                                            proxy: what the gateway adds beyond
//                                                            the plumbing)
//
// Needs `perf` (Debian: linux-perf) and perf events allowed (root, or perf_event_paranoid <= 1).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";

import { DRIVER, ORIGIN, REWRITE } from "./gateway-cpu-workers.mjs";
import { COMPAT, ROOT, gatewayWorker, workerdPids } from "./workerd.mjs";

const [dir = "build", seconds = "6"] = process.argv.slice(2);
const HZ = 4000;
// Requests each worker serves before it is sampled (WARM=...): V8 compiles a wasm function with
// its optimizing compiler only once the function has run for a while, so a young isolate runs
// more baseline (Liftoff) code.
const WARM = Number(process.env.WARM || 3000);
const tmp = mkdtempSync(join(tmpdir(), "edge-perf-"));
const ORIGINS = JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]);
const REWRITING = process.env.BASE === "rewrite";
const BASE = REWRITING ? "rewriting proxy" : "pass-through";
const targets = {
  [BASE]: REWRITING
    ? { name: "t", modules: true, script: REWRITE, compatibilityDate: COMPAT, bindings: { ORIGINS }, outboundService: "origin" }
    : { name: "t", modules: true, scriptPath: `${ROOT}/bench/passthrough-worker.js`, compatibilityDate: COMPAT, bindings: { ORIGINS }, outboundService: "origin" },
  gateway: gatewayWorker("t", "none", "origin", dir),
};

/** perf's report of `data` sorted by `key`: [share in %, name] per line. */
function report(data, key) {
  const out = execFileSync("perf", ["report", "-i", data, "--no-children", "--sort", key, "-g", "none", "--percent-limit", "0.01"], { encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "ignore"] });
  return out.split("\n").flatMap((line) => {
    const m = line.match(/^\s*([\d.]+)%\s+(?:\[.\]\s+)?(.*\S)\s*$/);
    return m ? [[Number(m[1]), m[2]]] : [];
  });
}

/** µs per request by binary and by symbol, for `worker` under load for `seconds`. */
async function measure(label, worker) {
  const mf = new Miniflare({ workers: [
    { name: "driver", modules: true, script: DRIVER, compatibilityDate: COMPAT, serviceBindings: { t: "t" } },
    worker,
    { name: "origin", modules: true, script: ORIGIN, compatibilityDate: COMPAT },
  ] });
  try {
    await mf.ready;
    const run = async (cookie, n) => (await mf.dispatchFetch(`http://driver.internal/run?${new URLSearchParams({ target: "t", path: "/", n: String(n), cookie })}`)).json();
    const cookie = (await run("", 1)).last.cookies.map((c) => c.split(";")[0]).join("; ");
    for (let left = WARM; left > 0; left -= 5000) await run(cookie, Math.min(left, 5000)); // warm-up
    const [pid] = workerdPids();
    const data = join(tmp, `${label}.data`);
    const perf = spawn("perf", ["record", "-q", "-e", "cpu-clock", "-F", String(HZ), "-t", String(pid), "-o", data], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 500)); // perf attached
    let requests = 0;
    const end = Date.now() + Number(seconds) * 1000;
    while (Date.now() < end) {
      const out = await run(cookie, 500);
      if (out.statuses[200] !== 500) throw new Error(`${label}: ${JSON.stringify(out.statuses)}`);
      requests += 500;
    }
    const done = new Promise((r) => perf.on("exit", r));
    perf.kill("SIGINT");
    await done;
    // cpu-clock counts nanoseconds: the event count is the thread's sampled CPU time.
    const head = execFileSync("perf", ["report", "-i", data, "--no-children", "--sort", "dso", "-g", "none"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const ns = Number(head.match(/# Event count \(approx\.\): (\d+)/)?.[1]);
    const perRequest = (share) => ((share / 100) * ns) / 1000 / requests;
    // One name for V8's code in both runs ("[JIT] tid N" names the thread).
    const by = (key) => new Map(report(data, key).map(([share, name]) => [name.replace(/^\[JIT\] tid \d+$/, "[JIT]"), perRequest(share)]));
    return { requests, total: perRequest(100), dso: by("dso"), sym: by("sym") };
  } finally {
    await mf.dispose();
  }
}

try {
  const r = {};
  for (const [label, worker] of Object.entries(targets)) r[label] = await measure(label.split(" ")[0], worker);
  const [a, b] = [r[BASE], r.gateway];
  const f = (x) => x.toFixed(1).padStart(7);
  console.log(`workerd main thread, µs of CPU per request (perf cpu-clock at ${HZ} Hz, ${seconds} s each; ${a.requests} and ${b.requests} requests; driver and origin included in both):`);
  console.log(`${"".padEnd(24)}${BASE.slice(0, 12).padStart(13)}${"gateway".padStart(9)}${"adds".padStart(8)}`);
  console.log(`${"all".padEnd(24)}${f(a.total).padStart(13)}${f(b.total).padStart(9)}${f(b.total - a.total).padStart(8)}`);
  for (const name of new Set([...b.dso.keys(), ...a.dso.keys()])) {
    const [x, y] = [a.dso.get(name) ?? 0, b.dso.get(name) ?? 0];
    if (Math.max(x, y) >= 0.5) console.log(`${name.slice(0, 24).padEnd(24)}${f(x).padStart(13)}${f(y).padStart(9)}${f(y - x).padStart(8)}`);
  }
  // workerd's binary holds V8 too: its symbols by part. V8's compiled code is the [JIT] binary
  // (its many small symbols fall under the report's limit); the rest is what no part names.
  const part = (name) =>
    name.startsWith("Builtins_") ? "V8 builtins (interpreter, ICs, wasm stubs)"
      : /^(v8::|cppgc::|heap::)/.test(name) ? "V8 runtime, GC"
      : /tcmalloc|TCMalloc/.test(name) ? "allocator (tcmalloc)"
      : /^(workerd::|kj::|capnp::|ada::)/.test(name) ? "workerd (APIs, kj, capnp)"
      : undefined;
  const parts = (r) => {
    const m = new Map([["JIT code (the wasm, optimized JS)", r.dso.get("[JIT]") ?? 0]]);
    for (const [k, v] of r.sym) if (part(k)) m.set(part(k), (m.get(part(k)) ?? 0) + v);
    m.set("the rest (kernel, libc, small symbols)", r.total - [...m.values()].reduce((x, y) => x + y, 0));
    return m;
  };
  const [pa, pb] = [parts(a), parts(b)];
  console.log("\nby part:");
  for (const name of pb.keys()) console.log(`${name.padEnd(44)}${f(pa.get(name))}${f(pb.get(name))}${f(pb.get(name) - pa.get(name))}`);
  console.log("\nsymbols whose time per request the gateway adds most (µs):");
  const diff = [...new Set([...b.sym.keys(), ...a.sym.keys()])].map((k) => [(b.sym.get(k) ?? 0) - (a.sym.get(k) ?? 0), k]);
  for (const [d, k] of diff.sort((x, y) => y[0] - x[0]).slice(0, Number(process.env.TOP || 25))) console.log(`${f(d)}  ${k.slice(0, 140)}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
