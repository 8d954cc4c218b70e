//! The workers-rs glue (feature `gateway`): the two event handlers and the state of one worker
//! instance. Decisions are made in the pure modules; this glue only moves bytes.
//!
//! - `http`: web_sys requests, responses and headers to and from the pipeline's plain types.
//! - `proxy`: a request's trip to the origins and back, the stored session around it.
//! - `operator`: the I/O of the `/__edge/` endpoints.
//! - `assertion`: WebCrypto for `ORIGIN_ASSERTION`: the signed `x-session-assertion`, the JWKS.
//! - `dbsc`: the DBSC endpoints' I/O: WebCrypto verifies a proof, the store records its
//!   challenge once.
//! - `health`: the shared health snapshot in KV, read and refreshed, and the cron probes.
//!
//! Per worker instance it keeps one [`Gateway`] (built on the first request; a configuration
//! error is logged at each request, naming the setting, and answered with a generic 500 page)
//! and one session store. No `RefCell` borrow is ever held across an `.await`, so concurrent
//! requests in one instance cannot collide.

mod assertion;
mod dbsc;
mod health;
mod http;
mod operator;
mod proxy;
mod rewrite;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys;
use worker::js_sys::Promise;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::{future_to_promise, JsFuture};
use worker::web_sys;
use worker::worker_sys::Context;
use worker::{event, Env, ScheduleContext, ScheduledEvent};

use super::config::{ConfigError, GatewayConfig, StoreKind, StoreSettings};
use super::headers;
use super::operator::Endpoint;
use super::pages::Page;
use super::pipeline::{Entropy, Gateway, Request, Step};
use super::store;
use crate::error::Quoted;
use crate::keys::KeyRing;
use crate::store::durable::DurableStore;
use crate::store::kv::KvStore;
use crate::store::{AnyStore, Sessions};
use crate::time::UnixTime;

pub use super::health::KV_BINDING;
pub use super::store::{DO_BINDING as STORE_DO_BINDING, KV_BINDING as STORE_KV_BINDING};

type Shared = Rc<RefCell<Gateway>>;

/// What a handler answers: the response, or the JavaScript error that kept it from being made
/// (logged, then answered with the gateway's 500 page: see [`reply`]). A `JsValue`, not a
/// `worker::Error`: the conversion to it and its formatting are kilobytes of wasm.
type Answer = Result<web_sys::Response, JsValue>;

/// The session store of this instance, when `STORE` is on.
type Store = Rc<(Sessions<AnyStore>, StoreSettings)>;

thread_local! {
    static STATE: RefCell<Option<Result<Shared, ConfigError>>> = const { RefCell::new(None) };
    static STORE: RefCell<Option<Option<Store>>> = const { RefCell::new(None) };
}

/// This instance's session store, built on first use (`None` when `STORE` is `none`); its
/// binding is there ([`bound`]).
fn session_store(gw: &Shared, env: &Env) -> Option<Store> {
    STORE.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if let Some(store) = slot.as_ref() {
            return store.clone();
        }
        let built = with(gw, |g| {
            let settings = g.config().store.clone()?;
            let ring = KeyRing::from_config(&g.config().tokens().keys).ok()?;
            let binding = binding(env, store::binding(settings.kind));
            let t = settings.timeout_ms;
            let store = match settings.kind {
                StoreKind::Kv => AnyStore::Kv(KvStore::new(binding).with_timeout(t)),
                StoreKind::Durable => AnyStore::Durable(DurableStore::new(binding).with_timeout(t)),
            };
            match Sessions::new(store, &ring, settings.sessions.clone()) {
                Ok(sessions) => Some(Rc::new((sessions, settings))),
                Err(e) => {
                    log_error!("edge-session gateway: session store: {e}");
                    None
                }
            }
        })
        .flatten();
        *slot = Some(built.clone());
        built
    })
}

/// This instance's gateway, built on first use (a configuration refused is logged by its
/// callers, [`refused`]).
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
            .and_then(|config| bound(config, env))
            .and_then(fetchable)
            .and_then(Gateway::new)
            .map(|g| Rc::new(RefCell::new(g)));
        *slot = Some(built.clone());
        built
    })
}

