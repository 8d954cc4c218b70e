//! The worker's side (features `store` or `gateway`): [`DurableStore`], the
//! [`Backend`] that sends each operation to the session's object through the
//! namespace binding, with a time limit.

use wasm_bindgen::{JsCast, JsValue};

use super::wire::{Op, Reply};
use crate::error::{Error, Result};
use crate::store::binding::{
    object, settle, unavailable, DurableObjectNamespace, FetchResponse, DEFAULT_TIMEOUT_MS,
};
use crate::store::{Backend, Consistency, Entry};
use crate::time::UnixTime;

/// A session store in Durable Objects: one object per session, strongly consistent,
/// compare-and-set (see [`super`]). The namespace's class must answer with
/// [`super::handle`] (the gateway's `EdgeSessionObject`, or in JavaScript a class calling
/// `handleSessionObject`).
#[derive(Clone, Debug)]
pub struct DurableStore {
    namespace: DurableObjectNamespace,
    timeout_ms: u32,
}

/// How many times, at most, a revocation lists the subject's sessions again after deleting
/// those it found (sessions linked while it ran).
const REVOKE_PASSES: usize = 8;

/// How many session objects a revocation deletes at once, before it unlinks them from the
/// subject: every object call is a subrequest, and a worker's invocation may make only so many
/// (50 on the Free plan). Deleting every session at once and unlinking them after, a subject of
/// more sessions than that failed each revocation at the same place, with nothing unlinked, and
/// the next one tried the same sessions again: it never ended. In batches, each revocation that
/// fails part-way keeps what it did, and the next goes on from there.
const REVOKE_BATCH: usize = 32;

/// The URL of requests to session objects (never leaves the runtime).
const OBJECT_URL: &str = "https://edge-session.store/";

impl DurableStore {
    /// A store in the Durable Object namespace binding `namespace` (`env.SESSION_OBJECTS`).
    pub fn new(namespace: JsValue) -> Self {
        DurableStore {
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

    /// Sends `op` to the object called `name`.
    async fn send(&self, name: &str, op: &Op) -> Result<Reply> {
        let id = (self.namespace.id_from_name(name))
            .map_err(|e| unavailable("Durable Object idFromName", &e))?;
        let stub = (self.namespace.get(&id)).map_err(|e| unavailable("Durable Object get", &e))?;
        let body = serde_json::to_string(op).map_err(|_| Error::Malformed("store request"))?;
        let init = object(&[("method", "POST".into()), ("body", body.into())]);
        let fetched = stub.fetch(OBJECT_URL, &init);
        let response: FetchResponse = settle("Durable Object fetch", fetched, self.timeout_ms)
            .await?
            .unchecked_into();
        let status = response
            .status()
            .ok()
            .and_then(|s| s.as_f64())
            .unwrap_or(0.0);
        let text = settle("Durable Object response", response.text(), self.timeout_ms)
            .await?
            .as_string()
            .unwrap_or_default();
        let reply = Reply::from_json(&text).ok_or_else(|| {
            let text = crate::store::binding::runtime_text(&text);
            Error::StoreUnavailable(format!("Durable Object answered {status}: {text}"))
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

    async fn link(&self, subject: &str, key: &str, until: UnixTime, now: UnixTime) -> Result<()> {
        let op = Op::Link {
            key: key.to_owned(),
            until,
            now,
        };
        self.send(&crate::store::subject_object(subject), &op)
            .await
            .map(drop)
    }

    /// Deletes the subject's linked sessions, 32 at once (`REVOKE_BATCH`), and forgets the links
    /// of each batch's deleted ones before the next batch: when a deletion fails, its session
    /// stays linked and the revocation fails, so that a retry finds it (and does not answer 0
    /// with the session alive). Then again, until the subject lists no session: one linked
    /// meanwhile (a `regenerate` of a session this deleted, which stores and links the new id
    /// before it ends the old one) is ended too.
    async fn revoke(&self, subject: &str) -> Result<usize> {
        let subject = crate::store::subject_object(subject);
        let mut n = 0;
        for _ in 0..REVOKE_PASSES {
            let keys = (self.send(&subject, &Op::Links).await?.keys).unwrap_or_default();
            if keys.is_empty() {
                break;
            }
            for batch in keys.chunks(REVOKE_BATCH) {
                let deletes = batch.iter().map(|k| self.send(k, &Op::Delete)).collect();
                let (mut deleted, mut failed) = (Vec::new(), None);
                for (key, reply) in batch
                    .iter()
                    .zip(crate::store::executor::join_all(deletes).await)
                {
                    match reply {
                        Ok(r) => {
                            n += usize::from(r.existed == Some(true));
                            deleted.push(key.clone());
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                self.send(&subject, &Op::Unlink { keys: deleted }).await?;
                if let Some(e) = failed {
                    return Err(e);
                }
            }
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
