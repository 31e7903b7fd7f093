//! The formats of this family and how a configuration picks one: `jsonl`
//! and `json` (from `rivven-connect`), `csv`, and — by feature — `parquet`
//! and `avro`.
//!
//! This crate also registers `csv`, `parquet` and `avro` in
//! `rivven-connect`'s format registry ([`rivven_connect::format::registry`]),
//! with the writers and readers below (not copies), so that the built-in
//! `file` connectors can use them by name: `csv` with a writer, an appender
//! and a record reader; `parquet` and `avro` with a writer of whole files
//! (registered without their feature too, so that the error names the
//! feature). A binary that does not otherwise use this crate calls
//! [`crate::link`].

use rivven_connect::format::{
    AppendWriter, FormatRegistration, FormatWriter, JsonArrayWriter, JsonlWriter, RecordReader,
};
use rivven_connect::{ConnectorError, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::ValidationError;

use crate::compression::Compression;
use crate::csv::{CsvOptions, CsvWriter};
use crate::reader::CsvRecordReader;

/// The crate named in the format registry.
const PROVIDER: &str = "rivven-connect-storage";

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

/// A format's options from the registry's JSON (`null`: the defaults),
/// deserialized and validated; errors name the option.
fn options_of<T>(options: &serde_json::Value) -> Result<T>
where
    T: serde::de::DeserializeOwned + validator::Validate + Default,
{
    let parsed: T = match options {
        serde_json::Value::Null => T::default(),
        other => serde_json::from_value(other.clone())
            .map_err(|e| ConnectorError::config(e.to_string()))?,
    };
    parsed.validate().map_err(|errors| {
        let mut lines: Vec<String> = Vec::new();
        for (field, list) in errors.field_errors() {
            for e in list {
                let message = e.message.as_deref().unwrap_or(&e.code);
                lines.push(format!("{field}: {message}"));
            }
        }
        lines.sort();
        ConnectorError::config(lines.join("; "))
    })?;
    Ok(parsed)
}

fn csv_writer(options: &serde_json::Value) -> Result<Box<dyn FormatWriter>> {
    Ok(Box::new(CsvWriter::new(options_of(options)?)?))
}

fn csv_appender(options: &serde_json::Value) -> Result<Box<dyn AppendWriter>> {
    Ok(Box::new(CsvWriter::appending(options_of(options)?)?))
}

fn csv_reader(options: &serde_json::Value) -> Result<Box<dyn RecordReader>> {
    Ok(Box::new(CsvRecordReader::new(options_of(options)?)?))
}

rivven_connect::register_format!(FormatRegistration::new("csv", "csv", PROVIDER, csv_writer)
    .with_appender(csv_appender)
    .with_reader(csv_reader));

#[cfg(feature = "parquet")]
fn parquet_writer(options: &serde_json::Value) -> Result<Box<dyn FormatWriter>> {
    Ok(Box::new(crate::parquet::ParquetWriter::new(options_of(
        options,
    )?)?))
}

/// Without the feature: never called (the registration is `not_built`).
#[cfg(not(feature = "parquet"))]
fn parquet_writer(_: &serde_json::Value) -> Result<Box<dyn FormatWriter>> {
    Err(ConnectorError::config("format `parquet` is not built"))
}

#[cfg(feature = "avro")]
fn avro_writer(options: &serde_json::Value) -> Result<Box<dyn FormatWriter>> {
    Ok(Box::new(crate::avro::AvroWriter::new(options_of(
        options,
    )?)?))
}

/// Without the feature: never called (the registration is `not_built`).
#[cfg(not(feature = "avro"))]
fn avro_writer(_: &serde_json::Value) -> Result<Box<dyn FormatWriter>> {
    Err(ConnectorError::config("format `avro` is not built"))
}

/// `format` as this build registers it: known, and not built without its feature.
const fn as_built(registration: FormatRegistration, format: Format) -> FormatRegistration {
    match format {
        Format::Parquet if !cfg!(feature = "parquet") => registration.not_built("parquet"),
        Format::Avro if !cfg!(feature = "avro") => registration.not_built("avro"),
        _ => registration,
    }
}

rivven_connect::register_format!(as_built(
    FormatRegistration::new("parquet", "parquet", PROVIDER, parquet_writer),
    Format::Parquet
));
rivven_connect::register_format!(as_built(
    FormatRegistration::new("avro", "avro", PROVIDER, avro_writer),
    Format::Avro
));

#[cfg(test)]
mod tests {
    use super::*;
    use rivven_connect::format::registry;
    use rivven_connect::SourceEvent;

    #[test]
    fn csv_parquet_and_avro_are_registered_with_what_they_can_do() {
        let csv = registry::lookup("output_format", "csv").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((csv.provider(), csv.extension()), (PROVIDER, "csv"));
        assert!(csv.appendable() && csv.readable() && csv.is_built());
        let mut writer = csv
            .writer(&serde_json::json!({"delimiter": ";"}))
            .unwrap_or_else(|e| panic!("{e}"));
        writer
            .write(&SourceEvent::record(
                "s",
                serde_json::json!({"a": 1, "b": 2}),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(writer.finish().unwrap_or_default(), b"a;b\n1;2\n");
        let err = csv
            .appender(&serde_json::json!({"delimiter": ";;"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("delimiter: must be exactly one ASCII character"),
            "{err}"
        );
        let err = csv
            .reader(&serde_json::json!({"delimeter": ";"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown field `delimeter`"), "{err}");
        for (name, feature) in [("parquet", "parquet"), ("avro", "avro")] {
            let format = registry::lookup("output_format", name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!format.appendable() && !format.readable());
            let built = format.writer(&serde_json::Value::Null);
            assert_eq!(format.is_built(), built.is_ok());
            if let Err(e) = built {
                assert!(
                    e.to_string().contains(&format!("`{feature}` feature")),
                    "{e}"
                );
            }
        }
    }

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
