//! `rivven-connect-cdc`: change-data-capture sources for rivven-connect.
//!
//! - [`common`]: the CDC core every source shares — the Debezium-style
//!   envelope builder (keys, stream names from `topic_routing`, column
//!   filters, tombstones) generic over the source's coordinates, the typed
//!   resume state, the snapshot-then-stream plan and its progress
//!   checkpoints, and deduplication. A new source plugs in its wire protocol
//!   and type mapping (see [`common`]'s docs).
//! - [`postgres`] (feature `postgres`, on by default): `postgres-cdc`,
//!   PostgreSQL logical replication with the built-in `pgoutput` plugin.
//! - [`mysql`] (feature `mysql`, on by default): `mysql-cdc`, the
//!   MySQL/MariaDB binary log read as a replica.
//!
//! The connectors register themselves (their config derive's `connector = …`),
//! so linking this crate makes them available by name in YAML; a binary that
//! does not otherwise reference the crate calls [`link`] once.
//!
//! ```
//! rivven_connect_cdc::link();
//! let registry = rivven_connect::registry::Registry::discovered().unwrap();
//! # #[cfg(feature = "postgres")]
//! assert!(registry.source("postgres-cdc").is_some());
//! # #[cfg(feature = "mysql")]
//! assert!(registry.source("mysql-cdc").is_some());
//! ```
#![warn(missing_docs)]

pub mod common;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;

/// Makes sure this crate — and so its connectors' registrations — is linked
/// into the binary calling it. A no-op at run time.
#[inline(never)]
pub fn link() {
    std::hint::black_box(());
}
