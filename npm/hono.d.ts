// Types of edge-session/hono (npm/hono.js).
import type { Context, Env, MiddlewareHandler } from "hono";
import type { Affinity, CookieOptions, ErrorCode, RouteResult, SealedTokens, SessionTokens } from "edge-session";
import type { Session, SessionStore } from "edge-session/store";

/** Verified claims of a session token: iat and exp added by `sign`, plus yours. */
export type SessionClaims = { sub?: string; iat: number; exp: number; [name: string]: unknown };

/** What `sessionTokens` puts on the context. */
export interface SessionTokensVariables<C extends object = SessionClaims> {
  /** The verified claims of the session cookie's token, or null (no cookie, or refused). */
  session: C | null;
  /**
   * Why the token sent was refused: its error code ("expired", "bad_signature", "revoked"...). Of
   * several refused, as at the gateway: "expired" when one is, then "unknown_key", else the first's.
   */
  sessionError?: ErrorCode;
}

/** What `sessionStore` puts on the context. */
export interface SessionStoreVariables {
  /**
   * The visitor's stored session; a new, empty one when the cookie names none. After `logout(c)`
   * it is null until a `login(c)` in the same request (the type leaves null out, so that a handler
   * needs no check before a logout): read it before logging out. It is committed when the handler
   * returns: a change to it afterwards (`set`, `delete`, `data =`, `subject =` in the callback of
   * hono/streaming's `stream`, `streamText` or `streamSSE`) throws an Error, since it could never
   * be saved; make the changes in the handler, before it returns the streaming answer (with
   * `commit: false`, where the app commits itself, nothing is refused).
   */
  session: Session;
}

/** What `affinity` puts on the context. */
export interface AffinityVariables {
  /** The backend id this visitor is routed to. */
  backend: string;
  /** The whole routing decision (reassigned, setCookie, url). */
  route: RouteResult;
}

export interface SessionTokensOptions<C extends object = SessionClaims> {
  /** Default "__Host-session" (a SessionStore's cookie is "__Host-sid" by default: both fit on one site). */
  cookieName?: string;
  /**
   * The cookie's attributes (default Path=/, Secure, HttpOnly, SameSite=Lax); Max-Age is the token's
   * life. Attributes the name forbids (a `__Host-` name with another `path`, a `domain`, or
   * `secure: false`) fail every request with `invalid_config`.
   */
  cookie?: Omit<CookieOptions, "maxAge">;
  /**
   * The subject's revocation time (e.g. `(claims) => claims.sub === undefined ? undefined :
   * store.minIssuedAt(claims.sub)`: a token may hold no `sub`, which the store refuses): tokens issued
   * before it are refused with `revoked`. A lookup that throws, or gives what is not a time
   * (`invalid_config`), fails the request: it is the app's error, not the token's.
   */
  minIssuedAt?: (claims: C) => number | undefined | null | Promise<number | undefined | null>;
  /**
   * Re-issue tokens past `refreshAfter` of their life on the way out (default true); not over a
   * Set-Cookie of the cookie the response already has (the handler's own, a deletion included),
   * nor when the request carried another token of these keys in a cookie of the name (the one
   * read may be a sibling subdomain's).
   */
  refresh?: boolean;
  /**
   * The context variable of the claims (default "session"; why a token was refused goes in
   * `<variable>Error`). Two session middlewares on one route (a sessionStore for the cart and
   * sessionTokens for the account, or two cookies) need a name each, or every request of the
   * route fails with `invalid_config`; `login` goes to the innermost, `logout` to all.
   */
  variable?: string;
}

export interface SessionStoreOptions {
  /** Commit the session after the handler (default true). */
  commit?: boolean;
  /** The context variable of the Session (default "session"); see `SessionTokensOptions.variable`. */
  variable?: string;
}

/** What `sessionTokens` with `variable: V` puts on the context (`SessionTokensVariables` renamed). */
export type NamedSessionTokensVariables<V extends string, C extends object = SessionClaims> = {
  [K in V]: C | null;
} & { [K in `${V}Error`]?: ErrorCode };

/** What `sessionStore` with `variable: V` puts on the context (`SessionStoreVariables` renamed). */
export type NamedSessionStoreVariables<V extends string> = { [K in V]: Session };

export interface AffinityOptions {
  /** Header mode: the request header whose value is the routing key (default: the router's `header`). */
  header?: string;
  /**
   * IP mode: the client address (default: the CF-Connecting-IP header, which only Cloudflare
   * sets: elsewhere a client sends it and picks its backend; give your platform's address, e.g.
   * `(c) => getConnInfo(c).remote.address ?? null` with Hono's adapter).
   */
  clientIp?: (c: Context) => string | null | undefined;
}

/**
 * Session tokens in a cookie: `c.get("session")` is the verified claims or null. Of several
 * cookies of the name (one a sibling subdomain set, for a name without `__Host-`), the first of
 * the first four that verifies is the session, as at the gateway, and it is not refreshed when
 * another of them is a token of these keys too (valid or expired): the refresh would reach the
 * app's own cookie, and the one read may be the sibling's (its session, the attacker's, would
 * become the visitor's on every path).
 */
export function sessionTokens<C extends object = SessionClaims, E extends Env = {}>(
  tokens: SessionTokens | SealedTokens,
  options?: SessionTokensOptions<C> & { variable?: "session" },
): MiddlewareHandler<E & { Variables: SessionTokensVariables<C> }>;
/**
 * `sessionTokens` whose claims are `c.get(variable)`. The name is inferred when no type argument
 * is given; with some, give it last (`sessionTokens<Claims, {}, "account">(...)`).
 */
