//! The behaviours every token kind shares, written once and run for each: the compact signed
//! token (`SessionTokens`) and the sealed one (`SealedTokens`), as cookie-rs runs its jar tests
//! for signed and private jars. What only one kind does stays in tests/token.rs and
//! tests/sealed.rs. These bodies run natively (`cargo test`) and in WebAssembly
//! (`wasm-pack test --node`).
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

/// The shared behaviours for the token type `$Tokens`, in a module `$kind`. `$wrong_purpose` is
/// the code a token of another purpose gets: the compact token carries a purpose tag
/// (`wrong_purpose`, also what a change to that byte gets), the sealed one cannot tell another
/// purpose from a wrong key (`bad_signature`).
macro_rules! token_kind_behaviours {
    ($kind:ident, $Tokens:ty, wrong_purpose: $wrong_purpose:literal) => {
        mod $kind {
            use super::common::{
                expired_only_when_otherwise_valid, key, one_character_changes, NOW, SECRET_1,
                SECRET_2,
            };
            use base64::engine::general_purpose::URL_SAFE_NO_PAD;
            use base64::Engine;
            use edge_session::{Error, KeyConfig, TokenConfig};
            use serde_json::{json, Value};

            #[cfg(target_arch = "wasm32")]
            use wasm_bindgen_test::wasm_bindgen_test as test;

            type Tokens = $Tokens;

            fn tokens_with(keys: Vec<KeyConfig>, purpose: &str) -> Tokens {
                let mut config = TokenConfig::new(keys);
                config.purpose = purpose.into();
                Tokens::new(config).unwrap()
            }

            /// k1 = SECRET_1, purpose "session", the defaults: ttl 3600, leeway 30.
            fn tokens() -> Tokens {
                tokens_with(vec![key("k1", SECRET_1)], "session")
            }

            fn claims() -> Value {
                json!({ "sub": "user-12345", "role": "admin" })
            }

            /// A `now` in milliseconds (past 10^11 s, the year 5138) is `invalid_config` about
            /// `now` at verify too, as at sign, not `expired`, which said nothing of the clock.
            #[test]
            fn a_now_in_milliseconds_is_refused_at_verify() {
                let t = tokens();
                let token = t.sign(&claims(), NOW).unwrap();
                let latest = edge_session::time::LATEST_NOW;
                for now in [latest + 1, NOW * 1000] {
                    let e = t.verify::<Value>(&token, now).unwrap_err();
                    assert_eq!((e.code(), e.setting()), ("invalid_config", Some("now")));
                }
                assert_eq!(t.verify::<Value>(&token, latest).unwrap_err().code(), "expired");
            }

            #[test]
            fn round_trip_adds_iat_and_exp() {
                let t = tokens();
                let token = t.sign(&claims(), NOW).unwrap();
                let got: Value = t.verify(&token, NOW).unwrap();
                assert_eq!(
                    got,
                    json!({ "sub": "user-12345", "role": "admin", "iat": NOW, "exp": NOW + 3600 })
                );
                assert!(token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
                let v = t.verify_detailed::<Value>(&token, NOW).unwrap();
                assert_eq!((v.key_id.as_str(), v.stale_key), ("k1", false));
                assert_eq!(v.claims, got);
                // A given iat is replaced, nbf is kept.
                let with_nbf = t
                    .sign_with_ttl(&json!({ "nbf": NOW + 5, "iat": 1 }), NOW, 60)
                    .unwrap();
                let got: Value = t.verify(&with_nbf, NOW + 5).unwrap();
                assert_eq!(got, json!({ "iat": NOW, "exp": NOW + 60, "nbf": NOW + 5 }));
            }

            /// The registered claims verify reads (`iss`, `aud`, `auth_time`, `nbf`) are checked
            /// at sign: a token its own verify would refuse as `malformed` is never signed.
            #[test]
            fn claims_verify_would_refuse_are_refused_at_sign() {
                let t = tokens();
                for bad in [
                    json!({ "iss": 1 }),
                    json!({ "aud": 5 }),
                    json!({ "aud": ["app", 1] }),
                    json!({ "auth_time": "yesterday" }),
                    json!({ "auth_time": -1 }),
                ] {
                    assert_eq!(t.sign(&bad, NOW).unwrap_err().code(), "invalid_claims", "{bad}");
                }
                // Well typed, they sign and pass the checks that read them.
                let good = json!({ "iss": "me", "aud": ["app", "web"], "auth_time": NOW - 60 });
                let token = t.sign(&good, NOW).unwrap();
                let options = edge_session::VerifyOptions {
                    issuer: Some("me"),
                    audience: Some("web"),
                    min_issued_at: edge_session::MinIssuedAt::At(NOW - 60),
                    ..edge_session::VerifyOptions::at(NOW)
                };
                let got = t.verify_with::<Value>(&token, &options).unwrap().claims;
                assert_eq!(got["auth_time"], NOW - 60);
            }

            #[test]
            fn per_token_ttl() {
                let t = tokens();
                let token = t.sign_with_ttl(&claims(), NOW, 600).unwrap();
                let got: Value = t.verify(&token, NOW).unwrap();
                assert_eq!(got["exp"], NOW + 600);
                assert!(t.verify::<Value>(&token, NOW + 629).is_ok());
                assert_eq!(
                    t.verify::<Value>(&token, NOW + 630).unwrap_err().code(),
                    "expired"
                );
            }

            #[test]
            fn every_changed_character_is_rejected() {
                let t = tokens();
                let token = t.sign(&claims(), NOW).unwrap();
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                for i in 0..token.len() {
                    for &c in alphabet.iter().step_by(7) {
                        let mut bytes = token.clone().into_bytes();
                        if bytes[i] == c {
                            continue;
                        }
                        bytes[i] = c;
                        let forged = String::from_utf8(bytes).unwrap();
                        assert!(
                            t.verify::<Value>(&forged, NOW).is_err(),
                            "accepted change at {i}"
                        );
                    }
                }
            }

            /// Not only the alphabet: a character replaced, added or left out anywhere, padding,
            /// whitespace and the standard alphabet included, never gives a token that verifies.
            #[test]
            fn no_text_one_character_away_verifies() {
                let t = tokens_with(vec![key("k1", SECRET_1), key("k2", SECRET_2)], "session");
                // Three lengths: the last character carries 0, 2 and 4 bits past the last byte.
                for sub in ["u", "uu", "uuu"] {
                    let token = t.sign(&json!({ "sub": sub, "nbf": NOW - 5 }), NOW).unwrap();
                    for changed in one_character_changes(&token) {
                        assert!(t.verify::<Value>(&changed, NOW).is_err(), "{changed:?}");
                    }
                }
            }

            #[test]
            fn every_changed_byte_is_rejected() {
                let t = tokens();
                let token = t.sign(&claims(), NOW).unwrap();
                let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
                for i in 0..bytes.len() {
                    for bits in [0x01, 0x80, 0xff] {
                        let mut changed = bytes.clone();
                        changed[i] ^= bits;
                        let err = t
                            .verify::<Value>(&URL_SAFE_NO_PAD.encode(&changed), NOW)
                            .unwrap_err();
                        assert!(
                            [$wrong_purpose, "bad_signature", "malformed", "unknown_key"].contains(&err.code()),
                            "byte {i} ^ {bits:#x}: {err:?}"
                        );
                    }
                }
            }

            #[test]
            fn truncations_and_extensions_are_rejected() {
                let t = tokens();
                let token = t.sign(&claims(), NOW).unwrap();
                for n in 0..token.len() {
                    assert!(
                        t.verify::<Value>(&token[..n], NOW).is_err(),
                        "accepted prefix of {n}"
                    );
                }
                for extra in ["A", "AA", "AAA", "AAAA", "."] {
                    assert!(t.verify::<Value>(&format!("{token}{extra}"), NOW).is_err());
                }
            }

            #[test]
            fn rotation_keeps_old_tokens_valid_and_flags_them() {
                let old = tokens();
                let rotated = tokens_with(vec![key("k2", SECRET_2), key("k1", SECRET_1)], "session");
                let old_token = old.sign(&claims(), NOW).unwrap();
                let v = rotated.verify_detailed::<Value>(&old_token, NOW).unwrap();
                assert_eq!((v.key_id.as_str(), v.stale_key), ("k1", true));
                let new_token = rotated.sign(&v.claims, NOW).unwrap();
                let v = rotated.verify_detailed::<Value>(&new_token, NOW).unwrap();
                assert_eq!((v.key_id.as_str(), v.stale_key), ("k2", false));
                // The old ring does not know k2.
                assert_eq!(
                    old.verify::<Value>(&new_token, NOW).unwrap_err(),
                    Error::UnknownKey("k2".into())
                );
                // Once k1 is retired, its tokens name an unknown key.
                let retired = tokens_with(vec![key("k2", SECRET_2)], "session");
                assert_eq!(
                    retired.verify::<Value>(&old_token, NOW).unwrap_err(),
                    Error::UnknownKey("k1".into())
                );
            }

            #[test]
            fn same_key_id_with_another_secret_is_a_bad_signature() {
                let token = tokens().sign(&claims(), NOW).unwrap();
                let other = tokens_with(vec![key("k1", SECRET_2)], "session");
                assert_eq!(
                    other.verify::<Value>(&token, NOW).unwrap_err(),
                    Error::BadSignature
                );
            }

            #[test]
            fn purposes_are_separated() {
                let session = tokens();
                let csrf = tokens_with(vec![key("k1", SECRET_1)], "csrf");
                let token = csrf.sign(&claims(), NOW).unwrap();
                assert_eq!(
                    session.verify::<Value>(&token, NOW).unwrap_err().code(),
                    $wrong_purpose
                );
                assert!(csrf.verify::<Value>(&token, NOW).is_ok());
                let token = session.sign(&claims(), NOW).unwrap();
                assert_eq!(
                    csrf.verify::<Value>(&token, NOW).unwrap_err().code(),
                    $wrong_purpose
                );
            }

            #[test]
            fn expiry_boundary_with_leeway() {
                let t = tokens();
                let token = t.sign(&claims(), NOW).unwrap();
                // Valid until the second exp + leeway, expired from it (as RFC 7519 says of JWTs).
                assert!(t.verify::<Value>(&token, NOW + 3600 + 29).is_ok());
                let err = t.verify::<Value>(&token, NOW + 3600 + 30).unwrap_err();
                // An expired error carries the verified claims.
                assert_eq!(
                    err.claims::<Value>().unwrap(),
                    json!({ "sub": "user-12345", "role": "admin", "iat": NOW, "exp": NOW + 3600 })
                );
                match err {
                    Error::Expired { exp, .. } => assert_eq!(exp, NOW + 3600),
                    other => panic!("expected expired, got {other:?}"),
                }
            }

            /// `expired` and its claims come only with a token that would otherwise verify:
            /// one of another issuer or audience, or revoked, is refused as such when it has
            /// expired too, with no claims to refresh from.
            #[test]
            fn an_expired_token_failing_another_check_is_refused_as_such() {
                let t = tokens();
                let signed = json!({ "sub": "user-12345", "iss": "me", "aud": "web" });
                let token = t.sign(&signed, NOW).unwrap();
                let later = edge_session::VerifyOptions::at(NOW + 3600 + 30);
                let claims = expired_only_when_otherwise_valid(later, |options| {
                    t.verify_with::<Value>(&token, &options).unwrap_err()
                });
                assert_eq!(claims["sub"], "user-12345");
            }

            #[test]
            fn issued_in_the_future_boundary_with_leeway() {
                let t = tokens();
                let token = t.sign(&claims(), NOW).unwrap();
                assert!(t.verify::<Value>(&token, NOW - 30).is_ok());
                let err = t.verify::<Value>(&token, NOW - 31).unwrap_err();
                assert_eq!(err, Error::NotYetValid { valid_from: NOW });
            }

            /// The longest lifetime accepted, 2^53 - 1 - 8.64e12 s (a JavaScript `Date` ends at
            /// 8.64e12 s): signed at any `now` accepted (up to 10^11 s; a later one, a time in
            /// milliseconds, is refused as `now`), a token's `exp = now + ttl` is at most
            /// 2^53 - 1, exact as a JSON number. One second more is refused when the tokens
            /// are made (it made every sign fail), and so is a maxLifetimeSeconds beyond it.
            #[test]
            fn the_longest_ttl_signs_and_verifies_and_one_more_is_refused() {
                const MAX_CLOCK: u64 = 8_640_000_000_000;
                const MAX_TTL: u64 = (1 << 53) - 1 - MAX_CLOCK;
                let with = |ttl: u64, max_lifetime: Option<u64>| {
                    let mut config = TokenConfig::new(vec![key("k1", SECRET_1)]);
                    config.ttl_seconds = ttl;
                    config.max_lifetime_seconds = max_lifetime;
                    Tokens::new(config)
                };
                let t = with(MAX_TTL, None).unwrap();
                for now in [NOW, edge_session::time::LATEST_NOW] {
                    let token = t.sign(&claims(), now).unwrap();
                    let got: Value = t.verify(&token, now).unwrap();
                    assert_eq!(got["exp"], now + MAX_TTL);
                    assert_eq!(t.refresh(&token, now).unwrap(), None);
                }
                let setting = |e: Error| (e.code(), e.setting());
                for now in [edge_session::time::LATEST_NOW + 1, NOW * 1000] {
                    assert_eq!(setting(t.sign(&claims(), now).unwrap_err()), ("invalid_config", Some("now")));
                }
                let refused = ("invalid_config", Some("ttlSeconds"));
                assert_eq!(setting(with(MAX_TTL + 1, None).unwrap_err()), refused);
                assert_eq!(setting(t.sign_with_ttl(&claims(), NOW, MAX_TTL + 1).unwrap_err()), refused);
                assert!(with(3600, Some(MAX_TTL)).is_ok());
                // One token's own lifetime is at most the sessions' longest life (a week by
                // default), which a revocation lasts.
                let week = 7 * 24 * 3600;
                let short = with(3600, None).unwrap();
                assert!(short.sign_with_ttl(&claims(), NOW, week).is_ok());
                assert_eq!(
                    setting(short.sign_with_ttl(&claims(), NOW, week + 1).unwrap_err()),
                    ("invalid_config", Some("maxLifetimeSeconds"))
                );
                assert_eq!(
                    setting(with(3600, Some(MAX_TTL + 1)).unwrap_err()),
                    ("invalid_config", Some("maxLifetimeSeconds"))
                );
            }

            /// Claims nested deeper than 127 levels are refused as such (`invalid_claims`,
            /// "nested more than 127"), not as claims that are not a JSON object.
            #[test]
            fn claims_nested_too_deep_say_so() {
                let t = tokens();
                let mut value = json!([]);
                for _ in 0..125 {
                    value = json!([value]);
                }
                // {"a":[...]}: 127 levels, the object the first.
                assert!(t.sign(&json!({ "a": value }), NOW).is_ok());
                let err = t.sign(&json!({ "a": [value] }), NOW).unwrap_err();
                assert_eq!(err.code(), "invalid_claims");
                assert!(err.to_string().contains("nested more than 127"), "{err}");
            }

            #[test]
            fn nbf_boundary_with_leeway() {
                let t = tokens();
                let token = t.sign(&json!({ "nbf": NOW + 100 }), NOW).unwrap();
                assert!(t.verify::<Value>(&token, NOW + 70).is_ok());
                assert_eq!(
                    t.verify::<Value>(&token, NOW + 69).unwrap_err(),
                    Error::NotYetValid {
                        valid_from: NOW + 100
                    }
                );
            }

            /// An `nbf` being signed is a whole number of seconds before `exp`: a fraction
            /// (which the token could not carry) is refused, not rounded, and so is a time at
            /// or past `exp` (milliseconds), which would make a token that never verifies.
            #[test]
            fn nbf_must_be_whole_seconds_before_exp() {
                let t = tokens();
                for bad in [
                    json!(1.5),
                    json!(1000.0),
                    json!(9_007_199_254_740_992u64),
                    json!(9_007_199_254_740_991u64),
                    json!(NOW + 3600),
                ] {
                    assert_eq!(
                        t.sign(&json!({ "nbf": bad }), NOW).unwrap_err().code(),
                        "invalid_claims",
                        "{bad}"
                    );
                }
                assert!(t.sign(&json!({ "nbf": NOW + 3599 }), NOW).is_ok());
            }

            /// `Debug` (what a `dbg!` or an app's log prints) names the keys by id, in ring
            /// order, with the settings, and never holds a secret.
            #[test]
            fn debug_shows_key_ids_and_settings_never_secrets() {
                let t = tokens_with(vec![key("k1", SECRET_1), key("k2", SECRET_2)], "session");
                let debug = format!("{t:?}");
                assert!(debug.contains(r#"key_ids: ["k1", "k2"]"#), "{debug}");
                assert!(debug.contains("ttl: 3600"), "{debug}");
                assert!(debug.contains("leeway: 30"), "{debug}");
                assert!(debug.contains("max_token_bytes: 4096"), "{debug}");
                for secret in [SECRET_1, SECRET_2] {
                    assert!(!debug.contains(secret), "{debug}");
                }
            }

            /// Key ids of 1 and of 64 bytes, the keyring's bounds, sign and verify.
            #[test]
            fn key_ids_at_their_length_bounds_round_trip() {
                for id in ["k".to_owned(), "k".repeat(64)] {
                    let t = tokens_with(vec![key(&id, SECRET_1)], "session");
                    let token = t.sign(&claims(), NOW).unwrap();
                    let v = t.verify_detailed::<Value>(&token, NOW).unwrap();
                    assert_eq!(v.key_id, id);
                }
            }
        }
    };
}

token_kind_behaviours!(compact, edge_session::SessionTokens, wrong_purpose: "wrong_purpose");

#[cfg(feature = "sealed")]
token_kind_behaviours!(sealed, edge_session::SealedTokens, wrong_purpose: "bad_signature");
