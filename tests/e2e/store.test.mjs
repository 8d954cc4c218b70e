// End-to-end tests of server-side session data at the gateway, on the real local runtime
// (wrangler dev: workerd with local KV and Durable Objects), with demo origins and real HTTP.
//
//   make e2e        (builds the gateway first; part of `make test`)
//
// For each store (STORE = "kv", then "durable"):
// 1. The store conformance suite (src/store/conformance.rs, the body `cargo test` runs against
//    the memory store) runs inside the gateway worker against the real binding. It is only in the
//    gateway's test build (`make gateway-test`, build-test/), which every test here runs; the
//    production build (build/) answers 404 there, checked last.
// 2. Session data reaches the origin in `x-session-data` and comes back as a merge patch; the
//    client cannot spoof it; login renews the session id and keeps the data; the operator revokes
//    every session of a user; logout deletes.
// 3. "Log out everywhere" (`x-session-revoke`) and a password change: session tokens issued
//    before are refused on every device (compact tokens with KV, JWTs with Durable Objects).
// 4. 21 concurrent requests patch different members of one session: with Durable Objects none is
//    lost (compare-and-set, patch re-applied on conflict); with KV last write wins (printed).
// Then: a store binding that fails (a Durable Object namespace whose worker is not running) gives
// 200s with `x-session-store: unavailable` at the origin, never a 5xx; a missing binding is a
// configuration error (a generic 500, the log naming it).
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";

import { Gateway, Jar, STORE_BINDINGS, TEST_SHIM, startOrigins } from "./harness.mjs";
import { assertionVerifier } from "../../examples/origin-verify/verify.mjs";

let origins;
before(async () => {
  origins = await startOrigins(["a"]);
});
after(async () => {
  await Promise.all((origins || []).map((o) => o.kill()));
});

const sid = (r) => r.setCookies.find((c) => c.startsWith("__Host-sid="));
const data = (r) => JSON.parse(r.body.session["x-session-data"]);

