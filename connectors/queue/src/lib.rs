//! `rivven-connect-queue`: the queue family for rivven-connect — message
//! brokers whose messages are acknowledged one by one.
//!
//! - [`mqtt`] (feature `mqtt`, on by default; MQTT 3.1.1 and 5): the `mqtt` source, which
//!   subscribes to topic filters (wildcards included) and acknowledges each
//!   QoS 1/2 message to the broker only once the pipeline committed it, and
//!   the `mqtt` sink, which publishes each event and returns only once the
//!   broker acknowledged every QoS 1/2 publish.
//! - [`redis`] (feature `redis`, on by default): the `redis-streams` source
//!   (a consumer group member that `XACK`s after the commit and re-reads its
//!   pending entries after a restart) and sink (pipelined `XADD`).
//! - [`amqp`] (feature `amqp`, on by default): the `amqp` source, a RabbitMQ
//!   queue consumer that `basic.ack`s each message after the commit (the
//!   broker redelivers the rest), and sink (publisher confirms per batch).
//! - [`nats`] (feature `nats`, on by default): the `nats` source (a
//!   JetStream durable pull consumer whose messages are acked after the
//!   commit, or a core NATS subscription, at-most-once) and sink (JetStream
//!   publishes whose acks are awaited together, or core publish + flush).
//!
//! Every connector counts what it does in a [`metrics::QueueMetrics`]
//! (messages, bytes, errors, acknowledgements, reconnects), readable in
//! process with `metrics()` and served on the runtime's `/metrics`.
//!
//! The connectors register themselves (their config derive's `connector =
//! …`), so linking this crate makes them available by name in YAML; a binary
//! that does not otherwise reference the crate calls [`link`] once.
//!
//! ```
//! rivven_connect_queue::link();
//! let registry = rivven_connect::registry::Registry::discovered().unwrap();
//! # #[cfg(feature = "mqtt")]
//! assert!(registry.source("mqtt").is_some());
//! # #[cfg(feature = "mqtt")]
//! assert!(registry.sink("mqtt").is_some());
//! # #[cfg(feature = "redis")]
//! assert!(registry.source("redis-streams").is_some());
//! # #[cfg(feature = "amqp")]
//! assert!(registry.sink("amqp").is_some());
//! # #[cfg(feature = "nats")]
//! assert!(registry.source("nats").is_some() && registry.sink("nats").is_some());
//! ```
#![warn(missing_docs)]

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod metrics;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(any(
    feature = "mqtt",
    feature = "redis",
    feature = "amqp",
    feature = "nats"
))]
mod payload;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(
    feature = "mqtt",
    feature = "redis",
    feature = "amqp",
    feature = "nats"
))]
pub mod tls;

/// Makes sure this crate — and so its connectors' registrations — is linked
/// into the binary calling it. A no-op at run time.
#[inline(never)]
pub fn link() {
    std::hint::black_box(());
}
