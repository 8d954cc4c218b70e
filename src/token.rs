//! The compact session token: layout, sign, verify.
//!
//! A token is one base64url string (cookie-safe, no `.` needed) of these bytes:
//!
//! ```text
//! version   1 byte    = 1
//! purpose   1 byte    first byte of SHA-256("edge-session purpose:" + purpose); a hint only,
//!                     used to tell `wrong_purpose` from `bad_signature` after a failed MAC
//! kid, iat, ttl, nbf    the key id and the times (see [`crate::header`])
//! claims    the remaining claims as a JSON object (without iat, exp, nbf)
//! tag       16 bytes  HMAC-SHA256 of all the bytes above, truncated to 128 bits, keyed with
//!                     the key's HKDF subkey for the purpose
//! ```
//!
//! For `{"sub":"user-12345","role":"admin"}` that is 88 characters, half the length of the
//! same claims as a JWT HS256.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::codec::{b64_decode, b64_encode, Reader};
use crate::error::{Error, Result};
use crate::header::{find_key, read_kid, Times};
use crate::json::{self, Object};
use crate::jwt::JwtKeys;
use crate::keys::{signing_key, KeyConfig, KeyRing, MacKey, TAG_BYTES};
use crate::refresh::RefreshPolicy;
use crate::time::{UnixTime, MAX_TIME};

const VERSION: u8 = 1;
/// Bytes around the claims: version, purpose, kid length, at most three 8-byte varints, tag.
const MIN_TOKEN_BYTES: usize = 3 + 1 + 3 + TAG_BYTES;

/// Settings of a [`SessionTokens`]; field names match the JavaScript options (camelCase).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenConfig {
    /// The keyring, signing key first.
    pub keys: Vec<KeyConfig>,
    /// Lifetime of a new token, in seconds. Default 3600.
    #[serde(default = "defaults::ttl")]
    pub ttl_seconds: u64,
    /// Tolerated clock skew, in seconds, on both `exp` and `iat`/`nbf`. Default 30.
    #[serde(default = "defaults::leeway")]
    pub leeway_seconds: u64,
    /// What the tokens are for; tokens of one purpose never verify as another. Default
    /// `"session"`.
    #[serde(default = "defaults::purpose")]
    pub purpose: String,
    /// Longer tokens are refused with `too_large` before any decoding. Default 4096.
    #[serde(default = "defaults::max_token_bytes")]
    pub max_token_bytes: usize,
    /// Sliding refresh: `refresh` re-issues a token once this share of its lifetime has passed
    /// (0 to 1). Default 0.5. See [`crate::refresh`].
    #[serde(default = "defaults::refresh_after")]
    pub refresh_after: f64,
    /// Sliding refresh: no refreshed token lives past its login (`auth_time`) plus this many
    /// seconds. Default (`None`): 7 days, or `ttl_seconds` when longer.
    #[serde(default)]
    pub max_lifetime_seconds: Option<u64>,
}

mod defaults {
    pub fn ttl() -> u64 {
        3600
    }
    pub fn leeway() -> u64 {
        30
    }
    pub fn purpose() -> String {
        "session".into()
    }
    pub fn max_token_bytes() -> usize {
        4096
    }
    pub fn refresh_after() -> f64 {
        0.5
    }
}

