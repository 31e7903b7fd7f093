//! The checks run on a parsed configuration: its structure (against the
//! schema of [`ConnectConfig`]), every connector and transform config
//! (against the connector's own schema, then its `validator` rules, after
//! `file://` secrets are read), and cross references between sections.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

use super::diagnostics::{did_you_mean, hint, Diagnostic};
use super::schema_check::{self, Scope};
use super::tree::{Node, Pos};
use super::ConnectConfig;
use crate::registry::Registry;
use crate::spec::{ConnectorKind, ConnectorSpec};
use crate::SecretPath;

/// A connector config after secrets were read: value and where its secrets
/// are, by its path in the document (`sources.pg.config`).
pub(crate) type Resolved = BTreeMap<Vec<String>, (Value, BTreeSet<SecretPath>)>;

/// Reads a `file://` secret.
pub(crate) type ReadFile<'a> = &'a dyn Fn(&str) -> std::io::Result<String>;

pub(crate) struct Checker<'a> {
    pub(crate) tree: &'a Node,
    /// The configuration text the tree was parsed from (secrets given as
    /// YAML numbers are taken from it verbatim: `007` stays `007`).
    pub(crate) text: &'a str,
    pub(crate) json: Value,
    pub(crate) registry: &'a Registry,
    pub(crate) read_file: ReadFile<'a>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) resolved: Resolved,
    /// Where the values of secret fields are written (masked when the
    /// error quotes their lines).
    pub(crate) secrets: Vec<Pos>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(
        tree: &'a Node,
        text: &'a str,
        registry: &'a Registry,
        read_file: ReadFile<'a>,
    ) -> Self {
        Self {
            json: tree.to_json(),
            tree,
            text,
            registry,
            read_file,
            diagnostics: Vec::new(),
            resolved: BTreeMap::new(),
            secrets: Vec::new(),
        }
    }

    pub(crate) fn run(&mut self) {
        if !self.json.is_object() {
            self.error(
                &[],
                "the configuration must be a mapping (`sources:`, `sinks:`, `pipelines:` …)".into(),
            );
            return;
        }
        let schema =
            serde_json::to_value(schemars::schema_for!(ConnectConfig)).unwrap_or(Value::Null);
        let scope = Scope {
            tree: self.tree,
            prefix: Vec::new(),
            connector: None,
        };
        let structural = schema_check::check(&schema, &self.json, &scope);
        self.diagnostics.extend(structural);
        self.check_version();
        self.check_connectors();
        self.check_references();
    }

    fn section(&self, name: &str) -> Vec<(String, Value)> {
        self.json
            .get(name)
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The names defined in `section`, and in any top-level key that is a
    /// likely misspelling of it (`sinsk:`), which is reported once as an
    /// unknown key: references into it are not reported again.
    fn names(&self, section: &str) -> Vec<String> {
        self.referable(section)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// The entries of `section` and of its likely misspellings (see [`Self::names`]).
    fn referable(&self, section: &str) -> Vec<(String, Value)> {
        let misspelled = self
            .json
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|k| !SECTIONS.contains(&k.as_str()))
            .filter(|k| did_you_mean(k, SECTIONS) == Some(section))
            .flat_map(|k| self.section(k));
        self.section(section)
            .into_iter()
            .chain(misspelled)
            .collect()
    }

    fn error(&mut self, path: &[&str], message: String) {
        self.error_with(path, message, None);
    }

    fn error_with(&mut self, path: &[&str], message: String, help: Option<String>) {
        let at = self.tree.locate(path.iter().copied());
        self.diagnostics
            .push(Diagnostic::new(path.join("."), Some(at), message).with_help(help));
    }

    fn check_connectors(&mut self) {
        for (kind, section) in [
            (ConnectorKind::Source, "sources"),
            (ConnectorKind::Sink, "sinks"),
        ] {
            for (name, entry) in self.section(section) {
                let Some(connector) = entry.get("connector").and_then(Value::as_str) else {
                    continue; // reported by the structural check
                };
                let config = entry
                    .get("config")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new()));
                self.check_connector(kind, &[section, &name], "connector", connector, config);
                if let Some(items) = entry.get("transforms").and_then(Value::as_array) {
                    self.check_inline_transforms(&[section, &name, "transforms"], items);
                }
            }
        }
        for (name, entry) in self.section("transforms") {
            if let Some(kind) = entry.get("type").and_then(Value::as_str) {
                let config = entry
                    .get("config")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new()));
                self.check_connector(
                    ConnectorKind::Transform,
                    &["transforms", &name],
                    "type",
                    kind,
                    config,
                );
            }
        }
        for (name, entry) in self.section("pipelines") {
            if let Some(items) = entry.get("transforms").and_then(Value::as_array) {
                self.check_inline_transforms(&["pipelines", &name, "transforms"], items);
            }
        }
    }

    fn check_inline_transforms(&mut self, path: &[&str], items: &[Value]) {
        for (i, item) in items.iter().enumerate() {
            if let Some(kind) = item.get("type").and_then(Value::as_str) {
                let config = item
                    .get("config")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new()));
                let index = i.to_string();
                let mut at: Vec<&str> = path.to_vec();
                at.push(&index);
                self.check_connector(ConnectorKind::Transform, &at, "type", kind, config);
            }
        }
    }

    /// Check one `connector:`/`type:` name and its `config:` block.
    fn check_connector(
        &mut self,
        kind: ConnectorKind,
        at: &[&str],
        name_key: &str,
        name: &str,
        config: Value,
    ) {
        let mut name_path = at.to_vec();
        name_path.push(name_key);
        let found = match kind {
            ConnectorKind::Source => self
                .registry
                .source(name)
                .map(|e| (e.spec(), EntryRef::Source)),
            ConnectorKind::Sink => self.registry.sink(name).map(|e| (e.spec(), EntryRef::Sink)),
            ConnectorKind::Transform => self
                .registry
                .transform(name)
                .map(|e| (e.spec(), EntryRef::Transform)),
        };
        let Some((spec, entry)) = found else {
            let (message, help) = self.unknown_connector(kind, name);
            self.error_with(&name_path, message, help);
            return;
        };
        let mut config_path: Vec<String> = at.iter().map(|s| s.to_string()).collect();
        config_path.push("config".into());
        let Some((value, secrets)) = self.resolve_secrets(&spec, &config_path, config) else {
            return;
        };
        let scope = Scope {
            tree: self.tree,
            prefix: config_path.clone(),
            connector: Some(name),
        };
        let mut problems = match &spec.config_schema {
            Some(schema) => schema_check::check(schema, &value, &scope),
            None => Vec::new(),
        };
        if problems.is_empty() {
            let built = match entry {
                EntryRef::Source => self
                    .registry
                    .source(name)
                    .map(|e| e.build(value.clone()).map(drop)),
                EntryRef::Sink => self
                    .registry
                    .sink(name)
                    .map(|e| e.build(value.clone()).map(drop)),
                EntryRef::Transform => self
                    .registry
                    .transform(name)
                    .map(|e| e.build(value.clone()).map(drop)),
            };
            if let Some(Err(e)) = built {
                let at = self.tree.locate(config_path.iter().map(String::as_str));
                problems.push(Diagnostic::new(
                    config_path.join("."),
                    Some(at),
                    e.message(),
                ));
            }
        }
        redact_secrets(&mut problems, &config_path, &value, &secrets);
        if problems.is_empty() {
            self.resolved.insert(config_path, (value, secrets));
        }
        self.diagnostics.extend(problems);
    }

    /// The message and help for a `connector:`/`type:` naming nothing registered.
    fn unknown_connector(&self, kind: ConnectorKind, name: &str) -> (String, Option<String>) {
        let all = self.registry.list();
        let same: Vec<&str> = all
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.name.as_str())
            .collect();
        let what = match kind {
            ConnectorKind::Source => "source connector",
            ConnectorKind::Sink => "sink connector",
            ConnectorKind::Transform => "transform type",
        };
        if let Some(other) = all.iter().find(|m| m.name == name && m.kind != kind) {
            let message = format!("`{name}` is a {:?} connector, not a {what}", other.kind);
            return (message.to_lowercase(), None);
        }
        let help = hint(name, same)
            .unwrap_or_else(|| format!("run `rivven-connect connectors` to list the {what}s"));
        (format!("unknown {what} `{name}`"), Some(help))
    }

    /// Read `file://` references in secret fields; returns the config and where its
    /// secrets are.
    fn resolve_secrets(
        &mut self,
        spec: &ConnectorSpec,
        path: &[String],
        mut config: Value,
    ) -> Option<(Value, BTreeSet<SecretPath>)> {
        let secrets: BTreeSet<SecretPath> = spec.secret_paths().into_iter().collect();
        let mut failures = Vec::new();
        for secret in &secrets {
            secret.visit_mut(&mut config, &mut |at, value| {
                let mut full: Vec<&str> = path.iter().map(String::as_str).collect();
                full.extend(at.iter().map(String::as_str));
                self.secrets
                    .extend(self.tree.scalars_under(full.iter().copied()));
                // A secret from `${VAR}` that happens to be all digits (or
                // `true`) is a YAML number (or bool): take it as the text
                // that was written, not as a type error that prints it.
                if matches!(value, Value::Number(_) | Value::Bool(_)) {
                    let pos = self.tree.locate(full.iter().copied());
                    let text = raw_scalar(self.text, pos).unwrap_or_else(|| value.to_string());
                    *value = Value::String(text);
                }
                let Value::String(text) = &*value else {
                    return;
                };
                let Some(file) = text.strip_prefix("file://") else {
                    return;
                };
                match (self.read_file)(file) {
                    Ok(content) => {
                        *value = Value::String(content.trim_end_matches(['\n', '\r']).to_string());
                    }
                    Err(e) => failures.push((
                        full.iter().map(|s| (*s).to_string()).collect::<Vec<_>>(),
                        format!("cannot read the secret file `{file}`: {e}"),
                    )),
                }
            });
        }
        let ok = failures.is_empty();
        for (at, message) in failures {
            let at: Vec<&str> = at.iter().map(String::as_str).collect();
            self.error(&at, message);
        }
        ok.then_some((config, secrets))
    }

    /// `version:` is one this build reads (a string of another type is
    /// reported by the structural check).
    fn check_version(&mut self) {
        let quoted = format!("write `version: \"{}\"`, quoted", SUPPORTED_VERSIONS[0]);
        if self.json.get("version").is_some_and(Value::is_number) {
            for d in self.diagnostics.iter_mut().filter(|d| d.path == "version") {
                d.help = Some(quoted.clone());
            }
        }
        let Some(version) = self.json.get("version").and_then(Value::as_str) else {
            return;
        };
        if !SUPPORTED_VERSIONS.contains(&version) {
            self.error_with(
                &["version"],
                format!("unsupported configuration version `{version}`"),
                Some(format!(
                    "this rivven-connect reads version \"{}\"",
                    SUPPORTED_VERSIONS[0]
                )),
            );
        }
    }

    fn check_references(&mut self) {
        let sources = self.names("sources");
        let sinks = self.names("sinks");
        let transforms = self.names("transforms");
        for (name, p) in self.section("pipelines") {
            let pipe = ["pipelines", name.as_str()];
            self.reference(&pipe, "source", p.get("source"), "source", &sources);
            self.reference(&pipe, "sink", p.get("sink"), "sink", &sinks);
            let settings = p.get("settings");
            let dlq = settings.and_then(|s| s.get("dead_letter"));
            if dlq.is_some() {
                self.reference(
                    &[&pipe[..], &["settings"]].concat(),
                    "dead_letter",
                    dlq,
                    "sink",
                    &sinks,
                );
            }
            let on_error = settings
                .and_then(|s| s.get("on_error"))
                .and_then(Value::as_str);
            if on_error == Some("dead_letter") && dlq.is_none() {
                self.error(
                    &["pipelines", &name, "settings", "on_error"],
                    "`on_error: dead_letter` needs `dead_letter: <sink name>` in the same settings"
                        .into(),
                );
            }
            self.transform_names(&pipe, p.get("transforms"), &transforms);
        }
        for (name, s) in self.section("sources") {
            self.transform_names(&["sources", &name], s.get("transforms"), &transforms);
        }
        let topics: BTreeSet<String> = self
            .referable("sources")
            .iter()
            .filter_map(|(_, s)| s.get("topic").and_then(Value::as_str).map(str::to_string))
            .collect();
        // With a broker, a topic may be published by another process.
        let broker = self
            .json
            .pointer("/broker/bootstrap_servers")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        for (name, k) in self.section("sinks").into_iter().filter(|_| !broker) {
            for (i, t) in k
                .get("topics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(t) = t.as_str().filter(|t| !topics.contains(*t)) {
                    let help = hint(t, topics.iter().map(String::as_str));
                    let at = ["sinks", &name, "topics", &i.to_string()];
                    self.error_with(&at, format!("no source publishes topic `{t}`"), help);
                }
            }
        }
    }

    fn reference(
        &mut self,
        at: &[&str],
        key: &str,
        value: Option<&Value>,
        what: &str,
        names: &[String],
    ) {
        let Some(target) = value.and_then(Value::as_str) else {
            return;
        };
        if !names.iter().any(|n| n == target) {
            let mut path = at.to_vec();
            path.push(key);
            let message = format!("no {what} named `{target}` in `{what}s:`");
            let help = hint(target, names.iter().map(String::as_str));
            self.error_with(&path, message, help);
        }
    }

    fn transform_names(&mut self, at: &[&str], list: Option<&Value>, names: &[String]) {
        for (i, item) in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(target) = item.as_str() {
                if !names.iter().any(|n| n == target) {
                    let mut path = at.to_vec();
                    let index = i.to_string();
                    path.extend(["transforms", index.as_str()]);
                    let message = format!("no transform named `{target}` in `transforms:`");
                    let help = self.transform_help(target, names);
                    self.error_with(&path, message, Some(help));
                }
            }
        }
    }
}

