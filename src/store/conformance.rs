//! The conformance suite: one test body that every [`Backend`] passes. It runs natively
//! against [`MemoryStore`](super::memory::MemoryStore) (`cargo test`), and inside the gateway
//! worker against Workers KV and the Durable Object store on the real local runtime
//! (tests/e2e/store.test.mjs).
//!
//! Every check returns a message instead of panicking, so the suite can run inside a worker and
//! report as JSON. Sessions are made with fresh random ids, so runs against a shared store do not
//! disturb each other.
//!
//! ```
//! use edge_session::store::{conformance, memory::MemoryStore};
//! use futures_executor::block_on;
//! let report = block_on(conformance::run(&MemoryStore::new().interleaving(), 1_800_000_000));
//! assert!(report.ok(), "{:?}", report.failures());
//! ```

use serde::Serialize;
use serde_json::{json, Value};

use super::executor::join_all;
use super::record::RecordKeys;
use super::{Backend, Commit, Consistency, Entry, SessionConfig, Sessions};
use crate::error::{Error, Result};
use crate::keys::{KeyRing, Secret};
use crate::time::UnixTime;

/// The settings the suite runs with: idle 600 s, absolute 3600 s, touch every 60 s.
pub fn config() -> SessionConfig {
    SessionConfig {
        idle_timeout_seconds: 600,
        absolute_timeout_seconds: Some(3600),
        touch_interval_seconds: Some(60),
        max_data_bytes: 4096,
        purpose: "conformance".into(),
    }
}

/// How many concurrent increments the strong-consistency check makes.
pub const CONCURRENT: usize = 100;

/// How a check ended. In the JSON report: `"pass"`, `"fail"` or `"skip"` (the end-to-end tests
/// read these strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The store did what the check asks.
    Pass,
    /// It did not; [`Check::detail`] says why.
    Fail,
    /// The check does not apply to this store (an eventually consistent store and concurrent
    /// increments); [`Check::detail`] says why.
    Skip,
}

impl Status {
    /// `pass`, `fail` or `skip`, as in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// The check's name, for example `touch_throttling`.
    pub name: &'static str,
    /// Passed, failed or skipped.
    pub status: Status,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The outcome of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `strong` or `eventual`.
    pub consistency: &'static str,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when no check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// The failed checks.
    pub fn failures(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .collect()
    }
}

type Outcome = std::result::Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// `?` for the suite: any error becomes the failure message.
trait Ctx<T> {
    fn ctx(self, what: &str) -> std::result::Result<T, String>;
}

impl<T> Ctx<T> for Result<T> {
    fn ctx(self, what: &str) -> std::result::Result<T, String> {
        self.map_err(|e| format!("{what}: {} ({e})", e.code()))
    }
}

fn ring(keys: &[(&str, u8)]) -> KeyRing {
    let keys = keys
        .iter()
        .map(|(id, b)| {
            let secret = Secret::new([*b; 32]).unwrap_or_else(|_| unreachable!("32 bytes"));
            ((*id).to_owned(), secret)
        })
        .collect();
    KeyRing::new(keys).unwrap_or_else(|_| unreachable!("a valid keyring"))
}

fn sessions<S: Backend>(store: S, keys: &[(&str, u8)]) -> Sessions<S> {
    Sessions::new(store, &ring(keys), config()).unwrap_or_else(|_| unreachable!("valid config"))
}

const K1: &[(&str, u8)] = &[("k1", 1)];

/// Runs every check against `store`, with the clock starting at `now`.
pub async fn run<S: Backend>(store: &S, now: UnixTime) -> Report {
    let mut checks = Vec::new();
    macro_rules! check {
        ($name:literal, $body:expr) => {
            let outcome: Outcome = $body.await;
            checks.push(Check {
                name: $name,
                status: if outcome.is_ok() {
                    Status::Pass
                } else {
                    Status::Fail
                },
                detail: outcome.err().unwrap_or_default(),
            });
        };
    }
    check!("round_trip", round_trip(store, now));
    check!("lazy_creation", lazy_creation(store, now));
    check!("expiry", expiry(store, now));
    check!("touch_throttling", touch_throttling(store, now));
    check!("regenerate", regenerate(store, now));
    check!(
        "subject_change_renews_id",
        subject_change_renews_id(store, now)
    );
    check!("destroy", destroy(store, now));
    check!("encryption_at_rest", encryption_at_rest(store, now));
    check!("copied_value_fails", copied_value_fails(store, now));
    check!("wrong_key", wrong_key(store, now));
    check!("corrupted_values", corrupted(store, now));
    check!("key_rotation", rotation(store, now));
    check!("revoke_subject", revoke_subject(store, now));
    check!("revoke_tokens", revoke_tokens(store, now));
    check!("compare_and_set", compare_and_set(store, now));
    match store.consistency() {
        Consistency::Strong => {
            check!("regenerate_races", regenerate_races(store, now));
            check!("revoke_races", revoke_races(store, now));
            check!("concurrent_increments", concurrent_increments(store, now));
        }
        Consistency::Eventual => {
            for name in ["regenerate_races", "revoke_races", "concurrent_increments"] {
                checks.push(Check {
                    name,
                    status: Status::Skip,
                    detail: "an eventually consistent store does not promise it (last write wins)"
                        .into(),
                });
            }
        }
    }
    Report {
        consistency: match store.consistency() {
            Consistency::Strong => "strong",
            Consistency::Eventual => "eventual",
        },
        checks,
    }
}

