// The wasm's table of JavaScript values (wasm-bindgen's, where a JavaScript value the wasm holds
// is kept) stays the size it is over callbacks and reads that throw: a slot kept for each
// exception would grow it, and the isolate's memory, for as long as the isolate serves (a
// `minIssuedAt` lookup that throws on every request while KV is down, an `update` whose change
// refuses the request, a request whose headers throw).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

// The instances the glue makes, caught as they are made: the builds are loaded after this.
const Instance = WebAssembly.Instance;
const made = [];
WebAssembly.Instance = function (module, imports) {
  const instance = new Instance(module, imports);
  made.push(instance.exports);
  return instance;
};
const { KEYS_1: keys, NOW, SECRET_1, codeOf, pkg, sealedTokens, sessionTokens } = await import("./fixtures.mjs");
const [base] = made;
const { SessionStore } = createRequire(import.meta.url)("../../target/pkg-store/edge_session.js");
const [, store] = made;
WebAssembly.Instance = Instance;

/** The length of the table of `exports` before and after `n` more runs of `run` (once it has run
 * 100 times). */
async function tableAround(exports, run, n = 10_000) {
  for (let i = 0; i < 100; i++) await run();
  const before = exports.__wbindgen_externrefs.length;
  for (let i = 0; i < n; i++) await run();
  return [before, exports.__wbindgen_externrefs.length];
}

const down = () => {
  throw new Error("KV is down");
};

test("a minIssuedAt lookup that throws keeps no slot of the table (verify, verifyJwt, sealed...)", async () => {
  const tokens = sessionTokens();
  const sealed = sealedTokens();
  const cases = [
    [tokens, "verify", tokens.sign({ sub: "a" }, { now: NOW })],
    [tokens, "verifyJwt", tokens.signJwt({ sub: "a" }, { now: NOW })],
    [sealed, "verify", sealed.sign({ sub: "a" }, { now: NOW })],
    [tokens, "verifyDetailed", tokens.sign({ sub: "a" }, { now: NOW })],
    [tokens, "refresh", tokens.sign({ sub: "a" }, { now: NOW })],
  ];
  for (const [t, verify, token] of cases) {
    const run = () => assert.throws(() => t[verify](token, { now: NOW + 1, minIssuedAt: down }), /KV is down/);
    const [before, after] = await tableAround(base, run);
    assert.equal(after, before, `${verify}: the table grew`);
  }
});

test("an update whose change throws keeps no slot of the table", async () => {
  const sessions = new SessionStore({ keys });
  const run = () => assert.rejects(sessions.update(undefined, down, { now: NOW }), /KV is down/);
  const [before, after] = await tableAround(store, run, 3_000);
  assert.equal(after, before, "update: the table grew");
});

test("a request or a configuration whose reads throw keeps no slot of the table (getCookie, route, constructors)", async () => {
  // Read through wasm-bindgen's `catch` imports, each exception kept a slot: 100,000 requests
  // without a `get` grew the table from 1,156 slots to 132,100.
  const boom = new Error("boom");
  const throws = () => {
    throw boom;
  };
  const byHeader = new pkg.Affinity({ secret: SECRET_1, mode: "header", header: "x-tenant", backends: [{ id: "a" }] });
  const cases = {
    "getCookie, no get": () => assert.equal(codeOf(() => pkg.getCookie({}, "a")), "invalid_config"),
    "getCookie, headers.get throws": () => assert.equal(codeOf(() => pkg.getCookie({ headers: { get: throws } }, "a")), "invalid_config"),
    "getCookie, a headers getter that throws": () => assert.throws(() => pkg.getCookie({ get headers() { throw boom; } }, "a"), (e) => e === boom),
    "route, headers.get throws": () => assert.throws(() => byHeader.route({ headers: { get: throws } }), (e) => e === boom),
    "new SessionTokens, a getter that throws": () => assert.throws(() => new pkg.SessionTokens({ get keys() { throw boom; } }), (e) => e === boom),
    "new Affinity, a getter that throws": () =>
      assert.throws(() => new pkg.Affinity({ secret: SECRET_1, backends: [{ id: "a" }], get mode() { throw boom; } }), (e) => e === boom),
  };
  for (const [name, run] of Object.entries(cases)) {
    const [before, after] = await tableAround(base, run);
    assert.equal(after, before, `${name}: the table grew`);
  }
  // And what does not throw still reads.
  assert.equal(pkg.getCookie({ headers: new Headers({ cookie: "a=1" }) }, "a"), "1");
  assert.equal(byHeader.route(new Request("https://example.com/", { headers: { "x-tenant": "t" } })).backend, "a");
});
