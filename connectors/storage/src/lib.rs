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
//!   zstd, snappy and lz4 for the text formats. `csv`, `parquet` and `avro`
//!   are registered in `rivven-connect`'s format registry, so the built-in
//!   `file` sink appends CSV (`output_format: csv`) and the `file` source
//!   reads it back (`format: csv`).
//!
//! - [`parquet`] (feature `parquet`): Parquet files with an Arrow schema
//!   inferred from the events (`Int64` + `Float64` → `Float64`, other mixed
//!   scalars → `Utf8`, every column nullable), row groups, codecs snappy,
//!   zstd, lz4 (raw), gzip, none (brotli with `parquet-brotli`), CDC
//!   envelopes as structs or flattened.
//!
//! # Delivery and object names
//!
//! The sink gathers events across the runtime's writes into objects of
//! exactly `batch_size` events (fewer when `max_file_bytes` is reached, when
//! `flush_interval_secs` passed since the object's first event, at
//! shutdown, or when a schema change starts a new file), and reports the
//! events it holds as pending (`WriteResult::pending`): the runtime
//! acknowledges them — and commits the source's offsets — only once their
//! object is stored. Objects appear whole (one PUT; a multipart upload above
//! `multipart_threshold_bytes`, completed only when every part is in and
//! aborted on failure). Names are
//! `{prefix}/{partition}/{file_prefix}-{start}-{writer}-{seq}.{ext}`: the
//! writer's start time (`20260101T101500123Z`), 12 random hex digits of the
//! writer, a 10-digit sequence; they sort by time and never collide across
//! restarts or between writers, so a replay never overwrites an object.
//! The local provider writes each object to `<name>#<n>` and renames it;
//! a `kill -9` can leave such a file, which object_store's listings (and
//! the source) ignore.
//!
//! # Not supported (yet)
//!
//! GCS was not run against a server (no emulator here; its configuration is
//! checked offline). Azure is tested against Azurite (the emulator), not
//! the real service. The built-in `file` sink appends, so it takes the
//! appendable formats (`jsonl`, `csv`) and refuses those that only make
//! whole files (`json`, `parquet`, `avro`), pointing at this sink with
//! `provider: local`.
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

pub mod avro;
pub mod compression;
pub mod csv;
pub mod format;
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
mod http;
pub mod object_storage;
pub mod parquet;
pub mod reader;

/// References the crate so that its connectors' registrations are linked.
pub fn link() {}
