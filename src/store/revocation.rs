//! Revocation through the store, for [`Sessions`]: every stored session of a subject
//! ([`Sessions::revoke_subject`], through the store's subject index), and a subject's stateless
//! session tokens issued before a time ([`Sessions::revoke_tokens`] keeps that time, its
//! `minIssuedAt`, under `r:` and a keyed hash of the subject; [`Sessions::min_issued_at`] reads
//! it back).

use super::{Backend, Entry, Sessions};
use crate::codec::b64_encode;
use crate::error::{Error, Result};
use crate::keys::{signing_key, MacKey};
use crate::time::{UnixTime, MAX_TIME};

impl<S: Backend> Sessions<S> {
    /// Ends every stored session whose subject is `subject` (log out everywhere, password
    /// change). Returns how many sessions were deleted. With an eventually consistent store,
    /// sessions created at another location in the last minute may be missed.
    ///
    /// The subject's sessions are listed under one tag per key of the ring, revoked tag by tag,
    /// the signing key's last: a `regenerate` of one of them that runs meanwhile links its new
    /// id under the signing key's tag, revoked after the old id's (a regenerate that ends the
    /// old id before its revocation linked the new id before that; a later one is a
    /// `conflict` on a strongly consistent store).
    pub async fn revoke_subject(&self, subject: &str) -> Result<usize> {
        let mut n = 0;
        for (_, _, mac) in self.hashes.iter().rev() {
            n += self
                .store
                .revoke(&b64_encode(&mac.tag(subject.as_bytes())))
                .await?;
        }
        Ok(n)
    }

    /// Refuses, from now on, every session token of `subject` issued before `now`: records
    /// `now` as the subject's `minIssuedAt` (a later time already recorded is kept). The record
    /// lives `keep_seconds`, the longest a token issued before `now` can live (its lifetime,
    /// refreshes included, plus leeway; at most about 136 years); read it back with
    /// [`Sessions::min_issued_at`].
    ///
    /// Stored sessions are not touched: [`Sessions::revoke_subject`] ends those. A `now` past
    /// 10^11 (the year 5138) is refused (`invalid_config`): a time in milliseconds, kept as the
    /// subject's `minIssuedAt`, would refuse its every token for `keep_seconds`, and no later
    /// call can move it back.
    pub async fn revoke_tokens(
        &self,
        subject: &str,
        now: UnixTime,
        keep_seconds: u64,
    ) -> Result<()> {
        let revocation = Revocation {
            before: now,
            except: None,
        };
        self.record_revocation(subject, &revocation, now, keep_seconds)
            .await
    }

    /// Records `revocation` for `subject`'s session tokens at `now` (see
    /// [`Sessions::revoke_tokens`]), kept `keep_seconds` after `now`. Of a later and an earlier
    /// [`Revocation::before`], the later is kept; of two of the same second, the last recorded
    /// (its exception with it: a second revocation in that second ends the first one's new
    /// session too). Its `except` is a session id (base64url, no space).
    pub async fn record_revocation(
        &self,
        subject: &str,
        revocation: &Revocation,
        now: UnixTime,
        keep_seconds: u64,
    ) -> Result<()> {
        crate::time::check_now(revocation.before)?;
        if revocation
            .except
            .as_deref()
            .is_some_and(|e| e.is_empty() || e.contains(' '))
        {
            return Err(Error::Malformed("a revocation's exception is a session id"));
        }
        let (_, _, mac) = signing_key(&self.hashes)?;
        let key = revocation_key(mac, subject);
        let keep = keep_seconds.min(super::config::MAX_TIMEOUT_SECONDS);
        let expires = now.saturating_add(keep).min(MAX_TIME);
        self.write_revocation(&key, revocation, now, expires)
            .await?;
        // A record under an older key of the ring that cannot be read refuses every session
        // of the subject (see `revocation`), and the write above, under the signing key, does
        // not replace it: it goes, once that write stands (before, a failed write would have
        // left the subject's tokens accepted).
        for (_, _, older) in self.hashes.iter().skip(1) {
            let older = revocation_key(older, subject);
            let unreadable = match self.store.load(&older).await {
                Err(Error::Malformed(_)) => true,
                other => other?.is_some_and(|e| Revocation::read(&e).is_none()),
            };
            if unreadable {
                self.store.delete(&older).await?;
            }
        }
        Ok(())
    }

