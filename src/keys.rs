//! Secrets, key ids, the keyring, and per-purpose subkeys derived with HKDF-SHA256.
//!
//! A [`KeyRing`] holds one or more secrets, each with an id. The first key signs; all keys
//! verify, so a secret can be rotated without logging anybody out: put the new key first and
//! keep the old one until the tokens it signed have expired.
//!
//! Secrets are not used directly: every use (session tokens, CSRF tokens, affinity values,
//! store encryption...) derives its own 32-byte subkey from the secret with HKDF and a
//! *purpose* string, so a value made for one purpose never verifies as another. The one
//! exception is JWT HS256, whose standard keys the HMAC with the secret itself (for interop), so
//! JWTs are not bound to a purpose.

use std::fmt;

use ctutils::CtEq;
use serde::Deserialize;
use sha2::block_api::compress256;

use crate::error::{Error, Result};

/// The shortest secret accepted, in bytes (256 bits, the HMAC-SHA256 key strength).
pub const MIN_SECRET_BYTES: usize = 32;

/// The longest key id accepted, in bytes.
pub const MAX_KEY_ID_BYTES: usize = 64;

/// HKDF salt: a fixed domain separator for everything this crate derives.
const HKDF_SALT: &[u8] = b"edge-session/v1";

/// A secret of at least [`MIN_SECRET_BYTES`] bytes. Its `Debug` output never shows the bytes.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from raw bytes; refused with `invalid_config` when shorter than 32 bytes.
    ///
    /// ```
    /// use edge_session::Secret;
    /// assert!(Secret::new(vec![7; 32]).is_ok());
    /// assert_eq!(Secret::new(vec![7; 31]).unwrap_err().code(), "invalid_config");
    /// ```
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(Error::config(format!(
                "a secret must be at least {MIN_SECRET_BYTES} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(Secret(bytes))
    }

    /// A secret from its base64url text (padding optional; the standard alphabet is accepted
    /// too, since that is what `openssl rand -base64 32` prints). Decoded in constant time (no
    /// table lookup or branch on a character): neither the time taken nor the alphabet tried
    /// first depends on the secret.
    ///
    /// ```
    /// use edge_session::Secret;
    /// let s = Secret::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
    /// # let _ = s;
    /// ```
    pub fn from_base64(text: &str) -> Result<Self> {
        let text = text.trim().trim_end_matches('=');
        // Both alphabets, always, so the time taken does not tell which one the text is in;
        // base64url wins, as it did (text valid in both decodes alike in both).
        let url = decode_ct(text, URL_ALPHABET);
        let standard = decode_ct(text, STANDARD_ALPHABET);
        let bytes = url
            .or(standard)
            .ok_or_else(|| Error::config("a secret must be base64url text"))?;
        Self::new(bytes)
    }

    /// The 32-byte subkey for `purpose`: HKDF-SHA256 with a fixed salt and the purpose as info.
    // Set-up code, called from many constructors: one copy in the wasm, not one per caller.
    #[inline(never)]
    pub(crate) fn derive(&self, purpose: &str) -> [u8; 32] {
        #[cfg(test)]
        LABELS.with(|l| l.borrow_mut().push(purpose.to_owned()));
        hkdf_sha256(HKDF_SALT, &self.0, purpose.as_bytes())
    }

    /// The raw bytes, for standards that key HMAC with the secret itself (JWT HS256).
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
thread_local! {
    /// Test builds: every label [`Secret::derive`] was given on this thread, in order (see the
    /// test `no_purpose_reaches_another_uses_key`).
    static LABELS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The two characters after `A-Z a-z 0-9` (values 62 and 63) of base64url (RFC 4648 section 5).
pub(crate) const URL_ALPHABET: [u8; 2] = *b"-_";
/// The same of the standard alphabet (RFC 4648 section 4).
pub(crate) const STANDARD_ALPHABET: [u8; 2] = *b"+/";

/// Unpadded base64 in the alphabet whose values 62 and 63 are `last` (`A-Z a-z 0-9` first),
/// decoded in constant time: no table lookup or branch depends on a character (the arithmetic
/// of `base64ct`, which this replaces: one copy for both alphabets, some 2 KB less wasm). Strict
/// as [`crate::codec`] is: no padding, no other character, no non-zero trailing bits.
// Set-up code: one out-of-line copy.
#[inline(never)]
pub(crate) fn decode_ct(text: &str, last: [u8; 2]) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    let [c62, c63] = last.map(i16::from);
    // The value of one character plus 1, or 0 when it is none of the alphabet's: each term is
    // its range's mask (all ones when lo <= c <= hi: both differences negative) and the value.
    let sextet = |c: u8| -> i16 {
        let c = i16::from(c);
        let within = |lo: i16, hi: i16| ((lo - 1 - c) & (c - hi - 1)) >> 8;
        (within(0x41, 0x5a) & (c - 0x40))
            + (within(0x61, 0x7a) & (c - 0x46))
            + (within(0x30, 0x39) & (c + 5))
            + (within(c62, c62) & 63)
            + (within(c63, c63) & 64)
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    // Non-zero when a character was not in the alphabet or trailing bits were set.
    let mut bad: i16 = 0;
    for chunk in text.chunks(4) {
        let mut acc: u32 = 0;
        for &c in chunk {
            let v = sextet(c) - 1;
            bad |= v >> 8;
            acc = (acc << 6) | u32::from(v as u16 & 0x3f);
        }
        let bytes = match chunk.len() {
            4 => 3,
            3 => {
                bad |= (acc & 0x3) as i16;
                acc >>= 2;
                2
            }
            2 => {
                bad |= (acc & 0xf) as i16;
                acc >>= 4;
                1
            }
            // A lone character: 6 bits, not a byte.
            _ => return None,
        };
        let be = acc.to_be_bytes();
        out.extend_from_slice(be.get(4 - bytes..).unwrap_or_default());
    }
    (bad == 0).then_some(out)
}

/// HKDF-SHA256 (RFC 5869) of one hash length: `PRK = HMAC(salt, ikm)`, then the whole output
/// is `T(1) = HMAC(PRK, info | 0x01)`. On [`MacKey`], as every MAC of the crate (the `hkdf`
/// crate's generic HMAC added 3 KB to the JS wasm); the tests check it against `hkdf`.
fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = MacKey::new(salt).full_tag(ikm);
    MacKey::new(&prk).full_tag(&[info, &[1]].concat())
}

/// A key as written in configuration: `{ "id": "k2", "secret": "<base64url>" }`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The key id, carried in every token this key signs.
    pub id: String,
    /// The secret, base64url, at least 32 bytes once decoded.
    pub secret: String,
}

impl fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyConfig")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Keys with ids: the first signs, all verify.
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<(String, Secret)>,
}

