//! Encryption at rest: a session [`Record`] sealed into the text a store holds.
//!
//! Records are sealed with XChaCha20-Poly1305 under a 32-byte key derived with HKDF-SHA256 from
//! each secret of the keyring and the purpose (`store:<purpose>`), so a store key never opens a
//! token and no token key opens a record. The first key seals, every key opens (rotation as for
//! tokens). The associated data binds the session id and the record version: a value copied to
//! another session's key, or put back under another version, fails to open (`bad_signature`).
//! An earlier entry written back whole (its own version with it) opens: only the store's
//! compare-and-set refuses that, and an eventually consistent store (KV) has none (docs/store.md,
//! "Rollback on KV").
//! A sealed record is one base64url string of these bytes:
//!
//! ```text
//! format      1 byte    = 0x01                              ┐ authenticated,
//! kid         1 byte length (1..=64) + the key id           ┘ not encrypted
//! nonce       24 bytes  random, fresh for each write
//! ciphertext  created varint, touched varint, subject (varint length + 1, 0 when none) and
//!             bytes, then the data as a JSON object
//! tag         16 bytes  Poly1305 over the above and the associated data:
//!             "edge-session record" || format || kid || session id (16 bytes) || version varint
//! ```
//!
//! ```
//! use edge_session::store::record::{Record, RecordKeys};
//! use edge_session::{KeyRing, Secret};
//! use serde_json::json;
//!
//! let ring = KeyRing::new(vec![("k1".into(), Secret::new([7u8; 32])?)])?;
//! let keys = RecordKeys::new(&ring, "session");
//! let record = Record::new(json!({ "cart": ["book"] }).as_object().unwrap().clone(), 1_800_000_000);
//! let sealed = keys.seal(&[1; 16], 1, &record)?;
//! assert!(!sealed.contains("book"));
//! assert_eq!(keys.open(&[1; 16], 1, &sealed)?.record, record);
//! assert_eq!(keys.open(&[2; 16], 1, &sealed).unwrap_err().code(), "bad_signature");
//! # Ok::<(), edge_session::Error>(())
//! ```

use std::fmt;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value};

use crate::codec::{b64_decode, b64_encode, put_varint, Reader};
use crate::error::{Error, Result};
use crate::json::{self, ObjectError};
use crate::keys::{signing_key, KeyRing, MAX_KEY_ID_BYTES};
use crate::time::UnixTime;

const FORMAT: u8 = 0x01;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
const AD_DOMAIN: &[u8] = b"edge-session record";
/// Format, kid length, a 1-byte kid, nonce, two 1-byte varints, subject, `{}`, tag.
const MIN_RECORD_BYTES: usize = 3 + NONCE_BYTES + 3 + 2 + TAG_BYTES;
/// The length of a session id, in bytes (128 random bits).
pub const ID_BYTES: usize = 16;

/// A session's contents, as the application sees them.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The session data: a JSON object.
    pub data: Map<String, Value>,
    /// When the session was created (the absolute timeout counts from here).
    pub created: UnixTime,
    /// When the session was last written (the idle timeout counts from here).
    pub touched: UnixTime,
    /// Whose session it is, once logged in (for revoking every session of a user).
    pub subject: Option<String>,
}

impl Record {
    /// A new record created and touched at `now`, without a subject.
    pub fn new(data: Map<String, Value>, now: UnixTime) -> Self {
        Record {
            data,
            created: now,
            touched: now,
            subject: None,
        }
    }
}

/// A record that opened, with the key that sealed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Opened {
    /// The record.
    pub record: Record,
    /// True when it was sealed by a key other than the current one (the next write re-seals it).
    pub stale_key: bool,
}

/// The record keys of a keyring, one per key id: the first seals, all open.
#[derive(Clone)]
pub struct RecordKeys {
    keys: Vec<(String, XChaCha20Poly1305)>,
}

impl fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("RecordKeys")
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

