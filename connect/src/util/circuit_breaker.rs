//! A circuit breaker: after repeated failures, stop calling a failing dependency for a
//! while, then probe it carefully before trusting it again.
//!
//! ```
//! use rivven_connect::prelude::*;
//! use std::time::Duration;
//!
//! # async fn query() -> Result<u32> { Ok(1) }
//! # async fn run() {
//! let config = CircuitBreakerConfig {
//!     failure_threshold: 5,
//!     success_threshold: 3,
//!     open_duration: Duration::from_secs(30),
//! };
//! let circuit = CircuitBreaker::new(config);
//! match circuit.call(|| async { query().await }).await {
//!     Ok(rows) => println!("{rows}"),
//!     Err(CircuitBreakerError::Open) => println!("circuit open, using fallback"),
//!     Err(CircuitBreakerError::OperationFailed(e)) => println!("failed: {e}"),
//! }
//! assert_eq!(circuit.state(), CircuitState::Closed);
//!
//! // Share across tasks.
//! let shared = SharedCircuitBreaker::new(config);
//! let clone = shared.clone();
//! tokio::spawn(async move { clone.call(|| async { query().await }).await });
//! let stats = circuit.stats();
//! println!("Failures: {}, Successes: {}", stats.failures, stats.successes);
//! # }
//! ```

use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::ConnectorError;

/// When to open and when to close the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// Consecutive successes in half-open state that close it again.
    pub success_threshold: u32,
    /// How long the circuit stays open before letting a probe through.
    pub open_duration: Duration,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            success_threshold: 3,
            open_duration: Duration::from_secs(30),
        }
    }
}

/// The circuit's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls flow normally.
    Closed,
    /// Calls are rejected without being made.
    Open,
    /// The open period has passed; calls are let through as probes.
    HalfOpen,
}

/// The error of a call made through a [`CircuitBreaker`].
#[derive(Debug, thiserror::Error)]
pub enum CircuitBreakerError<E> {
    /// The circuit is open; the operation was not attempted.
    #[error("circuit breaker is open; call rejected")]
    Open,
    /// The operation ran and failed.
    #[error("{0}")]
    OperationFailed(E),
}

impl From<CircuitBreakerError<ConnectorError>> for ConnectorError {
    fn from(error: CircuitBreakerError<ConnectorError>) -> Self {
        match error {
            CircuitBreakerError::Open => {
                ConnectorError::transient("circuit breaker is open; call rejected")
            }
            CircuitBreakerError::OperationFailed(e) => e,
        }
    }
}

/// Counters describing a breaker's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitStats {
    /// The current state.
    pub state: CircuitState,
    /// Failed calls, in total.
    pub failures: u64,
    /// Successful calls, in total.
    pub successes: u64,
    /// Calls rejected because the circuit was open.
    pub rejected: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Times the circuit opened.
    pub times_opened: u64,
}

#[derive(Debug)]
struct Inner {
    state: CircuitState,
    opened_at: Option<Instant>,
    consecutive_failures: u32,
    half_open_successes: u32,
    failures: u64,
    successes: u64,
    rejected: u64,
    times_opened: u64,
}

impl Inner {
    /// Moves Open → HalfOpen once the open period has passed.
    fn refresh(&mut self, open_duration: Duration) {
        if self.state == CircuitState::Open
            && self
                .opened_at
                .is_some_and(|at| at.elapsed() >= open_duration)
        {
            self.state = CircuitState::HalfOpen;
            self.half_open_successes = 0;
        }
    }

    fn open(&mut self) {
        if self.state != CircuitState::Open {
            self.times_opened += 1;
        }
        self.state = CircuitState::Open;
        self.opened_at = Some(Instant::now());
        self.half_open_successes = 0;
    }
}

/// A circuit breaker usable through `&self` (interior mutability), so it can sit in an
/// actor's state or behind an `Arc` ([`SharedCircuitBreaker`]).
#[derive(Debug)]
pub struct CircuitBreaker {
    config: CircuitBreakerConfig,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: CircuitBreakerConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner {
                state: CircuitState::Closed,
                opened_at: None,
                consecutive_failures: 0,
                half_open_successes: 0,
                failures: 0,
                successes: 0,
                rejected: 0,
                times_opened: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The inner state is plain counters: a panic elsewhere cannot leave it torn.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The configuration.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// The current state (an open circuit whose open period has passed is half-open).
    pub fn state(&self) -> CircuitState {
        let mut inner = self.lock();
        inner.refresh(self.config.open_duration);
        inner.state
    }

    /// `true` when a call would be let through now. Counts a rejection when it would not.
    pub fn allow_request(&self) -> bool {
        let mut inner = self.lock();
        inner.refresh(self.config.open_duration);
        if inner.state == CircuitState::Open {
            inner.rejected += 1;
            false
        } else {
            true
        }
    }

    /// How long until an open circuit lets a probe through (`None` when not open).
    pub fn remaining_open(&self) -> Option<Duration> {
        let mut inner = self.lock();
        inner.refresh(self.config.open_duration);
        match (inner.state, inner.opened_at) {
            (CircuitState::Open, Some(at)) => {
                Some(self.config.open_duration.saturating_sub(at.elapsed()))
            }
            _ => None,
        }
    }

    /// Records a successful call.
    pub fn record_success(&self) {
        let mut inner = self.lock();
        inner.refresh(self.config.open_duration);
        inner.successes += 1;
        inner.consecutive_failures = 0;
        if inner.state == CircuitState::HalfOpen {
            inner.half_open_successes += 1;
            if inner.half_open_successes >= self.config.success_threshold.max(1) {
                inner.state = CircuitState::Closed;
                inner.opened_at = None;
                tracing::info!("circuit breaker closed after successful probes");
            }
        }
    }

    /// Records a failed call; opens the circuit at the threshold or on a failed probe.
    pub fn record_failure(&self) {
        let mut inner = self.lock();
        inner.refresh(self.config.open_duration);
        inner.failures += 1;
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        let open = match inner.state {
            CircuitState::HalfOpen => true,
            CircuitState::Closed => {
                inner.consecutive_failures >= self.config.failure_threshold.max(1)
            }
            CircuitState::Open => false,
        };
        if open {
            inner.open();
            tracing::warn!(
                consecutive_failures = inner.consecutive_failures,
                "circuit breaker opened"
            );
        }
    }

    /// Runs `op` unless the circuit is open, and records its outcome.
    pub async fn call<T, E, F, Fut>(&self, op: F) -> Result<T, CircuitBreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if !self.allow_request() {
            return Err(CircuitBreakerError::Open);
        }
        match op().await {
            Ok(value) => {
                self.record_success();
                Ok(value)
            }
            Err(error) => {
                self.record_failure();
                Err(CircuitBreakerError::OperationFailed(error))
            }
        }
    }

