//! `batch:` of a sink in YAML: every field has a default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect::config::ConnectConfig;
use rivven_connect::registry::Registry;
use rivven_connect::BatchConfig;

fn sink_batch(yaml_batch: &str) -> BatchConfig {
    let text = format!(
        "sources:\n  gen: {{ connector: datagen, config: {{ pattern: sequence, max_events: 3 }} }}\n\
         sinks:\n  out: {{ connector: stdout, batch: {yaml_batch} }}\n\
         pipelines:\n  p: {{ source: gen, sink: out }}\n"
    );
    let config = ConnectConfig::from_str(&text).unwrap();
    let registry = Registry::discovered().unwrap();
    config.planned_pipelines(&registry, false).unwrap()[0]
        .settings()
        .sink_batch
}

/// Fails before the fix: `timeout_ms` alone was "missing required key `max_records`".
#[test]
fn a_timeout_alone_keeps_the_default_size() {
    let batch = sink_batch("{ timeout_ms: 50 }");
    assert_eq!(
        (batch.max_records, batch.timeout_ms),
        (BatchConfig::DEFAULT_MAX_RECORDS, 50)
    );
}

#[test]
fn a_size_alone_keeps_the_default_timeout() {
    let batch = sink_batch("{ max_records: 7 }");
    assert_eq!((batch.max_records, batch.timeout_ms), (7, 1_000));
    let batch = sink_batch("{}");
    assert_eq!(
        (batch.max_records, batch.timeout_ms),
        (BatchConfig::DEFAULT_MAX_RECORDS, 1_000)
    );
}
