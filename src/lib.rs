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
//! - [`gateway`] (needs `sealed`): the edge session gateway's pipeline (configuration, identity
//!   headers, health, failover, session data), plain Rust; its worker glue is behind the
//!   `gateway` feature.
//! - [`store`] (needs `sealed`): session stores (memory; Workers KV and Durable Objects with
//!   `store` or `gateway`), records encrypted at rest, and the manager [`store::Sessions`]:
//!   signed session-id cookies, idle and absolute timeouts, throttled touches, compare-and-set,
//!   `regenerate`, `destroy`, revocation. See docs/store.md.
//! - [`dbsc`]: Device Bound Session Credentials: the browser's proof JWT, its public key and
//!   RFC 7638 thumbprint, stateless challenges and bound cookies, the session config, and the
//!   checks of registration and refresh that the gateway and `DeviceBoundSessions` share.
//! - [`token`]: the token core: [`SessionTokens`] and [`SealedTokens`] over their formats
//!   (compact, sealed, JWT), with the modules below re-exported at the top level.
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
//! - `talc` (default): on wasm32, [Talc](https://docs.rs/talc) as the global allocator, smaller
//!   and faster than Rust's default dlmalloc. Turn it off when linking this crate into a wasm
//!   binary that sets its own `#[global_allocator]`.
//! - `gateway`: the gateway worker (`gateway::worker`, workers-rs `#[event(fetch)]` and
//!   `#[event(scheduled)]`), built by worker-build with `--no-default-features --features
//!   gateway` (see wrangler.toml), with its session Durable Object class `EdgeSessionObject`.
//!   The rest of [`gateway`] is pure and compiled whenever `sealed` is on. Turns on `sealed`.
//!   Needs Rust 1.91 (workers-rs 0.8.7), where the rest of the crate needs 1.88.
//! - `store`: session stores for JavaScript workers: `SessionStore` over a KV namespace or a
//!   Durable Object binding (async methods returning Promises), `handleSessionObject` for the
//!   Durable Object class. Off by default (it grows the wasm). Turns on `js` and `sealed`.
//! - `assertion`: `OriginAssertions` for JavaScript: the gateway's signed assertions for origins
//!   (`x-session-assertion`, EdDSA or ES256 through WebCrypto), made, published as a JWKS and
//!   verified by a JS worker that proxies itself. Off by default: it adds async glue to the wasm.
//!   Turns on `js`.
//! - `dbsc`: the WebCrypto verification of device-bound session proofs for the JavaScript face
//!   (`DeviceBoundSessions`, on the pure core [`dbsc`], which is always compiled). Off by
//!   default: it adds async glue to the wasm. Turns on `js`.
//! - `conformance` (tests only): `store` plus `runStoreConformance`, the store conformance suite
//!   exported to JavaScript for the end-to-end tests.
//! - `gateway-conformance` (tests only): `gateway` plus the store conformance suite behind
//!   `GET /__edge/store/conformance` (with `STORE_TESTS=1`), the gateway's test build (`make
//!   gateway-test`) for the end-to-end tests. Production builds leave it out.
//!
//! This repository builds for wasm32 with `-C target-feature=+simd128` (`.cargo/config.toml`):
//! SHA-256 then runs its SIMD message schedule. A binary of your own that links this crate for
//! wasm32 gets it by setting the same flag.
//!
//! Without features the crate is the pure core, usable natively.
//!
// Without `sealed`, the links above to what it gates lead to the feature list (link reference
// definitions: they need the empty line above, which ends the paragraph).
#![cfg_attr(
    not(feature = "sealed"),
    doc = "[`gateway`]: crate#features",
    doc = "[`store`]: crate#features",
    doc = "[`store::Sessions`]: crate#features",
    doc = "[`sealed`]: crate#features",
    doc = "[`SealedTokens`]: crate#features"
)]

pub mod affinity;
mod codec;
pub mod cookie;
pub mod dbsc;
pub mod error;
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "sealed")]
pub mod gateway;
mod json;
mod jws;
pub mod keys;
#[cfg(any(feature = "sealed", feature = "dbsc"))]
mod random;
#[cfg(feature = "sealed")]
pub mod store;
pub mod time;
pub mod token;

#[cfg(feature = "js")]
mod js;
#[cfg(any(feature = "gateway", feature = "assertion", feature = "dbsc"))]
mod webcrypto;

/// Talc instead of Rust's default dlmalloc: about 7 KB less wasm, and faster.
#[cfg(all(
    feature = "talc",
    target_arch = "wasm32",
    not(target_feature = "atomics")
))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use affinity::{Affinity, AffinityConfig, BackendConfig, Route, RouteRequest};
pub use claims::{MinIssuedAt, VerifyOptions};
pub use error::{Error, Result};
pub use jwt::JwtSignOptions;
pub use keys::{KeyConfig, KeyRing, Secret};
pub use time::UnixTime;
#[cfg(feature = "sealed")]
pub use token::sealed;
#[cfg(feature = "sealed")]
pub use token::SealedTokens;
pub use token::{claims, jwt, refresh};
pub use token::{SessionTokens, TokenConfig, Verified};

