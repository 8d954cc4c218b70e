// Claims across the wasm boundary (src/js/object.rs): verified claims come out as the object
// `JSON.parse` gives (same members, values, order and prototype, a fresh object each call),
// whether they take the per-shape fast path or `JSON.parse`; claims to sign go in through
// `JSON.stringify` once, ASCII or not, short or long, `toJSON` included.
import test from "node:test";
import assert from "node:assert/strict";
import { NOW, codeOf, sessionTokens, sealedTokens } from "./fixtures.mjs";

const tokens = sessionTokens({ ttlSeconds: 3600, maxTokenBytes: 65536 });
const sealed = sealedTokens({ ttlSeconds: 3600 });

// The JWT payload as signed: the claims text the wasm hands out for `verifyJwt`.
const payload = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));

// Exactly the same object: values, member order, prototype.
function same(actual, expected, what) {
  assert.deepStrictEqual(actual, expected, what);
  assert.deepStrictEqual(Object.keys(actual), Object.keys(expected), `${what}: member order`);
  assert.equal(Object.getPrototypeOf(actual), Object.prototype, `${what}: prototype`);
  for (const key of Object.keys(expected)) {
    assert.ok(Object.is(actual[key], expected[key]) || typeof expected[key] === "object", `${what}: ${key}`);
  }
}

// Each case signed twice with other values of the same kind: the first verify of a shape goes
// through JSON.parse, the later ones through the shape's template.
const cases = [
  ["strings", (v) => ({ sub: `user-${v}`, role: v % 2 ? "admin" : "" })],
  ["integers", (v) => ({ n: v, neg: -v, zero: 0, big: 999999999999999 - v, bigger: 9007199254740993 + v })],
  ["literals", (v) => ({ t: true, f: false, z: null, s: `${v}` })],
  ["numbers that are not integers", (v) => ({ x: v + 0.5, e: 1e21 * v, tiny: 5e-324 })],
  ["nested values", (v) => ({ a: [v, "x", { y: v }], o: { p: { q: v } }, empty: {}, list: [] })],
  ["escapes", (v) => ({ q: `say "${v}"`, b: "a\\b", n: "line\nnext", tab: "\t", ctl: "\u0001" })],
  ["not ASCII", (v) => ({ name: `Zoë ${v}`, emoji: "🍪", cjk: "会话" })],
  ["names that need care", (v) => JSON.parse(`{"__proto__":${v},"a\\"b":1,"c\\\\d":2,"\\u2028":3,"é":4}`)],
  ["names that look like indices", (v) => ({ 1: v, 0: "zero", b: v, a: "a", 10: true })],
  ["many members", (v) => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`m${i}`, i + v]))],
  ["an empty object", () => ({})],
];

for (const [name, make] of cases) {
  test(`verified claims are what JSON.parse gives: ${name}`, () => {
    for (let v = 1; v <= 3; v++) {
      const claims = make(v);
      const jwt = tokens.signJwt(claims, { now: NOW });
      const expected = payload(jwt);
      for (let round = 0; round < 2; round++) {
        same(tokens.verifyJwt(jwt, { now: NOW }), expected, `verifyJwt ${v}.${round}`);
        same(tokens.verifyJwtDetailed(jwt, { now: NOW }).claims, expected, `verifyJwtDetailed ${v}.${round}`);
      }
      // Compact and sealed tokens: iat and exp after the claims; the first verify (JSON.parse
      // for a new shape) and the later ones agree exactly.
      for (const [kind, t] of [["compact", tokens], ["sealed", sealed]]) {
        const token = t.sign(claims, { now: NOW });
        const first = t.verify(token, { now: NOW });
        assert.deepStrictEqual(first, { ...JSON.parse(JSON.stringify(claims)), iat: NOW, exp: NOW + 3600 }, `${kind} ${v}`);
        for (let round = 0; round < 2; round++) {
          same(t.verify(token, { now: NOW }), first, `${kind} verify ${v}.${round}`);
          same(t.verifyDetailed(token, { now: NOW }).claims, first, `${kind} verifyDetailed ${v}.${round}`);
        }
      }
    }
  });
}

