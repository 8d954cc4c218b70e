// DeviceBoundSessions (feature `dbsc`, issue 14): Device Bound Session Credentials from
// JavaScript, on the package built by `make pkg-dbsc` (target/pkg-dbsc). The proofs are made here
// as a browser makes them, with WebCrypto key pairs (ES256: ECDSA P-256; RS256:
// RSASSA-PKCS1-v1_5 2048 bits), and the thumbprints computed here by RFC 7638 with Node's SHA-256;
// then the known vectors of tests/vectors/dbsc.json (the Rust tests read them too).
// Every error code the class throws for a proof, a bound cookie or an option is reached here
// (malformed, too_large, unsupported_alg, unknown_challenge, expired, not_yet_valid,
// bad_signature, key_mismatch, invalid_config, and randomness_unavailable with `crypto` taken
// away). Not here: `challenge_reused`, the caller's store's to say (the class returns the
// `challengeId` to record).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { NOW, SECRET_1, SECRET_2 } from "./fixtures.mjs";

const require = createRequire(import.meta.url);
const { DeviceBoundSessions, SessionTokens, setCookie } = require("../../target/pkg-dbsc/edge_session.js");

const SID = "c2Vzc2lvbi1pZC0x";
const ring = [{ id: "k1", secret: SECRET_1 }];
const dbsc = (extra = {}) => new DeviceBoundSessions({ keys: ring, ...extra });
const b64 = (x) => Buffer.from(typeof x === "string" ? x : new Uint8Array(x)).toString("base64url");
const json64 = (o) => b64(JSON.stringify(o));

const ALGS = {
  ES256: {
    generate: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
    publicJwk: ({ kty, crv, x, y }) => ({ kty, crv, x, y }),
    thumbprintInput: ({ crv, kty, x, y }) => JSON.stringify({ crv, kty, x, y }),
  },
  RS256: {
    generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" },
    publicJwk: ({ kty, n, e }) => ({ kty, n, e }),
    thumbprintInput: ({ e, kty, n }) => JSON.stringify({ e, kty, n }),
  },
};

/** A device as a browser holds it: a key pair, its public JWK and RFC 7638 thumbprint. */
async function device(alg) {
  const a = ALGS[alg];
  const pair = await crypto.subtle.generateKey(a.generate, false, ["sign", "verify"]);
  const jwk = a.publicJwk(await crypto.subtle.exportKey("jwk", pair.publicKey));
  const jkt = createHash("sha256").update(a.thumbprintInput(jwk)).digest("base64url");
  return { alg, pair, jwk, jkt };
}

/** A `Secure-Session-Response` proof by `dev`: `payload` signed with the header `header`. */
async function signed(dev, header, payload) {
  const input = `${json64(header)}.${json64(payload)}`;
  const sig = await crypto.subtle.sign(ALGS[dev.alg].sign, dev.pair.privateKey, new TextEncoder().encode(input));
  return `${input}.${b64(sig)}`;
}

/** A proof as Chromium sends it: `typ` dbsc+jwt, the `jwk` at registration. */
const proof = (dev, jti, { jwk = true, authorization } = {}) =>
  signed(dev, { alg: dev.alg, typ: "dbsc+jwt", ...(jwk ? { jwk: dev.jwk } : {}) }, { jti, ...(authorization ? { authorization } : {}) });

/** The challenge of a registration header or a challenge header. */
const challengeOf = (header) => header.match(/challenge="([^"]+)"/)?.[1] ?? header.match(/^"([^"]+)"/)?.[1];

/** The code a Promise rejects with (an EdgeSessionError). */
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.name, "EdgeSessionError", String(e));
    return e.code;
  }
  assert.fail("did not reject");
}

/** The code `fn` throws (an EdgeSessionError). */
function thrown(fn) {
  try {
    fn();
  } catch (e) {
    assert.equal(e.name, "EdgeSessionError", String(e));
    return e;
  }
  assert.fail("did not throw");
}

const devices = Object.fromEntries(await Promise.all(Object.keys(ALGS).map(async (alg) => [alg, await device(alg)])));

