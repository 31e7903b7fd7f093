//! [`CheckResult`]: the outcome of a connectivity and prerequisites check.

use serde::{Deserialize, Serialize};
use std::time::Instant;

use crate::error::{ConnectorError, ErrorKind, Result};

/// One named check inside a [`CheckResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckDetail {
    /// Check name (`connectivity`, `permissions`, …).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed (or extra information).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long it took.
    #[serde(default)]
    pub duration_ms: u64,
    /// What kind of failure it was, when the check recorded a
    /// [`ConnectorError`] (see [`CheckResultBuilder::check`]). A failed check
    /// before a pipeline (re)start is retried for as long as it takes when
    /// every failure has a retryable kind (a server that is down); any other
    /// failure counts toward the restart policy's limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
}

/// Whether a connector can run with its configuration.
///
/// ```
/// use rivven_connect::prelude::*;
///
/// let result = CheckResult::builder()
///     .check_passed("connectivity")
///     .check_failed("permissions", "missing SELECT on users table")
///     .build()
///     .unwrap();
/// assert!(!result.is_success());
/// assert_eq!(result.failed_checks().count(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Overall outcome.
    pub success: bool,
    /// Summary message (the first failure's message for a failed result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Individual checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckDetail>,
}

impl CheckResult {
    /// A passed check.
    pub fn success() -> Self {
        Self {
            success: true,
            message: None,
            checks: Vec::new(),
        }
    }

    /// A failed check with a message.
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            success: false,
            message: Some(message.into()),
            checks: Vec::new(),
        }
    }

    /// A builder.
    pub fn builder() -> CheckResultBuilder {
        CheckResultBuilder::default()
    }

    /// Whether every check passed.
    pub fn is_success(&self) -> bool {
        self.success
    }

    /// Whether running the check again may pass: it failed, and every failed
    /// detail has a known, retryable kind (a server that is down). A failure
    /// of unknown kind counts as not retryable.
    pub fn is_retryable(&self) -> bool {
        let mut failed = self.failed_checks().peekable();
        !self.success
            && failed.peek().is_some()
            && failed.all(|c| c.kind.is_some_and(ErrorKind::is_retryable))
    }

    /// The checks that failed.
    pub fn failed_checks(&self) -> impl Iterator<Item = &CheckDetail> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// A one-line summary (`ok`, or the failures joined by `; `).
    pub fn summary(&self) -> String {
        if self.success {
            return self.message.clone().unwrap_or_else(|| "ok".to_string());
        }
        let failures: Vec<String> = self
            .failed_checks()
            .map(|c| match &c.message {
                Some(m) => format!("{}: {m}", c.name),
                None => c.name.clone(),
            })
            .collect();
        if failures.is_empty() {
            self.message
                .clone()
                .unwrap_or_else(|| "check failed".to_string())
        } else {
            failures.join("; ")
        }
    }
}

/// Builder for [`CheckResult`].
#[derive(Debug, Default)]
pub struct CheckResultBuilder {
    checks: Vec<CheckDetail>,
    message: Option<String>,
}

impl CheckResultBuilder {
    /// Record a passed check.
    pub fn check_passed(mut self, name: impl Into<String>) -> Self {
        self.checks.push(CheckDetail {
            name: name.into(),
            passed: true,
            message: None,
            duration_ms: 0,
            kind: None,
        });
        self
    }

    /// Record a failed check.
    pub fn check_failed(mut self, name: impl Into<String>, message: impl Into<String>) -> Self {
        self.checks.push(CheckDetail {
            name: name.into(),
            passed: false,
            message: Some(message.into()),
            duration_ms: 0,
            kind: None,
        });
        self
    }

