//! Failure injection for the gateway's store flow (tests only): a store that fails one
//! operation of a request (the `n`th, before or after carrying it out: a KV put rate limited, a
//! Durable Object reset, an answer lost to the timeout after the write landed), run against every
//! operation of each request kind, with the invariants that must hold whatever failed:
//!
//! - a session-id cookie given out names a stored session holding what the request wrote, and
//!   a session with a subject is linked to it (its user's revocation ends it);
//! - the id presented before a login never names a session of the logged-in user (fixation);
//! - a logout always clears the id; nothing panics;
//! - after another request wrote the session in between (a `conflict`, the patch applied again),
//!   what a logged-in request wrote keeps its owner;
//! - an operation refused as KV refuses a second write of a key within a second (`429`) is
//!   written again after the answer only when it was a change of a stored session, of its own
//!   subject, on KV; the session then holds what the request wrote, linked to its owner; the
//!   invariants above hold after that retry too.

use std::cell::Cell;

use futures_executor::block_on;
use serde_json::{json, Value};

use super::headers::Directives;
use super::store::tests::{sessions, settings};
use super::store::{finish, load, retry, Outcome, Plan};
use crate::error::{Error, Result};
use crate::store::memory::MemoryStore;
use crate::store::{Backend, Consistency, Entry, Sessions};
use crate::time::UnixTime;

const NOW: UnixTime = 1_800_000_000;

/// A [`MemoryStore`] whose operation number `fail_at` (counted from 0 since the last
/// [`Flaky::arm`]) fails with `store_unavailable`; with `landed`, after it was carried out (the
/// write happened, its answer was lost). `eventual` makes it report KV's consistency.
struct Flaky {
    inner: MemoryStore,
    fail_at: Cell<Option<usize>>,
    landed: Cell<bool>,
    ops: Cell<usize>,
    eventual: bool,
    limited: Cell<bool>,
}

impl Flaky {
    fn new(eventual: bool) -> Self {
        Flaky {
            inner: MemoryStore::new(),
            fail_at: Cell::new(None),
            landed: Cell::new(false),
            ops: Cell::new(0),
            eventual,
            limited: Cell::new(false),
        }
    }

    fn arm(&self, fail_at: Option<usize>, landed: bool) {
        self.ops.set(0);
        self.fail_at.set(fail_at);
        self.landed.set(landed);
    }

    /// Whether this operation fails, and how many operations ran since [`Flaky::arm`].
    fn fails(&self) -> bool {
        let n = self.ops.get();
        self.ops.set(n + 1);
        self.fail_at.get() == Some(n)
    }

    /// The failure injected: KV's refusal of a second write within a second, once
    /// [`Flaky::limit`] says so (of any operation, loads too: more than KV refuses).
    fn error(&self) -> Error {
        Error::StoreUnavailable(if self.limited.get() {
            "KV put: KV PUT failed: 429 Too Many Requests".into()
        } else {
            "injected".into()
        })
    }

    /// The failures injected are KV's refusals of a second write within a second.
    fn limit(&self, limited: bool) {
        self.limited.set(limited);
    }

    fn run<T>(&self, done: Result<T>, failing: bool) -> Result<T> {
        if failing {
            return Err(self.error());
        }
        done
    }
}

