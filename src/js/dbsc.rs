//! `DeviceBoundSessions` for JavaScript (feature `dbsc`): Device Bound Session Credentials for a
//! JS worker that does not use the gateway. Challenges, proof checks, bound cookies and the wire
//! texts are [`crate::dbsc`]'s; the proof's signature is verified by WebCrypto
//! ([`crate::webcrypto::verify_device`]); randomness comes from `crypto.getRandomValues`
//! (getrandom). The two verifications return Promises.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::config::{dbsc_config, dbsc_options, session_config, DbscOptions};
use super::{given, js_error, now_or_clock, parse};
use crate::dbsc::{wire, DeviceBinding, DeviceKey, Proof, SessionConfig};
use crate::error::Error;
use crate::json;
use crate::webcrypto;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
export interface DeviceBoundSessionsConfig {
  /** The keyring the challenges and bound cookies are keyed from (per purpose); the first key
   * issues, every key checks, so a rotation keeps what the old key issued valid. */
  keys: KeyConfig[];
  /** Lifetime of a bound cookie, seconds (300 to 86400; default 600). Not less: Chrome signs at
   * most 6 proofs per 9 minutes and site and refreshes 2 minutes before expiry, so a shorter
   * life runs out of signings and the session goes unbound. */
  boundSeconds?: number;
}

export interface RegistrationHeaderOptions {
  /** Where the browser POSTs its registration proof, e.g. `/dbsc/register`. */
  path: string;
  /** An authorization code the browser echoes in its proof (`authorization`). */
  authorization?: string;
  /** Unix seconds, at most 10^11 (not milliseconds); default the clock. */
  now?: number;
}

export interface DbscTimeOptions {
  /** Unix seconds, at most 10^11 (not milliseconds); default the clock. */
  now?: number;
}

export interface VerifyRefreshOptions {
  /** The thumbprint the session recorded at registration: the key must have it (`key_mismatch`). */
  jkt?: string;
  /** Unix seconds, at most 10^11 (not milliseconds); default the clock. */
  now?: number;
}

/** A registration proof that verified. */
export interface DeviceRegistration {
  /** The device key's RFC 7638 thumbprint: record it with the session (`cnf.jkt`). */
  jkt: string;
  /** The device's public JWK, as JSON text: keep it to verify the refreshes. */
  jwk: string;
  /** Its algorithm. */
  alg: "ES256" | "RS256";
  /** The challenge answered: record it to refuse a replay (single use; `challengeExpires`: it
   * may be forgotten after that Unix time). */
  challengeId: string;
  challengeExpires: number;
  /** The proof's `authorization`, if it carried one: compare it with what you offered. */
  authorization?: string;
}

/** A refresh proof that verified. */
export interface DeviceRefresh {
  jkt: string;
  challengeId: string;
  challengeExpires: number;
}

export interface SessionConfigOptions {
  sessionId: string;
  /** Where the browser refreshes, e.g. `/dbsc/refresh`. */
  refreshUrl: string;
  /** The session's scope, a serialized origin: `https://app.example`, `http://localhost:8787`
   * (nothing after the host and port, not even `/`). */
  origin: string;
  /** The bound cookie's name. */
  cookieName: string;
  /** Its attributes as your Set-Cookie writes them (default `Path=/; Secure; HttpOnly; SameSite=Lax`). */
  attributes?: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "DeviceBoundSessionsConfig")]
    pub type DeviceBoundSessionsConfig;
    #[wasm_bindgen(typescript_type = "RegistrationHeaderOptions")]
    pub type RegistrationHeaderOptions;
    #[wasm_bindgen(typescript_type = "DbscTimeOptions")]
    pub type DbscTimeOptions;
    #[wasm_bindgen(typescript_type = "VerifyRefreshOptions")]
    pub type VerifyRefreshOptions;
    #[wasm_bindgen(typescript_type = "SessionConfigOptions")]
    pub type SessionConfigOptions;
    #[wasm_bindgen(typescript_type = "Promise<DeviceRegistration>")]
    pub type PromiseRegistration;
    #[wasm_bindgen(typescript_type = "Promise<DeviceRefresh>")]
    pub type PromiseRefresh;
}

