//! Cookies: reading a `Cookie` request header and building `Set-Cookie` response headers.
//!
//! Reading never fails and never panics: other cookies, spaces, duplicates, quoted values and
//! junk (pairs without `=`, empty names) are tolerated; junk is skipped. Building checks the
//! rules of RFC 6265bis once, at [`SetCookie::check`] or when a header is written: the name is
//! a token, the value is made of cookie octets, name and value make at most 4096 bytes and the
//! path at most 1024 (browsers ignore longer ones) with no `;`, comma or control character,
//! `SameSite=None` and `Partitioned` need `Secure`, a `__Secure-` name needs `Secure`, a
//! `__Host-` name needs `Secure`, `Path=/` and no `Domain`, and an `__Http-` or `__Host-Http-`
//! name (RFC 6265bis: a cookie no page script set) needs `Secure` and `HttpOnly` (prefixes are
//! matched without regard to case, as browsers do). A response that sets a cookie is made
//! private by [`cache`]: no shared cache hands it to other visitors.
//!
//! ```
//! use edge_session::cookie::{self, SameSite, SetCookie};
//!
//! let header = "theme=dark; __Host-affinity=abc; junk; __Host-affinity=def";
//! assert_eq!(cookie::get(header, "__Host-affinity"), Some("abc"));
//! assert_eq!(cookie::get_all(header, "__Host-affinity").count(), 2);
//!
//! let spec = SetCookie::new("__Host-affinity").same_site(Some(SameSite::Strict));
//! assert_eq!(
//!     spec.header("abc", Some(1800))?,
//!     "__Host-affinity=abc; Max-Age=1800; Path=/; Secure; HttpOnly; SameSite=Strict"
//! );
//! assert_eq!(spec.domain("example.com").check().unwrap_err().code(), "invalid_config");
//! # Ok::<(), edge_session::Error>(())
//! ```

pub mod cache;

use std::fmt::Write as _;

use serde::Deserialize;

use crate::error::{configured, Error, Quoted, Result};

/// The longest cookie name accepted when building, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// The most bytes of name and value that browsers keep in one cookie (RFC 6265bis); a longer
/// cookie is ignored, so [`SetCookie::header`] refuses it.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// The `name=value` pairs of a `Cookie` header, in order, names and values trimmed of spaces
/// and tabs, one pair of surrounding double quotes removed from values. Pieces without `=` or
/// with an empty name are skipped.
///
/// ```
/// let pairs: Vec<_> = edge_session::cookie::pairs(" a=1;b = \"2\" ;;junk;=x; c=").collect();
/// assert_eq!(pairs, [("a", "1"), ("b", "2"), ("c", "")]);
/// ```
pub fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|piece| {
        let (name, value) = piece.split_once('=')?;
        let name = trim(name);
        if name.is_empty() {
            return None;
        }
        let value = trim(value);
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        Some((name, value))
    })
}

/// The value of the first cookie called `name` (names are case-sensitive).
///
/// ```
/// assert_eq!(edge_session::cookie::get("a=1; b=2; a=3", "a"), Some("1"));
/// assert_eq!(edge_session::cookie::get("a=1", "A"), None);
/// ```
pub fn get<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    pairs(header).find(|(n, _)| *n == name).map(|(_, v)| v)
}

/// How many values of one name a request may present that are checked (cookies of the same
/// name, or affinity's URL parameters), in the order it sent them; the first that verifies wins
/// and the rest are ignored. It bounds the work one request can cause, and leaves room for the
/// few a sibling subdomain can plant, with longer paths, ahead of the site's own cookie.
pub const MAX_PRESENTED: usize = 4;

