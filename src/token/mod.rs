//! The token core: the facades [`SessionTokens`] (compact tokens, and JWTs with the same
//! keyring) and [`SealedTokens`] (claims encrypted), configured by one [`TokenConfig`].
//!
//! Dependencies point one way. The leaves: [`claims`] (what a verified token claims, and the
//! checks on it) and `envelope` (the key id and the times every binary token carries before
//! its claims). The formats, over the leaves: `compact`, [`sealed`], [`jwt`]. On top:
//! [`refresh`] (when and how a token is re-issued) and the facades here, which hold the
//! settings and call the formats.
//!
//! Both facades are written once: a private `Facade<F>` over a private `Format` trait (new,
//! sign, verify, verify with options, refresh, `Debug`), implemented by the compact and the
//! sealed format. The public types forward to it with their own docs; [`SessionTokens`] adds
//! the JWT methods over the same keyring.
//!
// Without `sealed`, the links above to what it gates lead to the crate's feature list (link
// reference definitions: they need the empty line above, which ends the paragraph).
#![cfg_attr(
    not(feature = "sealed"),
    doc = "[`sealed`]: crate#features",
    doc = "[`SealedTokens`]: crate#features"
)]

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod assertion;
pub mod claims;
mod compact;
mod envelope;
pub mod jwt;
pub mod refresh;
#[cfg(feature = "sealed")]
pub mod sealed;

pub use self::claims::Verified;

use self::claims::{claims_json, claims_object, typed, VerifyOptions};
use self::compact::Compact;
use self::envelope::{check_size, check_ttl};
use self::jwt::{JwtKeys, JwtSignOptions};
use self::refresh::{RefreshPolicy, DEFAULT_MAX_LIFETIME_SECONDS};
#[cfg(feature = "sealed")]
use self::sealed::Sealed;
use crate::error::{Error, Result};
use crate::json::Object;
use crate::keys::{KeyConfig, KeyRing};
use crate::time::UnixTime;

/// Settings of a [`SessionTokens`]; field names match the JavaScript options (camelCase).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenConfig {
    /// The keyring, signing key first.
    pub keys: Vec<KeyConfig>,
    /// Lifetime of a new token, in seconds: 1 to [`MAX_TTL`](crate::time::MAX_TTL)
    /// (2^53 - 1 - 8.64e12). Default 3600.
    #[serde(default = "defaults::ttl")]
    pub ttl_seconds: u64,
    /// Tolerated clock skew, in seconds, on both `exp` and `iat`/`nbf`. Default 30.
    #[serde(default = "defaults::leeway")]
    pub leeway_seconds: u64,
    /// What the tokens are for; compact and sealed tokens of one purpose never verify as
    /// another's. JWTs are not bound to it (HS256 keys them with the raw secret): bind them with
    /// an issuer and an audience. Default `"session"`.
    #[serde(default = "defaults::purpose")]
    pub purpose: String,
    /// Longer tokens are refused with `too_large` before any decoding. Default 4096.
    #[serde(default = "defaults::max_token_bytes")]
    pub max_token_bytes: usize,
    /// Sliding refresh: `refresh` re-issues a token once this share of its lifetime has passed
    /// (0 to 1). Default 0.5. See [`refresh`].
    #[serde(default = "defaults::refresh_after")]
    pub refresh_after: f64,
    /// Sliding refresh: no refreshed token lives past its login (`auth_time`) plus this many
    /// seconds: `ttl_seconds` to [`MAX_TTL`](crate::time::MAX_TTL). Default (`None`): 7 days, or
    /// `ttl_seconds` when longer.
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

    /// The longest a session lasts through refreshes: `max_lifetime_seconds`, by default 7 days
    /// (or `ttl_seconds` if longer).
    pub fn max_lifetime(&self) -> u64 {
        self.max_lifetime_seconds
            .unwrap_or(DEFAULT_MAX_LIFETIME_SECONDS.max(self.ttl_seconds))
    }
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
    tokens: Facade<Compact>,
    /// Raw-secret HMAC keys for JWT HS256 (see [`jwt`]).
    jwt_keys: JwtKeys,
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.tokens.debug("SessionTokens", f)
    }
}

impl SessionTokens {
    /// See `Facade::longest_session`.
    #[cfg(feature = "sealed")]
    pub(crate) fn longest_session(&self) -> u64 {
        self.tokens.longest_session()
    }

