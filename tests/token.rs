//! Behaviour of the compact session token that only it has; what it shares with the sealed
//! token (round trip, changed bytes, rotation, purposes, leeway) is in tests/token_kinds.rs.
//! These bodies run natively (`cargo test`) and in WebAssembly (`wasm-pack test --node`).
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edge_session::{Error, KeyConfig, SessionTokens, TokenConfig};
use serde_json::{json, Value};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::{key, NOW, SECRET_1, SECRET_2};

fn tokens_with(keys: Vec<KeyConfig>, purpose: &str) -> SessionTokens {
    let mut config = TokenConfig::new(keys);
    config.purpose = purpose.into();
    SessionTokens::new(config).unwrap()
}

fn tokens() -> SessionTokens {
    tokens_with(vec![key("k1", SECRET_1)], "session")
}

fn claims() -> Value {
    json!({ "sub": "user-12345", "role": "admin" })
}

#[test]
fn given_iat_and_exp_are_replaced_and_nbf_is_kept() {
    let t = tokens();
    let token = t
        .sign(
            &json!({ "sub": "u", "iat": 1, "exp": 2, "nbf": NOW + 10 }),
            NOW,
        )
        .unwrap();
    let got: Value = t.verify(&token, NOW + 10).unwrap();
    assert_eq!(
        got,
        json!({ "sub": "u", "iat": NOW, "exp": NOW + 3600, "nbf": NOW + 10 })
    );
}

/// Sign sets `iat` and `exp` itself: given ones of any type (a string, null, a negative
/// number) are replaced, not refused as a claim verify would read.
#[test]
fn given_iat_and_exp_of_any_type_are_replaced() {
    let t = tokens();
    for (iat, exp) in [(json!(null), json!("soon")), (json!(-1), json!([1]))] {
        let token = t
            .sign(&json!({ "sub": "u", "iat": iat, "exp": exp }), NOW)
            .unwrap();
        let got: Value = t.verify(&token, NOW).unwrap();
        assert_eq!(got, json!({ "sub": "u", "iat": NOW, "exp": NOW + 3600 }));
    }
}

#[test]
fn empty_claims_round_trip() {
    let t = tokens();
    let token = t.sign(&json!({}), NOW).unwrap();
    assert_eq!(
        t.verify::<Value>(&token, NOW).unwrap(),
        json!({ "iat": NOW, "exp": NOW + 3600 })
    );
}

#[test]
fn typed_claims_round_trip() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Session {
        sub: String,
        exp: u64,
    }
    let t = tokens();
    let token = t.sign(&json!({ "sub": "u" }), NOW).unwrap();
    let s: Session = t.verify(&token, NOW).unwrap();
    assert_eq!(
        s,
        Session {
            sub: "u".into(),
            exp: NOW + 3600
        }
    );
    let err = t.verify::<Vec<u8>>(&token, NOW).unwrap_err();
    assert_eq!(err.code(), "invalid_claims");
}

/// The format is frozen: the known answers of tests/vectors/compact.json (also checked from
/// JavaScript) must keep verifying, and signing must keep producing them. Changing the layout
/// must be a deliberate act that updates those vectors.
#[test]
fn known_answer_vectors() {
    let vectors: Value = serde_json::from_str(include_str!("vectors/compact.json")).unwrap();
    let refused = vectors["verify"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v.get("error").is_some());
    assert!(refused.count() >= 6, "the refused vectors are there");
    for v in vectors["sign"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let t = SessionTokens::new(serde_json::from_value(v["config"].clone()).unwrap()).unwrap();
        let token = t.sign(&v["claims"], v["now"].as_u64().unwrap()).unwrap();
        assert_eq!(token, v["token"].as_str().unwrap(), "{name}");
    }
    for v in vectors["verify"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let t = SessionTokens::new(serde_json::from_value(v["config"].clone()).unwrap()).unwrap();
        let got = t.verify::<Value>(v["token"].as_str().unwrap(), v["now"].as_u64().unwrap());
        match v.get("error") {
            Some(error) => assert_eq!(got.unwrap_err().code(), error, "{name}"),
            None => assert_eq!(got.unwrap(), v["claims"], "{name}"),
        }
    }
}

