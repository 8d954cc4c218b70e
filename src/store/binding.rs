//! Calls into the platform's bindings (a KV namespace, a Durable Object namespace, a Durable
//! Object's storage: JavaScript objects) with `js_sys` only, so that the JavaScript library
//! (feature `store`) and the gateway worker (feature `gateway`) share the stores. Every throw,
//! rejection or timeout becomes `store_unavailable`.

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, Result};

/// How long a store operation may take before it is `store_unavailable`, by default.
pub const DEFAULT_TIMEOUT_MS: u32 = 5000;

pub(crate) fn unavailable(what: &str, e: &JsValue) -> Error {
    let why = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into());
    Error::StoreUnavailable(format!("{what}: {why}"))
}

/// `target[name](...args)`.
pub(crate) fn call(target: &JsValue, name: &str, args: &[&JsValue]) -> Result<JsValue> {
    let f = Reflect::get(target, &JsValue::from_str(name))
        .map_err(|e| unavailable(name, &e))?
        .dyn_into::<Function>()
        .map_err(|_| Error::StoreUnavailable(format!("the binding has no method {name}")))?;
    let args: Array = args.iter().copied().collect();
    f.apply(target, &args).map_err(|e| unavailable(name, &e))
}

/// `{ key: value, ... }`.
pub(crate) fn object(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

/// Awaits `value` (a promise or not), failing after `timeout_ms`.
pub(crate) async fn settle(what: &str, value: JsValue, timeout_ms: u32) -> Result<JsValue> {
    let promise = Promise::resolve(&value);
    let global = js_sys::global();
    let message = format!("timed out after {timeout_ms} ms");
    let mut timer = JsValue::UNDEFINED;
    let timeout = Promise::new(&mut |_, reject| {
        let error = js_sys::Error::new(&message);
        let fire = reject.bind1(&JsValue::NULL, &error);
        if let Ok(id) = call(&global, "setTimeout", &[&fire, &JsValue::from(timeout_ms)]) {
            timer = id;
        }
    });
    let result = JsFuture::from(Promise::race(&Array::of2(&promise, &timeout))).await;
    let _ = call(&global, "clearTimeout", &[&timer]);
    result.map_err(|e| unavailable(what, &e))
}

/// Waits a random time of up to `min(2^attempt, 100)` ms (`setTimeout`): the back-off between
/// retries after a `conflict`.
pub(crate) async fn backoff(attempt: usize) {
    let cap = 2f64.powi(attempt.min(7) as i32).min(100.0);
    let ms = (js_sys::Math::random() * cap).floor();
    let global = js_sys::global();
    let wait = Promise::new(&mut |resolve, _| {
        let _ = call(&global, "setTimeout", &[&resolve, &JsValue::from(ms)]);
    });
    let _ = JsFuture::from(wait).await;
}
