//! The wire protocol between the store's client and its objects: an [`Op`] as JSON in the
//! body of a `POST`, a [`Reply`] as JSON in the answer.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Entry;
use crate::time::UnixTime;

/// A request to an object, sent as JSON in the body of a `POST`: `{"op": "save", ...}`, the
/// variant's name in lowercase under `op` and its fields beside it (serde's internally tagged
/// form; read through a plain struct of the tag and every field, see `Wire`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    /// The session object's entry.
    Load,
    /// Write the entry if the stored version is `expected` (`None`: nothing stored).
    Save {
        /// The new entry.
        entry: Entry,
        /// The version the writer read.
        expected: Option<u64>,
    },
    /// Delete the entry; the reply says whether there was one.
    Delete,
    /// On a subject object: remember session `key` until `until`.
    Link {
        /// The session's store key.
        key: String,
        /// When the link may be forgotten.
        until: UnixTime,
        /// The caller's clock, to forget links past their time.
        now: UnixTime,
    },
    /// On a subject object: the linked session keys (the links stay until [`Op::Unlink`]).
    Links,
    /// On a subject object: forget the links of these session keys (those a revocation
    /// deleted: a session whose deletion failed stays linked, so that a retry finds it).
    Unlink {
        /// The session keys.
        keys: Vec<String>,
    },
}

/// The names of the operations, as `op` gives them.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Load,
    Save,
    Delete,
    Link,
    Links,
    Unlink,
}

/// An [`Op`] as JSON: the tag and every field any operation has. Read as one struct, not as
/// serde's internally tagged enum, which buffers the whole object into its `Content` tree first
/// and brings that machinery (several KB of wasm) for this one type. The same JSON objects are
/// accepted, but for a field of another operation with a wrong type (`{"op":"load","keys":1}`:
/// refused here, ignored by the tagged form); and the tagged form's array spelling
/// (`["load"]`) is not: the client sends neither.
#[derive(Deserialize)]
struct Wire {
    op: Kind,
    entry: Option<Entry>,
    expected: Option<u64>,
    key: Option<String>,
    until: Option<UnixTime>,
    now: Option<UnixTime>,
    keys: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        fn need<T, E: serde::de::Error>(
            v: Option<T>,
            name: &'static str,
        ) -> std::result::Result<T, E> {
            v.ok_or_else(|| E::missing_field(name))
        }
        let w = Wire::deserialize(d)?;
        Ok(match w.op {
            Kind::Load => Op::Load,
            Kind::Save => Op::Save {
                entry: need(w.entry, "entry")?,
                expected: w.expected,
            },
            Kind::Delete => Op::Delete,
            Kind::Link => Op::Link {
                key: need(w.key, "key")?,
                until: need(w.until, "until")?,
                now: need(w.now, "now")?,
            },
            Kind::Links => Op::Links,
            Kind::Unlink => Op::Unlink {
                keys: need(w.keys, "keys")?,
            },
        })
    }
}

/// An object's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// False when the operation was refused or failed.
    pub ok: bool,
    /// Why not: `conflict`, `malformed`, `store_unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `load`: the entry, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
    /// `delete`: whether there was an entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existed: Option<bool>,
    /// `links`: the linked session keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
}

impl Reply {
    /// Success, with nothing to say yet.
    pub(super) fn ok() -> Self {
        Reply {
            ok: true,
            ..Reply::default()
        }
    }

    /// A refusal, naming the error's code.
    pub(super) fn refused(error: &Error) -> Self {
        Reply {
            ok: false,
            code: Some(error.code().to_owned()),
            ..Reply::default()
        }
    }