    /// Checks the configuration and derives the per-purpose keys.
    pub fn new(config: TokenConfig) -> Result<Self> {
        KeyRing::from_config(&config.keys).and_then(|ring| Self::of(&ring, &config))
    }

    /// Like [`SessionTokens::new`], with an already built keyring (`config.keys` is ignored).
    pub fn with_keyring(ring: &KeyRing, config: TokenConfig) -> Result<Self> {
        Self::of(ring, &config)
    }

    /// [`SessionTokens::with_keyring`] of a borrowed configuration: the callers drop theirs in
    /// one place, where each early return dropped what was left of it (a copy of the drop code
    /// each, in the JS wasm).
    fn of(ring: &KeyRing, config: &TokenConfig) -> Result<Self> {
        Ok(SessionTokens {
            tokens: Facade::new(ring, config)?,
            jwt_keys: JwtKeys::new(ring),
        })
    }

    /// Signs `claims` (any value serializing to a JSON object) with the current key, adding
    /// `iat = now` and `exp = now + ttlSeconds` (replacing any `iat`/`exp` given). An `nbf`
    /// claim, if present, must be a whole number of seconds before `exp` and is checked on
    /// verify.
    pub fn sign<T: Serialize + ?Sized>(&self, claims: &T, now: UnixTime) -> Result<String> {
        self.sign_with_ttl(claims, now, self.tokens.ttl)
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
        self.tokens.sign_json(claims, now, ttl)
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
        typed(self.verify_json(token, now)?)
    }

    /// Verification with the claims as JSON text (what the JavaScript face hands to
    /// `JSON.parse`).
    pub(crate) fn verify_json(&self, token: &str, now: UnixTime) -> Result<Verified<String>> {
        self.tokens.verify_json(token, now)
    }

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
        self.tokens.verify_json_with(token, options)
    }

    /// [`Self::verify_json_with`] of a token given away, when only the claims are wanted (the
    /// JavaScript `verify`): decoded in its own buffer, no key id made.
    #[cfg(feature = "js")]
    pub(crate) fn verify_claims_with(
        &self,
        token: String,
        options: &VerifyOptions<'_>,
    ) -> Result<String> {
        self.tokens.verify_claims_with(token, options)
    }

    /// A replacement for `token` when one is due (see [`refresh`]), `None` when the token
    /// should be kept; the errors of [`SessionTokens::verify`] otherwise.
    ///
    /// ```
    /// use edge_session::{KeyConfig, SessionTokens, TokenConfig};
    /// use serde_json::{json, Value};
    ///
    /// let tokens = SessionTokens::new(TokenConfig::new(vec![KeyConfig {
    ///     id: "k1".into(),
    ///     secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA".into(),
    /// }]))?; // ttlSeconds 3600, refreshAfter 0.5
    /// let token = tokens.sign(&json!({ "sub": "user-12345" }), 1_800_000_000)?;
    /// assert_eq!(tokens.refresh(&token, 1_800_001_000)?, None);
    /// let fresh = tokens.refresh(&token, 1_800_002_000)?.expect("past half its lifetime");
    /// let claims: Value = tokens.verify(&fresh, 1_800_002_000)?;
    /// assert_eq!(claims["exp"], 1_800_005_600);
    /// assert_eq!(claims["auth_time"], 1_800_000_000);
    /// # Ok::<(), edge_session::Error>(())
    /// ```
    pub fn refresh(&self, token: &str, now: UnixTime) -> Result<Option<String>> {
        self.refresh_with(token, &VerifyOptions::at(now))
    }

    /// [`SessionTokens::refresh`] with the checks of [`VerifyOptions`]: pass the revocation
    /// lookup here too, so that a revoked token is refused rather than refreshed.
    pub fn refresh_with(&self, token: &str, options: &VerifyOptions<'_>) -> Result<Option<String>> {
        self.tokens.refresh_with(token, options)
    }

    /// The replacement of a token already verified, and its lifetime, when one is due (for
    /// the gateway).
    #[cfg(feature = "sealed")]
    pub(crate) fn refresh_verified(
        &self,
        verified: &Verified<String>,
        now: UnixTime,
    ) -> Result<Option<(String, u64)>> {
        self.tokens.refresh_verified(verified, now)
    }

    /// Signs `claims` (any value serializing to a JSON object) as a JWT HS256 with the current
    /// key, adding `iat` and `exp` (replacing any given) and, when the options say so, `iss`
    /// and `aud`. An `nbf` claim must be a whole number of seconds before `exp`. See [`jwt`].
    pub fn sign_jwt<T: Serialize + ?Sized>(
        &self,
        claims: &T,
        options: &JwtSignOptions<'_>,
    ) -> Result<String> {
        self.sign_jwt_json(&claims_json(claims)?, options)
    }

    /// [`SessionTokens::sign_jwt`] with the claims as the text of a JSON object.
    pub(crate) fn sign_jwt_json(
        &self,
        claims: &str,
        options: &JwtSignOptions<'_>,
    ) -> Result<String> {
        let tokens = &self.tokens;
        let ttl = tokens
            .refresh
            .lifetime(options.ttl_seconds.unwrap_or(tokens.ttl))?;
        (self.jwt_keys).sign(claims, options, ttl, tokens.max_token_bytes)
    }

    /// Verifies a JWT HS256 and returns its claims (the payload as signed).
    pub fn verify_jwt<T: DeserializeOwned>(
        &self,
        token: &str,
        options: &VerifyOptions<'_>,
    ) -> Result<T> {
        self.verify_jwt_detailed(token, options).map(|v| v.claims)
    }

    /// [`SessionTokens::verify_jwt`], also telling which key signed the token.
    pub fn verify_jwt_detailed<T: DeserializeOwned>(
        &self,
        token: &str,
        options: &VerifyOptions<'_>,
    ) -> Result<Verified<T>> {
        typed(self.verify_jwt_json(token, options)?)
    }

    /// Verification with the payload as JSON text (what the JavaScript face hands to
    /// `JSON.parse`).
    pub(crate) fn verify_jwt_json(
        &self,
        token: &str,
        options: &VerifyOptions<'_>,
    ) -> Result<Verified<String>> {
        let tokens = &self.tokens;
        (self.jwt_keys).verify(token, options, tokens.leeway, tokens.max_token_bytes)
    }

    /// [`Self::verify_jwt_json`] when only the claims are wanted (the JavaScript `verifyJwt`):
    /// no key id made.
    #[cfg(feature = "js")]
    pub(crate) fn verify_jwt_claims(
        &self,
        token: &str,
        options: &VerifyOptions<'_>,
    ) -> Result<String> {
        let tokens = &self.tokens;
        let (claims, _) =
            (self.jwt_keys).verify_claims(token, options, tokens.leeway, tokens.max_token_bytes)?;
        Ok(claims)
    }
}

