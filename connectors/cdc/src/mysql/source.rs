//! The [`MySqlCdcSource`]: check, discover, read (snapshot, then the
//! binary log) and commit.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, Row, Value as MyValue};
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorError, ConnectorSpec, Result, Source,
    SourceEvent, State,
};
use serde_json::Map;

use crate::common::emit::Emitter;
use crate::common::envelope::{EnvelopeBuilder, TableRef};
use crate::common::resume::{checkpoint, position_of, ResumeState};
use crate::common::snapshot::{plan, CursorStatus, SnapshotRun, StreamFrom};

use super::check::{self, server_facts};
use super::config::{MySqlCdcConfig, MySqlCdcConfigSpec};
use super::position::{At, BinlogPosition};
use super::schema::{self, TableInfo};
use super::session::{
    classify, connect, other_replica, quote_ident, replica_host, server_id_in_use,
};
use super::stream::{Captured, Decoder, DecoderParts, Need};
use super::value::{from_protocol, to_json, Charset, ColumnKind};

/// MySQL/MariaDB CDC source (`mysql-cdc`); see the [module docs](super).
#[derive(Debug)]
pub struct MySqlCdcSource {
    /// Newest durably committed position (for the logs).
    confirmed: Arc<Mutex<Option<BinlogPosition>>>,
    /// The host name reported when registering as a replica (one per source).
    host: String,
}

impl Default for MySqlCdcSource {
    fn default() -> Self {
        Self {
            confirmed: Arc::default(),
            host: replica_host(),
        }
    }
}

#[async_trait]
impl Source for MySqlCdcSource {
    type Config = MySqlCdcConfig;

    fn spec() -> ConnectorSpec {
        MySqlCdcConfigSpec::spec()
    }

    async fn check(&self, config: &MySqlCdcConfig) -> Result<CheckResult> {
        Ok(check::run(config).await)
    }

    async fn discover(&self, config: &MySqlCdcConfig) -> Result<Catalog> {
        let mut conn = connect(config).await?;
        let tables = captured_tables(&mut conn, config).await?;
        let envelope = envelope(config)?;
        Ok(Catalog::new(
            tables
                .iter()
                .map(|t| {
                    let name = envelope.stream_name(&TableRef::new(
                        config.database.clone(),
                        None,
                        t.name.clone(),
                    ));
                    t.stream(&config.database, &name)
                })
                .collect(),
        ))
    }

