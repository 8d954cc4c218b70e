//! The router: picks a backend for each request and keeps visitors where they are.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use super::backends::Backends;
use super::config::{AffinityConfig, Failover, Mode};
use super::rendezvous::{Domain, Rendezvous};
use super::url;
use super::value::{AffinityValue, ValueKey};
use crate::cookie::{self, is_tchar, SetCookie, MAX_PRESENTED};
use crate::error::{configured, Error, Quoted, Result};
use crate::keys::Secret;
use crate::time::{UnixTime, MAX_TIME};

/// How far in the future a value's last-seen time may lie (clock skew between edge
/// locations) and still be honoured, in seconds.
pub const CLOCK_SKEW_SECONDS: u64 = 60;

/// How many previous secrets a router keeps (each is one more HMAC for a forged value).
pub(crate) const MAX_PREVIOUS_SECRETS: usize = 8;

/// What `route` needs from a request. Every field is optional; which are read depends on the
/// mode.
///
/// ```
/// use edge_session::affinity::RouteRequest;
/// let request = RouteRequest { client_ip: Some("192.0.2.7"), ..RouteRequest::default() };
/// # let _ = request;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteRequest<'a> {
    /// The `Cookie` header (cookie mode).
    pub cookie: Option<&'a str>,
    /// The request URL, absolute or relative (URL mode, where it is required).
    pub url: Option<&'a str>,
    /// The client address, for example `CF-Connecting-IP` (IP mode).
    pub client_ip: Option<&'a str>,
    /// The value of the configured header (header mode).
    pub header: Option<&'a str>,
    /// Cookie mode: the request's method (`None` reads as GET). With [`fetch_site`]: a
    /// cross-site request that the browser withheld the cookie from
    /// ([`SetCookie::withheld_from`](crate::cookie::SetCookie::withheld_from): a form another
    /// site posts; with `SameSite=Strict`, any) and that presented none is routed as a new
    /// visitor's but gets no [`Route::set_cookie`]: the browser would keep it in place of the
    /// visitor's own, and any site could move visitors off their backend with a form.
    ///
    /// [`fetch_site`]: RouteRequest::fetch_site
    pub method: Option<&'a str>,
    /// Cookie mode: the request's `Sec-Fetch-Site` header (see [`method`](RouteRequest::method)).
    pub fetch_site: Option<&'a str>,
    /// Random bits for a new visitor's id. Mixed with a per-router counter and the time, so a
    /// constant still spreads visitors, but fresh randomness per request is best.
    pub entropy: u64,
}

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    /// The chosen backend's id.
    pub backend: &'a str,
    /// True when the visitor was moved, so that its state in the backend's memory is not
    /// there: the request carried an affinity value that was not honoured (forged, altered,
    /// expired, naming a backend no longer configured, or naming a backend that is down); in
    /// the hashing modes, its key's first choice is down or draining (on every request while
    /// that lasts; never for a request without a key).
    pub reassigned: bool,
    /// Cookie mode: a `Set-Cookie` header value to send back, when a value was issued or
    /// refreshed (not on every request).
    pub set_cookie: Option<String>,
    /// URL mode: the request URL with the affinity parameter set, when a value was issued or
    /// refreshed; redirect to it or use it in links.
    pub url: Option<String>,
}

/// A [`Route`] with the backend as its index in the configuration (for the faces, which
/// keep per-backend values of their own).
pub(crate) struct Decision {
    pub(crate) index: usize,
    pub(crate) reassigned: bool,
    pub(crate) set_cookie: Option<String>,
    pub(crate) url: Option<String>,
}

