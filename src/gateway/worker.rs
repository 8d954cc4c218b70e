//! The workers-rs glue (feature `gateway`): reads the environment, moves requests and responses
//! between the client, the [`Gateway`] and the origins, and runs the cron probes. Decisions are
//! made in the pure modules; this file only does I/O.
//!
//! Per worker instance it keeps one [`Gateway`] (built on the first request; a configuration
//! error is logged once, naming the setting, and answered with a generic 500 page). No `RefCell` borrow is
//! ever held across an `.await`, so concurrent requests in one instance cannot collide.

use std::cell::RefCell;
use std::rc::Rc;

use worker::js_sys::{self, Promise};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, ReadableStream};
use worker::{
    console_error, console_log, console_warn, event, Context, Env, ScheduleContext, ScheduledEvent,
};

use super::config::{ConfigError, GatewayConfig, StoreKind, StoreSettings};
use super::headers;
use super::health::{Probe, Snapshot, KV_KEY};
use super::operator::{self, Endpoint};
use super::pages::Page;
use super::pipeline::{Attempt, Entropy, Gateway, Request, Retry, Step};
use super::store::{self, Loaded};
use crate::keys::KeyRing;
use crate::store::durable::DurableStore;
use crate::store::kv::KvStore;
use crate::store::{AnyStore, Sessions};
use crate::time::UnixTime;

/// The KV namespace binding that holds the shared health snapshot.
pub const KV_BINDING: &str = "EDGE_HEALTH";

/// The KV namespace binding of the session store (`STORE = "kv"`).
pub const STORE_KV_BINDING: &str = "SESSIONS";

/// The Durable Object namespace binding of the session store (`STORE = "durable"`), of class
/// [`EdgeSessionObject`](super::durable::EdgeSessionObject).
pub const STORE_DO_BINDING: &str = "SESSION_OBJECTS";

type Shared = Rc<RefCell<Gateway>>;

/// The session store of this instance, when `STORE` is on.
type Store = Rc<(Sessions<AnyStore>, StoreSettings)>;

thread_local! {
    static STATE: RefCell<Option<Result<Shared, ConfigError>>> = const { RefCell::new(None) };
    static STORE: RefCell<Option<Option<Store>>> = const { RefCell::new(None) };
}

/// This instance's session store, built on first use (`None` when `STORE` is `none`). A missing
/// binding is logged once; every store operation then fails with `store_unavailable`, and
/// requests are served without session data.
fn session_store(gw: &Shared, env: &Env) -> Option<Store> {
    STORE.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if let Some(store) = slot.as_ref() {
            return store.clone();
        }
        let built = with(gw, |g| {
            let settings = g.config().store.clone()?;
            let ring = KeyRing::from_config(&g.config().tokens().keys).ok()?;
            let (name, make): (&str, fn(JsValue, u32) -> AnyStore) = match settings.kind {
                StoreKind::Kv => (STORE_KV_BINDING, |b, t| {
                    AnyStore::Kv(KvStore::new(b).with_timeout(t))
                }),
                StoreKind::Durable => (STORE_DO_BINDING, |b, t| {
                    AnyStore::Durable(DurableStore::new(b).with_timeout(t))
                }),
            };
            let binding =
                js_sys::Reflect::get(env, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
            if binding.is_undefined() {
                console_error!(
                    "edge-session gateway: STORE needs the binding {name} (see wrangler.toml); \
                     serving without session data"
                );
            }
            let store = make(binding, settings.timeout_ms);
            match Sessions::new(store, &ring, settings.sessions.clone()) {
                Ok(sessions) => Some(Rc::new((sessions, settings))),
                Err(e) => {
                    console_error!("edge-session gateway: session store: {e}");
                    None
                }
            }
        })
        .flatten();
        *slot = Some(built.clone());
        built
    })
}

