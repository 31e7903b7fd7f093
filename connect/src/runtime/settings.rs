//! Per-pipeline settings: batching, credit window, error policy, retries, restarts.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::connector::BatchConfig;
use crate::util::exports::{CircuitBreakerConfig, RetryConfig};

/// What happens to a record that a transform or the sink rejects.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Count it, log it and acknowledge it.
    Skip,
    /// Fail the pipeline; nothing past the record is committed. No restart.
    #[default]
    Stop,
    /// Write it, with the error, to the dead-letter sink, then acknowledge it.
    DeadLetter,
}

/// How a failed pipeline is restarted.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartPolicy {
    /// First restart delay.
    pub initial_backoff: Duration,
    /// Multiplier per consecutive failure.
    pub multiplier: f64,
    /// Longest delay.
    pub max_backoff: Duration,
    /// Random spread of each delay, 0..1 (0.1 = ±10 %).
    pub jitter: f64,
    /// After this many consecutive failures without progress the pipeline is `Failed`.
    pub max_consecutive_failures: u32,
    /// A run that lasted this long counts as healthy: the failure count starts over.
    pub healthy_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(60),
            jitter: 0.1,
            max_consecutive_failures: 10,
            healthy_after: Duration::from_secs(60),
        }
    }
}

impl RestartPolicy {
    /// The delay before restart number `failures` (1-based), with jitter drawn from `rand01`.
    pub fn delay(&self, failures: u32, rand01: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(63) as i32;
        let base = self.initial_backoff.as_secs_f64() * self.multiplier.max(1.0).powi(exp);
        let capped = base.min(self.max_backoff.as_secs_f64());
        let spread = self.jitter.clamp(0.0, 1.0) * (rand01.clamp(0.0, 1.0) * 2.0 - 1.0);
        Duration::from_secs_f64((capped * (1.0 + spread)).max(0.0))
    }
}

/// Settings of one pipeline.
///
/// ```
/// use rivven_connect::runtime::{OnError, PipelineSettings};
/// use std::time::Duration;
///
/// let settings = PipelineSettings::default()
///     .with_batch_size(500)
///     .with_max_in_flight_batches(4)
///     .with_on_error(OnError::DeadLetter)
///     .with_rate_limit(1_000);
/// assert_eq!(settings.batch_size, 500);
/// ```
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Events per source batch.
    pub batch_size: usize,
    /// How long a partial source batch waits for more events once the source has
    /// none ready (default 5 ms, like Kafka's `linger.ms`).
    pub linger: Duration,
    /// Credit window: unacknowledged batches the source may have in flight.
    pub max_in_flight_batches: usize,
    /// Byte bound of the credit window (approximate event sizes): each batch
    /// closes once it holds `max_in_flight_bytes / max_in_flight_batches`, so
    /// what is in flight stays within this plus one event (default 256 MiB).
    pub max_in_flight_bytes: usize,
    /// Events per second (0 = unlimited).
    pub rate_limit: u32,
    /// Burst for the rate limit (0 = one second's worth).
    pub rate_limit_burst: u32,
    /// Policy for rejected records.
    pub on_error: OnError,
    /// In-place retries of retryable sink errors.
    pub retry: RetryConfig,
    /// Circuit breaker around sink writes.
    pub circuit_breaker: CircuitBreakerConfig,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Minimum time between two offset commits (0 = after every acknowledged batch).
    /// Final offsets are always committed on completion and shutdown.
    pub checkpoint_interval: Duration,
    /// Batching of a plain `Sink` (a `BatchSink` brings its own).
    pub sink_batch: BatchConfig,
    /// Run `check` on source and sink before the pipeline reports `Running`.
    pub check_before_start: bool,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            batch_size: 1024,
            linger: Duration::from_millis(5),
            max_in_flight_batches: 4,
            max_in_flight_bytes: 256 * 1024 * 1024,
            rate_limit: 0,
            rate_limit_burst: 0,
            on_error: OnError::default(),
            retry: RetryConfig::default(),
            circuit_breaker: CircuitBreakerConfig::default(),
            restart: RestartPolicy::default(),
            checkpoint_interval: Duration::from_secs(1),
            sink_batch: BatchConfig::new(BatchConfig::DEFAULT_MAX_RECORDS, 1_000),
            check_before_start: true,
        }
    }
}

impl PipelineSettings {
    /// The byte bound of the credit window (at least 1 KiB).
    pub fn with_max_in_flight_bytes(mut self, bytes: usize) -> Self {
        self.max_in_flight_bytes = bytes.max(1024);
        self
    }

    /// The byte share of one batch.
    pub(crate) fn batch_bytes(&self) -> usize {
        (self.max_in_flight_bytes / self.max_in_flight_batches.max(1)).max(1)
    }

    /// Events per source batch (at least 1).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }
    /// Linger of a partial source batch.
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }
    /// Credit window (at least 1).
    pub fn with_max_in_flight_batches(mut self, n: usize) -> Self {
        self.max_in_flight_batches = n.max(1);
        self
    }
    /// Rate limit in events per second (0 = unlimited).
    pub fn with_rate_limit(mut self, events_per_second: u32) -> Self {
        self.rate_limit = events_per_second;
        self
    }
    /// Burst allowance of the rate limit (0 = one second's worth).
    pub fn with_rate_limit_burst(mut self, burst: u32) -> Self {
        self.rate_limit_burst = burst;
        self
    }
    /// Error policy.
    pub fn with_on_error(mut self, on_error: OnError) -> Self {
        self.on_error = on_error;
        self
    }
    /// Sink retry policy.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }
    /// Sink circuit breaker.
    pub fn with_circuit_breaker(mut self, config: CircuitBreakerConfig) -> Self {
        self.circuit_breaker = config;
        self
    }
    /// Restart policy.
    pub fn with_restart(mut self, restart: RestartPolicy) -> Self {
        self.restart = restart;
        self
    }
    /// Minimum time between offset commits.
    pub fn with_checkpoint_interval(mut self, interval: Duration) -> Self {
        self.checkpoint_interval = interval;
        self
    }
    /// Batching of a plain sink.
    pub fn with_sink_batch(mut self, batch: BatchConfig) -> Self {
        self.sink_batch = batch;
        self
    }
    /// Whether to run checks before starting.
    pub fn with_check_before_start(mut self, check: bool) -> Self {
        self.check_before_start = check;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_delay_doubles_and_caps() {
        let p = RestartPolicy {
            jitter: 0.0,
            ..RestartPolicy::default()
        };
        assert_eq!(p.delay(1, 0.5), Duration::from_secs(1));
        assert_eq!(p.delay(2, 0.5), Duration::from_secs(2));
        assert_eq!(p.delay(4, 0.5), Duration::from_secs(8));
        assert_eq!(p.delay(7, 0.5), Duration::from_secs(60));
        assert_eq!(p.delay(500, 0.5), Duration::from_secs(60));
    }

    #[test]
    fn restart_delay_jitter_stays_in_band() {
        let p = RestartPolicy::default();
        let lo = p.delay(1, 0.0).as_secs_f64();
        let hi = p.delay(1, 1.0).as_secs_f64();
        assert!(
            (lo - 0.9).abs() < 1e-9 && (hi - 1.1).abs() < 1e-9,
            "{lo} {hi}"
        );
    }

    #[test]
    fn setters_clamp() {
        let s = PipelineSettings::default()
            .with_batch_size(0)
            .with_max_in_flight_batches(0);
        assert_eq!((s.batch_size, s.max_in_flight_batches), (1, 1));
        assert_eq!(PipelineSettings::default().on_error, OnError::Stop);
    }
}
