//! The runtime's root actor and the public [`Runtime`] handle.

use metrics::Key;
use ractor::{Actor, ActorProcessingErr, ActorRef, ActorStatus, SupervisionEvent};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

use super::messages::{RootMsg, SupervisorMsg};
use super::offset_store::{FileOffsetStore, OffsetStore};
use super::pipeline::{Pipeline, PipelineBuilder};
use super::stats::{MeteredSink, PipelineState, PipelineStats, RuntimeStatus};
use super::supervisor::{PipelineSupervisor, SupervisorArgs};
use super::topics::{Topic, TopicStatus};
use crate::error::{ConnectorError, Result};
use crate::util::metrics::{names, MetricsRecorder};

/// How often histogram samples are drained into their summaries when nobody scrapes.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Default directory for runtime data (offsets) when none is configured.
pub const DEFAULT_DATA_DIR: &str = "./rivven-data";

struct RootActor;

struct RootArgs {
    pipelines: Vec<Pipeline>,
    store: Arc<dyn OffsetStore>,
    stats: Vec<Arc<PipelineStats>>,
    topics: Vec<Arc<Topic>>,
}

struct RootState {
    supervisors: Vec<(ActorRef<SupervisorMsg>, Arc<PipelineStats>)>,
    topics: Vec<Arc<Topic>>,
}