#[cfg(test)]
mod tests {
    /// The features that Cargo.toml declares (`default` aside), in its order, each with the
    /// features it turns on (not its optional dependencies). Read from the manifest's text: one
    /// entry a line as written here, or its list over several lines as `cargo package` writes it.
    fn declared_features() -> Vec<(&'static str, Vec<&'static str>)> {
        let manifest = include_str!("../Cargo.toml");
        let mut features = Vec::new();
        let mut lines = manifest
            .lines()
            .skip_while(|line| line.trim() != "[features]")
            .skip(1)
            .take_while(|line| !line.starts_with('['))
            .filter(|line| !line.trim_start().starts_with('#'));
        while let Some(line) = lines.next() {
            let Some((name, mut list)) = line.split_once(" = ") else {
                continue;
            };
            let mut entries = Vec::new();
            loop {
                entries.extend(
                    list.split(',')
                        .map(|e| e.trim().trim_matches(|c| c == '[' || c == ']' || c == '"'))
                        .filter(|e| !e.is_empty() && !e.starts_with("dep:")),
                );
                if list.contains(']') {
                    break;
                }
                list = lines.next().expect("a feature's list ends with ]");
            }
            if name.trim() != "default" {
                features.push((name.trim(), entries));
            }
        }
        features
    }

    /// The crate docs' feature list (`- `name`: ...` under `## Features`), in its order, each
    /// with its text.
    fn documented_features() -> Vec<(&'static str, String)> {
        let mut features: Vec<(&'static str, String)> = Vec::new();
        let section = include_str!("lib.rs")
            .lines()
            .map_while(|line| line.strip_prefix("//!"))
            .skip_while(|line| line.trim() != "## Features")
            .skip(1)
            .take_while(|line| !line.starts_with(" ##"));
        for line in section {
            match line.strip_prefix(" - `").and_then(|l| l.split_once('`')) {
                Some((name, rest)) => features.push((name, rest.to_owned())),
                None if line.starts_with("   ") => {
                    if let Some((_, text)) = features.last_mut() {
                        text.push_str(line);
                    }
                }
                None => {}
            }
        }
        features
    }

    /// A native server shares these across threads (in an `Arc`, or a clone per task): they
    /// stay `Send + Sync`. (The stores and their futures are `?Send` by design: see
    /// [`store`]'s docs.)
    #[test]
    fn shared_types_are_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<crate::SessionTokens>();
        shareable::<crate::TokenConfig>();
        shareable::<crate::KeyRing>();
        shareable::<crate::Secret>();
        shareable::<crate::Affinity>();
        shareable::<crate::AffinityConfig>();
        shareable::<crate::Error>();
        shareable::<crate::cookie::SetCookie>();
        shareable::<crate::token::assertion::AssertionKey>();
        shareable::<crate::token::assertion::AssertionCache>();
        shareable::<crate::dbsc::Challenges>();
        shareable::<crate::dbsc::BoundCookies>();
        shareable::<crate::dbsc::DeviceBinding>();
        #[cfg(feature = "sealed")]
        {
            shareable::<crate::SealedTokens>();
            shareable::<crate::store::SessionConfig>();
            shareable::<crate::store::Session>();
            shareable::<crate::gateway::Gateway>();
            shareable::<crate::gateway::GatewayConfig>();
            // Over any backend that is, a native server's own (README, From Rust; its futures
            // are `?Send`, see `store`): checked for every such backend where this compiles.
            #[allow(dead_code)]
            fn sessions<B: crate::store::Backend + Send + Sync>() {
                shareable::<crate::store::Sessions<B>>();
            }
        }
    }

    /// A user reads the crate docs to learn what each feature does: they list every feature
    /// of Cargo.toml, and no feature Cargo.toml does not have.
    #[test]
    fn crate_docs_list_every_feature() {
        let declared: Vec<_> = declared_features().into_iter().map(|(f, _)| f).collect();
        assert!(declared.contains(&"sealed"), "{declared:?}");
        let documented: Vec<_> = documented_features().into_iter().map(|(f, _)| f).collect();
        assert!(documented.contains(&"sealed"), "{documented:?}");
        let missing: Vec<_> = declared
            .iter()
            .filter(|f| !documented.contains(f))
            .collect();
        let unknown: Vec<_> = documented
            .iter()
            .filter(|f| !declared.contains(f))
            .collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "undocumented features: {missing:?}; documented but not declared: {unknown:?}"
        );
    }

    /// Each feature's entry in the crate docs names the features it turns on (`store` turns on
    /// `js` and `sealed`...): a user who turns on one learns what else comes with it.
    #[test]
    fn crate_docs_name_what_each_feature_turns_on() {
        let documented = documented_features();
        let declared = declared_features();
        assert!(
            declared
                .iter()
                .any(|(f, on)| *f == "store" && on.contains(&"sealed")),
            "{declared:?}"
        );
        for (feature, turns_on) in declared {
            let Some((_, text)) = documented.iter().find(|(f, _)| *f == feature) else {
                continue; // crate_docs_list_every_feature's failure
            };
            for other in turns_on {
                assert!(
                    text.contains(&format!("`{other}`")),
                    "the crate docs of `{feature}` do not name `{other}`, which it turns on: {text}"
                );
            }
        }
    }
}
