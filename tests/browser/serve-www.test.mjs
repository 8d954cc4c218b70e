// scripts/serve-www.mjs, the playground's server (`make playground`), against requests a browser
// would not send: it serves www/ and nothing else, and a bad request never stops it.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
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
// The path as written, byte for byte (fetch would turn a backslash into a slash first).
const rawStatus = (path) =>
  new Promise((ok, fail) => {
    request({ host: "127.0.0.1", port: server.address().port, path, agent: false }, (res) => {
      res.resume();
      ok(res.statusCode);
    })
      .on("error", fail)
      .end();
  });

test("the page and its script are served", async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/html/);
  assert.equal(await status("/playground.js"), 200);
});

test("nothing outside www/: not its parent, not a directory next to it", async () => {
  assert.equal(await status("/..%2Fpackage.json"), 404);
  assert.equal(await status("/..%2Fwww-serve-test%2Fsecret.json"), 404);
  // The same, spelt every other way a path can climb.
  for (const path of ["/%2e%2e/package.json", "/%2E%2E%2Fpackage.json", "/.%2e/package.json",
    "/..%5Cpackage.json", "/..\\package.json", "/pkg/..%2F..%2Fpackage.json", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd"]) {
    assert.equal(await rawStatus(path), 404, path);
  }
});

test("no directory listings, no files of other types", async () => {
  for (const path of ["/pkg/", "/pkg", "/.", "/%2e/", "/index.html/"]) {
    const res = await fetch(`${base}${path}`);
    assert.ok(res.status === 404 || (await res.text()).includes("<h1>edge-session playground</h1>"), path);
  }
});

test("every answer has the security headers: a CSP that lets the wasm compile and nothing else", async () => {
  for (const path of ["/", "/playground.js", "/nowhere"]) {
    const res = await fetch(`${base}${path}`);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/, path);
    assert.match(csp, /default-src 'none'/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.doesNotMatch(csp, /unsafe-inline|'unsafe-eval'/, path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(res.headers.get("referrer-policy"), "no-referrer", path);
  }
});

test("the page's own CSP (its meta, for a copy of www/ on a static host) is the header's, less what a meta cannot carry", async () => {
  const html = readFileSync(join(ROOT, "www", "index.html"), "utf8");
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/i.exec(html)?.[1];
  assert.ok(meta, "no CSP meta in www/index.html");
  // The directives a meta cannot carry (CSP Level 3, the <meta> element's algorithm drops them):
  // only the header keeps them.
  const headerOnly = ["frame-ancestors", "report-uri", "sandbox"];
  const header = (await fetch(`${base}/`)).headers.get("content-security-policy");
  const directives = (policy) => policy.split(";").map((d) => d.trim()).filter(Boolean);
  assert.deepEqual(directives(meta), directives(header).filter((d) => !headerOnly.includes(d.split(" ")[0])));
  // The meta comes before anything it governs.
  assert.ok(html.indexOf(meta) < html.search(/<(link|script|style)\b/i), "the meta after a link, script or style");
});

test("wasm is served as application/wasm (streaming compilation)", async () => {
  const file = join(ROOT, "www", "serve-www-test.wasm");
  writeFileSync(file, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  try {
    const res = await fetch(`${base}/serve-www-test.wasm`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/wasm");
  } finally {
    rmSync(file, { force: true });
  }
});

test("a malformed request is refused and the server keeps serving", async () => {
  for (const path of ["/%E0%A4%A", "/%", "//"]) {
    assert.ok([400, 404].includes(await status(path)), path);
    assert.equal(await status("/"), 200, `after ${path}`);
  }
});

test("a file whose read fails ends that answer, not the server", { skip: !existsSync("/proc/self/mem") }, async () => {
  // /proc/self/mem is a regular file whose first page cannot be read (EIO): as a file of www/
  // deleted or rewritten (make pkg-www) between the server's stat and its read.
  const link = join(ROOT, "www", "serve-www-test-eio.json");
  rmSync(link, { force: true });
  symlinkSync("/proc/self/mem", link);
  try {
    const got = await fetch(`${base}/serve-www-test-eio.json`, { signal: AbortSignal.timeout(5000) }).then(
      async (res) => `${res.status} ${(await res.text()).length} bytes`,
      (e) => `refused: ${e.message}`,
    );
    assert.doesNotMatch(got, /^200 [1-9]/, "no content from it");
    assert.equal(await status("/"), 200, "the server still serves");
  } finally {
    rmSync(link, { force: true });
  }
});
