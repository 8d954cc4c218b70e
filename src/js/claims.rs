//! Verify options from JavaScript: `now`, `issuer`, `audience` and `minIssuedAt` (a number or a
//! synchronous lookup from the verified claims), turned into the core's
//! [`VerifyOptions`](crate::claims::VerifyOptions).

use std::cell::RefCell;

use js_sys::Function;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{js_error, now_or_clock, parse, seconds};
use crate::claims::{MinIssuedAt, VerifyOptions};
use crate::error::{Error, Result as CoreResult};
use crate::time::UnixTime;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/**
 * Revocation: tokens issued before the subject's `minIssuedAt` (seconds) are refused with
 * `revoked`. Either the time itself, or a synchronous lookup from the verified claims
 * (typically by `sub`) returning the time or `undefined`; fetch it from KV before verifying.
 * Workers KV may take about 60 s to show a write in other locations.
 */
export type MinIssuedAt =
  | number
  | ((claims: VerifiedClaims | VerifiedJwtClaims) => number | undefined | null);
"#;

#[wasm_bindgen]
extern "C" {
    /// The fields every verify options object may carry.
    type Fields;
    #[wasm_bindgen(method, getter)]
    fn now(this: &Fields) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    fn issuer(this: &Fields) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn audience(this: &Fields) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = minIssuedAt)]
    fn min_issued_at(this: &Fields) -> JsValue;
}

/// Runs `verify` with the options read from the JavaScript `options` object. An exception
/// thrown by a `minIssuedAt` lookup, or a lookup returning something other than a number of
/// seconds or `undefined`, is thrown instead of any result.
pub(crate) fn with_verify_options<R>(
    options: Option<&JsValue>,
    verify: impl FnOnce(&VerifyOptions<'_>) -> CoreResult<R>,
) -> Result<R, JsValue> {
    let Some(options) = options.filter(|o| !o.is_undefined() && !o.is_null()) else {
        return verify(&VerifyOptions::at(now_or_clock(None)?)).map_err(js_error);
    };
    let fields: &Fields = options.unchecked_ref();
    let now = now_or_clock(fields.now())?;
    let issuer = optional_string("issuer", fields.issuer())?;
    let audience = optional_string("audience", fields.audience())?;
    let min_issued_at = fields.min_issued_at();

    let thrown: RefCell<Option<JsValue>> = RefCell::new(None);
    let function = min_issued_at.dyn_ref::<Function>();
    let lookup = |claims: &Map<String, Value>| -> Option<UnixTime> {
        let function = function?;
        let result = serde_json::to_string(claims)
            .map_err(|e| js_error(Error::InvalidClaims(e.to_string())))
            .and_then(|json| parse(&json))
            .and_then(|claims| function.call1(&JsValue::UNDEFINED, &claims))
            .and_then(|min| lookup_result(&min));
        result.unwrap_or_else(|error| {
            *thrown.borrow_mut() = Some(error);
            // Refuse the token; the caller sees the lookup's error instead.
            Some(UnixTime::MAX)
        })
    };
    let min_issued_at = if function.is_some() {
        MinIssuedAt::Lookup(&lookup)
    } else if min_issued_at.is_undefined() || min_issued_at.is_null() {
        MinIssuedAt::None
    } else {
        match min_issued_at.as_f64() {
            Some(n) => MinIssuedAt::At(seconds("minIssuedAt", n)?),
            None => {
                return Err(invalid(
                    "minIssuedAt must be a number of seconds or a function",
                ))
            }
        }
    };
    let core = VerifyOptions {
        now,
        issuer: issuer.as_deref(),
        audience: audience.as_deref(),
        min_issued_at,
    };
    let result = verify(&core);
    match thrown.take() {
        Some(error) => Err(error),
        None => result.map_err(js_error),
    }
}

fn lookup_result(min: &JsValue) -> Result<Option<UnixTime>, JsValue> {
    if min.is_undefined() || min.is_null() {
        return Ok(None);
    }
    match min.as_f64() {
        Some(n) => seconds("the minIssuedAt lookup's result", n).map(Some),
        None => Err(invalid(
            "the minIssuedAt lookup must return a number of seconds or undefined, synchronously \
             (not a Promise: fetch the value before verifying)",
        )),
    }
}

pub(super) fn optional_string(name: &str, value: JsValue) -> Result<Option<String>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| invalid(&format!("{name} must be a string")))
}

fn invalid(message: &str) -> JsValue {
    js_error(Error::config(message))
}
