// The playground: the library's release wasm (`wasm-pack build --target web --out-dir www/pkg`,
// `make playground`) driven from the page. An error of the library is shown with its own `.code`
// ("bad_signature: ..."); the page's own messages (claims that are not JSON, keys to fix, a wasm
// that did not load) have none. Nothing is written as HTML, and nothing is styled inline: the
// page's Content-Security-Policy (index.html's meta, and scripts/serve-www.mjs's header) refuses
// both.
// The library is imported in `load`, below: a missing www/pkg or a wasm that does not compile is
// then said on the page rather than only in the console.
let Affinity;
let SealedTokens;
let SessionTokens;

const $ = (id) => document.getElementById(id);

const base64url = (bytes) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const newSecret = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

/** Writes `text` into `el`, styled as a success or an error. */
function show(el, ok, text) {
  el.textContent = text;
  el.className = el.className.replace(/\b(ok|error)\b/g, "").trim() + (ok ? " ok" : " error");
}

// The library's errors by their code, the page's own (plain Error) by their message, others as
// they print ("TypeError: Failed to fetch").
const describe = (e) =>
  e && e.code ? `${e.code}: ${e.message}` : e instanceof Error && e.name === "Error" ? e.message : String(e);

// 1. Keys: one SessionTokens and one SealedTokens over the same keyring: the key shown signs,
// the one it replaced at the last rotation (if any) still verifies.
let tokens = null;
let sealed = null;
let previous = null;

/** The seconds in a number box. An empty one, or one the browser cannot read as a number (it
 * gives the script ""), is refused: Number("") is 0, a leeway of none. The library judges the
 * rest (negative, fractional, too long). */
function seconds(id, name) {
  const value = $(id).value.trim();
  if (value === "") throw new Error(`${name}: a number of seconds`);
  return Number(value);
}

/** The latest `now` the library takes, seconds (src/time.rs, LATEST_NOW). */
const LATEST_NOW = 1e11;

function configure() {
  try {
    const config = {
      keys: [{ id: $("kid").value, secret: $("secret").value }, ...(previous ? [previous] : [])],
      ttlSeconds: seconds("ttl", "lifetime"),
      leewaySeconds: seconds("leeway", "leeway"),
    };
    tokens = new SessionTokens(config);
    sealed = new SealedTokens(config);
    // The time slider reaches past the expiry of a token of this lifetime and leeway, but not
    // past the latest `now` the library takes (10^11 s, the year 5138: a later one is refused as
    // milliseconds); a token that outlives that is valid all along the slider. Back, it reaches
    // before the leeway (not yet valid), on the slider's 30 s steps from its minimum, which
    // keep 0 on them, and not before 1970.
    const clock = Math.floor(Date.now() / 1000);
    const { ttlSeconds: ttl, leewaySeconds: leeway } = config;
    $("offset").max = String(Math.min(LATEST_NOW - clock, Math.max(7200, 2 * ttl, ttl + leeway + 600)));
    $("offset").min = String(-30 * Math.floor(Math.min(clock, Math.max(120, leeway + 60)) / 30));
    // A lower maximum moves the slider back: its label follows, with no token to verify too.
    offsetSeconds();
    const ring = previous ? `: ${$("kid").value} signs, ${previous.id} still verifies` : "";
    show($("config-status"), true, `keys ready${ring}`);
  } catch (e) {
    tokens = sealed = null;
    show($("config-status"), false, describe(e));
  }
}

/** Whether `key` is a key the library takes (an id and a secret it accepts). */
function isKey(key) {
  try {
    new SessionTokens({ keys: [key] }).free();
    return true;
  } catch {
    return false;
  }
}

/** A new key signs (the id's number plus one, a new secret); the key shown until now still
 * verifies, and the one before it is dropped, as README's "Keys and rotation" has it. A key
 * shown that is none (a secret too short, an empty id) is dropped too: kept out of sight, it
 * would refuse every configuration after, whatever the fields shown said. */
function rotate() {
  const shown = { id: $("kid").value, secret: $("secret").value };
  previous = isKey(shown) ? shown : null;
  const n = /\d+$/.exec(shown.id);
  // The number as digits (BigInt): a Number past 2^53 would come back the same, or as 1e+21.
  $("kid").value = n ? `${shown.id.slice(0, n.index)}${BigInt(n[0]) + 1n}` : `${shown.id}2`;
  $("secret").value = newSecret();
  configure();
  if ($("verify-input").value.trim()) verify();
  simulate();
}

