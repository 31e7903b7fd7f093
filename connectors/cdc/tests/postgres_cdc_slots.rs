//! postgres-cdc and its replication slot at run time: a slot another reader
//! holds, and a slot that disappeared under a committed position.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/pg.rs"]
mod pg;

use std::time::Duration;

use rivven_connect::runtime::{MemoryOffsetStore, PipelineState};
use rivven_connect::{ConfiguredCatalog, Source};
use rivven_connect_cdc::postgres::PostgresCdcSource;
use rivven_connect_testing::MockSink;

/// The backend pid streaming from `slot`, if it is active.
async fn active_pid(db: &tokio_postgres::Client, slot: &str) -> Option<i32> {
    db.query_opt(
        "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1",
        &[&slot],
    )
    .await
    .unwrap()
    .and_then(|row| row.get(0))
}

/// A second reader (its own runtime) on a slot that a running pipeline
/// streams from is refused with an error that names the slot and the
/// holder's pid, is not retryable, and ends its pipeline `Failed`; the first
/// reader keeps streaming.
///
/// Fails before the fix: the error was `Connection` and retryable, so a
/// second reader retried for ever (bounded only by the restart policy)
/// instead of being reported as a configuration mistake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_reader_of_an_active_slot_is_refused_naming_slot_and_holder() {
    let (server, db) = pg::server().await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let config = pg::config(&server, "shared_slot");
    let first_sink = MockSink::new();
    let first = pg::run(config.clone(), &first_sink, &MemoryOffsetStore::new()).await;
    db.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
    pg::wait_for(&first_sink, 1).await;
    let holder = active_pid(&db, "shared_slot")
        .await
        .expect("the first reader streams from the slot");

    // The source itself: a clear, non-retryable error.
    let err = match PostgresCdcSource::default()
        .read(&config, &ConfiguredCatalog::default(), None)
        .await
    {
        Ok(_) => panic!("a second reader of an active slot must be refused"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(text.contains("`shared_slot`"), "{text}");
    assert!(text.contains(&format!("pid {holder}")), "{text}");
    assert!(!err.is_retryable(), "retried for ever: {err:?}");

    // A second pipeline (its own runtime) ends Failed with that message.
    let second_sink = MockSink::new();
    let second = pg::run_with(
        config,
        &second_sink,
        &MemoryOffsetStore::new(),
        pg::settings_failing_fast(),
    )
    .await;
    let status = pg::wait_for_state(&second, PipelineState::Failed).await;
    let error = status.last_error.unwrap_or_default();
    assert!(error.contains("shared_slot"), "{error}");
    assert!(error.contains(&format!("pid {holder}")), "{error}");
    assert_eq!(second_sink.written_count(), 0);

    // The first reader was not disturbed.
    db.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();
    let events = pg::wait_for(&first_sink, 2).await;
    pg::find(&events, "c", 2);
    assert_eq!(active_pid(&db, "shared_slot").await, Some(holder));
    second.shutdown(Duration::from_secs(10)).await;
    first.shutdown(Duration::from_secs(10)).await;
}

/// With `snapshot_mode: initial` and a committed position, a dropped slot
/// fails the pipeline with a one-line explanation; no new slot is made and
/// nothing is emitted (the change made while the slot was gone would
/// otherwise be skipped silently).
///
/// Fails before the fix: the slot was re-created at the current WAL position
/// with only a warning, the pipeline kept running, and the change made while
/// the slot was gone was never delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_slot_under_a_committed_position_fails_the_pipeline() {
    let (server, db) = pg::server().await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let config = pg::config(&server, "lost_slot");
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = pg::run(config.clone(), &sink, &store).await;
    db.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
    pg::wait_for(&sink, 1).await;
    runtime.shutdown(Duration::from_secs(10)).await;
    let committed = store.get("pg").expect("a committed position");
    let committed_lsn = committed.global["lsn"].as_str().unwrap().to_string();

    pg::drop_slot(&db, "lost_slot").await;
    db.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();

    let runtime = pg::run_with(config, &sink, &store, pg::settings_failing_fast()).await;
    let status = pg::wait_for_state(&runtime, PipelineState::Failed).await;
    let error = status.last_error.unwrap_or_default();
    assert!(error.contains("`lost_slot` is gone"), "{error}");
    assert!(error.contains(&committed_lsn), "{error}");
    assert!(error.contains("snapshot_mode: when_needed"), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");
    assert_eq!(sink.written_count(), 1, "nothing emitted from a new slot");
    assert_eq!(
        pg::confirmed_flush(&db, "lost_slot").await,
        None,
        "no slot was re-created at the current WAL position"
    );
    assert_eq!(
        store.get("pg").unwrap().global["lsn"],
        committed.global["lsn"]
    );
    runtime.shutdown(Duration::from_secs(10)).await;
}
