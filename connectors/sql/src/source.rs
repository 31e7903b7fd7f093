//! The `sql-source`: reads a PostgreSQL or MySQL/MariaDB table by polling.
//!
//! - **`incremental`** (default): rows in the order of
//!   (`incremental_column`, key columns), `chunk_size` at a time, each query
//!   starting strictly after the last row read — a keyset on the *tuple*, so
//!   rows that share a cursor value (ties) are neither skipped nor read twice,
//!   even when a chunk ends among them. The state is the last row's cursor
//!   value and key; after a restart reading resumes after it. When a poll
//!   reaches the end, the next one starts `poll_interval_ms` later. The
//!   cursor must grow with each change (an auto-increment id, an
//!   `updated_at` the application sets); rows whose cursor is NULL are not read.
//! - **`full_refresh`**: every poll reads the whole table (in key order,
//!   `chunk_size` at a time).
//!
//! `max_polls` ends the stream after that many polls (0: never), for batch
//! jobs and tests. Columns whose type has no JSON counterpart (timestamps,
//! decimals, UUIDs, …) are read as text.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorError, Result, SecretString, Source,
    SourceConfig, SourceEvent, State, Stream,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use validator::{Validate, ValidationError};

use crate::db::{classify, display_url, validate_url, Conn, Dialect, Endpoint, Param, Pool};
use crate::sink::table::{self, TableInfo};

/// Default rows per query.
pub const DEFAULT_CHUNK_SIZE: u64 = 1_000;
/// Default pause between polls that reached the end.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 1_000;

/// Reads a table incrementally (by a cursor column) or in full, by polling.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "sql-source",
    version = env!("CARGO_PKG_VERSION"),
    description = "Reads a PostgreSQL or MySQL/MariaDB table by polling: incrementally in the order of a cursor column (ties broken by the key, resumable from the state), or in full on every poll",
    incremental,
    category = "database",
    tags = ["sql", "postgres", "mysql", "mariadb", "rdbc", "jdbc", "polling"],
    connector = SqlSource
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "validate_source"))]
pub struct SqlSourceConfig {
    /// `postgres://user@host:port/db` or `mysql://user@host:port/db`; no password here.
    #[validate(custom(function = "validate_url"))]
    #[schemars(example = &"postgres://app@127.0.0.1:5432/shop")]
    pub url: String,
    /// The password (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// The table to read (`schema.table` allowed).
    #[validate(length(min = 1))]
    #[schemars(example = &"public.orders")]
    pub table: String,
    /// `incremental` (by `incremental_column`) or `full_refresh`.
    #[serde(default)]
    pub mode: ReadMode,
    /// The cursor column of `incremental` mode (growing with each change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    #[schemars(example = &"updated_at")]
    pub incremental_column: Option<String>,
    /// The columns that break ties in the cursor (and order a full
    /// refresh); default: the table's primary key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    pub key_columns: Option<Vec<String>>,
    /// Rows per query.
    #[serde(default = "default_chunk_size")]
    #[validate(range(min = 1, max = 1000000))]
    pub chunk_size: u64,
    /// Pause after a poll that reached the end, in milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    #[validate(range(min = 1, max = 86400000))]
    pub poll_interval_ms: u64,
    /// End the stream after this many polls (0: poll forever).
    #[serde(default)]
    pub max_polls: u64,
    /// The stream name of the events; default: the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    /// Timeout of connecting, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    #[validate(range(min = 1, max = 3600000))]
    pub connect_timeout_ms: u64,
}

/// How the table is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// Rows after the last one read, in cursor order.
    #[default]
    Incremental,
    /// The whole table on every poll.
    FullRefresh,
}

fn default_chunk_size() -> u64 {
    DEFAULT_CHUNK_SIZE
}
fn default_poll_interval_ms() -> u64 {
    DEFAULT_POLL_INTERVAL_MS
}
fn default_connect_timeout_ms() -> u64 {
    10_000
}

fn validate_source(c: &SqlSourceConfig) -> std::result::Result<(), ValidationError> {
    if c.mode == ReadMode::Incremental && c.incremental_column.is_none() {
        return Err(ValidationError::new("sql_source")
            .with_message("`incremental_column` is required in mode incremental".into()));
    }
    Ok(())
}

