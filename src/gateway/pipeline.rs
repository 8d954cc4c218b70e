//! The request pipeline, free of platform types: what to send to which origin, what to do when
//! it fails, and what to send back. The worker glue only moves bytes.
//!
//! ```text
//! client request ──start──▶ Step::Proxy(Attempt) ──fetch──▶ origin
//!                                 ▲        │ no answer (an answer of any status is final)
//!                                 └─retry──┘ (idempotent, no body, once, another origin)
//! origin response ──finish──▶ headers for the client (identity directives acted on)
//! ```

use super::assertion;
use super::config::{ConfigError, GatewayConfig, OperatorToken, Origin};
use super::dbsc::{self, Decision};
use super::headers::{self, Forwarded};
use super::health::HealthBook;
use super::operator::{self, Endpoint};
use super::pages::Page;
use super::session::{self, SessionCookie};
use super::store;
use crate::affinity::url::{self, Written};
use crate::affinity::{Mode, RouteRequest};
use crate::error::Error;
use crate::store::Revocation;
use crate::time::UnixTime;

/// How many times a failed request is tried again on another origin.
pub const RETRIES: u8 = 1;

/// A change of the session cookie decided at the request (a sliding refresh; the removal of an
/// expired, invalid or revoked one) goes only with an answer that arrives at most this many
/// seconds after it, counted in whole seconds (so 2 to 3 s): a long poll (socket.io waits 25 s
/// for news) answered after a logout would otherwise put the session back in the browser (or
/// over the next user's login there), and one answered after a new login would log it out. The
/// visitor's next request makes the change. So does the refresh of an affinity value the
/// request presented, which would put the old visitor id over the one a login just rotated. A
/// move (the value not honoured, its origin down, or a retry after a failed or timed-out first
/// try) and a new visitor's first value go however late: held back, a visitor whose answers all
/// come late would be moved again at every request. They leave a window: a login made meanwhile
/// in another tab on another origin (its origin up there, its request not timed out) is
/// replaced by the move, and the user goes on where the move went, unannounced. What the
/// answer itself asks (a login, a logout) goes however late.
pub const LATE_ANSWER_SECONDS: u64 = 2;

/// Methods the gateway answers itself with a 405, never forwarded (compared without case):
/// `TRACE` (and Microsoft's `TRACK`) has the origin echo the request, the client's cookies and
/// the gateway's `x-session-*` identity headers included, back to whoever sent it (cross-site
/// tracing); `CONNECT` asks for a tunnel the gateway does not make.
pub const NOT_FORWARDED: [&str; 3] = ["TRACE", "TRACK", "CONNECT"];

/// What the pipeline needs from a client request.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `GET`, `POST`...
    pub method: &'a str,
    /// The absolute URL the client asked for.
    pub url: &'a str,
    /// The client's headers, in order.
    pub headers: &'a [(String, String)],
    /// Whether the request carries a body (then it is streamed once and never retried).
    pub has_body: bool,
}

impl Request<'_> {
    /// Safe to send again: an idempotent method without a body.
    pub fn retryable(&self) -> bool {
        !self.has_body && matches!(self.method, "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE")
    }
}

/// Random bytes for one request: a new visitor's id, a new session id, the directive nonce
/// and DBSC's (a challenge's and a bound cookie's).
#[derive(Clone, Copy, Debug, Default)]
pub struct Entropy {
    /// Seeds a new visitor's affinity.
    pub visitor: u64,
    /// The session id of a login.
    pub sid: [u8; 16],
    /// The request's `x-session-nonce` (`DIRECTIVE_NONCE = "on"`).
    pub nonce: [u8; 16],
    /// DBSC (`DBSC = "on"`): 8 bytes for a challenge, 8 for a bound cookie.
    pub dbsc: [u8; 16],
}

impl Entropy {
    /// The entropy of 56 random bytes: the visitor's 8 (little-endian), then the session id's
    /// 16, the nonce's 16 and DBSC's 16.
    pub fn from_bytes(bytes: &[u8; 56]) -> Self {
        let (visitor, rest) = bytes.split_at(8);
        let (sid, rest) = rest.split_at(16);
        let (nonce, dbsc) = rest.split_at(16);
        Entropy {
            visitor: u64::from_le_bytes(visitor.try_into().unwrap_or_default()),
            sid: sid.try_into().unwrap_or_default(),
            nonce: nonce.try_into().unwrap_or_default(),
            dbsc: dbsc.try_into().unwrap_or_default(),
        }
    }
}

/// Whether the origin's response hands a WebSocket over (`101 Switching Protocols`): its
/// socket then goes to the client, and there is no body to stream.
pub fn hands_over_socket(status: u16) -> bool {
    status == 101
}

/// One try of a request at one origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The origin's id.
    pub origin: String,
    /// The URL to fetch: the origin's base URL and the request's path and query.
    pub url: String,
    /// The headers to send to the origin.
    pub headers: Vec<(String, String)>,
    /// Tries left after this one.
    pub retries_left: u8,
    /// The request's first try (a retry's failure says nothing of its origin's health).
    first: bool,
    /// The `x-session-nonce` sent to the origin (`DIRECTIVE_NONCE = "on"`).
    nonce: Option<String>,
    affinity_cookie: Option<String>,
    /// `affinity_cookie` refreshes a value the request presented: a timely answer's only.
    affinity_renewal: bool,
    session_cookie: Option<String>,
    /// The latest time an answer carries `session_cookie`, or an `affinity_renewal` (see
    /// [`LATE_ANSWER_SECONDS`]).
    answer_by: UnixTime,
    /// The subject of a valid session token, when its session began and its device binding
    /// (boxed: the attempt travels by value).
    subject: Option<Box<Subject>>,
    /// DBSC: the session is device-bound and came without its fresh bound cookie.
    unbound: bool,
    /// Cookie mode: told `x-session-reassigned` only because it is logged in and came without
    /// its affinity cookie (see [`Gateway::route`]).
    lost: bool,
    /// The session cookie was signed with a key this version does not hold (`unknown_key`).
    unknown_key: bool,
    /// The browser withheld the gateway's cookies from this request (see [`Attempt::withheld`]).
    withheld: bool,
    /// `scheme://host` the client asked (origin redirects are rewritten to it).
    public: String,
    /// URL mode: the parameter's name and the affinity value the answer's same-site URLs carry
    /// (the one honoured, or the one just issued).
    carry: Option<(String, String)>,
}

/// The subject of a request's valid session (see [`Attempt::subject`]).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Subject {
    /// `sub`, when the token has one (a login may leave it out).
    sub: Option<String>,
    /// When the session began.
    issued_at: UnixTime,
    /// Its session id (`sid`), which a revocation may spare (see [`Revocation`]).
    sid: Option<String>,
    /// DBSC: the session id and key thumbprint (`cnf.jkt`) of a device-bound session that came
    /// with its fresh bound cookie, which a re-issue for its subject keeps.
    bound: Option<(String, String)>,
}

impl Attempt {
    /// The subject of the request's valid session token and when the session began (the
    /// earlier of `iat` and `auth_time`): what [`Gateway::check_revocation`] compares with the
    /// subject's `minIssuedAt`.
    pub fn subject(&self) -> Option<(&str, UnixTime)> {
        let s = self.subject.as_deref()?;
        Some((s.sub.as_deref()?, s.issued_at))
    }

    /// The session of the request's valid session token, with a `sub` or without: its session
    /// id (`sid`, when it has a non-empty one), which a logout ends (see
    /// [`store::Plan::ended`]), and when it began.
    pub fn session(&self) -> Option<(Option<&str>, UnixTime)> {
        let s = self.subject.as_deref()?;
        let sid = s.sid.as_deref().filter(|sid| !sid.is_empty());
        Some((sid, s.issued_at))
    }

    /// The session id (`sid`) of the request's valid session token, which a logout ends (see
    /// [`store::Plan::ended`]).
    pub fn session_id(&self) -> Option<&str> {
        self.session()?.0
    }

    /// The latest time an answer carries what the gateway decided at the request for the
    /// client's cookies (see [`LATE_ANSWER_SECONDS`]).
    pub fn answer_by(&self) -> UnixTime {
        self.answer_by
    }

    /// DBSC: whether the request's valid session is bound to a device key and came without its
    /// fresh bound cookie (`x-session-status: unbound`): it carries no identity, and the stored
    /// session of its user is held aside, unchanged (see [`store::Loaded::bind_request`]).
    pub fn unbound(&self) -> bool {
        self.unbound
    }

    /// Whether the request's session cookie was signed with a key id `SESSION_KEYS` does not
    /// hold (the origin is told `x-session-invalid: unknown_key`).
    pub fn unknown_key(&self) -> bool {
        self.unknown_key
    }

    /// Whether this is a cross-site request that a browser sends without the gateway's
    /// cookies (`COOKIE_SAMESITE`: a form another site posts; with `Strict`, any), as
    /// [`SetCookie::withheld_from`](crate::cookie::SetCookie::withheld_from) says. The browser
    /// still keeps a cookie its answer sets, in place of the one it withheld: no new visitor's
    /// affinity value is set on it, and no new stored session's id
    /// ([`store::Loaded::bind_request`]), but by a login.
    pub fn withheld(&self) -> bool {
        self.withheld
    }

    /// The page that replaces an origin's answer of `status` that no client can take: a status
    /// outside 200 to 599 (an interim 1xx as the answer, a 600), or a `101 Switching Protocols`
    /// to a request that asked no upgrade (no socket comes with it).
    pub fn refused_status(&self, status: u16) -> Option<Page> {
        let taken = match status {
            200..=599 => true,
            s if hands_over_socket(s) => self.headers.iter().any(|(n, _)| n == "upgrade"),
            _ => false,
        };
        (!taken).then(|| {
            Page::bad_origin_answer(
                "a status outside 200 to 599, or a 101 to no WebSocket's upgrade",
            )
        })
    }

    /// Whether an answer's `directives` count: with `DIRECTIVE_NONCE` on, only those of an
    /// answer that sent the request's `x-session-nonce` back.
    fn counts(&self, directives: &headers::Directives) -> bool {
        match &self.nonce {
            Some(nonce) => !directives.any() || directives.nonce.as_ref() == Some(nonce),
            None => true,
        }
    }

    /// `scheme://host` the client asked (empty when the URL had none).
    pub fn public(&self) -> &str {
        &self.public
    }

    /// URL mode: the query parameter's name and the affinity value that the answer's same-site
    /// URLs carry (links, forms and `Location`, where the same site is kept). Never written into a
    /// cookie or a log line.
    pub fn affinity_param(&self) -> Option<(&str, &str)> {
        self.carry.as_ref().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether the request carries a visitor's own session to the origin: a valid session's
    /// identity (`x-session-claims`, `-sub`, `-id`) or stored data other than a new session's
    /// `{}`. It goes with `cache: "no-store"`: a shared cache between the gateway and the origin
    /// (Cloudflare's, for a Worker's subrequest) keys what it keeps by URL, not by these headers,
    /// and would answer the next visitor with this one's page.
    pub fn personal(&self) -> bool {
        let has = |name| headers::get(&self.headers, name).is_some();
        SessionCookie::IDENTITY_HEADERS[1..].iter().any(|n| has(n))
            || headers::get(&self.headers, headers::DATA).is_some_and(|d| d != "{}")
    }
}

/// URL mode: whether a request is a new visitor's page load that may be redirected to its URL
/// with the affinity value: a safe method (GET or HEAD, no body) from a client that accepts
/// HTML. Anything else is routed, and the value comes back on the answer.
pub fn redirectable(req: &Request<'_>) -> bool {
    matches!(req.method, "GET" | "HEAD")
        && !req.has_body
        && headers::get(req.headers, "accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

/// URL mode: the answer to rewrite as it streams, so that its same-site links, forms and frames
/// carry the affinity value: `(base, param, value)` for an HTML answer with a body (not a `HEAD`,
/// `204`, `304` or WebSocket) to a request that has a value to carry, `None` otherwise. `base` is
/// the public `scheme://host/` that same-site URLs lead to (see [`Attempt::public`]).
/// [`Gateway::finish`] already took out the headers that no longer hold once rewritten
/// (`Content-Length`, digests, `Accept-Ranges`) and made the `ETag` weak.
pub fn html_rewrite<'a>(
    attempt: &'a Attempt,
    method: &str,
    status: u16,
    answer_headers: &[(String, String)],
) -> Option<(String, &'a str, &'a str)> {
    let (param, value) = attempt.affinity_param()?;
    let body = method != "HEAD" && !matches!(status, 101 | 204 | 205 | 304);
    (is_html(answer_headers) && body && !attempt.public.is_empty())
        .then(|| (format!("{}/", attempt.public), param, value))
}

/// URL mode: whether the answer to `attempt`, when it is a part (`206`) of a page to rewrite
/// (see [`html_rewrite`]), is asked for again whole, without `Range` and `If-Range` (a server
/// may ignore them), once: a part of the origin's bytes is not the same part of the visitor's
/// rewritten page. A GET with a `Range` and a value to carry (the glue,
/// `src/gateway/worker/http.rs`, sees the status and the type).
pub fn whole_pages(attempt: &Attempt, method: &str) -> bool {
    method == "GET"
        && attempt.carry.is_some()
        && !attempt.public.is_empty()
        && headers::get(&attempt.headers, "range").is_some()
}

/// The headers of an HTML answer that no longer hold once URL mode rewrote it.
const REWRITTEN_DROP: [&str; 6] = [
    "content-length",
    "content-md5",
    "digest",
    "content-digest",
    "repr-digest",
    "accept-ranges",
];

/// Whether an answer is HTML that URL mode rewrites: `text/html`, in a charset the rewriter
/// reads (UTF-8 when none is named). Not XHTML (`application/xhtml+xml`), which a browser
/// parses as XML: markup the rewriter (an HTML parser) reads as text, in a `<textarea>`,
/// `<title>` or `<noscript>`, is elements there, and a `<base href>` or `<form>` there would
/// take links or fields carrying the value elsewhere. Nor a charset workerd's `HTMLRewriter`
/// refuses once the body is taken (UTF-16, ISO-2022-JP, an unknown label: the page was lost),
/// nor a content coding workerd does not decode (only `gzip` and `br`: `deflate` bytes would be
/// rewritten compressed): such a page goes as it is, its links without the value.
fn is_html(answer_headers: &[(String, String)]) -> bool {
    let Some(t) = headers::get(answer_headers, "content-type") else {
        return false;
    };
    let decoded = headers::get(answer_headers, "content-encoding").is_none_or(|coding| {
        let coding = coding.trim();
        ["identity", "gzip", "br"]
            .iter()
            .any(|c| coding.eq_ignore_ascii_case(c))
    });
    let t = t.to_ascii_lowercase();
    let (essence, params) = t.split_once(';').unwrap_or((&t, ""));
    if !decoded || essence.trim() != "text/html" {
        return false;
    }
    params.split(';').all(|param| {
        let (name, label) = param.split_once('=').unwrap_or((param, ""));
        name.trim() != "charset" || readable_charset(label.trim().trim_matches('"').trim())
    })
}

/// Whether `label` (lowercase) names a charset of the WHATWG Encoding Standard that the HTML
/// rewriter reads (one where ASCII bytes are ASCII): the common ones, not all of them (a page in
/// another goes unrewritten).
fn readable_charset(label: &str) -> bool {
    let numbered = |prefixes: &[&str], numbers: &[&str]| {
        prefixes
            .iter()
            .any(|p| label.strip_prefix(p).is_some_and(|n| numbers.contains(&n)))
    };
    const ISO_8859: [&str; 15] = [
        "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "13", "14", "15", "16",
    ];
    const WINDOWS: [&str; 9] = ["0", "1", "2", "3", "4", "5", "6", "7", "8"];
    matches!(
        label,
        "utf-8"
            | "utf8"
            | "unicode-1-1-utf-8"
            | "us-ascii"
            | "ascii"
            | "latin1"
            | "l1"
            | "shift_jis"
            | "sjis"
            | "windows-31j"
            | "ms_kanji"
            | "x-sjis"
            | "euc-jp"
            | "euc-kr"
            | "gbk"
            | "gb2312"
            | "gb18030"
            | "big5"
            | "koi8-r"
            | "koi8-u"
    ) || numbered(&["iso-8859-", "iso8859-"], &ISO_8859)
        || numbered(&["windows-125", "cp125", "x-cp125"], &WINDOWS)
}

/// A `Refresh` header value split around its URL: `(before, url, after)`, when it is written
/// the usual way, `time[; ][url=]['"]url['"]`, where every browser reads the same URL (the HTML
/// standard's declarative refresh steps); `None` otherwise (no URL, or a spelling such as
/// `url /next` that the steps read in ways easy to get wrong).
fn refresh_url(value: &str) -> Option<(&str, &str, &str)> {
    let bytes = value.as_bytes();
    let space = |b: u8| matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ');
    let skip = |mut at: usize, pred: &dyn Fn(u8) -> bool| {
        while bytes.get(at).copied().is_some_and(pred) {
            at += 1;
        }
        at
    };
    let start = skip(0, &space);
    let at = skip(start, &|b: u8| b.is_ascii_digit());
    if at == start && bytes.get(at) != Some(&b'.') {
        return None;
    }
    let at = skip(at, &|b: u8| b.is_ascii_digit() || b == b'.');
    if !matches!(bytes.get(at), Some(b';' | b',')) && !bytes.get(at).copied().is_some_and(space) {
        return None;
    }
    let mut at = skip(at, &space);
    if matches!(bytes.get(at), Some(b';' | b',')) {
        at += 1;
    }
    let mut at = skip(at, &space);
    if bytes
        .get(at..at + 3)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"url"))
    {
        at = skip(at + 3, &space);
        if bytes.get(at) != Some(&b'=') {
            return None;
        }
        at = skip(at + 1, &space);
    } else if matches!(bytes.get(at), Some(b'u' | b'U') | None) {
        return None;
    }
    let quote = bytes.get(at).copied().filter(|b| matches!(b, b'\'' | b'"'));
    if quote.is_some() {
        at += 1;
    }
    let rest = value.get(at..)?;
    let end = quote
        .and_then(|q| rest.find(char::from(q)))
        .unwrap_or(rest.len());
    Some((value.get(..at)?, rest.get(..end)?, rest.get(end..)?))
}

/// A `Refresh` value (the header, or the `content` of `<meta http-equiv="refresh">`) whose URL,
/// when it leads to the same site, carries `name=value` (see [`url::rewrite_url`]); `None` when
/// it is left as it is (see [`refresh_url`]).
pub(crate) fn refresh_carrying(
    base: &str,
    refresh: &str,
    name: &str,
    value: &str,
    written: Written,
) -> Option<String> {
    let (head, target, tail) = refresh_url(refresh)?;
    url::rewrite_url(base, target, name, value, written)
        .map(|carrying| format!("{head}{carrying}{tail}"))
}

/// A `Content-Security-Policy` value without its `report-uri` and `report-to` directives.
/// Directives end with `;`, policies (several headers in one) with `,`, which stays.
fn without_reports(policy: &str) -> String {
    let mut kept = String::with_capacity(policy.len());
    for d in policy.split_inclusive([';', ',']) {
        let report = d.trim_start().get(..7);
        if !report.is_some_and(|r| r.eq_ignore_ascii_case("report-")) {
            kept.push_str(d);
        } else if d.ends_with(',') {
            kept.push(',');
        }
    }
    kept
}

/// Whether a `Link` header value names a referrer policy that sends the full URL to other sites
/// (`unsafe-url`, `no-referrer-when-downgrade`), anywhere in it and however quoted, escaped or
/// percent-encoded (`referrerpolicy*=UTF-8''unsafe%2Durl`): no parsing that a browser could read
/// otherwise.
fn asks_full_referrer(link: &str) -> bool {
    let unescaped: Vec<u8> = link.bytes().filter(|b| *b != b'\\').collect();
    let mut plain = crate::codec::percent_decoded(&unescaped, false);
    plain.retain(|b| *b != b'\\');
    plain.make_ascii_lowercase();
    let has = |word: &[u8]| plain.windows(word.len()).any(|w| w == word);
    has(b"unsafe-url") || has(b"no-referrer-when-downgrade")
}

/// The `Referrer-Policy` of answers in URL mode: a page whose URL carries the affinity value
/// sends no `Referer` to other sites (only to its own, where the gateway takes the value out).
pub const URL_MODE_REFERRER_POLICY: &str = "same-origin";

/// What to do with a client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send it to an origin.
    Proxy(Attempt),
    /// Answer it with a page of the gateway's own.
    Respond(Page),
    /// An authorized operator endpoint.
    Operator(Endpoint),
    /// `GET /.well-known/jwks.json` with `ORIGIN_ASSERTION` on: the public keys of the
    /// assertions (see [`super::assertion`]).
    Jwks,
    /// A DBSC endpoint (`DBSC = "on"`, `/__edge/dbsc/`): its answer, or a proof to verify
    /// first (see [`super::dbsc`]).
    Dbsc(Decision),
}

/// After an origin gave no answer: try another origin, or stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Try this attempt next.
    Next(Attempt),
    /// Answer with this page.
    Respond(Page),
}

/// The gateway: configuration, session tokens, the affinity router and the health book of one
/// worker instance.
#[derive(Debug)]
pub struct Gateway {
    /// The settings, with the session codec and the router `from_vars` built to check them.
    config: GatewayConfig,
    health: HealthBook,
}

impl Gateway {
    /// The gateway of checked settings: runs the session codec and the affinity router that
    /// [`GatewayConfig::from_vars`] built (and so checked) rather than building them again.
    /// Never fails today; the `Result` leaves room for checks that need the whole gateway.
    pub fn new(config: GatewayConfig) -> Result<Self, ConfigError> {
        let health = HealthBook::new(&config);
        Ok(Gateway { config, health })
    }

    /// The settings.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// This instance's view of origin health.
    pub fn health(&self) -> &HealthBook {
        &self.health
    }

    /// This instance's view of origin health, to update.
    pub fn health_mut(&mut self) -> &mut HealthBook {
        &mut self.health
    }

    /// Decides what to do with a client request.
    pub fn start(&mut self, req: &Request<'_>, now: UnixTime, entropy: &Entropy) -> Step {
        if !req.headers.iter().all(|(n, _)| headers::is_token(n)) {
            return Step::Respond(Page::bad_header_name());
        }
        if NOT_FORWARDED
            .iter()
            .any(|m| m.eq_ignore_ascii_case(req.method))
        {
            return Step::Respond(Page::not_forwarded());
        }
        let (scheme, host, target) = headers::split_url(req.url);
        let path = target.split('?').next().unwrap_or_default();
        if head_bytes(req.url, req.headers) > self.config.max_request_header_bytes {
            return Step::Respond(self.too_large(req, None, now));
        }
        if req.has_body && matches!(req.method, "GET" | "HEAD") {
            return Step::Respond(Page::body_not_allowed(req.method));
        }
        if headers::has_dot_segment(path) {
            return Step::Respond(Page::dot_segment());
        }
        if path == assertion::JWKS_PATH
            && self.config.assertion.is_some()
            && matches!(req.method, "GET" | "HEAD")
        {
            return Step::Jwks;
        }
        // The DBSC endpoints are public: under `/__edge/`, but no operator's.
        let dbsc_endpoint = (self.config.built.dbsc.as_ref())
            .and_then(|d| dbsc::endpoint(path).map(|found| (d, found)));
        let operator_token = self.config.operator_token.as_ref();
        let auth = headers::get(req.headers, "authorization");
        if dbsc_endpoint.is_none() && operator::is_operator_path(path) {
            return match operator::authorize(
                operator_token.map(OperatorToken::as_str),
                req.method,
                path,
                auth,
            ) {
                Ok(endpoint) => Step::Operator(endpoint),
                Err(page) => Step::Respond(page),
            };
        }
        if operator::carries_token(operator_token.map(OperatorToken::as_str), auth) {
            return Step::Respond(Page::not_found());
        }
        let cookie_header = headers::get(req.headers, "cookie");
        let session = SessionCookie::read(
            &self.config.built.tokens,
            cookie_header,
            self.config.session_cookie.name(),
            now,
        );
        if let Some((d, found)) = dbsc_endpoint {
            return Step::Dbsc(
                match found {
                    Err(page) => Decision::Answer(page),
                    Ok(endpoint) => self.dbsc_call(d, endpoint, req, &session, now, entropy),
                }
                .locked(),
            );
        }
        // DBSC: a session bound to a device key is valid only with a fresh bound cookie.
        let bound = match (&session, &self.config.built.dbsc) {
            (
                SessionCookie::Valid {
                    sid,
                    jkt: Some(jkt),
                    ..
                },
                Some(d),
            ) => Some(
                sid.as_deref()
                    .is_some_and(|sid| d.is_bound(cookie_header, sid, jkt, now)),
            ),
            _ => None,
        };
        let unbound = bound == Some(false);
        let session_cookie = match &session {
            // Unbound: the session is neither refreshed nor cleared (the browser refreshes
            // its bound cookie and comes back).
            _ if unbound => None,
            // The cookie lives as long as the token: its own lifetime, kept by a refresh
            // (`SESSION_TTL_SECONDS` changed since its login, the cookie outlived it or ended
            // before it), short of the longest life.
            SessionCookie::Valid {
                refreshed: Some((token, lifetime)),
                ..
            } => session::set_cookie(&self.config.session_cookie, token, *lifetime),
            // Cleared when every presented session cookie was read (see `session::all_read`),
            // but not for a key this version does not know: while a deploy that rotates the
            // keys spreads, it is one the new version signed, and an instance of the old one
            // would log the user out. Nor for a token of another `SESSION_FORMAT`, for the same
            // reason while a change of format spreads.
            SessionCookie::Expired | SessionCookie::Invalid(_)
                if !matches!(session, SessionCookie::Invalid("unknown_key"))
                    && session::all_read(cookie_header, self.config.session_cookie.name())
                    && !session::of_another_format(
                        &self.config.built.other_formats,
                        cookie_header,
                        self.config.session_cookie.name(),
                        now,
                    ) =>
            {
                self.config.session_cookie.removal().ok()
            }
            _ => None,
        };
        let forwarded = Forwarded {
            host,
            proto: scheme,
            client_ip: headers::get(req.headers, "cf-connecting-ip"),
        };
        let subject = match &session {
            _ if unbound => None,
            SessionCookie::Valid {
                sub,
                issued_at,
                sid,
                jkt,
                ..
            } => Some(Box::new(Subject {
                sub: sub.clone(),
                issued_at: *issued_at,
                sid: sid.clone(),
                bound: (sid.clone())
                    .zip(jkt.clone())
                    .filter(|_| bound == Some(true)),
            })),
            _ => None,
        };
        let mut identity = match bound {
            Some(false) => vec![(SessionCookie::STATUS_HEADER.into(), dbsc::UNBOUND.into())],
            Some(true) => {
                let mut identity = session.identity_headers();
                identity.push((dbsc::BOUND_HEADER.into(), "1".into()));
                identity
            }
            None => session.identity_headers(),
        };
        let nonce = self
            .config
            .directive_nonce
            .then(|| crate::codec::b64_encode(&entropy.nonce));
        identity.extend(nonce.clone().map(|n| (headers::NONCE.to_owned(), n)));
        // A WebSocket opens with a GET (RFC 6455): `Upgrade: websocket` is how the worker's
        // fetch opens one to the origin, as a GET whatever the method, and its 101 would answer
        // no HEAD or DELETE. Another method goes as itself, not upgraded.
        if req.method == "GET" && headers::is_websocket(req.headers) {
            identity.push(("upgrade".into(), "websocket".into()));
        }
        let mut origin_headers = headers::to_origin(
            req.headers,
            &forwarded,
            identity,
            self.config.dbsc.is_some(),
            &self.config.gateway_cookies(),
        );
        if let Some(param) = self.url_param() {
            // Same-site navigation sends the page's URL, value included: never to the origin.
            // So does a link's ping (`<a ping>`): the page's URL and the link's, both carrying
            // the value.
            for (_, value) in origin_headers.iter_mut().filter(|(n, _)| {
                ["referer", "ping-from", "ping-to"]
                    .iter()
                    .any(|h| n.eq_ignore_ascii_case(h))
            }) {
                *value = url::without_param(value, param);
            }
        }
        let public = if scheme.is_empty() || host.is_empty() {
            String::new()
        } else {
            format!("{scheme}://{host}")
        };
        let attempt = Attempt {
            origin: String::new(),
            url: String::new(),
            nonce,
            headers: origin_headers,
            retries_left: if req.retryable() { RETRIES } else { 0 },
            first: true,
            affinity_cookie: None,
            affinity_renewal: false,
            answer_by: now.saturating_add(LATE_ANSWER_SECONDS),
            session_cookie,
            subject,
            unbound,
            lost: false,
            unknown_key: matches!(session, SessionCookie::Invalid("unknown_key")),
            // The method first: with `Lax` (the default) a GET or HEAD, most requests, is never
            // withheld, and needs no look through the headers.
            withheld: (self.config.session_cookie).withheld_from(req.method, Some("cross-site"))
                && headers::fetch_site(req.headers, &public) == Some("cross-site"),
            public,
            carry: None,
        };
        let target = self.origin_target(target);
        self.route(req, attempt, &target, now, entropy, None)
    }

    /// The 431 of a request whose head for the origin is over `MAX_REQUEST_HEADER_BYTES`,
    /// counted as [`Gateway::start`] counts the client's: `attempt`'s as they are about to go
    /// (the client's less the gateway's cookies, with its `x-forwarded-*`, identity, session
    /// data and assertion). Checked before each try: an origin that refuses them closes its
    /// connection, and the runtime may fail the next visitor's request on it. `req` is the
    /// client's request of `attempt`: when its session would crowd each of its visitor's
    /// requests (a login would refuse it now), the 431 ends it.
    pub fn oversized(&self, attempt: &Attempt, req: &Request<'_>, now: UnixTime) -> Option<Page> {
        let bytes = head_bytes(&attempt.url, &attempt.headers) + HOP_HEADER_BYTES;
        (bytes > self.config.max_request_header_bytes)
            .then(|| self.too_large(req, Some(attempt), now))
    }

    /// The 431 of `req`, over `MAX_REQUEST_HEADER_BYTES` as the client sent it or, with
    /// `attempt`, on its way to the origin. When the session it carries is one a login would
    /// refuse now ([`Gateway::crowded`]: made before that check, or before the limit was
    /// lowered or `ORIGIN_ASSERTION` turned on), the 431 also ends it as a logout does, its
    /// cookies removed (its stored data go only with their owner's token: `store::Loaded::bind`).
    /// Otherwise its every request would be a 431 until it ended, the logout too, and the origin
    /// would never see them. A session that leaves the browser its room is kept: a long URL,
    /// which any site can link to, logs nobody out.
    fn too_large(&self, req: &Request<'_>, attempt: Option<&Attempt>, now: UnixTime) -> Page {
        let max = self.config.max_request_header_bytes;
        let crowding = session::valid_token(
            &self.config.built.tokens,
            headers::get(req.headers, "cookie"),
            self.config.session_cookie.name(),
            now,
        )
        .is_some_and(|token| self.crowded(attempt, token, now).is_some());
        if !crowding {
            return match self.cookies_crowd(req) {
                true => Page::cookies_too_large(max),
                false => Page::headers_too_large(max),
            };
        }
        let mut page = Page::session_too_large(max);
        self.end_session(&mut page.headers);
        page
    }

