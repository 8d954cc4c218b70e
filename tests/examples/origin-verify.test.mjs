// examples/origin-verify without a gateway: a verifier made without the origin's audience (or the
// gateway's issuer) is refused when made. jose and PyJWT check no audience or issuer that is not
// given: a verifier made with `audience: process.env.ORIGIN_URL` unset would accept the
// assertions the gateway made for every other origin. (tests/e2e/origin-assertion.test.mjs
// runs both verifiers against the gateway.)
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { SignJWT, exportJWK, generateKeyPair } from "jose";

import { assertionVerifier } from "../../examples/origin-verify/verify.mjs";
import { ROOT } from "./project.mjs";

const ISSUER = "https://app.example";
let close;
let jwksUrl;
let token; // what the gateway signed for another origin

/** A JWKS endpoint for a new Ed25519 key `k1`: its private key, the URL, and `close`. */
async function jwksServer() {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA", use: "sig" };
  const server = createServer((req, res) => res.end(JSON.stringify({ keys: [jwk] })));
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}/.well-known/jwks.json`;
  return { privateKey, url, close: () => server.close() };
}

before(async () => {
  let privateKey;
  ({ privateKey, url: jwksUrl, close } = await jwksServer());
  token = await new SignJWT({ status: "valid", sub: "alice" })
    .setProtectedHeader({ alg: "EdDSA", kid: "k1" })
    .setIssuer(ISSUER)
    .setAudience("http://10.0.0.2:8080")
    .setIssuedAt()
    .setExpirationTime("2m")
    .sign(privateKey);
});

after(() => close?.());

test("verify.mjs: the audience is required; another origin's assertion is refused", async () => {
  for (const audience of [undefined, null, ""]) {
    assert.throws(() => assertionVerifier({ issuer: ISSUER, audience, jwksUrl }), TypeError, `audience ${audience}`);
  }
  for (const issuer of [undefined, ""]) {
    assert.throws(() => assertionVerifier({ issuer, audience: "http://10.0.0.1:8080", jwksUrl }), TypeError);
  }
  const verify = assertionVerifier({ issuer: ISSUER, audience: "http://10.0.0.1:8080", jwksUrl });
  await assert.rejects(verify(token), { code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
  const theirs = assertionVerifier({ issuer: ISSUER, audience: "http://10.0.0.2:8080", jwksUrl });
  assert.equal((await theirs(token)).sub, "alice");
});

// verify.py passes PyJWKClient cooldown_duration, which PyJWT has since 2.14 (a TypeError before;
// and before 2.13 every unknown kid fetched the JWKS again): its install line and setup.sh say so.
test("verify.py: names the PyJWT it needs (2.14), as setup.sh installs it", () => {
  const doc = readFileSync(join(ROOT, "examples/origin-verify/verify.py"), "utf8");
  assert.match(doc, /cooldown_duration=/);
  assert.match(doc, /pip install "pyjwt>=2\.14" cryptography/);
  assert.match(readFileSync(join(ROOT, "scripts/setup.sh"), "utf8"), /pip install .*"pyjwt>=2\.14" cryptography/);
});

test("verify.py: the audience and the issuer are required", () => {
  const dir = join(ROOT, "examples/origin-verify");
  for (const args of [`"${ISSUER}", None`, `"${ISSUER}", ""`, `None, "http://10.0.0.1:8080"`]) {
    const code = `import sys; sys.path.insert(0, ${JSON.stringify(dir)}); from verify import AssertionVerifier
try:
    AssertionVerifier(${args}, ${JSON.stringify(jwksUrl)})
except ValueError:
    sys.exit(3)`;
    const run = spawnSync("python3", ["-c", code], { encoding: "utf8" });
    assert.equal(run.status, 3, `${args}: ${run.stderr}`);
  }
});

// A header naming ES256 with the kid of the published Ed25519 key (anyone can write one): PyJWT
// given the raw key object raised TypeError ("Expecting a PEM-formatted key"), not the
// jwt.InvalidTokenError verify.py says it raises, so an origin that refuses on InvalidTokenError
// answered a forged header with a 500. The key's own algorithm is the only one allowed.
test("verify.py: an algorithm other than the key's is an InvalidTokenError", async () => {
  const { privateKey } = await generateKeyPair("ES256");
  const forged = await new SignJWT({ status: "valid", sub: "admin" })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(ISSUER)
    .setAudience("http://10.0.0.2:8080")
    .setIssuedAt()
    .setExpirationTime("2m")
    .sign(privateKey);
  const dir = join(ROOT, "examples/origin-verify");
  const code = `import sys, jwt; sys.path.insert(0, ${JSON.stringify(dir)}); from verify import AssertionVerifier
