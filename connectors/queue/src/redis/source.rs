//! The `redis-streams` source: a consumer group member; each entry is
//! `XACK`ed only when the runtime resolves its token `Delivered`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;
use rivven_connect::{
    AckOutcome, AckToken, Catalog, CheckResult, ConfiguredCatalog, ConnectorError, Result,
    SecretString, Source, SourceConfig, SourceEvent, State, Stream,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use validator::Validate;

use super::config::{client, connect, redis_error, validate_url, Endpoint};
use crate::metrics::QueueMetrics;
use crate::payload::{self, BASE64, PAYLOAD_ENCODING};
use crate::tls::TlsOptions;

/// Reads a Redis stream as a member of a consumer group.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "redis-streams",
    version = env!("CARGO_PKG_VERSION"),
    description = "Reads a Redis stream in a consumer group (created with MKSTREAM if missing); entries are XACKed only after the pipeline committed them, and a restarted consumer first re-reads its pending entries",
    author = "rivven-connect",
    category = "messaging",
    tags = ["redis", "streams", "messaging", "consumer-group"],
    connector = RedisStreamsSource
)]
#[serde(deny_unknown_fields)]
pub struct RedisStreamsSourceConfig {
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
    /// The stream's key.
    #[validate(length(min = 1))]
    pub stream: String,
    /// Consumer group (created at `start_id` if missing).
    #[validate(length(min = 1))]
    pub group: String,
    /// This consumer's name in the group (keep it across restarts: its
    /// pending entries are re-read first).
    #[serde(default = "default_consumer")]
    #[validate(length(min = 1))]
    pub consumer: String,
    /// Where a newly created group starts: `0` (the whole stream, default)
    /// or `$` (new entries only).
    #[serde(default = "default_start_id")]
    #[validate(length(min = 1))]
    pub start_id: String,
    /// The credit: entries with the pipeline unresolved at most; each
    /// XREADGROUP asks for the free part of it (`COUNT`).
    #[serde(default = "default_max_inflight")]
    #[validate(range(min = 1, max = 100000))]
    pub max_inflight: u32,
    /// `BLOCK` of each XREADGROUP.
    #[serde(default = "default_block")]
    #[validate(range(min = 1, max = 600000))]
    pub block_ms: u64,
    /// The entry field holding the payload; entries without it become an
    /// object of all their fields.
    #[serde(default = "default_payload_field")]
    pub payload_field: String,
    /// Parse the payload field as JSON (not JSON: a bad record, per `on_error`).
    #[serde(default = "yes")]
    pub parse_json_payload: bool,
    /// Add `redis_stream` and `redis_id` to the event's metadata.
    #[serde(default = "yes")]
    pub include_metadata: bool,
    /// Timeout of connecting.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub connect_timeout_ms: u64,
    /// Take over (`XAUTOCLAIM`) entries of the group that another consumer
    /// — one that died or was renamed — left pending for at least this
    /// long, and deliver them; checked this often too. `0` never claims
    /// (entries of a consumer that never comes back then stay pending).
    #[serde(default = "default_claim_idle")]
    #[validate(range(max = 86400000))]
    pub claim_idle_ms: u64,
}

fn default_consumer() -> String {
    "rivven-connect".into()
}
fn default_start_id() -> String {
    "0".into()
}
fn default_max_inflight() -> u32 {
    1000
}
fn default_block() -> u64 {
    1000
}
pub(super) fn default_payload_field() -> String {
    "payload".into()
}
pub(super) fn default_connect_timeout() -> u64 {
    10_000
}
fn default_claim_idle() -> u64 {
    300_000
}
fn yes() -> bool {
    true
}

/// The `redis-streams` source (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct RedisStreamsSource {
    metrics: Arc<QueueMetrics>,
}

impl Default for RedisStreamsSource {
    fn default() -> Self {
        Self {
            metrics: Arc::new(QueueMetrics::new("redis-streams", "source")),
        }
    }
}

impl RedisStreamsSource {
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
impl Source for RedisStreamsSource {
    type Config = RedisStreamsSourceConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        Ok(super::config::check(config.endpoint(), timeout(config)).await)
    }

