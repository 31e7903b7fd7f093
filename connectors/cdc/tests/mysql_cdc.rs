//! mysql-cdc against a private MariaDB: changes in commit order with
//! before/after images, transactions whole, DDL mid-stream, resume from the
//! committed position, filters, and failed checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/my.rs"]
mod my;

use std::time::Duration;

use mysql_async::prelude::Queryable;
use rivven_connect::runtime::MemoryOffsetStore;
use rivven_connect::Source;
use rivven_connect_cdc::mysql::MySqlCdcSource;
use rivven_connect_testing::MockSink;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_arrive_in_commit_order_with_before_and_after() {
    let (server, mut db) = my::server().await;
    db.query_drop(
        "CREATE TABLE customers (id int PRIMARY KEY, name text);
         CREATE TABLE orders (id int PRIMARY KEY, customer int, total decimal(10,2));
         INSERT INTO customers VALUES (1, 'snap');",
    )
    .await
    .unwrap();
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = my::run(my::config(&server), &sink, &store).await;
    let events = my::wait_for(&sink, 1).await;
    assert_eq!(events[0].data["op"], "r");
    assert_eq!(events[0].data["after"], json!({"id": 1, "name": "snap"}));
    assert_eq!(events[0].data["source"]["snapshot"], true);

    db.query_drop(
        "BEGIN;
           INSERT INTO customers VALUES (2, 'ann');
           INSERT INTO orders VALUES (10, 2, 12.50);
         COMMIT;
         BEGIN;
           UPDATE customers SET name = 'anne' WHERE id = 2;
           UPDATE orders SET total = 13.00 WHERE id = 10;
         COMMIT;
         DELETE FROM orders WHERE id = 10;
         DELETE FROM customers WHERE id = 2;
         TRUNCATE TABLE orders;",
    )
    .await
    .unwrap();
    let events = my::wait_for(&sink, 8).await;
    let got = my::summary(&events[1..]);
    let want: Vec<_> = [
        ("c", "customers", json!(2)),
        ("c", "orders", json!(10)),
        ("u", "customers", json!(2)),
        ("u", "orders", json!(10)),
        ("d", "orders", json!(10)),
        ("d", "customers", json!(2)),
        ("t", "orders", json!(null)),
    ]
    .into_iter()
    .map(|(o, t, i)| (o.to_string(), t.to_string(), i))
    .collect();
    assert_eq!(got, want);
    // Row image FULL: whole before images.
    assert_eq!(events[3].data["before"], json!({"id": 2, "name": "ann"}));
    assert_eq!(
        events[4].data["before"],
        json!({"id": 10, "customer": 2, "total": "12.50"})
    );
    assert_eq!(events[4].data["after"]["total"], "13.00");
    assert_eq!(events[1].key, Some(json!({"id": 2})));
    assert_eq!(events[1].stream, "shop.customers");
    // One transaction: one id, one GTID; the next has another.
    let tx = |i: usize| events[i].metadata.transaction_id.clone().unwrap();
    assert_eq!(tx(1), tx(2));
    assert_ne!(tx(2), tx(3));
    assert!(
        events[1].data["source"]["gtid"].is_string(),
        "{}",
        events[1].data["source"]
    );
    assert_eq!(events[1].data["source"]["connector"], "mysql-cdc");
    runtime.shutdown(Duration::from_secs(10)).await;
    let committed = store.get("my").expect("a committed position");
    let pos = &committed.global["binlog"];
    assert!(
        pos["file"].is_string() && pos["pos"].as_u64().unwrap() > 4,
        "{committed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_from_the_committed_position_with_whole_transactions() {
    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE t (id int PRIMARY KEY, v int)")
        .await
        .unwrap();
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(my::config(&server), &sink, &store).await;
    db.query_drop("BEGIN; INSERT INTO t VALUES (1, 1); INSERT INTO t VALUES (2, 1); COMMIT;")
        .await
        .unwrap();
    my::wait_for(&sink, 2).await;
    runtime.shutdown(Duration::from_secs(10)).await;
    // Written while the source is down.
    db.query_drop("BEGIN; UPDATE t SET v = 2 WHERE id = 1; INSERT INTO t VALUES (3, 1); COMMIT;")
        .await
        .unwrap();
    let runtime = my::run(my::config(&server), &sink, &store).await;
    let events = my::wait_for(&sink, 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events2 = sink.written_events();
    assert_eq!(
        events2.len(),
        events.len(),
        "no snapshot again and no duplicate"
    );
    let got = my::summary(&events);
    assert_eq!(got[2], ("u".to_string(), "t".to_string(), json!(1)));
    assert_eq!(got[3], ("c".to_string(), "t".to_string(), json!(3)));
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_mid_stream_is_followed() {
    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE t (id int PRIMARY KEY, a text); CREATE TABLE marker (id int PRIMARY KEY); INSERT INTO marker VALUES (1)").await.unwrap();
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(my::config(&server), &sink, &store).await;
    my::wait_for(&sink, 1).await;
    // Each change is read before the next DDL: the source follows the
    // table as it is now (a backlog spanning DDL is read with the columns
    // `information_schema` has when the source gets there).
    let steps = [
        "INSERT INTO t VALUES (1, 'x')",
        "ALTER TABLE t ADD COLUMN b int; INSERT INTO t VALUES (2, 'y', 7)",
        "ALTER TABLE t DROP COLUMN a; INSERT INTO t VALUES (3, 8)",
        "ALTER TABLE t RENAME COLUMN b TO c; INSERT INTO t VALUES (4, 9)",
    ];
    for (i, step) in steps.iter().enumerate() {
        db.query_drop(*step).await.unwrap();
        my::wait_for(&sink, i + 2).await;
    }
    let events = my::wait_for(&sink, 5).await;
    let after: Vec<_> = events[1..]
        .iter()
        .map(|e| e.data["after"].clone())
        .collect();
    assert_eq!(
        after,
        vec![
            json!({"id": 1, "a": "x"}),
            json!({"id": 2, "a": "y", "b": 7}),
            json!({"id": 3, "b": 8}),
            json!({"id": 4, "c": 9}),
        ]
    );
    runtime.shutdown(Duration::from_secs(10)).await;
}

/// `table_regex` (mysql-only: `postgres-cdc` selects tables by its
/// publication); column filters, tombstones and topic routing are in the
/// shared tests (`cdc_shared.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_regex_selects_tables() {
    let (server, mut db) = my::server().await;
    db.query_drop(
        "CREATE TABLE users (id int PRIMARY KEY, name text);
         CREATE TABLE user_roles (id int PRIMARY KEY);
         CREATE TABLE logs (id int PRIMARY KEY);
         INSERT INTO users VALUES (0, 'snap');
         INSERT INTO logs VALUES (0);",
    )
    .await
    .unwrap();
    let mut config = my::config(&server);
    config.table_regex = Some("user.*".into());
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(config, &sink, &store).await;
    let snapshot = my::wait_for(&sink, 1).await;
    assert_eq!(snapshot[0].data["after"], json!({"id": 0, "name": "snap"}));
    db.query_drop(
        "INSERT INTO logs VALUES (1);
         INSERT INTO users VALUES (1, 'ann');
         INSERT INTO user_roles VALUES (1);
         INSERT INTO logs VALUES (2);",
    )
    .await
    .unwrap();
    my::wait_for(&sink, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = my::summary(&sink.written_events());
    let want: Vec<_> = [
        ("r", "users", json!(0)),
        ("c", "users", json!(1)),
        ("c", "user_roles", json!(1)),
    ]
    .into_iter()
    .map(|(o, t, i)| (o.to_string(), t.to_string(), i))
    .collect();
    assert_eq!(got, want, "logs does not match the (anchored) regex");
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lists_tables_columns_and_keys() {
    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE o (b int, a varchar(10) NOT NULL, j json, PRIMARY KEY (a, b))")
        .await
        .unwrap();
    let catalog = MySqlCdcSource::default()
        .discover(&my::config(&server))
        .await
        .unwrap();
    let s = catalog.stream("shop.o").expect("stream shop.o");
    let v = serde_json::to_value(s).unwrap();
    assert_eq!(
        v["source_defined_primary_key"],
        json!([["a"], ["b"]]),
        "{v}"
    );
    assert_eq!(
        v["json_schema"]["properties"]["a"],
        json!({"type": "string"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_compliance() {
    use rivven_connect_testing::compliance::{assert_source_compliance, Resume, SourceCompliance};
    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE c (id int PRIMARY KEY, v text)")
        .await
        .unwrap();
    for i in 1..=40 {
        db.exec_drop("INSERT INTO c VALUES (?, ?)", (i, format!("v{i}")))
            .await
            .unwrap();
    }
    db.query_drop("CREATE USER 'cu'@'%' IDENTIFIED BY 's3cret-pw'; GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'cu'@'%'")
        .await
        .unwrap();
    let config = json!({
        "host": server.host(), "port": server.port(), "database": "shop",
        "user": "cu", "password": "s3cret-pw", "server_id": 777, "tls": {"mode": "disable"},
    });
    let mut unreachable = config.clone();
    unreachable["port"] = json!(1);
    unreachable["connect_timeout_secs"] = json!(2);
    assert_source_compliance(
        SourceCompliance::new(MySqlCdcSource::default(), config)
            .unreachable(unreachable)
            .secret("s3cret-pw")
            .resume(Resume::Skip),
    )
    .await;
}
