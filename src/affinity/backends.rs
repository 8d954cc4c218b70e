//! The backend set: ids, weights, health and draining, and the choice of a backend for a key.

use serde::Deserialize;

use super::rendezvous::{self, Domain, Rendezvous};
use crate::error::{Error, Quoted, Result};
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
        let mut list: Vec<Backend> = Vec::with_capacity(configs.len());
        for c in configs {
            check_id(&c.id)?;
            if !(1..=MAX_WEIGHT).contains(&c.weight) {
                return Err(Error::config_of(
                    "backends",
                    format!(
                        "backends[{}]: weight must be 1 to {MAX_WEIGHT}, got {}",
                        Quoted(&c.id),
                        c.weight
                    ),
                ));
            }
            if list.iter().any(|b| b.id == c.id) {
                return Err(Error::config_of(
                    "backends",
                    format!("backends: duplicate id {}", Quoted(&c.id)),
                ));
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
            let clash = |b: &Backend| {
                b.seed == seed || b.references.iter().zip(&references).any(|(x, y)| x == y)
            };
            if list.iter().any(clash) {
                // Two 64-bit keyed hashes colliding: about one configuration in 10^16.
                return Err(Error::config_of(
                    "backends",
                    format!(
                        "backends: id {} collides with another under this secret; rename it",
                        Quoted(&c.id)
                    ),
                ));
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
        self.list
            .iter()
            .position(|b| b.id == id)
            .ok_or_else(|| Error::config(format!("no backend has the id {}", Quoted(id))))
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

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_BACKEND_ID_BYTES || id.chars().any(char::is_control) {
        return Err(Error::config_of(
            "backends",
            format!(
            "backend id {} must be 1 to {MAX_BACKEND_ID_BYTES} bytes without control characters",
            Quoted(id)
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