    async fn discover(&self, config: &Self::Config) -> Result<Catalog> {
        Ok(Catalog::new(vec![Stream::new(
            config.stream.clone(),
            json!({}),
        )]))
    }

    async fn read(
        &self,
        config: &Self::Config,
        _catalog: &ConfiguredCatalog,
        _state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let client = client(config.endpoint())?;
        let mut conn = connect(&client, &config.url, timeout(config)).await?;
        create_group(&mut conn, config).await?;
        let acks = connect(&client, &config.url, timeout(config)).await?;
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        tokio::spawn(acknowledge(
            client.clone(),
            Some(acks),
            config.clone(),
            self.metrics.clone(),
            ack_rx,
        ));
        let (tx, rx) = mpsc::channel(64);
        let reader = Reader {
            config: config.clone(),
            credit: Arc::new(Semaphore::new(config.max_inflight as usize)),
            ack_tx,
            metrics: self.metrics.clone(),
        };
        let task = tokio::spawn(reader.run(client, conn, tx));
        let guard = AbortOnDrop(task);
        Ok(
            futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
                rx.recv().await.map(|item| (item, (rx, guard)))
            })
            .boxed(),
        )
    }

    fn exclusive_resource(&self, config: &Self::Config) -> Option<String> {
        Some(format!(
            "redis-streams:{}/{}/{}/{}",
            config.url, config.stream, config.group, config.consumer
        ))
    }
}

impl RedisStreamsSourceConfig {
    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            url: &self.url,
            username: self.username.as_deref(),
            password: self.password.as_ref(),
            tls: self.tls.as_ref(),
        }
    }
}

fn timeout(config: &RedisStreamsSourceConfig) -> Duration {
    Duration::from_millis(config.connect_timeout_ms)
}

async fn create_group(
    conn: &mut redis::aio::MultiplexedConnection,
    config: &RedisStreamsSourceConfig,
) -> Result<()> {
    let created: redis::RedisResult<()> = conn
        .xgroup_create_mkstream(&config.stream, &config.group, &config.start_id)
        .await;
    match created {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        Err(e) => Err(redis_error(&config.url, &e).context(format!(
            "create group `{}` on `{}`",
            config.group, config.stream
        ))),
    }
}

