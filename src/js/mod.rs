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
mod thrown;
mod token_class;
mod tokens;

use js_sys::{Error as JsError, JSON};
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::time::{UnixTime, MAX_TIME};

#[wasm_bindgen(inline_js = r#"
export function edge_error(message, code, setting, claims) {
  const e = new Error(message);
  // Descriptors of no prototype: one inherited `get` or `set` (Object.prototype polluted) would
  // make each an accessor's, refused with a TypeError.
  const own = (name, value, enumerable = true) =>
    Object.defineProperty(e, name, { __proto__: null, value, writable: true, enumerable, configurable: true });
  own("name", "EdgeSessionError");
  own("code", code);
  if (setting !== undefined) own("setting", setting);
  // Not enumerable: `console.log(e)` and `JSON.stringify(e)` leave the claims out (a sealed
  // token's are the contents it hides), `e.claims` reads them.
  if (claims !== undefined) own("claims", claims, false);
  return e;
}
"#)]
extern "C" {
    /// The errors this library throws.
    #[wasm_bindgen(extends = JsError)]
    type EdgeSessionError;
    /// An `Error` named `EdgeSessionError` with its `code`, the `setting` at fault and the
    /// `claims` of an expired token, in one crossing. Each property is defined, not assigned: an assignment runs a setter inherited
    /// from `Error.prototype` or `Object.prototype`, or throws (through the wasm's frames, each
    /// throw leaving its stack pointer moved) where `name` is read-only there, as
    /// `Object.freeze(Error.prototype)` makes it.
    fn edge_error(
        message: &str,
        code: &str,
        setting: Option<&str>,
        claims: &JsValue,
    ) -> EdgeSessionError;
}

/// The token or proof of a call that takes `null` and `undefined` (`headers.get` of a header not
/// sent) as none: `malformed`, a rejection as for a token's other faults.
#[cfg(any(feature = "assertion", feature = "dbsc"))]
pub(crate) fn given(token: Option<&str>) -> crate::error::Result<&str> {
    token.ok_or(Error::Malformed(
        "none given (null or undefined: a header not sent?)",
    ))
}

/// A JavaScript `Error` with `name = "EdgeSessionError"`, `.code` set to the stable code,
/// for `expired`, `.claims` set to the verified claims and, for an `invalid_config` about one
/// option, `.setting` set to its name.
pub(crate) fn js_error(error: Error) -> JsValue {
    let claims = match &error {
        Error::Expired { claims, .. } => JSON::parse(claims).unwrap_or(JsValue::UNDEFINED),
        _ => JsValue::UNDEFINED,
    };
    edge_error(&error.to_string(), error.code(), error.setting(), &claims).into()
}

/// The caller's `now` in seconds ([`checked_now`]), or the clock's.
pub(crate) fn now_or_clock(now: Option<f64>) -> Result<UnixTime, JsValue> {
    match now {
        Some(now) => checked_now(seconds("now", now)?),
        None => seconds("now", (js_sys::Date::now() / 1000.0).floor()),
    }
}

/// A caller's `now` if it is at most [`LATEST_NOW`](crate::time::LATEST_NOW): a `now` in
/// milliseconds (`Date.now()`, as jose takes it) is refused, whatever the call. The clock's is
/// not checked on every call: it is seconds, about 1.8 × 10^9.
fn checked_now(now: UnixTime) -> Result<UnixTime, JsValue> {
    crate::time::check_now(now).map_err(js_error)?;
    Ok(now)
}

/// A JavaScript number that must be a whole, non-negative count of seconds: the option
/// `setting` (its name the error's `.setting`).
pub(crate) fn seconds(setting: &'static str, n: f64) -> Result<u64, JsValue> {
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_TIME as f64 {
        Ok(n as u64)
    } else {
        Err(js_error(Error::config_of(
            setting,
            format!("{setting} must be a whole, non-negative number of seconds"),
        )))
    }
}

