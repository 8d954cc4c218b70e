//! Byte-level helpers shared by the compact formats: strict base64url and LEB128 varints.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::{Error, Result};

/// Base64url without padding.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url: no padding, no other alphabet, no non-zero trailing bits, so every value
/// has exactly one text form and any changed character is detected.
pub(crate) fn b64_decode(text: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| Error::Malformed("not canonical base64url"))
}

/// Appends `n` as an unsigned LEB128 varint (1 byte below 128, 5 bytes for today's Unix time).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A cursor over untrusted bytes; every read fails with `malformed` instead of panicking.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn byte(&mut self) -> Result<u8> {
        let (&b, rest) = self.bytes.split_first().ok_or(Error::Malformed("truncated"))?;
        self.bytes = rest;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(Error::Malformed("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// A canonical varint of at most 64 bits (overlong encodings are refused).
    pub(crate) fn varint(&mut self) -> Result<u64> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(Error::Malformed("varint overflows 64 bits"));
            }
            n |= bits << shift;
            if b & 0x80 == 0 {
                if b == 0 && shift > 0 {
                    return Err(Error::Malformed("overlong varint"));
                }
                return Ok(n);
            }
        }
        Err(Error::Malformed("varint overflows 64 bits"))
    }

    pub(crate) fn rest(self) -> &'a [u8] {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_their_edges() {
        for n in [0, 1, 127, 128, 16383, 16384, 1_800_000_000, (1 << 53) - 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            let mut r = Reader::new(&out);
            assert_eq!(r.varint().unwrap(), n);
            assert!(r.rest().is_empty());
        }
    }

    #[test]
    fn bad_varints_are_malformed() {
        for bad in [&[][..], &[0x80], &[0x80, 0x00], &[0xff; 11], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]] {
            assert_eq!(Reader::new(bad).varint().unwrap_err().code(), "malformed", "{bad:?}");
        }
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64_decode("AQ").unwrap(), [1]);
        for bad in ["AR", "AQ==", "A+", "A/", "A", "AQ ", "é"] {
            assert!(b64_decode(bad).is_err(), "{bad:?}");
        }
    }
}
