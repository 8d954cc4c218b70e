//! The hot calls' errors (`verify`, `verifyJwt`), thrown without wasm-bindgen's `Result`.
//!
//! A method returning `Result<JsValue, JsValue>` hands both through wasm-bindgen's table of
//! JavaScript values and returns them as a multi-value array: about 8% of a compact `verify` in
//! workerd (`node bench/wasm-profile.mjs "compact verify" --workerd`). These methods return the
//! value itself ([`or_thrown`]), `undefined` when the call failed, its error kept here; the glue
//! (rewritten by `scripts/glue.mjs` after each wasm-pack build) then throws
//! `__edgeSessionThrown()`. Claims are never `undefined`, so `undefined` means failure.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

thread_local! {
    /// The error of the last failed call, until the glue takes it.
    static THROWN: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

/// The value of `result`, or `undefined` with its error kept for [`thrown`].
pub(crate) fn or_thrown(result: Result<JsValue, JsValue>) -> JsValue {
    result.unwrap_or_else(|error| {
        THROWN.with(|thrown| thrown.replace(Some(error)));
        JsValue::UNDEFINED
    })
}

/// The error of the call that just returned `undefined` (for the glue only).
#[wasm_bindgen(js_name = __edgeSessionThrown, skip_typescript)]
pub fn thrown() -> JsValue {
    THROWN
        .with(|thrown| thrown.take())
        .unwrap_or(JsValue::UNDEFINED)
}
