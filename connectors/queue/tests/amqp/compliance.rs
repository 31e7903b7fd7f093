//! The SDK's compliance checks of the `amqp` source and sink.

use futures::FutureExt;
use rivven_connect_queue::amqp::{AmqpSink, AmqpSource};
use rivven_connect_testing::services::RabbitMq;
use rivven_connect_testing::{
    assert_sink_compliance, assert_source_compliance, Resume, SinkCompliance, SourceCompliance,
};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_and_the_sink_pass_the_compliance_checks() {
    let rabbit = RabbitMq::builder()
        .user("rivven", "compliance-s3cret")
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    publish_ids(&rabbit, "compliance", 0..40);
    let config = source_json(&rabbit, "compliance");
    let mut unreachable = config.clone();
    unreachable["url"] = json!(closed_url());
    unreachable["connect_timeout_ms"] = json!(2000);
    // Resume: the broker keeps the position (acknowledged or not), not the
    // state; see the redelivery tests.
    let compliance = SourceCompliance::new(AmqpSource::new(), config)
        .unreachable(unreachable)
        .secret("compliance-s3cret")
        .resume(Resume::Skip);
    assert_source_compliance(compliance).await;

    let mut config = sink_json(&rabbit);
    config["routing_key"] = json!("compliance-sink");
    config["declare_queues"] = json!([{"name": "compliance-sink"}]);
    let mut unreachable = sink_json(&rabbit);
    unreachable["url"] = json!(closed_url());
    unreachable["connect_timeout_ms"] = json!(2000);
    let (port, user, password) = (
        rabbit.port(),
        rabbit.user().to_owned(),
        rabbit.password().to_owned(),
    );
    let compliance = SinkCompliance::new(AmqpSink::new(), config)
        .unreachable(unreachable)
        .secret("compliance-s3cret")
        .verify(move |events| {
            let (user, password) = (user.clone(), password.clone());
            async move {
                let messages = tokio::task::spawn_blocking(move || {
                    get_all_at(port, &user, &password, "compliance-sink")
                })
                .await
                .map_err(|e| e.to_string())?;
                if messages.len() != events.len() {
                    return Err(format!(
                        "{} messages, wrote {}",
                        messages.len(),
                        events.len()
                    ));
                }
                for (m, e) in messages.iter().zip(&events) {
                    let body = unb64(&m["body"]);
                    let expected = match &e.data {
                        serde_json::Value::String(s) => s.clone().into_bytes(),
                        other => other.to_string().into_bytes(),
                    };
                    if body != expected {
                        return Err(format!("{body:?} != {expected:?}"));
                    }
                }
                Ok(())
            }
            .boxed()
        });
    assert_sink_compliance(compliance).await;
}
