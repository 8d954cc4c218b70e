// Signed assertions for origins (ORIGIN_ASSERTION, issue 15) on the real local runtime: the
// gateway signs through workerd's WebCrypto, publishes its keys at /.well-known/jwks.json, and
// the verifiers of examples/origin-verify/ (Node with jose, Python with PyJWT) accept what it
// signed and refuse a changed or an expired assertion; they fetch the JWKS once and again on a
// key id they do not know (a rotation: a second gateway whose SESSION_KEYS put a new key first).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SignJWT, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";

import { assertionVerifier } from "../../examples/origin-verify/verify.mjs";
import { Gateway, Jar, ROOT, startOrigins } from "./harness.mjs";

const ISSUER = "https://app.example";
const JWKS_PATH = "/.well-known/jwks.json";
const k1 = { id: "k1", secret: randomBytes(32).toString("base64url") };
const k2 = { id: "k2", secret: randomBytes(32).toString("base64url") };

// An operator's own key (ORIGIN_ASSERTION_KEY), not derived from SESSION_KEYS.
const operatorKey = { ...generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }), kid: "ops-1" };

let origins, gw1, gw2, gwEs, gwKey, proxy;
let upstream; // the gateway whose JWKS the counting proxy serves
let jwksFetches = 0;

const assertionOf = (r) => r.body.session["x-session-assertion"];

/** The private key the gateway derives from `key` for `purpose`, derived here independently
 * (HKDF-SHA256, salt "edge-session/v1"), as a Node KeyObject. */
/** The kid of `key`'s derived key for `alg`: its id, the algorithm and a tag of its secret. */
const kidOf = (key, alg) => {
  const tag = hkdfSync("sha256", Buffer.from(key.secret, "base64url"), "edge-session/v1", "origin-assertion/kid", 32);
  return `${key.id}-${alg}-${Buffer.from(tag).subarray(0, 6).toString("base64url")}`;
};

function derivedKey(key, alg) {
  const seed = Buffer.from(
    hkdfSync("sha256", Buffer.from(key.secret, "base64url"), "edge-session/v1", `origin-assertion/${alg}`, 32),
  );
  const prefix =
    alg === "EdDSA"
      ? "302e020100300506032b657004220420"
      : "3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420";
  return createPrivateKey({ key: Buffer.concat([Buffer.from(prefix, "hex"), seed]), format: "der", type: "pkcs8" });
}

/** Finds a member named `name` anywhere in a JSON value. */
const hasMember = (v, name) =>
  v !== null && typeof v === "object" && (Object.hasOwn(v, name) || Object.values(v).some((x) => hasMember(x, name)));

/** Flips one character of the payload: the signature no longer matches. */
function changed(token) {
  const [h, p, s] = token.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url"));
  claims.sub = "admin";
  return [h, Buffer.from(JSON.stringify(claims)).toString("base64url"), s].join(".");
}

/** The Python verifier as a long-lived process: one assertion per line in, one JSON line out. */
function pythonVerifier(audience) {
  const proc = spawn("python3", [join(ROOT, "examples/origin-verify/verify.py"), ISSUER, audience, proxy.url, "0"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: proc.stdout });
  const waiting = [];
  lines.on("line", (l) => waiting.shift()?.(JSON.parse(l)));
  return {
    verify: (token) =>
      new Promise((r) => {
        waiting.push(r);
        proc.stdin.write(token + "\n");
      }),
    stop: () => proc.kill(),
  };
}

