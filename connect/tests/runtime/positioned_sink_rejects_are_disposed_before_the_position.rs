//! A sink that stores the pipeline's position with its data rejects some
//! records: the positioned write is all-or-nothing, so the runtime disposes
//! of the rejected records by `on_error` first (dead letters written before
//! the position that covers them is stored) and then writes the rest of the
//! chunk with the same position. No rejected record is lost, even across a
//! crash between the dead-letter write and the sink's commit.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::runtime::{
    MemoryOffsetStore, OnError, Pipeline, PipelineBuilder, PipelineState,
};
use rivven_connect::{ConnectorError, Result, Sink, SourceEvent, State, WriteResult};
use rivven_connect_testing::prelude::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::common::{fast_settings, ids, run_to_end};

/// What happened, in order, across the sink and the dead-letter sink.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    /// The dead-letter sink stored the letter of this id.
    DeadLetter(u64),
    /// The sink committed rows with a position (the index of the next event).
    Commit { rows: Vec<u64>, position: u64 },
    /// The sink rejected these ids and stored nothing.
    Rejected(Vec<u64>),
}

#[derive(Default)]
struct Db {
    journal: Vec<Entry>,
    rows: Vec<u64>,
    position: Option<State>,
    /// Dead letters as the dead-letter sink received them.
    letters: Vec<SourceEvent>,
}

type Shared = Arc<Mutex<Db>>;

/// Stores rows and the position together, all or nothing: a write with a
/// rejected id stores nothing and reports it (only the first with
/// `one_failure_per_write`, so the runtime needs several rounds).
#[derive(Clone)]
struct AtomicSink {
    db: Shared,
    bad: Arc<BTreeSet<u64>>,
    one_failure_per_write: bool,
    /// "Crash" (a fatal error: the pipeline restarts from the sink's
    /// position) on the first write after this many rejections.
    crash_after_rejections: Option<usize>,
    rejections: Arc<Mutex<usize>>,
}

impl AtomicSink {
    fn new(db: &Shared, bad: impl IntoIterator<Item = u64>) -> Self {
        Self {
            db: db.clone(),
            bad: Arc::new(bad.into_iter().collect()),
            one_failure_per_write: false,
            crash_after_rejections: None,
            rejections: Arc::default(),
        }
    }
}

#[async_trait]
impl Sink for AtomicSink {
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
        Ok(self.db.lock().unwrap().position.clone())
    }

    async fn write_with_position(
        &self,
        _config: &MockConfig,
        events: &[SourceEvent],
        position: &State,
    ) -> Result<WriteResult> {
        {
            let mut rejections = self.rejections.lock().unwrap();
            if self.crash_after_rejections == Some(*rejections) {
                *rejections += 1;
                return Err(ConnectorError::fatal("crash before the commit"));
            }
        }
        let ids = ids(events);
        let mut result = WriteResult::new();
        let mut rejected = Vec::new();
        for (index, id) in ids.iter().enumerate() {
            if self.bad.contains(id) {
                result.add_record_failure(index, &ConnectorError::schema(format!("bad id {id}")));
                rejected.push(*id);
                if self.one_failure_per_write {
                    break;
                }
            }
        }
        let mut db = self.db.lock().unwrap();
        if !rejected.is_empty() {
            *self.rejections.lock().unwrap() += 1;
            db.journal.push(Entry::Rejected(rejected));
            return Ok(result);
        }
        db.rows.extend(&ids);
        db.position = Some(position.clone());
        db.journal.push(Entry::Commit {
            rows: ids,
            position: MockSource::position(position),
        });
        result.add_success(events.len() as u64, 0);
        Ok(result)
    }
}

/// Records each dead letter into the shared journal.
#[derive(Clone)]
struct JournalDlq(Shared);

#[async_trait]
impl Sink for JournalDlq {
    type Config = MockConfig;

    async fn write(
        &self,
        _config: &MockConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        let mut db = self.0.lock().unwrap();
        for e in &events {
            let id = e.data["event"]["data"]["id"].as_u64().unwrap_or(u64::MAX);
            db.journal.push(Entry::DeadLetter(id));
            db.letters.push(e.clone());
        }
        let mut result = WriteResult::new();
        result.add_success(events.len() as u64, 0);
        Ok(result)
    }
}

