//! The edge session gateway: a worker in front of origin servers that verifies sessions and
//! routes each visitor to its origin. Deployed with `wrangler deploy` (see wrangler.toml and
//! docs/gateway.md).
//!
//! Everything here but `worker` and `durable` (feature `gateway`: the workers-rs glue and the
//! session Durable Object class) is plain Rust, tested natively:
//!
//! - [`config`]: `[vars]` and secrets into a checked [`GatewayConfig`]; errors name the setting.
//! - [`headers`]: which headers cross, in each direction; `x-session-*` belongs to the gateway.
//! - [`session`]: the session cookie in (verified, forwarded as identity headers) and out
//!   (issued on an origin's `x-session-issue`, refreshed, cleared on `x-session-clear`).
//! - [`health`]: passive marks and the shared snapshot the cron trigger writes to KV.
//! - [`pipeline`]: [`Gateway`]: start, retry on failure, finish.
//! - [`store`]: server-side session data (`STORE = "kv" | "durable"`): to the origin in
//!   `x-session-data`, back as a merge patch, committed with compare-and-set; revocation
//!   ("log out everywhere", `x-session-revoke`) kept in the same store.
//! - [`assertion`]: `ORIGIN_ASSERTION`: the signed `x-session-assertion` for origins, its
//!   claims from the identity headers, and the JWKS page.
//! - [`dbsc`]: device-bound sessions (`DBSC = "on"`): the registration offer at login, the
//!   public `/__edge/dbsc/` endpoints, and the bound cookie a bound session needs.
//! - [`operator`]: `/__edge/` endpoints behind a bearer token.
//! - [`pages`]: the gateway's own answers (500 configuration, 503 all down...).
//! - `jar` (tests only): a browser's cookie jar.
//! - `combinations` (tests only): the features together, each session format with and without
//!   a store, DBSC, an origin assertion and URL affinity, against every set of directives.
//! - `faults` (tests only): a store that fails one operation of a request, each in turn, and
//!   the invariants that hold whatever failed.
//! - `worker` (feature `gateway`): the event handlers and the per-instance state; beside them
//!   the HTTP conversions, the proxied request's I/O, the operator endpoints' I/O, the DBSC
//!   endpoints' I/O (WebCrypto, single use of a challenge), and the KV snapshot and cron probes.

/// Writes `line` to the worker's log (`wrangler tail`, Workers Logs) at `level`: 2
/// `console.error`, 1 `console.warn`, 0 `console.log`. One copy of that code, which worker's
/// `console_error!`, `console_warn!` and `console_log!` repeat at each of their call sites;
/// `log_error!`, `log_warn!` and `log_info!` call it.
#[cfg(feature = "gateway")]
#[inline(never)]
fn log(level: u8, line: std::fmt::Arguments<'_>) {
    use ::worker::web_sys::console;
    let line = ::worker::wasm_bindgen::JsValue::from(line.to_string());
    match level {
        2 => console::error_1(&line),
        1 => console::warn_1(&line),
        _ => console::log_1(&line),
    }
}

/// `console.error` of a formatted line ([`log`]).
#[cfg(feature = "gateway")]
macro_rules! log_error {
    ($($t:tt)*) => {
        $crate::gateway::log(2, format_args!($($t)*))
    };
}

/// `console.warn` of a formatted line ([`log`]).
#[cfg(feature = "gateway")]
macro_rules! log_warn {
    ($($t:tt)*) => {
        $crate::gateway::log(1, format_args!($($t)*))
    };
}

/// `console.log` of a formatted line ([`log`]).
#[cfg(feature = "gateway")]
macro_rules! log_info {
    ($($t:tt)*) => {
        $crate::gateway::log(0, format_args!($($t)*))
    };
}

pub mod assertion;
#[cfg(test)]
mod combinations;
pub mod config;
pub mod dbsc;
#[cfg(feature = "gateway")]
pub mod durable;
#[cfg(test)]
mod faults;
pub mod headers;
pub mod health;
#[cfg(test)]
mod jar;
pub mod operator;
pub mod pages;
pub mod pipeline;
pub mod session;
pub mod store;
#[cfg(feature = "gateway")]
pub mod worker;

pub use config::{ConfigError, GatewayConfig, Origin, StoreKind, StoreSettings};
pub use pipeline::{Answer, Attempt, Entropy, Gateway, Request, Retry, Step};
