// The gateway's entry module: scripts/build-gateway.sh copies it to build/worker/shim.mjs
// (wrangler.toml's `main`), beside worker-build's bundle (../index.js).
//
// worker-build's default export is a class (a WorkerEntrypoint) wrapped in a Proxy for panic
// recovery: every request then constructs an instance of it, a Proxy of the instance and one of
// its `fetch`, and goes through their traps. This module's default export is a plain object
// whose handlers call the same wasm exports directly (they read nothing of the instance but
// `env` and `ctx`), and keeps the recovery: a wasm trap (WebAssembly.RuntimeError, which is what
// a Rust panic becomes) thrown by a handler or rejecting its promise marks the module broken, as
// the shim marks it; the next request then constructs the shim's class once, whose construct
// trap re-instantiates the module (wasm-bindgen's reset-state function) before the handler runs.
import Shimmed from "../index.js";

// The Durable Object class (wrangler.toml's [[durable_objects.bindings]]): the module's one
// named export. worker-build's bundle also exports classes of the worker crate the gateway does
// not use, whose wasm exports scripts/build-gateway.sh takes out.
export { EdgeSessionObject } from "../index.js";

const state = globalThis.__worker_init_state;
const handlers = Shimmed.prototype;

function critical(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    console.error("Critical", e);
    state.criticalError = true;
  }
  throw e;
}

function call(handler, arg, env, ctx) {
  if (state.criticalError) Reflect.construct(Shimmed, [ctx, env]);
  let out;
  try {
    out = handler.call({ env, ctx }, arg);
  } catch (e) {
    critical(e);
  }
  return out instanceof Promise ? out.then(undefined, critical) : out;
}

