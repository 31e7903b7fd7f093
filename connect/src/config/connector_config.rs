//! [`ConnectorConfig`]: a connector's `config:` block, which knows where it
//! holds secrets so `Debug` and serialization never show them.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::secret::SecretPath;

/// A connector's configuration as written (after `${VAR}` and `file://`
/// resolution). The values the connector's schema marks secret (its
/// [`SecretPath`]s: `SecretString` fields, nested ones included) are redacted
/// in `Debug` and when serialized.
#[derive(Clone, PartialEq)]
pub struct ConnectorConfig {
    value: Value,
    secrets: BTreeSet<SecretPath>,
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
        self.secrets.contains(&SecretPath::key(key))
    }

    /// Where this config holds secrets (from the connector's schema; empty until
    /// the config was checked against it).
    pub fn secret_paths(&self) -> impl Iterator<Item = &SecretPath> {
        self.secrets.iter()
    }

    pub(crate) fn set(&mut self, value: Value, secrets: BTreeSet<SecretPath>) {
        self.value = value;
        self.secrets = secrets;
    }

    /// The configuration with secret values replaced by `[REDACTED]`.
    pub fn redacted(&self) -> Value {
        let mut value = self.value.clone();
        for path in &self.secrets {
            path.redact(&mut value);
        }
        value
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
    use crate::secret::REDACTED;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_in_debug_and_serialization() {
        let mut c = ConnectorConfig::new(json!({}));
        c.set(
            json!({"user": "app", "password": "hunter2"}),
            [SecretPath::key("password")].into(),
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

    #[test]
    fn nested_secrets_are_redacted() {
        let mut c = ConnectorConfig::default();
        c.set(
            json!({"auth": {"user": "app", "token": "t0ps3cret"}, "hosts": [{"password": "pw1"}]}),
            [
                SecretPath::from("auth.token"),
                SecretPath::from("hosts.*.password"),
            ]
            .into(),
        );
        let shown = format!("{c:?} {}", serde_json::to_string(&c).unwrap_or_default());
        assert!(
            !shown.contains("t0ps3cret") && !shown.contains("pw1") && shown.contains("app"),
            "{shown}"
        );
        assert_eq!(c.value()["auth"]["token"], "t0ps3cret");
    }
}