/// A stored session with some data, and its cookie.
async fn stored<S: Backend>(
    s: &Sessions<S>,
    data: Value,
    now: UnixTime,
) -> std::result::Result<(super::Session, String), String> {
    let mut session = s.new_session(now).ctx("new_session")?;
    if let Value::Object(map) = data {
        *session.data_mut() = map;
    }
    let commit = s.commit(&mut session, now).await.ctx("commit")?;
    ensure!(commit == Commit::Created, "first commit: {commit:?}");
    let cookie = session.cookie().ok_or("a created session has a cookie")?;
    Ok((session.clone(), cookie.to_owned()))
}

async fn raw<S: Backend>(store: &S, key: &str) -> std::result::Result<Entry, String> {
    store
        .load(key)
        .await
        .ctx("store.load")?
        .ok_or_else(|| format!("no entry under {key}"))
}

async fn round_trip<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let data = json!({ "cart": ["book", "pen"], "name": "Zoë 日本", "n": 1.5, "deep": { "a": [null, true] } });
    let (session, cookie) = stored(&s, data.clone(), now).await?;
    ensure!(session.version() == 1, "version {}", session.version());
    ensure!(cookie.len() < 200, "cookie of {} bytes", cookie.len());
    ensure!(
        !session.store_key().contains(&cookie),
        "store key holds the cookie"
    );
    let loaded = s.load(&cookie, now + 1).await.ctx("load")?;
    let loaded = loaded.ok_or("stored session not found")?;
    ensure!(
        Value::Object(loaded.data().clone()) == data,
        "data changed: {:?}",
        loaded.data()
    );
    ensure!(
        loaded.created() == now && loaded.version() == 1,
        "metadata changed"
    );
    ensure!(loaded.cookie().is_none(), "a known session sets no cookie");
    Ok(())
}

async fn lazy_creation<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let mut session = s.load_or_new(None, now).await.ctx("load_or_new")?;
    let commit = s.commit(&mut session, now).await.ctx("commit")?;
    ensure!(
        commit == Commit::Unchanged,
        "an empty new session was {commit:?}"
    );
    ensure!(session.cookie().is_none(), "an empty session sets a cookie");
    ensure!(
        store
            .load(session.store_key())
            .await
            .ctx("store.load")?
            .is_none(),
        "an empty session was stored"
    );
    Ok(())
}

async fn expiry<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let c = config();
    // Idle: valid through the idle timeout, gone one second later.
    let (_, cookie) = stored(&s, json!({ "k": 1 }), now).await?;
    let at_limit = s
        .load(&cookie, now + c.idle_timeout_seconds)
        .await
        .ctx("load")?;
    ensure!(at_limit.is_some(), "gone at the idle timeout");
    let after = s
        .load(&cookie, now + c.idle_timeout_seconds + 1)
        .await
        .ctx("load")?;
    ensure!(after.is_none(), "alive after the idle timeout");
    // Absolute: touched every interval, still gone after the absolute timeout.
    let (_, cookie) = stored(&s, json!({ "k": 2 }), now).await?;
    let mut t = now;
    while t + c.touch_interval() <= now + c.absolute_timeout() {
        t += c.touch_interval() * 5;
        let Some(mut session) = s.load(&cookie, t).await.ctx("load")? else {
            ensure!(
                t > now + c.absolute_timeout(),
                "an active session ended early, at +{}",
                t - now
            );
            break;
        };
        s.commit(&mut session, t).await.ctx("touch")?;
    }
    let end = now + c.absolute_timeout();
    ensure!(
        s.load(&cookie, end).await.ctx("load")?.is_some(),
        "gone before the absolute timeout"
    );
    match s.load(&cookie, end + 1).await {
        Ok(None) | Err(Error::Expired { .. }) => {}
        other => {
            return Err(format!(
                "alive after the absolute timeout: {:?}",
                other.map(|s| s.is_some())
            ))
        }
    }
    // A reader that found a version expired leaves the session to the store's own expiry: a
    // request renewed it (loaded just before its idle deadline, written just after that read).
    let (session, cookie) = stored(&s, json!({ "k": 3 }), now).await?;
    let key = session.store_key().to_owned();
    let old = raw(store, &key).await?;
    let idle = now + c.idle_timeout_seconds;
    let mut renewed = s.load(&cookie, idle).await.ctx("load")?.ok_or("gone")?;
    renewed.insert("k", json!(4));
    s.commit(&mut renewed, idle).await.ctx("renew")?;
    let stale = StaleRead {
        store,
        stale: std::cell::RefCell::new(Some((key, old))),
    };
    let reader = sessions(&stale, K1);
    let found = reader.load(&cookie, idle + 1).await.ctx("stale load")?;
    ensure!(found.is_none(), "the stale version was not expired");
    ensure!(
        s.load(&cookie, idle + 1).await.ctx("load")?.is_some(),
        "a reader that found the version before a renewal expired deleted the renewed session"
    );
    Ok(())
}

/// `store`, whose next load of one key answers an older entry: a read that landed before
/// another request's write.
struct StaleRead<'a, S> {
    store: &'a S,
    stale: std::cell::RefCell<Option<(String, Entry)>>,
}

impl<S: Backend> Backend for StaleRead<'_, S> {
    passed_to!(store; save, delete, link, revoke, consistency);
    async fn load(&self, key: &str) -> Result<Option<Entry>> {
        let stale = self.stale.borrow_mut().take_if(|(k, _)| k == key);
        match stale {
            Some((_, entry)) => Ok(Some(entry)),
            None => self.store.load(key).await,
        }
    }
}

