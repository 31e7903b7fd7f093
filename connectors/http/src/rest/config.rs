//! The configuration of the `http` REST polling source.

use std::collections::BTreeMap;

use rivven_connect::{SecretString, SourceConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

use super::RestSource;
use crate::options::{CircuitOptions, RetryOptions, TlsOptions};

/// Default time between two polls.
pub const DEFAULT_INTERVAL_MS: u64 = 60_000;
/// Default stream name of the records.
pub const DEFAULT_STREAM: &str = "http";
/// Default request timeout.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Default page size of offset/limit pagination.
pub const DEFAULT_LIMIT: u64 = 100;

/// Polls a REST API: every `interval_ms` it reads every page of `url`,
/// emits the records found at `records_pointer`, and with `cursor_field`
/// remembers the newest record read so the next poll (and a restart)
/// continues after it.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "http",
    version = env!("CARGO_PKG_VERSION"),
    description = "Polls a REST API (GET) every interval_ms, following cursor, offset/limit or Link-header pagination, emitting the records at a JSON pointer, with an incremental cursor field kept in the state (resumes after a restart), bearer/basic auth, a rate limit and retries",
    author = "rivven-connect",
    category = "utility",
    tags = ["http", "rest", "api", "polling"],
    incremental,
    connector = RestSource
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "validate_cursor"))]
pub struct RestSourceConfig {
    /// The first page, `http://` or `https://` (query parameters kept).
    #[validate(custom(function = "validate_url"))]
    #[schemars(example = &"https://api.example.com/v1/orders?sort=id")]
    pub url: String,
    /// Stream name of the records.
    #[serde(default = "default_stream")]
    #[validate(length(min = 1))]
    pub stream: String,
    /// Time between the end of one poll and the start of the next, in ms.
    #[serde(default = "default_interval_ms")]
    #[validate(range(min = 10, max = 86400000))]
    pub interval_ms: u64,
    /// Request headers; values are secrets (never logged or shown).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, SecretString>,
    /// Authentication: `{type: bearer, token}` or `{type: basic, username, password}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// JSON pointer (RFC 6901) to the array of records in each page's body;
    /// empty: the body is the array.
    #[serde(default)]
    #[schemars(example = &"/data")]
    pub records_pointer: String,
    /// How the next page is found.
    #[serde(default)]
    pub pagination: Pagination,
    /// The record field (a name, or a JSON pointer such as `/meta/updated`)
    /// that orders the records: numbers or strings (e.g. RFC 3339 times),
    /// unique and ascending across pages. The newest value read is the
    /// stream's state; records not newer than it are skipped. Unset: every
    /// poll reads everything again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    pub cursor_field: Option<String>,
    /// Query parameter sending the committed cursor value to the API (e.g.
    /// `since`), so it returns only newer records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    pub cursor_param: Option<String>,
    /// Requests per second at most (unset: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(range(min = 1, max = 100000))]
    pub rate_limit_per_sec: Option<u32>,
    /// Timeout of one request, in seconds.
    #[serde(default = "default_timeout_secs")]
    #[validate(range(min = 1, max = 3600))]
    pub timeout_secs: u64,
    /// Retries of connection errors, timeouts, `408`, `425`, `429` and `5xx`.
    #[serde(default)]
    #[validate(nested)]
    pub retry: RetryOptions,
    /// The circuit breaker around the API.
    #[serde(default)]
    #[validate(nested)]
    pub circuit_breaker: CircuitOptions,
    /// TLS of an `https://` URL (default: the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOptions>,
}

/// `auth`: credentials sent with every request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: SecretString,
    },
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: SecretString,
    },
}

