// A/B of the JS library's token operations inside workerd (Miniflare), as bench/ab.mjs does in
// Node: two (or more) web builds bundled into one worker side by side, each operation run on
// each build in turn, interleaved, so that the load of a shared machine falls on all alike.
// Timed from outside (inside workerd the clock does not advance during computation): a request
// running N operations minus one running none, by the CPU time of the workerd process (its
// threads' schedstat, Linux). Prints µs of CPU per operation: the median and the spread.
//
//   cp -r www/pkg /tmp/before   # then change something, `make pkg-www`
//   node bench/ab-workerd.mjs /tmp/before www/pkg [--rounds 7] [--n 20000]
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("rounds", 7);
const N = arg("n", 20_000);
const dirs = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
if (dirs.length === 0) {
  console.error("usage: node bench/ab-workerd.mjs DIR_A DIR_B ... [--rounds 7] [--n 20000]");
  process.exit(2);
}

// The worker: per build, the operations of bench/ab.mjs on the claims of bench/ops.mjs.
const ops = fileURLToPath(new URL("./ab-workerd-ops.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "edge-ab-"));
// The operations are made at the first request: workerd gives no randomness (sealed tokens)
// at start-up.
let source = `import { makeOps } from ${JSON.stringify(ops)};\nconst modules = [];\nlet builds;\n`;
dirs.forEach((d, i) => {
  cpSync(resolve(d), join(dir, `v${i}`), { recursive: true });
  source += `import * as m${i} from "./v${i}/edge_session.js";\nimport w${i} from "./v${i}/edge_session_bg.wasm";\n`;
  source += `m${i}.initSync({ module: w${i} });\nmodules.push(m${i});\n`;
});
source += `export default {
  async fetch(request) {
    const p = new URL(request.url).searchParams;
    builds ??= modules.map(makeOps);
    if (p.has("info")) return Response.json(Object.keys(builds[0]));
    const fn = builds[Number(p.get("v"))][p.get("op")];
    for (let i = Number(p.get("n")); i > 0; i--) fn();
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
    const names = JSON.parse(await get("info"));
    const pids = [];
    for (const tid of readdirSync(`/proc/${process.pid}/task`))
      for (const pid of readFileSync(`/proc/${process.pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean))
        if (readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("workerd")) pids.push(pid);
    const cpu = () => {
      let ns = 0;
      for (const pid of pids)
        for (const t of readdirSync(`/proc/${pid}/task`)) {
          try {
            ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
          } catch {} // a thread that just ended
        }
      return ns;
    };
    const timed = async (query) => {
      const start = cpu();
      await get(query);
      return cpu() - start;
    };
    const times = dirs.map(() => Object.fromEntries(names.map((n) => [n, []])));
    // Round 0 warms up and is not counted.
    for (let round = 0; round <= ROUNDS; round++)
      for (const name of names)
        for (let v = 0; v < dirs.length; v++) {
          const q = `v=${v}&op=${encodeURIComponent(name)}`;
          const empty = await timed(`${q}&n=0`);
          const full = await timed(`${q}&n=${N}`);
          if (round > 0) times[v][name].push((full - empty) / N / 1000);
        }
    const median = (xs) => {
      const s = [...xs].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
    };
    console.log(`workerd CPU µs per operation, median [min-max] of ${ROUNDS} interleaved rounds of ${N}`);
    for (const name of names)
      console.log(
        name.padEnd(15),
        dirs
          .map((d, v) => {
            const xs = times[v][name];
            return `${d}: ${median(xs).toFixed(3)} [${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}]`;
          })
          .join("  |  "),
      );
  } finally {
    await mf.dispose();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
