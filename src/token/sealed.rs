//! Sealed tokens: the claims encrypted and authenticated, for claims the browser must not read.
//!
//! [`SealedTokens`] has the API of [`SessionTokens`](crate::SessionTokens) and takes the same
//! [`TokenConfig`](crate::TokenConfig). Claims are sealed with XChaCha20-Poly1305 under a
//! 32-byte key derived with
//! HKDF-SHA256 from each secret of the ring and the purpose (`sealed:<purpose>`), so a sealed
//! token never opens as another purpose's and shares no key with the signed tokens. The first
//! key seals, all keys open. A token is one base64url string of these bytes:
//!
//! ```text
//! version     1 byte    = 0x81 (sealed, format 1)          ┐
//! kid         1 byte length (1..=64) + the key id           │ authenticated,
//! iat         varint    issued at, seconds since the epoch  │ not encrypted
//! ttl         varint    exp - iat                           │
//! nbf         varint    0 when absent, else nbf + 1         ┘
//! nonce       24 bytes  random, fresh for each token
//! ciphertext  the claims as a JSON object (without iat, exp, nbf), encrypted
//! tag         16 bytes  Poly1305
//! ```
//!
//! For `{"sub":"user-12345","role":"admin"}` that is 23 bytes more than the signed token
//! (116 characters against 86): the 24-byte nonce, minus the signed token's purpose byte. Any
//! wrong key, changed byte or truncation gives a typed error (`bad_signature`, `malformed`,
//! `unknown_key`) and never any plaintext: the tag is checked before decryption. An authentic
//! but expired token's error carries its claims, as with signed tokens: keep that error on the
//! server.
//!
//! ```
//! use edge_session::{KeyConfig, SealedTokens, TokenConfig};
//! use serde_json::{json, Value};
//!
//! let tokens = SealedTokens::new(TokenConfig::new(vec![KeyConfig {
//!     id: "k1".into(),
//!     secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA".into(),
//! }]))?;
//! let token = tokens.sign(&json!({ "sub": "user-12345", "plan": "gold" }), 1_800_000_000)?;
//! assert!(!token.contains("gold"));
//! let claims: Value = tokens.verify(&token, 1_800_000_060)?;
//! assert_eq!(claims["plan"], "gold");
//! # Ok::<(), edge_session::Error>(())
//! ```

use super::envelope::{check_size, find_key, read_kid, Envelope};
use crate::codec::{b64_decode_in_place, b64_encode, Reader};
use crate::error::{Error, Result};
use crate::json::Object;
use crate::keys::{signing_key, KeyRing};
use crate::time::UnixTime;
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};

/// The facade over this format, at its public path `edge_session::sealed::SealedTokens`.
pub use super::SealedTokens;

const VERSION: u8 = 0x81;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
/// Version, kid length, a 1-byte kid, three 1-byte varints, nonce, tag.
const MIN_TOKEN_BYTES: usize = 3 + 3 + NONCE_BYTES + TAG_BYTES;

/// The sealing keys: an XChaCha20-Poly1305 key per key of the ring, derived for the purpose.
#[derive(Clone)]
pub(crate) struct Sealed {
    pub(crate) keys: Vec<(String, XChaCha20Poly1305)>,
}

impl Sealed {
    /// The keys of `ring` for `purpose` (checked by the caller).
    pub(crate) fn new(ring: &KeyRing, purpose: &str) -> Self {
        let info = format!("sealed:{purpose}");
        let keys = ring
            .iter()
            .map(|(id, secret)| {
                (
                    id.to_owned(),
                    XChaCha20Poly1305::new(&secret.derive(&info).into()),
                )
            })
            .collect();
        Sealed { keys }
    }

