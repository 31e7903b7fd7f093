//! The `amqp` sink: publishes a batch with publisher confirms, then awaits
//! every confirm.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::Confirmation;
use lapin::{Channel, Connection};
use rivven_connect::{
    CheckResult, ConnectorError, Result, SecretString, Sink, SinkConfig, SourceEvent, WriteResult,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use validator::Validate;

use super::config::{
    amqp_error, connect, field_table, short, validate_url, Binding, Endpoint, ExchangeDeclare,
    QueueDeclare,
};
use super::properties;
use super::source::default_connect_timeout;
use crate::metrics::QueueMetrics;
use crate::payload;
use crate::tls::TlsOptions;

/// Publishes events to an AMQP 0-9-1 exchange (RabbitMQ).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "amqp",
    version = env!("CARGO_PKG_VERSION"),
    description = "Publishes each event to a RabbitMQ (AMQP 0-9-1) exchange with publisher confirms: a batch is published at once and the write returns when the broker confirmed every message; a nacked or (mandatory) unroutable message is a per-record failure",
    author = "rivven-connect",
    category = "messaging",
    tags = ["amqp", "rabbitmq", "messaging", "queue"],
    connector = AmqpSink
)]
#[serde(deny_unknown_fields)]
pub struct AmqpSinkConfig {
    /// `amqp://host:port/vhost` (vhost `/` is `%2f`), or `amqps://…` for
    /// TLS (port 5671 by default); credentials go in `username`/`password`.
    #[validate(custom(function = "validate_url"))]
    #[schemars(example = &"amqp://127.0.0.1:5672/%2f")]
    pub url: String,
    /// User name (`guest` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password (a secret; `guest` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// TLS of an `amqps://` URL: trusted CA (default: the system's roots),
    /// client certificate and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub tls: Option<TlsOptions>,
    /// The exchange (`""`, the default exchange, routes by queue name).
    #[serde(default)]
    #[validate(length(max = 255))]
    pub exchange: String,
    /// The routing key: fixed, or a template over `{stream}` and `{key}`.
    #[serde(default = "default_routing_key")]
    pub routing_key: String,
    /// Delivery mode 2: the broker writes the message to disk (in a
    /// durable queue it survives a broker restart).
    #[serde(default = "yes")]
    pub persistent: bool,
    /// A message no queue gets is returned by the broker and becomes a
    /// per-record failure (dead letter queue) instead of being dropped.
    #[serde(default)]
    pub mandatory: bool,
    /// Header that carries the event key (empty: none).
    #[serde(default = "default_key_header")]
    pub key_header: String,
    /// `content_type` of messages whose event has no `amqp_content_type`.
    #[serde(
        default = "default_content_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub content_type: Option<String>,
    /// Declare `exchange` first (idempotent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declare_exchange: Option<ExchangeDeclare>,
    /// Declare these queues (and their bindings) first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declare_queues: Vec<SinkQueue>,
    /// How long a batch waits for its confirms before the write fails
    /// (retryably).
    #[serde(default = "default_confirm_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub confirm_timeout_ms: u64,
    /// Timeout of connecting.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub connect_timeout_ms: u64,
}

/// A queue the sink declares.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SinkQueue {
    /// The queue's name.
    pub name: String,
    /// How to declare it.
    #[serde(default)]
    pub declare: QueueDeclare,
    /// Its bindings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<Binding>,
}

fn default_routing_key() -> String {
    "{stream}".into()
}
fn default_key_header() -> String {
    "key".into()
}
fn default_content_type() -> Option<String> {
    Some("application/json".into())
}
fn default_confirm_timeout() -> u64 {
    30_000
}
fn yes() -> bool {
    true
}

impl AmqpSinkConfig {
    /// The routing key of `event`.
    pub fn routing_key_of(&self, event: &SourceEvent) -> String {
        let mut key = self.routing_key.replace("{stream}", &event.stream);
        if key.contains("{key}") {
            let text = match &event.key {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            key = key.replace("{key}", &text);
        }
        key
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            url: &self.url,
            username: self.username.as_deref(),
            password: self.password.as_ref(),
            timeout: Duration::from_millis(self.connect_timeout_ms),
            name: "rivven-connect amqp sink",
            tls: self.tls.as_ref(),
        }
    }
}

/// The connection and its confirm-mode channel.
struct Publisher {
    _connection: Connection,
    channel: Channel,
}

/// The `amqp` sink (see the [module docs](super)).
pub struct AmqpSink {
    publisher: Mutex<Option<Publisher>>,
    metrics: QueueMetrics,
}

impl Default for AmqpSink {
    fn default() -> Self {
        Self {
            publisher: Mutex::new(None),
            metrics: QueueMetrics::new("amqp", "sink"),
        }
    }
}

impl std::fmt::Debug for AmqpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpSink").finish_non_exhaustive()
    }
}

impl AmqpSink {
    /// A sink; it connects on the first write.
    pub fn new() -> Self {
        Self::default()
    }

    /// What its writes counted so far.
    pub fn metrics(&self) -> &QueueMetrics {
        &self.metrics
    }
}

