//! WebCrypto (`crypto.subtle`) for the signed assertions of [`crate::token::assertion`]: import
//! the private keys the core derived, export their public parts, sign and verify. Shared by the
//! gateway's worker glue and the JavaScript face (features `gateway`, `assertion`); only
//! platform calls here, no decisions.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

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
