//! The `redis-streams` sink: read back with `redis-cli`.

use rivven_connect::{ErrorKind, Sink, SinkConfig, SourceEvent};
use rivven_connect_queue::redis::{RedisStreamsSink, RedisStreamsSinkConfig};
use serde_json::json;

use crate::support::*;

fn events(stream: &str, n: u64) -> Vec<SourceEvent> {
    (0..n)
        .map(|i| {
            SourceEvent::record(stream, json!({"id": i})).with_key(json!(format!("k{}", i % 3)))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_reads_back_exactly_what_was_written() {
    let redis = server().await;
    let sink = RedisStreamsSink::new();
    let config = RedisStreamsSinkConfig::from_value(json!({"url": redis.url()})).unwrap();
    let batch = events("out", 250);
    let result = sink.write_borrowed(&config, &batch).await.unwrap();
    assert!(result.is_success(), "{result:?}");
    assert_eq!(result.records_written, 250);
    let out = cli(&redis, &["XRANGE out - +".to_string()]);
    // redis-cli prints: id, field, value, field, value per entry.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 250 * 5, "{out}");
    for (i, entry) in lines.chunks(5).enumerate() {
        assert_eq!(entry[1], "payload");
        assert_eq!(entry[2], json!({"id": i}).to_string());
        assert_eq!(entry[3], "key");
        assert_eq!(entry[4], format!("k{}", i % 3));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxlen_trims_and_a_refused_entry_is_a_per_record_failure() {
    let redis = server().await;
    cli(&redis, &["SET taken plain-string".to_string()]);
    let sink = RedisStreamsSink::new();
    let config =
        RedisStreamsSinkConfig::from_value(json!({"url": redis.url(), "max_len": 10})).unwrap();
    let mut batch = events("trimmed", 500);
    batch.insert(7, SourceEvent::record("taken", json!({"id": 999})));
    let result = sink.write_borrowed(&config, &batch).await.unwrap();
    assert_eq!(result.records_written, 500, "{result:?}");
    let failures: Vec<_> = result.record_failures().collect();
    assert_eq!(failures.len(), 1, "{result:?}");
    assert_eq!(failures[0].0, 7);
    assert_eq!(failures[0].1.kind, ErrorKind::Data);
    assert!(failures[0].1.error.contains("WRONGTYPE"), "{result:?}");
    let len: u64 = cli(&redis, &["XLEN trimmed".to_string()])
        .trim()
        .parse()
        .unwrap();
    assert!(len < 500, "MAXLEN ~ 10 trimmed the stream: {len}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_server_fails_the_write_retryably_and_the_next_write_reconnects() {
    let mut redis = server().await;
    let sink = RedisStreamsSink::new();
    let config = RedisStreamsSinkConfig::from_value(json!({"url": redis.url()})).unwrap();
    assert!(sink
        .write_borrowed(&config, &events("s", 3))
        .await
        .unwrap()
        .is_success());
    redis.kill();
    let err = sink
        .write_borrowed(&config, &events("s", 3))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    redis.restart().await.unwrap();
    assert!(sink
        .write_borrowed(&config, &events("s", 3))
        .await
        .unwrap()
        .is_success());
    let len: u64 = cli(&redis, &["XLEN s".to_string()]).trim().parse().unwrap();
    assert_eq!(len, 6, "appendfsync always kept the first batch");
}
