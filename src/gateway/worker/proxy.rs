//! A proxied request: the stored session read alongside the revocation check, the tries at the
//! origins (another one when the first gives no answer), and the answer sent back, after the
//! stored session took the origin's changes.

use std::cell::Cell;
use std::thread::LocalKey;

use futures_util::future::join;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::web_sys;
use worker::worker_sys::Context;

use super::assertion;
use super::http::{self, page};
use super::rewrite;
use super::{later, reply, with, Answer, Shared, Store};
use crate::error::Quoted;
use crate::gateway::headers;
use crate::gateway::pages::Page;
use crate::gateway::pipeline::{self, Attempt, Entropy, Request, Retry};
use crate::gateway::store::{self, Loaded};
use crate::time::UnixTime;

/// A proxied request's own data, kept while its origin answers.
pub(super) struct Proxied {
    pub gw: Shared,
    pub method: String,
    pub url: String,
    /// The client's headers as the pipeline reads them...
    pub headers: Vec<(String, String)>,
    /// ...and as the platform holds them (the origin request's headers are a changed copy).
    pub client: web_sys::Headers,
    pub has_body: bool,
    pub now: UnixTime,
    pub entropy: Entropy,
    /// For work after the answer (`waitUntil`).
    pub ctx: Context,
}

impl Proxied {
    fn request(&self) -> Request<'_> {
        Request {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            has_body: self.has_body,
        }
    }
}

/// A request waiting for its origin on the fast path. It travels with the fetch's promise as a
/// JavaScript object, so the garbage collector frees it with the promise, also when the promise
/// never settles (the client gone, its request cancelled), as it freed the futures of `run`.
#[wasm_bindgen]
pub struct Waiting {
    proxied: Proxied,
    attempt: Attempt,
}

type Settled = Closure<dyn Fn(JsValue, JsValue) -> JsValue>;

thread_local! {
    /// Made once per instance and shared by every request (they hold nothing of one): the
    /// origin's answer or failure comes back through them, with the request's [`Waiting`].
    static DONE: Settled = Closure::new(done);
    static FAILED: Settled = Closure::new(failed);
    /// When this instance last logged a cookie signed with a key it does not hold.
    static UNKNOWN_KEY_LOGGED: Cell<Option<UnixTime>> = const { Cell::new(None) };
    /// When this instance last logged an origin's `Set-Cookie` of a gateway cookie.
    static DROPPED_COOKIE_LOGGED: Cell<Option<UnixTime>> = const { Cell::new(None) };
    /// When this instance last logged stored data withheld from an origin.
    static DATA_WITHHELD_LOGGED: Cell<Option<UnixTime>> = const { Cell::new(None) };
}

/// Whether a line last logged at `logged` may be logged again at `now` (at most one a minute
/// per instance), noting `now` if so.
fn minutely(logged: &'static LocalKey<Cell<Option<UnixTime>>>, now: UnixTime) -> bool {
    logged.with(|at| {
        let due = at.get().is_none_or(|t| now >= t.saturating_add(60));
        if due {
            at.set(Some(now));
        }
        due
    })
}

/// A line, at most one a minute per instance, when a visitor's session cookie (or session-id
/// cookie, `what`) was signed with a key id `SESSION_KEYS` does not hold: a key removed too
/// early logs its visitors out with no other trace at the gateway (the origin sees
/// `x-session-invalid: unknown_key`). Anyone can write such a cookie: hence the minute.
fn unknown_key(what: &str, now: UnixTime) {
    if minutely(&UNKNOWN_KEY_LOGGED, now) {
        log_warn!(
            "edge-session gateway: a {what} signed with a key id SESSION_KEYS does not hold: \
             a key removed too early (its visitors are logged out), or a newer deployment's \
             key while it spreads; at most one such line a minute"
        );
    }
}

