//! An in-memory store: strongly consistent, compare-and-set, gone when the process ends. For
//! tests (it can fail on demand and interleave concurrent tasks) and single-instance use.
//!
//! ```
//! use edge_session::store::{memory::MemoryStore, Backend, Entry};
//! # futures_executor::block_on(async {
//! let store = MemoryStore::new();
//! let entry = Entry { version: 1, value: "sealed".into(), expires: 1_800_000_600 };
//! store.save("s:abc", &entry, None, 1_800_000_000).await?;
//! assert_eq!(store.save("s:abc", &entry, None, 1_800_000_000).await.unwrap_err().code(), "conflict");
//! assert_eq!(store.load("s:abc").await?, Some(entry));
//! # Ok::<(), edge_session::Error>(())
//! # }).unwrap();
//! ```

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::{Backend, Consistency, Entry};
use crate::error::{Error, Result};
use crate::time::UnixTime;

/// An in-memory [`Backend`]. Clones share the same contents.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Rc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: RefCell<HashMap<String, Entry>>,
    /// subject -> (session key -> until)
    links: RefCell<HashMap<String, BTreeMap<String, UnixTime>>>,
    failing: Cell<bool>,
    failing_links: Cell<bool>,
    interleave: Cell<bool>,
    writes: Cell<u64>,
    /// When a save next forgets what expired (`purge`): at most once a minute.
    next_purge: Cell<UnixTime>,
}

