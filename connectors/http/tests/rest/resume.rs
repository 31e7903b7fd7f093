//! Through the real runtime: a pipeline stopped in the middle of the pages
//! resumes after the last committed record — every record once.

use std::time::Duration;

use rivven_connect::runtime::PipelineSettings;
use rivven_connect::SourceConfig;
use rivven_connect_http::rest::{RestSource, RestSourceConfig};
use rivven_connect_testing::{MockConfig, MockSink, TestHarness};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_the_pages_reads_every_record_once() {
    let api = Api::start(Options {
        records: 400,
        delay: Duration::from_millis(60),
        ..Options::default()
    })
    .await;
    let config = RestSourceConfig::from_value(json!({
        "url": api.url("offset"),
        "records_pointer": "/data",
        "pagination": {"type": "offset", "limit": 20},
        "cursor_field": "id",
        "cursor_param": "since",
        "interval_ms": 100000,
    }))
    .unwrap();
    let sink = MockSink::new();
    let harness = TestHarness::with_configs(
        RestSource::new(),
        config,
        sink.clone(),
        MockConfig::default(),
    )
    .with_settings(
        PipelineSettings::default()
            .with_batch_size(7)
            .with_checkpoint_interval(Duration::ZERO),
    );
    // 20 pages at 60 ms each: stopped after about a third of them.
    let first = harness.run_for(Duration::from_millis(500)).await.unwrap();
    assert!(first.success, "{first:?}");
    let read_first = sink.written_count();
    assert!(
        read_first > 0 && read_first < 400,
        "stopped in the middle: {read_first}"
    );
    let committed = harness.committed_state().unwrap();
    let cursor = committed
        .get_stream("http")
        .unwrap()
        .cursor_as_i64()
        .unwrap() as u64;
    assert_eq!(
        cursor + 1,
        read_first as u64,
        "the cursor is the last id written"
    );

    let hits_before = api.hits().len();
    let second = harness.run_for(Duration::from_secs(4)).await.unwrap();
    assert!(second.success, "{second:?}");
    let all = ids(&sink.written_events());
    assert_eq!(
        all,
        (0..400).collect::<Vec<_>>(),
        "every record once, in order"
    );
    let resumed = &api.hits()[hits_before..];
    // (The runtime's `check` asks for the first page, without a cursor.)
    let first_poll = resumed
        .iter()
        .find(|h| h.query.contains_key("since"))
        .unwrap();
    assert_eq!(
        first_poll.query["since"],
        cursor.to_string(),
        "asked since the committed cursor"
    );
    assert_eq!(first_poll.query["offset"], "0");
}
