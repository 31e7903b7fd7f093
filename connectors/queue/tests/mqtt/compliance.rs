//! The SDK's compliance checks of the `mqtt` sink against a real broker.

use futures::FutureExt;
use std::time::Duration;

use rivven_connect_queue::mqtt::{MqttSink, MqttSource};
use rivven_connect_testing::{
    assert_sink_compliance, assert_source_compliance, MockSink, Resume, SinkCompliance,
    SourceCompliance, TestHarness,
};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_passes_the_compliance_checks() {
    let broker = broker().await;
    let unreachable = serde_json::json!({"broker_url": closed_url(), "connect_timeout_secs": 2, "write_timeout_ms": 3000});
    let subscriber = Subscriber::start(&broker, "compliance", 20).await;
    let compliance = SinkCompliance::new(MqttSink::new(), sink_json(&broker, "compliance"))
        .unreachable(unreachable)
        .verify(move |events| {
            async move {
                let got: Vec<String> = tokio::task::spawn_blocking(move || subscriber.finish())
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|(_, payload)| payload)
                    .collect();
                let want: Vec<String> = events
                    .iter()
                    .map(|e| match &e.data {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                if got == want {
                    Ok(())
                } else {
                    Err(format!("read back {got:?}, wrote {want:?}"))
                }
            }
            .boxed()
        });
    assert_sink_compliance(compliance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_passes_the_compliance_checks() {
    let broker = broker().await;
    let config = source_json(&broker, &["compliance/#"], "compliance");
    // The persistent session first, then the messages it keeps.
    TestHarness::with_configs(
        MqttSource::new(),
        source_config(&broker, &["compliance/#"], "compliance"),
        MockSink::new(),
        Default::default(),
    )
    .run_for(Duration::from_millis(1500))
    .await
    .unwrap();
    publish(&broker, "compliance/a", &ids_payloads(0..40));
    let mut unreachable = config.clone();
    unreachable["broker_url"] = serde_json::json!(closed_url());
    unreachable["connect_timeout_secs"] = serde_json::json!(2);
    // Resume: a message source keeps no position in the state (the broker's
    // session holds what is unacknowledged; see the redelivery tests).
    let compliance = SourceCompliance::new(MqttSource::new(), config)
        .unreachable(unreachable)
        .resume(Resume::Skip);
    assert_source_compliance(compliance).await;
}
