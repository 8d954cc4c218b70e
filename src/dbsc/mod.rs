//! Device Bound Session Credentials (DBSC, W3C draft `webappsec-dbsc`): the pure core both
//! faces (the gateway, `DeviceBoundSessions` in JavaScript) call. The protocol in ten lines:
//!
//! 1. After a login the server offers registration: `Secure-Session-Registration:
//!    (ES256 RS256);path="…";challenge="<c>"` ([`wire::registration_header`], [`DeviceBinding::offer`]).
//! 2. The browser makes a key pair it cannot export and POSTs to `path` a proof
//!    (`Secure-Session-Response`, a JWT `typ` `dbsc+jwt` with the public `jwk` in its header
//!    and `jti` = the challenge), signed by the new key ([`Proof`]).
//! 3. The server checks it ([`DeviceBinding::register`], then the signature through WebCrypto),
//!    records the key's thumbprint with the session and answers the session config JSON
//!    ([`SessionConfig`]) and a short-lived bound cookie ([`DeviceBinding::bound_cookie`]).
//! 4. When the bound cookie expires the browser POSTs to `refresh_url`; without a proof the
//!    server answers 403 with `Secure-Session-Challenge: "<c>";id="<sid>"`, the browser signs
//!    `{"jti":"<c>"}` with the same key, and the server ([`DeviceBinding::refresh`]) answers a
//!    new bound cookie and the next challenge. `{"continue":false}` ends the session.
//!
//! Everything is stateless (HMAC challenges and cookies keyed from the session keyring, per
//! purpose); single use of a challenge is the store's, by [`ChallengeId`]. Time and
//! randomness come in as parameters. The signature is never checked here: the faces verify it
//! with WebCrypto over [`Proof::signing_input`] and [`Proof::signature`], with the key
//! [`Registered::key`] or the one the session bound.

pub mod bound;
pub mod challenge;
pub mod key;
pub mod proof;
mod stamp;
pub mod wire;

pub use bound::BoundCookies;
pub use challenge::{ChallengeId, Challenges, Kind};
pub use key::{Alg, DeviceKey};
pub use proof::Proof;
pub use wire::SessionConfig;

use crate::error::{Error, Result};
use crate::keys::KeyRing;
use crate::time::UnixTime;

/// The bound cookie's lifetime when none is configured, seconds.
pub const DEFAULT_BOUND_SECONDS: u64 = 600;
/// The shortest bound cookie lifetime accepted, seconds. Chrome signs at most 6 proofs per 9
/// minutes and site, and refreshes a session 2 minutes before its bound cookie expires
/// (`net/device_bound_sessions/session_service_impl.cc`: "sites can refresh on average every 5
/// minutes"): with a shorter life an active user runs out of signings, the browser skips the
/// refresh (`Secure-Session-Skipped: quota_exceeded`) and the session goes unbound.
pub const MIN_BOUND_SECONDS: u64 = 300;
/// The longest bound cookie lifetime accepted, seconds (a day).
pub const MAX_BOUND_SECONDS: u64 = 86_400;

/// A registration proof that passed every check but its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// The new device key (the proof's `jwk`): verify the proof's signature with it, then keep
    /// it ([`DeviceKey::to_jwk_json`]) to verify the refreshes.
    pub key: DeviceKey,
    /// Its RFC 7638 thumbprint, what the session records (`cnf.jkt`).
    pub jkt: String,
    /// The challenge answered, to record once where the store allows.
    pub challenge_id: ChallengeId,
}

/// A refresh proof that passed every check but its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refreshed {
    /// The challenge answered, to record once where the store allows.
    pub challenge_id: ChallengeId,
}

/// DBSC's settings and keys: challenges and bound cookies keyed from the session keyring, and
/// the checks of registration and refresh proofs.
#[derive(Clone, Debug)]
pub struct DeviceBinding {
    challenges: Challenges,
    bound: BoundCookies,
}

