//! The session manager: [`Sessions`] over any [`Backend`].
//!
//! - **Ids**: 128 random bits (getrandom), carried in a signed cookie (a compact token of
//!   purpose `sid`, `{"sid":"<base64url id>"}`, living until the absolute timeout). The store key
//!   is `s:` and a keyed hash (HMAC-SHA256, 128 bits) of the id: reading the store reveals
//!   neither the id nor the cookie.
//! - **Records** are encrypted at rest ([`super::record`]), the id bound as associated data.
//! - **Lifetimes**: a session ends `idle_timeout_seconds` after its last write, and
//!   `absolute_timeout_seconds` after its creation, whichever comes first.
//! - **Writes**: [`Sessions::commit`] writes when the data or subject changed; an unchanged session
//!   is only rewritten to extend its idle timeout ("touch"), once per `touch_interval_seconds`
//!   by each request that finds it due (requests at once may each write it; Workers KV allows
//!   one write per second per key, and a touch it refuses is skipped). So the idle timeout is
//!   honoured to within one touch interval.
//! - **Consistency**: every write names the version it read; a strongly consistent store refuses a
//!   stale one (`conflict`), and [`Sessions::update`] reloads and retries.
//! - **Security**: [`Sessions::regenerate`] (new id, data moved, old id ended) at login and
//!   privilege changes; [`Sessions::commit`] does it by itself for a stored session whose subject
//!   changed (session fixation: the id the client knew never becomes a logged-in session);
//!   [`Sessions::destroy`] at logout; [`Sessions::revoke_subject`] ends every
//!   session of a user. [`Sessions::revoke_tokens`] keeps a subject's `minIssuedAt` in the same
//!   store (key `r:` and a keyed hash of the subject), so that stateless session tokens can be
//!   revoked too: check [`Sessions::min_issued_at`] after verifying one.
//!
//! The settings, [`SessionConfig`], are in `store/config.rs`; the revocation methods in
//! `store/revocation.rs`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use super::config::SessionConfig;
use super::record::{Record, RecordKeys, ID_BYTES};
use super::{Backend, Entry};
use crate::codec::{b64_decode, b64_encode};
use crate::cookie::MAX_PRESENTED;
use crate::error::{Error, Result};
use crate::keys::{signing_key, KeyRing, MacKey};
use crate::time::UnixTime;
use crate::token::{SessionTokens, TokenConfig};

/// The token purpose of the session-id cookie.
pub const COOKIE_PURPOSE: &str = "sid";

/// What a strongly consistent store held, until it was deleted, for an id
/// [`Sessions::regenerate`] renewed before [`RENEWED`] (never a sealed record, which is
/// base64url): it loads as no session.
const ENDED: &str = "~";

/// What a store holds, for [`RENEWED_SECONDS`], in place of an id [`Sessions::regenerate`]
/// renewed: it loads as no session, but [`Found::Renewed`], whose cookie the gateway does not
/// clear. A request the browser sent before a login's answer, answered after it, would
/// otherwise delete the cookie of the new id (a page's requests around a login).
const RENEWED: &str = "~r";

/// How long a renewed id is told from one that names nothing (KV's shortest time to live).
pub const RENEWED_SECONDS: u64 = 60;

/// What the session-id cookies of a request name (see [`Sessions::find_first`]).
pub(crate) enum Found {
    /// A live session.
    Live(Box<Session>),
    /// An id renewed less than [`RENEWED_SECONDS`] ago.
    Renewed,
    /// Nothing: unknown, ended, expired.
    Nothing,
}

/// The [`RENEWED`] marker of an id, at `version`, from `now` on.
fn renewed(version: u64, now: UnixTime) -> Entry {
    Entry {
        version,
        value: RENEWED.into(),
        expires: now.saturating_add(RENEWED_SECONDS),
    }
}

impl Found {
    fn session(self) -> Option<Session> {
        match self {
            Found::Live(session) => Some(*session),
            Found::Renewed | Found::Nothing => None,
        }
    }
}

/// The longest subject a session is given: a user's id (the gateway's `sub` is at most 1024
/// characters). A write that keeps the data a session holds counts its subject alone (see
/// [`Sessions::commit`]): so bounded, a session holding data at the limit stays under a store
/// value's limit once given its subject.
pub const MAX_SUBJECT_BYTES: usize = 1024;

/// What [`Sessions::commit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Commit {
    /// Nothing: unchanged and touched recently enough (or new and empty).
    Unchanged,
    /// Rewritten unchanged, to extend the idle timeout.
    Touched,
    /// Written with changes.
    Written,
    /// Stored for the first time: send [`Session::cookie`].
    Created,
}

/// One session, as loaded (or newly made) for a request. Change it, then
/// [`Sessions::commit`] it. `Debug` shows its record (data, subject, times), never its id or
/// signed cookie.
#[derive(Clone)]
pub struct Session {
    id: [u8; ID_BYTES],
    key: String,
    record: Record,
    /// 0 until stored.
    version: u64,
    /// The data and subject as stored, to tell whether anything changed.
    stored: Option<(Map<String, Value>, Option<String>)>,
    /// The subject this session is linked to in the store's index.
    linked: Option<String>,
    /// The signed cookie value for this id.
    token: String,
    /// The client does not know this id yet.
    fresh: bool,
}

/// Without the id and its signed cookie value: a bearer credential, with which whoever reads a
/// log line of `{:?}` (or `dbg!`) would have the session.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("record", &self.record)
            .field("version", &self.version)
            .field("fresh", &self.fresh)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The data (a JSON object).
    pub fn data(&self) -> &Map<String, Value> {
        &self.record.data
    }

    /// The data, to change.
    pub fn data_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.record.data
    }

    /// One value of the data.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.record.data.get(name)
    }

    /// Sets one value of the data.
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        self.record.data.insert(name.into(), value);
    }

    /// Removes one value of the data.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.record.data.remove(name)
    }

    /// Whose session this is, once set.
    pub fn subject(&self) -> Option<&str> {
        self.record.subject.as_deref()
    }

    /// Sets (or clears) whose session this is; [`Sessions::revoke_subject`] finds it by this.
    /// When it changes on a stored session the client knows (a login, a switch of user, a
    /// logout that keeps the session), [`Sessions::commit`] gives the session a new id, as
    /// [`Sessions::regenerate`] does (call that yourself at other changes of privilege).
    pub fn set_subject(&mut self, subject: Option<String>) {
        self.record.subject = subject;
    }

    /// When the session was created.
    pub fn created(&self) -> UnixTime {
        self.record.created
    }

    /// When the session was last written.
    pub fn touched(&self) -> UnixTime {
        self.record.touched
    }

    /// The stored version: 0 until the session is first stored, one more at every change (a
    /// touch keeps it).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// True until the session is stored.
    pub fn is_new(&self) -> bool {
        self.version == 0
    }

    /// For an `update`'s loads: `conflict` when this one is new and the first (`stored`, kept
    /// on the first call) was a stored session: another request ended it meanwhile.
    pub(crate) fn ended_since(&self, stored: &mut Option<bool>) -> Result<()> {
        if *stored.get_or_insert(!self.is_new()) && self.is_new() {
            return Err(Error::Conflict);
        }
        Ok(())
    }

    /// The cookie value to send, when the client does not know this session's id yet (created
    /// or regenerated, by [`Sessions::regenerate`] or by a commit that changed its subject, and
    /// stored); `None` otherwise.
    pub fn cookie(&self) -> Option<&str> {
        (self.fresh && self.version > 0).then_some(self.token.as_str())
    }

    /// The signed cookie value of this session's id (the one it was loaded with).
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The key under which the store holds this session (a keyed hash of the id).
    pub fn store_key(&self) -> &str {
        &self.key
    }

    /// Whether a commit of it writes its own entry alone: a stored session the client knows, of
    /// the subject it was loaded with (no new id, which a commit gives a session whose subject
    /// changed).
    pub(crate) fn in_place(&self) -> bool {
        !self.fresh
            && self.version > 0
            && self
                .stored
                .as_ref()
                .is_some_and(|(_, subject)| *subject == self.record.subject)
    }

    /// Whether this session holds other data or another subject than `other` does.
    fn changed_from(&self, other: &Session) -> bool {
        self.record.data != other.record.data || self.record.subject != other.record.subject
    }

    fn changed(&self) -> bool {
        match &self.stored {
            Some((data, subject)) => *data != self.record.data || *subject != self.record.subject,
            None => !self.record.data.is_empty() || self.record.subject.is_some(),
        }
    }

    /// Takes `done`, the session an operation (a commit, a regenerate) worked on: a copy of this
    /// one taken when it began, of store key `key` (the JavaScript `Session`, which other calls
    /// can change while the operation awaits the store). What was set on this session meanwhile
    /// (data, subject) stays, as changes for the next commit. Unless this session became another
    /// one meanwhile (`destroy`, a logout: the ended session never comes back in it; or another
    /// `regenerate`): then it stays as it is. Nor when `done` is older than this session: two
    /// commits of it at once, the second a `conflict` (the first saved the version both began
    /// with), left it at that version, behind the store, and every later commit of it was a
    /// `conflict` too; it keeps what the first stored. A regenerate's new id is always taken.
    #[cfg(any(test, feature = "store"))]
    pub(crate) fn settle(&mut self, key: &str, mut done: Session) {
        if self.key == key && (done.key != key || done.version >= self.version) {
            done.record.data = std::mem::take(&mut self.record.data);
            done.record.subject = self.record.subject.take();
            *self = done;
        }
    }
}

/// Sessions in a store: see the [module docs](self).
pub struct Sessions<S> {
    pub(super) store: S,
    config: SessionConfig,
    cookie: SessionTokens,
    records: RecordKeys,
    /// Per key id: the key of the store-key hash, and of the subject-tag hash.
    pub(super) hashes: Vec<(String, MacKey, MacKey)>,
}

impl<S> std::fmt::Debug for Sessions<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("config", &self.config)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct SidClaims {
    sid: String,
}

