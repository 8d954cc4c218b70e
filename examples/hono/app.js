// A Hono app on Cloudflare Workers with the edge-session middleware: stored sessions in Workers
// KV, login and logout.
//   npm install && npx wrangler dev     (local KV; the secret in .dev.vars: see .dev.vars.example)
// On KV a logout is not final: a request of the session still in flight may write it back
// (docs/store.md); where it must be, use a Durable Object per session
// (`new SessionStore({ keys, durableObject: env.SESSION_OBJECTS })`).
import { Hono } from "hono";
import { SessionStore } from "edge-session/store";
import { sessionStore, login, logout } from "edge-session/hono";

const app = new Hono();

/**
 * Whether another origin sent this request: another site (a form on evil.example posting here
 * would sign the visitor in as the attacker: login CSRF) or a sibling subdomain, whose requests
 * SameSite cookies do not stop. Browsers say where a request comes from: in Sec-Fetch-Site
 * (`none`: typed or bookmarked), or (older ones) in Origin, which then must be this app's own
 * origin: scheme and host (a page injected into the http site of an https app is another origin).
 */
function crossOrigin(request) {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) return site !== "same-origin" && site !== "none";
  const origin = request.headers.get("origin");
  return origin !== null && origin !== new URL(request.url).origin;
}

app.use((c, next) => {
  if (c.req.method !== "GET" && c.req.method !== "HEAD" && crossOrigin(c.req.raw)) {
    return c.json({ error: "cross-origin request" }, 403); // before the session is loaded
  }
  return next();
});

let sessions; // the middleware, made at the first request (it needs env), then kept
app.use((c, next) => {
  sessions ??= sessionStore(new SessionStore({ keys: [{ id: "k1", secret: c.env.SESSION_SECRET }], kv: c.env.SESSIONS }));
  c.header("cache-control", "private"); // each answer is the visitor's own: no shared cache keeps one for others
  return sessions(c, next); // c.get("session"): the visitor's session, committed afterwards
});

app.get("/", (c) => {
  const session = c.get("session");
  return c.json({ user: session.subject ?? null, items: session.get("items") ?? [] });
});

app.post("/login", async (c) => {
  const user = c.req.query("user") ?? "alice";
  if (user.length > 100) return c.json({ error: "user names are at most 100 characters" }, 400);
  await login(c, user); // check a password first; a new session id
  return c.json({ user: c.get("session").subject });
});

app.post("/cart", (c) => {
  const session = c.get("session");
  const item = c.req.query("item") ?? "book";
  const items = session.get("items") ?? [];
  // Bounded: anyone can post, and the whole cart is read and written back at every request.
  if (item.length > 100 || items.length >= 20) return c.json({ error: "at most 20 items of 100 characters" }, 400);
  session.set("items", [...items, item]);
  return c.json({ items: session.get("items") });
});

app.post("/logout", async (c) => {
  await logout(c, { everywhere: c.req.query("everywhere") === "1" });
  return c.json({ user: null });
});

export default app;
