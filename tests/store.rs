//! The session store conformance suite against the memory store (the same body runs against
//! Workers KV and the Durable Object store on the local runtime: tests/e2e/store.test.mjs),
//! plus what only a memory store can show: write counts, faults, interleaving.
#![cfg(feature = "sealed")]
// Test code: a failed unwrap, expect, panic or index fails the test, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edge_session::store::conformance::{self, Status};
use edge_session::store::memory::MemoryStore;
use edge_session::store::record::{Record, RecordKeys, ID_BYTES};
use edge_session::store::session::COOKIE_PURPOSE;
use edge_session::store::{Backend, Commit, SessionConfig, Sessions};
use edge_session::{KeyConfig, KeyRing, Secret, SessionTokens, TokenConfig};
use futures_executor::block_on;
use futures_util::future::join_all;
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const NOW: u64 = 1_800_000_000;

fn ring() -> KeyRing {
    KeyRing::new(vec![("k1".into(), Secret::new([1u8; 32]).unwrap())]).unwrap()
}

/// The known answers of tests/vectors/record.json keep opening: the record format is frozen.
/// (Sealing them again needs their nonce, which only src/store/record.rs can give.)
#[test]
fn record_known_answer_vectors() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("vectors/record.json")).unwrap();
    let entries = vectors["open"].as_array().unwrap();
    assert!(!entries.is_empty());
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    for v in entries {
        let name = v["name"].as_str().unwrap();
        let configs: Vec<KeyConfig> = serde_json::from_value(v["keys"].clone()).unwrap();
        let keys = RecordKeys::new(
            &KeyRing::from_config(&configs).unwrap(),
            v["purpose"].as_str().unwrap(),
        );
        let id: [u8; ID_BYTES] = hex(v["idHex"].as_str().unwrap()).try_into().unwrap();
        let opened = keys
            .open(
                &id,
                v["version"].as_u64().unwrap(),
                v["sealed"].as_str().unwrap(),
            )
            .unwrap();
        let r = &v["record"];
        let want = Record {
            data: r["data"].as_object().unwrap().clone(),
            created: r["created"].as_u64().unwrap(),
            touched: r["touched"].as_u64().unwrap(),
            subject: r["subject"].as_str().map(str::to_owned),
        };
        assert_eq!(opened.record, want, "{name}");
        assert_eq!(opened.stale_key, v["staleKey"].as_bool().unwrap(), "{name}");
    }
}

#[test]
fn memory_store_conforms() {
    let store = MemoryStore::new().interleaving();
    let report = block_on(conformance::run(&store, NOW));
    for check in &report.checks {
        assert_eq!(
            check.status,
            Status::Pass,
            "{}: {}",
            check.name,
            check.detail
        );
    }
    assert_eq!(report.consistency, "strong");
    assert!(report.checks.len() >= 15);
    assert!(report.checks.iter().any(|c| c.name == "revoke_tokens"));
}

/// A new id (at login, at a change of privilege) never extends a session's life: the new
/// cookie, a token of purpose `sid`, ends at the absolute timeout counted from the session's
/// creation, as its `Max-Age` does.
#[test]
fn a_regenerated_cookie_ends_at_the_absolute_timeout() {
    let sessions = Sessions::new(MemoryStore::new(), &ring(), SessionConfig::default()).unwrap();
    let mut session = sessions.new_session(NOW).unwrap();
    session.insert("cart", json!(["book"]));
    block_on(sessions.commit(&mut session, NOW)).unwrap();
    let later = NOW + 100;
    block_on(sessions.regenerate(&mut session, later)).unwrap();
    let absolute = sessions.config().absolute_timeout();
    assert_eq!(sessions.cookie_max_age(&session, later), absolute - 100);

    let mut config = TokenConfig::new(Vec::new());
    config.purpose = COOKIE_PURPOSE.into();
    let sid = SessionTokens::with_keyring(&ring(), config).unwrap();
    let cookie: serde_json::Value = sid.verify(session.cookie().unwrap(), later).unwrap();
    assert_eq!(cookie["exp"], NOW + absolute);
}

