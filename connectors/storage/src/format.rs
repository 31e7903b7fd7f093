//! The formats of this family and how a configuration picks one: `jsonl`
//! and `json` (from `rivven-connect`), `csv`, and — by feature — `parquet`
//! and `avro`.

use rivven_connect::format::{FormatWriter, JsonArrayWriter, JsonlWriter};
use rivven_connect::{ConnectorError, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::ValidationError;

use crate::compression::Compression;
use crate::csv::{CsvOptions, CsvWriter};

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON array per object (`.json`).
    #[default]
    Json,
    /// JSON Lines (`.jsonl`).
    Jsonl,
    /// CSV (`.csv`), see the `csv` options.
    Csv,
    /// Apache Parquet (`.parquet`; feature `parquet`).
    Parquet,
    /// Apache Avro object container files (`.avro`; feature `avro`).
    Avro,
}

impl Format {
    /// The name in configurations.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Avro => "avro",
        }
    }

    /// Whether `compression` applies (text formats; Parquet and Avro
    /// compress inside the file).
    pub fn is_text(self) -> bool {
        matches!(self, Format::Json | Format::Jsonl | Format::Csv)
    }

    /// The cargo feature of `rivven-connect-storage` that provides the
    /// format, when this build lacks it.
    pub fn missing_feature(self) -> Option<&'static str> {
        match self {
            Format::Parquet if !cfg!(feature = "parquet") => Some("parquet"),
            Format::Avro if !cfg!(feature = "avro") => Some("avro"),
            _ => None,
        }
    }

    /// The format an object name's extension says (after any compression
    /// extension), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        let base = match Compression::from_name(name) {
            Compression::None => name,
            _ => name.rsplit_once('.').map_or(name, |(b, _)| b),
        };
        match base.rsplit('.').next() {
            Some("json") => Some(Format::Json),
            Some("jsonl") => Some(Format::Jsonl),
            Some("csv") => Some(Format::Csv),
            Some("parquet") => Some(Format::Parquet),
            Some("avro") => Some(Format::Avro),
            _ => None,
        }
    }
}

/// Validator of `format`: the format must be built into this binary.
pub(crate) fn format_built(format: &Format) -> std::result::Result<(), ValidationError> {
    match format.missing_feature() {
        None => Ok(()),
        Some(feature) => Err(ValidationError::new("format_not_built").with_message(
            format!(
                "format `{}` is not built into this binary: it needs the `{feature}` feature \
                 of rivven-connect-storage (the `{feature}` or `storage-full` feature of the \
                 rivven-connect binary)",
                format.name()
            )
            .into(),
        )),
    }
}

/// Validator of `compression` beside `format`: only text formats take it.
pub(crate) fn check_compression(format: Format, compression: Compression) -> Result<()> {
    if compression != Compression::None && !format.is_text() {
        return Err(ConnectorError::config(format!(
            "compression: `{}` files compress inside the file (see its own options); \
             output compression applies to json, jsonl and csv",
            format.name()
        )));
    }
    Ok(())
}

/// A rough size of a JSON value once encoded, in bytes (for
/// `max_file_bytes` of the formats that encode at `finish`).
pub fn approximate_size(value: &serde_json::Value) -> u64 {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(_) => 8,
        Value::String(s) => s.len() as u64,
        Value::Array(a) => a.iter().map(approximate_size).sum::<u64>() + 4,
        Value::Object(m) => m.values().map(approximate_size).sum::<u64>() + 4,
    }
}

/// The options of every format, as they appear in a configuration.
#[derive(Debug, Clone, Default)]
pub struct FormatOptions {
    /// `csv`.
    pub csv: CsvOptions,
    /// `parquet`.
    pub parquet: crate::parquet::ParquetOptions,
    /// `avro`.
    pub avro: crate::avro::AvroOptions,
}

/// A new writer of `format`.
pub fn writer(format: Format, options: &FormatOptions) -> Result<Box<dyn FormatWriter>> {
    match format {
        Format::Json => Ok(Box::new(JsonArrayWriter::new())),
        Format::Jsonl => Ok(Box::new(JsonlWriter::new())),
        Format::Csv => Ok(Box::new(CsvWriter::new(options.csv.clone())?)),
        #[cfg(feature = "parquet")]
        Format::Parquet => Ok(Box::new(crate::parquet::ParquetWriter::new(
            options.parquet.clone(),
        )?)),
        #[cfg(feature = "avro")]
        Format::Avro => Ok(Box::new(crate::avro::AvroWriter::new(
            options.avro.clone(),
        )?)),
        #[allow(unreachable_patterns)]
        Format::Parquet | Format::Avro => Err(ConnectorError::config(format!(
            "format: `{}` is not built into this binary (feature `{}` of rivven-connect-storage)",
            format.name(),
            format.missing_feature().unwrap_or("storage-full")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_extensions() {
        assert_eq!(
            Format::from_name("a/b/part-1.jsonl.gz"),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::from_name("x.csv"), Some(Format::Csv));
        assert_eq!(Format::from_name("x.parquet"), Some(Format::Parquet));
        assert_eq!(Format::from_name("x.txt"), None);
        assert!(check_compression(Format::Parquet, Compression::Gzip).is_err());
        assert!(check_compression(Format::Csv, Compression::Lz4).is_ok());
        if cfg!(not(feature = "avro")) {
            let err = format_built(&Format::Avro)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("`avro` feature"), "{err}");
        }
        assert!(serde_json::from_str::<Format>("\"xml\"").is_err());
    }
}
