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
    // Replication lag: commit → durably written, as the runtime reports it.
    let lag = runtime.status().await.pipeline("pg").unwrap().lag_ms;
    assert!(lag.is_some_and(|l| l < 30_000), "lag {lag:?}");
    let status = runtime.shutdown(Duration::from_secs(10)).await;
    assert!(status.pipeline("pg").is_some());
    // The committed checkpoint is the last transaction's end; the slot confirms it.
    let committed = store.get("pg").expect("a committed state");
    let lsn = pg::lsn(committed.global["lsn"].as_str().unwrap());
    let confirmed = pg::confirmed_flush(&db, "order_slot").await.unwrap();
    assert!(
        confirmed <= lsn,
        "the slot ({confirmed:X}) passed the committed state ({lsn:X})"
    );
}

/// Every row id exactly once, whether it came from the snapshot (`r`) or the
/// stream (`c`).
fn assert_each_id_once(events: &[rivven_connect::SourceEvent], n: i64) {
    let mut seen = std::collections::BTreeMap::new();
    for e in events {
        let op = e.data["op"].as_str().unwrap();
        assert!(op == "r" || op == "c", "unexpected op {op}");
        let id = e.data["after"]["id"].as_i64().unwrap();
        *seen.entry(id).or_insert(0) += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, &c)| c > 1).collect();
    assert!(dupes.is_empty(), "duplicates at the seam: {dupes:?}");
    let missing: Vec<i64> = (1..=n).filter(|i| !seen.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "gap at the seam: {} missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_stream_meet_without_gap_or_duplicate() {
    let (server, db) = pg::server().await;
    db.batch_execute("CREATE TABLE items (id bigint PRIMARY KEY, v text); INSERT INTO items SELECT g, 'pre' FROM generate_series(1, 3000) g;")
        .await
        .unwrap();
    // A writer keeps committing while the source snapshots and starts streaming.
    let writer_db = pg::connect(&server).await;
    let writer = tokio::spawn(async move {
        for batch in 0..60i64 {
            let from = 3001 + batch * 50;
            writer_db
                .execute(
                    "INSERT INTO items SELECT g, 'live' FROM generate_series($1::bigint, $2::bigint) g",
                    &[&from, &(from + 49)],
                )
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let mut config = pg::config(&server, "seam_slot");
    config.snapshot_chunk_size = 500;
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = pg::run(config, &sink, &store).await;
    writer.await.unwrap();
    let total = 3000 + 60 * 50;
    let events = pg::wait_for(&sink, total as usize).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // nothing extra may follow
    let events_after = sink.written_events();
    assert_eq!(events_after.len(), events.len(), "more events than rows");
    assert_each_id_once(&events_after, total);
    let snapshot_rows = events.iter().filter(|e| e.data["op"] == "r").count();
    assert!(
        snapshot_rows >= 3000,
        "the snapshot read the rows present at its start"
    );
    // Snapshot rows come first, then the stream.
    let first_stream = events
        .iter()
        .position(|e| e.data["op"] == "c")
        .unwrap_or(events.len());
    assert!(events[first_stream..].iter().all(|e| e.data["op"] == "c"));
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_reconnected_and_nothing_is_lost() {
    let (mut server, db) = pg::server().await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = pg::run(pg::config(&server, "restart_slot"), &sink, &store).await;
    db.execute("INSERT INTO t SELECT generate_series(1, 100)", &[])
        .await
        .unwrap();
    pg::wait_for(&sink, 100).await;
    server.kill();
    server.restart().await.unwrap();
    let db = pg::connect(&server).await;
    for i in 101..=200 {
        db.execute("INSERT INTO t VALUES ($1)", &[&i])
            .await
            .unwrap();
    }
    let events = pg::wait_for(&sink, 200).await;
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e.data["after"]["id"].as_i64().unwrap())
        .collect();
    let mut unique: Vec<i64> = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique,
        (1..=200).collect::<Vec<_>>(),
        "every committed row arrived"
    );
    let status = runtime.status().await;
    let p = status.pipeline("pg").unwrap();
    assert!(
        p.restarts >= 1,
        "the source reconnected through a restart ({p:?})"
    );
    runtime.shutdown(Duration::from_secs(10)).await;
}

/// `check` fails with one line that contains `needle`.
async fn assert_check_fails(
    config: &rivven_connect_cdc::postgres::PostgresCdcConfig,
    needle: &str,
) {
    use rivven_connect::Source;
    let source = rivven_connect_cdc::postgres::PostgresCdcSource::default();
    let result = source.check(config).await.expect("check runs");
    assert!(
        !result.is_success(),
        "check passed; expected a failure about {needle}"
    );
    let message = result.message.clone().unwrap_or_default();
    assert!(
        message.contains(needle),
        "message {message:?} does not mention {needle:?}"
    );
    assert_eq!(message.lines().count(), 1, "one line: {message:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_explains_what_is_wrong() {
    let server = rivven_connect_testing::services::Postgres::builder()
        .password_auth()
        .start()
        .await
        .unwrap();
    let db = pg::connect(&server).await;
    db.batch_execute(
        "CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'right';
         CREATE ROLE plain LOGIN PASSWORD 'right';",
    )
    .await
    .unwrap();
    let mut config = pg::config(&server, "check_slot");
    config.user = "replicator".into();
    config.password = "wrong".into();
    assert_check_fails(&config, "password authentication failed").await;
    // Right password: the check passes (auto-create on).
    config.password = "right".into();
    {
        use rivven_connect::Source;
        let ok = rivven_connect_cdc::postgres::PostgresCdcSource::default()
            .check(&config)
            .await
            .unwrap();
        assert!(ok.is_success(), "{ok:?}");
    }
    // A role without REPLICATION cannot open a replication session.
    config.user = "plain".into();
    assert_check_fails(&config, "REPLICATION").await;
    // The slot streamed by another client.
    config.user = "replicator".into();
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let mut running = config.clone();
    running.user = server.user().into();
    let runtime = pg::run(running, &sink, &store).await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);")
        .await
        .unwrap();
    pg::wait_for(&sink, 1).await;
    assert_check_fails(&config, "in use").await;
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fails_without_logical_wal() {
    let server = rivven_connect_testing::services::Postgres::builder()
        .setting("wal_level", "replica")
        .start()
        .await
        .unwrap();
    assert_check_fails(&pg::config(&server, "replica_slot"), "wal_level").await;
    // The pipeline does not start streaming either: read fails with the same reason.
    use rivven_connect::Source;
    let source = rivven_connect_cdc::postgres::PostgresCdcSource::default();
    let err = match source
        .read(
            &pg::config(&server, "replica_slot"),
            &Default::default(),
            None,
        )
        .await
    {
        Ok(_) => panic!("read started without wal_level=logical"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("wal_level = logical"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_compliance() {
    use rivven_connect_testing::compliance::{assert_source_compliance, Resume, SourceCompliance};
    let (server, db) = pg::server().await;
    db.batch_execute("CREATE TABLE c (id int PRIMARY KEY, v text); INSERT INTO c SELECT g, 'v' || g FROM generate_series(1, 40) g;")
        .await
        .unwrap();
    let config = json!({
        "host": server.host(), "port": server.port(), "database": server.database(),
        "user": server.user(), "password": "s3cret-pw", "slot_name": "compliance_slot",
        "publication_name": "compliance_pub", "tls": {"mode": "disable"},
    });
    let mut unreachable = config.clone();
    unreachable["port"] = json!(1);
    unreachable["connect_timeout_secs"] = json!(2);
    assert_source_compliance(
        SourceCompliance::new(
            rivven_connect_cdc::postgres::PostgresCdcSource::default(),
            config,
        )
        .unreachable(unreachable)
        .secret("s3cret-pw")
        // Resuming is position-based (LSN) and is what the restart,
        // crash and seam tests check against the server.
        .resume(Resume::Skip),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_modes() {
    use rivven_connect_cdc::postgres::SnapshotMode;
    let (server, db) = pg::server().await;
    db.batch_execute(
        "CREATE TABLE s (id int PRIMARY KEY); INSERT INTO s SELECT generate_series(1, 5);",
    )
    .await
    .unwrap();
    let ops = |events: &[rivven_connect::SourceEvent]| -> Vec<String> {
        events
            .iter()
            .map(|e| e.data["op"].as_str().unwrap().to_string())
            .collect()
    };

    // initial_only: the snapshot, then the pipeline finishes; no slot is made.
    let mut config = pg::config(&server, "only_slot");
    config.snapshot_mode = SnapshotMode::InitialOnly;
    let sink = MockSink::new();
    let runtime = pg::run(config, &sink, &MemoryOffsetStore::new()).await;
    let status = tokio::time::timeout(Duration::from_secs(30), runtime.wait())
        .await
        .expect("initial_only finishes");
    assert!(status.pipeline("pg").is_some());
    assert_eq!(ops(&sink.written_events()), vec!["r"; 5]);
    assert_eq!(
        pg::confirmed_flush(&db, "only_slot").await,
        None,
        "initial_only makes no slot"
    );

    // always: every start snapshots again, then streams.
    let mut config = pg::config(&server, "always_slot");
    config.snapshot_mode = SnapshotMode::Always;
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = pg::run(config.clone(), &sink, &store).await;
    pg::wait_for(&sink, 5).await;
    db.execute("INSERT INTO s VALUES (6)", &[]).await.unwrap();
    pg::wait_for(&sink, 6).await;
    runtime.shutdown(Duration::from_secs(10)).await;
    let runtime = pg::run(config, &sink, &store).await;
    let events = pg::wait_for(&sink, 12).await;
    assert_eq!(
        ops(&events[6..12]),
        vec!["r"; 6],
        "the second start read the table again"
    );
    runtime.shutdown(Duration::from_secs(10)).await;

    // when_needed: a committed position and the slot → no snapshot; slot gone → snapshot.
    let mut config = pg::config(&server, "needed_slot");
    config.snapshot_mode = SnapshotMode::WhenNeeded;
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = pg::run(config.clone(), &sink, &store).await;
    pg::wait_for(&sink, 6).await;
    runtime.shutdown(Duration::from_secs(10)).await;
    let runtime = pg::run(config.clone(), &sink, &store).await;
    db.execute("INSERT INTO s VALUES (7)", &[]).await.unwrap();
    let events = pg::wait_for(&sink, 7).await;
    assert_eq!(
        ops(&events[6..]),
        vec!["c"],
        "resumed from the slot without a snapshot"
    );
    runtime.shutdown(Duration::from_secs(10)).await;
    pg::drop_slot(&db, "needed_slot").await;
    let runtime = pg::run(config, &sink, &store).await;
    let events = pg::wait_for(&sink, 14).await;
    assert_eq!(
        ops(&events[7..14]),
        vec!["r"; 7],
        "the slot was gone: snapshot again"
    );
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_advance_an_idle_slot() {
    // Keep-alives every ~1 s (half of wal_sender_timeout).
    let server = rivven_connect_testing::services::Postgres::builder()
        .setting("wal_sender_timeout", "2s")
        .start()
        .await
        .unwrap();
    let db = pg::connect(&server).await;
    db.batch_execute(
        "CREATE TABLE watched (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY);",
    )
    .await
    .unwrap();
    let mut config = pg::config(&server, "idle_slot");
    config.publication_tables = vec!["watched".into()];
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = pg::run(config, &sink, &store).await;
    db.execute("INSERT INTO watched VALUES (1)", &[])
        .await
        .unwrap();
    pg::wait_for(&sink, 1).await;
    // Activity the publication does not cover moves the server's WAL on.
    db.execute("INSERT INTO other SELECT generate_series(1, 1000)", &[])
        .await
        .unwrap();
    let target = pg::current_lsn(&db).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let confirmed = pg::confirmed_flush(&db, "idle_slot").await.unwrap_or(0);
        if confirmed >= target {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the idle slot stayed at {confirmed:X}, the server is at {target:X}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        sink.written_count(),
        1,
        "heartbeats are checkpoints, not events"
    );
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_without_a_json_mapping_stay_text() {
    let (server, db) = pg::server().await;
    db.batch_execute("CREATE TABLE g (id int PRIMARY KEY, p point, b box[], r int4range)")
        .await
        .unwrap();
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = pg::run(pg::config(&server, "text_slot"), &sink, &store).await;
    db.execute(
        "INSERT INTO g VALUES (1, '(1,2)', ARRAY['(1,1),(0,0)'::box, '(3,3),(2,2)'::box], '[1,5)')",
        &[],
    )
    .await
    .unwrap();
    let events = pg::wait_for(&sink, 1).await;
    assert_eq!(
        events[0].data["after"],
        json!({"id": 1, "p": "(1,2)", "b": "{(1,1),(0,0);(3,3),(2,2)}", "r": "[1,5)"})
    );
    runtime.shutdown(Duration::from_secs(10)).await;
}
