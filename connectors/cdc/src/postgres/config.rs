//! Configuration of the `postgres-cdc` source.
//!
//! Keys and defaults follow the original rivven-connect's reference table
//! ("PostgreSQL CDC"); the CDC options (`topic_routing`, `normalization`, `column_filters`,
//! `cdc_features`) follow its connector guide. Deviations, each a
//! deliberate choice:
//! - `password` may be left out (default empty) for servers that
//!   authenticate by `trust`; it is a secret either way.
//! - The original rivven-connect spells the publication both
//!   `publication_name` and `publication`: both keys are accepted, exactly one must be set.

use std::collections::BTreeMap;
use std::time::Duration;

use rivven_connect::{NormalizationConfig, SecretString, SourceConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

use crate::common::features::{validate_column_filters, CdcFeaturesConfig, ColumnFilter};
pub use crate::common::snapshot::SnapshotMode;
pub use crate::common::tls::{TlsMode, TlsSettings};

use super::PostgresCdcSource;

/// Streams changes from PostgreSQL through logical replication (pgoutput).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "postgres-cdc",
    version = env!("CARGO_PKG_VERSION"),
    description = "Change data capture from PostgreSQL by logical replication (pgoutput): snapshot, then every committed insert, update, delete and truncate, confirmed to the slot only once durably written",
    author = "rivven-connect",
    category = "database",
    tags = ["cdc", "postgres", "database"],
    incremental,
    connector = PostgresCdcSource
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "validate_config"))]
pub struct PostgresCdcConfig {
    /// Database host.
    #[validate(length(min = 1, max = 255))]
    #[schemars(example = &"localhost")]
    pub host: String,
    /// Database port.
    #[serde(default = "default_port")]
    #[validate(range(min = 1))]
    pub port: u16,
    /// Database name.
    #[validate(length(min = 1, max = 63))]
    #[schemars(example = &"shop")]
    pub database: String,
    /// User; needs the `REPLICATION` attribute (and `CREATE` on the database
    /// to create the publication, or ownership of the tables).
    #[validate(length(min = 1, max = 63))]
    #[schemars(example = &"replicator")]
    pub user: String,
    /// Password (empty for `trust` authentication).
    #[serde(default)]
    pub password: SecretString,
    /// Replication slot: lower-case letters, digits and `_`.
    #[validate(length(min = 1, max = 63), custom(function = "validate_slot_name"))]
    #[schemars(example = &"rivven_slot")]
    pub slot_name: String,
    /// Publication the slot decodes (set this or `publication`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 63))]
    #[schemars(example = &"rivven_pub")]
    pub publication_name: Option<String>,
    /// Older spelling of `publication_name` (set one of the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 63))]
    pub publication: Option<String>,
    /// Tables of an auto-created publication (`schema.table` or `table`); empty = all tables.
    #[serde(default)]
    #[schemars(example = ["public.orders"])]
    pub publication_tables: Vec<String>,
    /// Create the replication slot when it does not exist.
    #[serde(default = "default_true")]
    pub auto_create_slot: bool,
    /// Create the publication when it does not exist.
    #[serde(default = "default_true")]
    pub auto_create_publication: bool,
    /// TLS.
    #[serde(default)]
    #[validate(nested)]
    pub tls: TlsSettings,
    /// `initial` (default), `always`, `never`, `when_needed` or `initial_only`.
    #[serde(default)]
    pub snapshot_mode: SnapshotMode,
    /// Rows fetched per snapshot round trip (bounds the snapshot's memory).
    #[serde(default = "default_chunk")]
    #[validate(range(min = 1, max = 1000000))]
    pub snapshot_chunk_size: u32,
    /// Topic (stream name) template with `{database}`, `{schema}`, `{table}`;
    /// default: `schema.table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 249))]
    #[schemars(example = &"cdc.{schema}.{table}")]
    pub topic_routing: Option<String>,
    /// How placeholder values of `topic_routing` are normalized.
    #[serde(default)]
    pub normalization: NormalizationConfig,
    /// Columns to keep or drop per table (`schema.table` or `table`).
    #[serde(default)]
    #[validate(custom(function = "validate_column_filters"))]
    pub column_filters: BTreeMap<String, ColumnFilter>,
    /// Tombstones and deduplication.
    #[serde(default)]
    #[validate(nested)]
    pub cdc_features: CdcFeaturesConfig,
    /// Value put in place of a TOASTed column that an update did not change
    /// (the server does not send it); such columns are also listed in the
    /// event's `metadata.extra.unchanged_toast`.
    #[serde(default = "default_toast_placeholder")]
    pub unchanged_toast_value: String,
    /// Standby status (feedback) interval to the server.
    #[serde(default = "default_status_ms")]
    #[validate(range(min = 100, max = 600000))]
    pub status_interval_ms: u64,
    /// While no change arrives, confirm the server's WAL position this often
    /// (as a checkpoint) so the slot does not hold WAL of unrelated activity.
    #[serde(default = "default_heartbeat_ms")]
    #[validate(range(min = 100, max = 3600000))]
    pub heartbeat_interval_ms: u64,
    /// Connect timeout.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 1, max = 3600))]
    pub connect_timeout_secs: u64,
}

