//! `rivven-connect-cdc`: change-data-capture sources for rivven-connect.
//!
//! - [`common`]: what every CDC source shares — deduplication, tombstones
//!   after deletes, per-table column filters (topic routing lives in
//!   `rivven_connect::topic`).
//! - [`postgres`] (feature `postgres`, on by default): `postgres-cdc`,
//!   PostgreSQL logical replication with the built-in `pgoutput` plugin.
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
//! ```
#![warn(missing_docs)]

pub mod common;
#[cfg(feature = "postgres")]
pub mod postgres;

/// Makes sure this crate — and so its connectors' registrations — is linked
/// into the binary calling it. A no-op at run time.
#[inline(never)]
pub fn link() {
    std::hint::black_box(());
}
