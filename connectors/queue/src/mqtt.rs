//! The `mqtt` source and sink: MQTT 3.1.1 and MQTT 5 brokers (Mosquitto,
//! EMQX, HiveMQ…) through [rumqttc](https://docs.rs/rumqttc) (no default
//! features; its `v5` module for MQTT 5).
//!
//! ```yaml
//! sources:
//!   sensors:
//!     connector: mqtt
//!     config:
//!       broker_url: mqtt://broker:1883
//!       topics: ["sensors/+/temperature", "alerts/#"]
//!       qos: at_least_once
//!       auth: { username: reader, password: "${MQTT_PASSWORD}" }
//! sinks:
//!   commands:
//!     connector: mqtt
//!     config:
//!       broker_url: mqtt://broker:1883
//!       topic: "devices/{key}/commands"
//! ```
//!
//! # Source delivery
//! Messages are read with manual acknowledgements: each event carries an
//! [`AckToken`](rivven_connect::AckToken), and the PUBACK (QoS 1) or PUBREC
//! (QoS 2) is sent only when the runtime resolves it `Delivered` — after the
//! commit covering the event. With `clean_session: false` (the default) the
//! broker keeps the session across connections, so a message not
//! acknowledged before a crash, a pipeline restart or a lost connection is
//! redelivered (at-least-once; redelivered messages carry `mqtt_dup: true`).
//! A rejected token (the pipeline dropped the event) makes the source
//! reconnect, which is how MQTT redelivers. QoS 0 messages are never
//! redelivered (at-most-once by the protocol). The client id defaults to a
//! stable hash of the broker and the filters, so a restarted pipeline finds
//! its session; two pipelines on the same filters need distinct
//! `client_id`s.
//!
//! The broker bounds what it keeps for a session while its client is away:
//! Mosquitto queues at most `max_queued_messages` (1 000 by default) per
//! offline persistent session and drops the rest, so an outage of
//! rivven-connect longer than that at the publishers' rate loses messages at
//! the broker, where no client can see it. Raise the broker's limit (or set
//! it to 0, unlimited) for sessions that must survive long outages.
//!
//! `max_inflight` is the credit: at most that many messages are with the
//! pipeline unresolved; reading pauses (the broker queues) until tokens
//! resolve. A lost connection is retried with exponential backoff
//! (`retry_initial_ms`, `retry_multiplier`, `retry_max_ms`); refused
//! credentials are an `Auth` error and not retried.
//!
//! Each event's stream and key are the message's topic; `include_metadata`
//! adds `mqtt_topic`, `mqtt_qos`, `mqtt_retain`, `mqtt_dup`. Payloads: see
//! `parse_json_payload` (a non-JSON payload with it on is a bad record,
//! handled per `on_error`, its raw bytes kept for the dead letter queue).
//!
//! # Sink delivery
//! Each event is one PUBLISH to `topic` (a template over `{stream}` and
//! `{key}`); its payload is the event's data (a string as its text, base64
//! decoded when flagged `payload_encoding: base64`, other JSON as JSON
//! text). A batch is handed to the connection at once (up to `max_inflight`
//! unacknowledged). With MQTT 3.1.1 at QoS 1 writes are pipelined: a write
//! returns once each of its publishes went out on the socket, reporting the
//! events whose PUBACK has not arrived as pending
//! (`WriteResult::pending`); the next write collects the PUBACKs that
//! arrived meanwhile while it publishes its own batch, and `flush` (which
//! the runtime calls once the batch timeout passed, and at shutdown) waits
//! for all of them. The runtime acknowledges an event upstream only once
//! its PUBACK arrived. So at most `max_inflight` publishes await their
//! PUBACK when a write returns (rumqttc's window), and the broker's round
//! trip no longer stalls the pipeline once per batch. With MQTT 5 (a broker
//! may refuse a single publish, a failure reported with its write), at
//! QoS 2 (delivered only after the PUBREC/PUBREL exchange) and at QoS 0
//! (nothing to wait for) a write returns when every PUBACK/PUBCOMP arrived
//! (QoS 0: every publish went out), nothing pending.
//!
//! A connection lost (or `write_timeout_ms` passed) while publishes of
//! earlier writes await their PUBACK fails the write or flush retryably,
//! and every later one until the runtime restarts the pipeline, discards
//! the pending events and replays them from its committed position: they
//! are never acknowledged upstream, a message may be published twice
//! (at-least-once), none is lost. A connection lost with only the current
//! write's publishes in flight, after the broker answered some of them,
//! goes on with the rest on a new connection; one lost before any answer is
//! tried once more one publish at a time, then fails the write retryably
//! (the runtime writes the batch again). An event whose topic is not a
//! valid MQTT topic name or whose payload exceeds 16 MiB is a per-record
//! failure (dead letter queue), the others are published. Publishes go out
//! on one connection in the order of the events, so each topic keeps it.
//!
//! Throughput: without pipelining, the last PUBACKs of each batch are on
//! the critical path. A broker that delays small packets (Nagle's
//! algorithm: Mosquitto's default, `set_tcp_nodelay false`) holds them
//! until the client's delayed TCP acknowledgement, ~40 ms on Linux, once
//! per batch (measured: 1 000 1 KiB messages per batch at 11 000–17 000
//! msg/s against a default Mosquitto, 45 000–65 000 against one with
//! `set_tcp_nodelay true`). Pipelined writes (MQTT 3.1.1, QoS 1) do not
//! wait for them; for the others set `set_tcp_nodelay true` in
//! `mosquitto.conf` (other brokers: their TCP no-delay option), or raise
//! the sink's batch size so the wait is paid less often. Under a trickle,
//! the last publishes of a pipelined write are acknowledged upstream at the
//! next write or at the flush after the batch timeout.
//!
//! # TLS
//! `mqtts://host` (port 8883 by default; `ssl://`, `tls://` too) connects
//! with TLS 1.2/1.3 (rustls, ring): the broker's certificate must chain to
//! `tls.ca_file` (PEM) or, without it, to the system's roots, and name the
//! URL's host (DNS name or IP address). `tls.client_cert_file` and
//! `tls.client_key_file` present a client certificate. A certificate that
//! fails verification is a configuration error, not retried.
//!
//! ```yaml
//! config:
//!   broker_url: mqtts://broker:8883
//!   topics: ["plant/#"]
//!   tls: { ca_file: /etc/rivven/mqtt-ca.pem }
//! ```
//!
//! # MQTT 5
//! `protocol_version: "5"` (also `"5.0"`, `"v5"`; default `"3.1.1"`, also
//! `"3"`, `"v3.1.1"`; anything else is a configuration error) speaks MQTT 5
//! with the same delivery as above: manual acknowledgements after the
//! commit, QoS 0/1/2, `max_inflight` as the credit (sent to the broker as
//! the CONNECT's receive maximum, so it sends no more unacknowledged
//! messages), reconnects with backoff, LWT, TLS, credentials, the same
//! metrics.
//!
//! - **Sessions.** `clean_session: false` (the default) is MQTT 5's clean
//!   start off with a session expiry interval of `session_expiry_secs`
//!   (default 4294967295: never expires, so the session and its
//!   unacknowledged messages survive any restart, as with 3.1.1; a shorter
//!   interval lets the broker drop the session of a pipeline gone for good,
//!   and the messages queued for it). `clean_session: true` is clean start
//!   with no expiry.
//! - **Properties → metadata** (source, always when present):
//!   `mqtt_user_properties` (an object: a name given once as its string, a
//!   name given several times as an array of its values in order, as the
//!   `nats` connectors' `nats_headers`), `mqtt_content_type`,
//!   `mqtt_response_topic`, `mqtt_correlation_data` (its UTF-8 text, else
//!   base64 with `mqtt_correlation_data_encoding: base64`),
//!   `mqtt_message_expiry_secs` (what remained on arrival),
//!   `mqtt_payload_format`.
//! - **Metadata → properties** (sink): the same keys set the properties of
//!   each publish, so an `mqtt` → `mqtt` pipeline keeps them; a malformed
//!   value (a user property that is not a string, a response topic with
//!   wildcards, bad base64) is a per-record failure. A 3.1.1 sink ignores
//!   them.
//! - **Reason codes.** A subscription the broker refuses ends the source's
//!   stream with the reason and its code (`NotAuthorized (reason code
//!   0x87)` is an `Auth` error, others `Config`; neither is retried). A
//!   publish the broker refuses in its PUBACK/PUBREC is a per-record failure
//!   of the sink (`Auth` for 0x87, else `Data`: dead letter queue per
//!   `on_error`), the batch's other events are written. Refused credentials
//!   (0x86, 0x87, 0x8A, 0x8C in the CONNACK) are `Auth`.
//! - rumqttc's MQTT 5 client needs `keep_alive_secs` of 5 or more (0, no
//!   keep-alive, is 3.1.1 only); a smaller value is a configuration error.

