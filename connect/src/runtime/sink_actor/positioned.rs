//! Writing to a sink that stores the pipeline's position with its data
//! ([`AnySink::stores_position`](crate::runtime::AnySink::stores_position)):
//! exactly-once for the events, and no rejected record lost.
//!
//! A positioned write is all-or-nothing (see
//! [`Sink::write_with_position`](crate::Sink::write_with_position)): when the
//! sink reports record failures it stored nothing, neither the events nor
//! the position. The sink actor then disposes of the failed records by the
//! pipeline's `on_error` *first* — `stop` fails the pipeline with nothing of
//! the chunk stored, `skip` drops them, `dead_letter` writes them to the
//! dead-letter sink and has it store them durably — and only then writes the
//! rest of the chunk again with the same position. Each round removes at
//! least one record, so the loop ends; a remainder with no events still
//! stores the position.
//!
//! Once the sink stored a position, a restart skips every event up to it;
//! so whatever must happen to an event before that (its dead letter) has
//! happened by then. A crash between the dead-letter write and the sink's
//! commit replays the chunk, and its rejected records are dead-lettered
//! again: dead letters are at-least-once, never lost.

use std::collections::BTreeMap;

use super::{SinkState, StageError};
use crate::connector::{RecordFailure, WriteResult};
use crate::error::ConnectorError;
use crate::event::SourceEvent;
use crate::runtime::dispose::{DeadLetter, Stage};
use crate::state::State;

impl SinkState {
    /// Writes whole source batches, up to the sink's batch size per call
    /// (a bigger source batch alone), each call with the state after its last
    /// batch; a run of batches without events but with a new state stores
    /// just the state. `upstream` (the dead letters of the source and the
    /// transforms for these batches) is written to the dead-letter sink
    /// before any position covering them is stored.
    ///
    /// The records the sink rejects are disposed of here, before their
    /// position is stored: the result counts what was stored, and its
    /// failures are only those of writes without a position (a source that
    /// has not given one yet), which the caller disposes of as for any sink.
    pub(super) async fn write_positioned(
        &mut self,
        events: &[SourceEvent],
        bounds: &[(usize, Option<State>)],
        upstream: Vec<DeadLetter>,
        result: &mut WriteResult,
    ) -> Result<(), StageError> {
        self.write_dead_letters(upstream).await?;
        let mut start = 0;
        let mut moved = false;
        let mut i = 0;
        while i < bounds.len() {
            // Take batches while they fit (always at least one).
            let mut end = start;
            while i < bounds.len() {
                let (batch_end, checkpoint) = &bounds[i];
                if end > start && batch_end - start > self.batch.max_records {
                    break;
                }
                if let Some(state) = checkpoint {
                    self.args.position = Some(state.clone());
                    moved = true;
                }
                end = *batch_end;
                i += 1;
            }
            let chunk = &events[start..end];
            if !chunk.is_empty() || moved {
                let position = self.args.position.clone();
                let written = match &position {
                    Some(position) => self.write_chunk(chunk, start, position).await?,
                    None => self
                        .write_with_retry(&self.args.sink, chunk, None)
                        .await
                        .map_err(StageError::restartable)?,
                };
                result.absorb(written, start);
                moved = false;
            }
            start = end;
        }
        Ok(())
    }

    /// Writes `chunk` (at `offset` in the flushed events) with `position`
    /// until the sink stores it: each round that reports record failures
    /// stored nothing, so its failed records are disposed of (dead letters
    /// written durably) and the rest is written again. The result has no
    /// failures.
    async fn write_chunk(
        &self,
        chunk: &[SourceEvent],
        offset: usize,
        position: &State,
    ) -> Result<WriteResult, StageError> {
        let sink = &self.args.sink;
        // After the first rejection: the rest of the chunk, and where each of
        // its events is in the flushed events.
        let mut rest: Option<(Vec<usize>, Vec<SourceEvent>)> = None;
        loop {
            let (at, events) = match &rest {
                Some((at, events)) => (Some(at.as_slice()), events.as_slice()),
                None => (None, chunk),
            };
            let written = self
                .write_with_retry(sink, events, Some(position))
                .await
                .map_err(StageError::restartable)?;
            if written.is_success() {
                return Ok(written);
            }
            // `write_with_retry` retried unattributed failures: each one has a
            // position. One failure per record (the first if a sink repeats one).
            let mut failed: BTreeMap<usize, &RecordFailure> = BTreeMap::new();
            for (index, failure) in written.record_failures() {
                if index < events.len() {
                    failed.entry(index).or_insert(failure);
                }
            }
            if failed.is_empty() {
                return Err(StageError::restartable(ConnectorError::fatal(format!(
                    "sink `{}` reported {} failed record(s) at positions outside the {} event(s) it was given",
                    sink.name,
                    written.records_failed(),
                    events.len()
                ))));
            }
            tracing::debug!(
                pipeline = %self.args.pipeline,
                sink = %sink.name,
                rejected = failed.len(),
                events = events.len(),
                "the sink rejected records and stored nothing: disposing of them before writing the rest with the position"
            );
            let mut dead = Vec::new();
            for (&index, failure) in &failed {
                let original = offset + at.map_or(index, |at| at[index]);
                self.args
                    .disposer
                    .reject(
                        Stage::Sink,
                        &sink.name,
                        failure.to_error(),
                        Some(events[index].clone()),
                        Some(original),
                        &mut dead,
                    )
                    .into_result()?;
            }
            self.write_dead_letters(dead).await?;
            let mut next_at = Vec::with_capacity(events.len() - failed.len());
            let mut next = Vec::with_capacity(events.len() - failed.len());
            for (index, event) in events.iter().enumerate() {
                if !failed.contains_key(&index) {
                    next_at.push(at.map_or(index, |at| at[index]));
                    next.push(event.clone());
                }
            }
            rest = Some((next_at, next));
        }
    }
}
