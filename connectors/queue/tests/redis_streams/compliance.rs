//! The SDK's compliance checks of the `redis-streams` source and sink.

use futures::FutureExt;
use rivven_connect_queue::redis::{RedisStreamsSink, RedisStreamsSource};
use rivven_connect_testing::{
    assert_sink_compliance, assert_source_compliance, Resume, SinkCompliance, SourceCompliance,
};
use serde_json::json;

use crate::support::*;

fn closed_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("redis://127.0.0.1:{}/", l.local_addr().unwrap().port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_passes_the_compliance_checks() {
    let redis = server().await;
    add(&redis, "compliance", 0..40);
    let config = source_json(&redis, "compliance", "g");
    let mut unreachable = config.clone();
    unreachable["url"] = json!(closed_url());
    unreachable["connect_timeout_ms"] = json!(2000);
    // Resume: a consumer group keeps the position on the server (pending
    // entries and XACK), not in the state; see the redelivery tests.
    let compliance = SourceCompliance::new(RedisStreamsSource::new(), config)
        .unreachable(unreachable)
        .resume(Resume::Skip);
    assert_source_compliance(compliance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_passes_the_compliance_checks() {
    let redis = server().await;
    let port = redis.port();
    let config = json!({"url": redis.url(), "stream": "compliance-sink"});
    let unreachable = json!({"url": closed_url(), "connect_timeout_ms": 2000});
    let compliance = SinkCompliance::new(RedisStreamsSink::new(), config)
        .unreachable(unreachable)
        .verify(move |events| {
            async move {
                let out = tokio::task::spawn_blocking(move || {
                    std::process::Command::new("redis-cli")
                        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--no-raw"])
                        .args(["XRANGE", "compliance-sink", "-", "+"])
                        .output()
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let entries = text.matches("\"payload\"").count();
                if entries != events.len() {
                    return Err(format!("{entries} entries, wrote {}: {text}", events.len()));
                }
                for e in &events {
                    let payload = match &e.data {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let quoted = serde_json::to_string(&payload).map_err(|e| e.to_string())?;
                    if !text.contains(&quoted) {
                        return Err(format!("missing {quoted} in {text}"));
                    }
                }
                Ok(())
            }
            .boxed()
        });
    assert_sink_compliance(compliance).await;
}