impl RecordKeys {
    /// Derives the record keys for `purpose` from every key of `ring`.
    pub fn new(ring: &KeyRing, purpose: &str) -> Self {
        let info = format!("store:{purpose}");
        let keys = ring
            .iter()
            .map(|(id, secret)| {
                let cipher = XChaCha20Poly1305::new(&secret.derive(&info).into());
                (id.to_owned(), cipher)
            })
            .collect();
        RecordKeys { keys }
    }

    /// Seals `record` for session `id` at `version` with the current key and a fresh nonce.
    pub fn seal(&self, id: &[u8; ID_BYTES], version: u64, record: &Record) -> Result<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        crate::random::fill(&mut nonce)?;
        self.seal_with_nonce(id, version, record, nonce)
    }

    fn seal_with_nonce(
        &self,
        id: &[u8; ID_BYTES],
        version: u64,
        record: &Record,
        nonce: [u8; NONCE_BYTES],
    ) -> Result<String> {
        let json =
            serde_json::to_string(&record.data).map_err(|e| Error::InvalidClaims(e.to_string()))?;
        // Sealed, data `open` cannot read would store a session no load reads: the crate's one
        // reader of objects refuses nesting past serde_json's, which `open` parses with.
        if json::members(&json) == Err(ObjectError::TooDeep) {
            return Err(Error::InvalidClaims("session data nested too deep".into()));
        }
        let (kid, cipher) = signing_key(&self.keys)?;
        let mut out = Vec::with_capacity(2 + kid.len() + NONCE_BYTES + 24 + json.len() + TAG_BYTES);
        out.extend([FORMAT, kid.len() as u8]);
        out.extend_from_slice(kid.as_bytes());
        let header_len = out.len();
        let ad = associated_data(&out, id, version);
        out.extend_from_slice(&nonce);
        put_varint(&mut out, record.created);
        put_varint(&mut out, record.touched);
        match &record.subject {
            None => out.push(0),
            Some(s) => {
                put_varint(&mut out, s.len() as u64 + 1);
                out.extend_from_slice(s.as_bytes());
            }
        }
        out.extend_from_slice(json.as_bytes());
        // Everything after the header and the nonce, just written.
        let plaintext = out
            .get_mut(header_len + NONCE_BYTES..)
            .ok_or(Error::Malformed("record too short"))?;
        let tag = cipher
            .encrypt_inout_detached(&XNonce::from(nonce), &ad, plaintext.into())
            .map_err(|_| Error::InvalidClaims("record too large to seal".into()))?;
        out.extend_from_slice(&tag);
        Ok(b64_encode(&out))
    }

    /// Opens the sealed record `text` of session `id` at `version`.
    ///
    /// Errors: `malformed` (not a sealed record), `unknown_key` (sealed by a key no longer in
    /// the ring), `bad_signature` (another key, another session or version, or any change).
    pub fn open(&self, id: &[u8; ID_BYTES], version: u64, text: &str) -> Result<Opened> {
        let mut bytes = b64_decode(text)?;
        if bytes.len() < MIN_RECORD_BYTES {
            return Err(Error::Malformed("record too short"));
        }
        let mut r = Reader::new(&bytes);
        if r.byte()? != FORMAT {
            return Err(Error::Malformed("unknown record format"));
        }
        let kid_len = usize::from(r.byte()?);
        if kid_len == 0 || kid_len > MAX_KEY_ID_BYTES {
            return Err(Error::Malformed("bad key id length"));
        }
        let kid = r.take(kid_len)?;
        let header_len = 2 + kid_len;
        if bytes.len() < header_len + NONCE_BYTES + TAG_BYTES {
            return Err(Error::Malformed("record too short"));
        }
        let (index, (_, cipher)) = self
            .keys
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k.as_bytes() == kid)
            .ok_or_else(|| Error::unknown_key(kid))?;
        let header = bytes
            .get(..header_len)
            .ok_or(Error::Malformed("record too short"))?;
        let ad = associated_data(header, id, version);
        let tag_at = bytes.len() - TAG_BYTES;
        let (body, tag) = bytes.split_at_mut(tag_at);
        let (head, ciphertext) = body.split_at_mut(header_len + NONCE_BYTES);
        let nonce = head.get(header_len..).unwrap_or_default();
        let nonce = XNonce::try_from(nonce).map_err(|_| Error::Malformed("nonce"))?;
        let tag = Tag::try_from(&*tag).map_err(|_| Error::Malformed("tag"))?;
        cipher
            .decrypt_inout_detached(&nonce, &ad, (&mut *ciphertext).into(), &tag)
            .map_err(|_| Error::BadSignature)?;

        // Authentic from here on: written by `seal`; `ciphertext` now holds the plaintext.
        let mut r = Reader::new(ciphertext);
        let created = r.varint()?;
        let touched = r.varint()?;
        let subject = match r.varint()?.checked_sub(1) {
            None => None,
            Some(len) => {
                let len = usize::try_from(len).map_err(|_| Error::Malformed("subject length"))?;
                let s = std::str::from_utf8(r.take(len)?)
                    .map_err(|_| Error::Malformed("subject is not UTF-8"))?;
                Some(s.to_owned())
            }
        };
        // From text rather than `from_slice`: one instantiation of serde_json's parser (the
        // other readers parse `&str`) instead of two; JSON text is UTF-8 either way.
        let data = match std::str::from_utf8(r.rest()).map(serde_json::from_str) {
            Ok(Ok(Value::Object(map))) => map,
            _ => return Err(Error::Malformed("record data is not a JSON object")),
        };
        Ok(Opened {
            record: Record {
                data,
                created,
                touched,
                subject,
            },
            stale_key: index > 0,
        })
    }
}

