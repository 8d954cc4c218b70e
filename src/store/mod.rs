//! Session state kept in a store, so that any server (or edge location) can continue a session.
//!
//! - [`Backend`]: what a store does: load, save with compare-and-set, delete, and an index of
//!   each subject's sessions for revocation. `?Send`: handles to JavaScript objects are not
//!   `Send`, so neither are the futures.
//! - [`memory::MemoryStore`]: in memory, strongly consistent; for tests and single instances.
//! - `kv` and [`durable`] (the client; features `store` or `gateway`): Workers KV (eventually
//!   consistent, last write wins) and a Durable Object per session (strongly consistent,
//!   compare-and-set). See docs/store.md for what each one guarantees.
//! - `AnyStore` (features `store` or `gateway`): whichever of those a worker chose at run time.
//! - [`record`]: the session record, encrypted at rest (XChaCha20-Poly1305, the session id bound
//!   as associated data).
//! - [`session`]: [`Sessions`], the manager: ids in a signed cookie, timeouts, throttled touch,
//!   `regenerate`, `destroy`, revocation.
//! - [`conformance`]: the one test body every store passes.
//!
//! ```
//! # futures_executor::block_on(async {
//! use edge_session::store::{memory::MemoryStore, SessionConfig, Sessions};
//! use edge_session::{KeyRing, Secret};
//! use serde_json::json;
//!
//! let ring = KeyRing::new(vec![("k1".into(), Secret::new([7u8; 32])?)])?;
//! let sessions = Sessions::new(MemoryStore::new(), &ring, SessionConfig::default())?;
//! let now = 1_800_000_000;
//!
//! // First request: no cookie, a new session; it is stored once it holds something.
//! let mut s = sessions.load_or_new(None, now).await?;
//! s.insert("cart", json!(["book"]));
//! sessions.commit(&mut s, now).await?;
//! let cookie = s.cookie().expect("a new session sets its cookie").to_owned();
//!
//! // Next request, anywhere: the cookie finds the session.
//! let s = sessions.load_or_new(Some(&cookie), now + 5).await?;
//! assert_eq!(s.get("cart"), Some(&json!(["book"])));
//! # Ok::<(), edge_session::Error>(())
//! # }).unwrap();
//! ```

/// In an `impl Backend` of a store that wraps another (the field named first: `inner`, `0`) and
/// changes only some of its methods: the others, named one by one, passed to it unchanged.
///
/// ```ignore
/// impl Backend for Flaky<'_> {
///     passed_to!(inner; load, delete, link, revoke, consistency);
///     async fn save(&self, ...) -> Result<()> { ... }
/// }
/// ```
macro_rules! passed_to {
    (@ $field:tt load) => {
        async fn load(&self, key: &str) -> $crate::Result<Option<$crate::store::Entry>> {
            self.$field.load(key).await
        }
    };
    (@ $field:tt save) => {
        async fn save(
            &self,
            key: &str,
            entry: &$crate::store::Entry,
            expected: Option<u64>,
            now: $crate::time::UnixTime,
        ) -> $crate::Result<()> {
            self.$field.save(key, entry, expected, now).await
        }
    };
    (@ $field:tt delete) => {
        async fn delete(&self, key: &str) -> $crate::Result<()> {
            self.$field.delete(key).await
        }
    };
    (@ $field:tt link) => {
        async fn link(
            &self,
            subject: &str,
            key: &str,
            until: $crate::time::UnixTime,
            now: $crate::time::UnixTime,
        ) -> $crate::Result<()> {
            self.$field.link(subject, key, until, now).await
        }
    };
    (@ $field:tt revoke) => {
        async fn revoke(&self, subject: &str) -> $crate::Result<usize> {
            self.$field.revoke(subject).await
        }
    };
    (@ $field:tt consistency) => {
        fn consistency(&self) -> $crate::store::Consistency {
            self.$field.consistency()
        }
    };
    ($field:tt; $($method:ident),+ $(,)?) => {
        $($crate::store::passed_to!(@ $field $method);)+
    };
}
pub(crate) use passed_to;

#[cfg(any(feature = "store", feature = "gateway"))]
mod any;
#[cfg(any(feature = "store", feature = "gateway"))]
pub(crate) mod binding;
mod config;
pub mod conformance;
pub mod durable;
pub(crate) mod executor;
#[cfg(any(feature = "store", feature = "gateway"))]
pub mod kv;
pub mod memory;
pub mod record;
mod revocation;
pub mod session;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::time::UnixTime;

#[cfg(any(feature = "store", feature = "gateway"))]
pub use any::AnyStore;
#[cfg(any(feature = "store", feature = "gateway"))]
pub use binding::DEFAULT_TIMEOUT_MS;
pub use config::MAX_TIMEOUT_SECONDS;
pub use revocation::Revocation;
pub use session::{Commit, Session, SessionConfig, Sessions, MAX_SUBJECT_BYTES};

/// What a store holds for one session. The store reads only `version` (compare-and-set) and
/// `expires` (when it may forget the entry); `value` is the sealed [`record`], opaque to it but
/// for [`Entry::holds_session`], which [`Backend::revoke`] counts by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1 when created, one more at every save.
    #[serde(rename = "v")]
    pub version: u64,
    /// The sealed record (base64url).
    #[serde(rename = "r")]
    pub value: String,
    /// When the session ends if nothing touches it: the earlier of the idle and the absolute
    /// deadline. The store may delete the entry after this time.
    #[serde(rename = "x")]
    pub expires: UnixTime,
}

impl Entry {
    /// Whether the entry holds a session: not one of the markers that
    /// [`Sessions::regenerate`] leaves in place of a renewed id (they begin with `~`, which a
    /// sealed record, base64url, never holds). A revocation counts only these.
    pub fn holds_session(&self) -> bool {
        !self.value.starts_with('~')
    }

