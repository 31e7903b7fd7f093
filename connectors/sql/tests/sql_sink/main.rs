//! The `sql-sink` against private PostgreSQL and MariaDB servers; what it
//! wrote is read back with independent clients (tokio-postgres, mysql_async).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod bad_input;
mod compliance;
mod exactly_once;
mod exactly_once_rejects;
mod modes;
mod tls;
