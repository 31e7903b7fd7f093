//! The YAML configuration of `rivven-connect`: load, check, build.
//!
//! ```yaml
//! version: "1.0"
//! sources:
//!   demo:
//!     connector: datagen
//!     config: { pattern: orders, max_events: 100, seed: ${SEED:-42} }
//! transforms:
//!   big:
//!     type: filter
//!     config: { condition: "amount > 100" }
//! sinks:
//!   out:
//!     connector: stdout
//! pipelines:
//!   orders:
//!     source: demo
//!     sink: out
//!     settings: { rate_limit: 1000, on_error: skip }
//! ```
//!
//! Loading resolves `${VAR}` / `${VAR:-default}` (every unset variable is
//! reported with its position), parses the YAML, then checks everything
//! before anything starts and reports **all** problems together, each with
//! its key path and line/column:
//!
//! - the structure: unknown keys (with "did you mean"), types, ranges
//!   (e.g. a negative rate), required keys;
//! - every connector and transform `config:` against the connector's own
//!   JSON Schema and then its `validator` rules (`file://…` values of
//!   secret fields are read from the file first);
//! - references: pipelines naming a missing source, sink, transform or
//!   dead-letter sink, `on_error: dead_letter` without a dead-letter sink,
//!   sinks subscribing to a topic no source publishes.
//!
//! Sections are maps keyed by name throughout (`sources.<name>`), as in the
//! original rivven-connect;
//! names are unique by construction (the YAML parser rejects duplicate keys).
//!
//! ```
//! use rivven_connect::config::ConnectConfig;
//!
//! let err = ConnectConfig::from_str("sources:\n  gen:\n    conector: datagen\n").unwrap_err();
//! let text = err.to_string();
//! assert!(text.contains("2:3: `sources.gen`: missing required key `connector`"), "{text}");
//! assert!(text.contains("3:5: `sources.gen.conector`: unknown key `conector` (did you mean `connector`?)"), "{text}");
//! ```

mod build;
mod build_topics;
mod check;
mod connector_config;
mod diagnostics;
mod env;
mod indent;
mod model;
mod schema_check;
pub(crate) use schema_check::unknown_keys;
mod render;
mod topics_model;
mod topology;
mod tree;

pub use connector_config::ConnectorConfig;
pub use diagnostics::{did_you_mean, ConfigError, Diagnostic};
pub use model::*;
pub use topics_model::{BrokerSpec, TopicConfigSpec, TopicsSpec};
pub use topology::PlannedPipeline;
pub use tree::Pos;

use crate::registry::Registry;
use std::path::Path;

impl ConnectConfig {
    /// Load and check a configuration file (environment from the process,
    /// connectors from [`Registry::discovered`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            let mut err = ConfigError::new(vec![Diagnostic::new(
                "",
                None,
                format!("cannot read the file: {e}"),
            )]);
            err.file = Some(path.display().to_string());
            err
        })?;
        Self::from_str(&text).map_err(|mut e| {
            e.file = Some(path.display().to_string());
            e
        })
    }

    /// Load and check configuration text (environment from the process,
    /// connectors from [`Registry::discovered`]).
    #[allow(clippy::should_implement_trait)] // returns ConfigError, and reads the environment
    pub fn from_str(text: &str) -> Result<Self, ConfigError> {
        let registry = Registry::discovered()
            .map_err(|e| ConfigError::new(vec![Diagnostic::new("", None, e.message())]))?;
        // a binding: the temporary Loader must not outlive `registry`
        let loaded = Loader::new(&registry).load(text);
        loaded
    }
}

/// Loading with explicit inputs: the registry, the environment and the
/// file reader for `file://` secrets (tests inject them).
pub struct Loader<'a> {
    registry: &'a Registry,
    env: EnvFn<'a>,
    read_file: ReadFileFn<'a>,
}

type EnvFn<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;
type ReadFileFn<'a> = Box<dyn Fn(&str) -> std::io::Result<String> + 'a>;

impl std::fmt::Debug for Loader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader").finish_non_exhaustive()
    }
}

impl<'a> Loader<'a> {
    /// A loader using the process environment and file system.
    pub fn new(registry: &'a Registry) -> Self {
        Self {
            registry,
            env: Box::new(|name| std::env::var(name).ok()),
            read_file: Box::new(|path| std::fs::read_to_string(path)),
        }
    }

