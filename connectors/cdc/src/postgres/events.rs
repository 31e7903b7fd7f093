//! Rows to events: the Debezium-style envelope, keys, stream names, column
//! filters and the unchanged-TOAST marker, shared by the snapshot and the
//! stream.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rivven_connect::{
    ConnectorError, ErrorKind, EventType, SourceEvent, TopicMetadata, TopicResolver,
};
use serde_json::{json, Map, Value};

use crate::common::features::{filter_for, ColumnFilter};

use super::config::PostgresCdcConfig;
use super::pgoutput::TupleValue;
use super::session::format_lsn;
use super::value::PgType;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A PostgreSQL timestamp (µs since 2000-01-01) as a UTC time.
pub(crate) fn pg_time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros.saturating_add(PG_EPOCH_MICROS)).unwrap_or_default()
}

/// How one table's rows become events.
#[derive(Debug, Clone)]
pub(crate) struct TableShape {
    pub schema: String,
    pub table: String,
    /// The event stream (topic) name.
    pub stream: String,
    pub columns: Vec<(String, PgType)>,
    /// Indexes of the key columns.
    pub key: Vec<usize>,
    pub filter: Option<ColumnFilter>,
}

impl TableShape {
    /// Whether column `i` (`name`) is decoded at all: a column that
    /// `column_filters` drops is never read (its value cannot reach an
    /// event, an error message or a dead letter), unless it is part of the
    /// key, which the event's key needs.
    fn decodes(&self, i: usize, name: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.keeps(name)) || self.key.contains(&i)
    }
}

/// Where an event sits in the WAL and its transaction.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Position {
    /// LSN of the change (the snapshot's consistent point for `op = r`).
    pub lsn: u64,
    /// LSN of the transaction's commit record.
    pub commit_lsn: u64,
    pub xid: Option<u32>,
    /// Commit time, µs since 2000-01-01 (`None`: now).
    pub commit_ts_micros: Option<i64>,
    pub snapshot: bool,
}

/// Builds events; one per source run.
pub(crate) struct EventFactory {
    database: String,
    resolver: Option<TopicResolver>,
    filters: BTreeMap<String, ColumnFilter>,
    toast_placeholder: String,
}

impl EventFactory {
    pub(crate) fn new(config: &PostgresCdcConfig) -> Result<Self, ConnectorError> {
        let resolver = match &config.topic_routing {
            Some(template) => Some(
                TopicResolver::new(template.clone(), config.normalization.clone())
                    .map_err(|e| e.context("topic_routing"))?,
            ),
            None => None,
        };
        Ok(Self {
            database: config.database.clone(),
            resolver,
            filters: config.column_filters.clone(),
            toast_placeholder: config.unchanged_toast_value.clone(),
        })
    }

    /// The stream name of a table: `topic_routing` resolved, or `schema.table`.
    pub(crate) fn stream_name(&self, schema: &str, table: &str) -> String {
        match &self.resolver {
            Some(r) => r.resolve(&TopicMetadata::new(self.database.clone(), schema, table)),
            None => format!("{schema}.{table}"),
        }
    }

    /// The shape of a table with these columns (`key`: key column indexes).
    pub(crate) fn shape(
        &self,
        schema: &str,
        table: &str,
        columns: Vec<(String, PgType)>,
        key: Vec<usize>,
    ) -> TableShape {
        TableShape {
            stream: self.stream_name(schema, table),
            filter: filter_for(&self.filters, schema, table).cloned(),
            schema: schema.to_string(),
            table: table.to_string(),
            columns,
            key,
        }
    }

    /// A row from the snapshot (text values in column order).
    pub(crate) fn text_row(
        &self,
        shape: &TableShape,
        values: &[Option<String>],
        pos: &Position,
    ) -> Result<Map<String, Value>, ConnectorError> {
        let mut row = Map::with_capacity(shape.columns.len());
        for (i, ((name, ty), value)) in shape.columns.iter().zip(values).enumerate() {
            if !shape.decodes(i, name) {
                continue;
            }
            let v = match value {
                None => Value::Null,
                Some(text) => decode(shape, name, ty, text, pos)?,
            };
            row.insert(name.clone(), v);
        }
        Ok(row)
    }