export function sessionTokens<C extends object = SessionClaims, E extends Env = {}, V extends string = never>(
  tokens: SessionTokens | SealedTokens,
  options: SessionTokensOptions<C> & { variable: V },
): MiddlewareHandler<E & { Variables: NamedSessionTokensVariables<V, C> }>;

/**
 * Stored sessions: `c.get("session")` is the visitor's Session, committed after the handler (a
 * subject the handler set on it without `login` gives a stored session a new id, whose cookie goes
 * out with the response). On a cross-site request the browser sent without the cookie (a form
 * another site posts; with `sameSite: "Strict"`, any: `store.withheldFrom`), nothing is committed
 * and no cookie sent but a login's (a change is logged with console.warn): the browser would keep
 * the new session's cookie in place of the visitor's own, and a logout's removal would orphan
 * the visitor's session, which the request never named. With `commit: false`, check
 * `store.withheldFrom(c.req.raw)` before committing yourself. On Workers the request's work is
 * kept by `c.executionCtx.waitUntil`: a store call of a request whose client went away still
 * ends (else its state stays in the wasm memory); so are the handler's own calls, for up to
 * 30 s (`sessionTokens` too, given a `minIssuedAt`).
 */
export function sessionStore<E extends Env = {}>(
  store: SessionStore,
  options?: SessionStoreOptions & { variable?: "session" },
): MiddlewareHandler<E & { Variables: SessionStoreVariables }>;
/** `sessionStore` whose Session is `c.get(variable)` (its name given last, as for `sessionTokens`). */
export function sessionStore<E extends Env = {}, V extends string = never>(
  store: SessionStore,
  options: SessionStoreOptions & { variable: V },
): MiddlewareHandler<E & { Variables: NamedSessionStoreVariables<V> }>;

/**
 * Sticky routing for apps that proxy: `c.get("backend")` is where this visitor goes. In URL mode
 * the handler sends the visitor to `c.get("route").url` when it is set (no page rewriting here).
 */
export function affinity<E extends Env = {}>(
  router: Affinity,
  options?: AffinityOptions,
): MiddlewareHandler<E & { Variables: AffinityVariables }>;

/**
 * Logs in, under the route's innermost session middleware (or the one `options.variable` names).
 * Under `sessionTokens`: signs
 * `claims` (an `auth_time` among them, copied from the session a refresh gave it, is dropped:
 * this is a new login), sets the cookie, returns the token. Under `sessionStore`: regenerates the session
 * with `claims.sub` (or the string given) as its subject (the data of another user's session
 * are not kept), once a logout earlier in the request is done (awaited or not); await it (the middleware waits for it before it commits, and its failure fails the request).
 * The stored sessions of `sessionStore` middlewares outside the innermost get new ids too, their
 * data kept (no session fixation). Under `sessionStore`, call it after what may still throw: the
 * old id ends at once, and a handler that throws after it sends the removal of the id cookie, not
 * the new id's: the visitor is logged out (the data it held before the login are gone with it).
 * Throws an EdgeSessionError: under `sessionStore` `invalid_config` when the subject is not a
 * string (or one the store refuses), under `sessionTokens` the codes of `sign` (`invalid_claims`...;
 * also `invalid_claims` for claims whose cookie would be over 4096 bytes, name and value (less 128
 * with `refresh` on, for the `auth_time` a refresh adds), or, with `refresh` on, whose token with
 * that `auth_time` would be over the tokens' `maxTokenBytes`: never refreshed, its user would be
 * logged out at its `exp`);
 * a login that threw changed nothing (a logout before it still clears the cookie). Throws an Error when
 * called once the session middleware has answered (in a stream's callback, after `next()` in an
 * outer middleware): its cookie could no longer go out.
 */
export function login(c: Context, claims: { sub: string; [name: string]: unknown }, options?: LoginOptions): string | Promise<void>;
/** Any claims, under `sessionTokens` (`sessionStore` refuses claims without a string `sub`, `invalid_config`). */
export function login(c: Context, claims: object, options?: LoginOptions): string | Promise<void>;
/** The subject alone: `{ sub: subject }` under `sessionTokens` (returns the token). */
export function login(c: Context, subject: string, options?: LoginOptions): string | Promise<void>;

export interface LoginOptions {
  /**
   * The session middleware to log in under, by its `variable` (default: the route's innermost):
   * `{ variable: "account" }` for the account's sessionTokens inside a sessionStore for the cart
   * mounted within it. No middleware of that name on the route: `invalid_config`.
   */
  variable?: string;
}

/**
 * Logs out of every session middleware on the route: clears the session cookie; under
 * `sessionStore`, deletes the session, or with `{ everywhere: true }` every session of its
 * subject. Under `sessionTokens` alone `everywhere` changes nothing more: other copies of the
 * token stay valid until their `exp` unless you revoke them (the store's `revokeTokens`, read
 * back by the middleware's `minIssuedAt`). The cookie is cleared even when the handler throws afterwards (a login or refresh
 * is not sent then). Throws an Error when called once a session middleware of the route has answered (in a
 * stream's callback): the cookie could no longer be cleared. An answer whose `Clear-Site-Data`
 * clears cookies (`"cookies"` or `"*"`) logs out the same way, unless the request logged in.
 * A login of the request still under way (not awaited) is overridden: that it fails, the session
 * ended under it, fails nothing.
 */
export function logout(c: Context, options?: { everywhere?: boolean }): Promise<void>;
