//! The checkpointer: commits source state in batch order to the
//! [`OffsetStore`](super::OffsetStore), then confirms it with `Source::commit`,
//! and returns credit to the source for every acknowledged batch.
//!
//! The state of batch *n* is committed only when every batch ≤ *n* has been
//! acknowledged, so a committed position never passes an unacknowledged event.
//!
//! Message sources' [`AckToken`]s are resolved here too, in order: a batch
//! that carries tokens is committed as soon as it is acknowledged (whatever
//! the commit interval), and its tokens are acknowledged once that commit
//! succeeded. Its credit is returned only then, so tokens are outstanding only
//! for batches inside the credit window. Tokens of batches that never get
//! here are dropped with them, which rejects them (the broker redelivers).
//!
//! A pipeline publishing to memory topics (its sink appends to them and is
//! acknowledged at once) commits a state only once every consumer group of
//! those topics has acknowledged what was appended before it: the commit
//! waits for the topics' *gate* in a task of its own, so acknowledgements,
//! credit and the source go on meanwhile; the final commit waits in place.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::any::AnySource;
use super::messages::{CheckpointMsg, SourceMsg, StageError, SupervisorMsg};
use super::offset_store::OffsetStore;
use super::pipeline::Named;
use super::stats::PipelineStats;
use super::topics::Topic;
use crate::error::ConnectorError;
use crate::event::AckToken;
use crate::state::State;
use crate::util::exports::{RetryConfig, RetryGuard};

pub(crate) struct Checkpointer;

pub(crate) struct CheckpointArgs {
    pub(crate) pipeline: Arc<str>,
    pub(crate) generation: u64,
    pub(crate) store: Arc<dyn OffsetStore>,
    pub(crate) source: Named<dyn AnySource>,
    pub(crate) supervisor: ActorRef<SupervisorMsg>,
    pub(crate) interval: Duration,
    pub(crate) stats: Arc<PipelineStats>,
    /// The memory topics it publishes to: a state is committed once they
    /// hold no event before it that a consumer group has not acknowledged.
    pub(crate) gates: Vec<Arc<Topic>>,
}

/// How long the last commit of a stopping pipeline waits for its topics'
/// subscribers (within the supervisor's grace for stopping children).
const FINAL_GATE_WAIT: Duration = Duration::from_secs(3);

pub(crate) struct CheckpointState {
    args: CheckpointArgs,
    source_actor: Option<ActorRef<SourceMsg>>,
    owed_credits: u32,
    next_seq: u64,
    /// Acknowledged batches past `next_seq`: state, tokens, credit returned already.
    acked: BTreeMap<u64, (Option<State>, Vec<AckToken>, bool)>,
    /// Tokens of batches up to `next_seq`, waiting for the commit covering them.
    unresolved: Vec<AckToken>,
    /// Credits of those batches, returned once their tokens are resolved.
    credits_on_resolve: u32,
    latest: Option<State>,
    /// Bumped whenever `latest` changes.
    version: u64,
    /// The version in the offset store.
    committed_version: u64,
    /// A commit waiting for the gate: the state and its version.
    gated: Option<(State, u64)>,
    /// Dropped with the checkpointer: ends the task waiting for the gate.
    gate_waiter: Option<tokio::sync::oneshot::Sender<()>>,
    dirty: bool,
    last_commit: Option<Instant>,
    tick_armed: bool,
    eof: Option<Option<u64>>,
    finished: bool,
}

