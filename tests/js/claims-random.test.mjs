// Claims across the wasm boundary (src/js/object.rs), differentially: thousands of random claims,
// biased toward the hand-written reader's edges, signed as compact, sealed and JWT tokens and
// verified, each verified object checked against what `JSON.parse` gives of the claims text the
// token carries (same members, values, -0 included, member order at every depth, prototype, a
// fresh object each call). boundary.test.mjs holds the curated cases.
//
// Seeded and reproducible: `SEED=n node --test tests/js/claims-random.test.mjs` runs the seed a
// failure names (without SEED, each run draws its own).
import test, { after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KEY_1, KEYS_1, NOW, pkg, b64url } from "./fixtures.mjs";

const SEED = process.env.SEED === undefined ? (Math.random() * 2 ** 32) >>> 0 : Number(process.env.SEED) >>> 0;
const TTL = 3600;
// Rounds, each on a fresh instance of the module (a reader with no shapes kept), and cases per
// round: more shapes per round than the reader keeps (64).
const ROUNDS = 10;
const CASES = 300;

// mulberry32: small, fast, good enough to draw test cases.
function random(seed) {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const shuffled = (list) => {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  return { int, chance: (p) => next() < p, pick: (list) => list[int(list.length)], shuffled };
}

// The package loaded again, for a module instance of its own (the reader's shapes are per
// instance): a copy of pkg-node in a directory of its own, for a glue and snippets of its own
// (the snippets are ES modules, which Node would not load again from the same path). Removed
// after the test.
const require = createRequire(import.meta.url);
const copies = [];
function freshPkg() {
  const dir = mkdtempSync(join(tmpdir(), "edge-session-claims-"));
  copies.push(dir);
  cpSync(fileURLToPath(new URL("../../pkg-node", import.meta.url)), dir, { recursive: true });
  return require(join(dir, "edge_session.js"));
}
after(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

// --- Names ---------------------------------------------------------------------------------

// Registered claims verify reads (types checked at sign, or set by it): never drawn.
const REGISTERED = new Set(["iat", "exp", "nbf", "iss", "aud", "auth_time"]);
// Plain names (the reader's fast path), a few so that shapes share them.
const PLAIN = ["a", "b", "c", "sub", "role", "id", "n", "x_y", "name", "a b", "!", "#", "~", "[x]", "}", ":", ",", "{", "'"];
// Names JavaScript puts first (array indices), and some that only look like numbers.
const NUMERIC = ["0", "1", "2", "10", "01", "-0", "-1", "1.5", "1e3", "4294967294", "4294967295", "9007199254740993", " 1"];
// Names that need care: escaped in JSON, not ASCII, or special to JavaScript.
const ODD = ["", "__proto__", "constructor", "toString", "hasOwnProperty", "a\"b", "c\\d", "\"", "\\", "line\nnext",
  "\u0000", "\u001f", "\u007f", "\u2028", "\u2029", "é", "会话", "🍪", "\ufeff", "__proto__ "];

// A character of a class drawn at random: printable ASCII, a quote, a backslash, a control
// character, DEL, two- and three-byte UTF-8 (U+2028 and the BOM among them), or astral (a
// surrogate pair, never a lone surrogate).
function char(r) {
  switch (r.int(10)) {
    case 0: return "\"";
    case 1: return "\\";
    case 2: return String.fromCharCode(r.int(32));
    case 3: return r.pick(["\u007f", "\u2028", "\u2029", "\ufeff", "\u0080", "\u00ff", "\u07ff", "\u0800", "\uffff"]);
    case 4: return String.fromCharCode(0x80 + r.int(0x780));
    case 5: {
      const c = 0x800 + r.int(0xf800 - 0x800);
      return String.fromCharCode(c >= 0xd800 ? c + 0x800 : c);
    }
    case 6: return String.fromCodePoint(0x10000 + r.int(0x100000));
    default: return String.fromCharCode(32 + r.int(95));
  }
}
// Printable ASCII without `"` and `\`: what the reader takes as it is.
const plainChar = (r) => {
  const c = 32 + r.int(93);
  return String.fromCharCode(c >= 34 ? (c >= 91 ? c + 2 : c + 1) : c);
};
// A character a JSON string holds unescaped: printable ASCII but `"` and `\`, or not ASCII.
const rawChar = (r) => (r.chance(0.6) ? plainChar(r) : char(r).replace(/[\x00-\x7f]/, "x"));
const chars = (r, n, one) => Array.from({ length: n }, () => one(r)).join("");

function name(r) {
  switch (r.int(8)) {
    case 0: return r.pick(NUMERIC);
    case 1: return r.pick(ODD);
    case 2: return chars(r, r.int(12), char);
    case 3: return chars(r, 1 + r.int(20), plainChar);
    default: return r.pick(PLAIN) + (r.chance(0.5) ? r.int(10) : "");
  }
}

// --- Values, as JSON text ------------------------------------------------------------------

// String lengths around the reader's thresholds: a call per length up to 16 ASCII characters,
// reused arrays up to 64, a TextDecoder past that or for anything not ASCII (and, in the cases
// below, rarely more characters than a call takes as arguments: about 125000 in V8).
const LENGTHS = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 18, 31, 32, 33, 63, 64, 65, 66, 100, 127, 128, 129];
const length = (r) => (r.chance(0.8) ? r.pick(LENGTHS) : r.int(300));
// Integers of 1 to 15 digits (exact: the fast path), either sign, and those at its edges and
// at the reader's parts of 8 digits.
function fastInteger(r) {
  if (r.chance(0.2)) {
    return r.pick(["0", "1", "-1", "999999999999999", "-999999999999999", "100000000000000", "-100000000000000", "9", "10",
      "99999999", "100000000", "-100000000", "123456781234567", "1764935000", "9999999999999"]);
  }
  const digits = 1 + r.int(15);
  let s = String(1 + r.int(9));
  for (let i = 1; i < digits; i++) s += r.int(10);
  return (r.chance(0.3) ? "-" : "") + s;
}
// Numbers the fast path must leave to JSON.parse: 16 digits and more, around 2^53, -0 (as
// JSON.stringify writes it, 0), fractions, exponents.
const OTHER_NUMBERS = ["1000000000000000", "-1000000000000000", "9999999999999999", "9007199254740991", "9007199254740992",
  "9007199254740993", "-9007199254740991", "-9007199254740992", "-9007199254740993", "12345678901234567890", "-0", "0.5",
  "-0.5", "0.1", "1e21", "1E21", "1e+21", "1e-7", "5e-324", "1.7976931348623157e308", "123456789012345.5", "0.0", "-0.0", "1.0",
  "10e-1", "0e0", "-0e-0", "1e0", "100000000000000.0", "999999999999999e0"];

// An integer of 16 to 20 digits: past the fast path, where digit by digit arithmetic would round
// twice.
function longInteger(r) {
  let s = String(1 + r.int(9));
  for (let digits = 16 + r.int(5); s.length < digits;) s += r.int(10);
  return (r.chance(0.3) ? "-" : "") + s;
}

// Values of the fast path, mostly (one in ten an integer just past it).
function fastValue(r) {
  if (r.chance(0.1)) return longInteger(r);
  switch (r.int(7)) {
    case 0: case 1: return JSON.stringify(chars(r, length(r), plainChar));
    case 2: return JSON.stringify(chars(r, length(r), rawChar));
    case 3: case 4: return fastInteger(r);
    default: return r.pick(["true", "false", "null"]);
  }
}

function value(r, depth = 0) {
  switch (r.int(depth < 3 ? 9 : 7)) {
    case 0: return fastValue(r);
    case 1: return JSON.stringify(chars(r, length(r), char));
    case 2: return JSON.stringify(chars(r, length(r), plainChar) + char(r));
    case 3: return JSON.stringify(char(r) + chars(r, r.int(20), plainChar));
    case 4: case 5: return r.pick(OTHER_NUMBERS);
    case 6: return fastInteger(r) + r.pick([".0", ".5", "e1", "E-1", "e+2", ""]);
    case 7: return `[${Array.from({ length: r.int(4) }, () => value(r, depth + 1)).join(",")}]`;
    default: {
      const names = distinctNames(r, r.int(4));
      return `{${names.map((n) => `${JSON.stringify(n)}:${value(r, depth + 1)}`).join(",")}}`;
    }
  }
}

function distinctNames(r, n) {
  const names = new Set();
  for (let tries = 0; names.size < n && tries < 4 * n; tries++) {
    const drawn = name(r);
    if (!REGISTERED.has(drawn)) names.add(drawn);
  }
  return [...names];
}

// --- Claims text written by hand, for JWTs signed here ---------------------------------------

// A string as JSON, some characters escaped other ways than JSON.stringify does (`\u0061`,
// `\/`, upper-case hex).
function quote(s, r) {
  if (!r.chance(0.15)) return JSON.stringify(s);
  const escape = (c) => {
    if (!/[a-z/é]/.test(c) || !r.chance(0.3)) return JSON.stringify(c).slice(1, -1);
    if (c === "/") return "\\/";
    const hex = c.charCodeAt(0).toString(16).padStart(4, "0");
    return `\\u${r.chance(0.5) ? hex : hex.toUpperCase()}`;
  };
  return `"${Array.from(s, escape).join("")}"`;
}
// Whitespace JSON allows between tokens, rarely.
const space = (r, on) => (on && r.chance(0.3) ? r.pick([" ", "\n", "\t", "\r", "  "]) : "");

// A JWT HS256 of the payload text, keyed as SessionTokens keys its JWTs (the raw secret).
const HEADER = b64url(Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })));
function jwtOf(payload) {
  const signed = `${HEADER}.${b64url(Buffer.from(payload, "utf8"))}`;
  return `${signed}.${createHmac("sha256", Buffer.from(KEY_1)).update(signed).digest("base64url")}`;
}
// The claims text of a JWT signJwt made.
const payloadText = (jwt) => Buffer.from(jwt.split(".")[1], "base64url").toString("utf8");

