//! The Durable Object store: one object per session, strongly consistent, compare-and-set.
//!
//! Each session lives in its own Durable Object, named by its store key (`idFromName`), which
//! holds one entry. A save names the version it read, and the object refuses a stale one
//! (`conflict`): the check and the write happen in one event of the object, and the runtime
//! delivers no other event to it while it waits on its storage (input gates), so no update is
//! ever silently lost. Each subject's sessions are listed in another object (`u:<subject tag>`)
//! for revocation. An alarm deletes an entry once it expires.
//!
//! This module holds the wire protocol ([`Op`], [`Reply`]) and the object's logic ([`handle`],
//! [`alarm`]) over any [`ObjectStorage`], in plain Rust (tested natively with
//! [`MemoryObjectStorage`]); the client that implements [`Backend`](super::Backend)
//! and the adapter to the platform's storage are in `DurableStore` and
//! `JsObjectStorage` (features `store` or `gateway`).
//!
//! ```
//! use edge_session::store::durable::{handle, MemoryObjectStorage};
//! # futures_executor::block_on(async {
//! let storage = MemoryObjectStorage::default();
//! let save = r#"{"op":"save","entry":{"v":1,"r":"sealed","x":1800000600},"expected":null}"#;
//! assert_eq!(handle(&storage, save).await, r#"{"ok":true}"#);
//! let again = handle(&storage, save).await;
//! assert_eq!(again, r#"{"ok":false,"code":"conflict"}"#);
//! # });
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Entry;
use crate::error::{Error, Result};
use crate::time::UnixTime;

#[cfg(any(feature = "store", feature = "gateway"))]
pub use platform::{object_alarm, serve_object, DurableStore, JsObjectStorage};

/// The storage key of a session object's entry.
const ENTRY: &str = "entry";
/// The storage key prefix of a subject object's links.
const LINK: &str = "k:";

/// A request to an object, sent as JSON in the body of a `POST`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    /// The session object's entry.
    Load,
    /// Write the entry if the stored version is `expected` (`None`: nothing stored).
    Save {
        /// The new entry.
        entry: Entry,
        /// The version the writer read.
        expected: Option<u64>,
    },
    /// Delete the entry; the reply says whether there was one.
    Delete,
    /// On a subject object: remember session `key` until `until`.
    Link {
        /// The session's store key.
        key: String,
        /// When the link may be forgotten.
        until: UnixTime,
        /// The caller's clock, to forget links past their time.
        now: UnixTime,
    },
    /// On a subject object: forget every link and return the session keys.
    Revoke,
}

/// An object's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// False when the operation was refused or failed.
    pub ok: bool,
    /// Why not: `conflict`, `malformed`, `store_unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `load`: the entry, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
    /// `delete`: whether there was an entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existed: Option<bool>,
    /// `revoke`: the linked session keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
}

impl Reply {
    fn ok() -> Self {
        Reply {
            ok: true,
            ..Reply::default()
        }
    }

    fn refused(error: &Error) -> Self {
        Reply {
            ok: false,
            code: Some(error.code().to_owned()),
            ..Reply::default()
        }
    }

    /// The reply as the error it stands for, when it is one.
    pub fn into_result(self) -> Result<Reply> {
        match (self.ok, self.code.as_deref()) {
            (true, _) => Ok(self),
            (false, Some("conflict")) => Err(Error::Conflict),
            (false, Some("malformed")) => Err(Error::Malformed("store request")),
            (false, code) => Err(Error::StoreUnavailable(format!(
                "durable object refused: {}",
                code.unwrap_or("no code")
            ))),
        }
    }
}

/// What an object needs from its storage: string values under string keys, and an alarm.
#[allow(async_fn_in_trait)]
pub trait ObjectStorage {
    /// The value under `key`.
    async fn get(&self, key: &str) -> Result<Option<String>>;
    /// Writes `value` under `key`.
    async fn put(&self, key: &str, value: &str) -> Result<()>;
    /// Deletes `key`; true when it existed.
    async fn delete(&self, key: &str) -> Result<bool>;
    /// Every key and value whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<(String, String)>>;
    /// Deletes everything.
    async fn delete_all(&self) -> Result<()>;
    /// Runs [`alarm`] at `at` (seconds since the epoch).
    async fn set_alarm(&self, at: UnixTime) -> Result<()>;
}

/// Serves one request (JSON [`Op`]) with `storage`; the reply is JSON [`Reply`].
pub async fn handle<S: ObjectStorage>(storage: &S, request: &str) -> String {
    let reply = match serde_json::from_str::<Op>(request) {
        Ok(op) => run(storage, op)
            .await
            .unwrap_or_else(|e| Reply::refused(&e)),
        Err(_) => Reply::refused(&Error::Malformed("store request")),
    };
    serde_json::to_string(&reply).unwrap_or_default()
}