/// `n` records with an id and a payload (to check the dead letter is whole).
fn source(n: u64) -> MockSource {
    MockSource::new().with_generator(n, |i| {
        SourceEvent::record("orders", json!({"id": i, "note": format!("order {i}")}))
    })
}

fn pipeline(sink: AtomicSink, db: &Shared, n: u64, on_error: OnError) -> PipelineBuilder {
    Pipeline::builder("eo-reject")
        .source(source(n), MockConfig::default())
        .sink(sink, MockConfig::default())
        .dead_letter(JournalDlq(db.clone()), MockConfig::default())
        .settings(fast_settings().with_on_error(on_error))
}

/// Every id but the bad ones, once each, in order; the last position is `n`.
fn assert_rest_stored_once(db: &Db, n: u64, bad: &BTreeSet<u64>) {
    let expected: Vec<u64> = (0..n).filter(|i| !bad.contains(i)).collect();
    assert_eq!(db.rows, expected, "every good row once, in order");
    let positions: Vec<u64> = commits(db).map(|(_, p)| p).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "positions move forward: {positions:?}"
    );
    assert_eq!(db.position.as_ref().map(MockSource::position), Some(n));
}

fn commits(db: &Db) -> impl Iterator<Item = (&Vec<u64>, u64)> {
    db.journal.iter().filter_map(|e| match e {
        Entry::Commit { rows, position } => Some((rows, *position)),
        _ => None,
    })
}