/// The options of a call, each kind with its names (the order of `READ` below; those of `NAMES`
/// refuse any other name).
#[derive(Clone, Copy)]
pub(crate) enum CallOptions {
    /// `verify`, `verifyDetailed`, `refresh`, `verifyJwt`: now, issuer, audience, minIssuedAt.
    Verify = 0,
    /// `sign`: now, ttlSeconds.
    Sign = 1,
    /// `signJwt`: now, ttlSeconds, issuer, audience.
    SignJwt = 2,
    /// `OriginAssertions.verify`: now, audience, leewaySeconds, data.
    #[cfg(feature = "assertion")]
    AssertionVerify = 3,
    /// `OriginAssertions.sign`'s subject: now, audience, status, claims, data.
    #[cfg(feature = "assertion")]
    AssertionSubject = 4,
    /// `SessionStore`'s calls: now.
    #[cfg(feature = "store")]
    Now = 5,
    /// `SessionStore.update`: now, retries.
    #[cfg(feature = "store")]
    Update = 6,
    /// `Affinity.route`'s request: now, cookie, url, clientIp, header, method, secFetchSite, or
    /// a Fetch Request (its Cookie header, URL, method, Sec-Fetch-Site and Headers); other names
    /// let through.
    Route = 7,
    /// Cookie attributes: maxAge, path, domain, sameSite, httpOnly, secure, partitioned.
    Cookie = 8,
}

/// An option of a call, by its index in the arrays of `READ` of the JavaScript below.
#[derive(Clone, Copy)]
pub(crate) enum CallOption {
    Now = 0,
    TtlSeconds = 1,
    Issuer = 2,
    Audience = 3,
    MinIssuedAt = 4,
    Cookie = 5,
    Url = 6,
    ClientIp = 7,
    Header = 8,
    #[cfg(feature = "assertion")]
    LeewaySeconds = 9,
    #[cfg(feature = "assertion")]
    Status = 10,
    #[cfg(feature = "assertion")]
    Claims = 11,
    #[cfg(feature = "store")]
    Retries = 12,
    MaxAge = 13,
    Path = 14,
    Domain = 15,
    SameSite = 16,
    HttpOnly = 17,
    Secure = 18,
    Partitioned = 19,
    #[cfg(feature = "assertion")]
    Data = 20,
    Headers = 21,
    Method = 22,
    SecFetchSite = 23,
}

#[wasm_bindgen(inline_js = r#"
// The names each kind of options (`CallOptions`) takes, for the kinds that refuse any other.
const NAMES = [
  ["now", "issuer", "audience", "minIssuedAt"],
  ["now", "ttlSeconds"],
  ["now", "ttlSeconds", "issuer", "audience"],
  ["now", "audience", "leewaySeconds", "data"],
  ["now", "audience", "status", "claims", "data"],
  ["now"],
  ["now", "retries"],
  undefined,
  ["maxAge", "path", "domain", "sameSite", "httpOnly", "secure", "partitioned"],
];
// The values of each kind's options, each at its index (`CallOption`). Written out: read by
// name, a property is found through its inline cache, several times faster than by a key.
const READ = [
  (o) => [o.now, , o.issuer, o.audience, o.minIssuedAt],
  (o) => [o.now, o.ttlSeconds],
  (o) => [o.now, o.ttlSeconds, o.issuer, o.audience],
  (o) => [o.now, , , o.audience, , , , , , o.leewaySeconds, , , , , , , , , , , o.data],
  (o) => [o.now, , , o.audience, , , , , , , o.status, o.claims, , , , , , , , , o.data],
  (o) => [o.now],
  (o) => [o.now, , , , , , , , , , , , o.retries],
  // A route's request. A Fetch Request (anything with `headers`) is read as one: its Cookie header,
  // its URL, its method and Sec-Fetch-Site, and its Headers (`Headers`: `route` gets the mode's
  // header from them by name).
  (o) => {
    const h = o.headers;
    if (typeof h?.get !== "function") {
      const a = [o.now, , , , , o.cookie, o.url, o.clientIp, o.header];
      // Headers that are no Fetch Headers (Node's `req.headers`, a plain object): refused by
      // `route`, never read as a request without a cookie.
      if (h !== undefined && h !== null) a[21] = false;
      a[22] = o.method;
      a[23] = o.secFetchSite;
      return a;
    }
    const a = [o.now, , , , , h.get("cookie"), o.url];
    a[21] = h;
    a[22] = o.method;
    a[23] = h.get("sec-fetch-site");
    return a;
  },
  (o) => [, , , , , , , , , , , , , o.maxAge, o.path, o.domain, o.sameSite, o.httpOnly, o.secure, o.partitioned],
];
const NONE = [];
let options = NONE;
let unknown = "";
let thrown = null;
export function read_options(o, kind) {
  if (typeof o !== "object" || o === null) {
    options = NONE;
    if (o === undefined || o === null) return true;
    // Not an object (`verifyJwt(jwt, "app")`): refused, as an unknown name is, rather than read
    // as no options, which would skip the check it was meant to ask for.
    unknown = "";
    return false;
  }
  // Under try: a getter or a Proxy that throws is thrown by `unknown_option`, never through the
  // wasm's frames (which would leave its stack pointer moved: after a few thousand, every call
  // of the instance fails).
  try {
    const names = NAMES[kind];
    if (names !== undefined) {
      // Inherited names too: the values are read through the prototype chain.
      for (const name in o) {
        if (!names.includes(name)) {
          unknown = name;
          return false;
        }
      }
    }
    options = READ[kind](o);
    return true;
  } catch (e) {
    thrown = { e };
    return false;
  }
}
// The enumerable names of a configuration object, its own and inherited, as `for...in` lists them
// (its values are read through the prototype chain: an inherited misspelt name is refused too).
export function option_names(o) {
  const names = [];
  for (const name in o) names.push(name);
  return names;
}
export function unknown_option() {
  if (thrown !== null) {
    const { e } = thrown;
    thrown = null;
    throw e;
  }
  return unknown;
}
export function option(i) {
  return options[i];
}
export function option_text(i) {
  const v = options[i];
  return typeof v === "string" ? v : undefined;
}
export function option_number(i) {
  const v = options[i];
  if (v === undefined || v === null) return NaN;
  return typeof v === "number" && v === v ? v : -1;
}
"#)]
extern "C" {
    // Checks the names of the options `o` of a call of `kind` and keeps their values, read once,
    // for `option` and `option_number`; false when a name is none of the call's options, `o` is
    // no object (nor `undefined` or `null`, no options), or reading threw: then `unknown_option`
    // is that name, empty for no object, or throws what was thrown.
    fn read_options(o: &JsValue, kind: u32) -> bool;
    #[wasm_bindgen(catch)]
    fn unknown_option() -> Result<String, JsValue>;
    // The names `for...in` lists of `o` (own and inherited, enumerable), under catch: what a
    // Proxy's trap throws comes back as an `Err`, never through the wasm's frames.
    #[wasm_bindgen(catch)]
    pub(crate) fn option_names(o: &JsValue) -> Result<js_sys::Array, JsValue>;
    fn option(i: u32) -> JsValue;
    // The option as text, `None` when not a string.
    fn option_text(i: u32) -> Option<String>;
    // The option as a number: NaN when absent, -1 when not a number (or NaN itself).
    fn option_number(i: u32) -> f64;
}

