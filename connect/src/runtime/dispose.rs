//! The one disposal path for rejected records, used by every stage.
//!
//! A record the source cannot read, a transform rejects or the sink refuses is
//! disposed of by the pipeline's `on_error`:
//!
//! - `skip`: counted (`events_failed`), logged, acknowledged with its batch;
//! - `dead_letter`: queued on its batch as a [`DeadLetter`] — an envelope with
//!   the error, its kind, the stage, the connector and the whole original
//!   record — which the sink actor writes to the dead-letter sink before it
//!   acknowledges the batch (`events_dead_lettered` counts what was written);
//! - `stop`: the stage fails the pipeline for good, so the batch is never
//!   acknowledged and nothing past the record is committed.
//!
//! The stages call [`Disposer::reject`] and do what its [`Verdict`] says.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;

use super::any::AnySink;
use super::messages::StageError;
use super::pipeline::Named;
use super::settings::OnError;
use super::stats::PipelineStats;
use crate::connector::WriteResult;
use crate::error::{ConnectorError, ErrorKind, Result};
use crate::event::SourceEvent;

/// The pipeline stage that rejected a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Stage {
    /// The source could not turn what it read into an event.
    Source,
    /// A transform returned an error for the event.
    Transform,
    /// The sink reported the event as failed.
    Sink,
}

impl Stage {
    /// The lower-case name written into dead-letter envelopes.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Source => "source",
            Stage::Transform => "transform",
            Stage::Sink => "sink",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a stage must do after it handed a rejected record to [`Disposer::reject`].
#[must_use = "a `Stop` verdict must fail the stage"]
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The record was disposed of (skipped or queued for the dead-letter
    /// sink): carry on, and acknowledge the batch as usual.
    Continue,
    /// `on_error: stop`: fail the stage with this error, without a restart.
    Stop(StageError),
}

impl Verdict {
    /// `Err` for [`Verdict::Stop`], so a stage can use `?`.
    pub(crate) fn into_result(self) -> std::result::Result<(), StageError> {
        match self {
            Verdict::Continue => Ok(()),
            Verdict::Stop(err) => Err(err),
        }
    }
}

/// Disposes of rejected records by the pipeline's `on_error` and keeps the
/// `events_failed` / `events_dead_lettered` counters.
#[derive(Clone)]
pub(crate) struct Disposer {
    pipeline: Arc<str>,
    on_error: OnError,
    stats: Arc<PipelineStats>,
}

impl Disposer {
    pub(crate) fn new(pipeline: Arc<str>, on_error: OnError, stats: Arc<PipelineStats>) -> Self {
        Self {
            pipeline,
            on_error,
            stats,
        }
    }

    /// Whether a stage should keep a copy of each event it may reject (only
    /// the dead-letter queue needs the original).
    pub(crate) fn keeps_originals(&self) -> bool {
        self.on_error == OnError::DeadLetter
    }

    /// Dispose of one rejected record.
    ///
    /// `event` is the original event when the stage has it (transforms, the
    /// sink); a source has none and attaches the raw record to `error` (see
    /// [`ConnectorError::with_raw_record`]). `position` says which record of
    /// the stage's batch it was, when known. Dead letters are appended to `dead`.
    pub(crate) fn reject(
        &self,
        stage: Stage,
        connector: &str,
        error: ConnectorError,
        event: Option<SourceEvent>,
        position: Option<usize>,
        dead: &mut Vec<DeadLetter>,
    ) -> Verdict {
        match self.on_error {
            OnError::Skip => {
                tracing::warn!(pipeline = %self.pipeline, %stage, connector, position, error = %error, "skipping a rejected record (on_error: skip)");
                PipelineStats::add(&self.stats.failed, 1);
                Verdict::Continue
            }
            OnError::DeadLetter => {
                tracing::debug!(pipeline = %self.pipeline, %stage, connector, position, error = %error, "queueing a rejected record for the dead-letter sink");
                dead.push(DeadLetter::new(event, error, stage, connector));
                Verdict::Continue
            }
            OnError::Stop => {
                let at =
                    position.map_or_else(String::new, |p| format!(" (record {p} of its batch)"));
                Verdict::Stop(StageError::stop(error.context(format!(
                    "pipeline `{}` stopped (on_error: stop): {stage} `{connector}` rejected a record{at}",
                    self.pipeline
                ))))
            }
        }
    }

