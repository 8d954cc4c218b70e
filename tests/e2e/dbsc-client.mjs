// A Device Bound Session Credentials (DBSC) client that behaves like Chromium, on WebCrypto, for
// the end-to-end tests of the gateway (tests/e2e/dbsc.test.mjs). Not a test server: it only
// speaks the browser's side of the protocol, as the W3C draft (w3c/webappsec-dbsc spec.bs,
// February 2026) and Chromium's net/device_bound_sessions/ do:
//
// - Every answer is read for `Secure-Session-Registration` (an RFC 9651 list of inner lists of
//   algorithm tokens, with `path`, `challenge`, `authorization` parameters) and for
//   `Secure-Session-Challenge` (`"<c>";id="<session id>"`: cached for a known session).
// - Registration: a new key pair (ES256: ECDSA P-256; RS256: RSASSA-PKCS1-v1_5 2048 bits with
//   SHA-256; the private key is not extractable), then `POST path` with
//   `Secure-Session-Response: <JWT>`: JOSE header `{"alg","jwk","typ":"dbsc+jwt"}` (members in
//   Chromium's order), payload `{"authorization"?,"jti"}`. The raw JWT, not an sf-string: that is
//   what Chromium sends (its registration_fetcher.cc sets the header to the token as it is). A
//   200 answer's JSON body is the session config; its credentials name the bound cookie.
// - Before each request in a session's scope (same origin, not the refresh URL, the scope rules)
//   that lacks the session's bound cookie (expired by Max-Age, or dropped by the test), the
//   request is deferred and the session refreshed: `POST refresh_url` with
//   `Sec-Secure-Session-Id: <id>` (raw, like Chromium; both headers as sf-strings, as the draft
//   writes them, with `quote`) and, with a cached challenge, a proof signed without `jwk`. A 403
//   restarts the refresh with the challenge cached from its header (at most 4 signatures per
//   refresh, as Chromium's kMaxChallenges = 5). A 200 with an empty body keeps the config; with
//   JSON, the config is replaced, or the session ends on `{"continue": false}`. Any other 4xx
//   ends the session; a 5xx or a network error leaves it and marks the deferred request with
//   `Secure-Session-Skipped`.
// - A cookie jar honouring Max-Age, Expires, Path (default path, path-match, longest first) and
//   deletion; a clock the test can move (`advance`), since the gateway's 600 s cannot be waited.
//
// Everything it does goes to `events` ({ type, ... }), so a test can say what was sent and what
// came back. The crafting helpers (`signProof`, `DeviceKey`) let the attack tests send what no
// browser would.
import { webcrypto } from "node:crypto";

const subtle = (globalThis.crypto ?? webcrypto).subtle;
const te = new TextEncoder();

export const b64u = (bytes) => Buffer.from(bytes).toString("base64url");
export const b64uJson = (value) => b64u(te.encode(typeof value === "string" ? value : JSON.stringify(value)));
export const fromB64u = (text) => Buffer.from(text, "base64url");

/** The header and payload of a JWT, parsed (no verification): for tests to look inside. */
export function decodeJwt(jwt) {
  const [h, p] = jwt.split(".");
  return { header: JSON.parse(fromB64u(h)), payload: JSON.parse(fromB64u(p)) };
}

// ---------------------------------------------------------------------------------------------
// Structured fields (RFC 9651), the parts DBSC uses: lists of items or inner lists, with
// parameters; bare items string, token, integer, decimal, boolean, byte sequence.

