//! Utilities for connector authors: retry, circuit breaker, batching, rate limiting, metrics.

pub mod batch;
pub mod circuit_breaker;
pub mod metrics;
pub mod rate_limit;
pub mod retry;

/// The utilities re-exported at the crate root and in the prelude.
pub mod exports {}