// The claims text a compact token carries, its times put back as verify puts them
// (src/token/envelope.rs splice_times): after the claims, iat then exp.
function compactClaims(token) {
  const b = Buffer.from(token, "base64url");
  let at = 3 + b[2];
  for (let varints = 0; varints < 3; varints++) while (b[at++] & 0x80);
  const claims = b.subarray(at, b.length - 16).toString("utf8");
  assert.ok(claims.startsWith("{") && claims.endsWith("}"), claims);
  return `${claims.slice(0, -1)}${claims === "{}" ? "" : ","}"iat":${NOW},"exp":${NOW + TTL}}`;
}

// --- The comparison ------------------------------------------------------------------------

// `actual` is exactly `JSON.parse(text)`: values (-0 apart from 0), member order at every
// depth, prototype; and not an object handed out before.
const handedOut = new WeakSet();
function same(actual, text) {
  const expected = JSON.parse(text);
  assert.deepStrictEqual(actual, expected);
  assert.deepStrictEqual(Object.keys(actual), Object.keys(expected), "member order");
  assert.equal(JSON.stringify(actual), JSON.stringify(expected), "member order, nested");
  assert.equal(Object.getPrototypeOf(actual), Object.prototype, "prototype");
  assert.ok(!handedOut.has(actual), "a fresh object");
  handedOut.add(actual);
}

