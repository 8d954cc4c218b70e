//! Stateless challenges ([`Challenges`]): what a proof's `jti` must be. A challenge is the
//! base64url of its issue time (8 bytes), 8 random bytes and a 16-byte HMAC-SHA256 tag over its
//! kind, the session id and those bytes (43 characters, a new value each time), keyed with a
//! key of its own derived from each secret of the keyring (HKDF, purpose `dbsc/challenge`): the
//! first key signs, every key verifies, so a rotation keeps the challenges issued before it
//! valid while the old key stays in the ring. Nothing is stored: single use is the store's
//! (record [`ChallengeId`] once).

use crate::codec::b64_encode;
use crate::dbsc::stamp::{context, Stamper};
use crate::error::{Error, Result};
use crate::keys::KeyRing;
use crate::time::UnixTime;

pub use crate::dbsc::stamp::LEEWAY_SECONDS;

/// HKDF purpose of the challenge keys.
const PURPOSE: &str = "dbsc/challenge";

/// How long a registration challenge is valid, seconds.
pub const REGISTRATION_SECONDS: u64 = 300;

/// How much longer than the bound cookie a refresh challenge is valid, seconds: the browser
/// signs the challenge it was given with the last bound cookie when that cookie has expired.
pub const REFRESH_EXTRA_SECONDS: u64 = 300;

/// The two kinds of challenge; a challenge of one kind is never accepted as the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Offered with `Secure-Session-Registration`; valid [`REGISTRATION_SECONDS`].
    Registration,
    /// Sent with `Secure-Session-Challenge`; valid the bound cookie's lifetime plus
    /// [`REFRESH_EXTRA_SECONDS`], so any issued within that window is accepted (the previous
    /// one too, for the races between tabs).
    Refresh,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Registration => 1,
            Kind::Refresh => 2,
        }
    }
}

/// A challenge that checked: what a store records to refuse it a second time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChallengeId {
    /// The challenge's tag, base64url (22 characters): unique per challenge.
    pub id: String,
    /// When the challenge stops being accepted anyway: a record may be dropped after it.
    pub expires: UnixTime,
}

/// Issues and checks challenges (see the module documentation).
#[derive(Clone)]
pub struct Challenges {
    stamper: Stamper,
    bound_seconds: u64,
}

impl std::fmt::Debug for Challenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenges")
            .field("bound_seconds", &self.bound_seconds)
            .finish_non_exhaustive()
    }
}

impl Challenges {
    /// Challenges keyed from `ring`, for bound cookies living `bound_seconds`.
    pub fn new(ring: &KeyRing, bound_seconds: u64) -> Self {
        Challenges {
            stamper: Stamper::new(ring, PURPOSE),
            bound_seconds,
        }
    }

