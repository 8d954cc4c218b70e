//! Behaviour of affinity routing. These bodies run natively (`cargo test`) and in WebAssembly
//! (`wasm-pack test --node`), where the frozen routing vectors also prove that both platforms
//! decide alike; the property tests at the end run natively.
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edge_session::affinity::{
    Affinity, AffinityConfig, BackendConfig, Failover, Mode, Route, RouteRequest,
};
use edge_session::cookie::SameSite;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const NOW: u64 = 1_800_000_000;
/// 32 bytes of 0x01..0x20, base64url.
const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
/// 32 bytes of 0x21..0x40, base64url.
const OTHER_SECRET: &str = "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0A";
const COOKIE: &str = "__Host-affinity";

fn backends(ids: &[&str]) -> Vec<BackendConfig> {
    ids.iter().map(|&id| BackendConfig::new(id)).collect()
}

fn config(mode: Mode, ids: &[&str]) -> AffinityConfig {
    let mut c = AffinityConfig::new(SECRET, backends(ids));
    c.mode = mode;
    c
}

fn router(mode: Mode, ids: &[&str]) -> Affinity {
    Affinity::new(config(mode, ids)).unwrap()
}

fn ten() -> Vec<String> {
    (0..10).map(|i| format!("b{i}")).collect()
}

/// The `name=value` part of a `Set-Cookie` header, as the browser sends it back.
fn cookie_of(route: &Route<'_>) -> String {
    route
        .set_cookie
        .as_deref()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn with_cookie(cookie: &str) -> RouteRequest<'_> {
    RouteRequest {
        cookie: Some(cookie),
        ..RouteRequest::default()
    }
}

fn new_visitor(entropy: u64) -> RouteRequest<'static> {
    RouteRequest {
        entropy,
        ..RouteRequest::default()
    }
}

/// A cookie pinning a new visitor to `backend`.
fn cookie_on(a: &Affinity, backend: &str, now: u64) -> String {
    for entropy in 0..10_000 {
        let r = a.route(&new_visitor(entropy), now).unwrap();
        if r.backend == backend {
            return cookie_of(&r);
        }
    }
    panic!("no visitor landed on {backend}");
}

fn header_key(i: usize) -> String {
    format!("visitor-{i}")
}

fn by_header<'a>(a: &'a Affinity, key: &str) -> &'a str {
    a.route(
        &RouteRequest {
            header: Some(key),
            ..RouteRequest::default()
        },
        NOW,
    )
    .unwrap()
    .backend
}

// ---- cookie mode ----