/// The request `waiting` carries, taken out of its JavaScript object (`None` if it is not one,
/// or was taken already).
fn settle(waiting: JsValue) -> Option<(Proxied, Attempt)> {
    let w = Waiting::try_from_js_value(waiting).ok()?;
    Some((w.proxied, w.attempt))
}

/// Starts a proxied request: the response, or a promise of it. Without a store and an origin
/// assertion (the common case), nothing between the client and the origin is asynchronous but
/// the origin's fetch: no Rust future, one JavaScript promise; the answer is made when it
/// settles ([`done`]). Otherwise, and for a retry after a failure ([`failed`]), [`run`].
pub(super) fn start(
    p: Proxied,
    attempt: Attempt,
    body: Option<web_sys::ReadableStream>,
    store: Option<Store>,
) -> JsValue {
    if attempt.unknown_key() {
        unknown_key("session cookie", p.now);
    }
    let (no_assertion, ms) = with(&p.gw, |g| {
        let c = g.config();
        (c.assertion.is_none(), c.origin_timeout_ms.unwrap_or(0))
    })
    .unwrap_or_default();
    if store.is_some() || !no_assertion {
        return later(&p.ctx.clone().unchecked_into(), async move {
            run(&p, attempt, body, store).await
        });
    }
    if let Some(big) = with(&p.gw, |g| g.oversized(&attempt, &p.request(), p.now)).flatten() {
        return reply(page(&big));
    }
    let outgoing = match http::build(&attempt, &p.method, body, &p.client, &p.headers) {
        Ok(outgoing) => outgoing,
        Err(e) => return reply(not_built(&e)),
    };
    let whole = pipeline::whole_pages(&attempt, &p.method);
    let waiting = JsValue::from(Waiting {
        proxied: p,
        attempt,
    });
    DONE.with(|done| {
        FAILED.with(|failed| {
            http::send_and(
                &outgoing,
                whole,
                ms,
                &waiting,
                done.as_ref().unchecked_ref(),
                failed.as_ref().unchecked_ref(),
            )
            .into()
        })
    })
}

/// The origin of the `waiting` request answered: the answer for the client.
fn done(waiting: JsValue, response: JsValue) -> JsValue {
    let Some((p, attempt)) = settle(waiting) else {
        return reply(page(&Page::internal()));
    };
    let response: web_sys::Response = response.unchecked_into();
    with(&p.gw, |g| g.answered(&attempt));
    reply(finish_now(&p, &attempt, &response))
}

/// The origin of the `waiting` request gave no answer: another try (see [`run`]), or the
/// gateway's page.
fn failed(waiting: JsValue, error: JsValue) -> JsValue {
    let Some((p, attempt)) = settle(waiting) else {
        return reply(page(&Page::internal()));
    };
    match after_failure(&p, &attempt, &error) {
        Ok(next) => later(&p.ctx.clone().unchecked_into(), async move {
            run(&p, next, None, None).await
        }),
        Err(answer) => reply(answer),
    }
}

/// A request for the origin could not be made: not the origin's fault, not marked down.
fn not_built(e: &JsValue) -> Answer {
    log_error!(
        "edge-session gateway: building the origin request failed: {}",
        http::error_text(e)
    );
    page(&Page::internal())
}

