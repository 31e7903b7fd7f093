//! Shared by the CDC tests of both databases: pipeline settings, starting a
//! source into a `MockSink`, waiting for the sink and a summary of the
//! events it holds.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rivven_connect::runtime::{
    MemoryOffsetStore, Pipeline, PipelineSettings, PipelineStatus, RestartPolicy, Runtime,
};
use rivven_connect::{Source, SourceEvent};
use rivven_connect_testing::MockSink;
use serde_json::Value;

/// Pipeline settings for tests: small batches, quick restarts.
pub fn settings() -> PipelineSettings {
    PipelineSettings::default()
        .with_batch_size(256)
        .with_linger(Duration::from_millis(5))
        .with_restart(RestartPolicy {
            initial_backoff: Duration::from_millis(200),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(2),
            jitter: 0.1,
            max_consecutive_failures: 1000,
            healthy_after: Duration::from_secs(5),
        })
}

/// Start pipeline `name`: `source` with `config` → `sink`, with `store`
/// (reuse it to resume) and these settings.
pub async fn start<S: Source>(
    name: &str,
    source: S,
    config: S::Config,
    sink: &MockSink,
    store: &MemoryOffsetStore,
    settings: PipelineSettings,
) -> Runtime {
    Runtime::builder()
        .offset_store(store.clone())
        .pipeline(
            Pipeline::builder(name)
                .source(source, config)
                .sink(sink.clone(), Default::default())
                .settings(settings),
        )
        .start()
        .await
        .expect("start the runtime")
}

/// Wait until `sink` holds at least `n` events (panics after 60 s with what it has).
pub async fn wait_for(sink: &MockSink, n: usize) -> Vec<SourceEvent> {
    let ok =
        rivven_connect_testing::eventually(|| sink.written_count() >= n, Duration::from_secs(60))
            .await;
    let events = sink.written_events();
    assert!(
        ok,
        "expected {n} events, the sink has {}: {:#?}",
        events.len(),
        events.iter().rev().take(3).collect::<Vec<_>>()
    );
    events
}

/// `(op, table, after.id or before.id)` of each event.
pub fn summary(events: &[SourceEvent]) -> Vec<(String, String, Value)> {
    events
        .iter()
        .map(|e| {
            let id = e.data["after"]["id"].clone();
            let id = if id.is_null() {
                e.data["before"]["id"].clone()
            } else {
                id
            };
            (
                e.data["op"].as_str().unwrap_or("").to_string(),
                e.data["source"]["table"].as_str().unwrap_or("").to_string(),
                id,
            )
        })
        .collect()
}

/// Wait until one of `sink`'s events satisfies `found` (panics after 60 s
/// with the newest events); returns everything the sink holds by then.
pub async fn wait_for_event(
    sink: &MockSink,
    found: impl Fn(&SourceEvent) -> bool,
) -> Vec<SourceEvent> {
    let ok = rivven_connect_testing::eventually(
        || sink.written_events().iter().any(&found),
        Duration::from_secs(60),
    )
    .await;
    let events = sink.written_events();
    assert!(
        ok,
        "the awaited event never arrived; the sink has {}: {:#?}",
        events.len(),
        events.iter().rev().take(3).collect::<Vec<_>>()
    );
    events
}

/// The one event with this `op` whose `after.id` (or `before.id`) is `id`.
pub fn find<'a>(events: &'a [SourceEvent], op: &str, id: i64) -> &'a SourceEvent {
    let hits: Vec<&SourceEvent> = events
        .iter()
        .filter(|e| e.data["op"] == op)
        .filter(|e| {
            e.data["after"]["id"] == id
                || (e.data["after"].is_null() && e.data["before"]["id"] == id)
        })
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one `{op}` event for id {id}, got {}: {hits:#?}",
        hits.len()
    );
    hits[0]
}

/// Poll the status of pipeline `name` until `done` holds for it (panics
/// after 60 s, saying it never reached `what`, with the last status seen).
pub async fn wait_for_status(
    runtime: &Runtime,
    name: &str,
    what: &str,
    done: impl Fn(&PipelineStatus) -> bool,
) -> PipelineStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let status = runtime.status().await.pipeline(name).cloned();
        match status {
            Some(s) if done(&s) => return s,
            other if tokio::time::Instant::now() >= deadline => {
                panic!("pipeline `{name}` never reached {what}; last status: {other:#?}")
            }
            _ => {}
        }
    }
}
