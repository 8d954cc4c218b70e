//! The backend set: ids, weights, health and draining, and the choice of a backend for a key.

use serde::Deserialize;

use super::rendezvous::{self, Domain, Rendezvous};
use crate::error::{configured, Error, Quoted, Result};
use crate::keys::{MacKey, Secret};

/// The most backends one router holds (each route scores every candidate).
pub const MAX_BACKENDS: usize = 1024;

/// The largest weight accepted; weights are relative, so this is plenty.
pub const MAX_WEIGHT: u32 = 1_000_000;

/// The longest backend id accepted, in bytes.
pub const MAX_BACKEND_ID_BYTES: usize = 256;

/// Bytes of the opaque backend reference carried in affinity values.
pub(crate) const REF_BYTES: usize = 8;

/// The HKDF purpose of the key that turns backend ids into opaque references.
const REF_PURPOSE: &str = "affinity:backend-ref";

/// A backend as written in configuration: `{ "id": "a", "weight": 2 }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// The name the router returns; 1 to 256 bytes without control characters. It never
    /// appears in affinity values, so it may well be an address.
    pub id: String,
    /// The backend's share of new keys relative to the others: 1 to 1,000,000. Default 1.
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

impl BackendConfig {
    /// A backend with weight 1.
    pub fn new(id: impl Into<String>) -> Self {
        BackendConfig {
            id: id.into(),
            weight: 1,
        }
    }

    /// A backend with the given weight.
    pub fn weighted(id: impl Into<String>, weight: u32) -> Self {
        BackendConfig {
            id: id.into(),
            weight,
        }
    }
}

#[derive(Clone, Debug)]
struct Backend {
    id: String,
    weight: u32,
    /// Rendezvous seed: keyed hash of the id.
    seed: u64,
    /// What affinity values carry instead of the id: another keyed hash of it, under the
    /// current secret, then under each previous one.
    references: Vec<[u8; REF_BYTES]>,
    healthy: bool,
    draining: bool,
}

impl Backend {
    /// May take visitors it does not have yet.
    fn takes_new(&self) -> bool {
        self.healthy && !self.draining
    }
}

/// The backends of a router with their state. All start healthy and not draining.
#[derive(Clone, Debug)]
pub(crate) struct Backends {
    list: Vec<Backend>,
    /// False when every weight is the same: rendezvous needs no logarithm then.
    weighted: bool,
}