async fn touch_throttling<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let c = config();
    let (session, cookie) = stored(&s, json!({ "k": 1 }), now).await?;
    let key = session.store_key().to_owned();
    let load = |t| {
        let (s, cookie) = (&s, &cookie);
        async move {
            s.load(cookie, t)
                .await
                .ctx("load")?
                .ok_or_else(|| "not found".to_owned())
        }
    };
    let interval = c.touch_interval();
    for t in [now + 1, now + interval / 2, now + interval - 1] {
        let mut session = load(t).await?;
        session.insert("k", json!(1)); // the same value: not a change
        let commit = s.commit(&mut session, t).await.ctx("commit")?;
        ensure!(commit == Commit::Unchanged, "at +{}: {commit:?}", t - now);
    }
    ensure!(
        raw(store, &key).await?.expires == now + c.idle_timeout_seconds,
        "an unchanged session was rewritten"
    );
    let mut session = load(now + interval).await?;
    let commit = s.commit(&mut session, now + interval).await.ctx("commit")?;
    ensure!(commit == Commit::Touched, "after the interval: {commit:?}");
    let entry = raw(store, &key).await?;
    ensure!(entry.version == 1, "touch wrote version {}", entry.version);
    ensure!(
        entry.expires == now + interval + c.idle_timeout_seconds,
        "touch did not extend the idle deadline"
    );
    // Right after a touch: nothing; a change: written at once.
    let mut session = load(now + interval + 1).await?;
    let commit = s
        .commit(&mut session, now + interval + 1)
        .await
        .ctx("commit")?;
    ensure!(
        commit == Commit::Unchanged,
        "right after a touch: {commit:?}"
    );
    session.insert("k", json!(2));
    let commit = s
        .commit(&mut session, now + interval + 2)
        .await
        .ctx("commit")?;
    ensure!(commit == Commit::Written, "a change: {commit:?}");
    ensure!(
        raw(store, &key).await?.version == 2,
        "the change was not written"
    );
    // The idle timeout counts from the touch.
    let late = now + interval + 2 + c.idle_timeout_seconds;
    ensure!(
        s.load(&cookie, late).await.ctx("load")?.is_some(),
        "touch did not extend the session"
    );
    Ok(())
}

async fn regenerate<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let (_, old_cookie) = stored(&s, json!({ "cart": ["book"] }), now).await?;
    let mut session = s
        .load(&old_cookie, now + 5)
        .await
        .ctx("load")?
        .ok_or("not found")?;
    let old_key = session.store_key().to_owned();
    session.set_subject(Some("user-regenerate".into()));
    session.insert("role", json!("admin"));
    s.regenerate(&mut session, now + 5)
        .await
        .ctx("regenerate")?;
    let new_cookie = session.cookie().ok_or("no new cookie")?.to_owned();
    ensure!(new_cookie != old_cookie, "same cookie");
    ensure!(session.store_key() != old_key, "same store key");
    ensure!(
        s.load(&old_cookie, now + 6)
            .await
            .ctx("load old")?
            .is_none(),
        "the old id still works"
    );
    ensure!(
        store
            .load(&old_key)
            .await
            .ctx("store.load")?
            .is_none_or(|e| !e.holds_session()),
        "the old entry remains"
    );
    let moved = s
        .load(&new_cookie, now + 6)
        .await
        .ctx("load new")?
        .ok_or("new id not found")?;
    ensure!(
        moved.get("cart") == Some(&json!(["book"])),
        "data not moved"
    );
    ensure!(
        moved.get("role") == Some(&json!("admin")),
        "pending change lost"
    );
    ensure!(moved.subject() == Some("user-regenerate"), "subject lost");
    ensure!(
        moved.created() == now,
        "regenerate reset the absolute timeout"
    );
    Ok(())
}

