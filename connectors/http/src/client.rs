//! What the `http-webhook` sink and the `http` source share: the reqwest
//! client (rustls with the ring provider, handed to reqwest ready-made, so
//! no process-wide crypto provider is needed), headers whose values are
//! secrets, the classification of responses, and one request loop with
//! retries, `Retry-After` and the circuit breaker (its options are in
//! [`options`](crate::options)).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;
use rivven_connect::{CircuitBreaker, ConnectorError, Result, RetryGuard, SecretString};

use crate::options::{CircuitOptions, RetryOptions, TlsOptions};

/// Longest `Retry-After` honoured; a server asking for more is waited for this long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Bytes of a response body kept for an error message.
pub const BODY_EXCERPT_BYTES: usize = 512;

/// A reqwest client with a total timeout per request and our rustls config.
pub fn client(timeout: Duration, tls: Option<&TlsOptions>) -> Result<reqwest::Client> {
    let tls = tls.cloned().unwrap_or_default().client_config()?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| ConnectorError::config(format!("HTTP client: {e}")))
}

/// What both connectors hold of the endpoint they call: the client, the
/// URL (and how logs show it), the configured headers and the breaker.
#[derive(Debug)]
pub struct Target {
    /// The client (rustls on ring, the request timeout).
    pub client: reqwest::Client,
    /// `url`.
    pub url: reqwest::Url,
    /// `url` as logs and errors show it ([`redact_url`]).
    pub shown: String,
    /// `headers`, each value marked sensitive.
    pub headers: HeaderMap,
    /// The circuit breaker around the endpoint.
    pub breaker: CircuitBreaker,
}

/// The keys a [`Target`] is made of, shared by both connectors' configs.
#[derive(Debug, Clone, Copy)]
pub struct TargetKeys<'a> {
    /// `url`.
    pub url: &'a str,
    /// `timeout_secs`.
    pub timeout_secs: u64,
    /// `tls`.
    pub tls: Option<&'a TlsOptions>,
    /// `headers`.
    pub headers: &'a BTreeMap<String, SecretString>,
    /// `circuit_breaker`.
    pub circuit_breaker: &'a CircuitOptions,
}

impl Target {
    /// The target of `keys`; a bad key is a configuration error naming it.
    pub fn new(keys: TargetKeys<'_>) -> Result<Self> {
        let url = parse_url("url", keys.url)?;
        Ok(Self {
            client: client(Duration::from_secs(keys.timeout_secs), keys.tls)?,
            shown: redact_url(&url),
            url,
            headers: header_map("headers", keys.headers)?,
            breaker: keys.circuit_breaker.breaker(),
        })
    }
}

/// The configured headers as a header map, each value marked sensitive; a
/// bad name or value is a configuration error naming the header (never
/// showing the value).
pub fn header_map(key: &str, headers: &BTreeMap<String, SecretString>) -> Result<HeaderMap> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConnectorError::config(format!("{key}: `{name}` is not a valid header name"))
        })?;
        let mut value = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
            ConnectorError::config(format!(
                "{key}.{name}: the value is not a valid header value (the value is not shown)"
            ))
        })?;
        value.set_sensitive(true);
        map.insert(header, value);
    }
    Ok(map)
}

/// `url` without its query, fragment and credentials, for logs and errors.
pub fn redact_url(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://", url.scheme());
    if let Some(host) = url.host_str() {
        shown.push_str(host);
    }
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

/// Parses `url`, naming `key` when it is not an http(s) URL.
pub fn parse_url(key: &str, url: &str) -> Result<reqwest::Url> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ConnectorError::config(format!("{key}: not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConnectorError::config(format!(
            "{key}: expected an http:// or https:// URL, got `{}:`",
            parsed.scheme()
        )));
    }
    Ok(parsed)
}

/// What an answer means for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `2xx` (and `1xx`/`3xx` reqwest did not follow): done.
    Success,
    /// Worth another attempt: `408`, `425`, `429`, `5xx`.
    Retryable,
    /// The credentials were refused: `401`, `403`, `407`.
    Auth,
    /// Any other `4xx`: the request itself is refused.
    Permanent,
}

/// The class of `status`.
pub fn classify(status: StatusCode) -> Class {
    match status.as_u16() {
        408 | 425 | 429 => Class::Retryable,
        401 | 403 | 407 => Class::Auth,
        400..=499 => Class::Permanent,
        500..=599 => Class::Retryable,
        _ => Class::Success,
    }
}

/// The delay a `Retry-After` header asks for: delta-seconds or an HTTP date
/// (capped at [`MAX_RETRY_AFTER`]); `None` when absent or unparsable.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let delay = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let ms = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// A reqwest error as a connector error, without the URL (it may carry a
/// token in its query): timeouts are `Timeout`, the rest `Connection`; both
/// are retryable.
pub fn transport_error(what: &str, e: reqwest::Error) -> ConnectorError {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut message = format!("{what}: {e}");
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(inner) = source {
        message.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    if timeout {
        ConnectorError::timeout(message)
    } else {
        ConnectorError::connection(message)
    }
}

/// An answer: status, headers and (up to the limit read) body.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (for the sink, the first bytes only).
    pub body: Vec<u8>,
}

impl Answer {
    /// The first [`BODY_EXCERPT_BYTES`] of the body, as text.
    pub fn excerpt(&self) -> String {
        let end = self.body.len().min(BODY_EXCERPT_BYTES);
        let mut text = String::from_utf8_lossy(&self.body[..end]).into_owned();
        if self.body.len() > end {
            text.push('…');
        }
        text
    }
}

