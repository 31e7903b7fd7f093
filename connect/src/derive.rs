//! The config derives: `#[derive(SourceConfig)]`, `#[derive(SinkConfig)]`,
//! `#[derive(TransformConfig)]` (also exported as `SourceConfigDerive`, …, the original rivven-connect's names).
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
//! | `aliases = ["…", …]` | sinks, transforms | none | other names the connector is found by (`rename_field` for `replace_field`, `s3` for `object-storage`) |
//! | `allow_unknown_fields` | all | off: unknown keys are errors | accept keys the struct does not declare (a config that takes a free-form map); `allow_unknown_fields = true` also works |
//! | `connector = Type` | all | none | registers `Type` (which must implement `Default` and use this config) so it is discovered by name; this crate's built-ins register exactly this way |
//! | `#[rivven(crate = path)]` | all | `::rivven_connect` | path of this crate when the dependency is renamed |
//!
//! What is generated: the `<Struct>Spec` type (a public item beside the struct), and,
//! inside a `const _: () = { … };` block, its `#[automatically_derived]` methods, the
//! config trait impl and the registration. The attributes are checked in one pass that
//! reports every mistake at its span; the spec type and the trait impl are generated
//! even then, so no "cannot find `…Spec`" error follows the real one.
//!
//! Unknown keys: a key the config does not declare is an error in `from_value` /
//! `from_yaml` and in YAML under the binary, naming the key, the connector and the
//! closest known key ("unknown key `cuont` (did you mean `count`?)"). Known keys are the
//! serde names (`rename`, `rename_all`); nested structs are checked too. The derive
//! closes the schema (`additionalProperties: false` on each struct's object schema)
//! except where it is open already: a `#[serde(flatten)]` map or enum,
//! `patternProperties`. `#[serde(alias)]` names are not in the schema and are rejected:
//! such a config needs `allow_unknown_fields`.
//!
//! ```
//! use rivven_connect::prelude::*;
//!
//! #[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
//! #[source(name = "ticker")]
//! pub struct TickerConfig {
//!     #[serde(default)]
//!     pub count: u64,
//! }
//! let err = TickerConfig::from_value(serde_json::json!({"cuont": 5})).unwrap_err();
//! assert!(err.to_string().contains("unknown key `cuont` (did you mean `count`?)"), "{err}");
//!
//! #[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfig)]
//! #[sink(name = "headers", allow_unknown_fields)]
//! pub struct HeadersConfig {
//!     #[serde(default)]
//!     pub url: String,
//! }
//! assert!(HeadersConfig::from_value(serde_json::json!({"x-trace": "1"})).is_ok());
//! ```
//!
//! What the spec's schema holds: field doc comments as `description`, `#[serde(default)]`
//! values as `default`, the `validator` rules JSON Schema can express (`url` → `format:
//! uri`, `email` → `format: email`, `range` → `minimum`/`maximum`, `length` →
//! `minLength`/`maxLength`, `regex` → `pattern`), `custom` validators as `x-validator`
//! (JSON Schema cannot express them; they still run on load), and secret fields as
//! `writeOnly: true` with `x-secret: true` and no default.
//!
//! A secret field is one whose schema is a secret's — a
//! [`SecretString`](crate::SecretString) (which marks its own schema `writeOnly` /
//! `x-secret`), an `Option` of one, one inside a nested struct, an array or a map — never a
//! guess from a type's name. The spec's [`secret_paths`](crate::ConnectorSpec::secret_paths)
//! lists where they are, under the names serde reads them with (`rename`, `rename_all`);
//! the loaded config ([`ConnectorConfig`](crate::config::ConnectorConfig)) redacts exactly
//! those in `Debug`, logs and status, and `file://` secrets are read for exactly those.

use serde_json::Value;

use crate::connector::{Sink, Source, Transform};
use crate::secret::is_secret_property;
use crate::spec::{ConnectorKind, ConnectorSpec};

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
    /// The schema of a helper struct: one property per field with a `custom` validator,
    /// under the field's serde name, described by the validator's name.
    pub custom_validators: Option<fn() -> Value>,
}

/// The JSON Schema of `T` as a value.
#[doc(hidden)]
pub fn schema_of<T: schemars::JsonSchema>() -> Value {
    schemars::schema_for!(T).to_value()
}

/// Every object schema in `schema` (the root, nested ones, `$defs`, branches…).
fn for_each_object_schema(
    schema: &mut Value,
    f: &mut dyn FnMut(&mut serde_json::Map<String, Value>),
) {
    match schema {
        Value::Object(map) => {
            f(map);
            for v in map.values_mut() {
                for_each_object_schema(v, f);
            }
        }
        Value::Array(items) => {
            for v in items {
                for_each_object_schema(v, f);
            }
        }
        _ => {}
    }
}

