//! Sliding refresh and revocation of compact session tokens. These bodies run natively
//! (`cargo test`) and in WebAssembly (`wasm-pack test --node`).
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edge_session::{SessionTokens, TokenConfig, VerifyOptions};
use serde_json::{json, Value};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::{key, NOW, SECRET_1, SECRET_2};

const DAY: u64 = 86_400;

fn tokens_with(refresh_after: f64, max_lifetime: Option<u64>) -> SessionTokens {
    let mut config = TokenConfig::new(vec![key("k1", SECRET_1)]);
    config.refresh_after = refresh_after;
    config.max_lifetime_seconds = max_lifetime;
    SessionTokens::new(config).unwrap()
}

fn tokens() -> SessionTokens {
    tokens_with(0.5, None)
}

fn claims() -> Value {
    json!({ "sub": "user-12345", "role": "admin" })
}

/// The `sub` of claims given as JSON text (what a `minIssuedAt` lookup receives).
fn sub(claims: &str) -> Value {
    serde_json::from_str::<Value>(claims).unwrap()["sub"].clone()
}

fn code<T: std::fmt::Debug>(result: Result<T, edge_session::Error>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn refresh_after_half_the_lifetime() {
    let t = tokens();
    let token = t.sign(&claims(), NOW).unwrap();
    assert_eq!(t.refresh(&token, NOW).unwrap(), None);
    assert_eq!(t.refresh(&token, NOW + 1799).unwrap(), None);
    let fresh = t.refresh(&token, NOW + 1800).unwrap().expect("due");
    let got: Value = t.verify(&fresh, NOW + 1800).unwrap();
    assert_eq!(
        got,
        json!({ "sub": "user-12345", "role": "admin", "auth_time": NOW, "iat": NOW + 1800, "exp": NOW + 5400 })
    );
    // Still refreshable until exp + leeway; expired from that second on.
    assert!(t.refresh(&token, NOW + 3629).unwrap().is_some());
    assert_eq!(code(t.refresh(&token, NOW + 3630)), "expired");
    assert_eq!(code(t.refresh("garbage", NOW)), "malformed");
}

/// A refresh adds `auth_time`, so a token near `max_token_bytes` may have no replacement within
/// the limit: it is kept (`None`, as for a refresh not due) until it expires, not refused with
/// `too_large`, an error its own verify would not give.
#[test]
fn a_token_whose_replacement_would_be_too_large_is_kept() {
    let mut config = TokenConfig::new(vec![key("k1", SECRET_1)]);
    config.max_token_bytes = 200;
    let t = SessionTokens::new(config).unwrap();
    let (mut kept, mut refreshed) = (0, 0);
    for n in 0..200 {
        let Ok(token) = t.sign(&json!({ "sub": "u", "pad": "x".repeat(n) }), NOW) else {
            break;
        };
        match t.refresh(&token, NOW + 1800).unwrap() {
            Some(fresh) => {
                assert!(fresh.len() <= 200);
                refreshed += 1;
            }
            None => {
                assert!(token.len() > 200 - 40, "{n}: {} bytes", token.len());
                kept += 1;
            }
        }
        // Verified all the same, until it expires.
        let _: Value = t.verify(&token, NOW + 3599).unwrap();
    }
    assert!(
        refreshed > 50 && kept > 5,
        "{refreshed} refreshed, {kept} kept"
    );
}

#[test]
fn the_token_keeps_its_own_lifetime() {
    let t = tokens();
    let token = t.sign_with_ttl(&claims(), NOW, 600).unwrap();
    assert_eq!(t.refresh(&token, NOW + 299).unwrap(), None);
    let fresh = t.refresh(&token, NOW + 300).unwrap().unwrap();
    let got: Value = t.verify(&fresh, NOW + 300).unwrap();
    assert_eq!(got["exp"], NOW + 900);
}

#[test]
fn configured_share() {
    let token = tokens().sign(&claims(), NOW).unwrap();
    let eager = tokens_with(0.1, None);
    assert_eq!(eager.refresh(&token, NOW + 359).unwrap(), None);
    assert!(eager.refresh(&token, NOW + 360).unwrap().is_some());
    let late = tokens_with(1.0, None);
    assert_eq!(late.refresh(&token, NOW + 3599).unwrap(), None);
    assert!(late.refresh(&token, NOW + 3600).unwrap().is_some());
}

/// A share is the decimal it is written as: 0.55 of 3600 s is 1980 s, although the nearest
/// double to 0.55 makes the product 1980.0000000000002.
#[test]
fn a_decimal_share_is_due_on_its_second() {
    for (share, ttl, due) in [
        (0.55, 3600, 1980),
        (0.07, 100, 7),
        (0.07, 3600, 252),
        (0.55, 100, 55),
    ] {
        let t = tokens_with(share, None);
        let token = t.sign_with_ttl(&claims(), NOW, ttl).unwrap();
        assert_eq!(
            t.refresh(&token, NOW + due - 1).unwrap(),
            None,
            "{share} of {ttl}"
        );
        assert!(
            t.refresh(&token, NOW + due).unwrap().is_some(),
            "{share} of {ttl}: due at {due}"
        );
    }
}

#[test]
fn an_active_user_stays_until_the_absolute_limit() {
    let t = tokens_with(0.5, Some(DAY));
    let mut token = t.sign(&claims(), NOW).unwrap();
    let mut now = NOW;
    let mut refreshes = 0;
    // Active every 20 minutes for two days.
    while now < NOW + 2 * DAY {
        now += 1200;
        match t.verify::<Value>(&token, now) {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.code(), "expired");
                break;
            }
        }
        if let Some(fresh) = t.refresh(&token, now).unwrap() {
            token = fresh;
            refreshes += 1;
        }
    }
    let last: Value = t.verify(&token, NOW + DAY).unwrap();
    assert_eq!(
        last["exp"],
        NOW + DAY,
        "the last token ends exactly at the limit"
    );
    assert_eq!(last["auth_time"], NOW);
    assert!(refreshes >= 30, "{refreshes}");
    assert!(
        now <= NOW + DAY + 1200 + 30,
        "logged out at the limit, not later: {now}"
    );
    assert_eq!(code(t.verify::<Value>(&token, NOW + DAY + 31)), "expired");
}

