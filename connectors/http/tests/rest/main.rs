//! Integration tests of the `http` REST polling source against a paginated
//! API started in the test (axum, on a free loopback port).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compliance;
mod failures;
mod pagination;
mod resume;
mod support;
mod tls;
