//! MySQL/MariaDB values as JSON, the same from the snapshot (binary
//! protocol) and the binary log (row images).
//!
//! | type | JSON |
//! |---|---|
//! | `TINYINT` … `BIGINT`, signed or `UNSIGNED` | number (exact up to `u64`/`i64`) |
//! | `DECIMAL`/`NUMERIC` | string, exact (`"12.50"`) |
//! | `FLOAT` | number, the shortest decimal that reads back as the same `f32` |
//! | `DOUBLE` | number |
//! | `BIT(n)` | number (the bits as an unsigned integer) |
//! | `ENUM` | string: the label (`""` for MySQL's invalid-value index 0) |
//! | `SET` | string: the labels, comma-separated, in definition order |
//! | `YEAR` | number (`0` for the zero year) |
//! | `DATE` | `"YYYY-MM-DD"` |
//! | `TIME` | `"[-]HH:MM:SS[.ffffff]"` (hours up to 838) |
//! | `DATETIME` | `"YYYY-MM-DDTHH:MM:SS[.ffffff]"` (no zone: it has none) |
//! | `TIMESTAMP` | `"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"` (UTC) |
//! | `JSON` | the JSON value (MySQL's binary JSON and MariaDB's text JSON alike); a MariaDB document the JSON values here cannot hold exactly (`1e400`, integers beyond `u64`, nesting deeper than 128) is its exact text, a string, as `postgres-cdc` does for `jsonb` |
//! | `CHAR`/`VARCHAR`/`TEXT` | string, decoded from the column's charset |
//! | `BINARY`/`VARBINARY`/`BLOB` | string, base64 |
//! | `GEOMETRY` (and its subtypes) | string, base64 of the WKB (no SRID prefix) |
//! | `NULL` | `null` |
//!
//! Fractional seconds have as many digits as the column declares. Values
//! with no JSON counterpart are explicit, never guessed: zero dates keep
//! MySQL's spelling (`"0000-00-00"`, `"0000-00-00T00:00:00"`, with `Z` for
//! a `TIMESTAMP`), and a value that cannot be decoded (text in an
//! unsupported charset, JSON text that is not UTF-8, a truncated image) is a data error
//! naming the table and column.

use base64::Engine;
use serde_json::{Number, Value};

use crate::common::json::decode_json;

/// What a column holds, from `information_schema` (so the same for the
/// snapshot and the stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// An integer type; `bytes` is its width (1, 2, 3, 4, 8).
    Int {
        /// `UNSIGNED`.
        unsigned: bool,
        /// Width in bytes.
        bytes: u8,
    },
    /// `FLOAT`.
    Float,
    /// `DOUBLE`/`REAL`.
    Double,
    /// `DECIMAL`/`NUMERIC`.
    Decimal,
    /// `BIT(n)`.
    Bit,
    /// `ENUM` with its labels in order.
    Enum(Vec<String>),
    /// `SET` with its labels in order.
    Set(Vec<String>),
    /// `YEAR`.
    Year,
    /// `DATE`.
    Date,
    /// `TIME(fsp)`.
    Time(u8),
    /// `DATETIME(fsp)`.
    DateTime(u8),
    /// `TIMESTAMP(fsp)`.
    Timestamp(u8),
    /// `JSON` (MariaDB: a text column checked by `json_valid`).
    Json,
    /// Character data in this charset.
    Text(Charset),
    /// `BINARY(n)` (padded to `n` bytes) or `VARBINARY`/`BLOB` (`None`).
    Binary(Option<usize>),
    /// `GEOMETRY` and its subtypes.
    Geometry,
}

/// The character sets text is decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `utf8mb4`, `utf8mb3`/`utf8`, `ascii`.
    Utf8,
    /// `latin1` (MySQL's latin1 is Windows-1252).
    Latin1,
    /// Anything else: decoded only when it is valid UTF-8.
    Other,
}

impl Charset {
    /// The charset of `information_schema.COLUMNS.CHARACTER_SET_NAME`.
    pub fn from_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "utf8mb4" | "utf8mb3" | "utf8" | "ascii" => Charset::Utf8,
            "latin1" => Charset::Latin1,
            _ => Charset::Other,
        }
    }
}