impl TokenConfig {
    /// A configuration with the defaults and the given keys.
    pub fn new(keys: Vec<KeyConfig>) -> Self {
        TokenConfig {
            keys,
            ttl_seconds: defaults::ttl(),
            leeway_seconds: defaults::leeway(),
            purpose: defaults::purpose(),
            max_token_bytes: defaults::max_token_bytes(),
            refresh_after: defaults::refresh_after(),
            max_lifetime_seconds: None,
        }
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

/// Signs and verifies compact session tokens.
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
/// let claims: Value = tokens.verify(&token, 1_800_000_100)?;
/// assert_eq!(claims["sub"], "user-12345");
/// assert_eq!(claims["exp"], 1_800_003_600);
/// assert_eq!(tokens.verify::<Value>(&token, 1_800_004_000).unwrap_err().code(), "expired");
/// # Ok::<(), edge_session::Error>(())
/// ```
#[derive(Clone)]
pub struct SessionTokens {
    keys: Vec<(String, MacKey)>,
    purpose_hint: u8,
    pub(crate) ttl: u64,
    pub(crate) leeway: u64,
    pub(crate) max_token_bytes: usize,
    /// Raw-secret HMAC keys for JWT HS256 (see [`crate::jwt`]).
    pub(crate) jwt_keys: JwtKeys,
    pub(crate) refresh: RefreshPolicy,
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTokens")
            .field(
                "key_ids",
                &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .field("ttl", &self.ttl)
            .field("leeway", &self.leeway)
            .field("max_token_bytes", &self.max_token_bytes)
            .finish_non_exhaustive()
    }
}

impl SessionTokens {
    /// Checks the configuration and derives the per-purpose keys.
    pub fn new(config: TokenConfig) -> Result<Self> {
        let ring = KeyRing::from_config(&config.keys)?;
        Self::with_keyring(&ring, config)
    }

    /// Like [`SessionTokens::new`], with an already built keyring (`config.keys` is ignored).
    pub fn with_keyring(ring: &KeyRing, config: TokenConfig) -> Result<Self> {
        check_config(&config)?;
        Ok(SessionTokens {
            keys: ring.mac_keys(&format!("token:{}", config.purpose)),
            purpose_hint: purpose_hint(&config.purpose),
            ttl: config.ttl_seconds,
            leeway: config.leeway_seconds,
            max_token_bytes: config.max_token_bytes,
            jwt_keys: JwtKeys::new(ring),
            refresh: RefreshPolicy::from_config(&config)?,
        })
    }

    /// Signs `claims` (any value serializing to a JSON object) with the current key, adding
    /// `iat = now` and `exp = now + ttlSeconds` (replacing any `iat`/`exp` given). An `nbf`
    /// claim, if present, must be a whole number of seconds and is checked on verify.
    pub fn sign<T: Serialize + ?Sized>(&self, claims: &T, now: UnixTime) -> Result<String> {
        self.sign_with_ttl(claims, now, self.ttl)
    }

    /// [`SessionTokens::sign`] with a lifetime other than the configured one.
    pub fn sign_with_ttl<T: Serialize + ?Sized>(
        &self,
        claims: &T,
        now: UnixTime,
        ttl: u64,
    ) -> Result<String> {
        self.sign_json(&claims_json(claims)?, now, ttl)
    }

    /// Signs claims given as the text of a JSON object (the JavaScript face passes
    /// `JSON.stringify` output).
    pub(crate) fn sign_json(&self, claims: &str, now: UnixTime, ttl: u64) -> Result<String> {
        self.sign_object(claims_object(claims)?, now, ttl)
    }

    pub(crate) fn sign_object(
        &self,
        claims: Object<'_>,
        now: UnixTime,
        ttl: u64,
    ) -> Result<String> {
        let (times, json) = Times::stamp(claims, now, ttl)?;
        let (kid, key) = signing_key(&self.keys)?;
        let mut body = Vec::with_capacity(16 + kid.len() + json.len() + TAG_BYTES);
        body.extend([VERSION, self.purpose_hint]);
        times.write(kid, &mut body);
        body.extend_from_slice(json.as_bytes());
        let tag = key.tag(&body);
        body.extend_from_slice(&tag);

        let token = b64_encode(&body);
        check_size(&token, self.max_token_bytes)?;
        Ok(token)
    }

    /// Verifies `token` at time `now` and returns its claims, `iat` and `exp` included.
    ///
    /// Checks, in order: size (`too_large`), format (`malformed`), key id (`unknown_key`),
    /// signature (`bad_signature`, or `wrong_purpose`), then time (`expired`, `not_yet_valid`).
    pub fn verify<T: DeserializeOwned>(&self, token: &str, now: UnixTime) -> Result<T> {
        self.verify_detailed(token, now).map(|v| v.claims)
    }

    /// [`SessionTokens::verify`], also telling which key signed the token.
    pub fn verify_detailed<T: DeserializeOwned>(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<Verified<T>> {
        crate::claims::typed(self.verify_json(token, now)?)
    }

    /// Verification with the claims as JSON text (what the JavaScript face hands to
    /// `JSON.parse`).
    pub(crate) fn verify_json(&self, token: &str, now: UnixTime) -> Result<Verified<String>> {
        check_size(token, self.max_token_bytes)?;
        let bytes = b64_decode(token)?;
        if bytes.len() < MIN_TOKEN_BYTES {
            return Err(Error::Malformed("too short"));
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        let mut r = Reader::new(body);
        if r.byte()? != VERSION {
            return Err(Error::Malformed("unknown version"));
        }
        let hint = r.byte()?;
        let (index, (kid, key)) = find_key(&self.keys, read_kid(&mut r)?)?;
        if !key.verify(body, tag) {
            return Err(if hint == self.purpose_hint {
                Error::BadSignature
            } else {
                Error::WrongPurpose
            });
        }

        // Authentic from here on: what follows was written by `sign_object`.
        let times = Times::read(&mut r)?;
        times.verified(r.rest(), now, self.leeway, kid, index > 0)
    }
}

/// `{...claims}` → `{...claims,"iat":..,"exp":..[,"nbf":..]}`, without re-parsing the claims.
pub(crate) fn splice_times(json: &[u8], iat: u64, exp: u64, nbf: Option<u64>) -> Result<String> {
    let json = std::str::from_utf8(json).map_err(|_| Error::Malformed("claims are not UTF-8"))?;
    let inner = json
        .strip_prefix('{')
        .and_then(|j| j.strip_suffix('}'))
        .ok_or(Error::Malformed("claims are not a JSON object"))?;
    let mut out = String::with_capacity(json.len() + 48);
    out.push('{');
    if !inner.is_empty() {
        out.push_str(inner);
        out.push(',');
    }
    out.push_str("\"iat\":");
    json::write_u64(&mut out, iat);
    out.push_str(",\"exp\":");
    json::write_u64(&mut out, exp);
    if let Some(nbf) = nbf {
        out.push_str(",\"nbf\":");
        json::write_u64(&mut out, nbf);
    }
    out.push('}');
    Ok(out)
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

/// Claims to sign, given as the text of a JSON object.
pub(crate) fn claims_object(claims: &str) -> Result<Object<'_>> {
    Object::parse(claims).map_err(|e| Error::InvalidClaims(e.message("claims").into()))
}

/// The claims a token carries in its body, as JSON text, and its `nbf`: `iat` and `exp` are
/// dropped (the token's header carries them), `nbf` is moved to the header.
pub(crate) fn untimed(mut claims: Object<'_>) -> Result<(String, Option<UnixTime>)> {
    claims.remove("iat");
    claims.remove("exp");
    let nbf = claims.remove("nbf").map(|v| nbf_claim(&v)).transpose()?;
    Ok((claims.to_json(), nbf))
}

/// An `nbf` claim being signed: a whole number of seconds, at most [`MAX_TIME`].
pub(crate) fn nbf_claim(value: &str) -> Result<UnixTime> {
    let whole = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match json::floor_u64(value) {
        Some(n) if whole && n <= MAX_TIME => Ok(n),
        _ => Err(Error::InvalidClaims(
            "nbf must be a whole number of seconds".into(),
        )),
    }
}

fn purpose_hint(purpose: &str) -> u8 {
    let [hint, ..]: [u8; 32] = Sha256::new()
        .chain_update("edge-session purpose:")
        .chain_update(purpose)
        .finalize()
        .into();
    hint
}

/// The checks shared by every token kind configured with a [`TokenConfig`].
pub(crate) fn check_config(config: &TokenConfig) -> Result<()> {
    check_purpose(&config.purpose)?;
    check_ttl(config.ttl_seconds)?;
    if config.leeway_seconds > 86_400 {
        return Err(Error::config_of(
            "leewaySeconds",
            "leewaySeconds must be at most 86400",
        ));
    }
    if !(128..=1 << 20).contains(&config.max_token_bytes) {
        return Err(Error::config_of(
            "maxTokenBytes",
            "maxTokenBytes must be between 128 and 1048576",
        ));
    }
    Ok(())
}

fn check_purpose(purpose: &str) -> Result<()> {
    if purpose.is_empty() || purpose.len() > 64 {
        return Err(Error::config_of("purpose", "purpose must be 1 to 64 bytes"));
    }
    Ok(())
}

/// Refuses a token (to sign or to verify) longer than `max` bytes with `too_large`, before any
/// decoding.
pub(crate) fn check_size(token: &str, max: usize) -> Result<()> {
    if token.len() > max {
        return Err(Error::TooLarge {
            len: token.len(),
            max,
        });
    }
    Ok(())
}

pub(crate) fn check_ttl(ttl: u64) -> Result<()> {
    if ttl == 0 || ttl > MAX_TIME {
        return Err(Error::config_of(
            "ttlSeconds",
            "ttlSeconds must be a positive whole number of seconds",
        ));
    }
    Ok(())
}

pub(crate) fn check_time(what: &str, t: UnixTime) -> Result<()> {
    if t > MAX_TIME {
        return Err(Error::config(format!(
            "{what} must be at most 2^53 - 1 seconds"
        )));
    }
    Ok(())
}
