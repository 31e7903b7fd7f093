//! One source with a `topic`, three subscribing sinks: a fast file, a file
//! at 2 000 events/s and a sink that fails every 7th write once. The source
//! runs once, every sink gets every event, the topic never holds more than
//! its capacity, and the failing subscriber restarts alone.

use futures::stream::BoxStream;
use futures::StreamExt;
use rivven_connect::config::Loader;
use rivven_connect::prelude::*;
use rivven_connect::registry::Registry;
use rivven_connect::runtime::PipelineState;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static FLAKY_IDS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// A sink that keeps the ids it wrote and fails every 7th write, once.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(name = "flaky-collector", version = "1.0.0")]
#[serde(deny_unknown_fields)]
pub struct FlakyConfig {}

#[derive(Default)]
pub struct Flaky {
    writes: AtomicU64,
}

#[async_trait]
impl Sink for Flaky {
    type Config = FlakyConfig;
    fn spec() -> ConnectorSpec {
        FlakyConfigSpec::spec()
    }
    async fn write(
        &self,
        _: &FlakyConfig,
        mut events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let n = self.writes.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(7) {
            // Not retryable: the subscriber's stages restart from its cursor.
            return Err(ConnectorError::fatal(format!("write {n} fails once")));
        }
        let mut result = WriteResult::new();
        let mut ids = Vec::new();
        while let Some(e) = events.next().await {
            ids.extend(e.data["value"].as_u64());
        }
        result.add_success(ids.len() as u64, 0);
        FLAKY_IDS.lock().unwrap().extend(ids);
        Ok(result)
    }
}

fn file_ids(path: &std::path::Path) -> BTreeSet<u64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_runs_once_and_every_subscriber_gets_every_event() {
    const N: u64 = 100_000;
    const CAPACITY: u64 = 5_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let yaml = format!(
        "data_dir: {d}/data\n\
         topics: {{ capacity: {CAPACITY} }}\n\
         sources:\n  gen: {{ connector: datagen, topic: orders, config: {{ pattern: sequence, max_events: {N}, events_per_second: 0 }} }}\n\
         sinks:\n  fast: {{ connector: file, topics: [orders], config: {{ path: {d}/fast.jsonl }} }}\n  \
         slow: {{ connector: file, topics: [orders], rate_limit: {{ events_per_second: 2000, burst_capacity: 2000 }}, config: {{ path: {d}/slow.jsonl }} }}\n  \
         flaky: {{ connector: flaky-collector, topics: [orders] }}\n\
         pipelines: {{}}\n"
    );
    let mut registry = Registry::builtin();
    registry.register_sink::<Flaky>().unwrap();
    let config = Loader::new(&registry).load(&yaml).unwrap();
    let names: Vec<String> = config
        .enabled_pipelines()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "gen-to-topic-orders",
            "orders-to-fast",
            "orders-to-flaky",
            "orders-to-slow"
        ]
    );
    let runtime = config
        .runtime_builder(&registry)
        .unwrap()
        .start()
        .await
        .unwrap();

    // Sample the topic while it runs: it never holds more than its capacity.
    let mut peak = 0;
    let status = loop {
        let status = runtime.status_now();
        if let Some(t) = status.topic("orders") {
            peak = peak.max(t.buffered);
        }
        if status.pipelines.iter().all(|p| p.state.is_terminal()) {
            break status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(status.all_succeeded(), "{status:#?}");
    let publisher = status.pipeline("gen-to-topic-orders").unwrap();
    assert_eq!(publisher.events_read, N, "the source ran once");
    let topic = status.topic("orders").unwrap();
    assert_eq!(
        topic.end_offset,
        topic
            .groups
            .iter()
            .map(|g| g.committed_offset.unwrap())
            .min()
            .unwrap()
    );
    assert!(
        topic.peak_buffered <= CAPACITY && peak <= CAPACITY,
        "{topic:?}"
    );
    assert!(topic.peak_buffered > 0);

    let all: BTreeSet<u64> = (0..N).collect();
    for sink in ["fast", "slow"] {
        assert_eq!(
            file_ids(&dir.path().join(format!("{sink}.jsonl"))),
            all,
            "{sink}"
        );
    }
    let flaky: BTreeSet<u64> = FLAKY_IDS.lock().unwrap().iter().copied().collect();
    assert_eq!(flaky, all, "flaky");
    let restarts = |name: &str| status.pipeline(name).unwrap().restarts;
    assert!(
        restarts("orders-to-flaky") > 0,
        "the flaky sink failed and restarted"
    );
    assert_eq!(
        (restarts("orders-to-fast"), restarts("orders-to-slow")),
        (0, 0)
    );
    assert_eq!(
        publisher.restarts, 0,
        "a subscriber's failure leaves the source alone"
    );
}

/// A sink that always fails (not retryable).
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(name = "always-failing", version = "1.0.0")]
#[serde(deny_unknown_fields)]
pub struct BrokenConfig {}

#[derive(Default)]
pub struct Broken;

#[async_trait]
impl Sink for Broken {
    type Config = BrokenConfig;
    fn spec() -> ConnectorSpec {
        BrokenConfigSpec::spec()
    }
    async fn write(
        &self,
        _: &BrokenConfig,
        _: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        Err(ConnectorError::fatal("this sink never writes"))
    }
}

