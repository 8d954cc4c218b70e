//! The affinity parameter in a URL's query (URL mode): reading it and rewriting the URL.
//!
//! Works on absolute and relative URLs alike without parsing the rest of the URL, which is
//! kept byte for byte. Parameter names are compared as written (the router only accepts names
//! of unreserved characters, which never need percent-encoding).

/// Where a URL is written, which tells where its fragment begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// As it is: a request's URL, a header's (`Location`).
    Plain,
    /// In an HTML attribute, as the gateway's rewriter sees it: a browser decodes its character
    /// references first, so `&#39;` is a `'` (its `#` begins no fragment) and `&#35;` a `#`.
    Html,
}

/// The values of every query parameter called `name`, in order (`a` alone counts as `a=`).
pub(crate) fn param_values<'a>(url: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let query = split(url, Written::Plain).1.unwrap_or("");
    query.split('&').filter_map(move |pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (n == name).then_some(v)
    })
}

/// `url` with the parameter `name` set to `value`: in place of the first occurrence (others
/// removed), else appended to the query; the fragment stays last.
pub(crate) fn with_param(url: &str, name: &str, value: &str, written: Written) -> String {
    let (base, query, fragment) = split(url, written);
    let mut out = String::with_capacity(url.len() + name.len() + value.len() + 2);
    out.push_str(base);
    let mut wrote = false;
    let mut separator = '?';
    for pair in pairs(query.unwrap_or(""), written) {
        let pair = pair.as_str();
        // In HTML, `&amp;_es=` after an empty pair is the parameter to a browser. (`get`, never
        // an index: no panic's formatting in the wasm; the JS library writes `Plain` alone.)
        let bare = match (written, pair.get(..5), pair.get(5..)) {
            (Written::Html, Some(amp), Some(rest)) if amp.eq_ignore_ascii_case("&amp;") => rest,
            _ => pair,
        };
        let ours = bare.split_once('=').map_or(bare, |(n, _)| n) == name;
        if ours && wrote {
            continue;
        }
        out.push(separator);
        separator = '&';
        if ours {
            out.push_str(name);
            out.push('=');
            out.push_str(value);
            wrote = true;
        } else {
            out.push_str(pair);
        }
    }
    if !wrote {
        out.push(separator);
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out.push_str(fragment.unwrap_or_default());
    out
}

/// The non-empty pairs of a query. In HTML (`Written::Html`) an `&` that begins a numeric
/// character reference begins no pair and stays in its pair: `a=1&#39;b` is one pair
/// (`a=1'b` to a browser), `x=1&&#39;y` two (`x=1` and `'y`). Split there, a pair dropped or
/// written after the value glued its reference to another (`?_es&#4z` took the value as
/// `_es=V&#4z`, which a browser reads `_es=V\u{4}z`). So does a named one after an empty pair
/// (`?&amp;page=2` is `&amp;page=2`, never `amp;page=2`, which loses its `&`); after another
/// it is a pair of its own (`&x;` is no reference to a browser, and `&amp;` a separator).
fn pairs(query: &str, written: Written) -> Vec<String> {
    let mut pairs: Vec<String> = Vec::new();
    for (i, piece) in query.split('&').enumerate() {
        match pairs.last_mut() {
            Some(last) if i > 0 && written == Written::Html && referenced(piece, last) => {
                last.push('&');
                last.push_str(piece);
            }
            _ => pairs.push(piece.to_owned()),
        }
    }
    pairs.retain(|p| !p.is_empty());
    pairs
}

/// Whether `piece`, after an `&` in HTML, begins with a character reference that stays in the
/// pair `last` before it: a numeric one (`#39;`), or a named one (`amp;`) in an empty pair.
fn referenced(piece: &str, last: &str) -> bool {
    let named = piece
        .split_once(';')
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric()));
    piece.starts_with('#') || named && last.is_empty()
}

