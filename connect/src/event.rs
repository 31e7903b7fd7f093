//! [`SourceEvent`]: the unit of data that flows through a pipeline.
//!
//! CDC events use a Debezium-compatible envelope in `data`
//! (`before`, `after`, `op` = `c`/`u`/`d`/`r`, `source`, `ts_ms`), so users coming
//! from Debezium find the shape they know; the `extract_new_record_state`
//! transform flattens it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

use crate::state::State;

mod ack;

use ack::AckSlot;
pub use ack::{AckOutcome, AckToken, Acknowledge};

/// What kind of event this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A plain data record.
    #[default]
    Record,
    /// CDC insert (`op = c`).
    Insert,
    /// CDC update (`op = u`).
    Update,
    /// CDC delete (`op = d`).
    Delete,
    /// A snapshot read (`op = r`).
    Snapshot,
    /// A table truncation.
    Truncate,
    /// A checkpoint: `data` holds a serialized [`State`]. Consumed by the runtime, never sent to sinks.
    State,
    /// A log message from the connector. Logged by the runtime, never sent to sinks.
    Log,
}

impl EventType {
    /// Whether events of this type carry data that sinks receive.
    pub fn is_data(self) -> bool {
        !matches!(self, EventType::State | EventType::Log)
    }

    /// The Debezium `op` code for CDC types.
    pub fn cdc_op(self) -> Option<&'static str> {
        match self {
            EventType::Insert => Some("c"),
            EventType::Update => Some("u"),
            EventType::Delete => Some("d"),
            EventType::Snapshot => Some("r"),
            EventType::Truncate => Some("t"),
            _ => None,
        }
    }
}

/// Severity of a [`EventType::Log`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
}

/// Where an event came from and how to resume after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// Source position (LSN, binlog coordinates, byte offset, sequence …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Value>,
    /// Transaction id, for CDC sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Monotonic sequence number assigned by the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Source coordinates (database, schema, table, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Value>,
    /// Stream-state update carried by this event: once the event is durably
    /// written, these keys are merged into the stream's [`State`] entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Map<String, Value>>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

/// One event produced by a source, changed by transforms and written by sinks.
///
/// ```
/// use rivven_connect::prelude::*;
/// use serde_json::json;
///
/// let event = SourceEvent::builder()
///     .stream("users")
///     .data(json!({"id": 1, "name": "Alice"}))
///     .with_metadata("source", json!("postgres"))
///     .build();
/// assert_eq!(event.stream, "users");
///
/// let update = SourceEvent::cdc_update("users", json!({"id": 1}), json!({"id": 1, "name": "Updated"}));
/// assert_eq!(update.data["op"], "u");
/// assert_eq!(update.data["after"]["name"], "Updated");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceEvent {
    /// Event type.
    pub event_type: EventType,
    /// Stream (table, topic, collection) the event belongs to.
    pub stream: String,
    /// Optional namespace (schema, database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Optional key (primary key, message key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// When the event happened (or was read).
    pub timestamp: DateTime<Utc>,
    /// The payload.
    pub data: Value,
    /// Metadata.
    #[serde(default)]
    pub metadata: EventMetadata,
    /// The message source's acknowledgement token, if any (see [`AckToken`]):
    /// in memory only, never serialized, no part of equality, not cloned.
    #[serde(skip)]
    ack: AckSlot,
}

impl SourceEvent {
    /// A builder.
    pub fn builder() -> SourceEventBuilder {
        SourceEventBuilder::default()
    }

    /// A plain record.
    pub fn record(stream: impl Into<String>, data: Value) -> Self {
        Self::new(EventType::Record, stream, data)
    }

    /// A plain record read at `timestamp` (no clock read: a source that reads
    /// many records at once can stamp them all with the time of the read).
    ///
    /// ```
    /// use rivven_connect::prelude::*;
    /// use serde_json::json;
    ///
    /// let read_at = chrono::Utc::now();
    /// let a = SourceEvent::record_at("orders", json!({"id": 1}), read_at);
    /// let b = SourceEvent::record_at("orders", json!({"id": 2}), read_at);
    /// assert_eq!(a.timestamp, b.timestamp);
    /// ```
    pub fn record_at(stream: impl Into<String>, data: Value, timestamp: DateTime<Utc>) -> Self {
        Self::new_at(EventType::Record, stream, data, timestamp)
    }

    fn new(event_type: EventType, stream: impl Into<String>, data: Value) -> Self {
        Self::new_at(event_type, stream, data, Utc::now())
    }

    fn new_at(
        event_type: EventType,
        stream: impl Into<String>,
        data: Value,
        timestamp: DateTime<Utc>,
    ) -> Self {
        Self {
            event_type,
            stream: stream.into(),
            namespace: None,
            key: None,
            timestamp,
            data,
            metadata: EventMetadata::default(),
            ack: AckSlot::default(),
        }
    }

