//! PostgreSQL text-format values to JSON.
//!
//! The source's connections set `DateStyle=ISO`, `IntervalStyle=iso_8601`,
//! `TimeZone=UTC` and `extra_float_digits=3`, so every value — from pgoutput
//! or from a snapshot `SELECT` — arrives in the text formats below, and is
//! mapped to JSON as follows:
//!
//! | PostgreSQL type                            | JSON value                                      | example (PG text → JSON)                                       |
//! |--------------------------------------------|-------------------------------------------------|----------------------------------------------------------------|
//! | `int2`, `int4`, `int8`, `oid`              | integer                                         | `42` → `42`                                                    |
//! | `numeric`                                  | string, exactly as PostgreSQL printed it        | `123.4500` → `"123.4500"`, `NaN` → `"NaN"`                     |
//! | `float4`, `float8`                         | number; `NaN`, `Infinity`, `-Infinity` as strings | `1.5` → `1.5`, `Infinity` → `"Infinity"`                     |
//! | `bool`                                     | boolean                                         | `t` → `true`                                                   |
//! | `text`, `varchar`, `bpchar`, `char`, `name`| string, as is (bpchar keeps its padding)        | `abc` → `"abc"`                                                |
//! | enums, unknown types                       | string, as is                                   | `happy` → `"happy"`                                            |
//! | `bytea`                                    | string, standard base64 (with padding)          | `\x0a0bff` → `"Cgv/"`                                          |
//! | `uuid`                                     | string, lowercase                               | `a0eebc99-9c0b-…` → `"a0eebc99-9c0b-…"`                        |
//! | `json`, `jsonb`                            | the JSON value itself (not a string)            | `{"a": 1}` → `{"a":1}`                                         |
//! | `json`, `jsonb` that JSON values here cannot hold exactly | string: the document's exact text, as PostgreSQL printed it | `{"a": 1e400}` → `"{\"a\": 1e400}"`            |
//! | `date`                                     | string, as printed                              | `2024-01-02` → `"2024-01-02"`                                  |
//! | `time`                                     | string, as printed                              | `13:45:00.123456` → `"13:45:00.123456"`                        |
//! | `timetz`                                   | string, offset as `±HH:MM`                      | `13:45:00+02` → `"13:45:00+02:00"`                             |
//! | `timestamp`                                | string, ISO 8601 with `T`, no offset            | `2024-01-02 03:04:05.5` → `"2024-01-02T03:04:05.5"`            |
//! | `timestamptz`                              | string, RFC 3339; UTC as `Z`, other offsets `±HH:MM` | `2024-01-02 03:04:05+00` → `"2024-01-02T03:04:05Z"`       |
//! | `interval`                                 | string, ISO 8601 duration                       | `P1Y2M3DT4H5M6.5S` → `"P1Y2M3DT4H5M6.5S"`                      |
//! | arrays of any of these                     | array (nested for multi-dimensional arrays); NULL elements → `null` | `{{1,2},{3,NULL}}` → `[[1,2],[3,null]]`    |
//!
//! A `json`/`jsonb` document is kept as its exact text (a JSON string)
//! instead of a parsed value when parsing it would change or refuse it: a
//! number beyond `f64`'s range (`1e400`) or precision
//! (`12345678901234567890123`, `0.1000000000000000000001`), nesting deeper
//! than serde_json's recursion limit of 128 (a depth-10 000 document is
//! valid in PostgreSQL), or anything else PostgreSQL stores and serde_json
//! refuses (a lone surrogate escape in `json`). The parse stops at depth 128,
//! so no document can exhaust the stack, here or in a sink serializing the
//! event; the same applies to each element of `json[]`/`jsonb[]`.
//!
//! Special values: `infinity` / `-infinity` dates and timestamps stay those
//! strings; dates and timestamps before year 1 keep PostgreSQL's ` BC`
//! suffix (`0044-03-15T12:00:00 BC`); offsets with seconds (historical time
//! zones, `+00:09:21`) are kept as printed. Array bounds such as
//! `[0:1]={1,2}` are dropped: the JSON array holds the elements only.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use self::array::decode_array;
pub(crate) use crate::common::json::decode_json;

mod array;

/// How many characters of the offending text a [`ValueError`] quotes.
const MAX_QUOTED_CHARS: usize = 64;

