//! The `sql-sink`: writes events into PostgreSQL or MySQL/MariaDB tables.
//!
//! - **Target**: `table` (fixed), or `table_routing`, a template on the
//!   event's stream (`{stream}`; a dot separates schema and table, so a CDC
//!   stream `public.users` lands in `public.users`).
//! - **Modes**: `insert` (plain inserts), `upsert` (insert or update on the
//!   key: `key_columns`, else the table's primary key), `cdc` (the event's
//!   `data` is a Debezium-style envelope: `c`/`r`/`u` upsert `after`, `d`
//!   deletes the key of `before`). Within a batch the last change per key
//!   wins, so a batch is one statement per table and column set.
//! - **One transaction per batch**. A statement the server refuses because of
//!   a value (wrong type, out of range, a constraint) is retried row by row
//!   with a savepoint per row, so exactly the bad rows are reported as failed
//!   (to the pipeline's `on_error`, e.g. the dead-letter queue) and the good
//!   ones are written. A column the table lacks fails that record, naming the
//!   column — unless `schema_evolution: add_columns` adds it.
//! - **`delivery: exactly_once`**: the pipeline's position is written into
//!   `offsets_table` (default `rivven_offsets`, one row per `offsets_key`) in
//!   the same transaction as the rows; the runtime resumes from it after any
//!   crash (see `Sink::stores_position`), so no row is lost or written twice.
//!   A batch with a failed record is all-or-nothing: the transaction is
//!   rolled back (rows and position) and only the failures are returned; the
//!   runtime disposes of them by `on_error` (the dead letters are stored
//!   first) and writes the rest again with the position. Dead letters are
//!   at-least-once: a crash between the two may write one twice, never lose it.

mod rows;
mod statements;
pub(crate) mod table;
mod write;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::{
    BatchConfig, BatchSink, CheckResult, Result, SecretString, Sink, SinkConfig, SourceEvent,
    State, WriteResult,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use validator::{Validate, ValidationError};

use crate::db::{display_url, validate_url, Dialect, Endpoint, Pool};
use table::TableInfo;

/// Default rows per batch (and transaction).
pub const DEFAULT_BATCH_SIZE: usize = 1_000;
/// Default name of the offsets table of `delivery: exactly_once`.
pub const DEFAULT_OFFSETS_TABLE: &str = "rivven_offsets";

/// Writes events into PostgreSQL or MySQL/MariaDB tables.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "sql-sink",
    version = env!("CARGO_PKG_VERSION"),
    description = "Writes events into PostgreSQL or MySQL/MariaDB tables (insert, upsert on the key, or apply a CDC stream), one transaction per batch, optionally exactly-once with the position stored in the same transaction",
    author = "rivven-connect",
    category = "database",
    tags = ["sql", "postgres", "mysql", "mariadb", "rdbc", "jdbc", "exactly-once"],
    batching,
    batch_size = 1000,
    connector = SqlSink
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "validate_sink"))]
pub struct SqlSinkConfig {
    /// `postgres://user@host:port/db` or `mysql://user@host:port/db`
    /// (`mariadb://` too); the scheme chooses the database. TLS options go in
    /// the query string (`?sslmode=require`, `?ssl-mode=required`). No password here.
    #[validate(custom(function = "validate_url"))]
    #[schemars(example = &"postgres://app@127.0.0.1:5432/warehouse")]
    pub url: String,
    /// The password (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// The target table (`schema.table` allowed). Set this or `table_routing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The target table per event, a template with `{stream}` (the event's
    /// stream) and `{namespace}`. Set this or `table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"replica.{stream}")]
    pub table_routing: Option<String>,
    /// `insert`, `upsert` (on the key) or `cdc` (apply a change stream).
    #[serde(default)]
    pub mode: WriteMode,
    /// The key columns of `upsert` and `cdc`; default: the table's primary key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    pub key_columns: Option<Vec<String>>,
    /// Create a missing table from the first row it gets (column types from
    /// its values, `key_columns` or the event's key fields as primary key).
    #[serde(default)]
    pub auto_create_table: bool,
    /// `none`: a column the table lacks fails that record; `add_columns`:
    /// the column is added (nullable, typed from the value).
    #[serde(default)]
    pub schema_evolution: SchemaEvolution,
    /// `at_least_once`, or `exactly_once`: the position is stored in
    /// `offsets_table` in each batch's transaction.
    #[serde(default)]
    pub delivery: Delivery,
    /// The table of stored positions (`exactly_once`); created if missing.
    #[serde(default = "default_offsets_table")]
    #[validate(length(min = 1))]
    pub offsets_table: String,
    /// The row of `offsets_table` this sink owns; default: `table` or `table_routing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 255))]
    pub offsets_key: Option<String>,
    /// Rows per batch, i.e. per transaction.
    #[serde(default = "default_batch_size")]
    #[validate(range(min = 1, max = 1000000))]
    pub batch_size: usize,
    /// Connections in the pool.
    #[serde(default = "default_max_connections")]
    #[validate(range(min = 1, max = 64))]
    pub max_connections: u32,
    /// Timeout of connecting, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    #[validate(range(min = 1, max = 3600000))]
    pub connect_timeout_ms: u64,
}

