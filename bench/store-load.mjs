// Session reads and writes per second through the gateway on the local runtime (wrangler dev:
// workerd with local KV and Durable Objects), for each store. 127.0.0.1 only.
//
//   make bench-store                   (builds the gateway first)
//   DURATION=20 CONNECTIONS=32 node bench/store-load.mjs [--write]
//
// --write puts the table in docs/store.md (between its store-load markers).
//
// For STORE = none, kv and durable, CONNECTIONS visitors, each with its own stored session
// (created before the run), send:
// - read:  GET /bench: the gateway loads the session (one store read), the origin gets its data;
//          nothing changed, so nothing is written.
// - read, logged in: the same, by visitors who also hold a session token: the gateway checks the
//          token against the user's revocation time first (one more store read).
// - write: GET /set?n=<counter>: one store read, then the origin's patch is written (one store
//          write, compare-and-set for durable).
// With STORE = none the same requests cost no store access (the baseline). Fails (exit 1) on any
// error or non-2xx answer.

import { Gateway, Jar, STORE_BINDINGS, pinnedLoad, startOrigins } from "../tests/e2e/harness.mjs";
import { machine, writeSection } from "./workerd.mjs";

const DURATION = Number(process.env.DURATION || 10);
const CONNECTIONS = Number(process.env.CONNECTIONS || 32);
const WRITE = process.argv.includes("--write");
const started = machine();

// Each visitor (its Cookie header) reads, or writes a new value with each request.
let counter = 0;
const run = (url, visitors, write, duration = DURATION) =>
  pinnedLoad(
    url,
    visitors.map((cookie) => ({ cookie })),
    { connections: CONNECTIONS, duration, path: write ? () => `/set?n=${counter++}` : undefined },
  );

const origins = await startOrigins(["a"]);
const rows = [];
let bad = 0;
try {
  for (const store of ["none", "kv", "durable"]) {
    const gw = new Gateway(origins, { vars: { STORE: store }, toml: STORE_BINDINGS });
    await gw.start();
    try {
      // One stored session per visitor; the users are logged in as well.
      const visitors = [];
      const users = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        for (const [list, login] of [[visitors, false], [users, true]]) {
          const jar = new Jar();
          if (login) await gw.request(`/login?user=user-${i}`, jar);
          const r = await gw.request(`/set?visitor=${i}`, jar);
          if (store !== "none" && !jar.cookies.get("__Host-sid")) throw new Error(`no session: ${r.text}`);
          if (login && !jar.cookies.get("__Host-session")) throw new Error(`no login: ${r.text}`);
          list.push(jar.header());
        }
      }
      // Warm-up (not measured): the runtime compiles the worker's code on first use.
      await run(gw.url, visitors, false, 3);
      for (const [what, who, write] of [
        ["read", visitors, false],
        ["read, logged in", users, false],
        ["read + write", visitors, true],
      ]) {
        const r = await run(gw.url, who, write);
        bad += r.errors + r.timeouts + r.non2xx;
        rows.push(
          `| ${store} | ${what} | ${Math.round(r.requests.average)} | ` +
            `${r.latency.p50} | ${r.latency.p99} | ${r.requests.total} | ${r.errors + r.timeouts} | ${r.non2xx} |`,
        );
      }
    } finally {
      await gw.stop();
    }
  }
} finally {
  await Promise.all(origins.map((o) => o.kill()));
}
const text = [
  `Measured by \`node bench/store-load.mjs --write\` (\`make bench-store\`): ${CONNECTIONS} connections (one stored session each), ${DURATION} s per row after a 3 s warm-up, 127.0.0.1, wrangler dev.`,
  `Machine: ${started}.`,
  "",
  "| STORE | per request | requests/s | p50 ms | p99 ms | requests | errors | non-2xx |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows,
].join("\n");
console.log(`\n${text}`);
if (bad > 0) {
  console.error(`\nFAIL: ${bad} errors or non-2xx answers`);
  process.exitCode = 1;
} else if (WRITE) {
  writeSection("store-load", text, ["docs/store.md"]);
}