/// Seals and opens encrypted session tokens (see [`sealed`]): the API of [`SessionTokens`]
/// (without JWTs), the same [`TokenConfig`].
#[cfg(feature = "sealed")]
#[derive(Clone)]
pub struct SealedTokens {
    tokens: Facade<Sealed>,
}

#[cfg(feature = "sealed")]
impl std::fmt::Debug for SealedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.tokens.debug("SealedTokens", f)
    }
}

#[cfg(feature = "sealed")]
impl SealedTokens {
    /// See `Facade::longest_session`.
    pub(crate) fn longest_session(&self) -> u64 {
        self.tokens.longest_session()
    }

    /// Checks the configuration and derives the per-purpose keys.
    pub fn new(config: TokenConfig) -> Result<Self> {
        KeyRing::from_config(&config.keys).and_then(|ring| Self::of(&ring, &config))
    }

    /// Like [`SealedTokens::new`], with an already built keyring (`config.keys` is ignored).
    pub fn with_keyring(ring: &KeyRing, config: TokenConfig) -> Result<Self> {
        Self::of(ring, &config)
    }

    /// [`SealedTokens::with_keyring`] of a borrowed configuration (see [`SessionTokens::of`]).
    fn of(ring: &KeyRing, config: &TokenConfig) -> Result<Self> {
        Ok(SealedTokens {
            tokens: Facade::new(ring, config)?,
        })
    }

    /// Seals `claims` (any value serializing to a JSON object) with the current key, adding
    /// `iat = now` and `exp = now + ttlSeconds` (replacing any given); `nbf` is honoured.
    pub fn sign<T: Serialize + ?Sized>(&self, claims: &T, now: UnixTime) -> Result<String> {
        self.sign_with_ttl(claims, now, self.tokens.ttl)
    }

