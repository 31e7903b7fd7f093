//! Sinks used by the workloads: a blackhole that counts, a sink that
//! accepts only so many events per second, and the `file` sink timing each
//! event from its timestamp to durably written.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::builtin::{FileSink, FileSinkConfig};
use rivven_connect::prelude::*;
use rivven_connect::ConnectorKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

/// A keyed event and when its write returned.
pub type KeyedWrite = (i64, chrono::DateTime<chrono::Utc>);

/// The `file` sink, recording for each event the time from its timestamp to
/// the moment its write returned (durably written: the sink syncs each batch
/// by default).
///
/// With [`TimedFile::keyed`] it records instead, per event, a key and the
/// moment its write returned, for when the event's own timestamp is too
/// coarse (MySQL binlog timestamps are whole seconds) and the origin time is
/// taken elsewhere (e.g. by the client, when its `COMMIT` returned).
#[derive(Debug, Clone, Default)]
pub struct TimedFile {
    inner: FileSink,
    latencies_us: Arc<Mutex<Vec<u64>>>,
    key: Option<fn(&SourceEvent) -> Option<i64>>,
    written_at: Arc<Mutex<Vec<KeyedWrite>>>,
    /// Events written.
    pub written: Arc<AtomicU64>,
}

impl TimedFile {
    /// Records `(key(event), written at)` for each event whose key is
    /// `Some` (see [`TimedFile::written_at`]).
    pub fn keyed(key: fn(&SourceEvent) -> Option<i64>) -> Self {
        Self {
            key: Some(key),
            ..Self::default()
        }
    }

    /// The key of the last keyed event written.
    pub fn last_key(&self) -> Option<i64> {
        self.written_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .map(|(k, _)| *k)
    }

    /// The keyed events' write times so far, in write order.
    pub fn written_at(&self) -> Vec<KeyedWrite> {
        self.written_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The latencies recorded so far, microseconds, in write order.
    pub fn latencies_us(&self) -> Vec<u64> {
        self.latencies_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forget the latencies recorded so far (e.g. after a warm-up).
    pub fn clear(&self) {
        self.latencies_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.written_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[async_trait]
impl Sink for TimedFile {
    type Config = FileSinkConfig;
    fn spec() -> ConnectorSpec {
        FileSink::spec()
    }
    async fn check(&self, config: &FileSinkConfig) -> Result<CheckResult> {
        self.inner.check(config).await
    }
    async fn write(
        &self,
        config: &FileSinkConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        self.write_borrowed(config, &events).await
    }
    async fn write_borrowed(
        &self,
        config: &FileSinkConfig,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        let result = self.inner.write_borrowed(config, events).await?;
        let now = chrono::Utc::now();
        if let Some(key) = self.key {
            let mut at = self.written_at.lock().unwrap_or_else(|p| p.into_inner());
            at.extend(events.iter().filter_map(key).map(|k| (k, now)));
        }
        let mut lat = self.latencies_us.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
            let us = (now - e.timestamp).num_microseconds().unwrap_or(0);
            lat.push(u64::try_from(us).unwrap_or(0));
        }
        self.written
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        Ok(result)
    }
}

/// The `p`-quantile (0.0–1.0) of `sorted` microseconds, in milliseconds.
pub fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}