// The gateway's settings (src/gateway/config.rs, `names::ALL`: a unit test keeps the two lists
// alike). The configuration reads these names only: any other variable (a misspelt `STROE`,
// `ORIGIN_TIMEOUT = 5000`, a lowercase `store`) would be ignored without a word, and with it the
// store, the timeout... So the first request and cron run of an instance log each such name
// once, a warning rather than a refusal: a worker may carry variables of its own. A variable is
// a text (vars, secrets) or what wrangler.toml's [vars] parse to (a number, a boolean, a table or
// a list); bindings (KV, Durable Objects, services...) are instances of the runtime's classes,
// never named. Only names are logged, never values (a secret may be among them).
// settings:begin
const SETTINGS = new Set([
  "ORIGINS", "SESSION_KEYS", "AFFINITY_SECRET", "AFFINITY_PREVIOUS_SECRETS", "AFFINITY_MODE",
  "AFFINITY_PARAM", "AFFINITY_HEADER", "AFFINITY_FAILOVER", "AFFINITY_TTL_SECONDS",
  "AFFINITY_IDLE_SECONDS", "AFFINITY_COOKIE", "SESSION_COOKIE", "SESSION_TTL_SECONDS",
  "SESSION_LEEWAY_SECONDS", "SESSION_REFRESH_AFTER", "SESSION_MAX_LIFETIME_SECONDS",
  "SESSION_FORMAT", "SESSION_JWT_ISSUER", "SESSION_JWT_AUDIENCE", "COOKIE_SAMESITE", "HEALTH_PATH",
  "HEALTH_FAILURES", "HEALTH_DOWN_SECONDS", "HEALTH_MAX_AGE_SECONDS", "HEALTH_CACHE_SECONDS",
  "PROBE_TIMEOUT_MS", "ORIGIN_TIMEOUT_MS", "OPERATOR_TOKEN", "MAX_REQUEST_HEADER_BYTES",
  "DIRECTIVE_NONCE", "STORE", "STORE_COOKIE", "STORE_IDLE_SECONDS", "STORE_ABSOLUTE_SECONDS",
  "STORE_TOUCH_SECONDS", "STORE_MAX_DATA_BYTES", "STORE_TIMEOUT_MS", "STORE_TESTS",
  "ORIGIN_ASSERTION", "ORIGIN_ASSERTION_KEY", "ORIGIN_ASSERTION_ISSUER", "DBSC",
  "DBSC_BOUND_SECONDS", "DBSC_COOKIE",
]);
// settings:end
const FAMILY = /^(ORIGIN|SESSION|AFFINITY|HEALTH|PROBE|STORE|DBSC|OPERATOR|COOKIE|MAX_REQUEST|DIRECTIVE)/i;
// The settings read only in some affinity modes or with a feature on (src/gateway/config.rs:
// `affinity_section`, `assertion_section`, `dbsc_section`, `store_section`), and the values of
// the setting that turns them on (AFFINITY_MODE unset is "cookie"; a feature unset is off).
const STORE_ON = ["STORE", ["kv", "durable"]];
const READ_WITH = [
  ["AFFINITY_HEADER", "AFFINITY_MODE", ["header"]],
  ["AFFINITY_PARAM", "AFFINITY_MODE", ["url"]],
  // Only a value the gateway gives out (a cookie, or a URL's parameter) has a lifetime.
  ["AFFINITY_COOKIE", "AFFINITY_MODE", ["cookie"]],
  ["AFFINITY_TTL_SECONDS", "AFFINITY_MODE", ["cookie", "url"]],
  ["AFFINITY_IDLE_SECONDS", "AFFINITY_MODE", ["cookie", "url"]],
  ["ORIGIN_ASSERTION_KEY", "ORIGIN_ASSERTION", ["EdDSA", "ES256"]],
  ["ORIGIN_ASSERTION_ISSUER", "ORIGIN_ASSERTION", ["EdDSA", "ES256"]],
  ["DBSC_BOUND_SECONDS", "DBSC", ["on"]],
  ["DBSC_COOKIE", "DBSC", ["on"]],
  ...["COOKIE", "IDLE_SECONDS", "ABSOLUTE_SECONDS", "TOUCH_SECONDS", "MAX_DATA_BYTES", "TIMEOUT_MS", "TESTS"].map(
    (name) => [`STORE_${name}`, ...STORE_ON],
  ),
];
// A unit mistaken, warned of: a setting in milliseconds (its name ends in `_MS`) below
// MS_LEAST is more likely seconds (`ORIGIN_TIMEOUT_MS = 30`, meant as 30 seconds, fails every
// origin that takes 30 ms to answer), one in seconds (`_SECONDS`) above its SECONDS_MOST (400
// days, less for a few) more likely milliseconds (`SESSION_TTL_SECONDS = 86400000`, a day in
// milliseconds, keeps a session 1,000 days; `SESSION_LEEWAY_SECONDS = 30000` takes a token 8
// hours past its expiry; `HEALTH_DOWN_SECONDS = 30000` keeps a failed origin out 8 hours), and
// so is one over a day that is a whole number of minutes in milliseconds but no whole number
// of days in seconds (`STORE_IDLE_SECONDS = 1800000`, half an hour in milliseconds, is 20.8
// days; 400 days, a whole number of minutes in milliseconds too, is not warned of).
const MS_LEAST = 100;
const SECONDS_MOST = { SESSION_LEEWAY_SECONDS: 300, HEALTH_DOWN_SECONDS: 3600 };
const DAYS_MOST = 400;
let checked = false;

// The store's bindings, when one is a service binding (`[[services]]`): its RPC stub answers
// every name with a function, so it passes the configuration's check of its kind, a method only
// that kind has (src/gateway/worker/mod.rs, `bound`), and then every store call fails while
// origins are told `x-session-store: ok`. The handlers get the environment without it, which
// the configuration refuses as it refuses a binding missing or of another kind (when STORE names
// it: the gateway reads neither binding otherwise).
const STORE_BINDINGS = ["SESSIONS", "SESSION_OBJECTS"];
let stubs = [];

function check(env) {
  checked = true;
  // What the wasm hands JavaScript (a request waiting for its origin) is freed when the garbage
  // collector takes it, through a FinalizationRegistry, which workerd has from compatibility
  // date 2025-05-05: before, every proxied request's state stays in the wasm memory.
  if (typeof FinalizationRegistry === "undefined") {
    console.warn(
      "edge-session gateway: this runtime has no FinalizationRegistry (compatibility_date before " +
        "2025-05-05): every request leaves its state in the wasm memory, until the instance runs " +
        "out of memory; set compatibility_date to 2025-05-05 or later",
    );
  }
  stubs = STORE_BINDINGS.filter((name) => {
    const binding = env[name];
    return binding !== null && typeof binding === "object" && typeof binding["edge-session: no such method"] === "function";
  });
  warnUnknown(env);
}

