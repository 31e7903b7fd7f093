//! The typed messages the pipeline's actors exchange.
//!
//! Data moves in batches, never single events. Each batch has a sequence
//! number; the checkpointer commits the state of batch *n* only when every
//! batch up to *n* has been acknowledged.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ractor::RpcReplyPort;
use serde_json::{json, Value};
use std::fmt;

use super::stats::RuntimeStatus;
use crate::error::{ConnectorError, ErrorKind};
use crate::event::SourceEvent;
use crate::state::State;

/// A rejected record on its way to the dead-letter sink.
#[derive(Debug, Clone)]
pub(crate) struct DeadLetter {
    /// The original event (`None` when the source could not produce one).
    pub(crate) event: Option<SourceEvent>,
    /// The whole original record when there is no event (a source could not
    /// parse it), from [`ConnectorError::raw_record`].
    pub(crate) raw: Option<Box<[u8]>>,
    pub(crate) error: String,
    pub(crate) kind: ErrorKind,
    /// `source`, `transform` or `sink`.
    pub(crate) stage: &'static str,
    /// Connector or transform name.
    pub(crate) connector: String,
    pub(crate) timestamp: DateTime<Utc>,
}

impl DeadLetter {
    pub(crate) fn new(
        event: Option<SourceEvent>,
        error: &ConnectorError,
        stage: &'static str,
        connector: &str,
    ) -> Self {
        Self {
            raw: event
                .is_none()
                .then(|| error.raw_record().map(Box::from))
                .flatten(),
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
        let stream = self
            .event
            .as_ref()
            .map_or_else(|| format!("{pipeline}.dlq"), |e| e.stream.clone());
        let mut event = SourceEvent::record(
            stream,
            json!({
                "pipeline": pipeline,
                "stage": self.stage,
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

/// A batch of events moving down the pipeline.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) seq: u64,
    pub(crate) events: Vec<SourceEvent>,
    /// Records disposed to the dead-letter sink on the way.
    pub(crate) dead: Vec<DeadLetter>,
    /// Data events the source read for this batch (for in-flight accounting).
    pub(crate) read_count: u64,
    /// The source state after this batch, when it moved.
    pub(crate) checkpoint: Option<State>,
}

/// Messages to the source actor.
#[derive(Debug)]
pub(crate) enum SourceMsg {
    /// One more batch may be in flight.
    Credit(u32),
    /// Stop reading, send what was read, then end the stream (graceful shutdown).
    Stop,
    /// The reader task failed.
    ReaderFailed(StageError),
}

/// Messages to transform and sink actors.
#[derive(Debug)]
pub(crate) enum DataMsg {
    /// A batch.
    Batch(Batch),
    /// The source ended; `last_seq` is the last batch sent (if any).
    Eof { last_seq: Option<u64> },
    /// The sink's linger timer (generation-tagged).
    Linger(u64),
}

/// Messages to the checkpointer.
#[derive(Debug)]
pub(crate) enum CheckpointMsg {
    /// Where to send credit (sent once the source actor exists).
    Attach(ractor::ActorRef<SourceMsg>),
    /// Batch `seq` was acknowledged by the sink.
    Ack {
        seq: u64,
        read_count: u64,
        checkpoint: Option<State>,
    },
    /// Every batch up to `last_seq` was sent; finish once they are committed.
    Eof { last_seq: Option<u64> },
    /// The commit interval elapsed.
    CommitTick,
}

/// Messages to a pipeline supervisor.
#[derive(Debug)]
pub(crate) enum SupervisorMsg {
    /// Start (or restart) generation `gen`.
    Start(u64),
    /// Generation `gen` finished: its source ended and everything was committed.
    Finished(u64),
    /// Shut down gracefully.
    Shutdown,
}

/// Messages to the runtime's root actor.
#[derive(Debug)]
pub(crate) enum RootMsg {
    /// Report every pipeline's status.
    Status(RpcReplyPort<RuntimeStatus>),
    /// Ask every pipeline to shut down gracefully.
    Shutdown,
}

/// Why a stage failed; carried through ractor's supervision events.
#[derive(Debug)]
pub(crate) struct StageError {
    pub(crate) error: ConnectorError,
    /// `on_error: stop` tripped: fail the pipeline without restarting.
    pub(crate) stop_pipeline: bool,
}

impl StageError {
    pub(crate) fn restartable(error: ConnectorError) -> Self {
        Self {
            error,
            stop_pipeline: false,
        }
    }

    pub(crate) fn stop(error: ConnectorError) -> Self {
        Self {
            error,
            stop_pipeline: true,
        }
    }
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for StageError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_envelope_carries_everything() {
        let original = SourceEvent::record("orders", json!({"id": 7})).with_key(json!(7));
        let dl = DeadLetter::new(
            Some(original.clone()),
            &ConnectorError::data("bad amount"),
            "transform",
            "mask",
        );
        let e = dl.into_event("p1");
        assert_eq!(e.stream, "orders");
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
    }

    #[test]
    fn dead_letter_without_event_uses_pipeline_stream() {
        let dl = DeadLetter::new(
            None,
            &ConnectorError::data("line 3: invalid JSON"),
            "source",
            "file",
        );
        let e = dl.into_event("p1");
        assert_eq!(e.stream, "p1.dlq");
        assert_eq!(e.data["event"], Value::Null);
    }

    #[test]
    fn source_dead_letter_carries_the_whole_raw_record() {
        let line = format!("{{\"id\": 9, \"note\": \"{}\"", "x".repeat(500));
        let err = ConnectorError::data("line 3: invalid JSON").with_raw_record(line.clone());
        let e = DeadLetter::new(None, &err, "source", "file").into_event("p1");
        assert_eq!(e.data["raw_record"], line.as_str());
        assert_eq!(e.data["raw_record_encoding"], "utf8");

        let bytes = vec![0xff, 0xfe, b'{', 0x80];
        let err = ConnectorError::data("not UTF-8").with_raw_record(bytes.clone());
        let e = DeadLetter::new(None, &err, "source", "file").into_event("p1");
        assert_eq!(e.data["raw_record_encoding"], "base64");
        let text = e.data["raw_record"].as_str().unwrap_or_default();
        assert_eq!(BASE64.decode(text).ok(), Some(bytes));
    }
}
