//! Lock-free metrics of a queue connector, the same for every one of them.
//!
//! Each source and sink instance keeps a [`QueueMetrics`] of atomic
//! counters (`Ordering::Relaxed`) that its reader or writer updates, readable
//! in process through `metrics()` → [`QueueMetrics::snapshot`] (with
//! derived rates and a Prometheus text rendering), and recorded as well
//! through the `metrics` facade, so the runtime's `/metrics` serves them:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `rivven_queue_messages_total{connector, direction}` | counter | messages received (source) or published and acknowledged (sink) |
//! | `rivven_queue_bytes_total{connector, direction}` | counter | their payload bytes |
//! | `rivven_queue_errors_total{connector, direction}` | counter | connection errors, refused messages, bad payloads |
//! | `rivven_queue_acks_total{connector, direction}` | counter | acknowledgements sent upstream after the commit (source) |
//! | `rivven_queue_reconnects_total{connector, direction}` | counter | connections re-established after a loss |
//!
//! ```
//! use rivven_connect_queue::metrics::QueueMetrics;
//! let metrics = QueueMetrics::new("mqtt", "source");
//! metrics.received(1024, std::time::Duration::from_millis(2));
//! metrics.error();
//! let snapshot = metrics.snapshot();
//! assert_eq!(snapshot.messages, 1);
//! assert_eq!(snapshot.error_rate_percent(), 100.0);
//! assert!(snapshot.to_prometheus_format("myapp").contains("myapp_mqtt_source_messages_total 1"));
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The counters of one connector instance (see the [module docs](self)).
#[derive(Debug)]
pub struct QueueMetrics {
    connector: &'static str,
    direction: &'static str,
    messages: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    acks: AtomicU64,
    reconnects: AtomicU64,
    latency_micros: AtomicU64,
}

impl QueueMetrics {
    /// Counters for `connector` (e.g. `mqtt`) as a `source` or `sink`.
    pub fn new(connector: &'static str, direction: &'static str) -> Self {
        Self {
            connector,
            direction,
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            latency_micros: AtomicU64::new(0),
        }
    }

    fn facade(&self, name: &'static str, n: u64) {
        metrics::counter!(name, "connector" => self.connector, "direction" => self.direction)
            .increment(n);
    }

    /// A message of `bytes` received (source) and handed on `latency` after
    /// it arrived (the wait for credit included).
    pub fn received(&self, bytes: usize, latency: Duration) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros.fetch_add(micros, Ordering::Relaxed);
        self.facade("rivven_queue_messages_total", 1);
        self.facade("rivven_queue_bytes_total", bytes as u64);
    }

    /// `messages` published and acknowledged by the broker (sink), `bytes`
    /// of payload.
    pub fn published(&self, messages: u64, bytes: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.facade("rivven_queue_messages_total", messages);
        self.facade("rivven_queue_bytes_total", bytes);
    }

    /// An error: a lost connection, a refused or bad message.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.facade("rivven_queue_errors_total", 1);
    }

    /// An acknowledgement sent upstream after the commit.
    pub fn acked(&self) {
        self.acks.fetch_add(1, Ordering::Relaxed);
        self.facade("rivven_queue_acks_total", 1);
    }

    /// A connection re-established after a loss.
    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        self.facade("rivven_queue_reconnects_total", 1);
    }

    /// The counters now.
    pub fn snapshot(&self) -> QueueMetricsSnapshot {
        QueueMetricsSnapshot {
            connector: self.connector,
            direction: self.direction,
            messages: self.messages.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            acks: self.acks.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            latency_micros: self.latency_micros.load(Ordering::Relaxed),
        }
    }
}

/// The counters of a [`QueueMetrics`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueMetricsSnapshot {
    /// The connector, e.g. `mqtt`.
    pub connector: &'static str,
    /// `source` or `sink`.
    pub direction: &'static str,
    /// Messages received (source) or published and acknowledged (sink).
    pub messages: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Errors.
    pub errors: u64,
    /// Acknowledgements sent upstream (source).
    pub acks: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Sum of the receive latencies, in microseconds.
    pub latency_micros: u64,
}

impl QueueMetricsSnapshot {
    /// Messages per second over `elapsed`.
    pub fn messages_per_second(&self, elapsed: Duration) -> f64 {
        per_second(self.messages, elapsed)
    }

    /// Payload bytes per second over `elapsed`.
    pub fn bytes_per_second(&self, elapsed: Duration) -> f64 {
        per_second(self.bytes, elapsed)
    }

    /// Mean time from a message's arrival to its hand-over, in ms (source).
    pub fn avg_receive_latency_ms(&self) -> f64 {
        if self.messages == 0 {
            return 0.0;
        }
        self.latency_micros as f64 / 1000.0 / self.messages as f64
    }

    /// Errors per message handled, in percent (0 when nothing happened).
    pub fn error_rate_percent(&self) -> f64 {
        let total = self.messages + self.errors;
        if total == 0 {
            return 0.0;
        }
        self.errors as f64 * 100.0 / total as f64
    }

    /// The counters in the Prometheus text format, named
    /// `<prefix>_<connector>_<direction>_<counter>_total`.
    pub fn to_prometheus_format(&self, prefix: &str) -> String {
        let name = |counter: &str| {
            format!(
                "{prefix}_{}_{}_{counter}",
                self.connector.replace('-', "_"),
                self.direction
            )
        };
        let mut out = String::new();
        for (counter, value) in [
            ("messages_total", self.messages),
            ("bytes_total", self.bytes),
            ("errors_total", self.errors),
            ("acks_total", self.acks),
            ("reconnects_total", self.reconnects),
        ] {
            let name = name(counter);
            out.push_str(&format!("# TYPE {name} counter\n{name} {value}\n"));
        }
        let latency = name("receive_latency_avg_ms");
        out.push_str(&format!(
            "# TYPE {latency} gauge\n{latency} {}\n",
            self.avg_receive_latency_ms()
        ));
        out
    }
}

fn per_second(n: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    n as f64 / secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values() {
        let m = QueueMetrics::new("redis-streams", "sink");
        m.published(10, 10_240);
        m.error();
        m.reconnected();
        let s = m.snapshot();
        assert_eq!(s.messages_per_second(Duration::from_secs(2)), 5.0);
        assert_eq!(s.bytes_per_second(Duration::from_secs(2)), 5120.0);
        assert!((s.error_rate_percent() - 100.0 / 11.0).abs() < 1e-9);
        assert_eq!(s.avg_receive_latency_ms(), 0.0);
        let text = s.to_prometheus_format("app");
        assert!(
            text.contains("app_redis_streams_sink_reconnects_total 1"),
            "{text}"
        );
        assert_eq!(
            QueueMetrics::new("x", "source")
                .snapshot()
                .error_rate_percent(),
            0.0
        );
    }
}
