//! `rivven-connect-sql`: the sql family for rivven-connect — relational
//! databases through [sqlx](https://docs.rs/sqlx), PostgreSQL (feature
//! `postgres`) and MySQL/MariaDB (feature `mysql`), both on by default; the
//! URL's scheme chooses the database.
//!
//! - [`sink`]: the `sql-sink` — `insert`, `upsert` on the key, or `cdc`
//!   (apply a Debezium-style change stream), batched multi-row statements in
//!   one transaction per batch, optional table creation and column addition,
//!   and `delivery: exactly_once`: the pipeline's position is stored in a
//!   `rivven_offsets` table in each batch's transaction, and the runtime
//!   resumes from it after a crash (see `rivven_connect::Sink::stores_position`).
//! - [`source`]: the `sql-source` — incremental reads ordered by a cursor
//!   column (ties broken by the key), or full refreshes, polled.
//!
//! TLS goes through rustls with the ring provider, set in the URL's query
//! string: for PostgreSQL `?sslmode=require` (encrypted, certificate not
//! checked) or `?sslmode=verify-full&sslrootcert=/path/ca.pem` (the
//! certificate must chain to that CA and name the host — tested against a
//! server that refuses plain TCP); for MySQL/MariaDB `?ssl-mode=required` or
//! `?ssl-mode=verify_identity&ssl-ca=/path/ca.pem`.
//!
//! The connectors register themselves, so linking this crate makes them
//! available by name in YAML; a binary that does not otherwise reference the
//! crate calls [`link`] once.
//!
//! ```
//! rivven_connect_sql::link();
//! let registry = rivven_connect::registry::Registry::discovered().unwrap();
//! # #[cfg(any(feature = "postgres", feature = "mysql"))]
//! assert!(registry.sink("sql-sink").is_some());
//! # #[cfg(any(feature = "postgres", feature = "mysql"))]
//! assert!(registry.source("sql-source").is_some());
//! ```
#![warn(missing_docs)]

#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod db;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod sink;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod source;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod values;

#[cfg(any(feature = "postgres", feature = "mysql"))]
pub use sink::{SqlSink, SqlSinkConfig};
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub use source::{SqlSource, SqlSourceConfig};

/// Makes sure this crate is linked, so its connectors' registrations are
/// seen by `Registry::discovered()` (call it once from a binary that does
/// not otherwise name the crate).
#[inline(never)]
pub fn link() {
    std::hint::black_box(());
}
