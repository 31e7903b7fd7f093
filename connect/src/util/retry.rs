//! Retry with exponential backoff and jitter, on top of the `backoff` crate.
//!
//! ```
//! use rivven_connect::prelude::*;
//! use std::time::Duration;
//!
//! # async fn fetch() -> Result<u32> { Ok(7) }
//! # async fn run() -> Result<()> {
//! let config = RetryConfig::new()
//!     .with_max_retries(5)
//!     .with_initial_delay(Duration::from_millis(100))
//!     .with_max_delay(Duration::from_secs(30))
//!     .with_backoff_multiplier(2.0)
//!     .with_jitter(0.1);
//!
//! let outcome = retry(&config, || async { fetch().await }).await;
//! if outcome.is_success() {
//!     println!("Success after {} attempts", outcome.attempts);
//! }
//! let value = retry_result(&config, || async { fetch().await }).await?;
//! assert_eq!(value, 7);
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use backoff::backoff::Backoff;
use backoff::{ExponentialBackoff, ExponentialBackoffBuilder};

use crate::error::ConnectorError;

/// Whether an error is worth retrying.
///
/// Implemented for [`ConnectorError`] (by its [`ErrorKind`](crate::ErrorKind)) and for
/// [`std::io::Error`] (timeouts, interruptions and connection drops).
pub trait Retryable {
    /// `true` when the same operation may succeed if tried again.
    fn is_retryable(&self) -> bool;
}

impl Retryable for ConnectorError {
    fn is_retryable(&self) -> bool {
        ConnectorError::is_retryable(self)
    }
}

impl Retryable for std::io::Error {
    fn is_retryable(&self) -> bool {
        use std::io::ErrorKind as K;
        matches!(
            self.kind(),
            K::Interrupted
                | K::TimedOut
                | K::WouldBlock
                | K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::BrokenPipe
                | K::UnexpectedEof
        )
    }
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Upper bound for any single delay.
    pub max_delay: Duration,
    /// Factor applied to the delay after each retry.
    pub backoff_multiplier: f64,
    /// Randomisation factor in `0.0..=1.0`: a delay `d` becomes one in `d·(1±jitter)`.
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            backoff_multiplier: 2.0,
            jitter: 0.1,
        }
    }
}

impl RetryConfig {
    /// The defaults: 3 retries, 100 ms initial delay, ×2 up to 30 s, 10 % jitter.
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration that never retries.
    pub fn no_retry() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets the number of retries after the first attempt.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the delay before the first retry.
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// Sets the upper bound for a single delay.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets the growth factor between delays (values below 1.0 are treated as 1.0).
    pub fn with_backoff_multiplier(mut self, multiplier: f64) -> Self {
        self.backoff_multiplier = multiplier;
        self
    }

    /// Sets the randomisation factor (clamped to `0.0..=1.0`).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    fn backoff(&self) -> ExponentialBackoff {
        let multiplier = if self.backoff_multiplier.is_finite() {
            self.backoff_multiplier.max(1.0)
        } else {
            1.0
        };
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ExponentialBackoffBuilder::new()
            .with_initial_interval(self.initial_delay)
            .with_max_interval(self.max_delay.max(self.initial_delay))
            .with_multiplier(multiplier)
            .with_randomization_factor(jitter)
            .with_max_elapsed_time(None)
            .build()
    }
}

/// Manual retry control: ask whether to try again, record each failure, sleep the delay.
///
/// ```
/// use rivven_connect::prelude::*;
///
/// # async fn try_operation() -> Result<u32> { Ok(1) }
/// # async fn run() -> Result<u32> {
/// let mut guard = RetryGuard::new(RetryConfig::new());
/// loop {
///     match try_operation().await {
///         Ok(v) => return Ok(v),
///         Err(e) if e.is_retryable() => match guard.record_attempt() {
///             Some(delay) => tokio::time::sleep(delay).await,
///             None => return Err(e),
///         },
///         Err(e) => return Err(e),
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct RetryGuard {
    config: RetryConfig,
    backoff: ExponentialBackoff,
    failures: u32,
}

impl RetryGuard {
    /// A guard that has not seen any failure yet.
    pub fn new(config: RetryConfig) -> Self {
        Self {
            backoff: config.backoff(),
            config,
            failures: 0,
        }
    }

    /// `true` while another attempt is allowed (the first attempt is always allowed).
    pub fn should_retry(&self) -> bool {
        self.failures <= self.config.max_retries
    }

