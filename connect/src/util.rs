//! Utilities for connector authors: retry, circuit breaker, batching, rate limiting, metrics,
//! exact JSON documents.

pub mod batch;
pub mod circuit_breaker;
pub mod json;
pub mod metrics;
pub mod rate_limit;
pub mod retry;

/// The utilities re-exported at the crate root and in the prelude.
pub mod exports {
    pub use super::batch::{
        chunk_events, partition_events, AsyncBatcher, Batcher, BatcherConfig, EventBatch,
    };
    pub use super::circuit_breaker::{
        CircuitBreaker, CircuitBreakerConfig, CircuitBreakerError, CircuitState, CircuitStats,
        SharedCircuitBreaker,
    };
    pub use super::metrics::{
        HistogramSnapshot, Labels, MetricKey, Metrics, MetricsCollector, MetricsRecorder,
        MetricsSnapshot, Timer,
    };
    pub use super::rate_limit::{RateLimiter, RateLimiterConfig};
    pub use super::retry::{retry, retry_result, RetryConfig, RetryGuard, RetryOutcome, Retryable};
}
