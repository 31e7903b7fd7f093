//! The `nats` source: a JetStream durable pull consumer (each message acked
//! only when the runtime resolves its token `Delivered`), or a core NATS
//! subscription (at-most-once).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorError, Result, Source, SourceConfig,
    SourceEvent, State, Stream,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use validator::{Validate, ValidationError};

use super::config::{
    stable_name, validate_auth, validate_filter, validate_url, ConnectSettings, NatsAuth, NatsMode,
};
use super::consumer::{check_server_version, get_stream, Bound};
use crate::metrics::QueueMetrics;
use crate::tls::TlsOptions;

/// Where a new durable consumer starts in its stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicy {
    /// Every message the stream holds (the default).
    #[default]
    All,
    /// Only messages stored after the consumer was created.
    New,
    /// The last message of the stream, then the new ones.
    Last,
    /// From `start_sequence` on.
    ByStartSequence,
}

/// Reads a JetStream stream (durable pull consumer) or subscribes to a
/// core NATS subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "nats",
    version = env!("CARGO_PKG_VERSION"),
    description = "Reads a NATS JetStream stream through a durable pull consumer, acking each message only after the pipeline committed it (unacked messages are redelivered), or subscribes to a core NATS subject (at-most-once)",
    author = "rivven-connect",
    category = "messaging",
    tags = ["nats", "jetstream", "messaging", "pubsub"],
    connector = NatsSource
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "validate_source"))]
pub struct NatsSourceConfig {
    /// Server URL(s): `nats://host:port` or `tls://host:port` (TLS
    /// required), several separated by commas.
    #[validate(custom(function = "validate_url"))]
    #[schemars(example = &"nats://127.0.0.1:4222")]
    pub url: String,
    /// `jetstream` (default: durable, acknowledged, at-least-once) or
    /// `core` (a plain subscription: AT-MOST-ONCE).
    #[serde(default)]
    pub mode: NatsMode,
    /// JetStream: the stream to read (it must exist; required with `mode: jetstream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    #[schemars(example = &"ORDERS")]
    pub stream: Option<String>,
    /// JetStream: the durable consumer's name; default a stable name
    /// derived from the stream and the filter subject (keep it across
    /// restarts: the server keeps its position and unacked messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 256))]
    pub durable_name: Option<String>,
    /// JetStream: only the stream's messages on this subject (wildcards allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "validate_filter"))]
    pub filter_subject: Option<String>,
    /// JetStream: only the stream's messages on these subjects (several
    /// filters on one consumer; needs nats-server 2.10 or later: an older
    /// server is a configuration error). Not with `filter_subject`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[validate(custom(function = "validate_filters"))]
    pub filter_subjects: Vec<String>,
    /// JetStream: create the durable consumer if it is missing when the
    /// source first starts in this process (one deleted while the source
    /// runs: see `recreate_consumer`). With `false` it must exist (e.g.
    /// made with `nats consumer add`).
    #[serde(default = "yes")]
    pub create_consumer: bool,
    /// JetStream: when the durable consumer is deleted while the source
    /// runs, create it again (it starts over per `deliver_policy`: with
    /// `all` every message of the stream comes again, with `new` those
    /// stored meanwhile are skipped). Default: the source fails with a
    /// configuration error naming stream and consumer (not retried).
    #[serde(default)]
    pub recreate_consumer: bool,
    /// JetStream: where a new consumer starts: `all` (default), `new`,
    /// `last`, `by_start_sequence` (with `start_sequence`).
    #[serde(default)]
    pub deliver_policy: DeliverPolicy,
    /// JetStream: the first stream sequence with `deliver_policy: by_start_sequence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(range(min = 1))]
    pub start_sequence: Option<u64>,
    /// JetStream: seconds the server waits for an ack before redelivering.
    #[serde(default = "default_ack_wait")]
    #[validate(range(min = 1, max = 86400))]
    pub ack_wait_secs: u64,
    /// JetStream: the consumer's limit of unacked messages on the server.
    #[serde(default = "default_max_ack_pending")]
    #[validate(range(min = 1, max = 1000000))]
    pub max_ack_pending: i64,
    /// JetStream: how long one pull request waits for messages.
    #[serde(default = "default_fetch_expires")]
    #[validate(range(min = 100, max = 60000))]
    pub fetch_expires_ms: u64,
    /// Core: the subject to subscribe to (wildcards `*` and `>` allowed;
    /// required with `mode: core`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "validate_filter"))]
    pub subject: Option<String>,
    /// Core: a queue group (the server spreads messages over its members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    pub queue_group: Option<String>,
    /// The credit: messages with the pipeline and unresolved at most; a
    /// pull asks only for the free part of it.
    #[serde(default = "default_max_inflight")]
    #[validate(range(min = 1, max = 100000))]
    pub max_inflight: u32,
    /// The event key is this header's value; default none: the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    pub key_header: Option<String>,
    /// Parse each payload as JSON (a payload that is not JSON is a bad
    /// record, handled per `on_error`); otherwise the data is the payload
    /// as a string (base64 for non-UTF-8, flagged `payload_encoding: base64`).
    #[serde(default = "yes")]
    pub parse_json_payload: bool,
    /// Add `nats_subject`, and for JetStream `nats_stream`,
    /// `nats_stream_seq`, `nats_consumer_seq`, `nats_delivered`,
    /// `nats_redelivered`, to the event's metadata.
    #[serde(default = "yes")]
    pub include_metadata: bool,
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
    /// Timeout of JetStream API requests.
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

fn validate_source(config: &NatsSourceConfig) -> std::result::Result<(), ValidationError> {
    let fail = |code: &'static str, message: &str| {
        Err(ValidationError::new(code).with_message(message.to_owned().into()))
    };
    match config.mode {
        _ if config.filter_subject.is_some() && !config.filter_subjects.is_empty() => fail(
            "filter_subjects",
            "filter_subject and filter_subjects: set one (filter_subjects takes a list)",
        ),
        _ if config.recreate_consumer && !config.create_consumer => fail(
            "recreate_consumer",
            "recreate_consumer: true needs create_consumer: true",
        ),
        NatsMode::Jetstream if config.stream.is_none() => {
            fail("stream", "stream is required with mode: jetstream")
        }
        NatsMode::Core if config.subject.is_none() => {
            fail("subject", "subject is required with mode: core")
        }
        _ if config.deliver_policy == DeliverPolicy::ByStartSequence
            && config.start_sequence.is_none() =>
        {
            fail(
                "start_sequence",
                "start_sequence is required with deliver_policy: by_start_sequence",
            )
        }
        _ => Ok(()),
    }
}

