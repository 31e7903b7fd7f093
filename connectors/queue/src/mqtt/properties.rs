//! MQTT 5 publish properties ⇄ event metadata (`metadata.extra["mqtt_*"]`):
//! the source records a message's properties, the sink publishes an
//! event's, so an `mqtt` → `mqtt` pipeline keeps them. The user properties
//! are an object like the `nats` connectors' `nats_headers`: one value as a
//! string, a name given several times as an array of its values in order.

use base64::Engine;
use rivven_connect::{ConnectorError, SourceEvent};
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde_json::{Map, Value};

use crate::payload::BASE64;

/// User properties (an object of strings or arrays of strings).
pub const USER_PROPERTIES: &str = "mqtt_user_properties";
/// Content type (a string).
pub const CONTENT_TYPE: &str = "mqtt_content_type";
/// Response topic (a string, a valid topic name).
pub const RESPONSE_TOPIC: &str = "mqtt_response_topic";
/// Correlation data (a string: its UTF-8 text, or base64 when flagged).
pub const CORRELATION_DATA: &str = "mqtt_correlation_data";
/// `"base64"` when the correlation data is not UTF-8.
pub const CORRELATION_DATA_ENCODING: &str = "mqtt_correlation_data_encoding";
/// Message expiry interval in seconds (what remained when received).
pub const MESSAGE_EXPIRY: &str = "mqtt_message_expiry_secs";
/// Payload format indicator (0: bytes, 1: UTF-8).
pub const PAYLOAD_FORMAT: &str = "mqtt_payload_format";

/// The properties a message carries, as metadata entries.
pub fn to_metadata(properties: &PublishProperties) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    if !properties.user_properties.is_empty() {
        let mut map = Map::new();
        for (name, value) in &properties.user_properties {
            let value = Value::String(value.clone());
            match map.get_mut(name) {
                None => {
                    map.insert(name.clone(), value);
                }
                Some(Value::Array(values)) => values.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
            }
        }
        out.push((USER_PROPERTIES, Value::Object(map)));
    }
    if let Some(content_type) = &properties.content_type {
        out.push((CONTENT_TYPE, Value::String(content_type.clone())));
    }
    if let Some(topic) = &properties.response_topic {
        out.push((RESPONSE_TOPIC, Value::String(topic.clone())));
    }
    if let Some(data) = &properties.correlation_data {
        match std::str::from_utf8(data) {
            Ok(text) => out.push((CORRELATION_DATA, Value::String(text.to_owned()))),
            Err(_) => {
                let text = base64::engine::general_purpose::STANDARD.encode(data);
                out.push((CORRELATION_DATA, Value::String(text)));
                out.push((CORRELATION_DATA_ENCODING, Value::String(BASE64.into())));
            }
        }
    }
    if let Some(expiry) = properties.message_expiry_interval {
        out.push((MESSAGE_EXPIRY, Value::from(expiry)));
    }
    if let Some(format) = properties.payload_format_indicator {
        out.push((PAYLOAD_FORMAT, Value::from(format)));
    }
    out
}

