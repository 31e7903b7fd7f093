//! The `nats` sink: JetStream publishes whose acks are awaited together
//! (the whole batch is sent first), or core publishes and a flush.

use std::time::Duration;

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
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

use super::config::{
    stable_name, subject_problem, validate_auth, validate_url, ConnectSettings, NatsAuth, NatsMode,
};
use super::source::{
    default_connect_timeout, default_request_timeout, default_retry_initial, default_retry_max,
};
use crate::metrics::QueueMetrics;
use crate::payload;
use crate::tls::TlsOptions;

/// The header JetStream deduplicates on.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Storage of a stream the sink creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamStorage {
    /// On disk (the default).
    #[default]
    File,
    /// In memory (lost when the server stops).
    Memory,
}

/// `create_stream`: the JetStream stream the sink creates if it is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStream {
    /// Stream name.
    #[validate(length(min = 1))]
    pub name: String,
    /// Subjects it captures (wildcards allowed).
    #[validate(length(min = 1))]
    pub subjects: Vec<String>,
    /// `file` (default) or `memory`.
    #[serde(default)]
    pub storage: StreamStorage,
    /// Drop messages older than this (0: keep).
    #[serde(default)]
    pub max_age_secs: u64,
    /// Keep at most this many messages (-1: no limit).
    #[serde(default = "unlimited")]
    pub max_messages: i64,
    /// Keep at most this many bytes (-1: no limit).
    #[serde(default = "unlimited")]
    pub max_bytes: i64,
    /// The window in which a repeated `Nats-Msg-Id` is dropped by the server.
    #[serde(default = "default_duplicate_window")]
    #[validate(range(min = 1))]
    pub duplicate_window_secs: u64,
    /// Replicas (1 on a single server).
    #[serde(default = "one")]
    #[validate(range(min = 1, max = 5))]
    pub replicas: usize,
}

fn unlimited() -> i64 {
    -1
}
fn default_duplicate_window() -> u64 {
    120
}
fn one() -> usize {
    1
}

/// Which `Nats-Msg-Id` each JetStream publish carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageId {
    /// The event's own `Nats-Msg-Id` header if it has one, else one derived
    /// from where the event came from (a NATS stream and sequence, or the
    /// event's position); none for events without either (the default).
    #[default]
    Auto,
    /// No `Nats-Msg-Id` (no server-side deduplication of retried writes).
    None,
}

