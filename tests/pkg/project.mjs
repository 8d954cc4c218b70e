// A fresh project with the packed package installed as a user installs it: `npm pack` in pkg/,
// then `npm install --offline ./edge-session-<version>.tgz` in an empty temporary directory
// (with jose and hono, packed from this repository's node_modules: the JWT interop checks, the
// Hono middleware's types). Shared
// by tests/pkg/pkg.test.mjs and bench/pkg-cold.mjs.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = join(ROOT, "node_modules/.bin");
const HERE = fileURLToPath(new URL(".", import.meta.url));

const npm = (args, cwd) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });

/** Packs pkg/ and installs the tarball into a new temporary project; returns its directory. */
export function makeProject(prefix = "edge-session-pkg-") {
  if (!existsSync(join(ROOT, "pkg/package.json"))) throw new Error("pkg/ is not built: run `make pkg`");
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    const packs = join(dir, "packs");
    mkdirSync(packs);
    npm(["pack", "--pack-destination", packs, join(ROOT, "pkg")], dir);
    for (const dep of ["jose", "hono"]) {
      npm(["pack", "--ignore-scripts", "--pack-destination", packs, join(ROOT, "node_modules", dep)], dir);
    }
    const tarballs = readdirSync(packs).map((f) => `./packs/${f}`);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "smoke", private: true, type: "module" }, null, 2));
    npm(["install", "--offline", ...tarballs], dir);
    for (const f of readdirSync(HERE)) {
      if (f !== "pkg.test.mjs" && f !== "project.mjs") cpSync(join(HERE, f), join(dir, f), { recursive: true });
    }
  } catch (e) {
    removeProject(dir);
    throw e;
  }
  return dir;
}

export const removeProject = (dir) => dir && rmSync(dir, { recursive: true, force: true });

// What Vercel's bundler does with `import module from "./x.wasm?module"`: the module comes
// compiled, as a global the sandbox is given.
export const wasmModules = (files) => ({
  name: "wasm-module",
  setup(b) {
    b.onResolve({ filter: /\.wasm\?module$/ }, (args) => {
      const file = join(args.resolveDir, args.path.replace(/\?module$/, ""));
      files.push(file);
      return { path: file, namespace: "wasm-module" };
    });
    b.onLoad({ filter: /.*/, namespace: "wasm-module" }, (args) => ({
      contents: `export default globalThis.__wasmModules[${JSON.stringify(args.path)}];`,
    }));
  },
});