for (const kind of ["kv", "durable"]) {
  describe(`STORE = "${kind}"`, { concurrency: false }, () => {
    let gw;
    before(async () => {
      // Durable Objects with JWT sessions, KV with compact ones: revocation is tested on both.
      const format = kind === "durable" ? "jwt" : "compact";
      gw = new Gateway(origins, {
        main: TEST_SHIM,
        vars: { STORE: kind, STORE_TESTS: "1", SESSION_FORMAT: format, ORIGIN_ASSERTION: "EdDSA" },
        toml: STORE_BINDINGS,
      });
      await gw.start();
    });
    after(async () => {
      await gw?.stop();
    });

    test("the conformance suite passes inside the gateway", async () => {
      const res = await fetch(`${gw.url}/__edge/store/conformance`, {
        headers: { authorization: `Bearer ${gw.operatorToken}` },
      });
      const report = await res.json();
      const failed = report.checks.filter((c) => c.status === "fail");
      assert.deepEqual(failed, [], JSON.stringify(failed, null, 2));
      assert.equal(res.status, 200);
      assert.equal(report.consistency, kind === "kv" ? "eventual" : "strong");
      const passed = report.checks.filter((c) => c.status === "pass").map((c) => c.name);
      assert.equal(passed.includes("concurrent_increments"), kind === "durable");
      console.log(`# ${kind}: ${passed.length} checks passed: ${passed.join(", ")}`);
      // Without the operator token: nothing.
      assert.equal((await fetch(`${gw.url}/__edge/store/conformance`)).status, 401);
    });

    test("session data goes to the origin and comes back; the client cannot spoof it", async () => {
      const jar = new Jar();
      const first = await gw.request("/", jar);
      assert.equal(first.body.session["x-session-store"], "ok");
      assert.deepEqual(data(first), {});
      assert.equal(sid(first), undefined, "no cookie until there is data");
      const add = await gw.request("/cart/add?item=book", jar);
      assert.equal(add.headers.get("x-session-data"), null, "the patch never reaches the browser");
      assert.match(sid(add), /^__Host-sid=[A-Za-z0-9_-]+; Max-Age=86400; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
      await gw.request("/cart/add?item=stylo%20bleu%20%C3%A9", jar);
      const spoof = await gw.request("/", jar, { headers: { "x-session-data": '{"admin":true}', "x-session-store": "ok" } });
      assert.deepEqual(data(spoof), { cart: ["book", "stylo bleu é"] });
      // The signed assertion binds the data the origin got (its SHA-256): an origin that trusts
      // the assertion alone tells it from an x-session-data written next to a replayed one.
      const sent = spoof.body.session["x-session-data"];
      const signed = decodeJwt(spoof.body.session["x-session-assertion"]);
      assert.equal(signed.data_sha256, createHash("sha256").update(sent).digest("base64url"));
      // The example verifiers take it only so (examples/origin-verify/verify.mjs here).
      const token = spoof.body.session["x-session-assertion"];
      const jwksUrl = `${gw.url}/.well-known/jwks.json`;
      const verify = assertionVerifier({ issuer: signed.iss, audience: signed.aud, jwksUrl });
      assert.equal((await verify(token, { data: sent })).data_sha256, signed.data_sha256);
      await assert.rejects(verify(token, { data: '{"admin":true}' }), { code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
      assert.equal(sid(spoof), undefined, "a known session's cookie is not re-sent");
      // A member set to null is deleted.
      await gw.request("/set?cart=&theme=dark", jar);
      assert.deepEqual(data(await gw.request("/", jar)), { theme: "dark" });
    });

    test("a form another site posts plants no session: its change is dropped, the visitor's id kept", async () => {
      const jar = new Jar();
      await gw.request(`/login?user=carol-${kind}`, jar);
      await gw.request("/cart/add?item=book", jar);
      const own = jar.cookies.get("__Host-sid");
      // The browser sends none of its SameSite=Lax cookies with it, and keeps what its answer sets.
      const form = await gw.request("/cart/add?item=planted", new Jar(), {
        method: "POST",
        headers: { "sec-fetch-site": "cross-site" },
      });
      assert.equal(form.status, 200);
      assert.equal(sid(form), undefined, "no id cookie to replace the visitor's own");
      assert.match(await gw.logged(/session change dropped: a cross-site request/), /sent without the session-id cookie/);
      const next = await gw.request("/", jar);
      assert.equal(jar.cookies.get("__Host-sid"), own);
      assert.equal(next.body.session["x-session-sub"], `carol-${kind}`);
      assert.deepEqual(data(next), { cart: ["book"] });
    });

    test("login renews the session id and keeps the data; revocation and logout end it", async () => {
      const jar = new Jar();
      await gw.request("/cart/add?item=book", jar);
      const anonymous = jar.cookies.get("__Host-sid");
      const login = await gw.request(`/login?user=bob-${kind}`, jar);
      assert.ok(sid(login), "a new session-id cookie at login");
      assert.notEqual(jar.cookies.get("__Host-sid"), anonymous);
      assert.deepEqual(data(await gw.request("/", jar)), { cart: ["book"] });
      // The pre-login id is worthless (no fixation). A request that carried it, as one the
      // browser sent before the login's answer and got after it, does not clear it: that
      // would delete the new id, of the same name, and the cart with it (for a minute, then
      // the browser is told to drop it: the unit tests of gateway::store).
      const old = new Jar();
      old.cookies.set("__Host-sid", anonymous);
      const stale = await gw.request("/", old);
      assert.deepEqual(data(stale), {});
      assert.equal(sid(stale), undefined, "the stale request's answer leaves the new id alone");
      assert.deepEqual(data(await gw.request("/", jar)), { cart: ["book"] });
      // A second device, then "log out everywhere" by the operator.
      const other = new Jar();
      await gw.request(`/cart/add?item=pen`, other);
      await gw.request(`/login?user=bob-${kind}`, other);
      const stolen = other.cookies.get("__Host-session");
      const revoke = await fetch(`${gw.url}/__edge/sessions/revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.operatorToken}` },
        body: JSON.stringify({ sub: `bob-${kind}` }),
      });
      const revoked = await revoke.json();
      assert.equal(revoked.revoked, 2);
      assert.ok(Math.abs(revoked.minIssuedAt - Date.now() / 1000) < 5, JSON.stringify(revoked));
      for (const device of [jar, other]) {
        const after = await gw.request("/", device);
        assert.deepEqual(data(after), {});
        assert.equal(after.body.session["x-session-status"], "revoked", "the session token too");
      }
      // A token issued before the revocation owns nothing stored, not even a session its user
      // began after it: bob logs in again (from the next second: the revocation takes in its
      // own) and fills a cart; his old token with that session's id gets an empty session.
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50));
      const again = new Jar();
      await gw.request(`/login?user=bob-${kind}`, again);
      await gw.request("/cart/add?item=ring", again);
      assert.deepEqual(data(await gw.request("/", again)), { cart: ["ring"] });
      const thief = new Jar();
      thief.cookies.set("__Host-session", stolen);
      thief.cookies.set("__Host-sid", again.cookies.get("__Host-sid"));
      const taken = await gw.request("/", thief);
      assert.equal(taken.body.session["x-session-status"], "revoked");
      assert.deepEqual(data(taken), {});
      assert.deepEqual(data(await gw.request("/", again)), { cart: ["ring"] }, "bob's session is untouched");
      // Logout deletes the session and clears its cookie.
      await gw.request("/cart/add?item=x", jar);
      const logout = await gw.request("/logout", jar);
      assert.match(sid(logout), /^__Host-sid=; Max-Age=0/);
      assert.deepEqual(data(await gw.request("/", jar)), {});
    });

    test("an answer with Clear-Site-Data that clears cookies ends the stored session, as a logout does", async () => {
      const jar = new Jar();
      await gw.request(`/login?user=fay-${kind}`, jar);
      await gw.request("/cart/add?item=lamp", jar);
      const copy = new Jar();
      copy.cookies = new Map(jar.cookies);
      const kept = await gw.request(`/reflect?h=${encodeURIComponent('clear-site-data:"cache"')}`, jar);
      assert.equal(kept.headers.get("clear-site-data"), '"cache"');
      assert.deepEqual(data(await gw.request("/", jar)), { cart: ["lamp"] }, "only the cache cleared");
      const cleared = await gw.request(`/reflect?h=${encodeURIComponent('clear-site-data:"cache", "cookies"')}`, jar);
      assert.equal(cleared.status, 200, cleared.text);
      assert.equal(cleared.headers.get("clear-site-data"), '"cache", "cookies"', "the browser clears its cookies");
      assert.match(sid(cleared), /^__Host-sid=; Max-Age=0/);
      // The session is gone from the store: a copy of its cookies finds nothing.
      const after = await gw.request("/", copy);
      assert.deepEqual(data(after), {});
    });

    test("a refused answer still ends the session: a switch of user whose new login is malformed is a 502 and a logout", async () => {
      const jar = new Jar();
      await gw.request(`/login?user=gil-${kind}`, jar);
      await gw.request("/cart/add?item=cup", jar);
      const copy = new Jar();
      copy.cookies = new Map(jar.cookies);
      const issue = `x-session-issue:{"sub":"hal-${kind}","nbf":1}`;
      const out = await gw.request(`/reflect?h=${encodeURIComponent("x-session-clear:1")}&h=${encodeURIComponent(issue)}`, jar);
      assert.equal(out.status, 502, out.text);
      assert.match(out.text, /nbf is not accepted/);
      assert.match(sid(out), /^__Host-sid=; Max-Age=0/);
      assert.ok(out.setCookies.some((c) => /^__Host-session=;.*Max-Age=0/.test(c)), JSON.stringify(out.setCookies));
      // The session is gone from the store: a copy of its cookies finds nothing.
      assert.deepEqual(data(await gw.request("/", copy)), {});
    });

    test("a session a logged-in visitor begins is theirs: not without their token, ended by revocation", async () => {
      const user = `erin-${kind}-${randomBytes(4).toString("hex")}`;
      const jar = new Jar();
      await gw.request(`/login?user=${user}`, jar);
      jar.cookies.delete("__Host-sid"); // the login's session id lost: the next write begins one
      const add = await gw.request("/cart/add?item=ring", jar);
      assert.ok(sid(add), "a new session, begun while logged in");
      assert.deepEqual(data(await gw.request("/", jar)), { cart: ["ring"] });
      const other = new Jar();
      other.cookies.set("__Host-sid", jar.cookies.get("__Host-sid"));
      assert.deepEqual(data(await gw.request("/", other)), {}, "its id without the user's token gives nothing");
      const revoke = await fetch(`${gw.url}/__edge/sessions/revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.operatorToken}` },
        body: JSON.stringify({ sub: user }),
      });
      assert.equal((await revoke.json()).revoked, 2, "the login's session and the one begun after it");
    });

    test("the operator's revocation reads no body over 8192 bytes, sent whole or streamed", async () => {
      const user = `frank-${kind}-${randomBytes(4).toString("hex")}`;
      const headers = { authorization: `Bearer ${gw.operatorToken}` };
      const revoke = (body, extra = {}) =>
        fetch(`${gw.url}/__edge/sessions/revoke`, { method: "POST", headers, body, ...extra });
      // A valid revocation, padded to a megabyte: never read whole into the gateway's memory.
      const padded = JSON.stringify({ sub: user, pad: "x".repeat(1 << 20) });
      const whole = await revoke(padded);
      assert.equal(whole.status, 413, await whole.text());
      // Without a Content-Length (chunked, a megabyte): read to its end, no more than 8192
      // bytes of it kept. The next request on the connection is served (answered before the
      // body's end, it failed in workerd: "Your worker restarted mid-request").
      const chunk = new TextEncoder().encode(padded.slice(0, 4096));
      let sent = 0;
      const stream = new ReadableStream({
        pull(controller) {
          if (sent++ < 256) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const streamed = await revoke(stream, { duplex: "half" });
      assert.equal(streamed.status, 413, await streamed.text());
      // At the limit, exactly: 8192 bytes are read, 8193 are not, whole or streamed.
      const streamOf = (text) => {
        const bytes = new TextEncoder().encode(text);
        let at = 0;
        return new ReadableStream({
          pull(controller) {
            if (at < bytes.length) controller.enqueue(bytes.subarray(at, (at += 1000)));
            else controller.close();
          },
        });
      };
      for (const [length, status] of [[8192, 200], [8193, 413]]) {
        const body = JSON.stringify({ sub: user }).padEnd(length, " ");
        const sized = await revoke(body);
        assert.equal(sized.status, status, `${length} bytes: ${await sized.text()}`);
        const chunked = await revoke(streamOf(body), { duplex: "half" });
        assert.equal(chunked.status, status, `${length} bytes streamed: ${await chunked.text()}`);
      }
      // The longest subject, every character escaped, still fits.
      const escaped = `{"sub": "${"\\u0041".repeat(1024)}"}`;
      const longest = await revoke(escaped);
      assert.equal(longest.status, 200, await longest.text());
    });

    test("log out everywhere: every device's session token is revoked at once", async () => {
      const user = `carol-${kind}-${randomBytes(4).toString("hex")}`;
      const [phone, laptop, other] = [new Jar(), new Jar(), new Jar()];
      await gw.request(`/login?user=${user}`, phone);
      await gw.request(`/login?user=${user}`, laptop);
      await gw.request(`/login?user=dave-${kind}`, other);
      assert.equal((await gw.request("/", laptop)).body.session["x-session-sub"], user);
      const out = await gw.request("/logout-everywhere", phone);
      assert.equal(out.body.revoked, user);
      assert.equal(out.headers.get("x-session-revoke"), null, "the directive never reaches the browser");
      assert.ok(out.setCookies.some((c) => /^__Host-session=; Max-Age=0/.test(c)), "this device is logged out");
      // The laptop still holds a validly signed token: the gateway refuses it, and clears it
      // once the revocation is more than LATE_ANSWER_SECONDS old (before, the cookie may be a
      // password change's new one: the next test).
      const late = await gw.request("/", laptop);
      assert.equal(late.body.session["x-session-status"], "revoked");
      assert.equal(late.body.session["x-session-sub"], undefined);
      assert.equal(late.body.session["x-session-claims"], undefined);
      await new Promise((r) => setTimeout(r, 3100));
      const later = await gw.request("/", laptop);
      assert.equal(later.body.session["x-session-status"], "revoked");
      assert.ok(later.setCookies.some((c) => /^__Host-session=; Max-Age=0/.test(c)));
      assert.equal((await gw.request("/", laptop)).body.session["x-session-status"], "none");
      // Another user is untouched; the same user can log in again, from the next second (the
      // revocation takes in its own: docs/gateway.md, "Granularity").
      assert.equal((await gw.request("/", other)).body.session["x-session-status"], "valid");
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50));
      await gw.request(`/login?user=${user}`, laptop);
      assert.equal((await gw.request("/", laptop)).body.session["x-session-sub"], user);
      // A password change: the old sessions end and this browser gets a new one in one answer.
      await new Promise((r) => setTimeout(r, 1100));
      const phoneAgain = new Jar();
      await gw.request(`/login?user=${user}`, phoneAgain);
      await new Promise((r) => setTimeout(r, 1100));
      await gw.request("/password", laptop);
      assert.equal((await gw.request("/", laptop)).body.session["x-session-status"], "valid");
      assert.equal((await gw.request("/", phoneAgain)).body.session["x-session-status"], "revoked");
    });

    // A page's request that left the browser before the answer to a password change (or a
    // switch of users), answered after it: its token is revoked and its session id ended, but
    // its answer must not remove the cookies the browser holds by then, the change's new ones.
    // Both were removed, and the user was logged out of the session just begun.
    test("a request sent before a password change or a switch of users, answered after it, does not undo it", async () => {
      const issue = `x-session-issue:{"sub":"ivy-${kind}"}`;
      const switchUser = `/reflect?h=${encodeURIComponent("x-session-clear:1")}&h=${encodeURIComponent(issue)}`;
      for (const change of ["/password", switchUser]) {
        const jar = new Jar();
        await gw.request(`/login?user=hank-${kind}-${randomBytes(4).toString("hex")}`, jar);
        await gw.request("/cart/add?item=pen", jar);
        await new Promise((r) => setTimeout(r, 1100));
        const sentBefore = new Jar();
        sentBefore.cookies = new Map(jar.cookies);
        const changed = await gw.request(change, jar);
        assert.equal(changed.status, 200, changed.text);
        assert.ok(sid(changed), `${change}: a new session id`);
        const late = await gw.request("/", sentBefore);
        assert.equal(late.body.session["x-session-status"], "revoked", change);
        assert.deepEqual(late.setCookies, [], `${change}: ${JSON.stringify(late.setCookies)}`);
        const now = await gw.request("/", jar);
        assert.equal(now.body.session["x-session-status"], "valid", change);
      }
    });

    test("log out everywhere ends a login made elsewhere while the origin worked on it (revoked when the answer arrives)", async () => {
      const user = `erin-${kind}-${randomBytes(4).toString("hex")}`;
      const [laptop, thief] = [new Jar(), new Jar()];
      await gw.request(`/login?user=${user}`, laptop);
      await new Promise((r) => setTimeout(r, 1100));
      // A password change the origin takes 2.5 s over; 1.3 s into it, a login elsewhere (the old
      // password still works until the change is made).
      const changing = gw.request("/password?wait=2500", laptop);
      await new Promise((r) => setTimeout(r, 1300));
      await gw.request(`/login?user=${user}`, thief);
      assert.equal((await gw.request("/", thief)).body.session["x-session-status"], "valid");
      assert.equal((await changing).body.revoked, user);
      assert.equal((await gw.request("/", thief)).body.session["x-session-status"], "revoked");
      assert.equal((await gw.request("/", laptop)).body.session["x-session-status"], "valid", "the new session outlives it");
    });

    // An attacker holding the old password logs in again and again while its user changes it:
    // the logins answered in the very second of the change, before it, used to survive it (and,
    // refreshed, live for days). The change's own new session is the one spared.
    test("a password change ends the sessions begun in its own second, all but the one it begins", async () => {
      const user = `frank-${kind}-${randomBytes(4).toString("hex")}`;
      const laptop = new Jar();
      await gw.request(`/login?user=${user}`, laptop);
      await new Promise((r) => setTimeout(r, 1100));
      // The change's answer lands about half a second into a second, so that logins answered
      // before it in that second are many.
      const wait = 1000 + ((1500 - (Date.now() % 1000)) % 1000);
      let answered = false;
      const changing = gw.request(`/password?wait=${wait}`, laptop).then((r) => ((answered = true), r));
      const thieves = []; // each with the time its login was sent
      while (!answered) {
        const [thief, sent] = [new Jar(), Date.now()];
        await gw.request(`/login?user=${user}`, thief);
        if (!answered) thieves.push([thief, sent]);
      }
      assert.equal((await changing).body.revoked, user);
      const newSession = (await gw.request("/", laptop)).body.session;
      assert.equal(newSession["x-session-status"], "valid", "the new session outlives its revocation");
      // Logins sent in the change's second and answered before it: begun in its very second.
      const second = JSON.parse(newSession["x-session-claims"]).iat;
      const sameSecond = thieves.filter(([, sent]) => sent >= second * 1000).length;
      assert.ok(sameSecond > 0, `${thieves.length} logins, none in the second of the change`);
      for (const [thief] of thieves) {
        const seen = (await gw.request("/", thief)).body.session;
        assert.equal(seen["x-session-status"], "revoked", JSON.stringify(seen));
      }
      console.log(`# ${kind}: ${thieves.length} logins during the change, ${sameSecond} in its second: all revoked`);
    });

    test("a patch that makes the data too large is a 502 naming the limit", async () => {
      const jar = new Jar();
      await gw.request("/set?a=1", jar);
      const big = await gw.request(`/set?big=${"x".repeat(5000)}`, jar);
      assert.equal(big.status, 502);
      assert.match(big.text, /STORE_MAX_DATA_BYTES/);
      assert.deepEqual(data(await gw.request("/", jar)), { a: "1" });
    });

    // Each conflict a writer meets means another writer's save won, and each writer wins once:
    // with 21 writers, one meets at most 20 conflicts, which CONFLICT_RETRIES (20) absorbs, so no
    // patch can be lost however the runtime interleaves them. (50 writers lost one under load.)
    test("21 concurrent patches of one session", async () => {
      const writers = 21;
      const jar = new Jar();
      await gw.request("/set?start=1", jar);
      const results = await Promise.all(
        Array.from({ length: writers }, (_, i) => gw.request(`/set?m${i}=${i}`, jar)),
      );
      assert.deepEqual(results.map((r) => r.status), Array(writers).fill(200));
      const final = data(await gw.request("/", jar));
      const kept = Object.keys(final).filter((k) => k.startsWith("m")).length;
      console.log(`# ${kind}: ${writers} concurrent patches of different members -> ${kept} kept`);
      // Every patch kept is whole and on data that held the start: none applied to a stale read
      // that lacked it.
      assert.equal(final.start, "1");
      for (const [k, v] of Object.entries(final)) if (k.startsWith("m")) assert.equal(v, k.slice(1), k);
      if (kind === "durable") assert.equal(kept, writers, "compare-and-set: no patch lost");
      else assert.ok(kept >= 1, "last write wins: one patch at least");
    });
  });
}

