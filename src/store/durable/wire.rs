//! The wire protocol between the store's client and its objects: an [`Op`] as JSON in the
//! body of a `POST`, a [`Reply`] as JSON in the answer.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::json;
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

impl Op {
    /// Reads an operation from JSON text as its `Deserialize` reads it (the same objects; see
    /// `Wire`), with the crate's own JSON reader: the store's and the gateway's wasm carry no
    /// serde visitor for it. Beyond what `Deserialize` refuses, an object with a member named
    /// twice, and the `op` in serde's other enum spelling (`{"load": null}`): the client sends
    /// neither. `None` when it is no operation.
    pub fn from_json(text: &str) -> Option<Op> {
        let members = json::members(text).ok()?;
        let entry = json::optional(&members, "entry", Entry::read)?;
        let expected = json::optional(&members, "expected", json::whole)?;
        let key = json::optional(&members, "key", json::owned_string)?;
        let until = json::optional(&members, "until", json::whole)?;
        let now = json::optional(&members, "now", json::whole)?;
        let keys = json::optional(&members, "keys", json::owned_strings)?;
        Some(match json::string(json::get(&members, "op")?)?.as_ref() {
            "load" => Op::Load,
            "save" => Op::Save {
                entry: entry?,
                expected,
            },
            "delete" => Op::Delete,
            "link" => Op::Link {
                key: key?,
                until: until?,
                now: now?,
            },
            "links" => Op::Links,
            "unlink" => Op::Unlink { keys: keys? },
            _ => return None,
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
    /// `delete`: whether there was a session (an entry, not a renewed id's marker).
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

    /// Reads a reply from JSON text as its `Deserialize` reads it, with the crate's own JSON
    /// reader (as [`Op::from_json`]; an object with a member named twice is refused too).
    pub fn from_json(text: &str) -> Option<Reply> {
        let members = json::members(text).ok()?;
        Some(Reply {
            ok: json::boolean(json::get(&members, "ok")?)?,
            code: json::optional(&members, "code", json::owned_string)?,
            entry: json::optional(&members, "entry", Entry::read)?,
            existed: json::optional(&members, "existed", json::boolean)?,
            keys: json::optional(&members, "keys", json::owned_strings)?,
        })
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

    /// An operation as the object reads it, the same as `Deserialize` reads it.
    fn read(json: &str) -> Option<Op> {
        let op = Op::from_json(json);
        assert_eq!(op, serde_json::from_str(json).ok(), "{json}");
        op
    }

    /// A reply as the client reads it, the same as `Deserialize` reads it.
    fn reply(json: &str) -> Option<Reply> {
        let reply = Reply::from_json(json);
        assert_eq!(reply, serde_json::from_str(json).ok(), "{json}");
        reply
    }

    /// The crate's own readers take what `Deserialize` takes, each member of its type (the
    /// entry's too), `null` or nothing for an optional one, and refuse the rest.
    #[test]
    fn the_readers_read_as_deserialize() {
        let entry = r#"{"v":1,"r":"a\"b\u00e9","x":9}"#;
        for json in [
            format!(r#"{{"op":"save","entry":{entry},"expected":18446744073709551615}}"#),
            format!(r#"{{"op":"save","entry":{entry},"expected":18446744073709551616}}"#),
            format!(r#"{{"op":"save","entry":{entry},"expected":1.0}}"#),
            format!(r#"{{"op":"save","entry":{entry},"expected":-0}}"#),
            r#"{"op":"save","entry":{"v":1,"r":"x"}}"#.into(),
            r#"{"op":"save","entry":{"v":1,"r":2,"x":3}}"#.into(),
            r#"{"op":"save","entry":{"v":"1","r":"x","x":3}}"#.into(),
            r#"{"op":"save","entry":{"v":1,"r":"x","x":3,"y":[{}]}}"#.into(),
            r#"{"op":"link","key":"k\u0000","until":2,"now":0}"#.into(),
            r#"{"op":"link","key":null,"until":2,"now":1}"#.into(),
            r#"{"op":"link","key":"k","until":2,"now":1e0}"#.into(),
            r#"{"op":"unlink","keys":[]}"#.into(),
            r#"{"op":"unlink","keys":["a",1]}"#.into(),
            r#"{"op":"unlink","keys":null}"#.into(),
            r#"{"op":"links","keys":["a"],"until":null}"#.into(),
            r#"{"op":"delete","expected":"1"}"#.into(),
            r#"{"op":1}"#.into(),
            r#"{"op":"lo\u0061d"}"#.into(),
            r#" {"op":"load"} "#.into(),
            r#"{"op":"load"} x"#.into(),
            r#""load""#.into(),
            "".into(),
        ] {
            read(&json);
        }
        for json in [
            format!(r#"{{"ok":true,"entry":{entry},"existed":false,"keys":["a"],"code":"c"}}"#),
            r#"{"ok":true,"entry":null,"existed":null,"keys":null,"code":null}"#.into(),
            r#"{"ok":1}"#.into(),
            r#"{"ok":true,"existed":0}"#.into(),
            r#"{"ok":true,"code":5}"#.into(),
            r#"{"ok":true,"keys":[null]}"#.into(),
            r#"{"ok":true,"entry":{}}"#.into(),
            r#"{"code":"conflict"}"#.into(),
            r#"{"ok":false,"more":{"a":[1,2]}}"#.into(),
            "[]".into(),
        ] {
            reply(&json);
        }
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
        let result = |json: &str| reply(json).unwrap().into_result();
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
