//! [`SecretPath`]: where a connector config holds secrets, found by walking the config's
//! JSON Schema — the one place that knows which values are secret and under which (serde)
//! names they are written.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

/// One step of a [`SecretPath`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathSegment {
    /// An object property, by its name in the config (after serde's renames).
    Key(String),
    /// Every element of an array, or every value of a map.
    Any,
}

/// Where a secret sits in a connector's config: `password`, `auth.token`,
/// `brokers.*.password` (`*`: every element of an array or value of a map).
///
/// Found in the config's JSON Schema, where a secret — a
/// [`SecretString`](crate::SecretString) — marks itself `writeOnly` / `x-secret`: nested
/// objects, `$ref`'d `$defs`, arrays, maps and `anyOf`/`oneOf`/`allOf` (an `Option`) are
/// followed, so a secret is found wherever it is, under the name it is written with.
///
/// ```
/// use rivven_connect::SecretPath;
/// use serde_json::json;
///
/// let schema = json!({
///     "type": "object",
///     "properties": {
///         "host": {"type": "string"},
///         "auth": {"$ref": "#/$defs/Auth"}
///     },
///     "$defs": {"Auth": {"type": "object", "properties": {
///         "apiToken": {"type": "string", "writeOnly": true, "x-secret": true}
///     }}}
/// });
/// let paths = SecretPath::find(&schema);
/// assert_eq!(paths.iter().map(ToString::to_string).collect::<Vec<_>>(), ["auth.apiToken"]);
///
/// let mut config = json!({"host": "db", "auth": {"apiToken": "hunter2"}});
/// paths[0].redact(&mut config);
/// assert_eq!(config, json!({"host": "db", "auth": {"apiToken": "[REDACTED]"}}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretPath(Vec<PathSegment>);

/// What a secret value is replaced with in `Debug`, logs and status.
pub(crate) const REDACTED: &str = "[REDACTED]";

impl SecretPath {
    /// A path of its segments.
    pub fn new(segments: Vec<PathSegment>) -> Self {
        Self(segments)
    }

    /// The top-level key `key`.
    pub fn key(key: impl Into<String>) -> Self {
        Self(vec![PathSegment::Key(key.into())])
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    /// Every secret of a config whose JSON Schema is `schema`, sorted.
    pub fn find(schema: &Value) -> Vec<SecretPath> {
        let mut out = BTreeSet::new();
        let mut walk = Walk {
            root: schema,
            refs: Vec::new(),
            out: &mut out,
        };
        walk.schema(schema, &mut Vec::new());
        out.into_iter().collect()
    }

    /// Calls `f` with the concrete path (object keys, array indexes) and the value of
    /// every place in `config` this path matches.
    pub fn visit_mut(&self, config: &mut Value, f: &mut dyn FnMut(&[String], &mut Value)) {
        visit(&self.0, config, &mut Vec::new(), f);
    }

    /// Replaces every value at this path in `config` with `"[REDACTED]"`.
    pub fn redact(&self, config: &mut Value) {
        self.visit_mut(config, &mut |_, v| *v = Value::String(REDACTED.into()));
    }
}

impl From<&str> for SecretPath {
    /// A dotted path: `auth.token`, `brokers.*.password`.
    fn from(path: &str) -> Self {
        Self(
            path.split('.')
                .map(|s| match s {
                    "*" => PathSegment::Any,
                    key => PathSegment::Key(key.to_string()),
                })
                .collect(),
        )
    }
}

impl fmt::Display for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match segment {
                PathSegment::Key(k) => f.write_str(k)?,
                PathSegment::Any => f.write_str("*")?,
            }
        }
        Ok(())
    }
}

fn visit(
    rest: &[PathSegment],
    value: &mut Value,
    at: &mut Vec<String>,
    f: &mut dyn FnMut(&[String], &mut Value),
) {
    let Some((first, rest)) = rest.split_first() else {
        f(at, value);
        return;
    };
    match (first, value) {
        (PathSegment::Key(k), Value::Object(map)) => {
            if let Some(v) = map.get_mut(k) {
                at.push(k.clone());
                visit(rest, v, at, f);
                at.pop();
            }
        }
        (PathSegment::Any, Value::Object(map)) => {
            for (k, v) in map.iter_mut() {
                at.push(k.clone());
                visit(rest, v, at, f);
                at.pop();
            }
        }
        (PathSegment::Any, Value::Array(items)) => {
            for (i, v) in items.iter_mut().enumerate() {
                at.push(i.to_string());
                visit(rest, v, at, f);
                at.pop();
            }
        }
        _ => {}
    }
}