impl KeyRing {
    /// A keyring from `(id, secret)` pairs, the signing key first.
    ///
    /// Refused with `invalid_config` when empty, when an id or a secret repeats (a new key with
    /// the old secret pasted in rotates nothing: who holds the old secret signs under the new
    /// id), when an id is empty,
    /// longer than 64 bytes, or uses characters other than `A-Z a-z 0-9 . _ -`, or when an id
    /// is a secret of the ring (a secret pasted as the id too: ids travel in every token, a
    /// JWT's `kid` header). Messages name keys by position, never by id: an id and a secret
    /// swapped by mistake would show the secret.
    pub fn new(keys: Vec<(String, Secret)>) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::config_of(
                "keys",
                "keys: at least one key is required",
            ));
        }
        for (i, (id, secret)) in keys.iter().enumerate() {
            check_key_id(i, id)?;
            if let Some(j) = keys.iter().take(i).position(|(other, _)| other == id) {
                return Err(Error::config_of(
                    "keys",
                    format!("keys[{i}]: the same key id as keys[{j}]"),
                ));
            }
            if let Some(j) = keys
                .iter()
                .take(i)
                .position(|(_, other)| other.0 == secret.0)
            {
                return Err(Error::config_of(
                    "keys",
                    format!(
                        "keys[{i}]: the same secret as keys[{j}]: a new key needs new random bytes"
                    ),
                ));
            }
            let secret = Secret::from_base64(id).ok();
            if keys
                .iter()
                .any(|(_, s)| Some(&s.0) == secret.as_ref().map(|s| &s.0))
            {
                return Err(Error::config_of(
                    "keys",
                    format!("keys[{i}]: the key id is a secret of the ring, which every token would carry"),
                ));
            }
        }
        Ok(KeyRing { keys })
    }

    /// A keyring from configuration entries with base64url secrets.
    pub fn from_config(keys: &[KeyConfig]) -> Result<Self> {
        let keys = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let secret = Secret::from_base64(&k.secret)
                    .map_err(|e| Error::config_of("keys", format!("keys[{i}]: {}", e.detail())))?;
                Ok((k.id.clone(), secret))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(keys)
    }

    /// The keys in order, the signing key first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Secret)> {
        self.keys.iter().map(|(id, s)| (id.as_str(), s))
    }

    /// Per-purpose HMAC-SHA256 keys for every key in the ring, in order (never empty, like the
    /// ring: [`signing_key`] finds the first).
    pub(crate) fn mac_keys(&self, purpose: &str) -> Vec<(String, MacKey)> {
        self.iter()
            .map(|(id, s)| (id.to_owned(), MacKey::new(&s.derive(purpose))))
            .collect()
    }
}

