//! `replace_field` (alias `rename_field`): renames, keeps or removes fields.
//!
//! ```yaml
//! - type: replace_field               # or ReplaceField, rename_field, RenameField
//!   config:
//!     include: [id, name, email, password_hash]   # keep only these top-level fields
//!     exclude: [password_hash, meta.internal]     # then remove these (dotted paths)
//!     rename:                                     # then rename
//!       name: full_name
//!       address.zip: address.postal_code
//! ```
//!
//! Applied in that order, to both row images of a CDC envelope. Renaming a field
//! that is absent does nothing; renaming onto an existing field replaces it.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;
use validator::{Validate, ValidationError};

use super::FieldPath;
use crate::connector::{Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::transforms::for_each_row_mut;
use crate::TransformConfig;

/// Renames, keeps or removes fields.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "replace_field",
    version = env!("CARGO_PKG_VERSION"),
    description = "Rename, include or exclude fields (alias rename_field)",
    category = "utility",
    tags = ["rename", "include", "exclude", "drop field"],
    aliases = ["rename_field"],
    connector = ReplaceField
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "does_something"))]
pub struct ReplaceFieldConfig {
    /// Keep only these top-level fields (all when empty).
    #[serde(default)]
    pub include: Vec<String>,
    /// Remove these fields (dotted paths reach nested fields).
    #[serde(default)]
    pub exclude: Vec<FieldPath>,
    /// Renames, old → new (dotted paths move nested fields).
    #[serde(default)]
    #[schemars(example = serde_json::json!({"customer_email": "email"}))]
    pub rename: BTreeMap<FieldPath, FieldPath>,
}

fn does_something(config: &ReplaceFieldConfig) -> std::result::Result<(), ValidationError> {
    if config.include.is_empty() && config.exclude.is_empty() && config.rename.is_empty() {
        return Err(ValidationError::new("empty").with_message(
            "replace_field needs at least one of `include`, `exclude`, `rename`".into(),
        ));
    }
    Ok(())
}

/// The `replace_field` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplaceField;

#[async_trait]
impl Transform for ReplaceField {
    type Config = ReplaceFieldConfig;

    fn spec() -> ConnectorSpec {
        ReplaceFieldConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &ReplaceFieldConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        for_each_row_mut(&mut event, |row| {
            if !config.include.is_empty() {
                row.retain(|k, _| config.include.iter().any(|f| f == k));
            }
            for path in &config.exclude {
                path.remove(row);
            }
            for (from, to) in &config.rename {
                if let Some(value) = from.remove(row) {
                    to.set(row, value);
                }
            }
        });
        Ok(TransformOutput::Emit(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::{json, Value};

    async fn run(config: Value, event: SourceEvent) -> Result<Value> {
        let config = ReplaceFieldConfig::from_value(config)?;
        Ok(ReplaceField
            .transform(&config, event)
            .await?
            .into_events()
            .remove(0)
            .data)
    }

    #[tokio::test]
    async fn include_then_exclude_then_rename() -> Result<()> {
        let data = json!({"id": 1, "name": "Ann", "pw": "x", "meta": {"internal": 1, "zip": "0150"}, "junk": 0});
        let config = json!({
            "include": ["id", "name", "pw", "meta"],
            "exclude": ["pw", "meta.internal"],
            "rename": {"name": "full_name", "meta.zip": "address.postal_code", "absent": "x"},
        });
        let out = run(config, SourceEvent::record("u", data)).await?;
        assert_eq!(
            out,
            json!({"id": 1, "full_name": "Ann", "meta": {}, "address": {"postal_code": "0150"}})
        );
        Ok(())
    }

    #[tokio::test]
    async fn changes_both_cdc_images() -> Result<()> {
        let event = SourceEvent::cdc_update("u", json!({"a": 1, "b": 2}), json!({"a": 3, "b": 4}));
        let out = run(json!({"rename": {"a": "x"}, "exclude": ["b"]}), event).await?;
        assert_eq!(out["before"], json!({"x": 1}));
        assert_eq!(out["after"], json!({"x": 3}));
        assert_eq!(out["op"], "u");
        Ok(())
    }

    #[test]
    fn an_empty_config_is_rejected() {
        let err = ReplaceFieldConfig::from_value(json!({}))
            .err()
            .map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("at least one of"));
    }
}