impl Actor for Checkpointer {
    type Msg = CheckpointMsg;
    type State = CheckpointState;
    type Arguments = CheckpointArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<CheckpointMsg>,
        args: CheckpointArgs,
    ) -> Result<CheckpointState, ActorProcessingErr> {
        Ok(CheckpointState {
            args,
            source_actor: None,
            owed_credits: 0,
            next_seq: 0,
            acked: BTreeMap::new(),
            unresolved: Vec::new(),
            credits_on_resolve: 0,
            latest: None,
            version: 0,
            committed_version: 0,
            gated: None,
            gate_waiter: None,
            dirty: false,
            last_commit: None,
            tick_armed: false,
            eof: None,
            finished: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<CheckpointMsg>,
        message: CheckpointMsg,
        st: &mut CheckpointState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CheckpointMsg::Attach(source) => {
                if st.owed_credits > 0 {
                    let _ = source.send_message(SourceMsg::Credit(st.owed_credits));
                    st.owed_credits = 0;
                }
                st.source_actor = Some(source);
            }
            CheckpointMsg::Ack {
                seq,
                read_count,
                checkpoint,
                acks,
                credited,
            } => {
                if !credited {
                    st.args.stats.sub_in_flight(read_count);
                    if acks.is_empty() {
                        st.give_credit(1);
                    }
                }
                st.acked.insert(seq, (checkpoint, acks, credited));
                while let Some((cp, acks, credited)) = st.acked.remove(&st.next_seq) {
                    if let Some(state) = cp {
                        st.latest = Some(state);
                        st.version += 1;
                        st.dirty = true;
                    }
                    if !acks.is_empty() {
                        st.unresolved.extend(acks);
                        if !credited {
                            st.credits_on_resolve += 1;
                        }
                    }
                    st.next_seq += 1;
                }
                if st.unresolved.is_empty() {
                    st.maybe_commit(&myself, false).await?;
                } else {
                    // Messages wait for nothing but the commit that covers them.
                    st.maybe_commit(&myself, true).await?;
                    st.resolve_acks();
                }
                st.maybe_finish().await?;
            }
            CheckpointMsg::Held { read_count } => {
                st.args.stats.sub_in_flight(read_count);
                st.give_credit(1);
            }
            CheckpointMsg::CommitTick => {
                st.tick_armed = false;
                st.maybe_commit(&myself, false).await?;
            }
            CheckpointMsg::Eof { last_seq } => {
                st.eof = Some(last_seq);
                st.maybe_finish().await?;
            }
            CheckpointMsg::GateOpen { version, result } => {
                result.map_err(StageError::restartable)?;
                if let Some((state, v)) = st.gated.take().filter(|(_, v)| *v == version) {
                    if v > st.committed_version {
                        st.save(&state, v).await?;
                    }
                }
                st.maybe_commit(&myself, !st.unresolved.is_empty()).await?;
                st.resolve_acks();
                st.maybe_finish().await?;
            }
        }
        Ok(())
    }

    /// Stopping (a restart after a failure, or shutdown): commit what was
    /// acknowledged but not yet committed, so the next run repeats as little
    /// as possible. Everything in `latest` was durably written.
    async fn post_stop(
        &self,
        _myself: ActorRef<CheckpointMsg>,
        st: &mut CheckpointState,
    ) -> Result<(), ActorProcessingErr> {
        if st.dirty {
            let gate = st.wait_for_gates();
            let committed = match tokio::time::timeout(FINAL_GATE_WAIT, gate).await {
                Ok(Ok(())) => st.commit_now().await,
                Ok(Err(e)) => Err(StageError::restartable(e)),
                Err(_) => Err(StageError::restartable(ConnectorError::timeout(
                    "the subscribers of its topics did not acknowledge its last events in time",
                ))),
            };
            match committed {
                // Everything up to `next_seq` is durable and committed now.
                Ok(()) => st.resolve_acks(),
                Err(e) => {
                    tracing::warn!(pipeline = %st.args.pipeline, error = %e.error, "final offset commit failed; the next run repeats from the previous commit");
                }
            }
        }
        // Any token still held was never covered by a commit: dropping it rejects it.
        st.unresolved.clear();
        st.acked.clear();
        Ok(())
    }
}

impl CheckpointState {
    fn give_credit(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        match &self.source_actor {
            Some(source) => {
                let _ = source.send_message(SourceMsg::Credit(n));
            }
            None => self.owed_credits += n,
        }
    }

    /// Acknowledge the tokens of every batch up to `next_seq`, in order (the
    /// commit covering them succeeded, or there was no state to commit), and
    /// return those batches' credit.
    fn resolve_acks(&mut self) {
        if self.dirty {
            return; // not committed yet
        }
        let count = self.unresolved.len();
        for token in self.unresolved.drain(..) {
            token.ack();
        }
        if count > 0 {
            tracing::trace!(pipeline = %self.args.pipeline, count, "messages acknowledged");
        }
        let credits = std::mem::take(&mut self.credits_on_resolve);
        self.give_credit(credits);
    }

    async fn maybe_commit(
        &mut self,
        myself: &ActorRef<CheckpointMsg>,
        force: bool,
    ) -> Result<(), StageError> {
        if !self.dirty {
            return Ok(());
        }
        let interval = self.args.interval;
        let since = self.last_commit.map(|t| t.elapsed());
        if force || interval.is_zero() || since.is_none_or(|s| s >= interval) {
            return self.commit(myself).await;
        }
        if !self.tick_armed {
            self.tick_armed = true;
            let wait = interval.saturating_sub(since.unwrap_or_default());
            myself.send_after(wait, || CheckpointMsg::CommitTick);
        }
        Ok(())
    }

