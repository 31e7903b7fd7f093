//! What each event asks of its table: a row to insert or upsert, or a key to delete.

use rivven_connect::{ConnectorError, SourceEvent};
use serde_json::{Map, Value};

use super::WriteMode;

/// One event's change (borrowed from the event).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change<'a> {
    /// Insert (or, in `upsert`/`cdc` mode, upsert) this row.
    Row(&'a Map<String, Value>),
    /// Delete the row with this key (column → value).
    Delete(&'a Map<String, Value>),
}

impl<'a> Change<'a> {
    /// The event's change in `mode`; `Ok(None)` for an event with nothing to
    /// apply (a CDC tombstone: `data` null).
    pub(crate) fn of(
        event: &'a SourceEvent,
        mode: WriteMode,
    ) -> Result<Option<Self>, ConnectorError> {
        match mode {
            WriteMode::Insert | WriteMode::Upsert => match &event.data {
                Value::Object(row) => Ok(Some(Self::Row(row))),
                other => Err(ConnectorError::data(format!(
                    "expected a JSON object to write as a row, got {}",
                    kind(other)
                ))),
            },
            WriteMode::Cdc => cdc_change(event),
        }
    }

    /// The columns this change names.
    pub(crate) fn columns(&self) -> impl Iterator<Item = &'a String> {
        match self {
            Self::Row(m) | Self::Delete(m) => m.keys(),
        }
    }
}

/// The change of a Debezium-style envelope (`op`, `before`, `after`).
fn cdc_change(event: &SourceEvent) -> Result<Option<Change<'_>>, ConnectorError> {
    let data = match &event.data {
        Value::Null => return Ok(None),
        Value::Object(d) => d,
        other => {
            return Err(ConnectorError::data(format!(
                "cdc mode: expected a change envelope (op, before, after), got {}",
                kind(other)
            )))
        }
    };
    let op = data.get("op").and_then(Value::as_str).ok_or_else(|| {
        ConnectorError::data("cdc mode: the event has no `op` (expected c, r, u or d)")
    })?;
    match op {
        "c" | "r" | "u" => match data.get("after") {
            Some(Value::Object(after)) => Ok(Some(Change::Row(after))),
            _ => Err(ConnectorError::data(format!(
                "cdc mode: op `{op}` without an `after` object"
            ))),
        },
        "d" => match (data.get("before"), &event.key) {
            (Some(Value::Object(before)), _) => Ok(Some(Change::Delete(before))),
            (_, Some(Value::Object(key))) => Ok(Some(Change::Delete(key))),
            _ => Err(ConnectorError::data(
                "cdc mode: a delete (op d) needs a `before` object or an object key",
            )),
        },
        "t" => Ok(None),
        other => Err(ConnectorError::data(format!(
            "cdc mode: unknown op `{other}` (expected c, r, u or d)"
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A change restricted to the key columns, as comparable text (`None` if a
/// key column is missing or null: the error names it).
pub(crate) fn key_of(row: &Map<String, Value>, keys: &[String]) -> Result<String, ConnectorError> {
    let mut parts = Vec::with_capacity(keys.len());
    for k in keys {
        match row.get(k) {
            None | Some(Value::Null) => {
                return Err(ConnectorError::data(format!(
                    "key column `{k}` is missing or null"
                )))
            }
            Some(v) => parts.push(v),
        }
    }
    Ok(serde_json::to_string(&parts).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cdc_envelopes_become_upserts_and_deletes() {
        let c = SourceEvent::cdc_insert("t", json!({"id": 1, "v": "a"}));
        let after = json!({"id": 1, "v": "a"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            Change::of(&c, WriteMode::Cdc).ok().flatten(),
            Some(Change::Row(&after))
        );
        let d = SourceEvent::cdc_delete("t", json!({"id": 1, "v": "a"}));
        assert!(matches!(
            Change::of(&d, WriteMode::Cdc),
            Ok(Some(Change::Delete(_)))
        ));
        let bad = SourceEvent::record("t", json!({"id": 1}));
        let err = Change::of(&bad, WriteMode::Cdc)
            .err()
            .map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("op"));
        let scalar = SourceEvent::record("t", json!(5));
        assert!(Change::of(&scalar, WriteMode::Insert).is_err());
    }

    #[test]
    fn missing_keys_are_named() {
        let row = json!({"a": 1}).as_object().cloned().unwrap_or_default();
        let err = key_of(&row, &["a".into(), "b".into()])
            .err()
            .map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("`b`"));
        assert_eq!(key_of(&row, &["a".into()]).ok().as_deref(), Some("[1]"));
    }
}
