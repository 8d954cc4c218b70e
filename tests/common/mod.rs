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
