//! The session cookie at the gateway: read and verified on the way in, turned into
//! `x-session-*` identity headers for the origin; issued, refreshed or cleared on the way out.

use serde_json::{Map, Value};

use super::headers::{ascii_json, MAX_ISSUE_BYTES};
use crate::codec::b64_encode;
use crate::cookie::{self, SetCookie, MAX_PRESENTED};
use crate::error::{Error, Result};
use crate::json;
use crate::time::UnixTime;
use crate::token::claims::{claim_members, Registered, VerifyOptions};
use crate::token::jwt::JwtSignOptions;
use crate::token::SealedTokens;
use crate::token::{SessionTokens, TokenConfig, Verified};

/// How the session cookie is encoded: the `SESSION_FORMAT` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionFormat {
    /// The compact signed token (the default, and the shortest).
    #[default]
    Compact,
    /// A sealed token: the claims are encrypted, so the browser cannot read them.
    Sealed,
    /// A JWT HS256, for sessions shared with systems that speak JWT. Not refreshed by the
    /// gateway: it lives until its `exp`.
    Jwt,
}

/// The session cookie's codec: one of the token kinds, chosen by [`SessionFormat`].
#[derive(Clone, Debug)]
pub enum SessionCodec {
    /// Compact signed tokens.
    Compact(SessionTokens),
    /// Sealed (encrypted) tokens.
    Sealed(SealedTokens),
    /// JWT HS256, with the `iss` and `aud` it is signed with and must carry.
    Jwt(SessionTokens, JwtBinding),
}

/// What binds the gateway's JWT sessions to it (`SESSION_JWT_ISSUER`, `SESSION_JWT_AUDIENCE`):
/// a JWT keyed with the raw secret (as HS256 interop needs) has no purpose binding, so any JWT
/// of the same keyring would otherwise be a session; with these set, only one that names this
/// issuer and audience is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwtBinding {
    /// The `iss` signed into every session JWT and required of each one presented.
    pub issuer: Option<String>,
    /// The `aud` signed into every session JWT and required of each one presented.
    pub audience: Option<String>,
}

impl SessionCodec {
    /// The codec of `format` over the token settings.
    pub fn new(format: SessionFormat, config: TokenConfig) -> Result<Self> {
        Ok(match format {
            SessionFormat::Compact => SessionCodec::Compact(SessionTokens::new(config)?),
            SessionFormat::Sealed => SessionCodec::Sealed(SealedTokens::new(config)?),
            SessionFormat::Jwt => {
                SessionCodec::Jwt(SessionTokens::new(config)?, JwtBinding::default())
            }
        })
    }

    /// The codecs of the two formats other than `format` over the same settings, and JWTs
    /// without an issuer or audience: what the other version signs while a change of
    /// `SESSION_FORMAT` (or of `SESSION_JWT_ISSUER` and `SESSION_JWT_AUDIENCE`) spreads (see
    /// [`of_another_format`]).
    pub fn others(format: SessionFormat, config: &TokenConfig) -> Result<Vec<Self>> {
        [
            SessionFormat::Compact,
            SessionFormat::Sealed,
            SessionFormat::Jwt,
        ]
        .into_iter()
        .filter(|f| *f != format || *f == SessionFormat::Jwt)
        .map(|f| SessionCodec::new(f, config.clone()))
        .collect()
    }

    /// The codec with JWT sessions bound to an issuer and audience (no change for the other
    /// formats).
    #[must_use]
    pub fn with_jwt_binding(self, binding: JwtBinding) -> Self {
        match self {
            SessionCodec::Jwt(t, _) => SessionCodec::Jwt(t, binding),
            other => other,
        }
    }

    /// Verifies (or opens) a cookie value; the claims come back as JSON text. A session past
    /// its longest life from its login (`SESSION_MAX_LIFETIME_SECONDS` and the leeway, from the
    /// earlier of `iat` and `auth_time`; from 0 for a token with neither, whose login cannot be
    /// told) is `expired`, whatever its `exp`: the gateway's own never get there (a refresh stops
    /// at that life), but a JWT another system signed with the keys may, and its subject's
    /// revocation record is kept only that long (it would verify again once the record is gone).
    fn verify(&self, value: &str, now: UnixTime) -> Result<Verified<String>> {
        let (verified, longest) = match self {
            SessionCodec::Compact(t) => (t.verify_json(value, now), t.longest_session()),
            SessionCodec::Sealed(t) => (t.verify_json(value, now), t.longest_session()),
            SessionCodec::Jwt(t, b) => {
                let mut options = VerifyOptions::at(now);
                options.issuer = b.issuer.as_deref();
                options.audience = b.audience.as_deref();
                (t.verify_jwt_json(value, &options), t.longest_session())
            }
        };
        let verified = verified?;
        let begun = Registered::parse(&verified.claims)
            .ok()
            .and_then(|r| r.issued_at(now))
            .unwrap_or(0);
        let end = begun.saturating_add(longest);
        if now >= end {
            return Err(Error::Expired {
                exp: end,
                claims: verified.claims,
            });
        }
        Ok(verified)
    }

    /// A replacement for a token just verified, and its lifetime, when a sliding refresh is
    /// due (never for JWTs).
    fn refresh(&self, verified: &Verified<String>, now: UnixTime) -> Option<(String, u64)> {
        match self {
            SessionCodec::Compact(t) => t.refresh_verified(verified, now).ok().flatten(),
            SessionCodec::Sealed(t) => t.refresh_verified(verified, now).ok().flatten(),
            SessionCodec::Jwt(..) => None,
        }
    }

    /// Signs (or seals) new claims with the configured lifetime.
    fn sign(&self, claims: &Map<String, Value>, now: UnixTime) -> Result<String> {
        self.sign_for(claims, now, None)
    }

    /// Signs (or seals) claims living `ttl` seconds (`None`: the configured lifetime).
    fn sign_for(
        &self,
        claims: &Map<String, Value>,
        now: UnixTime,
        ttl: Option<u64>,
    ) -> Result<String> {
        match (self, ttl) {
            (SessionCodec::Compact(t), None) => t.sign(claims, now),
            (SessionCodec::Compact(t), Some(ttl)) => t.sign_with_ttl(claims, now, ttl),
            (SessionCodec::Sealed(t), None) => t.sign(claims, now),
            (SessionCodec::Sealed(t), Some(ttl)) => t.sign_with_ttl(claims, now, ttl),
            (SessionCodec::Jwt(t, b), _) => {
                let mut options = JwtSignOptions::at(now);
                options.ttl_seconds = ttl;
                options.issuer = b.issuer.as_deref();
                options.audience = b.audience.as_deref();
                t.sign_jwt(claims, &options)
            }
        }
    }
}