class SfParser {
  constructor(text) {
    this.s = text;
    this.i = 0;
  }
  fail(what) {
    throw new SyntaxError(`structured field: ${what} at ${this.i} in ${JSON.stringify(this.s)}`);
  }
  ows() {
    while (this.s[this.i] === " " || this.s[this.i] === "\t") this.i++;
  }
  sp() {
    while (this.s[this.i] === " ") this.i++;
  }
  list() {
    const members = [];
    this.sp();
    if (this.i >= this.s.length) return members;
    for (;;) {
      members.push(this.s[this.i] === "(" ? this.innerList() : this.item());
      this.ows();
      if (this.i >= this.s.length) return members;
      if (this.s[this.i] !== ",") this.fail("expected ','");
      this.i++;
      this.ows();
      if (this.i >= this.s.length) this.fail("trailing ','");
    }
  }
  item() {
    const value = this.bare();
    return { value, params: this.params() };
  }
  innerList() {
    this.i++; // (
    const items = [];
    for (;;) {
      this.sp();
      if (this.s[this.i] === ")") {
        this.i++;
        return { value: items, inner: true, params: this.params() };
      }
      if (this.i >= this.s.length) this.fail("unterminated inner list");
      items.push(this.item());
      if (this.s[this.i] !== " " && this.s[this.i] !== ")") this.fail("expected ' ' or ')'");
    }
  }
  params() {
    const params = {};
    while (this.s[this.i] === ";") {
      this.i++;
      this.sp();
      const key = this.key();
      let value = true;
      if (this.s[this.i] === "=") {
        this.i++;
        value = this.bare();
      }
      params[key] = value;
    }
    return params;
  }
  key() {
    const m = /^[a-z*][a-z0-9_\-.*]*/.exec(this.s.slice(this.i));
    if (!m) this.fail("expected a key");
    this.i += m[0].length;
    return m[0];
  }
  bare() {
    const c = this.s[this.i];
    if (c === '"') return this.string();
    if (c === ":") {
      const end = this.s.indexOf(":", this.i + 1);
      if (end < 0) this.fail("unterminated byte sequence");
      const bytes = Buffer.from(this.s.slice(this.i + 1, end), "base64");
      this.i = end + 1;
      return { bytes };
    }
    if (c === "?") {
      const b = this.s[this.i + 1];
      if (b !== "0" && b !== "1") this.fail("bad boolean");
      this.i += 2;
      return b === "1";
    }
    if (c === "-" || (c >= "0" && c <= "9")) {
      const m = /^-?\d{1,15}(\.\d{1,3})?/.exec(this.s.slice(this.i));
      if (!m) this.fail("bad number");
      this.i += m[0].length;
      return Number(m[0]);
    }
    if (c === "*" || /[A-Za-z]/.test(c || "")) {
      const m = /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*/.exec(this.s.slice(this.i));
      this.i += m[0].length;
      return { token: m[0] };
    }
    this.fail("expected an item");
  }
  string() {
    this.i++; // "
    let out = "";
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined) this.fail("unterminated string");
      if (c === "\\") {
        const n = this.s[this.i++];
        if (n !== '"' && n !== "\\") this.fail("bad escape");
        out += n;
      } else if (c === '"') {
        return out;
      } else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) this.fail("non-ASCII in string");
        out += c;
      }
    }
  }
}

/** An RFC 9651 list: [{ value, inner?, params }]; a bare string item's value is a JS string,
 * a token `{ token }`. Throws SyntaxError on anything else (the whole field is then ignored). */
export function parseSfList(text) {
  return new SfParser(text).list();
}

