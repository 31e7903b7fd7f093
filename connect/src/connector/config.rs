//! Marker traits for connector configuration structs.
//!
//! A config is deserialized from YAML/JSON, validated with `validator`, and
//! described by a `schemars` JSON Schema. Derive the trait with
//! `#[derive(SourceConfig)]` & co. (see [`crate::derive`]), which also generates the
//! spec and the registration, or implement it with an empty
//! `impl SourceConfig for MySourceConfig {}`.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::error::{ConnectorError, Result};

/// Configuration of a [`Source`](crate::Source).
pub trait SourceConfig: DeserializeOwned + Validate + JsonSchema + Send + Sync + 'static {
    /// Deserialize from a JSON value and run validation; errors name the field and rule.
    fn from_value(value: serde_json::Value) -> Result<Self> {
        if let Some(connector) = Self::__STRICT_CONNECTOR {
            reject_unknown_keys(&value, connector, &Self::config_schema())?;
        }
        load_config(value)
    }

    /// Deserialize from YAML text and run validation.
    fn from_yaml(yaml: &str) -> Result<Self> {
        Self::from_value(yaml_to_value(yaml)?)
    }

    /// The config's JSON Schema (draft 2020-12).
    fn config_schema() -> serde_json::Value {
        config_schema_of::<Self>(Self::__STRICT_CONNECTOR)
    }

    /// Set by the derive (unless `allow_unknown_fields`): the connector's name; the
    /// schema is then closed and `from_value` rejects keys it does not list.
    #[doc(hidden)]
    const __STRICT_CONNECTOR: Option<&'static str> = None;

    /// Set by the derive: the connector's spec from its attributes (what the
    /// connector trait's default `spec()` returns).
    #[doc(hidden)]
    fn __derived_spec() -> Option<crate::ConnectorSpec> {
        None
    }
}

/// Configuration of a [`Sink`](crate::Sink).
pub trait SinkConfig: DeserializeOwned + Validate + JsonSchema + Send + Sync + 'static {
    /// Deserialize from a JSON value and run validation; errors name the field and rule.
    fn from_value(value: serde_json::Value) -> Result<Self> {
        if let Some(connector) = Self::__STRICT_CONNECTOR {
            reject_unknown_keys(&value, connector, &Self::config_schema())?;
        }
        load_config(value)
    }

    /// Deserialize from YAML text and run validation.
    fn from_yaml(yaml: &str) -> Result<Self> {
        Self::from_value(yaml_to_value(yaml)?)
    }

    /// The config's JSON Schema (draft 2020-12).
    fn config_schema() -> serde_json::Value {
        config_schema_of::<Self>(Self::__STRICT_CONNECTOR)
    }

    /// Set by the derive (unless `allow_unknown_fields`): the connector's name; the
    /// schema is then closed and `from_value` rejects keys it does not list.
    #[doc(hidden)]
    const __STRICT_CONNECTOR: Option<&'static str> = None;

    /// Set by the derive: the connector's spec from its attributes (what the
    /// connector trait's default `spec()` returns).
    #[doc(hidden)]
    fn __derived_spec() -> Option<crate::ConnectorSpec> {
        None
    }
}

/// Configuration of a [`Transform`](crate::Transform).
pub trait TransformConfig:
    DeserializeOwned + Validate + JsonSchema + Send + Sync + 'static
{
    /// Deserialize from a JSON value and run validation; errors name the field and rule.
    fn from_value(value: serde_json::Value) -> Result<Self> {
        if let Some(connector) = Self::__STRICT_CONNECTOR {
            reject_unknown_keys(&value, connector, &Self::config_schema())?;
        }
        load_config(value)
    }

    /// Deserialize from YAML text and run validation.
    fn from_yaml(yaml: &str) -> Result<Self> {
        Self::from_value(yaml_to_value(yaml)?)
    }

    /// The config's JSON Schema (draft 2020-12).
    fn config_schema() -> serde_json::Value {
        config_schema_of::<Self>(Self::__STRICT_CONNECTOR)
    }

    /// Set by the derive (unless `allow_unknown_fields`): the connector's name; the
    /// schema is then closed and `from_value` rejects keys it does not list.
    #[doc(hidden)]
    const __STRICT_CONNECTOR: Option<&'static str> = None;

    /// Set by the derive: the connector's spec from its attributes (what the
    /// connector trait's default `spec()` returns).
    #[doc(hidden)]
    fn __derived_spec() -> Option<crate::ConnectorSpec> {
        None
    }
}

