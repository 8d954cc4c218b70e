// Node 20+ (ES modules) and Bun: the wasm is read next to this file and instantiated
// synchronously. No init step. A server bundle (esbuild, bun build, Vite SSR with the package
// not external) reads it next to the bundle: the error says which file to copy there. One whose
// bundler put a URL of its own in place of the wasm's (Next.js, webpack) cannot read it: the
// error says to leave the package out of the bundle.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { initSync } from "./edge_session.js";

const wasm = typeof import.meta.url === "string" ? new URL("./edge_session_bg.wasm", import.meta.url) : undefined;
// A bundler that put a URL of its own in place of the wasm's (webpack's and Next.js's: an object
// of their own class, or a URL it serves), or bundled this module into CommonJS (no
// import.meta.url), cannot be read from the disk.
if (wasm === undefined) {
  throw new Error(
    "edge-session: bundled into CommonJS (no import.meta.url): bundle with format esm, or leave edge-session out of the bundle",
  );
}
if (!(wasm instanceof URL) || wasm.protocol !== "file:") {
  throw new Error(
    `edge-session: a bundler replaced the URL of its wasm (${String(wasm)}), which Node cannot read: leave edge-session out of the server bundle (Next.js: serverExternalPackages: ["edge-session"] in next.config; webpack: externals)`,
  );
}
let bytes;
try {
  bytes = readFileSync(wasm);
} catch (e) {
  if (e?.code !== "ENOENT") throw e;
  throw new Error(
    `edge-session: ${fileURLToPath(wasm)} not found. A bundle of this package must have its wasm next to it: copy node_modules/edge-session/edge_session_bg.wasm next to the bundle (README.md, "On each runtime"), or leave edge-session out of the bundle (Next.js: serverExternalPackages: ["edge-session"])`,
    { cause: e },
  );
}
initSync({ module: bytes });

export * from "./api.js";