/// How rows are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// `INSERT` every event's `data`.
    #[default]
    Insert,
    /// Insert, or update the row with the same key.
    Upsert,
    /// Apply a Debezium-style change envelope: upsert `after`, delete `before`.
    Cdc,
}

/// What happens to a column the table lacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchemaEvolution {
    /// The record fails (to `on_error`), naming the column.
    #[default]
    None,
    /// `ALTER TABLE … ADD COLUMN` (nullable, typed from the first value).
    AddColumns,
}

/// The delivery guarantee.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Replays after a crash may write a batch again (harmless with `upsert`/`cdc`).
    #[default]
    AtLeastOnce,
    /// The position is stored with the rows: no loss, no duplicates.
    ExactlyOnce,
}

fn default_offsets_table() -> String {
    DEFAULT_OFFSETS_TABLE.into()
}
fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}
fn default_max_connections() -> u32 {
    2
}
fn default_connect_timeout_ms() -> u64 {
    10_000
}

fn validate_sink(c: &SqlSinkConfig) -> std::result::Result<(), ValidationError> {
    let fail = |m: &'static str| Err(ValidationError::new("sql_sink").with_message(m.into()));
    match (&c.table, &c.table_routing) {
        (Some(_), Some(_)) => return fail("set `table` or `table_routing`, not both"),
        (None, None) => return fail("set `table` (or `table_routing`)"),
        (Some(t), None) if t.is_empty() => return fail("`table` is empty"),
        (None, Some(r)) if !r.contains("{stream}") && !r.contains("{namespace}") => return fail(
            "`table_routing` must contain `{stream}` (or `{namespace}`); use `table` for one table",
        ),
        _ => {}
    }
    Ok(())
}

impl SqlSinkConfig {
    /// The table of `event`.
    pub fn table_of(&self, event: &SourceEvent) -> String {
        match (&self.table, &self.table_routing) {
            (Some(t), _) => t.clone(),
            (None, Some(r)) => r.replace("{stream}", &event.stream).replace(
                "{namespace}",
                event.namespace.as_deref().unwrap_or_default(),
            ),
            (None, None) => event.stream.clone(),
        }
    }

    /// The row of `offsets_table` this sink's position is stored in.
    pub fn offsets_key(&self) -> String {
        self.offsets_key
            .clone()
            .or_else(|| self.table.clone())
            .or_else(|| self.table_routing.clone())
            .unwrap_or_default()
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            url: &self.url,
            password: self.password.as_ref(),
            max_connections: self.max_connections,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
        }
    }
}

/// The `sql-sink` (see the [module docs](self)).
#[derive(Default)]
pub struct SqlSink {
    pool: Mutex<Option<Pool>>,
    /// What the sink knows of each target table.
    tables: Mutex<HashMap<String, TableInfo>>,
}

impl std::fmt::Debug for SqlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSink").finish_non_exhaustive()
    }
}

impl SqlSink {
    /// A sink; it connects on the first write.
    pub fn new() -> Self {
        Self::default()
    }

    /// The pool, connecting (and creating the offsets table) the first time.
    async fn pool(&self, config: &SqlSinkConfig) -> Result<Pool> {
        let mut guard = self.pool.lock().await;
        if let Some(pool) = guard.as_ref() {
            return Ok(pool.clone());
        }
        let pool = Pool::connect(config.endpoint()).await?;
        if config.delivery == Delivery::ExactlyOnce {
            let mut conn = pool.acquire().await?;
            let sql = statements::create_offsets_sql(pool.dialect(), &config.offsets_table);
            conn.simple(&sql).await.map_err(|e| {
                crate::db::classify(&e, &format!("creating `{}`", config.offsets_table))
            })?;
        }
        *guard = Some(pool.clone());
        Ok(pool)
    }
}