/// The JSON Schema of `T` as a JSON value.
pub(crate) fn schema_value<T: JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(serde_json::Value::Null)
}

/// Parse YAML into a JSON value (errors carry line and column).
pub(crate) fn yaml_to_value(yaml: &str) -> Result<serde_json::Value> {
    serde_saphyr::from_str(yaml)
        .map_err(|e| ConnectorError::configuration(format!("invalid YAML: {e}")))
}

/// `T`'s schema, closed to unknown keys when the derive made it strict.
fn config_schema_of<T: JsonSchema>(strict: Option<&'static str>) -> serde_json::Value {
    let schema = schema_value::<T>();
    match strict {
        Some(_) => crate::derive::closed_schema(schema),
        None => schema,
    }
}

/// An error naming every key of `value` (nested ones included) that `schema` does
/// not allow, with a "did you mean" hint and the connector's name.
pub(crate) fn reject_unknown_keys(
    value: &serde_json::Value,
    connector: &str,
    schema: &serde_json::Value,
) -> Result<()> {
    let problems = crate::config::unknown_keys(schema, value);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConnectorError::configuration(format!(
            "invalid config for `{connector}`: {}",
            problems.join("; ")
        )))
    }
}

/// Deserialize `value` into `T` and validate it. Errors name the field path
/// (`batch.max_records`) and, for validation, the rule that failed.
pub(crate) fn load_config<T: DeserializeOwned + Validate>(value: serde_json::Value) -> Result<T> {
    let config: T = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ConnectorError::configuration(format!("invalid config: {inner}"))
        } else {
            ConnectorError::configuration(format!("invalid config at `{path}`: {inner}"))
        }
    })?;
    config.validate().map_err(|errors| {
        let mut lines = Vec::new();
        describe_validation("", &errors, &mut lines);
        ConnectorError::configuration(format!("invalid config: {}", lines.join("; ")))
    })?;
    Ok(config)
}

/// Flattens validator's error tree into `path: rule (details)` lines.
fn describe_validation(prefix: &str, errors: &validator::ValidationErrors, out: &mut Vec<String>) {
    use validator::ValidationErrorsKind as K;
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            // Struct-level rules (`#[validate(schema(..))]`) speak for themselves.
            K::Field(list) if *field == "__all__" => {
                for e in list {
                    let message = e.message.as_deref().unwrap_or(&e.code);
                    match prefix {
                        "" => out.push(message.to_string()),
                        p => out.push(format!("`{p}`: {message}")),
                    }
                }
            }
            K::Field(list) => {
                for e in list {
                    let mut params: Vec<String> = e
                        .params
                        .iter()
                        .filter(|(k, _)| *k != "value")
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect();
                    params.sort();
                    let detail = match (&e.message, params.is_empty()) {
                        (Some(m), _) => format!(" ({m})"),
                        (None, false) => format!(" ({})", params.join(", ")),
                        (None, true) => String::new(),
                    };
                    out.push(format!("`{path}` failed rule `{}`{detail}", e.code));
                }
            }
            K::Struct(inner) => describe_validation(&path, inner, out),
            K::List(items) => {
                for (i, inner) in items {
                    describe_validation(&format!("{path}[{i}]"), inner, out);
                }
            }
        }
    }
}

/// The spec of a connector whose trait impl does not write `spec()`: the
/// derive's, or for a config written by hand a minimal one named after the
/// connector type, with the config's schema.
pub(crate) fn default_spec<C: JsonSchema>(
    derived: Option<crate::ConnectorSpec>,
    connector_type: &str,
    kind: crate::ConnectorKind,
) -> crate::ConnectorSpec {
    derived.unwrap_or_else(|| {
        crate::ConnectorSpec::builder(connector_type, "0.0.0")
            .kind(kind)
            .config_schema_from::<C>()
            .build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Validate, JsonSchema)]
    struct Cfg {
        #[validate(range(min = 1, max = 10))]
        n: u32,
    }
    impl SourceConfig for Cfg {}

    #[test]
    fn from_value_validates_and_names_the_field() {
        assert!(<Cfg as SourceConfig>::from_value(serde_json::json!({"n": 3})).is_ok());
        let err = <Cfg as SourceConfig>::from_value(serde_json::json!({"n": 30}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains('n') && err.contains("range"), "{err}");
        let err = <Cfg as SourceConfig>::from_value(serde_json::json!({"m": 3}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("missing field `n`"), "{err}");
    }
}
