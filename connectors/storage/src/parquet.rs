//! The `parquet` format (the writer needs feature `parquet`, arrow/parquet 60): the Arrow
//! schema is inferred from the events — `Int64` with `Float64` is `Float64`,
//! other mixed scalars are `Utf8`, a `null` makes a column nullable (every
//! column is), objects are structs and arrays lists — from a file's first
//! row group, which is encoded once `row_group_size` events are in. An event
//! that does not fit the file's schema (a new column, a wider type) makes
//! the sink finish the file and start one with the wider schema; a column is
//! never dropped.
//!
//! CDC events (data with `op` and `after`/`before`) are written as they are
//! (`cdc: struct`, `before`/`after` as struct columns) or flattened (`cdc:
//! flatten`: the row state — `after`, or `before` for a delete — with `_op`
//! and `_ts_ms` columns).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

#[cfg(feature = "parquet")]
mod writer;
#[cfg(feature = "parquet")]
pub use writer::ParquetWriter;

/// Compression inside a Parquet file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParquetCompression {
    /// None.
    None,
    /// Snappy (default).
    #[default]
    Snappy,
    /// gzip.
    Gzip,
    /// LZ4 (raw, the codec pyarrow and Spark read as `LZ4_RAW`).
    Lz4,
    /// Zstandard.
    Zstd,
    /// Brotli (feature `parquet-brotli`).
    Brotli,
}

/// How CDC envelopes become rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CdcLayout {
    /// As they are: `before`, `after`, `source` struct columns, `op`, `ts_ms`.
    #[default]
    Struct,
    /// The row state (`after`, `before` for deletes) plus `_op` and `_ts_ms`.
    Flatten,
}

/// A column type of a given Parquet schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub enum ColumnType {
    /// `boolean`.
    Boolean,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `float32`.
    Float32,
    /// `float64`.
    Float64,
    /// `string` (UTF-8).
    String,
    /// `json`: any value, stored as its JSON text.
    Json,
    /// `date` (from `YYYY-MM-DD`).
    Date,
    /// `timestamp_ms` (UTC).
    TimestampMs,
    /// `timestamp_us` (UTC).
    TimestampUs,
    /// `list<T>`.
    List(Box<ColumnType>),
}

impl TryFrom<String> for ColumnType {
    type Error = String;
    fn try_from(text: String) -> std::result::Result<Self, String> {
        let t = text.trim();
        if let Some(inner) = t.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
            return Ok(Self::List(Box::new(Self::try_from(inner.to_string())?)));
        }
        Ok(match t {
            "boolean" => Self::Boolean,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "float32" => Self::Float32,
            "float64" => Self::Float64,
            "string" => Self::String,
            "json" => Self::Json,
            "date" => Self::Date,
            "timestamp_ms" => Self::TimestampMs,
            "timestamp_us" => Self::TimestampUs,
            _ => {
                return Err(format!(
                    "unknown Parquet column type `{t}` (boolean, int32, int64, float32, \
                     float64, string, json, date, timestamp_ms, timestamp_us, list<T>)"
                ))
            }
        })
    }
}

impl From<ColumnType> for String {
    fn from(t: ColumnType) -> String {
        match t {
            ColumnType::Boolean => "boolean".into(),
            ColumnType::Int32 => "int32".into(),
            ColumnType::Int64 => "int64".into(),
            ColumnType::Float32 => "float32".into(),
            ColumnType::Float64 => "float64".into(),
            ColumnType::String => "string".into(),
            ColumnType::Json => "json".into(),
            ColumnType::Date => "date".into(),
            ColumnType::TimestampMs => "timestamp_ms".into(),
            ColumnType::TimestampUs => "timestamp_us".into(),
            ColumnType::List(inner) => format!("list<{}>", String::from(*inner)),
        }
    }
}

/// A column of a given Parquet schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParquetColumn {
    /// The column (and event field) name.
    pub name: String,
    /// Its type, e.g. `int64`, `string`, `timestamp_ms`, `list<string>`.
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

/// Options of the `parquet` format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParquetOptions {
    /// Codec: `snappy` (default), `zstd`, `lz4`, `gzip`, `brotli`, `none`.
    #[serde(default)]
    #[validate(custom(function = "codec_built"))]
    pub compression: ParquetCompression,
    /// Rows per row group.
    #[serde(default = "default_row_group_size")]
    #[validate(range(min = 1, max = 100000000))]
    pub row_group_size: usize,
    /// Column statistics in the footer.
    #[serde(default = "crate::object_storage::config::default_true")]
    pub enable_statistics: bool,
    /// Data page size in bytes.
    #[serde(default = "default_page_size")]
    #[validate(range(min = 1024))]
    pub data_page_size: usize,
    /// Dictionary page size limit in bytes.
    #[serde(default = "default_page_size")]
    #[validate(range(min = 1024))]
    pub dictionary_page_size: usize,
    /// CDC envelopes: `struct` (default) or `flatten`.
    #[serde(default)]
    pub cdc: CdcLayout,
    /// The columns of every file, in order, each `{name, type}` with type
    /// `boolean`, `int32`, `int64`, `float32`, `float64`, `string`, `json`,
    /// `date`, `timestamp_ms`, `timestamp_us` or `list<T>` (unset: inferred
    /// from the events). An event with another column, or a value its
    /// column's type cannot hold, is a record failure (`on_error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "columns_unique"))]
    pub schema: Option<Vec<ParquetColumn>>,
}

/// Validator of `parquet.schema`: at least one column, names unique.
fn columns_unique(columns: &[ParquetColumn]) -> std::result::Result<(), ValidationError> {
    let mut seen = std::collections::BTreeSet::new();
    if columns.is_empty() {
        return Err(ValidationError::new("parquet_schema")
            .with_message("parquet.schema needs at least one column".into()));
    }
    for c in columns {
        if c.name.is_empty() || !seen.insert(c.name.as_str()) {
            return Err(ValidationError::new("parquet_schema").with_message(
                format!(
                    "parquet.schema: column name `{}` is empty or repeated",
                    c.name
                )
                .into(),
            ));
        }
    }
    Ok(())
}

fn default_row_group_size() -> usize {
    10_000
}
fn default_page_size() -> usize {
    1 << 20
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            compression: ParquetCompression::Snappy,
            row_group_size: default_row_group_size(),
            enable_statistics: true,
            data_page_size: default_page_size(),
            dictionary_page_size: default_page_size(),
            cdc: CdcLayout::Struct,
            schema: None,
        }
    }
}

/// Validator of `parquet.compression`: the codec must be built in.
fn codec_built(codec: &ParquetCompression) -> std::result::Result<(), ValidationError> {
    if *codec == ParquetCompression::Brotli && !cfg!(feature = "parquet-brotli") {
        return Err(ValidationError::new("codec_not_built").with_message(
            "`brotli` is not built into this binary: it needs the `parquet-brotli` feature of \
             rivven-connect-storage (in `storage-full`)"
                .into(),
        ));
    }
    Ok(())
}
