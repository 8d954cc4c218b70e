//! Settings of an [`Affinity`](super::Affinity) router; field names match the JavaScript
//! options (camelCase).

use std::fmt;

use serde::Deserialize;

use super::backends::BackendConfig;
use crate::cookie::SameSite;

/// Where the routing key comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A signed affinity value in a cookie (the default).
    #[default]
    Cookie,
    /// A signed affinity value in a URL query parameter, for clients without cookies.
    Url,
    /// The client address, hashed (IPv6 by its /64 network).
    Ip,
    /// A request header's value, such as a session or tenant id, hashed.
    Header,
}

impl Mode {
    /// The mode from its configured name (`cookie`, `url`, `ip`, `header`), as deserialization
    /// reads it; without serde, for the JS options and the gateway's settings.
    pub fn from_name(name: &str) -> Option<Mode> {
        match name {
            "cookie" => Some(Mode::Cookie),
            "url" => Some(Mode::Url),
            "ip" => Some(Mode::Ip),
            "header" => Some(Mode::Header),
            _ => None,
        }
    }
}

/// What happens to a visitor whose backend is down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Failover {
    /// Move the visitor to the rendezvous choice among healthy backends; it stays there when
    /// the old backend recovers (the default).
    #[default]
    Sticky,
    /// Never move the visitor: fail with `backend_unavailable` (`no_backend` when no backend
    /// is up), for applications that keep state in a backend's memory.
    Strict,
}

impl Failover {
    /// The policy from its configured name (`sticky`, `strict`), as deserialization reads it;
    /// without serde, for the JS options and the gateway's settings.
    pub fn from_name(name: &str) -> Option<Failover> {
        match name {
            "sticky" => Some(Failover::Sticky),
            "strict" => Some(Failover::Strict),
            _ => None,
        }
    }
}

/// Settings of an [`Affinity`](super::Affinity) router.
///
/// ```
/// use edge_session::affinity::{AffinityConfig, BackendConfig, Mode};
///
/// let config: AffinityConfig = serde_json::from_str(r#"{
///     "secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA",
///     "backends": [{ "id": "a" }, { "id": "b", "weight": 2 }],
///     "mode": "ip"
/// }"#).unwrap();
/// assert_eq!(config.mode, Mode::Ip);
/// assert_eq!(config.backends[1], BackendConfig::weighted("b", 2));
/// assert_eq!(config.cookie_name, "__Host-affinity");
/// ```
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AffinityConfig {
    /// base64url secret, at least 32 bytes once decoded. Every edge location must use the same
    /// one: it keys the hashing and signs the affinity values.
    pub secret: String,
    /// Secrets used before `secret`, newest first (at most 8): affinity values they signed are
    /// still honoured, and signed again with `secret` on the spot, so rotating the secret moves
    /// no visitor in the cookie and URL modes, provided every instance knows the new secret
    /// before any signs with it (deploy it here first, then as `secret`: while a deploy spreads,
    /// an instance without it reassigns the visitors whose values it signed). Drop an old secret
    /// once `ttlSeconds` have passed.
    /// (The IP and header modes hash with `secret` alone: changing it moves their keys.)
    #[serde(default)]
    pub previous_secrets: Vec<String>,
    /// Where the routing key comes from. Default `cookie`.
    #[serde(default)]
    pub mode: Mode,
    /// The backends, 1 to 1024, with unique ids.
    pub backends: Vec<BackendConfig>,
    /// Longest life of an affinity value, enforced by the server, in seconds. Default 86400.
    #[serde(default = "defaults::ttl")]
    pub ttl_seconds: u64,
    /// A value unused for longer than this is not honoured, in seconds; 1 to `ttlSeconds`.
    /// Default (`None`): 1800, or `ttlSeconds` when shorter (see [`AffinityConfig::idle`]).
    /// It runs from the value's last re-issue, not the visitor's last request: a value is issued
    /// again only once past half of it, so a visitor idle for just over half of it may already be
    /// moved. Set it to twice the inactivity a visitor should be allowed.
    #[serde(default)]
    pub idle_seconds: Option<u64>,
    /// Cookie mode: the cookie's name. Default `__Host-affinity`.
    #[serde(default = "defaults::cookie_name")]
    pub cookie_name: String,
    /// Cookie mode: the `SameSite` attribute. Default `Lax`.
    #[serde(default)]
    pub same_site: SameSite,
    /// Cookie mode: the `Domain` attribute, to share the cookie with subdomains (needs a
    /// cookie name without the `__Host-` prefix). Default none: host-only.
    #[serde(default)]
    pub domain: Option<String>,
    /// Cookie mode: the `Partitioned` attribute (CHIPS). Default false.
    #[serde(default)]
    pub partitioned: bool,
    /// What happens to a visitor whose backend is down. Default `sticky`.
    #[serde(default)]
    pub failover: Failover,
    /// URL mode: the query parameter's name, 1 to 64 of `A-Z a-z 0-9 - . _ ~`. Default `_aff`.
    #[serde(default = "defaults::param")]
    pub param: String,
    /// Header mode: the name of the header whose value is the key (the caller passes the value
    /// to `route`; the gateway reads this header). Default none.
    #[serde(default)]
    pub header: Option<String>,
}