/// Only a session-id cookie names a stored session: a token of another purpose signed by the same
/// keyring (a session token, as the gateway signs one at a login, with a `sid` claim) that holds
/// the very id of a stored session is refused (`wrong_purpose`), and `load_or_new` starts a new
/// session rather than give it that one.
#[test]
fn a_token_of_another_purpose_names_no_session() {
    let sessions = Sessions::new(MemoryStore::new(), &ring(), SessionConfig::default()).unwrap();
    let mut session = sessions.new_session(NOW).unwrap();
    session.insert("cart", json!(["book"]));
    block_on(sessions.commit(&mut session, NOW)).unwrap();
    let mut config = TokenConfig::new(Vec::new());
    config.purpose = COOKIE_PURPOSE.into();
    let sid = SessionTokens::with_keyring(&ring(), config).unwrap();
    let cookie: serde_json::Value = sid.verify(session.cookie().unwrap(), NOW).unwrap();
    let tokens = SessionTokens::with_keyring(&ring(), TokenConfig::new(Vec::new())).unwrap();
    let token = tokens
        .sign(&json!({ "sub": "alice", "sid": cookie["sid"] }), NOW)
        .unwrap();
    let refused = block_on(sessions.load(&token, NOW + 1)).unwrap_err();
    assert_eq!(refused.code(), "wrong_purpose");
    let fresh = block_on(sessions.load_or_new(Some(&token), NOW + 1)).unwrap();
    assert!(fresh.is_new() && fresh.data().is_empty());
    assert_ne!(fresh.store_key(), session.store_key());
}

#[test]
fn concurrent_revocations_keep_the_latest_time() {
    let store = MemoryStore::new().interleaving();
    let sessions = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
    let tasks: Vec<_> = (1..=8)
        .map(|i| sessions.revoke_tokens("alice", NOW + i, 3600))
        .collect();
    for result in block_on(join_all(tasks)) {
        result.unwrap();
    }
    assert_eq!(
        block_on(sessions.min_issued_at("alice")).unwrap(),
        Some(NOW + 8)
    );
}

#[test]
fn a_failing_store_fails_revocation_loudly() {
    let store = MemoryStore::new();
    let sessions = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
    block_on(sessions.revoke_tokens("alice", NOW, 3600)).unwrap();
    store.set_failing(true);
    for e in [
        block_on(sessions.revoke_tokens("alice", NOW + 1, 3600)).unwrap_err(),
        block_on(sessions.min_issued_at("alice")).unwrap_err(),
    ] {
        assert_eq!(e.code(), "store_unavailable");
    }
}

#[test]
fn unchanged_sessions_are_never_rewritten() {
    let store = MemoryStore::new();
    let sessions = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
    let mut s = block_on(sessions.load_or_new(None, NOW)).unwrap();
    s.insert("k", json!(1));
    assert_eq!(
        block_on(sessions.commit(&mut s, NOW)).unwrap(),
        Commit::Created
    );
    let cookie = s.cookie().unwrap().to_owned();
    // 1000 requests within one touch interval: no write at all.
    for i in 0..1000 {
        let mut s = block_on(sessions.load_or_new(Some(&cookie), NOW + i % 60)).unwrap();
        assert_eq!(
            block_on(sessions.commit(&mut s, NOW + i % 60)).unwrap(),
            Commit::Unchanged
        );
    }
    assert_eq!(store.writes(), 1);
    // One request a second for 10 minutes: one touch a minute.
    for t in 0..600 {
        let mut s = block_on(sessions.load_or_new(Some(&cookie), NOW + t)).unwrap();
        block_on(sessions.commit(&mut s, NOW + t)).unwrap();
    }
    assert_eq!(store.writes(), 1 + 9);
}

