//! The SDK's compliance checks of the `nats` source and sink.

use futures::FutureExt;
use rivven_connect_queue::nats::{NatsSink, NatsSource};
use rivven_connect_testing::{
    assert_sink_compliance, assert_source_compliance, Resume, SinkCompliance, SourceCompliance,
};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_passes_the_compliance_checks() {
    let nats = server().await;
    create_stream(&nats, "COMPLIANCE", &["compliance.>"]).await;
    publish_ids(&nats, "compliance.a", 0..40);
    let config = source_json(&nats, "COMPLIANCE");
    let mut unreachable = config.clone();
    unreachable["url"] = json!(closed_url());
    unreachable["connect_timeout_ms"] = json!(1000);
    // Resume: the durable consumer keeps the position on the server (acks),
    // not in the state; see the redelivery tests.
    let compliance = SourceCompliance::new(NatsSource::new(), config)
        .unreachable(unreachable)
        .resume(Resume::Skip);
    assert_source_compliance(compliance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_passes_the_compliance_checks() {
    let nats = server().await;
    create_stream(&nats, "CSINK", &["csink"]).await;
    let url = nats.url();
    let unreachable = json!({"url": closed_url(), "connect_timeout_ms": 1000});
    let nats = std::sync::Arc::new(nats);
    let reader = nats.clone();
    let compliance = SinkCompliance::new(NatsSink::new(), sink_json(&nats, "csink"))
        .unreachable(unreachable)
        .verify(move |events| {
            let nats = reader.clone();
            async move {
                let back = tokio::task::spawn_blocking(move || read_back(&nats, "CSINK"))
                    .await
                    .map_err(|e| e.to_string())?;
                let got: Vec<Vec<u8>> = back.into_iter().map(|(_, p, _)| p).collect();
                let want: Vec<Vec<u8>> = events
                    .iter()
                    .map(|e| match &e.data {
                        serde_json::Value::String(s) => s.clone().into_bytes(),
                        other => other.to_string().into_bytes(),
                    })
                    .collect();
                if got == want {
                    Ok(())
                } else {
                    Err(format!(
                        "read back {} messages, wrote {}",
                        got.len(),
                        want.len()
                    ))
                }
            }
            .boxed()
        });
    assert_sink_compliance(compliance).await;
    drop(url);
}
