//! Marker traits for connector configuration structs.
//!
//! A config is deserialized from YAML/JSON, validated with `validator`, and
//! described by a `schemars` JSON Schema. Implement the marker with an empty
//! `impl` (or, once available, the derive macros), e.g.
//! `impl SourceConfig for MySourceConfig {}`.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::error::{ConnectorError, Result};

/// Configuration of a [`Source`](crate::Source).
pub trait SourceConfig: DeserializeOwned + Validate + JsonSchema + Send + Sync + 'static {
    /// Deserialize from a JSON value and run validation; errors name the field and rule.
    fn from_value(value: serde_json::Value) -> Result<Self> {
        load_config(value)
    }
}

/// Configuration of a [`Sink`](crate::Sink).
pub trait SinkConfig: DeserializeOwned + Validate + JsonSchema + Send + Sync + 'static {
    /// Deserialize from a JSON value and run validation; errors name the field and rule.
    fn from_value(value: serde_json::Value) -> Result<Self> {
        load_config(value)
    }
}

/// Configuration of a [`Transform`](crate::Transform).
pub trait TransformConfig:
    DeserializeOwned + Validate + JsonSchema + Send + Sync + 'static
{
    /// Deserialize from a JSON value and run validation; errors name the field and rule.
    fn from_value(value: serde_json::Value) -> Result<Self> {
        load_config(value)
    }
}

/// Deserialize `value` into `T` and validate it.
pub(crate) fn load_config<T: DeserializeOwned + Validate>(value: serde_json::Value) -> Result<T> {
    let config: T = serde_json::from_value(value)
        .map_err(|e| ConnectorError::configuration(format!("invalid config: {e}")))?;
    config
        .validate()
        .map_err(|e| ConnectorError::configuration(format!("invalid config: {e}")))?;
    Ok(config)
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
