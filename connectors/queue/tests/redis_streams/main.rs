//! Integration tests of the `redis-streams` source and sink against a
//! private Redis (connect-testing's `services::Redis`; a missing
//! `redis-server` fails the tests), with `redis-cli` as the independent client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compliance;
mod sink;
mod source;
mod support;
mod tls;
