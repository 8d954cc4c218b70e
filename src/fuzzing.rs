//! Not API: the private parsers, reachable by the fuzz targets in `fuzz/` and by their corpus
//! replay (`tests/fuzz_corpus.rs`), which only see the public crate. Hidden from the docs, no
//! stability promise, native builds only (nothing here reaches the wasm).

use crate::affinity::value::{AffinityValue, ValueKey};
use crate::error::Result;
use crate::keys::Secret;
use crate::time::UnixTime;

/// Why [`json_members`] refused its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonRefusal {
    /// Not exactly one JSON object.
    NotObject,
    /// A member name appears twice at the top level.
    Duplicate,
}

/// The strict JSON object reader of claims and JOSE headers: the top-level members, sorted by
/// name, each value as raw JSON text.
pub fn json_members(text: &str) -> std::result::Result<Vec<(String, String)>, JsonRefusal> {
    match crate::json::members(text) {
        Ok(members) => Ok(members
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v.to_owned()))
            .collect()),
        // serde_json refuses all three as invalid JSON.
        Err(
            crate::json::ObjectError::NotObject
            | crate::json::ObjectError::LoneSurrogate
            | crate::json::ObjectError::TooDeep,
        ) => Err(JsonRefusal::NotObject),
        Err(crate::json::ObjectError::Duplicate) => Err(JsonRefusal::Duplicate),
    }
}

/// Strict base64url decoding (no padding, canonical trailing bits).
pub fn b64url_decode(text: &str) -> Result<Vec<u8>> {
    crate::codec::b64_decode(text)
}

/// Base64url encoding without padding.
pub fn b64url_encode(bytes: &[u8]) -> String {
    crate::codec::b64_encode(bytes)
}

/// The values of the query parameter `name` in `url` (affinity URL mode).
pub fn url_param_values<'a>(url: &'a str, name: &'a str) -> Vec<&'a str> {
    crate::affinity::url::param_values(url, name).collect()
}

/// `url` with the parameter `name` set to `value` (affinity URL mode).
pub fn url_with_param(url: &str, name: &str, value: &str) -> String {
    crate::affinity::url::with_param(url, name, value, crate::affinity::url::Written::Plain)
}

/// `url` without the parameter `name` under any spelling (affinity URL mode: what the origin
/// gets).
pub fn url_without_param(url: &str, name: &str) -> String {
    crate::affinity::url::without_param(url, name)
}

/// The fields of an affinity value: backend reference, visitor, issued at, last seen.
pub type AffinityFields = ([u8; 8], u64, UnixTime, UnixTime);

/// The affinity value's keys for `current` and `previous` secrets.
pub struct AffinityValues(ValueKey);

impl AffinityValues {
    /// The keys of `current` (seals and opens) and `previous` (open only).
    pub fn new(current: &Secret, previous: &[Secret]) -> Self {
        AffinityValues(ValueKey::new(current, previous))
    }

    /// The signed text of a value.
    pub fn seal(&self, fields: AffinityFields) -> String {
        let (backend, visitor, issued_at, last_seen) = fields;
        self.0.seal(&AffinityValue {
            backend,
            visitor,
            issued_at,
            last_seen,
        })
    }

    /// The fields of an authentic value, and which secret signed it (0: the current one).
    pub fn open(&self, text: &str) -> Result<(AffinityFields, usize)> {
        let (v, generation) = self.0.open(text)?;
        Ok(((v.backend, v.visitor, v.issued_at, v.last_seen), generation))
    }
}