// Runs `check`, a failure rethrown naming the seed and `what()`: the case and its claims.
function labelled(what, check) {
  try {
    check();
  } catch (e) {
    e.message = `SEED=${SEED} ${what()}\n${e.message}`;
    throw e;
  }
}

test(`random claims verify as JSON.parse reads them (SEED=${SEED})`, () => {
  const r = random(SEED);
  let fastShapes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // The first round on the module every test file loads, the others on fresh instances.
    const p = round === 0 ? pkg : freshPkg();
    const options = { keys: KEYS_1, ttlSeconds: TTL, maxTokenBytes: 1048576 };
    const tokens = new p.SessionTokens(options);
    const sealed = new p.SealedTokens(options);
    const verifying = { now: NOW };
    // Shapes (names in order) drawn again with other values, so that the reader's templates
    // serve them after the first JSON.parse; new ones until well past the 64 it keeps.
    const shapes = [];
    for (let i = 0; i < CASES; i++) {
      let names;
      const again = shapes.length > 0 && (shapes.length >= 40 || r.chance(0.8));
      if (again) {
        // Early shapes more often: those are the ones the reader kept.
        names = shapes[r.chance(0.7) ? r.int(Math.min(shapes.length, 20)) : r.int(shapes.length)];
        // The same names in another order.
        if (r.chance(0.15)) names = r.shuffled(names);
      } else {
        names = distinctNames(r, r.chance(0.1) ? 20 + r.int(30) : 1 + r.int(10));
        // Mostly plain names, for shapes the reader keeps.
        if (r.chance(0.6)) names = names.filter((n) => /^[ !#-[\]-~]+$/.test(n) && n !== "__proto__");
        shapes.push(names);
      }
      const fast = r.chance(0.8);
      const members = names.map((n) => [n, fast || r.chance(0.8) ? fastValue(r) : value(r)]);
      // Rarely, a string of 200000 ASCII characters in a shape drawn before.
      if (again && members.length > 0 && r.chance(0.003)) members[0][1] = JSON.stringify(chars(r, 200000, plainChar));
      const text = `{${members.map(([n, v]) => `${JSON.stringify(n)}:${v}`).join(",")}}`;
      if (fast && members.every(([n]) => /^[ !#-[\]-~]+$/.test(n))) fastShapes++;
      const claims = JSON.parse(text);
      // The case, named in a failure's message (a long claims text cut short).
      let kind = "compact";
      const what = () => {
        const shown = JSON.stringify(kind === "JWT" ? payload : text);
        return `round ${round} case ${i}, ${kind} of ${shown.length > 4000 ? `${shown.slice(0, 4000)}...` : shown}`;
      };

      // A JWT whose payload is the text as drawn (in the drawn order, not sorted), iat and exp
      // among the members, names and string values sometimes escaped otherwise, whitespace
      // sometimes.
      const spaced = r.chance(0.1);
      const escaped = r.chance(0.5);
      const written = members.map(([n, v]) =>
        escaped ? [quote(n, r), v.startsWith('"') ? quote(JSON.parse(v), r) : v] : [JSON.stringify(n), v],
      );
      // iat and exp mostly last (a shape the reader may keep), else anywhere.
      const at = () => (r.chance(0.7) ? written.length : r.int(written.length + 1));
      written.splice(at(), 0, ['"iat"', String(NOW)]);
      written.splice(at(), 0, ['"exp"', String(NOW + TTL)]);
      const payload = `${space(r, spaced)}{${written
        .map(([n, v]) => `${space(r, spaced)}${n}${space(r, spaced)}:${space(r, spaced)}${v}${space(r, spaced)}`)
        .join(",")}}${space(r, spaced)}`;

      labelled(what, () => {
        // Compact and sealed tokens carry the claims as sign wrote them (sorted by name), iat
        // and exp after them.
        const token = tokens.sign(claims, { now: NOW });
        const carried = compactClaims(token);
        assert.deepStrictEqual(JSON.parse(carried), { ...JSON.parse(JSON.stringify(claims)), iat: NOW, exp: NOW + TTL });
        for (let k = 0; k < 2; k++) same(tokens.verify(token, verifying), carried);
        if (r.chance(0.2)) same(tokens.verifyDetailed(token, verifying).claims, carried);
        if (r.chance(0.1)) {
          let seen;
          tokens.verify(token, { now: NOW, minIssuedAt: (c) => void (seen = c) });
          same(seen, carried);
        }
        kind = "sealed";
        const s = sealed.sign(claims, { now: NOW });
        for (let k = 0; k < 2; k++) same(sealed.verify(s, verifying), carried);
        if (r.chance(0.2)) same(sealed.verifyDetailed(s, verifying).claims, carried);
        kind = "signJwt";
        const jwt = tokens.signJwt(claims, { now: NOW });
        for (let k = 0; k < 2; k++) same(tokens.verifyJwt(jwt, verifying), payloadText(jwt));
        if (r.chance(0.2)) same(tokens.verifyJwtDetailed(jwt, verifying).claims, payloadText(jwt));
        kind = "JWT";
        const crafted = jwtOf(payload);
        for (let k = 0; k < 2; k++) same(tokens.verifyJwt(crafted, verifying), payload);
      });
    }
  }
  // The draw reached the fast path: claims of plain names and fast values, most of a kept shape.
  assert.ok(fastShapes > ROUNDS * CASES * 0.3, `SEED=${SEED}: ${fastShapes} claims of the fast path`);
});
