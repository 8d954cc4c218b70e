#!/usr/bin/env node
// A small origin server for the gateway demo and its tests: plain Node http on 127.0.0.1.
//
//   node scripts/demo-origin.mjs <id> <port>     (port 0: one the system gives, printed)
//
// A demo: it logs in and out on plain GETs so that curl and the tests drive it in one line. A
// real origin does that on POST only, and refuses a cross-origin one (README's examples). It
// also lets the client choose its claims and role, answer any header (`/reflect`) and redirect
// anywhere (`/redirect`): a test fixture, never to be reached from outside this machine.
//
// GET  /health             200 {"ok":true}
// GET  /login?user=alice   logs alice in: answers `x-session-issue: {"sub":"alice","role":...}`
// GET  /logout             logs out: answers `x-session-clear: 1`
// GET  /logout-everywhere  ends every session of the user, on every device (gateway STORE on):
//                          answers `x-session-revoke: <x-session-sub>`
// GET  /password           a password change: revokes the user's sessions and logs this browser
//                          in again, in one answer (`x-session-revoke` and `x-session-issue`)
// GET  /stream             three chunks, 300 ms apart (the gateway must stream them through)
// GET  /cookies            sets two cookies of its own (they must pass the gateway unchanged)
// GET  /redirect?to=/path  302 to http://127.0.0.1:<port>/path, its own address (the gateway
//                          must show the public host instead); an absolute `to` as it is
// POST /echo               the request body's length and SHA-256 (streamed request bodies)
// GET  /cart/add?item=pen  server-side session data (gateway STORE on): appends to the cart in
//                          `x-session-data` and answers the new cart as a merge patch
// GET  /count              increments `n` in the session data (a read-modify-write)
// GET  /set?k=v&...        sets members of the session data (a patch; `k=` deletes k)
// GET  /headers           every request header as received (what the gateway let through)
// GET  /links?n=1          an HTML page of links of every kind to /links?n=2 (absolute to the
//                          public host, root-relative, relative, protocol-relative, with their own
//                          query strings), a link to another site, a POST form to /echo, a GET
//                          form and a redirect: the gateway's URL mode rewrites them (#origin,
//                          #query: the query this origin received); a link to another site
//                          written with character references; ?base=URL adds a <base href> to
//                          the head, ?lateBase=URL one at the end of the body (as user content
//                          injected into a page would put it), ?noscript=URL a <base href> and a
//                          <form action> to URL in a <noscript> above the links; ?ping=1 adds a link with a ping
//                          to another site and one to this site, ?elsewhere=1 a GET form one of
//                          whose buttons submits it to another site (formaction);
//                          ?elsewhere=after (or =before) a button after (before) the GET form
//                          #search, outside it, that submits it there (form="search");
//                          ?wrap=URL an unclosed <form action=URL> before the GET form #search,
//                          ?wrapDiv=URL one closed by its </div> (user content injected into a
//                          page: the browser ignores #search's start tag, its fields go to URL);
//                          ?method=M the method attribute of #search (default get);
//                          ?twice=1 the link #relative again (#again) at the end of the body;
//                          ?divForm=1 a GET form closed only by its </div>, then a button that
//                          submits it to another site (a browser gives the button to that form);
//                          ?submit=1 an <input type=submit formaction> in the POST form #post;
//                          ?formmethod=M a button with formmethod=M in the GET form #search;
//                          ?refresh=C a <meta http-equiv="Refresh" content=C>; ?h=name:value
//                          a response header (repeatable); a `Range: bytes=a-b` gets a 206
// GET  /status?code=503    answers that status (an application error, not a dead origin)
// GET  /issue?claims={..}  answers `x-session-issue` with the given text as it is
// GET  /reflect?h=name:v   answers the given response headers (an origin that reflects input; a
//                          name given twice, the header twice)
// GET  a//b                a path holding `//` and no trailing `/` answers 301 to the same path
//                          with a `/` added (a canonicalising redirect, relative Location)
// WebSocket /ws            sends {"backend","session"} (as above) once open, then echoes
//                          every message as `echo <message>`
// /app/...                the same routes under the base path /app (ORIGINS url ending in /app)
// anything else            JSON: this origin's id as `backend`, method, path, and every
//                          x-session-* header it received (the identity the gateway vouches for)
//
// Browsers (a GET whose Accept names text/html) get a page instead of JSON: who the gateway says
// they are, which origin served them, their cart, and buttons to log in, add to the cart, log out
// and log out everywhere. The buttons' routes (/login, /cart/add, /logout, /logout-everywhere)
// answer such a request with the same x-session-* headers and a 303 back to the page. curl and
// the tests (no text/html in Accept) keep the JSON. With DBSC on at the gateway the page says
// whether the session is bound, and its button "Log in with a device-bound session" has the
// page's own script do DBSC (PAGE_DBSC below), for browsers that do not.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const [id = "a", port = "9001"] = process.argv.slice(2);

