// The playground (www/) in a real headless Chromium, on the release wasm built into www/pkg
// (`make browser-test`, part of `make test`), served by scripts/serve-www.mjs with its CSP: the
// page loads the wasm (or says why not), signs, verifies, refuses every changed character with
// an integrity code, shows expiry and leeway as labelled, rotates keys, routes visitors with only
// a downed backend's moving, writes no markup it is given, is usable by keyboard and screen
// reader, fetches nothing from elsewhere, and keeps its CSP when served without the header.
// CHROMIUM=<path> to use another browser binary (default /usr/bin/chromium).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { serve } from "../../scripts/serve-www.mjs";

let server;
let browser;
let page;
const errors = [];
// Every URL the page asked for: all of them on the local server (the page works offline).
const requests = [];

before(async () => {
  server = await serve(0);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("request", (r) => requests.push(r.url()));
  // Each Content-Security-Policy violation, as the page sees it (a CDP script: the CSP allows it).
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  server?.close();
});

const text = (selector) => page.textContent(selector);

test("the page loads the wasm and signs the claims three ways", async () => {
  assert.equal(await text("#status"), "Ready.");
  assert.equal(await text("#config-status"), "keys ready");
  const compact = await text("#token-compact");
  const jwt = await text("#token-jwt");
  const sealed = await text("#token-sealed");
  assert.match(compact, /^[A-Za-z0-9_-]{60,120}$/);
  assert.equal(jwt.split(".").length, 3);
  assert.ok(sealed.length > compact.length, "sealed tokens carry a nonce");
  assert.ok(jwt.length > compact.length, "compact tokens are shorter than JWTs");
  // The JWT payload is readable by anyone; the sealed token hides the claims.
  const payload = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));
  assert.equal(payload.sub, "user-12345");
  assert.ok(!Buffer.from(sealed, "base64url").toString("latin1").includes("user-12345"));
});

test("each token verifies; one changed character is refused", async () => {
  for (const kind of ["compact", "jwt", "sealed"]) {
    await page.click(`[data-verify=${kind}]`);
    const result = await text("#verify-result");
    assert.match(result, /^valid\n/, kind);
    assert.equal(JSON.parse(result.slice("valid\n".length)).role, "admin");
    await page.click("#tamper");
    assert.match(await text("#verify-result"), /^(bad_signature|malformed|unknown_key|wrong_purpose):/, kind);
  }
});

test("changing one character again never gives back the signed token", async () => {
  // A token whose middle character (the one the button changes) is A or B: the button swapped
  // A and B, so a second click restored the token and the page said valid.
  let kind;
  let token;
  for (let n = 0; !kind && n < 500; n++) {
    await page.fill("#claims", JSON.stringify({ sub: `user-${n}` }));
    await page.click("#sign");
    for (const k of ["compact", "jwt", "sealed"]) {
      const t = await text(`#token-${k}`);
      if ("AB".includes(t[Math.floor(t.length / 2)])) [kind, token] = [k, t];
    }
  }
  assert.ok(kind, "no token with A or B in the middle in 1500");
  await page.click(`[data-verify=${kind}]`);
  for (let click = 1; click <= 3; click++) {
    await page.click("#tamper");
    assert.notEqual(await page.inputValue("#verify-input"), token, `${kind}, click ${click}`);
    assert.match(await text("#verify-result"), /^bad_signature:/, `${kind}, click ${click}`);
  }
  await page.fill("#claims", '{"sub": "user-12345", "role": "admin"}');
  await page.click("#sign");
});

test("verifying later than the lifetime shows expired, with the claims", async () => {
  await page.click("[data-verify=compact]");
  await page.fill("#offset", "7200");
  await page.dispatchEvent("#offset", "input");
  assert.equal(await text("#offset-label"), "+7200 s");
  assert.match(await text("#verify-result"), /^expired: .*\nclaims \(authentic, but expired\): .*user-12345/s);
  await page.fill("#offset", "0");
  await page.dispatchEvent("#offset", "input");
  assert.match(await text("#verify-result"), /^valid\n/);
});

