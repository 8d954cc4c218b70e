//! The object's side: [`handle`] serves an [`Op`] and [`alarm`] forgets what expired, over any
//! [`ObjectStorage`]; [`MemoryObjectStorage`] holds it in memory for tests.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use super::wire::{Op, Reply};
use crate::error::{Error, Result};
use crate::store::Entry;
use crate::time::UnixTime;

/// The storage key of a session object's entry.
const ENTRY: &str = "entry";
/// The storage key prefix of a subject object's links.
const LINK: &str = "k:";
/// How many of a subject's links a new link reads, to forget those past their time (the
/// alarm forgets the others): reading them all made each login of a subject of n sessions cost
/// n, and its n logins n^2.
const LINKS_PRUNED: usize = 32;
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
    /// The first `limit` of [`ObjectStorage::list`] (or more: only the first `limit` are read).
    /// By default the whole list, cut; a storage that can stop early should.
    async fn list_first(&self, prefix: &str, limit: usize) -> Result<Vec<(String, String)>> {
        let mut found = self.list(prefix).await?;
        found.truncate(limit);
        Ok(found)
    }
    /// Deletes everything.
    async fn delete_all(&self) -> Result<()>;
    /// Runs [`alarm`] at `at` (seconds since the epoch).
    async fn set_alarm(&self, at: UnixTime) -> Result<()>;
}

/// Serves one request (JSON [`Op`]) with `storage`; the reply is JSON [`Reply`].
pub async fn handle<S: ObjectStorage>(storage: &S, request: &str) -> String {
    let reply = match Op::from_json(request) {
        Some(op) => run(storage, op)
            .await
            .unwrap_or_else(|e| Reply::refused(&e)),
        None => Reply::refused(&Error::Malformed("store request")),
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
            // An entry that does not read (written by another tool, corrupt) is written over by
            // a save expecting none: the repair of a revocation record, which must never go
            // through a delete that leaves nothing in its place.
            let current = match load(storage).await {
                Err(Error::Malformed(_)) if expected.is_none() => None,
                other => other?,
            };
            if current.as_ref().map(|e| e.version) != expected {
                return Err(Error::Conflict);
            }
            // The alarm first: one set for nothing finds nothing and ends the object, but an
            // entry stored without its alarm (a `setAlarm` that throws: a class without an
            // `alarm()` handler) was never forgotten, after a save the caller saw fail.
            if current.is_none() {
                storage.set_alarm(past(entry.expires)).await?;
            }
            storage.put(ENTRY, &entry.to_json()).await?;
            Ok(Reply::ok())
        }
        Op::Delete => {
            // A session, not a renewed id's marker: what a revocation counts. An entry that does
            // not read is deleted too (and counted, as KV's revocation counts it).
            let held = storage.get(ENTRY).await?;
            let held = held.is_some_and(|t| Entry::read(&t).is_none_or(|e| e.holds_session()));
            storage.delete(ENTRY).await?;
            Ok(Reply {
                existed: Some(held),
                ..Reply::ok()
            })
        }
        Op::Link { key, until, now } => {
            let links = storage.list_first(LINK, LINKS_PRUNED).await?;
            for (k, v) in &links {
                if v.parse::<UnixTime>().map_or(true, |u| u < now) {
                    storage.delete(k).await?;
                }
            }
            // The alarm first, as for a save.
            if links.is_empty() {
                storage.set_alarm(past(until)).await?;
            }
            storage
                .put(&format!("{LINK}{key}"), &until.to_string())
                .await?;
            Ok(Reply::ok())
        }
        Op::Links => {
            let keys = storage
                .list(LINK)
                .await?
                .into_iter()
                .filter_map(|(k, _)| k.strip_prefix(LINK).map(str::to_owned))
                .collect();
            Ok(Reply {
                keys: Some(keys),
                ..Reply::ok()
            })
        }
        Op::Unlink { keys } => {
            for key in &keys {
                storage.delete(&format!("{LINK}{key}")).await?;
            }
            if storage.list_first(LINK, 1).await?.is_empty() {
                storage.delete_all().await?;
            }
            Ok(Reply::ok())
        }
    }
}

