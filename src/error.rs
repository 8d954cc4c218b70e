//! The crate's one error type, with a stable machine code per variant.

use std::fmt::{self, Write};

use serde::de::DeserializeOwned;

use crate::codec::ascii_lossy;
use crate::keys::MAX_KEY_ID_BYTES;

/// Everything that can go wrong, each with a stable code ([`Error::code`]) that the JavaScript
/// face exposes as `error.code`.
///
/// Codes are a contract: they never change meaning and are never renamed.
/// Its `Debug` is its code and message, as `Display` writes it: never the claims an `expired`
/// carries (a sealed token's are the contents it hides), so that a `{:?}` or an `unwrap` in a
/// log leaks none.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The input is longer than the configured maximum; refused before any decoding.
    TooLarge { len: usize, max: usize },
    /// The input is not in the expected format (bad base64url, truncated, unknown version...).
    Malformed(&'static str),
    /// The token names a key id that the keyring does not hold. Carries that id as read, ASCII
    /// only (any other byte as U+FFFD) and at most 64 bytes (a longer `kid` of a JWT is cut,
    /// with `...`): no longer or other id names a key.
    UnknownKey(String),
    /// The authentication tag does not match: the token was forged or altered.
    BadSignature,
    /// A compact token whose tag does not match and whose purpose hint names another purpose:
    /// most likely a token made for another purpose (for example a `csrf` token presented as a
    /// `session` token). The hint is one byte that the failed tag leaves unauthenticated, so a
    /// forged or altered token can carry it too: treat this code as `bad_signature`. Sealed
    /// tokens of another purpose are `bad_signature` (their purpose is not visible).
    WrongPurpose,
    /// The token is authentic but its lifetime has ended. Carries the verified claims as JSON
    /// text (read them with [`Error::claims`]), so the caller can offer a refresh or a fresh
    /// login. With [`VerifyOptions`](crate::VerifyOptions), only a token that passes their
    /// issuer, audience and revocation checks is `expired`; one that fails them gets their code.
    Expired { exp: u64, claims: String },
    /// The token is authentic but `iat` or `nbf` lies in the future (beyond the leeway).
    NotYetValid { valid_from: u64 },
    /// The claims given to `sign` are not a JSON object, cannot be serialized, are nested more
    /// than 127 levels deep (the object itself the first; verify refuses such a token as
    /// `malformed`), or carry a registered claim of a type verify refuses (`iss` not a string, `aud` not a string or a
    /// list of strings, `auth_time` or `nbf` not a number of seconds).
    InvalidClaims(String),
    /// The configuration or an option is invalid.
    InvalidConfig {
        /// The configuration field or call option at fault, by its stable name: the JavaScript
        /// option name (`keys`, `secret`, `ttlSeconds`, `cookieName`, `backends`, `now`,
        /// `issuer`...); `None` when the error is not about one field (an unknown option, an
        /// options object or an argument wrong as a whole...). Read it with [`Error::setting`].
        setting: Option<&'static str>,
        /// What is wrong; never quotes a secret.
        message: String,
    },
    /// A JWT names an algorithm other than HS256 (`none` included); carries the `alg` given,
    /// ASCII only (any other byte as U+FFFD) and at most 64 bytes (a longer one is cut, with
    /// `...`).
    UnsupportedAlg(String),
    /// The token is authentic but its `iss` is not the expected issuer.
    WrongIssuer,
    /// The token is authentic but its `aud` does not name the expected audience.
    WrongAudience,
    /// The token is authentic but was issued before the subject's `minIssuedAt` (a logout
    /// everywhere or a password change ended it).
    Revoked { issued_at: u64, min_issued_at: u64 },
    /// The platform gave no random bytes (a sealed token needs a fresh nonce).
    RandomnessUnavailable,
    /// Affinity routing: no backend is healthy, so the request cannot be routed.
    NoBackend,
    /// Affinity routing with `failover: "strict"`: the visitor's backend is down and the
    /// policy forbids moving the visitor elsewhere. Carries the backend id.
    BackendUnavailable(String),
    /// Session store, compare-and-set: the record changed since it was read (another request
    /// saved it first). Read it again and redo the change; nothing was written.
    Conflict,
    /// Session store: the store failed or timed out (the binding threw, the Durable Object was
    /// unreachable...). Carries what the platform said; serve without session data and retry later.
    StoreUnavailable(String),
    /// DBSC: the challenge a proof answers was not issued here for this session and this step
    /// (registration or refresh): never issued, altered, for another session, of the other
    /// kind, or signed by a key that left the keyring. Answer with a fresh challenge.
    UnknownChallenge,
    /// DBSC: the challenge was already answered once (single use, where the store records
    /// challenges). Answer with a fresh challenge.
    ChallengeReused,
    /// DBSC: the refresh proof is not by the key the session is bound to (another algorithm,
    /// another key, or a kept key that is not the one the session recorded).
    KeyMismatch,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable machine code, for example `"bad_signature"`.
    ///
    /// ```
    /// assert_eq!(edge_session::Error::BadSignature.code(), "bad_signature");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::TooLarge { .. } => "too_large",
            Error::Malformed(_) => "malformed",
            Error::UnknownKey(_) => "unknown_key",
            Error::BadSignature => "bad_signature",
            Error::WrongPurpose => "wrong_purpose",
            Error::Expired { .. } => "expired",
            Error::NotYetValid { .. } => "not_yet_valid",
            Error::InvalidClaims(_) => "invalid_claims",
            Error::InvalidConfig { .. } => "invalid_config",
            Error::UnsupportedAlg(_) => "unsupported_alg",
            Error::WrongIssuer => "wrong_issuer",
            Error::WrongAudience => "wrong_audience",
            Error::Revoked { .. } => "revoked",
            Error::RandomnessUnavailable => "randomness_unavailable",
            Error::NoBackend => "no_backend",
            Error::BackendUnavailable(_) => "backend_unavailable",
            Error::Conflict => "conflict",
            Error::StoreUnavailable(_) => "store_unavailable",
            Error::UnknownChallenge => "unknown_challenge",
            Error::ChallengeReused => "challenge_reused",
            Error::KeyMismatch => "key_mismatch",
        }
    }

    /// The verified claims an `expired` error carries, deserialized into `T` (for example a
    /// `serde_json::Value` or the caller's claims struct); `None` for other errors, or claims
    /// that do not fit `T`.
    ///
    /// ```
    /// use edge_session::{KeyConfig, SessionTokens, TokenConfig};
    /// use serde_json::{json, Value};
    ///
    /// let tokens = SessionTokens::new(TokenConfig::new(vec![KeyConfig {
    ///     id: "k1".into(),
    ///     secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA".into(),
    /// }]))?;
    /// let token = tokens.sign(&json!({ "sub": "user-12345" }), 1_800_000_000)?;
    /// let error = tokens.verify::<Value>(&token, 1_800_009_999).unwrap_err();
    /// let claims: Value = error.claims().expect("an expired token's claims");
    /// assert_eq!(claims["sub"], "user-12345");
    /// # Ok::<(), edge_session::Error>(())
    /// ```
    pub fn claims<T: DeserializeOwned>(&self) -> Option<T> {
        match self {
            Error::Expired { claims, .. } => serde_json::from_str(claims).ok(),
            _ => None,
        }
    }

    /// With `invalid_config`, the configuration field at fault by its stable name (the
    /// JavaScript option name, for example `"ttlSeconds"`); `None` for other errors, or an
    /// `invalid_config` that is not about one field.
    ///
    /// ```
    /// use edge_session::{KeyConfig, SessionTokens, TokenConfig};
    ///
    /// let mut config = TokenConfig::new(vec![KeyConfig {
    ///     id: "k1".into(),
    ///     secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA".into(),
    /// }]);
    /// config.ttl_seconds = 0;
    /// let error = SessionTokens::new(config).unwrap_err();
    /// assert_eq!((error.code(), error.setting()), ("invalid_config", Some("ttlSeconds")));
    /// ```
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            Error::InvalidConfig { setting, .. } => *setting,
            _ => None,
        }
    }

    /// `unknown_key` naming `kid`, the key id a token names, as [`shown`] (no longer or other
    /// id names a key).
    pub(crate) fn unknown_key(kid: &[u8]) -> Self {
        Error::UnknownKey(shown(kid))
    }

    /// `unsupported_alg` naming `alg`, the algorithm a token's header names, as [`shown`].
    pub(crate) fn unsupported_alg(alg: &str) -> Self {
        Error::UnsupportedAlg(shown(alg.as_bytes()))
    }

    /// What the error says without the "invalid configuration: " that `Display` puts before an
    /// `invalid_config`'s message: for a message made part of another (`keys[0]: ...`), which
    /// says it once. Any other error as it displays.
    pub(crate) fn detail(&self) -> String {
        match self {
            Error::InvalidConfig { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// An `invalid_config` error about no one field.
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            setting: None,
            message: message.into(),
        }
    }

    /// An `invalid_config` error about the field `setting`.
    pub(crate) fn config_of(setting: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            setting: Some(setting),
            message: message.into(),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code())
            .field("message", &format_args!("{self}"))
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooLarge { len, max } => {
                write!(f, "input of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::Malformed(what) => write!(f, "malformed token: {what}"),
            Error::UnknownKey(kid) => write!(f, "token was signed with unknown key id {}", Quoted(kid)),
            Error::BadSignature => f.write_str("token signature does not match"),
            Error::WrongPurpose => f.write_str("token was issued for another purpose"),
            Error::Expired { exp, .. } => write!(f, "token expired at {exp}"),
            Error::NotYetValid { valid_from } => write!(f, "token is not valid before {valid_from}"),
            Error::InvalidClaims(why) => write!(f, "invalid claims: {why}"),
            Error::InvalidConfig { message, .. } => write!(f, "invalid configuration: {message}"),
            Error::UnsupportedAlg(alg) => {
                write!(f, "unsupported JWT algorithm {}", Quoted(alg))
            }
            Error::WrongIssuer => f.write_str("token was issued by another issuer"),
            Error::WrongAudience => f.write_str("token was issued for another audience"),
            Error::Revoked { issued_at, min_issued_at } => write!(
                f,
                "token was revoked: issued at {issued_at}, before the subject's minIssuedAt {min_issued_at}"
            ),
            Error::RandomnessUnavailable => f.write_str("no source of randomness is available"),
            Error::NoBackend => f.write_str("no backend is healthy"),
            Error::BackendUnavailable(id) => write!(
                f,
                "backend {} is down and the failover policy is strict",
                Quoted(configured(id))
            ),
            Error::Conflict => f.write_str("the session changed since it was read"),
            Error::StoreUnavailable(why) => write!(f, "session store unavailable: {why}"),
            Error::UnknownChallenge => f.write_str("the challenge was not issued here for this session"),
            Error::ChallengeReused => f.write_str("the challenge was already used"),
            Error::KeyMismatch => f.write_str("the proof is not by the key the session is bound to"),
        }
    }
}

