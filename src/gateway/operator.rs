//! Operator endpoints under the reserved prefix `/__edge/`, never forwarded to an origin.
//!
//! - `GET /__edge/health`: origin health as JSON (see [`HealthBook::report`](super::health::HealthBook::report)).
//! - `POST /__edge/sessions/revoke` with `{"sub":"alice"}`: ends every session of a user begun
//!   before now, stored sessions and session tokens (`STORE` on); answers
//!   `{"revoked": n, "minIssuedAt": now + 1}` (a body over [`MAX_REVOKE_BODY_BYTES`]: 413).
//! - `GET /__edge/store/conformance`: runs the store conformance suite against the configured
//!   store (`STORE_TESTS=1` in a test build with feature `gateway-conformance` only; for the
//!   end-to-end tests).
//!
//! All need `Authorization: Bearer <OPERATOR_TOKEN>`; without `OPERATOR_TOKEN` configured they
//! answer 404, as if they did not exist. `/__edge/dbsc/` is not theirs when `DBSC` is on: the
//! browser calls those endpoints, without a token ([`super::dbsc`], routed before this check).

use ctutils::CtEq;
use serde_json::{json, Value};

use super::config::StoreKind;
use super::pages::Page;
use crate::error::Error;
use crate::keys::sha256;
use crate::store::conformance::Report;
use crate::time::UnixTime;

/// The reserved path prefix.
pub const PREFIX: &str = "/__edge";

/// An operator endpoint, once authorized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /__edge/health`.
    Health,
    /// `POST /__edge/sessions/revoke`.
    RevokeSubject,
    /// `GET /__edge/store/conformance`.
    StoreConformance,
}

