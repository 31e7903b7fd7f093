//! Integration tests of the `mqtt` source and sink against a private
//! Mosquitto (connect-testing's `services::Mosquitto`; a missing `mosquitto`
//! fails the tests), with `mosquitto_pub`/`mosquitto_sub` as the independent
//! clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod compliance;
mod options;
mod pipelined;
mod sink;
mod source;
mod support;
mod tls;
mod v5;
mod v5_refusals;
