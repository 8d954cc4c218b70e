// Requests as real clients send them, through the gateway in workerd (Miniflare: wrangler dev's
// own proxy hides what these test), to an origin in this process that says what it received.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest } from "node:http";
import { Miniflare } from "miniflare";
import { gatewayOptions, rawRequest, requestBytes, tcpServer } from "./harness.mjs";

let origin, mf, gateway;
before(async () => {
  // /login logs in; anything else answers what the origin received: method, cache-control.
  origin = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const headers = { "content-type": "application/json" };
      if (req.url === "/login") headers["x-session-issue"] = JSON.stringify({ sub: "alice" });
      if (req.url === "/public") headers["cache-control"] = "public, max-age=600";
      // Its own address with the other scheme, as an origin that believes x-forwarded-proto
      // but not the host writes it.
      if (req.url === "/moved") headers.location = `https://${req.headers.host}/next`;
      // An app served under /app (the origin's base path in the last test) sets its cookies there.
      if (req.url === "/app/cookie") headers["set-cookie"] = ["JSESSIONID=a1; Path=/app; HttpOnly", "shop=1; Path=/app/shop"];
      res.writeHead(200, headers);
      res.end(JSON.stringify({ method: req.method, cacheControl: req.headers["cache-control"] ?? null }));
    });
  });
  await new Promise((resolve) => origin.listen(0, "127.0.0.1", resolve));
  const live = `http://127.0.0.1:${origin.address().port}`;
  mf = new Miniflare(
    gatewayOptions({
      // Nothing listens on port 1: a request sent to a fails there, and a retry goes to b.
      ORIGINS: JSON.stringify([
        { id: "a", url: "http://127.0.0.1:1", weight: 1 },
        { id: "b", url: live, weight: 1 },
      ]),
      HEALTH_FAILURES: "100", // no origin marked down: every new visitor may be placed on a
    }),
  );
  gateway = await mf.ready;
});
after(async () => {
  await mf?.dispose();
  origin?.close();
});

/** One request as node:http sends it (headers as given, Content-Length included). */
const send = (method, path, headers = {}) =>
  new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, gateway), { method, headers }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });

test("Content-Length: 0 is no body: a GET or HEAD goes through, and a DELETE, PUT or OPTIONS is retried on another origin", async () => {
  // workerd gives such a request an empty body: a GET was the gateway's 400, and the others,
  // taken for requests with a body, were never retried (Python's requests sends the header
  // with every DELETE, PUT and OPTIONS without a body).
  for (const method of ["GET", "HEAD", "DELETE", "PUT", "OPTIONS"]) {
    // New visitors, half of them placed on a (down): each is retried on b.
    const statuses = [];
    for (let i = 0; i < 12; i++) statuses.push((await send(method, "/x", { "content-length": "0" })).status);
    assert.deepEqual(statuses, Array(12).fill(200), method);
  }
});

test("a logged-in visitor's revalidation reaches the origin as one (Cache-Control: max-age=0), not as no-cache", async () => {
  // A request carrying a session is fetched with cache "no-store", which has fetch add
  // `Cache-Control: no-cache` to a request without one: Express's `fresh` then never answers 304.
  let login;
  do login = await send("GET", "/login"); // a visitor placed on a (down) is moved to b, once
  while (login.status !== 200);
  const jar = login.headers["set-cookie"].map((c) => c.split(";")[0]).join("; ");
  const conditional = await send("GET", "/app.css", { cookie: jar, "if-none-match": '"v1"' });
  assert.equal(JSON.parse(conditional.body).cacheControl, "max-age=0");
  // The client's own Cache-Control stays; a request that is not conditional is as before.
  const asked = await send("GET", "/app.css", { cookie: jar, "if-none-match": '"v1"', "cache-control": "no-cache" });
  assert.equal(JSON.parse(asked.body).cacheControl, "no-cache");
  const plain = await send("GET", "/app.css", { cookie: jar });
  assert.equal(JSON.parse(plain.body).cacheControl, "no-cache");
});

test("a POST whose origin connection fails is a 502 that says to check before sending it again, with no Retry-After", async () => {
  // The runtime tells no refused connection from one lost once the request was sent: the
  // origin may have acted on it. New visitors, half of them placed on a (down).
  const answers = [];
  for (let i = 0; i < 12; i++) answers.push(await send("POST", "/order", { "content-length": "0" }));
  assert.deepEqual([...new Set(answers.map((a) => a.status))].sort(), [200, 502]);
  for (const lost of answers.filter((a) => a.status === 502)) {
    assert.equal(lost.headers["retry-after"], undefined);
    assert.match(lost.body, /may have received the request: check before sending it again/);
  }
});