impl<S: Backend> Sessions<S> {
    /// Sessions in `store`, with keys derived from `ring` (the first key signs and seals).
    pub fn new(store: S, ring: &KeyRing, config: SessionConfig) -> Result<Self> {
        config.check()?;
        let mut tokens = TokenConfig::new(Vec::new());
        tokens.purpose = COOKIE_PURPOSE.into();
        tokens.ttl_seconds = config.absolute_timeout();
        // An id cookie lives to its session's absolute deadline, from a `created` a server
        // whose clock runs ahead may have set: longer than the timeout, by the skew.
        tokens.max_lifetime_seconds = Some(crate::time::MAX_TTL);
        let cookie = SessionTokens::with_keyring(ring, tokens)?;
        let records = RecordKeys::new(ring, &config.purpose);
        let ids = ring.mac_keys(&format!("store-key:{}", config.purpose));
        let subjects = ring.mac_keys(&format!("store-subject:{}", config.purpose));
        let hashes = ids
            .into_iter()
            .zip(subjects)
            .map(|((id, k), (_, s))| (id, k, s))
            .collect();
        Ok(Sessions {
            store,
            config,
            cookie,
            records,
            hashes,
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// A new, empty session with a fresh id; nothing is stored until it holds something.
    pub fn new_session(&self, now: UnixTime) -> Result<Session> {
        let id = random_id()?;
        let (key, token) = self.identify(&id, now, now)?;
        Ok(Session {
            id,
            key,
            record: Record::new(Map::new(), now),
            version: 0,
            stored: None,
            linked: None,
            token,
            fresh: true,
        })
    }

    /// The session named by `cookie`: `Ok(None)` when it is unknown, ended (expired, destroyed,
    /// revoked) or past its lifetime; typed errors for a bad cookie (`bad_signature`, `expired`,
    /// `malformed`...), a record that does not open (`bad_signature`, `malformed`,
    /// `unknown_key`) and a failing store (`store_unavailable`).
    pub async fn load(&self, cookie: &str, now: UnixTime) -> Result<Option<Session>> {
        self.find(cookie, now).await.map(Found::session)
    }

    /// What `cookie` names: [`Sessions::load`], telling a renewed id from one that names nothing.
    async fn find(&self, cookie: &str, now: UnixTime) -> Result<Found> {
        let verified = self.cookie.verify_detailed::<SidClaims>(cookie, now)?;
        let id: [u8; ID_BYTES] = b64_decode(&verified.claims.sid)?
            .try_into()
            .map_err(|_| Error::Malformed("session id length"))?;
        let key = self.store_key(&verified.key_id, &id)?;
        let Some(entry) = self.store.load(&key).await? else {
            return Ok(Found::Nothing);
        };
        if entry.value == RENEWED && now <= entry.expires {
            return Ok(Found::Renewed);
        }
        if entry.value == ENDED || entry.value == RENEWED {
            return Ok(Found::Nothing);
        }
        let record = self.records.open(&id, entry.version, &entry.value)?.record;
        if now > self.deadline(&record) {
            // Not deleted: the store forgets it by itself a second after its deadline, and a
            // delete compares nothing, so it could end the session another request renewed
            // since this read (on KV, a location's cached read up to a minute old).
            return Ok(Found::Nothing);
        }
        Ok(Found::Live(Box::new(Session {
            id,
            key,
            stored: Some((record.data.clone(), record.subject.clone())),
            linked: record.subject.clone(),
            record,
            version: entry.version,
            token: cookie.to_owned(),
            fresh: false,
        })))
    }

    /// The session named by the first of `cookies` (a request's session-id cookies of one name,
    /// in the order it sent them; only the first [`MAX_PRESENTED`] are tried) that names a live
    /// one. A name without the `__Host-` prefix can be set by a sibling subdomain or a page
    /// without HTTPS, with a longer path, which browsers send first: read alone, that planted
    /// cookie would hide the client's own session. When none names a live session: `Ok(None)`
    /// when one was a valid cookie (of a session unknown or ended), otherwise the first one's
    /// error, as [`Sessions::load`] gives them; a failing store is an error at once
    /// (`store_unavailable`).
    pub async fn load_first<'c>(
        &self,
        cookies: impl IntoIterator<Item = &'c str>,
        now: UnixTime,
    ) -> Result<Option<Session>> {
        self.find_first(cookies, now).await.map(Found::session)
    }

    /// [`Sessions::load_first`], telling an id renewed ([`Found::Renewed`], of any of `cookies`
    /// when none names a live session) from ids that name nothing.
    pub(crate) async fn find_first<'c>(
        &self,
        cookies: impl IntoIterator<Item = &'c str>,
        now: UnixTime,
    ) -> Result<Found> {
        let mut refused = None;
        let mut ended = None;
        for cookie in cookies.into_iter().take(MAX_PRESENTED) {
            match self.find(cookie, now).await {
                Ok(Found::Live(session)) => return Ok(Found::Live(session)),
                Ok(Found::Renewed) => ended = Some(Found::Renewed),
                Ok(Found::Nothing) => {
                    ended.get_or_insert(Found::Nothing);
                }
                Err(e @ Error::StoreUnavailable(_)) => return Err(e),
                Err(e) => {
                    refused.get_or_insert(e);
                }
            }
        }
        match (refused, ended) {
            (_, Some(found)) => Ok(found),
            (Some(e), None) => Err(e),
            (None, None) => Ok(Found::Nothing),
        }
    }

    /// The session named by `cookie`, or a new one when there is no cookie, or it names nothing
    /// valid (bad cookie, unknown or ended session, a record that does not open). Only a failing
    /// store is an error (`store_unavailable`).
    pub async fn load_or_new(&self, cookie: Option<&str>, now: UnixTime) -> Result<Session> {
        self.load_first_or_new(cookie, now).await
    }

    /// The session named by the first of `cookies` that names a live one (see
    /// [`Sessions::load_first`]), or a new one. Only a failing store is an error
    /// (`store_unavailable`).
    pub async fn load_first_or_new<'c>(
        &self,
        cookies: impl IntoIterator<Item = &'c str>,
        now: UnixTime,
    ) -> Result<Session> {
        Ok(self.load_or_renewed(cookies, now).await?.0)
    }

