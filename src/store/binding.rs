//! The platform's bindings as typed `extern "C"` declarations, in the style of workers-rs'
//! `worker-sys`: a KV namespace, a Durable Object namespace with its ids and stubs, a Durable
//! Object's storage, and the timers. They use `js_sys` and `wasm_bindgen` only (not the `worker`
//! crate), so that the JavaScript library (feature `store`) and the gateway worker (feature
//! `gateway`) share the stores.
//!
//! Every method is `catch`: a throw is an `Err`, never a trap. [`settle`] awaits what a method
//! started with a time limit; every throw, rejection or timeout becomes `store_unavailable`
//! ([`unavailable`]). Nothing is checked about the objects themselves (a binding is whatever the
//! worker was given, or a test double): a missing binding or method is a throw like any other.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, Result};

#[wasm_bindgen]
extern "C" {
    /// A Workers KV namespace (`env.SESSIONS`).
    #[derive(Clone, Debug)]
    pub(crate) type KvNamespace;

    /// `get(key)`: the value as text, or `null`.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn get(this: &KvNamespace, key: &str) -> std::result::Result<Promise, JsValue>;

    /// `put(key, value, { expirationTtl })`.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn put(
        this: &KvNamespace,
        key: &str,
        value: &str,
        options: &Object,
    ) -> std::result::Result<Promise, JsValue>;

    /// `delete(key)`.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn delete(this: &KvNamespace, key: &str) -> std::result::Result<Promise, JsValue>;

    /// `list({ prefix, cursor })`: a [`KvList`].
    #[wasm_bindgen(method, catch)]
    pub(crate) fn list(
        this: &KvNamespace,
        options: &Object,
    ) -> std::result::Result<Promise, JsValue>;

    /// One page of a KV `list`.
    pub(crate) type KvList;

    /// The keys of the page: objects with a `name` ([`KvKey`]).
    #[wasm_bindgen(method, getter, catch)]
    pub(crate) fn keys(this: &KvList) -> std::result::Result<JsValue, JsValue>;

    /// `false` while more pages follow.
    #[wasm_bindgen(method, getter, catch)]
    pub(crate) fn list_complete(this: &KvList) -> std::result::Result<JsValue, JsValue>;

    /// Where the next page starts.
    #[wasm_bindgen(method, getter, catch)]
    pub(crate) fn cursor(this: &KvList) -> std::result::Result<JsValue, JsValue>;

    /// A key listed by KV `list`.
    pub(crate) type KvKey;

    /// The key's name.
    #[wasm_bindgen(method, getter, catch)]
    pub(crate) fn name(this: &KvKey) -> std::result::Result<JsValue, JsValue>;

    /// When the key expires, in seconds since 1970 (`undefined` for a key without one).
    #[wasm_bindgen(method, getter, catch)]
    pub(crate) fn expiration(this: &KvKey) -> std::result::Result<JsValue, JsValue>;

    /// A Durable Object namespace (`env.SESSION_OBJECTS`).
    #[derive(Clone, Debug)]
    pub(crate) type DurableObjectNamespace;

    /// `idFromName(name)`: the id of the object called `name`.
    #[wasm_bindgen(method, catch, js_name = idFromName)]
    pub(crate) fn id_from_name(
        this: &DurableObjectNamespace,
        name: &str,
    ) -> std::result::Result<DurableObjectId, JsValue>;

    /// `get(id)`: a stub to send the object requests.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn get(
        this: &DurableObjectNamespace,
        id: &DurableObjectId,
    ) -> std::result::Result<DurableObjectStub, JsValue>;

    /// A Durable Object's id.
    pub(crate) type DurableObjectId;

    /// A Durable Object's stub.
    pub(crate) type DurableObjectStub;

    /// `fetch(url, init)`: a [`FetchResponse`].
    #[wasm_bindgen(method, catch)]
    pub(crate) fn fetch(
        this: &DurableObjectStub,
        url: &str,
        init: &Object,
    ) -> std::result::Result<Promise, JsValue>;

    /// The answer of a stub's `fetch`: what the store reads of a `Response`.
    pub(crate) type FetchResponse;

    /// The HTTP status.
    #[wasm_bindgen(method, getter, catch)]
    pub(crate) fn status(this: &FetchResponse) -> std::result::Result<JsValue, JsValue>;

    /// `text()`: the body as text.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn text(this: &FetchResponse) -> std::result::Result<Promise, JsValue>;

    /// A Durable Object's storage (`ctx.storage`).
    #[derive(Clone, Debug)]
    pub(crate) type DurableObjectStorage;

    /// `get(key)`: the value, or `undefined`.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn get(
        this: &DurableObjectStorage,
        key: &str,
    ) -> std::result::Result<Promise, JsValue>;

    /// `put(key, value)`.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn put(
        this: &DurableObjectStorage,
        key: &str,
        value: &str,
    ) -> std::result::Result<Promise, JsValue>;

    /// `delete(key)`: whether it existed.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn delete(
        this: &DurableObjectStorage,
        key: &str,
    ) -> std::result::Result<Promise, JsValue>;

    /// `list({ prefix })`: a `Map` of the keys and values, in key order.
    #[wasm_bindgen(method, catch)]
    pub(crate) fn list(
        this: &DurableObjectStorage,
        options: &Object,
    ) -> std::result::Result<Promise, JsValue>;

    /// `deleteAll()`.
    #[wasm_bindgen(method, catch, js_name = deleteAll)]
    pub(crate) fn delete_all(this: &DurableObjectStorage) -> std::result::Result<Promise, JsValue>;

    /// `setAlarm(ms)`: the alarm at `ms` milliseconds since the epoch.
    #[wasm_bindgen(method, catch, js_name = setAlarm)]
    pub(crate) fn set_alarm(
        this: &DurableObjectStorage,
        ms: f64,
    ) -> std::result::Result<Promise, JsValue>;

    /// The global `setTimeout(handler, ms)`: the timer's id.
    #[wasm_bindgen(catch, js_name = setTimeout)]
    fn set_timeout(handler: &JsValue, ms: f64) -> std::result::Result<JsValue, JsValue>;

    /// The global `clearTimeout(id)`.
    #[wasm_bindgen(catch, js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue) -> std::result::Result<(), JsValue>;
}