    /// Whether cookies that are not the gateway's put `req` over `MAX_REQUEST_HEADER_BYTES`, as
    /// the client sent it: more than half the limit; the request fits without them; and it is
    /// over even with a link of [`LINK_ALLOWANCE`] bytes (its URL and `Referer`, which another
    /// site writes). A page of a sibling subdomain (or of the site over plain http, or a script)
    /// that sets a few large cookies for the site ("cookie bomb") made every request of its
    /// visitor a 431, until the visitor found how to clear the site's cookies by hand; the 431
    /// now has the browser clear them. Never for a long link, which any site can send a visitor
    /// to, however many cookies the visitor has; nor for what the gateway adds on the way
    /// (`oversized`: identity, stored data, assertion). "Not the gateway's" counts a cookie of
    /// a gateway name that a sibling can set too (one without the `__Host-` prefix, such as
    /// DBSC's key cookie).
    fn cookies_crowd(&self, req: &Request<'_>) -> bool {
        let names = self.config.gateway_cookies();
        let untossable: Vec<&str> = names
            .into_iter()
            .filter(|n| crate::cookie::is_host_only(n))
            .collect();
        let foreign: usize = (req.headers.iter())
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .filter_map(|(_, v)| headers::without_gateway_cookies(v, &untossable))
            .map(|v| v.len())
            .sum();
        let bytes = head_bytes(req.url, req.headers);
        let referer =
            headers::get(req.headers, "referer").map_or(0, |r| field_bytes("referer", r.len()));
        let linked = req.url.len() + referer;
        let with_a_short_link = bytes - linked + linked.min(LINK_ALLOWANCE);
        let max = self.config.max_request_header_bytes;
        2 * foreign > max && with_a_short_link > max && bytes.saturating_sub(foreign) <= max
    }

    /// A DBSC endpoint's decision, on the request's session.
    fn dbsc_call(
        &self,
        d: &dbsc::Dbsc,
        endpoint: dbsc::Endpoint,
        req: &Request<'_>,
        session: &SessionCookie,
        now: UnixTime,
        entropy: &Entropy,
    ) -> Decision {
        let (scheme, host, _) = headers::split_url(req.url);
        let public = format!("{scheme}://{host}");
        let call = dbsc::Call {
            method: req.method,
            headers: req.headers,
            public: &public,
        };
        match endpoint {
            dbsc::Endpoint::Register => d.register(
                &call,
                session,
                &self.config.built.tokens,
                &self.config.session_cookie,
                now,
                entropy.dbsc,
            ),
            dbsc::Endpoint::Refresh => d.refresh(&call, session, now, entropy.dbsc),
        }
    }

    /// URL mode: the affinity parameter's name.
    fn url_param(&self) -> Option<&str> {
        let affinity = &self.config.built.affinity;
        (affinity.mode() == Mode::Url).then(|| affinity.param_name())
    }

    /// The path and query sent to the origin: the client's, without the affinity parameter in
    /// URL mode (the origin never sees it).
    fn origin_target(&self, target: String) -> String {
        match self.url_param() {
            Some(param) => url::without_param(&target, param),
            None => target,
        }
    }

    /// Acts on the revocation check of `attempt`'s session token: `revocation` is what the
    /// store answered for its subject (see [`store::revoke`]). A session it refuses reaches
    /// the origin as `x-session-status: revoked`, without identity, and the client's session
    /// cookie is cleared; when the store could not answer, the request goes on with its identity
    /// and `x-session-revocation: unchecked`, and the store's error comes back for the log, as
    /// does word of a record that could not be read ([`Revocation::UNREADABLE`], which refuses
    /// every session of its subject until a revocation replaces it).
    pub fn check_revocation(
        &self,
        attempt: &mut Attempt,
        revocation: Result<Option<Revocation>, Error>,
    ) -> Option<Error> {
        let s = attempt.subject.as_deref()?;
        match revocation {
            Ok(Some(r)) if r.refuses(s.issued_at, s.sid.as_deref()) => {
                self.revoke_session(attempt, r.before);
                (r == Revocation::UNREADABLE).then_some(Error::Malformed(
                    "the subject's revocation record cannot be read: its sessions are refused until it is revoked again (POST /__edge/sessions/revoke)",
                ))
            }
            Ok(_) => None,
            Err(e) => {
                attempt
                    .headers
                    .push((headers::REVOCATION.into(), "unchecked".into()));
                Some(e)
            }
        }
    }

    /// The session of `attempt` refused by a revocation of the sessions begun `before`. Its
    /// cookie is removed, but not for a revocation of the request's last seconds (made at most
    /// [`LATE_ANSWER_SECONDS`] before it): likely by an answer to another request of the same
    /// browser (a password change, a logout that logs another user in), sent after this one,
    /// whose new session cookie is in the browser by now and would be the one removed. The
    /// session is refused all the same; a later answer removes the cookie.
    fn revoke_session(&self, attempt: &mut Attempt, before: UnixTime) {
        attempt.headers.retain(|(n, _)| {
            !SessionCookie::IDENTITY_HEADERS.contains(&n.as_str()) && n != dbsc::BOUND_HEADER
        });
        attempt
            .headers
            .push((SessionCookie::STATUS_HEADER.into(), "revoked".into()));
        let sent = attempt.answer_by.saturating_sub(LATE_ANSWER_SECONDS);
        let recent =
            before <= sent.saturating_add(1) && sent < before.saturating_add(LATE_ANSWER_SECONDS);
        attempt.session_cookie = (!recent)
            .then(|| self.config.session_cookie.removal().ok())
            .flatten();
        attempt.subject = None;
        // Anonymous now: a visitor without the affinity cookie is a new one, not reassigned.
        if std::mem::take(&mut attempt.lost) {
            attempt.headers.retain(|(n, _)| n != headers::REASSIGNED);
        }
    }

    /// Picks the origin for `attempt` among those up now, other than `avoid`.
    fn route(
        &mut self,
        req: &Request<'_>,
        mut attempt: Attempt,
        target: &str,
        now: UnixTime,
        entropy: &Entropy,
        avoid: Option<&str>,
    ) -> Step {
        // The router's backends and the health book's origins are the configuration's origins,
        // in its order: each found by its index, not by searching the ids (with 1,024 origins,
        // a million comparisons per request).
        for (i, o) in self.config.origins.iter().enumerate() {
            let up = self.health.is_up_at(i, now) && avoid != Some(o.id.as_str());
            self.config.built.affinity.set_healthy_at(i, up);
        }
        let header = self
            .config
            .built
            .affinity
            .header_name()
            .and_then(|name| headers::get(req.headers, name));
        let route_request = RouteRequest {
            cookie: headers::get(req.headers, "cookie"),
            url: Some(req.url),
            client_ip: headers::get(req.headers, "cf-connecting-ip"),
            header,
            method: Some(req.method),
            fetch_site: headers::fetch_site(req.headers, &attempt.public),
            entropy: entropy.visitor,
        };
        let route = match self.config.built.affinity.route(&route_request, now) {
            Ok(route) => route,
            Err(Error::NoBackend) => {
                return Step::Respond(Page::all_down(self.health.retry_after(now)))
            }
            Err(Error::BackendUnavailable(_)) => {
                return Step::Respond(Page::origin_unavailable(self.health.retry_after(now)))
            }
            Err(_) => return Step::Respond(Page::internal()),
        };
        let Some(origin) = self.config.origins.iter().find(|o| o.id == route.backend) else {
            return Step::Respond(Page::internal());
        };
        // In the hashing modes, a keyed visitor sent away from its first choice (down,
        // draining, or avoided by this retry) is reassigned too. So is, in cookie mode, a
        // logged-in visitor without an affinity cookie: browsers drop it when it has been idle
        // `AFFINITY_IDLE_SECONDS` (its `Max-Age`), often before the session ends, and the
        // visitor's origin, with any state it kept in memory, is then not known.
        let affinity = &self.config.built.affinity;
        // (A visitor without the cookie is always issued one: the Cookie header is read only
        // then, not on every logged-in request.)
        let issued = route.set_cookie.is_some() && affinity.mode() == Mode::Cookie;
        let presented = issued
            && (route_request.cookie)
                .is_some_and(|c| crate::cookie::get(c, affinity.cookie_name()).is_some());
        // Logged in: a valid session, with a `sub` or without (not `unbound`, not yet found
        // revoked: `revoke_session` takes the word back).
        let lost = issued
            && !presented
            && headers::get(&attempt.headers, SessionCookie::STATUS_HEADER) == Some("valid");
        attempt.headers.retain(|(n, _)| n != headers::REASSIGNED);
        if route.reassigned || lost {
            attempt
                .headers
                .push((headers::REASSIGNED.into(), "1".into()));
        }
        attempt.lost = lost && !route.reassigned;
        attempt.origin = origin.id.clone();
        attempt.url = format!("{}{target}", origin.url);
        // None for a new visitor's cross-site request the browser withheld the cookie from
        // (`RouteRequest::method`); a login on it still pins the user where it logged in
        // (`finish`).
        attempt.affinity_cookie = route.set_cookie;
        // A move goes however late: it keeps the visitor where this answer was made (held
        // back, a visitor whose answers all come late would be moved at every request, paying
        // a timed-out first try's `ORIGIN_TIMEOUT_MS` again, placed at random when its value is
        // not honoured, and sent back once its origin recovers). Only a refresh waits.
        attempt.affinity_renewal = presented && !route.reassigned;
        if let Some(param) = self.url_param() {
            // The live value the visitor presented. A route that reassigned nobody honoured the
            // only value presented (or there was none): no second check of its signature on the
            // common path. Reassigned (forged, expired, or its origin down), or several values:
            // check which one is live.
            let mut presented = url::param_values(req.url, param);
            let first = presented.next();
            let several = presented.next().is_some();
            let live = if route.reassigned || several {
                self.config.built.affinity.live_param(req.url, now)
            } else {
                first
            };
            let issued = route
                .url
                .as_deref()
                .and_then(|u| url::param_values(u, param).next());
            // A new visitor, a forged or expired value, or a live one moved off its origin (down,
            // or gone from ORIGINS): a page load goes to its URL with the new value first. The
            // address bar would keep a moved value, and each reload be moved again (the origin
            // told `x-session-reassigned` every time) and go back to the old origin once it is
            // up. A retry (`avoid`) is served: the request was sent once already.
            if let (Some(location), None) = (&route.url, avoid) {
                if (live.is_none() || route.reassigned) && redirectable(req) {
                    return Step::Respond(Page::affinity_redirect(location));
                }
            }
            // A value presented and issued again (refreshed, or moved) reaches the visitor only
            // in the answer's URLs: no `304 Not Modified`, which would keep the browser's cached
            // page and the old value in its links.
            if first.is_some() && issued.is_some() && req.method == "GET" {
                attempt.headers.retain(|(n, _)| {
                    !n.eq_ignore_ascii_case("if-none-match")
                        && !n.eq_ignore_ascii_case("if-modified-since")
                });
            }
            attempt.carry = issued
                .or(live)
                .map(|value| (param.to_owned(), value.to_owned()));
        }
        Step::Proxy(attempt)
    }

    /// After `attempt` got no answer (connection refused, reset, timeout): counts the failure
    /// against its origin (see [`HealthBook::failed`]) and, when the request may be sent again
    /// and retries are left, picks another origin, which the visitor then keeps.
    ///
    /// Only what the client cannot cause counts: a request's first try, without a body (a body
    /// can fail on the client's side, an aborted upload). A retry's failure is never counted,
    /// so one request never marks two origins.
    pub fn retry(
        &mut self,
        req: &Request<'_>,
        attempt: &Attempt,
        now: UnixTime,
        entropy: &Entropy,
    ) -> Retry {
        self.try_again(req, attempt, now, entropy, HealthBook::failed)
    }

    /// The other try after `attempt` got no answer, its failure counted against its origin by
    /// `count` (a first try without a body only: see [`Gateway::retry`]), or the page that ends
    /// the request.
    fn try_again(
        &mut self,
        req: &Request<'_>,
        attempt: &Attempt,
        now: UnixTime,
        entropy: &Entropy,
        count: fn(&mut HealthBook, &str, UnixTime) -> bool,
    ) -> Retry {
        if attempt.first && !req.has_body {
            count(&mut self.health, &attempt.origin, now);
        }
        if !req.retryable() {
            return Retry::Respond(Page::origin_lost());
        }
        if attempt.retries_left == 0 {
            return Retry::Respond(self.give_up(now));
        }
        let target = self.origin_target(headers::split_url(req.url).2);
        let next = Attempt {
            retries_left: attempt.retries_left - 1,
            first: false,
            ..attempt.clone()
        };
        match self.route(req, next, &target, now, entropy, Some(&attempt.origin)) {
            Step::Proxy(next) => Retry::Next(next),
            _ => Retry::Respond(self.give_up(now)),
        }
    }

    /// [`Gateway::retry`] after `attempt` got no answer in time (`ORIGIN_TIMEOUT_MS`): a timeout
    /// is the origin giving no answer, as a connection failure is (the same passive mark, the
    /// same other try), but with no try left the answer is the 504 of
    /// [`Page::origin_timeout`] rather than a 503. Unlike a connection failure, a slow answer is
    /// something a client may cause (an expensive path, a long poll): its mark never takes out
    /// the last origin up ([`HealthBook::timed_out`]), and docs/gateway.md tells the operator to
    /// set the timeout above the slowest answer.
    pub fn retry_timed_out(
        &mut self,
        req: &Request<'_>,
        attempt: &Attempt,
        now: UnixTime,
        entropy: &Entropy,
    ) -> Retry {
        match self.try_again(req, attempt, now, entropy, HealthBook::timed_out) {
            Retry::Respond(_) => Retry::Respond(Page::origin_timeout()),
            next => next,
        }
    }

    /// No further try after an origin gave no answer: a 503 that says whether any origin is up.
    /// The one that failed counts until it is marked down: one failed try on a site of one
    /// origin (a connection reset) is that origin unavailable, not all origins down.
    fn give_up(&self, now: UnixTime) -> Page {
        let retry_after = self.health.retry_after(now);
        if (0..self.config.origins.len()).any(|i| self.health.is_up_at(i, now)) {
            Page::origin_unavailable(retry_after)
        } else {
            Page::all_down(retry_after)
        }
    }

    /// The origin of `attempt` answered (any status): its failure streak ends.
    pub fn answered(&mut self, attempt: &Attempt) {
        self.health.answered(&attempt.origin);
    }

    /// What an answer that [`Gateway::finish`] refused still does, `page` being the 502 that
    /// replaces it: the sessions it ends. A refused answer is not carried out (a new login's
    /// malformed `x-session-issue`, say), but ending a session is never the unsafe side: a
    /// password change or a switch of user whose new login is refused must not leave the old
    /// session valid. A logout (`x-session-clear`, or a `Clear-Site-Data` that clears cookies)
    /// or a revocation of the request's own subject clears this browser's session cookies with
    /// the page, which also passes the answer's `Clear-Site-Data` on; the plan returned (a store
    /// on, `None` when it has nothing to do) deletes the stored session and revokes the
    /// `x-session-revoke` subject, when it names one. Directives count as for an answer carried
    /// out (`DIRECTIVE_NONCE`, none from a cache).
    pub fn refused(
        &self,
        attempt: &Attempt,
        origin_headers: &[(String, String)],
        page: &mut Page,
    ) -> Option<store::Plan> {
        let (out, mut directives) = headers::from_origin(
            origin_headers,
            self.config.dbsc.is_some(),
            &self.config.gateway_cookies(),
        );
        if !attempt.counts(&directives) || headers::from_cache(&out) {
            directives = headers::Directives::default();
        }
        let site_clear = headers::get(&out, "clear-site-data");
        let logout = directives.clear || site_clear.is_some_and(headers::clears_cookies);
        // A revocation of the request's own subject logs this browser out, as it would have,
        // even without a store to keep it in (the 502 says so): ending a session is the safe
        // side.
        let revoke = (directives.revoke.as_deref()).and_then(|s| store::one_subject(s).ok());
        if logout || revoke.is_some() && revoke == attempt.subject().map(|s| s.0) {
            self.end_session(&mut page.headers);
        }
        // Its Clear-Site-Data, which only clears, reaches the browser as the answer's would
        // have: the site's own cookies and storage are cleared too, not only the gateway's.
        if let Some(clear) = site_clear {
            page.headers.push(("clear-site-data".into(), clear.into()));
        }
        let plan = store::Plan {
            logout,
            revoke: revoke.map(str::to_owned),
            ended: attempt.session_id().filter(|_| logout).map(str::to_owned),
            ..store::Plan::default()
        };
        (self.config.store.is_some() && !plan.is_empty()).then_some(plan)
    }

    /// Adds to the `Set-Cookie` of `headers` the removals a logout sends: the session cookie's
    /// and, with DBSC, the device's (see [`Gateway::dbsc_removals`]).
    fn end_session(&self, headers: &mut Vec<(String, String)>) {
        let session = self.config.session_cookie.removal().ok();
        headers::add_cookies(headers, session.into_iter().chain(self.dbsc_removals()));
    }

    /// DBSC: the removals of the device's bound and key cookies, which a logout sends with the
    /// session cookie's, so that the browser's next refresh ends its device-bound session
    /// (`{"continue": false}`).
    fn dbsc_removals(&self) -> Vec<String> {
        let Some(d) = &self.config.dbsc else {
            return Vec::new();
        };
        [d.bound_cookie.removal(), d.key_cookie.removal()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// [`Gateway::finish`] for the origin's answer of `status`, as the client gets it. An answer
    /// to a request that carried a visitor's session is that visitor's: a shared cache past the
    /// gateway (a CDN in front of it, a proxy) must not keep it, whatever the origin said. It
    /// keys by the URL and the `Cookie` it sees, never by the identity the origin got in
    /// `x-session-*` (a `Vary` on those names nothing the cache sees): made `private`. But a
    /// `304` without `Cache-Control`: its headers update the copy the browser keeps (RFC 9111
    /// 4.3.4), made private with its `max-age` when it was sent, which a bare `private` would
    /// take away.
    pub fn finish_status(
        &self,
        attempt: &Attempt,
        status: u16,
        origin_headers: &[(String, String)],
        now: UnixTime,
        entropy: &Entropy,
    ) -> Result<Answer, Page> {
        let mut answer = self.finish(attempt, origin_headers, now, entropy)?;
        let bare_304 = status == 304 && headers::get(origin_headers, "cache-control").is_none();
        if attempt.personal() && !bare_304 {
            headers::make_private(&mut answer.headers);
        }
        Ok(answer)
    }

    /// The headers to send to the client with the origin's response: the origin's, without
    /// `x-session-*` and hop-by-hop headers (a `Location` on the origin's own address moved to
    /// the public host), plus the gateway's cookies. An origin's login
    /// (`x-session-issue`) becomes a signed session cookie with a fresh session id and a fresh
    /// affinity value (no session fixation); a logout (`x-session-clear`) clears the cookie.
    ///
    /// The origin's `x-session-*` directives are read here, once: the answer also carries what
    /// they ask of the stored session (`STORE` on), to carry out with [`store::finish`].
    pub fn finish(
        &self,
        attempt: &Attempt,
        origin_headers: &[(String, String)],
        now: UnixTime,
        entropy: &Entropy,
    ) -> Result<Answer, Page> {
        if !origin_headers.iter().all(|(n, _)| headers::is_token(n)) {
            return Err(Page::bad_origin_answer(
                "a header name holds a character HTTP does not allow in one (a byte above 0x7F, which the runtime cannot remove, or a separator)",
            ));
        }
        let (mut out, mut directives) = headers::from_origin(
            origin_headers,
            self.config.dbsc.is_some(),
            &self.config.gateway_cookies(),
        );
        let dropped_cookie = directives.dropped_cookie;
        let url_mode = self.config.built.affinity.mode() == Mode::Url;
        // Redirects to the origin's own address go to the public host instead: a `Location`,
        // and the URL of a `Refresh` (a redirect after a delay) written the usual way. So do
        // those to another origin's full address (origins serve one site): the client sees none.
        let origins = &self.config.origins;
        let origin = origins.iter().find(|o| o.id == attempt.origin);
        if let Some(origin) = origin.filter(|_| !attempt.public.is_empty()) {
            let on = |o: &Origin, url: &str| headers::public_location(url, &o.url, &attempt.public);
            let public = |url: &str| {
                on(origin, url).or_else(|| {
                    // A path (`/…`) is on the answering origin's host, no other's; `//…` names
                    // its host.
                    if url.starts_with('/') && !url.starts_with("//") {
                        return None;
                    }
                    origins.iter().find_map(|o| on(o, url))
                })
            };
            for (name, value) in out.iter_mut() {
                let moved = if name.eq_ignore_ascii_case("location") {
                    public(value)
                } else if name.eq_ignore_ascii_case("refresh") {
                    refresh_url(value)
                        .and_then(|(head, url, tail)| Some(format!("{head}{}{tail}", public(url)?)))
                } else {
                    None
                };
                if let Some(moved) = moved {
                    *value = moved;
                }
            }
        }
        // The origin's cookies on its base path go on the public path the client sees (the
        // base read only for an answer that sets one: most set none).
        if let Some(origin) = origin {
            let mut base = None;
            for (_, value) in out
                .iter_mut()
                .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            {
                let base = base.get_or_insert_with(|| headers::split_url(&origin.url).2);
                if let Some(moved) = headers::public_cookie_path(value, base) {
                    *value = moved;
                }
            }
        }
        if let Some((param, carried)) = &attempt.carry {
            // Redirects within the site keep the visitor's value (the page's own is relative
            // to the public host, where the origin's address was moved above).
            let base = format!("{}/", attempt.public);
            let mut carrying_location = false;
            for (_, value) in out
                .iter_mut()
                .filter(|(n, _)| n.eq_ignore_ascii_case("location"))
            {
                if let Some(carrying) =
                    url::rewrite_url(&base, value, param, carried, Written::Plain)
                {
                    *value = carrying;
                    carrying_location = true;
                }
            }
            // So do those of a `Refresh` header, a redirect after a delay.
            for (_, value) in out
                .iter_mut()
                .filter(|(n, _)| n.eq_ignore_ascii_case("refresh"))
            {
                if let Some(carrying) =
                    refresh_carrying(&base, value, param, carried, Written::Plain)
                {
                    *value = carrying;
                    carrying_location = true;
                }
            }
            // An answer that carries the value (in a redirect, or in the links of a page
            // rewritten as it streams) is this visitor's: a shared cache must not hand it to
            // others, as with the cookie of cookie mode (a visitor's first request that is not a
            // page load gets a fresh value on a URL that every new visitor shares).
            let page = is_html(&out);
            if carrying_location || page {
                headers::make_private(&mut out);
            }
            // A page is rewritten as it streams (see [`html_rewrite`]): its bytes are no longer
            // the origin's, nor the same for two visitors. Its length, digests and byte ranges
            // go, and its `ETag` is made weak (it still revalidates the visitor's own page, but
            // promises no byte-for-byte equality, which `If-Range` would rely on).
            if page {
                out.retain(|(n, _)| !REWRITTEN_DROP.iter().any(|d| n.eq_ignore_ascii_case(d)));
                for (_, tag) in out
                    .iter_mut()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("etag"))
                {
                    if !tag.starts_with("W/") {
                        tag.insert_str(0, "W/");
                    }
                }
            }
        }
        if url_mode {
            let strict = headers::get(&out, "referrer-policy")
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("no-referrer"));
            if !strict {
                out.retain(|(n, _)| !n.eq_ignore_ascii_case("referrer-policy"));
                out.push(("referrer-policy".into(), URL_MODE_REFERRER_POLICY.into()));
            }
            // A `Link` header's `referrerpolicy` parameter is the policy of the request it
            // starts (a preload), whatever the page's: one that sends the full URL to other
            // sites would send the value there. Such a header (a hint) goes.
            out.retain(|(n, v)| !(n.eq_ignore_ascii_case("link") && asks_full_referrer(v)));
            // A report (a CSP violation, a network error, a deprecation) carries the page's URL,
            // value included, to its endpoint, another site or the origin: none is named.
            out.retain(|(n, _)| {
                !["nel", "report-to", "reporting-endpoints"]
                    .iter()
                    .any(|h| n.eq_ignore_ascii_case(h))
            });
            for (_, policy) in out.iter_mut().filter(|(n, _)| {
                n.eq_ignore_ascii_case("content-security-policy")
                    || n.eq_ignore_ascii_case("content-security-policy-report-only")
            }) {
                *policy = without_reports(policy);
            }
        }
        if !attempt.counts(&directives) {
            return Err(Page::bad_origin_answer(
                "x-session-* directives count only with the request's x-session-nonce sent back (DIRECTIVE_NONCE is on)",
            ));
        }
        // Directives are the origin's answer to one request: kept by a cache between the gateway
        // and the origin (a "Cache Everything" rule, an answer marked `public`), a login would
        // log every later visitor into that session, and a revocation end its user's sessions
        // at each visit. Caches know `Set-Cookie` and not these headers. So none is carried out.
        if directives.any() && headers::from_cache(&out) {
            return Err(Page::bad_origin_answer(
                "x-session-* directives in an answer served from a cache (Age above 0, or CF-Cache-Status HIT, STALE, UPDATING or REVALIDATED) were another request's: answer them with Cache-Control: no-store",
            ));
        }
        // An answer that clears the site's cookies clears the gateway's in the browser: its
        // session ends as at a logout (the stored one deleted), nonce or not (the header is the
        // browser's, not a directive).
        directives.clear |=
            headers::get(&out, "clear-site-data").is_some_and(headers::clears_cookies);
        if directives.revoke.is_some() && self.config.store.is_none() {
            return Err(Page::bad_origin_answer(
                "x-session-revoke needs a store to keep revocations in: set STORE to kv or durable",
            ));
        }
        // Dropped, the data would be lost with a 200: the origin's next request gets none (a
        // patch that changes nothing, `{}`, loses nothing).
        // Read only without a store (with one, the plan reads it).
        let lost = |d: &str| !matches!(serde_json::from_str(d), Ok(serde_json::Value::Object(m)) if m.is_empty());
        if self.config.store.is_none() && directives.data.as_deref().is_some_and(lost) {
            return Err(Page::bad_origin_answer(
                "x-session-data needs a store to keep session data in: set STORE to kv or durable",
            ));
        }
        let mut plan = match &self.config.store {
            Some(store) => Some(
                store::Plan::from_directives(&directives, store.sessions.max_data_bytes)
                    .map_err(|why| Page::bad_origin_answer(&why))?,
            ),
            None => None,
        };
        let mut affinity_cookie = (attempt.affinity_cookie.clone())
            .filter(|_| !attempt.affinity_renewal || now <= attempt.answer_by);
        let mut session_cookie =
            (attempt.session_cookie.clone()).filter(|_| now <= attempt.answer_by);
        // A logout, or a "log out everywhere" of this very user, ends this browser's session.
        let revoked_here = directives.revoke.is_some()
            && directives.revoke.as_deref() == attempt.subject().map(|s| s.0);
        // DBSC: a logout also removes the device's key and bound cookies.
        let mut dbsc_cookies = Vec::new();
        if directives.clear || revoked_here {
            session_cookie = self.config.session_cookie.removal().ok();
            dbsc_cookies = self.dbsc_removals();
        }
        // With a store, a logout ends the session's token too: a copy of it is refused.
        if let Some(plan) = plan.as_mut().filter(|_| directives.clear) {
            plan.ended = attempt.session_id().map(str::to_owned);
        }
        // The login's claims: checked with the plan when there is a store, here otherwise.
        let claims = match &plan {
            Some(plan) => plan.claims.clone(),
            None => match directives.issue.as_deref().map(session::issue_claims) {
                None => None,
                Some(Ok((claims, _))) => Some(claims),
                Some(Err(e)) => return Err(Page::bad_origin_answer(&e.0)),
            },
        };
        // DBSC: a re-issue for the subject of a request that came bound (with its fresh bound
        // cookie) is a new version of that device-bound session, not a new session: without its
        // binding, whoever held the request's cookies (a thief, within the bound cookie's life)
        // would get a session no device key guards. Not with a logout in the same answer, which
        // removes the bound and key cookies; nor for a session past its longest life from its
        // login (in the leeway `SessionCodec::verify` allows after it), which starts anew.
        let max_lifetime = self.config.tokens().max_lifetime();
        let rebound = (attempt.subject.as_deref())
            .filter(|_| !(directives.clear || revoked_here))
            .filter(|s| {
                let issued = claims.as_ref().and_then(|c| c.get("sub")?.as_str());
                s.sub.as_deref().is_some_and(|sub| issued == Some(sub))
            })
            .filter(|s| s.issued_at.saturating_add(max_lifetime) > now)
            .and_then(|s| Some((s.bound.as_ref()?, s.issued_at)));
        if let Some(claims) = &claims {
            let tokens = &self.config.built.tokens;
            let (token, max_age) = match rebound {
                Some(((sid, jkt), issued_at)) => session::sign_rebound(
                    tokens,
                    claims,
                    (sid, jkt, issued_at),
                    self.config.tokens(),
                    now,
                ),
                None => session::sign_issued(tokens, claims, &entropy.sid, now)
                    .map(|t| (t, self.config.tokens().ttl_seconds)),
            }
            .map_err(|e| Page::bad_origin_answer(&e.0))?;
            // A password change: the revocation spares the session this answer begins.
            if let Some(plan) = plan.as_mut().filter(|p| {
                rebound.is_none()
                    && p.revoke.as_deref() == claims.get("sub").and_then(serde_json::Value::as_str)
            }) {
                plan.spared = Some(crate::codec::b64_encode(&entropy.sid));
            }
            if !session::fits_a_cookie(self.config.session_cookie.name(), &token) {
                return Err(Page::bad_origin_answer(&format!(
                    "x-session-issue: the session cookie would be over the {} bytes that browsers keep (with {} left for the gateway's later claims)",
                    session::MAX_COOKIE_BYTES,
                    session::LATER_CLAIMS_BYTES,
                )));
            }
            if let Some(why) = self.crowded(Some(attempt), &token, now) {
                return Err(Page::bad_origin_answer(&why));
            }
            session_cookie = session::set_cookie(&self.config.session_cookie, &token, max_age);
            if let Some(d) = self
                .config
                .built
                .dbsc
                .as_ref()
                .filter(|_| rebound.is_none())
            {
                let (challenge, _) = entropy.dbsc.split_at(8);
                let offer = d.offer(
                    &crate::codec::b64_encode(&entropy.sid),
                    now,
                    challenge.try_into().unwrap_or_default(),
                );
                out.extend(offer);
            }
            // A new value for the logged-in visitor, on the same origin; not on a draining one,
            // which keeps its visitors only until their values end.
            let draining = origin.is_some_and(|o| o.draining);
            if self.config.built.affinity.mode() == Mode::Cookie && !draining {
                let fresh =
                    self.config
                        .built
                        .affinity
                        .assign(&attempt.origin, entropy.visitor, now);
                affinity_cookie = fresh.ok().and_then(|r| r.set_cookie).or(affinity_cookie);
            }
        }
        headers::add_cookies(
            &mut out,
            affinity_cookie
                .into_iter()
                .chain(session_cookie)
                .chain(dbsc_cookies),
        );
        Ok(Answer {
            headers: out,
            plan,
            dropped_cookie,
        })
    }