for (const alg of Object.keys(ALGS)) {
  test(`${alg}: registration, bound cookie, refresh: a round trip`, async () => {
    const dev = devices[alg];
    const s = dbsc();
    assert.equal(s.boundSeconds, 600);
    const offer = s.registrationHeader(SID, { path: "/dbsc/register", authorization: "code-1", now: NOW });
    assert.match(offer, /^\(ES256 RS256\);path="\/dbsc\/register";challenge="[A-Za-z0-9_-]+";authorization="code-1"$/);
    const jti = challengeOf(offer);
    // Always a new challenge.
    assert.notEqual(challengeOf(s.registrationHeader(SID, { path: "/dbsc/register", now: NOW })), jti);

    const registered = await s.verifyRegistration(await proof(dev, jti, { authorization: "code-1" }), SID, { now: NOW + 5 });
    assert.equal(registered.jkt, dev.jkt);
    assert.equal(registered.alg, alg);
    assert.equal(registered.authorization, "code-1");
    assert.deepEqual(JSON.parse(registered.jwk), dev.jwk);
    assert.equal(typeof registered.challengeId, "string");
    assert.equal(registered.challengeExpires, NOW + 300);
    // The kept JWK imports in WebCrypto and verifies what the device signs.
    const imported = await crypto.subtle.importKey("jwk", JSON.parse(registered.jwk), ALGS[alg].generate, false, ["verify"]);
    const data = new TextEncoder().encode("x");
    assert.ok(await crypto.subtle.verify(ALGS[alg].sign, imported, await crypto.subtle.sign(ALGS[alg].sign, dev.pair.privateKey, data), data));

    // The bound cookie: a new value each time, valid for this session and key for boundSeconds.
    const bound = s.boundCookie(SID, registered.jkt, { now: NOW + 5 });
    assert.notEqual(s.boundCookie(SID, registered.jkt, { now: NOW + 5 }), bound);
    assert.equal(s.checkBound(bound, SID, registered.jkt, { now: NOW + 605 }), true);
    assert.equal(thrown(() => s.checkBound(bound, SID, registered.jkt, { now: NOW + 606 })).code, "expired");

    // The refresh: the 403's challenge, answered by the same key (Chromium sends no jwk then).
    const header = s.challengeHeader(SID, { now: NOW + 600 });
    assert.match(header, new RegExp(`^"[A-Za-z0-9_-]+";id="${SID}"$`));
    const refresh = await proof(dev, challengeOf(header), { jwk: false });
    const refreshed = await s.verifyRefresh(refresh, SID, registered.jwk, { jkt: registered.jkt, now: NOW + 601 });
    assert.equal(refreshed.jkt, dev.jkt);
    assert.equal(refreshed.challengeExpires, NOW + 600 + 600 + 300);
    // Without `jkt`, the key's own thumbprint; with the jwk in the header too, as some clients send it.
    const withJwk = await proof(dev, s.challenge(SID, { now: NOW }), { jwk: true });
    assert.equal((await s.verifyRefresh(withJwk, SID, registered.jwk, { now: NOW })).jkt, dev.jkt);

    // The session config and the end.
    const config = JSON.parse(
      s.sessionConfig({ sessionId: SID, refreshUrl: "/dbsc/refresh", origin: "https://app.example", cookieName: "__Host-bound" }),
    );
    assert.deepEqual(config, {
      session_identifier: SID,
      refresh_url: "/dbsc/refresh",
      continue: true,
      scope: { origin: "https://app.example", include_site: false },
      credentials: [{ type: "cookie", name: "__Host-bound", attributes: "Path=/; Secure; HttpOnly; SameSite=Lax" }],
    });
    assert.equal(DeviceBoundSessions.endSession(), '{"continue":false}');
  });
}

test("sessionIdFromHeader reads the session a refresh names, as the browser sends it", () => {
  const read = DeviceBoundSessions.sessionIdFromHeader;
  // Chrome sends the id as it is; a structured-field string (as the challenge header names the
  // session) is read too.
  assert.equal(read(`"${SID}"`), SID);
  assert.equal(read(' "a b\\"c" '), 'a b"c');
  assert.equal(read('"s1";x=1'), "s1");
  assert.equal(read("s1"), "s1");
  // No header (`headers.get` gives null), nothing in it, or a string that is not well formed.
  for (const value of [null, undefined, "", "  ", '"', '"s1', '"s1" x', '"a\\x"', '"\u00e9"']) {
    assert.equal(read(value), null, JSON.stringify(value));
  }
  // The challenge header's id reads back as the session id.
  const s = dbsc();
  const id = s.challengeHeader('se"s\\1', { now: NOW }).split(";id=")[1];
  assert.equal(read(id), 'se"s\\1');
});

