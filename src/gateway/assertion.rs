//! Signed identity assertions for origins (`ORIGIN_ASSERTION = "EdDSA" | "ES256"`): what the
//! gateway asserts about a request it forwards, and the page that publishes its public keys.
//! The keys, claims and JWS are [`crate::token::assertion`]'s; the WebCrypto signature is the
//! worker glue's.
//!
//! The assertion says what the identity headers say, signed: `status` from `x-session-status`
//! (after the revocation check: `revoked` included), the session's claims from
//! `x-session-claims`, `revocation: "unchecked"` when the store could not say, `bound: true`
//! for a device-bound session with its fresh bound cookie (`x-session-bound: 1`, DBSC),
//! `data_sha256` (SHA-256 of `x-session-data`, base64url) when the store sent session data; a
//! session claim named `revocation`, `bound` or `data_sha256` is never carried (the gateway
//! alone says them). So an origin that verifies it needs none of the plain `x-session-*`
//! headers, and takes `x-session-data` only when its digest is the assertion's.

use super::config::GatewayConfig;
use super::headers;
use super::pages::Page;
use super::pipeline::Attempt;
use super::session::SessionCookie;
use crate::json;
use crate::token::assertion::{self, AssertionClaims};

pub use crate::token::assertion::{HEADER, JWKS_PATH};

/// The claims of the assertion for `attempt` (its origin chosen, its identity headers final),
/// or `None` when `ORIGIN_ASSERTION` is off (or the origin is unknown, which cannot happen).
/// `iss` is `ORIGIN_ASSERTION_ISSUER`, else the request's own `scheme://host`; `aud` is the
/// origin's URL as configured in `ORIGINS`.
pub fn claims(config: &GatewayConfig, attempt: &Attempt) -> Option<AssertionClaims> {
    let settings = config.assertion.as_ref()?;
    let origin = config.origins.iter().find(|o| o.id == attempt.origin)?;
    let iss = settings.issuer.as_deref().unwrap_or(attempt.public());
    let status = headers::get(&attempt.headers, SessionCookie::STATUS_HEADER).unwrap_or("none");
    let session = (status == "valid")
        .then(|| headers::get(&attempt.headers, SessionCookie::CLAIMS_HEADER))
        .flatten();
    let mut extra = Vec::new();
    if let Some(r) = headers::get(&attempt.headers, headers::REVOCATION) {
        extra.push(("revocation", json::quoted(r)));
    }
    if headers::get(&attempt.headers, super::dbsc::BOUND_HEADER) == Some("1") {
        extra.push(("bound", "true".to_owned()));
    }
    if let Some(data) = headers::get(&attempt.headers, headers::DATA) {
        extra.push((
            assertion::DATA_CLAIM,
            json::quoted(&assertion::data_sha256(data)),
        ));
    }
    Some(AssertionClaims::vouching(
        iss,
        &origin.url,
        status,
        session,
        &extra,
        &VOUCHED,
    ))
}

/// The members only the gateway says: a session's own claims of these names (a login's
/// `"bound": true`) are left out of the assertion, which would otherwise sign them as the
/// gateway's word.
const VOUCHED: [&str; 3] = ["revocation", "bound", assertion::DATA_CLAIM];

/// Replaces any assertion in `attempt`'s headers (a retry's, at another origin) with `token`.
pub fn set(attempt: &mut Attempt, token: String) {
    attempt.headers.retain(|(n, _)| n != HEADER);
    attempt.headers.push((HEADER.to_owned(), token));
}

