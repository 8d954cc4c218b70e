//! WebCrypto (`crypto.subtle`) for the signed assertions of [`crate::token::assertion`]: import
//! the private keys the core derived, export their public parts, sign and verify; and for the
//! DBSC proofs of [`crate::dbsc`]: verify with the browser's public key ([`verify_device`]).
//! Shared by the gateway's worker glue and the JavaScript face (features `gateway`,
//! `assertion`, `dbsc`); only platform calls here, no decisions.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

#[cfg(any(feature = "gateway", feature = "dbsc"))]
use crate::dbsc::{self, DeviceKey};
#[cfg(any(feature = "gateway", feature = "assertion"))]
use crate::token::assertion::{Alg, AssertionKey, PublicJwk};

fn get(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &JsValue::from_str(name))
}

/// Calls `crypto.subtle[method](...args)` and awaits its promise.
async fn call(method: &str, args: &Array) -> Result<JsValue, JsValue> {
    let subtle = get(&get(&js_sys::global(), "crypto")?, "subtle")?;
    let f: Function = get(&subtle, method)?.dyn_into()?;
    let promise: Promise = f.apply(&subtle, args)?.dyn_into()?;
    JsFuture::from(promise).await
}

#[cfg(any(feature = "gateway", feature = "assertion"))]
/// The WebCrypto algorithm object of `alg`, for importing (`true`) or signing and verifying.
fn algorithm(alg: Alg, import: bool) -> Result<JsValue, JsValue> {
    let o = Object::new();
    let set = |name: &str, value: &str| Reflect::set(&o, &name.into(), &value.into());
    match alg {
        Alg::EdDSA => set("name", "Ed25519")?,
        Alg::ES256 if import => set("name", "ECDSA")? && set("namedCurve", "P-256")?,
        Alg::ES256 => set("name", "ECDSA")? && set("hash", "SHA-256")?,
    };
    Ok(o.into())
}

#[cfg(any(feature = "gateway", feature = "assertion"))]
/// `key` as a WebCrypto private key for signing (from its PKCS#8).
pub(crate) async fn import_private(
    key: &AssertionKey,
    extractable: bool,
) -> Result<JsValue, JsValue> {
    let der = Uint8Array::from(key.pkcs8().as_slice());
    let args = Array::of5(
        &"pkcs8".into(),
        &der,
        &algorithm(key.alg(), true)?,
        &JsValue::from_bool(extractable),
        &Array::of1(&"sign".into()),
    );
    call("importKey", &args).await
}

#[cfg(any(feature = "gateway", feature = "assertion"))]
/// The public JWK of `key`, from WebCrypto's export of its private key (only the public
/// members are kept: see [`PublicJwk::from_exported`]).
pub(crate) async fn public_jwk(key: &AssertionKey) -> Result<PublicJwk, JsValue> {
    let private = import_private(key, true).await?;
    let exported = call("exportKey", &Array::of2(&"jwk".into(), &private)).await?;
    let text: String = JSON::stringify(&exported)?.into();
    PublicJwk::from_exported(key, &text).map_err(|e| JsValue::from_str(&e.to_string()))
}

/// `jwk` as a WebCrypto public key for verifying.
#[cfg(feature = "assertion")]
pub(crate) async fn import_public(jwk: &PublicJwk) -> Result<JsValue, JsValue> {
    let object = JSON::parse(&jwk.to_json())?;
    // Runtimes differ on which `alg` names they accept with Ed25519: the algorithm object says it.
    Reflect::delete_property(object.unchecked_ref::<Object>(), &"alg".into())?;
    let args = Array::of5(
        &"jwk".into(),
        &object,
        &algorithm(jwk.alg(), true)?,
        &JsValue::FALSE,
        &Array::of1(&"verify".into()),
    );
    call("importKey", &args).await
}

#[cfg(any(feature = "gateway", feature = "assertion"))]
/// The signature of `input` by `private` (64 bytes: ES256's `r || s` as JWS wants it).
pub(crate) async fn sign(alg: Alg, private: &JsValue, input: &[u8]) -> Result<Vec<u8>, JsValue> {
    let data = Uint8Array::from(input);
    let args = Array::of3(&algorithm(alg, false)?, private, &data);
    Ok(Uint8Array::new(&call("sign", &args).await?).to_vec())
}

/// Whether `signature` is `public`'s over `input`.
#[cfg(feature = "assertion")]
pub(crate) async fn verify(
    alg: Alg,
    public: &JsValue,
    signature: &[u8],
    input: &[u8],
) -> Result<bool, JsValue> {
    let args = Array::of4(
        &algorithm(alg, false)?,
        public,
        &Uint8Array::from(signature),
        &Uint8Array::from(input),
    );
    Ok(call("verify", &args).await?.as_bool() == Some(true))
}

/// The WebCrypto algorithm object of a DBSC key (`import`) or signature (otherwise):
/// ECDSA on P-256 with SHA-256, or RSASSA-PKCS1-v1_5 with SHA-256.
#[cfg(any(feature = "gateway", feature = "dbsc"))]
fn device_algorithm(alg: dbsc::Alg, import: bool) -> Result<JsValue, JsValue> {
    let o = Object::new();
    let set = |name: &str, value: &str| Reflect::set(&o, &name.into(), &value.into());
    match alg {
        dbsc::Alg::ES256 if import => set("name", "ECDSA")? && set("namedCurve", "P-256")?,
        dbsc::Alg::ES256 => set("name", "ECDSA")? && set("hash", "SHA-256")?,
        dbsc::Alg::RS256 if import => set("name", "RSASSA-PKCS1-v1_5")? && set("hash", "SHA-256")?,
        dbsc::Alg::RS256 => set("name", "RSASSA-PKCS1-v1_5")?,
    };
    Ok(o.into())
}

/// Whether `signature` over `input` is by the device key `key` (a DBSC proof: verify
/// [`crate::dbsc::Proof::signature`] over [`crate::dbsc::Proof::signing_input`]). The key is
/// imported from its canonical JWK; a key WebCrypto refuses to import (a point that is not on
/// the curve) verifies nothing: `Ok(false)`. `Err` only when WebCrypto itself is missing or
/// fails.
#[cfg(any(feature = "gateway", feature = "dbsc"))]
// Its callers, the gateway's DBSC endpoints and `DeviceBoundSessions`, are being written on it:
// drop this once both call it.
#[allow(dead_code)]
pub(crate) async fn verify_device(
    key: &DeviceKey,
    signature: &[u8],
    input: &[u8],
) -> Result<bool, JsValue> {
    // Missing WebCrypto is an error, not a refusal.
    get(&get(&js_sys::global(), "crypto")?, "subtle")?.dyn_into::<Object>()?;
    let jwk = JSON::parse(&key.to_jwk_json())?;
    let import = Array::of5(
        &"jwk".into(),
        &jwk,
        &device_algorithm(key.alg(), true)?,
        &JsValue::FALSE,
        &Array::of1(&"verify".into()),
    );
    let Ok(public) = call("importKey", &import).await else {
        return Ok(false);
    };
    let args = Array::of4(
        &device_algorithm(key.alg(), false)?,
        &public,
        &Uint8Array::from(signature),
        &Uint8Array::from(input),
    );
    Ok(call("verify", &args).await?.as_bool() == Some(true))
}
