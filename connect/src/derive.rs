//! The config derives: `#[derive(SourceConfig)]`, `#[derive(SinkConfig)]`,
//! `#[derive(TransformConfig)]` (also exported as `SourceConfigDerive`, … as in the seeds).
//!
//! Derive them next to `Deserialize`, `Validate` and `JsonSchema`:
//!
//! ```
//! use rivven_connect::prelude::*;
//!
//! /// Reads events from My API.
//! #[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
//! #[source(name = "my-source", version = "1.0.0", description = "Custom data source")]
//! pub struct MySourceConfig {
//!     /// Base URL of the API.
//!     #[validate(url)]
//!     pub endpoint: String,
//!     /// Records per request.
//!     #[validate(range(min = 1, max = 1000))]
//!     pub batch_size: usize,
//!     #[serde(default = "default_timeout")]
//!     pub timeout_ms: u64,
//! }
//! fn default_timeout() -> u64 { 30_000 }
//!
//! let spec = MySourceConfigSpec::spec();
//! assert_eq!((MySourceConfigSpec::name(), MySourceConfigSpec::version()), ("my-source", "1.0.0"));
//! let schema = spec.config_schema.unwrap();
//! assert_eq!(schema["properties"]["endpoint"]["format"], "uri");
//! assert_eq!(schema["properties"]["timeout_ms"]["default"], 30_000);
//!
//! let err = MySourceConfig::from_value(serde_json::json!({"endpoint": "not a url", "batch_size": 0}))
//!     .unwrap_err().to_string();
//! assert!(err.contains("endpoint") && err.contains("batch_size"), "{err}");
//! ```
//!
//! # Attributes
//!
//! | key | applies to | default | meaning |
//! |---|---|---|---|
//! | `name = "…"` | all | struct name in kebab-case without `Config` (`MySourceConfig` → `my-source`) | connector name used in YAML and the registry |
//! | `version = "…"` | all | `"0.0.1"` | connector version (a literal or `env!("CARGO_PKG_VERSION")`) |
//! | `description`, `author`, `license`, `documentation_url` | all | none | spec metadata |
//! | `incremental` | sources | off | the source supports incremental sync |
//! | `batching` | sinks | off | the sink implements `BatchSink`; it is registered as one |
//! | `batch_size = N` | sinks | 10 000 | `batch_config().max_records` |
//! | `category = "…"` | all | `utility` | registry category: database, messaging, storage, warehouse, lakehouse, ai-ml, utility |
//! | `tags = ["…", …]` | all | none | registry search tags |
//! | `connector = Type` | all | none | registers `Type` (which must implement `Default` and use this config) so it is discovered by name |
//! | `#[rivven(crate = path)]` | all | `::rivven_connect` | path of this crate when the dependency is renamed |
//!
//! What the spec's schema holds: field doc comments as `description`, `#[serde(default)]`
//! values as `default`, the `validator` rules JSON Schema can express (`url` → `format:
//! uri`, `email` → `format: email`, `range` → `minimum`/`maximum`, `length` →
//! `minLength`/`maxLength`, `regex` → `pattern`), `custom` validators as `x-validator`
//! (JSON Schema cannot express them; they still run on load), and secret fields
//! ([`SecretString`](crate::SecretString), or any `Secret*` type) as `writeOnly: true` with
//! `x-secret: true` and no default.

use serde_json::Value;

use crate::connector::{Sink, Source, Transform};
use crate::spec::{ConnectorKind, ConnectorSpec};

/// A field as the derive saw it: its Rust name and any `#[serde(rename)]`.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct FieldKey {
    pub field: &'static str,
    pub rename: Option<&'static str>,
}

/// What the derive read from the attributes.
#[doc(hidden)]
#[derive(Debug)]
pub struct SpecInfo {
    pub kind: ConnectorKind,
    pub name: &'static str,
    pub version: &'static str,
    pub description: Option<&'static str>,
    pub author: Option<&'static str>,
    pub license: Option<&'static str>,
    pub documentation_url: Option<&'static str>,
    pub incremental: bool,
    pub batching: bool,
    pub rename_all: Option<&'static str>,
    pub secret_fields: &'static [FieldKey],
    pub custom_validators: &'static [(FieldKey, &'static str)],
}

