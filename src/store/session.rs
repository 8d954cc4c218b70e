//! The session manager: [`Sessions`] over any [`SessionStore`].
//!
//! - **Ids**: 128 random bits (getrandom), carried in a signed cookie (a compact token of
//!   purpose `sid`, `{"sid":"<base64url id>"}`, living until the absolute timeout). The store key
//!   is `s:` and a keyed hash (HMAC-SHA256, 128 bits) of the id: reading the store reveals
//!   neither the id nor the cookie.
//! - **Records** are encrypted at rest ([`super::record`]), the id bound as associated data.
//! - **Lifetimes**: a session ends `idle_timeout_seconds` after its last write, and
//!   `absolute_timeout_seconds` after its creation, whichever comes first.
//! - **Writes**: [`Sessions::commit`] writes when the data or subject changed; an unchanged session
//!   is only rewritten to extend its idle timeout ("touch"), at most once per
//!   `touch_interval_seconds` (Workers KV allows one write per second per key). So the idle
//!   timeout is honoured to within one touch interval.
//! - **Consistency**: every write names the version it read; a strongly consistent store refuses a
//!   stale one (`conflict`), and [`Sessions::update`] reloads and retries.
//! - **Security**: [`Sessions::regenerate`] (new id, data moved, old id deleted) at login and
//!   privilege changes; [`Sessions::destroy`] at logout; [`Sessions::revoke_subject`] ends every
//!   session of a user. [`Sessions::revoke_tokens`] keeps a subject's `minIssuedAt` in the same
//!   store (key `r:` and a keyed hash of the subject), so that stateless session tokens can be
//!   revoked too: check [`Sessions::min_issued_at`] after verifying one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::record::{Record, RecordKeys, ID_BYTES};
use super::{Entry, SessionStore};
use crate::codec::{b64_decode, b64_encode};
use crate::error::{Error, Result};
use crate::keys::{signing_key, KeyRing, MacKey};
use crate::time::{UnixTime, MAX_TIME};
use crate::token::{SessionTokens, TokenConfig};

/// The token purpose of the session-id cookie.
pub const COOKIE_PURPOSE: &str = "sid";

/// Settings of [`Sessions`]; field names match the JavaScript options (camelCase).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionConfig {
    /// A session ends this many seconds after its last write. Default 1800.
    #[serde(default = "defaults::idle")]
    pub idle_timeout_seconds: u64,
    /// A session ends this many seconds after its creation, however active. Default 86400.
    #[serde(default = "defaults::absolute")]
    pub absolute_timeout_seconds: u64,
    /// An unchanged session is rewritten (to extend its idle timeout) at most this often;
    /// at least 1, less than the idle timeout. Default 60.
    #[serde(default = "defaults::touch")]
    pub touch_interval_seconds: u64,
    /// The largest session data accepted, in bytes of JSON (`too_large` beyond). Default 16384,
    /// at most 65536 (a Durable Object value holds 128 KiB).
    #[serde(default = "defaults::max_data")]
    pub max_data_bytes: usize,
    /// Separates the keys of unrelated session stores sharing a keyring. Default `"session"`.
    #[serde(default = "defaults::purpose")]
    pub purpose: String,
}

mod defaults {
    pub fn idle() -> u64 {
        1800
    }
    pub fn absolute() -> u64 {
        86_400
    }
    pub fn touch() -> u64 {
        60
    }
    pub fn max_data() -> usize {
        16_384
    }
    pub fn purpose() -> String {
        "session".into()
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout_seconds: defaults::idle(),
            absolute_timeout_seconds: defaults::absolute(),
            touch_interval_seconds: defaults::touch(),
            max_data_bytes: defaults::max_data(),
            purpose: defaults::purpose(),
        }
    }
}