fn validate_filters(subjects: &[String]) -> std::result::Result<(), ValidationError> {
    subjects.iter().try_for_each(|s| validate_filter(s))
}

pub(super) fn default_connect_timeout() -> u64 {
    5_000
}
pub(super) fn default_request_timeout() -> u64 {
    5_000
}
pub(super) fn default_retry_initial() -> u64 {
    100
}
pub(super) fn default_retry_max() -> u64 {
    5_000
}
fn default_ack_wait() -> u64 {
    30
}
fn default_max_ack_pending() -> i64 {
    10_000
}
fn default_fetch_expires() -> u64 {
    1_000
}
fn default_max_inflight() -> u32 {
    1_000
}
fn yes() -> bool {
    true
}

impl NatsSourceConfig {
    /// Read JetStream stream `stream` at `url`; defaults otherwise.
    pub fn jetstream(url: impl Into<String>, stream: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            mode: NatsMode::Jetstream,
            stream: Some(stream.into()),
            durable_name: None,
            filter_subject: None,
            filter_subjects: Vec::new(),
            create_consumer: true,
            recreate_consumer: false,
            deliver_policy: DeliverPolicy::All,
            start_sequence: None,
            ack_wait_secs: default_ack_wait(),
            max_ack_pending: default_max_ack_pending(),
            fetch_expires_ms: default_fetch_expires(),
            subject: None,
            queue_group: None,
            max_inflight: default_max_inflight(),
            key_header: None,
            parse_json_payload: true,
            include_metadata: true,
            auth: None,
            tls: None,
            connect_timeout_ms: default_connect_timeout(),
            request_timeout_ms: default_request_timeout(),
            retry_initial_ms: default_retry_initial(),
            retry_max_ms: default_retry_max(),
        }
    }

    /// The durable consumer's name (configured or derived from the stream
    /// and the filter subject(s)).
    pub fn effective_durable_name(&self) -> String {
        match &self.durable_name {
            Some(name) => name.clone(),
            None => {
                let mut parts = vec![self.stream.as_deref().unwrap_or("")];
                match &self.filter_subject {
                    Some(filter) => parts.push(filter),
                    None if self.filter_subjects.is_empty() => parts.push(""),
                    None => parts.extend(self.filter_subjects.iter().map(String::as_str)),
                }
                stable_name("rivven-", &parts)
            }
        }
    }

    pub(super) fn settings(&self) -> ConnectSettings<'_> {
        ConnectSettings {
            url: &self.url,
            auth: self.auth.as_ref(),
            tls: self.tls.as_ref(),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            retry_initial: Duration::from_millis(self.retry_initial_ms),
            retry_max: Duration::from_millis(self.retry_max_ms),
            name: "rivven-connect-source",
        }
    }

    pub(super) fn stream_name(&self) -> Result<&str> {
        self.stream
            .as_deref()
            .ok_or_else(|| ConnectorError::config("stream is required with mode: jetstream"))
    }
}

