//! The gateway's settings: `[vars]` of wrangler.toml and the `SESSION_KEYS` secret, read into
//! a typed [`GatewayConfig`]. Every failure names the setting ([`ConfigError`]) and never quotes
//! a secret, so the worker can log what to fix (clients get a generic 500).

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::session::SessionCodec;
use crate::affinity::{Affinity, AffinityConfig, BackendConfig, Failover, Mode};
use crate::cookie::{SameSite, SetCookie};
use crate::error::{configured, json_shape, Error, Quoted, MAX_SHOWN_BYTES};
use crate::keys::{KeyConfig, KeyRing, Secret};
use crate::store::SessionConfig;
use crate::token::assertion::{Alg, AssertionKey};
use crate::token::TokenConfig;

pub use super::session::{JwtBinding, SessionFormat};

/// Names of the settings, as written in wrangler.toml `[vars]` or set as secrets.
pub mod names {
    /// JSON list of origins `[{"id":"a","url":"https://origin-a.example.com","weight":1}]` (required; public hostnames).
    pub const ORIGINS: &str = "ORIGINS";
    /// Secret: JSON key list `[{"id":"k1","secret":"<base64url>"}]`, signing key first.
    pub const SESSION_KEYS: &str = "SESSION_KEYS";
    /// Secret: base64url secret of the affinity router; default the first `SESSION_KEYS` secret
    /// (and the newest 8 other `SESSION_KEYS` secrets as the previous ones: rotating the keys
    /// moves no visitor).
    pub const AFFINITY_SECRET: &str = "AFFINITY_SECRET";
    /// Secret, with `AFFINITY_SECRET`: JSON list of the secrets it replaced, newest first
    /// (`["<base64url>"]`); values they signed are still honoured and signed again.
    pub const AFFINITY_PREVIOUS_SECRETS: &str = "AFFINITY_PREVIOUS_SECRETS";
    /// `cookie` (default), `url`, `ip` or `header`.
    pub const AFFINITY_MODE: &str = "AFFINITY_MODE";
    /// URL mode: the query parameter that carries the signed affinity value (default `_es`;
    /// 1 to 64 of `A-Z a-z 0-9 - . _ ~`).
    pub const AFFINITY_PARAM: &str = "AFFINITY_PARAM";
    /// Header mode: the header whose value is the routing key.
    pub const AFFINITY_HEADER: &str = "AFFINITY_HEADER";
    /// `sticky` (default) or `strict`.
    pub const AFFINITY_FAILOVER: &str = "AFFINITY_FAILOVER";
    /// Longest life of an affinity value, seconds (default 86400).
    pub const AFFINITY_TTL_SECONDS: &str = "AFFINITY_TTL_SECONDS";
    /// Idle timeout of an affinity value, seconds (default 1800).
    pub const AFFINITY_IDLE_SECONDS: &str = "AFFINITY_IDLE_SECONDS";
    /// The affinity cookie's name (default `__Host-affinity`).
    pub const AFFINITY_COOKIE: &str = "AFFINITY_COOKIE";
    /// The session cookie's name (default `__Host-session`).
    pub const SESSION_COOKIE: &str = "SESSION_COOKIE";
    /// Lifetime of a session token, seconds (default 3600).
    pub const SESSION_TTL_SECONDS: &str = "SESSION_TTL_SECONDS";
    /// Clock skew tolerated on session tokens, seconds (default 30).
    pub const SESSION_LEEWAY_SECONDS: &str = "SESSION_LEEWAY_SECONDS";
    /// Share of its lifetime after which a session token is re-issued (default 0.5).
    pub const SESSION_REFRESH_AFTER: &str = "SESSION_REFRESH_AFTER";
    /// No refreshed session outlives its login by more than this, seconds (default 604800).
    pub const SESSION_MAX_LIFETIME_SECONDS: &str = "SESSION_MAX_LIFETIME_SECONDS";
    /// `compact` (default), `sealed` (claims encrypted, unreadable by the browser) or `jwt`
    /// (JWT HS256, for systems that already speak JWT).
    pub const SESSION_FORMAT: &str = "SESSION_FORMAT";
    /// With `SESSION_FORMAT = "jwt"`: the `iss` of session JWTs, signed in and required (a JWT
    /// is keyed with the raw secret, so without it any JWT of the keyring is a session).
    pub const SESSION_JWT_ISSUER: &str = "SESSION_JWT_ISSUER";
    /// With `SESSION_FORMAT = "jwt"`: the `aud` of session JWTs, signed in and required.
    pub const SESSION_JWT_AUDIENCE: &str = "SESSION_JWT_AUDIENCE";
    /// `SameSite` of both cookies: `Lax` (default), `Strict` or `None`.
    pub const COOKIE_SAMESITE: &str = "COOKIE_SAMESITE";
    /// Path probed on every origin by the cron trigger (default `/health`).
    pub const HEALTH_PATH: &str = "HEALTH_PATH";
    /// Connection failures (or waits past `ORIGIN_TIMEOUT_MS`) in a row that mark an origin down
    /// (default 3; answers of any status never count).
    pub const HEALTH_FAILURES: &str = "HEALTH_FAILURES";
    /// How long a failed origin is kept out, seconds; also `Retry-After` (default 30).
    pub const HEALTH_DOWN_SECONDS: &str = "HEALTH_DOWN_SECONDS";
    /// A shared (cron) health result older than this is ignored, seconds (default 300, at least
    /// 120).
    pub const HEALTH_MAX_AGE_SECONDS: &str = "HEALTH_MAX_AGE_SECONDS";
    /// How often a worker instance re-reads shared health from KV, seconds (default 10; at most
    /// half `HEALTH_MAX_AGE_SECONDS`).
    pub const HEALTH_CACHE_SECONDS: &str = "HEALTH_CACHE_SECONDS";
    /// Timeout of one health probe, milliseconds (default 3000).
    pub const PROBE_TIMEOUT_MS: &str = "PROBE_TIMEOUT_MS";
    /// The longest wait for an origin's answer to begin (its status and headers, not its body),
    /// milliseconds, counted from the request's sending (from a request body's last byte); past
    /// it the origin gave no answer, as with a connection failure. Unset (default): no limit but
    /// the platform's.
    pub const ORIGIN_TIMEOUT_MS: &str = "ORIGIN_TIMEOUT_MS";
    /// Secret: bearer token of the operator endpoints under `/__edge/`; unset disables them.
    /// Never one of the signing secrets (`SESSION_KEYS`, `AFFINITY_SECRET`...).
    pub const OPERATOR_TOKEN: &str = "OPERATOR_TOKEN";
    /// The largest request headers a client may send, bytes (names, values and `: ` and CRLF
    /// for each; default 16384, Node's own limit): larger ones get a 431 from the gateway and
    /// never reach an origin.
    pub const MAX_REQUEST_HEADER_BYTES: &str = "MAX_REQUEST_HEADER_BYTES";
    /// `on`: every request to an origin carries a random `x-session-nonce`, and the origin's
    /// directives (`x-session-issue`, `-clear`, `-revoke`, `-data`) count only in an answer that
    /// sends it back; `off` (default). Against origin endpoints that reflect upstream headers.
    pub const DIRECTIVE_NONCE: &str = "DIRECTIVE_NONCE";
    /// Server-side session data: `none` (default), `kv` or `durable` (see docs/store.md).
    pub const STORE: &str = "STORE";
    /// The session-id cookie's name (default `__Host-sid`).
    pub const STORE_COOKIE: &str = "STORE_COOKIE";
    /// A stored session ends this long after its last write, seconds (default 1800).
    pub const STORE_IDLE_SECONDS: &str = "STORE_IDLE_SECONDS";
    /// A stored session ends this long after its creation, seconds (default 86400).
    pub const STORE_ABSOLUTE_SECONDS: &str = "STORE_ABSOLUTE_SECONDS";
    /// An unchanged session is rewritten at most this often, seconds (default 60).
    pub const STORE_TOUCH_SECONDS: &str = "STORE_TOUCH_SECONDS";
    /// Largest session data, bytes of JSON, both ways in `x-session-data` (default 4096).
    pub const STORE_MAX_DATA_BYTES: &str = "STORE_MAX_DATA_BYTES";
    /// A store operation slower than this is `store_unavailable`, milliseconds (default 3000).
    pub const STORE_TIMEOUT_MS: &str = "STORE_TIMEOUT_MS";
    /// `1` enables `GET /__edge/store/conformance` (runs the store conformance suite; test builds
    /// only, feature `gateway-conformance`).
    pub const STORE_TESTS: &str = "STORE_TESTS";
    /// `off` (default), `EdDSA` or `ES256`: every forwarded request carries a signed
    /// `x-session-assertion` (JWT), its keys published at `/.well-known/jwks.json`.
    pub const ORIGIN_ASSERTION: &str = "ORIGIN_ASSERTION";
    /// Secret, with `ORIGIN_ASSERTION`: an explicit private JWK with a `kid` (or a JSON list of
    /// them, the signing one first) instead of keys derived from `SESSION_KEYS`.
    pub const ORIGIN_ASSERTION_KEY: &str = "ORIGIN_ASSERTION_KEY";
    /// With `ORIGIN_ASSERTION`: the assertions' `iss`, the gateway's public origin
    /// (`https://app.example`); default the origin (scheme and host) of each request's URL.
    pub const ORIGIN_ASSERTION_ISSUER: &str = "ORIGIN_ASSERTION_ISSUER";
    /// `off` (default) or `on`: device-bound sessions (DBSC, see docs/gateway.md): a login
    /// offers registration to the browser, and a session that registered is valid only with a
    /// fresh bound cookie, refreshed by a proof of the device's private key.
    pub const DBSC: &str = "DBSC";
    /// With `DBSC`: lifetime of the bound cookie, seconds (default 600, 300 to 86400: under
    /// 300 Chrome's signing quota runs out, see [`crate::dbsc::MIN_BOUND_SECONDS`]).
    pub const DBSC_BOUND_SECONDS: &str = "DBSC_BOUND_SECONDS";
    /// With `DBSC`: the bound cookie's name (default `__Host-session-bound`).
    pub const DBSC_COOKIE: &str = "DBSC_COOKIE";

    /// The settings whose values the gateway shows: to every visitor (cookie names, the URL
    /// parameter, a session JWT's `iss` and `aud`) or to origins (the assertions' `iss`, the
    /// probes' path, the header read).
    pub const PUBLIC: [&str; 10] = [
        AFFINITY_COOKIE,
        SESSION_COOKIE,
        STORE_COOKIE,
        DBSC_COOKIE,
        AFFINITY_PARAM,
        AFFINITY_HEADER,
        SESSION_JWT_ISSUER,
        SESSION_JWT_AUDIENCE,
        ORIGIN_ASSERTION_ISSUER,
        HEALTH_PATH,
    ];

    /// Every setting the gateway reads: the tests hold the worker's list of known settings
    /// (src/gateway/worker/entry.mjs) and docs/gateway.md's table to it.
    pub const ALL: [&str; 44] = [
        ORIGINS,
        SESSION_KEYS,
        AFFINITY_SECRET,
        AFFINITY_PREVIOUS_SECRETS,
        AFFINITY_MODE,
        AFFINITY_PARAM,
        AFFINITY_HEADER,
        AFFINITY_FAILOVER,
        AFFINITY_TTL_SECONDS,
        AFFINITY_IDLE_SECONDS,
        AFFINITY_COOKIE,
        SESSION_COOKIE,
        SESSION_TTL_SECONDS,
        SESSION_LEEWAY_SECONDS,
        SESSION_REFRESH_AFTER,
        SESSION_MAX_LIFETIME_SECONDS,
        SESSION_FORMAT,
        SESSION_JWT_ISSUER,
        SESSION_JWT_AUDIENCE,
        COOKIE_SAMESITE,
        HEALTH_PATH,
        HEALTH_FAILURES,
        HEALTH_DOWN_SECONDS,
        HEALTH_MAX_AGE_SECONDS,
        HEALTH_CACHE_SECONDS,
        PROBE_TIMEOUT_MS,
        ORIGIN_TIMEOUT_MS,
        OPERATOR_TOKEN,
        MAX_REQUEST_HEADER_BYTES,
        DIRECTIVE_NONCE,
        STORE,
        STORE_COOKIE,
        STORE_IDLE_SECONDS,
        STORE_ABSOLUTE_SECONDS,
        STORE_TOUCH_SECONDS,
        STORE_MAX_DATA_BYTES,
        STORE_TIMEOUT_MS,
        STORE_TESTS,
        ORIGIN_ASSERTION,
        ORIGIN_ASSERTION_KEY,
        ORIGIN_ASSERTION_ISSUER,
        DBSC,
        DBSC_BOUND_SECONDS,
        DBSC_COOKIE,
    ];
}

use names::*;

/// The bearer token of the operator endpoints (`OPERATOR_TOKEN`): a secret, which `Debug`
/// never shows (a `{:?}` of the settings in a log line).
#[derive(Clone, PartialEq)]
pub struct OperatorToken(String);

impl OperatorToken {
    /// The token's text, to compare with a request's.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OperatorToken(<redacted>)")
    }
}

/// The shortest operator token accepted, in bytes.
pub const MIN_OPERATOR_TOKEN_BYTES: usize = 16;

/// URL mode: the default name of the query parameter that carries the affinity value.
pub const DEFAULT_AFFINITY_PARAM: &str = "_es";

/// A setting that is missing or wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting's name, for example `ORIGINS`.
    pub setting: &'static str,
    /// What is wrong with it; never contains a secret.
    pub message: String,
}

impl ConfigError {
    fn new(setting: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            setting,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// An origin server as configured in `ORIGINS`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// Its id (1 to 256 bytes); never shown to clients.
    pub id: String,
    /// Base URL, `http://` or `https://`, no query or fragment; stored without a trailing `/`.
    /// A request for `/a?b` goes to `{url}/a?b`.
    pub url: String,
    /// Share of new visitors relative to the others (default 1).
    #[serde(default = "one")]
    pub weight: u32,
    /// Keeps its visitors, takes no new ones (default false).
    #[serde(default)]
    pub draining: bool,
}

fn one() -> u32 {
    1
}

/// Everything the gateway needs, checked. The settings the session codec and the affinity
/// router are built from are read-only (accessors): `from_vars` builds both once, to check them,
/// and the gateway runs what it built.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The origins, in configuration order.
    pub origins: Vec<Origin>,
    /// The affinity router's settings (secret and backends filled in from the above); read
    /// them with [`GatewayConfig::affinity`].
    affinity: AffinityConfig,
    /// The session tokens' settings; read them with [`GatewayConfig::tokens`].
    tokens: TokenConfig,
    /// How the session cookie is encoded; read it with [`GatewayConfig::session_format`].
    session_format: SessionFormat,
    /// The binding of JWT sessions; read it with [`GatewayConfig::session_jwt`].
    session_jwt: JwtBinding,
    /// The session cookie's name and attributes.
    pub session_cookie: SetCookie,
    /// Path probed on each origin, starting with `/`.
    pub health_path: String,
    /// Connection failures in a row that mark an origin down.
    pub health_failures: u32,
    /// Seconds a failed origin is kept out; also the `Retry-After` of a 503.
    pub down_seconds: u64,
    /// Seconds after which a shared health result is ignored.
    pub health_max_age: u64,
    /// Seconds between re-reads of shared health from KV.
    pub health_cache_seconds: u64,
    /// Timeout of one health probe, milliseconds.
    pub probe_timeout_ms: u64,
    /// The longest wait for an origin's status and headers, milliseconds (`ORIGIN_TIMEOUT_MS`);
    /// `None`: no limit of the gateway's own.
    pub origin_timeout_ms: Option<u32>,
    /// Bearer token of `/__edge/`; `None` disables those endpoints.
    pub operator_token: Option<OperatorToken>,
    /// Directives count only with the request's `x-session-nonce` (`DIRECTIVE_NONCE`).
    pub directive_nonce: bool,
    /// The largest request headers accepted from a client, bytes.
    pub max_request_header_bytes: usize,
    /// Server-side session data (`STORE`); `None` when off.
    pub store: Option<StoreSettings>,
    /// Signed assertions for origins (`ORIGIN_ASSERTION`); `None` when off.
    pub assertion: Option<AssertionSettings>,
    /// Device-bound sessions (`DBSC`); `None` when off.
    pub dbsc: Option<DbscSettings>,
    /// What `from_vars` built to check `affinity` and `tokens`, for the gateway to run.
    pub(super) built: Built,
}

/// The session codec and the affinity router, built once from checked settings.
#[derive(Clone, Debug)]
pub(super) struct Built {
    /// The session cookie's codec (`SESSION_FORMAT`, keys, times, JWT binding).
    pub(super) tokens: SessionCodec,
    /// The codecs of the other session formats, whose tokens are not cleared (see
    /// [`super::session::of_another_format`]).
    pub(super) other_formats: Vec<SessionCodec>,
    /// The router, draining origins marked; it keeps this instance's view of their health.
    pub(super) affinity: Affinity,
    /// Device-bound sessions (`DBSC = "on"`).
    pub(super) dbsc: Option<super::dbsc::Dbsc>,
}

/// Where the gateway keeps session data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// Workers KV (binding `SESSIONS`): eventually consistent, last write wins.
    Kv,
    /// A Durable Object per session (binding `SESSION_OBJECTS`): strongly consistent.
    Durable,
}

