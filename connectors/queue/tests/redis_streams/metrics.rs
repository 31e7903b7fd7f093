//! The queue metrics on the runtime's `/metrics`, as a Prometheus scraper
//! reads them, next to the connector instance's own snapshot.

use std::time::{Duration, Instant};

use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, Runtime};
use rivven_connect_queue::redis::RedisStreamsSource;
use rivven_connect_testing::MockSink;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_serves_the_source_counters() {
    let redis = server().await;
    add(&redis, "scraped", 0..25);
    let source = RedisStreamsSource::new();
    let sink = MockSink::new();
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("scraped")
                .source(source.clone(), source_config(&redis, "scraped", "g"))
                .sink(sink.clone(), Default::default()),
        )
        .http("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let addr = runtime.http_addr().unwrap();
    let want = r#"rivven_queue_acks_total{connector="redis-streams",direction="source"} 25"#;
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = scrape(addr).await;
        if text.contains(want) {
            break text;
        }
        assert!(Instant::now() < deadline, "no `{want}` in:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        text.contains(
            r#"rivven_queue_messages_total{connector="redis-streams",direction="source"} 25"#
        ),
        "{text}"
    );
    runtime.shutdown(Duration::from_secs(10)).await;
    let snapshot = source.metrics().snapshot();
    assert_eq!((snapshot.messages, snapshot.acks), (25, 25));
    assert_eq!(sink.written_count(), 25);
}
