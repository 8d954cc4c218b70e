//! The bodies of the fuzz targets: one plain function per target that panics when a property
//! does not hold. The targets (`fuzz_targets/*.rs`, nightly, `make fuzz`) and the corpus replay
//! (`tests/fuzz_corpus.rs`, stable, `cargo test`) both include this file with `#[path]`, so
//! every committed input is checked on every test run.
//!
//! Texts are read from the raw bytes with `String::from_utf8_lossy`: the parsers take `&str`,
//! and both sides of a differential check see the same text.
//!
//! Several targets also read the input as something the fuzzer could never forge: a token body
//! signed here with the fixture's own key, so what is parsed after the tag verifies gets fuzzed
//! too. Authentic input only ever comes from the crate's own `sign`; a panic on it is still a
//! bug (a panic kills the worker instance).

#![allow(dead_code)] // each target uses one body; the replay test uses them all

use std::borrow::Cow;
use std::sync::OnceLock;

use edge_session::affinity::{Affinity, AffinityConfig, BackendConfig, Mode, RouteRequest};
use edge_session::fuzzing::{self, AffinityFields, AffinityValues, JsonRefusal};
use edge_session::gateway::dbsc::Decision;
use edge_session::gateway::headers;
use edge_session::gateway::pages::Page;
use edge_session::gateway::{
    Answer, Attempt, Entropy, Gateway, GatewayConfig, Request, Retry, Step,
};
use edge_session::store::record::{Record, RecordKeys};
use edge_session::{
    Error, KeyConfig, KeyRing, SealedTokens, Secret, SessionTokens, TokenConfig, VerifyOptions,
};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// The time every body verifies at.
pub const NOW: u64 = 1_800_000_000;
/// The signing key: 32 bytes of 0x01..0x20, base64url.
pub const SECRET_1: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
/// The previous key (verifies only): 32 bytes of 0x81..0xa0, base64url (no text: the gateway
/// refuses a secret that decodes to text).
pub const SECRET_0: &str = "gYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6A";

fn secret_bytes(first: u8) -> Vec<u8> {
    (first..first + 32).collect()
}

/// The fixture keyring: `k1` signs, `k0` (an older key) verifies.
pub fn token_config() -> TokenConfig {
    TokenConfig::new(vec![
        KeyConfig {
            id: "k1".into(),
            secret: SECRET_1.into(),
        },
        KeyConfig {
            id: "k0".into(),
            secret: SECRET_0.into(),
        },
    ])
}

pub fn compact_tokens() -> &'static SessionTokens {
    static TOKENS: OnceLock<SessionTokens> = OnceLock::new();
    TOKENS.get_or_init(|| SessionTokens::new(token_config()).expect("fixture config"))
}

pub fn sealed_tokens() -> &'static SealedTokens {
    static TOKENS: OnceLock<SealedTokens> = OnceLock::new();
    TOKENS.get_or_init(|| SealedTokens::new(token_config()).expect("fixture config"))
}

fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// HKDF-SHA256 subkey of `secret` for `purpose`, as the crate derives it (see src/keys.rs).
fn subkey(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut okm = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(b"edge-session/v1"), secret)
        .expand(purpose.as_bytes(), &mut okm)
        .expect("32 bytes");
    okm
}

/// `body` as a compact token signed with `k1`: version, purpose hint, kid, times and claims are
/// whatever the fuzzer wrote, the 128-bit tag is right.
pub fn forge_compact(body: &[u8]) -> String {
    let tag = hmac_sha256(&subkey(&secret_bytes(1), "token:session"), body);
    let mut bytes = body.to_vec();
    bytes.extend_from_slice(&tag[..16]);
    fuzzing::b64url_encode(&bytes)
}

/// The non-time claims of `claims` (what a token round trip must keep as given).
fn untimed(claims: &Map<String, Value>) -> Map<String, Value> {
    let mut out = claims.clone();
    out.remove("iat");
    out.remove("exp");
    out
}

/// Two verifications of one text give one answer.
fn same_twice<T: PartialEq + std::fmt::Debug>(
    what: &str,
    token: &str,
    verify: impl Fn() -> T,
) -> T {
    let first = verify();
    let second = verify();
    assert_eq!(
        first, second,
        "{what}: {token:?} verified differently twice"
    );
    first
}

/// Claims that sign must round-trip: what verify returns is what was signed, with the times.
fn check_round_trip(
    what: &str,
    claims: &Map<String, Value>,
    signed: Result<String, Error>,
    verify: impl Fn(&str) -> Result<edge_session::Verified<Value>, Error>,
) {
    let token = match signed {
        Ok(token) => token,
        Err(e) => {
            assert!(
                matches!(e.code(), "invalid_claims" | "too_large"),
                "{what}: sign({claims:?}) failed with {e:?}"
            );
            return;
        }
    };
    match verify(&token) {
        Ok(v) => {
            let Value::Object(got) = &v.claims else {
                panic!("{what}: claims are not an object: {:?}", v.claims)
            };
            assert_eq!(got.get("iat"), Some(&Value::from(NOW)), "{what}: iat");
            assert_eq!(
                got.get("exp"),
                Some(&Value::from(NOW + 3600)),
                "{what}: exp"
            );
            assert_eq!(
                Value::Object(untimed(got)).to_string(),
                Value::Object(untimed(claims)).to_string(),
                "{what}: claims changed on the way through {token}"
            );
            assert_eq!((v.key_id.as_str(), v.stale_key), ("k1", false));
        }
        // An `nbf` in the future is signed as given.
        Err(Error::NotYetValid { .. }) if claims.contains_key("nbf") => {}
        Err(e) => panic!("{what}: {token} (signed from {claims:?}) does not verify: {e:?}"),
    }
}