fn associated_data(header: &[u8], id: &[u8; ID_BYTES], version: u64) -> Vec<u8> {
    let mut ad = Vec::with_capacity(AD_DOMAIN.len() + header.len() + ID_BYTES + 10);
    ad.extend_from_slice(AD_DOMAIN);
    ad.extend_from_slice(header);
    ad.extend_from_slice(id);
    put_varint(&mut ad, version);
    ad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Secret;
    use serde_json::json;

    fn keys(ring: &[(&str, u8)]) -> RecordKeys {
        let ring = ring
            .iter()
            .map(|(id, b)| ((*id).to_owned(), Secret::new([*b; 32]).unwrap()))
            .collect();
        RecordKeys::new(&KeyRing::new(ring).unwrap(), "session")
    }

    fn record() -> Record {
        Record {
            data: json!({ "cart": ["book", "pen"], "n": 3 })
                .as_object()
                .unwrap()
                .clone(),
            created: 1_800_000_000,
            touched: 1_800_000_060,
            subject: Some("user-12345".into()),
        }
    }

    /// The frozen vectors of tests/vectors/record.json (also opened by tests/store.rs) seal again
    /// to the same bytes with their nonce, which only this module can give: a change to the
    /// format must be deliberate.
    #[test]
    fn frozen_vectors() {
        let vectors: Value =
            serde_json::from_str(include_str!("../../tests/vectors/record.json")).unwrap();
        let entries = vectors["open"].as_array().unwrap();
        assert!(!entries.is_empty());
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        for v in entries {
            let name = v["name"].as_str().unwrap();
            let configs: Vec<crate::KeyConfig> = serde_json::from_value(v["keys"].clone()).unwrap();
            let keys = RecordKeys::new(
                &KeyRing::from_config(&configs).unwrap(),
                v["purpose"].as_str().unwrap(),
            );
            let id: [u8; ID_BYTES] = hex(v["idHex"].as_str().unwrap()).try_into().unwrap();
            let nonce = hex(v["nonceHex"].as_str().unwrap()).try_into().unwrap();
            let version = v["version"].as_u64().unwrap();
            let r = &v["record"];
            let record = Record {
                data: r["data"].as_object().unwrap().clone(),
                created: r["created"].as_u64().unwrap(),
                touched: r["touched"].as_u64().unwrap(),
                subject: r["subject"].as_str().map(str::to_owned),
            };
            let sealed = keys.seal_with_nonce(&id, version, &record, nonce).unwrap();
            assert_eq!(sealed, v["sealed"].as_str().unwrap(), "{name}");
            let opened = keys.open(&id, version, &sealed).unwrap();
            assert_eq!(opened.record, record, "{name}");
            assert_eq!(opened.stale_key, v["staleKey"].as_bool().unwrap(), "{name}");
        }
    }

    #[test]
    fn bound_to_id_version_and_key() {
        let k = keys(&[("k1", 1)]);
        let sealed = k.seal(&[9; 16], 3, &record()).unwrap();
        assert!(!sealed.contains("book"));
        assert_eq!(
            k.open(&[8; 16], 3, &sealed).unwrap_err(),
            Error::BadSignature
        );
        assert_eq!(
            k.open(&[9; 16], 4, &sealed).unwrap_err(),
            Error::BadSignature
        );
        let other = keys(&[("k1", 2)]);
        assert_eq!(
            other.open(&[9; 16], 3, &sealed).unwrap_err(),
            Error::BadSignature
        );
        let unknown = keys(&[("k2", 1)]);
        assert_eq!(
            unknown.open(&[9; 16], 3, &sealed).unwrap_err().code(),
            "unknown_key"
        );
    }

    #[test]
    fn rotation_opens_old_records_and_seals_with_the_new_key() {
        let old = keys(&[("k1", 1)]);
        let rotated = keys(&[("k2", 2), ("k1", 1)]);
        let sealed = old.seal(&[1; 16], 1, &record()).unwrap();
        let opened = rotated.open(&[1; 16], 1, &sealed).unwrap();
        assert!(opened.stale_key);
        let resealed = rotated.seal(&[1; 16], 2, &opened.record).unwrap();
        assert_eq!(
            old.open(&[1; 16], 2, &resealed).unwrap_err().code(),
            "unknown_key"
        );
        assert!(!rotated.open(&[1; 16], 2, &resealed).unwrap().stale_key);
    }

    /// The code of `sealed` cut to each length: `malformed` below `short` bytes (not a sealed
    /// record), `bad_signature` from there on (the tag decides), and the whole opens.
    fn codes_of_truncations(k: &RecordKeys, sealed: &str, short: usize) {
        let bytes = b64_decode(sealed).unwrap();
        for len in 0..bytes.len() {
            let code = k
                .open(&[1; 16], 1, &b64_encode(&bytes[..len]))
                .unwrap_err()
                .code();
            let expected = if len < short {
                "malformed"
            } else {
                "bad_signature"
            };
            assert_eq!(code, expected, "{len} of {} bytes", bytes.len());
        }
        assert!(k.open(&[1; 16], 1, sealed).is_ok());
    }

    /// The shortest record, 48 bytes (a 1-byte key id, times 0, no subject, `{}`), opens; every
    /// shorter text is `malformed`. And a 64-byte key id, the longest, seals records that open;
    /// cut below its header, nonce and tag (106 bytes), a record is `malformed`, not a panic.
    #[test]
    fn shortest_record_and_longest_key_id() {
        let k = keys(&[("k", 1)]);
        let empty = Record::new(Map::new(), 0);
        let sealed = k.seal(&[1; 16], 1, &empty).unwrap();
        assert_eq!(b64_decode(&sealed).unwrap().len(), MIN_RECORD_BYTES);
        assert_eq!(MIN_RECORD_BYTES, 48);
        assert_eq!(k.open(&[1; 16], 1, &sealed).unwrap().record, empty);
        codes_of_truncations(&k, &sealed, MIN_RECORD_BYTES);

        let long_id = "k".repeat(MAX_KEY_ID_BYTES);
        let k = keys(&[(&long_id, 1)]);
        let sealed = k.seal(&[1; 16], 1, &empty).unwrap();
        assert_eq!(b64_decode(&sealed).unwrap().len(), 2 + 64 + 24 + 5 + 16);
        assert_eq!(k.open(&[1; 16], 1, &sealed).unwrap().record, empty);
        codes_of_truncations(&k, &sealed, 2 + 64 + NONCE_BYTES + TAG_BYTES);
        let sealed = k.seal(&[1; 16], 1, &record()).unwrap();
        assert_eq!(k.open(&[1; 16], 1, &sealed).unwrap().record, record());
    }

    /// A key id length of 0 or above 64 is `malformed` whatever follows, not an `unknown_key`.
    #[test]
    fn key_id_lengths_out_of_range_are_malformed() {
        let k = keys(&[("k1", 1)]);
        for len in [0u8, 65, 255] {
            let mut bytes = vec![FORMAT, len];
            bytes.resize(2 + usize::from(len) + 200, b'k');
            let code = k.open(&[1; 16], 1, &b64_encode(&bytes)).unwrap_err().code();
            assert_eq!(code, "malformed", "{len}");
        }
    }

    /// Data nested as deep as `open`'s JSON reader takes (serde_json: 127 levels of arrays and
    /// objects, the data object one of them) seals and opens again; one level deeper is refused
    /// by `seal` (`invalid_claims`). It was sealed, and opened as `malformed`: a commit stored a
    /// session that no load could read (JavaScript's `session.set(name, value)` puts a value,
    /// itself as deep as JSON reads, one level under the data).
    #[test]
    fn data_nested_deeper_than_open_reads_is_never_sealed() {
        let k = keys(&[("k1", 1)]);
        let nested = |levels: usize| {
            let value = format!("{}{}", "[".repeat(levels - 1), "]".repeat(levels - 1));
            let mut data = Map::new();
            data.insert("x".into(), serde_json::from_str(&value).unwrap());
            Record::new(data, 1_800_000_000)
        };
        let deepest = nested(127);
        let sealed = k.seal(&[1; 16], 1, &deepest).unwrap();
        assert_eq!(k.open(&[1; 16], 1, &sealed).unwrap().record, deepest);
        let deeper = k.seal(&[1; 16], 1, &nested(128));
        assert_eq!(deeper.unwrap_err().code(), "invalid_claims");
        // Brackets in strings are text, not nesting.
        let mut text = Record::new(Map::new(), 1_800_000_000);
        text.data
            .insert("x".into(), Value::String("[{\\\"".repeat(200)));
        let sealed = k.seal(&[1; 16], 1, &text).unwrap();
        assert_eq!(k.open(&[1; 16], 1, &sealed).unwrap().record, text);
    }

    /// `Debug` (a `{:?}` in a log line) names the key ids, newest first, and nothing else.
    #[test]
    fn debug_shows_key_ids_only() {
        let k = keys(&[("k2", 2), ("k1", 1)]);
        assert_eq!(
            format!("{k:?}"),
            r#"RecordKeys { key_ids: ["k2", "k1"], .. }"#
        );
    }

    #[test]
    fn every_corruption_is_a_typed_error() {
        let k = keys(&[("k1", 1)]);
        let sealed = k.seal(&[1; 16], 1, &record()).unwrap();
        let bytes = b64_decode(&sealed).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x20;
            let code = k.open(&[1; 16], 1, &b64_encode(&b)).unwrap_err().code();
            assert!(
                ["malformed", "unknown_key", "bad_signature"].contains(&code),
                "{i} {code}"
            );
        }
        for len in 0..bytes.len() {
            assert!(k.open(&[1; 16], 1, &b64_encode(&bytes[..len])).is_err());
        }
        for junk in ["", "%%%", "AAAA", &"A".repeat(500)] {
            assert!(k.open(&[1; 16], 1, junk).is_err());
        }
    }
}
