// Deno 2 (the `deno` export condition): a source-phase import of the wasm gives a compiled
// WebAssembly.Module, which instantiates synchronously and needs no --allow-read. No init step.
import source module from "./edge_session_bg.wasm";
import { initSync } from "./edge_session.js";

initSync({ module });

export * from "./api.js";