/// Device Bound Session Credentials (W3C draft): the registration offer, the checks of the
/// browser's proofs (ES256, RS256; the signature through WebCrypto), refresh challenges and the
/// short-lived bound cookie, stateless (HMAC from `keys`). Errors are `EdgeSessionError`s.
#[wasm_bindgen]
pub struct DeviceBoundSessions {
    binding: DeviceBinding,
}

/// 8 random bytes (`randomness_unavailable` without `crypto.getRandomValues`).
fn random() -> Result<[u8; 8], JsValue> {
    let mut bytes = [0u8; 8];
    crate::random::fill(&mut bytes).map_err(js_error)?;
    Ok(bytes)
}

/// `session_id` and `jkt` as a DBSC session has them: the id one `registrationHeader` takes
/// (printable ASCII), the key's thumbprint base64url. wasm-bindgen reads a lone surrogate as
/// U+FFFD, which made `"s\uD800"` and `"s\uDC00"` one session: neither form has it.
fn session(session_id: &str, jkt: Option<&str>) -> Result<(), JsValue> {
    wire::check_session_id(session_id).map_err(js_error)?;
    let b64url = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    match jkt {
        Some(jkt) if jkt.is_empty() || !jkt.bytes().all(b64url) => Err(js_error(Error::config_of(
            "jkt",
            "a key thumbprint is base64url text",
        ))),
        _ => Ok(()),
    }
}

/// The trailing options object of a method, absent or not (`undefined`/`null`: none).
fn read<T: Into<JsValue>>(options: Option<T>, known: &[&str]) -> Result<DbscOptions, JsValue> {
    let value = options.map_or(JsValue::UNDEFINED, Into::into);
    dbsc_options(&value, "options", known)
}

fn time(options: &DbscOptions) -> Result<u64, JsValue> {
    now_or_clock(options.now)
}

/// `{ jkt, challengeId, challengeExpires, ... }` as a JS object (JSON written here, parsed once).
fn answer(jkt: &str, id: &crate::dbsc::ChallengeId, extra: &[(&str, Option<&str>)]) -> String {
    let mut out = String::from("{\"jkt\":");
    json::write_string(&mut out, jkt);
    out.push_str(",\"challengeId\":");
    json::write_string(&mut out, &id.id);
    out.push_str(&format!(",\"challengeExpires\":{}", id.expires));
    for (name, value) in extra {
        if let Some(v) = value {
            out.push(',');
            json::write_string(&mut out, name);
            out.push(':');
            json::write_string(&mut out, v);
        }
    }
    out.push('}');
    out
}

/// Verifies `proof`'s signature with `key` (WebCrypto): `bad_signature` when it does not.
async fn verify_signature(proof: &Proof, key: &DeviceKey) -> Result<(), JsValue> {
    if webcrypto::verify_device(key, proof.signature(), proof.signing_input()).await? {
        Ok(())
    } else {
        Err(js_error(Error::BadSignature))
    }
}

#[wasm_bindgen]
impl DeviceBoundSessions {
    /// From `{ keys, boundSeconds }`; throws `invalid_config` (with `.setting`) on a wrong option.
    #[wasm_bindgen(constructor)]
    pub fn new(config: DeviceBoundSessionsConfig) -> Result<DeviceBoundSessions, JsValue> {
        Ok(DeviceBoundSessions {
            binding: dbsc_config(&config)?,
        })
    }

    /// The bound cookie's lifetime, seconds (its `Max-Age`).
    #[wasm_bindgen(getter, js_name = boundSeconds)]
    pub fn bound_seconds(&self) -> f64 {
        self.binding.bound_seconds() as f64
    }

    /// The `Secure-Session-Registration` value offering registration to the session
    /// `sessionId`: `(ES256 RS256);path="…";challenge="…"` with a new registration challenge
    /// (valid 300 s), and `;authorization="…"` when given. Offer it only on the answer that
    /// logs in (a new session id): a challenge on every answer would hand one to whoever holds
    /// a stolen session cookie, who could then register a key of their own. A `sessionId` that
    /// a refresh could not name (empty, other than visible ASCII and space, beginning with a
    /// quote, or with a space at either end) throws `invalid_config`, here and in
    /// `sessionConfig`.
    #[wasm_bindgen(js_name = registrationHeader)]
    pub fn registration_header(
        &self,
        #[wasm_bindgen(js_name = sessionId)] session_id: &str,
        options: RegistrationHeaderOptions,
    ) -> Result<String, JsValue> {
        wire::check_session_id(session_id).map_err(js_error)?;
        let o = read(Some(options), &["path", "authorization", "now"])?;
        let path = o
            .path
            .clone()
            .ok_or_else(|| js_error(Error::config_of("path", "options: path is required")))?;
        let challenge = self.binding.offer(session_id, time(&o)?, random()?);
        wire::registration_header(&challenge, &path, o.authorization.as_deref()).map_err(js_error)
    }

