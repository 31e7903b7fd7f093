//! Field helpers for writing transforms.
//!
//! They act on an event's *row*: the `data` object of a record, or — for CDC events with
//! the Debezium envelope — the `before`/`after` row images (writes change both images,
//! reads look at `after`, falling back to `before` for deletes). Nested paths use dots:
//! `address.city`. Helpers never panic on non-object data; they simply change nothing.
//!
//! ```
//! use rivven_connect::prelude::*;
//! use serde_json::json;
//!
//! let mut event = SourceEvent::record("test", json!({"id": 1, "name": "Alice", "age": 30, "secret": "xxx",
//!                                                     "address": {"city": "Oslo"}}));
//! transforms::rename_field(&mut event, "name", "full_name");
//! transforms::remove_fields(&mut event, &["secret"]);
//! transforms::add_field(&mut event, "processed", json!(true));
//! assert_eq!(transforms::get_nested_field(&event, "address.city"), Some(&json!("Oslo")));
//! transforms::keep_only_fields(&mut event, &["id", "full_name"]);
//! assert_eq!(event.data, json!({"id": 1, "full_name": "Alice"}));
//! assert!(transforms::field_contains(&event, "full_name", "lic"));
//! assert!(transforms::field_starts_with(&event, "full_name", "Al"));
//!
//! let output = TransformOutput::single(event)
//!     .map(|mut e| { transforms::add_field(&mut e, "tag", json!("processed")); e })
//!     .filter(|e| transforms::has_field(e, "id"));
//! assert_eq!(output.len(), 1);
//! ```

use serde_json::{Map, Value};

use crate::event::SourceEvent;
use crate::smt::path::{lookup_parts, set_parts};

/// Whether `event` is a CDC event with a Debezium envelope (`before`/`after`).
pub(crate) fn is_envelope(event: &SourceEvent) -> bool {
    event.event_type.cdc_op().is_some()
        && event
            .data
            .as_object()
            .is_some_and(|m| m.contains_key("before") && m.contains_key("after"))
}

/// Calls `f` on each mutable row image of an event: both images of an envelope
/// (those that are objects), else `data` when it is an object. No allocation.
pub(crate) fn for_each_row_mut(
    event: &mut SourceEvent,
    mut f: impl FnMut(&mut Map<String, Value>),
) {
    let envelope = is_envelope(event);
    let Some(data) = event.data.as_object_mut() else {
        return;
    };
    if !envelope {
        f(data);
        return;
    }
    for (key, image) in data.iter_mut() {
        if key == "before" || key == "after" {
            if let Some(row) = image.as_object_mut() {
                f(row);
            }
        }
    }
}

/// The row image reads look at (`after`, else `before`, of an envelope; else `data`).
pub(crate) fn row(event: &SourceEvent) -> Option<&Value> {
    if is_envelope(event) {
        let after = event.data.get("after").filter(|v| !v.is_null());
        after.or_else(|| event.data.get("before").filter(|v| !v.is_null()))
    } else {
        Some(&event.data)
    }
}

/// Renames a top-level field; returns `true` when the field existed.
pub fn rename_field(event: &mut SourceEvent, from: &str, to: &str) -> bool {
    let mut found = false;
    for_each_row_mut(event, |row| {
        if let Some(value) = row.remove(from) {
            row.insert(to.to_string(), value);
            found = true;
        }
    });
    found
}

/// Removes top-level fields; returns how many were removed (across row images).
pub fn remove_fields(event: &mut SourceEvent, fields: &[&str]) -> usize {
    let mut removed = 0;
    for_each_row_mut(event, |row| {
        for field in fields {
            removed += usize::from(row.remove(*field).is_some());
        }
    });
    removed
}

/// Sets a field (a dotted path creates intermediate objects), overwriting any value.
pub fn add_field(event: &mut SourceEvent, path: &str, value: Value) {
    for_each_row_mut(event, |row| set_parts(row, path.split('.'), value.clone()));
}

/// The value at a dotted path (`address.city`; array indices such as `items.0` work too).
pub fn get_nested_field<'a>(event: &'a SourceEvent, path: &str) -> Option<&'a Value> {
    lookup_parts(row(event)?, path.split('.'))
}

/// Keeps only the listed top-level fields.
pub fn keep_only_fields(event: &mut SourceEvent, fields: &[&str]) {
    for_each_row_mut(event, |row| row.retain(|k, _| fields.contains(&k.as_str())));
}

/// `true` when the (dotted) field exists and is not `null`.
pub fn has_field(event: &SourceEvent, path: &str) -> bool {
    get_nested_field(event, path).is_some_and(|v| !v.is_null())
}

/// `true` when the (dotted) field is a string containing `needle`, or an array holding
/// the string `needle`.
pub fn field_contains(event: &SourceEvent, path: &str, needle: &str) -> bool {
    match get_nested_field(event, path) {
        Some(Value::String(s)) => s.contains(needle),
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(needle)),
        _ => false,
    }
}

/// `true` when the (dotted) field is a string starting with `prefix`.
pub fn field_starts_with(event: &SourceEvent, path: &str, prefix: &str) -> bool {
    get_nested_field(event, path)
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with(prefix))
}

/// `true` when the (dotted) field equals `value`.
pub fn field_equals(event: &SourceEvent, path: &str, value: &Value) -> bool {
    get_nested_field(event, path) == Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cdc_envelopes_change_both_images_and_read_after() {
        let mut e = SourceEvent::cdc_update(
            "users",
            json!({"id": 1, "email": "a@x", "ssn": "1"}),
            json!({"id": 1, "email": "b@x", "ssn": "1"}),
        );
        assert_eq!(remove_fields(&mut e, &["ssn"]), 2);
        assert!(rename_field(&mut e, "email", "mail"));
        assert_eq!(e.data["before"], json!({"id": 1, "mail": "a@x"}));
        assert_eq!(get_nested_field(&e, "mail"), Some(&json!("b@x")));
        assert_eq!(e.data["op"], json!("u"), "envelope fields are untouched");

        let d = SourceEvent::cdc_delete("users", json!({"id": 9}));
        assert!(field_equals(&d, "id", &json!(9)));
    }

    #[test]
    fn nested_paths_and_arrays() {
        let mut e = SourceEvent::record("s", json!({"a": {"b": [10, {"c": "deep"}]}, "n": null}));
        assert_eq!(get_nested_field(&e, "a.b.1.c"), Some(&json!("deep")));
        assert!(!has_field(&e, "n"));
        assert!(!has_field(&e, "a.x"));
        add_field(&mut e, "x.y.z", json!(1));
        add_field(&mut e, "n.m", json!(2));
        assert_eq!(e.data["x"], json!({"y": {"z": 1}}));
        assert_eq!(e.data["n"], json!({"m": 2}));
    }

    #[test]
    fn predicates_on_non_strings_are_false() {
        let e = SourceEvent::record("s", json!({"n": 5, "tags": ["a", "b"]}));
        assert!(!field_contains(&e, "n", "5"));
        assert!(!field_starts_with(&e, "n", "5"));
        assert!(field_contains(&e, "tags", "b"));
        let mut scalar = SourceEvent::record("s", json!(3));
        assert!(!rename_field(&mut scalar, "a", "b"));
        assert_eq!(scalar.data, json!(3));
    }
}
