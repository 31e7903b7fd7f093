//! The "SDK Ergonomics" examples of the architecture document (`000_*`), as written.
//! Functions the document leaves undefined (`make_http_request`, `write_batch`, …) are
//! small stand-ins; deviations are marked `// seed:`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::StreamExt as _;
use rivven_connect::prelude::*;
use rivven_connect::{log_event, record, state};
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[test]
fn builder_patterns() {
    let port = 5432;
    let event = SourceEvent::builder()
        .stream("users")
        .data(json!({"id": 1, "name": "Alice"}))
        .with_metadata("source", json!("postgres"))
        .build();
    assert_eq!(event.metadata.extra["source"], json!("postgres"));

    let insert = SourceEvent::cdc_insert("users", json!({"id": 1}));
    let update = SourceEvent::cdc_update(
        "users",
        json!({"id": 1}),
        json!({"id": 1, "name": "Updated"}),
    );
    let delete = SourceEvent::cdc_delete("users", json!({"id": 1}));
    assert_eq!(
        [&insert, &update, &delete].map(|e| e.data["op"].clone()),
        [json!("c"), json!("u"), json!("d")]
    );

    let check_result = CheckResult::builder()
        .check_passed("connectivity")
        .check_passed("authentication")
        .check_failed("permissions", "missing SELECT on users table")
        .build();
    let check_result = check_result.unwrap();
    assert!(!check_result.is_success());
    assert!(check_result.summary().contains("permissions"));

    let result = CheckResult::builder()
        .check_if("port_valid", || {
            if port > 0 && port < 65536 {
                Ok(())
            } else {
                Err("invalid port".to_string())
            }
        })
        .build();
    assert!(result.unwrap().is_success());

    let state = State::builder()
        .stream_cursor("users", "updated_at", json!("2026-01-25T10:00:00Z"))
        .stream_cursor("orders", "id", json!(12345))
        .global("last_sync", json!("2026-01-25"))
        .build();
    assert_eq!(
        state.get_stream("orders").and_then(|s| s.cursor_as_i64()),
        Some(12345)
    );
}

#[test]
fn convenience_macros() {
    let event = record!("users", {"id": 1, "name": "Alice"});
    let state_event = state!("users", {"cursor": "abc123"});
    let log = log_event!(LogLevel::Info, "Sync started");
    assert_eq!(event.event_type, EventType::Record);
    assert_eq!(state_event.event_type, EventType::State);
    assert_eq!(log.data["message"], json!("Sync started"));
}

#[test]
fn transform_helpers() {
    let mut event = SourceEvent::record(
        "test",
        json!({"id": 7, "name": "Alice", "age": 30, "secret": "xxx", "email": "a@example.com",
               "status": "active-user", "address": {"city": "Oslo"}}),
    );

    transforms::rename_field(&mut event, "name", "full_name");
    transforms::remove_fields(&mut event, &["secret"]);
    transforms::add_field(&mut event, "processed", json!(true));

    let city = transforms::get_nested_field(&event, "address.city");
    assert_eq!(city, Some(&json!("Oslo")));

    let mut matched = 0;
    if transforms::field_contains(&event, "email", "@example.com") {
        matched += 1;
    }
    if transforms::field_starts_with(&event, "status", "active") {
        matched += 1;
    }
    assert_eq!(matched, 2);

    transforms::keep_only_fields(&mut event, &["id", "name"]);
    assert_eq!(event.data, json!({"id": 7}));

    let output = TransformOutput::single(event)
        .map(|e| {
            transforms::add_field(&mut e.clone(), "tag", json!("processed"));
            e
        })
        .filter(|e| transforms::has_field(e, "id"));
    assert_eq!(output.len(), 1);
}

static CALLS: AtomicU32 = AtomicU32::new(0);

async fn make_http_request() -> Result<&'static str> {
    if CALLS.fetch_add(1, Ordering::SeqCst) % 3 < 2 {
        Err(ConnectorError::connection("connection refused"))
    } else {
        Ok("200 OK")
    }
}

async fn fetch_data() -> Result<u32> {
    Ok(42)
}

async fn try_operation() -> Result<u32> {
    Err(ConnectorError::timeout("slow"))
}

