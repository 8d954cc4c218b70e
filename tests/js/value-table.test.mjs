// The wasm's table of JavaScript values (wasm-bindgen's, where a JavaScript value the wasm holds
// is kept) stays the size it is over callbacks that throw: a slot kept for each exception would
// grow it, and the isolate's memory, for as long as the isolate serves (a `minIssuedAt` lookup
// that throws on every request while KV is down, an `update` whose change refuses the request).
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
const { KEYS_1: keys, NOW, sealedTokens, sessionTokens } = await import("./fixtures.mjs");
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
