//! `timestamp_converter`: converts timestamp fields between formats.
//!
//! ```yaml
//! - type: timestamp_converter     # or TimestampConverter
//!   config:
//!     fields: [created_at, updated_at]
//!     format: iso8601             # iso8601 | unix_seconds | unix_millis | unix_micros | custom
//!     # pattern: "%Y-%m-%d %H:%M" # strftime pattern, for format: custom
//!     # input_format: unix_millis # default: auto
//!     # input_pattern: "%d/%m/%Y" # for input_format: custom
//! ```
//!
//! Input is detected when `input_format` is not given: strings are read as
//! RFC 3339 / ISO 8601 (`2026-01-02T03:04:05.123Z`, `2026-01-02 03:04:05`, offsets,
//! or a bare date — without an offset the time is UTC); numbers (and numeric strings)
//! by magnitude: below 10¹¹ seconds, below 10¹⁴ milliseconds, otherwise microseconds.
//! Output: `iso8601` is RFC 3339 in UTC (`Z`, fractional seconds when present);
//! `unix_seconds` drops sub-second digits, `unix_millis`/`unix_micros` keep them.
//! `null` stays `null`; a value that is no timestamp rejects the record, naming
//! the field and value.

use async_trait::async_trait;
use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;
use validator::{Validate, ValidationError};

use super::{record_error, shown, FieldPath};
use crate::connector::{Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::transforms::for_each_row_mut;
use crate::TransformConfig;

/// A timestamp representation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// RFC 3339 / ISO 8601 text.
    #[default]
    Iso8601,
    /// Seconds since the Unix epoch.
    UnixSeconds,
    /// Milliseconds since the Unix epoch.
    UnixMillis,
    /// Microseconds since the Unix epoch.
    UnixMicros,
    /// A strftime pattern (`pattern` / `input_pattern`).
    Custom,
}

/// Converts timestamp fields.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "timestamp_converter",
    version = env!("CARGO_PKG_VERSION"),
    description = "Convert timestamp fields between ISO 8601, Unix s/ms/us and custom formats",
    category = "utility",
    tags = ["time", "date", "epoch", "iso8601"],
    connector = TimestampConverter
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "patterns_fit"))]
pub struct TimestampConverterConfig {
    /// Fields to convert (dotted paths reach nested fields).
    #[validate(length(min = 1))]
    #[schemars(example = ["created_at"])]
    pub fields: Vec<FieldPath>,
    /// Output format.
    #[serde(default)]
    pub format: TimestampFormat,
    /// strftime pattern for `format: custom`, e.g. `%Y-%m-%d %H:%M:%S`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Input format; detected per value when not given.
    #[serde(default)]
    pub input_format: Option<TimestampFormat>,
    /// strftime pattern for `input_format: custom`.
    #[serde(default)]
    pub input_pattern: Option<String>,
}

fn patterns_fit(config: &TimestampConverterConfig) -> std::result::Result<(), ValidationError> {
    check_pattern(
        config.format,
        config.pattern.as_deref(),
        "format",
        "pattern",
    )?;
    match config.input_format {
        Some(f) => check_pattern(
            f,
            config.input_pattern.as_deref(),
            "input_format",
            "input_pattern",
        ),
        None if config.input_pattern.is_some() => Err(conflict(
            "`input_pattern` needs `input_format: custom`".into(),
        )),
        None => Ok(()),
    }
}

/// A `custom` format needs a valid pattern; other formats take none.
pub(crate) fn check_pattern(
    format: TimestampFormat,
    pattern: Option<&str>,
    format_key: &str,
    pattern_key: &str,
) -> std::result::Result<(), ValidationError> {
    match (format, pattern) {
        (TimestampFormat::Custom, None) => Err(conflict(format!(
            "`{format_key}: custom` needs `{pattern_key}`"
        ))),
        (TimestampFormat::Custom, Some(p)) => {
            if StrftimeItems::new(p).any(|item| matches!(item, Item::Error)) {
                Err(conflict(format!(
                    "`{pattern_key}` `{p}` is not a valid strftime pattern"
                )))
            } else {
                Ok(())
            }
        }
        (_, Some(_)) => Err(conflict(format!(
            "`{pattern_key}` is only used with `{format_key}: custom`"
        ))),
        (_, None) => Ok(()),
    }
}

fn conflict(message: String) -> ValidationError {
    ValidationError::new("conflict").with_message(message.into())
}

/// The `timestamp_converter` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimestampConverter;

#[async_trait]
impl Transform for TimestampConverter {
    type Config = TimestampConverterConfig;