/// Whether [`SessionCookie::read`] verified every session cookie called `name` in
/// `cookie_header`. Only then is a request without a valid one known to carry no valid session
/// cookie of the gateway's own, the one a removal reaches (host-only, `Path=/`): past the first
/// `MAX_PRESENTED` (4: cookies a sibling subdomain tossed, with longer paths, which browsers send
/// first), that one may be valid, and clearing it would log the user out.
pub fn all_read(cookie_header: Option<&str>, name: &str) -> bool {
    cookie_header.is_none_or(|h| cookie::get_all_tokens(h, name).nth(MAX_PRESENTED).is_none())
}

/// Whether one of the session cookies called `name` in `cookie_header` that
/// [`SessionCookie::read`] reads is a live token of this keyring in another format (`others`,
/// from [`SessionCodec::others`]): while a change of `SESSION_FORMAT` spreads, one the other
/// version signed. It is no session here, but clearing it would log the user out at the first
/// request that reaches this version.
pub fn of_another_format(
    others: &[SessionCodec],
    cookie_header: Option<&str>,
    name: &str,
    now: UnixTime,
) -> bool {
    presented(cookie_header, name).any(|value| others.iter().any(|c| c.verify(value, now).is_ok()))
}

/// The first of the session cookies called `name` in `cookie_header` that [`SessionCookie::read`]
/// reads whose token `tokens` verify.
pub fn valid_token<'a>(
    tokens: &SessionCodec,
    cookie_header: Option<&'a str>,
    name: &'a str,
    now: UnixTime,
) -> Option<&'a str> {
    presented(cookie_header, name).find(|value| tokens.verify(value, now).is_ok())
}

/// The session cookies called `name` in `cookie_header` that the gateway reads: the first
/// `MAX_PRESENTED` (see [`all_read`]).
fn presented<'a>(cookie_header: Option<&'a str>, name: &'a str) -> impl Iterator<Item = &'a str> {
    cookie::get_all_tokens(cookie_header.unwrap_or_default(), name).take(MAX_PRESENTED)
}

/// What the request's session cookie turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionCookie {
    /// No session cookie.
    None,
    /// A valid token.
    Valid {
        /// The verified claims as JSON text, `iat` and `exp` included.
        claims: String,
        /// `sub`: its text when it is a string, else its JSON text (`42`).
        sub: Option<String>,
        /// `sid`, the session id the gateway put in at login, when it is a string.
        sid: Option<String>,
        /// `cnf.jkt`: the thumbprint of the device key the session is bound to (DBSC), when
        /// the browser registered one.
        jkt: Option<String>,
        /// When the session began, for revocation: the earlier of `iat` and `auth_time` (a
        /// refreshed token keeps its login's `auth_time`; a token with neither is no session,
        /// see `SessionCodec::verify`).
        issued_at: UnixTime,
        /// A replacement token and its lifetime, when a refresh is due and the session is
        /// `alone`.
        refreshed: Option<(String, u64)>,
        /// Whether it was the only token of these keys (valid or expired) among the cookies of
        /// its name the request carried, all of them read (none past the first
        /// `MAX_PRESENTED`, where the visitor's own may lie). Only then is it written back (refreshed, bound to a
        /// device): a `Set-Cookie` reaches the gateway's own cookie (host-only, `Path=/`), and
        /// another of the name sent first may be a cookie a sibling subdomain tossed (with a
        /// longer path, or nameless in a browser that sends it as `name=value`): its session,
        /// the attacker's own, would become the visitor's everywhere and for good.
        alone: bool,
    },
    /// An authentic token past its lifetime.
    Expired,
    /// Anything else (forged, altered, malformed, too large, unknown key...): the error code.
    Invalid(&'static str),
}

impl SessionCookie {
    /// Reads the session from a `Cookie` header.
    pub fn read(
        tokens: &SessionCodec,
        cookie_header: Option<&str>,
        name: &str,
        now: UnixTime,
    ) -> Self {
        let mut result = SessionCookie::None;
        // Only a token of these keys (valid or expired) can be read in place of the visitor's:
        // other cookies of the name (junk, another app's on a parent domain) leave it alone.
        let authentic = |value: &str| {
            matches!(
                tokens.verify(value, now),
                Ok(_) | Err(Error::Expired { .. })
            )
        };
        for (i, value) in presented(cookie_header, name).enumerate() {
            match tokens.verify(value, now) {
                Ok(v) => {
                    // Every cookie of the name read (none past the first MAX_PRESENTED, where
                    // the visitor's own may lie behind copies and junk), and no other token.
                    let alone = result != SessionCookie::Expired
                        && all_read(cookie_header, name)
                        && !presented(cookie_header, name)
                            .skip(i + 1)
                            .any(|other| other != value && authentic(other));
                    // One read of the verified claims for everything the gateway needs.
                    let (sub, sid, jkt, issued_at) = {
                        let members = claim_members(&v.claims).unwrap_or_default();
                        let text = |k| {
                            json::get(&members, k)
                                .and_then(json::string)
                                .map(String::from)
                        };
                        // A `sub` that is not a string (a token from another system with a
                        // numeric user id) is its JSON text, `42`, for revocation as for the
                        // origin: never no subject, which would skip revocation silently.
                        let sub = json::get(&members, "sub")
                            .map(|v| json::string(v).map_or_else(|| v.to_owned(), String::from));
                        let registered = Registered::from_members(&members).ok();
                        let issued_at = registered.and_then(|r| r.issued_at(now)).unwrap_or(0);
                        let jkt = json::get(&members, "cnf")
                            .and_then(|cnf| json::get(&json::members(cnf).ok()?, "jkt"))
                            .and_then(json::string)
                            .map(String::from);
                        (sub, text("sid"), jkt, issued_at)
                    };
                    return SessionCookie::Valid {
                        sub,
                        sid,
                        jkt,
                        issued_at,
                        refreshed: alone.then(|| tokens.refresh(&v, now)).flatten(),
                        alone,
                        claims: v.claims,
                    };
                }
                Err(Error::Expired { .. }) => result = SessionCookie::Expired,
                // The first error, but a key this version does not know before any other (it
                // keeps the cookie, see `Gateway::start`).
                Err(e)
                    if result == SessionCookie::None
                        || (matches!(e, Error::UnknownKey(_))
                            && matches!(result, SessionCookie::Invalid(_))) =>
                {
                    result = SessionCookie::Invalid(e.code())
                }
                Err(_) => {}
            }
        }
        result
    }

    /// The header that always tells the origin the session's status.
    pub const STATUS_HEADER: &'static str = "x-session-status";

    /// With a valid session: its subject (`sub`), when it is header-safe text.
    pub const SUB_HEADER: &'static str = "x-session-sub";

