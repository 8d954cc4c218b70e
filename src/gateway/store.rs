//! Server-side session data at the gateway (`STORE = "kv" | "durable"`), over any
//! [`Backend`] so that it is tested natively with the memory store.
//!
//! Per request:
//!
//! 1. [`load`]: the session named by the `__Host-sid` cookie (or a new, empty one). The origin
//!    gets `x-session-store: ok` and the data as `x-session-data: {json}` (non-ASCII escaped);
//!    when the store fails, `x-session-store: unavailable` and no data: the request is served
//!    anyway (degraded), never failed. The session-id cookie is kept through the outage, except
//!    at a login, which clears the id it cannot renew (session fixation), and at a logout.
//! 2. The origin answers; it may send `x-session-data: {json merge patch}` (RFC 7386: members
//!    set, `null` deletes, objects merge; ASCII only, other characters escaped as `\u00e9`), `x-session-issue` (login: the session gets a new id,
//!    keeps its data and takes `sub` as its subject) or `x-session-clear` (logout: the session is
//!    deleted; with a login in the same answer, the login starts a new one).
//!    [`Plan::from_directives`] checks them ([`Gateway::finish`] answers 502 to a patch that is
//!    not a JSON object or is too large).
//! 3. [`finish`]: applies the plan and commits with compare-and-set against the version that was
//!    loaded. On `conflict` (another request wrote the session meanwhile, Durable Objects only)
//!    the patch is applied again to the newer version, up to [`CONFLICT_RETRIES`] times: members
//!    the origin did not set keep the other request's values; for a member both set, the later
//!    write wins. A change Workers KV refused (one write per second per key) is written again
//!    after the answer ([`retry`]), while the store still holds what the change was made to.
//!    The session-id cookie is set when the session is created or gets a new id, and cleared
//!    after a logout or when it names nothing (and is the only one presented).
//!
//! [`Gateway::finish`]: super::Gateway::finish

use serde_json::{Map, Value};

use super::config::{StoreKind, StoreSettings};
use super::headers::{self, ascii_json, Directives};
use super::pages::Page;
use super::pipeline::Attempt;
use crate::cookie::{self, MAX_PRESENTED};
use crate::error::{Error, Quoted};
use crate::json::ObjectError;
use crate::store::session::Found;
use crate::store::{rate_limited, Backend, Commit, Consistency, Revocation, Session, Sessions};
use crate::time::UnixTime;

/// How many times a patch is applied again after a `conflict`.
pub const CONFLICT_RETRIES: usize = 20;

/// The KV namespace binding of the session store (`STORE = "kv"`).
pub const KV_BINDING: &str = "SESSIONS";

/// The Durable Object namespace binding of the session store (`STORE = "durable"`), of class
/// `EdgeSessionObject` (`gateway::durable`).
pub const DO_BINDING: &str = "SESSION_OBJECTS";

/// Why `x-session-data` holding an integer that would be stored as another number is refused.
const INEXACT_DATA: &str = "x-session-data holds an integer that would be stored as another number (beyond 64 bits, or -0): send it as a string";

/// The binding a store of this kind is reached through.
pub fn binding(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::Kv => KV_BINDING,
        StoreKind::Durable => DO_BINDING,
    }
}

/// A method the binding of a `STORE` kind has and no other binding has (but a service binding,
/// whose RPC stub answers every name: the entry module, src/gateway/worker/entry.mjs, takes
/// such a binding out of the environment): a KV namespace's `getWithMetadata` (an R2 bucket has
/// `put` and `get` too), a Durable Object namespace's `idFromName`.
pub fn binding_method(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::Kv => "getWithMetadata",
        StoreKind::Durable => "idFromName",
    }
}

/// The session of a request, as loaded before it goes to the origin.
#[derive(Debug)]
pub struct Loaded {
    /// The session, or why the store could not give it (`store_unavailable`).
    pub session: Result<Session, Error>,
    /// The session-id cookie the client presented, if any: of several, the one that named the
    /// session, or the first when none did.
    pub presented: Option<String>,
    /// Whether the request presented more than one session-id cookie: then the one that was
    /// read may not be the gateway's own, the one its removal reaches (host-only, `Path=/`).
    pub several: bool,
    /// Whether the session-id cookie was signed with a key this version does not know: while a
    /// deploy that puts a new key first in `SESSION_KEYS` spreads, one the new version signed.
    /// It names no session here, but is not cleared (the new version reads it).
    pub unknown_key: bool,
    /// Whether the session-id cookie names an id a login renewed less than a minute ago
    /// ([`RENEWED_SECONDS`](crate::store::session::RENEWED_SECONDS)): not cleared, since the
    /// client may hold the new id by now under the same name.
    pub renewed: bool,
    /// The subject of the request's valid session token, once [`Loaded::bind`] knows it.
    pub subject: Option<String>,
    /// The session-id cookie of a user's stored session that [`Loaded::bind`] set aside, the
    /// request carrying no valid token of that user (it expired, say): a logout still clears
    /// it, and the session stays for its user's token (it ends at its timeouts).
    pub set_aside: Option<String>,
    /// The request's device-bound session came without its bound cookie (DBSC `unbound`), and
    /// the stored session its session-id cookie named was set aside for its user (see
    /// [`Loaded::bind_request`]): [`finish`] neither replaces nor changes it.
    pub held: bool,
    /// No session-id cookie came with a cross-site request that a browser sends without it
    /// ([`Attempt::withheld`]): [`finish`] gives out no new session but a login's (see
    /// [`Loaded::bind_request`]).
    pub withheld: bool,
    /// The latest time an answer carries the removal of a presented id that names nothing,
    /// decided at the request ([`LATE_ANSWER_SECONDS`](super::pipeline::LATE_ANSWER_SECONDS) after it, once [`Loaded::bind_request`]
    /// knows): a late one (a long poll) would end the id a login gave meanwhile.
    pub answer_by: UnixTime,
    /// The stored data went over what `x-session-data` may carry, and was not sent
    /// ([`Loaded::origin_headers`]).
    pub data_withheld: bool,
}

impl Loaded {
    /// The headers that tell the origin about the session: `x-session-store` and, when the
    /// session is there, `x-session-data`. Data over `most` bytes as the header carries it
    /// ([`StoreSettings::most_data_bytes`]), which only another writer stores (a JS
    /// `SessionStore` with a larger `maxDataBytes` on the same store), is withheld: `too_large`
    /// and no data (sent, it made every request of its visitor a 431, the logout too). The
    /// session goes on otherwise (touched, logged out, logged in, patched: a patch that takes
    /// it under `STORE_MAX_DATA_BYTES` again is applied).
    pub fn origin_headers(&mut self, most: usize) -> Vec<(String, String)> {
        let Ok(s) = &self.session else {
            return vec![(headers::STORE.into(), "unavailable".into())];
        };
        let json = serde_json::to_string(s.data()).unwrap_or_else(|_| "{}".into());
        let data = ascii_json(&json);
        self.data_withheld = data.len() > most;
        if self.data_withheld {
            return vec![(headers::STORE.into(), "too_large".into())];
        }
        vec![
            (headers::STORE.into(), "ok".into()),
            (headers::DATA.into(), data),
        ]
    }
}

impl Loaded {
    /// Binds the stored session to the request's session token: a session that belongs to a
    /// user (it took the `sub` of a login) goes only with that user's valid token. Presented
    /// with another user's token, or with none, its data stays away from the request, which
    /// starts a new session: alice's `__Host-sid` beside bob's session cookie gives bob
    /// nothing of alice's. A session the request begins becomes the user's once stored.
    #[must_use]
    pub fn bind<S: Backend>(
        mut self,
        sessions: &Sessions<S>,
        subject: Option<&str>,
        now: UnixTime,
    ) -> Self {
        let owner = self.session.as_ref().ok().and_then(Session::subject);
        if owner.is_some() && owner != subject {
            self.session = sessions.new_session(now);
            self.set_aside = self.presented.take();
        }
        self.subject = subject.map(str::to_owned);
        self
    }

    /// [`Loaded::bind`] to the request of `attempt`, after its revocation check: its subject,
    /// and whether its device-bound session came without its bound cookie
    /// ([`Attempt::unbound`], DBSC). Such a request carries no identity (a thief's copy of the
    /// cookie jar, or the user's browser between two refreshes of its bound cookie), so it is
    /// shown no stored session, whether it has an owner or not (one of a login without `sub`
    /// would otherwise go with the id alone). The session it named is held for the user, who
    /// comes back bound: [`finish`] writes nothing to it and never replaces its id cookie with
    /// a new session's (a login still starts a new session; a logout clears the id cookie).
    ///
    /// A cross-site request that a browser sends without the gateway's cookies (a form another
    /// site posts; with `COOKIE_SAMESITE=Strict`, any) and that came without a session-id
    /// cookie gets no new stored session but a login's: the browser keeps the id cookie its
    /// answer sets, in place of the visitor's own, and a logged-in visitor's next request
    /// would bring the session the other site's request began (its data, planted) beside the
    /// visitor's session token, which takes it for the user.
    #[must_use]
    pub fn bind_request<S: Backend>(
        mut self,
        sessions: &Sessions<S>,
        attempt: &Attempt,
        now: UnixTime,
    ) -> Self {
        if attempt.unbound() && self.session.as_ref().is_ok_and(|s| !s.is_new()) {
            self.session = sessions.new_session(now);
            self.presented = None;
            self.held = true;
            return self;
        }
        self.withheld = attempt.withheld() && self.presented.is_none();
        self.answer_by = attempt.answer_by();
        self.bind(sessions, attempt.subject().map(|(s, _)| s), now)
    }
}

/// Loads the session named by the request's session-id cookie (`name`), or a new one: of
/// several, the first of the first four that names a live session (one a sibling subdomain
/// planted ahead of the visitor's own, for a name without `__Host-`, does not hide it).
pub async fn load<S: Backend>(
    sessions: &Sessions<S>,
    cookie_header: Option<&str>,
    name: &str,
    now: UnixTime,
) -> Loaded {
    let all: Vec<&str> = cookie_header
        .into_iter()
        .flat_map(|h| cookie::get_all_tokens(h, name))
        .take(MAX_PRESENTED + 1)
        .collect();
    let (mut unknown_key, mut renewed) = (false, false);
    let session = match sessions.find_first(all.iter().copied(), now).await {
        Ok(Found::Live(session)) => Ok(*session),
        Err(e @ Error::StoreUnavailable(_)) => Err(e),
        other => {
            unknown_key = matches!(other, Err(Error::UnknownKey(_)));
            renewed = matches!(other, Ok(Found::Renewed));
            sessions.new_session(now)
        }
    };
    // The cookie that named the session (reloaded after a `conflict`), else the first.
    let named = session.as_ref().ok().filter(|s| !s.is_new());
    let presented = named
        .map(Session::token)
        .or(all.first().copied())
        .map(str::to_owned);
    let several = all.len() > 1;
    Loaded {
        session,
        presented,
        several,
        unknown_key,
        renewed,
        subject: None,
        set_aside: None,
        held: false,
        withheld: false,
        answer_by: UnixTime::MAX,
        data_withheld: false,
    }
}

/// What the origin asked for the stored session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// A merge patch for the data.
    pub patch: Option<Map<String, Value>>,
    /// A login: the session gets a new id and this subject (the `sub` claim, if any).
    pub login: Option<Option<String>>,
    /// The login's claims (`x-session-issue`, checked), for the gateway to sign into the new
    /// session token: the header is read once.
    pub claims: Option<Map<String, Value>>,
    /// A logout: the session is deleted.
    pub logout: bool,
    /// "Log out everywhere" for this subject (`x-session-revoke`): see [`revoke`].
    pub revoke: Option<String>,
    /// The session id of the session the same answer begins for the subject it revokes (a
    /// password change), which the revocation spares; set by the pipeline once it signed it.
    pub spared: Option<String>,
    /// The session id (`sid`) of the request's valid session token that the answer's logout
    /// ends ([`Sessions::end_token`]): a copy of the token is refused from then on. Set by the
    /// pipeline.
    pub ended: Option<String>,
}

impl Plan {
    /// The plan from an origin's directives; `Err` names what is wrong with `x-session-data`,
    /// `x-session-issue` or `x-session-revoke`. An `x-session-revoke` with a comma names more
    /// than one subject (no subject holds one: see [`issue_claims`]): the runtime joins a
    /// header sent twice with `, `, and the same subject twice is one (see
    /// [`Directives::revoke`]). Revoking each would be a guess, and revoking `alice, bob`
    /// revoked nobody, silently: it is refused, as two `x-session-issue` are.
    ///
    /// [`issue_claims`]: super::session::issue_claims
    pub fn from_directives(d: &Directives, max_bytes: usize) -> Result<Plan, String> {
        if let Some(subject) = &d.revoke {
            one_subject(subject)?;
        }
        let patch = match &d.data {
            None => None,
            Some(text) if text.len() > max_bytes * 6 + 2 => {
                return Err(format!("x-session-data is over {max_bytes} bytes"))
            }
            Some(text) if !text.is_ascii() => return Err(
                "x-session-data must be ASCII: escape other characters as \\u and four hex digits"
                    .into(),
            ),
            // As strict as `x-session-issue`: a name twice (which readers that keep the first
            // and those that keep the last disagree on) or a lone surrogate is named as such.
            Some(text) => match crate::json::members(text) {
                Err(ObjectError::Duplicate) => {
                    return Err("x-session-data names a member twice".into())
                }
                Err(ObjectError::LoneSurrogate) => {
                    return Err(
                        "x-session-data holds a lone surrogate (half of a UTF-16 pair)".into(),
                    )
                }
                _ => match serde_json::from_str(text) {
                    // The number is not quoted: the reason goes to the visitor's 502 page and
                    // the log.
                    Ok(Value::Object(map)) => match super::headers::inexact_integer(text) {
                        Some(_) => return Err(INEXACT_DATA.into()),
                        None => Some(map),
                    },
                    _ => return Err("x-session-data is not a JSON object".into()),
                },
            },
        };
        let (claims, login) = match d.issue.as_deref().map(super::session::issue_claims) {
            None => (None, None),
            Some(Ok((claims, sub))) => (Some(claims), Some(sub)),
            Some(Err(e)) => return Err(e.0),
        };
        Ok(Plan {
            patch,
            login,
            claims,
            logout: d.clear,
            revoke: d.revoke.clone(),
            spared: None,
            ended: None,
        })
    }

