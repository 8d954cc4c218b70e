//! JWT HS256 interop: RFC 7515's example, round trips, kid and rotation, every refusal path.
//! These bodies run natively (`cargo test`) and in WebAssembly (`wasm-pack test --node`).
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edge_session::{JwtSignOptions, KeyConfig, SessionTokens, TokenConfig, VerifyOptions};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::{
    expired_only_when_otherwise_valid, key, one_character_changes, NOW, SECRET_1, SECRET_2,
};

fn ring(keys: Vec<KeyConfig>) -> SessionTokens {
    SessionTokens::new(TokenConfig::new(keys)).unwrap()
}

fn tokens() -> SessionTokens {
    ring(vec![key("k1", SECRET_1)])
}

fn claims() -> Value {
    json!({ "sub": "user-12345", "role": "admin" })
}

/// The `sub` of claims given as JSON text (what a `minIssuedAt` lookup receives).
fn sub(claims: &str) -> Value {
    serde_json::from_str::<Value>(claims).unwrap()["sub"].clone()
}

fn at(now: u64) -> VerifyOptions<'static> {
    VerifyOptions::at(now)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT with exactly this header and payload text, signed HS256 with `secret` (base64url).
fn craft(header: &str, payload: &str, secret: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let key = URL_SAFE_NO_PAD.decode(secret).unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn code<T: std::fmt::Debug>(result: Result<T, edge_session::Error>) -> &'static str {
    result.unwrap_err().code()
}

fn verify_code(t: &SessionTokens, token: &str, now: u64) -> &'static str {
    code(t.verify_jwt::<Value>(token, &at(now)))
}

/// The known answers of tests/vectors/jwt.json (also checked from JavaScript): RFC 7515
/// appendix A.1, the example JWS using HMAC SHA-256 and its 64-byte key, with the issuer
/// check, the expiry with the default 30 s leeway, and another key.
#[test]
fn known_answer_vectors() {
    let vectors: Value = serde_json::from_str(include_str!("vectors/jwt.json")).unwrap();
    let entries = vectors["verify"].as_array().unwrap();
    assert!(!entries.is_empty());
    for v in entries {
        let name = v["name"].as_str().unwrap();
        let t = SessionTokens::new(serde_json::from_value(v["config"].clone()).unwrap()).unwrap();
        let mut options = at(v["now"].as_u64().unwrap());
        if let Some(issuer) = v.get("issuer") {
            options = options.issuer(issuer.as_str().unwrap());
        }
        let token = v["token"].as_str().unwrap();
        let got = t.verify_jwt_detailed::<Value>(token, &options);
        match v.get("error") {
            Some(error) => {
                assert_eq!(got.unwrap_err().code(), error, "{name}");
                assert_eq!(
                    t.verify_jwt::<Value>(token, &options).unwrap_err().code(),
                    error,
                    "{name}"
                );
            }
            None => {
                let got = got.unwrap();
                assert_eq!(got.claims, v["claims"], "{name}");
                assert_eq!(got.key_id, v["keyId"].as_str().unwrap(), "{name}");
                assert_eq!(got.stale_key, v["staleKey"].as_bool().unwrap(), "{name}");
                assert_eq!(
                    t.verify_jwt::<Value>(token, &options).unwrap(),
                    v["claims"],
                    "{name}"
                );
            }
        }
    }
}

