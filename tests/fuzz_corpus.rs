//! The fuzz targets' committed inputs, replayed on stable Rust: every file under
//! `fuzz/corpus/<target>/` (seeds) and `fuzz/regressions/<target>/` (inputs that once failed)
//! goes through the target's body (`fuzz/bodies.rs`, shared with the cargo-fuzz targets), which
//! panics when a property does not hold. `make fuzz` runs the targets themselves (nightly).
//!
//! The seeds are made by this file:
//! `FUZZ_SEED=1 cargo test --test fuzz_corpus -- --ignored seed_corpus` rewrites them.
// Reads files: not in the WebAssembly run of tests/ (`wasm-pack test --node`). The bodies fuzz
// the sealed tokens, the store and the gateway: with `sealed` only.
#![cfg(all(not(target_arch = "wasm32"), feature = "sealed"))]
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../fuzz/bodies.rs"]
mod bodies;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Committed inputs that fail today because of code this change may not touch, each replayed by
/// an ignored test of its own below: `(target, file under fuzz/regressions/<target>/)`.
const PENDING: &[(&str, &str)] = &[];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir).join(target)) else {
            continue;
        };
        files.extend(entries.map(|e| e.expect("readable directory").path()));
    }
    files.sort();
    files
}

fn run(body: fn(&[u8]), file: &Path) -> Result<(), String> {
    let data = std::fs::read(file).expect("readable input");
    catch_unwind(AssertUnwindSafe(|| body(&data))).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!("{}: {message}", file.display())
    })
}

fn replay(target: &str, body: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no committed inputs for {target} in fuzz/corpus/{target}/"
    );
    let failures: Vec<String> = files
        .iter()
        .filter(|f| {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !PENDING.contains(&(target, name))
        })
        .filter_map(|f| run(body, f).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} inputs failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[allow(dead_code)] // for the ignored tests of PENDING inputs, when there are some
fn replay_pending(target: &str, file: &str, body: fn(&[u8])) {
    assert!(PENDING.contains(&(target, file)));
    let path = fuzz_dir().join("regressions").join(target).join(file);
    if let Err(e) = run(body, &path) {
        panic!("{e}");
    }
}

#[test]
fn compact_verify() {
    replay("compact_verify", bodies::compact_verify);
}

#[test]
fn sealed_verify() {
    replay("sealed_verify", bodies::sealed_verify);
}

#[test]
fn jwt_verify() {
    replay("jwt_verify", bodies::jwt_verify);
}

#[test]
fn json_object() {
    replay("json_object", bodies::json_object);
}

#[test]
fn base64url() {
    replay("base64url", bodies::base64url);
}

#[test]
fn cookie_header() {
    replay("cookie_header", bodies::cookie_header);
}

#[test]
fn affinity() {
    replay("affinity", bodies::affinity);
}

#[test]
fn store_record() {
    replay("store_record", bodies::store_record);
}

#[test]
fn gateway() {
    replay("gateway", bodies::gateway);
}

#[test]
fn assertion_verify() {
    replay("assertion_verify", bodies::assertion_verify);
}

#[test]
fn dbsc_proof() {
    replay("dbsc_proof", bodies::dbsc_proof);
}

// ---------------------------------------------------------------------------------------------
// The seeds

mod seeds {
    use super::bodies::{self, NOW};
    use edge_session::fuzzing::{self, AffinityValues};
    use edge_session::store::record::Record;
    use edge_session::{
        JwtSignOptions, KeyConfig, SealedTokens, Secret, SessionTokens, TokenConfig,
    };
    use serde_json::{json, Value};

