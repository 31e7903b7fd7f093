//! Metrics: one system for the runtime and every connector.
//!
//! Everything is recorded through the [`metrics`] facade into a
//! [`MetricsRecorder`] (a Prometheus registry) and served on the runtime's
//! `/metrics` (see `rivven_connect::http`). Connectors record with
//! `metrics::counter!`, `metrics::gauge!` and `metrics::histogram!`, or with
//! [`MetricsCollector`], which also keeps an in-process snapshot with
//! percentiles. The names the runtime itself records are in [`names`].
//!
//! [`MetricsCollector`] in short:
//!
//! ```
//! use rivven_connect::prelude::*;
//!
//! let metrics = MetricsCollector::new();
//! metrics.increment("events_processed");
//! metrics.increment_by("bytes_written", 1024);
//! metrics.gauge("queue_depth", 42);
//! metrics.histogram("event_latency_ms", 15.5);
//! metrics.histogram("event_latency_ms", 23.2);
//! metrics.histogram("event_latency_ms", 8.1);
//! {
//!     let _timer = metrics.start_timer("process_batch");
//!     // ... work; the elapsed milliseconds are recorded when `_timer` drops
//! }
//! let labels = Labels::new().add("connector", "postgres-cdc").add("stream", "users");
//! metrics.increment_with_labels("events", &labels);
//!
//! let snapshot = metrics.snapshot();
//! for (name, value) in &snapshot.counters {
//!     println!("{}: {}", name, value);
//! }
//! for (name, hist) in &snapshot.histograms {
//!     println!("{}: p50={}, p95={}, p99={}", name, hist.p50(), hist.p95(), hist.p99());
//! }
//! assert_eq!(snapshot.counter("bytes_written"), Some(1024));
//! assert!(snapshot.to_prometheus().contains(r#"events{connector="postgres-cdc",stream="users"} 1"#));
//! ```

mod collector;
pub mod names;
mod recorder;

pub use collector::{
    HistogramSnapshot, Labels, MetricKey, Metrics, MetricsCollector, MetricsSnapshot, Timer,
};
pub use recorder::MetricsRecorder;
