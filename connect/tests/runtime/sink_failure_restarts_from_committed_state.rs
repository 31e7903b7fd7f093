use async_trait::async_trait;
use futures::stream::BoxStream;
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState};
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorSpec, Result, Source, SourceEvent, State,
};
use rivven_connect_testing::prelude::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::common::{assert_all_ids_present, fast_settings, ids, run_to_end};

/// Wraps a `MockSource` and, at every `commit`, checks that each event before
/// the committed position is already in the sink.
struct CommitChecker {
    inner: MockSource,
    sink: MockSink,
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
        let written: BTreeSet<u64> = ids(&self.sink.written_events()).into_iter().collect();
        if let Some(missing) = (0..position).find(|i| !written.contains(i)) {
            self.violations.lock().unwrap().push(format!(
                "committed position {position} but event {missing} is not written"
            ));
        }
        self.inner.commit(c, state).await
    }
}

/// A sink that fails once after 500 events: the pipeline restarts from the
/// last committed state, every event arrives at least once, and no commit
/// ever passes an event the sink has not acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_failure_restarts_from_committed_state() {
    let n = 2_000;
    let sink = MockSink::new().fail_after(500);
    let source = MockSource::counting(n);
    let violations = Arc::new(Mutex::new(Vec::new()));
    let store = MemoryOffsetStore::new();
    let p = run_to_end(
        store.clone(),
        Pipeline::builder("restart")
            .source(
                CommitChecker {
                    inner: source.clone(),
                    sink: sink.clone(),
                    violations: violations.clone(),
                },
                MockConfig::default(),
            )
            .sink(sink.clone(), MockConfig::default())
            .settings(fast_settings()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 1);
    assert!(p
        .last_error
        .as_deref()
        .unwrap_or_default()
        .contains("injected failure"));
    assert_all_ids_present(&sink.written_events(), n);
    assert!(
        violations.lock().unwrap().is_empty(),
        "{:?}",
        violations.lock().unwrap()
    );

    // The second run resumed from a committed position, not from scratch.
    let reads = source.reads();
    assert_eq!(reads.len(), 2, "one read per start");
    let resumed_at = reads[1].as_ref().map_or(0, MockSource::position);
    // The failure came at the first write after 500 events: the resume point lies between
    // the first committed batch and the end (exactly where depends on batch boundaries).
    assert!(resumed_at > 0 && resumed_at < n, "resumed at {resumed_at}");
    // Events before the resume point were written exactly once.
    let before: Vec<u64> = ids(&sink.written_events())
        .into_iter()
        .filter(|i| *i < resumed_at)
        .collect();
    assert_eq!(before.len() as u64, resumed_at);
    // The final committed state covers everything.
    assert_eq!(MockSource::position(&store.get("restart").unwrap()), n);
}
