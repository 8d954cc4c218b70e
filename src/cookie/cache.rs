//! Caching of a response that sets a cookie: such a response is the visitor's own, and a shared
//! cache (a CDN, a proxy) that kept it would hand one visitor's session cookie, and page, to the
//! next visitors. The one rewrite of its caching headers, used by the gateway
//! (`gateway::headers::make_private`) and by `SessionStore`'s `applyCookies` and `clearCookies`
//! in JavaScript; the Hono middleware (npm/hono.js, `appendCookie`) has a JavaScript copy, which
//! tests/js/hono.test.mjs checks against `SessionStore`'s.
//!
//! ```
//! use edge_session::cookie::cache::{is_cdn_cache_field, private_cache_control};
//! assert_eq!(private_cache_control("public, max-age=600").as_deref(), Some("private, max-age=600"));
//! assert_eq!(private_cache_control("").as_deref(), Some("private"));
//! assert_eq!(private_cache_control("no-store"), None);
//! assert!(is_cdn_cache_field("CDN-Cache-Control") && !is_cdn_cache_field("cache-control"));
//! ```

use super::trim;

/// Cache fields that CDNs obey instead of `Cache-Control`: RFC 9213's `CDN-Cache-Control`, those
/// of Cloudflare and Vercel, `Surrogate-Control` (Fastly and others) and Akamai's `Edge-Control`.
/// With `CDN-Cache-Control: max-age=600` a CDN stores an answer whatever its `Cache-Control`
/// says: a response that sets a cookie loses them all. (The Hono middleware, npm/hono.js,
/// removes the same list.)
pub const CDN_CACHE_FIELDS: [&str; 5] = [
    "cdn-cache-control",
    "cloudflare-cdn-cache-control",
    "vercel-cdn-cache-control",
    "surrogate-control",
    "edge-control",
];

/// True for the name of one of the [`CDN_CACHE_FIELDS`], in any case.
pub fn is_cdn_cache_field(name: &str) -> bool {
    CDN_CACHE_FIELDS
        .iter()
        .any(|field| name.eq_ignore_ascii_case(field))
}