    fn spec() -> ConnectorSpec {
        TimestampConverterConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &TimestampConverterConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        let mut failure = None;
        for_each_row_mut(&mut event, |row| {
            for path in &config.fields {
                let Some(value) = path.get_mut(row) else {
                    continue;
                };
                if value.is_null() || failure.is_some() {
                    continue;
                }
                let converted = parse(value, config.input_format, config.input_pattern.as_deref())
                    .and_then(|t| render(&t, config.format, config.pattern.as_deref()));
                match converted {
                    Some(v) => *value = v,
                    None => {
                        failure = Some(format!(
                            "timestamp_converter: field `{path}` = {} is not a timestamp{}",
                            shown(value),
                            expected(config)
                        ))
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

fn expected(config: &TimestampConverterConfig) -> String {
    match (config.input_format, &config.input_pattern) {
        (Some(TimestampFormat::Custom), Some(p)) => format!(" in the form `{p}`"),
        (Some(f), _) => format!(" ({f:?})"),
        (None, _) => String::new(),
    }
}

/// Reads a timestamp as `format` (detected when `None`).
pub(crate) fn parse(
    value: &Value,
    format: Option<TimestampFormat>,
    pattern: Option<&str>,
) -> Option<DateTime<Utc>> {
    let number = || match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    };
    match format {
        None => match value {
            Value::String(s) => parse_text(s).or_else(|| number().and_then(by_magnitude)),
            _ => number().and_then(by_magnitude),
        },
        Some(TimestampFormat::Iso8601) => value.as_str().and_then(parse_text),
        Some(TimestampFormat::UnixSeconds) => number().and_then(|n| from_micros(n * 1e6)),
        Some(TimestampFormat::UnixMillis) => number().and_then(|n| from_micros(n * 1e3)),
        Some(TimestampFormat::UnixMicros) => number().and_then(from_micros),
        Some(TimestampFormat::Custom) => {
            let (text, pattern) = (value.as_str()?, pattern?);
            DateTime::parse_from_str(text, pattern)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    NaiveDateTime::parse_from_str(text, pattern)
                        .ok()
                        .map(|t| t.and_utc())
                })
                .or_else(|| {
                    NaiveDate::parse_from_str(text, pattern)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|t| t.and_utc())
                })
        }
    }
}

fn by_magnitude(n: f64) -> Option<DateTime<Utc>> {
    let micros = if n.abs() < 1e11 {
        n * 1e6
    } else if n.abs() < 1e14 {
        n * 1e3
    } else {
        n
    };
    from_micros(micros)
}

fn from_micros(micros: f64) -> Option<DateTime<Utc>> {
    if !micros.is_finite() || micros.abs() > 9.2e18 {
        return None;
    }
    DateTime::from_timestamp_micros(micros.round() as i64)
}

fn parse_text(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for pattern in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, pattern) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for pattern in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, pattern) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Writes `t` as `format`.
pub(crate) fn render(
    t: &DateTime<Utc>,
    format: TimestampFormat,
    pattern: Option<&str>,
) -> Option<Value> {
    Some(match format {
        TimestampFormat::Iso8601 => Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        TimestampFormat::UnixSeconds => Value::from(t.timestamp()),
        TimestampFormat::UnixMillis => Value::from(t.timestamp_millis()),
        TimestampFormat::UnixMicros => Value::from(t.timestamp_micros()),
        TimestampFormat::Custom => {
            let mut out = String::new();
            // `write!` reports a pattern chrono cannot render instead of panicking.
            write!(out, "{}", t.format(pattern?)).ok()?;
            Value::String(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::json;

    async fn convert(config: Value, data: Value) -> Result<Value> {
        let config = TimestampConverterConfig::from_value(config)?;
        let out = TimestampConverter
            .transform(&config, SourceEvent::record("t", data))
            .await?;
        Ok(out.into_events().remove(0).data)
    }

    #[tokio::test]
    async fn converts_between_every_format() -> Result<()> {
        let iso = "2026-01-02T03:04:05.123Z";
        let millis = 1_767_323_045_123_i64;
        let to = |format: &str| json!({"fields": ["t"], "format": format});
        assert_eq!(
            convert(to("unix_millis"), json!({"t": iso})).await?["t"],
            millis
        );
        assert_eq!(
            convert(to("unix_seconds"), json!({"t": iso})).await?["t"],
            millis / 1000
        );
        assert_eq!(
            convert(to("unix_micros"), json!({"t": iso})).await?["t"],
            millis * 1000
        );
        assert_eq!(
            convert(to("iso8601"), json!({"t": millis})).await?["t"],
            iso
        );
        assert_eq!(
            convert(to("iso8601"), json!({"t": millis / 1000})).await?["t"],
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            convert(to("iso8601"), json!({"t": millis * 1000})).await?["t"],
            iso
        );
        assert_eq!(
            convert(to("iso8601"), json!({"t": "1767323045123"})).await?["t"],
            iso
        );
        assert_eq!(
            convert(to("iso8601"), json!({"t": "2026-01-02 04:04:05.123+01:00"})).await?["t"],
            iso
        );
        assert_eq!(
            convert(to("iso8601"), json!({"t": "2026-01-02"})).await?["t"],
            "2026-01-02T00:00:00Z"
        );
        let custom = json!({"fields": ["t"], "format": "custom", "pattern": "%d/%m/%Y %H:%M"});
        assert_eq!(
            convert(custom, json!({"t": iso})).await?["t"],
            "02/01/2026 03:04"
        );
        let input = json!({"fields": ["t"], "format": "unix_seconds", "input_format": "custom", "input_pattern": "%d/%m/%Y"});
        assert_eq!(
            convert(input, json!({"t": "02/01/2026"})).await?["t"],
            1_767_312_000
        );
        let explicit =
            json!({"fields": ["t"], "format": "iso8601", "input_format": "unix_seconds"});
        assert_eq!(
            convert(explicit, json!({"t": 5})).await?["t"],
            "1970-01-01T00:00:05Z"
        );
        assert_eq!(
            convert(to("unix_millis"), json!({"t": null})).await?["t"],
            Value::Null
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_value_that_is_no_timestamp_rejects_the_record() {
        let err = convert(
            json!({"fields": ["t"], "format": "unix_millis"}),
            json!({"t": "soon"}),
        )
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("field `t` = \"soon\" is not a timestamp"),
            "{err}"
        );
    }

    #[test]
    fn patterns_are_checked_when_the_config_loads() {
        for bad in [
            json!({"fields": ["t"], "format": "custom"}),
            json!({"fields": ["t"], "format": "custom", "pattern": "%Q"}),
            json!({"fields": ["t"], "pattern": "%Y"}),
            json!({"fields": ["t"], "input_pattern": "%Y"}),
            json!({"fields": ["t"], "format": "weekly"}),
        ] {
            assert!(
                TimestampConverterConfig::from_value(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