/// The signing key of keys derived from a [`KeyRing`], in the ring's order: the first. A ring is
/// never empty ([`KeyRing::new`] refuses that), so the error stands in for a panic that cannot
/// happen.
pub(crate) fn signing_key<K>(keys: &[K]) -> Result<&K> {
    keys.first()
        .ok_or_else(|| Error::config_of("keys", "keys: at least one key is required"))
}

fn check_key_id(index: usize, id: &str) -> Result<()> {
    if !valid_key_id(id) {
        return Err(Error::config_of("keys", format!(
            "keys[{index}]: a key id must be 1 to {MAX_KEY_ID_BYTES} characters of A-Z a-z 0-9 . _ -"
        )));
    }
    Ok(())
}

/// Whether `id` is a key id: 1 to [`MAX_KEY_ID_BYTES`] characters of `A-Z a-z 0-9 . _ -`.
pub(crate) fn valid_key_id(id: &str) -> bool {
    let ok_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-');
    !id.is_empty() && id.len() <= MAX_KEY_ID_BYTES && id.bytes().all(ok_char)
}

/// Length of the authentication tags this crate writes: 128 bits (RFC 2104 section 5 allows
/// truncating HMAC output to half its length, and no less than 80 bits).
pub(crate) const TAG_BYTES: usize = 16;

/// An HMAC-SHA256 key (RFC 2104) with its inner and outer pads already hashed, so each use
/// costs only the message's blocks and one outer block: SHA-256's compression function
/// (`sha2::block_api::compress256`) on state kept here. The `hmac` crate's MAC, cloned per
/// use, did the same work around a block buffer and a generic finish that cost a compact
/// `verify` about 6% of its time in workerd; the tests check every length against it.
#[derive(Clone)]
pub(crate) struct MacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

/// SHA-256's initial hash value (FIPS 180-4 section 5.3.3).
const SHA256_INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

