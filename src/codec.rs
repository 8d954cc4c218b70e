//! Byte-level helpers shared by the compact formats: strict base64url and LEB128 varints; and
//! percent-decoding, for URLs.

use crate::error::{Error, Result};

/// The base64url alphabet (RFC 4648 section 5).
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// The standard base64 alphabet (RFC 4648 section 4).
#[cfg(test)]
const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Marks a byte outside the alphabet in a [`decoding_table`].
const INVALID: u8 = 0xff;
const URL_SAFE_VALUES: [u8; 256] = decoding_table(URL_SAFE);
#[cfg(test)]
const STANDARD_VALUES: [u8; 256] = decoding_table(STANDARD);

/// Each byte's 6-bit value in `alphabet`, or [`INVALID`] (evaluated at compile time).
const fn decoding_table(alphabet: &[u8; 64]) -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut slots: &mut [u8] = &mut table;
    let mut byte = 0u8;
    while let [slot, rest @ ..] = slots {
        *slot = sextet(alphabet, byte);
        slots = rest;
        byte = byte.wrapping_add(1);
    }
    table
}

/// The position of `byte` in `alphabet`, or [`INVALID`].
const fn sextet(alphabet: &[u8; 64], byte: u8) -> u8 {
    let mut chars: &[u8] = alphabet;
    let mut value = 0u8;
    while let [c, rest @ ..] = chars {
        if *c == byte {
            return value;
        }
        chars = rest;
        value += 1;
    }
    INVALID
}

/// Base64url without padding.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    b64_encode_to(&mut out, bytes);
    // Only alphabet characters, all ASCII, were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends base64url without padding to `out` (tokens are built in one buffer this way, not
/// from a string per segment).
// One copy in the wasm, not one per caller.
#[inline(never)]
pub(crate) fn b64_encode_to(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len().div_ceil(3) * 4);
    // The mask keeps the index below 64: the check compiles away and `A` is never used.
    let char = |n: u32, shift: u32| {
        let i = (n >> shift & 63) as usize;
        URL_SAFE.get(i).copied().unwrap_or(b'A')
    };
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        // Always three bytes (`chunks_exact`).
        if let &[a, b, c] = c {
            let n = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
            out.extend([char(n, 18), char(n, 12), char(n, 6), char(n, 0)]);
        }
    }
    match *chunks.remainder() {
        [a] => out.extend([char(u32::from(a) << 16, 18), char(u32::from(a) << 16, 12)]),
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend([char(n, 18), char(n, 12), char(n, 6)]);
        }
        _ => {}
    }
}

/// Strict base64url: no padding, no other alphabet, no non-zero trailing bits, so every value
/// has exactly one text form and any changed character is detected.
pub(crate) fn b64_decode(text: &str) -> Result<Vec<u8>> {
    decode(text, &URL_SAFE_VALUES).ok_or(Error::Malformed("not canonical base64url"))
}

/// [`b64_decode`] of the text in `buf`, in place: the bytes replace the text (each group of four
/// characters is read before its three bytes are written over its start), and `buf` is cut to
/// them. A token decoded this way needs no second buffer.
pub(crate) fn b64_decode_in_place(buf: &mut Vec<u8>) -> Result<()> {
    match decode_in_place(buf, &URL_SAFE_VALUES) {
        Some(len) => {
            buf.truncate(len);
            Ok(())
        }
        None => Err(Error::Malformed("not canonical base64url")),
    }
}

/// [`b64_decode_in_place`] of a fixed buffer (a short value decoded on the stack): the length
/// of the bytes, at its start.
pub(crate) fn b64_decode_slice(buf: &mut [u8]) -> Result<usize> {
    decode_in_place(buf, &URL_SAFE_VALUES).ok_or(Error::Malformed("not canonical base64url"))
}

/// Strict base64 without padding in the standard alphabet. Tests only: secrets, the one text
/// read in this alphabet, are decoded in constant time (`Secret::from_base64`); their tests
/// check that it decodes as this did.
#[cfg(test)]
pub(crate) fn b64_decode_standard(text: &str) -> Option<Vec<u8>> {
    decode(text, &STANDARD_VALUES)
}

fn decode(text: &str, values: &[u8; 256]) -> Option<Vec<u8>> {
    let mut out = text.as_bytes().to_vec();
    let len = decode_in_place(&mut out, values)?;
    out.truncate(len);
    Some(out)
}

/// Decodes the text in `buf` over itself; the length of the bytes, at its start.
fn decode_in_place(buf: &mut [u8], values: &[u8; 256]) -> Option<usize> {
    let quads = buf.len() / 4;
    let whole = quads * 3;
    let tail = buf.len() % 4;
    if tail == 1 {
        return None;
    }
    // Invalid characters have the high bit set: one test at the end finds any. A `u8` is always
    // within the 256 entries: the check compiles away.
    let value = |c: u8| u32::from(values.get(usize::from(c)).copied().unwrap_or(INVALID));
    let mut seen = 0;
    for q in 0..quads {
        // Group `q` is at 4q, its bytes go to 3q: before it, and after the groups already read.
        let Some(&[a, b, c, d]) = buf.get(4 * q..4 * q + 4) else {
            return None;
        };
        let [a, b, c, d] = [value(a), value(b), value(c), value(d)];
        seen |= a | b | c | d;
        let n = a << 18 | b << 12 | c << 6 | d;
        if let Some(out) = buf.get_mut(3 * q..3 * q + 3) {
            out.copy_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        }
    }
    let mut n = 0;
    for (i, c) in (0u32..).zip(buf.get(4 * quads..).unwrap_or_default()) {
        seen |= value(*c);
        n |= value(*c) << (18 - 6 * i);
    }
    let len = whole + tail.saturating_sub(1);
    for (i, o) in (0u32..).zip(buf.get_mut(whole..len).unwrap_or_default()) {
        *o = (n >> (16 - 8 * i)) as u8;
    }
    // The bits past the last byte must be zero, or two texts would decode alike.
    let spare = match tail {
        2 => 0xffff,
        3 => 0xff,
        _ => 0,
    };
    (seen & 0x80 == 0 && n & spare == 0).then_some(len)
}

