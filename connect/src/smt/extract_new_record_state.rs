//! `extract_new_record_state`: flattens a Debezium-style CDC envelope to its row.
//!
//! ```yaml
//! - type: extract_new_record_state      # or ExtractNewRecordState
//!   config:
//!     add_op: true                       # __op: c | u | d | r
//!     add_table: true                    # __table (source.table, else the stream)
//!     add_fields: [ts_ms, source.lsn]    # __ts_ms, __source_lsn
//!     delete_handling: rewrite           # rewrite (default) | drop | tombstone
//!     drop_tombstones: true              # drop incoming null-valued events (default)
//! ```
//!
//! Inserts, updates and snapshot reads become their `after` row. Deletes follow
//! `delete_handling`: `rewrite` (default, so no change is silently lost) emits the
//! `before` row (or, without one, the key) with `__deleted: true` — and every other
//! row gets `__deleted: false`; `drop` drops the delete; `tombstone` emits a
//! null-valued event with the same key, for compacted topics. Truncates and plain
//! records pass through unchanged. An insert or update without an `after` row is
//! malformed and rejected (the pipeline's `on_error` decides).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::Validate;

use super::record_error;
use crate::connector::{Transform, TransformOutput};
use crate::error::Result;
use crate::event::{EventType, SourceEvent};
use crate::spec::ConnectorSpec;
use crate::transforms::is_envelope;
use crate::TransformConfig;

/// What happens to delete events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeleteHandling {
    /// The old row with `__deleted: true` (other rows get `__deleted: false`).
    #[default]
    Rewrite,
    /// Drop deletes.
    Drop,
    /// A null-valued event with the same key.
    Tombstone,
}

/// Flattens CDC envelopes to the changed row.
#[derive(Debug, Clone, Default, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "extract_new_record_state",
    version = env!("CARGO_PKG_VERSION"),
    description = "Flatten the CDC envelope to the row (Debezium ExtractNewRecordState)",
    category = "utility",
    tags = ["cdc", "debezium", "unwrap", "envelope"],
    connector = ExtractNewRecordState
)]
#[serde(deny_unknown_fields)]
pub struct ExtractNewRecordStateConfig {
    /// Add `__op` (`c`, `u`, `d`, `r`).
    #[serde(default)]
    pub add_op: bool,
    /// Add `__table` (the envelope's `source.table`, else the event's stream).
    #[serde(default)]
    pub add_table: bool,
    /// More envelope fields to add, each as `__<name>` with dots as `_`: a top-level
    /// envelope field (`ts_ms`) or a `source` field (`lsn`, `source.lsn`, `db`, `txId`).
    #[serde(default)]
    pub add_fields: Vec<String>,
    /// `rewrite` (default), `drop` or `tombstone`.
    #[serde(default)]
    pub delete_handling: DeleteHandling,
    /// Drop incoming tombstones (events whose data is `null`).
    #[serde(default = "yes")]
    pub drop_tombstones: bool,
}

fn yes() -> bool {
    true
}

/// The `extract_new_record_state` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExtractNewRecordState;

#[async_trait]
impl Transform for ExtractNewRecordState {
    type Config = ExtractNewRecordStateConfig;

    fn spec() -> ConnectorSpec {
        ExtractNewRecordStateConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &ExtractNewRecordStateConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        if event.data.is_null() && event.is_data() {
            return Ok(if config.drop_tombstones {
                TransformOutput::Drop
            } else {
                TransformOutput::Emit(event)
            });
        }
        if !is_envelope(&event) || event.event_type == EventType::Truncate {
            return Ok(TransformOutput::Emit(event));
        }
        let Value::Object(mut envelope) = std::mem::take(&mut event.data) else {
            return Ok(TransformOutput::Emit(event)); // unreachable: is_envelope saw an object
        };
        let op = envelope
            .get("op")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| event.event_type.cdc_op().map(str::to_string))
            .unwrap_or_default();
        let deleted = op == "d";
        if deleted {
            match config.delete_handling {
                DeleteHandling::Drop => return Ok(TransformOutput::Drop),
                DeleteHandling::Tombstone => {
                    event.data = Value::Null;
                    return Ok(TransformOutput::Emit(event));
                }
                DeleteHandling::Rewrite => {}
            }
        }
        let image = if deleted { "before" } else { "after" };
        let mut row = match envelope.remove(image) {
            Some(Value::Object(row)) => row,
            _ if deleted => match &event.key {
                Some(Value::Object(key)) => key.clone(),
                _ => Map::new(),
            },
            other => {
                event.data = Value::Object(envelope);
                return Err(record_error(
                    &event,
                    format!(
                        "extract_new_record_state: a `{op}` change needs an `after` row, found {}",
                        other.map_or_else(|| "none".to_string(), |v| super::shown(&v))
                    ),
                ));
            }
        };
        if config.add_op {
            row.insert("__op".into(), Value::String(op));
        }
        if config.add_table {
            let table = envelope
                .get("source")
                .and_then(|s| s.get("table"))
                .cloned()
                .unwrap_or_else(|| Value::String(event.stream.clone()));
            row.insert("__table".into(), table);
        }
        for name in &config.add_fields {
            let value = envelope_field(&envelope, name)
                .cloned()
                .unwrap_or(Value::Null);
            row.insert(format!("__{}", name.replace('.', "_")), value);
        }
        if config.delete_handling == DeleteHandling::Rewrite {
            row.insert("__deleted".into(), Value::Bool(deleted));
        }
        event.data = Value::Object(row);
        Ok(TransformOutput::Emit(event))
    }
}

