// The gateway's cost per request inside workerd, where Workers bill CPU time, against a plain JS
// pass-through worker in the same harness. Everything runs in one workerd (Miniflare), with no
// network and no wrangler dev proxy: a driver worker sends N requests in a row through a service
// binding to the worker measured, whose outgoing fetch reaches an origin worker in-process
// (outboundService). See bench/gateway-cpu-workers.mjs.
//
//   make bench-gateway                  (builds the gateway first)
//   N=200 ROUNDS=7 node bench/gateway-cpu.mjs [--write]
//   BUILDS=build,target/other node bench/gateway-cpu.mjs    compares gateway builds, same run
//   STORES=none,none+EdDSA node bench/gateway-cpu.mjs       only some of the gateway variants
//
// Each round times, for every case, one batch of N requests to the pass-through worker and right
// after it one batch of the case, from outside (Date.now() does not advance inside workerd while
// it computes): the wall time of the batch, and the CPU time every workerd thread used from its
// start until workerd is idle again (/proc/PID/task/*/schedstat; so work left running after the
// answers, waitUntil and store writes, counts). Per request, the gateway's cost = (case batch -
// the pass-through batch just before) / N; the figures are the median over the rounds and
// their spread (min-max). With a store, the batch
// includes the local KV or Durable Object work (SQLite in workerd), which Cloudflare does not
// bill as the worker's CPU time: those rows are an upper bound. --write puts the table in
// docs/gateway-cost.md.
//
// The gateway variants (STORES): STORE = none, kv and durable, and STORE = none with
// ORIGIN_ASSERTION = EdDSA and ES256 (`none+EdDSA`: every forwarded request carries a signed
// assertion; the same visitor's is reused from the gateway's cache while it has most of its life
// left, so a batch's first request signs and the others reuse). For each, the cases:
// - anonymous: a returning visitor without a session (its affinity cookie; with a store, the
//   session-id cookie of a session holding a small cart),
// - logged in: the same plus a session token (compact, claims {"sub":"user-12345","role":"admin"}),
// - login: the origin answers `x-session-issue`: the gateway signs a token, rotates the affinity
//   value and (with a store) gives the session a new id;
// - with ORIGIN_ASSERTION, logged in with a new session each request: every request of the batch
//   is another visitor (its own session, so its own `sid` claim), so none finds its assertion in
//   the cache and every one is signed (WebCrypto Ed25519 or P-256) and kept, evicting another
//   once the cache is full: what a signature costs in a whole request. The sessions are made
//   before the rounds by logins through the same gateway, N for each batch, never reused.
import { Miniflare } from "miniflare";

import { DRIVER, ORIGIN, REWRITE } from "./gateway-cpu-workers.mjs";
import { COMPAT, ROOT, gatewayWorker, machine, median, settle, spread, workerdPids, writeSection } from "./workerd.mjs";

const N = Number(process.env.N || 200);
const ROUNDS = Number(process.env.ROUNDS || 7);
const WRITE = process.argv.includes("--write");
const STORES = (process.env.STORES || "none,none+EdDSA,none+ES256,kv,durable").split(",");
const BUILDS = (process.env.BUILDS || "build").split(",");
// Every gateway worker: [worker name, variant (STORE, or STORE+ORIGIN_ASSERTION), build dir].
const GATEWAYS = BUILDS.flatMap((dir, b) => STORES.map((v) => [`gw_${v.replace("+", "_")}_${b}`, v, dir]));
/** The settings of a variant, and its label in the table. */
function variant(v) {
  const [store, assertion] = v.split("+");
  const vars = assertion ? { ORIGIN_ASSERTION: assertion } : {};
  return { store, vars, label: `STORE=${store}${assertion ? `, ORIGIN_ASSERTION=${assertion}` : ""}` };
}

const started = machine();
const mf = new Miniflare({
  workers: [
    {
      name: "driver",
      modules: true,
      script: DRIVER,
      compatibilityDate: COMPAT,
      serviceBindings: Object.fromEntries([...GATEWAYS.map(([n]) => [n, n]), ["passthrough", "passthrough"], ["rewrite", "rewrite"]]),
    },
    ...GATEWAYS.map(([n, v, dir]) => gatewayWorker(n, variant(v).store, "origin", dir, variant(v).vars)),
    {
      name: "passthrough",
      modules: true,
      scriptPath: `${ROOT}/bench/passthrough-worker.js`,
      compatibilityDate: COMPAT,
      bindings: { ORIGINS: JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]) },
      outboundService: "origin",
    },
    {
      name: "rewrite",
      modules: true,
      script: REWRITE,
      compatibilityDate: COMPAT,
      bindings: { ORIGINS: JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]) },
      outboundService: "origin",
    },
    { name: "origin", modules: true, script: ORIGIN, compatibilityDate: COMPAT },
  ],
});

/** Runs n requests to `target` inside workerd; returns the wall time (ns) until the driver's
 * answer, the workerd CPU time (ns) until workerd is idle again, and the last answer. Fails
 * unless every answer was a 200. */
async function batch(target, path, cookie, n, pids, { collect = false } = {}) {
  // `cookie`: one Cookie header for every request, or a function giving the batch's list of n.
  const each = typeof cookie === "function" ? cookie() : undefined;
  const q = new URLSearchParams({ target, path, n: String(n), cookie: each ? "" : cookie || "", collect: collect ? "1" : "" });
  const cpu0 = await settle(pids);
  const t0 = process.hrtime.bigint();
  const res = await mf.dispatchFetch(`http://driver.internal/run?${q}`, each ? { method: "POST", body: JSON.stringify(each) } : {});
  const out = await res.json();
  const wall = Number(process.hrtime.bigint() - t0);
  const cpu = (await settle(pids)) - cpu0;
  if (out.statuses[200] !== n) throw new Error(`${target} ${path}: ${JSON.stringify(out)}`);
  return { wall, cpu, last: out.last, all: out.all };
}

