//! [`MetricsRecorder`]: where the runtime's and the connectors' metrics are kept.

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::sync::{Arc, OnceLock};

/// The recorder installed as the process-wide `metrics` recorder by
/// [`MetricsRecorder::install_global`], if one of ours was.
static GLOBAL: OnceLock<MetricsRecorder> = OnceLock::new();

/// A Prometheus registry behind the [`metrics`] facade; cheap to clone (all
/// clones share one registry).
///
/// Every [`Runtime`](crate::runtime::Runtime) records its pipeline metrics
/// straight into its own `MetricsRecorder` (given with
/// [`RuntimeBuilder::metrics`](crate::runtime::RuntimeBuilder::metrics), or a
/// new one), so two runtimes in one process never share or clash. Connectors
/// record through the facade (`metrics::counter!` …), which goes to the
/// process-wide recorder: a runtime installs its recorder as that one when
/// none is installed yet ([`MetricsRecorder::install_global`]; installing
/// never panics, a second install just reports `false`). A service that runs
/// several runtimes and wants the connectors' metrics on each `/metrics`
/// creates one recorder, installs it, and hands a clone to every runtime.
///
/// ```
/// use rivven_connect::util::metrics::MetricsRecorder;
///
/// let recorder = MetricsRecorder::new();
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("rivven_connect_example_total", "stream" => "users").increment(3);
/// });
/// assert!(recorder
///     .render()
///     .contains(r#"rivven_connect_example_total{stream="users"} 3"#));
/// ```
#[derive(Clone)]
pub struct MetricsRecorder {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for MetricsRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRecorder")
            .field("global", &self.is_global())
            .finish_non_exhaustive()
    }
}

impl Default for MetricsRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricsRecorder {
    /// An empty registry. Histograms render as summaries (quantiles 0, 0.5,
    /// 0.9, 0.95, 0.99, 0.999, 1 plus `_sum` and `_count`).
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let this = Self {
            inner: Arc::new(Inner { recorder, handle }),
        };
        super::names::describe(&this);
        this
    }

    /// The recorder that [`install_global`](Self::install_global) made the
    /// process-wide one, if any.
    pub fn global() -> Option<MetricsRecorder> {
        GLOBAL.get().cloned()
    }

    /// Make this the process-wide recorder of the `metrics` facade, if no
    /// recorder is installed yet. Returns whether this one is the global
    /// recorder afterwards (`true` also when it already was).
    pub fn install_global(&self) -> bool {
        if self.is_global() {
            return true;
        }
        if GLOBAL.get().is_some() {
            return false; // another of ours is installed
        }
        // The facade accepts exactly one recorder per process; only the winner
        // is remembered in `GLOBAL`.
        if metrics::set_global_recorder(self.clone()).is_ok() {
            let _ = GLOBAL.set(self.clone());
            true
        } else {
            false
        }
    }

    /// Whether this is the process-wide recorder.
    pub fn is_global(&self) -> bool {
        GLOBAL
            .get()
            .is_some_and(|g| Arc::ptr_eq(&g.inner, &self.inner))
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn render(&self) -> String {
        self.inner.handle.render()
    }

    /// Drain histogram samples into their summaries. The runtime runs this
    /// periodically; rendering does it too.
    pub fn run_upkeep(&self) {
        self.inner.handle.run_upkeep();
    }

    /// A counter handle (registers the series on first use).
    pub fn counter(&self, key: &Key) -> Counter {
        self.register_counter(key, &METADATA)
    }

    /// A gauge handle (registers the series on first use).
    pub fn gauge(&self, key: &Key) -> Gauge {
        self.register_gauge(key, &METADATA)
    }

    /// A histogram handle (registers the series on first use).
    pub fn histogram(&self, key: &Key) -> Histogram {
        self.register_histogram(key, &METADATA)
    }
}

/// Metadata of the metrics registered by this crate itself.
pub(crate) static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl Recorder for MetricsRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.recorder.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.recorder.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner
            .recorder
            .describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.inner.recorder.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.recorder.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.inner.recorder.register_histogram(key, metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_recorders_are_independent() {
        let a = MetricsRecorder::new();
        let b = MetricsRecorder::new();
        a.counter(&Key::from_parts(
            "rivven_test_total",
            vec![metrics::Label::new("p", "x")],
        ))
        .increment(2);
        assert!(a.render().contains(r#"rivven_test_total{p="x"} 2"#));
        assert!(!b.render().contains("rivven_test_total"));
    }

    #[test]
    fn installing_twice_never_panics() {
        let a = MetricsRecorder::new();
        let b = MetricsRecorder::new();
        let first = a.install_global();
        let second = b.install_global();
        // At most one of them (or one installed by another test) is global.
        assert!(!(first && second));
        assert_eq!(a.install_global(), first);
    }
}
