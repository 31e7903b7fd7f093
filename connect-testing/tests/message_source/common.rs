//! Shared helpers: settings, a sink that blocks until opened, a failing offset store.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::runtime::{
    MemoryOffsetStore, OffsetStore, PipelineBuilder, PipelineSettings, PipelineStatus,
    RestartPolicy, Runtime,
};
use rivven_connect::{
    CheckResult, ConnectorError, ConnectorKind, ConnectorSpec, Result, Sink, SourceEvent, State,
    WriteResult,
};
use rivven_connect_testing::MockConfig;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Small batches, fast restarts, a commit after every acknowledged batch.
pub fn settings() -> PipelineSettings {
    PipelineSettings::default()
        .with_batch_size(10)
        .with_linger(Duration::from_millis(5))
        .with_max_in_flight_batches(3)
        .with_checkpoint_interval(Duration::ZERO)
        .with_sink_batch(rivven_connect::BatchConfig::new(100, 10))
        .with_restart(RestartPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_consecutive_failures: 3,
            ..RestartPolicy::default()
        })
}

/// A generous bound for scenarios that take well under a second.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Runs one pipeline until it ends; returns its final status.
pub async fn run_to_end(store: impl OffsetStore, pipeline: PipelineBuilder) -> PipelineStatus {
    let runtime = Runtime::builder()
        .offset_store(store)
        .pipeline(pipeline)
        .start()
        .await
        .unwrap();
    let mut status = runtime.wait().await;
    status.pipelines.remove(0)
}

/// The `message_id` of each event.
pub fn ids(events: &[SourceEvent]) -> BTreeSet<u64> {
    events
        .iter()
        .filter_map(|e| e.metadata.extra.get("message_id").and_then(|v| v.as_u64()))
        .collect()
}

/// A sink whose writes wait until [`GateSink::open`]; records what it wrote.
#[derive(Clone)]
pub struct GateSink {
    open: watch::Sender<bool>,
    written: Arc<Mutex<Vec<SourceEvent>>>,
    waiting: Arc<Mutex<u64>>,
}

impl GateSink {
    pub fn closed() -> Self {
        Self {
            open: watch::Sender::new(false),
            written: Arc::default(),
            waiting: Arc::default(),
        }
    }

    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Writes that have started (and, while closed, are waiting).
    pub fn writes_started(&self) -> u64 {
        *self.waiting.lock().unwrap()
    }

    pub fn written(&self) -> Vec<SourceEvent> {
        self.written.lock().unwrap().clone()
    }
}

#[async_trait]
impl Sink for GateSink {
    type Config = MockConfig;

    fn spec() -> ConnectorSpec {
        ConnectorSpec::builder("gate", "0.0.0")
            .kind(ConnectorKind::Sink)
            .config_schema_from::<MockConfig>()
            .build()
    }

    async fn check(&self, _: &MockConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }

    async fn write(
        &self,
        _: &MockConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        *self.waiting.lock().unwrap() += 1;
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|o| *o).await;
        let mut result = WriteResult::new();
        result.add_success(events.len() as u64, 0);
        self.written.lock().unwrap().extend(events);
        Ok(result)
    }
}

/// An offset store whose saves always fail (non-retryable); loads find nothing.
#[derive(Debug, Clone, Default)]
pub struct FailingStore {
    pub saves: Arc<Mutex<u64>>,
}

#[async_trait]
impl OffsetStore for FailingStore {
    async fn load(&self, _: &str) -> Result<Option<State>> {
        Ok(None)
    }

    async fn save(&self, _: &str, _: &State) -> Result<()> {
        *self.saves.lock().unwrap() += 1;
        Err(ConnectorError::fatal("FailingStore: disk gone"))
    }
}

/// Keeps `MemoryOffsetStore` in the helpers' vocabulary.
pub fn memory() -> MemoryOffsetStore {
    MemoryOffsetStore::new()
}
