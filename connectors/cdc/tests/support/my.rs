//! Shared by the mysql-cdc tests: a private MariaDB, a SQL client, the
//! source's config and a pipeline into a `MockSink`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use mysql_async::prelude::Queryable;
use rivven_connect::runtime::{MemoryOffsetStore, PipelineSettings, Runtime};
use rivven_connect_cdc::mysql::{MySqlCdcConfig, MySqlCdcSource, TlsMode};
use rivven_connect_testing::services::MariaDb;
use rivven_connect_testing::MockSink;

/// A private MariaDB with database `shop`, and a client to it.
pub async fn server() -> (MariaDb, mysql_async::Conn) {
    let db = MariaDb::start()
        .await
        .expect("start a private MariaDB (Debian package `mariadb-server`)");
    let mut conn = connect(&db, "").await;
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("USE shop").await.unwrap();
    (db, conn)
}

/// A root client, in `database` (empty: none).
pub async fn connect(db: &MariaDb, database: &str) -> mysql_async::Conn {
    let url = format!("{}{database}", db.url());
    mysql_async::Conn::from_url(url)
        .await
        .expect("connect to the private MariaDB")
}

/// The source's config for `db` (root, database `shop`, fast heartbeat).
pub fn config(db: &MariaDb) -> MySqlCdcConfig {
    let mut c = MySqlCdcConfig::new(db.host(), db.port(), "shop", db.user(), 4242);
    c.tls.mode = TlsMode::Disable;
    c.heartbeat_interval_ms = 300;
    c.connect_timeout_secs = 5;
    c
}

/// Start `config` → `sink` with `store` (reuse it to resume), as pipeline `my`.
pub async fn run(config: MySqlCdcConfig, sink: &MockSink, store: &MemoryOffsetStore) -> Runtime {
    run_with(config, sink, store, settings()).await
}

/// As [`run`], with these pipeline settings.
pub async fn run_with(
    config: MySqlCdcConfig,
    sink: &MockSink,
    store: &MemoryOffsetStore,
    settings: PipelineSettings,
) -> Runtime {
    start(
        "my",
        MySqlCdcSource::default(),
        config,
        sink,
        store,
        settings,
    )
    .await
}

#[path = "events.rs"]
mod events;
#[allow(unused_imports)] // not every test uses both
pub use events::{find, settings, start, summary, wait_for, wait_for_event, wait_for_status};
