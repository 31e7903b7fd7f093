//! Sinks used by the workloads: a blackhole that counts, and a sink that
//! accepts only so many events per second.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::prelude::*;
use rivven_connect::ConnectorKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Config of the bench sinks (none).
#[derive(Debug, Clone, Default, Deserialize, Validate, JsonSchema)]
pub struct NoConfig {}

impl SinkConfig for NoConfig {}

/// Counts events and drops them.
#[derive(Debug, Clone, Default)]
pub struct Blackhole {
    /// Events received.
    pub count: Arc<AtomicU64>,
}

#[async_trait]
impl Sink for Blackhole {
    type Config = NoConfig;
    fn spec() -> ConnectorSpec {
        ConnectorSpec::builder("blackhole", "1.0.0")
            .kind(ConnectorKind::Sink)
            .build()
    }
    async fn check(&self, _: &NoConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn write(
        &self,
        _: &NoConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        Ok(self.accept(events.count().await))
    }
    async fn write_borrowed(&self, _: &NoConfig, events: &[SourceEvent]) -> Result<WriteResult> {
        Ok(self.accept(events.len()))
    }
}

impl Blackhole {
    fn accept(&self, n: usize) -> WriteResult {
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        let mut r = WriteResult::new();
        r.add_success(n as u64, 0);
        r
    }
}

/// Accepts at most `events_per_second` (sleeps for each batch).
#[derive(Debug, Clone)]
pub struct Throttled {
    /// Accepted rate.
    pub events_per_second: u32,
    /// Events written.
    pub count: Arc<AtomicU64>,
}

impl Throttled {
    async fn accept(&self, n: usize) -> Result<WriteResult> {
        tokio::time::sleep(Duration::from_secs_f64(
            n as f64 / f64::from(self.events_per_second.max(1)),
        ))
        .await;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        let mut r = WriteResult::new();
        r.add_success(n as u64, 0);
        Ok(r)
    }
}

#[async_trait]
impl Sink for Throttled {
    type Config = NoConfig;
    fn spec() -> ConnectorSpec {
        ConnectorSpec::builder("throttled", "1.0.0")
            .kind(ConnectorKind::Sink)
            .build()
    }
    async fn check(&self, _: &NoConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn write(
        &self,
        _: &NoConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        self.accept(events.count().await).await
    }
    async fn write_borrowed(&self, _: &NoConfig, events: &[SourceEvent]) -> Result<WriteResult> {
        self.accept(events.len()).await
    }
}
