//! mysql-cdc `check` against private MariaDB servers: each misconfiguration
//! fails with one line naming the fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/my.rs"]
mod my;

use mysql_async::prelude::Queryable;
use rivven_connect::Source;
use rivven_connect_cdc::mysql::MySqlCdcSource;
use rivven_connect_testing::services::MariaDb;

async fn failure(config: &rivven_connect_cdc::mysql::MySqlCdcConfig) -> String {
    let result = MySqlCdcSource::default().check(config).await.unwrap();
    assert!(!result.is_success(), "{result:?}");
    let message = result.message.clone().unwrap_or_default();
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_server_passes_and_misconfigurations_fail_naming_the_fix() {
    let (server, mut db) = my::server().await;
    let config = my::config(&server);
    let ok = MySqlCdcSource::default().check(&config).await.unwrap();
    assert!(ok.is_success(), "{ok:?}");

    let mut wrong = config.clone();
    wrong.password = "nope".to_string().into();
    let m = failure(&wrong).await;
    assert!(m.contains("check `user` and `password`"), "{m}");

    let mut own = config.clone();
    own.server_id = server.server_id();
    let m = failure(&own).await;
    assert!(
        m.contains("server_id") && m.contains("the server's own"),
        "{m}"
    );

    db.query_drop(
        "CREATE USER 'weak'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON shop.* TO 'weak'@'%'",
    )
    .await
    .unwrap();
    let mut weak = config.clone();
    weak.user = "weak".into();
    weak.password = "pw".to_string().into();
    let m = failure(&weak).await;
    assert!(m.contains("GRANT REPLICATION SLAVE"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_format_and_binlog_off_fail() {
    let server = MariaDb::builder()
        .option("binlog-format", "STATEMENT")
        .start()
        .await
        .unwrap();
    let mut db = my::connect(&server, "").await;
    db.query_drop("CREATE DATABASE shop").await.unwrap();
    let m = failure(&my::config(&server)).await;
    assert!(m.contains("binlog_format=ROW"), "{m}");

    let server = MariaDb::builder()
        .option("skip-log-bin", "1")
        .start()
        .await
        .unwrap();
    let mut db = my::connect(&server, "").await;
    db.query_drop("CREATE DATABASE shop").await.unwrap();
    let m = failure(&my::config(&server)).await;
    assert!(m.contains("log_bin"), "{m}");
}

/// Wait until pipeline `my`'s last error contains `needle`; returns it.
async fn wait_for_error(runtime: &rivven_connect::runtime::Runtime, needle: &str) -> String {
    let has = |s: &rivven_connect::runtime::PipelineStatus| {
        s.last_error.as_deref().is_some_and(|e| e.contains(needle))
    };
    let status =
        my::wait_for_status(runtime, "my", &format!("an error with {needle:?}"), has).await;
    status.last_error.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_id_in_use_by_another_replica_fails_check_and_is_not_taken_over() {
    use rivven_connect::runtime::MemoryOffsetStore;
    use rivven_connect_testing::MockSink;
    use std::time::Duration;

    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let config = my::config(&server);
    let id = config.server_id;
    let first_sink = MockSink::new();
    let first = my::run(config.clone(), &first_sink, &MemoryOffsetStore::new()).await;
    // Registered as a replica (else a row written now may be read by the
    // snapshot, and `check` could run before the binlog connection exists).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let hosts: Vec<mysql_async::Row> = db.query("SHOW SLAVE HOSTS").await.unwrap();
        if hosts.iter().any(|r| r.get::<u32, _>(0) == Some(id)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the source did not register as a replica within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.query_drop("INSERT INTO t VALUES (2)").await.unwrap();
    my::wait_for(&first_sink, 2).await; // streaming

    // `check` of a config with the same server_id names it and the fix.
    let m = failure(&config).await;
    assert!(
        m.contains(&format!("server_id {id} is in use by another replica"))
            && m.contains("its own server_id"),
        "{m}"
    );

    // A second source with the same server_id does not start streaming
    // (that would end the first one's binlog connection): it says why, and
    // names the first by the host name it reported. (Without the runtime's
    // `check` before start, so that this is the source's own refusal.)
    let second_sink = MockSink::new();
    let mut settings = my::settings();
    settings.check_before_start = false;
    let second = my::run_with(
        config.clone(),
        &second_sink,
        &MemoryOffsetStore::new(),
        settings,
    )
    .await;
    let e = wait_for_error(&second, &format!("server_id {id}")).await;
    assert!(
        e.contains(&format!(
            "another replica with server_id {id} is connected to the server (host `rivven-connect-"
        )) && e.contains("its own server_id"),
        "{e}"
    );
    db.query_drop("INSERT INTO t VALUES (3)").await.unwrap();
    let events = my::wait_for(&first_sink, 3).await;
    assert_eq!(events[2].data["after"]["id"], 3, "the first still streams");
    let status = first.status().await;
    let p = status.pipeline("my").unwrap();
    assert_eq!(p.restarts, 0, "the first was not disturbed: {p:?}");
    assert!(
        !second_sink
            .written_events()
            .iter()
            .any(|e| e.data["op"] == "c"),
        "the second never streamed"
    );
    second.shutdown(Duration::from_secs(10)).await;

    // Another replica (not a rivven source) connecting with the same
    // server_id makes the server end the first's binlog connection: the
    // first reports the other replica, and does not take the id back.
    let mut other = my::connect(&server, "").await;
    other
        .query_drop("SET @master_heartbeat_period = 300000000")
        .await
        .unwrap();
    let _stream = other
        .get_binlog_stream(
            mysql_async::BinlogStreamRequest::new(id)
                .with_hostname(b"other-replica")
                .with_pos(4u64),
        )
        .await
        .unwrap();
    let e = wait_for_error(&first, "other-replica").await;
    assert!(
        e.contains(&format!("another replica with server_id {id}"))
            && e.contains("its own server_id"),
        "{e}"
    );
    first.shutdown(Duration::from_secs(10)).await;
}
