//! Events as broker messages: the key from the event's key, the value the
//! whole event as JSON, and back.

use bytes::Bytes;
use rivven_connect::{ConnectorError, Result, SourceEvent};
use serde::Deserialize;
use serde_json::Value;

/// Deepest nesting of a message's JSON the source rebuilds (serde_json alone
/// stops at 128 levels); a deeper message is a bad record.
pub(crate) const MAX_DEPTH: usize = 1000;

/// The message key of `event`: a string key as its UTF-8 bytes, any other
/// key as its JSON text, none without a key.
pub(crate) fn message_key(event: &SourceEvent) -> Option<Bytes> {
    match event.key.as_ref()? {
        Value::Null => None,
        Value::String(s) => Some(Bytes::copy_from_slice(s.as_bytes())),
        other => serde_json::to_vec(other).ok().map(Bytes::from),
    }
}

/// The message value of `event`: the whole event as JSON.
pub(crate) fn message_value(event: &SourceEvent) -> Result<Bytes> {
    serde_json::to_vec(event)
        .map(Bytes::from)
        .map_err(|e| ConnectorError::data(format!("event cannot be serialized as JSON: {e}")))
}

/// The event a message holds, or a data error carrying the raw payload.
/// `at` names the message (`topic/partition@offset`).
pub(crate) fn decode_event(value: &[u8], at: &str) -> Result<SourceEvent> {
    let first = serde_json::from_slice::<SourceEvent>(value);
    let error = match first {
        Ok(event) => return Ok(event),
        Err(e) => e,
    };
    // serde_json gives up at 128 levels; an event that deep was valid when
    // it was produced, so read it again without that limit, up to MAX_DEPTH.
    let depth = json_depth(value);
    if depth > 128 && depth <= MAX_DEPTH {
        let mut de = serde_json::Deserializer::from_slice(value);
        de.disable_recursion_limit();
        if let Ok(event) = SourceEvent::deserialize(&mut de).and_then(|ev| de.end().map(|()| ev)) {
            return Ok(event);
        }
    }
    let reason = if depth > MAX_DEPTH {
        format!("nested {depth} levels deep (at most {MAX_DEPTH} are read)")
    } else {
        error.to_string()
    };
    Err(ConnectorError::data(format!(
        "{at}: message is not a rivven-connect event ({reason}): {}",
        preview(value)
    ))
    .with_raw_record(value.to_vec()))
}

/// The deepest nesting of arrays and objects in JSON text (strings skipped;
/// counts brackets even in invalid text).
pub(crate) fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The first bytes of a payload, lossily as text, for error messages.
fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    if bytes.len() > MAX {
        format!("{text}… ({} bytes)", bytes.len())
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use rivven_connect::ErrorKind;
    use serde_json::json;

    #[test]
    fn a_string_key_is_its_bytes_and_other_keys_their_json() {
        let mut event = SourceEvent::record("s", json!({}));
        assert_eq!(message_key(&event), None);
        event.key = Some(json!("k-1"));
        assert_eq!(message_key(&event).unwrap(), Bytes::from_static(b"k-1"));
        event.key = Some(json!({"id": 7}));
        assert_eq!(
            message_key(&event).unwrap(),
            Bytes::from_static(b"{\"id\":7}")
        );
        event.key = Some(Value::Null);
        assert_eq!(message_key(&event), None);
    }

    #[test]
    fn an_event_round_trips_through_its_message() {
        let mut event = SourceEvent::record("orders", json!({"id": u64::MAX, "n": i64::MIN}));
        event.key = Some(json!("k"));
        event.namespace = Some("shop".into());
        let value = message_value(&event).unwrap();
        let back = decode_event(&value, "t/0@0").unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn nesting_beyond_serde_jsons_limit_round_trips_up_to_the_max() {
        let mut data = json!(1);
        for _ in 0..600 {
            data = json!([data]);
        }
        let event = SourceEvent::record("deep", data);
        let value = message_value(&event).unwrap();
        assert_eq!(decode_event(&value, "t/0@1").unwrap(), event);
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = decode_event(too_deep.as_bytes(), "t/0@2").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Data);
        assert!(err.message().contains("1001 levels deep"), "{err}");
    }

    #[test]
    fn a_foreign_message_is_a_data_error_with_the_raw_payload() {
        let raw = b"\xff\xfe not json";
        let err = decode_event(raw, "orders/2@17").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Data);
        assert!(
            err.message()
                .starts_with("orders/2@17: message is not a rivven-connect event"),
            "{err}"
        );
        assert_eq!(err.raw_record(), Some(&raw[..]));
        let json_but_not_an_event = br#"{"hello": "world"}"#;
        assert!(decode_event(json_but_not_an_event, "t/0@0").is_err());
    }

    #[test]
    fn depth_skips_brackets_in_strings() {
        assert_eq!(json_depth(br#"{"a": "[[[[", "b": [1, {"c": "\"]"}]}"#), 3);
        assert_eq!(json_depth(b"17"), 0);
    }
}
