//! [`State`]: a source's resumable position, committed by the runtime.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use crate::error::{ConnectorError, Result};

/// The state of one stream: a cursor plus free-form data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    /// The field the cursor refers to (e.g. `updated_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_field: Option<String>,
    /// The cursor value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Value>,
    /// Other per-stream data (partition, byte offset, LSN …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

impl StreamState {
    /// Set the cursor.
    pub fn set_cursor(&mut self, field: impl Into<String>, value: Value) {
        self.cursor_field = Some(field.into());
        self.cursor = Some(value);
    }

    /// Set a data entry.
    pub fn set_data(&mut self, key: impl Into<String>, value: Value) {
        self.data.insert(key.into(), value);
    }

    /// The cursor as an integer.
    pub fn cursor_as_i64(&self) -> Option<i64> {
        self.cursor.as_ref().and_then(Value::as_i64)
    }

    /// The cursor as a string.
    pub fn cursor_as_str(&self) -> Option<&str> {
        self.cursor.as_ref().and_then(Value::as_str)
    }

    /// A typed value: `cursor` (when `key` equals the cursor field or `"cursor"`) or a data entry.
    ///
    /// Returns an error naming the key when it is missing or has another type
    /// (the connector-development guide's `ss.get::<String>("cursor").ok()`).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let value = if key == "cursor" || self.cursor_field.as_deref() == Some(key) {
            self.cursor.as_ref().or_else(|| self.data.get(key))
        } else {
            self.data.get(key)
        };
        let value =
            value.ok_or_else(|| ConnectorError::data(format!("state key `{key}` is not set")))?;
        serde_json::from_value(value.clone()).map_err(|e| {
            ConnectorError::data(format!("state key `{key}` has an unexpected type: {e}"))
        })
    }
}

/// A source's resumable state: per-stream cursors plus global entries.
///
/// ```
/// use rivven_connect::prelude::*;
/// use serde_json::json;
///
/// let mut state = State::new();
/// state.update_cursor("users", "id", json!(1000));
/// let stream = state.get_stream("users").unwrap();
/// assert_eq!(stream.cursor_as_i64(), Some(1000));
///
/// state.set_global("retry_count", json!(5));
/// let count: Option<i64> = state.get_global_as("retry_count");
/// assert_eq!(count, Some(5));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Per-stream state.
    #[serde(default)]
    pub streams: BTreeMap<String, StreamState>,
    /// Global entries.
    #[serde(default)]
    pub global: Map<String, Value>,
}

impl State {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder.
    pub fn builder() -> StateBuilder {
        StateBuilder::default()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty() && self.global.is_empty()
    }

    /// Set a stream's cursor.
    pub fn update_cursor(&mut self, stream: &str, field: impl Into<String>, value: Value) {
        self.get_or_create_stream(stream).set_cursor(field, value);
    }

    /// A stream's state.
    pub fn get_stream(&self, stream: &str) -> Option<&StreamState> {
        self.streams.get(stream)
    }

    /// A stream's state (the connector-development guide's name).
    pub fn get_stream_state(&self, stream: &str) -> Option<&StreamState> {
        self.get_stream(stream)
    }

    /// A stream's state, created when missing.
    pub fn get_or_create_stream(&mut self, stream: &str) -> &mut StreamState {
        self.streams.entry(stream.to_string()).or_default()
    }

    /// Set a global entry.
    pub fn set_global(&mut self, key: impl Into<String>, value: Value) {
        self.global.insert(key.into(), value);
    }

    /// A global entry.
    pub fn get_global(&self, key: &str) -> Option<&Value> {
        self.global.get(key)
    }