    /// With a valid session: its session id (`sid`), when it is header-safe text.
    pub const ID_HEADER: &'static str = "x-session-id";

    /// With a valid session: its claims (JSON, non-ASCII escaped).
    pub const CLAIMS_HEADER: &'static str = "x-session-claims";

    /// Every header [`SessionCookie::identity_headers`] can send.
    pub const IDENTITY_HEADERS: [&'static str; 4] = [
        SessionCookie::STATUS_HEADER,
        SessionCookie::SUB_HEADER,
        SessionCookie::ID_HEADER,
        SessionCookie::CLAIMS_HEADER,
    ];

    /// `none`, `valid`, `expired` or `invalid`: the value of `x-session-status` (the gateway
    /// makes it `revoked` after a revocation check, see `Gateway::revoke_session`).
    pub fn status(&self) -> &'static str {
        match self {
            SessionCookie::None => "none",
            SessionCookie::Valid { .. } => "valid",
            SessionCookie::Expired => "expired",
            SessionCookie::Invalid(_) => "invalid",
        }
    }

    /// Why a session cookie was refused (`SessionCookie::Invalid`): the error code, as
    /// `unknown_key` (a key removed too early, or one a newer deployment signs with),
    /// `bad_signature`, `not_yet_valid` (an issuer's clock ahead), `malformed`, or another code
    /// of verification but `expired` (docs/gateway.md lists them). No identity:
    /// it tells the origin's logs why a visitor was logged out.
    pub const INVALID_HEADER: &'static str = "x-session-invalid";

    /// The identity headers for the origin: `x-session-status` always (with an invalid
    /// session, `x-session-invalid` too: [`SessionCookie::INVALID_HEADER`]); with a valid session
    /// `x-session-claims` (JSON, non-ASCII escaped), and `x-session-sub` and `x-session-id` when
    /// they are header-safe text (see [`is_header_text`]): an HTTP stack would trim outer spaces
    /// and the origin would read another subject than the one signed.
    pub fn identity_headers(&self) -> Vec<(String, String)> {
        let mut out = vec![(
            SessionCookie::STATUS_HEADER.to_owned(),
            self.status().to_owned(),
        )];
        if let SessionCookie::Invalid(code) = self {
            out.push((SessionCookie::INVALID_HEADER.into(), (*code).into()));
        }
        if let SessionCookie::Valid {
            claims, sub, sid, ..
        } = self
        {
            if let Some(sub) = sub.as_ref().filter(|s| is_header_text(s)) {
                out.push((SessionCookie::SUB_HEADER.into(), sub.clone()));
            }
            if let Some(sid) = sid.as_ref().filter(|s| is_header_text(s)) {
                out.push((SessionCookie::ID_HEADER.into(), sid.clone()));
            }
            out.push((SessionCookie::CLAIMS_HEADER.into(), ascii_json(claims)));
        }
        out
    }
}

/// Why an origin's `x-session-issue` could not become a session.
#[derive(Clone, Debug, PartialEq)]
pub struct IssueError(pub String);

/// Text a header carries as it is: 1 to 1024 visible ASCII characters, inner spaces allowed,
/// none at either end (HTTP stacks trim them).
pub fn is_header_text(s: &str) -> bool {
    (1..=1024).contains(&s.len())
        && s.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && !s.starts_with(' ')
        && !s.ends_with(' ')
}

/// Why an `x-session-issue` that is not one JSON object is refused, with the likely cause.
const NOT_ONE_OBJECT: &str =
    "not one JSON object (a header sent twice arrives as both values joined by \", \")";

/// The claims of an origin's `x-session-issue`, checked: ASCII JSON text (other characters
/// escaped, `\u00e9`) of one object (no member twice:
/// readers that keep the first and those that keep the last would disagree), with a `sub`, if
/// any, that is header text ([`is_header_text`]: what the origin gets back in `x-session-sub` and
/// names in `x-session-revoke`, so that revocation never misses) without a comma (the runtime
/// joins a header sent twice with `, `: see [`Plan::from_directives`]), no `nbf` (a session
/// starts at its login) and no `cnf` (the device binding of DBSC: only the gateway binds a
/// session to a key, when the browser proves it holds it).
///
/// [`Plan::from_directives`]: super::store::Plan::from_directives
pub fn issue_claims(header: &str) -> Result<(Map<String, Value>, Option<String>), IssueError> {
    if header.len() > MAX_ISSUE_BYTES {
        return Err(IssueError(format!(
            "x-session-issue is over {MAX_ISSUE_BYTES} bytes"
        )));
    }
    let refuse = |why: &str| Err(IssueError(format!("x-session-issue: {why}")));
    // As x-session-data: the claims reach the origin again escaped (`x-session-claims`, the
    // assertion), where raw UTF-8 grows up to threefold (`é` is `\u00e9`), past what the login
    // was checked against: a session whose every later request, its logout too, an origin
    // refuses for its headers' size.
    if !header.is_ascii() {
        return refuse("must be ASCII: escape other characters as \\u and four hex digits");
    }
    match json::members(header) {
        Ok(members) if json::get(&members, "nbf").is_some() => {
            return refuse("nbf is not accepted (a session starts at login)")
        }
        Ok(members) if json::get(&members, "cnf").is_some() => {
            return refuse("cnf is not accepted (the gateway binds a session to a device key)")
        }
        Ok(_) => {}
        Err(json::ObjectError::Duplicate) => return refuse("a member name appears twice"),
        Err(json::ObjectError::NotObject) => return refuse(NOT_ONE_OBJECT),
        Err(json::ObjectError::LoneSurrogate) => return refuse("a string holds a lone surrogate"),
        Err(json::ObjectError::TooDeep) => return refuse("nested more than 127 levels deep"),
    }
    let Ok(claims) = serde_json::from_str::<Map<String, Value>>(header) else {
        return refuse(NOT_ONE_OBJECT);
    };
    // The number is not quoted: the reason goes to the visitor's 502 page and the log.
    if super::headers::inexact_integer(header).is_some() {
        return refuse(
            "an integer would be signed as another number (beyond 64 bits, or -0): send it as a string",
        );
    }
    let sub = match claims.get("sub") {
        None => None,
        // `x-session-revoke` names one subject, and the runtime joins the values of a header
        // sent twice with `, `: `Doe, John` could not be told from `Doe` and `John`.
        Some(Value::String(sub)) if sub.contains(',') => {
            return refuse("sub must hold no comma (x-session-revoke names one subject, and a header sent twice arrives joined with \", \")")
        }
        Some(Value::String(sub)) if is_header_text(sub) => Some(sub.clone()),
        Some(Value::String(_)) => {
            return refuse(
                "sub must be 1 to 1024 visible ASCII characters, with no space at either end",
            )
        }
        Some(_) => return refuse("sub must be a string (send a numeric user id as \"42\")"),
    };
    Ok((claims, sub))
}

