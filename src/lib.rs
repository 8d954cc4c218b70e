//! # edge-session
//!
//! Sessions that keep working when an application runs on many servers, decided at the edge:
//! compact signed session tokens with key rotation and purpose binding, in a pure Rust core
//! with no platform types, and a JavaScript face compiled to WebAssembly.
//!
//! ```
//! use edge_session::{KeyConfig, SessionTokens, TokenConfig};
//! use serde_json::json;
//!
//! let mut config = TokenConfig::new(vec![
//!     KeyConfig { id: "k2".into(), secret: "bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQtbmV3".into() },
//!     KeyConfig { id: "k1".into(), secret: "b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQtb2xk".into() },
//! ]);
//! config.ttl_seconds = 600;
//! let tokens = SessionTokens::new(config)?;
//! let token = tokens.sign(&json!({ "sub": "user-12345", "role": "admin" }), 1_800_000_000)?;
//! let verified = tokens.verify_detailed::<serde_json::Value>(&token, 1_800_000_060)?;
//! assert_eq!(verified.claims["role"], "admin");
//! assert_eq!(verified.key_id, "k2");
//! # Ok::<(), edge_session::Error>(())
//! ```
//!
//! ## Modules
//!
//! - [`affinity`]: sticky-session routing (cookie, URL, IP and header modes) by weighted
//!   rendezvous hashing keyed with the secret, with signed, server-expired affinity values,
//!   health, failover and draining.
//! - [`gateway`]: the edge session gateway's pipeline (configuration, identity headers, health,
//!   failover), plain Rust; its worker glue is behind the `gateway` feature.
//! - [`cookie`]: `Cookie` header parsing and `Set-Cookie` building with prefix rules.
//! - [`jwt`]: JWT HS256 interop on [`SessionTokens`] (`sign_jwt`, `verify_jwt`), same keyring.
//! - [`sealed`] (feature `sealed`): [`SealedTokens`], claims encrypted with XChaCha20-Poly1305.
//! - [`refresh`]: sliding refresh with an absolute limit (`refresh`, claim `auth_time`).
//! - [`claims`]: [`VerifyOptions`]: issuer, audience and revocation (`minIssuedAt`).
//!
//! ## Features
//!
//! - `js` (default): the JavaScript face, built with wasm-bindgen, with TypeScript types:
//!   `SessionTokens`, `Affinity`. Errors are thrown as `Error` objects with a stable `.code`.
//! - `sealed` (default): [`SealedTokens`] (and `SealedTokens` in JavaScript with `js`); brings
//!   `chacha20poly1305` and `getrandom` (on wasm32 through `crypto.getRandomValues`).
//! - `gateway`: the gateway worker (`gateway::worker`, workers-rs `#[event(fetch)]` and
//!   `#[event(scheduled)]`), built by worker-build with `--no-default-features --features
//!   gateway` (see wrangler.toml). The rest of [`gateway`] is pure and always compiled.
//!
//! Without features the crate is the pure core, usable natively.

pub mod affinity;
pub mod claims;
mod codec;
pub mod cookie;
pub mod error;
pub mod gateway;
pub mod jwt;
pub mod keys;
pub mod refresh;
#[cfg(feature = "sealed")]
pub mod sealed;
pub mod time;
pub mod token;

#[cfg(feature = "js")]
mod js;

pub use affinity::{Affinity, AffinityConfig, BackendConfig, Route, RouteRequest};
pub use claims::{MinIssuedAt, VerifyOptions};
pub use error::{Error, Result};
pub use jwt::JwtSignOptions;
pub use keys::{KeyConfig, KeyRing, Secret};
#[cfg(feature = "sealed")]
pub use sealed::SealedTokens;
pub use time::UnixTime;
pub use token::{SessionTokens, TokenConfig, Verified};
