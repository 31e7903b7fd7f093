//! Integration tests of the `rivven` sink and source against a real private
//! `rivvend` (connect-testing's `services::Rivven`; a missing `rivvend` fails
//! the tests, naming `cargo install rivvend --version 0.0.22 --locked`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker_kill;
mod broker_restart;
mod compliance;
mod hostile;
mod loss;
mod service;
mod sink;
mod source;
mod support;
