// The smoke suite every runtime runs against the installed package (tests/pkg/pkg.test.mjs).
// Plain ES module, no runtime APIs beyond the web platform's: the caller passes the modules as
// its runtime imported them (`edge-session`, `edge-session/store`, `edge-session/assertion`,
// `jose`) and, where the platform has one, a KV namespace. Resolves to [{ name, ok, detail }] and never throws.

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
];

export async function smoke({ lib, store, assertion, jose, kv }) {
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
    assert(lib.ERROR_CODES.includes(code), `a sealed token is no signed token (got ${code})`);
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
      assert(jwks.keys.length === 1 && jwks.keys[0].kid === "k1" && jwks.keys[0].alg === alg, "the JWKS");
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