/// The values of every cookie called `name`, in header order. A browser can send several
/// (set for different paths or domains); the most specific path comes first.
pub fn get_all<'a>(header: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    pairs(header)
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The values of every cookie called `name`, as [`get_all`] finds them, each ended at its first
/// `,` and trimmed of spaces and tabs: for cookies whose values hold none (RFC 6265's cookie-octets, as the tokens and
/// affinity values of this crate), read where the runtime may have joined several `Cookie`
/// headers with `, ` (workerd does). The last cookie of one header then keeps its own value,
/// not `value, first-cookie-of-the-next-header`. A cookie that begins after a `,` is not read:
/// `x=1, __Host-session=v` is also what a browser sends for a cookie `x` whose value is
/// `1, __Host-session=v`, which a sibling subdomain, a page script or an origin can set, and
/// reading it would let them plant a cookie that the `__Host-` prefix keeps them from setting.
///
/// ```
/// use edge_session::cookie::get_all_tokens;
/// let joined = "a=1; __Host-session=v1, c=3, __Host-session=v2";
/// assert_eq!(get_all_tokens(joined, "__Host-session").collect::<Vec<_>>(), ["v1"]);
/// assert_eq!(get_all_tokens("x=1, __Host-session=v", "__Host-session").next(), None);
/// assert_eq!(get_all_tokens("s=\" v , w\"", "s").next(), Some("v"));
/// ```
pub fn get_all_tokens<'a>(header: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    get_all(header, name).map(|v| {
        trim(
            v.get(..v.bytes().position(|b| b == b',').unwrap_or(v.len()))
                .unwrap_or(v),
        )
    })
}

/// `s` without leading and trailing spaces and tabs, RFC 9110's optional whitespace (on bytes: `trim_matches` of the two
/// characters, generic over patterns, was 670 B of the JS wasm).
fn trim(s: &str) -> &str {
    let blank = |b: &u8| matches!(b, b' ' | b'\t');
    let bytes = s.as_bytes();
    let start = bytes.iter().take_while(|b| blank(b)).count();
    let end = bytes.len() - bytes.iter().rev().take_while(|b| blank(b)).count();
    s.get(start..end.max(start)).unwrap_or_default()
}

/// The `SameSite` attribute. Configuration spells it `"Strict"`, `"Lax"` or `"None"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum SameSite {
    /// Sent only with requests from the same site.
    #[serde(alias = "strict")]
    Strict,
    /// Also sent with top-level navigations from other sites (the browsers' default).
    #[default]
    #[serde(alias = "lax")]
    Lax,
    /// Sent with every request, including cross-site ones; requires `Secure`.
    #[serde(alias = "none")]
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }

    /// The value from its configured spelling, as deserialization reads it (`"Strict"`, `"Lax"`,
    /// `"None"` or the same in lower case); without serde, for the gateway's settings.
    pub fn from_name(name: &str) -> Option<SameSite> {
        match name {
            "Strict" | "strict" => Some(SameSite::Strict),
            "Lax" | "lax" => Some(SameSite::Lax),
            "None" | "none" => Some(SameSite::None),
            _ => None,
        }
    }
}

/// A request's `Sec-Fetch-Site` (`site`) as [`SetCookie::withheld_from`] takes it; from a
/// browser that sends none (Chrome before 76, Firefox before 90, Safari before 16.4),
/// `cross-site` when its `Origin` is not `public`, the request's own `scheme://host` (another
/// site's, or `null`), as README's `crossOrigin` reads it. A sibling subdomain's request counts
/// as cross-site then: the safe side (it keeps no new cookie it was not sent).
///
/// ```
/// use edge_session::cookie::fetch_site;
/// let own = "https://app.example";
/// assert_eq!(fetch_site(Some("same-origin"), Some("https://evil.example"), own), Some("same-origin"));
/// assert_eq!(fetch_site(None, Some("https://evil.example"), own), Some("cross-site"));
/// assert_eq!(fetch_site(None, Some("null"), own), Some("cross-site"));
/// assert_eq!(fetch_site(None, Some(own), own), None);
/// assert_eq!(fetch_site(None, None, own), None);
/// ```
pub fn fetch_site<'a>(
    site: Option<&'a str>,
    origin: Option<&str>,
    public: &str,
) -> Option<&'a str> {
    site.or_else(|| origin.filter(|o| *o != public).map(|_| "cross-site"))
}

