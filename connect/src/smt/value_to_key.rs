//! `value_to_key`: sets the event key from fields of the row.
//!
//! ```yaml
//! - type: value_to_key        # or ValueToKey
//!   config:
//!     fields: [order_id]      # key = {"order_id": 42}
//! ```
//!
//! The key is an object holding each listed field under its path as written
//! (`customer.id` → `{"customer.id": 7}`), read from the row (`after`, else
//! `before`, of a CDC envelope). A record lacking one of the fields is rejected,
//! naming the field: a wrong key would silently break partitioning and compaction.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};
use validator::Validate;

use super::{record_error, FieldPath};
use crate::connector::{Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::transforms::row;
use crate::TransformConfig;

/// Builds the event key from row fields.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "value_to_key",
    version = env!("CARGO_PKG_VERSION"),
    description = "Set the event key from fields of the value",
    category = "utility",
    tags = ["key", "partition"],
    connector = ValueToKey
)]
#[serde(deny_unknown_fields)]
pub struct ValueToKeyConfig {
    /// The fields that make up the key (dotted paths reach nested fields).
    #[validate(length(min = 1))]
    #[schemars(example = ["order_id"])]
    pub fields: Vec<FieldPath>,
}

/// The `value_to_key` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct ValueToKey;

#[async_trait]
impl Transform for ValueToKey {
    type Config = ValueToKeyConfig;

    fn spec() -> ConnectorSpec {
        ValueToKeyConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &ValueToKeyConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        let mut key = Map::new();
        let source = row(&event);
        for path in &config.fields {
            match source.and_then(|r| path.get_in(r)) {
                Some(value) => {
                    key.insert(path.as_str().to_string(), value.clone());
                }
                None => {
                    return Err(record_error(
                        &event,
                        format!("value_to_key: the record has no field `{path}`"),
                    ))
                }
            }
        }
        event.key = Some(Value::Object(key));
        Ok(TransformOutput::Emit(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::json;

    async fn run(fields: Value, event: SourceEvent) -> Result<SourceEvent> {
        let config = ValueToKeyConfig::from_value(json!({ "fields": fields }))?;
        let mut out = ValueToKey.transform(&config, event).await?.into_events();
        Ok(out.remove(0))
    }

    #[tokio::test]
    async fn key_from_top_level_and_nested_fields() -> Result<()> {
        let e = run(
            json!(["order_id", "customer.id"]),
            SourceEvent::record("o", json!({"order_id": 42, "customer": {"id": 7}})),
        )
        .await?;
        assert_eq!(e.key, Some(json!({"order_id": 42, "customer.id": 7})));
        let d = run(
            json!(["id"]),
            SourceEvent::cdc_delete("u", json!({"id": 3})),
        )
        .await?;
        assert_eq!(
            d.key,
            Some(json!({"id": 3})),
            "deletes are keyed from `before`"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_missing_key_field_rejects_the_record() {
        let event = SourceEvent::record("o", json!({"id": 1})).with_position(json!(17));
        let err = run(json!(["order_id"]), event)
            .await
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.contains("no field `order_id`") && err.contains("position 17"),
            "{err}"
        );
    }
}
