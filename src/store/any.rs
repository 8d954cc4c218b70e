//! [`AnyStore`]: the store a worker chooses at run time, from its settings (the gateway's `STORE`,
//! the JavaScript `SessionStore`'s options), dispatching to the one it holds.

use super::durable::DurableStore;
use super::kv::KvStore;
#[cfg(feature = "store")]
use super::memory::MemoryStore;
use super::{Backend, Consistency, Entry};
use crate::error::Result;
use crate::time::UnixTime;

/// The store a worker chose at run time: KV, Durable Objects or memory.
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// Workers KV.
    Kv(KvStore),
    /// Durable Objects.
    Durable(DurableStore),
    /// In memory (one isolate only; for tests). Feature `store` only: the gateway never
    /// chooses it, and without the variant its wasm carries no memory store.
    #[cfg(feature = "store")]
    Memory(MemoryStore),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Kv($s) => $e,
            AnyStore::Durable($s) => $e,
            #[cfg(feature = "store")]
            AnyStore::Memory($s) => $e,
        }
    };
}

impl Backend for AnyStore {
    async fn load(&self, key: &str) -> Result<Option<Entry>> {
        each!(self, s => s.load(key).await)
    }
    async fn save(
        &self,
        key: &str,
        entry: &Entry,
        expected: Option<u64>,
        now: UnixTime,
    ) -> Result<()> {
        each!(self, s => s.save(key, entry, expected, now).await)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        each!(self, s => s.delete(key).await)
    }
    async fn link(&self, subject: &str, key: &str, until: UnixTime, now: UnixTime) -> Result<()> {
        each!(self, s => s.link(subject, key, until, now).await)
    }
    async fn revoke(&self, subject: &str) -> Result<usize> {
        each!(self, s => s.revoke(subject).await)
    }
    fn consistency(&self) -> Consistency {
        each!(self, s => s.consistency())
    }
    async fn backoff(&self, attempt: usize) {
        each!(self, s => s.backoff(attempt).await)
    }
}
