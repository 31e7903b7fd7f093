//! MySQL's binary JSON (`JSON` columns in the binary log) as JSON, with
//! `mysql_common`'s decoder.

use mysql_common::binlog::jsonb;
use mysql_common::io::ParseBuf;
use serde_json::Value;

/// The JSON value of a binary-JSON document (empty: `null`, as MySQL reads it).
pub(crate) fn to_json(bytes: &[u8]) -> Result<Value, String> {
    // The decoder follows offsets inside the document; a hostile document
    // must fail this value, not the process.
    std::panic::catch_unwind(|| -> Result<Value, String> {
        let value: jsonb::Value<'_> = ParseBuf(bytes).parse(()).map_err(|e| e.to_string())?;
        Value::try_from(value).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|_| Err("malformed binary JSON".to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn binary_json_scalars_and_garbage() {
        assert_eq!(to_json(&[]).unwrap(), Value::Null);
        // type 0x05 = int16, little-endian 7
        assert_eq!(to_json(&[0x05, 7, 0]).unwrap(), serde_json::json!(7));
        assert!(to_json(&[0x00, 0xff, 0xff, 0xff]).is_err());
    }
}