/// Without `maxLifetimeSeconds` the absolute limit is 7 days after the login (`auth_time`).
#[test]
fn the_default_limit_is_seven_days() {
    let t = tokens();
    assert_eq!(TokenConfig::new(vec![]).max_lifetime(), 7 * DAY);
    let login = json!({ "sub": "u", "auth_time": NOW });
    let late = NOW + 7 * DAY - 4600;
    let token = t.sign(&login, late).unwrap();
    let fresh = t.refresh(&token, late + 1800).unwrap().expect("due");
    let claims: Value = t.verify(&fresh, late + 1800).unwrap();
    assert_eq!(claims["exp"], NOW + 7 * DAY);
    let token = t.sign(&login, NOW + 7 * DAY).unwrap();
    assert_eq!(t.refresh(&token, NOW + 7 * DAY + 1800).unwrap(), None);
}

#[test]
fn lowering_the_limit_applies_to_existing_sessions() {
    let long = tokens_with(0.5, Some(30 * DAY));
    let token = long.sign(&claims(), NOW).unwrap();
    let token = long.refresh(&token, NOW + 1800).unwrap().unwrap();
    assert!(long.refresh(&token, NOW + 3600).unwrap().is_some());
    let short = tokens_with(0.5, Some(3600));
    // At auth_time + 1 hour: no more refreshes.
    assert_eq!(short.refresh(&token, NOW + 3600).unwrap(), None);
}

