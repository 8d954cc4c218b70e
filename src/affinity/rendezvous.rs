//! Weighted rendezvous (highest random weight) hashing, keyed with the secret.
//!
//! Every routing key (a visitor id, a client address, a header value) is hashed once with
//! HMAC-SHA256 under a subkey of the secret, to 64 bits. Each backend has a 64-bit seed, the
//! same keyed hash of its id. The pair's score is the standard weighted HRW score
//! `w / -ln(u)`, with `u` in (0, 1) drawn from a cheap 64-bit mix of key and seed; the highest
//! score wins (when all weights are equal, the mix itself is compared: the same order, no
//! logarithm). Removing a backend moves only the keys it held; adding one moves only the keys
//! it now wins, about `w / Σw` of them; each backend gets about `w / Σw` of all keys.
//!
//! Decisions are identical on every machine and every version of the crate: no
//! `DefaultHasher`, no platform `ln` (whose last bit differs between libms) but a logarithm of
//! our own from IEEE-754 additions, multiplications and divisions, which are correctly rounded
//! everywhere. Keying with the secret means nobody can craft keys that pile onto one backend.

use crate::keys::{MacKey, Secret};

/// The HKDF purpose of the hashing key.
const PURPOSE: &str = "affinity:rendezvous";

/// What a hashed key is, so a header value never hashes like the same text as an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Domain {
    /// A backend id, giving the backend's seed.
    Backend = b'b' as isize,
    /// A fresh visitor id (cookie and URL modes).
    Visitor = b'v' as isize,
    /// A client address (IP mode).
    Ip = b'i' as isize,
    /// A header value (header mode).
    Header = b'h' as isize,
}

/// The keyed hash of the ring.
#[derive(Clone)]
pub(crate) struct Rendezvous {
    key: MacKey,
}

impl Rendezvous {
    pub(crate) fn new(secret: &Secret) -> Self {
        Rendezvous {
            key: MacKey::new(&secret.derive(PURPOSE)),
        }
    }

    /// The 64-bit keyed hash of `bytes` as a `domain`.
    pub(crate) fn hash(&self, domain: Domain, bytes: &[u8]) -> u64 {
        let mut message = Vec::with_capacity(1 + bytes.len());
        message.push(domain as u8);
        message.extend_from_slice(bytes);
        let tag = self.key.tag(&message);
        let mut first = [0u8; 8];
        first.copy_from_slice(&tag[..8]);
        u64::from_le_bytes(first)
    }
}

/// The winner for `key` among `candidates` given as `(label, seed, weight)`: the label of the
/// highest score, ties broken by the larger seed so the choice never depends on the order of
/// the list. `None` when there are no candidates.
///
/// With `weighted` false (every configured weight equal) the score is the 64-bit mix itself:
/// the classic unweighted HRW, the same order as `w / -ln(u)` without computing a logarithm.
pub(crate) fn pick<L>(
    key: u64,
    weighted: bool,
    candidates: impl IntoIterator<Item = (L, u64, u32)>,
) -> Option<L> {
    let mut best: Option<(L, f64, u64, u64)> = None;
    for (label, seed, weight) in candidates {
        let x = mix(key ^ seed);
        let s = if weighted { score_of(x, weight) } else { 0.0 };
        let better = match &best {
            None => true,
            Some((_, bs, _, bseed)) if weighted => s > *bs || (s == *bs && seed > *bseed),
            Some((_, _, bx, bseed)) => x > *bx || (x == *bx && seed > *bseed),
        };
        if better {
            best = Some((label, s, x, seed));
        }
    }
    best.map(|(label, ..)| label)
}

/// The weighted HRW score `w / -ln(u)` of a key on a backend.
#[cfg(test)]
fn score(key: u64, seed: u64, weight: u32) -> f64 {
    score_of(mix(key ^ seed), weight)
}

