//! `OriginAssertions` for JavaScript (feature `assertion`): the signed assertions the gateway's
//! `ORIGIN_ASSERTION` sends to origins, made, published and verified by a JS worker that proxies
//! itself. Keys, claims, JWS and the reuse cache are [`crate::token::assertion`]'s; the
//! signatures are WebCrypto's ([`crate::webcrypto`]). Async methods return Promises.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::claims::optional_string;
use super::config::assertion_config;
use super::{
    call_now, call_option, call_option_seconds, given, js_error, json_or_invalid, parse,
    read_call_options, CallOption, CallOptions,
};
use crate::error::Error;
use crate::json;
use crate::token::assertion::{
    check_data, data_sha256, jwks, AssertionCache, AssertionClaims, AssertionKey, PublicJwk,
    UntrustedAssertion, CACHE_ENTRIES, DATA_CLAIM, MAX_BYTES,
};
use crate::webcrypto;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/**
 * A private JWK with a `kid`: `{ kty: "OKP", crv: "Ed25519", d, kid }` or `{ kty: "EC", crv:
 * "P-256", d, kid }`, as `{ ...await crypto.subtle.exportKey("jwk", key), kid }` gives it (whose
 * members WebCrypto's types leave optional); any other is refused, `invalid_config`.
 */
export interface PrivateJwk {
  kty?: "OKP" | "EC" | (string & {});
  crv?: "Ed25519" | "P-256" | (string & {});
  d?: string;
  kid: string;
  [member: string]: unknown;
}

/** Options of `new OriginAssertions(...)`: `keys` or `privateKeys`, not both. */
export type OriginAssertionsConfig = OriginAssertionsOptions & (
  | {
      /** Keys derived from these as the gateway derives them from SESSION_KEYS (the same `kid`s, `<id>-<alg>-<tag of the secret>`; the first signs). */
      keys: KeyConfig[];
      privateKeys?: never;
    }
  | {
      /** Explicit private keys, the signing one first, each `kid` once. */
      privateKeys: PrivateJwk[];
      keys?: never;
    }
);

/** The options of `OriginAssertionsConfig` besides its keys. */
export interface OriginAssertionsOptions {
  /** The signature algorithm: Ed25519 or ECDSA P-256 (WebCrypto). */
  alg: "EdDSA" | "ES256";
  /** The `iss` of the assertions: your public origin, `https://app.example`. */
  issuer: string;
  /** Lifetime of an assertion, seconds (1 to 300; default 300). */
  lifetimeSeconds?: number;
}

/** What an assertion is about. */
export interface AssertionSubject {
  /** The origin it goes to (`aud`). */
  audience: string;
  /** `none`, `valid`, `expired`, `invalid`, `revoked` or `unbound`, as the gateway's `x-session-status` (default `valid` with claims, else `none`). */
  status?: string;
  /** The session's verified claims (`sub`, `sid`...), a JSON object (else `invalid_claims`); its `iss`, `aud`, `iat`, `exp`, `nbf`, `jti` and `data_sha256` are left out. */
  claims?: object;
  /** The session data the origin gets with it (the `x-session-data` text): the assertion carries its SHA-256 as `data_sha256`, as the gateway's does. */
  data?: string;
  /** Unix seconds, at most 10^11 (not milliseconds); default the clock. */
  now?: number;
}

export interface AssertionVerifyOptions {
  /** The origin that verifies (its `aud`). */
  audience: string;
  /** Unix seconds, at most 10^11 (not milliseconds); default the clock. */
  now?: number;
  /** Clock skew tolerated on `exp` and `iat`, seconds (default 0, at most 86400). */
  leewaySeconds?: number;
  /** The session data that came with the assertion (the `x-session-data` text): refused with `bad_signature` unless the assertion's `data_sha256` is its SHA-256. Absent or `null`: not checked. */
  data?: string | null;
}

/** The claims of a verified assertion. */
export type AssertionClaims = Claims & { iss: string; aud: string; iat: number; exp: number; status: string };

/** A public JWK as published in the JWKS. */
export interface PublicJwk {
  kty: "OKP" | "EC";
  crv: "Ed25519" | "P-256";
  x: string;
  y?: string;
  kid: string;
  alg: "EdDSA" | "ES256";
  use: "sig";
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "OriginAssertionsConfig")]
    pub type OriginAssertionsConfig;
    #[wasm_bindgen(typescript_type = "AssertionSubject")]
    pub type AssertionSubject;
    #[wasm_bindgen(typescript_type = "AssertionVerifyOptions")]
    pub type AssertionVerifyOptions;
    #[wasm_bindgen(typescript_type = "Promise<string>")]
    pub type PromiseString;
    #[wasm_bindgen(typescript_type = "Promise<{ keys: PublicJwk[] }>")]
    pub type PromiseJwks;
    #[wasm_bindgen(typescript_type = "Promise<AssertionClaims>")]
    pub type PromiseClaims;
}