/// Reads the options of a call once, in JavaScript: a name that is none of its options, own or
/// inherited (the values are read through the prototype chain), is refused (`invalid_config`;
/// not for a route's request), as a misspelt
/// `audience`, or jose's `clockTolerance`, would otherwise be ignored without a word, and the
/// check it meant not made. What a getter of the options (or a Proxy's trap) throws is thrown,
/// never through the wasm's frames. `undefined` and `null` are no options; anything else but an
/// object is refused too (`verifyJwt(jwt, "app")` would skip the audience check). The values
/// are then [`call_option`], [`call_option_text`] and [`call_option_seconds`]'s, until the next
/// read: take them all before running code of the caller's (`JSON.stringify` of its claims).
pub(crate) fn read_call_options(o: &JsValue, kind: CallOptions) -> Result<(), JsValue> {
    if read_options(o, kind as u32) {
        return Ok(());
    }
    // No name: `o` is no object (an empty name is refused as one is).
    let message = match unknown_option()? {
        name if name.is_empty() => "options must be an object".to_owned(),
        name => unknown_option_message("options", &name),
    };
    Err(js_error(Error::config(message)))
}

/// The option `which` of the options [`read_call_options`] read last.
pub(crate) fn call_option(which: CallOption) -> JsValue {
    option(which as u32)
}

/// The option `now` of the options [`read_call_options`] read last, or the clock's.
pub(crate) fn call_now() -> Result<UnixTime, JsValue> {
    match call_option_seconds(CallOption::Now, "now")? {
        Some(now) => checked_now(now),
        None => now_or_clock(None),
    }
}

/// The option `which` as text (`None` when absent, `Err` when not a string), without the check
/// [`text`] makes for lone surrogates.
pub(crate) fn call_option_text(which: CallOption) -> Result<Option<String>, ()> {
    match option_text(which as u32) {
        Some(text) => Ok(Some(text)),
        None if option_number(which as u32).is_nan() => Ok(None),
        None => Err(()),
    }
}

/// The option `which` as a number: NaN when absent, -1 when not a number (or NaN itself).
#[cfg(feature = "store")]
pub(crate) fn call_option_number(which: CallOption) -> f64 {
    option_number(which as u32)
}