    /// A new refresh challenge for the session `sessionId` (any issued within the bound
    /// cookie's lifetime plus 300 s is accepted). Here and in every method, a `sessionId` that
    /// `registrationHeader` would refuse, or a `jkt` that is not base64url, throws
    /// `invalid_config`.
    pub fn challenge(
        &self,
        #[wasm_bindgen(js_name = sessionId)] session_id: &str,
        options: Option<DbscTimeOptions>,
    ) -> Result<String, JsValue> {
        session(session_id, None)?;
        let o = read(options, &["now"])?;
        Ok(self.binding.challenge(session_id, time(&o)?, random()?))
    }

    /// The `Secure-Session-Challenge` value of a new refresh challenge: `"<c>";id="<sessionId>"`
    /// (the 403 answer to a refresh without a proof, and the next challenge of a 200).
    #[wasm_bindgen(js_name = challengeHeader)]
    pub fn challenge_header(
        &self,
        #[wasm_bindgen(js_name = sessionId)] session_id: &str,
        options: Option<DbscTimeOptions>,
    ) -> Result<String, JsValue> {
        let challenge = self.challenge(session_id, options)?;
        wire::challenge_header(&challenge, session_id).map_err(js_error)
    }

    /// Verifies a registration proof (the `Secure-Session-Response` header) for the session
    /// `sessionId`: a Promise of `{ jkt, jwk, alg, challengeId, challengeExpires,
    /// authorization? }`. Rejects with `malformed`, `too_large`, `unsupported_alg` (`none`
    /// included), `unknown_challenge`, `expired`, `not_yet_valid` (a challenge issued over a
    /// minute ahead of `now`) or `bad_signature` (`malformed` too for a proof `null` or
    /// `undefined`: `headers.get` of a header not sent); a bad option throws `invalid_config` at
    /// once (not a rejection). What it cannot know, you
    /// must still do: refuse it when the session already recorded a `jkt` (a session binds
    /// once), record `challengeId` so that a replay is refused (single use), and compare
    /// `authorization` with the one you offered, if you offered one.
    #[wasm_bindgen(js_name = verifyRegistration)]
    pub fn verify_registration(
        &self,
        proof: Option<String>,
        #[wasm_bindgen(js_name = sessionId)] session_id: &str,
        options: Option<DbscTimeOptions>,
    ) -> Result<PromiseRegistration, JsValue> {
        session(session_id, None)?;
        let o = read(options, &["now"])?;
        let now = time(&o)?;
        let checked = given(proof.as_deref())
            .and_then(Proof::parse)
            .and_then(|p| {
                let registered = self.binding.register(&p, session_id, now)?;
                Ok((p, registered))
            });
        Ok(future_to_promise(async move {
            let (proof, registered) = checked.map_err(js_error)?;
            verify_signature(&proof, &registered.key).await?;
            let jwk = registered.key.to_jwk_json();
            parse(&answer(
                &registered.jkt,
                &registered.challenge_id,
                &[
                    ("jwk", Some(&jwk)),
                    ("alg", Some(registered.key.alg().name())),
                    ("authorization", proof.authorization()),
                ],
            ))
        })
        .unchecked_into())
    }