    /// Writes `revocation` under `key` (see [`Sessions::record_revocation`]), kept until
    /// `expires` at least.
    async fn write_revocation(
        &self,
        key: &str,
        revocation: &Revocation,
        now: UnixTime,
        expires: UnixTime,
    ) -> Result<()> {
        // A record that cannot be read (corrupt, or another version's) is replaced: the
        // revocation that repairs it.
        let newer = |stored: Option<&Entry>| {
            stored.and_then(Revocation::read).is_none_or(|k| {
                k.before < revocation.before
                    || (k.before == revocation.before && k.except != revocation.except)
            })
        };
        let value = |stored: Option<&Entry>| newer(stored).then(|| revocation.to_string());
        self.keep_record(key, now, expires, &value).await
    }

    /// Writes the record under `key`, kept until `expires` at least, by compare-and-set
    /// (written again after a `conflict`, a bounded number of times): `value` says what to
    /// write over what the store holds, `None` for no change of value (then only a record kept
    /// less long is written again, to live longer).
    async fn keep_record(
        &self,
        key: &str,
        now: UnixTime,
        expires: UnixTime,
        value: &dyn Fn(Option<&Entry>) -> Option<String>,
    ) -> Result<()> {
        let mut conflicts = 0;
        loop {
            let stored = self.record(key).await?;
            let until = stored.as_ref().map_or(0, |e| e.expires);
            let value = match (value(stored.as_ref()), &stored) {
                (Some(value), _) => value,
                (None, Some(e)) if until < expires => e.value.clone(),
                (None, _) => return Ok(()),
            };
            let version = stored.as_ref().map(|e| e.version);
            let entry = Entry {
                // Saturating: the record is not sealed, and a store written by someone else
                // may hold any version.
                version: version.map_or(1, |v| v.saturating_add(1)),
                value,
                expires: until.max(expires),
            };
            match self.store.save(key, &entry, version, now).await {
                Err(Error::Conflict) if conflicts < REVOKE_RETRIES => {
                    conflicts += 1;
                    self.store.backoff(conflicts).await;
                }
                other => return other,
            }
        }
    }

