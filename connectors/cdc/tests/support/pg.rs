//! Shared by the postgres-cdc tests: a private server, a SQL client, the
//! source's config and a pipeline into a `MockSink`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rivven_connect::runtime::{
    MemoryOffsetStore, PipelineSettings, PipelineState, PipelineStatus, Runtime,
};
use rivven_connect_cdc::postgres::{PostgresCdcConfig, PostgresCdcSource};
use rivven_connect_testing::services::Postgres;
use rivven_connect_testing::MockSink;

/// A private PostgreSQL with `wal_level=logical` and a client to it.
pub async fn server() -> (Postgres, tokio_postgres::Client) {
    let pg = Postgres::start()
        .await
        .expect("start a private PostgreSQL (Debian package `postgresql`)");
    let client = connect(&pg).await;
    (pg, client)
}

/// A SQL client (superuser, trust).
pub async fn connect(pg: &Postgres) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the private PostgreSQL");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The source's config for `pg` with a fast heartbeat and status interval.
pub fn config(pg: &Postgres, slot: &str) -> PostgresCdcConfig {
    let mut c = PostgresCdcConfig::new(
        pg.host(),
        pg.port(),
        pg.database(),
        pg.user(),
        slot,
        format!("{slot}_pub"),
    );
    c.tls.mode = rivven_connect_cdc::postgres::TlsMode::Disable;
    c.status_interval_ms = 200;
    c.heartbeat_interval_ms = 500;
    c
}

/// Test settings that give up after two failures in a row (for tests that
/// expect the pipeline to end `Failed`).
pub fn settings_failing_fast() -> PipelineSettings {
    let mut s = settings();
    s.restart.max_consecutive_failures = 2;
    s
}

/// Start `config` → `sink` with `store` (reuse it to resume).
pub async fn run(config: PostgresCdcConfig, sink: &MockSink, store: &MemoryOffsetStore) -> Runtime {
    run_with(config, sink, store, settings()).await
}

/// As [`run`], with these pipeline settings.
pub async fn run_with(
    config: PostgresCdcConfig,
    sink: &MockSink,
    store: &MemoryOffsetStore,
    settings: PipelineSettings,
) -> Runtime {
    start(
        "pg",
        PostgresCdcSource::default(),
        config,
        sink,
        store,
        settings,
    )
    .await
}

/// Poll the status of pipeline `pg` until it is in `state` (panics after 60 s
/// with the last status seen).
pub async fn wait_for_state(runtime: &Runtime, state: PipelineState) -> PipelineStatus {
    wait_for_status(runtime, "pg", &format!("{state:?}"), |s| s.state == state).await
}

#[path = "events.rs"]
mod events;
#[allow(unused_imports)] // not every test uses both
pub use events::{find, settings, start, summary, wait_for, wait_for_event, wait_for_status};

/// The slot's `confirmed_flush_lsn` as an integer.
pub async fn confirmed_flush(client: &tokio_postgres::Client, slot: &str) -> Option<u64> {
    let row = client
        .query_opt(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .unwrap()?;
    let text: Option<String> = row.get(0);
    text.as_deref().map(lsn)
}

/// An LSN's text form (`16/B374D848`) as an integer.
pub fn lsn(text: &str) -> u64 {
    let (hi, lo) = text.split_once('/').expect("an LSN like 16/B374D848");
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// The server's current WAL position.
pub async fn current_lsn(client: &tokio_postgres::Client) -> u64 {
    let text: String = client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    lsn(&text)
}

/// Drop replication slot `slot` once no backend holds it. A pipeline that has
/// shut down has closed its replication connection, but the server's
/// walsender for it ends a moment later, and until then the slot is "active".
pub async fn drop_slot(db: &tokio_postgres::Client, slot: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let row = db
            .query_one(
                "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .unwrap_or_else(|e| panic!("looking up slot {slot}: {e}"));
        let active: bool = row.get(0);
        if !active {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "slot {slot} still active 15 s after its pipeline shut down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    db.execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .unwrap_or_else(|e| panic!("dropping slot {slot}: {e}"));
}