// Not `x-session-hop`, the gateway's loop tag (the same on every request), which says nothing of
// the visitor.
const session = (req) =>
  Object.fromEntries(
    Object.entries(req.headers).filter(([name]) => name.startsWith("x-session-") && name !== "x-session-hop"),
  );

/** JSON, whatever `headers` say (/reflect's would make the visitor's x-session-* headers HTML). */
const json = (res, status, body, headers = {}) => {
  const type = { "content-type": "application/json", "x-content-type-options": "nosniff" };
  res.writeHead(status, { "cache-control": "no-store", ...headers, ...type });
  res.end(JSON.stringify(body) + "\n");
};

/** A 303 to the demo page, carrying `headers` (the gateway acts on them as on any answer). */
const back = (res, headers, prefix) => {
  res.writeHead(303, { location: `${prefix}/`, "cache-control": "no-store", ...headers });
  res.end();
};

/** JSON for a header value: characters past ASCII as \uXXXX escapes (header values are bytes). */
const ascii = (value) =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

/** True for a browser navigating: a GET that accepts HTML. */
const wantsPage = (req) => req.method === "GET" && /\btext\/html\b/i.test(req.headers.accept || "");

// The demo page's own DBSC client, for browsers without DBSC (all but Chrome on Windows): the
// browser's side of the protocol, as tests/e2e/dbsc-client.mjs does it for the tests, cut down
// to what a page needs (ES256 only, no cookie jar or clock: the browser keeps the cookies) and
// written for a browser (btoa, not Node's Buffer), hence a copy of its few signing lines rather
// than a module both load. Two differences from a browser with DBSC: the login is a `fetch`
// (so that the script can read the answer's Secure-Session-Registration header), and the
// refresh names the session in `Secure-Session-Id`, because `fetch` drops every `Sec-` header
// (the gateway reads that spelling when `Sec-Secure-Session-Id` is absent).
const PAGE_DBSC = String.raw`
const logEl = document.getElementById("dbsc-log");
const log = (line) => (logEl.textContent += line + "\n");
const b64u = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const part = (value) => b64u(new TextEncoder().encode(JSON.stringify(value)));
const ES256 = { name: "ECDSA", hash: "SHA-256" };

// A proof JWT as Chromium makes it: header {alg, jwk?, typ}, payload {jti}; ES256 is r||s.
async function sign(privateKey, jti, jwk) {
  const header = jwk ? { alg: "ES256", jwk, typ: "dbsc+jwt" } : { alg: "ES256", typ: "dbsc+jwt" };
  const input = part(header) + "." + part({ jti });
  return input + "." + b64u(await crypto.subtle.sign(ES256, privateKey, new TextEncoder().encode(input)));
}

// The device key and the session config, in IndexedDB (a non-extractable CryptoKey can be kept
// there; its private bytes never reach this script).
function store(mode, act) {
  return new Promise((done, fail) => {
    const open = indexedDB.open("edge-session-demo", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("dbsc");
    open.onerror = () => fail(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("dbsc", mode);
      const req = act(tx.objectStore("dbsc"));
      tx.oncomplete = () => done(req.result);
      tx.onerror = () => fail(tx.error);
    };
  });
}
const saved = () => store("readonly", (s) => s.get("session"));

async function register() {
  if (!crypto.subtle) return log("WebCrypto needs a secure context: open http://127.0.0.1 or localhost");
  const user = document.querySelector("input[name=user]").value || "alice";
  const login = await fetch(prefix + "/login?user=" + encodeURIComponent(user), { headers: { accept: "application/json" } });
  const offer = login.headers.get("secure-session-registration");
  log("GET /login: " + login.status + ", Secure-Session-Registration: " + offer);
  const path = offer?.match(/;path="([^"]*)"/)?.[1];
  const challenge = offer?.match(/;challenge="([^"]*)"/)?.[1];
  if (!path || !challenge) return log("no registration offered: DBSC is off at the gateway, or this session is bound already (a login for its own user keeps its binding)");
  const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const { crv, kty, x, y } = await crypto.subtle.exportKey("jwk", publicKey);
  const res = await fetch(path, { method: "POST", headers: { "secure-session-response": await sign(privateKey, challenge, { crv, kty, x, y }) } });
  const config = await res.json();
  log("POST " + path + ": " + res.status + " " + JSON.stringify(config));
  if (res.status !== 200) return;
  await store("readwrite", (s) => s.put({ privateKey, config }, "session"));
  location.reload();
}

// Returns true when a new bound cookie came (the browser stored it: it is HttpOnly, so this
// script cannot read its value, only that the gateway answered 200 with the session config).
async function refresh() {
  const session = await saved();
  if (!session) return log("no device key in this browser: log in with the device-bound session first"), false;
  const { privateKey, config } = session;
  const post = (proof) =>
    fetch(config.refresh_url, {
      method: "POST",
      headers: { "secure-session-id": config.session_identifier, ...(proof && { "secure-session-response": proof }) },
    });
  let res = await post();
  log("POST " + config.refresh_url + " without a proof: " + res.status);
  for (let tries = 0; res.status === 403 && tries < 4; tries++) {
    const challenge = res.headers.get("secure-session-challenge")?.match(/^"([^"]*)"/)?.[1];
    if (!challenge) break;
    res = await post(await sign(privateKey, challenge));
    log("POST " + config.refresh_url + " with a proof of its Secure-Session-Challenge: " + res.status);
  }
  const body = await res.json().catch(() => null);
  if (res.status === 200 && body?.continue !== false) {
    await store("readwrite", (s) => s.put({ privateKey, config: body ?? config }, "session"));
    log("a new bound cookie (" + config.credentials?.[0]?.name + "), session config " + JSON.stringify(body));
    return true;
  }
  log("the session ended (" + JSON.stringify(body) + "): the key is dropped");
  await store("readwrite", (s) => s.delete("session"));
  return false;
}

document.getElementById("dbsc-login").onclick = () => register().catch((e) => log(String(e)));
document.getElementById("dbsc-refresh").onclick = async () => {
  try {
    if (!(await refresh())) return;
    const me = await (await fetch(prefix + "/whoami", { headers: { accept: "application/json" } })).json();
    log("GET /whoami: x-session-bound: " + me.session["x-session-bound"] + ", x-session-sub: " + me.session["x-session-sub"]);
  } catch (e) {
    log(String(e));
  }
};
// As Chrome defers a request whose bound cookie is missing and refreshes first: an unbound
// page with the key here refreshes, then reloads (once: not again within 10 s).
(async () => {
  if (document.getElementById("bound").textContent !== "unbound" || !(await saved())) return;
  const last = Number(sessionStorage.getItem("dbsc-refreshed") || 0);
  if (Date.now() - last < 10000) return log("unbound again right after a refresh: not retrying");
  log("unbound, with the device key here: refreshing, as Chrome would before this request");
  sessionStorage.setItem("dbsc-refreshed", String(Date.now()));
  if (await refresh()) location.reload();
})().catch((e) => log(String(e)));
`;