/// The session store's settings (`STORE_*`).
#[derive(Clone, Debug)]
pub struct StoreSettings {
    /// KV or Durable Objects.
    pub kind: StoreKind,
    /// The session-id cookie's name and attributes.
    pub cookie: SetCookie,
    /// Timeouts, touch interval, data size (keys: `SESSION_KEYS`).
    pub sessions: SessionConfig,
    /// Milliseconds before a store operation is `store_unavailable`.
    pub timeout_ms: u32,
    /// `GET /__edge/store/conformance` is enabled.
    pub tests: bool,
    /// How long a revocation is kept: the longest a session token can live, refreshes and
    /// leeway included.
    pub revocation_keep_seconds: u64,
    /// The most `x-session-data` carries to the origin, escaped: half of
    /// `MAX_REQUEST_HEADER_BYTES` (at most 16384), which `STORE_MAX_DATA_BYTES` may not pass.
    /// More, which only another writer stores (a JS `SessionStore` with a larger
    /// `maxDataBytes`), is withheld ([`Loaded::origin_headers`](super::store::Loaded::origin_headers)).
    pub most_data_bytes: usize,
}

impl GatewayConfig {
    /// Reads and checks the settings; `get(name)` returns a setting's text, or `None` when it is
    /// unset. Empty text counts as unset.
    ///
    /// ```
    /// use edge_session::gateway::GatewayConfig;
    ///
    /// let vars = |name: &str| match name {
    ///     "ORIGINS" => Some(r#"[{"id":"a","url":"http://127.0.0.1:9001"}]"#.to_owned()),
    ///     "SESSION_KEYS" => Some(r#"[{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#.to_owned()),
    ///     _ => None,
    /// };
    /// let config = GatewayConfig::from_vars(vars).unwrap();
    /// assert_eq!(config.origins[0].url, "http://127.0.0.1:9001");
    ///
    /// let err = GatewayConfig::from_vars(|name: &str| (name == "ORIGINS").then(|| "[]".to_owned())).unwrap_err();
    /// assert_eq!(err.setting, "ORIGINS");
    /// ```
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let origins = parse_origins(
            &var(ORIGINS).ok_or_else(|| missing(ORIGINS, "a JSON list of origins"))?,
        )?;
        let keys = parse_keys(&var(SESSION_KEYS).ok_or_else(|| {
            missing(
                SESSION_KEYS,
                "a JSON key list, set with `wrangler secret put SESSION_KEYS` (or in .dev.vars)",
            )
        })?)?;
        let same_site = one_of(
            &var,
            COOKIE_SAMESITE,
            SameSite::from_name,
            SameSite::Lax,
            "Lax, Strict, None",
        )?;

        let assertion = assertion_section(&var, &keys)?;
        let affinity = affinity_section(&var, &origins, &keys, same_site)?;
        let tokens = tokens_section(&var, keys, same_site)?;
        if Some(tokens.cookie.name()) == affinity_cookie(&affinity.config) {
            // One cookie for both: each answer would replace the other's value.
            return Err(ConfigError::new(
                SESSION_COOKIE,
                "must differ from AFFINITY_COOKIE",
            ));
        }
        let max_request_header_bytes =
            number(&var, MAX_REQUEST_HEADER_BYTES, 16_384, 1_024, 131_072)?;
        let store = store_section(
            &var,
            same_site,
            &tokens,
            &affinity.config,
            max_request_header_bytes,
        )?;
        let health = health_section(&var)?;
        let dbsc = dbsc_section(&var, same_site, &tokens, &affinity.config, store.as_ref())?;
        let dbsc_built = match &dbsc {
            Some(settings) => Some(super::dbsc::Dbsc::new(
                settings.clone(),
                &tokens.config.keys,
                tokens.config.max_lifetime(),
            )?),
            None => None,
        };

        let operator_token = var(OPERATOR_TOKEN);
        let assertion_keys = assertion.as_ref().map_or(&[][..], |a| &a.keys[..]);
        // Whether `text` is a signing secret, or an assertion key's private `d`: compared as
        // the bytes it decodes to, so that no other spelling the keys accept (padded, as
        // `openssl rand -base64 32` prints it, or in the standard alphabet) passes; or holds
        // one as it is written (a cookie name `__Host-<secret>`).
        let signing_secret = |text: &str| {
            let bytes = |text: &str| Secret::from_base64(text).ok().map(|s| s.expose().to_vec());
            let presented = bytes(text);
            (tokens.config.keys.iter().map(|k| &k.secret))
                .chain([&affinity.config.secret])
                .chain(&affinity.config.previous_secrets)
                .any(|s| text.contains(s.trim()) || (presented.is_some() && bytes(s) == presented))
                || (assertion_keys.iter())
                    .any(|k| presented.as_deref() == Some(&k.private_bytes()[..]))
        };
        if let Some(token) = &operator_token {
            // No comma: the runtime joins two Authorization headers with `, `, and the token is
            // found among them by cutting there (it must never reach an origin).
            if token.len() < MIN_OPERATOR_TOKEN_BYTES
                || !token.bytes().all(|b| b.is_ascii_graphic() && b != b',')
            {
                return Err(ConfigError::new(
                    OPERATOR_TOKEN,
                    format!("must be at least {MIN_OPERATOR_TOKEN_BYTES} visible ASCII characters but a comma (or unset to disable /__edge/)"),
                ));
            }
            // The token goes to whatever watches /__edge/health: a signing secret as the token
            // would let its holder sign sessions and affinity values.
            if signing_secret(token) {
                return Err(ConfigError::new(
                    OPERATOR_TOKEN,
                    "must not be a secret of SESSION_KEYS, AFFINITY_SECRET or \
                     AFFINITY_PREVIOUS_SECRETS: whoever holds the token could sign sessions",
                ));
            }
        }
        // What the gateway shows is never one of its secrets, the operator token included.
        let secret = |text: &str| signing_secret(text) || operator_token.as_deref() == Some(text);
        // A key id travels in every session cookie (a JWT's kid header), an ORIGIN_ASSERTION_KEY
        // kid in the public /.well-known/jwks.json.
        let kids = assertion_keys.iter().map(AssertionKey::kid);
        if (tokens.config.keys.iter().map(|k| k.id.as_str()))
            .chain(kids)
            .any(secret)
        {
            return Err(ConfigError::new(
                SESSION_KEYS,
                "a key id (or ORIGIN_ASSERTION_KEY kid) is a secret: ids are public",
            ));
        }
        // So is each name and claim below: every visitor sees them (a cookie's name, the URL
        // parameter, a session JWT's `iss` and `aud`), or an origin's logs do.
        if let Some(setting) = PUBLIC
            .into_iter()
            .find(|name| var(name).is_some_and(|v| secret(&v)))
        {
            return Err(ConfigError::new(
                setting,
                "is a secret (of SESSION_KEYS, AFFINITY_SECRET, AFFINITY_PREVIOUS_SECRETS, \
                 ORIGIN_ASSERTION_KEY or OPERATOR_TOKEN): its value is public",
            ));
        }
        let directive_nonce = match var(DIRECTIVE_NONCE).as_deref() {
            None | Some("off") => false,
            Some("on") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    DIRECTIVE_NONCE,
                    format!("{} is not one of on, off", Quoted(configured(other))),
                ))
            }
        };

        Ok(GatewayConfig {
            origins,
            affinity: affinity.config,
            tokens: tokens.config,
            session_format: tokens.format,
            session_jwt: tokens.jwt,
            session_cookie: tokens.cookie,
            health_path: health.path,
            health_failures: health.failures,
            down_seconds: health.down_seconds,
            health_max_age: health.max_age,
            health_cache_seconds: health.cache_seconds,
            probe_timeout_ms: health.probe_timeout_ms,
            origin_timeout_ms: health.origin_timeout_ms,
            operator_token: operator_token.map(OperatorToken),
            directive_nonce,
            max_request_header_bytes: max_request_header_bytes as usize,
            store,
            assertion,
            dbsc,
            built: Built {
                tokens: tokens.codec,
                other_formats: tokens.other_formats,
                affinity: affinity.router,
                dbsc: dbsc_built,
            },
        })
    }

    /// The affinity router's settings.
    pub fn affinity(&self) -> &AffinityConfig {
        &self.affinity
    }

    /// The session tokens' settings (keys from `SESSION_KEYS`).
    pub fn tokens(&self) -> &TokenConfig {
        &self.tokens
    }

    /// How the session cookie is encoded (`SESSION_FORMAT`).
    pub fn session_format(&self) -> SessionFormat {
        self.session_format
    }

    /// The issuer and audience of JWT sessions (`SESSION_JWT_*`).
    pub fn session_jwt(&self) -> &JwtBinding {
        &self.session_jwt
    }

    /// The names of the cookies the gateway sets: the session cookie, the affinity cookie
    /// (cookie mode), the session-id cookie (`STORE` on), the bound and key cookies (`DBSC`
    /// on). An origin's `Set-Cookie` of one of them never reaches the client, nor the browser's
    /// copy the origin (see [`super::headers::is_gateway_cookie`]).
    pub fn gateway_cookies(&self) -> Vec<&str> {
        let mut names = vec![self.session_cookie.name()];
        names.extend(affinity_cookie(&self.affinity));
        names.extend(self.store.iter().map(|s| s.cookie.name()));
        if let Some(d) = &self.dbsc {
            names.extend([d.bound_cookie.name(), d.key_cookie.name()]);
        }
        names
    }
}

/// The signed assertions' settings (`ORIGIN_ASSERTION*`).
#[derive(Clone, Debug)]
pub struct AssertionSettings {
    /// `EdDSA` or `ES256`.
    pub alg: Alg,
    /// The private keys, the signing one first: one per `SESSION_KEYS` key (same `kid`), or
    /// those of `ORIGIN_ASSERTION_KEY`. Their `Debug` shows no private part.
    pub keys: Vec<AssertionKey>,
    /// The `iss` (`ORIGIN_ASSERTION_ISSUER`); `None`: each request's own origin.
    pub issuer: Option<String>,
}

fn assertion_section(
    var: &impl Fn(&str) -> Option<String>,
    session_keys: &[KeyConfig],
) -> Result<Option<AssertionSettings>, ConfigError> {
    let alg = match var(ORIGIN_ASSERTION).as_deref() {
        None | Some("off") => return Ok(None),
        Some(text) => Alg::parse(text).ok_or_else(|| {
            ConfigError::new(
                ORIGIN_ASSERTION,
                format!(
                    "{} is not one of off, EdDSA, ES256",
                    Quoted(configured(text))
                ),
            )
        })?,
    };
    let keys = match var(ORIGIN_ASSERTION_KEY) {
        Some(text) => {
            let list: Vec<String> = if text.starts_with('[') {
                let values: Vec<Value> = serde_json::from_str(&text).map_err(|_| {
                    ConfigError::new(ORIGIN_ASSERTION_KEY, "not a JSON list of private JWKs")
                })?;
                values.iter().map(Value::to_string).collect()
            } else {
                vec![text]
            };
            let keys = list
                .iter()
                .map(|jwk| AssertionKey::from_jwk(jwk, alg, ORIGIN_ASSERTION_KEY))
                .collect::<Result<Vec<_>, Error>>()
                .map_err(|e| ConfigError::new(ORIGIN_ASSERTION_KEY, e.detail()))?;
            if keys.is_empty() {
                return Err(ConfigError::new(ORIGIN_ASSERTION_KEY, "an empty list"));
            }
            let keys = crate::token::assertion::distinct_kids(keys, ORIGIN_ASSERTION_KEY)
                .map_err(|e| ConfigError::new(ORIGIN_ASSERTION_KEY, e.detail()))?;
            let secrets: Vec<Secret> = (session_keys.iter())
                .filter_map(|k| Secret::from_base64(&k.secret).ok())
                .collect();
            for key in &keys {
                let what = format!("the private key {}", Quoted(key.kid()));
                if let Some(why) = weak_bytes(key.private_bytes()) {
                    return Err(weak(ORIGIN_ASSERTION_KEY, &what, why));
                }
                // Its holder (the key may live in an origin's tooling too) could sign sessions.
                if secrets
                    .iter()
                    .any(|s| s.expose() == &key.private_bytes()[..])
                {
                    return Err(ConfigError::new(
                        ORIGIN_ASSERTION_KEY,
                        format!("{what} is a secret of SESSION_KEYS: give each its own bytes"),
                    ));
                }
            }
            keys
        }
        None => {
            let ring = KeyRing::from_config(session_keys)
                .map_err(|e| ConfigError::new(SESSION_KEYS, e.detail()))?;
            AssertionKey::derive_all(&ring, alg)
        }
    };
    let issuer = match var(ORIGIN_ASSERTION_ISSUER) {
        None => None,
        Some(iss) => {
            // An origin: a base url ORIGINS would take (a host, an optional port from 1 to
            // 65535, no user info, backslash, query or fragment) without a path.
            let (_, rest) = iss.split_once("://").unwrap_or_default();
            if rest.contains('/') || check_url(&iss).is_err() {
                return Err(ConfigError::new(
                    ORIGIN_ASSERTION_ISSUER,
                    "must be an origin: https://host[:port], no path",
                ));
            }
            Some(iss)
        }
    };
    Ok(Some(AssertionSettings { alg, keys, issuer }))
}

/// A finite number written as Rust's `str::parse::<f64>` reads it (an optional sign, digits with
/// an optional `.`, an optional exponent; not `inf` or `NaN`, which no setting here takes), read
/// by serde_json's parser (correctly rounded, as `float_roundtrip` makes it) once rewritten in
/// JSON's grammar (no `+`, no leading zeros, a digit on each side of the `.`). Core's own float
/// parser would add about 13 KB of gzipped wasm to the gateway for this one setting.
fn decimal(text: &str) -> Option<f64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (rest, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    let mut json = String::from(if negative { "-" } else { "" });
    let int = int.trim_start_matches('0');
    json.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        json.push('.');
        json.push_str(frac);
    }
    if let Some(e) = exponent {
        let power = e.strip_prefix(['+', '-']).unwrap_or(e);
        if power.is_empty() || !digits(power) {
            return None;
        }
        json.push('e');
        json.push_str(e);
    }
    serde_json::from_str(&json).ok()
}

/// The `AFFINITY_*` settings, checked by building the router they configure (once: the
/// gateway runs that router).
struct AffinitySection {
    config: AffinityConfig,
    /// Built from `config`, the draining origins marked.
    router: Affinity,
}

fn affinity_section(
    var: &impl Fn(&str) -> Option<String>,
    origins: &[Origin],
    keys: &[KeyConfig],
    same_site: SameSite,
) -> Result<AffinitySection, ConfigError> {
    let mode = one_of(
        var,
        AFFINITY_MODE,
        Mode::from_name,
        Mode::Cookie,
        "cookie, url, ip, header",
    )?;
    // Read only in the mode that uses it, as the worker's warning at start-up says it is.
    let header = var(AFFINITY_HEADER).filter(|_| mode == Mode::Header);
    if mode == Mode::Header && header.is_none() {
        return Err(missing(
            AFFINITY_HEADER,
            "the header name that header mode routes by",
        ));
    }
    // The gateway removes these from requests as a client can forge them (the one predicate):
    // routed by, they would be the client's copy.
    if let Some(name) = header.as_deref() {
        if name.eq_ignore_ascii_case("cookie") {
            return Err(ConfigError::new(
                AFFINITY_HEADER,
                "Cookie holds the gateway's own cookies, which change at a login and at each \
                 refresh: header mode would move visitors (cookie affinity: AFFINITY_MODE = \
                 \"cookie\")",
            ));
        }
        if super::headers::is_reserved(name, true) {
            return Err(ConfigError::new(
                AFFINITY_HEADER,
                format!(
                    "{} is a header the gateway removes from requests (a client can forge it): \
                     header mode would route by the client's copy (for the client's address: \
                     AFFINITY_MODE = \"ip\")",
                    // Reserved: a header name the gateway knows, never a secret.
                    Quoted(name)
                ),
            ));
        }
    }
    let failover = one_of(
        var,
        AFFINITY_FAILOVER,
        Failover::from_name,
        Failover::Sticky,
        "sticky, strict",
    )?;
    let explicit_secret = var(AFFINITY_SECRET);
    let explicit = explicit_secret.is_some();
    let fields = affinity_fields(explicit);
    let (secret, previous_secrets) = match explicit_secret {
        Some(s) => {
            let previous = match var(AFFINITY_PREVIOUS_SECRETS) {
                None => Vec::new(),
                Some(text) => serde_json::from_str::<Vec<String>>(&text).map_err(|_| {
                    ConfigError::new(
                        AFFINITY_PREVIOUS_SECRETS,
                        "expected a JSON list of base64url secrets",
                    )
                })?,
            };
            (s, previous)
        }
        // Read only beside AFFINITY_SECRET: alone it would be ignored, and the values its
        // secrets signed sent to new origins without a word.
        None if var(AFFINITY_PREVIOUS_SECRETS).is_some() => {
            return Err(ConfigError::new(
                AFFINITY_PREVIOUS_SECRETS,
                "set without AFFINITY_SECRET: without it the affinity values are keyed from \
                 SESSION_KEYS, whose older keys are the previous secrets",
            ))
        }
        None => {
            // `parse_keys` refuses an empty list.
            let (first, rest) = keys
                .split_first()
                .ok_or_else(|| ConfigError::new(SESSION_KEYS, "at least one key is required"))?;
            // The newest previous keys the router takes: an older key's affinity values are
            // new assignments (a ring of ten keys would otherwise refuse to start).
            let previous = rest
                .iter()
                .take(crate::affinity::router::MAX_PREVIOUS_SECRETS);
            (
                first.secret.clone(),
                previous.map(|k| k.secret.clone()).collect(),
            )
        }
    };
    let mut config = AffinityConfig::new(
        secret,
        origins
            .iter()
            .map(|o| BackendConfig::weighted(o.id.clone(), o.weight))
            .collect(),
    );
    config.previous_secrets = previous_secrets;
    config.mode = mode;
    config.failover = failover;
    config.header = header;
    config.same_site = same_site;
    // Read in the modes that use them, and ignored in the others (as the worker's warning at
    // start-up says): only a value given out, a cookie or a URL's, has a lifetime, only cookie
    // mode a cookie and only URL mode a parameter.
    if matches!(mode, Mode::Cookie | Mode::Url) {
        config.ttl_seconds = number(
            var,
            AFFINITY_TTL_SECONDS,
            config.ttl_seconds,
            1,
            u32::MAX.into(),
        )?;
        // Unset, the router's default: 1800 s or the lifetime when shorter.
        let idle = number(
            var,
            AFFINITY_IDLE_SECONDS,
            config.idle(),
            1,
            u32::MAX.into(),
        )?;
        if idle > config.ttl_seconds {
            return Err(ConfigError::new(
                AFFINITY_IDLE_SECONDS,
                format!(
                    "{idle} is longer than AFFINITY_TTL_SECONDS, {}",
                    config.ttl_seconds
                ),
            ));
        }
        config.idle_seconds = Some(idle);
    }
    if let Some(name) = var(AFFINITY_COOKIE).filter(|_| mode == Mode::Cookie) {
        config.cookie_name = name;
    }
    config.param = var(AFFINITY_PARAM)
        .filter(|_| mode == Mode::Url)
        .unwrap_or_else(|| DEFAULT_AFFINITY_PARAM.to_owned());
    // The router checks the rest (secret length, ids, weights, idle <= ttl, cookie name).
    let mut router = Affinity::new(config.clone()).map_err(|e| in_section(e, &fields, ORIGINS))?;
    if explicit {
        let previous = config.previous_secrets.iter();
        let named = [(AFFINITY_SECRET, &config.secret)].into_iter();
        for (setting, secret) in named.chain(previous.map(|s| (AFFINITY_PREVIOUS_SECRETS, s))) {
            if let Some(why) = weak_secret(secret) {
                return Err(weak(setting, "a secret", why));
            }
        }
    }
    for o in origins.iter().filter(|o| o.draining) {
        router
            .set_draining(&o.id, true)
            .map_err(|e| in_section(e, &fields, ORIGINS))?;
    }
    Ok(AffinitySection { config, router })
}

