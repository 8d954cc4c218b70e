//! The affinity value: a signed, opaque record of which backend a visitor is pinned to.
//!
//! One base64url string (cookie-safe and URL-safe, 47 to 66 characters: 52 or more for a value
//! issued today, whose time takes a 5-byte varint) of these bytes:
//!
//! ```text
//! version   1 byte    = 1
//! backend   8 bytes   keyed hash of the backend id (HKDF purpose "affinity:backend-ref"):
//!                     names the backend without revealing its id or address
//! visitor   8 bytes   the visitor's rendezvous key, so a failover goes to the same backend
//!                     at every edge location
//! iat       varint    issued at, seconds since the Unix epoch
//! seen      varint    last seen - iat
//! tag       16 bytes  HMAC-SHA256 of all the bytes above, truncated to 128 bits, keyed with
//!                     the subkey for HKDF purpose "affinity:value"
//! ```
//!
//! Only the router reads values, and only after the tag has verified; lifetimes are checked
//! by the router against its current `idleSeconds` and `ttlSeconds`.

use super::backends::REF_BYTES;
use crate::codec::{b64_decode, b64_encode, put_varint, Reader};
use crate::error::{Error, Result};
use crate::keys::{MacKey, Secret, TAG_BYTES};
use crate::time::UnixTime;

const VERSION: u8 = 1;
const PURPOSE: &str = "affinity:value";
/// version, backend, visitor, two one-byte varints, tag.
const MIN_BYTES: usize = 1 + REF_BYTES + 8 + 2 + TAG_BYTES;
/// Two 8-byte varints (times below 2^53) at most: 49 bytes, 66 characters.
pub(crate) const MAX_CHARS: usize = ((MIN_BYTES + 14) * 4).div_ceil(3);

/// The fields of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AffinityValue {
    pub(crate) backend: [u8; REF_BYTES],
    pub(crate) visitor: u64,
    pub(crate) issued_at: UnixTime,
    pub(crate) last_seen: UnixTime,
}

/// The keys that sign and verify values: the current secret's first, then those of the
/// previous secrets (verify only).
#[derive(Clone)]
pub(crate) struct ValueKey {
    current: MacKey,
    previous: Vec<MacKey>,
}

impl ValueKey {
    /// The keys of the `current` secret and of the `previous` ones, newest first.
    pub(crate) fn new(current: &Secret, previous: &[Secret]) -> Self {
        let key = |s: &Secret| MacKey::new(&s.derive(PURPOSE));
        ValueKey {
            current: key(current),
            previous: previous.iter().map(key).collect(),
        }
    }

    /// The signed text of `value`. `last_seen` is clamped to be at least `issued_at`.
    pub(crate) fn seal(&self, value: &AffinityValue) -> String {
        let mut bytes = Vec::with_capacity(MIN_BYTES + 14);
        bytes.push(VERSION);
        bytes.extend_from_slice(&value.backend);
        bytes.extend_from_slice(&value.visitor.to_le_bytes());
        put_varint(&mut bytes, value.issued_at);
        put_varint(&mut bytes, value.last_seen.saturating_sub(value.issued_at));
        let tag = self.current.tag(&bytes);
        bytes.extend_from_slice(&tag);
        b64_encode(&bytes)
    }

