// The demo page `make dev` shows a person with a browser (scripts/demo-origin.mjs answers a GET
// that accepts text/html with a page), through the gateway on the real local runtime (wrangler
// dev, local KV as the session store), as a browser drives it: plain form GETs, 303s back to the
// page, cookies kept in a jar; then headless Chromium clicking the buttons (a real browser's cookie
// rules: Secure __Host- cookies on http://127.0.0.1). curl and the other tests (no text/html in
// Accept) keep the JSON. CHROMIUM=<path> to use another browser binary (default /usr/bin/chromium).
// Device-bound sessions are on, as `make dev` runs the gateway: the browsers here do not register
// (they keep ordinary sessions), but for one that does by hand, and the page shows the binding;
// last, headless Chromium binds its session with the page's own DBSC client (the button "Log in
// with a device-bound session"), refreshes it, and a copy of its jar without the bound cookie.
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

import { Gateway, Jar, STORE_BINDINGS, startOrigins } from "./harness.mjs";

const HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

let origins, gw;
before(async () => {
  origins = await startOrigins(["a", "b", "c"]);
  gw = new Gateway(origins, { vars: { STORE: "kv", DBSC: "on" }, toml: STORE_BINDINGS });
  await gw.start();
});
after(async () => {
  await gw?.stop();
  await Promise.all((origins || []).map((o) => o.kill()));
});

/** A browser: a cookie jar, following nothing by itself so that each 303 can be checked. */
const browser = () => {
  const jar = new Jar();
  const get = async (path, accept = HTML) => {
    const res = await fetch(`${gw.url}${path}`, {
      headers: { accept, cookie: jar.header() },
      redirect: "manual",
    });
    jar.take(res);
    return { res, body: await res.text() };
  };
  /** Loads the page and reads what it shows. */
  const page = async () => {
    const { res, body } = await get("/");
    assert.equal(res.status, 200, body);
    assert.match(res.headers.get("content-type"), /^text\/html/);
    const field = (id) => body.match(new RegExp(`id="${id}">([^<]*)<`))?.[1];
    return { origin: field("origin"), user: field("user"), cart: field("cart"), bound: field("bound"), body };
  };
  /** Presses a button: the answer is a 303 back to the page. */
  const press = async (path) => {
    const { res, body } = await get(path);
    assert.equal(res.status, 303, `${path}: ${body}`);
    assert.equal(res.headers.get("location"), "/");
    return res;
  };
  return { jar, get, page, press };
};

test("a browser sees who it is, its origin and its cart, and the buttons work", async () => {
  const b = browser();
  const first = await b.page();
  assert.ok(["a", "b", "c"].includes(first.origin), first.body);
  assert.equal(first.user, "nobody");
  assert.equal(first.cart, "empty");
  for (const label of ["Log in", "Add to cart", "Log out", "Log out everywhere"]) {
    assert.ok(first.body.includes(`>${label}</button>`), label);
  }

  const login = await b.press("/login?user=alice");
  assert.ok(login.headers.getSetCookie().some((c) => /^__Host-(session|sid)=[^;]/.test(c)), "the gateway set a session cookie");
  const in1 = await b.page();
  assert.equal(in1.user, "alice");
  assert.equal(in1.origin, first.origin, "the same origin after login (affinity)");
  assert.match(in1.body, /x-session-sub<\/code><\/td><td><code>alice</);

  await b.press("/cart/add?item=book");
  await b.press("/cart/add?item=pen");
  assert.equal((await b.page()).cart, "book, pen");

  await b.press("/logout");
  const out = await b.page();
  assert.equal(out.user, "nobody");
  assert.equal(out.origin, first.origin);
});

