// An origin that is the gateway itself (ORIGINS naming one of the worker's own hosts, a Custom
// Domain: a same-zone fetch to one runs the worker again), on the real local runtime (wrangler
// dev): the request that comes back is answered 508 (src/gateway/worker/entry.mjs), where it
// went round until the runtime gave up.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { Gateway, Jar, startOrigins } from "./harness.mjs";

/** The `x-session-hop` a gateway keyed with `keys` sends to `url` (entry.mjs). */
function hopFor(keys, url) {
  const tag = createHash("sha256").update(`edge-session/hop\n${JSON.stringify(keys)}`).digest().subarray(0, 16).toString("base64url");
  let h = 0x811c9dc5;
  for (let i = 0; i < url.length; i++) h = Math.imul(h ^ url.charCodeAt(i), 0x01000193);
  return `${tag}.${(h >>> 0).toString(16).padStart(8, "0")}`;
}

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
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    await gateway.logged(/a request to an origin came back to this gateway/);
    // Probes come back too: the probe of the origin gets the 508.
    await gateway.cron();
    const again = await gateway.request("/", new Jar());
    assert.equal(again.status, 508, again.text);
  } finally {
    await gateway.stop();
  }
});

test("x-session-hop: the origin gets the tag of the URL it was sent; only that tag at that URL is a loop", { timeout: 120_000 }, async () => {
  const origins = await startOrigins(["a"]);
  const gateway = new Gateway(origins);
  await gateway.start();
  try {
    const keys = gateway.secrets.SESSION_KEYS;
    const r = await gateway.request("/headers?x=1", new Jar());
    assert.equal(r.status, 200, r.text);
    const sent = r.body.headers["x-session-hop"];
    assert.equal(sent, hopFor(keys, `${origins[0].url}/headers?x=1`));
    assert.equal(sent.length, 31); // pipeline.rs HOP_HEADER_BYTES
    // An origin that passes its request's headers on to another page of the site: no loop.
    const passed = await gateway.request("/headers?x=2", new Jar(), { headers: { "x-session-hop": sent } });
    assert.equal(passed.status, 200, passed.text);
    // The tag of the gateway's own URL there: it came back.
    const url = `${gateway.url}/headers?x=3`;
    const back = await gateway.request("/headers?x=3", new Jar(), { headers: { "x-session-hop": hopFor(keys, url) } });
    assert.equal(back.status, 508, back.text);
  } finally {
    await gateway.stop();
    await Promise.all(origins.map((o) => o.kill()));
  }
});
