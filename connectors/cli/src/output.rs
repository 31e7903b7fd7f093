//! Rendering command results as text (for people) or JSON (for tools).

use rivven_connect::config::{ConfigError, ConnectConfig};
use rivven_connect::registry::{Category, ConnectorMetadata, Registry};
use rivven_connect::{Catalog, ConnectorKind, ConnectorSpec};
use serde_json::{json, Value};
use std::io::IsTerminal as _;

use super::commands::{diagnostics_json, CheckLine};
use super::docs::schema;
use super::Format;

/// Where and how results are printed.
pub(crate) struct Report {
    pub(crate) format: Format,
}

impl Report {
    pub(crate) fn new(format: Format) -> Self {
        Self { format }
    }

    fn json(&self, value: &Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }
}

pub(crate) fn kind_name(kind: ConnectorKind) -> &'static str {
    match kind {
        ConnectorKind::Source => "source",
        ConnectorKind::Sink => "sink",
        ConnectorKind::Transform => "transform",
    }
}

/// An error of a command: `error: …` on stderr, or with `--format json`
/// `{"success": false, "error": "…"}` on stdout.
pub(crate) fn error(report: &Report, message: &str) {
    match report.format {
        Format::Json => report.json(&json!({ "success": false, "error": message })),
        Format::Text => eprintln!("error: {message}"),
    }
}

/// A configuration's problems: on stderr each with its source line and a
/// caret (coloured on a terminal unless `NO_COLOR` is set), or with
/// `--format json` as `{"file": …, "errors": [{path, line, column, message, help}]}`
/// on stdout.
pub(crate) fn config_error(report: &Report, e: &ConfigError) {
    match report.format {
        Format::Json => report.json(&diagnostics_json(e)),
        Format::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let text = if colour {
                e.render_styled()
            } else {
                e.render()
            };
            eprintln!("{text}");
        }
    }
}

pub(crate) fn validated(report: &Report, config: &ConnectConfig) {
    let pipelines = config.enabled_pipelines();
    match report.format {
        Format::Json => report.json(&json!({
            "valid": true,
            "sources": config.sources.len(),
            "sinks": config.sinks.len(),
            "transforms": config.transforms.len(),
            "pipelines": pipelines.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        })),
        Format::Text => println!(
            "configuration is valid: {} source(s), {} sink(s), {} transform(s), {} enabled pipeline(s)",
            config.sources.len(),
            config.sinks.len(),
            config.transforms.len(),
            pipelines.len()
        ),
    }
}

pub(crate) fn connectors(report: &Report, registry: &Registry, search: Option<&str>) {
    let mut list: Vec<ConnectorMetadata> = match search {
        Some(text) => registry.search(text),
        None => registry.list(),
    };
    list.sort_by(|a, b| {
        (a.category, a.kind as u8, &a.name).cmp(&(b.category, b.kind as u8, &b.name))
    });
    if report.format == Format::Json {
        report.json(&json!(list));
        return;
    }
    if list.is_empty() {
        println!("no connector matches `{}`", search.unwrap_or_default());
        return;
    }
    let width = list.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let mut current: Option<Category> = None;
    for m in &list {
        if current != Some(m.category) {
            println!(
                "{}{}",
                if current.is_some() { "\n" } else { "" },
                category_title(m.category)
            );
            current = Some(m.category);
        }
        println!(
            "  {:<9} {:<width$}  {}",
            kind_name(m.kind),
            m.name,
            m.description
        );
    }
}

fn category_title(c: Category) -> &'static str {
    match c {
        Category::Database => "Databases",
        Category::Messaging => "Messaging",
        Category::Storage => "Storage",
        Category::Warehouse => "Warehouses",
        Category::Lakehouse => "Lakehouse",
        Category::AiMl => "AI / ML",
        Category::Utility => "Utility",
    }
}

pub(crate) fn specs(report: &Report, specs: &[ConnectorSpec], schema_only: bool) {
    if schema_only {
        schemas(report, specs);
        return;
    }
    if report.format == Format::Json {
        match specs {
            [one] => report.json(&json!(one)),
            many => report.json(&json!(many)),
        }
        return;
    }
    for (i, s) in specs.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!(
            "{} {} ({}), version {}",
            kind_name(s.kind),
            s.name,
            s.description.as_deref().unwrap_or(""),
            s.version
        );
        let options = schema::options(s, false);
        if options.is_empty() {
            continue;
        }
        println!("config:");
        for o in &options {
            let mut notes = Vec::new();
            if o.required {
                notes.push("required".to_string());
            }
            if let Some(d) = o.shown_default() {
                notes.push(format!("default {d}"));
            }
            if o.secret {
                notes.push("secret".into());
            }
            notes.extend(o.constraints.iter().cloned());
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!("  [{}]", notes.join(", "))
            };
            println!("  {}: {}{notes}", o.path, o.ty);
            if !o.description.is_empty() {
                println!("      {}", o.description);
            }
            for (value, what) in &o.variants {
                println!("      {value}: {what}");
            }
        }
        // Secrets inside nested objects, arrays and maps (top-level ones
        // are marked above): the same paths the runtime redacts.
        let nested: Vec<String> = s
            .secret_paths()
            .iter()
            .map(ToString::to_string)
            .filter(|p| p.contains('.'))
            .collect();
        if !nested.is_empty() {
            println!("nested secrets: {}", nested.join(", "));
        }
    }
}

