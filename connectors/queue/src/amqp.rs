//! The `amqp` source and sink: AMQP 0-9-1 brokers (RabbitMQ) through
//! [lapin](https://docs.rs/lapin) (tokio; TLS with rustls and ring).
//!
//! ```yaml
//! sources:
//!   orders:
//!     connector: amqp
//!     config:
//!       url: amqp://rabbit:5672/%2f
//!       username: reader
//!       password: "${AMQP_PASSWORD}"
//!       queue: orders
//!       declare: { durable: true, arguments: { x-dead-letter-exchange: orders-dlx } }
//!       bindings: [{ exchange: events, routing_key: "orders.#" }]
//!       prefetch: 1000
//!       on_reject: requeue
//! sinks:
//!   out:
//!     connector: amqp
//!     config:
//!       url: amqp://rabbit:5672/%2f
//!       exchange: processed
//!       routing_key: "{stream}.{key}"
//!       mandatory: true
//! ```
//!
//! Credentials go in `username`/`password` (a secret), never in the URL: a
//! URL with `user:pass@` is refused. Refused credentials (`ACCESS_REFUSED`)
//! are an `Auth` error and not retried. The connectors register as `amqp`
//! (there are no aliases for sources and sinks, so not as `rabbitmq`).
//!
//! # Source delivery
//! The source consumes `queue` with manual acknowledgements and a
//! `basic.qos` prefetch of `prefetch` (the credit: at most that many
//! messages are with the pipeline unacknowledged). Each event carries an
//! [`AckToken`](rivven_connect::AckToken): the message is `basic.ack`ed
//! (consecutive ones with one `multiple` ack) only when the runtime resolves
//! it `Delivered` — after the commit covering it. A token the pipeline
//! rejects (a stage failed, the pipeline stopped before the commit) is
//! `basic.nack`ed with requeue (`on_reject: requeue`, redelivered) or
//! `basic.reject`ed without (`on_reject: dead_letter`: the queue's dead
//! letter exchange gets it). A message delivered and not acknowledged when
//! the process crashes or the connection is lost is redelivered by the
//! broker (`amqp_redelivered: true`). A lost connection is reopened with
//! exponential backoff (`retry_initial_ms` doubling up to `retry_max_ms`),
//! the queue declared, bound and consumed again.
//!
//! The event's stream is the queue; its key the routing key (or the header
//! `key_header`); its data the payload as described for
//! `parse_json_payload` (a non-JSON payload with it on is a bad record,
//! handled per `on_error`, its raw bytes kept). Message properties become
//! metadata: `amqp_message_id`, `amqp_content_type`, `amqp_correlation_id`,
//! `amqp_headers` (an object), `amqp_timestamp`, … ; `include_metadata` adds
//! `amqp_exchange`, `amqp_routing_key`, `amqp_redelivered`,
//! `amqp_delivery_tag`.
//!
//! # Sink delivery
//! The channel is in confirm mode. A batch is published at once — to
//! `exchange` with the `routing_key` template over `{stream}` and `{key}`,
//! delivery mode 2 when `persistent` (the default), the event's `amqp_*`
//! metadata as properties and its key in header `key_header` — and the
//! write returns once the broker confirmed every message. A nacked message,
//! or with `mandatory` one no queue gets (returned), is a per-record failure
//! (the dead letter queue gets exactly those); a lost connection or
//! `confirm_timeout_ms` fails the write retryably (republished: at least
//! once).
//!
//! # TLS
//! `amqps://host/vhost` (port 5671 by default) connects with TLS 1.2/1.3
//! (rustls, ring): the broker's certificate must chain to `tls.ca_file`
//! (PEM) or, without it, to the system's roots, and name the URL's host
//! (DNS name or IP address). `tls.client_cert_file` and
//! `tls.client_key_file` present a client certificate (for a listener with
//! `ssl_options.verify = verify_peer`; the AMQP login is still
//! `username`/`password`). A handshake that fails (unknown CA, wrong name,
//! a client certificate the broker requires or refuses) is a configuration
//! error, not retried. `tls` with a plain `amqp://` URL is refused.
//!
//! ```yaml
//! config:
//!   url: amqps://rabbit:5671/%2f
//!   queue: orders
//!   tls: { ca_file: /etc/rivven/rabbit-ca.pem }
//! ```
//!
//! Logging in by the client certificate alone (SASL `EXTERNAL`, with the
//! broker's `rabbitmq_auth_mechanism_ssl` plugin) is not tested here: the
//! login is `username`/`password` (`guest` by default).

mod config;
mod properties;
mod sink;
mod source;

pub use config::{Binding, ExchangeDeclare, QueueDeclare};
pub use sink::{AmqpSink, AmqpSinkConfig, AmqpSinkConfigSpec, SinkQueue};
pub use source::{AmqpSource, AmqpSourceConfig, AmqpSourceConfigSpec, OnReject};