/// A column type, resolved from its OID (builtins known statically; user
/// types such as enums, domains and their arrays resolved by the caller from
/// pg_type and passed in as PgType::Enum / Array(..) / etc.)
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PgType {
    /// `bool`.
    Bool,
    /// `int2` / `smallint`.
    Int2,
    /// `int4` / `integer`.
    Int4,
    /// `int8` / `bigint`.
    Int8,
    /// `oid`.
    Oid,
    /// `float4` / `real`.
    Float4,
    /// `float8` / `double precision`.
    Float8,
    /// `numeric` / `decimal`.
    Numeric,
    /// `text`, `varchar`, `bpchar`, `char` and `name`.
    Text,
    /// `bytea`.
    Bytea,
    /// `uuid`.
    Uuid,
    /// `json`.
    Json,
    /// `jsonb`.
    Jsonb,
    /// `date`.
    Date,
    /// `time` (without time zone).
    Time,
    /// `timetz` (time with time zone).
    TimeTz,
    /// `timestamp` (without time zone).
    Timestamp,
    /// `timestamptz` (timestamp with time zone).
    TimestampTz,
    /// `interval`.
    Interval,
    /// A user-defined enum type.
    Enum,
    /// An array of the element type.
    Array(Box<PgType>),
    /// Any other type, by name; its text form is passed through as a string.
    Other(String),
}

impl PgType {
    /// Builtin type by OID, including the builtin array OIDs (bool[] 1000,
    /// int2[] 1005, int4[] 1007, int8[] 1016, float4[] 1021, float8[] 1022,
    /// numeric[] 1231, text[] 1009, varchar[] 1015, bpchar[] 1014, char[] 1002,
    /// name[] 1003, bytea[] 1001, uuid[] 2951, json[] 199, jsonb[] 3807,
    /// date[] 1182, time[] 1183, timetz[] 1270, timestamp[] 1115,
    /// timestamptz[] 1185, interval[] 1187, oid[] 1028). None for unknown OIDs.
    pub(crate) fn from_builtin_oid(oid: u32) -> Option<PgType> {
        let scalar = match oid {
            16 => PgType::Bool,
            17 => PgType::Bytea,
            18 | 19 | 25 | 1042 | 1043 => PgType::Text,
            20 => PgType::Int8,
            21 => PgType::Int2,
            23 => PgType::Int4,
            26 => PgType::Oid,
            114 => PgType::Json,
            700 => PgType::Float4,
            701 => PgType::Float8,
            1082 => PgType::Date,
            1083 => PgType::Time,
            1114 => PgType::Timestamp,
            1184 => PgType::TimestampTz,
            1186 => PgType::Interval,
            1266 => PgType::TimeTz,
            1700 => PgType::Numeric,
            2950 => PgType::Uuid,
            3802 => PgType::Jsonb,
            _ => {
                let element = match oid {
                    1000 => 16,
                    1001 => 17,
                    1002 => 18,
                    1003 => 19,
                    1005 => 21,
                    1007 => 23,
                    1009 => 25,
                    1014 => 1042,
                    1015 => 1043,
                    1016 => 20,
                    1021 => 700,
                    1022 => 701,
                    1028 => 26,
                    199 => 114,
                    1115 => 1114,
                    1182 => 1082,
                    1183 => 1083,
                    1185 => 1184,
                    1187 => 1186,
                    1231 => 1700,
                    1270 => 1266,
                    2951 => 2950,
                    3807 => 3802,
                    _ => return None,
                };
                return PgType::from_builtin_oid(element).map(|t| PgType::Array(Box::new(t)));
            }
        };
        Some(scalar)
    }

    /// The type's name, for error messages (`int4`, `text[]`, …).
    pub(crate) fn name(&self) -> String {
        let name = match self {
            PgType::Bool => "bool",
            PgType::Int2 => "int2",
            PgType::Int4 => "int4",
            PgType::Int8 => "int8",
            PgType::Oid => "oid",
            PgType::Float4 => "float4",
            PgType::Float8 => "float8",
            PgType::Numeric => "numeric",
            PgType::Text => "text",
            PgType::Bytea => "bytea",
            PgType::Uuid => "uuid",
            PgType::Json => "json",
            PgType::Jsonb => "jsonb",
            PgType::Date => "date",
            PgType::Time => "time",
            PgType::TimeTz => "timetz",
            PgType::Timestamp => "timestamp",
            PgType::TimestampTz => "timestamptz",
            PgType::Interval => "interval",
            PgType::Enum => "enum",
            PgType::Array(element) => return format!("{}[]", element.name()),
            PgType::Other(name) => name,
        };
        name.to_owned()
    }

