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