test("expiry and leeway as labelled, for each kind: valid from iat - leeway, expired from exp + leeway", async () => {
  await page.click("#sign");
  // Lifetime 3600 s, leeway 30 s; each offset on the slider's 30 s steps (the test has 30 s).
  const expected = { "-60": "not_yet_valid", "-30": "valid", 3570: "valid", 3600: "valid", 3630: "expired" };
  for (const kind of ["compact", "jwt", "sealed"]) {
    await page.click(`[data-verify=${kind}]`);
    for (const [offset, code] of Object.entries(expected)) {
      await page.fill("#offset", offset);
      await page.dispatchEvent("#offset", "input");
      assert.equal((await text("#verify-result")).split(/[:\n]/)[0], code, `${kind} at ${offset} s`);
    }
  }
  await page.fill("#offset", "0");
  await page.dispatchEvent("#offset", "input");
});

test("the time slider reaches past the expiry of any lifetime set", async () => {
  await page.fill("#ttl", "86400");
  await page.click("#sign");
  await page.click("[data-verify=compact]");
  await page.fill("#offset", String(86400 + 60));
  await page.dispatchEvent("#offset", "input");
  assert.equal(await text("#offset-label"), "+86460 s");
  assert.match(await text("#verify-result"), /^expired:/);
  await page.fill("#offset", "0");
  await page.dispatchEvent("#offset", "input");
  await page.fill("#ttl", "3600");
  await page.click("#sign");
  assert.equal(await page.getAttribute("#offset", "max"), "7200");
});

test("a lifetime that outlives the latest time the library takes: the slider stops there, the token valid all along", async () => {
  // The page reads the clock between these two readings of it (one clock, the machine's): a
  // bound read after it alone failed when a second began in between.
  const before = Math.floor(Date.now() / 1000);
  await page.fill("#ttl", "200000000000");
  await page.click("#sign");
  await page.click("[data-verify=compact]");
  const max = Number(await page.getAttribute("#offset", "max"));
  const after = Math.floor(Date.now() / 1000);
  assert.ok(max <= 1e11 - before && max >= 1e11 - after, `max ${max}, clock ${before} to ${after}`);
  await page.fill("#offset", String(max));
  await page.dispatchEvent("#offset", "input");
  // Not an invalid_config about a `now` in milliseconds, which nobody typed.
  assert.match(await text("#verify-result"), /^valid\n/);
  await page.fill("#offset", "0");
  await page.dispatchEvent("#offset", "input");
  await page.fill("#ttl", "3600");
  await page.click("#sign");
  assert.equal(await page.getAttribute("#offset", "max"), "7200");
});

test("a shorter lifetime moves the slider back to its new maximum, and its label with it, with no token to verify", async () => {
  await page.fill("#verify-input", "");
  await page.fill("#ttl", "100000");
  await page.fill("#offset", "150000");
  await page.dispatchEvent("#offset", "input");
  assert.equal(await text("#offset-label"), "+150000 s");
  await page.fill("#ttl", "3600");
  assert.equal(await page.inputValue("#offset"), "7200");
  assert.equal(await text("#offset-label"), "+7200 s");
  await page.fill("#offset", "0");
  await page.dispatchEvent("#offset", "input");
  await page.click("#sign");
});

test("a change of the keys or the leeway verifies the token again", async () => {
  const result = () => text("#verify-result");
  const secret = await page.inputValue("#secret");
  await page.click("#sign");
  await page.click("[data-verify=compact]");
  // exp + 30 s: expired with 30 s of leeway ("on or after" exp + leeway), valid with 300.
  await page.fill("#offset", "3630");
  await page.dispatchEvent("#offset", "input");
  assert.match(await result(), /^expired:/);
  await page.fill("#leeway", "300");
  assert.match(await result(), /^valid\n/, "a longer leeway");
  await page.fill("#leeway", "30");
  assert.match(await result(), /^expired:/, "the leeway back");
  await page.fill("#offset", "0");
  await page.dispatchEvent("#offset", "input");
  assert.match(await result(), /^valid\n/);
  // The token was signed with the old key: not valid under another secret or key id.
  await page.fill("#secret", `${"B".repeat(42)}A`);
  assert.match(await result(), /^bad_signature:/, "another secret");
  await page.fill("#secret", secret);
  await page.fill("#kid", "k2");
  assert.match(await result(), /^unknown_key:/, "another key id");
  await page.fill("#kid", "k1");
  assert.match(await result(), /^valid\n/, "the key back");
});

