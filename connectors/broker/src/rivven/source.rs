//! The `rivven` source: every partition of a broker topic, read under a
//! consumer group whose offsets are committed only after the sink wrote.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_client::Client;
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorError, Result, Source, SourceConfig,
    SourceEvent, State, Stream,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use validator::Validate;

use super::connection::{client_error, validate_servers, Endpoint, SaslSettings, TlsSettings};
use super::offsets::TopicOffsets;
use super::topic::describe;
use super::{
    DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_METADATA_REFRESH_MS, DEFAULT_REQUEST_TIMEOUT_MS,
};

mod reader;

/// Where a partition without a committed offset starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AutoOffsetReset {
    /// At its first message still on the broker.
    #[default]
    Earliest,
    /// At its end: only messages produced from then on.
    Latest,
    /// Nowhere: reading fails, naming the partition.
    None,
}

/// Reads every partition of a topic on a Rivven broker under a consumer
/// group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "rivven",
    version = env!("CARGO_PKG_VERSION"),
    description = "Reads every partition of a topic on a Rivven broker (rivvend) under a consumer group; the group's offsets are committed on the broker only after the pipeline's sink durably wrote the events",
    author = "rivven-connect",
    category = "messaging",
    tags = ["rivven", "broker", "topic", "streaming", "consumer-group"],
    incremental,
    connector = RivvenSource
)]
#[serde(deny_unknown_fields)]
pub struct RivvenSourceConfig {
    /// Broker addresses (`host:port`), tried in order; the first reachable
    /// one is used.
    #[validate(custom(function = "validate_servers"))]
    #[schemars(example = ["127.0.0.1:9092"])]
    pub bootstrap_servers: Vec<String>,
    /// Topic to read.
    #[validate(length(min = 1, max = 255))]
    #[schemars(example = &"orders")]
    pub topic: String,
    /// Consumer group whose offsets are committed on the broker.
    #[validate(length(min = 1, max = 255))]
    #[schemars(example = &"orders-to-file")]
    pub consumer_group: String,
    /// Where a partition without a committed offset starts: `earliest`
    /// (default), `latest`, or `none` (an error).
    #[serde(default)]
    pub auto_offset_reset: AutoOffsetReset,
    /// Timeout of connecting to one bootstrap server.
    #[serde(default = "default_connection_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub connection_timeout_ms: u64,
    /// Timeout of one request.
    #[serde(default = "default_request_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub request_timeout_ms: u64,
    /// How often the topic's partition count is read again (new partitions
    /// are then read too).
    #[serde(default = "default_metadata_refresh")]
    #[validate(range(min = 100, max = 86400000))]
    pub metadata_refresh_ms: u64,
    /// Pause between fetches while every partition is caught up.
    #[serde(default = "default_poll_interval")]
    #[validate(range(min = 1, max = 60000))]
    pub poll_interval_ms: u64,
    /// Messages fetched per partition per request.
    #[serde(default = "default_batch_size")]
    #[validate(range(min = 1, max = 100000))]
    pub batch_size: u32,
    /// TLS to the broker.
    #[serde(default)]
    #[validate(nested)]
    pub tls: TlsSettings,
    /// SASL authentication (`SCRAM-SHA-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub sasl: Option<SaslSettings>,
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
fn default_poll_interval() -> u64 {
    100
}
fn default_batch_size() -> u32 {
    1000
}

impl RivvenSourceConfig {
    /// A config reading `topic` under `consumer_group`, defaults otherwise.
    pub fn new(
        bootstrap_servers: Vec<String>,
        topic: impl Into<String>,
        consumer_group: impl Into<String>,
    ) -> Self {
        Self {
            bootstrap_servers,
            topic: topic.into(),
            consumer_group: consumer_group.into(),
            auto_offset_reset: AutoOffsetReset::default(),
            connection_timeout_ms: DEFAULT_CONNECTION_TIMEOUT_MS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            metadata_refresh_ms: DEFAULT_METADATA_REFRESH_MS,
            poll_interval_ms: default_poll_interval(),
            batch_size: default_batch_size(),
            tls: TlsSettings::default(),
            sasl: None,
        }
    }