#[test]
fn at_most_070_of_a_jwt() {
    let t = tokens_with(vec![key("k1", SECRET_1)], "session");
    let token = t.sign(&claims(), NOW).unwrap();
    // A JWT HS256 of the same claims plus iat and exp.
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let jwt_len = b64(r#"{"alg":"HS256","typ":"JWT"}"#).len()
        + 1
        + b64(&format!(
            r#"{{"sub":"user-12345","role":"admin","iat":{NOW},"exp":{}}}"#,
            NOW + 3600
        ))
        .len()
        + 1
        + 43;
    assert!(
        token.len() * 100 <= jwt_len * 70,
        "{} vs JWT {jwt_len}",
        token.len()
    );
}

#[test]
fn garbage_gives_typed_errors() {
    let t = tokens();
    for garbage in [
        "",
        "a",
        "....",
        "not a token",
        "AAAA",
        "AQ",
        "eyJhbGciOiJIUzI1NiJ9.e30.x",
        "💥",
    ] {
        assert_eq!(
            t.verify::<Value>(garbage, NOW).unwrap_err().code(),
            "malformed",
            "{garbage:?}"
        );
    }
    // A well-formed shape with an unknown version.
    let mut bytes = vec![9u8; 40];
    bytes[2] = 2;
    let text = base64_url(&bytes);
    assert_eq!(
        t.verify::<Value>(&text, NOW).unwrap_err(),
        Error::Malformed("unknown version")
    );
}

/// 23 bytes (version, purpose, a 1-byte key id, three 1-byte times, the tag) are the fewest that
/// reach the MAC check: one fewer is `malformed` whatever they hold, 23 with a wrong tag are a
/// `bad_signature`.
#[test]
fn the_shortest_layout_is_23_bytes() {
    use base64::Engine;
    let t = tokens_with(vec![key("k", SECRET_1)], "session");
    let token = t.sign(&claims(), NOW).unwrap();
    let signed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    // Version, purpose, key id length 1, "k".
    assert_eq!(signed[2..4], [1, b'k']);
    for (len, code) in [(22, "malformed"), (23, "bad_signature")] {
        let mut bytes = signed[..4].to_vec();
        bytes.resize(len, 0);
        assert_eq!(
            t.verify::<Value>(&base64_url(&bytes), NOW)
                .unwrap_err()
                .code(),
            code,
            "{len} bytes"
        );
    }
}

/// A key id length outside 1 to 64 (what a keyring holds) is `malformed`, found before any key
/// is looked up: not `unknown_key`, whose message would quote up to 255 bytes of the token.
#[test]
fn key_id_lengths_outside_1_to_64_are_malformed() {
    let t = tokens();
    for len in [0, 65, 255] {
        // Version 1, a purpose byte, the key id's length and bytes, then room for the rest.
        let mut bytes = vec![1, 0, len as u8];
        bytes.extend("k".repeat(len).bytes());
        bytes.extend([0; 40]);
        assert_eq!(
            t.verify::<Value>(&base64_url(&bytes), NOW)
                .unwrap_err()
                .code(),
            "malformed",
            "{len}"
        );
    }
}

#[test]
fn size_limit_is_checked_before_decoding() {
    let t = tokens();
    let huge = "!".repeat(4097);
    assert_eq!(
        t.verify::<Value>(&huge, NOW).unwrap_err(),
        Error::TooLarge {
            len: 4097,
            max: 4096
        }
    );
    assert_eq!(
        t.verify::<Value>(&"!".repeat(4096), NOW)
            .unwrap_err()
            .code(),
        "malformed"
    );
    let big = json!({ "blob": "x".repeat(4000) });
    assert_eq!(t.sign(&big, NOW).unwrap_err().code(), "too_large");
    let fits = json!({ "blob": "x".repeat(2900) });
    let token = t.sign(&fits, NOW).unwrap();
    assert!(t.verify::<Value>(&token, NOW).is_ok());
}

#[test]
fn bad_claims_are_refused() {
    let t = tokens();
    for bad in [
        json!([1, 2]),
        json!("sub"),
        json!(null),
        json!({ "nbf": "soon" }),
        json!({ "nbf": -1 }),
        // Whole seconds, at most MAX_TIME: no fraction (not even `.0`), no exponent.
        json!({ "nbf": 1.5 }),
        json!({ "nbf": 1000.0 }),
        json!({ "nbf": edge_session::time::MAX_TIME + 1 }),
        json!({ "nbf": u64::MAX }),
    ] {
        assert_eq!(
            t.sign(&bad, NOW).unwrap_err().code(),
            "invalid_claims",
            "{bad}"
        );
    }
}

#[test]
fn bad_config_is_refused() {
    let config = |f: &dyn Fn(&mut TokenConfig)| {
        let mut c = TokenConfig::new(vec![key("k1", SECRET_1)]);
        f(&mut c);
        SessionTokens::new(c).map(|_| ()).unwrap_err().code()
    };
    assert_eq!(config(&|c| c.keys.clear()), "invalid_config");
    assert_eq!(
        config(&|c| c.keys[0].secret = "c2hvcnQ".into()),
        "invalid_config"
    );
    assert_eq!(
        config(&|c| c.keys.push(key("k1", SECRET_2))),
        "invalid_config"
    );
    assert_eq!(config(&|c| c.ttl_seconds = 0), "invalid_config");
    assert_eq!(config(&|c| c.purpose = String::new()), "invalid_config");
    assert_eq!(config(&|c| c.purpose = "p".repeat(65)), "invalid_config");
    assert_eq!(config(&|c| c.max_token_bytes = 10), "invalid_config");
    assert_eq!(config(&|c| c.leeway_seconds = 100_000), "invalid_config");
    // A key's secret refused: the message says "invalid configuration" once, not once for the
    // keyring and once again for the secret.
    for secret in ["c2hvcnQ", "not base64!"] {
        let mut c = TokenConfig::new(vec![key("k1", secret)]);
        c.purpose = "session".into();
        let err = SessionTokens::new(c).unwrap_err();
        assert_eq!(err.setting(), Some("keys"));
        assert_eq!(
            err.to_string().matches("invalid configuration").count(),
            1,
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("invalid configuration: keys[0]: "),
            "{err}"
        );
    }
    let t = tokens();
    assert_eq!(
        t.sign(&claims(), 1 << 60).unwrap_err().code(),
        "invalid_config"
    );
}

/// A purpose of 1 to 64 bytes is taken (65 is refused in `bad_config_is_refused`), and tokens
/// of the longest are bound to it.
#[test]
fn purposes_of_1_and_64_bytes_are_taken() {
    for purpose in ["p".to_owned(), "p".repeat(64)] {
        let t = tokens_with(vec![key("k1", SECRET_1)], &purpose);
        let token = t.sign(&claims(), NOW).unwrap();
        assert!(t.verify::<Value>(&token, NOW).is_ok(), "{purpose}");
        let other = tokens_with(vec![key("k1", SECRET_1)], &"q".repeat(64));
        let err = other.verify::<Value>(&token, NOW).unwrap_err();
        assert_eq!(err.code(), "wrong_purpose", "{purpose}");
    }
}

/// A leeway of a day at most: 86,400 s is taken, and forgives a clock that far behind the
/// token's expiry; 86,401 is refused.
#[test]
fn leeway_is_at_most_a_day() {
    let with_leeway = |leeway| {
        let mut c = TokenConfig::new(vec![key("k1", SECRET_1)]);
        c.leeway_seconds = leeway;
        SessionTokens::new(c)
    };
    let t = with_leeway(86_400).unwrap();
    let exp = NOW + 3600;
    let token = t.sign(&claims(), NOW).unwrap();
    assert!(t.verify::<Value>(&token, exp + 86_399).is_ok());
    let err = t.verify::<Value>(&token, exp + 86_400).unwrap_err();
    assert_eq!(err.code(), "expired");
    let err = with_leeway(86_401).map(|_| ()).unwrap_err();
    assert_eq!(err.setting(), Some("leewaySeconds"));
}

#[test]
fn config_reads_camel_case_json_with_defaults() {
    let c: TokenConfig = serde_json::from_value(json!({
        "keys": [{ "id": "k1", "secret": SECRET_1 }], "ttlSeconds": 60, "purpose": "csrf"
    }))
    .unwrap();
    assert_eq!(
        (c.ttl_seconds, c.leeway_seconds, c.max_token_bytes),
        (60, 30, 4096)
    );
    assert!(serde_json::from_value::<TokenConfig>(json!({ "keys": [], "ttl": 5 })).is_err());
}

#[test]
fn every_error_code_has_a_message() {
    let t = tokens();
    let token = t.sign(&claims(), NOW).unwrap();
    let errors = [
        t.verify::<Value>(&"A".repeat(5000), NOW).unwrap_err(),
        t.verify::<Value>("%", NOW).unwrap_err(),
        tokens_with(vec![key("k9", SECRET_1)], "session")
            .verify::<Value>(&token, NOW)
            .unwrap_err(),
        tokens_with(vec![key("k1", SECRET_2)], "session")
            .verify::<Value>(&token, NOW)
            .unwrap_err(),
        tokens_with(vec![key("k1", SECRET_1)], "csrf")
            .verify::<Value>(&token, NOW)
            .unwrap_err(),
        t.verify::<Value>(&token, NOW + 10_000).unwrap_err(),
        t.verify::<Value>(&token, NOW - 10_000).unwrap_err(),
        t.sign(&json!(1), NOW).unwrap_err(),
        SessionTokens::new(TokenConfig::new(vec![])).unwrap_err(),
    ];
    let codes: Vec<_> = errors.iter().map(Error::code).collect();
    assert_eq!(
        codes,
        [
            "too_large",
            "malformed",
            "unknown_key",
            "bad_signature",
            "wrong_purpose",
            "expired",
            "not_yet_valid",
            "invalid_claims",
            "invalid_config"
        ]
    );
    assert!(errors.iter().all(|e| !e.to_string().is_empty()));
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
