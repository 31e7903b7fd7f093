//! The `topics:` and `broker:` sections and per-source `topic_config`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ConnectorConfig;
use crate::runtime::topics::{TopicOptions, TopicStorage};

/// Topic settings. A source with a `topic` is read once and every sink whose
/// `topics` lists it (and every `pipelines:` entry naming the source) gets
/// every event. Without a `broker`, topics are embedded in the process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicsSpec {
    /// Embedded topics: `memory` (default: the source commits what every
    /// subscriber acknowledged) or `disk` (segment files under
    /// `<data_dir>/topics`, fsynced per batch: the source commits what is
    /// durably in the topic, and each subscriber resumes from its group's cursor).
    #[serde(default)]
    pub storage: TopicStorage,
    /// Events an embedded topic holds in memory: with `memory` storage, the
    /// most events not yet acknowledged by every subscriber (the source waits
    /// beyond it); with `disk`, the cache subscribers read without disk I/O.
    #[serde(default = "default_capacity")]
    #[schemars(range(min = 1))]
    pub capacity: usize,
    /// Disk storage: a segment file is closed at this size, in bytes.
    #[serde(default = "default_segment_bytes")]
    #[schemars(range(min = 1))]
    pub segment_bytes: u64,
    /// Disk storage: segments every consumer group has passed are deleted
    /// while the topic's files are bigger than this, in bytes.
    #[serde(default = "default_retention_bytes")]
    pub retention_bytes: u64,
    /// Disk storage: … or while such a segment is older than this, in ms.
    #[serde(default = "default_retention_ms")]
    pub retention_ms: u64,
    /// Broker topics: create a missing topic.
    #[serde(default = "default_true")]
    pub auto_create: bool,
    /// Broker topics: partitions of a created topic.
    #[serde(default = "default_partitions")]
    #[schemars(range(min = 1))]
    pub default_partitions: u32,
    /// Broker topics: replication factor of a created topic.
    #[serde(default = "default_replication")]
    #[schemars(range(min = 1))]
    pub default_replication_factor: u32,
    /// Broker topics: fail when a topic does not exist (instead of creating it).
    #[serde(default)]
    pub require_topic_exists: bool,
    /// Broker topics: warn when an existing topic's partitions differ from the configuration.
    #[serde(default)]
    pub validate_existing: bool,
}

fn default_true() -> bool {
    true
}
fn default_capacity() -> usize {
    TopicOptions::default().capacity
}
fn default_segment_bytes() -> u64 {
    TopicOptions::default().segment_bytes
}
fn default_retention_bytes() -> u64 {
    TopicOptions::default().retention_bytes
}
fn default_retention_ms() -> u64 {
    TopicOptions::default().retention.as_millis() as u64
}
fn default_partitions() -> u32 {
    3
}
fn default_replication() -> u32 {
    1
}

impl Default for TopicsSpec {
    fn default() -> Self {
        Self {
            storage: TopicStorage::default(),
            capacity: default_capacity(),
            segment_bytes: default_segment_bytes(),
            retention_bytes: default_retention_bytes(),
            retention_ms: default_retention_ms(),
            auto_create: true,
            default_partitions: default_partitions(),
            default_replication_factor: default_replication(),
            require_topic_exists: false,
            validate_existing: false,
        }
    }
}

/// Per-source overrides of the broker topic's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicConfigSpec {
    /// Partitions of the created topic (default `topics.default_partitions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub partitions: Option<u32>,
    /// Replication factor (default `topics.default_replication_factor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub replication_factor: Option<u32>,
    /// Create the topic when missing (default `topics.auto_create`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_create: Option<bool>,
}

/// The Rivven broker that holds topics when `bootstrap_servers` is set: its
/// keys are the `rivven` connectors' connection settings
/// (`bootstrap_servers`, `connection_timeout_ms`, `request_timeout_ms`,
/// `metadata_refresh_ms`, `tls`, `sasl`; see `rivven-connect spec rivven`).
/// Needs a build with the `rivven` feature.
pub type BrokerSpec = ConnectorConfig;