/// The weighted HRW score for the mixed pair `x`. Not inlined: each caller had a copy of the
/// logarithm's series (about 300 B of gzipped JS wasm), a call is nothing beside it.
#[inline(never)]
fn score_of(x: u64, weight: u32) -> f64 {
    // 52 bits plus one half: exactly representable, strictly inside (0, 1).
    let u = ((x >> 12) as f64 + 0.5) * (1.0 / (1u64 << 52) as f64);
    f64::from(weight) / neg_ln(u)
}

/// The SplitMix64 finalizer (Stafford's variant 13): a bijection with full avalanche.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `-ln(u)` for `u` in (0, 1), from basic IEEE-754 operations only, so that it is
/// bit-for-bit the same on every platform (within 2 ulp of the true value).
///
/// `u = m·2^e` with `m` in [√½, √2); `ln m = 2·atanh(s)`, `s = (m-1)/(m+1)`, `|s| < 0.172`, by
/// its series to the 25th power (the next term is below 2^-64 of the sum).
fn neg_ln(u: f64) -> f64 {
    const LN_2: f64 = std::f64::consts::LN_2;
    const SQRT_2: f64 = std::f64::consts::SQRT_2;
    // 1/(2k+1) for k = 12 down to 0.
    const COEFFS: [f64; 13] = [
        1.0 / 25.0,
        1.0 / 23.0,
        1.0 / 21.0,
        1.0 / 19.0,
        1.0 / 17.0,
        1.0 / 15.0,
        1.0 / 13.0,
        1.0 / 11.0,
        1.0 / 9.0,
        1.0 / 7.0,
        1.0 / 5.0,
        1.0 / 3.0,
        1.0,
    ];
    let bits = u.to_bits();
    // `u` is normal (at least 2^-53), so the exponent field is the exponent.
    let mut e = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut series = 0.0;
    for c in COEFFS {
        series = series * s2 + c;
    }
    -(f64::from(e) * LN_2 + 2.0 * s * series)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Rendezvous {
        Rendezvous::new(&Secret::new(vec![42; 32]).unwrap())
    }

    #[test]
    fn neg_ln_matches_the_platform_within_two_ulp() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut worst = 0.0f64;
        let mut check = |u: f64| {
            let ours = neg_ln(u);
            let theirs = -u.ln();
            assert!(ours > 0.0, "{u}");
            worst = worst.max(((ours - theirs) / theirs).abs());
        };
        for _ in 0..200_000 {
            x = mix(x);
            check(((x >> 12) as f64 + 0.5) / (1u64 << 52) as f64);
        }
        check(0.5 / (1u64 << 52) as f64);
        check(1.0 - 0.5 / (1u64 << 52) as f64);
        check(0.5);
        check(std::f64::consts::FRAC_1_SQRT_2);
        assert!(worst < 4.5e-16, "relative error {worst}");
    }

    /// Frozen to the last bit: `-ln(u)` for the `u` that scores are made of (a last bit that
    /// changes moves the keys whose scores nearly tie), and at the boundary of the mantissa's
    /// range, where `m` is exactly √2.
    #[test]
    fn neg_ln_is_frozen_to_the_last_bit() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut digest = 0u64;
        for _ in 0..200_000 {
            x = mix(x);
            let u = ((x >> 12) as f64 + 0.5) / (1u64 << 52) as f64;
            digest = mix(digest ^ neg_ln(u).to_bits());
        }
        assert_eq!(digest, 744_374_461_236_195_172);
        assert_eq!(
            neg_ln(std::f64::consts::FRAC_1_SQRT_2).to_bits(),
            4_599_914_934_686_071_277
        );
    }

    /// Frozen values: a change here changes where every key in the world is routed.
    #[test]
    fn known_answers() {
        assert_eq!(mix(0), 0);
        assert_eq!(mix(1), 0x5692_161d_100b_05e5);
        assert_eq!(neg_ln(0.5).to_bits(), std::f64::consts::LN_2.to_bits());
        let r = ring();
        assert_eq!(r.hash(Domain::Ip, b"192.0.2.1"), 13_299_147_369_664_592_784);
        assert_eq!(score(1, 2, 3).to_bits(), 4_609_012_452_512_185_425);
        assert_eq!(
            score(
                r.hash(Domain::Header, b"k"),
                r.hash(Domain::Backend, b"a"),
                7
            )
            .to_bits(),
            4_616_010_270_708_889_364
        );
    }

    #[test]
    fn domains_separate_equal_bytes() {
        let r = ring();
        assert_ne!(r.hash(Domain::Ip, b"x"), r.hash(Domain::Header, b"x"));
        assert_eq!(r.hash(Domain::Ip, b"x"), r.hash(Domain::Ip, b"x"));
        let other = Rendezvous::new(&Secret::new(vec![43; 32]).unwrap());
        assert_ne!(r.hash(Domain::Ip, b"x"), other.hash(Domain::Ip, b"x"));
    }

    #[test]
    fn pick_ignores_candidate_order() {
        let r = ring();
        let backends: Vec<(u8, u64, u32)> = (0..7)
            .map(|i| (i, r.hash(Domain::Backend, &[i]), 1 + u32::from(i) % 3))
            .collect();
        let mut reversed = backends.clone();
        reversed.reverse();
        for k in 0..2000u32 {
            let key = r.hash(Domain::Header, &k.to_le_bytes());
            for weighted in [false, true] {
                let forward = pick(key, weighted, backends.iter().copied());
                assert_eq!(forward, pick(key, weighted, reversed.iter().copied()));
            }
        }
        assert_eq!(pick::<u8>(1, true, []), None);
    }

    /// The inverse of `mix`, to craft seeds whose mixed values are given.
    fn unmix(mut z: u64) -> u64 {
        fn inverse(c: u64) -> u64 {
            // Newton's iteration for the inverse of an odd number modulo 2^64.
            let mut inv = c;
            for _ in 0..6 {
                inv = inv.wrapping_mul(2u64.wrapping_sub(c.wrapping_mul(inv)));
            }
            inv
        }
        z ^= (z >> 31) ^ (z >> 62);
        z = z.wrapping_mul(inverse(0x94d0_49bb_1331_11eb));
        z ^= (z >> 27) ^ (z >> 54);
        z = z.wrapping_mul(inverse(0xbf58_476d_1ce4_e5b9));
        z ^ (z >> 30) ^ (z >> 60)
    }

    /// Two candidates whose scores are equal to the last bit (their mixed values differ only
    /// below the 52 bits the score reads) go to the larger seed, in either order.
    #[test]
    fn an_exact_tie_goes_to_the_larger_seed_in_any_order() {
        let key = 0x0123_4567_89ab_cdef;
        for x in [0x8000_0000_0000_0000u64, 0x1234_5678_9abc_d000, !0xfff] {
            let (low, high) = (unmix(x) ^ key, unmix(x | 0x801) ^ key);
            assert_eq!(mix(key ^ low), x);
            assert_eq!(score_of(mix(key ^ low), 3), score_of(mix(key ^ high), 3));
            let larger = if low > high { "low" } else { "high" };
            for order in [
                [("low", low), ("high", high)],
                [("high", high), ("low", low)],
            ] {
                let candidates = order.map(|(label, seed)| (label, seed, 3));
                assert_eq!(pick(key, true, candidates), Some(larger), "{order:?}");
            }
        }
    }

    /// With equal weights both paths agree (barring 2^-52 near-ties, absent from this sample).
    #[test]
    fn the_unweighted_path_orders_like_the_weighted_one() {
        let r = ring();
        let backends: Vec<(u8, u64, u32)> = (0..10)
            .map(|i| (i, r.hash(Domain::Backend, &[i]), 3))
            .collect();
        for k in 0..5000u32 {
            let key = r.hash(Domain::Ip, &k.to_le_bytes());
            assert_eq!(
                pick(key, false, backends.iter().copied()),
                pick(key, true, backends.iter().copied())
            );
        }
    }
}