test("key rotation: the key before still verifies its tokens, which are marked; the next rotation drops it", async () => {
  const kinds = ["compact", "jwt", "sealed"];
  await page.click("#sign");
  const before = {};
  for (const kind of kinds) before[kind] = await text(`#token-${kind}`);
  const verifyOld = async (kind) => {
    await page.selectOption("#kind", kind);
    await page.fill("#verify-input", before[kind]);
    await page.click("#verify");
    return text("#verify-result");
  };
  await page.click("#rotate");
  assert.equal(await page.inputValue("#kid"), "k2");
  assert.equal(await text("#config-status"), "keys ready: k2 signs, k1 still verifies");
  for (const kind of kinds) {
    assert.match(await verifyOld(kind), /^valid\n[^]*\nsigned with k1, the key before: sign the claims again to move it to k2$/, kind);
  }
  await page.click("#sign");
  for (const kind of kinds) {
    await page.click(`[data-verify=${kind}]`);
    const result = await text("#verify-result");
    assert.match(result, /^valid\n/, kind);
    assert.doesNotMatch(result, /key before/, kind);
  }
  await page.click("#rotate");
  assert.equal(await page.inputValue("#kid"), "k3");
  assert.equal(await text("#config-status"), "keys ready: k3 signs, k2 still verifies");
  // k1 is gone: its compact and sealed tokens name it; its JWT, from a one-key ring, has no kid
  // and is tried against each key.
  const gone = { compact: "unknown_key", jwt: "bad_signature", sealed: "unknown_key" };
  for (const kind of kinds) assert.match(await verifyOld(kind), new RegExp(`^${gone[kind]}:`), kind);
  // The page as the other tests expect it: one key, k1.
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForSelector("body[data-ready=true]");
});

test("claims that do not sign leave no token of the claims before in the table", async () => {
  await page.click("#sign");
  for (const claims of ["[1, 2]", "not json", JSON.stringify({ big: "x".repeat(5000) })]) {
    await page.fill("#claims", claims);
    await page.click("#sign");
    assert.match(await text("#sign-status"), /^(invalid_claims|too_large|the claims are not JSON):/, claims);
    for (const kind of ["compact", "jwt", "sealed"]) {
      assert.equal(await text(`#token-${kind}`), "", `${kind} after ${claims.slice(0, 20)}`);
      assert.equal(await text(`#len-${kind}`), "");
    }
  }
  await page.fill("#claims", '{"sub": "user-12345", "role": "admin"}');
  await page.click("#sign");
  assert.equal(await text("#sign-status"), "signed");
});

test("bad input gets the library's error codes", async () => {
  await page.fill("#claims", "[1, 2]");
  await page.click("#sign");
  assert.match(await text("#sign-status"), /^invalid_claims:/);
  await page.fill("#secret", "too-short");
  assert.match(await text("#config-status"), /^invalid_config:/);
  await page.click("#new-secret");
  assert.equal(await text("#config-status"), "keys ready");
  await page.fill("#claims", '{"sub": "user-12345", "role": "admin"}');
  await page.click("#sign");
  assert.equal(await text("#sign-status"), "signed");
});