/// A stored session whose subject changes (a login done with `set_subject` and `commit`, no
/// `regenerate`; a switch to another user; a logout that keeps the session) gets a new id at
/// commit, as `regenerate` gives it: the id known before (session fixation) is worthless. A
/// session the client does not know yet keeps its id.
async fn subject_change_renews_id<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let user = |name: &str| -> std::result::Result<String, String> {
        Ok(format!(
            "{name}-{}",
            crate::codec::b64_encode(&random_bytes()?)
        ))
    };
    let (alice, bob, carol) = (user("alice")?, user("bob")?, user("carol")?);
    let (_, mut cookie) = stored(&s, json!({ "cart": ["book"] }), now).await?;
    for (step, subject) in [Some(&alice), Some(&bob), None].into_iter().enumerate() {
        let at = now + 1 + step as UnixTime;
        let mut session = s.load(&cookie, at).await.ctx("load")?.ok_or("not found")?;
        let old_key = session.store_key().to_owned();
        session.set_subject(subject.cloned());
        session.insert("step", json!(step));
        let commit = s.commit(&mut session, at).await.ctx("commit")?;
        ensure!(commit == Commit::Written, "{subject:?}: {commit:?}");
        let renewed = session
            .cookie()
            .ok_or_else(|| format!("{subject:?}: no new cookie"))?
            .to_owned();
        ensure!(renewed != cookie, "{subject:?}: same cookie");
        ensure!(
            s.load(&cookie, at).await.ctx("load old")?.is_none(),
            "{subject:?}: the old id still works"
        );
        ensure!(
            store
                .load(&old_key)
                .await
                .ctx("store.load")?
                .is_none_or(|e| !e.holds_session()),
            "{subject:?}: the old entry remains"
        );
        let moved = s
            .load(&renewed, at)
            .await
            .ctx("load new")?
            .ok_or("new id not found")?;
        ensure!(
            moved.get("cart") == Some(&json!(["book"])),
            "{subject:?}: data not moved"
        );
        ensure!(
            moved.get("step") == Some(&json!(step)),
            "{subject:?}: pending change lost"
        );
        ensure!(
            moved.subject() == subject.map(String::as_str),
            "{subject:?}: subject {:?}",
            moved.subject()
        );
        ensure!(moved.created() == now, "the absolute timeout was reset");
        // Committed again in the same request: no second new id.
        let again = s.commit(&mut session, at).await.ctx("commit again")?;
        ensure!(
            again == Commit::Unchanged && session.cookie() == Some(renewed.as_str()),
            "{subject:?}: a second commit gave {again:?}, cookie changed: {}",
            session.cookie() != Some(renewed.as_str())
        );
        cookie = renewed;
    }
    ensure!(
        s.revoke_subject(&bob).await.ctx("revoke_subject")? == 0,
        "a session bob left is still bob's"
    );
    ensure!(
        s.load(&cookie, now + 5).await.ctx("load")?.is_some(),
        "the session ended with a revocation of its former user"
    );
    // A new session given a subject keeps its id (nobody knew it), and is linked to it.
    let mut fresh = s.new_session(now).ctx("new_session")?;
    let key = fresh.store_key().to_owned();
    fresh.set_subject(Some(carol.clone()));
    fresh.insert("k", json!(1));
    let commit = s.commit(&mut fresh, now).await.ctx("commit")?;
    ensure!(commit == Commit::Created, "a new session: {commit:?}");
    ensure!(fresh.store_key() == key, "a new session got another id");
    let fresh_cookie = fresh.cookie().ok_or("no cookie")?.to_owned();
    ensure!(
        s.revoke_subject(&carol).await.ctx("revoke_subject")? == 1,
        "a new session with a subject is not linked to it"
    );
    ensure!(
        s.load(&fresh_cookie, now + 1).await.ctx("load")?.is_none(),
        "a revoked session loads"
    );
    // On a strongly consistent store the renewal is `regenerate`'s compare-and-set: a session
    // ended (a logout) since it was loaded is a `conflict`, never brought back.
    if store.consistency() == Consistency::Strong {
        let (_, cookie) = stored(&s, json!({ "k": 2 }), now).await?;
        let mut in_flight = s
            .load(&cookie, now + 1)
            .await
            .ctx("load")?
            .ok_or("not found")?;
        let ended = in_flight.clone();
        s.destroy(ended).await.ctx("destroy")?;
        in_flight.set_subject(Some(alice.clone()));
        let written = s.commit(&mut in_flight, now + 2).await;
        ensure!(
            matches!(written, Err(Error::Conflict)),
            "a login at commit of an ended session: {written:?}"
        );
        ensure!(
            in_flight.cookie().is_none(),
            "a refused login gave a cookie"
        );
        ensure!(
            s.load(&cookie, now + 3).await.ctx("load")?.is_none(),
            "the ended session came back"
        );
    }
    Ok(())
}

async fn destroy<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let (session, cookie) = stored(&s, json!({ "k": 1 }), now).await?;
    let key = session.store_key().to_owned();
    s.destroy(session).await.ctx("destroy")?;
    ensure!(
        s.load(&cookie, now + 1).await.ctx("load")?.is_none(),
        "destroyed session loads"
    );
    ensure!(
        store.load(&key).await.ctx("store.load")?.is_none(),
        "entry remains"
    );
    let fresh = s
        .load_or_new(Some(&cookie), now + 1)
        .await
        .ctx("load_or_new")?;
    ensure!(
        fresh.is_new() && fresh.data().is_empty(),
        "destroyed data came back"
    );
    // A request that loaded a session before its logout (or its user's revocation) and then
    // gives it a new id (a login, a change of privilege): on a strongly consistent store a
    // `conflict`, never the ended session brought back under the new id.
    if store.consistency() == Consistency::Strong {
        for revoke in [false, true] {
            let (mut session, cookie) = stored(&s, json!({ "k": 2 }), now).await?;
            session.set_subject(Some(format!("ended-{revoke}")));
            s.commit(&mut session, now).await.ctx("commit")?;
            let mut in_flight = s
                .load(&cookie, now + 1)
                .await
                .ctx("load")?
                .ok_or("not found")?;
            let mut writer = in_flight.clone();
            if revoke {
                s.revoke_subject("ended-true").await.ctx("revoke_subject")?;
            } else {
                s.destroy(session).await.ctx("destroy")?;
            }
            // A write of it: docs/store.md calls a logout final on these stores.
            writer.insert("k", json!(3));
            let written = s.commit(&mut writer, now + 2).await;
            ensure!(
                matches!(written, Err(Error::Conflict)),
                "an ended session written back (revoked: {revoke}): {written:?}"
            );
            in_flight.insert("role", json!("admin"));
            let regenerated = s.regenerate(&mut in_flight, now + 2).await;
            ensure!(
                matches!(regenerated, Err(Error::Conflict)),
                "an ended session regenerated (revoked: {revoke}): {regenerated:?}"
            );
            ensure!(
                in_flight.cookie().is_none(),
                "a refused regenerate gave a cookie"
            );
            ensure!(
                s.load(&cookie, now + 3).await.ctx("load")?.is_none(),
                "the ended session came back (revoked: {revoke})"
            );
        }
    }
    Ok(())
}

const MARKER: &str = "plaintext-marker-4f9a";

