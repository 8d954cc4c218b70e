//! What a verified token claims, and the checks made on it once its signature and lifetime
//! are good: issuer, audience and revocation ([`VerifyOptions`]).
//!
//! ## Revocation
//!
//! A logout everywhere or a password change records, per subject, a `minIssuedAt` time
//! (typically in Workers KV or the Durable Object store); tokens issued before it are refused
//! with `revoked`. The caller passes that time, or a lookup from the verified claims to it, in
//! [`VerifyOptions::min_issued_at`]. A token issued in the very second of `minIssuedAt` is still
//! valid, so the fresh token issued right after a password change works. A `minIssuedAt` past
//! 10^11 (a time in milliseconds, which would revoke every token) is `invalid_config`.
//!
//! A refreshed token ([`crate::refresh`]) keeps the `auth_time` of the login it descends from,
//! and revocation compares the earlier of `iat` and `auth_time`: refreshing a token does not
//! take it out of reach of a revocation. A token with neither is revoked by any `minIssuedAt`
//! above 0 (0 is no revocation: a lookup's `?? 0`), and so is one with only an `auth_time` more
//! than a day ([`MAX_LEEWAY`]) after `now`, which shows no login time (milliseconds taken for
//! seconds would otherwise escape every revocation).
//!
//! **Propagation delay.** Workers KV is eventually consistent: a write is visible at once where
//! it was made, but other locations may keep serving the old value for up to about 60 seconds
//! (longer with a larger `cacheTtl`). Until then a revoked token still verifies there. Use the
//! Durable Object store when revocation must take effect everywhere at once.

use std::borrow::Cow;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::json::{self, Object};
use crate::time::{self, UnixTime, MAX_LEEWAY};

/// A lookup of a subject's `minIssuedAt` from a token's verified claims, given as JSON text
/// (one JSON object, `iat` and `exp` included); `None` when the subject has none.
pub type MinIssuedAtLookup<'a> = &'a dyn Fn(&str) -> Option<UnixTime>;

/// Where the `minIssuedAt` of a verification comes from.
#[derive(Clone, Copy, Default)]
pub enum MinIssuedAt<'a> {
    /// No revocation check.
    #[default]
    None,
    /// Tokens issued before this time are revoked.
    At(UnixTime),
    /// Looked up from the verified claims (typically by `sub`), only once the token is
    /// authentic and has begun: within its lifetime, or expired (so that `expired` comes only
    /// with the claims of a token not revoked).
    Lookup(MinIssuedAtLookup<'a>),
}

impl fmt::Debug for MinIssuedAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MinIssuedAt::None => f.write_str("None"),
            MinIssuedAt::At(t) => f.debug_tuple("At").field(t).finish(),
            MinIssuedAt::Lookup(_) => f.write_str("Lookup(..)"),
        }
    }
}

/// What a verification checks beyond signature and lifetime. Works for compact, sealed and
/// JWT tokens alike.
///
/// ```
/// use edge_session::{KeyConfig, SessionTokens, TokenConfig, VerifyOptions};
/// use serde_json::{json, Value};
///
/// let tokens = SessionTokens::new(TokenConfig::new(vec![KeyConfig {
///     id: "k1".into(),
///     secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA".into(),
/// }]))?;
/// let token = tokens.sign(&json!({ "sub": "user-12345" }), 1_800_000_000)?;
///
/// // The subject logged out everywhere at 1_800_000_100: older tokens are revoked.
/// let lookup = |claims: &str| {
///     let claims: Value = serde_json::from_str(claims).ok()?;
///     (claims["sub"] == "user-12345").then_some(1_800_000_100)
/// };
/// let options = VerifyOptions::at(1_800_000_200).min_issued_at_from(&lookup);
/// let error = tokens.verify_with::<Value>(&token, &options).unwrap_err();
/// assert_eq!(error.code(), "revoked");
/// # Ok::<(), edge_session::Error>(())
/// ```
///
/// The options are `Copy`, and each method returns changed options: a call whose result is
/// dropped would change nothing (here, no issuer check), so it is a warning (`unused_must_use`).
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let options = edge_session::VerifyOptions::at(1_800_000_200);
/// options.issuer("https://id.example");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions<'a> {
    /// The current time, seconds since the Unix epoch.
    pub now: UnixTime,
    /// When set, `iss` must equal it (`wrong_issuer`).
    pub issuer: Option<&'a str>,
    /// When set, `aud` (a string or an array of strings) must contain it (`wrong_audience`).
    /// When not set, `aud` is not checked (as in `jose`).
    pub audience: Option<&'a str>,
    /// Revocation: tokens issued before the subject's `minIssuedAt` are refused with
    /// `revoked`. Beware the KV propagation delay (about 60 s, see the [module docs](self)).
    pub min_issued_at: MinIssuedAt<'a>,
}