/// True when `path` (without the query) is under the reserved prefix.
pub fn is_operator_path(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The endpoint a request asks for, or the page refusing it.
pub fn authorize(
    token: Option<&str>,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> Result<Endpoint, Page> {
    let Some(token) = token else {
        return Err(Page::not_found());
    };
    if !authorization.is_some_and(|a| presents(a, token)) {
        return Err(Page::unauthorized());
    }
    match path {
        "/__edge/health" if matches!(method, "GET" | "HEAD") => Ok(Endpoint::Health),
        "/__edge/health" => Err(Page::method_not_allowed()),
        "/__edge/sessions/revoke" if method == "POST" => Ok(Endpoint::RevokeSubject),
        "/__edge/sessions/revoke" => Err(Page::post_only()),
        "/__edge/store/conformance" if method == "GET" => Ok(Endpoint::StoreConformance),
        "/__edge/store/conformance" => Err(Page::get_only()),
        _ => Err(Page::not_found()),
    }
}

/// The longest `POST /__edge/sessions/revoke` body read, in bytes: a subject is at most 1024
/// bytes (see [`revoke_subject`]), at most 6 bytes of JSON per byte when escaped (`\u0041`), with room for
/// spaces and other members. A longer body is refused ([`revoke_body_too_large`]), and no more
/// than this much of it is kept: a body of megabytes read whole, as text and then in the wasm
/// memory (which never shrinks), would take the instance's memory with it.
pub const MAX_REVOKE_BODY_BYTES: usize = 8192;

/// 413: a `POST /__edge/sessions/revoke` body over [`MAX_REVOKE_BODY_BYTES`].
pub fn revoke_body_too_large() -> Page {
    Page::json(
        413,
        &json!({ "error": format!("the body is over {MAX_REVOKE_BODY_BYTES} bytes: expected {{\"sub\": \"<subject>\"}}") }),
    )
}

/// The subject of a `POST /__edge/sessions/revoke` body, `{"sub": "<subject>"}`, or the 400
/// page refusing it: any `sub` a session token can hold and the gateway checks, a string of 1 to
/// 1024 bytes, or a whole number (a token from another system, read as its JSON text, `42`).
/// Not only what a login through the gateway gives (header text): a JWT issued elsewhere
/// whose `sub` is `"José"` was checked on every request and could never be revoked.
pub fn revoke_subject(body: Option<&str>) -> Result<String, Page> {
    let sub = body
        .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .and_then(|v| match v.get("sub")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
            _ => None,
        })
        .filter(|s| (1..=1024).contains(&s.len()));
    sub.ok_or_else(|| {
        Page::json(
            400,
            &serde_json::json!({ "error": "expected a JSON body {\"sub\": \"<subject>\"}: a subject is a string of 1 to 1024 bytes, or a whole number" }),
        )
    })
}

/// `GET /__edge/health`: the health book's `report` (a JSON object), with whether the
/// health KV namespace is bound (`kvBinding`) and the session store's kind and whether its
/// binding is there (`store`; `store` is `None` when `STORE` is `none`).
pub fn health(mut report: Value, kv_binding: bool, store: Option<(StoreKind, bool)>) -> Page {
    let store = match store {
        Some((kind, bound)) => {
            let label = match kind {
                StoreKind::Kv => "kv",
                StoreKind::Durable => "durable",
            };
            json!({ "kind": label, "binding": bound })
        }
        None => json!({ "kind": "none" }),
    };
    if let Some(fields) = report.as_object_mut() {
        fields.insert("kvBinding".into(), kv_binding.into());
        fields.insert("store".into(), store);
    }
    Page::json(200, &report)
}

/// `POST /__edge/sessions/revoke` with `STORE = "none"`: 404, nothing to revoke.
pub fn no_store() -> Page {
    Page::json(
        404,
        &json!({ "error": "STORE is none: no stored sessions" }),
    )
}

/// The answer to a revocation at `now`: 200 with how many stored sessions ended and the
/// subject's new `minIssuedAt` (sessions begun before it are refused: `now`'s second too, see
/// [`super::store::revoke`]), or 503 with the store's error.
pub fn revoked(result: Result<usize, &Error>, now: UnixTime) -> Page {
    match result {
        Ok(n) => Page::json(
            200,
            &json!({ "revoked": n, "minIssuedAt": now.saturating_add(1) }),
        ),
        Err(e) => Page::json(503, &json!({ "error": e.to_string(), "code": e.code() })),
    }
}

/// `GET /__edge/store/conformance`: the suite's report, 200 when every check passed and 500
/// otherwise; 404 when it did not run (no store, `STORE_TESTS` off, or a production build).
pub fn conformance(report: Option<&Report>) -> Page {
    match report {
        Some(report) => Page::json(
            if report.ok() { 200 } else { 500 },
            &serde_json::to_value(report).unwrap_or_default(),
        ),
        None => Page::not_found(),
    }
}

/// Whether a request's `Authorization` presents the operator's `token`, alone or among the
/// values of several such headers (joined by commas). Such a request on any other path (a
/// monitor's `//__edge/health` or `/__EDGE/health`) is answered 404 by the gateway, never
/// forwarded: the token never reaches an origin.
pub fn carries_token(token: Option<&str>, authorization: Option<&str>) -> bool {
    let (Some(token), Some(authorization)) = (token, authorization) else {
        return false;
    };
    presents(authorization, token) || authorization.split(',').any(|a| presents(a, token))
}

/// Whether `authorization` is `Bearer <token>`, the token compared in constant time.
fn presents(authorization: &str, token: &str) -> bool {
    // The scheme's name is case-insensitive (RFC 9110 section 11.1): `bearer` is `Bearer`; a
    // tab after it is read as a space, as some servers read it.
    authorization
        .trim()
        .split_once([' ', '\t'])
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .is_some_and(|(_, credentials)| same_token(credentials.trim(), token))
}

/// Whether `presented` is `token`, in a time that tells neither where they differ nor the
/// token's length: their SHA-256 digests compared in constant time (`ctutils`, as the MACs are).
fn same_token(presented: &str, token: &str) -> bool {
    let (a, b) = (sha256(presented.as_bytes()), sha256(token.as_bytes()));
    bool::from(a.ct_eq(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef";

    #[test]
    fn prefix() {
        assert!(
            is_operator_path("/__edge")
                && is_operator_path("/__edge/")
                && is_operator_path("/__edge/health")
        );
        assert!(!is_operator_path("/__edgex") && !is_operator_path("/app/__edge/health"));
    }

    #[test]
    fn token_rules() {
        let ok = Some("Bearer 0123456789abcdef");
        for spelled in [
            ok,
            Some("bearer 0123456789abcdef"),
            Some(" BEARER  0123456789abcdef "),
        ] {
            assert_eq!(
                authorize(Some(TOKEN), "GET", "/__edge/health", spelled),
                Ok(Endpoint::Health),
                "{spelled:?}"
            );
        }
        assert_eq!(
            authorize(None, "GET", "/__edge/health", ok)
                .unwrap_err()
                .status,
            404
        );
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer0123456789abcdef"),
            Some("Bearer 0123456789abcdeF"),
            Some("Basic 0123456789abcdef"),
            Some("Bearer 0123456789abcdef0"),
            Some("Bearer 0123456789abcde"),
            Some("Bearer 0"),
        ] {
            assert_eq!(
                authorize(Some(TOKEN), "GET", "/__edge/health", bad)
                    .unwrap_err()
                    .status,
                401,
                "{bad:?}"
            );
        }
        assert_eq!(
            authorize(Some(TOKEN), "POST", "/__edge/health", ok)
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(
            authorize(Some(TOKEN), "POST", "/__edge/sessions/revoke", ok),
            Ok(Endpoint::RevokeSubject)
        );
        let wrong = authorize(Some(TOKEN), "GET", "/__edge/sessions/revoke", ok).unwrap_err();
        assert_eq!(wrong.status, 405);
        // A 405 names the methods the endpoint takes: POST here, GET and HEAD for health.
        let allow =
            |page: &Page| crate::gateway::headers::get(&page.headers, "allow").map(str::to_owned);
        assert_eq!(allow(&wrong).as_deref(), Some("POST"));
        let health = authorize(Some(TOKEN), "POST", "/__edge/health", ok).unwrap_err();
        assert_eq!(allow(&health).as_deref(), Some("GET, HEAD"));
        assert_eq!(
            authorize(Some(TOKEN), "GET", "/__edge/store/conformance", ok),
            Ok(Endpoint::StoreConformance)
        );
        // The conformance endpoint takes GET alone: its 405 must not offer HEAD.
        for method in ["HEAD", "POST"] {
            let p = authorize(Some(TOKEN), method, "/__edge/store/conformance", ok).unwrap_err();
            assert_eq!(
                (p.status, allow(&p).as_deref()),
                (405, Some("GET")),
                "{method}"
            );
        }
        assert_eq!(
            authorize(Some(TOKEN), "GET", "/__edge/nope", ok)
                .unwrap_err()
                .status,
            404
        );
    }

    #[test]
    fn health_names_the_bindings() {
        let report = json!({ "origins": [] });
        let p = health(report.clone(), true, Some((StoreKind::Durable, false)));
        let v: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!((p.status, &v["kvBinding"]), (200, &json!(true)));
        assert_eq!(v["store"], json!({ "kind": "durable", "binding": false }));
        assert_eq!(v["origins"], json!([]));
        let v: Value = serde_json::from_str(&health(report.clone(), false, None).body).unwrap();
        assert_eq!(
            (&v["kvBinding"], &v["store"]),
            (&json!(false), &json!({ "kind": "none" }))
        );
        let v: Value =
            serde_json::from_str(&health(report, true, Some((StoreKind::Kv, true))).body).unwrap();
        assert_eq!(v["store"], json!({ "kind": "kv", "binding": true }));
    }

    #[test]
    fn revocation_answers() {
        assert_eq!(no_store().status, 404);
        let p = revoked(Ok(3), 1000);
        let v: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(
            (p.status, v),
            (200, json!({ "revoked": 3, "minIssuedAt": 1001 }))
        );
        let e = Error::StoreUnavailable("down".into());
        let p = revoked(Err(&e), 1000);
        let v: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!((p.status, &v["code"]), (503, &json!(e.code())));
        assert_eq!(v["error"], json!(e.to_string()));
    }

    #[test]
    fn conformance_status_follows_the_checks() {
        use crate::store::conformance::{Check, Status};
        let check = |status| Check {
            name: "x",
            status,
            detail: String::new(),
        };
        let mut report = Report {
            consistency: "strong",
            checks: vec![check(Status::Pass), check(Status::Skip)],
        };
        assert_eq!(conformance(Some(&report)).status, 200);
        report.checks.push(check(Status::Fail));
        let p = conformance(Some(&report));
        assert_eq!(p.status, 500);
        assert!(p.body.contains("\"fail\""));
        assert_eq!(conformance(None).status, 404);
    }

    /// The longest body read holds the longest subject, every character escaped.
    #[test]
    fn the_longest_subject_fits_the_body_read() {
        let sub: String = "\\u0041".repeat(1024);
        let body = format!("{{ \"sub\" : \"{sub}\" }}");
        assert!(body.len() <= MAX_REVOKE_BODY_BYTES, "{}", body.len());
        assert_eq!(revoke_subject(Some(&body)).unwrap(), "A".repeat(1024));
        let p = revoke_body_too_large();
        let v: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(p.status, 413);
        assert!(v["error"].as_str().unwrap().contains("8192"), "{v}");
    }

    /// Every subject a session token can hold and the gateway checks can be revoked: a JWT
    /// issued elsewhere with a `sub` a login through the gateway never gives (not header
    /// text, a number) was refused here, and so could never be revoked.
    #[test]
    fn revoke_bodies() {
        for (body, sub) in [
            (r#"{"sub":"alice"}"#, "alice"),
            (r#"{"sub":"Jos\u00e9"}"#, "José"),
            (r#"{"sub":" alice "}"#, " alice "),
            (r#"{"sub":42}"#, "42"),
            (r#"{"sub":-7}"#, "-7"),
            (r#"{"sub":18446744073709551615}"#, "18446744073709551615"),
        ] {
            assert_eq!(revoke_subject(Some(body)).unwrap(), sub, "{body}");
        }
        for bad in [
            None,
            Some(""),
            Some("alice"),
            Some(r#"{"sub":""}"#),
            Some(r#"{"sub":4.5}"#),
            Some(r#"{"sub":null}"#),
            Some(r#"{"user":"alice"}"#),
            Some(r#"["alice"]"#),
        ] {
            assert_eq!(revoke_subject(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }
}
