// A new instance of the gateway (workerd through Miniflare, which can start one afresh on the
// same KV: `setOptions`) reads the shared health snapshot before it routes its first request. It
// read it after, beside the answer, so the first requests of every new instance went to origins
// every other instance knew were down: a POST a new visitor sent there got a 503. Then only the
// first request waited for the read; the others that came while it was under way did not.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { gatewayOptions, startOrigins } from "./harness.mjs";

const [live] = await startOrigins(["b"]);
const kvPersist = mkdtempSync(join(tmpdir(), "edge-cold-kv-"));
after(async () => {
  await live.kill();
  rmSync(kvPersist, { recursive: true, force: true });
});

test("a new instance routes its first request by the shared health: a POST never reaches the origin the cron found down", async () => {
  const options = gatewayOptions(
    {
      // Nothing listens on port 1: a request sent to origin a fails there.
      ORIGINS: JSON.stringify([
        { id: "a", url: "http://127.0.0.1:1", weight: 1 },
        { id: "b", url: live.url, weight: 1 },
      ]),
    },
    { kvNamespaces: ["EDGE_HEALTH"], kvPersist },
  );
  const mf = new Miniflare(options);
  try {
    await mf.ready;
    // What the cron of another instance wrote: a down, b up.
    const snapshot = {
      checked_at: Math.floor(Date.now() / 1000),
      origins: {
        a: { healthy: false, error: "connection refused", ms: 1 },
        b: { healthy: true, status: 200, ms: 1 },
      },
    };
    await (await mf.getKVNamespace("EDGE_HEALTH")).put("health:v1", JSON.stringify(snapshot));
    // Each round a new instance, whose first request is a new visitor's POST: half of them
    // would be placed on a were the snapshot not read first (1 in 4096 that none of 12 is).
    const statuses = [];
    for (let round = 0; round < 12; round++) {
      await mf.setOptions(options);
      const res = await mf.dispatchFetch("http://gateway.test/form", { method: "POST", body: "x=1" });
      await res.text();
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, Array(12).fill(200));
    // A busy site's new instance gets many requests at once: each waits for that one read. Only
    // the first waited; the others, routed while the read was under way, went to a (a 502).
    const concurrent = [];
    for (let round = 0; round < 6; round++) {
      await mf.setOptions(options);
      const answers = await Promise.all(
        Array.from({ length: 16 }, () => mf.dispatchFetch("http://gateway.test/form", { method: "POST", body: "x=1" })),
      );
      for (const res of answers) {
        await res.text();
        concurrent.push(res.status);
      }
    }
    assert.deepEqual(concurrent, Array(96).fill(200));
  } finally {
    await mf.dispose();
  }
});
