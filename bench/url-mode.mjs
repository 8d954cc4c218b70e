// What URL mode (AFFINITY_MODE = "url") costs on an HTML page, by its number of links, inside
// workerd: the gateway rewrites every link of an HTML answer as it streams, with workerd's
// `HTMLRewriter` calling back into the worker for each element it selects.
//
//   make gateway && node bench/url-mode.mjs [--write]      (--write: docs/gateway-cost.md)
//   LINKS=0,100,1000 N=20 ROUNDS=7 node bench/url-mode.mjs
//   GATEWAY=target/gw-other node bench/url-mode.mjs        another gateway build (under the repo)
//   SAME=2 node bench/url-mode.mjs      each URL linked twice in a row (a product's image and title)
//
// One workerd (Miniflare), no network, as bench/gateway-cpu.mjs: a driver worker sends N
// requests for a page through a service binding to the worker measured, whose fetches reach an
// origin worker in-process. The origin's page has LINKS root-relative links (`<li><a
// href="/products/item-7?ref=list">...</a></li>`, 100 bytes each). Each batch is timed from
// outside: the CPU time of every workerd thread until workerd is idle again, per request. The
// workers: the JS pass-through (bench/passthrough-worker.js); a JS `HTMLRewriter` that appends a
// query parameter to every root-relative link, the least a link rewriter does; the gateway in
// cookie mode (the page passes through unrewritten) and in URL mode (the visitor's value in the
// page's URL, as after the gateway's first redirect). "per link" is the slope between the
// largest page and the page without links.
import { Miniflare } from "miniflare";

import { COMPAT, ROOT, gatewayWorker, machine, median, settle, spread, workerdPids, writeSection } from "./workerd.mjs";

const LINKS = (process.env.LINKS || "0,100,1000").split(",").map(Number);
const N = Number(process.env.N || 20);
const ROUNDS = Number(process.env.ROUNDS || 7);
const WRITE = process.argv.includes("--write");
const SAME = Number(process.env.SAME || 1);

const ORIGIN = `
export default {
  async fetch(request) {
    const n = Number(new URL(request.url).searchParams.get("links"));
    let page = "<!doctype html><html><head><title>Products</title></head><body><ul>\\n";
    for (let i = 0; i < n; i++) {
      page += '<li><a href="/products/item-' + Math.floor(i / ${SAME}) + '?ref=list">Product ' + i + ', a longer name to read</a></li>\\n';
    }
    return new Response(page + "</ul></body></html>", { headers: { "content-type": "text/html; charset=utf-8" } });
  },
};
`;

/** GET /run?target=T&path=P&n=N&cookie=C: N requests for P, each answer read; 500 unless every
 * answer was a 200. With first=1, one request whose answer's Location and cookies it returns. */
const DRIVER = `
export default {
  async fetch(request, env) {
    const q = new URL(request.url).searchParams;
    const target = env[q.get("target")];
    const init = { headers: { cookie: q.get("cookie") || "", accept: "text/html" }, redirect: "manual" };
    const url = "https://gateway.example" + q.get("path");
    if (q.get("first") === "1") {
      const res = await target.fetch(url, init);
      await res.arrayBuffer();
      return Response.json({ status: res.status, location: res.headers.get("location"), cookies: res.headers.getSetCookie() });
    }
    let bytes = 0;
    for (let i = 0, n = Number(q.get("n")); i < n; i++) {
      const res = await target.fetch(url, init);
      bytes += (await res.arrayBuffer()).byteLength;
      if (res.status !== 200) return new Response(url + ": " + res.status, { status: 500 });
    }
    return new Response(String(bytes));
  },
};
`;

/** A JS link rewriter: a query parameter appended to every root-relative link. */
const REWRITER = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const answer = await fetch(JSON.parse(env.ORIGINS)[0].url + url.pathname + url.search);
    const link = { element(el) {
      const href = el.getAttribute("href");
      if (href.startsWith("/") && !href.startsWith("//")) el.setAttribute("href", href + (href.includes("?") ? "&" : "?") + "_es=0123456789abcdef");
    } };
    return new HTMLRewriter().on("a[href]", link).transform(answer);
  },
};
`;

const ORIGINS = JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]);
const WORKERS = [
  ["passthrough", "pass-through worker (JS)"],
  ["rewriter", "link rewriter (JS HTMLRewriter)"],
  ["gw_cookie", "gateway, AFFINITY_MODE=cookie"],
  ["gw_url", "gateway, AFFINITY_MODE=url"],
];

const mf = new Miniflare({
  workers: [
    { name: "driver", modules: true, script: DRIVER, compatibilityDate: COMPAT, serviceBindings: Object.fromEntries(WORKERS.map(([w]) => [w, w])) },
    { name: "origin", modules: true, script: ORIGIN, compatibilityDate: COMPAT },
    { name: "passthrough", modules: true, scriptPath: `${ROOT}/bench/passthrough-worker.js`, compatibilityDate: COMPAT, bindings: { ORIGINS }, outboundService: "origin" },
    { name: "rewriter", modules: true, script: REWRITER, compatibilityDate: COMPAT, bindings: { ORIGINS }, outboundService: "origin" },
    gatewayWorker("gw_cookie", "none", "origin", process.env.GATEWAY || "build"),
    gatewayWorker("gw_url", "none", "origin", process.env.GATEWAY || "build", { AFFINITY_MODE: "url" }),
  ],
});

const run = (q) => mf.dispatchFetch(`http://driver.internal/run?${new URLSearchParams(q)}`);