/// Sends the request to origins, starting with `attempt`, and answers the client.
pub(super) async fn run(
    p: &Proxied,
    mut attempt: Attempt,
    body: Option<web_sys::ReadableStream>,
    store: Option<Store>,
) -> Answer {
    let (gw, request, now) = (&p.gw, p.request(), p.now);
    let loaded = match &store {
        Some(st) => Some(load(gw, st, &request, &mut attempt, now).await),
        None => None,
    };
    let mut body = body;
    loop {
        if let Err(e) = assertion::add(gw, &mut attempt, now).await {
            log_error!("edge-session gateway: signing the origin assertion failed: {e}");
            return page(&Page::internal());
        }
        // Over the limit with the gateway's headers (session data, assertion): never sent.
        if let Some(big) = with(gw, |g| g.oversized(&attempt, &request, now)).flatten() {
            return page(&big);
        }
        let outgoing =
            match http::build(&attempt, request.method, body.take(), &p.client, &p.headers) {
                Ok(outgoing) => outgoing,
                Err(e) => return not_built(&e),
            };
        let whole = pipeline::whole_pages(&attempt, request.method);
        let ms = with(gw, |g| g.config().origin_timeout_ms).flatten();
        let error = match http::send(&outgoing, whole, ms.unwrap_or(0)).await {
            // An answer of any status is the origin's: passed on, never a mark against it.
            Ok(response) => {
                with(gw, |g| g.answered(&attempt));
                return finish(p, &attempt, response, store, loaded).await;
            }
            Err(e) => e,
        };
        match after_failure(p, &attempt, &error) {
            Ok(next) => attempt = next,
            Err(answer) => return answer,
        }
    }
}

/// After `attempt` got no answer (`error`: no connection, or none in `ORIGIN_TIMEOUT_MS`): the
/// next try, or the answer for the client.
fn after_failure(p: &Proxied, attempt: &Attempt, error: &JsValue) -> Result<Attempt, Answer> {
    // The time of the failure, not of the request's start: a connection that took longer than
    // HEALTH_DOWN_SECONDS to fail (a timeout) would be marked down until a time already past.
    let (gw, request, now) = (&p.gw, p.request(), super::now());
    let late = http::timed_out(error);
    let was_up = with(gw, |g| g.health().is_up(&attempt.origin, now));
    let next = with(gw, |g| {
        if late {
            g.retry_timed_out(&request, attempt, now, &p.entropy)
        } else {
            g.retry(&request, attempt, now, &p.entropy)
        }
    });
    let Some(next) = next else {
        return Err(page(&Page::internal()));
    };
    // A line when the origin goes down (not one per request failed on its way there), and one
    // for each request that fails for good: the client's 504, 503 (the last origin tried) or
    // 502 (a request not to be sent twice) is in the log too. Not a failure of a request with a
    // body: its fetch also fails when the client aborts its upload, which is no origin's fault.
    let marked =
        was_up == Some(true) && with(gw, |g| g.health().is_up(&attempt.origin, now)) == Some(false);
    let answered = match &next {
        Retry::Respond(page) if page.status == 504 || !p.has_body => Some(page.status),
        _ => None,
    };
    let outcome = match (marked, answered) {
        (true, Some(status)) => format!("marked down; answered {status}"),
        (true, None) => "marked down".to_owned(),
        (false, Some(status)) => format!("answered {status}"),
        (false, None) => String::new(),
    };
    if !outcome.is_empty() {
        log_warn!(
            "edge-session gateway: origin {} {} ({}); {outcome}",
            Quoted(&attempt.origin),
            if late { "too slow" } else { "unreachable" },
            http::error_text(error),
        );
    }
    match next {
        Retry::Next(next) => Ok(next),
        Retry::Respond(p) => Err(page(&p)),
    }
}

