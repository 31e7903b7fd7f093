//! `rivven-connect-storage`: the storage family for rivven-connect.
//!
//! - [`object_storage`]: the `object-storage` sink (legacy names `s3`,
//!   `gcs`, `azure-blob`) on the `object_store` crate — providers `local`
//!   (always), `s3` (feature `s3`, on by default), `gcs` (feature `gcs`),
//!   `azure` (feature `azure`); bundle `storage-full`.
//! - the `object-storage` source, which reads back what the sink wrote
//!   (any format and compression, by extension) in name order.
//! - Formats ([`format`]): `json` and `jsonl` (from `rivven-connect`'s
//!   [`rivven_connect::format`]), [`csv`]; output [`compression`] gzip,
//!   zstd, snappy and lz4 for the text formats.
//!
//! The connectors register themselves (their config derive's `connector =
//! …`); a binary that does not otherwise reference the crate calls [`link`].
//!
//! ```
//! rivven_connect_storage::link();
//! let registry = rivven_connect::registry::Registry::discovered().unwrap();
//! assert!(registry.sink("object-storage").is_some());
//! ```
#![warn(missing_docs)]

pub mod compression;
pub mod csv;
pub mod format;
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
mod http;
pub mod object_storage;
pub mod reader;

/// References the crate so that its connectors' registrations are linked.
pub fn link() {}
