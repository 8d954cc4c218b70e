// edge-session/hono: Hono middleware for session tokens, stored sessions and sticky routing.
//
//   app.use(sessionTokens(tokens));            c.get("session"): the verified claims, or null
//   app.use(sessionStore(store));              c.get("session"): the stored Session (new if none)
//   sessionStore(store, { variable: "cart" })  c.get("cart"), beside another session middleware
//   app.use(affinity(router));                 c.get("backend"): where to proxy this visitor
//   login(c, claims) / logout(c)               set or clear the session cookie (and the store)
//
// All cookie reading and writing goes through the library's getCookie / setCookie / clearCookie
// (Rust: one parser of Cookie headers, one writer of Set-Cookie values with the prefix rules).
// Each wasm loads only for the apps that use it: "edge-session" (for those cookie helpers) when
// sessionTokens first runs, "edge-session/store" never from here (the app passes its store, whose
// methods read and write the store's cookie).

/** getCookie, setCookie and clearCookie of "edge-session", imported at first use. */
let cookies;
const loadCookies = async () => (cookies ??= await import("edge-session"));

/** Where the middleware keeps its state on the context (not part of the API). */
const STATE = "edgeSession";

/**
 * Cache fields that CDNs obey instead of Cache-Control: RFC 9213's CDN-Cache-Control, those of
 * Cloudflare and Vercel, Surrogate-Control (Fastly and others), Akamai's Edge-Control. With
 * `CDN-Cache-Control: max-age=600`, a private Cache-Control does not keep the CDN from storing.
 * (The library's `cookie::cache::CDN_CACHE_FIELDS`: the same list.)
 */
const CDN_CACHE_FIELDS = [
  "cdn-cache-control",
  "cloudflare-cdn-cache-control",
  "vercel-cdn-cache-control",
  "surrogate-control",
  "edge-control",
];

/** Per context, the response the middleware copied last: its own, whose headers it may change. */
const copies = new WeakMap();

/**
 * Appends a Set-Cookie to a copy of the context's response, and makes it private, as the gateway
 * does. A copy: the handler's Response may be one it returns to every request (a module-level
 * `new Response(null, { status: 204 })`), which would carry this visitor's cookie to the next
 * ones, or a fetch's, whose headers are immutable. One copy, however many cookies the route's
 * middlewares append (none again while c.res is that copy). A WebSocket handshake (101) is copied
 * with its socket where it has one (workerd: a handshake an app proxies comes from a fetch, whose
 * headers are immutable, and changing them failed the upgrade with a 500); one without is
 * changed in place (Node's Response refuses a 101; Deno's from Deno.upgradeWebSocket can be
 * changed). Private: a shared cache that kept it would hand
 * one visitor's session to others (a refresh rides on whatever page the app answers, one it may
 * have made `public`). The app's `no-store` or `private` stays; otherwise `public` and `s-maxage`
 * give way to `private` and the other directives stay. The fields a CDN reads in place of
 * Cache-Control (`CDN_CACHE_FIELDS`) are removed: the CDN then reads the private Cache-Control.
 * The same rule as the library's (`cookie::cache`, used by the gateway and by SessionStore's
 * applyCookies and clearCookies), copied: the base wasm has no room for it. tests/js/hono.test.mjs
 * checks that both make the same headers.
 */
