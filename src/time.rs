//! The one place for clock logic: lifetimes checked against `now` with a leeway for clock skew.
//!
//! Times are whole seconds since the Unix epoch, passed in by the caller, so that every check
//! is deterministic and testable.

/// Seconds since the Unix epoch.
pub type UnixTime = u64;

/// The largest time accepted anywhere: 2^53 - 1, the largest integer a JavaScript number
/// holds exactly, so every time survives a trip through JSON and JavaScript unchanged.
pub const MAX_TIME: UnixTime = (1 << 53) - 1;

/// Why a lifetime check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outside {
    /// `now` is past `exp + leeway`; carries `exp`.
    Expired(UnixTime),
    /// A start time (`iat` or `nbf`) is later than `now + leeway`; carries that time.
    NotYetValid(UnixTime),
}

/// Checks `now` against an expiry and any number of start times, with `leeway` seconds of
/// tolerance on both sides. `now == exp + leeway` is still valid; one second later is not.
pub(crate) fn check(
    now: UnixTime,
    leeway: u64,
    exp: Option<UnixTime>,
    starts: &[Option<UnixTime>],
) -> Result<(), Outside> {
    if let Some(exp) = exp {
        if now > exp.saturating_add(leeway) {
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
        assert_eq!(check(130, 30, Some(100), &[]), Ok(()));
        assert_eq!(check(131, 30, Some(100), &[]), Err(Outside::Expired(100)));
        assert_eq!(check(100, 0, Some(100), &[]), Ok(()));
        assert_eq!(check(101, 0, Some(100), &[]), Err(Outside::Expired(100)));
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

    #[test]
    fn no_overflow_at_the_ends() {
        assert_eq!(
            check(u64::MAX, u64::MAX, Some(u64::MAX), &[Some(u64::MAX)]),
            Ok(())
        );
        assert_eq!(check(u64::MAX, 0, Some(0), &[]), Err(Outside::Expired(0)));
    }
}
