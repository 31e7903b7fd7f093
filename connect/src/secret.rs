//! [`SecretString`]: a config value that never shows up in logs, `Debug`, specs or status.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

mod paths;

pub(crate) use paths::{is_secret_property, REDACTED};
pub use paths::{PathSegment, SecretPath};

/// A secret string for connector configs (passwords, tokens, keys).
///
/// Deserializes from a plain string; `Debug` and `Serialize` print `[REDACTED]`; its JSON
/// Schema is `{"type": "string", "writeOnly": true, "x-secret": true}`; the memory is zeroed
/// on drop (it wraps [`secrecy::SecretString`]). Read it with [`SecretString::expose_secret`].
///
/// ```
/// use rivven_connect::SecretString;
///
/// let password: SecretString = serde_json::from_str("\"hunter2\"").unwrap();
/// assert_eq!(password.expose_secret(), "hunter2");
/// assert_eq!(format!("{password:?}"), "[REDACTED]");
/// assert_eq!(serde_json::to_string(&password).unwrap(), "\"[REDACTED]\"");
/// ```
#[derive(Clone)]
pub struct SecretString(secrecy::SecretString);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secrecy::SecretString::from(secret.into()))
    }

    /// The secret itself: use it only where it is needed (a connection call).
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// `true` for the empty secret.
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }
}

/// The empty secret (for optional passwords, e.g. `trust` authentication).
impl Default for SecretString {
    fn default() -> Self {
        Self::new(String::new())
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl JsonSchema for SecretString {
    fn schema_name() -> Cow<'static, str> {
        "SecretString".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "writeOnly": true, "x-secret": true })
    }
}
