//! Sliding refresh: keep an active user logged in without letting a token live forever.
//!
//! `refresh(token, now)` (on [`SessionTokens`](crate::SessionTokens) and `SealedTokens`) verifies the token and
//! returns a new one when
//!
//! - the token is past `refreshAfter` (default 0.5) of its lifetime `exp - iat`, and the new
//!   token would live longer than the old one; or
//! - an older key of the ring signed it (so rotation moves active users to the current key).
//!
//! Otherwise it returns `None`; also when the new token would be over `maxTokenBytes` (it
//! carries `auth_time` too), so a token near the limit is kept until it expires, never refused
//! by a refresh when its verify accepts it. The new token has the same claims, `iat = now`, and
//! `exp = now + (exp - iat)` (the token's own lifetime), capped by the absolute limit.
//!
//! **The absolute limit** travels in the token as the claim `auth_time` (OpenID Connect's name:
//! when the login happened). `refresh` sets it from `iat` the first time and keeps it after;
//! no refreshed token lives past `auth_time + maxLifetimeSeconds` (default 7 days, or
//! `ttlSeconds` when longer), so a stolen token cannot be kept alive forever and the limit can
//! be shortened for all sessions by configuration. Revocation also compares `auth_time`, so a
//! refresh does not escape a logout everywhere ([`crate::claims`]).
//!
//! The compact token's binary layout is unchanged: `auth_time` is an ordinary claim.

use super::claims::{claims_object, Registered, Verified};
use crate::error::{Error, Result};
use crate::json::{self, Object};
use crate::time::{UnixTime, MAX_TTL};

/// The default absolute session lifetime: 7 days.
pub const DEFAULT_MAX_LIFETIME_SECONDS: u64 = 7 * 24 * 3600;

/// The refresh settings of a token kind, checked at construction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RefreshPolicy {
    after: f64,
    max_lifetime: u64,
}

impl RefreshPolicy {
    /// Refresh past the share `after` of a token's lifetime, never past `max_lifetime` after
    /// the login; `ttl` is the configured lifetime of new tokens.
    pub(crate) fn new(after: f64, max_lifetime: u64, ttl: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&after) {
            return Err(Error::config_of(
                "refreshAfter",
                "refreshAfter must be a share of the lifetime, from 0 to 1",
            ));
        }
        if max_lifetime < ttl || max_lifetime > MAX_TTL {
            return Err(too_short());
        }
        Ok(RefreshPolicy {
            after,
            max_lifetime,
        })
    }

    /// The longest a session lasts from its login through refreshes, seconds.
    #[cfg(feature = "sealed")]
    pub(crate) fn max_lifetime(&self) -> u64 {
        self.max_lifetime
    }

    /// `ttl` of a new token (a `sign` may give its own), refused past the sessions' longest
    /// life: a revocation is kept that long (`keepSeconds`, `SESSION_MAX_LIFETIME_SECONDS`), and
    /// a token living longer would verify again once its revocation was gone. (A refresh's
    /// replacement ends at its login's longest life: [`RefreshPolicy::plan`].)
    pub(crate) fn lifetime(&self, ttl: u64) -> Result<u64> {
        // Past MAX_TTL: `ttlSeconds`' own error, when the token is signed.
        if ttl > self.max_lifetime && ttl <= MAX_TTL {
            return Err(too_short());
        }
        Ok(ttl)
    }

    /// The lifetime of the replacement token and its `auth_time`, or `None` when the token
    /// should be kept.
    fn plan(
        &self,
        claims: &Registered<'_>,
        stale_key: bool,
        now: UnixTime,
    ) -> Result<Option<(u64, UnixTime)>> {
        let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
            return Err(Error::Malformed("a token to refresh needs iat and exp"));
        };
        let auth_time = claims.issued_at(now).unwrap_or(iat);
        let lifetime = exp.saturating_sub(iat);
        let new_exp = now
            .saturating_add(lifetime)
            .min(auth_time.saturating_add(self.max_lifetime));
        if new_exp <= now {
            return Ok(None);
        }
        let due = iat.saturating_add(share_of(lifetime, self.after));
        let refresh = (now >= due && new_exp > exp) || stale_key;
        Ok(refresh.then_some((new_exp - now, auth_time)))
    }

    /// The replacement for a verified token, signed by `sign(claims, now, ttl)`, and its
    /// lifetime `ttl`, if one is due and fits: one over the size limit (a refresh adds
    /// `auth_time`) is not made, and the token is kept until it expires.
    pub(crate) fn reissue(
        &self,
        verified: &Verified<String>,
        now: UnixTime,
        sign: impl FnOnce(Object<'_>, UnixTime, u64) -> Result<String>,
    ) -> Result<Option<(String, u64)>> {
        match self.replacement(verified, now)? {
            Some((claims, ttl)) => match sign(claims, now, ttl) {
                Err(Error::TooLarge { .. }) => Ok(None),
                signed => signed.map(|token| Some((token, ttl))),
            },
            None => Ok(None),
        }
    }

    /// The claims and lifetime of the replacement for a verified token, if one is due.
    fn replacement<'v>(
        &self,
        verified: &'v Verified<String>,
        now: UnixTime,
    ) -> Result<Option<(Object<'v>, u64)>> {
        let registered = Registered::parse(&verified.claims)?;
        let Some((ttl, auth_time)) = self.plan(&registered, verified.stale_key, now)? else {
            return Ok(None);
        };
        let mut claims = claims_object(&verified.claims)?;
        claims.insert("auth_time", json::number(auth_time));
        Ok(Some((claims, ttl)))
    }
}