test("string values of every length the reader builds apart come out whole", () => {
  // ASCII up to 16 characters is built by a call per length (src/js/object.rs `text`), longer by
  // another path, not ASCII by a third: each length, each character in its place.
  const ascii = (n, v) => Array.from({ length: n }, (_, i) => String.fromCharCode(35 + ((i * 7 + v) % 57))).join("");
  for (let n = 0; n <= 70; n++) {
    for (let v = 0; v < 3; v++) {
      const claims = { n, s: ascii(n, v), t: `é${ascii(n, v)}` };
      const expected = { ...claims, iat: NOW, exp: NOW + 3600 };
      const token = tokens.sign(claims, { now: NOW });
      for (let round = 0; round < 2; round++) same(tokens.verify(token, { now: NOW }), expected, `length ${n}.${v}.${round}`);
    }
  }
});

// Strings past 140 UTF-16 units go into the wasm by `TextEncoder.encodeInto` when ASCII, by
// wasm-bindgen's loop otherwise (scripts/glue.mjs, rewrite 8): claims' JSON and tokens on both
// sides of that length, a character that is not ASCII in each kind of place.
test("strings on both sides of 140 units go into the wasm whole, ASCII or not", () => {
  const letters = (n) => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + (i % 26)));
  // The claims' JSON, `{"s":"..."}`: n + 8 units.
  for (const n of [100, 130, 131, 132, 133, 134, 300, 5000]) {
    for (const odd of [undefined, "\u007f", "\u0080", "é", "会", "🍪"]) {
      for (const at of [0, 1, n >> 1, n - 2, n - 1]) {
        const chars = letters(n);
        if (odd !== undefined) chars[at] = odd;
        const s = chars.join("");
        const claims = tokens.verify(tokens.sign({ s }, { now: NOW }), { now: NOW });
        assert.equal(claims.s, s, `claims of ${n} units, ${JSON.stringify(odd)} at ${at}`);
      }
    }
  }
  // JWTs of 140 to 192 units: each verifies; with a character that is not ASCII anywhere in it,
  // it is malformed.
  const lengths = new Set();
  for (let k = 0; k < 40; k++) {
    const pad = letters(k).join("");
    const jwt = tokens.signJwt({ pad }, { now: NOW });
    lengths.add(jwt.length);
    assert.equal(tokens.verifyJwt(jwt, { now: NOW }).pad, pad, `a JWT of ${jwt.length} units`);
    for (const odd of ["\u0080", "é", "🍪", "\ud800"]) {
      for (const at of [0, jwt.length >> 1, jwt.length - 1]) {
        const bent = jwt.slice(0, at) + odd + jwt.slice(at + 1);
        assert.equal(codeOf(() => tokens.verifyJwt(bent, { now: NOW })), "malformed", `a JWT of ${jwt.length} units, ${JSON.stringify(odd)} at ${at}`);
      }
    }
  }
  for (const n of [140, 141]) assert.ok(lengths.has(n), `a JWT of ${n} units among ${[...lengths]}`);
});

test("every verify returns a fresh object: changing one changes no other", () => {
  const token = tokens.sign({ sub: "fresh", n: 1 }, { now: NOW });
  const a = tokens.verify(token, { now: NOW });
  a.sub = "changed";
  a.extra = true;
  delete a.n;
  assert.deepStrictEqual(tokens.verify(token, { now: NOW }), { sub: "fresh", n: 1, iat: NOW, exp: NOW + 3600 });
});

test("claims of many shapes, past the shapes kept, still verify exactly", () => {
  for (let i = 0; i < 80; i++) {
    const claims = { [`shape${i}`]: i, sub: `s${i}` };
    const jwt = tokens.signJwt(claims, { now: NOW });
    same(tokens.verifyJwt(jwt, { now: NOW }), payload(jwt), `shape ${i}`);
    same(tokens.verifyJwt(jwt, { now: NOW }), payload(jwt), `shape ${i} again`);
  }
});

