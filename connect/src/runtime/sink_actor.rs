//! The sink actor: re-batches to the sink's batch size, writes with in-place
//! retries behind a circuit breaker, disposes of rejected records through the
//! pipeline's [`Disposer`] (and writes the dead letters of every stage), and
//! acknowledges each source batch in order.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::any::AnySink;
use super::dispose::{DeadLetter, Disposer, Stage};
use super::messages::{Batch, CheckpointMsg, DataMsg, StageError};
use super::pipeline::Named;
use super::settings::PipelineSettings;
use super::stats::PipelineStats;
use crate::connector::{BatchConfig, WriteResult};
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::state::State;
use crate::util::exports::{CircuitBreaker, RetryGuard};

mod positioned;

pub(crate) struct SinkActor;

pub(crate) struct SinkArgs {
    pub(crate) pipeline: Arc<str>,
    pub(crate) sink: Named<dyn AnySink>,
    pub(crate) dead_letter: Option<Named<dyn AnySink>>,
    pub(crate) settings: PipelineSettings,
    pub(crate) checkpointer: ActorRef<CheckpointMsg>,
    pub(crate) disposer: Disposer,
    pub(crate) stats: Arc<PipelineStats>,
    /// The sink is this topic's `TopicSink`: batches are appended by value
    /// instead of copied (a failed append is not retried in place).
    pub(crate) appends_to: Option<Arc<super::topics::Topic>>,
    /// The state the source starts from: with a sink that stores positions
    /// ([`AnySink::stores_position`]), the position written with the first
    /// batch that does not move it.
    pub(crate) position: Option<State>,
}

pub(crate) struct SinkState {
    args: SinkArgs,
    batch: BatchConfig,
    breaker: CircuitBreaker,
    pending: Vec<Batch>,
    pending_events: usize,
    timer: Option<u64>,
    timer_gen: u64,
    /// The sink stores positions: write whole source batches, each with the
    /// state after it.
    positioned: bool,
    /// Batches whose events the sink holds without having stored them (its
    /// writes report them `pending`), oldest first: acknowledged once stored.
    held: VecDeque<Held>,
    /// Events of the batches in `held`.
    held_events: u64,
    /// The armed flush of `held` (generation-tagged, like `timer`).
    flush_timer: Option<u64>,
    myself: ActorRef<DataMsg>,
}

/// A batch written to a sink that holds its events (see `WriteResult::pending`).
struct Held {
    /// Its acknowledgement, sent once the sink stored its events.
    ack: CheckpointMsg,
    /// Events of the batch handed to the sink.
    events: u64,
    /// When they were handed over: the sink's batch timeout counts from here.
    since: Instant,
}

