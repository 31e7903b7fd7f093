//! A connector's options as its JSON Schema describes them: types, defaults,
//! constraints, secrets. `spec` and the generated reference render the same
//! [`ConfigOption`]s, so the two never disagree.

use rivven_connect::ConnectorSpec;
use serde_json::{Map, Value};

/// How deep nested objects are walked (schemas are finite, `$ref` cycles are not).
const MAX_DEPTH: usize = 6;

/// One option of a connector's configuration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConfigOption {
    /// Dotted path from the config's top level (`tls.mode`; `*` for any
    /// element of an array or map, as in secret paths).
    pub(crate) path: String,
    /// The type, rendered from the schema (`string`, `array of string`,
    /// `"keep" | "drop"`, …).
    pub(crate) ty: String,
    /// Whether the option must be given (within its parent, for nested ones).
    pub(crate) required: bool,
    /// The schema's default (`null` included: an option that is unset by default).
    pub(crate) default: Option<Value>,
    /// The description (the field's doc comment).
    pub(crate) description: String,
    /// Constraints from `validator` and the type (`≥ 1`, `length ≤ 255`, …).
    pub(crate) constraints: Vec<String>,
    /// A secret: redacted in logs, diagnostics and status.
    pub(crate) secret: bool,
    /// Example values from the schema.
    pub(crate) examples: Vec<Value>,
    /// The documented values of an enumeration: (value, description).
    pub(crate) variants: Vec<(String, String)>,
    /// Nesting level (0 for top-level options).
    pub(crate) depth: usize,
}

impl ConfigOption {
    /// The default for people: `None` when there is none or it is `null`
    /// (unset; the description says what that means).
    pub(crate) fn shown_default(&self) -> Option<String> {
        match &self.default {
            None | Some(Value::Null) => None,
            Some(v) => Some(literal(v)),
        }
    }
}

/// The options of `spec`'s config schema, each followed by its nested
/// options (`nested`), in schema order. Secrets are the schema's `writeOnly`
/// options and the paths the spec reports as secret.
pub(crate) fn options(spec: &ConnectorSpec, nested: bool) -> Vec<ConfigOption> {
    let Some(root) = &spec.config_schema else {
        return Vec::new();
    };
    let secrets: Vec<String> = spec
        .secret_paths()
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut out = Vec::new();
    let walker = Walker {
        root,
        nested,
        secrets: &secrets,
    };
    walker.object(root, "", 0, &mut out);
    out
}

/// The type of `schema`, resolved against `root` (`$ref`s into `$defs`).
pub(crate) fn type_name(root: &Value, schema: &Value) -> String {
    render_type(root, schema, 0)
}

/// A JSON value as it is written in YAML or JSON: strings quoted.
pub(crate) fn literal(value: &Value) -> String {
    value.to_string()
}

struct Walker<'a> {
    root: &'a Value,
    nested: bool,
    secrets: &'a [String],
}

impl Walker<'_> {
    /// Adds the properties of the object schema `schema` under `prefix`.
    fn object(&self, schema: &Value, prefix: &str, depth: usize, out: &mut Vec<ConfigOption>) {
        if depth > MAX_DEPTH {
            return;
        }
        let schema = resolve(self.root, schema);
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (name, prop) in props {
            let path = format!("{prefix}{name}");
            out.push(self.option(prop, &path, required.contains(&name.as_str()), depth));
            if self.nested {
                self.children(prop, &path, depth, out);
            }
        }
    }

    /// The nested options of `prop`: an object's properties, or those of an
    /// array's or map's elements (`path.*.x`).
    fn children(&self, prop: &Value, path: &str, depth: usize, out: &mut Vec<ConfigOption>) {
        let target = non_null(self.root, prop);
        if has_properties(target) {
            self.object(target, &format!("{path}."), depth + 1, out);
            return;
        }
        let element = match target.get("type").and_then(Value::as_str) {
            Some("array") => target.get("items"),
            Some("object") => target.get("additionalProperties").filter(|v| v.is_object()),
            _ => None,
        };
        if let Some(element) = element {
            let element = non_null(self.root, element);
            if has_properties(element) {
                self.object(element, &format!("{path}.*."), depth + 1, out);
            }
        }
    }

    fn option(&self, prop: &Value, path: &str, required: bool, depth: usize) -> ConfigOption {
        let parts = layers(self.root, prop);
        let first = |key: &str| parts.iter().find_map(|p| p.get(key));
        let description = first("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let secret = parts
            .iter()
            .any(|p| p.get("writeOnly").and_then(Value::as_bool) == Some(true))
            || self.secrets.iter().any(|s| s == path);
        ConfigOption {
            path: path.to_string(),
            ty: type_name(self.root, prop),
            required,
            default: prop.get("default").cloned(),
            description,
            constraints: constraints(&parts),
            secret,
            examples: first("examples")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            variants: variants(self.root, prop),
            depth,
        }
    }
}