const cookieHeader = (setCookies) => setCookies.map((c) => c.split(";")[0]).join("; ");
const merge = (a, b) => {
  const jar = new Map([...a.split("; "), ...b.split("; ")].filter(Boolean).map((p) => [p.split("=")[0], p]));
  return [...jar.values()].join("; ");
};

try {
  await mf.ready;
  const pids = workerdPids();
  if (pids.length === 0) throw new Error("no workerd process found under this one");

  // The visitors' cookies, from the gateways themselves.
  const cases = [
    { name: "pass-through worker (JS)", target: "passthrough", path: "/", cookie: "" },
    { name: "header-rewriting proxy (JS, no sessions)", target: "rewrite", path: "/", cookie: "" },
  ];
  for (const [target, v, dir] of GATEWAYS) {
    const { store, label: settings } = variant(v);
    const label = `${settings}${BUILDS.length > 1 ? ` (${dir})` : ""}`;
    const first = await batch(target, store === "none" ? "/" : "/cart/add", "", 1, pids);
    const anon = cookieHeader(first.last.cookies);
    if (store !== "none" && !anon.includes("__Host-sid=")) throw new Error(`${target}: no session id: ${anon}`);
    const login = await batch(target, "/login", anon, 1, pids);
    const user = merge(anon, cookieHeader(login.last.cookies));
    if (!user.includes("__Host-session=")) throw new Error(`${target}: login failed: ${JSON.stringify(login.last)}`);
    const check = await batch(target, "/", user, 1, pids);
    if (!check.last.body.includes('"valid"')) throw new Error(`${target}: session not valid: ${check.last.body}`);
    const asserted = check.last.body.includes('"assertion":true');
    if (asserted !== v.includes("+")) throw new Error(`${target}: assertion ${asserted}: ${check.last.body}`);
    cases.push(
      { name: `anonymous, ${label}`, target, path: "/", cookie: anon },
      { name: `logged in, ${label}`, target, path: "/", cookie: user },
      { name: `login, ${label}`, target, path: "/login", cookie: anon },
    );
    if (asserted) {
      // N sessions for each batch of the warm-up and the rounds, each used once.
      const logins = await batch(target, "/login", anon, N * (ROUNDS + 1), pids, { collect: true });
      const users = logins.all.map((set) => merge(anon, cookieHeader(set)));
      if (new Set(users).size !== users.length || !users.every((u) => u.includes("__Host-session="))) {
        throw new Error(`${target}: the logins did not give ${users.length} distinct sessions`);
      }
      let next = 0;
      const fresh = () => {
        if (next + N > users.length) throw new Error(`${target}: out of fresh sessions`);
        next += N;
        return users.slice(next - N, next);
      };
      cases.push({ name: `logged in, a new session each request (a signature each), ${label}`, target, path: "/", cookie: fresh });
    }
  }

  // Warm-up: one batch of every case (JIT tiers, lazily initialised state).
  for (const c of cases) {
    const w = await batch(c.target, c.path, c.cookie, N, pids);
    if (typeof c.cookie === "function" && !w.last.body.includes('"valid"')) throw new Error(`${c.name}: not valid: ${w.last.body}`);
  }

  // samples[i]: the case's batches; added[i]: minus the pass-through batch just before it.
  const samples = cases.map(() => ({ wall: [], cpu: [] }));
  const added = cases.map(() => ({ wall: [], cpu: [] }));
  const us = (ns) => ns / N / 1000;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, c] of cases.entries()) {
      const base = await batch(cases[0].target, cases[0].path, cases[0].cookie, N, pids);
      const x = i === 0 ? base : await batch(c.target, c.path, c.cookie, N, pids);
      samples[i].wall.push(us(x.wall));
      samples[i].cpu.push(us(x.cpu));
      added[i].wall.push(us(x.wall - base.wall));
      added[i].cpu.push(us(x.cpu - base.cpu));
    }
    process.stdout.write(`round ${r + 1}/${ROUNDS}\r`);
  }

  const f = (x) => x.toFixed(0);
  const range = (xs) => spread(xs).map(f).join("–");
  const rows = [
    "| per request, µs | wall | (spread) | workerd CPU | (spread) | gateway adds, wall | (spread) | gateway adds, CPU | (spread) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  cases.forEach((c, i) => {
    const s = samples[i];
    const addWall = added[i].wall;
    const addCpu = added[i].cpu;
    const extra = i === 0 ? "| | | | " : `| ${f(median(addWall))} | ${range(addWall)} | ${f(median(addCpu))} | ${range(addCpu)} `;
    rows.push(`| ${c.name} | ${f(median(s.wall))} | ${range(s.wall)} | ${f(median(s.cpu))} | ${range(s.cpu)} ${extra}|`);
  });
  const text = [
    `Measured by \`node bench/gateway-cpu.mjs\` (\`make bench-gateway\`): ${N} requests per batch, ${ROUNDS} rounds, medians and spread (min–max over rounds).`,
    `Machine: ${started}.`,
    "",
    ...rows,
  ].join("\n");
  console.log(text);
  if (WRITE) writeSection("gateway-cpu", text);
} finally {
  await mf.dispose();
}