impl std::error::Error for Error {}

/// Text a token's sender wrote (read before any signature) as an error may carry it: ASCII as
/// it is, any other byte as U+FFFD, cut at [`MAX_KEY_ID_BYTES`] with `...`. It reaches
/// messages and logs bounded, without line separators or bidirectional overrides.
fn shown(text: &[u8]) -> String {
    let mut shown = ascii_lossy(text.get(..MAX_KEY_ID_BYTES).unwrap_or(text));
    if text.len() > MAX_KEY_ID_BYTES {
        shown.push_str("...");
    }
    shown
}

/// What is wrong with configuration JSON, in words that never quote it: serde's own messages
/// quote the input (`invalid type: string "<secret>"`), and configuration holds secrets.
#[cfg(feature = "sealed")] // its readers: the gateway and the JS store (both need `sealed`)
pub(crate) fn json_shape(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Eof => "JSON cut short",
        serde_json::error::Category::Data | serde_json::error::Category::Io => {
            "JSON of the wrong shape"
        }
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// The longest text of a caller's configuration that a message quotes ([`configured`]): shorter
/// than any secret this crate takes (a gateway's `OPERATOR_TOKEN` has at least 16 bytes, a key's
/// secret 43 characters of base64url).
pub(crate) const MAX_SHOWN_BYTES: usize = 15;

/// Text a caller configured (a cookie name, a setting's value) as a message shows it, in
/// [`Quoted`]: itself when at most [`MAX_SHOWN_BYTES`] (a misspelt `Durable` or `es256`), else
/// a note that it is not shown. A longer one may be a secret set in the wrong place (the key
/// list pasted as a cookie name, the private JWK meant for `ORIGIN_ASSERTION_KEY` set as
/// `ORIGIN_ASSERTION`), and messages reach logs and tickets.
pub(crate) fn configured(text: &str) -> &str {
    if text.len() <= MAX_SHOWN_BYTES {
        text
    } else {
        "<more than 15 bytes, not shown>"
    }
}

/// Whether `c` must not reach a message or a log line as it is: a control character (C0 and
/// C1: a line feed, an escape sequence), a line or paragraph separator, or a bidirectional
/// control (text shown in another order than written).
pub(crate) fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Writes `text` with the characters of [`is_hidden`] as `\u{..}`, and, with `quotes`, `"`
/// and `\` after a backslash.
fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str, quotes: bool) -> fmt::Result {
    for c in text.chars() {
        if quotes && matches!(c, '"' | '\\') {
            f.write_char('\\')?;
            f.write_char(c)?;
        } else if is_hidden(c) {
            write!(f, "\\u{{{:x}}}", u32::from(c))?;
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}

/// Shows text in double quotes with `"`, `\` and the characters of [`is_hidden`] escaped, as
/// `{:?}` does for the text this crate's messages name, without the Unicode tables `Debug` for
/// strings brings into the wasm.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        write_escaped(f, self.0, true)?;
        f.write_str("\"")
    }
}

/// Shows text as it is but for the characters of [`is_hidden`], escaped: text a message
/// carries whole (a runtime's error message), on one line of the log.
#[cfg(any(feature = "store", feature = "gateway"))] // its reader: the store's bindings
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

#[cfg(any(feature = "store", feature = "gateway"))]
impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{:?}` (an `unwrap`, a log line) shows the code and the message, never the claims an
    /// `expired` carries: a sealed token's are the contents it hides.
    #[test]
    fn debug_never_shows_the_claims() {
        let e = Error::Expired {
            exp: 1_800_000_060,
            claims: r#"{"ssn":"078-05-1120"}"#.into(),
        };
        let shown = format!("{e:?}");
        assert_eq!(
            shown,
            r#"Error { code: "expired", message: token expired at 1800000060 }"#
        );
        let claims: Option<serde_json::Value> = e.claims();
        assert_eq!(claims.unwrap()["ssn"], "078-05-1120");
    }
}
