//! The `redis-streams` sink: one pipelined `XADD` per batch.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::{
    CheckResult, ConnectorError, Result, SecretString, Sink, SinkConfig, SourceEvent, WriteResult,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use validator::Validate;

use super::config::{client, connect, redis_error, validate_url, Endpoint};
use super::source::{default_connect_timeout, default_payload_field};
use crate::metrics::QueueMetrics;
use crate::payload;
use crate::tls::TlsOptions;

/// Appends events to Redis streams.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "redis-streams",
    version = env!("CARGO_PKG_VERSION"),
    description = "Appends each event to a Redis stream (fixed or a template on the event's stream) with one pipelined XADD per batch, optionally trimmed with MAXLEN ~",
    author = "rivven-connect",
    category = "messaging",
    tags = ["redis", "streams", "messaging"],
    connector = RedisStreamsSink
)]
#[serde(deny_unknown_fields)]
pub struct RedisStreamsSinkConfig {
    /// `redis://host:port/db`, or `rediss://…` for TLS.
    #[validate(custom(function = "validate_url"))]
    #[schemars(example = &"redis://127.0.0.1:6379/0")]
    pub url: String,
    /// ACL user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// TLS of a `rediss://` URL: trusted CA, client certificate (without
    /// it the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOptions>,
    /// Stream key: fixed, or a template with `{stream}`.
    #[serde(default = "default_stream")]
    #[validate(length(min = 1))]
    pub stream: String,
    /// Trim each stream to about this many entries (`MAXLEN ~`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(range(min = 1))]
    pub max_len: Option<u64>,
    /// The entry field of the payload (the event key goes in field `key`).
    #[serde(default = "default_payload_field")]
    #[validate(length(min = 1))]
    pub payload_field: String,
    /// Timeout of connecting.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub connect_timeout_ms: u64,
}

fn default_stream() -> String {
    "{stream}".into()
}

impl RedisStreamsSinkConfig {
    /// The stream key of `event`.
    pub fn stream_of(&self, event: &SourceEvent) -> String {
        self.stream.replace("{stream}", &event.stream)
    }
}

/// The `redis-streams` sink (see the [module docs](super)).
pub struct RedisStreamsSink {
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
    metrics: QueueMetrics,
}

impl Default for RedisStreamsSink {
    fn default() -> Self {
        Self {
            connection: Mutex::new(None),
            metrics: QueueMetrics::new("redis-streams", "sink"),
        }
    }
}

impl std::fmt::Debug for RedisStreamsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsSink").finish_non_exhaustive()
    }
}

impl RedisStreamsSink {
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
impl Sink for RedisStreamsSink {
    type Config = RedisStreamsSinkConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        Ok(super::config::check(config.endpoint(), timeout(config)).await)
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
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let mut sent = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let bytes = match payload::encode(event) {
                Ok(bytes) => bytes,
                Err(e) => {
                    self.metrics.error();
                    result.add_record_failure(index, &e);
                    continue;
                }
            };
            let cmd = pipe.cmd("XADD").arg(config.stream_of(event));
            if let Some(max_len) = config.max_len {
                cmd.arg("MAXLEN").arg("~").arg(max_len);
            }
            cmd.arg("*").arg(&config.payload_field).arg(&bytes);
            match &event.key {
                None => {}
                Some(Value::String(key)) => {
                    cmd.arg("key").arg(key);
                }
                Some(other) => {
                    cmd.arg("key").arg(other.to_string());
                }
            }
            sent.push((index, bytes.len()));
        }
        if sent.is_empty() {
            return Ok(result);
        }
        let mut connection = self.connection.lock().await;
        let conn = match connection.as_mut() {
            Some(conn) => conn,
            None => {
                let client = client(config.endpoint())?;
                connection.insert(connect(&client, &config.url, timeout(config)).await?)
            }
        };
        let replies: Vec<redis::Value> = match pipe.query_async(conn).await {
            Ok(replies) => replies,
            Err(e) => {
                connection.take();
                self.metrics.error();
                return Err(
                    redis_error(&config.url, &e).context(format!("XADD {} entries", sent.len()))
                );
            }
        };
        for ((index, bytes), reply) in sent.into_iter().zip(replies) {
            match reply {
                redis::Value::ServerError(e) => {
                    let stream = config.stream_of(&events[index]);
                    let error = ConnectorError::data(format!(
                        "XADD to `{stream}`: {} {}",
                        e.code(),
                        e.details().unwrap_or("")
                    ));
                    self.metrics.error();
                    result.add_record_failure(index, &error);
                }
                _ => {
                    self.metrics.published(1, bytes as u64);
                    result.add_success(1, bytes as u64);
                }
            }
        }
        Ok(result)
    }
}

impl RedisStreamsSinkConfig {
    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            url: &self.url,
            username: self.username.as_deref(),
            password: self.password.as_ref(),
            tls: self.tls.as_ref(),
        }
    }
}

fn timeout(config: &RedisStreamsSinkConfig) -> Duration {
    Duration::from_millis(config.connect_timeout_ms)
}
