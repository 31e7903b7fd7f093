//! The source actor: pulls the source's stream while it holds credit and
//! sends batches (by size or linger) down the pipeline.
//!
//! The stream is pulled by a reader task the actor owns; the actor's mailbox
//! receives credit grants from the checkpointer and stop requests from the
//! supervisor. A failure or panic in the source fails this actor, which the
//! pipeline supervisor turns into a restart from the last committed state.

use futures::{FutureExt, StreamExt};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch, Semaphore};
use tracing::Instrument;

use super::any::AnySource;
use super::dispose::{DeadLetter, Disposer, Stage};
use super::messages::{Batch, DataMsg, SourceMsg, StageError};
use super::pipeline::Named;
use super::settings::PipelineSettings;
use super::stats::PipelineStats;
use crate::error::{ConnectorError, ErrorKind};
use crate::event::{AckToken, EventType, LogLevel, SourceEvent};
use crate::state::State;
use crate::util::exports::{RateLimiter, RateLimiterConfig};

pub(crate) struct SourceActor;

pub(crate) struct SourceArgs {
    pub(crate) pipeline: Arc<str>,
    pub(crate) source: Named<dyn AnySource>,
    pub(crate) state: Option<State>,
    pub(crate) settings: PipelineSettings,
    pub(crate) downstream: ActorRef<DataMsg>,
    pub(crate) disposer: Disposer,
    pub(crate) stats: Arc<PipelineStats>,
}

pub(crate) struct SourceState {
    credits: Arc<Semaphore>,
    stop: watch::Sender<bool>,
    reader: ReaderThread,
}

/// How long stopping the source waits for its reader thread to wind down
/// (the source's stream and tasks dropped, its connections closed).
const READER_EXIT_GRACE: Duration = Duration::from_secs(3);

/// The thread that polls the source's stream, on a runtime of its own.
///
/// A source is one sequential stream, so it is the stage a pipeline cannot split;
/// on a tokio worker it shared its core with the downstream actors (a woken actor
/// runs on the waker's worker), which made the source stage up to twice as slow
/// as the source alone. On its own thread it keeps a core busy while the
/// transforms and the sink run on the runtime's workers. Dropping this (however
/// the actor ends: stop, failure or kill) cancels the reader: its stream and any
/// task it spawned are dropped with the thread's runtime. Until then the runtime
/// outlives the stream, so a message source's acknowledging task still runs
/// when the last batches' tokens are resolved.
struct ReaderThread {
    cancel: Option<oneshot::Sender<()>>,
    /// Closed when the thread ends, after its runtime (and every task the
    /// source spawned on it) is gone.
    exited: Option<oneshot::Receiver<()>>,
    /// Seen by the reader between events, so a source that never waits (and
    /// so never lets the cancel future above be polled) still stops at once.
    cancelled: Arc<AtomicBool>,
}