/// Publishes events to NATS subjects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "nats",
    version = env!("CARGO_PKG_VERSION"),
    description = "Publishes each event to a NATS subject (fixed or a template on the event's stream and key): JetStream publishes whose acks are awaited together per batch, with Nats-Msg-Id for server-side deduplication, or core NATS publish + flush (at-most-once)",
    author = "rivven-connect",
    category = "messaging",
    tags = ["nats", "jetstream", "messaging", "pubsub"],
    connector = NatsSink
)]
#[serde(deny_unknown_fields)]
pub struct NatsSinkConfig {
    /// Server URL(s): `nats://host:port` or `tls://host:port` (TLS
    /// required), several separated by commas.
    #[validate(custom(function = "validate_url"))]
    #[schemars(example = &"nats://127.0.0.1:4222")]
    pub url: String,
    /// `jetstream` (default: each publish acknowledged by the stream) or
    /// `core` (publish + flush, AT-MOST-ONCE: nothing is stored).
    #[serde(default)]
    pub mode: NatsMode,
    /// Subject of each message: fixed, or a template with `{stream}` and
    /// `{key}` (the event key; a string as is, other JSON as its text).
    #[serde(default = "default_subject")]
    #[validate(length(min = 1))]
    #[schemars(example = &"orders.{key}")]
    pub subject: String,
    /// JetStream: create this stream if it does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub create_stream: Option<CreateStream>,
    /// JetStream: the `Nats-Msg-Id` of each publish: `auto` (default) or `none`.
    #[serde(default)]
    pub message_id: MessageId,
    /// The header carrying the event key (default `Rivven-Key`; null: none).
    #[serde(default = "default_key_header")]
    pub key_header: Option<String>,
    /// Publish the event's `nats_headers` metadata (headers read by the
    /// `nats` source) as headers.
    #[serde(default = "yes")]
    pub forward_headers: bool,
    /// JetStream: publishes awaiting their ack at once (a larger batch is
    /// sent in chunks of this size).
    #[serde(default = "default_max_inflight")]
    #[validate(range(min = 1, max = 100000))]
    pub max_inflight: usize,
    /// Credentials: `username` + `password`, and/or `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested, custom(function = "validate_auth"))]
    pub auth: Option<NatsAuth>,
    /// TLS (required when set, as with a `tls://` URL): trusted CA
    /// (default: the system's roots), client certificate and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub tls: Option<TlsOptions>,
    /// Timeout of one connection attempt.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 100, max = 600000))]
    pub connect_timeout_ms: u64,
    /// Timeout of a publish's ack (and of JetStream API requests): past it
    /// the write fails, retryably.
    #[serde(default = "default_request_timeout")]
    #[validate(range(min = 100, max = 600000))]
    pub request_timeout_ms: u64,
    /// First delay before reconnecting (doubling up to `retry_max_ms`).
    #[serde(default = "default_retry_initial")]
    #[validate(range(min = 1, max = 3600000))]
    pub retry_initial_ms: u64,
    /// Largest delay before reconnecting.
    #[serde(default = "default_retry_max")]
    #[validate(range(min = 1, max = 3600000))]
    pub retry_max_ms: u64,
}

fn default_subject() -> String {
    "{stream}".into()
}
fn default_key_header() -> Option<String> {
    Some("Rivven-Key".into())
}
fn default_max_inflight() -> usize {
    4096
}
fn yes() -> bool {
    true
}