impl Actor for SinkActor {
    type Msg = DataMsg;
    type State = SinkState;
    type Arguments = SinkArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<DataMsg>,
        args: SinkArgs,
    ) -> Result<SinkState, ActorProcessingErr> {
        let batch = args
            .sink
            .inner
            .batch_config()
            .unwrap_or(args.settings.sink_batch);
        let positioned = args.sink.inner.stores_position() && args.appends_to.is_none();
        // A new generation replays everything not acknowledged: what an
        // earlier one left in the sink's buffer goes.
        args.sink.inner.discard_pending();
        if let Some(dlq) = &args.dead_letter {
            dlq.inner.discard_pending();
        }
        Ok(SinkState {
            breaker: CircuitBreaker::new(args.settings.circuit_breaker),
            batch: BatchConfig::new(batch.max_records, batch.timeout_ms),
            args,
            pending: Vec::new(),
            pending_events: 0,
            timer: None,
            timer_gen: 0,
            positioned,
            held: VecDeque::new(),
            held_events: 0,
            flush_timer: None,
            myself,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<DataMsg>,
        message: DataMsg,
        st: &mut SinkState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            DataMsg::Batch(batch) => {
                let partial = batch.partial;
                st.pending_events += batch.events.len();
                st.pending.push(batch);
                // Flush when full, or when half the credit window is here:
                // waiting for the whole window would leave the source without
                // credit for as long as the write (and its sync) takes, so the
                // two would take turns instead of working at the same time.
                // Nothing to write (only checkpoints, e.g. CDC heartbeats, or
                // dead letters): acknowledge now rather than after the timeout.
                if st.pending_events == 0
                    || st.pending_events >= st.batch.max_records
                    || st.pending.len() >= flush_at(&st.args.settings)
                {
                    st.flush().await?;
                } else if partial {
                    // Adaptive flushing: the source had nothing more ready, so
                    // waiting for the timeout would only add latency. The
                    // flush goes behind what is already in the mailbox, so
                    // batches queued meanwhile are written with this one.
                    st.timer_gen += 1;
                    let gen = st.timer_gen;
                    st.timer = Some(gen);
                    let _ = myself.send_message(DataMsg::Linger(gen));
                } else if st.timer.is_none() {
                    st.timer_gen += 1;
                    let gen = st.timer_gen;
                    st.timer = Some(gen);
                    myself.send_after(Duration::from_millis(st.batch.timeout_ms), move || {
                        DataMsg::Linger(gen)
                    });
                }
            }
            DataMsg::Linger(gen) => {
                if st.timer == Some(gen) {
                    st.flush().await?;
                }
            }
            DataMsg::FlushHeld(gen) => {
                if st.flush_timer == Some(gen) {
                    st.flush_timer = None;
                    st.flush_held().await?;
                }
            }
            DataMsg::Eof { last_seq } => {
                st.flush().await?;
                st.flush_held().await?;
                if st.held_events > 0 {
                    return Err(StageError::restartable(ConnectorError::fatal(format!(
                        "sink `{}` still holds {} event(s) after its final flush",
                        st.args.sink.name, st.held_events
                    )))
                    .into());
                }
                let _ = st
                    .args
                    .checkpointer
                    .send_message(CheckpointMsg::Eof { last_seq });
            }
        }
        Ok(())
    }
}

/// Source batches the sink joins under load before it writes: half the
/// credit window (at least one), so the source fills the other half meanwhile.
fn flush_at(settings: &PipelineSettings) -> usize {
    (settings.max_in_flight_batches / 2).max(1)
}