    /// `(file name, contents)` of each seed of a target.
    pub type Seeds = Vec<(&'static str, Vec<u8>)>;

    fn claims() -> Value {
        json!({ "sub": "user-12345", "role": "admin" })
    }

    /// A keyring of `k0` alone: its tokens verify under the fixture ring with a stale key.
    fn old_config() -> TokenConfig {
        TokenConfig::new(vec![KeyConfig {
            id: "k0".into(),
            secret: bodies::SECRET_0.into(),
        }])
    }

    fn tampered(token: &str) -> String {
        let mut chars: Vec<char> = token.chars().collect();
        let i = chars.len() / 2;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    }

    fn truncated(token: &str) -> String {
        token[..token.len() - 2].to_owned()
    }

    fn s(text: impl Into<String>) -> Vec<u8> {
        text.into().into_bytes()
    }

    pub fn compact() -> Seeds {
        let tokens = bodies::compact_tokens();
        let valid = tokens.sign(&claims(), NOW).unwrap();
        let old = SessionTokens::new(old_config()).unwrap();
        let mut csrf = bodies::token_config();
        csrf.purpose = "csrf".into();
        let csrf = SessionTokens::new(csrf).unwrap();
        let nbf = json!({ "sub": "u", "nbf": NOW - 5 });
        let body = fuzzing::b64url_decode(&valid).unwrap();
        vec![
            ("valid", s(&valid)),
            ("stale_key", s(old.sign(&claims(), NOW).unwrap())),
            ("expired", s(tokens.sign(&claims(), NOW - 10_000).unwrap())),
            (
                "not_yet_valid",
                s(tokens.sign(&claims(), NOW + 10_000).unwrap()),
            ),
            ("nbf", s(tokens.sign(&nbf, NOW).unwrap())),
            ("wrong_purpose", s(csrf.sign(&claims(), NOW).unwrap())),
            ("tampered", s(tampered(&valid))),
            ("truncated", s(truncated(&valid))),
            ("empty", Vec::new()),
            ("body", body[..body.len() - 16].to_vec()),
            (
                "claims.json",
                s(
                    r#"{"sub":"user-12345","n":[1,2.5,-0,null,true,{"x":"\u00e9"}],"nbf":1799999000}"#,
                ),
            ),
            (
                "claims_iat.json",
                s(r#"{"iat":5,"exp":"x","a":"\ud83d\ude00"}"#),
            ),
        ]
    }

    pub fn sealed() -> Seeds {
        let tokens = bodies::sealed_tokens();
        let valid = tokens.sign(&claims(), NOW).unwrap();
        let old = SealedTokens::new(old_config()).unwrap();
        vec![
            ("valid", s(&valid)),
            ("stale_key", s(old.sign(&claims(), NOW).unwrap())),
            ("expired", s(tokens.sign(&claims(), NOW - 10_000).unwrap())),
            ("tampered", s(tampered(&valid))),
            ("truncated", s(truncated(&valid))),
            (
                "compact",
                s(bodies::compact_tokens().sign(&claims(), NOW).unwrap()),
            ),
            ("empty", Vec::new()),
            (
                "claims.json",
                s(r#"{"sub":"u","nbf":1799999000,"deep":[[[{}]]]}"#),
            ),
        ]
    }

    pub fn jwt() -> Seeds {
        let tokens = bodies::compact_tokens();
        let valid = tokens
            .sign_jwt(&claims(), &JwtSignOptions::at(NOW))
            .unwrap();
        let old = SessionTokens::new(old_config()).unwrap();
        let with_iss = tokens
            .sign_jwt(
                &claims(),
                &JwtSignOptions::at(NOW)
                    .issuer("https://id.example")
                    .audience("app"),
            )
            .unwrap();
        let payload = r#"{"sub":"u","iat":1800000000,"exp":1800003600}"#;
        vec![
            ("valid", s(&valid)),
            (
                "stale_key",
                s(old.sign_jwt(&claims(), &JwtSignOptions::at(NOW)).unwrap()),
            ),
            ("iss_aud", s(with_iss)),
            ("tampered", s(tampered(&valid))),
            ("two_segments", s(valid.rsplit_once('.').unwrap().0)),
            ("empty", Vec::new()),
            (
                "signed_kid",
                s(format!(
                    "{{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}}\n{payload}"
                )),
            ),
            (
                "signed_kid_k0",
                s(format!("{{\"kid\":\"k0\",\"alg\":\"HS256\"}}\n{payload}")),
            ),
            (
                "signed_no_kid",
                s(format!("{{\"alg\":\"HS256\"}}\n{payload}")),
            ),
            (
                "signed_alg_none",
                s(format!("{{\"alg\":\"none\"}}\n{payload}")),
            ),
            (
                "signed_duplicate_alg",
                s(format!("{{\"alg\":\"HS256\",\"alg\":\"none\"}}\n{payload}")),
            ),
            (
                "signed_escaped_header",
                s(format!(
                    "{{\"al\\u0067\":\"HS256\",\"kid\":\"k\\u0031\",\"crit\":[]}}\n{payload}"
                )),
            ),
            (
                "signed_duplicate_claim",
                s(r#"{"alg":"HS256"}
{"sub":"u","sub":"v","exp":1800003600}"#),
            ),
            (
                "signed_times",
                s(r#"{"alg":"HS256"}
{"exp":1.8000036e9,"nbf":1799999999.5,"iat":-0,"aud":["a","b"]}"#),
            ),
        ]
    }

    pub fn json() -> Seeds {
        let deep = |n: usize| format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
        let mut out: Seeds = [
            ("empty_object", "{}"),
            (
                "members",
                r#" { "z" : [1, {"x": "y"}] , "a\u00e9\n" : "t\"\\\/\ud83d\ude00", "m":-1.5e+3 } "#,
            ),
            (
                "claims",
                r#"{"sub":"u","role":"admin","iat":1800000000,"exp":1800003600}"#,
            ),
            ("duplicate", r#"{"a":1,"a":2}"#),
            ("duplicate_escaped", r#"{"exp":1,"e\u0078p":2}"#),
            (
                "numbers",
                r#"{"a":0,"b":-0,"c":1e5,"d":1E-5,"e":0.5,"f":-0.0e-0}"#,
            ),
            (
                "big_numbers",
                r#"{"f":18446744073709551616,"g":-9223372036854775809}"#,
            ),
            ("out_of_range", r#"{"a":1e400}"#),
            ("trailing_comma", r#"{"a":1,}"#),
            ("leading_zero", r#"{"a":01}"#),
            ("lone_surrogate", r#"{"a":"\ud800"}"#),
            ("surrogate_pair", r#"{"\ud83d\ude00":"\uDBFF\uDFFF"}"#),
            ("control", "{\"a\":\"\u{1}\"}"),
            (
                "literals",
                r#"{"t":true,"f":false,"n":null,"s":"","o":{},"l":[]}"#,
            ),
            ("not_object", "[1,2]"),
            ("trailing", "{} x"),
            ("nested_duplicate", r#"{"a":{"b":1,"b":2}}"#),
        ]
        .into_iter()
        .map(|(n, t)| (n, s(t)))
        .collect();
        out.push(("deep_126", s(deep(126))));
        out.push(("deep_127", s(deep(127))));
        out
    }

    /// Origin assertions: one as the gateway makes it (a zero signature), and `header\npayload`
    /// lines that reach the claims checks.
    pub fn assertion() -> Seeds {
        use edge_session::token::assertion::{Alg, AssertionClaims, AssertionKey};
        let ring = edge_session::KeyRing::from_config(&bodies::token_config().keys).unwrap();
        let key = &AssertionKey::derive_all(&ring, Alg::EdDSA)[0];
        let claims = AssertionClaims::new(
            "https://i",
            "http://a",
            "valid",
            Some(r#"{"sub":"user-12345","sid":"s1","role":"admin"}"#),
            &[],
        );
        let token = claims.signing_input(key, NOW, 300).finish(&[0; 64]);
        let line = |h: &str, p: &str| format!("{h}\n{p}").into_bytes();
        vec![
            ("gateway_made", token.into_bytes()),
            (
                "valid",
                line(
                    r#"{"alg":"ES256","kid":"k1"}"#,
                    &format!(
                        r#"{{"iss":"https://i","aud":["x","http://a"],"iat":{NOW},"exp":{}}}"#,
                        NOW + 300
                    ),
                ),
            ),
            (
                "expired",
                line(
                    r#"{"alg":"EdDSA","kid":"k1"}"#,
                    &format!(
                        r#"{{"iss":"https://i","aud":"http://a","iat":1,"exp":{}}}"#,
                        NOW - 31
                    ),
                ),
            ),
            ("alg_none", line(r#"{"alg":"none","kid":"k1"}"#, "{}")),
            ("no_kid", line(r#"{"alg":"EdDSA"}"#, "{}")),
            (
                "duplicate",
                line(r#"{"alg":"EdDSA","kid":"a","kid":"b"}"#, "{}"),
            ),
            (
                "float_times",
                line(
                    r#"{"alg":"EdDSA","kid":"k"}"#,
                    r#"{"iss":"https://i","aud":"http://a","iat":1e3,"exp":1.9e9}"#,
                ),
            ),
            ("empty", Vec::new()),
        ]
    }

    /// DBSC proofs: the WebCrypto-made vectors of tests/vectors/dbsc.json, the draft's
    /// example, proofs answering challenges issued for `s1` (zero signatures), `header\npayload`
    /// lines, and JWKs alone.
    pub fn dbsc() -> Seeds {
        let v: serde_json::Value = serde_json::from_str(include_str!("vectors/dbsc.json")).unwrap();
        let mut out: Seeds = Vec::new();
        for (i, p) in v["proofs"].as_array().unwrap().iter().enumerate() {
            let name = format!("vector_{i:02}");
            out.push((
                Box::leak(name.into_boxed_str()),
                s(p["jwt"].as_str().unwrap()),
            ));
        }
        out.push((
            "draft_example",
            s(v["draftExample"]["header"].as_str().unwrap()),
        ));
        let rfc = v["rfc7638"]["jwk"].to_string();
        out.push(("jwk_rfc7638", s(&rfc)));
        let ec = v["proofs"][0]["jwk"].to_string();
        out.push(("jwk_ec", s(&ec)));
        let binding = bodies::device_binding();
        let offer = binding.offer("s1", NOW, [1; 8]);
        let challenge = binding.challenge("s1", NOW, [2; 8]);
        let line = |h: &str, p: &str| format!("{h}\n{p}").into_bytes();
        let es_header = format!(r#"{{"alg":"ES256","typ":"dbsc+jwt","jwk":{ec}}}"#);
        out.extend([
            ("registration_s1", line(&es_header, &format!(r#"{{"jti":"{offer}"}}"#))),
            ("refresh_s1", line(&es_header, &format!(r#"{{"jti":"{challenge}"}}"#))),
            (
                "rs256_registration_s1",
                line(
                    &format!(r#"{{"alg":"RS256","typ":"dbsc+jwt","jwk":{rfc}}}"#),
                    &format!(r#"{{"jti":"{offer}","authorization":"a"}}"#),
                ),
            ),
            ("typ_missing", line(r#"{"alg":"ES256"}"#, r#"{"jti":"c"}"#)),
            ("alg_none", line(r#"{"alg":"none","typ":"dbsc+jwt"}"#, r#"{"jti":"c"}"#)),
            (
                "private_jwk",
                line(
                    r#"{"alg":"ES256","typ":"dbsc+jwt","jwk":{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}"#,
                    r#"{"jti":"c"}"#,
                ),
            ),
            ("empty", Vec::new()),
        ]);
        out
    }

    pub fn base64() -> Seeds {
        [
            ("empty", ""),
            ("one", "Zg"),
            ("two", "Zm8"),
            ("three", "Zm9v"),
            ("six", "Zm9vYmFy"),
            ("url_alphabet", "-_8"),
            ("standard_alphabet", "+/8"),
            ("trailing_bits", "AR"),
            ("padded", "AQ=="),
            ("one_char", "A"),
            ("five_chars", "AAAAA"),
            ("nul", "AA\0A"),
        ]
        .into_iter()
        .map(|(n, t)| (n, s(t)))
        .chain([("binary", (0..=255).collect())])
        .collect()
    }

    pub fn cookie() -> Seeds {
        [
            ("pairs", " a=1;b = \"2\" ;;junk;=x; c="),
            (
                "gateway",
                "theme=dark; __Host-session=AQEAAmsx; __Host-affinity=abc; __Host-affinity=def",
            ),
            ("tabs", "a=1;\tb\t=\t2\t"),
            ("quotes", "a=\"\"; b=\"; c=\"x\"y\"; d=\"\"\""),
            ("equals", "a==b=c; =; ==; b"),
            ("other_whitespace", "a=1;\u{b}b=2;\u{a0}c=3 ;\r\nd=4"),
            ("unicode", "na\u{ef}ve=caf\u{e9}; \u{1f600}=\u{1f600}"),
            ("empty", ""),
        ]
        .into_iter()
        .map(|(n, t)| (n, s(t)))
        .collect()
    }

    pub fn affinity() -> Seeds {
        let values = bodies::affinity_values();
        let fields = (
            *b"\x01\x02\x03\x04\x05\x06\x07\x08",
            0x1122_3344_5566_7788,
            NOW - 100,
            NOW - 10,
        );
        let valid = values.seal(fields);
        let old = AffinityValues::new(
            &Secret::new((0x81..0xa1).collect::<Vec<u8>>()).unwrap(),
            &[],
        );
        // A value the router hands out for backend routing (cookie mode), as a browser sends it.
        let router = bodies::router(edge_session::affinity::Mode::Cookie);
        let route = router
            .route(&edge_session::RouteRequest::default(), NOW - 60)
            .unwrap();
        let set_cookie = route.set_cookie.unwrap();
        let pair = set_cookie.split(';').next().unwrap().to_owned();
        let value = pair.split_once('=').unwrap().1.to_owned();
        vec![
            ("value", s(&valid)),
            ("value_previous_secret", s(old.seal(fields))),
            ("value_tampered", s(tampered(&valid))),
            (
                "value_max",
                s(values.seal((*b"abcdefgh", u64::MAX, (1 << 53) - 1, (1 << 53) - 1))),
            ),
            ("cookie", s(format!("theme=dark; {pair}"))),
            (
                "cookie_twice",
                s(format!("{pair}; __Host-affinity={valid}")),
            ),
            ("url", s(format!("https://x.test/p?a=1&_aff={value}#f"))),
            ("url_twice", s(format!("/p?_aff=x&_aff={value}&_aff"))),
            ("url_fragment", s(format!("/p#?_aff={value}"))),
            ("empty", Vec::new()),
        ]
    }

    pub fn record() -> Seeds {
        let keys = bodies::record_keys();
        let mut record = Record::new(
            json!({ "cart": ["book", "pen"], "n": 3 })
                .as_object()
                .unwrap()
                .clone(),
            NOW,
        );
        record.subject = Some("alice".into());
        let sealed = keys
            .seal(&bodies::RECORD_ID, bodies::RECORD_VERSION, &record)
            .unwrap();
        let other_id = keys
            .seal(&[1; 16], bodies::RECORD_VERSION, &record)
            .unwrap();
        vec![
            ("sealed", s(&sealed)),
            ("other_id", s(other_id)),
            ("tampered", s(tampered(&sealed))),
            ("truncated", s(truncated(&sealed))),
            ("record_json", s("{\"cart\":[\"book\"],\"n\":3.5}\nalice")),
            (
                "record_json_no_subject",
                s(r#"{"a":{"b":[null,false,"\u0000"]}}"#),
            ),
            ("empty", Vec::new()),
        ]
    }

    /// The flags byte (see `bodies::gateway_vars`), then the lines.
    fn g(flags: u8, lines: &[&str]) -> Vec<u8> {
        let mut out = vec![flags];
        out.extend_from_slice(lines.join("\n").as_bytes());
        out
    }

    /// An `x-session-issue` of 2,700 DEL characters (see its seed).
    fn crowding_issue() -> String {
        let del = "\u{7f}".repeat(2700);
        format!(r#"x-session-issue: {{"sub":"alice","p":"{del}"}}"#)
    }

    const HOME: &str = "https://app.example/";
    const LOGGED_IN: &str = "cookie: __Host-session=$S; __Host-affinity=$A";
    const SESSION: &str = "cookie: __Host-session=$S";
    /// A client's `x-session-*` headers in several spellings, and a forged forwarding header.
    const SPOOF: [&str; 8] = [
        "x-session-sub: admin",
        "X-Session-Status: valid",
        "X_Session_Sub: admin",
        "X.Session.Sub: admin",
        "x_session-claims: {}",
        "X-SESSION-ID: 1",
        "x-session-reassigned: 0",
        "x-forwarded-for: 1.2.3.4",
    ];

    pub fn gateway() -> Seeds {
        let spoofing = |flags, cookie| {
            let lines = [
                &["GET", HOME, cookie][..],
                &SPOOF,
                &["", "x-session-status: forged"],
            ];
            g(flags, &lines.concat())
        };
        let login = r#"x-session-issue: {"sub":"bob","role":"user"}"#;
        vec![
            (
                "anonymous",
                g(
                    0,
                    &[
                        "GET",
                        "https://app.example/x?y=1",
                        "accept: */*",
                        "",
                        "a: b",
                    ],
                ),
            ),
            ("logged_in_spoofing", spoofing(0, LOGGED_IN)),
            ("spoofing_sealed", spoofing(0x08, SESSION)),
            ("spoofing_jwt", spoofing(0x10, SESSION)),
            ("spoofing_kv", spoofing(0x04, LOGGED_IN)),
            ("spoofing_nonce", spoofing(0x18, LOGGED_IN)),
            (
                "nonce_login",
                g(
                    0x18,
                    &[
                        "GET",
                        HOME,
                        "",
                        "x-session-nonce: $N",
                        r#"x-session-issue: {"sub":"n"}"#,
                    ],
                ),
            ),
            ("login", g(0, &["POST", HOME, "", login, "set-cookie: a=b"])),
            (
                "login_underscored",
                g(
                    0,
                    &[
                        "GET",
                        HOME,
                        "",
                        r#"X_Session_Issue: {"sub":"eve"}"#,
                        "x_session_clear: 1",
                    ],
                ),
            ),
            (
                "logout",
                g(0, &["GET", HOME, SESSION, "", "x-session-clear: 1"]),
            ),
            (
                "store_revoke",
                g(
                    0x04,
                    &[
                        "POST",
                        HOME,
                        LOGGED_IN,
                        r#"x-session-data: {"admin":true}"#,
                        "",
                        "x-session-revoke: alice",
                        r#"x-session-issue: {"sub":"alice"}"#,
                        r#"x-session-data: {"cart":null}"#,
                    ],
                ),
            ),
            (
                // Claims of 2,700 DEL characters: a cookie browsers keep, but `x-session-claims`
                // spells each as `\u007f`, 16 KB on the way to the origin: a login that would
                // lock its visitor out, which `Gateway::crowded` refuses.
                "login_crowding_its_visitor_out",
                g(0, &["GET", HOME, "", &crowding_issue()]),
            ),
            (
                "revoke_in_a_refused_answer",
                g(
                    0x04,
                    &[
                        "POST",
                        HOME,
                        LOGGED_IN,
                        "",
                        "x-session-revoke: alice",
                        r#"x-session-issue: {"sub":"alice","nbf":1}"#,
                    ],
                ),
            ),
            (
                "revoke_without_store",
                g(0, &["GET", HOME, "", "x-session-revoke: alice"]),
            ),
            (
                "url_param",
                g(0x03, &["GET", "https://app.example/p?_aff=junk&a=1", ""]),
            ),
            (
                "url_mode_page_load",
                g(
                    0x03,
                    &[
                        "GET",
                        "https://app.example/p?_es=junk&a=1&%5Fes=x#_es=f",
                        "accept: text/html",
                        "",
                    ],
                ),
            ),
            (
                "url_mode_ping",
                g(
                    0x23,
                    &[
                        "POST",
                        "https://app.example/track?_es",
                        "referer: https://app.example/p?_es=V&k=v",
                        "ping-from: https://app.example/p?%5fes=V",
                        "ping-to: https://app.example/n?a&_es=V",
                        "",
                        "location: /next?_es=origin#f",
                        "cache-control: public, max-age=60",
                    ],
                ),
            ),
            (
                "header_mode",
                g(
                    0x01,
                    &["GET", "/relative", "x-tenant: t-42", "X_Tenant: t-43", ""],
                ),
            ),
            (
                "ip_mode",
                g(
                    0x02,
                    &[
                        "GET",
                        "http://app.example",
                        "cf-connecting-ip: 203.0.113.9",
                        "",
                    ],
                ),
            ),
            ("upload", g(0x20, &["PUT", HOME, "content-length: 5", ""])),
            // DBSC on (flags 0x03): its public endpoints, and an origin offering DBSC itself.
            (
                "dbsc_register",
                g(
                    0x03,
                    &[
                        "POST",
                        "https://app.example/__edge/dbsc/register",
                        SESSION,
                        "secure-session-response: eyJhbGciOiJFUzI1NiIsInR5cCI6ImRic2Mrand0In0.eyJqdGkiOiJjIn0.AA",
                        "",
                    ],
                ),
            ),
            (
                "dbsc_refresh",
                g(
                    0x03,
                    &[
                        "POST",
                        "https://app.example/__edge/dbsc/refresh",
                        "cookie: __Host-session=$S; __Host-session-bound=x; __Secure-session-key=y",
                        "sec-secure-session-id: \"s\"",
                        "",
                    ],
                ),
            ),
            (
                "dbsc_origin",
                g(
                    0x03,
                    &[
                        "GET",
                        HOME,
                        LOGGED_IN,
                        "Secure-Session-Response: x",
                        "",
                        "secure-session-registration: (ES256);path=\"/r\";challenge=\"c\"",
                        "set-cookie: __Host-session-bound=forged",
                        r#"x-session-issue: {"sub":"bob"}"#,
                    ],
                ),
            ),
            ("expired_session", g(0xc0, &["GET", HOME, LOGGED_IN, ""])),
            ("refresh", g(0x40, &["GET", HOME, SESSION, ""])),
            (
                "websocket",
                g(
                    0,
                    &[
                        "GET",
                        "wss://app.example/ws",
                        "upgrade: websocket",
                        "connection: Upgrade, x-session-sub",
                        "",
                    ],
                ),
            ),
            (
                "operator",
                g(
                    0,
                    &[
                        "GET",
                        "https://app.example/__edge/health",
                        "authorization: Bearer 0123456789abcdef",
                        "",
                    ],
                ),
            ),
            (
                "redirect",
                g(
                    0,
                    &[
                        "GET",
                        HOME,
                        "",
                        "location: http://10.0.0.2:8080/app/login?next=%2F",
                        "Location: /app/cart#top",
                        "connection: close, x-secret",
                        "x-secret: 1",
                    ],
                ),
            ),
            (
                "redirect_spellings",
                g(
                    0,
                    &[
                        "GET",
                        HOME,
                        "",
                        "location: HTTP://127.1:9001?x",
                        "location: https://C.example#f",
                        "location: http://10.0.0.2:8080/app",
                        "location: http://10.0.0.2:8080/apple",
                        "refresh: 0; url=http://127.0.0.1:80/x",
                    ],
                ),
            ),
            (
                "garbage",
                g(0xff, &["\u{0}", "\u{1f600}", ":", "::", "", ":", ""]),
            ),
            ("empty", Vec::new()),
        ]
    }
}

/// Rewrites the committed seeds (`fuzz/corpus/<target>/`). Sealed tokens and records take a
/// fresh nonce each time, so their files change on every run.
#[test]
#[ignore = "writes fuzz/corpus: FUZZ_SEED=1 cargo test --test fuzz_corpus -- --ignored seed_corpus"]
fn seed_corpus() {
    if std::env::var_os("FUZZ_SEED").is_none() {
        return;
    }
    type Make = fn() -> seeds::Seeds;
    let targets: [(&str, Make); 11] = [
        ("compact_verify", seeds::compact),
        ("sealed_verify", seeds::sealed),
        ("jwt_verify", seeds::jwt),
        ("json_object", seeds::json),
        ("base64url", seeds::base64),
        ("cookie_header", seeds::cookie),
        ("affinity", seeds::affinity),
        ("store_record", seeds::record),
        ("gateway", seeds::gateway),
        ("assertion_verify", seeds::assertion),
        ("dbsc_proof", seeds::dbsc),
    ];
    for (target, seeds) in targets {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, data) in seeds() {
            assert!(data.len() < 4096, "{target}/{name} is {} bytes", data.len());
            std::fs::write(dir.join(name), data).unwrap();
        }
    }
}