impl MacKey {
    // Set-up code, like `Secret::derive`: one copy.
    #[inline(never)]
    pub(crate) fn new(key: &[u8]) -> Self {
        let key = block_key(key);
        let pad = |byte: u8| {
            let mut state = SHA256_INITIAL;
            compress256(&mut state, &[key.map(|k| k ^ byte)]);
            state
        };
        MacKey {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    /// The truncated tag of `message`.
    pub(crate) fn tag(&self, message: &[u8]) -> [u8; TAG_BYTES] {
        let full = self.full_tag(message);
        // The first TAG_BYTES of the 32.
        let mut tag = [0u8; TAG_BYTES];
        tag.iter_mut().zip(full).for_each(|(t, f)| *t = f);
        tag
    }

    /// Checks a truncated tag in constant time.
    pub(crate) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        let full = self.full_tag(message);
        let expected = full.get(..TAG_BYTES).unwrap_or_default();
        tag.len() == TAG_BYTES && bool::from(expected.ct_eq(tag))
    }

    /// The full 32-byte tag of `message` (JWT HS256 signatures are untruncated).
    // One copy: every MAC of the crate goes through it.
    #[inline(never)]
    pub(crate) fn full_tag(&self, message: &[u8]) -> [u8; 32] {
        let inner = hashed(self.inner, 64, message);
        hashed(self.outer, 64, &inner)
    }

    /// Checks a full 32-byte tag in constant time.
    pub(crate) fn verify_full(&self, message: &[u8], tag: &[u8]) -> bool {
        tag.len() == 32 && bool::from(self.full_tag(message).as_slice().ct_eq(tag))
    }
}

/// SHA-256 of `message` (FIPS 180-4), on the same compression function as [`MacKey`].
pub(crate) fn sha256(message: &[u8]) -> [u8; 32] {
    hashed(SHA256_INITIAL, 0, message)
}

/// The SHA-256 digest of `before` bytes already compressed into `state` (whole blocks), then
/// `message`: the message's whole blocks, then the last bytes with the padding and the bit
/// length of everything (FIPS 180-4 section 5.1.1), in one block or two.
fn hashed(mut state: [u32; 8], before: u64, message: &[u8]) -> [u8; 32] {
    let mut blocks = message.chunks_exact(64);
    for block in &mut blocks {
        if let Ok(block) = <&[u8; 64]>::try_from(block) {
            compress256(&mut state, std::slice::from_ref(block));
        }
    }
    let rest = blocks.remainder();
    let mut last = [[0u8; 64]; 2];
    let count = if rest.len() < 56 { 1 } else { 2 };
    let bits = (before + message.len() as u64)
        .wrapping_mul(8)
        .to_be_bytes();
    let flat = last.as_flattened_mut();
    flat.iter_mut().zip(rest).for_each(|(b, r)| *b = *r);
    if let Some(b) = flat.get_mut(rest.len()) {
        *b = 0x80;
    }
    let end = 64 * count;
    if let Some(b) = flat.get_mut(end - 8..end) {
        b.copy_from_slice(&bits);
    }
    compress256(&mut state, last.get(..count).unwrap_or_default());
    let mut digest = [0u8; 32];
    for (d, word) in digest.chunks_exact_mut(4).zip(state) {
        d.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// An HMAC-SHA256 key as RFC 2104 section 2 forms it: hashed first when longer than a block,
/// then zero-padded to a block.
fn block_key(key: &[u8]) -> [u8; 64] {
    let mut block = [0u8; 64];
    let hashed;
    let key = if key.len() > block.len() {
        hashed = sha256(key);
        hashed.as_slice()
    } else {
        key
    };
    block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused() {
        for len in [0, 1, 16, 31] {
            assert_eq!(
                Secret::new(vec![1; len]).unwrap_err().code(),
                "invalid_config"
            );
        }
        assert!(Secret::new(vec![1; 32]).is_ok());
    }

    /// The examples' `.dev.vars.example` files are public: their secrets show the format and
    /// are refused, so that a copy deployed as it is never signs with a published key.
    #[test]
    fn the_examples_placeholders_are_refused() {
        for file in [
            include_str!("../examples/js-worker/.dev.vars.example"),
            include_str!("../examples/hono/.dev.vars.example"),
        ] {
            let secret = file
                .lines()
                .find_map(|l| l.strip_prefix("SESSION_SECRET="))
                .expect("a SESSION_SECRET line");
            assert!(Secret::from_base64(secret).is_err(), "{secret}");
        }
    }

    #[test]
    fn secrets_decode_from_both_base64_alphabets() {
        let bytes: Vec<u8> = (0..48).map(|i| i * 5 + 250).map(|b: u32| b as u8).collect();
        let url = crate::codec::b64_encode(&bytes);
        let std = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
        assert_eq!(Secret::from_base64(&url).unwrap().0, bytes);
        assert_eq!(Secret::from_base64(&std).unwrap().0, bytes);
        assert_eq!(
            Secret::from_base64("not base64!").unwrap_err().code(),
            "invalid_config"
        );
    }

    /// `from_base64` as it was before `base64ct`: the crate's table-based codec, base64url
    /// first, then the standard alphabet.
    fn from_base64_by_table(text: &str) -> Result<Secret> {
        let text = text.trim().trim_end_matches('=');
        let bytes = crate::codec::b64_decode(text)
            .ok()
            .or_else(|| crate::codec::b64_decode_standard(text))
            .ok_or_else(|| Error::config("a secret must be base64url text"))?;
        Secret::new(bytes)
    }

    #[test]
    fn secrets_decode_as_the_table_codec_did() {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
        let same = |text: &str| {
            let ours = Secret::from_base64(text).map(|s| s.0);
            let before = from_base64_by_table(text).map(|s| s.0);
            assert_eq!(ours, before, "{text:?}");
            ours.is_ok()
        };
        let mut decoded = 0;
        for len in 0..=66u32 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + len * 11 + 0xf0) as u8).collect();
            let url = crate::codec::b64_encode(&bytes);
            let padding = "=".repeat((4 - url.len() % 4) % 4);
            for text in [
                url.clone(),
                format!("{url}{padding}"),
                format!(" {url}{padding}\n"),
                base64::Engine::encode(&STANDARD, &bytes),
                base64::Engine::encode(&STANDARD_NO_PAD, &bytes),
            ] {
                decoded += usize::from(same(&text));
                // Characters changed, to each alphabet's own, padding, and junk (the last ones
                // give non-zero trailing bits): every one at a few lengths, else the ends.
                let every = (32..=34).contains(&len);
                for i in (0..text.len()).filter(|&i| every || i < 2 || i + 5 > text.len()) {
                    for c in ["A", "B", "-", "_", "+", "/", "=", " ", "!", "\0", "é"] {
                        same(&format!("{}{c}{}", &text[..i], &text[i + 1..]));
                    }
                }
            }
        }
        // Both alphabets, padded or not, from 32 bytes up.
        assert_eq!(decoded, 35 * 5);
        for bad in [
            "not base64!",
            "AR",
            "A",
            "AAAAA",
            "AQ=A",
            "-_+/",
            "é",
            "AA\0A",
        ] {
            let error = Secret::from_base64(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_config", "{bad:?}");
            assert_eq!(error, from_base64_by_table(bad).unwrap_err(), "{bad:?}");
        }
    }

    /// HKDF-SHA256 of one hash length is the `hkdf` crate's: RFC 5869 test case 1 (the first
    /// 32 bytes of its OKM), and secrets, salts and purposes of every length class.
    #[test]
    fn hkdf_is_rfc_5869() {
        use hkdf::Hkdf;
        use sha2::Sha256;
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let okm: String = hkdf_sha256(&salt, &ikm, &info)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            okm,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
        for len in [0, 1, 32, 55, 56, 64, 65, 131] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            for (salt, ikm, info) in [
                (&bytes[..], &[9u8; 40][..], &b"session"[..]),
                (HKDF_SALT, &bytes[..], b"token:csrf"),
                (HKDF_SALT, &[1; 32][..], &bytes[..]),
            ] {
                let mut want = [0u8; 32];
                Hkdf::<Sha256>::new(Some(salt), ikm)
                    .expand(info, &mut want)
                    .unwrap();
                assert_eq!(hkdf_sha256(salt, ikm, info), want, "{len}");
            }
        }
        let s = Secret::new((0..40).collect::<Vec<u8>>()).unwrap();
        let mut want = [0u8; 32];
        Hkdf::<Sha256>::new(Some(HKDF_SALT), &s.0)
            .expand(b"token:session", &mut want)
            .unwrap();
        assert_eq!(s.derive("token:session"), want);
    }