impl SessionConfig {
    fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::config(m));
        if self.idle_timeout_seconds == 0 || self.idle_timeout_seconds > MAX_TIME {
            return bad("idleTimeoutSeconds must be a positive whole number of seconds");
        }
        if self.absolute_timeout_seconds < self.idle_timeout_seconds
            || self.absolute_timeout_seconds > MAX_TIME
        {
            return bad("absoluteTimeoutSeconds must be at least idleTimeoutSeconds");
        }
        if self.touch_interval_seconds == 0
            || self.touch_interval_seconds >= self.idle_timeout_seconds
        {
            return bad("touchIntervalSeconds must be at least 1 and less than idleTimeoutSeconds");
        }
        if !(2..=65_536).contains(&self.max_data_bytes) {
            return bad("maxDataBytes must be between 2 and 65536");
        }
        if self.purpose.is_empty() || self.purpose.len() > 64 {
            return bad("purpose must be 1 to 64 bytes");
        }
        Ok(())
    }
}

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
/// [`Sessions::commit`] it.
#[derive(Clone, Debug)]
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
    /// Call [`Sessions::regenerate`] when it changes (login).
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

    /// The stored version: 0 until the session is first stored, one more at every write.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// True until the session is stored.
    pub fn is_new(&self) -> bool {
        self.version == 0
    }

    /// The cookie value to send, when the client does not know this session's id yet (created
    /// or regenerated, and stored); `None` otherwise.
    pub fn cookie(&self) -> Option<&str> {
        (self.fresh && self.version > 0).then_some(self.token.as_str())
    }

    /// The key under which the store holds this session (a keyed hash of the id).
    pub fn store_key(&self) -> &str {
        &self.key
    }

    fn changed(&self) -> bool {
        match &self.stored {
            Some((data, subject)) => *data != self.record.data || *subject != self.record.subject,
            None => !self.record.data.is_empty() || self.record.subject.is_some(),
        }
    }
}

/// Sessions in a store: see the [module docs](self).
pub struct Sessions<S> {
    store: S,
    config: SessionConfig,
    cookie: SessionTokens,
    records: RecordKeys,
    /// Per key id: the key of the store-key hash, and of the subject-tag hash.
    hashes: Vec<(String, MacKey, MacKey)>,
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

impl<S: SessionStore> Sessions<S> {
    /// Sessions in `store`, with keys derived from `ring` (the first key signs and seals).
    pub fn new(store: S, ring: &KeyRing, config: SessionConfig) -> Result<Self> {
        config.check()?;
        let mut tokens = TokenConfig::new(Vec::new());
        tokens.purpose = COOKIE_PURPOSE.into();
        tokens.ttl_seconds = config.absolute_timeout_seconds;
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
        let verified = self.cookie.verify_detailed::<SidClaims>(cookie, now)?;
        let id: [u8; ID_BYTES] = b64_decode(&verified.claims.sid)?
            .try_into()
            .map_err(|_| Error::Malformed("session id length"))?;
        let key = self.store_key(&verified.key_id, &id)?;
        let Some(entry) = self.store.load(&key).await? else {
            return Ok(None);
        };
        let record = self.records.open(&id, entry.version, &entry.value)?.record;
        if now > self.deadline(&record) {
            // Best effort: the store forgets it by itself at `expires` anyway.
            let _ = self.store.delete(&key).await;
            return Ok(None);
        }
        Ok(Some(Session {
            id,
            key,
            stored: Some((record.data.clone(), record.subject.clone())),
            linked: record.subject.clone(),
            record,
            version: entry.version,
            token: cookie.to_owned(),
            fresh: false,
        }))
    }

    /// The session named by `cookie`, or a new one when there is no cookie, or it names nothing
    /// valid (bad cookie, unknown or ended session, a record that does not open). Only a failing
    /// store is an error (`store_unavailable`).
    pub async fn load_or_new(&self, cookie: Option<&str>, now: UnixTime) -> Result<Session> {
        if let Some(cookie) = cookie {
            match self.load(cookie, now).await {
                Ok(Some(session)) => return Ok(session),
                Err(e @ Error::StoreUnavailable(_)) => return Err(e),
                Ok(None) | Err(_) => {}
            }
        }
        self.new_session(now)
    }

    /// Stores the session's changes: written when its data or subject changed, touched when
    /// unchanged for `touch_interval_seconds`, otherwise nothing. `conflict` when a strongly
    /// consistent store holds a newer version (the session is left as it was: reload, redo).
    pub async fn commit(&self, session: &mut Session, now: UnixTime) -> Result<Commit> {
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
                .saturating_add(self.config.touch_interval_seconds)
        {
            Commit::Touched
        } else {
            return self.link(session, now).await.map(|()| Commit::Unchanged);
        };
        let mut record = session.record.clone();
        record.touched = now.max(record.touched);
        let version = session.version + 1;
        let entry = self.entry(&session.id, version, &record)?;
        let expected = (session.version > 0).then_some(session.version);
        self.store.save(&session.key, &entry, expected, now).await?;
        session.stored = Some((record.data.clone(), record.subject.clone()));
        session.record = record;
        session.version = version;
        self.link(session, now).await?;
        Ok(outcome)
    }