    async fn read(
        &self,
        config: &MySqlCdcConfig,
        catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let resume = ResumeState::<BinlogPosition>::from_state(state.as_ref())?;
        let mut conn = connect(config).await?;
        let facts = server_facts(&mut conn).await?;
        let streaming = config.snapshot_mode.streams();
        if streaming {
            facts.require_binlog()?;
            facts.require_server_id(config)?;
        }
        // The "cursor" is the binlog file holding the committed position.
        let cursor = match &resume.position {
            Some(p) if streaming => {
                if binlog_files(&mut conn).await?.contains(&p.file) {
                    CursorStatus::Usable
                } else {
                    CursorStatus::Missing
                }
            }
            _ => CursorStatus::Missing,
        };
        let plan = plan(config.snapshot_mode, &resume, cursor).map_err(|gone| {
            ConnectorError::config(format!(
                "the committed binlog position {}:{} is gone (binlog file purged): streaming from the server's current position would skip every change in between; use snapshot_mode when_needed, or delete this pipeline's committed offsets to snapshot again",
                gone.committed.file, gone.committed.pos
            ))
        })?;
        if plan.is_idle() {
            return Ok(futures::stream::empty().boxed());
        }
        let envelope = envelope(config)?;
        let regex = config.table_regex()?;
        let selected = {
            let names = self::envelope(config)?;
            let (db, catalog, config) = (config.database.clone(), catalog.clone(), config.clone());
            move |table: &str| {
                let stream = names.stream_name(&TableRef::new(db.clone(), None, table));
                config.captures(table, regex.as_ref())
                    && (catalog.streams.is_empty()
                        || catalog.includes(&stream)
                        || catalog.includes(&format!("{db}.{table}")))
            }
        };
        let tables: Vec<TableInfo> = schema::load(&mut conn, &config.database, None)
            .await?
            .into_iter()
            .filter(|t| selected(&t.name))
            .collect();

        // The snapshot's consistent point, and where streaming starts.
        let mut point = None;
        if plan.snapshot.is_some() {
            conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .await
                .map_err(|e| classify(&e))?;
            point = Some(consistent_snapshot(&mut conn, facts.is_mariadb).await?);
        }
        let start = match &plan.stream {
            None => None,
            Some(StreamFrom::Committed(p)) => Some(p.clone()),
            Some(StreamFrom::NewCursor) if plan.snapshot_at_new_cursor() => point.clone(),
            Some(_) => Some(master_position(&mut conn).await?),
        };
        if plan.snapshot.is_some() && !plan.snapshot_at_new_cursor() && streaming {
            tracing::info!("snapshot in a new transaction while streaming resumes from the committed position: changes made since may arrive twice");
        }
        let mut decoder = Decoder::new(DecoderParts {
            database: config.database.clone(),
            envelope,
            include: Box::new(selected),
            emitter: Emitter::new(&config.cdc_features),
            heartbeat: config.heartbeat_interval(),
            start: start.clone().unwrap_or_else(|| BinlogPosition::new("", 0)),
        });
        for t in &tables {
            decoder.set_table(&t.name.clone(), Some(t.clone()));
        }
        // A stream that starts at the server's current position (no snapshot,
        // nothing committed) commits that position first: else a restart
        // before the first transaction would start at a later "current"
        // position and skip every change in between.
        let commit_start =
            plan.snapshot.is_none() && !matches!(plan.stream, Some(StreamFrom::Committed(_)));
        let config = config.clone();
        let host = self.host.clone();
        let chunk = config.snapshot_chunk_size;
        let stream = async_stream::stream! {
            let seamless = plan.snapshot_at_new_cursor();
            if let Some(snapshot) = plan.snapshot {
                let snap_point = if seamless { point.clone() } else { start.clone() };
                let mut run = SnapshotRun::new(snap_point.clone().filter(|_| streaming), snapshot.done);
                let at = At {
                    file: snap_point.as_ref().map(|p| p.file.clone()).unwrap_or_default(),
                    pos: snap_point.as_ref().map(|p| p.pos).unwrap_or(0),
                    row: 0, gtid: None, server_id: facts.server_id, tx_start: None, ts: None, snapshot: true,
                };
                for table in &tables {
                    let qualified = format!("{}.{}", config.database, table.name);
                    if run.is_done(&qualified) {
                        continue;
                    }
                    let captured = decoder.captured(table.clone());
                    let mut after: Option<Vec<MyValue>> = None;
                    loop {
                        let rows = match snapshot_chunk(&mut conn, &captured, after.as_deref(), chunk).await {
                            Ok(rows) => rows,
                            Err(e) => { yield Err(e); return; }
                        };
                        let done = rows.len() < chunk as usize || captured.info.primary_key.is_empty();
                        for row in &rows {
                            yield snapshot_row(&captured, row, &at).map(|r| decoder_event(&decoder, &captured, r, &at));
                        }
                        if done {
                            break;
                        }
                        after = rows.last().map(|r| key_values(&captured, r));
                    }
                    yield run.table_done(qualified).map(SourceEvent::state);
                }
                if let Err(e) = conn.query_drop("COMMIT").await { yield Err(classify(&e)); return; }
                tracing::info!(tables = run.done().len(), "snapshot complete");
                yield run.complete(streaming).map(SourceEvent::state);
            }
            let Some(start) = start else { return };
            if commit_start {
                yield checkpoint(&start).map(SourceEvent::state);
            }
            let mut binlog = match open_binlog(&config, &start, facts.is_mariadb, &host).await {
                Ok(b) => b,
                Err(e) => { yield Err(e); return; }
            };
            let mut out = Vec::new();
            loop {
                let next = AssertUnwindSafe(binlog.next()).catch_unwind().await;
                let event = match next {
                    Err(_) => {
                        yield Err(ConnectorError::transient("the binlog client failed on a malformed event"));
                        return;
                    }
                    Ok(None) => {
                        let ended = ConnectorError::connection("the binlog stream ended (server shut down or connection closed)").with_retryable(true);
                        yield Err(taken_over(&config, &host).await.unwrap_or(ended));
                        return;
                    }
                    Ok(Some(Err(e))) => {
                        let failed = classify(&e).context("binlog stream");
                        yield Err(taken_over(&config, &host).await.unwrap_or(failed));
                        return;
                    }
                    Ok(Some(Ok(event))) => event,
                };
                if let Need::Table(name) = decoder.needs(&event) {
                    match schema::load(&mut conn, &config.database, Some(std::slice::from_ref(&name))).await {
                        Ok(mut t) => decoder.set_table(&name, t.pop()),
                        Err(e) => { yield Err(e); return; }
                    }
                }
                decoder.on_event(&event, &mut out);
                for item in out.drain(..) {
                    yield item;
                }
            }
        };
        Ok(stream.boxed())
    }

