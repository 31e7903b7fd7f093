//! `cast`: converts fields to another JSON type.
//!
//! ```yaml
//! - type: cast                 # or Cast
//!   config:
//!     fields:
//!       quantity: int          # int | float | string | bool
//!       price: float
//!       active: bool
//! ```
//!
//! * `int`: integers stay; a float converts only when it has no fractional part
//!   (`2.0` → `2`, `2.5` is rejected rather than truncated); strings are parsed;
//!   `true`/`false` → `1`/`0`.
//! * `float`: numbers and numeric strings; booleans → `1.0`/`0.0`.
//! * `string`: strings stay; other values become their JSON text.
//! * `bool`: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, `t`/`f`, `y`/`n`
//!   (any case); numbers are `true` unless zero.
//!
//! `null` and missing fields are left alone. A value that cannot be converted
//! rejects the record with the field, the value and the target type.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use std::collections::BTreeMap;
use validator::Validate;

use super::{record_error, shown, FieldPath};
use crate::connector::{Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::transforms::for_each_row_mut;
use crate::TransformConfig;

/// A target type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CastType {
    /// A 64-bit integer.
    Int,
    /// A 64-bit float.
    Float,
    /// A string.
    String,
    /// A boolean.
    Bool,
}

impl CastType {
    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            CastType::Int => "int",
            CastType::Float => "float",
            CastType::String => "string",
            CastType::Bool => "bool",
        }
    }
}

/// Converts fields to other types.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "cast",
    version = env!("CARGO_PKG_VERSION"),
    description = "Convert fields to int, float, string or bool",
    category = "utility",
    tags = ["type", "convert"],
    connector = Cast
)]
#[serde(deny_unknown_fields)]
pub struct CastConfig {
    /// Field (dotted path) → target type.
    #[validate(length(min = 1))]
    #[schemars(example = serde_json::json!({"quantity": "int", "total": "float"}))]
    pub fields: BTreeMap<FieldPath, CastType>,
}

/// The `cast` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cast;

#[async_trait]
impl Transform for Cast {
    type Config = CastConfig;

    fn spec() -> ConnectorSpec {
        CastConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &CastConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        let mut failure = None;
        for_each_row_mut(&mut event, |row| {
            for (path, to) in &config.fields {
                if failure.is_some() {
                    return;
                }
                let Some(value) = path.get_mut(row) else {
                    continue;
                };
                match cast(value, *to) {
                    Ok(Some(v)) => *value = v,
                    Ok(None) => {}
                    Err(why) => {
                        failure = Some(format!(
                            "cast: field `{path}` = {} cannot become {}{why}",
                            shown(value),
                            to.name()
                        ));
                    }
                }
            }
        });
        match failure {
            Some(message) => Err(record_error(&event, message)),
            None => Ok(TransformOutput::Emit(event)),
        }
    }
}

/// The converted value (`None`: leave it as is), or why it cannot be converted.
fn cast(value: &Value, to: CastType) -> std::result::Result<Option<Value>, &'static str> {
    Ok(Some(match (to, value) {
        (_, Value::Null) => return Ok(None),
        (CastType::Int, Value::Number(n)) => Value::Number(to_int(n)?),
        (CastType::Int, Value::String(s)) => Value::Number(parse_int(s)?),
        (CastType::Int, Value::Bool(b)) => Value::from(i64::from(*b)),
        (CastType::Float, Value::Number(n)) => float(n.as_f64())?,
        (CastType::Float, Value::String(s)) => float(s.trim().parse::<f64>().ok())?,
        (CastType::Float, Value::Bool(b)) => float(Some(if *b { 1.0 } else { 0.0 }))?,
        (CastType::String, Value::String(_)) => return Ok(None),
        (CastType::String, other) => Value::String(other.to_string()),
        (CastType::Bool, Value::Bool(_)) => return Ok(None),
        (CastType::Bool, Value::Number(n)) => Value::Bool(n.as_f64() != Some(0.0)),
        (CastType::Bool, Value::String(s)) => Value::Bool(parse_bool(s)?),
        (_, Value::Array(_) | Value::Object(_)) => return Err(" (only scalars convert)"),
    }))
}

fn to_int(n: &Number) -> std::result::Result<Number, &'static str> {
    if n.is_i64() || n.is_u64() {
        return Ok(n.clone());
    }
    let f = n.as_f64().ok_or("")?;
    if f.fract() != 0.0 {
        return Err(" (it has a fractional part)");
    }
    // 2^63: the i64 range is [-2^63, 2^63).
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&f) {
        return Err(" (out of the 64-bit range)");
    }
    Ok(Number::from(f as i64))
}

fn parse_int(s: &str) -> std::result::Result<Number, &'static str> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Ok(Number::from(i));
    }
    if let Ok(u) = s.parse::<u64>() {
        return Ok(Number::from(u));
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Number::from_f64(f).ok_or("").and_then(|n| to_int(&n)),
        _ => Err(" (not a number)"),
    }
}

fn float(f: Option<f64>) -> std::result::Result<Value, &'static str> {
    f.and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or(" (not a finite number)")
}

fn parse_bool(s: &str) -> std::result::Result<bool, &'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Ok(false),
        _ => Err(" (expected true/false, yes/no, on/off or 1/0)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::json;

    async fn run(fields: Value, data: Value) -> Result<Value> {
        let config = CastConfig::from_value(json!({ "fields": fields }))?;
        let out = Cast
            .transform(&config, SourceEvent::record("s", data))
            .await?;
        Ok(out.into_events().remove(0).data)
    }

    #[tokio::test]
    async fn converts_each_type() -> Result<()> {
        let out = run(
            json!({"a": "int", "b": "int", "c": "float", "d": "string", "e": "bool", "f": "bool",
                   "g": "int", "h": "string", "i": "float", "n": "int", "x.y": "int"}),
            json!({"a": "42", "b": 3.0, "c": "2.5", "d": 7, "e": "Yes", "f": 0, "g": true,
                   "h": {"k": 1}, "i": 3, "n": null, "x": {"y": "-5"}}),
        )
        .await?;
        assert_eq!(
            out,
            json!({"a": 42, "b": 3, "c": 2.5, "d": "7", "e": true, "f": false, "g": 1,
                   "h": "{\"k\":1}", "i": 3.0, "n": null, "x": {"y": -5}})
        );
        Ok(())
    }

    #[tokio::test]
    async fn lossy_or_impossible_casts_reject_the_record() {
        for (to, value, why) in [
            ("int", json!(2.5), "fractional part"),
            ("int", json!("tablet"), "not a number"),
            ("int", json!(1e30), "64-bit range"),
            ("bool", json!("maybe"), "expected true/false"),
            ("float", json!([1]), "only scalars"),
        ] {
            let err = run(json!({ "v": to }), json!({ "v": value }))
                .await
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains("field `v`") && err.contains(why),
                "{to} {value}: {err}"
            );
        }
    }

    #[test]
    fn unknown_types_are_config_errors() {
        let err = CastConfig::from_value(json!({"fields": {"a": "decimal"}}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("fields") && err.contains("decimal"), "{err}");
    }
}