impl<'a> VerifyOptions<'a> {
    /// Options that check only signature and lifetime, at `now`.
    pub fn at(now: UnixTime) -> Self {
        VerifyOptions {
            now,
            issuer: None,
            audience: None,
            min_issued_at: MinIssuedAt::None,
        }
    }

    /// Requires `iss` to equal `issuer`.
    #[must_use = "options are `Copy`: this returns the changed options, the receiver is unchanged"]
    pub fn issuer(mut self, issuer: &'a str) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Requires `aud` to contain `audience`.
    #[must_use = "options are `Copy`: this returns the changed options, the receiver is unchanged"]
    pub fn audience(mut self, audience: &'a str) -> Self {
        self.audience = Some(audience);
        self
    }

    /// Refuses tokens issued before `min_issued_at`.
    #[must_use = "options are `Copy`: this returns the changed options, the receiver is unchanged"]
    pub fn min_issued_at(mut self, min_issued_at: UnixTime) -> Self {
        self.min_issued_at = MinIssuedAt::At(min_issued_at);
        self
    }

    /// Refuses tokens issued before the time `lookup` returns for their claims.
    #[must_use = "options are `Copy`: this returns the changed options, the receiver is unchanged"]
    pub fn min_issued_at_from(mut self, lookup: MinIssuedAtLookup<'a>) -> Self {
        self.min_issued_at = MinIssuedAt::Lookup(lookup);
        self
    }

    fn needs_claims(&self) -> bool {
        self.issuer.is_some()
            || self.audience.is_some()
            || !matches!(self.min_issued_at, MinIssuedAt::None)
    }

    /// The checks on verified claims given as JSON text; free when nothing is to be checked.
    pub(crate) fn check_json(&self, json: &str) -> Result<()> {
        if !self.needs_claims() {
            return Ok(());
        }
        self.check(&Registered::parse(json)?, json)
    }

    /// A lifetime error as the caller gets it: an `expired` token's claims pass the other
    /// checks first, so `expired` (and the claims it carries, to offer a refresh) comes only
    /// with a token that would otherwise verify, and a token of another issuer or audience,
    /// or a revoked one, is refused as such however old it is.
    pub(crate) fn vet(&self, error: Error) -> Error {
        if let Error::Expired { claims, .. } = &error {
            if let Err(other) = self.check_json(claims) {
                return other;
            }
        }
        error
    }

    /// Issuer, audience, then revocation, on claims already read.
    pub(crate) fn check(&self, claims: &Registered<'_>, json: &str) -> Result<()> {
        if let Some(issuer) = self.issuer {
            if claims.iss.as_deref() != Some(issuer) {
                return Err(Error::WrongIssuer);
            }
        }
        if let Some(audience) = self.audience {
            if !claims.aud.iter().any(|a| a == audience) {
                return Err(Error::WrongAudience);
            }
        }
        let min = match self.min_issued_at {
            MinIssuedAt::None => None,
            MinIssuedAt::At(t) => Some(t),
            MinIssuedAt::Lookup(lookup) => lookup(json),
        };
        if let Some(min_issued_at) = min {
            time::check_seconds("minIssuedAt", min_issued_at)?;
            // A token without any issue time cannot show it is recent enough.
            let issued_at = claims.issued_at(self.now).unwrap_or(0);
            if issued_at < min_issued_at {
                return Err(Error::Revoked {
                    issued_at,
                    min_issued_at,
                });
            }
        }
        Ok(())
    }
}

/// A token that verified, with what the caller needs to know about its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified<T> {
    /// The claims, `iat` and `exp` (and `nbf` if set) included.
    pub claims: T,
    /// The id of the key that signed the token.
    pub key_id: String,
    /// True when that key is not the current signing key: sign the claims again to move the
    /// holder to the current key before the old one is retired.
    pub stale_key: bool,
}

impl<T> Verified<T> {
    /// `claims` verified by the key at `index` of a keyring (signing key first), whose id is
    /// `key_id`.
    pub(crate) fn by_key(claims: T, key_id: Option<&str>, index: usize) -> Self {
        Verified {
            claims,
            key_id: key_id.unwrap_or_default().to_owned(),
            stale_key: index > 0,
        }
    }
}