/// `config` when the binding its `STORE` names is there, and of its kind: a KV namespace (its
/// `getWithMetadata`) or a Durable Object namespace (its `idFromName`). Not a `[vars]` text or
/// table of its name, nor a binding of another kind: each store call would fail, every request
/// logging it, while the origins were told sessions were kept. (A service binding's RPC stub
/// answers every name with a function: entry.mjs hands over the environment without it.)
/// Without the binding every request would be
/// served without its session data, and no revocation checked, for good: not an outage (those
/// degrade) but a setting missing, refused as one.
fn bound(config: GatewayConfig, env: &Env) -> Result<GatewayConfig, ConfigError> {
    let Some(kind) = config.store.as_ref().map(|s| s.kind) else {
        return Ok(config);
    };
    let (name, method) = (store::binding(kind), store::binding_method(kind));
    match js_sys::Reflect::get(&binding(env, name), &JsValue::from_str(method)) {
        Ok(m) if m.is_function() => Ok(config),
        _ => Err(ConfigError {
            setting: "STORE",
            message: format!("needs the binding {name}, with its {method} (see wrangler.toml)"),
        }),
    }
}

/// `config` when the runtime's URL parser (fetch's) takes each origin's url and its health
/// probe's: the gateway's own check follows the URL standard for what it can check without
/// Unicode tables, and the rest (a label `xn--` that is no IDNA: `xn--a`) would fail every
/// request to the origin ("Invalid URL") rather than the start.
fn fetchable(config: GatewayConfig) -> Result<GatewayConfig, ConfigError> {
    let parser = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("URL"))
        .ok()
        .and_then(|u| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(u).ok());
    let Some(parser) = parser else {
        return Ok(config);
    };
    let refused = |url: &str| {
        let args = js_sys::Array::of1(&JsValue::from_str(url));
        js_sys::Reflect::construct(&parser, &args).is_err()
    };
    for o in &config.origins {
        let (setting, what) = if refused(&o.url) {
            ("ORIGINS", "url")
        } else if refused(&format!("{}{}", o.url, config.health_path)) {
            ("HEALTH_PATH", "health probe's url")
        } else {
            continue;
        };
        return Err(ConfigError {
            setting,
            message: format!(
                "origin {}: {what} the runtime's URL parser refuses",
                Quoted(&o.id)
            ),
        });
    }
    Ok(config)
}

/// Runs `f` on the gateway, or `None` if it is borrowed (a bug, but never a panic).
fn with<R>(gw: &Shared, f: impl FnOnce(&mut Gateway) -> R) -> Option<R> {
    gw.try_borrow_mut().ok().map(|mut g| f(&mut g))
}

