//! What compact and sealed tokens both carry before their claims: the key id and the times.
//!
//! ```text
//! kid   1 byte length (1..=64) + the key id
//! iat   varint    issued at, seconds since the Unix epoch
//! ttl   varint    exp - iat
//! nbf   varint    0 when absent, else nbf + 1
//! ```
//!
//! `iat`, `exp` and `nbf` travel here, not in the claims: [`Times::stamp`] takes them out of the
//! claims being signed and [`Times::verified`] puts them back into the verified claims.

use crate::codec::{ascii_lossy, put_varint, Reader};
use crate::error::{Error, Result};
use crate::json::Object;
use crate::keys::MAX_KEY_ID_BYTES;
use crate::time::{self, Outside, UnixTime};
use crate::token::{check_time, check_ttl, splice_times, untimed, Verified};

/// The times of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Times {
    iat: UnixTime,
    ttl: u64,
    nbf: Option<UnixTime>,
}

impl Times {
    /// The times of a token signed at `now` to live `ttl` seconds (checked), and the claims it
    /// carries without them.
    pub(crate) fn stamp(claims: Object<'_>, now: UnixTime, ttl: u64) -> Result<(Times, String)> {
        check_time("now", now)?;
        check_ttl(ttl)?;
        check_time("now + ttlSeconds", now + ttl)?;
        let (json, nbf) = untimed(claims)?;
        Ok((Times { iat: now, ttl, nbf }, json))
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
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Times> {
        Ok(Times {
            iat: r.varint()?,
            ttl: r.varint()?,
            nbf: r.varint()?.checked_sub(1),
        })
    }

    /// The verified claims at `now`: the authentic claims (a JSON object, as signed) with the
    /// times put back, if the token is within its lifetime (`expired`, `not_yet_valid`).
    pub(crate) fn verified(
        &self,
        claims: &[u8],
        now: UnixTime,
        leeway: u64,
        key_id: &str,
        stale_key: bool,
    ) -> Result<Verified<String>> {
        let exp = self
            .iat
            .checked_add(self.ttl)
            .ok_or(Error::Malformed("exp overflows"))?;
        let claims = splice_times(claims, self.iat, exp, self.nbf)?;
        match time::check(now, leeway, Some(exp), &[Some(self.iat), self.nbf]) {
            Ok(()) => Ok(Verified {
                claims,
                key_id: key_id.to_owned(),
                stale_key,
            }),
            Err(Outside::Expired(exp)) => Err(Error::Expired { exp, claims }),
            Err(Outside::NotYetValid(start)) => Err(Error::NotYetValid { valid_from: start }),
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
        .ok_or_else(|| Error::UnknownKey(ascii_lossy(kid)))
}
