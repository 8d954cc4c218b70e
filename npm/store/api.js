// What every entry of `edge-session/store` exports: everything of `edge-session` (from the
// store's own wasm, so one wasm serves both) plus `SessionStore`, `Session` and the Durable
// Object helpers.
export * from "./wasm-exports.js";
export { ERROR_CODES, isEdgeSessionError } from "../errors.js";
