//! The compact session token: layout, sign, verify.
//!
//! A token is one base64url string (cookie-safe, no `.` needed) of these bytes:
//!
//! ```text
//! version   1 byte    = 1
//! purpose   1 byte    first byte of SHA-256("edge-session purpose:" + purpose); a hint only,
//!                     used to tell `wrong_purpose` from `bad_signature` after a failed MAC
//! kid, iat, ttl, nbf    the envelope: the key id and the times (see [`super::envelope`])
//! claims    the remaining claims as a JSON object (without iat, exp, nbf)
//! tag       16 bytes  HMAC-SHA256 of all the bytes above, truncated to 128 bits, keyed with
//!                     the key's HKDF subkey for the purpose
//! ```
//!
//! For `{"sub":"user-12345","role":"admin"}` that is 86 characters, half the length of the
//! same claims as a JWT HS256.

use super::envelope::{check_size, find_key, read_kid, Envelope};
use crate::codec::{b64_decode_in_place, b64_encode, Reader};
use crate::error::{Error, Result};
use crate::json::Object;
use crate::keys::{signing_key, KeyRing, MacKey, TAG_BYTES};
use crate::time::UnixTime;

const VERSION: u8 = 1;
/// Bytes around the claims: version, purpose, kid length, at most three 8-byte varints, tag.
const MIN_TOKEN_BYTES: usize = 3 + 1 + 3 + TAG_BYTES;

/// The compact format's keys: per-purpose HMAC subkeys and the purpose hint.
#[derive(Clone)]
pub(crate) struct Compact {
    pub(crate) keys: Vec<(String, MacKey)>,
    purpose_hint: u8,
}

impl Compact {
    /// The subkeys of `ring` for `purpose` (checked by the caller).
    pub(crate) fn new(ring: &KeyRing, purpose: &str) -> Self {
        Compact {
            keys: ring.mac_keys(&format!("token:{purpose}")),
            purpose_hint: purpose_hint(purpose),
        }
    }

    /// Signs claims (an object, times taken out by [`Envelope::stamp`]) with the current key.
    pub(crate) fn sign(
        &self,
        claims: Object<'_>,
        now: UnixTime,
        ttl: u64,
        max_token_bytes: usize,
    ) -> Result<String> {
        let (envelope, json) = Envelope::stamp(claims, now, ttl)?;
        let (kid, key) = signing_key(&self.keys)?;
        let mut body = Vec::with_capacity(16 + kid.len() + json.len() + TAG_BYTES);
        body.extend([VERSION, self.purpose_hint]);
        envelope.write(kid, &mut body);
        body.extend_from_slice(json.as_bytes());
        let tag = key.tag(&body);
        body.extend_from_slice(&tag);

        let token = b64_encode(&body);
        check_size(&token, max_token_bytes)?;
        Ok(token)
    }

    /// Verifies `token` at `now`, given away: it is decoded in its own buffer,
    /// and the claims are written over it (no other buffer on the way). The claims, and the
    /// position of the key in the ring.
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
        let (body, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        let mut r = Reader::new(body);
        if r.byte()? != VERSION {
            return Err(Error::Malformed("unknown version"));
        }
        let hint = r.byte()?;
        let (index, (_, key)) = find_key(&self.keys, read_kid(&mut r)?)?;
        if !key.verify(body, tag) {
            return Err(if hint == self.purpose_hint {
                Error::BadSignature
            } else {
                Error::WrongPurpose
            });
        }

        // Authentic from here on: what follows was written by `sign`.
        let envelope = Envelope::read(&mut r)?;
        // The claims, moved to the front of the buffer, the tag dropped.
        let claims = body.len() - r.rest().len()..body.len();
        bytes.copy_within(claims.clone(), 0);
        bytes.truncate(claims.len());
        Ok((envelope.verified(bytes, now, leeway)?, index))
    }
}

fn purpose_hint(purpose: &str) -> u8 {
    let [hint, ..] = crate::keys::sha256(format!("edge-session purpose:{purpose}").as_bytes());
    hint
}
