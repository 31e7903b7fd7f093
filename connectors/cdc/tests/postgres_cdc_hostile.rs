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

/// Every value PostgreSQL stores becomes an event: with `on_error: skip`, a
/// jsonb number beyond `f64`, a jsonb document deeper than serde_json's
/// recursion limit (1 000 and 10 000 levels) and a `json` integer beyond
/// `u64` arrive — as their exact text — from the snapshot and from the
/// stream, and so do the rows after them; nothing is counted as failed.
///
/// Fails before the fix: these rows were record errors, skipped by
/// `on_error: skip` (and the slot confirmed past them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_beyond_serde_json_arrives_as_exact_text_not_skipped() {
    let (server, db) = pg::server().await;
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let docs = [
        r#"{"a": 1e400}"#.to_string(),
        deep(1_000),
        deep(10_000),
        r#"{"n": 12345678901234567890123}"#.to_string(),
    ];
    db.batch_execute("CREATE TABLE j (id int PRIMARY KEY, b jsonb, t json)")
        .await
        .unwrap();
    let insert = |base: i32| {
        let mut sql = String::new();
        for (i, doc) in docs.iter().enumerate() {
            let id = base + i32::try_from(i).unwrap();
            sql.push_str(&format!("INSERT INTO j VALUES ({id}, '{doc}', '{doc}');"));
        }
        sql.push_str(&format!(
            "INSERT INTO j VALUES ({}, '{{\"ok\": 1}}', '[2]');",
            base + 10
        ));
        sql
    };
    db.batch_execute(&insert(0)).await.unwrap();
    let config = pg::config(&server, "json_slot");
    let sink = MockSink::new();
    let settings = pg::settings().with_on_error(rivven_connect::runtime::OnError::Skip);
    let runtime = pg::run_with(config, &sink, &MemoryOffsetStore::new(), settings).await;
    pg::wait_for_event(&sink, |e| e.data["after"]["id"] == 10).await;
    db.batch_execute(&insert(100)).await.unwrap();
    let events = pg::wait_for_event(&sink, |e| e.data["after"]["id"] == 110).await;
    for (base, op) in [(0, "r"), (100, "c")] {
        for (i, doc) in docs.iter().enumerate() {
            let id = base + i64::try_from(i).unwrap();
            let after = &pg::find(&events, op, id).data["after"];
            // jsonb: exactly the text PostgreSQL prints; json keeps the input.
            let printed: String = db
                .query_one(
                    "SELECT b::text FROM j WHERE id = $1",
                    &[&i32::try_from(id).unwrap()],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(after["b"], serde_json::json!(printed), "{op} {id} jsonb");
            assert_eq!(after["t"], serde_json::json!(doc), "{op} {id} json");
        }
        let last = &pg::find(&events, op, base + 10).data["after"];
        assert_eq!(last["b"], serde_json::json!({"ok": 1}));
        assert_eq!(last["t"], serde_json::json!([2]));
    }
    let status = runtime.status().await;
    assert_eq!(status.pipeline("pg").unwrap().events_failed, 0);
    runtime.shutdown(Duration::from_secs(10)).await;
}
