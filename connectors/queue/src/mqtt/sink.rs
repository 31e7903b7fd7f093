//! The `mqtt` sink: publishes each event. With MQTT 3.1.1 at QoS 1 writes
//! are pipelined (a write returns once its publishes went out, the events
//! awaiting their PUBACK are pending until a later write or the flush
//! collects it); otherwise a write returns once the broker acknowledged
//! every publish of the batch. See the [module docs](super).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::{
    CheckResult, ConnectorError, Result, Sink, SinkConfig, SourceEvent, WriteResult,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use validator::Validate;

use super::config::tls_settings;
use super::config::{
    default_client_id, validate_broker_url, BrokerAddr, ClientSettings, MqttAuth, MqttLastWill,
    ProtocolVersion, Qos, DEFAULT_PORT, MAX_PACKET_BYTES,
};
use super::connect_once;
use super::properties;
use super::publisher::{Message, Publisher};
use super::source::{default_connect_timeout, default_keep_alive, default_max_inflight};
use super::MqttTls;
use crate::metrics::QueueMetrics;
use crate::payload;

/// Publishes events to MQTT topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "mqtt",
    version = env!("CARGO_PKG_VERSION"),
    description = "Publishes each event to an MQTT topic (fixed or a template on the event's stream and key) on an MQTT 3.1.1 or 5 broker (MQTT 5: properties from the event's metadata); an event is acknowledged once the broker acknowledged its QoS 1/2 publish (MQTT 3.1.1 at QoS 1: pipelined, the next batch is published meanwhile)",
    author = "rivven-connect",
    category = "messaging",
    tags = ["mqtt", "iot", "messaging", "pubsub"],
    connector = MqttSink
)]
#[serde(deny_unknown_fields)]
pub struct MqttSinkConfig {
    /// Broker URL: `mqtt://host:port`, or `mqtts://host:port` for TLS (see `tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "validate_broker_url"))]
    #[schemars(example = &"mqtt://127.0.0.1:1883")]
    pub broker_url: Option<String>,
    /// Broker host (instead of `broker_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Broker port with `host`.
    #[serde(default = "default_port")]
    pub port: u16,
    /// MQTT protocol version: `"3.1.1"` (default) or `"5"` (also `"5.0"`,
    /// `"v5"`). With 5, each publish carries the event's `mqtt_*` metadata
    /// as properties (user properties, content type, response topic,
    /// correlation data, message expiry) and a publish the broker refuses
    /// (a PUBACK/PUBREC reason code such as 0x87 not authorized) is a
    /// per-record failure.
    #[serde(default)]
    pub protocol_version: ProtocolVersion,
    /// Topic of each message: fixed, or a template with `{stream}` and
    /// `{key}` (the event key; a string as is, other JSON as its text).
    #[serde(default = "default_topic")]
    #[validate(length(min = 1))]
    #[schemars(example = &"devices/{key}/events")]
    pub topic: String,
    /// QoS of the publishes (default `at_least_once`).
    #[serde(default)]
    pub qos: Qos,
    /// Publish with the retain flag.
    #[serde(default)]
    pub retain: bool,
    /// Client id; default: a stable id derived from the broker and the topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 65535))]
    pub client_id: Option<String>,
    /// Username and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub auth: Option<MqttAuth>,
    /// Keep-alive interval in seconds (0: none, with 3.1.1 only; MQTT 5
    /// needs 5 or more).
    #[serde(default = "default_keep_alive")]
    #[validate(range(max = 65535))]
    pub keep_alive_secs: u64,
    /// Timeout of connecting, in seconds.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 1, max = 3600))]
    pub connect_timeout_secs: u64,
    /// Publishes awaiting their acknowledgement at once (rumqttc's window);
    /// also the most a pipelined write (MQTT 3.1.1, QoS 1) leaves awaiting
    /// their PUBACK when it returns.
    #[serde(default = "default_max_inflight")]
    #[validate(range(min = 1, max = 65535))]
    pub max_inflight: u16,
    /// A write or flush fails (retryably) when the broker has not
    /// acknowledged a publish within this time from the start of its write.
    #[serde(default = "default_write_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub write_timeout_ms: u64,
    /// Last will and testament.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub last_will: Option<MqttLastWill>,
    /// TLS: trusted CA, client certificate (`mqtts://` uses the system's
    /// roots without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<MqttTls>,
}

fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_topic() -> String {
    "{stream}".into()
}
fn default_write_timeout() -> u64 {
    30_000
}

