//! postgres-cdc with input that looks alike or is hard to represent: rows of
//! one `COPY` (one WAL record), keyless tables, JSON beyond `f64` and deeper
//! than serde_json's recursion limit, and what error messages may quote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/pg.rs"]
mod pg;

use std::time::Duration;

use futures::SinkExt;
use rivven_connect::runtime::MemoryOffsetStore;
use rivven_connect_testing::MockSink;

/// With deduplication on, every row of a `COPY` (whose rows share one
/// WAL record's LSN) and of a multi-row `INSERT … SELECT` into a keyless
/// table (null key, identical values) arrives — as many events as with it off.
///
/// Fails before the fix: the fingerprint was (stream, key, commit LSN,
/// change LSN, op), so the 100 `COPY` rows collapsed into one event (2 events
/// instead of 101 for the `COPY` plus one insert).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deduplication_keeps_every_row_of_a_copy_and_of_keyless_tables() {
    let (server, db) = pg::server().await;
    db.batch_execute("CREATE TABLE k (v int); CREATE TABLE marker (id int PRIMARY KEY)")
        .await
        .unwrap();
    let mut config = pg::config(&server, "copy_slot");
    config.cdc_features.deduplication.enabled = true;
    let sink = MockSink::new();
    let runtime = pg::run(config, &sink, &MemoryOffsetStore::new()).await;
    db.execute("INSERT INTO marker VALUES (0)", &[])
        .await
        .unwrap();
    pg::wait_for(&sink, 1).await;

    // A real COPY: one multi-insert WAL record for all 100 rows.
    let copy = db.copy_in("COPY k (v) FROM STDIN").await.unwrap();
    futures::pin_mut!(copy);
    let rows: String = (0..100).map(|_| "7\n").collect();
    copy.send(std::io::Cursor::new(rows.into_bytes()))
        .await
        .unwrap();
    assert_eq!(copy.finish().await.unwrap(), 100);
    db.batch_execute(
        "INSERT INTO k VALUES (7);
         INSERT INTO k SELECT 7 FROM generate_series(1, 50);
         INSERT INTO marker VALUES (1);",
    )
    .await
    .unwrap();
    let events = pg::wait_for_event(&sink, |e| e.data["after"]["id"] == 1).await;
    let keyless = events
        .iter()
        .filter(|e| e.data["source"]["table"] == "k")
        .count();
    assert_eq!(keyless, 151, "every copied and inserted row is one event");
    runtime.shutdown(Duration::from_secs(10)).await;
}