/// The public keys, each with its WebCrypto key for verifying.
type PublicKeys = Rc<Vec<(PublicJwk, JsValue)>>;

struct State {
    keys: Vec<AssertionKey>,
    issuer: String,
    lifetime: u64,
    signing: RefCell<Option<JsValue>>,
    public: RefCell<Option<PublicKeys>>,
    cache: RefCell<AssertionCache>,
}

/// Signed identity assertions for origins, as the gateway's `ORIGIN_ASSERTION` makes them: a JWT
/// (EdDSA or ES256) with `iss`, `aud`, `iat`, `exp`, `status` and the session's claims, for the
/// `x-session-assertion` header; the public keys as a JWKS; and verification.
#[wasm_bindgen]
pub struct OriginAssertions {
    state: Rc<State>,
}

/// The option `what` (its name the error's `.setting`): a string of text. One with a lone
/// surrogate is not: read with U+FFFD for it, `"o\uD800"` and `"o\uDC00"` were one audience.
fn text(value: JsValue, what: &'static str) -> Result<String, JsValue> {
    super::text(&value)
        .ok_or_else(|| js_error(Error::config_of(what, format!("{what} must be a string"))))
}

/// `claims` as the JSON text of one object of text, else `invalid_claims` (as tokens' `sign`
/// says): claims left out would sign a `"valid"` status of nobody.
fn claims_text(claims: &JsValue) -> Result<String, JsValue> {
    let text = json_or_invalid(claims, "claims must be a JSON object", usize::MAX)?;
    json::members(&text).map_err(|e| js_error(Error::InvalidClaims(e.message("claims").into())))?;
    Ok(text)
}

impl State {
    fn signing_key(&self) -> Result<&AssertionKey, JsValue> {
        self.keys
            .first()
            .ok_or_else(|| js_error(Error::config("no key")))
    }

    async fn public(&self) -> Result<PublicKeys, JsValue> {
        if let Some(p) = self.public.borrow().clone() {
            return Ok(p);
        }
        let mut out = Vec::with_capacity(self.keys.len());
        for key in &self.keys {
            let jwk = webcrypto::public_jwk(key).await?;
            let imported = webcrypto::import_public(&jwk).await?;
            out.push((jwk, imported));
        }
        let out = Rc::new(out);
        *self.public.borrow_mut() = Some(out.clone());
        Ok(out)
    }

    async fn sign(&self, claims: AssertionClaims, now: u64) -> Result<JsValue, JsValue> {
        let key = self.signing_key()?;
        if let Some(token) = self.cache.borrow().get(key.kid(), &claims, now) {
            return Ok(token.into());
        }
        let existing = self.signing.borrow().clone();
        let private = match existing {
            Some(k) => k,
            None => {
                let k = webcrypto::import_private(key, false).await?;
                *self.signing.borrow_mut() = Some(k.clone());
                k
            }
        };
        let signing = claims.signing_input(key, now, self.lifetime);
        // A `.` and 86 characters of signature (64 bytes) after it: over MAX_BYTES, `verify`
        // would refuse it, and an origin's header limit might refuse the request.
        let len = signing.input.len() + 87;
        if len > MAX_BYTES {
            return Err(js_error(Error::TooLarge {
                len,
                max: MAX_BYTES,
            }));
        }
        let signature = webcrypto::sign(key.alg(), &private, signing.input.as_bytes()).await?;
        let token = signing.finish(&signature);
        self.cache
            .borrow_mut()
            .put(key.kid(), &claims, &signing, token.clone(), now);
        Ok(token.into())
    }

    async fn verify(
        &self,
        token: Option<String>,
        audience: String,
        data: Option<String>,
        now: u64,
        leeway: u64,
    ) -> Result<JsValue, JsValue> {
        let untrusted = given(token.as_deref())
            .and_then(UntrustedAssertion::parse)
            .map_err(js_error)?;
        let public = self.public().await?;
        let (jwk, key) = public
            .iter()
            .find(|(jwk, _)| jwk.kid() == untrusted.kid())
            .ok_or_else(|| js_error(Error::unknown_key(untrusted.kid().as_bytes())))?;
        if jwk.alg() != untrusted.alg() {
            return Err(js_error(Error::UnsupportedAlg(
                untrusted.alg().name().into(),
            )));
        }
        let valid = webcrypto::verify(
            untrusted.alg(),
            key,
            untrusted.signature(),
            untrusted.signing_input().as_bytes(),
        )
        .await?;
        let claims = untrusted
            .verify_with(|_| valid, &self.issuer, &audience, now, leeway)
            .map_err(js_error)?;
        if let Some(data) = &data {
            check_data(&claims, data).map_err(js_error)?;
        }
        parse(&claims)
    }
}

