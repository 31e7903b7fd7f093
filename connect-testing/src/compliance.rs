//! Compliance checks every connector's tests run: the contract a connector
//! must keep to behave well in a pipeline, checked the same way for all.
//!
//! - **spec**: name, kind and version are set; the config schema is a valid
//!   JSON Schema (checked against the draft 2020-12 meta-schema) and accepts
//!   the example config;
//! - **config**: the example config deserializes and validates through the
//!   connector's own `from_value`;
//! - **secrets**: the secret values given never appear in the config's
//!   `Debug`, the spec, check results or errors;
//! - **check**: succeeds on the working config, and on an unreachable
//!   endpoint returns a failed `CheckResult` within a timeout (no hang, no
//!   panic, no `Err`);
//! - **data path**: sources read, acknowledge (`commit`) and resume from a
//!   committed state; sinks acknowledge every event and accept a redelivery.
//!
//! All checks run and the report lists every failure at once.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use rivven_connect_testing::prelude::*;
//! use serde_json::json;
//!
//! assert_source_compliance(SourceCompliance::new(MockSource::counting(20), json!({}))).await;
//! assert_sink_compliance(SinkCompliance::new(MockSink::new(), json!({}))).await;
//! # }
//! ```

mod sink;
mod source;

pub use sink::{assert_sink_compliance, SinkCompliance, VerifyFn};
pub use source::{assert_source_compliance, Resume, SourceCompliance};

use rivven_connect::{CheckResult, ConnectorKind, ConnectorSpec, Result};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// Default limit for a `check` against an unreachable endpoint.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// The outcome of a compliance run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplianceReport {
    /// Connector name (from its spec).
    pub connector: String,
    /// Names of the checks that passed.
    pub passed: Vec<String>,
    /// `(check, what went wrong)` for every failed check.
    pub failures: Vec<(String, String)>,
}

impl ComplianceReport {
    fn new(connector: &str) -> Self {
        Self {
            connector: connector.to_string(),
            ..Self::default()
        }
    }

    /// Whether every check passed.
    pub fn is_compliant(&self) -> bool {
        self.failures.is_empty()
    }

    /// Panic with the list of failures unless every check passed.
    #[track_caller]
    pub fn assert(&self) {
        if !self.is_compliant() {
            panic!("{self}");
        }
    }

    fn record(&mut self, check: &str, outcome: std::result::Result<(), String>) {
        match outcome {
            Ok(()) => self.passed.push(check.to_string()),
            Err(message) => self.failures.push((check.to_string(), message)),
        }
    }
}

impl std::fmt::Display for ComplianceReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connector `{}`: {} checks passed, {} failed",
            self.connector,
            self.passed.len(),
            self.failures.len()
        )?;
        for (check, message) in &self.failures {
            write!(f, "\n  ✗ {check}: {message}")?;
        }
        Ok(())
    }
}

/// Spec and schema checks shared by sources and sinks.
fn check_spec(
    report: &mut ComplianceReport,
    spec: &ConnectorSpec,
    kind: ConnectorKind,
    example: &Value,
) {
    report.record(
        "spec.name",
        if spec.name.is_empty()
            || !spec
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            Err(format!(
                "`{}` must be non-empty and use only ASCII letters, digits, `-` and `_`",
                spec.name
            ))
        } else {
            Ok(())
        },
    );
    report.record(
        "spec.kind",
        if spec.kind == kind {
            Ok(())
        } else {
            Err(format!("is {:?}, expected {kind:?}", spec.kind))
        },
    );
    report.record(
        "spec.version",
        if spec.version.split('.').count() >= 2 && spec.version.split('.').all(|p| !p.is_empty()) {
            Ok(())
        } else {
            Err(format!("`{}` is not a version like 1.2.3", spec.version))
        },
    );
    let Some(schema) = &spec.config_schema else {
        report.record("spec.schema", Err("the spec has no config schema".into()));
        return;
    };
    if let Err(e) = jsonschema::meta::validate(schema) {
        report.record(
            "spec.schema",
            Err(format!(
                "not a valid JSON Schema: {e} (at {})",
                e.instance_path()
            )),
        );
        return;
    }
    report.record("spec.schema", Ok(()));
    let outcome = match jsonschema::validator_for(schema) {
        Err(e) => Err(format!("the schema does not compile: {e}")),
        Ok(validator) => {
            let errors: Vec<String> = validator
                .iter_errors(example)
                .map(|e| format!("{e} (at `{}`)", e.instance_path()))
                .collect();
            if errors.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the schema rejects the example config: {}",
                    errors.join("; ")
                ))
            }
        }
    };
    report.record("spec.schema_accepts_example", outcome);
}

/// The secret values that `text` (named `what`) leaks.
fn leaks(secrets: &[String], what: &str, text: &str) -> std::result::Result<(), String> {
    match secrets.iter().find(|s| text.contains(s.as_str())) {
        None => Ok(()),
        Some(s) => Err(format!(
            "{what} contains a secret value ({} characters starting with `{}`)",
            s.len(),
            s.chars().take(2).collect::<String>()
        )),
    }
}

/// Runs `check` in its own task with a timeout, telling apart a failed
/// result, an `Err`, a panic and a hang.
async fn check_unreachable<F>(
    report: &mut ComplianceReport,
    secrets: &[String],
    timeout: Duration,
    check: F,
) where
    F: Future<Output = Result<CheckResult>> + Send + 'static,
{
    let outcome = match tokio::time::timeout(timeout, tokio::spawn(check)).await {
        Err(_) => Err(format!(
            "check did not return within {timeout:?} (a check must time out on its own)"
        )),
        Ok(Err(join)) if join.is_panic() => Err("check panicked".to_string()),
        Ok(Err(join)) => Err(format!("check task failed: {join}")),
        Ok(Ok(Err(e))) => {
            let leak = leaks(secrets, "the error", &e.to_string());
            leak.and(Err(format!(
                "check returned Err({e}); it should return a failed CheckResult"
            )))
        }
        Ok(Ok(Ok(result))) if result.is_success() => {
            Err("check succeeded against the unreachable endpoint".to_string())
        }
        Ok(Ok(Ok(result))) => leaks(
            secrets,
            "the failed check result",
            &format!("{result:?} {}", result.summary()),
        ),
    };
    report.record("check.unreachable_fails_cleanly", outcome);
}

fn spec_json(spec: &ConnectorSpec) -> String {
    serde_json::to_string(spec).unwrap_or_default()
}
