// What every entry of `edge-session/dbsc` exports: everything of `edge-session` (from the dbsc
// build's own wasm, so one wasm serves both) plus `DeviceBoundSessions`, device-bound sessions
// (DBSC, issue 14) with the browser's proofs verified through WebCrypto.
export * from "./wasm-exports.js";
export { ERROR_CODES, isEdgeSessionError } from "../errors.js";
