// Load through the gateway on the local runtime (wrangler dev: workerd, local KV) against the
// same load sent straight to one demo origin, in the same run. 127.0.0.1 only.
//
//   make bench-gateway                 (builds the gateway first)
//   DURATION=20 CONNECTIONS=32 node bench/gateway-load.mjs [--write]
//
// --write puts the table in README.md and docs/gateway.md (between their gateway-load markers).
//
// Each of the CONNECTIONS connections is one visitor with its own affinity cookie (obtained
// before the run); every response's `backend` is checked against the visitor's origin. Fails
// (exit 1) on any error, non-2xx answer or affinity miss.
import { readFileSync } from "node:fs";

import { Gateway, Jar, ROOT, pinnedLoad, startOrigins } from "../tests/e2e/harness.mjs";
import { machine, writeSection } from "./workerd.mjs";

const DURATION = Number(process.env.DURATION || 10);
const CONNECTIONS = Number(process.env.CONNECTIONS || 32);
const WRITE = process.argv.includes("--write");

const run = (title, url, visitors) => pinnedLoad(url, visitors, { connections: CONNECTIONS, duration: DURATION, title });

const wrangler = JSON.parse(readFileSync(`${ROOT}/node_modules/wrangler/package.json`, "utf8")).version;
const measuredOn = `${machine()}; wrangler ${wrangler}`;
const origins = await startOrigins();
const gw = new Gateway(origins);
// The same runtime with a plain JS pass-through worker: what any worker in front costs here.
const passthrough = new Gateway([origins[0]], { main: `${ROOT}/bench/passthrough-worker.js` });
await Promise.all([gw.start(), passthrough.start()]);
try {
  // One visitor per connection, each pinned to its origin by its affinity cookie.
  const visitors = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const jar = new Jar();
    const r = await gw.request("/", jar);
    visitors.push({ cookie: jar.header(), backend: r.body.backend });
  }
  const spread = {};
  for (const v of visitors) spread[v.backend] = (spread[v.backend] || 0) + 1;

  const direct = await run("direct to origin a", origins[0].url, [{}]);
  const plain = await run("plain JS pass-through worker", passthrough.url, [{}]);
  const through = await run("through the gateway", gw.url, visitors);

  const row = (name, r) =>
    `| ${name} | ${Math.round(r.requests.average)} | ${r.latency.p50} | ${r.latency.p99} | ` +
    `${r.requests.total} | ${r.errors + r.timeouts} | ${r.non2xx} | ${r.misses} |`;
  const text = [
    `Measured by \`node bench/gateway-load.mjs\` (\`make bench-gateway\`): autocannon, ${CONNECTIONS} connections, ${DURATION} s per row, GET /bench, 127.0.0.1; through the gateway, visitors per origin ${JSON.stringify(spread)}.`,
    `Machine: ${measuredOn}.`,
    "",
    "| target | requests/s | p50 ms | p99 ms | requests | errors | non-2xx | affinity misses |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    row("origin directly (Node http)", direct),
    row("plain JS pass-through worker (wrangler dev)", plain),
    row("edge-session gateway (wrangler dev)", through),
  ].join("\n");
  console.log(`\n${text}`);
  const bad = [direct, plain, through].reduce((n, r) => n + r.errors + r.timeouts + r.non2xx + r.misses, 0);
  if (bad > 0) {
    console.error(`\nFAIL: ${bad} errors, non-2xx answers or affinity misses`);
    process.exitCode = 1;
  } else if (WRITE) {
    writeSection("gateway-load", text, ["README.md", "docs/gateway.md"]);
  }
} finally {
  await Promise.all([gw.stop(), passthrough.stop()]);
  await Promise.all(origins.map((o) => o.kill()));
}
