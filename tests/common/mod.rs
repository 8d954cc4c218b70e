//! Fixtures shared by the token tests (`mod common;` in each): the clock, two secrets, keys.
#![allow(dead_code)] // each test crate uses its own subset

use edge_session::KeyConfig;

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
