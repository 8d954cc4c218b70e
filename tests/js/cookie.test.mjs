// getCookie, setCookie and clearCookie (src/js/cookie.rs over src/cookie.rs), on the package
// built by `make pkg-node`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NOW, codeOf, pkg, sessionTokens } from "./fixtures.mjs";

const { getCookie, setCookie, clearCookie } = pkg;

test("getCookie reads a Request, Headers, a header string or nothing", () => {
  const header = "theme=dark; __Host-session=abc; junk; __Host-session=def";
  const request = new Request("https://example.com/", { headers: { cookie: header } });
  assert.equal(getCookie(request, "__Host-session"), "abc");
  assert.equal(getCookie(request.headers, "theme"), "dark");
  assert.equal(getCookie(header, "theme"), "dark");
  assert.equal(getCookie(new Headers(), "theme"), undefined);
  assert.equal(getCookie(new Request("https://example.com/"), "theme"), undefined);
  assert.equal(getCookie(header, "missing"), undefined);
  assert.equal(getCookie(header, "Theme"), undefined, "names are case-sensitive");
  assert.equal(getCookie(null, "theme"), undefined);
  assert.equal(getCookie(undefined, "theme"), undefined);
  assert.equal(getCookie('a="quoted"; b = spaced ', "a"), "quoted");
  assert.equal(getCookie('a="quoted"; b = spaced ', "b"), "spaced");
});

test("getCookie reads a Cookie header joined from two fields as the rest of the crate does", () => {
  // workerd's `headers.get("cookie")` joins repeated Cookie fields with ", " (Node's with "; "):
  // the last cookie of the first field was read as "TOKEN, lang=en", which verify refused as
  // malformed.
  const tokens = sessionTokens();
  const token = tokens.sign({ sub: "alice" }, { now: NOW });
  const joined = `theme=dark; __Host-session=${token}, lang=en`;
  const headers = new Headers({ cookie: joined });
  const sources = [joined, headers, new Request("https://example.com/", { headers }), { headers: new Map([["cookie", joined]]) }];
  for (const source of sources) {
    assert.equal(getCookie(source, "__Host-session"), token);
    assert.equal(tokens.verify(getCookie(source, "__Host-session"), { now: NOW }).sub, "alice");
  }
  assert.equal(getCookie('a=" v , w"', "a"), "v", "cut at the comma, trimmed");
  // A cookie that begins after a comma is part of the value of the one before it (which a
  // sibling subdomain can set): never read as a cookie of its own.
  assert.equal(getCookie(`x=1, __Host-session=${token}`, "__Host-session"), undefined);
});

test("getCookie refuses what is neither a request, headers nor a string", () => {
  assert.equal(codeOf(() => getCookie({}, "a")), "invalid_config");
  assert.equal(codeOf(() => getCookie(42, "a")), "invalid_config");
  assert.equal(codeOf(() => getCookie({ headers: {} }, "a")), "invalid_config");
});

test("setCookie has safe defaults; clearCookie is its twin", () => {
  assert.equal(
    setCookie("__Host-session", "v1", { maxAge: 3600 }),
    "__Host-session=v1; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax",
  );
  assert.equal(setCookie("a", "1"), "a=1; Path=/; Secure; HttpOnly; SameSite=Lax");
  assert.equal(clearCookie("__Host-session"), "__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax");
  const opts = { domain: "example.com", sameSite: "None", partitioned: true, path: "/app" };
  assert.equal(
    setCookie("sid", "x", opts),
    "sid=x; Domain=example.com; Path=/app; Secure; HttpOnly; SameSite=None; Partitioned",
  );
  assert.equal(clearCookie("sid", opts), "sid=; Max-Age=0; Domain=example.com; Path=/app; Secure; HttpOnly; SameSite=None; Partitioned");
  assert.equal(setCookie("a", "1", { httpOnly: false, sameSite: "Strict" }), "a=1; Path=/; Secure; SameSite=Strict");
  // A browser sends it back, and getCookie reads it.
  const sent = setCookie("__Host-session", "tok.en_1").split(";")[0];
  assert.equal(getCookie(`x=1; ${sent}`, "__Host-session"), "tok.en_1");
});