/// This instance's gateway, built on first use.
fn gateway(env: &Env) -> Result<Shared, ConfigError> {
    STATE.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return Err(ConfigError {
                setting: "(runtime)",
                message: "gateway state is busy".into(),
            });
        };
        if let Some(state) = slot.as_ref() {
            return state.clone();
        }
        let built = GatewayConfig::from_vars(|name| env_text(env, name))
            .and_then(Gateway::new)
            .map(|g| Rc::new(RefCell::new(g)));
        if let Err(e) = &built {
            console_error!("edge-session gateway: invalid configuration: {e}");
        }
        *slot = Some(built.clone());
        built
    })
}

/// Runs `f` on the gateway, or `None` if it is borrowed (a bug, but never a panic).
fn with<R>(gw: &Shared, f: impl FnOnce(&mut Gateway) -> R) -> Option<R> {
    gw.try_borrow_mut().ok().map(|mut g| f(&mut g))
}

/// A setting's text: strings as they are, other values (TOML tables, numbers) as JSON.
fn env_text(env: &Env, name: &str) -> Option<String> {
    let v = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    if v.is_undefined() || v.is_null() {
        return None;
    }
    v.as_string()
        .or_else(|| js_sys::JSON::stringify(&v).ok().and_then(|s| s.as_string()))
}

fn now() -> UnixTime {
    (js_sys::Date::now() / 1000.0) as UnixTime
}

fn entropy() -> Option<Entropy> {
    let mut bytes = [0u8; 40];
    getrandom::fill(&mut bytes).ok()?;
    let (visitor, rest) = bytes.split_at(8);
    let (sid, nonce) = rest.split_at(16);
    Some(Entropy {
        visitor: u64::from_le_bytes(visitor.try_into().ok()?),
        sid: sid.try_into().ok()?,
        nonce: nonce.try_into().ok()?,
    })
}

fn header_pairs(headers: &web_sys::Headers) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(Some(iter)) = js_sys::try_iter(headers) else {
        return out;
    };
    for entry in iter.flatten() {
        let pair: js_sys::Array = entry.unchecked_into();
        if let (Some(n), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
            out.push((n, v));
        }
    }
    out
}

fn js_headers(pairs: &[(String, String)]) -> Result<web_sys::Headers, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (n, v) in pairs {
        headers.append(n, v)?;
    }
    Ok(headers)
}

fn error_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

fn page(p: &Page) -> worker::Result<web_sys::Response> {
    let init = web_sys::ResponseInit::new();
    init.set_status(p.status);
    let headers = js_headers(&p.headers)?;
    init.set_headers(&headers);
    Ok(web_sys::Response::new_with_opt_str_and_init(
        Some(&p.body),
        &init,
    )?)
}