impl MqttSinkConfig {
    /// Publish to `topic` (a template) at `broker_url`; defaults otherwise.
    pub fn new(broker_url: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            broker_url: Some(broker_url.into()),
            host: None,
            port: DEFAULT_PORT,
            protocol_version: ProtocolVersion::default(),
            topic: topic.into(),
            qos: Qos::default(),
            retain: false,
            client_id: None,
            auth: None,
            keep_alive_secs: default_keep_alive(),
            connect_timeout_secs: default_connect_timeout(),
            max_inflight: default_max_inflight(),
            write_timeout_ms: default_write_timeout(),
            last_will: None,
            tls: None,
        }
    }

    /// The broker's address.
    pub fn addr(&self) -> Result<BrokerAddr> {
        BrokerAddr::resolve(self.broker_url.as_deref(), self.host.as_deref(), self.port)
    }

    fn settings(&self) -> Result<ClientSettings<'_>> {
        let addr = self.addr()?;
        let client_id = match &self.client_id {
            Some(id) => id.clone(),
            None => default_client_id("sink", &addr, std::slice::from_ref(&self.topic)),
        };
        Ok(ClientSettings {
            tls: tls_settings(&addr, self.broker_url.is_some(), self.tls.as_ref())?,
            addr,
            client_id,
            clean_session: true,
            keep_alive_secs: self.keep_alive_secs,
            connect_timeout_secs: self.connect_timeout_secs,
            max_inflight: self.max_inflight,
            auth: self.auth.as_ref(),
            last_will: self.last_will.as_ref(),
            manual_acks: false,
            protocol: self.protocol_version,
            session_expiry_secs: 0,
        })
    }

    /// Whether a write may return before the broker acknowledged its
    /// publishes: with MQTT 3.1.1 at QoS 1. An MQTT 5 broker may refuse a
    /// single publish, which must be reported with its write; QoS 0 has no
    /// acknowledgement to wait for; a QoS 2 publish is delivered only after
    /// the PUBREC/PUBREL exchange, which needs the connection polled.
    fn pipelined(&self) -> bool {
        self.protocol_version == ProtocolVersion::V311 && self.qos == Qos::AtLeastOnce
    }

    /// The topic of `event`.
    pub fn topic_of(&self, event: &SourceEvent) -> String {
        if !self.topic.contains('{') {
            return self.topic.clone();
        }
        let key = match &event.key {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        self.topic
            .replace("{stream}", &event.stream)
            .replace("{key}", &key)
    }
}

/// The `mqtt` sink (see the [module docs](super)).
pub struct MqttSink {
    publisher: Mutex<Publisher>,
    /// The runtime asked to forget what is in flight (see `discard_pending`).
    discard: AtomicBool,
    metrics: QueueMetrics,
}

impl Default for MqttSink {
    fn default() -> Self {
        Self {
            publisher: Mutex::new(Publisher::default()),
            discard: AtomicBool::new(false),
            metrics: QueueMetrics::new("mqtt", "sink"),
        }
    }
}

impl std::fmt::Debug for MqttSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSink").finish_non_exhaustive()
    }
}

impl MqttSink {
    /// A sink; it connects on the first write.
    pub fn new() -> Self {
        Self::default()
    }

    /// What its writes counted so far.
    pub fn metrics(&self) -> &QueueMetrics {
        &self.metrics
    }
}

#[async_trait]
impl Sink for MqttSink {
    type Config = MqttSinkConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        let mut settings = config.settings()?;
        settings.client_id = format!("{}-check", settings.client_id);
        settings.last_will = None;
        Ok(match connect_once(&settings).await {
            Ok(()) => CheckResult::builder().check_passed("broker").finish(),
            Err(e) => CheckResult::builder().check("broker", Err(e)).finish(),
        })
    }

    async fn write(
        &self,
        config: &Self::Config,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        self.write_borrowed(config, &events).await
    }

    async fn write_borrowed(
        &self,
        config: &Self::Config,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        let mut publisher = self.publisher().await;
        let write = publisher.begin()?;
        let mut result = WriteResult::new();
        // Per-record failures first: they go to the dead letter queue and
        // are not published.
        let mut messages = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            match config.message_of(index, event) {
                Ok(m) => messages.push(m),
                Err(e) => {
                    self.metrics.error();
                    result.add_record_failure(index, &e);
                }
            }
        }
        let outcome = self
            .publish(config, &mut publisher, write, &messages, &mut result)
            .await;
        if let Err(e) = outcome {
            // Acknowledgements collected meanwhile (of earlier writes) go
            // with the next result.
            self.metrics.error();
            return Err(e.context(format!("publish {} messages", messages.len())));
        }
        let (accepted, bytes) = publisher.take_acked();
        self.metrics.published(accepted, bytes);
        publisher.end(events.len());
        result.add_success(accepted, bytes);
        result.pending = publisher.pending();
        Ok(result)
    }

    /// Waits for the broker's answer to every publish in flight.
    async fn flush(&self, config: &Self::Config) -> Result<WriteResult> {
        let mut publisher = self.publisher().await;
        let timeout = Duration::from_millis(config.write_timeout_ms);
        let outcome = publisher.drain(timeout, &config.addr()?).await;
        if let Err(e) = outcome {
            self.metrics.error();
            return Err(e.context("flush the publishes in flight"));
        }
        let (accepted, bytes) = publisher.take_acked();
        self.metrics.published(accepted, bytes);
        let mut result = WriteResult::new();
        result.add_success(accepted, bytes);
        result.pending = publisher.pending();
        Ok(result)
    }

    fn discard_pending(&self, _config: &Self::Config) {
        // Done by the next write or flush, which holds the lock.
        self.discard.store(true, Ordering::SeqCst);
    }
}