impl ReaderThread {
    fn spawn(
        mut reader: Reader,
        state: Option<State>,
        myself: ActorRef<SourceMsg>,
        span: tracing::Span,
    ) -> Result<Self, ActorProcessingErr> {
        let (cancel, cancelled) = oneshot::channel::<()>();
        let (exited_tx, exited) = oneshot::channel::<()>();
        let flag = Arc::new(AtomicBool::new(false));
        reader.cancelled = flag.clone();
        let name = format!("rivven-src-{}", reader.pipeline);
        std::thread::Builder::new()
            .name(name.chars().take(15).collect())
            .spawn(move || {
                // Declared first, dropped last: after the runtime below.
                let _exited = exited_tx;
                let fail = |err: StageError| {
                    // The actor turns this into a supervised failure.
                    let _ = myself.send_message(SourceMsg::ReaderFailed(err));
                };
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        return fail(StageError::restartable(ConnectorError::fatal(format!(
                            "starting the source's runtime: {e}"
                        ))))
                    }
                };
                let mut cancelled = cancelled;
                let read = async move {
                    tokio::select! {
                        result = reader.run(state) => result?,
                        _ = &mut cancelled => return Ok(()),
                    }
                    // The stream ended, but the tasks the source spawned on
                    // this runtime (its connection, the task acknowledging its
                    // messages) live on until the stage is torn down: the
                    // tokens of the last batches are resolved after the end.
                    let _ = cancelled.await;
                    Ok(())
                }
                .instrument(span);
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(read)));
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => fail(err),
                    Err(panic) => fail(StageError::restartable(panic_error(
                        "source reader",
                        &*panic,
                    ))),
                }
            })
            .map_err(|e| {
                Box::new(ConnectorError::fatal(format!(
                    "spawning the source reader thread: {e}"
                ))) as ActorProcessingErr
            })?;
        Ok(Self {
            cancel: Some(cancel),
            exited: Some(exited),
            cancelled: flag,
        })
    }

    fn cancel(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
        if let Some(cancel) = self.cancel.take() {
            let _ = cancel.send(());
        }
    }

    /// Cancel the reader and wait (boundedly) until its thread has ended, so
    /// a stopped source holds no connection any more.
    async fn shut_down(&mut self) {
        self.cancel();
        if let Some(exited) = self.exited.take() {
            if tokio::time::timeout(READER_EXIT_GRACE, exited)
                .await
                .is_err()
            {
                tracing::warn!(grace = ?READER_EXIT_GRACE, "the source reader did not end in time; leaving it behind");
            }
        }
    }
}

