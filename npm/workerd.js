// Cloudflare Workers (the `workerd` export condition): wrangler bundles the
// `.wasm` import as a compiled WebAssembly.Module, which instantiates synchronously. No init step.
import module from "./edge_session_bg.wasm";
import { initSync } from "./edge_session.js";

initSync({ module });

export * from "./api.js";