    /// [`Sessions::load_first_or_new`], and whether its new session stands for an id a login
    /// renewed less than [`RENEWED_SECONDS`] ago ([`Found::Renewed`]): the request was sent
    /// before another of its browser logged in, which has the new id's cookie by now.
    pub(crate) async fn load_or_renewed<'c>(
        &self,
        cookies: impl IntoIterator<Item = &'c str>,
        now: UnixTime,
    ) -> Result<(Session, bool)> {
        match self.find_first(cookies, now).await {
            Ok(Found::Live(session)) => Ok((*session, false)),
            Err(e @ Error::StoreUnavailable(_)) => Err(e),
            found => Ok((self.new_session(now)?, matches!(found, Ok(Found::Renewed)))),
        }
    }

    /// Stores the session's changes: written when its data or subject changed, touched when
    /// unchanged for `touch_interval_seconds`, otherwise nothing. `conflict` when a strongly
    /// consistent store holds a newer version (another request's change) or none (ended): the
    /// session is left as it was (reload, redo). A touch keeps the version, and so never makes
    /// another request's commit a `conflict`. On any error the session is left as it was: a
    /// new one has no [`Session::cookie`]. A touch that another request's write beat (several
    /// requests of one page at once) is [`Commit::Unchanged`]: that write extended the session,
    /// or ended it. On Workers KV (one write per second per key) that is a touch refused in the
    /// second of another write; on a strongly consistent store, one a version behind.
    ///
    /// A stored session whose client knows its id, given another subject than it was loaded
    /// with (a login without [`Sessions::regenerate`], a switch to another user, a subject
    /// cleared), is regenerated ([`Commit::Written`]): a new id, the data and pending changes
    /// moved, the old id ended, the `conflict` of `regenerate` on a strongly consistent store.
    /// Send [`Session::cookie`]. An id nobody knew yet (a new session, one regenerated in this
    /// request) is kept.
    pub async fn commit(&self, session: &mut Session, now: UnixTime) -> Result<Commit> {
        // Session fixation: the id the client knew (perhaps planted) never becomes the session
        // of another subject. `regenerate` changes the session only once it succeeded.
        let known = !session.fresh && session.version > 0;
        if known
            && session
                .stored
                .as_ref()
                .is_some_and(|(_, subject)| *subject != session.record.subject)
        {
            self.regenerate(session, now).await?;
            return Ok(Commit::Written);
        }
        let changed = session.changed();
        let outcome = if session.version == 0 {
            if !changed {
                return Ok(Commit::Unchanged);
            }
            Commit::Created
        } else if changed {
            Commit::Written
        } else if now
            >= session
                .record
                .touched
                .saturating_add(self.config.touch_interval())
        {
            Commit::Touched
        } else {
            return self.link(session, now).await.map(|()| Commit::Unchanged);
        };
        let mut record = session.record.clone();
        record.touched = now.max(record.touched);
        // A touch keeps the version: it changes nothing another request could lose, so a
        // change, a login or another touch made to the version it read is no `conflict` (a
        // page's requests at once, the session due for its touch: each of them, one the
        // user's login, failed but the first). A change raises it.
        let version = session.version + u64::from(outcome != Commit::Touched);
        let entry = self.entry(&session.id, version, &record, session.stored.as_ref())?;
        let expected = (session.version > 0).then_some(session.version);
        // A stored session given a new subject (one stored earlier in this request: a known one
        // was regenerated above) is linked to it first on a strongly consistent store: a session
        // stored with a subject it is not linked to stays so (its loads take it as linked), out
        // of reach of the subject's revocation; a revocation between the two ends the session,
        // and the save is a `conflict`. Not on KV, where every write links after the save (a
        // revocation between a link and the save found nothing to end, and the save, last
        // write wins, stored the session no revocation finds).
        let eventual = self.store.consistency() == super::Consistency::Eventual;
        if !eventual && session.version > 0 && session.linked != session.record.subject {
            self.link(session, now).await?;
        }
        if let Err(e) = self.store.save(&session.key, &entry, expected, now).await {
            // A touch beaten by another request's write (of the same page): Workers KV refuses
            // a second write to a key within a second, a strongly consistent store a version
            // behind (`conflict`). That write extended the session as this touch would have
            // (every write sets `touched` to its time), or ended it (a touch would bring it
            // back). Nothing to do.
            let beaten = matches!(e, Error::Conflict) || eventual && super::rate_limited(&e);
            if outcome == Commit::Touched && beaten {
                return Ok(Commit::Unchanged);
            }
            return Err(e);
        }
        let before = (
            session
                .stored
                .replace((record.data.clone(), record.subject.clone())),
            std::mem::replace(&mut session.record, record),
            std::mem::replace(&mut session.version, version),
            session.linked.clone(),
        );
        if eventual {
            // Last write wins: this write may have brought back a session a revocation deleted
            // (with its link) after this request loaded it. Linked again, the next finds it.
            // (Once per commit: KV takes one write per second per key.)
            session.linked = None;
        }
        if let Err(e) = self.link(session, now).await {
            // Not linked to its subject, the session must not be given out (its cookie): a
            // revocation of the subject would never find it, and its later loads take it as
            // linked. Left as it was; a new one, never named, is forgotten.
            (
                session.stored,
                session.record,
                session.version,
                session.linked,
            ) = before;
            if session.version == 0 {
                let _ = self.store.delete(&session.key).await;
            }
            return Err(e);
        }
        Ok(outcome)
    }

    /// Commits `session` again, at `now`, after Workers KV refused its change (one write per
    /// second per key: [`super::rate_limited`]; the gateway tries again in the background a
    /// little over a second later), if the store still holds the data and subject it was loaded
    /// with. Otherwise `Ok(None)`, and nothing is written: another request changed the session
    /// since (its data would be lost under this change, which was made to older data), or ended
    /// it (a logout, a revocation, a login's new id: it never comes back), or it is past its
    /// lifetime. A touch landed meanwhile, which changed nothing, is written over (a new version
    /// on from it), as is this very change (its save landed, the link after it was refused).
    /// Only a change of a stored session the client knows, of the subject it was loaded with
    /// ([`Session::in_place`]), is committed again: its own entry is all the commit writes (a
    /// new id would reach no client now).
    pub(crate) async fn commit_again(
        &self,
        session: &mut Session,
        now: UnixTime,
    ) -> Result<Option<Commit>> {
        if !session.in_place() {
            return Ok(None);
        }
        // Read as a request reads it: none once ended, or past its lifetime. Holding this very
        // change already (its save landed, and the link after it was refused), it is written
        // again, which loses nothing, and linked.
        let held = match self.load(&session.token, now).await? {
            Some(held) if held.stored == session.stored || !held.changed_from(session) => held,
            _ => return Ok(None),
        };
        session.version = held.version;
        session.record.touched = held.record.touched;
        self.commit(session, now).await.map(Some)
    }

    /// Loads the session named by `cookie` (or a new one), applies `change`, commits, and on
    /// `conflict` starts again, up to `retries` more times. A stored session that another
    /// request ended meanwhile (a logout, a revocation, a login's new id) is a `conflict` at
    /// once, never a new session holding this change alone (whose cookie would replace the
    /// login's).
    pub async fn update(
        &self,
        cookie: Option<&str>,
        now: UnixTime,
        retries: usize,
        mut change: impl FnMut(&mut Session),
    ) -> Result<(Session, Commit)> {
        let (mut tries, mut stored) = (0, None);
        loop {
            let mut session = self.load_or_new(cookie, now).await?;
            session.ended_since(&mut stored)?;
            change(&mut session);
            match self.commit(&mut session, now).await {
                Ok(commit) => return Ok((session, commit)),
                Err(Error::Conflict) if tries < retries => {
                    tries += 1;
                    self.store.backoff(tries).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives the session a new id (and cookie): its data, pending changes included, move to the
    /// new id, and the old id is ended (for [`RENEWED_SECONDS`] a marker that loads as no
    /// session), so a cookie known before (session fixation) is worthless. The absolute timeout still counts from the session's creation, so renewing the
    /// id (periodically, or at each change of privilege) never extends a session's life (a login
    /// near its end gets what is left). Call it at login and at any change of privilege. Send
    /// [`Session::cookie`]. On a strongly consistent store, a stored session ended (destroyed,
    /// revoked) or changed by another request since it was loaded is a `conflict`: it never
    /// comes back under the new id (a touch is no change). On any error the session keeps its
    /// id (no cookie to send); a new id the store could not link to the subject is deleted,
    /// never given out. (A store that wrote the old id's ending but whose answer was lost, a
    /// timeout, is no error: the new id holds the session's only copy.)
    pub async fn regenerate(&self, session: &mut Session, now: UnixTime) -> Result<()> {
        let id = random_id()?;
        let (key, token) = self.identify(&id, session.record.created, now)?;
        if session.version > 0 || session.changed() {
            let mut record = session.record.clone();
            record.touched = now.max(record.touched);
            let entry = self.entry(&id, 1, &record, session.stored.as_ref())?;
            // Compare-and-set on the old id first (with what it holds, deleted just after): a
            // session ended since it was loaded (a logout, its user's revocation) or changed by
            // another request is a `conflict`, never brought back under a new id.
            let claim = match (&session.stored, self.store.consistency()) {
                (Some((data, subject)), super::Consistency::Strong) => {
                    let held = Record {
                        data: data.clone(),
                        subject: subject.clone(),
                        ..session.record.clone()
                    };
                    // What the old id holds already, not held to `max_data_bytes` again: a
                    // limit lowered since it was stored would refuse every login of it.
                    Some(self.sealed(&session.id, session.version + 1, &held)?)
                }
                _ => None,
            };
            if let Some(claim) = &claim {
                self.store
                    .save(&session.key, claim, Some(session.version), now)
                    .await?;
                // The old id holds what the session was loaded with, one version on.
                session.version += 1;
            }
            self.store.save(&key, &entry, None, now).await?;
            // Linked to its subject once stored (linked first, a revocation in between dropped
            // the link of the id it found empty, and the save stored a session no revocation
            // finds). A new id the store cannot link is deleted, never given out (its loads
            // would take it as linked), and the old id stays the client's.
            if let Some(subject) = &record.subject {
                if let Err(e) = self.link_key(subject, &key, record.created, now).await {
                    let _ = self.store.delete(&key).await;
                    return Err(e);
                }
            }
            // The old id becomes the `RENEWED` marker (one version on, on a strongly consistent
            // store: past every version a request read).
            let marker = renewed(session.version + 1, now);
            if claim.is_some() {
                // Under the version claimed, by a compare-and-set: a request that wrote the old
                // id since the claim (loaded after it) would otherwise lose its write to the
                // marker, and a logout or revocation of it since would come back under the new
                // id. Then a `conflict`, and the new id, never given out, is deleted.
                let ending = self
                    .store
                    .save(&session.key, &marker, Some(session.version), now);
                if let Err(e) = ending.await {
                    // A marker that landed, its answer lost (a timeout): the old id is ended,
                    // and the new one holds the session's only copy, which goes on.
                    let landed = self.store.load(&session.key).await;
                    if !matches!(&e, Error::StoreUnavailable(_))
                        || !landed.is_ok_and(|held| held.as_ref() == Some(&marker))
                    {
                        let _ = self.store.delete(&key).await;
                        return Err(e);
                    }
                }
            } else if session.version > 0 {
                // Workers KV takes one write per second per key: a session written in the
                // second before its login is deleted instead (its cookie may be cleared).
                match self.store.save(&session.key, &marker, None, now).await {
                    Err(e) if super::rate_limited(&e) => self.store.delete(&session.key).await?,
                    done => done?,
                }
            }
            session.stored = Some((record.data.clone(), record.subject.clone()));
            session.linked = record.subject.clone();
            session.record = record;
            session.version = 1;
        }
        session.id = id;
        session.key = key;
        session.token = token;
        session.fresh = true;
        Ok(())
    }

    /// Ends the session: deletes it from the store at once. Clear the cookie. For a browser's
    /// logout, [`Sessions::end`] is better: the browser's requests in flight are told apart.
    pub async fn destroy(&self, session: Session) -> Result<()> {
        if session.version > 0 {
            self.store.delete(&session.key).await?;
        }
        Ok(())
    }

    /// Ends the session at a logout (and at a login that replaces it, another user's, or its own
    /// user's after a revocation that ended it already): as [`Sessions::destroy`], but the id is
    /// left for a minute as the marker of one renewed, as [`Sessions::regenerate`] leaves it (it
    /// loads as no session). The requests its browser sent before the answer are then told from
    /// ones whose id names nothing, and their answers do not remove the cookie, which by then
    /// may be a login's (in the same answer or the next). Where the marker cannot be written
    /// (changed or written again since it was loaded; on KV, written this second; a store that
    /// refuses writes) the id is deleted.
    pub async fn end(&self, session: Session, now: UnixTime) -> Result<()> {
        if session.version == 0 {
            return Ok(());
        }
        let marker = renewed(session.version + 1, now);
        // Over the version loaded, or, ended already (a revocation deleted it), over nothing.
        for expected in [Some(session.version), None] {
            match self.store.save(&session.key, &marker, expected, now).await {
                Ok(()) => return Ok(()),
                Err(Error::Conflict) => continue,
                Err(_) => break,
            }
        }
        self.store.delete(&session.key).await
    }

    /// Seconds the cookie of `session` should live (`Max-Age`): until its absolute timeout.
    pub fn cookie_max_age(&self, session: &Session, now: UnixTime) -> u64 {
        session
            .record
            .created
            .saturating_add(self.config.absolute_timeout())
            .saturating_sub(now)
    }

    /// The end of `record`'s life if nothing touches it.
    fn deadline(&self, record: &Record) -> UnixTime {
        let idle = record
            .touched
            .saturating_add(self.config.idle_timeout_seconds);
        let absolute = record
            .created
            .saturating_add(self.config.absolute_timeout());
        idle.min(absolute)
    }

    /// `record` sealed as the entry of `id` at `version`, held to `max_data_bytes`: its
    /// subject, and its data unless they are those the session holds already (`held`, its data
    /// and subject as stored: a touch, a login that keeps them), which a limit lowered since
    /// they were stored does not refuse (every touch and login of such a session failed until
    /// it timed out: at the gateway a 502 for each of its requests). A subject it does not hold
    /// already is at most [`MAX_SUBJECT_BYTES`].
    fn entry(
        &self,
        id: &[u8; ID_BYTES],
        version: u64,
        record: &Record,
        held: Option<&(Map<String, Value>, Option<String>)>,
    ) -> Result<Entry> {
        // The subject is stored with the data, and bounded with it: counted with data that
        // changed, or alone when it is new; not at all when both are held (a touch).
        let subject = record.subject.as_ref().map_or(0, String::len);
        let new_subject = held.is_none_or(|(_, held)| *held != record.subject);
        let data = match held {
            Some((held, _)) if *held == record.data => Ok(0),
            _ => serde_json::to_vec(&record.data).map(|j| j.len()),
        };
        let counted = if new_subject || !matches!(data, Ok(0)) {
            subject
        } else {
            0
        };
        let len = data.map_or(usize::MAX, |data| data.saturating_add(counted));
        if len > self.config.max_data_bytes {
            return Err(Error::TooLarge {
                len,
                max: self.config.max_data_bytes,
            });
        }
        if new_subject && subject > MAX_SUBJECT_BYTES {
            return Err(Error::TooLarge {
                len: subject,
                max: MAX_SUBJECT_BYTES,
            });
        }
        self.sealed(id, version, record)
    }

    /// `record` sealed as the entry of `id` at `version`, whatever its size.
    fn sealed(&self, id: &[u8; ID_BYTES], version: u64, record: &Record) -> Result<Entry> {
        Ok(Entry {
            version,
            value: self.records.seal(id, version, record)?,
            expires: self.deadline(record),
        })
    }

    /// Links the session to its subject in the store's index, once per subject.
    async fn link(&self, session: &mut Session, now: UnixTime) -> Result<()> {
        let subject = match &session.record.subject {
            Some(s) if session.version > 0 && session.linked.as_ref() != Some(s) => s.clone(),
            _ => return Ok(()),
        };
        self.link_key(&subject, &session.key, session.record.created, now)
            .await?;
        session.linked = Some(subject);
        Ok(())
    }

    /// Links store key `key` to `subject` in the store's index, until the absolute timeout of
    /// a session created at `created`.
    async fn link_key(
        &self,
        subject: &str,
        key: &str,
        created: UnixTime,
        now: UnixTime,
    ) -> Result<()> {
        let (_, _, mac) = signing_key(&self.hashes)?;
        let tag = b64_encode(&mac.tag(subject.as_bytes()));
        let until = created.saturating_add(self.config.absolute_timeout());
        self.store.link(&tag, key, until, now).await
    }

    /// The store key of `id` under key `kid`, and a cookie for it signed by the current key.
    fn identify(
        &self,
        id: &[u8; ID_BYTES],
        created: UnixTime,
        now: UnixTime,
    ) -> Result<(String, String)> {
        let (kid, _, _) = signing_key(&self.hashes)?;
        let key = self.store_key(kid, id)?;
        let ttl = created
            .saturating_add(self.config.absolute_timeout())
            .saturating_sub(now);
        let token = self.cookie.sign_with_ttl(
            &SidClaims {
                sid: b64_encode(id),
            },
            now,
            ttl.max(1),
        )?;
        Ok((key, token))
    }

    fn store_key(&self, kid: &str, id: &[u8; ID_BYTES]) -> Result<String> {
        let (_, mac, _) = self
            .hashes
            .iter()
            .find(|(k, _, _)| k == kid)
            .ok_or_else(|| Error::unknown_key(kid.as_bytes()))?;
        Ok(format!("s:{}", b64_encode(&mac.tag(id))))
    }
}

fn random_id() -> Result<[u8; ID_BYTES]> {
    let mut id = [0u8; ID_BYTES];
    crate::random::fill(&mut id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Secret;
    use crate::store::memory::{AlwaysConflict, MemoryStore, OneWritePerSecond};
    use futures_executor::block_on;
    use serde_json::json;
    use std::cell::Cell;

    const NOW: UnixTime = 1_800_000_000;

    /// The keyring these tests sign with.
    fn ring() -> KeyRing {
        KeyRing::new(vec![("k1".into(), Secret::new([3u8; 32]).unwrap())]).unwrap()
    }

    /// Sessions over `store` with the default settings.
    fn sessions<S: Backend>(store: S) -> Sessions<S> {
        Sessions::new(store, &ring(), SessionConfig::default()).unwrap()
    }

    /// Sessions over `store` whose data may make at most `max_data_bytes`.
    fn limited<S: Backend>(store: S, max_data_bytes: usize) -> Sessions<S> {
        let config = SessionConfig {
            max_data_bytes,
            ..SessionConfig::default()
        };
        Sessions::new(store, &ring(), config).unwrap()
    }

    /// A new session with `{"cart": ["book"]}` (and `subject`), created in the store at `NOW`.
    fn stored_cart<S: Backend>(s: &Sessions<S>, subject: Option<&str>) -> Session {
        let mut session = s.new_session(NOW).unwrap();
        session.insert("cart", json!(["book"]));
        session.set_subject(subject.map(str::to_owned));
        assert_eq!(
            block_on(s.commit(&mut session, NOW)).unwrap(),
            Commit::Created
        );
        session
    }

    /// A strongly consistent store that writes the renewed-id marker of a `regenerate` and
    /// loses its answer (a timeout), or fails before writing it (`landing` false).
    struct LostMarker {
        inner: MemoryStore,
        landing: bool,
    }

    impl Backend for LostMarker {
        passed_to!(inner; load, delete, link, revoke);
        async fn save(&self, key: &str, e: &Entry, expected: Option<u64>, now: u64) -> Result<()> {
            if e.value != RENEWED {
                return self.inner.save(key, e, expected, now).await;
            }
            if self.landing {
                self.inner.save(key, e, expected, now).await?;
            }
            Err(Error::StoreUnavailable("timed out".into()))
        }
        fn consistency(&self) -> crate::store::Consistency {
            crate::store::Consistency::Strong
        }
    }

    /// A `regenerate` whose marker landed but whose answer was lost goes on under the new id,
    /// which holds the session's only copy (it was deleted, the data lost with the old id
    /// ended); one whose marker did not land fails, and the session keeps its id.
    #[test]
    fn a_regenerate_whose_marker_answer_is_lost_keeps_the_new_id() {
        for landing in [true, false] {
            let store = LostMarker {
                inner: MemoryStore::new(),
                landing,
            };
            let s = sessions(&store);
            let mut session = stored_cart(&s, None);
            let old = session.cookie().unwrap().to_owned();
            let result = block_on(s.regenerate(&mut session, NOW + 1));
            assert_eq!(result.is_ok(), landing, "{result:?}");
            let cookie = session.cookie().unwrap().to_owned();
            assert_eq!(cookie != old, landing);
            let found = block_on(s.load_or_new(Some(&cookie), NOW + 2)).unwrap();
            assert_eq!(
                found.get("cart"),
                Some(&json!(["book"])),
                "landing {landing}"
            );
            let before = block_on(s.load_or_new(Some(&old), NOW + 2)).unwrap();
            assert_eq!(before.is_new(), landing, "landing {landing}");
        }
    }

    /// The cookie of a stored session with `{"cart": ["book"]}`, as an earlier request left it.
    fn stored<S: Backend>(s: &Sessions<S>, subject: Option<&str>) -> String {
        stored_cart(s, subject).cookie().unwrap().to_owned()
    }

    fn load(s: &Sessions<&MemoryStore>, cookie: &str, now: UnixTime) -> Option<Session> {
        block_on(s.load(cookie, now)).unwrap()
    }

    /// Of several session-id cookies (one a sibling subdomain planted ahead of the client's own),
    /// the first of the first four that names a live session; a failing store fails at once.
    #[test]
    fn the_first_of_several_cookies_that_names_a_live_session_is_loaded() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let own = stored(&s, None);
        let ended = stored(&s, None);
        block_on(s.destroy(load(&s, &ended, NOW).unwrap())).unwrap();
        let ring = KeyRing::new(vec![("k1".into(), Secret::new([4u8; 32]).unwrap())]).unwrap();
        let foreign = stored(
            &Sessions::new(&store, &ring, SessionConfig::default()).unwrap(),
            None,
        );
        let (own, ended, foreign) = (own.as_str(), ended.as_str(), foreign.as_str());
        let first = |cookies: &[&str]| block_on(s.load_first(cookies.iter().copied(), NOW + 1));
        for ahead in [&["x"][..], &[foreign], &[ended], &["x", foreign, ended]] {
            let cookies = [ahead, &[own]].concat();
            let found = first(&cookies).unwrap().expect("the client's own session");
            assert_eq!(found.get("cart"), Some(&json!(["book"])), "{ahead:?}");
            let loaded = block_on(s.load_first_or_new(cookies.iter().copied(), NOW + 1));
            assert!(!loaded.unwrap().is_new(), "{ahead:?}");
        }
        let fifth = [ended, ended, ended, ended, own];
        assert!(first(&fifth).unwrap().is_none(), "a fifth is not read");
        assert!(block_on(s.load_first_or_new(fifth, NOW + 1))
            .unwrap()
            .is_new());
        // None live: none when one was valid, else the first one's error.
        assert!(first(&["x", ended]).unwrap().is_none());
        assert!(first(&[]).unwrap().is_none());
        assert_eq!(first(&[foreign, "x"]).unwrap_err(), Error::BadSignature);
        assert_eq!(first(&["x", foreign]).unwrap_err().code(), "malformed");
        store.set_failing(true);
        assert_eq!(first(&[own]).unwrap_err().code(), "store_unavailable");
        let failed = block_on(s.load_first_or_new([own], NOW + 1));
        assert_eq!(failed.unwrap_err().code(), "store_unavailable");
    }

    /// A login done with `subject = ...` and `commit`, no `regenerate` (session fixation: the
    /// id the client, or whoever planted its cookie, knew would be the user's): the commit gives
    /// the session a new id, as `regenerate` does.
    #[test]
    fn a_subject_given_to_a_stored_session_renews_its_id_at_commit() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let planted = stored(&s, None);
        let mut session = load(&s, &planted, NOW + 1).unwrap();
        let old_key = session.store_key().to_owned();
        session.set_subject(Some("alice".into()));
        session.insert("role", json!("admin"));
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 1)).unwrap(),
            Commit::Written
        );
        let renewed = session.cookie().expect("a new cookie to send").to_owned();
        assert_ne!(renewed, planted);
        assert_ne!(session.store_key(), old_key);
        assert!(
            load(&s, &planted, NOW + 2).is_none(),
            "the planted id works"
        );
        let marker = block_on(store.load(&old_key)).unwrap().unwrap();
        assert_eq!((marker.value.as_str(), marker.expires), (RENEWED, NOW + 61));
        assert_eq!(store.len(), 2);
        let moved = load(&s, &renewed, NOW + 2).unwrap();
        assert_eq!(moved.get("cart"), Some(&json!(["book"])));
        assert_eq!(moved.get("role"), Some(&json!("admin")), "pending change");
        assert_eq!(moved.subject(), Some("alice"));
        assert_eq!(moved.created(), NOW, "the absolute timeout is not extended");
        // Committed again in the same request: nothing more, the same cookie.
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 1)).unwrap(),
            Commit::Unchanged
        );
        assert_eq!(session.cookie(), Some(renewed.as_str()));
        // Linked to its subject: "log out everywhere" ends it.
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
        assert!(load(&s, &renewed, NOW + 3).is_none());
    }

    /// Another user (a switch without logout) or no user (a logout that keeps the session)
    /// renews the id too: the id of one user's session never becomes another's.
    #[test]
    fn a_subject_switched_or_cleared_renews_the_id() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let mut cookie = stored(&s, Some("alice"));
        for (i, subject) in [Some("bob"), None, Some("carol")].into_iter().enumerate() {
            let at = NOW + 1 + i as u64;
            let mut session = load(&s, &cookie, at).unwrap();
            session.set_subject(subject.map(str::to_owned));
            assert_eq!(
                block_on(s.commit(&mut session, at)).unwrap(),
                Commit::Written,
                "{subject:?}"
            );
            let renewed = session.cookie().expect("a new cookie").to_owned();
            assert!(load(&s, &cookie, at).is_none(), "{subject:?}: old id works");
            let moved = load(&s, &renewed, at).unwrap();
            assert_eq!(moved.subject(), subject);
            assert_eq!(moved.get("cart"), Some(&json!(["book"])));
            cookie = renewed;
        }
        assert_eq!(
            store.len(),
            4,
            "the session and the markers of its three renewed ids"
        );
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 0);
        assert_eq!(block_on(s.revoke_subject("bob")).unwrap(), 0);
        assert_eq!(block_on(s.revoke_subject("carol")).unwrap(), 1);
    }

    /// The same subject, other data: an ordinary write, under the id the client knows.
    #[test]
    fn the_same_subject_keeps_the_id() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let cookie = stored(&s, Some("alice"));
        let mut session = load(&s, &cookie, NOW + 1).unwrap();
        session.set_subject(Some("alice".into()));
        session.insert("n", json!(1));
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 1)).unwrap(),
            Commit::Written
        );
        assert_eq!(session.cookie(), None);
        assert_eq!(
            load(&s, &cookie, NOW + 2).unwrap().get("n"),
            Some(&json!(1))
        );
    }

    /// A login on a server whose clock runs behind the one that created the session: the new id
    /// cookie lives to the session's absolute deadline, a little longer than the timeout from
    /// that clock's `now`. With an absolute timeout of a week or more (the id cookie's default
    /// longest life), its signing failed with `invalid_config` and so did the login.
    #[test]
    fn a_login_on_a_server_behind_the_creators_clock_renews_the_id() {
        for absolute in [86_400, 7 * 86_400, 30 * 86_400] {
            let store = MemoryStore::new();
            let config = SessionConfig {
                absolute_timeout_seconds: Some(absolute),
                ..SessionConfig::default()
            };
            let s = Sessions::new(&store, &ring(), config).unwrap();
            let cookie = stored(&s, None);
            let mut session = load(&s, &cookie, NOW - 5).unwrap();
            block_on(s.regenerate(&mut session, NOW - 5)).unwrap();
            let renewed = session.cookie().unwrap().to_owned();
            assert!(load(&s, &renewed, NOW).is_some(), "{absolute}");
        }
    }

    /// `remove` takes a value out of the data and gives it back (nothing the second time);
    /// committed, the session is stored without it.
    #[test]
    fn a_removed_value_is_stored_gone() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let cookie = stored(&s, None);
        let mut session = load(&s, &cookie, NOW + 1).unwrap();
        assert_eq!(session.remove("cart"), Some(json!(["book"])));
        assert_eq!(session.remove("cart"), None);
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 1)).unwrap(),
            Commit::Written
        );
        assert!(load(&s, &cookie, NOW + 2).unwrap().data().is_empty());
    }

    /// A session created in this request, then given a subject, on a strongly consistent store
    /// that cannot link it: the commit fails, and the store still holds it without the subject.
    /// Saved first and then not linked, it held the subject unlinked: its loads take it as
    /// linked, and "log out everywhere" never found it.
    #[test]
    fn a_subject_given_after_creation_is_linked_before_the_save() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let mut session = stored_cart(&s, None);
        let cookie = session.cookie().unwrap().to_owned();
        session.set_subject(Some("alice".into()));
        store.set_failing_links(true);
        let failed = block_on(s.commit(&mut session, NOW));
        store.set_failing_links(false);
        assert_eq!(failed.unwrap_err().code(), "store_unavailable");
        assert_eq!(load(&s, &cookie, NOW + 1).unwrap().subject(), None);
        // Committed again once the store links: alice's, and her revocation ends it.
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 1)).unwrap(),
            Commit::Written
        );
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
        assert!(load(&s, &cookie, NOW + 2).is_none());
    }

    /// A session nobody knew the id of (new in this request, or just regenerated) keeps it:
    /// nothing to renew, and no second new id after an explicit `regenerate`.
    #[test]
    fn a_session_the_client_does_not_know_yet_keeps_its_id() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        // New, given a subject: created under its own id.
        let mut session = s.new_session(NOW).unwrap();
        let key = session.store_key().to_owned();
        session.set_subject(Some("alice".into()));
        assert_eq!(
            block_on(s.commit(&mut session, NOW)).unwrap(),
            Commit::Created
        );
        assert_eq!(session.store_key(), key);
        // Created in this request, then given another subject: still its id.
        session.set_subject(Some("bob".into()));
        assert_eq!(
            block_on(s.commit(&mut session, NOW)).unwrap(),
            Commit::Written
        );
        assert_eq!(session.store_key(), key);
        let cookie = session.cookie().unwrap().to_owned();
        assert_eq!(load(&s, &cookie, NOW + 1).unwrap().subject(), Some("bob"));
        // Loaded, logged in with `regenerate`, then committed: one new id, not two.
        let mut session = load(&s, &cookie, NOW + 1).unwrap();
        session.set_subject(Some("carol".into()));
        block_on(s.regenerate(&mut session, NOW + 1)).unwrap();
        let renewed = session.cookie().unwrap().to_owned();
        let writes = store.writes();
        session.insert("n", json!(1));
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 1)).unwrap(),
            Commit::Written
        );
        assert_eq!(session.cookie(), Some(renewed.as_str()));
        assert_eq!(store.writes(), writes + 1);
        let stored = load(&s, &renewed, NOW + 2).unwrap();
        assert_eq!(
            (stored.subject(), stored.get("n")),
            (Some("carol"), Some(&json!(1)))
        );
        assert_eq!(store.len(), 2, "the session and the marker of bob's id");
    }

    /// The renewal at commit is `regenerate`'s: on this strongly consistent store, a session
    /// ended (a logout) or changed by another request since it was loaded is a `conflict`, and
    /// the session is left as it was.
    #[test]
    fn a_login_at_commit_of_a_session_ended_or_changed_meanwhile_is_a_conflict() {
        for ended in [true, false] {
            let store = MemoryStore::new();
            let s = sessions(&store);
            let cookie = stored(&s, None);
            let mut in_flight = load(&s, &cookie, NOW + 1).unwrap();
            let mut other = load(&s, &cookie, NOW + 1).unwrap();
            if ended {
                block_on(s.destroy(other)).unwrap();
            } else {
                other.insert("n", json!(1));
                block_on(s.commit(&mut other, NOW + 1)).unwrap();
            }
            in_flight.set_subject(Some("alice".into()));
            assert_eq!(
                block_on(s.commit(&mut in_flight, NOW + 2)).unwrap_err(),
                Error::Conflict,
                "ended: {ended}"
            );
            assert_eq!(in_flight.cookie(), None);
            assert_eq!(in_flight.version(), 1);
            assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 0);
            assert_eq!(store.len(), usize::from(!ended));
        }
    }

    /// A change, a login at commit and a `regenerate`, each of a session that another request
    /// of the page touched since this one loaded it (on this strongly consistent store, a
    /// version behind: a `conflict`, which failed the request, a login too). The touch changed
    /// nothing and kept the version: the change stored, the login done, the data moved. One
    /// made after another request changed the data is still a `conflict`.
    #[test]
    fn a_change_or_login_after_another_request_only_touched_the_session_succeeds() {
        for how in [
            "change",
            "login at commit",
            "regenerate",
            "change after a change",
        ] {
            let store = MemoryStore::new();
            let s = sessions(&store);
            let cookie = stored(&s, None);
            let later = NOW + 600;
            let mut in_flight = load(&s, &cookie, later).unwrap();
            let mut other = load(&s, &cookie, later).unwrap();
            if how == "change after a change" {
                other.insert("n", json!(1));
                assert_eq!(block_on(s.commit(&mut other, later)), Ok(Commit::Written));
            } else {
                assert_eq!(block_on(s.commit(&mut other, later)), Ok(Commit::Touched));
            }
            in_flight.insert("m", json!(2));
            let done = match how {
                "login at commit" => {
                    in_flight.set_subject(Some("alice".into()));
                    block_on(s.commit(&mut in_flight, later + 1))
                }
                "regenerate" => {
                    block_on(s.regenerate(&mut in_flight, later + 1)).map(|()| Commit::Written)
                }
                _ => block_on(s.commit(&mut in_flight, later + 1)),
            };
            if how == "change after a change" {
                assert_eq!(done, Err(Error::Conflict));
                assert_eq!(load(&s, &cookie, later + 1).unwrap().get("m"), None);
                continue;
            }
            assert_eq!(done, Ok(Commit::Written), "{how}");
            let now_cookie = in_flight.cookie().map_or(cookie.clone(), str::to_owned);
            assert_eq!(
                now_cookie != cookie,
                how != "change",
                "{how}: a new id only at a login"
            );
            let held = load(&s, &now_cookie, later + 1).unwrap();
            assert_eq!(
                (held.get("cart"), held.get("m")),
                (Some(&json!(["book"])), Some(&json!(2))),
                "{how}"
            );
            if how != "change" {
                assert!(
                    load(&s, &cookie, later + 1).is_none(),
                    "{how}: the old id ended"
                );
            }
        }
    }

    /// Two commits of one JavaScript `Session` at once, each on a copy settled back in turn
    /// ([`Session::settle`]): on this strongly consistent store the second is a `conflict`, and
    /// settled back it put the session at the version it began with, older than the store's:
    /// every later commit of it was a `conflict` too, and its changes could never be saved. The
    /// session keeps the version the first stored (whichever settles first) and what was set on
    /// it, and its next commit stores the rest.
    #[test]
    fn the_loser_of_two_commits_at_once_never_takes_the_session_back_to_an_older_version() {
        for loser_first in [false, true] {
            let store = MemoryStore::new();
            let s = sessions(&store);
            let cookie = stored(&s, None);
            let mut session = load(&s, &cookie, NOW + 1).unwrap();
            let key = session.store_key().to_owned();
            session.insert("n", json!(1));
            let mut winner = session.clone();
            session.insert("m", json!(2));
            let mut loser = session.clone();
            assert_eq!(
                block_on(s.commit(&mut winner, NOW + 1)).unwrap(),
                Commit::Written
            );
            assert_eq!(
                block_on(s.commit(&mut loser, NOW + 1)).unwrap_err(),
                Error::Conflict
            );
            if loser_first {
                session.settle(&key, loser);
                session.settle(&key, winner);
            } else {
                session.settle(&key, winner);
                session.settle(&key, loser);
            }
            let what = format!("loser first: {loser_first}");
            assert_eq!(session.version(), 2, "{what}");
            assert_eq!(
                block_on(s.commit(&mut session, NOW + 1)).unwrap(),
                Commit::Written,
                "{what}"
            );
            let kept = load(&s, &cookie, NOW + 2).unwrap();
            assert_eq!(kept.version(), 3, "{what}");
            assert_eq!(
                (kept.get("n"), kept.get("m")),
                (Some(&json!(1)), Some(&json!(2))),
                "{what}"
            );
        }
        // A regenerate settled back takes its new id whatever the version (1) it has there.
        let store = MemoryStore::new();
        let s = sessions(&store);
        let cookie = stored(&s, None);
        let mut session = load(&s, &cookie, NOW + 1).unwrap();
        session.insert("n", json!(1));
        block_on(s.commit(&mut session, NOW + 1)).unwrap();
        let key = session.store_key().to_owned();
        let mut renewed = session.clone();
        block_on(s.regenerate(&mut renewed, NOW + 1)).unwrap();
        session.settle(&key, renewed);
        assert_ne!(session.store_key(), key);
        assert!(session.cookie().is_some());
        assert_eq!(session.version(), 1);
    }

    /// `update` commits the same way: a change that sets the subject gives the session a new
    /// id, and the session it resolves to has the cookie to send.
    #[test]
    fn update_setting_a_subject_renews_the_id() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let cookie = stored(&s, None);
        let (session, commit) = block_on(s.update(Some(&cookie), NOW + 1, 3, |s| {
            s.set_subject(Some("alice".into()));
        }))
        .unwrap();
        assert_eq!(commit, Commit::Written);
        let renewed = session.cookie().unwrap();
        assert!(load(&s, &cookie, NOW + 2).is_none());
        assert_eq!(load(&s, renewed, NOW + 2).unwrap().subject(), Some("alice"));
    }

    /// `update` of a session that another request's login (`regenerate`) ended while the change
    /// was made: `conflict`, never a new session holding this change alone, whose cookie would
    /// replace the login's (the retry's load finds the old id ended).
    #[test]
    fn update_of_a_session_ended_meanwhile_is_a_conflict() {
        use std::task::{Context, Poll, Waker};
        /// What a future of the memory store gives: ready at once (no executor in an executor).
        fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
            match std::pin::pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(out) => out,
                Poll::Pending => panic!("the memory store's futures are ready at once"),
            }
        }
        let store = MemoryStore::new();
        let s = sessions(&store);
        let cookie = stored(&s, None);
        let mut raced = false;
        let e = block_on(s.update(Some(&cookie), NOW + 1, 3, |session| {
            if !std::mem::replace(&mut raced, true) {
                // The login, in another request, between this load and its commit.
                let mut other = ready(s.load(&cookie, NOW + 1)).unwrap().unwrap();
                ready(s.regenerate(&mut other, NOW + 1)).unwrap();
            }
            session.insert("n", json!(2));
        }))
        .unwrap_err();
        assert_eq!(e, Error::Conflict);
        assert!(load(&s, &cookie, NOW + 2).is_none());
        // A cookie that named nothing from the start still gets a new session.
        let (session, commit) = block_on(s.update(Some(&cookie), NOW + 2, 3, |s| {
            s.insert("n", json!(1));
        }))
        .unwrap();
        assert_eq!(
            (commit, session.get("n")),
            (Commit::Created, Some(&json!(1)))
        );
    }

    /// `regenerate`, and so a login at commit, when the store cannot link the session to its
    /// subject: it fails and leaves everything as it was, the old id still the client's. It
    /// stored the new id first, deleted the old one, then failed to link: the session had the
    /// new cookie to give out, for a session "log out everywhere" would never find (its loads
    /// take it as linked), and the client's own session was gone.
    #[test]
    fn a_new_id_the_store_cannot_link_is_not_given_out() {
        for login_at_commit in [false, true] {
            let store = MemoryStore::new();
            let s = sessions(&store);
            let cookie = stored(&s, None);
            let mut session = load(&s, &cookie, NOW + 1).unwrap();
            let key = session.store_key().to_owned();
            session.set_subject(Some("alice".into()));
            let login = |session: &mut Session, at| {
                if login_at_commit {
                    block_on(s.commit(session, at)).map(drop)
                } else {
                    block_on(s.regenerate(session, at))
                }
            };
            store.set_failing_links(true);
            let failed = login(&mut session, NOW + 1);
            store.set_failing_links(false);
            assert_eq!(failed.unwrap_err().code(), "store_unavailable");
            assert_eq!(session.cookie(), None, "at commit: {login_at_commit}");
            assert_eq!(session.store_key(), key);
            assert_eq!(store.len(), 1);
            let kept = load(&s, &cookie, NOW + 2).expect("the client's session is kept");
            assert_eq!(kept.subject(), None);
            assert_eq!(kept.get("cart"), Some(&json!(["book"])));
            // Once the store links again, the login works.
            login(&mut session, NOW + 2).unwrap();
            assert!(session.cookie().is_some(), "at commit: {login_at_commit}");
            assert!(load(&s, &cookie, NOW + 2).is_none());
            assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
        }
    }

    /// A store on which "log out everywhere" of the subject a session was just linked to runs
    /// right before that session's first save (a revocation concurrent with a login).
    struct RevokedBeforeFirstSave<'a> {
        inner: &'a MemoryStore,
        subject: std::cell::RefCell<Option<String>>,
    }

    impl Backend for RevokedBeforeFirstSave<'_> {
        passed_to!(inner; load, delete, revoke, consistency);
        async fn save(&self, key: &str, e: &Entry, expected: Option<u64>, now: u64) -> Result<()> {
            let subject = expected.map_or_else(|| self.subject.borrow_mut().take(), |_| None);
            if let Some(subject) = subject {
                self.inner.revoke(&subject).await?;
            }
            self.inner.save(key, e, expected, now).await
        }
        async fn link(&self, subject: &str, key: &str, until: u64, now: u64) -> Result<()> {
            *self.subject.borrow_mut() = Some(subject.to_owned());
            self.inner.link(subject, key, until, now).await
        }
    }

    /// A login (`regenerate`) while the user is revoked everywhere: whatever the order, the
    /// session it stores is linked to its user, so that the next "log out everywhere" ends it.
    /// The new id was linked before it was stored: the revocation in between found nothing
    /// there and dropped the link, then the save stored a session no revocation could find.
    #[test]
    fn a_login_concurrent_with_a_revocation_stays_revocable() {
        for login_at_commit in [false, true] {
            let store = MemoryStore::new();
            let racing = RevokedBeforeFirstSave {
                inner: &store,
                subject: Default::default(),
            };
            let s = sessions(&racing);
            let cookie = stored(&s, None);
            let mut session = block_on(s.load(&cookie, NOW + 1)).unwrap().unwrap();
            session.set_subject(Some("alice".into()));
            if login_at_commit {
                block_on(s.commit(&mut session, NOW + 1)).unwrap();
            } else {
                block_on(s.regenerate(&mut session, NOW + 1)).unwrap();
            }
            let renewed = session.cookie().unwrap().to_owned();
            if block_on(s.load(&renewed, NOW + 2)).unwrap().is_none() {
                continue; // Ended by the revocation: fine too.
            }
            assert_eq!(
                block_on(s.revoke_subject("alice")).unwrap(),
                1,
                "{login_at_commit}"
            );
            assert!(block_on(s.load(&renewed, NOW + 3)).unwrap().is_none());
        }
    }

    /// A subject given to a session is at most `MAX_SUBJECT_BYTES`: a login that keeps the data
    /// a session holds counts its subject alone, and a subject as large as the data limit made
    /// an entry of twice the limit (174,868 bytes at 65536: over a Durable Object's 128 KiB
    /// value). A login within that bound still keeps data at the limit.
    #[test]
    fn a_subject_given_is_an_id_not_more_data() {
        let store = MemoryStore::new();
        let ring = ring();
        let config = SessionConfig {
            max_data_bytes: 65_536,
            ..SessionConfig::default()
        };
        let s = Sessions::new(&store, &ring, config).unwrap();
        let full = || {
            let mut session = s.new_session(NOW).unwrap();
            // `{"cart":"…"}`: the data's JSON at the limit exactly.
            session.insert("cart", json!("x".repeat(65_536 - 11)));
            block_on(s.commit(&mut session, NOW)).unwrap();
            load(&s, session.cookie().unwrap(), NOW + 1).unwrap()
        };
        for (len, fits) in [(MAX_SUBJECT_BYTES, true), (MAX_SUBJECT_BYTES + 1, false)] {
            for login_at_commit in [false, true] {
                let mut session = full();
                session.set_subject(Some("a".repeat(len)));
                let login = if login_at_commit {
                    block_on(s.commit(&mut session, NOW + 1)).map(drop)
                } else {
                    block_on(s.regenerate(&mut session, NOW + 1))
                };
                match login {
                    Ok(()) => {
                        assert!(fits, "a subject of {len} bytes");
                        // Its entry stays under a Durable Object's 128 KiB value.
                        let entry = block_on(store.load(&session.key)).unwrap().unwrap();
                        let bytes = entry.to_json().len();
                        assert!(bytes < 128 * 1024, "{bytes}");
                    }
                    Err(e) => {
                        assert!(!fits, "{len}: {e}");
                        assert_eq!(e.to_string(), format!("input of {len} bytes exceeds the limit of {MAX_SUBJECT_BYTES} bytes"));
                    }
                }
            }
        }
    }

    /// A login that leaves the data behind (cleared, or smaller) after `max_data_bytes` was
    /// lowered below what the session holds: the compare-and-set on the old id re-seals what
    /// it holds, one version on, and that was held to the new limit too, so that every login
    /// of the session failed with `too_large` though the new id's data fit.
    #[test]
    fn a_login_is_not_held_to_a_limit_on_the_data_it_leaves_behind() {
        let store = MemoryStore::new();
        let before = sessions(&store);
        let s = limited(&store, 64);
        for login_at_commit in [false, true] {
            let mut session = before.new_session(NOW).unwrap();
            session.insert("cart", json!("x".repeat(100)));
            block_on(before.commit(&mut session, NOW)).unwrap();
            let cookie = session.cookie().unwrap().to_owned();
            let mut session = load(&s, &cookie, NOW + 1).unwrap();
            session.data_mut().clear();
            session.set_subject(Some("alice".into()));
            let login = if login_at_commit {
                block_on(s.commit(&mut session, NOW + 1)).map(drop)
            } else {
                block_on(s.regenerate(&mut session, NOW + 1))
            };
            login.unwrap_or_else(|e| panic!("at commit: {login_at_commit}: {e}"));
            let renewed = session.cookie().unwrap();
            assert_eq!(load(&s, renewed, NOW + 2).unwrap().subject(), Some("alice"));
            assert!(load(&s, &cookie, NOW + 2).is_none());
        }
        // A session that holds more than the limit lowered since is touched, and a login that
        // keeps its data renews it (every touch and login of it was `too_large`); a change of
        // its data is held to the limit.
        let mut session = before.new_session(NOW).unwrap();
        session.insert("cart", json!("x".repeat(100)));
        block_on(before.commit(&mut session, NOW)).unwrap();
        let cookie = session.cookie().unwrap().to_owned();
        let mut session = load(&s, &cookie, NOW + 600).unwrap();
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 600)),
            Ok(Commit::Touched)
        );
        session.set_subject(Some("bob".into()));
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 601)),
            Ok(Commit::Written)
        );
        let mut session = load(&s, session.cookie().unwrap(), NOW + 602).unwrap();
        assert_eq!(session.subject(), Some("bob"));
        session.insert("more", json!(1));
        let grown = block_on(s.commit(&mut session, NOW + 602));
        assert_eq!(grown.unwrap_err().code(), "too_large");
        // The new id's own data is held to the limit, as before.
        let mut session = s.new_session(NOW).unwrap();
        session.insert("cart", json!("x".repeat(100)));
        assert_eq!(
            block_on(s.regenerate(&mut session, NOW))
                .unwrap_err()
                .code(),
            "too_large"
        );
    }

    /// The subject is stored with the data and counts in `max_data_bytes` with it: a subject
    /// of any length made a record of any size (a Durable Object refuses a value over 128 KiB
    /// with an error of its own, and KV stored it).
    #[test]
    fn the_subject_counts_in_max_data_bytes() {
        let store = MemoryStore::new();
        let s = limited(&store, 64);
        // `{"cart":["book"]}` is 17 bytes of JSON: 47 left for the subject.
        for (len, fits) in [(47, true), (48, false), (100_000, false)] {
            let mut session = s.new_session(NOW).unwrap();
            session.insert("cart", json!(["book"]));
            session.set_subject(Some("a".repeat(len)));
            match block_on(s.commit(&mut session, NOW)) {
                Ok(commit) => assert!(fits, "{len}: {commit:?}"),
                Err(e) => {
                    assert!(!fits, "{len}: {e}");
                    assert_eq!(e.code(), "too_large");
                    assert_eq!(
                        e.to_string(),
                        format!("input of {} bytes exceeds the limit of 64 bytes", 17 + len)
                    );
                }
            }
        }
        assert_eq!(store.len(), 1);
    }

    /// `max_data_bytes` lowered below the subject a session holds (a user's id longer than the
    /// new limit): its touches go on, as for data over the limit, since a touch changes neither.
    /// The subject was counted alone, and every touch was `too_large` (at the gateway, a 502 in
    /// place of the origin's answer for each request due for a touch), until the session ended.
    #[test]
    fn a_touch_is_not_held_to_a_limit_lowered_below_the_subject_it_holds() {
        let store = MemoryStore::new();
        let before = sessions(&store);
        let s = limited(&store, 40);
        let cookie = stored(&before, Some(&"u".repeat(50)));
        let mut session = load(&s, &cookie, NOW + 600).unwrap();
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 600)),
            Ok(Commit::Touched)
        );
        // A change of its data is held to the limit, the subject counted with it.
        session.insert("more", json!(1));
        let grown = block_on(s.commit(&mut session, NOW + 601));
        assert_eq!(grown.unwrap_err().code(), "too_large");
    }

    /// A commit never stores a session that no load can read: data nested deeper than the
    /// record's JSON reader takes (`session.set(name, value)` of a value itself as deep as JSON
    /// reads, 127 levels) is refused, `invalid_claims`, and nothing is written; the stored
    /// session loads as before. It was written (`Written`), and every load of it was
    /// `malformed`: a new, empty session in its place.
    #[test]
    fn data_nested_too_deep_is_refused_at_commit() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let cookie = stored(&s, None);
        let mut session = load(&s, &cookie, NOW + 1).unwrap();
        let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
        session.insert("deep", serde_json::from_str(&deep).unwrap());
        let writes = store.writes();
        let refused = block_on(s.commit(&mut session, NOW + 1)).unwrap_err();
        assert_eq!(refused.code(), "invalid_claims");
        assert_eq!(store.writes(), writes);
        let held = load(&s, &cookie, NOW + 2).expect("the stored session still loads");
        assert_eq!(held.get("cart"), Some(&json!(["book"])));
    }

    /// `Debug` of a session (a `{:?}` in a log line, `dbg!`) shows its data, never its signed
    /// session-id cookie: a bearer credential, with which whoever reads the log has the session.
    #[test]
    fn debug_shows_no_cookie() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let cookie = stored(&s, Some("alice"));
        let fresh = {
            let mut session = s.new_session(NOW).unwrap();
            session.insert("n", json!(1));
            block_on(s.commit(&mut session, NOW)).unwrap();
            session
        };
        for session in [load(&s, &cookie, NOW + 1).unwrap(), fresh] {
            let token = session.token().to_owned();
            let shown = format!("{session:?}");
            let tag = token.rsplit('.').next().unwrap();
            assert!(!shown.contains(&token) && !shown.contains(tag), "{shown}");
            let id: String = session.id.iter().map(|b| format!("{b}, ")).collect();
            assert!(!shown.contains(id.trim_end_matches(", ")), "{shown}");
            assert!(shown.contains("Session"), "{shown}");
        }
    }

    /// `Debug` of the manager (a `{:?}` of an app's state) shows its settings and the ids of its
    /// keys, for a log to tell which store it is; not its signing and hashing keys.
    #[test]
    fn debug_of_sessions_shows_the_settings_and_key_ids() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let shown = format!("{s:?}");
        assert!(shown.starts_with("Sessions {"), "{shown}");
        assert!(shown.contains(&format!("{:?}", s.config())), "{shown}");
        assert!(shown.contains(r#"key_ids: ["k1"]"#), "{shown}");
        assert!(
            !shown.contains("hashes") && !shown.contains("cookie"),
            "{shown}"
        );
    }

    /// The frozen vectors of tests/vectors/store.json: the session-id cookie and the store key
    /// this version writes for an id, the entry as the store keeps it, the subject's tag its
    /// links are read under, and the revocation record. What an earlier version wrote (the
    /// entry of tests/vectors/record.json under that key, a link under that tag, a revocation
    /// under that key) is found: a change to any of them must be deliberate, as it loses every
    /// stored session (or revocation) of the version it replaces while both run.
    #[test]
    fn frozen_store_vectors() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/store.json")).unwrap();
        let record: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/record.json")).unwrap();
        let record = &record["open"][0];
        let configs: Vec<crate::KeyConfig> = serde_json::from_value(v["keys"].clone()).unwrap();
        let ring = KeyRing::from_config(&configs).unwrap();
        let config: SessionConfig = serde_json::from_value(v["config"].clone()).unwrap();
        let store = MemoryStore::new();
        let s = Sessions::new(&store, &ring, config).unwrap();
        let text = |name: &str| v[name].as_str().unwrap().to_owned();
        let hex = text("idHex");
        let id: [u8; ID_BYTES] = (0..ID_BYTES)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
            .try_into()
            .unwrap();
        assert_eq!(hex, record["idHex"]);
        let (created, now) = (v["created"].as_u64().unwrap(), v["now"].as_u64().unwrap());

        // Written: the id's store key and cookie.
        let (key, cookie) = s.identify(&id, created, now).unwrap();
        assert_eq!(
            (key.as_str(), cookie.as_str()),
            (&*text("storeKey"), &*text("idCookie"))
        );

        // Read: the record vector's entry under that key, named by that cookie.
        let entry = Entry::from_json(&text("entry")).unwrap();
        assert_eq!(entry.to_json(), text("entry"));
        assert_eq!(entry.value, record["sealed"].as_str().unwrap());
        assert_eq!(entry.version, record["version"].as_u64().unwrap());
        block_on(store.save(&key, &entry, None, now)).unwrap();
        let session = load(&s, &cookie, now).expect("the entry an earlier version wrote");
        assert_eq!(json!(session.data()), record["record"]["data"]);
        assert_eq!(session.subject(), Some(&*text("subject")));
        assert_eq!(entry.expires, s.deadline(&session.record));

        // Read: a link under the subject's tag, which a revocation of the subject follows.
        let tag = text("subjectTag");
        assert_eq!(crate::store::kv_link(&tag, &key), text("kvLink"));
        assert!(text("kvLink").starts_with(&crate::store::kv_links(&tag)));
        assert_eq!(
            crate::store::subject_object(&tag),
            text("subjectObjectName")
        );
        block_on(store.link(&tag, &key, entry.expires, now)).unwrap();
        assert_eq!(block_on(s.revoke_subject(&text("subject"))).unwrap(), 1);
        assert!(load(&s, &cookie, now).is_none());

        // Written and read: the subject's revocation record.
        block_on(s.revoke_tokens(&text("subject"), now, 3600)).unwrap();
        let revocation = block_on(store.load(&text("revocationKey"))).unwrap();
        assert_eq!(revocation.map(|e| e.to_json()), Some(text("revocation")));
        let other = MemoryStore::new();
        let entry = Entry::from_json(&text("revocation")).unwrap();
        block_on(other.save(&text("revocationKey"), &entry, None, now)).unwrap();
        let s = Sessions::new(&other, &ring, SessionConfig::default()).unwrap();
        assert_eq!(
            block_on(s.min_issued_at(&text("subject"))).unwrap(),
            Some(now)
        );
        // Rewritten by a password change at the gateway, which spares its new session.
        let sparing = crate::store::Revocation {
            before: now + 1,
            except: Some("c2lkLW5ldw".into()),
        };
        block_on(s.record_revocation(&text("subject"), &sparing, now, 3600)).unwrap();
        let written = block_on(other.load(&text("revocationKey"))).unwrap();
        assert_eq!(
            written.map(|e| e.to_json()),
            Some(text("revocationSparing"))
        );
        let entry = Entry::from_json(&text("revocationSparing")).unwrap();
        let third = MemoryStore::new();
        block_on(third.save(&text("revocationKey"), &entry, None, now)).unwrap();
        let s = Sessions::new(&third, &ring, SessionConfig::default()).unwrap();
        assert_eq!(
            block_on(s.revocation(&text("subject"))).unwrap(),
            Some(sparing)
        );

        // Written and read: a session's tokens ended at its logout.
        block_on(s.end_token(&text("endedSid"), now, 3600)).unwrap();
        let ended = block_on(third.load(&text("endedKey"))).unwrap();
        assert_eq!(ended.map(|e| e.to_json()), Some(text("ended")));
        let fourth = MemoryStore::new();
        let entry = Entry::from_json(&text("ended")).unwrap();
        block_on(fourth.save(&text("endedKey"), &entry, None, now)).unwrap();
        let s = Sessions::new(&fourth, &ring, SessionConfig::default()).unwrap();
        assert!(block_on(s.token_ended(&text("endedSid"))).unwrap());
    }

    /// Several requests of one page at once, when the session is due for its touch: each
    /// rewrites it unchanged, and KV refuses all but the first write of the second. The others
    /// lose nothing (the first one extended the session), and fail nothing: an app that
    /// answers `store_unavailable` with a 500 failed every such request but one.
    #[test]
    fn concurrent_touches_on_kv_within_a_second_all_succeed() {
        let kv = OneWritePerSecond::new(&MemoryStore::new());
        let s = sessions(&kv);
        for subject in [None, Some("alice")] {
            let mut session = s.new_session(NOW).unwrap();
            session.insert("cart", json!(["book"]));
            session.set_subject(subject.map(str::to_owned));
            block_on(s.commit(&mut session, NOW)).unwrap();
            let cookie = session.cookie().unwrap().to_owned();
            let later = NOW + 600;
            let mut page: Vec<Session> = (0..4)
                .map(|_| block_on(s.load(&cookie, later)).unwrap().unwrap())
                .collect();
            let commits: Vec<Commit> = page
                .iter_mut()
                .map(|session| block_on(s.commit(session, later)).unwrap())
                .collect();
            assert_eq!(commits[0], Commit::Touched, "{subject:?}");
            assert!(
                commits[1..].iter().all(|c| *c == Commit::Unchanged),
                "{commits:?}"
            );
            let touched = block_on(s.load(&cookie, later)).unwrap().unwrap();
            assert_eq!(touched.touched(), later);
            assert_eq!(touched.get("cart"), Some(&json!(["book"])));
            // A change in the same second is still refused: it would be lost.
            page[1].insert("n", json!(1));
            let refused = block_on(s.commit(&mut page[1], later)).unwrap_err();
            assert_eq!(refused.code(), "store_unavailable");
        }
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
    }

    /// Several requests of one page at once on a strongly consistent store (Durable Objects),
    /// when the session is due for its touch: each rewrites it unchanged, at the version it
    /// read (a touch keeps it). Each touch but the first was a `conflict`, which failed the
    /// request (an app's, the Hono middleware's). A change made to the data as loaded is stored
    /// after them; another then is a `conflict` (made to older data, it would lose the first),
    /// and a touch after a change is beaten by it: `Unchanged`, nothing written.
    #[test]
    fn concurrent_touches_on_a_strongly_consistent_store_all_succeed() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        for subject in [None, Some("alice")] {
            let session = stored_cart(&s, subject);
            let cookie = session.cookie().unwrap().to_owned();
            let later = NOW + 600;
            let mut page: Vec<Session> = (0..4)
                .map(|_| block_on(s.load(&cookie, later)).unwrap().unwrap())
                .collect();
            for session in &mut page[..3] {
                assert_eq!(block_on(s.commit(session, later)), Ok(Commit::Touched));
            }
            let touched = block_on(s.load(&cookie, later)).unwrap().unwrap();
            assert_eq!((touched.touched(), touched.version()), (later, 1));
            assert_eq!(touched.get("cart"), Some(&json!(["book"])));
            page[1].insert("n", json!(1));
            assert_eq!(block_on(s.commit(&mut page[1], later)), Ok(Commit::Written));
            page[2].insert("n", json!(2));
            let refused = block_on(s.commit(&mut page[2], later));
            assert_eq!(refused, Err(Error::Conflict));
            let beaten = block_on(s.commit(&mut page[3], later + 1));
            assert_eq!(beaten, Ok(Commit::Unchanged));
            let held = block_on(s.load(&cookie, later + 1)).unwrap().unwrap();
            assert_eq!((held.get("n"), held.version()), (Some(&json!(1)), 2));
        }
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
    }

    /// On KV, a session created in this request and given a subject a second later is saved,
    /// then linked, once: a link before the save as well (as on a strongly consistent store)
    /// is a second write of the link in that second, which KV refuses, failing the login.
    #[test]
    fn on_kv_a_subject_given_after_creation_is_linked_once_after_the_save() {
        let kv = OneWritePerSecond::new(&MemoryStore::new());
        let s = sessions(&kv);
        let mut session = stored_cart(&s, None);
        session.set_subject(Some("alice".into()));
        let tries = kv.tries.get();
        assert_eq!(
            block_on(s.commit(&mut session, NOW + 1)).unwrap(),
            Commit::Written
        );
        assert_eq!(kv.tries.get() - tries, 2, "the save and one link");
        let cookie = session.cookie().unwrap().to_owned();
        assert_eq!(block_on(s.revoke_subject("alice")).unwrap(), 1);
        assert!(block_on(s.load(&cookie, NOW + 2)).unwrap().is_none());
    }

    /// `update` on a store where another writer is always ahead: the change is tried again
    /// `retries` times (a backoff before each), then the `conflict` is returned, never retried
    /// for ever.
    #[test]
    fn update_retries_a_conflict_as_many_times_as_asked() {
        let store = AlwaysConflict::default();
        let s = sessions(&store);
        let add = |s: &mut Session| s.insert("n", json!(1));
        let (session, commit) = block_on(s.update(None, NOW, 0, add)).unwrap();
        assert_eq!(commit, Commit::Created);
        let cookie = session.cookie().unwrap().to_owned();
        for retries in [0, 1, 3] {
            let saves = store.saves.get();
            let change = |s: &mut Session| s.insert("n", json!(2));
            let e = block_on(s.update(Some(&cookie), NOW + 1, retries, change)).unwrap_err();
            assert_eq!(e, Error::Conflict);
            assert_eq!(store.saves.get() - saves, 1 + retries, "{retries}");
        }
    }

    /// `regenerate` of a new session holding nothing stores nothing (an empty session is never
    /// stored): a new id only, and no cookie to send until it holds something.
    #[test]
    fn regenerating_a_new_empty_session_stores_nothing() {
        let store = MemoryStore::new();
        let s = sessions(&store);
        let mut session = s.new_session(NOW).unwrap();
        let key = session.store_key().to_owned();
        block_on(s.regenerate(&mut session, NOW)).unwrap();
        assert_ne!(session.store_key(), key);
        assert!(session.is_new());
        assert_eq!(session.cookie(), None);
        assert_eq!((store.len(), store.writes()), (0, 0));
        session.insert("cart", json!(["book"]));
        assert_eq!(
            block_on(s.commit(&mut session, NOW)).unwrap(),
            Commit::Created
        );
        assert!(session.cookie().is_some());
    }

    /// On KV (no compare-and-set, so no claim of the old id), `regenerate` writes the renewed
    /// marker over the old id (deletes it, within a second of its last write): the cookie known
    /// before names nothing, the new one the session.
    #[test]
    fn on_kv_regenerate_ends_the_old_id() {
        let kv = OneWritePerSecond::new(&MemoryStore::new());
        let s = sessions(&kv);
        let old = stored(&s, None);
        let mut session = block_on(s.load(&old, NOW + 1)).unwrap().unwrap();
        block_on(s.regenerate(&mut session, NOW + 1)).unwrap();
        assert!(block_on(s.load(&old, NOW + 2)).unwrap().is_none());
        let found = block_on(s.find_first([old.as_str()], NOW + 2)).unwrap();
        assert!(matches!(found, Found::Renewed));
        assert_eq!(kv.inner.len(), 2);
        // Written in the same second as the old id: deleted.
        let again = stored(&s, None);
        let mut session = block_on(s.load(&again, NOW)).unwrap().unwrap();
        block_on(s.regenerate(&mut session, NOW)).unwrap();
        let found = block_on(s.find_first([again.as_str()], NOW + 1)).unwrap();
        assert!(matches!(found, Found::Nothing));
        let renewed = block_on(s.load(session.cookie().unwrap(), NOW + 2)).unwrap();
        assert_eq!(renewed.unwrap().get("cart"), Some(&json!(["book"])));
    }

    /// `end` leaves the id as one renewed: over the version loaded, or over nothing when a
    /// revocation deleted it first. Changed since (strong), written this second (KV), or on a
    /// store that refuses writes, it is deleted. Either way it loads as no session.
    #[test]
    fn an_ended_session_is_renewed_or_deleted() {
        fn renewed<S: Backend>(s: &Sessions<S>, cookie: &str) -> bool {
            assert!(block_on(s.load(cookie, NOW + 2)).unwrap().is_none());
            let found = block_on(s.find_first([cookie], NOW + 2)).unwrap();
            matches!(found, Found::Renewed)
        }
        let store = MemoryStore::new();
        let s = sessions(&store);
        let old = stored(&s, Some("alice"));
        let session = block_on(s.load(&old, NOW + 1)).unwrap().unwrap();
        block_on(s.end(session, NOW + 1)).unwrap();
        assert!(renewed(&s, &old));
        let old = stored(&s, Some("bob"));
        let session = block_on(s.load(&old, NOW + 1)).unwrap().unwrap();
        block_on(s.revoke_subject("bob")).unwrap();
        block_on(s.end(session, NOW + 1)).unwrap();
        assert!(renewed(&s, &old));
        // Changed by another request since it was loaded: deleted.
        let old = stored(&s, None);
        let session = block_on(s.load(&old, NOW + 1)).unwrap().unwrap();
        let mut other = block_on(s.load(&old, NOW + 1)).unwrap().unwrap();
        other.insert("n", json!(1));
        block_on(s.commit(&mut other, NOW + 1)).unwrap();
        block_on(s.end(session, NOW + 1)).unwrap();
        assert!(!renewed(&s, &old));
        // KV: written a second later, the marker; in the same second, deleted.
        let kv = OneWritePerSecond::new(&MemoryStore::new());
        let s = sessions(&kv);
        for (at, marked) in [(NOW + 1, true), (NOW, false)] {
            let old = stored(&s, None);
            let session = block_on(s.load(&old, at)).unwrap().unwrap();
            block_on(s.end(session, at)).unwrap();
            assert_eq!(renewed(&s, &old), marked, "{at}");
        }
        // Writes refused (KV's daily limit), deletes taken: deleted, not left as it was.
        let store = MemoryStore::new();
        let s = sessions(FailingSaves(&store, Cell::new(false)));
        let old = stored(&s, Some("alice"));
        let session = block_on(s.load(&old, NOW + 1)).unwrap().unwrap();
        s.store().1.set(true);
        block_on(s.end(session, NOW + 1)).unwrap();
        assert!(!renewed(&s, &old));
    }

    /// A memory store whose saves fail once `.1` is set, everything else working.
    struct FailingSaves<'a>(&'a MemoryStore, Cell<bool>);

    impl Backend for FailingSaves<'_> {
        passed_to!(0; load, delete, link, revoke, consistency);
        async fn save(
            &self,
            key: &str,
            entry: &Entry,
            expected: Option<u64>,
            now: UnixTime,
        ) -> Result<()> {
            if self.1.get() {
                return Err(Error::StoreUnavailable(
                    "KV put: daily write limit exceeded".into(),
                ));
            }
            self.0.save(key, entry, expected, now).await
        }
    }

    /// A memory store whose deletes fail (a timeout), everything else working.
    struct FailingDeletes<'a>(&'a MemoryStore);

    impl Backend for FailingDeletes<'_> {
        passed_to!(0; load, save, link, revoke, consistency);
        async fn delete(&self, _: &str) -> Result<()> {
            Err(Error::StoreUnavailable("deletes set to fail".into()))
        }
    }

    /// `regenerate` on a strongly consistent store whose delete of the old id fails: the marker
    /// left there is one version on from the claim, so that no request that read the old id,
    /// before the claim (version 1) or after it (2), can write it back to life.
    #[test]
    fn the_end_marker_of_a_renewed_id_is_past_every_version_read() {
        let store = MemoryStore::new();
        let s = sessions(FailingDeletes(&store));
        let old = stored(&s, None);
        let mut session = block_on(s.load(&old, NOW + 1)).unwrap().unwrap();
        let mut before = block_on(s.load(&old, NOW + 1)).unwrap().unwrap();
        let old_key = session.store_key().to_owned();
        block_on(s.regenerate(&mut session, NOW + 1)).unwrap();
        let marker = block_on(store.load(&old_key)).unwrap().unwrap();
        assert_eq!((marker.version, marker.value.as_str()), (3, RENEWED));
        before.insert("n", json!(1));
        let e = block_on(s.commit(&mut before, NOW + 2)).unwrap_err();
        assert_eq!(e, Error::Conflict);
        assert!(block_on(s.load(&old, NOW + 2)).unwrap().is_none());
    }

    /// On KV, an unchanged session of a subject, already linked, is not linked again at each
    /// commit (a write per request, and a second one in a second refused): nothing is written.
    #[test]
    fn on_kv_an_unchanged_linked_session_writes_nothing() {
        let kv = OneWritePerSecond::new(&MemoryStore::new());
        let s = sessions(&kv);
        let mut session = s.new_session(NOW).unwrap();
        session.insert("cart", json!(["book"]));
        session.set_subject(Some("alice".into()));
        block_on(s.commit(&mut session, NOW)).unwrap();
        let cookie = session.cookie().unwrap().to_owned();
        let tries = kv.tries.get();
        for _ in 0..2 {
            let mut session = block_on(s.load(&cookie, NOW + 1)).unwrap().unwrap();
            let commit = block_on(s.commit(&mut session, NOW + 1)).unwrap();
            assert_eq!(commit, Commit::Unchanged);
        }
        assert_eq!(kv.tries.get(), tries);
    }
}