    /// Why the session of `token`, just signed at a login, would leave its visitor's later
    /// requests less than [`BROWSER_ROOM_BYTES`] of `MAX_REQUEST_HEADER_BYTES` (half of it when
    /// that is smaller): each would be a 431, its logout too, until the session ended. What the
    /// session adds to a request is counted as [`head_bytes`] counts: from the browser, its
    /// cookie; to the origin of `attempt`, its identity headers, its stored data at their limit
    /// and its assertion (without `attempt`, only the browser's side is counted); each with
    /// [`session::LATER_CLAIMS_BYTES`] for the claims it gains later. `None` when it fits.
    fn crowded(&self, attempt: Option<&Attempt>, token: &str, now: UnixTime) -> Option<String> {
        let max = self.config.max_request_header_bytes;
        let room = max - BROWSER_ROOM_BYTES.min(max / 2);
        let later = session::LATER_CLAIMS_BYTES;
        let name = self.config.session_cookie.name();
        let pair = format!("{name}={token}");
        // In the `Cookie` header (as `head_bytes` counts a field), and `; ` before the browser's
        // other cookies.
        let from_browser = field_bytes("cookie", pair.len()) + 2 + later;

        let to_origin = attempt.map_or(0, |attempt| self.to_origin_bytes(attempt, &pair, now));
        let (side, bytes) = if from_browser > to_origin {
            ("from the browser (its cookie)", from_browser)
        } else {
            (
                "to the origin (its identity, stored data and assertion headers)",
                to_origin,
            )
        };
        (bytes > room).then(|| {
            format!(
                "x-session-issue: the session would add more to each request {side} than the {room} bytes that MAX_REQUEST_HEADER_BYTES ({max}) leaves it: every request of the visitor would be refused (431)"
            )
        })
    }

    /// What the session of the cookie `pair` adds to each request to the origin of `attempt`,
    /// its later claims included (see [`Gateway::crowded`]).
    fn to_origin_bytes(&self, attempt: &Attempt, pair: &str, now: UnixTime) -> usize {
        let later = session::LATER_CLAIMS_BYTES;
        let name = self.config.session_cookie.name();
        let identity = SessionCookie::read(&self.config.built.tokens, Some(pair), name, now);
        let mut next = attempt.clone();
        next.headers = identity.identity_headers();
        let mut grows = later;
        if let Some(store) = &self.config.store {
            next.headers.extend([
                (headers::STORE.into(), "ok".into()),
                (headers::REVOCATION.into(), "unchecked".into()),
                (
                    headers::DATA.into(),
                    "x".repeat(store.sessions.max_data_bytes),
                ),
            ]);
        }
        if self.config.built.dbsc.is_some() {
            next.headers.push((dbsc::BOUND_HEADER.into(), "1".into()));
        }
        let signer = self.config.assertion.as_ref().and_then(|a| a.keys.first());
        if let (Some(claims), Some(key)) = (assertion::claims(&self.config, &next), signer) {
            let lifetime = crate::token::assertion::MAX_LIFETIME_SECONDS;
            let signed = claims.signing_input(key, now, lifetime).finish(&[0; 64]);
            assertion::set(&mut next, signed);
            grows += later;
        }
        head_bytes("", &next.headers) + HOP_HEADER_BYTES + grows
    }
}

/// The part of `MAX_REQUEST_HEADER_BYTES` a login leaves for what a browser sends of its own
/// (the URL, its user agent and accepts, the site's other cookies) and the gateway's
/// `x-forwarded-*`: see [`Gateway::crowded`].
const BROWSER_ROOM_BYTES: usize = 2048;

/// What [`Gateway::finish`] makes of an origin's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The headers to send to the client.
    pub headers: Vec<(String, String)>,
    /// What the origin asked of the stored session, to carry out with [`store::finish`]
    /// (`None` when `STORE` is off).
    pub plan: Option<store::Plan>,
    /// The origin's answer set one of the gateway's cookies, which was taken out
    /// ([`headers::Directives::dropped_cookie`]).
    pub dropped_cookie: bool,
}

/// The URL and `Referer` of a link, in bytes, that a request is over `MAX_REQUEST_HEADER_BYTES`
/// with before its 431 clears the cookies that put it there (see `Gateway::cookies_crowd`): a
/// longer link is another site's to write.
const LINK_ALLOWANCE: usize = 2048;

/// `x-session-hop` and its 31-character value as [`head_bytes`] counts them: the glue adds it to
/// each request to an origin (the loop tag of src/gateway/worker/entry.mjs).
const HOP_HEADER_BYTES: usize = field_bytes("x-session-hop", 31);

/// The bytes of a request's head as `MAX_REQUEST_HEADER_BYTES` counts them: each header's name
/// and value with 4 more (`: `, CRLF), and the URL, whose path and query the request line
/// carries (servers such as Node count it in their limit: a long URL took a request the gateway
/// let through over an origin's).
fn head_bytes(url: &str, headers: &[(String, String)]) -> usize {
    let fields: usize = headers.iter().map(|(n, v)| field_bytes(n, v.len())).sum();
    fields + url.len()
}