    /// SHA-256 is the `sha2` crate's for every padding case.
    #[test]
    fn sha256_is_sha2s() {
        use sha2::{Digest, Sha256};
        for len in 0..=200 {
            let message: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            assert_eq!(sha256(&message)[..], Sha256::digest(&message)[..], "{len}");
        }
    }

    /// `MacKey` is HMAC-SHA256 as the `hmac` crate computes it, for keys of every length class
    /// (short, a block, longer: hashed) and messages of 0 to 200 bytes (the padding in one block
    /// or two, after whole blocks or none), and checks tags in full only.
    #[test]
    fn mac_keys_are_hmac_sha256() {
        use hmac::{Hmac, KeyInit, Mac};
        use sha2::Sha256;
        for key_len in [0, 1, 31, 32, 63, 64, 65, 131] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let mac = MacKey::new(&key);
            for len in 0..=200 {
                let message: Vec<u8> = (0..len).map(|i| (i * 13 + key_len) as u8).collect();
                let mut reference = Hmac::<Sha256>::new_from_slice(&key).unwrap();
                reference.update(&message);
                let expected: [u8; 32] = reference.finalize().into_bytes().into();
                let full = mac.full_tag(&message);
                assert_eq!(full, expected, "key {key_len}, message {len}");
                let tag = mac.tag(&message);
                assert_eq!(tag[..], expected[..TAG_BYTES]);
                assert!(mac.verify(&message, &tag) && mac.verify_full(&message, &full));
                if len % 50 == 0 {
                    for i in 0..32 {
                        let mut bad = full;
                        bad[i] ^= 1 << (i % 8);
                        assert!(!mac.verify_full(&message, &bad));
                        if i < TAG_BYTES {
                            assert!(!mac.verify(&message, &bad[..TAG_BYTES]));
                        }
                    }
                    for cut in [0, 1, TAG_BYTES - 1, TAG_BYTES + 1, 31] {
                        assert!(!mac.verify(&message, &full[..cut]), "{cut}");
                        assert!(!mac.verify_full(&message, &full[..cut]), "{cut}");
                    }
                    assert!(!mac.verify(&message, &full));
                }
            }
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let ring = KeyRing::new(vec![("k1".into(), s)]).unwrap();
        assert!(!format!("{ring:?}").contains("0123"));
        let cfg = KeyConfig {
            id: "k1".into(),
            secret: "c2VjcmV0".into(),
        };
        let shown = format!("{cfg:?}");
        assert!(
            shown.contains("\"k1\"") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
    }

    #[test]
    fn keyring_rules() {
        let s = || Secret::new(vec![9; 32]).unwrap();
        assert!(KeyRing::new(vec![]).is_err());
        assert!(KeyRing::new(vec![("a".into(), s()), ("a".into(), s())]).is_err());
        for bad in ["", "has space", "ü", &"x".repeat(65)] {
            assert!(KeyRing::new(vec![(bad.into(), s())]).is_err(), "{bad:?}");
        }
        let t = || Secret::new(vec![8; 32]).unwrap();
        assert!(KeyRing::new(vec![("k-2.b_c".into(), s()), ("k1".into(), t())]).is_ok());
    }

    /// One secret under two ids (the old secret pasted as the new key's, in any spelling the
    /// keys take) is refused, naming the keys by position, quoting no secret.
    #[test]
    fn a_secret_under_two_ids_is_refused() {
        let text = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let standard = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let other = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
        for same in [text, standard] {
            let keys = [("k3", other), ("k2", text), ("k1", same)].map(|(id, secret)| KeyConfig {
                id: id.into(),
                secret: secret.into(),
            });
            let e = KeyRing::from_config(&keys).unwrap_err();
            assert_eq!((e.code(), e.setting()), ("invalid_config", Some("keys")));
            let shown = e.to_string();
            assert!(
                shown.contains("keys[2]: the same secret as keys[1]"),
                "{shown}"
            );
            assert!(!shown.contains(text) && !shown.contains(other), "{shown}");
        }
    }

    /// A key id that is a secret of the ring (the same text pasted in both fields, or another
    /// key's secret) is refused: the id travels in every token. Any other id of base64url
    /// characters is fine.
    #[test]
    fn a_key_id_that_is_a_secret_is_refused() {
        let text = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let other = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
        let config = |pairs: &[(&str, &str)]| {
            let keys: Vec<KeyConfig> = pairs
                .iter()
                .map(|(id, secret)| KeyConfig {
                    id: id.to_string(),
                    secret: secret.to_string(),
                })
                .collect();
            KeyRing::from_config(&keys)
        };
        for pairs in [
            &[(text, text)][..],
            &[("k1", other), (text, text)],
            &[("k1", text), (text, other)],
            &[(other, text), ("k1", other)],
        ] {
            let e = config(pairs).unwrap_err();
            assert_eq!((e.code(), e.setting()), ("invalid_config", Some("keys")));
            assert!(
                e.to_string().contains("the key id is a secret of the ring"),
                "{e}"
            );
            assert!(!e.to_string().contains(text) && !e.to_string().contains(other));
        }
        // The same bytes spelled in the standard alphabet with padding are the same secret.
        let standard = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        assert!(config(&[(text, standard)]).is_err());
        assert!(config(&[("k1", text), (&text[..42], other)]).is_ok());
        assert!(config(&[(other, text)]).is_ok());
    }

    /// Every key derived from a secret has a label of its own. The uses that take an
    /// application's purpose put it after a prefix (found here from a marker purpose), no prefix
    /// begins another, and no fixed label (DBSC's challenges and bound cookies, affinity's,
    /// the assertions') begins with one: no purpose an application names reaches the key of
    /// another use. The gateway, everything on, derives nothing else.
    #[cfg(feature = "sealed")]
    #[test]
    fn no_purpose_reaches_another_uses_key() {
        use crate::store::{memory::MemoryStore, SessionConfig, Sessions};
        let taken = || LABELS.with(|l| std::mem::take(&mut *l.borrow_mut()));
        const KEYS: &str =
            r#"[{"id":"k1","secret":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"}]"#;
        let keys: Vec<KeyConfig> = serde_json::from_str(KEYS).unwrap();
        let ring = KeyRing::from_config(&keys).unwrap();

        const MARK: &str = "\u{7f}an application's purpose";
        let mut tokens = crate::TokenConfig::new(keys.clone());
        tokens.purpose = MARK.into();
        taken();
        crate::SessionTokens::new(tokens.clone()).unwrap();
        crate::SealedTokens::new(tokens).unwrap();
        let store = SessionConfig {
            purpose: MARK.into(),
            ..SessionConfig::default()
        };
        Sessions::new(MemoryStore::new(), &ring, store).unwrap();
        let labels = taken();
        let prefixes: Vec<&str> = labels.iter().filter_map(|l| l.strip_suffix(MARK)).collect();
        assert_eq!(
            prefixes,
            [
                "token:",
                "sealed:",
                "store:",
                "store-key:",
                "store-subject:"
            ]
        );
        for p in &prefixes {
            assert_eq!(
                prefixes.iter().filter(|q| q.starts_with(p)).count(),
                1,
                "{p}"
            );
        }
        // The store's id cookie: a token of the library's own purpose.
        assert!(labels.contains(&"token:sid".to_owned()));

        crate::dbsc::DeviceBinding::new(&ring, 600).unwrap();
        let backends = vec![
            crate::BackendConfig::new("a"),
            crate::BackendConfig::new("b"),
        ];
        crate::Affinity::new(crate::AffinityConfig::new(&keys[0].secret, backends)).unwrap();
        use crate::token::assertion::Alg;
        for alg in [Alg::EdDSA, Alg::ES256] {
            crate::token::assertion::AssertionKey::derive_all(&ring, alg);
        }
        // The kid's tag is one purpose for both algorithms (derived once for each).
        let mut fixed = taken();
        fixed.retain(|l| l != "origin-assertion/kid");
        assert_eq!(fixed.len(), 2 + 3 + 2, "{fixed:?}");
        fixed.push("origin-assertion/kid".into());
        for (i, label) in fixed.iter().enumerate() {
            assert!(!prefixes.iter().any(|p| label.starts_with(p)), "{label}");
            assert!(!fixed[..i].contains(label), "{label} twice");
        }

        let settings = [
            ("ORIGINS", r#"[{"id":"a","url":"http://127.0.0.1:9001"}]"#),
            ("SESSION_KEYS", KEYS),
            ("SESSION_FORMAT", "sealed"),
            ("STORE", "kv"),
            ("DBSC", "on"),
            ("ORIGIN_ASSERTION", "ES256"),
        ];
        let config = crate::gateway::config::from_pairs(&settings).unwrap();
        let sessions = config.store.as_ref().map(|s| s.sessions.clone()).unwrap();
        Sessions::new(MemoryStore::new(), &ring, sessions).unwrap();
        crate::gateway::Gateway::new(config).unwrap();
        for label in taken() {
            let purpose = prefixes.iter().find_map(|p| label.strip_prefix(p));
            assert!(
                fixed.contains(&label)
                    || ["session", "gateway/dbsc-key", "gateway", "sid"]
                        .contains(&purpose.unwrap_or("")),
                "{label}"
            );
        }
    }

    #[test]
    fn purposes_derive_different_keys() {
        let s = Secret::new(vec![3; 32]).unwrap();
        assert_ne!(s.derive("session"), s.derive("csrf"));
        assert_eq!(s.derive("session"), s.derive("session"));
    }

    /// RFC 4231 test cases 1, 2 and 7 (HMAC-SHA256), truncated to our tag length, plus test
    /// case 5 which is itself a 128-bit truncation: tests/vectors/hmac.json (also checked from
    /// JavaScript against Node's HMAC).
    #[test]
    fn rfc4231_hmac_sha256_vectors() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/hmac.json")).unwrap();
        let cases = vectors["hmac"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for v in cases {
            let name = v["name"].as_str().unwrap();
            let key = MacKey::new(&hex(v["keyHex"].as_str().unwrap()));
            let data = hex(v["dataHex"].as_str().unwrap());
            let expected = hex(v["macHex"].as_str().unwrap());
            assert_eq!(key.tag(&data)[..], expected[..TAG_BYTES], "{name}");
            assert!(key.verify(&data, &expected[..TAG_BYTES]), "{name}");
            let mut wrong = expected[..TAG_BYTES].to_vec();
            wrong[15] ^= 1;
            assert!(!key.verify(&data, &wrong), "{name}");
        }
    }

    /// A truncated tag is exactly TAG_BYTES: a shorter prefix of the right tag (one byte is a
    /// 1 in 256 guess) or the full 32-byte tag never verifies.
    #[test]
    fn truncated_tags_have_one_length() {
        let key = MacKey::new(&[9; 32]);
        let data = b"edge-session";
        let full = key.full_tag(data);
        assert!(key.verify(data, &full[..TAG_BYTES]));
        for len in [0, 1, 8, TAG_BYTES - 1, TAG_BYTES + 1, 32] {
            assert!(!key.verify(data, &full[..len]), "{len} bytes");
        }
        assert!(key.verify_full(data, &full));
        assert!(!key.verify_full(data, &full[..TAG_BYTES]));
    }
}