/// `schema` with `additionalProperties: false` on every object schema that lists its
/// `properties` and is not already open: one with `additionalProperties`,
/// `patternProperties`, `unevaluatedProperties` or `allOf`/`anyOf`/`oneOf` beside its
/// properties (a `#[serde(flatten)]` map or enum) is left as it is.
#[doc(hidden)]
pub fn closed_schema(mut schema: Value) -> Value {
    const OPEN: &[&str] = &[
        "additionalProperties",
        "patternProperties",
        "unevaluatedProperties",
        "allOf",
        "anyOf",
        "oneOf",
    ];
    for_each_object_schema(&mut schema, &mut |map| {
        let is_struct = map.get("type").and_then(Value::as_str) == Some("object")
            && map.get("properties").is_some_and(Value::is_object);
        if is_struct && !OPEN.iter().any(|k| map.contains_key(*k)) {
            map.insert("additionalProperties".into(), Value::Bool(false));
        }
    });
    schema
}

/// Marks every property that holds a secret (wherever it is, through `$ref`s and
/// `Option`s) `writeOnly` / `x-secret`, and drops its default and examples (a secret's
/// default would show `[REDACTED]` or, worse, a real value).
fn mark_secret_properties(schema: &mut Value) {
    let root = schema.clone();
    for_each_object_schema(schema, &mut |map| {
        let Some(Value::Object(props)) = map.get_mut("properties") else {
            return;
        };
        for prop in props.values_mut() {
            if !is_secret_property(&root, prop) {
                continue;
            }
            if let Value::Object(prop) = prop {
                prop.insert("writeOnly".into(), Value::Bool(true));
                prop.insert("x-secret".into(), Value::Bool(true));
                prop.remove("default");
                prop.remove("examples");
            }
        }
    });
}

/// Builds a spec from the derive's attributes and the config's schema.
#[doc(hidden)]
pub fn spec(info: SpecInfo, mut schema: Value) -> ConnectorSpec {
    mark_secret_properties(&mut schema);
    if let Some(validators) = info.custom_validators {
        let validators = validators();
        let named = validators
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, p)| Some((name, p.get("description")?.as_str()?)));
        for (name, function) in named {
            if let Some(Value::Object(prop)) = schema
                .get_mut("properties")
                .and_then(|props| props.get_mut(name))
            {
                prop.insert("x-validator".into(), Value::String(function.to_string()));
            }
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
    use serde_json::json;

    #[test]
    fn closing_leaves_open_schemas_open() {
        let schema = closed_schema(json!({
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/A"}, "m": {"type": "object", "additionalProperties": {"type": "string"}}},
            "$defs": {
                "A": {"type": "object", "properties": {"x": {"type": "integer"}}},
                "Flat": {"type": "object", "properties": {"x": {}}, "oneOf": [{"properties": {"y": {}}}]},
                "Pattern": {"type": "object", "properties": {"x": {}}, "patternProperties": {"^y": {}}}
            }
        }));
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["$defs"]["A"]["additionalProperties"], false);
        assert_eq!(
            schema["properties"]["m"]["additionalProperties"]["type"],
            "string"
        );
        assert!(schema["$defs"]["Flat"]
            .get("additionalProperties")
            .is_none());
        assert!(schema["$defs"]["Pattern"]
            .get("additionalProperties")
            .is_none());
    }

    #[test]
    fn secret_properties_are_marked_wherever_they_are() {
        let secret = json!({"type": "string", "writeOnly": true, "x-secret": true});
        let mut schema = json!({
            "type": "object",
            "properties": {
                "token": {"anyOf": [secret, {"type": "null"}], "default": null},
                "auth": {"$ref": "#/$defs/Auth"},
                "secrets_manager": {"$ref": "#/$defs/SecretsManagerConfig"}
            },
            "$defs": {
                "Auth": {"type": "object", "properties": {
                    "password": {"type": "string", "writeOnly": true, "x-secret": true,
                                 "default": "[REDACTED]"}
                }},
                "SecretsManagerConfig": {"type": "object", "properties": {
                    "region": {"type": "string"}
                }}
            }
        });
        mark_secret_properties(&mut schema);
        assert_eq!(schema["properties"]["token"]["x-secret"], true);
        assert!(schema["properties"]["token"].get("default").is_none());
        assert!(schema["$defs"]["Auth"]["properties"]["password"]
            .get("default")
            .is_none());
        assert!(
            schema["properties"]["auth"].get("x-secret").is_none(),
            "only its field is"
        );
        assert!(schema["properties"]["secrets_manager"]
            .get("x-secret")
            .is_none());
    }
}