/// The properties to publish `event` with (from its `mqtt_*` metadata),
/// `None` when it has none; a malformed value is a per-record error.
pub fn from_event(event: &SourceEvent) -> Result<Option<PublishProperties>, ConnectorError> {
    let extra = &event.metadata.extra;
    let text = |name: &str| -> Result<Option<String>, ConnectorError> {
        match extra.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(ConnectorError::data(format!(
                "metadata {name} must be a string, not {other}"
            ))),
        }
    };
    let number = |name: &str, max: u64| -> Result<Option<u64>, ConnectorError> {
        match extra.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(ConnectorError::data(format!(
                    "metadata {name} must be an integer from 0 to {max}, not {v}"
                ))),
            },
        }
    };
    let mut properties = PublishProperties {
        content_type: text(CONTENT_TYPE)?,
        response_topic: text(RESPONSE_TOPIC)?,
        ..PublishProperties::default()
    };
    if let Some(topic) = &properties.response_topic {
        if topic.is_empty() || !rumqttc::valid_topic(topic) {
            return Err(ConnectorError::data(format!(
                "metadata {RESPONSE_TOPIC} `{topic}` is not a valid MQTT topic name"
            )));
        }
    }
    if let Some(data) = text(CORRELATION_DATA)? {
        let encoded = text(CORRELATION_DATA_ENCODING)?;
        let bytes = if encoded.as_deref() == Some(BASE64) {
            base64::engine::general_purpose::STANDARD
                .decode(&data)
                .map_err(|e| {
                    ConnectorError::data(format!(
                        "metadata {CORRELATION_DATA} is flagged base64 but is not: {e}"
                    ))
                })?
        } else {
            data.into_bytes()
        };
        properties.correlation_data = Some(bytes.into());
    }
    if let Some(expiry) = number(MESSAGE_EXPIRY, u64::from(u32::MAX))? {
        properties.message_expiry_interval = u32::try_from(expiry).ok();
    }
    if let Some(format) = number(PAYLOAD_FORMAT, 1)? {
        properties.payload_format_indicator = u8::try_from(format).ok();
    }
    match extra.get(USER_PROPERTIES) {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let bad = || {
                    ConnectorError::data(format!(
                        "metadata {USER_PROPERTIES}.{name} must be a string or an array of strings"
                    ))
                };
                match value {
                    Value::String(s) => properties.user_properties.push((name.clone(), s.clone())),
                    Value::Array(values) => {
                        for v in values {
                            let s = v.as_str().ok_or_else(bad)?;
                            properties
                                .user_properties
                                .push((name.clone(), s.to_owned()));
                        }
                    }
                    _ => return Err(bad()),
                }
            }
        }
        Some(other) => {
            return Err(ConnectorError::data(format!(
                "metadata {USER_PROPERTIES} must be an object, not {other}"
            )))
        }
    }
    Ok((properties != PublishProperties::default()).then_some(properties))
}

/// About the bytes `properties` add to a PUBLISH (for the packet limit).
pub fn size(properties: &PublishProperties) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + 3);
    properties
        .user_properties
        .iter()
        .map(|(k, v)| k.len() + v.len() + 5)
        .sum::<usize>()
        + text(&properties.content_type)
        + text(&properties.response_topic)
        + properties
            .correlation_data
            .as_ref()
            .map_or(0, |d| d.len() + 3)
        + 16
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn event_with(extra: Vec<(&str, Value)>) -> SourceEvent {
        let mut event = SourceEvent::record("s", json!({}));
        for (k, v) in extra {
            event = event.with_metadata(k, v);
        }
        event
    }

    #[test]
    fn properties_survive_a_round_trip() {
        let properties = PublishProperties {
            user_properties: vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("a".into(), "3".into()),
            ],
            content_type: Some("application/json".into()),
            response_topic: Some("replies/x".into()),
            correlation_data: Some(vec![0xff, 0x00, 0x01].into()),
            message_expiry_interval: Some(60),
            payload_format_indicator: Some(1),
            ..PublishProperties::default()
        };
        let metadata = to_metadata(&properties);
        let as_map: Map<String, Value> = metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        assert_eq!(as_map[USER_PROPERTIES], json!({"a": ["1", "3"], "b": "2"}));
        assert_eq!(as_map[CORRELATION_DATA], json!("/wAB"));
        assert_eq!(as_map[CORRELATION_DATA_ENCODING], json!("base64"));
        let back = from_event(&event_with(metadata)).unwrap().unwrap();
        let mut users = back.user_properties.clone();
        users.sort();
        assert_eq!(
            users,
            [("a", "1"), ("a", "3"), ("b", "2")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(back.correlation_data, properties.correlation_data);
        assert_eq!(back.content_type, properties.content_type);
        assert_eq!(back.response_topic, properties.response_topic);
        assert_eq!(back.message_expiry_interval, Some(60));
        assert_eq!(back.payload_format_indicator, Some(1));
    }

    #[test]
    fn no_metadata_no_properties_and_bad_values_are_record_errors() {
        assert_eq!(from_event(&event_with(vec![])).unwrap(), None);
        let text = from_event(&event_with(vec![(CORRELATION_DATA, json!("req-1"))]))
            .unwrap()
            .unwrap();
        assert_eq!(text.correlation_data.as_deref(), Some(&b"req-1"[..]));
        for (key, value) in [
            (USER_PROPERTIES, json!({"a": 1})),
            (USER_PROPERTIES, json!("a=b")),
            (RESPONSE_TOPIC, json!("replies/#")),
            (MESSAGE_EXPIRY, json!(-1)),
            (CONTENT_TYPE, json!(7)),
        ] {
            let err = from_event(&event_with(vec![(key, value)])).unwrap_err();
            assert_eq!(err.kind(), rivven_connect::ErrorKind::Data, "{err}");
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}
