//! Verify options from JavaScript: `now`, `issuer`, `audience` and `minIssuedAt` (a number or a
//! synchronous lookup from the verified claims), turned into the core's
//! [`VerifyOptions`].

use std::cell::RefCell;

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::object::{call, claims_to_js};
use super::{
    call_now, call_option, js_error, now_or_clock, read_call_options, seconds, text, CallOption,
    CallOptions,
};
use crate::error::{Error, Result as CoreResult};
use crate::time::UnixTime;
use crate::token::claims::{MinIssuedAt, VerifyOptions};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/**
 * Revocation: tokens issued before the subject's `minIssuedAt` (seconds) are refused with
 * `revoked` (a refreshed token by the login it descends from, `auth_time`, when earlier). Either the time itself, or a synchronous lookup from the verified claims
 * (typically by `sub`) returning the time or `undefined`; fetch it from KV before verifying.
 * A time past 10^11 (milliseconds, as `Date.now()` gives) is refused with `invalid_config`.
 * Workers KV may take about 60 s to show a write in other locations.
 */
export type MinIssuedAt =
  | number
  | ((claims: VerifiedClaims | VerifiedJwtClaims) => number | undefined | null);
"#;

/// Runs `verify` with the options read from the JavaScript `options` object (see
/// [`Options::run`]).
pub(crate) fn with_verify_options<R>(
    options: Option<&JsValue>,
    verify: impl FnOnce(&VerifyOptions<'_>) -> CoreResult<R>,
) -> Result<R, JsValue> {
    Options::read(options)?.run(verify)
}

/// Verify options read from JavaScript.
struct Options {
    now: UnixTime,
    issuer: Option<String>,
    audience: Option<String>,
    min_issued_at: Revocation,
}

/// Where `minIssuedAt` comes from.
enum Revocation {
    None,
    At(UnixTime),
    Lookup(Function),
}

impl Options {
    /// Reads an options object ([`read_call_options`]); absent (wasm-bindgen's glue makes
    /// `undefined` and `null` absent) is no options.
    fn read(options: Option<&JsValue>) -> Result<Self, JsValue> {
        let Some(options) = options else {
            return Ok(Options {
                now: now_or_clock(None)?,
                issuer: None,
                audience: None,
                min_issued_at: Revocation::None,
            });
        };
        read_call_options(options, CallOptions::Verify)?;
        let min_issued_at = call_option(CallOption::MinIssuedAt);
        Ok(Options {
            now: call_now()?,
            issuer: optional_string("issuer", call_option(CallOption::Issuer))?,
            audience: optional_string("audience", call_option(CallOption::Audience))?,
            min_issued_at: if min_issued_at.is_undefined() || min_issued_at.is_null() {
                Revocation::None
            } else if let Some(n) = min_issued_at.as_f64() {
                Revocation::At(seconds("minIssuedAt", n)?)
            } else {
                Revocation::Lookup(min_issued_at.dyn_into().map_err(|_| {
                    invalid(
                        "minIssuedAt",
                        "minIssuedAt must be a number of seconds or a function",
                    )
                })?)
            },
        })
    }

    /// Runs `verify` with these options. An exception thrown by a `minIssuedAt` lookup, or a
    /// lookup returning something other than a number of seconds or `undefined`, is thrown
    /// instead of any result.
    fn run<R>(
        &self,
        verify: impl FnOnce(&VerifyOptions<'_>) -> CoreResult<R>,
    ) -> Result<R, JsValue> {
        let thrown: RefCell<Option<JsValue>> = RefCell::new(None);
        let lookup = |claims: &str| match &self.min_issued_at {
            Revocation::Lookup(function) => {
                call_lookup(function, claims).unwrap_or_else(|error| {
                    *thrown.borrow_mut() = Some(error);
                    // Refuse the token; the caller sees the lookup's error instead.
                    Some(UnixTime::MAX)
                })
            }
            _ => None,
        };
        let options = VerifyOptions {
            now: self.now,
            issuer: self.issuer.as_deref(),
            audience: self.audience.as_deref(),
            min_issued_at: match self.min_issued_at {
                Revocation::None => MinIssuedAt::None,
                Revocation::At(t) => MinIssuedAt::At(t),
                Revocation::Lookup(_) => MinIssuedAt::Lookup(&lookup),
            },
        };
        let result = verify(&options);
        match thrown.take() {
            Some(error) => Err(error),
            None => result.map_err(js_error),
        }
    }
}

/// Calls a `minIssuedAt` lookup with the verified claims.
fn call_lookup(function: &Function, claims: &str) -> Result<Option<UnixTime>, JsValue> {
    let min = call(function, &claims_to_js(claims)?)?;
    if min.is_undefined() || min.is_null() {
        return Ok(None);
    }
    match min.as_f64().map(|n| seconds("minIssuedAt", n)) {
        Some(Ok(n)) => Ok(Some(n)),
        _ => Err(invalid(
            "minIssuedAt",
            "the minIssuedAt lookup must return a whole number of seconds or undefined, \
             synchronously (not a Promise: fetch the value before verifying)",
        )),
    }
}

/// The option `name` (its name the error's `.setting`): a string, or absent.
pub(super) fn optional_string(
    name: &'static str,
    value: JsValue,
) -> Result<Option<String>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    text(&value)
        .map(Some)
        .ok_or_else(|| invalid(name, &format!("{name} must be a string")))
}

/// An `invalid_config` error about the option `setting`.
fn invalid(setting: &'static str, message: &str) -> JsValue {
    js_error(Error::config_of(setting, message))
}
