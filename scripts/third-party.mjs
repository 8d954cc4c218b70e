// The licence notices of the crates compiled into the npm package's wasm, for
// THIRD-PARTY-LICENSES.md (written by scripts/build-pkg.mjs): MIT asks that its notice travel
// with copies of the code, and the wasm is such a copy.
//
//   node scripts/third-party.mjs     prints it
//
// The crates are those `cargo tree` lists for the package's builds (wasm32, features store,
// assertion and dbsc, normal dependencies without proc-macros, which run at build time only);
// each crate's MIT text is taken from its source in Cargo's registry (a crate offered under MIT
// or another licence is used under MIT), and a licence joined with AND adds its own file.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

const cargo = (args) =>
  execFileSync("cargo", args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"] });

/** Every crate compiled into the package's wasm, but this one: name, version, licence, repository. */
function crates() {
  const tree = cargo([
    "tree", "--locked", "-e", "normal,no-proc-macro", "--target", "wasm32-unknown-unknown",
    "--features", "store,assertion,dbsc", "--prefix", "none", "-f", "{p}|{l}|{r}",
  ]);
  const lines = tree.split("\n").map((l) => l.replace(/ \(\*\)$/, "").trim()).filter((l) => l && !l.includes("(/"));
  return [...new Set(lines)].map((line) => {
    const [id, licence, repository] = line.split("|");
    const [name, v] = id.split(" ");
    return { name, version: v.replace(/^v/, ""), licence, repository };
  });
}

/** Where Cargo unpacked a registry crate's source (the wasm builds before this compiled it). */
function source(name, version) {
  const src = join(process.env.CARGO_HOME ?? join(homedir(), ".cargo"), "registry", "src");
  const dirs = existsSync(src) ? readdirSync(src).map((r) => join(src, r, `${name}-${version}`)) : [];
  const dir = dirs.find((d) => existsSync(d));
  if (!dir) throw new Error(`third-party: the source of ${name} ${version} is not under ${src}`);
  return dir;
}

/** The licence files of a crate's source: its MIT text first, then those an AND adds. */
function licenceFiles(dir, licence) {
  const files = readdirSync(dir).filter((f) => /^(licen[cs]e|copying|unlicense)/i.test(f));
  const mit = /\bMIT\b/.test(licence)
    ? (files.find((f) => /^licen[cs]e-mit/i.test(f)) ?? files.find((f) => /^licen[cs]e(\.(md|txt))?$/i.test(f)))
    : undefined;
  const chosen = mit ? [mit] : [...files];
  if (/\bAND\b/.test(licence)) {
    for (const [, other] of licence.matchAll(/AND \(?([A-Za-z0-9.-]+)/g)) {
      const tag = other.split(/[-.]/)[0].toLowerCase();
      const extra = files.find((f) => f.toLowerCase().includes(tag) && !chosen.includes(f));
      if (extra) chosen.push(extra);
    }
  }
  return chosen;
}

/** The notices as Markdown. Throws when a crate's source or licence file cannot be found. */
export function thirdPartyNotices() {
  const sections = crates().sort((a, b) => a.name.localeCompare(b.name)).map(({ name, version, licence, repository }) => {
    const dir = source(name, version);
    const files = licenceFiles(dir, licence);
    if (!files.length) throw new Error(`third-party: no licence file in ${dir} (${licence})`);
    const texts = files.map((f) => `${"`"}${f}${"`"}:\n\n${"```"}text\n${readFileSync(join(dir, f), "utf8").trim()}\n${"```"}`);
    return `## ${name} ${version}\n\nLicence: ${licence}. ${repository}\n\n${texts.join("\n\n")}`;
  });
  return `# Third-party licences

The WebAssembly modules of this package contain code of the Rust crates below (each under the
licence named, MIT where it offers a choice) and of Rust's standard library (\`core\`, \`alloc\`:
MIT or Apache-2.0, Copyright (c) The Rust Project Contributors, used under the MIT text below).
Written by scripts/third-party.mjs.

${"```"}text
Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
${"```"}

${sections.join("\n\n")}
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(thirdPartyNotices());
