//! Operator endpoints under the reserved prefix `/__edge/`, never forwarded to an origin.
//!
//! - `GET /__edge/health`: origin health as JSON (see [`HealthBook::report`](super::health::HealthBook::report)).
//! - `POST /__edge/sessions/revoke` with `{"sub":"alice"}`: ends every session of a user begun
//!   before now, stored sessions and session tokens (`STORE` on); answers
//!   `{"revoked": n, "minIssuedAt": now}`.
//! - `GET /__edge/store/conformance`: runs the store conformance suite against the configured
//!   store (`STORE_TESTS=1` only; for the end-to-end tests).
//!
//! All need `Authorization: Bearer <OPERATOR_TOKEN>`; without `OPERATOR_TOKEN` configured they
//! answer 404, as if they did not exist.

use super::pages::Page;

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
    let presented = authorization
        .and_then(|h| h.trim().strip_prefix("Bearer "))
        .map(str::trim);
    if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
        return Err(Page::unauthorized());
    }
    match path {
        "/__edge/health" if matches!(method, "GET" | "HEAD") => Ok(Endpoint::Health),
        "/__edge/health" => Err(Page::method_not_allowed()),
        "/__edge/sessions/revoke" if method == "POST" => Ok(Endpoint::RevokeSubject),
        "/__edge/sessions/revoke" => Err(Page::method_not_allowed()),
        "/__edge/store/conformance" if method == "GET" => Ok(Endpoint::StoreConformance),
        "/__edge/store/conformance" => Err(Page::method_not_allowed()),
        _ => Err(Page::not_found()),
    }
}

/// The subject of a `POST /__edge/sessions/revoke` body, `{"sub": "<subject>"}`, or the 400
/// page refusing it. The subject must be what a login could have given (header text, see
/// [`is_header_text`](super::session::is_header_text)).
pub fn revoke_subject(body: Option<&str>) -> Result<String, Page> {
    let sub = body
        .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .and_then(|v| v.get("sub")?.as_str().map(str::to_owned))
        .filter(|s| super::session::is_header_text(s));
    sub.ok_or_else(|| {
        Page::json(
            400,
            &serde_json::json!({ "error": "expected a JSON body {\"sub\": \"<subject>\"}" }),
        )
    })
}

/// Equality whose time depends on the length only, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
        assert_eq!(
            authorize(Some(TOKEN), "GET", "/__edge/health", ok),
            Ok(Endpoint::Health)
        );
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
            Some("Bearer 0123456789abcdeF"),
            Some("Basic 0123456789abcdef"),
            Some("Bearer 0123456789abcdef0"),
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
        assert_eq!(
            authorize(Some(TOKEN), "GET", "/__edge/sessions/revoke", ok)
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(
            authorize(Some(TOKEN), "GET", "/__edge/store/conformance", ok),
            Ok(Endpoint::StoreConformance)
        );
        assert_eq!(
            authorize(Some(TOKEN), "GET", "/__edge/nope", ok)
                .unwrap_err()
                .status,
            404
        );
    }

    #[test]
    fn revoke_bodies() {
        assert_eq!(revoke_subject(Some(r#"{"sub":"alice"}"#)).unwrap(), "alice");
        for bad in [
            None,
            Some(""),
            Some("alice"),
            Some(r#"{"sub":42}"#),
            Some(r#"{"sub":" alice "}"#),
            Some(r#"{"user":"alice"}"#),
            Some(r#"["alice"]"#),
        ] {
            assert_eq!(revoke_subject(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }
}