test("a session id or key thumbprint no DBSC session has is refused, never read as another (lone surrogates)", async () => {
  // wasm-bindgen reads a lone surrogate as U+FFFD: a bound cookie or a refresh challenge of
  // "s\uD800" passed for "s\uDC00".
  const s = dbsc();
  const { jkt, jwk: publicJwk } = await device("ES256");
  const jwk = JSON.stringify(publicJwk);
  assert.equal(s.checkBound(s.boundCookie(SID, jkt, { now: NOW }), SID, jkt, { now: NOW }), true);
  for (const [call, setting] of [
    [() => s.challenge("s\uD800", { now: NOW }), "sessionId"],
    [() => s.boundCookie("s\uD800", jkt, { now: NOW }), "sessionId"],
    [() => s.boundCookie(SID, "j\uD800", { now: NOW }), "jkt"],
    [() => s.boundCookie(SID, "", { now: NOW }), "jkt"],
    [() => s.checkBound(s.boundCookie(SID, jkt, { now: NOW }), "s\uDC00", jkt, { now: NOW }), "sessionId"],
    [() => s.checkBound(s.boundCookie(SID, jkt, { now: NOW }), SID, "j\uDC00", { now: NOW }), "jkt"],
    [() => s.verifyRegistration("a.b.c", "s\uDC00", { now: NOW }), "sessionId"],
    [() => s.verifyRefresh("a.b.c", "s\uDC00", jwk, { now: NOW }), "sessionId"],
    [() => s.verifyRefresh("a.b.c", SID, jwk, { jkt: "j.k", now: NOW }), "jkt"],
  ]) {
    assert.throws(call, (e) => e.code === "invalid_config" && e.setting === setting, call.toString());
  }
});

