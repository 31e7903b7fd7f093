//! Configuration of the `mysql-cdc` source.
//!
//! Keys and defaults follow the original rivven-connect's reference table
//! ("MySQL CDC"); the CDC options (`topic_routing`, `normalization`,
//! `column_filters`, `cdc_features`, `snapshot_mode`, `tls`) are the same
//! keys, with the same behaviour, as `postgres-cdc`'s (one shared core).
//! Deviations, each a deliberate choice:
//! - `password` may be left out (default empty) for accounts without one;
//!   it is a secret either way.
//! - `snapshot_mode: always` is accepted as for `postgres-cdc`.

use std::time::Duration;

use rivven_connect::{NormalizationConfig, SecretString, SourceConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

use crate::common::features::{validate_column_filters, CdcFeaturesConfig, ColumnFilterConfig};
pub use crate::common::snapshot::SnapshotMode;
pub use crate::common::tls::{TlsMode, TlsSettings};

use super::MySqlCdcSource;

/// Default `port`.
pub const DEFAULT_PORT: u16 = 3306;
/// Default `snapshot_chunk_size`.
pub const DEFAULT_SNAPSHOT_CHUNK: u32 = 5000;

/// Streams changes from MySQL or MariaDB by reading the binary log as a replica.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "mysql-cdc",
    version = env!("CARGO_PKG_VERSION"),
    description = "Change data capture from MySQL/MariaDB by reading the binary log (ROW format) as a replica: consistent snapshot, then every committed insert, update and delete, one checkpoint per transaction",
    author = "rivven-connect",
    category = "database",
    tags = ["cdc", "mysql", "mariadb", "database"],
    incremental,
    connector = MySqlCdcSource
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "validate_config"))]
pub struct MySqlCdcConfig {
    /// Database host.
    #[validate(length(min = 1, max = 255))]
    #[schemars(example = &"localhost")]
    pub host: String,
    /// Database port.
    #[serde(default = "default_port")]
    #[validate(range(min = 1))]
    pub port: u16,
    /// Database (schema) whose tables are captured.
    #[validate(length(min = 1, max = 64))]
    #[schemars(example = &"shop")]
    pub database: String,
    /// User; needs `REPLICATION SLAVE`, `REPLICATION CLIENT` (MariaDB:
    /// `BINLOG MONITOR`) and `SELECT` on the captured tables.
    #[validate(length(min = 1, max = 80))]
    #[schemars(example = &"replicator")]
    pub user: String,
    /// Password (empty for an account without one).
    #[serde(default)]
    pub password: SecretString,
    /// This source's replica `server_id`: unique among the server's
    /// replicas and different from the server's own.
    #[validate(range(min = 1, max = 4294967295_u32))]
    #[schemars(example = &12345)]
    pub server_id: u32,
    /// Tables to capture (`table` or `database.table`); empty = every table
    /// of `database` (narrowed by `table_regex`).
    #[serde(default)]
    #[schemars(example = ["orders", "customers"])]
    pub tables: Vec<String>,
    /// Only tables whose name matches this regular expression (anchored at
    /// both ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 1024), custom(function = "validate_regex"))]
    #[schemars(example = &"order.*")]
    pub table_regex: Option<String>,
    /// TLS.
    #[serde(default)]
    #[validate(nested)]
    pub tls: TlsSettings,
    /// `initial` (default), `always`, `never`, `when_needed` or `initial_only`.
    #[serde(default)]
    pub snapshot_mode: SnapshotMode,
    /// Rows read per snapshot query (primary-key chunks; bounds the
    /// snapshot's memory).
    #[serde(default = "default_chunk")]
    #[validate(range(min = 1, max = 1000000))]
    pub snapshot_chunk_size: u32,
    /// Topic (stream name) template with `{database}`, `{schema}` (the
    /// database too: MySQL has no schemas), `{table}`; default:
    /// `database.table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 249))]
    #[schemars(example = &"cdc.{database}.{table}")]
    pub topic_routing: Option<String>,
    /// How placeholder values of `topic_routing` are normalized.
    #[serde(default)]
    pub normalization: NormalizationConfig,
    /// Columns to keep or drop per table (`database.table` or `table`).
    #[serde(default)]
    #[validate(custom(function = "validate_column_filters"))]
    pub column_filters: ColumnFilterConfig,
    /// Tombstones and deduplication.
    #[serde(default)]
    #[validate(nested)]
    pub cdc_features: CdcFeaturesConfig,
    /// How often the server sends a heartbeat while the binary log is idle;
    /// a heartbeat between transactions is checkpointed, so an idle server
    /// does not make the source look stalled.
    #[serde(default = "default_heartbeat_ms")]
    #[validate(range(min = 100, max = 3600000))]
    pub heartbeat_interval_ms: u64,
    /// Connect timeout.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 1, max = 3600))]
    pub connect_timeout_secs: u64,
}

fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_chunk() -> u32 {
    DEFAULT_SNAPSHOT_CHUNK
}
fn default_heartbeat_ms() -> u64 {
    10_000
}
fn default_connect_timeout() -> u64 {
    30
}

fn validate_regex(pattern: &str) -> Result<(), ValidationError> {
    match regex::Regex::new(pattern) {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut err = ValidationError::new("table_regex");
            err.message =
                Some(format!("table_regex is not a valid regular expression: {e}").into());
            Err(err)
        }
    }
}

fn validate_config(config: &MySqlCdcConfig) -> Result<(), ValidationError> {
    for table in &config.tables {
        let bare = match table.split_once('.') {
            Some((db, t)) if db == config.database => t,
            Some(_) => {
                let mut e = ValidationError::new("tables");
                e.message = Some(
                    format!(
                        "tables: `{table}` is not in `database` ({}); list tables of that database",
                        config.database
                    )
                    .into(),
                );
                return Err(e);
            }
            None => table.as_str(),
        };
        if bare.is_empty() {
            let mut e = ValidationError::new("tables");
            e.message = Some("tables: an entry is empty".into());
            return Err(e);
        }
    }
    Ok(())
}

impl MySqlCdcConfig {
    /// A config with defaults for the given connection and replica id.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        database: impl Into<String>,
        user: impl Into<String>,
        server_id: u32,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            database: database.into(),
            user: user.into(),
            password: SecretString::default(),
            server_id,
            tables: Vec::new(),
            table_regex: None,
            tls: TlsSettings::default(),
            snapshot_mode: SnapshotMode::default(),
            snapshot_chunk_size: default_chunk(),
            topic_routing: None,
            normalization: NormalizationConfig::default(),
            column_filters: ColumnFilterConfig::new(),
            cdc_features: CdcFeaturesConfig::default(),
            heartbeat_interval_ms: default_heartbeat_ms(),
            connect_timeout_secs: default_connect_timeout(),
        }
    }

    /// The upstream cursor this source holds exclusively: its replica
    /// `server_id` on its server, as `mysql://<host>:<port>#server_id=<id>`
    /// (host in lower case). A server drops the older of two replicas with
    /// one `server_id`, so two sources with the same key would keep
    /// disconnecting each other.
    ///
    /// ```
    /// use rivven_connect_cdc::mysql::MySqlCdcConfig;
    /// let c = MySqlCdcConfig::new("DB.example", 3306, "shop", "u", 12345);
    /// assert_eq!(c.exclusive_resource(), "mysql://db.example:3306#server_id=12345");
    /// ```
    pub fn exclusive_resource(&self) -> String {
        format!(
            "mysql://{}:{}#server_id={}",
            self.host.to_ascii_lowercase(),
            self.port,
            self.server_id
        )
    }

    /// Whether table `name` of `database` is captured (`tables` and `table_regex`).
    pub fn captures(&self, name: &str, regex: Option<&regex::Regex>) -> bool {
        let listed = self.tables.is_empty()
            || self.tables.iter().any(|t| {
                t == name
                    || t.split_once('.')
                        .is_some_and(|(db, t)| db == self.database && t == name)
            });
        listed && regex.is_none_or(|r| r.is_match(name))
    }

    /// `table_regex`, compiled and anchored.
    pub(crate) fn table_regex(&self) -> rivven_connect::Result<Option<regex::Regex>> {
        self.table_regex
            .as_deref()
            .map(|p| {
                regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                    rivven_connect::ConnectorError::config(format!(
                        "table_regex is not a valid regular expression: {e}"
                    ))
                })
            })
            .transpose()
    }

    pub(crate) fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }
}