    /// A typed global entry (`None` when missing or of another type).
    pub fn get_global_as<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.global
            .get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// A typed global entry (the architecture overview's `state.get::<u64>("offset")`).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.get_global_as(key)
    }

    /// Merge `other` into `self`: streams present in `other` replace ours, global keys overwrite.
    pub fn merge(&mut self, other: State) {
        self.streams.extend(other.streams);
        self.global.extend(other.global);
    }

    /// Like [`apply_stream_update`](Self::apply_stream_update), taking the update by
    /// value: keys already present keep their allocation (the per-event path).
    pub fn merge_stream_update(&mut self, stream: &str, update: Map<String, Value>) {
        let entry = match self.streams.get_mut(stream) {
            Some(entry) => entry,
            None => self.get_or_create_stream(stream),
        };
        for (k, v) in update {
            if k == "cursor" {
                entry.cursor = Some(v);
            } else if let Some(slot) = entry.data.get_mut(&k) {
                *slot = v;
            } else {
                entry.data.insert(k, v);
            }
        }
    }

    /// Merge an event's stream-state update into a stream's `data`.
    /// The key `cursor` sets the cursor itself.
    pub fn apply_stream_update(&mut self, stream: &str, update: &Map<String, Value>) {
        let entry = match self.streams.get_mut(stream) {
            Some(entry) => entry,
            None => self.get_or_create_stream(stream),
        };
        for (k, v) in update {
            if k == "cursor" {
                entry.cursor = Some(v.clone());
            } else {
                entry.data.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Builder for [`State`].
#[derive(Debug, Default)]
pub struct StateBuilder {
    state: State,
}

impl StateBuilder {
    /// Set a stream cursor.
    pub fn stream_cursor(mut self, stream: &str, field: impl Into<String>, value: Value) -> Self {
        self.state.update_cursor(stream, field, value);
        self
    }
    /// Set a stream data entry.
    pub fn stream_data(mut self, stream: &str, key: impl Into<String>, value: Value) -> Self {
        self.state.get_or_create_stream(stream).set_data(key, value);
        self
    }
    /// Set a global entry.
    pub fn global(mut self, key: impl Into<String>, value: Value) -> Self {
        self.state.set_global(key, value);
        self
    }
    /// Build.
    pub fn build(self) -> State {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builder_matches_seed_example() {
        let state = State::builder()
            .stream_cursor("users", "updated_at", json!("2026-01-25T10:00:00Z"))
            .stream_cursor("orders", "id", json!(12345))
            .global("last_sync", json!("2026-01-25"))
            .build();
        assert_eq!(
            state.get_stream("orders").and_then(|s| s.cursor_as_i64()),
            Some(12345)
        );
        assert_eq!(
            state.get_stream("users").and_then(|s| s.cursor_as_str()),
            Some("2026-01-25T10:00:00Z")
        );
        assert_eq!(state.get_global("last_sync"), Some(&json!("2026-01-25")));
    }

    #[test]
    fn get_or_create_and_typed_access() {
        let mut state = State::new();
        let stream = state.get_or_create_stream("new_stream");
        stream.set_cursor("offset", json!(0));
        stream.set_data("partition", json!(3));
        let s = state
            .get_stream("new_stream")
            .unwrap_or_else(|| panic!("missing"));
        assert_eq!(s.get::<u32>("partition").ok(), Some(3));
        assert_eq!(s.get::<i64>("offset").ok(), Some(0));
        assert_eq!(s.get::<i64>("cursor").ok(), Some(0));
        let err = s
            .get::<String>("missing")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("`missing`"), "{err}");
        assert!(s.get::<String>("partition").is_err());
    }

    #[test]
    fn global_get_returns_none_on_wrong_type() {
        let mut state = State::new();
        state.set_global("offset", json!(10));
        assert_eq!(state.get::<u64>("offset"), Some(10));
        assert_eq!(state.get::<String>("offset"), None);
    }

    #[test]
    fn merge_and_stream_updates() {
        let mut a = State::builder()
            .stream_cursor("x", "id", json!(1))
            .global("g", json!(1))
            .build();
        let b = State::builder()
            .stream_cursor("y", "id", json!(2))
            .global("g", json!(2))
            .build();
        a.merge(b);
        assert_eq!(a.streams.len(), 2);
        assert_eq!(a.get_global("g"), Some(&json!(2)));
        let mut upd = Map::new();
        upd.insert("cursor".into(), json!(9));
        upd.insert("offset".into(), json!(100));
        a.apply_stream_update("x", &upd);
        let x = a.get_stream("x").unwrap_or_else(|| panic!("missing"));
        assert_eq!(x.cursor_as_i64(), Some(9));
        assert_eq!(x.data["offset"], json!(100));
    }

    #[test]
    fn serde_round_trip() {
        let s = State::builder()
            .stream_cursor("x", "id", json!(1))
            .global("g", json!("v"))
            .build();
        let text = serde_json::to_string(&s).unwrap_or_default();
        let back: State = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, s);
    }
}