/// With `STORE` on, reads at once: the subject's revocation time and whether a logout ended the
/// token's session (a session token issued before that time, or whose session ended, is
/// refused; when the store cannot say, the request goes on with
/// `x-session-revocation: unchecked`), and the stored session, which goes to the origin with
/// the request (a failing store is reported to the origin, `x-session-store: unavailable`).
async fn load(
    gw: &Shared,
    st: &Store,
    request: &Request<'_>,
    attempt: &mut Attempt,
    now: UnixTime,
) -> Loaded {
    let (sessions, settings) = &**st;
    let reads = store::revocation_reads(attempt);
    let revocation = async {
        let (subject, sid, at) = reads.as_ref()?;
        let revocation = async {
            match &subject {
                Some(sub) => sessions.revocation(sub).await,
                None => Ok(None),
            }
        };
        let ended = async {
            match sid {
                Some(sid) => sessions.token_ended_at(sid).await,
                None => Ok(None),
            }
        };
        let (revocation, ended) = join(revocation, ended).await;
        Some(store::revocation_answer(
            revocation,
            ended,
            *at,
            sid.as_deref(),
        ))
    };
    let cookie = headers::get(request.headers, "cookie");
    let load = store::load(sessions, cookie, settings.cookie.name(), now);
    let (revocation, l) = join(revocation, load).await;
    if let Some(answer) = revocation {
        if let Some(e) = with(gw, |g| g.check_revocation(attempt, answer)).flatten() {
            log_warn!("edge-session gateway: revocation check: {e}");
        }
    }
    // The stored session's owner is read after the revocation check: a revoked token's
    // subject owns nothing, not even a session its user began after the revocation.
    if l.unknown_key {
        unknown_key("session-id cookie (STORE_COOKIE)", now);
    }
    let mut l = l.bind_request(sessions, attempt, now);
    attempt
        .headers
        .extend(l.origin_headers(settings.most_data_bytes));
    if let Err(e) = &l.session {
        log_warn!("edge-session gateway: session store: {e}; serving without session data");
    }
    if l.data_withheld && minutely(&DATA_WITHHELD_LOGGED, now) {
        log_warn!(
            "edge-session gateway: a stored session's data is over {} bytes as x-session-data \
             carries it (half of MAX_REQUEST_HEADER_BYTES, at most 16384): withheld, \
             x-session-store: too_large (a JS SessionStore with a larger maxDataBytes on the \
             store, or MAX_REQUEST_HEADER_BYTES lowered); at most one such line a minute",
            settings.most_data_bytes
        );
    }
    l
}

/// The origin's response, streamed back with the gateway's headers, after the stored session
/// (if any) took the origin's changes.
async fn finish(
    p: &Proxied,
    attempt: &Attempt,
    response: web_sys::Response,
    store: Option<Store>,
    loaded: Option<Loaded>,
) -> Answer {
    let origin = http::header_pairs(&response.headers());
    let status = response.status();
    let now = super::now();
    let (mut headers, plan) = match answer(p, attempt, status, &origin, &response, now) {
        Ok(answer) => answer,
        Err(refused) => {
            let (mut refused, plan) = *refused;
            // Refused, the sessions it ends still end (see `Gateway::refused`).
            if let (Some(st), Some(loaded), Some(plan)) = (store, loaded, plan) {
                let (sessions, settings) = &*st;
                let out = store::finish(sessions, settings, loaded, &plan, now).await;
                if let Some(warning) = out.warning {
                    log_warn!("edge-session gateway: session store: {warning}");
                }
                headers::add_cookies(&mut refused.headers, out.set_cookie);
            }
            return page(&refused);
        }
    };
    if let (Some(st), Some(loaded)) = (store, loaded) {
        let (sessions, settings) = &*st;
        let plan = plan.unwrap_or_default();
        let out = store::finish(sessions, settings, loaded, &plan, now).await;
        if let (Some(why), Some(page_)) = (&out.refused, out.refused_page()) {
            log_warn!(
                "edge-session gateway: origin {}: {why}",
                Quoted(&attempt.origin)
            );
            http::cancel(&response);
            return page(&page_);
        }
        if let Some(warning) = out.warning {
            log_warn!("edge-session gateway: session store: {warning}");
        }
        if let Some(session) = out.retry {
            // Workers KV refused the change (one write per second per key): written again
            // after the answer, never delaying it.
            let st = st.clone();
            super::background(
                &p.ctx,
                Box::pin(async move {
                    let wait = |ms| async move {
                        let _ = crate::store::binding::sleep(f64::from(ms)).await;
                        super::now()
                    };
                    if let Err(e) = store::retry(&st.0, session, wait).await {
                        log_warn!(
                            "edge-session gateway: session store: a change KV refused (one write per second per key) was dropped: {e}"
                        );
                    }
                }),
            );
        }
        headers::add_cookies(&mut headers, out.set_cookie);
    }
    send_back(p, attempt, &response, status, &origin, headers)
}

