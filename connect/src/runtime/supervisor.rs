//! The pipeline supervisor: spawns a pipeline's stages as linked children,
//! restarts them from the last committed state with exponential backoff when
//! any of them fails, and drives completion and graceful shutdown.
//!
//! Every (re)start is a new *generation*; messages and supervision events of
//! an older generation are ignored, so a late event can never disturb the
//! stages that replaced it.

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::checkpointer::{CheckpointArgs, Checkpointer};
use super::dispose::Disposer;
use super::messages::{CheckpointMsg, DataMsg, SourceMsg, StageError, SupervisorMsg};
use super::offset_store::OffsetStore;
use super::pipeline::Pipeline;
use super::sink_actor::{SinkActor, SinkArgs};
use super::source_actor::{SourceActor, SourceArgs};
use super::stats::{PipelineState, PipelineStats};
use super::transform_actor::{TransformActor, TransformArgs};
use crate::error::{ConnectorError, Result};

/// How long stopping children may take before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub(crate) struct PipelineSupervisor;

pub(crate) struct SupervisorArgs {
    pub(crate) pipeline: Pipeline,
    pub(crate) store: Arc<dyn OffsetStore>,
    pub(crate) stats: Arc<PipelineStats>,
}

struct Children {
    source: ActorRef<SourceMsg>,
    cells: Vec<ActorCell>,
}

impl Children {
    fn contains(&self, id: ActorId) -> bool {
        self.cells.iter().any(|c| c.get_id() == id)
    }

    async fn stop(self) {
        stop_cells(self.cells).await;
    }
}

/// Stop stages source-first (the reverse of spawn order); kill what does not stop in time.
async fn stop_cells(cells: Vec<ActorCell>) {
    for cell in cells.into_iter().rev() {
        if cell.stop_and_wait(None, Some(STOP_GRACE)).await.is_err() {
            cell.kill();
        }
    }
}

pub(crate) struct SupervisorState {
    pipeline: Pipeline,
    name: Arc<str>,
    store: Arc<dyn OffsetStore>,
    stats: Arc<PipelineStats>,
    generation: u64,
    children: Option<Children>,
    /// Failures that count toward `max_consecutive_failures` (not retryable).
    consecutive_failures: u32,
    /// Restarts since the last progress, retryable or not (the backoff exponent).
    attempts: u32,
    started_at: Instant,
    commits_at_start: u64,
    shutting_down: bool,
    /// Shutdown was asked and this subscriber drains its memory topics.
    draining_topics: bool,
    /// The topics it publishes to were told it has finished.
    topics_released: bool,
}