test("rotating away from a key that is none (a bad secret, an empty id) leaves working keys, not a hidden bad one", async () => {
  for (const [field, bad] of [["#secret", "too-short"], ["#kid", ""]]) {
    await page.fill(field, bad);
    assert.match(await text("#config-status"), /^invalid_config:/, field);
    await page.click("#rotate");
    // The key shown before verifies nothing: it is not kept as the key before, out of sight,
    // where no field shown could fix it.
    assert.equal(await text("#config-status"), "keys ready", field);
    await page.click("#sign");
    assert.equal(await text("#sign-status"), "signed", field);
    await page.click("#new-secret");
    assert.equal(await text("#config-status"), "keys ready", field);
  }
  // The page as the other tests expect it: one key, k1.
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForSelector("body[data-ready=true]");
});

test("the slider reaches expired and not yet valid whatever the leeway, and rotation counts past 2^53 in the key id", async () => {
  // Before, it reached 7200 s and -120 s whatever the leeway: with 4000 s of leeway a token of
  // an hour never showed expired, and none showed not yet valid past 120 s of leeway.
  await page.fill("#leeway", "4000");
  await page.click("#sign");
  await page.click("[data-verify=compact]");
  // On the slider's steps (from -4050): exp + leeway + 50 s, iat - leeway - 50 s.
  for (const [offset, code] of [["7650", "expired"], ["-4050", "not_yet_valid"], ["0", "valid"]]) {
    await page.fill("#offset", offset);
    await page.dispatchEvent("#offset", "input");
    assert.equal((await text("#verify-result")).split(/[:\n]/)[0], code, `at ${offset} s`);
  }
  await page.fill("#leeway", "30");
  assert.equal(await page.getAttribute("#offset", "min"), "-120");
  // The id's number as digits: a Number came back the same past 2^53 (two keys of one id), or
  // as 1.1111111111111111e+21 (no id at all).
  for (const [id, next] of [["k9007199254740992", "k9007199254740993"], [`k${"1".repeat(22)}`, `k${"1".repeat(21)}2`]]) {
    await page.fill("#kid", id);
    await page.click("#rotate");
    assert.equal(await page.inputValue("#kid"), next);
    assert.match(await text("#config-status"), /^keys ready/, id);
  }
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForSelector("body[data-ready=true]");
});

test("keys: an empty lifetime or leeway, or one the browser cannot read as a number, is refused, not read as 0", async () => {
  for (const [id, name, good] of [["ttl", "lifetime", "3600"], ["leeway", "leeway", "30"]]) {
    await page.fill(`#${id}`, "");
    assert.equal(await text("#config-status"), `${name}: a number of seconds`, `${id} empty`);
    // "1e": the browser gives the script "" for it.
    await page.type(`#${id}`, "1e");
    assert.equal(await text("#config-status"), `${name}: a number of seconds`, `${id} 1e`);
    await page.fill(`#${id}`, good);
    assert.equal(await text("#config-status"), "keys ready");
  }
});

test("sticky sessions: shares follow the weights; a downed backend's visitors alone move", async () => {
  await page.click("#simulate");
  assert.equal(await text("#simulate-status"), "10000 visitors routed");
  const shares = async () =>
    Object.fromEntries(
      await page.$$eval("#shares tr", (rows) =>
        rows.slice(1).map((r) => [r.cells[0].textContent.trim(), parseFloat(r.cells[3].textContent)]),
      ),
    );
  const even = await shares();
  assert.deepEqual(Object.keys(even), ["a", "b", "c", "d"]);
  for (const id of ["a", "b", "c"]) assert.ok(Math.abs(even[id] - 20) < 2, `${id}: ${even[id]}%`);
  assert.ok(Math.abs(even.d - 40) < 2, `d: ${even.d}%`);
  await page.uncheck("[data-backend=b]");
  const moved = await text("#moved");
  const percent = parseFloat(moved.match(/\(([\d.]+)%\)/)[1]);
  assert.ok(Math.abs(percent - even.b) < 0.05, `${moved} (b had ${even.b}%)`);
  // Counted, not claimed: every visitor that moved was b's.
  const count = moved.match(/^b down: (\d+) visitors moved/)[1];
  assert.match(moved, new RegExp(`: ${count} of them from that backend, 0 from the others\\.$`));
  const without = await shares();
  assert.equal(without.b, 0);
  for (const id of ["a", "c", "d"]) assert.ok(without[id] >= even[id], `${id} lost visitors`);
  await page.check("[data-backend=b]");
  assert.deepEqual(await shares(), even, "the same backends again: the same routing");
});

