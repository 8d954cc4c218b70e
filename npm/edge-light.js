// Vercel's edge runtime (the `edge-light` export condition): Vercel's bundler turns a
// `.wasm?module` import into a compiled WebAssembly.Module (compiling bytes at run time is not
// allowed there). No init step.
import module from "./edge_session_bg.wasm?module";
import { initSync } from "./edge_session.js";

initSync({ module });

export * from "./api.js";