impl Backend for Flaky {
    async fn load(&self, key: &str) -> Result<Option<Entry>> {
        let failing = self.fails();
        if failing && !self.landed.get() {
            return Err(self.error());
        }
        self.run(self.inner.load(key).await, failing)
    }
    async fn save(
        &self,
        key: &str,
        entry: &Entry,
        expected: Option<u64>,
        now: UnixTime,
    ) -> Result<()> {
        let failing = self.fails();
        if failing && !self.landed.get() {
            return Err(self.error());
        }
        // KV checks no version: last write wins.
        let expected = if self.eventual {
            self.inner.load(key).await?.map(|e| e.version)
        } else {
            expected
        };
        self.run(self.inner.save(key, entry, expected, now).await, failing)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        let failing = self.fails();
        if failing && !self.landed.get() {
            return Err(self.error());
        }
        self.run(self.inner.delete(key).await, failing)
    }
    async fn link(&self, subject: &str, key: &str, until: UnixTime, now: UnixTime) -> Result<()> {
        let failing = self.fails();
        if failing && !self.landed.get() {
            return Err(self.error());
        }
        self.run(self.inner.link(subject, key, until, now).await, failing)
    }
    async fn revoke(&self, subject: &str) -> Result<usize> {
        let failing = self.fails();
        if failing && !self.landed.get() {
            return Err(self.error());
        }
        self.run(self.inner.revoke(subject).await, failing)
    }
    fn consistency(&self) -> Consistency {
        if self.eventual {
            Consistency::Eventual
        } else {
            Consistency::Strong
        }
    }
}

fn directives(
    data: Option<&str>,
    issue: Option<&str>,
    clear: bool,
    revoke: Option<&str>,
) -> Directives {
    Directives {
        issue: issue.map(Into::into),
        clear,
        data: data.map(Into::into),
        revoke: revoke.map(Into::into),
        nonce: None,
        dropped_cookie: false,
    }
}

/// One request presenting `cookie` (a session id's value), whose origin answers `d`, in which
/// the `subject`'s session token came along. The outcome and the id the client keeps.
fn request(
    s: &Sessions<&Flaky>,
    cookie: Option<&str>,
    subject: Option<&str>,
    d: &Directives,
    now: UnixTime,
) -> (Outcome, Option<String>) {
    let header = cookie.map(|c| format!("__Host-sid={c}"));
    let loaded = block_on(load(s, header.as_deref(), "__Host-sid", now));
    let loaded = loaded.bind(s, subject, now);
    let plan = Plan::from_directives(d, 4096).unwrap();
    let out = block_on(finish(s, &settings(), loaded, &plan, now));
    let kept = match &out.set_cookie {
        Some(c) if c.contains("Max-Age=0") => None,
        Some(c) => Some(c["__Host-sid=".len()..c.find(';').unwrap()].to_owned()),
        None => cookie.map(str::to_owned),
    };
    (out, kept)
}

/// The data and subject the store holds under the id `cookie`.
fn stored(s: &Sessions<&Flaky>, cookie: &str, now: UnixTime) -> Option<(Value, Option<String>)> {
    let session = block_on(s.load(cookie, now)).ok().flatten()?;
    Some((
        Value::Object(session.data().clone()),
        session.subject().map(str::to_owned),
    ))
}

