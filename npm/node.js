// Node 20+ (ES modules) and Bun: the wasm is read next to this file and instantiated
// synchronously. No init step.
import { readFileSync } from "node:fs";
import { initSync } from "./edge_session.js";

initSync({ module: readFileSync(new URL("./edge_session_bg.wasm", import.meta.url)) });

export * from "./api.js";
