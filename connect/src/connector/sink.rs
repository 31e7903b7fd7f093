//! The [`Sink`] and [`BatchSink`] traits and [`WriteResult`].

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::check::CheckResult;
use crate::connector::config::SinkConfig;
use crate::error::{ConnectorError, ErrorKind, Result};
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::state::State;

/// Writes events to an external system.
///
/// The runtime drives a sink batch by batch: each `write` call receives a
/// stream that ends at the batch boundary, and its [`WriteResult`] is the
/// acknowledgement of exactly those events. Return only when the events are
/// durable. Report per-record failures with [`WriteResult::add_record_failure`]
/// (by position in the stream) so the pipeline's `on_error` can dispose of
/// them; return `Err` when the whole write failed (retryable errors are
/// retried in place).
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Configuration type.
    type Config: SinkConfig;

    /// Name, version and configuration schema. The default is the spec the
    /// config's derive (`#[derive(SinkConfig)]`) built from its attributes.
    fn spec() -> ConnectorSpec {
        crate::connector::config::default_spec::<Self::Config>(
            <Self::Config as crate::SinkConfig>::__derived_spec(),
            std::any::type_name::<Self>(),
            crate::ConnectorKind::Sink,
        )
    }

    /// Check connectivity and prerequisites; the runtime checks before each
    /// (re)start of a pipeline. The default passes: override it when the
    /// sink writes to another system (see [`Source::check`](crate::Source::check)).
    async fn check(&self, _config: &Self::Config) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }

    /// Write a batch of events, delivered as a stream.
    async fn write(
        &self,
        config: &Self::Config,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult>;

    /// Write a batch the runtime keeps hold of — it needs the events again for
    /// in-place retries and to dead-letter the ones the sink rejects.
    ///
    /// This is what the runtime calls. The default hands a copy of the events to
    /// [`write`](Sink::write). A sink that only reads its events (serializes them,
    /// copies fields out) overrides it to write straight from the slice and saves
    /// that copy; the built-in `file` and `stdout` sinks do.
    async fn write_borrowed(
        &self,
        config: &Self::Config,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        self.write(config, futures::stream::iter(events.to_vec()).boxed())
            .await
    }

    /// The target this sink must be the only writer of, if any — for example
    /// a file (`file:/abs/path/out.jsonl`) or a table written exactly-once.
    ///
    /// Two writers of one target tear each other's output, so the runtime
    /// refuses to start two sinks (in any pipelines, dead-letter sinks
    /// included) that return the same value, naming both. The default
    /// (`None`) means the target can take any number of writers.
    fn exclusive_resource(&self, _config: &Self::Config) -> Option<String> {
        None
    }

    /// Whether this sink stores the pipeline's position with its data
    /// (exactly-once delivery). The default is `false`: at-least-once.
    ///
    /// A sink that answers `true` promises two things:
    ///
    /// - it implements [`write_with_position`](Sink::write_with_position) so
    ///   that the events *and* the position are made durable atomically (in
    ///   one database transaction, one object, one atomic rename …);
    /// - [`committed_position`](Sink::committed_position) returns the last
    ///   position stored that way.
    ///
    /// The runtime then calls `write_with_position` instead of the other write
    /// methods, with whole source batches only (a source batch is never split
    /// across two writes, so every stored position covers exactly the events
    /// written up to it), and also for a batch whose events were all dropped or
    /// dead-lettered, when the position moved (with no events). On every
    /// (re)start it asks `committed_position` after the checks and, if the sink
    /// has one, resumes the source from it instead of from the offset store:
    /// the events at or before that position are already in the sink, so they
    /// are neither read nor written again. A crash at any point therefore
    /// neither loses nor duplicates an event, provided the source replays
    /// deterministically from a [`State`] (CDC positions, file offsets,
    /// seeded generators do; message queues that redeliver do not). Such a
    /// sink stores every write at once: its results never count events as
    /// [`pending`](WriteResult::pending).
    ///
    /// Records the sink rejects are never lost either: a positioned write
    /// that reports record failures has stored nothing (see
    /// [`write_with_position`](Sink::write_with_position)), and the runtime
    /// disposes of the failed records by `on_error` before it writes the rest
    /// with the position. Dead letters are therefore at-least-once: a crash
    /// after the dead-letter write and before the sink's commit writes them
    /// again on the replay (a dead letter may appear twice, never zero times).
    fn stores_position(&self, _config: &Self::Config) -> bool {
        false
    }

    /// The position last stored by [`write_with_position`](Sink::write_with_position),
    /// if any. Called on each (re)start of the pipeline when
    /// [`stores_position`](Sink::stores_position) is `true`; `Ok(None)` (the
    /// default) means "nothing stored yet": the offset store decides. An error
    /// fails the start (retryable errors are retried with the restart backoff).
    async fn committed_position(&self, _config: &Self::Config) -> Result<Option<State>> {
        Ok(None)
    }

    /// Write a batch and store `position` — the source's state after these
    /// events — atomically with it (see [`stores_position`](Sink::stores_position)).
    ///
    /// `events` may be empty: then only the position moves.
    ///
    /// **All or nothing.** If any record fails (a column the table lacks, a
    /// value of the wrong type …), store *nothing* — roll back the events and
    /// the position — and return `Ok` with the failures, each by its index in
    /// `events` ([`WriteResult::add_record_failure`]). Only a write with no
    /// record failures stores the events and the position. The runtime then
    /// disposes of the failed records by the pipeline's `on_error` (the
    /// dead-letter write is durable before anything else happens; `stop`
    /// fails the pipeline with nothing of this batch stored) and calls
    /// `write_with_position` again with the same position and the events
    /// minus the failed ones (possibly none). A sink that stored the good
    /// events of a failed write would see them again in that call: they
    /// would be written twice, and a crash in between would skip the failed
    /// records for good.
    ///
    /// Return `Err` when the whole write failed (retryable errors are retried
    /// in place, with the same events and position — so a write whose commit
    /// succeeded but whose answer was lost must recognize its own position
    /// and not store the events again).
    ///
    /// The default ignores the position and calls
    /// [`write_borrowed`](Sink::write_borrowed), i.e. at-least-once.
    async fn write_with_position(
        &self,
        config: &Self::Config,
        events: &[SourceEvent],
        position: &State,
    ) -> Result<WriteResult> {
        let _ = position;
        if events.is_empty() {
            return Ok(WriteResult::new());
        }
        self.write_borrowed(config, events).await
    }

    /// Store durably what earlier writes left pending (see [`WriteResult::pending`]).
    ///
    /// A sink that gathers events across writes — into objects of exactly
    /// `batch_size` events, say — reports the events it holds as `pending`;
    /// the runtime acknowledges them (and so commits their offsets) only once
    /// a later write or flush reports them stored. The runtime calls `flush`
    /// when the oldest pending event has waited the sink's batch timeout
    /// (`BatchConfig::timeout_ms`) and when the source ends (shutdown); the
    /// result counts what was stored and what is still pending. Retryable
    /// errors are retried in place, like writes. The default has nothing to store.
    async fn flush(&self, _config: &Self::Config) -> Result<WriteResult> {
        Ok(WriteResult::new())
    }

    /// Forget the pending events without storing them: the runtime calls this
    /// when a pipeline (re)starts, since it replays every event it had not
    /// acknowledged from the committed state. The default holds nothing.
    fn discard_pending(&self, _config: &Self::Config) {}
}