    /// A row from pgoutput; returns it with the unchanged TOAST columns.
    pub(crate) fn tuple_row(
        &self,
        shape: &TableShape,
        values: &[TupleValue],
        pos: &Position,
        toasted: &mut Vec<String>,
    ) -> Result<Map<String, Value>, ConnectorError> {
        if values.len() != shape.columns.len() {
            // Our relation cache is out of step with the stream: a stage
            // fault (restart from the committed position, where the server
            // describes the relation again), never a record to skip.
            return Err(ConnectorError::new(
                ErrorKind::Transient,
                format!(
                    "{}.{} at LSN {}: the change has {} columns but the relation has {}",
                    shape.schema,
                    shape.table,
                    format_lsn(pos.lsn),
                    values.len(),
                    shape.columns.len()
                ),
            ));
        }
        let mut row = Map::with_capacity(shape.columns.len());
        for (i, ((name, ty), value)) in shape.columns.iter().zip(values).enumerate() {
            if !shape.decodes(i, name) {
                continue;
            }
            let v = match value {
                TupleValue::Null => Value::Null,
                TupleValue::UnchangedToast => {
                    toasted.push(name.clone());
                    Value::String(self.toast_placeholder.clone())
                }
                TupleValue::Text(text) => decode(shape, name, ty, text, pos)?,
                TupleValue::Binary(bytes) => {
                    use base64::Engine;
                    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
            };
            row.insert(name.clone(), v);
        }
        Ok(row)
    }

    /// A key-only old tuple (`REPLICA IDENTITY DEFAULT`/index): only the key columns.
    pub(crate) fn key_only(shape: &TableShape, mut row: Map<String, Value>) -> Map<String, Value> {
        let keep: Vec<&str> = shape
            .key
            .iter()
            .filter_map(|&i| shape.columns.get(i))
            .map(|(n, _)| n.as_str())
            .collect();
        row.retain(|k, _| keep.contains(&k.as_str()));
        row
    }

    /// The event for one change.
    pub(crate) fn event(
        &self,
        shape: &TableShape,
        event_type: EventType,
        before: Option<Map<String, Value>>,
        after: Option<Map<String, Value>>,
        pos: &Position,
        toasted: Vec<String>,
    ) -> SourceEvent {
        let key = key_of(shape, after.as_ref().or(before.as_ref()));
        let filter = |row: Option<Map<String, Value>>| {
            row.map(|mut r| {
                if let Some(f) = &shape.filter {
                    f.apply(&mut r);
                }
                Value::Object(r)
            })
        };
        let mut event = SourceEvent::cdc(
            event_type,
            shape.stream.clone(),
            filter(before),
            filter(after),
        );
        let ts = pos.commit_ts_micros.map(pg_time).unwrap_or_else(Utc::now);
        let source = self.source_block(shape, pos, ts);
        if let Value::Object(data) = &mut event.data {
            data.insert("source".into(), source.clone());
        }
        event.timestamp = ts;
        event.namespace = Some(shape.schema.clone());
        event.key = key;
        event.metadata.position = Some(Value::String(format_lsn(pos.lsn)));
        event.metadata.transaction_id = pos.xid.map(|x| x.to_string());
        event.metadata.source = Some(source);
        if !toasted.is_empty() {
            event
                .metadata
                .extra
                .insert("unchanged_toast".into(), json!(toasted));
        }
        event
    }

    /// A truncate of one table.
    pub(crate) fn truncate(&self, shape: &TableShape, pos: &Position) -> SourceEvent {
        let mut event = self.event(shape, EventType::Truncate, None, None, pos, Vec::new());
        event.key = None;
        event
    }

    /// The tombstone (null value, same key) that follows a delete.
    pub(crate) fn tombstone(delete: &SourceEvent) -> SourceEvent {
        let mut t = delete.clone();
        t.data = Value::Null;
        t.metadata
            .extra
            .insert("tombstone".into(), Value::Bool(true));
        t
    }

    fn source_block(&self, shape: &TableShape, pos: &Position, ts: DateTime<Utc>) -> Value {
        json!({
            "connector": "postgres-cdc",
            "db": self.database,
            "schema": shape.schema,
            "table": shape.table,
            "lsn": pos.lsn,
            "commit_lsn": pos.commit_lsn,
            "txId": pos.xid,
            "ts_ms": ts.timestamp_millis(),
            "snapshot": pos.snapshot,
        })
    }
}

fn key_of(shape: &TableShape, row: Option<&Map<String, Value>>) -> Option<Value> {
    let row = row?;
    if shape.key.is_empty() {
        return None;
    }
    let mut key = Map::with_capacity(shape.key.len());
    for &i in &shape.key {
        let (name, _) = shape.columns.get(i)?;
        key.insert(name.clone(), row.get(name).cloned().unwrap_or(Value::Null));
    }
    Some(Value::Object(key))
}

fn decode(
    shape: &TableShape,
    column: &str,
    ty: &PgType,
    text: &str,
    pos: &Position,
) -> Result<Value, ConnectorError> {
    ty.decode_text(text).map_err(|e| {
        ConnectorError::data(format!(
            "{}.{} column `{column}` at LSN {}: {e}",
            shape.schema,
            shape.table,
            format_lsn(pos.lsn)
        ))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Fails before the fix: the mismatch was `ErrorKind::Data`, a record
    /// error that `on_error: skip` swallowed (confirming the slot past it).
    #[test]
    fn a_column_count_mismatch_is_a_stage_fault_not_a_record_error() {
        let config = PostgresCdcConfig::new("h", 5432, "db", "u", "s", "p");
        let factory = EventFactory::new(&config).unwrap();
        let shape = factory.shape("public", "t", vec![("id".into(), PgType::Int4)], vec![0]);
        let values = vec![TupleValue::Text("1".into()), TupleValue::Null];
        let err = factory
            .tuple_row(&shape, &values, &Position::default(), &mut Vec::new())
            .unwrap_err();
        assert_ne!(err.kind(), ErrorKind::Data);
        assert!(err.is_retryable(), "restart from the committed position");
    }

    /// Fails before the fix: an excluded column was decoded, so a value it
    /// could not decode failed the row and its text was quoted in the error.
    #[test]
    fn excluded_columns_are_never_decoded_or_quoted() {
        let mut config = PostgresCdcConfig::new("h", 5432, "db", "u", "s", "p");
        config
            .column_filters
            .insert("public.t".into(), ColumnFilter::excluding(["secret"]));
        let factory = EventFactory::new(&config).unwrap();
        let shape = factory.shape(
            "public",
            "t",
            vec![("id".into(), PgType::Int4), ("secret".into(), PgType::Int4)],
            vec![0],
        );
        let row = factory
            .text_row(
                &shape,
                &[Some("1".into()), Some("hunter2".into())],
                &Position::default(),
            )
            .unwrap();
        assert!(!row.contains_key("secret"));
        let err = factory
            .text_row(&shape, &[Some("x".repeat(500)), None], &Position::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.chars().count() < 250,
            "quoted values are truncated: {err}"
        );
    }

    #[test]
    fn pg_epoch_converts() {
        assert_eq!(pg_time(0).to_rfc3339(), "2000-01-01T00:00:00+00:00");
        assert_eq!(pg_time(1_500_000).timestamp_millis(), 946_684_801_500);
    }
}
