// The smoke suite every runtime runs against the installed package (tests/pkg/pkg.test.mjs).
// Plain ES module, no runtime APIs beyond the web platform's: the caller passes the modules as
// its runtime imported them (`edge-session`, `edge-session/store`, `edge-session/assertion`,
// `edge-session/dbsc`, `jose`) and, where the platform has one, a KV namespace. Resolves to [{ name, ok, detail }] and never throws.

const SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"; // 36 bytes once decoded
const OLD_SECRET = "b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQtb2xk";
const KEYS = [{ id: "k1", secret: SECRET }];

/** The names of the checks, in order; `store-kv` only when a KV namespace is given. */
export const CHECKS = [
  "exports",
  "sign-verify",
  "tamper",
  "expired",
  "errors",
  "sealed",
  "jwt-to-jose",
  "jose-to-jwt",
  "affinity",
  "store-memory",
  "store-kv",
  "store-reads-base-tokens",
  // OriginAssertions (`edge-session/assertion`): sign -> jwks -> verify, and a changed token
  // refused, with each algorithm. Every runtime tested here has Ed25519 in WebCrypto (Node 20+,
  // Deno, Bun, workerd, the edge runtime on Node's, Chromium 137+), so both run everywhere.
  "assertion-EdDSA",
  "assertion-ES256",
  // DeviceBoundSessions (`edge-session/dbsc`): registration and refresh with proofs made by the
  // runtime's WebCrypto, a changed proof refused, with each algorithm.
  "dbsc-ES256",
  "dbsc-RS256",
];