    /// Ends one session's tokens at its logout: from now on [`Sessions::token_ended`] says so of
    /// `id`, the id the tokens carry (the gateway's `sid`), so that a copy of one (taken from the
    /// browser before the logout) is refused while it could still live. The record, under `e:`
    /// and the SHA-256 of the id, is kept `keep_seconds` after `now` (the longest a token can
    /// live, refreshes included, plus leeway; at most about 136 years); ending an ended one
    /// again keeps the later end. An empty id is `malformed`.
    ///
    /// ```
    /// # futures_executor::block_on(async {
    /// use edge_session::store::{memory::MemoryStore, SessionConfig, Sessions};
    /// use edge_session::{KeyRing, Secret};
    /// let ring = KeyRing::new(vec![("k1".into(), Secret::new([7u8; 32])?)])?;
    /// let sessions = Sessions::new(MemoryStore::new(), &ring, SessionConfig::default())?;
    /// sessions.end_token("Qx3f9Gk2", 1_800_000_000, 86_400).await?;
    /// assert!(sessions.token_ended("Qx3f9Gk2").await?);
    /// assert!(!sessions.token_ended("another").await?);
    /// # Ok::<(), edge_session::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn end_token(&self, id: &str, now: UnixTime, keep_seconds: u64) -> Result<()> {
        crate::time::check_now(now)?;
        let key = ended_key(id)?;
        let keep = keep_seconds.min(super::config::MAX_TIMEOUT_SECONDS);
        let expires = now.saturating_add(keep).min(MAX_TIME);
        let value = |stored: Option<&Entry>| {
            stored
                .is_none_or(|e| e.expires < expires)
                .then(|| now.to_string())
        };
        self.keep_record(&key, now, expires, &value).await
    }

    /// Whether [`Sessions::end_token`] ended the tokens of session `id` (and the record is still
    /// kept). An empty id is `malformed`.
    pub async fn token_ended(&self, id: &str) -> Result<bool> {
        Ok(self.token_ended_at(id).await?.is_some())
    }

    /// When [`Sessions::end_token`] last ended the tokens of session `id` (while the record is
    /// kept), `None` when it did not. A record that does not read (corrupt, or another tool's)
    /// is no sign the session stands: ended at 0. An empty id is `malformed`.
    pub async fn token_ended_at(&self, id: &str) -> Result<Option<UnixTime>> {
        match self.store.load(&ended_key(id)?).await {
            Err(Error::Malformed(_)) => Ok(Some(0)),
            other => Ok(other?.map(|e| e.value.parse().unwrap_or(0))),
        }
    }

    /// The record under `key` for a write that replaces it, `None` for one whose entry cannot
    /// be read (corrupt, or written by another tool), so that the write, expecting none,
    /// repairs it: every store writes over such an entry then (KV over anything; a Durable
    /// Object, which keeps its versions, over an entry that does not read). No delete goes
    /// first: a write that then failed would leave no record refusing anything.
    async fn record(&self, key: &str) -> Result<Option<Entry>> {
        match self.store.load(key).await {
            Err(Error::Malformed(_)) => Ok(None),
            other => other,
        }
    }

    /// The `minIssuedAt` kept for `subject` by [`Sessions::revoke_tokens`], if any: verify
    /// its session tokens with it to refuse those issued before (see [`Sessions::revocation`]
    /// for the session a revocation spares).
    pub async fn min_issued_at(&self, subject: &str) -> Result<Option<UnixTime>> {
        Ok(self.revocation(subject).await?.map(|r| r.before))
    }

    /// The revocation kept for `subject`, if any: of the records under each key of the ring,
    /// the latest (of two of one second, the one that spares no session). A record that cannot
    /// be read (corrupt, or another version's) refuses every session of its subject
    /// ([`Revocation::UNREADABLE`]) until a revocation replaces it.
    pub async fn revocation(&self, subject: &str) -> Result<Option<Revocation>> {
        let mut latest: Option<Revocation> = None;
        for (_, _, mac) in &self.hashes {
            // An entry that cannot be read refuses as a record that cannot be read does (served
            // `unchecked`, a revoked token passed until the entry expired).
            let r = match self.store.load(&revocation_key(mac, subject)).await {
                Ok(Some(entry)) => Revocation::read(&entry).unwrap_or(Revocation::UNREADABLE),
                Ok(None) => continue,
                Err(Error::Malformed(_)) => Revocation::UNREADABLE,
                Err(e) => return Err(e),
            };
            let rank = |r: &Revocation| (r.before, r.except.is_none());
            if latest.as_ref().is_none_or(|l| rank(&r) > rank(l)) {
                latest = Some(r);
            }
        }
        Ok(latest)
    }
}

/// A subject's revocation: its session tokens issued before `before` (the earlier of `iat` and
/// `auth_time`) are refused, but the session `except` names by its `sid`, when it names one:
/// the session that the answer revoking them began (a password change that logs its user in
/// again), so that `before` can take in the very second of the revocation, and with it the
/// sessions an attacker began in that second before the password changed.
///
/// Kept as decimal seconds, then a space and the session id when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Sessions begun before this time are refused.
    pub before: UnixTime,
    /// The session id of the one session spared.
    pub except: Option<String>,
}

impl Revocation {
    /// What a record that cannot be read counts as: every session refused (issued before
    /// [`crate::time::LATEST_NOW`], the latest time a token may carry).
    pub const UNREADABLE: Revocation = Revocation {
        before: crate::time::LATEST_NOW,
        except: None,
    };

