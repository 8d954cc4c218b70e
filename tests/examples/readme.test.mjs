// README.md, the package's README (npm/README.md), docs/store.md, docs/affinity.md and docs/gateway.md against the code (`make examples-test`):
//
// - a ```js block after `<!-- example: examples/<name>/<file> -->` must be that file, as it is
//   (tests/examples/examples.test.mjs runs the examples);
// - every other ```js block runs, as a module of its own, in a fresh project with the packed
//   package installed (pkg/, `make pkg`), after readme-prelude.mjs has set what the blocks take
//   from their surroundings (env, request, keys...). A block that exports a Worker (`export
//   default { fetch }`) is also sent two requests, the second with the cookies of the first.
//
// So README's JavaScript can never drift from the API again.
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";

import { ROOT, packageProject, removeProject } from "./project.mjs";

/** The ```js blocks of a Markdown file: { line, code, example } (example: the file it must equal). */
function jsBlocks(path) {
  const lines = readFileSync(join(ROOT, path), "utf8").split("\n");
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```js") continue;
    const end = lines.indexOf("```", i + 1);
    assert.ok(end > i, `${path}:${i + 1}: an unclosed block`);
    const example = lines[i - 1]?.match(/^<!-- example: (\S+) -->$/)?.[1];
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join("\n") + "\n", example });
    i = end;
  }
  return blocks;
}

let dir;
before(() => {
  dir = packageProject("edge-session-readme-");
  copyFileSync(join(ROOT, "tests/examples/readme-prelude.mjs"), join(dir, "prelude.mjs"));
});
after(() => removeProject(dir));

for (const doc of ["README.md", "npm/README.md", "docs/store.md", "docs/affinity.md", "docs/gateway.md"]) {
  describe(doc, () => {
    const blocks = jsBlocks(doc);
    test("has JavaScript blocks", () => assert.ok(blocks.length >= 1));
    for (const block of blocks) {
      if (block.example) {
        test(`line ${block.line}: shows ${block.example} as it is`, () => {
          assert.equal(block.code, readFileSync(join(ROOT, block.example), "utf8"));
        });
        continue;
      }
      test(`line ${block.line}: runs`, async () => {
        const file = join(dir, `${doc.replace(/\W/g, "_")}-${block.line}.mjs`);
        writeFileSync(file, `import "./prelude.mjs";\n${block.code}`);
        const module = await import(pathToFileURL(file).href);
        const worker = module.default;
        if (typeof worker?.fetch === "function") {
          const first = await worker.fetch(new Request("https://example.com/"), env);
          assert.equal(first.status, 200, await first.text());
          const cookie = first.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
          assert.ok(cookie, "the worker sets a cookie");
          const second = await worker.fetch(new Request("https://example.com/", { headers: { cookie } }), env);
          assert.equal(second.status, 200, await second.text());
          // Each answer is the visitor's own (the second sets no cookie): no shared cache may keep it.
          for (const answer of [first, second]) {
            assert.match(answer.headers.get("cache-control") ?? "", /\b(private|no-store)\b/, "Cache-Control");
          }
          if (block.code.includes('"/login"')) {
            // Login CSRF: a form another site posts to the login is refused, and logs nobody in.
            const headers = { origin: "https://evil.example", "sec-fetch-site": "cross-site" };
            headers["content-type"] = "application/x-www-form-urlencoded";
            const forged = await worker.fetch(new Request("https://example.com/login", { method: "POST", headers, body: "user=mallory" }), env);
            assert.equal(forged.status, 403, "a cross-site POST /login");
            assert.deepEqual(forged.headers.getSetCookie(), []);
          }
        }
      });
    }
  });
}
