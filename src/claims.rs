//! What a verified token claims, and the checks made on it once its signature and lifetime
//! are good: issuer, audience and revocation ([`VerifyOptions`]).
//!
//! ## Revocation
//!
//! A logout everywhere or a password change records, per subject, a `minIssuedAt` time
//! (typically in Workers KV or the Durable Object store); tokens issued before it are refused
//! with `revoked`. The caller passes that time, or a lookup from the verified claims to it, in
//! [`VerifyOptions::min_issued_at`]. A token issued in the very second of `minIssuedAt` is still
//! valid, so the fresh token issued right after a password change works.
//!
//! A refreshed token ([`crate::refresh`]) keeps the `auth_time` of the login it descends from,
//! and revocation compares the earlier of `iat` and `auth_time`: refreshing a token does not
//! take it out of reach of a revocation.
//!
//! **Propagation delay.** Workers KV is eventually consistent: a write is visible at once where
//! it was made, but other locations may keep serving the old value for up to about 60 seconds
//! (longer with a larger `cacheTtl`). Until then a revoked token still verifies there. Use the
//! Durable Object store when revocation must take effect everywhere at once.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::time::UnixTime;
use crate::token::{SessionTokens, Verified};

/// A lookup of a subject's `minIssuedAt` from a token's verified claims; `None` when the subject
/// has none.
pub type MinIssuedAtLookup<'a> = &'a dyn Fn(&Map<String, Value>) -> Option<UnixTime>;

/// Where the `minIssuedAt` of a verification comes from.
#[derive(Clone, Copy, Default)]
pub enum MinIssuedAt<'a> {
    /// No revocation check.
    #[default]
    None,
    /// Tokens issued before this time are revoked.
    At(UnixTime),
    /// Looked up from the verified claims (typically by `sub`), only once the token is
    /// authentic and within its lifetime.
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
/// use serde_json::{json, Map, Value};
///
/// let tokens = SessionTokens::new(TokenConfig::new(vec![KeyConfig {
///     id: "k1".into(),
///     secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA".into(),
/// }]))?;
/// let token = tokens.sign(&json!({ "sub": "user-12345" }), 1_800_000_000)?;
///
/// // The subject logged out everywhere at 1_800_000_100: older tokens are revoked.
/// let lookup = |claims: &Map<String, Value>| match claims["sub"].as_str() {
///     Some("user-12345") => Some(1_800_000_100),
///     _ => None,
/// };
/// let options = VerifyOptions::at(1_800_000_200).min_issued_at_from(&lookup);
/// let error = tokens.verify_with::<Value>(&token, &options).unwrap_err();
/// assert_eq!(error.code(), "revoked");
/// # Ok::<(), edge_session::Error>(())
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
    pub fn issuer(mut self, issuer: &'a str) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Requires `aud` to contain `audience`.
    pub fn audience(mut self, audience: &'a str) -> Self {
        self.audience = Some(audience);
        self
    }

    /// Refuses tokens issued before `min_issued_at`.
    pub fn min_issued_at(mut self, min_issued_at: UnixTime) -> Self {
        self.min_issued_at = MinIssuedAt::At(min_issued_at);
        self
    }

    /// Refuses tokens issued before the time `lookup` returns for their claims.
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
            MinIssuedAt::Lookup(lookup) => lookup(&parse_map(json)?),
        };
        if let Some(min_issued_at) = min {
            // A token without any issue time cannot show it is recent enough.
            let issued_at = claims.issued_at().unwrap_or(0);
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

impl SessionTokens {
    /// [`SessionTokens::verify_detailed`] with more checks: issuer, audience, revocation.
    pub fn verify_with<T: DeserializeOwned>(
        &self,
        token: &str,
        options: &VerifyOptions<'_>,
    ) -> Result<Verified<T>> {
        typed(self.verify_json_with(token, options)?)
    }

    pub(crate) fn verify_json_with(
        &self,
        token: &str,
        options: &VerifyOptions<'_>,
    ) -> Result<Verified<String>> {
        let verified = self.verify_json(token, options.now)?;
        options.check_json(&verified.claims)?;
        Ok(verified)
    }
}

/// Verified claims as JSON text, deserialized into the caller's type.
pub(crate) fn typed<T: DeserializeOwned>(v: Verified<String>) -> Result<Verified<T>> {
    let claims = serde_json::from_str(&v.claims)
        .map_err(|e| Error::InvalidClaims(format!("claims do not fit the requested type: {e}")))?;
    Ok(Verified {
        claims,
        key_id: v.key_id,
        stale_key: v.stale_key,
    })
}

/// Verified claims as a JSON object map.
pub(crate) fn parse_map(json: &str) -> Result<Map<String, Value>> {
    serde_json::from_str(json).map_err(|_| Error::Malformed("claims are not a JSON object"))
}

/// The registered claims this crate acts on, read from a JSON object whose member names must
/// be unique.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Registered<'a> {
    pub(crate) exp: Option<UnixTime>,
    pub(crate) nbf: Option<UnixTime>,
    pub(crate) iat: Option<UnixTime>,
    /// The time of the login a refreshed token descends from (OpenID Connect's claim).
    pub(crate) auth_time: Option<UnixTime>,
    pub(crate) iss: Option<Cow<'a, str>>,
    /// `aud` as a list (a single string is a list of one); empty when absent.
    pub(crate) aud: Vec<Cow<'a, str>>,
}

