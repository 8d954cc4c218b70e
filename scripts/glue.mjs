#!/usr/bin/env node
// Rewrites of wasm-bindgen's glue, for each glue file named (the Makefile runs this after
// every wasm-pack build of the JS library). Each fails the build when the glue no longer has the
// shape it rewrites (a wasm-bindgen that changed it), rather than leaving it unrewritten.
//
// 1. A method given something other than an instance of the class it takes (`store.commit({})`)
//    throws a `TypeError`, as JavaScript's own APIs do for an argument of the wrong type
//    (README), not wasm-bindgen's plain `Error("expected instance of Session")`.
// 2. The hot calls `verify` and `verifyJwt` return where their claims lie in the wasm memory, or
//    -1 with their error kept in the wasm (src/js/thrown.rs): the glue reads the claims
//    (`claims_at`, from the crate's snippet src/js/object.rs, given the instance's memory) or
//    throws that error. The export that hands the error over (`__edgeSessionThrown`) is taken
//    out of the module's exports.
//    The wasm exports these methods as `__verify` and `__verifyJwt`; they become `verify` and
//    `verifyJwt` here, in the glue and in its types (the .d.ts beside it), so that a glue left as
//    wasm-bindgen wrote it (a build that skipped this script) has no `verify` at all, rather than
//    one that returns a number, -1 for a forged token, where its caller waits for an exception.
// 3. The wasm's imports from the glue (`__wbg_<name>_<16 hex digits>`, as wasm-bindgen names them)
//    get short names, `a`, `b`... `ba`, in the wasm beside the glue (`<name>_bg.wasm`) and in the
//    glue's import object together: the hex digits do not compress, about 1,000 B of the JS
//    library's gzipped wasm. The names were never anyone's to read: the glue hands the wasm its
//    import object and nothing else looks at it. Run again on its own output, it renames nothing.
//    `node scripts/glue.mjs --bundled build/index.js` does this rewrite alone for the gateway's
//    glue, which worker-build bundles and minifies (scripts/build-gateway.sh): 2,700 B of its
//    gzipped wasm.
// 4. A method of an instance freed (`free()`, `Symbol.dispose`), or of something that is no
//    instance of its class (`SealedTokens.prototype.sign.call(sessionTokens)`), throws a
//    `TypeError` before it reaches the wasm, and so does a freed instance given as an argument
//    (`store.commit(session)`); `free()` of a freed instance does nothing. wasm-bindgen's glue
//    handed the wasm the null pointer of a freed instance (or another class's, read as its own),
//    and the wasm threw its error through its own frames: each call left its stack pointer moved,
//    and some 20,000 calls later every call of the module failed, other instances' too. So did
//    `free()` during a call of the instance (a getter the call reads frees it): wasm-bindgen's
//    release threw "attempted to take ownership of Rust value while it was borrowed" through
//    that call's frames; it now lets the call end first (`_free(ptr, 1)`, as the finalizer does).
// 5. A string argument (a token, a cookie's name or value) that is not a string throws a
//    `TypeError` before anything is taken of the wasm memory for its copy (a String object is
//    read as its string): wasm-bindgen's glue took `arg.length` bytes first, never given back,
//    so `verify({ length: 2 ** 27 })` (a token from a JSON body) took 128 MiB of it each time.
//    A String object's string is its primitive value, read without running its `toString`
//    (which could free the instance between the check and the call).
// 6. The gateway's wasm without the exports of classes that nothing can hold an instance of
//    (`--unused-classes`, see `dropUnusedClasses`).
// 7. A token longer than the instance's `maxTokenBytes` (SessionTokens, SealedTokens: `verify`,
//    `verifyJwt`, `verifyDetailed`, `verifyJwtDetailed`, `refresh`) is refused before anything is
//    taken of the wasm memory for its copy: `verify("a".repeat(5e7))` threw `too_large`, but
//    only once its 50 MB were copied into the wasm memory, which never shrinks. The constructor
//    keeps `maxTokenBytes` on the instance (`__wbg_max`, from the wasm's `__maxTokenBytes`); a
//    string of more UTF-16 units than that (each is at least one byte of UTF-8) throws the
//    error the wasm makes (`__tooLarge`, given its length in UTF-8), the same as the wasm's own
//    check would have. Shorter strings are checked by the wasm as before (one of non-ASCII
//    characters can be up to 3 times `maxTokenBytes` in UTF-8). Both methods are taken off
//    the class: only the glue calls them.
// 8. A string argument longer than 140 UTF-16 units (a JWT, a long claims' JSON) is copied into
//    the wasm by one `TextEncoder.encodeInto` when it is ASCII (when it reads the whole string
//    into as many bytes), not by wasm-bindgen's loop of `charCodeAt` over it. In workerd the call
//    costs about as many instructions as that loop over 140 characters, so shorter strings (a
//    compact token, 86 characters) keep the loop. `node bench/ab-workerd.mjs --instructions`
//    at 67fd2e5: the call for every string past 32 characters cost a compact verify 5.8% more
//    and saved `verifyJwt` (173 characters) 2.0%; past 140 only, a compact verify costs the
//    same and `verifyJwt` 2.6% less (33,060 to 32,206 instructions; 15% less in a run where the
//    loop's build counted 38,425). In Node (`bench/instructions.mjs`) `verifyJwt` costs 15.8%
//    less. A string that is not ASCII is copied by the loop and wasm-bindgen's own path after
//    it, as before. `--bundled` does it in the gateway's glue too, where a request's and an
//    answer's headers go into the wasm as one text each (a browser's page request about 1,000
//    characters, its answer about 500): `node bench/string-copy.mjs` (workerd, such texts made
//    as the gateway's glue makes them) at 9cc95fb, ns per copy: 600 characters 5,384 by the
//    loop, 2,811 by `encodeInto`; 1,200 characters 9,648 and 4,413 (on a machine that timed a
//    compact verify about 3.5 times slower than README's table).
// 9. An instance holds a Rust value while it is in a module-private `WeakSet` (from its
//    constructor, or `__wrap`, to its release), not because it has a `__wbg_ptr`: a copy of an
//    instance (lodash's `cloneDeep`, `Object.create(proto, Object.getOwnPropertyDescriptors(x))`)
//    held the same pointer, and once the original was freed (`free()`, or its finalizer) and the
//    memory taken by another instance, the copy signed with that instance's key and purpose,
//    then trapped the module. A copy throws a TypeError.
// 10. wasm-bindgen's own refusals of a misuse (`recursive use of an object detected`: a method
//    called from a getter or callback of another call of the same instance) are TypeErrors, as
//    rewrite 4's are, not plain Errors without a `.code`. The crate throws nothing else this way.
// 11. `initSync` takes a compiled module of another realm as compiled: Next.js's sandbox (`next
//    dev`, `next start`, `next build`'s page-data step) compiles a `.wasm?module` import outside
//    the context its edge code runs in, where it is no `instanceof WebAssembly.Module`, and
//    wasm-bindgen's `initSync` compiled it again, as bytes, which threw (`WebAssembly.Module():
//    Argument 0 must be a buffer source`): every edge route and middleware failed. A module is
//    told by its tag, which every realm's `WebAssembly.Module` has.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const FROM = "throw new Error(`expected instance of ${klass.name}`);";
const MISUSE = "throw new Error(getStringFromWasm0(arg0, arg1));";
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

