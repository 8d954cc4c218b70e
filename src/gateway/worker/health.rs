//! The shared health snapshot in KV (see [`crate::gateway::health`]): read by every instance,
//! written by the cron probes.

use std::cell::RefCell;

use worker::js_sys::{self, Promise};
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::{future_to_promise, JsFuture};
use worker::worker_sys::Context;
use worker::Env;

use super::http::error_text;
use super::{binding, now, with, Shared};
use crate::error::Quoted;
use crate::gateway::health::{probe_targets, Probe, Snapshot, KV_BINDING, KV_KEY};
use crate::store::binding::{settle, KvNamespace};
use crate::time::UnixTime;

/// The health KV namespace (binding [`KV_BINDING`]), through the crate's own KV binding rather
/// than `worker`'s `KvStore`, whose options (serde_wasm_bindgen) and error types cost wasm for
/// a text get and put. `None` when unbound: an object is needed (what `Env::kv` accepted).
pub(super) fn health_kv(env: &Env) -> Option<KvNamespace> {
    let kv = binding(env, KV_BINDING);
    (kv.is_object() || kv.is_function()).then(|| kv.unchecked_into())
}

/// How long a read of the shared snapshot may take: [`FIRST_READ_MS`] for a new instance's
/// first request, which waits for it; this for the others, which do not.
pub(super) const READ_MS: u32 = 5_000;

/// How long a new instance's first request waits for the shared snapshot before it is routed
/// without it (a local read takes a few milliseconds).
const FIRST_READ_MS: u32 = 300;

/// Reads the shared health snapshot from KV: `None` when it could not be read within
/// `within_ms`, `Some(None)` when there is none (or it is unreadable).
pub(super) async fn read_shared(env: &Env, within_ms: u32) -> Option<Option<Snapshot>> {
    let kv = health_kv(env)?;
    match settle("health", kv.get(KV_KEY), within_ms).await {
        Ok(value) => Some(value.as_string().as_deref().and_then(Snapshot::parse)),
        Err(e) => {
            log_warn!(
                "edge-session gateway: reading shared health from KV failed: {}",
                e.detail()
            );
            None
        }
    }
}

/// Reads the shared snapshot from KV, within `within_ms`, into this instance's health.
pub(super) async fn install_shared(gw: &Shared, env: &Env, within_ms: u32, now: UnixTime) {
    if let Some(snapshot) = read_shared(env, within_ms).await {
        with(gw, |g| g.health_mut().read_shared(snapshot, now));
    }
}

thread_local! {
    /// A new instance's first read of the shared snapshot while it is under way, and when it
    /// began.
    static FIRST_READ: RefCell<Option<(Promise, UnixTime)>> = const { RefCell::new(None) };
}

/// A new instance's first requests: the shared snapshot, read before they are routed (`None`
/// once it is read, and when no KV is bound). Read after, as later reads are, the first
/// requests of every new instance went to origins every other instance knew were down: a GET
/// failed once there and was retried, a POST pinned there got a 503. Every request that
/// arrives while the read is under way waits for that one read: a new instance of a busy site
/// gets many at once, and only the first waited, the others routed without the snapshot. Each
/// waits [`FIRST_READ_MS`] at most by a timer of its own, and the read is kept alive past the
/// request that began it (`wait_until`): the runtime may cancel what a request began when its
/// client goes, and a read it cancelled would hold the others, and every later request (a read
/// older than a second is forgotten). The binding is looked up only at the first: a lookup in
/// `env` at every request cost about 1 µs.
pub(super) fn first_read(
    gw: &Shared,
    env: &Env,
    ctx: &Context,
    now: UnixTime,
) -> Option<impl std::future::Future<Output = ()>> {
    let waiting = |read: Promise| async move {
        let _ = settle("health", Ok(read), FIRST_READ_MS).await;
    };
    if let Some((read, began)) = FIRST_READ.with(|r| r.borrow().clone()) {
        if now <= began.saturating_add(1) {
            return Some(waiting(read));
        }
        FIRST_READ.with(|r| r.borrow_mut().take());
        return None;
    }
    if with(gw, |g| g.health_mut().take_first_read(now)) != Some(true) || health_kv(env).is_none() {
        return None;
    }
    let (gw, env) = (gw.clone(), env.clone());
    // Polled first in a later microtask: kept below before it can end.
    let read = future_to_promise(async move {
        install_shared(&gw, &env, FIRST_READ_MS, now).await;
        FIRST_READ.with(|r| r.borrow_mut().take());
        Ok(JsValue::UNDEFINED)
    });
    FIRST_READ.with(|r| *r.borrow_mut() = Some((read.clone(), now)));
    let kept = JsFuture::from(read.clone());
    super::background(
        ctx,
        Box::pin(async move {
            let _ = kept.await;
        }),
    );
    Some(waiting(read))
}