/// The top-level sections whose entries are referred to by name.
const SECTIONS: [&str; 4] = ["sources", "sinks", "transforms", "pipelines"];

/// The configuration versions this build reads.
const SUPPORTED_VERSIONS: [&str; 2] = ["1.0", "1"];

impl Checker<'_> {
    /// What to do about a pipeline's `transforms: [name]` that names no
    /// entry of `transforms:`: a close name there, else the built-in it
    /// names (or one close to it), else where to see the built-ins.
    fn transform_help(&self, target: &str, names: &[String]) -> String {
        if let Some(close) = hint(target, names.iter().map(String::as_str)) {
            return close;
        }
        if self.registry.transform(target).is_some() {
            return format!(
                "for the built-in transform with its defaults, write `- type: {target}`"
            );
        }
        let builtins: Vec<String> = self
            .registry
            .list()
            .into_iter()
            .filter(|m| m.kind == ConnectorKind::Transform)
            .map(|m| m.name)
            .collect();
        match did_you_mean(target, builtins.iter().map(String::as_str)) {
            Some(builtin) => format!(
                "did you mean the built-in transform `{builtin}`? (write `- type: {builtin}`)"
            ),
            None => "define it under `transforms:`, or run `rivven-connect connectors` to list the built-in transforms".into(),
        }
    }
}

