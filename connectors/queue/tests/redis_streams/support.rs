//! The server, `redis-cli`, configs.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use rivven_connect::{SourceConfig, SourceEvent};
use rivven_connect_queue::redis::RedisStreamsSourceConfig;
use rivven_connect_testing::services::Redis;
use serde_json::{json, Value};

pub async fn server() -> Redis {
    Redis::start().await.unwrap_or_else(|e| panic!("{e}"))
}

/// Run `redis-cli` with one command per line on stdin; its stdout.
pub fn cli(redis: &Redis, commands: &[String]) -> String {
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &redis.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli (Debian package redis-tools)");
    {
        let stdin = child.stdin.as_mut().unwrap();
        for c in commands {
            writeln!(stdin, "{c}").unwrap();
        }
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "redis-cli failed");
    String::from_utf8(out.stdout).unwrap()
}

/// `XADD stream * payload {"id": i}` for each id.
pub fn add(redis: &Redis, stream: &str, ids: std::ops::Range<u64>) {
    let commands: Vec<String> = ids
        .map(|i| format!("XADD {stream} * payload '{}'", json!({"id": i})))
        .collect();
    cli(redis, &commands);
}

pub fn source_json(redis: &Redis, stream: &str, group: &str) -> Value {
    json!({"url": redis.url(), "stream": stream, "group": group, "consumer": "c1", "block_ms": 100})
}

pub fn source_config(redis: &Redis, stream: &str, group: &str) -> RedisStreamsSourceConfig {
    RedisStreamsSourceConfig::from_value(source_json(redis, stream, group)).unwrap()
}

pub fn id_counts(events: &[SourceEvent]) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        *counts.entry(e.data["id"].as_u64().unwrap()).or_default() += 1;
    }
    counts
}

/// Entries of `group` pending (delivered, not acknowledged).
pub fn pending(redis: &Redis, stream: &str, group: &str) -> u64 {
    let out = cli(redis, &[format!("XPENDING {stream} {group}")]);
    out.lines().next().unwrap().trim().parse().unwrap()
}

/// The id of the first entry of `stream`.
pub fn first_id(redis: &Redis, stream: &str) -> String {
    let out = cli(redis, &[format!("XRANGE {stream} - + COUNT 1")]);
    out.lines().next().unwrap().trim().to_string()
}
