// URL mode (AFFINITY_MODE = "url") and pages its rewriter must leave alone, in workerd through
// Miniflare: wrangler dev's own proxy, which the other URL-mode tests go through, never answers
// a page in a charset it cannot read (an unknown label, UTF-16), whatever the gateway does.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { createServer } from "node:http";
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

test("markup the page's handlers never see keeps the value from other sites: an <iframe srcdoc> goes, a <noscript>'s content is rewritten", async () => {
  // Before, an <iframe srcdoc>'s document (whose requests send the page's URL, value included, as
  // their Referer) could ask for a weaker referrer policy, and so could a <noscript>'s content in
  // a browser without scripts, or ping another site: the rewriter read neither.
  const markup = [
    '<a id="next" href="/next">next</a>',
    '<iframe id="doc" src="/framed" srcdoc="<meta name=&quot;referrer&quot; content=&quot;unsafe-url&quot;><img src=&quot;https://example.org/i.png&quot;>"></iframe>',
    '<noscript><meta name="referrer" content="unsafe-url"><img src="https://example.org/n.png" referrerpolicy="unsafe-url">',
    '<a href="https://example.org/" ping="https://example.org/p /track">x</a><iframe srcdoc="<b>x</b>"></iframe><base href="https://example.org/"></noscript>',
    // Markup workerd's HTMLRewriter cannot read (strict: an unclosed <select> before a <style>):
    // written as text.
    '<noscript><select><style>x</style><img src="https://example.org/s.png" referrerpolicy="unsafe-url"></noscript>',
  ].join("\n");
  const own = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html><body>${markup}</body></html>`);
  });
  await new Promise((ok) => own.listen(0, "127.0.0.1", ok));
  const gw = new Miniflare(gatewayOptions({ ORIGINS: JSON.stringify([{ id: "a", url: `http://127.0.0.1:${own.address().port}` }]), AFFINITY_MODE: "url" }));
  try {
    const get = (url) => gw.dispatchFetch(new URL(url, "https://app.example/"), { redirect: "manual", headers: { accept: "text/html" } });
    const arrival = await get("/page");
    await arrival.text();
    const res = await get(arrival.headers.get("location"));
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.match(body, /<a id="next" href="\/next\?_es=[^"]+">/);
    assert.match(body, /<iframe id="doc" src="\/framed\?_es=[^"]+"><\/iframe>/, "the srcdoc goes, the src carries the value");
    const [first, second] = [...body.matchAll(/<noscript>([\s\S]*?)<\/noscript>/g)].map((m) => m[1]);
    assert.equal(
      first,
      '<meta name="referrer" content="same-origin"><img src="https://example.org/n.png" referrerpolicy="same-origin">\n' +
        '<a href="https://example.org/" ping="/track">x</a><iframe></iframe>&lt;base href="https://example.org/">',
    );
    assert.equal(second, '&lt;select>&lt;style>x&lt;/style>&lt;img src="https://example.org/s.png" referrerpolicy="unsafe-url">');
  } finally {
    await gw.dispose();
    own.close();
  }
});
