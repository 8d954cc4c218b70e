// The gateway's URL mode (AFFINITY_MODE = "url", issue 16) on the real local runtime (wrangler
// dev) with three demo origins: a client that keeps no cookies at all browses by following the
// links of the pages it gets (scripts/demo-origin.mjs /links: absolute, root-relative, relative,
// protocol-relative, a redirect, a GET form), as a cookie-less webview would.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Gateway, startOrigins } from "./harness.mjs";

const HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const PARAM = "_es";

let origins, gw;
before(async () => {
  origins = await startOrigins(["a", "b", "c"]);
  // AFFINITY_COOKIE is a setting of cookie mode only: warned of as ignored (the test below).
  // Every line the gateway logs, console.log and console.info too (the URL's value in none).
  gw = new Gateway(origins, { vars: { AFFINITY_MODE: "url", AFFINITY_COOKIE: "__Host-aff" }, logLevel: "log" });
  await gw.start();
});
after(async () => {
  await gw?.stop();
  await Promise.all((origins || []).map((o) => o.kill()));
});

/** One request without any cookie, following nothing by itself. */
const get = async (url, init = {}) => {
  const res = await fetch(new URL(url, gw.url), {
    redirect: "manual",
    ...init,
    headers: { accept: HTML, ...(init.headers || {}) },
  });
  assert.deepEqual(res.headers.getSetCookie(), [], `${url}: no cookie in URL mode`);
  return { res, body: await res.text() };
};

const valueIn = (url) => new URL(url, gw.url).searchParams.getAll(PARAM);
const decode = (s) => s.replaceAll("&amp;", "&");
const href = (body, id) => decode(body.match(new RegExp(`id="${id}" href="([^"]*)"`))?.[1] ?? "");
const field = (body, id) => decode(body.match(new RegExp(`id="${id}">([^<]*)<`))?.[1] ?? "");

/** A page load: the page, the origin that served it and the query that origin saw. */
const load = async (url) => {
  const { res, body } = await get(url);
  assert.equal(res.status, 200, `${url}: ${body}`);
  assert.equal(res.headers.get("referrer-policy"), "same-origin");
  return { url: new URL(url, gw.url).href, body, origin: field(body, "origin"), query: field(body, "query") };
};

/** A new visitor arrives: a redirect to the same URL with a fresh value. */
const arrive = async (path) => {
  const { res } = await get(path);
  assert.equal(res.status, 302);
  const location = res.headers.get("location");
  assert.equal(valueIn(location).length, 1, location);
  return location;
};

