//! Derived configs reject unknown keys (top level and nested) with a "did you mean"
//! hint naming the connector, unless the derive says `allow_unknown_fields`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;

use rivven_connect::prelude::*;
use serde_json::{json, Value};

/// Emits `count` ticks.
#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "ticker")]
pub struct TickerConfig {
    /// How many ticks.
    #[serde(default = "five")]
    pub count: u64,
    /// Milliseconds between ticks.
    #[serde(default, rename = "interval-ms")]
    pub interval_ms: u64,
    /// Optional credentials.
    #[serde(default)]
    pub auth: Option<Credentials>,
}

fn five() -> u64 {
    5
}

/// Nested credentials.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// User name.
    pub user_name: String,
}

/// Takes any header the user writes.
#[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(name = "free-form", allow_unknown_fields)]
pub struct FreeFormConfig {
    /// Target.
    #[serde(default)]
    pub target: String,
}

/// Extra keys collected by a flattened map stay accepted.
#[derive(Debug, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(name = "tagger")]
pub struct TaggerConfig {
    /// The field to tag.
    pub field: String,
    /// Every other key: a tag.
    #[serde(flatten)]
    pub tags: BTreeMap<String, Value>,
}

/// Opt-out on a transform, with an explicit `= true`.
#[derive(Debug, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(name = "loose", allow_unknown_fields = true)]
pub struct LooseConfig {
    /// The field.
    #[serde(default)]
    pub field: String,
}

fn error(result: Result<impl std::fmt::Debug>) -> String {
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn a_typo_is_an_error_naming_key_connector_and_suggestion() {
    let err = error(TickerConfig::from_value(json!({"cuont": 3})));
    assert_eq!(
        err,
        "config error: invalid config for `ticker`: `cuont`: unknown key `cuont` (did you mean `count`?)",
    );
    let err = error(TickerConfig::from_yaml("count: 3\nbanana: 1\n"));
    assert!(
        err.contains("`ticker`") && err.contains("unknown key `banana`"),
        "{err}"
    );
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn serde_names_are_the_known_keys() {
    let ok =
        TickerConfig::from_value(json!({"interval-ms": 10, "auth": {"userName": "u"}})).unwrap();
    assert_eq!((ok.count, ok.interval_ms), (5, 10));
    assert_eq!(ok.auth.unwrap().user_name, "u");
    let err = error(TickerConfig::from_value(json!({"interval_ms": 10})));
    assert!(
        err.contains("unknown key `interval_ms` (did you mean `interval-ms`?)"),
        "{err}"
    );
}

#[test]
fn nested_typos_are_found_with_their_path() {
    let err = error(TickerConfig::from_value(
        json!({"auth": {"userName": "u", "pasword": "p"}}),
    ));
    assert!(
        err.contains("`auth.pasword`: unknown key `pasword`"),
        "{err}"
    );
    let err = error(TickerConfig::from_value(
        json!({"auth": {"user_name": "u"}}),
    ));
    assert!(
        err.contains("unknown key `user_name` (did you mean `userName`?)"),
        "{err}"
    );
}

#[test]
fn the_spec_schema_is_closed_too() {
    let spec = TickerConfigSpec::spec();
    let schema = spec.config_schema.unwrap();
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["$defs"]["Credentials"]["additionalProperties"],
        false
    );
    let open = FreeFormConfigSpec::spec().config_schema.unwrap();
    assert!(open.get("additionalProperties").is_none(), "{open}");
}

#[test]
fn allow_unknown_fields_accepts_any_key() {
    let c = FreeFormConfig::from_value(json!({"target": "t", "x-header": "v"})).unwrap();
    assert_eq!(c.target, "t");
    let c = LooseConfig::from_yaml("field: f\nfeild: g\n").unwrap();
    assert_eq!(c.field, "f");
}

#[test]
fn a_flattened_map_keeps_the_config_open() {
    let c = TaggerConfig::from_value(json!({"field": "f", "team": "data"})).unwrap();
    assert_eq!(c.tags["team"], "data");
}