/// Whether a schema marks itself secret.
fn flagged(schema: &Value) -> bool {
    schema.get("x-secret").and_then(Value::as_bool) == Some(true)
        || schema.get("writeOnly").and_then(Value::as_bool) == Some(true)
}

/// Whether the property schema `prop` (of a schema whose root is `root`) is a secret
/// itself: flagged, or through a `$ref` or an `anyOf`/`oneOf`/`allOf` branch (an `Option`).
pub(crate) fn is_secret_property(root: &Value, prop: &Value) -> bool {
    let mut out = BTreeSet::new();
    let mut walk = Walk {
        root,
        refs: Vec::new(),
        out: &mut out,
    };
    walk.schema(prop, &mut Vec::new());
    out.contains(&SecretPath(Vec::new()))
}

struct Walk<'a, 'o> {
    root: &'a Value,
    /// `$ref`s being followed (a recursive type ends the walk there).
    refs: Vec<&'a str>,
    out: &'o mut BTreeSet<SecretPath>,
}

impl<'a> Walk<'a, '_> {
    fn schema(&mut self, schema: &'a Value, path: &mut Vec<PathSegment>) {
        let Value::Object(map) = schema else { return };
        if flagged(schema) {
            self.out.insert(SecretPath(path.clone()));
            return;
        }
        if let Some(r) = map.get("$ref").and_then(Value::as_str) {
            if !self.refs.contains(&r) {
                if let Some(target) = r.strip_prefix('#').and_then(|p| self.root.pointer(p)) {
                    self.refs.push(r);
                    self.schema(target, path);
                    self.refs.pop();
                }
            }
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            for branch in map.get(key).and_then(Value::as_array).into_iter().flatten() {
                self.schema(branch, path);
            }
        }
        if let Some(props) = map.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                path.push(PathSegment::Key(name.clone()));
                self.schema(prop, path);
                path.pop();
            }
        }
        let children = ["additionalProperties", "items"]
            .into_iter()
            .filter_map(|k| map.get(k))
            .chain(
                map.get("patternProperties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|p| p.values()),
            )
            .chain(
                map.get("prefixItems")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
        for child in children {
            path.push(PathSegment::Any);
            self.schema(child, path);
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn found(schema: &Value) -> Vec<String> {
        SecretPath::find(schema)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn finds_secrets_in_options_arrays_maps_and_recursive_defs() {
        let secret = json!({"type": "string", "writeOnly": true, "x-secret": true});
        let schema = json!({
            "type": "object",
            "properties": {
                "token": {"anyOf": [secret, {"type": "null"}]},
                "brokers": {"type": "array", "items": {"$ref": "#/$defs/Broker"}},
                "headers": {"type": "object", "additionalProperties": secret},
                "plain": {"type": "string"}
            },
            "$defs": {"Broker": {"type": "object", "properties": {
                "password": secret,
                "next": {"$ref": "#/$defs/Broker"}
            }}}
        });
        assert_eq!(found(&schema), ["brokers.*.password", "headers.*", "token"]);
    }

    #[test]
    fn visits_every_match_with_its_concrete_path() {
        let path = SecretPath::from("brokers.*.password");
        let mut config = json!({"brokers": [{"password": "a"}, {"host": "x"}, {"password": "b"}]});
        let mut seen = Vec::new();
        path.visit_mut(&mut config, &mut |at, v| {
            seen.push((at.join("."), v.clone()))
        });
        assert_eq!(
            seen,
            [
                ("brokers.0.password".to_string(), json!("a")),
                ("brokers.2.password".to_string(), json!("b"))
            ]
        );
        path.redact(&mut config);
        assert_eq!(config["brokers"][2]["password"], REDACTED);
        assert_eq!(config["brokers"][1], json!({"host": "x"}));
    }
}