    /// A CDC event with a Debezium-style envelope.
    pub fn cdc(
        event_type: EventType,
        stream: impl Into<String>,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        let now = Utc::now();
        let op = event_type.cdc_op().unwrap_or("c");
        let data = json!({
            "before": before.unwrap_or(Value::Null),
            "after": after.unwrap_or(Value::Null),
            "op": op,
            "ts_ms": now.timestamp_millis(),
        });
        let mut event = Self::new(event_type, stream, data);
        event.timestamp = now;
        event
    }

    /// CDC insert (`op = c`, `after` = row).
    pub fn cdc_insert(stream: impl Into<String>, after: Value) -> Self {
        Self::cdc(EventType::Insert, stream, None, Some(after))
    }

    /// CDC update (`op = u`).
    pub fn cdc_update(stream: impl Into<String>, before: Value, after: Value) -> Self {
        Self::cdc(EventType::Update, stream, Some(before), Some(after))
    }

    /// CDC delete (`op = d`, `before` = old row).
    pub fn cdc_delete(stream: impl Into<String>, before: Value) -> Self {
        Self::cdc(EventType::Delete, stream, Some(before), None)
    }

    /// CDC snapshot read (`op = r`).
    pub fn cdc_snapshot(stream: impl Into<String>, row: Value) -> Self {
        Self::cdc(EventType::Snapshot, stream, None, Some(row))
    }

    /// A checkpoint event carrying the whole [`State`].
    pub fn state(state: State) -> Self {
        let data = serde_json::to_value(&state).unwrap_or(Value::Null);
        Self::new(EventType::State, "_state", data)
    }

    /// A log event.
    pub fn log(level: LogLevel, message: impl Into<String>) -> Self {
        Self::new(
            EventType::Log,
            "_log",
            json!({"level": level, "message": message.into()}),
        )
    }

    /// Set the key.
    pub fn with_key(mut self, key: Value) -> Self {
        self.key = Some(key);
        self
    }

    /// Set the namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Set the source position.
    pub fn with_position(mut self, position: impl Into<Value>) -> Self {
        self.metadata.position = Some(position.into());
        self
    }

    /// Add a free-form metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: Value) -> Self {
        self.metadata.extra.insert(key.into(), value);
        self
    }

    /// Record a stream-state update to apply once this event is durably written.
    pub fn with_state(mut self, key: impl Into<String>, value: Value) -> Self {
        self.metadata
            .state
            .get_or_insert_with(Map::new)
            .insert(key.into(), value);
        self
    }

    /// Attach a message source's acknowledgement token: the runtime resolves
    /// it once the checkpoint covering this event is committed, or rejects it
    /// when the event is dropped unacknowledged (see [`AckToken`]).
    pub fn with_ack(mut self, token: AckToken) -> Self {
        self.ack.0 = Some(token);
        self
    }

    /// Take the acknowledgement token out of the event (the runtime does this
    /// as the source produces the event; transforms and sinks never see one).
    pub fn take_ack(&mut self) -> Option<AckToken> {
        self.ack.0.take()
    }

    /// Whether the event carries an acknowledgement token.
    pub fn has_ack(&self) -> bool {
        self.ack.0.is_some()
    }

    /// Whether this event carries data for sinks (not a state or log event).
    pub fn is_data(&self) -> bool {
        self.event_type.is_data()
    }

    /// The CDC `op` from the envelope, if this is a CDC event.
    pub fn op(&self) -> Option<&str> {
        self.data.get("op").and_then(Value::as_str)
    }

    /// An approximate in-memory size of the payload in bytes (cheap; no serialization).
    pub fn approx_size(&self) -> usize {
        self.stream.len()
            + approx_value_size(&self.data)
            + self.key.as_ref().map_or(0, approx_value_size)
    }
}

/// An approximate size of a JSON value in bytes, without serializing it.
pub fn approx_value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 4,
        Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(approx_value_size).sum::<usize>(),
        Value::Object(o) => {
            2 + o
                .iter()
                .map(|(k, v)| k.len() + 3 + approx_value_size(v))
                .sum::<usize>()
        }
    }
}

/// Builder for [`SourceEvent`].
#[derive(Debug, Default)]
pub struct SourceEventBuilder {
    event_type: EventType,
    stream: String,
    namespace: Option<String>,
    key: Option<Value>,
    timestamp: Option<DateTime<Utc>>,
    data: Option<Value>,
    metadata: EventMetadata,
    ack: AckSlot,
}

