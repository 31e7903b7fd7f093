//! W5 `low-rate`: source-to-durable latency at 100 events/s with default
//! settings. A source emitting one order every 10 ms ([`Ticker`]; each
//! event's timestamp is taken when it is emitted) → runtime,
//! `PipelineSettings` defaults → the `file` sink with its defaults (sync per
//! batch), wrapped in [`TimedFile`], which records after each write returned
//! the time since each event's timestamp. (datagen's `events_per_second`
//! would start with a burst of one second's events, its limiter's burst
//! capacity, which are not a low rate.)

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::builtin::FileSinkConfig;
use rivven_connect::prelude::*;
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineSettings, Runtime};
use rivven_connect::ConnectorKind;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

use crate::sinks::{percentile_ms, TimedFile};

/// The offered rate.
pub const EVENTS_PER_SECOND: u32 = 100;

/// Run for `seconds` (at least one event); `(events read, written, extra)`
/// with p50/p99/max latency in `extra`.
pub async fn run(seconds: f64, out: &Path) -> Result<(u64, u64, Value)> {
    let config = TickerConfig {
        every_us: 1_000_000 / u64::from(EVENTS_PER_SECOND),
        count: ((seconds * f64::from(EVENTS_PER_SECOND)).round() as u64).max(1),
    };
    let sink = TimedFile::default();
    let settings = PipelineSettings::default();
    let timeout_ms = settings.sink_batch.timeout_ms;
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("low-rate")
                .source(Ticker, config)
                .sink(sink.clone(), FileSinkConfig::new(out))
                .settings(settings),
        )
        .start()
        .await?;
    let p = crate::workloads::run_to_end(runtime, "low-rate").await?;
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

/// Config of [`Ticker`].
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema)]
pub struct TickerConfig {
    /// Microseconds between two events.
    pub every_us: u64,
    /// Events to emit, then end.
    pub count: u64,
}

impl SourceConfig for TickerConfig {}

/// Emits datagen-like orders at a steady pace, one per tick (missed ticks are
/// caught up, so the average rate holds).
#[derive(Debug, Clone, Copy)]
pub struct Ticker;

#[async_trait]
impl Source for Ticker {
    type Config = TickerConfig;
    fn spec() -> ConnectorSpec {
        ConnectorSpec::builder("ticker", "1.0.0")
            .kind(ConnectorKind::Source)
            .build()
    }
    async fn read(
        &self,
        config: &TickerConfig,
        _: &ConfiguredCatalog,
        _: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let interval = tokio::time::interval(Duration::from_micros(config.every_us.max(1)));
        let count = config.count;
        Ok(
            futures::stream::unfold((interval, 0u64), move |(mut interval, id)| async move {
                if id >= count {
                    return None;
                }
                interval.tick().await;
                let event = SourceEvent::record("orders", crate::plain::orders_row(42, id));
                Some((Ok(event), (interval, id + 1)))
            })
            .boxed(),
        )
    }
}
