//! The configuration file's structure (YAML keys, defaults, docs).
//!
//! The JSON Schema of [`ConnectConfig`] (from `schemars`) is what unknown
//! keys, types and ranges are checked against, so every struct here denies
//! unknown fields and documents each key.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ConnectorConfig;
use crate::runtime::OnError;

/// A whole `rivven-connect` configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectConfig {
    /// Format version; `"1.0"`.
    #[serde(default = "default_version")]
    pub version: String,
    /// Sources by name.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceSpec>,
    /// Sinks by name.
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkSpec>,
    /// Named transforms that pipelines refer to.
    #[serde(default)]
    pub transforms: BTreeMap<String, TransformSpec>,
    /// Pipelines by name: a source, transforms and a sink.
    #[serde(default)]
    pub pipelines: BTreeMap<String, PipelineSpec>,
    /// Directory for offsets and other local state.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Where committed offsets are kept.
    #[serde(default)]
    pub offsets: OffsetsSpec,
    /// Graceful shutdown.
    #[serde(default)]
    pub shutdown: ShutdownSpec,
    /// The health/status HTTP endpoint.
    #[serde(default)]
    pub http: HttpSpec,
    /// Logging.
    #[serde(default)]
    pub logging: LoggingSpec,
    /// Topics: embedded storage, and broker topic defaults.
    #[serde(default)]
    pub topics: super::TopicsSpec,
    /// The Rivven broker holding topics (when `bootstrap_servers` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<super::BrokerSpec>,
}

fn default_version() -> String {
    "1.0".into()
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(crate::runtime::DEFAULT_DATA_DIR)
}

/// A source: which connector, its config, and what to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Connector name (see `rivven-connect connectors`).
    pub connector: String,
    /// The connector's own configuration (see `rivven-connect spec <connector>`).
    #[serde(default)]
    pub config: ConnectorConfig,
    /// Streams to read; all discovered streams when empty.
    #[serde(default)]
    pub streams: Vec<StreamSpec>,
    /// Transforms applied to this source's events, before a pipeline's own.
    #[serde(default)]
    pub transforms: Vec<TransformRef>,
    /// Topic this source publishes to (sinks subscribing to it with `topics`
    /// form a pipeline when no `pipelines` entry names the source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Broker topic overrides for `topic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_config: Option<super::TopicConfigSpec>,
}

/// A stream to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// Stream name.
    pub name: String,
    /// Namespace (schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `full_refresh` or `incremental`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_mode: Option<crate::catalog::SyncMode>,
    /// Cursor field for incremental reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_field: Option<String>,
}

/// A sink: which connector, its config, batching and rate limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkSpec {
    /// Connector name (see `rivven-connect connectors`).
    pub connector: String,
    /// The connector's own configuration.
    #[serde(default)]
    pub config: ConnectorConfig,
    /// How events are grouped before a write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchSpec>,
    /// Throughput limit of pipelines writing to this sink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    /// Topics this sink consumes (see `SourceSpec::topic`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// The consumer group it reads `topics` as (default: the sink's name).
    /// Its cursor is its own: two sinks never share a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_group: Option<String>,
}

/// Sink batching. Every field has a default. Flushing is adaptive: a sink
/// writes as soon as the source has nothing more ready, and batches up to
/// these limits only under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSpec {
    /// Most events per write (default 10 000).
    #[serde(default = "default_batch_max_records")]
    #[schemars(range(min = 1))]
    pub max_records: usize,
    /// Longest wait for a batch to fill under load, in milliseconds (default
    /// 1 000); a batch the source sent with nothing more ready is written at
    /// once.
    #[serde(default = "default_batch_timeout")]
    pub timeout_ms: u64,
}

impl Default for BatchSpec {
    fn default() -> Self {
        Self {
            max_records: default_batch_max_records(),
            timeout_ms: default_batch_timeout(),
        }
    }
}

fn default_batch_max_records() -> usize {
    crate::connector::BatchConfig::DEFAULT_MAX_RECORDS
}

fn default_batch_timeout() -> u64 {
    1_000
}