async fn encryption_at_rest<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let (mut session, cookie) =
        stored(&s, json!({ "card": MARKER, MARKER: "name-too" }), now).await?;
    session.set_subject(Some(format!("{MARKER}-subject")));
    s.commit(&mut session, now + 1).await.ctx("commit")?;
    let entry = raw(store, session.store_key()).await?;
    let text = entry.to_json();
    let decoded = crate::codec::b64_decode(&entry.value).map_err(|e| e.to_string())?;
    for needle in [MARKER, "card", "name-too", "subject"] {
        ensure!(!text.contains(needle), "stored text holds {needle:?}");
        ensure!(
            !decoded
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "stored bytes hold {needle:?}"
        );
    }
    let sid = cookie_sid(&cookie).ok_or("cookie has no sid")?;
    ensure!(
        !text.contains(&sid) && !session.store_key().contains(&sid),
        "store holds the id"
    );
    Ok(())
}

/// The base64url session id inside a cookie (the cookie is signed, not encrypted).
fn cookie_sid(cookie: &str) -> Option<String> {
    let bytes = crate::codec::b64_decode(cookie).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let start = text.find("\"sid\":\"")? + 7;
    let end = start + text[start..].find('"')?;
    Some(text[start..end].to_owned())
}

async fn copied_value_fails<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let (a, _) = stored(&s, json!({ "owner": "a" }), now).await?;
    let (b, b_cookie) = stored(&s, json!({ "owner": "b" }), now).await?;
    let entry = raw(store, a.store_key()).await?;
    store
        .save(b.store_key(), &entry, Some(1), now)
        .await
        .ctx("store.save")?;
    match s.load(&b_cookie, now + 1).await {
        Err(Error::BadSignature) => {}
        other => {
            return Err(format!(
                "a copied value opened: {:?}",
                other.map(|s| s.is_some())
            ))
        }
    }
    let fresh = s
        .load_or_new(Some(&b_cookie), now + 1)
        .await
        .ctx("load_or_new")?;
    ensure!(fresh.is_new(), "load_or_new kept the copied value");
    Ok(())
}

async fn wrong_key<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let (session, cookie) = stored(&s, json!({ "k": 1 }), now).await?;
    let entry = raw(store, session.store_key()).await?;
    let id = crate::codec::b64_decode(&cookie_sid(&cookie).ok_or("no sid")?)
        .map_err(|e| e.to_string())?;
    let id: [u8; 16] = id.try_into().map_err(|_| "id length")?;
    let same_id_other_secret = RecordKeys::new(&ring(&[("k1", 2)]), &config().purpose);
    match same_id_other_secret.open(&id, entry.version, &entry.value) {
        Err(Error::BadSignature) => {}
        other => return Err(format!("another secret: {other:?}")),
    }
    let other_id = RecordKeys::new(&ring(&[("k9", 1)]), &config().purpose);
    match other_id.open(&id, entry.version, &entry.value) {
        Err(Error::UnknownKey(kid)) if kid == "k1" => {}
        other => return Err(format!("another key id: {other:?}")),
    }
    // A cookie signed with another secret is refused before the store is asked.
    let other = sessions(store, &[("k1", 2)]);
    match other.load(&cookie, now).await {
        Err(Error::BadSignature) => Ok(()),
        other => Err(format!(
            "a foreign cookie: {:?}",
            other.map(|s| s.is_some())
        )),
    }
}

async fn corrupted<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let (session, cookie) = stored(&s, json!({ "k": 1 }), now).await?;
    let key = session.store_key().to_owned();
    let entry = raw(store, &key).await?;
    let mut flipped = entry.value.clone().into_bytes();
    ensure!(flipped.len() > 8, "stored value too short");
    let mid = flipped.len() / 2;
    if let Some(c) = flipped.get_mut(mid) {
        *c = if *c == b'A' { b'B' } else { b'A' };
    }
    let cut = (entry.value.len() - entry.value.len() % 4).saturating_sub(4);
    let head = |n: usize| entry.value.get(..n).unwrap_or_default().to_owned();
    let cases = [
        (
            String::from_utf8(flipped).map_err(|e| e.to_string())?,
            "bad_signature",
        ),
        (head(cut), "bad_signature"),
        (head(8), "malformed"),
        ("not base64!".to_owned(), "malformed"),
        (String::new(), "malformed"),
    ];
    for (version, (value, code)) in (entry.version..).zip(cases) {
        let bad = Entry {
            version: version + 1,
            value,
            expires: entry.expires,
        };
        store
            .save(&key, &bad, Some(version), now)
            .await
            .ctx("store.save")?;
        match s.load(&cookie, now + 1).await {
            Err(e) if e.code() == code => {}
            other => return Err(format!("expected {code}: {:?}", other.map(|s| s.is_some()))),
        }
    }
    let fresh = s
        .load_or_new(Some(&cookie), now + 1)
        .await
        .ctx("load_or_new")?;
    ensure!(
        fresh.is_new(),
        "a corrupted record was not replaced by a new session"
    );
    // A forged or truncated cookie is a typed error too.
    let truncated = cookie
        .get(..cookie.len().saturating_sub(2))
        .unwrap_or_default();
    for bad in [truncated, "junk", ""] {
        match s.load(bad, now).await {
            Err(Error::StoreUnavailable(_)) | Ok(_) => {
                return Err(format!("cookie {bad:?} accepted"))
            }
            Err(_) => {}
        }
    }
    Ok(())
}

