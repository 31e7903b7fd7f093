//! Live counters and state of a pipeline, readable without stopping it.
//!
//! Every counter also feeds its Prometheus series in the runtime's
//! [`MetricsRecorder`] (names in [`crate::util::metrics::names`]), so the
//! actors update one place and status and `/metrics` always agree.

mod metered_sink;

use metrics::{Counter, Gauge, Key, Label};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::sync::watch;

use crate::util::metrics::{names, MetricsRecorder};
pub(crate) use metered_sink::MeteredSink;

/// Lifecycle state of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineState {
    /// Checking connectors and spawning stages.
    Starting,
    /// Moving data.
    Running,
    /// Waiting for the restart backoff after a failure.
    Restarting,
    /// Shutting down: draining in-flight batches and committing.
    Draining,
    /// A bounded source finished and everything was committed.
    Completed,
    /// Shut down on request.
    Stopped,
    /// Gave up (`on_error: stop`, too many consecutive non-retryable
    /// failures), or could not drain and commit when shutting down (a stage
    /// failed while draining, or the shutdown timed out).
    Failed,
}

impl PipelineState {
    /// Whether the pipeline will not run again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PipelineState::Completed | PipelineState::Stopped | PipelineState::Failed
        )
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineState::Starting => "starting",
            PipelineState::Running => "running",
            PipelineState::Restarting => "restarting",
            PipelineState::Draining => "draining",
            PipelineState::Completed => "completed",
            PipelineState::Stopped => "stopped",
            PipelineState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for PipelineState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A point-in-time view of one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineStatus {
    /// Pipeline name.
    pub name: String,
    /// State.
    pub state: PipelineState,
    /// Records read from the source: its data events, and the records it
    /// rejected (counted again in `events_failed` or `events_dead_lettered`),
    /// so that once a pipeline is drained `events_read = events_written +
    /// events_dropped + events_failed + events_dead_lettered` (one sink).
    pub events_read: u64,
    /// Events durably written by the sink.
    pub events_written: u64,
    /// Events dropped by transforms.
    pub events_dropped: u64,
    /// Events rejected and skipped (`on_error: skip`).
    pub events_failed: u64,
    /// Events written to the dead-letter sink.
    pub events_dead_lettered: u64,
    /// Bytes written by the sink.
    pub bytes_written: u64,
    /// Restarts after failures.
    pub restarts: u64,
    /// Offset commits.
    pub commits: u64,
    /// Events read but not yet acknowledged.
    pub in_flight_events: u64,
    /// Highest `in_flight_events` seen.
    pub max_in_flight_events: u64,
    /// Event-time lag of the newest durable write, in milliseconds: when the
    /// sink's write returned, minus the newest event timestamp in it (for a
    /// CDC source, commit → written). `None` before the first write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_ms: Option<u64>,
    /// The most recent failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Status of every pipeline of a runtime.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuntimeStatus {
    /// Per-pipeline status, in configuration order.
    pub pipelines: Vec<PipelineStatus>,
    /// Per embedded topic: end offset, and each consumer group's committed
    /// offset and lag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<super::topics::TopicStatus>,
}

impl RuntimeStatus {
    /// The status of `name`.
    pub fn pipeline(&self, name: &str) -> Option<&PipelineStatus> {
        self.pipelines.iter().find(|p| p.name == name)
    }

    /// The status of topic `name`.
    pub fn topic(&self, name: &str) -> Option<&super::topics::TopicStatus> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// Whether every pipeline ended without failing.
    pub fn all_succeeded(&self) -> bool {
        self.pipelines
            .iter()
            .all(|p| matches!(p.state, PipelineState::Completed | PipelineState::Stopped))
    }
}

/// One counter of [`PipelineStats`]: the value status reports, plus the
/// Prometheus series it feeds.
pub(crate) struct StatCounter {
    value: AtomicU64,
    series: Vec<Counter>,
}

impl StatCounter {
    fn new(series: Vec<Counter>) -> Self {
        Self {
            value: AtomicU64::new(0),
            series,
        }
    }

    fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
        for s in &self.series {
            s.increment(n);
        }
    }

    fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for StatCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// Where a pipeline's metrics go and under which labels.
struct Series {
    recorder: Option<MetricsRecorder>,
    pipeline: String,
    source: String,
    in_flight: Gauge,
    /// `lag_ms` and `source_lag_seconds`, registered by the first write (a
    /// lag of 0 before anything was written would be a lie).
    lag: OnceLock<(Gauge, Gauge)>,
    /// Registered by the first byte count, for the same reason.
    source_bytes: OnceLock<Counter>,
}