/// Follows a local `$ref` (`#/$defs/Name`); anything else is itself.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..MAX_DEPTH {
        let Some(target) = current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
        else {
            break;
        };
        current = target;
    }
    current
}

/// `schema` resolved, and for an optional value (`anyOf: [T, null]`) `T`.
fn non_null<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let schema = resolve(root, schema);
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let real: Vec<&Value> = branches.iter().filter(|b| !is_null(root, b)).collect();
            if let [one] = real.as_slice() {
                return resolve(root, one);
            }
        }
    }
    schema
}

/// The schema of a property and what it refers to: where its description,
/// constraints and flags may be.
fn layers<'a>(root: &'a Value, prop: &'a Value) -> Vec<&'a Value> {
    let mut out = vec![prop];
    let resolved = resolve(root, prop);
    if !std::ptr::eq(resolved, prop) {
        out.push(resolved);
    }
    let inner = non_null(root, prop);
    if !out.iter().any(|p| std::ptr::eq(*p, inner)) {
        out.push(inner);
    }
    out
}

fn has_properties(schema: &Value) -> bool {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty())
}

fn is_null(root: &Value, schema: &Value) -> bool {
    let schema = resolve(root, schema);
    schema.get("type").and_then(Value::as_str) == Some("null")
        || schema.get("const").is_some_and(Value::is_null)
}

fn render_type(root: &Value, schema: &Value, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return "any".into();
    }
    let schema = resolve(root, schema);
    let Value::Object(map) = schema else {
        // `true` (anything) or `false` (nothing).
        return "any".into();
    };
    if let Some(c) = map.get("const") {
        return literal(c);
    }
    if let Some(values) = map.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(literal)
            .collect();
        return values.join(" | ");
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = map.get(key).and_then(Value::as_array) {
            let mut parts: Vec<String> = Vec::new();
            for b in branches.iter().filter(|b| !is_null(root, b)) {
                let t = render_type(root, b, depth + 1);
                if !parts.contains(&t) {
                    parts.push(t);
                }
            }
            return parts.join(" | ");
        }
    }
    if let Some([one]) = map
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        return render_type(root, one, depth + 1);
    }
    match map.get("type") {
        Some(Value::String(t)) => single_type(root, t, map, depth),
        Some(Value::Array(types)) => {
            let parts: Vec<String> = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .map(|t| single_type(root, t, map, depth))
                .collect();
            if parts.is_empty() {
                "null".into()
            } else {
                parts.join(" | ")
            }
        }
        _ if map.contains_key("properties") => "object".into(),
        _ => "any".into(),
    }
}

fn single_type(root: &Value, t: &str, map: &Map<String, Value>, depth: usize) -> String {
    match t {
        "array" => match map.get("items") {
            Some(items) => format!("array of {}", element(root, items, depth)),
            None => "array".into(),
        },
        "object" => match map.get("additionalProperties") {
            Some(values @ (Value::Object(_) | Value::Bool(true)))
                if !map.contains_key("properties") =>
            {
                format!("map of {}", element(root, values, depth))
            }
            _ => "object".into(),
        },
        other => other.into(),
    }
}

/// An element type, parenthesized when it is a union.
fn element(root: &Value, schema: &Value, depth: usize) -> String {
    let t = render_type(root, schema, depth + 1);
    if t.contains(" | ") {
        format!("({t})")
    } else {
        t
    }
}

/// The documented values of an enumeration (schemars writes a documented
/// enum as `oneOf` of `const`s or one-value `enum`s with descriptions).
fn variants(root: &Value, prop: &Value) -> Vec<(String, String)> {
    let target = non_null(root, prop);
    let Some(branches) = target.get("oneOf").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for b in branches {
        let b = resolve(root, b);
        let value = b.get("const").or_else(|| {
            b.get("enum")
                .and_then(Value::as_array)
                .filter(|e| e.len() == 1)
                .and_then(|e| e.first())
        });
        let (Some(value), Some(desc)) = (value, b.get("description").and_then(Value::as_str))
        else {
            continue;
        };
        let desc = desc.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push((literal(value), desc));
    }
    out
}

