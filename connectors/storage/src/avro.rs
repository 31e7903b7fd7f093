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
//!
//! `avro.wire_format: true` writes the Confluent wire format instead of a
//! container file: each record is the magic byte `0`, `avro.schema_id` as 4
//! bytes big-endian, then the record's Avro binary encoding, the records one
//! after another (what a Kafka consumer with a schema-registry deserializer
//! reads per message). The object carries no schema, so the format needs the
//! schema given (`avro.schema`, the one registered under that id); the
//! source reads such objects back with the same `avro.schema`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

#[cfg(feature = "avro")]
mod framed;
#[cfg(feature = "avro")]
mod writer;
#[cfg(feature = "avro")]
pub use framed::{framed_records, is_framed};
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
#[validate(schema(function = "wire_format_complete"))]
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
    /// Write the Confluent wire format (per record: magic byte `0`, the
    /// 4-byte `schema_id`, the Avro binary record) instead of an object
    /// container file; needs `schema` and `schema_id` (default `false`).
    #[serde(default)]
    pub wire_format: bool,
    /// The schema registry's id of `schema` (with `wire_format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_id: Option<u32>,
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
            wire_format: false,
            schema_id: None,
        }
    }
}

/// Avro options of the `object-storage` source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AvroReadOptions {
    /// The schema wire-format objects were written with (the sink's
    /// `avro.schema`); needed to read them, as they carry only its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "schema_parses"))]
    pub schema: Option<String>,
}

impl AvroReadOptions {
    /// The records of `data` when it is a wire-format Avro object (`None`
    /// for anything else: read as its format says).
    pub fn framed_rows(
        &self,
        name: &str,
        format: crate::format::Format,
        data: &[u8],
    ) -> rivven_connect::Result<Option<Vec<rivven_connect::Result<serde_json::Value>>>> {
        #[cfg(feature = "avro")]
        if format == crate::format::Format::Avro && framed::is_framed(data) {
            let Some(schema) = &self.schema else {
                return Err(rivven_connect::ConnectorError::config(format!(
                    "{name} is a wire-format Avro object (records framed with a schema id, \
                     no schema in the object): set avro.schema to the schema it was written with"
                )));
            };
            return framed::framed_records(name, data, schema).map(Some);
        }
        let _ = (name, format, data);
        Ok(None)
    }
}

/// Validator of `wire_format`: the wire format carries no schema, so it
/// needs the given schema and its id.
fn wire_format_complete(options: &AvroOptions) -> std::result::Result<(), ValidationError> {
    if !options.wire_format {
        return Ok(());
    }
    let missing = match (&options.schema, options.schema_id) {
        (None, None) => "avro.schema and avro.schema_id",
        (None, Some(_)) => "avro.schema",
        (Some(_), None) => "avro.schema_id",
        (Some(_), Some(_)) => return Ok(()),
    };
    Err(ValidationError::new("avro_wire_format").with_message(
        format!(
            "avro.wire_format needs {missing}: a wire-format record carries only the id of the \
             schema registered in the schema registry, and the schema to encode with"
        )
        .into(),
    ))
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
