#!/usr/bin/env node
// Assembles the npm package `edge-session` in pkg/ (what `make pkg` runs after the two wasm-pack
// builds): one package that imports with no init step on every runtime.
//
//   target/npm/base/   wasm-pack --target web, default features       -> `edge-session`
//   target/npm/store/  wasm-pack --target web, --features store       -> `edge-session/store`
//   target/npm/assertion/  wasm-pack --target web, --features assertion -> `edge-session/assertion`
//   target/npm/dbsc/   wasm-pack --target web, --features dbsc        -> `edge-session/dbsc`
//   (each build's snippets/: the JavaScript of the crate's `inline_js`, which its glue imports)
//   npm/               what is written by hand: package.json (its version comes from
//                      Cargo.toml), README.md, the per-runtime entries, api.js and api.d.ts,
//                      errors.js; any other npm/*.js, npm/*.d.ts (for example hono.js) is copied
//                      as is. Modules other than the entries import the library by the
//                      package's own name (`edge-session`, `edge-session/store`), so that each
//                      runtime's export condition picks the entry that instantiates the wasm.
//
// The entries (npm/{workerd,edge-light,deno,node,browser}.js) are written for the base; each
// subpath's (pkg/store/, pkg/assertion/, pkg/dbsc/) are the same files with the subpath's own wasm. node.cjs (CommonJS, Node's `require`)
// is node.js bundled by esbuild, hono.cjs hono.js in CommonJS. The types (index.d.ts, and index.d.cts for `require`) are
// wasm-bindgen's declarations without its init functions (no init step to call) plus api.d.ts.
//
// ERROR_CODES (error-codes.js) is generated from `Error::code` in src/error.rs, and the build
// fails when the TypeScript `ErrorCode` union (src/js/tokens.rs) is not exactly that set.

import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { thirdPartyNotices } from "./third-party.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SRC = join(ROOT, "npm");
const OUT = join(ROOT, "pkg");
const ENTRIES = ["workerd.js", "edge-light.js", "deno.js", "node.js", "browser.js"];
// npm/ files this script handles itself rather than copying.
const SPECIAL = new Set([...ENTRIES, "package.json", "README.md", "api.d.ts"]);
// The subpaths with their own wasm (a cargo feature each), so that `edge-session` stays small:
// pkg/<dir>/ from target/npm/<dir>/<name>_bg.wasm and npm/<dir>/ (api.js, api.d.ts).
const SUBPATHS = [
  { dir: "store", name: "edge_session_store" },
  { dir: "assertion", name: "edge_session_assertion" },
  { dir: "dbsc", name: "edge_session_dbsc" },
];

const fail = (message) => {
  console.error(`build-pkg: ${message}`);
  process.exit(1);
};
const read = (path) => readFileSync(path, "utf8");