/// Affinity (sticky session) routing: the same visitor to the same backend, decided alike at
/// every edge location with no shared state.
///
/// ```
/// use edge_session::affinity::{Affinity, AffinityConfig, BackendConfig, RouteRequest};
///
/// let mut affinity = Affinity::new(AffinityConfig::new(
///     "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA",
///     vec![BackendConfig::new("a"), BackendConfig::weighted("b", 2)],
/// ))?;
/// let now = 1_800_000_000;
/// // A new visitor gets a backend and a cookie that pins it there.
/// let first = affinity.route(&RouteRequest { entropy: 7, ..Default::default() }, now)?;
/// let backend = first.backend.to_owned();
/// let set_cookie = first.set_cookie.unwrap();
/// assert!(set_cookie.starts_with("__Host-affinity="));
///
/// // The browser sends the cookie back: same backend, no new cookie until half the idle time.
/// let cookie = set_cookie.split(';').next().unwrap();
/// let again = affinity.route(&RouteRequest { cookie: Some(cookie), ..Default::default() }, now + 60)?;
/// assert_eq!((again.backend, again.reassigned, again.set_cookie), (backend.as_str(), false, None));
///
/// // Its backend goes down: the visitor moves, and says so.
/// affinity.set_healthy(&backend, false)?;
/// let moved = affinity.route(&RouteRequest { cookie: Some(cookie), ..Default::default() }, now + 120)?;
/// assert!(moved.reassigned && moved.backend != backend && moved.set_cookie.is_some());
/// # Ok::<(), edge_session::Error>(())
/// ```
pub struct Affinity {
    mode: Mode,
    failover: Failover,
    backends: Backends,
    ring: Rendezvous,
    values: ValueKey,
    ttl: u64,
    idle: u64,
    cookie: SetCookie,
    param: String,
    header: Option<String>,
    visitors: AtomicU64,
}

/// A copy with the same settings and the same view of backend health and draining (the
/// gateway's settings hold the router they were checked by, and are `Clone`).
impl Clone for Affinity {
    fn clone(&self) -> Self {
        Affinity {
            mode: self.mode,
            failover: self.failover,
            backends: self.backends.clone(),
            ring: self.ring.clone(),
            values: self.values.clone(),
            ttl: self.ttl,
            idle: self.idle,
            cookie: self.cookie.clone(),
            param: self.param.clone(),
            header: self.header.clone(),
            visitors: AtomicU64::new(self.visitors.load(Ordering::Relaxed)),
        }
    }
}

