// A fresh project for one example, as a user would set it up: examples/<name> copied into a
// temporary directory, pkg/ packed (`npm pack`, once per run) and installed there from its
// tarball with `npm install --offline`, hono packed from this repository's node_modules when the
// example uses it. The example's own devDependencies (wrangler) are not installed: the tests run
// this repository's.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = join(ROOT, "node_modules/.bin");

const npm = (args, cwd) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });

let packs;
/** The tarballs of pkg/, hono and jose, packed once: { "edge-session": path, hono: path, jose: path }. */
function tarballs() {
  if (packs) return packs;
  if (!existsSync(join(ROOT, "pkg/package.json"))) throw new Error("pkg/ is not built: run `make pkg`");
  const dir = mkdtempSync(join(tmpdir(), "edge-session-packs-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  npm(["pack", "--pack-destination", dir, join(ROOT, "pkg")], dir);
  npm(["pack", "--ignore-scripts", "--pack-destination", dir, join(ROOT, "node_modules/hono")], dir);
  npm(["pack", "--ignore-scripts", "--pack-destination", dir, join(ROOT, "node_modules/jose")], dir);
  const find = (prefix) => join(dir, readdirSync(dir).find((f) => f.startsWith(prefix)));
  packs = { "edge-session": find("edge-session-"), hono: find("hono-"), jose: find("jose-") };
  return packs;
}

/** examples/<name> in a new temporary directory with its dependencies installed; its path. */
export function exampleProject(name) {
  const dir = mkdtempSync(join(tmpdir(), `edge-session-example-${name}-`));
  const source = join(ROOT, "examples", name);
  for (const f of readdirSync(source)) {
    if (f !== "node_modules" && f !== "package-lock.json" && f !== ".wrangler" && f !== ".dev.vars") {
      cpSync(join(source, f), join(dir, f), { recursive: true });
    }
  }
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const local = tarballs();
  const deps = Object.keys(manifest.dependencies ?? {});
  for (const dep of deps) {
    if (!local[dep]) throw new Error(`examples/${name}: no local tarball for the dependency ${dep}`);
  }
  delete manifest.dependencies;
  delete manifest.devDependencies;
  writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  if (deps.length) npm(["install", "--offline", ...deps.map((d) => local[d])], dir);
  return dir;
}

export const removeProject = (dir) => dir && rmSync(dir, { recursive: true, force: true });

/** A new temporary project with the packed package (and hono, and jose for an origin's side) installed; its path. */
export function packageProject(prefix = "edge-session-project-") {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "readme", private: true, type: "module" }, null, 2));
  npm(["install", "--offline", tarballs()["edge-session"], tarballs().hono, tarballs().jose], dir);
  return dir;
}