#[test]
fn stale_keys_are_reissued_at_once() {
    let old = tokens();
    let mut config = TokenConfig::new(vec![key("k2", SECRET_2), key("k1", SECRET_1)]);
    config.ttl_seconds = 3600;
    let new = SessionTokens::new(config).unwrap();
    let token = old.sign(&claims(), NOW).unwrap();
    let fresh = new.refresh(&token, NOW + 1).unwrap().expect("stale key");
    let v = new.verify_detailed::<Value>(&fresh, NOW + 1).unwrap();
    assert_eq!((v.key_id.as_str(), v.stale_key), ("k2", false));
    assert_eq!(new.refresh(&fresh, NOW + 2).unwrap(), None);
}

#[test]
fn revocation() {
    let t = tokens();
    let token = t.sign(&claims(), NOW).unwrap();
    let at = VerifyOptions::at(NOW + 100);
    assert!(t
        .verify_with::<Value>(&token, &at.min_issued_at(NOW))
        .is_ok());
    match t
        .verify_with::<Value>(&token, &at.min_issued_at(NOW + 1))
        .unwrap_err()
    {
        edge_session::Error::Revoked {
            issued_at,
            min_issued_at,
        } => {
            assert_eq!((issued_at, min_issued_at), (NOW, NOW + 1));
        }
        other => panic!("{other:?}"),
    }
    // Per subject.
    let logged_out = |c: &str| (sub(c) == "user-12345").then_some(NOW + 50);
    let someone_else = |c: &str| (sub(c) == "user-999").then_some(NOW + 50);
    assert_eq!(
        code(t.verify_with::<Value>(&token, &at.min_issued_at_from(&logged_out))),
        "revoked"
    );
    assert!(t
        .verify_with::<Value>(&token, &at.min_issued_at_from(&someone_else))
        .is_ok());
    // The lookup only sees authentic claims: those of a live token, or of an expired one (so
    // that `expired` comes only with the claims of a token not revoked).
    let seen = std::cell::Cell::new(0);
    let counting = |_: &str| {
        seen.set(seen.get() + 1);
        None
    };
    let i = token.len() - 5;
    let mut forged = token.clone();
    forged.replace_range(i..=i, if &token[i..=i] == "A" { "B" } else { "A" });
    assert!(t
        .verify_with::<Value>(&forged, &at.min_issued_at_from(&counting))
        .is_err());
    assert_eq!(seen.get(), 0);
    let expired = VerifyOptions::at(NOW + 9999).min_issued_at_from(&counting);
    assert_eq!(code(t.verify_with::<Value>(&token, &expired)), "expired");
    assert_eq!(seen.get(), 1);
    let early = VerifyOptions::at(NOW - 999).min_issued_at_from(&counting);
    assert_eq!(
        code(t.verify_with::<Value>(&token, &early)),
        "not_yet_valid"
    );
    assert_eq!(seen.get(), 1);
    // Revocation survives a refresh made where the revocation was not yet visible.
    let fresh = t.refresh(&token, NOW + 2000).unwrap().unwrap();
    let options = VerifyOptions::at(NOW + 2000).min_issued_at_from(&logged_out);
    assert_eq!(code(t.verify_with::<Value>(&fresh, &options)), "revoked");
    assert_eq!(code(t.refresh_with(&token, &options)), "revoked");
    // A token issued after the logout is fine.
    let after = t.sign(&claims(), NOW + 60).unwrap();
    assert!(t
        .verify_with::<Value>(
            &after,
            &VerifyOptions::at(NOW + 60).min_issued_at_from(&logged_out)
        )
        .is_ok());
}

#[test]
fn issuer_and_audience_apply_to_compact_tokens_too() {
    let t = tokens();
    let token = t
        .sign(&json!({ "iss": "me", "aud": ["web"] }), NOW)
        .unwrap();
    let at = VerifyOptions::at(NOW);
    assert!(t
        .verify_with::<Value>(&token, &at.issuer("me").audience("web"))
        .is_ok());
    assert_eq!(
        code(t.verify_with::<Value>(&token, &at.issuer("you"))),
        "wrong_issuer"
    );
    assert_eq!(
        code(t.verify_with::<Value>(&token, &at.audience("api"))),
        "wrong_audience"
    );
}
