// Affinity route() throughput from JavaScript, for 10 and 100 backends, in the cases that
// matter: a returning visitor with a valid cookie (the common case), a new visitor (rendezvous
// choice + a signed value + Set-Cookie), a value to refresh, and the hashing modes.
// Run: make pkg-node && node bench/affinity.mjs [--write]   (the release build; a --dev build is
// ~10x slower). --write puts the table into docs/affinity.md and its common case into README.md.
import { createRequire } from "node:module";
import { opsPerSecond, fmt, table } from "./harness.mjs";
import { machine, writeSection } from "./workerd.mjs";

const require = createRequire(import.meta.url);
const { Affinity } = require("../pkg-node/edge_session.js");

const secret = Buffer.from(new Uint8Array(32).map((_, i) => i + 1)).toString("base64url");
const now = 1800000000;
const seconds = Number(process.env.BENCH_SECONDS ?? 1);

const backends = (n, weighted) =>
  Array.from({ length: n }, (_, i) => ({ id: `backend-${i}`, weight: weighted ? 1 + (i % 3) : 1 }));

const started = machine().replace(/; Miniflare [^;]*/, "");
const rows = [["route() from JS, ops/s", "10 backends", "100 backends"]];
const cases = {
  "cookie, returning visitor": (a) => {
    const cookie = `theme=dark; ${a.route({ now }).setCookie.split(";")[0]}`;
    return () => a.route({ cookie, now: now + 60 });
  },
  "cookie, refresh due (> idle/2)": (a) => {
    const cookie = a.route({ now }).setCookie.split(";")[0];
    return () => a.route({ cookie, now: now + 1000 });
  },
  "cookie, new visitor": (a) => () => a.route({ now }),
  "url, returning visitor": (a, n) => {
    const url = new Affinity({ secret, mode: "url", backends: backends(n) }).route({ url: "https://app.example/p?x=1", now }).url;
    const u = new Affinity({ secret, mode: "url", backends: backends(n) });
    return () => u.route({ url, now: now + 60 });
  },
  "ip": (_, n) => {
    const ip = new Affinity({ secret, mode: "ip", backends: backends(n) });
    let i = 0;
    return () => ip.route({ clientIp: `10.0.${(i >> 8) & 255}.${i++ & 255}`, now });
  },
  "header, weighted 1:2:3": (_, n) => {
    const h = new Affinity({ secret, mode: "header", backends: backends(n, true) });
    let i = 0;
    return () => h.route({ header: `tenant-${i++ & 4095}`, now });
  },
};

for (const [name, make] of Object.entries(cases)) {
  const row = [name];
  for (const n of [10, 100]) {
    const a = new Affinity({ secret, backends: backends(n) });
    row.push(fmt(await opsPerSecond(make(a, n), { seconds })));
  }
  rows.push(row);
}
table(rows);

if (process.argv.includes("--write")) {
  const [head, ...body] = rows;
  const md = (r) => `| ${r.join(" | ")} |`;
  writeSection(
    "affinity",
    [
      `Measured by \`node bench/affinity.mjs --write\` (\`make bench\`) in Node on the release build (\`make pkg-node\`): operations per second, the best of 3 rounds of ${seconds} s each.`,
      `Machine: ${started}.`,
      "",
      md(head),
      md(head.map((_, i) => (i === 0 ? "---" : "---:"))),
      ...body.map(md),
    ].join("\n"),
    ["docs/affinity.md"],
  );
  const [, common] = rows;
  writeSection(
    "affinity",
    `\`route()\` from JS: ${common[1]}/s for a returning cookie visitor with 10 backends, ${common[2]}/s with 100 (Node ${process.version}, \`node bench/affinity.mjs --write\`); the other cases in [docs/affinity.md](docs/affinity.md).`,
    ["README.md"],
  );
}