async fn rotation<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let old = sessions(store, K1);
    let (_, cookie) = stored(&old, json!({ "k": 1 }), now).await?;
    let rotated = sessions(store, &[("k2", 2), ("k1", 1)]);
    let mut session = rotated
        .load(&cookie, now + 1)
        .await
        .ctx("load")?
        .ok_or("lost by rotation")?;
    session.insert("k", json!(2));
    rotated.commit(&mut session, now + 2).await.ctx("commit")?;
    let entry = raw(store, session.store_key()).await?;
    let id = crate::codec::b64_decode(&cookie_sid(&cookie).ok_or("no sid")?)
        .map_err(|e| e.to_string())?;
    let id: [u8; 16] = id.try_into().map_err(|_| "id length")?;
    let k2_only = RecordKeys::new(&ring(&[("k2", 2)]), &config().purpose);
    ensure!(
        k2_only.open(&id, entry.version, &entry.value).is_ok(),
        "a write after rotation was not sealed with the new key"
    );
    let again = rotated
        .load(&cookie, now + 3)
        .await
        .ctx("load")?
        .ok_or("lost")?;
    ensure!(again.get("k") == Some(&json!(2)), "change lost");
    let (_, new_cookie) = stored(&rotated, json!({ "k": 3 }), now).await?;
    ensure!(
        old.load(&new_cookie, now).await.is_err(),
        "a k2 cookie opened with k1 only"
    );
    Ok(())
}

async fn revoke_subject<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let alice = format!("alice-{}", crate::codec::b64_encode(&random_bytes()?));
    let bob = format!("bob-{}", crate::codec::b64_encode(&random_bytes()?));
    let mut cookies = Vec::new();
    let mut ended = None;
    for (i, who) in [&alice, &alice, &alice, &alice, &bob]
        .into_iter()
        .enumerate()
    {
        let (mut session, _) = stored(&s, json!({ "i": i }), now).await?;
        session.set_subject(Some(who.clone()));
        s.regenerate(&mut session, now + 1)
            .await
            .ctx("regenerate")?;
        if i == 0 {
            ended = Some(session);
        } else {
            cookies.push(session.cookie().ok_or("no cookie")?.to_owned());
        }
    }
    // A session that ended by itself (a logout) is not counted.
    s.destroy(ended.ok_or("no session")?).await.ctx("destroy")?;
    let n = s.revoke_subject(&alice).await.ctx("revoke_subject")?;
    ensure!(n == 3, "revoked {n} sessions, not the 3 alive");
    for cookie in cookies.iter().take(3) {
        ensure!(
            s.load(cookie, now + 2).await.ctx("load")?.is_none(),
            "a revoked session loads"
        );
    }
    ensure!(
        s.load(cookies.get(3).ok_or("no fourth cookie")?, now + 2)
            .await
            .ctx("load")?
            .is_some(),
        "another user's session ended"
    );
    ensure!(
        s.revoke_subject(&alice).await.ctx("revoke again")? == 0,
        "revoked twice"
    );
    Ok(())
}

async fn revoke_tokens<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let alice = format!("alice-{}", crate::codec::b64_encode(&random_bytes()?));
    let bob = format!("bob-{}", crate::codec::b64_encode(&random_bytes()?));
    ensure!(
        s.min_issued_at(&alice)
            .await
            .ctx("min_issued_at")?
            .is_none(),
        "a subject never revoked has a minIssuedAt"
    );
    s.revoke_tokens(&alice, now + 10, 3600)
        .await
        .ctx("revoke_tokens")?;
    let at = s.min_issued_at(&alice).await.ctx("min_issued_at")?;
    ensure!(at == Some(now + 10), "minIssuedAt {at:?}, not now + 10");
    // An earlier revocation arriving late does not undo a later one.
    s.revoke_tokens(&alice, now + 5, 3600)
        .await
        .ctx("revoke_tokens")?;
    let at = s.min_issued_at(&alice).await.ctx("min_issued_at")?;
    ensure!(at == Some(now + 10), "minIssuedAt went back to {at:?}");
    s.revoke_tokens(&alice, now + 20, 3600)
        .await
        .ctx("revoke_tokens")?;
    let at = s.min_issued_at(&alice).await.ctx("min_issued_at")?;
    ensure!(at == Some(now + 20), "minIssuedAt {at:?}, not now + 20");
    ensure!(
        s.min_issued_at(&bob).await.ctx("min_issued_at")?.is_none(),
        "another user was revoked"
    );
    // After a key rotation the old record still counts, and a new one is made with the new key.
    let rotated = sessions(store, &[("k2", 2), ("k1", 1)]);
    let at = rotated.min_issued_at(&alice).await.ctx("min_issued_at")?;
    ensure!(at == Some(now + 20), "lost by rotation: {at:?}");
    rotated
        .revoke_tokens(&alice, now + 30, 3600)
        .await
        .ctx("revoke_tokens")?;
    let at = rotated.min_issued_at(&alice).await.ctx("min_issued_at")?;
    ensure!(at == Some(now + 30), "after rotation: {at:?}, not now + 30");
    Ok(())
}

async fn compare_and_set<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let (_, cookie) = stored(&s, json!({ "who": "none" }), now).await?;
    let mut first = s
        .load(&cookie, now + 1)
        .await
        .ctx("load")?
        .ok_or("not found")?;
    let mut second = first.clone();
    first.insert("who", json!("first"));
    second.insert("who", json!("second"));
    s.commit(&mut first, now + 1).await.ctx("first commit")?;
    let late = s.commit(&mut second, now + 1).await;
    let stored_now = s
        .load(&cookie, now + 2)
        .await
        .ctx("load")?
        .ok_or("not found")?;
    match store.consistency() {
        Consistency::Strong => {
            ensure!(
                matches!(late, Err(Error::Conflict)),
                "a stale save: {late:?}"
            );
            ensure!(
                stored_now.get("who") == Some(&json!("first")),
                "the stale save was written"
            );
            ensure!(second.version() == 1, "a refused save changed the session");
        }
        Consistency::Eventual => {
            ensure!(late.is_ok(), "last write wins: {late:?}");
            ensure!(
                stored_now.get("who") == Some(&json!("second")),
                "the last write lost"
            );
        }
    }
    Ok(())
}

