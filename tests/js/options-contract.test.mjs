// The options interfaces of the package's types against what the library accepts at run time.
// Every call and constructor refuses an option name it does not know (`invalid_config`, so that a
// misspelt option is not silently ignored): a name the types declare that the reader refuses
// throws for a user who followed the types; a name the reader takes that the types leave out is
// one a TypeScript user cannot pass. For each options interface of the .d.ts files (wasm-bindgen's
// of the builds js-test makes, whose declarations are those of the npm package, and npm/hono.d.ts),
// read by a small parser of `export interface X { ... }` blocks, this test
//   1. calls the API the interface is for (CONTRACTS below: the mapping, written out) with each
//      member set to a valid value, and checks that it is taken;
//   2. checks that a misspelling of each member, and every option name of the package that is
//      not a member, is refused as an unknown option;
//   3. compares the member names with the reader's own list of names in the sources
//      (src/js/*.rs, npm/hono.js).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { KEYS_1, NOW, SECRET_1, SECRET_2, importHono, pkg } from "./fixtures.mjs";

const ROOT = resolve(fileURLToPath(import.meta.url), "../../..");
const require = createRequire(import.meta.url);
const read = (path) => readFileSync(join(ROOT, path), "utf8");
const store = require(join(ROOT, "target/pkg-store/edge_session.js"));
const assertion = require(join(ROOT, "target/pkg-assertion/edge_session.js"));
const dbsc = require(join(ROOT, "target/pkg-dbsc/edge_session.js"));

// ---------------------------------------------------------------------------------------------
// The types: `export interface X<...> extends A, B { ... }` blocks of a .d.ts text.

/** The text without comments (none of the declarations has `//` or `/*` inside a string). */
const uncommented = (text) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");

