//! [`MockSource`]: a scripted source.

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorError, ConnectorKind, ConnectorSpec, Result,
    Source, SourceEvent, State, Stream,
};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::MockConfig;

type Generator = Arc<dyn Fn(u64) -> SourceEvent + Send + Sync>;

/// State key holding the index of the next event to produce.
pub const POSITION_KEY: &str = "next";
/// Stream name the mock records its position under.
const STATE_STREAM: &str = "mock";

/// A source that produces scripted events, resumes from the committed
/// position, records `commit` calls, and fails or panics on demand.
///
/// Event *i* carries `with_state("next", i + 1)` under the stream it belongs
/// to, so after a restart the runtime hands back the position after the last
/// durably written event and the mock continues from there.
#[derive(Clone)]
pub struct MockSource {
    generator: Generator,
    count: Option<u64>,
    delay: Option<Duration>,
    check_error: Option<String>,
    fail_after: Option<(u64, Arc<dyn Fn() -> ConnectorError + Send + Sync>)>,
    panic_after: Option<u64>,
    /// How many runs fail (or panic); `u64::MAX` for every run.
    fail_times: u64,
    tripped: Arc<Mutex<u64>>,
    commits: Arc<Mutex<Vec<State>>>,
    reads: Arc<Mutex<Vec<Option<State>>>>,
}

impl std::fmt::Debug for MockSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockSource")
            .field("count", &self.count)
            .field("delay", &self.delay)
            .field("fail_after", &self.fail_after.as_ref().map(|(n, _)| n))
            .field("panic_after", &self.panic_after)
            .finish_non_exhaustive()
    }
}

impl Default for MockSource {
    fn default() -> Self {
        Self::new()
    }
}

impl MockSource {
    /// A source with no events.
    pub fn new() -> Self {
        Self {
            generator: Arc::new(|i| SourceEvent::record("mock", json!({ "id": i }))),
            count: Some(0),
            delay: None,
            check_error: None,
            fail_after: None,
            panic_after: None,
            fail_times: 1,
            tripped: Arc::new(Mutex::new(0)),
            commits: Arc::new(Mutex::new(Vec::new())),
            reads: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// `n` records `{"id": i}` on stream `mock`.
    pub fn counting(n: u64) -> Self {
        Self {
            count: Some(n),
            ..Self::new()
        }
    }

    /// Exactly these events.
    pub fn with_events(self, events: Vec<SourceEvent>) -> Self {
        let n = events.len() as u64;
        let events = Arc::new(events);
        self.with_generator(n, move |i| {
            events
                .get(i as usize)
                .cloned()
                .unwrap_or_else(|| SourceEvent::record("mock", json!({ "id": i })))
        })
    }

    /// `n` events made by `f(i)`.
    pub fn with_generator(
        mut self,
        n: u64,
        f: impl Fn(u64) -> SourceEvent + Send + Sync + 'static,
    ) -> Self {
        self.generator = Arc::new(f);
        self.count = Some(n);
        self
    }

    /// Never end.
    pub fn endless(mut self) -> Self {
        self.count = None;
        self
    }

    /// Wait `delay` before each event.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// `check` reports failure and `read` fails with a connection error.
    pub fn fail_with(mut self, message: impl Into<String>) -> Self {
        self.check_error = Some(message.into());
        self
    }

    /// After `n` events (counted from the start of the data, not of this
    /// run), the stream yields `err()` once; later runs pass. The error takes
    /// the place of event `n` (0-based) in the stream, so it comes at the same
    /// event count whatever the pipeline's batch sizes.
    pub fn fail_after(
        mut self,
        n: u64,
        err: impl Fn() -> ConnectorError + Send + Sync + 'static,
    ) -> Self {
        self.fail_after = Some((n, Arc::new(err)));
        self
    }

    /// After `n` events the stream panics once (instead of yielding event
    /// `n`, whatever the batch sizes); later runs pass.
    pub fn panic_after(mut self, n: u64) -> Self {
        self.panic_after = Some(n);
        self
    }

    /// Fail (or panic) on every run, not only the first.
    pub fn always(mut self) -> Self {
        self.fail_times = u64::MAX;
        self
    }

    /// Fail (or panic) on the first `n` runs, then pass.
    pub fn times(mut self, n: u64) -> Self {
        self.fail_times = n;
        self
    }

    /// The states passed to `commit`, in order.
    pub fn commits(&self) -> Vec<State> {
        lock(&self.commits).clone()
    }

    /// The states each `read` started from, in order (one per (re)start).
    pub fn reads(&self) -> Vec<Option<State>> {
        lock(&self.reads).clone()
    }

    /// The position a state records (index of the next event).
    pub fn position(state: &State) -> u64 {
        state
            .streams
            .values()
            .filter_map(|s| s.data.get(POSITION_KEY).and_then(|v| v.as_u64()))
            .max()
            .unwrap_or(0)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl Source for MockSource {
    type Config = MockConfig;

    fn spec() -> ConnectorSpec {
        ConnectorSpec::builder("mock", env!("CARGO_PKG_VERSION"))
            .kind(ConnectorKind::Source)
            .description("Scripted source for tests")
            .config_schema_from::<MockConfig>()
            .build()
    }

    async fn check(&self, _config: &MockConfig) -> Result<CheckResult> {
        Ok(match &self.check_error {
            Some(e) => CheckResult::failure(e.clone()),
            None => CheckResult::success(),
        })
    }

    async fn discover(&self, _config: &MockConfig) -> Result<Catalog> {
        Ok(Catalog::default().add_stream(Stream::new(STATE_STREAM, json!({"type": "object"}))))
    }

    async fn read(
        &self,
        _config: &MockConfig,
        _catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        lock(&self.reads).push(state.clone());
        if let Some(e) = &self.check_error {
            return Err(ConnectorError::connection(e.clone()));
        }
        let start = state.as_ref().map_or(0, Self::position);
        let me = self.clone();
        let events = stream::unfold(start, move |i| {
            let me = me.clone();
            async move {
                if me.count.is_some_and(|n| i >= n) {
                    return None;
                }
                if let Some(d) = me.delay {
                    tokio::time::sleep(d).await;
                }
                if me.should_trip(me.panic_after, i) {
                    panic!("MockSource panicked after {i} events");
                }
                if let Some((n, err)) = &me.fail_after {
                    if me.should_trip(Some(*n), i) {
                        return Some((Err(err()), i));
                    }
                }
                let event = (me.generator)(i).with_state(POSITION_KEY, json!(i + 1));
                Some((Ok(event), i + 1))
            }
        });
        Ok(events.boxed())
    }

    async fn commit(&self, _config: &MockConfig, state: &State) -> Result<()> {
        lock(&self.commits).push(state.clone());
        Ok(())
    }
}

impl MockSource {
    fn should_trip(&self, at: Option<u64>, i: u64) -> bool {
        if at != Some(i) {
            return false;
        }
        let mut tripped = lock(&self.tripped);
        if *tripped >= self.fail_times {
            return false;
        }
        *tripped += 1;
        true
    }
}