// An unsigned LEB128 number at `at` in `bytes`: its value and the offset after it.
function leb(bytes, at) {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    const b = bytes[at++];
    if (b === undefined) throw new Error("wasm cut short");
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, at];
  }
}

function lebBytes(n) {
  const out = [];
  do {
    const b = n % 128;
    n = Math.floor(n / 128);
    out.push(n > 0 ? b | 0x80 : b);
  } while (n > 0);
  return out;
}

// The short name of the import at `index`: a...z, A...Z, then two letters (`ba`...).
const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
function shortName(index) {
  let name = "";
  let n = index;
  do {
    name = LETTERS[n % LETTERS.length] + name;
    n = Math.floor(n / LETTERS.length);
  } while (n > 0);
  return name;
}

// The sections of `wasm` in order: id, and the offsets of its body and of the next section.
function* sections(wasm) {
  let at = 8;
  while (at < wasm.length) {
    const [size, body] = leb(wasm, at + 1);
    yield { id: wasm[at], at, body, next: body + size };
    at = body + size;
  }
}

const text = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextEncoder();

// A name (its length, then UTF-8) at `at`: the name and the offset after it.
function name(wasm, at) {
  const [len, p] = leb(wasm, at);
  return [text.decode(wasm.subarray(p, p + len)), p + len];
}

