//! The runtime's own HTTP endpoints (`Runtime::builder().http(…)`), read over
//! plain HTTP/1.1 the way a probe or a Prometheus scraper would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use futures::stream::BoxStream;
use prometheus_parse::{Scrape, Value as Sample};
use rivven_connect::builtin::{DatagenConfig, DatagenSource};
use rivven_connect::runtime::{
    AnySource, MemoryOffsetStore, Pipeline, PipelineSettings, RestartPolicy, Runtime,
    RuntimeBuilder, SourceAdapter,
};
use rivven_connect::{Catalog, CheckResult, ConnectorSpec, Result, SourceEvent, State};
use rivven_connect_testing::MockSink;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A datagen source whose `check` waits until the test opens the gate, so
/// the pipeline is observably not ready first.
struct GatedSource {
    inner: SourceAdapter<DatagenSource>,
    gate: Arc<Semaphore>,
}

#[async_trait]
impl AnySource for GatedSource {
    fn spec(&self) -> ConnectorSpec {
        self.inner.spec()
    }
    async fn check(&self) -> Result<CheckResult> {
        let _ = self.gate.acquire().await;
        self.inner.check().await
    }
    async fn discover(&self) -> Result<Catalog> {
        self.inner.discover().await
    }
    async fn read(&self, state: Option<State>) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        self.inner.read(state).await
    }
    async fn commit(&self, state: &State) -> Result<()> {
        self.inner.commit(state).await
    }
}

fn endless_datagen() -> SourceAdapter<DatagenSource> {
    let config: DatagenConfig = serde_json::from_value(json!({
        "pattern": "sequence", "max_events": 0, "events_per_second": 5_000
    }))
    .unwrap();
    SourceAdapter::new(DatagenSource::new(), config)
}

fn runtime_with(name: &str, source: Arc<dyn AnySource>, sink: MockSink) -> RuntimeBuilder {
    Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder(name)
                .any_source("gen", source)
                .sink(sink, Default::default()),
        )
        .http("127.0.0.1:0")
}

/// GET `path`: the status code, the content type and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let code = lines.next().unwrap().split(' ').nth(1).unwrap();
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    (code.parse().unwrap(), content_type, body.to_string())
}