/// A token sign made of `claims` (or its refusal): it verifies back to them (see
/// [`check_round_trip`]) and refreshes half its life later (see [`check_refresh`]).
fn check_signed(
    what: &str,
    claims: &Map<String, Value>,
    signed: Result<String, Error>,
    verify: impl Fn(&str, u64) -> Result<edge_session::Verified<Value>, Error>,
    refresh: impl Fn(&str, u64) -> Result<Option<String>, Error>,
) {
    if let Ok(token) = &signed {
        let later = NOW + 1800;
        check_refresh(
            &format!("{what} refresh"),
            token,
            later,
            &verify(token, later),
            |t| refresh(t, later),
            |t| verify(t, later),
        );
    }
    check_round_trip(what, claims, signed, |t| verify(t, NOW));
}

/// The longest a session lasts through refreshes with the fixture's settings (the default).
const MAX_LIFETIME: u64 = 7 * 24 * 3600;

/// A claim that is a whole number of seconds.
fn whole(claims: &Map<String, Value>, name: &str) -> Option<u64> {
    claims.get(name).and_then(Value::as_u64)
}

/// The sliding refresh of a token that sign made, at `now`, given its verification at `now`:
/// refused exactly when verify refuses it (a token over the size limit once refreshed is kept,
/// not refused); a replacement verifies by the current key with the same claims but its
/// times, keeps the login's `auth_time` (the earlier of the old `iat` and `auth_time`), lives
/// no later than that plus the longest lifetime, and longer than the old one unless an older
/// key signed that.
fn check_refresh(
    what: &str,
    token: &str,
    now: u64,
    verified: &Result<edge_session::Verified<Value>, Error>,
    refresh: impl Fn(&str) -> Result<Option<String>, Error>,
    verify: impl Fn(&str) -> Result<edge_session::Verified<Value>, Error>,
) {
    let refreshed = refresh(token);
    let old = match (verified, &refreshed) {
        (Ok(old), Ok(_)) => old,
        (Err(a), Err(b)) if a.code() == b.code() => return,
        _ => panic!("{what}: {token:?} verifies as {verified:?} but refreshes as {refreshed:?}"),
    };
    let Ok(Some(new)) = refreshed else { return };
    let v = verify(&new)
        .unwrap_or_else(|e| panic!("{what}: {token:?} refreshed as {new}, which fails: {e:?}"));
    assert_eq!((v.key_id.as_str(), v.stale_key), ("k1", false), "{what}");
    let (Value::Object(was), Value::Object(is)) = (&old.claims, &v.claims) else {
        panic!(
            "{what}: claims are not objects: {:?}, {:?}",
            old.claims, v.claims
        )
    };
    let without_times = |claims: &Map<String, Value>| {
        let mut out = untimed(claims);
        out.remove("auth_time");
        Value::Object(out).to_string()
    };
    assert_eq!(
        without_times(is),
        without_times(was),
        "{what}: {token:?} -> {new}"
    );
    let (iat, exp) = (whole(is, "iat"), whole(is, "exp"));
    assert_eq!(iat, Some(now), "{what}: {new}");
    let Some(auth_time) = whole(is, "auth_time") else {
        panic!("{what}: {new} has no auth_time")
    };
    let old_iat = whole(was, "iat").expect("a verified token has iat");
    if !was.contains_key("auth_time") || whole(was, "auth_time").is_some() {
        let login = whole(was, "auth_time").map_or(old_iat, |a| a.min(old_iat));
        assert_eq!(auth_time, login, "{what}: {token:?} -> {new}");
    }
    let (Some(exp), Some(old_exp)) = (exp, whole(was, "exp")) else {
        panic!("{what}: {token:?} -> {new} without exp")
    };
    assert!(
        exp <= auth_time.saturating_add(MAX_LIFETIME),
        "{what}: {new}"
    );
    assert!(exp > old_exp || old.stale_key, "{what}: {token:?} -> {new}");
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// Compact verify: arbitrary text never panics and verifies the same twice; `data` signed as a
/// token body likewise, and refreshes without a panic; a JSON object signs and verifies back
/// to itself, and refreshes half its life later (see [`check_refresh`]).
pub fn compact_verify(data: &[u8]) {
    let tokens = compact_tokens();
    let token = text(data);
    let _ = same_twice("compact", &token, || {
        tokens.verify_detailed::<Value>(&token, NOW)
    });
    let forged = forge_compact(data);
    let _ = same_twice("compact (authentic body)", &forged, || {
        tokens.verify_detailed::<Value>(&forged, NOW)
    });
    // Refreshed too, for panics only: such a body may hold what no sign writes (claims that are
    // not JSON, an `exp` beside the envelope's), which refresh refuses and verify may not.
    let _ = tokens.refresh(&forged, NOW);
    if let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(data) {
        check_signed(
            "compact",
            &claims,
            tokens.sign(&claims, NOW),
            |t, now| tokens.verify_detailed(t, now),
            |t, now| tokens.refresh(t, now),
        );
    }
}

/// Sealed verify: arbitrary text never panics and verifies the same twice; a JSON object seals
/// and opens back to itself, and refreshes half its life later (see [`check_refresh`]).
pub fn sealed_verify(data: &[u8]) {
    let tokens = sealed_tokens();
    let token = text(data);
    let _ = same_twice("sealed", &token, || {
        tokens.verify_detailed::<Value>(&token, NOW)
    });
    if let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(data) {
        check_signed(
            "sealed",
            &claims,
            tokens.sign(&claims, NOW),
            |t, now| tokens.verify_detailed(t, now),
            |t, now| tokens.refresh(t, now),
        );
    }
}

/// A JWT HS256 of `header` and `payload` (JSON text as given), signed with the raw secret of
/// the key the header names (`k0` if it mentions it, else `k1`).
pub fn forge_jwt(header: &str, payload: &str) -> String {
    let secret = secret_bytes(if header.contains("k0") { 0x81 } else { 1 });
    let mut token = fuzzing::b64url_encode(header.as_bytes());
    token.push('.');
    token.push_str(&fuzzing::b64url_encode(payload.as_bytes()));
    let signature = hmac_sha256(&secret, token.as_bytes());
    token.push('.');
    token.push_str(&fuzzing::b64url_encode(&signature));
    token
}

/// JWT verify: arbitrary text never panics and verifies the same twice. Input with a newline is
/// also read as `header JSON \n payload JSON` and signed: then a token that verifies must have
/// a header `serde_json` reads as an HS256 object and a payload it reads as the claims returned.
pub fn jwt_verify(data: &[u8]) {
    let tokens = compact_tokens();
    let options = VerifyOptions::at(NOW);
    let token = text(data);
    let _ = same_twice("jwt", &token, || {
        tokens.verify_jwt_detailed::<Value>(&token, &options)
    });
    if let Some((header, payload)) = token.split_once('\n') {
        let forged = forge_jwt(header, payload);
        let result = same_twice("jwt (authentic)", &forged, || {
            tokens.verify_jwt_detailed::<Value>(&forged, &options)
        });
        if let Ok(v) = result {
            let h = serde_json::from_str::<Value>(header);
            assert!(
                matches!(&h, Ok(Value::Object(m)) if m.get("alg") == Some(&Value::from("HS256"))),
                "jwt: header {header:?} accepted, serde_json reads {h:?}"
            );
            let p = serde_json::from_str::<Value>(payload);
            assert!(
                matches!(&p, Ok(c) if *c == v.claims),
                "jwt: payload {payload:?} verified as {:?}, serde_json reads {p:?}",
                v.claims
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsers, differentially

/// The strict JSON object reader (src/json.rs) against `serde_json`: same accept/reject, same
/// members with the same values. One difference is by design: the crate refuses a repeated
/// member name (serde_json keeps the last; parsers that disagree on which one counts must not
/// both see a signed object). Numbers beyond f64 (`1e400`) both refuse.
pub fn json_object(data: &[u8]) {
    let text = text(data);
    let ours = fuzzing::json_members(&text);
    let theirs = serde_json::from_str::<Value>(&text);
    match (&ours, &theirs) {
        (Ok(members), Ok(Value::Object(map))) => {
            let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
            let theirs: Vec<&str> = map.keys().map(String::as_str).collect();
            assert_eq!(names, theirs, "json: member names of {text:?}");
            for (name, raw) in members {
                let value = serde_json::from_str::<Value>(raw);
                assert!(
                    matches!(&value, Ok(v) if *v == map[name]),
                    "json: {text:?} member {name:?} is {raw:?}, alone {value:?}, in the object {:?}",
                    map[name]
                );
            }
        }
        (Err(JsonRefusal::Duplicate), Ok(Value::Object(_))) => {}
        (Err(JsonRefusal::NotObject), Err(_)) => {}
        (Err(JsonRefusal::NotObject), Ok(v)) if !v.is_object() => {}
        _ => panic!("json: {text:?}: the crate says {ours:?}, serde_json {theirs:?}"),
    }
}

/// Strict base64url (src/codec.rs) against the `base64` crate's URL_SAFE_NO_PAD, whose decoder
/// is canonical too (no padding, no non-zero trailing bits): same accept/reject, same bytes;
/// encoding agrees and round-trips.
pub fn base64url(data: &[u8]) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let text = text(data);
    let ours = fuzzing::b64url_decode(&text).ok();
    let theirs = URL_SAFE_NO_PAD.decode(text.as_bytes()).ok();
    assert_eq!(ours, theirs, "base64url: decoding {text:?}");
    if let Some(bytes) = &ours {
        assert_eq!(
            fuzzing::b64url_encode(bytes),
            *text,
            "base64url: not canonical"
        );
    }
    let encoded = fuzzing::b64url_encode(data);
    assert_eq!(encoded, URL_SAFE_NO_PAD.encode(data), "base64url: encoding");
    assert_eq!(fuzzing::b64url_decode(&encoded).ok().as_deref(), Some(data));
}

/// The `Cookie` header reader (src/cookie.rs) against the `cookie` crate's `split_parse`, which
/// also splits on `;`, splits each piece at its first `=`, trims, and refuses pieces without
/// `=` or with an empty name (the crate skips them: compared on the pairs both keep), and
/// whose `value_trimmed` removes one pair of surrounding quotes as the crate does.
///
/// Where they legitimately differ: the crate trims only spaces and tabs around names and values
/// (RFC 6265's OWS), the `cookie` crate any Unicode whitespace (`str::trim`); so the comparison
/// is made only on headers without other whitespace. Pairs never contain `;`, names are never
/// empty nor padded, and `get`/`get_all` agree with `pairs` on every header.
pub fn cookie_header(data: &[u8]) {
    let header = text(data);
    let ours: Vec<(&str, &str)> = edge_session::cookie::pairs(&header).collect();
    for (name, value) in &ours {
        assert!(!name.is_empty() && !name.contains(';') && !value.contains(';'));
        assert_eq!(name.trim_matches([' ', '\t']), *name);
        assert_eq!(
            edge_session::cookie::get(&header, name),
            ours.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
        );
        let all: Vec<&str> = edge_session::cookie::get_all(&header, name).collect();
        let want: Vec<&str> = ours
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(all, want);
        // The same cookies read as tokens (where a runtime joined headers with `, `): each value
        // cut at its first `,`, then trimmed of spaces and tabs (a quoted value's inner ones
        // too), none added or lost.
        let tokens: Vec<&str> = edge_session::cookie::get_all_tokens(&header, name).collect();
        assert_eq!(tokens.len(), all.len());
        for (token, value) in tokens.iter().zip(&all) {
            let cut = value.split(',').next().unwrap_or_default();
            assert_eq!(*token, cut.trim_matches([' ', '\t']), "token of {value:?}");
        }
    }
    if header
        .chars()
        .any(|c| c.is_whitespace() && c != ' ' && c != '\t')
    {
        return;
    }
    let theirs: Vec<(String, String)> = cookie::Cookie::split_parse(&*header)
        .filter_map(Result::ok)
        .map(|c| (c.name().to_owned(), c.value_trimmed().to_owned()))
        .collect();
    let ours: Vec<(String, String)> = ours
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(ours, theirs, "cookie: {header:?}");
}

// ---------------------------------------------------------------------------------------------
// Affinity

pub fn affinity_values() -> &'static AffinityValues {
    static VALUES: OnceLock<AffinityValues> = OnceLock::new();
    VALUES.get_or_init(|| {
        AffinityValues::new(
            &Secret::new(secret_bytes(1)).expect("32 bytes"),
            &[Secret::new(secret_bytes(0x81)).expect("32 bytes")],
        )
    })
}

pub fn router(mode: Mode) -> Affinity {
    let backends = ["a", "b", "c"].map(BackendConfig::new).to_vec();
    let mut config = AffinityConfig::new(SECRET_1, backends);
    config.previous_secrets = vec![SECRET_0.into()];
    config.mode = mode;
    Affinity::new(config).expect("fixture config")
}

/// The affinity value and the URL parameter (src/affinity/): the input is read as a value, a
/// `Cookie` header (cookie mode) and a URL (URL mode). Nothing panics; a value that opens seals
/// back to the same fields (to the same text, when the current secret signed it); a URL with
/// the parameter set reads back that one value and setting it again changes nothing; what a
/// route hands out (cookie or URL) routes back to the same backend without reassignment.
pub fn affinity(data: &[u8]) {
    let text = text(data);
    let values = affinity_values();
    if let Ok((fields, generation)) = values.open(&text) {
        let sealed = values.seal(fields);
        let reopened: (AffinityFields, usize) = values.open(&sealed).expect("seal opens");
        assert_eq!(
            reopened,
            (fields, 0),
            "affinity: {text:?} resealed differently"
        );
        if generation == 0 {
            assert_eq!(sealed, *text, "affinity: {text:?} is not canonical");
        }
    }

    for name in ["_aff", "a"] {
        let got = fuzzing::url_param_values(&text, name);
        assert!(got.iter().all(|v| !v.contains(['&', '#'])), "{text:?}");
        let set = fuzzing::url_with_param(&text, name, "V");
        assert_eq!(fuzzing::url_param_values(&set, name), ["V"], "{text:?}");
        assert_eq!(fuzzing::url_with_param(&set, name, "V"), set, "{text:?}");
    }

    let cookie_mode = router(Mode::Cookie);
    let request = RouteRequest {
        cookie: Some(&text),
        url: Some(&text),
        entropy: 7,
        ..RouteRequest::default()
    };
    let route = cookie_mode
        .route(&request, NOW)
        .expect("cookie mode routes");
    if let Some(set_cookie) = &route.set_cookie {
        let pair = set_cookie.split(';').next().unwrap_or_default();
        let again = cookie_mode
            .route(
                &RouteRequest {
                    cookie: Some(pair),
                    ..RouteRequest::default()
                },
                NOW + 1,
            )
            .expect("cookie mode routes");
        assert_eq!(again.backend, route.backend, "affinity: {set_cookie}");
        assert!(!again.reassigned, "affinity: {set_cookie}");
    }

    let url_mode = router(Mode::Url);
    let route = url_mode
        .route(&request, NOW)
        .expect("URL mode routes a URL");
    if let Some(url) = &route.url {
        let again = url_mode
            .route(
                &RouteRequest {
                    url: Some(url),
                    ..RouteRequest::default()
                },
                NOW + 1,
            )
            .expect("URL mode routes a URL");
        assert_eq!(again.backend, route.backend, "affinity: {url}");
        assert!(!again.reassigned, "affinity: {url}");
    }
}

// ---------------------------------------------------------------------------------------------
// Store records

pub fn record_keys() -> &'static RecordKeys {
    static KEYS: OnceLock<RecordKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ring = KeyRing::new(vec![
            ("k1".into(), Secret::new(secret_bytes(1)).expect("32 bytes")),
            (
                "k0".into(),
                Secret::new(secret_bytes(0x81)).expect("32 bytes"),
            ),
        ])
        .expect("fixture ring");
        RecordKeys::new(&ring, "session")
    })
}