/// The option `which` as a whole number of seconds: `None` when absent.
pub(crate) fn call_option_seconds(
    which: CallOption,
    name: &'static str,
) -> Result<Option<u64>, JsValue> {
    let n = option_number(which as u32);
    if n.is_nan() {
        return Ok(None);
    }
    seconds(name, n).map(Some)
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

#[wasm_bindgen(inline_js = r#"
let why;
export function stringify_text(value, limit) {
  try {
    const text = JSON.stringify(value);
    // Set after the call: a toJSON may sign too, and fail.
    why = undefined;
    // Longer than `limit` UTF-16 units (each at least a byte of UTF-8): "", which JSON.stringify
    // never gives, with its length in `why`, and nothing copied into the wasm memory.
    if (text?.length > limit) {
      why = String(utf8_length(text));
      return "";
    }
    return text;
  } catch (e) {
    try {
      why = String(e instanceof Error ? e.message : e).slice(0, 200);
    } catch {
      why = "an exception";
    }
  }
}
// The length of `text` in UTF-8, as wasm-bindgen copies it into the wasm (a lone surrogate as
// U+FFFD, 3 bytes), in pieces of 64 Ki units encoded into one buffer (a loop over charCodeAt took
// 30 times longer). Also the glue's, for a token's `too_large` (scripts/glue.mjs, rewrite 7).
export function utf8_length(text) {
  const encoder = new TextEncoder();
  const buf = new Uint8Array(3 * 65537);
  let n = 0;
  for (let i = 0; i < text.length; ) {
    let end = i + 65536;
    // A piece does not end between the two halves of a surrogate pair.
    if ((text.charCodeAt(end - 1) & 0xfc00) === 0xd800) end++;
    n += encoder.encodeInto(text.slice(i, end), buf).written;
    i = end;
  }
  return n;
}
export function stringify_why() {
  return why;
}
"#)]
extern "C" {
    /// `JSON.stringify(value)`; `None` for values that have no JSON form (or throw), `""` for a
    /// text longer than `limit` UTF-16 units (its length in [`stringify_why`]). Its text is
    /// handed to the wasm in the same crossing (js_sys's returns a `JsString`, and reading that
    /// is a second crossing); a throw is caught in JavaScript (wasm-bindgen's `catch` wraps every
    /// call in a closure and an `apply`).
    #[wasm_bindgen(js_name = stringify_text)]
    fn stringify_within(value: &JsValue, limit: usize) -> Option<String>;
    /// What the last [`stringify_within`] threw (its message, at most 200 characters); `None` when it
    /// threw nothing.
    #[wasm_bindgen(js_name = stringify_why)]
    fn stringify_why() -> Option<String>;
}

/// `JSON.stringify(value)`, else `invalid_claims`: `none` ("claims must be a JSON object"), and
/// what `JSON.stringify` threw when it threw (a BigInt, a cycle, the caller's own `toJSON`); or
/// `too_large` when the text is longer than `limit` (a token's `maxTokenBytes`: the token of
/// such claims is longer still, unless most of their text is in members a token replaces,
/// `iat` and `exp`, or a JWT's `iss` and `aud`), before it is copied into the wasm memory,
/// which never shrinks (a 30 MB claim took it past 125 MiB).
pub(crate) fn json_or_invalid(
    value: &JsValue,
    none: &str,
    limit: usize,
) -> Result<String, JsValue> {
    match stringify_within(value, limit) {
        Some(text) if text.is_empty() => {
            let len = stringify_why().and_then(|n| n.parse().ok());
            Err(js_error(Error::TooLarge {
                len: len.unwrap_or(limit.saturating_add(1)),
                max: limit,
            }))
        }
        Some(text) => Ok(text),
        None => Err(invalid(none)),
    }
}

/// `invalid_claims`: `none`, and what the last `JSON.stringify` threw when it threw.
fn invalid(none: &str) -> JsValue {
    let why = match stringify_why() {
        Some(thrown) => format!("{none} (JSON.stringify threw: {thrown})"),
        None => none.to_owned(),
    };
    js_error(Error::InvalidClaims(why))
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

/// `JSON.parse(text)` of JSON this crate produced (verified claims: [`object::claims_to_js`]).
#[cfg(any(feature = "assertion", feature = "dbsc", feature = "store"))]
pub(crate) fn parse(text: &str) -> Result<JsValue, JsValue> {
    JSON::parse(text)
}
