// What every entry of `edge-session/assertion` exports: everything of `edge-session` (from the
// assertion build's own wasm, so one wasm serves both) plus `OriginAssertions`, the gateway's
// signed assertions for origins (issue 15), made and verified through WebCrypto.
export * from "./wasm-exports.js";
export { ERROR_CODES, isEdgeSessionError } from "../errors.js";