/// XACKs the ids of delivered tokens, in batches, on a connection of its
/// own (the reader's blocks in XREADGROUP); a lost connection is opened
/// again (the batch retried). Ends when every token is gone.
async fn acknowledge(
    client: redis::Client,
    mut conn: Option<redis::aio::MultiplexedConnection>,
    config: RedisStreamsSourceConfig,
    metrics: Arc<QueueMetrics>,
    mut ids: mpsc::UnboundedReceiver<String>,
) {
    while let Some(first) = ids.recv().await {
        let mut batch = vec![first];
        while let Ok(id) = ids.try_recv() {
            batch.push(id);
        }
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=ACK_ATTEMPTS {
            let error = match conn.as_mut() {
                Some(c) => {
                    let acked: redis::RedisResult<u64> =
                        c.xack(&config.stream, &config.group, &batch).await;
                    match acked {
                        Ok(_) => {
                            for _ in &batch {
                                metrics.acked();
                            }
                            break;
                        }
                        Err(e) => redis_error(&config.url, &e),
                    }
                }
                None => match connect(&client, &config.url, timeout(&config)).await {
                    Ok(c) => {
                        conn = Some(c);
                        continue;
                    }
                    Err(e) => e,
                },
            };
            conn = None;
            metrics.error();
            // Still pending after the last attempt: this consumer re-reads
            // those entries when it starts again.
            tracing::warn!(stream = %config.stream, group = %config.group, entries = batch.len(), attempt, error = %error, "XACK failed");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// XACK attempts of one batch before its entries are left pending.
const ACK_ATTEMPTS: u32 = 8;

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Reader {
    config: RedisStreamsSourceConfig,
    credit: Arc<Semaphore>,
    ack_tx: mpsc::UnboundedSender<String>,
    metrics: Arc<QueueMetrics>,
}

impl Reader {
    async fn run(
        self,
        client: redis::Client,
        mut conn: redis::aio::MultiplexedConnection,
        tx: mpsc::Sender<Result<SourceEvent>>,
    ) {
        let mut backoff = Duration::from_millis(100);
        // First this consumer's pending entries (delivered before, never
        // acknowledged), from id 0 on; then new ones (`>`), with a claim
        // round over the others' idle entries every `claim_idle_ms`.
        let mut cursor = Some("0".to_string());
        let claim_every = Duration::from_millis(self.config.claim_idle_ms);
        let mut claim: Option<String> = None; // a claim round's next start
        let mut last_claim: Option<std::time::Instant> = None; // first right away
        loop {
            let Ok(first) = self.credit.clone().acquire_owned().await else {
                return;
            };
            let free = 1 + self.credit.available_permits();
            if cursor.is_none()
                && claim.is_none()
                && !claim_every.is_zero()
                && last_claim.is_none_or(|at| at.elapsed() >= claim_every)
            {
                claim = Some("0-0".into());
            }
            let reply = match &claim {
                Some(start) => self
                    .claim(&mut conn, start, free)
                    .await
                    .map(|(next, entries)| {
                        // A round ends where the stream ends (`0-0`).
                        claim = (next != "0-0").then_some(next);
                        if claim.is_none() {
                            last_claim = Some(std::time::Instant::now());
                        }
                        entries
                    }),
                None => self.read_group(&mut conn, cursor.as_deref(), free).await,
            };
            let entries = match reply {
                Ok(entries) => entries,
                Err(e) => {
                    drop(first);
                    self.metrics.error();
                    let error = redis_error(&self.config.url, &e);
                    if !error.is_retryable() {
                        let _ = tx.send(Err(error)).await;
                        return;
                    }
                    tracing::warn!(stream = %self.config.stream, error = %error, ?backoff, "read failed; reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    match connect(&client, &self.config.url, timeout(&self.config)).await {
                        Ok(new) => {
                            self.metrics.reconnected();
                            conn = new;
                        }
                        Err(e) if !e.is_retryable() => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                        Err(_) => continue,
                    }
                    if let Err(e) = create_group(&mut conn, &self.config).await {
                        tracing::warn!(error = %e, "group not created yet");
                    }
                    // Entries read before the loss and not acknowledged are
                    // pending again: read them first (at-least-once).
                    cursor = Some("0".into());
                    claim = None;
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            if cursor.is_some() && claim.is_none() {
                cursor = entries.last().map(|e| e.id.clone());
            }
            let mut permit = Some(first);
            let arrived = std::time::Instant::now();
            for entry in entries {
                let permit = match permit.take() {
                    Some(p) => p,
                    None => match self.credit.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                };
                // The entry's field bytes as received, not re-encoded.
                let size = entry
                    .map
                    .values()
                    .map(|v| match v {
                        redis::Value::BulkString(b) => b.len(),
                        _ => 0,
                    })
                    .sum();
                self.metrics.received(size, arrived.elapsed());
                let event = self.event(entry, permit);
                if event.is_err() {
                    self.metrics.error();
                }
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        }
    }

    /// One XREADGROUP: this consumer's pending entries after `pending`, or
    /// new ones (blocking up to `block_ms`) when `None`.
    async fn read_group(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        pending: Option<&str>,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::streams::StreamId>> {
        let mut options = StreamReadOptions::default()
            .group(&self.config.group, &self.config.consumer)
            .count(count);
        let from = match pending {
            Some(id) => id,
            None => {
                options = options.block(self.config.block_ms as usize);
                ">"
            }
        };
        let reply: Option<StreamReadReply> = conn
            .xread_options(&[&self.config.stream], &[from], &options)
            .await?;
        Ok(reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default())
    }

    /// One XAUTOCLAIM step from `start`: the next start and the entries now
    /// this consumer's. Entries deleted from the stream while pending (e.g.
    /// trimmed) can never be delivered: that loss upstream is reported.
    async fn claim(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        start: &str,
        count: usize,
    ) -> redis::RedisResult<(String, Vec<redis::streams::StreamId>)> {
        let reply: redis::streams::StreamAutoClaimReply = conn
            .xautoclaim_options(
                &self.config.stream,
                &self.config.group,
                &self.config.consumer,
                self.config.claim_idle_ms,
                start,
                redis::streams::StreamAutoClaimOptions::default().count(count),
            )
            .await?;
        if !reply.deleted_ids.is_empty() {
            self.metrics.error();
            tracing::error!(stream = %self.config.stream, group = %self.config.group, deleted = reply.deleted_ids.len(), first = %reply.deleted_ids[0], "pending entries were deleted from the stream (trimmed?) before any consumer acknowledged them: they are lost upstream");
        }
        if !reply.claimed.is_empty() {
            tracing::info!(stream = %self.config.stream, group = %self.config.group, claimed = reply.claimed.len(), "claimed entries another consumer left pending");
        }
        Ok((reply.next_stream_id, reply.claimed))
    }

    fn token(&self, id: String, permit: OwnedSemaphorePermit) -> AckToken {
        let acks = self.ack_tx.clone();
        AckToken::new(move |outcome: AckOutcome| {
            // Rejected: the entry stays pending; this consumer re-reads it
            // when it starts again.
            if outcome == AckOutcome::Delivered {
                let _ = acks.send(id);
            }
            drop(permit);
        })
    }

    fn event(
        &self,
        entry: redis::streams::StreamId,
        permit: OwnedSemaphorePermit,
    ) -> Result<SourceEvent> {
        let token = self.token(entry.id.clone(), permit);
        let text = |v: &redis::Value| -> Option<Vec<u8>> {
            match v {
                redis::Value::BulkString(b) => Some(b.clone()),
                redis::Value::SimpleString(s) => Some(s.clone().into_bytes()),
                _ => None,
            }
        };
        let key = entry.map.get("key").and_then(text);
        let data = match entry.map.get(&self.config.payload_field).and_then(text) {
            Some(bytes) => match payload::decode(&bytes, self.config.parse_json_payload) {
                Ok(decoded) => decoded,
                Err(why) => {
                    return Err(ConnectorError::data(format!(
                        "Redis stream `{}` entry {}: {why}",
                        self.config.stream, entry.id
                    ))
                    .with_raw_record(bytes)
                    .with_ack(token))
                }
            },
            None => {
                let mut fields = Map::new();
                for (name, value) in &entry.map {
                    let value = text(value).unwrap_or_default();
                    fields.insert(
                        name.clone(),
                        Value::String(String::from_utf8_lossy(&value).into_owned()),
                    );
                }
                (Value::Object(fields), false)
            }
        };
        let (data, base64) = data;
        let mut event = SourceEvent::record(self.config.stream.clone(), data);
        if let Some(key) = key {
            event = event.with_key(Value::String(String::from_utf8_lossy(&key).into_owned()));
        }
        if base64 {
            event = event.with_metadata(PAYLOAD_ENCODING, json!(BASE64));
        }
        if self.config.include_metadata {
            event = event
                .with_metadata("redis_stream", json!(self.config.stream))
                .with_metadata("redis_id", json!(entry.id));
        }
        Ok(event.with_ack(token))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rivven_connect::SourceConfig;

    #[test]
    fn a_numeric_password_is_refused_without_showing_it_and_a_quoted_one_never_shows() {
        let err = RedisStreamsSourceConfig::from_value(json!({
            "url": "redis://h:6379", "stream": "s", "group": "g", "password": 123456789
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("password"), "{err}");
        assert!(!err.contains("123456789"), "{err}");
        let config = RedisStreamsSourceConfig::from_value(json!({
            "url": "redis://h:6379", "stream": "s", "group": "g", "password": "123456789"
        }))
        .unwrap();
        assert!(!format!("{config:?}").contains("123456789"));
        assert!(!serde_json::to_string(&config)
            .unwrap()
            .contains("123456789"));
    }
}