impl SourceEventBuilder {
    /// Event type (default `Record`).
    pub fn event_type(mut self, event_type: EventType) -> Self {
        self.event_type = event_type;
        self
    }
    /// Stream name.
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
        self
    }
    /// Namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
    /// Key.
    pub fn key(mut self, key: Value) -> Self {
        self.key = Some(key);
        self
    }
    /// Timestamp (default: now).
    pub fn timestamp(mut self, timestamp: DateTime<Utc>) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
    /// Payload.
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
    /// Source position.
    pub fn position(mut self, position: impl Into<Value>) -> Self {
        self.metadata.position = Some(position.into());
        self
    }
    /// Transaction id.
    pub fn transaction_id(mut self, id: impl Into<String>) -> Self {
        self.metadata.transaction_id = Some(id.into());
        self
    }
    /// Sequence number.
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.metadata.sequence = Some(sequence);
        self
    }
    /// Source coordinates.
    pub fn source(mut self, source: Value) -> Self {
        self.metadata.source = Some(source);
        self
    }
    /// Free-form metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: Value) -> Self {
        self.metadata.extra.insert(key.into(), value);
        self
    }
    /// Stream-state update applied once the event is durably written
    /// (the original rivven-connect's `.state("cursor", &cursor)`).
    pub fn state<V: Serialize + ?Sized>(mut self, key: impl Into<String>, value: &V) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.metadata
            .state
            .get_or_insert_with(Map::new)
            .insert(key.into(), value);
        self
    }
    /// Acknowledgement token of a message source (see [`SourceEvent::with_ack`]).
    pub fn ack(mut self, token: AckToken) -> Self {
        self.ack.0 = Some(token);
        self
    }
    /// Build the event.
    pub fn build(self) -> SourceEvent {
        SourceEvent {
            event_type: self.event_type,
            stream: self.stream,
            namespace: self.namespace,
            key: self.key,
            timestamp: self.timestamp.unwrap_or_else(Utc::now),
            data: self.data.unwrap_or(Value::Null),
            metadata: self.metadata,
            ack: self.ack,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_every_field() {
        let ts = Utc::now();
        let e = SourceEvent::builder()
            .event_type(EventType::Insert)
            .stream("users")
            .namespace("public")
            .key(json!({"id": 1}))
            .timestamp(ts)
            .data(json!({"id": 1}))
            .position(json!("0/16B3748"))
            .transaction_id("tx1")
            .sequence(7)
            .source(json!({"table": "users"}))
            .with_metadata("k", json!("v"))
            .state("cursor", &5)
            .build();
        assert_eq!(e.event_type, EventType::Insert);
        assert_eq!(e.namespace.as_deref(), Some("public"));
        assert_eq!(e.key, Some(json!({"id": 1})));
        assert_eq!(e.timestamp, ts);
        assert_eq!(e.metadata.position, Some(json!("0/16B3748")));
        assert_eq!(e.metadata.transaction_id.as_deref(), Some("tx1"));
        assert_eq!(e.metadata.sequence, Some(7));
        assert_eq!(e.metadata.extra["k"], json!("v"));
        assert_eq!(
            e.metadata.state.as_ref().map(|s| s["cursor"].clone()),
            Some(json!(5))
        );
    }

    #[test]
    fn cdc_envelopes_are_debezium_shaped() {
        let i = SourceEvent::cdc_insert("t", json!({"id": 1}));
        assert_eq!(i.data["op"], "c");
        assert_eq!(i.data["before"], Value::Null);
        assert_eq!(i.data["after"]["id"], 1);
        assert!(i.data["ts_ms"].is_i64());
        let d = SourceEvent::cdc_delete("t", json!({"id": 1}));
        assert_eq!(d.op(), Some("d"));
        assert_eq!(d.data["after"], Value::Null);
        assert_eq!(d.event_type, EventType::Delete);
        let s = SourceEvent::cdc_snapshot("t", json!({"id": 2}));
        assert_eq!(s.op(), Some("r"));
    }

    #[test]
    fn state_and_log_events_are_not_data() {
        let s = SourceEvent::state(State::new());
        assert!(!s.is_data());
        let l = SourceEvent::log(LogLevel::Info, "Sync started");
        assert!(!l.is_data());
        assert_eq!(l.data["message"], "Sync started");
        assert!(SourceEvent::record("x", json!(1)).is_data());
    }

    #[test]
    fn serde_round_trip() {
        let e = SourceEvent::record("s", json!({"a": [1, 2]})).with_key(json!("k"));
        let text = serde_json::to_string(&e).unwrap_or_default();
        let back: SourceEvent = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(back, e);
    }

    #[test]
    fn ack_token_is_not_serialized_compared_or_cloned() {
        let resolved = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = resolved.clone();
        let token = AckToken::new(move |o| log.lock().unwrap_or_else(|e| e.into_inner()).push(o));
        let plain = SourceEvent::record("s", json!({"a": 1}));
        let mut with = plain.clone().with_ack(token);
        assert!(with.has_ack() && !plain.has_ack());
        assert_eq!(with, plain, "the token is no part of equality");
        assert_eq!(
            serde_json::to_value(&with).ok(),
            serde_json::to_value(&plain).ok()
        );
        assert!(!with.clone().has_ack());
        let back: SourceEvent =
            serde_json::from_value(serde_json::to_value(&with).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(!back.has_ack());
        let built = SourceEvent::builder()
            .stream("s")
            .ack(with.take_ack().unwrap_or_else(|| panic!("token")))
            .build();
        assert!(built.has_ack() && !with.has_ack());
        drop(built);
        assert_eq!(
            *resolved.lock().unwrap_or_else(|e| e.into_inner()),
            [AckOutcome::Rejected]
        );
    }

    #[test]
    fn approx_size_grows_with_payload() {
        let small = SourceEvent::record("s", json!({"a": 1}));
        let big = SourceEvent::record("s", json!({"a": "x".repeat(100)}));
        assert!(big.approx_size() > small.approx_size() + 90);
    }
}
