//! The `nats` source and sink: NATS servers (2.9 and later), JetStream and
//! core NATS, through [async-nats](https://docs.rs/async-nats) (without its
//! default features: JetStream, rustls/ring, and the 2.10 consumer field
//! `filter_subjects`).
//!
//! ```yaml
//! sources:
//!   orders:
//!     connector: nats
//!     config:
//!       url: nats://nats:4222
//!       stream: ORDERS                 # must exist
//!       filter_subject: "orders.eu.>"
//!       durable_name: orders-to-lake   # default: derived from stream + filter
//!       deliver_policy: all
//!       ack_wait_secs: 30
//!       auth: { username: reader, password: "${NATS_PASSWORD}" }
//! sinks:
//!   audit:
//!     connector: nats
//!     config:
//!       url: nats://nats:4222
//!       subject: "audit.{stream}.{key}"
//!       create_stream: { name: AUDIT, subjects: ["audit.>"], storage: file, max_age_secs: 604800 }
//! ```
//!
//! # Source delivery (`mode: jetstream`, the default): at-least-once
//! The source is the durable pull consumer `durable_name` (created with
//! explicit acks, `deliver_policy`, `ack_wait_secs`, `max_ack_pending` and
//! `filter_subject` or `filter_subjects` when missing, unless
//! `create_consumer: false`) of the stream `stream`, which must exist:
//! a missing stream is a configuration error naming it. Each pull asks for
//! the free part of the credit `max_inflight` (messages with the pipeline,
//! unresolved) and waits at most `fetch_expires_ms`. Each event carries an
//! [`AckToken`](rivven_connect::AckToken): the message is acked
//! (`AckKind::Ack`) only when the runtime resolves it `Delivered`, after
//! the commit covering it; a rejected token (the pipeline dropped the event)
//! naks it, so the server redelivers it at once. A message not acked before
//! a crash is redelivered by the server after `ack_wait_secs`; the durable
//! consumer keeps its position across restarts of the pipeline and of the
//! server. async-nats reconnects by itself (forever, backoff from
//! `retry_initial_ms` doubling to `retry_max_ms`), resubscribing; a pull
//! interrupted by a lost server ends after its expiry and is issued again,
//! acks made after the reconnect still count (they name the stream
//! sequence), and an ack lost with the connection only means a
//! redelivery. Refused credentials are an `Auth` error, never retried.
//!
//! # A consumer or stream deleted while the source reads
//! A pull that fails makes the source look the consumer up (twice, half a
//! second apart). When the durable consumer is gone, its position and
//! unacked messages are gone with it, so the source does not quietly make
//! a new one: it fails with a configuration error naming stream and
//! consumer, not retried, and later reads by the same source (the
//! runtime's restarts) fail the same way instead of creating it; a new
//! process creates it again (`create_consumer`). With
//! `recreate_consumer: true` the source creates it again at once and goes
//! on, with a warning and an error counted; the new consumer starts per
//! `deliver_policy` (`all`: the whole stream again, `new`: messages stored
//! meanwhile are skipped). A deleted stream always fails the source
//! (configuration error naming it).
//!
//! # Filters
//! `filter_subject` (one subject, wildcards allowed) works with every
//! server. `filter_subjects` (several) needs nats-server 2.10: an older
//! server (which would ignore the field and deliver every subject) makes
//! `check` and the read fail with a configuration error naming the key and
//! the server's version.
//!
//! # TLS
//! A `tls://` URL, or the `tls` options with either scheme, requires TLS
//! 1.2/1.3 (rustls, ring; NATS upgrades the connection after the server's
//! greeting): the server's certificate must chain to `tls.ca_file` (PEM)
//! or, without it, to the system's roots, and name the URL's host (DNS
//! name or IP address). `tls.client_cert_file` and `tls.client_key_file`
//! present a client certificate (a server with `verify: true`). A failed
//! handshake (unknown CA, wrong name, a refused or missing client
//! certificate) is a configuration error, not retried. For a server that
//! requires TLS, use `tls://` or the `tls` options (a plain `nats://`
//! without them is left to async-nats' own TLS defaults).
//!
//! ```yaml
//! config:
//!   url: tls://nats:4222
//!   stream: ORDERS
//!   tls: { ca_file: /etc/rivven/nats-ca.pem }
//! ```
//!
//! # Source delivery (`mode: core`): AT-MOST-ONCE
//! A plain subscription to `subject` (wildcards `*`/`>`, optionally in
//! `queue_group`). Core NATS stores nothing and acknowledges nothing:
//! messages published while the pipeline is stopped, restarting or
//! disconnected, and messages the client drops when the pipeline is slower
//! than the publishers, are LOST. Use JetStream when that matters.
//!
//! # Events
//! The stream of an event is the message's subject; its key is the header
//! `key_header` when configured and present, else the subject. Headers go
//! to `metadata.extra["nats_headers"]` (a value per name, an array when a
//! name repeats); `include_metadata` adds `nats_subject` and, for
//! JetStream, `nats_stream`, `nats_stream_seq`, `nats_consumer_seq`,
//! `nats_delivered` (delivery count) and `nats_redelivered`. Payloads: see
//! `parse_json_payload` (a non-JSON payload with it on is a bad record,
//! handled per `on_error`, its raw bytes kept for the dead letter queue; a
//! valid document beyond what a JSON value holds, such as `1e400`, is kept
//! as its exact text).
//!
//! # Sink delivery
//! Each event is one message to `subject` (a template over `{stream}` and
//! `{key}`) with the event key in header `key_header` (default
//! `Rivven-Key`) and, with `forward_headers`, the event's `nats_headers`.
//! With JetStream the whole batch is sent (up to `max_inflight` publishes
//! awaiting acks at once) and then every ack is awaited: the write returns
//! once the stream stored each message. A timeout, a lost connection or
//! "no responders" (no stream on the subject, or JetStream not ready after
//! a restart) fails the write retryably, and the runtime writes the batch
//! again. To keep such a retry from storing a message twice, each publish
//! carries a `Nats-Msg-Id` (`message_id: auto`): the event's own header if
//! it has one, else `<stream>:<sequence>` for events read from JetStream,
//! else a hash of the event's stream and position; the server drops a
//! repeated id within the stream's duplicate window (2 minutes by default,
//! `create_stream.duplicate_window_secs`). Events with neither an id nor a
//! position get no id, so a retried write may store them twice
//! (at-least-once). A subject that is not a valid NATS subject, a message
//! above the server's `max_payload`, or a publish the stream refuses (e.g.
//! its limits with `discard: new`) is a per-record failure (dead letter
//! queue); the others are published. `create_stream` creates the stream
//! on the first connection if missing. `mode: core` publishes each message
//! and flushes: the server received them, nothing more is known (no
//! subscriber may have been there: at-most-once).
//!
//! # Not supported
//! Push consumers, NKEY/JWT credentials files, websockets, TLS before the
//! server's greeting (`handshake_first`, nats-server 2.10.4).

mod config;
mod consumer;
mod reader;
mod sink;
mod source;

pub use config::{NatsAuth, NatsMode, DEFAULT_PORT};
pub use sink::{
    CreateStream, MessageId, NatsSink, NatsSinkConfig, NatsSinkConfigSpec, StreamStorage,
    MSG_ID_HEADER,
};
pub use source::{DeliverPolicy, NatsSource, NatsSourceConfig, NatsSourceConfigSpec};
