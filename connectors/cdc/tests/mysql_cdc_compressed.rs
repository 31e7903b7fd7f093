//! mysql-cdc against MariaDB with `log_bin_compress=ON`: the compressed
//! query and rows events are read as the plain ones, so inserts, updates,
//! deletes, DDL and `TRUNCATE` arrive exactly as from a server without
//! compression.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/my.rs"]
mod my;

use std::time::Duration;

use mysql_async::prelude::Queryable;
use rivven_connect::runtime::MemoryOffsetStore;
use rivven_connect_testing::services::MariaDb;
use rivven_connect_testing::MockSink;
use serde_json::{json, Value};

/// The workload: multi-row inserts (long values, so the rows events are
/// large), an update and a delete in one transaction, DDL mid-stream, more
/// rows with the new column, and a `TRUNCATE`.
const STEPS: &[&str] = &[
    "INSERT INTO t SELECT seq, REPEAT(CONCAT('row ', seq, ' '), 40), seq * 1.5 FROM seq_1_to_50",
    "BEGIN; UPDATE t SET note = 'changed', amount = 0.25 WHERE id = 7; DELETE FROM t WHERE id = 8; COMMIT",
    "ALTER TABLE t ADD COLUMN extra varchar(200) DEFAULT 'default value of the new column'",
    "INSERT INTO t VALUES (100, 'after the DDL', 2.5, 'explicit'), (101, 'another', 3.5, DEFAULT)",
    "TRUNCATE TABLE t",
];
/// Changes the workload makes: 50 + 2 + 2 + 1.
const CHANGES: usize = 55;

/// The workload's changes from a fresh server started with `options`,
/// without what depends on the binlog's layout (file, offsets, server,
/// GTID, time); and the server's binlog event types.
async fn capture(options: &[(&str, &str)]) -> (Vec<Value>, Vec<String>) {
    let mut builder = MariaDb::builder();
    for (k, v) in options {
        builder = builder.option(*k, *v);
    }
    let server = builder
        .start()
        .await
        .expect("start a private MariaDB (Debian package `mariadb-server`)");
    let mut db = my::connect(&server, "").await;
    db.query_drop(
        "CREATE DATABASE shop; USE shop;
         CREATE TABLE t (id int PRIMARY KEY, note text, amount decimal(10,2));
         CREATE TABLE marker (id int PRIMARY KEY); INSERT INTO marker VALUES (1);",
    )
    .await
    .unwrap();
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(my::config(&server), &sink, &store).await;
    // The snapshot's marker row: streaming has begun.
    my::wait_for(&sink, 1).await;
    for step in STEPS {
        db.query_drop(*step).await.unwrap();
    }
    let events = my::wait_for(&sink, 1 + CHANGES).await;
    // Nothing more arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.written_count(), 1 + CHANGES);
    runtime.shutdown(Duration::from_secs(10)).await;

    let types: Vec<String> = db
        .query::<mysql_async::Row, _>("SHOW BINLOG EVENTS")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.get::<String, _>("Event_type"))
        .collect();
    let changes = events[1..]
        .iter()
        .map(|e| {
            let mut data = e.data.clone();
            data.as_object_mut().unwrap().remove("ts_ms");
            let source = data["source"].as_object_mut().unwrap();
            for k in ["file", "pos", "row", "gtid", "server_id", "ts_ms"] {
                source.remove(k);
            }
            json!({"key": e.key, "stream": e.stream, "data": data})
        })
        .collect();
    (changes, types)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_binlog_events_arrive_as_without_compression() {
    let (compressed, types) = capture(&[
        ("log-bin-compress", "ON"),
        ("log-bin-compress-min-len", "10"),
    ])
    .await;
    // The server really wrote compressed query and rows events.
    for kind in [
        "Query_compressed",
        "Write_rows_compressed_v1",
        "Update_rows_compressed_v1",
        "Delete_rows_compressed_v1",
    ] {
        assert!(
            types.iter().any(|t| t == kind),
            "no {kind} event in the binlog: {types:?}"
        );
    }
    let (plain, plain_types) = capture(&[]).await;
    assert!(!plain_types.iter().any(|t| t.contains("compressed")));
    assert_eq!(compressed.len(), CHANGES);
    assert_eq!(compressed, plain);

    // And they are the workload's changes.
    let ops: Vec<(&str, Value)> = compressed
        .iter()
        .map(|e| {
            let d = &e["data"];
            let id = if d["after"]["id"].is_null() {
                d["before"]["id"].clone()
            } else {
                d["after"]["id"].clone()
            };
            (d["op"].as_str().unwrap(), id)
        })
        .collect();
    assert!(ops[..50]
        .iter()
        .enumerate()
        .all(|(i, (op, id))| *op == "c" && *id == json!(i + 1)));
    assert_eq!(ops[50], ("u", json!(7)));
    assert_eq!(ops[51], ("d", json!(8)));
    assert_eq!(ops[54], ("t", Value::Null));
    let row1 = &compressed[0]["data"]["after"];
    assert_eq!(row1["note"], json!("row 1 ".repeat(40)));
    assert_eq!(row1["amount"], json!("1.50"));
    assert_eq!(
        compressed[50]["data"]["before"]["note"],
        json!("row 7 ".repeat(40))
    );
    assert_eq!(
        compressed[50]["data"]["after"],
        json!({"id": 7, "note": "changed", "amount": "0.25"})
    );
    assert_eq!(
        compressed[53]["data"]["after"],
        json!({"id": 101, "note": "another", "amount": "3.50", "extra": "default value of the new column"})
    );
}