    /// Commit `latest` now if the gates are open, else once they are (a
    /// task waits for them and sends [`CheckpointMsg::GateOpen`]).
    async fn commit(&mut self, myself: &ActorRef<CheckpointMsg>) -> Result<(), StageError> {
        let ends: Vec<(Arc<Topic>, u64)> = self
            .gate_ends()
            .into_iter()
            .filter(|(t, end)| !t.acknowledged(*end))
            .collect();
        if ends.is_empty() {
            return self.commit_now().await;
        }
        if self.gated.is_some() {
            // The waiting commit goes first; this one follows it.
            return Ok(());
        }
        let Some(state) = self.latest.clone() else {
            return Ok(());
        };
        let version = self.version;
        self.gated = Some((state, version));
        let myself = myself.clone();
        let (waiter, stopped) = tokio::sync::oneshot::channel::<()>();
        self.gate_waiter = Some(waiter);
        tokio::spawn(async move {
            let wait = async {
                for (topic, end) in ends {
                    topic.wait_acknowledged(end).await?;
                }
                Ok(())
            };
            tokio::select! {
                result = wait => {
                    let _ = myself.send_message(CheckpointMsg::GateOpen { version, result });
                }
                // The checkpointer stopped: nobody waits for this commit.
                _ = stopped => {}
            }
        });
        Ok(())
    }

    /// Each gate and its end now: what a commit made now must wait for.
    fn gate_ends(&self) -> Vec<(Arc<Topic>, u64)> {
        self.args
            .gates
            .iter()
            .map(|t| (t.clone(), t.end()))
            .collect()
    }

    /// Wait until every gate holds no unacknowledged event appended so far.
    fn wait_for_gates(&self) -> impl std::future::Future<Output = crate::error::Result<()>> + Send {
        let ends = self.gate_ends();
        async move {
            for (topic, end) in ends {
                topic.wait_acknowledged(end).await?;
            }
            Ok(())
        }
    }

    /// Commit `latest` (the gates, if any, are open for it).
    async fn commit_now(&mut self) -> Result<(), StageError> {
        let Some(state) = self.latest.clone() else {
            return Ok(());
        };
        let version = self.version;
        self.save(&state, version).await
    }

    /// Save `state` (of `version`) to the offset store, then confirm it to
    /// the source.
    async fn save(&mut self, state: &State, version: u64) -> Result<(), StageError> {
        let mut guard = RetryGuard::new(RetryConfig::default());
        loop {
            match self.args.store.save(&self.args.pipeline, state).await {
                Ok(()) => break,
                Err(e) if e.is_retryable() => match guard.record_attempt() {
                    Some(delay) => {
                        tracing::warn!(pipeline = %self.args.pipeline, error = %e, "retrying offset commit");
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(StageError::restartable(e.context("committing offsets"))),
                },
                Err(e) => return Err(StageError::restartable(e.context("committing offsets"))),
            }
        }
        self.committed_version = version;
        if version == self.version {
            self.dirty = false;
        }
        self.last_commit = Some(Instant::now());
        PipelineStats::add(&self.args.stats.commits, 1);
        tracing::debug!(pipeline = %self.args.pipeline, next_seq = self.next_seq, "offsets committed");
        if let Err(e) = self.args.source.inner.commit(state).await {
            // The offset store is the source of truth; the next commit confirms again.
            tracing::warn!(pipeline = %self.args.pipeline, source = %self.args.source.name, error = %e, "source commit hook failed");
        }
        Ok(())
    }

    async fn maybe_finish(&mut self) -> Result<(), StageError> {
        let Some(last) = self.eof else {
            return Ok(());
        };
        if self.finished || last.is_some_and(|l| self.next_seq <= l) {
            return Ok(());
        }
        if self.dirty {
            // The last commit: wait here for the topics' subscribers.
            self.wait_for_gates()
                .await
                .map_err(StageError::restartable)?;
            self.commit_now().await?;
        }
        self.resolve_acks();
        self.finished = true;
        let _ = self
            .args
            .supervisor
            .send_message(SupervisorMsg::Finished(self.args.generation));
        Ok(())
    }
}
