//! Message payloads ⇄ event data, the same for every queue connector.
//!
//! Source side: with `parse_json_payload` a payload must be JSON (anything
//! else is a bad record, handled per the pipeline's `on_error`, with the raw
//! payload kept; a valid document whose numbers a JSON value cannot hold
//! exactly, such as `1e400`, is its exact text, a string, which the sink
//! publishes unchanged); without it the data is the payload as a JSON string —
//! UTF-8 text as is, other bytes as base64 with the event's
//! `metadata.extra["payload_encoding"] = "base64"`. Nothing is dropped.
//!
//! Sink side, the inverse: string data is published as its text (decoded
//! from base64 when the event says `payload_encoding: base64`), any other
//! data as its JSON text.

use base64::Engine;
use rivven_connect::util::json;
use rivven_connect::{ConnectorError, SourceEvent};
use serde_json::Value;

/// Metadata key flagging a base64 payload.
pub const PAYLOAD_ENCODING: &str = "payload_encoding";
/// Its value.
pub const BASE64: &str = "base64";

/// The event data of `payload`, and whether it is base64 (non-UTF-8 bytes).
pub fn decode(payload: &[u8], parse_json: bool) -> Result<(Value, bool), String> {
    if parse_json {
        // A valid document is never a bad record: one whose numbers a JSON
        // value cannot hold exactly (`1e400`) is kept as its exact text.
        return match std::str::from_utf8(payload) {
            Ok(text) if json::is_json(text) => Ok((json::decode_json(text), false)),
            Ok(text) => Err(match serde_json::from_str::<Value>(text) {
                Err(e) => format!("payload is not JSON ({e}) and parse_json_payload is on"),
                Ok(_) => "payload is not JSON and parse_json_payload is on".to_string(),
            }),
            Err(e) => Err(format!(
                "payload is not UTF-8 ({e}), so not JSON, and parse_json_payload is on"
            )),
        };
    }
    Ok(match std::str::from_utf8(payload) {
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(payload)),
            true,
        ),
    })
}

/// The payload bytes of `event`.
pub fn encode(event: &SourceEvent) -> Result<Vec<u8>, ConnectorError> {
    match &event.data {
        Value::String(text) => {
            let base64 = event
                .metadata
                .extra
                .get(PAYLOAD_ENCODING)
                .and_then(Value::as_str)
                == Some(BASE64);
            if base64 {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| {
                        ConnectorError::data(format!(
                            "data of an event with payload_encoding base64 is not base64: {e}"
                        ))
                    })
            } else {
                Ok(text.clone().into_bytes())
            }
        }
        other => serde_json::to_vec(other)
            .map_err(|e| ConnectorError::data(format!("event data cannot be serialized: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_round_trip_through_event_data() {
        assert_eq!(
            decode(br#"{"a":1}"#, true).unwrap(),
            (json!({"a": 1}), false)
        );
        assert!(decode(b"not json", true).unwrap_err().contains("not JSON"));
        assert!(decode(b"\xff{}", true).unwrap_err().contains("not UTF-8"));
        // Valid JSON beyond what a JSON value holds exactly: its exact text,
        // published back byte for byte.
        let beyond = br#"{"v": 1e400, "n": 18446744073709551616}"#;
        let (data, b64) = decode(beyond, true).unwrap();
        assert_eq!(
            (&data, b64),
            (&json!(std::str::from_utf8(beyond).unwrap()), false)
        );
        assert_eq!(encode(&SourceEvent::record("t", data)).unwrap(), beyond);
        // Nesting deeper than a JSON value is parsed by default (128) is
        // valid JSON too: kept (as its text when it cannot be parsed) and
        // published back byte for byte.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let (data, _) = decode(deep.as_bytes(), true).unwrap();
        assert_eq!(
            encode(&SourceEvent::record("t", data)).unwrap(),
            deep.as_bytes()
        );
        assert_eq!(decode(b"hello", false).unwrap(), (json!("hello"), false));
        let (data, b64) = decode(b"\xff\x00", false).unwrap();
        assert_eq!((data.clone(), b64), (json!("/wA="), true));
        let event = SourceEvent::record("t", data).with_metadata(PAYLOAD_ENCODING, json!(BASE64));
        assert_eq!(encode(&event).unwrap(), b"\xff\x00");
        assert_eq!(
            encode(&SourceEvent::record("t", json!("hi"))).unwrap(),
            b"hi"
        );
        assert_eq!(
            encode(&SourceEvent::record("t", json!({"x": [1]}))).unwrap(),
            br#"{"x":[1]}"#
        );
    }
}