    /// Whether it refuses a session begun at `issued_at` with session id `sid`.
    ///
    /// ```
    /// use edge_session::store::Revocation;
    /// let r = Revocation { before: 101, except: Some("new".into()) };
    /// assert!(r.refuses(100, None) && r.refuses(100, Some("old")));
    /// assert!(!r.refuses(100, Some("new")) && !r.refuses(101, None));
    /// ```
    pub fn refuses(&self, issued_at: UnixTime, sid: Option<&str>) -> bool {
        issued_at < self.before && (self.except.is_none() || sid != self.except.as_deref())
    }

    /// The record's time, then its session id; what else may follow (a later version's) spares
    /// nothing, the safe side. Without a time first: `None` (see [`Revocation::UNREADABLE`]).
    fn read(entry: &Entry) -> Option<Revocation> {
        let (before, rest) = entry.value.split_once(' ').unwrap_or((&entry.value, ""));
        let except = (!rest.is_empty() && !rest.contains(' ')).then(|| rest.to_owned());
        Some(Revocation {
            before: before.parse().ok()?,
            except,
        })
    }
}

impl std::fmt::Display for Revocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.except {
            Some(except) => write!(f, "{} {except}", self.before),
            None => write!(f, "{}", self.before),
        }
    }
}

/// How many times a revocation is written again after a `conflict`.
const REVOKE_RETRIES: usize = 20;

/// The store key of an ended session's tokens: `e:` and the SHA-256 of its id (random, and
/// nobody's name: no key is needed to hide it, and every key of the ring finds it).
fn ended_key(id: &str) -> Result<String> {
    if id.is_empty() {
        return Err(Error::Malformed("a session id to end is empty"));
    }
    Ok(format!(
        "e:{}",
        b64_encode(&crate::keys::sha256(id.as_bytes()))
    ))
}