/// [`finish`] without a store: nothing to wait for.
fn finish_now(p: &Proxied, attempt: &Attempt, response: &web_sys::Response) -> Answer {
    let origin = http::header_pairs(&response.headers());
    let status = response.status();
    match answer(p, attempt, status, &origin, response, super::now()) {
        Ok((headers, _)) => send_back(p, attempt, response, status, &origin, headers),
        Err(refused) => page(&refused.0),
    }
}

/// The pipeline's headers for the client and its plan for the stored session, or (boxed) the
/// page that replaces a refused answer (its body dropped) and the plan of the sessions it still
/// ends (see `Gateway::refused`). `status` and `origin` are the response's; `now` the time it
/// arrived, not the request's: an `x-session-revoke` ends the sessions begun while the origin
/// worked too (a login elsewhere during a password change), and a token the same answer issues
/// is dated the same second, the one session the revocation spares (by its `sid`).
#[allow(clippy::type_complexity)]
fn answer(
    p: &Proxied,
    attempt: &Attempt,
    status: u16,
    origin: &[(String, String)],
    response: &web_sys::Response,
    now: UnixTime,
) -> Result<(Vec<(String, String)>, Option<store::Plan>), Box<(Page, Option<store::Plan>)>> {
    let finished = match attempt.refused_status(status) {
        Some(refused) => Some(Err(refused)),
        None => with(&p.gw, |g| {
            g.finish_status(attempt, status, origin, now, &p.entropy)
        }),
    };
    match finished {
        Some(Ok(answer)) => {
            // An app that sets its own session under the gateway's cookie name, behind the
            // gateway: its logins are lost, and this is the one trace of why.
            if answer.dropped_cookie && minutely(&DROPPED_COOKIE_LOGGED, now) {
                log_warn!(
                    "edge-session gateway: origin {} set a cookie of one of the gateway's names \
                     (SESSION_COOKIE, AFFINITY_COOKIE, STORE_COOKIE, DBSC_COOKIE): taken out of \
                     its answer (a login is x-session-issue; an app's own cookie needs another \
                     name); at most one such line a minute",
                    Quoted(&attempt.origin)
                );
            }
            Ok((answer.headers, answer.plan))
        }
        Some(Err(mut refused)) => {
            log_warn!(
                "edge-session gateway: origin {}: {}",
                Quoted(&attempt.origin),
                refused.body.trim()
            );
            http::cancel(response);
            let plan = with(&p.gw, |g| g.refused(attempt, origin, &mut refused)).flatten();
            Err(Box::new((refused, plan)))
        }
        None => Err(Box::new((Page::internal(), None))),
    }
}

/// The origin's response (of `status`) with the gateway's `headers` (its own were `origin`),
/// its HTML rewritten in URL mode.
fn send_back(
    p: &Proxied,
    attempt: &Attempt,
    response: &web_sys::Response,
    status: u16,
    origin: &[(String, String)],
    headers: Vec<(String, String)>,
) -> Answer {
    let rewrite = pipeline::html_rewrite(attempt, &p.method, status, &headers);
    let Some((base, param, value)) = rewrite else {
        return http::respond(response, status, origin, &headers);
    };
    // URL mode: the page's same-site URLs carry the value (its length, digests and strong
    // `ETag` were taken out by `finish`).
    let answer = http::respond(response, status, origin, &headers)?;
    match rewrite::html(&answer, &base, param, value) {
        Ok(rewritten) => Ok(rewritten),
        Err(e) => {
            log_error!(
                "edge-session gateway: rewriting an HTML answer failed: {}",
                http::error_text(&e)
            );
            http::cancel(&answer);
            page(&Page::internal())
        }
    }
}