/// The `SESSION_*` settings, checked by building the codec they configure (once: the gateway
/// runs that codec).
struct TokensSection {
    config: TokenConfig,
    format: SessionFormat,
    jwt: JwtBinding,
    cookie: SetCookie,
    codec: SessionCodec,
    other_formats: Vec<SessionCodec>,
}

fn tokens_section(
    var: &impl Fn(&str) -> Option<String>,
    keys: Vec<KeyConfig>,
    same_site: SameSite,
) -> Result<TokensSection, ConfigError> {
    let format = match var(SESSION_FORMAT).as_deref() {
        None | Some("compact") => SessionFormat::Compact,
        Some("sealed") => SessionFormat::Sealed,
        Some("jwt") => SessionFormat::Jwt,
        Some(other) => {
            return Err(ConfigError::new(
                SESSION_FORMAT,
                format!(
                    "{} is not one of compact, sealed, jwt",
                    Quoted(configured(other))
                ),
            ))
        }
    };
    let jwt = JwtBinding {
        issuer: var(SESSION_JWT_ISSUER),
        audience: var(SESSION_JWT_AUDIENCE),
    };
    for (setting, value) in [
        (SESSION_JWT_ISSUER, &jwt.issuer),
        (SESSION_JWT_AUDIENCE, &jwt.audience),
    ] {
        if value.is_some() && format != SessionFormat::Jwt {
            return Err(ConfigError::new(
                setting,
                "applies to SESSION_FORMAT = \"jwt\" only",
            ));
        }
        // Taken as it is written: a JSON list or a quoted text would be signed, and required,
        // as that very text (`"[\"api\",\"web\"]"`), refusing every other system's JWT.
        if value
            .as_deref()
            .is_some_and(|v| v.starts_with(['"', '\'', '[']) || v.contains(','))
        {
            return Err(ConfigError::new(
                setting,
                "is one name, written without quotes, brackets or commas",
            ));
        }
    }
    let mut config = TokenConfig::new(keys);
    config.ttl_seconds = number(
        var,
        SESSION_TTL_SECONDS,
        config.ttl_seconds,
        1,
        u32::MAX.into(),
    )?;
    config.leeway_seconds = number(
        var,
        SESSION_LEEWAY_SECONDS,
        config.leeway_seconds,
        0,
        crate::time::MAX_LEEWAY,
    )?;
    if let Some(text) = var(SESSION_REFRESH_AFTER) {
        config.refresh_after = decimal(&text)
            .filter(|f| (0.0..=1.0).contains(f))
            .ok_or_else(|| {
                ConfigError::new(
                    SESSION_REFRESH_AFTER,
                    format!("{} is not a number from 0 to 1", Quoted(configured(&text))),
                )
            })?;
    }
    if var(SESSION_MAX_LIFETIME_SECONDS).is_some() {
        let longest = number(var, SESSION_MAX_LIFETIME_SECONDS, 0, 1, u32::MAX.into())?;
        if longest < config.ttl_seconds {
            return Err(ConfigError::new(
                SESSION_MAX_LIFETIME_SECONDS,
                format!(
                    "{longest} is shorter than SESSION_TTL_SECONDS, {}",
                    config.ttl_seconds
                ),
            ));
        }
        config.max_lifetime_seconds = Some(longest);
    }
    let codec = SessionCodec::new(format, config.clone())
        .map_err(|e| in_section(e, &TOKEN_FIELDS, SESSION_KEYS))?
        .with_jwt_binding(jwt.clone());
    let other_formats = SessionCodec::others(format, &config)
        .map_err(|e| in_section(e, &TOKEN_FIELDS, SESSION_KEYS))?;

    let cookie_name = var(SESSION_COOKIE).unwrap_or_else(|| "__Host-session".to_owned());
    let cookie = SetCookie::new(cookie_name).same_site(Some(same_site));
    cookie
        .check()
        .map_err(|e| ConfigError::new(SESSION_COOKIE, e.detail()))?;
    Ok(TokensSection {
        config,
        format,
        jwt,
        cookie,
        codec,
        other_formats,
    })
}

/// The `STORE_*` settings; `None` when the store is off.
fn store_section(
    var: &impl Fn(&str) -> Option<String>,
    same_site: SameSite,
    tokens: &TokensSection,
    affinity: &AffinityConfig,
    max_request_header_bytes: u64,
) -> Result<Option<StoreSettings>, ConfigError> {
    let kind = match var(STORE).as_deref() {
        None | Some("none") => return Ok(None),
        Some("kv") => StoreKind::Kv,
        Some("durable") => StoreKind::Durable,
        Some(other) => {
            return Err(ConfigError::new(
                STORE,
                format!(
                    "{} is not one of none, kv, durable",
                    Quoted(configured(other))
                ),
            ))
        }
    };
    let name = var(STORE_COOKIE).unwrap_or_else(|| "__Host-sid".to_owned());
    if name == tokens.cookie.name() || Some(name.as_str()) == affinity_cookie(affinity) {
        return Err(ConfigError::new(
            STORE_COOKIE,
            "must differ from SESSION_COOKIE and AFFINITY_COOKIE",
        ));
    }
    let cookie = SetCookie::new(name).same_site(Some(same_site));
    cookie
        .check()
        .map_err(|e| ConfigError::new(STORE_COOKIE, e.detail()))?;
    let max = crate::store::MAX_TIMEOUT_SECONDS;
    let idle = number(var, STORE_IDLE_SECONDS, 1800, 2, max)?;
    // Unset, the store's defaults for this idle timeout.
    let defaults = SessionConfig {
        idle_timeout_seconds: idle,
        ..SessionConfig::default()
    };
    // The data go to the origin in every request's headers (`x-session-data`): data that left
    // the request no room under MAX_REQUEST_HEADER_BYTES made each of the visitor's requests a
    // 431, its logout too, until the session timed out. Half is the data's.
    let most = (max_request_header_bytes / 2).min(16_384);
    let sessions = SessionConfig {
        absolute_timeout_seconds: Some(number(
            var,
            STORE_ABSOLUTE_SECONDS,
            defaults.absolute_timeout(),
            idle,
            max,
        )?),
        touch_interval_seconds: Some(number(
            var,
            STORE_TOUCH_SECONDS,
            defaults.touch_interval(),
            1,
            idle - 1,
        )?),
        max_data_bytes: number(var, STORE_MAX_DATA_BYTES, most.min(4096), 2, most)? as usize,
        purpose: "gateway".into(),
        ..defaults
    };
    Ok(Some(StoreSettings {
        kind,
        cookie,
        sessions,
        timeout_ms: number(var, STORE_TIMEOUT_MS, 3_000, 1, 60_000)? as u32,
        tests: var(STORE_TESTS).as_deref() == Some("1"),
        revocation_keep_seconds: tokens.config.max_lifetime() + tokens.config.leeway_seconds,
        most_data_bytes: most as usize,
    }))
}

/// Device-bound sessions' settings (`DBSC*`).
#[derive(Clone, Debug)]
pub struct DbscSettings {
    /// Lifetime of a bound cookie, seconds (`DBSC_BOUND_SECONDS`).
    pub bound_seconds: u64,
    /// The bound cookie (`DBSC_COOKIE`): `Path=/`, Secure, HttpOnly, the `SameSite` of
    /// `COOKIE_SAMESITE`; it lives `bound_seconds`.
    pub bound_cookie: SetCookie,
    /// The key cookie: the device's public key, sealed, seen only by the DBSC endpoints
    /// (`Path=/__edge/dbsc/`, Secure, HttpOnly, `SameSite=Strict`); it lives as long as the
    /// session. Its name comes from the session cookie's: `__Host-session` gives
    /// `__Secure-session-key`.
    pub key_cookie: SetCookie,
}

/// The default bound cookie's name.
pub const DEFAULT_DBSC_COOKIE: &str = "__Host-session-bound";

/// The path of the DBSC endpoints, which the key cookie is scoped to.
pub const DBSC_PATH: &str = "/__edge/dbsc/";

/// The key cookie's name for a session cookie's: `__Secure-`, the name without its `__Host-`
/// or `__Secure-` prefix, `-key`.
pub fn key_cookie_name(session_cookie: &str) -> String {
    let base = ["__Host-", "__Secure-"]
        .iter()
        .find_map(|p| {
            session_cookie
                .get(..p.len())
                .filter(|head| head.eq_ignore_ascii_case(p))
                .map(|_| &session_cookie[p.len()..])
        })
        .unwrap_or(session_cookie);
    format!("__Secure-{base}-key")
}

/// The `DBSC*` settings; `None` when DBSC is off.
fn dbsc_section(
    var: &impl Fn(&str) -> Option<String>,
    same_site: SameSite,
    tokens: &TokensSection,
    affinity: &AffinityConfig,
    store: Option<&StoreSettings>,
) -> Result<Option<DbscSettings>, ConfigError> {
    match var(DBSC).as_deref() {
        // The other DBSC settings may stay when DBSC is turned off: they are not read.
        None | Some("off") => return Ok(None),
        Some("on") => {}
        Some(other) => {
            return Err(ConfigError::new(
                DBSC,
                format!("{} is not one of off, on", Quoted(configured(other))),
            ))
        }
    }
    let bound_seconds = number(
        var,
        DBSC_BOUND_SECONDS,
        crate::dbsc::DEFAULT_BOUND_SECONDS,
        crate::dbsc::MIN_BOUND_SECONDS,
        crate::dbsc::MAX_BOUND_SECONDS,
    )?;
    let session = tokens.cookie.name();
    let mut taken = vec![session];
    taken.extend(affinity_cookie(affinity));
    taken.extend(store.map(|s| s.cookie.name()));
    let bound_name = var(DBSC_COOKIE).unwrap_or_else(|| DEFAULT_DBSC_COOKIE.to_owned());
    let key_name = key_cookie_name(session);
    if taken.contains(&bound_name.as_str()) || bound_name == key_name {
        return Err(ConfigError::new(
            DBSC_COOKIE,
            format!(
                "must differ from SESSION_COOKIE, AFFINITY_COOKIE, STORE_COOKIE and the key cookie {}",
                Quoted(configured(&key_name))
            ),
        ));
    }
    if taken.contains(&key_name.as_str()) {
        return Err(ConfigError::new(
            SESSION_COOKIE,
            format!(
                "its DBSC key cookie {} is the name of another cookie of the gateway",
                Quoted(configured(&key_name))
            ),
        ));
    }
    let bound_cookie = SetCookie::new(bound_name).same_site(Some(same_site));
    bound_cookie
        .check()
        .map_err(|e| ConfigError::new(DBSC_COOKIE, e.detail()))?;
    let key_cookie = SetCookie::new(key_name)
        .path(Some(DBSC_PATH))
        .same_site(Some(SameSite::Strict));
    key_cookie
        .check()
        .map_err(|e| ConfigError::new(SESSION_COOKIE, e.detail()))?;
    Ok(Some(DbscSettings {
        bound_seconds,
        bound_cookie,
        key_cookie,
    }))
}

/// The longest `ORIGIN_TIMEOUT_MS`, milliseconds: the platform ends a request whose origin has
/// not answered in about 100 seconds anyway.
pub const MAX_ORIGIN_TIMEOUT_MS: u64 = 100_000;

/// The `HEALTH_*` settings, `PROBE_TIMEOUT_MS` and `ORIGIN_TIMEOUT_MS`.
struct HealthSection {
    path: String,
    failures: u32,
    down_seconds: u64,
    max_age: u64,
    cache_seconds: u64,
    probe_timeout_ms: u64,
    origin_timeout_ms: Option<u32>,
}

fn health_section(var: &impl Fn(&str) -> Option<String>) -> Result<HealthSection, ConfigError> {
    let path = var(HEALTH_PATH).unwrap_or_else(|| "/health".to_owned());
    // Probed at `{url}{path}`: a dot segment or a backslash (a `/` to the URL parser) would
    // probe outside the origin's base path.
    if !path.starts_with('/')
        || !path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        || has_dot_segment(&path)
    {
        return Err(ConfigError::new(
            HEALTH_PATH,
            "must start with / and hold no spaces, control characters, backslash or . or .. \
             segment",
        ));
    }
    // Two cron runs at least (one a minute at most): a result is rewritten once half this old,
    // and one younger than a run's interval was ignored for most of each minute, and written at
    // every run (1,440 writes a day, over the free plan's 1,000).
    let max_age = number(var, HEALTH_MAX_AGE_SECONDS, 300, 120, 86_400 * 7)?;
    let cache_seconds = number(var, HEALTH_CACHE_SECONDS, 10, 0, 3_600)?;
    // The cron rewrites the shared result once it is half HEALTH_MAX_AGE_SECONDS old, so a read
    // may find it that old: read less often, it grows stale before the next read, and the
    // probes' findings are ignored in between (an origin they found down takes traffic).
    if cache_seconds > max_age / 2 {
        return Err(ConfigError::new(
            HEALTH_CACHE_SECONDS,
            format!(
                "{cache_seconds} is more than half of HEALTH_MAX_AGE_SECONDS ({max_age}): the \
                 shared health result would grow stale between reads and be ignored"
            ),
        ));
    }
    Ok(HealthSection {
        path,
        failures: number(var, HEALTH_FAILURES, 3, 1, 100)? as u32,
        down_seconds: number(var, HEALTH_DOWN_SECONDS, 30, 1, 86_400)?,
        max_age,
        cache_seconds,
        probe_timeout_ms: number(var, PROBE_TIMEOUT_MS, 3_000, 1, 60_000)?,
        origin_timeout_ms: match var(ORIGIN_TIMEOUT_MS) {
            None => None,
            Some(_) => Some(number(var, ORIGIN_TIMEOUT_MS, 0, 1, MAX_ORIGIN_TIMEOUT_MS)? as u32),
        },
    })
}

/// The gateway setting behind each field of the session tokens' configuration (the core names
/// the field at fault in [`Error::setting`]); `SESSION_KEYS` for any other.
const TOKEN_FIELDS: [(&str, &str); 5] = [
    ("keys", SESSION_KEYS),
    ("ttlSeconds", SESSION_TTL_SECONDS),
    ("leewaySeconds", SESSION_LEEWAY_SECONDS),
    ("refreshAfter", SESSION_REFRESH_AFTER),
    ("maxLifetimeSeconds", SESSION_MAX_LIFETIME_SECONDS),
];

/// The gateway setting behind each field of the affinity router's configuration; `ORIGINS`
/// (which gives the backends) for any other. The secrets come from `AFFINITY_SECRET` and
/// `AFFINITY_PREVIOUS_SECRETS` when `explicit_secret`, else from `SESSION_KEYS`.
fn affinity_fields(explicit_secret: bool) -> [(&'static str, &'static str); 9] {
    let (secret, previous) = if explicit_secret {
        (AFFINITY_SECRET, AFFINITY_PREVIOUS_SECRETS)
    } else {
        (SESSION_KEYS, SESSION_KEYS)
    };
    [
        ("secret", secret),
        ("previousSecrets", previous),
        ("backends", ORIGINS),
        ("ttlSeconds", AFFINITY_TTL_SECONDS),
        ("idleSeconds", AFFINITY_IDLE_SECONDS),
        ("cookieName", AFFINITY_COOKIE),
        ("sameSite", COOKIE_SAMESITE),
        ("header", AFFINITY_HEADER),
        ("param", AFFINITY_PARAM),
    ]
}