    /// The JSON Schema fragment for a column of this type (for discover).
    /// Nullability is left to the caller.
    ///
    /// Standard formats are used where the value fits them (`uuid`, `date`,
    /// `time` for timetz, `date-time` for timestamptz, `duration`); values
    /// without an offset get the annotations `partial-time` (time) and
    /// `local-date-time` (timestamp), which validators ignore.
    pub(crate) fn json_schema(&self) -> Value {
        let string_format = |format: &str| serde_json::json!({"type": "string", "format": format});
        match self {
            PgType::Bool => serde_json::json!({"type": "boolean"}),
            PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid => {
                serde_json::json!({"type": "integer"})
            }
            PgType::Float4 | PgType::Float8 => serde_json::json!({"type": ["number", "string"]}),
            PgType::Numeric => string_format("decimal"),
            PgType::Text | PgType::Enum | PgType::Other(_) => serde_json::json!({"type": "string"}),
            PgType::Bytea => serde_json::json!({"type": "string", "contentEncoding": "base64"}),
            PgType::Uuid => string_format("uuid"),
            PgType::Json | PgType::Jsonb => serde_json::json!({}),
            PgType::Date => string_format("date"),
            PgType::Time => string_format("partial-time"),
            PgType::TimeTz => string_format("time"),
            PgType::Timestamp => string_format("local-date-time"),
            PgType::TimestampTz => string_format("date-time"),
            PgType::Interval => string_format("duration"),
            PgType::Array(element) => {
                serde_json::json!({"type": "array", "items": element.json_schema()})
            }
        }
    }

    /// Convert one text value.
    pub(crate) fn decode_text(&self, text: &str) -> Result<Value, ValueError> {
        self.decode_inner(text)
            .map_err(|reason| ValueError::new(self, text, reason))
    }

    fn decode_inner(&self, text: &str) -> Result<Value, String> {
        match self {
            PgType::Bool => match text {
                "t" => Ok(Value::Bool(true)),
                "f" => Ok(Value::Bool(false)),
                _ => Err("expected 't' or 'f'".to_owned()),
            },
            PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|e| format!("not an integer: {e}")),
            PgType::Float4 | PgType::Float8 => decode_float(text),
            PgType::Numeric => decode_numeric(text),
            PgType::Text | PgType::Enum | PgType::Other(_) => Ok(Value::String(text.to_owned())),
            PgType::Bytea => decode_bytea(text),
            PgType::Uuid => decode_uuid(text),
            PgType::Json | PgType::Jsonb => Ok(decode_json(text)),
            PgType::Date => decode_date(text),
            PgType::Time => {
                check_time(text)?;
                Ok(Value::String(text.to_owned()))
            }
            PgType::TimeTz => {
                let (time, offset) = split_offset(text)?;
                check_time(time)?;
                Ok(Value::String(format!(
                    "{time}{}",
                    normalize_offset(offset)?
                )))
            }
            PgType::Timestamp => decode_timestamp(text, false),
            PgType::TimestampTz => decode_timestamp(text, true),
            PgType::Interval => {
                if text.starts_with('P') || text.starts_with("-P") {
                    Ok(Value::String(text.to_owned()))
                } else {
                    Err("expected an ISO 8601 duration (IntervalStyle=iso_8601)".to_owned())
                }
            }
            PgType::Array(element) => decode_array(element, text),
        }
    }
}

/// A text value that does not fit its column type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {type_name} value {text:?}: {reason}")]
pub(crate) struct ValueError {
    /// The column type's name.
    type_name: String,
    /// The offending text, at most [`MAX_QUOTED_CHARS`] characters.
    text: String,
    /// What was wrong.
    reason: String,
}

impl ValueError {
    fn new(pg_type: &PgType, text: &str, reason: String) -> Self {
        let mut quoted: String = text.chars().take(MAX_QUOTED_CHARS).collect();
        if quoted.len() < text.len() {
            quoted.push('…');
        }
        ValueError {
            type_name: pg_type.name(),
            text: quoted,
            reason,
        }
    }
}

