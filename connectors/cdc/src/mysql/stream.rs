//! Binlog events → source events: the table-map cache, transactions (one
//! checkpoint per committed transaction, at its end), rotations,
//! heartbeats and DDL (which makes the table's columns be read again before
//! its next row event).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use mysql_async::binlog::events::{Event, EventData, RowsEventData, TableMapEvent};
use rivven_connect::{ConnectorError, ErrorKind, EventType, Result, SourceEvent};
use serde_json::{json, Map, Value};

use crate::common::emit::Emitter;
use crate::common::envelope::{EnvelopeBuilder, TableRef, TableShape};
use crate::common::resume;

use super::compressed;
use super::position::{At, BinlogPosition};
use super::rows::{decode_rows, ColumnCodec};
use super::schema::TableInfo;
use super::value::{to_json, Cell};

/// A captured table: its columns and envelope shape.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub info: TableInfo,
    pub shape: TableShape,
}

/// A table map: how its rows are stored and which captured column each is.
struct Mapped {
    table: String,
    codecs: Vec<ColumnCodec>,
    /// Column index in `Captured::info.columns` of each binlog column.
    columns: Vec<Option<usize>>,
}

#[derive(Debug, Clone)]
struct Tx {
    start: u64,
    gtid: Option<String>,
    ts: u32,
    standalone: bool,
}

/// What the stream needs before it can handle an event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing: call [`Decoder::on_event`].
    Nothing,
    /// The columns of this table (new, or changed by DDL).
    Table(String),
}

/// Decodes one binlog session's events.
pub(crate) struct Decoder {
    database: String,
    envelope: EnvelopeBuilder,
    include: Box<dyn Fn(&str) -> bool + Send + Sync>,
    tables: HashMap<String, Option<Captured>>,
    stale: HashSet<String>,
    maps: HashMap<u64, Mapped>,
    file: String,
    tx: Option<Tx>,
    emitter: Emitter,
    heartbeat: Duration,
    last_checkpoint: Instant,
    checkpoint: BinlogPosition,
    seen_fde: bool,
}

/// Settings of a [`Decoder`].
pub(crate) struct DecoderParts {
    pub database: String,
    pub envelope: EnvelopeBuilder,
    /// Whether a table (by name) is captured.
    pub include: Box<dyn Fn(&str) -> bool + Send + Sync>,
    pub emitter: Emitter,
    pub heartbeat: Duration,
    /// Where streaming starts.
    pub start: BinlogPosition,
}

impl Decoder {
    pub(crate) fn new(parts: DecoderParts) -> Self {
        Self {
            database: parts.database,
            envelope: parts.envelope,
            include: parts.include,
            tables: HashMap::new(),
            stale: HashSet::new(),
            maps: HashMap::new(),
            file: parts.start.file.clone(),
            tx: None,
            emitter: parts.emitter,
            heartbeat: parts.heartbeat,
            last_checkpoint: Instant::now(),
            checkpoint: parts.start,
            seen_fde: false,
        }
    }

    /// The shape of a captured table (for the snapshot).
    pub(crate) fn captured(&self, info: TableInfo) -> Captured {
        let table = TableRef::new(self.database.clone(), None, info.name.clone());
        let shape = self.envelope.table(table, info.primary_key.clone());
        Captured { info, shape }
    }

    /// A snapshot row's event (`op = r`).
    pub(crate) fn snapshot_event(
        &self,
        captured: &Captured,
        row: Map<String, Value>,
        at: &At,
    ) -> SourceEvent {
        self.envelope
            .event(&captured.shape, EventType::Snapshot, None, Some(row), at)
    }

    /// Records the columns of `name` (`None`: the table is gone).
    pub(crate) fn set_table(&mut self, name: &str, info: Option<TableInfo>) {
        self.stale.remove(name);
        let captured = info.map(|i| self.captured(i));
        self.tables.insert(name.to_string(), captured);
    }