/// A core error of one section as the gateway setting at fault: the error's field looked up in
/// the section's `fields`, else the section's `main` setting.
fn in_section(e: Error, fields: &[(&str, &'static str)], main: &'static str) -> ConfigError {
    let setting = e
        .setting()
        .and_then(|field| fields.iter().find(|(f, _)| *f == field))
        .map_or(main, |&(_, setting)| setting);
    ConfigError::new(setting, e.detail())
}

/// The affinity cookie's name in cookie mode, the one mode that sets it (`AFFINITY_COOKIE` is
/// not read in the others).
fn affinity_cookie(config: &AffinityConfig) -> Option<&str> {
    (config.mode == Mode::Cookie).then_some(config.cookie_name.as_str())
}

fn missing(setting: &'static str, what: &str) -> ConfigError {
    ConfigError::new(setting, format!("missing; expected {what}"))
}

/// A setting that names one of a few values (`choices`, read by `from_name`), or `default`
/// when unset.
fn one_of<T>(
    var: &impl Fn(&str) -> Option<String>,
    setting: &'static str,
    from_name: fn(&str) -> Option<T>,
    default: T,
    choices: &str,
) -> Result<T, ConfigError> {
    let Some(text) = var(setting) else {
        return Ok(default);
    };
    from_name(&text).ok_or_else(|| {
        ConfigError::new(
            setting,
            format!("{} is not one of {choices}", Quoted(configured(&text))),
        )
    })
}

/// A whole number setting within `min..=max`, or `default` when unset.
fn number(
    var: &impl Fn(&str) -> Option<String>,
    setting: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match var(setting) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    setting,
                    format!(
                        "{} is not a whole number from {min} to {max}",
                        Quoted(configured(&text))
                    ),
                )
            }),
    }
}

/// serde's message about the shape of a JSON setting (`ORIGINS`, `SESSION_KEYS`) when it quotes
/// no input (a string value) and no name longer than [`configured`] shows or holding a control
/// character (`missing field
/// \`url\``, `unknown field \`wieght\``); otherwise, and for JSON that is not valid, only where it
/// went wrong: serde quotes what it read (`invalid type: string "<secret>"`), and a secret may
/// be there or set under this name.
fn json_error(e: &serde_json::Error) -> String {
    if e.classify() != serde_json::error::Category::Data {
        return json_shape(e);
    }
    let text = e.to_string();
    // A `"`, more than MAX_SHOWN_BYTES between two backticks, or a control character (a name
    // that breaks the log line: a line feed, an escape sequence).
    let (mut quoted, mut run) = (false, None::<usize>);
    for c in text.chars() {
        match (c, run) {
            ('"', _) => quoted = true,
            (c, _) if crate::error::is_hidden(c) => quoted = true,
            ('`', Some(_)) => run = None,
            ('`', None) => run = Some(0),
            (c, Some(n)) => {
                quoted |= n >= MAX_SHOWN_BYTES;
                run = Some(n + c.len_utf8());
            }
            _ => {}
        }
    }
    if quoted {
        json_shape(e)
    } else {
        text
    }
}

fn parse_origins(text: &str) -> Result<Vec<Origin>, ConfigError> {
    let mut origins: Vec<Origin> = serde_json::from_str(text).map_err(|e| {
        ConfigError::new(
            ORIGINS,
            format!(
                "not a JSON list of {{\"id\", \"url\", \"weight\"}} objects: {}",
                json_error(&e)
            ),
        )
    })?;
    if origins.is_empty() {
        return Err(ConfigError::new(ORIGINS, "at least one origin is required"));
    }
    for o in &mut origins {
        o.url = check_url(&o.url).map_err(|why| {
            ConfigError::new(ORIGINS, format!("origin {}: url {why}", Quoted(&o.id)))
        })?;
    }
    // One server under two ids would take two shares, and draining one id would not drain it.
    if let Some((o, twin)) =
        first_twins(&origins).and_then(|(i, j)| Some((origins.get(i)?, origins.get(j)?)))
    {
        return Err(ConfigError::new(
            ORIGINS,
            format!(
                "origins {} and {} have the same url: list a server once (its weight gives \
                 it a larger share)",
                Quoted(&o.id),
                Quoted(&twin.id)
            ),
        ));
    }
    Ok(origins)
}

/// The first origin in order that has a twin (the same [`url_key`]) and its first twin, by
/// their indexes. Each key is made once and looked up in a table (open addressing on an FNV-1a
/// hash of it), where comparing each origin with every later one was half a million
/// comparisons at 1,024 origins, tens of ms of CPU; a table, not a map or a sort, for the wasm.
fn first_twins(origins: &[Origin]) -> Option<(usize, usize)> {
    let keys: Vec<String> = origins.iter().map(|o| url_key(&o.url)).collect();
    let hash = |key: &str| {
        (key.bytes()).fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    // Each slot: 0, or 1 + the index of the first origin of a key. At least twice as many
    // slots as keys: a free one is always found.
    let mut table = vec![0usize; (2 * keys.len()).next_power_of_two()];
    let mask = table.len().wrapping_sub(1);
    let mut repeat: Option<(usize, usize)> = None;
    for (j, key) in keys.iter().enumerate() {
        let mut slot = hash(key) as usize;
        while let Some(held) = table.get_mut(slot & mask) {
            let Some(i) = held.checked_sub(1) else {
                *held = j + 1;
                break;
            };
            if keys.get(i) == Some(key) {
                if repeat.is_none_or(|(r, _)| i < r) {
                    repeat = Some((i, j));
                }
                break;
            }
            slot = slot.wrapping_add(1);
        }
    }
    repeat
}

/// What two checked base URLs naming the same place have in common: the scheme, the authority
/// as fetch requests it ([`fetched_authority`]: `0x7f.1` is `127.0.0.1`, `:0080` and the
/// scheme's default port are none), the path.
fn url_key(url: &str) -> String {
    let (scheme, authority, path) = super::headers::split_url(url);
    format!("{scheme}://{}{path}", fetched_authority(scheme, authority))
}

/// The authority of a URL of scheme `scheme` (`http` or `https`) as the URL parser writes it, and
/// so as fetch sends it in `Host` (and as an origin writes its own address): lowercased, an IPv4
/// address in dotted decimal (`127.1` and `0x7f.1` are `127.0.0.1`), an IPv6 address in its
/// shortest form (`[::FFFF:127.0.0.1]` is `[::ffff:7f00:1]`), the port as a number, none when
/// it is the scheme's default. What is no host the parser takes is only lowercased.
pub(crate) fn fetched_authority(scheme: &str, authority: &str) -> String {
    let authority = authority.to_ascii_lowercase();
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority.as_str(), None),
    };
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let port = match port.map(|p| (p, p.parse::<u32>())) {
        None | Some(("", _)) => None,
        Some((_, Ok(n))) if n == default => None,
        Some((_, Ok(n))) => Some(n.to_string()),
        Some((p, Err(_))) => Some(p.to_owned()),
    };
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => {
            ipv6_pieces(v6).map_or_else(|| host.to_owned(), |p| format!("[{}]", ipv6_text(&p)))
        }
        None if ends_in_a_number(host) && is_ipv4(host) => ipv4_value(host).map_or_else(
            || host.to_owned(),
            |v| {
                let [a, b, c, d] = v.to_be_bytes();
                format!("{a}.{b}.{c}.{d}")
            },
        ),
        None => host.to_owned(),
    };
    match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// The address an IPv4 host ([`is_ipv4`]) stands for.
fn ipv4_value(host: &str) -> Option<u32> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let count = host.split('.').count();
    host.split('.').enumerate().try_fold(0u32, |v, (i, part)| {
        let n = u32::try_from(ipv4_number(part)?).ok()?;
        // Each part but the last is one byte, from the top; the last fills the bytes left.
        let shift = if i + 1 == count {
            0
        } else {
            8 * 3usize.checked_sub(i)?
        };
        Some(v | n.checked_shl(u32::try_from(shift).ok()?)?)
    })
}

/// The eight 16-bit pieces of an IPv6 host (between `[ ]`) the parser takes ([`is_ipv6`]).
fn ipv6_pieces(host: &str) -> Option<[u16; 8]> {
    let bytes = crate::affinity::router::ipv6_bytes(host)?;
    let mut pieces = [0u16; 8];
    for (piece, pair) in pieces.iter_mut().zip(bytes.chunks_exact(2)) {
        *piece = u16::from_be_bytes(<[u8; 2]>::try_from(pair).unwrap_or_default());
    }
    Some(pieces)
}

/// An IPv6 address as the URL parser writes it: lowercase hex without leading zeros, the first
/// longest run of two or more zero pieces written `::`.
fn ipv6_text(pieces: &[u16; 8]) -> String {
    let (mut best, mut run) = ((0, 0), (0, 0));
    for (i, p) in pieces.iter().enumerate() {
        run = if *p == 0 {
            (run.0, i + 1 - run.0)
        } else {
            (i + 1, 0)
        };
        if run.1 > best.1 {
            best = run;
        }
    }
    let mut out = String::new();
    let mut i = 0;
    while let Some(p) = pieces.get(i) {
        if best.1 > 1 && i == best.0 {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += best.1;
            continue;
        }
        out.push_str(&format!("{p:x}"));
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}

/// The base URL without its trailing `/`, or why it is refused: what would make every request's
/// `fetch` fail (a port out of range, a host the URL parser refuses) or go elsewhere than written
/// (a `.` or `..` path segment, which the URL parser resolves) is refused here, at start.
fn check_url(url: &str) -> Result<String, &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() || authority.contains('@') {
        return Err("must name a host (and no user info)");
    }
    // A backslash is a `/` to the URL parser: `/app\..\admin` would be `/admin`.
    if !url.bytes().all(|b| b.is_ascii_graphic()) || url.contains(['?', '#', '\\']) {
        return Err("must hold no spaces, control characters, backslash, query or fragment");
    }
    // `[v6]:port` or `name:port`; the name without the code points the URL parser refuses in a
    // host (`%`, `\`, `<`, `>`, `^`, `|`, `[`, `]`) and, when its last label is a number, an
    // IPv4 address the parser takes; an IPv6 address the parser takes (`is_ipv6`).
    let (host, port, allowed): (&str, _, fn(&str) -> bool) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or("has an unclosed [")?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or("must name a host (and no user info)")?,
                ),
            };
            (host, port, is_ipv6)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            (host, port, |h| {
                h.bytes().all(|b| !b"%\\<>^|[]".contains(&b))
                    && (!ends_in_a_number(h) || is_ipv4(h))
            })
        }
    };
    if host.is_empty() || !allowed(host) {
        return Err(
            "must name a host the URL parser takes (no % \\ < > ^ |, an IPv4 address of numbers \
             0 to 255, IPv6 in [ ])",
        );
    }
    if let Some(port) = port {
        let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        if !digits || !port.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err("has a port that is not a number from 1 to 65535");
        }
    }
    if has_dot_segment(path) {
        return Err("must hold no . or .. path segment");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Whether `path` (before any `?` or `#`) has a `.` or `..` segment in any form
/// ([`super::headers::has_dot_segment`]): the request would leave the path written.
fn has_dot_segment(path: &str) -> bool {
    super::headers::has_dot_segment(path.split(['?', '#']).next().unwrap_or_default())
}

/// Whether the URL parser reads `host` as an IPv4 address (the URL standard's "ends in a
/// number"): its last label, a trailing `.` aside, is digits or a number of [`ipv4_number`].
fn ends_in_a_number(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or_default();
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())) || ipv4_number(last).is_some()
}

/// Whether the URL parser takes `host` as an IPv4 address: 1 to 4 numbers (a trailing `.`
/// aside), each but the last at most 255, the last filling the bytes left (`10.1` is 10.0.0.1).
fn is_ipv4(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let count = host.split('.').count();
    count <= 4
        && host.split('.').enumerate().all(|(i, part)| {
            let limit = if i + 1 == count {
                1 << (8 * (5 - count))
            } else {
                256
            };
            ipv4_number(part).is_some_and(|n| n < limit)
        })
}

/// Whether the URL parser takes `host` (between `[ ]`) as an IPv6 address: what std's
/// `Ipv6Addr` parser takes ([`crate::affinity::router::ipv6_bytes`], which the router reads
/// client addresses with).
fn is_ipv6(host: &str) -> bool {
    crate::affinity::router::ipv6_bytes(host).is_some()
}

/// A part of an IPv4 address as the URL parser reads it: decimal, octal after a leading `0`,
/// hexadecimal after `0x` (`0x` alone is 0); `None` for an empty part or a digit out of its base.
/// Too large a number saturates (and is then out of range).
fn ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) = match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        // `0` alone is octal with no digits: 0 all the same.
        None => part.strip_prefix('0').map_or((part, 10), |oct| (oct, 8)),
    };
    digits.chars().try_fold(0u64, |n, c| {
        Some(
            n.saturating_mul(radix.into())
                .saturating_add(c.to_digit(radix)?.into()),
        )
    })
}

fn parse_keys(text: &str) -> Result<Vec<KeyConfig>, ConfigError> {
    let keys: Vec<KeyConfig> = serde_json::from_str(text).map_err(|e| {
        ConfigError::new(
            SESSION_KEYS,
            format!(
                "expected a JSON list of {{\"id\", \"secret\"}} objects: {}",
                json_error(&e)
            ),
        )
    })?;
    // The ring's rules (ids, secrets, each once) before any section reads the keys: the
    // affinity router's previous secrets are the others, and would name them otherwise.
    KeyRing::from_config(&keys).map_err(|e| ConfigError::new(SESSION_KEYS, e.detail()))?;
    for key in &keys {
        if let Some(why) = weak_secret(&key.secret) {
            return Err(weak(
                SESSION_KEYS,
                &format!("the secret of key {}", Quoted(&key.id)),
                why,
            ));
        }
    }
    Ok(keys)
}

/// Why `text`, a secret as the operator wrote it, looks chosen by a person rather than drawn at
/// random, if it does. Whoever holds one session cookie, or an anonymous visitor's affinity
/// cookie, can test guesses at the secret offline, one HMAC each: a passphrase (taken for
/// base64, or encoded in it) falls to a dictionary in seconds. A heuristic: it catches the
/// common mistakes (a lower-case phrase, base64 of text, a byte repeated), not every secret a
/// person made up (`CorrectHorseBatteryStaple...` passes). Random bytes fail it by chance less
/// than once in 10^9 (32 bytes: letters of one case, about 4 in 10^10; text, 2 in 10^11).
fn weak_secret(text: &str) -> Option<&'static str> {
    let text = text.trim().trim_end_matches('=');
    // Hex of 22 bytes or more (`openssl rand -hex 22`, 24 or 32; the ring reads it as base64,
    // which takes a multiple of 4 hex digits only), dashes between its digits taken (UUIDs,
    // which base64 reads as well: two v4 UUIDs hold 244 random bits).
    let has = |class: fn(&u8) -> bool| text.bytes().any(|b| class(&b));
    let hex = text.bytes().filter(u8::is_ascii_hexdigit).count() >= 43
        && !has(|&b| b != b'-' && !b.is_ascii_hexdigit());
    let mixed = has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase);
    if !(hex || mixed) {
        return Some(
            "has letters of one case only (a word, base32, or hex of fewer than 43 digits)",
        );
    }
    // Hex is judged by the bytes its digits spell too: a short pattern of digits whose length
    // is out of step with base64's groups of four (`0123456789abcde` or `deadbeef-` repeated)
    // decodes, as base64, to many distinct bytes.
    if hex {
        let digits: Vec<u8> = text
            .bytes()
            .filter_map(|b| (b as char).to_digit(16))
            .map(|d| d as u8)
            .collect();
        let bytes: Vec<u8> = (digits.chunks_exact(2))
            .map(|pair| pair.iter().fold(0, |byte, d| byte << 4 | d))
            .collect();
        if let Some(why) = weak_bytes(&bytes) {
            return Some(why);
        }
    }
    weak_bytes(Secret::from_base64(text).ok()?.expose())
}

/// [`weak_secret`] of decoded key material: text (UTF-8 without control characters but tab and
/// line breaks), or few distinct bytes (zeros, a short pattern repeated): fewer than 16, or than
/// half of them when they are fewer than 32 (22 random bytes hold fewer than 16 distinct about
/// three times in a million, fewer than 11 once in 10^12).
fn weak_bytes(bytes: &[u8]) -> Option<&'static str> {
    let mut seen = [false; 256];
    for &b in bytes {
        if let Some(s) = seen.get_mut(usize::from(b)) {
            *s = true;
        }
    }
    let distinct = seen.iter().filter(|&&s| s).count();
    let text = std::str::from_utf8(bytes).is_ok_and(|t| {
        t.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'))
    });
    if text {
        Some("decodes to text (a passphrase), not random bytes")
    } else if distinct < 16.min(bytes.len() / 2) {
        Some("repeats a few byte values")
    } else {
        None
    }
}

/// The error of a [`weak_secret`]: `what` names it (never quotes it), `why` says what is wrong.
fn weak(setting: &'static str, what: &str, why: &str) -> ConfigError {
    ConfigError::new(
        setting,
        format!(
            "{what} {why}: anyone holding a cookie it signed could guess it offline; make one \
             of 32 random bytes, e.g. `openssl rand -base64 32`"
        ),
    )
}