impl Series {
    fn key(&self, name: &'static str, extra: Option<(&'static str, &str)>) -> Key {
        let mut labels = vec![Label::new("pipeline", self.pipeline.clone())];
        if let Some((k, v)) = extra {
            labels.push(Label::new(k, v.to_string()));
        }
        Key::from_parts(name, labels)
    }

    fn counter(&self, name: &'static str, extra: Option<(&'static str, &str)>) -> Counter {
        match &self.recorder {
            Some(r) => r.counter(&self.key(name, extra)),
            None => Counter::noop(),
        }
    }

    fn gauge(&self, name: &'static str, extra: Option<(&'static str, &str)>) -> Gauge {
        match &self.recorder {
            Some(r) => r.gauge(&self.key(name, extra)),
            None => Gauge::noop(),
        }
    }
}

/// Shared, lock-free counters of one pipeline.
pub(crate) struct PipelineStats {
    pub(crate) name: String,
    pub(crate) read: StatCounter,
    pub(crate) written: StatCounter,
    pub(crate) dropped: StatCounter,
    pub(crate) failed: StatCounter,
    pub(crate) dead_lettered: StatCounter,
    pub(crate) bytes: StatCounter,
    pub(crate) restarts: StatCounter,
    pub(crate) commits: StatCounter,
    pub(crate) in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
    /// See [`PipelineStatus::lag_ms`]; `u64::MAX` = none yet.
    lag_ms: AtomicU64,
    last_error: Mutex<Option<String>>,
    state: watch::Sender<PipelineState>,
    series: Series,
}

impl std::fmt::Debug for PipelineStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineStats")
            .field("name", &self.name)
            .field("status", &self.snapshot())
            .finish_non_exhaustive()
    }
}