test("setCookie refuses what a browser would drop or misread", () => {
  const invalid = (f, setting) => {
    let error;
    try { f(); } catch (e) { error = e; }
    assert.equal(error?.code, "invalid_config", String(error));
    if (setting) assert.equal(error.setting, setting);
  };
  invalid(() => setCookie("__Host-a", "1", { domain: "example.com" }), "domain");
  invalid(() => setCookie("__Host-a", "1", { path: "/app" }), "cookieName");
  invalid(() => setCookie("__Host-a", "1", { secure: false }), "cookieName");
  invalid(() => setCookie("a", "1", { secure: false, sameSite: "None" }), "sameSite");
  invalid(() => setCookie("a", "1", { sameSite: "lenient" }), "sameSite");
  invalid(() => setCookie("__Secure-a", "1", { secure: false }), "cookieName");
  invalid(() => setCookie("a", "1", { secure: false, partitioned: true }), "partitioned");
  invalid(() => setCookie("a", "1", { domain: "example..com" }), "domain");
  invalid(() => setCookie("a", "1", { domain: "exa mple.com" }), "domain");
  assert.ok(setCookie("n".repeat(256), "1"));
  invalid(() => setCookie("n".repeat(257), "1"), "cookieName");
  invalid(() => setCookie("a b", "1"));
  invalid(() => setCookie("a", "x;y"));
  // What browsers ignore: a name and value over 4096 bytes, a Path over 1024.
  assert.equal(setCookie("a", "v".repeat(4095), { httpOnly: false }).length, 4097 + "; Path=/; Secure; SameSite=Lax".length);
  invalid(() => setCookie("a", "v".repeat(4096)));
  invalid(() => setCookie("a", "1", { path: `/${"p".repeat(1024)}` }), "path");
  // A comma would split a folded Set-Cookie (Headers.get joins them with ", ") into a second
  // cookie, "b=1; Secure; HttpOnly; SameSite=Lax", for the splitters that read one.
  invalid(() => setCookie("a", "1", { path: "/a,b=1" }), "path");
  invalid(() => clearCookie("a", { path: "/a, b=1" }), "path");
  invalid(() => setCookie("a", "1", { maxAge: -1 }));
  invalid(() => setCookie("a", "1", { maxAge: 1.5 }));
  invalid(() => clearCookie("__Host-a", { domain: "example.com" }), "domain");
  // RFC 6265bis's __Http- and __Host-Http- names: kept only with Secure and HttpOnly.
  invalid(() => setCookie("__Http-a", "1", { httpOnly: false }), "cookieName");
  invalid(() => setCookie("__host-http-a", "1", { httpOnly: false }), "cookieName");
  invalid(() => setCookie("__Http-a", "1", { secure: false }), "cookieName");
  invalid(() => clearCookie("__Host-Http-a", { httpOnly: false }), "cookieName");
  assert.equal(setCookie("__Host-Http-a", "1"), "__Host-Http-a=1; Path=/; Secure; HttpOnly; SameSite=Lax");
});

test("cookie options or a source whose getter (or Proxy) throws are thrown as they are, and the library keeps working", () => {
  // Read through wasm-bindgen's getters, the exception went through the wasm's frames and left
  // its stack pointer moved: a few thousand later, every call failed with "memory access out of
  // bounds".
  const boom = new Error("getter");
  const throwing = (name) => Object.defineProperty({}, name, { enumerable: true, get() { throw boom; } });
  const proxy = new Proxy({}, { get() { throw boom; }, ownKeys() { throw boom; } });
  const names = ["maxAge", "path", "domain", "sameSite", "httpOnly", "secure", "partitioned"];
  for (let i = 0; i < 5_000; i++) {
    for (const name of names) {
      assert.throws(() => setCookie("a", "1", throwing(name)), (e) => e === boom, `setCookie ${name}, ${i}`);
    }
    assert.throws(() => setCookie("a", "1", proxy), (e) => e === boom, `setCookie Proxy, ${i}`);
    assert.throws(() => clearCookie("a", throwing("path")), (e) => e === boom, `clearCookie, ${i}`);
    assert.throws(() => getCookie(throwing("headers"), "a"), (e) => e === boom, `getCookie, ${i}`);
    assert.throws(() => getCookie(proxy, "a"), (e) => e === boom, `getCookie Proxy, ${i}`);
  }
  assert.equal(setCookie("a", "1", { maxAge: 60 }), "a=1; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax");
  assert.equal(getCookie("a=1", "a"), "1");
});

test("an attribute the cookie helpers do not know is refused, never ignored", () => {
  // { maxage: 60 } made a session cookie, { samesite: "Strict" } a Lax one, without a word.
  for (const [attributes, name] of [[{ maxage: 60 }, "maxage"], [{ samesite: "Strict" }, "samesite"], [{ httponly: false }, "httponly"]]) {
    for (const call of [() => setCookie("a", "1", attributes), () => clearCookie("a", attributes)]) {
      assert.throws(call, (e) => e.code === "invalid_config" && e.message.includes(`unknown option "${name}"`), name);
    }
  }
  // Every known attribute is accepted.
  const all = { maxAge: 60, path: "/p", domain: "example.com", sameSite: "Strict", httpOnly: true, secure: true, partitioned: true };
  assert.equal(setCookie("a", "1", all), "a=1; Max-Age=60; Domain=example.com; Path=/p; Secure; HttpOnly; SameSite=Strict; Partitioned");
});
