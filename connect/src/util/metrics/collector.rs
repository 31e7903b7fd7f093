//! [`MetricsCollector`]: counters, gauges and histograms with an in-process
//! snapshot, recorded into the `metrics` facade as well.

use metrics::{Key, Label, Recorder};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::recorder::{MetricsRecorder, METADATA};

/// Samples kept per histogram for percentiles (count, sum, min and max are exact).
const RESERVOIR: usize = 1024;

/// A set of label pairs that gives a metric extra dimensions.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// No labels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a label; labels are kept sorted by key.
    pub fn add(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        let value = value.into();
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
        self
    }

    /// The pairs, sorted by key.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// A metric's name plus labels; displays as `name{k="v",…}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricKey {
    /// The metric name.
    pub name: String,
    /// Its labels.
    pub labels: Labels,
}

impl MetricKey {
    fn plain(name: &str) -> Self {
        Self {
            name: name.to_string(),
            labels: Labels::new(),
        }
    }

    fn render(&self, out: &mut String, prom: bool, extra: Option<(&str, &str)>) {
        if prom {
            out.push_str(&sanitize_name(&self.name));
        } else {
            out.push_str(&self.name);
        }
        let pairs: Vec<(&str, &str)> = self
            .labels
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra)
            .collect();
        if pairs.is_empty() {
            return;
        }
        out.push('{');
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let k = if prom {
                sanitize_name(k)
            } else {
                (*k).to_string()
            };
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
}

impl fmt::Display for MetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.render(&mut s, false, None);
        f.write_str(&s)
    }
}

fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Anything that records metrics: implement it to forward to your own system.
pub trait Metrics: Send + Sync {
    /// Adds `value` to a counter.
    fn increment_by(&self, name: &str, value: u64);
    /// Sets a gauge.
    fn set_gauge(&self, name: &str, value: f64);
    /// Records a histogram sample.
    fn histogram(&self, name: &str, value: f64);
    /// Adds one to a counter.
    fn increment(&self, name: &str) {
        self.increment_by(name, 1);
    }
}

#[derive(Debug, Clone)]
struct Histogram {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    samples: Vec<f64>,
    rng: u64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            samples: Vec::new(),
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn record(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if self.samples.len() < RESERVOIR {
            self.samples.push(value);
        } else {
            // Reservoir sampling (algorithm R) keeps a uniform sample of all values.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let slot = self.rng % self.count;
            if let Ok(slot) = usize::try_from(slot) {
                if slot < RESERVOIR {
                    self.samples[slot] = value;
                }
            }
        }
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        HistogramSnapshot {
            count: self.count,
            sum: self.sum,
            min: if self.count == 0 { 0.0 } else { self.min },
            max: if self.count == 0 { 0.0 } else { self.max },
            sorted,
        }
    }
}

/// A histogram's state at snapshot time.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Samples recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest sample (0 when empty).
    pub min: f64,
    /// The largest sample (0 when empty).
    pub max: f64,
    sorted: Vec<f64>,
}