/// Re-reads the shared snapshot after the request, when it is due.
pub(super) fn refresh_in_background(gw: &Shared, env: &Env, ctx: &Context, now: UnixTime) {
    if with(gw, |g| g.health_mut().take_shared_refresh(now)) != Some(true) {
        return;
    }
    let (gw, env) = (gw.clone(), env.clone());
    super::background(
        ctx,
        Box::pin(async move { install_shared(&gw, &env, READ_MS, now).await }),
    );
}

#[wasm_bindgen(module = "/src/gateway/worker/probe.mjs")]
extern "C" {
    /// Probes each URL, six at once, each within `timeout_ms`: per URL, in order,
    /// `[status, ms]` or `[error message, ms]` (see probe.mjs: a Workers invocation queues a
    /// seventh connection, and a probe's timeout must not run in that queue).
    fn probe_all(urls: js_sys::Array, timeout_ms: u32) -> Promise;
}

/// The cron run: probes every origin's health path, six at once (`probe_all`), writes the
/// snapshot to KV when it is worth a write, and installs it in this instance.
pub(super) async fn probe(gw: &Shared, env: &Env) {
    let Some((targets, timeout)) = with(gw, |g| {
        (probe_targets(g.config()), g.config().probe_timeout_ms)
    }) else {
        return;
    };
    let mut snapshot = Snapshot {
        checked_at: now(),
        ..Snapshot::default()
    };
    let urls: js_sys::Array = targets
        .iter()
        .map(|(_, url)| JsValue::from_str(url))
        .collect();
    let results = JsFuture::from(probe_all(urls, timeout as u32)).await;
    let results: js_sys::Array = results.map(JsCast::unchecked_into).unwrap_or_default();
    for ((id, _), result) in targets.into_iter().zip(results.iter()) {
        let result: js_sys::Array = result.unchecked_into();
        let ms = result.get(1).as_f64().unwrap_or(0.0).max(0.0) as u64;
        let outcome = result.get(0);
        let probe = match outcome.as_f64() {
            Some(status) => Probe::answered(status as u16, ms),
            None => Probe::failed(&outcome.as_string().unwrap_or_default(), ms),
        };
        snapshot.origins.insert(id, probe);
    }
    log_info!(
        "edge-session gateway: probed {} origins, down: [{}]",
        snapshot.origins.len(),
        (snapshot.down().iter())
            .map(|id| Quoted(id).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    match health_kv(env) {
        Some(kv) => {
            let stored = read_shared(env, READ_MS).await.flatten();
            let max_age = with(gw, |g| g.config().health_max_age).unwrap_or(0);
            if snapshot.worth_writing(stored.as_ref(), max_age) {
                // The text as it is: `worker`'s `put` takes any `Serialize` value through
                // serde_wasm_bindgen and, with it, the formatting of floats.
                let written = match kv.put(KV_KEY, &snapshot.to_json(), &js_sys::Object::new()) {
                    Ok(put) => JsFuture::from(put).await.map(drop),
                    Err(e) => Err(e),
                };
                if let Err(e) = written {
                    log_error!(
                        "edge-session gateway: writing shared health to KV failed: {}",
                        error_text(&e)
                    );
                }
            }
        }
        None => log_warn!(
            "edge-session gateway: no KV binding {KV_BINDING}; health results stay in this instance"
        ),
    }
    with(gw, |g| g.health_mut().set_shared(Some(snapshot), now()));
}
