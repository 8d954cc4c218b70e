//! The JavaScript face: thin wasm-bindgen wrappers over the core. No logic lives here beyond
//! converting values at the boundary.

mod affinity;
#[cfg(feature = "assertion")]
mod assertion;
mod claims;
mod config;
mod cookie;
#[cfg(feature = "dbsc")]
mod dbsc;
mod jwt;
mod object;
#[cfg(feature = "sealed")]
mod sealed;
#[cfg(feature = "store")]
mod store;
mod token_class;
mod tokens;

use js_sys::{Error as JsError, JSON};
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::time::{UnixTime, MAX_TIME};

#[wasm_bindgen]
extern "C" {
    /// The errors this library throws.
    #[wasm_bindgen(extends = JsError)]
    type EdgeSessionError;
    // Plain property stores: one crossing each, no try/catch wrapper as `Reflect.set` has.
    #[wasm_bindgen(method, setter)]
    fn set_code(this: &EdgeSessionError, code: &str);
    #[wasm_bindgen(method, setter)]
    fn set_claims(this: &EdgeSessionError, claims: &JsValue);
    #[wasm_bindgen(method, setter)]
    fn set_setting(this: &EdgeSessionError, setting: &str);
}

/// A JavaScript `Error` with `name = "EdgeSessionError"`, `.code` set to the stable code,
/// for `expired`, `.claims` set to the verified claims and, for an `invalid_config` about one
/// option, `.setting` set to its name.
pub(crate) fn js_error(error: Error) -> JsValue {
    let js: EdgeSessionError = JsError::new(&error.to_string()).unchecked_into();
    js.set_name("EdgeSessionError");
    js.set_code(error.code());
    if let Some(setting) = error.setting() {
        js.set_setting(setting);
    }
    if let Error::Expired { claims, .. } = &error {
        if let Ok(value) = JSON::parse(claims) {
            js.set_claims(&value);
        }
    }
    js.into()
}

/// The caller's `now` in seconds, or the clock's.
pub(crate) fn now_or_clock(now: Option<f64>) -> Result<UnixTime, JsValue> {
    let now = now.unwrap_or_else(|| (js_sys::Date::now() / 1000.0).floor());
    seconds("now", now)
}

/// A JavaScript number that must be a whole, non-negative count of seconds.
pub(crate) fn seconds(what: &str, n: f64) -> Result<u64, JsValue> {
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_TIME as f64 {
        Ok(n as u64)
    } else {
        Err(js_error(Error::config(format!(
            "{what} must be a whole, non-negative number of seconds"
        ))))
    }
}

/// The options of a call, each kind with its names (the order of `NAMES` below).
#[derive(Clone, Copy)]
pub(crate) enum CallOptions {
    /// `verify`, `verifyDetailed`, `refresh`, `verifyJwt`: now, issuer, audience, minIssuedAt.
    Verify = 0,
    /// `sign`: now, ttlSeconds.
    Sign = 1,
    /// `signJwt`: now, ttlSeconds, issuer, audience.
    SignJwt = 2,
}

#[wasm_bindgen(inline_js = r#"
const NAMES = [
  ["now", "issuer", "audience", "minIssuedAt"],
  ["now", "ttlSeconds"],
  ["now", "ttlSeconds", "issuer", "audience"],
];
let unknown = "";
let thrown = null;
export function has_unknown_option(options, kind) {
  if (typeof options !== "object" || options === null) return false;
  const names = NAMES[kind];
  try {
    for (const name of Object.keys(options)) {
      if (!names.includes(name)) {
        unknown = name;
        return true;
      }
    }
  } catch (e) {
    // A Proxy whose ownKeys throws: `unknown_option` throws it.
    thrown = { e };
    return true;
  }
  return false;
}
export function unknown_option() {
  if (thrown !== null) {
    const { e } = thrown;
    thrown = null;
    throw e;
  }
  return unknown;
}
"#)]
extern "C" {
    // Whether `options` has an own name that is not an option of `kind`, or its names could not
    // be listed, checked in JavaScript: a boolean back (an optional string would cost every call
    // its return through memory), and never an exception (one unwinding through the wasm's
    // frames leaves its stack pointer moved: after a few thousand, every call fails). Then
    // `unknown_option` is that name, or throws what listing the names threw.
    fn has_unknown_option(options: &JsValue, kind: u32) -> bool;
    #[wasm_bindgen(catch)]
    fn unknown_option() -> Result<String, JsValue>;
}

/// Refuses options of a call with a name that is none of its options (`invalid_config`): a
/// misspelt `audience`, or jose's `clockTolerance`, would otherwise be ignored without a word,
/// and the check it meant not made.
pub(crate) fn known_options(options: &JsValue, kind: CallOptions) -> Result<(), JsValue> {
    if !has_unknown_option(options, kind as u32) {
        return Ok(());
    }
    let message = unknown_option_message("options", &unknown_option()?);
    Err(js_error(Error::config(message)))
}

/// "`what`: unknown option ...", quoting the name only when it is short: a long one may be a
/// secret pasted in the wrong place, which no message may show.
pub(crate) fn unknown_option_message(what: &str, name: &str) -> String {
    if name.len() <= 32 {
        format!("{what}: unknown option {}", crate::error::Quoted(name))
    } else {
        format!("{what}: an unknown option (a name of {} bytes)", name.len())
    }
}

#[wasm_bindgen]
extern "C" {
    // `JSON.stringify` with its text handed to the wasm in the same crossing (js_sys's returns
    // a `JsString`, and reading that is a second crossing).
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify, catch)]
    fn stringify_text(value: &JsValue) -> Result<Option<String>, JsValue>;
}

/// The text of the JavaScript string `value`; `None` for anything else, and for a string with a
/// lone surrogate (a string, but not text): the conversion writes each as U+FFFD, so that
/// `"a\uD800"`, `"a\uDC00"` and `"a\uFFFD"` would all read as one text (one purpose, one key).
#[inline(never)]
pub(crate) fn text(value: &JsValue) -> Option<String> {
    let text = value.as_string()?;
    // 0xEF leads U+F000 to U+FFFF in UTF-8, U+FFFD among them: only then is JavaScript asked.
    let replaced = text.bytes().any(|b| b == 0xEF);
    (!replaced || value.unchecked_ref::<js_sys::JsString>().is_well_formed()).then_some(text)
}

/// `JSON.stringify(value)`; `None` for values that have no JSON form (or throw).
pub(crate) fn stringify(value: &JsValue) -> Option<String> {
    stringify_text(value).ok().flatten()
}

/// `JSON.parse(text)` of JSON this crate produced (verified claims: [`object::claims_to_js`]).
#[cfg(any(feature = "assertion", feature = "dbsc", feature = "store"))]
pub(crate) fn parse(text: &str) -> Result<JsValue, JsValue> {
    JSON::parse(text)
}