before(async () => {
  origins = await startOrigins(["a"]);
  const vars = { ORIGIN_ASSERTION: "EdDSA", ORIGIN_ASSERTION_ISSUER: ISSUER };
  gw1 = new Gateway(origins, { vars, secrets: { SESSION_KEYS: JSON.stringify([k1]) } });
  gw2 = new Gateway(origins, { vars, secrets: { SESSION_KEYS: JSON.stringify([k2, k1]) } });
  gwEs = new Gateway(origins, { vars: { ORIGIN_ASSERTION: "ES256" }, secrets: { SESSION_KEYS: JSON.stringify([k1]) } });
  gwKey = new Gateway(origins, {
    vars,
    secrets: { SESSION_KEYS: JSON.stringify([k1]), ORIGIN_ASSERTION_KEY: JSON.stringify(operatorKey) },
  });
  await Promise.all([gw1.start(), gw2.start(), gwEs.start(), gwKey.start()]);
  upstream = gw1;
  const server = createServer(async (req, res) => {
    jwksFetches++;
    const r = await fetch(upstream.url + JWKS_PATH);
    res.writeHead(r.status, { "content-type": "application/json" });
    res.end(await r.text());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  proxy = { server, url: `http://127.0.0.1:${server.address().port}/jwks` };
});

after(async () => {
  proxy?.server.close();
  await Promise.all([gw1?.stop(), gw2?.stop(), gwEs?.stop(), gwKey?.stop()]);
  await Promise.all((origins || []).map((o) => o.kill()));
});

describe("origin assertions on wrangler dev", { concurrency: false }, () => {
  test("the JWKS: cacheable, one public key per SESSION_KEYS key, no private member", async () => {
    for (const [gw, kids, kty] of [
      [gw1, [kidOf(k1, "EdDSA")], "OKP"],
      [gw2, [kidOf(k2, "EdDSA"), kidOf(k1, "EdDSA")], "OKP"],
      [gwEs, [kidOf(k1, "ES256")], "EC"],
    ]) {
      const res = await fetch(gw.url + JWKS_PATH);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("cache-control"), /max-age=\d+/);
      const set = await res.json();
      assert.deepEqual(set.keys.map((k) => k.kid), kids);
      assert.ok(set.keys.every((k) => k.kty === kty && k.use === "sig"));
      assert.equal(hasMember(set, "d"), false);
    }
    // The same secret gives the same public key in both gateways (a rotation changes nothing
    // for keys already published), and the key this test derives on its own.
    const one = (await (await fetch(gw1.url + JWKS_PATH)).json()).keys[0];
    const two = (await (await fetch(gw2.url + JWKS_PATH)).json()).keys[1];
    assert.deepEqual(one, two);
    assert.equal(derivedKey(k1, "EdDSA").export({ format: "jwk" }).x, one.x);
    const es = (await (await fetch(gwEs.url + JWKS_PATH)).json()).keys[0];
    const esJwk = derivedKey(k1, "ES256").export({ format: "jwk" });
    assert.deepEqual([es.x, es.y, es.alg, es.crv], [esJwk.x, esJwk.y, "ES256", "P-256"]);
  });

  test("an operator's own key (ORIGIN_ASSERTION_KEY): the JWKS publishes its public half alone, and its assertions verify with it", async () => {
    const set = await (await fetch(gwKey.url + JWKS_PATH)).json();
    assert.deepEqual(set.keys.map((k) => [k.kid, k.kty, k.crv, k.x]), [["ops-1", "OKP", "Ed25519", operatorKey.x]]);
    assert.equal(hasMember(set, "d"), false);
    const jar = new Jar();
    assert.equal((await gwKey.request("/login?user=carol", jar)).status, 200);
    const token = assertionOf(await gwKey.request("/", jar));
    assert.equal(decodeProtectedHeader(token).kid, "ops-1");
    const publicKey = createPublicKey(createPrivateKey({ key: operatorKey, format: "jwk" }));
    const { payload } = await jwtVerify(token, publicKey, { issuer: ISSUER, audience: origins[0].url });
    assert.deepEqual([payload.sub, payload.status], ["carol", "valid"]);
    // Not what SESSION_KEYS would derive.
    await assert.rejects(jwtVerify(token, createPublicKey(derivedKey(k1, "EdDSA"))), {
      code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    });
  });

  test("every forwarded request carries the gateway's assertion; a client's own never passes", async () => {
    const fake = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
    for (const name of ["x-session-assertion", "X_Session_Assertion"]) {
      const r = await gw1.request("/", new Jar(), { headers: { [name]: fake } });
      assert.equal(r.status, 200, r.text);
      const token = assertionOf(r);
      assert.ok(token && token !== fake);
      assert.equal(JSON.stringify(r.body.session).includes(fake), false);
      const claims = decodeJwt(token);
      assert.deepEqual([claims.iss, claims.aud, claims.status], [ISSUER, origins[0].url, "none"]);
      assert.equal(claims.sub, undefined);
      assert.ok(claims.exp > claims.iat && claims.exp - claims.iat <= 300);
      assert.deepEqual(decodeProtectedHeader(token), { alg: "EdDSA", kid: kidOf(k1, "EdDSA"), typ: "JWT" });
    }
    // Reused for the same claims and origin (not signed again per request).
    const a = assertionOf(await gw1.request("/"));
    const b = assertionOf(await gw1.request("/"));
    assert.equal(a, b);
  });

  test("a session's assertion carries sub, sid, status and its claims; iss defaults to the request's origin", async () => {
    const jar = new Jar();
    assert.equal((await gwEs.request("/login?user=alice&role=admin", jar)).status, 200);
    const r = await gwEs.request("/", jar);
    const claims = decodeJwt(assertionOf(r));
    assert.equal(claims.iss, gwEs.url);
    assert.equal(claims.aud, origins[0].url);
    assert.deepEqual([claims.sub, claims.status, claims.role], ["alice", "valid", "admin"]);
    assert.equal(claims.sid, r.body.session["x-session-id"]);
    assert.equal(decodeProtectedHeader(assertionOf(r)).alg, "ES256");
  });

  test("the Node verifier (jose): valid accepted, changed or expired refused, JWKS refetched on an unknown kid", async () => {
    upstream = gw1;
    jwksFetches = 0;
    const verify = assertionVerifier({ issuer: ISSUER, audience: origins[0].url, jwksUrl: proxy.url, cooldownDuration: 0 });
    const jar = new Jar();
    await gw1.request("/login?user=bob", jar);
    const token = assertionOf(await gw1.request("/", jar));
    assert.equal((await verify(token)).sub, "bob");
    assert.equal((await verify(assertionOf(await gw1.request("/")))).status, "none");
    await assert.rejects(verify(changed(token)), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    await assert.rejects(verify(token, { currentDate: new Date(Date.now() + 600_000) }), {
      code: "ERR_JWT_EXPIRED",
    });
    const expired = await new SignJWT({ status: "none" })
      .setProtectedHeader({ alg: "EdDSA", kid: kidOf(k1, "EdDSA") })
      .setIssuer(ISSUER)
      .setAudience(origins[0].url)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 400)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 100)
      .sign(derivedKey(k1, "EdDSA"));
    await assert.rejects(verify(expired), { code: "ERR_JWT_EXPIRED" });
    await assert.rejects(verify(token.replace(/\.[^.]*$/, ".")), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    assert.equal(jwksFetches, 1);
    // The rotated gateway signs with k2: unknown to the cached JWKS, fetched again, accepted.
    upstream = gw2;
    const rotated = assertionOf(await gw2.request("/"));
    assert.equal(decodeProtectedHeader(rotated).kid, kidOf(k2, "EdDSA"));
    assert.equal((await verify(rotated)).status, "none");
    assert.equal(jwksFetches, 2);
    // And what the old key signed still verifies, without another fetch.
    assert.equal((await verify(token)).sub, "bob");
    assert.equal(jwksFetches, 2);
    // Another origin's assertion is refused.
    const other = assertionVerifier({ issuer: ISSUER, audience: "http://elsewhere", jwksUrl: proxy.url });
    await assert.rejects(other(token), { code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
  });

  test("the Python verifier (PyJWT): the same", async () => {
    upstream = gw1;
    jwksFetches = 0;
    const py = pythonVerifier(origins[0].url);
    try {
      const jar = new Jar();
      await gw1.request("/login?user=carol", jar);
      const token = assertionOf(await gw1.request("/", jar));
      const ok = await py.verify(token);
      assert.equal(ok.ok, true, JSON.stringify(ok));
      assert.deepEqual([ok.claims.sub, ok.claims.status], ["carol", "valid"]);
      assert.deepEqual(await py.verify(changed(token)), { ok: false, error: "InvalidSignatureError" });
      const expired = await new SignJWT({ status: "none" })
        .setProtectedHeader({ alg: "EdDSA", kid: kidOf(k1, "EdDSA") })
        .setIssuer(ISSUER)
        .setAudience(origins[0].url)
        .setIssuedAt(Math.floor(Date.now() / 1000) - 400)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 100)
        .sign(derivedKey(k1, "EdDSA"));
      assert.deepEqual(await py.verify(expired), { ok: false, error: "ExpiredSignatureError" });
      assert.equal(jwksFetches, 1);
      upstream = gw2;
      const rotated = await py.verify(assertionOf(await gw2.request("/")));
      assert.equal(rotated.ok, true, JSON.stringify(rotated));
      assert.equal(jwksFetches, 2);
      assert.equal((await py.verify(token)).ok, true);
      assert.equal(jwksFetches, 2);
    } finally {
      py.stop();
    }
  });

  // ORIGIN_ASSERTION switched from EdDSA to ES256 with the same SESSION_KEYS: the key ids of
  // the new keys are new, so PyJWKClient (which looks a kid up in the JWKS it holds, for 5
  // minutes, and fetches again only when it is not there) fetches the new JWKS. Under one kid
  // it took the EdDSA key it held for the ES256 assertion and refused every request.
  test("the Python verifier after a switch from EdDSA to ES256: the new kid fetches the new keys", async () => {
    upstream = gw1;
    jwksFetches = 0;
    const py = pythonVerifier(origins[0].url);
    try {
      const before = await py.verify(assertionOf(await gw1.request("/")));
      assert.equal(before.ok, true, JSON.stringify(before));
      assert.equal(jwksFetches, 1);
      // What gwEs (ES256, the same k1) signs, with the issuer of the others.
      upstream = gwEs;
      const { kid } = decodeProtectedHeader(assertionOf(await gwEs.request("/")));
      const es = await new SignJWT({ status: "none" })
        .setProtectedHeader({ alg: "ES256", kid })
        .setIssuer(ISSUER)
        .setAudience(origins[0].url)
        .setIssuedAt()
        .setExpirationTime("2m")
        .sign(derivedKey(k1, "ES256"));
      const after = await py.verify(es);
      assert.equal(after.ok, true, JSON.stringify(after));
      assert.equal(jwksFetches, 2);
    } finally {
      py.stop();
    }
  });
});
