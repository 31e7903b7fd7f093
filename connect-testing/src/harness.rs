//! [`TestHarness`]: run a source → transforms → sink pipeline through the
//! real [`Runtime`] (actors, credits, checkpoints) and report what happened.
//!
//! ```
//! use rivven_connect::prelude::*;
//! use rivven_connect_testing::prelude::*;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> rivven_connect::Result<()> {
//! let source = MockSource::new().with_events(vec![
//!     SourceEvent::record("users", json!({"id": 1, "name": "Alice"})),
//!     SourceEvent::record("users", json!({"id": 2, "name": "Bob"})),
//! ]);
//! let harness = TestHarness::new(source, MockSink::new());
//! let result = harness.run_pipeline().await?;
//! assert!(result.success);
//! assert_eq!(result.events_written, 2);
//! assert_eq!(harness.sink().written_events().len(), 2);
//! # Ok(()) }
//! ```

mod shared;
mod single;

pub use single::{run_sink, run_source, run_source_with, UnitHarness};

use rivven_connect::runtime::{
    MemoryOffsetStore, Pipeline, PipelineBuilder, PipelineSettings, PipelineState, PipelineStatus,
    RestartPolicy, Runtime,
};
use rivven_connect::{
    ConnectorError, Result, Sink, Source, SourceConfig as _, SourceEvent, State, Transform,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mock::{MockConfig, MockSink};
use shared::{Shared, SharedConfig};

/// Name of the pipeline the harness runs (and the key of its committed state).
pub const PIPELINE: &str = "test-harness";

/// Default limit of [`TestHarness::run_pipeline`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

type AddStage = Box<dyn Fn(PipelineBuilder) -> PipelineBuilder + Send + Sync>;

/// Runs a source and a sink (and optional transforms and dead-letter sink)
/// as one pipeline of a real [`Runtime`] with an in-memory offset store.
///
/// The harness keeps the connectors: [`TestHarness::sink`] and
/// [`TestHarness::source`] give them back (mock handles keep recording), and
/// running again resumes from the state the previous run committed.
pub struct TestHarness<S: Source, K: Sink> {
    source: Arc<S>,
    source_config: SharedConfig<S::Config>,
    sink: Arc<K>,
    sink_config: SharedConfig<K::Config>,
    stages: Vec<AddStage>,
    settings: PipelineSettings,
    store: MemoryOffsetStore,
    timeout: Duration,
}

impl<S: Source, K: Sink> std::fmt::Debug for TestHarness<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHarness")
            .field("source", &S::spec().name)
            .field("sink", &K::spec().name)
            .field("stages", &self.stages.len())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What one [`TestHarness`] run did.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineResult {
    /// The pipeline completed (bounded source drained and committed) or was
    /// stopped cleanly by [`TestHarness::run_for`].
    pub success: bool,
    /// Final pipeline state.
    pub state: PipelineState,
    /// Data events read from the source.
    pub events_read: u64,
    /// Events durably written by the sink.
    pub events_written: u64,
    /// Events dropped by transforms.
    pub events_dropped: u64,
    /// Events rejected and skipped (`on_error: skip`).
    pub events_failed: u64,
    /// Events written to the dead-letter sink.
    pub dead_lettered: u64,
    /// Restarts after failures.
    pub restarts: u64,
    /// Wall time of the run.
    pub duration: Duration,
    /// The state committed when the run ended (what a restart resumes from).
    pub committed_state: Option<State>,
    /// The last failure, if any (also set when the run timed out).
    pub error: Option<String>,
}

impl<S, K> TestHarness<S, K>
where
    S: Source,
    K: Sink,
    S::Config: Default,
    K::Config: Default,
{
    /// A harness for `source` and `sink` with their default configs.
    pub fn new(source: S, sink: K) -> Self {
        Self::with_configs(source, S::Config::default(), sink, K::Config::default())
    }
}

impl<S: Source> TestHarness<S, MockSink> {
    /// A harness that runs `source` into a fresh [`MockSink`], with the source's
    /// config loaded from `config` by its own `from_value` (unknown keys and failed
    /// validation are the error).
    ///
    /// ```
    /// use rivven_connect_testing::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> rivven_connect::Result<()> {
    /// let harness = TestHarness::for_source(MockSource::counting(3), json!({}))?;
    /// assert_eq!(harness.run_pipeline().await?.events_written, 3);
    /// assert_eq!(harness.sink().written_events().len(), 3);
    /// # Ok(()) }
    /// ```
    pub fn for_source(source: S, config: serde_json::Value) -> Result<Self> {
        let config = S::Config::from_value(config)?;
        Ok(Self::with_configs(
            source,
            config,
            MockSink::new(),
            MockConfig::default(),
        ))
    }

    /// Run the pipeline to its end ([`run_pipeline`](Self::run_pipeline)) and
    /// return every event the sink holds. A pipeline that did not succeed
    /// (failed, or did not finish within the timeout) is an `Err` carrying its
    /// error.
    ///
    /// ```
    /// use rivven_connect_testing::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> rivven_connect::Result<()> {
    /// let harness = TestHarness::for_source(MockSource::counting(3), json!({}))?;
    /// assert_eq!(harness.run_to_end().await?.len(), 3);
    /// # Ok(()) }
    /// ```
    pub async fn run_to_end(&self) -> Result<Vec<SourceEvent>> {
        let result = self.run_pipeline().await?;
        if !result.success {
            return Err(ConnectorError::fatal(format!(
                "the pipeline did not succeed: {}",
                result.error.as_deref().unwrap_or("no error was recorded")
            )));
        }
        Ok(self.sink.written_events())
    }
}

impl<S: Source, K: Sink> TestHarness<S, K> {
    /// A harness for connectors with explicit configs (built with
    /// `from_value`, say). The configs need not be `Clone` or `Default`:
    /// the harness keeps them and every run borrows the same ones.
    ///
    /// ```
    /// use rivven_connect_testing::prelude::*;
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> rivven_connect::Result<()> {
    /// let config = <MockConfig as SourceConfig>::from_value(json!({}))?;
    /// let harness =
    ///     TestHarness::with_configs(MockSource::counting(3), config, MockSink::new(), MockConfig::default());
    /// assert_eq!(harness.run_pipeline().await?.events_written, 3);
    /// # Ok(()) }
    /// ```
    pub fn with_configs(
        source: S,
        source_config: S::Config,
        sink: K,
        sink_config: K::Config,
    ) -> Self {
        Self {
            source: Arc::new(source),
            source_config: SharedConfig(Arc::new(source_config)),
            sink: Arc::new(sink),
            sink_config: SharedConfig(Arc::new(sink_config)),
            stages: Vec::new(),
            settings: default_settings(),
            store: MemoryOffsetStore::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Add a transform with its default config (transforms run in the order added).
    pub fn with_transform<T>(self, transform: T) -> Self
    where
        T: Transform,
        T::Config: Default,
    {
        self.with_configured_transform(transform, T::Config::default())
    }

    /// Add a transform with `config` (which need not be `Clone`).
    pub fn with_configured_transform<T: Transform>(
        mut self,
        transform: T,
        config: T::Config,
    ) -> Self {
        let transform = Arc::new(transform);
        let config = SharedConfig(Arc::new(config));
        self.stages.push(Box::new(move |p: PipelineBuilder| {
            p.transform(Shared(Arc::clone(&transform)), config.clone())
        }));
        self
    }

    /// Send rejected events to `sink` (use with `OnError::DeadLetter`).
    pub fn with_dead_letter<D: Sink>(mut self, sink: D, config: D::Config) -> Self {
        let sink = Arc::new(sink);
        let config = SharedConfig(Arc::new(config));
        self.stages.push(Box::new(move |p: PipelineBuilder| {
            p.dead_letter(Shared(Arc::clone(&sink)), config.clone())
        }));
        self
    }

    /// Start from `state`, as if an earlier run had committed it.
    pub fn with_state(self, state: State) -> Self {
        self.store.set(PIPELINE, state);
        self
    }

    /// Pipeline settings (batching, credits, `on_error`, retries, restarts).
    ///
    /// The harness default is [`PipelineSettings::default`] with a fast
    /// restart policy (10 ms first backoff, 5 consecutive failures) so
    /// failure tests finish quickly; settings given here replace it whole.
    pub fn with_settings(mut self, settings: PipelineSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Give up on [`TestHarness::run_pipeline`] after `timeout` (default 60 s):
    /// the pipeline is shut down and the result reports the timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The source (mock handles share their recordings with it).
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The sink (e.g. `harness.sink().written_events()`).
    pub fn sink(&self) -> &K {
        &self.sink
    }

    /// The state committed so far (by every run of this harness).
    pub fn committed_state(&self) -> Option<State> {
        self.store.get(PIPELINE)
    }

    /// Run until the source ends and everything is committed, the pipeline
    /// fails, or the timeout passes. `Err` only when the runtime could not
    /// start; a failed pipeline is `Ok` with `success == false` and `error`.
    pub async fn run_pipeline(&self) -> Result<PipelineResult> {
        let started = Instant::now();
        let runtime = self.start().await?;
        let status = tokio::time::timeout(self.timeout, runtime.wait()).await;
        let (status, timed_out) = match status {
            Ok(status) => (status, false),
            Err(_) => (runtime.shutdown(self.timeout).await, true),
        };
        let mut result = self.result(status.pipeline(PIPELINE), started.elapsed());
        if timed_out {
            result.success = false;
            result.error = Some(format!(
                "the pipeline did not finish within {:?} (state {}); last error: {}",
                self.timeout,
                result.state,
                result.error.as_deref().unwrap_or("none")
            ));
        }
        Ok(result)
    }

    /// Run for `duration` (e.g. an endless source), then shut down
    /// gracefully (drain and commit). Success means it stopped cleanly.
    pub async fn run_for(&self, duration: Duration) -> Result<PipelineResult> {
        let started = Instant::now();
        let runtime = self.start().await?;
        let ended = tokio::time::timeout(duration, runtime.wait()).await;
        let status = match ended {
            Ok(status) => status,
            Err(_) => runtime.shutdown(self.timeout).await,
        };
        Ok(self.result(status.pipeline(PIPELINE), started.elapsed()))
    }

    async fn start(&self) -> Result<Runtime> {
        let mut pipeline = Pipeline::builder(PIPELINE)
            .source(Shared(Arc::clone(&self.source)), self.source_config.clone())
            .sink(Shared(Arc::clone(&self.sink)), self.sink_config.clone())
            .settings(self.settings.clone());
        for stage in &self.stages {
            pipeline = stage(pipeline);
        }
        Runtime::builder()
            .offset_store(self.store.clone())
            .pipeline(pipeline)
            .start()
            .await
    }

    fn result(&self, status: Option<&PipelineStatus>, duration: Duration) -> PipelineResult {
        let committed_state = self.committed_state();
        let Some(s) = status else {
            return PipelineResult {
                success: false,
                state: PipelineState::Failed,
                events_read: 0,
                events_written: 0,
                events_dropped: 0,
                events_failed: 0,
                dead_lettered: 0,
                restarts: 0,
                duration,
                committed_state,
                error: Some(format!("the runtime reported no pipeline `{PIPELINE}`")),
            };
        };
        PipelineResult {
            success: matches!(s.state, PipelineState::Completed | PipelineState::Stopped),
            state: s.state,
            events_read: s.events_read,
            events_written: s.events_written,
            events_dropped: s.events_dropped,
            events_failed: s.events_failed,
            dead_lettered: s.events_dead_lettered,
            restarts: s.restarts,
            duration,
            committed_state,
            error: s.last_error.clone(),
        }
    }
}

fn default_settings() -> PipelineSettings {
    PipelineSettings::default().with_restart(RestartPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(200),
        max_consecutive_failures: 5,
        ..RestartPolicy::default()
    })
}