test("refused proofs, each with its code", async () => {
  const es = devices.ES256;
  const rs = devices.RS256;
  const s = dbsc();
  const reg = (now = NOW) => challengeOf(s.registrationHeader(SID, { path: "/r", now }));
  const register = async (p, sid = SID, now = NOW) => rejection(s.verifyRegistration(p, sid, { now }));

  // malformed: not a JWT; typ missing or another; no jwk at registration; padding.
  assert.equal(await register("not-a-jwt"), "malformed");
  assert.equal(await register(await signed(es, { alg: "ES256", jwk: es.jwk }, { jti: reg() })), "malformed");
  assert.equal(await register(await signed(es, { alg: "ES256", typ: "JWT", jwk: es.jwk }, { jti: reg() })), "malformed");
  assert.equal(await register(await proof(es, reg(), { jwk: false })), "malformed");
  assert.equal(await register(await signed(es, { alg: "ES256", typ: "dbsc+jwt", jwk: { ...es.jwk, d: "AAAA" } }, { jti: reg() })), "malformed");
  // too_large: past 8 KiB.
  assert.equal(await register(await proof(es, reg(), { authorization: "a".repeat(9000) })), "too_large");
  // unsupported_alg: none, HS256.
  const none = `${json64({ alg: "none", typ: "dbsc+jwt" })}.${json64({ jti: reg() })}.`;
  assert.equal(await register(none), "unsupported_alg");
  assert.equal(await register(`${json64({ alg: "HS256", typ: "dbsc+jwt" })}.${json64({ jti: reg() })}.${b64("x".repeat(32))}`), "unsupported_alg");
  // unknown_challenge: never issued, for another session, a refresh challenge, another keyring.
  const issued = reg();
  const forged = issued.slice(0, 30) + (issued[30] === "A" ? "B" : "A") + issued.slice(31); // in the tag
  assert.equal(await register(await proof(es, forged)), "unknown_challenge");
  assert.equal(await register(await proof(es, reg()), "another-session"), "unknown_challenge");
  assert.equal(await register(await proof(es, s.challenge(SID, { now: NOW }))), "unknown_challenge");
  const other = new DeviceBoundSessions({ keys: [{ id: "k1", secret: SECRET_2 }] });
  assert.equal(await rejection(other.verifyRegistration(await proof(es, reg()), SID, { now: NOW })), "unknown_challenge");
  // expired: a registration challenge 301 s old (300 s still accepted); not_yet_valid: from the future.
  const old = reg(NOW);
  assert.equal((await s.verifyRegistration(await proof(es, old), SID, { now: NOW + 300 })).jkt, es.jkt);
  assert.equal(await register(await proof(es, old), SID, NOW + 301), "expired");
  assert.equal(await register(await proof(es, reg(NOW + 61)), SID, NOW), "not_yet_valid");
  // bad_signature: a changed payload; the jwk of another key of the same alg.
  const good = await proof(es, reg());
  const [h, , sig] = good.split(".");
  assert.equal(await register(`${h}.${json64({ jti: reg() })}.${sig}`), "bad_signature");
  const es2 = await device("ES256");
  assert.equal(await register(await signed(es2, { alg: "ES256", typ: "dbsc+jwt", jwk: es.jwk }, { jti: reg() })), "bad_signature");
  assert.equal(await register(await signed(rs, { alg: "RS256", typ: "dbsc+jwt", jwk: (await device("RS256")).jwk }, { jti: reg() })), "bad_signature");

  // Refresh: key_mismatch for another key (with or without its jwk), another alg, a recorded jkt
  // that is not the key's; the same codes as registration otherwise.
  const esJwk = JSON.stringify(es.jwk);
  const refreshOf = async (p, { jwk = esJwk, jkt, now = NOW } = {}) => rejection(s.verifyRefresh(p, SID, jwk, { jkt, now }));
  const ch = () => s.challenge(SID, { now: NOW });
  assert.equal(await refreshOf(await proof(es2, ch(), { jwk: false })), "bad_signature");
  assert.equal(await refreshOf(await proof(es2, ch(), { jwk: true })), "key_mismatch");
  assert.equal(await refreshOf(await proof(rs, ch(), { jwk: false })), "key_mismatch");
  assert.equal(await refreshOf(await proof(es, ch()), { jkt: rs.jkt }), "key_mismatch");
  assert.equal(await refreshOf(await proof(es, reg())), "unknown_challenge");
  assert.equal(await refreshOf(await proof(es, ch()), { now: NOW + 600 + 300 + 1 }), "expired");
  assert.equal(await refreshOf(await proof(es, s.challenge(SID, { now: NOW + 61 }))), "not_yet_valid");
  assert.equal(await refreshOf(await proof(es, ch()), { jwk: '{"kty":"EC"}' }), "malformed");
  assert.equal(await refreshOf(await proof(es, ch()), { jwk: JSON.stringify({ ...es.jwk, d: "AAAA" }) }), "malformed");
  assert.equal((await s.verifyRefresh(await proof(es, ch()), SID, esJwk, { now: NOW + 900 })).jkt, es.jkt);

  // The bound cookie of another session or key, altered, or not one at all.
  const bound = s.boundCookie(SID, es.jkt, { now: NOW });
  assert.equal(thrown(() => s.checkBound(bound, "another-session", es.jkt, { now: NOW })).code, "bad_signature");
  assert.equal(thrown(() => s.checkBound(bound, SID, rs.jkt, { now: NOW })).code, "bad_signature");
  assert.equal(thrown(() => other.checkBound(bound, SID, es.jkt, { now: NOW })).code, "bad_signature");
  assert.equal(thrown(() => s.checkBound("x", SID, es.jkt, { now: NOW })).code, "malformed");
  assert.equal(thrown(() => s.checkBound(bound, SID, es.jkt, { now: NOW - 61 })).code, "not_yet_valid");
});

test("the bound cookie set by setCookie carries the attributes sessionConfig names (README)", () => {
  // The README sets the bound cookie with setCookie: its attributes after Max-Age must be those
  // the session config tells the browser (a __Host- cookie without Secure and Path=/ is refused).
  const s = dbsc();
  const bound = s.boundCookie(SID, "jkt", { now: NOW });
  const config = JSON.parse(s.sessionConfig({ sessionId: SID, refreshUrl: "/dbsc/refresh", origin: "https://app.example", cookieName: "__Host-bound" }));
  const header = setCookie("__Host-bound", bound, { maxAge: s.boundSeconds });
  assert.equal(header, `__Host-bound=${bound}; Max-Age=${s.boundSeconds}; ${config.credentials[0].attributes}`);
});