#[async_trait]
impl Sink for SqlSink {
    type Config = SqlSinkConfig;

    async fn check(&self, config: &SqlSinkConfig) -> Result<CheckResult> {
        let name = match Dialect::of_url(&config.url) {
            Ok(Dialect::Postgres) => "postgres",
            _ => "mysql",
        };
        let outcome = async {
            let pool = Pool::connect(config.endpoint()).await?;
            let mut conn = pool.acquire().await?;
            conn.simple("SELECT 1")
                .await
                .map_err(|e| crate::db::classify(&e, display_url(&config.url)))
        }
        .await;
        Ok(CheckResult::builder().check(name, outcome).finish())
    }

    async fn write(
        &self,
        config: &SqlSinkConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        self.write_events(config, &events, None).await
    }

    async fn write_borrowed(
        &self,
        config: &SqlSinkConfig,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        self.write_events(config, events, None).await
    }

    fn exclusive_resource(&self, config: &SqlSinkConfig) -> Option<String> {
        (config.delivery == Delivery::ExactlyOnce).then(|| {
            format!(
                "sql:{}#{}/{}",
                display_url(&config.url),
                config.offsets_table,
                config.offsets_key()
            )
        })
    }

    fn stores_position(&self, config: &SqlSinkConfig) -> bool {
        config.delivery == Delivery::ExactlyOnce
    }

    async fn committed_position(&self, config: &SqlSinkConfig) -> Result<Option<State>> {
        let pool = self.pool(config).await?;
        let mut conn = pool.acquire().await?;
        write::stored_position(&mut conn, config, false).await
    }

    async fn write_with_position(
        &self,
        config: &SqlSinkConfig,
        events: &[SourceEvent],
        position: &State,
    ) -> Result<WriteResult> {
        self.write_events(config, events, Some(position)).await
    }
}

#[async_trait]
impl BatchSink for SqlSink {
    fn batch_config(&self, config: &SqlSinkConfig) -> BatchConfig {
        BatchConfig::new(config.batch_size, 1_000)
    }

    async fn write_batch(
        &self,
        config: &SqlSinkConfig,
        events: Vec<SourceEvent>,
    ) -> Result<WriteResult> {
        self.write_events(config, &events, None).await
    }

    async fn write_batch_borrowed(
        &self,
        config: &SqlSinkConfig,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        self.write_events(config, events, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<SqlSinkConfig> {
        <SqlSinkConfig as SinkConfig>::from_value(v)
    }

    #[test]
    fn defaults_are_the_safe_settings() {
        let c = config(json!({"url": "postgres://u@h/db", "table": "t"}));
        let c = c.ok();
        let c = c.as_ref();
        assert_eq!(c.map(|c| c.mode), Some(WriteMode::Insert));
        assert_eq!(c.map(|c| c.delivery), Some(Delivery::AtLeastOnce));
        assert_eq!(c.map(|c| c.schema_evolution), Some(SchemaEvolution::None));
        assert_eq!(c.map(|c| c.auto_create_table), Some(false));
    }

    #[test]
    fn bad_configs_name_the_key() {
        let err = |v| config(v).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(json!({"url": "postgres://u@h/db"})).contains("table"));
        assert!(err(
            json!({"url": "postgres://u@h/db", "table": "t", "table_routing": "{stream}"})
        )
        .contains("not both"));
        assert!(err(json!({"url": "sqlite://x", "table": "t"})).contains("url"));
        assert!(err(json!({"url": "postgres://u:pw@h/db", "table": "t"})).contains("password"));
        assert!(
            err(json!({"url": "postgres://u@h/db", "table": "t", "mode": "merge"}))
                .contains("mode")
        );
        assert!(
            err(json!({"url": "postgres://u@h/db", "table": "t", "batch_size": 0}))
                .contains("batch_size")
        );
        assert!(err(json!({"url": "postgres://u@h/db", "tabel": "t"})).contains("table"));
        // A secret given as a number is refused, not stringified.
        assert!(
            err(json!({"url": "postgres://u@h/db", "table": "t", "password": 1234}))
                .contains("password")
        );
    }

    #[test]
    fn routing_uses_the_stream() {
        let c = config(json!({"url": "mysql://u@h/db", "table_routing": "replica_{stream}"}));
        let e = SourceEvent::record("users", json!({}));
        assert_eq!(
            c.ok().map(|c| c.table_of(&e)),
            Some("replica_users".to_string())
        );
    }
}