/// A request kind: what the client holds before (data, subject), what the origin answers, and
/// what the session holds once it succeeded (`None`: it ends, and the client's id is cleared).
struct Case {
    name: &'static str,
    before: Option<(&'static str, Option<&'static str>)>,
    token: Option<&'static str>,
    answer: Directives,
    after: Option<(Value, Option<&'static str>)>,
}

fn cases() -> Vec<Case> {
    let d = directives;
    vec![
        Case {
            name: "a new session's first write",
            before: None,
            token: None,
            answer: d(Some(r#"{"cart":["book"]}"#), None, false, None),
            after: Some((json!({"cart": ["book"]}), None)),
        },
        Case {
            name: "a patch",
            before: Some((r#"{"cart":["book"]}"#, None)),
            token: None,
            answer: d(Some(r#"{"n":1}"#), None, false, None),
            after: Some((json!({"cart": ["book"], "n": 1}), None)),
        },
        Case {
            name: "a patch of a logged-in session",
            before: Some((r#"{"cart":["book"]}"#, Some("gil"))),
            token: Some("gil"),
            answer: d(Some(r#"{"n":1}"#), None, false, None),
            after: Some((json!({"cart": ["book"], "n": 1}), Some("gil"))),
        },
        Case {
            name: "a login",
            before: Some((r#"{"cart":["book"]}"#, None)),
            token: None,
            answer: d(None, Some(r#"{"sub":"alice"}"#), false, None),
            after: Some((json!({"cart": ["book"]}), Some("alice"))),
        },
        Case {
            name: "a login with a patch",
            before: Some((r#"{"cart":["book"]}"#, None)),
            token: None,
            answer: d(Some(r#"{"n":1}"#), Some(r#"{"sub":"alice"}"#), false, None),
            after: Some((json!({"cart": ["book"], "n": 1}), Some("alice"))),
        },
        Case {
            name: "another user's login",
            before: Some((r#"{"card":"4242"}"#, Some("alice"))),
            token: Some("alice"),
            answer: d(Some(r#"{"n":1}"#), Some(r#"{"sub":"bob"}"#), false, None),
            after: Some((json!({"n": 1}), Some("bob"))),
        },
        Case {
            name: "a logged-in write to a session begun anonymously",
            before: Some((r#"{"cart":["book"]}"#, None)),
            token: Some("carol"),
            answer: d(Some(r#"{"n":1}"#), None, false, None),
            after: Some((json!({"cart": ["book"], "n": 1}), Some("carol"))),
        },
        Case {
            name: "a logout",
            before: Some((r#"{"cart":["book"]}"#, Some("erin"))),
            token: Some("erin"),
            answer: d(None, None, true, None),
            after: None,
        },
        Case {
            name: "log out everywhere",
            before: Some((r#"{"cart":["book"]}"#, Some("fay"))),
            token: Some("fay"),
            answer: d(None, None, false, Some("fay")),
            after: None,
        },
        Case {
            name: "a password change (revoke and log in again)",
            before: Some((r#"{"cart":["book"]}"#, Some("dave"))),
            token: Some("dave"),
            answer: d(None, Some(r#"{"sub":"dave"}"#), false, Some("dave")),
            after: Some((json!({"cart": ["book"]}), Some("dave"))),
        },
    ]
}

/// The session a case starts from: stored with its data and subject (linked), its id's value.
fn prepare(s: &Sessions<&Flaky>, case: &Case) -> Option<String> {
    let (data, subject) = case.before?;
    let login = subject.map(|sub| format!(r#"{{"sub":"{sub}"}}"#));
    let (_, id) = request(
        s,
        None,
        subject,
        &directives(Some(data), login.as_deref(), false, None),
        NOW,
    );
    let id = id.unwrap();
    assert!(stored(s, &id, NOW).is_some());
    Some(id)
}

/// What `case` leaves when it succeeds: the data and subject under the id the client keeps.
fn expected(case: &Case) -> Option<(Value, Option<String>)> {
    let (data, subject) = case.after.as_ref()?;
    Some((data.clone(), subject.map(str::to_owned)))
}

type Check<'a> = &'a dyn Fn(&Run<'_>);

/// One run of a case with an operation failing: what a check looks at.
struct Run<'a> {
    what: String,
    s: &'a Sessions<&'a Flaky>,
    case: &'a Case,
    before: Option<&'a str>,
    out: &'a Outcome,
    kept: Option<&'a str>,
    /// How the retry of a change KV refused ended, when there was one.
    retried: Option<Result<()>>,
}

/// Runs every case with each of its store operations failing in turn (before or after it was
/// carried out, or refused as KV refuses a second write of a key within a second, and then
/// retried if it is to be), on a strongly consistent store and on an eventually consistent one,
/// and checks what is left.
fn run_all(check: Check<'_>) {
    for eventual in [false, true] {
        for case in cases() {
            // How many operations the request makes when nothing fails.
            let count = {
                let store = Flaky::new(eventual);
                let s = sessions(&store);
                let before = prepare(&s, &case);
                store.arm(None, false);
                let (out, kept) = request(&s, before.as_deref(), case.token, &case.answer, NOW + 1);
                assert!(out.warning.is_none(), "{}: {out:?}", case.name);
                let held = kept.and_then(|k| stored(&s, &k, NOW + 2));
                assert_eq!(held, expected(&case), "{}", case.name);
                store.ops.get()
            };
            for n in 0..count {
                for (landed, limited) in [(false, false), (true, false), (false, true)] {
                    let store = Flaky::new(eventual);
                    let s = sessions(&store);
                    let before = prepare(&s, &case);
                    store.arm(Some(n), landed);
                    store.limit(limited);
                    let (out, kept) =
                        request(&s, before.as_deref(), case.token, &case.answer, NOW + 1);
                    store.arm(None, false);
                    // A change KV refused, written again after the answer (and a second).
                    let retried = out
                        .retry
                        .clone()
                        .map(|session| block_on(retry(&s, session, |_| async { NOW + 2 })));
                    let what = format!(
                        "{} ({}), operation {n} of {count} failing{}{}: {out:?}, retried {retried:?}",
                        case.name,
                        if eventual { "eventual" } else { "strong" },
                        if landed { " after it landed" } else { "" },
                        if limited { " (refused: one write per second)" } else { "" },
                    );
                    check(&Run {
                        what,
                        s: &s,
                        case: &case,
                        before: before.as_deref(),
                        out: &out,
                        kept: kept.as_deref(),
                        retried,
                    });
                }
            }
        }
    }
}

/// A session-id cookie given out (a new id) names what the request stored: the session with
/// the data and subject the request gave it, linked to its subject (its user's revocation ends
/// it).
#[test]
fn a_session_id_given_out_names_what_was_stored() {
    run_all(&|r: &Run<'_>| {
        let given = r
            .out
            .set_cookie
            .as_deref()
            .filter(|c| !c.contains("Max-Age=0"));
        let (Some(_), Some(kept)) = (given, r.kept) else {
            return;
        };
        assert_ne!(Some(kept), r.before, "{}", r.what);
        assert_eq!(stored(r.s, kept, NOW + 2), expected(r.case), "{}", r.what);
        if let Some((_, Some(sub))) = &r.case.after {
            block_on(super::store::revoke(r.s, sub, None, 7200, NOW + 3)).unwrap();
            assert_eq!(
                stored(r.s, kept, NOW + 3),
                None,
                "{}: not linked to {sub}",
                r.what
            );
        }
    });
}

/// The id a client presented at a login never names a session of the logged-in user
/// afterwards, whatever failed: kept by the client, it would be a session an attacker who
/// planted it shares (fixation).
#[test]
fn the_id_presented_at_a_login_never_becomes_the_users() {
    run_all(&|r: &Run<'_>| {
        let (Some((_, Some(sub))), Some(before)) = (&r.case.after, r.before) else {
            return;
        };
        if r.case.answer.issue.is_none() || r.case.before.and_then(|b| b.1) == Some(*sub) {
            return;
        }
        let old = stored(r.s, before, NOW + 2);
        assert!(
            old.as_ref()
                .is_none_or(|(_, owner)| owner.as_deref() != Some(*sub)),
            "{}: the old id names {old:?}",
            r.what
        );
    });
}

/// A logout, or its user's "log out everywhere", clears the client's session id whatever
/// failed (a session the store could not delete is no longer the client's).
#[test]
fn a_logout_always_clears_the_id() {
    run_all(&|r: &Run<'_>| {
        if r.case.after.is_none() {
            assert!(
                r.out
                    .set_cookie
                    .as_deref()
                    .is_some_and(|c| c.contains("Max-Age=0")),
                "{}",
                r.what
            );
            assert_eq!(r.kept, None, "{}", r.what);
        }
    });
}

/// A request whose session another, anonymous request writes between its read and its write
/// (a `conflict` on a strongly consistent store, and the patch applied again to the newer
/// version), with each later operation failing in turn: a new id given out names a session of
/// the case's owner holding what the request wrote, and what a logged-in request wrote is
/// never left under the anonymous id, readable by the id alone.
#[test]
fn a_write_retried_after_a_conflict_keeps_its_owner() {
    for case in cases() {
        let Some((_, None)) = case.before else {
            continue;
        };
        let Some((_, owner)) = &case.after else {
            continue;
        };
        let written: Vec<String> = case
            .answer
            .data
            .as_deref()
            .map(|d| serde_json::from_str::<serde_json::Map<String, Value>>(d).unwrap())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for fail_at in std::iter::once(None).chain((1..12).map(Some)) {
            for landed in [false, true] {
                let store = Flaky::new(false);
                let s = sessions(&store);
                let before = prepare(&s, &case).unwrap();
                let header = format!("__Host-sid={before}");
                let loaded = block_on(load(&s, Some(&header), "__Host-sid", NOW + 1));
                let loaded = loaded.bind(&s, case.token, NOW + 1);
                // The other request, anonymous, writes the session first.
                let (other, _) = request(
                    &s,
                    Some(&before),
                    None,
                    &directives(Some(r#"{"other":1}"#), None, false, None),
                    NOW + 1,
                );
                assert!(other.warning.is_none(), "{other:?}");
                store.arm(fail_at, landed);
                let plan = Plan::from_directives(&case.answer, 4096).unwrap();
                let out = block_on(finish(&s, &settings(), loaded, &plan, NOW + 1));
                store.arm(None, false);
                let what = format!(
                    "{}, operation {fail_at:?} failing (landed {landed}): {out:?}",
                    case.name
                );
                if let Some(c) = out
                    .set_cookie
                    .as_deref()
                    .filter(|c| !c.contains("Max-Age=0"))
                {
                    let id = &c["__Host-sid=".len()..c.find(';').unwrap()];
                    let (data, subject) = stored(&s, id, NOW + 2).expect(&what);
                    assert_eq!(subject.as_deref(), *owner, "{what}");
                    for name in &written {
                        assert!(
                            data.get(name).is_some(),
                            "{what}: {name} missing from {data}"
                        );
                    }
                }
                if owner.is_some() {
                    if let Some((data, _)) = stored(&s, &before, NOW + 2) {
                        for name in &written {
                            assert!(
                                data.get(name).is_none(),
                                "{what}: {name} left under the anonymous id: {data}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// KV's refusal of a second write of a key within a second, of each operation of each request
/// kind in turn: only a change of a stored session, of the subject it had, is written again,
/// and on KV alone (Durable Objects have no such limit); the session then holds what the
/// request wrote, linked to its owner (also when the save landed and the link after it was
/// refused). Never a new session's first write or a login's (new keys, which KV cannot
/// refuse so; written later, a new id would reach no client), a logout or a revocation.
#[test]
fn only_a_change_kv_refused_is_written_again_and_holds_what_was_written() {
    let retries = Cell::new(0);
    run_all(&|r: &Run<'_>| {
        let Some(why) = &r.retried else {
            return;
        };
        retries.set(retries.get() + 1);
        assert!(r.what.contains("(eventual)"), "{}", r.what);
        assert!(r.what.contains("one write per second"), "{}", r.what);
        assert!(r.case.name.starts_with("a patch"), "{}", r.what);
        assert!(why.is_ok(), "{}", r.what);
        let kept = r.kept.expect("the id kept");
        assert_eq!(stored(r.s, kept, NOW + 2), expected(r.case), "{}", r.what);
        // Linked to its owner: the owner's revocation ends it.
        if let Some((_, Some(sub))) = &r.case.after {
            block_on(super::store::revoke(r.s, sub, None, 7200, NOW + 3)).unwrap();
            assert_eq!(stored(r.s, kept, NOW + 3), None, "{}: not linked", r.what);
        }
    });
    assert!(retries.get() > 0);
}
