//! The bound cookie ([`BoundCookies`]): the short-lived credential that proves a recent proof
//! of possession. Its value is the base64url of its issue time (8 bytes), 8 random bytes (so
//! every issue is a new value: Chromium ends a session whose refresh repeats a value) and a
//! 16-byte HMAC-SHA256 tag over the session id, the key thumbprint and those bytes, keyed with
//! a key of its own per secret of the keyring (HKDF, purpose `dbsc/bound`). Valid for the
//! bound seconds after its issue, for that session and that key only.

use crate::dbsc::stamp::{context, Stamper};
use crate::error::{Error, Result};
use crate::keys::KeyRing;
use crate::time::UnixTime;

/// HKDF purpose of the bound cookie keys.
const PURPOSE: &str = "dbsc/bound";

/// The first byte of a bound cookie's context (the purpose already sets it apart).
const CONTEXT: u8 = 0;

/// Issues and checks bound cookie values (see the module documentation).
#[derive(Clone)]
pub struct BoundCookies {
    stamper: Stamper,
    seconds: u64,
}

impl std::fmt::Debug for BoundCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundCookies")
            .field("seconds", &self.seconds)
            .finish_non_exhaustive()
    }
}

impl BoundCookies {
    /// Bound cookies keyed from `ring`, living `seconds`.
    pub fn new(ring: &KeyRing, seconds: u64) -> Self {
        BoundCookies {
            stamper: Stamper::new(ring, PURPOSE),
            seconds,
        }
    }

    /// How long a value is valid after its issue, seconds (the cookie's `Max-Age`).
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// A new value for the session `session_id` bound to the key of thumbprint `jkt`, issued at
    /// `now` with 8 bytes of the platform's randomness (43 characters).
    pub fn issue(&self, session_id: &str, jkt: &str, now: UnixTime, random: [u8; 8]) -> String {
        self.stamper
            .issue(&context(CONTEXT, &[session_id, jkt]), now, random)
    }

    /// Checks `value` for `session_id` and `jkt` at `now`: `malformed` when it is not a bound
    /// cookie's shape; `bad_signature` when no key's tag fits (altered, another session or
    /// key, never issued here); `expired` when older than [`BoundCookies::seconds`] (at the
    /// last second still valid); `not_yet_valid` when issued more than a minute ahead.
    pub fn check(&self, value: &str, session_id: &str, jkt: &str, now: UnixTime) -> Result<()> {
        self.stamper.check(
            &context(CONTEXT, &[session_id, jkt]),
            value,
            now,
            self.seconds,
            Error::BadSignature,
            "not a bound cookie",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Secret;

    const NOW: UnixTime = 1_800_000_000;
    const JKT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

    fn cookies(secret: u8) -> BoundCookies {
        let ring = KeyRing::new(vec![("k1".into(), Secret::new(vec![secret; 32]).unwrap())]);
        BoundCookies::new(&ring.unwrap(), 600)
    }

    fn code(r: Result<()>) -> &'static str {
        r.map_or_else(|e| e.code(), |()| "ok")
    }

    #[test]
    fn new_value_every_issue_valid_to_its_last_second() {
        let b = cookies(1);
        let v1 = b.issue("sid", JKT, NOW, [1; 8]);
        let v2 = b.issue("sid", JKT, NOW, [2; 8]);
        assert_ne!(v1, v2);
        assert_eq!(v1.len(), 43);
        assert!(b.check(&v1, "sid", JKT, NOW).is_ok());
        assert!(b.check(&v1, "sid", JKT, NOW + 600).is_ok());
        assert_eq!(
            b.check(&v1, "sid", JKT, NOW + 601).unwrap_err(),
            Error::Expired {
                exp: NOW + 600,
                claims: String::new()
            }
        );
        assert!(b.check(&v1, "sid", JKT, NOW - 60).is_ok());
        assert_eq!(code(b.check(&v1, "sid", JKT, NOW - 61)), "not_yet_valid");
    }

    #[test]
    fn another_session_key_or_secret_is_a_bad_signature() {
        let b = cookies(1);
        let v = b.issue("sid", JKT, NOW, [1; 8]);
        assert_eq!(code(b.check(&v, "sid2", JKT, NOW)), "bad_signature");
        assert_eq!(code(b.check(&v, "sid", &JKT[1..], NOW)), "bad_signature");
        // Lengths first: moving a character from the id to the thumbprint changes the tag.
        let w = b.issue("ab", "c", NOW, [1; 8]);
        assert_eq!(code(b.check(&w, "a", "bc", NOW)), "bad_signature");
        assert_eq!(code(cookies(2).check(&v, "sid", JKT, NOW)), "bad_signature");
    }

    #[test]
    fn altered_or_misshapen_is_refused() {
        let b = cookies(1);
        let good = b.issue("sid", JKT, NOW, [9; 8]);
        for i in 0..good.len() {
            let mut bytes = good.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            let got = code(b.check(&changed, "sid", JKT, NOW));
            assert!(
                got == "bad_signature" || got == "malformed",
                "{changed}: {got}"
            );
        }
        for bad in ["", "x", &good[..40], &format!("{good}AAAA"), "a b"] {
            assert_eq!(code(b.check(bad, "sid", JKT, NOW)), "malformed", "{bad}");
        }
    }
}
