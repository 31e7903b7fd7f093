//! `rediss://` against a private Redis serving a certificate from a test
//! CA: the sink writes and the source reads back over TLS (`redis-cli
//! --tls` checks what was written); a server the CA does not vouch for is
//! refused.

use std::process::Command;
use std::time::Duration;

use rivven_connect::{Sink, SinkConfig, Source, SourceConfig, SourceEvent};
use rivven_connect_queue::redis::{
    RedisStreamsSink, RedisStreamsSinkConfig, RedisStreamsSource, RedisStreamsSourceConfig,
};
use rivven_connect_testing::services::{Redis, TestCertificates};
use rivven_connect_testing::{MockSink, TestHarness};
use serde_json::json;

use crate::support::id_counts;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_trip_over_tls_and_an_untrusted_server_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "redis-ca").unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = TestCertificates::generate(other_dir.path(), "other-ca").unwrap();
    let redis = Redis::start_with_tls(&certs.cert, &certs.key)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(redis.url().starts_with("rediss://127.0.0.1:"));
    let tls = json!({"ca_file": certs.ca});

    let sink = RedisStreamsSinkConfig::from_value(json!({
        "url": redis.url(), "stream": "secure", "tls": tls
    }))
    .unwrap();
    let events: Vec<SourceEvent> = (0..5)
        .map(|i| SourceEvent::record("s", json!({"id": i})))
        .collect();
    let written = RedisStreamsSink::new()
        .write_borrowed(&sink, &events)
        .await
        .unwrap();
    assert!(written.is_success(), "{written:?}");
    // An independent client over TLS sees the entries.
    let out = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &redis.port().to_string(),
            "--tls",
            "--cacert",
        ])
        .arg(&certs.ca)
        .args(["XLEN", "secure"])
        .output()
        .expect("redis-cli (Debian package redis-tools)");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");

    let source = RedisStreamsSourceConfig::from_value(json!({
        "url": redis.url(), "stream": "secure", "group": "g", "block_ms": 100, "tls": tls
    }))
    .unwrap();
    assert!(RedisStreamsSource::new()
        .check(&source)
        .await
        .unwrap()
        .is_success());
    let got = MockSink::new();
    TestHarness::with_configs(
        RedisStreamsSource::new(),
        source,
        got.clone(),
        Default::default(),
    )
    .run_for(Duration::from_secs(2))
    .await
    .unwrap();
    assert_eq!(
        id_counts(&got.written_events()),
        (0..5).map(|i| (i, 1)).collect()
    );

    // Another CA: the handshake fails, the check says so in one line.
    let untrusting = RedisStreamsSourceConfig::from_value(json!({
        "url": redis.url(), "stream": "secure", "group": "g", "tls": {"ca_file": other.ca},
        "connect_timeout_ms": 3000
    }))
    .unwrap();
    let check = RedisStreamsSource::new().check(&untrusting).await.unwrap();
    assert!(!check.is_success());
    assert!(
        !check.summary().trim().contains('\n'),
        "{}",
        check.summary()
    );
    // `tls` with a plain URL is refused, not ignored.
    let plain = RedisStreamsSourceConfig::from_value(json!({
        "url": "redis://127.0.0.1:1/", "stream": "s", "group": "g", "tls": tls
    }))
    .unwrap();
    let check = RedisStreamsSource::new().check(&plain).await.unwrap();
    assert!(
        check.summary().contains("use rediss://"),
        "{}",
        check.summary()
    );
}