export async function smoke({ lib, store, assertion, dbsc, jose, kv }) {
  const results = [];
  const check = async (name, body) => {
    try {
      await body();
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, detail: `${e?.name}: ${e?.message} ${e?.code ?? ""}`.trim() });
    }
  };
  const assert = (cond, message) => {
    if (!cond) throw new Error(`assertion failed: ${message}`);
  };
  const throwsCode = (fn, code) => {
    try {
      fn();
    } catch (e) {
      assert(lib.isEdgeSessionError(e), `an EdgeSessionError (got ${e})`);
      assert(e.code === code, `code ${code}, got ${e.code}`);
      return e;
    }
    throw new Error(`assertion failed: expected ${code}, nothing thrown`);
  };

  await check("exports", () => {
    for (const name of ["SessionTokens", "SealedTokens", "Affinity", "isEdgeSessionError", "ERROR_CODES"]) {
      assert(name in lib, `edge-session exports ${name}`);
    }
    for (const name of ["SessionStore", "Session", "SessionTokens", "handleSessionObject", "sessionObjectAlarm"]) {
      assert(name in store, `edge-session/store exports ${name}`);
    }
    for (const name of ["OriginAssertions", "SessionTokens", "isEdgeSessionError"]) {
      assert(name in assertion, `edge-session/assertion exports ${name}`);
    }
    assert(!("OriginAssertions" in lib), "the base does not carry OriginAssertions");
    for (const name of ["DeviceBoundSessions", "SessionTokens", "isEdgeSessionError"]) {
      assert(name in dbsc, `edge-session/dbsc exports ${name}`);
    }
    assert(!("DeviceBoundSessions" in lib), "the base does not carry DeviceBoundSessions");
    assert(!("initSync" in lib) && !("default" in lib), "no init function to call");
  });

  const tokens = new lib.SessionTokens({ keys: KEYS, ttlSeconds: 600 });
  const now = Math.floor(Date.now() / 1000);
  const token = tokens.sign({ sub: "user-1", role: "admin" }, { now });

  await check("sign-verify", () => {
    const claims = tokens.verify(token, { now });
    assert(claims.sub === "user-1" && claims.role === "admin", "claims round trip");
    assert(claims.exp === now + 600 && claims.iat === now, "iat and exp");
    const detailed = tokens.verifyDetailed(token, { now });
    assert(detailed.keyId === "k1" && detailed.staleKey === false, "key id");
  });

  await check("tamper", () => {
    const i = token.length - 5; // inside the tag
    const changed = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
    throwsCode(() => tokens.verify(changed, { now }), "bad_signature");
    throwsCode(() => tokens.verify("not a token", { now }), "malformed");
    const other = new lib.SessionTokens({ keys: [{ id: "k1", secret: OLD_SECRET }] });
    throwsCode(() => other.verify(token, { now }), "bad_signature");
  });

  await check("expired", () => {
    const e = throwsCode(() => tokens.verify(token, { now: now + 3600 }), "expired");
    assert(e.claims?.sub === "user-1", "an expired error carries the claims");
  });

  await check("errors", () => {
    const e = throwsCode(() => new lib.SessionTokens({ keys: KEYS, ttlSeconds: 0 }), "invalid_config");
    assert(e.setting === "ttlSeconds", `setting ttlSeconds, got ${e.setting}`);
    assert(!lib.isEdgeSessionError(new Error("x")), "a plain Error is not an EdgeSessionError");
    assert(!lib.isEdgeSessionError({ name: "EdgeSessionError", code: "expired" }), "nor a look-alike object");
    assert(lib.ERROR_CODES.includes("bad_signature") && lib.ERROR_CODES.includes("store_unavailable"), "ERROR_CODES");
  });

  await check("sealed", () => {
    const sealed = new lib.SealedTokens({ keys: KEYS });
    const s = sealed.sign({ sub: "user-2" }, { now });
    assert(sealed.verify(s, { now }).sub === "user-2", "sealed round trip");
    const code = codeOf(() => tokens.verify(s, { now }));
    assert(code === "malformed", `a sealed token is no signed token: malformed (got ${code})`);
    assert(!s.includes("user-2"), "claims are not readable");
  });

  const raw = jose.base64url.decode(SECRET);
  await check("jwt-to-jose", async () => {
    const jwt = tokens.signJwt({ sub: "user-3" }, { now, issuer: "https://id.example", audience: "app" });
    const { payload, protectedHeader } = await jose.jwtVerify(jwt, raw, {
      issuer: "https://id.example",
      audience: "app",
      currentDate: new Date(now * 1000),
    });
    assert(protectedHeader.alg === "HS256" && payload.sub === "user-3", "jose verifies our JWT");
  });

  await check("jose-to-jwt", async () => {
    const jwt = await new jose.SignJWT({ sub: "user-4" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(raw);
    assert(tokens.verifyJwt(jwt, { now }).sub === "user-4", "we verify jose's JWT");
    const none = `${jose.base64url.encode(JSON.stringify({ alg: "none" }))}.${jwt.split(".")[1]}.`;
    throwsCode(() => tokens.verifyJwt(none, { now }), "unsupported_alg");
  });

  await check("affinity", () => {
    const affinity = new lib.Affinity({ secret: SECRET, backends: [{ id: "a" }, { id: "b" }, { id: "c" }] });
    const first = affinity.route({ now });
    assert(["a", "b", "c"].includes(first.backend) && first.setCookie, "a new visitor gets a backend and a cookie");
    const cookie = first.setCookie.split(";")[0];
    const again = affinity.route({ cookie, now });
    assert(again.backend === first.backend && !again.reassigned, "the cookie keeps the backend");
    affinity.setHealthy(first.backend, false);
    const moved = affinity.route({ cookie, now });
    assert(moved.backend !== first.backend && moved.reassigned, "a downed backend's visitor moves");
  });

  const storeRoundTrip = async (config) => {
    const sessions = new store.SessionStore({ keys: KEYS, ...config });
    const created = await sessions.update(null, (s) => s.set("n", 1), { retries: 2, now });
    assert(typeof created.cookie === "string" && created.cookie.length > 20, "a cookie");
    const loaded = await sessions.load(created.cookie, { now: now + 1 });
    assert(loaded.get("n") === 1 && !loaded.isNew, "the session loads back");
    const again = await sessions.update(created.cookie, (s) => s.set("n", s.get("n") + 1), 3, { now: now + 2 });
    assert(again.get("n") === 2, "the positional form of update");
    await sessions.destroy(again);
    assert((await sessions.find(created.cookie, { now: now + 3 })) === undefined, "destroyed");
    return sessions;
  };

  await check("store-memory", async () => {
    const sessions = await storeRoundTrip({});
    assert(sessions.consistency === "strong", "memory is strongly consistent");
  });

  if (kv) {
    await check("store-kv", async () => {
      const sessions = await storeRoundTrip({ kv });
      assert(sessions.consistency === "eventual", "KV is eventually consistent");
    });
  }

  await check("store-reads-base-tokens", () => {
    const other = new store.SessionTokens({ keys: KEYS });
    assert(other.verify(token, { now }).sub === "user-1", "both wasm builds read the same tokens");
  });

  for (const alg of ["EdDSA", "ES256"]) {
    await check(`assertion-${alg}`, async () => {
      const issuer = "https://app.example";
      const audience = "https://origin.example";
      const gateway = new assertion.OriginAssertions({ alg, keys: KEYS, issuer });
      const jwt = await gateway.sign({ audience, claims: { sub: "user-5", sid: "s1" }, now });
      const jwks = await gateway.jwks();
      assert(jwks.keys.length === 1 && /^k1-(EdDSA|ES256)-[\w-]{8}$/.test(jwks.keys[0].kid) && jwks.keys[0].kid.startsWith(`k1-${alg}-`) && jwks.keys[0].alg === alg, "the JWKS");
      assert(!JSON.stringify(jwks).includes('"d"'), "no private part published");
      // An origin with only the published keys: jose, and OriginAssertions' own verify.
      const { payload } = await jose.jwtVerify(jwt, jose.createLocalJWKSet(jwks), {
        issuer,
        audience,
        currentDate: new Date(now * 1000),
      });
      assert(payload.sub === "user-5" && payload.status === "valid", "jose verifies the assertion");
      const claims = await gateway.verify(jwt, { audience, now });
      assert(claims.sub === "user-5" && claims.sid === "s1" && claims.aud === audience, "verify() round trip");
      // A changed payload: refused by both.
      const [h, , sig] = jwt.split(".");
      const forged = `${h}.${jose.base64url.encode(JSON.stringify({ ...payload, sub: "admin" }))}.${sig}`;
      let refused = false;
      try {
        await gateway.verify(forged, { audience, now });
      } catch (e) {
        assert(lib.isEdgeSessionError(e) && e.code === "bad_signature", `bad_signature, got ${e?.code ?? e}`);
        refused = true;
      }
      assert(refused, "a changed assertion is refused");
      const joseRefused = await jose.jwtVerify(forged, jose.createLocalJWKSet(jwks), { currentDate: new Date(now * 1000) }).then(
        () => false,
        () => true,
      );
      assert(joseRefused, "jose refuses it too");
    });
  }

  const DEVICE = {
    ES256: { generate: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
    RS256: {
      generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      sign: { name: "RSASSA-PKCS1-v1_5" },
    },
  };
  for (const alg of ["ES256", "RS256"]) {
    await check(`dbsc-${alg}`, async () => {
      const sessions = new dbsc.DeviceBoundSessions({ keys: KEYS });
      const sid = "session-1";
      // The browser's side: a key pair, proofs signed with it (WebCrypto).
      const pair = await crypto.subtle.generateKey(DEVICE[alg].generate, false, ["sign", "verify"]);
      const { kty, crv, x, y, n, e } = await crypto.subtle.exportKey("jwk", pair.publicKey);
      const jwk = alg === "ES256" ? { kty, crv, x, y } : { kty, n, e };
      const part = (o) => jose.base64url.encode(JSON.stringify(o));
      const proof = async (jti, withKey) => {
        const input = `${part({ alg, typ: "dbsc+jwt", ...(withKey ? { jwk } : {}) })}.${part({ jti })}`;
        const sig = await crypto.subtle.sign(DEVICE[alg].sign, pair.privateKey, new TextEncoder().encode(input));
        return `${input}.${jose.base64url.encode(new Uint8Array(sig))}`;
      };
      const offer = sessions.registrationHeader(sid, { path: "/dbsc/register" });
      const jti = offer.match(/challenge="([^"]+)"/)?.[1];
      assert(offer.startsWith("(ES256 RS256);") && jti, `a registration header: ${offer}`);
      const registered = await sessions.verifyRegistration(await proof(jti, true), sid);
      assert(registered.alg === alg && JSON.parse(registered.jwk).kty === kty && registered.jkt.length === 43, "registered");
      const bound = sessions.boundCookie(sid, registered.jkt);
      assert(sessions.checkBound(bound, sid, registered.jkt) === true, "the bound cookie checks");
      const next = sessions.challengeHeader(sid).match(/^"([^"]+)";id="session-1"$/)?.[1];
      assert(next, "a challenge header");
      const refreshed = await sessions.verifyRefresh(await proof(next, false), sid, registered.jwk);
      assert(refreshed.jkt === registered.jkt, "refreshed");
      // A changed proof: another challenge under the same signature.
      const [h, , sig] = (await proof(next, false)).split(".");
      const changed = `${h}.${part({ jti: sessions.challenge(sid) })}.${sig}`;
      let code;
      try {
        await sessions.verifyRefresh(changed, sid, registered.jwk);
      } catch (e) {
        code = lib.isEdgeSessionError(e) ? e.code : String(e);
      }
      assert(code === "bad_signature", `a changed proof refused with bad_signature, got ${code}`);
    });
  }

  return results;
}

// The code of the EdgeSessionError `fn` throws; undefined when it throws nothing or another error.
function codeOf(fn) {
  try {
    fn();
  } catch (e) {
    return e?.name === "EdgeSessionError" ? e.code : undefined;
  }
  return undefined;
}