// The entries of the import section whose body starts at `body`: module and name, where the
// entry starts (`from`), where its name starts (`nameAt`) and its description (`descFrom`),
// and where it ends (`to`).
function imports(file, wasm, body) {
  const entries = [];
  let [count, p] = leb(wasm, body);
  for (let i = 0; i < count; i++) {
    const from = p;
    let mod, field;
    [mod, p] = name(wasm, p);
    const nameAt = p;
    [field, p] = name(wasm, p);
    const descFrom = p;
    const kind = wasm[p++];
    if (kind === 0) [, p] = leb(wasm, p); // function: its type
    else if (kind === 1 || kind === 2) {
      if (kind === 1) p++; // table: its element type
      let flags;
      [flags, p] = leb(wasm, p); // limits: minimum, maximum when flagged
      [, p] = leb(wasm, p);
      if (flags & 1) [, p] = leb(wasm, p);
    } else if (kind === 3) p += 2; // global: type, mutability
    else if (kind === 4) [, p] = leb(wasm, p + 1); // tag: attribute, type
    else fail(file, `import ${mod} ${field} of unknown kind ${kind}`);
    entries.push({ mod, name: field, from, nameAt, descFrom, to: p });
  }
  return { entries, end: p };
}

// A section of id `id` holding `count` entries, the bytes of each given.
const section = (id, count, entries) => {
  const body = Buffer.concat([Buffer.from(lebBytes(count)), ...entries.map((e) => Buffer.from(e))]);
  return Buffer.concat([Buffer.from([id, ...lebBytes(body.length)]), body]);
};

// The bytes of `wasm` with the imports of `module` named `a`, `b`... in order, and the names so
// given (a Map from the old name; `undefined` bytes when renamed already).
function renameImports(file, wasmFile, module) {
  if (!existsSync(wasmFile)) fail(file, `no ${wasmFile} beside it`);
  const wasm = readFileSync(wasmFile);
  const out = [wasm.subarray(0, 8)];
  const renamed = new Map();
  for (const { id, at, body, next } of sections(wasm)) {
    if (id !== 2) {
      out.push(wasm.subarray(at, next));
      continue;
    }
    // The import section: only the names of the glue's module change, the rest is copied.
    const { entries, end } = imports(`${file}: ${wasmFile}`, wasm, body);
    if (end !== next) fail(file, `${wasmFile}: the import section does not end where its size says`);
    const bytes = entries.map((e) => {
      if (e.mod !== module) return wasm.subarray(e.from, e.to);
      const short = shortName(renamed.size);
      renamed.set(e.name, short);
      const bytes = utf8.encode(short);
      return Buffer.concat([wasm.subarray(e.from, e.nameAt), Buffer.from(lebBytes(bytes.length)), bytes, wasm.subarray(e.descFrom, e.to)]);
    });
    out.push(section(2, entries.length, bytes));
  }
  if (renamed.size === 0) fail(file, `${wasmFile} imports nothing from ${module}`);
  const changed = [...renamed].filter(([old, short]) => old !== short);
  if (changed.length === 0) return { renamed }; // renamed already
  if (changed.length !== renamed.size) fail(file, `${wasmFile}: imports from ${module} partly renamed`);
  return { renamed, wasm: Buffer.concat(out) };
}