/// The `sign` vectors of tests/vectors/jwt.json (also checked from JavaScript): the exact JWT
/// signed for the claims at `now`, which verifies as them with the issued times.
#[test]
fn sign_known_answer_vectors() {
    let vectors: Value = serde_json::from_str(include_str!("vectors/jwt.json")).unwrap();
    let entries = vectors["sign"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for v in entries {
        let name = v["name"].as_str().unwrap();
        let t = SessionTokens::new(serde_json::from_value(v["config"].clone()).unwrap()).unwrap();
        let now = v["now"].as_u64().unwrap();
        let text = |n: &str| v.get(n).map(|s| s.as_str().unwrap());
        let mut options = JwtSignOptions::at(now);
        if let Some(ttl) = v.get("ttlSeconds") {
            options = options.ttl_seconds(ttl.as_u64().unwrap());
        }
        if let Some(issuer) = text("issuer") {
            options = options.issuer(issuer);
        }
        if let Some(audience) = text("audience") {
            options = options.audience(audience);
        }
        let token = t.sign_jwt(&v["claims"], &options).unwrap();
        assert_eq!(token, v["token"].as_str().unwrap(), "{name}");
        let got: Value = t.verify_jwt(&token, &at(now)).unwrap();
        assert_eq!(got["sub"], v["claims"]["sub"], "{name}");
    }
}

#[test]
fn round_trip_with_the_standard_header() {
    let t = tokens();
    let jwt = t.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap();
    let segments: Vec<&str> = jwt.split('.').collect();
    assert_eq!(segments.len(), 3);
    assert_eq!(
        URL_SAFE_NO_PAD.decode(segments[0]).unwrap(),
        br#"{"alg":"HS256","typ":"JWT"}"#
    );
    let got: Value = t.verify_jwt(&jwt, &at(NOW)).unwrap();
    assert_eq!(
        got,
        json!({ "sub": "user-12345", "role": "admin", "iat": NOW, "exp": NOW + 3600 })
    );
    // Byte for byte what any HS256 library computes with the raw secret.
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(segments[1]).unwrap()).unwrap();
    assert_eq!(
        jwt,
        craft(r#"{"alg":"HS256","typ":"JWT"}"#, &payload, SECRET_1)
    );
}

#[test]
fn sign_options_set_ttl_issuer_and_audience() {
    let t = tokens();
    let options = JwtSignOptions::at(NOW)
        .ttl_seconds(60)
        .issuer("https://a.example")
        .audience("app");
    let jwt = t
        .sign_jwt(
            &json!({ "sub": "u", "iat": 1, "exp": 2, "nbf": NOW }),
            &options,
        )
        .unwrap();
    let got: Value = t.verify_jwt(&jwt, &at(NOW)).unwrap();
    assert_eq!(
        got,
        json!({ "sub": "u", "iat": NOW, "exp": NOW + 60, "nbf": NOW, "iss": "https://a.example", "aud": "app" })
    );
    // An nbf signed is a whole number of seconds, before exp (not milliseconds).
    for nbf in [
        json!("soon"),
        json!(1.5),
        json!(9_007_199_254_740_992u64),
        json!(NOW * 1000),
        json!(NOW + 3600),
    ] {
        assert_eq!(
            code(t.sign_jwt(&json!({ "nbf": nbf }), &JwtSignOptions::at(NOW))),
            "invalid_claims",
            "{nbf}"
        );
    }
    assert_eq!(
        code(t.sign_jwt(&json!([1]), &JwtSignOptions::at(NOW))),
        "invalid_claims"
    );
    // What verify_jwt would refuse as malformed is refused at sign.
    for bad in [
        json!({ "iss": 1 }),
        json!({ "aud": 5 }),
        json!({ "auth_time": "yesterday" }),
    ] {
        assert_eq!(
            code(t.sign_jwt(&bad, &JwtSignOptions::at(NOW))),
            "invalid_claims",
            "{bad}"
        );
    }
    assert_eq!(
        code(t.sign_jwt(&claims(), &JwtSignOptions::at(NOW).ttl_seconds(0))),
        "invalid_config"
    );
}

/// The longest lifetime accepted (2^53 - 1 - 8.64e12 s, see tests/token_kinds.rs) signs and
/// verifies a JWT at any `now` accepted (up to 10^11 s, the year 5138): `exp` at most 2^53 - 1,
/// a NumericDate exact in JSON. One second more is refused, at construction and as a per-token
/// lifetime; so is a `now` past 10^11 (a time in milliseconds), as `now`.
#[test]
fn the_longest_ttl_signs_and_verifies_and_one_more_is_refused() {
    const MAX_CLOCK: u64 = 8_640_000_000_000;
    const MAX_TTL: u64 = (1 << 53) - 1 - MAX_CLOCK;
    let with = |ttl: u64| {
        let mut config = TokenConfig::new(vec![key("k1", SECRET_1)]);
        config.ttl_seconds = ttl;
        SessionTokens::new(config)
    };
    let t = with(MAX_TTL).unwrap();
    for now in [NOW, edge_session::time::LATEST_NOW] {
        let jwt = t.sign_jwt(&claims(), &JwtSignOptions::at(now)).unwrap();
        let got: Value = t.verify_jwt(&jwt, &at(now)).unwrap();
        assert_eq!(got["exp"], now + MAX_TTL);
    }
    assert_eq!(with(MAX_TTL + 1).unwrap_err().setting(), Some("ttlSeconds"));
    let jwt = t.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap();
    for now in [edge_session::time::LATEST_NOW + 1, NOW * 1000] {
        let e = t.sign_jwt(&claims(), &JwtSignOptions::at(now)).unwrap_err();
        assert_eq!((e.code(), e.setting()), ("invalid_config", Some("now")));
        // At verify too: not `expired`, which said nothing of the clock.
        let e = t.verify_jwt::<Value>(&jwt, &at(now)).unwrap_err();
        assert_eq!((e.code(), e.setting()), ("invalid_config", Some("now")));
    }
    let options = JwtSignOptions::at(NOW).ttl_seconds(MAX_TTL + 1);
    assert_eq!(
        t.sign_jwt(&claims(), &options).unwrap_err().setting(),
        Some("ttlSeconds")
    );
}

/// Claims nested deeper than 127 levels (the object itself the first) are refused for that
/// reason, not as "not a JSON object": `invalid_claims` at sign, `malformed` at verify.
#[test]
fn claims_nested_too_deep_say_so() {
    let t = tokens();
    let nested = |n: usize| format!(r#"{{"a":{}{}"#, "[".repeat(n), "]".repeat(n)) + "}";
    let deep: Value = serde_json::from_str(&nested(126)).unwrap();
    assert!(t.sign_jwt(&deep, &JwtSignOptions::at(NOW)).is_ok());
    let mut deeper = json!([]);
    for _ in 0..126 {
        deeper = json!([deeper]);
    }
    let err = t
        .sign_jwt(&json!({ "a": deeper }), &JwtSignOptions::at(NOW))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_claims");
    assert!(err.to_string().contains("nested more than 127"), "{err}");
    let payload = nested(127).replacen('{', r#"{"exp":1800003600,"#, 1);
    let jwt = craft(r#"{"alg":"HS256","typ":"JWT"}"#, &payload, SECRET_1);
    let err = t.verify_jwt::<Value>(&jwt, &at(NOW)).unwrap_err();
    assert_eq!(err.code(), "malformed");
    assert!(err.to_string().contains("nested more than 127"), "{err}");
}

#[test]
fn kid_header_with_several_keys_and_rotation() {
    let old = tokens();
    let new = ring(vec![key("k2", SECRET_2), key("k1", SECRET_1)]);
    // Several keys: the header names the signer.
    let jwt = new.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap();
    let header = URL_SAFE_NO_PAD
        .decode(jwt.split('.').next().unwrap())
        .unwrap();
    assert_eq!(header, br#"{"alg":"HS256","typ":"JWT","kid":"k2"}"#);
    let v = new.verify_jwt_detailed::<Value>(&jwt, &at(NOW)).unwrap();
    assert_eq!((v.key_id.as_str(), v.stale_key), ("k2", false));
    // A token from the single-key ring has no kid: it is tried against each key.
    let jwt = old.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap();
    let v = new.verify_jwt_detailed::<Value>(&jwt, &at(NOW)).unwrap();
    assert_eq!((v.key_id.as_str(), v.stale_key), ("k1", true));
    // A named key is the only one tried; an unknown one is refused.
    let payload = format!(r#"{{"exp":{}}}"#, NOW + 10);
    let wrong = craft(r#"{"alg":"HS256","kid":"k2"}"#, &payload, SECRET_1);
    assert_eq!(verify_code(&new, &wrong, NOW), "bad_signature");
    let unknown = craft(r#"{"alg":"HS256","kid":"k9"}"#, &payload, SECRET_1);
    assert_eq!(verify_code(&new, &unknown, NOW), "unknown_key");
    // kid is accepted with one key too.
    let named = craft(r#"{"alg":"HS256","kid":"k1"}"#, &payload, SECRET_1);
    assert!(old.verify_jwt::<Value>(&named, &at(NOW)).is_ok());
}

/// An unknown `kid`, or an `alg` other than HS256, is named in the error as a compact token's
/// key id is: ASCII as it is, anything else as U+FFFD, and at most 64 bytes (no longer id names
/// a key; one of exactly 64 bytes whole, a longer one cut with `...`). The header is the sender's text, read before any signature: it reached the message
/// whole (up to `maxTokenBytes`, 1 MB at most), bidirectional overrides and line separators
/// included.
#[test]
fn a_headers_kid_and_alg_are_named_within_bounds() {
    let t = tokens();
    let payload = format!(r#"{{"exp":{}}}"#, NOW + 10);
    let long = "x".repeat(2000);
    let cases = [
        ("k9".to_owned(), "k9".to_owned()),
        ("none".to_owned(), "none".to_owned()),
        (
            "\u{202e}k9".to_owned(),
            "\u{fffd}\u{fffd}\u{fffd}k9".to_owned(),
        ),
        (
            "a\u{2028}b".to_owned(),
            "a\u{fffd}\u{fffd}\u{fffd}b".to_owned(),
        ),
        (long[..64].to_owned(), long[..64].to_owned()),
        (long.clone(), format!("{}...", &long[..64])),
    ];
    for (text, shown) in cases {
        let kid = json!({ "alg": "HS256", "kid": text }).to_string();
        let alg = json!({ "alg": text }).to_string();
        for (header, want, message) in [
            (
                kid,
                edge_session::Error::UnknownKey(shown.clone()),
                format!("token was signed with unknown key id \"{shown}\""),
            ),
            (
                alg,
                edge_session::Error::UnsupportedAlg(shown.clone()),
                format!("unsupported JWT algorithm \"{shown}\""),
            ),
        ] {
            let jwt = craft(&header, &payload, SECRET_1);
            let error = t.verify_jwt::<Value>(&jwt, &at(NOW)).unwrap_err();
            assert_eq!(error, want, "{header:.80}");
            assert_eq!(error.to_string(), message);
        }
    }
}

#[test]
fn jwt_and_compact_tokens_do_not_mix() {
    let t = tokens();
    let compact = t.sign(&claims(), NOW).unwrap();
    let jwt = t.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap();
    assert_eq!(verify_code(&t, &compact, NOW), "malformed");
    assert_eq!(code(t.verify::<Value>(&jwt, NOW)), "malformed");
}

#[test]
fn refused_headers() {
    let t = tokens();
    let payload = format!(r#"{{"sub":"u","exp":{}}}"#, NOW + 10);
    for (header, expected) in [
        (r#"{"alg":"none"}"#, "unsupported_alg"),
        (r#"{"alg":"none","typ":"JWT"}"#, "unsupported_alg"),
        (r#"{"alg":"HS384"}"#, "unsupported_alg"),
        (r#"{"alg":"RS256"}"#, "unsupported_alg"),
        (r#"{"alg":"hs256"}"#, "unsupported_alg"),
        (r#"{"typ":"JWT"}"#, "malformed"),
        (r#"{"alg":"HS256","alg":"HS256"}"#, "malformed"),
        (r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#, "malformed"),
        (r#"{"alg":"HS256","kid":"k1","kid":"k1"}"#, "malformed"),
        (r#"{"alg":"HS256","\u0061lg":"HS256"}"#, "malformed"),
        (r#"{"alg":"HS256","crit":["exp"]}"#, "malformed"),
        // RFC 7797's unencoded payload without its crit: jose ignores b64 and reads the
        // payload as base64url, PyJWT honours it (the payload is detached): refused.
        (r#"{"alg":"HS256","b64":false}"#, "malformed"),
        (r#"{"alg":"HS256","b64":"false"}"#, "malformed"),
        (r#"{"alg":"HS256","b64":null}"#, "malformed"),
        (r#"{"alg":"HS256","typ":"JOSE+JSON"}"#, "malformed"),
        (r#"{"alg":["HS256"]}"#, "malformed"),
        (r#"["HS256"]"#, "malformed"),
        ("", "malformed"),
        ("not json", "malformed"),
    ] {
        let jwt = craft(header, &payload, SECRET_1);
        assert_eq!(verify_code(&t, &jwt, NOW), expected, "{header}");
    }
    // typ is a media type: JWT, application/jwt (RFC 7515 4.1.9: "application/" may be left
    // out), in any case; other types are refused.
    for typ in ["JWT", "jwt", "application/jwt", "Application/JWT"] {
        let jwt = craft(
            &format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#),
            &payload,
            SECRET_1,
        );
        assert!(t.verify_jwt::<Value>(&jwt, &at(NOW)).is_ok(), "{typ}");
    }
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "JOSE",
        "application/",
        "/jwt",
        "xapplication/jwt",
    ] {
        let jwt = craft(
            &format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#),
            &payload,
            SECRET_1,
        );
        assert_eq!(verify_code(&t, &jwt, NOW), "malformed", "{typ}");
    }
    // b64 true is what every library reads without it.
    let b64_true = craft(r#"{"alg":"HS256","b64":true}"#, &payload, SECRET_1);
    assert!(t.verify_jwt::<Value>(&b64_true, &at(NOW)).is_ok());
    // alg "none" with an empty signature, as an attacker sends it.
    let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(payload.as_bytes()));
    assert_eq!(verify_code(&t, &none, NOW), "unsupported_alg");
}

#[test]
fn refused_claims() {
    let t = tokens();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let exp = NOW + 10;
    for (payload, expected) in [
        (r#"{"sub":"u"}"#.to_owned(), "malformed"),
        (format!(r#"{{"exp":{exp},"exp":{exp}}}"#), "malformed"),
        (
            format!(r#"{{"exp":{exp},"sub":"a","sub":"b"}}"#),
            "malformed",
        ),
        (format!(r#"{{"exp":"{exp}"}}"#), "malformed"),
        (r#"{"exp":-1}"#.to_owned(), "malformed"),
        (format!(r#"{{"exp":{exp},"iat":null}}"#), "malformed"),
        (format!(r#"{{"exp":{exp},"iss":7}}"#), "malformed"),
        (format!(r#"{{"exp":{exp},"aud":[7]}}"#), "malformed"),
        (format!("[{exp}]"), "malformed"),
        (format!(r#"{{"exp":{exp}}} trailing"#), "malformed"),
        ("\u{0}".to_owned(), "malformed"),
    ] {
        let jwt = craft(header, &payload, SECRET_1);
        assert_eq!(verify_code(&t, &jwt, NOW), expected, "{payload}");
    }
    // Fractional times are accepted, as RFC 7519 allows.
    let jwt = craft(header, &format!(r#"{{"exp":{exp}.5}}"#), SECRET_1);
    assert!(t.verify_jwt::<Value>(&jwt, &at(NOW)).is_ok());
}

/// Fractional times are compared as they are (as jose compares them), not floored: a token
/// whose `exp` is half a second past `now - leeway` is still valid, one whose `nbf` or `iat`
/// is half a second past `now + leeway` not yet valid. Revocation compares the time issued as
/// it is too: half a second before `minIssuedAt` is before it.
#[test]
fn fractional_times_at_the_boundaries() {
    let t = tokens();
    let header = r#"{"alg":"HS256"}"#;
    let jwt = |payload: String| craft(header, &payload, SECRET_1);
    // The default leeway is 30 s.
    let exp = jwt(format!(r#"{{"exp":{NOW}.5}}"#));
    assert!(t.verify_jwt::<Value>(&exp, &at(NOW + 30)).is_ok());
    let err = t.verify_jwt::<Value>(&exp, &at(NOW + 31)).unwrap_err();
    assert_eq!(err.code(), "expired");
    assert_eq!(
        err.claims::<Value>().unwrap()["exp"],
        json!(1_800_000_000.5)
    );
    let exp = jwt(format!(r#"{{"exp":{}e-1}}"#, NOW * 10 + 1));
    assert!(t.verify_jwt::<Value>(&exp, &at(NOW + 30)).is_ok());
    assert_eq!(verify_code(&t, &exp, NOW + 31), "expired");
    for start in ["nbf", "iat"] {
        let later = jwt(format!(
            r#"{{"exp":{},"{start}":{}.5}}"#,
            NOW + 999,
            NOW + 100
        ));
        assert_eq!(
            verify_code(&t, &later, NOW + 70),
            "not_yet_valid",
            "{start}"
        );
        assert!(
            t.verify_jwt::<Value>(&later, &at(NOW + 71)).is_ok(),
            "{start}"
        );
        let tiny = jwt(format!(
            r#"{{"exp":{},"{start}":{}.000001}}"#,
            NOW + 999,
            NOW + 100
        ));
        assert_eq!(verify_code(&t, &tiny, NOW + 70), "not_yet_valid", "{start}");
    }
    let issued = jwt(format!(r#"{{"exp":{},"iat":{}.5}}"#, NOW + 999, NOW - 1));
    let revoked = at(NOW).min_issued_at(NOW);
    assert_eq!(code(t.verify_jwt::<Value>(&issued, &revoked)), "revoked");
    assert!(t
        .verify_jwt::<Value>(&issued, &at(NOW).min_issued_at(NOW - 1))
        .is_ok());
}

#[test]
fn refused_encodings() {
    let t = tokens();
    let jwt = t.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap();
    let (h, rest) = jwt.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    for bad in [
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}."),
        format!(".{h}.{p}.{s}"),
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}=.{s}"),
        format!("{h}.{p}.{s}="),
        format!("{h}.{p}.{}", &s[..s.len() - 1]),
        format!("{h}.{p}.{}", s.replace(['-', '_'], "A") + "A"),
        format!("{h}.{p}.+{}", &s[1..]),
        format!("{h}.{p}./{}", &s[1..]),
        format!("{h}.{p}."),
        format!(" {jwt}"),
        format!("{jwt}\n"),
        String::new(),
        "..".to_owned(),
    ] {
        assert_eq!(verify_code(&t, &bad, NOW), "malformed", "{bad}");
    }
    // A non-canonical last character: the same bytes, other text.
    let last = s.chars().last().unwrap();
    let bumped = char::from_u32(last as u32 + 1)
        .filter(|c| c.is_ascii_alphanumeric())
        .unwrap_or('A');
    let changed = format!("{h}.{p}.{}{bumped}", &s[..s.len() - 1]);
    assert!(matches!(
        verify_code(&t, &changed, NOW),
        "malformed" | "bad_signature"
    ));
}

/// Not only the alphabet: a character replaced, added or left out anywhere in a JWT (header,
/// payload, signature, dots), padding, whitespace and the standard alphabet included, never
/// gives one that verifies: with the usual header (tried against each key), and with a `kid`.
#[test]
fn no_text_one_character_away_verifies() {
    let one = tokens();
    let two = ring(vec![key("k2", SECRET_2), key("k1", SECRET_1)]);
    for signer in [&one, &two] {
        let jwt = signer
            .sign_jwt(&claims(), &JwtSignOptions::at(NOW))
            .unwrap();
        for changed in one_character_changes(&jwt) {
            for t in [&one, &two] {
                assert!(
                    t.verify_jwt::<Value>(&changed, &at(NOW)).is_err(),
                    "{changed:?}"
                );
            }
        }
    }
}

#[test]
fn signature_and_size() {
    let t = tokens();
    let jwt = t.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap();
    let other = ring(vec![key("k1", SECRET_2)]);
    assert_eq!(verify_code(&other, &jwt, NOW), "bad_signature");
    let i = jwt.len() - 10;
    let mut forged = jwt.clone();
    forged.replace_range(i..=i, if &jwt[i..=i] == "A" { "B" } else { "A" });
    assert_eq!(verify_code(&t, &forged, NOW), "bad_signature");
    let huge = "a".repeat(5000);
    assert_eq!(verify_code(&t, &huge, NOW), "too_large");
    let big = json!({ "blob": "x".repeat(4000) });
    assert_eq!(
        code(t.sign_jwt(&big, &JwtSignOptions::at(NOW))),
        "too_large"
    );
}

#[test]
fn lifetime_with_leeway_on_both_sides() {
    let t = tokens();
    let jwt = t.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap();
    // Valid until the second exp + leeway, expired from it (RFC 7519: "on or after").
    assert!(t.verify_jwt::<Value>(&jwt, &at(NOW + 3600 + 29)).is_ok());
    let err = t
        .verify_jwt::<Value>(&jwt, &at(NOW + 3600 + 30))
        .unwrap_err();
    assert_eq!(err.code(), "expired");
    assert_eq!(err.claims::<Value>().unwrap()["sub"], "user-12345");
    match err {
        edge_session::Error::Expired { exp, .. } => assert_eq!(exp, NOW + 3600),
        other => panic!("{other:?}"),
    }
    // iat in the future.
    assert!(t.verify_jwt::<Value>(&jwt, &at(NOW - 30)).is_ok());
    assert_eq!(verify_code(&t, &jwt, NOW - 31), "not_yet_valid");
    // nbf in the future.
    let header = r#"{"alg":"HS256"}"#;
    let nbf = craft(
        header,
        &format!(r#"{{"exp":{},"nbf":{}}}"#, NOW + 999, NOW + 100),
        SECRET_1,
    );
    assert!(t.verify_jwt::<Value>(&nbf, &at(NOW + 70)).is_ok());
    assert_eq!(verify_code(&t, &nbf, NOW + 69), "not_yet_valid");
}

#[test]
fn issuer_and_audience() {
    let t = tokens();
    let header = r#"{"alg":"HS256"}"#;
    let exp = NOW + 100;
    let one = craft(
        header,
        &format!(r#"{{"exp":{exp},"iss":"me","aud":"app"}}"#),
        SECRET_1,
    );
    let many = craft(
        header,
        &format!(r#"{{"exp":{exp},"aud":["web","app"]}}"#),
        SECRET_1,
    );
    let none = craft(header, &format!(r#"{{"exp":{exp}}}"#), SECRET_1);
    let check = |jwt: &str, o: VerifyOptions| {
        t.verify_jwt::<Value>(jwt, &o)
            .map(|_| ())
            .map_err(|e| e.code())
    };
    assert_eq!(check(&one, at(NOW).issuer("me").audience("app")), Ok(()));
    assert_eq!(check(&one, at(NOW).issuer("you")), Err("wrong_issuer"));
    assert_eq!(check(&none, at(NOW).issuer("me")), Err("wrong_issuer"));
    assert_eq!(check(&one, at(NOW).audience("web")), Err("wrong_audience"));
    assert_eq!(check(&many, at(NOW).audience("web")), Ok(()));
    assert_eq!(check(&many, at(NOW).audience("api")), Err("wrong_audience"));
    assert_eq!(check(&none, at(NOW).audience("app")), Err("wrong_audience"));
    // Not asked, not checked (as in jose).
    assert_eq!(check(&many, at(NOW)), Ok(()));
}

/// As for compact tokens: `expired` and its claims come only with a JWT that would otherwise
/// verify; one of another issuer or audience, or revoked, is refused as such.
#[test]
fn an_expired_jwt_failing_another_check_is_refused_as_such() {
    let t = tokens();
    let payload = format!(
        r#"{{"iss":"me","aud":"web","iat":{NOW},"exp":{}}}"#,
        NOW + 60
    );
    let jwt = craft(r#"{"alg":"HS256"}"#, &payload, SECRET_1);
    let claims = expired_only_when_otherwise_valid(at(NOW + 90), |o| {
        t.verify_jwt::<Value>(&jwt, &o).unwrap_err()
    });
    assert_eq!(claims["exp"], NOW + 60);
}

#[test]
fn revocation() {
    let t = tokens();
    let jwt = t.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap();
    let check = |o: VerifyOptions| {
        t.verify_jwt::<Value>(&jwt, &o)
            .map(|_| ())
            .map_err(|e| e.code())
    };
    assert_eq!(check(at(NOW).min_issued_at(NOW)), Ok(()));
    assert_eq!(check(at(NOW).min_issued_at(NOW + 1)), Err("revoked"));
    let lookup = |c: &str| (sub(c) == "user-12345").then_some(NOW + 1);
    assert_eq!(check(at(NOW).min_issued_at_from(&lookup)), Err("revoked"));
    let other = |c: &str| (sub(c) == "someone-else").then_some(NOW + 1);
    assert_eq!(check(at(NOW).min_issued_at_from(&other)), Ok(()));
    // A foreign JWT without iat cannot show it is recent enough.
    let no_iat = craft(
        r#"{"alg":"HS256"}"#,
        &format!(r#"{{"exp":{}}}"#, NOW + 10),
        SECRET_1,
    );
    assert_eq!(
        code(t.verify_jwt::<Value>(&no_iat, &at(NOW).min_issued_at(1))),
        "revoked"
    );
}

#[test]
fn garbage_never_panics() {
    let t = tokens();
    for junk in [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        "e30.e30.",
        "e30.e30.e30",
        "\u{1F600}.\u{1F600}.x",
        "====.==.=",
    ] {
        assert!(t.verify_jwt::<Value>(junk, &at(NOW)).is_err(), "{junk:?}");
    }
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
        let value = leaf.prop_recursive(2, 8, 4, |inner| {
            prop::collection::vec(inner, 0..4).prop_map(Value::from)
        });
        prop::collection::btree_map("[a-z_]{1,8}", value, 0..6).prop_map(|m| {
            m.into_iter()
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
            let t = tokens();
            let jwt = t.sign_jwt(&claims, &JwtSignOptions::at(now)).unwrap();
            let mut got: Map<String, Value> = t.verify_jwt(&jwt, &at(now)).unwrap();
            prop_assert_eq!(got.remove("iat"), Some(Value::from(now)));
            prop_assert_eq!(got.remove("exp"), Some(Value::from(now + 3600)));
            prop_assert_eq!(got, claims);
        }

        #[test]
        fn any_change_is_rejected(claims in arb_claims(), index: prop::sample::Index, replacement in "[A-Za-z0-9_.=+/-]") {
            let t = tokens();
            let jwt = t.sign_jwt(&claims, &JwtSignOptions::at(NOW)).unwrap();
            let i = index.index(jwt.len());
            prop_assume!(jwt[i..=i] != replacement);
            let mut changed = jwt.clone();
            changed.replace_range(i..=i, &replacement);
            prop_assert!(t.verify_jwt::<Value>(&changed, &at(NOW)).is_err());
        }

        #[test]
        fn arbitrary_input_never_panics(input in "[A-Za-z0-9_.=-]{0,300}") {
            let _ = tokens().verify_jwt::<Value>(&input, &at(NOW));
        }
    }
}