/// The session id and version the store records are bound to.
pub const RECORD_ID: [u8; 16] = [9; 16];
pub const RECORD_VERSION: u64 = 3;

/// The store record decoder (src/store/record.rs): arbitrary text never panics, opens the same
/// twice, and what opens seals and opens back to the same record. A JSON object in the input
/// becomes a record (times and subject from the input) that seals and opens back to itself.
pub fn store_record(data: &[u8]) {
    let keys = record_keys();
    let text = text(data);
    let opened = same_twice("record", &text, || {
        keys.open(&RECORD_ID, RECORD_VERSION, &text)
    });
    if let Ok(opened) = opened {
        let sealed = keys
            .seal(&RECORD_ID, RECORD_VERSION, &opened.record)
            .expect("an opened record seals");
        let again = keys
            .open(&RECORD_ID, RECORD_VERSION, &sealed)
            .expect("opens");
        assert_eq!(again.record, opened.record);
    }
    let (json, rest) = match text.find('\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (&*text, ""),
    };
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) {
        let n = data.len() as u64;
        let record = Record {
            data: map,
            created: NOW - n,
            touched: NOW + n * n,
            subject: (!rest.is_empty()).then(|| rest.to_owned()),
        };
        let sealed = keys
            .seal(&RECORD_ID, RECORD_VERSION, &record)
            .expect("a record seals");
        let opened = keys
            .open(&RECORD_ID, RECORD_VERSION, &sealed)
            .expect("a sealed record opens");
        assert!(!opened.stale_key);
        assert_eq!(
            (
                Value::Object(opened.record.data.clone()).to_string(),
                opened.record.created,
                opened.record.touched,
                &opened.record.subject
            ),
            (
                Value::Object(record.data.clone()).to_string(),
                record.created,
                record.touched,
                &record.subject
            )
        );
        assert!(keys.open(&[8; 16], RECORD_VERSION, &sealed).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// The gateway

/// The origins' addresses in the gateway's `ORIGINS`: one with a base path.
const ORIGIN_URLS: [&str; 3] = [
    "http://127.0.0.1:9001",
    "http://10.0.0.2:8080/app",
    "https://c.example",
];

/// The gateway's settings for flag bits `flags & 0x1f`: bits 0-1 the affinity mode (cookie,
/// header, IP, or URL with `DBSC = "on"`), bit 2 a KV store, bits 3-4 the session format
/// (compact, sealed, JWT, or compact with `DIRECTIVE_NONCE = "on"`).
pub fn gateway_vars(flags: u8) -> Vec<(&'static str, String)> {
    let mode = ["cookie", "header", "ip", "url"][usize::from(flags & 3)];
    let format = ["compact", "sealed", "jwt", "compact"][usize::from((flags >> 3) & 3)];
    let mut vars = vec![
        (
            "ORIGINS",
            serde_json::to_string(
                &ORIGIN_URLS
                    .iter()
                    .zip(["a", "b", "c"])
                    .map(|(url, id)| serde_json::json!({ "id": id, "url": url }))
                    .collect::<Vec<_>>(),
            )
            .expect("ORIGINS"),
        ),
        (
            "SESSION_KEYS",
            format!(r#"[{{"id":"k1","secret":"{SECRET_1}"}},{{"id":"k0","secret":"{SECRET_0}"}}]"#),
        ),
        ("OPERATOR_TOKEN", "0123456789abcdef".to_owned()),
        ("AFFINITY_MODE", mode.to_owned()),
        ("AFFINITY_HEADER", "x-tenant".to_owned()),
        ("SESSION_FORMAT", format.to_owned()),
    ];
    if flags & 4 != 0 {
        vars.push(("STORE", "kv".to_owned()));
    }
    if flags & 0x18 == 0x18 {
        vars.push(("DIRECTIVE_NONCE", "on".to_owned()));
    }
    if flags & 3 == 3 {
        vars.push(("DBSC", "on".to_owned()));
    }
    vars
}

pub fn new_gateway(flags: u8) -> Gateway {
    let vars = gateway_vars(flags);
    let config = GatewayConfig::from_vars(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .expect("fixture config");
    Gateway::new(config).expect("fixture gateway")
}

/// A logged-in browser's cookies for the gateway of `flags`: `(session, affinity)` values.
pub fn login_cookies(flags: u8) -> &'static (String, String) {
    static COOKIES: [OnceLock<(String, String)>; 32] = [const { OnceLock::new() }; 32];
    COOKIES[usize::from(flags & 0x1f)].get_or_init(|| {
        let mut gw = new_gateway(flags);
        let req = Request {
            method: "GET",
            url: "https://app.example/",
            headers: &[],
            has_body: false,
        };
        let Step::Proxy(attempt) = gw.start(&req, NOW, &Entropy::default()) else {
            panic!("the fixture gateway proxies")
        };
        let mut issue = vec![(
            "x-session-issue".to_owned(),
            r#"{"sub":"alice","role":"admin"}"#.to_owned(),
        )];
        if let Some(nonce) = headers::get(&attempt.headers, "x-session-nonce") {
            issue.push(("x-session-nonce".to_owned(), nonce.to_owned()));
        }
        let out = gw
            .finish(&attempt, &issue, NOW, &Entropy::default())
            .expect("login")
            .headers;
        let value = |prefix: &str| {
            out.iter()
                .filter(|(n, _)| n == "set-cookie")
                .find_map(|(_, v)| v.strip_prefix(prefix))
                .map(|v| v.split(';').next().unwrap_or_default().to_owned())
                .unwrap_or_default()
        };
        (value("__Host-session="), value("__Host-affinity="))
    })
}

/// Whether a header name reads as the gateway's `x-session-*`: without case, any character but a
/// letter or digit as `-` (`_` for CGI and PHP; `.`, `+`, `~`... too for lighttpd). Written here
/// on its own, not taken from the crate, so a hole in the crate's predicate shows.
pub fn reads_as_session_header(name: &str) -> bool {
    let folded: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    folded.starts_with("x-session-")
}

/// Spelled as the gateway spells its own headers: lowercase, `-` between words. A client's
/// copy in another spelling that got through would show here; one spelled the same way shows
/// in the comparison with the request without it.
fn spelled_as_gateways_own(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The `x-session-*` headers of an attempt, checked: each one is the gateway's own.
fn session_headers<'a>(what: &str, attempt: &'a Attempt) -> Vec<&'a (String, String)> {
    let ours: Vec<&(String, String)> = attempt
        .headers
        .iter()
        .filter(|(n, _)| reads_as_session_header(n))
        .collect();
    for (name, value) in &ours {
        assert!(
            spelled_as_gateways_own(name),
            "gateway ({what}): the client's {name:?}: {value:?} reaches the origin"
        );
    }
    ours
}

/// A hostile request through `Gateway::start`, `retry` and `finish`, and a hostile origin
/// response through `finish`. The input: a flags byte (see [`gateway_vars`]; bit 5 the request
/// has a body, bits 6-7 how far the clock moves), then lines of text: the method, the URL, the
/// client's headers (`name: value`) up to an empty line, then the origin's response headers.
/// `$S` and `$A` in a value stand for a logged-in browser's session and affinity cookie values,
/// `$N` in the origin's for the request's `x-session-nonce`.
///
/// Nothing panics; no client header that reads as `x-session-*` (without case, `_` as `-`)
/// reaches the origin: every one that does is the gateway's own, and the same as for the request
/// without the client's; none reaches the client from the origin either.
pub fn gateway(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (session, affinity) = login_cookies(flags);
    let text = text(rest).replace("$S", session).replace("$A", affinity);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or_default();
    let url = lines.next().unwrap_or_default();
    let header = |line: &str| {
        let (n, v) = line.split_once(':').unwrap_or((line, ""));
        (n.to_owned(), v.trim_start().to_owned())
    };
    let client: Vec<(String, String)> = lines
        .by_ref()
        .take_while(|l| !l.is_empty())
        .map(header)
        .collect();
    let origin: Vec<(String, String)> = lines.map(header).collect();
    for (name, _) in client.iter().chain(&origin) {
        assert!(
            !reads_as_session_header(name)
                || (headers::is_reserved(name, false) && headers::is_reserved(name, true)),
            "gateway: headers::is_reserved({name:?}) is false"
        );
    }
    let now = NOW + [0, 1_000, 3_000, 100_000][usize::from(flags >> 6)];
    let entropy = Entropy {
        visitor: u64::from(flags),
        sid: [flags; 16],
        ..Entropy::default()
    };
    let req = Request {
        method,
        url,
        headers: &client,
        has_body: flags & 0x20 != 0,
    };

    let mut gw = new_gateway(flags);
    // The same request without any header that reads as `x-session-*`: the gateway's own
    // `x-session-*` headers must come out the same.
    let clean: Vec<(String, String)> = client
        .iter()
        .filter(|(n, _)| !reads_as_session_header(n))
        .cloned()
        .collect();
    let clean_req = Request {
        headers: &clean,
        ..req
    };
    let clean_step = gw.start(&clean_req, now, &entropy);
    let step = gw.start(&req, now, &entropy);
    // A DBSC endpoint answers itself: never with an `x-session-*` header, whatever the proof's
    // signature and the store say.
    if let Step::Dbsc(decision) = &step {
        let pages = match decision {
            Decision::Answer(page) => vec![page.clone()],
            Decision::Verify(pending) => [Ok(true), Ok(false), Err(())]
                .into_iter()
                .map(|verified| pending.as_ref().clone().finish(verified, Some(Ok(()))))
                .collect(),
        };
        for page in pages {
            check_to_client(&Ok(Answer {
                headers: page.headers,
                plan: None,
                dropped_cookie: false,
            }));
        }
        return;
    }
    if let Step::Respond(page) = &step {
        check_affinity_redirect(flags, page);
    }
    let Step::Proxy(attempt) = step else {
        return;
    };
    check_url_mode(flags, "start", &attempt);
    check_base_path("start", &attempt);
    let ours = session_headers("start", &attempt);
    if let Step::Proxy(clean_attempt) = &clean_step {
        let want: Vec<&(String, String)> = clean_attempt
            .headers
            .iter()
            .filter(|(n, _)| reads_as_session_header(n))
            .collect();
        assert_eq!(
            ours, want,
            "gateway: the client's x-session-* headers count"
        );
    }

    // `$N` in the origin's answer: the nonce the gateway sent with the request, if any.
    let nonce = headers::get(&attempt.headers, "x-session-nonce").unwrap_or_default();
    let origin: Vec<(String, String)> = origin
        .into_iter()
        .map(|(n, v)| (n, v.replace("$N", nonce)))
        .collect();
    let finished = gw.finish(&attempt, &origin, now, &entropy);
    check_to_client(&finished);
    check_carried(&attempt, &finished);
    check_location(url, &finished);
    check_refused(&gw, &attempt, &origin, &finished);
    check_login_room(&mut gw, &finished, now);

    if let Retry::Next(next) = gw.retry(&req, &attempt, now, &entropy) {
        session_headers("retry", &next);
        check_url_mode(flags, "retry", &next);
        check_base_path("retry", &next);
        let finished = gw.finish(&next, &origin, now, &entropy);
        check_to_client(&finished);
        check_carried(&next, &finished);
        check_location(url, &finished);
        let _ = gw.retry(&req, &next, now, &entropy);
    }
}

/// A login taken leaves its visitor room under `MAX_REQUEST_HEADER_BYTES` (`Gateway::crowded`):
/// the visitor's next request, with the cookies the answer set and 1 KB of its own headers, is
/// no 431, as the client sent it or as the origin would get it with the stored data at their
/// limit. Nor does a 431 end its session (`Gateway::too_large`): the same request with a URL
/// over the limit is refused, its session kept. Claims the origin chose (escapes that
/// `x-session-claims` spells longer, many members) try the count.
fn check_login_room(gw: &mut Gateway, finished: &Result<Answer, Page>, now: u64) {
    let Ok(answer) = finished else {
        return;
    };
    let set: Vec<&str> = (answer.headers.iter())
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap_or_default())
        .collect();
    if !set
        .iter()
        .any(|c| c.len() > 15 && c.starts_with("__Host-session="))
    {
        return;
    }
    let headers = vec![
        ("cookie".to_owned(), set.join("; ")),
        ("x-app".to_owned(), "y".repeat(1024)),
    ];
    let req = Request {
        method: "GET",
        url: "https://app.example/logout",
        headers: &headers,
        has_body: false,
    };
    let long = format!(
        "{}?q={}",
        req.url,
        "q".repeat(gw.config().max_request_header_bytes)
    );
    if let Step::Respond(page) =
        gw.start(&Request { url: &long, ..req }, now + 1, &Entropy::default())
    {
        assert!(
            page.status == 431 && !page.headers.iter().any(|(_, v)| v.contains("Max-Age=0")),
            "gateway: a long URL ends a session a login took"
        );
    }
    let mut next = match gw.start(&req, now + 1, &Entropy::default()) {
        Step::Proxy(next) => next,
        Step::Respond(page) => {
            assert_ne!(page.status, 431, "gateway: a login locks its visitor out");
            return;
        }
        _ => return,
    };
    if let Some(store) = &gw.config().store {
        let data = "d".repeat(store.sessions.max_data_bytes);
        next.headers
            .push((headers::STORE.to_owned(), "ok".to_owned()));
        next.headers.push((headers::DATA.to_owned(), data));
    }
    assert_eq!(
        gw.oversized(&next, &req, now + 1).map(|p| p.status),
        None,
        "gateway: a login locks its visitor out on the way to the origin"
    );
}

/// What a refused answer still does (`Gateway::refused`): it only ends sessions (no login, no
/// data; the page it replaces gets cookie removals, `Max-Age=0`, and the answer's own
/// `Clear-Site-Data`, nothing else), revokes one subject at most, and ends what an answer
/// carried out would (the same revocation and logout: both read the directives by the same
/// rules, and a logout ends the same session token).
fn check_refused(
    gw: &Gateway,
    attempt: &Attempt,
    origin: &[(String, String)],
    finished: &Result<Answer, Page>,
) {
    let mut page = Page::bad_origin_answer("fuzz");
    let headers_before = page.headers.len();
    let plan = gw.refused(attempt, origin, &mut page);
    let origin_has = |name: &str, value: &str| {
        origin
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v.trim() == value.trim())
    };
    for (name, value) in page.headers.iter().skip(headers_before) {
        assert!(
            name == "set-cookie" && value.contains("Max-Age=0")
                || name == "clear-site-data" && origin_has(name, value),
            "gateway: a refused answer's page gets {name}: {value}"
        );
    }
    if let Some(p) = &plan {
        assert!(
            p.login.is_none() && p.claims.is_none() && p.patch.is_none() && !p.is_empty(),
            "gateway: a refused answer's plan {p:?}"
        );
        assert!(
            (p.revoke.as_deref()).is_none_or(|s| !s.is_empty() && !s.contains(',')),
            "gateway: a refused answer revokes {:?}",
            p.revoke
        );
    }
    if let Ok(Answer {
        plan: Some(done), ..
    }) = finished
    {
        let ended =
            |p: &edge_session::gateway::store::Plan| (p.revoke.clone(), p.logout, p.ended.clone());
        assert_eq!(
            plan.as_ref().map_or((None, false, None), ended),
            ended(done),
            "gateway: what a refused answer ends and what finish carries out disagree"
        );
    }
}