/// Signs the claims of an origin's `x-session-issue` (checked by [`issue_claims`]) into a new
/// session token, with a fresh session id `sid` (any `sid` the origin sent is replaced: a login
/// always starts a new session).
pub fn issue(
    tokens: &SessionCodec,
    header: &str,
    sid: &[u8; 16],
    now: UnixTime,
) -> Result<String, IssueError> {
    let (claims, _) = issue_claims(header)?;
    sign_issued(tokens, &claims, sid, now)
}

/// [`issue`] for claims [`issue_claims`] already checked: the gateway reads an origin's
/// `x-session-issue` once per answer.
pub fn sign_issued(
    tokens: &SessionCodec,
    claims: &Map<String, Value>,
    sid: &[u8; 16],
    now: UnixTime,
) -> Result<String, IssueError> {
    let mut claims = claims.clone();
    claims.insert("sid".into(), Value::String(b64_encode(sid)));
    claims.remove("auth_time");
    tokens.sign(&claims, now).map_err(unsigned)
}

/// Why a login's claims could not be signed, quoting no size of them (the reason reaches the
/// visitor's 502 page and the log).
fn unsigned(e: Error) -> IssueError {
    IssueError(match e {
        Error::TooLarge { max, .. } => {
            format!("x-session-issue could not be signed: the token would be over {max} bytes")
        }
        e => format!("x-session-issue could not be signed: {e}"),
    })
}

/// [`sign_issued`] for a re-issue of a device-bound session (DBSC): the claims of an origin's
/// `x-session-issue` for the subject of a request that came with its fresh bound cookie. The
/// session `binding` (its session id, key thumbprint and login time) is kept: the same `sid`,
/// `cnf: {"jkt": ...}` and `auth_time` (so neither its longest life nor revocation moves), so
/// that the browser goes on refreshing it and a copy of the cookie jar is as useless as before.
/// It lives the configured lifetime, but not past the login time plus the longest lifetime
/// (at least a second). Returns the token and its lifetime, seconds (the cookie's `Max-Age`).
pub fn sign_rebound(
    tokens: &SessionCodec,
    claims: &Map<String, Value>,
    binding: (&str, &str, UnixTime),
    config: &crate::TokenConfig,
    now: UnixTime,
) -> Result<(String, u64), IssueError> {
    let (sid, jkt, issued_at) = binding;
    let mut claims = claims.clone();
    claims.insert("sid".into(), Value::String(sid.to_owned()));
    bind(&mut claims, jkt, issued_at);
    let end = issued_at.saturating_add(config.max_lifetime());
    let ttl = config.ttl_seconds.min(end.saturating_sub(now)).max(1);
    let token = tokens.sign_for(&claims, now, Some(ttl)).map_err(unsigned)?;
    Ok((token, ttl))
}

/// The session token of a valid session (its verified `claims`, begun at `issued_at`) bound to
/// a device key (DBSC registration): the same claims with `cnf: {"jkt": <thumbprint>}` (RFC
/// 7800) and `auth_time` (the login's time, so that neither the session's longest life nor
/// revocation moves), expiring when the token it replaces expires (its `exp` rounded up to a
/// whole second, as verify reads it; at the latest `longest` seconds, the sessions' longest
/// life, after its login, which a JWT of another system may outlast). Returns the token and its
/// remaining lifetime, seconds (the cookie's `Max-Age`).
pub fn bind_device(
    tokens: &SessionCodec,
    claims: &str,
    jkt: &str,
    (issued_at, longest): (UnixTime, u64),
    now: UnixTime,
) -> Result<(String, u64)> {
    // `exp` as verify read it, rounded up: a JWT of another system may write it as any JSON
    // number (`1800003600.0`, `1.8e9`), which `Value::as_u64` took for no `exp` (a bound
    // session of one second). The lifetime is at most what the tokens sign.
    let exp = Registered::parse(claims)?.exp.unwrap_or(now);
    let end = exp.min(issued_at.saturating_add(longest));
    let ttl = end.saturating_sub(now).clamp(1, longest.max(1));
    let mut claims: Map<String, Value> =
        serde_json::from_str(claims).map_err(|_| Error::Malformed("claims"))?;
    bind(&mut claims, jkt, issued_at);
    for name in ["iat", "exp", "nbf"] {
        claims.remove(name);
    }
    Ok((tokens.sign_for(&claims, now, Some(ttl))?, ttl))
}

/// What makes a session's claims device-bound: `cnf: {"jkt": <thumbprint>}` (RFC 7800) and
/// `auth_time`, the login's time (so that neither the session's longest life nor revocation
/// moves when the token is signed again).
fn bind(claims: &mut Map<String, Value>, jkt: &str, issued_at: UnixTime) {
    claims.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
    claims.insert("auth_time".into(), Value::from(issued_at));
}

/// The longest cookie browsers keep, its name and value together (RFC 6265bis section 5.7): a
/// longer one is dropped without a word.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// What a session's token may grow by after its login, in base64url characters: `auth_time`,
/// added at its first refresh, and with DBSC `cnf` and a key thumbprint, added at registration
/// (84 bytes of JSON, 112 characters).
pub const LATER_CLAIMS_BYTES: usize = 128;

/// Whether the session cookie `name` carrying `token`, just signed at a login, is one browsers
/// keep, with room for what the gateway adds to the session later (see [`LATER_CLAIMS_BYTES`]):
/// otherwise the login, or the session's first refresh, would fail silently in the browser.
pub fn fits_a_cookie(name: &str, token: &str) -> bool {
    name.len() + token.len() + LATER_CLAIMS_BYTES <= MAX_COOKIE_BYTES
}

