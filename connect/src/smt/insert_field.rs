//! `insert_field`: adds static or computed fields.
//!
//! ```yaml
//! - type: insert_field                     # or InsertField
//!   config:
//!     static:
//!       source: rivven
//!       meta.env: prod                     # dotted paths create nested objects
//!     timestamp:
//!       field: processed_at
//!       format: iso8601                    # any timestamp_converter format
//!       from: now                          # now (default) | event (the event's timestamp)
//!     uuid: { field: event_id }            # a random UUID v4 per event
//!     stream_field: __stream               # the event's stream name
//! ```
//!
//! Fields are set on the row (both images of a CDC envelope), overwriting any
//! existing value.

use async_trait::async_trait;
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use validator::{Validate, ValidationError};

use super::timestamp_converter::{check_pattern, render, TimestampFormat};
use super::FieldPath;
use crate::connector::{Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::transforms::for_each_row_mut;
use crate::TransformConfig;

/// Which time a timestamp field holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// When the transform processed the event.
    #[default]
    Now,
    /// The event's own timestamp.
    Event,
}

/// A timestamp field to add.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimestampField {
    /// Field name (or dotted path).
    pub field: FieldPath,
    /// Format of the value.
    #[serde(default)]
    pub format: TimestampFormat,
    /// strftime pattern for `format: custom`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// `now` (processing time, default) or `event` (the event's timestamp).
    #[serde(default)]
    pub from: TimeSource,
}

/// A UUID field to add.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UuidField {
    /// Field name (or dotted path).
    pub field: FieldPath,
}

/// Adds static or computed fields.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "insert_field",
    version = env!("CARGO_PKG_VERSION"),
    description = "Add static fields, a timestamp, a UUID or the stream name",
    category = "utility",
    tags = ["enrich", "add", "uuid"],
    connector = InsertField
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "adds_something"))]
pub struct InsertFieldConfig {
    /// Fields with fixed values (field → value).
    #[serde(default, rename = "static")]
    #[schemars(example = serde_json::json!({"origin": "shop"}))]
    pub static_fields: BTreeMap<FieldPath, Value>,
    /// A timestamp field (none added when unset).
    #[serde(default)]
    pub timestamp: Option<TimestampField>,
    /// A random UUID (v4) field (none added when unset).
    #[serde(default)]
    pub uuid: Option<UuidField>,
    /// A field holding the event's stream name (none added when unset).
    #[serde(default)]
    pub stream_field: Option<FieldPath>,
}

fn adds_something(config: &InsertFieldConfig) -> std::result::Result<(), ValidationError> {
    if let Some(t) = &config.timestamp {
        check_pattern(
            t.format,
            t.pattern.as_deref(),
            "timestamp.format",
            "timestamp.pattern",
        )?;
    }
    let nothing = config.static_fields.is_empty()
        && config.timestamp.is_none()
        && config.uuid.is_none()
        && config.stream_field.is_none();
    if nothing {
        return Err(ValidationError::new("empty").with_message(
            "insert_field needs at least one of `static`, `timestamp`, `uuid`, `stream_field`"
                .into(),
        ));
    }
    Ok(())
}

/// The `insert_field` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct InsertField;

#[async_trait]
impl Transform for InsertField {
    type Config = InsertFieldConfig;

    fn spec() -> ConnectorSpec {
        InsertFieldConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &InsertFieldConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        let mut computed: Vec<(&FieldPath, Value)> = Vec::new();
        if let Some(t) = &config.timestamp {
            let at = match t.from {
                TimeSource::Now => Utc::now(),
                TimeSource::Event => event.timestamp,
            };
            // The pattern was checked when the config loaded.
            let value = render(&at, t.format, t.pattern.as_deref()).unwrap_or(Value::Null);
            computed.push((&t.field, value));
        }
        if let Some(u) = &config.uuid {
            computed.push((&u.field, Value::String(uuid::Uuid::new_v4().to_string())));
        }
        if let Some(field) = &config.stream_field {
            computed.push((field, Value::String(event.stream.clone())));
        }
        for_each_row_mut(&mut event, |row| {
            for (path, value) in &config.static_fields {
                path.set(row, value.clone());
            }
            for (path, value) in &computed {
                path.set(row, value.clone());
            }
        });
        Ok(TransformOutput::Emit(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::json;

    async fn run(config: Value, event: SourceEvent) -> Result<SourceEvent> {
        let config = InsertFieldConfig::from_value(config)?;
        Ok(InsertField
            .transform(&config, event)
            .await?
            .into_events()
            .remove(0))
    }

    #[tokio::test]
    async fn static_timestamp_uuid_and_stream() -> Result<()> {
        let config = json!({
            "static": {"source": "rivven", "meta.env": "prod"},
            "timestamp": {"field": "processed_at"},
            "uuid": {"field": "event_id"},
            "stream_field": "__stream",
        });
        let e = run(config, SourceEvent::record("orders", json!({"id": 1}))).await?;
        assert_eq!(e.data["source"], "rivven");
        assert_eq!(e.data["meta"], json!({"env": "prod"}));
        assert_eq!(e.data["__stream"], "orders");
        let processed = e.data["processed_at"].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(processed).is_ok(),
            "{processed}"
        );
        let id = e.data["event_id"].as_str().unwrap_or_default();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        Ok(())
    }

    #[tokio::test]
    async fn event_time_in_millis_on_both_cdc_images() -> Result<()> {
        let config = json!({"static": {"v": 2},
                            "timestamp": {"field": "ts", "format": "unix_millis", "from": "event"}});
        let event = SourceEvent::cdc_update("t", json!({"id": 1}), json!({"id": 1}));
        let ts = event.timestamp.timestamp_millis();
        let e = run(config, event).await?;
        assert_eq!(e.data["before"], json!({"id": 1, "v": 2, "ts": ts}));
        assert_eq!(e.data["after"], json!({"id": 1, "v": 2, "ts": ts}));
        Ok(())
    }

    #[test]
    fn needs_something_to_add_and_valid_patterns() {
        for bad in [
            json!({}),
            json!({"timestamp": {"field": "t", "format": "custom"}}),
            json!({"uuid": {"field": ""}}),
            json!({"static": {"a": 1}, "extra": true}),
        ] {
            assert!(InsertFieldConfig::from_value(bad.clone()).is_err(), "{bad}");
        }
    }
}
