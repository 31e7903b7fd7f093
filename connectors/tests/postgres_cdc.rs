//! postgres-cdc against a private PostgreSQL: changes in commit order with
//! their before/after images, every listed type, DDL mid-stream, the
//! snapshot/stream seam, server restarts, and failed checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/pg.rs"]
mod pg;

use std::time::Duration;

use rivven_connect::runtime::MemoryOffsetStore;
use rivven_connect_testing::MockSink;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_arrive_in_commit_order_with_before_and_after() {
    let (server, db) = pg::server().await;
    db.batch_execute(
        "CREATE TABLE customers (id int PRIMARY KEY, name text);
         CREATE TABLE orders (id int PRIMARY KEY, customer int, total numeric(10,2));
         ALTER TABLE orders REPLICA IDENTITY FULL;
         INSERT INTO customers VALUES (1, 'snap');",
    )
    .await
    .unwrap();
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = pg::run(pg::config(&server, "order_slot"), &sink, &store).await;
    // The snapshot row first.
    let events = pg::wait_for(&sink, 1).await;
    assert_eq!(events[0].data["op"], "r");
    assert_eq!(events[0].data["after"], json!({"id": 1, "name": "snap"}));

    db.batch_execute(
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
         TRUNCATE orders;",
    )
    .await
    .unwrap();
    let events = pg::wait_for(&sink, 8).await;
    let got = pg::summary(&events[1..]);
    let want = vec![
        ("c", "customers", json!(2)),
        ("c", "orders", json!(10)),
        ("u", "customers", json!(2)),
        ("u", "orders", json!(10)),
        ("d", "orders", json!(10)),
        ("d", "customers", json!(2)),
        ("t", "orders", json!(null)),
    ];
    let want: Vec<_> = want
        .into_iter()
        .map(|(o, t, i)| (o.to_string(), t.to_string(), i))
        .collect();
    assert_eq!(got, want);
    // Default identity: an update has no before image, a delete only the key.
    assert_eq!(events[3].data["before"], json!(null));
    assert_eq!(events[3].data["after"], json!({"id": 2, "name": "anne"}));
    assert_eq!(events[6].data["before"], json!({"id": 2}));
    // REPLICA IDENTITY FULL: whole before images.
    assert_eq!(
        events[4].data["before"],
        json!({"id": 10, "customer": 2, "total": "12.50"})
    );
    assert_eq!(
        events[5].data["before"],
        json!({"id": 10, "customer": 2, "total": "13.00"})
    );
    // Transactions: both changes of one transaction share its xid and commit LSN.
    assert_eq!(
        events[1].metadata.transaction_id,
        events[2].metadata.transaction_id
    );
    assert_eq!(
        events[1].data["source"]["commit_lsn"],
        events[2].data["source"]["commit_lsn"]
    );
    assert_ne!(
        events[1].metadata.transaction_id,
        events[3].metadata.transaction_id
    );
    assert_eq!(events[1].key, Some(json!({"id": 2})));
    assert_eq!(events[1].data["source"]["db"], server.database());
    assert_eq!(events[1].data["source"]["schema"], "public");
    assert!(events[1]
        .metadata
        .position
        .as_ref()
        .unwrap()
        .as_str()
        .unwrap()
        .contains('/'));
    let status = runtime.shutdown(Duration::from_secs(10)).await;
    assert!(status.pipeline("pg").is_some());
    // The committed checkpoint is the last transaction's end; the slot confirms it.
    let committed = store.get("pg").expect("a committed state");
    let lsn = committed.global["lsn"].as_str().unwrap().to_string();
    let confirmed = pg::confirmed_flush(&db, "order_slot").await.unwrap();
    let (hi, lo) = lsn.split_once('/').unwrap();
    let lsn = (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap();
    assert!(
        confirmed <= lsn,
        "the slot ({confirmed:X}) passed the committed state ({lsn:X})"
    );
}
