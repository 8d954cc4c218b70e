#!/usr/bin/env node
// Serves www/ (the playground) on 127.0.0.1 only, with the wasm MIME type browsers need for
// streaming compilation and a Content-Security-Policy the page keeps to. `make playground` builds
// www/pkg first.
//
//   node scripts/serve-www.mjs [port]      (default 8080)
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(import.meta.url), "../../www");
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};
// On every answer. The page runs its own script and the library's wasm ('wasm-unsafe-eval' lets
// WebAssembly compile, and nothing else run from strings), fetches only its own files, styles
// only from playground.css (no inline style), and is framed by nobody. www/index.html carries the
// same policy in a meta, but for frame-ancestors (a header's alone), so that a copy of www/ on
// another host keeps it: change both (tests/browser/serve-www.test.mjs holds them equal).
const HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; style-src 'self'; " +
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** Starts the server on `port` (0: any free port); resolves to it once listening. */
export function serve(port = 8080) {
  const server = createServer((req, res) => {
    let file;
    let type;
    let found = false;
    try {
      // Both throw on some requests (`//`, `/%E0%A4%A`): a 404, not the end of the server.
      const path = decodeURIComponent(new URL(req.url, "http://www").pathname);
      file = normalize(join(ROOT, path.endsWith("/") ? `${path}index.html` : path));
      type = TYPES[extname(file)];
      // ROOT + sep: www-other/ is not inside www/.
      found = file.startsWith(ROOT + sep) && type !== undefined && statSync(file).isFile();
    } catch {}
    if (!found) {
      res.writeHead(404, { ...HEADERS, "content-type": "text/plain; charset=utf-8" });
      return res.end("not found\n");
    }
    res.writeHead(200, { ...HEADERS, "content-type": type });
    // A read that fails after the stat (a file deleted or rewritten meanwhile, as make pkg-www
    // does) cuts this answer short; unhandled, the stream's error stopped the server.
    createReadStream(file)
      .on("error", () => res.destroy())
      .pipe(res);
  });
  return new Promise((ok) => server.listen(port, "127.0.0.1", () => ok(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await serve(Number(process.argv[2] || 8080));
  console.log(`playground: http://127.0.0.1:${server.address().port}/`);
}
