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
        crate::time::check_now(now)?;
        let (_, _, mac) = signing_key(&self.hashes)?;
        let key = revocation_key(mac, subject);
        let keep = keep_seconds.min(super::config::MAX_TIMEOUT_SECONDS);
        let expires = now.saturating_add(keep).min(MAX_TIME);
        let mut conflicts = 0;
        loop {
            let stored = self.store.load(&key).await?;
            let (version, min, until) = match &stored {
                Some(e) => (Some(e.version), revocation_time(e)?, e.expires),
                None => (None, 0, 0),
            };
            if min >= now && until >= expires {
                return Ok(());
            }
            let entry = Entry {
                // Saturating: the record is not sealed, and a store written by someone else
                // may hold any version.
                version: version.map_or(1, |v| v.saturating_add(1)),
                value: min.max(now).to_string(),
                expires: until.max(expires),
            };
            match self.store.save(&key, &entry, version, now).await {
                Err(Error::Conflict) if conflicts < REVOKE_RETRIES => {
                    conflicts += 1;
                    self.store.backoff(conflicts).await;
                }
                other => return other,
            }
        }
    }

    /// The `minIssuedAt` of `subject` recorded by [`Sessions::revoke_tokens`]: tokens it was
    /// issued before that time are revoked. Every key of the ring is asked (the record was made
    /// under the key that was current then), and the latest time wins.
    pub async fn min_issued_at(&self, subject: &str) -> Result<Option<UnixTime>> {
        let mut latest = None;
        for (_, _, mac) in &self.hashes {
            if let Some(entry) = self.store.load(&revocation_key(mac, subject)).await? {
                latest = latest.max(Some(revocation_time(&entry)?));
            }
        }
        Ok(latest)
    }
}

/// How many times a revocation is written again after a `conflict`.
const REVOKE_RETRIES: usize = 20;

/// The store key of a subject's revocation time: `r:` and the keyed hash of the subject.
fn revocation_key(mac: &MacKey, subject: &str) -> String {
    format!("r:{}", b64_encode(&mac.tag(subject.as_bytes())))
}

/// The time a revocation entry holds (decimal seconds).
fn revocation_time(entry: &Entry) -> Result<UnixTime> {
    entry
        .value
        .parse()
        .map_err(|_| Error::Malformed("not a revocation entry"))
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

    /// A revocation record at the last version (its record is not sealed: a store written by
    /// someone else may hold any) is still moved on, never an overflow.
    #[test]
    fn a_revocation_record_at_the_last_version_moves_on() {
        let store = MemoryStore::new();
        let s = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
        let (_, _, mac) = signing_key(&s.hashes).unwrap();
        let last = Entry {
            version: u64::MAX,
            value: "100".into(),
            expires: 1_000,
        };
        block_on(store.save(&revocation_key(mac, "alice"), &last, None, 50)).unwrap();
        block_on(s.revoke_tokens("alice", 500, 3600)).unwrap();
        assert_eq!(block_on(s.min_issued_at("alice")).unwrap(), Some(500));
    }

    /// A `now` in milliseconds is refused: kept, it would refuse the subject's every token until
    /// the record ends, and a later call in seconds could not move it back.
    #[test]
    fn a_revocation_in_milliseconds_is_refused() {
        let store = MemoryStore::new();
        let s = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
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
        let s = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
        block_on(s.revoke_tokens("alice", 100, 3600)).unwrap();
        assert_eq!(store.saves.get(), 1);
        let e = block_on(s.revoke_tokens("alice", 200, 3600)).unwrap_err();
        assert_eq!(e, Error::Conflict);
        assert_eq!(store.saves.get(), 1 + 1 + REVOKE_RETRIES);
        assert_eq!(block_on(s.min_issued_at("alice")).unwrap(), Some(100));
    }

    /// A subject's revocation record keeps the latest time and lives as long as the longest
    /// `keep_seconds` asked for: an earlier time kept longer extends it, a later time kept
    /// less long moves the time on; a revocation that changes neither writes nothing.
    #[test]
    fn a_revocation_record_keeps_the_latest_time_and_the_longest_life() {
        let store = MemoryStore::new();
        let s = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
        let (_, _, mac) = signing_key(&s.hashes).unwrap();
        let key = revocation_key(mac, "alice");
        let revoke = |now, keep| {
            block_on(s.revoke_tokens("alice", now, keep)).unwrap();
            let entry = block_on(store.load(&key)).unwrap().unwrap();
            (revocation_time(&entry).unwrap(), entry.expires)
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