/// `url` without any parameter whose name, percent-decoded, is `name` (the origin must never
/// see the value, however a client spelled it); every other part of the URL, the other
/// parameters in their order and encoding and the fragment, stays byte for byte. A query left
/// empty loses its `?`.
// Used by the gateway, which needs `sealed`.
#[cfg_attr(not(feature = "sealed"), allow(dead_code))]
pub(crate) fn without_param(url: &str, name: &str) -> String {
    let (base, query, fragment) = split(url, Written::Plain);
    let Some(query) = query else {
        return url.to_owned();
    };
    let ours = |pair: &str| decoded_is(pair.split_once('=').map_or(pair, |(n, _)| n), name);
    if !query.split('&').any(ours) {
        return url.to_owned();
    }
    let kept: Vec<&str> = query.split('&').filter(|p| !ours(p)).collect();
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    if kept.iter().any(|p| !p.is_empty()) {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(fragment.unwrap_or_default());
    out
}

/// Whether `raw`, percent-decoded (and `+` read as a space, as forms write it), is `name`.
// Used by the gateway, which needs `sealed`.
#[cfg_attr(not(feature = "sealed"), allow(dead_code))]
fn decoded_is(raw: &str, name: &str) -> bool {
    crate::codec::percent_decoded(raw.as_bytes(), true) == name.as_bytes()
}

/// The link `url`, found on a page at `base` (an absolute `scheme://host/...` URL), made to carry
/// `name=value` when it leads to the same site (same scheme and host): relative paths, queries,
/// absolute and protocol-relative URLs to `base`'s own host. `None`, the link left as it is, for
/// every other site, other schemes (`javascript:`, `mailto:`...), a fragment alone, an empty
/// link, and anything a browser might read otherwise (backslashes, whitespace and control
/// characters, user info, and a `&` before the query: the gateway's HTML rewriter sees attribute
/// values as written, and the browser decodes `&sol;&sol;evil.example` or `https&colon;//` to
/// another site): a link left alone never leaks the value. In HTML, a link holding U+FFFD is left
/// alone too: the rewriter read the page in another charset than the browser does, and the link
/// written back would lose its other characters (`/caf\u{FFFD}` for `/café`). The value goes
/// before the fragment, found as [`Written`] says.
// Used by the gateway, which needs `sealed`.
#[cfg_attr(not(feature = "sealed"), allow(dead_code))]
pub(crate) fn rewrite_url(
    base: &str,
    url: &str,
    name: &str,
    value: &str,
    written: Written,
) -> Option<String> {
    let before_query = url.split(['?', '#']).next().unwrap_or_default();
    if url.is_empty()
        || fragment_at(url, written) == Some(0)
        || url.bytes().any(|b| b <= b' ' || b == b'\\' || b == 0x7f)
        || before_query.contains('&')
        || written == Written::Html && url.contains('\u{FFFD}')
    {
        return None;
    }
    let (base_scheme, base_rest) = base.split_once("://")?;
    let base_host = base_rest
        .split(['/', '?', '#'])
        .next()
        .filter(|h| !h.is_empty())?;
    // `//host/...` or `scheme://host/...`: the host must be the page's own.
    let authority_of = |rest: &str| -> Option<bool> {
        let host = rest.split(['/', '?', '#']).next()?;
        Some(!host.contains('@') && host.eq_ignore_ascii_case(base_host))
    };
    let same = if let Some(rest) = url.strip_prefix("//") {
        authority_of(rest)?
    } else if let Some((scheme, rest)) = scheme_of(url) {
        let rest = rest.strip_prefix("//")?;
        scheme.eq_ignore_ascii_case(base_scheme) && authority_of(rest)?
    } else {
        true
    };
    same.then(|| with_param(url, name, value, written))
}

/// A URL's scheme and what follows its `:`, when it has one (`scheme:` before any `/ ? #`).
// Used by the gateway, which needs `sealed`.
#[cfg_attr(not(feature = "sealed"), allow(dead_code))]
fn scheme_of(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    .then_some((scheme, rest))
}

/// `(before the query, query, fragment)`: the query without its `?`, the fragment with what
/// begins it (`#`, or in HTML a reference to it, `&#35;`).
fn split(url: &str, written: Written) -> (&str, Option<&str>, Option<&str>) {
    let (rest, fragment) = match fragment_at(url, written) {
        Some(at) => (url.get(..at).unwrap_or(url), url.get(at..)),
        None => (url, None),
    };
    match rest.split_once('?') {
        Some((base, query)) => (base, Some(query), fragment),
        None => (rest, None, fragment),
    }
}

/// Where the fragment of `url` begins, as a browser reads it: at its first `#`; in HTML, where a
/// browser decodes character references first, at the first `#` that begins no numeric
/// reference (`&#39;`, `&#x27;`), or at a reference to a `#` itself (`&#35;`, `&#x23;`, `&num;`).
fn fragment_at(url: &str, written: Written) -> Option<usize> {
    if written == Written::Plain {
        return url.find('#');
    }
    // The `#` of the numeric reference last seen.
    let mut referenced = None;
    for (at, mark) in url.match_indices(['#', '&']) {
        if mark == "#" {
            if referenced != Some(at) {
                return Some(at);
            }
            continue;
        }
        let rest = url.get(at + 1..).unwrap_or_default();
        if rest.starts_with("num;") {
            return Some(at);
        }
        let Some(number) = rest.strip_prefix('#') else {
            continue;
        };
        let (digits, radix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        let digits = digits
            .split(|c: char| !c.is_digit(radix))
            .next()
            .unwrap_or_default();
        // `&#` with no digits is text, and its `#` begins the fragment.
        if digits.is_empty() {
            continue;
        }
        let code = digits.chars().try_fold(0u32, |n, c| {
            Some(n.saturating_mul(radix).saturating_add(c.to_digit(radix)?))
        });
        if code == Some(u32::from(b'#')) {
            return Some(at);
        }
        referenced = Some(at + 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parameter() {
        let v = |url| param_values(url, "_aff").collect::<Vec<_>>();
        assert_eq!(
            v("https://x.test/p?a=1&_aff=AB&_aff=CD#_aff=EF"),
            ["AB", "CD"]
        );
        assert_eq!(v("/p?_aff"), [""]);
        assert!(v("/p#?_aff=AB").is_empty());
        assert!(v("/p?x_aff=AB&_affx=CD").is_empty());
        assert!(v("").is_empty());
    }

    #[test]
    fn removes_every_spelling_and_keeps_the_rest() {
        let wo = |url| without_param(url, "_es");
        assert_eq!(wo("/p?_es=V"), "/p");
        assert_eq!(wo("/p?a=1&_es=V&b=%20x+y"), "/p?a=1&b=%20x+y");
        assert_eq!(wo("/p?_es=V&a=1&_es=W"), "/p?a=1");
        assert_eq!(wo("/p?%5Fes=V&%5fes&a"), "/p?a");
        assert_eq!(wo("/p?_es=V#frag?_es=x"), "/p#frag?_es=x");
        assert_eq!(
            wo("https://h.test/?x_es=1&_esx=2"),
            "https://h.test/?x_es=1&_esx=2"
        );
        assert_eq!(wo("/p?a&&b"), "/p?a&&b");
        assert_eq!(wo("/p?"), "/p?");
        assert_eq!(wo("/p?%5"), "/p?%5");
    }

    #[test]
    fn rewrites_same_site_links_only() {
        let base = "https://app.example/shop/cart?x=1";
        let r = |url| rewrite_url(base, url, "_es", "V", Written::Html);
        assert_eq!(r("/a").as_deref(), Some("/a?_es=V"));
        assert_eq!(r("b?q=1#top").as_deref(), Some("b?q=1&_es=V#top"));
        assert_eq!(r("../c").as_deref(), Some("../c?_es=V"));
        assert_eq!(r("?page=2").as_deref(), Some("?page=2&_es=V"));
        assert_eq!(r("/a?_es=old&b").as_deref(), Some("/a?_es=V&b"));
        assert_eq!(r("/a?x=1&amp;y=2").as_deref(), Some("/a?x=1&amp;y=2&_es=V"));
        assert_eq!(
            r("https://APP.example/x").as_deref(),
            Some("https://APP.example/x?_es=V")
        );
        assert_eq!(
            r("//app.example/y").as_deref(),
            Some("//app.example/y?_es=V")
        );
        // No scheme before the `:` (one starts with a letter and holds letters, digits, `+-.`
        // only): a path on the page's own site, as browsers read it.
        assert_eq!(r("1x:y").as_deref(), Some("1x:y?_es=V"));
        assert_eq!(r("a/b:c").as_deref(), Some("a/b:c?_es=V"));
        for never in [
            "",
            "#frag",
            "https://other.example/x",
            "http://app.example/x",
            "//other.example/",
            "https://app.example.evil/x",
            "https://app.example@evil.example/",
            "https://app.example:444/",
            "javascript:alert(1)",
            "mailto:a@app.example",
            "data:text/html,x",
            "/\\evil.example",
            "\\\\evil.example",
            " //evil.example",
            "/\tx",
            "https:app.example/x",
            // Character references, as the HTML rewriter sees them and browsers decode them.
            "&sol;&sol;evil.example/x",
            "https&colon;//evil.example/x",
            "/&Tab;/evil.example/x",
            "&NewLine;//evil.example/x",
            "&#47;&#47;evil.example/x",
            "/a&quest;b",
            "&num;top",
            "&#35;top",
        ] {
            assert_eq!(r(never), None, "{never:?}");
        }
        // In HTML a numeric reference's `#` begins no fragment (templates write `'` as `&#39;`),
        // and a reference to `#` does: the value goes before it, as before a `#`. It went
        // after `&#39;`'s `#`, into what a browser reads as the fragment.
        for (link, carrying) in [
            (
                "/search?q=O&#39;Brien&amp;page=2",
                "/search?q=O&#39;Brien&amp;page=2&_es=V",
            ),
            ("/p?a=1&#38;b=2", "/p?a=1&#38;b=2&_es=V"),
            ("/p?a=&#x27;b#top", "/p?a=&#x27;b&_es=V#top"),
            ("/p?a=1&#35;top", "/p?a=1&_es=V&#35;top"),
            ("/p?a=1&#X23;top", "/p?a=1&_es=V&#X23;top"),
            ("/p?a=1&#0035top", "/p?a=1&_es=V&#0035top"),
            ("/p?a=1&num;top", "/p?a=1&_es=V&num;top"),
            ("/p?a=1&#;b#c", "/p?a=1&_es=V#;b#c"),
            ("/p?a=1&#x;b", "/p?a=1&_es=V#x;b"),
            ("/p?&#95;es=old", "/p?&#95;es=old&_es=V"),
            // A reference's `&` is no separator: the pairs a browser reads stay as they were,
            // and the value is never glued to a reference (found by a fuzz target that reads the
            // links as a browser does).
            ("/p?&&#95;a&&#95;b", "/p?&#95;a&&#95;b&_es=V"),
            ("/p?x=1&&#39;y=2", "/p?x=1&&#39;y=2&_es=V"),
            ("/p?_es&#4z", "/p?_es&#4z&_es=V"),
            ("/p?_es=old&#39;x&b", "/p?_es=V&b"),
            ("/p?_es=old&&#39;x", "/p?_es=V&&#39;x"),
        ] {
            assert_eq!(r(link).as_deref(), Some(carrying), "{link:?}");
        }
        // A URL written as it is (a `Location`) has its fragment at its first `#`.
        assert_eq!(
            rewrite_url(base, "/p?q=O&#39;x", "_es", "V", Written::Plain).as_deref(),
            Some("/p?q=O&_es=V#39;x")
        );
        assert_eq!(
            rewrite_url("not a url", "/a", "_es", "V", Written::Plain),
            None
        );
    }

    #[test]
    fn keeps_the_ampersand_of_a_named_reference_in_html() {
        let r = |url| rewrite_url("https://app.example/", url, "_es", "V", Written::Html);
        // A leading `&amp;` lost its `&` with the empty pair before it: a browser read
        // `amp;page=2`, and the origin had no `page`.
        for (link, carrying) in [
            ("/list?&amp;page=2", "/list?&amp;page=2&_es=V"),
            ("/list?a=1&&amp;b=2", "/list?a=1&&amp;b=2&_es=V"),
            ("?&quot;x", "?&quot;x&_es=V"),
            ("/p?&lt;x=1#top", "/p?&lt;x=1&_es=V#top"),
            ("/p?&AMP;a=1&&Amp;b", "/p?&AMP;a=1&&Amp;b&_es=V"),
            // `&amp;` is a `&` to a browser: what follows is a pair of its own, kept.
            ("/p?_es=OLD&amp;a=1", "/p?_es=V&amp;a=1"),
            (
                "/p?a=1&amp;_es=OLD&&amp;b",
                "/p?a=1&amp;_es=OLD&&amp;b&_es=V",
            ),
            // After a pair, a pair of its own (`&x;` is no reference to a browser).
            ("/p?_es=OLD&x;y=1", "/p?_es=V&x;y=1"),
            ("/p?&_es=OLD&&quot;x", "/p?_es=V&&quot;x"),
            // `&amp;_es` is the parameter to a browser: replaced.
            ("/p?&amp;_es=OLD", "/p?_es=V"),
            ("/p?a=1&&amp;_es=OLD&b", "/p?a=1&_es=V&b"),
        ] {
            assert_eq!(r(link).as_deref(), Some(carrying), "{link:?}");
        }
    }

    #[test]
    fn leaves_links_read_in_another_charset() {
        // The rewriter read `/café` in a charset the page is not in: the link written back
        // would be `/caf\u{FFFD}`, no longer the page's. Left alone, it keeps its bytes.
        let base = "https://app.example/";
        for link in ["/caf\u{FFFD}", "/p?q=\u{FFFD}", "/a#\u{FFFD}"] {
            assert_eq!(
                rewrite_url(base, link, "_es", "V", Written::Html),
                None,
                "{link:?}"
            );
        }
        assert_eq!(
            rewrite_url(base, "/café", "_es", "V", Written::Html).as_deref(),
            Some("/café?_es=V")
        );
        // A header's URL is as the browser reads it too: it still carries the value.
        assert_eq!(
            rewrite_url(base, "/caf\u{FFFD}", "_es", "V", Written::Plain).as_deref(),
            Some("/caf\u{FFFD}?_es=V")
        );
    }

    #[test]
    fn rewrites_in_place_or_appends() {
        let w = |url| with_param(url, "_aff", "V", Written::Plain);
        assert_eq!(w("https://x.test/p"), "https://x.test/p?_aff=V");
        assert_eq!(w("https://x.test/p?"), "https://x.test/p?_aff=V");
        assert_eq!(w("https://x.test/p?a=1"), "https://x.test/p?a=1&_aff=V");
        assert_eq!(
            w("/p?a=1&_aff=old&b=%20&_aff=x#frag?_aff=y"),
            "/p?a=1&_aff=V&b=%20#frag?_aff=y"
        );
        assert_eq!(w("/p?_aff&&b"), "/p?_aff=V&b");
        assert_eq!(w("#f"), "?_aff=V#f");
        for url in ["/p?a=1&_aff=old", "https://x.test/?q=é#_aff"] {
            assert_eq!(param_values(&w(url), "_aff").collect::<Vec<_>>(), ["V"]);
        }
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rewriting_sets_exactly_one_value(url in any::<String>()) {
            let rewritten = with_param(&url, "_aff", "V", Written::Plain);
            prop_assert_eq!(param_values(&rewritten, "_aff").collect::<Vec<_>>(), ["V"]);
        }

        #[test]
        fn removal_leaves_no_spelling_and_nothing_else_changes(
            pairs in proptest::collection::vec(("[a-z_%5Fe]{0,4}", "[a-zA-Z0-9%+=_]{0,5}"), 0..6),
            ours in proptest::collection::vec(0usize..6, 0..3),
            fragment in proptest::option::of("[a-z?&=_]{0,6}"),
        ) {
            let mut parts: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
            for (k, at) in ours.iter().enumerate() {
                let spelled = ["_es", "%5Fes", "%5fes"][k % 3];
                parts.insert((*at).min(parts.len()), format!("{spelled}=SECRET{k}"));
            }
            let mut url = format!("https://h.test/p?{}", parts.join("&"));
            if let Some(f) = &fragment {
                url.push('#');
                url.push_str(f);
            }
            let out = without_param(&url, "_es");
            let query = split(&out, Written::Plain).1.unwrap_or("");
            prop_assert!(query.split('&').all(|p| !decoded_is(p.split('=').next().unwrap_or(p), "_es")));
            let others: Vec<&str> = split(&url, Written::Plain).1.unwrap_or("").split('&')
                .filter(|p| !decoded_is(p.split_once('=').map_or(*p, |(n, _)| n), "_es")).collect();
            let kept: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
            let others: Vec<&str> = others.into_iter().filter(|p| !p.is_empty()).collect();
            prop_assert_eq!(kept, others);
            let marked = fragment.map(|f| format!("#{f}"));
            prop_assert_eq!(split(&out, Written::Plain).2, marked.as_deref());
            // Put back and taken out again: the same URL (a query left empty loses its `?`).
            prop_assume!(!ours.is_empty());
            let again = with_param(&out, "_es", "V", Written::Plain);
            prop_assert_eq!(param_values(&again, "_es").collect::<Vec<_>>(), ["V"]);
            prop_assert_eq!(without_param(&again, "_es"), out.clone());
        }

        #[test]
        fn other_hosts_never_get_the_value(host in "[a-z.]{1,12}", path in any::<String>()) {
            prop_assume!(host != "app.example");
            for url in [format!("https://{host}/{path}"), format!("//{host}/{path}")] {
                prop_assert_eq!(rewrite_url("https://app.example/", &url, "_es", "V", Written::Html), None);
            }
        }

        #[test]
        fn rewriting_never_panics(base in any::<String>(), url in any::<String>()) {
            if let Some(out) = rewrite_url(&base, &url, "_es", "V", Written::Plain) {
                prop_assert_eq!(param_values(&out, "_es").collect::<Vec<_>>(), ["V"]);
            }
            let _ = rewrite_url(&base, &url, "_es", "V", Written::Html);
        }

        #[test]
        fn in_html_the_value_goes_before_the_fragment(
            query in "[a-z0-9=&#;xX]{0,16}",
            fragment in proptest::option::of("[a-z]{0,4}"),
        ) {
            let mut link = format!("/p?{query}");
            if let Some(f) = &fragment {
                link.push('#');
                link.push_str(f);
            }
            let out = rewrite_url("https://app.example/", &link, "_es", "V", Written::Html);
            let out = out.unwrap_or_default();
            // Where a browser's fragment begins, found again in what was written.
            let at = fragment_at(&out, Written::Html).unwrap_or(out.len());
            prop_assert!(out.get(..at).unwrap_or_default().ends_with("_es=V"), "{link} -> {out}");
        }
    }
}
