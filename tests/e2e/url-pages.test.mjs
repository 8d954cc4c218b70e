// URL mode (AFFINITY_MODE = "url") and pages its rewriter must leave alone, in workerd through
// Miniflare: wrangler dev's own proxy, which the other URL-mode tests go through, never answers
// a page in a charset it cannot read (an unknown label, UTF-16), whatever the gateway does.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { createServer, request } from "node:http";
import { deflateSync } from "node:zlib";
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

test("a <noscript> in a <noscript> and the rest of one past 64 KiB are text, not held", async () => {
  // Before, each nested <noscript> start tag had the rest of the content read again by another
  // rewriter (2,000 of them in 20 KB: 20 s of CPU, hundreds of MB), and a <noscript>'s content
  // was held whole (an unclosed one: the rest of the page, however large, nothing sent
  // meanwhile; its streaming is measured inside workerd, where Miniflare's dispatchFetch, which
  // this test reads through, does not stream).
  const link = '<a href="https://example.org/" ping="https://example.org/p">x</a>';
  const pages = {
    "/nested": `<!doctype html><body><noscript>${"<noscript>".repeat(2000)}${link}</noscript>`,
    "/long": `<!doctype html><body><noscript>${"<p>filler</p>".repeat(6000)}${link}</noscript><a id="after" href="/after">after</a>`,
  };
  const own = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(pages[req.url.split("?")[0]]);
  });
  await new Promise((ok) => own.listen(0, "127.0.0.1", ok));
  const gw = new Miniflare(gatewayOptions({ ORIGINS: JSON.stringify([{ id: "a", url: `http://127.0.0.1:${own.address().port}` }]), AFFINITY_MODE: "url" }));
  try {
    const get = async (path) => {
      const headers = { accept: "text/html" };
      const arrival = await gw.dispatchFetch(new URL(path, "https://app.example/"), { redirect: "manual", headers });
      await arrival.text();
      const res = await gw.dispatchFetch(new URL(arrival.headers.get("location"), "https://app.example/"), { headers });
      return res.text();
    };
    const escaped = '&lt;a href="https://example.org/" ping="https://example.org/p">x&lt;/a>';
    const nested = await get("/nested");
    const inner = nested.slice(nested.indexOf("<noscript>") + "<noscript>".length, nested.lastIndexOf("</noscript>"));
    // The first level is rewritten (its start tags are the next level's), the rest is text.
    assert.ok(inner.startsWith("<noscript>&lt;noscript>&lt;noscript>"), inner.slice(0, 80));
    assert.ok(inner.endsWith(escaped), inner.slice(-120));
    const long = await get("/long");
    assert.ok(long.includes("&lt;p>filler&lt;/p>"), "past 64 KiB, the content is text");
    assert.ok(long.includes(`${escaped}</noscript>`), long.slice(-300));
    assert.match(long, /<a id="after" href="\/after\?_es=[^"]+">/);
  } finally {
    await gw.dispose();
    own.close();
  }
});

test("links as HTML writes them, MathML the rewriter reads otherwise, a charset only the markup names, a deflated page: each rewritten as a browser reads it, or left as sent", async () => {
  // Before: the `#` of `&#39;` was taken for the fragment's (the value went into what a browser
  // reads as the fragment, the query cut there); an <img> a browser reads after a <style> in a
  // MathML <mglyph> kept its referrer policy; a windows-1252 page named so by its <meta> alone
  // had its rewritten links' other characters replaced; a deflated page was rewritten compressed.
  const latin = Buffer.from('<!doctype html><meta charset="windows-1252"><a id="c" href="/caf\xe9?q=\xe9">caf\xe9</a>', "latin1");
  const deflated = deflateSync('<!doctype html><a id="d" href="/next">next</a>', { level: 0 });
  const pages = {
    "/refs": [
      { "content-type": "text/html; charset=utf-8" },
      '<a id="q" href="/search?q=O&#39;Brien&amp;page=2">q</a><a id="h" href="/p?a=1&#35;top">h</a>' +
        '<math><mi><mglyph><style><img src="https://example.org/m.png" referrerpolicy="unsafe-url"></style></mglyph></mi></math>' +
        '<a id="after" href="/after">after</a>',
    ],
    "/latin": [{ "content-type": "text/html" }, latin],
    "/deflated": [{ "content-type": "text/html", "content-encoding": "deflate" }, deflated],
  };
  const own = createServer((req, res) => {
    const [headers, body] = pages[new URL(req.url, "http://o").pathname];
    res.writeHead(200, headers);
    res.end(body);
  });
  await new Promise((ok) => own.listen(0, "127.0.0.1", ok));
  const gw = new Miniflare(gatewayOptions({ ORIGINS: JSON.stringify([{ id: "a", url: `http://127.0.0.1:${own.address().port}` }]), AFFINITY_MODE: "url" }));
  try {
    const base = await gw.ready;
    // The page's bytes as a client that asks for no coding gets them.
    const bytes = (path) =>
      new Promise((ok, fail) =>
        request(new URL(path, base), { headers: { accept: "text/html", "accept-encoding": "identity" } }, (res) => {
          const parts = [];
          res.on("data", (d) => parts.push(d));
          res.on("end", () => ok({ status: res.statusCode, location: res.headers.location, body: Buffer.concat(parts) }));
        })
          .on("error", fail)
          .end(),
      );
    const visit = async (path) => {
      const arrival = await bytes(path);
      assert.equal(arrival.status, 302, path);
      const value = new URL(arrival.location, "https://app.example/").searchParams.get("_es");
      return { value, ...(await bytes(`${path}?_es=${value}`)) };
    };
    const refs = await visit("/refs");
    const text = refs.body.toString();
    assert.ok(text.includes(`<a id="q" href="/search?q=O&#39;Brien&amp;page=2&_es=${refs.value}">`), text);
    assert.ok(text.includes(`<a id="h" href="/p?a=1&_es=${refs.value}&#35;top">`), text);
    assert.ok(!text.includes("unsafe-url") && !text.includes("m.png"), text);
    assert.ok(text.includes(`<a id="after" href="/after?_es=${refs.value}">`), text);
    const page = await visit("/latin");
    assert.deepEqual(page.body, latin, page.body.toString("latin1"));
    const coded = await visit("/deflated");
    assert.deepEqual(coded.body, deflated);
  } finally {
    await gw.dispose();
    own.close();
  }
});
