//! The gateway's session Durable Object (feature `gateway`): the class `EdgeSessionObject`,
//! bound as `SESSION_OBJECTS` in wrangler.toml. One object per session (and one per subject, for
//! revocation); its logic is [`crate::store::durable::handle`] and
//! [`crate::store::durable::alarm`], over the object's storage.
//!
//! The class is exported with wasm-bindgen as workers-rs's `#[durable_object(alarm)]` exports
//! it (a constructor of the state and the environment, `fetch` and `alarm` returning promises),
//! without its glue: that converts every error through `worker::Error` and its `Display` of
//! every wrapped error, and answers through `worker::Response` (about 6 KB of the gateway's
//! wasm, gzipped).

use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys;
use worker::worker_sys::DurableObjectState;

use crate::store::durable::{object_alarm, serve_object};

/// The session object. Requests are `POST`s of a JSON [`Op`](crate::store::durable::Op).
#[wasm_bindgen]
pub struct EdgeSessionObject {
    state: DurableObjectState,
}

#[wasm_bindgen]
impl EdgeSessionObject {
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, _env: JsValue) -> EdgeSessionObject {
        EdgeSessionObject { state }
    }

    /// Serves one request: its body is a JSON `Op`, the answer's a JSON `Reply` (as text, status
    /// 200, as `worker::Response::ok` makes it).
    pub async fn fetch(&self, req: web_sys::Request) -> Result<JsValue, JsValue> {
        let storage = self.storage()?;
        let body = JsFuture::from(req.text()?).await?;
        let body = body
            .as_string()
            .ok_or_else(|| JsValue::from(js_sys::Error::new("request body is not text")))?;
        ok(&serve_object(&storage, &body).await)
    }

    /// A failed alarm is an error, which the runtime retries (with back-off): answered as a
    /// success, it would leave what expired stored, with no alarm left to end it.
    pub async fn alarm(&self) -> Result<JsValue, JsValue> {
        if let Err(e) = object_alarm(&self.storage()?).await {
            log_warn!("edge-session store object: alarm failed: {e}");
            return Err(js_sys::Error::new(&format!("alarm failed: {e}")).into());
        }
        ok("")
    }
}

impl EdgeSessionObject {
    fn storage(&self) -> Result<JsValue, JsValue> {
        self.state.storage().map(JsValue::from)
    }
}

/// A 200 response of `body`, `text/plain; charset=utf-8`.
fn ok(body: &str) -> Result<JsValue, JsValue> {
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "text/plain; charset=utf-8")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(200);
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(body), &init).map(JsValue::from)
}