test("with DBSC on, the page shows whether the session is bound to the device", async () => {
  const b = browser();
  const login = await b.press("/login?user=frank");
  const challenge = login.headers.get("secure-session-registration")?.match(/;challenge="([^"]+)"/)?.[1];
  assert.ok(challenge, "a login offers registration");
  let shown = await b.page();
  assert.equal(shown.user, "frank");
  assert.equal(shown.bound, "not bound", "a browser that does not register keeps an ordinary session");

  // Register as a browser with DBSC does: a key pair whose private key cannot be exported, and a
  // proof of the offered challenge signed by it, the public key in its header.
  const { privateKey, publicKey } = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ]);
  const { kty, crv, x, y } = await webcrypto.subtle.exportKey("jwk", publicKey);
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${part({ alg: "ES256", typ: "dbsc+jwt", jwk: { kty, crv, x, y } })}.${part({ jti: challenge })}`;
  const signature = await webcrypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, Buffer.from(input));
  const res = await fetch(`${gw.url}/__edge/dbsc/register`, {
    method: "POST",
    headers: { cookie: b.jar.header(), "secure-session-response": `${input}.${Buffer.from(signature).toString("base64url")}` },
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal((await res.json()).refresh_url, "/__edge/dbsc/refresh");
  b.jar.take(res);
  shown = await b.page();
  assert.equal(shown.user, "frank");
  assert.equal(shown.bound, "bound");
  assert.match(shown.body, /x-session-bound<\/code><\/td><td><code>1</);

  // The cookie jar without its bound cookie (a copy, once the bound cookie has expired): no one.
  b.jar.cookies.delete("__Host-session-bound");
  shown = await b.page();
  assert.equal(shown.bound, "unbound");
  assert.equal(shown.user, "nobody");
});

test("log out everywhere ends the user's session in another browser too", async () => {
  const laptop = browser();
  const phone = browser();
  await laptop.press("/login?user=carol");
  await phone.press("/login?user=carol");
  assert.equal((await phone.page()).user, "carol");
  await laptop.press("/logout-everywhere");
  assert.equal((await laptop.page()).user, "nobody");
  assert.equal((await phone.page()).user, "nobody");
});

test("without text/html in Accept, the same routes answer JSON (curl, the other tests)", async () => {
  const b = browser();
  const { res, body } = await b.get("/", "*/*");
  assert.match(res.headers.get("content-type"), /^application\/json/);
  assert.ok(["a", "b", "c"].includes(JSON.parse(body).backend));
  const login = await b.get("/login?user=dave", "application/json");
  assert.equal(login.res.status, 200);
  assert.equal(JSON.parse(login.body).loggedIn, "dave");
  const who = await b.get("/whoami", "*/*");
  assert.equal(JSON.parse(who.body).session["x-session-sub"], "dave");
});

test("headless Chromium: the buttons log in, fill the cart and log out", async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  try {
    const page = await browser.newPage();
    const text = (id) => page.textContent(`#${id}`);
    await page.goto(`${gw.url}/`);
    const origin = await text("origin");
    assert.ok(["a", "b", "c"].includes(origin));
    assert.equal(await text("user"), "nobody");
    await page.fill("input[name=user]", "erin");
    await Promise.all([page.waitForURL(`${gw.url}/`), page.click("#login")]);
    assert.equal(await text("user"), "erin", "the browser kept the gateway's session cookie");
    await page.fill("input[name=item]", "lamp");
    await Promise.all([page.waitForURL(`${gw.url}/`), page.click("#cart-add")]);
    assert.equal(await text("cart"), "lamp");
    await page.reload();
    assert.equal(await text("origin"), origin, "the same origin after a reload");
    await Promise.all([page.waitForURL(`${gw.url}/`), page.click("#logout")]);
    assert.equal(await text("user"), "nobody");
  } finally {
    await browser.close();
  }
});

test("headless Chromium without DBSC: the page's own DBSC client binds the session, a copied jar without the bound cookie is unbound, Refresh now and a reload renew it", async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  const BOUND = "__Host-session-bound";
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const text = (id, p = page) => p.textContent(`#${id}`);
    const boundCookie = async () => (await context.cookies()).find((c) => c.name === BOUND)?.value;
    await page.goto(`${gw.url}/`);
    assert.equal(await text("bound"), "not bound");
    assert.ok(
      (await text("dbsc-login")).startsWith("Log in with a device-bound session (DBSC done by this page"),
      "the button is labelled as the page doing DBSC",
    );
    await page.fill("input[name=user]", "grace");
    // The script logs in, registers and reloads the page.
    await Promise.all([page.waitForEvent("load"), page.click("#dbsc-login")]);
    assert.equal(await text("bound"), "bound", await page.content());
    assert.equal(await text("user"), "grace");
    const first = await boundCookie();
    assert.ok(first, "the registration set the bound cookie");

    // Another browser with a copy of the cookie jar, minus the bound cookie (and without the key,
    // which never leaves the first browser's IndexedDB): no one.
    const thief = await browser.newContext();
    await thief.addCookies((await context.cookies()).filter((c) => c.name !== BOUND));
    const stolen = await thief.newPage();
    await stolen.goto(`${gw.url}/`);
    assert.equal(await text("bound", stolen), "unbound");
    assert.equal(await text("user", stolen), "nobody");
    await thief.close();

    // Refresh now: a 403 with a challenge, then 200 for the proof, and a new bound cookie value.
    await page.click("#dbsc-refresh");
    await page.waitForFunction(() => document.getElementById("dbsc-log").textContent.includes("x-session-bound"));
    const log = await text("dbsc-log");
    assert.match(log, /without a proof: 403\n.*Secure-Session-Challenge: 200\n/, log);
    assert.match(log, /GET \/whoami: x-session-bound: 1, x-session-sub: grace/, log);
    const second = await boundCookie();
    assert.ok(second && second !== first, "a new bound cookie value");

    // The bound cookie gone (as at its expiry): the page loads unbound, refreshes with the key
    // from IndexedDB and reloads bound, as Chrome defers the request and refreshes first.
    await context.clearCookies({ name: BOUND });
    assert.equal(await boundCookie(), undefined);
    // What each page load of `/` said, in order: reported by the page itself once parsed (a
    // navigation response's body is gone once the page reloads, which the page does at once).
    const shown = [];
    await page.exposeFunction("reportBound", (state) => shown.push(state));
    await page.addInitScript(() =>
      document.addEventListener("DOMContentLoaded", () => window.reportBound(document.getElementById("bound")?.textContent)),
    );
    await page.reload();
    await page.waitForFunction(() => document.getElementById("bound")?.textContent === "bound");
    for (let i = 0; i < 100 && shown.length < 2; i++) await new Promise((r) => setTimeout(r, 20)); // the last report
    assert.deepEqual(shown, ["unbound", "bound"], "unbound, refreshed, then reloaded bound");
    const third = await boundCookie();
    assert.ok(third && third !== second, "the refresh on load set a new bound cookie");
    assert.equal(await text("user"), "grace");
  } finally {
    await browser.close();
  }
});