/// A value as decoded from a row image or the binary protocol, before its
/// column kind turns it into JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL `NULL`.
    Null,
    /// An integer, sign-extended from its width (an `UNSIGNED` column's
    /// bits are reinterpreted by [`to_json`]).
    Int(i64),
    /// An unsigned integer (the binary protocol's `BIGINT UNSIGNED`).
    UInt(u64),
    /// A `FLOAT`.
    Float(f32),
    /// A `DOUBLE`.
    Double(f64),
    /// Bytes: strings, blobs, decimals as text, bits, JSON text.
    Bytes(Vec<u8>),
    /// An `ENUM` index (1-based; 0 = the invalid value).
    EnumIndex(u16),
    /// A `SET` bitmask.
    SetBits(u64),
    /// A date and time of day.
    DateTime {
        /// Year (0 for a zero date).
        year: u16,
        /// Month.
        month: u8,
        /// Day.
        day: u8,
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
        /// Second.
        second: u8,
        /// Microseconds.
        micros: u32,
    },
    /// A `TIMESTAMP` from the binary log: seconds since the epoch (UTC).
    Epoch {
        /// Seconds.
        seconds: u32,
        /// Microseconds.
        micros: u32,
    },
    /// A `TIME`.
    Time {
        /// Negative.
        negative: bool,
        /// Hours (may exceed 24).
        hours: u32,
        /// Minutes.
        minutes: u8,
        /// Seconds.
        seconds: u8,
        /// Microseconds.
        micros: u32,
    },
    /// A decoded JSON value (MySQL's binary JSON).
    Json(Value),
}

impl Cell {
    /// MySQL's zero date and time, `0000-00-00 00:00:00`.
    pub const ZERO_DATETIME: Cell = Cell::DateTime {
        year: 0,
        month: 0,
        day: 0,
        hour: 0,
        minute: 0,
        second: 0,
        micros: 0,
    };
}

