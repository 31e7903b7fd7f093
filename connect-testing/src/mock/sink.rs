//! [`MockSink`]: a recording sink with scripted failures.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::{
    CheckResult, ConnectorError, ConnectorKind, ConnectorSpec, Result, Sink, SourceEvent,
    WriteResult,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::MockConfig;

type Predicate = Arc<dyn Fn(&SourceEvent) -> bool + Send + Sync>;
type ErrorFn = Arc<dyn Fn() -> ConnectorError + Send + Sync>;

#[derive(Default)]
struct Inner {
    written: Vec<SourceEvent>,
    writes: u64,
    attempts: u64,
    failures_left: u64,
}

/// A sink that records what it durably "wrote". Clones share the record, so
/// a test keeps one handle and inspects it while the pipeline runs.
#[derive(Clone)]
pub struct MockSink {
    inner: Arc<Mutex<Inner>>,
    fail_after: Option<u64>,
    fail_error: ErrorFn,
    check_error: Option<String>,
    reject: Option<Predicate>,
    events_per_sec: Option<u32>,
}

impl std::fmt::Debug for MockSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockSink")
            .field("written", &self.written_count())
            .field("fail_after", &self.fail_after)
            .field("events_per_sec", &self.events_per_sec)
            .finish_non_exhaustive()
    }
}

impl Default for MockSink {
    fn default() -> Self {
        Self::new()
    }
}

impl MockSink {
    /// A sink that accepts everything.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner::default())),
            fail_after: None,
            fail_error: Arc::new(|| ConnectorError::connection("MockSink: injected failure")),
            check_error: None,
            reject: None,
            events_per_sec: None,
        }
    }

    /// Fail (once, with a non-retryable error, so the pipeline restarts from
    /// its committed state) the first write that would take the number of
    /// events written past `n`, whatever the batch sizes.
    ///
    /// The failing write is all-or-nothing, like an aborted transaction: none
    /// of its events is written, so [`MockSink::written_count`] stays at the
    /// count before it (at most `n`) and a retry of the same batch writes each
    /// event once. A write also fails when `n` events are already written,
    /// even an empty one. With `fail_after(10)`, batches of 1, 7 or 50 events
    /// all fail on the write that carries the 11th event; a first batch of
    /// 50 fails at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use rivven_connect_testing::prelude::*;
    /// let sink = MockSink::new().fail_after(10);
    /// let batch = events::records("t", 50);
    /// assert!(run_sink(&sink, &MockConfig::default(), batch.clone()).await.is_err());
    /// assert_eq!(sink.written_count(), 0, "the failed batch wrote nothing");
    /// // It failed once: the redelivered batch goes through.
    /// assert!(run_sink(&sink, &MockConfig::default(), batch).await.is_ok());
    /// assert_eq!(sink.written_count(), 50);
    /// # }
    /// ```
    pub fn fail_after(mut self, n: u64) -> Self {
        self.fail_after = Some(n);
        self.fail_error = Arc::new(|| ConnectorError::fatal("MockSink: injected failure"));
        self.lock().failures_left = 1;
        self
    }

    /// Like [`MockSink::fail_after`], failing `times` times with `err()`
    /// (`u64::MAX`: every write that would pass `n` fails; `n == 0`: every write).
    pub fn fail_after_with(
        self,
        n: u64,
        times: u64,
        err: impl Fn() -> ConnectorError + Send + Sync + 'static,
    ) -> Self {
        let mut me = self.fail_after(n);
        me.fail_error = Arc::new(err);
        me.lock().failures_left = times;
        me
    }

    /// `check` fails with `message`, and so does every write.
    pub fn fail_with(mut self, message: impl Into<String>) -> Self {
        self.check_error = Some(message.into());
        self
    }

    /// Reject (per record, with a data error) every event matching `predicate`.
    pub fn fail_records(
        mut self,
        predicate: impl Fn(&SourceEvent) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.reject = Some(Arc::new(predicate));
        self
    }

    /// Write at most `events_per_sec` events per second.
    pub fn slow(mut self, events_per_sec: u32) -> Self {
        self.events_per_sec = Some(events_per_sec.max(1));
        self
    }

    /// Events written so far.
    pub fn written_events(&self) -> Vec<SourceEvent> {
        self.lock().written.clone()
    }

    /// Number of events written so far.
    pub fn written_count(&self) -> usize {
        self.lock().written.len()
    }

    /// Number of successful `write` calls.
    pub fn write_calls(&self) -> u64 {
        self.lock().writes
    }

    /// Number of `write` calls including failed ones.
    pub fn write_attempts(&self) -> u64 {
        self.lock().attempts
    }

    fn rejects(&self, event: &SourceEvent) -> bool {
        self.reject.as_ref().is_some_and(|r| r(event))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Sink for MockSink {
    type Config = MockConfig;

    fn spec() -> ConnectorSpec {
        ConnectorSpec::builder("mock", env!("CARGO_PKG_VERSION"))
            .kind(ConnectorKind::Sink)
            .description("Recording sink for tests")
            .config_schema_from::<MockConfig>()
            .build()
    }

    async fn check(&self, _config: &MockConfig) -> Result<CheckResult> {
        Ok(match &self.check_error {
            Some(e) => CheckResult::failure(e.clone()),
            None => CheckResult::success(),
        })
    }

    async fn write(
        &self,
        _config: &MockConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        {
            let mut inner = self.lock();
            inner.attempts += 1;
            if let Some(e) = &self.check_error {
                return Err(ConnectorError::connection(e.clone()));
            }
            if let Some(n) = self.fail_after {
                let written = inner.written.len() as u64;
                let to_write = events.iter().filter(|e| !self.rejects(e)).count() as u64;
                if (written >= n || written + to_write > n) && inner.failures_left > 0 {
                    inner.failures_left -= 1;
                    return Err((self.fail_error)());
                }
            }
        }
        if let Some(rate) = self.events_per_sec {
            let secs = events.len() as f64 / f64::from(rate);
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        }
        let mut result = WriteResult::new();
        let mut inner = self.lock();
        for (index, event) in events.into_iter().enumerate() {
            if self.rejects(&event) {
                result.add_record_failure(
                    index,
                    &ConnectorError::data(format!("MockSink rejected event {index}")),
                );
            } else {
                result.add_success(1, event.approx_size() as u64);
                inner.written.push(event);
            }
        }
        inner.writes += 1;
        Ok(result)
    }
}
