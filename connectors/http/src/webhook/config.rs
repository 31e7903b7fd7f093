//! The configuration of the `http-webhook` sink.

use std::collections::BTreeMap;

use rivven_connect::{SecretString, SinkConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

use super::WebhookSink;
use crate::options::{CircuitOptions, RetryOptions, TlsOptions};

/// Default events per request.
pub const DEFAULT_BATCH_SIZE: usize = 1;
/// Default request timeout.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Default header of the idempotency key.
pub const DEFAULT_IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Default header of the HMAC signature.
pub const DEFAULT_SIGNATURE_HEADER: &str = "X-Signature-256";

/// Calls an HTTP endpoint with the events: one request per event, or a JSON
/// array (or JSON Lines) of `batch_size` events per request.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "http-webhook",
    version = env!("CARGO_PKG_VERSION"),
    description = "Sends events to an HTTP endpoint (one per request, or JSON array / JSON Lines batches) with retries on 408/425/429/5xx honouring Retry-After, a circuit breaker, HMAC-SHA256 signatures, idempotency keys, gzip and per-key ordering across concurrent requests; refused (4xx) events go to the dead-letter queue",
    author = "rivven-connect",
    category = "utility",
    tags = ["http", "webhook", "rest", "api"],
    connector = WebhookSink
)]
#[serde(deny_unknown_fields)]
pub struct WebhookSinkConfig {
    /// The endpoint, `http://` or `https://`. Logs and errors show it
    /// without its query; put credentials in `headers` (secrets).
    #[validate(custom(function = "validate_url"))]
    #[schemars(example = &"https://api.example.com/webhook")]
    pub url: String,
    /// HTTP method of each request.
    #[serde(default)]
    pub method: Method,
    /// Request headers. Values are secrets (e.g. `Authorization: "Bearer
    /// ${TOKEN}"`): never logged or shown. `Content-Type` defaults to the
    /// body's type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, SecretString>,
    /// Events per request: 1 sends each event's data as the body; more
    /// sends a JSON array of the events' data (or JSON Lines, see `format`).
    #[serde(default = "default_batch_size")]
    #[validate(range(min = 1, max = 100000))]
    pub batch_size: usize,
    /// Body of a request of several events: `json` (an array) or `jsonl`
    /// (one document per line, `application/x-ndjson`).
    #[serde(default)]
    pub format: BodyFormat,
    /// Timeout of one request (connect, send, answer), in seconds.
    #[serde(default = "default_timeout_secs")]
    #[validate(range(min = 1, max = 3600))]
    pub timeout_secs: u64,
    /// Retries of connection errors, timeouts, `408`, `425`, `429` and
    /// `5xx`, with exponential backoff, jitter and `Retry-After`.
    #[serde(default)]
    #[validate(nested)]
    pub retry: RetryOptions,
    /// The circuit breaker around the endpoint.
    #[serde(default)]
    #[validate(nested)]
    pub circuit_breaker: CircuitOptions,
    /// Sign each body with HMAC-SHA256 (header `signature.header`, value
    /// `sha256=<hex>` over the body before compression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub signature: Option<SignatureOptions>,
    /// Header carrying an idempotency key per request, derived from the
    /// positions of its events (the same events give the same key, so a
    /// receiver can drop replays); `null` sends none.
    #[serde(default = "default_idempotency_header")]
    pub idempotency_header: Option<String>,
    /// Compress bodies of at least this many bytes with gzip
    /// (`Content-Encoding: gzip`); unset: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(range(min = 1))]
    pub gzip_min_bytes: Option<usize>,
    /// Requests in flight at once. Events of one key stay in one lane, sent
    /// in order; events without a key are spread over the lanes.
    #[serde(default = "default_max_concurrent_requests")]
    #[validate(range(min = 1, max = 1024))]
    pub max_concurrent_requests: usize,
    /// TLS of an `https://` URL (default: the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOptions>,
}

/// The HTTP method of the requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `POST`.
    #[default]
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
}

impl Method {
    /// The reqwest method.
    pub fn as_reqwest(self) -> reqwest::Method {
        match self {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
        }
    }
}

/// The body of a request of several events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// A JSON array of the events' data (one event: its data alone).
    #[default]
    Json,
    /// JSON Lines: each event's data on its own line.
    Jsonl,
}

/// `signature`: an HMAC-SHA256 of the body with a shared secret.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureOptions {
    /// The shared secret.
    pub secret: SecretString,
    /// The header carrying `sha256=<hex digest>`.
    #[serde(default = "default_signature_header")]
    #[validate(length(min = 1))]
    pub header: String,
}

fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}
fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT_SECS
}
fn default_idempotency_header() -> Option<String> {
    Some(DEFAULT_IDEMPOTENCY_HEADER.into())
}
fn default_signature_header() -> String {
    DEFAULT_SIGNATURE_HEADER.into()
}
fn default_max_concurrent_requests() -> usize {
    1
}

/// Validator of `url`.
pub fn validate_url(url: &str) -> Result<(), ValidationError> {
    crate::client::parse_url("url", url)
        .map(|_| ())
        .map_err(|e| ValidationError::new("url").with_message(e.message().to_owned().into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = WebhookSinkConfig::from_value(json!({"url": "http://127.0.0.1:1/h"})).unwrap();
        assert_eq!(c.method, Method::Post);
        assert_eq!(c.batch_size, 1);
        assert_eq!(c.timeout_secs, 30);
        assert_eq!(c.retry.max_attempts, 3);
        assert_eq!(c.retry.initial_backoff_ms, 1000);
        assert_eq!(c.retry.max_backoff_ms, 30000);
        assert_eq!(c.idempotency_header.as_deref(), Some("Idempotency-Key"));
        assert_eq!(c.max_concurrent_requests, 1);
        assert!(c.gzip_min_bytes.is_none() && c.signature.is_none());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (config, key) in [
            (json!({"url": "ftp://x/"}), "url"),
            (json!({"url": "http://x/", "batch_size": 0}), "batch_size"),
            (
                json!({"url": "http://x/", "retry": {"max_attempts": 0}}),
                "max_attempts",
            ),
            (
                json!({"url": "http://x/", "retry": {"jitter": 3.0}}),
                "jitter",
            ),
            (json!({"url": "http://x/", "method": "DELETE"}), "method"),
            (json!({"url": "http://x/", "batchsize": 3}), "batchsize"),
        ] {
            let err = WebhookSinkConfig::from_value(config)
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn a_numeric_secret_is_refused_without_showing_it() {
        let err = WebhookSinkConfig::from_value(
            json!({"url": "http://x/", "headers": {"Authorization": 8675309}}),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("secret is text"), "{err}");
        assert!(!err.contains("8675309"), "{err}");
        let c = WebhookSinkConfig::from_value(json!({
            "url": "http://x/",
            "headers": {"Authorization": "Bearer tok3n"},
            "signature": {"secret": "hm4c"}
        }))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("tok3n") && !shown.contains("hm4c"),
            "{shown}"
        );
    }
}