    /// How long a challenge of `kind` is accepted after its issue, seconds.
    pub fn window(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Registration => REGISTRATION_SECONDS,
            Kind::Refresh => self.bound_seconds.saturating_add(REFRESH_EXTRA_SECONDS),
        }
    }

    /// A new challenge of `kind` for the session `session_id`, issued at `now` with 8 bytes
    /// of the platform's randomness.
    pub fn issue(&self, kind: Kind, session_id: &str, now: UnixTime, random: [u8; 8]) -> String {
        self.stamper
            .issue(&context(kind.byte(), &[session_id]), now, random)
    }

    /// Checks that `challenge` was issued here, of `kind`, for `session_id`, and is within its
    /// window at `now`: `malformed` when it is not a challenge's shape; `unknown_challenge`
    /// when no key's tag fits (never issued here, altered, of the other kind, for another
    /// session, or its key left the ring); `expired` when more than [`Challenges::window`]
    /// seconds old (at the window's last second still accepted); `not_yet_valid` when issued
    /// more than [`LEEWAY_SECONDS`] in the future.
    pub fn check(
        &self,
        kind: Kind,
        session_id: &str,
        challenge: &str,
        now: UnixTime,
    ) -> Result<ChallengeId> {
        let stamp = self.stamper.check(
            &context(kind.byte(), &[session_id]),
            challenge,
            now,
            self.window(kind),
            Error::UnknownChallenge,
            "not a challenge",
        )?;
        Ok(ChallengeId {
            id: b64_encode(&stamp.tag),
            expires: stamp.expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Secret;

    const NOW: UnixTime = 1_800_000_000;

    fn ring(ids: &[(&str, u8)]) -> KeyRing {
        KeyRing::new(
            ids.iter()
                .map(|&(id, b)| (id.to_owned(), Secret::new(vec![b; 32]).unwrap()))
                .collect(),
        )
        .unwrap()
    }

    fn challenges() -> Challenges {
        Challenges::new(&ring(&[("k1", 1)]), 600)
    }

    fn code<T>(r: Result<T>) -> &'static str {
        r.map_or_else(|e| e.code(), |_| "ok")
    }

    #[test]
    fn issued_then_checked_new_every_time() {
        let c = challenges();
        let a = c.issue(Kind::Registration, "sid-1", NOW, [1; 8]);
        let b = c.issue(Kind::Registration, "sid-1", NOW, [2; 8]);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let id = c.check(Kind::Registration, "sid-1", &a, NOW).unwrap();
        assert_eq!(id.expires, NOW + 300);
        assert_eq!(id.id.len(), 22);
        assert_ne!(id, c.check(Kind::Registration, "sid-1", &b, NOW).unwrap());
        // The same challenge checks to the same id.
        assert_eq!(
            id,
            c.check(Kind::Registration, "sid-1", &a, NOW + 1).unwrap()
        );
    }

    #[test]
    fn windows_end_at_their_last_second() {
        let c = challenges();
        let reg = c.issue(Kind::Registration, "s", NOW, [0; 8]);
        assert!(c.check(Kind::Registration, "s", &reg, NOW + 300).is_ok());
        let late = c
            .check(Kind::Registration, "s", &reg, NOW + 301)
            .unwrap_err();
        assert_eq!(
            late,
            Error::Expired {
                exp: NOW + 300,
                claims: String::new()
            }
        );
        let refresh = c.issue(Kind::Refresh, "s", NOW, [0; 8]);
        assert_eq!(c.window(Kind::Refresh), 900);
        assert!(c.check(Kind::Refresh, "s", &refresh, NOW + 900).is_ok());
        assert_eq!(
            code(c.check(Kind::Refresh, "s", &refresh, NOW + 901)),
            "expired"
        );
        // Issued a little in the future (another location's clock): accepted up to the leeway.
        assert!(c.check(Kind::Refresh, "s", &refresh, NOW - 60).is_ok());
        assert_eq!(
            c.check(Kind::Refresh, "s", &refresh, NOW - 61).unwrap_err(),
            Error::NotYetValid { valid_from: NOW }
        );
        // At the latest `now` taken (10^11 s); past it, a time in milliseconds, refused.
        let latest = crate::time::LATEST_NOW;
        let end = c.issue(Kind::Refresh, "s", latest, [0; 8]);
        assert!(c.check(Kind::Refresh, "s", &end, latest).is_ok());
        let e = c.check(Kind::Refresh, "s", &end, latest + 1).unwrap_err();
        assert_eq!((e.code(), e.setting()), ("invalid_config", Some("now")));
    }

    #[test]
    fn other_kind_session_or_key_is_unknown() {
        let c = challenges();
        let reg = c.issue(Kind::Registration, "s", NOW, [3; 8]);
        assert_eq!(
            code(c.check(Kind::Refresh, "s", &reg, NOW)),
            "unknown_challenge"
        );
        assert_eq!(
            code(c.check(Kind::Registration, "t", &reg, NOW)),
            "unknown_challenge"
        );
        assert_eq!(
            code(c.check(Kind::Registration, "", &reg, NOW)),
            "unknown_challenge"
        );
        let other = Challenges::new(&ring(&[("k1", 2)]), 600);
        assert_eq!(
            code(other.check(Kind::Registration, "s", &reg, NOW)),
            "unknown_challenge"
        );
        // The purpose separates challenges from other values of the same secret.
        let bound = crate::dbsc::bound::BoundCookies::new(&ring(&[("k1", 1)]), 600)
            .issue("s", "", NOW, [3; 8]);
        assert_eq!(
            code(c.check(Kind::Registration, "s", &bound, NOW)),
            "unknown_challenge"
        );
    }

    #[test]
    fn rotation_keeps_old_challenges_until_the_key_leaves() {
        let old = Challenges::new(&ring(&[("k1", 1)]), 600);
        let issued = old.issue(Kind::Refresh, "s", NOW, [4; 8]);
        let rotated = Challenges::new(&ring(&[("k2", 2), ("k1", 1)]), 600);
        assert!(rotated.check(Kind::Refresh, "s", &issued, NOW).is_ok());
        let fresh = rotated.issue(Kind::Refresh, "s", NOW, [4; 8]);
        assert_ne!(fresh, issued);
        assert_eq!(
            code(old.check(Kind::Refresh, "s", &fresh, NOW)),
            "unknown_challenge"
        );
        let dropped = Challenges::new(&ring(&[("k2", 2)]), 600);
        assert_eq!(
            code(dropped.check(Kind::Refresh, "s", &issued, NOW)),
            "unknown_challenge"
        );
    }

    #[test]
    fn altered_or_misshapen_is_refused() {
        let c = challenges();
        let good = c.issue(Kind::Refresh, "s", NOW, [5; 8]);
        for i in 0..good.len() {
            for ch in ['A', 'B', '-', '_', '='] {
                let mut bytes = good.clone().into_bytes();
                if bytes[i] == ch as u8 {
                    continue;
                }
                bytes[i] = ch as u8;
                let changed = String::from_utf8(bytes).unwrap();
                let got = code(c.check(Kind::Refresh, "s", &changed, NOW));
                assert!(
                    got == "unknown_challenge" || got == "malformed",
                    "{changed}: {got}"
                );
            }
        }
        for bad in [
            "",
            "cv",
            &good[..42],
            &format!("{good}A"),
            &format!("{good}AA"),
            "not base64!",
        ] {
            assert_eq!(
                code(c.check(Kind::Refresh, "s", bad, NOW)),
                "malformed",
                "{bad}"
            );
        }
    }
}