test("sticky sessions: a new secret routes the visitors again, keyed with it", async () => {
  const shown = async () => [await text("#moved"), await text("#shares")];
  const secret = await page.inputValue("#secret");
  await page.uncheck("[data-backend=b]");
  await page.fill("#secret", `${"C".repeat(42)}A`);
  const afterTyping = await shown();
  await page.click("#simulate");
  assert.deepEqual(afterTyping, await shown(), "the figures shown were of the old secret");
  await page.click("#new-secret");
  const afterNew = await shown();
  await page.click("#simulate");
  assert.deepEqual(afterNew, await shown(), "New secret: the figures shown were of the old one");
  await page.fill("#secret", secret);
  await page.check("[data-backend=b]");
});

test("sticky sessions: a fractional number of visitors routes whole visitors, shares add up to 100%", async () => {
  await page.fill("#visitors", "1000.5");
  await page.click("#simulate");
  assert.equal(await text("#simulate-status"), "1000 visitors routed");
  const shares = await page.$$eval("#shares tr", (rows) => rows.slice(1).map((r) => parseFloat(r.cells[3].textContent)));
  const sum = shares.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 100) < 0.25, `shares add up to ${sum}%`);
  await page.fill("#visitors", "10000");
  await page.click("#simulate");
});

test("sticky sessions: a number of visitors out of 1 to 200000, or no number, is refused on the page", async () => {
  const refused = async (value, message) => {
    await page.click("#simulate");
    assert.equal(await text("#simulate-status"), message, value);
    assert.ok(await page.$eval("#simulate-status", (e) => e.classList.contains("error")), value);
    // As for backends that are no configuration: no table or line of the last routing stays.
    assert.equal(await page.$$eval("#shares tr", (rows) => rows.length), 0, value);
    assert.equal(await text("#moved"), "", value);
    await page.fill("#visitors", "10000");
    await page.click("#simulate");
    assert.equal(await text("#simulate-status"), "10000 visitors routed");
  };
  // They were routed as 1 visitor (0, -5, 0.5) or 200000 (200001) without a word.
  for (const value of ["0", "-5", "0.5", "200001"]) {
    await page.fill("#visitors", value);
    await refused(value, `visitors, "${value}": a number from 1 to 200000`);
  }
  // No number: an empty box, or what the browser cannot read as one ("1e"), which it gives the
  // script as "".
  await page.fill("#visitors", "");
  await refused("empty", "visitors: a number from 1 to 200000");
  await page.fill("#visitors", "");
  await page.type("#visitors", "1e");
  assert.ok(await page.$eval("#visitors", (e) => e.validity.badInput), "1e is a number to the browser");
  await refused("1e", "visitors: a number from 1 to 200000");
});

