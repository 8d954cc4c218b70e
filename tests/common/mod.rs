//! Fixtures shared by the token tests (`mod common;` in each): the clock, two secrets, keys.
#![allow(dead_code)] // each test crate uses its own subset

use edge_session::{Error, KeyConfig, VerifyOptions};

/// The time the tests sign and verify at.
pub const NOW: u64 = 1_800_000_000;
/// 32 bytes of 0x01..0x20, base64url.
pub const SECRET_1: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
/// 32 bytes of 0x21..0x40, base64url.
pub const SECRET_2: &str = "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0A";

/// A key of the ring.
pub fn key(id: &str, secret: &str) -> KeyConfig {
    KeyConfig {
        id: id.into(),
        secret: secret.into(),
    }
}

/// Every text one character away from `token`: each character replaced by any other of
/// base64url (at a segment's end, the ones that set only bits past its last byte too) or by one
/// a strict reader refuses (padding, the standard alphabet's `+` and `/`, whitespace, a dot,
/// `%`, NUL, a character outside ASCII); one of those refused added in each gap; each character
/// left out.
pub fn one_character_changes(token: &str) -> Vec<String> {
    const REFUSED: [char; 10] = ['=', '+', '/', ' ', '\n', '.', '%', '\0', 'é', '\u{2028}'];
    let alphabet = ('A'..='Z')
        .chain('a'..='z')
        .chain('0'..='9')
        .chain(['-', '_']);
    let others: Vec<char> = alphabet.chain(REFUSED).collect();
    let chars: Vec<char> = token.chars().collect();
    let with = |at: usize, cut: usize, put: Option<char>| -> String {
        let mut out = chars.clone();
        out.splice(at..at + cut, put);
        out.into_iter().collect()
    };
    let mut changes = Vec::new();
    for (at, &old) in chars.iter().enumerate() {
        let replaced = others.iter().filter(|&&c| c != old);
        changes.extend(replaced.map(|&c| with(at, 1, Some(c))));
        changes.push(with(at, 1, None));
    }
    for at in 0..=chars.len() {
        changes.extend(REFUSED.map(|c| with(at, 0, Some(c))));
    }
    changes
}

/// `expired` and its claims come only with a token that would otherwise verify: `verify` checks
/// a token carrying `"iss":"me","aud":"web"`, issued at [`NOW`], with the options given, all
/// `later` (past its end) ones. Passing every check, it is `expired`, and its claims come back;
/// of another issuer or audience, or revoked, it is refused as such, with no claims.
pub fn expired_only_when_otherwise_valid(
    later: VerifyOptions<'static>,
    verify: impl Fn(VerifyOptions<'static>) -> Error,
) -> serde_json::Value {
    let expired = verify(later.issuer("me").audience("web").min_issued_at(NOW));
    assert_eq!(expired.code(), "expired");
    for (options, code) in [
        (later.issuer("you"), "wrong_issuer"),
        (later.audience("api"), "wrong_audience"),
        (later.min_issued_at(NOW + 1), "revoked"),
    ] {
        let e = verify(options);
        assert_eq!((e.code(), e.claims::<serde_json::Value>()), (code, None));
    }
    expired.claims().expect("an expired token's claims")
}
