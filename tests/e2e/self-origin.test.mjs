// An origin that is the gateway itself (ORIGINS naming one of the worker's own hosts, a Custom
// Domain: a same-zone fetch to one runs the worker again), on the real local runtime (wrangler
// dev): the request that comes back is answered 508 (src/gateway/worker/entry.mjs), where it
// went round until the runtime gave up.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Gateway, Jar } from "./harness.mjs";

test("an origin that is the gateway itself: a 508 after one round, not a loop", { timeout: 120_000 }, async () => {
  // Here the gateway's own address under wrangler dev.
  let gateway;
  const self = { id: "self", get url() { return gateway.url; } };
  gateway = new Gateway([self]);
  await gateway.start();
  try {
    const r = await gateway.request("/anything", new Jar());
    assert.equal(r.status, 508, r.text);
    assert.match(r.text, /came back/);
    await gateway.logged(/a request to an origin came back to this gateway/);
    // Probes come back too: the probe of the origin gets the 508.
    await gateway.cron();
    const again = await gateway.request("/", new Jar());
    assert.equal(again.status, 508, again.text);
  } finally {
    await gateway.stop();
  }
});