    /// Forces the circuit open.
    pub fn trip(&self) {
        self.lock().open();
    }

    /// Forces the circuit closed and clears the consecutive-failure count.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.state = CircuitState::Closed;
        inner.opened_at = None;
        inner.consecutive_failures = 0;
        inner.half_open_successes = 0;
    }

    /// The breaker's counters.
    pub fn stats(&self) -> CircuitStats {
        let mut inner = self.lock();
        inner.refresh(self.config.open_duration);
        CircuitStats {
            state: inner.state,
            failures: inner.failures,
            successes: inner.successes,
            rejected: inner.rejected,
            consecutive_failures: inner.consecutive_failures,
            times_opened: inner.times_opened,
        }
    }
}

/// A [`CircuitBreaker`] behind an `Arc`: clones share one circuit.
#[derive(Debug, Clone)]
pub struct SharedCircuitBreaker(Arc<CircuitBreaker>);

impl SharedCircuitBreaker {
    /// A closed, shareable breaker.
    pub fn new(config: CircuitBreakerConfig) -> Self {
        Self(Arc::new(CircuitBreaker::new(config)))
    }
}

impl Deref for SharedCircuitBreaker {
    type Target = CircuitBreaker;
    fn deref(&self) -> &CircuitBreaker {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(open_ms: u64) -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            failure_threshold: 3,
            success_threshold: 2,
            open_duration: Duration::from_millis(open_ms),
        }
    }

    async fn fail(cb: &CircuitBreaker) -> Result<(), CircuitBreakerError<&'static str>> {
        cb.call(|| async { Err::<(), _>("boom") }).await
    }

    async fn succeed(cb: &CircuitBreaker) -> Result<u8, CircuitBreakerError<&'static str>> {
        cb.call(|| async { Ok(1) }).await
    }

    #[tokio::test]
    async fn opens_after_threshold_and_rejects_without_calling() {
        let cb = CircuitBreaker::new(config(60_000));
        for _ in 0..3 {
            assert!(matches!(
                fail(&cb).await,
                Err(CircuitBreakerError::OperationFailed("boom"))
            ));
        }
        assert_eq!(cb.state(), CircuitState::Open);
        let mut called = false;
        let r = cb
            .call(|| {
                called = true;
                async { Ok::<_, &str>(()) }
            })
            .await;
        assert!(matches!(r, Err(CircuitBreakerError::Open)));
        assert!(!called);
        let stats = cb.stats();
        assert_eq!(
            (stats.failures, stats.rejected, stats.times_opened),
            (3, 1, 1)
        );
    }

    #[tokio::test]
    async fn half_open_closes_after_successes_and_reopens_on_failure() {
        let cb = CircuitBreaker::new(config(20));
        for _ in 0..3 {
            let _ = fail(&cb).await;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(cb.state(), CircuitState::HalfOpen);
        let _ = fail(&cb).await;
        assert_eq!(cb.state(), CircuitState::Open, "a failed probe reopens");
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(succeed(&cb).await.is_ok());
        assert_eq!(cb.state(), CircuitState::HalfOpen);
        assert!(succeed(&cb).await.is_ok());
        assert_eq!(cb.state(), CircuitState::Closed);
        assert_eq!(cb.stats().times_opened, 2);
    }

    #[tokio::test]
    async fn success_resets_consecutive_failures() {
        let cb = CircuitBreaker::new(config(60_000));
        let _ = fail(&cb).await;
        let _ = fail(&cb).await;
        let _ = succeed(&cb).await;
        let _ = fail(&cb).await;
        let _ = fail(&cb).await;
        assert_eq!(cb.state(), CircuitState::Closed);
    }

    #[tokio::test]
    async fn trip_and_reset_and_shared_clones() {
        let shared = SharedCircuitBreaker::new(config(60_000));
        let other = shared.clone();
        other.trip();
        assert_eq!(shared.state(), CircuitState::Open);
        assert!(matches!(
            succeed(&shared).await,
            Err(CircuitBreakerError::Open)
        ));
        shared.reset();
        assert_eq!(other.state(), CircuitState::Closed);
        assert!(succeed(&other).await.is_ok());
        assert!(shared.remaining_open().is_none());
    }

    #[test]
    fn open_error_converts_to_retryable_connector_error() {
        let e: ConnectorError = CircuitBreakerError::<ConnectorError>::Open.into();
        assert!(e.is_retryable());
    }
}