/// The store key of a subject's revocation time: `r:` and the keyed hash of the subject.
fn revocation_key(mac: &MacKey, subject: &str) -> String {
    format!("r:{}", b64_encode(&mac.tag(subject.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyRing, Secret};
    use crate::store::memory::{AlwaysConflict, MemoryStore};
    use crate::store::SessionConfig;
    use futures_executor::block_on;

    fn ring() -> KeyRing {
        KeyRing::new(vec![("k1".into(), Secret::new([3u8; 32]).unwrap())]).unwrap()
    }

    /// [`ring`] after a rotation: a new signing key, `k2`, then `k1`.
    fn rotated() -> KeyRing {
        KeyRing::new(vec![
            ("k2".into(), Secret::new([4u8; 32]).unwrap()),
            ("k1".into(), Secret::new([3u8; 32]).unwrap()),
        ])
        .unwrap()
    }

    /// Sessions in `store` under [`ring`], with their default settings.
    fn sessions<S: Backend>(store: S) -> Sessions<S> {
        Sessions::new(store, &ring(), SessionConfig::default()).unwrap()
    }

    /// The store key of alice's revocation record.
    fn alice<S: Backend>(s: &Sessions<S>) -> String {
        let (_, _, mac) = signing_key(&s.hashes).unwrap();
        revocation_key(mac, "alice")
    }

    /// A revocation record at the last version (its record is not sealed: a store written by
    /// someone else may hold any) is still moved on, never an overflow.
    #[test]
    fn a_revocation_record_at_the_last_version_moves_on() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let last = Entry {
            version: u64::MAX,
            value: "100".into(),
            expires: 1_000,
        };
        block_on(store.save(&alice(&s), &last, None, 50)).unwrap();
        block_on(s.revoke_tokens("alice", 500, 3600)).unwrap();
        assert_eq!(block_on(s.min_issued_at("alice")).unwrap(), Some(500));
    }

    /// A revocation that spares a session keeps its id after the time; of two in one second,
    /// the last recorded stands (a second revocation in that second ends the first one's new
    /// session too), and a later second replaces both; an earlier one changes nothing.
    #[test]
    fn a_revocation_keeps_the_session_it_spares() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let key = alice(&s);
        let at = |before, except: Option<&str>| Revocation {
            before,
            except: except.map(str::to_owned),
        };
        let record = |r: &Revocation| {
            block_on(s.record_revocation("alice", r, 1_000, 3_600)).unwrap();
            block_on(store.load(&key)).unwrap().unwrap().value
        };
        assert_eq!(record(&at(1_001, Some("c2lk"))), "1001 c2lk");
        assert_eq!(
            block_on(s.revocation("alice")).unwrap(),
            Some(at(1_001, Some("c2lk")))
        );
        assert_eq!(block_on(s.min_issued_at("alice")).unwrap(), Some(1_001));
        assert_eq!(record(&at(1_001, None)), "1001");
        assert_eq!(record(&at(1_001, Some("bmV3"))), "1001 bmV3");
        assert_eq!(record(&at(1_000, None)), "1001 bmV3");
        assert_eq!(record(&at(1_002, None)), "1002");
        // The token revocation of the JS library and the store API spares none.
        block_on(s.revoke_tokens("alice", 1_003, 3_600)).unwrap();
        assert_eq!(
            block_on(s.revocation("alice")).unwrap(),
            Some(at(1_003, None))
        );
        // Not a session id, or not a record: refused, never read as another revocation.
        for except in ["", "a b"] {
            let e = block_on(s.record_revocation("alice", &at(1_004, Some(except)), 1_000, 60));
            assert_eq!(e.unwrap_err().code(), "malformed");
        }
        let read = |value: &str| {
            let entry = Entry {
                version: 1,
                value: value.into(),
                expires: 9_999,
            };
            Revocation::read(&entry)
        };
        for value in [" c2lk", "x", "1001.5", ""] {
            assert_eq!(read(value), None, "{value}");
        }
        // What a later version may add spares nothing.
        for value in ["1001 ", "1001 a b", "1001  c2lk"] {
            assert_eq!(read(value), Some(at(1_001, None)), "{value}");
        }
        // An unreadable record refuses every session until a revocation replaces it.
        let version = block_on(store.load(&key)).unwrap().map(|e| e.version);
        let garbage = Entry {
            version: version.unwrap_or(0) + 1,
            value: "v2:whatever".into(),
            expires: 9_999,
        };
        block_on(store.save(&key, &garbage, version, 1_000)).unwrap();
        assert_eq!(
            block_on(s.revocation("alice")).unwrap(),
            Some(Revocation::UNREADABLE)
        );
        assert!(Revocation::UNREADABLE.refuses(1_000_000_000, None));
        assert_eq!(record(&at(1_005, None)), "1005");
        assert_eq!(block_on(store.load(&key)).unwrap().unwrap().expires, 9_999);
    }

    /// Across a key rotation a subject's records lie under the keyed hashes of two keys: the
    /// latest of them stands, whichever key's it is (of two of one second, the one that spares
    /// no session).
    #[test]
    fn the_latest_record_under_any_key_of_the_ring_stands() {
        let rotated = rotated();
        let at = |before, except: Option<&str>| Revocation {
            before,
            except: except.map(str::to_owned),
        };
        for (new_first, old_then, latest) in [
            (at(1_010, None), at(1_020, None), at(1_020, None)),
            (at(1_020, None), at(1_010, None), at(1_020, None)),
            (at(1_030, Some("c2lk")), at(1_030, None), at(1_030, None)),
            (at(1_030, None), at(1_030, Some("c2lk")), at(1_030, None)),
        ] {
            let store = MemoryStore::new();
            let old = sessions(&store);
            let new = Sessions::new(&store, &rotated, SessionConfig::default()).unwrap();
            block_on(new.record_revocation("alice", &new_first, 1_000, 3_600)).unwrap();
            block_on(old.record_revocation("alice", &old_then, 1_000, 3_600)).unwrap();
            assert_eq!(store.len(), 2, "one record under each key");
            assert_eq!(
                block_on(new.revocation("alice")).unwrap(),
                Some(latest),
                "{new_first} then {old_then}"
            );
        }
    }

    /// A `now` in milliseconds is refused: kept, it would refuse the subject's every token until
    /// the record ends, and a later call in seconds could not move it back.
    #[test]
    fn a_revocation_in_milliseconds_is_refused() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let e = block_on(s.revoke_tokens("alice", 1_800_000_000_000, 3600)).unwrap_err();
        assert_eq!((e.code(), e.setting()), ("invalid_config", Some("now")));
        assert_eq!(block_on(s.min_issued_at("alice")).unwrap(), None);
        block_on(s.revoke_tokens("alice", crate::time::LATEST_NOW, 3600)).unwrap();
        assert_eq!(
            block_on(s.min_issued_at("alice")).unwrap(),
            Some(crate::time::LATEST_NOW)
        );
    }

    /// A revocation that keeps meeting `conflict` (another writer always ahead) is written
    /// again [`REVOKE_RETRIES`] times, then fails with `conflict`: never retried for ever, and
    /// never given up at once (concurrent revocations of one subject collide).
    #[test]
    fn a_revocation_in_conflict_is_retried_a_bounded_number_of_times() {
        let store = AlwaysConflict::default();
        let s = sessions(&store);
        block_on(s.revoke_tokens("alice", 100, 3600)).unwrap();
        assert_eq!(store.saves.get(), 1);
        let e = block_on(s.revoke_tokens("alice", 200, 3600)).unwrap_err();
        assert_eq!(e, Error::Conflict);
        assert_eq!(store.saves.get(), 1 + 1 + REVOKE_RETRIES);
        assert_eq!(block_on(s.min_issued_at("alice")).unwrap(), Some(100));
    }

    /// A store whose entries under `corrupt` keys do not read (written by another tool, or
    /// corrupt): `malformed` to a load and, as a Durable Object answers, to a save over one,
    /// until the key is deleted.
    #[derive(Default)]
    struct Corrupt {
        inner: MemoryStore,
        corrupt: std::cell::RefCell<Vec<String>>,
        /// As KV: a save writes over anything, a corrupt entry too.
        eventual: bool,
        /// While true, every save fails (`store_unavailable`).
        failing: std::cell::Cell<bool>,
        deletes: std::cell::Cell<usize>,
    }

    impl Corrupt {
        fn has(&self, key: &str) -> bool {
            self.corrupt.borrow().iter().any(|k| k == key)
        }
    }

    impl Backend for Corrupt {
        passed_to!(inner; link, revoke);
        async fn load(&self, key: &str) -> Result<Option<Entry>> {
            match self.has(key) {
                true => Err(Error::Malformed("not a store entry")),
                false => self.inner.load(key).await,
            }
        }
        async fn save(
            &self,
            key: &str,
            entry: &Entry,
            expected: Option<u64>,
            now: u64,
        ) -> Result<()> {
            if self.failing.get() {
                return Err(Error::StoreUnavailable("down".into()));
            }
            match self.has(key) {
                // A Durable Object keeps its versions, but writes over an entry that does not
                // read when asked to write a new one.
                true if !self.eventual && expected.is_some() => {
                    Err(Error::Malformed("not a store entry"))
                }
                _ => {
                    self.corrupt.borrow_mut().retain(|k| k != key);
                    self.inner.save(key, entry, expected, now).await
                }
            }
        }
        async fn delete(&self, key: &str) -> Result<()> {
            self.deletes.set(self.deletes.get() + 1);
            self.corrupt.borrow_mut().retain(|k| k != key);
            self.inner.delete(key).await
        }
        fn consistency(&self) -> crate::store::Consistency {
            match self.eventual {
                true => crate::store::Consistency::Eventual,
                false => crate::store::Consistency::Strong,
            }
        }
    }

    /// An entry that does not read under a subject's revocation key refuses every session of
    /// the subject, as a record that does not read does (it was a store error: the request
    /// served with its identity, `unchecked`), and a revocation replaces it; under an ended
    /// session's key it ends the session, and `end_token` replaces it.
    #[test]
    fn an_entry_that_does_not_read_fails_closed_and_is_repaired() {
        let store = Corrupt::default();
        let s = sessions(&store);
        store.corrupt.borrow_mut().push(alice(&s));
        let unreadable = block_on(s.revocation("alice")).unwrap();
        assert_eq!(unreadable, Some(Revocation::UNREADABLE));
        assert_eq!(block_on(s.revocation("bob")).unwrap(), None);
        block_on(s.revoke_tokens("alice", 500, 3600)).unwrap();
        assert_eq!(block_on(s.min_issued_at("alice")).unwrap(), Some(500));
        let key = ended_key("sid").unwrap();
        store.corrupt.borrow_mut().push(key.clone());
        assert!(block_on(s.token_ended("sid")).unwrap());
        assert_eq!(block_on(s.token_ended_at("sid")).unwrap(), Some(0));
        block_on(s.end_token("sid", 100, 3600)).unwrap();
        assert_eq!(block_on(s.token_ended_at("sid")).unwrap(), Some(100));
        assert_eq!(block_on(store.load(&key)).unwrap().unwrap().expires, 3700);
        // No delete before the write, which would leave nothing refusing if the write failed.
        assert_eq!(store.deletes.get(), 0);
        // An eventually consistent store (KV) writes over it too.
        let kv = Corrupt {
            eventual: true,
            ..Corrupt::default()
        };
        let s = sessions(&kv);
        kv.corrupt.borrow_mut().extend([alice(&s), key]);
        block_on(s.revoke_tokens("alice", 500, 3600)).unwrap();
        block_on(s.end_token("sid", 100, 3600)).unwrap();
        assert_eq!(block_on(s.min_issued_at("alice")).unwrap(), Some(500));
        assert!(block_on(s.token_ended("sid")).unwrap());
        assert_eq!(kv.deletes.get(), 0);
    }

    /// After a rotation, a record under the older key that cannot be read (its entry, or its
    /// value) refuses every session of the subject; a revocation, written under the signing
    /// key, removes it, so that the user can log in again.
    #[test]
    fn a_revocation_removes_an_unreadable_record_under_an_older_key() {
        let store = Corrupt::default();
        let old = sessions(&store);
        let rotated = rotated();
        let s = Sessions::new(&store, &rotated, SessionConfig::default()).unwrap();
        let (_, _, mac) = signing_key(&old.hashes).unwrap();
        let garbage = Entry {
            version: 1,
            value: "garbage".into(),
            expires: 10_000,
        };
        block_on(
            store
                .inner
                .save(&revocation_key(mac, "bob"), &garbage, None, 50),
        )
        .unwrap();
        store.corrupt.borrow_mut().push(alice(&old));
        for subject in ["alice", "bob"] {
            let unreadable = block_on(s.revocation(subject)).unwrap();
            assert_eq!(unreadable, Some(Revocation::UNREADABLE), "{subject}");
            // A revocation whose write fails leaves it, still refusing.
            store.failing.set(true);
            assert!(block_on(s.revoke_tokens(subject, 500, 3600)).is_err());
            store.failing.set(false);
            let unreadable = block_on(s.revocation(subject)).unwrap();
            assert_eq!(unreadable, Some(Revocation::UNREADABLE), "{subject}");
            block_on(s.revoke_tokens(subject, 500, 3600)).unwrap();
            assert_eq!(
                block_on(s.min_issued_at(subject)).unwrap(),
                Some(500),
                "{subject}"
            );
        }
        // Of two records of one second that each spare a session, the signing key's (the one
        // written last, as revocations are written under it) stands.
        let (_, _, k1) = signing_key(&old.hashes).unwrap();
        let (_, _, k2) = signing_key(&s.hashes).unwrap();
        for (mac, sid) in [(k1, "sid-old"), (k2, "sid-new")] {
            let entry = Entry {
                version: 1,
                value: format!("700 {sid}"),
                expires: 10_000,
            };
            block_on(
                store
                    .inner
                    .save(&revocation_key(mac, "erin"), &entry, None, 50),
            )
            .unwrap();
        }
        let kept = block_on(s.revocation("erin")).unwrap().unwrap();
        assert_eq!(kept.except.as_deref(), Some("sid-new"));
        // A readable record under the older key stays (the later time wins).
        block_on(old.revoke_tokens("carol", 900, 3600)).unwrap();
        block_on(s.revoke_tokens("carol", 500, 3600)).unwrap();
        assert_eq!(block_on(s.min_issued_at("carol")).unwrap(), Some(900));
    }

    /// A session's tokens ended at its logout are known as ended, under the SHA-256 of its
    /// id alone: after a rotation of the ring too, and no other session is.
    #[test]
    fn a_session_ended_is_known_under_any_ring() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        assert!(!block_on(s.token_ended("sid-1")).unwrap());
        block_on(s.end_token("sid-1", 100, 3600)).unwrap();
        assert!(block_on(s.token_ended("sid-1")).unwrap());
        assert!(!block_on(s.token_ended("sid-2")).unwrap());
        let key = format!("e:{}", b64_encode(&crate::keys::sha256(b"sid-1")));
        let entry = block_on(store.load(&key)).unwrap().unwrap();
        assert_eq!((entry.value.as_str(), entry.expires), ("100", 3700));
        let rotated = rotated();
        let after = Sessions::new(&store, &rotated, SessionConfig::default()).unwrap();
        assert!(block_on(after.token_ended("sid-1")).unwrap());
    }

    /// Ended again, a session keeps the later end (a second logout sent by another tab, an
    /// earlier one replayed); an empty id, a time in milliseconds and a conflict that never
    /// ends are errors.
    #[test]
    fn an_ended_session_keeps_its_later_end() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let key = ended_key("sid").unwrap();
        let expires = || block_on(store.load(&key)).unwrap().unwrap().expires;
        block_on(s.end_token("sid", 100, 3600)).unwrap();
        block_on(s.end_token("sid", 50, 60)).unwrap();
        assert_eq!(expires(), 3700);
        assert_eq!(block_on(s.token_ended_at("sid")).unwrap(), Some(100));
        block_on(s.end_token("sid", 200, 3600)).unwrap();
        assert_eq!(expires(), 3800);
        assert_eq!(block_on(s.token_ended_at("sid")).unwrap(), Some(200));
        assert_eq!(block_on(s.token_ended_at("another")).unwrap(), None);
        block_on(s.end_token("sid", 300, u64::MAX)).unwrap();
        assert_eq!(expires(), 300 + crate::store::config::MAX_TIMEOUT_SECONDS);
        assert!(matches!(
            block_on(s.end_token("", 100, 60)),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            block_on(s.token_ended("")),
            Err(Error::Malformed(_))
        ));
        assert_eq!(
            block_on(s.end_token("sid", 1_800_000_000_000, 60))
                .unwrap_err()
                .code(),
            "invalid_config"
        );
        let conflicted = AlwaysConflict::default();
        let c = sessions(&conflicted);
        block_on(c.end_token("sid", 100, 60)).unwrap();
        let e = block_on(c.end_token("sid", 200, 60)).unwrap_err();
        assert_eq!(e, Error::Conflict);
        assert_eq!(conflicted.saves.get(), 1 + 1 + REVOKE_RETRIES);
    }

    /// A subject's revocation record keeps the latest time and lives as long as the longest
    /// `keep_seconds` asked for: an earlier time kept longer extends it, a later time kept
    /// less long moves the time on; a revocation that changes neither writes nothing.
    #[test]
    fn a_revocation_record_keeps_the_latest_time_and_the_longest_life() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let key = alice(&s);
        let revoke = |now, keep| {
            block_on(s.revoke_tokens("alice", now, keep)).unwrap();
            let entry = block_on(store.load(&key)).unwrap().unwrap();
            (Revocation::read(&entry).unwrap().before, entry.expires)
        };
        assert_eq!(revoke(1_000, 3_600), (1_000, 4_600));
        assert_eq!(
            revoke(900, 7_200),
            (1_000, 8_100),
            "an earlier time kept longer"
        );
        assert_eq!(
            revoke(1_100, 60),
            (1_100, 8_100),
            "a later time kept less long"
        );
        let writes = store.writes();
        assert_eq!(revoke(1_050, 60), (1_100, 8_100), "nothing new");
        assert_eq!(store.writes(), writes);
    }
}
