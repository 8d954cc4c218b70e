// Deno.serve with session tokens in a cookie and server-side data (in memory here; on Workers,
// KV or a Durable Object): log in, count visits, log out.
//   npm install && SESSION_SECRET=$(node -e 'console.log(crypto.randomBytes(32).toString("base64url"))') deno task start
import { SessionTokens, SessionStore, getCookie, setCookie, clearCookie } from "edge-session/store";

const keys = [{ id: "k1", secret: Deno.env.get("SESSION_SECRET") }];
const tokens = new SessionTokens({ keys, ttlSeconds: 3600 });
// No kv or durableObject: in memory (one process: a demo). Its own purpose: data and keys of its own.
const store = new SessionStore({ keys, purpose: "data" }); // its cookie: __Host-sid

// Each answer below depends on the visitor's cookies: private, so no shared cache keeps one for others.
const json = (body) => Response.json(body, { headers: { "cache-control": "private" } });

const verified = (request) => {
  const token = getCookie(request, "__Host-session");
  try {
    return token === undefined ? null : tokens.verify(token);
  } catch {
    return null; // expired, tampered...
  }
};

/**
 * The visitor's data (new when the cookie names none), or undefined when it is another user's:
 * one who did not log out here, or whose login here has ended. Theirs stays theirs.
 */
async function dataOf(request, user) {
  const data = await store.load(request);
  return data.subject === undefined || data.subject === user ? data : undefined;
}

/**
 * Whether another origin sent this request: another site (a form on evil.example posting here
 * would sign the visitor in as the attacker: login CSRF) or a sibling subdomain, whose requests
 * SameSite cookies do not stop. Browsers say where a request comes from: in Sec-Fetch-Site
 * (`none`: typed or bookmarked), or (older ones) in Origin, which then must be this app's own
 * origin: scheme and host (a page injected into the http site of an https app is another origin).
 * Behind a proxy that ends TLS, set APP_ORIGIN to the public origin (https://app.example).
 */
function crossOrigin(request) {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) return site !== "same-origin" && site !== "none";
  const origin = request.headers.get("origin");
  return origin !== null && origin !== (Deno.env.get("APP_ORIGIN") ?? new URL(request.url).origin);
}

Deno.serve({ port: Number(Deno.env.get("PORT") ?? 8000), hostname: "127.0.0.1" }, async (request) => {
  const url = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD" && crossOrigin(request)) {
    return Response.json({ error: "cross-origin request" }, { status: 403 }); // before anything changes
  }
  if (request.method === "POST" && url.pathname === "/login") {
    const user = url.searchParams.get("user") ?? "alice";
    if (user.length > 100) return Response.json({ error: "user names are at most 100 characters" }, { status: 400 });
    const mine = await dataOf(request, user);
    const data = mine ?? (await store.load(undefined)); // not another user's data
    data.subject = user; // its owner
    if (!data.isNew) await store.regenerate(data); // a new id: one known before login is worthless
    const response = json({ user });
    response.headers.append("set-cookie", setCookie("__Host-session", tokens.sign({ sub: user }), { maxAge: 3600 }));
    return mine ? store.applyCookies(response, data) : store.clearCookies(response);
  }
  if (request.method === "POST" && url.pathname === "/logout") {
    const data = await store.load(request); // a new, empty one when the cookie names nothing valid
    if (!data.isNew) await store.destroy(data); // the data itself, not only its cookie
    const response = json({ user: null });
    response.headers.append("set-cookie", clearCookie("__Host-session"));
    return store.clearCookies(response); // and the data's cookie
  }
  if (request.method === "POST" && url.pathname === "/count") {
    const user = verified(request)?.sub ?? null;
    const session = await dataOf(request, user); // reads its cookie from the request
    if (!session) return Response.json({ error: "log in again" }, { status: 401 }); // theirs stays theirs
    // Sent before a login or logout of this browser, answered after it (its id renewed or ended
    // a moment ago): the count has no session to go to, and a new one's cookie would replace a login's.
    if (session.renewed) return Response.json({ error: "logged in or out meanwhile: count again" }, { status: 409 });
    session.set("n", (session.get("n") ?? 0) + 1);
    if (user !== null) session.subject = user; // its owner (at commit, a new id for data begun before login)
    await store.commit(session);
    return store.applyCookies(json({ n: session.get("n") }), session);
  }
  return json({ user: verified(request)?.sub ?? null });
});
