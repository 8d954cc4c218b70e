//! The wire protocol between the store's client and its objects: an [`Op`] as JSON in the
//! body of a `POST`, a [`Reply`] as JSON in the answer.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Entry;
use crate::time::UnixTime;

/// A request to an object, sent as JSON in the body of a `POST`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
