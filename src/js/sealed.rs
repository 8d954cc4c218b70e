//! `SealedTokens` for JavaScript: the API of `SessionTokens` (one definition, `token_class!`),
//! the claims encrypted.

use wasm_bindgen::prelude::*;

use super::token_class::token_class;
use crate::token::SealedTokens as Core;

token_class! {
    #[doc = " Seals and opens encrypted session tokens (XChaCha20-Poly1305, base64url): the browser holds"]
    #[doc = " the token but cannot read its claims. Same configuration and methods as `SessionTokens`."]
    pub struct SealedTokens(core: Core);
    #[doc = " Seals `claims`, adding `iat` and `exp`."]
    sign;
    #[doc = " Opens `token` and returns its claims; throws an error with `.code` otherwise."]
    verify;
    #[doc = " Like `verify`, also returning the id of the sealing key and whether it is stale."]
    verify_detailed;
    #[doc = " A replacement token when one is due (see `SessionTokens.refresh`); `null` otherwise."]
    refresh;
}
