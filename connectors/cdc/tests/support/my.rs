//! Shared by the mysql-cdc tests: a private MariaDB, a SQL client, the
//! source's config and a pipeline into a `MockSink`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mysql_async::prelude::Queryable;
use rivven_connect::runtime::{
    MemoryOffsetStore, Pipeline, PipelineSettings, RestartPolicy, Runtime,
};
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

/// Pipeline settings for tests: small batches, quick restarts.
pub fn settings() -> PipelineSettings {
    PipelineSettings::default()
        .with_batch_size(256)
        .with_linger(Duration::from_millis(5))
        .with_restart(RestartPolicy {
            initial_backoff: Duration::from_millis(200),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(2),
            jitter: 0.1,
            max_consecutive_failures: 1000,
            healthy_after: Duration::from_secs(5),
        })
}

/// Start `config` → `sink` with `store` (reuse it to resume).
pub async fn run(config: MySqlCdcConfig, sink: &MockSink, store: &MemoryOffsetStore) -> Runtime {
    Runtime::builder()
        .offset_store(store.clone())
        .pipeline(
            Pipeline::builder("my")
                .source(MySqlCdcSource::default(), config)
                .sink(sink.clone(), Default::default())
                .settings(settings()),
        )
        .start()
        .await
        .expect("start the runtime")
}

#[path = "events.rs"]
mod events;
#[allow(unused_imports)] // not every test uses both
pub use events::{summary, wait_for};
