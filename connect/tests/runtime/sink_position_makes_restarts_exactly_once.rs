//! A sink that stores the pipeline's position with its data
//! (`Sink::stores_position`): after a crash right after its commit — before
//! the offset store heard of it — the runtime resumes the source from the
//! sink's position, so no event is written twice and none is lost.

use async_trait::async_trait;
use futures::stream::BoxStream;
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState};
use rivven_connect::{ConnectorError, Result, Sink, SourceEvent, State, WriteResult};
use rivven_connect_testing::prelude::*;
use std::sync::{Arc, Mutex};

use crate::common::{fast_settings, ids, run_to_end};

/// The "database": rows and the position, changed together under one lock
/// (one transaction).
#[derive(Default)]
struct Table {
    rows: Vec<u64>,
    position: Option<State>,
    /// Every position stored, in order (an insert-only audit).
    positions: Vec<u64>,
    commits: u64,
}

/// Stores positions with its rows; "crashes" (a non-retryable error, so the
/// stage fails and the pipeline restarts) right after the commits listed in
/// `crash_after`.
#[derive(Clone)]
struct PositionedSink {
    table: Arc<Mutex<Table>>,
    crash_after: Arc<Mutex<Vec<u64>>>,
}

impl PositionedSink {
    fn new(crash_after: Vec<u64>) -> Self {
        Self {
            table: Arc::default(),
            crash_after: Arc::new(Mutex::new(crash_after)),
        }
    }
}

#[async_trait]
impl Sink for PositionedSink {
    type Config = MockConfig;

    async fn write(
        &self,
        _config: &MockConfig,
        _events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        Err(ConnectorError::fatal(
            "a sink that stores positions is always written with its position",
        ))
    }

    fn stores_position(&self, _config: &MockConfig) -> bool {
        true
    }

    async fn committed_position(&self, _config: &MockConfig) -> Result<Option<State>> {
        Ok(self.table.lock().unwrap().position.clone())
    }

    async fn write_with_position(
        &self,
        _config: &MockConfig,
        events: &[SourceEvent],
        position: &State,
    ) -> Result<WriteResult> {
        let commit = {
            let mut table = self.table.lock().unwrap();
            table.rows.extend(ids(events));
            table.position = Some(position.clone());
            table.positions.push(MockSource::position(position));
            table.commits += 1;
            table.commits
        };
        let mut crashes = self.crash_after.lock().unwrap();
        if let Some(at) = crashes.iter().position(|c| *c == commit) {
            crashes.remove(at);
            return Err(ConnectorError::fatal(format!(
                "crash after commit {commit}, before the acknowledgement"
            )));
        }
        let mut result = WriteResult::new();
        result.add_success(events.len() as u64, 0);
        Ok(result)
    }
}

fn assert_exactly_once(table: &Table, n: u64) {
    let expected: Vec<u64> = (0..n).collect();
    assert_eq!(
        table.rows.len() as u64,
        n,
        "rows written: {}",
        table.rows.len()
    );
    assert_eq!(table.rows, expected, "every event once, in order");
    // No position was stored twice: each commit moved it forward.
    assert!(
        table.positions.windows(2).all(|w| w[0] < w[1]),
        "positions: {:?}",
        table.positions
    );
    assert_eq!(table.positions.last().copied(), Some(n));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_after_the_sink_commits_neither_lose_nor_duplicate() {
    let n = 3_000;
    let sink = PositionedSink::new(vec![2, 5, 9, 10, 14]);
    let source = MockSource::counting(n);
    let store = MemoryOffsetStore::new();
    let p = run_to_end(
        store.clone(),
        Pipeline::builder("exactly-once")
            .source(source.clone(), MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(fast_settings()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 5);
    assert_exactly_once(&sink.table.lock().unwrap(), n);
    // Each restart read from the sink's position, which the offset store had
    // not reached yet (the crash came before the acknowledgement).
    let reads = source.reads();
    assert_eq!(reads.len(), 6);
    let table = sink.table.lock().unwrap();
    for (read, crash) in reads[1..].iter().zip([2usize, 5, 9, 10, 14]) {
        let at = read.as_ref().map_or(0, MockSource::position);
        assert_eq!(
            at,
            table.positions[crash - 1],
            "restart after commit {crash}"
        );
    }
    assert_eq!(MockSource::position(&store.get("exactly-once").unwrap()), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sinks_position_wins_over_a_lost_offset_store() {
    let n = 1_000;
    let sink = PositionedSink::new(vec![3]);
    let source = MockSource::counting(n);
    // First run: crashes after its third commit and goes on to the end.
    let first = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("eo")
            .source(source.clone(), MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(fast_settings()),
    )
    .await;
    assert_eq!(first.state, PipelineState::Completed, "{first:?}");
    // Second run with an empty offset store: the source starts at the sink's
    // position (the end), so nothing is written again.
    let commits_before = sink.table.lock().unwrap().commits;
    let second = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("eo")
            .source(source.clone(), MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(fast_settings()),
    )
    .await;
    assert_eq!(second.state, PipelineState::Completed, "{second:?}");
    let reads = source.reads();
    assert_eq!(
        reads.last().unwrap().as_ref().map(MockSource::position),
        Some(n)
    );
    let table = sink.table.lock().unwrap();
    assert_eq!(
        table.commits, commits_before,
        "the second run wrote nothing"
    );
    assert_exactly_once(&table, n);
}

/// A sink batch is never split: with a sink batch smaller than the source's,
/// each write still covers whole source batches (so each stored position
/// covers exactly the rows written up to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_batches_are_not_split_for_a_positioned_sink() {
    let n = 1_000;
    let sink = PositionedSink::new(vec![4]);
    let source = MockSource::counting(n);
    let settings = fast_settings().with_sink_batch(rivven_connect::BatchConfig::new(7, 10));
    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("unsplit")
            .source(source.clone(), MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(settings),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let table = sink.table.lock().unwrap();
    assert_exactly_once(&table, n);
    // Source batches are 50 events: every stored position is a multiple of 50
    // (or the end).
    assert!(
        table.positions.iter().all(|p| p % 50 == 0 || *p == n),
        "{:?}",
        table.positions
    );
}
