//! A proxied request: the stored session read alongside the revocation check, the tries at the
//! origins (another one when the first gives no answer), and the answer sent back, after the
//! stored session took the origin's changes.

use worker::{console_error, console_warn, web_sys};

use super::assertion;
use super::http::{self, page};
use super::rewrite;
use super::{with, Shared, Store};
use crate::gateway::headers;
use crate::gateway::pages::Page;
use crate::gateway::pipeline::{self, Attempt, Entropy, Request, Retry};
use crate::gateway::store::{self, Loaded};
use crate::time::UnixTime;

/// Sends the request to origins, starting with `attempt`, and answers the client.
pub(super) async fn run(
    gw: &Shared,
    request: &Request<'_>,
    mut attempt: Attempt,
    body: Option<web_sys::ReadableStream>,
    now: UnixTime,
    entropy: &Entropy,
    store: Option<Store>,
) -> worker::Result<web_sys::Response> {
    let loaded = match &store {
        Some(st) => Some(load(gw, st, request, &mut attempt, now).await),
        None => None,
    };
    let mut body = body;
    loop {
        if let Err(e) = assertion::add(gw, &mut attempt, now).await {
            console_error!("edge-session gateway: signing the origin assertion failed: {e}");
            return page(&Page::internal());
        }
        let outgoing = match http::build(&attempt, request.method, body.take()) {
            Ok(outgoing) => outgoing,
            Err(e) => {
                // Not the origin's fault: do not mark it down.
                console_error!(
                    "edge-session gateway: building the origin request failed: {}",
                    http::error_text(&e)
                );
                return page(&Page::internal());
            }
        };
        let why = match http::send(&outgoing).await {
            // An answer of any status is the origin's: passed on, never a mark against it.
            Ok(response) => {
                with(gw, |g| g.answered(&attempt));
                return finish(gw, request, &attempt, response, now, entropy, store, loaded).await;
            }
            Err(e) => http::error_text(&e),
        };
        let was_up = with(gw, |g| g.health().is_up(&attempt.origin, now));
        let Some(next) = with(gw, |g| g.retry(request, &attempt, now, entropy)) else {
            return page(&Page::internal());
        };
        // One line per origin going down, not one per failed request.
        if was_up == Some(true)
            && with(gw, |g| g.health().is_up(&attempt.origin, now)) == Some(false)
        {
            console_warn!(
                "edge-session gateway: origin {:?} unreachable ({why}); marked down",
                attempt.origin
            );
        }
        match next {
            Retry::Next(next) => attempt = next,
            Retry::Respond(p) => return page(&p),
        }
    }
}

/// With `STORE` on, two reads at once: the subject's revocation time (a session token issued
/// before it is refused; when the store cannot say, the request goes on with
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
    let subject = attempt.subject().map(|(s, at)| (s.to_owned(), at));
    let revocation = async {
        match &subject {
            Some((sub, _)) => Some(sessions.min_issued_at(sub).await),
            None => None,
        }
    };
    let cookie = headers::get(request.headers, "cookie");
    let load = store::load(sessions, cookie, settings.cookie.name(), now);
    let (revocation, l) = futures_util::future::join(revocation, load).await;
    let l = l.bind(sessions, subject.as_ref().map(|(s, _)| s.as_str()), now);
    if let Some(answer) = revocation {
        if let Some(e) = with(gw, |g| g.check_revocation(attempt, answer)).flatten() {
            console_warn!("edge-session gateway: revocation check: {e}");
        }
    }
    if let Err(e) = &l.session {
        console_warn!("edge-session gateway: session store: {e}; serving without session data");
    }
    attempt.headers.extend(l.origin_headers());
    l
}

/// The origin's response, streamed back with the gateway's headers, after the stored session
/// (if any) took the origin's changes.
#[allow(clippy::too_many_arguments)]
async fn finish(
    gw: &Shared,
    request: &Request<'_>,
    attempt: &Attempt,
    response: web_sys::Response,
    now: UnixTime,
    entropy: &Entropy,
    store: Option<Store>,
    loaded: Option<Loaded>,
) -> worker::Result<web_sys::Response> {
    let origin_headers = http::header_pairs(&response.headers());
    let result = with(gw, |g| g.finish(attempt, &origin_headers, now, entropy));
    let (mut headers, plan) = match result {
        Some(Ok(answer)) => (answer.headers, answer.plan),
        Some(Err(p)) => {
            console_warn!(
                "edge-session gateway: origin {:?}: {}",
                attempt.origin,
                p.body.trim()
            );
            http::cancel(&response);
            return page(&p);
        }
        None => return page(&Page::internal()),
    };
    if let (Some(st), Some(loaded)) = (store, loaded) {
        let (sessions, settings) = &*st;
        let plan = plan.unwrap_or_default();
        let out = store::finish(sessions, settings, loaded, &plan, now).await;
        if let (Some(why), Some(p)) = (&out.refused, out.refused_page()) {
            console_warn!("edge-session gateway: origin {:?}: {why}", attempt.origin);
            http::cancel(&response);
            return page(&p);
        }
        if let Some(warning) = out.warning {
            console_warn!("edge-session gateway: session store: {warning}");
        }
        headers::add_cookies(&mut headers, out.set_cookie);
    }
    let rewrite = pipeline::html_rewrite(attempt, request.method, response.status(), &headers);
    let Some((base, param, value)) = rewrite else {
        return http::respond(&response, &headers);
    };
    // URL mode: the page's same-site URLs carry the value; its length changes.
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-length"));
    let answer = http::respond(&response, &headers)?;
    match rewrite::html(&answer, &base, param, value) {
        Ok(rewritten) => Ok(rewritten),
        Err(e) => {
            console_error!(
                "edge-session gateway: rewriting an HTML answer failed: {}",
                http::error_text(&e)
            );
            http::cancel(&answer);
            page(&Page::internal())
        }
    }
}
