//! PostgreSQL rows to events: text and pgoutput values decoded by type, the
//! unchanged-TOAST marker, and the PostgreSQL coordinates of the shared
//! envelope ([`crate::common::envelope`]), used by the snapshot and the stream.

use chrono::{DateTime, Utc};
use rivven_connect::{ConnectorError, ErrorKind, EventType, SourceEvent};
use serde_json::{json, Map, Value};

use crate::common::envelope::{self, EnvelopeBuilder, SourceCoordinates, TableRef};

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

/// How one table's rows become events: the shared shape and the column types.
#[derive(Debug, Clone)]
pub(crate) struct TableShape {
    /// Names, stream, key and column filter.
    pub envelope: envelope::TableShape,
    pub columns: Vec<(String, PgType)>,
}

impl TableShape {
    /// The event stream (topic) name.
    pub(crate) fn stream(&self) -> &str {
        &self.envelope.stream
    }

    fn schema(&self) -> &str {
        self.envelope.table.namespace()
    }

    fn table(&self) -> &str {
        &self.envelope.table.table
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

/// `source{…, lsn, commit_lsn, txId, …}`, `position` = the change's LSN as text.
impl SourceCoordinates for Position {
    const CONNECTOR: &'static str = "postgres-cdc";

    fn source_fields(&self, source: &mut Map<String, Value>) {
        source.insert("lsn".into(), json!(self.lsn));
        source.insert("commit_lsn".into(), json!(self.commit_lsn));
        source.insert("txId".into(), json!(self.xid));
    }

    fn position(&self) -> Value {
        Value::String(format_lsn(self.lsn))
    }

    fn transaction_id(&self) -> Option<String> {
        self.xid.map(|x| x.to_string())
    }

    fn commit_time(&self) -> Option<DateTime<Utc>> {
        self.commit_ts_micros.map(pg_time)
    }

    fn is_snapshot(&self) -> bool {
        self.snapshot
    }
}

/// Builds events; one per source run.
pub(crate) struct EventFactory {
    database: String,
    envelope: EnvelopeBuilder,
    toast_placeholder: String,
}

impl EventFactory {
    pub(crate) fn new(config: &PostgresCdcConfig) -> Result<Self, ConnectorError> {
        Ok(Self {
            database: config.database.clone(),
            envelope: EnvelopeBuilder::new(
                config.topic_routing.as_deref(),
                &config.normalization,
                &config.column_filters,
            )?,
            toast_placeholder: config.unchanged_toast_value.clone(),
        })
    }

    fn table_ref(&self, schema: &str, table: &str) -> TableRef {
        TableRef::new(self.database.clone(), Some(schema), table)
    }

    /// The stream name of a table: `topic_routing` resolved, or `schema.table`.
    pub(crate) fn stream_name(&self, schema: &str, table: &str) -> String {
        self.envelope.stream_name(&self.table_ref(schema, table))
    }

    /// The shape of a table with these columns (`key`: key column indexes).
    pub(crate) fn shape(
        &self,
        schema: &str,
        table: &str,
        columns: Vec<(String, PgType)>,
        key: Vec<usize>,
    ) -> TableShape {
        let key = key
            .iter()
            .filter_map(|&i| columns.get(i))
            .map(|(name, _)| name.clone())
            .collect();
        TableShape {
            envelope: self.envelope.table(self.table_ref(schema, table), key),
            columns,
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
        for ((name, ty), value) in shape.columns.iter().zip(values) {
            if !shape.envelope.decodes(name) {
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
                    shape.schema(),
                    shape.table(),
                    format_lsn(pos.lsn),
                    values.len(),
                    shape.columns.len()
                ),
            ));
        }
        let mut row = Map::with_capacity(shape.columns.len());
        for ((name, ty), value) in shape.columns.iter().zip(values) {
            if !shape.envelope.decodes(name) {
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
    pub(crate) fn key_only(shape: &TableShape, row: Map<String, Value>) -> Map<String, Value> {
        shape.envelope.key_only(row)
    }

    /// The event for one change (`toasted`: the unchanged TOAST columns).
    pub(crate) fn event(
        &self,
        shape: &TableShape,
        event_type: EventType,
        before: Option<Map<String, Value>>,
        after: Option<Map<String, Value>>,
        pos: &Position,
        toasted: Vec<String>,
    ) -> SourceEvent {
        let mut event = self
            .envelope
            .event(&shape.envelope, event_type, before, after, pos);
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
        self.envelope.truncate(&shape.envelope, pos)
    }
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
            shape.schema(),
            shape.table(),
            format_lsn(pos.lsn)
        ))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::common::features::ColumnFilter;

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

    /// The envelope as `postgres-cdc` has always written it.
    #[test]
    fn the_postgres_envelope_carries_lsn_commit_lsn_and_xid() {
        let mut config = PostgresCdcConfig::new("h", 5432, "shop", "u", "s", "p");
        config.topic_routing = Some("cdc.{database}.{schema}.{table}".into());
        let factory = EventFactory::new(&config).unwrap();
        assert_eq!(factory.stream_name("sales", "t"), "cdc.shop.sales.t");
        let shape = factory.shape(
            "sales",
            "t",
            vec![("v".into(), PgType::Text), ("id".into(), PgType::Int4)],
            vec![1],
        );
        let pos = Position {
            lsn: 0x16B_3748,
            commit_lsn: 0x16B_3800,
            xid: Some(7),
            commit_ts_micros: Some(1_500_000),
            snapshot: false,
        };
        let row = factory
            .text_row(&shape, &[Some("a".into()), Some("1".into())], &pos)
            .unwrap();
        let e = factory.event(
            &shape,
            EventType::Update,
            None,
            Some(row),
            &pos,
            vec!["v".into()],
        );
        assert_eq!(e.stream, "cdc.shop.sales.t");
        assert_eq!(e.namespace.as_deref(), Some("sales"));
        assert_eq!(e.key, Some(json!({"id": 1})));
        assert_eq!(
            e.data["source"],
            json!({
                "connector": "postgres-cdc", "db": "shop", "schema": "sales", "table": "t",
                "lsn": 0x16B_3748, "commit_lsn": 0x16B_3800, "txId": 7,
                "ts_ms": 946_684_801_500_i64, "snapshot": false
            })
        );
        assert_eq!(e.metadata.position, Some(json!("0/16B3748")));
        assert_eq!(e.metadata.transaction_id.as_deref(), Some("7"));
        assert_eq!(e.metadata.extra["unchanged_toast"], json!(["v"]));
        let snap = Position {
            snapshot: true,
            ..Position::default()
        };
        let t = factory.truncate(&shape, &snap);
        assert_eq!(t.key, None);
        assert_eq!(t.data["source"]["txId"], Value::Null);
        assert_eq!(t.data["source"]["snapshot"], true);
    }

    #[test]
    fn pg_epoch_converts() {
        assert_eq!(pg_time(0).to_rfc3339(), "2000-01-01T00:00:00+00:00");
        assert_eq!(pg_time(1_500_000).timestamp_millis(), 946_684_801_500);
    }
}