    pub(crate) fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            servers: &self.bootstrap_servers,
            connection_timeout: Duration::from_millis(self.connection_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            tls: &self.tls,
            sasl: self.sasl.as_ref(),
        }
    }
}

/// One partition of the topic as the broker sees it for the group: for
/// status and lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// The partition.
    pub partition: u32,
    /// Its first offset still on the broker.
    pub earliest: u64,
    /// Its end offset (the next offset to be written).
    pub end: u64,
    /// The group's committed offset (the next one to read), if any.
    pub committed: Option<u64>,
}

impl PartitionLag {
    /// Messages the group has not committed yet.
    pub fn lag(&self) -> u64 {
        self.end
            .saturating_sub(self.committed.unwrap_or(self.earliest).max(self.earliest))
    }
}

/// Reads a Rivven topic under a consumer group (see the [module
/// docs](super)).
#[derive(Default, Clone)]
pub struct RivvenSource {
    /// The connection `commit` uses (kept between commits).
    committer: Arc<Mutex<Option<Client>>>,
    /// Set once a position was found past its partition's end (the broker
    /// lost messages): every later `read` fails with it.
    refused: Arc<std::sync::Mutex<Option<String>>>,
}

impl std::fmt::Debug for RivvenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RivvenSource").finish_non_exhaustive()
    }
}

impl RivvenSource {
    /// A source; it connects when it reads.
    pub fn new() -> Self {
        Self::default()
    }

    /// The offsets committed for the group on the broker, per partition of
    /// the topic (partitions without a committed offset are left out).
    pub async fn committed_offsets(&self, config: &RivvenSourceConfig) -> Result<TopicOffsets> {
        let mut offsets = TopicOffsets::default();
        for p in self.group_lag(config).await? {
            if let Some(next) = p.committed {
                offsets.set(p.partition, next);
            }
        }
        Ok(offsets)
    }

    /// Every partition's earliest and end offset and the group's committed
    /// offset (empty while the topic does not exist): the group's lag.
    pub async fn group_lag(&self, config: &RivvenSourceConfig) -> Result<Vec<PartitionLag>> {
        let mut client = config.endpoint().connect().await?;
        let partitions = describe(&mut client, &config.topic).await?.unwrap_or(0);
        let mut lag = Vec::with_capacity(partitions as usize);
        for partition in 0..partitions {
            let committed = client
                .get_offset(&config.consumer_group, &config.topic, partition)
                .await
                .map_err(client_error)?;
            let (earliest, end) = client
                .get_offset_bounds(&config.topic, partition)
                .await
                .map_err(client_error)?;
            lag.push(PartitionLag {
                partition,
                earliest,
                end,
                committed,
            });
        }
        Ok(lag)
    }
}