test("sticky sessions: every backend down is no_backend, and no figures of before stay shown", async () => {
  for (const id of ["a", "b", "c"]) await page.uncheck(`[data-backend=${id}]`);
  assert.match(await text("#moved"), /^a, b, c down: \d+ visitors moved/);
  await page.uncheck("[data-backend=d]");
  assert.match(await text("#simulate-status"), /^no_backend:/);
  assert.equal(await text("#moved"), "", "the line still told of a, b and c down");
  for (const id of ["a", "b", "c", "d"]) await page.check(`[data-backend=${id}]`);
  assert.equal(await text("#simulate-status"), "10000 visitors routed");
  assert.equal(await text("#moved"), "Untick a backend to take it down.");
  // A line of more than an id and a weight is refused, not read in part.
  await page.fill("#backends", "a 1\nb 2 3");
  await page.click("#simulate");
  assert.equal(await text("#simulate-status"), 'line 2, "b 2 3": one backend a line, its id and weight');
  // Backends that are no configuration: neither the table nor the line of the last one stays.
  await page.fill("#backends", "a 0\nb 1");
  await page.click("#simulate");
  assert.match(await text("#simulate-status"), /^invalid_config:/);
  assert.equal(await page.$$eval("#shares tr", (rows) => rows.length), 0);
  assert.equal(await text("#moved"), "");
  await page.fill("#backends", "a 1\nb 1\nc 1\nd 2");
  await page.click("#simulate");
  assert.equal(await text("#simulate-status"), "10000 visitors routed");
  // Other backends, all down: the table shows them, none routed to, not the shares of before
  // (it showed the backends of the last routing, one of them with 100%).
  await page.uncheck("[data-backend=a]");
  await page.fill("#backends", "a 1");
  await page.click("#simulate");
  assert.match(await text("#simulate-status"), /^no_backend:/);
  const rows = await page.$$eval("#shares tr", (trs) => trs.slice(1).map((tr) => [...tr.cells].slice(0, 4).map((td) => td.textContent.trim())));
  assert.deepEqual(rows, [["a", "1", "0.0%", "0.0%"]]);
  await page.check("[data-backend=a]");
  await page.fill("#backends", "a 1\nb 1\nc 1\nd 2");
  await page.click("#simulate");
  assert.equal(await text("#simulate-status"), "10000 visitors routed");
});

test("accessibility basics: every control labelled, buttons told apart, results announced, all by keyboard", async () => {
  const unlabelled = await page.$$eval("input, textarea, select", (els) =>
    els.filter((e) => !e.labels?.length && !e.getAttribute("aria-label")).map((e) => e.id || e.outerHTML),
  );
  assert.deepEqual(unlabelled, [], "controls without a label");
  const names = await page.$$eval("button", (bs) => bs.map((b) => b.getAttribute("aria-label") ?? b.textContent.trim()));
  assert.equal(new Set(names).size, names.length, `buttons of the same name: ${names}`);
  // Where results appear: live regions, read out by screen readers when they change.
  for (const id of ["status", "config-status", "sign-status", "verify-result", "simulate-status", "moved"]) {
    const live = await page.$eval(`#${id}`, (e) => e.tagName === "OUTPUT" || e.getAttribute("role") === "status" || e.hasAttribute("aria-live"));
    assert.ok(live, `#${id} is not a live region`);
  }
  // Tab reaches every button and control, in the order of the page.
  await page.focus("#kid");
  const reached = new Set();
  for (let i = 0; i < 30; i++) {
    reached.add(await page.evaluate(() => document.activeElement.id || document.activeElement.dataset.verify || document.activeElement.dataset.backend));
    await page.keyboard.press("Tab");
  }
  const all = await page.$$eval("button, input, textarea, select", (els) => els.map((e) => e.id || e.dataset.verify || e.dataset.backend));
  assert.deepEqual(all.filter((id) => !reached.has(id)), []);
});

/** The WCAG 2 contrast ratio of the text of each element matching `selector` against what lies
 * behind it, both as Chromium computes them: the element's and its ancestors' backgrounds laid
 * over the canvas (the system colour of the scheme in use). */
const contrasts = (selector) =>
  page.$$eval(selector, (els) => {
    const rgba = (css) => {
      const m = /^rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)$/.exec(css);
      if (!m) throw new Error(`not an rgb() colour: ${css}`);
      return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
    };
    const over = ([r, g, b, a], below) => [r, g, b].map((v, i) => v * a + below[i] * (1 - a));
    const luminance = (rgb) =>
      rgb
        .map((v) => v / 255)
        .map((v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
        .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const probe = document.createElement("div");
    probe.style.backgroundColor = "Canvas";
    document.body.append(probe);
    const canvas = rgba(getComputedStyle(probe).backgroundColor);
    probe.remove();
    return els.map((el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) layers.unshift(rgba(getComputedStyle(e).backgroundColor));
      const background = layers.reduce((below, layer) => over(layer, below), canvas);
      const [light, dark] = [luminance(over(rgba(getComputedStyle(el).color), background)), luminance(background)].sort((a, b) => b - a);
      return [`${el.id || el.tagName.toLowerCase()}.${el.className.trim().replace(/\s+/g, ".")}`, (light + 0.05) / (dark + 0.05)];
    });
  });

