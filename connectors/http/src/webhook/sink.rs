//! The `http-webhook` sink: requests planned per lane, sent with retries
//! behind one circuit breaker, refused requests reported per event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use rivven_connect::{
    CheckResult, CircuitStats, ConnectorError, Result, Sink, SourceEvent, WriteResult,
};
use tracing::Instrument;

use super::body;
use super::config::WebhookSinkConfig;
use crate::client::{self, Answer, Class, Target, TargetKeys};

/// Bytes of an answer's body read (enough for an excerpt; small answers are
/// read whole so the connection is reused).
const ANSWER_LIMIT: usize = 64 * 1024;

/// The `http-webhook` sink (see the [module docs](super)).
#[derive(Default)]
pub struct WebhookSink {
    endpoint: Mutex<Option<Arc<Endpoint>>>,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink").finish_non_exhaustive()
    }
}

/// The client, headers and breaker of one configured endpoint.
struct Endpoint {
    target: Target,
    method: reqwest::Method,
    idempotency: Option<HeaderName>,
    signature: Option<(HeaderName, Vec<u8>)>,
}

impl Endpoint {
    fn new(config: &WebhookSinkConfig) -> Result<Self> {
        let header = |key: &str, name: &str| {
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConnectorError::config(format!("{key}: `{name}` is not a valid header name"))
            })
        };
        let idempotency = config
            .idempotency_header
            .as_deref()
            .map(|name| header("idempotency_header", name))
            .transpose()?;
        let signature = config
            .signature
            .as_ref()
            .map(|s| {
                header("signature.header", &s.header)
                    .map(|name| (name, s.secret.expose_secret().as_bytes().to_vec()))
            })
            .transpose()?;
        Ok(Self {
            target: Target::new(TargetKeys {
                url: &config.url,
                timeout_secs: config.timeout_secs,
                tls: config.tls.as_ref(),
                headers: &config.headers,
                circuit_breaker: &config.circuit_breaker,
            })?,
            method: config.method.as_reqwest(),
            idempotency,
            signature,
        })
    }

    /// Sends the events at `indices` as one request (with retries).
    async fn send(
        &self,
        config: &WebhookSinkConfig,
        events: &[SourceEvent],
        indices: &[usize],
    ) -> Result<(Answer, u64)> {
        let chosen = || indices.iter().map(|&i| &events[i]);
        let batched = config.batch_size > 1;
        let plain = body::encode(config.format, batched, chosen())?;
        let target = &self.target;
        // The request's own headers, added to the configured ones.
        let mut extra: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(4);
        if !target.headers.contains_key(CONTENT_TYPE) {
            let kind = body::content_type(config.format, indices.len());
            extra.push((CONTENT_TYPE, HeaderValue::from_static(kind)));
        }
        if let Some(name) = &self.idempotency {
            let key = body::idempotency_key(chosen());
            if let Ok(value) = HeaderValue::from_str(&key) {
                extra.push((name.clone(), value));
            }
        }
        if let Some((name, secret)) = &self.signature {
            let mut value = HeaderValue::from_str(&body::signature(secret, &plain)?)
                .map_err(|e| ConnectorError::data(format!("signature header: {e}")))?;
            value.set_sensitive(true);
            extra.push((name.clone(), value));
        }
        let bytes = plain.len() as u64;
        let wire = match config.gzip_min_bytes {
            Some(min) if plain.len() >= min => {
                extra.push((CONTENT_ENCODING, HeaderValue::from_static("gzip")));
                body::gzip(&plain)?
            }
            _ => plain,
        };
        let wire = bytes::Bytes::from(wire);
        let answer = client::send(
            "http-webhook",
            &target.shown,
            &config.retry,
            &target.breaker,
            ANSWER_LIMIT,
            || {
                let mut request = target
                    .client
                    .request(self.method.clone(), target.url.clone());
                if !target.headers.is_empty() {
                    request = request.headers(target.headers.clone());
                }
                for (name, value) in &extra {
                    request = request.header(name.clone(), value.clone());
                }
                request.body(wire.clone())
            },
        )
        .await?;
        Ok((answer, bytes))
    }
}

impl WebhookSink {
    /// A sink; it builds its client on the first write.
    pub fn new() -> Self {
        Self::default()
    }

