// scripts/glue.mjs, on a glue the wasm-bindgen CLI writes here from the wasm the last release
// build compiled (target/wasm32-unknown-unknown/release/edge_session.wasm, `make js-test`): what
// a glue the script did not rewrite does with `verify` and `verifyJwt`, and what it does once
// rewritten.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NOW, KEYS_1, codeOf } from "./fixtures.mjs";

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUILT = join(ROOT, "target/wasm32-unknown-unknown/release/edge_session.wasm");

test("verify and verifyJwt of a glue scripts/glue.mjs did not rewrite never answer; rewritten, they do", { skip: !existsSync(BUILT) && "no release build of the wasm" }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), "edge-session-glue-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const raw = join(dir, "raw");
  const glued = join(dir, "glued");
  execFileSync("wasm-bindgen", ["--target", "nodejs", "--out-dir", raw, BUILT]);
  // A package.json without "type" (the repository's says module; the Node glue is CommonJS).
  writeFileSync(join(raw, "package.json"), "{}\n");
  cpSync(raw, glued, { recursive: true });
  execFileSync(process.execPath, [join(ROOT, "scripts/glue.mjs"), join(glued, "edge_session.js")]);
  // Run again on its own output, it changes nothing, in the glue or in the wasm.
  const once = readFileSync(join(glued, "edge_session.js"), "utf8");
  const wasmOnce = readFileSync(join(glued, "edge_session_bg.wasm"));
  execFileSync(process.execPath, [join(ROOT, "scripts/glue.mjs"), join(glued, "edge_session.js")]);
  assert.equal(readFileSync(join(glued, "edge_session.js"), "utf8"), once);
  assert.deepEqual(readFileSync(join(glued, "edge_session_bg.wasm")), wasmOnce);

  // The wasm's imports from the glue renamed a, b...: none left of wasm-bindgen's long names, in
  // the wasm or in the glue; the others (the crate's snippets) as they were.
  const importsOf = (dir) => WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(join(dir, "edge_session_bg.wasm"))));
  const rawImports = importsOf(raw);
  const gluedImports = importsOf(glued);
  assert.equal(gluedImports.length, rawImports.length);
  const own = gluedImports.filter((i) => i.module === "./edge_session_bg.js");
  assert.ok(own.length > 20);
  assert.deepEqual(own.map((i) => i.name), own.map((_, k) => (k < 52 ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[k] : own[k].name)));
  assert.deepEqual(
    gluedImports.filter((i) => i.module !== "./edge_session_bg.js"),
    rawImports.filter((i) => i.module !== "./edge_session_bg.js"),
  );
  assert.doesNotMatch(once, /__wbg_\w+_[0-9a-f]{16}|__wbindgen_init_externref_table/);

  // Not rewritten: a forged token is never answered as if verified (the wasm's answer is a
  // number, -1 for a failure, which a caller waiting for an exception would have taken).
  const before = require(join(raw, "edge_session.js"));
  const tokens = new before.SessionTokens({ keys: KEYS_1 });
  const sealed = new before.SealedTokens({ keys: KEYS_1 });
  const good = tokens.sign({ sub: "u" }, { now: NOW });
  for (const call of [
    () => tokens.verify("forged", { now: NOW }),
    () => tokens.verify(good, { now: NOW }),
    () => tokens.verifyJwt("a.b.c", { now: NOW }),
    () => sealed.verify("forged", { now: NOW }),
  ]) {
    assert.throws(call, TypeError);
  }

  // Rewritten: the claims, or the error with its code; the types name the methods as the glue.
  const after = require(join(glued, "edge_session.js"));
  const t2 = new after.SessionTokens({ keys: KEYS_1 });
  const s2 = new after.SealedTokens({ keys: KEYS_1 });
  assert.equal(t2.verify(t2.sign({ sub: "u" }, { now: NOW }), { now: NOW }).sub, "u");
  assert.equal(t2.verifyJwt(t2.signJwt({ sub: "j" }, { now: NOW }), { now: NOW }).sub, "j");
  assert.equal(s2.verify(s2.sign({ sub: "s" }, { now: NOW }), { now: NOW }).sub, "s");
  assert.equal(codeOf(() => t2.verify("forged", { now: NOW })), "malformed");
  assert.equal(codeOf(() => s2.verify("forged", { now: NOW })), "malformed");
  assert.equal(codeOf(() => t2.verifyJwt("a.b.c", { now: NOW })), "malformed");
  const dts = readFileSync(join(glued, "edge_session.d.ts"), "utf8");
  assert.equal(dts.match(/^ +verify\(token: string, options\?: VerifyOptions \| null\): VerifiedClaims;$/gm)?.length, 2);
  assert.match(dts, /^ +verifyJwt\(token: string, options\?: VerifyOptions \| null\): VerifiedJwtClaims;$/m);
  assert.doesNotMatch(dts, /__verify/);
  assert.doesNotMatch(readFileSync(join(glued, "edge_session.js"), "utf8"), /^ +__verify|__edgeSessionThrown =/m);
  // A token of more characters than maxTokenBytes is refused by the glue before its copy, with
  // the wasm's error; the two methods it calls for that are the glue's only.
  assert.equal(typeof before.SessionTokens.prototype.__tooLarge, "function");
  for (const klass of ["SessionTokens", "SealedTokens"]) {
    assert.equal(after[klass].prototype.__tooLarge, undefined, klass);
    assert.equal(after[klass].prototype.__maxTokenBytes, undefined, klass);
  }
  const tooLarge = { name: "EdgeSessionError", code: "too_large", message: "input of 10000 bytes exceeds the limit of 4096 bytes" };
  assert.throws(() => t2.verify("é".repeat(5000)), tooLarge);
  assert.throws(() => s2.refresh("a".repeat(10000)), tooLarge);
});

