//! A token-bucket rate limiter (events per second plus a burst), on `governor`.
//!
//! ```
//! use rivven_connect::prelude::*;
//!
//! # async fn run() {
//! let limiter = RateLimiter::new(RateLimiterConfig { events_per_second: 1000, burst_capacity: 100 });
//! limiter.acquire().await;      // one event
//! limiter.acquire_n(250).await; // a batch larger than the burst is paced in bursts
//! assert!(limiter.config().events_per_second == 1000);
//! # }
//! ```

use std::num::NonZeroU32;

use governor::clock::DefaultClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;

type Direct = governor::RateLimiter<NotKeyed, InMemoryState, DefaultClock, NoOpMiddleware>;

/// Rate and burst. A zero rate is treated as 1 event/s; a zero burst as the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimiterConfig {
    /// Sustained rate.
    pub events_per_second: u32,
    /// Events allowed at once after an idle period (bucket size).
    pub burst_capacity: u32,
}

impl RateLimiterConfig {
    /// `events_per_second` with a burst of the same size.
    pub fn per_second(events_per_second: u32) -> Self {
        Self {
            events_per_second,
            burst_capacity: events_per_second,
        }
    }
}

/// A shared-by-reference limiter: `acquire` waits until the next event may pass.
pub struct RateLimiter {
    config: RateLimiterConfig,
    burst: NonZeroU32,
    inner: Direct,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter with a full bucket.
    pub fn new(config: RateLimiterConfig) -> Self {
        let rate = NonZeroU32::new(config.events_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.burst_capacity).unwrap_or(rate);
        Self {
            config,
            burst,
            inner: governor::RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> RateLimiterConfig {
        self.config
    }

    /// Waits until one event may pass.
    pub async fn acquire(&self) {
        self.inner.until_ready().await;
    }

    /// Waits until `n` events may pass; batches above the burst are paced in bursts.
    pub async fn acquire_n(&self, n: u32) {
        let mut left = n;
        while left > 0 {
            let take = left.min(self.burst.get());
            if let Some(take_nz) = NonZeroU32::new(take) {
                // `take` never exceeds the burst, so capacity is always sufficient.
                if self.inner.until_n_ready(take_nz).await.is_err() {
                    self.inner.until_ready().await;
                }
            }
            left -= take;
        }
    }

    /// Takes one event's permit if available now, without waiting.
    pub fn try_acquire(&self) -> bool {
        self.inner.check().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn burst_passes_immediately_then_limits() {
        let limiter = RateLimiter::new(RateLimiterConfig {
            events_per_second: 10,
            burst_capacity: 5,
        });
        let passed = (0..20).filter(|_| limiter.try_acquire()).count();
        assert_eq!(passed, 5);
    }

    #[tokio::test]
    async fn acquire_paces_to_the_rate() {
        let limiter = RateLimiter::new(RateLimiterConfig {
            events_per_second: 100,
            burst_capacity: 1,
        });
        let started = Instant::now();
        limiter.acquire_n(11).await;
        // 1 immediately, then 10 more at 10 ms each.
        assert!(started.elapsed() >= Duration::from_millis(90));
    }

    #[test]
    fn zero_config_is_sane() {
        let limiter = RateLimiter::new(RateLimiterConfig {
            events_per_second: 0,
            burst_capacity: 0,
        });
        assert!(limiter.try_acquire());
        assert!(!limiter.try_acquire());
    }
}