test("without WebCrypto: randomness_unavailable, and a proof is never accepted", async () => {
  const s = dbsc();
  const jti = challengeOf(s.registrationHeader(SID, { path: "/r", now: NOW }));
  const good = await proof(devices.ES256, jti);
  const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  delete globalThis.crypto;
  try {
    assert.equal(globalThis.crypto, undefined);
    for (const call of [
      () => s.registrationHeader(SID, { path: "/r", now: NOW }),
      () => s.challenge(SID, { now: NOW }),
      () => s.challengeHeader(SID, { now: NOW }),
      () => s.boundCookie(SID, "jkt", { now: NOW }),
    ]) {
      assert.equal(thrown(call).code, "randomness_unavailable");
    }
    await assert.rejects(s.verifyRegistration(good, SID, { now: NOW }), { message: /WebCrypto \(crypto\.subtle\) is not available/ });
  } finally {
    Object.defineProperty(globalThis, "crypto", saved);
  }
  assert.equal((await s.verifyRegistration(good, SID, { now: NOW })).jkt, devices.ES256.jkt);
});

test("a key rotation keeps what the old key issued valid", async () => {
  const es = devices.ES256;
  const before = dbsc();
  const after = new DeviceBoundSessions({ keys: [{ id: "k2", secret: SECRET_2 }, ...ring] });
  const jti = challengeOf(before.registrationHeader(SID, { path: "/r", now: NOW }));
  assert.equal((await after.verifyRegistration(await proof(es, jti), SID, { now: NOW })).jkt, es.jkt);
  const bound = before.boundCookie(SID, es.jkt, { now: NOW });
  assert.equal(after.checkBound(bound, SID, es.jkt, { now: NOW }), true);
  // And what the new key issues, the old ring does not know.
  assert.equal(thrown(() => before.checkBound(after.boundCookie(SID, es.jkt, { now: NOW }), SID, es.jkt, { now: NOW })).code, "bad_signature");
});

test("settings and options: invalid_config naming the option", () => {
  const setting = (fn) => {
    const e = thrown(fn);
    assert.equal(e.code, "invalid_config");
    return e.setting;
  };
  assert.equal(setting(() => dbsc({ boundSeconds: 59 })), "boundSeconds");
  // Under 300 s Chrome's signing quota (6 signings per 9 minutes and site, a proactive refresh
  // 2 minutes before expiry) runs out: refreshes are skipped and the session goes unbound.
  assert.equal(setting(() => dbsc({ boundSeconds: 60 })), "boundSeconds");
  assert.equal(setting(() => dbsc({ boundSeconds: 299 })), "boundSeconds");
  assert.equal(setting(() => dbsc({ boundSeconds: 86401 })), "boundSeconds");
  assert.equal(dbsc({ boundSeconds: 300 }).boundSeconds, 300);
  assert.equal(setting(() => new DeviceBoundSessions({})), "keys");
  assert.equal(setting(() => new DeviceBoundSessions({ keys: [{ id: "k1", secret: "c2hvcnQ" }] })), "keys");
  assert.equal(setting(() => dbsc({ boundSecond: 600 })), undefined);
  const s = dbsc();
  assert.equal(setting(() => s.registrationHeader(SID, {})), "path");
  assert.equal(setting(() => s.registrationHeader(SID, { path: "/r", now: -1 })), "now");
  assert.equal(setting(() => s.challenge(SID, { now: 1.5 })), "now");
  assert.equal(thrown(() => s.registrationHeader(SID, { path: "/r", athorization: "x" })).code, "invalid_config");
  assert.equal(setting(() => s.registrationHeader(SID, { path: "/r\n" })), "path");
  assert.equal(setting(() => s.challengeHeader("sid\u00e9")), "sessionId");
  // A session id no challenge header can name is refused where the session begins, not at its
  // first refresh: registration offered, or the session config written.
  assert.equal(setting(() => s.registrationHeader("sid\u00e9", { path: "/r" })), "sessionId");
  const config = { refreshUrl: "/r", origin: "https://a.example", cookieName: "__Host-bound" };
  assert.equal(setting(() => s.sessionConfig({ ...config, sessionId: "sid\n" })), "sessionId");
  assert.equal(JSON.parse(s.sessionConfig({ ...config, sessionId: 'a "quoted" id' })).session_identifier, 'a "quoted" id');
  // Nor one that would not read back from a Sec-Secure-Session-Id sent without quotes.
  for (const id of ["", '"quoted"', " lead", "trail "]) {
    assert.equal(setting(() => s.registrationHeader(id, { path: "/r" })), "sessionId", JSON.stringify(id));
    assert.equal(setting(() => s.sessionConfig({ ...config, sessionId: id })), "sessionId", JSON.stringify(id));
  }
  assert.equal(setting(() => s.sessionConfig({ sessionId: SID, refreshUrl: "/r", origin: "https://a.example" })), "cookieName");
  // Nor a config the browser would not act on: the session would fail there, without a word.
  for (const [name, value, named] of [
    ["origin", "https://a.example/", "origin"],
    ["origin", "a.example", "origin"],
    ["origin", "https://a.example:99999", "origin"],
    ["cookieName", "bound;x", "cookieName"],
    ["cookieName", "", "cookieName"],
    ["refreshUrl", "/r\n", "refreshUrl"],
    ["refreshUrl", "", "refreshUrl"],
    ["attributes", "Path=/\r\nSet-Cookie: x=y", "attributes"],
  ]) {
    const e = thrown(() => s.sessionConfig({ ...config, sessionId: SID, [name]: value }));
    assert.equal(e.code, "invalid_config", `${name} ${JSON.stringify(value)}`);
    assert.equal(e.setting, named, `${name} ${JSON.stringify(value)}`);
  }
  assert.equal(JSON.parse(s.sessionConfig({ ...config, sessionId: SID, origin: "http://127.0.0.1:8787" })).scope.origin, "http://127.0.0.1:8787");
  assert.equal(thrown(() => s.boundCookie(SID, "jkt", { now: -1 })).code, "invalid_config");
  // The clock by default.
  const bound = s.boundCookie(SID, "jkt");
  assert.equal(s.checkBound(bound, SID, "jkt"), true);
});