/// A sink that prefers whole batches.
#[async_trait]
pub trait BatchSink: Sink {
    /// How the runtime should batch events for this sink.
    fn batch_config(&self, config: &Self::Config) -> BatchConfig;

    /// Write a batch.
    async fn write_batch(
        &self,
        config: &Self::Config,
        events: Vec<SourceEvent>,
    ) -> Result<WriteResult>;

    /// Write a batch the runtime keeps hold of (see [`Sink::write_borrowed`]).
    /// The default hands a copy to [`write_batch`](BatchSink::write_batch).
    async fn write_batch_borrowed(
        &self,
        config: &Self::Config,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        self.write_batch(config, events.to_vec()).await
    }
}

/// How events are grouped before a sink writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Maximum events per write.
    #[serde(default = "BatchConfig::default_max_records")]
    pub max_records: usize,
    /// Longest time an event waits for its batch to fill under load, in
    /// milliseconds (a batch the source sent with nothing more ready is
    /// written at once).
    #[serde(default = "BatchConfig::default_timeout_ms")]
    pub timeout_ms: u64,
}

impl BatchConfig {
    /// Default maximum events per write.
    pub const DEFAULT_MAX_RECORDS: usize = 10_000;
    /// Default linger.
    pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;

    fn default_max_records() -> usize {
        Self::DEFAULT_MAX_RECORDS
    }
    fn default_timeout_ms() -> u64 {
        Self::DEFAULT_TIMEOUT_MS
    }

