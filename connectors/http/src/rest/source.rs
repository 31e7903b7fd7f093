//! The `http` source: poll, page by page, emit the records, keep the cursor.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use reqwest::Url;
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorError, RateLimiter, RateLimiterConfig,
    Result, Source, SourceEvent, State, Stream,
};
use serde_json::Value;
use tracing::Instrument;

use super::config::{Auth, RestSourceConfig};
use super::pagination::{compare, first_page, next_page};
use crate::client::{self, Answer, Class, Target, TargetKeys};
use crate::options::RetryOptions;

/// Largest page body read (a longer one is an error, not truncated).
const MAX_PAGE_BYTES: usize = 256 * 1024 * 1024;
/// The state key of the cursor (the stream state's `cursor`).
pub const CURSOR_KEY: &str = "cursor";

/// The `http` source (see the [module docs](super)).
#[derive(Debug, Default)]
pub struct RestSource;

impl RestSource {
    /// A source.
    pub fn new() -> Self {
        Self
    }
}

/// What one run of the source holds.
struct Poller {
    config: RestSourceConfig,
    target: Target,
    limiter: Option<RateLimiter>,
    pointer: Option<String>,
}

impl Poller {
    fn new(config: &RestSourceConfig) -> Result<Self> {
        Ok(Self {
            target: Target::new(TargetKeys {
                url: &config.url,
                timeout_secs: config.timeout_secs,
                tls: config.tls.as_ref(),
                headers: &config.headers,
                circuit_breaker: &config.circuit_breaker,
            })?,
            limiter: config
                .rate_limit_per_sec
                .map(|n| RateLimiter::new(RateLimiterConfig::per_second(n))),
            pointer: config.cursor_pointer(),
            config: config.clone(),
        })
    }

    fn request(&self, url: &Url) -> reqwest::RequestBuilder {
        let target = &self.target;
        let request = target
            .client
            .get(url.clone())
            .headers(target.headers.clone());
        match &self.config.auth {
            None => request,
            Some(Auth::Bearer { token }) => request.bearer_auth(token.expose_secret()),
            Some(Auth::Basic { username, password }) => {
                request.basic_auth(username, Some(password.expose_secret()))
            }
        }
    }

    /// One page: fetched with retries, parsed, its records found.
    async fn page(&self, url: &Url, retry: &RetryOptions) -> Result<(Answer, Value, Vec<Value>)> {
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        let answer = client::send(
            "http",
            &self.target.shown,
            retry,
            &self.target.breaker,
            MAX_PAGE_BYTES + 1,
            || self.request(url),
        )
        .await?;
        if client::classify(answer.status) != Class::Success {
            return Err(ConnectorError::data(format!(
                "{}: HTTP {}: {}",
                self.target.shown,
                answer.status,
                answer.excerpt()
            ))
            .with_retryable(false));
        }
        if answer.body.len() > MAX_PAGE_BYTES {
            return Err(ConnectorError::data(format!(
                "{}: a page is larger than {MAX_PAGE_BYTES} bytes",
                self.target.shown
            )));
        }
        let mut body: Value = serde_json::from_slice(&answer.body).map_err(|e| {
            ConnectorError::data(format!("{}: the page is not JSON: {e}", self.target.shown))
        })?;
        let pointer = &self.config.records_pointer;
        let records = match body.pointer_mut(pointer).map(Value::take) {
            Some(Value::Array(records)) => records,
            Some(Value::Null) | None => Vec::new(),
            Some(other) => {
                return Err(ConnectorError::data(format!(
                    "{}: records_pointer `{pointer}` is a {}, not an array",
                    self.target.shown,
                    kind(&other)
                )))
            }
        };
        Ok((answer, body, records))
    }

    /// The cursor value of `record`.
    fn cursor_of(&self, record: &Value) -> Result<Option<Value>> {
        let Some(pointer) = &self.pointer else {
            return Ok(None);
        };
        match record.pointer(pointer) {
            Some(v @ (Value::Number(_) | Value::String(_))) => Ok(Some(v.clone())),
            _ => Err(ConnectorError::data(format!(
                "{}: a record has no number or string at cursor_field `{}`",
                self.target.shown,
                self.config.cursor_field.as_deref().unwrap_or_default()
            ))),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `value` is past `cursor` (a value of another type is an error).
fn is_newer(value: &Value, cursor: Option<&Value>) -> Result<bool> {
    let Some(cursor) = cursor else {
        return Ok(true);
    };
    match compare(value, cursor) {
        Some(order) => Ok(order == Ordering::Greater),
        None => Err(ConnectorError::data(format!(
            "cursor value {value} cannot be compared with the committed cursor {cursor}"
        ))),
    }
}

#[async_trait]
impl Source for RestSource {
    type Config = RestSourceConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        let outcome = async {
            let poller = Poller::new(config)?;
            let url = first_page(&poller.target.url, &config.pagination, None, None);
            let once = RetryOptions {
                max_attempts: 1,
                ..RetryOptions::default()
            };
            poller.page(&url, &once).await.map(|_| ())
        }
        .await;
        Ok(CheckResult::builder().check("api", outcome).finish())
    }

    async fn discover(&self, config: &Self::Config) -> Result<Catalog> {
        let mut stream = Stream::new(config.stream.clone(), serde_json::json!({"type": "object"}));
        if let Some(field) = &config.cursor_field {
            stream = stream.with_incremental(field.clone());
        }
        Ok(Catalog::new(vec![stream]))
    }

    async fn read(
        &self,
        config: &Self::Config,
        _catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let poller = Arc::new(Poller::new(config)?);
        let committed = state
            .as_ref()
            .and_then(|s| s.get_stream(&config.stream))
            .and_then(|s| s.cursor.clone().or_else(|| s.data.get(CURSOR_KEY).cloned()))
            .filter(|_| poller.pointer.is_some());
        if let Some(cursor) = &committed {
            tracing::info!(connector = "http", url = %poller.target.shown, %cursor, "resuming after the committed cursor");
        }
        let events = async_stream::try_stream! {
            let mut cursor = committed;
            let mut first_poll = true;
            loop {
                if !first_poll {
                    tokio::time::sleep(Duration::from_millis(poller.config.interval_ms)).await;
                }
                first_poll = false;
                let config = &poller.config;
                let mut url = Some(first_page(
                    &poller.target.url,
                    &config.pagination,
                    config.cursor_param.as_deref(),
                    cursor.as_ref(),
                ));
                let mut newest = cursor.clone();
                while let Some(page_url) = url.take() {
                    let span = tracing::debug_span!("http", url = %poller.target.shown);
                    let (answer, body, records) =
                        poller.page(&page_url, &config.retry).instrument(span).await?;
                    let count = records.len();
                    for record in records {
                        let value = poller.cursor_of(&record)?;
                        let mut event = SourceEvent::record(config.stream.clone(), record);
                        if let Some(value) = value {
                            // Ascending by the cursor: a record not newer than the
                            // newest one read (committed, or earlier in this poll,
                            // e.g. on a page that shifted) was delivered already.
                            if !is_newer(&value, newest.as_ref())? {
                                continue;
                            }
                            event = event.with_state(CURSOR_KEY, value.clone());
                            newest = Some(value);
                        }
                        yield event;
                    }
                    url = next_page(&config.pagination, &page_url, &answer.headers, &body, count);
                }
                cursor = newest;
            }
        };
        Ok(events.boxed())
    }
}