/// The URL sent to an origin holds no dot segment in any form a server may resolve (`%2e%2e`,
/// `..\\`, `..;`, `%2e%2e%2f`...) against the origin's base path: the request stays under the base
/// ORIGINS gives.
fn check_base_path(what: &str, attempt: &Attempt) {
    let (_, _, target) = headers::split_url(&attempt.url);
    assert!(
        !headers::has_dot_segment(target.split('?').next().unwrap_or_default()),
        "gateway ({what}): {:?} leaves its origin's base path",
        attempt.url
    );
}

/// URL mode (`flags & 3 == 3`): the origin never sees the affinity parameter, under any
/// spelling, in the URL or in the headers that carry a page's URL.
fn check_url_mode(flags: u8, what: &str, attempt: &Attempt) {
    if flags & 3 != 3 {
        assert!(
            attempt.affinity_param().is_none(),
            "gateway ({what}): a value to carry outside URL mode"
        );
        return;
    }
    assert_eq!(
        fuzzing::url_without_param(&attempt.url, "_es"),
        attempt.url,
        "gateway ({what}): the origin sees the parameter"
    );
    for name in ["referer", "ping-from", "ping-to"] {
        for (_, value) in attempt
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            assert_eq!(
                &fuzzing::url_without_param(value, "_es"),
                value,
                "gateway ({what}): the origin sees the parameter in {name}"
            );
        }
    }
}

