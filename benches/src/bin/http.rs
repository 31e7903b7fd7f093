//! The `http-webhook` sink through the runtime against reqwest in a
//! hand-written loop, in one run, against a local no-op HTTP server (axum,
//! loopback, answers `204` to everything): requests/s at 1 KiB events.
//!
//! * **1 lane** — a pipeline `MockSource` → `http-webhook` (`batch_size: 1`,
//!   default options: `Content-Type`, an `Idempotency-Key` per request, the
//!   retry loop and circuit breaker) vs a reqwest loop sending the same
//!   requests (same body bytes, same headers, a key per request) one after
//!   the other.
//! * **4 lanes** — the same with `max_concurrent_requests: 4` and 16 keys vs
//!   four reqwest loops at once over the same requests.
//!
//! A third column calls the sink directly (`write_borrowed`, batches of
//! 1 024, no runtime), to tell the runtime's share from the sink's. Rounds
//! alternate the sides; each side's median round is reported.
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin http                        # 20 000 requests, 3 rounds
//! cargo run -p rivven-connect-benches --bin http -- --requests 2000 --rounds 1     # CI size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineSettings, Runtime};
use rivven_connect::{SinkConfig, SourceEvent};
use rivven_connect_benches::messaging::{payload, rate};
use rivven_connect_http::webhook::{WebhookSink, WebhookSinkConfig};
use rivven_connect_testing::{MockConfig, MockSource};
use serde_json::json;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const KEYS: u64 = 16;

/// The no-op server: reads each body, answers `204`.
async fn server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(|body: Bytes| async move {
        std::hint::black_box(body.len());
        StatusCode::NO_CONTENT
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://127.0.0.1:{port}/hook")
}

fn event(i: u64) -> SourceEvent {
    SourceEvent::record("bench", json!({"id": i, "payload": payload()}))
        .with_key(json!(i % KEYS))
        .with_position(json!(i))
}

/// Through the runtime: `n` events, one request each, `lanes` at once.
async fn through_runtime(url: &str, n: u64, lanes: usize) -> Duration {
    let config = WebhookSinkConfig::from_value(json!({
        "url": url,
        "max_concurrent_requests": lanes,
    }))
    .unwrap();
    let source = MockSource::new().with_generator(n, event);
    let settings = PipelineSettings::default().with_check_before_start(false);
    let started = Instant::now();
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("bench")
                .source(source, MockConfig::default())
                .sink(WebhookSink::new(), config)
                .settings(settings),
        )
        .start()
        .await
        .unwrap();
    let status = runtime.wait().await;
    let took = started.elapsed();
    assert!(status.all_succeeded(), "{status:?}");
    took
}

/// The sink called directly (no runtime): batches of 1 024 events.
async fn direct(url: &str, n: u64, lanes: usize) -> Duration {
    use rivven_connect::Sink;
    let config = WebhookSinkConfig::from_value(json!({
        "url": url,
        "max_concurrent_requests": lanes,
    }))
    .unwrap();
    let sink = WebhookSink::new();
    let events: Vec<SourceEvent> = (0..n).map(event).collect();
    let started = Instant::now();
    for batch in events.chunks(1024) {
        let result = sink.write_borrowed(&config, batch).await.unwrap();
        assert_eq!(result.records_written, batch.len() as u64);
    }
    started.elapsed()
}

/// reqwest by hand: the same requests, `lanes` loops at once (a key's
/// requests in one loop, as the sink does).
async fn by_hand(url: &str, n: u64, lanes: u64) -> Duration {
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let started = Instant::now();
    let loops = (0..lanes).map(|lane| {
        let client = client.clone();
        async move {
            for i in (0..n).filter(|i| (i % KEYS) % lanes == lane) {
                let body = serde_json::to_vec(&event(i).data).unwrap();
                let response = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("idempotency-key", format!("{i:032x}"))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
            }
        }
    });
    futures::future::join_all(loops).await;
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn args() -> (u64, usize) {
    let (mut n, mut rounds) = (20_000, 3);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--requests", Some(v)) => n = v,
            ("--rounds", Some(v)) => rounds = v.max(1) as usize,
            _ => panic!("usage: http [--requests N] [--rounds R]"),
        }
    }
    (n, rounds)
}

#[tokio::main]
async fn main() {
    let (n, rounds) = args();
    let url = server().await;
    println!("{n} requests of one 1 KiB event, {rounds} round(s), median round\n");
    println!(
        "| path | runtime req/s | sink alone req/s | reqwest loop req/s | ratio runtime / loop |"
    );
    println!("|---|---:|---:|---:|---:|");
    for lanes in [1u64, 4] {
        let (mut sink, mut alone, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            // Each side runs as a task on the runtime's workers, as the
            // pipeline's actors do (not on the thread of `main`).
            let u = url.clone();
            raw.push(
                tokio::spawn(async move { by_hand(&u, n, lanes).await })
                    .await
                    .unwrap(),
            );
            sink.push(through_runtime(&url, n, lanes as usize).await);
            let u = url.clone();
            let d = tokio::spawn(async move { direct(&u, n, lanes as usize).await });
            alone.push(d.await.unwrap());
        }
        let m = n as usize;
        let (sink, alone, raw) = (
            rate(m, median(sink)),
            rate(m, median(alone)),
            rate(m, median(raw)),
        );
        println!(
            "| http-webhook, {lanes} lane(s) | {sink:.0} | {alone:.0} | {raw:.0} | {:.2} |",
            sink / raw
        );
    }
}
