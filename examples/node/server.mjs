// A Node server with session tokens in a cookie: log in, see who you are, log out.
//   npm install && SESSION_SECRET=$(node -e 'console.log(crypto.randomBytes(32).toString("base64url"))') node server.mjs
import { createServer } from "node:http";
import { SessionTokens, getCookie, setCookie, clearCookie, isEdgeSessionError } from "edge-session";

const tokens = new SessionTokens({
  keys: [{ id: "k1", secret: process.env.SESSION_SECRET }], // base64url, >= 32 bytes
  ttlSeconds: 3600,
});
const COOKIE = "__Host-session";

/** The verified claims of the visitor's session cookie, or null. */
function who(headers) {
  const token = getCookie(headers.cookie, COOKIE); // a Cookie header, Headers or Request
  if (token === undefined) return null;
  try {
    return tokens.verify(token);
  } catch (e) {
    if (isEdgeSessionError(e)) return null; // e.code: "expired", "bad_signature"...
    throw e;
  }
}

/**
 * Whether another origin sent this request: another site (a form on evil.example posting here
 * would sign the visitor in as the attacker: login CSRF) or a sibling subdomain, whose requests
 * SameSite cookies do not stop. Browsers say where a request comes from: in Sec-Fetch-Site
 * (`none`: typed or bookmarked), or (older ones) in Origin, which then must be this app's own
 * origin: scheme and host (a page injected into the http site of an https app is another origin).
 * Behind a proxy that ends TLS, set APP_ORIGIN to the public origin (https://app.example).
 */
function crossOrigin(headers) {
  const site = headers["sec-fetch-site"];
  if (site !== undefined) return site !== "same-origin" && site !== "none";
  return headers.origin !== undefined && headers.origin !== (process.env.APP_ORIGIN ?? `http://${headers.host}`);
}

function handle(req, res, json) {
  const url = new URL(req.url, "http://localhost"); // throws for a request for "//"
  if (req.method !== "GET" && req.method !== "HEAD" && crossOrigin(req.headers)) {
    return json(403, { error: "cross-origin request" }); // before anything changes
  }
  if (req.method === "POST" && url.pathname === "/login") {
    const user = url.searchParams.get("user") ?? "alice"; // check a password here
    const token = tokens.sign({ sub: user }); // throws too_large for a user of 5,000 characters
    return json(200, { user }, setCookie(COOKIE, token, { maxAge: 3600 }));
  }
  if (req.method === "POST" && url.pathname === "/logout") {
    return json(200, { user: null }, clearCookie(COOKIE));
  }
  json(200, { user: who(req.headers)?.sub ?? null });
}

const server = createServer((req, res) => {
  const json = (status, body, cookie) => {
    // private: each answer depends on the visitor's cookie; no shared cache may keep it for others.
    const headers = { "content-type": "application/json", "cache-control": "private" };
    res.writeHead(status, { ...headers, ...(cookie && { "set-cookie": cookie }) });
    res.end(JSON.stringify(body));
  };
  try {
    handle(req, res, json);
  } catch (e) {
    // node:http does not catch a handler's throw: the whole server would stop.
    if (isEdgeSessionError(e)) return json(400, { error: e.code });
    if (e?.code === "ERR_INVALID_URL") return json(400, { error: "bad request" });
    console.error(e);
    json(500, { error: "internal" });
  }
});

server.listen(Number(process.env.PORT ?? 8000), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