impl NatsSinkConfig {
    /// Publish to `subject` (a template) at `url` with JetStream; defaults otherwise.
    pub fn new(url: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            mode: NatsMode::Jetstream,
            subject: subject.into(),
            create_stream: None,
            message_id: MessageId::Auto,
            key_header: default_key_header(),
            forward_headers: true,
            max_inflight: default_max_inflight(),
            auth: None,
            tls: None,
            connect_timeout_ms: default_connect_timeout(),
            request_timeout_ms: default_request_timeout(),
            retry_initial_ms: default_retry_initial(),
            retry_max_ms: default_retry_max(),
        }
    }

    /// The subject of `event`.
    pub fn subject_of(&self, event: &SourceEvent) -> String {
        if !self.subject.contains('{') {
            return self.subject.clone();
        }
        self.subject
            .replace("{stream}", &event.stream)
            .replace("{key}", &key_text(event).unwrap_or_default())
    }

    /// The headers of `event`'s message.
    pub fn headers_of(&self, event: &SourceEvent) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if self.forward_headers {
            if let Some(Value::Object(forwarded)) = event.metadata.extra.get("nats_headers") {
                for (name, value) in forwarded {
                    match value {
                        Value::String(s) => headers.append(name.as_str(), s.as_str()),
                        Value::Array(values) => {
                            for v in values.iter().filter_map(Value::as_str) {
                                headers.append(name.as_str(), v);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        if let (Some(name), Some(key)) = (&self.key_header, key_text(event)) {
            headers.insert(name.as_str(), key.as_str());
        }
        if self.mode == NatsMode::Jetstream && self.message_id == MessageId::Auto {
            if headers.get(MSG_ID_HEADER).is_none() {
                if let Some(id) = derived_msg_id(event) {
                    headers.insert(MSG_ID_HEADER, id.as_str());
                }
            }
        } else if self.message_id == MessageId::None {
            // Not forwarded either: the user asked for no deduplication.
            let mut kept = HeaderMap::new();
            for (name, values) in headers.iter() {
                let name: &str = name.as_ref();
                if name != MSG_ID_HEADER {
                    for v in values {
                        kept.append(name, v.as_str());
                    }
                }
            }
            headers = kept;
        }
        headers
    }

    fn settings(&self) -> ConnectSettings<'_> {
        ConnectSettings {
            url: &self.url,
            auth: self.auth.as_ref(),
            tls: self.tls.as_ref(),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            retry_initial: Duration::from_millis(self.retry_initial_ms),
            retry_max: Duration::from_millis(self.retry_max_ms),
            name: "rivven-connect-sink",
        }
    }
}

fn key_text(event: &SourceEvent) -> Option<String> {
    match &event.key {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// A `Nats-Msg-Id` from where `event` came from: the same for every
/// redelivery of it, distinct for distinct source messages.
fn derived_msg_id(event: &SourceEvent) -> Option<String> {
    let extra = &event.metadata.extra;
    if let (Some(Value::String(stream)), Some(seq)) = (
        extra.get("nats_stream"),
        extra.get("nats_stream_seq").and_then(Value::as_u64),
    ) {
        return Some(format!("{stream}:{seq}"));
    }
    let position = event.metadata.position.as_ref().map(Value::to_string);
    let sequence = event.metadata.sequence.map(|s| s.to_string());
    if position.is_none() && sequence.is_none() {
        return None;
    }
    Some(stable_name(
        "rvn-",
        &[
            &event.stream,
            position.as_deref().unwrap_or(""),
            sequence.as_deref().unwrap_or(""),
        ],
    ))
}

struct Connection {
    client: async_nats::Client,
    js: jetstream::Context,
}

/// The `nats` sink (see the [module docs](super)).
pub struct NatsSink {
    connection: Mutex<Option<Connection>>,
    metrics: QueueMetrics,
}

impl Default for NatsSink {
    fn default() -> Self {
        Self {
            connection: Mutex::new(None),
            metrics: QueueMetrics::new("nats", "sink"),
        }
    }
}

impl std::fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSink").finish_non_exhaustive()
    }
}

impl NatsSink {
    /// A sink; it connects on the first write.
    pub fn new() -> Self {
        Self::default()
    }

    /// What its writes counted so far.
    pub fn metrics(&self) -> &QueueMetrics {
        &self.metrics
    }

    async fn connect(config: &NatsSinkConfig) -> Result<Connection> {
        let settings = config.settings();
        let client = settings.connect().await?;
        let js = settings.jetstream(client.clone(), config.max_inflight);
        if let (NatsMode::Jetstream, Some(create)) = (config.mode, &config.create_stream) {
            create_stream(&js, create, &config.url).await?;
        }
        Ok(Connection { client, js })
    }
}

async fn create_stream(js: &jetstream::Context, create: &CreateStream, url: &str) -> Result<()> {
    let stream_config = stream::Config {
        name: create.name.clone(),
        subjects: create.subjects.clone(),
        storage: match create.storage {
            StreamStorage::File => stream::StorageType::File,
            StreamStorage::Memory => stream::StorageType::Memory,
        },
        max_age: Duration::from_secs(create.max_age_secs),
        max_messages: create.max_messages,
        max_bytes: create.max_bytes,
        duplicate_window: Duration::from_secs(create.duplicate_window_secs),
        num_replicas: create.replicas,
        ..Default::default()
    };
    js.get_or_create_stream(stream_config)
        .await
        .map(|_| ())
        .map_err(|e| {
            use async_nats::jetstream::context::CreateStreamErrorKind as Kind;
            let message = format!("NATS {url}: create_stream `{}`: {e}", create.name);
            match e.kind() {
                Kind::TimedOut | Kind::JetStreamUnavailable => ConnectorError::connection(message),
                _ => ConnectorError::config(message),
            }
        })
}

#[async_trait]
impl Sink for NatsSink {
    type Config = NatsSinkConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        Ok(config
            .settings()
            .check(config.mode == NatsMode::Jetstream)
            .await)
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
        let written = self.write_uncounted(config, events).await;
        match &written {
            Ok(result) => {
                self.metrics
                    .published(result.records_written, result.bytes_written);
                for _ in result.record_failures() {
                    self.metrics.error();
                }
            }
            Err(_) => self.metrics.error(),
        }
        written
    }
}

impl NatsSink {
    async fn write_uncounted(
        &self,
        config: &NatsSinkConfig,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        let mut result = WriteResult::new();
        let mut guard = self.connection.lock().await;
        let connection = match guard.as_mut() {
            Some(c) => c,
            None => guard.insert(Self::connect(config).await?),
        };
        let max_payload = connection.client.server_info().max_payload;
        // Per-record failures first: they go to the dead letter queue and
        // are not published.
        let mut messages = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let subject = config.subject_of(event);
            let message = match subject_problem(&subject, false) {
                Some(why) => Err(ConnectorError::data(format!(
                    "{why} (from subject `{}`)",
                    config.subject
                ))),
                None => payload::encode(event).and_then(|bytes| {
                    let headers = config.headers_of(event);
                    let size = bytes.len() + headers_size(&headers);
                    if size > max_payload {
                        Err(ConnectorError::data(format!(
                            "message of {size} bytes for `{subject}` exceeds the server's max_payload of {max_payload} bytes"
                        )))
                    } else {
                        Ok((subject, headers, bytes))
                    }
                }),
            };
            match message {
                Ok(m) => messages.push((index, m)),
                Err(e) => result.add_record_failure(index, &e),
            }
        }
        if messages.is_empty() {
            return Ok(result);
        }
        let outcome = match config.mode {
            NatsMode::Jetstream => {
                publish_jetstream(&connection.js, config, messages, &mut result).await
            }
            NatsMode::Core => publish_core(&connection.client, config, messages, &mut result).await,
        };
        match outcome {
            Ok(()) => Ok(result),
            Err(e) => Err(e.context(format!("publish {} messages", events.len()))),
        }
    }
}

type Prepared = (usize, (String, HeaderMap, Vec<u8>));

fn headers_size(headers: &HeaderMap) -> usize {
    if headers.is_empty() {
        return 0;
    }
    // "NATS/1.0\r\n" + "name: value\r\n"… + "\r\n"
    12 + headers
        .iter()
        .map(|(n, vs)| {
            vs.iter()
                .map(|v| AsRef::<str>::as_ref(n).len() + v.as_str().len() + 4)
                .sum::<usize>()
        })
        .sum::<usize>()
}

/// Sends every message of a chunk, then awaits all their acks together.
async fn publish_jetstream(
    js: &jetstream::Context,
    config: &NatsSinkConfig,
    messages: Vec<Prepared>,
    result: &mut WriteResult,
) -> Result<()> {
    let mut messages = messages.into_iter().peekable();
    while messages.peek().is_some() {
        let mut pending: Vec<(usize, String, u64, PublishAckFuture)> = Vec::new();
        for (index, (subject, headers, bytes)) in messages.by_ref().take(config.max_inflight) {
            let size = bytes.len() as u64;
            let mut message = PublishMessage::build().payload(bytes.into());
            if !headers.is_empty() {
                message = message.headers(headers);
            }
            match js.send_publish(subject.clone(), message).await {
                Ok(ack) => pending.push((index, subject, size, ack)),
                // Subjects were checked above: only the size is the record's
                // fault here (the server may have lowered max_payload).
                Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => result
                    .add_record_failure(
                        index,
                        &ConnectorError::data(format!("publish to `{subject}`: {e}")),
                    ),
                Err(e) => return Err(publish_error(&config.url, &subject, &e)),
            }
        }
        let acks =
            futures::future::join_all(pending.into_iter().map(
                |(index, subject, size, ack)| async move { (index, subject, size, ack.await) },
            ))
            .await;
        let mut retry = None;
        for (index, subject, size, ack) in acks {
            match ack {
                Ok(_) => result.add_success(1, size),
                Err(e) => match e.kind() {
                    PublishErrorKind::WrongLastMessageId
                    | PublishErrorKind::WrongLastSequence
                    | PublishErrorKind::MaxPayloadExceeded
                    | PublishErrorKind::Other => result.add_record_failure(
                        index,
                        &ConnectorError::data(format!("JetStream refused `{subject}`: {e}")),
                    ),
                    _ => {
                        retry.get_or_insert_with(|| publish_error(&config.url, &subject, &e));
                    }
                },
            }
        }
        if let Some(e) = retry {
            return Err(e);
        }
    }
    Ok(())
}

fn publish_error(
    url: &str,
    subject: &str,
    e: &async_nats::jetstream::context::PublishError,
) -> ConnectorError {
    let message = format!("NATS {url}: publish to `{subject}`: {e}");
    match e.kind() {
        PublishErrorKind::TimedOut => ConnectorError::timeout(message),
        PublishErrorKind::StreamNotFound => ConnectorError::connection(format!(
            "{message} (no JetStream stream captures the subject, or JetStream is not ready after a restart)"
        )),
        _ => ConnectorError::connection(message),
    }
}

/// Core NATS: publish each, then flush (the server has them; nothing more
/// is known: at-most-once).
async fn publish_core(
    client: &async_nats::Client,
    config: &NatsSinkConfig,
    messages: Vec<Prepared>,
    result: &mut WriteResult,
) -> Result<()> {
    let mut written = (0u64, 0u64);
    for (index, (subject, headers, bytes)) in messages {
        let size = bytes.len() as u64;
        let sent = if headers.is_empty() {
            client.publish(subject.clone(), bytes.into()).await
        } else {
            client
                .publish_with_headers(subject.clone(), headers, bytes.into())
                .await
        };
        match sent {
            Ok(()) => written = (written.0 + 1, written.1 + size),
            Err(e) => match e.kind() {
                async_nats::PublishErrorKind::MaxPayloadExceeded
                | async_nats::PublishErrorKind::InvalidSubject => result.add_record_failure(
                    index,
                    &ConnectorError::data(format!("publish to `{subject}`: {e}")),
                ),
                _ => {
                    return Err(ConnectorError::connection(format!(
                        "NATS {}: publish to `{subject}`: {e}",
                        config.url
                    )))
                }
            },
        }
    }
    client
        .flush()
        .await
        .map_err(|e| ConnectorError::connection(format!("NATS {}: flush: {e}", config.url)))?;
    result.add_success(written.0, written.1);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn subjects_and_headers() {
        let config = NatsSinkConfig::new("nats://h", "out.{stream}.{key}");
        let event = SourceEvent::record("orders", json!({})).with_key(json!("k1"));
        assert_eq!(config.subject_of(&event), "out.orders.k1");
        let headers = config.headers_of(&event);
        assert_eq!(headers.get("Rivven-Key").unwrap().as_str(), "k1");
        assert!(headers.get(MSG_ID_HEADER).is_none(), "no origin: no id");
        let from_nats = event
            .clone()
            .with_metadata("nats_stream", json!("S"))
            .with_metadata("nats_stream_seq", json!(7))
            .with_metadata("nats_headers", json!({"a": "1", "b": ["2", "3"]}));
        let headers = config.headers_of(&from_nats);
        assert_eq!(headers.get(MSG_ID_HEADER).unwrap().as_str(), "S:7");
        assert_eq!(headers.get("a").unwrap().as_str(), "1");
        assert_eq!(headers.get_all("b").count(), 2);
        let positioned = event.clone().with_position(json!({"lsn": 5}));
        let id = config.headers_of(&positioned);
        assert_eq!(
            id.get(MSG_ID_HEADER),
            config.headers_of(&positioned.clone()).get(MSG_ID_HEADER)
        );
        let mut none = config.clone();
        none.message_id = MessageId::None;
        assert!(none.headers_of(&from_nats).get(MSG_ID_HEADER).is_none());
    }
}