/// The `Set-Cookie` value carrying `token`, with `Max-Age` `max_age`: the token's lifetime.
pub fn set_cookie(spec: &SetCookie, token: &str, max_age: u64) -> Option<String> {
    spec.header(token, Some(max_age)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyConfig, TokenConfig};

    fn codec(format: SessionFormat, id: &str, secret: &str) -> SessionCodec {
        let config = TokenConfig::new(vec![KeyConfig {
            id: id.into(),
            secret: secret.into(),
        }]);
        SessionCodec::new(format, config).unwrap()
    }

    fn tokens(id: &str, secret: &str) -> SessionCodec {
        codec(SessionFormat::Compact, id, secret)
    }

    /// Browsers keep a cookie of up to 4096 bytes of name and value (RFC 6265bis, without the
    /// `=`): a login leaves [`LATER_CLAIMS_BYTES`] of them for what a refresh or a binding adds.
    #[test]
    fn a_login_cookie_fits_to_the_byte() {
        let name = "__Host-session";
        let room = MAX_COOKIE_BYTES - LATER_CLAIMS_BYTES - name.len();
        assert!(fits_a_cookie(name, &"a".repeat(room)));
        assert!(!fits_a_cookie(name, &"a".repeat(room + 1)));
    }

    #[test]
    fn every_format_round_trips_and_refuses_the_others() {
        use SessionFormat::*;
        for format in [Compact, Sealed, Jwt] {
            let c = codec(format, "k1", SECRET);
            let token = issue(&c, r#"{"sub":"alice"}"#, &[7; 16], NOW).unwrap();
            let header = format!("__Host-session={token}");
            let s = SessionCookie::read(&c, Some(&header), "__Host-session", NOW + 10);
            assert_eq!(s.status(), "valid", "{format:?}");
            let SessionCookie::Valid { sub, claims, .. } = &s else {
                unreachable!()
            };
            assert_eq!(sub.as_deref(), Some("alice"));
            if format == Sealed {
                assert!(!token.contains("alice") && !b64_decoded_contains(&token, b"alice"));
            }
            assert!(claims.contains("\"sub\":\"alice\""));
            assert_eq!(
                SessionCookie::read(&c, Some(&header), "__Host-session", NOW + 100_000).status(),
                "expired",
                "{format:?}"
            );
            for other in [Compact, Sealed, Jwt].into_iter().filter(|&f| f != format) {
                let s = SessionCookie::read(
                    &codec(other, "k1", SECRET),
                    Some(&header),
                    "__Host-session",
                    NOW,
                );
                assert_eq!(s.status(), "invalid", "{format:?} read as {other:?}");
            }
        }
        // Sealed and compact tokens slide; JWTs live until their exp.
        for (format, slides) in [(Compact, true), (Sealed, true), (Jwt, false)] {
            let c = codec(format, "k1", SECRET);
            let token = issue(&c, r#"{"sub":"alice"}"#, &[7; 16], NOW).unwrap();
            let header = format!("s={token}");
            let s = SessionCookie::read(&c, Some(&header), "s", NOW + 2000);
            assert_eq!(
                matches!(
                    s,
                    SessionCookie::Valid {
                        refreshed: Some(_),
                        ..
                    }
                ),
                slides,
                "{format:?}"
            );
        }
    }

    /// JWTs are keyed with the raw secret: without a binding, a JWT of the same keyring made
    /// for something else is a session. With an issuer and audience, only the gateway's are.
    #[test]
    fn jwt_sessions_bound_to_an_issuer_and_audience() {
        let binding = JwtBinding {
            issuer: Some("https://app.example".into()),
            audience: Some("edge-session".into()),
        };
        let bound = codec(SessionFormat::Jwt, "k1", SECRET).with_jwt_binding(binding);
        let SessionCodec::Jwt(plain, _) = codec(SessionFormat::Jwt, "k1", SECRET) else {
            unreachable!()
        };
        let read = |token: &str| {
            SessionCookie::read(&bound, Some(&format!("s={token}")), "s", NOW + 1).status()
        };
        // A csrf JWT of the same keyring, and one for another audience: not sessions.
        let csrf = plain
            .sign_jwt(
                &serde_json::json!({"sub": "alice", "purpose": "csrf"}),
                &JwtSignOptions::at(NOW),
            )
            .unwrap();
        assert_eq!(read(&csrf), "invalid");
        let mut other = JwtSignOptions::at(NOW);
        other.issuer = Some("https://app.example");
        other.audience = Some("billing");
        let billing = plain
            .sign_jwt(&serde_json::json!({"sub": "alice"}), &other)
            .unwrap();
        assert_eq!(read(&billing), "invalid");
        // The gateway's audience from another issuer: not a session either.
        other.issuer = Some("https://other.example");
        other.audience = Some("edge-session");
        let foreign = plain
            .sign_jwt(&serde_json::json!({"sub": "alice"}), &other)
            .unwrap();
        assert_eq!(read(&foreign), "invalid");
        // The gateway's own logins carry both and verify.
        let token = issue(&bound, r#"{"sub":"alice"}"#, &[1; 16], NOW).unwrap();
        assert_eq!(read(&token), "valid");
        assert_eq!(
            SessionCookie::read(
                &codec(SessionFormat::Jwt, "k1", SECRET),
                Some(&format!("s={csrf}")),
                "s",
                NOW + 1
            )
            .status(),
            "valid",
            "unbound, any JWT of the keyring is a session: what the binding is for"
        );
    }

    fn b64_decoded_contains(token: &str, needle: &[u8]) -> bool {
        crate::codec::b64_decode(token)
            .map(|b| b.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
    }
    const SECRET: &str = "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620";
    const NOW: u64 = 1_800_000_000;
    /// The tokens' longest life by default (`maxLifetimeSeconds`).
    const WEEK: u64 = 7 * 24 * 3600;

    #[test]
    fn login_then_read_back() {
        let t = tokens("k1", SECRET);
        let token = issue(
            &t,
            r#"{"sub":"alice","role":"admin","sid":"attacker"}"#,
            &[7; 16],
            NOW,
        )
        .unwrap();
        let header = format!("other=1; __Host-session={token}");
        let s = SessionCookie::read(&t, Some(&header), "__Host-session", NOW + 10);
        let SessionCookie::Valid {
            sub,
            sid,
            jkt,
            issued_at,
            refreshed,
            alone,
            claims,
        } = &s
        else {
            panic!("{s:?}")
        };
        assert!(alone);
        assert_eq!(sub.as_deref(), Some("alice"));
        assert_eq!(sid.as_deref(), Some(b64_encode(&[7; 16]).as_str()));
        assert_eq!(*refreshed, None);
        assert_eq!(*jkt, None);
        assert_eq!(*issued_at, NOW);
        assert!(claims.contains("\"role\":\"admin\""));
        let h = s.identity_headers();
        assert_eq!(h[0], ("x-session-status".into(), "valid".into()));
        assert_eq!(h[1], ("x-session-sub".into(), "alice".into()));
        assert_eq!(h[2].0, "x-session-id");
        // Past half its life: a refreshed token comes along.
        let s = SessionCookie::read(&t, Some(&header), "__Host-session", NOW + 2000);
        assert!(matches!(
            s,
            SessionCookie::Valid {
                refreshed: Some(_),
                ..
            }
        ));
    }

    /// A login starts at its own time: an origin's `auth_time` is dropped, so that it can move
    /// neither the session's longest life (refreshes end at `auth_time` + the maximum) nor the
    /// time revocation compares (the earlier of `iat` and `auth_time`).
    #[test]
    fn an_origins_auth_time_is_not_signed() {
        let t = tokens("k1", SECRET);
        for auth_time in [1, NOW + 1_000_000] {
            let issued = format!(r#"{{"sub":"alice","auth_time":{auth_time}}}"#);
            let token = issue(&t, &issued, &[7; 16], NOW).unwrap();
            let header = format!("__Host-session={token}");
            let s = SessionCookie::read(&t, Some(&header), "__Host-session", NOW + 10);
            let SessionCookie::Valid {
                issued_at, claims, ..
            } = &s
            else {
                panic!("{s:?}")
            };
            assert_eq!(*issued_at, NOW, "{auth_time}");
            assert!(!claims.contains("auth_time"), "{claims}");
        }
    }

    /// A token from another system (same keys) with a numeric `sub` keeps a subject, its JSON
    /// text, so that `x-session-revoke: 42` reaches it; outer spaces never reach the origin.
    #[test]
    fn subjects_that_are_not_plain_text() {
        let t = tokens("k1", SECRET);
        let SessionCodec::Compact(inner) = &t else {
            unreachable!()
        };
        // Header text is 1 to 1024 characters (docs/gateway.md, `x-session-sub`): one more,
        // the session is valid but its subject is not forwarded.
        let longest = "a".repeat(1024);
        let too_long = "a".repeat(1025);
        for (claims, subject, forwarded) in [
            (serde_json::json!({"sub": 42}), "42", Some("42")),
            (serde_json::json!({"sub": " alice "}), " alice ", None),
            (
                serde_json::json!({ "sub": longest }),
                longest.as_str(),
                Some(longest.as_str()),
            ),
            (
                serde_json::json!({ "sub": too_long }),
                too_long.as_str(),
                None,
            ),
        ] {
            let token = inner.sign(&claims, NOW).unwrap();
            let s = SessionCookie::read(&t, Some(&format!("s={token}")), "s", NOW);
            let SessionCookie::Valid { sub, .. } = &s else {
                panic!("{s:?}")
            };
            assert_eq!(sub.as_deref(), Some(subject));
            let h = s.identity_headers();
            assert_eq!(
                h.iter()
                    .find(|(n, _)| n == "x-session-sub")
                    .map(|(_, v)| v.as_str()),
                forwarded
            );
        }
    }

    /// A token without any issue time (a JWT from another system with the same keys, no `iat`,
    /// no `auth_time`) cannot show it began after a revocation, nor within its longest life: its
    /// session began at 0, and it is no session at all (`expired`), whatever its `exp`. So is one
    /// whose only issue time is an `auth_time` far ahead (milliseconds taken for seconds), which
    /// would have begun after every revocation. One that began within its longest life
    /// (`SESSION_MAX_LIFETIME_SECONDS` and the leeway) is a session until that life ends, though
    /// its `exp` is later: its subject's revocation record is kept only that long.
    #[test]
    fn a_session_lives_no_longer_than_its_longest_life_from_its_login() {
        let c = codec(SessionFormat::Jwt, "k1", SECRET);
        let secret = crate::keys::Secret::from_base64(SECRET).unwrap();
        let jwt = |claims: &str| {
            let input = format!(
                "{}.{}",
                b64_encode(br#"{"alg":"HS256"}"#),
                b64_encode(claims.as_bytes())
            );
            let tag = crate::keys::MacKey::new(secret.expose()).full_tag(input.as_bytes());
            format!("{input}.{}", b64_encode(&tag))
        };
        let read =
            |token: &str, now| SessionCookie::read(&c, Some(&format!("s={token}")), "s", now);
        let year = NOW + 365 * 86_400;
        for begun in [
            String::new(),
            format!(r#","auth_time":{}"#, NOW * 1000),
            r#","auth_time":1e300"#.into(),
        ] {
            let token = jwt(&format!(r#"{{"sub":"alice","exp":{year}{begun}}}"#));
            assert_eq!(read(&token, NOW).status(), "expired", "{begun}");
        }
        const LONGEST: u64 = 7 * 86_400 + 30;
        for begun in [
            format!(r#","iat":{NOW}"#),
            format!(r#","auth_time":{NOW}"#),
            format!(r#","iat":{},"auth_time":{NOW}"#, NOW + 3600),
        ] {
            let token = jwt(&format!(r#"{{"sub":"alice","exp":{year}{begun}}}"#));
            let s = read(&token, NOW + 3600);
            let SessionCookie::Valid { issued_at, .. } = &s else {
                panic!("{begun}: {s:?}")
            };
            assert_eq!(*issued_at, NOW, "{begun}");
            assert_eq!(read(&token, NOW + LONGEST - 1).status(), "valid", "{begun}");
            assert_eq!(read(&token, NOW + LONGEST).status(), "expired", "{begun}");
        }
        // Nor is such a token a live one of another format (which would keep it uncleared).
        assert!(!of_another_format(
            std::slice::from_ref(&c),
            Some(&format!("s={}", jwt(&format!(r#"{{"exp":{year}}}"#)))),
            "s",
            NOW
        ));
    }

    /// `cnf.jkt` (the DBSC binding the gateway signs in at registration) is read with the
    /// rest; anything else in `cnf` is no binding.
    #[test]
    fn the_device_binding_is_read() {
        let t = tokens("k1", SECRET);
        let SessionCodec::Compact(inner) = &t else {
            unreachable!()
        };
        for (claims, jkt) in [
            (
                serde_json::json!({"sid": "s", "cnf": {"jkt": "abc"}}),
                Some("abc"),
            ),
            (serde_json::json!({"sid": "s", "cnf": {"jwk": {}}}), None),
            (serde_json::json!({"sid": "s", "cnf": "abc"}), None),
            (serde_json::json!({"sid": "s"}), None),
        ] {
            let token = inner.sign(&claims, NOW).unwrap();
            let s = SessionCookie::read(&t, Some(&format!("s={token}")), "s", NOW);
            let SessionCookie::Valid { jkt: read, .. } = &s else {
                panic!("{s:?}")
            };
            assert_eq!(read.as_deref(), jkt, "{claims}");
        }
    }

    /// Registration binds a session where it stands: same claims and session id, the same
    /// end, the login's time kept; every format carries the binding.
    #[test]
    fn binding_a_device_keeps_the_session() {
        use SessionFormat::*;
        for format in [Compact, Sealed, Jwt] {
            let c = codec(format, "k1", SECRET);
            let token = issue(&c, r#"{"sub":"alice","role":"x"}"#, &[7; 16], NOW).unwrap();
            let header = format!("s={token}");
            let SessionCookie::Valid {
                claims,
                issued_at,
                sid,
                ..
            } = SessionCookie::read(&c, Some(&header), "s", NOW + 100)
            else {
                panic!("{format:?}")
            };
            let (bound, ttl) =
                bind_device(&c, &claims, "jkt-1", (issued_at, WEEK), NOW + 100).unwrap();
            assert_eq!(ttl, 3600 - 100, "{format:?}");
            // A longest life of 0 (no caller passes one) is a second, not a panic of `clamp`.
            let shortest = bind_device(&c, &claims, "jkt-1", (issued_at, 0), NOW + 100);
            assert_eq!(shortest.unwrap().1, 1, "{format:?}");
            let s = SessionCookie::read(&c, Some(&format!("s={bound}")), "s", NOW + 100);
            let SessionCookie::Valid {
                claims: after,
                jkt,
                sid: sid_after,
                issued_at: began,
                sub,
                ..
            } = &s
            else {
                panic!("{format:?}: {s:?}")
            };
            assert_eq!(jkt.as_deref(), Some("jkt-1"), "{format:?}");
            assert_eq!(
                (sid_after, *began, sub.as_deref()),
                (&sid, NOW, Some("alice"))
            );
            assert!(after.contains(r#""role":"x""#));
            assert_eq!(
                SessionCookie::read(&c, Some(&format!("s={bound}")), "s", NOW + 3600 + 31).status(),
                "expired",
                "{format:?}: the bound token ends when the one it replaced would have"
            );
        }
    }

    /// A JWT session from another system with the same keys may write `exp` as a fraction or
    /// with an exponent (RFC 7519's NumericDate is any JSON number): bound to a device, it still
    /// ends when the token it replaces would have (that `exp` rounded up, as its verify reads
    /// it), not a second after the registration; an `exp` too far ahead for a lifetime the
    /// tokens can sign is cut to the longest one, not a failed registration.
    #[test]
    fn binding_a_device_keeps_the_end_of_a_jwt_with_any_numeric_exp() {
        let c = codec(SessionFormat::Jwt, "k1", SECRET);
        let secret = crate::keys::Secret::from_base64(SECRET).unwrap();
        let jwt = |payload: &str| {
            let input = format!(
                "{}.{}",
                b64_encode(br#"{"alg":"HS256"}"#),
                b64_encode(payload.as_bytes())
            );
            let tag = crate::keys::MacKey::new(secret.expose()).full_tag(input.as_bytes());
            format!("{input}.{}", b64_encode(&tag))
        };
        for (exp, ttl) in [
            (format!("{}", NOW + 3600), 3500),
            (format!("{}.0", NOW + 3600), 3500),
            (format!("{}.25", NOW + 3599), 3500),
            ("1.8000036e9".to_owned(), 3500),
            (format!("{}", crate::time::MAX_TIME), WEEK - 100),
            ("1e300".to_owned(), WEEK - 100),
        ] {
            let token = jwt(&format!(
                r#"{{"sub":"alice","sid":"s1","iat":{NOW},"exp":{exp}}}"#
            ));
            let s = SessionCookie::read(&c, Some(&format!("s={token}")), "s", NOW + 100);
            let SessionCookie::Valid {
                claims, issued_at, ..
            } = &s
            else {
                panic!("{exp}: {s:?}")
            };
            let bound = bind_device(&c, claims, "jkt-1", (*issued_at, WEEK), NOW + 100);
            let (bound, got) = bound.unwrap_or_else(|e| panic!("{exp}: {e}"));
            assert_eq!(got, ttl, "exp {exp}");
            // Valid to its last second, or to the latest `now` a verify takes (10^11).
            let end = (NOW + 100 + ttl).min(crate::time::LATEST_NOW + 1);
            let read = |at| SessionCookie::read(&c, Some(&format!("s={bound}")), "s", at);
            assert_eq!(read(end - 1).status(), "valid", "exp {exp}");
        }
    }

    /// Only the first MAX_PRESENTED session cookies of a request are verified (one request can
    /// carry thousands, each a MAC or a decryption): a valid one past them is not read.
    #[test]
    fn only_the_first_presented_cookies_are_verified() {
        let t = tokens("k1", SECRET);
        let token = issue(&t, r#"{"sub":"alice"}"#, &[7; 16], NOW).unwrap();
        let read = |junk: usize| {
            let header = format!("{}s={token}", "s=junk; ".repeat(junk));
            SessionCookie::read(&t, Some(&header), "s", NOW + 1).status()
        };
        assert_eq!(read(MAX_PRESENTED - 1), "valid");
        assert_eq!(read(MAX_PRESENTED), "invalid");
    }

    #[test]
    fn bad_cookies_are_anonymous() {
        let t = tokens("k1", SECRET);
        let token = issue(&t, r#"{"sub":"alice"}"#, &[1; 16], NOW).unwrap();
        let forged = issue(
            &tokens("k1", "CwGxjkqgX34888wM9poN5x7lf7gx8iDaa9VgGHSXOOQ"),
            r#"{"sub":"root"}"#,
            &[1; 16],
            NOW,
        )
        .unwrap();
        let huge = "A".repeat(10_000);
        for (cookie, status, why) in [
            (
                format!("__Host-session={forged}"),
                "invalid",
                Some("bad_signature"),
            ),
            (
                format!("__Host-session={huge}"),
                "invalid",
                Some("too_large"),
            ),
            (
                "__Host-session=%%%".to_owned(),
                "invalid",
                Some("malformed"),
            ),
            ("__Host-session=".to_owned(), "invalid", Some("malformed")),
            (format!("__Host-session={token}"), "expired", None),
            ("unrelated=1".to_owned(), "none", None),
        ] {
            let s = SessionCookie::read(&t, Some(&cookie), "__Host-session", NOW + 100_000);
            assert_eq!(s.status(), status, "{cookie:.60}");
            // No identity: the status, and for an invalid cookie why.
            let h = s.identity_headers();
            let invalid = h.get(1).map(|(n, v)| (n.as_str(), v.as_str()));
            assert_eq!(
                invalid,
                why.map(|w| ("x-session-invalid", w)),
                "{cookie:.60}"
            );
            assert_eq!(h.len(), 1 + usize::from(why.is_some()));
        }
        // A forged cookie first does not hide a valid one after it.
        let both = format!("__Host-session={forged}; __Host-session={token}");
        assert_eq!(
            SessionCookie::read(&t, Some(&both), "__Host-session", NOW).status(),
            "valid"
        );
    }

    /// Of several cookies refused, the session is `expired` when one is (a refresh or a login
    /// will do), else `unknown_key` when one is signed by a key this version does not know (a
    /// newer deployment's: the cookie is kept), else the first refusal.
    #[test]
    fn which_refusal_of_several_cookies_counts() {
        let t = tokens("k1", SECRET);
        let expired = issue(&t, r#"{"sub":"alice"}"#, &[1; 16], NOW).unwrap();
        let other = "CwGxjkqgX34888wM9poN5x7lf7gx8iDaa9VgGHSXOOQ";
        let forged = issue(&tokens("k1", other), r#"{"sub":"root"}"#, &[1; 16], NOW).unwrap();
        let newer = issue(&tokens("k2", SECRET), r#"{"sub":"bob"}"#, &[1; 16], NOW).unwrap();
        let read = |values: &[&str]| {
            let header: Vec<String> = values.iter().map(|v| format!("s={v}")).collect();
            SessionCookie::read(&t, Some(&header.join("; ")), "s", NOW + 100_000)
        };
        assert_eq!(read(&[&expired, &forged]), SessionCookie::Expired);
        assert_eq!(read(&[&forged, &expired]), SessionCookie::Expired);
        assert_eq!(
            read(&["%%%", &newer, &forged]),
            SessionCookie::Invalid("unknown_key")
        );
        assert_eq!(
            read(&[&newer, "%%%"]),
            SessionCookie::Invalid("unknown_key")
        );
        assert_eq!(
            read(&[&forged, "%%%"]),
            SessionCookie::Invalid("bad_signature")
        );
        assert_eq!(read(&["%%%", &forged]), SessionCookie::Invalid("malformed"));
        // The origin is told why, and nothing else.
        assert_eq!(
            read(&["%%%", &newer]).identity_headers(),
            [
                ("x-session-status".into(), "invalid".into()),
                ("x-session-invalid".into(), "unknown_key".into())
            ]
        );
        assert_eq!(read(&[&expired]).identity_headers().len(), 1);
    }

    #[test]
    fn non_ascii_identity_stays_in_claims_only() {
        let t = tokens("k1", SECRET);
        // Signed elsewhere with the same keys (the gateway refuses such a `sub` at login).
        let SessionCodec::Compact(inner) = &t else {
            unreachable!()
        };
        let token = inner.sign(&serde_json::json!({"sub": "zoë"}), NOW).unwrap();
        let s = SessionCookie::read(&t, Some(&format!("s={token}")), "s", NOW);
        let h = s.identity_headers();
        assert!(h.iter().all(|(n, v)| n != "x-session-sub" && v.is_ascii()));
        assert!(h.iter().any(|(_, v)| v.contains("zo\\u00eb")));
    }

    #[test]
    fn bad_issue_headers_are_refused() {
        let t = tokens("k1", SECRET);
        for bad in [
            "",
            "[]",
            "\"x\"",
            "{",
            r#"{"nbf":"soon"}"#,
            &format!(r#"{{"x":"{}"}}"#, "a".repeat(3100)),
        ] {
            assert!(issue(&t, bad, &[0; 16], NOW).is_err(), "{bad:.40}");
        }
        // Each of these would make a session that revocation misses, that the origin reads as
        // another user, or that ends on its first use.
        for (bad, why) in [
            (r#"{"sub":42}"#, "sub must be a string"),
            (r#"{"sub":null}"#, "sub must be a string"),
            (r#"{"sub":" alice "}"#, "no space at either end"),
            (r#"{"sub":""}"#, "1 to 1024"),
            (r#"{"sub":"zo\u00eb"}"#, "visible ASCII"),
            // Raw UTF-8 would reach the origin escaped, up to three times its size.
            (r#"{"sub":"alice","name":"Zoë"}"#, "must be ASCII"),
            (r#"{"sub":"alice","e":"😀"}"#, "must be ASCII"),
            (r#"{"sub":"a\r\nx-injected: 1"}"#, "visible ASCII"),
            (r#"{"sub":"a\u0000b"}"#, "visible ASCII"),
            (r#"{"sub":"alice","sub":"root"}"#, "appears twice"),
            // `x-session-revoke: Doe, John` could not be told from `Doe` and `John`.
            (r#"{"sub":"Doe, John"}"#, "no comma"),
            (r#"{"sub":"a,b"}"#, "no comma"),
            (r#"{"sub":"alice","nbf":1900000000}"#, "nbf is not accepted"),
            // Signed as the nearest f64: many 128-bit ids would be one number.
            (
                r#"{"sub":"alice","uid":340282366920938463463374607431768211455}"#,
                "beyond 64 bits",
            ),
            (
                r#"{"sub":"alice","cnf":{"jkt":"x"}}"#,
                "cnf is not accepted",
            ),
            (r#"{"cnf":null}"#, "cnf is not accepted"),
            (r#"{"sub":"alice","aud":5}"#, "aud must be"),
            (r#"{"sub":"alice","iss":["a"]}"#, "iss must be a string"),
            // Sent twice: the runtime joins the two values with `, `.
            (r#"{"sub":"a"}, {"sub":"b"}"#, "sent twice"),
        ] {
            let err = issue(&t, bad, &[0; 16], NOW).unwrap_err();
            assert!(err.0.contains(why), "{bad}: {}", err.0);
            // The reason reaches the visitor's 502 page and the log: it quotes no value.
            assert!(
                !err.0.contains("3402823669") && !err.0.contains("Doe"),
                "{}",
                err.0
            );
        }
        assert!(issue(&t, r#"{"sub":"alice smith"}"#, &[0; 16], NOW).is_ok());
        assert!(issue(
            &t,
            r#"{"sub":"alice","name":"Zo\u00eb \ud83d\ude00"}"#,
            &[0; 16],
            NOW
        )
        .is_ok());
        // A subject of 1024 characters is header text; 1025 is refused (docs/gateway.md).
        let sub_of = |n: usize| format!(r#"{{"sub":"{}"}}"#, "a".repeat(n));
        assert!(issue(&t, &sub_of(1024), &[0; 16], NOW).is_ok());
        let err = issue(&t, &sub_of(1025), &[0; 16], NOW).unwrap_err();
        assert!(err.0.contains("1 to 1024"), "{}", err.0);
        let fits = format!(r#"{{"x":"{}"}}"#, "a".repeat(2000));
        assert!(issue(&t, &fits, &[0; 16], NOW).is_ok());
        // The header's own limit, at its boundary (a larger one is refused before it is read).
        let of_length = |n: usize| format!(r#"{{"x":"{}"}}"#, "a".repeat(n - 8));
        assert!(issue_claims(&of_length(MAX_ISSUE_BYTES)).is_ok());
        let err = issue_claims(&of_length(MAX_ISSUE_BYTES + 1)).unwrap_err();
        assert_eq!(err.0, "x-session-issue is over 3072 bytes");
    }
}