/// Test builds: the configuration of `vars`, a later pair overriding an earlier one of the same
/// name (so a test's own settings go after a module's defaults).
#[cfg(test)]
pub(crate) fn from_pairs(vars: &[(&str, &str)]) -> Result<GatewayConfig, ConfigError> {
    GatewayConfig::from_vars(|n| {
        vars.iter()
            .rev()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::collections::HashMap;

    /// The entry module's list of settings (src/gateway/worker/entry.mjs warns of any other text
    /// variable, a misspelt name) is this one.
    #[test]
    fn the_entry_module_knows_every_setting() {
        let entry = include_str!("worker/entry.mjs");
        let (_, list) = entry.split_once("// settings:begin").unwrap();
        let (list, _) = list.split_once("// settings:end").unwrap();
        let listed: std::collections::BTreeSet<&str> = list.split('"').skip(1).step_by(2).collect();
        let read: std::collections::BTreeSet<&str> = names::ALL.into_iter().collect();
        assert_eq!(listed, read);
    }

    /// A setting the entry module warns of as ignored (its `READ_WITH`: read only in some
    /// affinity modes or with a feature on) is ignored: a value the gateway would refuse, set
    /// where it is not read, does not stop the gateway starting (AFFINITY_HEADER and
    /// AFFINITY_PARAM were read in every mode, so the warning said "ignored" and the start
    /// failed naming them).
    #[test]
    fn settings_warned_of_as_ignored_are_ignored() {
        let entry = include_str!("worker/entry.mjs");
        let (_, list) = entry.split_once("const READ_WITH = [").unwrap();
        let (list, _) = list.split_once("\n];").unwrap();
        let quoted = |line: &str| -> Vec<String> {
            line.split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        };
        let mut read_with: Vec<(String, String, Vec<String>)> = list
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("[\""))
            .map(|l| {
                let q = quoted(l);
                (q[0].clone(), q[1].clone(), q[2..].to_vec())
            })
            .collect();
        // The store's settings: `[...names].map((name) => [`STORE_${name}`, ...STORE_ON])`, with
        // `const STORE_ON = ["STORE", ["kv", "durable"]];`.
        let (_, store_on) = entry.split_once("const STORE_ON = [").unwrap();
        let store_on = quoted(store_on.lines().next().unwrap());
        let store = list.lines().find(|l| l.contains(".map(")).unwrap();
        read_with.extend(quoted(store).into_iter().map(|name| {
            let on = store_on[1..].to_vec();
            (format!("STORE_{name}"), store_on[0].clone(), on)
        }));
        assert!(read_with.len() >= 16, "{read_with:?}");
        let mut checked = 0;
        for (name, setting, on) in &read_with {
            assert!(names::ALL.contains(&name.as_str()), "{name}");
            // Each value of the setting that leaves `name` unread; unset is one of them for a
            // feature (off), not for AFFINITY_MODE (cookie).
            let mut off: Vec<Option<&str>> = match setting.as_str() {
                AFFINITY_MODE => ["cookie", "url", "ip", "header"].map(Some).to_vec(),
                _ => vec![None],
            };
            off.retain(|v| v.is_none_or(|v| !on.iter().any(|o| o == v)));
            for value in off {
                let mut vars = vec![(name.as_str(), "not read; a value refused where read")];
                vars.extend(value.map(|v| (setting.as_str(), v)));
                if value == Some("header") {
                    vars.push((AFFINITY_HEADER, "x-tenant"));
                }
                let parsed = parse(&vars);
                assert!(
                    parsed.is_ok(),
                    "{name} with {setting} = {value:?}: {parsed:?}"
                );
                checked += 1;
            }
            // Where it is read, the same value is refused, naming it (but STORE_TESTS, which
            // takes any text, "1" turning the tests on).
            if name == STORE_TESTS {
                continue;
            }
            let mut vars = vec![(name.as_str(), "not read; a value refused where read")];
            vars.push((setting.as_str(), on[0].as_str()));
            if on[0] == "header" && name != AFFINITY_HEADER {
                vars.push((AFFINITY_HEADER, "x-tenant"));
            }
            let refused = parse(&vars).err().map(|e| e.setting);
            assert_eq!(
                refused,
                Some(name.as_str()),
                "{name} with {setting} = {}",
                on[0]
            );
        }
        assert!(checked >= 20, "{checked}");
    }

    /// docs/gateway.md's table of settings names every setting the gateway reads and no other:
    /// operators configure from it (a setting it leaves out is one nobody finds; one the
    /// gateway does not read is ignored without a word).
    #[test]
    fn the_settings_table_is_every_setting() {
        let doc = include_str!("../../docs/gateway.md");
        let (_, table) = doc.rsplit_once("\n| setting | default | |\n").unwrap();
        let documented: std::collections::BTreeSet<&str> = table
            .lines()
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.split('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2))
            .collect();
        let read: std::collections::BTreeSet<&str> = names::ALL.into_iter().collect();
        let missing: Vec<_> = read.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&read).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "not in the table: {missing:?}; in it but not read: {unknown:?}"
        );
    }

    #[test]
    fn decimal_reads_what_parse_f64_reads() {
        let long = format!("0.{}1", "0".repeat(400));
        let many = format!("0.3{}", "3".repeat(60));
        let cases = [
            "0",
            "1",
            "0.5",
            ".5",
            "5.",
            "1.",
            "00.25",
            "+0.75",
            "-0",
            "-.0",
            "-0.5",
            "0.1",
            "1e0",
            "1E-1",
            "5e-1",
            "2.5e+0",
            "0.0001e4",
            "1e-400",
            "0e999999",
            "1e400",
            "",
            ".",
            "-",
            "+",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "1e5e5",
            "--1",
            "+-1",
            " 0.5",
            "0.5 ",
            "1e5 ",
            "1e-5\n",
            "0x1",
            "inf",
            "-inf",
            "NaN",
            "infinity",
            "0,5",
            "1_0",
            "0.9999999999999999999",
            "9007199254740993e-16",
            &long,
            &many,
        ];
        for text in cases {
            let ours = decimal(text).filter(|f| f.is_finite());
            let core = text.parse::<f64>().ok().filter(|f| f.is_finite());
            assert_eq!(ours.map(f64::to_bits), core.map(f64::to_bits), "{text:?}");
        }
        assert_eq!(decimal("nan"), None);
    }

    const KEYS: &str = r#"[{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#;
    /// 32 bytes of 0x01..0x20, base64url.
    const AFFINITY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
    const ORIGINS_JSON: &str = r#"[{"id":"a","url":"http://127.0.0.1:9001/"},{"id":"b","url":"https://b.example/app","weight":2,"draining":true}]"#;

    fn parse(extra: &[(&str, &str)]) -> Result<GatewayConfig, ConfigError> {
        let mut vars: HashMap<&str, &str> = [(ORIGINS, ORIGINS_JSON), (SESSION_KEYS, KEYS)].into();
        vars.extend(extra.iter().copied());
        GatewayConfig::from_vars(|name| vars.get(name).map(|v| v.to_string()))
    }

    /// Without `AFFINITY_SECRET` the other session keys are the router's previous secrets: a
    /// ring longer than it keeps (8) gives it the newest, rather than refusing to start.
    /// Secret `n` of a test: 32 bytes that look random (the configuration refuses a secret of
    /// a few bytes repeated, or of text).
    fn secret_of(n: u8) -> String {
        crate::codec::b64_encode(&Sha256::digest([n]))
    }

    #[test]
    fn a_long_key_ring_gives_the_router_its_newest_previous_secrets() {
        let keys: Vec<String> = (1..=12u8)
            .map(|i| {
                let secret = secret_of(i);
                format!(r#"{{"id":"k{i}","secret":"{secret}"}}"#)
            })
            .collect();
        let c = parse(&[(SESSION_KEYS, &format!("[{}]", keys.join(",")))]).unwrap();
        let previous = &c.affinity().previous_secrets;
        assert_eq!(previous.len(), 8);
        assert_eq!(previous[0], secret_of(2));
        assert_eq!(previous[7], secret_of(9));
    }

    /// A secret a person chose (a passphrase taken for base64 or encoded in it, a few bytes
    /// repeated) is refused wherever the gateway takes one, naming the setting and the key,
    /// never quoting it: anyone holding a session or affinity cookie could test guesses at it
    /// offline, one HMAC each. It was taken, if it decoded to 32 bytes. Random secrets pass,
    /// in base64url, in the standard alphabet, padded, in hex, of 64 bytes.
    #[test]
    fn a_secret_a_person_chose_is_refused() {
        let one_case = "thisismysupersecretsessionkeyforproduction24";
        let text = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"; // base64 of "secret-secret-..."
        let zeros = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let pattern = crate::codec::b64_encode(&[1, 2].repeat(16));
        let accented = crate::codec::b64_encode("clé secrète de sécurité élevée".as_bytes());
        let one_uuid = "0f8fad5b-d9cb-469f-a165-70867728950e-0f8fad5"; // 39 hex digits
        let base32 = "MZXW6YTBOI2GKZLZMFZXA2LDN5WGKZLTOVZGK43FMNZGK5DTMVZXG2LP";
        let dashed = "deadbeef-".repeat(8); // 64 hex digits, 27 distinct bytes once decoded
        let counted = "0123456789-".repeat(8); // 80 digits, 33 distinct bytes once decoded
        let shifted = format!("{}0123", "0123456789abcde".repeat(4)); // 64 digits, no dash
        for (secret, why) in [
            (one_case, "one case"),
            (one_uuid, "one case"),
            (base32, "base32"),
            (dashed.as_str(), "repeats a few byte values"),
            (counted.as_str(), "repeats a few byte values"),
            (shifted.as_str(), "repeats a few byte values"),
            (text, "decodes to text"),
            (accented.as_str(), "decodes to text"),
            (zeros, "repeats a few byte values"),
            (pattern.as_str(), "repeats a few byte values"),
        ] {
            let ring = format!(
                r#"[{{"id":"k2","secret":"{}"}},{{"id":"k1","secret":"{secret}"}}]"#,
                secret_of(1)
            );
            let previous = format!(r#"["{secret}"]"#);
            for (vars, setting) in [
                (vec![(SESSION_KEYS, ring.as_str())], SESSION_KEYS),
                (vec![(AFFINITY_SECRET, secret)], AFFINITY_SECRET),
                (
                    vec![
                        (AFFINITY_SECRET, AFFINITY),
                        (AFFINITY_PREVIOUS_SECRETS, previous.as_str()),
                    ],
                    AFFINITY_PREVIOUS_SECRETS,
                ),
            ] {
                let err = parse(&vars).unwrap_err();
                assert_eq!(err.setting, setting, "{secret}: {err}");
                assert!(err.message.contains(why), "{secret}: {err}");
                assert!(!err.to_string().contains(&secret[..12]), "{err}");
            }
            assert!(parse(&[(SESSION_KEYS, &ring)])
                .unwrap_err()
                .message
                .contains(r#"key "k1""#));
        }
        let hex: String = Sha256::digest(b"hex")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let long = crate::codec::b64_encode(&[Sha256::digest(b"a"), Sha256::digest(b"b")].concat());
        let hex_24 = hex[..48].to_owned(); // `openssl rand -hex 24`
                                           // Two v4 UUIDs one after the other (`uuidgen`), in either case.
        let uuid = |h: &str| {
            format!(
                "{}-{}-4{}-8{}-{}",
                &h[..8],
                &h[8..12],
                &h[13..16],
                &h[17..20],
                &h[20..32]
            )
        };
        let uuids = format!("{}{}", uuid(&hex), uuid(&hex[32..]));
        for n in 0..=255 {
            let secret = secret_of(n);
            let standard = format!("{}=", secret.replace('-', "+").replace('_', "/"));
            for secret in [
                &secret,
                &standard,
                &hex,
                &hex.to_uppercase(),
                &hex_24,
                &uuids,
                &uuids.to_uppercase(),
                &long,
            ] {
                let ring = format!(r#"[{{"id":"k1","secret":"{secret}"}}]"#);
                assert!(
                    parse(&[(SESSION_KEYS, &ring), (AFFINITY_SECRET, secret)]).is_ok(),
                    "{secret}"
                );
            }
        }
    }

    /// A new key whose secret was copied from another (a rotation that pasted the old secret
    /// under the new id, in any spelling the keys take: padded, standard alphabet) would rotate
    /// nothing: whoever holds the old secret signs with the new id. Refused, naming the keys by
    /// position and quoting no secret, as a repeated id is.
    #[test]
    fn a_secret_under_two_key_ids_is_refused() {
        let old = "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620";
        let padded = format!("{old}=");
        let standard = (0..)
            .map(secret_of)
            .find(|s| s.contains(['-', '_']))
            .unwrap();
        let standard_spelt = standard.replace('-', "+").replace('_', "/");
        let other = secret_of(3);
        for (first, second) in [
            (old, old),
            (old, padded.as_str()),
            (&standard, &standard_spelt),
        ] {
            let keys = format!(
                r#"[{{"id":"k3","secret":"{other}"}},{{"id":"k2","secret":"{second}"}},{{"id":"k1","secret":"{first}"}}]"#
            );
            let err = parse(&[(SESSION_KEYS, &keys)]).unwrap_err();
            assert_eq!(err.setting, SESSION_KEYS, "{err}");
            assert!(
                err.message.contains("keys[2]") && err.message.contains("keys[1]"),
                "{err}"
            );
            assert!(
                !err.message.contains(first) && !err.message.contains(second),
                "{err}"
            );
        }
        let keys = format!(r#"[{{"id":"k2","secret":"{other}"}},{{"id":"k1","secret":"{old}"}}]"#);
        assert!(parse(&[(SESSION_KEYS, &keys)]).is_ok());
    }

    /// The gateway's stored sessions are its own: an app's `SessionStore` (the JS library's,
    /// purpose `session` by default) over the same namespace and `SESSION_KEYS` neither reads
    /// the gateway's session-id cookies nor finds its records, and the other way round. (The
    /// purpose is also what every live session's id and record keys derive from: a change
    /// would end them all.)
    #[test]
    fn the_gateways_stored_sessions_are_apart_from_an_apps() {
        use crate::store::{memory::MemoryStore, Sessions};
        let c = parse(&[(STORE, "kv")]).unwrap();
        let ring = KeyRing::from_config(&c.tokens().keys).unwrap();
        let store = MemoryStore::new();
        let gateway = c.store.as_ref().map(|s| s.sessions.clone()).unwrap();
        let (gateway, app) = (
            Sessions::new(&store, &ring, gateway).unwrap(),
            Sessions::new(&store, &ring, SessionConfig::default()).unwrap(),
        );
        let now = 1_800_000_000;
        for (writer, reader) in [(&gateway, &app), (&app, &gateway)] {
            let mut session = writer.new_session(now).unwrap();
            session.insert("cart", "book".into());
            futures_executor::block_on(writer.commit(&mut session, now)).unwrap();
            let cookie = session.cookie().unwrap();
            let found = |s: &Sessions<&MemoryStore>| {
                futures_executor::block_on(s.load(cookie, now)).unwrap()
            };
            assert!(found(writer).is_some());
            assert!(found(reader).is_none());
        }
    }

    /// The session format and the JWT binding read back as set; a revocation is kept as long as
    /// a session token can live, leeway included (a shorter keep would let a revoked token in
    /// again before it expires).
    #[test]
    fn session_settings_read_back() {
        let c = parse(&[
            (SESSION_FORMAT, "jwt"),
            (SESSION_JWT_ISSUER, "https://id.example"),
            (SESSION_JWT_AUDIENCE, "app"),
            (SESSION_MAX_LIFETIME_SECONDS, "7200"),
            (SESSION_LEEWAY_SECONDS, "30"),
            (STORE, "kv"),
        ])
        .unwrap();
        assert_eq!(c.session_format(), SessionFormat::Jwt);
        assert_eq!(
            c.session_jwt().issuer.as_deref(),
            Some("https://id.example")
        );
        assert_eq!(c.session_jwt().audience.as_deref(), Some("app"));
        assert_eq!(c.store.unwrap().revocation_keep_seconds, 7230);
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(
            c.origins[0],
            Origin {
                id: "a".into(),
                url: "http://127.0.0.1:9001".into(),
                weight: 1,
                draining: false
            }
        );
        assert_eq!(c.origins[1].url, "https://b.example/app");
        assert!(c.origins[1].draining);
        assert_eq!(c.affinity.mode, Mode::Cookie);
        assert_eq!(c.affinity.backends[1], BackendConfig::weighted("b", 2));
        assert_eq!(
            c.affinity.secret,
            "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"
        );
        assert_eq!(c.session_cookie.name(), "__Host-session");
        assert_eq!(
            (c.tokens.ttl_seconds, c.down_seconds, c.health_path.as_str()),
            (3600, 30, "/health")
        );
        assert_eq!(c.operator_token, None);
        assert!(c.store.is_none());
        let c = parse(&[(STORE, "durable")]).unwrap();
        let store = c.store.unwrap();
        assert_eq!(store.kind, StoreKind::Durable);
        assert_eq!(store.cookie.name(), "__Host-sid");
        assert_eq!(
            (
                store.sessions.idle_timeout_seconds,
                store.sessions.absolute_timeout()
            ),
            (1800, 86_400)
        );
        assert_eq!(
            (
                store.sessions.touch_interval(),
                store.sessions.max_data_bytes
            ),
            (60, 4096)
        );
        assert!(!store.tests);
        let short = parse(&[(STORE, "kv"), (STORE_IDLE_SECONDS, "20")])
            .unwrap()
            .store
            .unwrap();
        assert_eq!(short.sessions.touch_interval(), 10);
    }

    /// The session data go to the origin in every request's headers: `STORE_MAX_DATA_BYTES` is
    /// at most half of `MAX_REQUEST_HEADER_BYTES` (and 4096 unless set, less when that half is
    /// less), so that data the store took never make each of the visitor's requests a 431.
    #[test]
    fn the_session_data_leave_room_in_the_request_headers() {
        let data = |vars: &[(&str, &str)]| {
            parse(&[&[(STORE, "kv")], vars].concat()).map(|c| c.store.unwrap().sessions)
        };
        let max = |vars: &[(&str, &str)]| data(vars).unwrap().max_data_bytes;
        assert_eq!(max(&[]), 4096);
        assert_eq!(max(&[(STORE_MAX_DATA_BYTES, "8192")]), 8192);
        let big = [(STORE_MAX_DATA_BYTES, "16384")];
        let refused = data(&big).err().unwrap();
        assert_eq!(refused.setting, STORE_MAX_DATA_BYTES);
        assert!(
            refused.message.contains("from 2 to 8192"),
            "{}",
            refused.message
        );
        let roomy = (MAX_REQUEST_HEADER_BYTES, "32768");
        assert_eq!(max(&[big[0], roomy]), 16_384);
        assert_eq!(max(&[(MAX_REQUEST_HEADER_BYTES, "1024")]), 512);
    }

    /// `ORIGIN_TIMEOUT_MS` is off unless set (no limit of the gateway's own, as before it
    /// existed); set, a whole number of milliseconds from 1 to 100000, anything else refused
    /// naming it.
    #[test]
    fn origin_timeout_is_off_unless_set() {
        assert_eq!(parse(&[]).unwrap().origin_timeout_ms, None);
        assert_eq!(
            parse(&[(ORIGIN_TIMEOUT_MS, "  ")])
                .unwrap()
                .origin_timeout_ms,
            None,
            "empty text counts as unset"
        );
        for (text, ms) in [
            ("1", 1),
            ("500", 500),
            (" 30000 ", 30_000),
            ("100000", 100_000),
        ] {
            let c = parse(&[(ORIGIN_TIMEOUT_MS, text)]).unwrap();
            assert_eq!(c.origin_timeout_ms, Some(ms), "{text:?}");
        }
        for text in [
            "0",
            "-1",
            "-500",
            "100001",
            "4294967296",
            "1.5",
            "1e3",
            "30s",
            "off",
        ] {
            let err = parse(&[(ORIGIN_TIMEOUT_MS, text)]).unwrap_err();
            assert_eq!(err.setting, ORIGIN_TIMEOUT_MS, "{text:?}: {err}");
            assert!(err.message.contains("from 1 to 100000"), "{text:?}: {err}");
        }
    }

    /// A lifetime set alone, shorter than the default idle time (1800 s), shortens the idle time
    /// to it; it named AFFINITY_IDLE_SECONDS, never set, as wrong. Set, both are checked.
    #[test]
    fn an_affinity_lifetime_set_alone_shortens_the_default_idle_time() {
        let idle = |vars: &[(&str, &str)]| {
            parse(vars).map(|c| (c.affinity.ttl_seconds, c.affinity.idle()))
        };
        assert_eq!(idle(&[(AFFINITY_TTL_SECONDS, "600")]).unwrap(), (600, 600));
        assert_eq!(
            idle(&[(AFFINITY_TTL_SECONDS, "7200")]).unwrap(),
            (7200, 1800)
        );
        assert_eq!(idle(&[]).unwrap(), (86_400, 1800));
        let err = idle(&[
            (AFFINITY_TTL_SECONDS, "600"),
            (AFFINITY_IDLE_SECONDS, "601"),
        ]);
        // In the gateway's names, not the router's options.
        assert_eq!(
            err.unwrap_err().to_string(),
            "AFFINITY_IDLE_SECONDS: 601 is longer than AFFINITY_TTL_SECONDS, 600"
        );
    }

    #[test]
    fn settings_are_read() {
        let c = parse(&[
            (AFFINITY_MODE, "header"),
            (AFFINITY_HEADER, "x-tenant"),
            (AFFINITY_FAILOVER, "strict"),
            (AFFINITY_IDLE_SECONDS, "60"),
            (AFFINITY_TTL_SECONDS, "600"),
            (SESSION_TTL_SECONDS, "120"),
            (SESSION_REFRESH_AFTER, "0.25"),
            (COOKIE_SAMESITE, "Strict"),
            (HEALTH_DOWN_SECONDS, "5"),
            (OPERATOR_TOKEN, "0123456789abcdef"),
            (AFFINITY_SECRET, "   "),
        ])
        .unwrap();
        assert_eq!(
            (c.affinity.mode, c.affinity.failover),
            (Mode::Header, Failover::Strict)
        );
        // Header mode gives out no value: its lifetimes are not read (warned of as ignored).
        assert_eq!((c.affinity.idle(), c.affinity.ttl_seconds), (1800, 86400));
        assert_eq!((c.tokens.ttl_seconds, c.tokens.refresh_after), (120, 0.25));
        assert_eq!(c.affinity.same_site, SameSite::Strict);
        assert_eq!(c.down_seconds, 5);
        assert_eq!(
            c.operator_token.as_ref().map(OperatorToken::as_str),
            Some("0123456789abcdef")
        );
        assert_eq!(c.affinity.param, DEFAULT_AFFINITY_PARAM);
        let url = parse(&[
            (AFFINITY_MODE, "url"),
            (AFFINITY_PARAM, "sid-1"),
            (AFFINITY_IDLE_SECONDS, "60"),
            (AFFINITY_TTL_SECONDS, "600"),
            (AFFINITY_COOKIE, "not read: cookie mode only"),
        ])
        .unwrap();
        assert_eq!(
            (url.affinity.mode, url.affinity.param.as_str()),
            (Mode::Url, "sid-1")
        );
        assert_eq!((url.affinity.idle(), url.affinity.ttl_seconds), (60, 600));
        assert_eq!(url.affinity.cookie_name, "__Host-affinity");
        // Outside cookie mode no affinity cookie is set: its name clashes with none.
        for mode in ["url", "ip"] {
            let ok = parse(&[
                (AFFINITY_MODE, mode),
                (SESSION_COOKIE, "__Host-affinity"),
                (STORE, "kv"),
                (STORE_COOKIE, "__Host-affinity-sid"),
            ]);
            assert!(ok.is_ok(), "{mode}: {ok:?}");
            let ok = parse(&[
                (AFFINITY_MODE, mode),
                (STORE, "kv"),
                (STORE_COOKIE, "__Host-affinity"),
            ]);
            assert!(ok.is_ok(), "{mode}: {ok:?}");
        }
        assert_eq!(url.built.affinity.param_name(), "sid-1");
    }

    /// An origin URL that every request's `fetch` would refuse, or resolve elsewhere than
    /// written, fails at start naming ORIGINS (it passed, then every request was a 500).
    #[test]
    fn origin_urls_fetch_would_refuse_fail_at_start() {
        let origin = |url: &str| parse(&[(ORIGINS, &format!(r#"[{{"id":"a","url":"{url}"}}]"#))]);
        for bad in [
            "http://:80",
            "http:///app",
            // User info: the fetch standard refuses a request to a URL with credentials.
            "http://user@x",
            "http://user:secret@x",
            "http://x:",
            "http://x:0",
            "http://x:65536",
            "http://x:+80",
            "http://x:8a",
            "http://x:1:2",
            "http://x%41.example",
            "http://x\\\\y",
            "http://x|y",
            "http://x^y",
            "http://x]",
            "http://[::1",
            "http://[::1]x",
            "http://[g::1]",
            "http://x/app/../admin",
            "http://x/./app",
            "http://x/app/..",
            "http://x/app/%2e%2E/admin",
            "http://x/app/%2E",
            // A backslash is a `/` to the URL parser: `app\..\admin` is `/admin` (JSON escapes
            // each here).
            "http://x/app\\\\..\\\\admin",
            "http://x/app/..\\\\",
            "http://x/app\\\\b",
            // The URL parser reads a host whose last label is a number as an IPv4 address, and
            // refuses it when that fails (outcomes as Node's WHATWG URL gives them).
            "http://10.0.0.256:8080",
            "http://256.1.1",
            "http://1.2.3.4.5",
            "http://1.16777216",
            "http://4294967296",
            "http://08.0.0.1",
            "http://1.2.3.09",
            "http://0xg.1",
            "http://x.1",
            "http://x.0x",
            "http://a.0X10",
            "http://..1",
            "http://99999999999999999999999",
            // IPv6 addresses it refuses.
            "http://[1::2::3]",
            "http://[12345::]",
            "http://[:1]",
            "http://[1:]",
            "http://[1:2:3:4:5:6:7:8:9]",
            "http://[1:2:3:4:5:6::7:8]",
            "http://[::ffff:1.2.3.400]",
            "http://[::ffff:01.2.3.4]",
            "http://[::1.2.3]",
            "http://[::1.2.3.4.]",
            "http://[1.2.3.4]",
            "http://[]",
        ] {
            let err = origin(bad).expect_err(bad);
            assert_eq!(err.setting, ORIGINS, "{bad}");
        }
        for good in [
            "http://x",
            "http://x:1",
            "https://x.example:65535/app/",
            "http://127.0.0.1:8787",
            "http://[::1]:8080/a",
            "http://[::ffff:127.0.0.1]",
            "http://x/a.b/..c/.d",
            "http://origin_a.internal:8080",
            "http://10.0.0.255:8080",
            "http://127.0.0.1.",
            "http://0x7f.1",
            "http://0X7F.0.0.1",
            "http://010.0.0.1",
            "http://0x.0x.0x.0x",
            "http://1.16777215",
            "http://4294967295",
            "http://1.2.3.4..",
            "http://1.x",
            "http://1x.example",
            "http://x.1a",
            "http://192.168.1.1a",
            "http://.",
            "http://[::]",
            "http://[1:2:3:4:5:6:7:8]",
            "http://[::1:2:3:4:5:6:7]",
            "http://[1:2:3:4:5:6:7::]",
            "http://[1:2:3:4:5:6:1.2.3.4]",
            "http://[::ffff:255.255.255.255]",
            "http://[FFFF::abcd]:443",
        ] {
            assert!(origin(good).is_ok(), "{good}");
        }
        // One server under two ids, its default port written once: refused as the same url.
        for (a, b) in [
            ("http://x", "http://X:80"),
            ("https://x:443/app", "https://x/app/"),
            // The URL parser reads a port's leading zeros away: the same port.
            ("http://x:0080", "http://x"),
            ("https://x:0443/app", "https://x/app"),
            ("http://x:08080/a", "http://x:8080/a"),
            ("http://[::1]:080", "http://[::1]"),
        ] {
            let list = format!(r#"[{{"id":"a","url":"{a}"}},{{"id":"b","url":"{b}"}}]"#);
            assert!(parse(&[(ORIGINS, &list)]).is_err(), "{a} {b}");
        }
        let list = r#"[{"id":"a","url":"http://x:443"},{"id":"b","url":"https://x"}]"#;
        assert!(parse(&[(ORIGINS, list)]).is_ok());
    }

    /// Two origins with the same url: the first origin in order that has a twin is named, with
    /// its first twin, among the most origins too (each url's key made once, not compared with
    /// every later one: a million comparisons at 1,024 origins).
    #[test]
    fn the_first_origin_with_a_twin_is_named() {
        let list = |urls: &[String]| {
            let origins: Vec<String> = (urls.iter().enumerate())
                .map(|(i, u)| format!(r#"{{"id":"o{i}","url":"{u}"}}"#))
                .collect();
            format!("[{}]", origins.join(","))
        };
        let named = |urls: &[&str]| {
            let urls: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
            let err = parse(&[(ORIGINS, &list(&urls))]).unwrap_err();
            assert_eq!(err.setting, ORIGINS);
            err.message
        };
        let message = |a: usize, b: usize| {
            format!(
                "origins \"o{a}\" and \"o{b}\" have the same url: list a server once (its weight \
                 gives it a larger share)"
            )
        };
        let (x, y, z) = ("http://x/app", "http://y", "http://z");
        assert_eq!(
            named(&[x, y, "http://Y:80/", "http://X/app/"]),
            message(0, 3)
        );
        assert_eq!(named(&[z, y, x, y, x, x]), message(1, 3));
        // Its first twin, not a later one.
        assert_eq!(named(&[x, y, x, x]), message(0, 2));
        assert_eq!(
            named(&[z, x, y, "https://y", "http://y:80", x]),
            message(1, 5)
        );
        let mut many: Vec<String> = (0..1024)
            .map(|i| format!("http://10.0.{}.{}:8080/app", i / 256, i % 256))
            .collect();
        assert!(parse(&[(ORIGINS, &list(&many))]).is_ok());
        many[1023] = "http://10.0.0.0:8080/app/".into();
        let err = parse(&[(ORIGINS, &list(&many))]).unwrap_err();
        assert_eq!(err.message, message(0, 1023));
    }

    /// One server written two ways that the URL parser reads as one (an IPv4 address in
    /// another form, an IPv6 address not in its shortest form, the scheme's default port
    /// written out) is a twin too: fetch requests the same place for both.
    #[test]
    fn one_server_written_as_fetch_reads_it_and_otherwise_is_a_twin() {
        for (a, b) in [
            ("http://127.0.0.1:8080", "http://0x7f.1:8080"),
            ("http://127.0.0.1", "http://127.1"),
            ("http://10.0.0.1/app", "http://167772161/app"),
            ("http://10.0.0.1", "http://012.0.0.01."),
            ("http://[::1]:9000", "http://[0:0::1]:9000"),
            ("http://[::ffff:7f00:1]", "http://[::FFFF:127.0.0.1]"),
            ("http://[1:0:0:2::]", "http://[1:0:0:2:0:0:0:0]"),
            ("https://b.example", "https://b.example:443"),
        ] {
            let list = format!(r#"[{{"id":"a","url":"{a}"}},{{"id":"b","url":"{b}"}}]"#);
            let err = parse(&[(ORIGINS, &list)]).expect_err(b);
            assert!(err.message.contains("the same url"), "{b}: {}", err.message);
        }
        for (a, b) in [
            ("http://127.0.0.1", "http://127.0.0.2"),
            ("http://[::1]", "http://[::2]"),
            ("http://b.example", "http://b.example."),
            ("http://b.example", "https://b.example:80"),
        ] {
            let list = format!(r#"[{{"id":"a","url":"{a}"}},{{"id":"b","url":"{b}"}}]"#);
            assert!(parse(&[(ORIGINS, &list)]).is_ok(), "{a} {b}");
        }
    }

    /// The authority as the URL parser writes it (what `new URL(url).host` gives, in Node 20):
    /// twins are found, and an origin's own address recognised, by comparing these texts.
    #[test]
    fn fetched_authority_is_the_url_parsers_host() {
        for (scheme, authority, host) in [
            ("http", "[0:0::1]", "[::1]"),
            ("http", "[::FFFF:127.0.0.1]:8080", "[::ffff:7f00:1]:8080"),
            ("http", "[1:0:0:2:0:0:0:0]", "[1:0:0:2::]"),
            ("http", "[1:0:0:2:0:0:0:3]", "[1:0:0:2::3]"),
            ("http", "[0:0:1:0:0:0:2:0]", "[0:0:1::2:0]"),
            ("http", "[1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:7:8]"),
            ("http", "[0:1:0:1:0:1:0:1]", "[0:1:0:1:0:1:0:1]"),
            ("http", "[1:0:1:0:0:1:0:0]", "[1:0:1::1:0:0]"),
            ("http", "[0:0:0:0:0:0:0:0]", "[::]"),
            ("http", "[1:0:0:0:0:0:0:0]", "[1::]"),
            ("http", "[0:0:0:0:0:0:0:1]", "[::1]"),
            ("http", "[1:0:2:0:0:3:0:0]", "[1:0:2::3:0:0]"),
            // Of two longest runs of zeros, the first is written `::`.
            ("http", "[ABCD:0:0:0:1::]", "[abcd::1:0:0:0]"),
            ("http", "[0001:0db8::0a]:80", "[1:db8::a]"),
            ("https", "[::1]:443", "[::1]"),
            ("https", "[::1]:0443", "[::1]"),
            ("http", "0x7f.1", "127.0.0.1"),
            ("http", "127.1:080", "127.0.0.1"),
            ("http", "012.0.0.01.", "10.0.0.1"),
            ("http", "4294967295", "255.255.255.255"),
            ("http", "0xffffffff", "255.255.255.255"),
            ("http", "1.2.65535", "1.2.255.255"),
            ("http", "255.16777215", "255.255.255.255"),
            ("http", "10.0.0.0x1", "10.0.0.1"),
            ("http", "Example.COM:8080", "example.com:8080"),
            ("https", "x:80", "x:80"),
            ("http", "x:0", "x:0"),
            // No host the parser takes (it refuses the URL): only lowercased.
            ("http", "1.2.3.4.5", "1.2.3.4.5"),
            ("http", "A.0x1", "a.0x1"),
        ] {
            assert_eq!(fetched_authority(scheme, authority), host, "{authority}");
        }
    }

    /// `is_ipv6` takes what std's `Ipv6Addr` parser takes (which takes what the URL parser does,
    /// for the cases of `origin_urls_fetch_would_refuse_fail_at_start`), on strings of the
    /// characters that matter.
    #[test]
    fn ipv6_hosts_are_those_std_parses() {
        let alphabet = b"0123456789abfF:.::..";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut taken = 0;
        for _ in 0..300_000 {
            let len = next() % 24;
            let host: String = (0..len)
                .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
                .collect();
            let std = host.parse::<std::net::Ipv6Addr>().is_ok();
            assert_eq!(is_ipv6(&host), std, "{host:?}");
            taken += usize::from(std);
        }
        assert!(taken > 1000, "{taken}");
    }

    #[test]
    fn every_error_names_its_setting() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(ORIGINS, "")], ORIGINS),
            (&[(ORIGINS, "[]")], ORIGINS),
            (&[(ORIGINS, "{")], ORIGINS),
            (&[(ORIGINS, r#"[{"id":"a","url":"ftp://x"}]"#)], ORIGINS),
            (&[(ORIGINS, r#"[{"id":"a","url":"http://x/?q"}]"#)], ORIGINS),
            (&[(ORIGINS, r#"[{"id":"a","url":"http://"}]"#)], ORIGINS),
            (
                &[(ORIGINS, r#"[{"id":"a","url":"http://x","port":1}]"#)],
                ORIGINS,
            ),
            (
                &[(
                    ORIGINS,
                    r#"[{"id":"a","url":"http://x"},{"id":"a","url":"http://y"}]"#,
                )],
                ORIGINS,
            ),
            (
                &[(ORIGINS, r#"[{"id":"a","url":"http://x","weight":0}]"#)],
                ORIGINS,
            ),
            (&[(SESSION_KEYS, "")], SESSION_KEYS),
            (&[(SESSION_KEYS, "[]")], SESSION_KEYS),
            (&[(SESSION_KEYS, "not json")], SESSION_KEYS),
            (
                &[(SESSION_KEYS, r#"[{"id":"k1","secret":"c2hvcnQ"}]"#)],
                SESSION_KEYS,
            ),
            (&[(AFFINITY_SECRET, "c2hvcnQ")], AFFINITY_SECRET),
            (
                &[(AFFINITY_PREVIOUS_SECRETS, "[]")],
                AFFINITY_PREVIOUS_SECRETS,
            ),
            (
                &[(
                    ORIGINS,
                    r#"[{"id":"a","url":"http://X.example/app/"},{"id":"b","url":"http://y"},{"id":"c","url":"http://x.EXAMPLE/app"}]"#,
                )],
                ORIGINS,
            ),
            (
                &[
                    (AFFINITY_SECRET, AFFINITY),
                    (AFFINITY_PREVIOUS_SECRETS, "c2hvcnQ"),
                ],
                AFFINITY_PREVIOUS_SECRETS,
            ),
            (
                &[
                    (AFFINITY_SECRET, AFFINITY),
                    (AFFINITY_PREVIOUS_SECRETS, r#"["c2hvcnQ"]"#),
                ],
                AFFINITY_PREVIOUS_SECRETS,
            ),
            (&[(AFFINITY_MODE, "round-robin")], AFFINITY_MODE),
            (
                &[(AFFINITY_MODE, "url"), (AFFINITY_PARAM, "a b")],
                AFFINITY_PARAM,
            ),
            (
                &[(AFFINITY_MODE, "url"), (AFFINITY_PARAM, "_es&")],
                AFFINITY_PARAM,
            ),
            (&[(AFFINITY_MODE, "header")], AFFINITY_HEADER),
            (
                &[(AFFINITY_MODE, "header"), (AFFINITY_HEADER, "x y")],
                AFFINITY_HEADER,
            ),
            // Headers the gateway strips as forgeable: the client's copy would route.
            (
                &[
                    (AFFINITY_MODE, "header"),
                    (AFFINITY_HEADER, "X-Forwarded-For"),
                ],
                AFFINITY_HEADER,
            ),
            (
                &[
                    (AFFINITY_MODE, "header"),
                    (AFFINITY_HEADER, "x-session-sub"),
                ],
                AFFINITY_HEADER,
            ),
            (
                &[
                    (AFFINITY_MODE, "header"),
                    (AFFINITY_HEADER, "cf-connecting-ip"),
                ],
                AFFINITY_HEADER,
            ),
            (&[(AFFINITY_FAILOVER, "maybe")], AFFINITY_FAILOVER),
            (&[(SESSION_FORMAT, "paseto")], SESSION_FORMAT),
            (&[(SESSION_JWT_ISSUER, "https://x")], SESSION_JWT_ISSUER),
            (&[(SESSION_JWT_AUDIENCE, "app")], SESSION_JWT_AUDIENCE),
            (
                &[
                    (SESSION_FORMAT, "jwt"),
                    (SESSION_JWT_AUDIENCE, r#"["api","web"]"#),
                ],
                SESSION_JWT_AUDIENCE,
            ),
            (
                &[(SESSION_FORMAT, "jwt"), (SESSION_JWT_AUDIENCE, "api, web")],
                SESSION_JWT_AUDIENCE,
            ),
            (
                &[
                    (SESSION_FORMAT, "jwt"),
                    (SESSION_JWT_ISSUER, r#""https://x""#),
                ],
                SESSION_JWT_ISSUER,
            ),
            (
                &[(SESSION_FORMAT, "jwt"), (SESSION_JWT_ISSUER, "'https://x'")],
                SESSION_JWT_ISSUER,
            ),
            (
                &[(AFFINITY_MODE, "header"), (AFFINITY_HEADER, "Cookie")],
                AFFINITY_HEADER,
            ),
            (&[(AFFINITY_TTL_SECONDS, "-1")], AFFINITY_TTL_SECONDS),
            (&[(AFFINITY_IDLE_SECONDS, "100000")], AFFINITY_IDLE_SECONDS),
            (&[(AFFINITY_COOKIE, "bad name")], AFFINITY_COOKIE),
            (&[(SESSION_COOKIE, "__Host-x;y")], SESSION_COOKIE),
            (
                &[(SESSION_COOKIE, "__Host-x"), (AFFINITY_COOKIE, "__Host-x")],
                SESSION_COOKIE,
            ),
            (&[(SESSION_TTL_SECONDS, "0")], SESSION_TTL_SECONDS),
            (&[(SESSION_LEEWAY_SECONDS, "1e3")], SESSION_LEEWAY_SECONDS),
            (&[(SESSION_REFRESH_AFTER, "2")], SESSION_REFRESH_AFTER),
            (
                &[(SESSION_MAX_LIFETIME_SECONDS, "x")],
                SESSION_MAX_LIFETIME_SECONDS,
            ),
            (
                &[(SESSION_MAX_LIFETIME_SECONDS, "10")],
                SESSION_MAX_LIFETIME_SECONDS,
            ),
            (&[(COOKIE_SAMESITE, "sometimes")], COOKIE_SAMESITE),
            (&[(HEALTH_PATH, "health")], HEALTH_PATH),
            // Probed under each origin's base path: these would leave it (`{url}/../health`).
            (&[(HEALTH_PATH, "/../health")], HEALTH_PATH),
            (&[(HEALTH_PATH, "/%2E%2e/health")], HEALTH_PATH),
            (&[(HEALTH_PATH, "/./health")], HEALTH_PATH),
            (&[(HEALTH_PATH, "/health/..")], HEALTH_PATH),
            (&[(HEALTH_PATH, "/..\\health")], HEALTH_PATH),
            (&[(HEALTH_PATH, "/a\\b")], HEALTH_PATH),
            (&[(HEALTH_DOWN_SECONDS, "0")], HEALTH_DOWN_SECONDS),
            (&[(HEALTH_FAILURES, "0")], HEALTH_FAILURES),
            // Read less often than the shared result may be half stale: it would be ignored
            // between reads (at 600 and 300, for 5 minutes of each 10 at least).
            (&[(HEALTH_CACHE_SECONDS, "600")], HEALTH_CACHE_SECONDS),
            (&[(HEALTH_CACHE_SECONDS, "151")], HEALTH_CACHE_SECONDS),
            (
                &[
                    (HEALTH_MAX_AGE_SECONDS, "200"),
                    (HEALTH_CACHE_SECONDS, "101"),
                ],
                HEALTH_CACHE_SECONDS,
            ),
            (&[(HEALTH_MAX_AGE_SECONDS, "119")], HEALTH_MAX_AGE_SECONDS),
            (&[(PROBE_TIMEOUT_MS, "999999")], PROBE_TIMEOUT_MS),
            (&[(ORIGIN_TIMEOUT_MS, "0")], ORIGIN_TIMEOUT_MS),
            (&[(OPERATOR_TOKEN, "short")], OPERATOR_TOKEN),
            // One character short of MIN_OPERATOR_TOKEN_BYTES (16, taken elsewhere here).
            (&[(OPERATOR_TOKEN, "0123456789abcde")], OPERATOR_TOKEN),
            // A comma would hide it among two Authorization headers, which the runtime joins.
            (&[(OPERATOR_TOKEN, "abcdefgh,ijklmnopq")], OPERATOR_TOKEN),
            (&[(STORE, "redis")], STORE),
            (&[(DIRECTIVE_NONCE, "yes")], DIRECTIVE_NONCE),
            (
                &[(MAX_REQUEST_HEADER_BYTES, "100")],
                MAX_REQUEST_HEADER_BYTES,
            ),
            (
                &[(STORE, "kv"), (STORE_COOKIE, "__Host-session")],
                STORE_COOKIE,
            ),
            (&[(STORE, "kv"), (STORE_COOKIE, "bad name")], STORE_COOKIE),
            (
                &[(STORE, "kv"), (STORE_IDLE_SECONDS, "1")],
                STORE_IDLE_SECONDS,
            ),
            (
                &[
                    (STORE, "kv"),
                    (STORE_IDLE_SECONDS, "600"),
                    (STORE_ABSOLUTE_SECONDS, "60"),
                ],
                STORE_ABSOLUTE_SECONDS,
            ),
            (
                &[
                    (STORE, "kv"),
                    (STORE_IDLE_SECONDS, "600"),
                    (STORE_TOUCH_SECONDS, "600"),
                ],
                STORE_TOUCH_SECONDS,
            ),
            (
                &[(STORE, "durable"), (STORE_MAX_DATA_BYTES, "100000")],
                STORE_MAX_DATA_BYTES,
            ),
            (
                &[(STORE, "durable"), (STORE_TIMEOUT_MS, "0")],
                STORE_TIMEOUT_MS,
            ),
        ];
        for (max_age, cache) in [
            ("300", "150"),
            ("120", "0"),
            ("120", "60"),
            ("7200", "3600"),
        ] {
            let c = parse(&[
                (HEALTH_MAX_AGE_SECONDS, max_age),
                (HEALTH_CACHE_SECONDS, cache),
            ])
            .unwrap();
            assert_eq!(c.health_cache_seconds.to_string(), cache);
        }
        // A max age set alone leaves room for the cache time's default.
        let c = parse(&[(HEALTH_MAX_AGE_SECONDS, "120")]).unwrap();
        assert_eq!(c.health_cache_seconds, 10);
        // A week at most.
        assert!(parse(&[(HEALTH_MAX_AGE_SECONDS, "604800")]).is_ok());
        assert_eq!(
            parse(&[(HEALTH_MAX_AGE_SECONDS, "604801")])
                .unwrap_err()
                .setting,
            HEALTH_MAX_AGE_SECONDS
        );
        // Dots within a segment, or in the query, are no dot segment.
        assert!(parse(&[(HEALTH_PATH, "/a.b/..c/.d/health?up=..")]).is_ok());
        // In the gateway's names and limits, not the JS option's.
        let err = parse(&[(SESSION_MAX_LIFETIME_SECONDS, "10")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SESSION_MAX_LIFETIME_SECONDS: 10 is shorter than SESSION_TTL_SECONDS, 3600"
        );
        assert!(parse(&[(SESSION_MAX_LIFETIME_SECONDS, "3600")]).is_ok());
        for (vars, setting) in cases {
            let err = parse(vars).unwrap_err();
            assert_eq!(err.setting, *setting, "{vars:?}: {err}");
            // The log line says "invalid configuration: " before it, once.
            assert!(!err.message.contains("invalid configuration"), "{err}");
        }
    }

    /// A setting given alone, at a value its own check accepts, is never an error naming another
    /// setting: a default that depends on it moves instead (the idle and cache times above).
    #[test]
    fn a_setting_given_alone_never_names_another() {
        let values = [
            "0",
            "1",
            "2",
            "9",
            "10",
            "19",
            "29",
            "30",
            "59",
            "60",
            "299",
            "300",
            "600",
            "1800",
            "3600",
            "7200",
            "86400",
            "100000",
            "604800",
            "4294967295",
            "0.1",
            "0.9",
            "1.0",
        ];
        let contexts: [&[(&str, &str)]; 5] = [
            &[],
            &[(STORE, "kv")],
            &[(DBSC, "on")],
            &[(SESSION_FORMAT, "jwt")],
            &[(ORIGIN_ASSERTION, "EdDSA")],
        ];
        let mut wrong = Vec::new();
        for context in contexts {
            assert!(parse(context).is_ok(), "{context:?}");
            for name in ALL {
                for value in values {
                    let mut vars = context.to_vec();
                    vars.push((name, value));
                    if let Err(e) = parse(&vars) {
                        if e.setting != name {
                            wrong.push(format!("{context:?} {name}={value}: {e}"));
                        }
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// `.dev.vars.example` is public: its secrets show the format and are refused, so that a
    /// copy of it deployed as it is (`wrangler secret bulk`) never runs on a published key.
    #[test]
    fn the_example_secrets_are_refused() {
        let example = include_str!("../../.dev.vars.example");
        let mut seen = 0;
        for line in example.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let err = parse(&[(name, value)]).unwrap_err();
            assert_eq!(err.setting, name, "{line}: {err}");
            seen += 1;
        }
        assert_eq!(seen, 2, "SESSION_KEYS and OPERATOR_TOKEN");
    }

    /// The setting comes from the field the core names, whatever its message says.
    #[test]
    fn core_errors_are_mapped_by_field_not_by_message() {
        let reworded =
            |field| Error::config_of(field, "keys: reworded, starting with another name");
        let cases = [
            (
                in_section(reworded("ttlSeconds"), &TOKEN_FIELDS, SESSION_KEYS),
                SESSION_TTL_SECONDS,
            ),
            (
                in_section(reworded("purpose"), &TOKEN_FIELDS, SESSION_KEYS),
                SESSION_KEYS,
            ),
            (
                in_section(
                    Error::config("ttlSeconds: no field"),
                    &TOKEN_FIELDS,
                    SESSION_KEYS,
                ),
                SESSION_KEYS,
            ),
            (
                in_section(reworded("secret"), &affinity_fields(true), ORIGINS),
                AFFINITY_SECRET,
            ),
            (
                in_section(reworded("secret"), &affinity_fields(false), ORIGINS),
                SESSION_KEYS,
            ),
            (
                in_section(reworded("idleSeconds"), &affinity_fields(false), ORIGINS),
                AFFINITY_IDLE_SECONDS,
            ),
            (
                in_section(reworded("domain"), &affinity_fields(false), ORIGINS),
                ORIGINS,
            ),
        ];
        for (err, setting) in cases {
            assert_eq!(err.setting, setting, "{err}");
        }
        let err = in_section(reworded("ttlSeconds"), &TOKEN_FIELDS, SESSION_KEYS);
        assert_eq!(
            err.to_string(),
            "SESSION_TTL_SECONDS: keys: reworded, starting with another name"
        );
    }

    /// A secret set under the wrong name (`wrangler secret put ORIGIN_ASSERTION` given the
    /// private JWK meant for `ORIGIN_ASSERTION_KEY`, the key list pasted into `SESSION_COOKIE`,
    /// the operator token into `STORE`) is refused without being quoted: the log line that
    /// names the setting ends up in tickets and log drains. Every setting, with each section
    /// that reads it turned on.
    #[test]
    fn a_secret_under_the_wrong_name_is_never_quoted() {
        let d = "9fT_xK2mQ-7vLw0RzN4bYc8sHj1aUe6pGi3oDk5nXqA";
        let b64 = "q7+/mZ2x9Wk3LrT0vNf8sYc1Hj6aUe4pGi5oDk2nXqA=";
        let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","kid":"ops-1"}}"#);
        let list = format!(r#"[{{"id":"k9","secret":"{d}"}}]"#);
        // AFFINITY_PREVIOUS_SECRETS's shape, and a secret as a member name.
        let previous = format!(r#"["{d}"]"#);
        let named = format!(r#"[{{"{d}":1}}]"#);
        let token = "op-9fT_xK2mQ-7vLw0RzN4b";
        let contexts: [&[(&str, &str)]; 6] = [
            &[],
            &[(STORE, "kv")],
            &[(STORE, "durable"), (DBSC, "on")],
            &[(ORIGIN_ASSERTION, "EdDSA")],
            &[(AFFINITY_MODE, "header"), (AFFINITY_HEADER, "x-tenant")],
            &[(SESSION_FORMAT, "jwt")],
        ];
        for setting in names::ALL {
            for (value, secret) in [
                (d, d),
                (b64, &b64[4..40]),
                (jwk.as_str(), d),
                (list.as_str(), d),
                (previous.as_str(), d),
                (named.as_str(), d),
                (token, token),
            ] {
                for context in contexts {
                    let mut vars = context.to_vec();
                    vars.push((setting, value));
                    let Err(err) = parse(&vars) else { continue };
                    let shown = err.to_string();
                    assert!(
                        !shown.contains(secret) && !shown.contains(&secret[4..20]),
                        "{setting} = {value} ({context:?}): {shown}"
                    );
                }
            }
        }
        // What names no secret is still said: a misspelt member, a short value.
        let typo = parse(&[(
            ORIGINS,
            r#"[{"id":"a","url":"http://a.example","wieght":2}]"#,
        )]);
        assert!(typo.unwrap_err().message.contains("unknown field `wieght`"));
        let secret = "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620";
        let extra = format!(r#"[{{"id":"k1","secret":"{secret}","current":true}}]"#);
        let err = parse(&[(SESSION_KEYS, &extra)]).unwrap_err();
        assert!(err.message.contains("unknown field `current`"), "{err}");
        // A name with a control character would break the log line: only where it went wrong.
        let escape = r#"[{"id":"a","url":"http://a.example","\n\u001b[2J":1}]"#;
        let unicode = r#"[{"id":"a","url":"http://a.example","\u009b2J\u2028":1}]"#;
        let err = parse(&[(ORIGINS, unicode)]).unwrap_err();
        assert!(err.message.contains("JSON of the wrong shape"), "{err}");
        let err = parse(&[(ORIGINS, escape)]).unwrap_err();
        assert!(
            err.message
                .ends_with("JSON of the wrong shape at line 1 column 49"),
            "{err}"
        );
        assert!(!err.message.contains(['\n', '\u{1b}']), "{err}");
        let err = parse(&[(STORE, "Durable")]).unwrap_err();
        assert_eq!(err.message, r#""Durable" is not one of none, kv, durable"#);
    }

    /// A base64url secret is a valid cookie name: set as SESSION_COOKIE, the errors about the
    /// DBSC key cookie named after it quoted it whole.
    #[test]
    fn a_secret_as_the_session_cookie_is_never_quoted() {
        let d = "9fT_xK2mQ-7vLw0RzN4bYc8sHj1aUe6pGi3oDk5nXqA";
        let key = key_cookie_name(d);
        let on = [(STORE, "durable"), (DBSC, "on"), (SESSION_COOKIE, d)];
        for extra in [
            [(DBSC_COOKIE, d), (COOKIE_SAMESITE, "Lax")],
            [(DBSC_COOKIE, key.as_str()), (COOKIE_SAMESITE, "Lax")],
            [(AFFINITY_COOKIE, key.as_str()), (COOKIE_SAMESITE, "Lax")],
        ] {
            let vars: Vec<_> = on.iter().chain(&extra).copied().collect();
            let shown = parse(&vars).unwrap_err().to_string();
            assert!(!shown.contains(&d[4..20]), "{extra:?}: {shown}");
        }
    }

    /// Whatever shape the secrets come in, no error shows them: the operator sees the setting
    /// and the reason in the log, clients a generic page (see `Page::config_error`).
    #[test]
    fn misshaped_secrets_are_never_quoted() {
        let secret = "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620";
        for (setting, text) in [
            (SESSION_KEYS, format!(r#"["{secret}"]"#)),
            (
                SESSION_KEYS,
                format!(r#"{{"id":"k1","secret":"{secret}"}}"#),
            ),
            (
                SESSION_KEYS,
                format!(r#"[{{"id":"{secret}","secret":"k1"}}]"#),
            ),
            (
                SESSION_KEYS,
                format!(r#"[{{"id":"{secret}x!","secret":"{secret}"}}]"#),
            ),
            (
                SESSION_KEYS,
                format!(r#"[{{"id":"k1","secret":"{secret}"}},{{"id":"k1","secret":"{secret}"}}]"#),
            ),
            (
                SESSION_KEYS,
                format!(r#"[{{"id":"k1","secret":{secret}}}]"#),
            ),
            (SESSION_KEYS, format!(r#"[{{"id":"k1","secret":"{secret}"#)),
            (
                SESSION_KEYS,
                format!(r#"[{{"id":"k1","secret":"{secret}","{secret}":1}}]"#),
            ),
            (SESSION_KEYS, secret.to_owned()),
            (
                AFFINITY_PREVIOUS_SECRETS,
                format!(r#"[{{"secret":"{secret}"}}]"#),
            ),
            (AFFINITY_PREVIOUS_SECRETS, secret.to_owned()),
        ] {
            let mut vars = vec![(setting, text.as_str())];
            if setting == AFFINITY_PREVIOUS_SECRETS {
                vars.push((AFFINITY_SECRET, AFFINITY));
            }
            let err = parse(&vars).unwrap_err();
            assert_eq!(err.setting, setting, "{text}");
            assert!(!err.to_string().contains(secret), "{text}: {err}");
            assert!(!err.to_string().contains(&secret[..12]), "{text}: {err}");
        }
    }

    /// Without quoting the JSON, a misshaped key list or origin list still says how and where
    /// it went wrong: not JSON, cut short, or JSON of another shape, at a line and column.
    #[test]
    fn misshaped_json_is_located() {
        let keys = r#"expected a JSON list of {"id", "secret"} objects"#;
        for (setting, text, said) in [
            (
                SESSION_KEYS,
                r#"[{"id":"k1",}]"#,
                format!("{keys}: not valid JSON at line 1 column 13"),
            ),
            (
                SESSION_KEYS,
                "[{\"id\":\"k1\"",
                format!("{keys}: JSON cut short at line 1 column 11"),
            ),
            (
                SESSION_KEYS,
                "[\n  \"k1\"\n]",
                format!("{keys}: JSON of the wrong shape at line 2 column 6"),
            ),
            (
                ORIGINS,
                r#"[{"id":"a","url":"http://a.example","weight":"2"}]"#,
                r#"not a JSON list of {"id", "url", "weight"} objects: JSON of the wrong shape at line 1 column 48"#.to_owned(),
            ),
        ] {
            let err = parse(&[(setting, text)]).unwrap_err();
            assert_eq!((err.setting, err.message), (setting, said), "{text}");
        }
    }

    #[test]
    fn errors_never_show_secrets() {
        let secret = "c2hvcnQtc2VjcmV0";
        let err = parse(&[(
            SESSION_KEYS,
            &format!(r#"[{{"id":"k1","secret":"{secret}"}}]"#),
        )])
        .unwrap_err();
        assert!(!err.to_string().contains(secret), "{err}");
        let err = parse(&[(
            SESSION_KEYS,
            &format!(r#"[{{"id":"k1","secret":"{secret}", "x":1}}]"#),
        )])
        .unwrap_err();
        assert!(!err.to_string().contains(secret), "{err}");
    }

    /// The operator token is handed to whatever watches `/__edge/health`: one of the signing
    /// secrets as the token would let its holder sign sessions and affinity values. Refused,
    /// naming OPERATOR_TOKEN without quoting it.
    #[test]
    fn the_operator_token_is_no_signing_secret() {
        let session = "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620";
        let old = secret_of(7);
        let two_keys =
            format!(r#"[{{"id":"k2","secret":"{AFFINITY}"}},{{"id":"k1","secret":"{session}"}}]"#);
        let previous = format!(r#"["{old}"]"#);
        for (vars, secret) in [
            (vec![(OPERATOR_TOKEN, session)], session),
            (
                vec![(SESSION_KEYS, two_keys.as_str()), (OPERATOR_TOKEN, session)],
                session,
            ),
            (
                vec![(AFFINITY_SECRET, AFFINITY), (OPERATOR_TOKEN, AFFINITY)],
                AFFINITY,
            ),
            (
                vec![
                    (AFFINITY_SECRET, AFFINITY),
                    (AFFINITY_PREVIOUS_SECRETS, previous.as_str()),
                    (OPERATOR_TOKEN, old.as_str()),
                ],
                old.as_str(),
            ),
        ] {
            let err = parse(&vars).unwrap_err();
            assert_eq!(err.setting, OPERATOR_TOKEN, "{vars:?}: {err}");
            assert!(!err.to_string().contains(secret), "{err}");
        }
        // A token of its own is taken.
        assert!(parse(&[(AFFINITY_SECRET, AFFINITY), (OPERATOR_TOKEN, &old)]).is_ok());

        // The same secret in another spelling the keys accept: padded (as `openssl rand
        // -base64 32` prints it), or in the standard alphabet.
        let url = (0..)
            .map(secret_of)
            .find(|s| s.contains(['-', '_']))
            .unwrap();
        let standard = url.replace('-', "+").replace('_', "/");
        assert_ne!(url, standard);
        let keys = format!(r#"[{{"id":"k1","secret":"{url}"}}]"#);
        for (vars, token) in [
            (vec![], format!("{session}==")),
            (vec![(SESSION_KEYS, keys.as_str())], format!("{standard}=")),
            (vec![(AFFINITY_SECRET, url.as_str())], standard.clone()),
        ] {
            let mut vars = vars;
            vars.push((OPERATOR_TOKEN, token.as_str()));
            let err = parse(&vars).unwrap_err();
            assert_eq!(err.setting, OPERATOR_TOKEN, "{vars:?}: {err}");
        }
    }

    /// Cookie names, the URL parameter and the claims every visitor sees, and what origins see
    /// (the assertions' issuer, the probes' path, the routing header): a signing secret pasted
    /// there, or the operator token, is refused naming the setting, never published. It was
    /// taken: the secret went out as the name of every visitor's cookie.
    #[test]
    fn no_public_value_is_a_secret() {
        let session = "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620";
        let token = "operator-token-0123456789";
        let host = format!("__Host-{session}");
        let (path, url) = (format!("/{session}"), format!("https://{session}.example"));
        let padded = format!("{session}==");
        let jwt = [
            (SESSION_FORMAT, "jwt"),
            (SESSION_JWT_ISSUER, "https://app.example"),
        ];
        let contexts = [
            (AFFINITY_COOKIE, session, vec![]),
            (AFFINITY_COOKIE, &host, vec![]),
            (AFFINITY_COOKIE, AFFINITY, vec![(AFFINITY_SECRET, AFFINITY)]),
            (SESSION_COOKIE, session, vec![]),
            (SESSION_COOKIE, token, vec![(OPERATOR_TOKEN, token)]),
            (STORE_COOKIE, session, vec![(STORE, "kv")]),
            (DBSC_COOKIE, &host, vec![(DBSC, "on")]),
            (AFFINITY_PARAM, session, vec![(AFFINITY_MODE, "url")]),
            (
                AFFINITY_HEADER,
                session,
                vec![(AFFINITY_MODE, "header"), (AFFINITY_HEADER, "x-tenant")],
            ),
            (SESSION_JWT_ISSUER, &url, vec![jwt[0]]),
            (SESSION_JWT_AUDIENCE, &padded, jwt.to_vec()),
            (
                ORIGIN_ASSERTION_ISSUER,
                &url,
                vec![(ORIGIN_ASSERTION, "EdDSA")],
            ),
            (HEALTH_PATH, &path, vec![]),
        ];
        for (setting, value, mut vars) in contexts {
            let own = parse(&vars);
            assert!(own.is_ok(), "{setting}: {own:?}");
            vars.push((setting, value));
            let err = parse(&vars).unwrap_err();
            assert_eq!(err.setting, setting, "{vars:?}: {err}");
            assert!(err.to_string().contains("its value is public"), "{err}");
            assert!(!err.to_string().contains(&session[4..20]), "{err}");
        }
    }

    /// A key id travels in every session cookie, an ORIGIN_ASSERTION_KEY kid in the public
    /// JWKS: one that is a signing secret (an affinity one too, in any spelling the keys take)
    /// or the operator token is refused, naming SESSION_KEYS without quoting it.
    #[test]
    fn no_key_id_is_a_secret() {
        let session = "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620";
        let old = secret_of(7);
        let previous = format!(r#"["{old}"]"#);
        let token = "operator-token-0123456789";
        let keys = |id: &str| format!(r#"[{{"id":"{id}","secret":"{session}"}}]"#);
        let d = secret_of(9);
        let jwk = |kid: &str| format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","kid":"{kid}"}}"#);
        let (by_affinity, by_previous, by_token) = (keys(AFFINITY), keys(&old), keys(token));
        let (k1, by_d, own) = (keys("k1"), keys(&d), jwk("ops-1"));
        let (kid_secret, kid_token) = (jwk(session), jwk(token));
        for (vars, secret) in [
            (
                vec![
                    (AFFINITY_SECRET, AFFINITY),
                    (SESSION_KEYS, by_affinity.as_str()),
                ],
                AFFINITY,
            ),
            (
                vec![
                    (AFFINITY_SECRET, AFFINITY),
                    (AFFINITY_PREVIOUS_SECRETS, previous.as_str()),
                    (SESSION_KEYS, by_previous.as_str()),
                ],
                old.as_str(),
            ),
            (
                vec![(OPERATOR_TOKEN, token), (SESSION_KEYS, by_token.as_str())],
                token,
            ),
            // An ORIGIN_ASSERTION_KEY kid is published in the JWKS: neither a session secret
            // nor the operator token; and no session key id is the assertion key's d.
            (
                vec![
                    (SESSION_KEYS, k1.as_str()),
                    (ORIGIN_ASSERTION, "EdDSA"),
                    (ORIGIN_ASSERTION_KEY, kid_secret.as_str()),
                ],
                session,
            ),
            (
                vec![
                    (OPERATOR_TOKEN, token),
                    (SESSION_KEYS, k1.as_str()),
                    (ORIGIN_ASSERTION, "EdDSA"),
                    (ORIGIN_ASSERTION_KEY, kid_token.as_str()),
                ],
                token,
            ),
            (
                vec![
                    (SESSION_KEYS, by_d.as_str()),
                    (ORIGIN_ASSERTION, "EdDSA"),
                    (ORIGIN_ASSERTION_KEY, own.as_str()),
                ],
                d.as_str(),
            ),
        ] {
            let err = parse(&vars).unwrap_err();
            assert_eq!(err.setting, SESSION_KEYS, "{vars:?}: {err}");
            assert!(err.to_string().contains("ids are public"), "{err}");
            assert!(!err.to_string().contains(secret), "{err}");
        }
        // Ids of their own are taken.
        assert!(parse(&[
            (AFFINITY_SECRET, AFFINITY),
            (OPERATOR_TOKEN, token),
            (SESSION_KEYS, k1.as_str()),
            (ORIGIN_ASSERTION, "EdDSA"),
            (ORIGIN_ASSERTION_KEY, own.as_str()),
        ])
        .is_ok());
    }

    /// `Debug` of the checked settings (what a `{:?}` in a log line would print) shows no
    /// secret: not the session keys, not the affinity secrets, not the operator token.
    #[test]
    fn debug_shows_no_secret() {
        let token = "operator-token-0123456789";
        let previous = secret_of(4);
        let c = parse(&[
            (OPERATOR_TOKEN, token),
            (AFFINITY_SECRET, AFFINITY),
            (AFFINITY_PREVIOUS_SECRETS, &format!(r#"["{previous}"]"#)),
            (STORE, "kv"),
            (DBSC, "on"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        for secret in [
            token,
            AFFINITY,
            previous.as_str(),
            "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // That a token is set shows.
        assert!(
            shown.contains("operator_token: Some(OperatorToken(<redacted>))"),
            "{shown}"
        );
    }

    #[test]
    fn dbsc_settings() {
        assert!(parse(&[]).unwrap().dbsc.is_none());
        assert!(parse(&[(DBSC, "off"), (DBSC_BOUND_SECONDS, "5")])
            .unwrap()
            .dbsc
            .is_none());
        let d = parse(&[(DBSC, "on")]).unwrap().dbsc.unwrap();
        assert_eq!(d.bound_seconds, 600);
        assert_eq!(
            d.bound_cookie.header("v", Some(600)).unwrap(),
            "__Host-session-bound=v; Max-Age=600; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            d.key_cookie.header("v", None).unwrap(),
            "__Secure-session-key=v; Path=/__edge/dbsc/; Secure; HttpOnly; SameSite=Strict"
        );
        let d = parse(&[
            (DBSC, "on"),
            (DBSC_BOUND_SECONDS, "300"),
            (DBSC_COOKIE, "bound"),
            (SESSION_COOKIE, "__Secure-s"),
            (COOKIE_SAMESITE, "Strict"),
        ])
        .unwrap()
        .dbsc
        .unwrap();
        assert_eq!(d.bound_seconds, 300);
        assert_eq!(d.bound_cookie.name(), "bound");
        assert_eq!(d.key_cookie.name(), "__Secure-s-key");
        assert!(d
            .bound_cookie
            .header("v", None)
            .unwrap()
            .ends_with("SameSite=Strict"));
        assert_eq!(key_cookie_name("sess"), "__Secure-sess-key");
        assert_eq!(key_cookie_name("__host-x"), "__Secure-x-key");

        for (vars, setting) in [
            (vec![(DBSC, "yes")], DBSC),
            (
                vec![(DBSC, "on"), (DBSC_BOUND_SECONDS, "59")],
                DBSC_BOUND_SECONDS,
            ),
            // Under 300 s Chrome's signing quota runs out (see dbsc::MIN_BOUND_SECONDS).
            (
                vec![(DBSC, "on"), (DBSC_BOUND_SECONDS, "60")],
                DBSC_BOUND_SECONDS,
            ),
            (
                vec![(DBSC, "on"), (DBSC_BOUND_SECONDS, "299")],
                DBSC_BOUND_SECONDS,
            ),
            (
                vec![(DBSC, "on"), (DBSC_BOUND_SECONDS, "86401")],
                DBSC_BOUND_SECONDS,
            ),
            (
                vec![(DBSC, "on"), (DBSC_BOUND_SECONDS, "ten")],
                DBSC_BOUND_SECONDS,
            ),
            (
                vec![(DBSC, "on"), (DBSC_COOKIE, "__Host-session")],
                DBSC_COOKIE,
            ),
            (
                vec![(DBSC, "on"), (DBSC_COOKIE, "__Host-affinity")],
                DBSC_COOKIE,
            ),
            (
                vec![(DBSC, "on"), (DBSC_COOKIE, "__Secure-session-key")],
                DBSC_COOKIE,
            ),
            (
                vec![(DBSC, "on"), (STORE, "kv"), (DBSC_COOKIE, "__Host-sid")],
                DBSC_COOKIE,
            ),
            (vec![(DBSC, "on"), (DBSC_COOKIE, "a b")], DBSC_COOKIE),
            (
                vec![(DBSC, "on"), (AFFINITY_COOKIE, "__Secure-session-key")],
                SESSION_COOKIE,
            ),
        ] {
            let err = parse(&vars).unwrap_err();
            assert_eq!(err.setting, setting, "{vars:?}: {err}");
            assert!(!err.message.contains("invalid configuration"), "{err}");
        }
    }
}