impl Drop for ReaderThread {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl Actor for SourceActor {
    type Msg = SourceMsg;
    type State = SourceState;
    type Arguments = SourceArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SourceMsg>,
        args: SourceArgs,
    ) -> Result<SourceState, ActorProcessingErr> {
        let credits = Arc::new(Semaphore::new(args.settings.max_in_flight_batches));
        let (stop, stop_rx) = watch::channel(false);
        let span =
            tracing::info_span!("source", pipeline = %args.pipeline, connector = %args.source.name);
        let reader = Reader {
            limiter: (args.settings.rate_limit > 0).then(|| {
                RateLimiter::new(RateLimiterConfig {
                    events_per_second: args.settings.rate_limit,
                    burst_capacity: args.settings.rate_limit_burst,
                })
            }),
            pipeline: args.pipeline,
            source: args.source,
            settings: args.settings,
            downstream: args.downstream,
            stats: args.stats,
            disposer: args.disposer,
            credits: credits.clone(),
            stop: stop_rx,
            cancelled: Arc::default(),
        };
        let thread = ReaderThread::spawn(reader, args.state, myself, span)?;
        Ok(SourceState {
            credits,
            stop,
            reader: thread,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<SourceMsg>,
        message: SourceMsg,
        state: &mut SourceState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SourceMsg::Credit(n) => state.credits.add_permits(n as usize),
            SourceMsg::Stop => {
                state.stop.send_replace(true);
            }
            SourceMsg::ReaderFailed(err) => return Err(Box::new(err)),
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SourceMsg>,
        state: &mut SourceState,
    ) -> Result<(), ActorProcessingErr> {
        state.reader.shut_down().await;
        Ok(())
    }
}

struct Reader {
    pipeline: Arc<str>,
    source: Named<dyn AnySource>,
    settings: PipelineSettings,
    downstream: ActorRef<DataMsg>,
    stats: Arc<PipelineStats>,
    disposer: Disposer,
    credits: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
    cancelled: Arc<AtomicBool>,
    limiter: Option<RateLimiter>,
}

/// How collecting one batch ended.
enum BatchEnd {
    /// Full (events or bytes): keep reading.
    More,
    /// The linger expired with nothing more ready: keep reading; the batch
    /// is partial (see [`Batch::partial`]).
    Idle,
    /// The source's stream ended.
    Eof,
    /// Shutdown was requested.
    Stopped,
}

/// A batch being collected.
struct Pending {
    events: Vec<SourceEvent>,
    /// Approximate bytes of `events` (see `PipelineSettings::max_in_flight_bytes`).
    bytes: usize,
    dead: Vec<DeadLetter>,
    /// Acknowledgement tokens of the messages read for this batch, in order.
    acks: Vec<AckToken>,
    moved: bool,
}

impl Pending {
    /// Whether the batch carries nothing the rest of the pipeline must see.
    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.dead.is_empty() && self.acks.is_empty() && !self.moved
    }
}

impl Reader {
    async fn run(mut self, state: Option<State>) -> Result<(), StageError> {
        let read = AssertUnwindSafe(self.source.inner.read(state.clone()))
            .catch_unwind()
            .await
            .map_err(|p| StageError::restartable(panic_error("source read", &p)))?;
        let mut stream =
            read.map_err(|e| StageError::restartable(e.context("opening the source stream")))?;
        let mut state = state.unwrap_or_default();
        let mut seq = 0u64;
        let mut last_sent = None;
        loop {
            let has_credit = tokio::select! {
                biased;
                _ = self.stop.wait_for(|s| *s) => false,
                permit = self.credits.acquire() => match permit {
                    Ok(p) => { p.forget(); true }
                    Err(_) => false,
                },
            };
            if !has_credit {
                break;
            }
            let mut pending = Pending {
                events: Vec::with_capacity(self.settings.batch_size),
                bytes: 0,
                dead: Vec::new(),
                acks: Vec::new(),
                moved: false,
            };
            let end = self.collect(&mut stream, &mut state, &mut pending).await?;
            if self.cancelled.load(Ordering::Relaxed) {
                return Ok(()); // torn down: nobody is listening any more
            }
            if pending.is_empty() {
                self.credits.add_permits(1);
            } else {
                let read_count = pending.events.len() as u64;
                let read_bytes = pending.bytes as u64;
                let batch = Batch {
                    seq,
                    events: pending.events,
                    dead: pending.dead,
                    acks: pending.acks,
                    read_count,
                    checkpoint: pending.moved.then(|| state.clone()),
                    partial: !matches!(end, BatchEnd::More),
                };
                self.stats.add_read(read_count, read_bytes);
                self.stats.add_in_flight(read_count);
                if self.downstream.send_message(DataMsg::Batch(batch)).is_err() {
                    return Ok(()); // the pipeline is being torn down
                }
                last_sent = Some(seq);
                seq += 1;
            }
            if !matches!(end, BatchEnd::More | BatchEnd::Idle) {
                break;
            }
        }
        tracing::debug!(last_sent, "source finished; draining");
        let _ = self.downstream.send_message(DataMsg::Eof {
            last_seq: last_sent,
        });
        Ok(())
    }