    /// The reply as the error it stands for, when it is one.
    pub fn into_result(self) -> Result<Reply> {
        match (self.ok, self.code.as_deref()) {
            (true, _) => Ok(self),
            (false, Some("conflict")) => Err(Error::Conflict),
            (false, Some("malformed")) => Err(Error::Malformed("store request")),
            (false, code) => Err(Error::StoreUnavailable(format!(
                "durable object refused: {}",
                code.unwrap_or("no code")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Option<Op> {
        serde_json::from_str(json).ok()
    }

    #[test]
    fn ops_read_as_the_internally_tagged_form_writes_them() {
        let entry = Entry {
            version: 3,
            value: "abc".into(),
            expires: 99,
        };
        let ops = [
            Op::Load,
            Op::Save {
                entry: entry.clone(),
                expected: Some(2),
            },
            Op::Save {
                entry,
                expected: None,
            },
            Op::Delete,
            Op::Link {
                key: "s:x".into(),
                until: 10,
                now: 5,
            },
            Op::Links,
            Op::Unlink {
                keys: vec!["a".into(), "b".into()],
            },
        ];
        for op in ops {
            let json = serde_json::to_string(&op).unwrap();
            assert_eq!(read(&json), Some(op), "{json}");
        }
        assert_eq!(
            serde_json::to_string(&Op::Link {
                key: "k".into(),
                until: 2,
                now: 1
            })
            .unwrap(),
            r#"{"op":"link","key":"k","until":2,"now":1}"#
        );
        // What the tagged form accepted besides: fields in any order, the tag last, `expected`
        // left out or null, other operations' fields (well typed) ignored.
        let save = r#"{"entry":{"v":1,"r":"x","x":9},"op":"save"}"#;
        assert!(matches!(read(save), Some(Op::Save { expected: None, .. })));
        let save = r#"{"op":"save","entry":{"v":1,"r":"x","x":9},"expected":null}"#;
        assert!(matches!(read(save), Some(Op::Save { expected: None, .. })));
        assert_eq!(
            read(r#"{"op":"load","key":"k","other":[1]}"#),
            Some(Op::Load)
        );
    }

    #[test]
    fn malformed_ops_are_refused() {
        for json in [
            r#"{}"#,
            r#"{"op":"nope"}"#,
            r#"{"op":"Load"}"#,
            r#"{"op":"save"}"#,
            r#"{"op":"save","entry":null}"#,
            r#"{"op":"link","key":"k","until":2}"#,
            r#"{"op":"link","key":"k","until":-1,"now":1}"#,
            r#"{"op":"unlink"}"#,
            r#"{"op":"unlink","keys":"a"}"#,
            r#"{"op":"load","op":"load"}"#,
        ] {
            assert_eq!(read(json), None, "{json}");
        }
    }

    /// What the client makes of an object's answer (JSON, as the object writes it): a success is
    /// the reply itself, with what it carries; a refusal is the error its code names, an unknown
    /// code or none the store unavailable, saying which.
    #[test]
    fn replies_read_as_the_errors_they_stand_for() {
        let result = |json: &str| serde_json::from_str::<Reply>(json).unwrap().into_result();
        let loaded = result(r#"{"ok":true,"entry":{"v":3,"r":"abc","x":99}}"#).unwrap();
        let entry = Entry {
            version: 3,
            value: "abc".into(),
            expires: 99,
        };
        assert_eq!(loaded.entry, Some(entry));
        assert_eq!(
            result(r#"{"ok":true,"existed":true}"#).unwrap().existed,
            Some(true)
        );
        assert_eq!(
            result(r#"{"ok":true,"keys":["s:a"]}"#).unwrap().keys,
            Some(vec!["s:a".into()])
        );
        assert_eq!(
            result(r#"{"ok":false,"code":"conflict"}"#),
            Err(Error::Conflict)
        );
        assert_eq!(
            result(r#"{"ok":false,"code":"malformed"}"#),
            Err(Error::Malformed("store request"))
        );
        assert_eq!(
            result(r#"{"ok":false,"code":"store_unavailable"}"#),
            Err(Error::StoreUnavailable(
                "durable object refused: store_unavailable".into()
            ))
        );
        assert_eq!(
            result(r#"{"ok":false}"#),
            Err(Error::StoreUnavailable(
                "durable object refused: no code".into()
            ))
        );
    }
}
