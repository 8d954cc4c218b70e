//! The affinity parameter in a URL's query (URL mode): reading it and rewriting the URL.
//!
//! Works on absolute and relative URLs alike without parsing the rest of the URL, which is
//! kept byte for byte. Parameter names are compared as written (the router only accepts names
//! of unreserved characters, which never need percent-encoding).

/// The values of every query parameter called `name`, in order (`a` alone counts as `a=`).
pub(crate) fn param_values<'a>(url: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let query = split(url).1.unwrap_or("");
    query.split('&').filter_map(move |pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (n == name).then_some(v)
    })
}

/// `url` with the parameter `name` set to `value`: in place of the first occurrence (others
/// removed), else appended to the query; the fragment stays last.
pub(crate) fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query, fragment) = split(url);
    let mut out = String::with_capacity(url.len() + name.len() + value.len() + 2);
    out.push_str(base);
    let mut wrote = false;
    let mut separator = '?';
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let ours = pair.split_once('=').map_or(pair, |(n, _)| n) == name;
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
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `(before the query, query, fragment)`, without their `?` and `#`.
fn split(url: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (url, None),
    };
    match rest.split_once('?') {
        Some((base, query)) => (base, Some(query), fragment),
        None => (rest, None, fragment),
    }
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
    fn rewrites_in_place_or_appends() {
        let w = |url| with_param(url, "_aff", "V");
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
            let rewritten = with_param(&url, "_aff", "V");
            prop_assert_eq!(param_values(&rewritten, "_aff").collect::<Vec<_>>(), ["V"]);
        }
    }
}