    /// Whether `event` needs a table's columns first.
    pub(crate) fn needs(&self, event: &Event) -> Need {
        if event.header().event_type_raw() != 19 {
            return Need::Nothing;
        }
        let Ok(tme) = event.read_event::<TableMapEvent<'_>>() else {
            return Need::Nothing;
        };
        if tme.database_name() != self.database.as_str() {
            return Need::Nothing;
        }
        let name = tme.table_name().into_owned();
        if !(self.include)(&name) {
            return Need::Nothing;
        }
        if self.stale.contains(&name) || !self.tables.contains_key(&name) {
            Need::Table(name)
        } else {
            Need::Nothing
        }
    }

    /// Handles one event; what it produces is pushed to `out`.
    pub(crate) fn on_event(&mut self, event: &Event, out: &mut Vec<Result<SourceEvent>>) {
        let header = event.header();
        let end = u64::from(header.log_pos());
        let start = end.saturating_sub(u64::from(header.event_size()));
        // MariaDB's compressed events (log_bin_compress=ON) are read as the
        // plain events they stand for, at the compressed event's place.
        if (compressed::QUERY_COMPRESSED..=compressed::LAST_COMPRESSED)
            .contains(&header.event_type_raw())
        {
            match compressed::inflate(event) {
                Ok(Some(plain)) => self.handle(&plain, start, end, out),
                Ok(None) => {}
                Err(e) => out.push(Err(ConnectorError::new(
                    ErrorKind::Transient,
                    format!(
                        "compressed binlog event (type {}) at {}:{start}: {e}",
                        header.event_type_raw(),
                        self.file
                    ),
                ))),
            }
            return;
        }
        self.handle(event, start, end, out);
    }

    /// Handles one (plain) event that spans `start..end` of the binlog.
    fn handle(&mut self, event: &Event, start: u64, end: u64, out: &mut Vec<Result<SourceEvent>>) {
        let header = event.header();
        // MariaDB GTID: the transaction's start (flag 1: standalone DDL).
        if header.event_type_raw() == 162 {
            let data = event.data();
            if data.len() >= 13 {
                let seq = u64::from_le_bytes(data[0..8].try_into().unwrap_or([0; 8]));
                let domain = u32::from_le_bytes(data[8..12].try_into().unwrap_or([0; 4]));
                self.tx = Some(Tx {
                    start,
                    gtid: Some(format!("{domain}-{}-{seq}", header.server_id())),
                    ts: header.timestamp(),
                    standalone: data[12] & 1 != 0,
                });
            }
            return;
        }
        let data = match event.read_data() {
            Ok(Some(d)) => d,
            Ok(None) => return,
            Err(e) => {
                out.push(Err(ConnectorError::new(
                    ErrorKind::Transient,
                    format!("undecodable binlog event at {}:{start}: {e}", self.file),
                )));
                return;
            }
        };
        match data {
            // Before the first format description the reader does not know
            // the checksum, so an artificial rotate's name still carries it:
            // the file is then the one requested.
            EventData::RotateEvent(r) if self.seen_fde || self.file.is_empty() => {
                self.file = r.name().into_owned();
            }
            EventData::FormatDescriptionEvent(_) => self.seen_fde = true,
            EventData::GtidEvent(g) => {
                let sid = g.sid();
                let hex: String = sid.iter().map(|b| format!("{b:02x}")).collect();
                let uuid = format!(
                    "{}-{}-{}-{}-{}",
                    &hex[0..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..32]
                );
                self.tx = Some(Tx {
                    start,
                    gtid: Some(format!("{uuid}:{}", g.gno())),
                    ts: header.timestamp(),
                    standalone: false,
                });
            }
            EventData::QueryEvent(q) => {
                let sql = q.query().trim().to_string();
                let upper = sql.to_ascii_uppercase();
                if upper == "BEGIN" || upper.starts_with("XA START") {
                    match &mut self.tx {
                        Some(tx) => tx.standalone = false,
                        None => {
                            self.tx = Some(Tx {
                                start,
                                gtid: None,
                                ts: header.timestamp(),
                                standalone: false,
                            })
                        }
                    }
                    return;
                }
                if upper == "COMMIT"
                    || upper.starts_with("XA END")
                    || upper.starts_with("XA COMMIT")
                {
                    self.commit(end, out);
                    return;
                }
                if is_ddl(&upper) {
                    self.ddl(&q.schema(), &sql, start, header.timestamp(), out);
                }
                // DDL and other statements outside BEGIN commit implicitly.
                if self.tx.as_ref().is_none_or(|t| t.standalone) {
                    self.commit(end, out);
                }
            }
            EventData::XidEvent(_) => self.commit(end, out),
            EventData::TableMapEvent(tme) => self.table_map(&tme),
            EventData::RowsEvent(rows) => {
                self.rows(&rows, start, header.timestamp(), header.server_id(), out)
            }
            EventData::HeartbeatEvent => self.idle(end, out),
            _ => {}
        }
    }

    fn commit(&mut self, end: u64, out: &mut Vec<Result<SourceEvent>>) {
        let tx = self.tx.take();
        if let Some(tx) = &tx {
            let lag_ms = (chrono::Utc::now().timestamp() - i64::from(tx.ts)) * 1000;
            tracing::debug!(file = %self.file, pos = end, lag_ms, "transaction read");
        }
        let position = BinlogPosition {
            file: self.file.clone(),
            pos: end,
            gtid: tx.and_then(|t| t.gtid),
        };
        if position.is_after(&self.checkpoint) {
            self.checkpoint = position.clone();
            self.last_checkpoint = Instant::now();
            out.push(resume::checkpoint(&position).map(SourceEvent::state));
        }
    }

    /// An idle server's heartbeat between transactions: checkpoint its
    /// position every `heartbeat` so the committed position keeps up.
    fn idle(&mut self, end: u64, out: &mut Vec<Result<SourceEvent>>) {
        let position = BinlogPosition::new(self.file.clone(), end);
        if self.tx.is_none()
            && end > 4
            && position.is_after(&self.checkpoint)
            && self.last_checkpoint.elapsed() >= self.heartbeat
        {
            self.checkpoint = position.clone();
            self.last_checkpoint = Instant::now();
            tracing::debug!(file = %self.file, pos = end, "heartbeat checkpoint");
            out.push(resume::checkpoint(&position).map(SourceEvent::state));
        }
    }

    fn ddl(
        &mut self,
        schema: &str,
        sql: &str,
        start: u64,
        ts: u32,
        out: &mut Vec<Result<SourceEvent>>,
    ) {
        // Any captured table may be named (RENAME, qualified names):
        // read them all again before their next row event.
        if schema == self.database || sql.contains(&self.database) {
            let names: Vec<String> = self.tables.keys().cloned().collect();
            self.stale.extend(names);
            self.maps.clear();
        }
        let upper = sql.to_ascii_uppercase();
        if let Some(rest) = upper.strip_prefix("TRUNCATE") {
            let rest = rest.trim_start();
            let rest = rest.strip_prefix("TABLE").unwrap_or(rest).trim();
            // the original spelling of the name
            let name = sql[sql.len() - rest.len()..].trim().trim_end_matches(';');
            let name = name.rsplit('.').next().unwrap_or(name).trim_matches('`');
            if let Some(Some(c)) = self.tables.get(name) {
                let at = self.at(start, 0, ts, 0);
                out.push(Ok(self.envelope.truncate(&c.shape, &at)));
            }
        }
    }

    fn at(&self, pos: u64, row: usize, ts: u32, server_id: u32) -> At {
        At {
            file: self.file.clone(),
            pos,
            row,
            gtid: self.tx.as_ref().and_then(|t| t.gtid.clone()),
            server_id,
            tx_start: self.tx.as_ref().map(|t| t.start),
            ts: Some(self.tx.as_ref().map(|t| t.ts).unwrap_or(ts)),
            snapshot: false,
        }
    }

    fn table_map(&mut self, tme: &TableMapEvent<'_>) {
        let id = tme.table_id();
        if tme.database_name() != self.database.as_str() {
            self.maps.remove(&id);
            return;
        }
        let table = tme.table_name().into_owned();
        let Some(Some(captured)) = self.tables.get(&table) else {
            self.maps.remove(&id);
            return;
        };
        let count = tme.columns_count() as usize;
        let codecs: Vec<ColumnCodec> = (0..count)
            .map(|i| ColumnCodec {
                ty: tme
                    .get_raw_column_type(i)
                    .ok()
                    .flatten()
                    .map(|t| t as u8)
                    .unwrap_or(0),
                meta: tme
                    .get_column_metadata(i)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default(),
            })
            .collect();
        let names = column_names(tme);
        let columns = (0..count)
            .map(|i| match &names {
                Some(n) => n
                    .get(i)
                    .and_then(|name| captured.info.columns.iter().position(|c| &c.name == name)),
                None => (i < captured.info.columns.len()).then_some(i),
            })
            .collect();
        self.maps.insert(
            id,
            Mapped {
                table,
                codecs,
                columns,
            },
        );
    }

    fn rows(
        &mut self,
        rows: &RowsEventData<'_>,
        start: u64,
        ts: u32,
        server_id: u32,
        out: &mut Vec<Result<SourceEvent>>,
    ) {
        let Some(mapped) = self.maps.get(&rows.table_id()) else {
            return;
        };
        let Some(Some(captured)) = self.tables.get(&mapped.table) else {
            return;
        };
        let event_type = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                EventType::Insert
            }
            RowsEventData::UpdateRowsEventV1(_) | RowsEventData::UpdateRowsEvent(_) => {
                EventType::Update
            }
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => {
                EventType::Delete
            }
            RowsEventData::PartialUpdateRowsEvent(_) => {
                out.push(Err(ConnectorError::config(format!(
                    "{}.{}: a partial JSON update at {}:{start}; set binlog_row_value_options='' so updates carry whole rows",
                    self.database, mapped.table, self.file
                ))));
                return;
            }
        };
        let before: Option<Vec<bool>> = rows
            .columns_before_image()
            .map(|s| s.iter().map(|x| *x).collect());
        let after: Option<Vec<bool>> = rows
            .columns_after_image()
            .map(|s| s.iter().map(|x| *x).collect());
        let decoded = match decode_rows(
            &mapped.codecs,
            before.as_deref(),
            after.as_deref(),
            rows.rows_data(),
        ) {
            Ok(d) => d,
            Err(e) => {
                // The stream cannot be read past an event we cannot decode:
                // a stage fault (restart from the committed position).
                out.push(Err(ConnectorError::new(
                    ErrorKind::Transient,
                    format!(
                        "{}.{} at {}:{start}: {e}",
                        self.database, mapped.table, self.file
                    ),
                )));
                return;
            }
        };
        let mut built = Vec::with_capacity(decoded.len());
        for (row, images) in decoded.into_iter().enumerate() {
            let at = self.at(start, row, ts, server_id);
            let image = |cells: Option<Vec<Option<Cell>>>| -> Result<Option<Map<String, Value>>> {
                cells
                    .map(|c| row_json(captured, &mapped.columns, c, &at))
                    .transpose()
            };
            let event = image(images.before).and_then(|before| {
                let after = image(images.after)?;
                Ok(self
                    .envelope
                    .event(&captured.shape, event_type, before, after, &at))
            });
            built.push((event, at));
        }
        for (event, at) in built {
            match event {
                Ok(e) => {
                    self.emitter.emit(e, &json!([at.file, at.pos, at.row]), out);
                }
                Err(e) => out.push(Err(e)),
            }
        }
    }
}

