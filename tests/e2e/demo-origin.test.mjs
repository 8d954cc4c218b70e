// scripts/demo-origin.mjs on its own (no gateway): `make dev` puts it behind the gateway for
// anyone with a browser, and the gateway passes it what visitors send. A request it cannot answer
// as asked is a 400; none ends the process (node:http does not catch a handler's throw).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startOrigins } from "./harness.mjs";

let origin;

before(async () => {
  [origin] = await startOrigins(["a"]);
});

after(() => origin?.kill());

const get = (path, headers = {}) => fetch(`${origin.url}${path}`, { headers, redirect: "manual" });

test("a user name outside Latin-1 is answered with its claims as ASCII JSON, page or not", async () => {
  // (The gateway then refuses such a sub, a 502 naming why: not the end of the origin.)
  for (const accept of ["application/json", "text/html"]) {
    const res = await get(`/login?user=${encodeURIComponent("李雷")}`, { accept });
    assert.equal(res.status, accept === "text/html" ? 303 : 200, accept);
    assert.deepEqual(JSON.parse(res.headers.get("x-session-issue")), { sub: "李雷", role: "member" });
  }
});

test("requests it cannot answer as asked are a 400, and the origin keeps serving", async () => {
  const paths = [
    "//", // new URL throws
    "/status?code=1", // not an HTTP status
    "/status?code=1000",
    "/reflect?h=bad%20name:1", // not a header name
    `/reflect?h=x-a:${encodeURIComponent("€")}`, // not a header value
    `/issue?claims=${encodeURIComponent('{"sub":"€"}')}`,
    `/redirect?to=${encodeURIComponent("/€")}`,
    `/redirect?to=${encodeURIComponent("/a\r\nx-injected: 1")}`,
  ];
  for (const path of paths) {
    const res = await get(path);
    assert.equal(res.status, 400, path);
    assert.equal(res.headers.get("x-injected"), null, path);
    assert.equal((await get("/health")).status, 200, `after ${path}`);
  }
});

test("/links escapes what the forwarded headers say (the origin reached directly)", async () => {
  const res = await get("/links", { "x-forwarded-proto": '"><b id=injected>', "x-forwarded-host": '"><i id=host>' });
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.ok(!html.includes("<b id=injected>"), html);
  assert.ok(!html.includes("<i id=host>"), html);
});

test("/reflect answers JSON whatever content type it is asked to reflect", async () => {
  // Through the gateway, the JSON holds the visitor's x-session-* headers: a login and a cart item
  // a cross-site page chose (top-level GETs) would otherwise come back as the gateway's HTML.
  for (const name of ["content-type", "Content-Type"]) {
    const res = await get(`/reflect?h=${name}:text/html`, { "x-session-sub": "<svg/onload=alert(1)>" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json", name);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  }
});
