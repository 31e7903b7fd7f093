//! The SDK's compliance checks of the `http-webhook` sink.

use futures::FutureExt;
use rivven_connect_http::webhook::WebhookSink;
use rivven_connect_testing::{assert_sink_compliance, SinkCompliance};
use serde_json::json;
use std::sync::Arc;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_passes_the_compliance_checks() {
    let server = Arc::new(Receiver::start(|_, _| OK).await);
    let config = json!({
        "url": server.url(),
        "batch_size": 7,
        "headers": {"Authorization": "Bearer compliance-s3cret"},
    });
    let unreachable = json!({"url": closed_url(), "timeout_secs": 2});
    let seen = Arc::clone(&server);
    let compliance = SinkCompliance::new(WebhookSink::new(), config)
        .unreachable(unreachable)
        .secret("compliance-s3cret")
        .verify(move |events| {
            async move {
                let bodies: Vec<serde_json::Value> = seen
                    .accepted()
                    .iter()
                    .filter(|r| r.method == "POST")
                    .flat_map(|r| r.json().as_array().cloned().unwrap_or_default())
                    .collect();
                let sent: Vec<serde_json::Value> = events.iter().map(|e| e.data.clone()).collect();
                if bodies != sent {
                    return Err(format!("received {bodies:?}, wrote {sent:?}"));
                }
                Ok(())
            }
            .boxed()
        });
    assert_sink_compliance(compliance).await;
}