    /// Verifies a refresh proof for the session `sessionId` bound to `jwk` (the JSON text
    /// `verifyRegistration` gave): a Promise of `{ jkt, challengeId, challengeExpires }`.
    /// Rejects with `malformed`, `too_large`, `unsupported_alg`, `unknown_challenge`,
    /// `expired`, `not_yet_valid`, `key_mismatch` (a header `jwk`, an algorithm or a signature
    /// size other than the session key's, or a `jwk` whose thumbprint is not the `jkt` given)
    /// or `bad_signature` (signed by another key), `malformed` too for a proof `null` or
    /// `undefined`. A bad option throws `invalid_config` at once (not a rejection).
    /// `jwk` is trusted as the session's key: take it from your own record of the session,
    /// never from the request, or pass `{ jkt }` (the thumbprint the session recorded), else a
    /// thief's own key verifies. Record `challengeId` to refuse a replay.
    #[wasm_bindgen(js_name = verifyRefresh)]
    pub fn verify_refresh(
        &self,
        proof: Option<String>,
        #[wasm_bindgen(js_name = sessionId)] session_id: &str,
        jwk: &str,
        options: Option<VerifyRefreshOptions>,
    ) -> Result<PromiseRefresh, JsValue> {
        let o = read(options, &["jkt", "now"])?;
        session(session_id, o.jkt.as_deref())?;
        let now = time(&o)?;
        let checked = DeviceKey::from_jwk_json(jwk).and_then(|key| {
            let proof = given(proof.as_deref()).and_then(Proof::parse)?;
            let jkt = o.jkt.clone().unwrap_or_else(|| key.thumbprint());
            let refreshed = self.binding.refresh(&proof, session_id, &key, &jkt, now)?;
            Ok((proof, key, jkt, refreshed))
        });
        Ok(future_to_promise(async move {
            let (proof, key, jkt, refreshed) = checked.map_err(js_error)?;
            verify_signature(&proof, &key).await?;
            parse(&answer(&jkt, &refreshed.challenge_id, &[]))
        })
        .unchecked_into())
    }

    /// A new bound cookie value for the session `sessionId` and key thumbprint `jkt` (always a
    /// new value; valid `boundSeconds`).
    #[wasm_bindgen(js_name = boundCookie)]
    pub fn bound_cookie(
        &self,
        #[wasm_bindgen(js_name = sessionId)] session_id: &str,
        jkt: &str,
        options: Option<DbscTimeOptions>,
    ) -> Result<String, JsValue> {
        session(session_id, Some(jkt))?;
        let o = read(options, &["now"])?;
        Ok(self
            .binding
            .bound_cookie(session_id, jkt, time(&o)?, random()?))
    }

    /// True when `value` is a bound cookie for (`sessionId`, `jkt`) still valid; otherwise
    /// throws `malformed`, `bad_signature` (altered, or for another session or key),
    /// `expired` or `not_yet_valid` (issued over a minute ahead of `now`).
    #[wasm_bindgen(js_name = checkBound)]
    pub fn check_bound(
        &self,
        value: &str,
        #[wasm_bindgen(js_name = sessionId)] session_id: &str,
        jkt: &str,
        options: Option<DbscTimeOptions>,
    ) -> Result<bool, JsValue> {
        session(session_id, Some(jkt))?;
        let o = read(options, &["now"])?;
        self.binding
            .check_bound(value, session_id, jkt, time(&o)?)
            .map_err(js_error)?;
        Ok(true)
    }

    /// The session config JSON text (the body of the registration and refresh answers).
    /// Throws `invalid_config` naming the option for a config no browser would act on: an
    /// `origin` that is not `http(s)://host[:port]` (no path, not even `/`), a `cookieName`
    /// that is no cookie name, a `refreshUrl` that is empty or holds a control or non-ASCII character,
    /// `attributes` with a control or non-ASCII character.
    #[wasm_bindgen(js_name = sessionConfig)]
    pub fn session_config(&self, options: SessionConfigOptions) -> Result<String, JsValue> {
        Ok(session_config(&options)?.to_json())
    }

    /// The session a refresh names: its `Sec-Secure-Session-Id` header (the id as it is, as
    /// Chrome sends it, or a structured-field string `"<sessionId>"` unquoted); `null` when the header is absent (give
    /// `request.headers.get("Sec-Secure-Session-Id")` as it is), empty or not well formed.
    /// Look the session up by it and check it is the session of the request's cookie: a
    /// refresh for a session id the cookie does not hold is not that session's.
    #[wasm_bindgen(js_name = sessionIdFromHeader, unchecked_return_type = "string | null")]
    pub fn session_id_from_header(value: Option<String>) -> JsValue {
        value
            .as_deref()
            .and_then(wire::session_id_from_header)
            .map_or(JsValue::NULL, JsValue::from)
    }

    /// The answer that ends a session: `{"continue":false}`.
    #[wasm_bindgen(js_name = endSession)]
    pub fn end_session() -> String {
        SessionConfig::end()
    }
}
