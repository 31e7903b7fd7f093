//! The example configuration of a connector page: the required options and
//! those with an example in the schema, each with a value from the schema
//! (its example, else its default, else one of its type), and the other
//! options' defaults as comments.

use rivven_connect::ConnectorKind;
use serde_json::Value;

use super::schema::ConfigOption;

/// Longest default shown as a comment (longer ones are in the options table).
const MAX_COMMENTED_DEFAULT: usize = 60;

/// The YAML block that configures the connector `name` of `kind` under the
/// instance name `my-<name>`, from its top-level `options`.
pub(crate) fn example_yaml(kind: ConnectorKind, name: &str, options: &[ConfigOption]) -> String {
    let (section, key) = match kind {
        ConnectorKind::Source => ("sources", "connector"),
        ConnectorKind::Sink => ("sinks", "connector"),
        ConnectorKind::Transform => ("transforms", "type"),
    };
    let top: Vec<&ConfigOption> = options.iter().filter(|o| o.depth == 0).collect();
    let mut out = format!(
        "{section}:\n  my-{name}:\n    {key}: {}\n",
        scalar_or_flow(name)
    );
    // Required options, and the optional ones with an example.
    let given: Vec<&&ConfigOption> = top
        .iter()
        .filter(|o| o.required || !o.examples.is_empty())
        .collect();
    let defaults: Vec<(&str, String)> = top
        .iter()
        .filter(|o| !o.required && o.examples.is_empty())
        .filter_map(|o| {
            let d = o.default.as_ref().filter(|d| !d.is_null())?;
            let text = scalar_or_flow_value(d);
            (text.chars().count() <= MAX_COMMENTED_DEFAULT).then_some((o.path.as_str(), text))
        })
        .collect();
    if given.is_empty() {
        if !defaults.is_empty() {
            out.push_str("    # config:  (every option is optional; the defaults)\n");
            for (path, value) in &defaults {
                out.push_str(&format!("    #   {path}: {value}\n"));
            }
        }
        return out;
    }
    out.push_str("    config:\n");
    for o in &given {
        out.push_str(&format!(
            "      {}: {}\n",
            o.path,
            scalar_or_flow_value(&value_for(o))
        ));
    }
    if !defaults.is_empty() {
        out.push_str("      # the defaults of the other options:\n");
        for (path, value) in &defaults {
            out.push_str(&format!("      # {path}: {value}\n"));
        }
    }
    out
}

/// A value for an option: its first example, else its default, else one
/// of its type.
fn value_for(o: &ConfigOption) -> Value {
    if let Some(e) = o.examples.first() {
        return e.clone();
    }
    if let Some(d) = o.default.as_ref().filter(|d| !d.is_null()) {
        return d.clone();
    }
    if let Some((first, _)) = o.variants.first() {
        if let Ok(v) = serde_json::from_str(first) {
            return v;
        }
    }
    let first_type = o.ty.split(" | ").next().unwrap_or("string");
    if let Ok(v @ Value::String(_)) = serde_json::from_str::<Value>(first_type) {
        return v;
    }
    match first_type {
        "integer" | "number" => Value::from(1),
        "boolean" => Value::Bool(false),
        t if t.starts_with("array") => Value::Array(Vec::new()),
        t if t.starts_with("map") || t == "object" => Value::Object(Default::default()),
        _ => Value::String(o.path.replace('.', "_")),
    }
}

/// A YAML value on one line: plain scalars where YAML reads them back
/// unchanged, double-quoted strings otherwise, flow `[…]` and `{…}` for
/// lists and maps.
pub(crate) fn scalar_or_flow_value(value: &Value) -> String {
    match value {
        Value::String(s) => scalar_or_flow(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(scalar_or_flow_value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar_or_flow(k), scalar_or_flow_value(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => other.to_string(),
    }
}

/// A string as a YAML scalar: plain when unambiguous, else double-quoted
/// (JSON string escapes are YAML's).
fn scalar_or_flow(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    let starts_well = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '/'));
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
    );
    if plain_chars && starts_well && !reserved {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opt(path: &str, ty: &str, required: bool, default: Option<Value>) -> ConfigOption {
        ConfigOption {
            path: path.into(),
            ty: ty.into(),
            required,
            default,
            description: String::new(),
            constraints: Vec::new(),
            secret: false,
            examples: Vec::new(),
            variants: Vec::new(),
            depth: 0,
        }
    }

    #[test]
    fn required_options_get_values_and_defaults_are_comments() {
        let mut condition = opt("condition", "string", true, None);
        condition.examples = vec![json!("status != 'x'")];
        let opts = [
            condition,
            opt("mode", "\"keep\" | \"drop\"", true, None),
            opt("limit", "integer", false, Some(json!(10))),
            opt("unset", "string", false, Some(Value::Null)),
        ];
        let mut with_example = opt("limit", "integer", false, Some(json!(10)));
        with_example.examples = vec![json!(5)];
        assert_eq!(
            example_yaml(ConnectorKind::Source, "gen", &[with_example]),
            "sources:\n  my-gen:\n    connector: gen\n    config:\n      limit: 5\n"
        );
        assert_eq!(
            example_yaml(ConnectorKind::Transform, "filter", &opts),
            "transforms:\n  my-filter:\n    type: filter\n    config:\n      \
             condition: \"status != 'x'\"\n      mode: keep\n      \
             # the defaults of the other options:\n      # limit: 10\n"
        );
        assert_eq!(
            example_yaml(ConnectorKind::Sink, "stdout", &opts[2..]),
            "sinks:\n  my-stdout:\n    connector: stdout\n    \
             # config:  (every option is optional; the defaults)\n    #   limit: 10\n"
        );
    }

    #[test]
    fn strings_that_yaml_would_misread_are_quoted() {
        for (s, yaml) in [
            ("orders", "orders"),
            ("./out.jsonl", "\"./out.jsonl\""),
            ("/tmp/x.jsonl", "/tmp/x.jsonl"),
            ("true", "\"true\""),
            ("No", "\"No\""),
            ("12", "\"12\""),
            ("cdc.{schema}", "\"cdc.{schema}\""),
            ("", "\"\""),
        ] {
            assert_eq!(scalar_or_flow(s), yaml, "{s}");
        }
        assert_eq!(
            scalar_or_flow_value(&json!({"a b": ["x", 1, true], "c": {}})),
            "{\"a b\": [x, 1, true], c: {}}"
        );
    }
}
