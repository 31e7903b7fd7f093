//! Validating a JSON value against a JSON Schema, turning each failure into
//! a [`Diagnostic`] with a key path, a position and a "did you mean" hint
//! for unknown keys.

use jsonschema::error::ValidationErrorKind;
use jsonschema::ValidationError;
use serde_json::Value;

use super::diagnostics::{hint, Diagnostic};
use super::tree::Node;

/// Where the checked value sits in the document.
pub(crate) struct Scope<'a> {
    /// The whole document.
    pub(crate) tree: &'a Node,
    /// Path of the checked value inside the document.
    pub(crate) prefix: Vec<String>,
    /// The connector whose config this is, named in unknown-key messages.
    pub(crate) connector: Option<&'a str>,
}

impl Scope<'_> {
    fn path(&self, rest: &[String]) -> Vec<String> {
        self.prefix.iter().chain(rest).cloned().collect()
    }

    fn diagnostic(&self, rest: &[String], key: Option<&str>, message: String) -> Diagnostic {
        let mut path = self.path(rest);
        let at = match key {
            Some(k) => {
                let at = self.tree.locate_key(path.iter().map(String::as_str), k);
                path.push(k.to_string());
                at
            }
            None => self.tree.locate(path.iter().map(String::as_str)),
        };
        Diagnostic::new(path.join("."), Some(at), message)
    }
}

/// Check `instance` against `schema`; every failure becomes a diagnostic.
pub(crate) fn check(schema: &Value, instance: &Value, scope: &Scope<'_>) -> Vec<Diagnostic> {
    let validator = match jsonschema::validator_for(schema) {
        Ok(v) => v,
        Err(e) => {
            return vec![scope.diagnostic(
                &[],
                None,
                format!("the connector's schema is invalid: {e}"),
            )]
        }
    };
    let mut out = Vec::new();
    for error in validator.iter_errors(instance) {
        describe(schema, &error, scope, &mut out);
    }
    out
}

fn describe(
    schema: &Value,
    error: &ValidationError<'_>,
    scope: &Scope<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let at = pointer_segments(error.instance_path().as_str());
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(schema, &at);
            for key in unexpected {
                let (message, help) = unknown_key_message(key, &allowed, scope.connector);
                out.push(scope.diagnostic(&at, Some(key), message).with_help(help));
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            out.push(scope.diagnostic(&at, None, format!("missing required key `{name}`")));
        }
        ValidationErrorKind::Enum { options } => {
            let given = error.instance();
            let choices: Vec<&str> = options
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let help = given
                .as_str()
                .and_then(|g| hint(g, choices.iter().copied()));
            out.push(
                scope
                    .diagnostic(&at, None, format!("{given} is not one of {options}"))
                    .with_help(help),
            );
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context }
            if one_of_constants(context).is_some() =>
        {
            let choices = one_of_constants(context).unwrap_or_default();
            let given = error.instance();
            let help = given
                .as_str()
                .and_then(|g| hint(g, choices.iter().filter_map(|c| c.as_str())));
            let list: Vec<String> = choices.iter().map(Value::to_string).collect();
            let message = format!("{given} is not one of {}", list.join(", "));
            out.push(scope.diagnostic(&at, None, message).with_help(help));
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            // Report the errors of the alternative whose type matched, when one did
            // (an inline transform with a typo reports the typo, not "matches no alternative").
            let matched = context.iter().find(|errors| {
                !errors.iter().any(|e| {
                    matches!(e.kind(), ValidationErrorKind::Type { .. })
                        && e.instance_path().as_str() == error.instance_path().as_str()
                })
            });
            match matched {
                Some(errors) if !errors.is_empty() => {
                    for e in errors {
                        describe(schema, e, scope, out);
                    }
                }
                _ => out.push(scope.diagnostic(&at, None, plain(error))),
            }
        }
        _ => out.push(scope.diagnostic(&at, None, plain(error))),
    }
}

/// "unknown key `x`" (with a connector "unknown key `x` in the `c`
/// config") and "did you mean `y`?".
fn unknown_key_message(
    key: &str,
    allowed: &[String],
    connector: Option<&str>,
) -> (String, Option<String>) {
    let owner = connector
        .map(|c| format!(" in the `{c}` config"))
        .unwrap_or_default();
    (
        format!("unknown key `{key}`{owner}"),
        hint(key, allowed.iter().map(String::as_str)),
    )
}

