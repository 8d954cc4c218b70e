//! JWT HS256 on `SessionTokens` for JavaScript.

use wasm_bindgen::prelude::*;

use super::claims::{optional_string, with_verify_options};
use super::thrown::claims_or_thrown;
use super::tokens::{detailed, Claims, SessionTokens, VerifyOptions};
use super::{
    call_now, call_option, call_option_seconds, js_error, json_or_invalid, now_or_clock,
    read_call_options, CallOption, CallOptions,
};
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
}

#[wasm_bindgen]
impl SessionTokens {
    /// Signs `claims` as a JWT HS256 (keyed with the secret's decoded bytes, `kid` header when the ring has
    /// more than one key), adding `iat`, `exp` and the `iss`/`aud` given in the options.
    #[wasm_bindgen(js_name = signJwt)]
    pub fn sign_jwt(
        &self,
        claims: Claims,
        options: Option<JwtSignOptions>,
    ) -> Result<String, JsValue> {
        let json = json_or_invalid(
            &claims,
            "claims must be a JSON object",
            self.max_token_bytes(),
        )?;
        let (now, ttl_seconds, issuer, audience) = match &options {
            None => (now_or_clock(None)?, None, None, None),
            Some(o) => {
                read_call_options(o, CallOptions::SignJwt)?;
                (
                    call_now()?,
                    call_option_seconds(CallOption::TtlSeconds, "ttlSeconds")?,
                    optional_string("issuer", call_option(CallOption::Issuer))?,
                    optional_string("audience", call_option(CallOption::Audience))?,
                )
            }
        };
        let options = CoreSignOptions {
            now,
            ttl_seconds,
            issuer: issuer.as_deref(),
            audience: audience.as_deref(),
        };
        self.core.sign_jwt_json(&json, &options).map_err(js_error)
    }

    /// Verifies a JWT HS256 and returns its claims; throws an error with `.code` otherwise
    /// (`unsupported_alg` for any `alg` but HS256, `wrong_issuer`, `wrong_audience`, `revoked`...).
    // Exported as `__verifyJwt`, which scripts/glue.mjs names `verifyJwt` once it reads the claims
    // or throws the error (src/js/thrown.rs): a glue left as wasm-bindgen wrote it has no
    // `verifyJwt`, rather than one answering a number for a forged token.
    #[wasm_bindgen(js_name = __verifyJwt, unchecked_return_type = "VerifiedJwtClaims")]
    pub fn verify_jwt(&self, token: &str, options: Option<VerifyOptions>) -> f64 {
        claims_or_thrown(with_verify_options(options.as_deref(), |o| {
            self.core.verify_jwt_claims(token, o)
        }))
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
