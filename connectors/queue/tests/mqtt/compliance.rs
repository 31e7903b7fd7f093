//! The SDK's compliance checks of the `mqtt` sink against a real broker.

use futures::FutureExt;
use rivven_connect_queue::mqtt::MqttSink;
use rivven_connect_testing::{assert_sink_compliance, SinkCompliance};

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