impl SinkState {
    /// Write everything pending, dispose of rejected records, acknowledge the batches.
    async fn flush(&mut self) -> Result<(), StageError> {
        self.timer = None;
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut batches = std::mem::take(&mut self.pending);
        self.pending_events = 0;
        // Where each source batch ends in the joined events, and the state after it.
        let bounds: Vec<(usize, Option<State>)> = if self.positioned {
            let mut end = 0;
            batches
                .iter()
                .map(|b| {
                    end += b.events.len();
                    (end, b.checkpoint.clone())
                })
                .collect()
        } else {
            Vec::new()
        };
        let counts: Vec<u64> = batches.iter().map(|b| b.events.len() as u64).collect();
        // One pending batch (the common case) is written as it is; several are
        // joined first (moving 288-byte events costs more than it seems).
        let (events, mut dead) = match batches.as_mut_slice() {
            [one] => (
                std::mem::take(&mut one.events),
                std::mem::take(&mut one.dead),
            ),
            many => {
                let mut events = Vec::with_capacity(many.iter().map(|b| b.events.len()).sum());
                let mut dead = Vec::new();
                for b in many.iter_mut() {
                    events.append(&mut b.events);
                    dead.append(&mut b.dead);
                }
                (events, dead)
            }
        };

        let mut result = WriteResult::new();
        let newest = events.iter().map(|e| e.timestamp).max();
        let mut events = events;
        let mut rejected = Vec::new();
        if let Some(topic) = &self.args.appends_to {
            // A failed append restarts the pipeline from its committed state.
            (result, rejected) = topic
                .append_batch(std::mem::take(&mut events))
                .await
                .map_err(StageError::restartable)?;
        }
        let mut pending = None;
        if self.positioned {
            // A sink that stores positions stores each write at once; the
            // dead letters of this run go first (see `positioned`).
            let upstream = std::mem::take(&mut dead);
            self.write_positioned(&events, &bounds, upstream, &mut result)
                .await?;
        } else {
            let mut offset = 0;
            for chunk in events.chunks(self.batch.max_records) {
                let written = self
                    .write_with_retry(&self.args.sink, chunk, None)
                    .await
                    .map_err(StageError::restartable)?;
                pending = Some(written.pending);
                result.absorb(written, offset);
                offset += chunk.len();
            }
        }
        let stats = &self.args.stats;
        if result.records_written > 0 {
            if let Some(newest) = newest {
                stats.record_lag(newest);
            }
        }
        PipelineStats::add(&stats.written, result.records_written);
        PipelineStats::add(&stats.bytes, result.bytes_written);

        for (index, event, error) in rejected {
            self.args
                .disposer
                .reject(
                    Stage::Sink,
                    &self.args.sink.name,
                    error,
                    Some(event),
                    Some(index),
                    &mut dead,
                )
                .into_result()?;
        }
        // `write_with_retry` retried unattributed failures: each one has a
        // position. (A positioned write disposed of its own: none are here.)
        for (index, failure) in result.record_failures() {
            self.args
                .disposer
                .reject(
                    Stage::Sink,
                    &self.args.sink.name,
                    failure.to_error(),
                    events.get(index).cloned(),
                    Some(index),
                    &mut dead,
                )
                .into_result()?;
        }
        self.write_dead_letters(dead).await?;

        // Each batch is acknowledged once the sink holds none of its events
        // unstored; a batch of only checkpoints goes at once (the
        // checkpointer commits in order anyway).
        let now = Instant::now();
        let pending = pending.unwrap_or(0);
        let holding = pending > 0 || !self.held.is_empty();
        for (b, events) in batches.into_iter().zip(counts) {
            let ack = CheckpointMsg::Ack {
                seq: b.seq,
                read_count: b.read_count,
                checkpoint: b.checkpoint,
                acks: b.acks,
                credited: holding && events > 0,
            };
            if holding && events > 0 {
                let held = CheckpointMsg::Held {
                    read_count: b.read_count,
                };
                if self.args.checkpointer.send_message(held).is_err() {
                    return Ok(()); // torn down
                }
                self.held_events += events;
                self.held.push_back(Held {
                    ack,
                    events,
                    since: now,
                });
            } else if self.args.checkpointer.send_message(ack).is_err() {
                return Ok(()); // torn down
            }
        }
        if holding {
            self.release(pending);
        }
        Ok(())
    }

    /// Writes `dead` to the dead-letter sink (with its retries) and has it
    /// store them durably before this returns: dead letters are acknowledged
    /// with their batch.
    async fn write_dead_letters(&self, dead: Vec<DeadLetter>) -> Result<(), StageError> {
        let disposer = &self.args.disposer;
        let Some(letters) = disposer.dead_letter_write(self.args.dead_letter.as_ref(), dead)?
        else {
            return Ok(());
        };
        let mut result = self
            .write_with_retry(letters.dlq, &letters.envelopes, None)
            .await;
        if matches!(&result, Ok(r) if r.pending > 0) {
            // Dead letters are acknowledged with their batch: stored now.
            result = self.flush_with_retry(letters.dlq).await.and_then(|r| {
                if r.pending == 0 {
                    Ok(r)
                } else {
                    Err(ConnectorError::fatal(format!(
                        "dead-letter sink `{}` kept {} event(s) pending after a flush",
                        letters.dlq.name, r.pending
                    )))
                }
            });
        }
        letters.finish(disposer, result)
    }

    /// Acknowledges the held batches the sink stored: all but its `pending`
    /// newest events. Arms the flush of the rest at the oldest one's timeout.
    fn release(&mut self, pending: u64) {
        while let Some(front) = self.held.front() {
            if self.held_events - front.events < pending {
                break;
            }
            self.held_events -= front.events;
            if let Some(held) = self.held.pop_front() {
                if self.args.checkpointer.send_message(held.ack).is_err() {
                    return; // torn down
                }
            }
        }
        match self.held.front() {
            None => self.flush_timer = None,
            Some(oldest) if self.flush_timer.is_none() => {
                self.timer_gen += 1;
                let gen = self.timer_gen;
                self.flush_timer = Some(gen);
                let timeout = Duration::from_millis(self.batch.timeout_ms);
                let wait = timeout.saturating_sub(oldest.since.elapsed());
                self.myself
                    .send_after(wait, move || DataMsg::FlushHeld(gen));
            }
            Some(_) => {}
        }
    }