#[wasm_bindgen]
impl OriginAssertions {
    /// Assertions from `{ alg, keys | privateKeys, issuer, lifetimeSeconds }`; throws
    /// `invalid_config` (with `.setting`) on a wrong option.
    #[wasm_bindgen(constructor)]
    pub fn new(config: OriginAssertionsConfig) -> Result<OriginAssertions, JsValue> {
        let (keys, issuer, lifetime) = assertion_config(&config)?;
        Ok(OriginAssertions {
            state: Rc::new(State {
                keys,
                issuer,
                lifetime,
                signing: RefCell::new(None),
                public: RefCell::new(None),
                cache: RefCell::new(AssertionCache::new(CACHE_ENTRIES)),
            }),
        })
    }

    /// The assertion for a request to `subject.audience` (a Promise of the JWT), signed by the
    /// first key; the one made for the same claims is reused while more than half its life is
    /// left (512 at most are kept, none of over 16 KiB with its claims). Throws `invalid_claims` for claims that are not a JSON object (or hold a lone
    /// surrogate, or nest more than 127 levels), `invalid_config` for a wrong option; rejects
    /// with `too_large` for an assertion over 8192 bytes, which `verify` would refuse.
    pub fn sign(&self, subject: AssertionSubject) -> Result<PromiseString, JsValue> {
        // Read once, in JavaScript (a getter that throws is thrown, not through the wasm's
        // frames), and every value taken before `claims` is stringified (which may run code).
        read_call_options(&subject, CallOptions::AssertionSubject)?;
        let audience = text(call_option(CallOption::Audience), "audience")?;
        let status = call_option(CallOption::Status);
        let data = optional_string("data", call_option(CallOption::Data))?;
        let now = call_now()?;
        let claims = match call_option(CallOption::Claims) {
            c if c.is_undefined() || c.is_null() => None,
            c => Some(claims_text(&c)?),
        };
        let status = match status {
            s if s.is_undefined() => if claims.is_some() { "valid" } else { "none" }.to_owned(),
            s => text(s, "status")?,
        };
        let extra: Vec<_> = data
            .map(|d| (DATA_CLAIM, json::quoted(&data_sha256(&d))))
            .into_iter()
            .collect();
        let claims = AssertionClaims::vouching(
            &self.state.issuer,
            &audience,
            &status,
            claims.as_deref(),
            &extra,
            &[DATA_CLAIM],
        );
        let state = self.state.clone();
        Ok(future_to_promise(async move { state.sign(claims, now).await }).unchecked_into())
    }

    /// The public keys as a JWK Set `{ keys: [...] }`, for `/.well-known/jwks.json`: public
    /// members only.
    pub fn jwks(&self) -> PromiseJwks {
        let state = self.state.clone();
        future_to_promise(async move {
            let public = state.public().await?;
            let list: Vec<PublicJwk> = public.iter().map(|(jwk, _)| jwk.clone()).collect();
            parse(&jwks(&list))
        })
        .unchecked_into()
    }

    /// Verifies an assertion made with these keys (a Promise of its claims): signature (WebCrypto),
    /// `iss`, `aud`, `exp`, `iat`. Rejects with the codes of `verify`: `malformed`,
    /// `unsupported_alg`, `unknown_key`, `bad_signature`, `wrong_issuer`, `wrong_audience`,
    /// `expired`, `not_yet_valid`, `too_large`; `malformed` too for a token `null` or `undefined`
    /// (`headers.get` of a header not sent). A bad option throws `invalid_config` at once (not a
    /// rejection), as a bad option of `sign` does. It does not check `status`: use the claims of
    /// a `"valid"` one. This object holds the private keys: origins verify with the published
    /// JWKS (jose, PyJWT), never with the signer's `keys`.
    pub fn verify(
        &self,
        token: Option<String>,
        options: AssertionVerifyOptions,
    ) -> Result<PromiseClaims, JsValue> {
        read_call_options(&options, CallOptions::AssertionVerify)?;
        let audience = text(call_option(CallOption::Audience), "audience")?;
        let now = call_now()?;
        let leeway = call_option_seconds(CallOption::LeewaySeconds, "leewaySeconds")?;
        let leeway = leeway.unwrap_or(0);
        crate::time::check_leeway(leeway).map_err(js_error)?;
        let data = optional_string("data", call_option(CallOption::Data))?;
        let state = self.state.clone();
        Ok(
            future_to_promise(
                async move { state.verify(token, audience, data, now, leeway).await },
            )
            .unchecked_into(),
        )
    }
}