/// An environment binding by name (`undefined` when absent).
fn binding(env: &Env, name: &str) -> JsValue {
    js_sys::Reflect::get(env, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
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
    let mut bytes = [0u8; 56];
    crate::random::fill(&mut bytes).ok()?;
    Some(Entropy::from_bytes(&bytes))
}

/// A handler's result as what the fetch handler returns: the response, or (after logging the
/// error) the gateway's 500 page, as `#[event(fetch)]` would answer.
fn reply(result: Answer) -> JsValue {
    let error = match result {
        Ok(response) => return response.into(),
        Err(e) => e,
    };
    log_error!("edge-session gateway: {}", http::error_line(&error));
    match http::page(&Page::internal()) {
        Ok(response) => response.into(),
        Err(e) => js_sys::Promise::reject(&JsValue::from_str(&http::error_line(&e))).into(),
    }
}

/// Runs `work` after the answer (`waitUntil`): one instance of its machinery in the wasm for
/// every kind of work.
fn background(ctx: &Context, work: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) {
    let _ = ctx.wait_until(&future_to_promise(async move {
        work.await;
        Ok(JsValue::UNDEFINED)
    }));
}

/// A promise of the response `handler` makes, kept by `waitUntil` too. When its client goes
/// away, the runtime cancels what the request awaits (a fetch, a store's read, a timer) unless
/// `waitUntil` keeps the request: a promise that never settles, whose future, a cycle, the
/// wasm never frees (about 5 KB of its memory per cancelled request with a store, for good).
fn later(ctx: &Context, handler: impl std::future::Future<Output = Answer> + 'static) -> JsValue {
    promise(ctx, Box::pin(handler))
}

/// The answer to a request (and the cron run) of an instance whose configuration is refused:
/// logged each time, not only at the first, so that whoever runs `wrangler tail` after seeing
/// the 500 page, as it says to, sees why.
fn refused(e: &ConfigError) -> JsValue {
    log_error!("edge-session gateway: invalid configuration: {e}");
    reply(http::page(&Page::config_error()))
}

/// One `future_to_promise` for every kind of handler (one copy of its machinery in the wasm).
fn promise(
    ctx: &Context,
    handler: std::pin::Pin<Box<dyn std::future::Future<Output = Answer>>>,
) -> JsValue {
    let answer = future_to_promise(async move { Ok(reply(handler.await)) });
    let _ = ctx.wait_until(&answer);
    answer.into()
}

/// The fetch handler, exported as `#[event(fetch)]` would export it, but not `async`: it returns
/// the response, or a promise of it. What needs no waiting is done here, synchronously; a
/// proxied request without a store waits only for the origin's fetch (see `proxy::start`).
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> JsValue {
    let gw = match gateway(&env) {
        Ok(gw) => gw,
        Err(e) => return refused(&e),
    };
    let Some(entropy) = entropy() else {
        log_error!("edge-session gateway: no randomness available");
        return reply(http::page(&Page::internal()));
    };
    let now = now();
    if let Some(read) = health::first_read(&gw, &env, &ctx, now) {
        return later(&ctx.clone().unchecked_into(), async move {
            read.await;
            let routed = Promise::resolve(&route(req, env, ctx, gw, now, entropy));
            JsFuture::from(routed).await.map(JsCast::unchecked_into)
        });
    }
    health::refresh_in_background(&gw, &env, &ctx, now);
    route(req, env, ctx, gw, now, entropy)
}

/// The request routed: its response, or a promise of it.
fn route(
    req: web_sys::Request,
    env: Env,
    ctx: Context,
    gw: Shared,
    now: UnixTime,
    entropy: Entropy,
) -> JsValue {
    let client = req.headers();
    let headers = http::header_pairs(&client);
    let (method, url) = (req.method(), req.url());
    // `Content-Length: 0` (Python's requests sends it with every DELETE, PUT and OPTIONS) is no
    // body: never a GET's 400, nor a request kept from its retry.
    let body = req
        .body()
        .filter(|_| !headers::declares_no_content(&headers));
    let has_body = body.is_some();
    let request = Request {
        method: &method,
        url: &url,
        headers: &headers,
        has_body,
    };
    let Some(step) = with(&gw, |g| g.start(&request, now, &entropy)) else {
        return reply(http::page(&Page::internal()));
    };
    // One line when this instance begins failing open, not one per request.
    if with(&gw, |g| g.health_mut().began_failing_open(now)) == Some(true) {
        log_warn!(
            "edge-session gateway: the cron's probes of HEALTH_PATH mark down every origin this \
             instance reaches; failing open (their result set aside until an origin passes): \
             check HEALTH_PATH with curl on each origin"
        );
    }
    let store = session_store(&gw, &env);
    match step {
        Step::Respond(p) => reply(http::page(&p)),
        Step::Jwks => later(&ctx, async move { assertion::jwks_response(&gw).await }),
        Step::Dbsc(decision) => later(&ctx, dbsc::answer(decision, store, now)),
        Step::Operator(Endpoint::Health) => {
            later(&ctx, async move { operator::health(&gw, &env, now).await })
        }
        Step::Operator(Endpoint::RevokeSubject) => {
            later(&ctx, async move { operator::revoke(store, &req).await })
        }
        Step::Operator(Endpoint::StoreConformance) => {
            later(&ctx, operator::conformance(store, now))
        }
        Step::Proxy(attempt) => {
            let p = proxy::Proxied {
                gw,
                method,
                url,
                headers,
                client,
                has_body,
                now,
                entropy,
                ctx,
            };
            proxy::start(p, attempt, body, store)
        }
    }
}

/// The cron trigger: probes every origin's health path at once and records the results in KV,
/// where every instance at every location reads them.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let gw = match gateway(&env) {
        Ok(gw) => gw,
        Err(e) => return drop(refused(&e)),
    };
    health::probe(&gw, &env).await;
}