verify = AssertionVerifier(${JSON.stringify(ISSUER)}, "http://10.0.0.2:8080", ${JSON.stringify(jwksUrl)})
try:
    verify(${JSON.stringify(forged)})
except jwt.InvalidTokenError as e:
    print(type(e).__name__); sys.exit(3)`;
  // Asynchronous: the JWKS server answers from this process.
  const run = await new Promise((done) => {
    const p = spawn("python3", ["-c", code], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (status) => done({ status, out }));
  });
  assert.equal(run.status, 3, run.out);
});

/** verify.py run as a script (audience http://10.0.0.1:8080, the JWKS at `url`) over `lines`:
 * its JSON answer to each. */
async function verifyPyScript(url, lines) {
  const run = await new Promise((done) => {
    const p = spawn("python3", [join(ROOT, "examples/origin-verify/verify.py"), ISSUER, "http://10.0.0.1:8080", url], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (status) => done({ status, out, err }));
    p.stdin.end(lines.join("\n") + "\n");
  });
  assert.equal(run.status, 0, run.err);
  return run.out.trim().split("\n").map((l) => JSON.parse(l));
}

// The gateway signs with its own clock (iat in whole seconds); an origin whose clock is behind
// it, by less than a second even, saw a fresh assertion's iat in its future: jose (maxTokenAge
// checks iat) and PyJWT refused it, so each new signature's first requests (a login's, and one
// every 2.5 minutes of a session) failed at random. Both verifiers allow 5 seconds of skew, and
// still refuse an iat further ahead.
test("verify.mjs and verify.py: an origin whose clock is a few seconds behind the gateway's", async () => {
  const keys = await jwksServer();
  const { privateKey, url } = keys;
  const now = Math.floor(Date.now() / 1000);
  const signedAt = (iat) =>
    new SignJWT({ status: "valid", sub: "alice" })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience("http://10.0.0.1:8080")
      .setIssuedAt(iat)
      .setExpirationTime(iat + 300)
      .sign(privateKey);
  const [behind, far] = [await signedAt(now + 3), await signedAt(now + 60)];
  try {
    const verify = assertionVerifier({ issuer: ISSUER, audience: "http://10.0.0.1:8080", jwksUrl: url });
    const at = new Date(now * 1000);
    assert.equal((await verify(behind, { currentDate: at })).sub, "alice");
    await assert.rejects(verify(far, { currentDate: at }), { code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
    const results = await verifyPyScript(url, [behind, far]);
    assert.deepEqual(
      results.map((r) => r.ok || r.error),
      [true, "ImmatureSignatureError"],
    );
  } finally {
    keys.close();
  }
});

// With STORE on the gateway sends the session data in x-session-data and its SHA-256 in the
// assertion (data_sha256). A request that reaches the origin directly could bring a replayed
// assertion with data of its own: both verifiers refuse data that is not the data signed.
test("verify.mjs and verify.py: the session data only when it is the data the assertion signed", async () => {
  const keys = await jwksServer();
  const { privateKey, url } = keys;
  const data = '{"cart":["sku-1"],"note":"caf\\u00e9"}';
  const digest = createHash("sha256").update(data).digest("base64url");
  const sign = (claims) =>
    new SignJWT({ status: "valid", sub: "alice", ...claims })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience("http://10.0.0.1:8080")
      .setIssuedAt()
      .setExpirationTime("2m")
      .sign(privateKey);
  const bound = await sign({ data_sha256: digest });
  const none = await sign({});
  try {
    const verify = assertionVerifier({ issuer: ISSUER, audience: "http://10.0.0.1:8080", jwksUrl: url });
    assert.equal((await verify(bound, { data })).sub, "alice");
    assert.equal((await verify(bound)).data_sha256, digest);
    assert.equal((await verify(none, { data: null })).sub, "alice");
    for (const [token, forged] of [[bound, '{"cart":[]}'], [bound, ""], [none, data]]) {
      await assert.rejects(verify(token, { data: forged }), { code: "ERR_JWT_CLAIM_VALIDATION_FAILED" }, forged);
    }
    // verify.py as a script: an assertion per line, a tab and its data after it.
    const lines = [bound, `${bound}\t${data}`, `${bound}\t{"cart":[]}`, `${none}\t${data}`, `${none}\t`];
    const results = await verifyPyScript(url, lines);
    assert.deepEqual(
      results.map((r) => r.ok || r.error),
      [true, true, "InvalidTokenError", "InvalidTokenError", "InvalidTokenError"],
    );
    assert.equal(results[1].claims.sub, "alice");
  } finally {
    keys.close();
  }
});

// What an origin must refuse, as each verifier refuses it: an expired assertion, one signed by
// another key under the published kid, another issuer's, another key's under an unknown kid or
// none (anyone can write a header), `alg: none`. verify.py raises jwt.InvalidTokenError for each, as it says:
// an origin that refuses on InvalidTokenError answered an unknown kid with a 500 when PyJWKClient's
// own PyJWKClientError (no InvalidTokenError) went through. A JWKS it cannot fetch is the origin's
// trouble, not the token's: that one stays a PyJWKClientConnectionError.
test("verify.mjs and verify.py: expired, another key's, another issuer's, unknown kid, no kid, alg none", async () => {
  const keys = await jwksServer();
  const { privateKey, url } = keys;
  const other = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const audience = "http://10.0.0.1:8080";
  const sign = ({ key = privateKey, header = { alg: "EdDSA", kid: "k1" }, issuer = ISSUER, iat, exp = "2m" } = {}) =>
    new SignJWT({ status: "valid", sub: "alice" })
      .setProtectedHeader(header)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key);
  const past = Math.floor(Date.now() / 1000) - 600;
  const none = (t) => `${Buffer.from('{"alg":"none"}').toString("base64url")}.${t.split(".")[1]}.`;
  const good = await sign();
  const refused = {
    expired: await sign({ iat: past, exp: past + 120 }),
    "another key": await sign({ key: other.privateKey }),
    "another issuer": await sign({ issuer: "https://evil.example" }),
    "unknown kid": await sign({ key: other.privateKey, header: { alg: "EdDSA", kid: "k9" } }),
    "no kid": await sign({ key: other.privateKey, header: { alg: "EdDSA" } }),
    "alg none": none(good),
  };
  try {
    const verify = assertionVerifier({ issuer: ISSUER, audience, jwksUrl: url });
    assert.equal((await verify(good)).sub, "alice");
    for (const [what, token] of Object.entries(refused)) {
      await assert.rejects(verify(token), (e) => typeof e.code === "string" && e.code.startsWith("ERR_J"), what);
    }
    const dir = join(ROOT, "examples/origin-verify");
    const code = `import sys, json, jwt; sys.path.insert(0, ${JSON.stringify(dir)}); from verify import AssertionVerifier
def run(url, tokens):
    verify = AssertionVerifier(${JSON.stringify(ISSUER)}, ${JSON.stringify(audience)}, url)
    for token in tokens:
        try:
            print(json.dumps(verify(token)["sub"]))
        except jwt.InvalidTokenError as e:
            print(json.dumps("refused"))
        except Exception as e:
            print(json.dumps(type(e).__name__))
tokens = json.loads(sys.argv[1])
run(${JSON.stringify(url)}, tokens)
run("http://127.0.0.1:9/.well-known/jwks.json", tokens[:1])`;
    const tokens = [good, ...Object.values(refused)];
    const run = await new Promise((done) => {
      const p = spawn("python3", ["-c", code, JSON.stringify(tokens)], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      p.on("close", (status) => done({ status, out, err }));
    });
    assert.equal(run.status, 0, run.err);
    const results = run.out.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(results, ["alice", ...Object.keys(refused).map(() => "refused"), "PyJWKClientConnectionError"],
      JSON.stringify(Object.keys(refused)));
  } finally {
    keys.close();
  }
});
