#!/usr/bin/env node
// Two rewrites of wasm-bindgen's glue, for each glue file named (the Makefile runs this after
// every wasm-pack build of the JS library). Each fails the build when the glue no longer has the
// shape it rewrites (a wasm-bindgen that changed it), rather than leaving it unrewritten.
//
// 1. A method given something other than an instance of the class it takes (`store.commit({})`)
//    throws a `TypeError`, as JavaScript's own APIs do for an argument of the wrong type
//    (README), not wasm-bindgen's plain `Error("expected instance of Session")`.
// 2. The hot calls `verify` and `verifyJwt` return where their claims lie in the wasm memory, or
//    -1 with their error kept in the wasm (src/js/thrown.rs): the glue reads the claims
//    (`claims_at`, from the crate's snippet src/js/object.rs) or throws that error. The export
//    that hands the error over (`__edgeSessionThrown`) is taken out of the module's exports.
//    The wasm exports these methods as `__verify` and `__verifyJwt`; they become `verify` and
//    `verifyJwt` here, in the glue and in its types (the .d.ts beside it), so that a glue left as
//    wasm-bindgen wrote it (a build that skipped this script) has no `verify` at all, rather than
//    one that returns a number, -1 for a forged token, where its caller waits for an exception.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const FROM = "throw new Error(`expected instance of ${klass.name}`);";
const TO = "throw new TypeError(`expected instance of ${klass.name}`);";

// The wasm exports whose -1 means "throw" (src/js/thrown.rs's callers).
const THROWING = ["sessiontokens___verify", "sealedtokens___verify", "sessiontokens___verifyJwt"];
// Their methods as wasm-bindgen names them (js_name), in the glue and in the .d.ts: three, the
// `verify` of SessionTokens and SealedTokens and SessionTokens' `verifyJwt`.
const METHODS = /^( +)__(verify|verifyJwt)\(/gm;
const THROWN = "__edgeSessionThrown";
// Its wrapper, as the web glue (`export function`) and the Node glue (`exports.name = name`)
// write it.
const WRAPPER = new RegExp(`(export )?function ${THROWN}\\(\\) \\{\\n    const ret = wasm\\.${THROWN}\\(\\);\\n    return ret;\\n\\}\\n(exports\\.${THROWN} = ${THROWN};\\n)?`);

const fail = (file, message) => {
  console.error(`glue: ${file}: ${message}`);
  process.exit(1);
};

for (const file of process.argv.slice(2)) {
  let glue = readFileSync(file, "utf8");
  if (glue.includes("function _assertClass(") && !glue.includes(FROM) && !glue.includes(TO)) {
    fail(file, `_assertClass throws something other than \`${FROM}\``);
  }
  glue = glue.replaceAll(FROM, TO);
  if (WRAPPER.test(glue)) {
    glue = glue.replace(WRAPPER, "");
    for (const name of THROWING) {
      const call = new RegExp(`(\\n( +)const ret = wasm\\.${name}\\([^\\n]*\\);\\n)(\\2return ret;\\n)`);
      if (!call.test(glue)) fail(file, `no \`const ret = wasm.${name}(...); return ret;\` to rewrite`);
      glue = glue.replace(call, `$1$2if (ret < 0) throw wasm.${THROWN}();\n$2return claims_at(ret);\n`);
    }
    // `claims_at` imported with the snippet's other functions (ES module or CommonJS glue).
    const snippet = /\{ ([^}]*\bclaims_object) \}( from | = require\()/;
    if (!snippet.test(glue)) fail(file, "no import of the snippet's `claims_object` to add `claims_at` to");
    glue = glue.replace(snippet, "{ $1, claims_at }$2");
  } else if (!glue.includes(`wasm.${THROWN}()`)) {
    fail(file, `no \`export function ${THROWN}\` in wasm-bindgen's shape`);
  }
  // The methods named: in the glue once it throws (above), and in its types.
  const types = file.replace(/\.js$/, ".d.ts");
  const dts = existsSync(types) ? readFileSync(types, "utf8") : undefined;
  for (const [path, text] of [[file, glue], [types, dts]]) {
    if (text === undefined) continue;
    const found = text.match(METHODS)?.length ?? 0;
    if (found !== 0 && found !== THROWING.length) fail(path, `${found} methods \`__verify\`/\`__verifyJwt\`, not ${THROWING.length}`);
    if (found === 0 && !/^ +verify\(/m.test(text)) fail(path, "no method `__verify` to name `verify`");
  }
  writeFileSync(file, glue.replace(METHODS, "$1$2("));
  if (dts !== undefined) writeFileSync(types, dts.replace(METHODS, "$1$2("));
}