/** An sf-string, quoted and escaped. */
export const sfString = (s) => `"${String(s).replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/**
 * The `Secure-Session-Registration` header's entries as the draft's "process a session
 * registration" reads them: inner lists with a string `path`; `challenge` and `authorization`,
 * when present, strings (else the entry is skipped). `algs` are the tokens of the inner list.
 */
export function parseRegistration(text) {
  const out = [];
  for (const member of parseSfList(text)) {
    if (!member.inner) continue;
    const { path, challenge, authorization } = member.params;
    if (typeof path !== "string") continue;
    if (challenge !== undefined && typeof challenge !== "string") continue;
    if (authorization !== undefined && typeof authorization !== "string") continue;
    const algs = member.value.filter((i) => i.value?.token).map((i) => i.value.token);
    out.push({ algs, path, challenge: challenge ?? null, authorization: authorization ?? null });
  }
  return out;
}

/** The `Secure-Session-Challenge` header: [{ challenge, id }] (string items with a string `id`). */
export function parseChallenges(text) {
  const out = [];
  for (const member of parseSfList(text)) {
    if (typeof member.value !== "string") continue;
    if (typeof member.params.id !== "string") continue;
    out.push({ challenge: member.value, id: member.params.id });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Keys and proofs.

const ALGS = {
  ES256: {
    generate: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
  },
  RS256: {
    generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
};

/** A browser's key pair: the private key cannot be exported (as a TPM-backed key). */
export class DeviceKey {
  static async generate(alg = "ES256") {
    const spec = ALGS[alg];
    if (!spec) throw new Error(`unsupported algorithm ${alg}`);
    const pair = await subtle.generateKey(spec.generate, false, ["sign", "verify"]);
    const full = await subtle.exportKey("jwk", pair.publicKey);
    // The public JWK as Chromium writes it (ConvertPkeySpkiToJwk): only the key's members.
    const jwk = alg === "ES256" ? { crv: full.crv, kty: "EC", x: full.x, y: full.y } : { e: full.e, kty: "RSA", n: full.n };
    const key = new DeviceKey();
    Object.assign(key, { alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk });
    return key;
  }

  /** RFC 7638 thumbprint (SHA-256, base64url): what the gateway binds as `cnf.jkt`. */
  async thumbprint() {
    const members = this.alg === "ES256" ? ["crv", "kty", "x", "y"] : ["e", "kty", "n"];
    const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, this.jwk[m]])));
    return b64u(await subtle.digest("SHA-256", te.encode(canonical)));
  }

  /** The raw signature WebCrypto makes (ES256: r||s, 64 bytes, as JWS wants). */
  async sign(bytes) {
    return new Uint8Array(await subtle.sign(ALGS[this.alg].sign, this.privateKey, bytes));
  }

  async verify(signature, bytes) {
    return subtle.verify(ALGS[this.alg].sign, this.publicKey, signature, bytes);
  }
}

/**
 * A DBSC proof JWT signed by `key`, as Chromium makes it: header `{"alg","jwk"?,"typ"}`
 * (base::Value::Dict keeps its members sorted), payload `{"authorization"?,"jti"}`.
 * `jwk: true` for a registration (the public key in the header), false for a refresh.
 * For attacks: `header` / `payload` replace the objects (or give raw text), `signature` replaces
 * the signature bytes, `alg` overrides the header's algorithm.
 */
export async function signProof(key, { jti, authorization, jwk = false, header, payload, alg, signature } = {}) {
  const h =
    header ??
    Object.fromEntries(
      [
        ["alg", alg ?? key.alg],
        ["jwk", jwk ? key.jwk : undefined],
        ["typ", "dbsc+jwt"],
      ].filter(([, v]) => v !== undefined),
    );
  const p = payload ?? (authorization == null ? { jti } : { authorization, jti });
  const input = `${b64uJson(h)}.${b64uJson(p)}`;
  const sig = signature ?? (await key.sign(te.encode(input)));
  return `${input}.${b64u(sig)}`;
}

// ---------------------------------------------------------------------------------------------
// Cookies (RFC 6265bis storage model, the parts the gateway uses; host-only, one host).

function defaultPath(pathname) {
  if (!pathname.startsWith("/")) return "/";
  const last = pathname.lastIndexOf("/");
  return last <= 0 ? "/" : pathname.slice(0, last);
}

function pathMatches(requestPath, cookiePath) {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}

/** The attributes of a Set-Cookie line, or of a DBSC credential's `attributes` text. */
export function parseAttributes(parts) {
  const attrs = {};
  for (const part of parts) {
    const i = part.indexOf("=");
    const name = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? "" : part.slice(i + 1).trim();
    if (name) attrs[name] = value;
  }
  return attrs;
}

export class CookieJar {
  constructor(clock) {
    this.clock = clock; // () => ms
    this.cookies = []; // { name, value, path, expires (ms or Infinity), attrs }
  }

  /** Stores the Set-Cookie lines of an answer to `url`; returns the names set or deleted. */
  take(url, lines) {
    const changed = [];
    for (const line of lines) {
      const [pair, ...rest] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const attrs = parseAttributes(rest);
      const path = attrs.path?.startsWith("/") ? attrs.path : defaultPath(new URL(url).pathname);
      let expires = Infinity;
      if ("max-age" in attrs && /^-?\d+$/.test(attrs["max-age"])) {
        const s = Number(attrs["max-age"]);
        expires = s <= 0 ? -Infinity : this.clock() + s * 1000;
      } else if ("expires" in attrs) {
        const t = Date.parse(attrs.expires);
        if (!Number.isNaN(t)) expires = t;
      }
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === path));
      if (expires > this.clock()) this.cookies.push({ name, value, path, expires, attrs });
      changed.push(name);
    }
    return changed;
  }

  purge() {
    const now = this.clock();
    this.cookies = this.cookies.filter((c) => c.expires > now);
  }

  /** The live cookies a request to `url` carries, longest path first. */
  for(url) {
    this.purge();
    const { pathname } = new URL(url);
    return this.cookies.filter((c) => pathMatches(pathname, c.path)).sort((a, b) => b.path.length - a.path.length);
  }

  header(url) {
    return this.for(url)
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }

  /** The live value of `name` (any path), or undefined. */
  get(name) {
    this.purge();
    return this.cookies.find((c) => c.name === name)?.value;
  }

  delete(name) {
    this.cookies = this.cookies.filter((c) => c.name !== name);
  }
}

// ---------------------------------------------------------------------------------------------
// The browser.

/** URL `url` in `session`'s scope (draft: "Identify if a URL is in scope of a session"). */
function inScope(session, url) {
  const u = new URL(url);
  if (u.origin !== session.origin) return false; // include_site false: same origin
  if (u.origin + u.pathname === session.refreshUrl.replace(/[?#].*$/, "")) return false;
  for (const rule of [...session.rules].reverse()) {
    const domain = rule.domain ?? "*";
    const host = u.hostname;
    const domainOk =
      domain === "*" || domain === host || (domain.startsWith("*.") && host.endsWith(domain.slice(1)));
    if (!domainOk) continue;
    const p = rule.path ?? "/";
    if (u.pathname === p || (p.endsWith("/") && u.pathname.startsWith(p)) || u.pathname.startsWith(`${p}/`)) {
      return rule.type === "include";
    }
  }
  return true;
}

export class DbscBrowser {
  /**
   * `base`: the site's URL (the gateway). `algs`: what this "device" supports, in preference
   * order (Chromium picks the first the server offers that it supports).
   */
  constructor(base, { algs = ["ES256", "RS256"], quote = false, fetch: doFetch = globalThis.fetch } = {}) {
    this.base = base.replace(/\/$/, "");
    this.algs = algs;
    // `quote`: send Secure-Session-Response and Sec-Secure-Session-Id as sf-strings, as the
    // draft writes them, instead of raw as Chromium sends them.
    this.wire = quote ? sfString : (v) => v;
    this.fetch = doFetch;
    this.offset = 0; // ms added to the real clock by advance()
    this.jar = new CookieJar(() => Date.now() + this.offset);
    this.sessions = new Map(); // id -> session
    this.events = [];
    this.keys = []; // every key pair made, in order (a test may reuse one elsewhere)
  }

  /** Moves this browser's clock (cookies expire by it); the server's clock does not move. */
  advance(seconds) {
    this.offset += seconds * 1000;
  }

  log(type, detail = {}) {
    const event = { type, ...detail };
    this.events.push(event);
    return event;
  }

  /** Events of `type` (or all). */
  seen(type) {
    return type ? this.events.filter((e) => e.type === type) : this.events;
  }

  /** The one live session (throws unless exactly one). */
  session() {
    const all = [...this.sessions.values()];
    if (all.length !== 1) throw new Error(`expected one DBSC session, have ${all.length}: ${JSON.stringify(this.events, null, 1)}`);
    return all[0];
  }

  /** Drops every session's bound cookies from the jar, as their expiry would. */
  dropBoundCookies() {
    for (const s of this.sessions.values()) for (const c of s.credentials) this.jar.delete(c.name);
  }

  /** One HTTP exchange, cookies in and out, no DBSC processing. */
  async exchange(url, init = {}) {
    const headers = new Headers(init.headers || {});
    if (!headers.has("cookie")) {
      const cookie = this.jar.header(url);
      if (cookie) headers.set("cookie", cookie);
    }
    const res = await this.fetch(url, { redirect: "manual", ...init, headers });
    const setCookies = res.headers.getSetCookie();
    this.jar.take(url, setCookies);
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { url, status: res.status, headers: res.headers, setCookies, text, body };
  }

  /**
   * A request as a page would make it: deferred while a session in scope lacks its bound
   * cookie (refreshed first), then sent; its answer processed for registration and challenges.
   * Registration is awaited (Chromium runs it in the background; a test wants it done).
   */
  async request(path, init = {}) {
    const url = new URL(path, this.base + "/").href;
    const headers = new Headers(init.headers || {});
    const skipped = [];
    for (const session of [...this.sessions.values()]) {
      if (!inScope(session, url) || !this.missingCredential(session, url)) continue;
      this.log("deferred", { url, session: session.id });
      const outcome = await this.refresh(session);
      if (outcome.skipped) skipped.push(`${outcome.skipped};session_identifier=${sfString(session.id)}`);
    }
    if (skipped.length) {
      headers.set("secure-session-skipped", skipped.join(", "));
      this.log("sent_skipped", { url, header: headers.get("secure-session-skipped") });
    }
    const res = await this.exchange(url, { ...init, headers });
    await this.process(res);
    return res;
  }

  /** Whether a request to `url` would lack one of `session`'s bound cookies. */
  missingCredential(session, url) {
    const sent = this.jar.for(url);
    return session.credentials.some((c) => {
      const path = c.attrs.path || "/";
      if (!pathMatches(new URL(url).pathname, path)) return false; // would not be attached anyway
      return !sent.some((k) => k.name === c.name && k.path === path);
    });
  }

  /** Reads an answer's DBSC headers: caches challenges, runs registrations. */
  async process(res) {
    this.cacheChallenges(res);
    const header = res.headers.get("secure-session-registration");
    if (header === null) return;
    let entries;
    try {
      entries = parseRegistration(header);
    } catch (e) {
      this.log("registration_header_ignored", { header, reason: e.message });
      return;
    }
    for (const entry of entries) await this.register(entry, res.url);
  }

  cacheChallenges(res) {
    const header = res.headers.get("secure-session-challenge");
    if (header === null) return;
    let list;
    try {
      list = parseChallenges(header);
    } catch (e) {
      this.log("challenge_header_ignored", { header, reason: e.message });
      return;
    }
    for (const { challenge, id } of list) {
      const session = this.sessions.get(id);
      if (session) {
        session.challenge = challenge;
        this.log("challenge_cached", { session: id, challenge });
      } else {
        this.log("challenge_unknown_session", { id, challenge });
      }
    }
  }

  /** Registration (draft: "process a session registration", "send a request", "create a session"). */
  async register({ algs, path, challenge, authorization }, responseUrl) {
    const alg = this.algs.find((a) => algs.includes(a));
    if (!alg) return this.log("registration_skipped", { reason: "no supported algorithm", offered: algs });
    const endpoint = new URL(path, responseUrl).href;
    if (new URL(endpoint).origin !== new URL(responseUrl).origin) {
      // Same site is what the draft asks; one host here, so the same origin.
      return this.log("registration_skipped", { reason: "endpoint not same-site", endpoint });
    }
    const key = await DeviceKey.generate(alg);
    this.keys.push(key);
    const proof = await signProof(key, { jti: challenge, authorization, jwk: true });
    const headers = { "secure-session-response": this.wire(proof), origin: new URL(responseUrl).origin };
    if (authorization != null) headers.authorization = authorization;
    const res = await this.exchange(endpoint, { method: "POST", headers });
    const sent = { endpoint, alg, challenge, authorization, proof };
    if (res.status < 200 || res.status >= 300) {
      return this.log("registration_failed", { ...sent, status: res.status, body: res.text });
    }
    const created = this.createSession(res, endpoint, null, key);
    if (created.error) return this.log("registration_failed", { ...sent, status: res.status, body: res.text, reason: created.error });
    this.cacheChallenges(res); // the draft runs "cache challenge" on the answer once the session exists
    return this.log("registered", { ...sent, session: created.session.id, status: res.status });
  }

  /** Draft "create a session": validates the config; returns { session } or { error }. */
  createSession(res, destination, sessionId, key) {
    let config;
    try {
      config = JSON.parse(res.text);
    } catch {
      return { error: "body is not JSON" };
    }
    if (typeof config !== "object" || config === null || Array.isArray(config)) return { error: "config is not an object" };
    if (config.continue === false) return { end: true };
    const id = config.session_identifier;
    if (typeof id !== "string" || !id) return { error: "session_identifier missing" };
    if (sessionId !== null && id !== sessionId) return { error: `session_identifier ${id} is not ${sessionId}` };
    const scope = config.scope;
    if (typeof scope !== "object" || scope === null) return { error: "scope missing" };
    if (typeof scope.include_site !== "boolean") return { error: "scope.include_site missing" };
    if (scope.include_site) return { error: "include_site true: this client keeps origin scopes only" };
    const dest = new URL(destination);
    let origin = dest.origin;
    if (scope.origin !== undefined) {
      try {
        origin = new URL(scope.origin).origin;
      } catch {
        return { error: `scope.origin ${scope.origin} is not an origin` };
      }
      if (origin !== scope.origin.replace(/\/$/, "")) return { error: `scope.origin ${scope.origin} is not an origin` };
    }
    if (origin !== dest.origin) return { error: `scope.origin ${origin} is not the site of ${dest.origin}` };
    const refreshUrl = config.refresh_url === undefined ? destination : new URL(config.refresh_url, destination).href;
    if (new URL(refreshUrl).origin !== dest.origin) return { error: `refresh_url ${refreshUrl} is another site` };
    if (!Array.isArray(config.credentials) || config.credentials.length === 0) return { error: "credentials missing" };
    const credentials = [];
    for (const c of config.credentials) {
      if (c?.type !== "cookie") return { error: `credential type ${c?.type}` };
      if (typeof c.name !== "string" || !c.name) return { error: "credential name missing" };
      const attributes = typeof c.attributes === "string" ? c.attributes : "";
      const attrs = parseAttributes(attributes.split(";"));
      if ("partitioned" in attrs) return { error: "credential is Partitioned" };
      credentials.push({ name: c.name, attributes, attrs });
    }
    const rules = Array.isArray(scope.scope_specification) ? scope.scope_specification : [];
    const previous = this.sessions.get(id);
    const session = {
      id,
      origin,
      refreshUrl,
      rules,
      credentials,
      key,
      alg: key.alg,
      challenge: previous?.challenge ?? null,
      config,
    };
    this.sessions.set(id, session);
    return { session };
  }

  /**
   * Refresh (draft: "send a request" with a session id): `{ refreshed }`, `{ ended }`,
   * `{ skipped: token }` or `{ failed }`. Every request and answer is in `events`.
   */
  async refresh(session) {
    let signatures = 0;
    for (;;) {
      let proof = null;
      const challenge = session.challenge;
      if (challenge !== null) {
        // Chromium's kMaxChallenges = 5: the fifth signature in one refresh is not made.
        if (++signatures >= 5) {
          this.log("refresh_failed", { session: session.id, reason: "too many challenges" });
          return { failed: "too_many_challenges" };
        }
        proof = await signProof(session.key, { jti: challenge });
      }
      const headers = { "sec-secure-session-id": this.wire(session.id), origin: session.origin };
      if (proof) headers["secure-session-response"] = this.wire(proof);
      let res;
      try {
        res = await this.exchange(session.refreshUrl, { method: "POST", headers });
      } catch (e) {
        this.log("refresh_unreachable", { session: session.id, reason: e.message });
        return { skipped: "unreachable" };
      }
      const sent = { session: session.id, challenge: proof ? challenge : null, proof };
      const answer = { status: res.status, body: res.text, challengeHeader: res.headers.get("secure-session-challenge") };
      this.cacheChallenges(res);
      if (res.status === 403) {
        this.log("refresh_challenged", { ...sent, ...answer });
        // Chromium (OnChallengeNeeded): again with the session's cached challenge, which this
        // answer's header replaced; none at all is kInvalidChallenge.
        if (session.challenge === null) {
          this.log("refresh_failed", { ...sent, ...answer, reason: "403 without a challenge" });
          return { failed: "invalid_challenge" };
        }
        continue;
      }
      if (res.status >= 300 && res.status < 400) {
        this.log("refresh_failed", { ...sent, ...answer, reason: "redirect" });
        return { failed: "redirect" };
      }
      if (res.status >= 400 && res.status < 500) {
        this.sessions.delete(session.id);
        this.log("session_ended", { ...sent, ...answer, reason: `status ${res.status}` });
        return { ended: true };
      }
      if (res.status >= 500) {
        this.log("refresh_skipped", { ...sent, ...answer, reason: "server_error" });
        return { skipped: "server_error" };
      }
      if (res.text === "") {
        this.log("refreshed", { ...sent, ...answer, config: "unchanged" });
        return { refreshed: true };
      }
      const created = this.createSession(res, session.refreshUrl, session.id, session.key);
      if (created.end || created.error) {
        this.sessions.delete(session.id);
        this.log("session_ended", { ...sent, ...answer, reason: created.end ? "continue: false" : created.error });
        return { ended: true };
      }
      this.log("refreshed", { ...sent, ...answer, config: "replaced" });
      return { refreshed: true };
    }
  }
}
