//! Device-bound sessions at the gateway (`DBSC = "on"`): every decision, free of platform
//! types; the worker glue (`worker::dbsc`) verifies signatures with WebCrypto and records each
//! challenge once in the store.
//!
//! - **Offer**: the answer to a login (an origin's `x-session-issue`) carries
//!   `Secure-Session-Registration` with a registration challenge for the new session id
//!   ([`Dbsc::offer`]).
//! - **`POST /__edge/dbsc/register`** ([`Dbsc::register`]): the browser's proof, signed by its
//!   new key, binds the session: the session cookie is re-issued with `cnf: {"jkt": ...}`, the
//!   public key goes into the sealed key cookie (seen only under `/__edge/dbsc/`), and the first
//!   bound cookie is set; the body is the session config.
//! - **`POST /__edge/dbsc/refresh`** ([`Dbsc::refresh`]): without a proof, 403 and a challenge;
//!   with a proof by the bound key of a challenge issued here, a new bound cookie and the next
//!   challenge (and the key cookie sealed again when an older key of `SESSION_KEYS` sealed
//!   it); without a bound session, `{"continue": false}` (but a 503 for a session cookie of a
//!   key this version does not know, which a newer version signed).
//! - **Enforcement** ([`Dbsc::is_bound`]): a session with `cnf` reaches the origin as valid only
//!   with a bound cookie for its (session id, key); then with `x-session-bound: 1` too.
//!   Otherwise it is `x-session-status: unbound`, without identity.
//!
//! The endpoints are public (no operator token): the browser calls them. Their answers are
//! `no-store`, JSON, and never reach an origin.

use serde_json::json;

use super::config::{ConfigError, DbscSettings};
use super::headers;
use super::pages::Page;
use super::session::{self, SessionCodec, SessionCookie};
use crate::cookie::{self, MAX_PRESENTED};
use crate::dbsc::{wire, ChallengeId, DeviceBinding, DeviceKey, Proof, SessionConfig};
use crate::error::Error;
use crate::json as object;
use crate::keys::{KeyConfig, KeyRing};
use crate::store::Backend;
use crate::time::{UnixTime, MAX_TTL};
use crate::token::claims::Registered;
use crate::token::{SealedTokens, TokenConfig};

/// The registration endpoint.
pub const REGISTER_PATH: &str = "/__edge/dbsc/register";
/// The refresh endpoint.
pub const REFRESH_PATH: &str = "/__edge/dbsc/refresh";

/// To the origin: `1` when the session is bound to a device and its bound cookie is fresh.
pub const BOUND_HEADER: &str = "x-session-bound";
/// The `x-session-status` of a bound session presented without a fresh bound cookie.
pub const UNBOUND: &str = "unbound";

/// To the browser, on a login: the registration offer.
pub const REGISTRATION_HEADER: &str = "secure-session-registration";
/// To the browser, from the refresh endpoint: the next challenge.
pub const CHALLENGE_HEADER: &str = "secure-session-challenge";
/// From the browser: the proof (a JWT signed by the device key).
pub const RESPONSE_HEADER: &str = "secure-session-response";
/// From the browser, at refresh: the session identifier of the session config.
pub const SESSION_ID_HEADER: &str = "sec-secure-session-id";
/// The same, as a page's own script sends it: `fetch` drops every `Sec-` header (the Fetch
/// standard forbids them to scripts), so a page that does DBSC itself (the demo page, for
/// browsers without DBSC) names the session here. Read only when `SESSION_ID_HEADER` is absent;
/// like it, a custom header that a cross-site request cannot send without a CORS preflight
/// (which the gateway never grants), and the proof by the bound key is still required.
pub const SCRIPT_SESSION_ID_HEADER: &str = "secure-session-id";

/// The HKDF purpose of the key cookie's sealing key.
const KEY_PURPOSE: &str = "gateway/dbsc-key";

/// A DBSC endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /__edge/dbsc/register`.
    Register,
    /// `POST /__edge/dbsc/refresh`.
    Refresh,
}

/// The endpoint a path names, if it is under `/__edge/dbsc/` (`Err`: the 404 of a path there
/// that names none).
pub fn endpoint(path: &str) -> Option<Result<Endpoint, Page>> {
    match path {
        REGISTER_PATH => Some(Ok(Endpoint::Register)),
        REFRESH_PATH => Some(Ok(Endpoint::Refresh)),
        _ if path.starts_with(super::config::DBSC_PATH) || path == "/__edge/dbsc" => {
            Some(Err(Page::not_found()))
        }
        _ => None,
    }
}

/// DBSC at the gateway, built once from checked settings.
#[derive(Clone, Debug)]
pub struct Dbsc {
    settings: DbscSettings,
    binding: DeviceBinding,
    keys: SealedTokens,
    /// A session's longest life, seconds: the key cookie's, from the login.
    max_lifetime: u64,
}

/// What the browser sent to a DBSC endpoint.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The request's headers.
    pub headers: &'a [(String, String)],
    /// `scheme://host` of the gateway, as the browser asked it (the session config's scope).
    pub public: &'a str,
}

/// What to answer at a DBSC endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Answer at once.
    Answer(Page),
    /// Verify the proof's signature (WebCrypto), then record its challenge once (the store),
    /// then answer with [`Pending::finish`].
    Verify(Box<Pending>),
}

/// A proof that passed every check but the signature and single use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The key to verify with: the proof's own (registration) or the bound one (refresh).
    pub key: DeviceKey,
    /// The proof's signing input (`header.payload`).
    pub input: Vec<u8>,
    /// The proof's signature.
    pub signature: Vec<u8>,
    /// The challenge it answers, to record once.
    pub challenge: ChallengeId,
    /// The answer once both hold.
    ok: Page,
    /// Headers every refusal carries (refresh: a fresh challenge).
    refusal_headers: Vec<(String, String)>,
}

impl Pending {
    /// The answer, given whether the signature verified (`Err`: WebCrypto failed, a 500 the
    /// browser retries later) and what the store said of the challenge's single use
    /// ([`use_once`]; `None` without a store; only asked when the signature verified).
    pub fn finish(self, verified: Result<bool, ()>, once: Option<Result<(), Error>>) -> Page {
        locked(self.decide(verified, once))
    }

    fn decide(self, verified: Result<bool, ()>, once: Option<Result<(), Error>>) -> Page {
        let refuse = |status, code: &str| {
            let mut page = refusal(status, code);
            page.headers.extend(self.refusal_headers.iter().cloned());
            page
        };
        match (verified, once) {
            (Ok(true), Some(Ok(()))) => self.ok,
            (Ok(true), Some(Err(Error::ChallengeReused))) => refuse(403, "challenge_reused"),
            (Ok(true), Some(Err(_))) => refusal(503, "store_unavailable"),
            (Ok(true), None) => self.ok,
            (Ok(false), _) => refuse(403, "bad_signature"),
            (Err(()), _) => Page::internal(),
        }
    }
}

impl Decision {
    /// The decision with its answer locked down (`no-store`, `nosniff`, never framed; a
    /// [`Pending`] locks its own).
    #[must_use]
    pub fn locked(self) -> Decision {
        match self {
            Decision::Answer(page) => Decision::Answer(locked(page)),
            verify => verify,
        }
    }
}

/// An answer of the DBSC endpoints, locked down as dbsc.md's lessons ask ("no framing,
/// narrow CORS"): besides `no-store` and `nosniff` (every gateway page), never framed,
/// nothing to load; no CORS header is ever added (only the gateway's origin reads these
/// answers).
fn locked(mut page: Page) -> Page {
    page.headers.extend(
        [
            ("x-frame-options", "DENY"),
            (
                "content-security-policy",
                "default-src 'none'; frame-ancestors 'none'",
            ),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned())),
    );
    page
}

/// A refusal: `{"error": code}`, `no-store`.
fn refusal(status: u16, code: &str) -> Page {
    Page::json(status, &json!({ "error": code }))
}

/// 400 for what cannot be read, 403 for the rest.
fn refused(e: &Error) -> Page {
    let status = match e {
        Error::Malformed(_) | Error::TooLarge { .. } => 400,
        _ => 403,
    };
    refusal(status, e.code())
}

/// `{"continue": false}`: the browser ends its device-bound session.
fn end() -> Page {
    let mut page = Page::json(200, &json!({}));
    page.body = SessionConfig::end();
    page
}