    /// Records a failed attempt. Returns the delay to wait before the next attempt,
    /// or `None` when the retry budget is used up.
    pub fn record_attempt(&mut self) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        if self.failures > self.config.max_retries {
            return None;
        }
        let delay = self.backoff.next_backoff().unwrap_or(self.config.max_delay);
        Some(delay.min(self.config.max_delay))
    }

    /// Failed attempts recorded so far.
    pub fn attempts(&self) -> u32 {
        self.failures
    }

    /// Forgets all recorded failures (call after a success).
    pub fn reset(&mut self) {
        self.failures = 0;
        self.backoff.reset();
    }

    /// The configuration this guard follows.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }
}

/// What [`retry`] did: the final result, how many attempts it took and how long.
#[derive(Debug)]
pub struct RetryOutcome<T, E> {
    /// The last attempt's result.
    pub result: Result<T, E>,
    /// Attempts made, including the first.
    pub attempts: u32,
    /// Wall time spent, delays included.
    pub elapsed: Duration,
}

impl<T, E> RetryOutcome<T, E> {
    /// `true` when the last attempt succeeded.
    pub fn is_success(&self) -> bool {
        self.result.is_ok()
    }

    /// The final result.
    pub fn into_result(self) -> Result<T, E> {
        self.result
    }
}

/// Runs `op` until it succeeds, fails with a non-retryable error, or the retry budget is
/// spent, sleeping the backoff delay between attempts.
pub async fn retry<T, E, F, Fut>(config: &RetryConfig, mut op: F) -> RetryOutcome<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut guard = RetryGuard::new(*config);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match op().await {
            Ok(value) => {
                return RetryOutcome {
                    result: Ok(value),
                    attempts,
                    elapsed: started.elapsed(),
                }
            }
            Err(error) => {
                let delay = if error.is_retryable() {
                    guard.record_attempt()
                } else {
                    None
                };
                match delay {
                    Some(delay) => {
                        tracing::debug!(attempt = attempts, ?delay, "retrying after failure");
                        tokio::time::sleep(delay).await;
                    }
                    None => {
                        return RetryOutcome {
                            result: Err(error),
                            attempts,
                            elapsed: started.elapsed(),
                        }
                    }
                }
            }
        }
    }
}

/// Like [`retry`], returning only the final result.
pub async fn retry_result<T, E, F, Fut>(config: &RetryConfig, op: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry(config, op).await.result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryConfig {
        RetryConfig::new()
            .with_initial_delay(Duration::from_millis(1))
            .with_max_delay(Duration::from_millis(4))
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        let calls = AtomicU32::new(0);
        let outcome = retry(&fast(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(ConnectorError::transient("flaky"))
            } else {
                Ok(42)
            }
        })
        .await;
        assert!(outcome.is_success());
        assert_eq!(outcome.attempts, 3);
        assert_eq!(outcome.result.ok(), Some(42));
    }

    #[tokio::test]
    async fn stops_at_once_on_non_retryable_errors() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry_result(&fast(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ConnectorError::configuration("bad"))
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(result.err().map(|e| e.kind()), Some(ErrorKind::Config));
    }

    #[tokio::test]
    async fn gives_up_after_max_retries() {
        let calls = AtomicU32::new(0);
        let outcome: RetryOutcome<(), _> = retry(&fast().with_max_retries(2), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ConnectorError::timeout("slow"))
        })
        .await;
        assert!(!outcome.is_success());
        assert_eq!(outcome.attempts, 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn guard_delays_grow_and_stay_bounded() {
        let config = RetryConfig::new()
            .with_max_retries(10)
            .with_initial_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(800))
            .with_jitter(0.0);
        let mut guard = RetryGuard::new(config);
        let delays: Vec<_> = (0..6).filter_map(|_| guard.record_attempt()).collect();
        let ms: Vec<u128> = delays.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 800, 800]);
        assert_eq!(guard.attempts(), 6);
        guard.reset();
        assert_eq!(guard.attempts(), 0);
        assert_eq!(guard.record_attempt().map(|d| d.as_millis()), Some(100));
    }

    #[test]
    fn guard_exhausts_budget() {
        let mut guard = RetryGuard::new(RetryConfig::new().with_max_retries(1));
        assert!(guard.should_retry());
        assert!(guard.record_attempt().is_some());
        assert!(guard.should_retry());
        assert!(guard.record_attempt().is_none());
        assert!(!guard.should_retry());
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let config = RetryConfig::new()
            .with_max_retries(1000)
            .with_initial_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(100))
            .with_jitter(0.5);
        let mut guard = RetryGuard::new(config);
        for _ in 0..100 {
            let d = guard.record_attempt().map(|d| d.as_millis()).unwrap_or(0);
            assert!((50..=100).contains(&d), "delay {d} out of bounds");
        }
    }
}