#[test]
fn a_new_visitor_gets_a_safe_cookie() {
    let a = router(Mode::Cookie, &["a", "b"]);
    let r = a.route(&new_visitor(1), NOW).unwrap();
    assert!(!r.reassigned);
    assert!(r.url.is_none());
    let set = r.set_cookie.as_deref().unwrap();
    let (pair, attributes) = set.split_once(';').unwrap();
    assert_eq!(
        attributes,
        " Max-Age=1800; Path=/; Secure; HttpOnly; SameSite=Lax"
    );
    let value = pair.strip_prefix("__Host-affinity=").unwrap();
    assert_eq!(value.len(), 52);
    assert!(value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
}

#[test]
fn a_returning_visitor_stays_and_the_cookie_is_refreshed_past_half_the_idle_time() {
    let a = router(Mode::Cookie, &["a", "b", "c"]);
    let first = a.route(&new_visitor(3), NOW).unwrap();
    let cookie = cookie_of(&first);
    // Up to half the idle time (900 s of 1800): honoured, no new cookie.
    for dt in [0, 1, 450, 900] {
        let r = a.route(&with_cookie(&cookie), NOW + dt).unwrap();
        assert_eq!(
            (r.backend, r.reassigned, r.set_cookie.as_deref()),
            (first.backend, false, None),
            "{dt}"
        );
    }
    // Past half: refreshed, same backend, a full idle time again.
    let r = a.route(&with_cookie(&cookie), NOW + 901).unwrap();
    assert_eq!((r.backend, r.reassigned), (first.backend, false));
    assert!(r.set_cookie.as_deref().unwrap().contains("; Max-Age=1800;"));
    let refreshed = cookie_of(&r);
    assert_ne!(refreshed, cookie);
    let later = a.route(&with_cookie(&refreshed), NOW + 901 + 1800).unwrap();
    assert_eq!((later.backend, later.reassigned), (first.backend, false));
}

#[test]
fn the_idle_timeout_is_enforced_at_its_boundary() {
    let a = router(Mode::Cookie, &["a", "b", "c"]);
    let cookie = cookie_of(&a.route(&new_visitor(5), NOW).unwrap());
    assert!(
        !a.route(&with_cookie(&cookie), NOW + 1800)
            .unwrap()
            .reassigned
    );
    let expired = a.route(&with_cookie(&cookie), NOW + 1801).unwrap();
    assert!(expired.reassigned);
    assert!(expired.set_cookie.is_some());
}

/// The idle timeout runs from the value's last re-issue, and a value is re-issued only once past
/// half of it: a visitor whose requests are at most half the idle time apart keeps its backend
/// (until the lifetime), but one idle for just over half of it, after a request that re-issued
/// nothing, has lost it (docs/affinity.md: the inactivity tolerated is half `idleSeconds` at
/// worst).
#[test]
fn the_idle_time_runs_from_the_last_re_issue_not_the_last_request() {
    let a = router(Mode::Cookie, &["a", "b", "c"]);
    let first = a.route(&new_visitor(6), NOW).unwrap();
    let mut cookie = cookie_of(&first);
    // Gaps of 1 to 900 s (half of 1800), the browser keeping what it is sent.
    let mut t = NOW;
    for step in 0..150u64 {
        t += 1 + (step * 7919) % 900;
        let r = a.route(&with_cookie(&cookie), t).unwrap();
        assert_eq!(
            (r.backend, r.reassigned),
            (first.backend, false),
            "+{}",
            t - NOW
        );
        if r.set_cookie.is_some() {
            cookie = cookie_of(&r);
        }
    }
    assert!(t - NOW > 50_000 && t - NOW < 86_400, "{}", t - NOW);
    // A request at half the idle time re-issues nothing; 901 s later the value has ended.
    let cookie = cookie_of(&a.route(&new_visitor(6), NOW).unwrap());
    let half = a.route(&with_cookie(&cookie), NOW + 900).unwrap();
    assert!(!half.reassigned && half.set_cookie.is_none());
    assert!(
        a.route(&with_cookie(&cookie), NOW + 1801)
            .unwrap()
            .reassigned
    );
}

#[test]
fn the_lifetime_is_enforced_at_its_boundary_however_active_the_visitor() {
    let mut c = config(Mode::Cookie, &["a", "b", "c"]);
    c.ttl_seconds = 3600;
    c.idle_seconds = Some(1000);
    let a = Affinity::new(c).unwrap();
    let first = a.route(&new_visitor(9), NOW).unwrap();
    let mut cookie = cookie_of(&first);
    let mut t = NOW;
    // Active every 600 s: refreshed, never beyond the lifetime.
    while t + 600 <= NOW + 3600 {
        t += 600;
        let r = a.route(&with_cookie(&cookie), t).unwrap();
        assert_eq!(
            (r.backend, r.reassigned),
            (first.backend, false),
            "at +{}",
            t - NOW
        );
        if let Some(set) = &r.set_cookie {
            let max_age: u64 = set
                .split("Max-Age=")
                .nth(1)
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(max_age, 1000.min(NOW + 3600 - t));
            cookie = cookie_of(&r);
        }
    }
    assert!(
        !a.route(&with_cookie(&cookie), NOW + 3600)
            .unwrap()
            .reassigned
    );
    assert!(
        a.route(&with_cookie(&cookie), NOW + 3601)
            .unwrap()
            .reassigned
    );
}

#[test]
fn values_from_the_future_are_honoured_only_within_the_clock_skew() {
    let a = router(Mode::Cookie, &["a", "b"]);
    let ahead = cookie_of(&a.route(&new_visitor(1), NOW + 60).unwrap());
    assert!(!a.route(&with_cookie(&ahead), NOW).unwrap().reassigned);
    let too_far = cookie_of(&a.route(&new_visitor(1), NOW + 61).unwrap());
    assert!(a.route(&with_cookie(&too_far), NOW).unwrap().reassigned);
}

#[test]
fn every_changed_character_is_not_honoured() {
    let a = router(Mode::Cookie, &["a", "b", "c"]);
    let cookie = cookie_of(&a.route(&new_visitor(2), NOW).unwrap());
    let (name, value) = cookie.split_once('=').unwrap();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in 0..value.len() {
        for &c in &[alphabet[i % 64], alphabet[(i + 17) % 64]] {
            let mut bytes = value.as_bytes().to_vec();
            if bytes[i] == c {
                continue;
            }
            bytes[i] = c;
            let tampered = format!("{name}={}", String::from_utf8(bytes).unwrap());
            let r = a.route(&with_cookie(&tampered), NOW).unwrap();
            assert!(r.reassigned && r.set_cookie.is_some(), "position {i}");
        }
    }
    // Truncated, extended, another secret's, junk: never honoured, never an error.
    let other = Affinity::new(AffinityConfig::new(
        OTHER_SECRET,
        backends(&["a", "b", "c"]),
    ))
    .unwrap();
    let foreign = cookie_of(&other.route(&new_visitor(2), NOW).unwrap());
    for bad in [
        cookie[..cookie.len() - 1].to_owned(),
        format!("{cookie}A"),
        foreign,
        format!("{COOKIE}="),
        format!("{COOKIE}=\u{e9}\u{e9}"),
        format!("{COOKIE}={}", "A".repeat(5000)),
    ] {
        let r = a.route(&with_cookie(&bad), NOW).unwrap();
        assert!(r.reassigned, "{bad}");
    }
}

#[test]
fn the_cookie_header_may_hold_other_cookies_spaces_duplicates_and_junk() {
    let a = router(Mode::Cookie, &["a", "b", "c"]);
    let first = a.route(&new_visitor(4), NOW).unwrap();
    let cookie = cookie_of(&first);
    let value = cookie.split_once('=').unwrap().1;
    for header in [
        format!("_ga=GA1.2.3;  {cookie} ; theme=dark"),
        format!("junk;;=;{COOKIE}=forged; {COOKIE}={value}"),
        format!("{COOKIE}=\"{value}\""),
    ] {
        let r = a.route(&with_cookie(&header), NOW + 5).unwrap();
        assert_eq!(
            (r.backend, r.reassigned, r.set_cookie.as_deref()),
            (first.backend, false, None),
            "{header}"
        );
    }
    // Other cookies only: a new visitor, not a reassigned one.
    let r = a
        .route(&with_cookie("a=1; __Host-affinityX=2"), NOW)
        .unwrap();
    assert!(!r.reassigned && r.set_cookie.is_some());
}

/// Only a cookie of exactly the configured name is read. A browser that matches the `__Host-`
/// prefix case-sensitively (as browsers did before RFC 6265bis) lets a sibling subdomain set
/// `__host-affinity` with a `Domain`: read as ours, such a cookie (holding a value the sibling
/// got for itself) would pick the visitor's backend, which the prefix is there to prevent.
#[test]
fn a_cookie_named_like_ours_in_another_case_is_not_ours() {
    let a = router(Mode::Cookie, &["a", "b", "c"]);
    let cookie = cookie_on(&a, "c", NOW);
    let value = cookie.split_once('=').unwrap().1;
    for name in ["__host-affinity", "__HOST-AFFINITY", "__Host-Affinity"] {
        let r = a
            .route(&with_cookie(&format!("{name}={value}")), NOW + 5)
            .unwrap();
        // A new visitor: nothing presented, so not reassigned, and a value of its own.
        assert!(!r.reassigned && r.set_cookie.is_some(), "{name}");
    }
}

#[test]
fn cookie_attributes_follow_the_configuration() {
    let mut c = config(Mode::Cookie, &["a"]);
    c.cookie_name = "aff".into();
    c.same_site = SameSite::None;
    c.domain = Some("example.com".into());
    c.partitioned = true;
    let a = Affinity::new(c).unwrap();
    let set = a.route(&new_visitor(1), NOW).unwrap().set_cookie.unwrap();
    assert!(set.starts_with("aff="));
    assert!(set.ends_with("; Max-Age=1800; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=None; Partitioned"), "{set}");
    let mut c = config(Mode::Cookie, &["a"]);
    c.same_site = SameSite::Strict;
    let set = Affinity::new(c)
        .unwrap()
        .route(&new_visitor(1), NOW)
        .unwrap()
        .set_cookie
        .unwrap();
    assert!(set.ends_with("; SameSite=Strict"));
}

/// A browser withholds a `SameSite` cookie from a cross-site request (`Lax`: a form another site
/// posts; `Strict`: any) yet keeps one set by the answer to a top-level navigation: a new
/// visitor's value there would replace the visitor's own, and any site could move visitors off
/// their backend with a form. Such a request presenting no cookie is routed, with none to set;
/// one presenting a cookie is handled as ever (an invalid one replaced).
#[test]
fn a_cross_site_request_the_cookie_was_withheld_from_gets_none() {
    for (same_site, method, site, set) in [
        (SameSite::Lax, Some("POST"), Some("cross-site"), false),
        (SameSite::Lax, Some("DELETE"), Some("cross-site"), false),
        (SameSite::Lax, Some("GET"), Some("cross-site"), true),
        (SameSite::Lax, Some("HEAD"), Some("cross-site"), true),
        (SameSite::Lax, None, Some("cross-site"), true),
        (SameSite::Lax, Some("POST"), Some("same-site"), true),
        (SameSite::Lax, Some("POST"), Some("same-origin"), true),
        (SameSite::Lax, Some("POST"), Some("none"), true),
        (SameSite::Lax, Some("POST"), None, true),
        (SameSite::Strict, Some("GET"), Some("cross-site"), false),
        (SameSite::Strict, None, Some("cross-site"), false),
        (SameSite::Strict, Some("GET"), Some("same-site"), true),
        (SameSite::None, Some("POST"), Some("cross-site"), true),
    ] {
        let mut c = config(Mode::Cookie, &["a", "b"]);
        c.same_site = same_site;
        let a = Affinity::new(c).unwrap();
        let request = |cookie| RouteRequest {
            cookie,
            method,
            fetch_site: site,
            ..new_visitor(7)
        };
        let case = format!("{same_site:?} {method:?} {site:?}");
        let r = a.route(&request(Some("other=1")), NOW).unwrap();
        assert_eq!(r.set_cookie.is_some(), set, "{case}");
        assert!(!r.reassigned, "{case}");
        // Presented all the same: honoured, or replaced when it is not.
        let forged = format!("{COOKIE}=forged");
        let r = a.route(&request(Some(&forged)), NOW).unwrap();
        assert!(r.reassigned && r.set_cookie.is_some(), "{case}");
        let honoured = cookie_on(&a, "b", NOW);
        let r = a.route(&request(Some(&honoured)), NOW).unwrap();
        assert_eq!((r.backend, r.reassigned), ("b", false), "{case}");
    }
    // Only cookie mode sets a cookie; URL mode still gives its URL.
    let a = router(Mode::Url, &["a"]);
    let request = RouteRequest {
        url: Some("https://app.example/x"),
        method: Some("POST"),
        fetch_site: Some("cross-site"),
        ..new_visitor(1)
    };
    assert!(a.route(&request, NOW).unwrap().url.is_some());
}

// ---- health, failover, draining ----

#[test]
fn a_visitor_whose_backend_is_down_moves_once_and_does_not_flap_back() {
    let mut a = router(Mode::Cookie, &["a", "b", "c"]);
    let cookie = cookie_on(&a, "a", NOW);
    a.set_healthy("a", false).unwrap();
    let moved = a.route(&with_cookie(&cookie), NOW + 10).unwrap();
    assert!(moved.reassigned);
    assert_ne!(moved.backend, "a");
    let new_backend = moved.backend.to_owned();
    let new_cookie = cookie_of(&moved);

    // Another edge location, same secret and health: the same choice for the same cookie.
    let mut elsewhere = router(Mode::Cookie, &["c", "b", "a"]);
    elsewhere.set_healthy("a", false).unwrap();
    assert_eq!(
        elsewhere
            .route(&with_cookie(&cookie), NOW + 11)
            .unwrap()
            .backend,
        new_backend
    );

    a.set_healthy("a", true).unwrap();
    for dt in [20, 500, 900] {
        let r = a.route(&with_cookie(&new_cookie), NOW + dt).unwrap();
        assert_eq!((r.backend, r.reassigned), (new_backend.as_str(), false));
    }
    // The old cookie, still live, is honoured again now that its backend is back.
    assert_eq!(
        a.route(&with_cookie(&cookie), NOW + 30).unwrap().backend,
        "a"
    );
}

#[test]
fn a_clone_keeps_the_health_and_draining_it_was_given_and_goes_its_own_way_after() {
    let mut a = router(Mode::Cookie, &["a", "b", "c"]);
    let on_a = cookie_on(&a, "a", NOW);
    let on_b = cookie_on(&a, "b", NOW);
    a.set_healthy("a", false).unwrap();
    a.set_draining("b", true).unwrap();
    let mut copy = a.clone();
    for r in [&a, &copy] {
        assert!(r.route(&with_cookie(&on_a), NOW).unwrap().reassigned);
        // Draining: its visitors stay, no new one comes.
        assert_eq!(r.route(&with_cookie(&on_b), NOW).unwrap().backend, "b");
        for entropy in 0..200 {
            assert_eq!(r.route(&new_visitor(entropy), NOW).unwrap().backend, "c");
        }
    }
    // Changes to the copy are the copy's.
    copy.set_healthy("a", true).unwrap();
    assert!(!copy.route(&with_cookie(&on_a), NOW).unwrap().reassigned);
    assert!(a.route(&with_cookie(&on_a), NOW).unwrap().reassigned);
}

#[test]
fn strict_failover_refuses_to_move_a_visitor() {
    let mut c = config(Mode::Cookie, &["a", "b", "c"]);
    c.failover = Failover::Strict;
    let mut a = Affinity::new(c).unwrap();
    let on_a = cookie_on(&a, "a", NOW);
    let on_b = cookie_on(&a, "b", NOW);
    a.set_healthy("a", false).unwrap();
    let err = a.route(&with_cookie(&on_a), NOW).unwrap_err();
    assert_eq!(err.code(), "backend_unavailable");
    assert!(err.to_string().contains("\"a\""));
    assert_eq!(a.route(&with_cookie(&on_b), NOW).unwrap().backend, "b");
    for entropy in 0..100 {
        assert_ne!(a.route(&new_visitor(entropy), NOW).unwrap().backend, "a");
    }
    // Invalid values are not state worth failing for: treated as new.
    assert!(
        a.route(&with_cookie("__Host-affinity=forged"), NOW)
            .unwrap()
            .reassigned
    );
    a.set_healthy("a", true).unwrap();
    assert_eq!(a.route(&with_cookie(&on_a), NOW).unwrap().backend, "a");
}

/// The id of a backend that is down is named as every other message names a configured id:
/// one longer than 15 bytes (an address with credentials in it) is not shown, since this
/// error reaches logs, and apps that answer with its message, at every request of its visitors.
#[test]
fn strict_failover_never_shows_a_long_backend_id() {
    let id = "https://admin:s3cr3t@origin-a.internal:8443";
    let mut c = config(Mode::Cookie, &[id, "b"]);
    c.failover = Failover::Strict;
    let mut a = Affinity::new(c).unwrap();
    let on_it = cookie_on(&a, id, NOW);
    a.set_healthy(id, false).unwrap();
    let err = a.route(&with_cookie(&on_it), NOW).unwrap_err();
    assert_eq!(err.code(), "backend_unavailable");
    assert_eq!(
        err.to_string(),
        "backend \"<more than 15 bytes, not shown>\" is down and the failover policy is strict"
    );
}

#[test]
fn strict_failover_in_the_hashing_modes() {
    let mut c = config(Mode::Header, &["a", "b", "c"]);
    c.failover = Failover::Strict;
    let mut a = Affinity::new(c).unwrap();
    let keys: Vec<String> = (0..60).map(header_key).collect();
    let homes: Vec<String> = keys.iter().map(|k| by_header(&a, k).to_owned()).collect();
    a.set_healthy("a", false).unwrap();
    for (k, home) in keys.iter().zip(&homes) {
        let r = a.route(
            &RouteRequest {
                header: Some(k),
                ..RouteRequest::default()
            },
            NOW,
        );
        match home.as_str() {
            "a" => assert_eq!(r.unwrap_err().code(), "backend_unavailable"),
            _ => assert_eq!(r.unwrap().backend, home),
        }
    }
}

/// A request without a key (no address, no header) has no backend to keep: strict failover
/// has nothing to refuse for, and it goes to a healthy backend, as a new cookie visitor does.
#[test]
fn strict_failover_sends_a_request_without_a_key_to_a_healthy_backend() {
    for mode in [Mode::Ip, Mode::Header] {
        let mut c = config(mode, &["a", "b", "c"]);
        c.failover = Failover::Strict;
        let mut a = Affinity::new(c).unwrap();
        a.set_healthy("a", false).unwrap();
        for entropy in 0..200 {
            for blank in [None, Some(""), Some("  ")] {
                let request = RouteRequest {
                    client_ip: blank,
                    header: blank,
                    entropy,
                    ..RouteRequest::default()
                };
                let r = a.route(&request, NOW);
                assert!(
                    r.as_ref().is_ok_and(|r| r.backend != "a"),
                    "{mode:?} {entropy} {blank:?}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn no_healthy_backend_is_an_error_in_every_mode() {
    for mode in [Mode::Cookie, Mode::Url, Mode::Ip, Mode::Header] {
        for failover in [Failover::Sticky, Failover::Strict] {
            let mut c = config(mode, &["a", "b"]);
            c.failover = failover;
            let mut a = Affinity::new(c).unwrap();
            a.set_healthy("a", false).unwrap();
            a.set_healthy("b", false).unwrap();
            let request = RouteRequest {
                url: Some("/"),
                client_ip: Some("192.0.2.1"),
                header: Some("t"),
                ..RouteRequest::default()
            };
            let err = a.route(&request, NOW).unwrap_err();
            assert_eq!(err.code(), "no_backend", "{mode:?} {failover:?}");
            assert_eq!(err.to_string(), "no backend is healthy");
        }
    }
    // A visitor holding a live value too: with every backend down it is `no_backend` whatever
    // the failover (as in the hashing modes), not `backend_unavailable`, which says that other
    // backends are up.
    for mode in [Mode::Cookie, Mode::Url] {
        for failover in [Failover::Sticky, Failover::Strict] {
            let mut c = config(mode, &["a", "b"]);
            c.failover = failover;
            let mut a = Affinity::new(c).unwrap();
            let issued = a
                .route(
                    &RouteRequest {
                        url: Some("/"),
                        ..RouteRequest::default()
                    },
                    NOW,
                )
                .unwrap();
            let (url, cookie) = (
                issued.url.clone(),
                issued
                    .set_cookie
                    .as_deref()
                    .map(|c| c.split(';').next().unwrap().to_owned()),
            );
            let returning = RouteRequest {
                url: Some(url.as_deref().unwrap_or("/")),
                cookie: cookie.as_deref(),
                ..RouteRequest::default()
            };
            assert!(!a.route(&returning, NOW + 1).unwrap().reassigned);
            a.set_healthy("a", false).unwrap();
            a.set_healthy("b", false).unwrap();
            let err = a.route(&returning, NOW + 1).unwrap_err();
            assert_eq!(err.code(), "no_backend", "{mode:?} {failover:?}, returning");
        }
    }
}

#[test]
fn a_draining_backend_keeps_its_visitors_and_takes_no_new_ones() {
    let mut a = router(Mode::Cookie, &["a", "b", "c"]);
    let on_a = cookie_on(&a, "a", NOW);
    a.set_draining("a", true).unwrap();
    for dt in [0, 100, 1000] {
        let r = a.route(&with_cookie(&on_a), NOW + dt).unwrap();
        assert_eq!((r.backend, r.reassigned), ("a", false));
    }
    for entropy in 0..300 {
        assert_ne!(a.route(&new_visitor(entropy), NOW).unwrap().backend, "a");
    }
    // Until its affinity ends: then the visitor goes elsewhere.
    assert_ne!(
        a.route(&with_cookie(&on_a), NOW + 1000 + 1801)
            .unwrap()
            .backend,
        "a"
    );
    // Draining and down: moves at once.
    a.set_healthy("a", false).unwrap();
    assert!(a.route(&with_cookie(&on_a), NOW + 10).unwrap().reassigned);
    // Everything healthy draining: new visitors still get a backend.
    a.set_draining("b", true).unwrap();
    a.set_draining("c", true).unwrap();
    assert!(a.route(&new_visitor(1), NOW).is_ok());
    a.set_draining("a", false).unwrap();
    a.set_healthy("a", true).unwrap();
    assert_eq!(a.route(&new_visitor(1), NOW).unwrap().backend, "a");
}

/// Whatever the failover: strict failover holds a key to its home among the backends that are
/// not draining.
#[test]
fn draining_in_a_hashing_mode_moves_only_its_keys() {
    let ids = ["a", "b", "c", "d"];
    for failover in [Failover::Sticky, Failover::Strict] {
        let mut c = config(Mode::Header, &ids);
        c.failover = failover;
        let mut a = Affinity::new(c).unwrap();
        let keys: Vec<String> = (0..400).map(header_key).collect();
        let before: Vec<String> = keys.iter().map(|k| by_header(&a, k).to_owned()).collect();
        for id in ids {
            assert!(
                before.iter().any(|b| b == id),
                "{failover:?}: no key on {id}"
            );
        }
        a.set_draining("b", true).unwrap();
        for (k, old) in keys.iter().zip(&before) {
            let now = by_header(&a, k);
            if old == "b" {
                assert_ne!(now, "b", "{failover:?}");
            } else {
                assert_eq!(now, old, "{failover:?}");
            }
        }
    }
}

/// The hashing modes carry no value, but a keyed visitor sent away from its first choice (down,
/// or draining, which hands its keys on at once) is moved all the same: `reassigned`, on every
/// request while that lasts, as the gateway's `x-session-reassigned`. A request without a key
/// has no first choice: never reassigned.
#[test]
fn a_hashed_visitor_sent_away_from_its_first_choice_is_reassigned() {
    for mode in [Mode::Header, Mode::Ip] {
        let mut a = router(mode, &["a", "b", "c", "d"]);
        let keys: Vec<String> = (0..200).map(|i| format!("192.0.2.{i}")).collect();
        let route = |a: &Affinity, k: &str| {
            let r = a
                .route(
                    &RouteRequest {
                        header: Some(k),
                        client_ip: Some(k),
                        ..RouteRequest::default()
                    },
                    NOW,
                )
                .unwrap();
            (r.backend.to_owned(), r.reassigned)
        };
        let first: Vec<String> = keys.iter().map(|k| route(&a, k).0).collect();
        assert!(keys.iter().all(|k| !route(&a, k).1), "{mode:?}: all up");
        for (change, on) in [("down", false), ("draining", true)] {
            match on {
                false => a.set_healthy("b", false).unwrap(),
                true => a.set_draining("b", true).unwrap(),
            }
            for (k, home) in keys.iter().zip(&first) {
                let (backend, reassigned) = route(&a, k);
                assert_ne!(backend, "b");
                assert_eq!(
                    reassigned,
                    home == "b",
                    "{mode:?}, b {change}: {k} of {home}"
                );
            }
            a.set_healthy("b", true).unwrap();
            a.set_draining("b", false).unwrap();
            assert!(keys.iter().all(|k| !route(&a, k).1), "{mode:?}: b back");
        }
        // Without a key: a new visitor each time, never reassigned.
        a.set_healthy("b", false).unwrap();
        for entropy in 0..50 {
            assert!(!a.route(&new_visitor(entropy), NOW).unwrap().reassigned);
        }
    }
}

/// A login pins the visitor to the origin that logged it in, with a fresh value (a new visitor
/// id each time, whatever it held before); only cookie mode carries one.
#[test]
fn assign_pins_a_fresh_visitor_to_the_given_backend() {
    let ids = ["a", "b", "c"];
    let a = router(Mode::Cookie, &ids);
    for backend in ids {
        let one = a.assign(backend, 1, NOW).unwrap();
        let two = a.assign(backend, 1, NOW).unwrap();
        assert_eq!(
            (one.backend, one.reassigned, one.url.as_deref()),
            (backend, false, None)
        );
        assert_ne!(one.set_cookie, two.set_cookie);
        for cookie in [cookie_of(&one), cookie_of(&two)] {
            let r = a.route(&with_cookie(&cookie), NOW + 1).unwrap();
            assert_eq!((r.backend, r.reassigned), (backend, false));
        }
    }
    let latest = edge_session::time::LATEST_NOW;
    assert!(a.assign("b", 1, latest).is_ok());
    let code = |r: Result<Route<'_>, edge_session::Error>| r.unwrap_err().code();
    assert_eq!(code(a.assign("b", 1, latest + 1)), "invalid_config");
    assert_eq!(code(a.assign("z", 1, NOW)), "invalid_config");
    for mode in [Mode::Url, Mode::Ip, Mode::Header] {
        let a = router(mode, &ids);
        let r = a.assign("c", 1, NOW).unwrap();
        assert_eq!(
            (r.backend, r.reassigned, r.set_cookie, r.url),
            ("c", false, None, None)
        );
    }
}

#[test]
fn unknown_ids_are_refused() {
    let mut a = router(Mode::Cookie, &["a"]);
    assert_eq!(
        a.set_healthy("z", false).unwrap_err().code(),
        "invalid_config"
    );
    assert_eq!(
        a.set_draining("z", true).unwrap_err().code(),
        "invalid_config"
    );
}

// ---- configuration changes ----

#[test]
fn cookie_visitors_stay_when_backends_are_added_and_only_a_removed_ones_move() {
    let before = router(Mode::Cookie, &["a", "b", "c"]);
    let cookies: Vec<(String, String)> = (0..300)
        .map(|e| {
            let r = before.route(&new_visitor(e), NOW).unwrap();
            (r.backend.to_owned(), cookie_of(&r))
        })
        .collect();
    let added = router(Mode::Cookie, &["a", "b", "c", "d"]);
    for (backend, cookie) in &cookies {
        let r = added.route(&with_cookie(cookie), NOW + 1).unwrap();
        assert_eq!((r.backend, r.reassigned), (backend.as_str(), false));
    }
    let removed = router(Mode::Cookie, &["a", "b"]);
    for (backend, cookie) in &cookies {
        let r = removed.route(&with_cookie(cookie), NOW + 1).unwrap();
        if backend == "c" {
            assert!(r.reassigned && r.set_cookie.is_some());
        } else {
            assert_eq!((r.backend, r.reassigned), (backend.as_str(), false));
        }
    }
}

#[test]
fn removing_one_of_ten_moves_only_its_keys_and_adding_one_moves_about_a_tenth() {
    let ids = ten();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let all = router(Mode::Header, &ids);
    let without = router(Mode::Header, &[&ids[..3], &ids[4..]].concat());
    let with_more = router(Mode::Header, &[&ids[..], &["b10"][..]].concat());
    let n = 5000;
    let (mut moved_out, mut moved_in) = (0, 0);
    for i in 0..n {
        let k = header_key(i);
        let home = by_header(&all, &k);
        let after = by_header(&without, &k);
        if home == "b3" {
            moved_out += 1;
        } else {
            assert_eq!(after, home, "{k} moved though its backend stayed");
        }
        let after = by_header(&with_more, &k);
        if after != home {
            assert_eq!(after, "b10");
            moved_in += 1;
        }
    }
    let share_out = moved_out as f64 / n as f64;
    let share_in = moved_in as f64 / n as f64;
    assert!((share_out - 0.1).abs() < 0.015, "{share_out}");
    assert!((share_in - 1.0 / 11.0).abs() < 0.015, "{share_in}");
}

#[test]
fn load_is_balanced_and_follows_the_weights() {
    let ids = ten();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let a = router(Mode::Header, &ids);
    let n = 20_000;
    let mut load = [0usize; 10];
    for i in 0..n {
        let b = by_header(&a, &header_key(i));
        load[b[1..].parse::<usize>().unwrap()] += 1;
    }
    let max = *load.iter().max().unwrap() as f64;
    assert!(max / (n as f64 / 10.0) < 1.06, "{load:?}");

    let mut c = AffinityConfig::new(
        SECRET,
        vec![
            BackendConfig::weighted("w1", 1),
            BackendConfig::weighted("w2", 2),
            BackendConfig::weighted("w3", 3),
        ],
    );
    c.mode = Mode::Header;
    let a = Affinity::new(c).unwrap();
    let n = 12_000;
    let mut counts = [0usize; 3];
    for i in 0..n {
        let b = by_header(&a, &header_key(i));
        counts[b[1..].parse::<usize>().unwrap() - 1] += 1;
    }
    for (i, &count) in counts.iter().enumerate() {
        let want = (i + 1) as f64 / 6.0;
        let got = count as f64 / n as f64;
        assert!(
            (got - want).abs() < 0.02,
            "weight {}: {got} vs {want}",
            i + 1
        );
    }
}

/// Frozen: which backend these keys go to (tests/vectors/affinity.json, also checked from
/// JavaScript). A change here re-routes every key in the world, and must be deliberate. Run
/// natively and in WebAssembly, it shows both decide alike. The cookie and URL entries hold
/// values issued before (the value's format and its keyed backend reference): a version that
/// reads them otherwise reassigns every visitor it meets while two versions run.
#[test]
fn frozen_routing_vectors() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("vectors/affinity.json")).unwrap();
    let entries = vectors["routing"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    let list = |v: &serde_json::Value, name: &str| -> Vec<String> {
        v.get(name).map_or(Vec::new(), |l| {
            let l = l.as_array().unwrap();
            l.iter().map(|s| s.as_str().unwrap().to_owned()).collect()
        })
    };
    for v in entries {
        let name = v["name"].as_str().unwrap();
        let mut a = Affinity::new(serde_json::from_value(v["config"].clone()).unwrap()).unwrap();
        for id in list(v, "down") {
            a.set_healthy(&id, false).unwrap();
        }
        for id in list(v, "draining") {
            a.set_draining(&id, true).unwrap();
        }
        let now = v["now"].as_u64().unwrap();
        let inputs: Vec<(&str, String)> = ["headers", "clientIps", "cookies", "urls"]
            .into_iter()
            .flat_map(|kind| list(v, kind).into_iter().map(move |x| (kind, x)))
            .collect();
        assert!(!inputs.is_empty(), "{name}");
        let (mut got, mut moved) = (String::new(), String::new());
        for (kind, x) in &inputs {
            let x = Some(x.as_str());
            let request = match *kind {
                "headers" => RouteRequest {
                    header: x,
                    ..RouteRequest::default()
                },
                "clientIps" => RouteRequest {
                    client_ip: x,
                    ..RouteRequest::default()
                },
                "cookies" => RouteRequest {
                    cookie: x,
                    ..RouteRequest::default()
                },
                _ => RouteRequest {
                    url: x,
                    ..RouteRequest::default()
                },
            };
            let route = a.route(&request, now).unwrap();
            got.push_str(route.backend);
            moved.push(if route.reassigned { '1' } else { '0' });
        }
        assert_eq!(got, v["expected"].as_str().unwrap(), "{name}");
        if let Some(reassigned) = v.get("reassigned") {
            assert_eq!(moved, reassigned.as_str().unwrap(), "{name}: reassigned");
        }
    }
}

// ---- URL, IP and header modes ----

#[test]
fn rotating_the_secret_moves_nobody() {
    let ids = ["a", "b", "c", "d"];
    let old = router(Mode::Cookie, &ids);
    let mut rotated = config(Mode::Cookie, &ids);
    rotated.secret = OTHER_SECRET.into();
    rotated.previous_secrets = vec![SECRET.into()];
    let rotated = Affinity::new(rotated).unwrap();
    for backend in ids {
        let cookie = cookie_on(&old, backend, NOW);
        // Honoured where the old secret is a previous one, and signed again with the new one
        // on the spot, though it is far from half its idle time.
        let first = rotated.route(&with_cookie(&cookie), NOW + 1).unwrap();
        assert_eq!((first.backend, first.reassigned), (backend, false));
        let resigned = cookie_of(&first);
        assert_ne!(resigned, cookie);
        let again = rotated.route(&with_cookie(&resigned), NOW + 2).unwrap();
        assert_eq!((again.backend, again.reassigned), (backend, false));
        assert_eq!(again.set_cookie, None, "a current value is not re-sent");
        // The old value still lives only as long as it would have: idle and lifetime hold.
        assert!(
            rotated
                .route(&with_cookie(&cookie), NOW + 1801)
                .unwrap()
                .reassigned
        );
    }
    // Without the old secret, its values are not honoured: every visitor would be reassigned.
    let mut forgetful = config(Mode::Cookie, &ids);
    forgetful.secret = OTHER_SECRET.into();
    let forgetful = Affinity::new(forgetful).unwrap();
    let cookie = cookie_on(&old, "a", NOW);
    assert!(
        forgetful
            .route(&with_cookie(&cookie), NOW + 1)
            .unwrap()
            .reassigned
    );
}

/// A deploy spreads (or a gradual deployment splits traffic): for a while some requests meet the
/// old configuration and some the new. Rotated in one step, an instance of the old one cannot
/// verify what the new one signs, and reassigns that visitor. Rotated in two (the new secret
/// first a previous one, verify only; the next deploy makes it current), both versions honour
/// each other's values: nobody moves, whichever version each request meets (docs/affinity.md).
#[test]
fn rotating_in_two_steps_moves_nobody_while_two_versions_run() {
    let ids = ["a", "b", "c", "d"];
    let with = |secret: &str, previous: &[&str]| {
        let mut c = config(Mode::Cookie, &ids);
        c.secret = secret.into();
        c.previous_secrets = previous.iter().map(|s| (*s).to_owned()).collect();
        Affinity::new(c).unwrap()
    };
    let before = with(SECRET, &[]);
    let step_one = with(SECRET, &[OTHER_SECRET]);
    let step_two = with(OTHER_SECRET, &[SECRET]);
    // One step: the old version reassigns the visitors the new one signed again.
    let cookie = cookie_on(&before, "a", NOW);
    let signed_anew = cookie_of(&step_two.route(&with_cookie(&cookie), NOW + 1).unwrap());
    assert!(
        before
            .route(&with_cookie(&signed_anew), NOW + 2)
            .unwrap()
            .reassigned
    );
    // Two steps: each pair of versions that run together honours both secrets.
    for (old, new) in [(&before, &step_one), (&step_one, &step_two)] {
        for backend in ids {
            let mut cookie = cookie_on(old, backend, NOW);
            for t in 1..40 {
                let version = if t % 3 == 0 { old } else { new };
                let r = version.route(&with_cookie(&cookie), NOW + t).unwrap();
                assert_eq!((r.backend, r.reassigned), (backend, false), "at +{t}");
                if r.set_cookie.is_some() {
                    cookie = cookie_of(&r);
                }
            }
        }
    }
}

/// The cookie's name and the URL parameter go to every visitor, the header's name to origins: a
/// secret of the router (or a previous one) in any of them is refused, naming the option and
/// never quoting it. It was taken, and `Set-Cookie: __Host-<secret>=...` went to every visitor.
#[test]
fn no_public_name_holds_a_secret() {
    for (option, secret) in [
        ("cookieName", SECRET),
        ("cookieName", OTHER_SECRET),
        ("param", SECRET),
        ("header", OTHER_SECRET),
    ] {
        let mut c = config(Mode::Cookie, &["a"]);
        c.previous_secrets = vec![OTHER_SECRET.into()];
        match option {
            "cookieName" => c.cookie_name = format!("__Host-{secret}"),
            "param" => c.param = secret.into(),
            _ => c.header = Some(format!("x-{secret}")),
        }
        let e = Affinity::new(c).unwrap_err();
        assert_eq!((e.code(), e.setting()), ("invalid_config", Some(option)));
        assert!(e.to_string().contains("its value is public"), "{e}");
        assert!(!e.to_string().contains(&secret[..12]), "{e}");
    }
}

#[test]
fn previous_secrets_are_checked() {
    let mut c = config(Mode::Cookie, &["a"]);
    c.previous_secrets = vec![OTHER_SECRET.into(), "c2hvcnQ".into()];
    let e = Affinity::new(c).unwrap_err();
    assert_eq!(e.code(), "invalid_config");
    assert!(e.to_string().contains("previousSecrets[1]"), "{e}");
    // The secret among those it replaced, or one of them twice (in any spelling): a rotation
    // that rotated nothing.
    let padded = format!("{OTHER_SECRET}=");
    for (previous, at) in [
        (vec![SECRET], 0),
        (vec![OTHER_SECRET, SECRET], 1),
        (vec![OTHER_SECRET, &padded], 1),
    ] {
        let mut c = config(Mode::Cookie, &["a"]);
        c.previous_secrets = previous.iter().map(|s| s.to_string()).collect();
        let e = Affinity::new(c).unwrap_err();
        assert_eq!(
            (e.code(), e.setting()),
            ("invalid_config", Some("previousSecrets"))
        );
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("previousSecrets[{at}]: the same secret again")),
            "{shown}"
        );
        assert!(
            !shown.contains(SECRET) && !shown.contains(OTHER_SECRET),
            "{shown}"
        );
    }
    let mut c = config(Mode::Cookie, &["a"]);
    c.previous_secrets = vec![OTHER_SECRET.into(); 9];
    assert!(Affinity::new(c)
        .unwrap_err()
        .to_string()
        .contains("previousSecrets: at most 8"));
}

#[test]
fn url_mode_carries_the_value_in_a_query_parameter() {
    let a = router(Mode::Url, &["a", "b", "c"]);
    let url = "https://app.example/cart?item=3#top";
    let first = a
        .route(
            &RouteRequest {
                url: Some(url),
                entropy: 8,
                ..RouteRequest::default()
            },
            NOW,
        )
        .unwrap();
    assert!(first.set_cookie.is_none() && !first.reassigned);
    let rewritten = first.url.clone().unwrap();
    assert!(
        rewritten.starts_with("https://app.example/cart?item=3&_aff="),
        "{rewritten}"
    );
    assert!(rewritten.ends_with("#top"));
    let again = a
        .route(
            &RouteRequest {
                url: Some(&rewritten),
                ..RouteRequest::default()
            },
            NOW + 10,
        )
        .unwrap();
    assert_eq!(
        (again.backend, again.reassigned, again.url),
        (first.backend, false, None)
    );
    let refreshed = a
        .route(
            &RouteRequest {
                url: Some(&rewritten),
                ..RouteRequest::default()
            },
            NOW + 901,
        )
        .unwrap();
    assert!(refreshed
        .url
        .unwrap()
        .starts_with("https://app.example/cart?item=3&_aff="));
    let forged = a
        .route(
            &RouteRequest {
                url: Some("/cart?_aff=AAAA"),
                ..RouteRequest::default()
            },
            NOW,
        )
        .unwrap();
    assert!(forged.reassigned);
    assert!(!forged.url.unwrap().contains("AAAA"));
    assert_eq!(
        a.route(&RouteRequest::default(), NOW).unwrap_err().code(),
        "invalid_config"
    );

    let mut c = config(Mode::Url, &["a"]);
    c.param = "sticky".into();
    let a = Affinity::new(c).unwrap();
    let r = a
        .route(
            &RouteRequest {
                url: Some("/x"),
                ..RouteRequest::default()
            },
            NOW,
        )
        .unwrap();
    assert!(r.url.unwrap().starts_with("/x?sticky="));
}

#[test]
fn ip_mode_keys_by_address_and_ipv6_by_network() {
    let a = router(
        Mode::Ip,
        &ten().iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let ip = |addr: &str| {
        a.route(
            &RouteRequest {
                client_ip: Some(addr),
                ..RouteRequest::default()
            },
            NOW,
        )
        .unwrap()
    };
    let r = ip("203.0.113.9");
    assert_eq!(
        (r.reassigned, r.set_cookie.as_deref(), r.url.as_deref()),
        (false, None, None)
    );
    assert_eq!(ip(" 203.0.113.9 ").backend, r.backend);
    assert_eq!(ip("::ffff:203.0.113.9").backend, r.backend);
    assert_eq!(
        ip("2001:db8:5:6::1").backend,
        ip("2001:db8:5:6:ffff::2").backend
    );
    let spread: std::collections::BTreeSet<&str> = (0..200)
        .map(|i| ip(&format!("10.0.{}.{}", i / 250, i % 250)).backend)
        .collect();
    assert!(spread.len() >= 9);
    // No address (local development): still routed.
    assert!(a.route(&RouteRequest::default(), NOW).is_ok());
}

#[test]
fn header_mode_agrees_across_routers_and_depends_on_the_secret() {
    let ids = ten();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let a = router(Mode::Header, &ids);
    let mut reversed = ids.clone();
    reversed.reverse();
    let b = router(Mode::Header, &reversed);
    let mut c = config(Mode::Header, &ids);
    c.secret = OTHER_SECRET.into();
    let other = Affinity::new(c).unwrap();
    let mut differ = 0;
    for i in 0..200 {
        let k = header_key(i);
        assert_eq!(by_header(&a, &k), by_header(&b, &k));
        differ += usize::from(by_header(&a, &k) != by_header(&other, &k));
    }
    assert!(differ > 150, "{differ}");
    assert!(a
        .route(
            &RouteRequest {
                header: Some("  "),
                ..RouteRequest::default()
            },
            NOW
        )
        .is_ok());
}

// ---- configuration ----

type Change = Box<dyn Fn(&mut AffinityConfig)>;

#[test]
fn invalid_configuration_is_refused_with_invalid_config() {
    let bad: Vec<(&str, Change)> = vec![
        (
            "short secret",
            Box::new(|c| c.secret = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw".into()),
        ),
        (
            "secret not base64",
            Box::new(|c| c.secret = "not base64!".into()),
        ),
        (
            "short previous secret",
            Box::new(|c| c.previous_secrets = vec!["c2hvcnQ".into()]),
        ),
        ("no backends", Box::new(|c| c.backends.clear())),
        (
            "duplicate ids",
            Box::new(|c| c.backends.push(BackendConfig::new("a"))),
        ),
        ("zero weight", Box::new(|c| c.backends[0].weight = 0)),
        ("empty id", Box::new(|c| c.backends[0].id.clear())),
        ("zero ttl", Box::new(|c| c.ttl_seconds = 0)),
        ("zero idle", Box::new(|c| c.idle_seconds = Some(0))),
        (
            "idle over ttl",
            Box::new(|c| c.idle_seconds = Some(c.ttl_seconds + 1)),
        ),
        (
            "domain on __Host-",
            Box::new(|c| c.domain = Some("example.com".into())),
        ),
        (
            "bad cookie name",
            Box::new(|c| c.cookie_name = "a b".into()),
        ),
        ("bad param", Box::new(|c| c.param = "a&b".into())),
        ("empty param", Box::new(|c| c.param.clear())),
        (
            "bad header",
            Box::new(|c| c.header = Some("x tenant".into())),
        ),
    ];
    for (what, change) in bad {
        let mut c = config(Mode::Cookie, &["a", "b"]);
        change(&mut c);
        let err = Affinity::new(c).unwrap_err();
        assert_eq!(err.code(), "invalid_config", "{what}");
        assert!(
            err.to_string().starts_with("invalid configuration: "),
            "{what}: {err}"
        );
        // Once: a message made of another's (a secret's) does not repeat the prefix.
        assert_eq!(
            err.to_string().matches("invalid configuration").count(),
            1,
            "{what}: {err}"
        );
    }
    let mut c = config(Mode::Cookie, &["a"]);
    c.cookie_name = "aff".into();
    c.domain = Some("example.com".into());
    c.header = Some("X-Tenant".into());
    let a = Affinity::new(c.clone()).unwrap();
    // Checked in every mode, but the header is the key only in header mode: none in the others
    // (the JavaScript `header` getter is `undefined` there, as its type says).
    assert_eq!(a.header_name(), None);
    assert_eq!(a.cookie_name(), "aff");
    assert_eq!(a.mode(), Mode::Cookie);
    c.mode = Mode::Header;
    assert_eq!(Affinity::new(c).unwrap().header_name(), Some("x-tenant"));
}

/// Each length and time limit holds at its boundary: the largest accepted, one more refused,
/// naming the setting.
#[test]
fn configuration_limits_hold_at_their_boundaries() {
    let setting = |change: &dyn Fn(&mut AffinityConfig)| {
        let mut c = config(Mode::Header, &["a", "b"]);
        change(&mut c);
        Affinity::new(c).err().map(|e| (e.code(), e.setting()))
    };
    let refused = |name| Some(("invalid_config", Some(name)));
    let max_time = (1u64 << 53) - 1;
    assert_eq!(setting(&|c| c.ttl_seconds = max_time), None);
    assert_eq!(
        setting(&|c| c.ttl_seconds = max_time + 1),
        refused("ttlSeconds")
    );
    assert_eq!(setting(&|c| c.param = "p".repeat(64)), None);
    assert_eq!(setting(&|c| c.param = "p".repeat(65)), refused("param"));
    assert_eq!(setting(&|c| c.header = Some("h".repeat(256))), None);
    assert_eq!(
        setting(&|c| c.header = Some("h".repeat(257))),
        refused("header")
    );
    assert_eq!(
        setting(&|c| c.header = Some(String::new())),
        refused("header")
    );
    // A backend id of 1 to 256 bytes.
    for (len, refusal) in [
        (256, None),
        (257, refused("backends")),
        (0, refused("backends")),
    ] {
        let id = "b".repeat(len);
        assert_eq!(
            setting(&|c| c.backends[1].id = id.clone()),
            refusal,
            "{len}"
        );
    }
}

#[test]
fn configuration_reads_from_json_with_its_defaults() {
    let c: AffinityConfig = serde_json::from_str(&format!(
        r#"{{"secret":"{SECRET}","mode":"url","backends":[{{"id":"a","weight":1}},{{"id":"b","weight":2}}],
            "ttlSeconds":86400,"idleSeconds":1800,"cookieName":"__Host-affinity","sameSite":"Lax",
            "failover":"sticky","param":"_aff","header":"x-tenant"}}"#
    ))
    .unwrap();
    assert_eq!(c.mode, Mode::Url);
    assert!(Affinity::new(c).is_ok());
    for bad in [
        r#"{"secret":"s","backends":[],"colour":"red"}"#,
        r#"{"secret":"s","backends":[{"id":"a","weight":1.5}]}"#,
        r#"{"secret":"s","backends":[{"id":"a"}],"mode":"dns"}"#,
        r#"{"secret":"s","backends":[{"id":"a"}],"failover":"maybe"}"#,
    ] {
        assert!(
            serde_json::from_str::<AffinityConfig>(bad).is_err(),
            "{bad}"
        );
    }
    let debug = format!("{:?}", config(Mode::Cookie, &["a"]));
    assert!(!debug.contains(SECRET));
    assert!(
        debug.starts_with("AffinityConfig { mode: Cookie, backends: [")
            && debug.ends_with(", .. }"),
        "{debug}"
    );
    // The router's shows its settings, without the secret.
    let debug = format!("{:?}", router(Mode::Header, &["a", "backend-b"]));
    assert!(!debug.contains(SECRET));
    for shown in [
        "Affinity {",
        "mode: Header",
        "failover: Sticky",
        "\"backend-b\"",
        "idle: 1800",
    ] {
        assert!(debug.contains(shown), "{shown} in {debug}");
    }
}

/// A lifetime given alone, shorter than the default idle time, shortens it (as in JavaScript and
/// at the gateway): it was an `invalid_config` naming `idleSeconds`, never given. Given, the idle
/// time is checked against the lifetime.
#[test]
fn a_lifetime_given_alone_shortens_the_default_idle_time() {
    let json = |times: &str| {
        format!(r#"{{"secret":"{SECRET}","backends":[{{"id":"a"}},{{"id":"b"}}]{times}}}"#)
    };
    let router = |times: &str| {
        let config: AffinityConfig = serde_json::from_str(&json(times)).unwrap();
        Affinity::new(config)
    };
    // Honoured at exactly the idle time, not a second later.
    for (times, idle) in [
        (r#","ttlSeconds":600"#, 600),
        (r#","ttlSeconds":7200"#, 1800),
    ] {
        let a = router(times).unwrap();
        let cookie = cookie_of(&a.route(&new_visitor(3), NOW).unwrap());
        let at = |t| a.route(&with_cookie(&cookie), t).unwrap().reassigned;
        assert_eq!(
            (at(NOW + idle), at(NOW + idle + 1)),
            (false, true),
            "{times}"
        );
    }
    let both = router(r#","ttlSeconds":600,"idleSeconds":601"#);
    assert_eq!(both.unwrap_err().setting(), Some("idleSeconds"));
}

#[test]
fn a_now_in_milliseconds_is_refused() {
    // 10^11 s (the year 5138) is the latest `now`: Date.now() taken for seconds is past it.
    let a = router(Mode::Ip, &["a"]);
    let latest = edge_session::time::LATEST_NOW;
    for now in [latest + 1, 1_800_000_000_000, 1 << 53, u64::MAX] {
        let e = a.route(&RouteRequest::default(), now).unwrap_err();
        assert_eq!((e.code(), e.setting()), ("invalid_config", Some("now")));
        assert!(e.to_string().contains("not milliseconds"), "{e}");
    }
    assert!(a.route(&RouteRequest::default(), latest).is_ok());
}

// ---- properties (native) ----

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn secret_text(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn hashing(secret: &str, list: &[(String, u32)]) -> Affinity {
        hashing_in(Mode::Header, secret, list)
    }

    fn hashing_in(mode: Mode, secret: &str, list: &[(String, u32)]) -> Affinity {
        let mut c = AffinityConfig::new(
            secret,
            list.iter()
                .map(|(id, w)| BackendConfig::weighted(id.clone(), *w))
                .collect(),
        );
        c.mode = mode;
        Affinity::new(c).unwrap()
    }

    fn backend_list() -> impl Strategy<Value = Vec<(String, u32)>> {
        prop::collection::vec(1u32..5, 2..16).prop_map(|ws| {
            ws.into_iter()
                .enumerate()
                .map(|(i, w)| (format!("n{i}"), w))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn removal_moves_only_the_removed_backends_keys(
            secret in prop::collection::vec(any::<u8>(), 32..48),
            list in backend_list(),
            gone in any::<prop::sample::Index>(),
            keys in prop::collection::vec("[ -~]{1,24}", 1..120),
        ) {
            let secret = secret_text(&secret);
            let gone = gone.index(list.len());
            let mut rest = list.clone();
            let (gone_id, _) = rest.remove(gone);
            let (all, fewer) = (hashing(&secret, &list), hashing(&secret, &rest));
            let mut down = hashing(&secret, &list);
            down.set_healthy(&gone_id, false).unwrap();
            for k in &keys {
                let before = by_header(&all, k);
                let after = by_header(&fewer, k);
                prop_assert_eq!(after, by_header(&down, k), "down behaves as removed");
                if before != gone_id {
                    prop_assert_eq!(after, before);
                }
            }
        }

        #[test]
        fn addition_moves_keys_only_to_the_new_backend(
            secret in prop::collection::vec(any::<u8>(), 32..48),
            list in backend_list(),
            weight in 1u32..5,
            keys in prop::collection::vec("[ -~]{1,24}", 1..120),
        ) {
            let secret = secret_text(&secret);
            let mut more = list.clone();
            more.push(("new".into(), weight));
            let (before, after) = (hashing(&secret, &list), hashing(&secret, &more));
            for k in &keys {
                let (b, a) = (by_header(&before, k), by_header(&after, k));
                prop_assert!(a == b || a == "new", "{} moved from {} to {}", k, b, a);
            }
        }

        /// The configured order of the backends decides nothing, equal or unequal weights, huge
        /// ones included, in both hashing modes.
        #[test]
        fn the_order_of_the_backends_decides_nothing(
            secret in prop::collection::vec(any::<u8>(), 32..33),
            weights in prop::collection::vec(prop_oneof![Just(1u32), 1u32..5, 1u32..=1_000_000], 1..12),
            shuffle in any::<u64>(),
            keys in prop::collection::vec("[ -~]{1,24}", 1..100),
        ) {
            let secret = secret_text(&secret);
            let list: Vec<(String, u32)> =
                weights.iter().enumerate().map(|(i, w)| (format!("n{i}"), *w)).collect();
            let mut shuffled = list.clone();
            let mut x = shuffle;
            for i in (1..shuffled.len()).rev() {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                shuffled.swap(i, (x >> 33) as usize % (i + 1));
            }
            for mode in [Mode::Header, Mode::Ip] {
                let (a, b) = (hashing_in(mode, &secret, &list), hashing_in(mode, &secret, &shuffled));
                for k in &keys {
                    let request = RouteRequest { header: Some(k), client_ip: Some(k), ..RouteRequest::default() };
                    prop_assert_eq!(a.route(&request, NOW).unwrap().backend, b.route(&request, NOW).unwrap().backend);
                }
            }
        }

        /// Changing one backend's weight moves keys only to or from that backend (also when the
        /// change makes every weight equal, or unequal: the unweighted and weighted scores).
        #[test]
        fn reweighting_moves_keys_only_to_or_from_that_backend(
            secret in prop::collection::vec(any::<u8>(), 32..33),
            list in backend_list(),
            which in any::<prop::sample::Index>(),
            weight in prop_oneof![1u32..5, 1u32..=1_000_000],
            keys in prop::collection::vec("[ -~]{1,24}", 1..150),
        ) {
            let secret = secret_text(&secret);
            let i = which.index(list.len());
            let mut changed = list.clone();
            changed[i].1 = weight;
            let id = list[i].0.as_str();
            let (before, after) = (hashing(&secret, &list), hashing(&secret, &changed));
            for k in &keys {
                let (b, a) = (by_header(&before, k), by_header(&after, k));
                prop_assert!(a == b || a == id || b == id, "{} moved from {} to {} reweighting {}", k, b, a, id);
            }
        }

        /// Draining one backend moves only its keys, to backends that stayed.
        #[test]
        fn draining_moves_only_the_drained_backends_keys(
            secret in prop::collection::vec(any::<u8>(), 32..33),
            list in backend_list(),
            which in any::<prop::sample::Index>(),
            keys in prop::collection::vec("[ -~]{1,24}", 1..150),
        ) {
            let secret = secret_text(&secret);
            let id = list[which.index(list.len())].0.as_str();
            let all = hashing(&secret, &list);
            let mut drained = hashing(&secret, &list);
            drained.set_draining(id, true).unwrap();
            for k in &keys {
                let (b, a) = (by_header(&all, k), by_header(&drained, k));
                prop_assert_ne!(a, id);
                prop_assert!(a == b || b == id, "{} moved from {} to {}", k, b, a);
            }
        }

        /// Every spelling of an IPv6 address (compressed or not, upper case, leading zeros, the
        /// last 32 bits as IPv4) routes alike, and an IPv4-mapped one as its IPv4 address.
        #[test]
        fn every_spelling_of_an_address_routes_alike(
            groups in prop::array::uniform8(prop_oneof![Just(0u16), Just(0xffff), any::<u16>()]),
            upper in any::<bool>(), padded in any::<bool>(), v4_tail in any::<bool>(),
        ) {
            let list: Vec<(String, u32)> = (0..7).map(|i| (format!("n{i}"), 1)).collect();
            let a = hashing_in(Mode::Ip, SECRET, &list);
            let at = |ip: &str| {
                let request = RouteRequest { client_ip: Some(ip), ..RouteRequest::default() };
                a.route(&request, NOW).unwrap().backend
            };
            let address = std::net::Ipv6Addr::from(groups);
            let mut parts: Vec<String> = groups
                .iter()
                .map(|g| if padded { format!("{g:04x}") } else { format!("{g:x}") })
                .collect();
            if v4_tail {
                let [a1, b1] = groups[6].to_be_bytes();
                let [c1, d1] = groups[7].to_be_bytes();
                parts.truncate(6);
                parts.push(format!("{a1}.{b1}.{c1}.{d1}"));
            }
            let mut spelled = parts.join(":");
            if upper {
                spelled = spelled.to_uppercase();
            }
            prop_assert_eq!(at(&address.to_string()), at(&spelled), "{} and {}", address, spelled);
            if let Some(v4) = address.to_ipv4_mapped() {
                prop_assert_eq!(at(&v4.to_string()), at(&spelled));
            }
        }

        #[test]
        fn balance_holds_for_any_secret(secret in prop::collection::vec(any::<u8>(), 32..33)) {
            let list: Vec<(String, u32)> = (0..10).map(|i| (format!("n{i}"), 1)).collect();
            let a = hashing(&secret_text(&secret), &list);
            let mut load = [0usize; 10];
            for i in 0..10_000 {
                load[by_header(&a, &header_key(i))[1..].parse::<usize>().unwrap()] += 1;
            }
            let max = *load.iter().max().unwrap() as f64;
            prop_assert!(max / 1000.0 < 1.15, "{:?}", load);
        }

        #[test]
        fn routing_never_panics_on_any_input(
            cookie in any::<String>(), url in any::<String>(), ip in any::<String>(), header in any::<String>(),
            entropy in any::<u64>(), now in 0u64..=edge_session::time::LATEST_NOW,
        ) {
            let request = RouteRequest { cookie: Some(&cookie), url: Some(&url), client_ip: Some(&ip), header: Some(&header), entropy, ..Default::default() };
            for mode in [Mode::Cookie, Mode::Url, Mode::Ip, Mode::Header] {
                let a = router(mode, &["a", "b"]);
                let r = a.route(&request, now).unwrap();
                prop_assert!(r.backend == "a" || r.backend == "b");
            }
        }
    }
}