async fn run<S: ObjectStorage>(storage: &S, op: Op) -> Result<Reply> {
    match op {
        Op::Load => Ok(Reply {
            entry: load(storage).await?,
            ..Reply::ok()
        }),
        Op::Save { entry, expected } => {
            // Read, compare, write: one event of the object, with no other event delivered
            // while it waits on storage.
            let current = load(storage).await?;
            if current.as_ref().map(|e| e.version) != expected {
                return Err(Error::Conflict);
            }
            storage.put(ENTRY, &entry.to_json()).await?;
            if current.is_none() {
                storage.set_alarm(entry.expires).await?;
            }
            Ok(Reply::ok())
        }
        Op::Delete => {
            let existed = storage.delete(ENTRY).await?;
            Ok(Reply {
                existed: Some(existed),
                ..Reply::ok()
            })
        }
        Op::Link { key, until, now } => {
            let links = storage.list(LINK).await?;
            for (k, v) in &links {
                if v.parse::<UnixTime>().map_or(true, |u| u < now) {
                    storage.delete(k).await?;
                }
            }
            storage
                .put(&format!("{LINK}{key}"), &until.to_string())
                .await?;
            if links.is_empty() {
                storage.set_alarm(until).await?;
            }
            Ok(Reply::ok())
        }
        Op::Revoke => {
            let keys = storage
                .list(LINK)
                .await?
                .into_iter()
                .filter_map(|(k, _)| k.strip_prefix(LINK).map(str::to_owned))
                .collect();
            storage.delete_all().await?;
            Ok(Reply {
                keys: Some(keys),
                ..Reply::ok()
            })
        }
    }
}

async fn load<S: ObjectStorage>(storage: &S) -> Result<Option<Entry>> {
    match storage.get(ENTRY).await? {
        Some(text) => Entry::from_json(&text).map(Some),
        None => Ok(None),
    }
}

/// The object's alarm at time `now`: deletes an expired entry and links past their time, and
/// sets the next alarm when something remains.
pub async fn alarm<S: ObjectStorage>(storage: &S, now: UnixTime) -> Result<()> {
    if let Some(entry) = load(storage).await.ok().flatten() {
        if entry.expires < now {
            storage.delete_all().await?;
        } else {
            storage.set_alarm(entry.expires).await?;
        }
        return Ok(());
    }
    let mut next: Option<UnixTime> = None;
    for (k, v) in storage.list(LINK).await? {
        match v.parse::<UnixTime>() {
            Ok(until) if until >= now => next = Some(next.map_or(until, |n| n.min(until))),
            _ => {
                storage.delete(&k).await?;
            }
        }
    }
    match next {
        Some(at) => storage.set_alarm(at).await,
        None => storage.delete_all().await,
    }
}

/// An [`ObjectStorage`] in memory, for tests of the object's logic.
#[derive(Debug, Default)]
pub struct MemoryObjectStorage {
    values: RefCell<BTreeMap<String, String>>,
    alarm: RefCell<Option<UnixTime>>,
}

impl MemoryObjectStorage {
    /// When the alarm is set for.
    pub fn alarm_at(&self) -> Option<UnixTime> {
        *self.alarm.borrow()
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.values.borrow().len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.values.borrow().is_empty()
    }
}

impl ObjectStorage for MemoryObjectStorage {
    async fn get(&self, key: &str) -> Result<Option<String>> {
        Ok(self.values.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: &str) -> Result<()> {
        self.values.borrow_mut().insert(key.into(), value.into());
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.values.borrow_mut().remove(key).is_some())
    }
    async fn list(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let values = self.values.borrow();
        let found = values
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        Ok(found.map(|(k, v)| (k.clone(), v.clone())).collect())
    }
    async fn delete_all(&self) -> Result<()> {
        self.values.borrow_mut().clear();
        *self.alarm.borrow_mut() = None;
        Ok(())
    }
    async fn set_alarm(&self, at: UnixTime) -> Result<()> {
        *self.alarm.borrow_mut() = Some(at);
        Ok(())
    }
}

