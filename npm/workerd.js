// Cloudflare Workers (the `workerd` export condition): wrangler bundles the
// `.wasm` import as a compiled WebAssembly.Module, which instantiates synchronously. No init step.
import module from "./edge_session_bg.wasm";
import { initSync } from "./edge_session.js";

initSync({ module });

// The objects the library returns (SessionTokens, a store's Session...) free their wasm memory
// when the garbage collector takes them, through a FinalizationRegistry, which workerd has from
// compatibility date 2025-05-05: before, only their free() does.
if (typeof FinalizationRegistry === "undefined") {
  console.warn(
    "edge-session: this runtime has no FinalizationRegistry (compatibility_date before 2025-05-05): " +
      "what the library returns is freed only by its free(), and a Session or SessionTokens made " +
      "per request stays in the wasm memory; set compatibility_date to 2025-05-05 or later",
  );
}

export * from "./api.js";
