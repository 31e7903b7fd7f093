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
/// Deserializes from text only (anything else — a number, say — is refused
/// without showing it); `Debug` and `Serialize` print `[REDACTED]`; its JSON
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
        // `deserialize_any`: a deserializer asked for a string would describe
        // a number it found with its digits; this visitor refuses anything
        // but text without showing it (YAML `password: 123456` is a number,
        // not a password).
        deserializer.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

fn not_text<E: serde::de::Error>(kind: &str) -> E {
    E::custom(format!(
        "a secret is text, not {kind} (quote it; the value is not shown)"
    ))
}

impl<'de> serde::de::Visitor<'de> for SecretVisitor {
    type Value = SecretString;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a secret, as text")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretString, E> {
        Ok(SecretString::new(v))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<SecretString, E> {
        Ok(SecretString::new(v))
    }
    fn visit_char<E: serde::de::Error>(self, v: char) -> Result<SecretString, E> {
        Ok(SecretString::new(v.to_string()))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SecretString, E> {
        Err(not_text("a boolean"))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretString, E> {
        Err(not_text("a number"))
    }
    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<SecretString, E> {
        Err(not_text("a number"))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretString, E> {
        Err(not_text("a number"))
    }
    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<SecretString, E> {
        Err(not_text("a number"))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretString, E> {
        Err(not_text("a number"))
    }
    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<SecretString, E> {
        Err(not_text("bytes"))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<SecretString, E> {
        Err(not_text("null"))
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<SecretString, E> {
        Err(not_text("null"))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<SecretString, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
        Err(not_text("a list"))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
        Err(not_text("an object"))
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
        Err(not_text("an enum"))
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