/// Bytes read from a token as text for a message: ASCII as is, anything else as U+FFFD (key
/// ids are ASCII, so nothing that could name a key is lost).
pub(crate) fn ascii_lossy(bytes: &[u8]) -> String {
    let char = |&b: &u8| match b {
        0..=0x7f => char::from(b),
        _ => char::REPLACEMENT_CHARACTER,
    };
    bytes.iter().map(char).collect()
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
        // An error made only when needed: one made and dropped on every byte costs a call.
        let Some((&b, rest)) = self.bytes.split_first() else {
            return Err(Error::Malformed("truncated"));
        };
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
    // One copy, not one per read of the envelope's three.
    #[inline(never)]
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

/// `raw` with its `%XX` escapes decoded (a `%` without two hex digits stays), and `+` read as a
/// space when `plus_is_space` (a form's query). The one percent-decoder: URL affinity, the gateway.
#[cfg_attr(not(feature = "sealed"), allow(dead_code))]
pub(crate) fn percent_decoded(raw: &[u8], plus_is_space: bool) -> Vec<u8> {
    let hex = |i: usize| raw.get(i).and_then(|h| char::from(*h).to_digit(16));
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let (byte, len) = match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => ((hi * 16 + lo) as u8, 3),
            (b'+', ..) if plus_is_space => (b' ', 1),
            _ => (b, 1),
        };
        out.push(byte);
        i += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_their_edges() {
        for n in [
            0,
            1,
            127,
            128,
            16383,
            16384,
            1_800_000_000,
            (1 << 53) - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            let mut r = Reader::new(&out);
            assert_eq!(r.varint().unwrap(), n);
            assert!(r.rest().is_empty());
        }
    }

    #[test]
    fn bad_varints_are_malformed() {
        for bad in [
            &[][..],
            &[0x80],
            &[0x80, 0x00],
            &[0xff; 11],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        ] {
            assert_eq!(
                Reader::new(bad).varint().unwrap_err().code(),
                "malformed",
                "{bad:?}"
            );
        }
    }

    /// `take` reads up to the last byte, and refuses one more than is left.
    #[test]
    fn take_reads_to_the_end_and_no_further() {
        let mut r = Reader::new(b"abc");
        assert_eq!(r.take(1).unwrap(), b"a");
        assert_eq!(r.take(3).unwrap_err().code(), "malformed");
        assert_eq!(r.take(2).unwrap(), b"bc");
        assert!(r.rest().is_empty());
    }

    /// `+` is a space only when `plus_is_space` (a form's query); otherwise it stays a `+`, as
    /// does `%2B`, whichever the mode.
    #[test]
    fn plus_is_a_space_only_in_a_form_query() {
        assert_eq!(percent_decoded(b"a+b%2B", true), b"a b+");
        assert_eq!(percent_decoded(b"a+b%2B", false), b"a+b+");
    }

    #[test]
    fn base64_matches_rfc4648() {
        // RFC 4648 section 10, without padding.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64_encode(plain.as_bytes()), coded);
            assert_eq!(b64_decode(coded).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let bytes = &all[len..];
            assert_eq!(b64_decode(&b64_encode(bytes)).unwrap(), bytes);
        }
        for len in 0..8 {
            let mut out = b"head.".to_vec();
            b64_encode_to(&mut out, &all[..len]);
            assert_eq!(
                out,
                format!("head.{}", b64_encode(&all[..len])).into_bytes()
            );
        }
        assert_eq!(b64_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64_decode_standard("+/8").unwrap(), [0xfb, 0xff]);
        assert!(b64_decode("+/8").is_err());
        assert!(b64_decode_standard("-_8").is_none());
    }

    #[test]
    fn decoding_in_place_agrees_with_decoding() {
        let all: Vec<u8> = (0..=255).collect();
        let mut texts: Vec<String> = (0..70).map(|len| b64_encode(&all[len..len * 2])).collect();
        texts.extend(
            [
                "AR", "AQ==", "A+", "A", "AAF", "AAAAA", "AA\0A", "é", "AAAAé", "AAAAAA-_",
            ]
            .map(String::from),
        );
        for text in texts {
            let mut buf = text.clone().into_bytes();
            let in_place = b64_decode_in_place(&mut buf).map(|()| buf);
            assert_eq!(in_place, b64_decode(&text), "{text:?}");
        }
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64_decode("AQ").unwrap(), [1]);
        for bad in [
            "AR", "AQ==", "A+", "A/", "A", "AQ ", "é", "AAF", "AAAAA", "AA\0A",
        ] {
            assert!(b64_decode(bad).is_err(), "{bad:?}");
        }
    }
}