impl fmt::Debug for Affinity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Affinity")
            .field("mode", &self.mode)
            .field("failover", &self.failover)
            .field("backends", &self.backends)
            .field("ttl", &self.ttl)
            .field("idle", &self.idle)
            .field("cookie", &self.cookie)
            .field("param", &self.param)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Affinity {
    /// Checks the configuration; `invalid_config` names the setting that is wrong (short
    /// secret, no backends, duplicate ids, zero weights, idle longer than ttl, cookie
    /// attributes breaking the prefix rules...). All backends start healthy, not draining.
    pub fn new(config: AffinityConfig) -> Result<Self> {
        Self::checked(&config)
    }

    /// [`Affinity::new`] of a configuration it borrows: `new` drops it in one place, where each
    /// early return dropped what was left of it (a copy of the drop code each: 250 B gzipped of
    /// the JS wasm); the few strings kept are copied.
    fn checked(config: &AffinityConfig) -> Result<Self> {
        let secret = Secret::from_base64(&config.secret)
            .map_err(|e| Error::config_of("secret", format!("secret: {}", e.detail())))?;
        if config.previous_secrets.len() > MAX_PREVIOUS_SECRETS {
            return Err(Error::config_of(
                "previousSecrets",
                format!("previousSecrets: at most {MAX_PREVIOUS_SECRETS}"),
            ));
        }
        let mut previous = Vec::with_capacity(config.previous_secrets.len());
        for (i, text) in config.previous_secrets.iter().enumerate() {
            let old = Secret::from_base64(text).map_err(|e| {
                Error::config_of(
                    "previousSecrets",
                    format!("previousSecrets[{i}]: {}", e.detail()),
                )
            })?;
            // The secret itself among those it replaced: a rotation that rotated nothing.
            let same = |s: &Secret| s.expose() == old.expose();
            if same(&secret) || previous.iter().any(same) {
                return Err(Error::config_of(
                    "previousSecrets",
                    format!("previousSecrets[{i}]: the same secret again: a new one needs new random bytes"),
                ));
            }
            previous.push(old);
        }
        if config.ttl_seconds == 0 || config.ttl_seconds > MAX_TIME {
            return Err(Error::config_of(
                "ttlSeconds",
                "ttlSeconds must be a positive whole number of seconds",
            ));
        }
        let idle = config.idle();
        if idle == 0 || idle > config.ttl_seconds {
            return Err(Error::config_of(
                "idleSeconds",
                "idleSeconds must be 1 to ttlSeconds",
            ));
        }
        let mut cookie = SetCookie::new(config.cookie_name.clone())
            .same_site(Some(config.same_site))
            .partitioned(config.partitioned);
        if let Some(domain) = &config.domain {
            cookie = cookie.domain(domain.clone());
        }
        cookie.check()?;
        let unreserved =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if config.param.is_empty()
            || config.param.len() > 64
            || !config.param.bytes().all(unreserved)
        {
            return Err(Error::config_of(
                "param",
                "param must be 1 to 64 of A-Z a-z 0-9 - . _ ~",
            ));
        }
        if let Some(h) = &config.header {
            if h.is_empty() || h.len() > 256 || !h.bytes().all(is_tchar) {
                return Err(Error::config_of(
                    "header",
                    format!("header {} is not a header name", Quoted(configured(h))),
                ));
            }
        }
        // What every visitor sees (the cookie's name, the URL parameter) or what origins see
        // (the header's name) is public: a secret put there would be published.
        let texts = std::iter::once(&config.secret).chain(&config.previous_secrets);
        for text in texts
            .map(|t| t.trim().trim_end_matches('='))
            .filter(|t| !t.is_empty())
        {
            // Byte windows, not `str::contains`: its two-way searcher is some 5 KB of the JS
            // library's gzipped wasm, for this one check.
            let holds = |v: &String| {
                v.as_bytes()
                    .windows(text.len())
                    .any(|w| w == text.as_bytes())
            };
            let public = [
                ("cookieName", Some(&config.cookie_name)),
                ("param", Some(&config.param)),
                ("header", config.header.as_ref()),
            ];
            if let Some((setting, _)) = public.into_iter().find(|(_, v)| v.is_some_and(holds)) {
                return Err(Error::config_of(
                    setting,
                    "holds a secret of this router: its value is public",
                ));
            }
        }
        let ring = Rendezvous::new(&secret);
        let secrets: Vec<&Secret> = std::iter::once(&secret).chain(&previous).collect();
        Ok(Affinity {
            mode: config.mode,
            failover: config.failover,
            backends: Backends::new(&config.backends, &secrets, &ring)?,
            values: ValueKey::new(&secret, &previous),
            ring,
            ttl: config.ttl_seconds,
            idle,
            cookie,
            param: config.param.clone(),
            header: config.header.as_deref().map(str::to_ascii_lowercase),
            visitors: AtomicU64::new(0),
        })
    }

    /// The routing mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Header mode: the configured header name, lowercased; `None` in the other modes, which
    /// route by something else (the header is still checked there).
    pub fn header_name(&self) -> Option<&str> {
        self.header.as_deref().filter(|_| self.mode == Mode::Header)
    }

    /// URL mode: the query parameter's name.
    pub fn param_name(&self) -> &str {
        &self.param
    }

    /// URL mode: the first value of the parameter in `url` that is authentic and live at `now`
    /// (the one [`Affinity::route`] honours), whatever the health of its backend.
    #[cfg_attr(not(feature = "sealed"), allow(dead_code))]
    pub(crate) fn live_param<'u>(&'u self, url: &'u str, now: UnixTime) -> Option<&'u str> {
        url::param_values(url, &self.param)
            .take(MAX_PRESENTED)
            .find(|text| self.open_live(text, now).is_some())
    }

    /// Cookie mode: the cookie's name.
    pub fn cookie_name(&self) -> &str {
        self.cookie.name()
    }

    /// The backend ids, in configuration order.
    pub fn backend_ids(&self) -> impl Iterator<Item = &str> {
        self.backends.ids()
    }

    /// Marks a backend up or down (`invalid_config` for an unknown id). Visitors of a backend
    /// that is down move (sticky failover) or fail (strict); once moved they stay.
    pub fn set_healthy(&mut self, id: &str, healthy: bool) -> Result<()> {
        self.backends.set_healthy(id, healthy)
    }

    /// [`Affinity::set_healthy`] of the backend at `index` in [`Affinity::backend_ids`]
    /// (nothing for an index out of range), found without searching the ids.
    #[cfg_attr(not(feature = "sealed"), allow(dead_code))]
    pub(crate) fn set_healthy_at(&mut self, index: usize, healthy: bool) {
        self.backends.set_healthy_at(index, healthy);
    }

    /// Starts or stops draining a backend (`invalid_config` for an unknown id). A draining
    /// backend keeps the visitors pinned to it until their values end, takes no new ones, and
    /// in the hashing modes (which pin nothing) gives its keys to their next choice. When every
    /// healthy backend is draining, new visitors go to the rendezvous choice among them rather
    /// than failing.
    pub fn set_draining(&mut self, id: &str, draining: bool) -> Result<()> {
        self.backends.set_draining(id, draining)
    }

    /// Routes a request at time `now` (seconds since the Unix epoch).
    ///
    /// Errors: `no_backend` when no backend is healthy (whatever the failover);
    /// `backend_unavailable` when the visitor's backend is down, another is up, and failover is
    /// `strict`; `invalid_config` in URL mode
    /// without `url`, or for `now` beyond 2^53 - 1. Bad affinity values are never errors: the
    /// visitor is treated as new and `reassigned` is set.
    pub fn route(&self, request: &RouteRequest<'_>, now: UnixTime) -> Result<Route<'_>> {
        let d = self.decide(request, now)?;
        Ok(Route {
            backend: self.id(d.index)?,
            reassigned: d.reassigned,
            set_cookie: d.set_cookie,
            url: d.url,
        })
    }

    /// [`Affinity::route`] with the backend as an index into [`Affinity::backend_ids`].
    pub(crate) fn decide(&self, request: &RouteRequest<'_>, now: UnixTime) -> Result<Decision> {
        crate::time::check_now(now)?;
        match self.mode {
            Mode::Cookie => {
                let header = request.cookie.unwrap_or_default();
                let presented = cookie::get_all_tokens(header, self.cookie.name());
                self.route_pinned(presented, request, now)
            }
            Mode::Url => {
                let url = request.url.ok_or_else(|| {
                    Error::config_of("url", "route: url mode needs the request's url")
                })?;
                self.route_pinned(url::param_values(url, &self.param), request, now)
            }
            Mode::Ip | Mode::Header => self.route_hashed(self.hashed_key(request), request, now),
        }
    }

    /// IP and header modes: the request's rendezvous key, if it has one.
    fn hashed_key(&self, request: &RouteRequest<'_>) -> Option<u64> {
        fn text(t: Option<&str>) -> Option<&str> {
            t.map(str::trim).filter(|s| !s.is_empty())
        }
        match self.mode {
            Mode::Ip => text(request.client_ip).map(|ip| self.ring.hash(Domain::Ip, &ip_key(ip))),
            Mode::Header => {
                text(request.header).map(|h| self.ring.hash(Domain::Header, h.as_bytes()))
            }
            Mode::Cookie | Mode::Url => None,
        }
    }

    /// IP and header modes: the rendezvous choice for the key (a random one without a key).
    fn route_hashed(
        &self,
        key: Option<u64>,
        request: &RouteRequest<'_>,
        now: UnixTime,
    ) -> Result<Decision> {
        // Without a key there is no backend to keep: a random choice among those that take new
        // visitors, as for a new visitor in the cookie modes, whatever the failover.
        let (key, keyed) = match key {
            Some(key) => (key, true),
            None => (self.new_visitor(request.entropy, now), false),
        };
        let index = match self.failover {
            Failover::Strict if keyed => {
                let home = self.backends.home(key).ok_or(Error::NoBackend)?;
                if !self.backends.is_healthy(home) {
                    return Err(self.unavailable(home));
                }
                home
            }
            _ => self.backends.choose(key)?,
        };
        Ok(Decision {
            index,
            reassigned: keyed && self.backends.moved(key, index),
            set_cookie: None,
            url: None,
        })
    }

    /// Cookie and URL modes: honour the first authentic, live value presented, or assign.
    fn route_pinned<'v>(
        &self,
        presented: impl Iterator<Item = &'v str>,
        request: &RouteRequest<'_>,
        now: UnixTime,
    ) -> Result<Decision> {
        let mut any_presented = false;
        let mut live = None;
        for text in presented.take(MAX_PRESENTED) {
            any_presented = true;
            live = self.open_live(text, now);
            if live.is_some() {
                break;
            }
        }
        let Some((value, generation)) = live else {
            // New visitor, or nothing usable presented; none from a browser that withheld its
            // cookie gets none to keep in place of it (`RouteRequest::method`).
            let visitor = self.new_visitor(request.entropy, now);
            let index = self.backends.choose(visitor)?;
            let withheld = !any_presented
                && self.mode == Mode::Cookie
                && (self.cookie).withheld_from(request.method.unwrap_or("GET"), request.fetch_site);
            let issued = self.fresh(index, visitor, now).filter(|_| !withheld);
            return self.pinned(index, any_presented, issued, request, now);
        };
        match self.backends.by_reference(generation, &value.backend) {
            Some(index) if self.backends.is_healthy(index) => {
                // Honoured; refreshed once past half the idle time, or at once when a previous
                // secret signed it.
                let refresh = generation > 0 || 2 * now.saturating_sub(value.last_seen) > self.idle;
                let issued = refresh
                    .then(|| self.backends.reference(index))
                    .flatten()
                    .map(|backend| AffinityValue {
                        backend,
                        last_seen: now,
                        ..value
                    });
                self.pinned(index, false, issued, request, now)
            }
            Some(index) if self.failover == Failover::Strict => Err(self.unavailable(index)),
            _ => {
                // Its backend is down, or gone from the configuration: the visitor's own
                // rendezvous choice, the same at every edge location.
                let index = self.backends.choose(value.visitor)?;
                self.pinned(
                    index,
                    true,
                    self.fresh(index, value.visitor, now),
                    request,
                    now,
                )
            }
        }
    }

    /// The value's fields when it is authentic and within its idle time and lifetime, and
    /// which secret signed it.
    fn open_live(&self, text: &str, now: UnixTime) -> Option<(AffinityValue, usize)> {
        let (v, generation) = self.values.open(text).ok()?;
        let live = v.last_seen <= now.saturating_add(CLOCK_SKEW_SECONDS)
            && now <= v.last_seen.saturating_add(self.idle)
            && now <= v.issued_at.saturating_add(self.ttl);
        live.then_some((v, generation))
    }

    fn fresh(&self, index: usize, visitor: u64, now: UnixTime) -> Option<AffinityValue> {
        let backend = self.backends.reference(index)?;
        Some(AffinityValue {
            backend,
            visitor,
            issued_at: now,
            last_seen: now,
        })
    }

    /// The route to `index`, with the value `issued` written where the mode carries it.
    fn pinned(
        &self,
        index: usize,
        reassigned: bool,
        issued: Option<AffinityValue>,
        request: &RouteRequest<'_>,
        now: UnixTime,
    ) -> Result<Decision> {
        let mut route = Decision {
            index,
            reassigned,
            set_cookie: None,
            url: None,
        };
        if let Some(v) = issued {
            let text = self.values.seal(&v);
            match self.mode {
                Mode::Url => {
                    route.url = request
                        .url
                        .map(|u| url::with_param(u, &self.param, &text, url::Written::Plain));
                }
                _ => {
                    let end = v.issued_at.saturating_add(self.ttl);
                    let max_age = self.idle.min(end.saturating_sub(now));
                    route.set_cookie = Some(self.cookie.header(&text, Some(max_age))?);
                }
            }
        }
        Ok(route)
    }

    /// A new visitor's rendezvous key.
    fn new_visitor(&self, entropy: u64, now: UnixTime) -> u64 {
        let n = self.visitors.fetch_add(1, Ordering::Relaxed);
        let mut seed = [0u8; 24];
        seed[..8].copy_from_slice(&entropy.to_le_bytes());
        seed[8..16].copy_from_slice(&n.to_le_bytes());
        seed[16..].copy_from_slice(&now.to_le_bytes());
        self.ring.hash(Domain::Visitor, &seed)
    }

    fn id(&self, index: usize) -> Result<&str> {
        self.backends.id(index).ok_or(Error::NoBackend)
    }

    /// Strict failover's error for a visitor whose backend `index` is down: `no_backend` when no
    /// backend is up (what every visitor meets then, whatever the mode), else
    /// `backend_unavailable`.
    fn unavailable(&self, index: usize) -> Error {
        if !self.backends.any_healthy() {
            return Error::NoBackend;
        }
        Error::BackendUnavailable(self.backends.id(index).unwrap_or_default().to_owned())
    }
}

