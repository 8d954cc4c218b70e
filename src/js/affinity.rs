//! `Affinity` for JavaScript.

use js_sys::{Math, Object};
use wasm_bindgen::prelude::*;

use super::config::affinity_config;
use super::object;
use super::{
    call_now, call_option, call_option_text, js_error, read_call_options, CallOption, CallOptions,
};
use crate::affinity::{Affinity as Core, Mode, RouteRequest};
use crate::error::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A backend of an `Affinity` router. */
export interface AffinityBackend {
  /** The id `route` returns: 1 to 256 bytes without control characters. Never shown to clients. */
  id: string;
  /** Share of new visitors relative to the other backends, 1 to 1000000 (default 1). */
  weight?: number;
}

/** Where the routing key comes from. */
export type AffinityMode = "cookie" | "url" | "ip" | "header";

/** Options of `new Affinity(...)`. */
export interface AffinityConfig {
  /** base64url secret, at least 32 bytes once decoded; the same at every edge location. */
  secret: string;
  /**
   * Secrets used before `secret`, newest first (at most 8, each once, not `secret`): their
   * affinity values are still honoured and signed again with `secret`, so rotating the secret
   * moves nobody (cookie and url modes) once every instance has the new secret: deploy it here
   * first, then as `secret`.
   * Drop one once `ttlSeconds` have passed.
   */
  previousSecrets?: string[];
  /** Default "cookie". */
  mode?: AffinityMode;
  /** 1 to 1024 backends with unique ids. */
  backends: AffinityBackend[];
  /** Longest life of an affinity value, enforced by the server, in seconds (default 86400): honoured up to `ttlSeconds` after it was issued, not after. */
  ttlSeconds?: number;
  /** A value unused for longer than this is not honoured (it still is at exactly this age), in seconds, at most ttlSeconds (default 1800, or ttlSeconds when that is shorter). It runs from the value's last re-issue (a `setCookie` or `url`), which comes only once past half of it: a visitor idle for just over half of it may already be moved, so set it to twice the inactivity to allow. */
  idleSeconds?: number;
  /** Cookie mode: the cookie name (default "__Host-affinity"). */
  cookieName?: string;
  /** Cookie mode (default "Lax"). "None" sends the cookie on cross-site requests. */
  sameSite?: "Lax" | "Strict" | "None";
  /** Cookie mode: share the cookie with subdomains; needs a cookie name without `__Host-`. */
  domain?: string;
  /** Cookie mode: the `Partitioned` attribute (default false). */
  partitioned?: boolean;
  /** A visitor whose backend is down moves ("sticky", default) or gets `backend_unavailable` ("strict"; `no_backend` when none is up). */
  failover?: "sticky" | "strict";
  /** URL mode: the query parameter (default "_aff"). */
  param?: string;
  /** Header mode: the header whose value is the key, e.g. "x-tenant". */
  header?: string;
}

/** What `route` reads from a request; which fields matter depends on the mode. A Fetch `Request` (anything with `headers`) is read as one: its Cookie header, its URL and, in header mode, the header; in ip mode give `{ clientIp }` instead, as a request's headers are the client's to write. Headers without `get` (Node's `req.headers`) are refused (`invalid_config`, setting "headers"), not read as a request without a cookie. */
export interface RouteRequest {
  /** The Cookie header (cookie mode). */
  cookie?: string | null;
  /** The request URL (URL mode, required there). */
  url?: string | null;
  /** The client address, e.g. the CF-Connecting-IP header (IP mode). */
  clientIp?: string | null;
  /** The configured header's value (header mode). */
  header?: string | null;
  /** Cookie mode: the request's method and its Sec-Fetch-Site header. A cross-site request that `sameSite` keeps the cookie from (a form another site posts; with "Strict", any) and that came without one gets no `setCookie`: the browser would keep it in place of the visitor's own. A Fetch `Request` gives both. */
  method?: string | null;
  secFetchSite?: string | null;
  /** The current time in seconds since the epoch (default: the clock); at most 10^11 (a time in milliseconds is refused). */
  now?: number;
}

/** Where a request goes. */
export interface RouteResult {
  /** The chosen backend's id. */
  backend: string;
  /** True when the visitor was moved (its state in a backend's memory is not there): its affinity value was not honoured (invalid, expired, or its backend down); in the ip and header modes, its key's first backend is down or draining. */
  reassigned: boolean;
  /** Cookie mode: a Set-Cookie header value, when a value was issued or refreshed (none for a cross-site request the cookie was withheld from: see `RouteRequest.method`). */
  setCookie?: string;
  /** URL mode: the request URL with the affinity parameter set, when a value was issued or refreshed. */
  url?: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "AffinityConfig")]
    pub type AffinityOptions;

    #[wasm_bindgen(
        typescript_type = "RouteRequest | { headers: { get(name: string): string | null }; url?: string }"
    )]
    pub type RouteInput;

    #[wasm_bindgen(typescript_type = "RouteResult")]
    pub type RouteResult;
    // Plain property stores: one crossing each, no try/catch wrapper as `Reflect.set` has.
    #[wasm_bindgen(method, setter = backend)]
    fn set_backend(this: &RouteResult, id: &JsValue);
    #[wasm_bindgen(method, setter = reassigned)]
    fn set_reassigned(this: &RouteResult, reassigned: bool);
    #[wasm_bindgen(method, setter = setCookie)]
    fn set_set_cookie(this: &RouteResult, header: &str);
    #[wasm_bindgen(method, setter = url)]
    fn set_url(this: &RouteResult, url: &str);
}

/// Sticky-session routing: the same visitor to the same backend at every edge location.
#[wasm_bindgen]
pub struct Affinity {
    core: Core,
    /// The backend ids as JavaScript strings, made once rather than on every route.
    ids: Vec<JsValue>,
}