/// The answer to `GET /.well-known/jwks.json`: the JWK Set, cacheable for
/// [`assertion::JWKS_MAX_AGE_SECONDS`].
pub fn jwks_page(jwks: String) -> Page {
    Page {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/jwk-set+json".into()),
            ("cache-control".into(), assertion::jwks_cache_control()),
            ("access-control-allow-origin".into(), "*".into()),
            ("x-content-type-options".into(), "nosniff".into()),
        ],
        body: jwks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::pipeline::{Entropy, Gateway, Request, Step};
    use crate::token::assertion::Alg;

    const NOW: u64 = 1_800_000_000;
    const KEYS: &str = r#"[{"id":"k2","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"},{"id":"k1","secret":"CwGxjkqgX34888wM9poN5x7lf7gx8iDaa9VgGHSXOOQ"}]"#;

    fn gateway(extra: &[(&str, &str)]) -> Result<Gateway, crate::gateway::ConfigError> {
        let mut vars = vec![
            ("ORIGINS", r#"[{"id":"a","url":"http://127.0.0.1:9001"}]"#),
            ("SESSION_KEYS", KEYS),
        ];
        vars.extend_from_slice(extra);
        crate::gateway::config::from_pairs(&vars).and_then(Gateway::new)
    }

    fn start(gw: &mut Gateway, path: &str, headers: &[(&str, &str)]) -> Step {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let url = format!("https://app.example{path}");
        gw.start(
            &Request {
                method: "GET",
                url: &url,
                headers: &headers,
                has_body: false,
            },
            NOW,
            &Entropy::default(),
        )
    }

    fn proxied(step: Step) -> Attempt {
        match step {
            Step::Proxy(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_off_by_default_and_checked() {
        assert!(gateway(&[]).unwrap().config().assertion.is_none());
        assert!(gateway(&[("ORIGIN_ASSERTION", "off")])
            .unwrap()
            .config()
            .assertion
            .is_none());
        let gw = gateway(&[("ORIGIN_ASSERTION", "ES256")]).unwrap();
        let s = gw.config().assertion.as_ref().unwrap();
        assert_eq!(s.alg, Alg::ES256);
        assert_eq!(
            s.keys.iter().map(|k| k.kid()).collect::<Vec<_>>(),
            ["k2-ES256-cARhL4sd", "k1-ES256-zZJp7loE"]
        );
        assert_eq!(s.issuer, None);
        for (name, value) in [
            ("ORIGIN_ASSERTION", "HS256"),
            ("ORIGIN_ASSERTION_ISSUER", "app.example"),
            ("ORIGIN_ASSERTION_ISSUER", "https://app.example/path"),
            ("ORIGIN_ASSERTION_ISSUER", "https://"),
            ("ORIGIN_ASSERTION_ISSUER", "ftp://app.example"),
            ("ORIGIN_ASSERTION_ISSUER", "https://app.example?x"),
            ("ORIGIN_ASSERTION_ISSUER", "https://app example"),
            // No origin either: user info, no host, a port that is no port.
            ("ORIGIN_ASSERTION_ISSUER", "https://user:pass@app.example"),
            ("ORIGIN_ASSERTION_ISSUER", "https://:443"),
            ("ORIGIN_ASSERTION_ISSUER", "https://app.example:99999"),
            ("ORIGIN_ASSERTION_ISSUER", "https://app.example:abc"),
            ("ORIGIN_ASSERTION_ISSUER", "https://app.example\\x"),
            ("ORIGIN_ASSERTION_KEY", "[]"),
            (
                "ORIGIN_ASSERTION_KEY",
                r#"{"kty":"OKP","crv":"Ed25519","kid":"x"}"#,
            ),
        ] {
            let e = gateway(&[("ORIGIN_ASSERTION", "EdDSA"), (name, value)]).unwrap_err();
            assert_eq!(e.setting, name, "{value}: {e}");
        }
        let d = "WgT5s2ctQvqwxcuCmMaEnYn4u1tVUr1c53M6_o8DZBU";
        let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","kid":"ops"}}"#);
        let list = format!("[{jwk}]");
        for key in [jwk.as_str(), list.as_str()] {
            let gw = gateway(&[
                ("ORIGIN_ASSERTION", "EdDSA"),
                ("ORIGIN_ASSERTION_KEY", key),
                ("ORIGIN_ASSERTION_ISSUER", "https://app.example"),
            ])
            .unwrap();
            let s = gw.config().assertion.as_ref().unwrap();
            assert_eq!(s.keys.iter().map(|k| k.kid()).collect::<Vec<_>>(), ["ops"]);
            assert_eq!(s.issuer.as_deref(), Some("https://app.example"));
            assert!(!format!("{:?}", gw.config()).contains(d));
        }
    }

    /// An `ORIGIN_ASSERTION_KEY` whose `d` a person chose (a few bytes repeated, text), or that
    /// is the bytes of a `SESSION_KEYS` secret (whoever holds the one could sign sessions), is
    /// refused, naming its kid and quoting neither. Both were taken.
    #[test]
    fn an_explicit_key_is_random_and_its_own() {
        let jwk = |d: &str| format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","kid":"ops"}}"#);
        let session = "CwGxjkqgX34888wM9poN5x7lf7gx8iDaa9VgGHSXOOQ"; // k1 of KEYS
        for (d, why) in [
            (
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "repeats a few byte values",
            ),
            // "correct horse battery staple 123"
            (
                "Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZSAxMjM",
                "decodes to text",
            ),
            (session, "is a secret of SESSION_KEYS"),
        ] {
            let e = gateway(&[
                ("ORIGIN_ASSERTION", "EdDSA"),
                ("ORIGIN_ASSERTION_KEY", &jwk(d)),
            ])
            .unwrap_err();
            assert_eq!(e.setting, "ORIGIN_ASSERTION_KEY", "{e}");
            assert!(
                e.message.contains(why) && e.message.contains(r#""ops""#),
                "{e}"
            );
            assert!(!e.to_string().contains(&d[..12]), "{e}");
        }
    }

    /// Two keys of `ORIGIN_ASSERTION_KEY` with the same `kid` would be published under one
    /// `kid`: a verifier that takes the first of them (PyJWT, `OriginAssertions.verify`)
    /// refuses what the other signed. Refused, as `SESSION_KEYS` refuses a repeated id.
    #[test]
    fn explicit_keys_have_distinct_kids() {
        let jwk = |d: &str, kid: &str| {
            format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","kid":"{kid}"}}"#)
        };
        let (d1, d2) = (
            "WgT5s2ctQvqwxcuCmMaEnYn4u1tVUr1c53M6_o8DZBU",
            "vq5wM6lJuYswKF7z5_sMzwVEpCmjh2HMfH7VQOIhzoI",
        );
        let same = format!("[{},{}]", jwk(d1, "a"), jwk(d2, "a"));
        let e = gateway(&[
            ("ORIGIN_ASSERTION", "EdDSA"),
            ("ORIGIN_ASSERTION_KEY", &same),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "ORIGIN_ASSERTION_KEY", "{e}");
        assert!(!e.message.contains(d1) && !e.message.contains(d2), "{e}");
        let distinct = format!("[{},{}]", jwk(d1, "a"), jwk(d2, "b"));
        let gw = gateway(&[
            ("ORIGIN_ASSERTION", "EdDSA"),
            ("ORIGIN_ASSERTION_KEY", &distinct),
        ])
        .unwrap();
        let kids: Vec<&str> = gw
            .config()
            .assertion
            .as_ref()
            .unwrap()
            .keys
            .iter()
            .map(|k| k.kid())
            .collect();
        assert_eq!(kids, ["a", "b"]);
    }

    #[test]
    fn jwks_path_answered_only_when_on() {
        let mut on = gateway(&[("ORIGIN_ASSERTION", "EdDSA")]).unwrap();
        assert_eq!(start(&mut on, JWKS_PATH, &[]), Step::Jwks);
        assert_eq!(
            start(&mut on, "/.well-known/jwks.json?x=1", &[]),
            Step::Jwks
        );
        assert!(matches!(
            start(&mut on, "/.well-known/jwks.jsonx", &[]),
            Step::Proxy(_)
        ));
        let mut off = gateway(&[]).unwrap();
        assert!(matches!(start(&mut off, JWKS_PATH, &[]), Step::Proxy(_)));
        let page = jwks_page(r#"{"keys":[]}"#.into());
        assert_eq!(page.status, 200);
        assert!(page
            .headers
            .contains(&("cache-control".into(), "public, max-age=300".into())));
        assert!(page
            .headers
            .contains(&("x-content-type-options".into(), "nosniff".into())));
    }

    #[test]
    fn a_clients_assertion_never_reaches_the_origin() {
        assert!(headers::is_reserved(HEADER, false));
        assert!(headers::is_reserved("X_Session_Assertion", false));
        let mut gw = gateway(&[("ORIGIN_ASSERTION", "EdDSA")]).unwrap();
        let a = proxied(start(
            &mut gw,
            "/",
            &[
                ("x-session-assertion", "forged"),
                ("X_SESSION_ASSERTION", "forged"),
            ],
        ));
        assert!(!a
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(HEADER) || v == "forged"));
        let mut a = a;
        set(&mut a, "one".into());
        set(&mut a, "two".into());
        assert_eq!(
            a.headers
                .iter()
                .filter(|(n, _)| n == HEADER)
                .collect::<Vec<_>>(),
            [&(HEADER.to_owned(), "two".to_owned())]
        );
    }

    #[test]
    fn claims_follow_the_identity_headers() {
        let mut gw = gateway(&[("ORIGIN_ASSERTION", "EdDSA")]).unwrap();
        let anon = proxied(start(&mut gw, "/", &[]));
        assert_eq!(
            claims(gw.config(), &anon).unwrap().identity(),
            r#"{"aud":"http://127.0.0.1:9001","iss":"https://app.example","status":"none"}"#
        );
        // A session as the gateway forwards it; a revocation check that could not be made.
        let mut a = anon.clone();
        a.headers.retain(|(n, _)| n != "x-session-status");
        a.headers.extend([
            ("x-session-status".into(), "valid".into()),
            (
                "x-session-claims".into(),
                r#"{"sub":"alice","sid":"s1","iat":1,"exp":2}"#.into(),
            ),
            ("x-session-revocation".into(), "unchecked".into()),
        ]);
        assert_eq!(
            claims(gw.config(), &a).unwrap().identity(),
            r#"{"aud":"http://127.0.0.1:9001","iss":"https://app.example","revocation":"unchecked","sid":"s1","status":"valid","sub":"alice"}"#
        );
        // A device-bound session with its fresh bound cookie says so.
        let mut b = a.clone();
        b.headers.push(("x-session-bound".into(), "1".into()));
        assert_eq!(
            claims(gw.config(), &b).unwrap().identity(),
            r#"{"aud":"http://127.0.0.1:9001","bound":true,"iss":"https://app.example","revocation":"unchecked","sid":"s1","status":"valid","sub":"alice"}"#
        );
        // A revoked session: its claims are gone from the headers, and from the assertion.
        let mut r = a.clone();
        r.headers
            .retain(|(n, _)| n != "x-session-status" && n != "x-session-claims");
        r.headers
            .push(("x-session-status".into(), "revoked".into()));
        let c = claims(gw.config(), &r).unwrap();
        assert!(c.identity().contains(r#""status":"revoked""#) && !c.identity().contains("alice"));
        // Off: none.
        let mut off = gateway(&[]).unwrap();
        let a = proxied(start(&mut off, "/", &[]));
        assert_eq!(claims(off.config(), &a), None);
    }

    /// With `STORE` on the origin gets the session data in `x-session-data`: the assertion
    /// carries its SHA-256 (`data_sha256`, base64url), so an origin that trusts the assertion
    /// alone can tell the data the gateway sent from a header someone else wrote next to a
    /// replayed assertion. A session claim of that name is not signed as the gateway's word.
    #[test]
    fn the_session_data_is_bound_to_the_assertion() {
        let mut gw = gateway(&[("ORIGIN_ASSERTION", "EdDSA")]).unwrap();
        let mut a = proxied(start(&mut gw, "/", &[]));
        a.headers.retain(|(n, _)| n != "x-session-status");
        let data = r#"{"cart":["book"],"name":"\u00e9"}"#;
        a.headers.extend([
            ("x-session-status".into(), "valid".into()),
            (
                "x-session-claims".into(),
                r#"{"sub":"alice","data_sha256":"forged"}"#.into(),
            ),
            ("x-session-store".into(), "ok".into()),
            ("x-session-data".into(), data.into()),
        ]);
        let digest = crate::codec::b64_encode(&crate::keys::sha256(data.as_bytes()));
        let identity = claims(gw.config(), &a).unwrap().identity().to_owned();
        assert!(
            identity.contains(&format!(r#""data_sha256":"{digest}""#)),
            "{identity}"
        );
        assert!(!identity.contains("forged"), "{identity}");
        // Without session data (the store failed, or none): no digest, whatever the claims say.
        a.headers.retain(|(n, _)| n != "x-session-data");
        let identity = claims(gw.config(), &a).unwrap().identity().to_owned();
        assert!(!identity.contains("data_sha256"), "{identity}");
    }

    /// `bound` and `revocation` are the gateway's word: a login's claims of those names (an
    /// origin that copies a profile's fields into `x-session-issue`) are not signed as if the
    /// gateway had said them. Without DBSC no session is bound; a revocation check that was
    /// made says nothing.
    #[test]
    fn session_claims_cannot_say_what_the_gateway_vouches_for() {
        for dbsc in ["off", "on"] {
            let mut gw = gateway(&[("ORIGIN_ASSERTION", "EdDSA"), ("DBSC", dbsc)]).unwrap();
            let login = proxied(start(&mut gw, "/", &[]));
            let out = gw
                .finish(
                    &login,
                    &[(
                        "x-session-issue".into(),
                        r#"{"sub":"alice","bound":true,"revocation":"unchecked"}"#.into(),
                    )],
                    NOW,
                    &Entropy::default(),
                )
                .unwrap();
            let cookie = out
                .headers
                .iter()
                .find(|(n, v)| n == "set-cookie" && v.starts_with("__Host-session="))
                .map(|(_, v)| v.split(';').next().unwrap().to_owned())
                .unwrap();
            let a = proxied(start(&mut gw, "/", &[("cookie", &cookie)]));
            assert_eq!(headers::get(&a.headers, "x-session-status"), Some("valid"));
            assert_eq!(headers::get(&a.headers, "x-session-bound"), None);
            let identity = claims(gw.config(), &a).unwrap().identity().to_owned();
            assert!(identity.contains(r#""sub":"alice""#), "{identity}");
            assert!(!identity.contains("bound"), "DBSC {dbsc}: {identity}");
            assert!(!identity.contains("revocation"), "DBSC {dbsc}: {identity}");
        }
    }
}
