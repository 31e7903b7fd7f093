//! [`SinkCompliance`]: the checks for a sink.

use futures::future::BoxFuture;
use rivven_connect::{ConnectorKind, Result, Sink, SinkConfig, SourceEvent, WriteResult};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{
    check_spec, check_unreachable, leaks, spec_json, ComplianceReport, DEFAULT_CHECK_TIMEOUT,
};
use crate::events;
use crate::harness::run_sink;

/// Reads back what a sink wrote (given the events of the first write) and
/// says what is wrong, if anything.
pub type VerifyFn =
    Box<dyn FnOnce(Vec<SourceEvent>) -> BoxFuture<'static, Result<(), String>> + Send>;

/// The compliance checks of a sink; run them with [`assert_sink_compliance`]
/// or [`SinkCompliance::run`].
pub struct SinkCompliance<K: Sink> {
    sink: Arc<K>,
    config: Value,
    unreachable: Option<Value>,
    secrets: Vec<String>,
    events: Vec<SourceEvent>,
    verify: Option<VerifyFn>,
    check_timeout: Duration,
}

impl<K: Sink> std::fmt::Debug for SinkCompliance<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkCompliance")
            .field("sink", &K::spec().name)
            .field("events", &self.events.len())
            .field("verify", &self.verify.is_some())
            .finish_non_exhaustive()
    }
}

impl<K> SinkCompliance<K>
where
    K: Sink,
    K::Config: std::fmt::Debug,
{
    /// Checks of `sink` with a working `config` (as the JSON a user writes).
    /// The default events are 10 records and 10 CDC changes.
    pub fn new(sink: K, config: Value) -> Self {
        let mut sample = events::records("compliance", 10);
        sample.extend(events::cdc_mixed("compliance_cdc", 10, 1));
        Self {
            sink: Arc::new(sink),
            config,
            unreachable: None,
            secrets: Vec::new(),
            events: sample,
            verify: None,
            check_timeout: DEFAULT_CHECK_TIMEOUT,
        }
    }

    /// A config whose endpoint cannot be reached: `check` must fail cleanly.
    pub fn unreachable(mut self, config: Value) -> Self {
        self.unreachable = Some(config);
        self
    }

    /// A secret value that appears in the configs and must never leak.
    pub fn secret(mut self, value: impl Into<String>) -> Self {
        self.secrets.push(value.into());
        self
    }

    /// The events to write (at least one).
    pub fn events(mut self, events: Vec<SourceEvent>) -> Self {
        if !events.is_empty() {
            self.events = events;
        }
        self
    }

    /// Read back what the first write produced, with an independent reader.
    pub fn verify<F, Fut>(mut self, f: F) -> Self
    where
        F: FnOnce(Vec<SourceEvent>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.verify = Some(Box::new(move |events| Box::pin(f(events))));
        self
    }

    /// Limit for `check` on the unreachable config (default 15 s).
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    /// Run every check.
    pub async fn run(self) -> ComplianceReport {
        let spec = K::spec();
        let mut report = ComplianceReport::new(&spec.name);
        check_spec(&mut report, &spec, ConnectorKind::Sink, &self.config);
        report.record(
            "secrets.spec",
            leaks(&self.secrets, "the spec", &spec_json(&spec)),
        );
        let config = match K::Config::from_value(self.config.clone()) {
            Ok(config) => {
                report.record("config.loads", Ok(()));
                config
            }
            Err(e) => {
                report.record("config.loads", Err(e.to_string()));
                return report;
            }
        };
        report.record(
            "secrets.config_debug",
            leaks(
                &self.secrets,
                "the config's Debug output",
                &format!("{config:?}"),
            ),
        );
        if let Some(unreachable) = &self.unreachable {
            match K::Config::from_value(unreachable.clone()) {
                Err(e) => report.record(
                    "check.unreachable_fails_cleanly",
                    Err(format!("the unreachable config does not load: {e}")),
                ),
                Ok(bad) => {
                    let sink = Arc::clone(&self.sink);
                    let check = async move { sink.check(&bad).await };
                    check_unreachable(&mut report, &self.secrets, self.check_timeout, check).await;
                }
            }
        }
        let check = match self.sink.check(&config).await {
            Ok(r) if r.is_success() => Ok(()),
            Ok(r) => Err(format!(
                "check failed on the working config: {}",
                r.summary()
            )),
            Err(e) => Err(format!("check returned Err on the working config: {e}")),
        };
        report.record("check.succeeds", check);
        self.data_path(&mut report, &config).await;
        report
    }

    /// Run every check and panic with the report unless all passed.
    pub async fn assert(self) {
        self.run().await.assert();
    }

    async fn data_path(self, report: &mut ComplianceReport, config: &K::Config) {
        let n = self.events.len() as u64;
        let outcome = match write_through(self.sink.as_ref(), config, self.events.clone()).await {
            Err(e) => Err(format!("write failed: {e}")),
            Ok(r) if r.records_written == n && r.is_success() && r.pending == 0 => Ok(()),
            Ok(r) => Err(format!(
                "write of {n} events acknowledged {} written, {} failed ({:?}), {} pending after a flush",
                r.records_written,
                r.records_failed(),
                r.failures,
                r.pending
            )),
        };
        let written = outcome.is_ok();
        report.record("write.acknowledges_every_event", outcome);
        report.record(
            "write.empty_batch",
            match write_through(self.sink.as_ref(), config, Vec::new()).await {
                Ok(r) if r.records_written == 0 && r.is_success() && r.pending == 0 => Ok(()),
                Ok(r) => Err(format!("an empty write reported {r:?}")),
                Err(e) => Err(format!("an empty write failed: {e}")),
            },
        );
        if let (Some(verify), true) = (self.verify, written) {
            report.record("write.read_back", verify(self.events.clone()).await);
        }
        report.record(
            "write.accepts_redelivery",
            match write_through(self.sink.as_ref(), config, self.events).await {
                Ok(r) if r.records_written == n && r.is_success() && r.pending == 0 => Ok(()),
                Ok(r) => Err(format!("a redelivered batch reported {r:?}")),
                Err(e) => Err(format!("a redelivered batch failed: {e}")),
            },
        );
    }
}

/// One write; when the sink holds some of the events
/// ([`WriteResult::pending`]), then a [`Sink::flush`], as the runtime does
/// once the batch timeout passed: the two results together. A result that
/// still counts events pending fails the checks.
async fn write_through<K: Sink>(
    sink: &K,
    config: &K::Config,
    events: Vec<SourceEvent>,
) -> Result<WriteResult> {
    let mut result = run_sink(sink, config, events).await?;
    if result.pending > 0 {
        result.absorb(sink.flush(config).await?, 0);
    }
    Ok(result)
}

/// Run the compliance checks of a sink and panic with a report listing
/// every failure unless all passed.
pub async fn assert_sink_compliance<K>(compliance: SinkCompliance<K>)
where
    K: Sink,
    K::Config: std::fmt::Debug,
{
    compliance.assert().await;
}