async fn get_json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (code, content_type, body) = get(addr, path).await;
    assert_eq!(content_type, "application/json", "{path}");
    (code, serde_json::from_str(&body).unwrap())
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let (code, content_type, body) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of the sample `metric` whose labels include `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v) => *v,
            Sample::Summary(_) | Sample::Histogram(_) => f64::NAN,
        })
}

fn is_counter(scrape: &Scrape, metric: &str) -> bool {
    scrape
        .samples
        .iter()
        .any(|s| s.metric == metric && matches!(s.value, Sample::Counter(_)))
}

/// Poll `path` until it answers `code`.
async fn until_code(addr: SocketAddr, path: &str, code: u16) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (got, body) = get_json(addr, path).await;
        if got == code {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never answered {code}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_report_readiness_health_and_moving_counters() {
    let gate = Arc::new(Semaphore::new(0));
    let source = Arc::new(GatedSource {
        inner: endless_datagen(),
        gate: gate.clone(),
    });
    let sink = MockSink::new();
    let runtime = runtime_with("orders", source, sink.clone())
        .start()
        .await
        .unwrap();
    let addr = runtime.http_addr().unwrap();
    assert_ne!(addr.port(), 0, "port 0 is resolved to the bound port");

    // The check has not passed: alive, not ready, degraded but not failing.
    let (code, live) = get_json(addr, "/live").await;
    assert_eq!((code, live["status"].as_str()), (200, Some("live")));
    let (code, ready) = get_json(addr, "/ready").await;
    assert_eq!(code, 503);
    assert_eq!(ready["status"], "not_ready");
    assert_eq!(ready["pipelines"]["orders"], "starting");
    let (code, health) = get_json(addr, "/health").await;
    assert_eq!(code, 200);
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["pipelines"][0]["name"], "orders");
    assert_eq!(health["pipelines"][0]["state"], "starting");

    gate.add_permits(1);
    let ready = until_code(addr, "/ready", 200).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["pipelines"]["orders"], "running");

    let deadline = Instant::now() + TIMEOUT;
    while runtime.status_now().pipelines[0].events_written == 0 {
        assert!(Instant::now() < deadline, "nothing was written");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first = scrape(addr).await;
    let at_first = runtime.status_now().pipelines[0].clone();
    let deadline = Instant::now() + TIMEOUT;
    // Both counters past the first scrape's (the sink may write what was
    // read before it while the source still waits for credit).
    loop {
        let now = &runtime.status_now().pipelines[0];
        if now.events_written > at_first.events_written && now.events_read > at_first.events_read {
            break;
        }
        assert!(Instant::now() < deadline, "reads or writes stopped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = scrape(addr).await;

    let p = [("pipeline", "orders")];
    for metric in [
        "rivven_connect_events_read_total",
        "rivven_connect_events_written_total",
    ] {
        assert!(is_counter(&second, metric), "{metric} is a counter");
        let (a, b) = (value(&first, metric, &p), value(&second, metric, &p));
        assert!(a.unwrap() > 0.0, "{metric} moved before the first scrape");
        assert!(b.unwrap() > a.unwrap(), "{metric}: {a:?} -> {b:?}");
    }
    let source_events = "rivven_connect_source_events_total";
    let (a, b) = (
        value(&first, source_events, &[("source", "gen")]).unwrap(),
        value(&second, source_events, &[("source", "gen")]).unwrap(),
    );
    assert!(b > a, "{source_events}: {a} -> {b}");
    let sink_events = "rivven_connect_sink_events_total";
    let (a, b) = (
        value(&first, sink_events, &[("sink", "mock")]).unwrap(),
        value(&second, sink_events, &[("sink", "mock")]).unwrap(),
    );
    assert!(a > 0.0 && b > a, "{sink_events}: {a} -> {b}");
    assert!(value(&second, "rivven_connect_uptime_seconds", &[]).unwrap() >= 0.0);
    assert!(sink.written_count() > 0);
    assert_eq!(
        value(
            &second,
            "rivven_connect_pipeline_up",
            &[("pipeline", "orders"), ("state", "running")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&second, "rivven_connect_sink_errors_total", &p),
        Some(0.0)
    );
    let latency = second
        .samples
        .iter()
        .find(|s| s.metric == "rivven_connect_sink_latency_seconds")
        .unwrap();
    assert!(matches!(&latency.value, Sample::Summary(q) if !q.is_empty()));
    assert_eq!(latency.labels.get("sink"), Some("mock"));
    assert!(second
        .docs
        .contains_key("rivven_connect_events_written_total"));

    // After a shutdown the runtime is no longer alive; health keeps the final state.
    let status = runtime.shutdown(Duration::from_secs(10)).await;
    assert!(status.all_succeeded(), "{status:?}");
    let (code, live) = get_json(addr, "/live").await;
    assert_eq!((code, live["status"].as_str()), (503, Some("stopped")));
    let (code, health) = get_json(addr, "/health").await;
    assert_eq!(
        (code, health["pipelines"][0]["state"].as_str()),
        (200, Some("stopped"))
    );
    let (code, _) = get_json(addr, "/ready").await;
    assert_eq!(code, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_pipeline_makes_health_503() {
    // A failed check that waiting does not cure, and no second chance.
    let settings = PipelineSettings::default().with_restart(RestartPolicy {
        max_consecutive_failures: 1,
        ..RestartPolicy::default()
    });
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("broken")
                .any_source("gen", Arc::new(endless_datagen()))
                .sink(
                    MockSink::new().fail_with("sink is unreachable"),
                    Default::default(),
                )
                .settings(settings),
        )
        .http("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = runtime.http_addr().unwrap();
    let health = until_code(addr, "/health", 503).await;
    assert_eq!(health["status"], "unhealthy");
    assert_eq!(health["pipelines"][0]["state"], "failed");
    let (code, _) = get_json(addr, "/ready").await;
    assert_eq!(code, 503);
    let (code, _) = get_json(addr, "/live").await;
    assert_eq!(code, 200, "the runtime itself is alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runtimes_in_one_process_serve_their_own_metrics() {
    let a = runtime_with("alpha", Arc::new(endless_datagen()), MockSink::new())
        .start()
        .await
        .unwrap();
    let b = runtime_with("beta", Arc::new(endless_datagen()), MockSink::new())
        .start()
        .await
        .unwrap();
    let (addr_a, addr_b) = (a.http_addr().unwrap(), b.http_addr().unwrap());
    assert_ne!(addr_a, addr_b);
    until_code(addr_a, "/ready", 200).await;
    until_code(addr_b, "/ready", 200).await;
    let (sa, sb) = (scrape(addr_a).await, scrape(addr_b).await);
    let read = "rivven_connect_events_read_total";
    assert!(value(&sa, read, &[("pipeline", "alpha")]).is_some());
    assert!(value(&sa, read, &[("pipeline", "beta")]).is_none());
    assert!(value(&sb, read, &[("pipeline", "beta")]).is_some());
    assert!(value(&sb, read, &[("pipeline", "alpha")]).is_none());
    let (code, _, body) = get(addr_a, "/nope").await;
    assert_eq!(code, 404, "{body}");
}

#[tokio::test]
async fn a_taken_address_fails_start_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let err = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("p")
                .any_source("gen", Arc::new(endless_datagen()))
                .sink(MockSink::new(), Default::default()),
        )
        .http(address.clone())
        .start()
        .await
        .unwrap_err();
    assert!(err.message().contains(&address), "{err}");
    assert_eq!(err.kind(), rivven_connect::ErrorKind::Config);
}