test("claims read after the wasm memory grew: the view of it is made again", () => {
  const token = tokens.sign({ sub: "grow", n: 1 }, { now: NOW });
  const expected = tokens.verify(token, { now: NOW });
  assert.deepStrictEqual(expected, { sub: "grow", n: 1, iat: NOW, exp: NOW + 3600 });
  same(tokens.verify(token, { now: NOW }), expected, "before");
  // 16 MiB of claims go into the wasm memory, which grows for them, before sign refuses them.
  assert.equal(codeOf(() => tokens.sign({ big: "x".repeat(16 << 20) }, { now: NOW })), "too_large");
  same(tokens.verify(token, { now: NOW }), expected, "after");
  same(tokens.verify(token, { now: NOW }), expected, "after, again");
});

test("the claims a minIssuedAt lookup sees, and an expired token's, are the verified claims", () => {
  const token = tokens.sign({ sub: "lookup", role: "admin" }, { now: NOW });
  let seen;
  tokens.verify(token, { now: NOW, minIssuedAt: (c) => ((seen = c), undefined) });
  assert.deepStrictEqual(seen, { sub: "lookup", role: "admin", iat: NOW, exp: NOW + 3600 });
  let expired;
  try {
    tokens.verify(token, { now: NOW + 7200 });
  } catch (e) {
    expired = e;
  }
  assert.equal(expired.code, "expired");
  assert.deepStrictEqual(expired.claims, seen);
});

