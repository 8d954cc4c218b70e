//! The answer of the hot calls (`verify`, `verifyJwt`), without wasm-bindgen's `Result` and
//! without a call back into JavaScript for the claims.
//!
//! A method returning `Result<JsValue, JsValue>` hands both through wasm-bindgen's table of
//! JavaScript values and returns them as a multi-value array (about 8% of a compact `verify` in
//! workerd), and the claims object made by a call from the wasm into JavaScript costs a crossing
//! more (about 6%). These methods return a number instead ([`claims_or_thrown`]): where the
//! verified claims lie in the wasm memory, which the glue reads once the call has returned
//! (`claims_at`, src/js/object.rs), or -1 when the call failed, its error kept here for the glue
//! to throw (`__edgeSessionThrown()`). The claims are kept by the module until its next such
//! call, not by the instance: a `minIssuedAt` lookup may have freed the instance during the
//! call, and then it goes once the call ends, before the glue reads. `scripts/glue.mjs`
//! rewrites the glue so after each wasm-pack build. The wasm exports them as `__verify` and
//! `__verifyJwt`, which only that rewrite names `verify` and `verifyJwt` (glue and types): a glue
//! it did not rewrite has neither, and a caller's `verify` throws a `TypeError` rather than
//! answering a number (-1 for a forged token) where the caller waits for an exception.

use std::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;

use super::object::keep_claims;

thread_local! {
    /// The error of the last failed call, until the glue takes it.
    static THROWN: RefCell<Option<JsValue>> = const { RefCell::new(None) };
    /// The claims of the last call that succeeded, until the next.
    static KEPT: Cell<String> = const { Cell::new(String::new()) };
}

/// Where the glue finds the claims of `result` ([`keep_claims`]), or -1 with its error kept for
/// [`thrown`].
pub(crate) fn claims_or_thrown(result: Result<String, JsValue>) -> f64 {
    match result.and_then(|claims| KEPT.with(|kept| keep_claims(claims, kept))) {
        Ok(at) => at,
        Err(error) => {
            THROWN.with(|thrown| thrown.replace(Some(error)));
            -1.0
        }
    }
}

/// The error of the call that just returned -1 (for the glue only).
#[wasm_bindgen(js_name = __edgeSessionThrown, skip_typescript)]
pub fn thrown() -> JsValue {
    THROWN
        .with(|thrown| thrown.take())
        .unwrap_or(JsValue::UNDEFINED)
}