/// The `Cache-Control` of a response that sets a cookie, from the one it has (`cache_control`:
/// its `Cache-Control` headers joined with `, `, empty when it has none), so that no shared
/// cache keeps it. `None` when it stays as it is: it says `no-store` or `private` already.
/// Otherwise `private`, then the other directives in order but `public`, `s-maxage` and
/// `private="field"` (`max-age=60` keeps the browser's own caching). Directives are read
/// without case, trimmed of spaces and tabs (RFC 9110's optional whitespace, and nothing else:
/// `no-store` followed by a no-break space is not `no-store`, to a cache either); empty ones go.
/// A comma in a quoted string (`no-cache="set-cookie, no-store"`) separates nothing.
/// Remove the [`CDN_CACHE_FIELDS`] too, whatever this says.
///
/// ```
/// use edge_session::cookie::cache::private_cache_control;
/// let private = |v| private_cache_control(v);
/// assert_eq!(private("public, max-age=60, s-maxage=600").as_deref(), Some("private, max-age=60"));
/// assert_eq!(private("S-MAXAGE=600, max-age=0").as_deref(), Some("private, max-age=0"));
/// assert_eq!(private("private=\"set-cookie\", max-age=9").as_deref(), Some("private, max-age=9"));
/// assert_eq!(private(" ,\tmax-age=5 ,").as_deref(), Some("private, max-age=5"));
/// assert_eq!((private("Private"), private("max-age=5, NO-STORE")), (None, None));
/// ```
pub fn private_cache_control(cache_control: &str) -> Option<String> {
    let mut value = String::from("private");
    for d in directives(cache_control).map(trim) {
        if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("private") {
            return None;
        }
        let name = trim(d.split('=').next().unwrap_or_default());
        if !d.is_empty()
            && !["public", "s-maxage", "private"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
        {
            value.push_str(", ");
            value.push_str(d);
        }
    }
    Some(value)
}

/// A `Cache-Control` value's directives: its pieces between commas outside quoted strings
/// (RFC 9110's `quoted-string`, where a backslash escapes the next character).
fn directives(value: &str) -> impl Iterator<Item = &str> {
    let (mut quoted, mut escaped) = (false, false);
    value.split(move |c| {
        let separates = c == ',' && !quoted;
        if escaped {
            escaped = false;
        } else if c == '"' {
            quoted = !quoted;
        } else {
            escaped = quoted && c == '\\';
        }
        separates
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gateway's cases (`gateway::headers`' `responses_with_the_gateways_cookies_are_private`)
    /// and those that tests/js/hono.test.mjs runs through the Hono middleware and `SessionStore`.
    #[test]
    fn public_and_s_maxage_give_way_to_private() {
        for (origin, expected) in [
            ("", Some("private")),
            ("public, max-age=3600", Some("private, max-age=3600")),
            ("S-MAXAGE=600, max-age=0", Some("private, max-age=0")),
            ("s-maxage=60, public", Some("private")),
            ("no-store", None),
            ("private, max-age=5", None),
            ("Private", None),
            ("NO-STORE, public", None),
            (
                "private=\"set-cookie\", max-age=9",
                Some("private, max-age=9"),
            ),
            ("max-age=0", Some("private, max-age=0")),
            (
                "\tPUBLIC ,max-age=5,, S-MaxAge = 9 , must-revalidate",
                Some("private, max-age=5, must-revalidate"),
            ),
            // A quoted string is part of its directive, commas and escaped quotes included.
            (
                "x=\"a, no-store, b\", public, s-maxage=600",
                Some("private, x=\"a, no-store, b\""),
            ),
            (
                "no-cache=\"set-cookie, s-maxage=9\", max-age=60",
                Some("private, no-cache=\"set-cookie, s-maxage=9\", max-age=60"),
            ),
            (
                "x=\"\\\", private\", public",
                Some("private, x=\"\\\", private\""),
            ),
            ("x=\"a, public", Some("private, x=\"a, public")),
            // Spaces and tabs only are trimmed, as a cache reads directives.
            ("no-store\u{a0}", Some("private, no-store\u{a0}")),
            (
                "public\u{85}, max-age=1",
                Some("private, public\u{85}, max-age=1"),
            ),
        ] {
            assert_eq!(
                private_cache_control(origin).as_deref(),
                expected,
                "{origin:?}"
            );
        }
    }

    #[test]
    fn cdn_fields_in_any_case() {
        for name in [
            "CDN-Cache-Control",
            "cloudflare-cdn-cache-control",
            "Vercel-CDN-Cache-Control",
            "Surrogate-Control",
            "EDGE-CONTROL",
        ] {
            assert!(is_cdn_cache_field(name), "{name}");
        }
        for name in ["cache-control", "cdn-cache-controls", "x-edge-control", ""] {
            assert!(!is_cdn_cache_field(name), "{name}");
        }
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the response said: what comes out is private, with neither `public` nor
        /// `s-maxage`, and stays as it is when made private again (read as a cache reads
        /// directives: a quoted string is part of its directive).
        #[test]
        fn what_comes_out_is_private_for_good(
            parts in proptest::collection::vec(
                "[ \t]{0,2}(public|PUBLIC|private|no-store|s-maxage=[0-9]|max-age=[0-9]|no-cache|[a-z=\"\\\\,]{0,4})[ \t]{0,2}",
                0..6,
            ),
        ) {
            let origin = parts.join(",");
            if let Some(value) = private_cache_control(&origin) {
                prop_assert!(value.starts_with("private"));
                prop_assert_eq!(private_cache_control(&value), None);
                for d in directives(&value).map(trim) {
                    let name = trim(d.split('=').next().unwrap_or_default()).to_ascii_lowercase();
                    prop_assert!(name != "public" && name != "s-maxage", "{origin:?} -> {value:?}");
                }
            } else {
                let kept = directives(&origin).map(trim).any(|d| {
                    d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("private")
                });
                prop_assert!(kept, "{:?}", origin);
            }
        }
    }
}
