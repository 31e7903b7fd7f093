//! Shared helpers for the runtime scenarios.

use rivven_connect::runtime::{PipelineSettings, RestartPolicy};
use rivven_connect::SourceEvent;
use std::collections::BTreeSet;
use std::time::Duration;

/// Settings with fast restarts and a commit after every acknowledged batch.
pub fn fast_settings() -> PipelineSettings {
    PipelineSettings::default()
        .with_batch_size(50)
        .with_linger(Duration::from_millis(5))
        .with_max_in_flight_batches(4)
        .with_checkpoint_interval(Duration::ZERO)
        .with_sink_batch(rivven_connect::BatchConfig::new(200, 10))
        .with_restart(RestartPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            ..RestartPolicy::default()
        })
}

/// The `id` field of each event.
pub fn ids(events: &[SourceEvent]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| e.data.get("id").and_then(|v| v.as_u64()))
        .collect()
}

/// Panics naming the first missing id of `0..n`.
pub fn assert_all_ids_present(events: &[SourceEvent], n: u64) {
    let seen: BTreeSet<u64> = ids(events).into_iter().collect();
    if let Some(missing) = (0..n).find(|i| !seen.contains(i)) {
        panic!(
            "id {missing} was never written ({} distinct of {n})",
            seen.len()
        );
    }
}

/// A generous upper bound for scenarios that should finish in well under a second.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Runs one pipeline in its own runtime until it ends and returns its final status.
pub async fn run_to_end(
    store: rivven_connect::runtime::MemoryOffsetStore,
    pipeline: rivven_connect::runtime::PipelineBuilder,
) -> rivven_connect::runtime::PipelineStatus {
    let runtime = rivven_connect::runtime::Runtime::builder()
        .offset_store(store)
        .pipeline(pipeline)
        .start()
        .await
        .unwrap();
    let mut status = runtime.wait().await;
    assert_eq!(status.pipelines.len(), 1);
    status.pipelines.remove(0)
}