/// The keys of `instance` that `schema` does not allow, each as
/// "`path.key`: unknown key `key` (did you mean `…`?)"; every other failure is ignored.
pub(crate) fn unknown_keys(schema: &Value, instance: &Value) -> Vec<String> {
    let Ok(validator) = jsonschema::validator_for(schema) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for error in validator.iter_errors(instance) {
        collect_unknown(schema, &error, &mut out);
    }
    out
}

fn collect_unknown(schema: &Value, error: &ValidationError<'_>, out: &mut Vec<String>) {
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let at = pointer_segments(error.instance_path().as_str());
            let allowed = allowed_keys(schema, &at);
            for key in unexpected {
                let path: Vec<&str> = at
                    .iter()
                    .map(String::as_str)
                    .chain([key.as_str()])
                    .collect();
                let (message, help) = unknown_key_message(key, &allowed, None);
                let help = help.map(|h| format!(" ({h})")).unwrap_or_default();
                out.push(format!("`{}`: {message}{help}", path.join(".")));
            }
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            // The alternative whose type matched, as `describe` does.
            let matched = context.iter().find(|errors| {
                !errors.iter().any(|e| {
                    matches!(e.kind(), ValidationErrorKind::Type { .. })
                        && e.instance_path().as_str() == error.instance_path().as_str()
                })
            });
            for e in matched.into_iter().flatten() {
                collect_unknown(schema, e, out);
            }
        }
        _ => {}
    }
}

/// The allowed values when every alternative is a single constant (a
/// documented enum: schemars writes `oneOf: [{const: …}, …]`).
fn one_of_constants(context: &[Vec<ValidationError<'static>>]) -> Option<Vec<Value>> {
    context
        .iter()
        .map(|errors| match errors.as_slice() {
            [e] => match e.kind() {
                ValidationErrorKind::Constant { expected_value } => {
                    Some((**expected_value).clone())
                }
                ValidationErrorKind::Enum { options } => Some((**options).clone()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Option<Vec<Value>>>()
        .map(|values| {
            values
                .into_iter()
                .flat_map(|v| match v {
                    Value::Array(items) => items,
                    other => vec![other],
                })
                .collect()
        })
}

fn plain(error: &ValidationError<'_>) -> String {
    let text = error.to_string();
    match error.kind() {
        ValidationErrorKind::Type { .. } => {
            text.replace("is not of type", "is not of the expected type")
        }
        _ => text,
    }
}

/// JSON pointer → path segments.
pub(crate) fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The property names the schema allows for the object at `path`.
fn allowed_keys(schema: &Value, path: &[String]) -> Vec<String> {
    let mut node = resolve(schema, schema);
    for segment in path {
        let next = node
            .get("properties")
            .and_then(|p| p.get(segment))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))
            .or_else(|| node.get("items"))
            .or_else(|| alternatives(node).find(|alt| alt.get("properties").is_some()));
        match next {
            Some(n) => node = resolve(schema, n),
            None => return Vec::new(),
        }
    }
    let node = if node.get("properties").is_none() {
        alternatives(node)
            .map(|a| resolve(schema, a))
            .find(|a| a.get("properties").is_some())
            .unwrap_or(node)
    } else {
        node
    };
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn alternatives(node: &Value) -> impl Iterator<Item = &Value> {
    ["anyOf", "oneOf", "allOf"]
        .into_iter()
        .filter_map(|k| node.get(k).and_then(Value::as_array))
        .flatten()
}

/// Follow a local `$ref` (`#/$defs/X`).
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..16 {
        let Some(r) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
            Some(target) => node = target,
            None => break,
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_keys_get_positions_and_hints() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"pattern": {"type": "string"}, "max_events": {"type": "integer", "minimum": 0}},
            "required": ["pattern"]
        });
        let text = "cfg:\n  paternn: users\n  max_events: -3\n";
        let tree = Node::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let scope = Scope {
            tree: &tree,
            prefix: vec!["cfg".into()],
            connector: None,
        };
        let mut diags = check(&schema, &tree.to_json()["cfg"], &scope);
        diags.sort_by_key(|d| d.path.clone());
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(
            text.contains(&"1:1: `cfg`: missing required key `pattern`".to_string()),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("3:15: `cfg.max_events`: -3 is less than the minimum of 0")),
            "{text:?}"
        );
        assert!(
            text.contains(
                &"2:3: `cfg.paternn`: unknown key `paternn` (did you mean `pattern`?)".to_string()
            ),
            "{text:?}"
        );
    }
}