// 2. Sign the claims three ways.
function sign() {
  // No token stays shown beside claims or keys it was not signed from.
  for (const kind of ["compact", "jwt", "sealed"]) {
    $(`token-${kind}`).textContent = "";
    $(`len-${kind}`).textContent = "";
  }
  if (!tokens) return show($("sign-status"), false, "fix the keys first");
  let claims;
  try {
    claims = JSON.parse($("claims").value);
  } catch (e) {
    return show($("sign-status"), false, `the claims are not JSON: ${e.message}`);
  }
  try {
    const out = { compact: tokens.sign(claims), jwt: tokens.signJwt(claims), sealed: sealed.sign(claims) };
    for (const [kind, token] of Object.entries(out)) {
      $(`token-${kind}`).textContent = token;
      $(`len-${kind}`).textContent = `${token.length} chars`;
    }
    show($("sign-status"), true, "signed");
    verifyKind("compact");
  } catch (e) {
    show($("sign-status"), false, describe(e));
  }
}

// 3. Verify, at now + offset.
function offsetSeconds() {
  const offset = Number($("offset").value);
  $("offset-label").textContent = offset === 0 ? "now" : `${offset > 0 ? "+" : ""}${offset} s`;
  return offset;
}

function verify() {
  const token = $("verify-input").value.trim();
  const options = { now: Math.floor(Date.now() / 1000) + offsetSeconds() };
  if (!tokens) return show($("verify-result"), false, "fix the keys first");
  try {
    const { claims, keyId, staleKey } = {
      compact: () => tokens.verifyDetailed(token, options),
      jwt: () => tokens.verifyJwtDetailed(token, options),
      sealed: () => sealed.verifyDetailed(token, options),
    }[$("kind").value]();
    const stale = staleKey
      ? `\nsigned with ${keyId}, the key before: sign the claims again to move it to ${$("kid").value}`
      : "";
    show($("verify-result"), true, `valid\n${JSON.stringify(claims, null, 2)}${stale}`);
  } catch (e) {
    const claims = e.claims ? `\nclaims (authentic, but expired): ${JSON.stringify(e.claims)}` : "";
    show($("verify-result"), false, describe(e) + claims);
  }
}

function verifyKind(kind) {
  $("kind").value = kind;
  $("verify-input").value = $(`token-${kind}`).textContent;
  verify();
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Changes the character in the middle of the token to the next one of the base64url alphabet
 * (a `.` to `A`): clicks go on through the alphabet, so the signed token comes back at the 64th
 * click at the earliest. */
function tamper() {
  const token = $("verify-input").value.trim();
  if (!token) return;
  const i = Math.floor(token.length / 2);
  const swap = ALPHABET[(ALPHABET.indexOf(token[i]) + 1) % ALPHABET.length];
  $("verify-input").value = token.slice(0, i) + swap + token.slice(i + 1);
  verify();
}

// 4. Sticky sessions: route many visitors by IP, then again with the unticked backends down.
let down = new Set();

/** The backends textarea: `id weight` (weight 1 if left out) a line; more on a line is refused. */
function parseBackends() {
  return $("backends")
    .value.split("\n")
    .map((line, n) => {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 2) throw new Error(`line ${n + 1}, "${line.trim()}": one backend a line, its id and weight`);
      return fields;
    })
    .filter(([id]) => id)
    .map(([id, weight = "1"]) => ({ id, weight: Number(weight) }));
}

/** The visitors box: a number from 1 to 200,000, of which the whole visitors are routed
 * (Array.from would route 1000 of "1000.5", and the shares would be of 1000.5). Anything else is
 * refused, not replaced: an empty box, or one the browser cannot read as a number (it gives the
 * script ""), too. */
function visitorCount() {
  const value = $("visitors").value.trim();
  const n = Math.floor(Number(value));
  if (value === "" || !(n >= 1 && n <= 200_000)) {
    throw new Error(`visitors${value ? `, "${value}"` : ""}: a number from 1 to 200000`);
  }
  return n;
}

