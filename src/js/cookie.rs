//! Cookie helpers for JavaScript: read a cookie from a `Request`, `Headers` or Cookie header,
//! and write `Set-Cookie` values with safe defaults. The parsing and the rules are
//! [`crate::cookie`]'s; this only finds the header and converts the options.

use wasm_bindgen::prelude::*;

use super::{js_error, seconds};
use crate::cookie::{self, SameSite, SetCookie};
use crate::error::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Where a cookie is read from: a `Request` (or anything with `headers`), a `Headers`, the Cookie header's value, or nothing. */
export type CookieSource = { headers: { get(name: string): string | null } } | { get(name: string): string | null } | string | null | undefined;

/** Attributes of a `Set-Cookie`; the defaults are the safe ones. */
export interface CookieOptions {
  /** Seconds the cookie lives (`Max-Age`); without it, until the browser closes. */
  maxAge?: number;
  /** Default "/" (required by a `__Host-` name). */
  path?: string;
  /** Shares the cookie with subdomains; not allowed with a `__Host-` name. */
  domain?: string;
  /** Default "Lax"; "None" needs `secure`. */
  sameSite?: "Lax" | "Strict" | "None";
  /** Default true: page scripts cannot read the cookie. */
  httpOnly?: boolean;
  /** Default true: HTTPS only (browsers treat http://localhost as secure). */
  secure?: boolean;
  /** Default false: CHIPS, a jar per top-level site. */
  partitioned?: boolean;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "CookieSource")]
    pub type CookieSource;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &CookieSource) -> JsValue;
    #[wasm_bindgen(method, catch, js_name = get)]
    fn header(this: &CookieSource, name: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(typescript_type = "CookieOptions")]
    pub type CookieOptions;
    #[wasm_bindgen(method, getter, js_name = maxAge)]
    fn max_age(this: &CookieOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    fn path(this: &CookieOptions) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn domain(this: &CookieOptions) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = sameSite)]
    fn same_site(this: &CookieOptions) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = httpOnly)]
    fn http_only(this: &CookieOptions) -> Option<bool>;
    #[wasm_bindgen(method, getter)]
    fn secure(this: &CookieOptions) -> Option<bool>;
    #[wasm_bindgen(method, getter)]
    fn partitioned(this: &CookieOptions) -> Option<bool>;
}

/// The cookie's attributes from `options` (the safe defaults of [`SetCookie::new`] for those
/// left out) and its `Max-Age`.
pub(crate) fn cookie_spec(
    name: &str,
    options: JsValue,
) -> Result<(SetCookie, Option<u64>), JsValue> {
    let mut spec = SetCookie::new(name);
    if options.is_undefined() || options.is_null() {
        return Ok((spec, None));
    }
    if !options.is_object() {
        return Err(js_error(Error::config("cookie options must be an object")));
    }
    let o: CookieOptions = options.unchecked_into();
    if let Some(path) = o.path() {
        spec = spec.path(Some(&path));
    }
    if let Some(domain) = o.domain() {
        spec = spec.domain(domain);
    }
    let same_site = match o.same_site().as_deref() {
        None | Some("Lax" | "lax") => SameSite::Lax,
        Some("Strict" | "strict") => SameSite::Strict,
        Some("None" | "none") => SameSite::None,
        Some(_) => {
            return Err(js_error(Error::config_of(
                "sameSite",
                "sameSite must be \"Lax\", \"Strict\" or \"None\"",
            )))
        }
    };
    let max_age = o.max_age().map(|s| seconds("maxAge", s)).transpose()?;
    let spec = spec
        .same_site(Some(same_site))
        .http_only(o.http_only().unwrap_or(true))
        .secure(o.secure().unwrap_or(true))
        .partitioned(o.partitioned().unwrap_or(false));
    Ok((spec, max_age))
}

/// The Cookie header of a request, headers object or header string (`None` when absent).
pub(crate) fn cookie_header(source: &JsValue) -> Result<Option<String>, JsValue> {
    if source.is_undefined() || source.is_null() {
        return Ok(None);
    }
    if let Some(header) = source.as_string() {
        return Ok(Some(header));
    }
    let source: &CookieSource = source.unchecked_ref();
    let headers = source.headers();
    let headers: &CookieSource = if headers.is_object() {
        headers.unchecked_ref()
    } else {
        source
    };
    match headers.header("cookie") {
        Ok(value) if value.is_null() => Ok(None),
        Ok(value) => Ok(value.as_string()),
        Err(_) => Err(js_error(Error::config(
            "expected a Request, Headers or Cookie header string",
        ))),
    }
}

/// The value of the first cookie called `name` sent with `source` (a `Request`, `Headers` or
/// the Cookie header's value), or `undefined`. Malformed pieces of the header are skipped.
#[wasm_bindgen(js_name = getCookie)]
pub fn get_cookie(source: CookieSource, name: &str) -> Result<Option<String>, JsValue> {
    Ok(cookie_header(&source)?.and_then(|h| cookie::get_all(&h, name).next().map(str::to_owned)))
}

/// A `Set-Cookie` value giving the cookie `name` the `value`, with `Path=/`, `Secure`,
/// `HttpOnly` and `SameSite=Lax` unless `options` say otherwise. Throws `invalid_config` when
/// the name, value or attributes break a rule (a `__Host-` name needs `Secure`, `Path=/` and no
/// `Domain`).
#[wasm_bindgen(js_name = setCookie)]
pub fn set_cookie(
    name: &str,
    value: &str,
    options: Option<CookieOptions>,
) -> Result<String, JsValue> {
    let (spec, max_age) = cookie_spec(name, options.map_or(JsValue::UNDEFINED, Into::into))?;
    spec.header(value, max_age).map_err(js_error)
}

/// The `Set-Cookie` value that deletes the cookie `name` (give the `path` and `domain` it was
/// set with).
#[wasm_bindgen(js_name = clearCookie)]
pub fn clear_cookie(name: &str, options: Option<CookieOptions>) -> Result<String, JsValue> {
    let (spec, _) = cookie_spec(name, options.map_or(JsValue::UNDEFINED, Into::into))?;
    spec.removal().map_err(js_error)
}