async fn load<S: ObjectStorage>(storage: &S) -> Result<Option<Entry>> {
    match storage.get(ENTRY).await? {
        Some(text) => Entry::from_json(&text).map(Some),
        None => Ok(None),
    }
}

/// When an alarm for `t` is set: the first second past it. The entry (or link) lives through
/// second `t`, so an alarm at `t` would find it alive and set itself for `t` again, a time
/// already come, which the runtime runs again at once, in a loop, for the rest of the second.
fn past(t: UnixTime) -> UnixTime {
    t.saturating_add(1)
}

/// The object's alarm at time `now`: deletes an expired entry and links past their time, and
/// sets the next alarm when something remains.
///
/// A storage read that fails is the alarm's failure (the runtime runs a failed alarm again):
/// taken as no entry, it found no link either and deleted everything, a live session with it.
/// An entry that does not read (not one this store wrote) is no entry, and goes.
pub async fn alarm<S: ObjectStorage>(storage: &S, now: UnixTime) -> Result<()> {
    let text = storage.get(ENTRY).await?;
    if let Some(entry) = text.and_then(|t| Entry::from_json(&t).ok()) {
        if entry.expires < now {
            storage.delete_all().await?;
        } else {
            storage.set_alarm(past(entry.expires)).await?;
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
        Some(at) => storage.set_alarm(past(at)).await,
        None => storage.delete_all().await,
    }
}

/// An [`ObjectStorage`] in memory, for tests of the object's logic.
#[derive(Debug, Default)]
pub struct MemoryObjectStorage {
    values: RefCell<BTreeMap<String, String>>,
    alarm: RefCell<Option<UnixTime>>,
    listed: Cell<usize>,
}

impl MemoryObjectStorage {
    /// How many entries its lists have read so far.
    pub fn listed(&self) -> usize {
        self.listed.get()
    }

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
        self.list_first(prefix, usize::MAX).await
    }
    async fn list_first(&self, prefix: &str, limit: usize) -> Result<Vec<(String, String)>> {
        let values = self.values.borrow();
        let found = values
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit);
        let found: Vec<_> = found.map(|(k, v)| (k.clone(), v.clone())).collect();
        self.listed.set(self.listed.get() + found.len());
        Ok(found)
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    fn op<S: ObjectStorage>(storage: &S, op: &Op) -> Reply {
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
        assert_eq!(s.alarm_at(), Some(1002));
        assert_eq!(op(&s, &save(1, None)).code.as_deref(), Some("conflict"));
        assert_eq!(op(&s, &save(3, Some(2))).code.as_deref(), Some("conflict"));
        assert!(op(&s, &save(2, Some(1))).ok);
        assert_eq!(op(&s, &Op::Load).entry, Some(entry(2)));
        assert_eq!(op(&s, &Op::Delete).existed, Some(true));
        assert_eq!(op(&s, &Op::Delete).existed, Some(false));
        assert!(op(&s, &save(1, None)).ok);
        // A renewed id's marker is no session: its delete counts none.
        let marker = Entry {
            value: "~r".into(),
            ..entry(2)
        };
        let replaced = Op::Save {
            entry: marker,
            expected: Some(1),
        };
        assert!(op(&s, &replaced).ok);
        assert_eq!(op(&s, &Op::Delete).existed, Some(false));
        // One that does not read (not this store's) goes too.
        block_on(s.put(ENTRY, "not an entry")).unwrap();
        assert_eq!(op(&s, &Op::Delete).existed, Some(true));
        assert_eq!(op(&s, &Op::Load).entry, None);
        // Such an entry is `malformed` to a load and to a save naming a version, and written
        // over by a save expecting none (a revocation record's repair), its alarm set.
        block_on(s.put(ENTRY, "not an entry")).unwrap();
        assert_eq!(op(&s, &Op::Load).code.as_deref(), Some("malformed"));
        assert_eq!(op(&s, &save(2, Some(1))).code.as_deref(), Some("malformed"));
        assert!(op(&s, &save(5, None)).ok);
        assert_eq!(op(&s, &Op::Load).entry, Some(entry(5)));
        assert_eq!(s.alarm_at(), Some(1006));
    }

    #[test]
    fn links_revoke_and_expire() {
        let s = MemoryObjectStorage::default();
        revoke_and_expire(&s, &s);
    }

    /// A storage that has no `list_first` of its own (the trait's: the whole list, cut) serves
    /// links as one that does.
    #[test]
    fn links_revoke_and_expire_over_the_default_list_first() {
        let s = MemoryObjectStorage::default();
        revoke_and_expire(&failing(&s, ""), &s);
    }

    /// Links made, listed, forgotten past their time and unlinked through `s`, which keeps its
    /// values and alarm in `held`.
    fn revoke_and_expire<S: ObjectStorage>(s: &S, held: &MemoryObjectStorage) {
        let link = |key: &str, until, now| Op::Link {
            key: key.into(),
            until,
            now,
        };
        assert!(op(s, &link("s:a", 100, 10)).ok);
        assert_eq!(held.alarm_at(), Some(101));
        assert!(op(s, &link("s:b", 300, 20)).ok);
        assert_eq!(held.alarm_at(), Some(101));
        // A link past its time is forgotten at the next link; one at its last second is not.
        assert!(op(s, &link("s:c", 400, 300)).ok);
        let unlink = |key: &str| Op::Unlink {
            keys: vec![key.into()],
        };
        let keys = op(s, &Op::Links).keys.unwrap();
        assert_eq!(keys, ["s:b", "s:c"]);
        // Listed, the links stay until unlinked: those of sessions a revocation deleted; a
        // session whose deletion failed stays linked for the retry.
        assert_eq!(op(s, &Op::Links).keys.unwrap(), keys);
        assert!(op(s, &unlink("s:b")).ok);
        assert_eq!(op(s, &Op::Links).keys.unwrap(), ["s:c"]);
        assert!(op(s, &unlink("s:c")).ok);
        assert!(held.is_empty());
        assert_eq!(op(s, &Op::Links).keys.unwrap(), Vec::<String>::new());
    }

    /// A link or an unlink reads a bounded number of the subject's links, however many it has:
    /// each read them all (a login of a subject of 1000 sessions read 1000).
    #[test]
    fn a_link_reads_few_of_the_links() {
        let s = MemoryObjectStorage::default();
        let link = |i: usize, now| Op::Link {
            key: format!("s:{i:04}"),
            until: 1000 + i as UnixTime,
            now,
        };
        for i in 0..1000 {
            assert!(op(&s, &link(i, 0)).ok);
        }
        let before = s.listed();
        assert!(op(&s, &link(1000, 0)).ok);
        assert!(
            s.listed() - before <= LINKS_PRUNED,
            "{}",
            s.listed() - before
        );
        let before = s.listed();
        let unlink = Op::Unlink {
            keys: vec!["s:0001".into()],
        };
        assert!(op(&s, &unlink).ok);
        assert!(s.listed() - before <= 1, "{}", s.listed() - before);
        // Those past their time among the first read are forgotten; the alarm forgets the rest.
        assert!(op(&s, &link(2000, 1100)).ok);
        let keys = op(&s, &Op::Links).keys.unwrap();
        assert_eq!(keys.len(), 1000 - LINKS_PRUNED + 1);
        assert_eq!(keys.first().map(String::as_str), Some("s:0033"));
        block_on(alarm(&s, 1500)).unwrap();
        assert_eq!(op(&s, &Op::Links).keys.unwrap().len(), 1000 - 500 + 2);
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
        assert_eq!(s.alarm_at(), Some(1002));
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
        assert_eq!(l.alarm_at(), Some(201));
        block_on(alarm(&l, 250)).unwrap();
        assert!(l.is_empty());
    }

    /// The runtime runs an alarm at its time (or later), and runs an alarm set for a time
    /// already come at once, again and again: each alarm must be set for the first second
    /// past what it waits for, so that when it runs that has expired and is ended, and what
    /// remains gets an alarm later than now.
    #[test]
    fn an_alarm_at_its_own_time_ends_what_expired() {
        let s = MemoryObjectStorage::default();
        let save = Op::Save {
            entry: entry(1),
            expected: None,
        };
        assert!(op(&s, &save).ok);
        let at = s.alarm_at().unwrap();
        assert!(at > 1001, "the entry lives through its expiry second");
        block_on(alarm(&s, at)).unwrap();
        assert!(
            s.is_empty(),
            "kept at {at}, alarm set again for {:?}",
            s.alarm_at()
        );

        // Extended meanwhile: the alarm moves past the new expiry, never to a time already come.
        let s = MemoryObjectStorage::default();
        assert!(op(&s, &save).ok);
        let at = s.alarm_at().unwrap();
        let extended = Op::Save {
            entry: Entry {
                expires: at,
                ..entry(2)
            },
            expected: Some(1),
        };
        assert!(op(&s, &extended).ok);
        block_on(alarm(&s, at)).unwrap();
        assert_eq!(s.len(), 1);
        let next = s.alarm_at().unwrap();
        assert!(next > at, "alarm set again for {next}, at {at}");
        block_on(alarm(&s, next)).unwrap();
        assert!(s.is_empty());

        let l = MemoryObjectStorage::default();
        for (key, until) in [("s:a", 100), ("s:b", 200)] {
            let link = Op::Link {
                key: key.into(),
                until,
                now: 0,
            };
            assert!(op(&l, &link).ok);
        }
        let at = l.alarm_at().unwrap();
        assert!(at > 100);
        block_on(alarm(&l, at)).unwrap();
        assert_eq!(l.len(), 1);
        let next = l.alarm_at().unwrap();
        assert!(next > 200, "alarm set again for {next}");
        block_on(alarm(&l, next)).unwrap();
        assert!(l.is_empty());
    }

    /// A storage whose method `failing` (`"get"`, `"setAlarm"`) fails (the object's storage
    /// overloaded or timing out for a moment; a class without an `alarm()` handler, whose
    /// `setAlarm` throws), everything else working.
    struct Failing<'a> {
        inner: &'a MemoryObjectStorage,
        failing: std::cell::Cell<&'static str>,
    }

    /// `inner`, its method `method` failing (`""`: none).
    fn failing<'a>(inner: &'a MemoryObjectStorage, method: &'static str) -> Failing<'a> {
        Failing {
            inner,
            failing: std::cell::Cell::new(method),
        }
    }

    impl Failing<'_> {
        fn check(&self, method: &str) -> Result<()> {
            if self.failing.get() == method {
                return Err(Error::StoreUnavailable(format!("{method}: failing")));
            }
            Ok(())
        }
    }

    impl ObjectStorage for Failing<'_> {
        async fn get(&self, key: &str) -> Result<Option<String>> {
            self.check("get")?;
            self.inner.get(key).await
        }
        async fn put(&self, key: &str, value: &str) -> Result<()> {
            self.inner.put(key, value).await
        }
        async fn delete(&self, key: &str) -> Result<bool> {
            self.inner.delete(key).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<(String, String)>> {
            self.inner.list(prefix).await
        }
        async fn delete_all(&self) -> Result<()> {
            self.inner.delete_all().await
        }
        async fn set_alarm(&self, at: UnixTime) -> Result<()> {
            self.check("setAlarm")?;
            self.inner.set_alarm(at).await
        }
    }

    /// A save or a link whose alarm cannot be set fails without storing anything: stored, the
    /// entry (or link) had no alarm to forget it, and the caller, told the save failed, never
    /// wrote it again (a new session's id is never used again).
    #[test]
    fn nothing_is_stored_without_its_alarm() {
        let s = MemoryObjectStorage::default();
        let failing = failing(&s, "setAlarm");
        let save = Op::Save {
            entry: entry(1),
            expected: None,
        };
        let link = Op::Link {
            key: "s:a".into(),
            until: 100,
            now: 0,
        };
        for request in [save, link] {
            let reply = op(&failing, &request);
            assert_eq!(
                reply.code.as_deref(),
                Some("store_unavailable"),
                "{request:?}"
            );
            assert!(s.is_empty(), "{request:?} left {:?}", s.values.borrow());
        }
    }

    /// An alarm whose read of the entry fails keeps the session (and fails, so that the
    /// runtime runs it again), rather than taking it for an object holding nothing and deleting
    /// everything; run again once the storage answers, it ends what expired as usual.
    #[test]
    fn an_alarm_whose_read_fails_keeps_a_live_session() {
        let s = MemoryObjectStorage::default();
        let save = Op::Save {
            entry: entry(1),
            expected: None,
        };
        assert!(op(&s, &save).ok);
        let failing = failing(&s, "get");
        let failed = block_on(alarm(&failing, 500));
        assert_eq!(failed.map_err(|e| e.code()), Err("store_unavailable"));
        assert_eq!(
            op(&s, &Op::Load).entry,
            Some(entry(1)),
            "the live session was deleted"
        );
        failing.failing.set("");
        block_on(alarm(&failing, 500)).unwrap();
        assert_eq!(s.alarm_at(), Some(1002));
        block_on(alarm(&failing, 1002)).unwrap();
        assert!(s.is_empty());
        // An entry that does not read is no session: it goes, as before.
        s.values.borrow_mut().insert(ENTRY.into(), "junk".into());
        block_on(alarm(&s, 500)).unwrap();
        assert!(s.is_empty());
    }

    /// What tests read of the memory storage: how many values it holds, and how many entries
    /// its lists (whole or cut) have read.
    #[test]
    fn the_memory_storage_counts_what_it_holds_and_lists() {
        let s = MemoryObjectStorage::default();
        assert!(s.is_empty());
        for key in ["k:a", "k:b", "k:c"] {
            block_on(s.put(key, "1")).unwrap();
        }
        assert!(!s.is_empty());
        assert_eq!(s.len(), 3);
        assert_eq!(s.listed(), 0);
        assert_eq!(block_on(s.list(LINK)).unwrap().len(), 3);
        assert_eq!(s.listed(), 3);
        assert_eq!(block_on(s.list_first(LINK, 2)).unwrap().len(), 2);
        assert_eq!(s.listed(), 5);
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

    /// The Durable Object vectors of tests/vectors/store.json: each request as the client writes
    /// it, the object's reply byte for byte, and what its storage holds after. The gateway and
    /// its objects may run different versions while a deploy spreads (an object runs one version
    /// at a time, not necessarily the caller's): a change to any of them must be deliberate.
    #[test]
    fn frozen_wire_and_storage() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/vectors/store.json")).unwrap();
        let object = &v["durableObject"];
        for kind in ["sessionObject", "subjectObject"] {
            let s = MemoryObjectStorage::default();
            for step in object[kind].as_array().unwrap() {
                let request = step["request"].as_str().unwrap();
                let op = Op::from_json(request).unwrap();
                assert_eq!(serde_json::to_string(&op).unwrap(), request, "{kind}");
                assert_eq!(
                    block_on(handle(&s, request)),
                    step["reply"],
                    "{kind}: {request}"
                );
                let held: BTreeMap<String, String> =
                    serde_json::from_value(step["storage"].clone()).unwrap();
                assert_eq!(*s.values.borrow(), held, "{kind}: {request}");
            }
        }
    }
}