impl SqlSourceConfig {
    /// The events' stream name.
    pub fn stream(&self) -> String {
        self.stream_name
            .clone()
            .unwrap_or_else(|| self.table.clone())
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            url: &self.url,
            password: self.password.as_ref(),
            max_connections: 1,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
        }
    }
}

/// The `sql-source` (see the [module docs](self)).
#[derive(Debug, Default)]
pub struct SqlSource;

impl SqlSource {
    /// A source.
    pub fn new() -> Self {
        Self
    }
}

/// What a read needs of the table.
#[derive(Debug, Clone)]
struct Plan {
    stream: String,
    select: String,
    /// The ordering columns: the cursor (incremental) then the keys.
    order: Vec<String>,
    /// Their types (for PostgreSQL's casts of the bound values).
    order_types: Vec<String>,
    keys: Vec<String>,
}

#[async_trait]
impl Source for SqlSource {
    type Config = SqlSourceConfig;

    async fn check(&self, config: &SqlSourceConfig) -> Result<CheckResult> {
        let outcome = async {
            let pool = Pool::connect(config.endpoint()).await?;
            let mut conn = pool.acquire().await?;
            plan(&mut conn, config).await.map(|_| ())
        }
        .await;
        Ok(CheckResult::builder().check("table", outcome).finish())
    }

    async fn discover(&self, config: &SqlSourceConfig) -> Result<Catalog> {
        let pool = Pool::connect(config.endpoint()).await?;
        let mut conn = pool.acquire().await?;
        let plan = plan(&mut conn, config).await?;
        let stream =
            Stream::new(config.stream(), json!({"type": "object"})).with_primary_key(plan.keys);
        Ok(Catalog::new(vec![stream]))
    }

    async fn read(
        &self,
        config: &SqlSourceConfig,
        _catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let pool = Pool::connect(config.endpoint()).await?;
        let mut conn = pool.acquire().await?;
        let plan = plan(&mut conn, config).await?;
        let saved = state
            .as_ref()
            .and_then(|s| s.get_stream(&plan.stream))
            .and_then(|s| s.data.get("after"))
            .and_then(Value::as_array)
            .cloned();
        if let Some(after) = &saved {
            if after.len() != plan.order.len() {
                return Err(ConnectorError::config(format!(
                    "the saved position {after:?} does not fit the ordering columns {:?} \
                     (did incremental_column or key_columns change?)",
                    plan.order
                )));
            }
        }
        let config = config.clone();
        let stream = async_stream::try_stream! {
            let mut after = if config.mode == ReadMode::Incremental { saved } else { None };
            let mut polls = 0u64;
            loop {
                // One poll: chunks until one comes back short.
                let mut pass_after = after.clone();
                loop {
                    let rows = chunk(&mut conn, &config, &plan, pass_after.as_deref()).await?;
                    let short = (rows.len() as u64) < config.chunk_size;
                    for row in rows {
                        let position: Vec<Value> = plan
                            .order
                            .iter()
                            .map(|c| row.get(c).cloned().unwrap_or(Value::Null))
                            .collect();
                        let key: Map<String, Value> = plan
                            .keys
                            .iter()
                            .map(|k| (k.clone(), row.get(k).cloned().unwrap_or(Value::Null)))
                            .collect();
                        let mut event = SourceEvent::record(&plan.stream, Value::Object(row))
                            .with_key(Value::Object(key));
                        if config.mode == ReadMode::Incremental {
                            event = event.with_state("after", Value::Array(position.clone()));
                        }
                        pass_after = Some(position);
                        yield event;
                    }
                    if short {
                        break;
                    }
                }
                if config.mode == ReadMode::Incremental {
                    after = pass_after;
                }
                polls += 1;
                if config.max_polls > 0 && polls >= config.max_polls {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(config.poll_interval_ms)).await;
            }
        };
        Ok(Box::pin(stream))
    }
}

