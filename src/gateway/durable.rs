//! The gateway's session Durable Object (feature `gateway`): the class `EdgeSessionObject`,
//! bound as `SESSION_OBJECTS` in wrangler.toml. One object per session (and one per subject, for
//! revocation); its logic is [`crate::store::durable::handle`] and
//! [`crate::store::durable::alarm`], over the object's storage.

use worker::wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::store::durable::{object_alarm, serve_object};

/// The session object. Requests are `POST`s of a JSON [`Op`](crate::store::durable::Op).
#[durable_object(alarm)]
pub struct EdgeSessionObject {
    state: State,
}

impl EdgeSessionObject {
    fn storage(&self) -> JsValue {
        let storage = self.state.storage();
        let raw: &JsValue = storage.as_raw().as_ref();
        raw.clone()
    }
}

impl DurableObject for EdgeSessionObject {
    fn new(state: State, _env: Env) -> Self {
        EdgeSessionObject { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.text().await?;
        Response::ok(serve_object(&self.storage(), &body).await)
    }

    /// A failed alarm is an error, which the runtime retries (with back-off): answered as a
    /// success, it would leave what expired stored, with no alarm left to end it.
    async fn alarm(&self) -> Result<Response> {
        if let Err(e) = object_alarm(&self.storage()).await {
            worker::console_warn!("edge-session store object: alarm failed: {e}");
            return Err(worker::Error::RustError(format!("alarm failed: {e}")));
        }
        Response::ok("")
    }
}
