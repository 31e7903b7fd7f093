//! [`FieldPath`]: a dotted path to a field of a row, parsed once when the config loads.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// A path to a (possibly nested) field: `email`, `address.city`, `items.0.sku`.
///
/// Segments are separated by dots; a segment holding a dot or other odd characters
/// is written in backticks (`` `order.id` ``, `` meta.`first name` ``). A numeric
/// segment also indexes arrays. In configs it is written as a string and checked
/// when the config loads, so an empty segment is a config error, not a silent miss.
///
/// ```
/// use rivven_connect::smt::FieldPath;
/// use serde_json::json;
///
/// let path = FieldPath::parse("address.city").unwrap();
/// let row = json!({"address": {"city": "Oslo"}});
/// assert_eq!(path.get(row.as_object().unwrap()), Some(&json!("Oslo")));
/// assert!(FieldPath::parse("address..city").is_err());
/// assert_eq!(FieldPath::parse("`a.b`.c").unwrap().segments(), ["a.b", "c"]);
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath {
    text: String,
    segments: Vec<String>,
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldPath({:?})", self.text)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FieldPath {
    /// Parses a dotted path; errors say what is wrong and at which character.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut chars = text.char_indices().peekable();
        loop {
            let start = chars.peek().map_or(text.len(), |(i, _)| *i);
            let mut segment = String::new();
            if let Some((_, '`')) = chars.peek() {
                chars.next();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '`' {
                        closed = true;
                        break;
                    }
                    segment.push(c);
                }
                if !closed {
                    return Err(format!(
                        "unclosed backtick in field path `{text}` at character {}",
                        start + 1
                    ));
                }
            } else {
                while let Some((_, c)) = chars.peek() {
                    if *c == '.' {
                        break;
                    }
                    segment.push(*c);
                    chars.next();
                }
            }
            if segment.is_empty() {
                return Err(if text.is_empty() {
                    "a field path must not be empty".to_string()
                } else {
                    format!(
                        "empty segment in field path `{text}` at character {}",
                        start + 1
                    )
                });
            }
            segments.push(segment);
            match chars.next() {
                None => break,
                Some((_, '.')) => {}
                Some((i, c)) => {
                    return Err(format!(
                        "expected `.` after a backtick segment in `{text}`, found `{c}` at character {}",
                        i + 1
                    ))
                }
            }
        }
        Ok(Self {
            text: text.to_string(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments (backticks removed).
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the path is one top-level field.
    pub fn is_top_level(&self) -> bool {
        self.segments.len() == 1
    }

    /// The value at the path in `row`.
    pub fn get<'a>(&self, row: &'a Map<String, Value>) -> Option<&'a Value> {
        let (first, rest) = self.segments.split_first()?;
        let mut current = row.get(first)?;
        for part in rest {
            current = step(current, part)?;
        }
        Some(current)
    }

    /// The value at the path in any JSON value (objects and arrays).
    pub fn get_in<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        lookup(value, &self.segments)
    }

    /// The mutable value at the path in `row`.
    pub fn get_mut<'a>(&self, row: &'a mut Map<String, Value>) -> Option<&'a mut Value> {
        let (first, rest) = self.segments.split_first()?;
        let mut current = row.get_mut(first)?;
        for part in rest {
            current = match current {
                Value::Object(map) => map.get_mut(part)?,
                Value::Array(items) => items.get_mut(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// Removes the field at the path (objects only) and returns its value.
    pub fn remove(&self, row: &mut Map<String, Value>) -> Option<Value> {
        let (last, parents) = self.segments.split_last()?;
        let parent = match parents.split_first() {
            None => row,
            Some((first, rest)) => {
                let mut current = row.get_mut(first)?;
                for part in rest {
                    current = current.as_object_mut()?.get_mut(part)?;
                }
                current.as_object_mut()?
            }
        };
        parent.remove(last)
    }

    /// Sets the field at the path, creating intermediate objects (a non-object in
    /// the way is replaced by an object).
    pub fn set(&self, row: &mut Map<String, Value>, value: Value) {
        set_parts(row, self.segments.iter().map(String::as_str), value);
    }
}

/// The value at `segments` below `value`.
pub(crate) fn lookup<'a>(value: &'a Value, segments: &[String]) -> Option<&'a Value> {
    lookup_parts(value, segments.iter().map(String::as_str))
}

/// The value at `parts` below `value` (objects by key, arrays by index).
pub(crate) fn lookup_parts<'a, 'p>(
    value: &'a Value,
    parts: impl IntoIterator<Item = &'p str>,
) -> Option<&'a Value> {
    parts
        .into_iter()
        .try_fold(value, |current, part| step(current, part))
}

/// Sets the field at `parts` in `row`, creating intermediate objects (a
/// non-object in the way is replaced by an object).
pub(crate) fn set_parts<'p>(
    row: &mut Map<String, Value>,
    parts: impl IntoIterator<Item = &'p str>,
    value: Value,
) {
    let mut parts = parts.into_iter().peekable();
    let mut current = row;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            current.insert(part.to_string(), value);
            return;
        }
        let slot = current
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        match slot.as_object_mut() {
            Some(next) => current = next,
            None => return,
        }
    }
}

fn step<'a>(current: &'a Value, part: &str) -> Option<&'a Value> {
    match current {
        Value::Object(map) => map.get(part),
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        _ => None,
    }
}

impl std::str::FromStr for FieldPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for FieldPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for FieldPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl JsonSchema for FieldPath {
    fn schema_name() -> Cow<'static, str> {
        "FieldPath".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "description": "Field path: `name`, `address.city`, `items.0.sku`; backticks quote a segment holding dots"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(s: &str) -> FieldPath {
        FieldPath::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_segments_and_backticks() {
        assert_eq!(path("a").segments(), ["a"]);
        assert_eq!(path("a.b.0").segments(), ["a", "b", "0"]);
        assert_eq!(path("meta.`first name`").segments(), ["meta", "first name"]);
        assert_eq!(path("`x.y`").segments(), ["x.y"]);
        for bad in ["", ".a", "a.", "a..b", "`a", "`a`b"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?} should not parse");
        }
        let err = FieldPath::parse("a..b").err().unwrap_or_default();
        assert!(err.contains("character 3"), "{err}");
    }

    #[test]
    fn get_set_remove_nested() {
        let mut row = json!({"a": {"b": [1, {"c": 2}]}, "s": "x"});
        let Some(map) = row.as_object_mut() else {
            panic!("object")
        };
        assert_eq!(path("a.b.1.c").get(map), Some(&json!(2)));
        assert_eq!(path("a.b.9").get(map), None);
        assert_eq!(path("s.t").get(map), None);
        if let Some(v) = path("a.b.0").get_mut(map) {
            *v = json!(10);
        }
        path("x.y").set(map, json!(true));
        path("s.t").set(map, json!(1));
        assert_eq!(path("a.b").remove(map), Some(json!([10, {"c": 2}])));
        assert_eq!(path("missing.z").remove(map), None);
        assert_eq!(row, json!({"a": {}, "s": {"t": 1}, "x": {"y": true}}));
    }

    #[test]
    fn deserializes_with_a_clear_error() {
        let ok: Result<Vec<FieldPath>, _> = serde_json::from_value(json!(["a.b"]));
        assert!(ok.is_ok());
        let err = serde_json::from_value::<Vec<FieldPath>>(json!(["a..b"]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("empty segment"), "{err}");
    }
}
