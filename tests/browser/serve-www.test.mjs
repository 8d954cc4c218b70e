// scripts/serve-www.mjs, the playground's server (`make playground`), against requests a browser
// would not send: it serves www/ and nothing else, and a bad request never stops it.
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { serve } from "../../scripts/serve-www.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// A directory next to www/ whose name starts with "www": outside www/ all the same.
const SIBLING = join(ROOT, "www-serve-test");

let server;
let base;

before(async () => {
  server = await serve(0);
  base = `http://127.0.0.1:${server.address().port}`;
  mkdirSync(SIBLING, { recursive: true });
  writeFileSync(join(SIBLING, "secret.json"), '{"secret":true}\n');
});

after(() => {
  server?.close();
  rmSync(SIBLING, { recursive: true, force: true });
});

const status = async (path) => (await fetch(`${base}${path}`)).status;

test("the page and its script are served", async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/html/);
  assert.equal(await status("/playground.js"), 200);
});

test("nothing outside www/: not its parent, not a directory next to it", async () => {
  assert.equal(await status("/..%2Fpackage.json"), 404);
  assert.equal(await status("/..%2Fwww-serve-test%2Fsecret.json"), 404);
});

test("a malformed request is refused and the server keeps serving", async () => {
  for (const path of ["/%E0%A4%A", "/%", "//"]) {
    assert.ok([400, 404].includes(await status(path)), path);
    assert.equal(await status("/"), 200, `after ${path}`);
  }
});
