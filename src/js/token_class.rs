//! One definition of the JavaScript token classes: `SessionTokens` (compact tokens) and
//! `SealedTokens` (claims encrypted) have the same constructor, `sign`, `verify`,
//! `verifyDetailed` and `refresh`, generated here over their core type; only their doc
//! comments (the TypeScript docs) differ.

use wasm_bindgen::prelude::*;

use super::tokens::{Claims, SignOptions};
use super::{
    call_now, call_option_seconds, json_or_invalid, now_or_clock, read_call_options, CallOption,
    CallOptions,
};
use crate::time::UnixTime;

/// The claims of a `sign` as JSON text, and its time and lifetime (`ttl` unless the options
/// give one).
pub(super) fn sign_args(
    claims: &Claims,
    options: Option<&SignOptions>,
    ttl: u64,
    max_token_bytes: usize,
) -> Result<(String, UnixTime, u64), JsValue> {
    let json = json_or_invalid(claims, "claims must be a JSON object", max_token_bytes)?;
    let Some(options) = options else {
        return Ok((json, now_or_clock(None)?, ttl));
    };
    read_call_options(options, CallOptions::Sign)?;
    let now = call_now()?;
    let ttl = call_option_seconds(CallOption::TtlSeconds, "ttlSeconds")?.unwrap_or(ttl);
    Ok((json, now, ttl))
}

/// The answer of `refresh`: the new token, or `null`.
pub(super) fn refreshed(fresh: Option<String>) -> JsValue {
    fresh.map_or(JsValue::NULL, JsValue::from)
}

/// A JavaScript token class over a core type with `new`, `sign_json`, `verify_json_with` and
/// `refresh_with`. Each doc comment is given, in order: class, `sign`, `verify`,
/// `verifyDetailed`, `refresh`.
macro_rules! token_class {
    (
        $(#[doc = $class_doc:tt])*
        pub struct $class:ident(core: $core:ty);
        $(#[doc = $sign_doc:tt])* sign;
        $(#[doc = $verify_doc:tt])* verify;
        $(#[doc = $detailed_doc:tt])* verify_detailed;
        $(#[doc = $refresh_doc:tt])* refresh;
    ) => {
        $(#[doc = $class_doc])*
        #[wasm_bindgen]
        pub struct $class {
            pub(super) core: $core,
            ttl: u64,
            /// `maxTokenBytes`, for the glue's check of a token's length before its copy.
            max_token_bytes: usize,
        }

        #[wasm_bindgen]
        impl $class {
            /// Checks the configuration; throws `invalid_config` naming the setting that is wrong.
            #[wasm_bindgen(constructor)]
            pub fn new(
                config: $crate::js::tokens::SessionTokensConfig,
            ) -> Result<$class, JsValue> {
                let config = $crate::js::config::token_config(&config)?;
                let (ttl, max_token_bytes) = (config.ttl_seconds, config.max_token_bytes);
                let core = <$core>::new(config).map_err($crate::js::js_error)?;
                Ok($class {
                    core,
                    ttl,
                    max_token_bytes,
                })
            }

            // The glue's constructor reads `maxTokenBytes` once, and a method taking a token
            // (`verify`, `verifyJwt`, `verifyDetailed`, `refresh`) throws `__tooLarge`'s error
            // for a string longer than that before copying it into the wasm memory, which never
            // shrinks (scripts/glue.mjs takes both methods off the class).
            #[doc(hidden)]
            #[wasm_bindgen(js_name = __maxTokenBytes, skip_typescript)]
            pub fn max_token_bytes(&self) -> usize {
                self.max_token_bytes
            }

            #[doc(hidden)]
            #[wasm_bindgen(js_name = __tooLarge, skip_typescript)]
            pub fn too_large(&self, len: usize) -> JsValue {
                $crate::js::js_error($crate::error::Error::TooLarge {
                    len,
                    max: self.max_token_bytes,
                })
            }

            $(#[doc = $sign_doc])*
            pub fn sign(
                &self,
                claims: $crate::js::tokens::Claims,
                options: Option<$crate::js::tokens::SignOptions>,
            ) -> Result<String, JsValue> {
                let (json, now, ttl) =
                    $crate::js::token_class::sign_args(&claims, options.as_ref(), self.ttl, self.max_token_bytes)?;
                self.core
                    .sign_json(&json, now, ttl)
                    .map_err($crate::js::js_error)
            }

            $(#[doc = $verify_doc])*
            // The token is taken as a `String`: the copy wasm-bindgen makes of it is decoded
            // in place and the claims written over it. Exported as `__verify`, which
            // scripts/glue.mjs names `verify` once it reads the claims or throws the error
            // (src/js/thrown.rs): a glue left as wasm-bindgen wrote it has no `verify`, rather
            // than one answering a number for a forged token.
            #[wasm_bindgen(js_name = __verify, unchecked_return_type = "VerifiedClaims")]
            pub fn verify(
                &self,
                token: String,
                options: Option<$crate::js::tokens::VerifyOptions>,
            ) -> f64 {
                $crate::js::thrown::claims_or_thrown(
                    $crate::js::claims::with_verify_options(options.as_deref(), |o| {
                        self.core.verify_claims_with(token, o)
                    }),
                )
            }

            $(#[doc = $detailed_doc])*
            #[wasm_bindgen(js_name = verifyDetailed)]
            pub fn verify_detailed(
                &self,
                token: &str,
                options: Option<$crate::js::tokens::VerifyOptions>,
            ) -> Result<$crate::js::tokens::VerifiedToken, JsValue> {
                let v = $crate::js::claims::with_verify_options(options.as_deref(), |o| {
                    self.core.verify_json_with(token, o)
                })?;
                $crate::js::tokens::detailed(&v)
            }

            $(#[doc = $refresh_doc])*
            #[wasm_bindgen(unchecked_return_type = "string | null")]
            pub fn refresh(
                &self,
                token: &str,
                options: Option<$crate::js::tokens::VerifyOptions>,
            ) -> Result<JsValue, JsValue> {
                let fresh = $crate::js::claims::with_verify_options(options.as_deref(), |o| {
                    self.core.refresh_with(token, o)
                })?;
                Ok($crate::js::token_class::refreshed(fresh))
            }
        }
    };
}
pub(super) use token_class;
