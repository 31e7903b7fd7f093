//! The `rivven` sink: each batch produced to a broker topic, acknowledged.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::{BoxStream, FuturesOrdered, StreamExt};
use rivven_client::{Error as ClientError, Producer, ProducerConfig};
use rivven_connect::{
    CheckResult, ConnectorError, ErrorKind, Result, Sink, SinkConfig, SourceEvent, WriteResult,
};
use rivven_core::hash::murmur2_partition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use validator::{Validate, ValidationError};

use super::codec::{json_depth, message_key, message_value, MAX_DEPTH};
use super::connection::{client_error, validate_servers, Endpoint, SaslSettings, TlsSettings};
use super::loss::{fingerprint, read_back, Ack, AckedOffsets};
use super::topic::TopicPolicy;
use super::{
    DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_METADATA_REFRESH_MS, DEFAULT_PARTITIONS,
    DEFAULT_REQUEST_TIMEOUT_MS,
};

/// The largest message the sink sends: the broker takes requests of up to
/// 10 MiB, and a message shares its request with up to `BATCH_BYTES` of
/// others (plus framing). A larger event is rejected per record.
pub const MAX_MESSAGE_BYTES: usize = rivven_client::MAX_MESSAGE_SIZE - BATCH_BYTES - 64 * 1024;
/// Bytes per produce request (per partition) at which the producer sends it.
const BATCH_BYTES: usize = 2 * 1024 * 1024;
/// How long the producer gathers a batch's messages before it sends them:
/// they are handed over together, so this only has to cover the handover.
const LINGER_MS: u64 = 5;
/// Messages the producer takes in at once: a whole batch of the runtime
/// (default 10 000 events), so that one batch becomes one request per
/// partition. rivven-client sizes its queue as `buffer_memory / batch_size`;
/// memory is bounded by the runtime's batch, not by this.
const QUEUED_MESSAGES: usize = 16 * 1024;
/// rivven-client's own limit on a message's delivery (see `produce` for
/// the limit that applies: no acknowledgement within `request_timeout_ms`).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3600);
/// At most this many producer connections (partitions share them above).
const MAX_CONNECTIONS: u32 = 16;

/// Produces events to a topic on a Rivven broker, one batched produce
/// request per partition per batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "rivven",
    version = env!("CARGO_PKG_VERSION"),
    description = "Produces events to a topic on a Rivven broker (rivvend): the whole event as JSON, keyed by the event key, one batched produce request per partition, acknowledged before the batch is",
    author = "rivven-connect",
    category = "messaging",
    tags = ["rivven", "broker", "topic", "streaming"],
    connector = RivvenSink
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "validate_sink"))]
pub struct RivvenSinkConfig {
    /// Broker addresses (`host:port`), tried in order; the first reachable
    /// one is used.
    #[validate(custom(function = "validate_servers"))]
    #[schemars(example = ["127.0.0.1:9092"])]
    pub bootstrap_servers: Vec<String>,
    /// Topic to produce to.
    #[validate(length(min = 1, max = 255))]
    #[schemars(example = &"orders")]
    pub topic: String,
    /// Timeout of connecting to one bootstrap server.
    #[serde(default = "default_connection_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub connection_timeout_ms: u64,
    /// Timeout of one request, and of a batch's acknowledgement.
    #[serde(default = "default_request_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub request_timeout_ms: u64,
    /// How often the topic's metadata (partition count) is read again.
    #[serde(default = "default_metadata_refresh")]
    #[validate(range(min = 100, max = 86400000))]
    pub metadata_refresh_ms: u64,
    /// TLS to the broker.
    #[serde(default)]
    #[validate(nested)]
    pub tls: TlsSettings,
    /// SASL authentication (`SCRAM-SHA-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub sasl: Option<SaslSettings>,
    /// Create the topic (with `partitions`) when it does not exist.
    #[serde(default = "default_true")]
    pub auto_create: bool,
    /// Partitions of a topic created by `auto_create`.
    #[serde(default = "default_partitions")]
    #[validate(range(min = 1, max = 100000))]
    pub partitions: u32,
    /// Replication factor of a created topic: only 1 (rivven-client's topic
    /// creation has no replication factor; the broker applies its own).
    #[serde(default = "default_replication_factor")]
    pub replication_factor: u32,
    /// Fail (instead of creating it) when the topic does not exist.
    #[serde(default)]
    pub require_topic_exists: bool,
    /// Warn (log and `check`) when the existing topic's partition count is
    /// not `partitions`.
    #[serde(default)]
    pub validate_existing: bool,
}

