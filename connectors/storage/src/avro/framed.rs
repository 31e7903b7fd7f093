//! The Confluent wire format (`avro.wire_format`): records framed as magic
//! byte `0`, the 4-byte big-endian schema id, the Avro binary record.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use rivven_connect::{ConnectorError, Result};
use serde_json::Value;

/// The wire format's first byte.
const MAGIC: u8 = 0;

/// Whether `data` is in the wire format (an object container file starts
/// with `Obj\x01`).
pub fn is_framed(data: &[u8]) -> bool {
    data.first() == Some(&MAGIC)
}

/// Append `value` (already resolved against `schema`) framed with `id`.
pub(super) fn frame(out: &mut Vec<u8>, schema: &Schema, id: u32, value: Avro) -> Result<()> {
    let body = GenericDatumWriter::builder(schema)
        .build()
        .and_then(|w| w.write_value_to_vec(value))
        .map_err(|e| ConnectorError::schema(format!("writing Avro: {e}")))?;
    out.push(MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// The records of a wire-format object `name` as JSON, decoded with
/// `schema` (the `avro.schema` it was written with). A record with another
/// schema id, or that does not decode, is an `Err` in its place — and ends
/// the object, as the records have no length of their own to skip by.
pub fn framed_records(name: &str, data: &[u8], schema: &str) -> Result<Vec<Result<Value>>> {
    let schema = Schema::parse_str(schema)
        .map_err(|e| ConnectorError::config(format!("avro.schema: not an Avro schema: {e}")))?;
    let reader = GenericDatumReader::builder(&schema)
        .build()
        .map_err(|e| ConnectorError::config(format!("avro.schema: {e}")))?;
    let mut rows = Vec::new();
    let mut rest = data;
    let mut expected_id = None;
    while !rest.is_empty() {
        let n = rows.len() + 1;
        let bad = |what: String| ConnectorError::data(format!("{name}: Avro record {n}: {what}"));
        let (header, body) = match rest.split_first_chunk::<5>() {
            Some((h, b)) if h[0] == MAGIC => (h, b),
            _ => {
                rows.push(Err(bad(
                    "not a wire-format record (magic byte 0, schema id)".into(),
                )
                .with_raw_record(rest.to_vec())));
                break;
            }
        };
        let id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        if *expected_id.get_or_insert(id) != id {
            rows.push(Err(bad(format!(
                "schema id {id} where the object's first record has {}",
                expected_id.unwrap_or(id)
            ))
            .with_raw_record(rest.to_vec())));
            break;
        }
        let mut cursor = body;
        match reader.read_value(&mut cursor).map(Value::try_from) {
            Ok(Ok(value)) => rows.push(Ok(value)),
            Ok(Err(e)) | Err(e) => {
                rows.push(Err(bad(e.to_string()).with_raw_record(rest.to_vec())));
                break;
            }
        }
        rest = cursor;
    }
    Ok(rows)
}
