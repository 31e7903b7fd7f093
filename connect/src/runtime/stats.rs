//! Live counters and state of a pipeline, readable without stopping it.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::watch;

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
    /// Data events read from the source.
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
}

impl RuntimeStatus {
    /// The status of `name`.
    pub fn pipeline(&self, name: &str) -> Option<&PipelineStatus> {
        self.pipelines.iter().find(|p| p.name == name)
    }

    /// Whether every pipeline ended without failing.
    pub fn all_succeeded(&self) -> bool {
        self.pipelines
            .iter()
            .all(|p| matches!(p.state, PipelineState::Completed | PipelineState::Stopped))
    }
}

/// Shared, lock-free counters of one pipeline.
#[derive(Debug)]
pub(crate) struct PipelineStats {
    pub(crate) name: String,
    pub(crate) read: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
    /// See [`PipelineStatus::lag_ms`]; `u64::MAX` = none yet.
    lag_ms: AtomicU64,
    last_error: Mutex<Option<String>>,
    state: watch::Sender<PipelineState>,
}

impl PipelineStats {
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            lag_ms: AtomicU64::new(u64::MAX),
            last_error: Mutex::new(None),
            state: watch::Sender::new(PipelineState::Starting),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn add_in_flight(&self, n: u64) {
        let now = self.in_flight.fetch_add(n, Ordering::AcqRel) + n;
        self.max_in_flight.fetch_max(now, Ordering::AcqRel);
    }

    /// A torn-down generation's batches are gone: nothing is in flight.
    pub(crate) fn reset_in_flight(&self) {
        self.in_flight.store(0, Ordering::Release);
    }

    pub(crate) fn sub_in_flight(&self, n: u64) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
    }

    /// Record the event-time lag of a write (`newest`: the newest event time in it).
    pub(crate) fn record_lag(&self, newest: chrono::DateTime<chrono::Utc>) {
        let lag = (chrono::Utc::now() - newest).num_milliseconds().max(0) as u64;
        self.lag_ms.store(lag.min(u64::MAX - 1), Ordering::Relaxed);
    }

    pub(crate) fn set_error(&self, error: impl Into<String>) {
        let mut guard = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        *guard = Some(error.into());
    }

    pub(crate) fn state(&self) -> PipelineState {
        *self.state.borrow()
    }

    pub(crate) fn set_state(&self, state: PipelineState) {
        self.state.send_replace(state);
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
            in_flight_events: Self::get(&self.in_flight),
            max_in_flight_events: Self::get(&self.max_in_flight),
            lag_ms: Some(Self::get(&self.lag_ms)).filter(|&l| l != u64::MAX),
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
    fn terminal_states() {
        assert!(PipelineState::Completed.is_terminal());
        assert!(PipelineState::Failed.is_terminal());
        assert!(!PipelineState::Restarting.is_terminal());
    }
}