#[derive(Clone, Copy)]
enum EntryRef {
    Source,
    Sink,
    Transform,
}

/// The plain scalar written at `pos` (up to a comment, the end of the line,
/// or the end of a flow collection item).
fn raw_scalar(text: &str, pos: super::tree::Pos) -> Option<String> {
    let line = text
        .lines()
        .nth(usize::try_from(pos.line).ok()?.checked_sub(1)?)?;
    let start = line
        .char_indices()
        .nth(usize::try_from(pos.column).ok()?.checked_sub(1)?)
        .map(|(i, _)| i)?;
    let rest = &line[start..];
    let end = [" #", ",", "}", "]"]
        .iter()
        .filter_map(|stop| rest.find(stop))
        .min()
        .unwrap_or(rest.len());
    let raw = rest[..end].trim();
    (!raw.is_empty()).then(|| raw.to_string())
}

/// No diagnostic shows a secret's value: problems at a secret key name its
/// type and key only, and a secret's text anywhere in a message is `***`.
fn redact_secrets(
    problems: &mut [Diagnostic],
    config_path: &[String],
    value: &Value,
    secrets: &BTreeSet<SecretPath>,
) {
    let mut value = value.clone();
    for secret in secrets {
        secret.visit_mut(&mut value, &mut |at, secret| {
            let rendered = secret.to_string();
            let plain = secret
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| rendered.clone());
            let secret_path = config_path
                .iter()
                .chain(at)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(".");
            for p in problems.iter_mut() {
                let at_secret =
                    p.path == secret_path || p.path.starts_with(&format!("{secret_path}."));
                if at_secret || plain.len() >= 3 {
                    p.message = p.message.replace(&rendered, "***");
                    if !plain.is_empty() {
                        p.message = p.message.replace(&plain, "***");
                    }
                }
            }
        });
    }
}
