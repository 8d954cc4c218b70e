// A/B of gateway builds inside workerd (STORE none): CPU time per request on workerd's main
// thread (where the isolates run; V8's background GC and compiler threads left out), for an
// anonymous visitor, a logged-in visitor and a login, against the JS pass-through worker, all in
// one workerd (Miniflare) as bench/gateway-cpu.mjs runs them. The builds take turns, batch by
// batch (the order reversed every other round), so that a busy machine slows them alike; since
// interference only ever adds time, the low quantiles (min, p10, p25) of the batches compare
// builds best on a shared machine, and the medians are printed beside them.
//
//   GATEWAY_OUT=target/gw-b scripts/build-gateway.sh      (a build to compare)
//   BUILDS=build,target/gw-b N=1000 ROUNDS=20 node bench/gateway-ab.mjs
//
// THREADS=all counts every workerd thread instead (V8's background GC and compiler threads too,
// as bench/gateway-cpu.mjs does). CASES=anon,user,login picks the cases. BROWSER=1 sends each
// request with a browser's headers and other cookies (about 1 KB), and the origin answers with a
// web application's security and caching headers (bench/gateway-cpu-workers.mjs). Prints, per case and build, the batches' µs per request
// and what each adds to the pass-through at the same quantile. With --write it also rewrites the
// gateway-ab table of docs/gateway-cost.md (what each build adds, min / p10), naming the builds
// by LABELS (comma-separated, in the order of BUILDS; default: their directories). A BUILDS entry
// `rewrite` is no gateway but the JS header-rewriting proxy of bench/gateway-cpu-workers.mjs (no
// sessions): what a worker that only copies and edits the headers adds, in the same run.
import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";
import { DRIVER, ORIGIN, REWRITE } from "./gateway-cpu-workers.mjs";
import { COMPAT, ROOT, cpuNs, gatewayWorker, machine, workerdPids, writeSection } from "./workerd.mjs";
const N = Number(process.env.N || 3000), ROUNDS = Number(process.env.ROUNDS || 8);
const ORIGINS = JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]);
/** The JS header-rewriting proxy (no sessions), BUILDS entry `rewrite`: what the plumbing alone adds. */
const rewriteWorker = (name) => ({ name, modules: true, script: REWRITE, compatibilityDate: COMPAT, bindings: { ORIGINS }, outboundService: "origin" });
const builds = (process.env.BUILDS || "build").split(",");
const names = builds.map((_, i) => "g" + i);
const mf = new Miniflare({ workers: [
  { name: "driver", modules: true, script: DRIVER, compatibilityDate: COMPAT, serviceBindings: Object.fromEntries(["pt", ...names].map((n) => [n, n])) },
  { name: "pt", modules: true, scriptPath: `${ROOT}/bench/passthrough-worker.js`, compatibilityDate: COMPAT, bindings: { ORIGINS }, outboundService: "origin" },
  ...builds.map((d, i) => (d === "rewrite" ? rewriteWorker(names[i]) : gatewayWorker(names[i], "none", "origin", d))),
  { name: "origin", modules: true, script: ORIGIN, compatibilityDate: COMPAT },
]});
await mf.ready;
const started = machine();
const pids = workerdPids();
const main = process.env.THREADS === "all"
  ? () => cpuNs(pids)
  : () => pids.reduce((t, p) => t + Number(readFileSync(`/proc/${p}/task/${p}/schedstat`, "latin1").split(" ")[0]), 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function run(target, path, cookie, n) {
  const q = new URLSearchParams({ target, path, n: String(n), cookie, browser: process.env.BROWSER === "1" ? "1" : "0" });
  await sleep(100);
  const c0 = main();
  const out = await (await mf.dispatchFetch(`http://driver.internal/run?${q}`)).json();
  const c = main() - c0;
  if (out.statuses[200] !== n) throw new Error(JSON.stringify(out));
  return { us: c / n / 1000, out };
}
const ck = (o) => o.last.cookies.map((c) => c.split(";")[0]);
const scen = [];
for (const g of names) {
  const anon = ck((await run(g, "/", "", 1)).out).join("; ");
  const user = [anon, ...ck((await run(g, "/login", anon, 1)).out).filter((c) => c.startsWith("__Host-session="))].join("; ");
  scen.push({ g, anon, user });
}
const cases = (process.env.CASES || "anon,user,login").split(",");
const raw = {};
for (const w of cases) {
  const path = w === "login" ? "/login" : "/";
  for (const s of scen) await run(s.g, path, w === "user" ? s.user : s.anon, N);
  await run("pt", "/", "", N);
  for (let r = 0; r < ROUNDS; r++) {
    const pt = (await run("pt", "/", "", N)).us;
    (raw["pt"] ??= []).push(pt);
    for (const s of (r % 2 ? [...scen].reverse() : scen)) {
      const us = (await run(s.g, path, w === "user" ? s.user : s.anon, N)).us;
      (raw[`${w} ${s.g}`] ??= []).push(us);
    }
  }
}
const q = (v, f) => [...v].sort((a, b) => a - b)[Math.floor(f * (v.length - 1))];
console.log(`µs per request, ${process.env.THREADS === "all" ? "every workerd thread" : "workerd main thread"} (N=${N}, ${ROUNDS} rounds; g0..: ${builds.join(", ")}): min p10 p25 median; added: min p10 p25`);
const pmin = q(raw.pt, 0), p10 = q(raw.pt, 0.1), p25 = q(raw.pt, 0.25);
for (const [k, v] of Object.entries(raw)) console.log(k.padEnd(12), [q(v, 0), q(v, 0.1), q(v, 0.25), q(v, 0.5)].map((x) => x.toFixed(0).padStart(5)).join(""), "   added:", (q(v, 0) - pmin).toFixed(0).padStart(5), (q(v, 0.1) - p10).toFixed(0).padStart(5), (q(v, 0.25) - p25).toFixed(0).padStart(5));
await mf.dispose();

if (process.argv.includes("--write")) {
  const labels = process.env.LABELS ? process.env.LABELS.split(",") : builds;
  const title = { anon: "anonymous", user: "logged in", login: "login" };
  const env = [`BUILDS=${builds.join(",")}`, process.env.LABELS && `LABELS="${process.env.LABELS}"`, process.env.THREADS && `THREADS=${process.env.THREADS}`, process.env.CASES && `CASES=${process.env.CASES}`, process.env.BROWSER === "1" && "BROWSER=1", `N=${N}`, `ROUNDS=${ROUNDS}`].filter(Boolean).join(" ");
  const rows = names.map((g, i) => `| ${labels[i] ?? builds[i]} | ${cases.map((w) => `${(q(raw[`${w} ${g}`], 0) - pmin).toFixed(0)} / ${(q(raw[`${w} ${g}`], 0.1) - p10).toFixed(0)}`).join(" | ")} |`);
  writeSection("gateway-ab", [
    `Measured by \`${env} node bench/gateway-ab.mjs --write\`: what each build adds to the JS pass-through, µs of CPU per request on ${process.env.THREADS === "all" ? "every workerd thread" : "workerd's main thread (where the isolates run)"}, min / p10 of ${ROUNDS} batches of ${N} requests, STORE none.`,
    `Machine: ${started}.`,
    "",
    `| build | ${cases.map((w) => title[w] ?? w).join(" | ")} |`,
    `| --- | ${cases.map(() => "---:").join(" | ")} |`,
    ...rows,
  ].join("\n"));
}
