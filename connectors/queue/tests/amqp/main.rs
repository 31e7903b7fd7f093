//! Integration tests of the `amqp` source and sink against a private
//! RabbitMQ node (connect-testing's `services::RabbitMq`; a missing
//! `rabbitmq-server` fails the tests), with Python's `pika` as the
//! independent client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod compliance;
mod sink;
mod source;
mod support;
mod tls;