    /// Look variables up with `env` instead of the process environment.
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + 'a) -> Self {
        self.env = Box::new(env);
        self
    }

    /// Read `file://` secrets with `read`.
    pub fn read_file(mut self, read: impl Fn(&str) -> std::io::Result<String> + 'a) -> Self {
        self.read_file = Box::new(read);
        self
    }

    /// Substitute, parse and check `text`. The error quotes `text` in
    /// [`ConfigError::render`], and its positions are in `text` as written
    /// (before `${VAR}` substitution).
    pub fn load(&self, text: &str) -> Result<ConnectConfig, ConfigError> {
        let original = text;
        // Values put in by `${VAR}`: a syntax error quotes the text around it,
        // and a variable may hold a secret, so its value is not shown there.
        let substituted = std::cell::RefCell::new(Vec::<String>::new());
        let recording = |name: &str| {
            let value = (self.env)(name);
            if let Some(v) = &value {
                substituted.borrow_mut().push(v.clone());
            }
            value
        };
        let text = env::substitute(text, recording).map_err(|missing| {
            // Name the key each reference belongs to, from the text with the
            // unset variables left empty.
            let blanked = env::substitute(text, |n| (self.env)(n).or(Some(String::new())));
            let tree = blanked.ok().and_then(|t| tree::Node::parse(&t).ok());
            ConfigError::new(
                missing
                    .into_iter()
                    .map(|m| {
                        let path = tree
                            .as_ref()
                            .and_then(|t| t.path_at(m.at))
                            .map(|p| p.join("."))
                            .unwrap_or_default();
                        Diagnostic::new(path, Some(m.at), m.message).with_help(m.help)
                    })
                    .collect(),
            )
            .with_source(original)
        })?;
        // Positions found in the substituted text, moved to the text as written.
        let written = |at: Pos| render::to_original(original, &text, at);
        let in_written = |diagnostics: Vec<Diagnostic>| -> Vec<Diagnostic> {
            diagnostics
                .into_iter()
                .map(|d| Diagnostic {
                    at: d.at.map(written),
                    ..d
                })
                .collect()
        };
        let tree = tree::Node::parse(&text).map_err(|e| {
            let reported = e.location().map(|l| Pos {
                line: l.line(),
                column: l.column(),
            });
            // The parser may notice a wrongly indented line only further on:
            // point at the line the user wrote.
            let culprit = reported.and_then(|r| indent::culprit(&text, r.line));
            let at = match (&culprit, reported) {
                (Some(c), Some(r)) if c.at.line < r.line => Some(c.at),
                _ => reported,
            };
            let parser_said = e.without_snippet().to_string();
            let mut message = format!("invalid YAML: {}", without_location(&parser_said))
                .replace(", set DuplicateKeyPolicy in Options if acceptable", "");
            for value in substituted.borrow().iter().filter(|v| !v.trim().is_empty()) {
                message = message.replace(value.as_str(), "***");
            }
            let diagnostic = Diagnostic::new("", at, message).with_help(culprit.map(|c| c.help));
            ConfigError::new(in_written(vec![diagnostic])).with_source(original)
        })?;
        let mut checker = check::Checker::new(&tree, &text, self.registry, &self.read_file);
        checker.run();
        let secrets: Vec<Pos> = checker.secrets.iter().copied().map(written).collect();
        let fail = |diagnostics: Vec<Diagnostic>| {
            ConfigError::new(in_written(diagnostics))
                .with_source_redacted(original.to_string(), secrets.clone())
        };
        if !checker.diagnostics.is_empty() {
            return Err(fail(checker.diagnostics));
        }
        let mut config: ConnectConfig = serde_json::from_value(checker.json.clone())
            .map_err(|e| fail(vec![Diagnostic::new("", None, e.to_string())]))?;
        config.apply_resolved(checker.resolved);
        let shared = config.shared_resources(self.registry, &tree);
        if !shared.is_empty() {
            return Err(fail(shared));
        }
        Ok(config)
    }
}

impl ConnectConfig {
    /// Put the checked connector configs (secrets read) in place.
    fn apply_resolved(&mut self, resolved: check::Resolved) {
        for (path, (value, secrets)) in resolved {
            let parts: Vec<&str> = path.iter().map(String::as_str).collect();
            let slot = match parts.as_slice() {
                ["sources", name, "config"] => self.sources.get_mut(*name).map(|s| &mut s.config),
                ["sinks", name, "config"] => self.sinks.get_mut(*name).map(|s| &mut s.config),
                ["transforms", name, "config"] => {
                    self.transforms.get_mut(*name).map(|t| &mut t.config)
                }
                ["sources", name, "transforms", i, "config"] => self
                    .sources
                    .get_mut(*name)
                    .and_then(|s| inline(&mut s.transforms, i)),
                ["pipelines", name, "transforms", i, "config"] => self
                    .pipelines
                    .get_mut(*name)
                    .and_then(|p| inline(&mut p.transforms, i)),
                _ => None,
            };
            if let Some(slot) = slot {
                slot.set(value, secrets);
            }
        }
    }
}

/// A parser message without its trailing " at line L, column C" (the
/// diagnostic's position says it).
fn without_location(message: &str) -> &str {
    let Some((head, tail)) = message.rsplit_once(" at line ") else {
        return message;
    };
    let is_location = tail.split_once(", column ").is_some_and(|(l, c)| {
        [l, c]
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    if is_location {
        head
    } else {
        message
    }
}

fn inline<'c>(list: &'c mut [TransformRef], index: &str) -> Option<&'c mut ConnectorConfig> {
    match list.get_mut(index.parse::<usize>().ok()?)? {
        TransformRef::Inline(spec) => Some(&mut spec.config),
        TransformRef::Name(_) => None,
    }
}
