//! The envelope: what compact and sealed tokens both carry before their claims, the key id and
//! the times; and the checks on times and sizes every token format shares.
//!
//! ```text
//! kid   1 byte length (1..=64) + the key id
//! iat   varint    issued at, seconds since the Unix epoch
//! ttl   varint    exp - iat
//! nbf   varint    0 when absent, else nbf + 1
//! ```
//!
//! `iat`, `exp` and `nbf` travel here, not in the claims: [`Envelope::stamp`] takes them out of the
//! claims being signed and [`Envelope::verified`] puts them back into the verified claims.

use crate::codec::{put_varint, Reader};
use crate::error::{Error, Result};
use crate::json::{self, Object};
use crate::keys::MAX_KEY_ID_BYTES;
use crate::time::{self, UnixTime, MAX_TIME, MAX_TTL};

/// A token's envelope: its times (the key id is written and read next to them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    iat: UnixTime,
    ttl: u64,
    nbf: Option<UnixTime>,
}

impl Envelope {
    /// The times of a token signed at `now` to live `ttl` seconds (checked), and the claims it
    /// carries without them.
    pub(crate) fn stamp(claims: Object<'_>, now: UnixTime, ttl: u64) -> Result<(Envelope, String)> {
        // `now + ttl` is at most LATEST_NOW + MAX_TTL < MAX_TIME: exact as a JSON number.
        time::check_now(now)?;
        check_ttl(ttl)?;
        let (json, nbf) = untimed(claims, now + ttl)?;
        Ok((Envelope { iat: now, ttl, nbf }, json))
    }

    /// Appends the key id and the times.
    pub(crate) fn write(&self, kid: &str, out: &mut Vec<u8>) {
        // Key ids are 1 to 64 bytes (checked by the keyring).
        out.push(kid.len() as u8);
        out.extend_from_slice(kid.as_bytes());
        put_varint(out, self.iat);
        put_varint(out, self.ttl);
        put_varint(out, self.nbf.map_or(0, |n| n + 1));
    }

    /// Reads the times that follow the key id.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Envelope> {
        Ok(Envelope {
            iat: r.varint()?,
            ttl: r.varint()?,
            nbf: r.varint()?.checked_sub(1),
        })
    }

    /// The verified claims at `now`: the authentic claims (a JSON object, as signed, in a buffer
    /// of their own that the times are written into) with the times put back, if the token is
    /// within its lifetime (`expired`, `not_yet_valid`).
    pub(crate) fn verified(&self, claims: Vec<u8>, now: UnixTime, leeway: u64) -> Result<String> {
        let Some(exp) = self.iat.checked_add(self.ttl) else {
            return Err(Error::Malformed("exp overflows"));
        };
        let claims = splice_times(claims, self.iat, exp, self.nbf)?;
        match time::check(now, leeway, Some(exp), &[Some(self.iat), self.nbf]) {
            Ok(()) => Ok(claims),
            Err(outside) => Err(outside.error(claims)),
        }
    }
}

/// Reads a key id: its length, then its bytes.
pub(crate) fn read_kid<'a>(r: &mut Reader<'a>) -> Result<&'a [u8]> {
    let len = usize::from(r.byte()?);
    if len == 0 || len > MAX_KEY_ID_BYTES {
        return Err(Error::Malformed("bad key id length"));
    }
    r.take(len)
}

/// The position and entry of key `kid` in a keyring (`unknown_key` when it is not there).
pub(crate) fn find_key<'k, K>(
    keys: &'k [(String, K)],
    kid: &[u8],
) -> Result<(usize, &'k (String, K))> {
    keys.iter()
        .enumerate()
        .find(|(_, (id, _))| id.as_bytes() == kid)
        .ok_or_else(|| Error::unknown_key(kid))
}

/// `{...claims}` → `{...claims,"iat":..,"exp":..[,"nbf":..]}`, without re-parsing the claims:
/// written over the closing brace, in the claims' own buffer.
pub(crate) fn splice_times(
    mut json: Vec<u8>,
    iat: u64,
    exp: u64,
    nbf: Option<u64>,
) -> Result<String> {
    if json.first() != Some(&b'{') || json.pop() != Some(b'}') {
        return Err(Error::Malformed("claims are not a JSON object"));
    }
    if json.len() > 1 {
        json.push(b',');
    }
    json.extend_from_slice(b"\"iat\":");
    json::write_u64_bytes(&mut json, iat);
    json.extend_from_slice(b",\"exp\":");
    json::write_u64_bytes(&mut json, exp);
    if let Some(nbf) = nbf {
        json.extend_from_slice(b",\"nbf\":");
        json::write_u64_bytes(&mut json, nbf);
    }
    json.push(b'}');
    String::from_utf8(json).map_err(|_| Error::Malformed("claims are not UTF-8"))
}

/// The claims a token expiring at `exp` carries in its body, as JSON text, and its `nbf`: `iat`
/// and `exp` are dropped (the envelope carries them), `nbf` is moved to the envelope.
pub(crate) fn untimed(mut claims: Object<'_>, exp: UnixTime) -> Result<(String, Option<UnixTime>)> {
    claims.remove("iat");
    claims.remove("exp");
    let nbf = claims
        .remove("nbf")
        .map(|v| nbf_claim(&v, exp))
        .transpose()?;
    Ok((claims.to_json(), nbf))
}

/// An `nbf` claim being signed into a token expiring at `exp`: a whole number of seconds,
/// before `exp`. One at or past it (a time in milliseconds, `Date.now()`) made a token that
/// never verifies (`not_yet_valid` until it is `expired`), signed without a word.
pub(crate) fn nbf_claim(value: &str, exp: UnixTime) -> Result<UnixTime> {
    let nbf = json::whole(value)
        .filter(|&n| n <= MAX_TIME)
        .ok_or_else(|| Error::InvalidClaims("nbf must be a whole number of seconds".into()))?;
    if nbf >= exp {
        return Err(Error::InvalidClaims(
            "nbf must be before exp (seconds, not milliseconds): the token would never be valid"
                .into(),
        ));
    }
    Ok(nbf)
}

/// Refuses a token (to sign or to verify) longer than `max` bytes with `too_large`, before any
/// decoding.
pub(crate) fn check_size(token: &str, max: usize) -> Result<()> {
    if token.len() > max {
        return Err(Error::TooLarge {
            len: token.len(),
            max,
        });
    }
    Ok(())
}

/// A token's lifetime: 1 to [`MAX_TTL`] seconds.
pub(crate) fn check_ttl(ttl: u64) -> Result<()> {
    if ttl == 0 || ttl > MAX_TTL {
        return Err(Error::config_of(
            "ttlSeconds",
            "ttlSeconds must be 1 to 8998559254740991 (2^53 - 1 - 8.64e12) seconds",
        ));
    }
    Ok(())
}
