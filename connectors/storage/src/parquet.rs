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