fn default_connection_timeout() -> u64 {
    DEFAULT_CONNECTION_TIMEOUT_MS
}
fn default_request_timeout() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_MS
}
fn default_metadata_refresh() -> u64 {
    DEFAULT_METADATA_REFRESH_MS
}
fn default_true() -> bool {
    true
}
fn default_partitions() -> u32 {
    DEFAULT_PARTITIONS
}
fn default_replication_factor() -> u32 {
    1
}

fn validate_sink(config: &RivvenSinkConfig) -> Result<(), ValidationError> {
    if config.replication_factor != 1 {
        let mut e = ValidationError::new("replication_factor");
        e.message = Some(
            format!(
                "replication_factor: {} is not supported: rivven-client 0.0.22 creates topics \
                 without a replication factor (the broker applies its own); use 1",
                config.replication_factor
            )
            .into(),
        );
        return Err(e);
    }
    Ok(())
}

impl RivvenSinkConfig {
    /// A config producing to `topic` on `bootstrap_servers`, defaults
    /// otherwise.
    pub fn new(bootstrap_servers: Vec<String>, topic: impl Into<String>) -> Self {
        Self {
            bootstrap_servers,
            topic: topic.into(),
            connection_timeout_ms: DEFAULT_CONNECTION_TIMEOUT_MS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            metadata_refresh_ms: DEFAULT_METADATA_REFRESH_MS,
            tls: TlsSettings::default(),
            sasl: None,
            auto_create: true,
            partitions: DEFAULT_PARTITIONS,
            replication_factor: 1,
            require_topic_exists: false,
            validate_existing: false,
        }
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            servers: &self.bootstrap_servers,
            connection_timeout: Duration::from_millis(self.connection_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            tls: &self.tls,
            sasl: self.sasl.as_ref(),
        }
    }

    fn policy(&self) -> TopicPolicy<'_> {
        TopicPolicy {
            topic: &self.topic,
            partitions: self.partitions,
            auto_create: self.auto_create,
            require_topic_exists: self.require_topic_exists,
            validate_existing: self.validate_existing,
        }
    }

    fn producer_config(&self) -> Result<ProducerConfig> {
        let endpoint = self.endpoint();
        let mut builder = ProducerConfig::builder()
            .bootstrap_servers(self.bootstrap_servers.clone())
            .batch_size(BATCH_BYTES)
            .linger_ms(LINGER_MS)
            .buffer_memory(QUEUED_MESSAGES * BATCH_BYTES)
            .max_in_flight_requests(5)
            .request_timeout(endpoint.request_timeout)
            // A batch may take long (rivvend 0.0.22 syncs its log once per
            // message); `produce` fails on no progress within the request
            // timeout instead.
            .delivery_timeout(DELIVERY_TIMEOUT)
            .metadata_max_age(Duration::from_millis(self.metadata_refresh_ms))
            .connection_timeout(endpoint.connection_timeout)
            .acks(1);
        if let Some(sasl) = &self.sasl {
            builder = builder.auth(sasl.username.clone(), sasl.password.expose_secret());
        }
        #[cfg(feature = "tls")]
        if let (Some(tls), Some(server)) = (endpoint.tls_config(), self.bootstrap_servers.first()) {
            builder = builder.tls(tls, super::connection::server_name(server));
        }
        builder.build().map_err(client_error)
    }
}

/// The producers (one connection each; partition `p` always goes through
/// producer `p % producers.len()`, so a partition's messages stay in order)
/// and when the topic was last looked at.
struct Connected {
    producers: Vec<Producer>,
    partitions: u32,
    topic_checked: Instant,
    /// The producers' failed and retried sends so far: when it grows, they
    /// reconnected by themselves (the broker may have restarted).
    disturbances: u64,
}

/// Failed and retried sends of `producers` so far.
fn disturbances(producers: &[Producer]) -> u64 {
    producers
        .iter()
        .map(|p| {
            let stats = p.stats();
            stats.errors + stats.retries
        })
        .sum()
}

impl Drop for Connected {
    fn drop(&mut self) {
        // The producers' background tasks run until they are closed.
        let producers = std::mem::take(&mut self.producers);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                for producer in producers {
                    producer.close().await;
                }
            });
        }
    }
}