    /// Loads the session named by `cookie` (or a new one), applies `change`, commits, and on
    /// `conflict` starts again, up to `retries` more times.
    pub async fn update(
        &self,
        cookie: Option<&str>,
        now: UnixTime,
        retries: usize,
        mut change: impl FnMut(&mut Session),
    ) -> Result<(Session, Commit)> {
        let mut tries = 0;
        loop {
            let mut session = self.load_or_new(cookie, now).await?;
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
    /// new id, and the old id is deleted, so a cookie known before (session fixation) is
    /// worthless. Call it at login and at any change of privilege. Send [`Session::cookie`].
    pub async fn regenerate(&self, session: &mut Session, now: UnixTime) -> Result<()> {
        let id = random_id()?;
        let (key, token) = self.identify(&id, session.record.created, now)?;
        if session.version > 0 || session.changed() {
            let mut record = session.record.clone();
            record.touched = now.max(record.touched);
            let entry = self.entry(&id, 1, &record)?;
            self.store.save(&key, &entry, None, now).await?;
            if session.version > 0 {
                self.store.delete(&session.key).await?;
            }
            session.stored = Some((record.data.clone(), record.subject.clone()));
            session.record = record;
            session.version = 1;
            session.linked = None;
        }
        session.id = id;
        session.key = key;
        session.token = token;
        session.fresh = true;
        self.link(session, now).await
    }

    /// Ends the session: deletes it from the store. Clear the cookie.
    pub async fn destroy(&self, session: Session) -> Result<()> {
        if session.version > 0 {
            self.store.delete(&session.key).await?;
        }
        Ok(())
    }

    /// Ends every stored session whose subject is `subject` (log out everywhere, password
    /// change). Returns how many sessions were deleted. With an eventually consistent store,
    /// sessions created at another location in the last minute may be missed.
    pub async fn revoke_subject(&self, subject: &str) -> Result<usize> {
        let mut n = 0;
        for (_, _, mac) in &self.hashes {
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
    /// refreshes included, plus leeway); read it back with [`Sessions::min_issued_at`].
    ///
    /// Stored sessions are not touched: [`Sessions::revoke_subject`] ends those.
    pub async fn revoke_tokens(
        &self,
        subject: &str,
        now: UnixTime,
        keep_seconds: u64,
    ) -> Result<()> {
        let (_, _, mac) = signing_key(&self.hashes)?;
        let key = revocation_key(mac, subject);
        let expires = now.saturating_add(keep_seconds).min(MAX_TIME);
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
                version: version.map_or(1, |v| v + 1),
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

    /// Seconds the cookie of `session` should live (`Max-Age`): until its absolute timeout.
    pub fn cookie_max_age(&self, session: &Session, now: UnixTime) -> u64 {
        session
            .record
            .created
            .saturating_add(self.config.absolute_timeout_seconds)
            .saturating_sub(now)
    }

    /// The end of `record`'s life if nothing touches it.
    fn deadline(&self, record: &Record) -> UnixTime {
        let idle = record
            .touched
            .saturating_add(self.config.idle_timeout_seconds);
        let absolute = record
            .created
            .saturating_add(self.config.absolute_timeout_seconds);
        idle.min(absolute)
    }

    fn entry(&self, id: &[u8; ID_BYTES], version: u64, record: &Record) -> Result<Entry> {
        let len = serde_json::to_vec(&record.data).map_or(usize::MAX, |j| j.len());
        if len > self.config.max_data_bytes {
            return Err(Error::TooLarge {
                len,
                max: self.config.max_data_bytes,
            });
        }
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
        let (_, _, mac) = signing_key(&self.hashes)?;
        let tag = b64_encode(&mac.tag(subject.as_bytes()));
        let until = session
            .record
            .created
            .saturating_add(self.config.absolute_timeout_seconds);
        self.store.link(&tag, &session.key, until, now).await?;
        session.linked = Some(subject);
        Ok(())
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
            .saturating_add(self.config.absolute_timeout_seconds)
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
            .ok_or_else(|| Error::UnknownKey(kid.to_owned()))?;
        Ok(format!("s:{}", b64_encode(&mac.tag(id))))
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

fn random_id() -> Result<[u8; ID_BYTES]> {
    let mut id = [0u8; ID_BYTES];
    getrandom::fill(&mut id).map_err(|_| Error::RandomnessUnavailable)?;
    Ok(id)
}
