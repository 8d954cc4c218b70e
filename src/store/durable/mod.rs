//! The Durable Object store: one object per session, strongly consistent, compare-and-set.
//!
//! Each session lives in its own Durable Object, named by its store key (`idFromName`), which
//! holds one entry. A save names the version it read, and the object refuses a stale one
//! (`conflict`): the check and the write happen in one event of the object, and the runtime
//! delivers no other event to it while it waits on its storage (input gates), so no update is
//! ever silently lost. Each subject's sessions are listed in another object (`u:<subject tag>`)
//! for revocation. An alarm deletes an entry once it expires.
//!
//! One file per end of the wire:
//!
//! - `wire`: the protocol, [`Op`] (a request, JSON in the body of a `POST`) and [`Reply`].
//! - `object`: the object's side, [`handle`] and [`alarm`] over any [`ObjectStorage`], in plain
//!   Rust (tested natively with [`MemoryObjectStorage`]).
//! - `storage` (features `store` or `gateway`): the object's side on the platform,
//!   `JsObjectStorage` (a Durable Object's storage as an [`ObjectStorage`]), `serve_object`
//!   and `object_alarm`.
//! - `client` (features `store` or `gateway`): the worker's side, `DurableStore`, the
//!   [`Backend`](super::Backend) that sends each operation to its object.
//!
//! ```
//! use edge_session::store::durable::{handle, MemoryObjectStorage};
//! # futures_executor::block_on(async {
//! let storage = MemoryObjectStorage::default();
//! let save = r#"{"op":"save","entry":{"v":1,"r":"sealed","x":1800000600},"expected":null}"#;
//! assert_eq!(handle(&storage, save).await, r#"{"ok":true}"#);
//! let again = handle(&storage, save).await;
//! assert_eq!(again, r#"{"ok":false,"code":"conflict"}"#);
//! # });
//! ```

#[cfg(any(feature = "store", feature = "gateway"))]
mod client;
mod object;
#[cfg(any(feature = "store", feature = "gateway"))]
mod storage;
mod wire;

#[cfg(any(feature = "store", feature = "gateway"))]
pub use client::DurableStore;
pub use object::{alarm, handle, MemoryObjectStorage, ObjectStorage};
#[cfg(any(feature = "store", feature = "gateway"))]
pub use storage::{object_alarm, serve_object, JsObjectStorage};
pub use wire::{Op, Reply};