impl Affinity {
    /// Pins the visitor to `backend` with a fresh value (a new visitor id), whatever it held
    /// before: what a login needs, so that a value planted before it does not follow the user
    /// into the session (session fixation). Cookie mode sets `set_cookie`; the other modes carry
    /// no value here. `invalid_config` for an unknown backend id. The gateway calls this when an
    /// origin logs a user in.
    ///
    /// ```
    /// use edge_session::affinity::{Affinity, AffinityConfig, BackendConfig};
    ///
    /// let affinity = Affinity::new(AffinityConfig::new(
    ///     "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA",
    ///     vec![BackendConfig::new("a"), BackendConfig::new("b")],
    /// ))?;
    /// let one = affinity.assign("b", 1, 1_800_000_000)?;
    /// let two = affinity.assign("b", 1, 1_800_000_000)?;
    /// assert_eq!((one.backend, two.backend), ("b", "b"));
    /// assert_ne!(one.set_cookie, two.set_cookie);
    /// # Ok::<(), edge_session::Error>(())
    /// ```
    pub fn assign(&self, backend: &str, entropy: u64, now: UnixTime) -> Result<Route<'_>> {
        crate::time::check_now(now)?;
        let index = self
            .backend_ids()
            .position(|id| id == backend)
            .ok_or_else(|| {
                Error::config(format!(
                    "no backend has the id {}",
                    Quoted(configured(backend))
                ))
            })?;
        let issued = match self.mode {
            Mode::Cookie => self.fresh(index, self.new_visitor(entropy, now), now),
            Mode::Url | Mode::Ip | Mode::Header => None,
        };
        let d = self.pinned(index, false, issued, &RouteRequest::default(), now)?;
        Ok(Route {
            backend: self.id(d.index)?,
            reassigned: false,
            set_cookie: d.set_cookie,
            url: d.url,
        })
    }
}

