// Browsers and bundlers (the `browser` and `default` export conditions): the wasm is fetched
// next to this module with top-level await. Vite and webpack see `new URL(..., import.meta.url)`
// and emit the .wasm file themselves; with esbuild, copy edge_session_bg.wasm next to the
// bundle. No init step.
import init from "./edge_session.js";

await init({ module_or_path: new URL("./edge_session_bg.wasm", import.meta.url) });

export * from "./api.js";