/// The JSON of `cell` in a column of `kind`, or why there is none.
pub fn to_json(kind: &ColumnKind, cell: Cell) -> Result<Value, String> {
    use ColumnKind as K;
    Ok(match (kind, cell) {
        (_, Cell::Null) => Value::Null,
        (
            K::Int {
                unsigned: true,
                bytes,
            },
            Cell::Int(v),
        ) => {
            let mask = if *bytes >= 8 {
                u64::MAX
            } else {
                (1u64 << (u32::from(*bytes) * 8)) - 1
            };
            Value::from((v as u64) & mask)
        }
        (K::Int { .. } | K::Year, Cell::Int(v)) => Value::from(v),
        (K::Int { .. } | K::Year, Cell::UInt(v)) => Value::from(v),
        (K::Float, Cell::Float(f)) => float(f)?,
        (K::Float, Cell::Double(d)) => float(d as f32)?,
        (K::Double, Cell::Double(d)) => double(d)?,
        (K::Double, Cell::Float(f)) => double(f64::from(f))?,
        (K::Decimal, Cell::Bytes(b)) => Value::String(utf8(b)?),
        (K::Bit, Cell::Bytes(b)) => {
            if b.len() > 8 {
                return Err(format!("BIT value of {} bytes", b.len()));
            }
            Value::from(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
        }
        (K::Bit, Cell::Int(v)) => Value::from(v as u64),
        (K::Bit, Cell::UInt(v)) => Value::from(v),
        (K::Enum(_), Cell::EnumIndex(0)) => Value::String(String::new()),
        (K::Enum(labels), Cell::EnumIndex(i)) => match labels.get(usize::from(i) - 1) {
            Some(l) => Value::String(l.clone()),
            None => return Err(format!("ENUM index {i} beyond its {} labels", labels.len())),
        },
        (K::Enum(_) | K::Set(_), Cell::Bytes(b)) => Value::String(utf8(b)?),
        (K::Set(labels), Cell::SetBits(bits)) => {
            if labels.len() < 64 && bits >> labels.len() != 0 {
                return Err(format!(
                    "SET bits {bits:#x} beyond its {} labels",
                    labels.len()
                ));
            }
            let chosen: Vec<&str> = labels
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1u64 << i) != 0)
                .map(|(_, l)| l.as_str())
                .collect();
            Value::String(chosen.join(","))
        }
        (K::Year, Cell::Bytes(b)) => {
            Value::from(utf8(b)?.parse::<u16>().map_err(|e| e.to_string())?)
        }
        (
            K::Date,
            Cell::DateTime {
                year, month, day, ..
            },
        ) => Value::String(format!("{year:04}-{month:02}-{day:02}")),
        (K::DateTime(fsp), c @ Cell::DateTime { .. }) => Value::String(datetime(&c, *fsp, "")),
        (K::Timestamp(fsp), c @ Cell::DateTime { .. }) => Value::String(datetime(&c, *fsp, "Z")),
        (K::Timestamp(fsp), Cell::Epoch { seconds, micros }) => {
            let c = if seconds == 0 && micros == 0 {
                Cell::ZERO_DATETIME
            } else {
                let t = chrono::DateTime::from_timestamp(
                    i64::from(seconds),
                    micros.min(999_999) * 1000,
                )
                .ok_or_else(|| format!("TIMESTAMP {seconds} out of range"))?;
                use chrono::{Datelike, Timelike};
                Cell::DateTime {
                    year: u16::try_from(t.year()).unwrap_or(0),
                    month: t.month() as u8,
                    day: t.day() as u8,
                    hour: t.hour() as u8,
                    minute: t.minute() as u8,
                    second: t.second() as u8,
                    micros: micros.min(999_999),
                }
            };
            Value::String(datetime(&c, *fsp, "Z"))
        }
        (
            K::Time(fsp),
            Cell::Time {
                negative,
                hours,
                minutes,
                seconds,
                micros,
            },
        ) => {
            let sign = if negative { "-" } else { "" };
            Value::String(format!(
                "{sign}{hours:02}:{minutes:02}:{seconds:02}{}",
                fraction(micros, *fsp)
            ))
        }
        (K::Json, Cell::Json(v)) => v,
        (K::Json, Cell::Bytes(b)) => {
            let doc =
                std::str::from_utf8(&b).map_err(|e| format!("JSON text is not UTF-8: {e}"))?;
            decode_json(doc)
        }
        (K::Text(charset), Cell::Bytes(b)) => Value::String(text(*charset, b)?),
        (K::Binary(pad), Cell::Bytes(mut b)) => {
            if let Some(n) = pad {
                if b.len() < *n {
                    b.resize(*n, 0);
                }
            }
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (K::Geometry, Cell::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (kind, cell) => return Err(format!("a {} value in a {kind:?} column", cell_name(&cell))),
    })
}

fn cell_name(cell: &Cell) -> &'static str {
    match cell {
        Cell::Null => "NULL",
        Cell::Int(_) | Cell::UInt(_) => "integer",
        Cell::Float(_) | Cell::Double(_) => "floating-point",
        Cell::Bytes(_) => "byte string",
        Cell::EnumIndex(_) => "ENUM index",
        Cell::SetBits(_) => "SET bitmask",
        Cell::DateTime { .. } => "date/time",
        Cell::Epoch { .. } => "timestamp",
        Cell::Time { .. } => "time",
        Cell::Json(_) => "JSON",
    }
}

fn float(f: f32) -> Result<Value, String> {
    // The shortest decimal that reads back as this f32: `1.1`, not
    // `1.100000023841858`.
    let shortest: f64 = f.to_string().parse().map_err(|e| format!("{e}"))?;
    double(shortest)
}

fn double(d: f64) -> Result<Value, String> {
    Number::from_f64(d)
        .map(Value::Number)
        .ok_or_else(|| format!("{d} has no JSON number"))
}

fn utf8(b: Vec<u8>) -> Result<String, String> {
    String::from_utf8(b).map_err(|_| "invalid UTF-8".to_string())
}

fn text(charset: Charset, b: Vec<u8>) -> Result<String, String> {
    match charset {
        Charset::Utf8 => utf8(b),
        Charset::Latin1 => Ok(b.iter().map(|&x| cp1252(x)).collect()),
        Charset::Other => utf8(b).map_err(|_| {
            "text in a charset other than utf8mb4, utf8mb3, ascii or latin1".to_string()
        }),
    }
}

/// Windows-1252, which MySQL calls latin1.
fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}',
        '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}',
        '\u{178}',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

fn fraction(micros: u32, fsp: u8) -> String {
    if fsp == 0 {
        return String::new();
    }
    let digits = format!("{:06}", micros.min(999_999));
    format!(".{}", &digits[..usize::from(fsp.min(6))])
}