impl HistogramSnapshot {
    /// The `q`-quantile (`0.0..=1.0`, nearest rank); 0 when empty.
    pub fn percentile(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = (q * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    /// Median.
    pub fn p50(&self) -> f64 {
        self.percentile(0.50)
    }

    /// 95th percentile.
    pub fn p95(&self) -> f64 {
        self.percentile(0.95)
    }

    /// 99th percentile.
    pub fn p99(&self) -> f64 {
        self.percentile(0.99)
    }

    /// Mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// Every metric's value at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Counters.
    pub counters: BTreeMap<MetricKey, u64>,
    /// Gauges.
    pub gauges: BTreeMap<MetricKey, f64>,
    /// Histograms.
    pub histograms: BTreeMap<MetricKey, HistogramSnapshot>,
}

impl MetricsSnapshot {
    /// An unlabeled counter's value.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.counters.get(&MetricKey::plain(name)).copied()
    }

    /// A labeled counter's value.
    pub fn counter_with_labels(&self, name: &str, labels: &Labels) -> Option<u64> {
        let key = MetricKey {
            name: name.to_string(),
            labels: labels.clone(),
        };
        self.counters.get(&key).copied()
    }

    /// An unlabeled gauge's value.
    pub fn gauge(&self, name: &str) -> Option<f64> {
        self.gauges.get(&MetricKey::plain(name)).copied()
    }

    /// An unlabeled histogram.
    pub fn histogram(&self, name: &str) -> Option<&HistogramSnapshot> {
        self.histograms.get(&MetricKey::plain(name))
    }

    /// Prometheus text exposition format (histograms as summaries with 0.5/0.95/0.99).
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let typed = |out: &mut String, name: &str, kind: &str, last: &mut String| {
            let name = sanitize_name(name);
            if *last != name {
                let _ = writeln!(out, "# TYPE {name} {kind}");
                *last = name;
            }
        };
        let mut last = String::new();
        for (key, value) in &self.counters {
            typed(&mut out, &key.name, "counter", &mut last);
            key.render(&mut out, true, None);
            let _ = writeln!(out, " {value}");
        }
        for (key, value) in &self.gauges {
            typed(&mut out, &key.name, "gauge", &mut last);
            key.render(&mut out, true, None);
            let _ = writeln!(out, " {value}");
        }
        for (key, hist) in &self.histograms {
            typed(&mut out, &key.name, "summary", &mut last);
            for (q, v) in [
                ("0.5", hist.p50()),
                ("0.95", hist.p95()),
                ("0.99", hist.p99()),
            ] {
                key.render(&mut out, true, Some(("quantile", q)));
                let _ = writeln!(out, " {v}");
            }
            for (suffix, v) in [("_sum", hist.sum), ("_count", hist.count as f64)] {
                let suffixed = MetricKey {
                    name: format!("{}{suffix}", key.name),
                    labels: key.labels.clone(),
                };
                suffixed.render(&mut out, true, None);
                let _ = writeln!(out, " {v}");
            }
        }
        out
    }
}

#[derive(Debug, Default)]
struct Store {
    counters: BTreeMap<MetricKey, u64>,
    gauges: BTreeMap<MetricKey, f64>,
    histograms: BTreeMap<MetricKey, Histogram>,
}

/// The built-in [`Metrics`] implementation; cheap to share behind an `Arc`.
///
/// Every value is recorded twice: into the collector's own store, which
/// [`snapshot`](Self::snapshot) reads (exact counts, percentiles of the
/// samples this collector saw), and into the `metrics` facade, so it appears
/// on the runtime's `/metrics` with everything else. By default that is the
/// process-wide recorder (see [`MetricsRecorder::install_global`]);
/// [`with_recorder`](Self::with_recorder) names one.
#[derive(Debug, Default)]
pub struct MetricsCollector {
    store: Mutex<Store>,
    recorder: Option<MetricsRecorder>,
}

impl MetricsCollector {
    /// An empty collector that also records into the process-wide recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty collector that also records into `recorder`.
    pub fn with_recorder(recorder: MetricsRecorder) -> Self {
        Self {
            store: Mutex::default(),
            recorder: Some(recorder),
        }
    }