impl DeviceBinding {
    /// Keys from `ring`, bound cookies living `bound_seconds` ([`MIN_BOUND_SECONDS`] to
    /// [`MAX_BOUND_SECONDS`], else `invalid_config` with the setting `boundSeconds`).
    pub fn new(ring: &KeyRing, bound_seconds: u64) -> Result<DeviceBinding> {
        if !(MIN_BOUND_SECONDS..=MAX_BOUND_SECONDS).contains(&bound_seconds) {
            return Err(Error::config_of(
                "boundSeconds",
                format!(
                    "boundSeconds must be {MIN_BOUND_SECONDS} to {MAX_BOUND_SECONDS}, got {bound_seconds}"
                ),
            ));
        }
        Ok(DeviceBinding {
            challenges: Challenges::new(ring, bound_seconds),
            bound: BoundCookies::new(ring, bound_seconds),
        })
    }

    /// The bound cookie's lifetime, seconds (its `Max-Age`).
    pub fn bound_seconds(&self) -> u64 {
        self.bound.seconds()
    }

    /// The challenges, for what the operations below do not cover.
    pub fn challenges(&self) -> &Challenges {
        &self.challenges
    }

    /// A registration challenge for the session `session_id` (what the offer's `challenge`
    /// parameter carries: [`wire::registration_header`]).
    pub fn offer(&self, session_id: &str, now: UnixTime, random: [u8; 8]) -> String {
        self.challenges
            .issue(Kind::Registration, session_id, now, random)
    }

    /// A refresh challenge for the session `session_id` ([`wire::challenge_header`]).
    pub fn challenge(&self, session_id: &str, now: UnixTime, random: [u8; 8]) -> String {
        self.challenges
            .issue(Kind::Refresh, session_id, now, random)
    }

    /// Checks a registration proof for the session `session_id`, all but its signature: it
    /// carries a `jwk` (`malformed` if not) and its `jti` is a registration challenge issued
    /// for this session within its window ([`Challenges::check`]: `unknown_challenge`,
    /// `expired`...). The caller then verifies the signature with [`Registered::key`]
    /// (`bad_signature` when it fails), records [`Registered::challenge_id`] where it can,
    /// and compares [`Proof::authorization`] if its offer carried one. A `now` past 10^11
    /// (milliseconds) is `invalid_config`, first.
    pub fn register(&self, proof: &Proof, session_id: &str, now: UnixTime) -> Result<Registered> {
        crate::time::check_now(now)?;
        let key = proof
            .jwk()
            .ok_or(Error::Malformed("a registration proof carries its jwk"))?;
        let challenge_id =
            self.challenges
                .check(Kind::Registration, session_id, proof.jti(), now)?;
        Ok(Registered {
            key: key.clone(),
            jkt: key.thumbprint(),
            challenge_id,
        })
    }

    /// Checks a refresh proof for the session `session_id` bound to `key` of thumbprint `jkt`
    /// (what the session recorded), all but its signature: its `jti` is a refresh challenge for
    /// this session within its window (`unknown_challenge`, `expired`...); `key` has the
    /// thumbprint `jkt`, the proof's `alg` and signature length are `key`'s, and a `jwk` in
    /// its header, if any, is `key` (each `key_mismatch` if not). The caller then verifies the
    /// signature with `key` and records [`Refreshed::challenge_id`] where it can.
    pub fn refresh(
        &self,
        proof: &Proof,
        session_id: &str,
        key: &DeviceKey,
        jkt: &str,
        now: UnixTime,
    ) -> Result<Refreshed> {
        let challenge_id = self
            .challenges
            .check(Kind::Refresh, session_id, proof.jti(), now)?;
        let same_key = key.thumbprint() == jkt
            && proof.alg() == key.alg()
            && proof.signature().len() == key.signature_len()
            && proof.jwk().is_none_or(|jwk| jwk == key);
        if !same_key {
            return Err(Error::KeyMismatch);
        }
        Ok(Refreshed { challenge_id })
    }

    /// A new bound cookie value for the session `session_id` and key thumbprint `jkt`.
    pub fn bound_cookie(
        &self,
        session_id: &str,
        jkt: &str,
        now: UnixTime,
        random: [u8; 8],
    ) -> String {
        self.bound.issue(session_id, jkt, now, random)
    }