/// A token-bucket rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// Sustained events per second (0 = unlimited).
    pub events_per_second: u32,
    /// Burst size (0 = one second's worth).
    #[serde(default)]
    pub burst_capacity: u32,
}

/// A transform by type, with its config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformSpec {
    /// Transform type (`filter`, `mask_field`, …; `MaskField` also works).
    #[serde(rename = "type")]
    pub kind: String,
    /// The transform's configuration.
    #[serde(default)]
    pub config: ConnectorConfig,
}

/// A transform named in `transforms:`, or written inline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TransformRef {
    /// The name of an entry of the top-level `transforms`.
    Name(String),
    /// A transform written in place.
    Inline(TransformSpec),
}

/// A pipeline: source → transforms → sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// Source name (a key of `sources`).
    pub source: String,
    /// Sink name (a key of `sinks`).
    pub sink: String,
    /// Transforms, in order, after the source's own.
    #[serde(default)]
    pub transforms: Vec<TransformRef>,
    /// Whether `run` starts it.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Delivery and flow settings.
    #[serde(default)]
    pub settings: PipelineSettingsSpec,
}

fn default_true() -> bool {
    true
}

/// A pipeline's delivery and flow settings (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettingsSpec {
    /// Events per second from the source (0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// Burst size of the rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_burst: Option<u32>,
    /// What to do with a record that cannot be processed: `skip`, `stop` (default) or `dead_letter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
    /// Sink (a key of `sinks`) receiving rejected records when `on_error: dead_letter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<String>,
    /// Unacknowledged batches a source may have in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_in_flight_batches: Option<usize>,
    /// Bytes (approximate size of the events' data) a source may have in
    /// flight, beside the batch count: a batch closes once it holds its share
    /// (`max_in_flight_bytes / max_in_flight_batches`), so large rows cannot
    /// make the window large. Default 256 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1024))]
    pub max_in_flight_bytes: Option<usize>,
    /// Events per source batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub batch_size: Option<usize>,
    /// Longest wait for a source batch to fill, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linger_ms: Option<u64>,
    /// Minimum time between offset commits, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_interval_ms: Option<u64>,
    /// Restart after failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartSpec>,
    /// Run `check` on the connectors before starting (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_before_start: Option<bool>,
}

/// Restart policy after a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartSpec {
    /// First delay, in milliseconds (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_backoff_ms: Option<u64>,
    /// Longest delay, in milliseconds (default 60000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff_ms: Option<u64>,
    /// Failures in a row before the pipeline is `failed` (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_consecutive_failures: Option<u32>,
}

/// Offset storage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OffsetsSpec {
    /// `file` (default; one JSON file per pipeline) or `memory` (nothing survives a restart).
    #[serde(default)]
    pub backend: OffsetBackend,
    /// Directory of the file backend (default `<data_dir>/offsets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

/// Offset backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OffsetBackend {
    /// Files under a directory.
    #[default]
    File,
    /// Memory only.
    Memory,
}

/// Graceful shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSpec {
    /// Longest time to drain and commit, in milliseconds.
    #[serde(default = "default_shutdown_ms")]
    pub timeout_ms: u64,
}

impl Default for ShutdownSpec {
    fn default() -> Self {
        Self {
            timeout_ms: default_shutdown_ms(),
        }
    }
}

fn default_shutdown_ms() -> u64 {
    30_000
}

/// The HTTP endpoint serving `/health`, `/ready`, `/live` and `/metrics`
/// (the runtime's, see `Runtime::builder().http(…)`; cargo feature `http`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// Serve it.
    #[serde(default)]
    pub enabled: bool,
    /// Listen address.
    #[serde(default = "default_http_address")]
    pub address: String,
}

impl Default for HttpSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            address: default_http_address(),
        }
    }
}

fn default_http_address() -> String {
    "127.0.0.1:8083".into()
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoggingSpec {
    /// Level or filter (`info`, `debug`, `rivven_connect=debug`).
    #[serde(default = "default_level")]
    pub level: String,
    /// `pretty` or `json`.
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LoggingSpec {
    fn default() -> Self {
        Self {
            level: default_level(),
            format: LogFormat::default(),
        }
    }
}

fn default_level() -> String {
    "info".into()
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}