impl PipelineStats {
    /// Counters that record no metrics.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self::build(name.into(), String::new(), String::new(), None)
    }

    /// Counters of pipeline `name` (reading `source`, writing `sink`) that
    /// also record into `recorder`.
    pub(crate) fn with_metrics(
        name: impl Into<String>,
        source: impl Into<String>,
        sink: impl Into<String>,
        recorder: &MetricsRecorder,
    ) -> Self {
        Self::build(
            name.into(),
            source.into(),
            sink.into(),
            Some(recorder.clone()),
        )
    }

    fn build(
        name: String,
        source: String,
        sink: String,
        recorder: Option<MetricsRecorder>,
    ) -> Self {
        let mut series = Series {
            recorder,
            pipeline: name.clone(),
            source,
            in_flight: Gauge::noop(),
            lag: OnceLock::new(),
            source_bytes: OnceLock::new(),
        };
        let source = series.source.clone();
        let src = Some(("source", source.as_str()));
        let snk = Some(("sink", sink.as_str()));
        series.in_flight = series.gauge(names::IN_FLIGHT_EVENTS, None);
        let one = |n| StatCounter::new(vec![series.counter(n, None)]);
        let stats = Self {
            name,
            read: StatCounter::new(vec![
                series.counter(names::EVENTS_READ, None),
                series.counter(names::SOURCE_EVENTS, src),
            ]),
            written: StatCounter::new(vec![
                series.counter(names::EVENTS_WRITTEN, None),
                series.counter(names::SINK_EVENTS, snk),
            ]),
            dropped: one(names::EVENTS_DROPPED),
            failed: one(names::EVENTS_FAILED),
            dead_lettered: one(names::EVENTS_DEAD_LETTERED),
            bytes: one(names::BYTES_WRITTEN),
            restarts: one(names::RESTARTS),
            commits: one(names::COMMITS),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            lag_ms: AtomicU64::new(u64::MAX),
            last_error: Mutex::new(None),
            state: watch::Sender::new(PipelineState::Starting),
            series,
        };
        stats.publish_state(None, PipelineState::Starting);
        stats
    }

    pub(crate) fn add(counter: &StatCounter, n: u64) {
        counter.add(n);
    }

    pub(crate) fn get(counter: &StatCounter) -> u64 {
        counter.get()
    }

    /// Data events read, with their approximate payload bytes
    /// ([`SourceEvent::approx_size`](crate::SourceEvent::approx_size)):
    /// the read counter plus the source's byte series.
    pub(crate) fn add_read(&self, events: u64, bytes: u64) {
        self.read.add(events);
        let series = &self.series;
        series
            .source_bytes
            .get_or_init(|| {
                series.counter(
                    names::SOURCE_BYTES,
                    Some(("source", series.source.as_str())),
                )
            })
            .increment(bytes);
    }

    pub(crate) fn add_in_flight(&self, n: u64) {
        let now = self.in_flight.fetch_add(n, Ordering::AcqRel) + n;
        self.max_in_flight.fetch_max(now, Ordering::AcqRel);
        self.series.in_flight.set(now as f64);
    }

    /// A torn-down generation's batches are gone: nothing is in flight.
    pub(crate) fn reset_in_flight(&self) {
        self.in_flight.store(0, Ordering::Release);
        self.series.in_flight.set(0.0);
    }

    pub(crate) fn sub_in_flight(&self, n: u64) {
        let before = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            })
            .unwrap_or_else(|v| v);
        self.series.in_flight.set(before.saturating_sub(n) as f64);
    }

    /// Record the event-time lag of a write (`newest`: the newest event time in it).
    pub(crate) fn record_lag(&self, newest: chrono::DateTime<chrono::Utc>) {
        let lag = (chrono::Utc::now() - newest).num_milliseconds().max(0) as u64;
        self.lag_ms.store(lag.min(u64::MAX - 1), Ordering::Relaxed);
        let series = &self.series;
        let (lag_ms, lag_seconds) = series.lag.get_or_init(|| {
            (
                series.gauge(names::LAG_MS, None),
                series.gauge(
                    names::SOURCE_LAG_SECONDS,
                    Some(("source", series.source.as_str())),
                ),
            )
        });
        lag_ms.set(lag as f64);
        lag_seconds.set(lag as f64 / 1000.0);
    }

    pub(crate) fn set_error(&self, error: impl Into<String>) {
        let mut guard = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        *guard = Some(error.into());
    }

    pub(crate) fn state(&self) -> PipelineState {
        *self.state.borrow()
    }

    pub(crate) fn set_state(&self, state: PipelineState) {
        let old = self.state.send_replace(state);
        self.publish_state(Some(old), state);
    }

    /// `rivven_connect_pipeline_up{pipeline, state}`: the old state's series
    /// goes to 0, the new one's to 1 when it runs or completed.
    fn publish_state(&self, old: Option<PipelineState>, new: PipelineState) {
        if let Some(old) = old.filter(|&o| o != new) {
            self.series
                .gauge(names::PIPELINE_UP, Some(("state", old.as_str())))
                .set(0.0);
        }
        let up = matches!(new, PipelineState::Running | PipelineState::Completed);
        self.series
            .gauge(names::PIPELINE_UP, Some(("state", new.as_str())))
            .set(if up { 1.0 } else { 0.0 });
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<PipelineState> {
        self.state.subscribe()
    }

    pub(crate) fn snapshot(&self) -> PipelineStatus {
        PipelineStatus {
            name: self.name.clone(),
            state: self.state(),
            events_read: Self::get(&self.read),
            events_written: Self::get(&self.written),
            events_dropped: Self::get(&self.dropped),
            events_failed: Self::get(&self.failed),
            events_dead_lettered: Self::get(&self.dead_lettered),
            bytes_written: Self::get(&self.bytes),
            restarts: Self::get(&self.restarts),
            commits: Self::get(&self.commits),
            in_flight_events: self.in_flight.load(Ordering::Relaxed),
            max_in_flight_events: self.max_in_flight.load(Ordering::Relaxed),
            lag_ms: Some(self.lag_ms.load(Ordering::Relaxed)).filter(|&l| l != u64::MAX),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_high_water_mark() {
        let s = PipelineStats::new("p");
        s.add_in_flight(10);
        s.add_in_flight(5);
        s.sub_in_flight(12);
        s.sub_in_flight(100);
        let snap = s.snapshot();
        assert_eq!(snap.in_flight_events, 0);
        assert_eq!(snap.max_in_flight_events, 15);
        assert_eq!(snap.state, PipelineState::Starting);
    }

    #[test]
    fn counters_feed_their_prometheus_series() {
        let recorder = MetricsRecorder::new();
        let s = PipelineStats::with_metrics("orders", "gen", "out", &recorder);
        PipelineStats::add(&s.read, 7);
        PipelineStats::add(&s.written, 5);
        s.add_read(3, 300);
        s.add_in_flight(4);
        s.set_state(PipelineState::Running);
        let text = recorder.render();
        for line in [
            r#"rivven_connect_events_read_total{pipeline="orders"} 10"#,
            r#"rivven_connect_source_events_total{pipeline="orders",source="gen"} 10"#,
            r#"rivven_connect_source_bytes_total{pipeline="orders",source="gen"} 300"#,
            r#"rivven_connect_events_written_total{pipeline="orders"} 5"#,
            r#"rivven_connect_sink_events_total{pipeline="orders",sink="out"} 5"#,
            r#"rivven_connect_in_flight_events{pipeline="orders"} 4"#,
            r#"rivven_connect_pipeline_up{pipeline="orders",state="running"} 1"#,
            r#"rivven_connect_pipeline_up{pipeline="orders",state="starting"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(s.snapshot().events_read, 10);
    }

    #[test]
    fn terminal_states() {
        assert!(PipelineState::Completed.is_terminal());
        assert!(PipelineState::Failed.is_terminal());
        assert!(!PipelineState::Restarting.is_terminal());
    }
}
