//! mysql-cdc's snapshot/stream seam under concurrent writes: a writer
//! inserts, updates (bumping `ver`) and deletes rows in transactions
//! before, during and after a chunked snapshot of 20 000 rows. Every change
//! committed after the snapshot's binlog position arrives exactly once as a
//! stream event, nothing committed before it does, the snapshot shows the
//! table as of that position, and replaying all events gives the final table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/my.rs"]
mod my;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use rivven_connect::runtime::MemoryOffsetStore;
use rivven_connect::SourceEvent;
use rivven_connect_testing::MockSink;
use serde_json::Value;

const PRELOADED: i64 = 20_000;

/// A binlog position, ordered as the server writes them.
type Pos = (String, u64);

/// One committed change: `(op, id, ver)` (`d`: the deleted row's last `ver`).
type Change = (&'static str, i64, i64);

/// A committed writer transaction: where it ended in the binlog, its
/// changes, and how many events the sink held when it committed.
struct Txn {
    end: Pos,
    changes: Vec<Change>,
    sink_had: usize,
}

/// A small deterministic pseudo-random sequence (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

async fn master_status(db: &mut mysql_async::Conn) -> Pos {
    let status: mysql_async::Row = db.query_first("SHOW MASTER STATUS").await.unwrap().unwrap();
    (status.get(0).unwrap(), status.get(1).unwrap())
}

/// One transaction: 4 inserts of new rows, 4 updates, 1 delete of rows the
/// writer knows exist (`rows`: id → ver, kept in step with the table).
async fn write_one(
    db: &mut mysql_async::Conn,
    rows: &mut BTreeMap<i64, i64>,
    next_id: &mut i64,
    rng: &mut Lcg,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut tx = db
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .unwrap();
    for _ in 0..4 {
        let id = *next_id;
        *next_id += 1;
        tx.exec_drop("INSERT INTO items VALUES (?, 0, 'live')", (id,))
            .await
            .unwrap();
        rows.insert(id, 0);
        changes.push(("c", id, 0));
    }
    let ids: Vec<i64> = rows.keys().copied().collect();
    let mut touched = BTreeSet::new();
    for _ in 0..4 {
        let id = ids[rng.below(ids.len())];
        if !touched.insert(id) {
            continue;
        }
        tx.exec_drop("UPDATE items SET ver = ver + 1 WHERE id = ?", (id,))
            .await
            .unwrap();
        let ver = rows.get_mut(&id).unwrap();
        *ver += 1;
        changes.push(("u", id, *ver));
    }
    let id = ids[rng.below(ids.len())];
    tx.exec_drop("DELETE FROM items WHERE id = ?", (id,))
        .await
        .unwrap();
    let ver = rows.remove(&id).unwrap();
    changes.push(("d", id, ver));
    tx.commit().await.unwrap();
    changes
}

fn id_ver(e: &SourceEvent) -> (i64, i64) {
    let image = if e.data["after"].is_null() {
        &e.data["before"]
    } else {
        &e.data["after"]
    };
    (
        image["id"].as_i64().expect("an id"),
        image["ver"].as_i64().expect("a ver"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_stream_meet_without_gap_or_duplicate_under_writes() {
    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE items (id bigint PRIMARY KEY, ver int NOT NULL, v text)")
        .await
        .unwrap();
    for from in (1..=PRELOADED).step_by(1000) {
        let values: Vec<String> = (from..from + 1000)
            .map(|i| format!("({i}, 0, 'pre')"))
            .collect();
        db.query_drop(format!("INSERT INTO items VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    let mut rows: BTreeMap<i64, i64> = (1..=PRELOADED).map(|i| (i, 0)).collect();
    let initial = rows.clone();

    let sink = MockSink::new();
    let (tx_start, mut started) = tokio::sync::oneshot::channel::<()>();
    let (stop_tx, mut stop) = tokio::sync::oneshot::channel::<()>();
    let mut writer_db = my::connect(&server, "shop").await;
    let writer_sink = sink.clone();
    let writer = tokio::spawn(async move {
        let (mut next_id, mut rng) = (PRELOADED + 1, Lcg(17));
        let mut log = Vec::new();
        let mut tx_start = Some(tx_start);
        loop {
            let changes = write_one(&mut writer_db, &mut rows, &mut next_id, &mut rng).await;
            let end = master_status(&mut writer_db).await;
            log.push(Txn {
                end,
                changes,
                sink_had: writer_sink.written_count(),
            });
            if log.len() == 20 {
                // Some transactions before the source starts.
                if let Some(t) = tx_start.take() {
                    let _ = t.send(());
                }
            }
            if stop.try_recv().is_ok() {
                return (log, rows);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    (&mut started).await.unwrap();

    let mut config = my::config(&server);
    config.snapshot_chunk_size = 250;
    let store = MemoryOffsetStore::new();
    let runtime = my::run(config, &sink, &store).await;
    // Keep writing through the snapshot and for a while after it.
    let snapshotted = rivven_connect_testing::eventually(
        || {
            sink.written_events()
                .iter()
                .any(|e| e.data["op"] != "r" && !e.data.is_null())
        },
        Duration::from_secs(120),
    )
    .await;
    assert!(snapshotted, "the stream never started after the snapshot");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop_tx.send(()).unwrap();
    let (log, final_rows) = writer.await.unwrap();

    // The table as SELECT reads it now.
    let table: Vec<(i64, i64)> = db
        .query("SELECT id, ver FROM items ORDER BY id")
        .await
        .unwrap();
    let table: BTreeMap<i64, i64> = table.into_iter().collect();
    assert_eq!(table, final_rows, "the writer's mirror matches the table");

    // Where the snapshot read: every `r` event carries the same position.
    let events = sink.written_events();
    let snapshot_rows: Vec<&SourceEvent> = events.iter().filter(|e| e.data["op"] == "r").collect();
    let points: BTreeSet<Pos> = snapshot_rows
        .iter()
        .map(|e| {
            let s = &e.data["source"];
            assert_eq!(s["snapshot"], true);
            (
                s["file"].as_str().unwrap().to_string(),
                s["pos"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(points.len(), 1, "one snapshot position: {points:?}");
    let point = points.into_iter().next().unwrap();
    let (before, after): (Vec<&Txn>, Vec<&Txn>) = log.iter().partition(|t| t.end <= point);
    assert!(
        !before.is_empty() && !after.is_empty(),
        "writes on both sides of the seam ({} before, {} after)",
        before.len(),
        after.len()
    );
    let during = after
        .iter()
        .filter(|t| t.sink_had > 0 && t.sink_had < snapshot_rows.len())
        .count();
    assert!(
        during > 0,
        "some transactions committed while the snapshot was being delivered"
    );

    println!(
        "snapshot {} rows at {point:?}; {} transactions before the seam, {} after ({during} while the snapshot was delivered)",
        snapshot_rows.len(),
        before.len(),
        after.len()
    );
    // Wait until every change after the seam has arrived.
    let expected_stream: usize = after.iter().map(|t| t.changes.len()).sum();
    let total = snapshot_rows.len() + expected_stream;
    let events = my::wait_for(&sink, total).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events_now = sink.written_events();
    assert_eq!(
        events_now.len(),
        events.len(),
        "events beyond the committed changes"
    );
    let events: Vec<&SourceEvent> = events_now.iter().filter(|e| !e.data.is_null()).collect();

    // The snapshot is the table as of its position: the initial rows with
    // every transaction up to it applied.
    let mut at_point = initial;
    for t in &before {
        for &(op, id, ver) in &t.changes {
            match op {
                "d" => {
                    at_point.remove(&id);
                }
                _ => {
                    at_point.insert(id, ver);
                }
            }
        }
    }
    let snap: BTreeMap<i64, i64> = snapshot_rows.iter().map(|e| id_ver(e)).collect();
    assert_eq!(
        snap.len(),
        snapshot_rows.len(),
        "a row read twice by the snapshot"
    );
    assert_eq!(
        snap, at_point,
        "the snapshot is the table at its binlog position"
    );

    // Snapshot first, then the stream: exactly the changes after the seam,
    // in commit order, none before it, none twice.
    let first_stream = events
        .iter()
        .position(|e| e.data["op"] != "r")
        .unwrap_or(events.len());
    assert_eq!(
        first_stream,
        snapshot_rows.len(),
        "snapshot rows come first"
    );
    let got: Vec<(String, i64, i64)> = events[first_stream..]
        .iter()
        .map(|e| {
            let (id, ver) = id_ver(e);
            (e.data["op"].as_str().unwrap().to_string(), id, ver)
        })
        .collect();
    let want: Vec<(String, i64, i64)> = after
        .iter()
        .flat_map(|t| t.changes.iter())
        .map(|&(op, id, ver)| (op.to_string(), id, ver))
        .collect();
    if got != want {
        let missing: Vec<_> = want.iter().filter(|c| !got.contains(c)).take(5).collect();
        let extra: Vec<_> = got.iter().filter(|c| !want.contains(c)).take(5).collect();
        panic!(
            "stream ≠ changes after the seam ({} vs {}): missing {missing:?}, extra {extra:?}",
            got.len(),
            want.len()
        );
    }
    // Each (id, ver) image at most once across snapshot and stream.
    let mut seen = BTreeSet::new();
    for e in &events {
        if e.data["op"] == "d" {
            continue;
        }
        assert!(
            seen.insert(id_ver(e)),
            "(id, ver) {:?} twice (op {})",
            id_ver(e),
            e.data["op"]
        );
    }

    // Replaying every event in order gives the table.
    let mut replay: BTreeMap<i64, Value> = BTreeMap::new();
    for e in &events {
        let (id, _) = id_ver(e);
        match e.data["op"].as_str().unwrap() {
            "d" => {
                assert!(replay.remove(&id).is_some(), "delete of absent row {id}");
            }
            "u" => {
                assert!(
                    replay.insert(id, e.data["after"].clone()).is_some(),
                    "update of absent row {id}"
                );
            }
            _ => {
                assert!(
                    replay.insert(id, e.data["after"].clone()).is_none(),
                    "insert of present row {id}"
                );
            }
        }
    }
    let replayed: BTreeMap<i64, i64> = replay
        .iter()
        .map(|(id, row)| (*id, row["ver"].as_i64().unwrap()))
        .collect();
    assert_eq!(replayed, table, "replayed events = SELECT of the table");
    runtime.shutdown(Duration::from_secs(10)).await;
}
