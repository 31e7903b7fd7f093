//! The typed messages the pipeline's actors exchange.
//!
//! Data moves in batches, never single events. Each batch has a sequence
//! number; the checkpointer commits the state of batch *n* only when every
//! batch up to *n* has been acknowledged.

use ractor::RpcReplyPort;
use std::fmt;

use super::dispose::DeadLetter;
use super::stats::RuntimeStatus;
use crate::error::ConnectorError;
use crate::event::{AckToken, SourceEvent};
use crate::state::State;

/// A batch of events moving down the pipeline.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) seq: u64,
    pub(crate) events: Vec<SourceEvent>,
    /// Records disposed to the dead-letter sink on the way.
    pub(crate) dead: Vec<DeadLetter>,
    /// Acknowledgement tokens of the messages read for this batch, in order:
    /// resolved by the checkpointer once the batch's checkpoint is committed,
    /// rejected (dropped) with the batch if the pipeline never gets there.
    pub(crate) acks: Vec<AckToken>,
    /// Data events the source read for this batch (for in-flight accounting).
    pub(crate) read_count: u64,
    /// The source state after this batch, when it moved.
    pub(crate) checkpoint: Option<State>,
    /// The source had nothing more ready when it sent this batch (it closed
    /// on its linger, not because it was full): the sink writes it as soon
    /// as the batches already queued behind it are taken, instead of waiting
    /// for more (adaptive flushing).
    pub(crate) partial: bool,
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
    /// Time to have the sink store the events it holds (generation-tagged).
    FlushHeld(u64),
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
        acks: Vec<AckToken>,
        /// Its credit was returned already ([`CheckpointMsg::Held`]).
        credited: bool,
    },
    /// A batch's events are held by a sink that gathers events across writes
    /// (they are pending, see `WriteResult::pending`): their memory is the
    /// sink's now, so the batch's credit goes back to the source; its `Ack`
    /// (with `credited`) follows once they are stored.
    Held { read_count: u64 },
    /// Every batch up to `last_seq` was sent; finish once they are committed.
    Eof { last_seq: Option<u64> },
    /// The commit interval elapsed.
    CommitTick,
    /// Every memory topic the pipeline publishes to acknowledged what the
    /// state of commit `version` covers (or could not: a subscriber failed).
    GateOpen {
        version: u64,
        result: crate::error::Result<()>,
    },
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