// A module of one function, exported under each of `exports`, importing `imports` (functions of
// module "m"), as the bytes of a .wasm file.
function moduleBytes(imports, exports) {
  const name = (s) => [s.length, ...Buffer.from(s)];
  const leb = (n) => (n < 128 ? [n] : [(n % 128) | 128, ...leb(Math.floor(n / 128))]);
  const section = (id, entries) => {
    const body = [entries.length, ...entries.flat()];
    return [id, ...leb(body.length), ...body];
  };
  return Buffer.from([
    ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, [[0x60, 0, 0]]),
    ...section(2, imports.map((i) => [...name("m"), ...name(i), 0, 0])),
    ...section(3, [[0]]),
    ...section(7, exports.map((e) => [...name(e), 0, imports.length])),
    ...section(10, [[2, 0, 0x0b]]),
  ]);
}

test("--unused-classes takes out the exports of classes nothing can hold, and refuses a class in use", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "edge-session-unused-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "index_bg.wasm");
  const run = (imports, exports, classes) => {
    writeFileSync(file, moduleBytes(imports, exports));
    try {
      execFileSync(process.execPath, [join(ROOT, "scripts/glue.mjs"), "--unused-classes", file, ...classes], { stdio: "pipe" });
    } catch (e) {
      return e.stderr.toString();
    }
    return WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(file))).map((e) => e.name);
  };
  // Every export of the class (method, free, field getter and setter) goes; the others stay,
  // a class whose name starts the same (`r2rangeset`) too.
  const all = ["fetch", "r2range_length", "__wbg_r2range_free", "__wbg_get_r2range_offset", "__wbg_set_r2range_offset", "__wbg_r2rangeset_free", "waiting_x"];
  assert.deepEqual(run(["__wbg_waiting_new"], all, ["r2range"]), ["fetch", "__wbg_r2rangeset_free", "waiting_x"]);
  // Refused: a class the wasm hands to JavaScript (its `__wrap`, or `__unwrap` back), one that
  // JavaScript constructs, and one the wasm does not export.
  assert.match(run(["__wbg_waiting_new"], all, ["waiting"]), /class waiting is used: the wasm hands its instances to JavaScript \(__wbg_waiting_new\)/);
  assert.match(run(["__wbg_r2range_unwrap"], all, ["r2range"]), /class r2range is used/);
  assert.match(run(["__wbg_r2range_new_0123456789abcdef"], all, ["r2range"]), /class r2range is used/);
  assert.match(run([], [...all, "r2range_new"], ["r2range"]), /class r2range is used: JavaScript can construct it/);
  assert.match(run([], all, ["r2range", "minifyconfig"]), /no export of minifyconfig: take it off the list/);
});