/// The query plan: checks the table, its columns and the ordering.
async fn plan(conn: &mut Conn, config: &SqlSourceConfig) -> Result<Plan> {
    let dialect = conn.dialect();
    let info = table::describe(conn, &config.table).await?.ok_or_else(|| {
        ConnectorError::schema(format!("table `{}` does not exist", config.table))
            .with_retryable(false)
    })?;
    let keys = config
        .key_columns
        .clone()
        .unwrap_or_else(|| info.primary_key.clone());
    if keys.is_empty() {
        return Err(ConnectorError::config(format!(
            "table `{}` has no primary key: set key_columns (they order the rows and break ties in the cursor)",
            config.table
        )));
    }
    let mut order = Vec::new();
    if config.mode == ReadMode::Incremental {
        let cursor = config.incremental_column.clone().unwrap_or_default();
        order.push(cursor);
    }
    for k in &keys {
        if !order.contains(k) {
            order.push(k.clone());
        }
    }
    for c in &order {
        if !info.has(c) {
            return Err(ConnectorError::config(format!(
                "column `{c}` does not exist in table `{}`",
                config.table
            )));
        }
    }
    let order_types = order
        .iter()
        .map(|c| info.type_of(c).unwrap_or_default().to_string())
        .collect();
    Ok(Plan {
        stream: config.stream(),
        select: select_list(dialect, &info),
        order,
        order_types,
        keys,
    })
}

/// Every column, those without a JSON counterpart cast to text.
fn select_list(dialect: Dialect, info: &TableInfo) -> String {
    info.columns
        .iter()
        .zip(&info.types)
        .map(|(c, t)| {
            let q = dialect.quote_column(c);
            if is_native(dialect, t) {
                q
            } else {
                match dialect {
                    Dialect::Postgres => format!("{q}::text AS {q}"),
                    Dialect::MySql => format!("CAST({q} AS CHAR) AS {q}"),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_native(dialect: Dialect, ty: &str) -> bool {
    match dialect {
        Dialect::Postgres => {
            matches!(
                ty,
                "smallint"
                    | "integer"
                    | "bigint"
                    | "real"
                    | "double precision"
                    | "boolean"
                    | "json"
                    | "jsonb"
                    | "text"
            ) || ty.starts_with("character varying")
                || ty.starts_with("character(")
        }
        Dialect::MySql => matches!(
            ty,
            "tinyint"
                | "smallint"
                | "mediumint"
                | "int"
                | "bigint"
                | "float"
                | "double"
                | "varchar"
                | "char"
                | "text"
                | "tinytext"
                | "mediumtext"
                | "longtext"
                | "json"
        ),
    }
}

/// One chunk of rows after `after` (in the plan's order).
async fn chunk(
    conn: &mut Conn,
    config: &SqlSourceConfig,
    plan: &Plan,
    after: Option<&[Value]>,
) -> Result<Vec<Map<String, Value>>> {
    let dialect = conn.dialect();
    let cols: Vec<String> = plan.order.iter().map(|c| dialect.quote_column(c)).collect();
    let mut sql = format!(
        "SELECT {} FROM {}",
        plan.select,
        dialect.quote(&config.table)
    );
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    if config.mode == ReadMode::Incremental {
        conditions.push(format!("{} IS NOT NULL", cols[0]));
    }
    if let Some(after) = after {
        let placeholders: Vec<String> = after
            .iter()
            .zip(&plan.order_types)
            .enumerate()
            .map(|(i, (_, ty))| match dialect {
                Dialect::Postgres => format!("CAST(${} AS {ty})", i + 1),
                Dialect::MySql => "?".to_string(),
            })
            .collect();
        conditions.push(format!(
            "({}) > ({})",
            cols.join(", "),
            placeholders.join(", ")
        ));
        params.extend(after.iter().map(Param::from_json));
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(&format!(
        " ORDER BY {} LIMIT {}",
        cols.join(", "),
        config.chunk_size
    ));
    conn.fetch_json(&sql, &params).await.map_err(|e| {
        classify(
            &e,
            &format!(
                "reading `{}` from {}",
                config.table,
                display_url(&config.url)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_mode_needs_its_column() {
        let err = SqlSourceConfig::from_value(json!({"url": "postgres://u@h/db", "table": "t"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("incremental_column"), "{err}");
        assert!(SqlSourceConfig::from_value(
            json!({"url": "postgres://u@h/db", "table": "t", "mode": "full_refresh"})
        )
        .is_ok());
    }

    #[test]
    fn columns_without_json_types_are_read_as_text() {
        let info = TableInfo {
            columns: vec!["id".into(), "at".into()],
            types: vec!["bigint".into(), "timestamp with time zone".into()],
            primary_key: vec!["id".into()],
        };
        assert_eq!(
            select_list(Dialect::Postgres, &info),
            "\"id\", \"at\"::text AS \"at\""
        );
    }
}