    fn forward(&self, name: &str, labels: &Labels, record: impl FnOnce(&dyn Recorder, &Key)) {
        let pairs: Vec<Label> = labels
            .pairs()
            .iter()
            .map(|(k, v)| Label::new(k.clone(), v.clone()))
            .collect();
        let key = Key::from_parts(name.to_string(), pairs);
        match &self.recorder {
            Some(recorder) => record(recorder, &key),
            None => metrics::with_recorder(|recorder| record(recorder, &key)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // Plain maps of numbers: a panic elsewhere cannot leave them inconsistent.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds one to a counter.
    pub fn increment(&self, name: &str) {
        self.increment_by(name, 1);
    }

    /// Adds `value` to a counter.
    pub fn increment_by(&self, name: &str, value: u64) {
        self.increment_by_with_labels(name, &Labels::new(), value);
    }

    /// Adds one to a labeled counter.
    pub fn increment_with_labels(&self, name: &str, labels: &Labels) {
        self.increment_by_with_labels(name, labels, 1);
    }

    /// Adds `value` to a labeled counter.
    pub fn increment_by_with_labels(&self, name: &str, labels: &Labels, value: u64) {
        let key = MetricKey {
            name: name.to_string(),
            labels: labels.clone(),
        };
        {
            let mut store = self.lock();
            let c = store.counters.entry(key).or_insert(0);
            *c = c.saturating_add(value);
        }
        self.forward(name, labels, |r, k| {
            r.register_counter(k, &METADATA).increment(value)
        });
    }

    /// Sets a gauge.
    pub fn gauge(&self, name: &str, value: impl Into<f64>) {
        self.gauge_with_labels(name, &Labels::new(), value);
    }

    /// Sets a labeled gauge.
    pub fn gauge_with_labels(&self, name: &str, labels: &Labels, value: impl Into<f64>) {
        let key = MetricKey {
            name: name.to_string(),
            labels: labels.clone(),
        };
        let value = value.into();
        self.lock().gauges.insert(key, value);
        self.forward(name, labels, |r, k| {
            r.register_gauge(k, &METADATA).set(value)
        });
    }

    /// Records a histogram sample (non-finite values are ignored).
    pub fn histogram(&self, name: &str, value: f64) {
        self.histogram_with_labels(name, &Labels::new(), value);
    }

    /// Records a labeled histogram sample.
    pub fn histogram_with_labels(&self, name: &str, labels: &Labels, value: f64) {
        let key = MetricKey {
            name: name.to_string(),
            labels: labels.clone(),
        };
        self.lock()
            .histograms
            .entry(key)
            .or_insert_with(Histogram::new)
            .record(value);
        if value.is_finite() {
            self.forward(name, labels, |r, k| {
                r.register_histogram(k, &METADATA).record(value)
            });
        }
    }

    /// A timer that records its elapsed milliseconds into histogram `name` when dropped.
    pub fn start_timer(&self, name: &str) -> Timer<'_> {
        Timer {
            collector: self,
            name: name.to_string(),
            started: Instant::now(),
            stopped: false,
        }
    }

    /// Every metric's current value.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let store = self.lock();
        MetricsSnapshot {
            counters: store.counters.clone(),
            gauges: store.gauges.clone(),
            histograms: store
                .histograms
                .iter()
                .map(|(k, h)| (k.clone(), h.snapshot()))
                .collect(),
        }
    }

    /// Prometheus text exposition of the current values.
    pub fn to_prometheus(&self) -> String {
        self.snapshot().to_prometheus()
    }

    /// Clears this collector's store (what [`snapshot`](Self::snapshot)
    /// reads); counters already recorded into the facade stay, as Prometheus
    /// counters only go up.
    pub fn reset(&self) {
        *self.lock() = Store::default();
    }
}

impl Metrics for MetricsCollector {
    fn increment_by(&self, name: &str, value: u64) {
        MetricsCollector::increment_by(self, name, value);
    }
    fn set_gauge(&self, name: &str, value: f64) {
        self.gauge(name, value);
    }
    fn histogram(&self, name: &str, value: f64) {
        MetricsCollector::histogram(self, name, value);
    }
}

/// Records the elapsed time (milliseconds) into a histogram when dropped or stopped.
#[derive(Debug)]
pub struct Timer<'a> {
    collector: &'a MetricsCollector,
    name: String,
    started: Instant,
    stopped: bool,
}