/** The demo page: what the gateway told this origin about the visitor, and buttons to act. */
const page = (req, url, prefix) => {
  const s = session(req);
  let data = {};
  try {
    data = JSON.parse(s["x-session-data"] || "{}");
  } catch {}
  const cart = Array.isArray(data.cart) ? data.cart : [];
  const who = s["x-session-sub"]
    ? `<strong id="user">${escape(s["x-session-sub"])}</strong>${s["x-session-role"] ? ` (role ${escape(s["x-session-role"])})` : ""}`
    : `<strong id="user">nobody</strong>: not logged in`;
  // Device-bound sessions (DBSC on at the gateway): whether the session is bound to this
  // browser's device key (`x-session-bound: 1`), or presented without its fresh bound cookie.
  const binding =
    s["x-session-bound"] === "1"
      ? `<strong id="bound">bound</strong> to this browser's device key (<code>x-session-bound: 1</code>)`
      : s["x-session-status"] === "unbound"
        ? `<strong id="bound">unbound</strong>: a device-bound session without its fresh bound cookie (a copied cookie jar, or a refresh still to come): the gateway sent no identity`
        : `<strong id="bound">not bound</strong> (no session, or a browser without DBSC)`;
  const rows = Object.entries(s)
    .map(([k, v]) => `<tr><td><code>${escape(k)}</code></td><td><code>${escape(v)}</code></td></tr>`)
    .join("");
  const button2 = (id, label) => `<button type="button" id="${id}">${label}</button>`;
  const button = (path, label, fields = "") =>
    `<form method="get" action="${prefix}${path}">${fields}<button id="${path.slice(1).replace(/\W/g, "-")}">${label}</button></form>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edge-session demo: origin ${escape(id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
.origin { font-size: 2rem; } form { display: inline-block; margin: 0 .5rem .5rem 0; }
table { border-collapse: collapse; } td { border: 1px solid #ccc; padding: .2rem .5rem; } small { color: #555; }
</style></head><body>
<h1>edge-session gateway demo</h1>
<p class="origin">Served by origin <strong id="origin">${escape(id)}</strong></p>
<p>The gateway says you are ${who}.</p>
<p>Device binding (DBSC): ${binding}.</p>
<p>Your cart: <span id="cart">${cart.length ? cart.map(escape).join(", ") : "empty"}</span></p>
${button("/login", "Log in", `<input name="user" value="alice" size="10" aria-label="user name"> `)}
${button("/cart/add", "Add to cart", `<input name="item" value="book" size="10" aria-label="item"> `)}
${button("/logout", "Log out")}
${button("/logout-everywhere", "Log out everywhere")}
<h2>A device-bound session in any browser</h2>
<p>${button2("dbsc-login", "Log in with a device-bound session (DBSC done by this page, as Chrome on Windows does it)")}
${button2("dbsc-refresh", "Refresh now")}</p>
<p><small>For browsers without DBSC (all but Chrome on Windows), the first button has this page's
script do what such a browser does by itself: log in, make a key pair whose private key cannot be
exported, keep it (in IndexedDB) and register it with the gateway by signing the offered
challenge; "Refresh now", and a reload of an unbound page, prove possession of the key for a new
short-lived bound cookie. Real DBSC keeps the key in the device's TPM, out of reach of any script
or malware, so this shows the protocol, not its protection.</small></p>
<pre id="dbsc-log"></pre>
<p><small>Reload: the gateway keeps you on the same origin (a signed affinity cookie). Log in: the
origin answers <code>x-session-issue</code> and the gateway sets the session cookie; the origin never
sees a cookie it would have to verify, only the <code>x-session-*</code> headers below, which the
gateway strips from requests and sets itself. The cart is session data in the gateway's store.
"Log out everywhere" ends the user's sessions on every device. With <code>DBSC = "on"</code> (as
<code>make dev</code> runs it), a browser with device-bound sessions (Chrome on Windows) registers
a key it cannot export at login, and the session is then valid only with a bound cookie that only
that key renews.</small></p>
<h2>Headers the gateway sent this origin</h2>
<table id="headers">${rows || "<tr><td>none</td></tr>"}</table>
<script>const prefix = ${JSON.stringify(prefix)};
${PAGE_DBSC}</script>
</body></html>
`;
};

