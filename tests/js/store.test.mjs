// SessionStore's boundary in Node, on its memory store, with the library built with the store
// (`wasm-pack build --target nodejs --out-dir target/pkg-store -- --features store`, run by
// `make js-test`); the same store on KV and Durable Objects runs in workerd (tests/e2e/js-store.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { KEYS_1 as keys, NOW } from "./fixtures.mjs";

const { SessionStore } = createRequire(import.meta.url)("../../target/pkg-store/edge_session.js");

/** The `.code` of the error `promise` rejects with (or `fn` throws). */
const rejection = async (fn) => {
  try {
    await fn();
  } catch (e) {
    assert.equal(e.name, "EdgeSessionError", e.message);
    return e.code;
  }
  assert.fail("expected a rejection");
};

test("subjects with a lone surrogate are refused: they would be one subject with U+FFFD", async () => {
  const store = new SessionStore({ keys });
  const session = await store.load(undefined, { now: NOW });
  session.set("cart", 1);
  session.subject = "bob\uFFFD";
  await store.commit(session, { now: NOW });
  await store.revokeTokens("bob\uFFFD", 3600, { now: NOW });
  for (const subject of ["bob\uD800", "bob\uDC00"]) {
    assert.equal(await rejection(() => store.revokeSubject(subject)), "invalid_config");
    assert.equal(await rejection(() => store.revokeTokens(subject, 3600, { now: NOW + 5 })), "invalid_config");
    assert.equal(await rejection(() => store.minIssuedAt(subject)), "invalid_config");
    assert.equal(await rejection(() => (session.subject = subject)), "invalid_config");
  }
  assert.equal(session.subject, "bob\uFFFD");
  assert.equal(await store.minIssuedAt("bob\uFFFD"), NOW);
  assert.equal(await store.revokeSubject("bob\uFFFD"), 1);
  session.subject = undefined;
  assert.equal(session.subject, undefined);
});