    /// The circuit breaker's counters (`None` before the first write).
    pub fn circuit(&self) -> Option<CircuitStats> {
        self.lock().as_ref().map(|e| e.target.breaker.stats())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Endpoint>>> {
        self.endpoint.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn endpoint(&self, config: &WebhookSinkConfig) -> Result<Arc<Endpoint>> {
        let mut slot = self.lock();
        if let Some(endpoint) = slot.as_ref() {
            return Ok(Arc::clone(endpoint));
        }
        let endpoint = Arc::new(Endpoint::new(config)?);
        *slot = Some(Arc::clone(&endpoint));
        Ok(endpoint)
    }
}

/// The requests of a batch, lane by lane. Each key's events form one group
/// (so they are sent in order, by one lane), events without a key form
/// groups of `batch_size`; the groups are spread over the lanes largest
/// first, each to the lane with the fewest events so far, so the lanes
/// finish together. Each request holds at most `batch_size` event
/// positions, in batch order. (Batches are written one after the other, so
/// a key may take another lane in the next batch without reordering.)
pub fn plan(events: &[SourceEvent], lanes: usize, batch_size: usize) -> Vec<Vec<Vec<usize>>> {
    let lanes = lanes.max(1);
    let batch_size = batch_size.max(1);
    let chunk = |members: &[usize]| -> Vec<Vec<usize>> {
        members.chunks(batch_size).map(<[usize]>::to_vec).collect()
    };
    if lanes == 1 {
        let all: Vec<usize> = (0..events.len()).collect();
        return if all.is_empty() {
            Vec::new()
        } else {
            vec![chunk(&all)]
        };
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let (mut keyless, mut keyless_group) = (0usize, 0usize);
    for (index, event) in events.iter().enumerate() {
        let group = match &event.key {
            Some(key) => *by_key.entry(key.to_string()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            }),
            None => {
                if keyless % batch_size == 0 {
                    groups.push(Vec::new());
                    keyless_group = groups.len() - 1;
                }
                keyless += 1;
                keyless_group
            }
        };
        groups[group].push(index);
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); lanes];
    for group in groups {
        if let Some(lane) = members.iter_mut().min_by_key(|m| m.len()) {
            lane.extend(group);
        }
    }
    members
        .into_iter()
        .filter(|m| !m.is_empty())
        .map(|mut m| {
            m.sort_unstable();
            chunk(&m)
        })
        .collect()
}

#[async_trait]
impl Sink for WebhookSink {
    type Config = WebhookSinkConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        // A fresh endpoint: `check` may be given another config than the writes.
        let outcome = async {
            let target = Endpoint::new(config)?.target;
            let response = target
                .client
                .head(target.url.clone())
                .headers(target.headers.clone())
                .send()
                .await
                .map_err(|e| client::transport_error(&target.shown, e))?;
            match client::classify(response.status()) {
                Class::Auth => Err(ConnectorError::auth(format!(
                    "{}: HTTP {} (credentials refused)",
                    target.shown,
                    response.status()
                ))),
                // The endpoint answers: a webhook need not support HEAD.
                _ => Ok(()),
            }
        }
        .await;
        Ok(CheckResult::builder().check("endpoint", outcome).finish())
    }

    async fn write(
        &self,
        config: &Self::Config,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        self.write_borrowed(config, &events).await
    }

    async fn write_borrowed(
        &self,
        config: &Self::Config,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        let mut result = WriteResult::new();
        if events.is_empty() {
            return Ok(result);
        }
        let endpoint = self.endpoint(config)?;
        let span = tracing::info_span!("http-webhook", url = %endpoint.target.shown);
        let lanes = plan(events, config.max_concurrent_requests, config.batch_size);
        let endpoint = &endpoint;
        let runs = lanes.iter().map(|requests| async move {
            let mut done = Vec::with_capacity(requests.len());
            for indices in requests {
                let sent = endpoint.send(config, events, indices).await;
                let failed = sent.is_err();
                done.push((indices, sent));
                if failed {
                    break; // later events of this lane's keys wait for the retry
                }
            }
            done
        });
        let outcomes = futures::future::join_all(runs).instrument(span).await;
        let mut first_error = None;
        for (indices, sent) in outcomes.into_iter().flatten() {
            match sent {
                Ok((answer, bytes)) if client::classify(answer.status) == Class::Success => {
                    result.add_success(indices.len() as u64, bytes);
                }
                Ok((answer, _)) => {
                    let error = ConnectorError::data(format!(
                        "{} refused the request: HTTP {}: {}",
                        endpoint.target.shown,
                        answer.status,
                        answer.excerpt()
                    ))
                    .with_retryable(false);
                    tracing::warn!(
                        connector = "http-webhook",
                        url = %endpoint.target.shown,
                        status = answer.status.as_u16(),
                        events = indices.len(),
                        "request refused; its events are failed"
                    );
                    for &index in indices {
                        result.add_record_failure(index, &error);
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(result),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn keyed(keys: &[Option<&str>]) -> Vec<SourceEvent> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                let e = SourceEvent::record("s", json!({"i": i}));
                match k {
                    Some(k) => e.with_key(json!(k)),
                    None => e,
                }
            })
            .collect()
    }

    #[test]
    fn one_lane_keeps_batch_order_in_requests_of_batch_size() {
        let events = keyed(&[None; 5]);
        assert_eq!(
            plan(&events, 1, 2),
            vec![vec![vec![0, 1], vec![2, 3], vec![4]]]
        );
    }

    #[test]
    fn a_key_stays_in_one_lane_in_order() {
        let keys: Vec<Option<&str>> = (0..200)
            .map(|i| Some(["a", "b", "c", "d", "e"][i % 5]))
            .collect();
        let events = keyed(&keys);
        let lanes = plan(&events, 4, 3);
        let mut seen = 0;
        for key in ["a", "b", "c", "d", "e"] {
            let holding: Vec<&Vec<Vec<usize>>> = lanes
                .iter()
                .filter(|lane| {
                    lane.iter()
                        .flatten()
                        .any(|&i| events[i].key == Some(json!(key)))
                })
                .collect();
            assert_eq!(holding.len(), 1, "key {key} in one lane");
            let order: Vec<usize> = holding[0]
                .iter()
                .flatten()
                .copied()
                .filter(|&i| events[i].key == Some(json!(key)))
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
            seen += order.len();
        }
        assert_eq!(seen, 200);
    }

    #[test]
    fn uniform_keys_fill_the_lanes_evenly() {
        let keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
        let spec: Vec<Option<&str>> = (0..800).map(|i| Some(keys[i % 8])).collect();
        let lanes = plan(&keyed(&spec), 4, 1);
        let loads: Vec<usize> = lanes.iter().map(|l| l.iter().flatten().count()).collect();
        assert_eq!(loads, vec![200; 4]);
    }

    #[test]
    fn keyless_events_spread_over_the_lanes() {
        let events = keyed(&[None; 8]);
        let lanes = plan(&events, 4, 2);
        assert_eq!(lanes.len(), 4);
        assert!(lanes.iter().all(|l| l.len() == 1 && l[0].len() == 2));
    }
}