// Rewrite 6 (`--unused-classes <wasm> <class>...`, the gateway's wasm before wasm-opt, see
// scripts/build-gateway.sh): the exports of classes that wasm-bindgen exports from the crates
// linked in but that nothing can hold an instance of taken out of the wasm, so that wasm-opt
// drops the code only they reached. A class is unused when the wasm never hands one to
// JavaScript (no import `__wbg_<class>_new`, which its `__wrap` serves, nor `_unwrap`, which
// takes one back) and JavaScript cannot make one (no export `<class>_new`, its constructor). The build fails for a class named that is
// used, or that the wasm does not export (a list gone stale).
function dropUnusedClasses(wasmFile, classes) {
  const wasm = readFileSync(wasmFile);
  const out = [wasm.subarray(0, 8)];
  const of = (klass, field) => field.startsWith(`__wbg_${klass}_`) || field.startsWith(`__wbg_get_${klass}_`) ||
    field.startsWith(`__wbg_set_${klass}_`) || field.startsWith(`${klass}_`);
  for (const { id, at, body, next } of sections(wasm)) {
    if (id === 2) {
      for (const e of imports(wasmFile, wasm, body).entries) {
        const used = classes.find((k) => new RegExp(`^__wbg_${k}_(new|unwrap)(_[0-9a-f]{16})?$`).test(e.name));
        if (used) fail(wasmFile, `class ${used} is used: the wasm hands its instances to JavaScript (${e.name})`);
      }
    }
    if (id !== 7) {
      out.push(wasm.subarray(at, next));
      continue;
    }
    // The export section: name, kind and index of each export; those of the classes go.
    let [count, p] = leb(wasm, body);
    const kept = [];
    const dropped = new Set();
    for (let i = 0; i < count; i++) {
      const from = p;
      let field;
      [field, p] = name(wasm, p);
      [, p] = leb(wasm, p + 1); // kind, index
      const klass = classes.find((k) => of(k, field));
      if (klass === undefined) kept.push(wasm.subarray(from, p));
      else if (field === `${klass}_new`) fail(wasmFile, `class ${klass} is used: JavaScript can construct it`);
      else dropped.add(klass);
    }
    if (p !== next) fail(wasmFile, "the export section does not end where its size says");
    const missing = classes.filter((k) => !dropped.has(k));
    if (missing.length > 0) fail(wasmFile, `no export of ${missing.join(", ")}: take it off the list`);
    out.push(section(7, kept.length, kept));
  }
  writeFileSync(wasmFile, Buffer.concat(out));
}

// Rewrite 3: `glue` with the keys of its import object renamed as the imports of `wasmFile` (the
// module the object is handed to the wasm as) are, and the bytes of that file so renamed
// (`undefined` when renamed already): both written once every rewrite is done.
function shortImports(file, glue, wasmFile) {
  const start = glue.indexOf("\nfunction __wbg_get_imports() {\n");
  const end = glue.indexOf("\n}\n", start);
  if (start < 0 || end < 0) fail(file, "no `function __wbg_get_imports()` to rename the imports in");
  const module = glue.slice(start, end).match(/\n +"(\.\/[^"]+_bg\.js)": import0,\n/)?.[1];
  if (module === undefined) fail(file, 'no `"./<name>_bg.js": import0` in `__wbg_get_imports`');
  const { renamed, wasm } = renameImports(file, wasmFile, module);
  if (wasm === undefined) return { glue };
  let imports = glue.slice(start, end);
  for (const [name, short] of renamed) {
    // The key of the import object, and nowhere else in the glue.
    const key = `\n        ${name}: `;
    if (glue.split(name).length !== 2 || !imports.includes(key)) {
      fail(file, `the import ${name} is not once in the glue, as a key of \`__wbg_get_imports\`'s object`);
    }
    imports = imports.replace(key, `\n        ${short}: `);
  }
  return { glue: glue.slice(0, start) + imports + glue.slice(end), wasm };
}