test("the build with DeviceBoundSessions still has the base classes", () => {
  const tokens = new SessionTokens({ keys: ring });
  assert.equal(tokens.verify(tokens.sign({ sub: "u" }, { now: NOW }), { now: NOW }).sub, "u");
});

// The known vectors of tests/vectors/dbsc.json (made with Node's WebCrypto, HKDF and HMAC by
// scripts/dbsc-vectors.mjs; read by the Rust tests too), through the JS face.
const V = JSON.parse(readFileSync(new URL("../vectors/dbsc.json", import.meta.url), "utf8"));
const fromVectors = () => new DeviceBoundSessions({ keys: V.keys, boundSeconds: V.boundSeconds });

test("tests/vectors/dbsc.json: each proof verifies or is refused with its code", async () => {
  const s = fromVectors();
  for (const p of V.proofs) {
    const now = p.step === "refresh" ? V.now + V.boundSeconds : V.now;
    const want = p.code ?? (p.verifies ? null : "bad_signature");
    const run =
      p.step === "refresh"
        ? s.verifyRefresh(p.jwt, V.sessionId, JSON.stringify(p.jwk), { jkt: p.jkt, now })
        : s.verifyRegistration(p.jwt, V.sessionId, { now });
    if (want === null) {
      const out = await run;
      assert.equal(out.jkt, p.jkt, p.name);
      if (p.step === "registration") {
        assert.equal(out.alg, p.alg, p.name);
        assert.deepEqual(JSON.parse(out.jwk), p.jwk, p.name);
        assert.equal(out.authorization, p.authorization ?? undefined, p.name);
      }
    } else {
      assert.equal(await rejection(run), want, p.name);
    }
  }
  // The draft's example: jwk in the payload, none in the header: refused as a registration.
  assert.equal(await rejection(s.verifyRegistration(V.draftExample.header, V.sessionId, { now: V.now })), V.draftExample.registrationCode);
});