    /// The dead-letter sink's write for `dead`: the envelopes, and where they go.
    /// The sink actor writes them (with its retries) before it acknowledges
    /// their batches, then reports with [`DeadLetterWrite::finish`].
    ///
    /// Dead letters with no dead-letter sink configured stop the pipeline.
    pub(crate) fn dead_letter_write<'a>(
        &self,
        dlq: Option<&'a Named<dyn AnySink>>,
        dead: Vec<DeadLetter>,
    ) -> std::result::Result<Option<DeadLetterWrite<'a>>, StageError> {
        if dead.is_empty() {
            return Ok(None);
        }
        let Some(dlq) = dlq else {
            return Err(StageError::stop(ConnectorError::configuration(format!(
                "pipeline `{}` has records for the dead-letter queue but no dead-letter sink",
                self.pipeline
            ))));
        };
        let envelopes = dead
            .into_iter()
            .map(|d| d.into_event(&self.pipeline))
            .collect();
        Ok(Some(DeadLetterWrite { dlq, envelopes }))
    }
}

/// Dead letters ready for the dead-letter sink (see [`Disposer::dead_letter_write`]).
pub(crate) struct DeadLetterWrite<'a> {
    pub(crate) dlq: &'a Named<dyn AnySink>,
    pub(crate) envelopes: Vec<SourceEvent>,
}

impl DeadLetterWrite<'_> {
    /// Account for the dead-letter sink's `result`: count the dead letters, or
    /// fail the stage (restarted from the committed state, so the records are
    /// disposed of again) when the write or any record of it failed.
    pub(crate) fn finish(
        self,
        disposer: &Disposer,
        result: Result<WriteResult>,
    ) -> std::result::Result<(), StageError> {
        let result = result
            .map_err(|e| StageError::restartable(e.context("writing to the dead-letter sink")))?;
        if let Some(first) = result.failures.first() {
            return Err(StageError::restartable(ConnectorError::io(format!(
                "dead-letter sink `{}` rejected {} record(s): {}",
                self.dlq.name,
                result.records_failed(),
                first.error
            ))));
        }
        PipelineStats::add(&disposer.stats.dead_lettered, self.envelopes.len() as u64);
        Ok(())
    }
}

/// A rejected record on its way to the dead-letter sink.
#[derive(Debug)]
pub(crate) struct DeadLetter {
    /// The original event (`None` when the source could not produce one).
    event: Option<SourceEvent>,
    /// The whole original record when there is no event (a source could not
    /// parse it), from [`ConnectorError::raw_record`].
    raw: Option<Box<[u8]>>,
    error: String,
    kind: ErrorKind,
    stage: Stage,
    /// Connector or transform name.
    connector: String,
    timestamp: DateTime<Utc>,
}

impl DeadLetter {
    pub(crate) fn new(
        event: Option<SourceEvent>,
        mut error: ConnectorError,
        stage: Stage,
        connector: &str,
    ) -> Self {
        let raw = error.take_raw_record().filter(|_| event.is_none());
        Self {
            raw,
            event,
            error: error.to_string(),
            kind: error.kind(),
            stage,
            connector: connector.to_string(),
            timestamp: Utc::now(),
        }
    }