const appendCookie = (c, value) => {
  const res = c.res;
  // The response already went out (a timeout() mounted outside the session middleware answered
  // for the handler, which finished later): a cookie can no longer reach the browser, and
  // copying the sent body threw, reaching the app's onError a second time.
  if (res.bodyUsed || res.body?.locked) {
    console.warn("edge-session/hono: a session cookie came after the response was sent and is lost (mount timeout() inside the session middleware)");
    return;
  }
  if (copies.get(c) !== res) {
    const { statusText, headers, webSocket } = res;
    const copy =
      res.status !== 101
        ? new Response(res.body, res)
        : webSocket
          ? new Response(null, { status: 101, statusText, headers, webSocket })
          : undefined;
    if (copy) {
      c.res = copy;
      copies.set(c, c.res); // what Hono's setter keeps (it may copy it again)
    }
  }
  const headers = c.res.headers;
  headers.append("set-cookie", value);
  for (const name of CDN_CACHE_FIELDS) headers.delete(name);
  // Trimmed of spaces and tabs only, as a cache reads directives (and the library: `no-store`
  // and a no-break space is no `no-store` to a CDN, which would then heed a `public` after it).
  const ows = trimOws;
  // The pieces between commas outside quoted strings (in which a backslash escapes a character).
  const pieces = (headers.get("cache-control") ?? "").match(/(?:[^,"]|"(?:[^"\\]|\\[\s\S])*"?)+/g) ?? [];
  const directives = pieces.map(ows).filter(Boolean);
  const name = (d) => ows(d.split("=")[0]).toLowerCase();
  if (directives.some((d) => ["no-store", "private"].includes(d.toLowerCase()))) return;
  const kept = directives.filter((d) => !["public", "s-maxage", "private"].includes(name(d)));
  headers.set("cache-control", ["private", ...kept].join(", "));
};

/**
 * How many cookies of the session's name are tried, as at the gateway: the first that verifies
 * is the session (a name without `__Host-` can be set by a sibling subdomain, with a longer path,
 * which browsers send first).
 */
const MAX_PRESENTED = 4;

/**
 * A refresh goes only with an answer made at most this many milliseconds after its request, as
 * at the gateway: a long poll (socket.io waits 25 s for news) answered after a logout would
 * otherwise put the session back in the browser, or replace the next user's login there. The
 * visitor's next request refreshes it.
 */
const LATE_ANSWER_MS = 2000;

/**
 * The values of the first `MAX_PRESENTED` cookies called `name` the request sent, in order: each
 * piece of the Cookie header read by the library's getCookie (one parser of Cookie headers), its
 * value (unquoted) then cut at its first `,` and trimmed of spaces and tabs, as the library
 * reads its own tokens (`cookie::get_all_tokens`): workerd joins several Cookie headers with
 * `, `, and the token that ends one would take in the next one's first cookie. A cookie after a
 * `,` is not read: a browser sends `theme=dark, name=v` for a cookie `theme` whose value a
 * sibling subdomain can set. (Cut before the value was unquoted, `name="v", x=1` read as `v`,
 * where the library reads `"v"`.)
 */
const cookieValues = (getCookie, request, name, limit = MAX_PRESENTED) => {
  const values = [];
  for (const piece of (request.headers.get("cookie") ?? "").split(";")) {
    if (values.length === limit) break;
    const value = piece.includes(name) ? getCookie(piece, name) : undefined;
    if (value !== undefined) values.push(trimOws(value.split(",")[0]));
  }
  return values;
};

/**
 * How many cookies called `name` the request carried, counted as the library reads names: pieces
 * between `;` (and, to be safe, after a `,`, which it does not read), trimmed of spaces and tabs.
 */
const named = (request, name) => {
  const header = request.headers.get("cookie") ?? "";
  if (!header.includes(name)) return 0;
  return header.split(/[;,]/).filter((piece) => piece.includes("=") && trimOws(piece.split("=")[0]) === name).length;
};

/** Whether the request carried more than one cookie of `store`'s name (the name its removal, `name=; Max-Age=0; ...`, begins with). */
const several = (request, store) => named(request, store.clearCookie().split("=")[0]) > 1;

/**
 * `s` without the spaces and tabs at either end (HTTP's optional whitespace), in one pass. Not
 * `s.replace(/^[ \t]+|[ \t]+$/g, "")`: that regex tries `[ \t]+$` from every space of a run
 * inside the text, so a cookie value of n spaces between two letters (a visitor's to choose)
 * cost n^2 steps, about 0.9 s for 32,000.
 */
const trimOws = (s) => {
  let start = 0;
  let end = s.length;
  while (start < end && (s[start] === " " || s[start] === "\t")) start++;
  while (end > start && (s[end - 1] === " " || s[end - 1] === "\t")) end--;
  return s.slice(start, end);
};

/**
 * Which refusal of several tokens `sessionError` gives, as the gateway does: `expired` (offer a
 * refresh or a login), then `unknown_key` (a key of a newer deployment: the token may be good
 * elsewhere), then the first.
 */
const rank = (code) => (code === "expired" ? 2 : code === "unknown_key" ? 1 : 0);

/** Whether the response already has a Set-Cookie of the cookie `name`. */
const setsCookie = (res, name) => res.headers.getSetCookie().some((v) => v.slice(0, v.indexOf("=")).trim() === name);

const now = () => Math.floor(Date.now() / 1000);

/**
 * Whether an answer clears the site's cookies: a `Clear-Site-Data` naming `"cookies"` or `"*"`
 * (quoted, as browsers read it; the library's `gateway::headers::clears_cookies`), what OWASP
 * recommends for a logout. The browser then drops the session's cookie with the others, so the
 * middleware ends the session as `logout(c)` does (the stored one deleted, no refresh sent), unless
 * the request logged in: a login's answer that clears the old cookies keeps its new session, as at
 * the gateway ("switch user").
 */
const clearsCookies = (res) =>
  (res.headers.get("clear-site-data") ?? "").split(",").some((v) => ['"cookies"', '"*"'].includes(v.trim()));

/**
 * Refuses options with a name none of `names`, own or inherited (`invalid_config`, as the library's own calls do):
 * a misspelt option (`cookiename`) would otherwise be ignored without a word. A long name may be
 * a secret in the wrong place: it is never quoted.
 */
const checkOptions = (what, options, names) => {
  // Nor read as none when they are no object: `logout(c, true)` would end this session only.
  if (options !== undefined && options !== null && typeof options !== "object") {
    throw refusal(`${what} must be an object`);
  }
  // Inherited names too (`for...in`), as the options are read through the prototype chain.
  for (const name in options ?? {}) {
    if (names.includes(name)) continue;
    const bytes = new TextEncoder().encode(name).length;
    throw refusal(
      bytes <= 32 ? `${what}: unknown option ${JSON.stringify(name)}` : `${what}: an unknown option (a name of ${bytes} bytes)`,
    );
  }
};

/**
 * Refuses, when the middleware is made (`invalid_config`), an option of another type than
 * `types` names (`typeof`): read at each request, `minIssuedAt: 1700000000` threw a TypeError at
 * every request with a session (logged-in users got 500s, anonymous ones did not), and
 * `refresh: "false"` refreshed. Unset (undefined) is the default; so is null where `nullable`
 * (a cookie attribute, as `setCookie` reads it; `minIssuedAt`).
 */
const checkTypes = (what, options, types, nullable = []) => {
  for (const [name, type] of Object.entries(types)) {
    const value = options?.[name];
    if (value === null && nullable.includes(name)) continue;
    if (value !== undefined && typeof value !== type) {
      throw refusal(`${what}: ${name} must be a ${type}, not ${value === null ? "null" : typeof value}`);
    }
  }
};

/** The cookie attributes sessionTokens takes (Max-Age is the token's life). */
const COOKIE_ATTRIBUTES = ["path", "domain", "sameSite", "httpOnly", "secure", "partitioned"];

/** The most bytes of a cookie's name and value browsers keep, and the room kept in a session
 * token's for what a refresh adds (`auth_time`), as the gateway keeps it. */
const MAX_COOKIE_BYTES = 4096;
const LATER_CLAIMS_BYTES = 128;

/**
 * A TypeError, as JavaScript's own APIs throw for an argument of the wrong type, when `what` is
 * not an object with the `methods` the middleware calls (a configuration passed in place of
 * the instance failed only once a cookie arrived, or at a login).
 */
const checkInstance = (what, middleware, kind, methods) => {
  if (methods.some((m) => typeof what?.[m] !== "function")) {
    throw new TypeError(`edge-session/hono: ${middleware}() takes ${kind} instance`);
  }
};

/**
 * An EdgeSessionError, as the library throws (`isEdgeSessionError` knows it), its properties
 * defined, not assigned: `Object.freeze(Error.prototype)` makes `name` read-only, and assigning
 * it then throws (and their descriptors of no prototype, which no polluted `get` reaches).
 */
const edgeError = (message, code) => {
  const e = new Error(message);
  for (const [name, value] of [["name", "EdgeSessionError"], ["code", code]]) {
    Object.defineProperty(e, name, { __proto__: null, value, writable: true, enumerable: true, configurable: true });
  }
  return e;
};
const refusal = (message) => edgeError(message, "invalid_config");
/** A login whose session would not be kept: refused, never a session that ends unannounced. */
const tooBig = (why) => edgeError(`edge-session/hono: ${why}; keep fewer claims`, "invalid_claims");

/**
 * Keeps a store operation that login or logout started (`regenerate`, `destroy`,
 * `revokeSubject`): the middleware waits for it before it commits and answers, whether the
 * handler awaited it or not (under sessionTokens login returns at once, and a handler written so
 * under sessionStore answered while the operation ran: no new cookie, the old id still naming the
 * logged-in session; a Worker may stop once it has answered). Its failure is the request's.
 */
const track = (s, promise) => {
  s.pending.push(promise);
  promise.catch(() => {}); // awaited by the middleware: never an unhandled rejection
  return promise;
};

/**
 * The states of the session middlewares on this route, outermost first: each adds its own (a
 * route may have sessionTokens and sessionStore, or one app's under another's).
 */
const states = (c, what) => {
  const list = c.get(STATE);
  if (!list?.length) throw new Error(`edge-session/hono: ${what} needs the sessionTokens or sessionStore middleware on this route`);
  // After the handler returned (a stream's callback, a middleware outside the session one after
  // next()), the middleware has made its cookies: a login or logout then would change the store
  // or nothing without a cookie telling the browser (a logout leaving the token valid).
  if (list.some((s) => s.answered)) {
    throw new Error(`edge-session/hono: ${what} after the session middleware answered: call it in the handler, before it returns`);
  }
  return list;
};

/**
 * Adds the state `s` of a session middleware to the route's. Two session middlewares of a route
 * that are not one mounted twice (the app's and a sub-app's: same kind, cookie and tokens, or
 * same store) need a `variable` each: with one, the inner hid the outer's session (a cart
 * unreachable under the account's tokens), and the types made it both.
 */
const enter = (c, s) => {
  const list = c.get(STATE) ?? [];
  // One mounted twice reads the same cookie the same way: every setting alike (a sub-app's
  // without the app's minIssuedAt would hand a revoked session to the handler). A function
  // counts by being there: a middleware made at each request makes its lookup anew.
  const setting = (v) => (typeof v === "function" ? "function" : (v ?? undefined));
  const same = (o) => o.kind === s.kind && o.settings.every((v, i) => setting(v) === setting(s.settings[i]));
  const names = (o) => (o.kind === "tokens" ? [o.variable, errorVariable(o)] : [o.variable]);
  const clash = list.find((o) => !same(o) && names(o).some((n) => names(s).includes(n)));
  if (clash) {
    throw refusal(`edge-session/hono: two session middlewares on this route set c.get("${names(s).find((n) => names(clash).includes(n))}") (one mounted twice must have the same settings): give each a name of its own with the option \`variable\``);
  }
  // Two stores under one cookie: a login renews each, and the browser keeps one of the two ids.
  const cookie = (o) => (o.kind === "store" ? o.store.clearCookie() : undefined);
  if (s.kind === "store" && list.some((o) => cookie(o) === cookie(s) && !same(o))) {
    throw refusal(`edge-session/hono: two sessionStore middlewares on this route write the cookie ${cookie(s).split("=")[0]}: give the stores cookie names of their own, or mount one`);
  }
  c.set(STATE, [...list, s]);
};

/** The context variable of why the token of the sessionTokens of state `s` was refused. */
const errorVariable = (s) => `${s.variable}Error`;

/** The option `variable`: the context variable a session middleware sets, "session" by default. */
const variableOf = (what, options) => {
  const variable = options?.variable ?? "session";
  if (variable === "" || ["backend", "route", STATE].includes(variable)) {
    throw refusal(`edge-session/hono: ${what} variable must name a context variable of its own`);
  }
  return variable;
};

/**
 * Session tokens (SessionTokens or SealedTokens) in a cookie. Sets `session` to the verified
 * claims or null, and `sessionError` to why a token sent was refused (its error code). Of several
 * cookies of the name, the first of the first four that verifies is the session. Tokens
 * past `refreshAfter` of their life are re-issued on the way out (sliding refresh), unless the
 * response already sets the cookie, or the request carried another token of these keys (valid or
 * expired) in a cookie of the name: the one read may be a sibling subdomain's (SECURITY.md).
 */
export function sessionTokens(tokens, options = {}) {
  checkInstance(tokens, "sessionTokens", "a SessionTokens or SealedTokens", ["sign", "verify", "refresh"]);
  checkOptions("sessionTokens options", options, ["cookieName", "cookie", "minIssuedAt", "refresh", "variable"]);
  const { cookieName = "__Host-session", cookie: given = {}, minIssuedAt, refresh = true } = options ?? {};
  // Max-Age is the token's life: the cookie's other attributes only.
  checkOptions("sessionTokens cookie", given, COOKIE_ATTRIBUTES);
  checkTypes("sessionTokens options", options, { cookieName: "string", minIssuedAt: "function", refresh: "boolean", variable: "string" }, ["minIssuedAt"]);
  const variable = variableOf("sessionTokens", options);
  const text = { path: "string", domain: "string", sameSite: "string" };
  const attributes = { ...text, httpOnly: "boolean", secure: "boolean", partitioned: "boolean" };
  checkTypes("sessionTokens cookie", given, attributes, COOKIE_ATTRIBUTES);
  // Read once, as the library reads options (inherited ones too): a login's `{ ...cookie, maxAge }`
  // copied own properties only, and set a cookie other than the one a logout cleared (an
  // inherited `domain`: the browser kept the session).
  const cookie = Object.fromEntries(COOKIE_ATTRIBUTES.map((name) => [name, given?.[name]]));
  const settings = [tokens, cookieName, minIssuedAt, refresh, variable, ...Object.values(cookie)];
  let attributesChecked = false;
  const middleware = async (c, next) => {
    // From when this middleware runs (mounted first, the request's arrival, as at the gateway):
    // a slow minIssuedAt lookup counts too.
    const started = Date.now();
    const { getCookie, clearCookie } = cookies ?? (await loadCookies());
    // Attributes the cookie's name forbids (a __Host- name with a path, a domain or without
    // Secure) are refused (invalid_config) here, at every request until fixed, and not only at a
    // login or logout: a refresh, which drops a cookie setCookie refuses, skipped them silently.
    if (!attributesChecked) {
      clearCookie(cookieName, cookie);
      attributesChecked = true;
    }
    let token;
    let claims = null;
    let error;
    // The token's refusals make the visitor anonymous (sessionError: the code; of several
    // refused, `expired` when one is, then `unknown_key` (a key of a newer deployment), else the
    // first one's, as at the gateway). The app's own
    // errors (a minIssuedAt lookup that threw, whatever its code: the store's store_unavailable,
    // a driver's ECONNREFUSED; or that gave what is not a time: invalid_config) are not the
    // token's: thrown, not a logout.
    const check = (value, options) => {
      try {
        return tokens.verify(value, options);
      } catch (e) {
        if (typeof e?.code !== "string" || e.code === "invalid_config") throw e;
        if (error === undefined || rank(e.code) > rank(error)) error = e.code;
        return null;
      }
    };
    // Each token with its revocation: a revoked one (an older deployment's cookie, at another
    // path or domain) does not hide a valid one after it.
    // One more than are read: whether the visitor's own may lie past them.
    const values = cookieValues(getCookie, c.req.raw, cookieName, MAX_PRESENTED + 1);
    for (const value of values.slice(0, MAX_PRESENTED)) {
      let verified = check(value);
      if (verified && minIssuedAt) {
        const at = await minIssuedAt(verified); // outside check: its failure is the request's
        if (at !== undefined && at !== null) verified = check(value, { minIssuedAt: at });
      }
      if (verified) {
        claims = verified;
        token = value;
        error = undefined;
        break;
      }
    }
    const s = { kind: "tokens", variable, settings, tokens, cookieName, cookie, refresh, changed: false, cleared: false, loggedIn: false, answered: false };
    enter(c, s);
    c.set(variable, claims);
    if (error !== undefined) c.set(errorVariable(s), error);
    try {
      await next();
    } finally {
      s.answered = true;
    }
    if (!s.loggedIn && !s.cleared && clearsCookies(c.res)) end(s);
    if (s.cleared || (c.error && s.ended)) {
      // Even when the handler threw after it (a login after it too): an error never keeps the
      // visitor logged in.
      appendCookie(c, removal(s));
    } else if (c.error) {
      return; // the handler threw: no login or refresh goes out
    } else if (s.changed) {
      appendCookie(c, s.setCookie);
    } else if (refresh && claims && Date.now() - started <= LATE_ANSWER_MS && values.length <= MAX_PRESENTED && values.every((v) => v === token || !authentic(tokens, v)) && !setsCookie(c.res, cookieName)) {
      // Not over a Set-Cookie of this name already on the response (the handler's own, a login
      // of a second sessionTokens inside this one): a browser keeps the last, and the refresh
      // would undo a deletion or put the old user back. Nor when the request carried another
      // token of these keys (valid or expired) in a cookie of the name, or more cookies of the
      // name than are read (the visitor's own may lie behind them; counted as they are read, so
      // that cookies after a comma, which a sibling can put in a value, stop nothing): the
      // Set-Cookie reaches
      // the app's own cookie, and the one read first may be a sibling subdomain's (a longer
      // path), whose session, the attacker's own, would become the visitor's on every path and
      // for good.
      // Verified before the handler ran: a token that expired since (a slow handler, an async
      // minIssuedAt) is not refreshed, and the handler's answer stands (not a 500); nor is one
      // grown too big for a cookie (a refresh adds auth_time), which setCookie refuses.
      let fresh;
      try {
        const refreshed = tokens.refresh(token);
        if (refreshed) fresh = tokenCookie(cookieName, cookie, refreshed, tokens.verify(refreshed));
      } catch (e) {
        if (typeof e?.code !== "string") throw e;
      }
      if (fresh) appendCookie(c, fresh);
    }
  };
  // A minIssuedAt that asks a store (`store.minIssuedAt`, `tokenEnded`) awaits the wasm's calls;
  // without one, nothing here awaits the wasm.
  return minIssuedAt ? (c, next) => kept(c, middleware(c, next)) : middleware;
}

/** Whether `value` is a token of `tokens`' keys, valid or expired (no junk, nor another app's). */
const authentic = (tokens, value) => {
  try {
    tokens.verify(value);
    return true;
  } catch (e) {
    return e?.code === "expired";
  }
};

/** The Set-Cookie for a token, living as long as the token (`exp - now`): its verified `claims`. */
const tokenCookie = (name, cookie, token, { exp }) => {
  const maxAge = typeof exp === "number" ? Math.max(0, exp - now()) : undefined;
  return cookies.setCookie(name, token, { ...cookie, maxAge });
};

/**
 * Stored sessions (SessionStore over KV or a Durable Object). Sets `session` to the visitor's
 * Session, a new empty one when the cookie names none; after the handler, commits it (a write
 * only when it changed, a touch when due) and sends its cookie when the client does not know it:
 * the cookie is read after the commit, which gives a stored session whose subject the handler
 * changed without `login` a new id (no session fixation). When the handler throws, nothing is
 * committed and no cookie sent, but the removal of a logout or a login done before (a login
 * stays done: the session has its new id, which the visitor is not sent, and the old id is
 * ended). A change to the session
 * after the handler returned (in the callback of a streaming answer) throws (`guarded`).
 */
export function sessionStore(store, options = {}) {
  checkInstance(store, "sessionStore", "a SessionStore", ["load", "commit", "regenerate", "destroy", "revokeSubject", "setCookie", "clearCookie", "withheldFrom"]);
  checkOptions("sessionStore options", options, ["commit", "variable"]);
  checkTypes("sessionStore options", options, { commit: "boolean", variable: "string" });
  const variable = variableOf("sessionStore", options);
  const { commit = true } = options ?? {};
  const middleware = async (c, next) => {
    const session = await store.load(c.req.raw);
    // A form another site posts (with sameSite "Strict", any cross-site request) came without
    // the cookie, which the browser keeps: a new session's cookie would replace it, and a
    // logout's removal would orphan the visitor's session (this request never named it). Asked
    // only when needed, of a request that named no session.
    const named = !session.isNew;
    const withheld = () => !named && store.withheldFrom(c.req.raw);
    const s = { kind: "store", variable, settings: [store, commit, variable], store, session, request: c.req.raw, several: undefined, cleared: false, loggedIn: false, pending: [], logins: [], answered: false };
    s.view = commit ? guarded(s) : session;
    enter(c, s);
    c.set(variable, s.view);
    try {
      await next();
    } finally {
      s.answered = true;
    }
    if (!s.loggedIn && !s.cleared && clearsCookies(c.res)) end(s);
    const pending = [...s.pending];
    const settled = await Promise.allSettled(pending);
    // Not a login that a logout after it overrode: it ended the session under the login.
    const failed = settled.find((r, i) => r.status === "rejected" && !s.overridden?.has(pending[i]));
    if (c.error) {
      // The handler threw: nothing of its changes is saved or sent, but the removal of the
      // cookie after a logout (a login after it too): an error never keeps the visitor logged
      // in. So after a login: the old id ended with it, and kept, the cookie would name one
      // renewed for a minute, whose every change is dropped.
      if ((s.ended || s.logins.length) && !failed && !withheld()) appendCookie(c, removal(s));
      return;
    }
    if (failed) throw failed.reason; // a login or logout that failed: no commit, no cookie
    if (s.cleared) {
      if (!withheld()) appendCookie(c, removal(s));
      return;
    }
    // Mounted twice (the app's and a sub-app's): the inner one committed the session the handler
    // saw and sent its cookie. This copy, loaded before, would write it back where the last write
    // wins (Workers KV): over the handler's change, or under the id a login just renewed.
    const list = c.get(STATE);
    if (list.slice(list.indexOf(s) + 1).some((inner) => inner.store === store)) return;
    // Nothing stored or sent there but a login's: the visitor's own session stays theirs.
    if (!s.loggedIn && withheld()) {
      if (Object.keys(s.session.data).length || s.session.subject !== undefined) {
        const what = commit ? "was not stored" : "was not sent its cookie";
        console.warn(`edge-session/hono: the session of a cross-site request sent without its cookie (a form another site posts) ${what}: its cookie would replace the visitor's own. Refuse cross-site POSTs before changing anything`);
      }
      return;
    }
    // A request sent before a login of the same browser (an id the login renewed a moment ago):
    // its browser holds the login's cookie by now, which a new session's would replace.
    if (!s.loggedIn && s.session.renewed && s.session.subject === undefined) {
      if (Object.keys(s.session.data).length) {
        console.warn("edge-session/hono: a session change was dropped: the session's id was renewed by a login, or ended by a logout, of the same browser since the request was sent, and a new session's cookie would replace a login's");
      }
      return;
    }
    if (commit) await store.commit(s.session);
    const value = store.setCookie(s.session);
    if (value) appendCookie(c, value);
  };
  return (c, next) => kept(c, middleware(c, next));
}

/**
 * `promise`, kept by the request's `waitUntil` on Workers. When the client goes away, workerd
 * cancels what the request awaits: a store call that never settles keeps its state in the wasm
 * memory for good (about 1 KB each). Kept, what it awaits ends (30 s at most) and frees it.
 */
const kept = (c, promise) => {
  let ctx;
  try {
    ctx = c.executionCtx; // Hono throws where there is none (Node, Deno, Bun)
  } catch {
    return promise;
  }
  ctx?.waitUntil?.(promise.catch(() => {}));
  return promise;
};

/**
 * The Session of `s` as the handler sees it (`c.get("session")`): the same, but that a change to
 * it (`set`, `delete`, `data =`, `subject =`) once the middleware has answered throws. The
 * middleware commits when the handler returns: a streaming answer's callback (hono/streaming's
 * `stream`, `streamText`, `streamSSE`) runs on afterwards, and a change it made then was lost
 * without a word (and its cookie, for a new session, could no longer go out).
 */
const guarded = (s) => {
  const late = () => {
    if (s.answered) {
      throw new Error(
        "edge-session/hono: a change to the session after the session middleware answered (in a stream's callback) would never be saved: change it in the handler, before it returns",
      );
    }
  };
  return new Proxy(s.session, {
    get(session, name) {
      const value = Reflect.get(session, name);
      if (typeof value !== "function") return value;
      return (...args) => {
        if (name === "set" || name === "delete") late();
        return value.apply(session, args);
      };
    },
    set(session, name, value) {
      late();
      return Reflect.set(session, name, value);
    },
  });
};

/**
 * Logs in, under the innermost session middleware of the route, or the one whose `variable` the
 * options name. With session tokens: signs
 * `claims` (an object with `sub`; a string is `{ sub }`), sets the cookie, and returns the token; `c.get("session")`
 * becomes the verified claims. With a store: gives the
 * session a new id (no session fixation), sets its subject to `claims.sub` (or `claims` when a
 * string; the data of another user's session are not kept), once a logout earlier in the request is done (awaited or not), and resolves when done; the cookie goes out with the response. The middleware waits
 * for it before it commits (and a failure of it fails the request), awaited or not. Either way,
 * the stored sessions of the route's other middlewares get new ids (`renewOthers`).
 */
export function login(c, claims, options = {}) {
  checkOptions("login options", options, ["variable"]);
  checkTypes("login options", options, { variable: "string" });
  const list = states(c, "login");
  const { variable } = options ?? {};
  const s = variable === undefined ? list.at(-1) : list.findLast((o) => o.variable === variable);
  if (!s) throw refusal(`edge-session/hono: login: no session middleware on this route sets c.get("${variable}")`);
  // Once the login can no longer throw: one that failed (a handler may catch its error) leaves
  // an earlier logout, and an answer's Clear-Site-Data, to log the visitor out.
  const loggedIn = () => {
    // Also a middleware outside this one with the same cookie (mounted twice: the app's and a
    // sub-app's), cleared by a logout earlier in the request: its removal, sent after this
    // login's cookie, was the one the browser kept.
    const cookie = removal(s);
    for (const each of list) {
      if (each === s || removal(each) === cookie) each.cleared = false;
      each.loggedIn = true; // an answer's Clear-Site-Data is no logout then
    }
  };
  if (s.kind === "tokens") {
    // A login is a new login: the time of an earlier one (claims copied from the session, which
    // a refresh gave `auth_time`) is dropped, as at the gateway; else a revocation just made
    // ("log out my other devices") would refuse the new token at once.
    let fresh = typeof claims === "string" ? { sub: claims } : claims;
    if (typeof fresh === "object" && fresh !== null && Object.hasOwn(fresh, "auth_time")) {
      fresh = { ...fresh };
      delete fresh.auth_time;
    }
    const token = s.tokens.sign(fresh);
    // Room for the auth_time a refresh adds, as at the gateway: a token that fits a cookie only
    // without it would stop being refreshed, and its user be logged out at its exp, unannounced.
    // Name and value, without the "=", as RFC 6265bis counts them (and setCookie, and the gateway).
    const size = s.cookieName.length + token.length;
    if (size + (s.refresh ? LATER_CLAIMS_BYTES : 0) > MAX_COOKIE_BYTES) {
      throw tooBig(`the session cookie would be ${size} bytes, name and value: over the ${MAX_COOKIE_BYTES} browsers keep${s.refresh ? `, less ${LATER_CLAIMS_BYTES} for the auth_time a refresh adds` : ""}`);
    }
    const session = s.tokens.verify(token);
    // And within the tokens' own maxTokenBytes, which a refresh keeps to (its answer is null
    // past it): the verified claims with that auth_time, as a refresh signs them, must fit.
    if (s.refresh) {
      try {
        s.tokens.sign({ ...session, auth_time: session.iat });
      } catch (e) {
        if (e?.code === "too_large") throw tooBig(`once a refresh adds auth_time the token is over maxTokenBytes (${e.message})`);
        throw e;
      }
    }
    const setCookie = tokenCookie(s.cookieName, s.cookie, token, session);
    loggedIn();
    s.setCookie = setCookie;
    s.changed = true;
    c.set(s.variable, session);
    c.set(errorVariable(s), undefined);
    renewOthers(list, s);
    return token;
  }
  const subject = typeof claims === "string" ? claims : claims?.sub;
  if (typeof subject !== "string") throw refusal("edge-session/hono: login needs a subject (claims.sub, a string)");
  // Another user's session (no logout before): its data stay with the old id, which the login
  // deletes, as at the gateway. The subject first: the store may refuse it.
  // So do those of a session read from one of several id cookies (`renew`).
  const before = s.session.subject;
  s.session.subject = subject;
  loggedIn();
  if (before !== undefined && before !== subject) s.session.data = {};
  c.set(s.variable, s.view); // null after a logout in the same request
  // After the request's earlier login or logout (awaited or not): beside a logout everywhere of
  // the same subject, the revocation ended the session this login had just made. A failed one
  // fails the login too (the request fails anyway): nothing is regenerated.
  const done = renew(s);
  renewOthers(list, s);
  return done;
}

/** The Set-Cookie that removes the cookie of the middleware of state `s`. */
const removal = (s) => (s.kind === "store" ? s.store.clearCookie() : cookies.clearCookie(s.cookieName, s.cookie));

/**
 * At a login under `s`, the stored sessions of the route's other middlewares (a sessionStore for
 * the cart around a sessionTokens for the account) get new ids too, their data kept: the id the
 * visitor had before the login, perhaps one an attacker planted, names nothing after it (no
 * session fixation). One a logout of this request ended stays ended. The middleware waits for it.
 * A store mounted twice (the app's and a sub-app's) holds one session, renewed once: by `s`
 * when it is `s`'s, else by the last of them (a second regenerate of the old id would be a
 * conflict).
 */
const renewOthers = (list, s) => {
  const others = list.filter((o) => o !== s && o.kind === "store" && !o.cleared && o.store !== s.store);
  others.forEach((other, i) => {
    if (!others.slice(i + 1).some((later) => later.store === other.store)) renew(other);
  });
};

/**
 * A new id for the stored session of `s`, once what the request began before is done. Without
 * its data when it was read from one of several id cookies: the first may be a sibling
 * subdomain's, tossed ahead of the visitor's own with data of its choosing (an address, a
 * return_to), which the login would make the visitor's under the app's own cookie.
 */
const renew = (s) => {
  // Counted at the first renewal only (most requests log nobody in), dropped once: what the
  // handler sets after it is the visitor's.
  if ((s.several ??= several(s.request, s.store))) {
    s.session.data = {};
    s.several = false;
  }
  const done = track(s, before(s).then(() => s.store.regenerate(s.session)));
  s.logins.push(done);
  return done;
};

/**
 * What the request began on the session of `s` (awaited or not): done, or failed. A login that
 * a logout after it overrode (it may fail: the session ended under it) is waited for, not failed.
 */
const before = (s) => Promise.all(s.pending.map((p) => (s.overridden?.has(p) ? p.catch(() => {}) : p)));

/**
 * Logs out of every session middleware on the route (sessionTokens and sessionStore stacked:
 * both): clears the session cookie. With a store, also deletes the session; with
 * `{ everywhere: true }`, every session of its subject (`store.revokeSubject`). Resolves when
 * done (a promise with a store, nothing to wait for with tokens); the middleware waits for it
 * before it answers (and a failure of it fails the request), awaited or not. A login of the
 * request still under way (not awaited) is overridden: that it fails, the session ended under
 * it, fails nothing.
 */
export function logout(c, options = {}) {
  checkOptions("logout options", options, ["everywhere"]);
  const list = states(c, "logout");
  for (const s of list) c.set(s.variable, null);
  // Every session middleware of the route: with sessionTokens and sessionStore, ending one left
  // the other's session valid.
  const done = Promise.all(list.map((s) => end(s, options))).then(() => {});
  done.catch(() => {}); // the middleware awaits the store's part: never an unhandled rejection
  return done;
}

const end = (s, options) => {
  s.cleared = s.ended = true; // cleared: until a login; ended: for good
  s.changed = false;
  if (s.kind === "tokens") return undefined;
  s.overridden = new Set(s.logins);
  s.several = false; // destroyed: the tossed data are gone
  const { session, store } = s;
  const subject = session.subject;
  // destroy makes the Session a new, empty one at once, so that a login later in this request
  // ('switch user', a password reset that signs in again) starts a session without the
  // logged-out one's data, and never regenerates the id a revocation deleted (a `conflict` on
  // strongly consistent stores). Everywhere: then every other session of the subject.
  return track(
    s,
    (async () => {
      await store.destroy(session);
      if (options?.everywhere && subject) await store.revokeSubject(subject);
    })(),
  );
};

/**
 * Sticky routing for apps that proxy (an `Affinity` router): sets `backend` to the backend id
 * for this visitor and `route` to the whole decision, and sends the affinity cookie when one was
 * issued or refreshed. In URL mode the handler sends the visitor to `route.url` when it is set
 * (the middleware does not rewrite pages: the gateway does). A request no backend can take gets 503 (`no_backend`,
 * `backend_unavailable`).
 */
export function affinity(router, options = {}) {
  checkInstance(router, "affinity", "an Affinity", ["route"]);
  checkOptions("affinity options", options, ["header", "clientIp"]);
  checkTypes("affinity options", options, { header: "string", clientIp: "function" });
  // Header mode: the router's own header unless the options name one.
  const { header = router.header, clientIp = (c) => c.req.header("cf-connecting-ip") ?? null } = options ?? {};
  return async (c, next) => {
    let route;
    try {
      route = router.route({
        cookie: c.req.header("cookie") ?? null,
        url: c.req.url,
        clientIp: clientIp(c),
        header: header ? (c.req.header(header) ?? null) : null,
        // A cross-site request the browser withheld the cookie from gets none to keep in its place.
        method: c.req.method,
        secFetchSite: c.req.header("sec-fetch-site") ?? null,
      });
    } catch (e) {
      if (e?.code === "no_backend" || e?.code === "backend_unavailable") {
        return c.json({ error: e.code }, 503);
      }
      throw e;
    }
    c.set("backend", route.backend);
    c.set("route", route);
    await next();
    if (route.setCookie) appendCookie(c, route.setCookie);
  };
}
