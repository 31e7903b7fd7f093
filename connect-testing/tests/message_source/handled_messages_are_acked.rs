use rivven_connect::runtime::{OnError, Pipeline, PipelineState};
use rivven_connect::TransformOutput;
use rivven_connect_testing::mock::POISON_KEY;
use rivven_connect_testing::prelude::*;
use serde_json::json;
use std::collections::BTreeSet;

use crate::common::{ids, memory, run_to_end, settings};

/// Publishes 0..60 where every 10th message is poison; returns the poison ids.
fn publish(broker: &MockBroker) -> BTreeSet<u64> {
    let mut poison = BTreeSet::new();
    for i in 0..60u64 {
        if i % 10 == 3 {
            poison.insert(broker.publish(json!({ "id": i, POISON_KEY: true })));
        } else {
            broker.publish(json!({ "id": i }));
        }
    }
    broker.close();
    poison
}

/// Messages a transform drops and poison messages `on_error` disposes of are
/// handled: the checkpoint covers them and they are acknowledged with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_skipped_and_dead_lettered_messages_are_acked() {
    for on_error in [OnError::Skip, OnError::DeadLetter] {
        let broker = MockBroker::new();
        let poison = publish(&broker);
        let sink = MockSink::new();
        let dlq = MockSink::new();
        let odd_dropped = MockTransform::new(|e| {
            Ok(if e.data["id"].as_u64().is_some_and(|i| i % 2 == 1) {
                TransformOutput::Drop
            } else {
                TransformOutput::Emit(e)
            })
        });
        let p = run_to_end(
            memory(),
            Pipeline::builder("handled")
                .source(
                    MockMessageSource::new(broker.clone()),
                    MockConfig::default(),
                )
                .transform(odd_dropped, MockConfig::default())
                .sink(sink.clone(), MockConfig::default())
                .dead_letter(dlq.clone(), MockConfig::default())
                .settings(settings().with_on_error(on_error)),
        )
        .await;
        assert_eq!(p.state, PipelineState::Completed, "{on_error:?}: {p:?}");
        let all: BTreeSet<u64> = (0..60).collect();
        assert_eq!(broker.acked_ids(), all, "{on_error:?}");
        assert!(broker.ack_counts().values().all(|&n| n == 1));
        let expected: BTreeSet<u64> = all
            .iter()
            .copied()
            .filter(|i| i % 2 == 0 && !poison.contains(i))
            .collect();
        assert_eq!(ids(&sink.written_events()), expected);
        match on_error {
            OnError::Skip => {
                assert_eq!(p.events_failed, poison.len() as u64);
                assert_eq!(dlq.written_count(), 0);
            }
            _ => {
                assert_eq!(p.events_dead_lettered, poison.len() as u64);
                let letters = dlq.written_events();
                assert_eq!(letters.len(), poison.len());
                for letter in &letters {
                    assert_eq!(letter.data["stage"], "source");
                    assert_eq!(letter.data["connector"], "mock-messages");
                    assert_eq!(letter.data["error_kind"], "data");
                    let raw: serde_json::Value =
                        serde_json::from_str(letter.data["raw_record"].as_str().unwrap()).unwrap();
                    assert_eq!(raw[POISON_KEY], true, "the whole message: {raw}");
                }
            }
        }
    }
}

/// With `on_error: stop` a poison message is not handled: it is never
/// acknowledged (the broker keeps it for the next consumer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_that_stops_the_pipeline_is_not_acked() {
    let broker = MockBroker::new();
    let poison = publish(&broker);
    let p = run_to_end(
        memory(),
        Pipeline::builder("stop")
            .source(
                MockMessageSource::new(broker.clone()),
                MockConfig::default(),
            )
            .sink(MockSink::new(), MockConfig::default())
            .settings(settings().with_on_error(OnError::Stop)),
    )
    .await;
    assert_eq!(p.state, PipelineState::Failed, "{p:?}");
    let first_poison = poison.first().copied().unwrap();
    let acked = broker.acked_ids();
    assert!(!acked.contains(&first_poison));
    assert!(acked.iter().all(|&i| i < first_poison), "{acked:?}");
}