async fn concurrent_increments<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let s = sessions(store, K1);
    let (_, cookie) = stored(&s, json!({ "n": 0 }), now).await?;
    let tasks: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let (s, cookie) = (&s, &cookie);
            async move {
                s.update(Some(cookie), now + 1, CONCURRENT * 4, |session| {
                    let n = session.get("n").and_then(Value::as_u64).unwrap_or(0);
                    session.insert("n", json!(n + 1));
                })
                .await
            }
        })
        .collect();
    let results = join_all(tasks).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    ensure!(
        failed == 0,
        "{failed} increments failed: {:?}",
        results.iter().find(|r| r.is_err())
    );
    let end = s
        .load(&cookie, now + 2)
        .await
        .ctx("load")?
        .ok_or("not found")?;
    let n = end.get("n").and_then(Value::as_u64);
    ensure!(n == Some(CONCURRENT as u64), "counter {n:?}: updates lost");
    ensure!(
        end.version() == CONCURRENT as u64 + 1,
        "version {}",
        end.version()
    );
    Ok(())
}

/// A request that runs while another one is inside `regenerate`.
type Race<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + 'a>>;

/// A store that runs a racing request right after the first save under `key`: `regenerate`'s
/// compare-and-set on the old id, before it stores the new one.
struct Racing<'a, S> {
    inner: &'a S,
    race: std::cell::RefCell<Option<(String, Race<'a>)>>,
    raced: std::cell::RefCell<Option<Outcome>>,
}

impl<S: Backend> Backend for Racing<'_, S> {
    passed_to!(inner; load, delete, link, revoke, consistency);
    async fn save(&self, key: &str, e: &Entry, expected: Option<u64>, now: UnixTime) -> Result<()> {
        self.inner.save(key, e, expected, now).await?;
        let race = self.race.borrow_mut().take();
        match race {
            Some((k, race)) if k == key => *self.raced.borrow_mut() = Some(race.await),
            other => *self.race.borrow_mut() = other,
        }
        Ok(())
    }
}

/// Strong stores: another request that writes, ends (a logout), revokes or regenerates (the same
/// login in another tab) a session while a `regenerate` of it (a login) is between its
/// compare-and-set on the old id and the delete of that id. Neither is lost: the write is kept
/// (under the new id, or the regenerate is a `conflict` and the old id keeps it), the ended
/// session never comes back under the new id, and of two regenerates one is a `conflict` (the
/// user has one session, not two).
async fn regenerate_races<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let other = sessions(store, K1);
    for race in ["commit", "destroy", "revoke", "regenerate"] {
        let racing = Racing {
            inner: store,
            race: Default::default(),
            raced: Default::default(),
        };
        let s = sessions(&racing, K1);
        let alice = format!("alice-{}", crate::codec::b64_encode(&random_bytes()?));
        let (mut session, _) = stored(&s, json!({ "cart": ["book"] }), now).await?;
        session.set_subject(Some(alice.clone()));
        s.regenerate(&mut session, now).await.ctx("regenerate")?;
        let cookie = session.cookie().ok_or("no cookie")?.to_owned();
        let mut in_flight = s
            .load(&cookie, now + 1)
            .await
            .ctx("load")?
            .ok_or("not found")?;
        let (other, cookie_ref, alice_ref) = (&other, cookie.clone(), alice.clone());
        let run: Race<'_> = Box::pin(async move {
            let mut loaded = other
                .load(&cookie_ref, now + 1)
                .await
                .ctx("racing load")?
                .ok_or("racing load: not found")?;
            match race {
                "commit" => {
                    loaded.insert("paid", json!(true));
                    other
                        .commit(&mut loaded, now + 1)
                        .await
                        .ctx("racing commit")?;
                }
                "destroy" => other.destroy(loaded).await.ctx("racing destroy")?,
                // The same login in another tab: one of the two gets the session.
                "regenerate" => {
                    other
                        .regenerate(&mut loaded, now + 1)
                        .await
                        .ctx("racing regenerate")?;
                }
                _ => drop(
                    other
                        .revoke_subject(&alice_ref)
                        .await
                        .ctx("racing revoke")?,
                ),
            }
            Ok(())
        });
        *racing.race.borrow_mut() = Some((in_flight.store_key().to_owned(), run));
        in_flight.insert("role", json!("admin"));
        let regenerated = s.regenerate(&mut in_flight, now + 2).await;
        let raced = racing.raced.borrow_mut().take();
        raced.ok_or_else(|| format!("{race}: the race did not run"))??;
        let old = other.load(&cookie, now + 3).await.ctx("load old")?;
        match regenerated {
            Ok(()) => {
                let renewed = in_flight.cookie().ok_or("no new cookie")?;
                let new = other.load(renewed, now + 3).await.ctx("load new")?;
                ensure!(old.is_none(), "{race}: the old id still works");
                match race {
                    "commit" => ensure!(
                        new.as_ref().and_then(|n| n.get("paid")) == Some(&json!(true)),
                        "{race}: a write made during the regenerate was lost"
                    ),
                    _ => ensure!(
                        new.is_none(),
                        "{race}: the ended session came back under the new id"
                    ),
                }
            }
            Err(Error::Conflict) => {
                ensure!(
                    in_flight.cookie().is_none(),
                    "{race}: a refused regenerate gave a cookie"
                );
                match race {
                    "commit" => ensure!(
                        old.as_ref().and_then(|o| o.get("paid")) == Some(&json!(true)),
                        "{race}: the write made during the regenerate is not under the old id"
                    ),
                    _ => ensure!(old.is_none(), "{race}: the ended session loads"),
                }
            }
            Err(e) => return Err(format!("{race}: regenerate: {} ({e})", e.code())),
        }
        ensure!(
            other.revoke_subject(&alice).await.ctx("revoke_subject")? <= 1,
            "{race}: more than one session of the user"
        );
    }
    Ok(())
}