test("muted, success and error text is of WCAG AA contrast (4.5:1) on its background, light and dark", async () => {
  try {
    for (const colorScheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme });
      // The verify result in green, then in red, on its own grey background.
      await page.click("[data-verify=compact]");
      const got = await contrasts(".muted, .ok, .error");
      await page.click("#tamper");
      got.push(...(await contrasts("#verify-result")));
      for (const kind of ["muted", "ok", "error"]) {
        assert.ok(got.some(([el]) => el.split(".").includes(kind)), `${colorScheme}: no ${kind} text`);
      }
      for (const [el, ratio] of got) assert.ok(ratio >= 4.5, `${colorScheme}, ${el}: ${ratio.toFixed(2)}:1`);
    }
  } finally {
    await page.emulateMedia({ colorScheme: null });
  }
});

test("every character of each kind changed is refused with an integrity code, never valid", async () => {
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const codes = {
    compact: /^(malformed|wrong_purpose|unknown_key|bad_signature):/,
    jwt: /^(malformed|unsupported_alg|unknown_key|bad_signature):/,
    sealed: /^(malformed|unknown_key|bad_signature):/,
  };
  await page.click("#sign");
  for (const kind of ["compact", "jwt", "sealed"]) {
    const token = await text(`#token-${kind}`);
    await page.selectOption("#kind", kind);
    const changed = [token.slice(0, -1), `${token}A`];
    for (let i = 0; i < token.length; i++) {
      const swap = ALPHABET[(ALPHABET.indexOf(token[i]) + 1) % 64];
      changed.push(token.slice(0, i) + swap + token.slice(i + 1));
    }
    // Typed into the box and verified by the page's button, in one round trip for all of them.
    const results = await page.evaluate((tokens) =>
      tokens.map((t) => {
        document.getElementById("verify-input").value = t;
        document.getElementById("verify").click();
        return document.getElementById("verify-result").textContent;
      }), changed);
    results.forEach((result, i) => assert.match(result, codes[kind], `${kind}: ${changed[i]}`));
  }
});

