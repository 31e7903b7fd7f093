//! The `mqtt` sink: publishes each event; a write returns once the broker
//! acknowledged every QoS 1/2 publish of the batch.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::{
    CheckResult, ConnectorError, Result, Sink, SinkConfig, SourceEvent, WriteResult,
};
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, Outgoing, QoS};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use validator::Validate;

use super::config::tls_settings;
use super::config::{
    connection_error, default_client_id, validate_broker_url, BrokerAddr, ClientSettings, MqttAuth,
    MqttLastWill, Qos, DEFAULT_PORT, MAX_PACKET_BYTES,
};
use super::connect_once;
use super::source::{default_connect_timeout, default_keep_alive, default_max_inflight};
use super::MqttTls;
use crate::metrics::QueueMetrics;
use crate::payload;

/// Publishes events to MQTT topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "mqtt",
    version = env!("CARGO_PKG_VERSION"),
    description = "Publishes each event to an MQTT topic (fixed or a template on the event's stream and key) on an MQTT 3.1.1 broker; a batch is done once the broker acknowledged every QoS 1/2 publish",
    author = "rivven-connect",
    category = "messaging",
    tags = ["mqtt", "iot", "messaging", "pubsub"],
    connector = MqttSink
)]
#[serde(deny_unknown_fields)]
pub struct MqttSinkConfig {
    /// Broker URL: `mqtt://host:port` (`mqtts://` is refused: no TLS in this build).
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
    /// Keep-alive interval in seconds (0: none).
    #[serde(default = "default_keep_alive")]
    #[validate(range(max = 65535))]
    pub keep_alive_secs: u64,
    /// Timeout of connecting, in seconds.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 1, max = 3600))]
    pub connect_timeout_secs: u64,
    /// Publishes awaiting their acknowledgement at once.
    #[serde(default = "default_max_inflight")]
    #[validate(range(min = 1, max = 65535))]
    pub max_inflight: u16,
    /// A write fails (retryably) when the broker has not acknowledged every
    /// publish within this time.
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
        })
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
    connection: Mutex<Option<(AsyncClient, EventLoop)>>,
    metrics: QueueMetrics,
}

impl Default for MqttSink {
    fn default() -> Self {
        Self {
            connection: Mutex::new(None),
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
        let mut result = WriteResult::new();
        // Per-record failures first: they go to the dead letter queue and
        // are not published.
        let mut messages = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let topic = config.topic_of(event);
            let message = if !rumqttc::valid_topic(&topic) || topic.is_empty() {
                Err(ConnectorError::data(format!(
                    "`{topic}` (from topic `{}`) is not a valid MQTT topic name",
                    config.topic
                )))
            } else {
                payload::encode(event).and_then(|bytes| {
                    if bytes.len() + topic.len() + 16 > MAX_PACKET_BYTES {
                        Err(ConnectorError::data(format!(
                            "message of {} bytes for `{topic}` exceeds the {MAX_PACKET_BYTES}-byte packet limit",
                            bytes.len()
                        )))
                    } else {
                        Ok((topic, bytes::Bytes::from(bytes)))
                    }
                })
            };
            match message {
                Ok(m) => messages.push((index, m)),
                Err(e) => {
                    self.metrics.error();
                    result.add_record_failure(index, &e);
                }
            }
        }
        if messages.is_empty() {
            return Ok(result);
        }
        let mut connection = self.connection.lock().await;
        if connection.is_none() {
            let settings = config.settings()?;
            *connection = Some(settings.client(256));
        }
        let Some((client, eventloop)) = connection.as_mut() else {
            return Err(ConnectorError::fatal("MQTT sink connection missing"));
        };
        let addr = config.addr()?;
        let deadline = Instant::now() + Duration::from_millis(config.write_timeout_ms);
        let outcome = publish_all(
            client,
            eventloop,
            config.qos.into(),
            config.retain,
            &messages,
            deadline,
            &addr,
        )
        .await;
        match outcome {
            Ok(bytes) => {
                self.metrics.published(messages.len() as u64, bytes);
                result.add_success(messages.len() as u64, bytes);
                Ok(result)
            }
            Err(e) => {
                self.metrics.error();
                // A fresh connection for the retry: nothing of this one's
                // state is reused.
                connection.take();
                Err(e.context(format!("publish {} messages", messages.len())))
            }
        }
    }
}

/// Hands every message to the event loop and polls it until the broker
/// acknowledged each (QoS 0: until each was written to the socket).
async fn publish_all(
    client: &AsyncClient,
    eventloop: &mut EventLoop,
    qos: QoS,
    retain: bool,
    messages: &[(usize, (String, bytes::Bytes))],
    deadline: Instant,
    addr: &BrokerAddr,
) -> Result<u64> {
    let mut queued = 0usize; // next message to hand over
    let mut sent = 0usize; // next message whose Outgoing::Publish is due
    let mut awaiting: HashMap<u16, usize> = HashMap::new();
    let mut done = 0usize;
    let mut bytes = 0u64;
    while done < messages.len() {
        // Keep the request channel fed without blocking the event loop.
        while queued < messages.len() {
            let (_, (topic, payload)) = &messages[queued];
            match client.try_publish(topic.as_str(), qos, retain, payload.clone()) {
                Ok(()) => queued += 1,
                Err(rumqttc::ClientError::TryRequest(_)) => break,
                Err(e) => {
                    return Err(ConnectorError::connection(format!(
                        "MQTT broker {addr}: publish to `{topic}`: {e}"
                    )))
                }
            }
        }
        let event = tokio::time::timeout_at(deadline.into(), eventloop.poll())
            .await
            .map_err(|_| {
                ConnectorError::timeout(format!(
                    "MQTT broker {addr}: {} of {} publishes unacknowledged after the write timeout",
                    messages.len() - done,
                    messages.len()
                ))
            })?
            .map_err(|e| connection_error(addr, &e))?;
        match event {
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                let Some((_, (_, payload))) = messages.get(sent) else {
                    continue;
                };
                bytes += payload.len() as u64;
                if qos == QoS::AtMostOnce {
                    done += 1;
                } else {
                    awaiting.insert(pkid, sent);
                }
                sent += 1;
            }
            Event::Incoming(Incoming::PubAck(rumqttc::PubAck { pkid }))
            | Event::Incoming(Incoming::PubComp(rumqttc::PubComp { pkid })) => {
                // QoS 1 completes with PUBACK, QoS 2 with PUBCOMP.
                let completes = match qos {
                    QoS::AtLeastOnce => matches!(event, Event::Incoming(Incoming::PubAck(_))),
                    _ => matches!(event, Event::Incoming(Incoming::PubComp(_))),
                };
                done += usize::from(completes && awaiting.remove(&pkid).is_some());
            }
            _ => {}
        }
    }
    Ok(bytes)
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