    /// Collect one batch: up to `batch_size` data events, or what arrived
    /// within `linger` of the first one (or of the first state update or
    /// rejected record).
    ///
    /// Events the stream has ready are taken without waiting; only when it has
    /// none does the loop wait on the stream, the linger deadline and the stop
    /// signal — which are set up once per batch, not per event (re-registering
    /// a timer and a watch waiter for every event cost more than reading it).
    /// A source that always has events ready sees a stop within one batch.
    async fn collect(
        &mut self,
        stream: &mut futures::stream::BoxStream<'static, crate::error::Result<SourceEvent>>,
        state: &mut State,
        pending: &mut Pending,
    ) -> Result<BatchEnd, StageError> {
        let mut stop = self.stop.clone();
        let stopped = stop.wait_for(|s| *s);
        tokio::pin!(stopped);
        // Armed (reset to first event + linger) when the first event arrives.
        let linger = tokio::time::sleep(std::time::Duration::ZERO);
        tokio::pin!(linger);
        let mut lingering = false;
        let batch_bytes = self.settings.batch_bytes();
        while pending.events.len() < self.settings.batch_size && pending.bytes < batch_bytes {
            if self.cancelled.load(Ordering::Relaxed) {
                return Ok(BatchEnd::Stopped);
            }
            if let Some(limiter) = &self.limiter {
                tokio::select! {
                    biased;
                    _ = &mut stopped => return Ok(BatchEnd::Stopped),
                    _ = limiter.acquire() => {}
                }
            }
            // Fast path: an item the stream has ready now, without the select
            // machinery. Dropping a pending `next()` loses nothing.
            let ready = std::panic::catch_unwind(AssertUnwindSafe(|| stream.next().now_or_never()));
            let next = match ready {
                Err(panic) => Err(panic),
                Ok(Some(item)) => Ok(item),
                Ok(None) => tokio::select! {
                    biased;
                    _ = &mut stopped => return Ok(BatchEnd::Stopped),
                    _ = &mut linger, if lingering => return Ok(BatchEnd::Idle),
                    next = AssertUnwindSafe(stream.next()).catch_unwind() => next,
                },
            };
            let item = match next {
                Err(panic) => {
                    return Err(StageError::restartable(panic_error(
                        "source stream",
                        &panic,
                    )))
                }
                Ok(None) => return Ok(BatchEnd::Eof),
                Ok(Some(item)) => item,
            };
            match item {
                Ok(event) => self.accept(event, state, pending),
                Err(err) if err.kind() == ErrorKind::Data => self.reject(err, pending)?,
                Err(err) => return Err(StageError::restartable(err)),
            }
            // A batch with only a checkpoint (a CDC heartbeat), only
            // rejected records or only acknowledgements lingers too: it must
            // not wait for data.
            if !lingering && !pending.is_empty() {
                linger
                    .as_mut()
                    .reset(tokio::time::Instant::now() + self.settings.linger);
                lingering = true;
            }
        }
        Ok(BatchEnd::More)
    }

    fn accept(&self, mut event: SourceEvent, state: &mut State, pending: &mut Pending) {
        // Tokens travel beside the batch, not in its events: whatever the
        // transforms make of an event, its message is covered by the batch.
        if let Some(token) = event.take_ack() {
            pending.acks.push(token);
        }
        match event.event_type {
            EventType::State => match serde_json::from_value::<State>(event.data) {
                Ok(update) => {
                    state.merge(update);
                    pending.moved = true;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring a state event that is not a valid State")
                }
            },
            EventType::Log => log_source_event(&event),
            _ => {
                if let Some(update) = event.metadata.state.take() {
                    state.merge_stream_update(&event.stream, update);
                    pending.moved = true;
                }
                pending.bytes += event.approx_size();
                pending.events.push(event);
            }
        }
    }

    fn reject(&self, mut err: ConnectorError, pending: &mut Pending) -> Result<(), StageError> {
        // Disposed of, the message is acknowledged with its batch; with
        // `on_error: stop` its token is dropped here, i.e. rejected.
        let token = err.take_ack();
        self.disposer
            .reject(
                Stage::Source,
                &self.source.name,
                err,
                None,
                None,
                &mut pending.dead,
            )
            .into_result()?;
        // A rejected record was read too: the counts add up
        // (read = written + dropped + failed + dead-lettered).
        self.stats.add_read(1, 0);
        pending.acks.extend(token);
        Ok(())
    }
}

fn log_source_event(event: &SourceEvent) {
    let message = event
        .data
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    let level = event
        .data
        .get("level")
        .and_then(|l| serde_json::from_value::<LogLevel>(l.clone()).ok())
        .unwrap_or(LogLevel::Info);
    match level {
        LogLevel::Trace => tracing::trace!("{message}"),
        LogLevel::Debug => tracing::debug!("{message}"),
        LogLevel::Info => tracing::info!("{message}"),
        LogLevel::Warn => tracing::warn!("{message}"),
        LogLevel::Error => tracing::error!("{message}"),
    }
}

/// Turn a caught panic into an error (the stage restarts; it counts toward giving up).
pub(crate) fn panic_error(what: &str, payload: &(dyn std::any::Any + Send)) -> ConnectorError {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    // Not retryable: a panic is a bug, restarted but counted toward giving up.
    ConnectorError::fatal(format!("{what} panicked: {text}"))
}