const server = createServer((req, res) => {
  try {
    handle(req, res);
  } catch (e) {
    // What a visitor sent that this origin cannot answer as asked (a request for `//`, a
    // header value past Latin-1, a status of 1): a 400, not the end of the process.
    if (res.headersSent) return res.destroy();
    res.writeHead(400, { "content-type": "text/plain", "cache-control": "no-store" });
    res.end(`${e.message}\n`);
  }
});

function handle(req, res) {
  const url = new URL(req.url, "http://origin");
  const base = { backend: id, method: req.method, path: url.pathname, session: session(req) };
  const prefix = /^\/app(?=\/)/.test(url.pathname) ? "/app" : "";
  const browser = wantsPage(req);
  // A button's answer to a browser: the same x-session-* headers, then back to the page.
  const act = browser ? (res, status, body, headers = {}) => back(res, headers, prefix) : json;
  if (url.pathname.includes("//") && !url.pathname.endsWith("/")) {
    res.writeHead(301, { location: `${url.pathname}/${url.search}`, "cache-control": "no-store" });
    return res.end();
  }
  switch (url.pathname.replace(/^\/app(?=\/)/, "")) {
    case "/health":
      return json(res, 200, { ok: true, backend: id });
    case "/login": {
      const user = url.searchParams.get("user") || "demo-user";
      const claims = { sub: user, role: url.searchParams.get("role") || "member" };
      return act(res, 200, { ...base, loggedIn: user }, { "x-session-issue": ascii(claims) });
    }
    case "/logout":
      return act(res, 200, { ...base, loggedOut: true }, { "x-session-clear": "1" });
    case "/logout-everywhere":
    case "/password": {
      const user = req.headers["x-session-sub"];
      if (!user) return act(res, 401, { ...base, error: "not logged in" });
      const headers = { "x-session-revoke": user };
      if (url.pathname === "/password") headers["x-session-issue"] = ascii({ sub: user, role: "member" });
      // ?wait=ms: a slow origin (the e2e test of a login made elsewhere while it works).
      const wait = Math.min(Number(url.searchParams.get("wait")) || 0, 10000);
      return setTimeout(() => act(res, 200, { ...base, revoked: user }, headers), wait);
    }
    case "/stream": {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" });
      let n = 0;
      const tick = () => {
        res.write(`chunk ${n} from ${id}\n`);
        if (++n < 3) setTimeout(tick, 300);
        else res.end();
      };
      return tick();
    }
    case "/redirect": {
      const to = url.searchParams.get("to") || "/";
      const location = to.startsWith("/") ? `http://127.0.0.1:${server.address().port}${to}` : to;
      res.writeHead(302, { location, "cache-control": "no-store" });
      return res.end();
    }
    case "/headers":
      return json(res, 200, { ...base, headers: req.headers });
    case "/links": {
      const n = Number(url.searchParams.get("n")) || 1;
      const host = req.headers["x-forwarded-host"] || req.headers.host;
      const proto = req.headers["x-forwarded-proto"] || "http";
      const next = `links?n=${n + 1}`;
      // ?h=name:value adds a response header (repeatable).
      const extra = Object.fromEntries(url.searchParams.getAll("h").map((h) => [h.slice(0, h.indexOf(":")), h.slice(h.indexOf(":") + 1)]));
      // ?base=URL adds a <base href> (the gateway's URL mode: links then lead where it says).
      const baseHref = url.searchParams.get("base");
      const baseTag = baseHref ? `<base href="${escape(baseHref)}">` : "";
      const lateHref = url.searchParams.get("lateBase");
      const lateTag = lateHref ? `<p id="late"><base href="${escape(lateHref)}"></p>` : "";
      // ?noscript=URL: user content with a <base href> and a <form> inside <noscript>, which a
      // browser without scripts reads as markup.
      const noscriptHref = url.searchParams.get("noscript");
      const noscriptTag = noscriptHref
        ? `<p id="comment"><noscript><base href="${escape(noscriptHref)}"><FORM action="${escape(noscriptHref)}"></noscript></p>`
        : "";
      const pingTag = url.searchParams.get("ping")
        ? `<a id="pinged" href="${next}&amp;kind=pinged" ping="https://example.org/ping ${prefix}/track">pinged</a>`
        : "";
      const elsewhere = url.searchParams.get("elsewhere");
      const outside = `<button id="outside" form="search" formaction="https://example.org/search">there</button>`;
      const both = `<form id="both" method="get" action="${prefix}/links"><input name="q" value="x"><button id="here">here</button><button id="there" formaction="https://example.org/search">there</button></form>`;
      const elsewhereTag = elsewhere === "1" ? both : elsewhere === "after" ? outside : "";
      const divForm = url.searchParams.get("divForm")
        ? `<div><form id="divform" action="${prefix}/links"><input name="n" value="${n + 1}"></div><button id="late" formaction="https://example.org/search">there</button>`
        : "";
      const wrap = url.searchParams.get("wrap");
      const wrapDiv = url.searchParams.get("wrapDiv");
      const wrapTag = wrap
        ? `<form id="wrap" action="${escape(wrap)}">`
        : wrapDiv
          ? `<div><form id="wrap" action="${escape(wrapDiv)}"></div>`
          : "";
      const refresh = url.searchParams.get("refresh");
      const refreshTag = refresh ? `<meta http-equiv="Refresh" content="${escape(refresh)}">` : "";
      const saveTag = url.searchParams.get("formmethod") ? `<button id="saveit" formmethod="${escape(url.searchParams.get("formmethod"))}">save</button>` : "";
      const html = `<!doctype html><html><head><title>links ${n}</title>${baseTag}${refreshTag}</head><body>
<p id="origin">${escape(id)}</p><p id="query">${escape(url.search)}</p>${noscriptTag}
<a id="absolute" href="${escape(proto)}://${escape(host)}${prefix}/${next}&amp;kind=absolute">absolute</a>
<a id="root" href="${prefix}/${next}&amp;kind=root#here">root-relative</a>
<a id="relative" href="${next}&amp;kind=relative">relative</a>
<a id="protocol" href="//${escape(host)}${prefix}/${next}&amp;kind=protocol">protocol-relative</a>
<a id="redirect" href="${prefix}/redirect?to=${encodeURIComponent(`${prefix}/${next}&kind=redirect`)}">redirect</a>
<a id="away" href="https://example.org/away?from=${n}">another site</a>
<a id="mail" href="mailto:someone@example.org">mail</a>
<a id="fragment" href="#top">top</a>
<a id="entity" href="&sol;&sol;example.org/entity">another site, written with character references</a>
<form id="post" method="post" action="${prefix}/echo?from=${n}"><input name="x" value="1">${url.searchParams.get("submit") ? `<input id="save" type="submit" formaction="${prefix}/echo?from=save">` : ""}</form>
${elsewhere === "before" ? outside : ""}${wrapTag}<form id="search" method="${escape(url.searchParams.get("method") ?? "get")}" action="${prefix}/links"><input name="n" value="${n + 1}">${saveTag}</form>
${pingTag}${elsewhereTag}${divForm}${lateTag}${url.searchParams.get("twice") ? `<a id="again" href="${next}&amp;kind=relative">the relative link again</a>` : ""}</body></html>
`;
      // A byte range (`Range: bytes=a-b`), as a server that supports them answers it.
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || "");
      const headers = { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...extra };
      if (!range) {
        res.writeHead(200, headers);
        return res.end(html);
      }
      const bytes = Buffer.from(html);
      const end = Math.min(Number(range[2] || bytes.length - 1), bytes.length - 1);
      res.writeHead(206, { ...headers, "content-range": `bytes ${range[1]}-${end}/${bytes.length}` });
      return res.end(bytes.subarray(Number(range[1]), end + 1));
    }
    case "/status": {
      const code = Number(url.searchParams.get("code")) || 500;
      return json(res, code, { ...base, status: code });
    }
    case "/issue":
      return json(res, 200, base, { "x-session-issue": url.searchParams.get("claims") || "{}" });
    case "/reflect": {
      const headers = {};
      for (const h of url.searchParams.getAll("h")) {
        const at = h.indexOf(":");
        const name = h.slice(0, at).toLowerCase();
        if (at > 0) headers[name] = name in headers ? [headers[name], h.slice(at + 1)].flat() : h.slice(at + 1);
      }
      return json(res, 200, base, headers);
    }
    case "/cookies":
      return json(res, 200, base, { "set-cookie": ["theme=dark; Path=/", "lang=en; Path=/; HttpOnly"] });
    case "/echo": {
      const hash = createHash("sha256");
      let bytes = 0;
      req.on("data", (chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      req.on("end", () => json(res, 200, { ...base, bytes, sha256: hash.digest("hex") }));
      return;
    }
    case "/cart/add":
    case "/count":
    case "/set": {
      let data = {};
      try {
        data = JSON.parse(req.headers["x-session-data"] || "{}");
      } catch {}
      let patch;
      if (url.pathname === "/cart/add") patch = { cart: [...(data.cart || []), url.searchParams.get("item") || "item"] };
      else if (url.pathname === "/count") patch = { n: (data.n || 0) + 1 };
      else patch = Object.fromEntries([...url.searchParams].map(([k, v]) => [k, v === "" ? null : v]));
      // Header values are ASCII: other characters travel as \uXXXX escapes. Only to a gateway
      // with a store (it says so with x-session-store): another answers x-session-data with a 502.
      const kept = req.headers["x-session-store"] !== undefined;
      return act(res, 200, { ...base, data: { ...data, ...patch } }, kept ? { "x-session-data": ascii(patch) } : {});
    }
    default:
      if (browser) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
        return res.end(page(req, url, prefix));
      }
      return json(res, 200, base);
  }
}

const sockets = new WebSocketServer({ server, path: "/ws" });
sockets.on("connection", (ws, req) => {
  ws.send(JSON.stringify({ backend: id, session: session(req) }));
  ws.on("message", (message) => ws.send(`echo ${message}`));
});

server.keepAliveTimeout = 5000;
server.listen(Number(port), "127.0.0.1", () => {
  // The port it got (the harness passes 0 and reads it from this line).
  console.log(`demo origin ${id} on http://127.0.0.1:${server.address().port}`);
});
const stop = () => {
  for (const ws of sockets.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
