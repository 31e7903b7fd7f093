//! Rows to events: the Debezium-style envelope every CDC source emits, its
//! key, stream name (`topic_routing`), column filter and metadata, generic
//! over where the change sits in its source ([`SourceCoordinates`]).
//!
//! An event's `data` is `{before, after, op, ts_ms, source}`, with
//! `source = {connector, db, schema?, table, <coordinates>…, ts_ms, snapshot}`;
//! the event's `key` holds the key columns, its `namespace` the schema (or
//! the database where there are no schemas), its timestamp the commit time
//! and `metadata` the position, the transaction id and the `source` block.
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use rivven_connect::EventType;
//! use rivven_connect_cdc::common::envelope::{EnvelopeBuilder, SourceCoordinates, TableRef};
//! use serde_json::{json, Map, Value};
//!
//! struct At { offset: u64 }
//! impl SourceCoordinates for At {
//!     const CONNECTOR: &'static str = "toy-cdc";
//!     fn source_fields(&self, source: &mut Map<String, Value>) {
//!         source.insert("offset".into(), json!(self.offset));
//!     }
//!     fn position(&self) -> Value { json!(self.offset) }
//!     fn transaction_id(&self) -> Option<String> { None }
//!     fn commit_time(&self) -> Option<DateTime<Utc>> { None }
//!     fn is_snapshot(&self) -> bool { false }
//! }
//!
//! let builder = EnvelopeBuilder::new(None, &Default::default(), &Default::default()).unwrap();
//! let table = builder.table(TableRef::new("shop", None, "orders"), vec!["id".into()]);
//! let row = json!({"id": 7, "total": 10}).as_object().cloned();
//! let event = builder.event(&table, EventType::Insert, None, row, &At { offset: 3 });
//! assert_eq!(event.stream, "shop.orders");
//! assert_eq!(event.key, Some(json!({"id": 7})));
//! assert_eq!(event.data["source"]["offset"], 3);
//! assert_eq!(event.metadata.position, Some(json!(3)));
//! ```

use chrono::{DateTime, Utc};
use rivven_connect::{
    EventType, NormalizationConfig, Result, SourceEvent, TopicMetadata, TopicResolver,
};
use serde_json::{Map, Value};

use super::features::{filter_for, ColumnFilter, ColumnFilterConfig};

/// Where a change sits in its source: what a CDC source contributes to the
/// envelope (PostgreSQL: LSN, commit LSN and xid; MySQL: binlog file,
/// offset, GTID and server id).
pub trait SourceCoordinates {
    /// The connector's name, `source.connector` (e.g. `postgres-cdc`).
    const CONNECTOR: &'static str;

    /// Adds the source-specific fields of the `source` block (after
    /// `connector`, `db`, `schema` and `table`; before `ts_ms` and `snapshot`).
    fn source_fields(&self, source: &mut Map<String, Value>);

    /// The event's `metadata.position`.
    fn position(&self) -> Value;

    /// The event's `metadata.transaction_id`.
    fn transaction_id(&self) -> Option<String>;

    /// When the change's transaction committed (`None`: now, e.g. a snapshot).
    fn commit_time(&self) -> Option<DateTime<Utc>>;

    /// Whether the row comes from the snapshot (`op = r`).
    fn is_snapshot(&self) -> bool;
}

/// A captured table's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableRef {
    /// The database (`source.db`, `{database}` in `topic_routing`).
    pub database: String,
    /// The schema, where the source has schemas (PostgreSQL); MySQL has none
    /// (its "schema" is the database).
    pub schema: Option<String>,
    /// The table.
    pub table: String,
}

impl TableRef {
    /// `database`.`schema`.`table` (or `database`.`table`).
    pub fn new(
        database: impl Into<String>,
        schema: Option<&str>,
        table: impl Into<String>,
    ) -> Self {
        Self {
            database: database.into(),
            schema: schema.map(String::from),
            table: table.into(),
        }
    }

    /// The schema, or the database where there are no schemas: the event's
    /// `namespace` and the first half of [`qualified`](Self::qualified).
    pub fn namespace(&self) -> &str {
        self.schema.as_deref().unwrap_or(&self.database)
    }

    /// `namespace.table`: the default stream name, and how `column_filters`
    /// and snapshot progress name the table.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.namespace(), self.table)
    }
}

/// How one table's rows become events.
#[derive(Debug, Clone, PartialEq)]
pub struct TableShape {
    /// The table.
    pub table: TableRef,
    /// The event stream (topic) name.
    pub stream: String,
    /// The key columns, in key order (empty: events have no key).
    pub key: Vec<String>,
    /// The table's column filter.
    pub filter: Option<ColumnFilter>,
}