impl<'a> Registered<'a> {
    /// Reads `json`, refusing with `malformed` anything but one JSON object with unique member
    /// names, or a registered claim of the wrong type. Times may be fractional (floored).
    pub(crate) fn parse(json: &'a str) -> Result<Self> {
        let [exp, nbf, iat, auth_time, iss, aud] =
            read_object(json, ["exp", "nbf", "iat", "auth_time", "iss", "aud"])
                .map_err(|e| Error::Malformed(e.message("claims")))?;
        let time = |field: Option<Field<'a>>, message| match field {
            None => Ok(None),
            Some(f) => f.seconds().map(Some).ok_or(Error::Malformed(message)),
        };
        Ok(Registered {
            exp: time(exp, "exp must be a number of seconds")?,
            nbf: time(nbf, "nbf must be a number of seconds")?,
            iat: time(iat, "iat must be a number of seconds")?,
            auth_time: time(auth_time, "auth_time must be a number of seconds")?,
            iss: match iss {
                None => None,
                Some(Field::Str(s)) => Some(s),
                Some(_) => return Err(Error::Malformed("iss must be a string")),
            },
            aud: match aud {
                None => Vec::new(),
                Some(Field::Str(s)) => vec![s],
                Some(Field::Strs(list)) => list,
                Some(_) => {
                    return Err(Error::Malformed(
                        "aud must be a string or an array of strings",
                    ))
                }
            },
        })
    }

    /// When the session this token belongs to began: the earlier of `iat` and `auth_time`.
    pub(crate) fn issued_at(&self) -> Option<UnixTime> {
        match (self.iat, self.auth_time) {
            (Some(i), Some(a)) => Some(i.min(a)),
            (i, a) => i.or(a),
        }
    }
}

/// Why [`read_object`] refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectError {
    NotObject,
    Duplicate,
}

impl ObjectError {
    pub(crate) fn message(self, what: &'static str) -> &'static str {
        match (self, what) {
            (ObjectError::Duplicate, "header") => "duplicate header field",
            (ObjectError::Duplicate, _) => "duplicate claim name",
            (ObjectError::NotObject, "header") => "header is not a JSON object",
            (ObjectError::NotObject, _) => "claims are not a JSON object",
        }
    }
}

/// The value of a member that [`read_object`] keeps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field<'a> {
    U64(u64),
    F64(f64),
    Str(Cow<'a, str>),
    Strs(Vec<Cow<'a, str>>),
    Other,
}

impl Field<'_> {
    /// A non-negative number of seconds (fractions floored, huge values saturated).
    fn seconds(&self) -> Option<UnixTime> {
        match *self {
            Field::U64(n) => Some(n),
            Field::F64(f) if f.is_finite() && f >= 0.0 => Some(f as u64),
            _ => None,
        }
    }
}

/// Reads one JSON object (nothing after it but whitespace), returns the values of the members
/// named in `names` (in that order) and skips the others. Any member name appearing twice, at
/// the top level, is refused: parsers that keep the first and those that keep the last would
/// otherwise disagree on what was signed. Names are compared after unescaping.
pub(crate) fn read_object<'a, const N: usize>(
    json: &'a str,
    names: [&str; N],
) -> Result<[Option<Field<'a>>; N], ObjectError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let read = de
        .deserialize_map(ObjectVisitor { names: &names })
        .map_err(|_| ObjectError::NotObject)?;
    de.end().map_err(|_| ObjectError::NotObject)?;
    read
}