test("a cookie-less client browsing 20 pages by their links stays on one origin", async () => {
  const location = await arrive("/links?n=1");
  const [value] = valueIn(location);
  let page = await load(location);
  const origin = page.origin;
  assert.ok(["a", "b", "c"].includes(origin), page.body);
  const kinds = ["absolute", "root", "relative", "protocol", "redirect", "search"];
  for (let i = 0; i < 20; i++) {
    // The origin never sees the parameter.
    assert.ok(!page.query.includes(PARAM), page.query);
    assert.equal(page.origin, origin, `page ${i}: ${page.url}`);
    // Same-site links carry the value; other sites, mailto: and fragments do not.
    for (const id of kinds.slice(0, 5)) assert.deepEqual(valueIn(new URL(href(page.body, id), page.url)), [value], id);
    assert.ok(!href(page.body, "away").includes(PARAM), href(page.body, "away"));
    assert.equal(href(page.body, "mail"), "mailto:someone@example.org");
    assert.equal(href(page.body, "fragment"), "#top");
    assert.equal(href(page.body, "entity"), "&sol;&sol;example.org/entity", "a browser decodes it to another site");
    const kind = kinds[i % kinds.length];
    let next;
    if (kind === "search") {
      // A GET form replaces its action's query: the value is a hidden field.
      const form = page.body.match(/<form id="search"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/);
      const fields = [...form[2].matchAll(/<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"/g)];
      const url = new URL(decode(form[1]), page.url);
      for (const [, n, v] of fields) url.searchParams.append(n, v);
      assert.deepEqual(url.searchParams.getAll(PARAM), [value]);
      next = url.href;
    } else if (kind === "redirect") {
      const { res } = await get(new URL(href(page.body, "redirect"), page.url));
      assert.equal(res.status, 302);
      next = res.headers.get("location");
      assert.deepEqual(valueIn(next), [value], next);
    } else {
      next = new URL(href(page.body, kind), page.url).href;
    }
    page = await load(next);
  }
  assert.equal(page.origin, origin);
  // Nor does any line the gateway logged (its warnings at start among them; wrangler's own
  // lines, which a deployed worker does not write, aside) hold it.
  const own = (await gw.logged(/(?!)/, { ms: 0, settle: 500 }))
    .split("\n")
    .filter((line) => !line.includes("[wrangler:"));
  assert.ok(own.some((line) => line.includes("edge-session gateway")), gw.log);
  assert.deepEqual(own.filter((line) => line.includes(value)), []);
});

test("a page whose <base href> leads to another site: none of its links carry the value", async () => {
  for (const base of ["https://example.org/", "//example.org/"]) {
    const location = await arrive(`/links?n=1&base=${encodeURIComponent(base)}`);
    const page = await load(location);
    for (const id of ["absolute", "root", "relative", "protocol", "redirect", "away", "entity"]) {
      assert.ok(!href(page.body, id).includes(PARAM), `${base}: ${id} ${href(page.body, id)}`);
    }
    assert.ok(!/name="_es"/.test(page.body), `${base}: no hidden field in the GET form`);
  }
  // A <base href> on the same site changes nothing.
  const location = await arrive(`/links?n=1&base=${encodeURIComponent("/")}`);
  const [value] = valueIn(location);
  const page = await load(location);
  assert.deepEqual(valueIn(new URL(href(page.body, "relative"), page.url)), [value]);
});

test("a <base href> to another site after links that carry the value is taken out", async () => {
  // A browser resolves every link of the page against the first <base href>, wherever it stands:
  // one at the end of the body (user content injected into the page) would send the links
  // above it, already streamed with the value, to another site.
  for (const base of ["https://example.org/", "//example.org/"]) {
    const location = await arrive(`/links?n=1&lateBase=${encodeURIComponent(base)}`);
    const [value] = valueIn(location);
    const page = await load(location);
    assert.deepEqual(valueIn(new URL(href(page.body, "relative"), page.url)), [value], page.body);
    assert.ok(!/<base/i.test(page.body), `${base}: the base is gone: ${page.body}`);
    assert.ok(page.body.includes('<p id="late"></p>'), page.body);
  }
  // A <base href> to the same site stays where it is.
  const location = await arrive(`/links?n=1&lateBase=${encodeURIComponent("/")}`);
  const page = await load(location);
  assert.ok(page.body.includes('<base href="/">'), page.body);
});

test("a link that appears twice carries the value both times, and neither after a <base href> to another site", async () => {
  // The rewriter keeps what the gateway decided for each URL of a page (src/gateway/worker/rewrite.rs).
  const location = await arrive("/links?n=1&twice=1");
  const [value] = valueIn(location);
  let page = await load(location);
  assert.equal(href(page.body, "again"), href(page.body, "relative"));
  assert.deepEqual(valueIn(new URL(href(page.body, "again"), page.url)), [value], page.body);
  // After a <base href> to another site, the same link is left alone.
  page = await load(await arrive(`/links?n=1&twice=1&lateBase=${encodeURIComponent("https://example.org/")}`));
  assert.deepEqual(valueIn(new URL(href(page.body, "relative"), page.url)).length, 1, page.body);
  assert.ok(!href(page.body, "again").includes(PARAM), page.body);
  assert.ok(href(page.body, "again").startsWith("links?n=2"), page.body);
});

test("a <base href> or <form> in a <noscript>, markup to a browser without scripts, is written as text", async () => {
  const location = await arrive(`/links?n=1&noscript=${encodeURIComponent("https://example.org/")}`);
  const [value] = valueIn(location);
  const page = await load(location);
  assert.ok(
    page.body.includes('<noscript>&lt;base href="https://example.org/">&lt;FORM action="https://example.org/"></noscript>'),
    page.body,
  );
  assert.deepEqual(valueIn(new URL(href(page.body, "relative"), page.url)), [value]);
});

test("a link's ping to another site is dropped: its Ping-To would carry the link's URL, value included", async () => {
  // Hyperlink auditing sends the link's URL (Ping-To) to every ping URL whatever the referrer
  // policy, and the page's URL (Ping-From) too from a page not served over TLS.
  const location = await arrive("/links?n=1&ping=1");
  const [value] = valueIn(location);
  const page = await load(location);
  const link = page.body.match(/<a id="pinged"[^>]*>/)[0];
  assert.deepEqual(valueIn(new URL(href(page.body, "pinged"), page.url)), [value], link);
  const ping = decode(link.match(/ping="([^"]*)"/)?.[1] ?? "");
  assert.ok(!ping.includes("example.org"), link);
  assert.equal(ping, "/track", link);
});

test("a GET form with a button that submits it to another site gets no hidden field", async () => {
  // The hidden field goes with every submission of the form, also by a button whose formaction
  // leads to another site: the value would be in that site's URL.
  const location = await arrive("/links?n=1&elsewhere=1");
  const page = await load(location);
  const form = page.body.match(/<form id="both"[\s\S]*?<\/form>/)[0];
  assert.ok(!form.includes(`name="${PARAM}"`), form);
  assert.ok(form.includes('formaction="https://example.org/search"'), form);
  // The other GET form of the page still carries it.
  const search = page.body.match(/<form id="search"[\s\S]*?<\/form>/)[0];
  assert.ok(search.includes(`name="${PARAM}"`), search);
});

test("a button outside a GET form that submits it to another site (form attribute) never sends the hidden field there", async () => {
  // <button form="search" formaction="https://example.org/search"> anywhere in the page submits
  // the form #search, hidden field included, to the other site: as user content injected into a
  // page could put it. Before the form: the form gets no field. After it (the field given):
  // the button no longer submits it.
  const button = (page) => page.body.match(/<button id="outside"[^>]*>/)[0];
  const search = (page) => page.body.match(/<form id="search"[\s\S]*?<\/form>/)[0];
  const before = await load(await arrive("/links?n=1&elsewhere=before"));
  assert.ok(!search(before).includes(`name="${PARAM}"`), search(before));
  assert.match(button(before), /form="search"/);
  const after = await load(await arrive("/links?n=1&elsewhere=after"));
  assert.ok(search(after).includes(`name="${PARAM}"`), search(after));
  assert.match(button(after), /form=""/, "a form attribute naming no form: it submits nothing");
  assert.match(button(after), /formaction="https:\/\/example.org\/search"/);
  // The form without such a button still carries the value.
  assert.ok(search(await load(await arrive("/links?n=1"))).includes(`name="${PARAM}"`));
});

test("a GET form whose start tag the browser ignores (a form still open before it) gets no hidden field", async () => {
  // User content injected before the form #search leaves a form to another site open: an
  // unclosed <form>, or one closed only by its </div> (a browser keeps it as the form that the
  // next fields belong to until a </form>). The browser ignores #search's start tag, and its
  // fields, a hidden one too, go with the other form to the other site.
  for (const [key, url] of [["wrap", "https://example.org/"], ["wrap", "//example.org/"], ["wrapDiv", "https://example.org/"]]) {
    const page = await load(await arrive(`/links?n=1&${key}=${encodeURIComponent(url)}`));
    assert.ok(page.body.includes('<form id="wrap"'), page.body);
    assert.ok(!page.body.includes(`name="${PARAM}"`), `${key}=${url}: ${page.body}`);
  }
  // The same page without it: the form carries the value.
  const page = await load(await arrive("/links?n=1"));
  assert.ok(page.body.includes(`name="${PARAM}"`), page.body);
  // A form closed only by the end of an element around it stays the browser's form for the
  // fields and buttons after it: one of them may submit it to another site.
  const divForm = await load(await arrive("/links?n=1&divForm=1"));
  const tail = divForm.body.slice(divForm.body.indexOf('<div><form id="divform"'));
  assert.ok(tail.includes('id="late"'), divForm.body);
  assert.ok(!tail.includes(`name="${PARAM}"`), tail);
});

test("a form whose method a browser reads as GET (invalid or missing value) gets the hidden field", async () => {
  // The method attribute's invalid value default is GET (its keywords are matched whole, spaces
  // included): the browser replaces the action's query, so only a hidden field keeps the value.
  // POST and dialog are the only other methods.
  for (const method of ["PUT", "delete", "", " GET ", " post"]) {
    const location = await arrive(`/links?n=1&method=${encodeURIComponent(method)}`);
    const [value] = valueIn(location);
    const page = await load(location);
    const form = page.body.match(/<form id="search"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/);
    assert.ok(form, page.body);
    assert.ok(form[2].includes(`name="${PARAM}" value="${value}"`), `${JSON.stringify(method)}: ${form[0]}`);
  }
  const page = await load(await arrive("/links?n=1&method=post"));
  const post = page.body.match(/<form id="search"[^>]*>[\s\S]*?<\/form>/)[0];
  assert.ok(!post.includes(`name="${PARAM}"`), post);
});

test("a form post keeps the origin; the origin sees neither the parameter nor a Referer with it", async () => {
  const location = await arrive("/links?n=1");
  const [value] = valueIn(location);
  const page = await load(location);
  const action = decode(page.body.match(/<form id="post" method="post" action="([^"]*)"/)[1]);
  assert.deepEqual(valueIn(action), [value]);
  const { res, body } = await get(action, { method: "POST", body: "x=1", headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" } });
  assert.equal(res.status, 200, body);
  assert.equal(JSON.parse(body).backend, page.origin);
  const seen = await get(`/headers?${PARAM}=${value}&k=v`, { headers: { accept: "application/json", referer: `${gw.url}/links?${PARAM}=${value}&n=1` } });
  const echoed = JSON.parse(seen.body);
  assert.equal(echoed.backend, page.origin);
  assert.equal(echoed.headers.referer, `${gw.url}/links?n=1`);
  assert.ok(!seen.body.includes(value), seen.body);
});

test("a submit input's formaction carries the value, as a button's does", async () => {
  const location = await arrive("/links?n=1&submit=1");
  const [value] = valueIn(location);
  const page = await load(location);
  const input = page.body.match(/<input id="save"[^>]*>/)[0];
  const action = decode(input.match(/formaction="([^"]*)"/)[1]);
  assert.deepEqual(valueIn(action), [value], input);
});

test("a forged value starts a new assignment", async () => {
  const location = await arrive("/links?n=1");
  const [value] = valueIn(location);
  const flip = value.at(-2) === "A" ? "B" : "A";
  const forged = value.slice(0, -2) + flip + value.at(-1);
  const { res } = await get(`/links?n=1&${PARAM}=${forged}`);
  assert.equal(res.status, 302);
  const [fresh] = valueIn(res.headers.get("location"));
  assert.ok(fresh && fresh !== forged && fresh !== value);
  // Not a page load: routed, with the new value on the answer's redirect.
  const { res: api, body } = await get(`/redirect?to=/x&${PARAM}=${forged}`, { headers: { accept: "*/*" } });
  assert.equal(api.status, 302, body);
  const [carried] = valueIn(api.headers.get("location"));
  assert.ok(carried && carried !== forged);
});

test("new visitors spread over the origins", async () => {
  const counts = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 60; i++) counts[(await load(await arrive("/links?n=1"))).origin]++;
  // Equal weights: each of three origins gets 20 on average (fewer than 5 has odds below 1e-5).
  for (const [id, n] of Object.entries(counts)) assert.ok(n >= 5, `${id}: ${JSON.stringify(counts)}`);
});

test("a visitor whose origin goes down is moved, told to the origin, and gets the new value on the next page", async () => {
  const location = await arrive("/links?n=1");
  const [value] = valueIn(location);
  const first = await load(location);
  const down = origins.find((o) => o.id === first.origin);
  await down.kill();
  let back = false;
  try {
    const moved = await load(`/links?n=2&${PARAM}=${value}`);
    assert.notEqual(moved.origin, first.origin);
    const [fresh] = valueIn(new URL(href(moved.body, "root"), moved.url));
    assert.ok(fresh && fresh !== value, moved.body);
    const next = await load(new URL(href(moved.body, "relative"), moved.url).href);
    assert.equal(next.origin, moved.origin);
    const seen = await get(`/headers?${PARAM}=${value}`, { headers: { accept: "application/json" } });
    const echoed = JSON.parse(seen.body);
    assert.equal(echoed.backend, moved.origin);
    assert.equal(echoed.headers["x-session-reassigned"], "1");
    // A third failure in a row marks the origin down: a page load with the old value (the
    // address bar of the page served before) is sent to its URL with the new value, so that
    // reloads stay on the new origin, also once the old one is back.
    await get(`/headers?${PARAM}=${value}`, { headers: { accept: "application/json" } });
    const { res } = await get(`/links?n=3&${PARAM}=${value}`);
    assert.equal(res.status, 302);
    const location = res.headers.get("location");
    const [carried] = valueIn(location);
    assert.ok(carried && carried !== value, location);
    assert.equal((await load(location)).origin, moved.origin);
    await down.start();
    back = true;
    assert.equal((await load(location)).origin, moved.origin, "a reload after the old origin is back");
  } finally {
    if (!back) await down.start();
  }
});

test("an expired value starts a new assignment", async () => {
  // A second gateway whose values expire after one idle second; waiting longer only makes the
  // value more expired, so the wait cannot make this test flaky.
  const short = new Gateway(origins, { vars: { AFFINITY_MODE: "url", AFFINITY_IDLE_SECONDS: "1" } });
  await short.start();
  try {
    const first = await fetch(`${short.url}/links?n=1`, { redirect: "manual", headers: { accept: HTML } });
    assert.equal(first.status, 302);
    const [value] = new URL(first.headers.get("location")).searchParams.getAll(PARAM);
    assert.ok(value);
    await new Promise((r) => setTimeout(r, 2500));
    // The URL's value has a lifetime: AFFINITY_IDLE_SECONDS is read in URL mode, unlike
    // AFFINITY_COOKIE (cookie mode only).
    assert.doesNotMatch(short.log, /AFFINITY_IDLE_SECONDS is read with/);
    const cookie = /AFFINITY_COOKIE is read with AFFINITY_MODE = "cookie" only and is ignored/g;
    assert.equal(((await gw.logged(cookie)).match(cookie) || []).length, 1, gw.log);
    const again = await fetch(`${short.url}/links?n=2&${PARAM}=${value}`, { redirect: "manual", headers: { accept: HTML } });
    assert.equal(again.status, 302);
    const [fresh] = new URL(again.headers.get("location")).searchParams.getAll(PARAM);
    assert.ok(fresh && fresh !== value);
  } finally {
    await short.stop();
  }
});

const withHeaders = (path, headers) => `${path}&${headers.map((h) => `h=${encodeURIComponent(h)}`).join("&")}`;

test("a rewritten page keeps no validator of the origin's bytes: a weak ETag, no digest, no byte ranges, private", async () => {
  // Its bytes are no longer the origin's, nor the same for two visitors.
  const page = withHeaders("/links?n=1", [
    'etag:"v1"',
    "content-md5:Q2hlY2sgSW50ZWdyaXR5IQ==",
    "digest:sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    "accept-ranges:bytes",
    "cache-control:public, max-age=60",
  ]);
  const { res, body } = await get(await arrive(page));
  assert.equal(res.status, 200, body);
  assert.equal(res.headers.get("etag"), 'W/"v1"');
  for (const gone of ["content-length", "content-md5", "digest", "accept-ranges"]) assert.equal(res.headers.get(gone), null, gone);
  assert.equal(res.headers.get("cache-control"), "private, max-age=60");
});

test("a GET form with a button that posts it gets no hidden field: the origin would get the value in the body", async () => {
  // <button formmethod="post"> submits the GET form #search as a POST: its fields, a hidden
  // one too, go in the body, where the gateway cannot take the value out.
  for (const method of ["post", "POST"]) {
    const page = await load(await arrive(`/links?n=1&formmethod=${method}`));
    const search = page.body.match(/<form id="search"[\s\S]*?<\/form>/)[0];
    assert.ok(search.includes('id="saveit"'), search);
    assert.ok(!search.includes(`name="${PARAM}"`), search);
  }
  // A button whose formmethod a browser reads as GET changes nothing.
  for (const method of ["get", " post"]) {
    const page = await load(await arrive(`/links?n=1&formmethod=${encodeURIComponent(method)}`));
    const search = page.body.match(/<form id="search"[\s\S]*?<\/form>/)[0];
    assert.ok(search.includes(`name="${PARAM}"`), `${JSON.stringify(method)}: ${search}`);
  }
});

test("a <meta http-equiv=refresh> to the same site carries the value; one to another site does not", async () => {
  const meta = (body) => decode(body.match(/<meta http-equiv="Refresh" content="([^"]*)"/)?.[1] ?? "");
  for (const [content, expected] of [["0; url=/links?n=2", "0; url=/links?n=2&_es="], [" 5;URL=links?n=3#f", " 5;URL=links?n=3&_es="]]) {
    const location = await arrive(`/links?n=1&refresh=${encodeURIComponent(content)}`);
    const [value] = valueIn(location);
    const page = await load(location);
    assert.ok(meta(page.body).startsWith(expected + value), meta(page.body));
  }
  for (const content of ["0; url=https://example.org/", "0; url=//example.org/x", "0"]) {
    const page = await load(await arrive(`/links?n=1&refresh=${encodeURIComponent(content)}`));
    assert.equal(meta(page.body), content);
  }
});

test("no report of the page, whose URL holds the value, goes anywhere: NEL, Report-To, Reporting-Endpoints and CSP report-uri or report-to go", async () => {
  // A report (CSP violation, network error, deprecation) carries the page's URL, value
  // included, to its endpoint: often another site, and never one that must see the value.
  const page = withHeaders("/links?n=1", [
    'nel:{"report_to":"default","max_age":86400}',
    'report-to:{"group":"default","max_age":86400,"endpoints":[{"url":"https://reports.example/r"}]}',
    'reporting-endpoints:default="https://reports.example/r"',
    "content-security-policy:default-src 'self'; report-uri https://reports.example/csp; Report-To default; img-src *",
    "content-security-policy-report-only:script-src 'none';report-uri /csp",
  ]);
  const { res } = await get(await arrive(page));
  assert.equal(res.status, 200);
  for (const gone of ["nel", "report-to", "reporting-endpoints"]) assert.equal(res.headers.get(gone), null, gone);
  assert.equal(res.headers.get("content-security-policy"), "default-src 'self'; img-src *");
  assert.equal(res.headers.get("content-security-policy-report-only"), "script-src 'none';");
});

test("a byte range of a page is answered with the whole page, rewritten", async () => {
  // The origin's bytes a to b are not those of the visitor's rewritten page: the gateway asks
  // for the whole page and rewrites it (a server may ignore Range).
  const location = await arrive("/links?n=1");
  const [value] = valueIn(location);
  for (const headers of [{ range: "bytes=0-99" }, { range: "bytes=100-", "if-range": '"v1"' }]) {
    const { res, body } = await get(location, { headers });
    assert.equal(res.status, 200, JSON.stringify(headers));
    assert.equal(res.headers.get("content-range"), null);
    assert.ok(body.endsWith("</body></html>\n"), body);
    assert.deepEqual(valueIn(new URL(href(body, "root"), gw.url)), [value]);
  }
  // Not a page: the origin's range as it is.
  const text = `${withHeaders("/links?n=1", ["content-type:text/plain"])}&${PARAM}=${value}`;
  const { res, body } = await get(text, { headers: { range: "bytes=0-9" } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("content-range")?.split("/")[0], "bytes 0-9");
  assert.equal(body, "<!doctype ");
});