impl Dbsc {
    /// DBSC over the gateway's keys (`SESSION_KEYS`), with a session's longest life
    /// (`max_lifetime`, the key cookie's).
    pub fn new(
        settings: DbscSettings,
        keys: &[KeyConfig],
        max_lifetime: u64,
    ) -> Result<Self, ConfigError> {
        use super::config::names::{DBSC_BOUND_SECONDS, SESSION_KEYS};
        let config_error = |setting| {
            move |e: Error| ConfigError {
                setting,
                message: e.detail(),
            }
        };
        let ring = KeyRing::from_config(keys).map_err(config_error(SESSION_KEYS))?;
        let mut sealing = TokenConfig::new(keys.to_vec());
        sealing.purpose = KEY_PURPOSE.into();
        sealing.ttl_seconds = max_lifetime;
        // A key cookie lives as long as its session, which may pass `max_lifetime` by the
        // leeway (see `Dbsc::key_cookie`).
        sealing.max_lifetime_seconds = Some(MAX_TTL);
        Ok(Dbsc {
            binding: DeviceBinding::new(&ring, settings.bound_seconds)
                .map_err(config_error(DBSC_BOUND_SECONDS))?,
            keys: SealedTokens::new(sealing).map_err(config_error(SESSION_KEYS))?,
            max_lifetime,
            settings,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &DbscSettings {
        &self.settings
    }

    /// The registration offer for a login's new session `sid`: the header to add to its
    /// answer.
    pub fn offer(&self, sid: &str, now: UnixTime, random: [u8; 8]) -> Option<(String, String)> {
        let challenge = self.binding.offer(sid, now, random);
        let value = wire::registration_header(&challenge, REGISTER_PATH, None).ok()?;
        Some((REGISTRATION_HEADER.to_owned(), value))
    }

    /// Whether the request's cookies (`cookie_header`) hold a fresh bound cookie for session
    /// `sid` bound to the key of thumbprint `jkt`.
    pub fn is_bound(
        &self,
        cookie_header: Option<&str>,
        sid: &str,
        jkt: &str,
        now: UnixTime,
    ) -> bool {
        let Some(header) = cookie_header else {
            return false;
        };
        cookie::get_all_tokens(header, self.settings.bound_cookie.name())
            .take(MAX_PRESENTED)
            .any(|value| self.binding.check_bound(value, sid, jkt, now).is_ok())
    }

    /// A new bound cookie for (`sid`, `jkt`), as a `Set-Cookie` value.
    fn bound_cookie(&self, sid: &str, jkt: &str, now: UnixTime, random: [u8; 8]) -> Option<String> {
        let value = self.binding.bound_cookie(sid, jkt, now, random);
        self.settings
            .bound_cookie
            .header(&value, Some(self.settings.bound_seconds))
            .ok()
    }

    /// The key cookie of session `sid` (its verified `claims`, begun at `issued_at`) bound to
    /// `key`, as a `Set-Cookie` value: `{"sid": <session id>, "jwk": <public JWK>}` sealed with
    /// the first key of `SESSION_KEYS`, living as long as the session can: through its refreshes
    /// (`issued_at` + `SESSION_MAX_LIFETIME_SECONDS`), or until its token's `exp` when later
    /// (within the leeway a session may pass its longest life by, see `SessionCodec::verify`).
    fn key_cookie(
        &self,
        sid: &str,
        key: &DeviceKey,
        claims: &str,
        issued_at: UnixTime,
        now: UnixTime,
    ) -> Option<String> {
        let exp = Registered::parse(claims).ok().and_then(|r| r.exp);
        let end = issued_at
            .saturating_add(self.max_lifetime)
            .max(exp.unwrap_or(0));
        let age = end.saturating_sub(now).clamp(1, MAX_TTL);
        let claims = format!(
            r#"{{"sid":{},"jwk":{}}}"#,
            object::quoted(sid),
            key.to_jwk_json()
        );
        let sealed = self.keys.sign_json(&claims, now, age).ok()?;
        self.settings.key_cookie.header(&sealed, Some(age)).ok()
    }

    /// The session config: the bound cookie is the credential, refreshed at the refresh
    /// endpoint, for the whole origin the browser asked.
    fn session_config(&self, sid: &str, public: &str) -> String {
        // The cookie's attributes as its `Set-Cookie` writes them, after `name=value`.
        let written = self
            .settings
            .bound_cookie
            .header("", None)
            .unwrap_or_default();
        let attributes = written.split_once("; ").map_or("", |(_, a)| a);
        SessionConfig::new(
            sid,
            REFRESH_PATH,
            public,
            self.settings.bound_cookie.name(),
            attributes,
        )
        .to_json()
    }

    /// A new refresh challenge for `sid`: the `Secure-Session-Challenge` header.
    fn challenge(&self, sid: &str, now: UnixTime, random: [u8; 8]) -> Option<(String, String)> {
        let c = self.binding.challenge(sid, now, random);
        let value = wire::challenge_header(&c, sid).ok()?;
        Some((CHALLENGE_HEADER.to_owned(), value))
    }

    /// `POST /__edge/dbsc/register`: the session of the request (`session`, read with the
    /// session `codec`) binds to the key of the proof in `Secure-Session-Response`.
    pub fn register(
        &self,
        call: &Call<'_>,
        session: &SessionCookie,
        codec: &SessionCodec,
        session_cookie: &cookie::SetCookie,
        now: UnixTime,
        random: [u8; 16],
    ) -> Decision {
        if call.method != "POST" {
            return Decision::Answer(Page::post_only());
        }
        let SessionCookie::Valid {
            claims,
            sid: Some(sid),
            jkt,
            issued_at,
            alone,
            ..
        } = session
        else {
            return Decision::Answer(refusal(403, "no_session"));
        };
        // Bound, it would be written into the gateway's own cookie (see `SessionCookie::Valid`).
        if !alone {
            return Decision::Answer(refusal(403, "ambiguous_session"));
        }
        if jkt.is_some() {
            return Decision::Answer(refusal(403, "already_bound"));
        }
        let Some(value) = headers::get(call.headers, RESPONSE_HEADER) else {
            return Decision::Answer(refusal(400, "malformed"));
        };
        let proof = match Proof::parse(value) {
            Ok(p) => p,
            Err(e) => return Decision::Answer(refused(&e)),
        };
        let registered = match self.binding.register(&proof, sid, now) {
            Ok(r) => r,
            Err(e) => return Decision::Answer(refused(&e)),
        };
        let (key, jkt) = (registered.key, registered.jkt);
        let (token, ttl) =
            match session::bind_device(codec, claims, &jkt, (*issued_at, self.max_lifetime), now) {
                Ok(t) => t,
                Err(_) => return Decision::Answer(Page::internal()),
            };
        let (bound_random, _) = split(random);
        let cookies = [
            session::set_cookie(session_cookie, &token, ttl),
            self.key_cookie(sid, &key, claims, *issued_at, now),
            self.bound_cookie(sid, &jkt, now, bound_random),
        ];
        let Some(cookies) = cookies.into_iter().collect::<Option<Vec<_>>>() else {
            return Decision::Answer(Page::internal());
        };
        let mut ok = Page::json(200, &json!({}));
        ok.body = self.session_config(sid, call.public);
        ok.headers
            .extend(cookies.into_iter().map(|c| ("set-cookie".to_owned(), c)));
        Decision::Verify(Box::new(Pending {
            input: proof.signing_input().to_vec(),
            signature: proof.signature().to_vec(),
            key,
            challenge: registered.challenge_id,
            ok,
            refusal_headers: Vec::new(),
        }))
    }

    /// `POST /__edge/dbsc/refresh`: a new bound cookie for a proof by the session's key.
    pub fn refresh(
        &self,
        call: &Call<'_>,
        session: &SessionCookie,
        now: UnixTime,
        random: [u8; 16],
    ) -> Decision {
        if call.method != "POST" {
            return Decision::Answer(Page::post_only());
        }
        let (challenge_random, bound_random) = split(random);
        let SessionCookie::Valid {
            sid: Some(sid),
            jkt: Some(jkt),
            claims,
            issued_at,
            ..
        } = session
        else {
            return Decision::Answer(match session {
                // Signed with a key this version does not know: while a deploy that puts a
                // new key first spreads, one the new version signed. Ending the device-bound
                // session would leave it unbound everywhere; a 5xx is retried later.
                SessionCookie::Invalid("unknown_key") => refusal(503, "unknown_key"),
                _ => end(),
            });
        };
        let named = headers::get(call.headers, SESSION_ID_HEADER)
            .or_else(|| headers::get(call.headers, SCRIPT_SESSION_ID_HEADER))
            .and_then(wire::session_id_from_header);
        if named.as_deref() != Some(sid.as_str()) {
            return Decision::Answer(end());
        }
        let Some((key, stale)) = self.bound_key(call.headers, sid, jkt, now) else {
            // A key cookie sealed with a key this version does not know: while a deploy that
            // puts a new key first spreads, one the new version sealed again. A 5xx is
            // retried later; `{"continue": false}` would end the device-bound session.
            return Decision::Answer(if self.key_cookie_of_unknown_key(call.headers, now) {
                refusal(503, "unknown_key")
            } else {
                end()
            });
        };
        // Every answer but `continue: false` carries the next challenge.
        let Some(next) = self.challenge(sid, now, challenge_random) else {
            return Decision::Answer(Page::internal());
        };
        let refuse = |code: &str| {
            let mut page = refusal(403, code);
            page.headers.push(next.clone());
            Decision::Answer(page)
        };
        let Some(value) = headers::get(call.headers, RESPONSE_HEADER) else {
            return refuse("proof_required");
        };
        let proof = match Proof::parse(value) {
            Ok(p) => p,
            Err(e) => return refuse(e.code()),
        };
        let challenge = match self.binding.refresh(&proof, sid, &key, jkt, now) {
            Ok(r) => r.challenge_id,
            Err(e) => return refuse(e.code()),
        };
        let Some(bound) = self.bound_cookie(sid, jkt, now, bound_random) else {
            return Decision::Answer(Page::internal());
        };
        let mut ok = Page::json(200, &json!({}));
        ok.body = self.session_config(sid, call.public);
        ok.headers.push(("set-cookie".to_owned(), bound));
        // Sealed with an older key of `SESSION_KEYS`: sealed again with the first, as a session
        // token is re-signed, so that the old key can leave the ring.
        if stale {
            let sealed = self.key_cookie(sid, &key, claims, *issued_at, now);
            ok.headers
                .extend(sealed.map(|c| ("set-cookie".to_owned(), c)));
        }
        ok.headers.push(next.clone());
        Decision::Verify(Box::new(Pending {
            input: proof.signing_input().to_vec(),
            signature: proof.signature().to_vec(),
            key,
            challenge,
            ok,
            refusal_headers: vec![next],
        }))
    }

    /// Whether one of the request's key cookies was sealed with a key this version does not
    /// know.
    fn key_cookie_of_unknown_key(&self, headers: &[(String, String)], now: UnixTime) -> bool {
        headers::get(headers, "cookie").is_some_and(|cookies| {
            cookie::get_all_tokens(cookies, self.settings.key_cookie.name())
                .take(MAX_PRESENTED)
                .any(|value| matches!(self.keys.verify_json(value, now), Err(Error::UnknownKey(_))))
        })
    }

    /// The device key the request's key cookie holds for session `sid`, if its thumbprint is
    /// `jkt`, and whether that cookie was sealed with a key other than the first of
    /// `SESSION_KEYS` (stale).
    fn bound_key(
        &self,
        headers: &[(String, String)],
        sid: &str,
        jkt: &str,
        now: UnixTime,
    ) -> Option<(DeviceKey, bool)> {
        let cookies = headers::get(headers, "cookie")?;
        cookie::get_all_tokens(cookies, self.settings.key_cookie.name())
            .take(MAX_PRESENTED)
            .filter_map(|value| self.keys.verify_json(value, now).ok())
            .filter_map(|opened| {
                let members = object::members(&opened.claims).ok()?;
                let named = object::get(&members, "sid").and_then(object::string)?;
                let jwk = object::get(&members, "jwk")?;
                let key = (named == sid).then(|| DeviceKey::from_jwk_json(jwk).ok())??;
                Some((key, opened.stale_key))
            })
            .find(|(key, _)| key.thumbprint() == jkt)
    }
}

/// The 16 random bytes of a DBSC answer as two halves: a challenge's and a bound cookie's.
fn split(random: [u8; 16]) -> ([u8; 8], [u8; 8]) {
    let mut a = [0; 8];
    let mut b = [0; 8];
    let (x, y) = random.split_at(8);
    a.copy_from_slice(x);
    b.copy_from_slice(y);
    (a, b)
}

/// The store key of a used challenge.
fn used_key(challenge: &ChallengeId) -> String {
    format!("dbsc:{}", challenge.id)
}

thread_local! {
    /// The challenges whose use this worker instance is recording now ([`use_once`]).
    static RECORDING: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A challenge's use being recorded by this instance, until dropped (the record done, failed,
/// or the request gone with its future).
struct Recording(String);

impl Recording {
    /// `None` when this instance is recording a use of `key` already.
    fn start(key: &str) -> Option<Recording> {
        RECORDING.with(|r| {
            let mut r = r.try_borrow_mut().ok()?;
            if r.iter().any(|k| k == key) {
                return None;
            }
            r.push(key.to_owned());
            Some(Recording(key.to_owned()))
        })
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        RECORDING.with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                r.retain(|k| *k != self.0);
            }
        });
    }
}

/// Records that `challenge` was used: `challenge_reused` when it already was. A strongly
/// consistent store (Durable Objects) refuses the second use exactly (compare-and-set on a
/// key that must not exist); an eventually consistent one (KV) refuses it when the first use
/// is visible (the same location at once, others within about a minute). A use while this
/// worker instance is recording one of the same challenge (the same proof sent twice at once:
/// an instance runs requests concurrently) is refused too: on KV both would read no record
/// before either wrote one. The record lives until the challenge expires anyway.
pub async fn use_once<S: Backend>(
    store: &S,
    challenge: &ChallengeId,
    now: UnixTime,
) -> Result<(), Error> {
    let key = used_key(challenge);
    let Some(_recording) = Recording::start(&key) else {
        return Err(Error::ChallengeReused);
    };
    if store.load(&key).await?.is_some() {
        return Err(Error::ChallengeReused);
    }
    let entry = crate::store::Entry {
        version: 1,
        value: String::new(),
        expires: challenge.expires.max(now + 1),
    };
    match store.save(&key, &entry, None, now).await {
        Err(Error::Conflict) => Err(Error::ChallengeReused),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::b64_encode;
    use crate::gateway::jar::Jar;
    use crate::gateway::pipeline::{Entropy, Gateway, Request, Step};
    use crate::store::memory::MemoryStore;
    use futures_executor::block_on;

    const NOW: UnixTime = 1_800_000_000;
    const KEYS: &str = r#"[{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#;
    const X: &str = "6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI";
    const Y: &str = "IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE";

    fn gateway(extra: &[(&str, &str)]) -> Gateway {
        let mut vars = vec![
            ("ORIGINS", r#"[{"id":"a","url":"http://127.0.0.1:9001"}]"#),
            ("SESSION_KEYS", KEYS),
            ("DBSC", "on"),
        ];
        vars.extend_from_slice(extra);
        Gateway::new(crate::gateway::config::from_pairs(&vars).unwrap()).unwrap()
    }

    fn jwk(x: &str, y: &str) -> String {
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}"#)
    }

    fn other_jwk() -> String {
        jwk(&b64_encode(&[1; 32]), &b64_encode(&[2; 32]))
    }

    /// A proof JWT (the signature is WebCrypto's to check, not the decisions').
    fn proof(header: &str, jti: &str, signature_len: usize) -> String {
        format!(
            "{}.{}.{}",
            b64_encode(header.as_bytes()),
            b64_encode(format!(r#"{{"jti":"{jti}"}}"#).as_bytes()),
            b64_encode(&vec![7; signature_len])
        )
    }

    fn es256(jwk: Option<&str>, jti: &str) -> String {
        match jwk {
            Some(k) => proof(
                &format!(r#"{{"alg":"ES256","typ":"dbsc+jwt","jwk":{k}}}"#),
                jti,
                64,
            ),
            None => proof(r#"{"alg":"ES256","typ":"dbsc+jwt"}"#, jti, 64),
        }
    }

    fn entropy(n: u8) -> Entropy {
        Entropy {
            visitor: n.into(),
            sid: [n; 16],
            nonce: [n; 16],
            dbsc: std::array::from_fn(|i| n.wrapping_add(i as u8)),
        }
    }

    fn start(
        gw: &mut Gateway,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        now: UnixTime,
        n: u8,
    ) -> Step {
        let url = format!("https://app.example{path}");
        let req = Request {
            method,
            url: &url,
            headers,
            has_body: false,
        };
        gw.start(&req, now, &entropy(n))
    }

    fn decision(step: Step) -> Decision {
        match step {
            Step::Dbsc(d) => d,
            other => panic!("{other:?}"),
        }
    }

    fn answer(step: Step) -> Page {
        match decision(step) {
            Decision::Answer(p) => p,
            other => panic!("{other:?}"),
        }
    }

    fn pending(step: Step) -> Pending {
        match decision(step) {
            Decision::Verify(p) => *p,
            other => panic!("{other:?}"),
        }
    }

    fn error(page: &Page) -> (u16, String) {
        let v: serde_json::Value = serde_json::from_str(&page.body).unwrap();
        (
            page.status,
            v["error"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Logs in (the origin's `x-session-issue`): the jar and the offered challenge.
    fn login(gw: &mut Gateway, n: u8) -> (Jar, String, String) {
        let a = match start(gw, "GET", "/", &[], NOW, n) {
            Step::Proxy(a) => a,
            other => panic!("{other:?}"),
        };
        let out = gw
            .finish(
                &a,
                &[("x-session-issue".into(), r#"{"sub":"alice"}"#.into())],
                NOW,
                &entropy(n),
            )
            .unwrap();
        let offer = headers::get(&out.headers, REGISTRATION_HEADER).expect("an offer at login");
        let challenge = offer
            .split("challenge=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches('"');
        assert!(
            offer.starts_with(r#"(ES256 RS256);path="/__edge/dbsc/register";"#),
            "{offer}"
        );
        let mut jar = Jar::default();
        jar.take(&out.headers);
        (jar, challenge.to_owned(), b64_encode(&[n; 16]))
    }

    /// Logs in and registers the key `X`/`Y`: the jar with the bound session.
    fn registered(gw: &mut Gateway, n: u8) -> (Jar, String) {
        let (mut jar, challenge, sid) = login(gw, n);
        let headers = vec![
            jar.header(),
            (RESPONSE_HEADER.into(), es256(Some(&jwk(X, Y)), &challenge)),
        ];
        let p = pending(start(gw, "POST", REGISTER_PATH, &headers, NOW + 1, n));
        let page = p.finish(Ok(true), None);
        assert_eq!(page.status, 200, "{}", page.body);
        jar.take(&page.headers);
        (jar, sid)
    }

    fn origin_headers(gw: &mut Gateway, jar: &Jar, now: UnixTime) -> (Vec<(String, String)>, bool) {
        match start(gw, "GET", "/x", &[jar.header()], now, 9) {
            Step::Proxy(a) => {
                let sets_cookie = gw
                    .finish(&a, &[], now, &entropy(9))
                    .unwrap()
                    .headers
                    .iter()
                    .any(|(n, v)| n == "set-cookie" && v.starts_with("__Host-session="));
                (a.headers, sets_cookie)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn register_binds_the_session_and_the_bound_cookie_keeps_it_valid() {
        let mut gw = gateway(&[]);
        let (jar, challenge, sid) = login(&mut gw, 1);
        let headers = vec![
            jar.header(),
            (RESPONSE_HEADER.into(), es256(Some(&jwk(X, Y)), &challenge)),
        ];
        let p = pending(start(&mut gw, "POST", REGISTER_PATH, &headers, NOW + 1, 1));
        let key = DeviceKey::from_jwk_json(&jwk(X, Y)).unwrap();
        assert_eq!(p.key, key, "registration verifies with the proof's own key");
        assert_eq!(p.signature, vec![7; 64]);
        assert!(p.input.starts_with(b"eyJ") && p.input.contains(&b'.'));
        let ok = p.clone().finish(Ok(true), Some(Ok(())));
        assert_eq!(ok.status, 200);
        assert_eq!(headers::get(&ok.headers, "cache-control"), Some("no-store"));
        let config: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
        assert_eq!(config["session_identifier"], sid.as_str());
        assert_eq!(config["refresh_url"], REFRESH_PATH);
        assert_eq!(config["continue"], true);
        assert_eq!(config["scope"]["origin"], "https://app.example");
        assert_eq!(config["credentials"][0]["name"], "__Host-session-bound");
        assert_eq!(
            config["credentials"][0]["attributes"],
            "Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        let cookies: Vec<&str> = ok
            .headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(cookies.len(), 3, "{cookies:?}");
        assert!(cookies[0].starts_with("__Host-session=") && cookies[0].contains("Max-Age=3599;"));
        assert!(
            cookies[1].starts_with("__Secure-session-key=")
                && cookies[1].contains("Path=/__edge/dbsc/;")
        );
        assert!(
            cookies[1].contains("Max-Age=604799;"),
            "the key lives as long as the session can"
        );
        assert!(
            cookies[2].starts_with("__Host-session-bound=") && cookies[2].contains("Max-Age=600;")
        );
        assert!(!cookies[1].contains(X), "the key cookie is sealed");

        let mut jar = jar;
        jar.take(&ok.headers);
        // Bound and fresh: valid, with x-session-bound; the session cookie slides as usual.
        let (h, _) = origin_headers(&mut gw, &jar, NOW + 2);
        assert_eq!(headers::get(&h, "x-session-status"), Some("valid"));
        assert_eq!(headers::get(&h, BOUND_HEADER), Some("1"));
        assert_eq!(headers::get(&h, "x-session-sub"), Some("alice"));
        let claims = headers::get(&h, "x-session-claims").unwrap();
        assert!(
            claims.contains(&format!(r#""cnf":{{"jkt":"{}"}}"#, key.thumbprint())),
            "{claims}"
        );
    }

    /// A revoked bound session says nothing of its binding either.
    #[test]
    fn a_revoked_bound_session_is_only_revoked() {
        let mut gw = gateway(&[("STORE", "kv")]);
        let (jar, _) = registered(&mut gw, 1);
        let mut a = match start(&mut gw, "GET", "/", &[jar.header()], NOW + 2, 9) {
            Step::Proxy(a) => a,
            other => panic!("{other:?}"),
        };
        assert_eq!(headers::get(&a.headers, BOUND_HEADER), Some("1"));
        let revocation = crate::store::Revocation {
            before: NOW + 1,
            except: None,
        };
        assert_eq!(gw.check_revocation(&mut a, Ok(Some(revocation))), None);
        assert_eq!(
            headers::get(&a.headers, "x-session-status"),
            Some("revoked")
        );
        assert_eq!(headers::get(&a.headers, BOUND_HEADER), None);
    }

    /// The answer of the origin to one request of `jar` at `now`: the cookies it leaves in a
    /// copy of the jar, and the answer's headers.
    fn answered(
        gw: &mut Gateway,
        jar: &Jar,
        origin: &[(&str, &str)],
        now: UnixTime,
    ) -> (Jar, Vec<(String, String)>) {
        let a = match start(gw, "GET", "/account", &[jar.header()], now, 3) {
            Step::Proxy(a) => a,
            other => panic!("{other:?}"),
        };
        let origin: Vec<(String, String)> = (origin.iter())
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let out = gw.finish(&a, &origin, now, &entropy(3)).unwrap().headers;
        let mut after = jar.clone();
        after.take(&out);
        (after, out)
    }

    /// An origin that re-issues a logged-in user's claims (`x-session-issue` for the same `sub`:
    /// a role changed, an organisation switched) on a request that came bound, with its fresh
    /// bound cookie, gets a new version of the same device-bound session: its session id, its
    /// `cnf.jkt` and its login time kept, no registration offered. It made a new session without
    /// `cnf`: a thief of the cookie jar who reached such a path within the bound cookie's life
    /// (minutes) came away with a session that was not device-bound, valid without any bound
    /// cookie until its end (and a registration offer for a key of the thief's own).
    #[test]
    fn a_reissue_on_a_bound_request_keeps_the_binding() {
        let mut gw = gateway(&[]);
        let (jar, sid) = registered(&mut gw, 1);
        let reissue = [("x-session-issue", r#"{"sub":"alice","role":"editor"}"#)];
        let (after, out) = answered(&mut gw, &jar, &reissue, NOW + 2);
        assert_eq!(headers::get(&out, REGISTRATION_HEADER), None, "no offer");
        let session = session_in(&gw, &after);
        let SessionCookie::Valid {
            sid: Some(kept),
            jkt: Some(jkt),
            claims,
            issued_at,
            ..
        } = session
        else {
            panic!("{session:?}")
        };
        assert_eq!(kept, sid, "the session id is kept");
        assert_eq!(
            jkt,
            DeviceKey::from_jwk_json(&jwk(X, Y)).unwrap().thumbprint()
        );
        assert!(claims.contains(r#""role":"editor""#), "{claims}");
        assert_eq!(issued_at, NOW, "the login time is kept");

        // The thief's copy, the bound cookie left behind or dead: unbound, no identity.
        let stolen = after.without("__Host-session-bound");
        let (h, _) = origin_headers(&mut gw, &stolen, NOW + 3);
        assert_eq!(headers::get(&h, "x-session-status"), Some(UNBOUND));
        assert_eq!(headers::get(&h, "x-session-sub"), None);
        let (h, _) = origin_headers(&mut gw, &after, NOW + 1 + 601);
        assert_eq!(headers::get(&h, "x-session-status"), Some(UNBOUND));
        // The browser's: bound with the new claims, and refreshed as before.
        let (h, _) = origin_headers(&mut gw, &after, NOW + 3);
        assert_eq!(headers::get(&h, BOUND_HEADER), Some("1"));
        assert!(headers::get(&h, "x-session-claims").is_some_and(|c| c.contains("editor")));
        let c = refresh_challenge(&mut gw, &after, &sid, NOW + 700);
        let ok = refresh_proved(&mut gw, &after, &sid, &c, NOW + 700).finish(Ok(true), None);
        assert_eq!(ok.status, 200, "{}", ok.body);
        // Never past the login's longest life (here an hour, the tokens' lifetime).
        let mut short = gateway(&[("SESSION_MAX_LIFETIME_SECONDS", "3600")]);
        let (jar, _) = registered(&mut short, 1);
        let (_, out) = answered(&mut short, &jar, &reissue, NOW + 100);
        let set = (out.iter()).find(|(n, v)| n == "set-cookie" && v.starts_with("__Host-session="));
        assert!(
            set.is_some_and(|(_, v)| v.contains("Max-Age=3500;")),
            "{set:?}"
        );

        // Another subject, or the same with a logout in the same answer: a new session, not
        // bound, offered registration, as any login.
        for origin in [
            &[("x-session-issue", r#"{"sub":"bob"}"#)][..],
            &[
                ("x-session-issue", r#"{"sub":"alice"}"#),
                ("x-session-clear", "1"),
            ],
        ] {
            let (after, out) = answered(&mut gw, &jar, origin, NOW + 2);
            assert!(
                headers::get(&out, REGISTRATION_HEADER).is_some(),
                "{origin:?}"
            );
            assert!(a_new_unbound_session(&gw, &after, &sid), "{origin:?}");
        }
        // With DBSC off, `cnf` is not read: a re-issue is a login as any other.
        let mut off = gateway(&[("DBSC", "off")]);
        let (after, _) = answered(&mut off, &jar, &reissue, NOW + 2);
        assert!(a_new_unbound_session(&off, &after, &sid), "DBSC off");
    }

    /// The session cookie `jar` holds, as the gateway reads it at `NOW + 2`.
    fn session_in(gw: &Gateway, jar: &Jar) -> SessionCookie {
        let tokens = &gw.config().built.tokens;
        SessionCookie::read(tokens, Some(&jar.header().1), "__Host-session", NOW + 2)
    }

    /// Whether `jar` holds a valid session other than `sid`, bound to no key.
    fn a_new_unbound_session(gw: &Gateway, jar: &Jar, sid: &str) -> bool {
        let session = session_in(gw, jar);
        let SessionCookie::Valid {
            sid: Some(new),
            jkt,
            ..
        } = session
        else {
            panic!("{session:?}")
        };
        new != sid && jkt.is_none()
    }

    /// The session cookie alone (a thief's copy, or a bound cookie gone stale) reaches the
    /// origin as `unbound`: no identity, no claims, the cookie neither refreshed nor cleared.
    #[test]
    fn a_bound_session_without_its_bound_cookie_is_unbound() {
        let mut gw = gateway(&[]);
        let (jar, sid) = registered(&mut gw, 1);
        let stolen = jar.without("__Host-session-bound");
        let forged = {
            let mut j = stolen.clone();
            j.0.push(("__Host-session-bound".into(), "AAAA".into()));
            j
        };
        // Another session's bound cookie (a second login in the same browser) does not count.
        let (other, _) = registered(&mut gw, 2);
        let mixed = {
            let mut j = stolen.clone();
            j.0.push((
                "__Host-session-bound".into(),
                other.get("__Host-session-bound").unwrap().into(),
            ));
            j
        };
        // Past `refreshAfter` (half its life), still valid: a bound session would be refreshed.
        let due = NOW + gw.config().tokens().ttl_seconds * 3 / 4;
        for (jar, now, why) in [
            (&stolen, NOW + 2, "no bound cookie"),
            (&stolen, due, "no bound cookie, a refresh due"),
            (&forged, NOW + 2, "a forged bound cookie"),
            (&mixed, NOW + 2, "another session's bound cookie"),
            (&jar, NOW + 1 + 601, "an expired bound cookie"),
        ] {
            let (h, sets_session) = origin_headers(&mut gw, jar, now);
            assert_eq!(headers::get(&h, "x-session-status"), Some(UNBOUND), "{why}");
            for name in [
                "x-session-sub",
                "x-session-id",
                "x-session-claims",
                BOUND_HEADER,
            ] {
                assert_eq!(headers::get(&h, name), None, "{why}: {name}");
            }
            assert!(
                !sets_session,
                "{why}: the session cookie is neither refreshed nor cleared"
            );
        }
        // The bound cookie alone is nothing.
        let alone = Jar(vec![(
            "__Host-session-bound".into(),
            jar.get("__Host-session-bound").unwrap().into(),
        )]);
        assert_eq!(
            headers::get(
                &origin_headers(&mut gw, &alone, NOW + 2).0,
                "x-session-status"
            ),
            Some("none")
        );
        // A session that never registered works as before, without x-session-bound.
        let (plain, _, _) = login(&mut gw, 3);
        let (h, _) = origin_headers(&mut gw, &plain, NOW + 2);
        assert_eq!(headers::get(&h, "x-session-status"), Some("valid"));
        assert_eq!(headers::get(&h, BOUND_HEADER), None);
        let _ = sid;
    }

    #[test]
    fn registration_refusals() {
        let mut gw = gateway(&[]);
        let (jar, challenge, _) = login(&mut gw, 1);
        let (jar2, challenge2, _) = login(&mut gw, 2);
        let key = jwk(X, Y);
        // Another session's cookie sent ahead of the visitor's own (a sibling subdomain's).
        let mut tossed = jar.clone();
        let other = (
            "__Host-session".into(),
            jar2.get("__Host-session").unwrap().into(),
        );
        tossed.0.insert(0, other);
        let refused =
            |gw: &mut Gateway, method: &str, headers: Vec<(String, String)>, now: UnixTime| {
                let page = answer(start(gw, method, REGISTER_PATH, &headers, now, 1));
                assert_eq!(
                    headers::get(&page.headers, "cache-control"),
                    Some("no-store")
                );
                if page.status == 405 {
                    return (405, String::new());
                }
                error(&page)
            };
        let with = |jar: &Jar, proof: String| vec![jar.header(), (RESPONSE_HEADER.into(), proof)];
        type Case<'a> = (
            &'a str,
            &'a str,
            Vec<(String, String)>,
            UnixTime,
            (u16, &'a str),
        );
        let cases: Vec<Case> = vec![
            (
                "GET",
                "a GET",
                with(&jar, es256(Some(&key), &challenge)),
                NOW,
                (405, ""),
            ),
            (
                "POST",
                "no session",
                vec![(RESPONSE_HEADER.into(), es256(Some(&key), &challenge))],
                NOW,
                (403, "no_session"),
            ),
            (
                "POST",
                "no proof",
                vec![jar.header()],
                NOW,
                (400, "malformed"),
            ),
            (
                "POST",
                "a proof without its key",
                with(&jar, es256(None, &challenge)),
                NOW,
                (400, "malformed"),
            ),
            (
                "POST",
                "alg none",
                with(
                    &jar,
                    proof(
                        &format!(r#"{{"alg":"none","typ":"dbsc+jwt","jwk":{key}}}"#),
                        &challenge,
                        0,
                    ),
                ),
                NOW,
                (403, "unsupported_alg"),
            ),
            (
                "POST",
                "typ missing",
                with(
                    &jar,
                    proof(&format!(r#"{{"alg":"ES256","jwk":{key}}}"#), &challenge, 64),
                ),
                NOW,
                (400, "malformed"),
            ),
            (
                "POST",
                "two session cookies",
                with(&tossed, es256(Some(&key), &challenge2)),
                NOW,
                (403, "ambiguous_session"),
            ),
            (
                "POST",
                "a challenge never issued",
                with(
                    &jar,
                    es256(Some(&key), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ),
                NOW,
                (403, "unknown_challenge"),
            ),
            (
                "POST",
                "another session's challenge",
                with(&jar, es256(Some(&key), &challenge2)),
                NOW,
                (403, "unknown_challenge"),
            ),
            (
                "POST",
                "an expired challenge",
                with(&jar, es256(Some(&key), &challenge)),
                NOW + 301,
                (403, "expired"),
            ),
            (
                "POST",
                "garbage",
                with(&jar, "not a jwt".into()),
                NOW,
                (400, "malformed"),
            ),
        ];
        for (method, why, headers, now, (status, code)) in cases {
            let (s, c) = refused(&mut gw, method, headers, now);
            assert_eq!((s, c.as_str()), (status, code), "{why}");
        }
        // The second session registers with its own challenge; once bound, never again.
        let p = pending(start(
            &mut gw,
            "POST",
            REGISTER_PATH,
            &with(&jar2, es256(Some(&key), &challenge2)),
            NOW,
            2,
        ));
        let mut bound = jar2.clone();
        bound.take(&p.finish(Ok(true), None).headers);
        let (s, c) = refused(
            &mut gw,
            "POST",
            with(&bound, es256(Some(&other_jwk()), &challenge2)),
            NOW,
        );
        assert_eq!((s, c.as_str()), (403, "already_bound"));
    }

    /// The refusals of docs/gateway.md's DBSC section, per endpoint: the text between
    /// `Registration:` and `Refresh:`, and between `Refresh:` and `503`.
    fn documented_refusals() -> (String, String) {
        let doc = include_str!("../../docs/gateway.md");
        let list = doc
            .split_once("Every refusal of a POST has its defined answer")
            .map(|(_, rest)| rest.replace('\n', " "))
            .expect("the DBSC section lists its refusals");
        let (_, registration) = list.split_once("Registration:").unwrap();
        let (registration, refresh) = registration.split_once("Refresh:").unwrap();
        let (refresh, _) = refresh.split_once("503").unwrap();
        (registration.to_owned(), refresh.to_owned())
    }

    /// A challenge issued more than a minute ahead of the gateway's clock (by another location
    /// whose clock runs ahead) is refused at both endpoints with `not_yet_valid`, a code
    /// docs/gateway.md lists for each (it listed every other refusal but not this one).
    #[test]
    fn a_challenge_from_the_future_is_refused_as_the_docs_say() {
        // A session cookie from that location still reads here (its own leeway is wider).
        let mut gw = gateway(&[("SESSION_LEEWAY_SECONDS", "300")]);
        let (documented_registration, documented_refresh) = documented_refusals();
        let (jar, challenge, _) = login(&mut gw, 1);
        let headers = vec![
            jar.header(),
            (RESPONSE_HEADER.into(), es256(Some(&jwk(X, Y)), &challenge)),
        ];
        let page = answer(start(&mut gw, "POST", REGISTER_PATH, &headers, NOW - 61, 1));
        assert_eq!(error(&page), (403, "not_yet_valid".into()));
        assert!(
            documented_registration.contains("`not_yet_valid`"),
            "registration refusals in docs/gateway.md: {documented_registration}"
        );

        let (jar, sid) = registered(&mut gw, 2);
        let c = refresh_challenge(&mut gw, &jar, &sid, NOW + 100);
        let page = answer(refresh(
            &mut gw,
            &jar,
            Some(&sid),
            Some(es256(None, &c)),
            NOW + 100 - 61,
        ));
        assert_eq!(error(&page), (403, "not_yet_valid".into()));
        assert_ne!(challenge_of(&page, &sid), c, "with a fresh challenge");
        assert!(
            documented_refresh.contains("`not_yet_valid`"),
            "refresh refusals in docs/gateway.md: {documented_refresh}"
        );
    }

    /// What the signature check and the store say decide the answer.
    #[test]
    fn signature_and_single_use() {
        let mut gw = gateway(&[]);
        let (jar, challenge, _) = login(&mut gw, 1);
        let headers = vec![
            jar.header(),
            (RESPONSE_HEADER.into(), es256(Some(&jwk(X, Y)), &challenge)),
        ];
        let p = pending(start(&mut gw, "POST", REGISTER_PATH, &headers, NOW, 1));
        assert_eq!(
            error(&p.clone().finish(Ok(false), None)),
            (403, "bad_signature".into())
        );
        assert_eq!(p.clone().finish(Err(()), None).status, 500);
        assert_eq!(
            error(
                &p.clone()
                    .finish(Ok(true), Some(Err(Error::ChallengeReused)))
            ),
            (403, "challenge_reused".into())
        );
        assert_eq!(
            error(
                &p.clone()
                    .finish(Ok(true), Some(Err(Error::StoreUnavailable("down".into()))))
            ),
            (503, "store_unavailable".into())
        );
        for refused in [
            p.clone().finish(Ok(false), None),
            p.clone()
                .finish(Ok(true), Some(Err(Error::ChallengeReused))),
        ] {
            assert!(
                !refused.headers.iter().any(|(n, _)| n == "set-cookie"),
                "a refusal binds nothing"
            );
        }
        // The store: once, then never again.
        let store = MemoryStore::new();
        assert_eq!(block_on(use_once(&store, &p.challenge, NOW)), Ok(()));
        assert_eq!(
            block_on(use_once(&store, &p.challenge, NOW + 1)),
            Err(Error::ChallengeReused)
        );
    }

    /// KV as one location sees it: reads see the writes made there, a save checks no version
    /// (last write wins), and every operation first lets other requests run, as a remote one does.
    struct LastWriteWins(MemoryStore);

    /// Pending once, then ready: the other futures of a join run in between.
    async fn yield_once() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                std::task::Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await
    }

    impl Backend for LastWriteWins {
        crate::store::passed_to!(0; delete, link, revoke);
        async fn load(&self, key: &str) -> crate::error::Result<Option<crate::store::Entry>> {
            yield_once().await;
            self.0.load(key).await
        }
        async fn save(
            &self,
            key: &str,
            entry: &crate::store::Entry,
            _: Option<u64>,
            now: UnixTime,
        ) -> crate::error::Result<()> {
            yield_once().await;
            // The memory store answers at once: nothing runs between these two.
            let current = self.0.load(key).await?.map(|e| e.version);
            self.0.save(key, entry, current, now).await
        }
        fn consistency(&self) -> crate::store::Consistency {
            crate::store::Consistency::Eventual
        }
    }

    /// One proof sent twice at once to one instance (requests run concurrently in an isolate):
    /// on KV both read "unused" before either wrote, and both were accepted. One is refused.
    #[test]
    fn a_challenge_used_twice_at_once_is_used_once() {
        let challenge = ChallengeId {
            id: "c2VjcmV0LWNoYWxsZW5nZQ".into(),
            expires: NOW + 300,
        };
        // Both answers of two uses at once, the accepted first.
        fn both<S: Backend>(store: &S, challenge: &ChallengeId) -> [Result<(), Error>; 2] {
            let (a, b) = block_on(futures_util::future::join(
                use_once(store, challenge, NOW),
                use_once(store, challenge, NOW),
            ));
            let mut answers = [a, b];
            answers.sort_by_key(Result::is_err);
            answers
        }
        let once = [Ok(()), Err(Error::ChallengeReused)];
        let kv = LastWriteWins(MemoryStore::new());
        assert_eq!(both(&kv, &challenge), once);
        // A later one finds the record.
        assert_eq!(
            block_on(use_once(&kv, &challenge, NOW + 1)),
            Err(Error::ChallengeReused)
        );
        // A Durable Object (compare-and-set) as well.
        assert_eq!(both(&MemoryStore::new().interleaving(), &challenge), once);
        // A request gone while it recorded (its future dropped) leaves no use behind.
        let fresh = ChallengeId {
            id: "b3RoZXItY2hhbGxlbmdlLWlk".into(),
            expires: NOW + 300,
        };
        let gone = futures_util::FutureExt::now_or_never(use_once(&kv, &fresh, NOW));
        assert_eq!(gone, None, "dropped while it waited for the store");
        assert_eq!(block_on(use_once(&kv, &fresh, NOW)), Ok(()));
    }

    fn refresh(
        gw: &mut Gateway,
        jar: &Jar,
        sid: Option<&str>,
        proof: Option<String>,
        now: UnixTime,
    ) -> Step {
        let mut headers = vec![jar.header()];
        headers.extend(sid.map(|s| (SESSION_ID_HEADER.to_owned(), format!("\"{s}\""))));
        headers.extend(proof.map(|p| (RESPONSE_HEADER.to_owned(), p)));
        start(gw, "POST", REFRESH_PATH, &headers, now, 5)
    }

    /// The challenge a refresh of `sid` without a proof answers with (403).
    fn refresh_challenge(gw: &mut Gateway, jar: &Jar, sid: &str, now: UnixTime) -> String {
        challenge_of(&answer(refresh(gw, jar, Some(sid), None, now)), sid)
    }

    /// A refresh of `sid` with the proof of `challenge` by the bound key, waiting for its
    /// signature check.
    fn refresh_proved(
        gw: &mut Gateway,
        jar: &Jar,
        sid: &str,
        challenge: &str,
        now: UnixTime,
    ) -> Pending {
        pending(refresh(
            gw,
            jar,
            Some(sid),
            Some(es256(None, challenge)),
            now,
        ))
    }

    /// The challenge of a 403 `Secure-Session-Challenge: "<c>";id="<sid>"`.
    fn challenge_of(page: &Page, sid: &str) -> String {
        let value = headers::get(&page.headers, CHALLENGE_HEADER).expect("a challenge");
        let (c, id) = value.split_once(";id=").unwrap();
        assert_eq!(id, format!("\"{sid}\""));
        c.trim_matches('"').to_owned()
    }

    #[test]
    fn refresh_rotates_the_bound_cookie_for_a_proof_by_the_bound_key() {
        let mut gw = gateway(&[]);
        let (jar, sid) = registered(&mut gw, 1);
        let later = NOW + 700;
        let stale = jar.without("__Host-session-bound");
        // No proof: 403 and a challenge.
        let page = answer(refresh(&mut gw, &stale, Some(&sid), None, later));
        assert_eq!(error(&page), (403, "proof_required".into()));
        let c = challenge_of(&page, &sid);
        // The proof of it, by the bound key (no jwk in its header): a new bound cookie.
        let p = refresh_proved(&mut gw, &stale, &sid, &c, later + 1);
        assert_eq!(
            p.key,
            DeviceKey::from_jwk_json(&jwk(X, Y)).unwrap(),
            "verified with the bound key"
        );
        let ok = p.finish(Ok(true), Some(Ok(())));
        assert_eq!(ok.status, 200);
        let next = challenge_of(&ok, &sid);
        assert_ne!(next, c);
        let config: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
        assert_eq!(config["session_identifier"], sid.as_str());
        let mut fresh = stale.clone();
        fresh.take(&ok.headers);
        let new_bound = fresh.get("__Host-session-bound").unwrap();
        assert_ne!(
            Some(new_bound),
            jar.get("__Host-session-bound"),
            "always a new value"
        );
        let (h, _) = origin_headers(&mut gw, &fresh, later + 2);
        assert_eq!(headers::get(&h, "x-session-status"), Some("valid"));
        assert_eq!(headers::get(&h, BOUND_HEADER), Some("1"));
        // The next challenge works the same way, and so does the one before (tabs race).
        for c in [next, c] {
            let p = refresh_proved(&mut gw, &fresh, &sid, &c, later + 3);
            assert_eq!(p.finish(Ok(true), None).status, 200);
        }
    }

    /// A refresh's challenge and bound cookie carry the request's own random bytes: two of one
    /// session in the same second differ (a challenge known ahead would let whoever briefly
    /// holds a device key sign proofs for later).
    #[test]
    fn challenges_and_bound_cookies_carry_the_requests_entropy() {
        let mut gw = gateway(&[]);
        let (jar, sid) = registered(&mut gw, 1);
        let stale = jar.without("__Host-session-bound");
        let later = NOW + 700;
        let headers = [
            stale.header(),
            (SESSION_ID_HEADER.to_owned(), format!("\"{sid}\"")),
        ];
        let mut refreshed = |proof: Option<&str>, n: u8| {
            let mut headers = headers.to_vec();
            headers.extend(proof.map(|c| (RESPONSE_HEADER.to_owned(), es256(None, c))));
            match proof {
                None => challenge_of(
                    &answer(start(&mut gw, "POST", REFRESH_PATH, &headers, later, n)),
                    &sid,
                ),
                Some(_) => {
                    let p = pending(start(&mut gw, "POST", REFRESH_PATH, &headers, later, n));
                    let mut jar = stale.clone();
                    jar.take(&p.finish(Ok(true), None).headers);
                    jar.get("__Host-session-bound").unwrap().to_owned()
                }
            }
        };
        let (a, b) = (refreshed(None, 5), refreshed(None, 6));
        assert_ne!(a, b);
        assert_ne!(refreshed(Some(&a), 5), refreshed(Some(&a), 6));
    }

    /// A JWT session of another system with the same keys, whose `exp` may lie past its longest
    /// life: bound to a device, its key cookie lives as long as the session can, to its longest
    /// life from its login, and its bound cookie is refreshed with it. One without an `iat`, or
    /// whose `iat` is older than `SESSION_MAX_LIFETIME_SECONDS`, is past its longest life
    /// whatever its `exp` (its subject's revocation record is kept only that long): no session
    /// to register (such a session was bound once, its key cookie `Max-Age=0`, a removal).
    #[test]
    fn a_jwt_session_of_another_system_binds_for_its_own_life() {
        let secret =
            crate::keys::Secret::from_base64("muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620")
                .unwrap();
        for (iat, registered) in [
            (Some(NOW - 100), true),
            (None, false),
            (Some(NOW - 8 * 86_400), false),
        ] {
            let mut gw = gateway(&[("SESSION_FORMAT", "jwt")]);
            let (mut jar, challenge, sid) = login(&mut gw, 1);
            let iat = iat.map_or(String::new(), |t| format!(r#","iat":{t}"#));
            let payload = format!(
                r#"{{"sub":"alice","sid":"{sid}","exp":{}{iat}}}"#,
                NOW + 7200
            );
            let input = format!(
                "{}.{}",
                b64_encode(br#"{"alg":"HS256"}"#),
                b64_encode(payload.as_bytes())
            );
            let tag = crate::keys::MacKey::new(secret.expose()).full_tag(input.as_bytes());
            let session = format!("{input}.{}", b64_encode(&tag));
            jar.take(&[(
                "set-cookie".into(),
                format!("__Host-session={session}; Path=/"),
            )]);
            let headers = vec![
                jar.header(),
                (RESPONSE_HEADER.into(), es256(Some(&jwk(X, Y)), &challenge)),
            ];
            if !registered {
                let page = answer(start(&mut gw, "POST", REGISTER_PATH, &headers, NOW + 1, 1));
                assert_eq!(page.status, 403, "{iat}: {}", page.body);
                assert!(page.body.contains("no_session"), "{iat}: {}", page.body);
                continue;
            }
            let p = pending(start(&mut gw, "POST", REGISTER_PATH, &headers, NOW + 1, 1));
            let ok = p.finish(Ok(true), None);
            assert_eq!(ok.status, 200, "{iat}: {}", ok.body);
            let key_cookie = ok
                .headers
                .iter()
                .find(|(n, v)| n == "set-cookie" && v.starts_with("__Secure-session-key="))
                .map(|(_, v)| v.as_str())
                .unwrap();
            let longest = 7 * 86_400 - 100 - 1;
            assert!(
                key_cookie.contains(&format!("Max-Age={longest};")),
                "{iat}: the key lives as long as the bound session can: {key_cookie}"
            );
            jar.take(&ok.headers);
            // The bound cookie expires; its refresh finds the key and proves it.
            let later = NOW + 700;
            let stale = jar.without("__Host-session-bound");
            let c = refresh_challenge(&mut gw, &stale, &sid, later);
            let p = refresh_proved(&mut gw, &stale, &sid, &c, later + 1);
            assert_eq!(p.finish(Ok(true), None).status, 200, "{iat}");
        }
    }

    /// The `set-cookie` names of an answer.
    fn cookie_names(page: &Page) -> Vec<&str> {
        page.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| v.split('=').next())
            .collect()
    }

    /// A key rotation as the docs say (the new key first, the old one kept until the tokens it
    /// signed expired, then removed) keeps the device-bound sessions: the key cookie, sealed at
    /// registration and living as long as the session, is sealed again with the new key at a
    /// refresh, as a session token is re-signed at its sliding refresh. It was not: once the
    /// old key left `SESSION_KEYS`, every session bound before the rotation got
    /// `{"continue": false}` at its next refresh (no key cookie this version can open), and
    /// then reached the origin unbound.
    #[test]
    fn a_key_rotation_keeps_device_bound_sessions() {
        let (new, old) = (
            r#"{"id":"k2","secret":"L9ERtFr_UDfghw_huB2r602KICH8c1I02bVzSeRitnI"}"#,
            r#"{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}"#,
        );
        let mut before = gateway(&[]);
        let (jar, sid) = registered(&mut before, 1);
        let refreshed = |gw: &mut Gateway, jar: &Jar, now: UnixTime| {
            let stale = jar.without("__Host-session-bound");
            let c = refresh_challenge(gw, &stale, &sid, now);
            let p = refresh_proved(gw, &stale, &sid, &c, now);
            p.finish(Ok(true), Some(Ok(())))
        };
        // With the keys unchanged, a refresh sets the bound cookie alone.
        let ok = refreshed(&mut before, &jar, NOW + 700);
        assert_eq!(cookie_names(&ok), ["__Host-session-bound"]);

        // The new key first: the key cookie, sealed with the old one, is sealed again.
        let mut rotated = gateway(&[("SESSION_KEYS", &format!("[{new},{old}]"))]);
        let ok = refreshed(&mut rotated, &jar, NOW + 700);
        assert_eq!(
            cookie_names(&ok),
            ["__Host-session-bound", "__Secure-session-key"]
        );
        let mut jar = jar;
        jar.take(&ok.headers);
        let key_cookie = ok.headers.iter().find(|(_, v)| v.starts_with("__Secure-"));
        let key_cookie = &key_cookie.unwrap().1;
        assert!(
            key_cookie.contains("Path=/__edge/dbsc/;") && key_cookie.contains("SameSite=Strict"),
            "{key_cookie}"
        );
        assert!(
            key_cookie.contains(&format!("Max-Age={};", 604_800 - 700)),
            "it still ends with the session: {key_cookie}"
        );
        // A bound request re-signs the session cookie with the new key (sliding refresh).
        let a = match start(&mut rotated, "GET", "/x", &[jar.header()], NOW + 701, 9) {
            Step::Proxy(a) => a,
            other => panic!("{other:?}"),
        };
        jar.take(
            &rotated
                .finish(&a, &[], NOW + 701, &entropy(9))
                .unwrap()
                .headers,
        );

        // The old key removed: the session is still bound, and refreshes.
        let mut after = gateway(&[("SESSION_KEYS", &format!("[{new}]"))]);
        let ok = refreshed(&mut after, &jar, NOW + 1400);
        assert_eq!(
            (ok.status, cookie_names(&ok)),
            (200, vec!["__Host-session-bound"])
        );
        jar.take(&ok.headers);
        let (h, _) = origin_headers(&mut after, &jar, NOW + 1401);
        assert_eq!(headers::get(&h, BOUND_HEADER), Some("1"));
    }

    /// The same spread, with the session cookie still the old key's: a refresh at an instance
    /// of the new version seals the key cookie again with the new key, and the next refresh,
    /// at an instance of the old version, cannot open it. That ended the device-bound session
    /// (`{"continue": false}`: unbound at every instance from then on); it is a 503 now.
    #[test]
    fn a_key_cookie_of_a_key_this_version_does_not_know_does_not_end_the_session() {
        let rotated = r#"[{"id":"k2","secret":"L9ERtFr_UDfghw_huB2r602KICH8c1I02bVzSeRitnI"},{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#;
        let mut new = gateway(&[("SESSION_KEYS", rotated)]);
        let mut old = gateway(&[]);
        let (mut jar, sid) = registered(&mut old, 1);
        let stale = jar.without("__Host-session-bound");
        let c = refresh_challenge(&mut new, &stale, &sid, NOW + 700);
        let ok =
            refresh_proved(&mut new, &stale, &sid, &c, NOW + 700).finish(Ok(true), Some(Ok(())));
        assert_eq!(
            cookie_names(&ok),
            ["__Host-session-bound", "__Secure-session-key"]
        );
        jar.take(&ok.headers);
        let stale = jar.without("__Host-session-bound");
        let page = answer(refresh(&mut old, &stale, Some(&sid), None, NOW + 1400));
        assert_eq!(error(&page), (503, "unknown_key".into()), "{}", page.body);
        // A key cookie that is forged or absent still ends the session.
        let page = answer(refresh(
            &mut old,
            &stale.without("__Secure-session-key"),
            Some(&sid),
            None,
            NOW + 1400,
        ));
        assert_eq!(page.body, r#"{"continue":false}"#);
    }

    /// A key rotation deployed in one step (the new key put first in `SESSION_KEYS` at once)
    /// spreads over minutes: an instance of the old version meets session cookies the new one
    /// signed and cannot read them. It keeps them (see `Gateway::start`), and its refresh answer
    /// is a 503 (`unknown_key`) that the browser retries later, not `{"continue": false}`: that
    /// ended the browser's device-bound session for good, and the session, still carrying
    /// `cnf`, then reached the origin unbound at every instance (the user logged out).
    #[test]
    fn a_key_rotation_spreading_does_not_end_device_bound_sessions() {
        let rotated = r#"[{"id":"k2","secret":"L9ERtFr_UDfghw_huB2r602KICH8c1I02bVzSeRitnI"},{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#;
        let mut new = gateway(&[("SESSION_KEYS", rotated)]);
        let mut old = gateway(&[]);
        let (jar, sid) = registered(&mut new, 1);
        let stale = jar.without("__Host-session-bound");
        let proof = Some(es256(None, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        for proof in [None, proof] {
            let page = answer(refresh(&mut old, &stale, Some(&sid), proof, NOW + 700));
            assert_eq!(error(&page), (503, "unknown_key".into()), "{}", page.body);
            assert!(cookie_names(&page).is_empty());
            assert_eq!(headers::get(&page.headers, "x-frame-options"), Some("DENY"));
        }
        // An instance of the new version refreshes it.
        let page = answer(refresh(&mut new, &stale, Some(&sid), None, NOW + 700));
        assert_eq!(error(&page), (403, "proof_required".into()));
        // A session cookie that is expired, forged or absent still ends the session.
        let forged = {
            let mut j = stale.without("__Host-session");
            j.0.push(("__Host-session".into(), "AAAA".into()));
            j
        };
        for (why, jar, now) in [
            ("expired", &stale, NOW + 3_700),
            ("forged", &forged, NOW + 700),
            ("absent", &stale.without("__Host-session"), NOW + 700),
        ] {
            let page = answer(refresh(&mut new, jar, Some(&sid), None, now));
            assert_eq!(page.body, r#"{"continue":false}"#, "{why}");
        }
    }

    /// workerd joins several `Cookie` headers with `, `: the bound and key cookies that end
    /// one are read as they are, not with the next header's first cookie in their values.
    #[test]
    fn bound_and_key_cookies_before_a_join_are_read() {
        let mut gw = gateway(&[]);
        let (jar, sid) = registered(&mut gw, 1);
        let joined = |jar: &Jar, name: &str| {
            let mut out = jar.without(name);
            let value = format!("{}, c=3", jar.get(name).unwrap());
            out.0.push((name.into(), value));
            out
        };
        let (h, _) = origin_headers(&mut gw, &joined(&jar, "__Host-session-bound"), NOW + 2);
        assert_eq!(headers::get(&h, "x-session-status"), Some("valid"));
        assert_eq!(headers::get(&h, BOUND_HEADER), Some("1"));
        let later = NOW + 700;
        let stale = joined(&jar.without("__Host-session-bound"), "__Secure-session-key");
        let c = refresh_challenge(&mut gw, &stale, &sid, later);
        let p = refresh_proved(&mut gw, &stale, &sid, &c, later + 1);
        assert_eq!(p.finish(Ok(true), Some(Ok(()))).status, 200);
    }

    /// Of several key cookies for the session (one left by an earlier registration of another
    /// key, say on another path), the one holding the session's key is the one used.
    #[test]
    fn the_key_cookie_of_the_sessions_key_is_used() {
        let mut gw = gateway(&[]);
        let (jar, challenge, sid) = login(&mut gw, 1);
        let mut register = |jwk: &str| {
            let headers = vec![
                jar.header(),
                (RESPONSE_HEADER.into(), es256(Some(jwk), &challenge)),
            ];
            let p = pending(start(&mut gw, "POST", REGISTER_PATH, &headers, NOW + 1, 1));
            let page = p.finish(Ok(true), None);
            assert_eq!(page.status, 200, "{}", page.body);
            let mut bound = jar.clone();
            bound.take(&page.headers);
            bound
        };
        let other = register(&other_jwk());
        let mut bound = register(&jwk(X, Y));
        let stale_key = other.get("__Secure-session-key").unwrap().to_owned();
        bound
            .0
            .insert(0, ("__Secure-session-key".into(), stale_key));
        let c = refresh_challenge(&mut gw, &bound, &sid, NOW + 10);
        let p = refresh_proved(&mut gw, &bound, &sid, &c, NOW + 11);
        assert_eq!(p.key, DeviceKey::from_jwk_json(&jwk(X, Y)).unwrap());
    }

    #[test]
    fn refresh_refusals() {
        let mut gw = gateway(&[]);
        let (jar, sid) = registered(&mut gw, 1);
        let c = refresh_challenge(&mut gw, &jar, &sid, NOW + 10);
        let (_, registration, _) = login(&mut gw, 7);
        let other = other_jwk();
        for (why, proof, code) in [
            (
                "another key's proof",
                es256(Some(&other), &c),
                "key_mismatch",
            ),
            (
                "an RS256 proof for an EC key",
                proof(r#"{"alg":"RS256","typ":"dbsc+jwt"}"#, &c, 256),
                "key_mismatch",
            ),
            (
                "alg none",
                proof(r#"{"alg":"none","typ":"dbsc+jwt"}"#, &c, 0),
                "unsupported_alg",
            ),
            (
                "typ missing",
                proof(r#"{"alg":"ES256"}"#, &c, 64),
                "malformed",
            ),
            (
                "a challenge never issued",
                es256(None, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                "unknown_challenge",
            ),
            (
                "a registration challenge",
                es256(None, &registration),
                "unknown_challenge",
            ),
        ] {
            let page = answer(refresh(&mut gw, &jar, Some(&sid), Some(proof), NOW + 11));
            assert_eq!(error(&page), (403, code.into()), "{why}");
            challenge_of(&page, &sid);
            assert!(
                !page.headers.iter().any(|(n, _)| n == "set-cookie"),
                "{why}"
            );
        }
        let page = answer(refresh(
            &mut gw,
            &jar,
            Some(&sid),
            Some(es256(None, &c)),
            NOW + 10 + 901,
        ));
        assert_eq!(
            error(&page),
            (403, "expired".into()),
            "past bound seconds + 300"
        );
        // Nothing to refresh: the browser ends its session.
        let end = r#"{"continue":false}"#;
        let (plain, _, plain_sid) = login(&mut gw, 8);
        for (why, jar, sid) in [
            ("no session", Jar::default(), Some(sid.as_str())),
            ("no session id header", jar.clone(), None),
            ("another session id", jar.clone(), Some("other")),
            (
                "no key cookie",
                jar.without("__Secure-session-key"),
                Some(sid.as_str()),
            ),
            ("a session never bound", plain, Some(plain_sid.as_str())),
        ] {
            let page = answer(refresh(&mut gw, &jar, sid, Some(es256(None, &c)), NOW + 11));
            assert_eq!((page.status, page.body.as_str()), (200, end), "{why}");
        }
        // A page's script cannot send `Sec-` headers: it names the session in
        // `Secure-Session-Id`, which must match just as well.
        let script = |sid: &str, proof: Option<String>| {
            let mut headers = vec![jar.header()];
            headers.push((SCRIPT_SESSION_ID_HEADER.to_owned(), format!("\"{sid}\"")));
            headers.extend(proof.map(|p| (RESPONSE_HEADER.to_owned(), p)));
            headers
        };
        let page = answer(start(
            &mut gw,
            "POST",
            REFRESH_PATH,
            &script("other", None),
            NOW + 11,
            5,
        ));
        assert_eq!(
            (page.status, page.body.as_str()),
            (200, end),
            "another session id"
        );
        let page = answer(start(
            &mut gw,
            "POST",
            REFRESH_PATH,
            &script(&sid, None),
            NOW + 11,
            5,
        ));
        assert_eq!(page.status, 403, "no proof: a challenge");
        let c2 = challenge_of(&page, &sid);
        let step = start(
            &mut gw,
            "POST",
            REFRESH_PATH,
            &script(&sid, Some(es256(None, &c2))),
            NOW + 12,
            6,
        );
        let ok = pending(step).finish(Ok(true), Some(Ok(())));
        assert_eq!(ok.status, 200, "a proof by the bound key");
        // Another bound session's key cookie does not unlock this one.
        let (other_jar, _) = registered(&mut gw, 2);
        let mut swapped = jar.without("__Secure-session-key");
        swapped.0.push((
            "__Secure-session-key".into(),
            other_jar.get("__Secure-session-key").unwrap().into(),
        ));
        let page = answer(refresh(
            &mut gw,
            &swapped,
            Some(&sid),
            Some(es256(None, &c)),
            NOW + 11,
        ));
        assert_eq!(page.body, end);
        assert_eq!(
            answer(refresh(&mut gw, &jar, Some(&sid), None, NOW)).status,
            403
        );
        assert_eq!(
            answer(start(&mut gw, "GET", REFRESH_PATH, &[jar.header()], NOW, 1)).status,
            405
        );
    }

    /// After a logout the browser's next refresh ends its device-bound session.
    #[test]
    fn logout_ends_the_device_bound_session() {
        let mut gw = gateway(&[]);
        let (mut jar, sid) = registered(&mut gw, 1);
        let a = match start(&mut gw, "GET", "/logout", &[jar.header()], NOW + 5, 3) {
            Step::Proxy(a) => a,
            other => panic!("{other:?}"),
        };
        let out = gw
            .finish(
                &a,
                &[("x-session-clear".into(), "1".into())],
                NOW + 5,
                &entropy(3),
            )
            .unwrap();
        jar.take(&out.headers);
        assert_eq!(jar.get("__Host-session"), None);
        assert_eq!(jar.get("__Host-session-bound"), None);
        assert_eq!(jar.get("__Secure-session-key"), None);
        let page = answer(refresh(&mut gw, &jar, Some(&sid), None, NOW + 6));
        assert_eq!(page.body, r#"{"continue":false}"#);
    }

    type Headers = Vec<(String, String)>;

    /// One request of `jar` through the gateway and the session store, as the worker's glue
    /// runs it (`src/gateway/worker/proxy.rs`): the stored session loaded and bound to the
    /// request, the origin's `answer`, the store's changes; the headers the origin got and
    /// those the client got.
    fn through_store(
        gw: &mut Gateway,
        sessions: &crate::store::Sessions<&MemoryStore>,
        jar: &mut Jar,
        answer: &[(&str, &str)],
        now: UnixTime,
    ) -> (Headers, Headers) {
        use crate::gateway::store;
        let settings = gw.config().store.clone().unwrap();
        let (_, cookie) = jar.header();
        let Step::Proxy(mut a) = start(gw, "GET", "/x", &[jar.header()], now, 9) else {
            panic!("not proxied")
        };
        let mut loaded = block_on(store::load(
            sessions,
            Some(&cookie),
            settings.cookie.name(),
            now,
        ))
        .bind_request(sessions, &a, now);
        a.headers
            .extend(loaded.origin_headers(settings.most_data_bytes));
        let answer: Vec<(String, String)> = answer
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let out = gw.finish(&a, &answer, now, &entropy(9)).unwrap();
        let plan = out.plan.unwrap();
        let done = block_on(store::finish(sessions, &settings, loaded, &plan, now));
        let mut headers = out.headers;
        headers::add_cookies(&mut headers, done.set_cookie);
        jar.take(&headers);
        (a.headers, headers)
    }

    /// With `STORE` on, a request of a device-bound session without its bound cookie (Chrome
    /// skipping a refresh at its signing quota, a refresh that failed) is `unbound`: no identity,
    /// and its user's stored session set aside, the origin shown a new, empty one. Data the
    /// origin wrote there (a flash message, a recently-viewed list) replaced the browser's
    /// session-id cookie with that new session's: once the bound cookie was refreshed, the
    /// user's own stored session (the cart) was gone. It is held for them: nothing written,
    /// the id cookie kept; a login still starts a new session, a logout clears the id cookie.
    #[test]
    fn an_unbound_request_keeps_the_stored_session_for_the_bound_one() {
        let mut gw = gateway(&[("STORE", "durable")]);
        let store = MemoryStore::new();
        let ring = crate::keys::KeyRing::from_config(&gw.config().tokens().keys).unwrap();
        let config = gw.config().store.as_ref().unwrap().sessions.clone();
        let sessions = crate::store::Sessions::new(&store, &ring, config).unwrap();
        let (mut jar, _) = registered(&mut gw, 1);
        let data = |h: &[(String, String)]| headers::get(h, "x-session-data").map(str::to_owned);
        let cart = r#"{"cart":["book"]}"#;
        through_store(
            &mut gw,
            &sessions,
            &mut jar,
            &[("x-session-data", cart)],
            NOW + 2,
        );
        let sid_cookie = jar.get("__Host-sid").expect("a stored session").to_owned();
        let (sent, _) = through_store(&mut gw, &sessions, &mut jar, &[], NOW + 3);
        assert_eq!(headers::get(&sent, BOUND_HEADER), Some("1"));
        assert_eq!(data(&sent).as_deref(), Some(cart));

        // Unbound, the origin writes: nothing of it is stored, the id cookie stays.
        let mut unbound = jar.without("__Host-session-bound");
        let (sent, _) = through_store(
            &mut gw,
            &sessions,
            &mut unbound,
            &[("x-session-data", r#"{"seen":1}"#)],
            NOW + 4,
        );
        assert_eq!(headers::get(&sent, "x-session-status"), Some(UNBOUND));
        assert_eq!(
            data(&sent).as_deref(),
            Some("{}"),
            "the user's data set aside"
        );
        assert_eq!(unbound.get("__Host-sid"), Some(sid_cookie.as_str()));
        // Bound again (the bound cookie refreshed): the user's session, as it was.
        let mut again = unbound.clone();
        again.0.extend(
            jar.0
                .iter()
                .filter(|(n, _)| n == "__Host-session-bound")
                .cloned(),
        );
        let (sent, _) = through_store(&mut gw, &sessions, &mut again, &[], NOW + 5);
        assert_eq!(headers::get(&sent, BOUND_HEADER), Some("1"));
        assert_eq!(data(&sent).as_deref(), Some(cart));

        // A login while unbound (the origin saw nobody): a new session, empty.
        let mut login = jar.without("__Host-session-bound");
        through_store(
            &mut gw,
            &sessions,
            &mut login,
            &[("x-session-issue", r#"{"sub":"bob"}"#)],
            NOW + 6,
        );
        assert_ne!(login.get("__Host-sid"), Some(sid_cookie.as_str()));
        let (sent, _) = through_store(&mut gw, &sessions, &mut login, &[], NOW + 7);
        assert_eq!(headers::get(&sent, "x-session-sub"), Some("bob"));
        assert_eq!(data(&sent).as_deref(), Some("{}"));
        // A logout while unbound: the browser's id cookie goes, with its session cookie.
        let mut logout = jar.without("__Host-session-bound");
        through_store(
            &mut gw,
            &sessions,
            &mut logout,
            &[("x-session-clear", "1")],
            NOW + 8,
        );
        assert_eq!(logout.get("__Host-sid"), None);
        assert_eq!(logout.get("__Host-session"), None);
    }

    /// A login without `sub` (`{"role":"guest"}`) makes a stored session without an owner, which
    /// goes with any request that presents its id. Bound to a device, such a session's data
    /// reached the origin with an unbound request too (a thief's copy of the cookie jar, its
    /// bound cookie dead), and took its writes: the binding kept the identity from the thief,
    /// not the stored session. An unbound request is shown no stored session, owned or not.
    #[test]
    fn an_unbound_request_gets_no_stored_session_without_an_owner() {
        let mut gw = gateway(&[("STORE", "durable")]);
        let store = MemoryStore::new();
        let ring = crate::keys::KeyRing::from_config(&gw.config().tokens().keys).unwrap();
        let config = gw.config().store.as_ref().unwrap().sessions.clone();
        let sessions = crate::store::Sessions::new(&store, &ring, config).unwrap();
        let data = |h: &[(String, String)]| headers::get(h, "x-session-data").map(str::to_owned);
        let address = r#"{"address":"1 Main St"}"#;
        let mut jar = Jar::default();
        let login = [
            ("x-session-issue", r#"{"role":"guest"}"#),
            ("x-session-data", address),
        ];
        let (_, answer) = through_store(&mut gw, &sessions, &mut jar, &login, NOW);
        let offer = headers::get(&answer, REGISTRATION_HEADER).expect("an offer");
        let challenge = offer
            .split("challenge=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches('"');
        let headers = vec![
            jar.header(),
            (RESPONSE_HEADER.into(), es256(Some(&jwk(X, Y)), challenge)),
        ];
        let page = pending(start(&mut gw, "POST", REGISTER_PATH, &headers, NOW + 1, 1))
            .finish(Ok(true), None);
        assert_eq!(page.status, 200, "{}", page.body);
        jar.take(&page.headers);
        let (sent, _) = through_store(&mut gw, &sessions, &mut jar, &[], NOW + 2);
        assert_eq!(headers::get(&sent, BOUND_HEADER), Some("1"));
        assert_eq!(data(&sent).as_deref(), Some(address));

        let mut thief = jar.without("__Host-session-bound");
        let write = [("x-session-data", r#"{"address":"elsewhere"}"#)];
        let (sent, _) = through_store(&mut gw, &sessions, &mut thief, &write, NOW + 3);
        assert_eq!(headers::get(&sent, "x-session-status"), Some(UNBOUND));
        assert_eq!(data(&sent).as_deref(), Some("{}"), "no stored data unbound");
        let (sent, _) = through_store(&mut gw, &sessions, &mut jar, &[], NOW + 4);
        assert_eq!(data(&sent).as_deref(), Some(address), "nothing written");
    }

    #[test]
    fn endpoints_and_offers_only_with_dbsc_on() {
        let mut gw = gateway(&[]);
        assert_eq!(
            answer(start(&mut gw, "POST", "/__edge/dbsc/other", &[], NOW, 1)).status,
            404
        );
        assert_eq!(
            answer(start(&mut gw, "POST", "/__edge/dbsc", &[], NOW, 1)).status,
            404
        );
        // Off: /__edge/dbsc/ is an operator path like any other (404 without a token), and a
        // login offers nothing.
        let mut off = gateway(&[("DBSC", "off")]);
        assert!(
            matches!(start(&mut off, "POST", REGISTER_PATH, &[], NOW, 1), Step::Respond(p) if p.status == 404)
        );
        let a = match start(&mut off, "GET", "/", &[], NOW, 1) {
            Step::Proxy(a) => a,
            other => panic!("{other:?}"),
        };
        let out = off
            .finish(
                &a,
                &[("x-session-issue".into(), "{}".into())],
                NOW,
                &entropy(1),
            )
            .unwrap();
        assert_eq!(headers::get(&out.headers, REGISTRATION_HEADER), None);
        // The DBSC endpoints are public: an operator token does not guard them.
        let mut guarded = gateway(&[("OPERATOR_TOKEN", "0123456789abcdef0123")]);
        let page = answer(start(&mut guarded, "POST", REFRESH_PATH, &[], NOW, 1));
        assert_eq!(page.body, r#"{"continue":false}"#);
    }

    /// Every answer of the DBSC endpoints is locked down (dbsc.md: "no framing, narrow CORS"):
    /// `no-store`, `nosniff`, never framed, no CORS header; and a 405 there names POST, the one
    /// method they take (it said `GET, HEAD`, the operator endpoints' methods).
    #[test]
    fn every_endpoint_answer_is_locked_down() {
        let mut gw = gateway(&[]);
        let (jar, sid) = registered(&mut gw, 1);
        let (fresh, challenge, _) = login(&mut gw, 2);
        let stale = jar.without("__Host-session-bound");
        let c = refresh_challenge(&mut gw, &stale, &sid, NOW + 700);
        let reg = vec![
            fresh.header(),
            (RESPONSE_HEADER.into(), es256(Some(&jwk(X, Y)), &challenge)),
        ];
        let registration = pending(start(&mut gw, "POST", REGISTER_PATH, &reg, NOW + 1, 2));
        let refreshing = refresh_proved(&mut gw, &stale, &sid, &c, NOW + 701);
        let mut pages = vec![
            answer(start(&mut gw, "GET", REGISTER_PATH, &[], NOW, 1)),
            answer(start(&mut gw, "OPTIONS", REFRESH_PATH, &[], NOW, 1)),
            answer(start(&mut gw, "POST", "/__edge/dbsc/other", &[], NOW, 1)),
            answer(start(&mut gw, "POST", REGISTER_PATH, &[], NOW, 1)),
            answer(refresh(&mut gw, &Jar::default(), Some(&sid), None, NOW)),
            answer(refresh(&mut gw, &stale, Some(&sid), None, NOW + 700)),
            answer(refresh(
                &mut gw,
                &stale,
                Some(&sid),
                Some("x".into()),
                NOW + 700,
            )),
        ];
        for p in [registration, refreshing] {
            pages.extend([
                p.clone().finish(Ok(true), None),
                p.clone()
                    .finish(Ok(true), Some(Err(Error::ChallengeReused))),
                p.clone()
                    .finish(Ok(true), Some(Err(Error::StoreUnavailable("down".into())))),
                p.clone().finish(Ok(false), None),
                p.finish(Err(()), None),
            ]);
        }
        for page in &pages {
            let h = |name| headers::get(&page.headers, name);
            let what = format!("{} {:?}", page.status, page.body);
            assert_eq!(h("cache-control"), Some("no-store"), "{what}");
            assert_eq!(h("x-content-type-options"), Some("nosniff"), "{what}");
            let once = |name| (page.headers.iter()).filter(|(n, _)| n == name).count() == 1;
            assert!(["x-content-type-options", "x-frame-options"]
                .iter()
                .all(|&n| once(n)));
            assert_eq!(h("x-frame-options"), Some("DENY"), "{what}");
            assert_eq!(
                h("content-security-policy"),
                Some("default-src 'none'; frame-ancestors 'none'"),
                "{what}"
            );
            assert!(
                !page
                    .headers
                    .iter()
                    .any(|(n, _)| n.starts_with("access-control-")),
                "{what}"
            );
            if page.status == 405 {
                assert_eq!(h("allow"), Some("POST"), "{what}");
            }
        }
        assert_eq!(pages.iter().filter(|p| p.status == 405).count(), 2);
    }

    /// `DBSC` off, then on again (what docs/gateway.md says): off, a bound session is an
    /// ordinary one (`cnf` is not read: a stolen jar works as without DBSC) and the endpoints
    /// are the operator prefix's (a 4xx: the browser ends its device-bound session); on again,
    /// the same cookie without a fresh bound cookie is unbound until its user logs in again.
    #[test]
    fn dbsc_off_then_on_again() {
        let mut gw = gateway(&[]);
        let (jar, sid) = registered(&mut gw, 1);
        let stolen = jar.without("__Host-session-bound");
        let mut off = gateway(&[("DBSC", "off")]);
        let (h, _) = origin_headers(&mut off, &stolen, NOW + 2);
        assert_eq!(headers::get(&h, "x-session-status"), Some("valid"));
        assert_eq!(headers::get(&h, "x-session-sub"), Some("alice"));
        assert_eq!(headers::get(&h, BOUND_HEADER), None);
        let refresh_off = refresh(&mut off, &stolen, Some(&sid), None, NOW + 700);
        assert!(matches!(refresh_off, Step::Respond(p) if p.status == 404));
        let (h, _) = origin_headers(&mut gw, &stolen, NOW + 700);
        assert_eq!(headers::get(&h, "x-session-status"), Some(UNBOUND));
    }

    /// Paths near the endpoints: everything under `/__edge/dbsc/` as the browser sends it
    /// (where the key cookie goes: a trailing slash, a percent-encoded name, a query) is the
    /// gateway's and never reaches an origin; other spellings (`//__edge/...`, `/__EDGE/...`,
    /// an encoded slash) are the origin's own paths, which the key cookie (`Path=/__edge/dbsc/`,
    /// matched case-sensitively) never reaches, and the client's DBSC headers are dropped.
    #[test]
    fn paths_near_the_endpoints() {
        let mut gw = gateway(&[]);
        let proof = [(RESPONSE_HEADER.to_owned(), "e30.e30.e30".to_owned())];
        for path in [
            "/__edge/dbsc/register/",
            "/__edge/dbsc/%72egister",
            "/__edge/dbsc/register%2F",
            "/__edge/dbsc/",
            "/__edge/dbsc",
        ] {
            let page = answer(start(&mut gw, "POST", path, &proof, NOW, 1));
            assert_eq!(page.status, 404, "{path}");
        }
        let page = answer(start(
            &mut gw,
            "POST",
            "/__edge/dbsc/register?x=1",
            &proof,
            NOW,
            1,
        ));
        assert_eq!(
            error(&page),
            (403, "no_session".into()),
            "the endpoint, query or not"
        );
        for path in [
            "//__edge/dbsc/register",
            "/__EDGE/dbsc/register",
            "/__edge%2Fdbsc/register",
            "/x/__edge/dbsc/register",
        ] {
            match start(&mut gw, "POST", path, &proof, NOW, 1) {
                Step::Proxy(a) => {
                    assert_eq!(headers::get(&a.headers, RESPONSE_HEADER), None, "{path}")
                }
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    /// The key cookie, frozen: one an earlier version sealed (the first key of `SESSION_KEYS`,
    /// purpose `gateway/dbsc-key`, claims `sid` and `jwk`) opens, and gives the device key of
    /// its session. While a deploy spreads, a refresh at one version reads the key cookie the
    /// other sealed at the registration or the refresh before: a version that sealed or read it
    /// otherwise would answer `{"continue": false}` there, ending the browser's device-bound
    /// session for good. Also frozen: the endpoints' paths (a registration names the refresh
    /// path the browser keeps) and the store key of a used challenge (a challenge used at one
    /// version is refused at the other).
    #[test]
    fn a_key_cookie_an_earlier_version_sealed_opens() {
        const SEALED: &str = "gQJrMYCkp9oGgPUkAJOGb7J5xu3lG1LJW_OMHHkf6SheQuL6cUwB_E1vYBrh_kBH2MDSM5jHaC4ntF5pR3Cxg158wEqJN19uEHkkfDookfB_adQFrqLvVOv2usvRA1Mc5NsoUPape-iFJua0hGt8FrTRm1LLUqqSioXz91bmWhcwa7eleJOem0bcq-UdAvwtuSbWhrXEzTacfnzQPss6J7_ryMnhJCJ8kUuWQrOfgFqhFOoUfweQZLY4zpYUxLTt0Fa2Xwlqh2G4";
        let config = crate::gateway::config::from_pairs(&[
            ("ORIGINS", r#"[{"id":"a","url":"http://127.0.0.1:9001"}]"#),
            ("SESSION_KEYS", KEYS),
            ("DBSC", "on"),
        ])
        .unwrap();
        let d = config.built.dbsc.as_ref().unwrap();
        let key = DeviceKey::from_jwk_json(&jwk(X, Y)).unwrap();
        let name = d.settings.key_cookie.name();
        assert_eq!(name, "__Secure-session-key");
        let headers = [("cookie".to_owned(), format!("{name}={SEALED}"))];
        let jkt = key.thumbprint();
        assert_eq!(
            d.bound_key(&headers, "sid-1", &jkt, NOW + 60),
            Some((key, false))
        );
        assert_eq!(d.bound_key(&headers, "sid-2", &jkt, NOW + 60), None);
        // The endpoints a browser's registration names: it refreshes at the one it was given,
        // at whichever version it reaches.
        assert_eq!(
            (REGISTER_PATH, REFRESH_PATH),
            ("/__edge/dbsc/register", "/__edge/dbsc/refresh")
        );
        let challenge = ChallengeId {
            id: "abc".into(),
            expires: NOW,
        };
        assert_eq!(used_key(&challenge), "dbsc:abc");
    }
}