/// `claims` (any value serializing to a JSON object) as JSON text, the members of every
/// object sorted by name (as `serde_json`'s map writes them).
pub(crate) fn claims_json<T: Serialize + ?Sized>(claims: &T) -> Result<String> {
    match serde_json::to_value(claims) {
        Ok(value @ Value::Object(_)) => Ok(value.to_string()),
        Ok(_) => Err(Error::InvalidClaims("claims must be a JSON object".into())),
        Err(e) => Err(Error::InvalidClaims(e.to_string())),
    }
}

/// Claims to sign, given as the text of a JSON object. The registered claims they carry must
/// have the types verify reads ([`Registered::carried`]): a token its own verify would refuse
/// as `malformed` is refused here, `invalid_claims`.
pub(crate) fn claims_object(claims: &str) -> Result<Object<'_>> {
    let members =
        json::members(claims).map_err(|e| Error::InvalidClaims(e.message("claims").into()))?;
    Registered::carried(&members).map_err(|e| match e {
        Error::Malformed(why) => Error::InvalidClaims(why.into()),
        e => e,
    })?;
    Ok(Object::from_members(members))
}

/// What serde says of claims that do not fit a type, without what it quotes of them (`invalid
/// type: string "alice@example.com", expected u64`, `unknown variant `admin``): a sealed token's
/// claims are hidden from its holder, and this message is what an app logs, or answers. What
/// names the type's side stays (`expected u64`, `missing field `role``), and where it went
/// wrong; a message of another kind (a `Deserialize` of the caller's own) is not shown.
fn misfit(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if [
        "missing field",
        "duplicate field",
        "unknown field",
        "invalid length",
    ]
    .iter()
    .any(|k| text.starts_with(k))
    {
        return text;
    }
    // `invalid type: <value>, expected u64`, `unknown variant `<value>`, expected one of ...`:
    // the value comes before serde's own `, expected `, the last one.
    const EXPECTED: &[u8] = b", expected ";
    let expected = (text.as_bytes().windows(EXPECTED.len()))
        .rposition(|w| w == EXPECTED)
        .and_then(|at| text.get(at + EXPECTED.len()..))
        .unwrap_or_default();
    format!("a claim of another type or value, expected {expected}")
}

/// Verified claims as JSON text, deserialized into the caller's type.
pub(crate) fn typed<T: DeserializeOwned>(v: Verified<String>) -> Result<Verified<T>> {
    let claims = serde_json::from_str(&v.claims).map_err(|e| {
        Error::InvalidClaims(format!(
            "claims do not fit the requested type: {}",
            misfit(&e)
        ))
    })?;
    Ok(Verified {
        claims,
        key_id: v.key_id,
        stale_key: v.stale_key,
    })
}

/// The members of a claims object (names unique, sorted), `malformed` otherwise.
pub(crate) fn claim_members(json: &str) -> Result<Vec<json::Member<'_>>> {
    json::members(json).map_err(|e| Error::Malformed(e.message("claims")))
}

/// The registered claims this crate acts on, read from a JSON object whose member names must
/// be unique.
///
/// A time may be fractional (RFC 7519's NumericDate). Each is rounded to a whole second the way
/// that keeps its comparisons with the whole seconds of `now` exact, as jose compares: `exp`
/// and the start times (`nbf`, and `iat` in [`Registered::iat_start`]) up (`now >= exp` exactly
/// when `now >= ceil(exp)`; `nbf > now` exactly when `ceil(nbf) > now`), `iat` and `auth_time`
/// down for revocation (issued before `minIssuedAt` exactly when `floor(iat) < minIssuedAt`).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Registered<'a> {
    pub(crate) exp: Option<UnixTime>,
    pub(crate) nbf: Option<UnixTime>,
    pub(crate) iat: Option<UnixTime>,
    /// `iat` rounded up: as a start time, like `nbf`.
    pub(crate) iat_start: Option<UnixTime>,
    /// The time of the login a refreshed token descends from (OpenID Connect's claim).
    pub(crate) auth_time: Option<UnixTime>,
    pub(crate) iss: Option<Cow<'a, str>>,
    /// `aud` as a list (a single string is a list of one); empty when absent.
    pub(crate) aud: Vec<Cow<'a, str>>,
}

impl<'a> Registered<'a> {
    /// Reads `json`, refusing with `malformed` anything but one JSON object with unique member
    /// names, or a registered claim of the wrong type. Times may be fractional (see
    /// [`Registered`] for how they are rounded).
    pub(crate) fn parse(json: &'a str) -> Result<Self> {
        Self::from_members(&claim_members(json)?)
    }