/** The parts of `body` separated by `sep` outside brackets ({}, (), []). */
function split(body, sep) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if ("{([".includes(c)) depth++;
    else if ("})]".includes(c)) depth--;
    else if (c === sep && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** The body of the block opened by the `{` at `open`, and where it ends. */
function block(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error("unbalanced braces");
}

/** The member names of a type literal's body (`a?: T; b: U;`); `[k: string]: V` gives "[index]". */
function members(body) {
  return split(body, ";").map((member) => {
    if (member.startsWith("[")) return "[index]";
    const m = member.match(/^(?:readonly\s+)?([A-Za-z_$][\w$]*)\??\s*[:(<]/);
    if (!m) throw new Error(`a member not understood: ${member}`);
    return m[1];
  });
}

/**
 * Every `export interface` of a .d.ts text: name -> { members, extends }; and every
 * `export type X = Base & ( | { ... } | { ... } )` (options of which one of several members is
 * given), whose members are those of its type literals.
 */
function interfaces(dts) {
  const text = uncommented(dts);
  const found = new Map();
  for (const m of text.matchAll(/export interface (\w+)(?:<[^{]*?>)?(?:\s+extends\s+([^{]+))?\s*\{/g)) {
    const body = block(text, m.index + m[0].length - 1);
    const parents = m[2] ? split(m[2], ",").map((p) => p.replace(/<.*$/, "").trim()) : [];
    found.set(m[1], { members: members(body), extends: parents });
  }
  for (const m of text.matchAll(/export type (\w+) = (\w+) & \(/g)) {
    const union = text.slice(m.index + m[0].length, text.indexOf(");", m.index));
    const branches = split(union, "|").map((branch) => members(block(branch, branch.indexOf("{"))));
    found.set(m[1], { members: [...new Set(branches.flat())], extends: [m[2]] });
  }
  return found;
}

const DTS = {
  base: interfaces(read("pkg-node/edge_session.d.ts")),
  store: interfaces(read("target/pkg-store/edge_session.d.ts")),
  assertion: interfaces(read("target/pkg-assertion/edge_session.d.ts")),
  dbsc: interfaces(read("target/pkg-dbsc/edge_session.d.ts")),
  hono: interfaces(read("npm/hono.d.ts")),
};

/** The member names of interface `name` of the types `where`, inherited ones included. */
function memberNames(where, name) {
  const found = DTS[where].get(name) ?? DTS.base.get(name);
  assert.ok(found, `interface ${name} in the ${where} types`);
  return [...new Set([...found.extends.flatMap((p) => memberNames(where, p)), ...found.members])].sort();
}

/** The members of an inline type literal of a function's parameter in npm/hono.d.ts. */
function inlineParameter(fn, param) {
  const text = uncommented(read("npm/hono.d.ts"));
  const m = text.match(new RegExp(`export function ${fn}\\([^)]*?\\b${param}\\??:\\s*\\{`));
  assert.ok(m, `npm/hono.d.ts: ${fn}(${param}: { ... })`);
  return members(block(text, m.index + m[0].length - 1)).sort();
}

// ---------------------------------------------------------------------------------------------
// The readers' own lists of names, in the sources.

/** The names of `&["a", "b"]` (or `["a", "b"]`) in `text`. */
const names = (list) => [...list.matchAll(/"([A-Za-z_$][\w$]*)"/g)].map((m) => m[1]).sort();

/** The names `Fields::new(...)` takes first after `fn <name>(` in src/js/config.rs. */
function fieldsOf(fn, what = "config") {
  const text = read("src/js/config.rs");
  const start = text.indexOf(`fn ${fn}(`);
  assert.ok(start >= 0, `src/js/config.rs: fn ${fn}`);
  const m = text.slice(start).match(new RegExp(`Fields::new\\(\\s*[^,]+,\\s*"${what.replace(/[[\]]/g, "\\$&")}",\\s*&\\[([^\\]]*)\\]`));
  assert.ok(m, `src/js/config.rs: Fields::new(.., "${what}", ..) in fn ${fn}`);
  return names(m[1]);
}

/** The names of `CallOptions::<kind>` (src/js/mod.rs): its row of NAMES, by its discriminant. */
function callOptionsOf(kind) {
  const text = read("src/js/mod.rs");
  const index = Number(text.match(new RegExp(`^\\s*${kind} = (\\d+),`, "m"))?.[1]);
  assert.ok(Number.isInteger(index), `src/js/mod.rs: CallOptions::${kind}`);
  const rows = text.match(/const NAMES = \[\n([\s\S]*?)\n\];/)?.[1].split("\n").map((l) => l.trim());
  assert.ok(rows, "src/js/mod.rs: const NAMES");
  const row = rows[index];
  return row === "undefined," ? undefined : names(row);
}

/**
 * The names a route's request is read by (src/js/mod.rs, its row of READ: `o.<name>`), but
 * `headers`, which makes it a Fetch Request (the other type `route` takes).
 */
function routeReads() {
  const text = uncommented(read("src/js/mod.rs"));
  const body = text.match(/const READ = \[([\s\S]*?)\n\];/)?.[1];
  assert.ok(body, "src/js/mod.rs: const READ");
  const index = Number(text.match(/^\s*Route = (\d+),/m)?.[1]);
  const row = split(body, ",")[index];
  return [...new Set([...row.matchAll(/\bo\.(\w+)/g)].map((m) => m[1]))].filter((n) => n !== "headers").sort();
}

/** The names `read(options, &[...])` takes in `DeviceBoundSessions::<fn>` (src/js/dbsc.rs). */
function dbscMethod(fn) {
  const text = read("src/js/dbsc.rs");
  const m = text.match(new RegExp(`pub fn ${fn}\\([\\s\\S]*?read\\((?:Some\\()?options\\)?, &\\[([^\\]]*)\\]\\)`));
  assert.ok(m, `src/js/dbsc.rs: fn ${fn} reading its options`);
  return names(m[1]);
}

/** The names of `checkOptions("<what>", ..., [...])` in npm/hono.js (or of `NAME`, a list
 * given as `checkOptions("<what>", ..., NAME)` and defined as `const NAME = [...]`). */
function honoChecked(what) {
  const text = read("npm/hono.js");
  const m = text.match(new RegExp(`checkOptions\\("${what}", [^,]+, (?:\\[([^\\]]*)\\]|(\\w+))\\)`));
  assert.ok(m, `npm/hono.js: checkOptions("${what}", ...)`);
  if (m[1] !== undefined) return names(m[1]);
  const list = text.match(new RegExp(`const ${m[2]} = \\[([^\\]]*)\\]`));
  assert.ok(list, `npm/hono.js: const ${m[2]} = [...]`);
  return names(list[1]);
}

// ---------------------------------------------------------------------------------------------
// The calls, and what counts as a refusal.

const KV = {
  async get() {
    return null;
  },
  async put() {},
  async delete() {},
  async list() {
    return { keys: [], list_complete: true };
  },
};
const DURABLE = { idFromName: (name) => name, get: () => ({ fetch: async () => new Response("null") }) };

const tokens = new pkg.SessionTokens({ keys: KEYS_1 });
const sealed = new pkg.SealedTokens({ keys: KEYS_1 });
const JWT = tokens.signJwt({ sub: "u" }, { now: NOW, issuer: "https://issuer.example", audience: "aud" });
const COMPACT = tokens.sign({ sub: "u", iss: "https://issuer.example", aud: "aud" }, { now: NOW });
const SEALED = sealed.sign({ sub: "u", iss: "https://issuer.example", aud: "aud" }, { now: NOW });
const router = () => new pkg.Affinity({ secret: SECRET_1, backends: [{ id: "a" }] });
const memoryStore = () => new store.SessionStore({ keys: KEYS_1 });
const signer = new assertion.OriginAssertions({ alg: "EdDSA", keys: KEYS_1, issuer: "https://app.example" });
const sessions = new dbsc.DeviceBoundSessions({ keys: KEYS_1 });
const JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
let PRIVATE_JWK, DEVICE_JWK, ASSERTION, mw, removeHono;

before(async () => {
  const ed = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  PRIVATE_JWK = { ...(await crypto.subtle.exportKey("jwk", ed.privateKey)), kid: "k1" };
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", ec.publicKey);
  DEVICE_JWK = JSON.stringify({ kty, crv, x, y });
  ASSERTION = await signer.sign({ audience: "https://origin.example", claims: { sub: "u" }, data: "{}", now: NOW });
  ({ module: mw, remove: removeHono } = await importHono());
});
after(() => removeHono());

/**
 * Calls `call(c)` in a handler of the Hono middleware (a request of an app on a memory store,
 * its variable "session"), throwing what it threw.
 */
async function inHandler(call) {
  const app = new Hono();
  let thrown;
  app.use(mw.sessionStore(memoryStore()));
  app.get("/", async (c) => {
    try {
      await call(c);
    } catch (e) {
      thrown = e;
    }
    return c.text("ok");
  });
  await app.request("/");
  if (thrown) throw thrown;
}
const login = (options) => inHandler((c) => mw.login(c, "alice", options));
const logout = (options) => inHandler((c) => mw.logout(c, options));

/**
 * The contract: each options interface, where its types are, the API calls that take it (each
 * given the options; `base` holds what the options need besides the member tried, `alone` a base
 * of its own for a member), a valid value for every member (and in `also`, other values the
 * types allow: `null`, each `sameSite`...), the reader's names in the sources, and the calls'
 * errors that are not about the options (a made-up proof is `malformed`).
 */
const CONTRACTS = [
  {
    name: "SessionTokensConfig",
    types: "base",
    base: { keys: KEYS_1 },
    valid: {
      keys: KEYS_1,
      ttlSeconds: 600,
      leewaySeconds: 10,
      purpose: "p",
      maxTokenBytes: 2048,
      refreshAfter: 0.25,
      maxLifetimeSeconds: 86400,
    },
    calls: [(o) => new pkg.SessionTokens(o), (o) => new pkg.SealedTokens(o)],
    source: () => fieldsOf("token_config"),
  },
  {
    name: "KeyConfig",
    types: "base",
    base: { id: "k1", secret: SECRET_1 },
    valid: { id: "k1", secret: SECRET_1 },
    calls: [
      (o) => new pkg.SessionTokens({ keys: [o] }),
      // The store reads its keyring as JSON: another name is refused as a wrong `keys`.
      Object.assign((o) => new store.SessionStore({ keys: [o] }), {
        refused: (e) => e?.code === "invalid_config" && e.setting === "keys",
      }),
      (o) => new assertion.OriginAssertions({ alg: "EdDSA", keys: [o], issuer: "https://app.example" }),
      (o) => new dbsc.DeviceBoundSessions({ keys: [o] }),
    ],
    source: () => fieldsOf("key_configs", "keys[]"),
  },
  {
    name: "SignOptions",
    types: "base",
    valid: { now: NOW, ttlSeconds: 60 },
    calls: [(o) => tokens.sign({ sub: "u" }, o), (o) => sealed.sign({ sub: "u" }, o)],
    source: () => callOptionsOf("Sign"),
  },
  {
    name: "JwtSignOptions",
    types: "base",
    valid: { now: NOW, ttlSeconds: 60, issuer: "https://issuer.example", audience: "aud" },
    calls: [(o) => tokens.signJwt({ sub: "u" }, o)],
    source: () => callOptionsOf("SignJwt"),
  },
  {
    name: "VerifyOptions",
    types: "base",
    base: { now: NOW },
    valid: { now: NOW, issuer: "https://issuer.example", audience: "aud", minIssuedAt: NOW - 60 },
    also: { minIssuedAt: [() => NOW - 60, () => undefined, () => null] },
    calls: [
      (o) => tokens.verify(COMPACT, o),
      (o) => tokens.verifyDetailed(COMPACT, o),
      (o) => tokens.refresh(COMPACT, o),
      (o) => tokens.verifyJwt(JWT, o),
      (o) => tokens.verifyJwtDetailed(JWT, o),
      (o) => sealed.verify(SEALED, o),
      (o) => sealed.verifyDetailed(SEALED, o),
      (o) => sealed.refresh(SEALED, o),
    ],
    source: () => callOptionsOf("Verify"),
  },
  {
    name: "AffinityConfig",
    types: "base",
    base: { secret: SECRET_1, backends: [{ id: "a" }] },
    alone: {
      domain: { secret: SECRET_1, backends: [{ id: "a" }], cookieName: "aff" },
      header: { secret: SECRET_1, backends: [{ id: "a" }], mode: "header" },
    },
    valid: {
      secret: SECRET_1,
      previousSecrets: [SECRET_2],
      mode: "url",
      backends: [{ id: "a" }, { id: "b", weight: 2 }],
      ttlSeconds: 3600,
      idleSeconds: 600,
      cookieName: "__Host-aff",
      sameSite: "Strict",
      domain: "example.com",
      partitioned: true,
      failover: "strict",
      param: "_a",
      header: "x-tenant",
    },
    calls: [(o) => new pkg.Affinity(o)],
    source: () => fieldsOf("affinity_config"),
  },
  {
    name: "AffinityBackend",
    types: "base",
    base: { id: "a" },
    valid: { id: "a", weight: 3 },
    calls: [(o) => new pkg.Affinity({ secret: SECRET_1, backends: [o] })],
    source: () => fieldsOf("affinity_config", "backends[]"),
  },
  {
    // A route's request is read as a Fetch Request when it has `headers`: other names are let
    // through (the one options object that does not refuse them; see `CallOptions::Route`).
    name: "RouteRequest",
    types: "base",
    valid: { cookie: "a=b", url: "https://app.example/", clientIp: "192.0.2.1", header: "t", method: "POST", secFetchSite: "same-origin", now: NOW },
    also: { cookie: [null], url: [null], clientIp: [null], header: [null], method: [null], secFetchSite: [null, "cross-site"] },
    calls: [(o) => router().route(o)],
    source: () => routeReads(),
    open: true,
  },
  {
    name: "CookieOptions",
    types: "base",
    valid: {
      maxAge: 60,
      path: "/app",
      domain: "example.com",
      sameSite: "Strict",
      httpOnly: true,
      secure: true,
      partitioned: true,
    },
    also: { sameSite: ["Lax", "None"], httpOnly: [false], secure: [false], partitioned: [false] },
    calls: [(o) => pkg.setCookie("sid", "v", o), (o) => pkg.clearCookie("sid", o)],
    source: () => callOptionsOf("Cookie"),
  },
  {
    name: "SessionStoreConfig",
    types: "store",
    base: { keys: KEYS_1 },
    valid: {
      keys: KEYS_1,
      kv: KV,
      durableObject: DURABLE,
      idleTimeoutSeconds: 900,
      absoluteTimeoutSeconds: 3600,
      touchIntervalSeconds: 30,
      maxDataBytes: 1000,
      purpose: "p",
      timeoutMs: 1000,
      cookieName: "__Host-s",
      cookieOptions: { sameSite: "Strict" },
    },
    calls: [(o) => new store.SessionStore(o)],
    source: () => fieldsOf("store_config"),
  },
  {
    // `cookieOptions` of a SessionStore: `Omit<CookieOptions, "maxAge">` (Max-Age is the store's).
    name: "SessionStoreConfig.cookieOptions",
    types: "store",
    members: () => memberNames("store", "CookieOptions").filter((n) => n !== "maxAge"),
    valid: { path: "/", domain: "example.com", sameSite: "Strict", httpOnly: true, secure: true, partitioned: true },
    calls: [(o) => new store.SessionStore({ keys: KEYS_1, cookieName: "sid", cookieOptions: o })],
    // maxAge, a name of the reader's, is refused on its own: the store sets Max-Age itself.
    refusedOtherwise: { maxAge: "cookieOptions" },
    source: () => callOptionsOf("Cookie").filter((n) => n !== "maxAge"),
  },
  {
    name: "NowOptions",
    types: "store",
    valid: { now: NOW },
    calls: [
      (o) => memoryStore().load(undefined, o),
      (o) => memoryStore().find(undefined, o),
      async (o) => {
        const s = memoryStore();
        const session = await s.load(undefined, { now: NOW });
        session.set("a", 1);
        await s.commit(session, o);
        s.setCookie(session, o);
        s.cookieMaxAge(session, o);
        s.applyCookies(new Response(), session, o);
        await s.regenerate(session, o);
        await s.destroy(session, o);
      },
      (o) => memoryStore().revokeTokens("u", 60, o),
      (o) => memoryStore().endToken("u", 60, o),
      (o) => memoryStore().update(undefined, () => {}, 1, o),
    ],
    source: () => callOptionsOf("Now"),
  },
  {
    name: "UpdateOptions",
    types: "store",
    valid: { now: NOW, retries: 2 },
    calls: [(o) => memoryStore().update(undefined, (s) => s.set("a", 1), o)],
    source: () => callOptionsOf("Update"),
  },
  {
    name: "OriginAssertionsConfig",
    types: "assertion",
    base: { alg: "EdDSA", keys: KEYS_1, issuer: "https://app.example" },
    alone: { privateKeys: { alg: "EdDSA", issuer: "https://app.example" } },
    lazy: ["privateKeys"],
    valid: {
      alg: "ES256",
      keys: KEYS_1,
      privateKeys: () => [PRIVATE_JWK],
      issuer: "https://app.example",
      lifetimeSeconds: 60,
    },
    calls: [(o) => new assertion.OriginAssertions(o)],
    source: () => fieldsOf("assertion_config"),
  },
  {
    name: "AssertionSubject",
    types: "assertion",
    base: { audience: "https://origin.example" },
    valid: { audience: "https://origin.example", status: "valid", claims: { sub: "u" }, data: "{}", now: NOW },
    calls: [(o) => signer.sign(o)],
    source: () => callOptionsOf("AssertionSubject"),
  },
  {
    name: "AssertionVerifyOptions",
    types: "assertion",
    base: { audience: "https://origin.example", now: NOW },
    valid: { audience: "https://origin.example", now: NOW, leewaySeconds: 5, data: "{}" },
    also: { data: [null] },
    calls: [(o) => signer.verify(ASSERTION, o)],
    source: () => callOptionsOf("AssertionVerify"),
  },
  {
    name: "DeviceBoundSessionsConfig",
    types: "dbsc",
    base: { keys: KEYS_1 },
    valid: { keys: KEYS_1, boundSeconds: 900 },
    calls: [(o) => new dbsc.DeviceBoundSessions(o)],
    source: () => fieldsOf("dbsc_config"),
  },
  {
    name: "RegistrationHeaderOptions",
    types: "dbsc",
    base: { path: "/dbsc/register" },
    valid: { path: "/dbsc/register", authorization: "code", now: NOW },
    calls: [(o) => sessions.registrationHeader("sid", o)],
    source: () => dbscMethod("registration_header"),
  },
  {
    name: "DbscTimeOptions",
    types: "dbsc",
    valid: { now: NOW },
    calls: [
      (o) => sessions.challenge("sid", o),
      (o) => sessions.challengeHeader("sid", o),
      (o) => sessions.checkBound(sessions.boundCookie("sid", JKT, o), "sid", JKT, o),
    ],
    // A made-up proof: refused for what it is, after the options were read.
    rejected: [[(o) => sessions.verifyRegistration("e30.e30.e30", "sid", o), "malformed"]],
    source: () => [
      ...new Set(["challenge", "challenge_header", "bound_cookie", "check_bound", "verify_registration"].flatMap(dbscMethod)),
    ].sort(),
  },
  {
    name: "VerifyRefreshOptions",
    types: "dbsc",
    valid: { jkt: JKT, now: NOW },
    rejected: [[(o) => sessions.verifyRefresh("e30.e30.e30", "sid", DEVICE_JWK, o), "malformed"]],
    source: () => dbscMethod("verify_refresh"),
  },
  {
    name: "SessionConfigOptions",
    types: "dbsc",
    base: { sessionId: "sid", refreshUrl: "/dbsc/refresh", origin: "https://app.example", cookieName: "bound" },
    valid: {
      sessionId: "sid",
      refreshUrl: "/dbsc/refresh",
      origin: "https://app.example",
      cookieName: "bound",
      attributes: "Path=/; Secure",
    },
    calls: [(o) => sessions.sessionConfig(o)],
    source: () => fieldsOf("session_config", "sessionConfig"),
  },
  {
    name: "SessionTokensOptions",
    types: "hono",
    valid: { cookieName: "sess", cookie: { path: "/" }, minIssuedAt: () => undefined, refresh: false, variable: "account" },
    calls: [(o) => mw.sessionTokens(tokens, o), (o) => mw.sessionTokens(sealed, o)],
    source: () => honoChecked("sessionTokens options"),
  },
  {
    // `cookie` of sessionTokens: `Omit<CookieOptions, "maxAge">` (Max-Age is the token's life).
    name: "SessionTokensOptions.cookie",
    types: "hono",
    members: () => memberNames("base", "CookieOptions").filter((n) => n !== "maxAge"),
    valid: { path: "/", domain: "example.com", sameSite: "Strict", httpOnly: true, secure: true, partitioned: true },
    calls: [(o) => mw.sessionTokens(tokens, { cookieName: "sess", cookie: o })],
    source: () => honoChecked("sessionTokens cookie"),
  },
  {
    name: "SessionStoreOptions",
    types: "hono",
    valid: { commit: false, variable: "cart" },
    calls: [(o) => mw.sessionStore(memoryStore(), o)],
    source: () => honoChecked("sessionStore options"),
  },
  {
    name: "AffinityOptions",
    types: "hono",
    valid: { header: "x-tenant", clientIp: () => "192.0.2.1" },
    calls: [(o) => mw.affinity(router(), o)],
    source: () => honoChecked("affinity options"),
  },
  {
    name: "LoginOptions",
    types: "hono",
    valid: { variable: "session" },
    calls: [login],
    source: () => honoChecked("login options"),
  },
  {
    name: "logout's options",
    types: "hono",
    members: () => inlineParameter("logout", "options"),
    valid: { everywhere: true },
    calls: [logout],
    source: () => honoChecked("logout options"),
  },
];

const membersOf = (contract) => contract.members?.() ?? memberNames(contract.types, contract.name);
/** The valid value of a member (those of `lazy` are made in `before`: called). */
const validOf = (contract, name) => (contract.lazy?.includes(name) ? contract.valid[name]() : contract.valid[name]);
/** The options for trying `name` with `v`: the contract's base (or the member's own) plus it. */
const optionsFor = (contract, name, v) => {
  const alone = contract.alone?.[name];
  const base = alone ?? contract.base ?? {};
  return { ...base, [name]: v };
};

/** Runs `call(options)`, awaited; resolves to the error it threw or rejected with, if any. */
async function outcome(call, options) {
  try {
    await call(options);
    return undefined;
  } catch (e) {
    return e ?? new Error("thrown: nothing");
  }
}

/** True when `e` refuses `name` as an option the call does not know. */
const refusedAsUnknown = (e, name) =>
  e?.code === "invalid_config" && typeof e.message === "string" && e.message.includes(`unknown option ${JSON.stringify(name)}`);

/** Every call of a contract, with what it must end in: success (undefined) or an error code. */
const callsOf = (contract) => [
  ...(contract.calls ?? []).map((call) => [call, undefined]),
  ...(contract.rejected ?? []),
];

/**
 * The value a name is tried with where it is not a member: a valid one of a contract that has it,
 * or has it without the trailing "s" of a misspelling (so that a reader that took the name would
 * take the call), else 1.
 */
function probe(name) {
  for (const n of [name, name.replace(/s$/, "")]) {
    const contract = CONTRACTS.find((c) => Object.hasOwn(c.valid, n));
    if (contract) return validOf(contract, n);
  }
  return 1;
}

/** Every option name of the package: the members of all the contracts. */
const allNames = () => [...new Set(CONTRACTS.flatMap(membersOf))].filter((n) => n !== "[index]").sort();

test("every options interface of the types has its contract here", () => {
  const covered = new Set(CONTRACTS.map((c) => c.name));
  // Interfaces that are not options a call reads (results, bindings, JWKs, context variables).
  const notOptions = new Set([
    "RouteResult",
    "VerifiedToken",
    "VerifiedJwt",
    "EdgeSessionError",
    "KvNamespaceLike",
    "DurableObjectNamespaceLike",
    "DurableObjectStorageLike",
    "ResponseLike",
    "PrivateJwk",
    "PublicJwk",
    "DeviceRegistration",
    "DeviceRefresh",
    "SessionTokensVariables",
    "SessionStoreVariables",
    "AffinityVariables",
    "SessionStore",
    // Parts of SessionStoreConfig and OriginAssertionsConfig, whose contracts cover them.
    "SessionStoreOptions",
    "OriginAssertionsOptions",
  ]);
  for (const [where, found] of Object.entries(DTS)) {
    for (const name of found.keys()) {
      assert.ok(covered.has(name) || notOptions.has(name), `${where} types: interface ${name} has no contract in this test`);
    }
  }
});

for (const contract of CONTRACTS) {
  test(`${contract.name}: the members of the types are the reader's names`, () => {
    const declared = membersOf(contract);
    assert.deepEqual(Object.keys(contract.valid).sort(), declared, `${contract.name}: a valid value here for each member of the types`);
    assert.deepEqual(declared, contract.source(), `${contract.name}: the types' members (left) against the names the reader takes (right)`);
  });

  test(`${contract.name}: each member of the types is taken`, async () => {
    for (const name of membersOf(contract)) {
      for (const v of [validOf(contract, name), ...(contract.also?.[name] ?? [])]) {
        for (const [call, code] of callsOf(contract)) {
          const e = await outcome(call, optionsFor(contract, name, v));
          assert.equal(e?.code, code, `${contract.name}.${name} = ${String(v)} (${call}): ${e?.message ?? "taken"}`);
        }
      }
    }
  });

  test(`${contract.name}: a misspelt member, or another interface's option, is refused`, async () => {
    const declared = new Set(membersOf(contract));
    const misspelt = [...declared].map((n) => `${n}s`).filter((n) => !declared.has(n));
    const others = allNames().filter((n) => !declared.has(n));
    for (const name of [...misspelt, ...others]) {
      for (const [call] of callsOf(contract)) {
        const e = await outcome(call, optionsFor(contract, name, probe(name)));
        if (contract.open) {
          assert.ok(!refusedAsUnknown(e, name), `${contract.name}: ${name} is let through`);
          continue;
        }
        const setting = contract.refusedOtherwise?.[name];
        const refused = setting
          ? e?.code === "invalid_config" && e.setting === setting
          : call.refused?.(e) ?? refusedAsUnknown(e, name);
        assert.ok(refused, `${contract.name}: ${name} refused as unknown (${call}): ${e?.message ?? "taken"}`);
      }
    }
  });
}
