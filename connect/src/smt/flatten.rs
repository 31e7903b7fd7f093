//! `flatten`: flattens nested objects into top-level keys.
//!
//! ```yaml
//! - type: flatten          # or Flatten
//!   config:
//!     delimiter: "_"       # default "."
//! ```
//!
//! `{"address": {"city": "Oslo", "geo": {"lat": 59.9}}}` becomes
//! `{"address.city": "Oslo", "address.geo.lat": 59.9}`. Arrays and empty objects
//! are kept as values. When a flattened key collides with an existing one
//! (`{"a.b": 1, "a": {"b": 2}}`) the record is rejected rather than one value
//! silently overwriting the other. Both row images of a CDC envelope are flattened.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};
use validator::Validate;

use super::record_error;
use crate::connector::{Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::transforms::for_each_row_mut;
use crate::TransformConfig;

/// Flattens nested objects.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "flatten",
    version = env!("CARGO_PKG_VERSION"),
    description = "Flatten nested JSON objects into delimited keys",
    category = "utility",
    tags = ["nested", "unnest"],
    connector = Flatten
)]
#[serde(deny_unknown_fields)]
pub struct FlattenConfig {
    /// Joins the keys of nested fields.
    #[serde(default = "default_delimiter")]
    #[validate(length(min = 1))]
    pub delimiter: String,
}

fn default_delimiter() -> String {
    ".".into()
}

/// The `flatten` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flatten;

#[async_trait]
impl Transform for Flatten {
    type Config = FlattenConfig;

    fn spec() -> ConnectorSpec {
        FlattenConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &FlattenConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        let mut collision = None;
        for_each_row_mut(&mut event, |row| {
            if collision.is_some() || !row.values().any(is_nested) {
                return;
            }
            let mut flat = Map::new();
            let mut prefix = String::new();
            if let Err(key) = flatten_into(
                &mut flat,
                &mut prefix,
                std::mem::take(row),
                &config.delimiter,
            ) {
                collision = Some(key);
            }
            *row = flat;
        });
        match collision {
            Some(key) => Err(record_error(
                &event,
                format!("flatten: two fields flatten to the key `{key}`"),
            )),
            None => Ok(TransformOutput::Emit(event)),
        }
    }
}

fn is_nested(v: &Value) -> bool {
    v.as_object().is_some_and(|m| !m.is_empty())
}

/// Moves `map`'s leaves into `out` under `prefix`; `Err(key)` on a collision.
fn flatten_into(
    out: &mut Map<String, Value>,
    prefix: &mut String,
    map: Map<String, Value>,
    delimiter: &str,
) -> std::result::Result<(), String> {
    for (key, value) in map {
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push_str(delimiter);
        }
        prefix.push_str(&key);
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                flatten_into(out, prefix, inner, delimiter)?;
            }
            leaf => {
                if out.insert(prefix.clone(), leaf).is_some() {
                    return Err(prefix.clone());
                }
            }
        }
        prefix.truncate(len);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::json;

    async fn run(config: Value, event: SourceEvent) -> Result<Value> {
        let config = FlattenConfig::from_value(config)?;
        Ok(Flatten
            .transform(&config, event)
            .await?
            .into_events()
            .remove(0)
            .data)
    }

    #[tokio::test]
    async fn flattens_nested_objects_keeping_arrays() -> Result<()> {
        let data = json!({"id": 1, "address": {"city": "Oslo", "geo": {"lat": 59.9}}, "tags": [{"a": 1}], "empty": {}});
        let out = run(json!({}), SourceEvent::record("s", data)).await?;
        assert_eq!(
            out,
            json!({"id": 1, "address.city": "Oslo", "address.geo.lat": 59.9, "tags": [{"a": 1}], "empty": {}})
        );
        let out = run(
            json!({"delimiter": "_"}),
            SourceEvent::cdc_insert("s", json!({"a": {"b": 1}})),
        )
        .await?;
        assert_eq!(out["after"], json!({"a_b": 1}));
        assert_eq!(out["op"], "c", "the envelope itself is not flattened");
        Ok(())
    }

    #[tokio::test]
    async fn collisions_reject_the_record() {
        let event = SourceEvent::record("s", json!({"a.b": 1, "a": {"b": 2}}));
        let err = run(json!({}), event)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("`a.b`"), "{err}");
        assert!(FlattenConfig::from_value(json!({"delimiter": ""})).is_err());
    }
}