/// A store whose `revoke` call number `at` (1, 2...) first runs a racing request to its end:
/// another request landing between the revocations of a subject's tags under each key of the
/// ring.
struct RevokeRacing<'a, S> {
    inner: &'a S,
    at: usize,
    calls: std::cell::Cell<usize>,
    race: std::cell::RefCell<Option<Race<'a>>>,
    raced: std::cell::RefCell<Option<Outcome>>,
}

impl<S: Backend> Backend for RevokeRacing<'_, S> {
    passed_to!(inner; load, save, delete, link, consistency);
    async fn revoke(&self, subject: &str) -> Result<usize> {
        self.calls.set(self.calls.get() + 1);
        if self.calls.get() == self.at {
            let race = self.race.borrow_mut().take();
            if let Some(race) = race {
                *self.raced.borrow_mut() = Some(race.await);
            }
        }
        self.inner.revoke(subject).await
    }
}

/// Strong stores, after a key rotation: "log out everywhere" revokes the subject's tag under
/// each key of the ring in turn, and a `regenerate` of one of the user's sessions (made under
/// the old key, so linked under its tag) runs between two of them. The new id is linked under
/// the new key's tag: it must be ended too (the revocation took the tags newest first, and the
/// session lived on under its new id once the old key's tag was revoked), or the regenerate is
/// a `conflict`.
async fn revoke_races<S: Backend>(store: &S, now: UnixTime) -> Outcome {
    let old = sessions(store, K1);
    // The racing request, on the store itself, with the revoking request's ring.
    let other = sessions(store, &[("k2", 2), ("k1", 1)]);
    for at in [1, 2] {
        let racing = RevokeRacing {
            inner: store,
            at,
            calls: Default::default(),
            race: Default::default(),
            raced: Default::default(),
        };
        let rotated = sessions(&racing, &[("k2", 2), ("k1", 1)]);
        let alice = format!("alice-{}", crate::codec::b64_encode(&random_bytes()?));
        let (mut session, _) = stored(&old, json!({ "cart": ["book"] }), now).await?;
        session.set_subject(Some(alice.clone()));
        old.regenerate(&mut session, now).await.ctx("regenerate")?;
        let cookie = session.cookie().ok_or("no cookie")?.to_owned();
        let mut in_flight = other
            .load(&cookie, now + 1)
            .await
            .ctx("load")?
            .ok_or("not found")?;
        let renewed = std::rc::Rc::new(std::cell::RefCell::new(None));
        let (other_ref, renewed_ref) = (&other, renewed.clone());
        let run: Race<'_> = Box::pin(async move {
            in_flight.insert("role", json!("admin"));
            match other_ref.regenerate(&mut in_flight, now + 1).await {
                Ok(()) => {
                    let cookie = in_flight.cookie().ok_or("no new cookie")?.to_owned();
                    *renewed_ref.borrow_mut() = Some(cookie);
                }
                Err(Error::Conflict) => {}
                Err(e) => return Err(format!("racing regenerate: {} ({e})", e.code())),
            }
            Ok(())
        });
        *racing.race.borrow_mut() = Some(run);
        rotated.revoke_subject(&alice).await.ctx("revoke_subject")?;
        let raced = racing.raced.borrow_mut().take();
        raced.ok_or_else(|| format!("at {at}: the race did not run"))??;
        ensure!(
            rotated
                .load(&cookie, now + 2)
                .await
                .ctx("load old")?
                .is_none(),
            "at {at}: the revoked session loads under its old id"
        );
        let renewed = renewed.borrow_mut().take();
        if let Some(renewed) = renewed {
            ensure!(
                rotated
                    .load(&renewed, now + 2)
                    .await
                    .ctx("load new")?
                    .is_none(),
                "at {at}: the user's session outlived the revocation under the id a regenerate \
                 gave it meanwhile"
            );
        }
    }
    Ok(())
}

fn random_bytes() -> std::result::Result<[u8; 9], String> {
    let mut b = [0u8; 9];
    getrandom::fill(&mut b).map_err(|e| e.to_string())?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_reads_as_before() {
        let report = Report {
            consistency: "eventual",
            checks: vec![
                Check {
                    name: "a",
                    status: Status::Pass,
                    detail: String::new(),
                },
                Check {
                    name: "b",
                    status: Status::Fail,
                    detail: "why".into(),
                },
                Check {
                    name: "c",
                    status: Status::Skip,
                    detail: "n/a".into(),
                },
            ],
        };
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"consistency":"eventual","checks":[{"name":"a","status":"pass"},{"name":"b","status":"fail","detail":"why"},{"name":"c","status":"skip","detail":"n/a"}]}"#
        );
        assert!(!report.ok());
        assert_eq!(report.failures().len(), 1);
        for status in [Status::Pass, Status::Fail, Status::Skip] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(status.to_string(), status.as_str());
        }
    }
}