impl Actor for PipelineSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        myself.send_message(SupervisorMsg::Start(1))?;
        Ok(SupervisorState {
            name: Arc::from(args.pipeline.name.as_str()),
            store: args.pipeline.store.clone().unwrap_or(args.store),
            pipeline: args.pipeline,
            stats: args.stats,
            generation: 0,
            children: None,
            consecutive_failures: 0,
            attempts: 0,
            started_at: Instant::now(),
            commits_at_start: 0,
            shutting_down: false,
            draining_topics: false,
            topics_released: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        message: SupervisorMsg,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Start(generation) => {
                if generation != st.generation + 1
                    || st.shutting_down
                    || st.stats.state().is_terminal()
                {
                    return Ok(());
                }
                st.generation = generation;
                st.stats.reset_in_flight();
                st.stats.set_state(PipelineState::Starting);
                st.started_at = Instant::now();
                st.commits_at_start = PipelineStats::get(&st.stats.commits);
                match st.spawn_generation(&myself).await {
                    Ok(children) => {
                        st.children = Some(children);
                        st.stats.set_state(PipelineState::Running);
                        tracing::info!(pipeline = %st.name, generation, "pipeline running");
                    }
                    Err(err) => st.on_failure(&myself, StageError::restartable(err)).await,
                }
            }
            SupervisorMsg::Finished(generation) => {
                if generation == st.generation {
                    if let Some(children) = st.children.take() {
                        children.stop().await;
                    }
                    let state = if st.shutting_down || st.draining_topics {
                        PipelineState::Stopped
                    } else {
                        PipelineState::Completed
                    };
                    tracing::info!(pipeline = %st.name, %state, "pipeline finished");
                    st.set_terminal(state);
                }
            }
            SupervisorMsg::Shutdown if st.pipeline.drains_topics() => {
                // A memory topic's subscriber drains it: it ends when every
                // publisher has finished and it has read the rest.
                st.draining_topics = true;
                if st.children.is_some() {
                    st.stats.set_state(PipelineState::Draining);
                }
                tracing::info!(pipeline = %st.name, "draining its topics before stopping");
            }
            SupervisorMsg::Shutdown => {
                st.shutting_down = true;
                match &st.children {
                    Some(children) => {
                        st.stats.set_state(PipelineState::Draining);
                        let _ = children.source.send_message(SourceMsg::Stop);
                    }
                    None if !st.stats.state().is_terminal() => {
                        st.set_terminal(PipelineState::Stopped)
                    }
                    None => {}
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let current = |id: ActorId| st.children.as_ref().is_some_and(|c| c.contains(id));
        match event {
            SupervisionEvent::ActorFailed(cell, err) if current(cell.get_id()) => {
                let failure = match err.downcast::<StageError>() {
                    Ok(stage) => *stage,
                    // A panic in connector code (or an actor error of ours):
                    // restarted, and counted toward giving up.
                    Err(other) => StageError::restartable(ConnectorError::fatal(format!(
                        "stage failed: {other}"
                    ))),
                };
                st.on_failure(&myself, failure).await;
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) if current(cell.get_id()) => {
                let reason = reason.unwrap_or_else(|| "no reason given".to_string());
                let err = ConnectorError::fatal(format!("a stage stopped unexpectedly: {reason}"));
                st.on_failure(&myself, StageError::restartable(err)).await;
            }
            _ => {}
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(children) = st.children.take() {
            children.stop().await;
        }
        if !st.stats.state().is_terminal() {
            st.stats.set_state(PipelineState::Stopped);
        }
        st.release_topics();
        Ok(())
    }
}

impl SupervisorState {
    /// Enter a terminal state, and tell the topics it publishes to.
    fn set_terminal(&mut self, state: PipelineState) {
        self.stats.set_state(state);
        if state == PipelineState::Failed {
            for topic in &self.pipeline.subscribes {
                if topic.storage() == super::topics::TopicStorage::Memory {
                    let error = self.stats.snapshot().last_error.unwrap_or_default();
                    topic.fail(format!(
                        "subscriber pipeline `{}` failed: {error}",
                        self.name
                    ));
                }
            }
        }
        self.release_topics();
    }

    fn release_topics(&mut self) {
        if !std::mem::replace(&mut self.topics_released, true) {
            for topic in &self.pipeline.publishes {
                topic.publisher_finished();
            }
        }
    }

    /// Load the committed state, check the connectors, and spawn the stages
    /// (checkpointer, sink, transforms back to front, then the source).
    async fn spawn_generation(&mut self, myself: &ActorRef<SupervisorMsg>) -> Result<Children> {
        let p = &self.pipeline;
        let mut committed = self.store.load(&p.name).await?;
        if p.settings.check_before_start {
            check(&p.source.name, "source", p.source.inner.check()).await?;
            check(&p.sink.name, "sink", p.sink.inner.check()).await?;
            if let Some(dlq) = &p.dead_letter {
                check(&dlq.name, "dead-letter sink", dlq.inner.check()).await?;
            }
        }
        // Exactly-once: a sink that stores the position with its data knows
        // better than the offset store how far its data got (it commits before
        // the offset store hears of it), so the source resumes from there.
        if p.sink.inner.stores_position() {
            let stored = p.sink.inner.committed_position().await.map_err(|e| {
                e.context(format!(
                    "sink `{}`: reading its committed position",
                    p.sink.name
                ))
            })?;
            if let Some(position) = stored {
                if committed.as_ref() != Some(&position) {
                    tracing::info!(pipeline = %self.name, sink = %p.sink.name, "resuming from the position the sink committed with its data");
                }
                committed = Some(position);
            }
        }
        let sup = myself.get_cell();
        let disposer = Disposer::new(self.name.clone(), p.settings.on_error, self.stats.clone());
        let mut cells: Vec<ActorCell> = Vec::new();
        let spawned = async {
            let (checkpointer, _) = Actor::spawn_linked(
                None,
                Checkpointer,
                CheckpointArgs {
                    pipeline: self.name.clone(),
                    generation: self.generation,
                    store: self.store.clone(),
                    source: p.source.clone(),
                    supervisor: myself.clone(),
                    interval: p.settings.checkpoint_interval,
                    stats: self.stats.clone(),
                    gates: p
                        .publishes
                        .iter()
                        .filter(|t| t.storage() == super::topics::TopicStorage::Memory)
                        .cloned()
                        .collect(),
                },
                sup.clone(),
            )
            .await
            .map_err(spawn_error)?;
            cells.push(checkpointer.get_cell());
            let (sink, _) = Actor::spawn_linked(
                None,
                SinkActor,
                SinkArgs {
                    pipeline: self.name.clone(),
                    sink: p.sink.clone(),
                    dead_letter: p.dead_letter.clone(),
                    settings: p.settings.clone(),
                    checkpointer: checkpointer.clone(),
                    disposer: disposer.clone(),
                    stats: self.stats.clone(),
                    appends_to: p.appends_to.clone(),
                    position: committed.clone(),
                },
                sup.clone(),
            )
            .await
            .map_err(spawn_error)?;
            cells.push(sink.get_cell());
            let mut next: ActorRef<DataMsg> = sink;
            for transform in p.transforms.iter().rev() {
                let (t, _) = Actor::spawn_linked(
                    None,
                    TransformActor,
                    TransformArgs {
                        transform: transform.clone(),
                        next,
                        disposer: disposer.clone(),
                        stats: self.stats.clone(),
                    },
                    sup.clone(),
                )
                .await
                .map_err(spawn_error)?;
                cells.push(t.get_cell());
                next = t;
            }
            let (source, _) = Actor::spawn_linked(
                None,
                SourceActor,
                SourceArgs {
                    pipeline: self.name.clone(),
                    source: p.source.clone(),
                    state: committed,
                    settings: p.settings.clone(),
                    downstream: next,
                    disposer,
                    stats: self.stats.clone(),
                },
                sup.clone(),
            )
            .await
            .map_err(spawn_error)?;
            cells.push(source.get_cell());
            let _ = checkpointer.send_message(CheckpointMsg::Attach(source.clone()));
            Ok::<_, ConnectorError>(source)
        }
        .await;
        match spawned {
            Ok(source) => Ok(Children { source, cells }),
            Err(e) => {
                stop_cells(cells).await;
                Err(e)
            }
        }
    }

    async fn on_failure(&mut self, myself: &ActorRef<SupervisorMsg>, failure: StageError) {
        if let Some(children) = self.children.take() {
            children.stop().await;
        }
        let message = failure.error.to_string();
        self.stats.set_error(message.clone());
        self.stats.reset_in_flight();
        if self.shutting_down {
            // It did not drain and commit: not a clean stop.
            tracing::error!(pipeline = %self.name, error = %message, "stage failed during shutdown");
            self.set_terminal(PipelineState::Failed);
            return;
        }
        if let Some(reason) = self.pipeline.publishes.iter().find_map(|t| t.failure()) {
            // A subscriber of its memory topic failed for good: going on would
            // commit past what that subscriber never got.
            tracing::error!(pipeline = %self.name, error = %reason, "pipeline failed: a subscriber of its topic failed");
            self.set_terminal(PipelineState::Failed);
            return;
        }
        if failure.stop_pipeline {
            tracing::error!(pipeline = %self.name, error = %message, "pipeline failed");
            self.set_terminal(PipelineState::Failed);
            return;
        }
        let policy = &self.pipeline.settings.restart;
        let progressed = PipelineStats::get(&self.stats.commits) > self.commits_at_start
            || self.started_at.elapsed() >= policy.healthy_after;
        if progressed {
            self.attempts = 0;
            self.consecutive_failures = 0;
        }
        // The backoff grows with every attempt; only failures that waiting
        // will not cure (auth, config, data faults, panics) count toward
        // giving up — a server that is down is waited for, however long.
        self.attempts += 1;
        if !failure.error.is_retryable() {
            self.consecutive_failures += 1;
        }
        if self.consecutive_failures >= policy.max_consecutive_failures {
            tracing::error!(pipeline = %self.name, failures = self.consecutive_failures, error = %message, "pipeline failed: too many consecutive failures");
            self.stats.set_error(format!(
                "{} consecutive failures without progress; last: {message}",
                self.consecutive_failures
            ));
            self.set_terminal(PipelineState::Failed);
            return;
        }
        let delay = policy.delay(self.attempts, jitter_sample());
        PipelineStats::add(&self.stats.restarts, 1);
        self.stats.set_state(PipelineState::Restarting);
        tracing::warn!(pipeline = %self.name, error = %message, ?delay, attempts = self.attempts, counted_failures = self.consecutive_failures, "stage failed; restarting from the last committed state");
        let next = self.generation + 1;
        myself.send_after(delay, move || SupervisorMsg::Start(next));
    }
}

async fn check(
    name: &str,
    role: &str,
    check: impl std::future::Future<Output = Result<crate::check::CheckResult>>,
) -> Result<()> {
    let result = check
        .await
        .map_err(|e| e.context(format!("{role} `{name}` check")))?;
    if result.is_success() {
        Ok(())
    } else {
        Err(ConnectorError::connection(format!(
            "{role} `{name}` check failed: {}",
            result.summary()
        ))
        .with_retryable(result.is_retryable()))
    }
}

fn spawn_error(err: ractor::SpawnErr) -> ConnectorError {
    ConnectorError::fatal(format!("could not start a pipeline stage: {err}")).with_retryable(true)
}

/// A number in 0..1 for restart jitter (no RNG dependency needed).
fn jitter_sample() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}