async fn open(config: &AmqpSinkConfig) -> Result<Publisher> {
    let url = &config.url;
    let connection = connect(config.endpoint()).await?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| amqp_error(url, &e))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| amqp_error(url, &e).context("confirm.select"))?;
    if let Some(declare) = &config.declare_exchange {
        let exchange = short(&config.exchange, "exchange").map_err(config_error)?;
        channel
            .exchange_declare(
                exchange,
                declare.kind(),
                ExchangeDeclareOptions {
                    durable: declare.durable,
                    auto_delete: declare.auto_delete,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                amqp_error(url, &e).context(format!(
                    "declare exchange `{}` (key `declare_exchange`)",
                    config.exchange
                ))
            })?;
    }
    for (i, queue) in config.declare_queues.iter().enumerate() {
        let name = short(&queue.name, "declare_queues.name").map_err(config_error)?;
        let key = format!("declare_queues[{i}].declare.arguments");
        channel
            .queue_declare(
                name.clone(),
                QueueDeclareOptions {
                    durable: queue.declare.durable,
                    exclusive: queue.declare.exclusive,
                    auto_delete: queue.declare.auto_delete,
                    ..QueueDeclareOptions::default()
                },
                field_table(&queue.declare.arguments, &key)?,
            )
            .await
            .map_err(|e| {
                amqp_error(url, &e).context(format!(
                    "declare queue `{}` (key `declare_queues[{i}]`)",
                    queue.name
                ))
            })?;
        for binding in &queue.bindings {
            channel
                .queue_bind(
                    name.clone(),
                    short(&binding.exchange, "bindings.exchange").map_err(config_error)?,
                    short(&binding.routing_key, "bindings.routing_key").map_err(config_error)?,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| {
                    amqp_error(url, &e).context(format!(
                        "bind `{}` to `{}` (key `declare_queues[{i}].bindings`)",
                        queue.name, binding.exchange
                    ))
                })?;
        }
    }
    Ok(Publisher {
        _connection: connection,
        channel,
    })
}

fn config_error(e: ConnectorError) -> ConnectorError {
    ConnectorError::config(e.message().to_owned())
}

#[async_trait]
impl Sink for AmqpSink {
    type Config = AmqpSinkConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        Ok(super::config::check(config.endpoint()).await)
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
        let mut publisher = self.publisher.lock().await;
        let channel = match publisher.as_ref() {
            Some(p) if p.channel.status().connected() => p.channel.clone(),
            _ => {
                publisher.take();
                publisher.insert(open(config).await?).channel.clone()
            }
        };
        let exchange = short(&config.exchange, "exchange").map_err(config_error)?;
        let options = BasicPublishOptions {
            mandatory: config.mandatory,
            ..BasicPublishOptions::default()
        };
        // Publish the whole batch, then await the confirms (pipelined).
        let mut pending = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let prepared = payload::encode(event).and_then(|bytes| {
                let key = short(&config.routing_key_of(event), "routing key")?;
                let props = properties::from_event(
                    event,
                    config.persistent,
                    &config.key_header,
                    config.content_type.as_deref(),
                )?;
                Ok((bytes, key, props))
            });
            let (bytes, key, props) = match prepared {
                Ok(p) => p,
                Err(e) => {
                    self.metrics.error();
                    result.add_record_failure(index, &e);
                    continue;
                }
            };
            match channel
                .basic_publish(exchange.clone(), key, options, &bytes, props)
                .await
            {
                Ok(confirm) => pending.push((index, bytes.len(), confirm)),
                Err(e) => {
                    publisher.take();
                    self.metrics.error();
                    return Err(amqp_error(&config.url, &e)
                        .context(format!("publish to exchange `{}`", config.exchange)));
                }
            }
        }
        let timeout = Duration::from_millis(config.confirm_timeout_ms);
        let confirms = async {
            let mut out = Vec::with_capacity(pending.len());
            for (index, bytes, confirm) in pending {
                out.push((index, bytes, confirm.await));
            }
            out
        };
        let confirmed = match tokio::time::timeout(timeout, confirms).await {
            Ok(confirmed) => confirmed,
            Err(_) => {
                publisher.take();
                self.metrics.error();
                return Err(ConnectorError::timeout(format!(
                    "AMQP {}: publisher confirms not all received within {timeout:?}",
                    config.url
                )));
            }
        };
        for (index, bytes, confirmation) in confirmed {
            match confirmation {
                Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => {
                    self.metrics.published(1, bytes as u64);
                    result.add_success(1, bytes as u64)
                }
                Ok(Confirmation::Ack(Some(returned))) => {
                    let error = ConnectorError::data(format!(
                        "AMQP: exchange `{}` returned the message for routing key `{}`: {} {}",
                        config.exchange,
                        config.routing_key_of(&events[index]),
                        returned.reply_code,
                        returned.reply_text
                    ));
                    self.metrics.error();
                    result.add_record_failure(index, &error);
                }
                Ok(Confirmation::Nack(_)) => {
                    let error = ConnectorError::data(format!(
                        "AMQP: the broker nacked the message to exchange `{}` (not stored)",
                        config.exchange
                    ));
                    self.metrics.error();
                    result.add_record_failure(index, &error);
                }
                Err(e) => {
                    publisher.take();
                    self.metrics.error();
                    return Err(amqp_error(&config.url, &e).context("await publisher confirms"));
                }
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rivven_connect::SinkConfig;
    use serde_json::json;

    #[test]
    fn routing_keys_are_templates_over_stream_and_key() {
        let config = AmqpSinkConfig::from_value(json!({
            "url": "amqp://h:5672/%2f", "routing_key": "orders.{stream}.{key}"
        }))
        .unwrap();
        let event = SourceEvent::record("eu", json!({})).with_key(json!(7));
        assert_eq!(config.routing_key_of(&event), "orders.eu.7");
        assert!(config.persistent);
    }
}
