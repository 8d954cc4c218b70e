//! `SealedTokens` for JavaScript: the API of `SessionTokens`, the claims encrypted.

use wasm_bindgen::prelude::*;

use super::claims::with_verify_options;
use super::config::token_config;
use super::tokens::{
    detailed, Claims, SessionTokensConfig, SignOptions, VerifiedClaims, VerifiedToken,
    VerifyOptions,
};
use super::{js_error, now_or_clock, parse, seconds, stringify};
use crate::error::Error;
use crate::token::SealedTokens as Core;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(method, getter, js_name = now)]
    fn sign_now(this: &SignOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = ttlSeconds)]
    fn sign_ttl_seconds(this: &SignOptions) -> Option<f64>;
}

/// Seals and opens encrypted session tokens (XChaCha20-Poly1305, base64url): the browser holds
/// the token but cannot read its claims. Same configuration and methods as `SessionTokens`.
#[wasm_bindgen]
pub struct SealedTokens {
    core: Core,
    ttl: u64,
}

#[wasm_bindgen]
impl SealedTokens {
    /// Checks the configuration; throws `invalid_config` naming the setting that is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(config: SessionTokensConfig) -> Result<SealedTokens, JsValue> {
        let config = token_config(&config)?;
        let ttl = config.ttl_seconds;
        let core = Core::new(config).map_err(js_error)?;
        Ok(SealedTokens { core, ttl })
    }

    /// Seals `claims`, adding `iat` and `exp`.
    pub fn sign(&self, claims: Claims, options: Option<SignOptions>) -> Result<String, JsValue> {
        let json = stringify(&claims)
            .ok_or_else(|| js_error(Error::InvalidClaims("claims must be a JSON object".into())))?;
        let (now, ttl) = match &options {
            Some(o) => (o.sign_now(), o.sign_ttl_seconds()),
            None => (None, None),
        };
        let now = now_or_clock(now)?;
        let ttl = ttl.map_or(Ok(self.ttl), |t| seconds("ttlSeconds", t))?;
        self.core.sign_json(&json, now, ttl).map_err(js_error)
    }

    /// Opens `token` and returns its claims; throws an error with `.code` otherwise.
    pub fn verify(
        &self,
        token: &str,
        options: Option<VerifyOptions>,
    ) -> Result<VerifiedClaims, JsValue> {
        let v = with_verify_options(options.as_deref(), |o| self.core.verify_json_with(token, o))?;
        Ok(parse(&v.claims)?.unchecked_into())
    }

    /// Like `verify`, also returning the id of the sealing key and whether it is stale.
    #[wasm_bindgen(js_name = verifyDetailed)]
    pub fn verify_detailed(
        &self,
        token: &str,
        options: Option<VerifyOptions>,
    ) -> Result<VerifiedToken, JsValue> {
        let v = with_verify_options(options.as_deref(), |o| self.core.verify_json_with(token, o))?;
        detailed(&v)
    }

    /// A replacement token when one is due (see `SessionTokens.refresh`); `null` otherwise.
    #[wasm_bindgen(unchecked_return_type = "string | null")]
    pub fn refresh(&self, token: &str, options: Option<VerifyOptions>) -> Result<JsValue, JsValue> {
        let fresh = with_verify_options(options.as_deref(), |o| self.core.refresh_with(token, o))?;
        Ok(fresh.map_or(JsValue::NULL, JsValue::from))
    }
}
