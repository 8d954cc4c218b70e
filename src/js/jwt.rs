//! JWT HS256 on `SessionTokens` for JavaScript.

use wasm_bindgen::prelude::*;

use super::claims::{optional_string, with_verify_options};
use super::object::claims_to_js;
use super::tokens::{detailed, Claims, SessionTokens, VerifyOptions};
use super::{js_error, known_options, now_or_clock, seconds, stringify, CallOptions};
use crate::error::Error;
use crate::token::jwt::JwtSignOptions as CoreSignOptions;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
export interface JwtSignOptions extends SignOptions {
  /** Sets the `iss` claim. */
  issuer?: string;
  /** Sets the `aud` claim. */
  audience?: string;
}

/** The claims of a verified JWT, as signed: `exp` is always there (a JWT without it is refused). */
export type VerifiedJwtClaims = Claims & {
  exp: number;
  iat?: number;
  nbf?: number;
  iss?: string;
  aud?: string | string[];
};

/** What `verifyJwtDetailed` returns. */
export interface VerifiedJwt {
  claims: VerifiedJwtClaims;
  /** Id of the key that verified the token. */
  keyId: string;
  /** True when an older key signed the token: sign it again to move to the current key. */
  staleKey: boolean;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "JwtSignOptions")]
    pub type JwtSignOptions;
    #[wasm_bindgen(method, getter)]
    fn now(this: &JwtSignOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = ttlSeconds)]
    fn ttl_seconds(this: &JwtSignOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    fn issuer(this: &JwtSignOptions) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn audience(this: &JwtSignOptions) -> JsValue;

    #[wasm_bindgen(typescript_type = "VerifiedJwtClaims")]
    pub type VerifiedJwtClaims;
}

#[wasm_bindgen]
impl SessionTokens {
    /// Signs `claims` as a JWT HS256 (keyed with the raw secret, `kid` header when the ring has
    /// more than one key), adding `iat`, `exp` and the `iss`/`aud` given in the options.
    #[wasm_bindgen(js_name = signJwt)]
    pub fn sign_jwt(
        &self,
        claims: Claims,
        options: Option<JwtSignOptions>,
    ) -> Result<String, JsValue> {
        let json = stringify(&claims)
            .ok_or_else(|| js_error(Error::InvalidClaims("claims must be a JSON object".into())))?;
        let (mut now, mut ttl, mut issuer, mut audience) = (None, None, None, None);
        if let Some(o) = &options {
            known_options(o, CallOptions::SignJwt)?;
            now = o.now();
            ttl = o
                .ttl_seconds()
                .map(|t| seconds("ttlSeconds", t))
                .transpose()?;
            issuer = optional_string("issuer", o.issuer())?;
            audience = optional_string("audience", o.audience())?;
        }
        let options = CoreSignOptions {
            now: now_or_clock(now)?,
            ttl_seconds: ttl,
            issuer: issuer.as_deref(),
            audience: audience.as_deref(),
        };
        self.core.sign_jwt_json(&json, &options).map_err(js_error)
    }

    /// Verifies a JWT HS256 and returns its claims; throws an error with `.code` otherwise
    /// (`unsupported_alg` for any `alg` but HS256, `wrong_issuer`, `wrong_audience`, `revoked`...).
    #[wasm_bindgen(js_name = verifyJwt)]
    pub fn verify_jwt(
        &self,
        token: &str,
        options: Option<VerifyOptions>,
    ) -> Result<VerifiedJwtClaims, JsValue> {
        let claims = with_verify_options(options.as_deref(), |o| {
            self.core.verify_jwt_claims(token, o)
        })?;
        Ok(claims_to_js(&claims)?.unchecked_into())
    }

    /// Like `verifyJwt`, also returning the id of the key that verified the token and whether
    /// it is stale.
    #[wasm_bindgen(js_name = verifyJwtDetailed, unchecked_return_type = "VerifiedJwt")]
    pub fn verify_jwt_detailed(
        &self,
        token: &str,
        options: Option<VerifyOptions>,
    ) -> Result<JsValue, JsValue> {
        let v = with_verify_options(options.as_deref(), |o| self.core.verify_jwt_json(token, o))?;
        Ok(detailed(&v)?.into())
    }
}
