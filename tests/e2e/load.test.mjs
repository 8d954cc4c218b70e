// A bounded load through the gateway on wrangler dev (issue 4): 32 connections, each a visitor
// pinned to its origin by its affinity cookie, for a few seconds. Counts, not times, are
// asserted (the figures are `make bench-gateway`'s, bench/gateway-load.mjs): no error, no
// non-2xx answer, and every answer from the visitor's own origin.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { Gateway, Jar, pinnedLoad, startOrigins } from "./harness.mjs";

const CONNECTIONS = 32;
const DURATION = 3;
let origins;
let gw;

before(async () => {
  origins = await startOrigins();
  gw = new Gateway(origins);
  await gw.start();
});

after(async () => {
  await gw?.stop();
  await Promise.all((origins ?? []).map((o) => o.kill()));
});

test("32 visitors at once for a few seconds: no error, no non-2xx answer, every visitor kept on its origin", async () => {
  const visitors = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const jar = new Jar();
    const r = await gw.request("/", jar);
    assert.equal(r.status, 200);
    visitors.push({ cookie: jar.header(), backend: r.body.backend });
  }
  // New visitors spread over the origins (three, equal weights).
  assert.equal(new Set(visitors.map((v) => v.backend)).size, origins.length);
  const result = await pinnedLoad(gw.url, visitors, { connections: CONNECTIONS, duration: DURATION });
  console.log(
    `through the gateway: ${result.requests.total} requests, ${Math.round(result.requests.average)}/s, ` +
      `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms (figures: make bench-gateway)`,
  );
  assert.equal(result.errors, 0, "connection errors");
  assert.equal(result.timeouts, 0, "timeouts");
  assert.equal(result.non2xx, 0, "non-2xx answers");
  assert.equal(result.misses, 0, "answers from another origin than the visitor's");
  // Every connection was served, more than once: the run did load the gateway.
  assert.ok(result.requests.total >= 2 * CONNECTIONS, `${result.requests.total} requests`);
});
