use rivven_connect::runtime::{MemoryOffsetStore, OnError, Pipeline, PipelineState, Runtime};
use rivven_connect::{ConnectorError, TransformOutput};
use rivven_connect_testing::prelude::*;
use std::collections::BTreeSet;

use crate::common::{fast_settings, ids};

/// Records rejected by a transform (id % 11 == 0) and by the sink
/// (id % 7 == 0) land in the dead-letter sink exactly once each, with the
/// original event, the error, the stage and the connector; everything else
/// reaches the main sink; the offsets cover it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_receives_exactly_the_failed_events() {
    let n = 1_000u64;
    let sink = MockSink::new().fail_records(|e| e.data["id"].as_u64().is_some_and(|i| i % 7 == 0));
    let dlq = MockSink::new();
    let transform = MockTransform::new(|e| {
        if e.data["id"].as_u64().is_some_and(|i| i % 11 == 0) {
            Err(ConnectorError::data("id divisible by 11"))
        } else {
            Ok(TransformOutput::Emit(e))
        }
    });
    let store = MemoryOffsetStore::new();
    let runtime = Runtime::builder()
        .offset_store(store.clone())
        .pipeline(
            Pipeline::builder("dlq")
                .source(MockSource::counting(n), MockConfig::default())
                .transform(transform, MockConfig::default())
                .sink(sink.clone(), MockConfig::default())
                .dead_letter(dlq.clone(), MockConfig::default())
                .settings(fast_settings().with_on_error(OnError::DeadLetter)),
        )
        .start()
        .await
        .unwrap();
    let status = runtime.wait().await;
    let p = status.pipeline("dlq").unwrap().clone();
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");

    let by_transform: BTreeSet<u64> = (0..n).filter(|i| i % 11 == 0).collect();
    let by_sink: BTreeSet<u64> = (0..n).filter(|i| i % 7 == 0 && i % 11 != 0).collect();
    let letters = dlq.written_events();
    let mut seen_transform = Vec::new();
    let mut seen_sink = Vec::new();
    for letter in &letters {
        let id = letter.data["event"]["data"]["id"]
            .as_u64()
            .expect("original event in the envelope");
        assert_eq!(letter.data["pipeline"], "dlq");
        assert!(letter.data["timestamp"].is_string());
        match letter.data["stage"].as_str() {
            Some("transform") => {
                assert_eq!(letter.data["connector"], "mock-transform");
                assert!(letter.data["error"]
                    .as_str()
                    .unwrap()
                    .contains("divisible by 11"));
                seen_transform.push(id);
            }
            Some("sink") => {
                assert_eq!(letter.data["connector"], "mock");
                assert!(letter.data["error"].as_str().unwrap().contains("rejected"));
                seen_sink.push(id);
            }
            other => panic!("unexpected stage {other:?}"),
        }
    }
    assert_eq!(
        seen_transform.iter().copied().collect::<BTreeSet<_>>(),
        by_transform
    );
    assert_eq!(seen_sink.iter().copied().collect::<BTreeSet<_>>(), by_sink);
    assert_eq!(
        letters.len(),
        by_transform.len() + by_sink.len(),
        "each failed event exactly once"
    );

    let written: BTreeSet<u64> = ids(&sink.written_events()).into_iter().collect();
    let expected: BTreeSet<u64> = (0..n).filter(|i| i % 7 != 0 && i % 11 != 0).collect();
    assert_eq!(written, expected);
    assert_eq!(p.events_dead_lettered, letters.len() as u64);
    assert_eq!(p.events_written, expected.len() as u64);
    assert_eq!(MockSource::position(&store.get("dlq").unwrap()), n);
}