test("tests/vectors/dbsc.json: its challenges and bound cookies check here; RFC 7638's thumbprint", async () => {
  const s = fromVectors();
  for (const c of V.challenges) {
    const dev = devices.ES256;
    const p = await proof(dev, c.challenge, { jwk: c.kind === "registration" });
    const out =
      c.kind === "registration"
        ? await s.verifyRegistration(p, c.sessionId, { now: c.now })
        : await s.verifyRefresh(p, c.sessionId, JSON.stringify(dev.jwk), { now: c.now });
    assert.equal(out.jkt, dev.jkt, c.kind);
    // Of its kind only, for its session only.
    assert.equal(await rejection(s.verifyRegistration(p, "sid-0002", { now: c.now })), c.kind === "registration" ? "unknown_challenge" : "malformed");
  }
  for (const b of V.bound) {
    assert.equal(s.checkBound(b.value, b.sessionId, b.jkt, { now: b.now }), true);
    assert.equal(thrown(() => s.checkBound(b.value, b.sessionId, b.jkt, { now: b.now + V.boundSeconds + 1 })).code, "expired");
  }
  // The RFC's key with its thumbprint passes the key check (then its signature fails: the
  // proof is by another key); with another thumbprint it is key_mismatch.
  const rfc = JSON.stringify(V.rfc7638.jwk);
  const refresh = await proof(devices.RS256, s.challenge(V.sessionId, { now: V.now }), { jwk: false });
  assert.equal(await rejection(s.verifyRefresh(refresh, V.sessionId, rfc, { jkt: V.rfc7638.thumbprint, now: V.now })), "bad_signature");
  assert.equal(await rejection(s.verifyRefresh(refresh, V.sessionId, rfc, { jkt: devices.RS256.jkt, now: V.now })), "key_mismatch");
});

/** Each call of `s` that takes options: its name, the call, the options it needs besides `now`. */
const optionCalls = (s) => [
  ["registrationHeader", (o) => s.registrationHeader(SID, o), { path: "/r" }],
  ["challenge", (o) => s.challenge(SID, o)],
  ["challengeHeader", (o) => s.challengeHeader(SID, o)],
  ["verifyRegistration", (o) => s.verifyRegistration("x", SID, o)],
  ["verifyRefresh", (o) => s.verifyRefresh("x", SID, "{}", o)],
  ["boundCookie", (o) => s.boundCookie(SID, "jkt", o)],
  ["checkBound", (o) => s.checkBound("x", SID, "jkt", o)],
];

test("options whose getter (or Proxy) throws are thrown as they are, and the instance keeps working", () => {
  // A Proxy whose ownKeys trap throws: its exception went through the wasm's frames (the names
  // were listed by a call without wasm-bindgen's catch) and left its stack pointer moved: a few
  // thousand later, every call failed with "memory access out of bounds".
  const s = dbsc();
  const boom = new Error("getter");
  const throwing = (name, extra) => Object.defineProperty({ ...extra }, name, { enumerable: true, get() { throw boom; } });
  const proxy = new Proxy({}, { get() { throw boom; }, ownKeys() { throw boom; } });
  for (let i = 0; i < 5_000; i++) {
    for (const [name, call, extra] of optionCalls(s)) {
      assert.throws(() => call(throwing("now", extra)), (e) => e === boom, `${name}, ${i}`);
      assert.throws(() => call(proxy), (e) => e === boom, `${name} Proxy, ${i}`);
    }
    assert.throws(() => s.sessionConfig(proxy), (e) => e === boom, `sessionConfig Proxy, ${i}`);
    assert.throws(() => new DeviceBoundSessions(proxy), (e) => e === boom, `constructor Proxy, ${i}`);
  }
  const bound = s.boundCookie(SID, "jkt", { now: NOW });
  assert.equal(s.checkBound(bound, SID, "jkt", { now: NOW }), true);
});

test("options with a name that is none of the call's are refused, never ignored", () => {
  const s = dbsc();
  for (const [name, call, extra] of optionCalls(s)) {
    const e = thrown(() => call({ ...extra, now: NOW, jtk: "x" }));
    assert.equal(e.code, "invalid_config", name);
    assert.match(e.message, /unknown option "jtk"/, name);
  }
});

test("a proof null or undefined (headers.get of a header not sent) rejects with malformed, as a proof's other faults do, never a TypeError thrown at the call", async () => {
  const s = dbsc();
  const dev = devices.ES256;
  for (const missing of [null, undefined]) {
    const registering = s.verifyRegistration(missing, SID, { now: NOW });
    assert.ok(registering instanceof Promise);
    assert.equal(await rejection(registering), "malformed");
    assert.equal(await rejection(s.verifyRefresh(missing, SID, JSON.stringify(dev.jwk), { now: NOW })), "malformed");
  }
  await assert.rejects(s.verifyRegistration(null, SID, { now: NOW }), /none given/);
});