/// Reads at most `limit` bytes of the body (the rest is dropped).
async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Answer> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= limit {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(transport_error("reading the response body", e)),
        }
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// One request loop: the circuit breaker first (an open circuit is waited
/// out, then probed), then the request; connection errors, timeouts and
/// retryable statuses are retried with backoff (or `Retry-After`). Returns
/// the last answer when it is a success or a permanent refusal (the caller
/// decides what that means), an `Auth` error on `401/403/407`, and a
/// non-retryable error once the attempts are used up (so the runtime does
/// not multiply them; the pipeline restarts from its committed position).
pub async fn send<F>(
    connector: &'static str,
    shown_url: &str,
    retry: &RetryOptions,
    breaker: &CircuitBreaker,
    body_limit: usize,
    mut request: F,
) -> Result<Answer>
where
    F: FnMut() -> reqwest::RequestBuilder,
{
    let mut guard = RetryGuard::new(retry.policy());
    loop {
        while let Some(wait) = breaker.remaining_open() {
            tracing::debug!(
                connector,
                url = shown_url,
                ?wait,
                "circuit open: waiting before the probe"
            );
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
        let (error, asked) = match request().send().await {
            Ok(response) => {
                let answer = read_body(response, body_limit).await;
                match answer {
                    Err(e) => (e, None),
                    Ok(answer) => match classify(answer.status) {
                        class @ (Class::Success | Class::Permanent) => {
                            breaker.record_success();
                            count(
                                connector,
                                if class == Class::Success {
                                    "success"
                                } else {
                                    "refused"
                                },
                            );
                            return Ok(answer);
                        }
                        Class::Auth => {
                            breaker.record_success();
                            count(connector, "auth");
                            return Err(ConnectorError::auth(format!(
                                "{shown_url}: HTTP {} (credentials refused): {}",
                                answer.status,
                                answer.excerpt()
                            ))
                            .with_retryable(false));
                        }
                        Class::Retryable => {
                            let asked = retry_after(&answer.headers);
                            let message = format!(
                                "{shown_url}: HTTP {}: {}",
                                answer.status,
                                answer.excerpt()
                            );
                            let error = if answer.status == StatusCode::TOO_MANY_REQUESTS {
                                ConnectorError::rate_limited(message)
                            } else if answer.status == StatusCode::REQUEST_TIMEOUT {
                                ConnectorError::timeout(message)
                            } else {
                                ConnectorError::connection(message)
                            };
                            (error, asked)
                        }
                    },
                }
            }
            Err(e) => (transport_error(shown_url, e), None),
        };
        breaker.record_failure();
        count(connector, "failed");
        match guard.record_attempt() {
            Some(backoff) => {
                let delay = asked.map_or(backoff, |asked| asked.max(backoff));
                tracing::warn!(
                    connector,
                    url = shown_url,
                    attempt = guard.attempts(),
                    ?delay,
                    error = %error,
                    "request failed; retrying"
                );
                tokio::time::sleep(delay).await;
            }
            None => {
                let attempts = guard.attempts();
                return Err(error
                    .context(format!("{connector}: gave up after {attempts} attempt(s)"))
                    .with_retryable(false));
            }
        }
    }
}

/// Counts a request's outcome: `rivven_http_requests_total{connector,
/// outcome}` with outcome `success`, `refused` (a permanent `4xx`), `auth`
/// or `failed` (retryable: connection error, timeout, `408/425/429/5xx`).
fn count(connector: &'static str, outcome: &'static str) {
    rivven_connect::metrics::counter!(
        "rivven_http_requests_total",
        "connector" => connector,
        "outcome" => outcome
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn statuses_are_classified_by_code() {
        for code in [408, 425, 429, 500, 502, 503, 504, 599] {
            assert_eq!(
                classify(StatusCode::from_u16(code).unwrap()),
                Class::Retryable
            );
        }
        for code in [400, 404, 409, 413, 422] {
            assert_eq!(
                classify(StatusCode::from_u16(code).unwrap()),
                Class::Permanent
            );
        }
        for code in [401, 403, 407] {
            assert_eq!(classify(StatusCode::from_u16(code).unwrap()), Class::Auth);
        }
        assert_eq!(classify(StatusCode::NO_CONTENT), Class::Success);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after", HeaderValue::from_static("99999999"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert("retry-after", HeaderValue::from_str(&soon).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past");
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn urls_are_shown_without_query_or_credentials() {
        let url = parse_url("url", "https://user:pw@api.example.com:8443/hook?token=abc").unwrap();
        assert_eq!(redact_url(&url), "https://api.example.com:8443/hook");
        let err = parse_url("url", "ftp://x/").unwrap_err().to_string();
        assert!(err.contains("url") && err.contains("ftp"), "{err}");
    }

    #[test]
    fn bad_headers_name_the_header_not_the_value() {
        let mut headers = BTreeMap::new();
        headers.insert(
            "X-Token".to_string(),
            SecretString::new("line\nbreak-s3cr3t"),
        );
        let err = header_map("headers", &headers).unwrap_err().to_string();
        assert!(err.contains("headers.X-Token"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let mut headers = BTreeMap::new();
        headers.insert("bad name".to_string(), SecretString::new("v"));
        assert!(header_map("headers", &headers).is_err());
    }
}
