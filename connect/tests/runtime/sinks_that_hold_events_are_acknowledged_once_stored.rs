//! A sink that gathers events across writes (into "objects" of a fixed size,
//! as the object-storage sink does) reports them pending: the runtime keeps
//! the source going (credit comes back when the events are held), commits a
//! position only once the object holding its events is stored, flushes on
//! the sink's timeout and at the end, and after a failure replays exactly
//! what was not stored.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState};
use rivven_connect::{
    BatchConfig, Catalog, CheckResult, ConfiguredCatalog, ConnectorError, ConnectorSpec, Result,
    Sink, Source, SourceEvent, State, WriteResult,
};
use rivven_connect_testing::prelude::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{fast_settings, ids, run_to_end};

#[derive(Default)]
struct Objects {
    buffer: Vec<SourceEvent>,
    stored: Vec<Vec<SourceEvent>>,
    fail_after_objects: Option<usize>,
    failed: bool,
}

/// Holds events until it has `size`, then "stores" them as one object.
#[derive(Clone)]
struct GatheringSink {
    size: usize,
    objects: Arc<Mutex<Objects>>,
}

impl GatheringSink {
    fn new(size: usize) -> Self {
        Self {
            size,
            objects: Arc::default(),
        }
    }
    fn failing_after(self, objects: usize) -> Self {
        self.objects.lock().unwrap().fail_after_objects = Some(objects);
        self
    }
    fn stored(&self) -> Vec<Vec<SourceEvent>> {
        self.objects.lock().unwrap().stored.clone()
    }
    fn stored_ids(&self) -> BTreeSet<u64> {
        self.stored().iter().flat_map(|o| ids(o)).collect()
    }
}

#[async_trait]
impl Sink for GatheringSink {
    type Config = MockConfig;
    fn spec() -> ConnectorSpec {
        MockSink::spec()
    }
    async fn write(
        &self,
        _: &MockConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        let mut o = self.objects.lock().unwrap();
        if o.fail_after_objects == Some(o.stored.len()) && !o.failed {
            o.failed = true;
            return Err(ConnectorError::fatal("injected failure"));
        }
        let mut result = WriteResult::new();
        for e in events {
            o.buffer.push(e);
            if o.buffer.len() == self.size {
                let object = std::mem::take(&mut o.buffer);
                result.add_success(object.len() as u64, 0);
                o.stored.push(object);
            }
        }
        result.pending = o.buffer.len() as u64;
        Ok(result)
    }
    async fn flush(&self, _: &MockConfig) -> Result<WriteResult> {
        let mut o = self.objects.lock().unwrap();
        let mut result = WriteResult::new();
        if !o.buffer.is_empty() {
            let object = std::mem::take(&mut o.buffer);
            result.add_success(object.len() as u64, 0);
            o.stored.push(object);
        }
        Ok(result)
    }
    fn discard_pending(&self, _: &MockConfig) {
        self.objects.lock().unwrap().buffer.clear();
    }
}