    /// The entry as the JSON text that the KV and Durable Object stores keep.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// An entry from stored JSON text; `malformed` when it is not one.
    pub fn from_json(text: &str) -> Result<Self> {
        Entry::read(text).ok_or(crate::Error::Malformed("not a store entry"))
    }

    /// An entry from JSON text, read as its `Deserialize` reads it, with the crate's own JSON
    /// reader (see [`durable::Reply::from_json`]); `None` when it is not one.
    pub(crate) fn read(text: &str) -> Option<Self> {
        let members = crate::json::members(text).ok()?;
        let member = |name| crate::json::get(&members, name);
        Some(Entry {
            version: crate::json::whole(member("v")?)?,
            value: crate::json::owned_string(member("r")?)?,
            expires: crate::json::whole(member("x")?)?,
        })
    }
}

/// The KV key of the link of session `key` to the subject of tag `subject` (`u:<tag>/<key>`):
/// [`kv_links`] lists them.
#[cfg(any(feature = "store", feature = "gateway", test))]
pub(crate) fn kv_link(subject: &str, key: &str) -> String {
    format!("{}{key}", kv_links(subject))
}

/// The KV key prefix of the links of the subject of tag `subject` (`u:<tag>/`).
#[cfg(any(feature = "store", feature = "gateway", test))]
pub(crate) fn kv_links(subject: &str) -> String {
    format!("u:{subject}/")
}

/// The name of the Durable Object that holds the links of the subject of tag `subject`
/// (`u:<tag>`; a session's object is named by its store key, `s:...`).
#[cfg(any(feature = "store", feature = "gateway", test))]
pub(crate) fn subject_object(subject: &str) -> String {
    format!("u:{subject}")
}

/// Whether `e` is Workers KV refusing a write to a key written less than a second before
/// (`KV PUT failed: 429 Too Many Requests`; one write per second per key). A daily quota's 429
/// says otherwise, and is not this.
pub(crate) fn rate_limited(e: &crate::Error) -> bool {
    matches!(e, crate::Error::StoreUnavailable(m) if m.contains("429 Too Many Requests"))
}

/// How a store orders concurrent writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Every read sees the latest write, and [`Backend::save`] enforces the expected
    /// version (`conflict`): no update is ever silently lost.
    Strong,
    /// Reads may be stale (Workers KV: about 60 s or more at other locations; at the writing
    /// location a write is usually seen at once, which is not promised), and the last write wins: the expected version is not checked. So
    /// an earlier entry written again (a writer that read a stale copy, a replayed value) takes
    /// the session back to it, and no reader can tell.
    Eventual,
}

/// A place to keep sessions. Keys are derived by [`Sessions`] (a keyed hash of the session id,
/// never the cookie value); values are sealed records.
///
/// Failures of the platform (a binding that throws, a timeout) are `store_unavailable`; a
/// strongly consistent store refuses a stale save with `conflict`.
///
/// Native `async fn` without `Send` bounds: stores on Workers hold JavaScript handles, which
/// are not `Send`.
#[allow(async_fn_in_trait)]
pub trait Backend {
    /// The entry under `key`, if there is one.
    async fn load(&self, key: &str) -> Result<Option<Entry>>;

    /// Writes `entry` under `key`. `expected` is the version the caller read (`None`: the key
    /// must not exist yet). A [`Consistency::Strong`] store refuses a mismatch with `conflict`
    /// and writes nothing; an eventual one writes anyway (last write wins). `now` lets the store
    /// compute a time-to-live from `entry.expires`.
    async fn save(
        &self,
        key: &str,
        entry: &Entry,
        expected: Option<u64>,
        now: UnixTime,
    ) -> Result<()>;

    /// Deletes the entry under `key` (no error when there is none).
    async fn delete(&self, key: &str) -> Result<()>;

    /// Records that session `key` belongs to `subject` (an opaque tag) until `until`.
    async fn link(&self, subject: &str, key: &str, until: UnixTime, now: UnixTime) -> Result<()>;

    /// Deletes every session linked to `subject`, and the links; returns how many sessions:
    /// the entries deleted that [`Entry::holds_session`] (a renewed id's marker is deleted but
    /// not counted), and those whose entry could not be read. [`conformance::run`] checks it.
    async fn revoke(&self, subject: &str) -> Result<usize>;

    /// What the store guarantees.
    fn consistency(&self) -> Consistency;

    /// Waits before retry number `attempt` (1, 2...) after a `conflict`, so that writers who
    /// collided do not collide again at once. The platform stores wait a random time of up to
    /// `min(2^attempt, 100)` ms; the default does not wait.
    async fn backoff(&self, attempt: usize) {
        let _ = attempt;
    }
}

impl<S: Backend> Backend for &S {
    async fn load(&self, key: &str) -> Result<Option<Entry>> {
        (**self).load(key).await
    }
    async fn save(
        &self,
        key: &str,
        entry: &Entry,
        expected: Option<u64>,
        now: UnixTime,
    ) -> Result<()> {
        (**self).save(key, entry, expected, now).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        (**self).delete(key).await
    }
    async fn link(&self, subject: &str, key: &str, until: UnixTime, now: UnixTime) -> Result<()> {
        (**self).link(subject, key, until, now).await
    }
    async fn revoke(&self, subject: &str) -> Result<usize> {
        (**self).revoke(subject).await
    }
    fn consistency(&self) -> Consistency {
        (**self).consistency()
    }
    async fn backoff(&self, attempt: usize) {
        (**self).backoff(attempt).await
    }
}