fn cancel(response: &web_sys::Response) {
    if let Some(body) = response.body() {
        let _ = body.cancel();
    }
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    let gw = match gateway(&env) {
        Ok(gw) => gw,
        Err(_) => return page(&Page::config_error()),
    };
    let Some(entropy) = entropy() else {
        console_error!("edge-session gateway: no randomness available");
        return page(&Page::internal());
    };
    let now = now();
    refresh_shared_in_background(&gw, &env, &ctx, now);

    let headers = header_pairs(&req.headers());
    let (method, url, body) = (req.method(), req.url(), req.body());
    let request = Request {
        method: &method,
        url: &url,
        headers: &headers,
        has_body: body.is_some(),
    };
    let Some(step) = with(&gw, |g| g.start(&request, now, &entropy)) else {
        return page(&Page::internal());
    };
    let store = session_store(&gw, &env);
    let mut attempt = match step {
        Step::Respond(p) => return page(&p),
        Step::Operator(Endpoint::Health) => return operator_health(&gw, &env, now).await,
        Step::Operator(Endpoint::RevokeSubject) => return operator_revoke(store, &req).await,
        Step::Operator(Endpoint::StoreConformance) => {
            return operator_conformance(store, now).await
        }
        Step::Proxy(attempt) => attempt,
    };
    // With `STORE` on, two reads at once: the subject's revocation time (a session token issued
    // before it is refused; when the store cannot say, the request goes on with
    // `x-session-revocation: unchecked`), and the stored session, which goes to the origin with
    // the request (a failing store is reported to the origin, `x-session-store: unavailable`).
    let mut loaded = None;
    if let Some(st) = &store {
        let (sessions, settings) = &**st;
        let subject = attempt.subject().map(|(s, at)| (s.to_owned(), at));
        let revocation = async {
            match &subject {
                Some((sub, _)) => Some(sessions.min_issued_at(sub).await),
                None => None,
            }
        };
        let cookie = headers::get(&headers, "cookie");
        let load = store::load(sessions, cookie, settings.cookie.name(), now);
        let (revocation, l) = futures_util::future::join(revocation, load).await;
        let l = l.bind(sessions, subject.as_ref().map(|(s, _)| s.as_str()), now);
        if let Some(answer) = revocation {
            if let Some(e) = with(&gw, |g| g.check_revocation(&mut attempt, answer)).flatten() {
                console_warn!("edge-session gateway: revocation check: {e}");
            }
        }
        if let Err(e) = &l.session {
            console_warn!("edge-session gateway: session store: {e}; serving without session data");
        }
        attempt.headers.extend(l.origin_headers());
        loaded = Some(l);
    }
    let mut body = body;
    loop {
        let outgoing = match build(&attempt, &method, body.take()) {
            Ok(outgoing) => outgoing,
            Err(e) => {
                // Not the origin's fault: do not mark it down.
                console_error!(
                    "edge-session gateway: building the origin request failed: {}",
                    error_text(&e)
                );
                return page(&Page::internal());
            }
        };
        let why = match send(&outgoing).await {
            // An answer of any status is the origin's: passed on, never a mark against it.
            Ok(response) => {
                with(&gw, |g| g.answered(&attempt));
                return finish(&gw, &attempt, response, now, &entropy, store, loaded).await;
            }
            Err(e) => error_text(&e),
        };
        let was_up = with(&gw, |g| g.health().is_up(&attempt.origin, now));
        let Some(next) = with(&gw, |g| g.retry(&request, &attempt, now, &entropy)) else {
            return page(&Page::internal());
        };
        // One line per origin going down, not one per failed request.
        if was_up == Some(true)
            && with(&gw, |g| g.health().is_up(&attempt.origin, now)) == Some(false)
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

/// The request for one attempt, streaming the client's body (if any) through.
fn build(
    attempt: &Attempt,
    method: &str,
    body: Option<ReadableStream>,
) -> Result<web_sys::Request, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = js_headers(&attempt.headers)?;
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if let Some(body) = &body {
        init.set_body(body);
    }
    web_sys::Request::new_with_str_and_init(&attempt.url, &init)
}

/// Sends a request to its origin; an error means no answer (refused, reset, DNS...).
async fn send(request: &web_sys::Request) -> Result<web_sys::Response, JsValue> {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    JsFuture::from(global.fetch_with_request(request))
        .await?
        .dyn_into()
}

/// The origin's response, streamed back with the gateway's headers, after the stored session
/// (if any) took the origin's changes.
async fn finish(
    gw: &Shared,
    attempt: &Attempt,
    response: web_sys::Response,
    now: UnixTime,
    entropy: &Entropy,
    store: Option<Store>,
    loaded: Option<Loaded>,
) -> worker::Result<web_sys::Response> {
    let origin_headers = header_pairs(&response.headers());
    let result = with(gw, |g| g.finish(attempt, &origin_headers, now, entropy));
    let mut headers = match result {
        Some(Ok(headers)) => headers,
        Some(Err(p)) => {
            console_warn!(
                "edge-session gateway: origin {:?}: {}",
                attempt.origin,
                p.body.trim()
            );
            cancel(&response);
            return page(&p);
        }
        None => return page(&Page::internal()),
    };
    if let (Some(st), Some(loaded)) = (store, loaded) {
        let (sessions, settings) = &*st;
        let plan = with(gw, |g| g.store_plan(&origin_headers))
            .flatten()
            .unwrap_or_default();
        let out = store::finish(sessions, settings, loaded, &plan, now).await;
        if let Some(why) = out.refused {
            console_warn!("edge-session gateway: origin {:?}: {why}", attempt.origin);
            cancel(&response);
            return page(&Page::bad_origin_answer(&why));
        }
        if let Some(warning) = out.warning {
            console_warn!("edge-session gateway: session store: {warning}");
        }
        headers::add_cookies(&mut headers, out.set_cookie);
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(response.status());
    init.set_status_text(&response.status_text());
    let headers = js_headers(&headers)?;
    init.set_headers(&headers);
    if response.status() == 101 {
        // The origin accepted a WebSocket: hand its end to the client (`webSocket` is the
        // Workers extension of `ResponseInit`); the runtime joins the two.
        let socket = js_sys::Reflect::get(&response, &JsValue::from_str("webSocket"))?;
        js_sys::Reflect::set(&init, &JsValue::from_str("webSocket"), &socket)?;
        return Ok(web_sys::Response::new_with_opt_str_and_init(None, &init)?);
    }
    Ok(web_sys::Response::new_with_opt_readable_stream_and_init(
        response.body().as_ref(),
        &init,
    )?)
}

/// Reads the shared health snapshot from KV.
async fn read_shared(env: &Env) -> Option<Option<Snapshot>> {
    let kv = env.kv(KV_BINDING).ok()?;
    match kv.get(KV_KEY).text().await {
        Ok(text) => Some(text.as_deref().and_then(Snapshot::parse)),
        Err(e) => {
            console_warn!("edge-session gateway: reading shared health from KV failed: {e}");
            None
        }
    }
}

/// Re-reads the shared snapshot after the request, when it is due.
fn refresh_shared_in_background(gw: &Shared, env: &Env, ctx: &Context, now: UnixTime) {
    if with(gw, |g| g.health_mut().take_shared_refresh(now)) != Some(true) {
        return;
    }
    let (gw, env) = (gw.clone(), env.clone());
    ctx.wait_until(async move {
        if let Some(snapshot) = read_shared(&env).await {
            with(&gw, |g| g.health_mut().set_shared(snapshot, now));
        }
    });
}

async fn operator_health(
    gw: &Shared,
    env: &Env,
    now: UnixTime,
) -> worker::Result<web_sys::Response> {
    if let Some(snapshot) = read_shared(env).await {
        with(gw, |g| g.health_mut().set_shared(snapshot, now));
    }
    let report = with(gw, |g| g.health().report(&g.config().origins, now));
    match report {
        Some(mut report) => {
            let kv_binding = env.kv(KV_BINDING).is_ok().into();
            let store = match with(gw, |g| g.config().store.as_ref().map(|s| s.kind)) {
                Some(Some(kind)) => {
                    let (name, label) = match kind {
                        StoreKind::Kv => (STORE_KV_BINDING, "kv"),
                        StoreKind::Durable => (STORE_DO_BINDING, "durable"),
                    };
                    let bound = js_sys::Reflect::get(env, &JsValue::from_str(name))
                        .is_ok_and(|b| b.is_object());
                    serde_json::json!({ "kind": label, "binding": bound })
                }
                _ => serde_json::json!({ "kind": "none" }),
            };
            // Always an object (`Health::report`).
            if let Some(fields) = report.as_object_mut() {
                fields.insert("kvBinding".into(), kv_binding);
                fields.insert("store".into(), store);
            }
            page(&Page::json(200, &report))
        }
        None => page(&Page::internal()),
    }
}

/// `POST /__edge/sessions/revoke` with `{"sub":"alice"}`: ends every session of a user begun
/// before now (tokens and stored sessions).
async fn operator_revoke(
    store: Option<Store>,
    req: &web_sys::Request,
) -> worker::Result<web_sys::Response> {
    let Some(st) = store else {
        return page(&Page::json(
            404,
            &serde_json::json!({ "error": "STORE is none: no stored sessions" }),
        ));
    };
    let text = match req.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    };
    let sub = match operator::revoke_subject(text.as_deref()) {
        Ok(sub) => sub,
        Err(p) => return page(&p),
    };
    let (sessions, settings) = &*st;
    let now = now();
    match store::revoke(sessions, &sub, settings.revocation_keep_seconds, now).await {
        Ok(n) => page(&Page::json(
            200,
            &serde_json::json!({ "revoked": n, "minIssuedAt": now }),
        )),
        Err(e) => page(&Page::json(
            503,
            &serde_json::json!({ "error": e.to_string(), "code": e.code() }),
        )),
    }
}

/// `GET /__edge/store/conformance` (`STORE_TESTS=1`): the store conformance suite against the
/// configured store, as JSON.
async fn operator_conformance(
    store: Option<Store>,
    now: UnixTime,
) -> worker::Result<web_sys::Response> {
    match store {
        Some(st) if st.1.tests => {
            let report = crate::store::conformance::run(st.0.store(), now).await;
            let status = if report.ok() { 200 } else { 500 };
            page(&Page::json(
                status,
                &serde_json::to_value(&report).unwrap_or_default(),
            ))
        }
        _ => page(&Page::not_found()),
    }
}

/// The cron trigger: probes every origin's health path at once and records the results in KV,
/// where every instance at every location reads them.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let Ok(gw) = gateway(&env) else { return };
    let Some((targets, timeout)) = with(&gw, |g| {
        let c = g.config();
        let targets: Vec<(String, String)> = c
            .origins
            .iter()
            .map(|o| (o.id.clone(), format!("{}{}", o.url, c.health_path)))
            .collect();
        (targets, c.probe_timeout_ms)
    }) else {
        return;
    };
    let started = js_sys::Date::now();
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    // All probes start before any is awaited: they run concurrently.
    let pending: Vec<(String, Promise)> = targets
        .into_iter()
        .map(|(id, url)| {
            let init = web_sys::RequestInit::new();
            init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(
                timeout as u32,
            )));
            init.set_redirect(web_sys::RequestRedirect::Manual);
            (id, global.fetch_with_str_and_init(&url, &init))
        })
        .collect();
    let mut snapshot = Snapshot {
        checked_at: now(),
        ..Snapshot::default()
    };
    for (id, promise) in pending {
        let result = JsFuture::from(promise).await;
        let ms = (js_sys::Date::now() - started).max(0.0) as u64;
        let probe = match result.and_then(|r| r.dyn_into::<web_sys::Response>()) {
            Ok(response) => {
                cancel(&response);
                Probe::answered(response.status(), ms)
            }
            Err(e) => Probe::failed(&error_text(&e), ms),
        };
        snapshot.origins.insert(id, probe);
    }
    let down: Vec<&str> = snapshot
        .origins
        .iter()
        .filter(|(_, p)| !p.healthy)
        .map(|(id, _)| id.as_str())
        .collect();
    console_log!(
        "edge-session gateway: probed {} origins, down: {:?}",
        snapshot.origins.len(),
        down
    );
    match env.kv(KV_BINDING) {
        Ok(kv) => {
            let stored = read_shared(&env).await.flatten();
            let max_age = with(&gw, |g| g.config().health_max_age).unwrap_or(0);
            if snapshot.worth_writing(stored.as_ref(), max_age) {
                let put = kv.put(KV_KEY, snapshot.to_json());
                if let Err(e) = match put {
                    Ok(put) => put.execute().await,
                    Err(e) => Err(e),
                } {
                    console_error!("edge-session gateway: writing shared health to KV failed: {e}");
                }
            }
        }
        Err(_) => console_warn!(
            "edge-session gateway: no KV binding {KV_BINDING}; health results stay in this instance"
        ),
    }
    with(&gw, |g| g.health_mut().set_shared(Some(snapshot), now()));
}
