//! Cookie helpers for JavaScript: read a cookie from a `Request`, `Headers` or Cookie header,
//! and write `Set-Cookie` values with safe defaults. The parsing and the rules are
//! [`crate::cookie`]'s; this only finds the header and converts the options.

use wasm_bindgen::prelude::*;

use super::claims::optional_string;
use super::object;
use super::{
    call_option, call_option_seconds, js_error, read_call_options, CallOption, CallOptions,
};
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
  /** Default "/" (required by a `__Host-` name); no `;`, comma or control character. */
  path?: string;
  /** Shares the cookie with subdomains; not allowed with a `__Host-` name. */
  domain?: string;
  /** Default "Lax"; "None" needs `secure`. */
  sameSite?: "Lax" | "Strict" | "None";
  /** Default true: page scripts cannot read the cookie (required by `__Http-` and `__Host-Http-` names). */
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

    #[wasm_bindgen(typescript_type = "CookieOptions")]
    pub type CookieOptions;
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
    // Read once, in JavaScript: a getter that throws is thrown, not through the wasm's frames.
    read_call_options(&options, CallOptions::Cookie)?;
    if let Some(path) = optional_string("path", call_option(CallOption::Path))? {
        spec = spec.path(Some(&path));
    }
    if let Some(domain) = optional_string("domain", call_option(CallOption::Domain))? {
        spec = spec.domain(domain);
    }
    // A string not of the names, or no string: refused, naming the option.
    let same_site = optional_string("sameSite", call_option(CallOption::SameSite))
        .ok()
        .and_then(|name| name.map_or(Some(SameSite::Lax), |n| SameSite::from_name(&n)))
        .ok_or_else(|| {
            js_error(Error::config_of(
                "sameSite",
                "sameSite must be \"Lax\", \"Strict\" or \"None\"",
            ))
        })?;
    let max_age = call_option_seconds(CallOption::MaxAge, "maxAge")?;
    let flag = |which, name: &'static str, default| {
        let value = call_option(which);
        match value.as_bool() {
            Some(flag) => Ok(flag),
            None if value.is_undefined() || value.is_null() => Ok(default),
            None => Err(js_error(Error::config_of(
                name,
                format!("{name} must be true or false"),
            ))),
        }
    };
    let spec = spec
        .same_site(Some(same_site))
        .http_only(flag(CallOption::HttpOnly, "httpOnly", true)?)
        .secure(flag(CallOption::Secure, "secure", true)?)
        .partitioned(flag(CallOption::Partitioned, "partitioned", false)?);
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
    // Read through src/js/object.rs's helpers, not wasm-bindgen's `catch` imports, which keep
    // a slot of the wasm's table of JavaScript values for each exception, never given back (a
    // source that throws on every request would grow it, and the isolate's memory).
    let headers = object::get(source, "headers")?;
    let headers = if headers.is_object() {
        &headers
    } else {
        source
    };
    match object::header(headers, "cookie") {
        Ok(value) if value.is_null() => Ok(None),
        Ok(value) => Ok(value.as_string()),
        Err(_) => Err(js_error(Error::config(
            "expected a Request, Headers or Cookie header string",
        ))),
    }
}

/// The value of the first cookie called `name` sent with `source` (a `Request`, `Headers` or
/// the Cookie header's value), or `undefined`. Malformed pieces of the header are skipped. The
/// value ends at its first `,`: a runtime joins two Cookie header fields with `, ` (workerd
/// does), and the last cookie of the first is then read as its own value, not `value, lang=en`
/// (the same reading as the session store's, the gateway's and affinity's).
#[wasm_bindgen(js_name = getCookie)]
pub fn get_cookie(source: CookieSource, name: &str) -> Result<Option<String>, JsValue> {
    Ok(cookie_header(&source)?
        .and_then(|h| cookie::get_all_tokens(&h, name).next().map(str::to_owned)))
}

/// A `Set-Cookie` value giving the cookie `name` the `value`, with `Path=/`, `Secure`,
/// `HttpOnly` and `SameSite=Lax` unless `options` say otherwise. Throws `invalid_config` when
/// the name, value or attributes break a rule (a `__Host-` name needs `Secure`, `Path=/` and no
/// `Domain`; an `__Http-` or `__Host-Http-` name needs `Secure` and `HttpOnly`; name and value
/// may make at most 4096 bytes, a `path` 1024, with no `;`, comma or control character).
#[wasm_bindgen(js_name = setCookie)]
pub fn set_cookie(
    name: &str,
    value: &str,
    options: Option<CookieOptions>,
) -> Result<String, JsValue> {
    let (spec, max_age) = cookie_spec(name, options.map_or(JsValue::UNDEFINED, Into::into))?;
    spec.header(value, max_age).map_err(js_error)
}

/// The `Set-Cookie` value that deletes the cookie `name`: give the `path`, `domain` and
/// `partitioned` it was set with (a browser finds the cookie by name, domain and path, and a
/// partitioned one only with `Partitioned`); another cookie of the name stays.
#[wasm_bindgen(js_name = clearCookie)]
pub fn clear_cookie(name: &str, options: Option<CookieOptions>) -> Result<String, JsValue> {
    let (spec, _) = cookie_spec(name, options.map_or(JsValue::UNDEFINED, Into::into))?;
    spec.removal().map_err(js_error)
}
