//! The one place for clock logic: lifetimes checked against `now` with a leeway for clock skew.
//!
//! Times are whole seconds since the Unix epoch, passed in by the caller, so that every check
//! is deterministic and testable.

use crate::error::Error;

/// Seconds since the Unix epoch.
pub type UnixTime = u64;

/// The largest time accepted anywhere: 2^53 - 1, the largest integer a JavaScript number
/// holds exactly, so every time survives a trip through JSON and JavaScript unchanged.
pub const MAX_TIME: UnixTime = (1 << 53) - 1;

/// The latest `now` a clock gives: 8.64e12 s, the last second a JavaScript `Date` holds
/// (ECMAScript's time values end 8.64e15 ms after the epoch).
pub const MAX_CLOCK: UnixTime = 8_640_000_000_000;

/// The latest `now` a caller may give to sign a session token (compact, sealed, JWT), route,
/// revoke tokens, or to any call from JavaScript: 10^11 seconds, the year 5138. Today's time in
/// milliseconds (about 1.8 × 10^12, what `Date.now()` gives and jose takes) is past it, and so
/// refused with `invalid_config` (setting `now`) rather than signing tokens that live for ages
/// where the `iat` is not checked (jose accepts such a JWT) or routing with times no timeout
/// reaches. The store's revocation, DBSC and the origin assertions hold their callers' `now` to
/// it too.
pub const LATEST_NOW: UnixTime = 100_000_000_000;

/// A caller's `now` (signing a session token, routing, revoking, any call from JavaScript): at
/// most [`LATEST_NOW`], else `invalid_config` about the setting `now`.
pub(crate) fn check_now(now: UnixTime) -> Result<(), Error> {
    check_seconds("now", now)
}

/// A time a caller gives (`now`, a revocation's `minIssuedAt`): at most [`LATEST_NOW`], else
/// `invalid_config` about `setting`. A time in milliseconds is refused rather than read as a
/// date 50,000 years ahead (a `minIssuedAt` of `Date.now()` revoked every token, silently).
pub(crate) fn check_seconds(setting: &'static str, time: UnixTime) -> Result<(), Error> {
    if time > LATEST_NOW {
        return Err(Error::config_of(
            setting,
            format!(
                "{setting} must be seconds since 1970 (not milliseconds): at most 10^11, the year 5138"
            ),
        ));
    }
    Ok(())
}

/// The longest lifetime a token may be given (`ttlSeconds`, also bounding
/// `maxLifetimeSeconds`): signed at any time up to [`MAX_CLOCK`], its `exp = now + ttl` is at
/// most [`MAX_TIME`], exact as a JSON number (a JWT's NumericDate). A longer one would make
/// signing fail from some time on (every sign, near 2^53), so it is refused at construction.
pub const MAX_TTL: u64 = MAX_TIME - MAX_CLOCK;

/// The most clock skew a leeway may forgive: a day. A larger one would take tokens long
/// expired for valid ones.
pub const MAX_LEEWAY: u64 = 86_400;

/// A leeway (`leewaySeconds`) of at most [`MAX_LEEWAY`].
pub(crate) fn check_leeway(leeway: u64) -> Result<(), Error> {
    if leeway > MAX_LEEWAY {
        return Err(Error::config_of(
            "leewaySeconds",
            "leewaySeconds must be at most 86400",
        ));
    }
    Ok(())
}

/// Why a lifetime check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outside {
    /// `now` is at or past `exp + leeway`; carries `exp`.
    Expired(UnixTime),
    /// A start time (`iat` or `nbf`) is later than `now + leeway`; carries that time.
    NotYetValid(UnixTime),
}

impl Outside {
    /// The token error: `expired` carrying the claims, or `not_yet_valid`.
    pub(crate) fn error(self, claims: String) -> Error {
        match self {
            Outside::Expired(exp) => Error::Expired { exp, claims },
            Outside::NotYetValid(start) => Error::NotYetValid { valid_from: start },
        }
    }
}

/// Checks `now` against an expiry and any number of start times, with `leeway` seconds of
/// tolerance on both sides. As RFC 7519 says of `exp` (and jose does), a token is expired from
/// the second `exp + leeway` on: one second before it is still valid. A start time is valid
/// from `start - leeway` on.
pub(crate) fn check(
    now: UnixTime,
    leeway: u64,
    exp: Option<UnixTime>,
    starts: &[Option<UnixTime>],
) -> Result<(), Outside> {
    if let Some(exp) = exp {
        if now >= exp.saturating_add(leeway) {
            return Err(Outside::Expired(exp));
        }
    }
    match starts.iter().flatten().copied().max() {
        Some(start) if start > now.saturating_add(leeway) => Err(Outside::NotYetValid(start)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_boundary_with_leeway() {
        assert_eq!(check(129, 30, Some(100), &[]), Ok(()));
        assert_eq!(check(130, 30, Some(100), &[]), Err(Outside::Expired(100)));
        assert_eq!(check(99, 0, Some(100), &[]), Ok(()));
        assert_eq!(check(100, 0, Some(100), &[]), Err(Outside::Expired(100)));
    }

    #[test]
    fn start_boundary_with_leeway() {
        assert_eq!(check(70, 30, None, &[Some(100)]), Ok(()));
        assert_eq!(
            check(69, 30, None, &[Some(100)]),
            Err(Outside::NotYetValid(100))
        );
        assert_eq!(
            check(69, 30, None, &[None, Some(100), Some(50)]),
            Err(Outside::NotYetValid(100))
        );
    }

    /// The latest `now` is 10^11 seconds exactly, as documented (the year 5138): that second is
    /// taken, the next one, like a time in milliseconds, is `invalid_config` about `now`.
    #[test]
    fn latest_now_is_ten_to_the_eleventh() {
        assert_eq!(check_now(100_000_000_000).map_err(|e| e.code()), Ok(()));
        for now in [100_000_000_001, 1_800_000_000_000] {
            assert_eq!(
                check_now(now).unwrap_err().code(),
                "invalid_config",
                "{now}"
            );
        }
    }

    #[test]
    fn no_overflow_at_the_ends() {
        assert_eq!(
            check(u64::MAX - 1, u64::MAX, Some(u64::MAX), &[Some(u64::MAX)]),
            Ok(())
        );
        assert_eq!(check(u64::MAX, 0, Some(0), &[]), Err(Outside::Expired(0)));
    }
}
