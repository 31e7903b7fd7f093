//! W5 `low-rate`: source-to-durable latency at 100 events/s with default
//! settings. datagen (`orders`, `events_per_second: 100`; each event's
//! timestamp is taken when it is emitted) → runtime, `PipelineSettings`
//! defaults → the `file` sink with its defaults (sync per batch), wrapped in
//! [`TimedFile`], which records after each write returned the time since each
//! event's timestamp.

use rivven_connect::builtin::{DataPattern, DatagenConfig, DatagenSource, FileSinkConfig};
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineSettings, Runtime};
use rivven_connect::{ConnectorError, Result};
use serde_json::{json, Value};
use std::path::Path;

use crate::sinks::{percentile_ms, TimedFile};

/// The offered rate.
pub const EVENTS_PER_SECOND: u32 = 100;

/// Run for `seconds` (at least one event); `(events read, written, extra)`
/// with p50/p99/max latency in `extra`.
pub async fn run(seconds: f64, out: &Path) -> Result<(u64, u64, Value)> {
    let n = ((seconds * f64::from(EVENTS_PER_SECOND)).round() as u64).max(1);
    let mut config = DatagenConfig::new(DataPattern::Orders);
    config.events_per_second = EVENTS_PER_SECOND;
    config.max_events = n;
    config.seed = Some(42);
    let sink = TimedFile::default();
    let settings = PipelineSettings::default();
    let timeout_ms = settings.sink_batch.timeout_ms;
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("low-rate")
                .source(DatagenSource::new(), config)
                .sink(sink.clone(), FileSinkConfig::new(out))
                .settings(settings),
        )
        .start()
        .await?;
    let status = runtime.wait().await;
    let p = status
        .pipeline("low-rate")
        .cloned()
        .ok_or_else(|| ConnectorError::fatal("no status"))?;
    if !status.all_succeeded() {
        return Err(ConnectorError::fatal(format!(
            "pipeline failed: {:?}",
            p.last_error
        )));
    }
    let mut lat = sink.latencies_us();
    lat.sort_unstable();
    Ok((
        p.events_read,
        p.events_written,
        json!({
            "events_per_second": EVENTS_PER_SECOND,
            "latency_ms": {
                "p50": percentile_ms(&lat, 0.50),
                "p99": percentile_ms(&lat, 0.99),
                "max": percentile_ms(&lat, 1.0),
            },
            "timed_events": lat.len(),
            "sink_batch_timeout_ms": timeout_ms,
        }),
    ))
}