/// The bytes an address is keyed by: IPv4 (also IPv4-mapped IPv6) by its 4 bytes, IPv6 by
/// its /64 network (devices rotate the lower half, RFC 8981), anything else as written.
fn ip_key(text: &str) -> Vec<u8> {
    let mut p = IpParser(text.as_bytes());
    if let Some(v4) = p.whole(IpParser::ipv4) {
        return v4.to_vec();
    }
    match ipv6_bytes(text) {
        Some(v6) => match v6 {
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d] => vec![a, b, c, d],
            _ => v6.get(..8).unwrap_or_default().to_vec(),
        },
        None => text.as_bytes().to_vec(),
    }
}

/// An IPv6 address (without `[ ]`) as `std::net::Ipv6Addr`'s `FromStr` reads it: 8 groups of 1
/// to 4 hex digits, or fewer around one `::`, the last two possibly a dotted quad of numbers 0
/// to 255 without leading zeros. The gateway's `ORIGINS` check reads IPv6 hosts with it too.
pub(crate) fn ipv6_bytes(text: &str) -> Option<[u8; 16]> {
    IpParser(text.as_bytes()).whole(IpParser::ipv6)
}

/// IP address text read as `std::net::IpAddr`'s `FromStr` reads it (the same grammar and the
/// same greedy choices; `tests::ip_parser_reads_what_std_reads` compares them), on bytes: the
/// standard library's parser, generic over number types and characters, was 3 KB of the JS wasm.
struct IpParser<'a>(&'a [u8]);

