//! The I/O of the operator endpoints (see [`crate::gateway::operator`], which answers them).

use worker::{web_sys, Env};

use super::http::{self, page};
use super::{binding, now, with, Answer, Shared, Store};
use crate::gateway::operator;
use crate::gateway::pages::Page;
use crate::gateway::store;
use crate::time::UnixTime;

/// `GET /__edge/health`: the shared snapshot read afresh, then this instance's view.
pub(super) async fn health(gw: &Shared, env: &Env, now: UnixTime) -> Answer {
    super::health::install_shared(gw, env, super::health::READ_MS, now).await;
    let Some(report) = with(gw, |g| g.health().report(&g.config().origins, now)) else {
        return page(&Page::internal());
    };
    let kv_bound = super::health::health_kv(env).is_some();
    let store = with(gw, |g| g.config().store.as_ref().map(|s| s.kind))
        .flatten()
        .map(|kind| (kind, binding(env, store::binding(kind)).is_object()));
    page(&operator::health(report, kv_bound, store))
}

/// `POST /__edge/sessions/revoke`: reads the subject (a body of at most
/// [`operator::MAX_REVOKE_BODY_BYTES`], else 413), revokes it in the store.
pub(super) async fn revoke(store: Option<Store>, req: &web_sys::Request) -> Answer {
    let Some(st) = store else {
        return page(&operator::no_store());
    };
    let Ok(text) = http::text_within(req, operator::MAX_REVOKE_BODY_BYTES).await else {
        return page(&operator::revoke_body_too_large());
    };
    let sub = match operator::revoke_subject(text.as_deref()) {
        Ok(sub) => sub,
        Err(p) => return page(&p),
    };
    let (sessions, settings) = &*st;
    let now = now();
    let result = store::revoke(sessions, &sub, None, settings.revocation_keep_seconds, now).await;
    page(&operator::revoked(result.as_ref().copied(), now))
}

/// `GET /__edge/store/conformance`: the suite run against the configured store, when
/// `STORE_TESTS` is on in a test build (feature `gateway-conformance`); 404 otherwise.
#[cfg(feature = "gateway-conformance")]
pub(super) async fn conformance(store: Option<Store>, now: UnixTime) -> Answer {
    let report = match store {
        Some(st) if st.1.tests => Some(crate::store::conformance::run(st.0.store(), now).await),
        _ => None,
    };
    page(&operator::conformance(report.as_ref()))
}

/// `GET /__edge/store/conformance` in a production build: the suite is not in it (404).
#[cfg(not(feature = "gateway-conformance"))]
pub(super) async fn conformance(_store: Option<Store>, _now: UnixTime) -> Answer {
    page(&operator::conformance(None))
}