/** `env`, without the store's bindings that are service bindings. */
function usable(env) {
  if (!checked) check(env);
  if (stubs.length === 0) return env;
  const rest = { ...env };
  for (const name of stubs) delete rest[name];
  return rest;
}

// A request that came back. A same-zone fetch to one of this worker's Custom Domains (or to its
// workers.dev host) runs the worker again, where one to a route's host goes past it: ORIGINS
// naming such a host sent each request round until Cloudflare stopped the loop (error 1019),
// running the gateway 16 times for it. Every request to an origin and every probe carries
// `x-session-hop: <tag>.<url>`: this deployment's tag, a hash of SESSION_KEYS (as a session
// cookie, it lets its reader test guesses at a weak secret, nothing of a random one; another
// deployment's differs, so a gateway in front of another is no loop, and so does a new key's
// while its deploy spreads), and a hash of the URL fetched (src/gateway/worker/http.rs and
// probe.mjs call globalThis[HOP]). A request that arrives at that very URL with it came back: it
// is answered 508, and logged once per instance. An origin that passes its request's headers on
// to another page of the site (a fragment it fetches through the gateway) is no loop. The value
// is always 31 characters (pipeline.rs counts them in MAX_REQUEST_HEADER_BYTES).
const HOP = Symbol.for("edge-session.hop");
let tagged;
let looped = false;