fn datetime(c: &Cell, fsp: u8, zone: &str) -> String {
    match c {
        Cell::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        } => format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{}{zone}",
            fraction(*micros, fsp)
        ),
        _ => String::new(),
    }
}

/// A binary-protocol value (the snapshot's) as a [`Cell`].
pub fn from_protocol(value: mysql_async::Value) -> Cell {
    use mysql_async::Value as V;
    match value {
        V::NULL => Cell::Null,
        V::Bytes(b) => Cell::Bytes(b),
        V::Int(i) => Cell::Int(i),
        V::UInt(u) => Cell::UInt(u),
        V::Float(f) => Cell::Float(f),
        V::Double(d) => Cell::Double(d),
        V::Date(year, month, day, hour, minute, second, micros) => Cell::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        },
        V::Time(negative, days, hours, minutes, seconds, micros) => Cell::Time {
            negative,
            hours: days.saturating_mul(24).saturating_add(u32::from(hours)),
            minutes,
            seconds,
            micros,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unsigned_integers_are_reinterpreted_by_width() {
        let k = ColumnKind::Int {
            unsigned: true,
            bytes: 1,
        };
        assert_eq!(to_json(&k, Cell::Int(-1)).unwrap(), json!(255));
        let k = ColumnKind::Int {
            unsigned: true,
            bytes: 8,
        };
        assert_eq!(to_json(&k, Cell::Int(-1)).unwrap(), json!(u64::MAX));
        let k = ColumnKind::Int {
            unsigned: false,
            bytes: 8,
        };
        assert_eq!(to_json(&k, Cell::Int(i64::MIN)).unwrap(), json!(i64::MIN));
    }

    #[test]
    fn floats_are_their_shortest_decimal() {
        assert_eq!(
            to_json(&ColumnKind::Float, Cell::Float(1.1)).unwrap(),
            json!(1.1)
        );
        assert!(to_json(&ColumnKind::Double, Cell::Double(f64::NAN)).is_err());
    }

    #[test]
    fn zero_dates_are_explicit() {
        let zero = Cell::ZERO_DATETIME;
        assert_eq!(
            to_json(&ColumnKind::Date, zero.clone()).unwrap(),
            json!("0000-00-00")
        );
        assert_eq!(
            to_json(&ColumnKind::DateTime(0), zero.clone()).unwrap(),
            json!("0000-00-00T00:00:00")
        );
        assert_eq!(
            to_json(
                &ColumnKind::Timestamp(2),
                Cell::Epoch {
                    seconds: 0,
                    micros: 0
                }
            )
            .unwrap(),
            json!("0000-00-00T00:00:00.00Z")
        );
        assert_eq!(
            to_json(
                &ColumnKind::Timestamp(3),
                Cell::Epoch {
                    seconds: 86_400,
                    micros: 5_000
                }
            )
            .unwrap(),
            json!("1970-01-02T00:00:00.005Z")
        );
    }

    #[test]
    fn enums_and_sets_are_labels() {
        let e = ColumnKind::Enum(vec!["a".into(), "b".into()]);
        assert_eq!(to_json(&e, Cell::EnumIndex(2)).unwrap(), json!("b"));
        assert!(to_json(&e, Cell::EnumIndex(3)).is_err());
        let s = ColumnKind::Set(vec!["x".into(), "y".into(), "z".into()]);
        assert_eq!(to_json(&s, Cell::SetBits(0b101)).unwrap(), json!("x,z"));
        assert!(to_json(&s, Cell::SetBits(0b1000)).is_err());
    }

    #[test]
    fn latin1_is_windows_1252() {
        let t = ColumnKind::Text(Charset::Latin1);
        assert_eq!(
            to_json(&t, Cell::Bytes(vec![0x80, b'a', 0xE9])).unwrap(),
            json!("€aé")
        );
        let u = ColumnKind::Text(Charset::Utf8);
        assert!(to_json(&u, Cell::Bytes(vec![0xff])).is_err());
    }

    #[test]
    fn binary_is_padded_base64() {
        let b = ColumnKind::Binary(Some(4));
        assert_eq!(
            to_json(&b, Cell::Bytes(vec![1])).unwrap(),
            json!("AQAAAA==")
        );
    }
}