    /// [`Registered::parse`] on members already read with [`claim_members`].
    pub(crate) fn from_members(members: &[json::Member<'a>]) -> Result<Self> {
        Self::read(members, true)
    }

    /// The registered claims but `exp` and `iat` (which sign sets itself): what a token carries
    /// as its signer was given it.
    pub(crate) fn carried(members: &[json::Member<'a>]) -> Result<Self> {
        Self::read(members, false)
    }

    /// The registered claims among `members`, in one pass; `exp` and `iat` only with `times`.
    fn read(members: &[json::Member<'a>], times: bool) -> Result<Self> {
        let mut r = Registered::default();
        for (name, v) in members {
            match name.as_ref() {
                "exp" if times => r.exp = Some(later(v, "exp must be a number of seconds")?),
                "iat" if times => {
                    r.iat = Some(seconds(v, "iat must be a number of seconds")?);
                    r.iat_start = json::ceil_u64(v);
                }
                "nbf" => r.nbf = Some(later(v, "nbf must be a number of seconds")?),
                "auth_time" => {
                    r.auth_time = Some(seconds(v, "auth_time must be a number of seconds")?)
                }
                "iss" => {
                    r.iss = Some(json::string(v).ok_or(Error::Malformed("iss must be a string"))?)
                }
                "aud" => {
                    r.aud = json::string(v)
                        .map(|s| vec![s])
                        .or_else(|| json::strings(v))
                        .ok_or(Error::Malformed(
                            "aud must be a string or an array of strings",
                        ))?
                }
                _ => {}
            }
        }
        Ok(r)
    }

    /// When the session this token belongs to began, as seen at `now`: the earlier of `iat` and
    /// `auth_time`. An `auth_time` alone, later than `now` by more than any leeway forgives
    /// ([`MAX_LEEWAY`]: milliseconds taken for seconds, `1e300`), is no login time: the token
    /// shows none, as one without either (an `iat` is never that far ahead of a verifying `now`).
    pub(crate) fn issued_at(&self, now: UnixTime) -> Option<UnixTime> {
        match (self.iat, self.auth_time) {
            (Some(i), Some(a)) => Some(i.min(a)),
            (None, Some(a)) if a > now.saturating_add(MAX_LEEWAY) => None,
            (i, a) => i.or(a),
        }
    }
}

/// A registered time: a number of seconds (floored), `malformed` with `message` otherwise.
fn seconds(value: &str, message: &'static str) -> Result<UnixTime> {
    json::floor_u64(value).ok_or(Error::Malformed(message))
}

/// [`seconds`] rounded up.
fn later(value: &str, message: &'static str) -> Result<UnixTime> {
    json::ceil_u64(value).ok_or(Error::Malformed(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::LATEST_NOW;

    #[test]
    fn reads_registered_claims() {
        let json =
            r#"{"sub":"u","exp":10,"nbf":2.9,"iat":3,"iss":"me","aud":["a","b"],"x":{"exp":1}}"#;
        let r = Registered::parse(json).unwrap();
        assert_eq!(
            (r.exp, r.nbf, r.iat, r.iat_start, r.auth_time),
            (Some(10), Some(3), Some(3), Some(3), None)
        );
        assert_eq!(r.iss.as_deref(), Some("me"));
        assert_eq!(r.aud, ["a", "b"]);
        assert_eq!(Registered::parse(r#"{"aud":"a"}"#).unwrap().aud, ["a"]);
        assert_eq!(Registered::parse("{}").unwrap(), Registered::default());
        // Fractions: expiry and start times up, the time issued down.
        let r = Registered::parse(r#"{"exp":9.5,"nbf":2.1,"iat":3.5,"auth_time":1.5}"#).unwrap();
        assert_eq!(
            (r.exp, r.nbf, r.iat, r.iat_start, r.auth_time),
            (Some(10), Some(3), Some(3), Some(4), Some(1))
        );
    }

    /// Options print what they check; a lookup, a closure, prints as one.
    #[test]
    fn options_print_their_checks() {
        let at = VerifyOptions::at(150);
        assert!(format!("{at:?}").contains("min_issued_at: None"));
        let pinned = format!("{:?}", at.min_issued_at(100));
        assert!(pinned.contains("min_issued_at: At(100)"), "{pinned}");
        let lookup = |_: &str| Some(100);
        let looked_up = format!("{:?}", at.min_issued_at_from(&lookup));
        assert!(
            looked_up.contains("min_issued_at: Lookup(..)"),
            "{looked_up}"
        );
    }

    #[test]
    fn refuses_wrongly_typed_claims() {
        for json in [
            r#"{"exp":"1"}"#,
            r#"{"exp":-1}"#,
            r#"{"iat":null}"#,
            r#"{"nbf":[1]}"#,
            r#"{"iss":1}"#,
            r#"{"aud":[1]}"#,
            r#"{"aud":["a",1]}"#,
            r#"{"aud":{}}"#,
            r#"{"auth_time":true}"#,
        ] {
            assert_eq!(
                Registered::parse(json).unwrap_err().code(),
                "malformed",
                "{json}"
            );
        }
    }

    #[test]
    fn checks_issuer_audience_and_revocation() {
        let json = r#"{"sub":"u","iat":100,"iss":"me","aud":["a","b"]}"#;
        let check = |o: VerifyOptions| o.check_json(json).map_err(|e| e.code());
        let at = VerifyOptions::at(150);
        assert_eq!(check(at), Ok(()));
        assert_eq!(check(at.issuer("me").audience("b")), Ok(()));
        assert_eq!(check(at.issuer("you")), Err("wrong_issuer"));
        assert_eq!(check(at.audience("c")), Err("wrong_audience"));
        assert_eq!(check(at.min_issued_at(100)), Ok(()));
        assert_eq!(check(at.min_issued_at(101)), Err("revoked"));
        let sub = |c: &str| serde_json::from_str::<serde_json::Value>(c).unwrap()["sub"].clone();
        let lookup = |c: &str| (sub(c) == "u").then_some(101);
        assert_eq!(check(at.min_issued_at_from(&lookup)), Err("revoked"));
        let none = |_: &str| None;
        assert_eq!(check(at.min_issued_at_from(&none)), Ok(()));
        // The earlier of iat and auth_time counts; no time at all is revoked.
        let refreshed = r#"{"iat":200,"auth_time":90}"#;
        assert_eq!(
            at.min_issued_at(100)
                .check_json(refreshed)
                .unwrap_err()
                .code(),
            "revoked"
        );
        assert_eq!(
            at.min_issued_at(1).check_json("{}").unwrap_err().code(),
            "revoked"
        );
        // 0 is no revocation (a lookup's `?? 0`): even such a token passes it.
        assert_eq!(at.min_issued_at(0).check_json("{}").map(drop), Ok(()));
        // Without an iat, an auth_time further ahead than any leeway (milliseconds taken for
        // seconds, 1e300) shows no login time: the token began at 0, and is revoked, as one
        // without any issue time. Within a day ahead (a signer's clock) it counts; with an iat,
        // the earlier of the two counts as before.
        for (claims, revoked) in [
            (r#"{"auth_time":1800000000000}"#, true),
            (r#"{"auth_time":1e300}"#, true),
            (r#"{"auth_time":86551}"#, true),
            (r#"{"auth_time":86550}"#, false),
            (r#"{"auth_time":120}"#, false),
            (r#"{"auth_time":90}"#, true),
            (r#"{"iat":120,"auth_time":1800000000000}"#, false),
            (r#"{"iat":90,"auth_time":1800000000000}"#, true),
        ] {
            let result = at.min_issued_at(100).check_json(claims);
            assert_eq!(
                result.map_err(|e| e.code()).err(),
                revoked.then_some("revoked"),
                "{claims}"
            );
        }
        assert_eq!(
            at.issuer("me").check_json("{}").unwrap_err().code(),
            "wrong_issuer"
        );
    }

    /// A `minIssuedAt` in milliseconds (`Date.now()`, a `Date`'s `getTime()`) revoked every
    /// token without a word: it is the caller's mistake, `invalid_config` naming the setting,
    /// given as a time or by a lookup. 10^11 itself is a time (the latest `now` taken).
    #[test]
    fn a_min_issued_at_in_milliseconds_is_refused() {
        let json = r#"{"sub":"u","iat":100}"#;
        let at = VerifyOptions::at(150);
        for min in [1_800_000_000_000, LATEST_NOW + 1, u64::MAX] {
            let lookup = move |_: &str| Some(min);
            for options in [at.min_issued_at(min), at.min_issued_at_from(&lookup)] {
                let e = options.check_json(json).unwrap_err();
                assert_eq!(
                    (e.code(), e.setting()),
                    ("invalid_config", Some("minIssuedAt"))
                );
                assert!(e.to_string().contains("not milliseconds"), "{e}");
            }
        }
        assert_eq!(
            at.min_issued_at(LATEST_NOW)
                .check_json(json)
                .unwrap_err()
                .code(),
            "revoked"
        );
    }
}