/** FNV-1a of `text`'s UTF-16 code units, 8 hex digits: which URL a hop was sent to. */
function fnv(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

async function tag(env) {
  let base = "";
  try {
    const text = new TextEncoder().encode(`edge-session/hop\n${JSON.stringify(env.SESSION_KEYS ?? null)}`);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", text));
    base = btoa(String.fromCharCode(...digest.subarray(0, 16))).replace(/[+/=]/g, (c) => ({ "+": "-", "/": "_", "=": "" })[c]);
  } catch (e) {
    console.warn(`edge-session gateway: no loop detection in this instance (SHA-256 failed: ${e})`);
  }
  tagged = base === "" ? null : (url) => `${base}.${fnv(url)}`;
  globalThis[HOP] = tagged;
}

function loop() {
  if (!looped) {
    looped = true;
    console.error(
      "edge-session gateway: a request to an origin came back to this gateway (does ORIGINS name " +
        "one of this worker's own hosts, a Custom Domain or workers.dev?); answered 508",
    );
  }
  return new Response("508 Loop Detected: the gateway's request to an origin came back to it.\n", {
    status: 508,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" },
  });
}

function fetchHandler(request, env, ctx) {
  if (tagged === undefined) return tag(env).then(() => fetchHandler(request, env, ctx));
  const hop = request.headers.get("x-session-hop");
  if (hop !== null && tagged !== null && hop === tagged(request.url)) return loop();
  return call(handlers.fetch, request, usable(env), ctx);
}

function scheduledHandler(event, env, ctx) {
  if (tagged === undefined) return tag(env).then(() => scheduledHandler(event, env, ctx));
  return call(handlers.scheduled, event, usable(env), ctx);
}

function warnUnknown(env) {
  for (const name of Object.keys(env)) {
    const v = env[name];
    const parsed =
      typeof v === "number" || typeof v === "boolean" || Array.isArray(v) ||
      (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype);
    // Some bindings are plain objects too (CF_VERSION_METADATA, a dispatch namespace in local
    // dev): a table or a list is named only when its name looks like a setting's. A text, a
    // number or a boolean is never a binding.
    const variable = ["string", "number", "boolean"].includes(typeof v) || (parsed && FAMILY.test(name));
    if (variable && !SETTINGS.has(name)) {
      console.warn(
        `edge-session gateway: the variable ${name} is no setting of the gateway and is ignored ` +
          "(misspelt? the settings: docs/gateway.md)",
      );
    }
  }
  // A setting of one affinity mode set in another, or of a feature that is off: an operator who
  // sets AFFINITY_HEADER and forgets AFFINITY_MODE = "header" gets cookie affinity, and one who
  // sets ORIGIN_ASSERTION_KEY and forgets ORIGIN_ASSERTION no assertion, without a word. (It may
  // stay after a switch of modes, or with the feature turned off: a warning, not a refusal.)
  const ignored = new Set();
  for (const [name, setting, on] of READ_WITH) {
    // Unset or blank, AFFINITY_MODE is cookie mode (a feature, off).
    const value = String(env[setting] ?? "").trim() || (setting === "AFFINITY_MODE" ? "cookie" : "");
    if (env[name] !== undefined && !on.includes(value)) {
      ignored.add(name);
      const values = on.map((v) => `"${v}"`).join(" or ");
      console.warn(`edge-session gateway: ${name} is read with ${setting} = ${values} only and is ignored`);
    }
  }
  // Of the settings read: one that is ignored is warned of as such, above.
  for (const name of SETTINGS) {
    if (ignored.has(name)) continue;
    const v = env[name];
    const n = typeof v === "string" || typeof v === "number" ? Number(v) : NaN;
    if (name.endsWith("_MS") && n > 0 && n < MS_LEAST) {
      console.warn(
        `edge-session gateway: ${name} = ${n} is ${n} milliseconds, not seconds ` +
          `(${n} seconds is ${n * 1000}); set it to ${MS_LEAST} or more unless you mean it`,
      );
    } else if (name.endsWith("_SECONDS") && (n > (SECONDS_MOST[name] ?? DAYS_MOST * 86400) || (n > 86400 && n % 60000 === 0 && n % 86400 !== 0))) {
      const days = n / 86400;
      const long =
        n < 3600 ? `${Math.round(n / 60)} minutes` : n < 86400 ? `${(n / 3600).toFixed(1)} hours` : `${days < 10 ? days.toFixed(1) : Math.round(days)} days`;
      // The value meant, when milliseconds give whole seconds (the settings take no fraction).
      const meant = n % 1000 === 0 ? `for ${n} milliseconds set ${n / 1000}` : `set it to ${SECONDS_MOST[name] ?? `${DAYS_MOST * 86400} (${DAYS_MOST} days)`} or less unless you mean it`;
      console.warn(`edge-session gateway: ${name} = ${n} is ${long}, seconds, not milliseconds; ${meant}`);
    }
  }
  // A cookie name without `__Host-`: any subdomain of the site can set one of the name, which
  // the browser sends beside or ahead of the gateway's own (cookie tossing). In that case
  // exactly, as `cookie::is_host_only` reads it: an older browser takes `__host-` for no prefix.
  for (const name of ["SESSION_COOKIE", "AFFINITY_COOKIE", "STORE_COOKIE", "DBSC_COOKIE"]) {
    const v = env[name];
    // Blank is unset: the default, with the prefix.
    if (typeof v === "string" && !ignored.has(name) && v.trim() !== "" && !v.trim().startsWith("__Host-")) {
      console.warn(`edge-session gateway: ${name} has no __Host- prefix: a subdomain can set a cookie of its name (docs/gateway.md)`);
    }
  }
  // Every origin draining takes new visitors all the same (rather than a 503): a drain of the
  // last origin left in, or `"draining": true` copied to every line.
  let origins = env.ORIGINS;
  try {
    if (typeof origins === "string") origins = JSON.parse(origins);
  } catch {} // refused, and logged, by the configuration
  if (Array.isArray(origins) && origins.length > 0 && origins.every((o) => o?.draining === true)) {
    console.warn("edge-session gateway: every origin of ORIGINS is draining: new visitors still go to them");
  }
  // A secret pasted with its quotes (`wrangler secret put` takes what it is given): the quotes
  // are part of the token, and a monitor that sends it without them gets a 401.
  if (/^\s*(["']).*\1\s*$/s.test(env.OPERATOR_TOKEN ?? "")) {
    console.warn("edge-session gateway: OPERATOR_TOKEN begins and ends with a quote, which is part of the token");
  }
}

export default {
  fetch: fetchHandler,
  scheduled: scheduledHandler,
};
