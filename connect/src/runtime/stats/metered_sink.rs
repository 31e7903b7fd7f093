//! A sink wrapper that times each write and counts its errors.

use async_trait::async_trait;
use metrics::{Counter, Histogram, Key, Label};
use std::sync::Arc;
use std::time::Instant;

use crate::check::CheckResult;
use crate::connector::{BatchConfig, WriteResult};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::runtime::AnySink;
use crate::spec::ConnectorSpec;
use crate::state::State;
use crate::util::metrics::{names, MetricsRecorder};

/// Records `rivven_connect_sink_latency_seconds` (one sample per write call)
/// and `rivven_connect_sink_errors_total` (failed calls, retried ones
/// included, plus rejected records) around another sink; everything else is
/// passed through.
pub(crate) struct MeteredSink {
    inner: Arc<dyn AnySink>,
    latency: Histogram,
    errors: Counter,
}

impl MeteredSink {
    /// Wrap `inner`, the sink `sink` of pipeline `pipeline`.
    pub(crate) fn wrap(
        inner: Arc<dyn AnySink>,
        pipeline: &str,
        sink: &str,
        recorder: &MetricsRecorder,
    ) -> Arc<dyn AnySink> {
        let labels = || {
            vec![
                Label::new("pipeline", pipeline.to_string()),
                Label::new("sink", sink.to_string()),
            ]
        };
        Arc::new(Self {
            inner,
            latency: recorder.histogram(&Key::from_parts(names::SINK_LATENCY_SECONDS, labels())),
            errors: recorder.counter(&Key::from_parts(names::SINK_ERRORS, labels())),
        })
    }
}

#[async_trait]
impl AnySink for MeteredSink {
    fn spec(&self) -> ConnectorSpec {
        self.inner.spec()
    }

    async fn check(&self) -> Result<CheckResult> {
        self.inner.check().await
    }

    fn batch_config(&self) -> Option<BatchConfig> {
        self.inner.batch_config()
    }

    async fn write(&self, events: &[SourceEvent]) -> Result<WriteResult> {
        let started = Instant::now();
        let result = self.inner.write(events).await;
        self.observe(started, &result);
        result
    }

    fn exclusive_resource(&self) -> Option<String> {
        self.inner.exclusive_resource()
    }

    fn stores_position(&self) -> bool {
        self.inner.stores_position()
    }

    async fn committed_position(&self) -> Result<Option<State>> {
        self.inner.committed_position().await
    }

    async fn write_with_position(
        &self,
        events: &[SourceEvent],
        position: &State,
    ) -> Result<WriteResult> {
        let started = Instant::now();
        let result = self.inner.write_with_position(events, position).await;
        self.observe(started, &result);
        result
    }

    async fn flush(&self) -> Result<WriteResult> {
        let result = self.inner.flush().await;
        if result.is_err() {
            self.errors.increment(1);
        }
        result
    }

    fn discard_pending(&self) {
        self.inner.discard_pending()
    }
}

impl MeteredSink {
    fn observe(&self, started: Instant, result: &Result<WriteResult>) {
        self.latency.record(started.elapsed().as_secs_f64());
        match result {
            Ok(w) => {
                let rejected = w.records_failed();
                if rejected > 0 {
                    self.errors.increment(rejected);
                }
            }
            Err(_) => self.errors.increment(1),
        }
    }
}
