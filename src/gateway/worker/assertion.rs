//! The I/O of signed assertions (`ORIGIN_ASSERTION`): WebCrypto (`crypto.subtle`) imports the
//! keys the core derived, exports their public parts for the JWKS, and signs. Per worker
//! instance: the signing key imported once, the JWKS built once, and the assertions kept for
//! reuse ([`AssertionCache`]). No `RefCell` borrow is held across an `.await`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use worker::js_sys::{self, Array, Function, Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{console_error, web_sys};

use super::http::{self, page};
use super::{with, Shared};
use crate::gateway::assertion;
use crate::gateway::config::AssertionSettings;
use crate::gateway::pages::Page;
use crate::gateway::pipeline::Attempt;
use crate::time::UnixTime;
use crate::token::assertion::{
    jwks, Alg, AssertionCache, AssertionClaims, AssertionKey, PublicJwk, Signing, CACHE_ENTRIES,
    MAX_LIFETIME_SECONDS,
};

/// The imported signing key and the published JWKS of this instance.
struct Signer {
    key: AssertionKey,
    crypto_key: JsValue,
    jwks: String,
}

thread_local! {
    static SIGNER: RefCell<Option<Rc<Signer>>> = const { RefCell::new(None) };
    static CACHE: RefCell<AssertionCache> = RefCell::new(AssertionCache::new(CACHE_ENTRIES));
}

fn get(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &JsValue::from_str(name))
}

fn subtle() -> Result<JsValue, JsValue> {
    get(&get(&js_sys::global(), "crypto")?, "subtle")
}

/// Calls `crypto.subtle[method](...args)` and awaits its promise.
async fn call(method: &str, args: &Array) -> Result<JsValue, JsValue> {
    let subtle = subtle()?;
    let f: Function = get(&subtle, method)?.dyn_into()?;
    let promise: js_sys::Promise = f.apply(&subtle, args)?.dyn_into()?;
    JsFuture::from(promise).await
}

/// The WebCrypto algorithm object of `alg`, for importing (`true`) or signing.
fn algorithm(alg: Alg, import: bool) -> Result<JsValue, JsValue> {
    let o = Object::new();
    match alg {
        Alg::EdDSA => {
            Reflect::set(&o, &"name".into(), &"Ed25519".into())?;
        }
        Alg::ES256 => {
            Reflect::set(&o, &"name".into(), &"ECDSA".into())?;
            if import {
                Reflect::set(&o, &"namedCurve".into(), &"P-256".into())?;
            } else {
                Reflect::set(&o, &"hash".into(), &"SHA-256".into())?;
            }
        }
    }
    Ok(o.into())
}

async fn import(key: &AssertionKey, extractable: bool) -> Result<JsValue, JsValue> {
    let der = Uint8Array::from(key.pkcs8().as_slice());
    let usages = Array::of1(&"sign".into());
    let args = Array::of5(
        &"pkcs8".into(),
        &der,
        &algorithm(key.alg(), true)?,
        &JsValue::from_bool(extractable),
        &usages,
    );
    call("importKey", &args).await
}

/// The public JWK of `key`, from WebCrypto's export of its private key (only the public
/// members are kept: see [`PublicJwk::from_exported`]).
async fn public_jwk(key: &AssertionKey) -> Result<PublicJwk, JsValue> {
    let crypto_key = import(key, true).await?;
    let exported = call("exportKey", &Array::of2(&"jwk".into(), &crypto_key)).await?;
    let text: String = js_sys::JSON::stringify(&exported)?.into();
    PublicJwk::from_exported(key, &text).map_err(|e| JsValue::from_str(&e.to_string()))
}

async fn build(settings: &AssertionSettings) -> Result<Rc<Signer>, JsValue> {
    let mut public = Vec::with_capacity(settings.keys.len());
    for key in &settings.keys {
        public.push(public_jwk(key).await?);
    }
    let key = settings
        .keys
        .first()
        .cloned()
        .ok_or_else(|| JsValue::from_str("no assertion key"))?;
    let crypto_key = import(&key, false).await?;
    Ok(Rc::new(Signer {
        key,
        crypto_key,
        jwks: jwks(&public),
    }))
}