test("nothing a token, its claims, the backends or the URL carry becomes markup or script", async () => {
  const port = server.address().port;
  const xss = (n) => `<img/src=x/onerror=window.pwned=${n}>`;
  await page.goto(`http://127.0.0.1:${port}/?token=${encodeURIComponent(xss(1))}#${encodeURIComponent(xss(2))}`);
  await page.waitForSelector("body[data-ready=true]");
  // Claims: shown as JSON text after each verify.
  await page.fill("#claims", JSON.stringify({ sub: xss(3), [`</pre>${xss(4)}`]: 1 }));
  await page.click("#sign");
  for (const kind of ["compact", "jwt", "sealed"]) {
    await page.click(`[data-verify=${kind}]`);
    assert.ok((await text("#verify-result")).includes(JSON.stringify(xss(3)).slice(1, -1)), kind);
  }
  // A JWT signed with the page's secret whose kid and alg are markup: error messages quote them.
  const secret = Buffer.from(await page.inputValue("#secret"), "base64url");
  const now = Math.floor(Date.now() / 1000);
  for (const header of [{ alg: "HS256", kid: xss(5) }, { alg: xss(6), kid: "k1" }]) {
    const input = [header, { sub: xss(7), iat: now, exp: now + 60 }]
      .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
      .join(".");
    const jwt = `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
    await page.selectOption("#kind", "jwt");
    await page.fill("#verify-input", jwt);
    await page.click("#verify");
    assert.match(await text("#verify-result"), /^(unknown_key|unsupported_alg|malformed):/);
  }
  // A backend id of markup: the table shows it as text, and its checkbox takes it down.
  await page.fill("#backends", `${xss(8)} 1\nb 1`);
  await page.click("#simulate");
  assert.equal(await text("#simulate-status"), "10000 visitors routed");
  assert.equal((await text("#shares tr:nth-child(2) td:first-child")).trim(), xss(8));
  await page.uncheck("#shares tr:nth-child(2) input");
  assert.ok((await text("#moved")).startsWith(`${xss(8)} down: `));
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.equal(await page.$$eval("main img, main script", (els) => els.length), 0);
  // The page as the other tests left it.
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForSelector("body[data-ready=true]");
});

test("the page keeps to the server's CSP and loads nothing from elsewhere", async () => {
  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
  const origin = `http://127.0.0.1:${server.address().port}/`;
  assert.deepEqual(requests.filter((url) => !url.startsWith(origin) && !url.startsWith("data:")), []);
  assert.ok(requests.some((url) => url.endsWith(".wasm")), "the wasm came from the server");
  // The share bars are drawn (a style attribute would be refused by the CSP).
  const widths = await page.$$eval("#shares .bar", (bars) => bars.map((b) => b.getBoundingClientRect().width));
  assert.equal(widths.length, 4);
  assert.ok(widths.every((w) => w > 0), `bar widths ${widths}`);
});

test("served without the server's header (a static host), the page's own CSP still refuses inline script and style", async () => {
  const other = await browser.newPage();
  try {
    // The same files, with no Content-Security-Policy header.
    await other.route("**/*", async (route) => {
      const response = await route.fetch();
      const headers = response.headers();
      delete headers["content-security-policy"];
      await route.fulfill({ response, headers });
    });
    await other.addInitScript(() => {
      window.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.effectiveDirective));
    });
    const res = await other.goto(`http://127.0.0.1:${server.address().port}/`);
    assert.equal(res.headers()["content-security-policy"], undefined);
    await other.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
    assert.deepEqual(await other.evaluate(() => window.cspViolations), [], "the page itself keeps to it");
    // What an injection would add: an inline script, a style element, a style attribute.
    const got = await other.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "window.inlineRan = true";
      document.head.append(script);
      const style = document.createElement("style");
      style.textContent = "#status { color: rgb(1, 2, 3); }";
      document.head.append(style);
      const status = document.getElementById("status");
      status.setAttribute("style", "background-color: rgb(4, 5, 6)");
      const computed = getComputedStyle(status);
      return { ran: window.inlineRan === true, color: computed.color, background: computed.backgroundColor };
    });
    assert.equal(got.ran, false, "the inline script ran");
    assert.notEqual(got.color, "rgb(1, 2, 3)", "the style element applied");
    assert.notEqual(got.background, "rgb(4, 5, 6)", "the style attribute applied");
    // Each refusal reported (the events come after the refusals, in a task of their own).
    await other.waitForFunction(() => window.cspViolations.length >= 3);
    assert.deepEqual((await other.evaluate(() => window.cspViolations)).sort(), ["script-src-elem", "style-src-attr", "style-src-elem"]);
  } finally {
    await other.close();
  }
});

test("no errors in the page's console", () => {
  assert.deepEqual(errors, []);
});

test("a library that does not load is said on the page, not only in the console", async () => {
  // The wasm, or the whole of www/pkg (not built yet).
  for (const missing of ["**/*.wasm", "**/pkg/**"]) {
    const other = await browser.newPage();
    try {
      await other.route(missing, (route) => route.abort());
      await other.goto(`http://127.0.0.1:${server.address().port}/`);
      await other.waitForSelector("#status.error", { timeout: 10_000 });
      assert.match(await other.textContent("#status"), /^The wasm did not load: .*make playground/, missing);
      assert.notEqual(await other.getAttribute("body", "data-ready"), "true");
    } finally {
      await other.close();
    }
  }
});