/** The error codes of src/error.rs, in order: the string each arm of `Error::code` returns. */
export function errorCodes(root = ROOT) {
  const text = read(join(root, "src/error.rs"));
  const body = text.match(/pub fn code\(&self\) -> &'static str \{([\s\S]*?)\n {4}\}/);
  if (!body) fail("src/error.rs: no `pub fn code(&self) -> &'static str` found");
  const codes = [...body[1].matchAll(/=> "([a-z_]+)"/g)].map((m) => m[1]);
  if (codes.length === 0) fail("src/error.rs: no codes found in `Error::code`");
  return codes;
}

/** The members of `export type ErrorCode = ...;` in a .d.ts text. */
export function errorCodeUnion(dts) {
  const m = dts.match(/export type ErrorCode =([^;]*);/);
  if (!m) return undefined;
  return [...m[1].matchAll(/"([a-z_]+)"/g)].map((x) => x[1]);
}

// wasm-bindgen's types without the init functions (`InitInput` to the end of the file) and
// without `[Symbol.dispose]()`, which needs TypeScript's esnext lib (a project on es2022 would
// get errors in our .d.ts); `free()` is declared, and the method is there at run time.
function publicTypes(dts, name) {
  const cut = dts.indexOf("export type InitInput");
  if (cut < 0) fail(`${name}: no InitInput section in the wasm-bindgen types`);
  return dts.slice(0, cut).replace(/^ *\[Symbol\.dispose\]\(\): void;\n/gm, "").trimEnd() + "\n";
}

// `export { A, B } from "./glue.js"`: the glue's exports but its init functions.
function wasmExports(glue, file) {
  const names = [...glue.matchAll(/^export (?:class|function|const|let) (\w+)/gm)].map((m) => m[1]);
  if (names.length === 0) fail(`${file}: no exports found`);
  return `// Written by scripts/build-pkg.mjs: the wasm-bindgen exports, without the init functions.\nexport { ${names.join(", ")} } from "./${file}";\n`;
}

function assemble({ from, name, dir, api }) {
  const out = join(OUT, dir);
  mkdirSync(out, { recursive: true });
  for (const f of [`${name}.js`, `${name}_bg.wasm`]) {
    if (!existsSync(join(from, f))) fail(`${join(from, f)} missing: run \`make pkg\``);
    copyFileSync(join(from, f), join(out, f));
  }
  // The glue imports the crate's JavaScript snippets (`inline_js`: src/js/object.rs) from here.
  if (existsSync(join(from, "snippets"))) cpSync(join(from, "snippets"), join(out, "snippets"), { recursive: true });
  const glue = read(join(from, `${name}.js`));
  writeFileSync(join(out, "wasm-exports.js"), wasmExports(glue, `${name}.js`));
  const dts = read(join(from, `${name}.d.ts`));
  const union = errorCodeUnion(dts);
  const codes = errorCodes();
  if (!union) fail(`${name}.d.ts: no ErrorCode union`);
  const missing = codes.filter((c) => !union.includes(c));
  const extra = union.filter((c) => !codes.includes(c));
  if (missing.length || extra.length) {
    fail(`ErrorCode (src/js/tokens.rs) differs from src/error.rs: missing ${missing.join(", ") || "none"}; unknown ${extra.join(", ") || "none"}`);
  }
  const types = `${publicTypes(dts, name)}\n${read(join(SRC, api))}`;
  writeFileSync(join(out, "index.d.ts"), types);
  writeFileSync(join(out, "index.d.cts"), types);
  for (const entry of ENTRIES) {
    const text = read(join(SRC, entry))
      .replaceAll("node_modules/edge-session/edge_session", `node_modules/edge-session/${dir === "." ? "" : `${dir}/`}${name}`)
      .replaceAll("./edge_session", `./${name}`);
    writeFileSync(join(out, entry), text);
  }
  return out;
}

// CommonJS for Node's `require`: node.js with the wasm read through __dirname.
// A bundle of it (esbuild for a server) reads the wasm next to the bundle: the error says which
// file to copy there, as node.js's does.
async function commonjs(out, name, dir) {
  const packaged = `node_modules/edge-session/${dir === "." ? "" : `${dir}/`}${name}_bg.wasm`;
  const result = await build({
    stdin: {
      contents: [
        `import { readFileSync } from "node:fs";`,
        `import { join } from "node:path";`,
        `import { initSync } from "./${name}.js";`,
        `const wasm = join(__dirname, "${name}_bg.wasm");`,
        `let bytes;`,
        `try {`,
        `  bytes = readFileSync(wasm);`,
        `} catch (e) {`,
        `  if (e?.code !== "ENOENT") throw e;`,
        `  throw new Error(\`edge-session: \${wasm} not found. A bundle of this package must have its wasm next to it: copy ${packaged} next to the bundle (README.md, "On each runtime"), or leave edge-session out of the bundle (Next.js: serverExternalPackages: [\"edge-session\"])\`, { cause: e });`,
        `}`,
        `initSync({ module: bytes });`,
        `export * from "./api.js";`,
      ].join("\n"),
      resolveDir: out,
      sourcefile: "require-entry.js",
    },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: join(out, "node.cjs"),
    // The classes and functions keep their names: esbuild writes a class of the bundle as
    // `var SessionTokens = class _SessionTokens`, so `require`'s `SessionTokens.name` and the
    // glue's TypeErrors ("expected instance of _SessionTokens") differed from the ES module's.
    keepNames: true,
    // The glue's async init (`new URL(..., import.meta.url)`) is unused here.
    logOverride: { "empty-import-meta": "silent" },
    banner: { js: "// Written by scripts/build-pkg.mjs: node.js for require(), bundled by esbuild." },
    logLevel: "warning",
  });
  if (result.errors.length) fail("esbuild failed");
}

/**
 * hono.cjs and hono.d.cts: edge-session/hono for `require` (Node before 20.19 cannot require an
 * ES module). hono.js imports the library only with `import()`, which CommonJS has too: the
 * same module in the other format, not a bundle.
 */
async function honoCommonjs(out) {
  const result = await build({
    entryPoints: [join(SRC, "hono.js")],
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: join(out, "hono.cjs"),
    banner: { js: "// Written by scripts/build-pkg.mjs: hono.js for require(), by esbuild." },
    logLevel: "warning",
  });
  if (result.errors.length) fail("esbuild failed (hono.cjs)");
  copyFileSync(join(SRC, "hono.d.ts"), join(out, "hono.d.cts"));
}

function copyRest(from, to) {
  for (const f of readdirSync(from, { withFileTypes: true })) {
    if (!f.isFile() || SPECIAL.has(f.name) || !/\.(js|d\.ts)$/.test(f.name)) continue;
    copyFileSync(join(from, f.name), join(to, f.name));
  }
}

async function main() {
  const cargo = read(join(ROOT, "Cargo.toml"));
  const version = cargo.match(/^version = "([^"]+)"/m)?.[1];
  if (!version) fail("Cargo.toml: no version");

  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT);
  const base = assemble({ from: join(ROOT, "target/npm/base"), name: "edge_session", dir: ".", api: "api.d.ts" });
  copyRest(SRC, base);
  const subpaths = SUBPATHS.map((sub) => {
    const out = assemble({ from: join(ROOT, `target/npm/${sub.dir}`), name: sub.name, dir: sub.dir, api: `${sub.dir}/api.d.ts` });
    copyRest(join(SRC, sub.dir), out);
    return { out, name: sub.name, dir: sub.dir };
  });
  const codes = errorCodes();
  writeFileSync(
    join(OUT, "error-codes.js"),
    `// Written by scripts/build-pkg.mjs from \`Error::code\` in src/error.rs.\nexport const ERROR_CODES = Object.freeze(${JSON.stringify(codes)});\n`,
  );
  await commonjs(base, "edge_session", ".");
  for (const { out, name, dir } of subpaths) await commonjs(out, name, dir);
  await honoCommonjs(base);

  const pkg = JSON.parse(read(join(SRC, "package.json")));
  pkg.version = version;
  writeFileSync(join(OUT, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  copyFileSync(join(SRC, "README.md"), join(OUT, "README.md"));
  for (const license of ["LICENSE-MIT", "LICENSE-APACHE", "LICENSE"]) {
    if (existsSync(join(ROOT, license))) copyFileSync(join(ROOT, license), join(OUT, license));
  }
  writeFileSync(join(OUT, "THIRD-PARTY-LICENSES.md"), thirdPartyNotices());
  console.log(`build-pkg: pkg/ is edge-session ${version} ("npm pack --pack-destination .." there makes the tarball)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