/// The share `after` of `lifetime`, in whole seconds rounded up, with `after` read as the decimal
/// it was written as: the double nearest 0.55 is a little more than 0.55, and 0.55 of 3600 s would
/// be 1981 s. Four units in the last place off the product (under a millisecond for any lifetime
/// below 2^40 s) take away what the nearest double added.
fn share_of(lifetime: u64, after: f64) -> u64 {
    (lifetime as f64 * after * (1.0 - 4.0 * f64::EPSILON)).ceil() as u64
}

/// `maxLifetimeSeconds` shorter than the lifetime of a token, or too long itself.
#[inline(never)]
fn too_short() -> Error {
    Error::config_of(
        "maxLifetimeSeconds",
        "maxLifetimeSeconds must be at least ttlSeconds and at most 8998559254740991",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenConfig;

    impl RefreshPolicy {
        fn from_config(config: &TokenConfig) -> Result<Self> {
            let max_lifetime = config.max_lifetime();
            RefreshPolicy::new(config.refresh_after, max_lifetime, config.ttl_seconds)
        }
    }

    fn policy(after: f64, max: Option<u64>) -> RefreshPolicy {
        let mut config = TokenConfig::new(vec![]);
        config.refresh_after = after;
        config.max_lifetime_seconds = max;
        RefreshPolicy::from_config(&config).unwrap()
    }

    fn claims(iat: u64, exp: u64, auth_time: Option<u64>) -> Registered<'static> {
        Registered {
            iat: Some(iat),
            exp: Some(exp),
            auth_time,
            ..Registered::default()
        }
    }

    #[test]
    fn refreshes_from_the_configured_share() {
        let p = policy(0.5, None);
        let c = claims(1000, 2000, None);
        assert_eq!(p.plan(&c, false, 1499).unwrap(), None);
        assert_eq!(p.plan(&c, false, 1500).unwrap(), Some((1000, 1000)));
        // Share 0: any later second (the same second would gain nothing).
        assert_eq!(policy(0.0, None).plan(&c, false, 1000).unwrap(), None);
        assert_eq!(
            policy(0.0, None).plan(&c, false, 1001).unwrap(),
            Some((1000, 1000))
        );
        assert_eq!(policy(1.0, None).plan(&c, false, 1999).unwrap(), None);
        assert_eq!(
            policy(1.0, None).plan(&c, false, 2000).unwrap(),
            Some((1000, 1000))
        );
        // A stale key is re-issued at once.
        assert_eq!(p.plan(&c, true, 1001).unwrap(), Some((1000, 1000)));
    }

    #[test]
    fn shares_round_up_to_the_second_they_name() {
        for (lifetime, after, due) in [
            (3600, 0.55, 1980),
            (100, 0.07, 7),
            (3600, 1.0 / 3.0, 1200),
            (10, 0.25, 3),
            (3, 0.5, 2),
            (1, 1e-300, 1),
            (3600, 0.0, 0),
            (3600, 1.0, 3600),
            (u64::from(u32::MAX), 0.5, 1 << 31),
            (u64::from(u32::MAX), 0.55, 2_362_232_013),
        ] {
            assert_eq!(share_of(lifetime, after), due, "{after} of {lifetime}");
        }
    }

    /// The four units in the last place taken off the product stay under a millisecond below
    /// 2^40 s, as documented: a share a millisecond past a whole second (0.901 of
    /// 1,099,511,627,101 s is 990,659,976,018.001 s) still rounds up to the next second. Five
    /// units would round it down.
    #[test]
    fn a_share_a_millisecond_past_a_second_rounds_up_below_2_pow_40() {
        let lifetime = 1_099_511_627_101;
        assert!(lifetime < 1 << 40);
        assert_eq!(share_of(lifetime, 0.901), 990_659_976_019);
    }

    #[test]
    fn never_past_the_absolute_limit() {
        let p = policy(0.5, Some(3600));
        // auth_time 0: limit 3600.
        assert_eq!(
            p.plan(&claims(2000, 3000, Some(0)), false, 2600).unwrap(),
            Some((1000, 0))
        );
        assert_eq!(
            p.plan(&claims(2800, 3600, Some(0)), false, 3300).unwrap(),
            None
        );
        assert_eq!(
            p.plan(&claims(3000, 4000, Some(0)), false, 3600).unwrap(),
            None
        );
        assert_eq!(
            p.plan(&claims(3000, 4000, Some(0)), true, 3500).unwrap(),
            Some((100, 0))
        );
        // Without auth_time the limit counts from iat.
        assert_eq!(
            p.plan(&claims(0, 3000, None), false, 2000).unwrap(),
            Some((1600, 0))
        );
    }

    #[test]
    fn config_is_checked() {
        let mut config = TokenConfig::new(vec![]);
        for after in [-0.1, 1.1, f64::NAN] {
            config.refresh_after = after;
            assert!(RefreshPolicy::from_config(&config).is_err(), "{after}");
        }
        config.refresh_after = 0.5;
        config.max_lifetime_seconds = Some(config.ttl_seconds - 1);
        assert!(RefreshPolicy::from_config(&config).is_err());
        config.max_lifetime_seconds = None;
        config.ttl_seconds = 30 * 86400;
        assert_eq!(
            RefreshPolicy::from_config(&config).unwrap().max_lifetime,
            30 * 86400
        );
    }
}