test("the production build (build/) has no conformance suite: 404 even with STORE_TESTS=1", async () => {
  const gw = new Gateway(origins, { vars: { STORE: "kv", STORE_TESTS: "1" }, toml: STORE_BINDINGS });
  await gw.start();
  try {
    const res = await fetch(`${gw.url}/__edge/store/conformance`, {
      headers: { authorization: `Bearer ${gw.operatorToken}` },
    });
    await res.arrayBuffer();
    assert.equal(res.status, 404);
    // The store itself works in that build.
    const jar = new Jar();
    await gw.request("/cart/add?item=book", jar);
    assert.deepEqual(data(await gw.request("/", jar)), { cart: ["book"] });
  } finally {
    await gw.stop();
  }
});

// A store whose binding is missing is no outage but a setting missing: every request would be
// served without its data, and no revocation checked, for good. Refused as SESSION_KEYS missing
// is: a generic 500, the log naming STORE and the binding.
for (const [kind, binding] of [["kv", "SESSIONS"], ["durable", "SESSION_OBJECTS"]]) {
  test(`STORE=${kind} without its binding ${binding}: a generic 500 and a log line naming it, never served without revocation`, async () => {
    const gw = new Gateway(origins, { vars: { STORE: kind } });
    await gw.start();
    try {
      for (const path of ["/", "/logout-everywhere"]) {
        const r = await gw.request(path, new Jar());
        assert.equal(r.status, 500, `${path}: ${r.text}`);
        assert.match(r.text, /misconfigured/);
      }
      assert.match(await gw.logged(/invalid configuration: STORE/), new RegExp(`STORE: needs the binding ${binding}`));
    } finally {
      await gw.stop();
    }
  });
}