/** The CPU time (ms) per request of a batch of N. */
async function batch(target, path, cookie, pids) {
  const cpu0 = await settle(pids);
  const res = await run({ target, path, cookie, n: String(N) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${target}: ${text}`);
  return ((await settle(pids)) - cpu0) / N / 1e6;
}

/** Where a worker's visitor asks for the page of `links`: the path (with the value the gateway
 * redirected to, in URL mode) and the cookies it set. */
async function visitor(target, links) {
  const path = `/products?links=${links}`;
  const first = await (await run({ target, path, first: "1" })).json();
  const cookie = first.cookies.map((c) => c.split(";")[0]).join("; ");
  if (target === "gw_url") {
    const to = first.location && new URL(first.location, "https://gateway.example");
    if (first.status !== 302 || !to?.searchParams.get("_es")) throw new Error(`gw_url: no redirect to a value: ${JSON.stringify(first)}`);
    return { path: to.pathname + to.search, cookie };
  }
  if (first.status !== 200) throw new Error(`${target}: ${JSON.stringify(first)}`);
  return { path, cookie };
}

try {
  await mf.ready;
  const pids = workerdPids();
  if (pids.length === 0) throw new Error("no workerd process found under this one");
  const started = machine();
  const cases = [];
  for (const links of LINKS) {
    for (const [target] of WORKERS) cases.push({ target, links, ...(await visitor(target, links)) });
  }
  // The gateway's URL mode did rewrite: a link of the largest page carries the value.
  const big = cases.find((c) => c.target === "gw_url" && c.links === Math.max(...LINKS));
  const page = await (await mf.dispatchFetch(`http://driver.internal/run?${new URLSearchParams({ target: "gw_url", path: big.path, first: "1" })}`)).json();
  if (page.status !== 200) throw new Error(`gw_url: ${JSON.stringify(page)}`);
  for (const c of cases) await batch(c.target, c.path, c.cookie, pids);
  const cpu = cases.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, c] of cases.entries()) cpu[i].push(await batch(c.target, c.path, c.cookie, pids));
    process.stdout.write(`round ${r + 1}/${ROUNDS}\r`);
  }

  const cell = (xs) => `${median(xs).toFixed(2)} (${spread(xs).map((x) => x.toFixed(2)).join("–")})`;
  const at = (target, links) => cpu[cases.findIndex((c) => c.target === target && c.links === links)];
  const [lo, hi] = [Math.min(...LINKS), Math.max(...LINKS)];
  const slope = (target) => ((median(at(target, hi)) - median(at(target, lo))) * 1000) / (hi - lo);
  const rows = [
    `| workerd CPU per page, ms | ${LINKS.map((l) => `${l} links`).join(" | ")} | per link, µs |`,
    `| --- | ${LINKS.map(() => "---:").join(" | ")} | ---: |`,
    ...WORKERS.map(([target, label]) => `| ${label} | ${LINKS.map((l) => cell(at(target, l))).join(" | ")} | ${slope(target).toFixed(1)} |`),
  ];
  const text = [
    `Measured by \`${SAME > 1 ? `SAME=${SAME} ` : ""}node bench/url-mode.mjs\` (\`make bench-gateway\`): pages of ${LINKS.join(", ")} links (about 100 bytes each, ${SAME > 1 ? `each URL ${SAME} times in a row` : "each to another URL"}), ${N} requests per batch, ${ROUNDS} rounds; the CPU time of every workerd thread per request, median (min–max over rounds); "per link" is the slope of the medians between ${lo} and ${hi} links.`,
    `Machine: ${started}.`,
    "",
    ...rows,
    "",
    // The Workers Free plan's limit (developers.cloudflare.com/workers/platform/limits/).
    `At these rates, a page reaches the Workers Free plan's 10 ms of CPU per request at about ${Math.round((10_000 - median(at("gw_url", lo)) * 1000) / slope("gw_url") / 10) * 10} links in URL mode (${Math.round((10_000 - median(at("rewriter", lo)) * 1000) / slope("rewriter") / 10) * 10} with the JS rewriter alone); the Paid plan's default is 30 s.`,
  ].join("\n");
  console.log(text);
  if (WRITE) writeSection("url-mode", text);
} finally {
  await mf.dispose();
}
