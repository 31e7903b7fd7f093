//! `mysql-cdc` snapshot modes against a private MariaDB: `initial_only`
//! finishes after the snapshot, `always` reads the tables on every start,
//! `never` streams only, `when_needed` snapshots again when the committed
//! binlog file was purged, and `initial` refuses to stream over that gap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/my.rs"]
mod my;

use std::time::Duration;

use mysql_async::prelude::Queryable;
use rivven_connect::runtime::MemoryOffsetStore;
use rivven_connect::SourceEvent;
use rivven_connect_cdc::mysql::SnapshotMode;
use rivven_connect_testing::MockSink;

fn ops(events: &[SourceEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.data["op"].as_str().unwrap().to_string())
        .collect()
}

/// Rotate the binary log and purge every file before the new one: the
/// committed positions of earlier runs are gone. MariaDB keeps a file until
/// its binlog checkpoint (InnoDB has flushed what it covers) and no replica
/// reads it, so this retries until the purge has happened.
async fn purge_binlogs(db: &mut mysql_async::Conn) {
    db.query_drop("FLUSH BINARY LOGS").await.unwrap();
    let row: mysql_async::Row = db.query_first("SHOW MASTER STATUS").await.unwrap().unwrap();
    let current: String = row.get(0).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let ok = loop {
        db.query_drop(format!("PURGE BINARY LOGS TO '{current}'"))
            .await
            .unwrap();
        let files: Vec<String> = db
            .query_map("SHOW BINARY LOGS", |row: mysql_async::Row| {
                row.get::<String, _>(0).unwrap()
            })
            .await
            .unwrap();
        if files == [current.clone()] || std::time::Instant::now() > deadline {
            break files == [current.clone()];
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(ok, "the older binlog files were not purged within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_modes() {
    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE s (id int PRIMARY KEY); INSERT INTO s VALUES (1),(2),(3),(4),(5)")
        .await
        .unwrap();

    // initial_only: the snapshot, then the pipeline finishes.
    let mut config = my::config(&server);
    config.snapshot_mode = SnapshotMode::InitialOnly;
    let sink = MockSink::new();
    let runtime = my::run(config, &sink, &MemoryOffsetStore::new()).await;
    let status = tokio::time::timeout(Duration::from_secs(30), runtime.wait())
        .await
        .expect("initial_only finishes");
    assert!(status.pipeline("my").is_some());
    assert_eq!(ops(&sink.written_events()), vec!["r"; 5]);

    // never: changes only, no row of the table as it was.
    let mut config = my::config(&server);
    config.snapshot_mode = SnapshotMode::Never;
    let sink = MockSink::new();
    let runtime = my::run(config, &sink, &MemoryOffsetStore::new()).await;
    // Let the source reach the stream before writing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    db.query_drop("INSERT INTO s VALUES (6)").await.unwrap();
    let events = my::wait_for(&sink, 1).await;
    assert_eq!(ops(&events), vec!["c"]);
    runtime.shutdown(Duration::from_secs(10)).await;

    // always: every start reads the table again, then streams.
    let mut config = my::config(&server);
    config.snapshot_mode = SnapshotMode::Always;
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(config.clone(), &sink, &store).await;
    my::wait_for(&sink, 6).await;
    db.query_drop("INSERT INTO s VALUES (7)").await.unwrap();
    let events = my::wait_for(&sink, 7).await;
    assert_eq!(ops(&events[6..]), vec!["c"]);
    runtime.shutdown(Duration::from_secs(10)).await;
    let runtime = my::run(config, &sink, &store).await;
    let events = my::wait_for(&sink, 14).await;
    assert_eq!(
        ops(&events[7..14]),
        vec!["r"; 7],
        "the second start read the table again"
    );
    runtime.shutdown(Duration::from_secs(10)).await;

    // when_needed: a committed position in an existing file → stream from
    // it; the file purged → snapshot again.
    let mut config = my::config(&server);
    config.snapshot_mode = SnapshotMode::WhenNeeded;
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(config.clone(), &sink, &store).await;
    my::wait_for(&sink, 7).await;
    runtime.shutdown(Duration::from_secs(10)).await;
    let runtime = my::run(config.clone(), &sink, &store).await;
    db.query_drop("INSERT INTO s VALUES (8)").await.unwrap();
    let events = my::wait_for(&sink, 8).await;
    assert_eq!(ops(&events[7..]), vec!["c"], "resumed without a snapshot");
    runtime.shutdown(Duration::from_secs(10)).await;
    purge_binlogs(&mut db).await;
    let runtime = my::run(config, &sink, &store).await;
    let events = my::wait_for(&sink, 16).await;
    assert_eq!(
        ops(&events[8..16]),
        vec!["r"; 8],
        "the committed binlog file was purged: snapshot again"
    );
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_refuses_to_stream_over_a_purged_binlog() {
    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE s (id int PRIMARY KEY); INSERT INTO s VALUES (1)")
        .await
        .unwrap();
    let config = my::config(&server);
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(config.clone(), &sink, &store).await;
    my::wait_for(&sink, 1).await;
    runtime.shutdown(Duration::from_secs(10)).await;
    purge_binlogs(&mut db).await;
    db.query_drop("INSERT INTO s VALUES (2)").await.unwrap();

    let source = rivven_connect_cdc::mysql::MySqlCdcSource::default();
    let state = store.get("my");
    let catalog = rivven_connect::ConfiguredCatalog::default();
    let error = match rivven_connect::Source::read(&source, &config, &catalog, state).await {
        Ok(_) => panic!("streamed from a purged binlog position"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("gone") && error.contains("snapshot_mode when_needed"),
        "{error}"
    );
}

/// Fails before the fix: with `snapshot_mode: never` and nothing committed,
/// the source started at the server's current position without committing
/// it, so a restart before the first transaction started at a later
/// "current" position and skipped every change written in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_commits_where_it_starts_so_a_restart_skips_nothing() {
    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE s (id int PRIMARY KEY)")
        .await
        .unwrap();
    let mut config = my::config(&server);
    config.snapshot_mode = SnapshotMode::Never;
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(config.clone(), &sink, &store).await;
    let committed =
        rivven_connect_testing::eventually(|| store.get("my").is_some(), Duration::from_secs(30))
            .await;
    assert!(committed, "the start position was never committed");
    runtime.shutdown(Duration::from_secs(10)).await;

    db.query_drop("INSERT INTO s VALUES (1)").await.unwrap();
    let runtime = my::run(config, &sink, &store).await;
    let events = my::wait_for(&sink, 1).await;
    assert_eq!(ops(&events), vec!["c"]);
    assert_eq!(events[0].data["after"]["id"], 1);
    runtime.shutdown(Duration::from_secs(10)).await;
}