// Bound, but not as its kind: the KV name bound to a Durable Object namespace and the other way
// round (or a [vars] text of the name). Each kind passed the start check (an object), then every
// store call failed and was logged, while origins were told `x-session-store: ok`.
const SWAPPED = STORE_BINDINGS.map((line) =>
  line.replace(/"(SESSIONS|SESSION_OBJECTS)"/, (_, name) => (name === "SESSIONS" ? '"SESSION_OBJECTS"' : '"SESSIONS"')),
);
for (const [kind, binding, method, as, vars, toml] of [
  ["kv", "SESSIONS", "getWithMetadata", "a Durable Object namespace", {}, SWAPPED],
  ["durable", "SESSION_OBJECTS", "idFromName", "a KV namespace", {}, SWAPPED],
  ["kv", "SESSIONS", "getWithMetadata", "a [vars] text", { SESSIONS: "sessions" }, []],
  // An R2 bucket has put and get as KV has: its writes took the session data nowhere.
  ["kv", "SESSIONS", "getWithMetadata", "an R2 bucket", {}, [`[[r2_buckets]]`, `binding = "SESSIONS"`, `bucket_name = "sessions-r2"`]],
  // A service binding's RPC stub answers every name with a function, getWithMetadata too.
  ["kv", "SESSIONS", "getWithMetadata", "a service binding", {}, [`[[services]]`, `binding = "SESSIONS"`, `service = "edge-session-nowhere"`]],
  ["durable", "SESSION_OBJECTS", "idFromName", "a service binding", {}, [`[[services]]`, `binding = "SESSION_OBJECTS"`, `service = "edge-session-nowhere"`]],
  // STORE with spaces around it, as the configuration reads it (trimmed).
  ["kv", "SESSIONS", "getWithMetadata", "a service binding (STORE = \"kv \")", { STORE: "kv " }, [`[[services]]`, `binding = "SESSIONS"`, `service = "edge-session-nowhere"`]],
]) {
  test(`STORE=${kind} with ${binding} bound as ${as}: refused at start, naming ${method}`, async () => {
    const gw = new Gateway(origins, { vars: { STORE: kind, ...vars }, toml });
    await gw.start();
    try {
      const r = await gw.request("/", new Jar());
      assert.equal(r.status, 500, r.text);
      const line = new RegExp(`invalid configuration: STORE: needs the binding ${binding}, with its ${method} \\(see wrangler.toml\\)`);
      assert.match(await gw.logged(line), line);
    } finally {
      await gw.stop();
    }
  });
}