/// One header field as [`head_bytes`] counts it: its name, a value of `value_len` bytes, and 4
/// bytes more (`: `, CRLF).
const fn field_bytes(name: &str, value_len: usize) -> usize {
    name.len() + value_len + 4
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn entropy_from_random_bytes() {
        let bytes: [u8; 56] = std::array::from_fn(|i| i as u8);
        let e = Entropy::from_bytes(&bytes);
        assert_eq!(e.dbsc, std::array::from_fn::<u8, 16, _>(|i| i as u8 + 40));
        assert_eq!(e.visitor, u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]));
        assert_eq!(e.sid, std::array::from_fn::<u8, 16, _>(|i| i as u8 + 8));
        assert_eq!(e.nonce, std::array::from_fn::<u8, 16, _>(|i| i as u8 + 24));
    }

    #[test]
    fn only_101_hands_a_socket_over() {
        assert!(hands_over_socket(101));
        assert!(!hands_over_socket(200) && !hands_over_socket(100) && !hands_over_socket(426));
    }

    fn gateway(extra: &[(&str, &str)]) -> Gateway {
        let mut vars: Vec<(&str, &str)> = vec![
            (
                "ORIGINS",
                r#"[{"id":"a","url":"http://127.0.0.1:9001"},{"id":"b","url":"http://127.0.0.1:9002"},{"id":"c","url":"http://127.0.0.1:9003"}]"#,
            ),
            (
                "SESSION_KEYS",
                r#"[{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#,
            ),
        ];
        vars.extend_from_slice(extra);
        Gateway::new(crate::gateway::config::from_pairs(&vars).unwrap()).unwrap()
    }

    /// The `ORIGINS` of [`gateway`], with the ids in `draining` draining.
    fn origins_draining(draining: &[&str]) -> String {
        let list: Vec<String> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, id)| {
                format!(
                    r#"{{"id":"{id}","url":"http://127.0.0.1:900{}","draining":{}}}"#,
                    i + 1,
                    draining.contains(id)
                )
            })
            .collect();
        format!("[{}]", list.join(","))
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn get<'a>(headers: &'a [(String, String)]) -> Request<'a> {
        Request {
            method: "GET",
            url: "https://app.example/x?y=1",
            headers,
            has_body: false,
        }
    }

    /// A request of `method`, with a body or without, from a visitor with no cookies.
    fn sent(method: &str, has_body: bool) -> Request<'_> {
        Request {
            method,
            has_body,
            ..get(&[])
        }
    }

    fn proxy(step: Step) -> Attempt {
        match step {
            Step::Proxy(a) => a,
            other => panic!("{other:?}"),
        }
    }

    /// A new visitor's first request, and the Cookie header that brings it back (its affinity).
    fn a_visitor(gw: &mut Gateway) -> (Attempt, Vec<(String, String)>) {
        let first = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        let jar = h(&[(
            "cookie",
            cookie_pair(first.affinity_cookie.as_deref().unwrap()),
        )]);
        (first, jar)
    }

    fn cookie_pair(set_cookie: &str) -> &str {
        set_cookie.split(';').next().unwrap()
    }

    fn set_cookies(headers: &[(String, String)]) -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn a_visitor_sticks_and_spoofed_identity_is_dropped() {
        let mut gw = gateway(&[]);
        let spoof = h(&[("x-session-sub", "admin"), ("X-Session-Status", "valid")]);
        let first = proxy(gw.start(
            &get(&spoof),
            NOW,
            &Entropy {
                visitor: 1,
                sid: [0; 16],
                ..Entropy::default()
            },
        ));
        assert_eq!(
            first.url,
            format!(
                "{}/x?y=1",
                gw.config()
                    .origins
                    .iter()
                    .find(|o| o.id == first.origin)
                    .unwrap()
                    .url
            )
        );
        assert!(!first
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("x-session-sub") || v == "valid"));
        assert!(first
            .headers
            .contains(&("x-session-status".into(), "none".into())));
        let out = gw
            .finish(
                &first,
                &h(&[("content-type", "text/plain")]),
                NOW,
                &Entropy::default(),
            )
            .unwrap()
            .headers;
        let cookies = set_cookies(&out);
        assert_eq!(cookies.len(), 1);
        let jar = cookie_pair(cookies[0]).to_owned();
        for i in 0..50 {
            let headers = h(&[("cookie", &jar)]);
            let again = proxy(gw.start(
                &get(&headers),
                NOW + i,
                &Entropy {
                    visitor: i,
                    sid: [0; 16],
                    ..Entropy::default()
                },
            ));
            assert_eq!(again.origin, first.origin);
            assert_eq!(again.affinity_cookie, None);
        }
    }

    /// A refreshed token keeps its lifetime (its login's `SESSION_TTL_SECONDS`, short of the
    /// longest life), and so does its cookie's `Max-Age`: it was the `SESSION_TTL_SECONDS` of
    /// the instance refreshing it, so that a TTL changed since the login (or a deploy of two
    /// versions) gave a cookie that ended before the token, or outlived it.
    #[test]
    fn a_refreshed_session_cookie_lives_as_long_as_its_token() {
        let max_age = |cookie: &str| -> u64 {
            let at = cookie.find("Max-Age=").unwrap() + "Max-Age=".len();
            cookie[at..].split(';').next().unwrap().parse().unwrap()
        };
        for (then, later, lifetime) in [
            (&[("SESSION_TTL_SECONDS", "3600")][..], "600", 3600),
            (&[("SESSION_TTL_SECONDS", "3600")][..], "86400", 3600),
            (
                &[
                    ("SESSION_TTL_SECONDS", "3600"),
                    ("SESSION_MAX_LIFETIME_SECONDS", "4000"),
                ][..],
                "3600",
                2000,
            ),
        ] {
            let mut gw = gateway(then);
            let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
            let issue = h(&[("x-session-issue", r#"{"sub":"alice"}"#)]);
            let out = gw.finish(&a, &issue, NOW, &Entropy::default()).unwrap();
            let jar = set_cookies(&out.headers)
                .iter()
                .map(|c| cookie_pair(c))
                .collect::<Vec<_>>()
                .join("; ");
            let mut vars = then.to_vec();
            vars.retain(|(n, _)| *n != "SESSION_TTL_SECONDS");
            vars.push(("SESSION_TTL_SECONDS", later));
            let mut gw = gateway(&vars);
            let b = proxy(gw.start(
                &get(&h(&[("cookie", &jar)])),
                NOW + 2000,
                &Entropy::default(),
            ));
            let out = gw.finish(&b, &[], NOW + 2000, &Entropy::default()).unwrap();
            let cookies = set_cookies(&out.headers);
            let refreshed = cookies.iter().find(|c| c.starts_with("__Host-session="));
            let refreshed = refreshed.unwrap_or_else(|| panic!("{later}: {cookies:?}"));
            assert_eq!(max_age(refreshed), lifetime, "{later}: {refreshed}");
        }
    }

    /// In cookie mode a logged-in visitor without its affinity cookie (browsers drop it after
    /// `AFFINITY_IDLE_SECONDS`, often before the session ends) is placed again, and its origin
    /// is told so (`x-session-reassigned`): its state in an origin's memory may be elsewhere. A
    /// new visitor, and a logged-in one with its cookie, are not reassigned.
    #[test]
    fn a_logged_in_visitor_without_its_affinity_cookie_is_reassigned() {
        let mut gw = gateway(&[]);
        let jar = login_jar(&mut gw, "alice", NOW);
        let session_only = session_pair(&jar);
        let attempt = |gw: &mut Gateway, cookie: &str| {
            let headers = h(&[("cookie", cookie)]);
            proxy(gw.start(
                &get(if cookie.is_empty() { &[] } else { &headers }),
                NOW + 60,
                &Entropy::default(),
            ))
        };
        let told = |a: &Attempt| {
            a.headers
                .contains(&("x-session-reassigned".into(), "1".into()))
        };
        let mut reassigned = |cookie: &str| told(&attempt(&mut gw, cookie));
        assert!(reassigned(&session_only));
        assert!(reassigned(&format!("theme=dark; {session_only}")));
        assert!(!reassigned(&jar));
        assert!(!reassigned(""));
        assert!(!reassigned("theme=dark"));
        // A valid session without a `sub` is logged in too.
        let guest = session_pair(&login_jar_with(&mut gw, r#"{"role":"guest"}"#, NOW));
        assert!(told(&attempt(&mut gw, &guest)));
        // A revoked session is anonymous, and its visitor without the cookie a new one; one
        // whose affinity value was not honoured is still reassigned.
        let mut revoked = attempt(&mut gw, &session_only);
        gw.check_revocation(&mut revoked, Ok(Some(before(NOW + 1))));
        assert!(!told(&revoked));
        let forged = format!("__Host-affinity=AAAA; {session_only}");
        let mut revoked = attempt(&mut gw, &forged);
        gw.check_revocation(&mut revoked, Ok(Some(before(NOW + 1))));
        assert!(told(&revoked));
    }

    /// A sliding refresh goes with an answer that arrives within [`LATE_ANSWER_SECONDS`] of its
    /// request, not with a later one: a long poll answered after a logout would put the session
    /// back in the browser (or over the next user's login there). So does the removal of an
    /// expired session cookie (a late one would log out a login made meanwhile). A login, and a
    /// logout, go with an answer however late.
    #[test]
    fn a_late_answer_carries_no_refresh() {
        let mut gw = gateway(&[("SESSION_TTL_SECONDS", "3600")]);
        let jar = login_jar(&mut gw, "alice", NOW);
        let session = |headers: &[(String, String)]| {
            (set_cookies(headers).into_iter())
                .find(|c| c.starts_with("__Host-session="))
                .map(str::to_owned)
        };
        // Past half its life: due for a refresh.
        let due = NOW + 2000;
        let a = proxy(gw.start(&get(&h(&[("cookie", &jar)])), due, &Entropy::default()));
        assert_eq!(a.answer_by(), due + LATE_ANSWER_SECONDS);
        for (late, refreshed) in [
            (0, true),
            (LATE_ANSWER_SECONDS, true),
            (LATE_ANSWER_SECONDS + 1, false),
        ] {
            let out = gw.finish(&a, &[], due + late, &Entropy::default()).unwrap();
            let cookie = session(&out.headers);
            assert_eq!(cookie.is_some(), refreshed, "{late} s: {cookie:?}");
            assert!(cookie.is_none_or(|c| !c.contains("Max-Age=0")));
        }
        let issue = h(&[("x-session-issue", r#"{"sub":"bob"}"#)]);
        let late = due + 60;
        let out = gw.finish(&a, &issue, late, &Entropy::default()).unwrap();
        assert!(session(&out.headers).is_some_and(|c| !c.contains("Max-Age=0")));
        let logout = h(&[("x-session-clear", "1")]);
        let out = gw.finish(&a, &logout, late, &Entropy::default()).unwrap();
        assert!(session(&out.headers).is_some_and(|c| c.contains("Max-Age=0")));
        // Expired: removed by an answer in time, not by a late one.
        let gone = NOW + 4000;
        let b = proxy(gw.start(&get(&h(&[("cookie", &jar)])), gone, &Entropy::default()));
        let out = gw.finish(&b, &[], gone + 2, &Entropy::default()).unwrap();
        assert!(session(&out.headers).is_some_and(|c| c.contains("Max-Age=0")));
        let out = gw.finish(&b, &[], gone + 3, &Entropy::default()).unwrap();
        assert_eq!(session(&out.headers), None);
    }

    /// The refresh of an affinity value the request presented (once past half its idle time)
    /// goes with a timely answer only, as a session's refresh does: a long poll answered after
    /// a logout and a login in another tab put the old visitor id over the one the login
    /// rotated. A new visitor's first value goes however late, and so does a move (a value not
    /// honoured, an origin down, a retry after a timeout): held back, a visitor whose answers
    /// all come late would be moved at every request (paying the timeout again, placed at
    /// random, sent back once its origin recovered).
    #[test]
    fn a_late_answer_carries_no_affinity_renewal() {
        let mut gw = gateway(&[]);
        let e = Entropy::default();
        let sets = |gw: &Gateway, a: &Attempt, at: UnixTime| {
            let out = gw.finish(a, &[], at, &e).unwrap();
            (set_cookies(&out.headers).iter()).any(|c| c.starts_with("__Host-affinity="))
        };
        let (first, jar) = a_visitor(&mut gw);
        assert!(sets(&gw, &first, NOW + 60));
        // Past half of AFFINITY_IDLE_SECONDS (1800): refreshed.
        let due = NOW + 1000;
        let refresh = proxy(gw.start(&get(&jar), due, &e));
        assert!(refresh.affinity_cookie.is_some());
        let forged = h(&[("cookie", "__Host-affinity=AAAA")]);
        let moved = proxy(gw.start(&get(&forged), due, &e));
        assert!(moved.affinity_cookie.is_some());
        assert!(sets(&gw, &refresh, due + LATE_ANSWER_SECONDS));
        assert!(!sets(&gw, &refresh, due + LATE_ANSWER_SECONDS + 1));
        assert!(sets(&gw, &moved, due + 60));
        // Its origin timed out after 30 s: the retry's answer moves the visitor, however late.
        let a = proxy(gw.start(&get(&jar), due, &e));
        let req = get(&jar);
        let Retry::Next(retry) = gw.retry_timed_out(&req, &a, due + 30, &e) else {
            panic!("no retry");
        };
        assert_ne!(retry.origin, a.origin);
        assert!(sets(&gw, &retry, due + 31));
        // Its origin marked down: moved, however late.
        let first = refresh.origin.clone();
        gw.health_mut().mark_down(&first, due);
        let off = proxy(gw.start(&get(&jar), due, &e));
        assert_ne!(off.origin, first);
        assert!(sets(&gw, &off, due + 60));
    }

    /// A session cookie sent with another token of the gateway's keys is read (the first that
    /// verifies) but never written back: the first may be a sibling subdomain's, tossed ahead of
    /// the visitor's own (a longer path, or nameless in a browser that sends it as
    /// `__Host-session=...`), and a refresh would put its session, the attacker's own, into the
    /// gateway's cookie, on every path and for good. Alone, or beside cookies of the name that
    /// are no token of these keys (junk, another app's), the visitor's is refreshed.
    #[test]
    fn a_session_cookie_sent_twice_is_not_refreshed() {
        let mut gw = gateway(&[("SESSION_TTL_SECONDS", "3600")]);
        let mut session = |sub, at| session_pair(&login_jar(&mut gw, sub, at));
        let (attacker, victim) = (session("mallory", NOW), session("alice", NOW));
        let expired = session("mallory", NOW - 4000);
        // Another app's token of the name (another key), and an empty one.
        let other_app =
            "__Host-session=ARoCazGApKfaBpAcAHsic3ViIjoibWFsbG9yeSJ9AAAAAAAAAAAAAAAAAAAAAA";
        for (cookie, sub, refreshed) in [
            (format!("{attacker}; {victim}"), "mallory", false),
            (format!("{victim}; {attacker}"), "alice", false),
            // The visitor's own past the first four read, behind junk or copies.
            (
                format!(
                    "__Host-session=a; __Host-session=b; __Host-session=c; {attacker}; {victim}"
                ),
                "mallory",
                false,
            ),
            (
                format!("{attacker}; {attacker}; {attacker}; {attacker}; {victim}"),
                "mallory",
                false,
            ),
            (format!("{expired}; {victim}"), "alice", false),
            (format!("__Host-session=junk; {victim}"), "alice", true),
            (
                format!("{other_app}; {victim}; __Host-session="),
                "alice",
                true,
            ),
            (format!("{victim}; {victim}"), "alice", true),
            (victim.clone(), "alice", true),
        ] {
            let b = proxy(gw.start(
                &get(&h(&[("cookie", &cookie)])),
                NOW + 2000,
                &Entropy::default(),
            ));
            assert_eq!(b.subject().map(|s| s.0), Some(sub), "{cookie}");
            let out = gw.finish(&b, &[], NOW + 2000, &Entropy::default()).unwrap();
            let cookies = set_cookies(&out.headers);
            let written = cookies.iter().any(|c| c.starts_with("__Host-session="));
            assert_eq!(written, refreshed, "{cookie}: {cookies:?}");
        }
    }

    #[test]
    fn login_and_logout_through_origin_headers() {
        let mut gw = gateway(&[]);
        let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        let before = a.affinity_cookie.clone().unwrap();
        let out = gw
            .finish(
                &a,
                &h(&[("x-session-issue", r#"{"sub":"alice"}"#)]),
                NOW,
                &Entropy {
                    visitor: 99,
                    sid: [3; 16],
                    ..Entropy::default()
                },
            )
            .unwrap()
            .headers;
        assert!(!out.iter().any(|(n, _)| n.starts_with("x-session")));
        let cookies = set_cookies(&out);
        assert_eq!(cookies.len(), 2);
        assert_eq!(headers::get(&out, "cache-control"), Some("private"));
        assert_ne!(cookies[0], before, "affinity rotated at login");
        assert!(cookies[1].starts_with("__Host-session="));
        let jar = format!("{}; {}", cookie_pair(cookies[0]), cookie_pair(cookies[1]));
        let headers = h(&[("cookie", &jar)]);
        let b = proxy(gw.start(&get(&headers), NOW + 1, &Entropy::default()));
        assert_eq!(b.origin, a.origin, "same origin after login");
        assert!(b
            .headers
            .contains(&("x-session-sub".into(), "alice".into())));
        // A logout: x-session-clear, or a Clear-Site-Data that clears cookies (which goes on to
        // the browser).
        let removal = gw.config().session_cookie.removal().unwrap();
        for (name, value) in [
            ("x-session-clear", "1"),
            ("clear-site-data", r#""cookies""#),
            ("clear-site-data", r#""cache", "*""#),
        ] {
            let answer = h(&[(name, value)]);
            let out = gw.finish(&b, &answer, NOW + 1, &Entropy::default());
            let out = out.unwrap().headers;
            assert_eq!(set_cookies(&out), [removal.as_str()], "{name}: {value}");
            let passed = (name == "clear-site-data").then_some(value);
            assert_eq!(headers::get(&out, "clear-site-data"), passed);
        }
        let out = gw
            .finish(
                &b,
                &h(&[("clear-site-data", r#""cache""#)]),
                NOW + 1,
                &Entropy::default(),
            )
            .unwrap()
            .headers;
        assert_eq!(set_cookies(&out), Vec::<&str>::new(), "not without cookies");
        let bad = gw
            .finish(
                &b,
                &h(&[("x-session-issue", "nope")]),
                NOW,
                &Entropy::default(),
            )
            .unwrap_err();
        assert_eq!(bad.status, 502);
    }

    /// With DBSC on, a logout also removes the key and bound cookies; an origin never sets,
    /// replaces or clears a cookie of the gateway's, nor offers DBSC itself.
    #[test]
    fn dbsc_logout_and_the_gateways_cookies() {
        let gw = gateway(&[("DBSC", "on"), ("STORE", "kv")]);
        let mut g2 = gateway(&[("DBSC", "on"), ("STORE", "kv")]);
        let a = proxy(g2.start(&get(&[]), NOW, &Entropy::default()));
        let d = gw.config().dbsc.as_ref().unwrap();
        let out = gw
            .finish(
                &a,
                &h(&[("x-session-clear", "1")]),
                NOW,
                &Entropy::default(),
            )
            .unwrap()
            .headers;
        let cookies = set_cookies(&out);
        for removal in [
            gw.config().session_cookie.removal().unwrap(),
            d.bound_cookie.removal().unwrap(),
            d.key_cookie.removal().unwrap(),
        ] {
            assert!(
                cookies.contains(&removal.as_str()),
                "{removal}: {cookies:?}"
            );
        }
        let origin = h(&[
            ("set-cookie", "__Host-session=forged; Path=/"),
            ("set-cookie", "__Host-affinity=forged; Path=/"),
            ("set-cookie", "__Host-sid=forged; Path=/"),
            ("set-cookie", "__Host-session-bound=forged; Path=/"),
            (
                "set-cookie",
                "__Secure-session-key=forged; Path=/__edge/dbsc/",
            ),
            ("set-cookie", "theme=dark; Path=/"),
            (
                "secure-session-registration",
                "(ES256);path=\"/x\";challenge=\"c\"",
            ),
            ("secure-session-challenge", "\"c\";id=\"s\""),
        ]);
        let out = gw
            .finish(&a, &origin, NOW, &Entropy::default())
            .unwrap()
            .headers;
        assert!(!out.iter().any(|(_, v)| v.contains("forged")), "{out:?}");
        assert!(!out.iter().any(|(n, _)| n.starts_with("secure-session")));
        assert!(set_cookies(&out).contains(&"theme=dark; Path=/"));
        // DBSC off: the origin's DBSC headers pass, its own cookies still do not.
        let plain = gateway(&[]);
        let mut p2 = gateway(&[]);
        let a = proxy(p2.start(&get(&[]), NOW, &Entropy::default()));
        let out = plain
            .finish(&a, &origin, NOW, &Entropy::default())
            .unwrap()
            .headers;
        assert!(out.iter().any(|(n, _)| n == "secure-session-challenge"));
        assert!(!out.iter().any(|(_, v)| v.contains("__Host-session=forged")));
        assert!(out
            .iter()
            .any(|(_, v)| v.contains("__Host-session-bound=forged")));
    }

    /// `x-session-issue` is read once per answer: with a store, the answer's plan carries the
    /// checked claims and subject that the session token was signed from; without one, no plan.
    #[test]
    fn finish_answers_with_the_plan_it_read() {
        let answer = [
            ("x-session-issue", r#"{"sub":"alice","role":"admin"}"#),
            ("x-session-data", r#"{"cart":["book"]}"#),
        ];
        let mut gw = gateway(&[("STORE", "kv")]);
        let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        let out = gw
            .finish(&a, &h(&answer), NOW, &Entropy::default())
            .unwrap();
        let plan = out.plan.unwrap();
        assert_eq!(plan.login, Some(Some("alice".to_owned())));
        let claims = plan.claims.unwrap();
        assert_eq!(claims["role"], "admin");
        assert_eq!(plan.patch.unwrap()["cart"][0], "book");
        let cookies = set_cookies(&out.headers);
        let jar = format!("{}; {}", cookie_pair(cookies[0]), cookie_pair(cookies[1]));
        let b = proxy(gw.start(&get(&h(&[("cookie", &jar)])), NOW + 1, &Entropy::default()));
        assert_eq!(b.subject(), Some(("alice", NOW)));
        // The same answer when the plan refuses it: nothing signed.
        let too_big = format!(r#"{{"sub":"alice","pad":"{}"}}"#, "x".repeat(4000));
        let page = gw
            .finish(
                &a,
                &h(&[("x-session-issue", &too_big)]),
                NOW,
                &Entropy::default(),
            )
            .unwrap_err();
        assert_eq!(page.status, 502);

        // Without a store (its session data would be a 502: it would be lost).
        let mut plain = gateway(&[]);
        let a = proxy(plain.start(&get(&[]), NOW, &Entropy::default()));
        let out = plain
            .finish(&a, &h(&answer[..1]), NOW, &Entropy::default())
            .unwrap();
        assert_eq!(out.plan, None);
        assert!(set_cookies(&out.headers)
            .iter()
            .any(|c| c.starts_with("__Host-session=")));
        let page = plain
            .finish(
                &a,
                &h(&[("x-session-issue", &too_big)]),
                NOW,
                &Entropy::default(),
            )
            .unwrap_err();
        assert_eq!(page.status, 502);
    }

    /// Browsers drop a cookie whose name and value are over 4096 bytes, silently: a login too
    /// big for that is a 502 naming it, never a session cookie the browser throws away, and a
    /// session that fits at its login still fits once refreshed (`auth_time` added) or bound to
    /// a device key (`cnf` added).
    #[test]
    fn a_login_too_big_for_a_browsers_cookie_is_refused() {
        for (format, dbsc) in [
            ("compact", "off"),
            ("sealed", "off"),
            ("jwt", "off"),
            ("compact", "on"),
            ("sealed", "on"),
            ("jwt", "on"),
        ] {
            let mut gw = gateway(&[("SESSION_FORMAT", format), ("DBSC", dbsc)]);
            let name = gw.config().session_cookie.name().to_owned();
            let (mut fits, mut refused) = (0, 0);
            for pad in (2700..3060).step_by(3) {
                let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
                let issue = format!(r#"{{"sub":"alice","pad":"{}"}}"#, "x".repeat(pad));
                let out = match gw.finish(
                    &a,
                    &h(&[("x-session-issue", &issue)]),
                    NOW,
                    &Entropy::default(),
                ) {
                    Ok(out) => out.headers,
                    Err(page) => {
                        assert_eq!(page.status, 502, "{format}");
                        // The page (and the log) names the limits, not the claims' size.
                        let numbers = (page.body.split(|c: char| !c.is_ascii_digit()))
                            .filter(|n| {
                                !n.is_empty() && !["502", "4096", "128", "3072"].contains(n)
                            })
                            .collect::<Vec<_>>();
                        assert!(numbers.is_empty(), "{}", page.body);
                        refused += 1;
                        continue;
                    }
                };
                fits += 1;
                let pair = set_cookies(&out)
                    .into_iter()
                    .map(cookie_pair)
                    .find(|p| p.starts_with(&format!("{name}=")))
                    .unwrap()
                    .to_owned();
                assert!(
                    pair.len() <= 4096,
                    "{format} pad {pad}: {} bytes",
                    pair.len()
                );
                // What the gateway adds later: auth_time at a refresh, cnf at a DBSC registration.
                let tokens = &gw.config().built.tokens;
                let read = SessionCookie::read(tokens, Some(&pair), &name, NOW + 2000);
                let SessionCookie::Valid {
                    claims,
                    issued_at,
                    refreshed,
                    ..
                } = read
                else {
                    panic!("{format}")
                };
                if format != "jwt" {
                    let (refreshed, _) =
                        refreshed.unwrap_or_else(|| panic!("{format} pad {pad}: no refresh"));
                    assert!(
                        name.len() + 1 + refreshed.len() <= 4096,
                        "{format} pad {pad}: refreshed"
                    );
                }
                if dbsc == "on" {
                    let jkt = "x".repeat(43);
                    let (bound, _) = session::bind_device(
                        tokens,
                        &claims,
                        &jkt,
                        (issued_at, gw.config().tokens().max_lifetime()),
                        NOW + 2000,
                    )
                    .unwrap_or_else(|e| panic!("{format} pad {pad}: {e}"));
                    assert!(
                        name.len() + 1 + bound.len() <= 4096,
                        "{format} pad {pad}: bound"
                    );
                }
            }
            assert!(
                fits > 0 && refused > 0,
                "{format}: {fits} fit, {refused} refused"
            );
        }
    }

    /// The Cookie header of a browser that just logged in as `sub` (at `at`): every cookie the
    /// gateway set.
    fn login_jar(gw: &mut Gateway, sub: &str, at: UnixTime) -> String {
        login_jar_with(gw, &format!(r#"{{"sub":"{sub}"}}"#), at)
    }

    /// The session cookie's pair of a [`login_jar`].
    fn session_pair(jar: &str) -> String {
        (jar.split("; "))
            .filter(|p| p.starts_with("__Host-session="))
            .collect()
    }

    /// [`login_jar`] for a login of the claims `issue`.
    fn login_jar_with(gw: &mut Gateway, issue: &str, at: UnixTime) -> String {
        let a = proxy(gw.start(&get(&[]), at, &Entropy::default()));
        let out = gw
            .finish(
                &a,
                &h(&[("x-session-issue", issue)]),
                at,
                &Entropy::default(),
            )
            .unwrap()
            .headers;
        let pairs: Vec<&str> = set_cookies(&out).into_iter().map(cookie_pair).collect();
        pairs.join("; ")
    }

    /// A revocation of the sessions begun before `at`, sparing none.
    fn before(at: UnixTime) -> Revocation {
        Revocation {
            before: at,
            except: None,
        }
    }

    /// The next request of a browser that logged in as `sub` at `at`.
    fn logged_in(gw: &mut Gateway, sub: &str, at: UnixTime) -> Attempt {
        let jar = login_jar(gw, sub, at);
        proxy(gw.start(&get(&h(&[("cookie", &jar)])), at + 5, &Entropy::default()))
    }

    #[test]
    fn a_revoked_session_reaches_the_origin_without_identity() {
        let mut gw = gateway(&[("STORE", "kv")]);
        let mut b = logged_in(&mut gw, "alice", NOW);
        assert_eq!(b.subject(), Some(("alice", NOW)));
        assert!(b
            .headers
            .contains(&("x-session-sub".into(), "alice".into())));
        // Revoked at NOW or before the session began, or sparing this very session (the one
        // its revoking answer began): nothing changes.
        let sid = b.subject.as_ref().and_then(|s| s.sid.clone());
        assert!(sid.is_some());
        let spared = Revocation {
            before: NOW + 1,
            except: sid,
        };
        for answer in [
            None,
            Some(before(NOW)),
            Some(before(NOW - 60)),
            Some(spared),
        ] {
            let mut same = b.clone();
            assert!(gw.check_revocation(&mut same, Ok(answer)).is_none());
            assert_eq!(same, b);
        }
        // A record this version cannot read (a corrupt one, or another version's): revoked,
        // never served unchecked for as long as the record lives; said for the log.
        let mut unreadable = b.clone();
        let said = gw.check_revocation(&mut unreadable, Ok(Some(Revocation::UNREADABLE)));
        assert!(said.unwrap().to_string().contains("revoked again"));
        assert_eq!(unreadable.subject(), None);
        // Sparing another session: revoked, as by a revocation that spares none.
        let other = Revocation {
            before: NOW + 1,
            except: Some("another".into()),
        };
        let mut revoked = b.clone();
        assert!(gw.check_revocation(&mut revoked, Ok(Some(other))).is_none());
        assert_eq!(revoked.subject(), None);
        // The store could not say: served with its identity, the origin told.
        let mut unsure = b.clone();
        let error = gw.check_revocation(&mut unsure, Err(Error::StoreUnavailable("down".into())));
        assert_eq!(error.map(|e| e.code()), Some("store_unavailable"));
        assert_eq!(
            headers::get(&unsure.headers, "x-session-revocation"),
            Some("unchecked")
        );
        assert_eq!(
            headers::get(&unsure.headers, "x-session-sub"),
            Some("alice")
        );
        // Revoked after the session began.
        assert!(gw
            .check_revocation(&mut b, Ok(Some(before(NOW + 1))))
            .is_none());
        let identity: Vec<_> = b
            .headers
            .iter()
            .filter(|(n, _)| n.starts_with("x-session-"))
            .collect();
        assert_eq!(identity, [&("x-session-status".into(), "revoked".into())]);
        assert_eq!(b.subject(), None);
        let out = gw
            .finish(&b, &[], NOW + 5, &Entropy::default())
            .unwrap()
            .headers;
        assert_eq!(
            set_cookies(&out),
            [gw.config().session_cookie.removal().unwrap().as_str()]
        );
        // Not by an answer past the late-answer time (`logged_in` began it at NOW + 5): a login
        // made meanwhile in another tab would be logged out.
        let late = NOW + 5 + LATE_ANSWER_SECONDS + 1;
        let out = gw.finish(&b, &[], late, &Entropy::default()).unwrap();
        assert!(set_cookies(&out.headers).is_empty());
    }

    /// A session refused by a revocation of the request's last seconds (likely the answer to
    /// another request of the same browser, a password change or a switch of users, whose new
    /// session cookie it holds by now) reaches the origin revoked, but its answer does not
    /// remove the cookie: that would log the user out of the session just begun. An older
    /// revocation's is removed.
    #[test]
    fn a_revocation_of_the_requests_last_seconds_removes_no_cookie() {
        let mut gw = gateway(&[("STORE", "kv")]);
        let sent = NOW + 5;
        let b = logged_in(&mut gw, "alice", NOW);
        for (revoked_at, removed) in [
            (sent, false),
            (sent - LATE_ANSWER_SECONDS, false),
            (sent - LATE_ANSWER_SECONDS - 1, true),
            (NOW, true),
            // A time to come (an operator's `minIssuedAt`) is no recent revocation.
            (sent + 1, true),
        ] {
            let mut a = b.clone();
            assert!(gw
                .check_revocation(&mut a, Ok(Some(before(revoked_at + 1))))
                .is_none());
            assert_eq!(a.subject(), None, "{revoked_at}");
            assert_eq!(
                headers::get(&a.headers, "x-session-status"),
                Some("revoked")
            );
            let out = gw.finish(&a, &[], sent, &Entropy::default()).unwrap();
            assert_eq!(
                !set_cookies(&out.headers).is_empty(),
                removed,
                "revoked at {revoked_at}, sent at {sent}"
            );
        }
    }

    /// A shared cache between the gateway and the origin keys by URL: a request carrying a
    /// visitor's session (identity, or stored data) must neither be answered from it nor fill it
    /// (`cache: "no-store"`), while an anonymous one may (static pages, assets).
    #[test]
    fn only_a_request_carrying_a_visitors_session_bypasses_shared_caches() {
        let mut gw = gateway(&[("STORE", "kv")]);
        let (anonymous, _) = a_visitor(&mut gw);
        assert!(!anonymous.personal());
        let with = |a: &Attempt, name: &str, value: &str| {
            let mut a = a.clone();
            a.headers.push((name.into(), value.into()));
            a
        };
        // A new session's empty data says nothing of the visitor; stored data does.
        assert!(!with(&anonymous, "x-session-data", "{}").personal());
        assert!(with(&anonymous, "X-Session-Data", r#"{"cart":[1]}"#).personal());
        let mut alice = logged_in(&mut gw, "alice", NOW);
        assert!(alice.personal());
        // Each identity header alone (a `sub` or `sid` that is not header text is not sent).
        let anonymous_status = |a: &Attempt| {
            let mut a = a.clone();
            a.headers.retain(|(n, _)| !n.starts_with("x-session-"));
            a
        };
        let bare = anonymous_status(&alice);
        assert!(!bare.personal());
        for name in ["x-session-claims", "x-session-sub", "x-session-id"] {
            assert!(with(&bare, name, "x").personal(), "{name}");
        }
        // A revoked session reaches the origin without identity: anonymous again.
        assert!(gw
            .check_revocation(&mut alice, Ok(Some(before(NOW + 1))))
            .is_none());
        assert!(!alice.personal());
    }

    /// The answer to a request carrying a visitor's session is theirs: a shared cache past the
    /// gateway (a CDN in front of it) keys by URL and `Cookie`, never by the `x-session-*`
    /// identity the origin got, and must not keep it, whatever the origin said (the gateway
    /// sets no cookie on it, which made the answer private before). An anonymous one may.
    #[test]
    fn a_personal_answer_is_private_for_shared_caches() {
        let mut gw = gateway(&[]);
        let alice = logged_in(&mut gw, "alice", NOW);
        // Alice's request without her identity: a returning visitor's, no cookie to set.
        let mut anonymous = alice.clone();
        anonymous
            .headers
            .retain(|(n, _)| !n.starts_with("x-session-"));
        let origin = [
            ("cache-control".to_owned(), "public, max-age=600".to_owned()),
            ("cdn-cache-control".to_owned(), "max-age=600".to_owned()),
        ];
        let answer = |a: &Attempt, status, origin: &[(String, String)]| {
            let out = gw.finish_status(a, status, origin, NOW + 1, &Entropy::default());
            let out = out.unwrap();
            let cdn = headers::get(&out.headers, "cdn-cache-control").map(str::to_owned);
            (
                headers::get(&out.headers, "cache-control").map(str::to_owned),
                cdn,
            )
        };
        let private = (Some("private, max-age=600".into()), None);
        assert_eq!(answer(&alice, 200, &origin), private);
        assert_eq!(
            answer(&anonymous, 200, &origin),
            (
                Some("public, max-age=600".into()),
                Some("max-age=600".into())
            )
        );
        // A 304 updates the browser's copy with its headers: with its own `Cache-Control`,
        // private as a 200; without one, none added (the copy's private `max-age` stays).
        assert_eq!(answer(&alice, 304, &origin), private);
        assert_eq!(answer(&alice, 304, &[]), (None, None));
        assert_eq!(answer(&alice, 200, &[]).0.as_deref(), Some("private"));
    }

    /// The runtime joins a header the origin sent twice with `, `: an `x-session-revoke` of two
    /// subjects arrived as `alice, bob`, a subject nobody has, and revoked nobody, silently. It
    /// is a 502 naming it (nothing revoked), as `x-session-issue` twice is; a subject holds no
    /// comma (a login with one is refused), so the same subject twice still revokes it.
    #[test]
    fn a_revocation_naming_two_subjects_is_refused() {
        let mut gw = gateway(&[("STORE", "kv")]);
        let b = logged_in(&mut gw, "alice", NOW);
        let finish = |value: &str| {
            gw.finish(
                &b,
                &h(&[("x-session-revoke", value)]),
                NOW + 6,
                &Entropy::default(),
            )
        };
        for value in ["alice, bob", "bob, alice, bob", "alice,bob", "Doe, John"] {
            let page = finish(value).unwrap_err();
            assert_eq!(page.status, 502, "{value}");
            assert!(
                page.body
                    .contains("x-session-revoke names more than one subject"),
                "{}",
                page.body
            );
            assert!(
                !page.body.contains("alice") && !page.body.contains("Doe"),
                "{}",
                page.body
            );
        }
        let once = finish("alice, alice").unwrap();
        assert_eq!(once.plan.unwrap().revoke.as_deref(), Some("alice"));
    }

    /// A password change (a revocation and a login of its subject in one answer) spares the
    /// session it begins, by its `sid`, and no other: a session an attacker holding the old
    /// password began in the same second is refused (the revocation takes in its own second).
    #[test]
    fn a_password_change_spares_only_the_session_it_begins() {
        let mut gw = gateway(&[("STORE", "kv")]);
        let user = logged_in(&mut gw, "alice", NOW);
        // The attacker's session, begun in the second of the change (sid all zeros).
        let attacker = logged_in(&mut gw, "alice", NOW + 6);
        let fresh = Entropy {
            sid: [9; 16],
            ..Entropy::default()
        };
        let change = [
            ("x-session-revoke", "alice"),
            ("x-session-issue", r#"{"sub":"alice"}"#),
        ];
        let answer = gw.finish(&user, &h(&change), NOW + 6, &fresh).unwrap();
        let spared = answer.plan.and_then(|p| p.spared);
        assert_eq!(spared, Some(crate::codec::b64_encode(&[9; 16])));
        let jar: Vec<&str> = set_cookies(&answer.headers)
            .into_iter()
            .map(cookie_pair)
            .collect();
        let new = proxy(gw.start(&get(&h(&[("cookie", &jar.join("; "))])), NOW + 6, &fresh));
        // What `store::revoke` records for that answer.
        let revocation = Revocation {
            before: NOW + 7,
            except: spared,
        };
        for (mut a, kept) in [(new, true), (attacker, false), (user, false)] {
            gw.check_revocation(&mut a, Ok(Some(revocation.clone())));
            assert_eq!(a.subject().is_some(), kept, "{:?}", a.headers);
        }
        // A login of another subject, or a revocation alone, spares nothing.
        let bob = [
            ("x-session-revoke", "alice"),
            ("x-session-issue", r#"{"sub":"bob"}"#),
        ];
        for origin in [&bob[..], &change[..1]] {
            let b = logged_in(&mut gw, "carol", NOW);
            let plan = gw.finish(&b, &h(origin), NOW + 6, &fresh).unwrap().plan;
            assert_eq!(plan.map(|p| p.spared), Some(None), "{origin:?}");
        }
    }

    /// With a store, a logout (`x-session-clear`, or `Clear-Site-Data: "cookies"`, a login
    /// in the same answer or not, in an answer refused too) ends the request's session token by
    /// its `sid` (`store::Plan::ended`); a login, a revocation, a change of data and an
    /// anonymous request's logout end none.
    #[test]
    fn a_logout_ends_the_session_token_it_came_with() {
        let mut gw = gateway(&[("STORE", "kv")]);
        let user = logged_in(&mut gw, "alice", NOW);
        let sid = user.session_id().map(str::to_owned);
        assert_eq!(sid, Some(crate::codec::b64_encode(&[0; 16])));
        let ended = |gw: &Gateway, a: &Attempt, origin: &[(&str, &str)]| {
            let out = gw.finish(a, &h(origin), NOW + 6, &Entropy::default());
            out.unwrap().plan.and_then(|p| p.ended)
        };
        let switch = [
            ("x-session-clear", "1"),
            ("x-session-issue", r#"{"sub":"bob"}"#),
        ];
        let logouts = [
            &[("x-session-clear", "1")][..],
            &[("clear-site-data", "\"cookies\"")],
            &switch,
        ];
        for origin in logouts {
            assert_eq!(ended(&gw, &user, origin), sid, "{origin:?}");
            let mut page = Page::bad_origin_answer("refused");
            let refused = gw.refused(&user, &h(origin), &mut page);
            assert_eq!(refused.and_then(|p| p.ended), sid, "{origin:?}");
        }
        let others = [
            &[("x-session-clear", "0")][..],
            &[("x-session-issue", r#"{"sub":"alice"}"#)],
            &[("x-session-revoke", "alice")],
            &[("x-session-data", r#"{"n":1}"#)],
        ];
        for origin in others {
            assert_eq!(ended(&gw, &user, origin), None, "{origin:?}");
        }
        let anonymous = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        assert_eq!(ended(&gw, &anonymous, &[("x-session-clear", "1")]), None);
        // A session without `sub` has a `sid` all the same, which its logout ends, and which
        // a revocation check refuses once ended.
        let jar = login_jar_with(&mut gw, r#"{"uid":"alice"}"#, NOW);
        let mut anonymous_user =
            proxy(gw.start(&get(&h(&[("cookie", &jar)])), NOW + 5, &Entropy::default()));
        assert_eq!(anonymous_user.subject(), None);
        assert_eq!(anonymous_user.session(), Some((sid.as_deref(), NOW)));
        assert_eq!(
            ended(&gw, &anonymous_user, &[("x-session-clear", "1")]),
            sid
        );
        let answer = store::revocation_answer(Ok(None), Ok(Some(NOW)), NOW, sid.as_deref());
        gw.check_revocation(&mut anonymous_user, answer);
        assert_eq!(anonymous_user.session(), None);
        assert_eq!(
            headers::get(&anonymous_user.headers, "x-session-status"),
            Some("revoked")
        );
        // A token with an empty `sid` (another system's, signed with the keys) has none: nothing
        // to end, and nothing looked up (`token_ended("")` is `malformed`).
        let tokens = crate::token::SessionTokens::new(gw.config().tokens().clone()).unwrap();
        let token = tokens
            .sign(&serde_json::json!({"sub": "alice", "sid": ""}), NOW)
            .unwrap();
        let cookie = format!("__Host-session={token}");
        let empty = proxy(gw.start(
            &get(&h(&[("cookie", &cookie)])),
            NOW + 5,
            &Entropy::default(),
        ));
        assert_eq!(empty.session(), Some((None, NOW)));
        assert_eq!(ended(&gw, &empty, &[("x-session-clear", "1")]), None);
        // What the revocation check reads: the subject's record when there is a `sub`, the
        // session's end when there is a `sid`; nothing for a token with neither, nor without one.
        let owned = |s: &str| Some(s.to_owned());
        assert_eq!(
            store::revocation_reads(&user),
            Some((owned("alice"), sid.clone(), NOW))
        );
        let alice = Some((owned("alice"), None, NOW));
        assert_eq!(store::revocation_reads(&empty), alice);
        let no_sub = proxy(gw.start(&get(&h(&[("cookie", &jar)])), NOW + 5, &Entropy::default()));
        assert_eq!(store::revocation_reads(&no_sub), Some((None, sid, NOW)));
        let neither = tokens
            .sign(&serde_json::json!({"uid": "alice"}), NOW)
            .unwrap();
        let cookie = format!("__Host-session={neither}");
        let neither = proxy(gw.start(
            &get(&h(&[("cookie", &cookie)])),
            NOW + 5,
            &Entropy::default(),
        ));
        assert!(neither.session().is_some());
        assert_eq!(store::revocation_reads(&neither), None);
        assert_eq!(store::revocation_reads(&anonymous), None);
    }

    #[test]
    fn revoking_ones_own_subject_logs_this_browser_out() {
        let mut gw = gateway(&[("STORE", "durable")]);
        let b = logged_in(&mut gw, "alice", NOW);
        let removal = gw.config().session_cookie.removal().unwrap();
        let finish = |gw: &Gateway, origin: &[(&str, &str)]| {
            let out = gw.finish(&b, &h(origin), NOW + 6, &Entropy::default());
            set_cookies(&out.unwrap().headers)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            finish(&gw, &[("x-session-revoke", "alice")]),
            [removal.as_str()]
        );
        // Another user's revocation (an administrator's) leaves this session alone.
        assert!(finish(&gw, &[("x-session-revoke", "bob")]).is_empty());
        // A password change: revoke, and a new session in the same answer.
        let changed = finish(
            &gw,
            &[
                ("x-session-revoke", "alice"),
                ("x-session-issue", r#"{"sub":"alice"}"#),
            ],
        );
        assert!(changed
            .iter()
            .any(|c| c.starts_with("__Host-session=") && *c != removal));
        assert!(!changed.contains(&removal));
        // Without a store there is nowhere to keep a revocation: a 502 that says so.
        let mut plain = gateway(&[]);
        let b = logged_in(&mut plain, "alice", NOW);
        let revoke = h(&[("x-session-revoke", "alice")]);
        let mut page = plain
            .finish(&b, &revoke, NOW, &Entropy::default())
            .unwrap_err();
        assert_eq!(page.status, 502);
        assert!(page.body.contains("STORE"), "{}", page.body);
        // It still logs this browser out, as it would have with a store, and plans nothing.
        assert_eq!(plain.refused(&b, &revoke, &mut page), None);
        assert_eq!(set_cookies(&page.headers), [removal.as_str()]);
        // Nor is there anywhere to keep session data: a 502 too, where it was dropped with a 200.
        let data = h(&[("x-session-data", r#"{"cart":["book"]}"#)]);
        let mut page = plain
            .finish(&b, &data, NOW, &Entropy::default())
            .unwrap_err();
        assert_eq!(page.status, 502);
        assert!(
            page.body.contains("x-session-data needs a store"),
            "{}",
            page.body
        );
        assert_eq!(plain.refused(&b, &data, &mut page), None);
        assert!(set_cookies(&page.headers).is_empty(), "the session stays");
        // A patch that changes nothing loses nothing: an origin that always sends one.
        for empty in ["{}", " { } "] {
            let data = h(&[("x-session-data", empty)]);
            assert!(plain.finish(&b, &data, NOW, &Entropy::default()).is_ok());
        }
    }

    #[test]
    fn redirects_to_the_origins_own_address_go_to_the_public_host() {
        let mut gw = gateway(&[(
            "ORIGINS",
            r#"[{"id":"a","url":"http://10.0.0.1:8080/app"}]"#,
        )]);
        let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        assert_eq!(a.url, "http://10.0.0.1:8080/app/x?y=1");
        let location = |value: &str| {
            let out = gw
                .finish(&a, &h(&[("Location", value)]), NOW, &Entropy::default())
                .unwrap()
                .headers;
            headers::get(&out, "location").unwrap().to_owned()
        };
        assert_eq!(
            location("http://10.0.0.1:8080/app/login?next=%2Fx"),
            "https://app.example/login?next=%2Fx"
        );
        assert_eq!(location("/app/cart#top"), "/cart#top");
        // A canonicalising redirect of `//evil.example` keeps the visitor on the public host.
        assert_eq!(
            location("/app//evil.example/"),
            "https://app.example//evil.example/"
        );
        assert_eq!(
            location("https://id.example/authorize"),
            "https://id.example/authorize"
        );
        assert_eq!(
            location("http://10.0.0.1:8080/other"),
            "http://10.0.0.1:8080/other"
        );
        assert_eq!(location("cart"), "cart");
    }

    /// An origin with a base path sets its cookies on it (`Path=/app`), which the client never
    /// sees: they go on the public path, as its redirects do, or the browser never sends them
    /// back. The gateway's own cookies keep theirs.
    #[test]
    fn an_origins_cookies_on_its_base_path_go_on_the_public_path() {
        let mut gw = gateway(&[(
            "ORIGINS",
            r#"[{"id":"a","url":"http://10.0.0.1:8080/app"}]"#,
        )]);
        let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        let origin = h(&[
            ("set-cookie", "JSESSIONID=a1; Path=/app; HttpOnly"),
            ("set-cookie", "cart=1; path=/app/shop/"),
            ("set-cookie", "x=1; Path=/application"),
            ("set-cookie", "y=1"),
        ]);
        let out = gw.finish(&a, &origin, NOW, &Entropy::default()).unwrap();
        let cookies = set_cookies(&out.headers);
        assert_eq!(
            &cookies[..4],
            [
                "JSESSIONID=a1; Path=/; HttpOnly",
                "cart=1; path=/shop/",
                "x=1; Path=/application",
                "y=1"
            ]
        );
        assert!(cookies[4].starts_with("__Host-affinity=") && cookies[4].contains("; Path=/;"));
    }

    /// A scheme-relative redirect (`//host/path`, as an app writes one from its `Host`) takes
    /// the public page's scheme: to an https origin's address it is that address, and moves to
    /// the public host as the full URL does. Passed on, it showed the client the origin and sent
    /// the browser past the gateway.
    #[test]
    fn scheme_relative_redirects_to_an_origins_address_go_to_the_public_host() {
        let mut gw = gateway(&[(
            "ORIGINS",
            r#"[{"id":"a","url":"https://a.internal/app"},{"id":"b","url":"https://b.internal"}]"#,
        )]);
        let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        assert_eq!(a.url, "https://a.internal/app/x?y=1");
        for (from, to) in [
            (
                "//a.internal/app/login?next=%2Fx",
                "https://app.example/login?next=%2Fx",
            ),
            ("//b.internal/cart", "https://app.example/cart"),
            ("//a.internal/other", "//a.internal/other"),
            ("//id.example/authorize", "//id.example/authorize"),
        ] {
            assert_eq!(redirect(&mut gw, &a, from), redirect_to(to), "{from}");
        }
    }

    /// The `Location` and `Refresh` the client gets for an answer that redirects to `url` both
    /// ways.
    fn redirect(gw: &mut Gateway, attempt: &Attempt, url: &str) -> [String; 2] {
        let redirect = redirect_to(url);
        let sent = h(&[("Location", &redirect[0]), ("Refresh", &redirect[1])]);
        let out = gw.finish(attempt, &sent, NOW, &Entropy::default()).unwrap();
        ["location", "refresh"].map(|name| headers::get(&out.headers, name).unwrap().to_owned())
    }

    fn redirect_to(url: &str) -> [String; 2] {
        [url.to_owned(), format!("0;url={url}")]
    }

    /// Origins serve one site: a redirect to another origin's full address goes to the public
    /// host too (under that origin's base path), so the client never sees it; a path is on the
    /// answering origin's host, so another origin's base path means nothing in it.
    #[test]
    fn redirects_to_another_origins_address_go_to_the_public_host() {
        let mut gw = gateway(&[(
            "ORIGINS",
            r#"[{"id":"a","url":"http://10.0.0.1:8080/app"},{"id":"b","url":"http://10.0.0.2/shop"}]"#,
        )]);
        let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        let b = Attempt {
            origin: "b".into(),
            url: "http://10.0.0.2/shop/x?y=1".into(),
            ..a.clone()
        };
        for (attempt, from, to) in [
            (
                &a,
                "http://10.0.0.2/shop/login?next=%2Fx",
                "https://app.example/login?next=%2Fx",
            ),
            (&a, "HTTP://10.0.0.2:80/shop", "https://app.example/"),
            (
                &b,
                "http://10.0.0.1:8080/app/cart",
                "https://app.example/cart",
            ),
            (&a, "/shop/cart", "/shop/cart"),
            (&b, "/app/cart", "/app/cart"),
            (&a, "http://10.0.0.2/other", "http://10.0.0.2/other"),
            (&a, "http://10.0.0.3/shop/x", "http://10.0.0.3/shop/x"),
        ] {
            assert_eq!(redirect(&mut gw, attempt, from), redirect_to(to), "{from}");
        }
    }

    /// workerd hands the worker a request's path as the client wrote it, resolving only literal
    /// `.` and `..` segments: `/%2e%2e/admin` and `/..\\admin` arrive as they are (Cloudflare's
    /// zone setting "Normalize incoming URLs" resolves them first, when it is on). The URL parser
    /// of the origin request (`new Request(url)`) then read `http://10.0.0.1:8080/app/%2e%2e/admin`
    /// as `http://10.0.0.1:8080/admin`: any path of the origin's server, outside the base path
    /// ORIGINS gives it, with the gateway's identity headers (checked on workerd: the origin got
    /// `GET /admin`); `/x/%2e%2e/__edge/health` went to the origin too. The URL parser leaves
    /// `/..;/admin` and `/%2e%2e%2fadmin`, but Tomcat and Jetty read `;...` as a path parameter
    /// and some servers decode `%2f`: to them both are `/../admin`. Each is refused here, never
    /// sent; the look-alikes go to the origin as they came.
    #[test]
    fn a_request_path_never_leaves_the_origins_base_path() {
        let mut gw = gateway(&[(
            "ORIGINS",
            r#"[{"id":"a","url":"http://10.0.0.1:8080/app"}]"#,
        )]);
        let start = |gw: &mut Gateway, path: &str| {
            let url = format!("https://app.example{path}");
            let req = Request {
                url: &url,
                ..get(&[])
            };
            gw.start(&req, NOW, &Entropy::default())
        };
        for path in [
            "/%2e%2e/admin",
            "/%2E%2e/%2e%2E/admin?next=/x",
            "/x/.%2e/y",
            "/x/%2e./y",
            "/..\\admin",
            "/a\\b\\..\\c",
            "/a/%2e/b",
            "/a/%2E",
            "/..;/admin",
            "/app/..;x=1/admin",
            "/.;/a",
            "/%2e%2e;/admin",
            "/%2e%2e%2fadmin",
            "/a%2f..%2fb",
            "/a%5c..%5cb",
            "/x/.%2F",
            "/x/%2e%2e/__edge/health",
            "/__edge/..;/health",
        ] {
            let Step::Respond(page) = start(&mut gw, path) else {
                panic!("{path} was sent to an origin")
            };
            assert_eq!(page.status, 400, "{path}");
        }
        for path in [
            "/a;v=1/b",
            "/b%2fc",
            "/x..y/...;z",
            "/a/;/b",
            "/%2e%2e%2e/x",
            "/a/..%00/b/.x/x.",
            "/.well-known/x;y?q=/..;/",
            "//evil.example/x",
        ] {
            let Step::Proxy(attempt) = start(&mut gw, path) else {
                panic!("{path} was not sent")
            };
            assert_eq!(attempt.url, format!("http://10.0.0.1:8080/app{path}"));
        }
    }

    /// A `Refresh` (a redirect after a delay) on the origin's own address moves to the public
    /// host as a `Location` does: passed on, it showed the client the origin's address (which
    /// the gateway hides) and sent the browser where it cannot go. In URL mode too, where the
    /// moved URL then carries the visitor's value.
    #[test]
    fn a_refresh_to_the_origins_own_address_goes_to_the_public_host() {
        for url_mode in [false, true] {
            let mut vars = vec![(
                "ORIGINS",
                r#"[{"id":"a","url":"http://10.0.0.1:8080/app"}]"#,
            )];
            if url_mode {
                vars.push(("AFFINITY_MODE", "url"));
            }
            let mut gw = gateway(&vars);
            let a = proxy(gw.start(&sent("POST", false), NOW, &Entropy::default()));
            let refresh = |value: &str| {
                let out = gw
                    .finish(&a, &h(&[("Refresh", value)]), NOW, &Entropy::default())
                    .unwrap()
                    .headers;
                headers::get(&out, "refresh").unwrap().to_owned()
            };
            let moved = refresh("0; url=http://10.0.0.1:8080/app/next?a=1");
            assert!(
                moved.starts_with("0; url=https://app.example/next?a=1"),
                "{url_mode}: {moved}"
            );
            assert_eq!(url_mode, moved.contains("_es="), "{moved}");
            let moved = refresh("5;URL='http://10.0.0.1:8080/app/'");
            assert!(
                moved.starts_with("5;URL='https://app.example/"),
                "{url_mode}: {moved}"
            );
            assert!(moved.ends_with('\''), "{moved}");
            // Other sites, and what is not written the usual way, stay as they are.
            for kept in ["3; url=https://id.example/x", "10", "0; url /x"] {
                assert_eq!(refresh(kept), kept);
            }
        }
    }

    #[test]
    fn rotating_the_session_keys_keeps_every_visitor_at_its_origin() {
        // The affinity secret defaults to the first session key, the others being previous ones.
        let mut old = gateway(&[]);
        let mut rotated = gateway(&[(
            "SESSION_KEYS",
            r#"[{"id":"k2","secret":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"},{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#,
        )]);
        let reassigned = ("x-session-reassigned".to_owned(), "1".to_owned());
        for visitor in 0..30 {
            let entropy = Entropy {
                visitor,
                ..Entropy::default()
            };
            let a = proxy(old.start(&get(&[]), NOW, &entropy));
            let jar = h(&[("cookie", cookie_pair(a.affinity_cookie.as_deref().unwrap()))]);
            let b = proxy(rotated.start(&get(&jar), NOW + 1, &Entropy::default()));
            assert_eq!(b.origin, a.origin);
            assert!(!b.headers.contains(&reassigned));
            assert!(b.affinity_cookie.is_some(), "signed again with the new key");
        }
    }

    fn url_gateway() -> Gateway {
        gateway(&[("AFFINITY_MODE", "url"), ("HEALTH_DOWN_SECONDS", "10")])
    }

    fn page_load<'a>(url: &'a str, headers: &'a [(String, String)]) -> Request<'a> {
        Request {
            method: "GET",
            url,
            headers,
            has_body: false,
        }
    }

    const HTML: (&str, &str) = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");

    /// A new visitor's page load: the redirect's `Location`, the URL with a fresh value.
    fn arrive(gw: &mut Gateway, url: &str, visitor: u64) -> String {
        let headers = h(&[HTML]);
        match gw.start(
            &page_load(url, &headers),
            NOW,
            &Entropy {
                visitor,
                ..Entropy::default()
            },
        ) {
            Step::Respond(page) => {
                assert_eq!(page.status, 302);
                assert_eq!(
                    headers::get(&page.headers, "cache-control"),
                    Some("no-store")
                );
                assert_eq!(
                    headers::get(&page.headers, "referrer-policy"),
                    Some(URL_MODE_REFERRER_POLICY)
                );
                headers::get(&page.headers, "location").unwrap().to_owned()
            }
            other => panic!("{other:?}"),
        }
    }

    fn value_in(url: &str) -> String {
        let values: Vec<_> = url::param_values(url, "_es").collect();
        assert_eq!(values.len(), 1, "{url}");
        values[0].to_owned()
    }

    /// A draining origin keeps its visitors until their affinity ends and takes no new ones: a
    /// login on it does not give a fresh value (a new `iat`), which would keep the visitor there
    /// for a whole new `AFFINITY_TTL_SECONDS` (users who log in often would never leave it).
    #[test]
    fn a_login_on_a_draining_origin_does_not_extend_its_affinity() {
        let ttl = [
            ("AFFINITY_TTL_SECONDS", "3600"),
            ("AFFINITY_IDLE_SECONDS", "1800"),
        ];
        let mut gw = gateway(&ttl);
        let first = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        let x = first.origin.clone();
        let origins = origins_draining(&[x.as_str()]);
        let mut drained = gateway(&[ttl[0], ttl[1], ("ORIGINS", &origins)]);
        // Within its idle time, refreshed once, then a login on its (draining) origin.
        let jar = cookie_pair(first.affinity_cookie.as_deref().unwrap()).to_owned();
        let headers = h(&[("cookie", &jar)]);
        let a = proxy(drained.start(&get(&headers), NOW + 1500, &Entropy::default()));
        assert_eq!(a.origin, x);
        let jar = cookie_pair(a.affinity_cookie.as_deref().unwrap()).to_owned();
        let headers = h(&[("cookie", &jar)]);
        let a = proxy(drained.start(&get(&headers), NOW + 3000, &Entropy::default()));
        assert_eq!(a.origin, x);
        let login = drained
            .finish(
                &a,
                &h(&[("x-session-issue", r#"{"sub":"alice"}"#)]),
                NOW + 3000,
                &Entropy::default(),
            )
            .unwrap();
        let cookie = set_cookies(&login.headers)
            .into_iter()
            .find(|c| c.starts_with("__Host-affinity="))
            .unwrap()
            .to_owned();
        // Past the lifetime of the affinity it had when its origin began to drain: without the
        // login, it moves.
        let refreshed = cookie_pair(a.affinity_cookie.as_deref().unwrap()).to_owned();
        let headers = h(&[("cookie", &refreshed)]);
        let control = proxy(drained.start(&get(&headers), NOW + 3700, &Entropy::default()));
        assert_ne!(control.origin, x);
        let headers = h(&[("cookie", cookie_pair(&cookie))]);
        let later = proxy(drained.start(&get(&headers), NOW + 3700, &Entropy::default()));
        assert_ne!(later.origin, x, "still pinned to the draining origin");
    }

    /// Strict failover: a visitor whose origin is down while others are up gets "origin
    /// unavailable"; every origin down, "all origins are down", as a new visitor does.
    #[test]
    fn strict_failover_says_all_origins_are_down_when_they_are() {
        let mut gw = gateway(&[("AFFINITY_FAILOVER", "strict")]);
        let first = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        let jar = cookie_pair(first.affinity_cookie.as_deref().unwrap()).to_owned();
        let headers = h(&[("cookie", &jar)]);
        gw.health_mut().mark_down(&first.origin, NOW);
        let retry_after = gw.health().retry_after(NOW + 1);
        assert_eq!(
            gw.start(&get(&headers), NOW + 1, &Entropy::default()),
            Step::Respond(Page::origin_unavailable(retry_after))
        );
        for id in ["a", "b", "c"] {
            gw.health_mut().mark_down(id, NOW);
        }
        for headers in [&headers[..], &[]] {
            assert_eq!(
                gw.start(&get(headers), NOW + 1, &Entropy::default()),
                Step::Respond(Page::all_down(retry_after))
            );
        }
    }

    /// One origin draining: new visitors never go to it. Every origin draining: new visitors
    /// still get one of them (as docs/gateway.md says), not a 503.
    #[test]
    fn new_visitors_skip_a_draining_origin_unless_every_origin_drains() {
        let arrive = |gw: &mut Gateway, visitor: u64| {
            let entropy = Entropy {
                visitor,
                ..Entropy::default()
            };
            proxy(gw.start(&get(&[]), NOW, &entropy))
        };
        let one = origins_draining(&["b"]);
        let mut gw = gateway(&[("ORIGINS", &one)]);
        let seen: std::collections::BTreeSet<String> =
            (0..200).map(|v| arrive(&mut gw, v).origin).collect();
        assert_eq!(seen, ["a", "c"].map(String::from).into());
        let all = origins_draining(&["a", "b", "c"]);
        let mut gw = gateway(&[("ORIGINS", &all)]);
        let seen: std::collections::BTreeSet<String> = (0..200)
            .map(|v| {
                let at = arrive(&mut gw, v);
                assert!(at.affinity_cookie.is_some());
                at.origin
            })
            .collect();
        assert_eq!(seen.len(), 3, "{seen:?}");
    }

    #[test]
    fn url_mode_carries_the_live_value_when_several_are_presented() {
        let mut gw = url_gateway();
        let value = value_in(&arrive(&mut gw, "https://app.example/", 7));
        let html = h(&[HTML]);
        let home = proxy(gw.start(
            &page_load(&format!("https://app.example/?_es={value}"), &html),
            NOW,
            &Entropy::default(),
        ));
        // A forged value before the live one: served on the visitor's origin, no redirect, and
        // the live value (not the forged one, not both) carried on.
        for url in [
            format!("https://app.example/a?_es=forged&_es={value}"),
            format!("https://app.example/a?_es={value}&_es=forged"),
        ] {
            let a = proxy(gw.start(&page_load(&url, &html), NOW + 1, &Entropy::default()));
            assert_eq!(a.origin, home.origin, "{url}");
            assert_eq!(a.affinity_param(), Some(("_es", value.as_str())), "{url}");
        }
    }

    #[test]
    fn url_mode_redirects_a_new_visitor_then_keeps_it_without_cookies() {
        let mut gw = url_gateway();
        let location = arrive(&mut gw, "https://app.example/shop?b=%20x&a=1", 7);
        assert!(location.starts_with("https://app.example/shop?b=%20x&a=1&_es="));
        let value = value_in(&location);
        let html = h(&[HTML]);
        let first = proxy(gw.start(&page_load(&location, &html), NOW, &Entropy::default()));
        let base = gw
            .config()
            .origins
            .iter()
            .find(|o| o.id == first.origin)
            .unwrap()
            .url
            .clone();
        // The origin never sees the parameter; the rest of the query is kept as written.
        assert_eq!(first.url, format!("{base}/shop?b=%20x&a=1"));
        assert_eq!(first.affinity_param(), Some(("_es", value.as_str())));
        assert!(first.affinity_cookie.is_none());
        assert!(!first.headers.iter().any(|(_, v)| v.contains(&value)));
        // Twenty pages later, on links that carried the value: the same origin every time.
        for i in 1..=20 {
            let url = format!("https://app.example/p/{i}?q={i}&_es={value}#top");
            let a = proxy(gw.start(
                &page_load(&url, &html),
                NOW + i * 30,
                &Entropy {
                    visitor: i,
                    ..Entropy::default()
                },
            ));
            assert_eq!(a.origin, first.origin);
            assert_eq!(a.url, format!("{base}/p/{i}?q={i}"));
            assert!(a.affinity_param().is_some());
        }
        // A visitor without the value, with other entropy: a redirect with another value.
        let other = arrive(&mut gw, "https://app.example/shop", 8);
        assert_ne!(value_in(&other), value);
    }

    #[test]
    fn url_mode_never_redirects_unsafe_methods_or_non_pages() {
        let mut gw = url_gateway();
        let json = h(&[("accept", "application/json")]);
        let html = h(&[HTML]);
        let requests = [
            Request {
                method: "POST",
                url: "https://app.example/form",
                headers: &html,
                has_body: true,
            },
            Request {
                method: "DELETE",
                url: "https://app.example/x",
                headers: &html,
                has_body: false,
            },
            Request {
                method: "GET",
                url: "https://app.example/api",
                headers: &json,
                has_body: false,
            },
            Request {
                method: "GET",
                url: "https://app.example/api",
                headers: &[],
                has_body: false,
            },
        ];
        for req in requests {
            let a = proxy(gw.start(&req, NOW, &Entropy::default()));
            // Routed, with a fresh value for the answer's links and redirects.
            let (param, value) = a.affinity_param().unwrap();
            assert_eq!(param, "_es");
            let again = format!("https://app.example/next?_es={value}");
            let next = proxy(gw.start(&page_load(&again, &html), NOW + 1, &Entropy::default()));
            assert_eq!(next.origin, a.origin, "{}", req.method);
        }
        // HEAD of a page is a page load.
        let head = Request {
            method: "HEAD",
            ..page_load("https://app.example/", &html)
        };
        assert!(matches!(
            gw.start(&head, NOW, &Entropy::default()),
            Step::Respond(Page { status: 302, .. })
        ));
    }

    #[test]
    fn url_mode_forged_or_expired_values_start_over() {
        let mut gw = url_gateway();
        let value = value_in(&arrive(&mut gw, "https://app.example/", 1));
        let html = h(&[HTML]);
        let mut forged = value.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        let idle = gw.config().affinity().idle();
        for (v, at) in [
            (forged.as_str(), NOW),
            (value.as_str(), NOW + idle + 1),
            ("", NOW),
            ("x", NOW),
        ] {
            let url = format!("https://app.example/p?_es={v}");
            // A page load is sent to the same URL with a new value in place of the bad one.
            let Step::Respond(page) = gw.start(&page_load(&url, &html), at, &Entropy::default())
            else {
                panic!("{v}: redirected")
            };
            let location = headers::get(&page.headers, "location").unwrap();
            assert!(location.starts_with("https://app.example/p?_es="));
            assert_ne!(value_in(location), v);
            // Anything else is routed, the origin told, with the new value to carry.
            let post = Request {
                method: "POST",
                url: &url,
                headers: &html,
                has_body: true,
            };
            let a = proxy(gw.start(&post, at, &Entropy::default()));
            assert!(a
                .headers
                .contains(&("x-session-reassigned".into(), "1".into())));
            assert_ne!(a.affinity_param().unwrap().1, v);
            assert_eq!(a.url.split_once("/p").unwrap().1, "");
        }
    }

    #[test]
    fn url_mode_moves_a_visitor_off_a_down_origin_and_says_so() {
        let mut gw = url_gateway();
        let value = value_in(&arrive(&mut gw, "https://app.example/", 3));
        let html = h(&[HTML]);
        let url = format!("https://app.example/cart?_es={value}");
        let req = page_load(&url, &html);
        let pinned = proxy(gw.start(&req, NOW, &Entropy::default()));
        assert!(!pinned
            .headers
            .iter()
            .any(|(n, _)| n == "x-session-reassigned"));
        let Retry::Next(moved) = gw.retry(&req, &pinned, NOW, &Entropy::default()) else {
            panic!("a GET is retried")
        };
        assert_ne!(moved.origin, pinned.origin);
        assert!(moved
            .headers
            .contains(&("x-session-reassigned".into(), "1".into())));
        let new_value = moved.affinity_param().unwrap().1.to_owned();
        assert_ne!(new_value, value);
        // The old value, its origin marked down. A page load goes first to its URL with the
        // new value: the address bar would keep the old one, whose reloads would be moved
        // again (`x-session-reassigned` each time) and, once its origin is back, go there.
        gw.health_mut().mark_down(&pinned.origin, NOW);
        let Step::Respond(redirect) = gw.start(&req, NOW + 1, &Entropy::default()) else {
            panic!("a page load with a moved value is redirected")
        };
        assert_eq!(redirect.status, 302);
        let location = headers::get(&redirect.headers, "location").unwrap();
        assert!(
            location.starts_with("https://app.example/cart?_es="),
            "{location}"
        );
        assert_ne!(value_in(location), value);
        let there = proxy(gw.start(&page_load(location, &html), NOW + 2, &Entropy::default()));
        assert_eq!(there.origin, moved.origin);
        for back_up in [NOW + 2, NOW + 60] {
            let reload = proxy(gw.start(&page_load(location, &html), back_up, &Entropy::default()));
            assert_eq!(reload.origin, moved.origin, "at {back_up}");
            assert!(!reload
                .headers
                .iter()
                .any(|(n, _)| n == "x-session-reassigned"));
        }
        // Other requests with the old value are moved alike and served, the origin told.
        let json = h(&[("accept", "application/json")]);
        let later = proxy(gw.start(&page_load(&url, &json), NOW + 1, &Entropy::default()));
        assert_eq!(later.origin, moved.origin);
        assert!(later
            .headers
            .contains(&("x-session-reassigned".into(), "1".into())));
        // The new value, after the old origin came back: stays.
        let next = format!("https://app.example/next?_es={new_value}");
        let back = proxy(gw.start(&page_load(&next, &html), NOW + 60, &Entropy::default()));
        assert_eq!(back.origin, moved.origin);
        assert!(!back
            .headers
            .iter()
            .any(|(n, _)| n == "x-session-reassigned"));
    }

    #[test]
    fn url_mode_answers_carry_the_value_in_redirects_not_in_cookies_or_referers() {
        let mut gw = url_gateway();
        let value = value_in(&arrive(&mut gw, "https://app.example/", 4));
        let url = format!("https://app.example/a?x=1&%5Fes=old&_es={value}");
        let client = h(&[
            HTML,
            (
                "referer",
                &format!("https://app.example/prev?_es={value}&k=v"),
            ),
        ]);
        let a = proxy(gw.start(&page_load(&url, &client), NOW, &Entropy::default()));
        assert!(a.url.ends_with("/a?x=1"), "{}", a.url);
        assert_eq!(
            headers::get(&a.headers, "referer"),
            Some("https://app.example/prev?k=v")
        );
        assert!(!a.headers.iter().any(|(_, v)| v.contains(&value)));
        let base = gw
            .config()
            .origins
            .iter()
            .find(|o| o.id == a.origin)
            .unwrap()
            .url
            .clone();
        let finish = |location: &str, extra: &[(&str, &str)]| {
            let mut origin = h(&[
                ("location", location),
                ("x-session-issue", r#"{"sub":"u"}"#),
            ]);
            origin.extend(h(extra));
            gw.finish(&a, &origin, NOW, &Entropy::default())
                .unwrap()
                .headers
        };
        let carried = format!("_es={value}");
        for (location, expected) in [
            ("/done?ok=1".to_owned(), format!("/done?ok=1&{carried}")),
            ("next".to_owned(), format!("next?{carried}")),
            (
                format!("{base}/home#h"),
                format!("https://app.example/home?{carried}#h"),
            ),
            (
                "https://app.example/x".to_owned(),
                format!("https://app.example/x?{carried}"),
            ),
            (
                "https://pay.example/x".to_owned(),
                "https://pay.example/x".to_owned(),
            ),
            (
                "mailto:x@app.example".to_owned(),
                "mailto:x@app.example".to_owned(),
            ),
        ] {
            let out = finish(&location, &[]);
            assert_eq!(headers::get(&out, "location"), Some(expected.as_str()));
            assert_eq!(
                headers::get(&out, "referrer-policy"),
                Some(URL_MODE_REFERRER_POLICY)
            );
            // A login sets the session cookie; the affinity value is in no cookie.
            assert!(!set_cookies(&out).is_empty());
            assert!(set_cookies(&out).iter().all(|c| !c.contains(&value)));
        }
        // An origin's weaker policy is replaced; `no-referrer` is kept.
        let out = finish("/", &[("referrer-policy", "unsafe-url")]);
        let policies: Vec<_> = out
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("referrer-policy"))
            .collect();
        assert_eq!(
            policies,
            [&(
                "referrer-policy".to_owned(),
                URL_MODE_REFERRER_POLICY.to_owned()
            )]
        );
        let out = finish("/", &[("Referrer-Policy", "no-referrer")]);
        assert_eq!(headers::get(&out, "referrer-policy"), Some("no-referrer"));
    }

    /// `AFFINITY_PARAM` names the parameter everywhere the default `_es` goes: the redirect of a
    /// new visitor, what is taken off the URL and the `Referer` before the origin, and the
    /// answer's `Location`; a `_es` is then a parameter of the app's, passed on as it is.
    #[test]
    fn url_mode_uses_the_configured_parameter_name() {
        let mut gw = gateway(&[("AFFINITY_MODE", "url"), ("AFFINITY_PARAM", "sess")]);
        let location = arrive(&mut gw, "https://app.example/shop?_es=app", 3);
        assert!(
            location.starts_with("https://app.example/shop?_es=app&sess="),
            "{location}"
        );
        let value = url::param_values(&location, "sess")
            .next()
            .unwrap()
            .to_owned();
        let client = h(&[
            HTML,
            (
                "referer",
                &format!("https://app.example/prev?sess={value}&k=v"),
            ),
        ]);
        let url = format!("https://app.example/a?x=1&sess={value}&_es=app");
        let a = proxy(gw.start(&page_load(&url, &client), NOW, &Entropy::default()));
        assert!(a.url.ends_with("/a?x=1&_es=app"), "{}", a.url);
        assert_eq!(a.affinity_param(), Some(("sess", value.as_str())));
        assert_eq!(
            headers::get(&a.headers, "referer"),
            Some("https://app.example/prev?k=v")
        );
        assert!(!a.headers.iter().any(|(_, v)| v.contains(&value)));
        let again = format!("https://app.example/b?sess={value}");
        let b = proxy(gw.start(&page_load(&again, &client), NOW + 1, &Entropy::default()));
        assert_eq!(b.origin, a.origin);
        let out = gw
            .finish(&a, &h(&[("location", "/done")]), NOW, &Entropy::default())
            .unwrap();
        assert_eq!(
            headers::get(&out.headers, "location"),
            Some(format!("/done?sess={value}").as_str())
        );
    }

    /// A value issued again (refreshed past half its idle time, or moved off a down origin)
    /// reaches a visitor without cookies only in the answer's URLs: a `304 Not Modified` would
    /// keep the browser's cached page, whose links carry the old value, and the refresh would
    /// be lost (the old value then ends its idle time while the visitor browses). Such a GET
    /// goes to the origin without its `If-None-Match` and `If-Modified-Since`.
    #[test]
    fn url_mode_a_value_issued_again_is_never_lost_to_a_304() {
        let mut gw = url_gateway();
        let location = arrive(&mut gw, "https://app.example/p", 4);
        let value = value_in(&location);
        let idle = gw.config().affinity().idle();
        let conditional = h(&[
            HTML,
            ("if-none-match", "\"v1\""),
            ("if-modified-since", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ]);
        // Before half the idle time: the value as it is, the request conditional.
        let a = proxy(gw.start(
            &page_load(&location, &conditional),
            NOW + 1,
            &Entropy::default(),
        ));
        assert_eq!(a.affinity_param(), Some(("_es", value.as_str())));
        assert_eq!(headers::get(&a.headers, "if-none-match"), Some("\"v1\""));
        assert!(headers::get(&a.headers, "if-modified-since").is_some());
        // Past it: refreshed, and the answer must be a page that carries the new value.
        let later = NOW + idle / 2 + 1;
        let b = proxy(gw.start(
            &page_load(&location, &conditional),
            later,
            &Entropy::default(),
        ));
        assert_ne!(b.affinity_param().map(|(_, v)| v), Some(value.as_str()));
        assert_eq!(headers::get(&b.headers, "if-none-match"), None);
        assert_eq!(headers::get(&b.headers, "if-modified-since"), None);
    }

    /// A `Refresh` header is a redirect too (`Refresh: 0; url=/next`): a same-site URL in it
    /// carries the value as a `Location` does; other sites, and anything not written the usual
    /// way, are left alone.
    #[test]
    fn url_mode_refresh_headers_carry_the_value() {
        let mut gw = url_gateway();
        let location = arrive(&mut gw, "https://app.example/", 4);
        let value = value_in(&location);
        let a = proxy(gw.start(&page_load(&location, &h(&[HTML])), NOW, &Entropy::default()));
        let finish = |refresh: &str| {
            let origin = h(&[("content-type", "text/plain"), ("refresh", refresh)]);
            let out = gw.finish(&a, &origin, NOW, &Entropy::default()).unwrap();
            (
                headers::get(&out.headers, "refresh").map(str::to_owned),
                headers::get(&out.headers, "cache-control").map(str::to_owned),
            )
        };
        let carried = format!("_es={value}");
        for (refresh, expected) in [
            ("0; url=/next", format!("0; url=/next?{carried}")),
            ("5;URL='next?a=1'", format!("5;URL='next?a=1&{carried}'")),
            (
                " 1.5 , Url = \"https://app.example/x#f\" ",
                format!(" 1.5 , Url = \"https://app.example/x?{carried}#f\" "),
            ),
            ("0 /plain", format!("0 /plain?{carried}")),
            // A time may start with its `.`; without a digit or a `.` there is none.
            (".5; url=/next", format!(".5; url=/next?{carried}")),
        ] {
            let (out, cache) = finish(refresh);
            assert_eq!(out.as_deref(), Some(expected.as_str()), "{refresh}");
            assert!(cache.is_some_and(|c| c.contains("private")), "{refresh}");
        }
        for kept in [
            "0; url=https://pay.example/",
            "0; url=//pay.example/",
            "0; url='https://pay.example/'/x",
            "0",
            "0;",
            "x; url=/next",
            "; url=/next",
            "0; ur=/next",
            "0; url /next",
            "0; url=/next ",
            "0; url=/\\evil.example",
        ] {
            assert_eq!(finish(kept).0.as_deref(), Some(kept), "{kept}");
        }
    }

    /// A `Link` header's `referrerpolicy` parameter sets the policy of the request it starts
    /// (a preload), whatever the page's `Referrer-Policy` (checked in Chromium): `unsafe-url`
    /// sends the page's URL, value included, to another site.
    #[test]
    fn url_mode_drops_link_headers_that_ask_for_full_referrers() {
        let mut gw = url_gateway();
        let location = arrive(&mut gw, "https://app.example/", 4);
        let a = proxy(gw.start(&page_load(&location, &h(&[HTML])), NOW, &Entropy::default()));
        let finish = |link: &str| {
            let origin = h(&[("content-type", "text/html"), ("link", link)]);
            let out = gw.finish(&a, &origin, NOW, &Entropy::default()).unwrap();
            headers::get(&out.headers, "link").map(str::to_owned)
        };
        for leaking in [
            "<https://cdn.example/a.png>; rel=preload; as=image; referrerpolicy=unsafe-url",
            "</s.css>; rel=preload; as=style, <//cdn.example/f>; rel=preload; ReferrerPolicy=\"Unsafe-URL\"",
            "<https://cdn.example/a>; rel=preload; referrerpolicy=\"unsafe\\-url\"",
            "<https://cdn.example/a>; rel=preconnect; referrerpolicy=no-referrer-when-downgrade",
            "<https://cdn.example/a>; rel=preload; referrerpolicy*=UTF-8''unsafe%2Durl",
        ] {
            assert_eq!(finish(leaking), None, "{leaking}");
        }
        for kept in [
            "</s.css>; rel=preload; as=style",
            "<https://cdn.example/a>; rel=preload; referrerpolicy=no-referrer",
            "<https://cdn.example/a>; rel=preload; referrerpolicy=strict-origin",
        ] {
            assert_eq!(finish(kept).as_deref(), Some(kept));
        }
    }

    #[test]
    fn url_mode_rewrites_html_answers_only() {
        let mut gw = url_gateway();
        let value = value_in(&arrive(&mut gw, "https://app.example/", 5));
        let url = format!("https://app.example/?_es={value}");
        let html = h(&[HTML]);
        let a = proxy(gw.start(&page_load(&url, &html), NOW, &Entropy::default()));
        let typed = |t: &str| h(&[("content-type", t)]);
        let page = typed("text/html; charset=utf-8");
        assert_eq!(
            html_rewrite(&a, "GET", 200, &page),
            Some(("https://app.example/".to_owned(), "_es", value.as_str()))
        );
        assert!(html_rewrite(&a, "POST", 404, &typed(" Text/HTML")).is_some());
        // The codings workerd decodes before the rewriter reads the page.
        for coding in ["gzip", " BR", "identity"] {
            let coded = h(&[("content-type", "text/html"), ("content-encoding", coding)]);
            assert!(html_rewrite(&a, "GET", 200, &coded).is_some(), "{coding}");
        }
        for readable in [
            "text/html;charset=\"Shift_JIS\"",
            "text/html; q=1; charset = windows-1252",
            "text/html; charset=ISO-8859-16",
            "text/html; charset=utf8",
        ] {
            assert!(
                html_rewrite(&a, "GET", 200, &typed(readable)).is_some(),
                "{readable}"
            );
        }
        for (method, status, headers) in [
            ("HEAD", 200, page.clone()),
            ("GET", 304, page.clone()),
            ("GET", 204, page.clone()),
            ("GET", 200, typed("application/xhtml+xml")),
            ("GET", 200, typed("text/html; charset=utf-16le")),
            ("GET", 200, typed("text/html;charset=\"ISO-2022-JP\"")),
            ("GET", 200, typed("text/html; charset=iso-8859-12")),
            ("GET", 200, typed("text/html; charset=x-unknown")),
            ("GET", 200, typed("application/json")),
            ("GET", 200, typed("text/plain")),
            ("GET", 200, typed("text/htmlx")),
            ("GET", 200, typed("text/html-fragment; charset=utf-8")),
            (
                "GET",
                200,
                h(&[
                    ("content-type", "text/html"),
                    ("content-encoding", "deflate"),
                ]),
            ),
            (
                "GET",
                200,
                h(&[
                    ("content-type", "text/html"),
                    ("content-encoding", "gzip, br"),
                ]),
            ),
            ("GET", 200, Vec::new()),
        ] {
            assert_eq!(
                html_rewrite(&a, method, status, &headers),
                None,
                "{method} {status} {headers:?}"
            );
        }
        // Cookie mode: nothing to carry.
        let mut cookies = gateway(&[]);
        let c = proxy(cookies.start(
            &page_load("https://app.example/", &html),
            NOW,
            &Entropy::default(),
        ));
        assert_eq!(html_rewrite(&c, "GET", 200, &page), None);
    }

    /// A hyperlink-auditing ping (`<a href="/next?_es=V" ping="/track">`) carries the page's URL
    /// in `Ping-From` and the link's in `Ping-To`: both with the value, which the origin must
    /// never see, as in `Referer`.
    #[test]
    fn url_mode_ping_headers_reach_the_origin_without_the_value() {
        let mut gw = url_gateway();
        let value = value_in(&arrive(&mut gw, "https://app.example/", 6));
        let ping = h(&[
            ("content-type", "text/ping"),
            (
                "ping-from",
                &format!("https://app.example/links?_es={value}&n=1"),
            ),
            (
                "ping-to",
                &format!("https://app.example/next?n=2&%5Fes={value}"),
            ),
        ]);
        let req = Request {
            method: "POST",
            url: "https://app.example/track",
            headers: &ping,
            has_body: true,
        };
        let a = proxy(gw.start(&req, NOW, &Entropy::default()));
        assert!(
            !a.headers.iter().any(|(_, v)| v.contains(&value)),
            "{:?}",
            a.headers
        );
        assert_eq!(
            headers::get(&a.headers, "ping-from"),
            Some("https://app.example/links?n=1")
        );
        assert_eq!(
            headers::get(&a.headers, "ping-to"),
            Some("https://app.example/next?n=2")
        );
    }

    /// An answer whose HTML or `Location` carries a visitor's value is that visitor's: a shared
    /// cache must not hand it to others (as cookie mode makes an answer with its cookie
    /// private). A request that is not a page load (no redirect) gets a fresh value on a URL
    /// every new visitor shares.
    #[test]
    fn url_mode_answers_carrying_the_value_are_private() {
        let mut gw = url_gateway();
        let any = h(&[("accept", "*/*")]);
        let a = proxy(gw.start(
            &page_load("https://app.example/page", &any),
            NOW,
            &Entropy::default(),
        ));
        let (_, value) = a.affinity_param().unwrap();
        let value = value.to_owned();
        for (origin, carries) in [
            (
                h(&[
                    ("content-type", "text/html; charset=utf-8"),
                    ("cache-control", "public, max-age=600"),
                ]),
                true,
            ),
            (
                h(&[
                    ("location", "/next"),
                    ("cache-control", "public, s-maxage=600"),
                ]),
                true,
            ),
            (
                h(&[
                    ("content-type", "image/png"),
                    ("cache-control", "public, max-age=600"),
                ]),
                false,
            ),
        ] {
            let out = gw
                .finish(&a, &origin, NOW, &Entropy::default())
                .unwrap()
                .headers;
            let cache = headers::get(&out, "cache-control").unwrap();
            if carries {
                assert!(
                    cache.split(',').any(|d| d.trim() == "private"),
                    "{origin:?}: {cache}"
                );
                assert!(
                    !cache.contains("public") && !cache.contains("s-maxage"),
                    "{cache}"
                );
            } else {
                // Static assets the page's scripts or images load stay cacheable.
                assert_eq!(cache, "public, max-age=600");
            }
            if let Some(location) = headers::get(&out, "location") {
                assert_eq!(value_in(location), value);
            }
        }
    }

    /// A rewritten page's bytes differ from the origin's (and from one visitor to another): the
    /// origin's strong `ETag` (a promise of the same bytes, which `If-Range` relies on), its
    /// length, digests and `Accept-Ranges` no longer hold. The `ETag` is made weak (a page
    /// revalidates as before); the others go. Other answers keep theirs.
    #[test]
    fn url_mode_rewritten_pages_keep_no_validator_of_the_origins_bytes() {
        let mut gw = url_gateway();
        let location = arrive(&mut gw, "https://app.example/", 4);
        let a = proxy(gw.start(&page_load(&location, &h(&[HTML])), NOW, &Entropy::default()));
        let origin = |etag: &str, kind: &str| {
            h(&[
                ("content-type", kind),
                ("etag", etag),
                ("content-length", "1234"),
                ("content-md5", "Q2hlY2sgSW50ZWdyaXR5IQ=="),
                (
                    "digest",
                    "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
                ),
                (
                    "Content-Digest",
                    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
                ),
                (
                    "repr-digest",
                    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
                ),
                ("accept-ranges", "bytes"),
                ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ])
        };
        let finish = |headers: &[(String, String)]| {
            gw.finish(&a, headers, NOW, &Entropy::default())
                .unwrap()
                .headers
        };
        for (etag, weak) in [("\"v1\"", "W/\"v1\""), ("W/\"v2\"", "W/\"v2\"")] {
            let out = finish(&origin(etag, "text/html; charset=utf-8"));
            assert_eq!(headers::get(&out, "etag"), Some(weak), "{out:?}");
            for gone in [
                "content-length",
                "content-md5",
                "digest",
                "content-digest",
                "repr-digest",
                "accept-ranges",
            ] {
                assert_eq!(headers::get(&out, gone), None, "{gone}: {out:?}");
            }
            assert!(headers::get(&out, "last-modified").is_some());
        }
        // Not rewritten: as the origin sent them.
        let png = origin("\"v1\"", "image/png");
        let out = finish(&png);
        for (name, value) in png.iter().filter(|(n, _)| n != "content-length") {
            assert_eq!(headers::get(&out, name), Some(value.as_str()), "{name}");
        }
    }

    /// A report (a CSP violation, a network error, a deprecation) carries the page's URL, value
    /// included, to its endpoint: often another site, and never one that may see the value
    /// (the origin neither). In URL mode, answers name no reporting endpoint.
    #[test]
    fn url_mode_answers_ask_for_no_reports() {
        let mut gw = url_gateway();
        let location = arrive(&mut gw, "https://app.example/", 4);
        let a = proxy(gw.start(&page_load(&location, &h(&[HTML])), NOW, &Entropy::default()));
        let origin = h(&[
            ("content-type", "image/png"),
            ("NEL", r#"{"report_to":"default","max_age":86400}"#),
            ("report-to", r#"{"group":"default","max_age":86400,"endpoints":[{"url":"https://r.example/"}]}"#),
            ("Reporting-Endpoints", r#"default="https://r.example/""#),
            (
                "content-security-policy",
                "default-src 'self'; report-uri https://r.example/csp /csp; Report-To default;img-src *",
            ),
            ("content-security-policy-report-only", "script-src 'none';report-uri /csp"),
        ]);
        let out = gw
            .finish(&a, &origin, NOW, &Entropy::default())
            .unwrap()
            .headers;
        for gone in ["nel", "report-to", "reporting-endpoints"] {
            assert_eq!(headers::get(&out, gone), None, "{gone}");
        }
        assert_eq!(
            headers::get(&out, "content-security-policy"),
            Some("default-src 'self';img-src *")
        );
        assert_eq!(
            headers::get(&out, "content-security-policy-report-only"),
            Some("script-src 'none';")
        );
        // Two policies in one value (two headers joined).
        let mut two = origin.clone();
        two.retain(|(n, _)| n != "content-security-policy");
        two.push((
            "content-security-policy".into(),
            "a 'self'; report-uri /r, report-to g; b *".into(),
        ));
        let out = gw
            .finish(&a, &two, NOW, &Entropy::default())
            .unwrap()
            .headers;
        assert_eq!(
            headers::get(&out, "content-security-policy"),
            Some("a 'self';, b *")
        );
        // Cookie mode: as the origin sent them.
        let mut cookies = gateway(&[]);
        let c = proxy(cookies.start(
            &page_load("https://app.example/", &h(&[HTML])),
            NOW,
            &Entropy::default(),
        ));
        let out = cookies
            .finish(&c, &origin, NOW, &Entropy::default())
            .unwrap()
            .headers;
        for (name, value) in &origin {
            assert_eq!(headers::get(&out, name), Some(value.as_str()), "{name}");
        }
    }

    /// A byte range of a rewritten page: the origin's bytes 0 to 99 are not the first 100 of the
    /// visitor's page. A GET that may get one is asked again whole (by the glue).
    #[test]
    fn url_mode_a_range_of_a_page_is_asked_again_whole() {
        let mut gw = url_gateway();
        let location = arrive(&mut gw, "https://app.example/", 4);
        let ranged = h(&[HTML, ("range", "bytes=0-99")]);
        let a = proxy(gw.start(&page_load(&location, &ranged), NOW, &Entropy::default()));
        assert!(whole_pages(&a, "GET"));
        assert!(!whole_pages(&a, "HEAD"));
        let b = proxy(gw.start(&page_load(&location, &h(&[HTML])), NOW, &Entropy::default()));
        assert!(!whole_pages(&b, "GET"));
        // Cookie mode: nothing is rewritten.
        let mut cookies = gateway(&[]);
        let c = proxy(cookies.start(
            &page_load("https://app.example/", &ranged),
            NOW,
            &Entropy::default(),
        ));
        assert!(!whole_pages(&c, "GET"));
    }

    #[test]
    fn url_mode_spreads_new_visitors_by_weight() {
        let mut gw = gateway(&[
            ("AFFINITY_MODE", "url"),
            (
                "ORIGINS",
                r#"[{"id":"a","url":"http://127.0.0.1:9001","weight":3},{"id":"b","url":"http://127.0.0.1:9002","weight":1}]"#,
            ),
        ]);
        let html = h(&[HTML]);
        let mut on_a = 0;
        for visitor in 0..400 {
            let location = arrive(&mut gw, "https://app.example/", visitor);
            let a = proxy(gw.start(&page_load(&location, &html), NOW, &Entropy::default()));
            on_a += usize::from(a.origin == "a");
        }
        assert!(
            (250..350).contains(&on_a),
            "{on_a} of 400 on the weight-3 origin"
        );
    }

    #[test]
    fn failover_moves_the_visitor_once_and_for_good() {
        let mut gw = gateway(&[("HEALTH_DOWN_SECONDS", "10")]);
        let first = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        let jar = cookie_pair(first.affinity_cookie.as_deref().unwrap()).to_owned();
        let headers = h(&[("cookie", &jar)]);
        let req = get(&headers);
        let pinned = proxy(gw.start(&req, NOW, &Entropy::default()));
        let Retry::Next(moved) = gw.retry(&req, &pinned, NOW, &Entropy::default()) else {
            panic!("a GET is retried")
        };
        assert_ne!(moved.origin, pinned.origin);
        assert!(moved.affinity_cookie.is_some());
        assert!(moved
            .headers
            .contains(&("x-session-reassigned".into(), "1".into())));
        assert_eq!(moved.retries_left, 0);
        // The retry fails too: no third try.
        assert!(matches!(
            gw.retry(&req, &moved, NOW, &Entropy::default()),
            Retry::Respond(Page { status: 503, .. })
        ));
        // Later, with the new cookie, after the old origin came back: no move back.
        let jar = cookie_pair(moved.affinity_cookie.as_deref().unwrap()).to_owned();
        let headers = h(&[("cookie", &jar)]);
        assert_eq!(
            proxy(gw.start(&get(&headers), NOW + 60, &Entropy::default())).origin,
            moved.origin
        );
    }

    /// Answers of any status are the origin talking; only connection failures in a row on a
    /// request's first try, without a body, mark an origin down. The retry of a request never
    /// marks its second origin.
    #[test]
    fn a_client_cannot_take_an_origin_out_for_others() {
        let mut gw = gateway(&[]);
        let all_up = |gw: &Gateway| ["a", "b", "c"].iter().all(|id| gw.health().is_up(id, NOW));
        // Three GETs on a path the origin answers 503 to: answers, nothing marked.
        for _ in 0..3 {
            let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
            gw.answered(&a);
        }
        assert!(all_up(&gw));
        // Uploads the client aborts make the origin fetch fail: never counted.
        let upload = Request {
            method: "POST",
            url: "https://app.example/upload",
            headers: &[],
            has_body: true,
        };
        for _ in 0..5 {
            let a = proxy(gw.start(&upload, NOW, &Entropy::default()));
            assert!(matches!(
                gw.retry(&upload, &a, NOW, &Entropy::default()),
                Retry::Respond(_)
            ));
        }
        assert!(all_up(&gw));
        // Connection failures: the retried GET moves, and its second origin is never marked.
        let (pinned, jar) = a_visitor(&mut gw);
        let req = get(&jar);
        for i in 0..3 {
            let a = proxy(gw.start(&req, NOW, &Entropy::default()));
            assert_eq!(
                a.origin, pinned.origin,
                "a visitor of an origin not yet marked"
            );
            let Retry::Next(b) = gw.retry(&req, &a, NOW, &Entropy::default()) else {
                panic!("a GET is retried");
            };
            assert_ne!(b.origin, a.origin);
            assert!(matches!(
                gw.retry(&req, &b, NOW, &Entropy::default()),
                Retry::Respond(_)
            ));
            assert!(gw.health().is_up(&b.origin, NOW), "a retry marks nothing");
            assert_eq!(
                gw.health().is_up(&a.origin, NOW),
                i < 2,
                "the third in a row marks"
            );
        }
    }

    /// An answer ends an origin's failure streak: two failures, an answer, two failures leave
    /// it up; the third failure in a row marks it.
    #[test]
    fn an_answer_ends_an_origins_failure_streak() {
        let mut gw = gateway(&[]);
        let (pinned, jar) = a_visitor(&mut gw);
        let req = get(&jar);
        let fail = |gw: &mut Gateway| {
            let a = proxy(gw.start(&req, NOW, &Entropy::default()));
            assert_eq!(a.origin, pinned.origin);
            let retry = gw.retry(&req, &a, NOW, &Entropy::default());
            assert!(matches!(retry, Retry::Next(_)));
        };
        fail(&mut gw);
        fail(&mut gw);
        let answered = proxy(gw.start(&req, NOW, &Entropy::default()));
        gw.answered(&answered);
        fail(&mut gw);
        fail(&mut gw);
        assert!(
            gw.health().is_up(&pinned.origin, NOW),
            "two failures since the answer"
        );
        fail(&mut gw);
        assert!(
            !gw.health().is_up(&pinned.origin, NOW),
            "the third in a row marks"
        );
    }

    /// Many origins, each found by its index on every request (not by a search of the ids, which
    /// made a request's work grow with the square of their number): those down, by this
    /// instance's marks or by the shared snapshot, take nobody; the others take everybody else.
    #[test]
    fn many_origins_route_around_those_down() {
        use super::super::health::{Probe, Snapshot};
        let n = 300;
        let origins: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"id":"o{i}","url":"http://10.0.{}.{}"}}"#,
                    i / 256,
                    i % 256
                )
            })
            .collect();
        let origins = format!("[{}]", origins.join(","));
        let mut gw = gateway(&[("ORIGINS", &origins)]);
        let mut snapshot = Snapshot {
            checked_at: NOW,
            ..Snapshot::default()
        };
        for i in 0..n {
            match i % 3 {
                0 => _ = gw.health_mut().mark_down(&format!("o{i}"), NOW),
                1 => {
                    _ = snapshot
                        .origins
                        .insert(format!("o{i}"), Probe::failed("refused", 1))
                }
                _ => {}
            }
        }
        gw.health_mut().set_shared(Some(snapshot), NOW);
        let mut seen = std::collections::BTreeSet::new();
        for visitor in 0..3000 {
            let entropy = Entropy {
                visitor,
                ..Entropy::default()
            };
            let a = proxy(gw.start(&get(&[]), NOW, &entropy));
            let i: usize = a.origin[1..].parse().unwrap();
            assert_eq!(i % 3, 2, "{} is down", a.origin);
            seen.insert(i);
        }
        assert!(seen.len() > 90, "{} origins took visitors", seen.len());
        let report = gw.health().report(&gw.config().origins, NOW);
        for (i, o) in report["origins"].as_array().unwrap().iter().enumerate() {
            assert_eq!(o["up"], serde_json::json!(i % 3 == 2), "{o}");
        }
    }

    /// With `DIRECTIVE_NONCE = "on"`, an origin endpoint that reflects an upstream's headers
    /// cannot log anybody in: the upstream never saw the request's nonce.
    #[test]
    fn directives_count_only_with_the_requests_nonce() {
        let mut gw = gateway(&[("DIRECTIVE_NONCE", "on")]);
        let entropy = Entropy {
            nonce: [9; 16],
            ..Entropy::default()
        };
        let spoof = h(&[("X_Session_Nonce", "forged")]);
        let a = proxy(gw.start(&get(&spoof), NOW, &entropy));
        let nonce = headers::get(&a.headers, "x-session-nonce")
            .unwrap()
            .to_owned();
        assert_eq!(nonce, crate::codec::b64_encode(&[9; 16]));
        assert_eq!(
            a.headers
                .iter()
                .filter(|(n, _)| headers::is_reserved(n, false) && n.contains("nonce"))
                .count(),
            1
        );
        let login = ("x-session-issue", r#"{"sub":"mallory"}"#);
        for answer in [vec![login], vec![login, ("x-session-nonce", "forged")]] {
            let page = gw.finish(&a, &h(&answer), NOW, &entropy).unwrap_err();
            assert_eq!(page.status, 502);
            assert!(page.body.contains("DIRECTIVE_NONCE"));
        }
        let out = gw
            .finish(&a, &h(&[login, ("x-session-nonce", &nonce)]), NOW, &entropy)
            .unwrap()
            .headers;
        assert!(set_cookies(&out)
            .iter()
            .any(|c| c.starts_with("__Host-session=")));
        assert_eq!(
            headers::get(&out, "x-session-nonce"),
            None,
            "never to the client"
        );
        // Answers without directives need no nonce; off, nothing is sent. Clear-Site-Data is
        // no directive: a logout without the nonce.
        assert!(gw.finish(&a, &h(&[("a", "1")]), NOW, &entropy).is_ok());
        let cleared = gw.finish(&a, &h(&[("clear-site-data", r#""*""#)]), NOW, &entropy);
        let removal = gw.config().session_cookie.removal().unwrap();
        assert!(set_cookies(&cleared.unwrap().headers).contains(&removal.as_str()));
        let mut off = gateway(&[]);
        let b = proxy(off.start(&get(&[]), NOW, &entropy));
        assert_eq!(headers::get(&b.headers, "x-session-nonce"), None);
        assert!(off.finish(&b, &h(&[login]), NOW, &entropy).is_ok());
    }

    /// A cache between the gateway and the origin keeps headers it does not know: an answer
    /// it kept would log every later visitor in as the first, or revoke its user at each visit.
    #[test]
    fn directives_from_a_cache_are_not_carried_out() {
        let mut gw = gateway(&[("STORE", "kv")]);
        let e = Entropy::default();
        let a = proxy(gw.start(&get(&[]), NOW, &e));
        let login = ("x-session-issue", r#"{"sub":"alice"}"#);
        for cached in [
            ("Age", "1"),
            ("age", "86400"),
            ("age", "0, 12"),
            ("CF-Cache-Status", "HIT"),
            ("cf-cache-status", "stale"),
            ("cf-cache-status", "UPDATING"),
            ("cf-cache-status", "REVALIDATED"),
        ] {
            for directive in [
                login,
                ("x-session-revoke", "alice"),
                ("x-session-data", r#"{"cart":["book"]}"#),
                ("x-session-clear", "1"),
            ] {
                let answer = h(&[directive, cached]);
                let mut page = gw.finish(&a, &answer, NOW, &e).unwrap_err();
                assert_eq!(page.status, 502, "{directive:?} {cached:?}");
                assert!(page.body.contains("from a cache"), "{}", page.body);
                // Nothing of it is carried out when refused either: no revocation, no logout.
                assert!(gw.refused(&a, &answer, &mut page).is_none());
                assert!(set_cookies(&page.headers).is_empty());
            }
            // An answer without directives is the cache's to give; a cached Clear-Site-Data
            // is the browser's header, and still a logout.
            assert!(gw.finish(&a, &h(&[("a", "1"), cached]), NOW, &e).is_ok());
            let cleared = gw.finish(&a, &h(&[("clear-site-data", r#""*""#), cached]), NOW, &e);
            let removal = gw.config().session_cookie.removal().unwrap();
            assert!(set_cookies(&cleared.unwrap().headers).contains(&removal.as_str()));
        }
        // What the origin made for this request: no Age, an Age of 0 (a cache passing on what it
        // fetched), or Cloudflare's status of a fetch from the origin.
        for fresh in [
            ("x-other", "1"),
            ("age", "0"),
            ("age", "-5"),
            ("age", "soon"),
            ("cf-cache-status", "MISS"),
            ("cf-cache-status", "EXPIRED"),
            ("cf-cache-status", "BYPASS"),
            ("cf-cache-status", "DYNAMIC"),
        ] {
            let out = gw.finish(&a, &h(&[login, fresh]), NOW, &e).unwrap().headers;
            assert!(
                set_cookies(&out)
                    .iter()
                    .any(|c| c.starts_with("__Host-session=")),
                "{fresh:?}"
            );
        }
    }

    /// A header name with a byte above 0x7F reaches the wasm with U+FFFD for it, and the
    /// runtime can neither find nor remove it by that name: a client's `x-se\u{df}ion-sub`
    /// (Latin-1 `ß`) went on to the origin, where a server that upper-cases names (gunicorn up
    /// to 21) read it as `X-SESSION-SUB`, and an origin's `x\u{a7}session-issue` on to the
    /// client. Such a request is a 400, never sent on, and such an answer a 502 (whose logout
    /// and revocation still count: `a_refused_answer_still_ends_its_sessions`).
    #[test]
    fn a_header_name_that_is_not_a_token_is_refused_both_ways() {
        let mut gw = gateway(&[]);
        let e = Entropy::default();
        for name in [
            "x-se\u{fffd}ion-sub",
            "x\u{fffd}session-sub",
            "x session-sub",
            "a\u{e9}",
        ] {
            let headers = h(&[("accept", "*/*"), (name, "root")]);
            match gw.start(&get(&headers), NOW, &e) {
                Step::Respond(page) => assert_eq!(page.status, 400, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let a = proxy(gw.start(&get(&h(&[("x-custom_1", "kept")])), NOW, &e));
        assert_eq!(headers::get(&a.headers, "x-custom_1"), Some("kept"));
        for name in ["x\u{fffd}session-issue", "x-se\u{fffd}ion-issue", "x y"] {
            let answer = h(&[("content-type", "text/html"), (name, r#"{"sub":"root"}"#)]);
            let page = gw.finish(&a, &answer, NOW, &e).unwrap_err();
            assert_eq!(page.status, 502, "{name}");
        }
        assert!(gw.finish(&a, &h(&[("x-custom_1", "1")]), NOW, &e).is_ok());
    }

    #[test]
    fn a_refused_answer_still_ends_its_sessions() {
        let mut gw = gateway(&[("STORE", "kv"), ("DBSC", "on")]);
        let e = Entropy::default();
        let a = proxy(gw.start(&get(&[]), NOW, &e));
        // What a refused answer still does: the plan for the store, and the cookies the page
        // removes.
        let refused = |gw: &Gateway, a: &Attempt, answer: &[(&str, &str)]| {
            let answer = h(answer);
            let mut page = gw.finish(a, &answer, NOW, &e).unwrap_err();
            assert_eq!(page.status, 502);
            let plan = gw.refused(a, &answer, &mut page);
            let removed: Vec<String> = set_cookies(&page.headers)
                .iter()
                .map(|c| c.split('=').next().unwrap_or_default().to_owned())
                .collect();
            (plan, removed)
        };
        let revoke = ("x-session-revoke", "alice");
        let clear = ("x-session-clear", "1");
        let bad_login = ("x-session-issue", r#"{"sub":"alice","nbf":1}"#);
        // A password change whose new login is refused (nbf, a duplicate member, not ASCII), or
        // whose data is: refused, the revocation is not. Not this browser's subject (anonymous):
        // no cookie removed.
        for bad in [
            bad_login,
            ("x-session-issue", r#"{"sub":"alice","sub":"bob"}"#),
            ("x-session-issue", "{\"sub\":\"alice\",\"name\":\"\u{e9}\"}"),
            ("x-session-data", "[1]"),
            ("x-se\u{fffd}ion-sub", "root"),
        ] {
            let (plan, removed) = refused(&gw, &a, &[revoke, bad]);
            let plan = plan.unwrap();
            assert_eq!(plan.revoke.as_deref(), Some("alice"), "{bad:?}");
            assert!(!plan.logout && plan.login.is_none() && plan.patch.is_none());
            assert_eq!(removed, Vec::<String>::new());
        }
        // A logout (or a Clear-Site-Data of cookies) with a refused login, a switch of user:
        // the session, DBSC bound and key cookies removed, the stored session deleted.
        let all = [
            "__Host-session",
            "__Host-session-bound",
            "__Secure-session-key",
        ];
        for end in [clear, ("clear-site-data", r#""cookies""#)] {
            let (plan, removed) = refused(&gw, &a, &[end, bad_login]);
            assert!(plan.unwrap().logout, "{end:?}");
            assert_eq!(removed, all, "{end:?}");
        }
        // Its Clear-Site-Data reaches the browser too, as the answer's would have: the site's
        // own cookies and storage cleared, not only the gateway's cookies. Nothing else of it.
        let answer = h(&[
            ("clear-site-data", r#""cookies", "storage""#),
            ("set-cookie", "app=1"),
            ("x-app", "1"),
            bad_login,
        ]);
        let mut page = gw.finish(&a, &answer, NOW, &e).unwrap_err();
        let before = page.headers.clone();
        gw.refused(&a, &answer, &mut page);
        let added: Vec<_> = page.headers[before.len()..]
            .iter()
            .filter(|(n, _)| n != "set-cookie")
            .collect();
        let csd = ("clear-site-data".into(), r#""cookies", "storage""#.into());
        assert_eq!(added, [&csd]);
        assert!(!set_cookies(&page.headers).contains(&"app=1"));
        // Nothing to end: no plan, nothing removed; two subjects revoke nobody.
        assert_eq!(refused(&gw, &a, &[bad_login]), (None, vec![]));
        let two = ("x-session-revoke", "alice, bob"); // a header sent twice, joined
        assert_eq!(refused(&gw, &a, &[two, bad_login]), (None, vec![]));
        // Without a store: the logout's cookies only, no plan, no revocation.
        let mut none = gateway(&[]);
        let b = proxy(none.start(&get(&[]), NOW, &e));
        assert_eq!(refused(&none, &b, &[revoke, bad_login]), (None, vec![]));
        let (plan, removed) = refused(&none, &b, &[clear, bad_login]);
        assert_eq!((plan, removed), (None, vec!["__Host-session".to_owned()]));
        // DIRECTIVE_NONCE on: the directives count only with the request's nonce sent back
        // (Clear-Site-Data is the browser's header, no directive: it counts).
        let mut nonced = gateway(&[("STORE", "kv"), ("DIRECTIVE_NONCE", "on")]);
        let c = proxy(nonced.start(&get(&[]), NOW, &e));
        let nonce = headers::get(&c.headers, "x-session-nonce").unwrap();
        assert_eq!(
            refused(&nonced, &c, &[revoke, clear, bad_login]),
            (None, vec![])
        );
        let sent_back = [revoke, bad_login, ("x-session-nonce", nonce)];
        let plan = refused(&nonced, &c, &sent_back).0.unwrap();
        assert_eq!(plan.revoke.as_deref(), Some("alice"));
        let site = [("clear-site-data", "\"*\""), bad_login];
        assert!(refused(&nonced, &c, &site).0.unwrap().logout);
    }

    /// Not tried again, and not invited to be: the connection's failure may have come after
    /// the origin got the request (the runtime tells no refused connection from one lost), so
    /// the answer is the 502 that says to check first, with no `Retry-After`.
    #[test]
    fn bodies_and_unsafe_methods_are_not_retried() {
        let mut gw = gateway(&[]);
        for (method, has_body) in [("POST", false), ("DELETE", true), ("PUT", true)] {
            let req = sent(method, has_body);
            let a = proxy(gw.start(&req, NOW, &Entropy::default()));
            assert_eq!(a.retries_left, 0);
            let r = gw.retry(&req, &a, NOW, &Entropy::default());
            assert_eq!(r, Retry::Respond(Page::origin_lost()), "{method}");
            assert!(Page::origin_lost()
                .headers
                .iter()
                .all(|(n, _)| n != "retry-after"));
        }
    }

    /// An origin that gave no answer in time (`ORIGIN_TIMEOUT_MS`) is treated as one out of
    /// reach: the same streak (first tries without a body, mixed with connection failures), the
    /// same other try for a retryable request, whose visitor is told it moved; with no try left
    /// the answer is the 504 (never the 503 of an unreachable origin).
    #[test]
    fn a_timeout_counts_as_no_answer_and_ends_in_a_504() {
        let mut gw = gateway(&[]);
        // A visitor of one origin, which hangs: the GET moves, and says so.
        let (pinned, jar) = a_visitor(&mut gw);
        let req = get(&jar);
        let a = proxy(gw.start(&req, NOW, &Entropy::default()));
        assert_eq!(a.origin, pinned.origin);
        let Retry::Next(b) = gw.retry_timed_out(&req, &a, NOW, &Entropy::default()) else {
            panic!("a GET is retried after a timeout");
        };
        assert_ne!(b.origin, a.origin);
        assert!(b
            .headers
            .contains(&("x-session-reassigned".into(), "1".into())));
        // Its other try timed out too: the 504, and that origin is not marked.
        let r = gw.retry_timed_out(&req, &b, NOW, &Entropy::default());
        assert_eq!(r, Retry::Respond(Page::origin_timeout()));
        // A connection failure after the same timed-out try is still the 503.
        assert!(matches!(
            gw.retry(&req, &b, NOW, &Entropy::default()),
            Retry::Respond(Page { status: 503, .. })
        ));
        // Timeouts and connection failures make one streak: the third in a row marks it.
        assert!(gw.health().is_up(&a.origin, NOW));
        let again = proxy(gw.start(&req, NOW, &Entropy::default()));
        let _ = gw.retry(&req, &again, NOW, &Entropy::default());
        assert!(gw.health().is_up(&a.origin, NOW), "two in a row");
        let third = proxy(gw.start(&req, NOW, &Entropy::default()));
        let _ = gw.retry_timed_out(&req, &third, NOW, &Entropy::default());
        assert!(
            !gw.health().is_up(&a.origin, NOW),
            "the third, a timeout, marks"
        );
        assert!(gw.health().is_up(&b.origin, NOW), "a retry marks nothing");

        // Requests that cannot be tried again get the 504 at once; a body keeps the origin
        // unmarked (the client may have stalled the upload).
        let mut gw = gateway(&[("HEALTH_FAILURES", "1")]);
        for (method, has_body, marks) in [("POST", true, false), ("POST", false, true)] {
            let req = sent(method, has_body);
            let a = proxy(gw.start(&req, NOW, &Entropy::default()));
            assert_eq!(
                gw.retry_timed_out(&req, &a, NOW, &Entropy::default()),
                Retry::Respond(Page::origin_timeout()),
                "{method}, body {has_body}"
            );
            assert_eq!(
                gw.health().is_up(&a.origin, NOW),
                !marks,
                "{method}, body {has_body}"
            );
        }
        // One origin only: nowhere else to go, the 504; strict failover too.
        let one = r#"[{"id":"a","url":"http://127.0.0.1:9001"}]"#;
        for vars in [&[("ORIGINS", one)][..], &[("AFFINITY_FAILOVER", "strict")]] {
            let mut gw = gateway(vars);
            let (_, jar) = a_visitor(&mut gw);
            let a = proxy(gw.start(&get(&jar), NOW, &Entropy::default()));
            assert_eq!(
                gw.retry_timed_out(&get(&jar), &a, NOW, &Entropy::default()),
                Retry::Respond(Page::origin_timeout()),
                "{vars:?}"
            );
        }
    }

    /// Timeouts never mark down the last origin up: long polls that wait longer than
    /// `ORIGIN_TIMEOUT_MS` (or a client's slow GETs) would otherwise take out every origin, and
    /// the whole site would answer 503. Connection failures still do.
    #[test]
    fn timeouts_never_mark_the_last_origin_up() {
        let mut gw = gateway(&[("HEALTH_FAILURES", "1")]);
        let req = get(&[]);
        let up = |gw: &Gateway| {
            ["a", "b", "c"]
                .into_iter()
                .filter(|o| gw.health().is_up(o, NOW))
                .collect::<Vec<_>>()
        };
        for _ in 0..10 {
            let a = proxy(gw.start(&req, NOW, &Entropy::default()));
            let _ = gw.retry_timed_out(&req, &a, NOW, &Entropy::default());
        }
        assert_eq!(up(&gw).len(), 1, "{:?}", up(&gw));
        let last = proxy(gw.start(&req, NOW, &Entropy::default()));
        assert_eq!(vec![last.origin.as_str()], up(&gw));
        let _ = gw.retry(&req, &last, NOW, &Entropy::default());
        assert!(
            up(&gw).is_empty(),
            "a connection failure marks the last one"
        );
        // The last origin up by both sources: the others down by the shared snapshot (never
        // tried, so never marked here) leave the one that serves unmarked.
        let mut gw = gateway(&[("HEALTH_FAILURES", "1")]);
        probed(&mut gw, &["b", "c"]);
        for _ in 0..3 {
            let a = proxy(gw.start(&req, NOW, &Entropy::default()));
            assert_eq!(a.origin, "a");
            let _ = gw.retry_timed_out(&req, &a, NOW, &Entropy::default());
        }
        assert_eq!(up(&gw), ["a"]);
    }

    #[test]
    fn all_down_is_a_503_with_retry_after() {
        let mut gw = gateway(&[]);
        for id in ["a", "b", "c"] {
            gw.health_mut().mark_down(id, NOW);
        }
        let Step::Respond(page) = gw.start(&get(&[]), NOW + 5, &Entropy::default()) else {
            panic!()
        };
        assert_eq!(page.status, 503);
        assert!(page.headers.contains(&("retry-after".into(), "25".into())));
        // Two down, the retry finds none: still a clear 503. The origin that failed is not
        // down yet (one failure of HEALTH_FAILURES): its request's origin is unavailable, not
        // all origins down; once its failures mark it down, all are.
        let mut gw = gateway(&[("HEALTH_FAILURES", "2")]);
        let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        for id in ["a", "b", "c"].into_iter().filter(|id| *id != a.origin) {
            gw.health_mut().mark_down(id, NOW);
        }
        let page = |r: Retry| match r {
            Retry::Respond(Page {
                status: 503, body, ..
            }) => body,
            other => panic!("{other:?}"),
        };
        let r = gw.retry(&get(&[]), &a, NOW, &Entropy::default());
        assert!(page(r).contains("the origin server for this request is unavailable"));
        let r = gw.retry(&get(&[]), &a, NOW, &Entropy::default());
        assert!(page(r).contains("all origins are down"));
    }

    /// The shared snapshot of a cron run at `NOW` whose probes of the origins in `down` got a
    /// 404 (a `HEALTH_PATH` they do not have) and of the others a 200.
    fn probed(gw: &mut Gateway, down: &[&str]) {
        use super::super::health::{Probe, Snapshot};
        let mut snapshot = Snapshot {
            checked_at: NOW,
            ..Snapshot::default()
        };
        for id in ["a", "b", "c"] {
            let status = if down.contains(&id) { 404 } else { 200 };
            snapshot
                .origins
                .insert(id.into(), Probe::answered(status, 1));
        }
        gw.health_mut().set_shared(Some(snapshot), NOW);
    }

    /// The origins new visitors reach at `now`.
    fn reached(gw: &mut Gateway, now: UnixTime) -> std::collections::BTreeSet<String> {
        (0..200)
            .map(|visitor| {
                let entropy = Entropy {
                    visitor,
                    ..Entropy::default()
                };
                proxy(gw.start(&get(&[]), now, &entropy)).origin
            })
            .collect()
    }

    /// A cron run that marked every origin down (a wrong `HEALTH_PATH`) made every request at
    /// every location a 503 "all origins are down" while the origins served fine. The gateway
    /// fails open: the snapshot is set aside, the origins this instance reaches take traffic,
    /// and only the origins its own requests found dead stay out; every one of them: all down.
    #[test]
    fn a_snapshot_marking_every_origin_down_is_set_aside() {
        let mut gw = gateway(&[]);
        let (pinned, jar) = a_visitor(&mut gw);
        probed(&mut gw, &["a", "b", "c"]);
        assert_eq!(reached(&mut gw, NOW).len(), 3);
        let again = proxy(gw.start(&get(&jar), NOW, &Entropy::default()));
        assert_eq!(again.origin, pinned.origin, "nobody moves");
        assert!(!again
            .headers
            .iter()
            .any(|(n, _)| n == "x-session-reassigned"));
        let report = gw.health().report(&gw.config().origins, NOW);
        assert_eq!(report["failOpen"], true, "{report}");
        for o in report["origins"].as_array().unwrap() {
            assert!(o["up"] == true && o["shared"]["healthy"] == false, "{o}");
        }
        // Down by the snapshot and by this instance's own failures: only the others.
        gw.health_mut().mark_down("a", NOW);
        assert_eq!(reached(&mut gw, NOW), ["b", "c"].map(String::from).into());
        let report = gw.health().report(&gw.config().origins, NOW);
        assert_eq!(report["failOpen"], true);
        assert_eq!(report["origins"][0]["up"], false);
        // A first try that finds its origin dead is retried on another the instance reaches.
        let first = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
        let Retry::Next(next) = gw.retry(&get(&[]), &first, NOW, &Entropy::default()) else {
            panic!("a GET is retried")
        };
        assert!(
            next.origin != first.origin && next.origin != "a",
            "{next:?}"
        );
        // Every origin down by this instance's own failures: 503 all down, Retry-After until
        // the first mark ends; then that origin takes traffic again.
        for id in ["b", "c"] {
            gw.health_mut().mark_down(id, NOW + 5);
        }
        let all_down = Step::Respond(Page::all_down(25));
        assert_eq!(gw.start(&get(&[]), NOW + 5, &Entropy::default()), all_down);
        assert_eq!(gw.start(&get(&jar), NOW + 5, &Entropy::default()), all_down);
        let r = gw.retry(&get(&[]), &first, NOW + 5, &Entropy::default());
        assert!(
            matches!(r, Retry::Respond(Page { status: 503, ref body, .. }) if body.contains("all origins are down"))
        );
        let report = gw.health().report(&gw.config().origins, NOW + 5);
        assert_eq!(report["failOpen"], false, "the snapshot changes nothing");
        assert_eq!(reached(&mut gw, NOW + 30), ["a"].map(String::from).into());
    }

    /// While some origin is up by both sources the snapshot counts, a draining one included
    /// (every origin up draining still takes new visitors); strict failover keeps a visitor on
    /// its origin when the snapshot is set aside, and says "origin unavailable" when this
    /// instance's own failures marked it; in URL mode nobody is redirected to a new value.
    #[test]
    fn failing_open_with_draining_strict_and_url_affinity() {
        let drain_b = origins_draining(&["b"]);
        let mut gw = gateway(&[("ORIGINS", &drain_b)]);
        probed(&mut gw, &["a", "b", "c"]);
        assert_eq!(reached(&mut gw, NOW), ["a", "c"].map(String::from).into());
        probed(&mut gw, &["a", "c"]);
        assert_eq!(reached(&mut gw, NOW), ["b"].map(String::from).into());
        assert_eq!(
            gw.health().report(&gw.config().origins, NOW)["failOpen"],
            false
        );

        let mut gw = gateway(&[("AFFINITY_FAILOVER", "strict")]);
        let (first, jar) = a_visitor(&mut gw);
        probed(&mut gw, &["a", "b", "c"]);
        let again = proxy(gw.start(&get(&jar), NOW + 1, &Entropy::default()));
        assert_eq!(again.origin, first.origin);
        gw.health_mut().mark_down(&first.origin, NOW);
        let retry_after = gw.health().retry_after(NOW + 1);
        assert_eq!(
            gw.start(&get(&jar), NOW + 1, &Entropy::default()),
            Step::Respond(Page::origin_unavailable(retry_after))
        );

        let mut gw = url_gateway();
        let value = value_in(&arrive(&mut gw, "https://app.example/", 3));
        let html = h(&[HTML]);
        let url = format!("https://app.example/cart?_es={value}");
        let home = proxy(gw.start(&page_load(&url, &html), NOW, &Entropy::default()));
        probed(&mut gw, &["a", "b", "c"]);
        let again = proxy(gw.start(&page_load(&url, &html), NOW + 1, &Entropy::default()));
        assert_eq!(again.origin, home.origin);
        assert!(!again
            .headers
            .iter()
            .any(|(n, _)| n == "x-session-reassigned"));
    }

    #[test]
    fn bad_cookies_are_anonymous_and_cleared() {
        let mut gw = gateway(&[]);
        for jar in [
            format!("__Host-session={}", "A".repeat(9000)),
            "__Host-session=AQID; __Host-affinity=garbage".to_owned(),
            "__Host-affinity=\u{1F600}; =; ;;".to_owned(),
        ] {
            let headers = h(&[("cookie", &jar)]);
            let a = proxy(gw.start(&get(&headers), NOW, &Entropy::default()));
            let status = headers::get(&a.headers, "x-session-status").unwrap();
            assert!(status == "invalid" || status == "none", "{status}");
            let out = gw
                .finish(&a, &[], NOW, &Entropy::default())
                .unwrap()
                .headers;
            assert!(set_cookies(&out)
                .iter()
                .any(|c| c.starts_with("__Host-affinity=")));
        }
    }

    /// A browser withholds a `SameSite` cookie from a cross-site request (`Lax`: a form another
    /// site posts; `Strict`: any, a link followed included) and yet keeps a cookie set by the
    /// answer to a top-level navigation (RFC 6265bis, storage model). A new visitor's value on
    /// that answer would replace the visitor's own: any site could move a visitor off its
    /// origin with a form. Such a request is routed as a new visitor's, and sets no cookie; a
    /// login there still rotates the value (to the origin that logged the user in).
    #[test]
    fn a_cross_site_request_without_the_cookie_does_not_replace_it() {
        let entropy = |n: u64| Entropy {
            visitor: n,
            ..Entropy::default()
        };
        // A browser without `Sec-Fetch-Site` (Safari before 16.4) is told by its `Origin`.
        let request = |method: &'static str, site: &'static str| {
            let headers = match site.strip_prefix("origin ") {
                _ if site.is_empty() => Vec::new(),
                Some(origin) => h(&[("origin", origin)]),
                None => h(&[("sec-fetch-site", site)]),
            };
            (method, headers)
        };
        for (same_site, method, site, set) in [
            ("Lax", "POST", "cross-site", false),
            ("Lax", "PUT", "cross-site", false),
            ("Lax", "GET", "cross-site", true),
            ("Lax", "POST", "same-site", true),
            ("Lax", "POST", "same-origin", true),
            ("Lax", "POST", "", true),
            ("Strict", "GET", "cross-site", false),
            ("Strict", "POST", "cross-site", false),
            ("Strict", "GET", "same-site", true),
            ("Strict", "GET", "none", true),
            ("None", "POST", "cross-site", true),
            ("Lax", "POST", "origin https://evil.example", false),
            ("Lax", "POST", "origin null", false),
            ("Lax", "POST", "origin https://app.example", true),
            ("Lax", "GET", "origin https://evil.example", true),
            ("Strict", "GET", "origin https://evil.example", false),
        ] {
            let mut gw = gateway(&[("COOKIE_SAMESITE", same_site)]);
            let (method, headers) = request(method, site);
            let req = Request {
                method,
                url: "https://app.example/x",
                headers: &headers,
                has_body: method != "GET",
            };
            let a = proxy(gw.start(&req, NOW, &entropy(1)));
            let out = gw.finish(&a, &[], NOW, &entropy(2)).unwrap().headers;
            let case = format!("{same_site} {method} {site:?}");
            assert_eq!(a.affinity_cookie.is_some(), set, "{case}");
            assert_eq!(set_cookies(&out).len(), usize::from(set), "{case}");
            // A login there pins the user to the origin that logged them in.
            let login = h(&[("x-session-issue", r#"{"sub":"alice"}"#)]);
            let out = gw.finish(&a, &login, NOW, &entropy(3)).unwrap().headers;
            assert!(
                set_cookies(&out)
                    .iter()
                    .any(|c| c.starts_with("__Host-affinity=")),
                "{case}"
            );
        }
        // Presented all the same (a client that is no browser, or a cookie set when it was
        // `SameSite=None`): read and, when it is not honoured, replaced as ever.
        let mut gw = gateway(&[]);
        let (first, jar) = a_visitor(&mut gw);
        for (cookie, set) in [
            (jar[0].1.clone(), false),
            ("__Host-affinity=forged".to_owned(), true),
        ] {
            let headers = h(&[("cookie", &cookie), ("sec-fetch-site", "cross-site")]);
            let req = Request {
                method: "POST",
                url: "https://app.example/x",
                headers: &headers,
                has_body: true,
            };
            let a = proxy(gw.start(&req, NOW + 1, &entropy(7)));
            assert_eq!(a.affinity_cookie.is_some(), set, "{cookie}");
            if !set {
                assert_eq!(a.origin, first.origin);
            }
        }
        // Strict: a retry of a cross-site page load (its origin gave no answer) sets none either.
        let mut gw = gateway(&[("COOKIE_SAMESITE", "Strict")]);
        let headers = h(&[("sec-fetch-site", "cross-site")]);
        let req = get(&headers);
        let a = proxy(gw.start(&req, NOW, &entropy(1)));
        match gw.retry(&req, &a, NOW, &entropy(2)) {
            Retry::Next(b) => assert_eq!(b.affinity_cookie, None),
            other => panic!("{other:?}"),
        }
    }

    /// A session cookie's removal reaches one cookie, the gateway's own (host-only, `Path=/`).
    /// With more session cookies than are verified (a sibling subdomain can toss cookies of a
    /// name without the `__Host-` prefix, with longer paths, which browsers send first), the
    /// gateway's own may be a valid one it never read: it is not cleared. When every presented
    /// cookie was read and none is valid, it is.
    #[test]
    fn a_session_cookie_that_was_not_read_is_not_cleared() {
        let mut gw = gateway(&[("SESSION_COOKIE", "session")]);
        let jar = login_jar(&mut gw, "alice", NOW);
        let own = jar.split("; ").find(|c| c.starts_with("session=")).unwrap();
        let removal = gw.config().session_cookie.removal().unwrap();
        for (tossed, cleared) in [(3, false), (4, false), (9, false)] {
            let jar = format!("{}{own}", "session=junk; ".repeat(tossed));
            let b = proxy(gw.start(&get(&h(&[("cookie", &jar)])), NOW + 5, &Entropy::default()));
            let out = gw.finish(&b, &[], NOW + 5, &Entropy::default()).unwrap();
            assert_eq!(
                set_cookies(&out.headers).contains(&removal.as_str()),
                cleared,
                "{tossed} tossed"
            );
        }
        for (junk, cleared) in [(1, true), (4, true), (5, false)] {
            let jar = "session=junk; ".repeat(junk);
            let b = proxy(gw.start(&get(&h(&[("cookie", &jar)])), NOW + 5, &Entropy::default()));
            assert_eq!(
                headers::get(&b.headers, "x-session-status"),
                Some("invalid")
            );
            let out = gw.finish(&b, &[], NOW + 5, &Entropy::default()).unwrap();
            assert_eq!(
                set_cookies(&out.headers).contains(&removal.as_str()),
                cleared,
                "{junk} junk"
            );
        }
    }

    /// A key rotation in one deploy (the new key put first in `SESSION_KEYS` at once): while
    /// it spreads, an instance of the old version meets tokens the new one signed (at a login
    /// or a refresh). It cannot read them, but does not clear them either: that would log the
    /// user out, where the next request at a new instance reads the same cookie.
    #[test]
    fn a_token_of_a_key_this_version_does_not_know_is_not_cleared() {
        let keys = r#"[{"id":"k2","secret":"L9ERtFr_UDfghw_huB2r602KICH8c1I02bVzSeRitnI"},{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#;
        let jar = login_jar(&mut gateway(&[("SESSION_KEYS", keys)]), "alice", NOW);
        let mut old = gateway(&[]);
        let b = proxy(old.start(&get(&h(&[("cookie", &jar)])), NOW + 5, &Entropy::default()));
        assert_eq!(
            headers::get(&b.headers, "x-session-status"),
            Some("invalid")
        );
        assert!(b.unknown_key(), "the glue logs it");
        let out = old.finish(&b, &[], NOW + 5, &Entropy::default()).unwrap();
        let removal = old.config().session_cookie.removal().unwrap();
        assert!(!set_cookies(&out.headers).contains(&removal.as_str()));
    }

    /// A key rotated as docs/gateway.md says, in two deploys (the new key second, then first):
    /// while each deploy spreads, requests alternate between the two versions, and every one
    /// sees the session, at the same origin, whichever version logged the user in. (In the
    /// second deploy each version takes the other's first key for an older one, and signs the
    /// session again with its own: a new cookie at a request that changes version, never a
    /// logout.)
    #[test]
    fn a_key_rotated_in_two_deploys_keeps_every_session_while_two_versions_run() {
        const K1: &str = r#"{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}"#;
        const K2: &str = r#"{"id":"k2","secret":"L9ERtFr_UDfghw_huB2r602KICH8c1I02bVzSeRitnI"}"#;
        let rings = [
            format!("[{K1}]"),
            format!("[{K1},{K2}]"),
            format!("[{K2},{K1}]"),
        ];
        for format in ["compact", "sealed", "jwt"] {
            for deploy in 0..2 {
                let mut versions = [&rings[deploy], &rings[deploy + 1]]
                    .map(|keys| gateway(&[("SESSION_KEYS", keys), ("SESSION_FORMAT", format)]));
                for login_at in 0..2 {
                    let what = format!("{format}, deploy {}, login at {login_at}", deploy + 1);
                    let gw = &mut versions[login_at];
                    let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
                    let issue = h(&[("x-session-issue", r#"{"sub":"alice"}"#)]);
                    let out = gw.finish(&a, &issue, NOW, &Entropy::default()).unwrap();
                    let mut jar = crate::gateway::jar::Jar::default();
                    jar.take(&out.headers);
                    for i in 0..6 {
                        let now = NOW + 10 * (i as u64 + 1);
                        let gw = &mut versions[(login_at + 1 + i) % 2];
                        let b = proxy(gw.start(&get(&[jar.header()]), now, &Entropy::default()));
                        let status = headers::get(&b.headers, "x-session-status");
                        assert_eq!(status, Some("valid"), "{what}: request {i}");
                        assert_eq!(b.origin, a.origin, "{what}: request {i}");
                        let out = gw.finish(&b, &[], now, &Entropy::default()).unwrap();
                        jar.take(&out.headers);
                    }
                }
            }
        }
    }

    /// In the IP and header modes the origin is a hash under the affinity secret itself, which
    /// has no previous one to honour: a `SESSION_KEYS` rotation (whose first key is the affinity
    /// secret by default) moves most visitors once the new key is first, and while that deploy
    /// spreads a visitor goes to either version's choice at each request. `AFFINITY_SECRET` set
    /// to the first key's secret before the rotation keeps every visitor where it was.
    #[test]
    fn a_key_rotation_moves_ip_visitors_unless_the_affinity_secret_is_set() {
        const K1: &str = r#"{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}"#;
        const K2: &str = r#"{"id":"k2","secret":"L9ERtFr_UDfghw_huB2r602KICH8c1I02bVzSeRitnI"}"#;
        let moved = |extra: &[(&str, &str)]| {
            let [mut old, mut new] = [format!("[{K1},{K2}]"), format!("[{K2},{K1}]")].map(|keys| {
                let mut vars = vec![("SESSION_KEYS", keys.as_str()), ("AFFINITY_MODE", "ip")];
                vars.extend_from_slice(extra);
                gateway(&vars)
            });
            (0..60)
                .filter(|i| {
                    let ip = format!("192.0.2.{i}");
                    let headers = h(&[("cf-connecting-ip", &ip)]);
                    let [a, b] = [&mut old, &mut new]
                        .map(|gw| proxy(gw.start(&get(&headers), NOW, &Entropy::default())).origin);
                    a != b
                })
                .count()
        };
        assert!(moved(&[]) > 20, "{}", moved(&[]));
        let first = "muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620";
        assert_eq!(moved(&[("AFFINITY_SECRET", first)]), 0);
    }

    /// The gateway routes as the library's frozen vectors say (tests/vectors/affinity.json),
    /// with the origins of `ORIGINS` as the backends (ids, weights, draining) and the first key
    /// of `SESSION_KEYS` as the secret: the same address, header or earlier value goes to the
    /// same origin at every version. A gateway that keyed or listed its router otherwise would
    /// move every visitor at its deploy, and send each request to either version's choice while
    /// it spread.
    #[test]
    fn the_gateway_routes_as_the_frozen_affinity_vectors() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/affinity.json")).unwrap();
        let mut checked = 0;
        for v in vectors["routing"].as_array().unwrap() {
            let name = v["name"].as_str().unwrap();
            let config = &v["config"];
            let mode = config["mode"].as_str().unwrap();
            // The library's URL parameter is not the gateway's.
            if mode == "url" {
                continue;
            }
            let draining = v
                .get("draining")
                .map_or(Vec::new(), |d| d.as_array().unwrap().clone());
            let origins: Vec<serde_json::Value> = (config["backends"].as_array().unwrap().iter())
                .enumerate()
                .map(|(i, b)| {
                    serde_json::json!({
                        "id": b["id"],
                        "url": format!("http://127.0.0.1:{}", 9001 + i),
                        "weight": b.get("weight").cloned().unwrap_or(1.into()),
                        "draining": draining.contains(&b["id"]),
                    })
                })
                .collect();
            let origins = serde_json::to_string(&origins).unwrap();
            let keys = format!(r#"[{{"id":"k1","secret":{}}}]"#, config["secret"]);
            let mut gw = gateway(&[
                ("ORIGINS", &origins),
                ("SESSION_KEYS", &keys),
                ("AFFINITY_MODE", mode),
                ("AFFINITY_HEADER", "x-tenant"),
            ]);
            let (header, list) = match mode {
                "header" => ("x-tenant", &v["headers"]),
                "ip" => ("cf-connecting-ip", &v["clientIps"]),
                _ => ("cookie", &v["cookies"]),
            };
            let now = v["now"].as_u64().unwrap();
            // Origins down: as the shared health snapshot says.
            if let Some(down) = v.get("down") {
                let snapshot = crate::gateway::health::Snapshot {
                    checked_at: now,
                    origins: (down.as_array().unwrap().iter())
                        .map(|id| {
                            let probe = crate::gateway::health::Probe::answered(503, 1);
                            (id.as_str().unwrap().to_owned(), probe)
                        })
                        .collect(),
                };
                gw.health_mut().set_shared(Some(snapshot), now);
            }
            let got: String = (list.as_array().unwrap().iter())
                .map(|x| {
                    let headers = h(&[(header, x.as_str().unwrap())]);
                    proxy(gw.start(&get(&headers), now, &Entropy::default())).origin
                })
                .collect();
            assert_eq!(got, v["expected"].as_str().unwrap(), "{name}");
            checked += 1;
        }
        assert_eq!(checked, 4);
    }

    /// A change of `SESSION_FORMAT` spreads: each version meets the other's session tokens.
    /// They are not sessions here (anonymous, `invalid`), but are not cleared either: a user
    /// who logged in at one version was logged out at the first request that reached the
    /// other, for as long as the deploy took (and logged in again, and out again).
    #[test]
    fn a_token_of_another_session_format_is_not_cleared() {
        for from in ["compact", "sealed", "jwt"] {
            for to in ["compact", "sealed", "jwt"]
                .into_iter()
                .filter(|f| *f != from)
            {
                let jar = login_jar(&mut gateway(&[("SESSION_FORMAT", from)]), "alice", NOW);
                let mut gw = gateway(&[("SESSION_FORMAT", to)]);
                let b =
                    proxy(gw.start(&get(&h(&[("cookie", &jar)])), NOW + 5, &Entropy::default()));
                assert_eq!(
                    headers::get(&b.headers, "x-session-status"),
                    Some("invalid")
                );
                let out = gw.finish(&b, &[], NOW + 5, &Entropy::default()).unwrap();
                let removal = gw.config().session_cookie.removal().unwrap();
                assert!(
                    !set_cookies(&out.headers).contains(&removal.as_str()),
                    "{from} -> {to}"
                );
                // Another keyring's token of that format is cleared as before.
                let foreign = login_jar(
                    &mut gateway(&[
                        ("SESSION_FORMAT", from),
                        (
                            "SESSION_KEYS",
                            r#"[{"id":"k1","secret":"SfhAnFl93aAhVcKSls8UT1MsaQTKIrpFmNy9IV24JXc"}]"#,
                        ),
                    ]),
                    "alice",
                    NOW,
                );
                let b = proxy(gw.start(
                    &get(&h(&[("cookie", &foreign)])),
                    NOW + 5,
                    &Entropy::default(),
                ));
                let out = gw.finish(&b, &[], NOW + 5, &Entropy::default()).unwrap();
                assert!(
                    set_cookies(&out.headers).contains(&removal.as_str()),
                    "{from} -> {to}"
                );
            }
        }
    }

    /// `SESSION_JWT_ISSUER` and `SESSION_JWT_AUDIENCE` set on a live site (or unset): while
    /// the deploy spreads, the session JWTs the other version signs, without them (or with),
    /// are no sessions at the version that requires them, but are not cleared either.
    #[test]
    fn a_session_jwt_of_another_binding_is_not_cleared() {
        let bound = [
            ("SESSION_FORMAT", "jwt"),
            ("SESSION_JWT_ISSUER", "https://app.example"),
            ("SESSION_JWT_AUDIENCE", "https://app.example"),
        ];
        let jar = login_jar(&mut gateway(&[("SESSION_FORMAT", "jwt")]), "alice", NOW);
        let mut gw = gateway(&bound);
        let b = proxy(gw.start(&get(&h(&[("cookie", &jar)])), NOW + 5, &Entropy::default()));
        assert_eq!(
            headers::get(&b.headers, "x-session-status"),
            Some("invalid")
        );
        let out = gw.finish(&b, &[], NOW + 5, &Entropy::default()).unwrap();
        let removal = gw.config().session_cookie.removal().unwrap();
        assert!(!set_cookies(&out.headers).contains(&removal.as_str()));
        // The other way, the bound JWT is a session (the binding is not required there).
        let jar = login_jar(&mut gateway(&bound), "alice", NOW);
        let mut gw = gateway(&[("SESSION_FORMAT", "jwt")]);
        let b = proxy(gw.start(&get(&h(&[("cookie", &jar)])), NOW + 5, &Entropy::default()));
        assert_eq!(headers::get(&b.headers, "x-session-sub"), Some("alice"));
    }

    /// The public address (where the origin's own address in a redirect is moved to, and what
    /// URL mode rewrites links against) is the client's `scheme://host`, or none when the URL
    /// lacks either: never a half such as `https://` or `://app.example`.
    #[test]
    fn the_public_address_needs_a_scheme_and_a_host() {
        let mut gw = gateway(&[]);
        for (url, public) in [
            ("https://app.example/x", "https://app.example"),
            ("https:///x", ""),
            ("app.example/x", ""),
            ("/x", ""),
        ] {
            let a = proxy(gw.start(&page_load(url, &[]), NOW, &Entropy::default()));
            assert_eq!(a.public(), public, "{url}");
        }
    }

    /// Oversized headers are refused by the gateway, never passed to an origin (which would
    /// answer by closing its connection, and the runtime may then fail the next visitor's
    /// request on it).
    #[test]
    fn oversized_request_headers_get_a_431_here() {
        let mut gw = gateway(&[("MAX_REQUEST_HEADER_BYTES", "2048")]);
        // The URL counts too (Node counts the request line in its limit).
        let url = get(&[]).url.len();
        let fits = h(&[("cookie", &"a".repeat(2048 - 10 - url))]);
        assert!(matches!(
            gw.start(&get(&fits), NOW, &Entropy::default()),
            Step::Proxy(_)
        ));
        for headers in [
            h(&[("cookie", &"a".repeat(2048 - 9 - url))]),
            (0..200)
                .map(|i| (format!("x-h{i}"), "v".repeat(8)))
                .collect(),
        ] {
            let Step::Respond(page) = gw.start(&get(&headers), NOW, &Entropy::default()) else {
                panic!("oversized headers reached an origin");
            };
            assert_eq!(page.status, 431);
        }
        assert_eq!(gateway(&[]).config().max_request_header_bytes, 16_384);
    }

    /// A few large cookies that are not the gateway's, set for the site by a sibling subdomain
    /// (or a page of the site over plain http, a script: a "cookie bomb"), made every request
    /// of the visitor a 431 that only clearing the site's cookies by hand ended. The 431 of a
    /// request they put over the limit has the browser clear them (`Clear-Site-Data:
    /// "cookies"`), the session ended with them. Not when the URL is what is long (any site can
    /// link to one) or the cookies are what a visitor usually has: the 431 stays, and nothing
    /// is cleared.
    #[test]
    fn a_cookie_bomb_gets_a_431_that_clears_the_cookies() {
        let mut gw = gateway(&[]);
        let jar = login_jar(&mut gw, "alice", NOW);
        let clears = |page: &Page| {
            assert_eq!(page.status, 431);
            let clears = headers::get(&page.headers, "clear-site-data") == Some("\"cookies\"");
            assert_eq!(
                clears,
                page.body.contains("asked to clear"),
                "{}",
                page.body
            );
            clears
        };
        let bomb: Vec<String> = (0..5)
            .map(|i| format!("b{i}={}", "x".repeat(3990)))
            .collect();
        let long_url = format!("https://app.example/x?q={}", "q".repeat(16_400));
        let small = format!("{jar}; theme=dark; {}", "a=1; ".repeat(20));
        let mid_url = format!("https://app.example/x?q={}", "q".repeat(4_500));
        for (url, cookie, cleared) in [
            (
                "https://app.example/x",
                format!("{jar}; {}", bomb.join("; ")),
                true,
            ),
            (
                "https://app.example/x",
                format!("{}; {jar}", bomb.join("; ")),
                true,
            ),
            // A long link followed with the usual cookies: the URL is what is long.
            (long_url.as_str(), small.clone(), false),
            // A long link with 12 KB of cookies: without them it is still over.
            (
                long_url.as_str(),
                format!("{jar}; {}", bomb[..3].join("; ")),
                false,
            ),
            // A visitor with more than half the limit in cookies of its own, which fit with
            // any link of up to 2 KB, sent a longer one by another site: no site may clear a
            // visitor's cookies with a link.
            (
                mid_url.as_str(),
                format!("{jar}; {}", bomb[..3].join("; ")),
                false,
            ),
        ] {
            let headers = h(&[("cookie", &cookie)]);
            let req = Request {
                url,
                ..get(&headers)
            };
            let Step::Respond(page) = gw.start(&req, NOW + 5, &Entropy::default()) else {
                panic!("{} bytes reached an origin", cookie.len() + url.len());
            };
            assert_eq!(clears(&page), cleared, "{} bytes of cookies", cookie.len());
        }
        // Nor with a long Referer (`referrerpolicy="unsafe-url"` on another site's link).
        let referred = h(&[
            ("cookie", &format!("{jar}; {}", bomb[..3].join("; "))),
            ("referer", &mid_url),
        ]);
        let Step::Respond(page) = gw.start(&get(&referred), NOW + 5, &Entropy::default()) else {
            panic!("reached an origin")
        };
        assert!(!clears(&page));
        // A bomb under the name of a gateway cookie that a sibling can set too (DBSC's key
        // cookie, `__Secure-`) counts as one.
        let mut dbsc = gateway(&[("DBSC", "on")]);
        let jar = login_jar(&mut dbsc, "alice", NOW);
        let tossed: Vec<String> = (0..5)
            .map(|_| format!("__Secure-session-key={}", "k".repeat(3990)))
            .collect();
        let headers = h(&[("cookie", &format!("{jar}; {}", tossed.join("; ")))]);
        let Step::Respond(page) = dbsc.start(&get(&headers), NOW + 5, &Entropy::default()) else {
            panic!("reached an origin")
        };
        assert!(clears(&page));
        // Headers of another kind: a 431 that clears nothing.
        let padded: Vec<(String, String)> = (0..5)
            .map(|i| (format!("x-pad{i}"), "p".repeat(3990)))
            .chain([("cookie".into(), small)])
            .collect();
        let Step::Respond(page) = gw.start(&get(&padded), NOW + 5, &Entropy::default()) else {
            panic!("reached an origin")
        };
        assert!(!clears(&page));
    }

    /// A login is taken only when its session leaves the browser its room under
    /// `MAX_REQUEST_HEADER_BYTES`, else refused (502). A login taken, the visitor's next
    /// request, its own headers 512 bytes short of that room (half of it when the room is
    /// smaller: for the gateway's other cookies and `x-forwarded-*`), with the stored data at
    /// their limit and the assertion as the glue adds them, gets no 431. Before, logins of large
    /// claims under a smaller limit were taken, and then every request of their visitor, the
    /// logout too, was a 431 until the session ended.
    #[test]
    fn a_login_never_locks_its_visitor_out() {
        let eddsa = ("ORIGIN_ASSERTION", "EdDSA");
        for (vars, small) in [
            (&[("MAX_REQUEST_HEADER_BYTES", "4096")][..], true),
            (&[("MAX_REQUEST_HEADER_BYTES", "8192"), eddsa], true),
            (
                &[
                    ("MAX_REQUEST_HEADER_BYTES", "8192"),
                    eddsa,
                    ("STORE", "kv"),
                    ("STORE_MAX_DATA_BYTES", "4096"),
                ],
                true,
            ),
            (&[("MAX_REQUEST_HEADER_BYTES", "1024")], true),
            (&[eddsa, ("STORE", "durable"), ("DBSC", "on")], false),
            (&[("ORIGIN_ASSERTION", "ES256")], false),
        ] {
            let mut gw = gateway(vars);
            let max = gw.config().max_request_header_bytes;
            let room = BROWSER_ROOM_BYTES.min(max / 2);
            let own = room - 512.min(room / 2);
            let (mut taken, mut crowded) = (0, 0);
            for pad in (0..=3000).step_by(50) {
                let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
                let issue = format!(r#"{{"sub":"alice","pad":"{}"}}"#, "x".repeat(pad));
                let answer = h(&[("x-session-issue", &issue)]);
                let out = match gw.finish(&a, &answer, NOW, &Entropy::default()) {
                    Ok(out) => out,
                    Err(page) => {
                        assert_eq!(page.status, 502);
                        crowded += usize::from(page.body.contains("MAX_REQUEST_HEADER_BYTES"));
                        continue;
                    }
                };
                taken += 1;
                let jar: Vec<&str> = set_cookies(&out.headers)
                    .into_iter()
                    .map(cookie_pair)
                    .collect();
                let url = "https://app.example/logout";
                let mut headers = h(&[("cookie", &jar.join("; "))]);
                let filler = own - url.len() - "x-app".len() - 4;
                headers.push(("x-app".into(), "y".repeat(filler)));
                let logout = Request {
                    url,
                    headers: &headers,
                    ..get(&[])
                };
                let mut next = proxy(gw.start(&logout, NOW + 5, &Entropy::default()));
                assert_eq!(next.subject().map(|s| s.0), Some("alice"));
                if let Some(store) = &gw.config().store {
                    let data = "d".repeat(store.sessions.max_data_bytes);
                    next.headers
                        .extend(h(&[(headers::STORE, "ok"), (headers::DATA, &data)]));
                }
                if let Some(claims) = assertion::claims(gw.config(), &next) {
                    let key = &gw.config().assertion.as_ref().unwrap().keys[0];
                    let token = claims.signing_input(key, NOW + 5, 300).finish(&[0; 64]);
                    assertion::set(&mut next, token);
                }
                assert_eq!(
                    gw.oversized(&next, &logout, NOW + 5),
                    None,
                    "{vars:?}, claims padded by {pad}"
                );
            }
            assert!(taken > 0, "{vars:?}");
            // Where the limit is small, large claims are refused for it; at the default limit
            // only the cookie's own limit refuses them.
            assert_eq!(crowded > 0, small, "{vars:?}");
        }
    }

    /// A session that a login would refuse now (made before that check, or before the limit was
    /// lowered or the assertion turned on) ends at its first 431: the 431 removes its cookies,
    /// and the visitor's next request is served, logged out. Before, each of its requests was a
    /// 431 until the session ended, the logout too. A session that leaves its room is kept at a
    /// 431: a long URL, which any site can link to, logs nobody out.
    #[test]
    fn a_session_that_crowds_its_visitor_ends_at_its_431() {
        let login = |gw: &mut Gateway, pad: usize| {
            let a = proxy(gw.start(&get(&[]), NOW, &Entropy::default()));
            let issue = format!(r#"{{"sub":"alice","pad":"{}"}}"#, "x".repeat(pad));
            let answer = h(&[("x-session-issue", &issue)]);
            let out = gw.finish(&a, &answer, NOW, &Entropy::default()).unwrap();
            let jar: Vec<&str> = set_cookies(&out.headers)
                .into_iter()
                .map(cookie_pair)
                .collect();
            jar.join("; ")
        };
        let removal = gateway(&[]).config().session_cookie.removal().unwrap();
        let ends = |page: &Page| {
            assert_eq!(page.status, 431);
            let ends = set_cookies(&page.headers).contains(&removal.as_str());
            assert_eq!(ends, page.body.contains("log in again"), "{}", page.body);
            ends
        };
        let long_url = format!("https://app.example/x?q={}", "q".repeat(4096));

        // Made under the default limit, then MAX_REQUEST_HEADER_BYTES lowered to 4096: the
        // browser's request, with 600 bytes of its own headers, is over it.
        let (big, small) = (
            login(&mut gateway(&[]), 2600),
            login(&mut gateway(&[]), 100),
        );
        let mut tight = gateway(&[("MAX_REQUEST_HEADER_BYTES", "4096")]);
        for (cookie, crowds) in [(&big, true), (&small, false)] {
            let headers = h(&[("cookie", cookie), ("user-agent", &"u".repeat(600))]);
            match tight.start(&get(&headers), NOW + 5, &Entropy::default()) {
                Step::Respond(page) => assert!(crowds && ends(&page)),
                Step::Proxy(a) => {
                    assert!(!crowds);
                    assert_eq!(a.subject().map(|s| s.0), Some("alice"));
                }
                other => panic!("{other:?}"),
            }
            let long = Request {
                url: &long_url,
                ..get(&headers)
            };
            let Step::Respond(page) = tight.start(&long, NOW + 5, &Entropy::default()) else {
                panic!("a long URL reached an origin");
            };
            assert_eq!(
                ends(&page),
                crowds,
                "a long URL ends only a session that crowds"
            );
        }

        // Made without the assertion, then ORIGIN_ASSERTION turned on: the request is over the
        // limit on its way to the origin, with the assertion of the session's claims.
        let vars = [("MAX_REQUEST_HEADER_BYTES", "8192")];
        let (big, small) = (
            login(&mut gateway(&vars), 2600),
            login(&mut gateway(&vars), 100),
        );
        let mut signed = gateway(&[vars[0], ("ORIGIN_ASSERTION", "EdDSA")]);
        for (cookie, crowds) in [(&big, true), (&small, false)] {
            let headers = h(&[("cookie", cookie), ("x-app", &"y".repeat(3000))]);
            let req = get(&headers);
            let mut a = proxy(signed.start(&req, NOW + 5, &Entropy::default()));
            let mut over = a.clone();
            over.headers.push(("x-pad".into(), "p".repeat(8192)));
            if let Some(claims) = assertion::claims(signed.config(), &a) {
                let key = &signed.config().assertion.as_ref().unwrap().keys[0];
                let token = claims.signing_input(key, NOW + 5, 300).finish(&[0; 64]);
                assertion::set(&mut a, token);
            }
            let page = signed.oversized(&over, &req, NOW + 5).expect("a 431");
            assert_eq!(ends(&page), crowds, "over the limit: {}", cookie.len());
            assert_eq!(signed.oversized(&a, &req, NOW + 5).is_some(), crowds);
        }
        // A session the gateway cannot read is not ended by a 431 (a key this version does
        // not know yet, while a deploy spreads; see `start`).
        let mut other = gateway(&[
            ("MAX_REQUEST_HEADER_BYTES", "4096"),
            (
                "SESSION_KEYS",
                r#"[{"id":"k2","secret":"CwGxjkqgX34888wM9poN5x7lf7gx8iDaa9VgGHSXOOQ"}]"#,
            ),
        ]);
        let headers = h(&[("cookie", &big), ("user-agent", &"u".repeat(600))]);
        let Step::Respond(page) = other.start(&get(&headers), NOW + 5, &Entropy::default()) else {
            panic!("reached an origin");
        };
        assert!(!ends(&page));
    }

    /// The origin gets the client's headers less the gateway's cookies, plus the gateway's own
    /// (`x-forwarded-*`, the identity, with a store the session data, with `ORIGIN_ASSERTION`
    /// the assertion): a request at `MAX_REQUEST_HEADER_BYTES` as the client sent it reached an
    /// origin over it, which refused it and closed its connection (workerd then failed the next
    /// visitor's request on it). The limit holds for what the origin would get too.
    #[test]
    fn headers_over_the_limit_once_forwarded_get_a_431_here() {
        let mut gw = gateway(&[("MAX_REQUEST_HEADER_BYTES", "2048")]);
        let url = get(&[]).url.len();
        let at_limit = h(&[("cookie", &"a".repeat(2048 - 10 - url))]);
        let a = proxy(gw.start(&get(&at_limit), NOW, &Entropy::default()));
        assert_eq!(
            gw.oversized(&a, &get(&at_limit), NOW).map(|p| p.status),
            Some(431)
        );
        let room = h(&[("cookie", &"a".repeat(2048 - 10 - url - 200))]);
        let mut a = proxy(gw.start(&get(&room), NOW, &Entropy::default()));
        assert_eq!(gw.oversized(&a, &get(&room), NOW), None);
        // Exactly at the limit (each header its name, value and 4 bytes, as the client's are
        // counted, and the origin's URL) the request goes; one byte over, it does not.
        // The glue's `x-session-hop` counts too.
        let used: usize = a.url.len()
            + a.headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>()
            + HOP_HEADER_BYTES;
        let mut padded = |bytes: usize| {
            let mut full = proxy(gw.start(&get(&room), NOW, &Entropy::default()));
            full.headers
                .push(("x-pad".into(), "p".repeat(bytes - "x-pad".len() - 4)));
            gw.oversized(&full, &get(&room), NOW).map(|p| p.status)
        };
        assert_eq!(padded(2048 - used), None);
        assert_eq!(padded(2048 - used + 1), Some(431));
        // Session data (or an assertion) added before the request goes counts too.
        a.headers.push(("x-session-data".into(), "x".repeat(200)));
        assert_eq!(
            gw.oversized(&a, &get(&room), NOW).map(|p| p.status),
            Some(431)
        );
        // The gateway's cookies never reach the origin: they count only as the client sent them
        // (here 187 bytes, more than the room this request leaves for the identity).
        let jar = login_jar(&mut gw, "alice", NOW);
        let pad = 2048 - 10 - url - jar.len() - 2 - 100 - HOP_HEADER_BYTES;
        let headers = h(&[("cookie", &format!("{jar}; {}", "p".repeat(pad)))]);
        let a = proxy(gw.start(&get(&headers), NOW, &Entropy::default()));
        assert!(a
            .headers
            .contains(&("x-session-sub".into(), "alice".into())));
        assert_eq!(gw.oversized(&a, &get(&headers), NOW), None);
    }

    /// The runtime can neither build nor send a GET or HEAD with a body: a 400 here, not the 500
    /// of a failed origin request. Other methods take a body.
    #[test]
    fn a_get_or_head_with_a_body_is_a_400() {
        let mut gw = gateway(&[]);
        for (method, has_body, status) in [
            ("GET", true, Some(400)),
            ("HEAD", true, Some(400)),
            ("GET", false, None),
            ("DELETE", true, None),
            ("OPTIONS", true, None),
        ] {
            let req = sent(method, has_body);
            let got = match gw.start(&req, NOW, &Entropy::default()) {
                Step::Respond(page) => Some(page.status),
                _ => None,
            };
            assert_eq!(got, status, "{method} {has_body}");
        }
    }

    /// A WebSocket opens with a GET (RFC 6455). The runtime's fetch opens one for a request of
    /// any method that asks for it, as a GET, and its 101 then answers no HEAD or DELETE (the
    /// runtime's 500): another method goes as itself, without the upgrade, which a server may
    /// always decline. A 101 to a request that asked no upgrade brings no socket: a 502 (the
    /// runtime's 500 before), as is any status outside 200 to 599.
    #[test]
    fn only_a_get_asks_the_origin_for_a_websocket() {
        let mut gw = gateway(&[]);
        let ws = h(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        for method in ["GET", "HEAD", "OPTIONS", "DELETE", "PUT", "POST", "PATCH"] {
            let req = Request { method, ..get(&ws) };
            let attempt = proxy(gw.start(&req, NOW, &Entropy::default()));
            let upgrade = headers::get(&attempt.headers, "upgrade");
            assert_eq!(
                upgrade,
                (method == "GET").then_some("websocket"),
                "{method}"
            );
            let refused = attempt.refused_status(101).map(|p| p.status);
            assert_eq!(refused, (method != "GET").then_some(502), "{method}");
        }
        let plain = proxy(gw.start(&get(&h(&[])), NOW, &Entropy::default()));
        let page = plain.refused_status(101).expect("refused");
        let why = "a status outside 200 to 599, or a 101 to no WebSocket's upgrade";
        assert!(page.body.contains(why), "{}", page.body);
        for status in [0, 100, 103, 199, 600, 999, u16::MAX] {
            assert_eq!(plain.refused_status(status).map(|p| p.status), Some(502));
        }
        assert!((200..600).all(|s| plain.refused_status(s).is_none()));
    }

    /// TRACE (and Microsoft's TRACK) would have the origin echo the request, the client's
    /// cookies and the gateway's `x-session-*` identity headers, back to a page's script
    /// (cross-site tracing): a 405 here, whatever the path and the session, and no origin
    /// asked. So is CONNECT, which the gateway cannot tunnel. Methods compare without case.
    #[test]
    fn trace_track_and_connect_are_refused_here() {
        let mut gw = gateway(&[("DBSC", "on")]);
        let jar = h(&[("cookie", &login_jar(&mut gw, "alice", NOW))]);
        assert_eq!(
            headers::get(
                &proxy(gw.start(&get(&jar), NOW + 5, &Entropy::default())).headers,
                "x-session-sub"
            ),
            Some("alice")
        );
        for method in ["TRACE", "TRACK", "trace", "Track", "CONNECT", "connect"] {
            for path in ["/", "/__edge/health", "/__edge/dbsc/refresh", "/x?y=1"] {
                let url = format!("https://app.example{path}");
                let req = Request {
                    method,
                    url: &url,
                    headers: &jar,
                    has_body: false,
                };
                let Step::Respond(page) = gw.start(&req, NOW + 5, &Entropy::default()) else {
                    panic!("{method} {path} went on");
                };
                assert_eq!(page.status, 405, "{method} {path}");
                let allow = headers::get(&page.headers, "allow").unwrap();
                assert!(!allow.contains("TRACE") && allow.contains("GET"), "{allow}");
                assert!(!page.headers.iter().any(|(n, _)| n == "set-cookie"));
            }
        }
        // Every other method is the origin's to answer.
        for method in ["GET", "OPTIONS", "PATCH", "PROPFIND", "TRACES", "TRAC"] {
            let req = Request {
                method,
                url: "https://app.example/x",
                headers: &jar,
                has_body: false,
            };
            proxy(gw.start(&req, NOW + 5, &Entropy::default()));
        }
    }

    /// The origin gets the identity in `x-session-*`, never the gateway's own cookies (session,
    /// affinity, session id, DBSC's bound and key cookies: bearer tokens it does not need);
    /// the site's other cookies reach it as they came, in order.
    #[test]
    fn the_gateways_cookies_stay_at_the_gateway() {
        let mut gw = gateway(&[("STORE", "kv"), ("DBSC", "on")]);
        let login = login_jar(&mut gw, "alice", NOW);
        let issued: Vec<&str> = login.split("; ").collect();
        // The session and affinity cookies (the store's glue sets the session id's).
        assert_eq!(issued.len(), 2, "{issued:?}");
        let names = gw.config().gateway_cookies();
        assert_eq!(
            names,
            [
                "__Host-session",
                "__Host-affinity",
                "__Host-sid",
                "__Host-session-bound",
                "__Secure-session-key"
            ]
        );
        let jar = format!(
            "theme=dark; {}; lang=en; __Host-sid=s; __Host-session-bound=b; __Secure-session-key=k; q=\"1, 2\"",
            issued.join("; ")
        );
        let b = proxy(gw.start(&get(&h(&[("cookie", &jar)])), NOW + 5, &Entropy::default()));
        assert_eq!(headers::get(&b.headers, "x-session-sub"), Some("alice"));
        assert_eq!(
            headers::get(&b.headers, "cookie"),
            Some("theme=dark; lang=en; q=\"1, 2\"")
        );
        // Nothing but the gateway's: no Cookie header at all.
        let only = issued.join("; ");
        let c = proxy(gw.start(&get(&h(&[("cookie", &only)])), NOW + 5, &Entropy::default()));
        assert_eq!(headers::get(&c.headers, "x-session-sub"), Some("alice"));
        assert!(
            !c.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("cookie")),
            "{:?}",
            c.headers
        );
    }

    /// workerd joins several `Cookie` headers with `, `. The gateway's cookie that ends one
    /// header is read as it is, not with the next header's first cookie in its value (the
    /// session was invalid and cleared: a logout; the affinity value a new visitor). One that
    /// begins after the `, ` is not read: a browser sends the same bytes for a cookie whose
    /// value a sibling subdomain set to `1, __Host-session=<its own token>`. Neither reaches
    /// the origin.
    #[test]
    fn cookie_headers_the_runtime_joined() {
        let mut gw = gateway(&[]);
        let login = login_jar(&mut gw, "alice", NOW);
        let find = |jar: &str, name: &str| {
            jar.split("; ")
                .find(|p| p.starts_with(name))
                .unwrap()
                .to_owned()
        };
        let (session, affinity) = (
            find(&login, "__Host-session="),
            find(&login, "__Host-affinity="),
        );
        let start = |gw: &mut Gateway, cookie: &str| {
            proxy(gw.start(
                &get(&h(&[("cookie", cookie)])),
                NOW + 5,
                &Entropy::default(),
            ))
        };
        let home = start(&mut gw, &login);
        for (joined, forwarded) in [
            (format!("a=1; {affinity}; {session}, c=3"), "a=1; c=3"),
            (format!("a=1; {session}; {affinity}, c=3"), "a=1; c=3"),
            (format!("{affinity} , c=3; {session}\t, d=4"), "c=3; d=4"),
        ] {
            let b = start(&mut gw, &joined);
            assert_eq!(headers::get(&b.headers, "x-session-sub"), Some("alice"));
            assert_eq!(b.session_cookie, None, "not cleared: {joined}");
            assert_eq!(
                (b.origin.as_str(), b.affinity_cookie.as_deref()),
                (home.origin.as_str(), None)
            );
            assert_eq!(headers::get(&b.headers, "cookie"), Some(forwarded));
        }
        // Another user's valid session after a `, `: not read, whatever comes before or after.
        let mallory = find(&login_jar(&mut gw, "mallory", NOW), "__Host-session=");
        for (jar, sub) in [
            (format!("x=1, {mallory}"), None),
            (format!("x=1, {mallory}; {session}"), Some("alice")),
            (format!("{session}; x=1, {mallory}"), Some("alice")),
            (format!("{session}, {mallory}"), Some("alice")),
        ] {
            let b = start(&mut gw, &jar);
            assert_eq!(headers::get(&b.headers, "x-session-sub"), sub, "{jar}");
            assert_eq!(b.session_cookie, None, "{jar}");
            assert!(!headers::get(&b.headers, "cookie")
                .unwrap_or_default()
                .contains("__Host-"));
        }
    }

    /// The gateway's cookies are those of the settings in force. The names of features that
    /// are off belong to the origins, both ways: this library's `SessionStore` and `Affinity`
    /// name their cookies `__Host-sid` and `__Host-affinity` by default, and an origin built
    /// with them behind a gateway with `STORE` off, or not in cookie mode, keeps its cookies.
    #[test]
    fn names_of_features_that_are_off_are_the_origins() {
        let own = "__Host-sid=own; __Host-session-bound=b; __Host-affinity=a; theme=dark";
        for (vars, forwarded) in [
            (
                &[][..],
                "__Host-sid=own; __Host-session-bound=b; theme=dark",
            ),
            (&[("AFFINITY_MODE", "ip")][..], own),
        ] {
            let mut gw = gateway(vars);
            let a = proxy(gw.start(&get(&h(&[("cookie", own)])), NOW, &Entropy::default()));
            assert_eq!(
                headers::get(&a.headers, "cookie"),
                Some(forwarded),
                "{vars:?}"
            );
            let origin = h(&[
                ("set-cookie", "__Host-sid=new; Path=/; Secure; HttpOnly"),
                (
                    "set-cookie",
                    "__Host-session-bound=new; Path=/; Secure; HttpOnly",
                ),
                ("set-cookie", "__Host-session=forged; Path=/"),
            ]);
            let out = gw.finish(&a, &origin, NOW, &Entropy::default()).unwrap();
            let passed: Vec<&str> = set_cookies(&out.headers)
                .into_iter()
                .filter(|c| !c.starts_with("__Host-affinity="))
                .collect();
            assert_eq!(
                passed,
                [
                    "__Host-sid=new; Path=/; Secure; HttpOnly",
                    "__Host-session-bound=new; Path=/; Secure; HttpOnly"
                ],
                "{vars:?}"
            );
        }
    }

    #[test]
    fn operator_endpoint_needs_the_token() {
        let mut gw = gateway(&[]);
        let req = Request {
            method: "GET",
            url: "http://h/__edge/health",
            headers: &[],
            has_body: false,
        };
        assert!(matches!(
            gw.start(&req, NOW, &Entropy::default()),
            Step::Respond(Page { status: 404, .. })
        ));
        let mut gw = gateway(&[("OPERATOR_TOKEN", "0123456789abcdef")]);
        assert!(matches!(
            gw.start(&req, NOW, &Entropy::default()),
            Step::Respond(Page { status: 401, .. })
        ));
        let auth = h(&[("authorization", "Bearer 0123456789abcdef")]);
        let req = Request {
            headers: &auth,
            ..req
        };
        assert_eq!(
            gw.start(&req, NOW, &Entropy::default()),
            Step::Operator(Endpoint::Health)
        );
    }

    /// The operator's token never reaches an origin: a request presenting it on a path that is
    /// no operator endpoint's spelling (a monitor's base URL with a trailing slash, another
    /// case, escapes) is answered 404, never forwarded; alone or among several Authorization
    /// values. Another token, or none, is forwarded as it came.
    #[test]
    fn the_operator_token_is_never_forwarded() {
        let mut gw = gateway(&[("OPERATOR_TOKEN", "0123456789abcdef")]);
        let forwarded = |gw: &mut Gateway, url: &str, auth: &[(&str, &str)]| {
            let headers = h(auth);
            let req = Request {
                method: "GET",
                url,
                headers: &headers,
                has_body: false,
            };
            match gw.start(&req, NOW, &Entropy::default()) {
                Step::Proxy(_) => true,
                Step::Respond(Page { status: 404, .. }) => false,
                other => panic!("{url}: {other:?}"),
            }
        };
        for url in [
            "http://h//__edge/health",
            "http://h/__EDGE/health",
            "http://h/%5F%5Fedge/health",
            "http://h/__edge%2Fhealth",
            "http://h/app",
        ] {
            for auth in [
                "Bearer 0123456789abcdef",
                "bearer  0123456789abcdef ",
                "Bearer\t0123456789abcdef",
                "Basic dTpw, Bearer 0123456789abcdef",
            ] {
                assert!(
                    !forwarded(&mut gw, url, &[("authorization", auth)]),
                    "{url} {auth}"
                );
            }
            for auth in [
                "Bearer 0123456789abcdeF",
                "Bearer 0123456789abcdef0",
                "Basic dTpw",
            ] {
                assert!(
                    forwarded(&mut gw, url, &[("authorization", auth)]),
                    "{url} {auth}"
                );
            }
            assert!(forwarded(&mut gw, url, &[]), "{url}");
        }
        // Without OPERATOR_TOKEN, nothing is held back.
        let mut gw = gateway(&[]);
        let auth = [("authorization", "Bearer 0123456789abcdef")];
        assert!(forwarded(&mut gw, "http://h//__edge/health", &auth));
    }

    /// In the hashing modes too, a visitor whose origin is down or draining is sent elsewhere
    /// with `x-session-reassigned: 1` (its in-memory state is not there); at home, without it.
    /// A request without a key has no home: never marked.
    #[test]
    fn hashing_modes_tell_the_origin_of_a_visitor_moved_off_its_origin() {
        for (mode, header) in [("header", "x-tenant"), ("ip", "cf-connecting-ip")] {
            let mut gw = gateway(&[
                ("AFFINITY_MODE", mode),
                ("AFFINITY_HEADER", "x-tenant"),
                ("HEALTH_DOWN_SECONDS", "10"),
            ]);
            let reassigned = |a: &Attempt| {
                a.headers
                    .contains(&("x-session-reassigned".into(), "1".into()))
            };
            let headers = h(&[(header, "192.0.2.7")]);
            let home = proxy(gw.start(&get(&headers), NOW, &Entropy::default()));
            assert!(!reassigned(&home), "{mode}");
            // A connection failure: the retry goes elsewhere, and says so.
            let Retry::Next(retried) = gw.retry(&get(&headers), &home, NOW, &Entropy::default())
            else {
                panic!("a GET is retried")
            };
            assert_ne!(retried.origin, home.origin);
            assert!(reassigned(&retried), "{mode}: retry");
            // Other visitors' origins, every origin up.
            let others: Vec<(Vec<(String, String)>, String)> = (1..40)
                .map(|i| h(&[(header, &format!("198.51.100.{i}"))]))
                .map(|headers| {
                    let at = proxy(gw.start(&get(&headers), NOW, &Entropy::default()));
                    (headers, at.origin)
                })
                .filter(|(_, origin)| *origin != home.origin)
                .collect();
            assert!(!others.is_empty(), "{mode}");
            // Its origin marked down: the next requests go elsewhere, and say so.
            gw.health_mut().mark_down(&home.origin, NOW);
            let moved = proxy(gw.start(&get(&headers), NOW + 1, &Entropy::default()));
            assert_ne!(moved.origin, home.origin);
            assert!(reassigned(&moved), "{mode}: down");
            // Visitors of the origins still up stay, and are told nothing.
            for (headers, origin) in &others {
                let at = proxy(gw.start(&get(headers), NOW + 1, &Entropy::default()));
                assert_eq!(&at.origin, origin, "{mode}");
                assert!(!reassigned(&at), "{mode}: {origin} is up");
            }
            for visitor in 0..20 {
                let keyless = proxy(gw.start(
                    &get(&[]),
                    NOW + 1,
                    &Entropy {
                        visitor,
                        ..Entropy::default()
                    },
                ));
                assert!(!reassigned(&keyless), "{mode}: no key");
            }
            // Back up: home again, nothing to say.
            let back = proxy(gw.start(&get(&headers), NOW + 60, &Entropy::default()));
            assert_eq!(back.origin, home.origin);
            assert!(!reassigned(&back), "{mode}: back");
            // Its origin draining (which hands its keys on at once in these modes): moved.
            let origins = origins_draining(&[home.origin.as_str()]);
            let mut drained = gateway(&[
                ("AFFINITY_MODE", mode),
                ("AFFINITY_HEADER", "x-tenant"),
                ("ORIGINS", &origins),
            ]);
            let moved = proxy(drained.start(&get(&headers), NOW, &Entropy::default()));
            assert_ne!(moved.origin, home.origin);
            assert!(reassigned(&moved), "{mode}: draining");
            for (headers, origin) in &others {
                let at = proxy(drained.start(&get(headers), NOW, &Entropy::default()));
                assert_eq!(&at.origin, origin, "{mode}");
                assert!(!reassigned(&at), "{mode}: {origin} is not draining");
            }
        }
    }

    #[test]
    fn header_mode_routes_by_the_header() {
        let mut gw = gateway(&[("AFFINITY_MODE", "header"), ("AFFINITY_HEADER", "x-tenant")]);
        let headers = h(&[("x-tenant", "t-42")]);
        let a = proxy(gw.start(
            &get(&headers),
            NOW,
            &Entropy {
                visitor: 1,
                sid: [0; 16],
                ..Entropy::default()
            },
        ))
        .origin;
        for v in 2..20 {
            assert_eq!(
                proxy(gw.start(
                    &get(&headers),
                    NOW,
                    &Entropy {
                        visitor: v,
                        sid: [0; 16],
                        ..Entropy::default()
                    }
                ))
                .origin,
                a
            );
        }
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn gateway() -> Gateway {
        gateway_in("cookie")
    }

    fn gateway_in(mode: &str) -> Gateway {
        let config = GatewayConfig::from_vars(|n| match n {
            "AFFINITY_MODE" => Some(mode.into()),
            "ORIGINS" => Some(
                r#"[{"id":"a","url":"http://127.0.0.1:1"},{"id":"b","url":"http://127.0.0.1:2"}]"#
                    .into(),
            ),
            "SESSION_KEYS" => Some(
                r#"[{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#.into(),
            ),
            "OPERATOR_TOKEN" => Some("0123456789abcdef".into()),
            _ => None,
        })
        .unwrap();
        Gateway::new(config).unwrap()
    }

    proptest! {
        /// A `Refresh` value's parts, when it has a URL, put back together are the value.
        #[test]
        fn refresh_url_splits_without_losing_anything(
            value in "[ \t0-9.;,uUrRlL=\"'/a-z?#&\\\\:]{0,24}|\\PC{0,24}"
        ) {
            if let Some((head, url, tail)) = refresh_url(&value) {
                prop_assert_eq!(format!("{head}{url}{tail}"), value);
            }
        }

        /// Whatever a client sends, the pipeline answers without panicking and never lets a
        /// client's `x-session-*` header through.
        #[test]
        fn untrusted_requests_never_panic(
            method in "[A-Z]{0,8}",
            url in any::<String>(),
            cookie in any::<String>(),
            name in "[A-Za-z_-]{1,24}",
            value in any::<String>(),
            now in any::<u64>(),
            has_body in any::<bool>(),
        ) {
            let mut gw = gateway();
            let headers = vec![
                ("cookie".to_owned(), cookie),
                ("X_Session-Sub".to_owned(), value.clone()),
                (name, value),
            ];
            let req = Request { method: &method, url: &url, headers: &headers, has_body };
            let entropy = Entropy::default();
            if let Step::Proxy(a) = gw.start(&req, now, &entropy) {
                // Random cookies never make a session, and no reserved header of the client's
                // passes: the reserved ones are the gateway's own.
                let own = ["x-session-status", "x-session-reassigned", "x-forwarded-host", "x-forwarded-proto"];
                let reserved: Vec<_> = a.headers.iter().filter(|(n, _)| headers::is_reserved(n, false)).collect();
                prop_assert!(reserved.iter().all(|(n, _)| own.contains(&n.as_str())), "{reserved:?}");
                for n in own {
                    prop_assert!(reserved.iter().filter(|(r, _)| r == n).count() <= 1, "{n} twice");
                }
                prop_assert!(matches!(headers::get(&a.headers, "x-session-status"), Some("none" | "invalid")));
                let _ = gw.retry(&req, &a, now, &entropy);
                let _ = gw.finish(&a, &headers, now, &entropy);
            }
        }

        /// URL mode: whatever the URL and the `Referer`, the origin never gets the parameter
        /// under any spelling, and the pipeline never panics.
        #[test]
        fn url_mode_never_passes_the_parameter_on(
            path in "[a-z/%_.?&=#+5Fes]{0,40}",
            referer in any::<String>(),
            accept in "(text/html|\\*/\\*|)",
            has_body in any::<bool>(),
        ) {
            let mut gw = gateway_in("url");
            let url = format!("https://app.example/{path}");
            let headers = vec![("referer".to_owned(), referer), ("accept".to_owned(), accept)];
            let req = Request { method: "GET", url: &url, headers: &headers, has_body };
            let entropy = Entropy::default();
            match gw.start(&req, 1_800_000_000, &entropy) {
                Step::Proxy(a) => {
                    let sent = std::iter::once(a.url.as_str())
                        .chain(headers::get(&a.headers, "referer"));
                    for text in sent {
                        let query = text.split('#').next().unwrap_or("").split_once('?').map_or("", |q| q.1);
                        for pair in query.split('&') {
                            let name = pair.split('=').next().unwrap_or(pair).replace("%5F", "_").replace("%5f", "_");
                            prop_assert_ne!(name.as_str(), "_es", "{}", text);
                        }
                    }
                    let (param, value) = a.affinity_param().unwrap_or(("_es", ""));
                    prop_assert_eq!(param, "_es");
                    prop_assert!(!value.is_empty());
                    let _ = gw.finish(&a, &[("location".to_owned(), url.clone())], 1_800_000_000, &entropy);
                }
                // A GET with a body is the gateway's 400 (a_get_or_head_with_a_body_is_a_400), as
                // is a dot segment (a_request_path_never_leaves_the_origins_base_path).
                Step::Respond(page) => {
                    let (_, _, target) = headers::split_url(&url);
                    let dots = headers::has_dot_segment(target.split('?').next().unwrap_or_default());
                    prop_assert!(
                        (redirectable(&req) && page.status == 302)
                            || ((has_body || dots) && page.status == 400)
                    )
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }

        /// Whatever an origin answers, finishing never panics and no `x-session-*` header
        /// reaches the client.
        #[test]
        fn untrusted_origin_headers_never_panic(issue in any::<String>(), name in "[A-Za-z-]{1,24}", value in any::<String>()) {
            let mut gw = gateway();
            let Step::Proxy(a) = gw.start(&Request { method: "GET", url: "http://h/", headers: &[], has_body: false }, 1_800_000_000, &Entropy::default()) else {
                return Err(TestCaseError::fail("no attempt"));
            };
            let origin = vec![
                ("x-session-issue".to_owned(), issue),
                ("location".to_owned(), value.clone()),
                (name, value),
            ];
            if let Ok(out) = gw.finish(&a, &origin, 1_800_000_000, &Entropy::default()) {
                prop_assert!(!out.headers.iter().any(|(n, _)| headers::is_reserved(n, false)));
            }
        }
    }
}
