// A plain Cloudflare Worker: who you are in a signed session token, your cart in Workers KV.
//   npm install && npx wrangler dev     (local KV; the secret in .dev.vars: see .dev.vars.example)
import { SessionTokens, SessionStore, getCookie, setCookie, clearCookie } from "edge-session/store";

let tokens, store; // made at the first request (they need env), then kept by the isolate

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

// Each answer below depends on the visitor's cookies: private, so no shared cache keeps one for others.
const json = (body) => Response.json(body, { headers: { "cache-control": "private" } });

/**
 * The visitor's cart (a new one when the cookie names none), or undefined when it is another
 * user's: one who did not log out here, or whose login here has ended. Theirs stays theirs.
 */
async function cartOf(request, user) {
  const cart = await store.load(request);
  return cart.subject === undefined || cart.subject === user ? cart : undefined;
}

export default {
  async fetch(request, env) {
    const keys = [{ id: "k1", secret: env.SESSION_SECRET }]; // base64url, >= 32 bytes
    tokens ??= new SessionTokens({ keys, ttlSeconds: 3600 });
    store ??= new SessionStore({ keys, kv: env.SESSIONS, purpose: "cart" }); // its cookie: __Host-sid
    const url = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD" && crossOrigin(request)) {
      return Response.json({ error: "cross-origin request" }, { status: 403 }); // before anything changes
    }
    let user = null;
    try {
      user = tokens.verify(getCookie(request, "__Host-session") ?? "").sub;
    } catch {} // no cookie, expired, tampered: nobody

    if (request.method === "POST" && url.pathname === "/login") {
      user = url.searchParams.get("user") ?? "alice"; // check a password here
      if (user.length > 100) return Response.json({ error: "user names are at most 100 characters" }, { status: 400 });
      const mine = await cartOf(request, user);
      const cart = mine ?? (await store.load(undefined)); // not another user's cart
      cart.subject = user; // its owner
      if (!cart.isNew) await store.regenerate(cart); // its items under a new id: one known before login is worthless
      const response = json({ user });
      response.headers.append("set-cookie", setCookie("__Host-session", tokens.sign({ sub: user }), { maxAge: 3600 }));
      return mine ? store.applyCookies(response, cart) : store.clearCookies(response);
    }
    if (request.method === "POST" && url.pathname === "/logout") {
      const cart = await store.load(request); // a new, empty one when the cookie names nothing valid
      if (!cart.isNew) await store.destroy(cart);
      const response = json({ user: null });
      response.headers.append("set-cookie", clearCookie("__Host-session"));
      return store.clearCookies(response);
    }
    if (request.method === "POST" && url.pathname === "/cart") {
      const item = url.searchParams.get("item") ?? "book";
      const cart = await cartOf(request, user);
      if (!cart) return Response.json({ error: "log in again" }, { status: 401 }); // their cart stays theirs
      // Sent before a login or logout of this browser, answered after it (its id renewed or
      // ended a moment ago): the item has no cart to go to, and a new one's cookie would replace a login's.
      if (cart.renewed) return Response.json({ error: "logged in or out meanwhile: add it again" }, { status: 409 });
      const items = cart.get("items") ?? [];
      // Bounded: anyone can post, and the whole cart is read and written back at every request.
      if (item.length > 100 || items.length >= 20) return Response.json({ error: "at most 20 items of 100 characters" }, { status: 400 });
      cart.set("items", [...items, item]);
      if (user !== null) cart.subject = user; // its owner (at commit, a new id for a cart begun before login)
      await store.commit(cart);
      return store.applyCookies(json({ items: cart.get("items") }), cart);
    }

    const cart = await cartOf(request, user); // not stored unless committed
    return json({ user, items: cart?.get("items") ?? [] });
  },
};
