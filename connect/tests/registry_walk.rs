//! Walks the registry: every connector's config schema is a valid JSON Schema, every
//! property of every built-in connector (nested and `$ref`'d parts included) is described,
//! and every connector has a category.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use rivven_connect::registry::{Category, Registry};
use rivven_connect::{ConnectorKind, ConnectorSpec};
use serde_json::Value;

fn specs(registry: &Registry) -> Vec<(String, ConnectorSpec)> {
    registry
        .list()
        .into_iter()
        .map(|m| {
            let spec = match m.kind {
                ConnectorKind::Source => registry.source(&m.name).map(|e| e.spec()),
                ConnectorKind::Sink => registry.sink(&m.name).map(|e| e.spec()),
                ConnectorKind::Transform => registry.transform(&m.name).map(|e| e.spec()),
            };
            let label = format!("{:?} `{}`", m.kind, m.name);
            (
                label,
                spec.expect("a listed connector is found by its name"),
            )
        })
        .collect()
}

/// Property paths (`a.b`) under `schema` that have no description.
fn undescribed(
    root: &Value,
    schema: &Value,
    path: &str,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<String>,
) {
    let Value::Object(map) = schema else { return };
    if let Some(r) = map.get("$ref").and_then(Value::as_str) {
        if seen.insert(r.to_string()) {
            let target = r.strip_prefix('#').and_then(|p| root.pointer(p));
            match target {
                Some(target) => undescribed(root, target, path, seen, out),
                None => out.push(format!("{path}: unresolved `$ref` {r}")),
            }
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        for branch in map.get(key).and_then(Value::as_array).into_iter().flatten() {
            undescribed(root, branch, path, seen, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = map.get(key) {
            undescribed(root, child, &format!("{path}.*"), seen, out);
        }
    }
    for (name, prop) in map
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let at = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        let described = prop
            .get("description")
            .and_then(Value::as_str)
            .is_some_and(|d| !d.trim().is_empty());
        if !described {
            out.push(at.clone());
        }
        undescribed(root, prop, &at, seen, out);
    }
}

#[test]
fn every_connector_schema_is_a_valid_json_schema() {
    let registry = Registry::discovered().unwrap();
    let specs = specs(&registry);
    assert!(specs.len() >= 15, "the built-ins at least: {}", specs.len());
    for (label, spec) in specs {
        let schema = spec
            .config_schema
            .unwrap_or_else(|| panic!("{label} has no config schema"));
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("{label}: its schema is not a valid JSON Schema: {e}\n{schema:#}");
        }
        if let Err(e) = jsonschema::validator_for(&schema) {
            panic!("{label}: its schema does not compile: {e}");
        }
    }
}

#[test]
fn every_property_of_every_builtin_is_described() {
    let mut missing = Vec::new();
    for (label, spec) in specs(&Registry::builtin()) {
        let schema = spec.config_schema.unwrap_or_default();
        let mut out = Vec::new();
        undescribed(&schema, &schema, "", &mut BTreeSet::new(), &mut out);
        missing.extend(out.into_iter().map(|p| format!("{label}: `{p}`")));
    }
    assert!(
        missing.is_empty(),
        "properties without a description (add a doc comment to the field):\n{}",
        missing.join("\n")
    );
}

/// Schema descriptions are read by users (`spec`, `schema`, the docs), not by
/// rustdoc: no intra-doc link syntax such as ``[`FileSource`]`` in them.
#[test]
fn no_description_uses_rustdoc_link_syntax() {
    fn walk(value: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if k == "description" {
                        if let Some(text) = v.as_str() {
                            if text.contains("[`") {
                                out.push(format!("{at}: {text}"));
                            }
                        }
                    }
                    walk(v, &format!("{at}/{k}"), out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    for (label, spec) in specs(&Registry::discovered().unwrap()) {
        walk(&spec.config_schema.unwrap_or_default(), &label, &mut found);
    }
    assert!(
        found.is_empty(),
        "rustdoc links in schema descriptions:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_connector_has_a_category() {
    let registry = Registry::discovered().unwrap();
    let all = registry.list();
    let known = [
        Category::Database,
        Category::Messaging,
        Category::Storage,
        Category::Warehouse,
        Category::Lakehouse,
        Category::AiMl,
        Category::Utility,
    ];
    let listed_by_category: usize = known.iter().map(|c| registry.by_category(*c).len()).sum();
    assert_eq!(
        listed_by_category,
        all.len(),
        "each connector is in exactly one category"
    );
    for m in &all {
        let json = serde_json::to_value(m).unwrap();
        assert!(
            json["category"].as_str().is_some_and(|c| !c.is_empty()),
            "{} has no category: {json}",
            m.name
        );
    }
    // The built-ins' categories come from their derives, beside their code.
    let builtin = Registry::builtin();
    assert_eq!(builtin.source("file").unwrap().category, Category::Storage);
    assert_eq!(builtin.sink("file").unwrap().category, Category::Storage);
    assert_eq!(
        builtin.source("datagen").unwrap().category,
        Category::Utility
    );
    assert!(builtin
        .search("gdpr")
        .iter()
        .any(|m| m.name == "mask_field"));
    assert_eq!(
        builtin.transform("rename_field").unwrap().name,
        "replace_field",
        "the alias declared by the derive"
    );
}

#[test]
fn builtins_are_this_crates_registrations_and_do_not_clash() {
    let builtin = Registry::try_builtin().unwrap();
    let names: BTreeSet<(String, String)> = builtin
        .list()
        .into_iter()
        .map(|m| (format!("{:?}", m.kind), m.name))
        .collect();
    for expected in [
        ("Source", "datagen"),
        ("Source", "file"),
        ("Sink", "stdout"),
        ("Sink", "file"),
        ("Transform", "extract_new_record_state"),
        ("Transform", "value_to_key"),
        ("Transform", "mask_field"),
        ("Transform", "insert_field"),
        ("Transform", "replace_field"),
        ("Transform", "regex_router"),
        ("Transform", "content_router"),
        ("Transform", "timestamp_converter"),
        ("Transform", "filter"),
        ("Transform", "cast"),
        ("Transform", "flatten"),
    ] {
        assert!(
            names.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} missing from {names:?}"
        );
    }
    assert!(builtin
        .list()
        .iter()
        .all(|m| m.type_name.starts_with("rivven_connect::")));
}

#[test]
fn the_walk_reports_undescribed_nested_and_referenced_properties() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "a": {"type": "string", "description": "A."},
            "b": {"description": "B.", "$ref": "#/$defs/Inner"},
            "c": {"type": "array", "description": "C.", "items": {"$ref": "#/$defs/Inner"}}
        },
        "$defs": {"Inner": {"type": "object", "properties": {
            "x": {"type": "string"},
            "y": {"anyOf": [{"type": "object", "properties": {"z": {"type": "integer"}}}, {"type": "null"}],
                  "description": "Y."}
        }}}
    });
    let mut out = Vec::new();
    undescribed(&schema, &schema, "", &mut BTreeSet::new(), &mut out);
    // `Inner` is walked once (under `b`), where its `x` and `y.z` lack descriptions.
    assert_eq!(out, ["b.x", "b.y.z"]);
}