    /// The fields of an authentic value, and which secret signed it (0: the current one).
    /// Checks, in order, size (`too_large`), format (`malformed`), then the tag
    /// (`bad_signature`); nothing is read before the tag verifies.
    pub(crate) fn open(&self, text: &str) -> Result<(AffinityValue, usize)> {
        if text.len() > MAX_CHARS {
            return Err(Error::TooLarge {
                len: text.len(),
                max: MAX_CHARS,
            });
        }
        let bytes = b64_decode(text)?;
        if bytes.len() < MIN_BYTES {
            return Err(Error::Malformed("too short"));
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        let generation = std::iter::once(&self.current)
            .chain(&self.previous)
            .position(|k| k.verify(body, tag))
            .ok_or(Error::BadSignature)?;
        // Authentic from here on: written by `seal` with this key.
        let mut r = Reader::new(body);
        if r.byte()? != VERSION {
            return Err(Error::Malformed("unknown version"));
        }
        let mut backend = [0u8; REF_BYTES];
        backend.copy_from_slice(r.take(REF_BYTES)?);
        let mut visitor = [0u8; 8];
        visitor.copy_from_slice(r.take(8)?);
        let issued_at = r.varint()?;
        let last_seen = issued_at
            .checked_add(r.varint()?)
            .ok_or(Error::Malformed("last seen overflows"))?;
        if !r.rest().is_empty() {
            return Err(Error::Malformed("trailing bytes"));
        }
        let value = AffinityValue {
            backend,
            visitor: u64::from_le_bytes(visitor),
            issued_at,
            last_seen,
        };
        Ok((value, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MAX_TIME;

    fn key() -> ValueKey {
        ValueKey::new(&Secret::new(vec![11; 32]).unwrap(), &[])
    }

    fn sample() -> AffinityValue {
        AffinityValue {
            backend: *b"\x01\x02\x03\x04\x05\x06\x07\x08",
            visitor: 0x1122_3344_5566_7788,
            issued_at: 1_800_000_000,
            last_seen: 1_800_000_900,
        }
    }

    #[test]
    fn round_trip_and_size() {
        let k = key();
        let v = sample();
        let text = k.seal(&v);
        assert_eq!(k.open(&text).unwrap(), (v, 0));
        assert_eq!(text.len(), 54);
        let big = AffinityValue {
            issued_at: MAX_TIME,
            last_seen: MAX_TIME,
            ..v
        };
        let small = AffinityValue {
            issued_at: 0,
            last_seen: 0,
            ..v
        };
        assert!(k.seal(&big).len() <= MAX_CHARS);
        assert_eq!(k.open(&k.seal(&big)).unwrap(), (big, 0));
        assert_eq!(k.open(&k.seal(&small)).unwrap(), (small, 0));
        assert_eq!(MAX_CHARS, 66);
    }

    /// The longest value `seal` makes, two 8-byte varints (issued at 2^49 or later, last seen
    /// 2^49 or more after it, both below 2^53), is `MAX_CHARS` (66) long and opens; one
    /// character more is `too_large`.
    #[test]
    fn the_longest_value_opens() {
        let k = key();
        let longest = AffinityValue {
            issued_at: 1 << 49,
            last_seen: MAX_TIME,
            ..sample()
        };
        let text = k.seal(&longest);
        assert_eq!(text.len(), MAX_CHARS);
        assert_eq!(k.open(&text).unwrap(), (longest, 0));
        let code = k.open(&format!("{text}A")).unwrap_err().code();
        assert_eq!(code, "too_large");
    }

    /// Frozen vector: a format change must be deliberate (every pinned visitor would move).
    #[test]
    fn known_answer() {
        assert_eq!(
            key().seal(&sample()),
            "AQECAwQFBgcIiHdmVUQzIhGApKfaBoQHjWaIczA3ZSsIcQwKm2IP4g"
        );
    }

    #[test]
    fn every_changed_byte_is_rejected() {
        let k = key();
        let mut bytes = b64_decode(&k.seal(&sample())).unwrap();
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                bytes[i] ^= flip;
                assert!(k.open(&b64_encode(&bytes)).is_err(), "byte {i} ^ {flip:#x}");
                bytes[i] ^= flip;
            }
        }
        assert!(k.open(&b64_encode(&bytes)).is_ok());
        assert_eq!(
            k.open(&b64_encode(&bytes[..bytes.len() - 1]))
                .unwrap_err()
                .code(),
            "bad_signature"
        );
    }

    #[test]
    fn other_secrets_and_purposes_do_not_verify() {
        let text = key().seal(&sample());
        let other = ValueKey::new(&Secret::new(vec![12; 32]).unwrap(), &[]);
        assert_eq!(other.open(&text).unwrap_err().code(), "bad_signature");
        let token_key = MacKey::new(&Secret::new(vec![11; 32]).unwrap().derive("token:session"));
        assert_eq!(
            ValueKey {
                current: token_key,
                previous: Vec::new()
            }
            .open(&text)
            .unwrap_err()
            .code(),
            "bad_signature"
        );
    }

    #[test]
    fn previous_secrets_open_their_values_and_only_the_current_one_seals() {
        let (old, new) = (
            Secret::new(vec![11; 32]).unwrap(),
            Secret::new(vec![12; 32]).unwrap(),
        );
        let rotated = ValueKey::new(&new, &[old]);
        let v = sample();
        assert_eq!(rotated.open(&key().seal(&v)).unwrap(), (v, 1));
        let resealed = rotated.seal(&v);
        assert_eq!(rotated.open(&resealed).unwrap(), (v, 0));
        assert_eq!(key().open(&resealed).unwrap_err().code(), "bad_signature");
    }

    #[test]
    fn garbage_is_refused_with_a_code() {
        let k = key();
        assert_eq!(k.open(&"A".repeat(67)).unwrap_err().code(), "too_large");
        for bad in ["", "A", "!!!!", "AQ==", &"A".repeat(40)] {
            let code = k.open(bad).unwrap_err().code();
            assert!(
                code == "malformed" || code == "bad_signature",
                "{bad:?}: {code}"
            );
        }
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn open_never_panics(text in any::<String>()) {
            let _ = key().open(&text);
        }

        #[test]
        fn any_single_byte_change_is_rejected(
            visitor in any::<u64>(), iat in 0..crate::time::MAX_TIME, seen in 0u64..1 << 30,
            index in any::<prop::sample::Index>(), delta in 1u8..=255,
        ) {
            let k = key();
            let v = AffinityValue { backend: [9; REF_BYTES], visitor, issued_at: iat, last_seen: iat.saturating_add(seen) };
            let mut bytes = b64_decode(&k.seal(&v)).unwrap();
            let i = index.index(bytes.len());
            bytes[i] = bytes[i].wrapping_add(delta);
            prop_assert!(k.open(&b64_encode(&bytes)).is_err());
        }
    }

    fn key() -> ValueKey {
        ValueKey::new(&Secret::new(vec![11; 32]).unwrap(), &[])
    }
}