pub(crate) mod defaults {
    pub fn ttl() -> u64 {
        86_400
    }
    pub const IDLE: u64 = 1_800;
    pub fn cookie_name() -> String {
        "__Host-affinity".into()
    }
    pub fn param() -> String {
        "_aff".into()
    }
}

impl AffinityConfig {
    /// A configuration with the defaults: cookie mode, sticky failover, a day's lifetime,
    /// half an hour's idle time, a `__Host-affinity` cookie with `SameSite=Lax`.
    pub fn new(secret: impl Into<String>, backends: Vec<BackendConfig>) -> Self {
        AffinityConfig {
            secret: secret.into(),
            previous_secrets: Vec::new(),
            mode: Mode::default(),
            backends,
            ttl_seconds: defaults::ttl(),
            idle_seconds: None,
            cookie_name: defaults::cookie_name(),
            same_site: SameSite::default(),
            domain: None,
            partitioned: false,
            failover: Failover::default(),
            param: defaults::param(),
            header: None,
        }
    }
}

impl AffinityConfig {
    /// The idle time: `idle_seconds`, by default 1800 or `ttl_seconds` when shorter (a lifetime
    /// given alone never makes the default idle time an error).
    ///
    /// ```
    /// # use edge_session::affinity::{AffinityConfig, BackendConfig};
    /// let mut config = AffinityConfig::new("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", vec![BackendConfig::new("a")]);
    /// assert_eq!(config.idle(), 1800);
    /// config.ttl_seconds = 600;
    /// assert_eq!(config.idle(), 600);
    /// config.idle_seconds = Some(60);
    /// assert_eq!(config.idle(), 60);
    /// ```
    pub fn idle(&self) -> u64 {
        self.idle_seconds
            .unwrap_or(defaults::IDLE.min(self.ttl_seconds))
    }
}

impl fmt::Debug for AffinityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AffinityConfig")
            .field("mode", &self.mode)
            .field("backends", &self.backends)
            .field("ttl_seconds", &self.ttl_seconds)
            .field("idle_seconds", &self.idle_seconds)
            .field("cookie_name", &self.cookie_name)
            .field("same_site", &self.same_site)
            .field("domain", &self.domain)
            .field("partitioned", &self.partitioned)
            .field("failover", &self.failover)
            .field("param", &self.param)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_name_reads_what_deserialization_reads() {
        for name in [
            "cookie", "url", "ip", "header", "sticky", "strict", "Cookie", "IP", "", " url", "x",
        ] {
            let value = || serde_json::Value::from(name);
            let mode = serde_json::from_value::<Mode>(value()).ok();
            assert_eq!(Mode::from_name(name), mode, "{name:?}");
            let failover = serde_json::from_value::<Failover>(value()).ok();
            assert_eq!(Failover::from_name(name), failover, "{name:?}");
        }
    }
}
