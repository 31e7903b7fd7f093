//! A service that embeds the runtime and serves its health and metrics
//! endpoints itself: no CLI involved.
//!
//! It runs one pipeline (datagen → JSONL file) with
//! `.http("127.0.0.1:0")`, reads its own `/ready`, `/health` and `/metrics`
//! over plain HTTP/1.1 while the pipeline runs, and shuts down gracefully.
//!
//! ```text
//! cargo run -p rivven-connect --example embedded_http
//! RIVVEN_HTTP=127.0.0.1:8083 cargo run -p rivven-connect --example embedded_http   # fixed port, runs until Ctrl-C
//! ```

use rivven_connect::builtin::{DatagenConfig, DatagenSource, FileSink, FileSinkConfig};
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, Runtime};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fixed = std::env::var("RIVVEN_HTTP").ok();
    let dir = std::env::temp_dir().join(format!("rivven-embedded-http-{}", std::process::id()));
    let datagen: DatagenConfig = serde_json::from_value(json!({
        "pattern": "orders", "events_per_second": 2_000, "max_events": 0, "seed": 1
    }))?;
    let file: FileSinkConfig = serde_json::from_value(json!({ "path": dir.join("orders.jsonl") }))?;

    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("orders")
                .source(DatagenSource::new(), datagen)
                .sink(FileSink::new(), file),
        )
        .http(fixed.clone().unwrap_or_else(|| "127.0.0.1:0".into()))
        .start()
        .await?;
    let addr = runtime.http_addr().ok_or("the runtime serves no HTTP")?;
    eprintln!("serving http://{addr}/health, /ready, /live and /metrics");

    if fixed.is_some() {
        // Serve until Ctrl-C/SIGTERM, like a real service.
        let status = runtime.run_until_signal(Duration::from_secs(30)).await;
        return if status.all_succeeded() {
            Ok(())
        } else {
            Err("a pipeline failed".into())
        };
    }

    // Wait until ready, then look at our own endpoints.
    let mut ready = get(addr, "/ready").await?;
    for _ in 0..100 {
        if ready.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        ready = get(addr, "/ready").await?;
    }
    eprintln!("GET /ready   -> {} {}", ready.0, ready.1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, health) = get(addr, "/health").await?;
    eprintln!("GET /health  -> {code} {health}");
    let (code, metrics) = get(addr, "/metrics").await?;
    eprintln!("GET /metrics -> {code}");
    for line in metrics.lines().filter(|l| {
        l.starts_with("rivven_connect_events_")
            || l.starts_with("rivven_connect_sink_events_total")
            || l.starts_with("rivven_connect_uptime_seconds")
    }) {
        eprintln!("  {line}");
    }

    let status = runtime.shutdown(Duration::from_secs(10)).await;
    let _ = std::fs::remove_dir_all(&dir);
    if status.all_succeeded() {
        Ok(())
    } else {
        Err("a pipeline failed".into())
    }
}

/// A minimal HTTP/1.1 GET: status code and body.
async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, body.to_string()))
}