impl Actor for RootActor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RootMsg>,
        args: RootArgs,
    ) -> Result<RootState, ActorProcessingErr> {
        let mut supervisors = Vec::with_capacity(args.pipelines.len());
        for (pipeline, stats) in args.pipelines.into_iter().zip(args.stats) {
            let (sup, _) = Actor::spawn_linked(
                None,
                PipelineSupervisor,
                SupervisorArgs {
                    pipeline,
                    store: args.store.clone(),
                    stats: stats.clone(),
                },
                myself.get_cell(),
            )
            .await?;
            supervisors.push((sup, stats));
        }
        Ok(RootState {
            supervisors,
            topics: args.topics,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<RootMsg>,
        message: RootMsg,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RootMsg::Status(reply) => {
                let _ = reply.send(snapshot(st.supervisors.iter().map(|(_, s)| s), &st.topics));
            }
            RootMsg::Shutdown => {
                for (sup, _) in &st.supervisors {
                    let _ = sup.send_message(SupervisorMsg::Shutdown);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<RootMsg>,
        event: SupervisionEvent,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        // A supervisor only ends when we stop it; if one fails (a bug), only its
        // pipeline is marked failed — the others keep running.
        if let SupervisionEvent::ActorFailed(cell, err) = event {
            if let Some((_, stats)) = st
                .supervisors
                .iter()
                .find(|(s, _)| s.get_id() == cell.get_id())
            {
                tracing::error!(pipeline = %stats.name, error = %err, "pipeline supervisor failed");
                stats.set_error(format!("supervisor failed: {err}"));
                stats.set_state(PipelineState::Failed);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<RootMsg>,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        for (sup, _) in &st.supervisors {
            let _ = sup
                .get_cell()
                .stop_and_wait(None, Some(Duration::from_secs(10)))
                .await;
        }
        Ok(())
    }
}

fn snapshot<'a>(
    stats: impl Iterator<Item = &'a Arc<PipelineStats>>,
    topics: &[Arc<Topic>],
) -> RuntimeStatus {
    RuntimeStatus {
        pipelines: stats.map(|s| s.snapshot()).collect(),
        topics: topics.iter().map(|t| t.status()).collect(),
    }
}

/// The gauges of one topic: end offset, and per group committed offset and lag.
fn record_topic_metrics(metrics: &MetricsRecorder, status: &TopicStatus) {
    let topic = metrics::Label::new("topic", status.name.clone());
    metrics
        .gauge(&Key::from_parts(
            names::TOPIC_END_OFFSET,
            vec![topic.clone()],
        ))
        .set(status.end_offset as f64);
    metrics
        .gauge(&Key::from_parts(names::TOPIC_BUFFERED, vec![topic.clone()]))
        .set(status.buffered as f64);
    for g in &status.groups {
        let labels = vec![topic.clone(), metrics::Label::new("group", g.name.clone())];
        if let Some(c) = g.committed_offset {
            metrics
                .gauge(&Key::from_parts(
                    names::TOPIC_COMMITTED_OFFSET,
                    labels.clone(),
                ))
                .set(c as f64);
        }
        metrics
            .gauge(&Key::from_parts(names::TOPIC_LAG, labels))
            .set(g.lag as f64);
    }
}

/// What the status, health and metrics readers of a runtime need: shared by
/// the [`Runtime`] handle and its HTTP server.
#[derive(Clone)]
pub(crate) struct RuntimeView {
    root: ActorRef<RootMsg>,
    stats: Vec<Arc<PipelineStats>>,
    topics: Vec<Arc<Topic>>,
    metrics: MetricsRecorder,
    started: Instant,
}

impl RuntimeView {
    /// Per-pipeline state and counters, read directly.
    pub(crate) fn status(&self) -> RuntimeStatus {
        snapshot(self.stats.iter(), &self.topics)
    }

    /// Whether the root actor is alive (it stops only when the runtime does).
    pub(crate) fn is_live(&self) -> bool {
        matches!(
            self.root.get_status(),
            ActorStatus::Starting | ActorStatus::Running | ActorStatus::Upgrading
        )
    }

    /// The Prometheus text of every metric, with the uptime brought up to date.
    pub(crate) fn render_metrics(&self) -> String {
        self.metrics
            .gauge(&Key::from_static_name(names::UPTIME_SECONDS))
            .set(self.started.elapsed().as_secs_f64());
        for topic in &self.topics {
            record_topic_metrics(&self.metrics, &topic.status());
        }
        self.metrics.render()
    }
}

/// Builder for [`Runtime`].
pub struct RuntimeBuilder {
    store: Option<Arc<dyn OffsetStore>>,
    data_dir: PathBuf,
    pipelines: Vec<Result<Pipeline>>,
    metrics: Option<MetricsRecorder>,
    #[cfg(feature = "http")]
    http: Option<String>,
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("store", &self.store)
            .field("data_dir", &self.data_dir)
            .field("pipelines", &self.pipelines.len())
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl RuntimeBuilder {
    /// Record the runtime's metrics into `recorder` (default: a new
    /// [`MetricsRecorder`]). At start the runtime installs its recorder as the
    /// process-wide `metrics` recorder if none is installed yet, so that
    /// connectors' `metrics::counter!` … land there too; to get them on the
    /// `/metrics` of several runtimes in one process, install one recorder
    /// yourself ([`MetricsRecorder::install_global`]) and pass a clone to each.
    pub fn metrics(mut self, recorder: MetricsRecorder) -> Self {
        self.metrics = Some(recorder);
        self
    }

    /// Serve `/health`, `/ready`, `/live` and `/metrics` on `address`
    /// (`host:port`; port 0 picks a free one, see [`Runtime::http_addr`]) for
    /// as long as the [`Runtime`] lives. Binding fails [`start`](Self::start).
    ///
    /// ```no_run
    /// # use rivven_connect::runtime::*;
    /// # async fn demo(pipeline: PipelineBuilder) -> rivven_connect::Result<()> {
    /// let runtime = Runtime::builder()
    ///     .pipeline(pipeline)
    ///     .http("127.0.0.1:8083")
    ///     .start()
    ///     .await?;
    /// println!("serving on http://{}", runtime.http_addr().expect("bound"));
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "http")]
    pub fn http(mut self, address: impl Into<String>) -> Self {
        self.http = Some(address.into());
        self
    }

    /// Where committed offsets are stored (default: a [`FileOffsetStore`] under `data_dir/offsets`).
    pub fn offset_store(mut self, store: impl OffsetStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Directory for runtime data (default [`DEFAULT_DATA_DIR`]).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = dir.into();
        self
    }

    /// Add a pipeline (validated by `start`).
    pub fn pipeline(mut self, pipeline: PipelineBuilder) -> Self {
        self.pipelines.push(pipeline.build());
        self
    }

    /// Add an already built pipeline.
    pub fn add_pipeline(mut self, pipeline: Pipeline) -> Self {
        self.pipelines.push(Ok(pipeline));
        self
    }

    /// Validate every pipeline and start them. All configuration errors are reported together.
    pub async fn start(self) -> Result<Runtime> {
        let mut errors = Vec::new();
        let mut pipelines = Vec::new();
        let mut names = HashSet::new();
        for p in self.pipelines {
            match p {
                Ok(p) if !names.insert(p.name.clone()) => {
                    errors.push(format!("duplicate pipeline name `{}`", p.name));
                }
                Ok(p) => pipelines.push(p),
                Err(e) => errors.push(e.message().to_string()),
            }
        }
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(FileOffsetStore::new(self.data_dir.join("offsets"))));
        errors.extend(
            super::exclusive::conflicts(&pipelines)
                .iter()
                .map(|c| c.to_string()),
        );
        errors.extend(
            super::exclusive::shared_offsets(store.as_ref(), &pipelines)
                .iter()
                .map(|c| c.to_string()),
        );
        if !errors.is_empty() {
            return Err(ConnectorError::configuration(errors.join("; ")));
        }
        store.check_writable().await?;
        #[cfg(feature = "http")]
        let listener = match &self.http {
            Some(address) => Some(crate::http::bind(address).await?),
            None => None,
        };
        let metrics = self.metrics.unwrap_or_default();
        if !metrics.install_global() {
            tracing::debug!(
                "another `metrics` recorder is installed; connector metrics recorded \
                 through the facade go there, not to this runtime's /metrics"
            );
        }
        for p in &mut pipelines {
            p.sink.inner = MeteredSink::wrap(p.sink.inner.clone(), &p.name, &p.sink.name, &metrics);
        }
        let stats: Vec<Arc<PipelineStats>> = pipelines
            .iter()
            .map(|p| {
                Arc::new(PipelineStats::with_metrics(
                    p.name.clone(),
                    p.source.name.clone(),
                    p.sink.name.clone(),
                    &metrics,
                ))
            })
            .collect();
        let mut topics: Vec<Arc<Topic>> = Vec::new();
        for t in pipelines.iter().flat_map(|p| p.topics()) {
            if !topics.iter().any(|k| Arc::ptr_eq(k, t)) {
                topics.push(t.clone());
            }
        }
        let (root, join) = Actor::spawn(
            None,
            RootActor,
            RootArgs {
                pipelines,
                store,
                stats: stats.clone(),
                topics: topics.clone(),
            },
        )
        .await
        .map_err(|e| ConnectorError::fatal(format!("could not start the runtime: {e}")))?;
        let view = RuntimeView {
            root: root.clone(),
            stats: stats.clone(),
            topics,
            metrics: metrics.clone(),
            started: Instant::now(),
        };
        #[cfg_attr(not(feature = "http"), allow(unused_mut))]
        let mut tasks = vec![tokio::spawn(async move {
            let mut tick = tokio::time::interval(METRICS_UPKEEP);
            loop {
                tick.tick().await;
                metrics.run_upkeep();
            }
        })];
        #[cfg(feature = "http")]
        let http_addr = match listener {
            Some(listener) => {
                let (addr, task) = crate::http::spawn(listener, view.clone())?;
                tasks.push(task);
                Some(addr)
            }
            None => None,
        };
        Ok(Runtime {
            root,
            join: Mutex::new(Some(join)),
            stats,
            view,
            tasks,
            #[cfg(feature = "http")]
            http_addr,
        })
    }
}

/// A running set of pipelines. Dropping it stops them (without draining);
/// call [`Runtime::shutdown`] for a graceful stop.
pub struct Runtime {
    root: ActorRef<RootMsg>,
    join: Mutex<Option<JoinHandle<()>>>,
    stats: Vec<Arc<PipelineStats>>,
    view: RuntimeView,
    /// Metrics upkeep and the HTTP server: end with the runtime.
    tasks: Vec<JoinHandle<()>>,
    #[cfg(feature = "http")]
    http_addr: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("pipelines", &self.stats.len())
            .finish()
    }
}

impl Runtime {
    /// A builder.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            store: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            pipelines: Vec::new(),
            metrics: None,
            #[cfg(feature = "http")]
            http: None,
        }
    }

    /// Where this runtime records its metrics.
    pub fn metrics(&self) -> &MetricsRecorder {
        &self.view.metrics
    }

    /// The Prometheus text exposition of this runtime's metrics (what
    /// `/metrics` serves), with `rivven_connect_uptime_seconds` up to date.
    pub fn render_metrics(&self) -> String {
        self.view.render_metrics()
    }

    /// Whether the runtime's actors are alive (what `/live` reports).
    pub fn is_live(&self) -> bool {
        self.view.is_live()
    }

    /// The address the HTTP endpoints are served on, when
    /// [`RuntimeBuilder::http`] was given (with port 0: the port picked).
    #[cfg(feature = "http")]
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http_addr
    }

    #[cfg(feature = "http")]
    pub(crate) fn view(&self) -> &RuntimeView {
        &self.view
    }

    /// Per-pipeline state and counters, asked of the root actor.
    pub async fn status(&self) -> RuntimeStatus {
        match self
            .root
            .call(RootMsg::Status, Some(Duration::from_secs(5)))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(status)) => status,
            _ => self.status_now(),
        }
    }

    /// Per-pipeline state and counters, read directly (no actor round trip).
    pub fn status_now(&self) -> RuntimeStatus {
        self.view.status()
    }

    /// Wait until every pipeline has ended (completed, stopped or failed), then stop the runtime.
    pub async fn wait(&self) -> RuntimeStatus {
        self.wait_terminal().await;
        self.stop_root().await;
        self.status_now()
    }

    /// Stop reading, drain in-flight batches, flush, commit final offsets and stop.
    /// Pipelines still draining after `timeout` are stopped without their final commit.
    pub async fn shutdown(&self, timeout: Duration) -> RuntimeStatus {
        let _ = self.root.send_message(RootMsg::Shutdown);
        if tokio::time::timeout(timeout, self.wait_terminal())
            .await
            .is_err()
        {
            for s in &self.stats {
                if !s.state().is_terminal() {
                    s.set_error(format!(
                        "shutdown timed out after {timeout:?} while {}; its last \
                         batches were not committed and are read again on the next start",
                        s.state()
                    ));
                    // Not a clean stop: `all_succeeded` must say so.
                    s.set_state(PipelineState::Failed);
                }
            }
            tracing::warn!(
                ?timeout,
                "shutdown timed out; stopping pipelines without draining"
            );
        }
        self.stop_root().await;
        self.status_now()
    }

    /// Run until every pipeline ends, or until SIGINT/SIGTERM, which triggers
    /// [`Runtime::shutdown`] with `timeout`.
    pub async fn run_until_signal(&self, timeout: Duration) -> RuntimeStatus {
        tokio::select! {
            status = self.wait() => status,
            _ = shutdown_signal() => {
                tracing::info!("signal received; shutting down");
                self.shutdown(timeout).await
            }
        }
    }

    async fn wait_terminal(&self) {
        for s in &self.stats {
            let mut rx = s.subscribe();
            let _ = rx.wait_for(|state| state.is_terminal()).await;
        }
    }

    async fn stop_root(&self) {
        let join = self.join.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(join) = join {
            self.root.stop(None);
            let _ = join.await;
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.root.stop(None);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