fn decode_float(text: &str) -> Result<Value, String> {
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Ok(Value::String(text.to_owned()));
    }
    // Rust also parses "inf" and "nan", which PostgreSQL never prints: those
    // and overflowing literals end up non-finite and are refused here.
    let parsed: f64 = text.parse().map_err(|e| format!("not a number: {e}"))?;
    serde_json::Number::from_f64(parsed)
        .map(Value::Number)
        .ok_or_else(|| "not a finite number".to_owned())
}

fn decode_numeric(text: &str) -> Result<Value, String> {
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Ok(Value::String(text.to_owned()));
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if all_digits(int) && all_digits(frac) {
        Ok(Value::String(text.to_owned()))
    } else {
        Err("not a decimal number".to_owned())
    }
}

fn decode_bytea(text: &str) -> Result<Value, String> {
    let hex = text
        .strip_prefix("\\x")
        .ok_or("expected hex format starting with \\x (bytea_output=hex)")?;
    if hex.len() % 2 != 0 {
        return Err("odd number of hex digits".to_owned());
    }
    let bytes = hex
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => Some((hex_digit(*high)? << 4) | hex_digit(*low)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or("invalid hex digit")?;
    Ok(Value::String(STANDARD.encode(bytes)))
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn decode_uuid(text: &str) -> Result<Value, String> {
    let well_formed = text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if well_formed {
        Ok(Value::String(text.to_ascii_lowercase()))
    } else {
        Err("expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".to_owned())
    }
}

fn decode_date(text: &str) -> Result<Value, String> {
    if !matches!(text, "infinity" | "-infinity") {
        check_date(text.strip_suffix(" BC").unwrap_or(text))?;
    }
    Ok(Value::String(text.to_owned()))
}

/// `timestamp[tz]`: the space becomes `T`, the offset (tz only) `Z` or `±HH:MM`.
fn decode_timestamp(text: &str, with_zone: bool) -> Result<Value, String> {
    if matches!(text, "infinity" | "-infinity") {
        return Ok(Value::String(text.to_owned()));
    }
    let (body, era) = match text.strip_suffix(" BC") {
        Some(body) => (body, " BC"),
        None => (text, ""),
    };
    let (date, rest) = body
        .split_once(' ')
        .ok_or("expected a date and a time separated by a space")?;
    check_date(date)?;
    let (time, offset) = if with_zone {
        let (time, offset) = split_offset(rest)?;
        let offset = normalize_offset(offset)?;
        let offset = if offset == "+00:00" || offset == "-00:00" {
            "Z".to_owned()
        } else {
            offset
        };
        (time, offset)
    } else {
        (rest, String::new())
    };
    check_time(time)?;
    Ok(Value::String(format!("{date}T{time}{offset}{era}")))
}

fn check_date(date: &str) -> Result<(), String> {
    let ok = date.starts_with(|c: char| c.is_ascii_digit())
        && date.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err("expected an ISO date (DateStyle=ISO)".to_owned())
    }
}

fn check_time(time: &str) -> Result<(), String> {
    let ok = time.starts_with(|c: char| c.is_ascii_digit())
        && time
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b':' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err("expected a time hh:mm:ss[.ffffff]".to_owned())
    }
}

/// Splits `13:45:00+02` into the time and the signed offset (`+02`).
fn split_offset(text: &str) -> Result<(&str, &str), String> {
    let at = text.find(['+', '-']).ok_or("expected a time zone offset")?;
    Ok(text.split_at(at))
}

/// `+HH` becomes `+HH:MM`; `+HH:MM` and `+HH:MM:SS` are kept.
fn normalize_offset(offset: &str) -> Result<String, String> {
    let digits = offset.get(1..).unwrap_or_default();
    let groups: Vec<&str> = digits.split(':').collect();
    let valid = !groups.is_empty()
        && groups.len() <= 3
        && groups
            .iter()
            .all(|g| g.len() == 2 && g.bytes().all(|b| b.is_ascii_digit()));
    if !valid {
        return Err(format!("invalid time zone offset {offset:?}"));
    }
    Ok(if groups.len() == 1 {
        format!("{offset}:00")
    } else {
        offset.to_owned()
    })
}

#[cfg(test)]
mod tests;