/// Produces batches of events to a Rivven topic (see the [module
/// docs](super)).
#[derive(Default, Clone)]
pub struct RivvenSink {
    connected: Arc<Mutex<Option<Connected>>>,
    /// The partition of the next event without a key.
    round_robin: Arc<AtomicU32>,
    /// The highest offset per partition of the writes the broker
    /// acknowledged (kept across reconnects), to detect a broker that lost
    /// them.
    acked: Arc<std::sync::Mutex<AckedOffsets>>,
    /// A loss once detected: every later write fails with it (the events are
    /// gone; writing on would hide that).
    lost: Arc<std::sync::Mutex<Option<String>>>,
}

impl std::fmt::Debug for RivvenSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RivvenSink").finish_non_exhaustive()
    }
}

impl RivvenSink {
    /// A sink; it connects on its first write.
    pub fn new() -> Self {
        Self::default()
    }

    /// The producers and the topic's partition count: connected (and the
    /// topic made ready) when there are none or the topic is due again.
    /// Either way the broker's end offsets are compared with what it
    /// acknowledged before.
    async fn producers(&self, config: &RivvenSinkConfig) -> Result<(Vec<Producer>, u32)> {
        let mut connected = self.connected.lock().await;
        let refresh = Duration::from_millis(config.metadata_refresh_ms);
        if let Some(c) = connected.as_mut() {
            if c.topic_checked.elapsed() < refresh {
                return Ok((c.producers.clone(), c.partitions));
            }
            let partitions = self.prepare_topic(config, false).await?;
            c.topic_checked = Instant::now();
            if partitions == c.partitions {
                return Ok((c.producers.clone(), c.partitions));
            }
            tracing::info!(topic = %config.topic, from = c.partitions, to = partitions, "the topic's partition count changed");
        }
        connected.take();
        // A new connection: the broker may have restarted since the last
        // write, so what it acknowledged is read back first.
        let partitions = self.prepare_topic(config, true).await?.max(1);
        let producer_config = config.producer_config()?;
        let mut producers = Vec::new();
        for _ in 0..partitions.min(MAX_CONNECTIONS) {
            let producer = Producer::new(producer_config.clone())
                .await
                .map_err(|e| client_error(e).context("start a producer"))?;
            producers.push(producer);
        }
        *connected = Some(Connected {
            producers: producers.clone(),
            partitions,
            topic_checked: Instant::now(),
            disturbances: 0,
        });
        Ok((producers, partitions))
    }

    /// Drop the producers: the next write connects again.
    async fn disconnect(&self) {
        self.connected.lock().await.take();
    }

    /// Connect and make the topic ready (create it, check it), then compare
    /// the broker's end offsets with the acknowledged ones and, after a
    /// possible restart (`restarted`), read the acknowledged messages back;
    /// the topic's partition count.
    async fn prepare_topic(&self, config: &RivvenSinkConfig, restarted: bool) -> Result<u32> {
        let mut client = config.endpoint().connect().await?;
        let state = config.policy().apply(&mut client, true).await?;
        let acked = self.acked_offsets();
        if acked.is_empty() {
            return Ok(state.partitions);
        }
        let mut ends = BTreeMap::new();
        for (partition, _) in acked.iter().filter(|(p, _)| *p < state.partitions) {
            let (_, end) = client
                .get_offset_bounds(&config.topic, partition)
                .await
                .map_err(|e| {
                    client_error(e).context(format!(
                        "read the end offset of `{}` partition {partition}",
                        config.topic
                    ))
                })?;
            ends.insert(partition, end);
        }
        if let Err(e) = acked.check_ends(&config.topic, |p| ends.get(&p).copied()) {
            return Err(self.report_loss(e));
        }
        if restarted {
            self.verify(&mut client, config, &ends).await?;
        }
        Ok(state.partitions)
    }

    /// Read back what the broker acknowledged since it last kept everything
    /// across a restart (`rivvend` keeps its end offsets when it loses
    /// messages: a loss is a hole below the end).
    async fn verify(
        &self,
        client: &mut rivven_client::Client,
        config: &RivvenSinkConfig,
        ends: &BTreeMap<u32, u64>,
    ) -> Result<()> {
        let topic = config.topic.as_str();
        for expected in self.acked_offsets().unverified() {
            let partition = expected.partition;
            let (first, last) = expected.range();
            let end = ends.get(&partition).copied().unwrap_or(0);
            match read_back(client, topic, &expected).await? {
                Some(missing) => {
                    let e = super::loss::lost(topic, partition, (first, last), missing, end);
                    return Err(self.report_loss(e));
                }
                None => {
                    tracing::debug!(
                        topic,
                        partition,
                        first,
                        last,
                        "read back: no acknowledged message lost"
                    );
                    self.acked
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .verified(partition, last);
                }
            }
        }
        Ok(())
    }