    /// [`SealedTokens::sign`] with a lifetime other than the configured one.
    pub fn sign_with_ttl<T: Serialize + ?Sized>(
        &self,
        claims: &T,
        now: UnixTime,
        ttl: u64,
    ) -> Result<String> {
        self.sign_json(&claims_json(claims)?, now, ttl)
    }

    /// Seals claims given as the text of a JSON object.
    pub(crate) fn sign_json(&self, claims: &str, now: UnixTime, ttl: u64) -> Result<String> {
        self.tokens.sign_json(claims, now, ttl)
    }

    /// Opens `token` at time `now` and returns its claims, `iat` and `exp` included.
    ///
    /// Checks, in order: size (`too_large`), format (`malformed`), key id (`unknown_key`),
    /// tag (`bad_signature`: wrong key, wrong purpose or any change), then time (`expired`,
    /// `not_yet_valid`).
    pub fn verify<T: DeserializeOwned>(&self, token: &str, now: UnixTime) -> Result<T> {
        self.verify_detailed(token, now).map(|v| v.claims)
    }

    /// [`SealedTokens::verify`], also telling which key sealed the token.
    pub fn verify_detailed<T: DeserializeOwned>(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<Verified<T>> {
        typed(self.verify_json(token, now)?)
    }

    /// [`SealedTokens::verify_detailed`] with more checks: issuer, audience, revocation.
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
        self.tokens.verify_json_with(token, options)
    }

    /// [`Self::verify_json_with`] of a token given away, when only the claims are wanted (the
    /// JavaScript `verify`): decoded in its own buffer, no key id made.
    #[cfg(feature = "js")]
    pub(crate) fn verify_claims_with(
        &self,
        token: String,
        options: &VerifyOptions<'_>,
    ) -> Result<String> {
        self.tokens.verify_claims_with(token, options)
    }

    /// Opening with the claims as JSON text.
    pub(crate) fn verify_json(&self, token: &str, now: UnixTime) -> Result<Verified<String>> {
        self.tokens.verify_json(token, now)
    }

    /// A replacement for `token` when one is due, as for [`SessionTokens::refresh`].
    pub fn refresh(&self, token: &str, now: UnixTime) -> Result<Option<String>> {
        self.refresh_with(token, &VerifyOptions::at(now))
    }

    /// [`SealedTokens::refresh`] with the checks of [`VerifyOptions`].
    pub fn refresh_with(&self, token: &str, options: &VerifyOptions<'_>) -> Result<Option<String>> {
        self.tokens.refresh_with(token, options)
    }

    /// The replacement of a token already verified, and its lifetime, when one is due.
    pub(crate) fn refresh_verified(
        &self,
        verified: &Verified<String>,
        now: UnixTime,
    ) -> Result<Option<(String, u64)>> {
        self.tokens.refresh_verified(verified, now)
    }
}