    /// True when the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.patch.is_none() && self.login.is_none() && !self.logout && self.revoke.is_none()
    }
}

/// An `x-session-revoke`'s subject, refused when it names more than one (see
/// [`Plan::from_directives`]).
pub fn one_subject(revoke: &str) -> Result<&str, String> {
    if revoke.contains(',') {
        return Err("x-session-revoke names more than one subject (a header sent twice arrives joined with \", \"): send one per answer, or revoke the others with POST /__edge/sessions/revoke".into());
    }
    Ok(revoke)
}

/// "Log out everywhere": refuses from now on every session token of `subject` begun up to
/// `now`, its second included (its `minIssuedAt` is `now + 1`, kept `keep_seconds`), but the
/// session `spared` (the one the revoking answer begins, by its `sid`); then deletes its stored
/// sessions; returns how many. The gateway checks the record on every request that carries a
/// session token. The second of the revocation is taken in because the sessions an attacker
/// holding the old password began in it, before the password changed, would otherwise outlive
/// a password change.
pub async fn revoke<S: Backend>(
    sessions: &Sessions<S>,
    subject: &str,
    spared: Option<&str>,
    keep_seconds: u64,
    now: UnixTime,
) -> Result<usize, Error> {
    let revocation = Revocation {
        before: now.saturating_add(1),
        except: spared.map(str::to_owned),
    };
    (sessions.record_revocation(subject, &revocation, now, keep_seconds)).await?;
    sessions.revoke_subject(subject).await
}

/// What the revocation check of `attempt` reads: the subject of its session token (for the
/// subject's revocation record), its `sid` (for the end of its session), and when its session
/// began; `None` when there is nothing to read (no valid token, or one with neither `sub` nor
/// `sid`).
pub fn revocation_reads(attempt: &Attempt) -> Option<(Option<String>, Option<String>, UnixTime)> {
    let (sid, at) = attempt.session()?;
    let sub = attempt.subject().map(|(s, _)| s.to_owned());
    (sub.is_some() || sid.is_some()).then(|| (sub, sid.map(str::to_owned), at))
}

/// The revocation check of a request's session token, of session `sid` begun at `issued_at`,
/// from the two reads the gateway makes at once: its subject's revocation
/// ([`Sessions::revocation`]; `Ok(None)` for a token without `sub`), and when a logout ended
/// its session ([`Sessions::token_ended_at`]), which then answers as a revocation made then
/// that refuses it. Either read refusing the token is the answer, whatever the other's error;
/// otherwise a store error of either is (the session is not known to stand).
pub fn revocation_answer(
    revocation: Result<Option<Revocation>, Error>,
    ended: Result<Option<UnixTime>, Error>,
    issued_at: UnixTime,
    sid: Option<&str>,
) -> Result<Option<Revocation>, Error> {
    match (revocation, ended) {
        (_, Ok(Some(at))) => Ok(Some(Revocation {
            before: issued_at.max(at).saturating_add(1),
            except: None,
        })),
        (Ok(Some(r)), _) if r.refuses(issued_at, sid) => Ok(Some(r)),
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(r), Ok(None)) => Ok(r),
    }
}

/// RFC 7386 JSON merge patch of an object: `null` deletes a member, an object merges into an
/// object, anything else replaces.
///
/// ```
/// use edge_session::gateway::store::merge_patch;
/// use serde_json::json;
/// let mut data = json!({ "cart": ["book"], "prefs": { "theme": "dark", "lang": "en" }, "flash": "hi" });
/// let patch = json!({ "prefs": { "lang": "fr" }, "flash": null, "n": 1 });
/// merge_patch(data.as_object_mut().unwrap(), patch.as_object().unwrap());
/// assert_eq!(data, json!({ "cart": ["book"], "prefs": { "theme": "dark", "lang": "fr" }, "n": 1 }));
/// ```
pub fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (name, value) in patch {
        match value {
            Value::Null => {
                target.remove(name);
            }
            Value::Object(inner) => {
                let slot = target
                    .entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(t) = slot {
                    merge_patch(t, inner);
                }
            }
            other => {
                target.insert(name.clone(), other.clone());
            }
        }
    }
}

/// What [`finish`] did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The session-id `Set-Cookie` to send, if any.
    pub set_cookie: Option<String>,
    /// What the commit did (`None`: nothing was committed: logout, or the store failed).
    pub commit: Option<Commit>,
    /// A change Workers KV refused (one write per second per key: another request wrote the
    /// session less than a second before), to write again after the answer with [`retry`].
    pub retry: Option<Session>,
    /// A warning for the log (the store failed, or conflicts outlasted the retries).
    pub warning: Option<String>,
    /// The origin's patch made the data larger than allowed: answer 502 with this message.
    pub refused: Option<String>,
}

impl Outcome {
    /// The 502 answering the client instead of the origin's response, when the origin's
    /// change was refused.
    pub fn refused_page(&self) -> Option<Page> {
        self.refused.as_deref().map(Page::bad_origin_answer)
    }
}

/// How long each try to write again a change Workers KV refused waits before it (ms): a little
/// over KV's second between two writes of a key, then about two seconds more.
pub const KV_RETRY_MS: [u32; 2] = [1100, 2000];

/// Writes again a change Workers KV refused ([`Outcome::retry`]), in the background once the
/// origin's answer is served: after each wait of [`KV_RETRY_MS`] (`wait(ms)` waits, then gives
/// the time), while KV refuses it so. Only while the store holds the data the change was made
/// to: once another request changed or ended the session, the change is dropped (`conflict`),
/// never put over newer data (see `Sessions::commit_again`). The error is for the log.
pub async fn retry<S: Backend, W: std::future::Future<Output = UnixTime>>(
    sessions: &Sessions<S>,
    mut session: Session,
    mut wait: impl FnMut(u32) -> W,
) -> Result<(), Error> {
    let mut refused = Ok(());
    for ms in KV_RETRY_MS {
        let now = wait(ms).await;
        refused = match sessions.commit_again(&mut session, now).await {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => Err(Error::Conflict),
            Err(e) => Err(e),
        };
        if !refused.as_ref().is_err_and(rate_limited) {
            break;
        }
    }
    refused
}

/// The session with the plan's patch merged into its data, or why the answer is refused: the
/// limit holds for the data as the origin receives it, escaped to ASCII (`é` is six bytes there,
/// two in the store), each time the patch is applied (again after a `conflict`, to newer data).
fn patched(session: &mut Session, plan: &Plan, settings: &StoreSettings) -> Result<(), String> {
    let Some(patch) = &plan.patch else {
        return Ok(());
    };
    merge_patch(session.data_mut(), patch);
    let json = serde_json::to_string(session.data()).unwrap_or_default();
    let len = ascii_json(&json).len();
    let max = settings.sessions.max_data_bytes;
    if len > max {
        return Err(format!(
            "x-session-data makes the session data, as x-session-data carries it, go over the limit of {max} bytes (STORE_MAX_DATA_BYTES)"
        ));
    }
    Ok(())
}

/// A session that a logged-in request begins is that user's, as a login's is: it goes only
/// with the user's token, and "log out everywhere" ends it. (Only when it is stored anyway: a
/// subject alone would store an empty session.) So is one begun anonymously that a logged-in
/// request writes to, which no login here took (a session token of another system,
/// `SESSION_FORMAT = "jwt"`): what the user writes never stays readable by the id alone. Its
/// commit gives it a new id, as a login's regenerate does. Done again to the newer version a
/// `conflict` reloads, which holds no owner either.
fn owned(session: &mut Session, plan: &Plan, subject: Option<&String>) {
    let written = plan.patch.is_some() || session.is_new();
    if written && session.subject().is_none() && !session.data().is_empty() {
        session.set_subject(subject.cloned());
    }
}

