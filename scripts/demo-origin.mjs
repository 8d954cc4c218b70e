#!/usr/bin/env node
// A small origin server for the gateway demo and its tests: plain Node http on 127.0.0.1.
//
//   node scripts/demo-origin.mjs <id> <port>
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
// GET  /status?code=503    answers that status (an application error, not a dead origin)
// GET  /issue?claims={..}  answers `x-session-issue` with the given text as it is
// GET  /reflect?h=name:v   answers the given response headers (an origin that reflects input)
// GET  a//b                a path holding `//` and no trailing `/` answers 301 to the same path
//                          with a `/` added (a canonicalising redirect, relative Location)
// WebSocket /ws            sends {"backend","session"} (as above) once open, then echoes
//                          every message as `echo <message>`
// /app/...                the same routes under the base path /app (ORIGINS url ending in /app)
// anything else            JSON: this origin's id as `backend`, method, path, and every
//                          x-session-* header it received (the identity the gateway vouches for)
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const [id = "a", port = "9001"] = process.argv.slice(2);

const session = (req) =>
  Object.fromEntries(Object.entries(req.headers).filter(([name]) => name.startsWith("x-session-")));

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body) + "\n");
};

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://origin");
  const base = { backend: id, method: req.method, path: url.pathname, session: session(req) };
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
      return json(res, 200, { ...base, loggedIn: user }, { "x-session-issue": JSON.stringify(claims) });
    }
    case "/logout":
      return json(res, 200, { ...base, loggedOut: true }, { "x-session-clear": "1" });
    case "/logout-everywhere":
    case "/password": {
      const user = req.headers["x-session-sub"];
      if (!user) return json(res, 401, { ...base, error: "not logged in" });
      const headers = { "x-session-revoke": user };
      if (url.pathname === "/password") headers["x-session-issue"] = JSON.stringify({ sub: user, role: "member" });
      return json(res, 200, { ...base, revoked: user }, headers);
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
      const location = to.startsWith("/") ? `http://127.0.0.1:${port}${to}` : to;
      res.writeHead(302, { location, "cache-control": "no-store" });
      return res.end();
    }
    case "/headers":
      return json(res, 200, { ...base, headers: req.headers });
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
        if (at > 0) headers[h.slice(0, at)] = h.slice(at + 1);
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
      // Header values are ASCII: other characters travel as \uXXXX escapes.
      const ascii = JSON.stringify(patch).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
      return json(res, 200, { ...base, data: { ...data, ...patch } }, { "x-session-data": ascii });
    }
    default:
      return json(res, 200, base);
  }
});

const sockets = new WebSocketServer({ server, path: "/ws" });
sockets.on("connection", (ws, req) => {
  ws.send(JSON.stringify({ backend: id, session: session(req) }));
  ws.on("message", (message) => ws.send(`echo ${message}`));
});

server.keepAliveTimeout = 5000;
server.listen(Number(port), "127.0.0.1", () => {
  console.log(`demo origin ${id} on http://127.0.0.1:${port}`);
});
const stop = () => {
  for (const ws of sockets.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
