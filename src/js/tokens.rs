//! `SessionTokens` for JavaScript.

use wasm_bindgen::prelude::*;

use super::claims::with_verify_options;
use super::config::token_config;
use super::{js_error, now_or_clock, parse, seconds, stringify};
use crate::token::{SessionTokens as Core, Verified};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A key of the keyring: the first key signs, all keys verify. */
export interface KeyConfig {
  /** Key id carried in each token: 1 to 64 characters of A-Z a-z 0-9 . _ - */
  id: string;
  /** base64url secret, at least 32 bytes once decoded. */
  secret: string;
}

/** Options of `new SessionTokens(...)`. */
export interface SessionTokensConfig {
  keys: KeyConfig[];
  /** Lifetime of new tokens in seconds (default 3600). */
  ttlSeconds?: number;
  /** Tolerated clock skew in seconds (default 30). */
  leewaySeconds?: number;
  /** What the tokens are for: tokens of one purpose never verify as another (default "session"). */
  purpose?: string;
  /** Longer tokens are refused with `too_large` before decoding (default 4096). */
  maxTokenBytes?: number;
  /** `refresh` re-issues a token past this share of its lifetime, 0 to 1 (default 0.5). */
  refreshAfter?: number;
  /** No refreshed token lives past its login (`auth_time`) plus this (default 7 days, or ttlSeconds if longer). */
  maxLifetimeSeconds?: number;
}

/** Claims: any JSON object. `iat` and `exp` are set by `sign`; `nbf` is honoured. */
export type Claims = { [name: string]: unknown };

/** Verified claims, with the times `sign` added. */
export type VerifiedClaims = Claims & { iat: number; exp: number; nbf?: number };

export interface SignOptions {
  /** The current time in seconds since the epoch (default: the clock). */
  now?: number;
  /** Lifetime of this token in seconds (default: the configured ttlSeconds). */
  ttlSeconds?: number;
}

export interface VerifyOptions {
  /** The current time in seconds since the epoch (default: the clock). */
  now?: number;
  /** When set, `iss` must equal it (`wrong_issuer`). */
  issuer?: string;
  /** When set, `aud` must be it or contain it (`wrong_audience`). */
  audience?: string;
  /** Revocation: tokens issued before this (seconds) are refused with `revoked`. */
  minIssuedAt?: MinIssuedAt;
}

export interface VerifiedToken {
  claims: VerifiedClaims;
  /** Id of the key that signed the token. */
  keyId: string;
  /** True when an older key signed the token: sign the claims again to move to the current key. */
  staleKey: boolean;
}

/** Codes of the errors thrown by this library, as `error.code`. */
export type ErrorCode =
  | "malformed" | "bad_signature" | "unknown_key" | "expired" | "not_yet_valid"
  | "wrong_purpose" | "too_large" | "invalid_config" | "invalid_claims"
  | "no_backend" | "backend_unavailable"
  | "unsupported_alg" | "wrong_issuer" | "wrong_audience" | "revoked" | "randomness_unavailable";

/** What this library throws: an `Error` with `name` "EdgeSessionError". */
export interface EdgeSessionError extends Error {
  name: "EdgeSessionError";
  /** The stable code (with the session store, also "conflict" and "store_unavailable"). */
  code: ErrorCode | "conflict" | "store_unavailable";
  /**
   * With `invalid_config`, the configuration option at fault by its name ("keys", "ttlSeconds",
   * "secret", "backends", "cookieName"...; inside `keys` or `backends`, the list's name);
   * absent when the error is not about one option (an unknown option, an option of a call).
   */
  setting?: string;
  /** With `expired`, the verified claims (offer a refresh or a fresh login). */
  claims?: VerifiedClaims;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "SessionTokensConfig")]
    pub type SessionTokensConfig;
    #[wasm_bindgen(typescript_type = "Claims")]
    pub type Claims;
    #[wasm_bindgen(typescript_type = "VerifiedClaims")]
    pub type VerifiedClaims;
    #[wasm_bindgen(typescript_type = "VerifiedToken")]
    pub type VerifiedToken;
    // Plain property stores: one crossing each, no try/catch wrapper as `Reflect.set` has.
    #[wasm_bindgen(method, setter = claims)]
    fn set_claims(this: &VerifiedToken, claims: &JsValue);
    #[wasm_bindgen(method, setter = keyId)]
    fn set_key_id(this: &VerifiedToken, id: &str);
    #[wasm_bindgen(method, setter = staleKey)]
    fn set_stale_key(this: &VerifiedToken, stale: bool);

    #[wasm_bindgen(typescript_type = "SignOptions")]
    pub type SignOptions;
    #[wasm_bindgen(method, getter)]
    fn now(this: &SignOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = ttlSeconds)]
    fn ttl_seconds(this: &SignOptions) -> Option<f64>;

    #[wasm_bindgen(typescript_type = "VerifyOptions")]
    pub type VerifyOptions;
}

/// Signs and verifies compact session tokens (HMAC-SHA256, base64url).
#[wasm_bindgen]
pub struct SessionTokens {
    pub(super) core: Core,
    ttl: u64,
}

#[wasm_bindgen]
impl SessionTokens {
    /// Checks the configuration; throws `invalid_config` naming the setting that is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(config: SessionTokensConfig) -> Result<SessionTokens, JsValue> {
        let config = token_config(&config)?;
        let ttl = config.ttl_seconds;
        let core = Core::new(config).map_err(js_error)?;
        Ok(SessionTokens { core, ttl })
    }

    /// Signs `claims`, adding `iat` and `exp`.
    pub fn sign(&self, claims: Claims, options: Option<SignOptions>) -> Result<String, JsValue> {
        let json = stringify(&claims).ok_or_else(|| {
            js_error(crate::Error::InvalidClaims(
                "claims must be a JSON object".into(),
            ))
        })?;
        let (now, ttl) = match &options {
            Some(o) => (o.now(), o.ttl_seconds()),
            None => (None, None),
        };
        let now = now_or_clock(now)?;
        let ttl = ttl.map_or(Ok(self.ttl), |t| seconds("ttlSeconds", t))?;
        self.core.sign_json(&json, now, ttl).map_err(js_error)
    }

    /// Verifies `token` and returns its claims; throws an error with `.code` otherwise.
    pub fn verify(
        &self,
        token: &str,
        options: Option<VerifyOptions>,
    ) -> Result<VerifiedClaims, JsValue> {
        let verified =
            with_verify_options(options.as_deref(), |o| self.core.verify_json_with(token, o))?;
        Ok(parse(&verified.claims)?.unchecked_into())
    }

    /// Like `verify`, also returning the id of the signing key and whether it is stale.
    #[wasm_bindgen(js_name = verifyDetailed)]
    pub fn verify_detailed(
        &self,
        token: &str,
        options: Option<VerifyOptions>,
    ) -> Result<VerifiedToken, JsValue> {
        let v = with_verify_options(options.as_deref(), |o| self.core.verify_json_with(token, o))?;
        detailed(&v)
    }
}

/// The `VerifiedToken` of `verifyDetailed`.
pub(super) fn detailed(v: &Verified<String>) -> Result<VerifiedToken, JsValue> {
    let out: VerifiedToken = js_sys::Object::new().unchecked_into();
    out.set_claims(&parse(&v.claims)?);
    out.set_key_id(&v.key_id);
    out.set_stale_key(v.stale_key);
    Ok(out)
}