    /// Run `check` now and record its outcome with its duration.
    pub fn check_if<F>(mut self, name: impl Into<String>, check: F) -> Self
    where
        F: FnOnce() -> std::result::Result<(), String>,
    {
        let started = Instant::now();
        let outcome = check();
        let duration_ms = started.elapsed().as_millis() as u64;
        self.checks.push(CheckDetail {
            name: name.into(),
            passed: outcome.is_ok(),
            message: outcome.err(),
            duration_ms,
            kind: None,
        });
        self
    }

    /// Record the outcome of an already-run check. When the error is a
    /// [`ConnectorError`], its kind is kept too (see [`CheckDetail::kind`]).
    pub fn check<E: std::fmt::Display + 'static>(
        mut self,
        name: impl Into<String>,
        outcome: std::result::Result<(), E>,
    ) -> Self {
        match outcome {
            Ok(()) => self.check_passed(name),
            Err(e) => {
                // A ConnectorError's kind is kept apart from its message, so
                // that the message is not prefixed with the kind twice once
                // the failure is wrapped into the error of a (re)start.
                let connector_error = (&e as &dyn std::any::Any).downcast_ref::<ConnectorError>();
                let kind = connector_error.map(ConnectorError::kind);
                let message =
                    connector_error.map_or_else(|| e.to_string(), |c| c.message().to_string());
                self = self.check_failed(name, message);
                if let Some(detail) = self.checks.last_mut() {
                    detail.kind = kind;
                }
                self
            }
        }
    }

    /// Record a failed check of a known kind (`auth`, `connection`, …).
    pub fn check_failed_kind(
        self,
        name: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        self.check(name, Err(ConnectorError::new(kind, message)))
    }

    /// Summary message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Build the result.
    ///
    /// Returns `Result` so that the builder can be the tail expression of
    /// `Source::check` as in the connector-development guide (which wins over
    /// the architecture overview, where `build()` is used as a plain value; a
    /// `let` binding works with both). It never fails; use
    /// [`CheckResultBuilder::finish`] for the plain value.
    pub fn build(self) -> Result<CheckResult> {
        Ok(self.finish())
    }

    /// Build the result as a plain value.
    pub fn finish(self) -> CheckResult {
        let success = self.checks.iter().all(|c| c.passed);
        let message = self.message.or_else(|| {
            self.checks
                .iter()
                .find(|c| !c.passed)
                .map(|c| format!("{}: {}", c.name, c.message.as_deref().unwrap_or("failed")))
        });
        CheckResult {
            success,
            message,
            checks: self.checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connector_error_keeps_its_kind_apart_from_the_message() {
        let r = CheckResult::builder()
            .check(
                "connect",
                Err::<(), _>(ConnectorError::connection("refused")),
            )
            .finish();
        let failed: Vec<&CheckDetail> = r.failed_checks().collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].message.as_deref(), Some("refused"));
        assert_eq!(failed[0].kind, Some(ErrorKind::Connection));
        assert!(r.is_retryable());
        assert_eq!(r.summary(), "connect: refused");
    }

    #[test]
    fn check_if_records_outcomes() {
        let port = 70000;
        let r = CheckResult::builder()
            .check_if("port_valid", || {
                if port > 0 && port < 65536 {
                    Ok(())
                } else {
                    Err("invalid port".to_string())
                }
            })
            .check_if("always", || Ok(()))
            .finish();
        assert!(!r.is_success());
        assert_eq!(r.summary(), "port_valid: invalid port");
        assert_eq!(r.message.as_deref(), Some("port_valid: invalid port"));
        assert!(r.checks[1].passed);
    }

    #[test]
    fn all_passed_is_success() {
        let r = CheckResult::builder()
            .check_passed("connectivity")
            .check("auth", Ok::<(), String>(()))
            .finish();
        assert!(r.is_success());
        assert_eq!(r.summary(), "ok");
    }

    #[test]
    fn plain_constructors() {
        assert!(CheckResult::success().is_success());
        let f = CheckResult::failure("HTTP 500");
        assert!(!f.is_success());
        assert_eq!(f.summary(), "HTTP 500");
    }
}