mod client;
mod config;
mod properties;
mod publisher;
mod reader;
mod sink;
mod source;

/// The `tls` options of the `mqtt` source and sink.
pub use crate::tls::TlsOptions as MqttTls;
pub use config::{
    BrokerAddr, MqttAuth, MqttLastWill, ProtocolVersion, Qos, DEFAULT_PORT,
    DEFAULT_SESSION_EXPIRY_SECS, DEFAULT_TLS_PORT, MAX_PACKET_BYTES,
};
pub use properties::{
    CONTENT_TYPE, CORRELATION_DATA, CORRELATION_DATA_ENCODING, MESSAGE_EXPIRY, PAYLOAD_FORMAT,
    RESPONSE_TOPIC, USER_PROPERTIES,
};
pub use sink::{MqttSink, MqttSinkConfig, MqttSinkConfigSpec};
pub use source::{MqttSource, MqttSourceConfig, MqttSourceConfigSpec};

use rivven_connect::{ConnectorError, Result};

/// Connects once (no retries) and disconnects: the `check` of both.
async fn connect_once(settings: &config::ClientSettings<'_>) -> Result<()> {
    let (client, mut connection) = settings.connect(4)?;
    let timeout = std::time::Duration::from_secs(settings.connect_timeout_secs + 1);
    let connected = tokio::time::timeout(timeout, async {
        loop {
            if let client::Polled::ConnAck { .. } = connection.poll(&settings.addr).await? {
                return Ok(());
            }
        }
    })
    .await
    .map_err(|_| {
        ConnectorError::timeout(format!(
            "MQTT broker {}: no CONNACK within {} s",
            settings.addr, settings.connect_timeout_secs
        ))
    })?;
    let _ = client.try_disconnect();
    connected
}