function simulate() {
  const status = $("simulate-status");
  let affinity;
  let backends;
  let visitors;
  try {
    backends = parseBackends();
    visitors = visitorCount();
    affinity = new Affinity({ secret: $("secret").value, mode: "ip", backends });
  } catch (e) {
    // Backends that are not a configuration, or no number of visitors: no table or figures of
    // the last routing stay shown.
    $("shares").replaceChildren();
    $("moved").textContent = "";
    return show(status, false, describe(e));
  }
  const ip = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const routeAll = () => Array.from({ length: visitors }, (_, i) => affinity.route({ clientIp: ip(i) }).backend);
  try {
    const before = routeAll();
    down = new Set([...down].filter((id) => backends.some((b) => b.id === id)));
    for (const id of down) affinity.setHealthy(id, false);
    const after = down.size ? routeAll() : before;
    render(backends, visitors, after);
    // Counted, not claimed: how many moved, and how many of those were on a backend still up.
    const moved = after.filter((b, i) => b !== before[i]).length;
    const others = after.filter((b, i) => b !== before[i] && !down.has(before[i])).length;
    $("moved").textContent = down.size
      ? `${[...down].join(", ")} down: ${moved} visitors moved (${((100 * moved) / visitors).toFixed(1)}%): ` +
        `${moved - others} of them from ${down.size > 1 ? "those backends" : "that backend"}, ${others} from the others.`
      : "Untick a backend to take it down.";
    show(status, true, `${visitors} visitors routed`);
  } catch (e) {
    // No backend up (no_backend): the table shows the backends given, none of them routed to,
    // to tick one again (not an earlier routing's shares); the figures go.
    render(backends, visitors, []);
    $("moved").textContent = "";
    show(status, false, describe(e));
  } finally {
    affinity.free();
  }
}

/** A table cell (`th` or `td`) holding `content`, text or an element. */
function cell(tag, ...content) {
  const el = document.createElement(tag);
  el.append(...content);
  return el;
}

function render(backends, visitors, routed) {
  const count = new Map(backends.map((b) => [b.id, 0]));
  for (const b of routed) count.set(b, count.get(b) + 1);
  const total = backends.filter((b) => !down.has(b.id)).reduce((s, b) => s + b.weight, 0);
  const header = document.createElement("tr");
  header.append(...["backend (up)", "weight", "expected", "share", ""].map((t) => cell("th", t)));
  const rows = backends.map((b) => {
    const share = (100 * count.get(b.id)) / visitors;
    const expected = down.has(b.id) || total === 0 ? 0 : (100 * b.weight) / total;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !down.has(b.id);
    box.dataset.backend = b.id;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(share * 3).toFixed(0)}px`;
    const row = document.createElement("tr");
    row.append(cell("td", cell("label", box, ` ${b.id}`)), cell("td", String(b.weight)),
      cell("td", `${expected.toFixed(1)}%`), cell("td", `${share.toFixed(1)}%`), cell("td", bar));
    return row;
  });
  // Built node by node: backend ids are text, never markup, and no inline style (the CSP).
  $("shares").replaceChildren(header, ...rows);
}

// Wiring.
async function load() {
  try {
    const lib = await import("./pkg/edge_session.js");
    await lib.default();
    ({ Affinity, SealedTokens, SessionTokens } = lib);
    return true;
  } catch (e) {
    show($("status"), false, `The wasm did not load: ${describe(e)} (\`make playground\` builds it into www/pkg)`);
    return false;
  }
}

function start() {
  $("secret").value = newSecret();
  configure();
  // The results below always answer for the keys and leeway shown above.
  for (const id of ["kid", "secret", "ttl", "leeway"]) {
    $(id).addEventListener("input", () => {
      configure();
      if ($("verify-input").value.trim()) verify();
      // The routing is keyed with the secret too.
      if (id === "secret") simulate();
    });
  }
  $("new-secret").addEventListener("click", () => {
    $("secret").value = newSecret();
    configure();
    sign();
    simulate();
  });
  $("rotate").addEventListener("click", rotate);
  $("sign").addEventListener("click", sign);
  for (const b of document.querySelectorAll("[data-verify]")) {
    b.addEventListener("click", () => verifyKind(b.dataset.verify));
  }
  $("verify").addEventListener("click", verify);
  $("tamper").addEventListener("click", tamper);
  $("offset").addEventListener("input", verify);
  $("kind").addEventListener("change", verify);
  $("simulate").addEventListener("click", simulate);
  $("shares").addEventListener("change", (event) => {
    const id = event.target.dataset.backend;
    if (!id) return;
    if (event.target.checked) down.delete(id);
    else down.add(id);
    simulate();
  });
  sign();
  simulate();
  show($("status"), true, "Ready.");
  document.body.dataset.ready = "true";
}

if (await load()) start();
