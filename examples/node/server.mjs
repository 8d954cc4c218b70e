// A Node server with session tokens in a cookie: log in, see who you are, log out.
//   SESSION_SECRET=$(node -e 'console.log(crypto.randomBytes(32).toString("base64url"))') node server.mjs
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

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  const json = (body, cookie) => {
    res.writeHead(200, { "content-type": "application/json", ...(cookie && { "set-cookie": cookie }) });
    res.end(JSON.stringify(body));
  };
  if (req.method === "POST" && url.pathname === "/login") {
    const user = url.searchParams.get("user") ?? "alice"; // check a password here
    const token = tokens.sign({ sub: user });
    return json({ user }, setCookie(COOKIE, token, { maxAge: 3600 }));
  }
  if (req.method === "POST" && url.pathname === "/logout") {
    return json({ user: null }, clearCookie(COOKIE));
  }
  json({ user: who(req.headers)?.sub ?? null });
});

server.listen(Number(process.env.PORT ?? 8000), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
