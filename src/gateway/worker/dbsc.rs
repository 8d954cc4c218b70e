//! The I/O of the DBSC endpoints (see [`crate::gateway::dbsc`], which decides everything):
//! WebCrypto verifies a proof's signature, then the store records its challenge once.

use super::http::{self, page};
use super::{Answer, Store};
use crate::error::Error;
use crate::gateway::dbsc::{self, Decision};
use crate::time::UnixTime;
use crate::webcrypto;

/// Answers a DBSC endpoint: at once, or after the signature check and the single use of the
/// challenge (with `STORE` on; without a store a challenge may be answered again within its
/// window, always with a signature by the bound key).
pub(super) async fn answer(decision: Decision, store: Option<Store>, now: UnixTime) -> Answer {
    let pending = match decision {
        Decision::Answer(p) => return page(&p),
        Decision::Verify(pending) => pending,
    };
    let verified = webcrypto::verify_device(&pending.key, &pending.signature, &pending.input).await;
    if let Err(e) = &verified {
        log_error!(
            "edge-session gateway: DBSC: WebCrypto failed: {}",
            http::error_text(e)
        );
    }
    let verified = verified.map_err(|_| ());
    let once = match (verified, store) {
        (Ok(true), Some(st)) => {
            let used = dbsc::use_once(st.0.store(), &pending.challenge, now).await;
            if let Some(e) = used
                .as_ref()
                .err()
                .filter(|e| **e != Error::ChallengeReused)
            {
                log_error!("edge-session gateway: DBSC: challenge not recorded: {e}");
            }
            Some(used)
        }
        _ => None,
    };
    page(&pending.finish(verified, once))
}
