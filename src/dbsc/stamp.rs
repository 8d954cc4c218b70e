//! The stamped values of DBSC, challenges and bound cookies alike: the base64url of an issue
//! time (8 bytes, big-endian), 8 random bytes and a 16-byte HMAC-SHA256 tag over a context (what
//! the value is for: kind, session id, key thumbprint) and those 16 bytes, with keys derived
//! from every secret of the keyring for one purpose. The first key stamps, every key checks.

use crate::codec::{b64_decode, b64_encode, put_varint};
use crate::error::{Error, Result};
use crate::keys::{signing_key, KeyRing, MacKey, TAG_BYTES};
use crate::time::UnixTime;

/// How far in the future an issue time may lie, seconds (clocks of two edge locations).
pub const LEEWAY_SECONDS: u64 = 60;

/// Issue time and random bytes: what the tag covers after the context.
const BODY: usize = 16;

/// Stamps and checks values for one purpose.
#[derive(Clone)]
pub(crate) struct Stamper {
    keys: Vec<(String, MacKey)>,
}

impl std::fmt::Debug for Stamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stamper(<keys>)")
    }
}

/// A value that checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// Its tag, unique per value.
    pub(crate) tag: Vec<u8>,
    /// Its last valid second.
    pub(crate) expires: UnixTime,
}

/// The context of a tag from its parts, each length first (so no two lists of parts give the
/// same bytes), after a byte of its own.
pub(crate) fn context(first: u8, parts: &[&str]) -> Vec<u8> {
    let mut out = vec![first];
    for part in parts {
        put_varint(&mut out, part.len() as u64);
        out.extend_from_slice(part.as_bytes());
    }
    out
}

impl Stamper {
    /// Keys for `purpose` from every secret of `ring`.
    pub(crate) fn new(ring: &KeyRing, purpose: &str) -> Self {
        Stamper {
            keys: ring.mac_keys(purpose),
        }
    }

    /// A new value for `context`, issued at `now` (43 characters).
    pub(crate) fn issue(&self, context: &[u8], now: UnixTime, random: [u8; 8]) -> String {
        let mut message = context.to_vec();
        message.extend_from_slice(&now.to_be_bytes());
        message.extend_from_slice(&random);
        let body = message.get(context.len()..).unwrap_or_default();
        let mut value = Vec::with_capacity(BODY + TAG_BYTES);
        value.extend_from_slice(body);
        // The ring is never empty; were it, no value would ever check.
        if let Ok((_, key)) = signing_key(&self.keys) {
            value.extend_from_slice(&key.tag(&message));
        }
        b64_encode(&value)
    }

    /// Checks `value` for `context`, valid `lifetime` seconds after its issue: `malformed`
    /// (`what`) when it is not a stamped value's shape; `forged` when no key's tag fits;
    /// `expired` after its last second; `not_yet_valid` when issued more than
    /// [`LEEWAY_SECONDS`] after `now`; `invalid_config` (setting `now`) for a `now` past 10^11,
    /// milliseconds.
    pub(crate) fn check(
        &self,
        context: &[u8],
        value: &str,
        now: UnixTime,
        lifetime: u64,
        forged: Error,
        what: &'static str,
    ) -> Result<Stamp> {
        // Milliseconds would read every value as expired, saying nothing of the clock.
        crate::time::check_now(now)?;
        let bytes = b64_decode(value)?;
        let (body, tag) = bytes
            .split_at_checked(BODY)
            .filter(|(_, tag)| tag.len() == TAG_BYTES)
            .ok_or(Error::Malformed(what))?;
        let mut message = context.to_vec();
        message.extend_from_slice(body);
        if !self.keys.iter().any(|(_, key)| key.verify(&message, tag)) {
            return Err(forged);
        }
        let mut time = [0u8; 8];
        time.iter_mut().zip(body).for_each(|(t, b)| *t = *b);
        let issued = UnixTime::from_be_bytes(time);
        let expires = issued.saturating_add(lifetime);
        if now > expires {
            return Err(Error::Expired {
                exp: expires,
                claims: String::new(),
            });
        }
        if issued > now.saturating_add(LEEWAY_SECONDS) {
            return Err(Error::NotYetValid { valid_from: issued });
        }
        Ok(Stamp {
            tag: tag.to_vec(),
            expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Secret;

    #[test]
    fn contexts_are_unambiguous() {
        assert_ne!(context(1, &["ab", "c"]), context(1, &["a", "bc"]));
        assert_ne!(context(1, &["a"]), context(2, &["a"]));
        assert_eq!(context(3, &["ab"]), vec![3, 2, b'a', b'b']);
    }

    #[test]
    fn the_layout_of_a_value() {
        let ring = KeyRing::new(vec![("k".into(), Secret::new(vec![5; 32]).unwrap())]).unwrap();
        let s = Stamper::new(&ring, "p");
        // A time of eight distinct bytes, still seconds (under 10^11).
        let value = s.issue(b"ctx", 0x0000_0017_0506_0708, [9; 8]);
        let bytes = b64_decode(&value).unwrap();
        assert_eq!(bytes[..8], [0, 0, 0, 0x17, 5, 6, 7, 8]);
        assert_eq!(bytes[8..16], [9; 8]);
        let mut message = b"ctx".to_vec();
        message.extend_from_slice(&bytes[..16]);
        assert_eq!(
            bytes[16..],
            MacKey::new(&ring.iter().next().unwrap().1.derive("p")).tag(&message)
        );
        let stamp = s
            .check(
                b"ctx",
                &value,
                0x0000_0017_0506_0708,
                5,
                Error::BadSignature,
                "x",
            )
            .unwrap();
        assert_eq!(
            (stamp.tag, stamp.expires),
            (bytes[16..].to_vec(), 0x0000_0017_0506_070d)
        );
    }
}