/// `ts_ms` (top level), `source.lsn`, or `lsn` (looked up in `source`).
fn envelope_field<'a>(envelope: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(rest) = name.strip_prefix("source.") {
        return envelope.get("source")?.get(rest);
    }
    envelope
        .get(name)
        .or_else(|| envelope.get("source")?.get(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::json;

    async fn run(config: Value, event: SourceEvent) -> Result<Vec<SourceEvent>> {
        let config = ExtractNewRecordStateConfig::from_value(config)?;
        Ok(ExtractNewRecordState
            .transform(&config, event)
            .await?
            .into_events())
    }

    fn with_source(mut e: SourceEvent) -> SourceEvent {
        if let Some(map) = e.data.as_object_mut() {
            map.insert(
                "source".into(),
                json!({"table": "users", "lsn": "0/16B", "db": "shop"}),
            );
        }
        e
    }

    #[tokio::test]
    async fn flattens_each_operation() -> Result<()> {
        let config =
            json!({"add_op": true, "add_table": true, "add_fields": ["ts_ms", "source.lsn", "db"]});
        let insert = with_source(SourceEvent::cdc_insert("public.users", json!({"id": 1})));
        let out = run(config.clone(), insert).await?;
        assert_eq!(out[0].data["id"], 1);
        assert_eq!(out[0].data["__op"], "c");
        assert_eq!(out[0].data["__table"], "users");
        assert_eq!(out[0].data["__source_lsn"], "0/16B");
        assert_eq!(out[0].data["__db"], "shop");
        assert!(out[0].data["__ts_ms"].is_i64());
        assert_eq!(out[0].data["__deleted"], false);
        assert_eq!(
            out[0].event_type,
            EventType::Insert,
            "the event keeps its type"
        );

        let update =
            SourceEvent::cdc_update("t", json!({"id": 1, "v": 1}), json!({"id": 1, "v": 2}));
        let out = run(json!({"add_table": true}), update).await?;
        assert_eq!(
            out[0].data,
            json!({"id": 1, "v": 2, "__table": "t", "__deleted": false})
        );

        let delete = SourceEvent::cdc_delete("t", json!({"id": 9, "v": 3}));
        let out = run(json!({"add_op": true}), delete).await?;
        assert_eq!(
            out[0].data,
            json!({"id": 9, "v": 3, "__op": "d", "__deleted": true})
        );
        Ok(())
    }

    #[tokio::test]
    async fn delete_handling_and_tombstones() -> Result<()> {
        let delete = || SourceEvent::cdc_delete("t", json!({"id": 9})).with_key(json!({"id": 9}));
        assert!(run(json!({"delete_handling": "drop"}), delete())
            .await?
            .is_empty());
        let out = run(json!({"delete_handling": "tombstone"}), delete()).await?;
        assert_eq!(out[0].data, Value::Null);
        assert_eq!(out[0].key, Some(json!({"id": 9})));

        let tombstone = SourceEvent::record("t", Value::Null).with_key(json!({"id": 9}));
        assert!(run(json!({}), tombstone.clone()).await?.is_empty());
        assert_eq!(
            run(json!({"drop_tombstones": false}), tombstone)
                .await?
                .len(),
            1
        );

        let keyless =
            SourceEvent::cdc(EventType::Delete, "t", None, None).with_key(json!({"id": 4}));
        let out = run(json!({}), keyless).await?;
        assert_eq!(
            out[0].data,
            json!({"id": 4, "__deleted": true}),
            "the key stands in for a missing before"
        );
        Ok(())
    }

    #[tokio::test]
    async fn passes_through_what_it_does_not_flatten() -> Result<()> {
        let record = SourceEvent::record("t", json!({"a": 1}));
        assert_eq!(
            run(json!({"add_op": true}), record.clone()).await?[0],
            record
        );
        let truncate = SourceEvent::cdc(EventType::Truncate, "t", None, None);
        assert_eq!(run(json!({}), truncate.clone()).await?[0], truncate);
        Ok(())
    }

    #[tokio::test]
    async fn an_insert_without_after_is_rejected_naming_the_record() {
        let bad = SourceEvent::cdc(EventType::Insert, "users", None, None).with_key(json!(5));
        let err = run(json!({}), bad)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("needs an `after` row") && err.contains("stream `users`, key 5"),
            "{err}"
        );
    }
}
