//! The SDK's compliance checks of both connectors against a real broker.

use futures::FutureExt;
use rivven_connect_broker::rivven::{RivvenSink, RivvenSource};
use rivven_connect_testing::{
    assert_sink_compliance, assert_source_compliance, SinkCompliance, SourceCompliance,
};

use crate::support::*;

#[tokio::test]
async fn the_sink_passes_the_compliance_checks() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let addr = broker.addr();
    let compliance = SinkCompliance::new(RivvenSink::new(), sink_json(&servers, "compliance-sink"))
        .unreachable(sink_json(&[closed_port()], "compliance-sink"))
        .verify(move |events| {
            async move {
                let messages = read_back(&addr, "compliance-sink").await;
                let mut got: Vec<serde_json::Value> = messages.iter().map(Message::json).collect();
                let mut want: Vec<serde_json::Value> = events
                    .iter()
                    .map(|e| serde_json::to_value(e).unwrap())
                    .collect();
                let order = |v: &serde_json::Value| v.to_string();
                got.sort_by_key(order);
                want.sort_by_key(order);
                if got == want {
                    Ok(())
                } else {
                    Err(format!(
                        "read back {} messages, {got:?}; wrote {want:?}",
                        got.len()
                    ))
                }
            }
            .boxed()
        });
    assert_sink_compliance(compliance).await;
}

#[tokio::test]
async fn the_source_passes_the_compliance_checks() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let sink = RivvenSink::new();
    write_all(
        &sink,
        &sink_config(&servers, "compliance-source"),
        &orders(0..40),
    )
    .await;
    let config = source_json(&servers, "compliance-source", "compliance");
    let unreachable = source_json(&[closed_port()], "compliance-source", "compliance");
    let compliance = SourceCompliance::new(RivvenSource::new(), config).unreachable(unreachable);
    assert_source_compliance(compliance).await;
}
