//! Integration tests of the `nats` source and sink against a private
//! nats-server with JetStream (connect-testing's `services::Nats`; a missing
//! `nats-server` fails the tests), with nats-py as the independent client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod compliance;
mod consumer;
mod sink;
mod source;
mod support;
mod tls;