test("an answer to a logged-in visitor is private whatever the origin said; a returning anonymous visitor's keeps it", async () => {
  let login;
  do login = await send("GET", "/login");
  while (login.status !== 200);
  const cookies = login.headers["set-cookie"].map((c) => c.split(";")[0]);
  const mine = await send("GET", "/public", { cookie: cookies.join("; ") });
  assert.equal(mine.headers["cache-control"], "private, max-age=600");
  const affinity = cookies.filter((c) => c.startsWith("__Host-affinity="));
  const anyone = await send("GET", "/public", { cookie: affinity.join("; ") });
  assert.equal(anyone.headers["set-cookie"], undefined);
  assert.equal(anyone.headers["cache-control"], "public, max-age=600");
});

test("a Location on the origin's own address with the other scheme moves to the public host", async () => {
  let moved;
  do moved = await send("GET", "/moved");
  while (moved.status === 503);
  assert.equal(moved.headers.location, new URL("/next", gateway).href);
});

test("an origin with a base path: its cookie on that path goes on the public path, as its redirects do", async () => {
  const base = new Miniflare(
    gatewayOptions({
      ORIGINS: JSON.stringify([{ id: "b", url: `http://127.0.0.1:${origin.address().port}/app`, weight: 1 }]),
    }),
  );
  try {
    const url = await base.ready;
    const res = await base.dispatchFetch(new URL("/cookie", url));
    await res.text();
    const cookies = res.headers.getSetCookie();
    assert.ok(cookies.includes("JSESSIONID=a1; Path=/; HttpOnly"), cookies.join("\n"));
    assert.ok(cookies.includes("shop=1; Path=/shop"), cookies.join("\n"));
  } finally {
    await base.dispose();
  }
});

test("a header name with a byte above 0x7F, which workerd can neither show nor remove: a client's is a 400, never sent on, and an origin's a 502", async () => {
  // `x\xA7session-sub`, and `x-se\xDFion-sub`, which a server that upper-cases names read as
  // Latin-1 (gunicorn up to 21) takes for `X-SESSION-SUB`: both reached the origin, and an
  // origin's such `x-session-issue` the client.
  const latin1 = (text) => Buffer.from(text, "latin1");
  // Answers with the request head it got, and at /login with such names.
  const raw = await tcpServer((socket) => {
    let head = "";
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const login = head.startsWith("GET /login ");
      const body = login ? "ok" : head;
      const names = login ? 'x\xA7session-issue: {"sub":"root"}\r\nx-se\xDFion-sub: root\r\n' : "";
      const length = Buffer.byteLength(body, "latin1");
      socket.end(latin1(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n${names}content-length: ${length}\r\nconnection: close\r\n\r\n${body}`));
    });
  });
  const own = new Miniflare(gatewayOptions({ ORIGINS: JSON.stringify([{ id: "raw", url: raw.url, weight: 1 }]) }));
  const url = await own.ready;
  const get = (path, headers = []) => rawRequest(url.href, requestBytes("GET", path, headers, { host: url.host }));
  try {
    for (const name of ["x\xA7session-sub", "x-se\xDFion-sub", "x-forwarded\xA0for"]) {
      const r = await get("/headers", [[latin1(name), "root"]]);
      assert.equal(r.status, 400, `${JSON.stringify(name)}: ${r.text}`);
      assert.match(r.text, /header name holds a character HTTP does not allow/);
    }
    const plain = await get("/headers", [["x-custom_1", "kept"]]);
    assert.equal(plain.status, 200, plain.text);
    assert.match(plain.text, /^x-custom_1: kept\r$/im);
    const login = await get("/login");
    assert.equal(login.status, 502, login.text);
    assert.match(login.text, /header name holds a character HTTP does not allow/);
    assert.ok(!Object.keys(login.headers).some((n) => /session|se\xDFion/.test(n)), JSON.stringify(login.headers));
    assert.ok(!login.setCookies.some((c) => c.startsWith("__Host-session=")), JSON.stringify(login.setCookies));
  } finally {
    await own.dispose();
    raw.close();
  }
});
