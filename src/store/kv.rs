//! The Workers KV store (features `store` or `gateway`): eventually consistent, last write wins.
//! See [`KvStore`].

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};

use super::binding::{object, settle, sleep, KvKey, KvList, KvNamespace, DEFAULT_TIMEOUT_MS};
use super::{Backend, Consistency, Entry};
use crate::error::{Error, Result};
use crate::time::UnixTime;

/// A session store in a Workers KV namespace: eventually consistent, last write wins.
///
/// - A write reaches other locations in about 60 s or more; reads at the writing location
///   usually see it at once (not promised by Cloudflare).
/// - Concurrent writes to one session: the last one wins, the expected version is not checked.
/// - At most one write per second per key: [`Sessions`](super::Sessions) rewrites an
///   unchanged session once per touch interval (each of the requests at once that found the
///   touch due tries). KV refuses a second write within the second (`KV PUT failed: 429 Too
///   Many Requests`, `store_unavailable`); a touch so refused is skipped (another request has
///   just written the session).
/// - Entries expire by themselves (`expirationTtl`, at least 60 s; none for a life past KV's
///   2^31 - 1 s); a subject's sessions are listed under `u:<subject tag>/<session key>` (KV
///   `list` is eventually consistent too).
#[derive(Clone, Debug)]
pub struct KvStore {
    namespace: KvNamespace,
    timeout_ms: u32,
}

impl KvStore {
    /// A store in the KV namespace binding `namespace` (`env.SESSIONS`).
    pub fn new(namespace: JsValue) -> Self {
        KvStore {
            namespace: namespace.unchecked_into(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }

    /// Operations slower than `ms` fail with `store_unavailable`.
    #[must_use]
    pub fn with_timeout(mut self, ms: u32) -> Self {
        self.timeout_ms = ms.max(1);
        self
    }

    async fn put(&self, key: &str, value: &str, until: UnixTime, now: UnixTime) -> Result<()> {
        // Valid through `until` (see `Sessions::load`): KV forgets the entry one second later.
        // KV refuses a time-to-live under 60 s, and one past 2^31 - 1 s (68 years): such an
        // entry is kept without one (a load still ends it at `until`; a revocation kept for
        // longer than it can be told must not be dropped sooner).
        let ttl = until.saturating_sub(now).saturating_add(1).max(60);
        let options = match i32::try_from(ttl) {
            Ok(ttl) => object(&[("expirationTtl", ttl.into())]),
            Err(_) => object(&[]),
        };
        let started = self.namespace.put(key, value, &options);
        settle("KV put", started, self.timeout_ms).await.map(drop)
    }
}

impl Backend for KvStore {
    async fn load(&self, key: &str) -> Result<Option<Entry>> {
        let value = settle("KV get", self.namespace.get(key), self.timeout_ms).await?;
        match value.as_string() {
            Some(text) => Entry::from_json(&text).map(Some),
            None if value.is_null() || value.is_undefined() => Ok(None),
            None => Err(Error::Malformed("KV value is not text")),
        }
    }

    async fn save(&self, key: &str, entry: &Entry, _: Option<u64>, now: UnixTime) -> Result<()> {
        self.put(key, &entry.to_json(), entry.expires, now).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        settle("KV delete", self.namespace.delete(key), self.timeout_ms)
            .await
            .map(drop)
    }

    async fn link(&self, subject: &str, key: &str, until: UnixTime, now: UnixTime) -> Result<()> {
        self.put(&super::kv_link(subject, key), "", until, now)
            .await
    }

    async fn revoke(&self, subject: &str) -> Result<usize> {
        let prefix = super::kv_links(subject);
        let mut cursor = JsValue::UNDEFINED;
        let mut n = 0;
        loop {
            let options = object(&[("prefix", prefix.as_str().into()), ("cursor", cursor)]);
            let page: KvList = settle("KV list", self.namespace.list(&options), self.timeout_ms)
                .await?
                .unchecked_into();
            let keys: Array = page
                .keys()
                .ok()
                .and_then(|k| k.dyn_into().ok())
                .ok_or(Error::Malformed("KV list answer"))?;
            for k in keys.iter() {
                let k = k.unchecked_into::<KvKey>();
                let name = k.name();
                let Some(name) = name.ok().and_then(|n| n.as_string()) else {
                    continue;
                };
                let Some(session) = name.strip_prefix(&prefix) else {
                    continue;
                };
                // A link can outlive its session (ended by a logout): counted only when there.
                // The link goes first: a request in flight writes the session, then its link
                // (`Sessions::commit`), so a session it writes back between the two deletes keeps
                // a link, and the next revocation ends it (the other order left it unlinked).
                let live = settle("KV get", self.namespace.get(session), self.timeout_ms).await?;
                self.delete(&name).await?;
                if let Err(e) = self.delete(session).await {
                    // Linked again (as it was, until its expiration), so that the revocation
                    // tried again finds it; best effort: the error stands. A little over a
                    // second after the link's delete: KV takes one write a second per key. By
                    // a time-to-live, as every write here: KV takes no `expiration` past
                    // 2038 (a 32-bit time).
                    let _ = sleep(1100.0).await;
                    let until = k.expiration().ok().and_then(|e| e.as_f64());
                    let now = (js_sys::Date::now() / 1000.0) as UnixTime;
                    let until = until.map_or(UnixTime::MAX, |e| e as UnixTime);
                    let _ = self.put(&name, "", until.saturating_sub(1), now).await;
                    return Err(e);
                }
                let held = live.as_string().map(|text| Entry::read(&text));
                n += usize::from(held.is_some_and(|e| e.is_none_or(|e| e.holds_session())));
            }
            let complete = page
                .list_complete()
                .map_or(true, |c| c.as_bool() != Some(false));
            cursor = page.cursor().unwrap_or(JsValue::UNDEFINED);
            if complete || cursor.as_string().is_none_or(|c| c.is_empty()) {
                return Ok(n);
            }
        }
    }

    fn consistency(&self) -> Consistency {
        Consistency::Eventual
    }
}
