//! The options both connectors share: `retry`, `circuit_breaker` and `tls`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rivven_connect::{CircuitBreaker, ConnectorError, Result, RetryConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// `retry`: how a request that failed retryably is repeated.
///
/// Retried: connection errors, timeouts, `408`, `425`, `429` and `5xx`;
/// every other `4xx` is permanent. A `Retry-After` header (seconds or an
/// HTTP date) on a retryable answer is waited out when it is longer than
/// the backoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryOptions {
    /// Attempts per request, the first included (1 = no retry).
    #[serde(default = "default_max_attempts")]
    #[validate(range(min = 1, max = 100))]
    pub max_attempts: u32,
    /// Delay before the first retry; doubled after each one.
    #[serde(default = "default_initial_backoff_ms")]
    #[validate(range(min = 1, max = 3600000))]
    pub initial_backoff_ms: u64,
    /// Longest delay between two attempts (before jitter).
    #[serde(default = "default_max_backoff_ms")]
    #[validate(range(min = 1, max = 3600000))]
    pub max_backoff_ms: u64,
    /// Random spread of each delay: 0.2 = ±20 %.
    #[serde(default = "default_jitter")]
    #[validate(range(min = 0.0, max = 1.0))]
    pub jitter: f64,
}

fn default_max_attempts() -> u32 {
    3
}
fn default_initial_backoff_ms() -> u64 {
    1000
}
fn default_max_backoff_ms() -> u64 {
    30_000
}
fn default_jitter() -> f64 {
    0.2
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            jitter: default_jitter(),
        }
    }
}

impl RetryOptions {
    /// The SDK's retry policy of these options.
    pub fn policy(&self) -> RetryConfig {
        RetryConfig::new()
            .with_max_retries(self.max_attempts.saturating_sub(1))
            .with_initial_delay(Duration::from_millis(self.initial_backoff_ms))
            .with_max_delay(Duration::from_millis(
                self.max_backoff_ms.max(self.initial_backoff_ms),
            ))
            .with_backoff_multiplier(2.0)
            .with_jitter(self.jitter)
    }
}

/// `circuit_breaker`: after this many consecutive failed attempts the
/// endpoint is not called for `open_ms`; then one probe decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitOptions {
    /// Consecutive failed attempts (over all requests) that open the circuit.
    #[serde(default = "default_failure_threshold")]
    #[validate(range(min = 1, max = 1000000))]
    pub failure_threshold: u32,
    /// Successful probes that close it again.
    #[serde(default = "default_success_threshold")]
    #[validate(range(min = 1, max = 1000))]
    pub success_threshold: u32,
    /// How long an open circuit waits before a probe.
    #[serde(default = "default_open_ms")]
    #[validate(range(min = 1, max = 3600000))]
    pub open_ms: u64,
}

fn default_failure_threshold() -> u32 {
    5
}
fn default_success_threshold() -> u32 {
    1
}
fn default_open_ms() -> u64 {
    30_000
}

impl Default for CircuitOptions {
    fn default() -> Self {
        Self {
            failure_threshold: default_failure_threshold(),
            success_threshold: default_success_threshold(),
            open_ms: default_open_ms(),
        }
    }
}

impl CircuitOptions {
    /// A closed breaker with these thresholds.
    pub fn breaker(&self) -> CircuitBreaker {
        CircuitBreaker::new(rivven_connect::CircuitBreakerConfig {
            failure_threshold: self.failure_threshold,
            success_threshold: self.success_threshold,
            open_duration: Duration::from_millis(self.open_ms),
        })
    }
}

/// `tls`: how an `https://` server is verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// CA certificates (PEM) the server's certificate must chain to;
    /// default: the system's trusted roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"/etc/rivven/api-ca.pem")]
    pub ca_file: Option<PathBuf>,
}

impl TlsOptions {
    /// The rustls configuration (ring provider); unreadable or invalid
    /// files are configuration errors naming the key.
    pub fn client_config(&self) -> Result<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                for cert in certificates(path)? {
                    roots
                        .add(cert)
                        .map_err(|e| ca_error(path, &e.to_string()))?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectorError::config(format!("tls: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| ca_error(path, &format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(ca_error(path, "no certificate in the file"));
    }
    Ok(certs)
}

fn ca_error(path: &Path, why: &str) -> ConnectorError {
    ConnectorError::config(format!("tls.ca_file `{}`: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_unreadable_ca_file_names_the_key() {
        let err = TlsOptions {
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
        }
        .client_config()
        .unwrap_err()
        .to_string();
        assert!(err.contains("tls.ca_file"), "{err}");
    }

    #[test]
    fn retry_options_become_the_sdk_policy() {
        let policy = RetryOptions {
            max_attempts: 4,
            initial_backoff_ms: 500,
            max_backoff_ms: 100,
            jitter: 0.3,
        }
        .policy();
        assert_eq!(policy.max_retries, 3);
        assert_eq!(policy.initial_delay, Duration::from_millis(500));
        assert_eq!(
            policy.max_delay,
            Duration::from_millis(500),
            "never below the first delay"
        );
        assert_eq!(policy.jitter, 0.3);
    }
}