    /// Asks the sink to store what it holds, and acknowledges what it stored.
    async fn flush_held(&mut self) -> Result<(), StageError> {
        if self.held.is_empty() {
            return Ok(());
        }
        let result = self
            .flush_with_retry(&self.args.sink)
            .await
            .map_err(StageError::restartable)?;
        PipelineStats::add(&self.args.stats.written, result.records_written);
        PipelineStats::add(&self.args.stats.bytes, result.bytes_written);
        self.flush_timer = None;
        self.release(result.pending);
        Ok(())
    }

    /// [`AnySink::flush`] with in-place retries of retryable errors.
    async fn flush_with_retry(&self, sink: &Named<dyn AnySink>) -> Result<WriteResult> {
        let mut guard = RetryGuard::new(self.args.settings.retry);
        loop {
            match sink.inner.flush().await {
                Ok(result) => return Ok(result),
                Err(e) if e.is_retryable() => match guard.record_attempt() {
                    Some(delay) => {
                        tracing::warn!(pipeline = %self.args.pipeline, sink = %sink.name, error = %e, ?delay, "retrying sink flush");
                        tokio::time::sleep(delay).await;
                    }
                    None => {
                        return Err(e.context(format!(
                            "sink `{}` flush failed after {} attempt(s)",
                            sink.name,
                            guard.attempts()
                        )))
                    }
                },
                Err(e) => return Err(e.context(format!("sink `{}` flush", sink.name))),
            }
        }
    }

    /// One write with in-place retries of retryable errors, behind the circuit
    /// breaker; with `position`, through [`AnySink::write_with_position`].
    async fn write_with_retry(
        &self,
        sink: &Named<dyn AnySink>,
        events: &[SourceEvent],
        position: Option<&State>,
    ) -> Result<WriteResult> {
        let mut guard = RetryGuard::new(self.args.settings.retry);
        loop {
            // An open circuit lets the sink recover: wait out the open period, then probe.
            while let Some(wait) = self.breaker.remaining_open() {
                tracing::debug!(pipeline = %self.args.pipeline, sink = %sink.name, ?wait, "circuit open; waiting before the next write");
                tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
            }
            let outcome = match position {
                Some(position) => sink.inner.write_with_position(events, position).await,
                None => sink.inner.write(events).await,
            };
            let error = match outcome {
                Ok(result) if result.unattributed_failures() == 0 => {
                    self.breaker.record_success();
                    return Ok(result);
                }
                Ok(result) => ConnectorError::transient(format!(
                    "sink `{}` reported {} failed record(s) without saying which: {}",
                    sink.name,
                    result.unattributed_failures(),
                    unattributed_messages(&result)
                )),
                Err(e) if e.is_retryable() => e,
                Err(e) => {
                    self.breaker.record_failure();
                    return Err(e.context(format!("sink `{}`", sink.name)));
                }
            };
            self.breaker.record_failure();
            match guard.record_attempt() {
                Some(delay) => {
                    tracing::warn!(pipeline = %self.args.pipeline, sink = %sink.name, error = %error, ?delay, "retrying sink write");
                    tokio::time::sleep(delay).await;
                }
                None => {
                    return Err(error.context(format!(
                        "sink `{}` failed after {} attempt(s)",
                        sink.name,
                        guard.attempts()
                    )))
                }
            }
        }
    }
}

/// The distinct messages of a result's failures without a position.
fn unattributed_messages(result: &WriteResult) -> String {
    let mut messages: Vec<&str> = Vec::new();
    for f in result.failures.iter().filter(|f| f.index.is_none()) {
        if !messages.contains(&f.error.as_str()) {
            messages.push(&f.error);
        }
    }
    messages.join("; ")
}
