//! Property tests of the compact token (native only: proptest does not run in wasm here).
#![cfg(not(target_arch = "wasm32"))]
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edge_session::{KeyConfig, SessionTokens, TokenConfig};
use proptest::prelude::*;
use serde_json::{Map, Value};

const NOW: u64 = 1_800_000_000;

fn tokens() -> SessionTokens {
    SessionTokens::new(TokenConfig::new(vec![KeyConfig {
        id: "k1".into(),
        secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA".into(),
    }]))
    .unwrap()
}

/// Arbitrary JSON values: nested arrays and objects of strings, integers, floats, bools, nulls.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn claims() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z_]{1,6}|.{0,6}", json_value(), 0..6).prop_map(|m| {
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
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_for_arbitrary_claims(claims in claims(), ttl in 1u64..=7 * 24 * 3600) {
        let t = tokens();
        let token = t.sign_with_ttl(&claims, NOW, ttl).unwrap();
        let mut got: Map<String, Value> = t.verify(&token, NOW).unwrap();
        prop_assert_eq!(got.remove("iat"), Some(Value::from(NOW)));
        prop_assert_eq!(got.remove("exp"), Some(Value::from(NOW + ttl)));
        prop_assert_eq!(got, claims);
    }

    #[test]
    fn any_single_byte_change_is_rejected(
        claims in claims(),
        pick in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let t = tokens();
        let token = t.sign(&claims, NOW).unwrap();
        let mut bytes = token.clone().into_bytes();
        let i = pick.index(bytes.len());
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let forged = String::from_utf8_lossy(&bytes);
        prop_assert!(t.verify::<Value>(&forged, NOW).is_err());
    }

    #[test]
    fn arbitrary_strings_never_verify_or_panic(s in ".{0,300}") {
        prop_assert!(tokens().verify::<Value>(&s, NOW).is_err());
    }

    #[test]
    fn arbitrary_base64url_never_verifies(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        use base64::Engine;
        let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert!(tokens().verify::<Value>(&s, NOW).is_err());
    }
}