/// A long-running process on the memory store does not keep every ended session: a save
/// forgets what expired (at most once a minute), as KV's TTL and the object's alarm do.
#[test]
fn the_memory_store_forgets_ended_sessions_by_itself() {
    let store = MemoryStore::new();
    let config = SessionConfig::default();
    let idle = config.idle_timeout_seconds;
    let sessions = Sessions::new(&store, &ring(), config).unwrap();
    for i in 0..100 {
        let mut s = block_on(sessions.load_or_new(None, NOW + i)).unwrap();
        s.insert("k", json!(i));
        block_on(sessions.commit(&mut s, NOW + i)).unwrap();
    }
    assert_eq!(store.len(), 100);
    let later = NOW + 50 + idle + 1;
    let mut s = block_on(sessions.load_or_new(None, later)).unwrap();
    s.insert("k", json!("new"));
    block_on(sessions.commit(&mut s, later)).unwrap();
    // Those written after NOW + 50 are alive (their idle deadline not passed), and the new one.
    assert_eq!(store.len(), 49 + 1);
}

fn code<T>(r: Result<T, edge_session::Error>) -> &'static str {
    r.map(|_| ()).unwrap_err().code()
}

#[test]
fn a_failing_store_is_store_unavailable() {
    let store = MemoryStore::new();
    let sessions = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
    let mut s = block_on(sessions.load_or_new(None, NOW)).unwrap();
    s.insert("k", json!(1));
    block_on(sessions.commit(&mut s, NOW)).unwrap();
    let cookie = s.cookie().unwrap().to_owned();
    store.set_failing(true);
    assert_eq!(
        code(block_on(sessions.load(&cookie, NOW))),
        "store_unavailable"
    );
    assert_eq!(
        code(block_on(sessions.load_or_new(Some(&cookie), NOW))),
        "store_unavailable"
    );
    s.insert("k", json!(2));
    assert_eq!(
        code(block_on(sessions.commit(&mut s, NOW))),
        "store_unavailable"
    );
    assert_eq!(
        code(block_on(sessions.revoke_subject("u"))),
        "store_unavailable"
    );
    // Nothing was lost: the session comes back when the store does, and the change can be retried.
    store.set_failing(false);
    assert_eq!(
        block_on(sessions.commit(&mut s, NOW)).unwrap(),
        Commit::Written
    );
    let s = block_on(sessions.load(&cookie, NOW)).unwrap().unwrap();
    assert_eq!(s.get("k"), Some(&json!(2)));
}

#[test]
fn without_retries_concurrent_writers_conflict_and_nothing_is_lost() {
    let store = MemoryStore::new().interleaving();
    let sessions = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
    let (s, _) = block_on(sessions.update(None, NOW, 0, |s| s.insert("n", json!(0)))).unwrap();
    let cookie = s.cookie().unwrap().to_owned();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            sessions.update(Some(&cookie), NOW, 0, |s| {
                let n = s.get("n").and_then(|v| v.as_u64()).unwrap();
                s.insert("n", json!(n + 1));
            })
        })
        .collect();
    let results = block_on(join_all(tasks));
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code() == "conflict"))
        .count();
    assert_eq!(ok + conflicts, 10);
    assert!(conflicts > 0, "the tasks did not interleave");
    let end = block_on(sessions.load(&cookie, NOW)).unwrap().unwrap();
    assert_eq!(end.get("n"), Some(&json!(ok)));
}