/// The constraints stated in `parts` (the property and what it refers to).
fn constraints(parts: &[&Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |c: String| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    for p in parts {
        let num = |key: &str| p.get(key).filter(|v| v.is_number()).map(Value::to_string);
        let format = p.get("format").and_then(Value::as_str);
        for (key, label) in [
            ("minimum", "≥ "),
            ("exclusiveMinimum", "> "),
            ("maximum", "≤ "),
            ("exclusiveMaximum", "< "),
            ("minLength", "length ≥ "),
            ("maxLength", "length ≤ "),
            ("minItems", "at least "),
            ("maxItems", "at most "),
            ("minProperties", "at least "),
            ("maxProperties", "at most "),
        ] {
            if let Some(n) = num(key) {
                let unit = match key {
                    "minItems" | "maxItems" => " items",
                    "minProperties" | "maxProperties" => " entries",
                    _ => "",
                };
                add(format!("{label}{n}{unit}"));
            }
        }
        if p.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            add("unique items".into());
        }
        if let Some(pattern) = p.get("pattern").and_then(Value::as_str) {
            add(format!("matches `{pattern}`"));
        }
        if p.get("type").and_then(Value::as_str) == Some("string") {
            if let Some(f) = format {
                add(format!("format {f}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_refs_unions_arrays_maps_and_enums() {
        let root = json!({
            "$defs": {
                "Mode": {"oneOf": [
                    {"type": "string", "const": "keep", "description": "Keep them."},
                    {"type": "string", "const": "drop", "description": "Drop them."}
                ]},
                "Tls": {"type": "object", "properties": {"mode": {"type": "string"}}}
            }
        });
        let t = |s: Value| type_name(&root, &s);
        assert_eq!(t(json!({"$ref": "#/$defs/Mode"})), "\"keep\" | \"drop\"");
        assert_eq!(
            t(json!({"anyOf": [{"$ref": "#/$defs/Mode"}, {"type": "null"}]})),
            "\"keep\" | \"drop\""
        );
        assert_eq!(t(json!({"type": ["string", "null"]})), "string");
        assert_eq!(
            t(json!({"type": "array", "items": {"type": "string"}})),
            "array of string"
        );
        assert_eq!(
            t(json!({"type": "array", "items": {"enum": ["a", "b"]}})),
            "array of (\"a\" | \"b\")"
        );
        assert_eq!(
            t(json!({"type": "object", "additionalProperties": {"type": "integer"}})),
            "map of integer"
        );
        assert_eq!(
            t(json!({"type": "object", "additionalProperties": true})),
            "map of any"
        );
        assert_eq!(t(json!({"type": "object"})), "object");
        assert_eq!(t(json!({"$ref": "#/$defs/Tls"})), "object");
        assert_eq!(t(json!(true)), "any");
        assert_eq!(
            t(json!({"oneOf": [{"type": "string"}, {"type": "integer"}]})),
            "string | integer"
        );
        let v = variants(&root, &json!({"$ref": "#/$defs/Mode"}));
        assert_eq!(
            v,
            vec![
                ("\"keep\"".to_string(), "Keep them.".to_string()),
                ("\"drop\"".to_string(), "Drop them.".to_string())
            ]
        );
    }

    #[test]
    fn walks_nested_options_with_constraints_and_secrets() {
        let schema = json!({
            "type": "object",
            "required": ["host"],
            "properties": {
                "host": {"type": "string", "description": "Server  host.", "minLength": 1},
                "password": {"type": "string", "writeOnly": true, "description": "Password."},
                "port": {"type": "integer", "format": "uint16", "minimum": 1, "maximum": 65535,
                         "default": 5432, "description": "Port."},
                "tls": {"description": "TLS.", "anyOf": [{"$ref": "#/$defs/Tls"}, {"type": "null"}],
                        "default": null},
                "filters": {"type": "array", "description": "Filters.",
                            "items": {"$ref": "#/$defs/Filter"}}
            },
            "$defs": {
                "Tls": {"type": "object", "required": ["mode"],
                        "properties": {"mode": {"type": "string", "description": "Mode."}}},
                "Filter": {"type": "object",
                           "properties": {"key": {"type": "string", "writeOnly": true,
                                                  "description": "Key."}}}
            }
        });
        let spec = ConnectorSpec::builder("x", "1")
            .config_schema(schema)
            .build();
        let opts = options(&spec, true);
        let paths: Vec<&str> = opts.iter().map(|o| o.path.as_str()).collect();
        // In schema order (serde_json sorts the keys).
        assert_eq!(
            paths,
            [
                "filters",
                "filters.*.key",
                "host",
                "password",
                "port",
                "tls",
                "tls.mode"
            ]
        );
        let [filters, key, host, password, port, tls, mode] = opts.as_slice() else {
            panic!("{paths:?}");
        };
        assert!(host.required && host.description == "Server host.");
        assert_eq!(host.constraints, ["length ≥ 1"]);
        assert!(password.secret && !host.secret);
        assert_eq!(port.constraints, ["≥ 1", "≤ 65535"]);
        assert_eq!(port.shown_default().as_deref(), Some("5432"));
        assert_eq!(tls.ty, "object");
        assert_eq!(tls.shown_default(), None, "null means unset");
        assert!(mode.required && mode.depth == 1);
        assert_eq!(filters.ty, "array of object");
        assert!(key.secret && key.depth == 1);
        assert_eq!(options(&spec, false).len(), 5);
    }
}