impl Backends {
    /// Checks the list (1 to 1024 backends, unique valid ids, weights 1 to 1,000,000).
    /// `secrets`: the current secret, then the previous ones.
    pub(crate) fn new(
        configs: &[BackendConfig],
        secrets: &[&Secret],
        ring: &Rendezvous,
    ) -> Result<Self> {
        if configs.is_empty() {
            return Err(Error::config_of(
                "backends",
                "backends: at least one backend is required",
            ));
        }
        if configs.len() > MAX_BACKENDS {
            return Err(Error::config_of(
                "backends",
                format!("backends: at most {MAX_BACKENDS} backends"),
            ));
        }
        let ref_keys: Vec<MacKey> = secrets
            .iter()
            .map(|s| MacKey::new(&s.derive(REF_PURPOSE)))
            .collect();
        // Every seed and reference so far, so that a repeat is found at once, not by a pass over
        // the backends before it (O(n^2) in all).
        let mut seen = vec![(0, 0); (2 * configs.len() * (1 + ref_keys.len())).next_power_of_two()];
        let mut list: Vec<Backend> = Vec::with_capacity(configs.len());
        for c in configs {
            check_id(&c.id)?;
            if !(1..=MAX_WEIGHT).contains(&c.weight) {
                return Err(weight_error(&c.id, c.weight.into()));
            }
            let references: Vec<[u8; REF_BYTES]> = ref_keys
                .iter()
                .map(|k| {
                    let mut reference = [0u8; REF_BYTES];
                    reference.copy_from_slice(&k.tag(c.id.as_bytes())[..REF_BYTES]);
                    reference
                })
                .collect();
            let seed = ring.hash(Domain::Backend, c.id.as_bytes());
            // The seed is 1, the reference under secret `g` is 2 + g: only the same kind clashes.
            let mut repeat = seen_before(&mut seen, 1, seed);
            for (r, kind) in references.iter().zip(2..) {
                repeat |= seen_before(&mut seen, kind, u64::from_le_bytes(*r));
            }
            if repeat {
                let message = if list.iter().any(|b| b.id == c.id) {
                    format!("backends: duplicate id {}", Quoted(configured(&c.id)))
                } else {
                    // Two 64-bit keyed hashes colliding: about one configuration in 10^16.
                    format!(
                        "backends: id {} collides with another under this secret; rename it",
                        Quoted(configured(&c.id))
                    )
                };
                return Err(Error::config_of("backends", message));
            }
            list.push(Backend {
                id: c.id.clone(),
                weight: c.weight,
                seed,
                references,
                healthy: true,
                draining: false,
            });
        }
        let first = configs.first().map(|c| c.weight);
        let weighted = configs.iter().any(|c| Some(c.weight) != first);
        Ok(Backends { list, weighted })
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|b| b.id.as_str())
    }

    pub(crate) fn id(&self, index: usize) -> Option<&str> {
        self.list.get(index).map(|b| b.id.as_str())
    }

    /// The reference to backend `index` in the values the router signs now.
    pub(crate) fn reference(&self, index: usize) -> Option<[u8; REF_BYTES]> {
        self.list
            .get(index)
            .and_then(|b| b.references.first().copied())
    }

    pub(crate) fn is_healthy(&self, index: usize) -> bool {
        self.list.get(index).is_some_and(|b| b.healthy)
    }

    /// The backend an affinity value signed with secret `generation` (0: the current one)
    /// names, if it is still configured.
    pub(crate) fn by_reference(&self, generation: usize, reference: &[u8]) -> Option<usize> {
        self.list
            .iter()
            .position(|b| b.references.get(generation).is_some_and(|r| r == reference))
    }

    fn index_of(&self, id: &str) -> Result<usize> {
        self.list.iter().position(|b| b.id == id).ok_or_else(|| {
            Error::config(format!("no backend has the id {}", Quoted(configured(id))))
        })
    }

    /// Marks a backend up or down; `invalid_config` for an unknown id.
    pub(crate) fn set_healthy(&mut self, id: &str, healthy: bool) -> Result<()> {
        let i = self.index_of(id)?;
        if let Some(b) = self.list.get_mut(i) {
            b.healthy = healthy;
        }
        Ok(())
    }

    /// Marks the backend at `index` up or down (nothing for an index out of range).
    pub(crate) fn set_healthy_at(&mut self, index: usize, healthy: bool) {
        if let Some(b) = self.list.get_mut(index) {
            b.healthy = healthy;
        }
    }

    /// Starts or stops draining a backend; `invalid_config` for an unknown id.
    pub(crate) fn set_draining(&mut self, id: &str, draining: bool) -> Result<()> {
        let i = self.index_of(id)?;
        if let Some(b) = self.list.get_mut(i) {
            b.draining = draining;
        }
        Ok(())
    }

    /// The rendezvous choice for `key` among backends that take new visitors (healthy, not
    /// draining); when every healthy backend is draining, among the healthy ones rather than
    /// failing. `no_backend` when none is healthy.
    pub(crate) fn choose(&self, key: u64) -> Result<usize> {
        self.pick_where(key, Backend::takes_new)
            .or_else(|| self.pick_where(key, |b| b.healthy))
            .ok_or(Error::NoBackend)
    }

    /// The key's home regardless of health: the rendezvous choice among backends that are not
    /// draining (or all, if every one is). What strict failover holds a hashed key to.
    pub(crate) fn home(&self, key: u64) -> Option<usize> {
        self.pick_where(key, |b| !b.draining)
            .or_else(|| self.pick_where(key, |_| true))
    }

    /// Whether `index`, chosen for `key`, is not the key's first choice among every configured
    /// backend (down or draining): a hashed visitor moved. With every backend taking new
    /// visitors, never (no second pass over the backends on the usual request).
    pub(crate) fn moved(&self, key: u64, index: usize) -> bool {
        !self.list.iter().all(Backend::takes_new) && self.pick_where(key, |_| true) != Some(index)
    }

    pub(crate) fn any_healthy(&self) -> bool {
        self.list.iter().any(|b| b.healthy)
    }

    fn pick_where(&self, key: u64, keep: impl Fn(&Backend) -> bool) -> Option<usize> {
        let candidates = self.list.iter().enumerate().filter(|(_, b)| keep(b));
        rendezvous::pick(
            key,
            self.weighted,
            candidates.map(|(i, b)| (i, b.seed, b.weight)),
        )
    }
}

