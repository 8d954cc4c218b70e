// What every entry of `edge-session` exports once its wasm is instantiated: the wasm classes
// (wasm-exports.js, written by scripts/build-pkg.mjs from the wasm-bindgen output) and the
// JavaScript helpers.
export * from "./wasm-exports.js";
export { ERROR_CODES, isEdgeSessionError } from "./errors.js";