    /// Seals claims with the current key and a fresh random nonce.
    pub(crate) fn sign(
        &self,
        claims: Object<'_>,
        now: UnixTime,
        ttl: u64,
        max_token_bytes: usize,
    ) -> Result<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        crate::random::fill(&mut nonce)?;
        self.seal(claims, now, ttl, nonce, max_token_bytes)
    }

    /// Sealing with a given nonce: only for known-answer tests, a nonce must never repeat.
    fn seal(
        &self,
        claims: Object<'_>,
        now: UnixTime,
        ttl: u64,
        nonce: [u8; NONCE_BYTES],
        max_token_bytes: usize,
    ) -> Result<String> {
        let (envelope, json) = Envelope::stamp(claims, now, ttl)?;
        let (kid, cipher) = signing_key(&self.keys)?;
        let mut body = Vec::with_capacity(20 + kid.len() + NONCE_BYTES + json.len() + TAG_BYTES);
        body.push(VERSION);
        envelope.write(kid, &mut body);
        let aad_len = body.len();
        body.extend_from_slice(&nonce);
        body.extend_from_slice(json.as_bytes());
        let (aad, rest) = body.split_at_mut(aad_len);
        let (_, plaintext) = rest.split_at_mut(NONCE_BYTES);
        let tag = cipher
            .encrypt_inout_detached(&XNonce::from(nonce), aad, plaintext.into())
            .map_err(|_| Error::InvalidClaims("claims too large to seal".into()))?;
        body.extend_from_slice(&tag);

        let token = b64_encode(&body);
        check_size(&token, max_token_bytes)?;
        Ok(token)
    }

    /// Verifies (opens) `token` at `now`, given away: decoded and decrypted in its own
    /// buffer, the claims written over it. The claims, and the position of the key in the ring.
    pub(crate) fn verify_owned(
        &self,
        token: String,
        now: UnixTime,
        leeway: u64,
        max_token_bytes: usize,
    ) -> Result<(String, usize)> {
        check_size(&token, max_token_bytes)?;
        let mut bytes = token.into_bytes();
        b64_decode_in_place(&mut bytes)?;
        if bytes.len() < MIN_TOKEN_BYTES {
            return Err(Error::Malformed("too short"));
        }
        // Read the authenticated envelope; nothing in it is trusted until the tag is checked.
        let mut r = Reader::new(&bytes);
        if r.byte()? != VERSION {
            return Err(Error::Malformed("unknown version"));
        }
        let kid = read_kid(&mut r)?;
        let envelope = Envelope::read(&mut r)?;
        let aad_len = bytes.len() - r.rest().len();
        if bytes.len() < aad_len + NONCE_BYTES + TAG_BYTES {
            return Err(Error::Malformed("too short"));
        }
        let (index, (_, cipher)) = find_key(&self.keys, kid)?;

        let tag_at = bytes.len() - TAG_BYTES;
        let (body, tag) = bytes.split_at_mut(tag_at);
        let (head, ciphertext) = body.split_at_mut(aad_len + NONCE_BYTES);
        let (aad, nonce) = head.split_at(aad_len);
        let nonce = XNonce::try_from(nonce).map_err(|_| Error::Malformed("bad nonce"))?;
        let tag = Tag::try_from(&*tag).map_err(|_| Error::Malformed("bad tag"))?;
        cipher
            .decrypt_inout_detached(&nonce, aad, (&mut *ciphertext).into(), &tag)
            .map_err(|_| Error::BadSignature)?;

        // Authentic from here on: the ciphertext now holds the claims; moved to the front of
        // the buffer, the tag dropped.
        let claims = aad_len + NONCE_BYTES..tag_at;
        bytes.copy_within(claims.clone(), 0);
        bytes.truncate(claims.len());
        Ok((envelope.verified(bytes, now, leeway)?, index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyConfig, TokenConfig};
    use serde_json::{json, Value};

    fn tokens() -> SealedTokens {
        SealedTokens::new(TokenConfig::new(vec![KeyConfig {
            id: "k1".into(),
            // 32 bytes of 0x01..0x20.
            secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA".into(),
        }]))
        .unwrap()
    }

    /// The frozen vectors of tests/vectors/sealed.json (also opened by tests/sealed.rs and from
    /// JavaScript) seal again to the same bytes with their nonce, which only this module can
    /// give: a change to the format must be deliberate.
    #[test]
    fn frozen_vectors() {
        let vectors: Value =
            serde_json::from_str(include_str!("../../tests/vectors/sealed.json")).unwrap();
        let entries = vectors["verify"].as_array().unwrap();
        // The refused ones (an `error`) are tests/sealed.rs's: they seal nothing.
        let sealed: Vec<_> = entries
            .iter()
            .filter(|v| v.get("error").is_none())
            .collect();
        assert!(!sealed.is_empty());
        for v in sealed {
            let name = v["name"].as_str().unwrap();
            let tokens =
                SealedTokens::new(serde_json::from_value(v["config"].clone()).unwrap()).unwrap();
            let hex = v["nonceHex"].as_str().unwrap();
            let nonce: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let claims = v["claimsSealed"].to_string();
            let (iat, exp) = (v["claims"]["iat"].as_u64(), v["claims"]["exp"].as_u64());
            let token = tokens
                .tokens
                .format
                .seal(
                    Object::parse(&claims).unwrap(),
                    iat.unwrap(),
                    exp.unwrap() - iat.unwrap(),
                    nonce.try_into().unwrap(),
                    4096,
                )
                .unwrap();
            assert_eq!(token, v["token"].as_str().unwrap(), "{name}");
            let got: Value = tokens.verify(&token, v["now"].as_u64().unwrap()).unwrap();
            assert_eq!(got, v["claims"], "{name}");
        }
    }

    #[test]
    fn random_nonces_differ() {
        let t = tokens();
        let claims = json!({ "sub": "u" });
        assert_ne!(
            t.sign(&claims, 1_800_000_000).unwrap(),
            t.sign(&claims, 1_800_000_000).unwrap()
        );
    }
}
