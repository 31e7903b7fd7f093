//! [`ConnectorConfig`]: a connector's `config:` block, which knows which of
//! its keys are secrets so `Debug` and serialization never show them.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;

const REDACTED: &str = "[REDACTED]";

/// A connector's configuration as written (after `${VAR}` and `file://`
/// resolution). Keys the connector's schema marks secret (`SecretString`
/// fields) are redacted in `Debug` and when serialized.
#[derive(Clone, PartialEq)]
pub struct ConnectorConfig {
    value: Value,
    secrets: BTreeSet<String>,
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        Self::new(Value::Object(Map::new()))
    }
}

impl ConnectorConfig {
    /// A config from JSON (an object).
    pub fn new(value: Value) -> Self {
        Self {
            value,
            secrets: BTreeSet::new(),
        }
    }

    /// The configuration, secrets included: what the connector receives.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Whether the top-level key `key` is a secret.
    pub fn is_secret(&self, key: &str) -> bool {
        self.secrets.contains(key)
    }

    pub(crate) fn set(&mut self, value: Value, secrets: BTreeSet<String>) {
        self.value = value;
        self.secrets = secrets;
    }

    /// The configuration with secret values replaced by `[REDACTED]`.
    pub fn redacted(&self) -> Value {
        match &self.value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = if self.is_secret(k) {
                            Value::String(REDACTED.into())
                        } else {
                            v.clone()
                        };
                        (k.clone(), v)
                    })
                    .collect::<Map<_, _>>(),
            ),
            other => other.clone(),
        }
    }
}

impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.redacted())
    }
}

impl Serialize for ConnectorConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.redacted().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ConnectorConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Self::new)
    }
}

impl JsonSchema for ConnectorConfig {
    fn schema_name() -> Cow<'static, str> {
        "ConnectorConfig".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "The connector's own configuration (see `rivven-connect spec <connector>`)."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_in_debug_and_serialization() {
        let mut c = ConnectorConfig::new(json!({}));
        c.set(
            json!({"user": "app", "password": "hunter2"}),
            ["password".to_string()].into(),
        );
        assert_eq!(c.value()["password"], "hunter2");
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("app"),
            "{debug}"
        );
        let json = serde_json::to_string(&c).unwrap_or_default();
        assert!(
            !json.contains("hunter2") && json.contains(REDACTED),
            "{json}"
        );
    }
}