fn default_port() -> u16 {
    5432
}
fn default_true() -> bool {
    true
}
fn default_chunk() -> u32 {
    5000
}
fn default_toast_placeholder() -> String {
    "__rivven_unavailable_value".to_string()
}
fn default_status_ms() -> u64 {
    10_000
}
fn default_heartbeat_ms() -> u64 {
    10_000
}
fn default_connect_timeout() -> u64 {
    30
}

fn validate_slot_name(slot: &str) -> Result<(), ValidationError> {
    if slot
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(())
    } else {
        let mut e = ValidationError::new("slot_name");
        e.message = Some(
            "a replication slot name may contain only lower-case letters, digits and `_`".into(),
        );
        Err(e)
    }
}

fn validate_config(config: &PostgresCdcConfig) -> Result<(), ValidationError> {
    let message = match (&config.publication_name, &config.publication) {
        (Some(_), Some(_)) => {
            "set `publication_name` or its older spelling `publication`, not both"
        }
        (None, None) => "`publication_name` is required",
        _ => return Ok(()),
    };
    let mut e = ValidationError::new("publication_name");
    e.message = Some(message.into());
    Err(e)
}

impl PostgresCdcConfig {
    /// A config with defaults for the given connection, slot and publication.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        database: impl Into<String>,
        user: impl Into<String>,
        slot_name: impl Into<String>,
        publication: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            database: database.into(),
            user: user.into(),
            password: SecretString::default(),
            slot_name: slot_name.into(),
            publication_name: Some(publication.into()),
            publication: None,
            publication_tables: Vec::new(),
            auto_create_slot: true,
            auto_create_publication: true,
            tls: TlsSettings::default(),
            snapshot_mode: SnapshotMode::default(),
            snapshot_chunk_size: default_chunk(),
            topic_routing: None,
            normalization: NormalizationConfig::default(),
            column_filters: BTreeMap::new(),
            cdc_features: CdcFeaturesConfig::default(),
            unchanged_toast_value: default_toast_placeholder(),
            status_interval_ms: default_status_ms(),
            heartbeat_interval_ms: default_heartbeat_ms(),
            connect_timeout_secs: default_connect_timeout(),
        }
    }

    /// The publication's name (from either spelling).
    pub fn publication_name(&self) -> &str {
        self.publication_name
            .as_deref()
            .or(self.publication.as_deref())
            .unwrap_or_default()
    }

    /// The upstream cursor this source reads exclusively: its replication
    /// slot on its server and database, as
    /// `postgres://<host>:<port>/<database>#slot=<slot_name>` (host in lower
    /// case). Two sources with the same key would share one slot — each
    /// seeing only part of the changes, and at run time the second is refused
    /// because the slot is active — so a configuration layer can reject them
    /// at load time by comparing these keys.
    ///
    /// ```
    /// use rivven_connect_cdc::postgres::PostgresCdcConfig;
    /// let c = PostgresCdcConfig::new("DB.example", 5432, "shop", "u", "rivven_slot", "pub");
    /// assert_eq!(c.exclusive_resource(), "postgres://db.example:5432/shop#slot=rivven_slot");
    /// ```
    pub fn exclusive_resource(&self) -> String {
        format!(
            "postgres://{}:{}/{}#slot={}",
            self.host.to_ascii_lowercase(),
            self.port,
            self.database,
            self.slot_name
        )
    }

    pub(crate) fn status_interval(&self) -> Duration {
        Duration::from_millis(self.status_interval_ms)
    }

    pub(crate) fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }
}
