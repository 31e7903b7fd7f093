//! [`SourceCompliance`]: the checks for a source.

use rivven_connect::{ConnectorKind, Source, SourceConfig, SourceEvent, State};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use super::{
    check_spec, check_unreachable, leaks, spec_json, ComplianceReport, DEFAULT_CHECK_TIMEOUT,
};
use crate::harness::run_source_with;

/// How to check that a source resumes from a committed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// The source replays the same data (a file, a seeded generator):
    /// resuming from the state after event *k* yields events *k+1…* again,
    /// compared by stream, key and data, except `ts_ms` and the fields named
    /// with [`SourceCompliance::ignore_field`] (wall-clock values).
    Deterministic,
    /// Resuming from the state after event *k* must not start over: its first
    /// event differs from the first event of a fresh read.
    NoRestart,
    /// Do not check resuming (say why in the test).
    Skip,
}

/// The compliance checks of a source; run them with
/// [`assert_source_compliance`] or [`SourceCompliance::run`].
pub struct SourceCompliance<S: Source> {
    source: Arc<S>,
    config: Value,
    unreachable: Option<Value>,
    secrets: Vec<String>,
    resume: Resume,
    ignored: Vec<String>,
    events: usize,
    check_timeout: Duration,
}

impl<S: Source> std::fmt::Debug for SourceCompliance<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceCompliance")
            .field("source", &S::spec().name)
            .field("resume", &self.resume)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl<S> SourceCompliance<S>
where
    S: Source,
    S::Config: std::fmt::Debug,
{
    /// Checks of `source` with a working `config` (as the JSON a user writes).
    /// Defaults: resume checked as [`Resume::Deterministic`], 20 events read.
    pub fn new(source: S, config: Value) -> Self {
        Self {
            source: Arc::new(source),
            config,
            unreachable: None,
            secrets: Vec::new(),
            resume: Resume::Deterministic,
            ignored: vec!["ts_ms".to_string()],
            events: 20,
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

    /// How resuming is checked.
    pub fn resume(mut self, resume: Resume) -> Self {
        self.resume = resume;
        self
    }

    /// A field whose value may differ between reads of the same data (a
    /// generation timestamp): ignored by [`Resume::Deterministic`], at the top
    /// of `data` and inside CDC `before`/`after` rows.
    pub fn ignore_field(mut self, field: impl Into<String>) -> Self {
        self.ignored.push(field.into());
        self
    }

    /// How many events to read (at least 2; the resume check splits them).
    pub fn events(mut self, n: usize) -> Self {
        self.events = n.max(2);
        self
    }

    /// Limit for `check` on the unreachable config (default 15 s).
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    /// Run every check.
    pub async fn run(self) -> ComplianceReport {
        let spec = S::spec();
        let mut report = ComplianceReport::new(&spec.name);
        check_spec(&mut report, &spec, ConnectorKind::Source, &self.config);
        report.record(
            "secrets.spec",
            leaks(&self.secrets, "the spec", &spec_json(&spec)),
        );

        let config = match S::Config::from_value(self.config.clone()) {
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
            self.unreachable_check(&mut report, unreachable).await;
        }
        let check = match self.source.check(&config).await {
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

    async fn unreachable_check(&self, report: &mut ComplianceReport, unreachable: &Value) {
        match S::Config::from_value(unreachable.clone()) {
            Err(e) => report.record(
                "check.unreachable_fails_cleanly",
                Err(format!("the unreachable config does not load: {e}")),
            ),
            Ok(config) => {
                let source = Arc::clone(&self.source);
                let check = async move { source.check(&config).await };
                check_unreachable(report, &self.secrets, self.check_timeout, check).await;
            }
        }
    }

    async fn data_path(&self, report: &mut ComplianceReport, config: &S::Config) {
        let source = self.source.as_ref();
        let (events, _) = match run_source_with(source, config, None, Some(self.events)).await {
            Ok(read) => read,
            Err(e) => {
                report.record("read.produces_events", Err(format!("read failed: {e}")));
                return;
            }
        };
        report.record(
            "read.produces_events",
            match events.iter().find(|e| !e.is_data() || e.stream.is_empty()) {
                _ if events.is_empty() => Err("read produced no events".into()),
                Some(e) => Err(format!("a non-data or unnamed event was returned: {e:?}")),
                None => Ok(()),
            },
        );
        if events.len() < 2 || self.resume == Resume::Skip {
            return;
        }
        let k = events.len() / 2;
        let state = match run_source_with(source, config, None, Some(k)).await {
            Ok((_, state)) => state,
            Err(e) => {
                report.record("ack.commit", Err(format!("second read failed: {e}")));
                return;
            }
        };
        if state == State::default() {
            report.record(
                "ack.commit",
                Err("events carry no state: a restarted pipeline would replay everything".into()),
            );
            return;
        }
        report.record(
            "ack.commit",
            source
                .commit(config, &state)
                .await
                .map_err(|e| format!("commit failed: {e}")),
        );
        let resumed = run_source_with(source, config, Some(state), Some(events.len() - k)).await;
        let outcome = match resumed {
            Err(e) => Err(format!("read from the committed state failed: {e}")),
            Ok((resumed, _)) => compare_resume(self.resume, &self.ignored, &events, k, &resumed),
        };
        report.record("resume.from_committed_state", outcome);
    }
}

fn compare_resume(
    resume: Resume,
    ignored: &[String],
    events: &[SourceEvent],
    k: usize,
    resumed: &[SourceEvent],
) -> Result<(), String> {
    let Some(first) = resumed.first() else {
        return Err(format!(
            "nothing was read after resuming from the state of event #{k} (of {})",
            events.len()
        ));
    };
    match resume {
        Resume::Skip => Ok(()),
        Resume::NoRestart if same_event(ignored, first, &events[0]) => Err(format!(
            "resuming from the state of event #{k} started over at the first event: {first:?}"
        )),
        Resume::NoRestart => Ok(()),
        Resume::Deterministic => {
            for (i, (want, got)) in events[k..].iter().zip(resumed).enumerate() {
                if !same_event(ignored, want, got) {
                    return Err(format!(
                        "resuming from the state of event #{k}: event #{} should be {:?} but was {:?}",
                        k + i,
                        comparable(ignored, want),
                        comparable(ignored, got)
                    ));
                }
            }
            Ok(())
        }
    }
}

fn same_event(ignored: &[String], a: &SourceEvent, b: &SourceEvent) -> bool {
    comparable(ignored, a) == comparable(ignored, b)
}

fn comparable<'e>(ignored: &[String], e: &'e SourceEvent) -> (&'e str, Option<&'e Value>, Value) {
    let mut data = e.data.clone();
    if let Some(map) = data.as_object_mut() {
        for field in ignored {
            map.remove(field);
        }
        for row in ["before", "after"] {
            if let Some(row) = map.get_mut(row).and_then(Value::as_object_mut) {
                for field in ignored {
                    row.remove(field);
                }
            }
        }
    }
    (&e.stream, e.key.as_ref(), data)
}

/// Run the compliance checks of a source and panic with a report listing
/// every failure unless all passed.
pub async fn assert_source_compliance<S>(compliance: SourceCompliance<S>)
where
    S: Source,
    S::Config: std::fmt::Debug,
{
    compliance.assert().await;
}