describe("a failing store degrades, never fails", { concurrency: false }, () => {
  // The same keys everywhere: a working gateway hands out a session-id cookie (with data), which
  // is then presented to gateways whose store fails.
  const secrets = {
    SESSION_KEYS: JSON.stringify([{ id: "k1", secret: randomBytes(32).toString("base64url") }]),
  };
  let cookies;
  before(async () => {
    const good = new Gateway(origins, { vars: { STORE: "kv" }, toml: STORE_BINDINGS, secrets });
    await good.start();
    try {
      const jar = new Jar();
      await good.request("/cart/add?item=book", jar);
      assert.ok(jar.cookies.get("__Host-sid"));
      cookies = jar.cookies;
    } finally {
      await good.stop();
    }
  });

  for (const [what, vars, toml] of [
    [
      "Durable Object namespace of a worker that is not running",
      { STORE: "durable", STORE_TIMEOUT_MS: "1000" },
      [
        `[[durable_objects.bindings]]`,
        `name = "SESSION_OBJECTS"`,
        `class_name = "EdgeSessionObject"`,
        `script_name = "edge-session-nowhere"`,
      ],
    ],
  ]) {
    test(what, async () => {
      const gw = new Gateway(origins, { vars, toml, secrets });
      await gw.start();
      try {
        const jar = new Jar();
        jar.cookies = new Map(cookies);
        for (const path of ["/", "/cart/add?item=pen"]) {
          const r = await gw.request(path, jar);
          assert.equal(r.status, 200, `${path}: ${r.text}`);
          assert.equal(r.body.session["x-session-store"], "unavailable", path);
          assert.equal(r.body.session["x-session-data"], undefined);
          assert.equal(sid(r), undefined, "the session-id cookie is kept as it is");
        }
        assert.equal(jar.cookies.get("__Host-sid"), cookies.get("__Host-sid"));
        // A logout cannot delete the session while the store fails, but its id is cleared.
        const leaving = new Jar();
        leaving.cookies = new Map(cookies);
        const logout = await gw.request("/logout", leaving);
        assert.equal(logout.status, 200, logout.text);
        assert.match(sid(logout) ?? "", /^__Host-sid=; Max-Age=0/);
        // A login cannot renew the session id while the store fails: the id presented before
        // it (which may have been planted) is cleared rather than kept for the logged-in user.
        const login = await gw.request("/login?user=carol", jar);
        assert.equal(login.status, 200, login.text);
        assert.match(sid(login) ?? "", /^__Host-sid=; Max-Age=0/);
        assert.equal(jar.cookies.get("__Host-sid"), undefined);
        assert.ok(jar.cookies.get("__Host-session"), "login works without the store");
        // Without an id, the request starts a new, empty session, stored (and its id set) only
        // once it has data.
        const after = await gw.request("/", jar);
        assert.equal(after.body.session["x-session-data"], "{}");
        assert.equal(sid(after), undefined);
        // Whether carol's token was revoked cannot be known: she is served, and the origin told.
        const last = await gw.request("/", jar);
        assert.equal(last.body.session["x-session-sub"], "carol");
        assert.equal(last.body.session["x-session-revocation"], "unchecked");
        const anonymous = await gw.request("/");
        assert.equal(anonymous.body.session["x-session-revocation"], undefined, "nothing to check");
        const health = await gw.health();
        assert.equal(health.store.kind, vars.STORE);
        assert.equal(health.store.binding, toml.length > 0);
      } finally {
        await gw.stop();
      }
    });
  }
});