/// How often, at most, a save forgets the expired entries (seconds of the callers' `now`).
const PURGE_INTERVAL: UnixTime = 60;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every operation yields to other tasks once before it runs (and once after a read),
    /// so that concurrent tasks really interleave, as they do against a remote store.
    // Not `must_use`: it switches the contents every clone shares, so the call alone works.
    #[allow(clippy::return_self_not_must_use)]
    pub fn interleaving(self) -> Self {
        self.inner.interleave.set(true);
        self
    }

    /// While `failing` is true, every operation fails with `store_unavailable`.
    pub fn set_failing(&self, failing: bool) {
        self.inner.failing.set(failing);
    }

    /// While `failing` is true, linking a session to its subject fails with
    /// `store_unavailable`, everything else working (a subject's object or a KV put timing out).
    pub fn set_failing_links(&self, failing: bool) {
        self.inner.failing_links.set(failing);
    }

    /// How many writes (saves) succeeded so far.
    pub fn writes(&self) -> u64 {
        self.inner.writes.get()
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.inner.entries.borrow().len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets entries that expired before `now` and links past their time (the KV store's TTL
    /// and the Durable Object's alarm do this on the platform). A save does it by itself, at
    /// most once a minute, so that a long-running process does not keep every ended session.
    pub fn purge(&self, now: UnixTime) {
        self.inner
            .entries
            .borrow_mut()
            .retain(|_, e| e.expires >= now);
        // A subject with no link left is forgotten too: kept, the index grew with every user
        // who ever had a session.
        self.inner.links.borrow_mut().retain(|_, keys| {
            keys.retain(|_, until| *until >= now);
            !keys.is_empty()
        });
    }

    async fn enter(&self) -> Result<()> {
        if self.inner.interleave.get() {
            YieldOnce(false).await;
        }
        if self.inner.failing.get() {
            return Err(Error::StoreUnavailable("memory store set to fail".into()));
        }
        Ok(())
    }
}

impl Backend for MemoryStore {
    async fn load(&self, key: &str) -> Result<Option<Entry>> {
        self.enter().await?;
        let entry = self.inner.entries.borrow().get(key).cloned();
        if self.inner.interleave.get() {
            YieldOnce(false).await;
        }
        Ok(entry)
    }

    async fn save(
        &self,
        key: &str,
        entry: &Entry,
        expected: Option<u64>,
        now: UnixTime,
    ) -> Result<()> {
        self.enter().await?;
        if now >= self.inner.next_purge.get() {
            self.purge(now);
            self.inner
                .next_purge
                .set(now.saturating_add(PURGE_INTERVAL));
        }
        let mut entries = self.inner.entries.borrow_mut();
        if entries.get(key).map(|e| e.version) != expected {
            return Err(Error::Conflict);
        }
        entries.insert(key.to_owned(), entry.clone());
        self.inner.writes.set(self.inner.writes.get() + 1);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.enter().await?;
        self.inner.entries.borrow_mut().remove(key);
        Ok(())
    }

    async fn link(&self, subject: &str, key: &str, until: UnixTime, now: UnixTime) -> Result<()> {
        self.enter().await?;
        if self.inner.failing_links.get() {
            return Err(Error::StoreUnavailable(
                "memory store set to fail links".into(),
            ));
        }
        let mut links = self.inner.links.borrow_mut();
        let keys = links.entry(subject.to_owned()).or_default();
        keys.retain(|_, u| *u >= now);
        keys.insert(key.to_owned(), until);
        Ok(())
    }

    async fn revoke(&self, subject: &str) -> Result<usize> {
        self.enter().await?;
        let keys = self
            .inner
            .links
            .borrow_mut()
            .remove(subject)
            .unwrap_or_default();
        let mut entries = self.inner.entries.borrow_mut();
        Ok(keys
            .keys()
            .filter(|k| entries.remove(*k).is_some_and(|e| e.holds_session()))
            .count())
    }

    fn consistency(&self) -> Consistency {
        Consistency::Strong
    }
}

/// Pending once (waking itself), then ready: lets other tasks of a join run.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Workers KV's limit of one write per second to a key, over a [`MemoryStore`] (tests only): a
/// second write of a key (a save or a link) in the same second of the callers' `now` is refused,
/// as KV's binding does (`KV PUT failed: 429 Too Many Requests`). Last write wins otherwise (the
/// expected version is not checked). Deletes are not counted (whether KV counts them is not
/// documented). Miniflare's local KV, which the e2e tests run on, enforces no such limit.
#[cfg(test)]
pub(crate) struct OneWritePerSecond {
    pub inner: MemoryStore,
    written: RefCell<HashMap<String, UnixTime>>,
    /// While true, every write is refused so.
    pub refusing: Cell<bool>,
    /// How many writes were asked for (refused or not).
    pub tries: Cell<usize>,
}

#[cfg(test)]
impl OneWritePerSecond {
    /// KV's limit over `inner` (a clone: the contents are shared).
    pub fn new(inner: &MemoryStore) -> Self {
        OneWritePerSecond {
            inner: inner.clone(),
            written: RefCell::default(),
            refusing: Cell::new(false),
            tries: Cell::new(0),
        }
    }

    fn write(&self, key: &str, now: UnixTime) -> Result<()> {
        self.tries.set(self.tries.get() + 1);
        let again = self.written.borrow_mut().insert(key.to_owned(), now) == Some(now);
        if again || self.refusing.get() {
            return Err(Error::StoreUnavailable(
                "KV put: KV PUT failed: 429 Too Many Requests".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
impl Backend for OneWritePerSecond {
    passed_to!(inner; load, delete, revoke);
    async fn save(&self, key: &str, e: &Entry, _: Option<u64>, now: u64) -> Result<()> {
        self.write(key, now)?;
        let stored = self.inner.load(key).await?.map(|e| e.version);
        self.inner.save(key, e, stored, now).await
    }
    async fn link(&self, subject: &str, key: &str, until: u64, now: u64) -> Result<()> {
        self.write(&super::kv_link(subject, key), now)?;
        self.inner.link(subject, key, until, now).await
    }
    fn consistency(&self) -> Consistency {
        Consistency::Eventual
    }
}

/// A strongly consistent store where another writer is always ahead, over a [`MemoryStore`]
/// (tests only): every save of an existing session is refused with `conflict` (a new one is
/// written). Counts the saves, and fails the test rather than answering for ever.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct AlwaysConflict {
    inner: MemoryStore,
    /// How many saves were asked for.
    pub saves: Cell<usize>,
}

#[cfg(test)]
impl Backend for AlwaysConflict {
    passed_to!(inner; load, delete, link, revoke);
    async fn save(&self, key: &str, entry: &Entry, expected: Option<u64>, now: u64) -> Result<()> {
        self.saves.set(self.saves.get() + 1);
        assert!(self.saves.get() < 1000, "conflicts retried without end");
        match expected {
            Some(_) => Err(Error::Conflict),
            None => self.inner.save(key, entry, expected, now).await,
        }
    }
    fn consistency(&self) -> Consistency {
        Consistency::Strong
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    /// `len` and `is_empty` tell what is held: a save adds an entry, a delete takes it away.
    #[test]
    fn len_and_is_empty_follow_saves_and_deletes() {
        let store = MemoryStore::new();
        assert_eq!((store.len(), store.is_empty()), (0, true));
        let entry = Entry {
            version: 1,
            value: "sealed".into(),
            expires: 200,
        };
        block_on(store.save("s:a", &entry, None, 100)).unwrap();
        assert_eq!((store.len(), store.is_empty()), (1, false));
        block_on(store.delete("s:a")).unwrap();
        assert_eq!((store.len(), store.is_empty()), (0, true));
    }

    /// `purge` forgets a subject whose links all ended, not only the links: the index of a
    /// long-running process kept one entry for every user who ever had a session.
    #[test]
    fn purge_forgets_subjects_without_links() {
        let store = MemoryStore::new();
        for (i, until) in [100, 200].into_iter().enumerate() {
            block_on(store.link(&format!("user-{i}"), &format!("s:{i}"), until, 50)).unwrap();
        }
        store.purge(150);
        assert_eq!(store.inner.links.borrow().len(), 1);
        store.purge(250);
        assert!(store.inner.links.borrow().is_empty());
        assert_eq!(block_on(store.revoke("user-1")).unwrap(), 0);
    }
}