async fn retry_utilities() -> Result<u32> {
    let config = RetryConfig::new()
        .with_max_retries(5)
        .with_initial_delay(Duration::from_millis(1)) // seed: 100 ms, shortened for the test
        .with_max_delay(Duration::from_secs(30))
        .with_backoff_multiplier(2.0)
        .with_jitter(0.1);

    let result = retry(&config, || async { make_http_request().await }).await;
    assert!(result.is_success());
    if result.is_success() {
        println!("Success after {} attempts", result.attempts);
    }
    assert_eq!(result.attempts, 3);

    let value = retry_result(&config, || async { fetch_data().await }).await?;
    assert_eq!(value, 42);

    let mut guard = RetryGuard::new(config);
    let mut tries = 0;
    while guard.should_retry() {
        tries += 1;
        match try_operation().await {
            Ok(_v) => break,
            Err(e) if e.is_retryable() => {
                if let Some(delay) = guard.record_attempt() {
                    tokio::time::sleep(delay).await;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(tries)
}

#[tokio::test]
async fn retry_examples() {
    assert_eq!(retry_utilities().await.unwrap(), 6, "1 attempt + 5 retries");
}

#[test]
fn typed_state_access() {
    let mut state = State::new();
    state.update_cursor("users", "id", json!(1000));
    if let Some(stream) = state.get_stream("users") {
        let cursor_id: Option<i64> = stream.cursor_as_i64();
        let cursor_str: Option<&str> = stream.cursor_as_str();
        assert_eq!((cursor_id, cursor_str), (Some(1000), None));
    }
    let stream = state.get_or_create_stream("new_stream");
    stream.set_cursor("offset", json!(0));
    stream.set_data("partition", json!(3));
    state.set_global("retry_count", json!(5));
    let count: Option<i64> = state.get_global_as("retry_count");
    assert_eq!(count, Some(5));
}

struct PrometheusMetrics {
    inner: MetricsCollector,
}

// seed: the trait also requires `increment_by` and `set_gauge` (the document elides them).
impl Metrics for PrometheusMetrics {
    fn increment(&self, name: &str) {
        self.inner.increment(name);
    }
    fn histogram(&self, name: &str, value: f64) {
        self.inner.histogram(name, value);
    }
    fn increment_by(&self, name: &str, value: u64) {
        self.inner.increment_by(name, value);
    }
    fn set_gauge(&self, name: &str, value: f64) {
        self.inner.gauge(name, value);
    }
}

#[test]
fn metrics_and_observability() {
    let metrics = MetricsCollector::new();
    metrics.increment("events_processed");
    metrics.increment_by("bytes_written", 1024);
    metrics.gauge("queue_depth", 42);
    metrics.histogram("event_latency_ms", 15.5);
    metrics.histogram("event_latency_ms", 23.2);
    metrics.histogram("event_latency_ms", 8.1);
    {
        let _timer = metrics.start_timer("process_batch");
    }
    let labels = Labels::new()
        .add("connector", "postgres-cdc")
        .add("stream", "users");
    metrics.increment_with_labels("events", &labels);

    let snapshot = metrics.snapshot();
    for (name, value) in &snapshot.counters {
        println!("{}: {}", name, value);
    }
    for (name, hist) in &snapshot.histograms {
        println!(
            "{}: p50={}, p95={}, p99={}",
            name,
            hist.p50(),
            hist.p95(),
            hist.p99()
        );
    }
    assert_eq!(
        snapshot.histogram("event_latency_ms").map(|h| h.p50()),
        Some(15.5)
    );
    assert_eq!(
        snapshot.histogram("process_batch").map(|h| h.count),
        Some(1)
    );
    assert_eq!(snapshot.counter_with_labels("events", &labels), Some(1));

    let custom = PrometheusMetrics {
        inner: MetricsCollector::new(),
    };
    custom.increment("x");
    assert_eq!(custom.inner.snapshot().counter("x"), Some(1));
}

async fn make_database_query() -> Result<u32> {
    Err(ConnectorError::connection("db down"))
}

async fn task_work() -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn circuit_breaker() {
    let config = CircuitBreakerConfig {
        failure_threshold: 5,
        success_threshold: 3,
        open_duration: Duration::from_secs(30),
    };
    let circuit = CircuitBreaker::new(config);
    let mut fallbacks = 0;
    for _ in 0..6 {
        match circuit.call(|| async { make_database_query().await }).await {
            Ok(result) => println!("{result}"),
            Err(CircuitBreakerError::Open) => {
                // seed: `log::warn!` — this crate logs through `tracing`
                tracing::warn!("Circuit open, using cached data");
                fallbacks += 1;
            }
            Err(CircuitBreakerError::OperationFailed(e)) => {
                tracing::error!("Operation failed: {}", e);
            }
        }
    }
    assert_eq!(fallbacks, 1);
    match circuit.state() {
        CircuitState::Closed => println!("Healthy"),
        CircuitState::Open => println!("Failing, rejecting calls"),
        CircuitState::HalfOpen => println!("Testing recovery"),
    }
    assert_eq!(circuit.state(), CircuitState::Open);
    circuit.trip();
    circuit.reset();
    assert_eq!(circuit.state(), CircuitState::Closed);

    let shared = SharedCircuitBreaker::new(config);
    let circuit_clone = shared.clone();
    let joined =
        tokio::spawn(async move { circuit_clone.call(|| async { task_work().await }).await })
            .await
            .unwrap();
    assert!(joined.is_ok());
    assert_eq!(shared.stats().successes, 1);

    let stats = circuit.stats();
    println!(
        "Failures: {}, Successes: {}",
        stats.failures, stats.successes
    );
    assert_eq!(stats.failures, 5);
}

async fn write_batch(out: &mut Vec<u64>, events: &[SourceEvent]) -> Result<()> {
    out.extend(events.iter().filter_map(|e| e.data["id"].as_u64()));
    Ok(())
}

async fn process_batch(chunk: &[SourceEvent]) -> Result<usize> {
    Ok(chunk.len())
}

#[tokio::test]
async fn batch_processing() -> Result<()> {
    let config = BatcherConfig {
        max_size: 1000,
        max_bytes: 10 * 1024 * 1024,
        max_wait: Duration::from_millis(20), // seed: 5 s, shortened for the test
    };
    let incoming_events: Vec<SourceEvent> = (0..2500)
        .map(|i| SourceEvent::record("orders", json!({"id": i})))
        .collect();
    let mut written = Vec::new();

    let mut batcher = Batcher::new(config);
    for event in incoming_events.clone() {
        batcher.add(event);
        if batcher.is_ready() {
            let batch = batcher.flush();
            write_batch(&mut written, &batch.events).await?;
        }
    }
    if !batcher.is_empty() {
        let batch = batcher.flush();
        write_batch(&mut written, &batch.events).await?;
    }
    assert_eq!(written, (0..2500).collect::<Vec<u64>>());

    // Async batcher with timeout support.
    let mut async_batcher = AsyncBatcher::new(config);
    let mut event_stream =
        futures::stream::iter(incoming_events.clone()).chain(futures::stream::pending());
    let mut written = Vec::new();
    loop {
        tokio::select! {
            Some(event) = event_stream.next() => {
                async_batcher.add(event);
                if async_batcher.is_ready() {
                    let batch = async_batcher.flush();
                    write_batch(&mut written, &batch.events).await?;
                }
            }
            _ = async_batcher.wait_for_timeout() => {
                if !async_batcher.is_empty() {
                    let batch = async_batcher.flush();
                    write_batch(&mut written, &batch.events).await?;
                }
            }
        }
        if written.len() == 2500 {
            break;
        }
    }
    assert_eq!(written, (0..2500).collect::<Vec<u64>>());

    use rivven_connect::traits::batch::{chunk_events, partition_events};
    let events = incoming_events;
    let chunks = chunk_events(events.clone(), 100);
    let mut total = 0;
    for chunk in chunks {
        total += process_batch(&chunk).await?;
    }
    assert_eq!(total, 2500);
    let partitions = partition_events(events, |e| e.stream.clone());
    for (stream, events) in partitions {
        println!("Stream {}: {} events", stream, events.len());
        assert_eq!((stream.as_str(), events.len()), ("orders", 2500));
    }
    Ok(())
}