    /// After a write: when the producers reconnected by themselves (failed
    /// or retried sends), the broker may have restarted: read back.
    async fn verify_if_disturbed(
        &self,
        config: &RivvenSinkConfig,
        producers: &[Producer],
    ) -> Result<()> {
        let now = disturbances(producers);
        let before = match self.connected.lock().await.as_ref() {
            Some(c) if c.disturbances < now => c.disturbances,
            _ => return Ok(()),
        };
        tracing::info!(topic = %config.topic, before, now, "rivven sink: the producers reconnected; reading acknowledged messages back");
        let mut client = config.endpoint().connect().await?;
        let mut ends = BTreeMap::new();
        for (partition, _) in self.acked_offsets().iter() {
            if let Ok((_, end)) = client.get_offset_bounds(&config.topic, partition).await {
                ends.insert(partition, end);
            }
        }
        self.verify(&mut client, config, &ends).await?;
        // Only now: a failed read-back is tried again after the next write.
        if let Some(c) = self.connected.lock().await.as_mut() {
            c.disturbances = c.disturbances.max(now);
        }
        Ok(())
    }

    fn acked_offsets(&self) -> AckedOffsets {
        self.acked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Remember (and log) a detected loss: every later write fails with it.
    fn report_loss(&self, error: ConnectorError) -> ConnectorError {
        tracing::error!(error = %error, "rivven sink: acknowledged messages are gone from the broker");
        let mut lost = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        lost.get_or_insert_with(|| error.message().to_string());
        error
    }

    /// The loss detected earlier, if any.
    fn known_loss(&self) -> Option<ConnectorError> {
        let lost = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        lost.as_ref()
            .map(|message| ConnectorError::fatal(message.clone()))
    }

    async fn produce(
        &self,
        config: &RivvenSinkConfig,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        let mut result = WriteResult::new();
        if events.is_empty() {
            return Ok(result);
        }
        if let Some(loss) = self.known_loss() {
            return Err(loss);
        }
        let mut messages = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            match message_value(event) {
                Ok(value) if value.len() > MAX_MESSAGE_BYTES => {
                    let e = ConnectorError::data(format!(
                        "event of {} bytes is larger than the broker takes ({MAX_MESSAGE_BYTES} bytes)",
                        value.len()
                    ));
                    result.add_record_failure(index, &e);
                }
                // Deeper than the source reads back: rejected here, not there
                // (a depth over MAX_DEPTH needs more than 2 × MAX_DEPTH bytes).
                Ok(value) if value.len() > 2 * MAX_DEPTH && json_depth(&value) > MAX_DEPTH => {
                    let e = ConnectorError::data(format!(
                        "event nested deeper than {MAX_DEPTH} levels (the rivven source reads at most that)"
                    ));
                    result.add_record_failure(index, &e);
                }
                Ok(value) => messages.push((index, message_key(event), value)),
                Err(e) => result.add_record_failure(index, &e),
            }
        }
        if messages.is_empty() {
            return Ok(result);
        }
        let (producers, partitions) = self.producers(config).await?;
        let topic = config.topic.as_str();
        // All messages are handed to the producers at once (in order: each
        // send queues its message when first polled, and they are polled in
        // order): each producer sends its partitions' messages as one
        // batched request per partition, the producers in parallel (the
        // broker syncs its log per message but groups concurrent writers'
        // syncs), and each send resolves with the broker's acknowledgement.
        // The write fails when no acknowledgement comes within the request
        // timeout.
        let mut acks: FuturesOrdered<_> = messages
            .iter()
            .map(|(_, key, value)| {
                let partition = match key {
                    Some(key) => murmur2_partition(key, partitions),
                    None => self.round_robin.fetch_add(1, Ordering::Relaxed) % partitions,
                };
                let producer = &producers[(partition as usize) % producers.len()];
                producer.send_to_partition(topic, partition, key.clone(), value.clone())
            })
            .collect();
        let patience = Duration::from_millis(config.request_timeout_ms);
        let (mut written, mut bytes, mut unacked) = (0u64, 0u64, 0usize);
        let mut acked: Vec<Ack> = Vec::with_capacity(messages.len());
        let mut first_error = None;
        let mut pending = messages.iter();
        loop {
            let ack = match tokio::time::timeout(patience, acks.next()).await {
                Ok(Some(ack)) => ack,
                Ok(None) => break,
                Err(_) => {
                    unacked += acks.len();
                    first_error.get_or_insert(ClientError::TimeoutWithMessage(format!(
                        "no acknowledgement from the broker within {} ms",
                        config.request_timeout_ms
                    )));
                    break;
                }
            };
            let Some((index, key, value)) = pending.next() else {
                break;
            };
            match ack {
                Ok(meta) => {
                    written += 1;
                    bytes += value.len() as u64;
                    acked.push(Ack {
                        partition: meta.partition,
                        offset: meta.offset,
                        fingerprint: fingerprint(key.as_deref(), value),
                    });
                }
                Err(ClientError::RequestTooLarge(size, max)) => {
                    let e = ConnectorError::data(format!(
                        "message of {size} bytes is larger than the broker takes ({max} bytes)"
                    ));
                    result.add_record_failure(*index, &e);
                }
                Err(e) => {
                    unacked += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            let error = client_error(e);
            if matches!(
                error.kind(),
                ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::Transient
            ) {
                self.disconnect().await;
            }
            return Err(error.context(format!(
                "{unacked} of {} messages to `{topic}` not acknowledged",
                messages.len()
            )));
        }
        // Every message is acknowledged: the runtime may now commit these
        // events upstream. Their offsets must lie past every earlier one.
        let recorded = self
            .acked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(topic, &acked);
        if let Err(e) = recorded {
            return Err(self.report_loss(e));
        }
        self.verify_if_disturbed(config, &producers).await?;
        result.add_success(written, bytes);
        Ok(result)
    }
}

#[async_trait]
impl Sink for RivvenSink {
    type Config = RivvenSinkConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        let mut client = match config.endpoint().connect().await {
            Ok(client) => client,
            Err(e) => return Ok(CheckResult::builder().check("broker", Err(e)).finish()),
        };
        let builder = CheckResult::builder().check_passed("broker");
        Ok(match config.policy().apply(&mut client, false).await {
            Err(e) => builder.check("topic", Err(e)).finish(),
            Ok(state) => match state.mismatch {
                Some(warning) => builder.check_passed("topic").message(warning).finish(),
                None => builder.check_passed("topic").finish(),
            },
        })
    }

    async fn write(
        &self,
        config: &Self::Config,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        self.produce(config, &events).await
    }

    async fn write_borrowed(
        &self,
        config: &Self::Config,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        self.produce(config, events).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_follow_the_reference() {
        let config = RivvenSinkConfig::from_value(json!({
            "bootstrap_servers": ["127.0.0.1:9092"],
            "topic": "orders"
        }))
        .unwrap();
        assert_eq!(
            config,
            RivvenSinkConfig::new(vec!["127.0.0.1:9092".into()], "orders")
        );
        assert_eq!(config.partitions, 3);
        assert!(config.auto_create);
    }

    #[test]
    fn unsupported_options_are_configuration_errors() {
        let err = RivvenSinkConfig::from_value(json!({
            "bootstrap_servers": ["b:1"], "topic": "t", "replication_factor": 3
        }))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("replication_factor: 3 is not supported"),
            "{err}"
        );
        let err = RivvenSinkConfig::from_value(json!({
            "bootstrap_servers": ["b:1"], "topic": "t",
            "sasl": {"mechanism": "PLAIN", "username": "u", "password": "p"}
        }))
        .unwrap_err();
        assert!(
            err.to_string().contains("`PLAIN` is not supported"),
            "{err}"
        );
        assert!(
            RivvenSinkConfig::from_value(json!({"bootstrap_servers": [], "topic": "t"})).is_err()
        );
        assert!(RivvenSinkConfig::from_value(json!({"bootstrap_servers": ["b:1"]})).is_err());
    }

    #[test]
    fn a_numeric_password_is_a_secret_and_never_shown() {
        let config = RivvenSinkConfig::from_value(json!({
            "bootstrap_servers": ["b:1"], "topic": "t",
            "sasl": {"username": "u", "password": 123456789}
        }));
        // A number is refused (not turned into a password), without showing it.
        let err = config.unwrap_err().to_string();
        assert!(err.contains("password"), "{err}");
        assert!(!err.contains("123456789"), "{err}");
        let config = RivvenSinkConfig::from_value(json!({
            "bootstrap_servers": ["b:1"], "topic": "t",
            "sasl": {"username": "u", "password": "123456789"}
        }))
        .unwrap();
        assert!(!format!("{config:?}").contains("123456789"));
        assert!(!serde_json::to_string(&config)
            .unwrap()
            .contains("123456789"));
    }
}