// Rewrite 8 in the gateway's glue, as esbuild minified wasm-bindgen's `passStringToWasm0`:
// `let n=r.length,_=t(n,1)>>>0,i=H(),s=0;for(;s<n;s++){let u=r.charCodeAt(s);if(u>127)break;
// i[_+s]=u}if(s!==n){... q.encodeInto(r,u) ...`, the names being esbuild's. The call goes before
// the loop, with the same names.
const BUNDLED_ASCII_LOOP =
  /(let ([\w$]+)=([\w$]+)\.length,([\w$]+)=[\w$]+\(\2,1\)>>>0,([\w$]+)=[\w$]+\(\),([\w$]+)=0;)(for\(;\6<\2;\6\+\+\)\{let ([\w$]+)=\3\.charCodeAt\(\6\);if\(\8>127\)break;\5\[\4\+\6\]=\8\}if\(\6!==\2\)\{[^{}]*?([\w$]+)\.encodeInto\(\3,)/g;

// Rewrites 3 and 8 alone, for the gateway's glue as worker-build leaves it (`--bundled`: bundled
// and minified by esbuild, the import object's keys written `name:`). Rewrite 3: the same
// renaming, each name found once in the glue, as a key (`{name:` or `,name:`). Rewrite 8: a
// request's or an answer's headers (one string each, about a kilobyte for a browser's request)
// go into the wasm by one `encodeInto` when they are ASCII.
function bundledGlue(file) {
  let glue = readFileSync(file, "utf8");
  if (!glue.includes(")).read===")) {
    const loops = glue.match(BUNDLED_ASCII_LOOP)?.length ?? 0;
    if (loops !== 1) fail(file, `${loops} loops copying a string's ASCII prefix (minified \`passStringToWasm0\`), not 1`);
    glue = glue.replace(
      BUNDLED_ASCII_LOOP,
      (_, head, len, arg, ptr, mem, offset, loop, code, encoder) =>
        `${head}${len}>140&&${encoder}.encodeInto(${arg},${mem}.subarray(${ptr},${ptr}+${len})).read===${len}&&(${offset}=${len});${loop}`,
    );
  }
  shortBundledImports(file, glue);
}

// Rewrite 3 on the gateway's glue `glue` (the text of `file`), written back with its wasm.
function shortBundledImports(file, glue) {
  const wasmFile = file.replace(/\.js$/, "_bg.wasm");
  const module = glue.match(/"(\.\/[^"]+_bg\.js)":\{/)?.[1];
  if (module === undefined) fail(file, 'no `"./<name>_bg.js":{` (the import object) in the glue');
  const { renamed, wasm } = renameImports(file, wasmFile, module);
  let out = glue;
  if (wasm !== undefined) {
    for (const [name, short] of renamed) {
      const key = new RegExp(`([{,])${name}:`);
      if (glue.split(name).length !== 2 || !key.test(glue)) {
        fail(file, `the import ${name} is not once in the glue, as a key of its import object`);
      }
      out = out.replace(key, `$1${short}:`);
    }
    writeFileSync(wasmFile, wasm);
  }
  writeFileSync(file, out);
}

// Rewrite 4's check, first in every method of a class (but its constructor) and in
// `_assertClass`: true when `self`, an instance of `klass`, is not freed. Rewrite 9: the
// instances that hold a Rust value are those in `_live` (their constructor or `__wrap` put them
// there, their release takes them out), not whatever has a `__wbg_ptr`.
const LIVE = `const _live = new WeakSet();

function _assertLive(self, klass, freeing) {
    if (!(self instanceof klass)) throw new TypeError(\`expected instance of \${klass.name}\`);
    if (_live.has(self)) return true;
    if (self.__wbg_ptr !== 0) throw new TypeError(\`\${klass.name}: not an instance its constructor made (a copy holds no Rust value of its own)\`);
    if (!freeing) throw new TypeError(\`\${klass.name} used after free()\`);
    return false;
}

`;
const CLASSES = /^((?:export )?class (\w+) \{\n)([\s\S]*?)^\}\n/gm;
// A method, getter or setter (not `static`) and its body, up to its closing brace.
const METHOD = /^    ((?:get |set )?)(\w+)\([^)\n]*\) \{\n(?=([\s\S]*?)\n    \}\n)/gm;
const ASSERT_CLASS = "function _assertClass(instance, klass) {\n";
// The release of an instance's Rust value in `free()`, as wasm-bindgen writes it.
const FREE = /^( {8}wasm\.__wbg_\w+_free\(ptr), 0\);$/gm;
// Rewrite 5: the head of wasm-bindgen's copy of a string into the wasm, and its check.
const PASS_STRING = "function passStringToWasm0(arg, malloc, realloc) {\n";
const STRING_CHECK = `    if (typeof arg !== "string") {
        if (!(arg instanceof String)) throw new TypeError(\`expected a string, not \${arg === null ? "null" : typeof arg}\`);
        arg = String.prototype.valueOf.call(arg);
    }
`;