/// The `nats` source (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct NatsSource {
    metrics: Arc<QueueMetrics>,
    /// The durable consumers its reads bound (one missing on a later read
    /// was deleted).
    bound: Bound,
}

impl Default for NatsSource {
    fn default() -> Self {
        Self {
            metrics: Arc::new(QueueMetrics::new("nats", "source")),
            bound: Bound::default(),
        }
    }
}

impl NatsSource {
    /// A source; it connects when it reads.
    pub fn new() -> Self {
        Self::default()
    }

    /// What its readers counted so far (every `read` of this instance).
    pub fn metrics(&self) -> &QueueMetrics {
        &self.metrics
    }
}

#[async_trait]
impl Source for NatsSource {
    type Config = NatsSourceConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        let settings = config.settings();
        if config.mode == NatsMode::Core {
            return Ok(settings.check(false).await);
        }
        let outcome = async {
            let client = settings.connect().await?;
            check_server_version(&client, config)?;
            let js = settings.jetstream(client, 16);
            get_stream(&js, config.stream_name()?, &config.url)
                .await
                .map(|_| ())
        }
        .await;
        Ok(match outcome {
            Ok(()) => CheckResult::builder().check_passed("nats").finish(),
            Err(e) => CheckResult::builder().check("nats", Err(e)).finish(),
        })
    }

    async fn discover(&self, config: &Self::Config) -> Result<Catalog> {
        let name = match config.mode {
            NatsMode::Jetstream => config.stream.clone(),
            NatsMode::Core => config.subject.clone(),
        };
        Ok(Catalog::new(
            name.map(|n| Stream::new(n, json!({})))
                .into_iter()
                .collect(),
        ))
    }

    async fn read(
        &self,
        config: &Self::Config,
        _catalog: &ConfiguredCatalog,
        _state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        super::reader::start(config.clone(), self.metrics.clone(), self.bound.clone()).await
    }

    fn exclusive_resource(&self, config: &Self::Config) -> Option<String> {
        // Two pipelines on one durable consumer would share its cursor.
        match config.mode {
            NatsMode::Jetstream => Some(format!(
                "nats:{}/{}/{}",
                config.url,
                config.stream.as_deref().unwrap_or(""),
                config.effective_durable_name()
            )),
            NatsMode::Core => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_and_keys() {
        let config =
            NatsSourceConfig::from_value(json!({"url": "nats://h:4222", "stream": "S"})).unwrap();
        assert_eq!(config, NatsSourceConfig::jetstream("nats://h:4222", "S"));
        assert_eq!(
            config.effective_durable_name(),
            NatsSourceConfig::jetstream("nats://other:1", "S").effective_durable_name(),
            "the durable name does not depend on the URL"
        );
        for (bad, key) in [
            (
                json!({"url": "nats://h", "stream": "S", "max_ack_pending": 0}),
                "max_ack_pending",
            ),
            (
                json!({"url": "nats://h", "stream": "S", "deliver_policy": "sometimes"}),
                "deliver_policy",
            ),
            (
                json!({"url": "nats://h", "mode": "core", "subject": ""}),
                "subject",
            ),
            (json!({"url": "nats://h", "mode": "core"}), "subject"),
            (json!({"url": "nats://h"}), "stream"),
            (
                json!({"url": "nats://h", "stream": "S", "deliver_policy": "by_start_sequence"}),
                "start_sequence",
            ),
            (json!({"url": "http://h", "stream": "S"}), "url"),
            (
                json!({"url": "nats://h", "stream": "S", "auth": {"username": "u"}}),
                "password",
            ),
        ] {
            let err = NatsSourceConfig::from_value(bad.clone()).unwrap_err();
            assert_eq!(err.kind(), rivven_connect::ErrorKind::Config, "{bad}");
            assert!(err.to_string().contains(key), "{bad}: {err}");
        }
    }

    #[test]
    fn filter_subjects_name_the_consumer_and_exclude_filter_subject() {
        let one = NatsSourceConfig::from_value(
            json!({"url": "nats://h", "stream": "S", "filter_subject": "a.>"}),
        )
        .unwrap();
        let list = NatsSourceConfig::from_value(
            json!({"url": "nats://h", "stream": "S", "filter_subjects": ["a.>"]}),
        )
        .unwrap();
        assert_eq!(one.effective_durable_name(), list.effective_durable_name());
        let two = NatsSourceConfig::from_value(
            json!({"url": "nats://h", "stream": "S", "filter_subjects": ["a.>", "b.*"]}),
        )
        .unwrap();
        assert_ne!(one.effective_durable_name(), two.effective_durable_name());
        for (bad, key) in [
            (
                json!({"url": "nats://h", "stream": "S", "filter_subject": "a", "filter_subjects": ["b"]}),
                "filter_subjects",
            ),
            (
                json!({"url": "nats://h", "stream": "S", "filter_subjects": ["a..b"]}),
                "filter_subjects",
            ),
            (
                json!({"url": "nats://h", "stream": "S", "create_consumer": false, "recreate_consumer": true}),
                "recreate_consumer",
            ),
        ] {
            let err = NatsSourceConfig::from_value(bad.clone()).unwrap_err();
            assert_eq!(err.kind(), rivven_connect::ErrorKind::Config, "{bad}");
            assert!(err.to_string().contains(key), "{bad}: {err}");
        }
    }

    #[test]
    fn secrets_never_show() {
        let config = NatsSourceConfig::from_value(json!({
            "url": "nats://h", "stream": "S",
            "auth": {"username": "u", "password": "hunter2", "token": "t0ken"}
        }))
        .unwrap();
        let shown = format!("{config:?}{}", serde_json::to_string(&config).unwrap());
        assert!(
            !shown.contains("hunter2") && !shown.contains("t0ken"),
            "{shown}"
        );
        let err = NatsSourceConfig::from_value(json!({
            "url": "nats://h", "stream": "S", "auth": {"token": 123456789}
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("token"), "{err}");
        assert!(!err.contains("123456789"), "{err}");
    }
}