/// `pagination`: where the next page is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// One page per poll.
    #[default]
    None,
    /// The body names the next page's cursor (a string or number at
    /// `cursor_pointer`); it is sent as `cursor_param`. Null, missing or an
    /// empty page ends the poll.
    Cursor {
        /// JSON pointer to the next cursor in the body.
        #[schemars(example = &"/next_cursor")]
        cursor_pointer: String,
        /// Query parameter of the cursor.
        #[serde(default = "default_cursor_param")]
        cursor_param: String,
    },
    /// `offset_param` counts the records read so far, `limit_param` asks for
    /// `limit` of them; a page shorter than `limit` ends the poll.
    Offset {
        /// Query parameter of the offset.
        #[serde(default = "default_offset_param")]
        offset_param: String,
        /// Query parameter of the page size.
        #[serde(default = "default_limit_param")]
        limit_param: String,
        /// Page size.
        #[serde(default = "default_limit")]
        limit: u64,
    },
    /// The `Link` header's `rel="next"` URL (RFC 8288, as GitHub sends it).
    Link,
}

fn default_stream() -> String {
    DEFAULT_STREAM.into()
}
fn default_interval_ms() -> u64 {
    DEFAULT_INTERVAL_MS
}
fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT_SECS
}
fn default_cursor_param() -> String {
    "cursor".into()
}
fn default_offset_param() -> String {
    "offset".into()
}
fn default_limit_param() -> String {
    "limit".into()
}
fn default_limit() -> u64 {
    DEFAULT_LIMIT
}

/// Validator of `url`.
pub fn validate_url(url: &str) -> Result<(), ValidationError> {
    crate::client::parse_url("url", url)
        .map(|_| ())
        .map_err(|e| ValidationError::new("url").with_message(e.message().to_owned().into()))
}

/// `cursor_param` sends the value of `cursor_field`: one needs the other.
fn validate_cursor(config: &RestSourceConfig) -> Result<(), ValidationError> {
    if config.cursor_param.is_some() && config.cursor_field.is_none() {
        return Err(ValidationError::new("cursor_param").with_message(
            "cursor_param sends the newest cursor_field value: set cursor_field too".into(),
        ));
    }
    Ok(())
}

impl RestSourceConfig {
    /// `cursor_field` as a JSON pointer.
    pub fn cursor_pointer(&self) -> Option<String> {
        self.cursor_field.as_ref().map(|f| pointer_of(f))
    }
}

/// A field name as a JSON pointer (`id` → `/id`); a pointer stays as it is.
pub fn pointer_of(field: &str) -> String {
    if field.starts_with('/') || field.is_empty() {
        field.to_string()
    } else {
        format!("/{}", field.replace('~', "~0").replace('/', "~1"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_tagged_options() {
        let c = RestSourceConfig::from_value(json!({"url": "http://127.0.0.1:1/x"})).unwrap();
        assert_eq!(c.interval_ms, 60_000);
        assert_eq!(c.stream, "http");
        assert_eq!(c.pagination, Pagination::None);
        let c = RestSourceConfig::from_value(json!({
            "url": "http://h/x",
            "pagination": {"type": "offset", "limit": 20},
            "auth": {"type": "basic", "username": "u", "password": "pw-s3cret"},
            "cursor_field": "id"
        }))
        .unwrap();
        assert!(matches!(c.pagination, Pagination::Offset { limit: 20, .. }));
        assert_eq!(c.cursor_pointer().as_deref(), Some("/id"));
        assert!(!format!("{c:?}").contains("pw-s3cret"));
        assert_eq!(pointer_of("/a/b"), "/a/b");
        assert_eq!(pointer_of("a/b"), "/a~1b");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (config, key) in [
            (json!({"url": "mailto:x"}), "url"),
            (json!({"url": "http://h/", "interval_ms": 0}), "interval_ms"),
            (
                json!({"url": "http://h/", "pagination": {"type": "pages"}}),
                "pages",
            ),
            (
                json!({"url": "http://h/", "auth": {"type": "bearer", "token": 12345}}),
                "secret",
            ),
            (
                json!({"url": "http://h/", "intervall_ms": 5}),
                "intervall_ms",
            ),
        ] {
            let err = RestSourceConfig::from_value(config)
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
            assert!(!err.contains("12345"), "{err}");
        }
    }
}
