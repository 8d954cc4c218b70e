//! Random bytes for nonces, session ids, challenges and the gateway's routing entropy: the
//! platform's CSPRNG (`getrandom`; on wasm32 `crypto.getRandomValues`).
//!
//! Output of only zeros is refused (`randomness_unavailable`): that is what a stubbed
//! `getRandomValues` that fills nothing gives (a test double, a polyfill left in), and it would
//! seal every token under one nonce and give every new session the same id, without a word. For
//! the 8 bytes and more asked here, real zeros come once in 2^64 calls or less.

use crate::error::{Error, Result};

/// Fills `buf` with random bytes, or fails with `randomness_unavailable`.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::RandomnessUnavailable)?;
    nonzero(buf)
}

/// Refuses a buffer of zeros: no source of randomness gave it.
fn nonzero(buf: &[u8]) -> Result<()> {
    if buf.iter().all(|&b| b == 0) {
        return Err(Error::RandomnessUnavailable);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_are_not_randomness() {
        assert_eq!(nonzero(&[0; 24]), Err(Error::RandomnessUnavailable));
        assert_eq!(nonzero(&[0, 0, 1]), Ok(()));
        let mut buf = [0u8; 16];
        fill(&mut buf).unwrap();
        assert_ne!(buf, [0; 16]);
    }
}
