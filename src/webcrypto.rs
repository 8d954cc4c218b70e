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

/// `crypto.subtle`, or an error that says it is missing (a browser's page served over plain
/// http, an old runtime), not a `TypeError` of `Reflect.get`.
fn subtle() -> Result<JsValue, JsValue> {
    let crypto = get(&js_sys::global(), "crypto")?;
    let subtle = (crypto.is_object()).then(|| get(&crypto, "subtle"));
    // Checked with `is_object`, not a cast: in another realm (Vercel's edge runtime) it is no
    // `instanceof` this realm's `Object`.
    match subtle.transpose()? {
        Some(subtle) if subtle.is_object() => Ok(subtle),
        _ => Err(js_sys::Error::new(
            "WebCrypto (crypto.subtle) is not available here: a browser has it only on https pages",
        )
        .into()),
    }
}

/// Calls `crypto.subtle[method](...args)` and awaits its promise. The answer goes through
/// `Promise.resolve`, not a cast: where `crypto` comes from another realm (Vercel's edge runtime
/// runs code in a Node `vm` context with the host's WebCrypto), its promise is no `instanceof`
/// this realm's `Promise`.
async fn call(method: &str, args: &Array) -> Result<JsValue, JsValue> {
    let subtle = subtle()?;
    let f: Function = get(&subtle, method)?.dyn_into()?;
    let promise = Promise::resolve(&f.apply(&subtle, args)?);
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
    import_verifier(&object, &algorithm(jwk.alg(), true)?).await
}

/// The JWK `object` as a WebCrypto public key for verifying with `algorithm`.
async fn import_verifier(object: &JsValue, algorithm: &JsValue) -> Result<JsValue, JsValue> {
    let args = Array::of5(
        &"jwk".into(),
        object,
        algorithm,
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
pub(crate) async fn verify_device(
    key: &DeviceKey,
    signature: &[u8],
    input: &[u8],
) -> Result<bool, JsValue> {
    // Missing WebCrypto is an error, not a refusal.
    subtle()?;
    let jwk = JSON::parse(&key.to_jwk_json())?;
    let import = import_verifier(&jwk, &device_algorithm(key.alg(), true)?).await;
    let Ok(public) = import else {
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

/// The proof vectors of tests/vectors/dbsc.json verified as WebCrypto made them (`make
/// wasm-test` runs these under Node with the feature `dbsc`).
#[cfg(all(
    test,
    target_arch = "wasm32",
    any(feature = "gateway", feature = "dbsc")
))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use wasm_bindgen_test::wasm_bindgen_test;

    use super::verify_device;
    use crate::dbsc::{DeviceKey, Proof};

    #[wasm_bindgen_test]
    async fn proof_vectors_verify_as_webcrypto_said() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/dbsc.json")).unwrap();
        let mut checked = [0, 0];
        for p in v["proofs"].as_array().unwrap() {
            let (Ok(proof), Some(_)) = (Proof::parse(p["jwt"].as_str().unwrap()), p.get("jwk"))
            else {
                continue;
            };
            let key = DeviceKey::from_jwk_json(&p["jwk"].to_string()).unwrap();
            let ok = verify_device(&key, proof.signature(), proof.signing_input())
                .await
                .unwrap();
            assert_eq!(ok, p["verifies"].as_bool().unwrap(), "{}", p["name"]);
            checked[usize::from(ok)] += 1;
        }
        // ES256 and RS256: each 2 good proofs and 3 refused by the core but signed alike; 4
        // that do not verify (another key, a changed payload, a changed signature).
        assert_eq!(checked, [8, 10]);
    }

    #[wasm_bindgen_test]
    async fn a_key_webcrypto_refuses_verifies_nothing() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/dbsc.json")).unwrap();
        let p = &v["proofs"][0];
        let proof = Proof::parse(p["jwt"].as_str().unwrap()).unwrap();
        // (0, 0) is not a point of P-256.
        let zero = "A".repeat(43);
        let off_curve = DeviceKey::from_jwk_json(&format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{zero}","y":"{zero}"}}"#
        ))
        .unwrap();
        let ok = verify_device(&off_curve, proof.signature(), proof.signing_input()).await;
        assert!(!ok.unwrap());
    }
}
