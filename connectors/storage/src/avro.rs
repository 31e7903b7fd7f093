//! The `avro` format (the writer needs feature `avro`, apache-avro 0.22):
//! Avro object container files, codec `none`, `deflate` or `snappy`, with
//! the schema given (`avro.schema`) or inferred from the object's events: a
//! record `Event` in namespace `rivven.events` (configurable) with fields
//! sorted by name; `long` with `double` is `double`, other mixed scalars
//! are `string`; a field that is missing or `null` in some event is a union
//! `["null", T]` with default `null`; objects are nested records, arrays
//! arrays. Names that are not Avro names have their other characters
//! replaced by `_`.
//!
//! An inferred schema covers every event of the object (the object is held
//! in memory until it is stored anyway), so a new field mid-stream simply
//! widens the next object's schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

#[cfg(feature = "avro")]
mod writer;
#[cfg(feature = "avro")]
pub use writer::AvroWriter;

/// Compression inside an Avro file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AvroCompression {
    /// None (default).
    #[default]
    None,
    /// Deflate.
    Deflate,
    /// Snappy (blocks followed by their CRC32).
    Snappy,
}

/// Options of the `avro` format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AvroOptions {
    /// An explicit Avro schema (JSON); without it the schema is inferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "schema_parses"))]
    pub schema: Option<String>,
    /// Codec: `none` (default), `deflate`, `snappy`.
    #[serde(default)]
    pub compression: AvroCompression,
    /// Namespace of inferred schemas.
    #[serde(default = "default_namespace")]
    #[validate(length(min = 1))]
    pub namespace: String,
    /// Record name of inferred schemas.
    #[serde(default = "default_record_name")]
    #[validate(length(min = 1))]
    pub record_name: String,
}

fn default_namespace() -> String {
    "rivven.events".into()
}
fn default_record_name() -> String {
    "Event".into()
}

impl Default for AvroOptions {
    fn default() -> Self {
        Self {
            schema: None,
            compression: AvroCompression::None,
            namespace: default_namespace(),
            record_name: default_record_name(),
        }
    }
}

/// Validator of `avro.schema`: it must parse (when the format is built).
fn schema_parses(schema: &str) -> std::result::Result<(), ValidationError> {
    #[cfg(feature = "avro")]
    if let Err(e) = apache_avro::Schema::parse_str(schema) {
        return Err(ValidationError::new("avro_schema")
            .with_message(format!("not an Avro schema: {e}").into()));
    }
    #[cfg(not(feature = "avro"))]
    let _ = schema;
    Ok(())
}
