// End-to-end tests of device-bound sessions (DBSC, issue 14) at the gateway on the real local
// runtime (wrangler dev: workerd, local KV and Durable Objects), with a demo origin and real HTTP.
// The browser is tests/e2e/dbsc-client.mjs: a protocol client on WebCrypto that behaves like
// Chromium (ES256 and RS256 keys that cannot be exported).
//
//   make e2e        (builds the gateway first; part of `make test`)
//   node --test tests/e2e/dbsc.test.mjs      (after `make gateway`)
//
// 1. The client's own parts, without a gateway: the structured headers of the draft's examples,
//    proofs that WebCrypto verifies with their `jwk`, RFC 7638's thumbprint, the cookie jar.
// 2. For DBSC = "on" with STORE = "none" and with STORE = "durable" (session JWTs there, so the
//    binding `cnf.jkt` can be read in the cookie): registration after a login, bound requests,
//    the bound cookie's expiry (the client's clock moves; the gateway's 600 s are not waited),
//    the 403 challenge, the proof, rotation, logout (`{"continue": false}`), a browser without
//    DBSC, and the attacks of the issue, each with its defined answer.
// 3. STORE = "kv": a replayed refresh proof at the same location is refused, also when sent
//    several times at once (one instance, concurrent requests); the session
//    cookie's sliding refresh (SESSION_REFRESH_AFTER = "0") keeps `cnf`, and an unbound request
//    neither refreshes nor clears it.
// 4. A gateway whose store is down: registration and refresh answer 503 `store_unavailable`;
//    the browser keeps its session and sends the deferred request with Secure-Session-Skipped,
//    which the origin never sees.
// 5. DBSC = "off" (the default): no offer, nothing bound.
//
// An expired challenge cannot be made here (the gateway's clock cannot be moved): the tests use
// a challenge HMAC'd by another gateway's keys and one issued for another session, which the
// gateway refuses by the same check; the time window itself is tested by the core's unit tests
// (src/dbsc/challenge.rs `windows_end_at_their_last_second`, src/dbsc/mod.rs
// `every_registration_refusal` and `every_refresh_refusal`: `expired` one second after the window).
import assert from "node:assert/strict";
import { randomBytes, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import {
  CookieJar,
  DbscBrowser,
  DeviceKey,
  decodeJwt,
  parseChallenges,
  parseRegistration,
  parseSfList,
  signProof,
  b64uJson,
} from "./dbsc-client.mjs";
import { Gateway, Jar, STORE_BINDINGS, sleep, startOrigins } from "./harness.mjs";

const REGISTER = "/__edge/dbsc/register";
const REFRESH = "/__edge/dbsc/refresh";
const SESSION = "__Host-session";
const BOUND = "__Host-session-bound";
const KEY = "__Secure-session-key";
const BOUND_SECONDS = 600;
const CHALLENGE = /^[A-Za-z0-9_-]{20,80}$/;
// The keys of the durable gateway and of the one whose store is down: a session bound at one is
// refreshed at the other.
const DURABLE_SECRETS = {
  SESSION_KEYS: JSON.stringify([{ id: "k1", secret: randomBytes(32).toString("base64url") }]),
};

// ---------------------------------------------------------------------------------------------
describe("the protocol client, without a gateway", () => {
  test("reads the draft's Secure-Session-Registration examples", () => {
    assert.deepEqual(parseRegistration('(ES256);path="reg";challenge="cv";authorization="ac"'), [
      { algs: ["ES256"], path: "reg", challenge: "cv", authorization: "ac" },
    ]);
    assert.deepEqual(parseRegistration('(ES256 RS256);path="reg";challenge="cv"'), [
      { algs: ["ES256", "RS256"], path: "reg", challenge: "cv", authorization: null },
    ]);
    const two = parseRegistration(
      '(ES256);path="reg1";challenge="cv1";authorization="a", (RS256);path="reg2";challenge="cv2";authorization="b"',
    );
    assert.deepEqual(
      two.map((e) => [e.algs, e.path, e.challenge]),
      [
        [["ES256"], "reg1", "cv1"],
        [["RS256"], "reg2", "cv2"],
      ],
    );
    // Entries the draft skips: no path, a path or challenge that is not a string, not an inner list.
    assert.deepEqual(parseRegistration('(ES256);challenge="c", (ES256);path=reg, (ES256);path="p";challenge=1, ES256;path="p"'), []);
    assert.throws(() => parseRegistration('(ES256);path="unterminated'), SyntaxError);
    assert.throws(() => parseSfList('"a",'), SyntaxError);
  });

  test("reads Secure-Session-Challenge, escapes included", () => {
    assert.deepEqual(parseChallenges('"c1";id="session 1", "c2";id="session 2"'), [
      { challenge: "c1", id: "session 1" },
      { challenge: "c2", id: "session 2" },
    ]);
    assert.deepEqual(parseChallenges('"a\\"b";id="x\\\\y"'), [{ challenge: 'a"b', id: "x\\y" }]);
    assert.deepEqual(parseChallenges('"no id", tok;id="t"'), [], "items without an id, or not strings, are skipped");
  });

  for (const alg of ["ES256", "RS256"]) {
    test(`${alg} proofs verify with WebCrypto and the key in their header`, async () => {
      const key = await DeviceKey.generate(alg);
      // Refused as not extractable (WebCrypto's InvalidAccessError, InvalidAccessException in Node
      // before 26), not for another reason.
      await assert.rejects(webcrypto.subtle.exportKey("jwk", key.privateKey), { name: /^InvalidAccess(Error|Exception)$/, message: /not extractable/ }, "the private key cannot be exported");
      const jwt = await signProof(key, { jti: "cv", authorization: "ac", jwk: true });
      const [h, p, s] = jwt.split(".");
      assert.equal(h, b64uJson({ alg, jwk: key.jwk, typ: "dbsc+jwt" }), "Chromium's member order");
      assert.equal(p, b64uJson({ authorization: "ac", jti: "cv" }));
      const { header } = decodeJwt(jwt);
      const sig = Buffer.from(s, "base64url");
      assert.equal(sig.length, alg === "ES256" ? 64 : 256);
      const params = alg === "ES256" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
      const pub = await webcrypto.subtle.importKey("jwk", header.jwk, params, false, ["verify"]);
      const verify = alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" };
      assert.equal(await webcrypto.subtle.verify(verify, pub, sig, Buffer.from(`${h}.${p}`)), true);
      assert.equal(await webcrypto.subtle.verify(verify, pub, sig, Buffer.from(`${h}.${p}x`)), false);
      const refresh = decodeJwt(await signProof(key, { jti: "next" }));
      assert.deepEqual(refresh, { header: { alg, typ: "dbsc+jwt" }, payload: { jti: "next" } }, "a refresh proof has no jwk");
    });
  }

  test("RFC 7638's thumbprint example (tests/vectors/dbsc.json)", async () => {
    const { rfc7638 } = JSON.parse(readFileSync(new URL("../vectors/dbsc.json", import.meta.url), "utf8"));
    const key = Object.assign(new DeviceKey(), { alg: "RS256", jwk: rfc7638.jwk });
    assert.equal(await key.thumbprint(), rfc7638.thumbprint);
  });

  test("the cookie jar keeps Max-Age, Path and deletion", () => {
    let now = 1_000_000;
    const jar = new CookieJar(() => now);
    const url = "http://h/a/b";
    jar.take(url, [
      `${BOUND}=v1; Max-Age=600; Path=/; Secure; HttpOnly; SameSite=Lax`,
      `${KEY}=k; Path=/__edge/dbsc/; Secure; HttpOnly; SameSite=Strict`,
      "noPath=x",
    ]);
    assert.equal(jar.header("http://h/x"), `${BOUND}=v1`);
    assert.equal(jar.header("http://h/__edge/dbsc/refresh"), `${KEY}=k; ${BOUND}=v1`, "longest path first");
    assert.equal(jar.header("http://h/a/c"), `noPath=x; ${BOUND}=v1`, "default path /a");
    assert.equal(jar.header("http://h/ab"), `${BOUND}=v1`, "/a does not match /ab");
    now += 599_000;
    assert.equal(jar.get(BOUND), "v1");
    now += 1_000;
    assert.equal(jar.get(BOUND), undefined, "gone at its Max-Age");
    jar.take(url, [`${KEY}=; Max-Age=0; Path=/__edge/dbsc/`]);
    assert.equal(jar.get(KEY), undefined, "deleted");
  });
});

// ---------------------------------------------------------------------------------------------
let origins;
const gateways = {};

describe("the gateway on wrangler dev", { concurrency: false }, () => {
  before(async () => {
    origins = await startOrigins(["a"]);
    gateways.none = new Gateway(origins, { vars: { DBSC: "on" } });
    gateways.durable = new Gateway(origins, {
      vars: { DBSC: "on", STORE: "durable", SESSION_FORMAT: "jwt" },
      toml: STORE_BINDINGS,
      secrets: DURABLE_SECRETS, // shared with the gateway whose store is down (last test)
    });
    // KV, and a (compact) session cookie refreshed on every request a second or more after its
    // issue (session JWTs are not refreshed by the gateway).
    gateways.kv = new Gateway(origins, {
      vars: { DBSC: "on", STORE: "kv", SESSION_REFRESH_AFTER: "0" },
      toml: STORE_BINDINGS,
    });
    gateways.off = new Gateway(origins);
    await Promise.all(Object.values(gateways).map((g) => g.start()));
  });

  after(async () => {
    await Promise.all(Object.values(gateways).map((g) => g.stop()));
    await Promise.all((origins || []).map((o) => o.kill()));
  });

  const session = (r) => r.body?.session || {};
  const setCookie = (r, name) => r.setCookies.find((c) => c.startsWith(`${name}=`));
  const events = (b) => JSON.stringify(b.events, null, 1);

  /** A browser with DBSC that logs in as `user`; its registration is done when this returns. */
  async function login(gw, { user = "alice", algs = ["ES256", "RS256"] } = {}) {
    const b = new DbscBrowser(gw.url, { algs });
    const r = await b.request(`/login?user=${user}`);
    assert.equal(r.status, 200, r.text);
    return { b, login: r };
  }

  /** A compact session token's bytes as text: its claims are JSON in it. */
  const compactText = (token) => Buffer.from(token, "base64url").toString("latin1");

  /** A POST to a DBSC endpoint with `cookie` (a header value) and `headers`, outside any browser. */
  const post = (gw, path, { cookie, headers = {} } = {}) =>
    gw.request(path, new Jar(), { method: "POST", headers: { ...(cookie ? { cookie } : {}), ...headers } });


  /** The Cookie header `b` sends to `path`, without the cookies named in `except`. */
  function cookiesOf(b, path, except = []) {
    return b.jar
      .for(b.base + path)
      .filter((c) => !except.includes(c.name))
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }

  /** A fresh Refresh challenge for session `id`, with `b`'s cookies: a refresh without a proof
   * answers 403 with one. */
  async function freshChallenge(gw, b, id = b.session().id) {
    const r = await post(gw, REFRESH, { cookie: cookiesOf(b, REFRESH), headers: { "sec-secure-session-id": id } });
    assert.equal(r.status, 403, r.text);
    const [c] = parseChallenges(r.headers.get("secure-session-challenge"));
    assert.equal(c.id, id);
    return c.challenge;
  }

  /** A refresh POST with `proof`, from `b`'s cookies (the bound cookie left out: it expired). */
  async function refreshWith(gw, b, proof, { id = b.session().id } = {}) {
    return post(gw, REFRESH, {
      cookie: cookiesOf(b, REFRESH, [BOUND]),
      headers: { "sec-secure-session-id": id, "secure-session-response": proof },
    });
  }

  /**
   * The defined answer to a refused refresh proof: 403, `{"error": code}`, a new challenge for
   * the session in `Secure-Session-Challenge`, no bound cookie, the session cookie untouched.
   */
  function assertRefused(r, sessionId, code, what) {
    const context = `${what}: ${r.status} ${r.text} ${r.headers.get("secure-session-challenge")}`;
    assert.equal(r.status, 403, context);
    assert.equal(r.body?.error, code, context);
    const challenges = parseChallenges(r.headers.get("secure-session-challenge") || "");
    assert.equal(challenges.length, 1, context);
    assert.equal(challenges[0].id, sessionId, context);
    assert.match(challenges[0].challenge, CHALLENGE, context);
    assert.equal(setCookie(r, BOUND), undefined, context);
    assert.equal(setCookie(r, SESSION), undefined, context);
  }

  for (const kind of ["none", "durable"]) {
    describe(`DBSC = "on", STORE = "${kind}"`, { concurrency: false }, () => {
      const gw = () => gateways[kind];

      test("a login offers registration; the client registers (ES256) and gets the config and cookies", async () => {
        const { b, login: r } = await login(gw(), { algs: ["ES256"] });
        const offer = r.headers.get("secure-session-registration");
        assert.match(offer, /^\(ES256 RS256\);path="\/__edge\/dbsc\/register";challenge="[A-Za-z0-9_-]+"$/, offer);
        const [entry] = parseRegistration(offer);
        assert.match(entry.challenge, CHALLENGE);
        const registered = b.seen("registered");
        assert.equal(registered.length, 1, events(b));
        assert.equal(registered[0].alg, "ES256");
        assert.equal(decodeJwt(registered[0].proof).payload.jti, entry.challenge);

        const s = b.session();
        const me = await b.request("/me");
        assert.equal(s.id, session(me)["x-session-id"], "the DBSC session is the gateway's session id");
        assert.deepEqual(s.config, {
          ...s.config,
          session_identifier: s.id,
          refresh_url: REFRESH,
          continue: true,
        });
        assert.equal(s.config.scope.origin, gw().url);
        assert.equal(s.config.scope.include_site, false);
        assert.deepEqual(s.config.credentials, [
          { type: "cookie", name: BOUND, attributes: "Path=/; Secure; HttpOnly; SameSite=Lax" },
        ]);
        assert.equal(s.refreshUrl, gw().url + REFRESH);

        // The registration answer, sent again by hand to see its headers: refused now (the session
        // is bound), so look at the jar instead: the three cookies are there with their attributes.
        const bound = b.jar.cookies.find((c) => c.name === BOUND);
        assert.equal(bound.attrs["max-age"], String(BOUND_SECONDS));
        assert.equal(bound.path, "/");
        for (const a of ["secure", "httponly"]) assert.ok(a in bound.attrs, a);
        assert.equal(bound.attrs.samesite, "Lax");
        const key = b.jar.cookies.find((c) => c.name === KEY);
        assert.ok(key, "the key cookie is set");
        assert.equal(key.path, "/__edge/dbsc/");
        assert.equal(key.attrs.samesite, "Strict");
        for (const a of ["secure", "httponly"]) assert.ok(a in key.attrs, a);
        assert.notEqual(b.jar.get(SESSION), undefined);
      });

      test("the registration answer: 200, no-store, the session cookie re-issued with cnf.jkt", async () => {
        // A browser that registers by hand, to see the answer itself.
        const b = new DbscBrowser(gw().url);
        const r = await b.exchange(gw().url + "/login?user=carol");
        const before = b.jar.get(SESSION);
        const [entry] = parseRegistration(r.headers.get("secure-session-registration"));
        const key = await DeviceKey.generate("ES256");
        const proof = await signProof(key, { jti: entry.challenge, jwk: true });
        const reg = await b.exchange(gw().url + REGISTER, { method: "POST", headers: { "secure-session-response": proof } });
        assert.equal(reg.status, 200, reg.text);
        assert.match(reg.headers.get("cache-control") || "", /no-store/);
        assert.match(reg.headers.get("content-type") || "", /application\/json/);
        assert.match(setCookie(reg, BOUND), new RegExp(`^${BOUND}=[A-Za-z0-9_-]+; Max-Age=${BOUND_SECONDS}; Path=/; Secure; HttpOnly; SameSite=Lax$`));
        assert.match(setCookie(reg, KEY), new RegExp(`^${KEY}=[A-Za-z0-9_.-]+; .*Path=/__edge/dbsc/`));
        assert.match(setCookie(reg, KEY), /; Secure/);
        assert.match(setCookie(reg, KEY), /; HttpOnly/);
        assert.match(setCookie(reg, KEY), /; SameSite=Strict/);
        const reissued = setCookie(reg, SESSION);
        assert.ok(reissued, "the session cookie is re-issued");
        assert.notEqual(b.jar.get(SESSION), before);
        if (kind === "durable") {
          // Session JWTs here: the binding is readable in the cookie.
          const claims = decodeJwt(b.jar.get(SESSION)).payload;
          assert.deepEqual(claims.cnf, { jkt: await key.thumbprint() });
          assert.equal(claims.sid, reg.body.session_identifier);
        }
        // The origin: valid and bound with the bound cookie.
        const me = await b.exchange(gw().url + "/me");
        assert.equal(session(me)["x-session-status"], "valid");
        assert.equal(session(me)["x-session-bound"], "1");
        assert.equal(session(me)["x-session-sub"], "carol");
        assert.equal(session(me)["x-session-id"], reg.body.session_identifier);
      });

      test("requests carrying the bound cookie reach the origin valid and bound", async () => {
        const { b } = await login(gw(), { user: "dave" });
        for (let i = 0; i < 5; i++) {
          const r = await b.request(`/page/${i}`);
          assert.equal(r.status, 200);
          assert.equal(session(r)["x-session-status"], "valid", r.text);
          assert.equal(session(r)["x-session-bound"], "1", r.text);
          assert.equal(session(r)["x-session-sub"], "dave");
        }
        assert.equal(b.seen("deferred").length, 0, "no refresh while the bound cookie lives");
      });

      test("expiry: 403 with a challenge, the proof, 200 with a new bound cookie and the next challenge", async () => {
        const { b } = await login(gw());
        const s = b.session();
        const first = b.jar.get(BOUND);
        s.challenge = null; // a browser without a cached challenge (e.g. restarted): the 403 path
        b.advance(BOUND_SECONDS + 1);
        assert.equal(b.jar.get(BOUND), undefined, "the bound cookie expired in the browser");
        const me = await b.request("/me");
        assert.equal(session(me)["x-session-status"], "valid", events(b));
        assert.equal(session(me)["x-session-bound"], "1");

        const [challenged] = b.seen("refresh_challenged");
        assert.ok(challenged, events(b));
        assert.equal(challenged.proof, null, "the first refresh had no proof");
        assert.equal(challenged.status, 403);
        const [c] = parseChallenges(challenged.challengeHeader);
        assert.equal(c.id, s.id);
        assert.match(c.challenge, CHALLENGE);

        const [refreshed] = b.seen("refreshed");
        assert.ok(refreshed, events(b));
        assert.equal(refreshed.status, 200);
        assert.equal(refreshed.challenge, c.challenge, "the proof signed the 403's challenge");
        assert.equal(decodeJwt(refreshed.proof).header.jwk, undefined);
        const second = b.jar.get(BOUND);
        assert.ok(second && second !== first, "a new bound cookie value");
        const [next] = parseChallenges(refreshed.challengeHeader || "");
        assert.ok(next, `the 200 carries the next challenge: ${refreshed.challengeHeader}`);
        assert.equal(next.id, s.id);
        assert.notEqual(next.challenge, c.challenge);
        assert.equal(b.session().challenge, next.challenge, "cached for the next refresh");
        const config = JSON.parse(refreshed.body);
        assert.equal(config.session_identifier, s.id);
        assert.equal(config.continue, true);
      });

      test("rotation: five refreshes, each with the challenge of the last, each a new cookie", async () => {
        const { b } = await login(gw(), { algs: ["RS256"] });
        assert.equal(b.session().alg, "RS256");
        const values = [b.jar.get(BOUND)];
        const challenges = [];
        await freshChallenge(gw(), b).then((c) => (b.session().challenge = c));
        for (let i = 0; i < 5; i++) {
          challenges.push(b.session().challenge);
          b.advance(BOUND_SECONDS + 1);
          const r = await b.request("/me");
          assert.equal(session(r)["x-session-bound"], "1", events(b));
          values.push(b.jar.get(BOUND));
        }
        assert.equal(b.seen("refresh_challenged").length, 0, `each refresh went through at once: ${events(b)}`);
        const refreshed = b.seen("refreshed");
        assert.equal(refreshed.length, 5);
        assert.deepEqual(
          refreshed.map((e) => e.challenge),
          challenges,
        );
        assert.equal(new Set(values).size, values.length, `bound cookie values all new: ${values}`);
        assert.equal(new Set([...challenges, b.session().challenge]).size, challenges.length + 1, "challenges all new");
      });

      test("the draft's sf-string forms of Secure-Session-Response and Sec-Secure-Session-Id work too", async () => {
        const b = new DbscBrowser(gw().url, { quote: true });
        await b.request("/login?user=quinn");
        assert.equal(b.seen("registered").length, 1, events(b));
        b.dropBoundCookies(); // on demand, as its expiry would
        assert.equal(b.jar.get(BOUND), undefined);
        const me = await b.request("/me");
        assert.equal(session(me)["x-session-bound"], "1", events(b));
        assert.equal(b.seen("refreshed").length, 1, events(b));
      });

      test("logout clears the bound and key cookies; the next refresh answers continue: false", async () => {
        const { b } = await login(gw());
        const id = b.session().id;
        const out = await b.request("/logout");
        assert.match(setCookie(out, BOUND) || "", /Max-Age=0/, out.setCookies.join("\n"));
        assert.match(setCookie(out, KEY) || "", /Max-Age=0/, out.setCookies.join("\n"));
        assert.match(setCookie(out, SESSION) || "", /Max-Age=0/, out.setCookies.join("\n"));
        const me = await b.request("/me");
        assert.equal(session(me)["x-session-status"], "none");
        const [ended] = b.seen("session_ended");
        assert.ok(ended, events(b));
        assert.equal(ended.status, 200);
        assert.deepEqual(JSON.parse(ended.body), { continue: false });
        assert.equal(b.sessions.has(id), false);
        // A refresh without any session: continue false too.
        const r = await post(gw(), REFRESH, { headers: { "sec-secure-session-id": id } });
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, { continue: false });
      });

      test("a browser without DBSC (never registers) keeps working as before", async () => {
        const b = new DbscBrowser(gw().url, { algs: [] }); // supports no algorithm: ignores the offer
        const r = await b.request("/login?user=erin");
        assert.ok(r.headers.get("secure-session-registration"), "offered all the same");
        assert.equal(b.seen("registered").length, 0);
        for (let i = 0; i < 3; i++) {
          const me = await b.request("/me");
          assert.equal(session(me)["x-session-status"], "valid");
          assert.equal(session(me)["x-session-sub"], "erin");
          assert.equal(session(me)["x-session-bound"], undefined);
        }
        assert.equal(b.jar.get(BOUND), undefined);
        const out = await b.request("/logout");
        assert.match(setCookie(out, SESSION), /Max-Age=0/);
      });

      // --- attacks ---------------------------------------------------------------------------
      test("attack: the session cookie without its bound cookie reaches the origin unbound", async () => {
        const { b } = await login(gw(), { user: "frank" });
        const cookie = cookiesOf(b, "/me", [BOUND]);
        const res = await fetch(gw().url + "/me", { headers: { cookie } });
        const body = await res.json();
        assert.equal(body.session["x-session-status"], "unbound", JSON.stringify(body));
        for (const h of ["x-session-sub", "x-session-claims", "x-session-id", "x-session-bound"]) {
          assert.equal(body.session[h], undefined, h);
        }
        assert.equal(
          res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION}=`)),
          undefined,
          "the session cookie is neither cleared nor refreshed",
        );
        // A bound cookie of another session does not do either.
        const other = await login(gw(), { user: "mallory" });
        const mixed = `${cookie}; ${BOUND}=${other.b.jar.get(BOUND)}`;
        const r2 = await (await fetch(gw().url + "/me", { headers: { cookie: mixed } })).json();
        assert.equal(r2.session["x-session-status"], "unbound");
        // The owner still is valid and bound.
        assert.equal(session(await b.request("/me"))["x-session-bound"], "1");
      });

      test("a request without the bound cookie keeps the user's stored session (STORE on)", { skip: kind === "none" }, async () => {
        const { b } = await login(gw(), { user: "grace" });
        const added = await b.request("/cart/add?item=book");
        assert.deepEqual(added.body.data.cart, ["book"], added.text);
        const sid = b.jar.get("__Host-sid");
        assert.ok(sid, "a stored session");
        // The bound cookie missing (Chrome skipped a refresh): unbound, and the origin writes.
        const cookie = cookiesOf(b, "/set", [BOUND]);
        const res = await fetch(gw().url + "/set?seen=1", { headers: { cookie } });
        const body = await res.json();
        assert.equal(body.session["x-session-status"], "unbound", JSON.stringify(body));
        assert.equal(body.session["x-session-data"], "{}", "the user's data is not shown");
        assert.deepEqual(
          res.headers.getSetCookie().filter((c) => /^__Host-(sid|session)=/.test(c)),
          [],
          "the session id and the session cookie are kept",
        );
        // Bound again: the user's stored session, as it was.
        const me = session(await b.request("/me"));
        assert.equal(me["x-session-bound"], "1");
        assert.deepEqual(JSON.parse(me["x-session-data"]), { cart: ["book"] });
        assert.equal(b.jar.get("__Host-sid"), sid);
      });

      test("attack: every cookie stolen; without the private key the thief cannot refresh or re-register", async () => {
        const { b } = await login(gw(), { user: "grace" });
        const id = b.session().id;
        const thief = new DbscBrowser(gw().url);
        thief.jar.cookies = b.jar.cookies.map((c) => ({ ...c }));
        thief.advance(BOUND_SECONDS + 1); // the stolen bound cookie dies within minutes
        const me = await thief.request("/me");
        assert.equal(session(me)["x-session-status"], "unbound");
        // A refresh signed by the thief's own key, for a challenge the gateway issued.
        const c = await freshChallenge(gw(), thief, id);
        const own = await DeviceKey.generate("ES256");
        assertRefused(await refreshWith(gw(), thief, await signProof(own, { jti: c }), { id }), id, "bad_signature", "thief's key");
        // ... with its own key in the header: still not the bound key.
        const withJwk = await signProof(own, { jti: c, jwk: true });
        assertRefused(await refreshWith(gw(), thief, withJwk, { id }), id, "key_mismatch", "thief's jwk");
        // Registering its own key on the stolen (bound) session.
        const fresh = new DbscBrowser(gw().url);
        const offer = parseRegistration((await fresh.exchange(gw().url + "/login?user=x")).headers.get("secure-session-registration"))[0];
        const reg = await post(gw(), REGISTER, {
          cookie: cookiesOf(thief, REGISTER),
          headers: { "secure-session-response": await signProof(own, { jti: offer.challenge, jwk: true }) },
        });
        assert.equal(reg.status, 403, reg.text);
        assert.equal(reg.body?.error, "already_bound", reg.text);
        assert.equal(setCookie(reg, BOUND), undefined);
        // The owner is unaffected.
        assert.equal(session(await b.request("/me"))["x-session-bound"], "1");
      });

      test("attack: a refresh proof from another key", async () => {
        const { b } = await login(gw());
        const c = await freshChallenge(gw(), b);
        const other = await DeviceKey.generate("ES256");
        assertRefused(await refreshWith(gw(), b, await signProof(other, { jti: c })), b.session().id, "bad_signature", "other key");
        // RS256 signature bytes under the bound ES256 key's name: refused as well.
        const rsa = await DeviceKey.generate("RS256");
        assertRefused(await refreshWith(gw(), b, await signProof(rsa, { jti: c })), b.session().id, "key_mismatch", "RS256");
      });

      test("attack: a challenge never issued", async () => {
        const { b } = await login(gw());
        const s = b.session();
        const forged = randomBytes(32).toString("base64url"); // a challenge's length
        assertRefused(await refreshWith(gw(), b, await signProof(s.key, { jti: forged })), s.id, "unknown_challenge", "random challenge");
        // A real challenge with one character changed.
        const c = await freshChallenge(gw(), b);
        const flipped = c.slice(0, -2) + (c.at(-2) === "A" ? "B" : "A") + c.at(-1);
        assertRefused(await refreshWith(gw(), b, await signProof(s.key, { jti: flipped })), s.id, "unknown_challenge", "changed challenge");
      });

      test("attack: a challenge of another session, of the other kind, or HMAC'd by another gateway", async () => {
        const { b } = await login(gw());
        const s = b.session();
        const other = await login(gw());
        // Another session's refresh challenge, signed by this session's key.
        const theirs = await freshChallenge(gw(), other.b);
        assertRefused(await refreshWith(gw(), b, await signProof(s.key, { jti: theirs })), s.id, "unknown_challenge", "another session's");
        // A proof by this session's key naming the other session: that session ends, nothing bound.
        const mine = await freshChallenge(gw(), b);
        const named = await refreshWith(gw(), b, await signProof(s.key, { jti: mine }), { id: other.b.session().id });
        assert.equal(named.status, 200, named.text);
        assert.deepEqual(named.body, { continue: false });
        assert.equal(setCookie(named, BOUND), undefined);
        // A registration challenge (this session's offer) as a refresh challenge.
        const offered = b.seen("registered")[0].challenge;
        assertRefused(await refreshWith(gw(), b, await signProof(s.key, { jti: offered })), s.id, "unknown_challenge", "registration kind");
        // A challenge from another gateway (other keys): what an expired one meets too, the same
        // check of the tag (the time window is the core's unit tests').
        const elsewhere = gateways[kind === "none" ? "durable" : "none"];
        const far = await login(elsewhere);
        const foreign = await freshChallenge(elsewhere, far.b);
        assertRefused(await refreshWith(gw(), b, await signProof(s.key, { jti: foreign })), s.id, "unknown_challenge", "another gateway's");
        // And the session still refreshes with a good one.
        b.advance(BOUND_SECONDS + 1);
        assert.equal(session(await b.request("/me"))["x-session-bound"], "1", events(b));
      });

      test('attack: alg "none" and a JWT without typ, at registration and at refresh', async () => {
        const { b } = await login(gw());
        const s = b.session();
        const c = await freshChallenge(gw(), b);
        const none = `${b64uJson({ alg: "none", typ: "dbsc+jwt" })}.${b64uJson({ jti: c })}.`;
        assertRefused(await refreshWith(gw(), b, none), s.id, "unsupported_alg", "alg none");
        const noneSigned = await signProof(s.key, { jti: c, alg: "none" });
        assertRefused(await refreshWith(gw(), b, noneSigned), s.id, "unsupported_alg", "alg none, signed");
        const noTyp = await signProof(s.key, { jti: c, header: { alg: "ES256" } });
        assertRefused(await refreshWith(gw(), b, noTyp), s.id, "malformed", "typ missing");
        const otherTyp = await signProof(s.key, { jti: c, header: { alg: "ES256", typ: "JWT" } });
        assertRefused(await refreshWith(gw(), b, otherTyp), s.id, "malformed", "typ JWT");

        // At registration: a fresh login's offer, the same two proofs.
        const n = new DbscBrowser(gw().url, { algs: [] });
        const offer = parseRegistration((await n.request("/login?user=nina")).headers.get("secure-session-registration"))[0];
        const key = await DeviceKey.generate("ES256");
        const cases = [
          ["alg none", `${b64uJson({ alg: "none", typ: "dbsc+jwt", jwk: key.jwk })}.${b64uJson({ jti: offer.challenge })}.`, 403, "unsupported_alg"],
          ["typ missing", await signProof(key, { jti: offer.challenge, header: { alg: "ES256", jwk: key.jwk } }), 400, "malformed"],
          ["no jwk", await signProof(key, { jti: offer.challenge }), 400, "malformed"],
        ];
        for (const [what, proof, status, code] of cases) {
          const r = await post(gw(), REGISTER, { cookie: cookiesOf(n, REGISTER), headers: { "secure-session-response": proof } });
          assert.equal(r.status, status, `${what}: ${r.text}`);
          assert.equal(r.body?.error, code, `${what}: ${r.text}`);
          assert.equal(setCookie(r, BOUND), undefined, what);
        }
        // The session is still not bound, and still valid (nothing registered).
        const me = await n.request("/me");
        assert.equal(session(me)["x-session-status"], "valid");
        assert.equal(session(me)["x-session-bound"], undefined);
      });

      test("attack: a registration replayed for another session", async () => {
        const { b: victim } = await login(gw(), { user: "victor" });
        const proof = victim.seen("registered")[0].proof;
        const attacker = new DbscBrowser(gw().url, { algs: [] });
        await attacker.request("/login?user=mallory");
        const r = await post(gw(), REGISTER, { cookie: cookiesOf(attacker, REGISTER), headers: { "secure-session-response": proof } });
        assert.equal(r.status, 403, r.text);
        assert.equal(r.body?.error, "unknown_challenge", r.text);
        assert.equal(setCookie(r, BOUND), undefined);
        assert.equal(setCookie(r, KEY), undefined);
        const me = await attacker.request("/me");
        assert.equal(session(me)["x-session-bound"], undefined, "the attacker's session did not take the victim's key");
        // Replayed for the victim's own session: refused too (it is bound already).
        const again = await post(gw(), REGISTER, { cookie: cookiesOf(victim, REGISTER), headers: { "secure-session-response": proof } });
        assert.equal(again.status, 403, again.text);
        assert.equal(again.body?.error, "already_bound", again.text);
        assert.equal(setCookie(again, BOUND), undefined);
      });

      test(
        kind === "durable"
          ? "attack: a replayed refresh proof is refused (challenge_reused)"
          : "a replayed refresh proof passes within the challenge's window (STORE none: no single use)",
        async () => {
          const { b } = await login(gw());
          const s = b.session();
          const c = await freshChallenge(gw(), b);
          const proof = await signProof(s.key, { jti: c });
          const first = await refreshWith(gw(), b, proof);
          assert.equal(first.status, 200, first.text);
          const firstBound = setCookie(first, BOUND);
          assert.ok(firstBound);
          const replay = await refreshWith(gw(), b, proof);
          if (kind === "durable") {
            assertRefused(replay, s.id, "challenge_reused", "replay");
          } else {
            // docs/gateway.md: with STORE none a challenge can be replayed within its window, but
            // only with a valid signature by the bound private key (this proof is one).
            assert.equal(replay.status, 200, replay.text);
            assert.notEqual(setCookie(replay, BOUND), firstBound, "still a new value");
          }
        },
      );

      test("reserved: origins cannot speak DBSC, clients cannot pass DBSC headers to origins", async () => {
        const { b } = await login(gw());
        const reflect = await b.request(
          "/reflect?" +
            new URLSearchParams([
              ["h", 'secure-session-registration:(ES256);path="/evil";challenge="x"'],
              ["h", 'secure-session-challenge:"x";id="y"'],
              ["h", `set-cookie:${BOUND}=forged; Path=/`],
            ]),
        );
        assert.equal(reflect.headers.get("secure-session-registration"), null);
        assert.equal(reflect.headers.get("secure-session-challenge"), null);
        assert.equal(setCookie(reflect, BOUND), undefined, reflect.setCookies.join("\n"));
        const keyCookie = await b.request("/reflect?" + new URLSearchParams([["h", `set-cookie:${KEY}=forged; Path=/__edge/dbsc/`]]));
        assert.equal(setCookie(keyCookie, KEY), undefined, keyCookie.setCookies.join("\n"));

        const seen = await b.request("/headers", {
          headers: {
            "secure-session-response": "x.y.z",
            "sec-secure-session-id": "abc",
            "sec-secure-session-whatever": "1",
          },
        });
        const sent = Object.keys(seen.body.headers);
        assert.deepEqual(
          sent.filter((h) => /^(secure-session-|sec-secure-session-)/.test(h)),
          [],
          sent.join(", "),
        );
        assert.equal(session(seen)["x-session-bound"], "1");

        // An origin's x-session-issue with cnf: refused (cnf belongs to the gateway).
        const issue = await b.request("/issue?claims=" + encodeURIComponent(JSON.stringify({ sub: "x", cnf: { jkt: "abc" } })));
        assert.equal(issue.status, 502, issue.text);
      });
    });
  }

  describe('STORE = "kv", SESSION_REFRESH_AFTER = "0" (a new session cookie at every request)', { concurrency: false }, () => {
    const gw = () => gateways.kv;

    test("a replayed refresh proof at the same location is refused (challenge_reused)", async () => {
      const { b } = await login(gw());
      const s = b.session();
      const proof = await signProof(s.key, { jti: await freshChallenge(gw(), b) });
      const first = await refreshWith(gw(), b, proof);
      assert.equal(first.status, 200, first.text);
      assertRefused(await refreshWith(gw(), b, proof), s.id, "challenge_reused", "replay (kv)");
    });

    test("the same refresh proof sent eight times at once: one bound cookie, the others challenge_reused", async () => {
      // One instance runs the requests concurrently: on KV each could read that the challenge
      // was unused before any wrote its use (src/gateway/dbsc.rs's unit test
      // a_challenge_used_twice_at_once_is_used_once shows it; local KV answers too fast for the
      // overlap to be likely here, so this checks the outcome, not the race).
      const { b } = await login(gw(), { user: "ida" });
      const s = b.session();
      const proof = await signProof(s.key, { jti: await freshChallenge(gw(), b) });
      const answers = await Promise.all(Array.from({ length: 8 }, () => refreshWith(gw(), b, proof)));
      const accepted = answers.filter((r) => r.status === 200);
      assert.equal(accepted.length, 1, answers.map((r) => `${r.status} ${r.text}`).join("\n"));
      assert.ok(setCookie(accepted[0], BOUND));
      for (const r of answers.filter((r) => r.status !== 200)) assertRefused(r, s.id, "challenge_reused", "at once (kv)");
    });

    test("the sliding refresh keeps the binding; a request without the bound cookie refreshes nothing", async () => {
      const { b } = await login(gw(), { user: "uma" });
      const binding = `"cnf":{"jkt":"${await b.keys[0].thumbprint()}"}`;
      const sid = `"sid":"${b.session().id}"`;
      const registered = b.jar.get(SESSION);
      // A compact token's claims are plain JSON inside it (signed, not encrypted).
      assert.ok(compactText(registered).includes(binding), compactText(registered));
      await sleep(1100); // the refresh comes at least a second after the issue
      const me = await b.request("/me");
      assert.equal(session(me)["x-session-bound"], "1", me.text);
      assert.ok(setCookie(me, SESSION), `refreshed: ${me.setCookies.join("\n")}`);
      const refreshed = b.jar.get(SESSION);
      assert.notEqual(refreshed, registered);
      assert.ok(compactText(refreshed).includes(binding), `still bound: ${compactText(refreshed)}`);
      assert.ok(compactText(refreshed).includes(sid));
      assert.equal(session(await b.request("/me"))["x-session-bound"], "1", "bound with the new cookie");

      await sleep(1100);
      const res = await fetch(gw().url + "/me", { headers: { cookie: cookiesOf(b, "/me", [BOUND]) } });
      const body = await res.json();
      assert.equal(body.session["x-session-status"], "unbound");
      assert.deepEqual(
        res.headers.getSetCookie().filter((c) => c.startsWith(`${SESSION}=`)),
        [],
        "an unbound request neither refreshes nor clears the session cookie",
      );
      // The same request with the bound cookie would have refreshed it: the check above can fail.
      const bound = await fetch(gw().url + "/me", { headers: { cookie: cookiesOf(b, "/me") } });
      assert.equal(bound.headers.getSetCookie().filter((c) => c.startsWith(`${SESSION}=`)).length, 1);
    });
  });

  describe('STORE = "kv", SESSION_REFRESH_AFTER = "0": a session cookie sent twice', { concurrency: false }, () => {
    const gw = () => gateways.kv;

    test("is read (the first that verifies) but never written back: not refreshed, not bound to a device", async () => {
      // A sibling subdomain's cookie of the name comes first (a longer path; or a nameless
      // `=__Host-session=<token>` in a browser that sends it so): the attacker's own session.
      const [mallory, vera] = [new Jar(), new Jar()];
      assert.equal((await gw().request("/login?user=mallory", mallory)).status, 200);
      assert.equal((await gw().request("/login?user=vera", vera)).status, 200);
      await sleep(1100); // a refresh is due a second after the issue
      const others = [...vera.cookies].filter(([n]) => n !== SESSION).map(([n, v]) => `${n}=${v}`);
      const tossed = [`${SESSION}=${mallory.cookies.get(SESSION)}`, `${SESSION}=${vera.cookies.get(SESSION)}`, ...others].join("; ");
      const r = await gw().request("/me", new Jar(), { headers: { cookie: tossed } });
      assert.equal(session(r)["x-session-sub"], "mallory", r.text);
      assert.equal(setCookie(r, SESSION), undefined, `not written into the visitor's own cookie: ${r.setCookies}`);
      const registered = await post(gw(), REGISTER, { cookie: tossed, headers: { "secure-session-response": "x" } });
      assert.equal(registered.status, 403, registered.text);
      assert.equal(registered.body?.error, "ambiguous_session");
      // Alone, the visitor's cookie is refreshed: the check above can fail.
      const alone = await gw().request("/me", vera);
      assert.equal(session(alone)["x-session-sub"], "vera", alone.text);
      assert.ok(setCookie(alone, SESSION), `refreshed: ${alone.setCookies}`);
    });
  });

  describe("the store is down (STORE durable, its Durable Object unreachable)", () => {
    test("registration and refresh answer 503; the browser keeps its session and says it skipped", async () => {
      const broken = new Gateway(origins, {
        vars: { DBSC: "on", STORE: "durable", SESSION_FORMAT: "jwt", STORE_TIMEOUT_MS: "1000" },
        toml: [
          `[[durable_objects.bindings]]`,
          `name = "SESSION_OBJECTS"`,
          `class_name = "EdgeSessionObject"`,
          `script_name = "edge-session-nowhere"`,
        ],
        secrets: DURABLE_SECRETS,
      });
      await broken.start();
      try {
        // Registration: the signature verifies, the challenge cannot be recorded: 503, nothing
        // bound, the session an ordinary one (Chromium treats a 5xx as transient).
        const n = new DbscBrowser(broken.url);
        await n.request("/login?user=sam");
        const [failed] = n.seen("registration_failed");
        assert.ok(failed, events(n));
        assert.equal(failed.status, 503);
        assert.deepEqual(JSON.parse(failed.body), { error: "store_unavailable" });
        assert.equal(n.sessions.size, 0);
        const plain = await n.request("/me");
        assert.equal(session(plain)["x-session-status"], "valid");
        assert.equal(session(plain)["x-session-bound"], undefined);

        // Refresh: a session bound at the working gateway (same keys), refreshed at this one.
        const { b } = await login(gateways.durable, { user: "tess" });
        const s = b.session();
        const moved = new DbscBrowser(broken.url);
        moved.jar.cookies = b.jar.cookies.map((c) => ({ ...c }));
        moved.sessions.set(s.id, { ...s, origin: broken.url, refreshUrl: broken.url + REFRESH, challenge: null });
        moved.advance(BOUND_SECONDS + 1);
        const me = await moved.request("/headers");
        const [skipped] = moved.seen("refresh_skipped");
        assert.ok(skipped, events(moved));
        assert.equal(skipped.status, 503);
        assert.deepEqual(JSON.parse(skipped.body), { error: "store_unavailable" });
        assert.ok(moved.sessions.has(s.id), "a 5xx does not end the session");
        // The deferred request went on, unbound, with Secure-Session-Skipped (kept from the origin).
        const [sent] = moved.seen("sent_skipped");
        assert.equal(sent?.header, `server_error;session_identifier="${s.id}"`, events(moved));
        assert.equal(session(me)["x-session-status"], "unbound");
        assert.equal(me.body.headers["secure-session-skipped"], undefined);
        assert.deepEqual(
          Object.keys(me.body.headers).filter((h) => /secure-session/.test(h)),
          [],
        );
      } finally {
        await broken.stop();
      }
    });
  });

  describe('DBSC = "off" (the default)', () => {
    test("no offer, no binding: the session works as before", async () => {
      const gw = gateways.off;
      const b = new DbscBrowser(gw.url);
      const r = await b.request("/login?user=olga");
      // Seen once in a full `make test`: /me answered without the origin's JSON. The statuses
      // and texts say what came back if it happens again.
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get("secure-session-registration"), null);
      assert.equal(b.seen("registered").length, 0);
      assert.equal(b.sessions.size, 0);
      const me = await b.request("/me");
      assert.equal(me.status, 200, me.text);
      assert.equal(session(me)["x-session-status"], "valid", me.text);
      assert.equal(session(me)["x-session-bound"], undefined);
    });
  });
});