    async fn commit(&self, _config: &MySqlCdcConfig, state: &State) -> Result<()> {
        if let Some(p) = position_of::<BinlogPosition>(state)? {
            tracing::debug!(file = %p.file, pos = p.pos, "binlog position durably committed");
            if let Ok(mut c) = self.confirmed.lock() {
                *c = Some(p);
            }
        }
        Ok(())
    }

    /// The replica `server_id` on its server.
    fn exclusive_resource(&self, config: &MySqlCdcConfig) -> Option<String> {
        Some(config.exclusive_resource())
    }
}

fn envelope(config: &MySqlCdcConfig) -> Result<EnvelopeBuilder> {
    EnvelopeBuilder::new(
        config.topic_routing.as_deref(),
        &config.normalization,
        &config.column_filters,
    )
}

fn decoder_event(
    decoder: &Decoder,
    captured: &Captured,
    row: Map<String, serde_json::Value>,
    at: &At,
) -> SourceEvent {
    decoder.snapshot_event(captured, row, at)
}

async fn captured_tables(conn: &mut Conn, config: &MySqlCdcConfig) -> Result<Vec<TableInfo>> {
    let regex = config.table_regex()?;
    Ok(schema::load(conn, &config.database, None)
        .await?
        .into_iter()
        .filter(|t| config.captures(&t.name, regex.as_ref()))
        .collect())
}

async fn binlog_files(conn: &mut Conn) -> Result<Vec<String>> {
    let rows: Vec<Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(|e| classify(&e).context("SHOW BINARY LOGS"))?;
    Ok(rows.iter().filter_map(|r| r.get::<String, _>(0)).collect())
}

async fn master_position(conn: &mut Conn) -> Result<BinlogPosition> {
    let row: Option<Row> = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .map_err(|e| classify(&e).context("SHOW MASTER STATUS"))?;
    row.and_then(|r| {
        Some(BinlogPosition::new(
            r.get::<String, _>(0)?,
            r.get::<u64, _>(1)?,
        ))
    })
    .ok_or_else(|| ConnectorError::config("SHOW MASTER STATUS is empty: the binary log is off"))
}

