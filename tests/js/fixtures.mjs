// Fixtures shared by the JavaScript tests (as tests/common/mod.rs is for the Rust ones): the
// package built by `make pkg-node`, the clock, the secrets, the known-answer vectors of
// tests/vectors/ (read by the Rust tests too), and what every file checks of a thrown error.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);

/**
 * `require(path)` of a Node glue wasm-bindgen wrote (relative to tests/js/), and the exports of
 * the wasm instance it makes, caught as it is made: its `memory`, its table of JavaScript values
 * (`__wbindgen_externrefs`), for the tests of what a call leaves in them.
 */
export function requireGlue(path) {
  const Instance = WebAssembly.Instance;
  let made;
  WebAssembly.Instance = function (module, imports) {
    const instance = new Instance(module, imports);
    made = instance.exports;
    return instance;
  };
  try {
    return { module: require(path), wasm: made };
  } finally {
    WebAssembly.Instance = Instance;
  }
}

/** The package built by `wasm-pack build --target nodejs --out-dir pkg-node`, and its wasm. */
export const { module: pkg, wasm } = requireGlue("../../pkg-node/edge_session.js");

/**
 * npm/hono.js as the package ships it, importing "edge-session": copied into a temporary
 * directory whose node_modules/edge-session links to pkg-node. The module, and `remove` (for
 * `after`), which deletes the directory.
 */
export async function importHono() {
  const dir = mkdtempSync(join(tmpdir(), "edge-session-hono-"));
  const at = (path) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(at("pkg-node"), join(dir, "node_modules/edge-session"), "dir");
  copyFileSync(at("npm/hono.js"), join(dir, "hono.js"));
  const module = await import(pathToFileURL(join(dir, "hono.js")).href);
  return { module, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The time the tests sign, verify and route at (seconds). */
export const NOW = 1800000000;

/** `n` bytes counting up from `from`. */
export const bytes = (n, from) => Uint8Array.from({ length: n }, (_, i) => i + from);
/** Bytes as base64url without padding. */
export const b64url = (b) => Buffer.from(b).toString("base64url");

/** 32 bytes of 0x01..0x20, and as base64url (SECRET_1 in tests/common/mod.rs). */
export const KEY_1 = bytes(32, 1);
export const SECRET_1 = b64url(KEY_1);
/** 32 bytes of 0x21..0x40, and as base64url (SECRET_2 in tests/common/mod.rs). */
export const KEY_2 = bytes(32, 33);
export const SECRET_2 = b64url(KEY_2);

/** A keyring of one key, k1 = SECRET_1. */
export const KEYS_1 = [{ id: "k1", secret: SECRET_1 }];

/** `SessionTokens` with the key k1 (SECRET_1) and any other options. */
export const sessionTokens = (extra = {}) => new pkg.SessionTokens({ keys: KEYS_1, ...extra });
/** `SealedTokens` with the key k1 (SECRET_1) and any other options. */
export const sealedTokens = (extra = {}) => new pkg.SealedTokens({ keys: KEYS_1, ...extra });

/**
 * Checks that a new instance made by `make` (`sessionTokens` or `sealedTokens`), and `tokens`
 * when given, still sign and verify, and refuse a forged token (signed with another secret under
 * the key id k1) with `bad_signature`: after a call that could have left the wasm broken.
 */
export const assertStillWorks = (make, tokens = make()) => {
  const forged = make({ keys: [{ id: "k1", secret: SECRET_2 }] }).sign({ sub: "u" }, { now: NOW });
  for (const t of [tokens, make()]) {
    assert.equal(t.verify(t.sign({ sub: "u" }, { now: NOW }), { now: NOW }).sub, "u");
    assert.equal(codeOf(() => t.verify(forged, { now: NOW })), "bad_signature");
  }
};

/**
 * The `.code` of the error `fn` throws, after checking it is what this library throws: an
 * `Error` named "EdgeSessionError" with a message.
 */
export const codeOf = (fn) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Error, "throws an Error");
    assert.equal(e.name, "EdgeSessionError");
    assert.equal(typeof e.message, "string");
    assert.ok(e.message.length > 0);
    return e.code;
  }
  assert.fail("expected a throw");
};

/** The known-answer vectors of tests/vectors/`name` (shared with the Rust tests). */
export const vectors = (name) =>
  JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), "utf8"));
