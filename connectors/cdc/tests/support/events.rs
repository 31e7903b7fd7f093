//! Shared by the CDC tests of both databases: waiting for the sink and a
//! summary of the events it holds.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rivven_connect::SourceEvent;
use rivven_connect_testing::MockSink;
use serde_json::Value;

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