impl IpParser<'_> {
    /// `read` over the whole text, or nothing.
    fn whole<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        read(self).filter(|_| self.0.is_empty())
    }

    /// `read`, or nothing read (the position restored) when it fails.
    fn atomic<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let at = self.0;
        let out = read(self);
        if out.is_none() {
            self.0 = at;
        }
        out
    }

    fn given(&mut self, c: u8) -> Option<()> {
        self.atomic(|p| match p.0.split_first() {
            Some((&first, rest)) if first == c => {
                p.0 = rest;
                Some(())
            }
            _ => None,
        })
    }

    /// A number of 1 to `max_digits` digits in `radix` no greater than `max`; with a leading
    /// zero only when `zero_prefix` or it is the single digit. Not inlined: its four callers
    /// each had a copy (about 300 B of gzipped JS wasm).
    #[inline(never)]
    fn number(
        &mut self,
        radix: u32,
        max_digits: usize,
        max: u32,
        zero_prefix: bool,
    ) -> Option<u32> {
        self.atomic(|p| {
            let leading_zero = p.0.first() == Some(&b'0');
            let mut value: u32 = 0;
            let mut digits = 0;
            while let Some((&c, rest)) = p.0.split_first() {
                let Some(d) = char::from(c).to_digit(radix) else {
                    break;
                };
                p.0 = rest;
                value = value * radix + d;
                digits += 1;
                if digits > max_digits || value > max {
                    return None;
                }
            }
            (digits > 0 && (zero_prefix || !leading_zero || digits == 1)).then_some(value)
        })
    }

    fn ipv4(&mut self) -> Option<[u8; 4]> {
        self.atomic(|p| {
            let mut out = [0u8; 4];
            for (i, octet) in out.iter_mut().enumerate() {
                if i > 0 {
                    p.given(b'.')?;
                }
                *octet = u8::try_from(p.number(10, 3, 255, false)?).ok()?;
            }
            Some(out)
        })
    }

    /// Up to `groups.len()` groups separated by `:`, the last two possibly an IPv4 address:
    /// how many were read, and whether the IPv4 address was.
    fn groups(&mut self, groups: &mut [u16]) -> (usize, bool) {
        let limit = groups.len();
        for i in 0..limit {
            if i + 1 < limit {
                let v4 = self.atomic(|p| {
                    if i > 0 {
                        p.given(b':')?;
                    }
                    p.ipv4()
                });
                if let Some([a, b, c, d]) = v4 {
                    if let Some([hi, lo]) = groups.get_mut(i..i + 2) {
                        *hi = u16::from_be_bytes([a, b]);
                        *lo = u16::from_be_bytes([c, d]);
                    }
                    return (i + 2, true);
                }
            }
            let group = self.atomic(|p| {
                if i > 0 {
                    p.given(b':')?;
                }
                p.number(16, 4, 0xffff, true)
            });
            match (group, groups.get_mut(i)) {
                (Some(g), Some(slot)) => *slot = u16::try_from(g).unwrap_or_default(),
                _ => return (i, false),
            }
        }
        (limit, false)
    }

    fn ipv6(&mut self) -> Option<[u8; 16]> {
        self.atomic(|p| {
            let mut head = [0u16; 8];
            let (head_size, head_ipv4) = p.groups(&mut head);
            if head_size < 8 {
                // An IPv4 part only at the end; `::` stands for at least one group of zeros.
                if head_ipv4 {
                    return None;
                }
                p.given(b':')?;
                p.given(b':')?;
                let mut tail = [0u16; 7];
                let (tail_size, _) = p.groups(tail.get_mut(..7 - head_size)?);
                let from = 8 - tail_size;
                for (slot, g) in head.iter_mut().skip(from).zip(tail.iter().take(tail_size)) {
                    *slot = *g;
                }
            }
            let mut out = [0u8; 16];
            for (pair, g) in out.chunks_exact_mut(2).zip(head) {
                pair.copy_from_slice(&g.to_be_bytes());
            }
            Some(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_keyed_by_what_identifies_a_client() {
        assert_eq!(ip_key("192.0.2.1"), [192, 0, 2, 1]);
        assert_eq!(ip_key("::ffff:192.0.2.1"), [192, 0, 2, 1]);
        assert_eq!(
            ip_key("2001:db8:1:2:aaaa::1"),
            ip_key("2001:DB8:1:2:bbbb:cccc:dddd:eeee")
        );
        assert_ne!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:3::1"));
        assert_eq!(ip_key("not an ip"), b"not an ip");
    }

    /// What `std::net::IpAddr` made of `text`, as `ip_key` keys it.
    fn std_key(text: &str) -> Vec<u8> {
        use std::net::IpAddr;
        match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => v4.octets().to_vec(),
            Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.octets().to_vec(),
                None => v6.octets()[..8].to_vec(),
            },
            Err(_) => text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn ip_parser_reads_what_std_reads() {
        let mut valid = 0;
        let mut same = |text: &str| {
            assert_eq!(ip_key(text), std_key(text), "{text:?}");
            valid += usize::from(text.parse::<std::net::IpAddr>().is_ok());
        };
        for text in [
            "",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.02.3.4",
            "0.0.0.00",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1..2.3",
            "1.2.3.",
            "1234.1.1.1",
            "::",
            "::1",
            "1::",
            "::ffff:1.2.3.4",
            "::FFFF:102:304",
            "::ffff:0:1.2.3.4",
            "::1.2.3.4",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::",
            "1:2:3:4:5:6:7::8",
            "::1:2:3:4:5:6:7",
            "::1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "1.2.3.4::",
            "1:2::3:4::5",
            ":::",
            ":1::",
            "1::2:",
            "12345::",
            "0000:0000::00000",
            "fffff::",
            "ffff::ffff",
            "g::",
            "1:2:3:4:5::1.2.3.4",
            "1:2:3:4:5:6::1.2.3.4",
            "::1.2.3.4.5",
            "::1.2.3",
            "2001:db8::1%eth0",
            "[::1]",
            "::ffff:1.2.3.4:5",
            "1::2::3",
            "::0:0:0:0:0:0:0",
            "é::",
            "1.2.3.4\0",
        ] {
            same(text);
        }
        // Every string of up to 5 characters from a small alphabet, and longer ones built
        // from pieces.
        let alphabet = ["0", "1", "f", ":", "."];
        let mut texts = vec![String::new()];
        for _ in 0..5 {
            texts = texts
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.iter().for_each(|t| same(t));
        }
        let pieces = [
            "1",
            "ab",
            "ffff",
            "0",
            "00000",
            "::",
            ":",
            "1.2.3.4",
            "255.0.0.1",
            ".",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        same(&format!("{a}{b}{c}{d}"));
                        same(&format!("{a}:{b}:{c}:{d}:{a}:{b}"));
                        same(&format!("{a}:{b}:{c}:{d}:{a}:{b}:{c}:{d}"));
                    }
                }
            }
        }
        assert!(valid > 500, "{valid}");
    }
}