#[wasm_bindgen]
impl Affinity {
    /// Checks the configuration; throws `invalid_config` naming the setting that is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(config: AffinityOptions) -> Result<Affinity, JsValue> {
        let config = affinity_config(&config)?;
        let core = Core::new(config).map_err(js_error)?;
        Ok(Affinity {
            ids: core.backend_ids().map(JsValue::from_str).collect(),
            core,
        })
    }

    /// Picks the backend for a request (a `RouteRequest` or a Fetch `Request`); throws
    /// `no_backend` or `backend_unavailable`.
    pub fn route(&self, request: Option<RouteInput>) -> Result<RouteResult, JsValue> {
        // Read once, in JavaScript: a getter that throws is thrown, not through the wasm's frames.
        // Only the field the mode uses is handed over: each crossing costs.
        read_call_options(
            &request.map_or(JsValue::UNDEFINED, Into::into),
            CallOptions::Route,
        )?;
        // Taken first: reading a Request's header below runs its Headers' code, which may call
        // the library with options of its own, read in place of these.
        let now = call_now()?;
        let (mut cookie, mut url, mut client_ip, mut header) = (None, None, None, None);
        // A Fetch Request's headers, when `request` is one; `false` for headers of another kind.
        let headers = call_option(CallOption::Headers);
        let fetch = !headers.is_undefined();
        if fetch && headers.as_bool() == Some(false) {
            return Err(js_error(Error::config_of(
                "headers",
                "route: headers must be a Fetch Headers (a Request's); of another request, give { cookie, url, method, secFetchSite }",
            )));
        }
        // What says whether the browser withheld the cookie (`RouteRequest::method`).
        let method = text("method", CallOption::Method)?;
        let fetch_site = text("secFetchSite", CallOption::SecFetchSite)?;
        match self.core.mode() {
            Mode::Cookie => cookie = text("cookie", CallOption::Cookie)?,
            Mode::Url => url = text("url", CallOption::Url)?,
            Mode::Ip if fetch => return Err(js_error(Error::config(
                "route: ip mode needs { clientIp }, the address the platform vouches for (on Workers, the CF-Connecting-IP header): a Request's headers are the client's to write",
            ))),
            Mode::Ip => client_ip = text("clientIp", CallOption::ClientIp)?,
            Mode::Header if fetch => {
                let name = self.core.header_name().ok_or_else(|| {
                    js_error(Error::config_of(
                        "header",
                        "route: a Request is read in header mode only when `header` names its header",
                    ))
                })?;
                header = object::header(&headers, name)?.as_string();
            }
            Mode::Header => header = text("header", CallOption::Header)?,
        }
        let request = RouteRequest {
            cookie: cookie.as_deref(),
            url: url.as_deref(),
            client_ip: client_ip.as_deref(),
            header: header.as_deref(),
            method: method.as_deref(),
            fetch_site: fetch_site.as_deref(),
            entropy: (Math::random() * 9_007_199_254_740_992.0) as u64,
        };
        let route = self.core.decide(&request, now).map_err(js_error)?;
        let id = self
            .ids
            .get(route.index)
            .ok_or_else(|| js_error(Error::NoBackend))?;
        let out: RouteResult = Object::new().unchecked_into();
        out.set_backend(id);
        out.set_reassigned(route.reassigned);
        if let Some(set_cookie) = &route.set_cookie {
            out.set_set_cookie(set_cookie);
        }
        if let Some(url) = &route.url {
            out.set_url(url);
        }
        Ok(out)
    }

    /// Header mode: the header whose value is the key, lowercased; `undefined` in other modes.
    #[wasm_bindgen(getter, unchecked_return_type = "string | undefined")]
    pub fn header(&self) -> JsValue {
        self.core
            .header_name()
            .map_or(JsValue::UNDEFINED, JsValue::from_str)
    }

    /// Marks a backend up or down; throws `invalid_config` for an unknown id or a flag that is
    /// not `true` or `false`.
    #[wasm_bindgen(js_name = setHealthy)]
    pub fn set_healthy(
        &mut self,
        id: &str,
        #[wasm_bindgen(unchecked_param_type = "boolean")] healthy: JsValue,
    ) -> Result<(), JsValue> {
        self.core.set_healthy(id, flag(&healthy)?).map_err(js_error)
    }

    /// Starts or stops draining a backend: it keeps the visitors whose values name it and takes
    /// no new ones, unless every healthy backend is draining (then new visitors go to one of
    /// them rather than failing). Throws `invalid_config` for an unknown id or a flag that is not
    /// `true` or `false`.
    #[wasm_bindgen(js_name = setDraining)]
    pub fn set_draining(
        &mut self,
        id: &str,
        #[wasm_bindgen(unchecked_param_type = "boolean")] draining: JsValue,
    ) -> Result<(), JsValue> {
        self.core
            .set_draining(id, flag(&draining)?)
            .map_err(js_error)
    }
}

/// The flag of `setHealthy` and `setDraining`: `true` or `false`. Taken as it comes rather than
/// as a `bool`, which wasm-bindgen's glue reads with `+flag`, so that `"true"` (`NaN`) and a
/// missing flag were `false`: a backend marked up from text went down.
fn flag(value: &JsValue) -> Result<bool, JsValue> {
    value
        .as_bool()
        .ok_or_else(|| js_error(Error::config("the flag must be true or false")))
}

/// A request field that must be a string when present (`null` and `undefined` are absent).
fn text(what: &'static str, which: CallOption) -> Result<Option<String>, JsValue> {
    call_option_text(which).map_err(|()| {
        js_error(Error::config_of(
            what,
            format!("route: {what} must be a string"),
        ))
    })
}