/// URL mode: a new visitor's redirect is never cached and carries exactly one value.
fn check_affinity_redirect(flags: u8, page: &Page) {
    if flags & 3 != 3 || page.status != 302 {
        return;
    }
    assert_eq!(
        headers::get(&page.headers, "cache-control"),
        Some("no-store")
    );
    let location = headers::get(&page.headers, "location").unwrap_or_default();
    assert_eq!(
        fuzzing::url_param_values(location, "_es").len(),
        1,
        "gateway: redirect to {location:?}"
    );
}

/// URL mode: an answer whose `Location` carries the visitor's value is not for shared caches.
fn check_carried(attempt: &Attempt, finished: &Result<Answer, Page>) {
    let (Some((param, value)), Ok(out)) = (attempt.affinity_param(), finished) else {
        return;
    };
    let carries = out.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("location") && fuzzing::url_param_values(v, param).contains(&value)
    });
    if carries {
        let cache = out
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",");
        assert!(
            cache.contains("private") || cache.contains("no-store"),
            "gateway: a Location with the value, cache-control {cache:?}"
        );
    }
}

fn check_to_client(finished: &Result<Answer, Page>) {
    if let Ok(out) = finished {
        for (name, value) in &out.headers {
            assert!(
                !reads_as_session_header(name),
                "gateway: the origin's {name:?}: {value:?} reaches the client"
            );
        }
    }
}

