//! The object's side on the platform (features `store` or `gateway`): a Durable Object's
//! storage as an [`ObjectStorage`] ([`JsObjectStorage`]), and the entry points a session
//! object's class calls ([`serve_object`], [`object_alarm`]).

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};

use super::object::{alarm, handle, ObjectStorage};
use crate::error::Result;
use crate::store::binding::{object, wait, DurableObjectStorage};
use crate::time::UnixTime;

/// A Durable Object's storage (`state.storage`, the JavaScript object), as [`ObjectStorage`].
#[derive(Clone, Debug)]
pub struct JsObjectStorage {
    storage: DurableObjectStorage,
}

impl JsObjectStorage {
    /// The adapter over `state.storage` (or `ctx.storage`).
    pub fn new(storage: JsValue) -> Self {
        JsObjectStorage {
            storage: storage.unchecked_into(),
        }
    }
}

impl ObjectStorage for JsObjectStorage {
    async fn get(&self, key: &str) -> Result<Option<String>> {
        Ok(wait("get", self.storage.get(key)).await?.as_string())
    }
    async fn put(&self, key: &str, value: &str) -> Result<()> {
        wait("put", self.storage.put(key, value)).await.map(drop)
    }
    async fn delete(&self, key: &str) -> Result<bool> {
        Ok(wait("delete", self.storage.delete(key)).await?.as_bool() == Some(true))
    }
    async fn list(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        self.list_first(prefix, 0).await
    }
    /// `limit` 0: every entry.
    async fn list_first(&self, prefix: &str, limit: usize) -> Result<Vec<(String, String)>> {
        let options = object(&[("prefix", prefix.into())]);
        if limit > 0 {
            js_sys::Reflect::set(&options, &"limit".into(), &(limit as f64).into())
                .map_err(|e| crate::store::binding::unavailable("list", &e))?;
        }
        let map = wait("list", self.storage.list(&options)).await?;
        let mut out = Vec::new();
        if let Ok(Some(entries)) = js_sys::try_iter(&map) {
            for pair in entries.flatten() {
                let pair: Array = pair.unchecked_into();
                if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                    out.push((k, v));
                }
            }
        }
        Ok(out)
    }
    async fn delete_all(&self) -> Result<()> {
        wait("deleteAll", self.storage.delete_all()).await.map(drop)
    }
    async fn set_alarm(&self, at: UnixTime) -> Result<()> {
        let ms = (at as f64) * 1000.0;
        wait("setAlarm", self.storage.set_alarm(ms)).await.map(drop)
    }
}

/// Serves one request to a session object: reads the JSON [`Op`](super::Op) from `body`,
/// answers JSON.
pub async fn serve_object(storage: &JsValue, body: &str) -> String {
    handle(&JsObjectStorage::new(storage.clone()), body).await
}

/// Runs a session object's alarm.
pub async fn object_alarm(storage: &JsValue) -> Result<()> {
    let now = (js_sys::Date::now() / 1000.0) as UnixTime;
    alarm(&JsObjectStorage::new(storage.clone()), now).await
}