/// This instance's signer, built on first use.
async fn signer(gw: &Shared) -> Result<Rc<Signer>, JsValue> {
    if let Some(s) = SIGNER.with(|c| c.borrow().clone()) {
        return Ok(s);
    }
    let settings = with(gw, |g| g.config().assertion.clone())
        .flatten()
        .ok_or_else(|| JsValue::from_str("ORIGIN_ASSERTION is off"))?;
    // Once per instance: behind a `dyn` future, so that its state machine is not inlined into
    // every caller's (wasm size).
    let building: Pin<Box<dyn Future<Output = Result<Rc<Signer>, JsValue>> + '_>> =
        Box::pin(build(&settings));
    let built = building.await?;
    SIGNER.with(|c| *c.borrow_mut() = Some(built.clone()));
    Ok(built)
}

/// Puts a signed `x-session-assertion` on `attempt` when `ORIGIN_ASSERTION` is on: a kept one
/// for the same claims while it has more than half its life left, else a new signature.
/// `Err` (logged by the caller) when WebCrypto failed: the request must not go without it.
pub(super) async fn add(gw: &Shared, attempt: &mut Attempt, now: UnixTime) -> Result<(), String> {
    let Some(claims) = with(gw, |g| assertion::claims(g.config(), attempt)).flatten() else {
        return Ok(());
    };
    let signer = signer(gw).await.map_err(|e| http::error_text(&e))?;
    let signing = match kept_or_input(&signer, &claims, now) {
        Ok(token) => {
            assertion::set(attempt, token);
            return Ok(());
        }
        Err(signing) => signing,
    };
    let args = sign_args(&signer, &signing).map_err(|e| http::error_text(&e))?;
    let signature = call("sign", &args)
        .await
        .map_err(|e| http::error_text(&e))?;
    assertion::set(attempt, keep(&signer, &claims, &signing, &signature, now));
    Ok(())
}

/// The kept assertion of `claims`, else the signing input of a new one.
#[inline(never)]
fn kept_or_input(
    signer: &Signer,
    claims: &AssertionClaims,
    now: UnixTime,
) -> Result<String, Signing> {
    let kid = signer.key.kid();
    match CACHE.with(|c| c.borrow().get(kid, claims, now).map(str::to_owned)) {
        Some(token) => Ok(token),
        None => Err(claims.signing_input(&signer.key, now, MAX_LIFETIME_SECONDS)),
    }
}

/// `crypto.subtle.sign`'s arguments for `signing`.
#[inline(never)]
fn sign_args(signer: &Signer, signing: &Signing) -> Result<Array, JsValue> {
    let data = Uint8Array::from(signing.input.as_bytes());
    Ok(Array::of3(
        &algorithm(signer.key.alg(), false)?,
        &signer.crypto_key,
        &data,
    ))
}

/// The assertion of `signing` and its `signature`, kept for reuse.
#[inline(never)]
fn keep(
    signer: &Signer,
    claims: &AssertionClaims,
    signing: &Signing,
    signature: &JsValue,
    now: UnixTime,
) -> String {
    let token = signing.finish(&Uint8Array::new(signature).to_vec());
    CACHE.with(|c| {
        c.borrow_mut()
            .put(signer.key.kid(), claims, signing, token.clone(), now)
    });
    token
}

/// `GET /.well-known/jwks.json`.
pub(super) async fn jwks_response(gw: &Shared) -> worker::Result<web_sys::Response> {
    match signer(gw).await {
        Ok(s) => page(&assertion::jwks_page(s.jwks.clone())),
        Err(e) => {
            console_error!(
                "edge-session gateway: ORIGIN_ASSERTION keys: {}",
                http::error_text(&e)
            );
            page(&Page::internal())
        }
    }
}