/// How long a store operation may take before it is `store_unavailable`, by default.
pub const DEFAULT_TIMEOUT_MS: u32 = 5000;

/// `store_unavailable`, saying what failed and why (an error's `message`, read by `Reflect`:
/// a getter that throws gives "unknown error", never a throw through the wasm's frames).
pub(crate) fn unavailable(what: &str, e: &JsValue) -> Error {
    let why = (e.dyn_ref::<js_sys::Error>())
        .and_then(|e| Reflect::get(e, &JsValue::from_str("message")).ok())
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into());
    Error::StoreUnavailable(format!("{what}: {}", runtime_text(&why)))
}

/// Text the runtime or a store wrote (an error's message, a Durable Object's answer) as a
/// message shows it: its first 200 characters, control characters escaped, so that it neither
/// breaks a log line nor writes escape sequences to the operator's terminal (KV's message of
/// its write limit still ends in `429 Too Many Requests`).
pub(crate) fn runtime_text(text: &str) -> String {
    let cut: String = text.chars().take(200).collect();
    crate::error::Escaped(&cut).to_string()
}

/// Awaits `value` as `await` does: a promise's or thenable's outcome, or the value itself. Not
/// through `Promise.resolve`, which reads a promise's `constructor` (a getter that throws would
/// throw through the wasm's frames, leaving its stack pointer moved: after a few thousand, every
/// call of the instance fails), nor by awaiting the value's own `then` (one that calls back at
/// once breaks `JsFuture`, a trap): a new promise resolved with it, whose `then` runs in a
/// later job, any throw a rejection.
pub(crate) fn adopt(value: &JsValue) -> JsFuture {
    JsFuture::from(resolved(value))
}

/// A new promise resolved with `value` (see [`adopt`]).
fn resolved(value: &JsValue) -> Promise {
    Promise::new(&mut |resolve, _| {
        let _ = resolve.call1(&JsValue::NULL, value);
    })
}

/// A binding's method returned `started` (a promise, or any value) or threw: the result once
/// it settles, failing after `timeout_ms`; every throw, rejection or timeout is
/// `store_unavailable`.
pub(crate) async fn settle(
    what: &str,
    started: std::result::Result<Promise, JsValue>,
    timeout_ms: u32,
) -> Result<JsValue> {
    let promise = resolved(&started.map_err(|e| unavailable(what, &e))?.into());
    let message = format!("timed out after {timeout_ms} ms");
    let mut timer = JsValue::UNDEFINED;
    let timeout = Promise::new(&mut |_, reject| {
        let error = js_sys::Error::new(&message);
        let fire = reject.bind1(&JsValue::NULL, &error);
        if let Ok(id) = set_timeout(&fire, f64::from(timeout_ms)) {
            timer = id;
        }
    });
    let result = JsFuture::from(Promise::race(&Array::of2(&promise, &timeout))).await;
    let _ = clear_timeout(&timer);
    result.map_err(|e| unavailable(what, &e))
}

/// A binding's method returned `started` or threw: the result once it settles, with no time
/// limit (a Durable Object's own storage); a throw or rejection is `store_unavailable`.
pub(crate) async fn wait(
    what: &str,
    started: std::result::Result<Promise, JsValue>,
) -> Result<JsValue> {
    adopt(&started.map_err(|e| unavailable(what, &e))?.into())
        .await
        .map_err(|e| unavailable(what, &e))
}

/// `{ key: value, ... }`: a method's options.
pub(crate) fn object(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

/// Resolves after `ms` milliseconds (`setTimeout`).
pub(crate) fn sleep(ms: f64) -> JsFuture {
    JsFuture::from(Promise::new(&mut |resolve, _| {
        let _ = set_timeout(&resolve, ms);
    }))
}

/// Waits a random time of up to `min(2^attempt, 100)` ms (`setTimeout`): the back-off between
/// retries after a `conflict`.
pub(crate) async fn backoff(attempt: usize) {
    let cap = 2f64.powi(attempt.min(7) as i32).min(100.0);
    let _ = sleep((js_sys::Math::random() * cap).floor()).await;
}

#[cfg(test)]
mod tests {
    use super::runtime_text;

    /// What a binding or a misbound object writes reaches messages and logs on one line, with
    /// no escape sequence, and bounded.
    #[test]
    fn runtime_text_is_one_bounded_line() {
        let shown = runtime_text("boom\nedge-session gateway: FAKE LINE \u{1b}[31m");
        assert_eq!(
            shown,
            r"boom\u{a}edge-session gateway: FAKE LINE \u{1b}[31m"
        );
        assert_eq!(runtime_text(&"é".repeat(300)).chars().count(), 200);
        let limit = "KV PUT failed: 429 Too Many Requests";
        assert_eq!(runtime_text(limit), limit);
        let hidden = runtime_text("a\u{9b}2J\u{2028}\u{202e}");
        assert_eq!(hidden, r"a\u{9b}2J\u{2028}\u{202e}");
    }
}
