//! Sealed (encrypted) tokens: secrecy, size, refresh, revocation, and the ways a token can be
//! wrong that only it has; what it shares with the compact token (round trip, changed bytes,
//! rotation, purposes, leeway) is in tests/token_kinds.rs. These bodies run natively
//! (`cargo test`) and in WebAssembly (`wasm-pack test --node`).
#![cfg(feature = "sealed")]
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edge_session::{KeyConfig, SealedTokens, SessionTokens, TokenConfig, VerifyOptions};
use serde_json::{json, Value};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::{key, NOW, SECRET_1, SECRET_2};

fn config(keys: Vec<KeyConfig>) -> TokenConfig {
    TokenConfig::new(keys)
}

fn sealed_with(keys: Vec<KeyConfig>) -> SealedTokens {
    SealedTokens::new(config(keys)).unwrap()
}

fn sealed() -> SealedTokens {
    sealed_with(vec![key("k1", SECRET_1)])
}

fn claims() -> Value {
    json!({ "sub": "user-12345", "role": "admin" })
}

fn code<T: std::fmt::Debug>(result: Result<T, edge_session::Error>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn claims_are_secret_and_nonces_fresh() {
    let t = sealed();
    let a = t.sign(&claims(), NOW).unwrap();
    let b = t.sign(&claims(), NOW).unwrap();
    assert_ne!(a, b);
    let bytes = URL_SAFE_NO_PAD.decode(&a).unwrap();
    for needle in [&b"admin"[..], b"user-12345", b"role", b"sub"] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
}

/// Claims that do not fit the caller's type are `invalid_claims`, whose message names what was
/// expected (and the fields of the type) but quotes nothing of the claims: a sealed token's
/// claims are hidden from its holder, and an error message is what an app logs or answers.
#[test]
fn claims_that_do_not_fit_are_never_quoted() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Numeric {
        sub: u64,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct WithLevel {
        level: String,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    enum Role {
        Reader,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Roles {
        role: Role,
    }
    let t = sealed();
    let token = t
        .sign(
            &json!({ "sub": "alice@example.com", "role": "superuser-7" }),
            NOW,
        )
        .unwrap();
    let errors = [
        t.verify::<Numeric>(&token, NOW).unwrap_err(),
        t.verify::<Roles>(&token, NOW).unwrap_err(),
        t.verify::<WithLevel>(&token, NOW).unwrap_err(),
    ];
    for e in &errors {
        assert_eq!(e.code(), "invalid_claims");
        let shown = e.to_string();
        for secret in ["alice@example.com", "alice", "example.com", "superuser-7"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        // Not even the end of a quoted value.
        assert!(!shown.contains('"'), "{shown}");
    }
    assert!(
        errors[0]
            .to_string()
            .contains(": a claim of another type or value, expected u64"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1]
            .to_string()
            .contains(": a claim of another type or value, expected `Reader`"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].to_string().contains("missing field `level`"),
        "{}",
        errors[2]
    );
}

/// The known answers of tests/vectors/sealed.json (also checked from JavaScript) keep opening:
/// the format is frozen. (Sealing them again needs their nonce, which only
/// src/token/sealed.rs can give.)
#[test]
fn known_answer_vectors() {
    let vectors: Value = serde_json::from_str(include_str!("vectors/sealed.json")).unwrap();
    let entries = vectors["verify"].as_array().unwrap();
    assert!(entries.iter().filter(|v| v.get("error").is_some()).count() >= 5);
    for v in entries {
        let name = v["name"].as_str().unwrap();
        let t = SealedTokens::new(serde_json::from_value(v["config"].clone()).unwrap()).unwrap();
        let got = t.verify::<Value>(v["token"].as_str().unwrap(), v["now"].as_u64().unwrap());
        match v.get("error") {
            Some(error) => assert_eq!(got.unwrap_err().code(), error, "{name}"),
            None => assert_eq!(got.unwrap(), v["claims"], "{name}"),
        }
    }
}

/// The overhead reported in the sealed module's docs: 23 bytes, 30 characters.
#[test]
fn overhead_against_the_signed_token() {
    let keys = vec![key("k1", SECRET_1)];
    let signed = SessionTokens::new(config(keys.clone()))
        .unwrap()
        .sign(&claims(), NOW)
        .unwrap();
    let sealed = sealed_with(keys).sign(&claims(), NOW).unwrap();
    assert_eq!((signed.len(), sealed.len()), (86, 116));
}

#[test]
fn wrong_key_purpose_or_kind_is_refused() {
    let token = sealed().sign(&claims(), NOW).unwrap();
    let other_secret = sealed_with(vec![key("k1", SECRET_2)]);
    assert_eq!(
        code(other_secret.verify::<Value>(&token, NOW)),
        "bad_signature"
    );
    let mut csrf = config(vec![key("k1", SECRET_1)]);
    csrf.purpose = "csrf".into();
    assert_eq!(
        code(
            SealedTokens::new(csrf)
                .unwrap()
                .verify::<Value>(&token, NOW)
        ),
        "bad_signature"
    );
    let other_id = sealed_with(vec![key("k2", SECRET_1)]);
    assert_eq!(code(other_id.verify::<Value>(&token, NOW)), "unknown_key");
    // Signed and sealed tokens never pass for each other.
    let signed = SessionTokens::new(config(vec![key("k1", SECRET_1)])).unwrap();
    assert_eq!(code(signed.verify::<Value>(&token, NOW)), "malformed");
    let compact = signed.sign(&claims(), NOW).unwrap();
    assert_eq!(code(sealed().verify::<Value>(&compact, NOW)), "malformed");
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let t = sealed();
    let token = t.sign(&claims(), NOW).unwrap();
    let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
    for len in 0..bytes.len() {
        let err = t
            .verify::<Value>(&URL_SAFE_NO_PAD.encode(&bytes[..len]), NOW)
            .unwrap_err();
        assert!(
            matches!(err.code(), "bad_signature" | "malformed"),
            "length {len}: {err:?}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        code(t.verify::<Value>(&URL_SAFE_NO_PAD.encode(&longer), NOW)),
        "bad_signature"
    );
    for junk in [
        "",
        "A",
        "AAAA",
        "!!!!",
        &"A".repeat(200),
        &format!("{token}="),
    ] {
        assert_eq!(code(t.verify::<Value>(junk, NOW)), "malformed", "{junk:?}");
    }
    assert_eq!(code(t.verify::<Value>(&"A".repeat(5000), NOW)), "too_large");
}

/// 46 bytes (version, a 1-byte key id and its length, three 1-byte times, the nonce, the tag)
/// are the fewest that reach the tag check: 45 are `malformed` as too short whatever they hold,
/// 46 with a wrong tag are a `bad_signature`.
#[test]
fn the_shortest_layout_is_46_bytes() {
    let t = sealed_with(vec![key("k", SECRET_1)]);
    let sealed = URL_SAFE_NO_PAD
        .decode(t.sign(&claims(), NOW).unwrap())
        .unwrap();
    // Version, key id length 1, "k".
    assert_eq!(sealed[..3], [0x81, 1, b'k']);
    let shaped = |len: usize| {
        let mut bytes = sealed[..3].to_vec();
        bytes.resize(len, 0);
        URL_SAFE_NO_PAD.encode(&bytes)
    };
    let too_short = edge_session::Error::Malformed("too short");
    assert_eq!(t.verify::<Value>(&shaped(45), NOW).unwrap_err(), too_short);
    let zeros = URL_SAFE_NO_PAD.encode([0u8; 45]);
    assert_eq!(t.verify::<Value>(&zeros, NOW).unwrap_err(), too_short);
    assert_eq!(code(t.verify::<Value>(&shaped(46), NOW)), "bad_signature");
}

/// A key id length outside 1 to 64 is `malformed`, found before any key is looked up (not
/// `unknown_key`).
#[test]
fn key_id_lengths_outside_1_to_64_are_malformed() {
    let t = sealed();
    for len in [0, 65, 255] {
        // The sealed version, the key id's length and bytes, three times, nonce and tag.
        let mut bytes = vec![0x81, len as u8];
        bytes.extend("k".repeat(len).bytes());
        bytes.extend([0; 3 + 24 + 16 + 4]);
        let token = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(code(t.verify::<Value>(&token, NOW)), "malformed", "{len}");
    }
}

#[test]
fn rotation_and_refresh_move_to_the_current_key() {
    let old = sealed();
    let new = sealed_with(vec![key("k2", SECRET_2), key("k1", SECRET_1)]);
    let token = old.sign(&claims(), NOW).unwrap();
    let v = new.verify_detailed::<Value>(&token, NOW).unwrap();
    assert_eq!((v.key_id.as_str(), v.stale_key), ("k1", true));
    // Not yet due by age, but stale: re-sealed with k2.
    let fresh = new
        .refresh(&token, NOW + 10)
        .unwrap()
        .expect("stale key is re-issued");
    let v = new.verify_detailed::<Value>(&fresh, NOW + 10).unwrap();
    assert_eq!((v.key_id.as_str(), v.stale_key), ("k2", false));
    assert_eq!(v.claims["auth_time"], NOW);
    assert_eq!(v.claims["exp"], NOW + 10 + 3600);
    assert_eq!(new.refresh(&fresh, NOW + 20).unwrap(), None);
}

#[test]
fn refresh_boundaries() {
    let t = sealed();
    let token = t.sign(&claims(), NOW).unwrap();
    assert_eq!(t.refresh(&token, NOW + 1799).unwrap(), None);
    let fresh = t.refresh(&token, NOW + 1800).unwrap().unwrap();
    let got: Value = t.verify(&fresh, NOW + 1800).unwrap();
    assert_eq!(got["iat"], NOW + 1800);
    assert_eq!(got["exp"], NOW + 1800 + 3600);
    assert_eq!(got["role"], "admin");
    assert_eq!(code(t.refresh(&token, NOW + 3631)), "expired");
}

#[test]
fn revocation_on_verify_and_refresh() {
    let t = sealed();
    let token = t.sign(&claims(), NOW).unwrap();
    let lookup = |c: &str| {
        let claims: Value = serde_json::from_str(c).unwrap();
        (claims["sub"] == "user-12345").then_some(NOW + 1)
    };
    let options = VerifyOptions::at(NOW + 2000).min_issued_at_from(&lookup);
    assert_eq!(code(t.verify_with::<Value>(&token, &options)), "revoked");
    assert_eq!(code(t.refresh_with(&token, &options)), "revoked");
    // A token refreshed before the revocation reached this location keeps auth_time.
    let fresh = t.refresh(&token, NOW + 2000).unwrap().unwrap();
    assert_eq!(code(t.verify_with::<Value>(&fresh, &options)), "revoked");
}

#[test]
fn invalid_configs_and_claims() {
    for (mutate, what) in [
        (
            Box::new(|c: &mut TokenConfig| c.ttl_seconds = 0) as Box<dyn Fn(&mut TokenConfig)>,
            "ttl",
        ),
        (
            Box::new(|c: &mut TokenConfig| c.purpose = String::new()),
            "purpose",
        ),
        (
            Box::new(|c: &mut TokenConfig| c.max_token_bytes = 10),
            "max",
        ),
        (
            Box::new(|c: &mut TokenConfig| c.refresh_after = 2.0),
            "refresh",
        ),
        (
            Box::new(|c: &mut TokenConfig| c.keys[0].secret = "c2hvcnQ".into()),
            "short",
        ),
    ] {
        let mut c = config(vec![key("k1", SECRET_1)]);
        mutate(&mut c);
        assert_eq!(code(SealedTokens::new(c)), "invalid_config", "{what}");
    }
    let t = sealed();
    assert_eq!(code(t.sign(&json!("text"), NOW)), "invalid_claims");
    assert_eq!(code(t.sign(&json!({ "nbf": -1 }), NOW)), "invalid_claims");
    assert_eq!(
        code(t.sign(&json!({ "x": "y".repeat(4000) }), NOW)),
        "too_large"
    );
    assert!(!format!("{t:?}").contains(SECRET_1));
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Map;

    fn arb_claims() -> impl Strategy<Value = Map<String, Value>> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[ -~\u{e9}\u{1F600}]{0,12}".prop_map(Value::from),
        ];
        prop::collection::btree_map("[a-z_]{1,8}", leaf, 0..6).prop_map(|m| {
            m.into_iter()
                // The registered claims sign checks (a wrong type is `invalid_claims`) are left out.
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "iat" | "exp" | "nbf" | "iss" | "aud" | "auth_time"
                    )
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn round_trip(claims in arb_claims(), now in 0u64..=edge_session::time::LATEST_NOW) {
            let t = sealed();
            let token = t.sign(&claims, now).unwrap();
            let mut got: Map<String, Value> = t.verify(&token, now).unwrap();
            prop_assert_eq!(got.remove("iat"), Some(Value::from(now)));
            prop_assert_eq!(got.remove("exp"), Some(Value::from(now + 3600)));
            prop_assert_eq!(got, claims);
        }

        #[test]
        fn any_byte_change_is_rejected(claims in arb_claims(), index: prop::sample::Index, xor in 1u8..) {
            let t = sealed();
            let mut bytes = URL_SAFE_NO_PAD.decode(t.sign(&claims, NOW).unwrap()).unwrap();
            let i = index.index(bytes.len());
            bytes[i] ^= xor;
            prop_assert!(t.verify::<Value>(&URL_SAFE_NO_PAD.encode(&bytes), NOW).is_err());
        }

        #[test]
        fn arbitrary_input_never_panics(input in "[A-Za-z0-9_=-]{0,300}") {
            let _ = sealed().verify::<Value>(&input, NOW);
        }
    }
}
