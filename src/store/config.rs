//! [`SessionConfig`]: the settings of [`Sessions`](super::Sessions) (timeouts, touch interval,
//! data size, purpose), with their defaults and bounds.

use serde::Deserialize;

use crate::error::{Error, Result};

/// The longest timeout, in seconds (about 136 years, as the gateway's settings): deadlines stay
/// within what Durable Object alarms accept (dates before 2189).
pub const MAX_TIMEOUT_SECONDS: u64 = u32::MAX as u64;

/// Settings of [`Sessions`](super::Sessions); field names match the JavaScript options (camelCase).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionConfig {
    /// A session ends this many seconds after its last write, 2 to 4294967295. Default 1800.
    #[serde(default = "defaults::idle")]
    pub idle_timeout_seconds: u64,
    /// A session ends this many seconds after its creation, however active; at least the idle
    /// timeout. Default (`None`): 86400, or the idle timeout when longer
    /// ([`SessionConfig::absolute_timeout`]).
    #[serde(default)]
    pub absolute_timeout_seconds: Option<u64>,
    /// An unchanged session is rewritten (to extend its idle timeout) at most this often;
    /// at least 1, less than the idle timeout. Default (`None`): 60, or half the idle timeout
    /// when less ([`SessionConfig::touch_interval`]).
    #[serde(default)]
    pub touch_interval_seconds: Option<u64>,
    /// The largest session data accepted, in bytes of JSON, the subject's bytes counted with it
    /// (`too_large` beyond). Default 16384, at most 65536 (a Durable Object value holds 128 KiB).
    #[serde(default = "defaults::max_data")]
    pub max_data_bytes: usize,
    /// Separates the keys of unrelated session stores sharing a keyring. Default `"session"`.
    #[serde(default = "defaults::purpose")]
    pub purpose: String,
}

mod defaults {
    pub fn idle() -> u64 {
        1800
    }
    pub const ABSOLUTE: u64 = 86_400;
    pub const TOUCH: u64 = 60;
    pub fn max_data() -> usize {
        16_384
    }
    pub fn purpose() -> String {
        "session".into()
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout_seconds: defaults::idle(),
            absolute_timeout_seconds: None,
            touch_interval_seconds: None,
            max_data_bytes: defaults::max_data(),
            purpose: defaults::purpose(),
        }
    }
}

impl SessionConfig {
    /// The absolute timeout: `absolute_timeout_seconds`, by default 86400 or the idle timeout
    /// when longer (an idle timeout given alone never makes the default one an error).
    ///
    /// ```
    /// # use edge_session::store::SessionConfig;
    /// let mut config = SessionConfig::default();
    /// assert_eq!((config.absolute_timeout(), config.touch_interval()), (86_400, 60));
    /// config.idle_timeout_seconds = 100_000;
    /// assert_eq!(config.absolute_timeout(), 100_000);
    /// config.idle_timeout_seconds = 20;
    /// assert_eq!((config.absolute_timeout(), config.touch_interval()), (86_400, 10));
    /// ```
    pub fn absolute_timeout(&self) -> u64 {
        self.absolute_timeout_seconds
            .unwrap_or(defaults::ABSOLUTE.max(self.idle_timeout_seconds))
    }

    /// The touch interval: `touch_interval_seconds`, by default 60 or half the idle timeout
    /// when less.
    pub fn touch_interval(&self) -> u64 {
        self.touch_interval_seconds
            .unwrap_or(defaults::TOUCH.min(self.idle_timeout_seconds / 2))
    }

    /// `invalid_config` naming the first setting out of range.
    pub(super) fn check(&self) -> Result<()> {
        let bad = |setting: &'static str, m: &str| Err(Error::config_of(setting, m));
        // At least 2: the touch interval is at least 1 and less than it.
        if !(2..=MAX_TIMEOUT_SECONDS).contains(&self.idle_timeout_seconds) {
            return bad(
                "idleTimeoutSeconds",
                "idleTimeoutSeconds must be a whole number of seconds from 2 to 4294967295",
            );
        }
        let absolute = self.absolute_timeout();
        if absolute < self.idle_timeout_seconds || absolute > MAX_TIMEOUT_SECONDS {
            return bad(
                "absoluteTimeoutSeconds",
                "absoluteTimeoutSeconds must be at least idleTimeoutSeconds, at most 4294967295",
            );
        }
        let touch = self.touch_interval();
        if touch == 0 || touch >= self.idle_timeout_seconds {
            return bad(
                "touchIntervalSeconds",
                "touchIntervalSeconds must be at least 1 and less than idleTimeoutSeconds",
            );
        }
        if !(2..=65_536).contains(&self.max_data_bytes) {
            return bad("maxDataBytes", "maxDataBytes must be between 2 and 65536");
        }
        if self.purpose.is_empty() || self.purpose.len() > 64 {
            return bad("purpose", "purpose must be 1 to 64 bytes");
        }
        Ok(())
    }
}