/// `schema`: the JSON Schema of the config; for a name that is several
/// kinds (`file` is a source and a sink), each labelled with its kind — an
/// object keyed by kind with `--format json`, a heading per schema in text.
fn schemas(report: &Report, specs: &[ConnectorSpec]) {
    let schema = |s: &ConnectorSpec| s.config_schema.clone().unwrap_or(Value::Null);
    match (specs, report.format) {
        ([one], _) => report.json(&schema(one)),
        (many, Format::Json) => {
            let labelled: serde_json::Map<String, Value> = many
                .iter()
                .map(|s| (kind_name(s.kind).to_string(), schema(s)))
                .collect();
            report.json(&Value::Object(labelled));
        }
        (many, Format::Text) => {
            for (i, s) in many.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                println!("{} `{}`:", kind_name(s.kind), s.name);
                report.json(&schema(s));
            }
        }
    }
}

pub(crate) fn checks(report: &Report, lines: &[CheckLine]) {
    let ok = lines
        .iter()
        .all(|l| l.result.as_ref().is_ok_and(|r| r.is_success()));
    if report.format == Format::Json {
        let results: Vec<Value> = lines
            .iter()
            .map(|l| {
                let mut v = json!({
                    "kind": kind_name(l.kind),
                    "name": l.name,
                    "connector": l.connector,
                    "success": l.result.as_ref().is_ok_and(|r| r.is_success()),
                });
                match &l.result {
                    Ok(r) => v["result"] = json!(r),
                    Err(e) => v["error"] = json!(e),
                }
                v
            })
            .collect();
        report.json(&json!({ "success": ok, "results": results }));
        return;
    }
    for l in lines {
        let (mark, detail) = match &l.result {
            // A passed check may still say something (a warning, say).
            Ok(r) if r.is_success() => (
                "ok  ",
                r.message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default(),
            ),
            Ok(r) => ("FAIL", format!(": {}", r.summary())),
            Err(e) => ("FAIL", format!(": {e}")),
        };
        println!(
            "{mark} {} `{}` ({}){detail}",
            kind_name(l.kind),
            l.name,
            l.connector
        );
    }
    println!(
        "{}",
        if ok {
            "all checks passed"
        } else {
            "some checks failed"
        }
    );
}

pub(crate) fn catalog(report: &Report, source: &str, catalog: &Catalog) {
    if report.format == Format::Json {
        report.json(&json!(catalog));
        return;
    }
    println!("source `{source}`: {} stream(s)", catalog.streams.len());
    // The stream name as the source's events carry it (what a pipeline's
    // `streams:`, routers and sinks see); the namespace is shown beside it.
    for s in &catalog.streams {
        let namespace = s
            .namespace
            .as_deref()
            .map(|ns| format!("  namespace {ns}"))
            .unwrap_or_default();
        let modes: Vec<String> = s
            .supported_sync_modes
            .iter()
            .map(|m| format!("{m:?}"))
            .collect();
        println!("  {}{namespace}  sync modes: {}", s.name, modes.join(", "));
    }
}

pub(crate) fn status(report: &Report, health: &Value) {
    if report.format == Format::Json {
        report.json(health);
        return;
    }
    println!(
        "status: {}",
        health
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
    );
    for p in health
        .get("pipelines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let n = |k: &str| p.get(k).and_then(Value::as_u64).unwrap_or(0);
        println!(
            "  {:<24} {:<11} read {:>10}  written {:>10}  failed {:>6}  restarts {}{}",
            p.get("name").and_then(Value::as_str).unwrap_or("?"),
            p.get("state").and_then(Value::as_str).unwrap_or("?"),
            n("events_read"),
            n("events_written"),
            n("events_failed") + n("events_dead_lettered"),
            n("restarts"),
            p.get("last_error")
                .and_then(Value::as_str)
                .map(|e| format!("  last error: {e}"))
                .unwrap_or_default()
        );
    }
}