    /// The envelope written to the dead-letter sink.
    pub(crate) fn into_event(self, pipeline: &str) -> SourceEvent {
        let original = self
            .event
            .as_ref()
            .and_then(|e| serde_json::to_value(e).ok())
            .unwrap_or(Value::Null);
        // One rule for every stage: a dead letter goes to `<pipeline>.dlq`;
        // the original stream is in the envelope (null when the source
        // could not produce an event).
        let stream = self.event.as_ref().map(|e| e.stream.clone());
        let mut event = SourceEvent::record(
            format!("{pipeline}.dlq"),
            json!({
                "pipeline": pipeline,
                "stream": stream,
                "stage": self.stage.as_str(),
                "connector": self.connector,
                "error": self.error,
                "error_kind": self.kind,
                "timestamp": self.timestamp.to_rfc3339(),
                "event": original,
            }),
        );
        if let (Some(raw), Value::Object(data)) = (self.raw, &mut event.data) {
            // The record as the source read it: text when it is UTF-8, else base64.
            let (encoding, text) = match String::from_utf8(raw.into_vec()) {
                Ok(text) => ("utf8", text),
                Err(e) => ("base64", BASE64.encode(e.as_bytes())),
            };
            data.insert("raw_record".into(), Value::String(text));
            data.insert("raw_record_encoding".into(), Value::String(encoding.into()));
        }
        if let Some(original) = self.event {
            event.key = original.key;
            event.namespace = original.namespace;
        }
        event.with_metadata("dead_letter", Value::Bool(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::stats::PipelineStats;

    fn disposer(on_error: OnError) -> (Disposer, Arc<PipelineStats>) {
        let stats = Arc::new(PipelineStats::new("p1"));
        (
            Disposer::new(Arc::from("p1"), on_error, stats.clone()),
            stats,
        )
    }

    #[test]
    fn stage_names() {
        assert_eq!(Stage::Source.to_string(), "source");
        assert_eq!(Stage::Transform.to_string(), "transform");
        assert_eq!(Stage::Sink.as_str(), "sink");
    }

    #[test]
    fn skip_counts_and_continues() {
        let (d, stats) = disposer(OnError::Skip);
        let mut dead = Vec::new();
        let v = d.reject(
            Stage::Sink,
            "mock",
            ConnectorError::data("bad"),
            Some(SourceEvent::record("s", json!(1))),
            Some(3),
            &mut dead,
        );
        assert!(matches!(v, Verdict::Continue));
        assert!(dead.is_empty());
        assert_eq!(PipelineStats::get(&stats.failed), 1);
        assert!(!d.keeps_originals());
    }

    #[test]
    fn dead_letter_queues_without_counting_until_written() {
        let (d, stats) = disposer(OnError::DeadLetter);
        let mut dead = Vec::new();
        let v = d.reject(
            Stage::Source,
            "file",
            ConnectorError::data("line 1: invalid JSON").with_raw_record("{oops"),
            None,
            None,
            &mut dead,
        );
        assert!(v.into_result().is_ok());
        assert_eq!(dead.len(), 1);
        assert_eq!(PipelineStats::get(&stats.failed), 0);
        assert_eq!(PipelineStats::get(&stats.dead_lettered), 0);
        assert!(d.keeps_originals());
        let e = dead.remove(0).into_event("p1");
        assert_eq!(e.data["stage"], "source");
        assert_eq!(e.data["error_kind"], "data");
        assert_eq!(e.data["raw_record"], "{oops");
    }

    #[test]
    fn stop_names_the_stage_connector_and_record() {
        let (d, stats) = disposer(OnError::Stop);
        let mut dead = Vec::new();
        let v = d.reject(
            Stage::Transform,
            "mask",
            ConnectorError::data("poison record"),
            None,
            Some(7),
            &mut dead,
        );
        let Verdict::Stop(err) = v else {
            panic!("stop must stop")
        };
        assert!(err.stop_pipeline);
        let text = err.to_string();
        for part in [
            "poison record",
            "on_error: stop",
            "transform `mask`",
            "record 7",
            "`p1`",
        ] {
            assert!(text.contains(part), "{text}");
        }
        assert_eq!(err.error.kind(), ErrorKind::Data);
        assert!(dead.is_empty());
        assert_eq!(PipelineStats::get(&stats.failed), 0);
    }

    #[test]
    fn dead_letter_envelope_carries_everything() {
        let original = SourceEvent::record("orders", json!({"id": 7})).with_key(json!(7));
        let dl = DeadLetter::new(
            Some(original.clone()),
            ConnectorError::data("bad amount"),
            Stage::Transform,
            "mask",
        );
        let e = dl.into_event("p1");
        assert_eq!(e.stream, "p1.dlq");
        assert_eq!(e.data["stream"], "orders");
        assert_eq!(e.key, Some(json!(7)));
        assert_eq!(e.data["pipeline"], "p1");
        assert_eq!(e.data["stage"], "transform");
        assert_eq!(e.data["connector"], "mask");
        assert_eq!(e.data["error_kind"], "data");
        assert!(e.data["error"]
            .as_str()
            .is_some_and(|s| s.contains("bad amount")));
        assert_eq!(e.data["event"]["data"]["id"], 7);
        assert!(e.data["timestamp"].as_str().is_some());
        assert_eq!(e.metadata.extra["dead_letter"], Value::Bool(true));
    }

    #[test]
    fn dead_letters_of_every_stage_go_to_the_pipeline_dlq_stream() {
        let dl = DeadLetter::new(
            None,
            ConnectorError::data("line 3: invalid JSON"),
            Stage::Source,
            "file",
        );
        let e = dl.into_event("p1");
        assert_eq!(e.stream, "p1.dlq");
        assert_eq!(e.data["stream"], Value::Null);
        assert_eq!(e.data["event"], Value::Null);
    }

    #[test]
    fn source_dead_letter_carries_the_whole_raw_record() {
        let line = format!("{{\"id\": 9, \"note\": \"{}\"", "x".repeat(500));
        let err = ConnectorError::data("line 3: invalid JSON").with_raw_record(line.clone());
        let e = DeadLetter::new(None, err, Stage::Source, "file").into_event("p1");
        assert_eq!(e.data["raw_record"], line.as_str());
        assert_eq!(e.data["raw_record_encoding"], "utf8");

        let bytes = vec![0xff, 0xfe, b'{', 0x80];
        let err = ConnectorError::data("not UTF-8").with_raw_record(bytes.clone());
        let e = DeadLetter::new(None, err, Stage::Source, "file").into_event("p1");
        assert_eq!(e.data["raw_record_encoding"], "base64");
        let text = e.data["raw_record"].as_str().unwrap_or_default();
        assert_eq!(BASE64.decode(text).ok(), Some(bytes));
    }
}