    /// A batch config.
    pub fn new(max_records: usize, timeout_ms: u64) -> Self {
        Self {
            max_records: max_records.max(1),
            timeout_ms,
        }
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_RECORDS, Self::DEFAULT_TIMEOUT_MS)
    }
}

/// One event (or, without a position, one of several events) a sink could not write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordFailure {
    /// Position of the event in the batch handed to the sink; `None` when the
    /// sink could not say which event failed (see [`WriteResult::add_failure`]).
    pub index: Option<usize>,
    /// Why it failed.
    pub error: String,
    /// Error category.
    pub kind: ErrorKind,
}

impl RecordFailure {
    /// The failure as a [`ConnectorError`] of the same kind and message.
    pub fn to_error(&self) -> ConnectorError {
        ConnectorError::new(self.kind, self.error.clone())
    }
}

/// The acknowledgement of one write.
///
/// Failures have one source of truth, [`WriteResult::failures`]: the failed
/// count is derived from it, never kept beside it.
///
/// ```
/// use rivven_connect::{ConnectorError, WriteResult};
///
/// let mut result = WriteResult::new();
/// result.add_success(9, 900);
/// result.add_record_failure(4, &ConnectorError::data("rejected: missing id"));
/// assert_eq!(result.records_written, 9);
/// assert_eq!(result.records_failed(), 1);
/// assert_eq!(result.failures[0].index, Some(4));
/// assert_eq!(result.unattributed_failures(), 0);
///
/// // A failure the sink cannot attribute to an event: the runtime cannot tell
/// // which events were lost, so it retries the whole write.
/// result.add_failure(2, "HTTP 500");
/// assert_eq!(result.records_failed(), 3);
/// assert_eq!(result.unattributed_failures(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteResult {
    /// Events durably written.
    pub records_written: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Which events failed and why, one entry per failed event. Entries
    /// without a position (from [`WriteResult::add_failure`]) mean the
    /// runtime cannot tell which events were lost: it treats the whole write
    /// as failed (it is retried, never silently acknowledged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<RecordFailure>,
    /// How many of the most recent events handed to the sink (by this write
    /// and earlier ones, failed ones included) it holds without having
    /// stored them durably yet. The runtime acknowledges an event only once
    /// a later result no longer counts it as pending; see [`Sink::flush`].
    /// `0` (what every sink that stores each write at once returns) means
    /// everything handed so far is durable or reported failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pending: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl WriteResult {
    /// An empty result.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count `records` written with `bytes`.
    pub fn add_success(&mut self, records: u64, bytes: u64) {
        self.records_written += records;
        self.bytes_written += bytes;
    }

    /// Count `records` that failed without saying which ones (an error of
    /// kind [`ErrorKind::Io`]). Prefer [`WriteResult::add_record_failure`]
    /// whenever the failed event is known.
    pub fn add_failure(&mut self, records: u64, error: impl Into<String>) {
        let error = error.into();
        for _ in 0..records {
            self.failures.push(RecordFailure {
                index: None,
                error: error.clone(),
                kind: ErrorKind::Io,
            });
        }
    }

    /// Record that the event at `index` failed with `error`.
    pub fn add_record_failure(&mut self, index: usize, error: &ConnectorError) {
        self.failures.push(RecordFailure {
            index: Some(index),
            // The message with its source chain (the kind is kept apart).
            error: error.to_detached().message().to_string(),
            kind: error.kind(),
        });
    }

    /// Events that failed (attributed or not).
    pub fn records_failed(&self) -> u64 {
        self.failures.len() as u64
    }

    /// Whether nothing failed.
    pub fn is_success(&self) -> bool {
        self.failures.is_empty()
    }

    /// Failures the runtime cannot attribute to an event.
    pub fn unattributed_failures(&self) -> u64 {
        self.failures.iter().filter(|f| f.index.is_none()).count() as u64
    }

    /// Failures with a position, with that position.
    pub fn record_failures(&self) -> impl Iterator<Item = (usize, &RecordFailure)> {
        self.failures
            .iter()
            .filter_map(|f| f.index.map(|index| (index, f)))
    }

    /// Combine two results of writes of consecutive slices; `offset` is the
    /// position of `other`'s first event in the combined batch.
    /// The later result's `pending` replaces this one's (it counts back from
    /// the newest event).
    pub fn absorb(&mut self, other: WriteResult, offset: usize) {
        self.pending = other.pending;
        self.records_written += other.records_written;
        self.bytes_written += other.bytes_written;
        self.failures
            .extend(other.failures.into_iter().map(|mut f| {
                f.index = f.index.map(|i| i + offset);
                f
            }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absorb_offsets_indices() {
        let mut a = WriteResult::new();
        a.add_success(2, 20);
        let mut b = WriteResult::new();
        b.add_success(1, 10);
        b.add_record_failure(1, &ConnectorError::data("x"));
        a.absorb(b, 2);
        assert_eq!(a.records_written, 3);
        assert_eq!(a.failures[0].index, Some(3));
        assert_eq!(a.unattributed_failures(), 0);
        a.add_failure(2, "HTTP 500");
        assert_eq!(a.unattributed_failures(), 2);
        assert_eq!(a.records_failed(), 3);
        assert!(!a.is_success());
        let mut c = WriteResult::new();
        c.add_failure(1, "timeout");
        a.absorb(c, 3);
        assert_eq!(a.records_failed(), 4);
        assert_eq!(a.record_failures().map(|(i, _)| i).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn failed_count_is_derived_from_the_failures() {
        let mut r = WriteResult::new();
        assert!(r.is_success());
        r.add_record_failure(0, &ConnectorError::schema("no column `x`"));
        r.failures.clear();
        assert_eq!(r.records_failed(), 0);
        assert!(r.is_success());
        r.add_record_failure(2, &ConnectorError::schema("no column `x`"));
        let failure = &r.failures[0];
        assert_eq!(failure.kind, ErrorKind::Schema);
        assert_eq!(failure.to_error().kind(), ErrorKind::Schema);
        assert_eq!(failure.error, "no column `x`");
        let text = serde_json::to_string(&r).unwrap_or_default();
        let back: WriteResult = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, r);
    }

    #[test]
    fn batch_config_defaults_and_serde() {
        let c: BatchConfig = serde_json::from_str("{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c, BatchConfig::default());
        assert_eq!(c.max_records, 10_000);
        assert!(serde_json::from_str::<BatchConfig>(r#"{"max_recs": 1}"#).is_err());
        assert_eq!(BatchConfig::new(0, 1).max_records, 1);
    }
}