#[async_trait]
impl Source for RivvenSource {
    type Config = RivvenSourceConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        let mut client = match config.endpoint().connect().await {
            Ok(client) => client,
            Err(e) => return Ok(CheckResult::builder().check("broker", Err(e)).finish()),
        };
        let builder = CheckResult::builder().check_passed("broker");
        Ok(match describe(&mut client, &config.topic).await {
            Err(e) => builder.check("topic", Err(e)).finish(),
            Ok(Some(_)) => builder.check_passed("topic").finish(),
            Ok(None) => builder
                .check_passed("topic")
                .message(format!(
                    "topic `{}` does not exist yet: the source waits for it",
                    config.topic
                ))
                .finish(),
        })
    }

    async fn discover(&self, config: &Self::Config) -> Result<Catalog> {
        let stream = Stream::new(config.topic.clone(), serde_json::json!({"type": "object"}))
            .with_incremental("offset");
        Ok(Catalog::new(vec![stream]))
    }

    async fn read(
        &self,
        config: &Self::Config,
        _catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let refused = self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(message) = refused {
            return Err(ConnectorError::fatal(message));
        }
        let resume = state
            .map(|s| TopicOffsets::from_state(&s, &config.topic))
            .unwrap_or_default();
        let reader = reader::Reader::connect(config.clone(), resume, self.refused.clone()).await?;
        Ok(reader.into_stream().boxed())
    }

    async fn commit(&self, config: &Self::Config, state: &State) -> Result<()> {
        let offsets = TopicOffsets::from_state(state, &config.topic);
        if offsets.is_empty() {
            return Ok(());
        }
        let commits: Vec<(String, u32, u64)> = offsets
            .iter()
            .map(|(partition, next)| (config.topic.clone(), partition, next))
            .collect();
        let mut committer = self.committer.lock().await;
        let client = match committer.as_mut() {
            Some(client) if !client.is_poisoned() => client,
            _ => committer.insert(config.endpoint().connect().await?),
        };
        let outcome = client
            .commit_offsets_pipelined(&config.consumer_group, &commits)
            .await
            .map_err(client_error)
            .and_then(|results| {
                results
                    .into_iter()
                    .zip(&commits)
                    .try_for_each(|(r, (_, p, o))| {
                        r.map_err(|e| client_error(e).context(format!("partition {p} offset {o}")))
                    })
            });
        if let Err(e) = outcome {
            committer.take();
            return Err(e.context(format!(
                "commit the offsets of group `{}` on `{}`",
                config.consumer_group, config.topic
            )));
        }
        tracing::debug!(group = %config.consumer_group, topic = %config.topic, ?commits, "committed group offsets");
        Ok(())
    }

    fn exclusive_resource(&self, config: &Self::Config) -> Option<String> {
        Some(format!(
            "rivven:{}/{}/{}",
            config.endpoint().servers_joined(),
            config.topic,
            config.consumer_group
        ))
    }
}

/// `none` found a partition without a committed offset.
pub(crate) fn no_committed_offset(config: &RivvenSourceConfig, partition: u32) -> ConnectorError {
    ConnectorError::config(format!(
        "group `{}` has no committed offset for `{}` partition {partition} \
         and auto_offset_reset is none: commit one or set earliest or latest",
        config.consumer_group, config.topic
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_required_keys() {
        let config = RivvenSourceConfig::from_value(json!({
            "bootstrap_servers": ["127.0.0.1:9092"], "topic": "orders", "consumer_group": "g"
        }))
        .unwrap();
        assert_eq!(
            config,
            RivvenSourceConfig::new(vec!["127.0.0.1:9092".into()], "orders", "g")
        );
        assert_eq!(config.auto_offset_reset, AutoOffsetReset::Earliest);
        let no_group = json!({"bootstrap_servers": ["b:1"], "topic": "orders"});
        assert!(RivvenSourceConfig::from_value(no_group).is_err());
        let latest = json!({"bootstrap_servers": ["b:1"], "topic": "t", "consumer_group": "g", "auto_offset_reset": "latest"});
        assert_eq!(
            RivvenSourceConfig::from_value(latest)
                .unwrap()
                .auto_offset_reset,
            AutoOffsetReset::Latest
        );
    }

    #[test]
    fn lag_counts_from_the_commit_or_the_earliest_offset() {
        let p = |earliest, end, committed| PartitionLag {
            partition: 0,
            earliest,
            end,
            committed,
        };
        assert_eq!(p(0, 10, Some(4)).lag(), 6);
        assert_eq!(p(3, 10, None).lag(), 7);
        assert_eq!(p(5, 10, Some(2)).lag(), 5);
        assert_eq!(p(0, 10, Some(10)).lag(), 0);
    }

    #[test]
    fn one_group_on_one_topic_is_an_exclusive_reader() {
        let source = RivvenSource::new();
        let config = RivvenSourceConfig::new(vec!["a:1".into(), "b:2".into()], "orders", "g1");
        assert_eq!(
            source.exclusive_resource(&config).unwrap(),
            "rivven:a:1,b:2/orders/g1"
        );
    }
}
