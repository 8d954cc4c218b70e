// Appended by scripts/build-pkg.mjs to the wasm-bindgen types of `edge-session/dbsc`.

/** Every error code, in the order of src/error.rs (the same set as `ErrorCode`). */
export declare const ERROR_CODES: readonly ErrorCode[];

/**
 * True when `error` is an error this library threw: an `Error` named "EdgeSessionError" whose
 * `code` is one of `ERROR_CODES`. Narrows `catch (e)` to read `e.code`, `e.setting`, `e.claims`.
 */
export declare function isEdgeSessionError(error: unknown): error is EdgeSessionError;
