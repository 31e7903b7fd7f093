//! AMQP message properties ⇄ event metadata (`metadata.extra["amqp_*"]`):
//! the source records a message's properties, the sink publishes an
//! event's, so an `amqp` → `amqp` pipeline keeps them.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use rivven_connect::{ConnectorError, SourceEvent};
use serde_json::Value;

use super::config::{field_table, json_value};

type Getter = fn(&BasicProperties) -> &Option<ShortString>;
type Setter = fn(BasicProperties, ShortString) -> BasicProperties;

/// The metadata key of the headers (an object).
pub const HEADERS: &str = "amqp_headers";

/// The text properties and their metadata keys (`user_id` is recorded but
/// never published: the broker refuses one that is not the connection's
/// user).
const TEXT: [(&str, Getter); 9] = [
    ("amqp_content_type", BasicProperties::content_type),
    ("amqp_content_encoding", BasicProperties::content_encoding),
    ("amqp_correlation_id", BasicProperties::correlation_id),
    ("amqp_reply_to", BasicProperties::reply_to),
    ("amqp_expiration", BasicProperties::expiration),
    ("amqp_message_id", BasicProperties::message_id),
    ("amqp_type", BasicProperties::kind),
    ("amqp_app_id", BasicProperties::app_id),
    ("amqp_user_id", BasicProperties::user_id),
];

/// The properties a message carries, as metadata.
pub fn to_metadata(properties: &BasicProperties) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for (name, get) in TEXT {
        if let Some(value) = get(properties) {
            out.push((name, Value::String(value.as_str().to_owned())));
        }
    }
    if let Some(priority) = properties.priority() {
        out.push(("amqp_priority", Value::from(*priority)));
    }
    if let Some(mode) = properties.delivery_mode() {
        out.push(("amqp_delivery_mode", Value::from(*mode)));
    }
    if let Some(timestamp) = properties.timestamp() {
        out.push(("amqp_timestamp", Value::from(*timestamp)));
    }
    if let Some(headers) = properties.headers() {
        out.push((HEADERS, json_value(&AMQPValue::FieldTable(headers.clone()))));
    }
    out
}

/// The properties to publish `event` with: its `amqp_*` metadata, the key
/// as header `key_header` (unless empty), delivery mode 2 when
/// `persistent`, `content_type` when the event has none.
pub fn from_event(
    event: &SourceEvent,
    persistent: bool,
    key_header: &str,
    content_type: Option<&str>,
) -> Result<BasicProperties, ConnectorError> {
    let extra = &event.metadata.extra;
    let mut properties = BasicProperties::default();
    if persistent {
        properties = properties.with_delivery_mode(2);
    }
    let text = |name: &str| -> Result<Option<ShortString>, ConnectorError> {
        match extra.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => ShortString::try_new(s.as_str()).map(Some).map_err(|_| {
                ConnectorError::data(format!("metadata {name} is longer than 255 bytes"))
            }),
            Some(other) => Err(ConnectorError::data(format!(
                "metadata {name} must be a string, not {other}"
            ))),
        }
    };
    let setters: [(&str, Setter); 8] = [
        ("amqp_content_type", BasicProperties::with_content_type),
        (
            "amqp_content_encoding",
            BasicProperties::with_content_encoding,
        ),
        ("amqp_correlation_id", BasicProperties::with_correlation_id),
        ("amqp_reply_to", BasicProperties::with_reply_to),
        ("amqp_expiration", BasicProperties::with_expiration),
        ("amqp_message_id", BasicProperties::with_message_id),
        ("amqp_type", BasicProperties::with_type),
        ("amqp_app_id", BasicProperties::with_app_id),
    ];
    for (name, set) in setters {
        if let Some(value) = text(name)? {
            properties = set(properties, value);
        }
    }
    if properties.content_type().is_none() {
        if let Some(content_type) = content_type {
            properties = properties.with_content_type(ShortString::from(content_type));
        }
    }
    if let Some(priority) = extra.get("amqp_priority").and_then(Value::as_u64) {
        properties = properties.with_priority(u8::try_from(priority).unwrap_or(u8::MAX));
    }
    if let Some(timestamp) = extra.get("amqp_timestamp").and_then(Value::as_u64) {
        properties = properties.with_timestamp(timestamp);
    }
    let mut headers = match extra.get(HEADERS) {
        None | Some(Value::Null) => FieldTable::default(),
        Some(Value::Object(map)) => {
            field_table(map, HEADERS).map_err(|e| ConnectorError::data(e.message().to_owned()))?
        }
        Some(other) => {
            return Err(ConnectorError::data(format!(
                "metadata {HEADERS} must be an object, not {other}"
            )))
        }
    };
    if let (Some(key), false) = (&event.key, key_header.is_empty()) {
        let key = match key {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let name = ShortString::try_new(key_header)
            .map_err(|_| ConnectorError::config("key_header is longer than 255 bytes"))?;
        headers.insert(name, AMQPValue::LongString(LongString::from(key)));
    }
    if !headers.inner().is_empty() {
        properties = properties.with_headers(headers);
    }
    Ok(properties)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{json, Map};

    #[test]
    fn properties_survive_metadata_and_back() {
        let mut event = SourceEvent::record("q", json!({"a": 1})).with_key(json!("k1"));
        for (k, v) in [
            ("amqp_message_id", json!("m-1")),
            ("amqp_content_type", json!("application/json")),
            ("amqp_priority", json!(3)),
            ("amqp_timestamp", json!(1700000000)),
            (HEADERS, json!({"x-trace": "t", "n": 5})),
        ] {
            event = event.with_metadata(k, v);
        }
        let props = from_event(&event, true, "key", None).unwrap();
        assert_eq!(*props.delivery_mode(), Some(2));
        let meta: Map<String, Value> = to_metadata(&props)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(meta["amqp_message_id"], "m-1");
        assert_eq!(meta["amqp_priority"], 3);
        assert_eq!(meta[HEADERS], json!({"x-trace": "t", "n": 5, "key": "k1"}));
        let long = SourceEvent::record("q", json!(1))
            .with_metadata("amqp_message_id", json!("x".repeat(300)));
        assert!(from_event(&long, true, "key", None).is_err());
    }
}