impl MqttSink {
    /// The publisher, after a discard the runtime asked for.
    async fn publisher(&self) -> tokio::sync::MutexGuard<'_, Publisher> {
        let mut publisher = self.publisher.lock().await;
        if self.discard.swap(false, Ordering::SeqCst) {
            publisher.discard();
        }
        publisher
    }

    /// Publishes `messages` of write `write`: pipelined (returning once each
    /// went out) with MQTT 3.1.1 at QoS 1, else until each is answered.
    async fn publish(
        &self,
        config: &MqttSinkConfig,
        publisher: &mut Publisher,
        write: u64,
        messages: &[Message],
        result: &mut WriteResult,
    ) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let addr = config.addr()?;
        let since = Instant::now();
        let timeout = Duration::from_millis(config.write_timeout_ms);
        let pipelined = config.pipelined();
        let mut pending: Vec<&Message> = messages.iter().collect();
        // A connection lost while publishes of earlier writes await their
        // answer fails the write (and every later one until the runtime
        // replays them). One lost with only this write's publishes in
        // flight, after the broker answered some of them, goes on with the
        // rest on a new connection. One lost before any answer could be
        // read is tried again one publish at a time: Mosquitto 2.0 (with
        // persistence) drops the connection right after refusing a publish
        // (PUBACK 0x87), and pipelined publishes still unread on its side
        // make that a reset that discards its last answers. Lost again
        // without an answer, the write fails (retryably: the runtime writes
        // the batch again; at-least-once, so an accepted publish whose
        // answer was lost is published again).
        let mut serial = false;
        while !pending.is_empty() {
            if publisher.connection.is_none() {
                publisher.connection = Some(config.settings()?.connect(256)?);
            }
            let round_len = if serial { 1 } else { pending.len() };
            let (round, failed) = publisher
                .round(
                    write,
                    config.qos,
                    config.retain,
                    &pending[..round_len],
                    pipelined && !serial,
                    since,
                    timeout,
                    &addr,
                )
                .await;
            for (index, refusal) in &round.refused {
                let topic = messages
                    .iter()
                    .find(|m| m.index == *index)
                    .map_or("", |m| m.topic.as_str());
                let what = format!("MQTT broker {addr} refused the publish to `{topic}`");
                self.metrics.error();
                result.add_record_failure(*index, &refusal.error(&what, ConnectorError::data));
            }
            // rumqttc does not free the inflight slot of a QoS 2 publish
            // refused in its PUBREC: start afresh next time.
            if !round.refused.is_empty() && config.qos == Qos::ExactlyOnce {
                publisher.connection = None;
            }
            let progress = !round.accepted.is_empty() || !round.refused.is_empty();
            let Some(e) = failed else {
                // Done with the round: every publish went out (pipelined)
                // or was answered.
                pending.drain(..round_len);
                continue;
            };
            let finished: HashSet<usize> = round
                .accepted
                .iter()
                .copied()
                .chain(round.refused.iter().map(|(i, _)| *i))
                .collect();
            pending.retain(|m| !finished.contains(&m.index));
            // A fresh connection for what is left: nothing of this one's
            // state is reused.
            publisher.connection_lost(write, &e)?;
            if !e.is_retryable() || (!progress && serial) {
                return Err(e);
            }
            if !progress {
                serial = true;
            }
            tracing::warn!(broker = %addr, error = %e, remaining = pending.len(), serial, "connection lost mid-batch; publishing the rest on a new connection");
        }
        Ok(())
    }
}

impl MqttSinkConfig {
    /// The message of `event`, or why it cannot be published.
    fn message_of(&self, index: usize, event: &SourceEvent) -> Result<Message> {
        let topic = self.topic_of(event);
        if !rumqttc::valid_topic(&topic) || topic.is_empty() {
            return Err(ConnectorError::data(format!(
                "`{topic}` (from topic `{}`) is not a valid MQTT topic name",
                self.topic
            )));
        }
        let properties = match self.protocol_version {
            ProtocolVersion::V311 => None,
            ProtocolVersion::V5 => properties::from_event(event)?,
        };
        let bytes = payload::encode(event)?;
        let size = bytes.len() + topic.len() + 16 + properties.as_ref().map_or(0, properties::size);
        if size > MAX_PACKET_BYTES {
            return Err(ConnectorError::data(format!(
                "message of {} bytes for `{topic}` exceeds the {MAX_PACKET_BYTES}-byte packet limit",
                bytes.len()
            )));
        }
        Ok(Message {
            index,
            topic,
            payload: bytes::Bytes::from(bytes),
            properties,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn topic_templates() {
        let config = MqttSinkConfig::new("mqtt://h", "dev/{key}/{stream}");
        let event = SourceEvent::record("orders", json!({})).with_key(json!("k1"));
        assert_eq!(config.topic_of(&event), "dev/k1/orders");
        let event = SourceEvent::record("orders", json!({})).with_key(json!(7));
        assert_eq!(config.topic_of(&event), "dev/7/orders");
        assert_eq!(
            MqttSinkConfig::new("mqtt://h", "fixed").topic_of(&event),
            "fixed"
        );
    }
}