/// A token format under a facade: its keys derived from a ring for a purpose, sign, verify.
trait Format: Clone {
    fn new(ring: &KeyRing, purpose: &str) -> Self;
    /// The id of the key at `index` in the ring, the signing key first.
    fn key_id(&self, index: usize) -> Option<&str>;
    fn sign(&self, claims: Object<'_>, now: UnixTime, ttl: u64, max_bytes: usize)
        -> Result<String>;
    /// Verifies a token given away (decoded in its own buffer): the claims, and the position of
    /// the key in the ring.
    fn verify_owned(
        &self,
        token: String,
        now: UnixTime,
        leeway: u64,
        max_bytes: usize,
    ) -> Result<(String, usize)>;
    /// Verifies `token` (refused with `too_large` before it is copied): the claims, the id of
    /// the key and whether it is an older one.
    fn verify(
        &self,
        token: &str,
        now: UnixTime,
        leeway: u64,
        max_bytes: usize,
    ) -> Result<Verified<String>> {
        check_size(token, max_bytes)?;
        let (claims, index) = self.verify_owned(token.into(), now, leeway, max_bytes)?;
        Ok(Verified::by_key(claims, self.key_id(index), index))
    }
}

/// One `Format` impl per format, over its inherent methods.
macro_rules! format_impl {
    ($format:ty) => {
        impl Format for $format {
            fn new(ring: &KeyRing, purpose: &str) -> Self {
                <$format>::new(ring, purpose)
            }
            fn key_id(&self, index: usize) -> Option<&str> {
                self.keys.get(index).map(|(id, _)| id.as_str())
            }
            fn sign(
                &self,
                claims: Object<'_>,
                now: UnixTime,
                ttl: u64,
                max: usize,
            ) -> Result<String> {
                <$format>::sign(self, claims, now, ttl, max)
            }
            fn verify_owned(
                &self,
                token: String,
                now: UnixTime,
                leeway: u64,
                max: usize,
            ) -> Result<(String, usize)> {
                <$format>::verify_owned(self, token, now, leeway, max)
            }
        }
    };
}

format_impl!(Compact);
#[cfg(feature = "sealed")]
format_impl!(Sealed);

/// What [`SessionTokens`] and [`SealedTokens`] both are, written once over their format: the
/// settings of a [`TokenConfig`], sign, verify (with [`VerifyOptions`]), refresh, `Debug`.
#[derive(Clone)]
struct Facade<F> {
    format: F,
    ttl: u64,
    leeway: u64,
    max_token_bytes: usize,
    refresh: RefreshPolicy,
}

impl<F: Format> Facade<F> {
    /// How long after its login a session of these tokens still verifies at most: the longest
    /// life (`maxLifetimeSeconds`) and the leeway. The tokens signed here never get that far
    /// (a refresh stops at the longest life), but a JWT another system signed may.
    #[cfg(feature = "sealed")]
    fn longest_session(&self) -> u64 {
        self.refresh.max_lifetime().saturating_add(self.leeway)
    }

    /// Checks the configuration and derives the format's keys.
    fn new(ring: &KeyRing, config: &TokenConfig) -> Result<Self> {
        check_config(config)?;
        Ok(Facade {
            format: F::new(ring, &config.purpose),
            ttl: config.ttl_seconds,
            leeway: config.leeway_seconds,
            max_token_bytes: config.max_token_bytes,
            refresh: RefreshPolicy::new(
                config.refresh_after,
                config.max_lifetime(),
                config.ttl_seconds,
            )?,
        })
    }

    fn sign_json(&self, claims: &str, now: UnixTime, ttl: u64) -> Result<String> {
        let ttl = self.refresh.lifetime(ttl)?;
        self.sign_object(claims_object(claims)?, now, ttl)
    }

    fn sign_object(&self, claims: Object<'_>, now: UnixTime, ttl: u64) -> Result<String> {
        self.format.sign(claims, now, ttl, self.max_token_bytes)
    }

    fn verify_json(&self, token: &str, now: UnixTime) -> Result<Verified<String>> {
        // Milliseconds would read every token as expired, saying nothing of the clock (the JS
        // face checks its `now` once for every call).
        crate::time::check_now(now)?;
        self.format
            .verify(token, now, self.leeway, self.max_token_bytes)
    }

    fn verify_json_with(
        &self,
        token: &str,
        options: &VerifyOptions<'_>,
    ) -> Result<Verified<String>> {
        let verified = self
            .verify_json(token, options.now)
            .map_err(|e| options.vet(e))?;
        options.check_json(&verified.claims)?;
        Ok(verified)
    }

    /// [`Facade::verify_json_with`] of a token given away, without the key: the claims.
    #[cfg(feature = "js")]
    fn verify_claims_with(&self, token: String, options: &VerifyOptions<'_>) -> Result<String> {
        let (claims, _) = self
            .format
            .verify_owned(token, options.now, self.leeway, self.max_token_bytes)
            .map_err(|e| options.vet(e))?;
        options.check_json(&claims)?;
        Ok(claims)
    }

    fn refresh_with(&self, token: &str, options: &VerifyOptions<'_>) -> Result<Option<String>> {
        let verified = self.verify_json_with(token, options)?;
        let fresh = self.refresh_verified(&verified, options.now)?;
        Ok(fresh.map(|(token, _)| token))
    }

    fn refresh_verified(
        &self,
        verified: &Verified<String>,
        now: UnixTime,
    ) -> Result<Option<(String, u64)>> {
        self.refresh.reissue(verified, now, |claims, now, ttl| {
            self.sign_object(claims, now, ttl)
        })
    }