/// Opens the snapshot's transaction and reads the binlog position it is
/// consistent with: on MariaDB without any lock (`binlog_snapshot_file`/
/// `_position` belong to the transaction's snapshot), on MySQL under a
/// brief `FLUSH TABLES WITH READ LOCK`.
async fn consistent_snapshot(conn: &mut Conn, mariadb: bool) -> Result<BinlogPosition> {
    let q = |e: mysql_async::Error| classify(&e).context("consistent snapshot");
    if mariadb {
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
            .map_err(q)?;
        let rows: Vec<(String, String)> = conn
            .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
            .await
            .map_err(q)?;
        let get = |k: &str| {
            rows.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        match (
            get("Binlog_snapshot_file"),
            get("Binlog_snapshot_position").and_then(|p| p.parse().ok()),
        ) {
            (Some(file), Some(pos)) if !file.is_empty() => Ok(BinlogPosition::new(file, pos)),
            _ => Err(ConnectorError::config(
                "the server reports no binlog_snapshot_file: is the binary log on?",
            )),
        }
    } else {
        conn.query_drop("FLUSH TABLES WITH READ LOCK")
            .await
            .map_err(q)?;
        let started = conn
            .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
            .map_err(q);
        let position = match started {
            Ok(()) => master_position(conn).await,
            Err(e) => Err(e),
        };
        conn.query_drop("UNLOCK TABLES").await.map_err(q)?;
        position
    }
}

/// One chunk of a table in primary-key order after `after` (a table
/// without primary key is read whole, streamed by the server).
async fn snapshot_chunk(
    conn: &mut Conn,
    captured: &Captured,
    after: Option<&[MyValue]>,
    chunk: u32,
) -> Result<Vec<Row>> {
    let info = &captured.info;
    let columns: Vec<String> = info
        .columns
        .iter()
        .filter(|c| captured.shape.decodes(&c.name))
        .map(|c| match c.kind {
            Some(ColumnKind::Geometry) => format!("ST_AsBinary({0}) AS {0}", quote_ident(&c.name)),
            _ => quote_ident(&c.name),
        })
        .collect();
    let select = if columns.is_empty() {
        "NULL".to_string()
    } else {
        columns.join(", ")
    };
    let table = format!(
        "{}.{}",
        quote_ident(&captured.shape.table.database),
        quote_ident(&info.name)
    );
    let what = |e: mysql_async::Error| {
        classify(&e).context(format!("snapshot of {}", captured.shape.table.qualified()))
    };
    if info.primary_key.is_empty() {
        return conn
            .query(format!("SELECT {select} FROM {table}"))
            .await
            .map_err(what);
    }
    let key: Vec<String> = info.primary_key.iter().map(|k| quote_ident(k)).collect();
    let key = key.join(", ");
    match after {
        None => conn
            .exec(
                format!("SELECT {select} FROM {table} ORDER BY {key} LIMIT {chunk}"),
                (),
            )
            .await
            .map_err(what),
        Some(last) => {
            let marks = vec!["?"; last.len()].join(", ");
            conn.exec(
                format!("SELECT {select} FROM {table} WHERE ({key}) > ({marks}) ORDER BY {key} LIMIT {chunk}"),
                mysql_async::Params::Positional(last.to_vec()),
            )
            .await
            .map_err(what)
        }
    }
}

/// The primary-key values of a snapshot row (where the next chunk starts).
fn key_values(captured: &Captured, row: &Row) -> Vec<MyValue> {
    captured
        .info
        .primary_key
        .iter()
        .filter_map(|k| {
            let i = row
                .columns_ref()
                .iter()
                .position(|c| c.name_str() == k.as_str())?;
            row.as_ref(i).cloned()
        })
        .collect()
}

fn snapshot_row(captured: &Captured, row: &Row, at: &At) -> Result<Map<String, serde_json::Value>> {
    let mut out = Map::with_capacity(row.len());
    for (i, column) in row.columns_ref().iter().enumerate() {
        let name = column.name_str();
        let Some(info) = captured.info.column(&name) else {
            continue;
        };
        let value = row.as_ref(i).cloned().unwrap_or(MyValue::NULL);
        let cell = from_protocol(value);
        // Results arrive in the connection's charset (utf8mb4), whatever
        // the column's.
        let utf8 = ColumnKind::Text(Charset::Utf8);
        let kind = match &info.kind {
            Some(ColumnKind::Text(_)) => Some(&utf8),
            other => other.as_ref(),
        };
        let json = match kind {
            Some(kind) => to_json(kind, cell),
            None if cell == super::value::Cell::Null => Ok(serde_json::Value::Null),
            None => Err(format!("type `{}` is not supported", info.column_type)),
        };
        match json {
            Ok(v) => {
                out.insert(info.name.clone(), v);
            }
            Err(e) => {
                return Err(ConnectorError::data(format!(
                    "{}.{} column `{}` (snapshot at {}:{}): {e}",
                    captured.shape.table.database, captured.info.name, info.name, at.file, at.pos
                )))
            }
        }
    }
    Ok(out)
}

/// After the binlog connection ended: the error if another replica with
/// this source's `server_id` took it over.
async fn taken_over(config: &MySqlCdcConfig, host: &str) -> Option<ConnectorError> {
    let other = other_replica(config, host).await?;
    Some(server_id_in_use(
        config,
        &other,
        " and the server ended this source's binlog connection",
    ))
}

/// A replica connection streaming the binlog from `start`, with heartbeats.
/// Refused while another replica streams with the same `server_id` (the
/// server would end that one's connection).
async fn open_binlog(
    config: &MySqlCdcConfig,
    start: &BinlogPosition,
    mariadb: bool,
    host: &str,
) -> Result<mysql_async::BinlogStream> {
    if let Some(other) = other_replica(config, host).await {
        return Err(server_id_in_use(config, &other, ""));
    }
    let mut conn = connect(config).await?;
    let q = |e: mysql_async::Error| classify(&e).context("binlog setup");
    let period_ns = config
        .heartbeat_interval()
        .as_nanos()
        .min(u128::from(u64::MAX)) as u64;
    conn.query_drop(format!("SET @master_heartbeat_period = {period_ns}"))
        .await
        .map_err(q)?;
    if mariadb {
        // GTID events (MARIA_SLAVE_CAPABILITY_GTID) instead of plain BEGINs.
        conn.query_drop("SET @mariadb_slave_capability = 4")
            .await
            .map_err(q)?;
    }
    // A reported host name: `SHOW SLAVE HOSTS` lists the source, so
    // `check` and other replicas see its server_id in use.
    let request = BinlogStreamRequest::new(config.server_id)
        .with_hostname(host.as_bytes())
        .with_filename(start.file.as_bytes())
        .with_pos(start.pos);
    tracing::info!(file = %start.file, pos = start.pos, server_id = config.server_id, "streaming the binary log");
    conn.get_binlog_stream(request)
        .await
        .map_err(|e| classify(&e).context("start binlog stream"))
}
