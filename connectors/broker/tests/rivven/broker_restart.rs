//! A clean broker restart (`SIGTERM`) mid-stream: the sink's writes fail
//! retryably, the runtime retries them, and no event is lost (by id).

use std::collections::BTreeSet;
use std::time::Duration;

use rivven_connect::runtime::{PipelineSettings, RestartPolicy};
use rivven_connect::{CircuitBreakerConfig, RetryConfig};
use rivven_connect_testing::{MockSource, TestHarness};

use crate::support::*;

/// Retries that outlast a broker restart (~5 s to stop, ~1 s to start).
pub fn patient_settings() -> PipelineSettings {
    PipelineSettings {
        batch_size: 100,
        retry: RetryConfig {
            max_retries: 40,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryConfig::default()
        },
        // The default breaker stays open 30 s after 5 failed writes: longer
        // than the test needs to wait for the broker.
        circuit_breaker: CircuitBreakerConfig {
            open_duration: Duration::from_millis(500),
            ..CircuitBreakerConfig::default()
        },
        restart: RestartPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_consecutive_failures: 30,
            ..RestartPolicy::default()
        },
        ..PipelineSettings::default()
    }
}

#[tokio::test]
async fn a_sigterm_restart_of_the_broker_mid_stream_loses_nothing() {
    let mut broker = broker().await;
    let servers = broker.bootstrap_servers();
    let mut config = sink_config(&servers, "restarted");
    config.request_timeout_ms = 2000;
    config.connection_timeout_ms = 1000;
    let total = 3000;
    let source = MockSource::counting(total).with_delay(Duration::from_micros(500));
    let sink = Recording::default();
    let harness = TestHarness::with_configs(source, Default::default(), sink.clone(), config)
        .with_settings(patient_settings())
        .with_timeout(Duration::from_secs(120));
    let pipeline = tokio::spawn(async move { harness.run_pipeline().await });

    // Restart once some events are on the broker, while the source still runs.
    let acked = sink.acknowledged.clone();
    let started = rivven_connect_testing::eventually(
        || acked.lock().unwrap().len() > 300,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        started,
        "the pipeline did not get 300 events onto the broker"
    );
    broker.restart().await.unwrap();
    let before_end = acked.lock().unwrap().len() as u64;
    let result = pipeline.await.unwrap().unwrap();
    assert!(result.success, "{result:?}");
    assert!(
        before_end < total,
        "the restart happened after the stream ended"
    );

    let messages = read_back(&broker.addr(), "restarted").await;
    let ids = id_set(&messages);
    let missing: Vec<u64> = (0..total).filter(|i| !ids.contains(i)).collect();
    println!(
        "SIGTERM restart after {before_end} acknowledged events: {} messages for {total} events ({} duplicates), missing {missing:?}",
        messages.len(),
        messages.len() as u64 - ids.len() as u64
    );
    assert!(
        missing.is_empty(),
        "lost across a clean broker restart: {missing:?}"
    );
    assert_eq!(ids, (0..total).collect::<BTreeSet<u64>>());
}

#[tokio::test]
async fn the_source_reads_on_across_a_sigterm_restart_of_the_broker() {
    use rivven_connect_broker::rivven::{RivvenSink, RivvenSource};
    use rivven_connect_testing::MockSink;

    let mut broker = broker().await;
    let servers = broker.bootstrap_servers();
    let sink = RivvenSink::new();
    let sink_config = sink_config(&servers, "reread");
    write_all(&sink, &sink_config, &orders(0..300)).await;
    let mut config = source_config(&servers, "reread", "survivor");
    config.request_timeout_ms = 2000;
    config.connection_timeout_ms = 1000;
    let written = MockSink::new();
    let harness = TestHarness::with_configs(
        RivvenSource::new(),
        config.clone(),
        written.clone(),
        Default::default(),
    )
    .with_settings(patient_settings());
    let pipeline = tokio::spawn(async move { harness.run_for(Duration::from_secs(20)).await });

    let seen = written.clone();
    let first =
        rivven_connect_testing::eventually(|| seen.written_count() >= 300, Duration::from_secs(30))
            .await;
    assert!(first, "the first 300 events were not read");
    broker.restart().await.unwrap();
    write_all(&sink, &sink_config, &orders(300..600)).await;
    let result = pipeline.await.unwrap().unwrap();
    assert!(result.success, "{result:?}");
    let ids: BTreeSet<u64> = written
        .written_events()
        .iter()
        .map(|e| e.data["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (0..600).collect::<BTreeSet<u64>>());
    let committed = RivvenSource::new()
        .committed_offsets(&config)
        .await
        .unwrap();
    assert_eq!(
        committed.iter().map(|(_, n)| n).sum::<u64>(),
        600,
        "{committed:?}"
    );
}