// Rewrite 8: the start of wasm-bindgen's loop copying a string's ASCII prefix, and the call put
// before it.
const ASCII_LOOP = "    let offset = 0;\n\n    for (; offset < len; offset++) {\n";
const ENCODE_INTO =
  "    let offset = 0;\n    if (len > 140 && cachedTextEncoder.encodeInto(arg, mem.subarray(ptr, ptr + len)).read === len) offset = len;\n\n    for (; offset < len; offset++) {\n";

// Rewrite 11: `initSync`'s test of a compiled module, and one that holds in every realm.
const INSTANCEOF_MODULE = "if (!(module instanceof WebAssembly.Module)) {";
const IS_MODULE = 'if (Object.prototype.toString.call(module) !== "[object WebAssembly.Module]") {';
// Rewrite 7: its helpers, beside `_assertLive`. `_tooLong` is on the path of every verify: a
// type check and a comparison (a non-string is passStringToWasm0's TypeError, as before). The
// string's length in UTF-8 is counted only for the error.
const TOO_LONG = `function _tooLong(arg, max) {
    return (typeof arg === "string" || arg instanceof String) && arg.length > max;
}

// Its length in UTF-8: the crate's snippet's utf8_length (src/js/mod.rs), which the claims'
// too_large counts with too.
function _utf8Length(arg) {
    return utf8_length(typeof arg === "string" ? arg : String.prototype.valueOf.call(arg));
}

`;
// The two methods wasm-bindgen writes for `__maxTokenBytes` and `__tooLarge` (with their JSDoc).
const LIMIT_METHOD = /^    \/\*\*\n(?:     \*[^\n]*\n)*     \*\/\n    __(maxTokenBytes|tooLarge)\([^)]*\) \{\n[\s\S]*?\n    \}\n/gm;
// The methods that take a token: their copy of it.
const TOKEN_METHOD = /^    (__verify|__verifyJwt|verifyDetailed|verifyJwtDetailed|refresh)\(token, options\) \{\n(?:        _assertLive\(this, \w+\);\n)/gm;

// Rewrite 7: `glue` with each token class's methods that take a token checking its length first
// (unchanged when done already, or for a glue without such classes).
function checkTokenLength(file, glue) {
  if (glue.includes("function _tooLong(")) return glue;
  let classes = 0;
  glue = glue.replace(CLASSES, (whole, head, klass, body) => {
    const exports = {};
    for (const [, name] of body.matchAll(/wasm\.(\w+___(?:maxTokenBytes|tooLarge))\(/g)) exports[name.split("___")[1]] = name;
    if (!exports.maxTokenBytes && !exports.tooLarge) return whole;
    if (!exports.maxTokenBytes || !exports.tooLarge) fail(file, `class ${klass}: __maxTokenBytes without __tooLarge, or the other way`);
    classes++;
    const removed = body.match(LIMIT_METHOD)?.length ?? 0;
    if (removed !== 2) fail(file, `class ${klass}: ${removed} of __maxTokenBytes and __tooLarge in wasm-bindgen's shape, not 2`);
    body = body.replace(LIMIT_METHOD, "");
    const ptr = "        this.__wbg_ptr = ret[0];\n";
    if (body.split(ptr).length !== 2) fail(file, `class ${klass}: no constructor setting \`this.__wbg_ptr = ret[0]\``);
    body = body.replace(ptr, `${ptr}        this.__wbg_max = wasm.${exports.maxTokenBytes}(ret[0]) >>> 0;\n`);
    const methods = [];
    body = body.replace(TOKEN_METHOD, (head, name) => {
      methods.push(name);
      return `${head}        if (_tooLong(token, this.__wbg_max)) throw wasm.${exports.tooLarge}(this.__wbg_ptr, _utf8Length(token));\n`;
    });
    for (const name of ["__verify", "verifyDetailed", "refresh"]) {
      if (!methods.includes(name)) fail(file, `class ${klass}: no method ${name}(token, options) to check the length in`);
    }
    return `${head}${body}}\n`;
  });
  if (classes === 0) return glue;
  // `utf8_length` imported with the snippet's `stringify_text` (ES module or CommonJS glue).
  const snippet = /\{ ([^}]*\bstringify_text\b[^}]*) \}( from | = require\()/;
  if (!snippet.test(glue)) fail(file, "no import of the snippet's `stringify_text` to add `utf8_length` to");
  glue = glue.replace(snippet, "{ $1, utf8_length }$2");
  const at = glue.indexOf("\nfunction __wbg_get_imports() {\n");
  return glue.slice(0, at + 1) + TOO_LONG + glue.slice(at + 1);
}

// Rewrite 4: `glue` with its classes' methods checked (unchanged when checked already).
function checkLive(file, glue) {
  if (glue.includes("function _assertLive(")) return glue;
  let classes = 0;
  glue = glue.replace(CLASSES, (_, head, klass, body) => {
    classes++;
    const checked = body.replace(METHOD, (method, kind, name, inner) => {
      const free = name === "free" && kind === "";
      if (name === "constructor" || name === "__destroy_into_raw" || (!free && !inner.includes("this.__wbg_ptr"))) return method;
      const check = free
        ? `        if (!_assertLive(this, ${klass}, true)) return;\n`
        : `        _assertLive(this, ${klass});\n`;
      return method + check;
    });
    if (!checked.includes("_assertLive(this")) fail(file, `class ${klass}: no method to check`);
    return `${head}${checked}}\n`;
  });
  if (classes === 0) fail(file, "no class to check the methods of");
  // `free()` during a call of the instance (from a getter or callback the call runs) lets the
  // call end before the Rust value is dropped, as the finalizer does, rather than throwing
  // through the frames of that call.
  const frees = glue.match(FREE)?.length ?? 0;
  if (frees !== classes) fail(file, `${frees} \`free()\` bodies for ${classes} classes`);
  glue = glue.replace(FREE, "$1, 1);");
  if (glue.includes(ASSERT_CLASS)) glue = glue.replace(ASSERT_CLASS, `${ASSERT_CLASS}    _assertLive(instance, klass);\n`);
  const at = glue.indexOf("\nfunction __wbg_get_imports() {\n");
  return glue.slice(0, at + 1) + LIVE + glue.slice(at + 1);
}

// Rewrite 9: each instance in `_live` from the setting of its pointer (in its constructor or
// `__wrap`) until its release (`__destroy_into_raw`, which sets it to 0).
const PTR_SET = /^( +)(this|obj)\.__wbg_ptr = (?!0;)[^;\n]+;$/gm;
const PTR_RELEASED = /^( +)this\.__wbg_ptr = 0;$/gm;
function trackLive(file, glue) {
  if (glue.includes("_live.add(")) return glue;
  const set = glue.match(PTR_SET)?.length ?? 0;
  const released = glue.match(PTR_RELEASED)?.length ?? 0;
  if (set === 0 || released === 0) fail(file, `${set} settings of \`__wbg_ptr\` and ${released} releases: none of either to track`);
  glue = glue.replace(PTR_SET, "$&\n$1_live.add($2);");
  return glue.replace(PTR_RELEASED, "$&\n$1_live.delete(this);");
}

if (process.argv[2] === "--unused-classes") {
  dropUnusedClasses(process.argv[3], process.argv.slice(4));
  process.exit(0);
}
if (process.argv[2] === "--bundled") {
  for (const file of process.argv.slice(3)) bundledGlue(file);
  process.exit(0);
}

for (const file of process.argv.slice(2)) {
  const wasmFile = file.replace(/\.js$/, "_bg.wasm");
  const short = shortImports(file, readFileSync(file, "utf8"), wasmFile);
  let glue = short.glue;
  if (glue.includes("function _assertClass(") && !glue.includes(FROM) && !glue.includes(TO)) {
    fail(file, `_assertClass throws something other than \`${FROM}\``);
  }
  glue = glue.replaceAll(FROM, TO);
  glue = glue.replaceAll(MISUSE, MISUSE.replace("new Error", "new TypeError"));
  glue = checkLive(file, glue);
  glue = checkTokenLength(file, glue);
  glue = trackLive(file, glue);
  if (!glue.includes(PASS_STRING + STRING_CHECK)) {
    if (glue.split(PASS_STRING).length !== 2) fail(file, `no \`${PASS_STRING.trim()}\` to check the string in`);
    glue = glue.replace(PASS_STRING, PASS_STRING + STRING_CHECK);
  }
  if (!glue.includes(ENCODE_INTO)) {
    if (glue.split(ASCII_LOOP).length !== 2) fail(file, "no loop copying a string's ASCII prefix in `passStringToWasm0`");
    glue = glue.replace(ASCII_LOOP, ENCODE_INTO);
  }
  if (glue.includes("function initSync(") && !glue.includes(IS_MODULE)) {
    if (glue.split(INSTANCEOF_MODULE).length !== 2) fail(file, `no \`${INSTANCEOF_MODULE}\` in \`initSync\``);
    glue = glue.replace(INSTANCEOF_MODULE, IS_MODULE);
  }
  // Whatever shape wasm-bindgen gives it next: no test of a module by `instanceof` is left.
  if (glue.includes("instanceof WebAssembly.Module")) fail(file, "a module told by `instanceof WebAssembly.Module` (rewrite 11)");
  if (WRAPPER.test(glue)) {
    glue = glue.replace(WRAPPER, "");
    for (const name of THROWING) {
      const call = new RegExp(`(\\n( +)const ret = wasm\\.${name}\\([^\\n]*\\);\\n)(\\2return ret;\\n)`);
      if (!call.test(glue)) fail(file, `no \`const ret = wasm.${name}(...); return ret;\` to rewrite`);
      glue = glue.replace(call, `$1$2if (ret < 0) throw wasm.${THROWN}();\n$2return claims_at(ret, wasm.memory);\n`);
    }
    // `claims_at` imported with the snippet's other functions (ES module or CommonJS glue).
    const snippet = /\{ ([^}]*\bclaims_object\b[^}]*) \}( from | = require\()/;
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
  if (short.wasm !== undefined) writeFileSync(wasmFile, short.wasm);
  writeFileSync(file, glue.replace(METHODS, "$1$2("));
  if (dts !== undefined) writeFileSync(types, dts.replace(METHODS, "$1$2("));
}