struct ObjectVisitor<'n, const N: usize> {
    names: &'n [&'n str; N],
}

impl<'de, const N: usize> Visitor<'de> for ObjectVisitor<'_, N> {
    type Value = Result<[Option<Field<'de>>; N], ObjectError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: [Option<Field<'de>>; N] = std::array::from_fn(|_| None);
        // The names so far, sorted (a binary search per name, and no sort code in the wasm).
        let mut seen: Vec<Cow<'de, str>> = Vec::with_capacity(8);
        let mut duplicate = false;
        while let Some(Key(key)) = map.next_key()? {
            // Other values are read as `Field`s too (and dropped): one value reader, less wasm.
            let value: Field<'de> = map.next_value()?;
            if let Some(i) = self.names.iter().position(|n| *n == key) {
                out[i] = Some(value);
            }
            match seen.binary_search(&key) {
                Ok(_) => duplicate = true,
                Err(at) => seen.insert(at, key),
            }
        }
        Ok(if duplicate {
            Err(ObjectError::Duplicate)
        } else {
            Ok(out)
        })
    }
}

/// A member name, borrowed from the input unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Field::U64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(u64::try_from(v).map_or(Field::Other, Field::U64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Field::F64(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut strings = Vec::new();
                let mut all_strings = true;
                while let Some(item) = seq.next_element::<Field<'de>>()? {
                    match item {
                        Field::Str(s) if all_strings => strings.push(s),
                        _ => all_strings = false,
                    }
                }
                Ok(if all_strings {
                    Field::Strs(strings)
                } else {
                    Field::Other
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<Key<'de>, Field<'de>>()?.is_some() {}
                Ok(Field::Other)
            }
        }
        d.deserialize_any(FieldVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_registered_claims() {
        let json =
            r#"{"sub":"u","exp":10,"nbf":2.9,"iat":3,"iss":"me","aud":["a","b"],"x":{"exp":1}}"#;
        let r = Registered::parse(json).unwrap();
        assert_eq!(
            (r.exp, r.nbf, r.iat, r.auth_time),
            (Some(10), Some(2), Some(3), None)
        );
        assert_eq!(r.iss.as_deref(), Some("me"));
        assert_eq!(r.aud, ["a", "b"]);
        assert_eq!(Registered::parse(r#"{"aud":"a"}"#).unwrap().aud, ["a"]);
        assert_eq!(Registered::parse("{}").unwrap(), Registered::default());
    }

    #[test]
    fn refuses_duplicates_even_when_escaped() {
        for json in [
            r#"{"a":1,"a":2}"#,
            r#"{"exp":1,"e\u0078p":2}"#,
            r#"{"x":1,"y":2,"x":3}"#,
        ] {
            assert_eq!(
                read_object(json, ["exp"]),
                Err(ObjectError::Duplicate),
                "{json}"
            );
        }
        assert!(read_object(r#"{"a":{"b":1},"b":1}"#, ["a"]).is_ok());
    }

    #[test]
    fn refuses_non_objects_and_trailing_data() {
        for json in [
            "", "[]", "1", "\"s\"", "{", "{}x", "{} {}", "{\"a\":}", "null",
        ] {
            assert_eq!(
                read_object(json, ["a"]),
                Err(ObjectError::NotObject),
                "{json:?}"
            );
        }
        assert!(read_object(" {} ", ["a"]).is_ok());
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
        let lookup = |c: &Map<String, Value>| (c["sub"] == "u").then_some(101);
        assert_eq!(check(at.min_issued_at_from(&lookup)), Err("revoked"));
        let none = |_: &Map<String, Value>| None;
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
        assert_eq!(
            at.issuer("me").check_json("{}").unwrap_err().code(),
            "wrong_issuer"
        );
    }
}
