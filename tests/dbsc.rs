//! Device-bound sessions: the known vectors of tests/vectors/dbsc.json (scripts/dbsc-vectors.mjs:
//! proofs made by WebCrypto key pairs, challenges and bound cookies computed by Node's HMAC) read
//! through the public API, and the flows of registration and refresh end to end (all but the
//! signature, which WebCrypto checks: src/webcrypto.rs). These bodies run natively
//! (`cargo test`) and in WebAssembly (`wasm-pack test --node`).
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edge_session::dbsc::{
    wire, Alg, DeviceBinding, DeviceKey, Kind, Proof, SessionConfig, DEFAULT_BOUND_SECONDS,
};
use edge_session::{KeyConfig, KeyRing};
use serde_json::Value;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/dbsc.json")).unwrap()
}

fn binding(v: &Value) -> DeviceBinding {
    let keys: Vec<KeyConfig> = serde_json::from_value(v["keys"].clone()).unwrap();
    let seconds = v["boundSeconds"].as_u64().unwrap();
    DeviceBinding::new(&KeyRing::from_config(&keys).unwrap(), seconds).unwrap()
}

fn random(hex: &str) -> [u8; 8] {
    let bytes: Vec<u8> = (0..16)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

#[test]
fn rfc7638_thumbprint() {
    let v = vectors();
    let key = DeviceKey::from_jwk_json(&v["rfc7638"]["jwk"].to_string()).unwrap();
    assert_eq!(key.thumbprint(), v["rfc7638"]["thumbprint"]);
}

#[test]
fn challenges_and_bound_cookies_as_node_computes_them() {
    let v = vectors();
    let b = binding(&v);
    for c in v["challenges"].as_array().unwrap() {
        let kind = match c["kind"].as_str().unwrap() {
            "registration" => Kind::Registration,
            _ => Kind::Refresh,
        };
        let sid = c["sessionId"].as_str().unwrap();
        let now = c["now"].as_u64().unwrap();
        let issued = b
            .challenges()
            .issue(kind, sid, now, random(c["random"].as_str().unwrap()));
        assert_eq!(issued, c["challenge"], "{kind:?}");
        assert!(b.challenges().check(kind, sid, &issued, now).is_ok());
    }
    assert_eq!(v["bound"].as_array().unwrap().len(), 2);
    for c in v["bound"].as_array().unwrap() {
        let (sid, jkt) = (c["sessionId"].as_str().unwrap(), c["jkt"].as_str().unwrap());
        let now = c["now"].as_u64().unwrap();
        let value = b.bound_cookie(sid, jkt, now, random(c["random"].as_str().unwrap()));
        assert_eq!(value, c["value"]);
        assert!(b.check_bound(&value, sid, jkt, now + 600).is_ok());
        assert_eq!(
            b.check_bound(&value, sid, jkt, now + 601)
                .unwrap_err()
                .code(),
            "expired"
        );
    }
}

/// Each proof vector through the step it names: the code it gives, or what it reads.
#[test]
fn proof_vectors() {
    let v = vectors();
    let b = binding(&v);
    let sid = v["sessionId"].as_str().unwrap();
    let now = v["now"].as_u64().unwrap();
    let seconds = v["boundSeconds"].as_u64().unwrap();
    let proofs = v["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 21);
    let mut seen = std::collections::BTreeSet::new();
    for p in proofs {
        let name = p["name"].as_str().unwrap();
        let expected = p["code"].as_str();
        let jwt = p["jwt"].as_str().unwrap();
        let result = Proof::parse(jwt).and_then(|proof| {
            let step = p["step"].as_str().unwrap();
            assert_eq!(proof.alg().name(), p["alg"], "{name}");
            assert_eq!(proof.jti(), p["jti"], "{name}");
            assert_eq!(proof.authorization(), p["authorization"].as_str(), "{name}");
            let (input, _) = jwt.rsplit_once('.').unwrap();
            assert_eq!(proof.signing_input(), input.as_bytes(), "{name}");
            let key = DeviceKey::from_jwk_json(&p["jwk"].to_string()).unwrap();
            assert_eq!(key.thumbprint(), p["jkt"], "{name}");
            assert_eq!(proof.signature().len(), key.signature_len(), "{name}");
            match step {
                "registration" => {
                    let r = b.register(&proof, sid, now)?;
                    assert_eq!(&r.key, proof.jwk().unwrap(), "{name}");
                    assert_eq!(r.key, key, "{name}");
                    assert_eq!(r.jkt, p["jkt"], "{name}");
                    assert_eq!(r.challenge_id.expires, now + 300, "{name}");
                }
                "refresh" => {
                    let jkt = key.thumbprint();
                    // The refresh challenges were issued a bound cookie's life after `now`.
                    let at = now + seconds;
                    let r = b.refresh(&proof, sid, &key, &jkt, at)?;
                    assert_eq!(r.challenge_id.expires, at + seconds + 300, "{name}");
                    let late = b.refresh(&proof, sid, &key, &jkt, at + seconds + 301);
                    assert_eq!(late.unwrap_err().code(), "expired", "{name}");
                }
                other => panic!("{name}: step {other} should not parse"),
            }
            Ok(())
        });
        assert_eq!(result.err().map(|e| e.code()), expected, "{name}");
        seen.insert(expected.unwrap_or("ok"));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["malformed", "ok", "unknown_challenge", "unsupported_alg"]
    );
}

#[test]
fn the_drafts_example() {
    let v = vectors();
    let d = &v["draftExample"];
    let proof = Proof::parse(d["header"].as_str().unwrap()).unwrap();
    assert_eq!(proof.alg(), Alg::ES256);
    assert_eq!(proof.jti(), d["jti"]);
    assert_eq!(proof.authorization(), d["authorization"].as_str());
    assert!(proof.jwk().is_none());
    let b = binding(&v);
    assert_eq!(
        b.register(&proof, "s", 1_725_579_055).unwrap_err().code(),
        d["registrationCode"]
    );
    assert_eq!(d["verifies"], false);
}

/// A whole session: offer, registration, bound cookies, refresh challenges, rotation of the
/// keyring, the session config, with every value new.
#[test]
fn a_session_from_offer_to_end() {
    let v = vectors();
    let p = &v["proofs"][0];
    assert_eq!(p["name"], "ES256 registration");
    let proof = Proof::parse(p["jwt"].as_str().unwrap()).unwrap();
    let b = binding(&v);
    let sid = v["sessionId"].as_str().unwrap();
    let now = v["now"].as_u64().unwrap();
    assert_eq!(DEFAULT_BOUND_SECONDS, 600);

    let offer = b.offer(sid, now, [3; 8]);
    assert_eq!(offer, proof.jti());
    let header = wire::registration_header(&offer, "/__edge/dbsc/register", Some("ac")).unwrap();
    assert!(header.starts_with("(ES256 RS256);path=\"/__edge/dbsc/register\";challenge=\""));
    let registered = b.register(&proof, sid, now + 10).unwrap();
    assert_eq!(proof.authorization(), Some("ac"));
    let config = SessionConfig::new(sid, "/r", "https://app.example", "bound", "Path=/");
    let json: Value = serde_json::from_str(&config.to_json()).unwrap();
    assert_eq!(json["session_identifier"], sid);

    // Bound cookies and challenges: new values each time.
    let mut values = std::collections::HashSet::new();
    for i in 0..4u8 {
        let at = now + u64::from(i) * 600;
        let cookie = b.bound_cookie(sid, &registered.jkt, at, [i; 8]);
        assert!(b.check_bound(&cookie, sid, &registered.jkt, at).is_ok());
        let challenge = b.challenge(sid, at, [i; 8]);
        let header = wire::challenge_header(&challenge, sid).unwrap();
        assert_eq!(header, format!("\"{challenge}\";id=\"{sid}\""));
        assert!(values.insert(cookie) && values.insert(challenge));
    }
    // Another session's cookie is not this one's.
    let other = b.bound_cookie("other", &registered.jkt, now, [0; 8]);
    assert_eq!(
        b.check_bound(&other, sid, &registered.jkt, now)
            .unwrap_err()
            .code(),
        "bad_signature"
    );
    assert_eq!(SessionConfig::end(), r#"{"continue":false}"#);
}

#[test]
fn rotation_keeps_bound_sessions() {
    let v = vectors();
    let old = binding(&v);
    let secret = "bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQtbmV3";
    let ring = KeyRing::from_config(&[
        KeyConfig {
            id: "k2".into(),
            secret: secret.into(),
        },
        KeyConfig {
            id: "k1".into(),
            secret: v["keys"][0]["secret"].as_str().unwrap().into(),
        },
    ])
    .unwrap();
    let rotated = DeviceBinding::new(&ring, 600).unwrap();
    let now = 1_800_000_000;
    let cookie = old.bound_cookie("s", "jkt", now, [1; 8]);
    assert!(rotated.check_bound(&cookie, "s", "jkt", now).is_ok());
    let challenge = old.challenge("s", now, [1; 8]);
    assert!(rotated
        .challenges()
        .check(Kind::Refresh, "s", &challenge, now)
        .is_ok());
    let fresh = rotated.bound_cookie("s", "jkt", now, [1; 8]);
    assert_ne!(fresh, cookie);
    assert_eq!(
        old.check_bound(&fresh, "s", "jkt", now).unwrap_err().code(),
        "bad_signature"
    );
}

/// The settings print their lifetimes and nothing of the keyring: no secret, no derived key
/// (challenges and bound cookies each have keys of their own).
#[test]
fn debug_shows_the_lifetimes_not_the_keys() {
    let b = binding(&vectors());
    assert_eq!(
        format!("{b:?}"),
        "DeviceBinding { challenges: Challenges { bound_seconds: 600, .. }, \
         bound: BoundCookies { seconds: 600, .. } }"
    );
}
