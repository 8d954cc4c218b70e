//! The I/O of signed assertions (`ORIGIN_ASSERTION`) through [`crate::webcrypto`]. Per worker
//! instance: the signing key imported once, the JWKS built once, and the assertions kept for
//! reuse ([`AssertionCache`]). No `RefCell` borrow is held across an `.await`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use worker::wasm_bindgen::JsValue;

use super::http::{self, page};
use super::{with, Answer, Shared};
use crate::gateway::assertion;
use crate::gateway::config::AssertionSettings;
use crate::gateway::pages::Page;
use crate::gateway::pipeline::Attempt;
use crate::time::UnixTime;
use crate::token::assertion::{
    jwks, AssertionCache, AssertionClaims, AssertionKey, Signing, CACHE_ENTRIES,
    MAX_LIFETIME_SECONDS,
};
use crate::webcrypto;

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

async fn build(settings: &AssertionSettings) -> Result<Rc<Signer>, JsValue> {
    let mut public = Vec::with_capacity(settings.keys.len());
    for key in &settings.keys {
        public.push(webcrypto::public_jwk(key).await?);
    }
    let key = settings
        .keys
        .first()
        .cloned()
        .ok_or_else(|| JsValue::from_str("no assertion key"))?;
    let crypto_key = webcrypto::import_private(&key, false).await?;
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
    let signature = webcrypto::sign(
        signer.key.alg(),
        &signer.crypto_key,
        signing.input.as_bytes(),
    )
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

/// The assertion of `signing` and its `signature`, kept for reuse.
#[inline(never)]
fn keep(
    signer: &Signer,
    claims: &AssertionClaims,
    signing: &Signing,
    signature: &[u8],
    now: UnixTime,
) -> String {
    let token = signing.finish(signature);
    CACHE.with(|c| {
        c.borrow_mut()
            .put(signer.key.kid(), claims, signing, token.clone(), now)
    });
    token
}

/// `GET /.well-known/jwks.json`.
pub(super) async fn jwks_response(gw: &Shared) -> Answer {
    match signer(gw).await {
        Ok(s) => page(&assertion::jwks_page(s.jwks.clone())),
        Err(e) => {
            log_error!(
                "edge-session gateway: ORIGIN_ASSERTION keys: {}",
                http::error_text(&e)
            );
            page(&Page::internal())
        }
    }
}