    /// `Debug` without secrets: the key ids and the settings.
    fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field(
                "key_ids",
                &(0..)
                    .map_while(|i| self.format.key_id(i))
                    .collect::<Vec<_>>(),
            )
            .field("ttl", &self.ttl)
            .field("leeway", &self.leeway)
            .field("max_token_bytes", &self.max_token_bytes)
            .finish_non_exhaustive()
    }
}

/// The checks shared by every token kind configured with a [`TokenConfig`].
fn check_config(config: &TokenConfig) -> Result<()> {
    check_purpose(&config.purpose)?;
    check_ttl(config.ttl_seconds)?;
    crate::time::check_leeway(config.leeway_seconds)?;
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

// Both tests seal as well as sign.
#[cfg(all(test, feature = "sealed"))]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: UnixTime = 1_800_000_000;

    fn config() -> TokenConfig {
        TokenConfig::new(vec![KeyConfig {
            id: "k1".into(),
            // 32 bytes of 0x01..0x20.
            secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA".into(),
        }])
    }

    /// What the JavaScript `verify` and `verifyJwt` return (the claims only, no key id made) is
    /// what `verify_with` returns, and they refuse what it refuses.
    #[cfg(feature = "js")]
    #[test]
    fn claims_only_verification_agrees_with_the_full_one() {
        let claims = json!({ "sub": "u", "iss": "me" });
        let at = VerifyOptions::at(NOW + 10).issuer("me");
        let elsewhere = VerifyOptions::at(NOW + 10).issuer("you");
        let compact = SessionTokens::new(config()).unwrap();
        let token = compact.sign(&claims, NOW).unwrap();
        let full = compact.verify_json_with(&token, &at).unwrap().claims;
        assert_eq!(compact.verify_claims_with(token.clone(), &at), Ok(full));
        assert_eq!(
            compact.verify_claims_with(token, &elsewhere),
            Err(Error::WrongIssuer)
        );
        let sealed = SealedTokens::new(config()).unwrap();
        let token = sealed.sign(&claims, NOW).unwrap();
        let full = sealed.verify_json_with(&token, &at).unwrap().claims;
        assert_eq!(sealed.verify_claims_with(token.clone(), &at), Ok(full));
        assert_eq!(
            sealed.verify_claims_with(token, &elsewhere),
            Err(Error::WrongIssuer)
        );
        let jwt = compact.sign_jwt(&claims, &JwtSignOptions::at(NOW)).unwrap();
        let full = compact.verify_jwt_json(&jwt, &at).unwrap().claims;
        assert_eq!(compact.verify_jwt_claims(&jwt, &at), Ok(full));
        assert_eq!(
            compact.verify_jwt_claims(&jwt, &elsewhere),
            Err(Error::WrongIssuer)
        );
    }

    /// The gateway refreshes a session it has verified already: `None` before the share of the
    /// lifetime, after it a token of the same claims that verifies, `iat = now`, `auth_time` the
    /// login's.
    #[test]
    fn a_verified_token_is_refreshed_when_due() {
        let claims = json!({ "sub": "u" });
        let compact = SessionTokens::new(config()).unwrap();
        let token = compact.sign(&claims, NOW).unwrap();
        let verified = compact.verify_json(&token, NOW).unwrap();
        assert_eq!(compact.refresh_verified(&verified, NOW + 1000), Ok(None));
        let (fresh, lifetime) = compact
            .refresh_verified(&verified, NOW + 2000)
            .unwrap()
            .unwrap();
        assert_eq!(lifetime, 3600);
        let got: serde_json::Value = compact.verify(&fresh, NOW + 2000).unwrap();
        let want = json!({ "sub": "u", "iat": NOW + 2000, "exp": NOW + 5600, "auth_time": NOW });
        assert_eq!(got, want);
        let sealed = SealedTokens::new(config()).unwrap();
        let token = sealed.sign(&claims, NOW).unwrap();
        let verified = sealed.verify_json(&token, NOW).unwrap();
        assert_eq!(sealed.refresh_verified(&verified, NOW + 1000), Ok(None));
        let (fresh, lifetime) = sealed
            .refresh_verified(&verified, NOW + 2000)
            .unwrap()
            .unwrap();
        assert_eq!(lifetime, 3600);
        let got: serde_json::Value = sealed.verify(&fresh, NOW + 2000).unwrap();
        assert_eq!(got, want);
    }
}