impl TableShape {
    /// Whether column `name` needs decoding at all: a column the filter drops
    /// is never read (so its value cannot reach an event, an error message or
    /// a dead letter) unless it is part of the key, which the event's key needs.
    pub fn decodes(&self, name: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.keeps(name)) || self.is_key(name)
    }

    /// Whether `name` is a key column.
    pub fn is_key(&self, name: &str) -> bool {
        self.key.iter().any(|k| k == name)
    }

    /// The key of `row`: its key columns (a missing one as `null`), or `None`
    /// for a table without key.
    pub fn key_of(&self, row: &Map<String, Value>) -> Option<Value> {
        if self.key.is_empty() {
            return None;
        }
        let key = self
            .key
            .iter()
            .map(|k| (k.clone(), row.get(k).cloned().unwrap_or(Value::Null)))
            .collect();
        Some(Value::Object(key))
    }

    /// Only the key columns of `row` (a key-only old image).
    pub fn key_only(&self, mut row: Map<String, Value>) -> Map<String, Value> {
        row.retain(|k, _| self.is_key(k));
        row
    }
}

/// Builds the events of one source run: resolves stream names, looks up
/// column filters and wraps rows in the envelope.
#[derive(Debug)]
pub struct EnvelopeBuilder {
    resolver: Option<TopicResolver>,
    filters: ColumnFilterConfig,
}

impl EnvelopeBuilder {
    /// A builder for a source's `topic_routing` template (`None`: the stream
    /// is `namespace.table`), `normalization` and `column_filters`; a bad
    /// template is a config error naming `topic_routing`.
    pub fn new(
        topic_routing: Option<&str>,
        normalization: &NormalizationConfig,
        column_filters: &ColumnFilterConfig,
    ) -> Result<Self> {
        let resolver = match topic_routing {
            Some(template) => Some(
                TopicResolver::new(template, normalization.clone())
                    .map_err(|e| e.context("topic_routing"))?,
            ),
            None => None,
        };
        Ok(Self {
            resolver,
            filters: column_filters.clone(),
        })
    }

    /// The stream name of a table: `topic_routing` resolved (`{schema}` is
    /// the [namespace](TableRef::namespace)), or `namespace.table`.
    pub fn stream_name(&self, table: &TableRef) -> String {
        match &self.resolver {
            Some(r) => r.resolve(&TopicMetadata::new(
                table.database.clone(),
                table.namespace(),
                table.table.clone(),
            )),
            None => table.qualified(),
        }
    }

    /// The shape of `table` with these key columns (in key order).
    pub fn table(&self, table: TableRef, key: Vec<String>) -> TableShape {
        TableShape {
            stream: self.stream_name(&table),
            filter: filter_for(&self.filters, table.namespace(), &table.table).cloned(),
            table,
            key,
        }
    }

    /// The event for one change: the key is taken from `after` (else
    /// `before`) before the column filter applies to both images.
    pub fn event<C: SourceCoordinates>(
        &self,
        shape: &TableShape,
        event_type: EventType,
        before: Option<Map<String, Value>>,
        after: Option<Map<String, Value>>,
        at: &C,
    ) -> SourceEvent {
        let key = after
            .as_ref()
            .or(before.as_ref())
            .and_then(|row| shape.key_of(row));
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
        let ts = at.commit_time().unwrap_or_else(Utc::now);
        let source = source_block(shape, at, ts);
        if let Value::Object(data) = &mut event.data {
            data.insert("source".into(), source.clone());
        }
        event.timestamp = ts;
        event.namespace = Some(shape.table.namespace().to_string());
        event.key = key;
        event.metadata.position = Some(at.position());
        event.metadata.transaction_id = at.transaction_id();
        event.metadata.source = Some(source);
        event
    }

    /// A truncate of one table (no key, no images).
    pub fn truncate<C: SourceCoordinates>(&self, shape: &TableShape, at: &C) -> SourceEvent {
        let mut event = self.event(shape, EventType::Truncate, None, None, at);
        event.key = None;
        event
    }

    /// The tombstone (null value, same key, `metadata.extra.tombstone`) that
    /// follows a delete when `cdc_features.tombstones` asks for it.
    pub fn tombstone(delete: &SourceEvent) -> SourceEvent {
        let mut t = delete.clone();
        t.data = Value::Null;
        t.metadata
            .extra
            .insert("tombstone".into(), Value::Bool(true));
        t
    }
}

fn source_block<C: SourceCoordinates>(shape: &TableShape, at: &C, ts: DateTime<Utc>) -> Value {
    let mut source = Map::with_capacity(10);
    source.insert("connector".into(), Value::from(C::CONNECTOR));
    source.insert("db".into(), Value::from(shape.table.database.as_str()));
    if let Some(schema) = &shape.table.schema {
        source.insert("schema".into(), Value::from(schema.as_str()));
    }
    source.insert("table".into(), Value::from(shape.table.table.as_str()));
    at.source_fields(&mut source);
    source.insert("ts_ms".into(), Value::from(ts.timestamp_millis()));
    source.insert("snapshot".into(), Value::Bool(at.is_snapshot()));
    Value::Object(source)
}

#[cfg(test)]
mod tests;