fn row_json(
    captured: &Captured,
    columns: &[Option<usize>],
    cells: Vec<Option<Cell>>,
    at: &At,
) -> Result<Map<String, Value>> {
    let mut row = Map::with_capacity(cells.len());
    for (cell, index) in cells.into_iter().zip(columns) {
        let (Some(cell), Some(index)) = (cell, index) else {
            continue;
        };
        let Some(column) = captured.info.columns.get(*index) else {
            continue;
        };
        if !captured.shape.decodes(&column.name) {
            continue;
        }
        let value = match &column.kind {
            Some(kind) => to_json(kind, cell),
            None if cell == Cell::Null => Ok(Value::Null),
            None => Err(format!("type `{}` is not supported", column.column_type)),
        };
        match value {
            Ok(v) => {
                row.insert(column.name.clone(), v);
            }
            Err(e) => {
                return Err(ConnectorError::data(format!(
                    "{}.{} column `{}` at {}:{}: {e}",
                    captured.shape.table.database, captured.info.name, column.name, at.file, at.pos
                )))
            }
        }
    }
    Ok(row)
}

fn column_names(tme: &TableMapEvent<'_>) -> Option<Vec<String>> {
    use mysql_async::binlog::events::OptionalMetadataField;
    for field in tme.iter_optional_meta() {
        if let Ok(OptionalMetadataField::ColumnName(names)) = field {
            let names: Vec<String> = names
                .iter_names()
                .filter_map(|n| n.ok())
                .map(|n| n.name().into_owned())
                .collect();
            return Some(names);
        }
    }
    None
}

/// Whether a statement changes a table's definition.
fn is_ddl(upper: &str) -> bool {
    let s = upper.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    let s = strip_comments(s);
    ["ALTER ", "CREATE ", "DROP ", "RENAME ", "TRUNCATE "]
        .iter()
        .any(|k| s.starts_with(k))
}

fn strip_comments(mut s: &str) -> &str {
    while let Some(rest) = s.strip_prefix("/*") {
        s = match rest.find("*/") {
            Some(i) => rest[i + 2..].trim_start(),
            None => "",
        };
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ddl_statements_are_recognised() {
        assert!(is_ddl("ALTER TABLE T ADD COLUMN X INT"));
        assert!(is_ddl("/* GENERATED */ DROP TABLE T"));
        assert!(is_ddl("TRUNCATE TABLE T"));
        assert!(!is_ddl("INSERT INTO T VALUES (1)"));
        assert!(!is_ddl("/* unterminated"));
    }
}