test("claims to sign: long, not ASCII, with toJSON, or without a JSON form", () => {
  const long = { sub: "x".repeat(20000), more: "y".repeat(300) };
  const wide = { name: "Zoë", emoji: "🍪" };
  for (const claims of [long, wide, { sub: "short" }, long, wide]) {
    assert.deepStrictEqual(tokens.verify(tokens.sign(claims, { now: NOW }), { now: NOW }), { ...claims, iat: NOW, exp: NOW + 3600 });
    assert.deepStrictEqual(tokens.verifyJwt(tokens.signJwt(claims, { now: NOW }), { now: NOW }), { ...claims, iat: NOW, exp: NOW + 3600 });
  }
  // toJSON runs once per sign, and may itself sign (the module is re-entered).
  let calls = 0;
  const inner = { toJSON: () => ((calls += 1), { sub: "inner" }) };
  const outer = { toJSON: () => ({ sub: "outer", nested: tokens.sign(inner, { now: NOW }) }) };
  const token = tokens.sign(outer, { now: NOW });
  assert.equal(calls, 1);
  const claims = tokens.verify(token, { now: NOW });
  assert.equal(claims.sub, "outer");
  assert.equal(tokens.verify(claims.nested, { now: NOW }).sub, "inner");
  for (const bad of [undefined, () => 1, Symbol("s"), { toJSON: () => undefined }, { big: 1n }, { toJSON: () => { throw new Error("no"); } }]) {
    assert.equal(codeOf(() => tokens.sign(bad, { now: NOW })), "invalid_claims");
    assert.equal(codeOf(() => tokens.signJwt(bad, { now: NOW })), "invalid_claims");
  }
  const cycle = {};
  cycle.self = cycle;
  assert.equal(codeOf(() => tokens.sign(cycle, { now: NOW })), "invalid_claims");
  // What JSON.stringify threw is named (a BigInt, a cycle, the caller's own toJSON); a value with
  // no JSON form says so, with no stale reason from an earlier call.
  const thrown = { toJSON: () => { throw new Error("my toJSON failed"); } };
  for (const [bad, why] of [[{ big: 1n }, /BigInt/], [cycle, /circular/], [thrown, /my toJSON failed/]]) {
    for (const sign of [() => tokens.sign(bad, { now: NOW }), () => tokens.signJwt(bad, { now: NOW }), () => sealed.sign(bad, { now: NOW })]) {
      assert.throws(sign, (e) => e.code === "invalid_claims" && /^invalid claims: claims must be a JSON object \(JSON\.stringify threw: /.test(e.message) && why.test(e.message), String(why));
    }
  }
  assert.throws(() => tokens.sign(() => 1, { now: NOW }), (e) => e.message === "invalid claims: claims must be a JSON object");
  // Nor the reason of a sign that failed inside this one's toJSON.
  const nested = { toJSON: () => { assert.throws(() => tokens.sign({ big: 1n })); return undefined; } };
  assert.throws(() => tokens.sign(nested, { now: NOW }), (e) => e.message === "invalid claims: claims must be a JSON object");
  // A toJSON that throws something other than an Error, or an Error whose message throws.
  const odd = new Error();
  Object.defineProperty(odd, "message", { get: () => { throw new Error("message getter"); } });
  for (const value of ["a string", 42, odd]) {
    assert.equal(codeOf(() => tokens.sign({ toJSON: () => { throw value; } }, { now: NOW })), "invalid_claims", String(typeof value));
  }
  // Registered claims of a type verify would refuse as malformed are refused at sign.
  for (const bad of [{ iss: 1 }, { aud: 5 }, { aud: ["app", 1] }, { auth_time: "yesterday" }, { auth_time: -1 }]) {
    assert.equal(codeOf(() => tokens.sign(bad, { now: NOW })), "invalid_claims", JSON.stringify(bad));
    assert.equal(codeOf(() => tokens.signJwt(bad, { now: NOW })), "invalid_claims", JSON.stringify(bad));
  }
});

test("an exception while the claims become an object is thrown as it is, and the next verify works", () => {
  // A shape no test verified before: its first verify goes through JSON.parse.
  const token = tokens.sign({ "a shape of its own": 1, thrown: true }, { now: NOW });
  const parse = JSON.parse;
  const boom = new Error("JSON.parse failed");
  JSON.parse = () => {
    throw boom;
  };
  try {
    assert.throws(() => tokens.verify(token, { now: NOW }), (e) => e === boom);
  } finally {
    JSON.parse = parse;
  }
  // Nothing left behind: the same token, and another, verify.
  assert.deepEqual(tokens.verify(token, { now: NOW }), { "a shape of its own": 1, thrown: true, iat: NOW, exp: NOW + 3600 });
  assert.equal(tokens.verify(tokens.sign({ sub: "u" }, { now: NOW }), { now: NOW }).sub, "u");
});

// Two instances of one build whose glue shares its snippet module (the CommonJS glue required
// again, its ES module snippet kept: a test runner's or a dev server's reload): each reads the
// claims in its own memory. The reader kept the memory it was given first, so one instance read
// its claims at the right address in the other's memory (another token's claims, or garbage).
test("two instances sharing the snippet module each read their own claims", async () => {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const glue = require.resolve("../../pkg-node/edge_session.js");
  const load = () => {
    delete require.cache[glue];
    return require(glue);
  };
  const [a, b] = [load(), load()];
  assert.notEqual(a.SessionTokens, b.SessionTokens, "two instances");
  const keys = [{ id: "k1", secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA" }];
  const instances = [a, b].map((m, i) => ({ m, tokens: new m.SessionTokens({ keys }), sub: `user-${i}` }));
  for (let round = 0; round < 3; round++) {
    for (const { tokens, sub } of instances) {
      // A lot of garbage first, so that each instance's memory holds other bytes where the
      // other's claims lie.
      tokens.sign({ pad: "x".repeat(1000 + 97 * round), sub: `${sub}-pad` }, { now: NOW });
      const token = tokens.sign({ sub }, { now: NOW });
      const jwt = tokens.signJwt({ sub }, { now: NOW });
      assert.equal(tokens.verify(token, { now: NOW }).sub, sub, `verify, round ${round}`);
      assert.equal(tokens.verifyJwt(jwt, { now: NOW }).sub, sub, `verifyJwt, round ${round}`);
      assert.equal(tokens.verifyDetailed(token, { now: NOW }).claims.sub, sub, `verifyDetailed, round ${round}`);
      const seen = [];
      tokens.verify(token, { now: NOW, minIssuedAt: (c) => void seen.push(c.sub) });
      assert.deepEqual(seen, [sub], `a lookup's claims, round ${round}`);
      const down = () => {
        throw new Error("KV is down");
      };
      assert.throws(() => tokens.verify(token, { now: NOW, minIssuedAt: down }), /KV is down/, `a lookup that throws, round ${round}`);
    }
  }
});