/// The client and the storage adapter, over the platform's JavaScript objects.
#[cfg(any(feature = "store", feature = "gateway"))]
mod platform {
    use js_sys::{Array, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use super::{ObjectStorage, Op, Reply};
    use crate::error::{Error, Result};
    use crate::store::binding::{call, object, settle, unavailable, DEFAULT_TIMEOUT_MS};
    use crate::store::{Backend, Consistency, Entry};
    use crate::time::UnixTime;

    /// A session store in Durable Objects: one object per session, strongly consistent,
    /// compare-and-set (see [`super`]). The namespace's class must answer with
    /// [`super::handle`] (the gateway's `EdgeSessionObject`, or in JavaScript a class calling
    /// `handleSessionObject`).
    #[derive(Clone, Debug)]
    pub struct DurableStore {
        namespace: JsValue,
        timeout_ms: u32,
    }

    /// The URL of requests to session objects (never leaves the runtime).
    const OBJECT_URL: &str = "https://edge-session.store/";

    impl DurableStore {
        /// A store in the Durable Object namespace binding `namespace` (`env.SESSION_OBJECTS`).
        pub fn new(namespace: JsValue) -> Self {
            DurableStore {
                namespace,
                timeout_ms: DEFAULT_TIMEOUT_MS,
            }
        }

        /// Operations slower than `ms` fail with `store_unavailable`.
        pub fn with_timeout(mut self, ms: u32) -> Self {
            self.timeout_ms = ms.max(1);
            self
        }

        /// Sends `op` to the object called `name`.
        async fn send(&self, name: &str, op: &Op) -> Result<Reply> {
            let id = call(&self.namespace, "idFromName", &[&name.into()])?;
            let stub = call(&self.namespace, "get", &[&id])?;
            let body = serde_json::to_string(op).map_err(|_| Error::Malformed("store request"))?;
            let init = object(&[("method", "POST".into()), ("body", body.into())]);
            let fetched = call(&stub, "fetch", &[&OBJECT_URL.into(), &init])?;
            let response = settle("Durable Object fetch", fetched, self.timeout_ms).await?;
            let status = Reflect::get(&response, &"status".into())
                .ok()
                .and_then(|s| s.as_f64())
                .unwrap_or(0.0);
            let text = settle(
                "Durable Object response",
                call(&response, "text", &[])?,
                self.timeout_ms,
            )
            .await?
            .as_string()
            .unwrap_or_default();
            let reply: Reply = serde_json::from_str(&text).map_err(|_| {
                Error::StoreUnavailable(format!("Durable Object answered {status}: {text:.200}"))
            })?;
            reply.into_result()
        }
    }

    impl Backend for DurableStore {
        async fn load(&self, key: &str) -> Result<Option<Entry>> {
            Ok(self.send(key, &Op::Load).await?.entry)
        }

        async fn save(
            &self,
            key: &str,
            entry: &Entry,
            expected: Option<u64>,
            _: UnixTime,
        ) -> Result<()> {
            let op = Op::Save {
                entry: entry.clone(),
                expected,
            };
            self.send(key, &op).await.map(drop)
        }

        async fn delete(&self, key: &str) -> Result<()> {
            self.send(key, &Op::Delete).await.map(drop)
        }

        async fn link(
            &self,
            subject: &str,
            key: &str,
            until: UnixTime,
            now: UnixTime,
        ) -> Result<()> {
            let op = Op::Link {
                key: key.to_owned(),
                until,
                now,
            };
            self.send(&format!("u:{subject}"), &op).await.map(drop)
        }

        async fn revoke(&self, subject: &str) -> Result<usize> {
            let keys = self
                .send(&format!("u:{subject}"), &Op::Revoke)
                .await?
                .keys
                .unwrap_or_default();
            let deletes = keys.iter().map(|k| self.send(k, &Op::Delete)).collect();
            let mut n = 0;
            for reply in crate::store::executor::join_all(deletes).await {
                n += usize::from(reply?.existed == Some(true));
            }
            Ok(n)
        }

        fn consistency(&self) -> Consistency {
            Consistency::Strong
        }

        async fn backoff(&self, attempt: usize) {
            crate::store::binding::backoff(attempt).await;
        }
    }

    /// A Durable Object's storage (`state.storage`, the JavaScript object), as [`ObjectStorage`].
    #[derive(Clone, Debug)]
    pub struct JsObjectStorage {
        storage: JsValue,
    }

    impl JsObjectStorage {
        /// The adapter over `state.storage` (or `ctx.storage`).
        pub fn new(storage: JsValue) -> Self {
            JsObjectStorage { storage }
        }

        async fn run(&self, name: &str, args: &[&JsValue]) -> Result<JsValue> {
            let started = call(&self.storage, name, args)?;
            JsFuture::from(Promise::resolve(&started))
                .await
                .map_err(|e| unavailable(name, &e))
        }
    }

    impl ObjectStorage for JsObjectStorage {
        async fn get(&self, key: &str) -> Result<Option<String>> {
            Ok(self.run("get", &[&key.into()]).await?.as_string())
        }
        async fn put(&self, key: &str, value: &str) -> Result<()> {
            self.run("put", &[&key.into(), &value.into()])
                .await
                .map(drop)
        }
        async fn delete(&self, key: &str) -> Result<bool> {
            Ok(self.run("delete", &[&key.into()]).await?.as_bool() == Some(true))
        }
        async fn list(&self, prefix: &str) -> Result<Vec<(String, String)>> {
            let options = object(&[("prefix", prefix.into())]);
            let map = self.run("list", &[&options]).await?;
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
            self.run("deleteAll", &[]).await.map(drop)
        }
        async fn set_alarm(&self, at: UnixTime) -> Result<()> {
            self.run("setAlarm", &[&((at as f64) * 1000.0).into()])
                .await
                .map(drop)
        }
    }

    /// Serves one request to a session object: reads the JSON [`Op`] from `body`, answers JSON.
    pub async fn serve_object(storage: &JsValue, body: &str) -> String {
        super::handle(&JsObjectStorage::new(storage.clone()), body).await
    }

    /// Runs a session object's alarm.
    pub async fn object_alarm(storage: &JsValue) -> Result<()> {
        let now = (js_sys::Date::now() / 1000.0) as UnixTime;
        super::alarm(&JsObjectStorage::new(storage.clone()), now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    fn op(storage: &MemoryObjectStorage, op: &Op) -> Reply {
        let text = block_on(handle(storage, &serde_json::to_string(op).unwrap()));
        serde_json::from_str(&text).unwrap()
    }

    fn entry(version: u64) -> Entry {
        Entry {
            version,
            value: format!("sealed-{version}"),
            expires: 1000 + version,
        }
    }

    #[test]
    fn compare_and_set() {
        let s = MemoryObjectStorage::default();
        assert_eq!(op(&s, &Op::Load).entry, None);
        let save = |e, expected| Op::Save {
            entry: entry(e),
            expected,
        };
        assert!(op(&s, &save(1, None)).ok);
        assert_eq!(s.alarm_at(), Some(1001));
        assert_eq!(op(&s, &save(1, None)).code.as_deref(), Some("conflict"));
        assert_eq!(op(&s, &save(3, Some(2))).code.as_deref(), Some("conflict"));
        assert!(op(&s, &save(2, Some(1))).ok);
        assert_eq!(op(&s, &Op::Load).entry, Some(entry(2)));
        assert_eq!(op(&s, &Op::Delete).existed, Some(true));
        assert_eq!(op(&s, &Op::Delete).existed, Some(false));
        assert!(op(&s, &save(1, None)).ok);
    }

    #[test]
    fn links_revoke_and_expire() {
        let s = MemoryObjectStorage::default();
        let link = |key: &str, until, now| Op::Link {
            key: key.into(),
            until,
            now,
        };
        assert!(op(&s, &link("s:a", 100, 10)).ok);
        assert_eq!(s.alarm_at(), Some(100));
        assert!(op(&s, &link("s:b", 300, 20)).ok);
        // A link past its time is forgotten at the next link.
        assert!(op(&s, &link("s:c", 400, 200)).ok);
        let keys = op(&s, &Op::Revoke).keys.unwrap();
        assert_eq!(keys, ["s:b", "s:c"]);
        assert!(s.is_empty());
        assert_eq!(op(&s, &Op::Revoke).keys.unwrap(), Vec::<String>::new());
    }

    #[test]
    fn alarm_deletes_expired_entries_and_links() {
        let s = MemoryObjectStorage::default();
        op(
            &s,
            &Op::Save {
                entry: entry(1),
                expected: None,
            },
        );
        block_on(alarm(&s, 500)).unwrap();
        assert_eq!(s.alarm_at(), Some(1001));
        assert_eq!(s.len(), 1);
        block_on(alarm(&s, 1002)).unwrap();
        assert!(s.is_empty());

        let l = MemoryObjectStorage::default();
        op(
            &l,
            &Op::Link {
                key: "s:a".into(),
                until: 100,
                now: 0,
            },
        );
        op(
            &l,
            &Op::Link {
                key: "s:b".into(),
                until: 200,
                now: 0,
            },
        );
        block_on(alarm(&l, 150)).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l.alarm_at(), Some(200));
        block_on(alarm(&l, 250)).unwrap();
        assert!(l.is_empty());
    }

    #[test]
    fn junk_requests_are_refused() {
        let s = MemoryObjectStorage::default();
        for junk in ["", "{}", "[]", r#"{"op":"explode"}"#, r#"{"op":"save"}"#] {
            let reply: Reply = serde_json::from_str(&block_on(handle(&s, junk))).unwrap();
            assert_eq!(reply.code.as_deref(), Some("malformed"), "{junk}");
        }
        s.values.borrow_mut().insert(ENTRY.into(), "junk".into());
        assert_eq!(op(&s, &Op::Load).code.as_deref(), Some("malformed"));
    }
}