impl Timer<'_> {
    /// Records now and returns the elapsed milliseconds.
    pub fn stop(mut self) -> f64 {
        self.record()
    }

    /// Drops the timer without recording.
    pub fn discard(mut self) {
        self.stopped = true;
    }

    fn record(&mut self) -> f64 {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        if !self.stopped {
            self.stopped = true;
            self.collector.histogram(&self.name, ms);
        }
        ms
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.record();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let m = MetricsCollector::new();
        for v in 1..=100 {
            m.histogram("lat", f64::from(v));
        }
        let s = m.snapshot();
        let h = s
            .histogram("lat")
            .cloned()
            .unwrap_or_else(|| panic!("missing"));
        assert_eq!((h.p50(), h.p95(), h.p99()), (50.0, 95.0, 99.0));
        assert_eq!((h.count, h.min, h.max), (100, 1.0, 100.0));
        assert!((h.mean() - 50.5).abs() < 1e-9);
    }

    #[test]
    fn reservoir_keeps_memory_bounded_and_estimates_stay_close() {
        let m = MetricsCollector::new();
        for v in 0..100_000 {
            m.histogram("lat", f64::from(v % 1000));
        }
        let s = m.snapshot();
        let h = s
            .histogram("lat")
            .cloned()
            .unwrap_or_else(|| panic!("missing"));
        assert_eq!(h.count, 100_000);
        assert!(h.sorted.len() <= RESERVOIR);
        assert!((h.p50() - 500.0).abs() < 80.0, "p50 = {}", h.p50());
    }

    #[test]
    fn timer_records_on_drop_and_discard_does_not() {
        let m = MetricsCollector::new();
        {
            let _t = m.start_timer("batch");
        }
        m.start_timer("batch").discard();
        let ms = m.start_timer("batch").stop();
        assert!(ms >= 0.0);
        assert_eq!(m.snapshot().histogram("batch").map(|h| h.count), Some(2));
    }

    #[test]
    fn prometheus_export_is_well_formed() {
        let m = MetricsCollector::new();
        m.increment_by("events-total", 3);
        let labels = Labels::new().add("stream", "a\"b").add("connector", "pg");
        m.increment_with_labels("events-total", &labels);
        m.gauge("queue_depth", 7);
        m.histogram("lat", 2.0);
        let text = m.to_prometheus();
        let expected = [
            "# TYPE events_total counter",
            "events_total 3",
            r#"events_total{connector="pg",stream="a\"b"} 1"#,
            "# TYPE queue_depth gauge",
            "queue_depth 7",
            "# TYPE lat summary",
            r#"lat{quantile="0.99"} 2"#,
            "lat_sum 2",
            "lat_count 1",
        ];
        for line in expected {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(text.matches("# TYPE events_total").count(), 1);
    }

    #[test]
    fn values_reach_the_recorder_too() {
        let recorder = MetricsRecorder::new();
        let m = MetricsCollector::with_recorder(recorder.clone());
        m.increment_by("rivven_test_events_total", 2);
        let labels = Labels::new().add("stream", "users");
        m.increment_with_labels("rivven_test_events_total", &labels);
        m.gauge("rivven_test_depth", 7);
        m.histogram("rivven_test_latency", 1.5);
        let text = recorder.render();
        for line in [
            "rivven_test_events_total 2",
            r#"rivven_test_events_total{stream="users"} 1"#,
            "rivven_test_depth 7",
            "rivven_test_latency_count 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(m.snapshot().counter("rivven_test_events_total"), Some(2));
    }

    #[test]
    fn trait_object_forwards() {
        let m = MetricsCollector::new();
        let dynm: &dyn Metrics = &m;
        dynm.increment("x");
        dynm.set_gauge("g", 1.5);
        let s = m.snapshot();
        assert_eq!((s.counter("x"), s.gauge("g")), (Some(1), Some(1.5)));
        m.reset();
        assert!(m.snapshot().counters.is_empty());
    }
}
