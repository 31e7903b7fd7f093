//! `mysql-cdc` through the `rivven-connect` binary: `check` exits 1 with
//! one line naming the fix for each misconfiguration (wrong password,
//! missing privilege, the server's own `server_id`, `STATEMENT` format,
//! binary log off), and passes on a correctly set up server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/binary.rs"]
mod binary;

use std::path::Path;
use std::process::Output;

use mysql_async::prelude::Queryable;
use rivven_connect_testing::services::MariaDb;

fn check(dir: &Path, server: &MariaDb, user: &str, password: &str, server_id: u32) -> Output {
    let config = dir.join(format!("{user}-{server_id}.yaml"));
    std::fs::write(
        &config,
        format!(
            "sources:\n  db:\n    connector: mysql-cdc\n    config:\n      \
             host: {}\n      port: {}\n      database: shop\n      user: {user}\n      \
             password: \"{password}\"\n      server_id: {server_id}\n      \
             connect_timeout_secs: 5\n      tls: {{ mode: disable }}\n\
             sinks:\n  out:\n    connector: file\n    config: {{ path: {} }}\n\
             data_dir: {}\n",
            server.host(),
            server.port(),
            dir.join("out.jsonl").display(),
            dir.join("data").display()
        ),
    )
    .unwrap();
    binary::bin()
        .arg("-c")
        .arg(&config)
        .args(["check", "--source", "db"])
        .output()
        .unwrap()
}

/// Exit 1 and exactly one output line holding `fix` (the check's failure
/// line names what to change).
fn fails_naming(out: &Output, fix: &str) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    let naming: Vec<&str> = text.lines().filter(|l| l.contains(fix)).collect();
    assert_eq!(naming.len(), 1, "one line naming `{fix}`:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
}

async fn server_with_shop(builder: rivven_connect_testing::services::MariaDbBuilder) -> MariaDb {
    let server = builder
        .start()
        .await
        .expect("start a private MariaDB (Debian package `mariadb-server`)");
    let mut db = mysql_async::Conn::from_url(server.url()).await.unwrap();
    db.query_drop("CREATE DATABASE shop; CREATE TABLE shop.t (id int PRIMARY KEY)")
        .await
        .unwrap();
    db.query_drop(
        "CREATE USER 'weak'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON shop.* TO 'weak'@'%'",
    )
    .await
    .unwrap();
    db.disconnect().await.unwrap();
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_1_with_one_line_naming_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_shop(MariaDb::builder()).await;
    let ok = check(dir.path(), &server, "root", "", 4242);
    assert!(
        ok.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );

    fails_naming(
        &check(dir.path(), &server, "root", "wrong", 4242),
        "check `user` and `password`",
    );
    fails_naming(
        &check(dir.path(), &server, "weak", "pw", 4242),
        "GRANT REPLICATION SLAVE",
    );
    fails_naming(
        &check(dir.path(), &server, "root", "", server.server_id()),
        "the server's own",
    );

    let statement = server_with_shop(MariaDb::builder().option("binlog-format", "STATEMENT")).await;
    fails_naming(
        &check(dir.path(), &statement, "root", "", 4242),
        "binlog_format=ROW",
    );
    let off = server_with_shop(MariaDb::builder().option("skip-log-bin", "1")).await;
    fails_naming(&check(dir.path(), &off, "root", "", 4242), "log_bin");
}