/// Carries out `plan` on the loaded session, after the origin answered.
pub async fn finish<S: Backend>(
    sessions: &Sessions<S>,
    settings: &StoreSettings,
    loaded: Loaded,
    plan: &Plan,
    now: UnixTime,
) -> Outcome {
    let mut out = Outcome::default();
    let clear = || settings.cookie.removal().ok();
    let mut revoked = None;
    if let Some(subject) = &plan.revoke {
        let spared = plan.spared.as_deref();
        match revoke(
            sessions,
            subject,
            spared,
            settings.revocation_keep_seconds,
            now,
        )
        .await
        {
            Ok(_) => revoked = Some(subject),
            Err(e) => {
                let subject = Quoted(subject);
                out.warning = Some(format!("x-session-revoke: {subject} not revoked: {e}"))
            }
        }
    }
    if let Some(sid) = &plan.ended {
        let keep = settings.revocation_keep_seconds;
        if let Err(e) = sessions.end_token(sid, now, keep).await {
            out.warning.get_or_insert(format!(
                "logout: the session token was not ended (a copy of it stays valid, refreshed up to its longest life): {e}"
            ));
        }
    }
    // A login whose session id cannot be renewed drops the presented one: a session id planted
    // before the login must never become the user's.
    let unrenewed = |out: &mut Outcome| {
        if plan.login.is_some() {
            out.set_cookie = loaded.presented.as_ref().and_then(|_| clear());
        }
    };
    let mut session = match loaded.session {
        Ok(s) => s,
        Err(e) => {
            if !plan.is_empty() {
                out.warning
                    .get_or_insert(format!("session change dropped: {e}"));
            }
            unrenewed(&mut out);
            // A logout ends the id for the client even when the store cannot delete it; so does
            // "log out everywhere" of the subject of the request's token, without a login (the
            // browser that sent it is logged out too; the session's owner is not known here).
            let own = plan.login.is_none()
                && plan.revoke.is_some()
                && plan.revoke.as_deref() == loaded.subject.as_deref();
            if plan.logout || own {
                out.set_cookie = loaded.presented.and_then(|_| clear());
            }
            return out;
        }
    };
    // A stored session this request must not touch. A device-bound session without its bound
    // cookie (DBSC `unbound`): its user's stored session was set aside, and stays as it is,
    // named by the id cookie the browser keeps for its next bound request. An id a login
    // renewed a moment ago, in a request answered after the login: its browser holds the new
    // id by now, under the same name, and a new session for this request's change would
    // replace that cookie, and the user's data with it. A cross-site request the browser sent
    // without the id cookie: a new session's would replace the visitor's own too. The change
    // is dropped, as one made to a session that ended; a logout clears the id cookie (but the
    // one withheld), a login goes on below with a new session.
    let untouchable = if loaded.held {
        Some("the request's device-bound session came without its bound cookie (DBSC unbound)")
    } else if loaded.renewed {
        Some("its session id was renewed by a login, or ended by a logout, since the request was sent")
    } else if loaded.withheld {
        Some("a cross-site request, sent without the session-id cookie (COOKIE_SAMESITE): a new id would replace the visitor's own")
    } else {
        None
    };
    if let Some(why) = untouchable.filter(|_| plan.login.is_none()) {
        if plan.patch.is_some() {
            out.warning
                .get_or_insert(format!("session change dropped: {why}"));
        }
        // Not the one withheld, which names the visitor's session: the request had no part in
        // it (the cookie's removal would orphan that session, not end it).
        if plan.logout && !loaded.withheld {
            out.set_cookie = clear();
        }
        return out;
    }
    // A revoked subject's own session ends here too, unless the same answer logs in again.
    let revoked_here = plan.login.is_none()
        && plan.revoke.is_some()
        && session.subject() == plan.revoke.as_deref();
    if plan.logout || revoked_here {
        // The old id is left as one renewed: a login's cookie, in this answer (switching
        // users) or the next, is not removed by answers to requests sent before this one's.
        if let Err(e) = sessions.end(session, now).await {
            out.warning
                .get_or_insert(format!("logout: the session could not be deleted: {e}"));
        }
        if plan.login.is_none() {
            out.set_cookie = loaded.presented.or(loaded.set_aside).and_then(|_| clear());
            return out;
        }
        // A login in the same answer (switching users): the pipeline signs its session, which
        // starts a new stored session holding the login's patch alone.
        session = match sessions.new_session(now) {
            Ok(fresh) => fresh,
            Err(e) => {
                out.warning = Some(format!("login: the session id could not be renewed: {e}"));
                out.set_cookie = loaded.presented.and_then(|_| clear());
                return out;
            }
        };
    }
    let eventual = sessions.store().consistency() == Consistency::Eventual;
    let (mut tries, mut later) = (0, false);
    // A login's new id, until it is given; then the commit (which nothing else can race: no
    // one else knows the new id).
    let mut login = plan.login.as_ref();
    let mut ended = false;
    // A password change's data that did not fit its new session: what the log says of them.
    let mut dropped: Option<&str> = None;
    // The answer's change was dropped (withheld data it left over the limit).
    let mut change_dropped = false;
    loop {
        // Another user's login: the data was the previous user's, and goes with the old id
        // (which the login deletes). So does that of a session read from one of several id
        // cookies: the first may be a sibling subdomain's, tossed ahead of the visitor's own
        // with data of its choosing (an address, a `return_to`), which the login would make the
        // visitor's, under the gateway's own cookie.
        if login.is_some_and(|new| {
            loaded.several || (session.subject().is_some() && session.subject() != new.as_deref())
        }) {
            session.data_mut().clear();
        }
        // The origin was not shown data withheld from it (over what `x-session-data` carries):
        // a change that leaves them over the limit is dropped, not a 502 for each of its
        // writes; one that takes them under it is applied. Judged on the data at hand (cleared
        // above, or a newer version after a `conflict`): a change that takes data within the
        // limit over it is the origin's own, refused.
        let over = |data: &Map<String, Value>| {
            let json = serde_json::to_string(data).unwrap_or_default();
            ascii_json(&json).len() > settings.sessions.max_data_bytes
        };
        let withheld = (loaded.data_withheld && plan.patch.is_some() && over(session.data()))
            .then(|| session.data().clone());
        if let Err(refused) = patched(&mut session, plan, settings) {
            let Some(data) = withheld else {
                out.refused = Some(refused);
                return out;
            };
            *session.data_mut() = data;
            change_dropped = true;
            out.warning.get_or_insert(format!(
                "session change dropped: {refused}, and the stored data is withheld from the origin"
            ));
        }
        // Taken for its user (again, after a `conflict`: the newer version holds no owner
        // either).
        owned(&mut session, plan, loaded.subject.as_ref());
        let step = async {
            if let Some(subject) = login {
                // A password change (revoke, and log in again): this session ended with its
                // user's revocation above, and a regenerate of an ended session is a
                // `conflict`. Its data go to a new one; so do those of one ended meanwhile.
                if ended || revoked.is_some_and(|r| session.subject() == Some(r.as_str())) {
                    let mut fresh = sessions.new_session(now).map_err(Err)?;
                    // Counted again at the new id, as `Sessions::entry` counts (UTF-8 JSON and
                    // the subject): data over the limit (lowered since they were stored, or
                    // another writer's) are dropped, but for this answer's own change, rather
                    // than the login refused after its revocation logged the user out
                    // everywhere.
                    let subject = subject.as_ref().map_or(0, String::len);
                    let fits = |data: &Map<String, Value>| {
                        serde_json::to_vec(data).is_ok_and(|json| {
                            json.len().saturating_add(subject) <= settings.sessions.max_data_bytes
                        })
                    };
                    let mut data = std::mem::take(session.data_mut());
                    if !fits(&data) {
                        data.clear();
                        dropped = Some("");
                        // The answer's own change, if it was not dropped above and fits (as
                        // stored, and as `x-session-data` would carry it).
                        if let Some(patch) = plan.patch.as_ref().filter(|_| !change_dropped) {
                            merge_patch(&mut data, patch);
                            dropped = Some(" (but for the answer's x-session-data)");
                            if !fits(&data) || over(&data) {
                                data.clear();
                                dropped = Some(" (the answer's x-session-data too)");
                            }
                        }
                    }
                    *fresh.data_mut() = data;
                    // The old id, deleted by the revocation, left as one renewed (see
                    // `Sessions::end`): at worst the cookie of the new one is
                    // removed by the answer to a request sent before this one's, as before.
                    let old = std::mem::replace(&mut session, fresh);
                    let _ = sessions.end(old, now).await;
                }
                session.set_subject(subject.clone());
                sessions.regenerate(&mut session, now).await.map_err(Err)?;
                login = None;
            }
            sessions.commit(&mut session, now).await.map_err(Ok)
        };
        // An error of the login's new id is `Err(Err(e))`, of the commit `Err(Ok(e))`.
        match step.await {
            Ok(commit) => {
                out.commit = Some(commit);
                if let Some(which) = dropped {
                    // Beside another warning (a change dropped above), not in its place.
                    let why = format!(
                        "login: the session's data were dropped, over STORE_MAX_DATA_BYTES at \
                         its new id{which}"
                    );
                    out.warning = Some(match out.warning.take() {
                        Some(before) => format!("{before}; {why}"),
                        None => why,
                    });
                }
                break;
            }
            // Changed by another request since it was loaded (its own patch, a touch): done
            // again to the newer version. A session ended meanwhile (a logout, a revocation
            // that failed after it landed) is given up, but by a login, which starts a new
            // one with the data as this request had them, as at a password change.
            Err(Ok(Error::Conflict) | Err(Error::Conflict)) if tries < CONFLICT_RETRIES => {
                tries += 1;
                sessions.store().backoff(tries).await;
                let newer = match &loaded.presented {
                    Some(cookie) => sessions.load(cookie, now).await,
                    None => Ok(None),
                };
                match newer {
                    Ok(Some(s)) => session = s,
                    Ok(None) if login.is_some() => ended = true,
                    other => {
                        let why = other.map_or_else(|e| e.to_string(), |_| "it ended".into());
                        out.warning = Some(format!(
                            "the session changed and could not be reloaded: {why}"
                        ));
                        if login.is_some() {
                            unrenewed(&mut out);
                            return out;
                        }
                        break;
                    }
                }
            }
            // At a login's new id (`regenerate`) as at a write, the limit only is named.
            Err(Ok(Error::TooLarge { max, .. }) | Err(Error::TooLarge { max, .. })) => {
                out.refused = Some(format!(
                    "the session data and its subject go over the limit of {max} bytes (STORE_MAX_DATA_BYTES)"
                ));
                return out;
            }
            Err(Err(e)) => {
                out.warning = Some(format!("login: the session id could not be renewed: {e}"));
                unrenewed(&mut out);
                return out;
            }
            // Workers KV's one write per second per key: written again after the answer.
            Err(Ok(e)) if rate_limited(&e) && eventual && session.in_place() => {
                later = true;
                break;
            }
            Err(Ok(e)) => {
                out.warning = Some(format!("the session could not be saved: {e}"));
                break;
            }
        }
    }
    out.set_cookie = match session.cookie() {
        Some(value) => settings
            .cookie
            .header(value, Some(sessions.cookie_max_age(&session, now)))
            .ok(),
        // An id that names nothing is cleared, unless another was presented: the gateway's
        // own, which the removal would reach, may be that one, and live; nor one of a key this
        // version does not know (the new version's, while a key rotation spreads); nor one a
        // login renewed a moment ago (this request sent before its answer, which the client
        // may have by now: the removal would end the new id), nor by a late answer (the same:
        // a long poll answered after a login).
        None if loaded.presented.is_some()
            && session.is_new()
            && !loaded.several
            && !loaded.unknown_key
            && !loaded.renewed
            && now <= loaded.answer_by =>
        {
            clear()
        }
        None => None,
    };
    if later {
        out.retry = Some(session);
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::cookie::SetCookie;
    use crate::gateway::config::StoreKind;
    use crate::keys::{KeyRing, Secret};
    use crate::store::executor::join_all;
    use crate::store::memory::{AlwaysConflict, MemoryStore, OneWritePerSecond};
    use crate::store::SessionConfig;
    use futures_executor::block_on;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    /// The session-id cookie of a new session holding `{"cart":["book"]}`, made at `NOW`.
    fn cart<S: Backend>(s: &Sessions<S>) -> Option<String> {
        let add = directives(Some(r#"{"cart":["book"]}"#), None, false);
        request(s, None, &add, NOW).2
    }

    /// The store settings of these tests and of `faults.rs`.
    pub(in crate::gateway) fn settings() -> StoreSettings {
        StoreSettings {
            kind: StoreKind::Durable,
            cookie: SetCookie::new("__Host-sid"),
            sessions: SessionConfig::default(),
            timeout_ms: 1000,
            tests: false,
            revocation_keep_seconds: 7200,
            // As the configuration makes it: no less than `sessions.max_data_bytes`.
            most_data_bytes: SessionConfig::default().max_data_bytes,
        }
    }

    /// Sessions over `store` with the key these tests sign with.
    pub(in crate::gateway) fn sessions<S: Backend>(store: S) -> Sessions<S> {
        Sessions::new(store, &ring(&[("k1", 5)]), SessionConfig::default()).unwrap()
    }

    /// A keyring of these `(id, byte)` keys, each secret 32 times its byte, the first signing.
    fn ring(keys: &[(&str, u8)]) -> KeyRing {
        let keys = keys
            .iter()
            .map(|(id, b)| ((*id).into(), Secret::new([*b; 32]).unwrap()));
        KeyRing::new(keys.collect()).unwrap()
    }

    fn directives(data: Option<&str>, issue: Option<&str>, clear: bool) -> Directives {
        Directives {
            issue: issue.map(Into::into),
            clear,
            data: data.map(Into::into),
            revoke: None,
            nonce: None,
            dropped_cookie: false,
        }
    }

    /// One request: load with `cookie`, the origin answers `d`; returns the origin's headers,
    /// the outcome and the cookie the client keeps.
    fn request<S: Backend>(
        s: &Sessions<S>,
        cookie: Option<&str>,
        d: &Directives,
        now: u64,
    ) -> (Vec<(String, String)>, Outcome, Option<String>) {
        let header = cookie.map(|c| format!("a=1; __Host-sid={c}"));
        let mut loaded = block_on(load(s, header.as_deref(), "__Host-sid", now));
        let to_origin = loaded.origin_headers(settings().most_data_bytes);
        let plan = Plan::from_directives(d, 4096).unwrap();
        let out = block_on(finish(s, &settings(), loaded, &plan, now));
        let kept = match &out.set_cookie {
            Some(c) if c.contains("Max-Age=0") => None,
            Some(c) => Some(c["__Host-sid=".len()..c.find(';').unwrap()].to_owned()),
            None => cookie.map(str::to_owned),
        };
        (to_origin, out, kept)
    }

    fn data_header(h: &[(String, String)]) -> Value {
        serde_json::from_str(headers::get(h, "x-session-data").unwrap()).unwrap()
    }

    #[test]
    fn data_goes_to_the_origin_and_comes_back_as_a_patch() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let none = directives(None, None, false);
        // An anonymous visitor with no data: nothing stored, no cookie.
        let (h, out, jar) = request(&s, None, &none, NOW);
        assert_eq!(headers::get(&h, "x-session-store"), Some("ok"));
        assert_eq!(data_header(&h), json!({}));
        assert_eq!((out.set_cookie, jar.clone(), store.len()), (None, None, 0));
        // The origin stores a cart: the session is created and its cookie set.
        let add = directives(Some(r#"{"cart":["book"],"name":"Zo\u00eb"}"#), None, false);
        let (_, out, jar) = request(&s, None, &add, NOW);
        assert_eq!(out.commit, Some(Commit::Created));
        assert!(out
            .set_cookie
            .unwrap()
            .contains("; Max-Age=86400; Path=/; Secure; HttpOnly"));
        // Next request: the data reaches the origin, non-ASCII escaped.
        let (h, out, jar2) = request(&s, jar.as_deref(), &none, NOW + 1);
        assert_eq!(jar2, jar);
        assert_eq!(out.commit, Some(Commit::Unchanged));
        assert!(headers::get(&h, "x-session-data")
            .unwrap()
            .contains("Zo\\u00eb"));
        assert_eq!(data_header(&h), json!({ "cart": ["book"], "name": "Zoë" }));
        // A patch: one member deleted, one added.
        let patch = directives(Some(r#"{"name":null,"n":1}"#), None, false);
        request(&s, jar.as_deref(), &patch, NOW + 2);
        let (h, _, _) = request(&s, jar.as_deref(), &none, NOW + 3);
        assert_eq!(data_header(&h), json!({ "cart": ["book"], "n": 1 }));
    }

    /// workerd joins several `Cookie` headers with `, `: the session-id cookie that ends one is
    /// read as it is, not with the next header's first cookie in its value (an id that named
    /// nothing, cleared: the visitor's data lost).
    #[test]
    fn a_session_id_before_a_join_is_read() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let jar = cart(&s);
        let joined = format!("{}, c=3", jar.unwrap());
        let (h, out, kept) = request(&s, Some(&joined), &directives(None, None, false), NOW + 1);
        assert_eq!(data_header(&h), json!({ "cart": ["book"] }));
        assert_eq!((out.set_cookie, kept), (None, Some(joined)));
    }

    #[test]
    fn login_renews_the_id_and_logout_ends_it() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let anon = cart(&s);
        let login = directives(None, Some(r#"{"sub":"alice","role":"admin"}"#), false);
        let (_, out, user) = request(&s, anon.as_deref(), &login, NOW + 1);
        assert!(out.set_cookie.is_some());
        assert_ne!(user, anon, "a login renews the session id");
        let none = directives(None, None, false);
        // The old id names nothing now. For a minute it is not cleared: a request the browser
        // sent before the login's answer, answered after it, would delete the new id's cookie
        // (`Max-Age=0` of the name the new id has), and the data with it.
        let (h, out, _) = request(&s, anon.as_deref(), &none, NOW + 2);
        assert_eq!(data_header(&h), json!({}));
        assert_eq!(out.set_cookie, None);
        // Nor replaced: a change that request's answer makes is dropped, not written to a new
        // session whose cookie would take the new id's place.
        let patch = directives(Some(r#"{"n":1}"#), None, false);
        let (_, out, _) = request(&s, anon.as_deref(), &patch, NOW + 2);
        assert_eq!(out.set_cookie, None);
        assert!(out.warning.unwrap().contains("renewed by a login"));
        let late = NOW + 1 + crate::store::session::RENEWED_SECONDS;
        assert_eq!(request(&s, anon.as_deref(), &none, late).1.set_cookie, None);
        // Then the client is told to forget it.
        let (h, out, _) = request(&s, anon.as_deref(), &none, late + 1);
        assert_eq!(data_header(&h), json!({}));
        assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
        // The data moved with the user, who can be revoked everywhere.
        let (h, _, _) = request(&s, user.as_deref(), &none, NOW + 2);
        assert_eq!(data_header(&h), json!({ "cart": ["book"] }));
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
        let (h, _, _) = request(&s, user.as_deref(), &none, NOW + 3);
        assert_eq!(data_header(&h), json!({}));
        // Logout ends and clears: the two ids' markers are all the store holds (each loads as
        // no session, and is gone in a minute).
        let again = cart(&s);
        let logout = directives(None, None, true);
        let (_, out, kept) = request(&s, again.as_deref(), &logout, NOW + 5);
        assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
        assert_eq!(kept, None);
        assert_eq!(store.len(), 2);
        assert!(block_on(s.load(again.as_deref().unwrap(), NOW + 6))
            .unwrap()
            .is_none());
    }

    /// `STORE_MAX_DATA_BYTES` lowered below a logged-in user's subject (a long `sub`): the
    /// requests due for a touch go on to the origin. Each got a 502 in place of the origin's
    /// answer, the touch refused as `too_large` though it changed nothing, until the session
    /// ended.
    #[test]
    fn a_touch_goes_on_under_a_limit_lowered_below_the_subject() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let sub = "u".repeat(60);
        let login = directives(None, Some(&format!(r#"{{"sub":"{sub}"}}"#)), false);
        let (_, _, user) = request(&s, None, &login, NOW);
        let config = SessionConfig {
            max_data_bytes: 40,
            ..SessionConfig::default()
        };
        let lowered = Sessions::new(&store, &ring(&[("k1", 5)]), config).unwrap();
        let none = directives(None, None, false);
        let (_, out, _) = request(&lowered, user.as_deref(), &none, NOW + 600);
        assert_eq!((out.refused, out.commit), (None, Some(Commit::Touched)));
        // A change of the data is held to the limit, the subject counted with it: a 502.
        let grow = directives(Some(r#"{"a":1}"#), None, false);
        let (_, out, _) = request(&lowered, user.as_deref(), &grow, NOW + 601);
        assert!(out
            .refused
            .is_some_and(|why| why.contains("STORE_MAX_DATA_BYTES")));
    }

    /// A login whose session another request changed meanwhile (its own patch, a touch) goes
    /// on with the newer version, as a commit does: on a strongly consistent store (Durable
    /// Objects) its regenerate met a `conflict`, and the login lost its data and its cookie.
    /// One whose session a logout ended meanwhile starts a new one with the data it had.
    #[test]
    fn a_login_racing_another_request_keeps_the_data_of_both() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let none = directives(None, None, false);
        let login = directives(Some(r#"{"welcome":1}"#), Some(r#"{"sub":"alice"}"#), false);
        for (other, kept) in [
            (
                directives(Some(r#"{"seen":1}"#), None, false),
                json!({ "cart": ["book"], "seen": 1, "welcome": 1 }),
            ),
            (
                directives(None, None, true),
                json!({ "cart": ["book"], "welcome": 1 }),
            ),
        ] {
            let anon = cart(&s).unwrap();
            let header = format!("__Host-sid={anon}");
            let (a, b) = block_on(async {
                let a = load(&s, Some(&header), "__Host-sid", NOW + 1).await;
                (a, load(&s, Some(&header), "__Host-sid", NOW + 1).await)
            });
            let plan = |d| Plan::from_directives(d, 4096).unwrap();
            block_on(finish(&s, &settings(), b, &plan(&other), NOW + 1));
            let out = block_on(finish(&s, &settings(), a, &plan(&login), NOW + 1));
            assert_eq!(out.warning, None);
            let cookie = out.set_cookie.unwrap();
            let user = &cookie["__Host-sid=".len()..cookie.find(';').unwrap()];
            assert_ne!(user, anon);
            let (h, _, _) = request(&s, Some(user), &none, NOW + 2);
            assert_eq!(data_header(&h), kept);
            let (h, _, _) = request(&s, Some(&anon), &none, NOW + 2);
            assert_eq!(data_header(&h), json!({}), "the old id names nothing");
        }
    }

    /// A login answer that also logs out (`x-session-clear` with `x-session-issue`: switching
    /// users) gets the login's session cookie from the pipeline, which signs the new session.
    /// The store deleted the old session, cleared the session-id cookie and dropped the login's
    /// `x-session-data` without a word: the new user had no stored session, and the origin's
    /// data for it was lost. The old session still goes; the login starts a new one, holding
    /// its patch alone.
    #[test]
    fn a_login_that_also_logs_out_starts_a_new_session() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let none = directives(None, None, false);
        let alice = directives(
            Some(r#"{"cart":["book"]}"#),
            Some(r#"{"sub":"alice"}"#),
            false,
        );
        let (_, _, old) = request(&s, None, &alice, NOW);
        let switch = directives(Some(r#"{"welcome":1}"#), Some(r#"{"sub":"bob"}"#), true);
        let (_, out, new) = request(&s, old.as_deref(), &switch, NOW + 1);
        assert!(out.commit.is_some(), "{out:?}");
        assert!(new.is_some() && new != old, "{out:?}");
        let (h, _, _) = request(&s, new.as_deref(), &none, NOW + 2);
        assert_eq!(data_header(&h), json!({ "welcome": 1 }));
        // The old session is gone: its id holds the marker of one renewed, for a minute.
        let (h, _, _) = request(&s, old.as_deref(), &none, NOW + 2);
        assert_eq!(data_header(&h), json!({}));
        assert_eq!(store.len(), 2);
    }

    /// The removal of the session-id cookie reaches the gateway's own (host-only, `Path=/`).
    /// Of several presented (a sibling subdomain can toss cookies of a name without the
    /// `__Host-` prefix, with a longer path, which browsers send first) none is cleared when the
    /// one read names nothing: the removal would reach the gateway's own, which may be another.
    #[test]
    fn a_session_id_cookie_that_was_not_read_is_not_cleared() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let own = cart(&s).unwrap();
        let none = directives(None, None, false);
        let visit = |header: &str| {
            let loaded = block_on(load(&s, Some(header), "__Host-sid", NOW + 1));
            let plan = Plan::from_directives(&none, 4096).unwrap();
            block_on(finish(&s, &settings(), loaded, &plan, NOW + 1)).set_cookie
        };
        assert_eq!(visit(&format!("__Host-sid=junk; __Host-sid={own}")), None);
        assert_eq!(visit(&format!("__Host-sid={own}; __Host-sid=junk")), None);
        // Alone, an id that names nothing is cleared.
        assert!(visit("a=1; __Host-sid=junk").unwrap().contains("Max-Age=0"));
        // But not by an answer past the request's `answer_by` (a long poll answered after a
        // login, whose new id the removal would end).
        let late = |answer_by: UnixTime| {
            let mut loaded = block_on(load(&s, Some("__Host-sid=junk"), "__Host-sid", NOW + 1));
            loaded.answer_by = answer_by;
            let plan = Plan::from_directives(&none, 4096).unwrap();
            block_on(finish(&s, &settings(), loaded, &plan, NOW + 4)).set_cookie
        };
        assert!(late(NOW + 4).is_some_and(|c| c.contains("Max-Age=0")));
        assert_eq!(late(NOW + 3), None);
        // So is the own one at a logout, whatever else is presented.
        let logout = Plan::from_directives(&directives(None, None, true), 4096).unwrap();
        let loaded = block_on(load(
            &s,
            Some(&format!("__Host-sid=junk; __Host-sid={own}")),
            "__Host-sid",
            NOW + 2,
        ));
        let out = block_on(finish(&s, &settings(), loaded, &logout, NOW + 2));
        assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    }

    /// A login over several session-id cookies keeps no data: the one read (the first that names
    /// a live session) may be a sibling subdomain's, tossed ahead of the visitor's own with data
    /// of its choosing, which the login would make the visitor's under the gateway's own
    /// cookie. Over one, the visitor's data stay.
    #[test]
    fn a_login_over_several_session_id_cookies_keeps_no_data() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let planted = directives(Some(r#"{"ship_to":"1 Evil St"}"#), None, false);
        let tossed = request(&s, None, &planted, NOW).2.unwrap();
        let own = cart(&s).unwrap();
        let login = directives(None, Some(r#"{"sub":"vera"}"#), false);
        let plan = Plan::from_directives(&login, 4096).unwrap();
        let none = directives(None, None, false);
        for (header, kept) in [
            (format!("__Host-sid={tossed}; __Host-sid={own}"), json!({})),
            (format!("__Host-sid={own}"), json!({ "cart": ["book"] })),
        ] {
            let loaded = block_on(load(&s, Some(&header), "__Host-sid", NOW + 1));
            let out = block_on(finish(&s, &settings(), loaded, &plan, NOW + 1));
            let cookie = out.set_cookie.expect("the login's new id");
            let id = &cookie["__Host-sid=".len()..cookie.find(';').unwrap()];
            let (h, _, _) = request(&s, Some(id), &none, NOW + 2);
            assert_eq!(data_header(&h), kept, "{header}");
        }
    }

    /// Of several session-id cookies (a sibling subdomain can set one of a name without the
    /// `__Host-` prefix, with a longer path, which browsers send first), the first of four that
    /// names a live session is the visitor's: only the first was read, and a junk, foreign or
    /// ended one planted ahead gave the visitor a new, empty session. A patch after a `conflict`
    /// reloads the session from the cookie that named it.
    #[test]
    fn a_session_id_cookie_planted_ahead_does_not_hide_the_visitors_own() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let own = cart(&s).unwrap();
        let ended = cart(&s);
        let logout = directives(None, None, true);
        request(&s, ended.as_deref(), &logout, NOW);
        let header = format!(
            "__Host-sid=junk; __Host-sid={}; __Host-sid={own}",
            ended.unwrap()
        );
        let patch = |member: &str| {
            let d = directives(Some(&format!("{{\"{member}\":1}}")), None, false);
            Plan::from_directives(&d, 4096).unwrap()
        };
        let mut first = block_on(load(&s, Some(&header), "__Host-sid", NOW + 1));
        let second = block_on(load(&s, Some(&header), "__Host-sid", NOW + 1));
        assert_eq!(
            data_header(&first.origin_headers(16_384)),
            json!({ "cart": ["book"] })
        );
        assert_eq!(first.presented.as_deref(), Some(own.as_str()));
        for (loaded, member) in [(first, "a"), (second, "b")] {
            let out = block_on(finish(&s, &settings(), loaded, &patch(member), NOW + 1));
            assert_eq!(out.commit, Some(Commit::Written), "{member}: {out:?}");
            assert_eq!(
                out.set_cookie, None,
                "{member}: the visitor's cookie is kept"
            );
        }
        let (h, _, _) = request(&s, Some(&own), &directives(None, None, false), NOW + 2);
        assert_eq!(data_header(&h), json!({ "cart": ["book"], "a": 1, "b": 1 }));
    }

    /// A login renews the stored session's id once: the gateway regenerates at the login, and
    /// the commit after it (which regenerates a stored session whose subject changed) does not
    /// again. The cookie sent names the session with the answer's patch; the id before, nothing.
    #[test]
    fn a_login_renews_the_id_once_and_sends_it() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let (_, _, anon) = request(
            &s,
            None,
            &directives(Some(r#"{"cart":1}"#), None, false),
            NOW,
        );
        let writes = store.writes();
        let login = directives(Some(r#"{"n":2}"#), Some(r#"{"sub":"alice"}"#), false);
        let (_, out, user) = request(&s, anon.as_deref(), &login, NOW + 1);
        assert!(out.warning.is_none(), "{out:?}");
        assert!(user.is_some() && user != anon);
        // The old id claimed (compare-and-set), the new one written, the old one made the
        // renewed marker (compare-and-set): one regeneration.
        assert_eq!(store.writes() - writes, 3);
        assert_eq!(store.len(), 2);
        let none = directives(None, None, false);
        let (h, out, kept) = request(&s, user.as_deref(), &none, NOW + 2);
        assert_eq!((out.set_cookie, kept), (None, user));
        assert_eq!(data_header(&h), json!({ "cart": 1, "n": 2 }));
        let (h, _, _) = request(&s, anon.as_deref(), &none, NOW + 2);
        assert_eq!(data_header(&h), json!({}));
    }

    #[test]
    fn revoke_ends_every_session_of_the_subject() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let add = directives(Some(r#"{"k":1}"#), None, false);
        let login = |who: &str| directives(None, Some(&format!(r#"{{"sub":"{who}"}}"#)), false);
        let device = |who: &str| {
            let (_, _, anon) = request(&s, None, &add, NOW);
            request(&s, anon.as_deref(), &login(who), NOW + 1).2
        };
        let (phone, laptop, bob) = (device("alice"), device("alice"), device("bob"));
        let mut revoke = directives(None, None, false);
        revoke.revoke = Some("alice".into());
        let (_, out, kept) = request(&s, phone.as_deref(), &revoke, NOW + 2);
        assert_eq!(
            (out.warning, kept),
            (None, None),
            "this device is logged out"
        );
        // Every session begun up to the revocation, its own second included.
        assert_eq!(block_on(s.min_issued_at("alice")).unwrap(), Some(NOW + 3));
        let none = directives(None, None, false);
        let (h, _, _) = request(&s, laptop.as_deref(), &none, NOW + 3);
        assert_eq!(data_header(&h), json!({}), "the other device too");
        let (h, _, _) = request(&s, bob.as_deref(), &none, NOW + 3);
        assert_eq!(
            data_header(&h),
            json!({ "k": 1 }),
            "another user is untouched"
        );
        assert_eq!(block_on(s.min_issued_at("bob")).unwrap(), None);
        // A password change: revoke, and log in again in the same answer.
        let mut change = login("bob");
        change.revoke = Some("bob".into());
        let (_, out, fresh) = request(&s, bob.as_deref(), &change, NOW + 4);
        assert_eq!(out.warning, None);
        assert!(fresh.is_some() && fresh != bob);
        let (h, _, _) = request(&s, fresh.as_deref(), &none, NOW + 5);
        assert_eq!(
            data_header(&h),
            json!({ "k": 1 }),
            "the new session keeps the data"
        );
        // A store that fails says so in the log.
        store.set_failing(true);
        let (_, out, _) = request(&s, fresh.as_deref(), &revoke, NOW + 6);
        assert!(out.warning.unwrap().contains("not revoked"));
    }

    /// A password change (its own user revoked, and a login) of a session whose data are over
    /// `STORE_MAX_DATA_BYTES` at the new id (the limit lowered since they were stored, or the
    /// answer's change with the subject's bytes): the login goes on with the answer's own change
    /// alone, the data dropped (said in the log). Moved to a new session, they were counted
    /// again and refused: a 502 after the revocation had logged the user out everywhere.
    #[test]
    fn a_password_change_over_the_limit_keeps_the_login() {
        let store = MemoryStore::new();
        let roomy = sessions(&store);
        let mut tight_settings = settings();
        tight_settings.sessions.max_data_bytes = 4096;
        let tight =
            Sessions::new(&store, &ring(&[("k1", 5)]), tight_settings.sessions.clone()).unwrap();
        let none = directives(None, None, false);
        let near = format!(r#"{{"note":"{}"}}"#, "c".repeat(4070));
        for (size, user, patch, kept, said) in [
            // Stored under a roomier limit, sent still (under what the header carries).
            (6000, "bob", None, json!({}), "new id;"),
            // Within the limit, but for the answer's change and the subject.
            (
                4070,
                "bob-the-builder",
                Some(r#"{"mfa":1}"#),
                json!({"mfa": 1}),
                "but for the answer's",
            ),
            // The answer's change alone does not fit with the subject: dropped too, and said.
            (
                1,
                "a-user-with-a-long-name",
                Some(near.as_str()),
                json!({}),
                "too",
            ),
        ] {
            let big = format!(r#"{{"big":"{}"}}"#, "a".repeat(size));
            let (_, _, anon) = request(&roomy, None, &directives(Some(&big), None, false), NOW);
            let claims = format!(r#"{{"sub":"{user}"}}"#);
            let login = directives(None, Some(&claims), false);
            let (_, _, old) = request(&roomy, anon.as_deref(), &login, NOW + 1);
            let mut change = directives(patch, Some(&claims), false);
            change.revoke = Some(user.into());
            let header = format!("__Host-sid={}", old.as_deref().unwrap());
            let mut loaded = block_on(load(&tight, Some(&header), "__Host-sid", NOW + 2));
            let h = loaded.origin_headers(tight_settings.most_data_bytes);
            assert_eq!(headers::get(&h, "x-session-store"), Some("ok"));
            let plan = Plan::from_directives(&change, 4096).unwrap();
            let out = block_on(finish(&tight, &tight_settings, loaded, &plan, NOW + 2));
            assert_eq!(out.refused, None, "{user}");
            let warning = out.warning.as_deref().unwrap();
            assert!(warning.contains("were dropped"), "{out:?}");
            assert!(format!("{warning};").contains(said), "{warning}");
            let cookie = out.set_cookie.unwrap();
            assert!(!cookie.contains("Max-Age=0"), "{cookie}");
            let id = cookie["__Host-sid=".len()..cookie.find(';').unwrap()].to_owned();
            assert_ne!(Some(&id), old.as_ref());
            let (h, _, _) = request(&tight, Some(&id), &none, NOW + 3);
            assert_eq!(data_header(&h), kept, "{user}");
        }
    }

    /// A page's request sent before the answer to a password change or a switch of users (the
    /// answer that ends its session and logs in again), answered after it, does not remove the
    /// new session-id cookie, which the browser holds by then: its old id is left as one a
    /// login renewed. It was deleted, named nothing, and the answer's removal logged the user
    /// out, the new session's data orphaned. So with a logout whose next answer logs in.
    #[test]
    fn a_request_sent_before_a_password_change_does_not_undo_it() {
        for (switch, apart) in [(false, false), (true, false), (true, true)] {
            let store = MemoryStore::new();
            let s = sessions(&store);
            let login = directives(Some(r#"{"cart":1}"#), Some(r#"{"sub":"alice"}"#), false);
            let (_, _, old) = request(&s, None, &login, NOW);
            let bob = Some(r#"{"sub":"bob"}"#);
            let mut change = directives(None, bob.filter(|_| !apart), switch);
            change.revoke = (!switch).then(|| "alice".into());
            let (_, out, mut new) = request(&s, old.as_deref(), &change, NOW + 1);
            assert_eq!(out.warning, None, "{out:?}");
            if apart {
                assert_eq!(new, None);
                new = request(&s, None, &directives(None, bob, false), NOW + 1).2;
            }
            assert!(new.is_some() && new != old, "{switch}");
            let patch = directives(Some(r#"{"late":1}"#), None, false);
            for d in [directives(None, None, false), patch] {
                let (h, out, _) = request(&s, old.as_deref(), &d, NOW + 2);
                assert_eq!(out.set_cookie, None, "switch {switch}: {out:?}");
                assert_eq!(data_header(&h), json!({}));
            }
            // The old id names nothing, for good once the marker is gone.
            let later = NOW + 2 + crate::store::session::RENEWED_SECONDS;
            let (_, out, _) = request(&s, old.as_deref(), &directives(None, None, false), later);
            assert!(out.set_cookie.is_some_and(|c| c.contains("Max-Age=0")));
            assert!(block_on(s.load(old.as_deref().unwrap(), NOW + 3))
                .unwrap()
                .is_none());
        }
    }

    /// alice's session-id cookie beside bob's session token (or none) gives nothing of
    /// alice's data; with alice's own token it is hers.
    #[test]
    fn stored_data_goes_only_with_its_owners_token() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let login = directives(
            Some(r#"{"card":"4242"}"#),
            Some(r#"{"sub":"alice"}"#),
            false,
        );
        let (_, _, jar) = request(&s, None, &login, NOW);
        let header = format!("__Host-sid={}", jar.unwrap());
        for (subject, sees) in [(Some("alice"), true), (Some("bob"), false), (None, false)] {
            let mut loaded =
                block_on(load(&s, Some(&header), "__Host-sid", NOW + 1)).bind(&s, subject, NOW + 1);
            let h = loaded.origin_headers(16_384);
            assert_eq!(
                data_header(&h) == json!({"card": "4242"}),
                sees,
                "{subject:?}"
            );
            assert_eq!(loaded.presented.is_some(), sees, "{subject:?}");
        }
        // An anonymous session (no login yet) goes with any request that presents it.
        let (_, _, jar) = request(&s, None, &directives(Some(r#"{"n":1}"#), None, false), NOW);
        let header = format!("__Host-sid={}", jar.unwrap());
        let mut loaded = block_on(load(&s, Some(&header), "__Host-sid", NOW)).bind(&s, None, NOW);
        assert_eq!(data_header(&loaded.origin_headers(16_384)), json!({"n": 1}));
    }

    /// A logout from a request without its user's valid token (it expired: the id cookie
    /// outlives it; or another user's) clears the id cookie of the user's stored session that
    /// [`Loaded::bind`] set aside, which stays for its user's token (its timeouts end it): the id
    /// stayed in the browser, a shared one's next user holding it.
    #[test]
    fn a_logout_without_the_users_token_clears_the_id_set_aside() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let login = directives(
            Some(r#"{"cart":["book"]}"#),
            Some(r#"{"sub":"alice"}"#),
            false,
        );
        let (_, _, jar) = request(&s, None, &login, NOW);
        let header = format!("__Host-sid={}", jar.unwrap());
        let bound = |subject, now| {
            block_on(load(&s, Some(&header), "__Host-sid", now)).bind(&s, subject, now)
        };
        for subject in [None, Some("bob")] {
            let plan = Plan {
                logout: true,
                ..Plan::default()
            };
            let out = block_on(finish(
                &s,
                &settings(),
                bound(subject, NOW + 1),
                &plan,
                NOW + 1,
            ));
            let cleared = out.set_cookie.unwrap_or_default();
            assert!(cleared.starts_with("__Host-sid=; Max-Age=0"), "{subject:?}");
            let alice = bound(Some("alice"), NOW + 2).origin_headers(16_384);
            assert_eq!(
                data_header(&alice),
                json!({"cart": ["book"]}),
                "{subject:?}"
            );
        }
        // Without a logout, nothing is cleared.
        let out = block_on(finish(
            &s,
            &settings(),
            bound(None, NOW + 3),
            &Plan::default(),
            NOW + 3,
        ));
        assert_eq!(out.set_cookie, None);
    }

    /// A session that a logged-in request begins (it presented no session id, or another
    /// user's) is that user's, as a login's is: its data goes only with the user's token, and
    /// "log out everywhere" ends it. A logged-in request that writes nothing stores nothing.
    #[test]
    fn a_session_begun_while_logged_in_belongs_to_the_user() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let plan = |data| Plan::from_directives(&directives(data, None, false), 4096).unwrap();
        let begin = |subject, data| {
            let loaded = block_on(load(&s, None, "__Host-sid", NOW)).bind(&s, subject, NOW);
            block_on(finish(&s, &settings(), loaded, &plan(data), NOW))
        };
        let cookie = begin(Some("alice"), Some(r#"{"card":"4242"}"#))
            .set_cookie
            .unwrap();
        let header = cookie[..cookie.find(';').unwrap()].to_owned();
        let data = |subject| {
            let loaded = block_on(load(&s, Some(&header), "__Host-sid", NOW + 1));
            data_header(&loaded.bind(&s, subject, NOW + 1).origin_headers(16_384))
        };
        assert_eq!(data(Some("alice")), json!({ "card": "4242" }));
        assert_eq!(data(None), json!({}));
        assert_eq!(data(Some("bob")), json!({}));
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
        assert_eq!(data(Some("alice")), json!({}));
        let before = store.len();
        assert_eq!(begin(Some("bob"), None).set_cookie, None);
        assert_eq!(store.len(), before);
    }

    /// A session begun anonymously takes its owner at a gateway login, which regenerates it. A
    /// session token no login here issued (`SESSION_FORMAT = "jwt"`, another system's with the
    /// same keys) never passes one: its user's writes went into the anonymous session, which
    /// kept no owner, and once the token was gone (expired, revoked, or the browser used by
    /// someone else) every request presenting that id was shown them. A logged-in request's
    /// write takes such a session for its user, with a new id, as a login does.
    #[test]
    fn a_logged_in_write_takes_a_session_begun_anonymously() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let plan = |data| Plan::from_directives(&directives(data, None, false), 4096).unwrap();
        let visit = |header: &str, subject, data, now| {
            let mut loaded =
                block_on(load(&s, Some(header), "__Host-sid", now)).bind(&s, subject, now);
            let shown = data_header(&loaded.origin_headers(16_384));
            let out = block_on(finish(&s, &settings(), loaded, &plan(data), now));
            let header = match out.set_cookie {
                Some(c) => c[..c.find(';').unwrap()].to_owned(),
                None => header.to_owned(),
            };
            (shown, header)
        };
        let (_, anonymous) = visit("a=1", None, Some(r#"{"cart":["book"]}"#), NOW);
        assert!(anonymous.starts_with("__Host-sid="));
        // Logged in elsewhere: the cart is shown, and the user's write takes the session.
        let (shown, own) = visit(
            &anonymous,
            Some("alice"),
            Some(r#"{"address":"1 Main St"}"#),
            NOW + 1,
        );
        assert_eq!(shown, json!({ "cart": ["book"] }));
        assert_ne!(own, anonymous, "a new id for the user's session");
        let (shown, _) = visit(&own, Some("alice"), None, NOW + 2);
        assert_eq!(shown, json!({ "cart": ["book"], "address": "1 Main St" }));
        // The token gone: nobody else is shown what the user wrote.
        assert_eq!(visit(&own, None, None, NOW + 3).0, json!({}));
        assert_eq!(visit(&own, Some("bob"), None, NOW + 3).0, json!({}));
        assert_eq!(visit(&anonymous, None, None, NOW + 3).0, json!({}));
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
    }

    /// The same, when another request wrote the anonymous session between the logged-in
    /// request's read and its write: the `conflict` retry applied the user's patch to the newer
    /// version again, but not the ownership, and wrote it under the anonymous id, without owner
    /// and unlinked: what the user wrote stayed readable by the id alone, out of reach of the
    /// user's revocation. A retry does what the first try did.
    #[test]
    fn a_logged_in_write_retried_after_a_conflict_still_takes_the_session() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let plan =
            |data| Plan::from_directives(&directives(Some(data), None, false), 4096).unwrap();
        let (_, _, jar) = request(
            &s,
            None,
            &directives(Some(r#"{"cart":["book"]}"#), None, false),
            NOW,
        );
        let anonymous = format!("__Host-sid={}", jar.unwrap());
        let read = |subject| {
            block_on(load(&s, Some(&anonymous), "__Host-sid", NOW + 1)).bind(&s, subject, NOW + 1)
        };
        let (theirs, mine) = (read(None), read(Some("alice")));
        let other = block_on(finish(
            &s,
            &settings(),
            theirs,
            &plan(r#"{"n":1}"#),
            NOW + 1,
        ));
        assert_eq!(other.commit, Some(Commit::Written));
        let out = block_on(finish(
            &s,
            &settings(),
            mine,
            &plan(r#"{"address":"1 Main St"}"#),
            NOW + 1,
        ));
        assert_eq!(out.warning, None, "{out:?}");
        let shown = |header: &str, subject| {
            let mut loaded =
                block_on(load(&s, Some(header), "__Host-sid", NOW + 2)).bind(&s, subject, NOW + 2);
            data_header(&loaded.origin_headers(16_384))
        };
        // Nobody without alice's token is shown what she wrote.
        assert_eq!(shown(&anonymous, None).get("address"), None, "{out:?}");
        let own = out.set_cookie.expect("the user's session gets a new id");
        let own = own[..own.find(';').unwrap()].to_owned();
        assert_eq!(
            shown(&own, Some("alice")),
            json!({ "cart": ["book"], "n": 1, "address": "1 Main St" })
        );
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
    }

    /// A session a logged-in request begins, when the store could not link it to its user:
    /// its cookie must not be sent, or the user's session would be one that "log out
    /// everywhere" never finds (its later requests take it as linked, and never link it again).
    #[test]
    fn a_session_its_user_could_not_be_linked_to_is_not_given_out() {
        let store = MemoryStore::new();
        store.set_failing_links(true);
        let s = sessions(&store);
        let plan = |data| Plan::from_directives(&directives(data, None, false), 4096).unwrap();
        let loaded = block_on(load(&s, None, "__Host-sid", NOW)).bind(&s, Some("alice"), NOW);
        let out = block_on(finish(
            &s,
            &settings(),
            loaded,
            &plan(Some(r#"{"card":"4242"}"#)),
            NOW,
        ));
        assert!(out.warning.is_some(), "the failure is logged");
        let Some(cookie) = out.set_cookie else {
            // Nothing given out, and the session no one can name is forgotten.
            assert!(store.is_empty());
            return;
        };
        // The store works again; the client uses the session it was given.
        store.set_failing_links(false);
        let header = cookie[..cookie.find(';').unwrap()].to_owned();
        let loaded = block_on(load(&s, Some(&header), "__Host-sid", NOW + 1)).bind(
            &s,
            Some("alice"),
            NOW + 1,
        );
        block_on(finish(
            &s,
            &settings(),
            loaded,
            &plan(Some(r#"{"n":1}"#)),
            NOW + 1,
        ));
        // Log out everywhere.
        block_on(s.revoke_subject("alice")).unwrap();
        let mut loaded = block_on(load(&s, Some(&header), "__Host-sid", NOW + 2)).bind(
            &s,
            Some("alice"),
            NOW + 2,
        );
        assert_eq!(
            data_header(&loaded.origin_headers(16_384)),
            json!({}),
            "alice's session outlived \"log out everywhere\""
        );
    }

    /// The size limit holds for `x-session-data` as the origin receives it, escaped.
    #[test]
    fn the_data_header_stays_within_the_limit_once_escaped() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let max = settings().sessions.max_data_bytes;
        // Four bytes stored, twelve once escaped (`\ud83d\ude00`).
        let emoji = "\\ud83d\\ude00".repeat(max / 12 + 10);
        let patch = directives(Some(&format!(r#"{{"e":"{emoji}"}}"#)), None, false);
        let (_, out, _) = request(&s, None, &patch, NOW);
        assert!(out.refused.unwrap().contains("STORE_MAX_DATA_BYTES"));
        assert_eq!(store.len(), 0);
        let fits = "\\ud83d\\ude00".repeat(max / 13);
        let patch = directives(Some(&format!(r#"{{"e":"{fits}"}}"#)), None, false);
        let (_, out, jar) = request(&s, None, &patch, NOW);
        assert_eq!(out.refused, None);
        let (h, _, _) = request(&s, jar.as_deref(), &directives(None, None, false), NOW);
        assert!(headers::get(&h, "x-session-data").unwrap().len() <= max);
    }

    /// Data another writer stored over what `x-session-data` may carry (a JS `SessionStore`
    /// with a larger `maxDataBytes` on the same store) is withheld from the origin, where it made
    /// every request of the visitor a 431: `x-session-store: too_large`, no data. The session
    /// goes on: the other writer still reads it, a patch that takes it under the limit again is
    /// applied (and the data sent again), a logout deletes it.
    #[test]
    fn data_stored_over_what_the_header_carries_is_withheld() {
        let store = MemoryStore::new();
        let larger = Sessions::new(
            &store,
            &ring(&[("k1", 5)]),
            SessionConfig {
                max_data_bytes: 65_536,
                ..SessionConfig::default()
            },
        )
        .unwrap();
        let gateway = sessions(&store);
        // What the other writer commits: 20,000 bytes, over the gateway's 16,384.
        // A session of the other writer's, of `owner` if any: its id cookie.
        let written_by = |owner: Option<&str>| {
            let mut session = larger.new_session(NOW).unwrap();
            let data = session.data_mut();
            data.insert("big".into(), json!("a".repeat(20_000)));
            data.insert("n".into(), json!(1));
            session.set_subject(owner.map(str::to_owned));
            block_on(larger.commit(&mut session, NOW)).unwrap();
            Some(session.token().to_owned())
        };
        let written = || written_by(None);
        let read = |jar: &Option<String>, now| {
            block_on(larger.load(jar.as_deref().unwrap(), now)).unwrap()
        };
        let jar = written();
        let none = directives(None, None, false);
        let (h, out, kept) = request(&gateway, jar.as_deref(), &none, NOW);
        assert_eq!(headers::get(&h, "x-session-store"), Some("too_large"));
        assert_eq!(headers::get(&h, "x-session-data"), None);
        assert_eq!((out.set_cookie, out.warning, &kept), (None, None, &jar));
        // A change that leaves it over the limit: dropped and logged, not a 502 (the origin
        // was not shown the data), with a login too (below).
        let grow = directives(Some(r#"{"m":2}"#), None, false);
        let (_, out, kept) = request(&gateway, jar.as_deref(), &grow, NOW);
        assert_eq!((out.refused, &kept), (None, &jar));
        assert!(out.warning.unwrap().contains("withheld"));
        assert_eq!(read(&jar, NOW).unwrap().get("m"), None);
        let kept_by_the_writer = read(&jar, NOW).unwrap();
        assert_eq!(
            kept_by_the_writer.data()["big"].as_str().map(str::len),
            Some(20_000)
        );
        // A patch that leaves it under the limit: applied, and the data sent again.
        let shrink = directives(Some(r#"{"big":null}"#), None, false);
        let (_, out, kept) = request(&gateway, jar.as_deref(), &shrink, NOW + 1);
        assert_eq!((out.refused, &kept), (None, &jar));
        let (h, _, _) = request(&gateway, jar.as_deref(), &none, NOW + 2);
        assert_eq!(data_header(&h), json!({"n": 1}));
        // Withheld again, then logged out: the stored session is deleted, not only its cookie.
        let jar = written();
        let logout = directives(None, None, true);
        let (h, out, kept) = request(&gateway, jar.as_deref(), &logout, NOW + 1);
        assert_eq!(headers::get(&h, "x-session-store"), Some("too_large"));
        assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
        assert_eq!(kept, None);
        assert!(read(&jar, NOW + 2).is_none(), "the session was deleted");
        // Another user's login clears the data it would have taken: its own change is judged
        // alone, and one over the limit is refused as any is.
        let daves = written_by(Some("dave"));
        let huge = format!(r#"{{"huge":"{}"}}"#, "b".repeat(17_000));
        let other = directives(Some(&huge), Some(r#"{"sub":"erin"}"#), false);
        let (h, out, _) = request(&gateway, daves.as_deref(), &other, NOW + 3);
        assert_eq!(headers::get(&h, "x-session-store"), Some("too_large"));
        assert!(out.refused.unwrap().contains("STORE_MAX_DATA_BYTES"));
        // A password change of withheld data: the change dropped above stays dropped at the
        // new session, which holds nothing of the data.
        let franks = written_by(Some("frank"));
        let mut change = directives(Some(r#"{"m":2}"#), Some(r#"{"sub":"frank"}"#), false);
        change.revoke = Some("frank".into());
        let (_, out, renewed) = request(&gateway, franks.as_deref(), &change, NOW + 3);
        assert_eq!(out.refused, None);
        let warning = out.warning.unwrap();
        assert!(warning.contains("change dropped") && warning.contains("were dropped"));
        let fresh = read(&renewed, NOW + 3).unwrap();
        assert_eq!(
            (fresh.subject(), fresh.data().is_empty()),
            (Some("frank"), true)
        );
        let jar = written();
        let login = directives(Some(r#"{"m":2}"#), Some(r#"{"sub":"carol"}"#), false);
        let (_, out, renewed) = request(&gateway, jar.as_deref(), &login, NOW + 3);
        assert_eq!(out.refused, None);
        assert!(renewed.is_some() && renewed != jar);
        let carols = read(&renewed, NOW + 3).unwrap();
        assert_eq!((carols.subject(), carols.get("m")), (Some("carol"), None));
    }

    #[test]
    fn a_failing_store_degrades() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let add = directives(Some(r#"{"k":1}"#), None, false);
        let (_, _, jar) = request(&s, None, &add, NOW);
        store.set_failing(true);
        let (h, out, kept) = request(&s, jar.as_deref(), &add, NOW + 1);
        assert_eq!(headers::get(&h, "x-session-store"), Some("unavailable"));
        assert_eq!(headers::get(&h, "x-session-data"), None);
        assert!(out.warning.unwrap().contains("unavailable"));
        assert_eq!(
            (out.set_cookie, kept),
            (None, jar.clone()),
            "the cookie is kept"
        );
        store.set_failing(false);
        let (h, _, _) = request(&s, jar.as_deref(), &directives(None, None, false), NOW + 2);
        assert_eq!(data_header(&h), json!({ "k": 1 }));
    }

    /// A login while the store fails: the session id presented before it (possibly planted) is
    /// cleared, never kept for the logged-in user.
    #[test]
    fn a_login_the_store_cannot_renew_clears_the_presented_id() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let (_, _, jar) = request(&s, None, &directives(Some(r#"{"k":1}"#), None, false), NOW);
        store.set_failing(true);
        let login = directives(None, Some(r#"{"sub":"alice"}"#), false);
        let (_, out, _) = request(&s, jar.as_deref(), &login, NOW + 1);
        assert!(out.warning.is_some());
        assert!(out
            .set_cookie
            .is_some_and(|c| c.starts_with("__Host-sid=; Max-Age=0")));
        // Loaded, then failing when the login renews the id: cleared too.
        store.set_failing(false);
        let sid = format!("__Host-sid={}", jar.unwrap());
        let loaded = block_on(load(&s, Some(&sid), "__Host-sid", NOW + 2));
        assert!(loaded.session.is_ok());
        store.set_failing(true);
        let plan = Plan::from_directives(&login, 4096).unwrap();
        let out = block_on(finish(&s, &settings(), loaded, &plan, NOW + 2));
        assert!(out
            .warning
            .is_some_and(|w| w.contains("could not be renewed")));
        assert!(out
            .set_cookie
            .is_some_and(|c| c.starts_with("__Host-sid=; Max-Age=0")));
        // Without a login, a failing store keeps the cookie (a_failing_store_degrades).
    }

    /// A logout while the store cannot answer: the session cannot be deleted, but the client
    /// is told to forget its id, as at every logout. It kept the cookie, and its user's next
    /// login on that browser (the id presented with the user's token) took the session the
    /// logout ended back.
    #[test]
    fn a_logout_while_the_store_fails_clears_the_id() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let (_, _, jar) = request(&s, None, &directives(Some(r#"{"k":1}"#), None, false), NOW);
        store.set_failing(true);
        let (_, out, kept) = request(&s, jar.as_deref(), &directives(None, None, true), NOW + 1);
        assert!(out.warning.is_some(), "{out:?}");
        assert!(out
            .set_cookie
            .is_some_and(|c| c.starts_with("__Host-sid=; Max-Age=0")));
        assert_eq!(kept, None);
    }

    /// A logout ends the token of the session it came with (`Plan::ended`): from then on the
    /// revocation check refuses a copy of that token, begun at any time, as a revocation would;
    /// the user's other sessions stand, and a token without a `sid` is not looked up. A logout
    /// the store cannot record says so, and still clears the id.
    #[test]
    fn a_logout_ends_the_token_of_its_session() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let check = |sid: Option<&str>, at| {
            let ended = sid.map_or(Ok(None), |sid| block_on(s.token_ended_at(sid)));
            revocation_answer(block_on(s.revocation("alice")), ended, at, sid).unwrap()
        };
        assert_eq!(check(Some("sid-1"), NOW), None);
        let login = directives(Some(r#"{"k":1}"#), Some(r#"{"sub":"alice"}"#), false);
        let (_, _, jar) = request(&s, None, &login, NOW);
        let header = format!("__Host-sid={}", jar.unwrap());
        let logout = |now| {
            let loaded = block_on(load(&s, Some(&header), "__Host-sid", now));
            let plan = Plan {
                logout: true,
                ended: Some("sid-1".into()),
                ..Plan::default()
            };
            block_on(finish(&s, &settings(), loaded, &plan, now))
        };
        let out = logout(NOW + 1);
        assert_eq!(out.warning, None);
        assert!(out.set_cookie.is_some_and(|c| c.contains("Max-Age=0")));
        for at in [0, NOW, NOW + 1, NOW + 5000] {
            let refused = check(Some("sid-1"), at).unwrap();
            assert!(refused.refuses(at, Some("sid-1")), "{at}");
            assert_ne!(refused, Revocation::UNREADABLE);
            // As a revocation made at the logout (what tells a recent one: `check_revocation`).
            assert_eq!(refused.before, at.max(NOW + 1) + 1, "{at}");
        }
        assert_eq!(check(Some("sid-2"), NOW), None);
        assert_eq!(check(None, NOW), None);
        // Kept as long as a revocation: the longest a copy of the token can live.
        let key = format!(
            "e:{}",
            crate::codec::b64_encode(&crate::keys::sha256(b"sid-1"))
        );
        let entry = block_on(store.load(&key)).unwrap().unwrap();
        assert_eq!(entry.expires, NOW + 1 + settings().revocation_keep_seconds);
        // A subject's revocation still answers for the user's other sessions.
        block_on(s.revoke_tokens("alice", NOW + 10, 3600)).unwrap();
        assert!(check(Some("sid-2"), NOW).is_some_and(|r| r.refuses(NOW, Some("sid-2"))));
        store.set_failing(true);
        let out = logout(NOW + 20);
        assert!(out.warning.is_some_and(|w| w.contains("not ended")));
        assert!(out.set_cookie.is_some_and(|c| c.contains("Max-Age=0")));
        assert!(block_on(s.token_ended("sid-1")).is_err());
        let down = || Error::StoreUnavailable("down".into());
        let sid = Some("sid-1");
        assert!(revocation_answer(Ok(None), Err(down()), NOW, sid).is_err());
        assert!(revocation_answer(Err(down()), Ok(None), NOW, sid).is_err());
        // Either read refusing the token is the answer, whatever the other's error: a revoked
        // token is never served because the other read failed.
        let revoked = Revocation {
            before: NOW + 1,
            except: None,
        };
        let answer = revocation_answer(Ok(Some(revoked.clone())), Err(down()), NOW, sid);
        assert_eq!(answer.unwrap(), Some(revoked.clone()));
        let answer = revocation_answer(Err(down()), Ok(Some(NOW)), NOW, sid).unwrap();
        assert!(answer.is_some_and(|r| r.refuses(NOW, sid)));
        // A revocation that spares this session, or an earlier one, does not hide an error.
        let spared = Revocation {
            except: sid.map(str::to_owned),
            ..revoked
        };
        assert!(revocation_answer(Ok(Some(spared)), Err(down()), NOW, sid).is_err());
    }

    /// "Log out everywhere" by the user's own request (`x-session-revoke` of its subject) while
    /// the store fails: the browser that sent it is logged out too, its session id cleared as at
    /// a logout, whether the store failed to read the session or only to delete it. It kept the
    /// id when the read failed, and its user's next login on that browser took the session
    /// back (a revocation that failed halfway, its tokens refused but its sessions not deleted,
    /// or one that the read alone missed).
    #[test]
    fn a_revocation_of_its_own_user_while_the_store_fails_clears_the_id() {
        for failing_read in [true, false] {
            let store = MemoryStore::new();
            let s = sessions(&store);
            let login = directives(Some(r#"{"k":1}"#), Some(r#"{"sub":"alice"}"#), false);
            let (_, _, jar) = request(&s, None, &login, NOW);
            let header = format!("__Host-sid={}", jar.unwrap());
            store.set_failing(failing_read);
            let loaded = block_on(load(&s, Some(&header), "__Host-sid", NOW + 1));
            let loaded = loaded.bind(&s, Some("alice"), NOW + 1);
            store.set_failing(true);
            let mut revoke = directives(None, None, false);
            revoke.revoke = Some("alice".into());
            let plan = Plan::from_directives(&revoke, 4096).unwrap();
            let out = block_on(finish(&s, &settings(), loaded, &plan, NOW + 1));
            assert!(out.warning.is_some(), "{out:?}");
            assert!(
                out.set_cookie
                    .as_deref()
                    .is_some_and(|c| c.starts_with("__Host-sid=; Max-Age=0")),
                "the read failing: {failing_read}: {out:?}"
            );
        }
    }

    #[test]
    fn concurrent_patches_of_different_members_all_survive() {
        let store = MemoryStore::new().interleaving();
        let s = sessions(&store);
        let (_, _, jar) = request(
            &s,
            None,
            &directives(Some("{\"start\":0}"), None, false),
            NOW,
        );
        let header = format!("__Host-sid={}", jar.unwrap());
        let tasks = (0..20)
            .map(|i| {
                let (s, header) = (&s, &header);
                async move {
                    let loaded = load(s, Some(header), "__Host-sid", NOW + 1).await;
                    let patch = format!("{{\"m{i}\":{i}}}");
                    let plan = Plan::from_directives(&directives(Some(&patch), None, false), 4096)
                        .unwrap();
                    finish(s, &settings(), loaded, &plan, NOW + 1).await
                }
            })
            .collect();
        let outcomes = block_on(join_all(tasks));
        let saved = outcomes
            .iter()
            .filter(|o| o.commit == Some(Commit::Written))
            .count();
        let loaded = block_on(load(&s, Some(&header), "__Host-sid", NOW + 2));
        let data = loaded.session.unwrap().data().clone();
        // Up to CONFLICT_RETRIES re-applications each: some may give up, none is half-applied.
        assert_eq!(data.len() - 1, saved, "{outcomes:?}");
        assert!(saved >= 4, "only {saved} of 20 patches landed");
    }

    #[test]
    fn oversized_data_is_refused_not_stored() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(20_000));
        let d = directives(Some(&big), None, false);
        let loaded = block_on(load(&s, None, "__Host-sid", NOW));
        let plan = Plan::from_directives(&d, 4096).unwrap();
        let out = block_on(finish(&s, &settings(), loaded, &plan, NOW));
        let page = out.refused_page().unwrap();
        assert!(page.status == 502 && page.body.contains("over the limit"));
        assert!(out.refused.unwrap().contains("over the limit"));
        assert_eq!((out.set_cookie, store.len()), (None, 0));
        assert_eq!(Outcome::default().refused_page(), None);
    }

    /// A login whose subject takes the stored data over the limit at its new id (`regenerate`)
    /// is refused as a write over it is, naming the limit, not the size (the reason reaches the
    /// visitor's 502 page and the log): it was served, logged as a store failure with the size.
    #[test]
    fn a_login_over_the_data_limit_is_refused_naming_the_limit() {
        let store = MemoryStore::new();
        let config = SessionConfig {
            max_data_bytes: 100,
            ..SessionConfig::default()
        };
        let s = Sessions::new(&store, &ring(&[("k1", 5)]), config).unwrap();
        let fill = format!(r#"{{"x":"{}"}}"#, "a".repeat(87));
        let sub = "a-rather-long-subject-of-thirty-seven";
        let issue = format!(r#"{{"sub":"{sub}"}}"#);
        let (_, out, _) = request(&s, None, &directives(Some(&fill), Some(&issue), false), NOW);
        let why = out.refused.clone().unwrap_or_else(|| panic!("{out:?}"));
        assert!(why.contains("over the limit of 100 bytes"), "{why}");
        let digits: String = why.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits, "100", "{why}");
        assert_eq!(out.warning, None);
    }

    #[test]
    fn each_store_kind_has_its_binding() {
        assert_eq!(binding(StoreKind::Kv), "SESSIONS");
        assert_eq!(binding(StoreKind::Durable), "SESSION_OBJECTS");
    }

    #[test]
    fn bad_patches_are_refused() {
        for bad in [
            "[]",
            "1",
            "{",
            "\"x\"",
            "{\"n\":\"Zoë\"}",
            &format!("{{\"x\":\"{}\"}}", "a".repeat(30_000)),
        ] {
            assert!(Plan::from_directives(&directives(Some(bad), None, false), 4096).is_err());
        }
        // An integer beyond 64 bits (a 128-bit id) would be stored as the nearest f64.
        let big = r#"{"order":340282366920938463463374607431768211455}"#;
        let err = Plan::from_directives(&directives(Some(big), None, false), 4096).unwrap_err();
        assert_eq!(err, INEXACT_DATA);
        assert!(!err.contains("340282366920938463463374607431768211455"));
        let err = Plan::from_directives(&directives(Some(r#"{"n":-0}"#), None, false), 4096);
        assert_eq!(err.unwrap_err(), INEXACT_DATA);
        let refused = |data| Plan::from_directives(&directives(Some(data), None, false), 4096);
        let twice = refused(r#"{"x":1,"x":null,"y":2}"#).unwrap_err();
        assert_eq!(twice, "x-session-data names a member twice");
        assert!(refused(r#"{"x":1,"\u0078":2}"#).is_err());
        let lone = refused(r#"{"x":"\ud800"}"#).unwrap_err();
        assert!(lone.contains("lone surrogate"), "{lone}");
        let exact = r#"{"order":18446744073709551615,"price":1e30}"#;
        assert!(Plan::from_directives(&directives(Some(exact), None, false), 4096).is_ok());
        // A login whose subject revocation could not name is refused, never subject-less.
        assert!(Plan::from_directives(&directives(None, Some("{\"sub\":7}"), false), 10).is_err());
        let plan = Plan::from_directives(&directives(None, Some("{}"), false), 10).unwrap();
        assert_eq!(plan.login, Some(None));
        assert!(Plan::from_directives(&directives(None, None, false), 10)
            .unwrap()
            .is_empty());
    }

    fn load_and_plan(s: &Sessions<&MemoryStore>, header: &str, patch: &str) -> (Loaded, Plan) {
        let loaded = block_on(load(s, Some(header), "__Host-sid", NOW + 1));
        let plan = Plan::from_directives(&directives(Some(patch), None, false), 4096).unwrap();
        (loaded, plan)
    }

    /// Two requests of one session patch it at once: each patch fits alone, together they do
    /// not once escaped (`é` is six bytes in the header): the one applied again after the
    /// `conflict` is refused too.
    #[test]
    fn a_patch_applied_again_after_a_conflict_keeps_the_escaped_limit() {
        let mut st = settings();
        st.sessions.max_data_bytes = 4096;
        let store = MemoryStore::new();
        let s = Sessions::new(&store, &ring(&[("k1", 5)]), st.sessions.clone()).unwrap();
        let (_, _, jar) = request(&s, None, &directives(Some("{\"n\":0}"), None, false), NOW);
        let header = format!("__Host-sid={}", jar.clone().unwrap());
        let e = "\\u00e9".repeat(400);
        let a = load_and_plan(&s, &header, &format!(r#"{{"a":"{e}"}}"#));
        let b = load_and_plan(&s, &header, &format!(r#"{{"b":"{e}"}}"#));
        let out_a = block_on(finish(&s, &st, a.0, &a.1, NOW + 1));
        assert_eq!(out_a.commit, Some(Commit::Written));
        let out_b = block_on(finish(&s, &st, b.0, &b.1, NOW + 1));
        assert!(out_b
            .refused
            .is_some_and(|r| r.contains("STORE_MAX_DATA_BYTES")));
        let (h, _, _) = request(&s, jar.as_deref(), &directives(None, None, false), NOW + 2);
        let sent = headers::get(&h, "x-session-data").unwrap().len();
        assert!(sent <= 4096, "x-session-data is {sent} bytes");
    }

    /// alice is logged in with data; the origin logs bob in on her session (an account switch,
    /// bob at alice's computer): bob's session starts without alice's data.
    #[test]
    fn a_login_as_another_user_does_not_take_the_previous_users_data() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let login = |data, sub| directives(Some(data), Some(sub), false);
        let none = directives(None, None, false);
        let (_, _, alice) = request(
            &s,
            None,
            &login(r#"{"card":"4242"}"#, r#"{"sub":"alice"}"#),
            NOW,
        );
        let bob_login = login(r#"{"theme":"dark"}"#, r#"{"sub":"bob"}"#);
        let (_, _, bob) = request(&s, alice.as_deref(), &bob_login, NOW + 1);
        let (h, _, _) = request(&s, bob.as_deref(), &none, NOW + 2);
        assert_eq!(data_header(&h), json!({"theme": "dark"}));
        // The same user logging in again keeps the data (as an anonymous visitor's cart does).
        let (_, _, carol) = request(&s, None, &login(r#"{"cart":1}"#, r#"{"sub":"carol"}"#), NOW);
        let carol_login = directives(None, Some(r#"{"sub":"carol"}"#), false);
        let (_, _, again) = request(&s, carol.as_deref(), &carol_login, NOW + 1);
        assert_ne!(again, carol, "a new id at login");
        let (h, _, _) = request(&s, again.as_deref(), &none, NOW + 2);
        assert_eq!(data_header(&h), json!({"cart": 1}));
    }

    /// While a deploy that puts a new key first in `SESSION_KEYS` spreads, an instance of the
    /// old version meets session-id cookies the new one signed: it cannot read them (a key it
    /// does not know), but must not clear them either, or the visitor's stored session (a
    /// cart) is lost for good at the first request that reaches it (as a session token of an
    /// unknown key is kept, `pipeline::a_token_of_a_key_this_version_does_not_know_is_not_cleared`).
    #[test]
    fn a_session_id_of_a_key_this_version_does_not_know_is_not_cleared() {
        let store = MemoryStore::new();
        let new_ring = KeyRing::new(vec![
            ("k2".into(), Secret::new([6u8; 32]).unwrap()),
            ("k1".into(), Secret::new([5u8; 32]).unwrap()),
        ])
        .unwrap();
        let new = Sessions::new(&store, &new_ring, SessionConfig::default()).unwrap();
        let old = sessions(&store);
        let jar = cart(&new);
        let none = directives(None, None, false);
        let (h, out, kept) = request(&old, jar.as_deref(), &none, NOW + 1);
        assert_eq!(data_header(&h), json!({}));
        assert_eq!((out.set_cookie, kept.clone()), (None, jar));
        // Back at the new version: the cart is there.
        let (h, _, _) = request(&new, kept.as_deref(), &none, NOW + 2);
        assert_eq!(data_header(&h), json!({ "cart": ["book"] }));
    }

    /// A stored session stays under the key that signed its id cookie, which is never signed
    /// again (only a new id, at a login, is): after a rotation its record is sealed with the
    /// new key at its next write, but the old key still finds it, so removing that key loses
    /// the session (docs/store.md, "Changing settings"). Its cookie is not cleared.
    #[test]
    fn a_stored_session_needs_the_key_that_signed_its_id() {
        let store = MemoryStore::new();
        let at = |r: &KeyRing| Sessions::new(&store, r, SessionConfig::default()).unwrap();
        let (k1, k2k1, k2) = (
            ring(&[("k1", 5)]),
            ring(&[("k2", 6), ("k1", 5)]),
            ring(&[("k2", 6)]),
        );
        let add = directives(Some(r#"{"cart":1}"#), None, false);
        let (_, _, jar) = request(&at(&k1), None, &add, NOW);
        // The new key first: the session is read and written, its id cookie kept.
        let more = directives(Some(r#"{"more":2}"#), None, false);
        let (h, out, kept) = request(&at(&k2k1), jar.as_deref(), &more, NOW + 10);
        assert_eq!(data_header(&h), json!({ "cart": 1 }));
        assert_eq!((out.set_cookie, &kept), (None, &jar));
        // The old key removed: the session is gone, the cookie left alone.
        let (h, out, _) = request(
            &at(&k2),
            kept.as_deref(),
            &directives(None, None, false),
            NOW + 20,
        );
        assert_eq!(data_header(&h), json!({}));
        assert_eq!(out.set_cookie, None);
    }

    /// A key rotated in two deploys (the new key second, then first), with a stored session:
    /// while the second deploy spreads, requests alternate between the versions ([k1, k2] and
    /// [k2, k1]), and the session created at either is read and written at both, its id cookie
    /// kept; a revocation of its user at either version ends it.
    #[test]
    fn a_stored_session_lives_through_a_key_rotated_in_two_deploys() {
        let store = MemoryStore::new();
        let rings = [ring(&[("k1", 5), ("k2", 6)]), ring(&[("k2", 6), ("k1", 5)])];
        let versions = rings
            .each_ref()
            .map(|r| Sessions::new(&store, r, SessionConfig::default()).unwrap());
        for created_at in 0..2 {
            for revoked_at in 0..2 {
                let add = directives(Some(r#"{"n":0}"#), None, false);
                let (_, _, jar) = request(&versions[created_at], None, &add, NOW);
                assert!(jar.is_some());
                for i in 1..5u64 {
                    let s = &versions[(created_at + i as usize) % 2];
                    let patch = format!(r#"{{"n":{i}}}"#);
                    let d = directives(Some(&patch), None, false);
                    let (h, out, kept) = request(s, jar.as_deref(), &d, NOW + i);
                    assert_eq!(data_header(&h), json!({ "n": i - 1 }), "request {i}");
                    assert_eq!((out.set_cookie, &kept), (None, &jar), "request {i}");
                }
                // Logged in at the last version, revoked at either.
                let login = directives(None, Some(r#"{"sub":"alice"}"#), false);
                let (_, _, jar) = request(&versions[created_at], jar.as_deref(), &login, NOW + 9);
                let none = directives(None, None, false);
                for s in &versions {
                    let (h, _, _) = request(s, jar.as_deref(), &none, NOW + 9);
                    assert_eq!(data_header(&h), json!({ "n": 4 }), "{created_at}");
                }
                block_on(revoke(&versions[revoked_at], "alice", None, 7200, NOW + 10)).unwrap();
                for s in &versions {
                    let (h, _, _) = request(s, jar.as_deref(), &none, NOW + 11);
                    assert_eq!(data_header(&h), json!({}), "{created_at} {revoked_at}");
                }
            }
        }
    }

    /// A revocation lives in the store it was made in: after a switch of `STORE` (or while the
    /// deploy spreads, at the other version) the new store has no `minIssuedAt` for the
    /// subject, and a session token revoked before is valid again until it is revoked anew
    /// (docs/gateway.md, "Changing settings on a live site").
    #[test]
    fn a_revocation_stays_in_the_store_it_was_made_in() {
        let (old_store, new_store) = (MemoryStore::new(), MemoryStore::new());
        let (old, new) = (sessions(&old_store), sessions(&new_store));
        block_on(revoke(&old, "alice", None, 7200, NOW)).unwrap();
        assert_eq!(block_on(old.min_issued_at("alice")).unwrap(), Some(NOW + 1));
        assert_eq!(block_on(new.min_issued_at("alice")).unwrap(), None);
        // Revoked again in the new store, as the docs advise.
        block_on(revoke(&new, "alice", None, 7200, NOW + 60)).unwrap();
        assert_eq!(
            block_on(new.min_issued_at("alice")).unwrap(),
            Some(NOW + 61)
        );
    }

    /// A retry of `out`'s change KV refused, each try one second after the one before (from
    /// `at`): how it ended, and how long it waited before each try.
    fn retried<S: Backend>(
        s: &Sessions<S>,
        out: Outcome,
        at: u64,
    ) -> (Result<(), Error>, Vec<u32>) {
        let mut waited = Vec::new();
        let session = out.retry.expect("a change to write again");
        let why = block_on(retry(s, session, |ms| {
            waited.push(ms);
            let now = at + waited.len() as u64;
            async move { now }
        }));
        (why, waited)
    }

    /// Workers KV takes one write per second per key: of two changes of a session within a
    /// second (a double click, two quick calls of one page), the second was refused, logged and
    /// dropped, the origin believing it saved. It is written again after the answer, a little
    /// over a second later; a session with an owner stays linked to it. (Miniflare's local KV,
    /// which the e2e tests run on, enforces no such limit: this is tested here alone.)
    #[test]
    fn a_change_kv_refused_within_its_second_is_written_again() {
        for owner in [None, Some("alice")] {
            let kv = OneWritePerSecond::new(&MemoryStore::new());
            let s = sessions(&kv);
            let login = owner.map(|o| format!(r#"{{"sub":"{o}"}}"#));
            let add = directives(Some(r#"{"cart":["book"]}"#), login.as_deref(), false);
            let (_, _, jar) = request(&s, None, &add, NOW);
            let patch =
                |member: &str| directives(Some(&format!(r#"{{"{member}":1}}"#)), None, false);
            let (_, first, _) = request(&s, jar.as_deref(), &patch("a"), NOW + 5);
            assert_eq!(first.commit, Some(Commit::Written), "{first:?}");
            assert!(first.retry.is_none());
            let (_, second, kept) = request(&s, jar.as_deref(), &patch("b"), NOW + 5);
            assert_eq!(
                (second.commit, &second.warning),
                (None, &None),
                "{second:?}"
            );
            assert_eq!((&second.set_cookie, &kept), (&None, &jar));
            let (written, waited) = retried(&s, second, NOW + 5);
            assert!(written.is_ok(), "{written:?}");
            assert_eq!(waited, vec![KV_RETRY_MS[0]]);
            let (h, out, _) = request(&s, jar.as_deref(), &directives(None, None, false), NOW + 7);
            assert_eq!(data_header(&h), json!({ "cart": ["book"], "a": 1, "b": 1 }));
            assert_eq!(out.commit, Some(Commit::Unchanged));
            if let Some(owner) = owner {
                assert_eq!(block_on(s.revoke_subject(owner)).unwrap(), 1);
            }
        }
    }

    /// A retry never puts older data over newer: once another request changed the session
    /// after the refused change read it (also to the same version, from an older read: KV
    /// checks none), the change is dropped and logged, as before the retry; a session ended
    /// since (a logout) is never brought back.
    #[test]
    fn a_retry_is_dropped_once_the_session_changed_or_ended() {
        let patch = |member: &str| directives(Some(&format!(r#"{{"{member}":1}}"#)), None, false);
        let plan = |member: &str| Plan::from_directives(&patch(member), 4096).unwrap();
        for what in ["changed", "changed from an older read", "ended"] {
            let kv = OneWritePerSecond::new(&MemoryStore::new());
            let s = sessions(&kv);
            let jar = cart(&s);
            let header = format!("__Host-sid={}", jar.clone().unwrap());
            // Read before the first change: its own change lands after the refused one.
            let older = block_on(load(&s, Some(&header), "__Host-sid", NOW + 4));
            request(&s, jar.as_deref(), &patch("a"), NOW + 5);
            let (_, refused, _) = request(&s, jar.as_deref(), &patch("b"), NOW + 5);
            assert!(refused.retry.is_some(), "{what}: {refused:?}");
            let expected = match what {
                "changed" => {
                    request(&s, jar.as_deref(), &patch("c"), NOW + 6);
                    Some(json!({ "cart": ["book"], "a": 1, "c": 1 }))
                }
                "changed from an older read" => {
                    let out = block_on(finish(&s, &settings(), older, &plan("c"), NOW + 6));
                    assert_eq!(out.commit, Some(Commit::Written));
                    Some(json!({ "cart": ["book"], "c": 1 }))
                }
                _ => {
                    request(&s, jar.as_deref(), &directives(None, None, true), NOW + 6);
                    None
                }
            };
            let (why, _) = retried(&s, refused, NOW + 6);
            assert!(matches!(why, Err(Error::Conflict)), "{what}");
            let held = block_on(s.load(jar.as_deref().unwrap(), NOW + 8)).unwrap();
            let held = held.map(|h| Value::Object(h.data().clone()));
            assert_eq!(held, expected, "{what}");
        }
    }

    /// Several requests of one page when the session is due for its touch: the touches
    /// refused in the second are skipped, as before (nothing to write again), and a change
    /// refused because a touch landed first is written again (the touch changed nothing).
    #[test]
    fn a_touch_refused_is_skipped_and_a_change_behind_a_touch_is_written_again() {
        let kv = OneWritePerSecond::new(&MemoryStore::new());
        let s = sessions(&kv);
        let none = directives(None, None, false);
        let jar = cart(&s);
        let header = format!("__Host-sid={}", jar.clone().unwrap());
        let later = NOW + 600;
        let changing = block_on(load(&s, Some(&header), "__Host-sid", later));
        let touches: Vec<Outcome> = (0..3)
            .map(|_| request(&s, jar.as_deref(), &none, later).1)
            .collect();
        assert_eq!(touches[0].commit, Some(Commit::Touched));
        for t in &touches[1..] {
            assert_eq!(t.commit, Some(Commit::Unchanged), "{t:?}");
            assert!(t.retry.is_none() && t.warning.is_none(), "{t:?}");
        }
        let plan = Plan::from_directives(&directives(Some(r#"{"b":1}"#), None, false), 4096);
        let out = block_on(finish(&s, &settings(), changing, &plan.unwrap(), later));
        assert!(retried(&s, out, later).0.is_ok());
        let (h, _, _) = request(&s, jar.as_deref(), &none, later + 2);
        assert_eq!(data_header(&h), json!({ "cart": ["book"], "b": 1 }));
        // Written a version on: created (1), touched (a touch keeps the version), changed.
        let held = block_on(s.load(jar.as_deref().unwrap(), later + 2)).unwrap();
        assert_eq!(held.map(|h| h.version()), Some(2));
    }

    /// The tries to write a refused change again are few: KV refusing every one, the change is
    /// dropped (logged) after the waits of [`KV_RETRY_MS`], each try one write.
    #[test]
    fn a_change_kv_keeps_refusing_is_tried_a_bounded_number_of_times() {
        let kv = OneWritePerSecond::new(&MemoryStore::new());
        let s = sessions(&kv);
        let jar = cart(&s);
        kv.refusing.set(true);
        let (_, refused, _) = request(
            &s,
            jar.as_deref(),
            &directives(Some(r#"{"b":1}"#), None, false),
            NOW + 5,
        );
        let tries = kv.tries.get();
        let (why, waited) = retried(&s, refused, NOW + 5);
        assert_eq!(waited, KV_RETRY_MS.to_vec());
        assert_eq!(kv.tries.get() - tries, KV_RETRY_MS.len());
        assert!(why.is_err_and(|e| rate_limited(&e)));
        kv.refusing.set(false);
        let (h, _, _) = request(&s, jar.as_deref(), &directives(None, None, false), NOW + 9);
        assert_eq!(data_header(&h), json!({ "cart": ["book"] }));
    }

    /// A change that keeps meeting `conflict` is applied again [`CONFLICT_RETRIES`] times, then
    /// given up (logged), not retried for ever: a request's subrequests and time are bounded.
    #[test]
    fn conflicts_are_retried_a_bounded_number_of_times() {
        let store = AlwaysConflict::default();
        let s = sessions(&store);
        let jar = cart(&s);
        let saves = store.saves.get();
        let change = directives(Some(r#"{"b":1}"#), None, false);
        let (_, out, _) = request(&s, jar.as_deref(), &change, NOW + 5);
        assert_eq!(store.saves.get() - saves, 1 + CONFLICT_RETRIES);
        assert_eq!(out.commit, None);
        let warning = out.warning.unwrap_or_default();
        assert!(warning.contains("changed since it was read"), "{warning}");
    }

    /// Of several session-id cookies, the fourth ([`MAX_PRESENTED`]) is still read: three
    /// planted ahead of the visitor's own do not hide it (a fifth is not read).
    #[test]
    fn the_fourth_session_id_cookie_is_still_read() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let own = cart(&s).unwrap();
        assert_eq!(MAX_PRESENTED, 4);
        let four = format!("__Host-sid=j1; __Host-sid=j2; __Host-sid=j3; __Host-sid={own}");
        let mut loaded = block_on(load(&s, Some(&four), "__Host-sid", NOW + 1));
        assert_eq!(
            data_header(&loaded.origin_headers(16_384)),
            json!({ "cart": ["book"] })
        );
        assert_eq!(loaded.presented.as_deref(), Some(own.as_str()));
        let five = format!("__Host-sid=j0; {four}");
        let mut loaded = block_on(load(&s, Some(&five), "__Host-sid", NOW + 1));
        assert_eq!(data_header(&loaded.origin_headers(16_384)), json!({}));
        assert_eq!(loaded.presented.as_deref(), Some("j0"));
    }

    /// Two session-id cookies that both name nothing: neither is cleared (the removal would
    /// reach the gateway's own, which may be either); one alone is.
    #[test]
    fn two_session_id_cookies_naming_nothing_are_not_cleared() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let none = directives(None, None, false);
        let visit = |header: &str| {
            let loaded = block_on(load(&s, Some(header), "__Host-sid", NOW));
            let several = loaded.several;
            let plan = Plan::from_directives(&none, 4096).unwrap();
            (
                several,
                block_on(finish(&s, &settings(), loaded, &plan, NOW)).set_cookie,
            )
        };
        assert_eq!(visit("__Host-sid=junk; __Host-sid=junk2"), (true, None));
        let (several, cleared) = visit("__Host-sid=junk");
        assert!(!several && cleared.unwrap().contains("Max-Age=0"));
        assert_eq!(visit("a=1"), (false, None));
    }

    /// An `x-session-data` as long as the largest data escaped (`max_bytes` bytes, each as
    /// `\u00XX`, in braces: `max_bytes * 6 + 2`) is read; one byte more is refused unread.
    #[test]
    fn a_patch_is_read_up_to_six_times_the_limit_and_two() {
        let max = 10;
        let patch = |n: usize| format!("{{\"x\":\"{}\"}}", "a".repeat(n));
        let longest = patch(max * 6 + 2 - 8);
        assert_eq!(longest.len(), max * 6 + 2);
        let plan = Plan::from_directives(&directives(Some(&longest), None, false), max);
        assert!(plan.unwrap().patch.is_some());
        let over = patch(max * 6 + 2 - 7);
        let refused = Plan::from_directives(&directives(Some(&over), None, false), max);
        assert_eq!(refused, Err("x-session-data is over 10 bytes".into()));
    }

    /// RFC 7386: an object in the patch merges into an object member (its other members kept)
    /// and replaces a member of any other kind (with its `null`s dropped).
    #[test]
    fn a_patch_object_merges_into_an_object_and_replaces_anything_else() {
        let mut data = json!({ "prefs": { "theme": "dark", "lang": "en" }, "n": 1 });
        let patch = json!({ "prefs": { "lang": "fr" }, "n": { "a": 1, "b": null } });
        merge_patch(data.as_object_mut().unwrap(), patch.as_object().unwrap());
        assert_eq!(
            data,
            json!({ "prefs": { "theme": "dark", "lang": "fr" }, "n": { "a": 1 } })
        );
    }

    /// `STORE_MAX_DATA_BYTES` is the most the data may take as the origin receives it, escaped
    /// (`é` as `\u00e9`): data of exactly the limit is stored, of one byte over it refused.
    #[test]
    fn data_of_exactly_the_limit_once_escaped_is_stored() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let patch = r#"{"x":"\u00e9"}"#;
        assert_eq!(patch.len(), 14);
        for (max, stored) in [(14, true), (13, false)] {
            let mut st = settings();
            st.sessions.max_data_bytes = max;
            let loaded = block_on(load(&s, None, "__Host-sid", NOW));
            let plan = Plan::from_directives(&directives(Some(patch), None, false), max).unwrap();
            let out = block_on(finish(&s, &st, loaded, &plan, NOW));
            assert_eq!(out.refused.is_none(), stored, "{max}: {out:?}");
            assert_eq!(
                out.commit == Some(Commit::Created),
                stored,
                "{max}: {out:?}"
            );
        }
        assert_eq!(store.len(), 1);
    }
}