/// The serialized key of a field under serde's `rename` / `rename_all` rules.
fn property_name(key: &FieldKey, rename_all: Option<&str>) -> String {
    if let Some(r) = key.rename {
        return r.to_string();
    }
    let words: Vec<&str> = key.field.split('_').filter(|w| !w.is_empty()).collect();
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    match rename_all {
        Some("lowercase") => key.field.to_lowercase(),
        Some("UPPERCASE") => key.field.to_uppercase(),
        Some("PascalCase") => words.iter().map(|w| cap(w)).collect(),
        Some("camelCase") => words
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 { (*w).to_string() } else { cap(w) })
            .collect(),
        Some("SCREAMING_SNAKE_CASE") => key.field.to_uppercase(),
        Some("kebab-case") => key.field.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => key.field.replace('_', "-").to_uppercase(),
        _ => key.field.to_string(),
    }
}

/// The properties object of a schema (following one `$ref` into `$defs` if needed).
fn property_mut<'a>(schema: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    schema.get_mut("properties")?.get_mut(name)
}

/// Builds a spec from the derive's attributes and the config's schema.
#[doc(hidden)]
pub fn spec(info: SpecInfo, mut schema: Value) -> ConnectorSpec {
    for key in info.secret_fields {
        let name = property_name(key, info.rename_all);
        if let Some(Value::Object(prop)) = property_mut(&mut schema, &name) {
            prop.insert("writeOnly".into(), Value::Bool(true));
            prop.insert("x-secret".into(), Value::Bool(true));
            prop.remove("default");
            prop.remove("examples");
        }
    }
    for (key, function) in info.custom_validators {
        let name = property_name(key, info.rename_all);
        if let Some(Value::Object(prop)) = property_mut(&mut schema, &name) {
            prop.insert("x-validator".into(), Value::String((*function).to_string()));
        }
    }
    let mut builder = ConnectorSpec::builder(info.name, info.version)
        .kind(info.kind)
        .config_schema(schema)
        .incremental(info.incremental)
        .batching(info.batching);
    if let Some(d) = info.description {
        builder = builder.description(d);
    }
    if let Some(a) = info.author {
        builder = builder.author(a);
    }
    if let Some(l) = info.license {
        builder = builder.license(l);
    }
    if let Some(u) = info.documentation_url {
        builder = builder.documentation_url(u);
    }
    builder.build()
}

/// The schema of a source config (a generic call, so a missing supertrait derive is
/// reported once, at the config impl).
#[doc(hidden)]
pub fn source_schema<C: crate::SourceConfig>() -> Value {
    C::config_schema()
}

/// The schema of a sink config.
#[doc(hidden)]
pub fn sink_schema<C: crate::SinkConfig>() -> Value {
    C::config_schema()
}

/// The schema of a transform config.
#[doc(hidden)]
pub fn transform_schema<C: crate::TransformConfig>() -> Value {
    C::config_schema()
}

/// Compile-time check that `connector = S` names a source whose config is `C`.
#[doc(hidden)]
pub fn assert_source_config<S: Source<Config = C>, C>() {}

/// Compile-time check that `connector = S` names a sink whose config is `C`.
#[doc(hidden)]
pub fn assert_sink_config<S: Sink<Config = C>, C>() {}

/// Compile-time check that `connector = T` names a transform whose config is `C`.
#[doc(hidden)]
pub fn assert_transform_config<T: Transform<Config = C>, C>() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_names_follow_serde_renames() {
        let k = FieldKey {
            field: "api_key_id",
            rename: None,
        };
        assert_eq!(property_name(&k, None), "api_key_id");
        assert_eq!(property_name(&k, Some("camelCase")), "apiKeyId");
        assert_eq!(property_name(&k, Some("kebab-case")), "api-key-id");
        assert_eq!(property_name(&k, Some("PascalCase")), "ApiKeyId");
        let r = FieldKey {
            field: "x",
            rename: Some("X-Token"),
        };
        assert_eq!(property_name(&r, Some("camelCase")), "X-Token");
    }
}