/// The name and attributes of a cookie; writes `Set-Cookie` header values for it.
///
/// Defaults are the safe ones: `Path=/`, `Secure`, `HttpOnly`, `SameSite=Lax`, no `Domain`
/// (host-only), no `Partitioned`.
///
/// ```
/// use edge_session::cookie::{SameSite, SetCookie};
///
/// let spec = SetCookie::new("sid")
///     .domain("example.com")
///     .same_site(Some(SameSite::None))
///     .partitioned(true);
/// assert_eq!(
///     spec.header("v1", None)?,
///     "sid=v1; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=None; Partitioned"
/// );
/// assert_eq!(spec.removal()?, "sid=; Max-Age=0; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=None; Partitioned");
/// # Ok::<(), edge_session::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetCookie {
    name: String,
    path: Option<String>,
    domain: Option<String>,
    http_only: bool,
    secure: bool,
    same_site: Option<SameSite>,
    partitioned: bool,
}

impl SetCookie {
    /// A cookie called `name` with the safe defaults.
    pub fn new(name: impl Into<String>) -> Self {
        SetCookie {
            name: name.into(),
            path: Some("/".into()),
            domain: None,
            http_only: true,
            secure: true,
            same_site: Some(SameSite::Lax),
            partitioned: false,
        }
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets `Path` (`None` leaves it out, so the browser uses the request's directory).
    #[must_use]
    pub fn path(mut self, path: Option<&str>) -> Self {
        self.path = path.map(str::to_owned);
        self
    }

    /// Sets `Domain`, sharing the cookie with subdomains. Not allowed with `__Host-` names.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets or clears `HttpOnly` (hides the cookie from page scripts).
    #[must_use]
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// Sets or clears `Secure` (HTTPS only; browsers treat `localhost` as secure).
    #[must_use]
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// Sets `SameSite` (`None` as an `Option` leaves the attribute out).
    #[must_use]
    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.same_site = same_site;
        self
    }

    /// Whether a browser withholds this cookie from a request of `method` whose `Sec-Fetch-Site`
    /// is `site` (as browsers write it): from a cross-site one, with `SameSite=Strict` always, with `Lax` (or no
    /// attribute, which browsers may read as `Lax`) unless it is a GET or HEAD (a top-level
    /// navigation). A browser still keeps a cookie that the answer to a cross-site navigation
    /// sets (RFC 6265bis), which replaces the one withheld.
    ///
    /// ```
    /// use edge_session::cookie::{SameSite, SetCookie};
    /// let lax = SetCookie::new("__Host-affinity");
    /// assert!(lax.withheld_from("POST", Some("cross-site")));
    /// assert!(!lax.withheld_from("GET", Some("cross-site")));
    /// assert!(!lax.withheld_from("get", Some("cross-site")));
    /// assert!(!lax.withheld_from("POST", Some("same-origin")));
    /// let strict = lax.same_site(Some(SameSite::Strict));
    /// assert!(strict.withheld_from("GET", Some("cross-site")));
    /// ```
    pub fn withheld_from(&self, method: &str, site: Option<&str>) -> bool {
        site == Some("cross-site")
            && match self.same_site.unwrap_or(SameSite::Lax) {
                SameSite::Strict => true,
                // As Fetch normalizes them: `get` is GET.
                SameSite::Lax => {
                    !(method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD"))
                }
                SameSite::None => false,
            }
    }

    /// Sets or clears `Partitioned` (CHIPS: a separate jar per top-level site).
    #[must_use]
    pub fn partitioned(mut self, on: bool) -> Self {
        self.partitioned = on;
        self
    }

    /// Checks the name and attributes; `invalid_config` names the rule broken.
    pub fn check(&self) -> Result<()> {
        let name = &self.name;
        if !is_name(name) {
            return Err(Error::config_of(
                "cookieName",
                format!(
                    "cookie name {} must be 1 to {MAX_NAME_BYTES} token characters",
                    Quoted(configured(name))
                ),
            ));
        }
        let rule = |ok, setting, why| rule(ok, name, setting, why);
        let secure = self.secure;
        if has_prefix(name, "__Secure-") {
            rule(secure, "cookieName", "the __Secure- prefix requires Secure")?;
        }
        // `__Http-` and `__Host-Http-` (RFC 6265bis): never set by a page script.
        if has_prefix(name, "__Http-") || has_prefix(name, "__Host-Http-") {
            rule(
                secure && self.http_only,
                "cookieName",
                "its prefix requires Secure and HttpOnly",
            )?;
        }
        if has_prefix(name, "__Host-") {
            rule(secure, "cookieName", "the __Host- prefix requires Secure")?;
            rule(
                self.path.as_deref() == Some("/"),
                "cookieName",
                "the __Host- prefix requires Path=/",
            )?;
            rule(
                self.domain.is_none(),
                "domain",
                "the __Host- prefix forbids Domain; drop the domain or rename the cookie",
            )?;
        }
        rule(
            secure || self.same_site != Some(SameSite::None),
            "sameSite",
            "SameSite=None requires Secure",
        )?;
        rule(
            secure || !self.partitioned,
            "partitioned",
            "Partitioned requires Secure",
        )?;
        if let Some(path) = &self.path {
            // Browsers ignore an attribute value over 1024 bytes. A comma, legal in a path, would
            // split a folded Set-Cookie (`Headers.get` joins them with ", ") into a second cookie
            // for the splitters that read one: `Path=/a,b=1; Secure` gives `b=1; Secure`.
            if !path.starts_with('/')
                || path.len() > 1024
                || !path
                    .bytes()
                    .all(|b| (0x20..0x7f).contains(&b) && b != b';' && b != b',')
            {
                return Err(Error::config_of(
                    "path",
                    format!(
                        "cookie path {} must start with /, hold no ; , or control characters and be at most 1024 bytes",
                        Quoted(configured(path))
                    ),
                ));
            }
        }
        if let Some(domain) = &self.domain {
            let host = domain.strip_prefix('.').unwrap_or(domain);
            let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
            // Every label non-empty: browsers drop a cookie for `a..b` or `example.com.`.
            let labels = host.split('.').all(|label| !label.is_empty());
            if host.len() > 253 || !labels || !host.bytes().all(ok) {
                return Err(Error::config_of(
                    "domain",
                    format!(
                        "cookie domain {} is not a host name",
                        Quoted(configured(domain))
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The `Set-Cookie` header value giving the cookie `value`, with `Max-Age` when
    /// `max_age` is set (else a session cookie). Refused with `invalid_config` when the name or
    /// attributes break a rule, or the value holds characters a cookie cannot carry.
    pub fn header(&self, value: &str, max_age: Option<u64>) -> Result<String> {
        self.check()?;
        // Browsers ignore a cookie whose name and value make more than 4096 bytes.
        if self.name.len() + value.len() > MAX_COOKIE_BYTES || !value.bytes().all(is_cookie_octet) {
            return Err(Error::config(format!(
                "cookie {}: the value holds characters a cookie cannot carry, or makes it over 4096 bytes",
                Quoted(configured(&self.name))
            )));
        }
        Ok(self.write(value, max_age))
    }

    /// The `Set-Cookie` header value that deletes the cookie (empty value, `Max-Age=0`, same
    /// name, path and domain, which is how the browser matches it).
    pub fn removal(&self) -> Result<String> {
        self.check()?;
        Ok(self.write("", Some(0)))
    }

    fn write(&self, value: &str, max_age: Option<u64>) -> String {
        let mut out = String::with_capacity(self.name.len() + value.len() + 80);
        out.push_str(&self.name);
        out.push('=');
        out.push_str(value);
        if let Some(age) = max_age {
            let _ = write!(out, "; Max-Age={age}");
        }
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if let Some(path) = &self.path {
            out.push_str("; Path=");
            out.push_str(path);
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if let Some(same_site) = self.same_site {
            out.push_str("; SameSite=");
            out.push_str(same_site.as_str());
        }
        if self.partitioned {
            out.push_str("; Partitioned");
        }
        out
    }
}

/// Whether `name` can name a cookie: 1 to [`MAX_NAME_BYTES`] token characters.
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_BYTES && name.bytes().all(is_tchar)
}

/// Whether only the host can set a cookie of this name in every browser: the `__Host-` prefix
/// in exactly that case. Browsers since RFC 6265bis compare a prefix without case, and
/// [`SetCookie::check`] holds a name so written to the prefix's rules, but an older browser
/// lets a sibling subdomain set `__host-session`.
#[cfg(feature = "sealed")]
pub(crate) fn is_host_only(name: &str) -> bool {
    name.starts_with("__Host-")
}

/// `tchar` of RFC 9110: the characters of a cookie name or header name.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `cookie-octet` of RFC 6265: visible ASCII except `"` `,` `;` `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// `Ok` when `ok`, else the `invalid_config` error of `setting` saying `why` of the cookie
/// `name`: one error path for the attribute rules (each `format!` costs the JS wasm bytes).
#[inline(never)]
fn rule(ok: bool, name: &str, setting: &'static str, why: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::config_of(
            setting,
            format!("cookie {}: {why}", Quoted(configured(name))),
        ))
    }
}

#[inline(never)]
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_site_from_name_reads_what_deserialization_reads() {
        for name in [
            "Strict", "strict", "Lax", "lax", "None", "none", "LAX", "", " Lax", "x",
        ] {
            let serde = serde_json::from_value::<SameSite>(serde_json::Value::from(name)).ok();
            assert_eq!(SameSite::from_name(name), serde, "{name:?}");
        }
        assert_eq!(SameSite::from_name("none"), Some(SameSite::None));
    }

    #[test]
    fn parses_real_world_headers() {
        let h = "_ga=GA1.2.3; __Host-affinity=AQID; theme=\"dark\";  spaced = v ;";
        assert_eq!(get(h, "__Host-affinity"), Some("AQID"));
        assert_eq!(get(h, "theme"), Some("dark"));
        assert_eq!(get(h, "spaced"), Some("v"));
        assert_eq!(get(h, "missing"), None);
        assert_eq!(get("", "a"), None);
        assert_eq!(get("a", "a"), None);
        assert_eq!(get("a=b=c", "a"), Some("b=c"));
        assert_eq!(get("\ta=1\t", "a"), Some("1"));
        assert_eq!(get("a=\"", "a"), Some("\""));
        assert_eq!(
            get_all("a=1; b=2; a=3; a=", "a").collect::<Vec<_>>(),
            ["1", "3", ""]
        );
    }

    /// workerd joins several `Cookie` headers with `, `. A token's value ends at the join; a
    /// cookie that begins after one is not read (a browser sends the same bytes for a cookie
    /// whose value holds `, name=...`, which the `__Host-` prefix does not keep a sibling
    /// subdomain from setting).
    #[test]
    fn tokens_end_where_the_runtime_joined_two_headers() {
        let tokens = |h| get_all_tokens(h, "t").collect::<Vec<_>>();
        assert_eq!(tokens("a=1; t=v1, c=3"), ["v1"]);
        assert_eq!(tokens("t=v1 , c=3; t=v2,; t=v3\t,"), ["v1", "v2", "v3"]);
        assert_eq!(tokens("t=v1,t=v2"), ["v1"]);
        assert_eq!(
            tokens("a=1, t=v1; b=2,t=v2; ,t=v3; t, t=v4"),
            [] as [&str; 0]
        );
        assert_eq!(tokens("a=1, t=v1; t=v2"), ["v2"]);
        assert_eq!(tokens("t=, c=3"), [""]);
        // Blanks inside quotes are trimmed too (the proptest below found it, once in many runs).
        assert_eq!(tokens("t=\"\t=\""), ["="]);
        // Other cookies' values keep their commas.
        assert_eq!(get("q=\"1, 2\"; t=v", "q"), Some("1, 2"));
    }

    #[test]
    fn junk_is_skipped_not_fatal() {
        let h = ";;; =; =x; ;novalue; é=ü; a=1";
        assert_eq!(pairs(h).collect::<Vec<_>>(), [("é", "ü"), ("a", "1")]);
    }

    #[test]
    fn defaults_are_safe() {
        assert_eq!(
            SetCookie::new("a").header("1", Some(60)).unwrap(),
            "a=1; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        let bare = SetCookie::new("a")
            .path(None)
            .http_only(false)
            .secure(false)
            .same_site(None);
        assert_eq!(bare.header("1", None).unwrap(), "a=1");
    }

    /// Each attribute is written on its own: a cookie scripts may read (no `HttpOnly`) is still
    /// `Secure`, and so is one sent cross-site (`SameSite=None`).
    #[test]
    fn secure_does_not_hang_on_http_only() {
        assert_eq!(
            SetCookie::new("a")
                .http_only(false)
                .header("1", None)
                .unwrap(),
            "a=1; Path=/; Secure; SameSite=Lax"
        );
        assert_eq!(
            SetCookie::new("__Host-a")
                .http_only(false)
                .same_site(Some(SameSite::None))
                .header("1", Some(5))
                .unwrap(),
            "__Host-a=1; Max-Age=5; Path=/; Secure; SameSite=None"
        );
    }

    #[test]
    fn prefix_rules() {
        let host = SetCookie::new("__Host-x");
        assert!(host.check().is_ok());
        assert!(host.clone().domain("example.com").check().is_err());
        assert!(host.clone().path(Some("/app")).check().is_err());
        assert!(host.clone().path(None).check().is_err());
        assert!(host.clone().secure(false).check().is_err());
        assert!(SetCookie::new("__host-x").secure(false).check().is_err());
        assert!(SetCookie::new("__Secure-x").secure(false).check().is_err());
        assert!(SetCookie::new("__Secure-x")
            .domain("example.com")
            .path(Some("/a"))
            .check()
            .is_ok());
        assert!(SetCookie::new("x")
            .secure(false)
            .same_site(Some(SameSite::None))
            .check()
            .is_err());
        assert!(SetCookie::new("x")
            .secure(false)
            .partitioned(true)
            .check()
            .is_err());
        assert!(SetCookie::new("x").secure(false).check().is_ok());
    }

    /// RFC 6265bis's `__Http-` and `__Host-Http-` prefixes (Firefox enforces them): a cookie so named
    /// is kept only with `Secure` and `HttpOnly` (and the `__Host-` rules for the second), so it
    /// can never have been set by a page script. Without them the browser drops it silently.
    #[test]
    fn http_prefix_rules() {
        for name in ["__Http-x", "__http-x", "__Host-Http-x", "__host-http-x"] {
            let spec = SetCookie::new(name);
            assert!(spec.check().is_ok(), "{name}");
            for bad in [spec.clone().http_only(false), spec.clone().secure(false)] {
                assert_eq!(bad.check().unwrap_err().code(), "invalid_config", "{name}");
                assert!(
                    bad.header("v", None).is_err() && bad.removal().is_err(),
                    "{name}"
                );
            }
        }
        let host_http = SetCookie::new("__Host-Http-x");
        assert!(host_http.clone().domain("example.com").check().is_err());
        assert!(host_http.path(Some("/a")).check().is_err());
        assert!(SetCookie::new("__Http-x")
            .domain("example.com")
            .path(Some("/a"))
            .check()
            .is_ok());
        // Names that only look alike are plain names.
        assert!(SetCookie::new("__Httpx").http_only(false).check().is_ok());
        assert!(SetCookie::new("__Host-Httpx")
            .http_only(false)
            .check()
            .is_ok());
    }

    /// The longest name (256 bytes) and domain (253 bytes) accepted; one byte more is refused.
    #[test]
    fn names_and_domains_at_their_length_bounds() {
        assert!(SetCookie::new("n".repeat(256)).check().is_ok());
        let domain = |len: usize| format!("{}.example", "a".repeat(len - 8));
        assert!(SetCookie::new("a").domain(domain(253)).check().is_ok());
        let error = SetCookie::new("a").domain(domain(254)).check().unwrap_err();
        assert_eq!(error.code(), "invalid_config");
    }

    #[test]
    fn bad_names_values_and_attributes_are_refused() {
        for name in ["", "a b", "a;b", "a=b", "é", "a\"", &"n".repeat(257)] {
            assert_eq!(
                SetCookie::new(name).check().unwrap_err().code(),
                "invalid_config",
                "{name:?}"
            );
        }
        for value in ["a b", "a;b", "a,b", "a\"b", "a\\b", "é", "\n"] {
            assert!(
                SetCookie::new("a").header(value, None).is_err(),
                "{value:?}"
            );
        }
        assert!(SetCookie::new("a").path(Some("app")).check().is_err());
        assert!(SetCookie::new("a").path(Some("/a;b")).check().is_err());
        // A comma would split a folded Set-Cookie (Headers.get joins them with ", ") into a
        // second cookie, `b=1; Secure; ...`, for the splitters that read one.
        for path in ["/a,b=1", "/a, b=1", "/a,"] {
            assert_eq!(
                SetCookie::new("a")
                    .path(Some(path))
                    .check()
                    .unwrap_err()
                    .setting(),
                Some("path"),
                "{path:?}"
            );
        }
        for domain in [
            "",
            ".",
            "exa mple.com",
            "a;b",
            "ex\u{e4}mple.com",
            "a..b",
            "example.com.",
            "..example.com",
        ] {
            assert!(
                SetCookie::new("a").domain(domain).check().is_err(),
                "{domain:?}"
            );
        }
        assert!(SetCookie::new("a").domain(".example.com").check().is_ok());
    }

    /// RFC 6265bis's limits: a browser ignores a cookie whose name and value make more than
    /// 4096 bytes, and an attribute (`Path`) whose value is over 1024 bytes.
    #[test]
    fn what_browsers_ignore_for_its_length_is_refused() {
        let spec = SetCookie::new("__Host-session");
        let fits = "v".repeat(4096 - "__Host-session".len());
        assert!(spec.header(&fits, Some(60)).is_ok());
        let over = format!("{fits}v");
        assert_eq!(
            spec.header(&over, Some(60)).unwrap_err().code(),
            "invalid_config"
        );
        let path = format!("/{}", "p".repeat(1023));
        assert!(SetCookie::new("a").path(Some(&path)).check().is_ok());
        let long = format!("{path}p");
        assert_eq!(
            SetCookie::new("a")
                .path(Some(&long))
                .check()
                .unwrap_err()
                .code(),
            "invalid_config"
        );
    }

    #[test]
    fn built_cookies_parse_back() {
        let spec = SetCookie::new("__Host-a");
        let header = spec.header("AQID-_x", Some(5)).unwrap();
        let (pair, _) = header.split_once(';').unwrap();
        assert_eq!(get(pair, "__Host-a"), Some("AQID-_x"));
    }

    #[test]
    fn same_site_reads_from_config() {
        for (text, want) in [
            ("\"Lax\"", SameSite::Lax),
            ("\"Strict\"", SameSite::Strict),
            ("\"None\"", SameSite::None),
            ("\"none\"", SameSite::None),
        ] {
            assert_eq!(serde_json::from_str::<SameSite>(text).unwrap(), want);
        }
        assert!(serde_json::from_str::<SameSite>("\"sometimes\"").is_err());
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsing_never_panics(header in any::<String>(), name in any::<String>()) {
            let _ = pairs(&header).count();
            let _ = get(&header, &name);
            let _ = get_all(&header, &name).count();
        }

        #[test]
        fn a_cookie_is_found_among_junk(
            before in "[ -~]{0,40}",
            after in "[ -~]{0,40}",
            value in "[A-Za-z0-9_-]{0,60}",
        ) {
            // The value is found whatever surrounds it.
            let header = format!("{before}; zz={value}; {after}");
            prop_assert!(get(&header, "zz").is_some());
            prop_assert!(get_all(&header, "zz").any(|v| v == value));
        }

        /// The same cookies as `get_all`, in order, each value cut at its first `,` (and its
        /// blanks trimmed, which a quoted value may hold: `a="\t="`): a join never adds a
        /// cookie, never hides one that `get_all` finds.
        #[test]
        fn tokens_are_get_all_cut_at_commas(header in "[a-c=;, \t\"]{0,40}") {
            let all: Vec<&str> = get_all(&header, "a").collect();
            let tokens: Vec<&str> = get_all_tokens(&header, "a").collect();
            prop_assert_eq!(tokens.len(), all.len());
            for (token, value) in tokens.iter().zip(&all) {
                prop_assert!(!token.contains(',') && trim(value).starts_with(token), "{:?} {:?}", token, value);
            }
        }

        #[test]
        fn building_never_panics(name in any::<String>(), value in any::<String>(), domain in any::<String>(), age in any::<Option<u64>>()) {
            let _ = SetCookie::new(name.clone()).header(&value, age);
            let _ = SetCookie::new(name).domain(domain).removal();
        }
    }
}
