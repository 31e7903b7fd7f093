//! Shared by the postgres-cdc tests: a private server, a SQL client, the
//! source's config and a pipeline into a `MockSink`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rivven_connect::runtime::{
    MemoryOffsetStore, Pipeline, PipelineSettings, PipelineState, PipelineStatus, RestartPolicy,
    Runtime,
};
use rivven_connect::SourceEvent;
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
    Runtime::builder()
        .offset_store(store.clone())
        .pipeline(
            Pipeline::builder("pg")
                .source(PostgresCdcSource::default(), config)
                .sink(sink.clone(), Default::default())
                .settings(settings),
        )
        .start()
        .await
        .expect("start the runtime")
}

/// Poll the status of pipeline `pg` until it is in `state` (panics after 60 s
/// with the last status seen).
pub async fn wait_for_state(runtime: &Runtime, state: PipelineState) -> PipelineStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let status = runtime.status().await.pipeline("pg").cloned();
        match status {
            Some(s) if s.state == state => return s,
            other if tokio::time::Instant::now() >= deadline => {
                panic!("pipeline `pg` never reached {state:?}; last status: {other:#?}")
            }
            _ => {}
        }
    }
}

#[path = "events.rs"]
mod events;
#[allow(unused_imports)] // not every test uses both
pub use events::{summary, wait_for};

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

/// Wait until one of `sink`'s events satisfies `found` (panics after 60 s
/// with the newest events); returns everything the sink holds by then.
pub async fn wait_for_event(
    sink: &MockSink,
    found: impl Fn(&SourceEvent) -> bool,
) -> Vec<SourceEvent> {
    let ok = rivven_connect_testing::eventually(
        || sink.written_events().iter().any(&found),
        Duration::from_secs(60),
    )
    .await;
    let events = sink.written_events();
    assert!(
        ok,
        "the awaited event never arrived; the sink has {}: {:#?}",
        events.len(),
        events.iter().rev().take(3).collect::<Vec<_>>()
    );
    events
}

/// The one event with this `op` whose `after.id` (or `before.id`) is `id`.
pub fn find<'a>(events: &'a [SourceEvent], op: &str, id: i64) -> &'a SourceEvent {
    let hits: Vec<&SourceEvent> = events
        .iter()
        .filter(|e| e.data["op"] == op)
        .filter(|e| {
            e.data["after"]["id"] == id
                || (e.data["after"].is_null() && e.data["before"]["id"] == id)
        })
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one `{op}` event for id {id}, got {}: {hits:#?}",
        hits.len()
    );
    hits[0]
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
