//! The `sql-source` against private PostgreSQL and MariaDB servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../sql_sink/support.rs"]
#[allow(dead_code)]
mod support;

mod reads;