/// The error of a weight out of 1 to [`MAX_WEIGHT`], naming the weight as given (what the
/// JavaScript face reads may not fit a `u32`).
pub(crate) fn weight_error(id: &str, weight: u64) -> Error {
    Error::config_of(
        "backends",
        format!(
            "backends[{}]: weight must be 1 to {MAX_WEIGHT}, got {weight}",
            Quoted(configured(id))
        ),
    )
}

/// Whether `(kind, key)` (`kind` not 0) is in `table`, a set kept by open addressing on the
/// key's low bits (keyed hashes, evenly spread; its length a power of two, at least twice what
/// it holds); it is added when not.
#[inline(never)]
fn seen_before(table: &mut [(usize, u64)], kind: usize, key: u64) -> bool {
    let mask = table.len().wrapping_sub(1);
    let start = key as usize;
    for step in 0..table.len() {
        let Some(held) = table.get_mut(start.wrapping_add(step) & mask) else {
            break;
        };
        if *held == (kind, key) {
            return true;
        }
        if held.0 == 0 {
            *held = (kind, key);
            return false;
        }
    }
    false
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_BACKEND_ID_BYTES || id.chars().any(char::is_control) {
        return Err(Error::config_of(
            "backends",
            format!(
            "backend id {} must be 1 to {MAX_BACKEND_ID_BYTES} bytes without control characters",
            Quoted(configured(id))
        ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends(ids: &[(&str, u32)]) -> Result<Backends> {
        let secret = Secret::new(vec![5; 32]).unwrap();
        let ring = Rendezvous::new(&secret);
        let configs: Vec<_> = ids
            .iter()
            .map(|&(id, w)| BackendConfig::weighted(id, w))
            .collect();
        Backends::new(&configs, &[&secret], &ring)
    }

    #[test]
    fn configuration_rules() {
        assert!(backends(&[("a", 1), ("b", 1_000_000)]).is_ok());
        for bad in [
            &[][..],
            &[("a", 0)],
            &[("a", 1_000_001)],
            &[("a", 1), ("a", 2)],
            &[("", 1)],
            &[("a\nb", 1)],
        ] {
            assert_eq!(
                backends(bad).unwrap_err().code(),
                "invalid_config",
                "{bad:?}"
            );
        }
        let many: Vec<(String, u32)> = (0..=MAX_BACKENDS).map(|i| (format!("b{i}"), 1)).collect();
        let many: Vec<(&str, u32)> = many.iter().map(|(s, w)| (s.as_str(), *w)).collect();
        assert!(backends(&many).is_err());
        assert!(backends(&many[..MAX_BACKENDS]).is_ok());
    }

    /// The message of the error `ids` (weight 1, or the weight after `=`) are refused with.
    fn refusal(ids: &[&str]) -> String {
        let ids: Vec<(&str, u32)> = ids
            .iter()
            .map(|s| match s.split_once('=') {
                Some((id, w)) => (id, w.parse().unwrap()),
                None => (*s, 1),
            })
            .collect();
        match backends(&ids).unwrap_err() {
            Error::InvalidConfig {
                setting: Some("backends"),
                message,
            } => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_first_backend_in_order_that_is_wrong_is_named() {
        let dup = "backends: duplicate id \"a\"";
        let bad_id = "backend id \"\" must be 1 to 256 bytes without control characters";
        let bad_weight = "backends[\"c\"]: weight must be 1 to 1000000, got 0";
        assert_eq!(refusal(&["a", "b", "a", ""]), dup);
        assert_eq!(refusal(&["a", "b", "a", "c=0"]), dup);
        assert_eq!(refusal(&["a", "", "a"]), bad_id);
        assert_eq!(refusal(&["a", "c=0", "a"]), bad_weight);
        assert_eq!(refusal(&["a", "b", "c=0", "b", "a"]), bad_weight);
        assert_eq!(
            refusal(&["x", "a", "b", "b", "a"]),
            "backends: duplicate id \"b\""
        );
        assert_eq!(refusal(&["a", "b", "a", "b", "b"]), dup);
        // Among the most backends, a repeat of the first as the last.
        let mut many: Vec<String> = (0..MAX_BACKENDS - 1).map(|i| format!("b{i}")).collect();
        many.push("b0".into());
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(refusal(&many), "backends: duplicate id \"b0\"");
        // A long id (a secret set in the wrong place?) is never quoted.
        let long = "k".repeat(43);
        assert_eq!(
            refusal(&[long.as_str(), long.as_str()]),
            "backends: duplicate id \"<more than 15 bytes, not shown>\""
        );
    }

    #[test]
    fn the_set_of_seeds_and_references_finds_repeats_of_the_same_kind() {
        let mut table = vec![(0, 0); 8];
        // Keys whose low bits collide are kept apart, a key of another kind is another entry.
        for (kind, key) in [(1, 3), (1, 11), (2, 3), (1, 19), (3, 11), (1, 7), (1, 15)] {
            assert!(!seen_before(&mut table, kind, key), "{kind} {key}");
        }
        for (kind, key) in [(1, 3), (1, 11), (2, 3), (1, 19), (3, 11), (1, 15)] {
            assert!(seen_before(&mut table, kind, key), "{kind} {key}");
        }
        assert!(!seen_before(&mut table, 2, 11));
        // Full: what is not there is not found, and nothing is lost.
        assert!(!seen_before(&mut table, 4, 4));
        assert!(seen_before(&mut table, 1, 7));
    }

    #[test]
    fn references_hide_the_id() {
        let b = backends(&[("10.0.0.1:8080", 1), ("b", 1)]).unwrap();
        let r = b.reference(0).unwrap();
        assert_eq!(b.by_reference(0, &r), Some(0));
        assert!(!r.windows(2).any(|w| w == b"10"));
        assert_eq!(b.by_reference(0, &[0; REF_BYTES]), None);
        assert_eq!(b.by_reference(0, &r[..4]), None);
        // There is no previous secret here.
        assert_eq!(b.by_reference(1, &r), None);
    }

    #[test]
    fn references_under_a_previous_secret_name_the_same_backends() {
        let (old, new) = (
            Secret::new(vec![5; 32]).unwrap(),
            Secret::new(vec![6; 32]).unwrap(),
        );
        let configs = [BackendConfig::new("a"), BackendConfig::new("b")];
        let before = Backends::new(&configs, &[&old], &Rendezvous::new(&old)).unwrap();
        let after = Backends::new(&configs, &[&new, &old], &Rendezvous::new(&new)).unwrap();
        for i in 0..2 {
            let r = before.reference(i).unwrap();
            assert_eq!(after.by_reference(1, &r), Some(i));
            assert_eq!(after.by_reference(0, &r), None);
            assert_ne!(after.reference(i), Some(r));
        }
    }

    #[test]
    fn choice_skips_down_and_draining_backends() {
        let mut b = backends(&[("a", 1), ("b", 1), ("c", 1)]).unwrap();
        b.set_healthy("a", false).unwrap();
        b.set_draining("b", true).unwrap();
        for key in 0..200 {
            assert_eq!(b.choose(key).unwrap(), 2);
        }
        // Every healthy backend draining: new keys still find one.
        b.set_draining("c", true).unwrap();
        assert!((0..200).all(|k| b.choose(k).unwrap() != 0));
        b.set_healthy("b", false).unwrap();
        b.set_healthy("c", false).unwrap();
        assert_eq!(b.choose(7).unwrap_err().code(), "no_backend");
        assert!(!b.any_healthy());
        assert_eq!(
            b.set_healthy("zz", true).unwrap_err().code(),
            "invalid_config"
        );
        assert_eq!(
            b.set_draining("zz", true).unwrap_err().code(),
            "invalid_config"
        );
    }
}