/// An idle timeout given alone moves the defaults it would break (as in JavaScript and at the
/// gateway): `{"idleTimeoutSeconds":60}` was an `invalid_config` naming `touchIntervalSeconds`,
/// and 100000 one naming `absoluteTimeoutSeconds`, neither given.
#[test]
fn an_idle_timeout_given_alone_moves_the_defaults_it_would_break() {
    let sessions = |json: &str| {
        let config: SessionConfig = serde_json::from_str(json).unwrap();
        Sessions::new(MemoryStore::new(), &ring(), config)
    };
    let short = sessions(r#"{"idleTimeoutSeconds":60}"#).unwrap();
    assert_eq!(
        (
            short.config().absolute_timeout(),
            short.config().touch_interval()
        ),
        (86_400, 30)
    );
    let long = sessions(r#"{"idleTimeoutSeconds":100000}"#).unwrap();
    assert_eq!(
        (
            long.config().absolute_timeout(),
            long.config().touch_interval()
        ),
        (100_000, 60)
    );
    // A session of the long one lives past the default absolute timeout.
    let mut session = long.new_session(NOW).unwrap();
    block_on(long.commit(&mut session, NOW)).unwrap();
    assert_eq!(long.cookie_max_age(&session, NOW), 100_000);
    for (json, setting) in [
        (
            r#"{"idleTimeoutSeconds":60,"touchIntervalSeconds":60}"#,
            "touchIntervalSeconds",
        ),
        (
            r#"{"idleTimeoutSeconds":600,"absoluteTimeoutSeconds":599}"#,
            "absoluteTimeoutSeconds",
        ),
    ] {
        assert_eq!(sessions(json).unwrap_err().setting(), Some(setting));
    }
}

#[test]
fn bad_settings_are_refused() {
    for (idle, absolute, touch, setting) in [
        (0, 10, 1, "idleTimeoutSeconds"),
        // No touch interval fits under 1 s: the idle timeout is what is wrong.
        (1, 10, 1, "idleTimeoutSeconds"),
        // Deadlines past what Durable Object alarms accept (2189): store_unavailable on every
        // write, and an entry left with no alarm.
        (1 << 32, 1 << 32, 60, "idleTimeoutSeconds"),
        (60, 1 << 32, 10, "absoluteTimeoutSeconds"),
        (60, 30, 10, "absoluteTimeoutSeconds"),
        (60, 600, 60, "touchIntervalSeconds"),
        (60, 600, 0, "touchIntervalSeconds"),
    ] {
        let config = SessionConfig {
            idle_timeout_seconds: idle,
            absolute_timeout_seconds: Some(absolute),
            touch_interval_seconds: Some(touch),
            ..SessionConfig::default()
        };
        let e = Sessions::new(MemoryStore::new(), &ring(), config).unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        assert_eq!(e.setting(), Some(setting));
    }
    for (config, setting) in [
        (
            SessionConfig {
                max_data_bytes: 1,
                ..SessionConfig::default()
            },
            "maxDataBytes",
        ),
        (
            SessionConfig {
                purpose: String::new(),
                ..SessionConfig::default()
            },
            "purpose",
        ),
    ] {
        let e = Sessions::new(MemoryStore::new(), &ring(), config).unwrap_err();
        assert_eq!(e.setting(), Some(setting));
    }
    let config: SessionConfig =
        serde_json::from_str(r#"{"idleTimeoutSeconds":900,"touchIntervalSeconds":30}"#).unwrap();
    assert_eq!(config.idle_timeout_seconds, 900);
    assert!(serde_json::from_str::<SessionConfig>(r#"{"idle":1}"#).is_err());
}

/// Each setting at its bounds: the last value taken, the first refused past it.
#[test]
fn settings_are_taken_up_to_their_bounds() {
    let max = edge_session::store::MAX_TIMEOUT_SECONDS;
    let setting = |config: SessionConfig| {
        Sessions::new(MemoryStore::new(), &ring(), config)
            .err()
            .map(|e| e.setting().unwrap().to_owned())
    };
    let longest = SessionConfig {
        idle_timeout_seconds: max,
        absolute_timeout_seconds: Some(max),
        ..SessionConfig::default()
    };
    assert_eq!(setting(longest), None);
    for (purpose, refused) in [("p".repeat(64), None), ("p".repeat(65), Some("purpose"))] {
        let config = SessionConfig {
            purpose,
            ..SessionConfig::default()
        };
        assert_eq!(setting(config).as_deref(), refused);
    }
    for (bytes, refused) in [(2, None), (65_536, None), (65_537, Some("maxDataBytes"))] {
        let config = SessionConfig {
            max_data_bytes: bytes,
            ..SessionConfig::default()
        };
        assert_eq!(setting(config).as_deref(), refused, "{bytes}");
    }
}

#[test]
fn oversized_data_is_too_large_and_not_written() {
    let store = MemoryStore::new();
    let config = SessionConfig {
        max_data_bytes: 100,
        ..SessionConfig::default()
    };
    let sessions = Sessions::new(&store, &ring(), config).unwrap();
    let mut s = sessions.new_session(NOW).unwrap();
    s.insert("big", json!("x".repeat(200)));
    let e = block_on(sessions.commit(&mut s, NOW)).unwrap_err();
    assert_eq!(e.code(), "too_large");
    assert!(store.is_empty());
    assert!(block_on(store.load(s.store_key())).unwrap().is_none());
}

/// Workers KV's model over the memory store: the last write wins, whatever version it read.
struct LastWriteWins(MemoryStore);

impl Backend for LastWriteWins {
    async fn load(&self, key: &str) -> edge_session::Result<Option<edge_session::store::Entry>> {
        self.0.load(key).await
    }
    async fn save(
        &self,
        key: &str,
        entry: &edge_session::store::Entry,
        _: Option<u64>,
        now: u64,
    ) -> edge_session::Result<()> {
        let current = self.0.load(key).await?.map(|e| e.version);
        self.0.save(key, entry, current, now).await
    }
    async fn delete(&self, key: &str) -> edge_session::Result<()> {
        self.0.delete(key).await
    }
    async fn link(
        &self,
        subject: &str,
        key: &str,
        until: u64,
        now: u64,
    ) -> edge_session::Result<()> {
        self.0.link(subject, key, until, now).await
    }
    async fn revoke(&self, subject: &str) -> edge_session::Result<usize> {
        self.0.revoke(subject).await
    }
    fn consistency(&self) -> edge_session::store::Consistency {
        edge_session::store::Consistency::Eventual
    }
}

/// A request that loaded alice's session before `revokeSubject("alice")` and commits a change
/// after it writes the session back (KV: last write wins). A second revocation must still end
/// it: it must not have become a session no revocation finds.
#[test]
fn a_session_written_back_after_its_revocation_can_still_be_revoked() {
    let sessions = Sessions::new(
        LastWriteWins(MemoryStore::new()),
        &ring(),
        SessionConfig::default(),
    )
    .unwrap();
    let mut s = block_on(sessions.load_or_new(None, NOW)).unwrap();
    s.insert("cart", json!(1));
    s.set_subject(Some("alice".into()));
    block_on(sessions.commit(&mut s, NOW)).unwrap();
    let cookie = s.cookie().unwrap().to_owned();
    // A request in flight: loaded before the revocation, commits after it.
    let mut in_flight = block_on(sessions.load(&cookie, NOW + 1)).unwrap().unwrap();
    assert_eq!(block_on(sessions.revoke_subject("alice")).unwrap(), 1);
    in_flight.insert("cart", json!(2));
    block_on(sessions.commit(&mut in_flight, NOW + 2)).unwrap();
    // Log out everywhere, again.
    block_on(sessions.revoke_subject("alice")).unwrap();
    assert!(
        block_on(sessions.load(&cookie, NOW + 3)).unwrap().is_none(),
        "alice's session outlived two revocations"
    );
}

/// A stored session given a subject by `commit` while the store cannot link it to the subject:
/// the commit fails, and the session its cookie names must not be the subject's unlinked (its
/// later loads take it as linked and never link it again: "log out everywhere" would miss it).
#[test]
fn a_subject_the_store_could_not_link_is_not_stored() {
    let store = MemoryStore::new();
    let sessions = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
    let mut s = block_on(sessions.load_or_new(None, NOW)).unwrap();
    s.insert("k", json!(1));
    block_on(sessions.commit(&mut s, NOW)).unwrap();
    let cookie = s.cookie().unwrap().to_owned();
    let mut s = block_on(sessions.load(&cookie, NOW + 1)).unwrap().unwrap();
    s.set_subject(Some("alice".into()));
    store.set_failing_links(true);
    assert_eq!(
        code(block_on(sessions.commit(&mut s, NOW + 1))),
        "store_unavailable"
    );
    store.set_failing_links(false);
    // The next request of this client writes again; then alice logs out everywhere.
    let mut s = block_on(sessions.load(&cookie, NOW + 2)).unwrap().unwrap();
    s.insert("k", json!(2));
    block_on(sessions.commit(&mut s, NOW + 2)).unwrap();
    block_on(sessions.revoke_subject("alice")).unwrap();
    let left = block_on(sessions.load(&cookie, NOW + 3)).unwrap();
    assert!(
        left.is_none_or(|s| s.subject().is_none()),
        "alice's session outlived \"log out everywhere\""
    );
}

/// Workers KV's model ([`LastWriteWins`]) where "log out everywhere" of a subject runs right after
/// each link to it, before the store's next write: a login (or a session created logged in)
/// concurrent with a revocation of its user.
struct RevokedAfterLink {
    inner: LastWriteWins,
    subject: std::cell::RefCell<Option<String>>,
}

impl RevokedAfterLink {
    async fn revoke_pending(&self) -> edge_session::Result<()> {
        let subject = self.subject.borrow_mut().take();
        if let Some(subject) = subject {
            self.inner.revoke(&subject).await?;
        }
        Ok(())
    }
}

impl Backend for RevokedAfterLink {
    async fn load(&self, key: &str) -> edge_session::Result<Option<edge_session::store::Entry>> {
        self.inner.load(key).await
    }
    async fn save(
        &self,
        key: &str,
        entry: &edge_session::store::Entry,
        expected: Option<u64>,
        now: u64,
    ) -> edge_session::Result<()> {
        self.revoke_pending().await?;
        self.inner.save(key, entry, expected, now).await
    }
    async fn delete(&self, key: &str) -> edge_session::Result<()> {
        self.revoke_pending().await?;
        self.inner.delete(key).await
    }
    async fn link(
        &self,
        subject: &str,
        key: &str,
        until: u64,
        now: u64,
    ) -> edge_session::Result<()> {
        self.inner.link(subject, key, until, now).await?;
        *self.subject.borrow_mut() = Some(subject.to_owned());
        Ok(())
    }
    async fn revoke(&self, subject: &str) -> edge_session::Result<usize> {
        self.inner.revoke(subject).await
    }
    fn consistency(&self) -> edge_session::store::Consistency {
        self.inner.consistency()
    }
}

/// On KV, a session stored logged in while its user is revoked everywhere stays revocable: the
/// session is written before its link (at creation, `regenerate`, a login at `commit`), so a
/// revocation between the two finds the link and ends the session, or the session is linked
/// after it. (A link written first, then the session, the revocation in between finding
/// nothing, would leave a session no revocation finds.)
#[test]
fn on_kv_a_login_concurrent_with_a_revocation_stays_revocable() {
    for how in [
        "created",
        "regenerate",
        "commit",
        "created, then another subject",
    ] {
        let store = RevokedAfterLink {
            inner: LastWriteWins(MemoryStore::new()),
            subject: Default::default(),
        };
        let sessions = Sessions::new(&store, &ring(), SessionConfig::default()).unwrap();
        let mut s = sessions.new_session(NOW).unwrap();
        s.insert("cart", json!(["book"]));
        if how == "created" {
            s.set_subject(Some("alice".into()));
        }
        block_on(sessions.commit(&mut s, NOW)).unwrap();
        match how {
            "regenerate" | "commit" => {
                let cookie = s.cookie().unwrap().to_owned();
                s = block_on(sessions.load(&cookie, NOW + 1)).unwrap().unwrap();
                s.set_subject(Some("alice".into()));
                if how == "regenerate" {
                    block_on(sessions.regenerate(&mut s, NOW + 1)).unwrap();
                } else {
                    block_on(sessions.commit(&mut s, NOW + 1)).unwrap();
                }
            }
            "created, then another subject" => {
                s.set_subject(Some("alice".into()));
                block_on(sessions.commit(&mut s, NOW + 1)).unwrap();
            }
            _ => {}
        }
        let cookie = s.cookie().unwrap().to_owned();
        block_on(store.revoke_pending()).unwrap();
        if block_on(sessions.load(&cookie, NOW + 2)).unwrap().is_none() {
            continue; // Ended by the revocation.
        }
        block_on(sessions.revoke_subject("alice")).unwrap();
        assert!(
            block_on(sessions.load(&cookie, NOW + 3)).unwrap().is_none(),
            "{how}: alice's session outlived \"log out everywhere\""
        );
    }
}