/// A memory topic's subscriber that fails for good stops the source: its
/// committed position stays where that subscriber left it (nothing), instead
/// of moving past events it never got. The healthy subscriber drains what the
/// topic holds and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_failing_for_good_holds_the_source_position() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let yaml = format!(
        "data_dir: {d}/data\n\
         topics: {{ capacity: 100 }}\n\
         sources:\n  gen: {{ connector: datagen, topic: t, config: {{ pattern: sequence, max_events: 100000, events_per_second: 0 }} }}\n\
         sinks:\n  ok: {{ connector: file, config: {{ path: {d}/ok.jsonl }} }}\n  \
         broken: {{ connector: always-failing }}\n\
         pipelines:\n  good: {{ source: gen, sink: ok }}\n  \
         bad: {{ source: gen, sink: broken, settings: {{ restart: {{ initial_backoff_ms: 10, max_consecutive_failures: 2 }} }} }}\n"
    );
    let mut registry = Registry::builtin();
    registry.register_sink::<Broken>().unwrap();
    let config = Loader::new(&registry).load(&yaml).unwrap();
    let runtime = config
        .runtime_builder(&registry)
        .unwrap()
        .start()
        .await
        .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), runtime.wait())
        .await
        .expect("every pipeline ends");
    let state = |n: &str| status.pipeline(n).unwrap().state;
    assert_eq!(state("bad"), PipelineState::Failed);
    assert_eq!(state("gen-to-topic-t"), PipelineState::Failed);
    assert_eq!(state("good"), PipelineState::Completed, "{status:#?}");
    let publisher = status.pipeline("gen-to-topic-t").unwrap();
    assert!(
        publisher
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("`bad` failed"),
        "{publisher:?}"
    );
    // Nothing was acknowledged by `bad`: no source position was committed.
    let offsets = dir.path().join("data/offsets/gen-to-topic-t.offsets.json");
    assert!(
        !offsets.exists(),
        "committed: {:?}",
        std::fs::read_to_string(&offsets)
    );
    // The topic never held more than its capacity.
    assert!(status.topic("t").unwrap().peak_buffered <= 100);
}

/// The publisher's write to a memory topic is acknowledged once appended (so
/// the source reads on while the subscribers write), but its committed
/// position never passes what the slowest group acknowledged: sampled all
/// through a run with a subscriber at 4 000 events/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_never_commits_past_the_slowest_subscriber() {
    const N: u64 = 12_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let yaml = format!(
        "data_dir: {d}/data\n\
         topics: {{ capacity: 2000 }}\n\
         sources:\n  gen: {{ connector: datagen, topic: t, config: {{ pattern: sequence, max_events: {N}, events_per_second: 0 }} }}\n\
         sinks:\n  fast: {{ connector: file, topics: [t], config: {{ path: {d}/fast.jsonl }} }}\n  \
         slow: {{ connector: file, topics: [t], rate_limit: {{ events_per_second: 4000, burst_capacity: 500 }}, config: {{ path: {d}/slow.jsonl }} }}\n\
         pipelines: {{}}\n"
    );
    let registry = Registry::builtin();
    let config = Loader::new(&registry).load(&yaml).unwrap();
    let runtime = config
        .runtime_builder(&registry)
        .unwrap()
        .start()
        .await
        .unwrap();
    let offsets = dir.path().join("data/offsets/gen-to-topic-t.offsets.json");
    let committed = || -> Option<u64> {
        let bytes = std::fs::read(&offsets).ok()?;
        let state: State = serde_json::from_slice(&bytes).unwrap();
        state.get_stream("datagen")?.get::<u64>("sequence").ok()
    };
    let (mut samples, mut ahead_of_commit) = (0u32, 0u32);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        // The publisher's commit first, then the groups' (which only grow).
        let published = committed();
        let status = runtime.status_now();
        let topic = status.topic("t").unwrap();
        let low = topic
            .groups
            .iter()
            .map(|g| g.committed_offset.unwrap_or(0))
            .min()
            .unwrap();
        if let Some(sequence) = published {
            samples += 1;
            assert!(
                sequence <= low,
                "the source committed sequence {sequence} while a group had acknowledged only {low}: {topic:?}"
            );
            if topic.end_offset > sequence + 1 {
                ahead_of_commit += 1;
            }
        }
        if status
            .pipelines
            .iter()
            .all(|p| p.state == PipelineState::Completed)
            || std::time::Instant::now() > deadline
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = runtime.wait().await;
    assert!(
        status
            .pipelines
            .iter()
            .all(|p| p.state == PipelineState::Completed),
        "{status:#?}"
    );
    assert!(samples > 20, "{samples} samples of a committed position");
    // The source was ahead of its commit: its writes did not wait for the
    // subscribers.
    assert!(ahead_of_commit > 0, "{samples} samples");
    // At the end the whole run is committed.
    let last = committed().expect("the publisher committed");
    assert!(last + 1 >= N, "committed sequence {last} of {N}");
    for f in ["fast", "slow"] {
        assert_eq!(
            file_ids(&dir.path().join(format!("{f}.jsonl"))).len() as u64,
            N
        );
    }
}