/// The journal index of the first commit whose position passes `id`.
fn commit_covering(db: &Db, id: u64) -> Option<usize> {
    db.journal
        .iter()
        .position(|e| matches!(e, Entry::Commit { position, .. } if *position > id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_stored_before_the_position_that_covers_them() {
    let n = 600;
    // Two bad records in one source batch, one alone, one at a batch's end.
    let bad: BTreeSet<u64> = [123, 124, 250, 449].into();
    let db = Shared::default();
    let sink = AtomicSink::new(&db, bad.clone());
    let p = run_to_end(
        MemoryOffsetStore::new(),
        pipeline(sink, &db, n, OnError::DeadLetter),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let db = db.lock().unwrap();
    assert_rest_stored_once(&db, n, &bad);
    for &id in &bad {
        let letter = db
            .journal
            .iter()
            .position(|e| *e == Entry::DeadLetter(id))
            .unwrap_or_else(|| panic!("no dead letter for {id}: {:?}", db.journal));
        let commit = commit_covering(&db, id).unwrap();
        assert!(
            letter < commit,
            "the dead letter of {id} (entry {letter}) comes before the commit covering it (entry {commit})"
        );
    }
    // Each exactly once (no crash), with the whole original record.
    let letters: Vec<u64> = db
        .letters
        .iter()
        .map(|l| l.data["event"]["data"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(letters, bad.iter().copied().collect::<Vec<_>>());
    for l in &db.letters {
        let id = l.data["event"]["data"]["id"].as_u64().unwrap();
        assert_eq!(l.data["event"]["data"]["note"], format!("order {id}"));
        assert_eq!(l.data["event"]["stream"], "orders");
        assert_eq!(l.data["stage"], "sink");
        assert!(l.data["error"]
            .as_str()
            .unwrap()
            .contains(&format!("bad id {id}")));
        assert_eq!(l.data["error_kind"], "schema");
    }
    assert_eq!(p.events_dead_lettered, bad.len() as u64);
    assert_eq!(p.events_written, n - bad.len() as u64);
    assert_eq!(p.events_failed, 0);
}

/// A sink that names one failure per write: the runtime goes round until the
/// rest is stored, and each dead letter names the right original event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_found_one_per_write_map_to_the_right_events() {
    let n = 400;
    let bad: BTreeSet<u64> = [10, 11, 12, 40, 199, 200, 201].into();
    let db = Shared::default();
    let mut sink = AtomicSink::new(&db, bad.clone());
    sink.one_failure_per_write = true;
    let p = run_to_end(
        MemoryOffsetStore::new(),
        pipeline(sink, &db, n, OnError::DeadLetter),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let db = db.lock().unwrap();
    assert_rest_stored_once(&db, n, &bad);
    let letters: Vec<u64> = db
        .letters
        .iter()
        .map(|l| l.data["event"]["data"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(letters, bad.iter().copied().collect::<Vec<_>>());
    let rounds = db
        .journal
        .iter()
        .filter(|e| matches!(e, Entry::Rejected(_)))
        .count();
    assert_eq!(rounds, bad.len(), "one rejecting round per bad record");
    assert_eq!(p.events_dead_lettered, bad.len() as u64);
    assert_eq!(p.events_written, n - bad.len() as u64);
}

/// `on_error: stop`: the pipeline fails with nothing of the rejected
/// record's chunk stored; the sink's position does not pass the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_stores_nothing_of_the_rejected_chunk() {
    let n = 600;
    let db = Shared::default();
    let sink = AtomicSink::new(&db, [321]);
    let store = MemoryOffsetStore::new();
    let p = run_to_end(store.clone(), pipeline(sink, &db, n, OnError::Stop)).await;
    assert_eq!(p.state, PipelineState::Failed, "{p:?}");
    assert_eq!(p.restarts, 0);
    let err = p.last_error.clone().unwrap_or_default();
    assert!(
        err.contains("bad id 321") && err.contains("on_error: stop"),
        "{err}"
    );
    let db = db.lock().unwrap();
    let position = db.position.as_ref().map_or(0, MockSource::position);
    assert!(
        position <= 321,
        "the sink's position {position} passes the rejected record"
    );
    assert!(!db.rows.contains(&321));
    assert_eq!(
        db.rows,
        (0..position).collect::<Vec<_>>(),
        "rows up to the position, no more"
    );
    assert!(db.letters.is_empty());
    assert_eq!(
        db.journal.last(),
        Some(&Entry::Rejected(vec![321])),
        "nothing stored after the rejection"
    );
    let committed = store
        .get("eo-reject")
        .map_or(0, |s| MockSource::position(&s));
    assert!(committed <= 321, "offset store {committed}");
}

/// `on_error: skip`: the rejected records are dropped (counted), the rest is
/// stored with the position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_stores_the_rest_with_the_position() {
    let n = 500;
    let bad: BTreeSet<u64> = [0, 77, 78, 499].into();
    let db = Shared::default();
    let sink = AtomicSink::new(&db, bad.clone());
    let p = run_to_end(
        MemoryOffsetStore::new(),
        pipeline(sink, &db, n, OnError::Skip),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let db = db.lock().unwrap();
    assert_rest_stored_once(&db, n, &bad);
    assert!(db.letters.is_empty());
    assert_eq!(p.events_failed, bad.len() as u64);
    assert_eq!(p.events_written, n - bad.len() as u64);
    assert_eq!(p.events_dead_lettered, 0);
}

/// A crash after the dead-letter write and before the sink's commit: the
/// replay rejects the record again, so its dead letter is there twice —
/// never zero times — and every good row is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_dead_letter_and_commit_dead_letters_again() {
    let n = 300;
    let bad: BTreeSet<u64> = [150].into();
    let db = Shared::default();
    let mut sink = AtomicSink::new(&db, bad.clone());
    sink.crash_after_rejections = Some(1);
    let p = run_to_end(
        MemoryOffsetStore::new(),
        pipeline(sink, &db, n, OnError::DeadLetter),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 1, "{p:?}");
    let db = db.lock().unwrap();
    assert_rest_stored_once(&db, n, &bad);
    let letters: Vec<u64> = db
        .letters
        .iter()
        .map(|l| l.data["event"]["data"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(letters, [150, 150], "{:?}", db.journal);
}

/// Records a transform rejects reach the dead-letter sink before the sink
/// stores a position past them, too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transform_dead_letters_precede_the_position_too() {
    let n = 300;
    let db = Shared::default();
    let sink = AtomicSink::new(&db, []);
    let transform = MockTransform::new(|e| {
        if e.data["id"] == 42 || e.data["id"] == 260 {
            Err(ConnectorError::data("poison"))
        } else {
            Ok(rivven_connect::TransformOutput::Emit(e))
        }
    });
    let p = run_to_end(
        MemoryOffsetStore::new(),
        pipeline(sink, &db, n, OnError::DeadLetter).transform(transform, MockConfig::default()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let db = db.lock().unwrap();
    assert_rest_stored_once(&db, n, &[42, 260].into());
    for id in [42, 260] {
        let letter = db.journal.iter().position(|e| *e == Entry::DeadLetter(id));
        let commit = commit_covering(&db, id);
        assert!(
            matches!((letter, commit), (Some(l), Some(c)) if l < c),
            "dead letter of {id} at {letter:?}, commit covering it at {commit:?}"
        );
    }
    assert_eq!(p.events_dead_lettered, 2);
}