/// For a request to the public host `https://app.example`, no `Location` reaches the client on
/// an origin's own address (under its base path): such a redirect moves to the public host.
fn check_location(url: &str, finished: &Result<Answer, Page>) {
    let (Some(_), Ok(out)) = (url.strip_prefix("https://app.example/"), finished) else {
        return;
    };
    for (_, location) in out
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("location"))
    {
        for base in ORIGIN_URLS {
            // The scheme and host in any case; the base path as it is.
            let host_end = base.find("://").map_or(0, |i| i + 3);
            let host_end = base[host_end..]
                .find('/')
                .map_or(base.len(), |i| i + host_end);
            let (head, base) = (location.as_bytes(), base.as_bytes());
            let rest = head
                .get(..base.len())
                .filter(|head| {
                    head[..host_end].eq_ignore_ascii_case(&base[..host_end])
                        && head[host_end..] == base[host_end..]
                })
                .map(|_| &head[base.len()..]);
            assert!(
                !rest.is_some_and(|r| matches!(r.first(), None | Some(b'/' | b'?' | b'#'))),
                "gateway: a Location on an origin's address: {location:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Origin assertions (issue 15): what a JS origin's `OriginAssertions.verify` reads before
// WebCrypto checks the signature, and the claims it checks after.

/// An `x-session-assertion`, read and (as if its signature verified) its claims checked: never a
/// panic; what is accepted names EdDSA or ES256 with a 64-byte signature over the token's own
/// first two parts, and claims accepted are a JSON object (serde_json agrees) with the expected
/// `iss`, and an `exp` after `NOW`. A line `header\npayload` is made into a token with a zero
/// signature, so the claims checks get fuzzed too.
pub fn assertion_verify(data: &[u8]) {
    use edge_session::token::assertion::UntrustedAssertion;
    let input = text(data);
    let made;
    let token: &str = match input.split_once('\n') {
        Some((header, payload)) => {
            made = format!(
                "{}.{}.{}",
                fuzzing::b64url_encode(header.as_bytes()),
                fuzzing::b64url_encode(payload.as_bytes()),
                fuzzing::b64url_encode(&[0; 64])
            );
            &made
        }
        None => &input,
    };
    let Ok(u) = UntrustedAssertion::parse(token) else {
        return;
    };
    assert!(matches!(u.alg().name(), "EdDSA" | "ES256"));
    assert_eq!(u.signature().len(), 64);
    assert!(token.starts_with(u.signing_input()));
    assert_eq!(
        token.len() - u.signing_input().len() - 1,
        fuzzing::b64url_encode(u.signature()).len()
    );
    if let Ok(claims) = u.verify_with(|_| true, "https://i", "http://a", NOW, 30) {
        let v: Value = serde_json::from_str(&claims).expect("accepted claims are JSON");
        assert_eq!(v["iss"], "https://i", "assertion: {claims}");
        assert!(
            v["exp"].as_f64().is_some_and(|e| e + 30.0 > NOW as f64),
            "{claims}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Device-bound sessions (issue 14): the browser's proof JWT and the JWK in it, read before
// WebCrypto checks the signature, then checked as a registration and as a refresh.

/// The DBSC keys of the fixture keyring, bound cookies of 600 seconds.
pub fn device_binding() -> &'static edge_session::dbsc::DeviceBinding {
    static BINDING: OnceLock<edge_session::dbsc::DeviceBinding> = OnceLock::new();
    BINDING.get_or_init(|| {
        let ring = KeyRing::from_config(&token_config().keys).expect("fixture keys");
        edge_session::dbsc::DeviceBinding::new(&ring, 600).expect("fixture DBSC")
    })
}

/// A `Secure-Session-Response` value read by `Proof::parse`, and the input read as a JWK by
/// `DeviceKey::from_jwk_json`: never a panic; what is accepted is what the format says (ES256
/// with a 64-byte signature, RS256 with one of 256 to 512 bytes, the jwk's length when it has
/// one; a header whose `typ` serde_json reads as `dbsc+jwt`; the signing input the start of the
/// JWT); an accepted JWK has no private member and reads back from its canonical JSON with the
/// same thumbprint. A line `header\npayload` is made into a JWT with a zero signature (64 bytes
/// when the header names ES256, else 256), so the header and claims rules get fuzzed too.
pub fn dbsc_proof(data: &[u8]) {
    use edge_session::dbsc::{Alg, DeviceKey, Proof};
    let input = text(data);
    let made;
    let value: &str = match input.split_once('\n') {
        Some((header, payload)) => {
            let signature = if header.contains("ES256") { 64 } else { 256 };
            made = format!(
                "{}.{}.{}",
                fuzzing::b64url_encode(header.as_bytes()),
                fuzzing::b64url_encode(payload.as_bytes()),
                fuzzing::b64url_encode(&vec![0; signature])
            );
            &made
        }
        None => &input,
    };
    if let Ok(key) = DeviceKey::from_jwk_json(&input) {
        let v: Value = serde_json::from_str(&input).expect("an accepted JWK is JSON");
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(v.get(private).is_none(), "JWK with {private}: {input}");
        }
        let again = DeviceKey::from_jwk_json(&key.to_jwk_json()).expect("canonical JWK reads");
        assert_eq!(again, key);
        assert_eq!(again.thumbprint(), key.thumbprint());
        assert_eq!(key.thumbprint().len(), 43);
    }
    let Ok(proof) = Proof::parse(value) else {
        return;
    };
    let len = proof.signature().len();
    match proof.alg() {
        Alg::ES256 => assert_eq!(len, 64),
        Alg::RS256 => assert!((256..=512).contains(&len), "{len}"),
    }
    if let Some(jwk) = proof.jwk() {
        assert_eq!(jwk.alg(), proof.alg());
        assert_eq!(jwk.signature_len(), len);
    }
    let input_text = std::str::from_utf8(proof.signing_input()).expect("signing input is text");
    assert!(value.contains(&format!("{input_text}.")), "{value}");
    let header = input_text.split('.').next().unwrap_or_default();
    let header: Value = serde_json::from_slice(&fuzzing::b64url_decode(header).expect("base64url"))
        .expect("an accepted header is JSON");
    assert_eq!(header["typ"], "dbsc+jwt");
    assert_eq!(header["alg"], proof.alg().name());
    // Checked as both steps for the session `s1` (the seeds hold challenges issued for it):
    // what passes names the proof's key and a challenge still valid.
    let binding = device_binding();
    if let Ok(r) = binding.register(&proof, "s1", NOW) {
        assert_eq!(Some(&r.key), proof.jwk());
        assert_eq!(r.jkt, r.key.thumbprint());
        assert!(r.challenge_id.expires >= NOW);
    }
    if let Some(key) = proof.jwk() {
        if let Ok(r) = binding.refresh(&proof, "s1", key, &key.thumbprint(), NOW) {
            assert!(r.challenge_id.expires >= NOW);
        }
    }
    let _ = binding.check_bound(proof.jti(), "s1", "jkt", NOW);
}