    /// Checks a bound cookie value ([`BoundCookies::check`]: `bad_signature`, `expired`...).
    pub fn check_bound(
        &self,
        value: &str,
        session_id: &str,
        jkt: &str,
        now: UnixTime,
    ) -> Result<()> {
        self.bound.check(value, session_id, jkt, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::b64_encode;
    use crate::keys::Secret;

    const NOW: UnixTime = 1_800_000_000;
    const X: &str = "6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI";
    const Y: &str = "IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE";

    fn binding() -> DeviceBinding {
        let ring = KeyRing::new(vec![("k1".into(), Secret::new(vec![1; 32]).unwrap())]).unwrap();
        DeviceBinding::new(&ring, 600).unwrap()
    }

    fn ec_jwk(x: &str, y: &str) -> String {
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}"#)
    }

    fn rsa_jwk() -> String {
        format!(
            r#"{{"kty":"RSA","n":"{}","e":"AQAB"}}"#,
            key::tests::RFC7638_N
        )
    }

    /// A proof with a made-up signature (the core never checks it).
    fn proof(alg: &str, jwk: Option<&str>, jti: &str, signature_len: usize) -> Proof {
        let header = match jwk {
            Some(jwk) => format!(r#"{{"alg":"{alg}","typ":"dbsc+jwt","jwk":{jwk}}}"#),
            None => format!(r#"{{"alg":"{alg}","typ":"dbsc+jwt"}}"#),
        };
        let token = format!(
            "{}.{}.{}",
            b64_encode(header.as_bytes()),
            b64_encode(format!(r#"{{"jti":"{jti}"}}"#).as_bytes()),
            b64_encode(&vec![1; signature_len])
        );
        Proof::parse(&token).unwrap()
    }

    fn code<T>(r: Result<T>) -> &'static str {
        r.map_or_else(|e| e.code(), |_| "ok")
    }

    #[test]
    fn bound_seconds_within_limits() {
        let ring = KeyRing::new(vec![("k1".into(), Secret::new(vec![1; 32]).unwrap())]).unwrap();
        for ok in [300, 600, 86_400] {
            assert_eq!(DeviceBinding::new(&ring, ok).unwrap().bound_seconds(), ok);
        }
        // Under 300 s Chrome's signing quota (6 per 9 minutes and site, a proactive refresh 2
        // minutes before expiry) runs out: refreshes are skipped and the session goes unbound.
        for bad in [0, 59, 60, 120, 299, 86_401] {
            let e = DeviceBinding::new(&ring, bad).unwrap_err();
            assert_eq!(
                (e.code(), e.setting()),
                ("invalid_config", Some("boundSeconds"))
            );
        }
    }

    #[test]
    fn register_then_refresh() {
        let b = binding();
        let jwk = ec_jwk(X, Y);
        let offer = b.offer("sid", NOW, [1; 8]);
        let registered = b
            .register(&proof("ES256", Some(&jwk), &offer, 64), "sid", NOW + 300)
            .unwrap();
        assert_eq!(registered.key, DeviceKey::from_jwk_json(&jwk).unwrap());
        assert_eq!(registered.jkt, registered.key.thumbprint());
        assert_eq!(registered.challenge_id.expires, NOW + 300);

        let cookie = b.bound_cookie("sid", &registered.jkt, NOW, [2; 8]);
        assert!(b
            .check_bound(&cookie, "sid", &registered.jkt, NOW + 600)
            .is_ok());
        assert_eq!(
            code(b.check_bound(&cookie, "sid", &registered.jkt, NOW + 601)),
            "expired"
        );
        // A `now` in milliseconds is the caller's error, not an expired cookie or challenge.
        let ms = NOW * 1000;
        assert_eq!(
            code(b.check_bound(&cookie, "sid", &registered.jkt, ms)),
            "invalid_config"
        );
        let again = proof("ES256", Some(&jwk), &offer, 64);
        assert_eq!(code(b.register(&again, "sid", ms)), "invalid_config");
        let keyless = proof("ES256", None, &offer, 64);
        assert_eq!(code(b.register(&keyless, "sid", ms)), "invalid_config");

        let c = b.challenge("sid", NOW, [3; 8]);
        let key = &registered.key;
        let refreshed = b
            .refresh(
                &proof("ES256", None, &c, 64),
                "sid",
                key,
                &registered.jkt,
                NOW + 900,
            )
            .unwrap();
        assert_eq!(refreshed.challenge_id.expires, NOW + 900);
        // A jwk in a refresh proof is allowed when it is the bound key.
        assert!(b
            .refresh(
                &proof("ES256", Some(&jwk), &c, 64),
                "sid",
                key,
                &registered.jkt,
                NOW
            )
            .is_ok());
    }

    #[test]
    fn every_registration_refusal() {
        let b = binding();
        let jwk = ec_jwk(X, Y);
        let offer = b.offer("sid", NOW, [1; 8]);
        let refresh = b.challenge("sid", NOW, [1; 8]);
        for (p, sid, now, expected) in [
            (proof("ES256", None, &offer, 64), "sid", NOW, "malformed"),
            (
                proof("ES256", Some(&jwk), "never-issued", 64),
                "sid",
                NOW,
                "malformed",
            ),
            (
                proof("ES256", Some(&jwk), &b64_encode(&[0; 32]), 64),
                "sid",
                NOW,
                "unknown_challenge",
            ),
            (
                proof("ES256", Some(&jwk), &offer, 64),
                "other",
                NOW,
                "unknown_challenge",
            ),
            (
                proof("ES256", Some(&jwk), &refresh, 64),
                "sid",
                NOW,
                "unknown_challenge",
            ),
            (
                proof("ES256", Some(&jwk), &offer, 64),
                "sid",
                NOW + 301,
                "expired",
            ),
            (
                proof("ES256", Some(&jwk), &offer, 64),
                "sid",
                NOW - 61,
                "not_yet_valid",
            ),
            (
                proof("RS256", Some(&rsa_jwk()), &offer, 256),
                "sid",
                NOW,
                "ok",
            ),
        ] {
            assert_eq!(code(b.register(&p, sid, now)), expected, "{sid} {now}");
        }
    }

    #[test]
    fn every_refresh_refusal() {
        let b = binding();
        let key = DeviceKey::from_jwk_json(&ec_jwk(X, Y)).unwrap();
        let other = DeviceKey::from_jwk_json(&ec_jwk(Y, X)).unwrap();
        let rsa = DeviceKey::from_jwk_json(&rsa_jwk()).unwrap();
        let jkt = key.thumbprint();
        let c = b.challenge("sid", NOW, [1; 8]);
        let offer = b.offer("sid", NOW, [1; 8]);
        let es = proof("ES256", None, &c, 64);
        let cases: [(&Proof, &str, &DeviceKey, &str, UnixTime, &str); 10] = [
            (&es, "sid", &key, &jkt, NOW, "ok"),
            (&es, "sid", &key, &jkt, NOW + 900, "ok"),
            (&es, "sid", &key, &jkt, NOW + 901, "expired"),
            (&es, "other", &key, &jkt, NOW, "unknown_challenge"),
            (
                &proof("ES256", None, &offer, 64),
                "sid",
                &key,
                &jkt,
                NOW,
                "unknown_challenge",
            ),
            // The key kept is not the one the session recorded.
            (&es, "sid", &other, &jkt, NOW, "key_mismatch"),
            // The proof is RS256, the bound key P-256; or RS256 of another modulus length.
            (
                &proof("RS256", None, &c, 256),
                "sid",
                &key,
                &jkt,
                NOW,
                "key_mismatch",
            ),
            (
                &proof("RS256", None, &c, 384),
                "sid",
                &rsa,
                &rsa.thumbprint(),
                NOW,
                "key_mismatch",
            ),
            // A jwk in the header that is not the bound key.
            (
                &proof("ES256", Some(&ec_jwk(Y, X)), &c, 64),
                "sid",
                &key,
                &jkt,
                NOW,
                "key_mismatch",
            ),
            (
                &proof("RS256", None, &c, 256),
                "sid",
                &rsa,
                &rsa.thumbprint(),
                NOW,
                "ok",
            ),
        ];
        for (p, sid, k, jkt, now, expected) in cases {
            assert_eq!(
                code(b.refresh(p, sid, k, jkt, now)),
                expected,
                "{sid} {now} {expected}"
            );
        }
    }
}
