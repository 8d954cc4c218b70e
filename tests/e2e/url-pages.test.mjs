// URL mode (AFFINITY_MODE = "url") and pages its rewriter must leave alone, in workerd through
// Miniflare: wrangler dev's own proxy, which the other URL-mode tests go through, never answers
// a page in a charset it cannot read (an unknown label, UTF-16), whatever the gateway does.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { gatewayOptions, startOrigins } from "./harness.mjs";

let origin, mf;
before(async () => {
  [origin] = await startOrigins(["a"]);
  mf = new Miniflare(gatewayOptions({ ORIGINS: JSON.stringify([{ id: "a", url: origin.url, weight: 1 }]), AFFINITY_MODE: "url" }));
  await mf.ready;
});
after(async () => {
  await mf?.dispose();
  await origin?.kill();
});

/** A new visitor's page load of demo-origin's /links answered as `type`: the page it gets. */
const page = async (type) => {
  const get = (url) => mf.dispatchFetch(new URL(url, "https://app.example/"), { redirect: "manual", headers: { accept: "text/html" } });
  const arrival = await get(`/links?n=1&h=${encodeURIComponent(`content-type:${type}`)}`);
  await arrival.text();
  assert.equal(arrival.status, 302, type);
  const res = await get(arrival.headers.get("location"));
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
};

test("a page in a charset the rewriter cannot read, or XHTML, goes as the origin sent it, its links without the value", async () => {
  // Before, such a charset made the gateway's 500 (workerd's HTMLRewriter refuses it once it
  // has taken the body), and XHTML, which a browser parses as XML, was rewritten as HTML.
  for (const type of ["text/html; charset=utf-16le", "text/html; charset=x-unknown", "application/xhtml+xml"]) {
    const got = await page(type);
    assert.equal(got.status, 200, `${type}: ${got.body}`);
    assert.equal(got.type, type);
    assert.ok(got.body.includes('<a id="relative" href="links?n=2&amp;kind=relative">'), `${type}: ${got.body}`);
    assert.ok(!got.body.includes("_es"), type);
  }
  // A charset it reads is rewritten.
  const read = await page('text/html; charset="Shift_JIS"');
  assert.match(read.body, /<a id="relative" href="links\?n=2&amp;kind=relative&_es=[^"]+">/);
});