/// Checks at every commit that each event before the position is stored.
struct CommitChecker {
    inner: MockSource,
    sink: GatheringSink,
    violations: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Source for CommitChecker {
    type Config = MockConfig;
    fn spec() -> ConnectorSpec {
        MockSource::spec()
    }
    async fn check(&self, c: &MockConfig) -> Result<CheckResult> {
        self.inner.check(c).await
    }
    async fn discover(&self, c: &MockConfig) -> Result<Catalog> {
        self.inner.discover(c).await
    }
    async fn read(
        &self,
        c: &MockConfig,
        cat: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        self.inner.read(c, cat, state).await
    }
    async fn commit(&self, c: &MockConfig, state: &State) -> Result<()> {
        let position = MockSource::position(state);
        let stored = self.sink.stored_ids();
        if let Some(missing) = (0..position).find(|i| !stored.contains(i)) {
            self.violations.lock().unwrap().push(format!(
                "committed position {position} but event {missing} is not stored"
            ));
        }
        self.inner.commit(c, state).await
    }
}

fn pipeline(
    name: &str,
    source: MockSource,
    sink: &GatheringSink,
    violations: &Arc<Mutex<Vec<String>>>,
) -> rivven_connect::runtime::PipelineBuilder {
    Pipeline::builder(name)
        .source(
            CommitChecker {
                inner: source,
                sink: sink.clone(),
                violations: violations.clone(),
            },
            MockConfig::default(),
        )
        .sink(sink.clone(), MockConfig::default())
        .settings(fast_settings())
}

/// The test settings, but held events flushed only when an object is full
/// or at the end: with the 10 ms sink timeout of `fast_settings`, a loaded
/// machine's stall of the source flushed a partial object mid-stream (which
/// is right, just not what these tests count).
fn without_timeout_flushes() -> rivven_connect::runtime::PipelineSettings {
    fast_settings().with_sink_batch(BatchConfig::new(200, 60_000))
}

/// Objects of 300 events while the credit window holds only 4 × 50: the
/// source keeps reading while the sink holds events, every object but the
/// last has exactly 300, and no commit passes an unstored event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_exactly_full_and_commits_wait_for_them() {
    let n = 1_000;
    let sink = GatheringSink::new(300);
    let violations = Arc::new(Mutex::new(Vec::new()));
    let store = MemoryOffsetStore::new();
    let p = run_to_end(
        store.clone(),
        pipeline("gather", MockSource::counting(n), &sink, &violations)
            .settings(without_timeout_flushes()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let sizes: Vec<usize> = sink.stored().iter().map(Vec::len).collect();
    assert_eq!(sizes, [300, 300, 300, 100]);
    assert_eq!(sink.stored_ids(), (0..n).collect());
    assert!(
        violations.lock().unwrap().is_empty(),
        "{:?}",
        violations.lock().unwrap()
    );
    assert_eq!(MockSource::position(&store.get("gather").unwrap()), n);
    assert_eq!(p.events_written, n);
}

/// A failure after the first object: the pipeline restarts from the last
/// stored object, the events the sink held are replayed (not lost, and the
/// ones stored before are not written again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_replays_exactly_what_was_not_stored() {
    let n = 1_000;
    let sink = GatheringSink::new(300).failing_after(1);
    let source = MockSource::counting(n);
    let violations = Arc::new(Mutex::new(Vec::new()));
    let store = MemoryOffsetStore::new();
    let p = run_to_end(
        store.clone(),
        pipeline("replay", source.clone(), &sink, &violations).settings(without_timeout_flushes()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 1);
    assert!(
        violations.lock().unwrap().is_empty(),
        "{:?}",
        violations.lock().unwrap()
    );
    let reads = source.reads();
    assert_eq!(reads.len(), 2);
    let resumed_at = reads[1].as_ref().map_or(0, MockSource::position);
    assert_eq!(resumed_at, 300, "resumes right after the stored object");
    let all: Vec<u64> = sink.stored().iter().flat_map(|o| ids(o)).collect();
    assert_eq!(all.len() as u64, n, "each event stored exactly once");
    assert_eq!(
        all.iter().copied().collect::<BTreeSet<u64>>(),
        (0..n).collect()
    );
}

/// An endless trickle: the sink's batch timeout flushes the held events,
/// and their positions are committed while the pipeline runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_timeout_flushes_held_events() {
    let sink = GatheringSink::new(1_000_000);
    let violations = Arc::new(Mutex::new(Vec::new()));
    let store = MemoryOffsetStore::new();
    let source = MockSource::counting(u64::MAX).with_delay(Duration::from_millis(2));
    let runtime = rivven_connect::runtime::Runtime::builder()
        .offset_store(store.clone())
        .pipeline(
            pipeline("trickle", source, &sink, &violations)
                .settings(fast_settings().with_sink_batch(BatchConfig::new(1_000_000, 200))),
        )
        .start()
        .await
        .unwrap();
    let flushed = eventually(
        || sink.stored().len() >= 2 && store.get("trickle").is_some(),
        Duration::from_secs(20),
    )
    .await;
    let status = runtime.shutdown(Duration::from_secs(10)).await;
    assert!(flushed, "no timed flush: {:?}", sink.stored().len());
    assert!(
        violations.lock().unwrap().is_empty(),
        "{:?}",
        violations.lock().unwrap()
    );
    let p = &status.pipelines[0];
    assert!(p.last_error.is_none(), "{p:?}");
    // Shutdown flushed the rest: everything read is stored, in order.
    let all: Vec<u64> = sink.stored().iter().flat_map(|o| ids(o)).collect();
    assert_eq!(all, (0..all.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        MockSource::position(&store.get("trickle").unwrap()),
        all.len() as u64
    );
}
