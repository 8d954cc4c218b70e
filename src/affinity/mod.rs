//! Affinity (sticky session) routing: the same visitor to the same backend, decided alike at
//! every edge location with no central balancer and no shared state.
//!
//! - [`config`]: the settings, [`Mode`] (cookie, URL, IP, header) and [`Failover`].
//! - [`backends`]: the backend set with weights, health and draining.
//! - `rendezvous`: weighted rendezvous (highest random weight) hashing keyed with the secret:
//!   taking a backend out moves only the keys it held, adding one moves about 1/N of the keys.
//! - `value`: the signed, opaque affinity value (backend, visitor, issued-at, last-seen) that
//!   cookie and URL modes hand to the client; the server enforces its idle time and lifetime.
//! - `url`: the affinity parameter in a URL's query.
//! - [`router`]: [`Affinity`], which ties them together.
//!
//! ```
//! use edge_session::affinity::{Affinity, AffinityConfig, BackendConfig, Mode, RouteRequest};
//!
//! let mut config = AffinityConfig::new(
//!     "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA",
//!     vec![BackendConfig::new("a"), BackendConfig::new("b"), BackendConfig::new("c")],
//! );
//! config.mode = Mode::Header;
//! let affinity = Affinity::new(config)?;
//! let request = RouteRequest { header: Some("tenant-42"), ..RouteRequest::default() };
//! let backend = affinity.route(&request, 1_800_000_000)?.backend;
//! // Deterministic: the same key goes to the same backend, here, elsewhere, and tomorrow.
//! assert_eq!(affinity.route(&request, 1_900_000_000)?.backend, backend);
//! # Ok::<(), edge_session::Error>(())
//! ```

pub mod backends;
pub mod config;
mod rendezvous;
pub mod router;
pub(crate) mod url;
pub(crate) mod value;

pub use backends::BackendConfig;
pub use config::{AffinityConfig, Failover, Mode};
pub use router::{Affinity, Route, RouteRequest};
