//! Batching for high-throughput sinks: by count, by bytes and by age.
//!
//! ```
//! use rivven_connect::prelude::*;
//! use std::time::Duration;
//!
//! let config = BatcherConfig {
//!     max_size: 2,
//!     max_bytes: 10 * 1024 * 1024,
//!     max_wait: Duration::from_secs(5),
//! };
//! let mut batcher = Batcher::new(config);
//! let mut written = 0;
//! for i in 0..5 {
//!     batcher.add(SourceEvent::record("orders", serde_json::json!({ "id": i })));
//!     if batcher.is_ready() {
//!         written += batcher.flush().events.len();
//!     }
//! }
//! if !batcher.is_empty() {
//!     written += batcher.flush().events.len();
//! }
//! assert_eq!(written, 5);
//!
//! use rivven_connect::traits::batch::{chunk_events, partition_events};
//! let events: Vec<_> = (0..5).map(|i| SourceEvent::record(if i % 2 == 0 { "a" } else { "b" }, serde_json::json!({}))).collect();
//! assert_eq!(chunk_events(events.clone(), 2).len(), 3);
//! let partitions = partition_events(events, |e| e.stream.clone());
//! assert_eq!(partitions["a"].len(), 3);
//! ```

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::event::SourceEvent;

/// When a batch is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatcherConfig {
    /// Maximum events per batch.
    pub max_size: usize,
    /// Maximum approximate bytes per batch (a single larger event forms a batch alone).
    pub max_bytes: usize,
    /// Maximum age of a batch's oldest event before the batch is due.
    pub max_wait: Duration,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_size: 1000,
            max_bytes: 10 * 1024 * 1024,
            max_wait: Duration::from_secs(5),
        }
    }
}

/// A batch of events with its approximate size and the moment its first event arrived.
#[derive(Debug, Clone)]
pub struct EventBatch {
    /// The events, in arrival order.
    pub events: Vec<SourceEvent>,
    /// Sum of [`SourceEvent::approx_size`].
    pub size_bytes: usize,
    /// When the first event was added.
    pub created_at: Instant,
}

impl EventBatch {
    fn new() -> Self {
        Self {
            events: Vec::new(),
            size_bytes: 0,
            created_at: Instant::now(),
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// `true` when the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Time since the first event arrived.
    pub fn age(&self) -> Duration {
        self.created_at.elapsed()
    }
}

/// Collects events into batches that respect [`BatcherConfig`]'s hard limits on count and
/// bytes; `is_ready` also turns true once the oldest event waited `max_wait`.
#[derive(Debug)]
pub struct Batcher {
    config: BatcherConfig,
    current: EventBatch,
    complete: VecDeque<EventBatch>,
}

impl Batcher {
    /// An empty batcher. A `max_size` of 0 is treated as 1.
    pub fn new(config: BatcherConfig) -> Self {
        Self {
            config: BatcherConfig {
                max_size: config.max_size.max(1),
                ..config
            },
            current: EventBatch::new(),
            complete: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BatcherConfig {
        &self.config
    }

    /// Adds an event. When it would push the open batch past `max_bytes`, the open batch is
    /// completed first, so no batch exceeds the limit unless one event alone does.
    /// Returns `true` when a batch is ready to flush.
    pub fn add(&mut self, event: SourceEvent) -> bool {
        let size = event.approx_size();
        if !self.current.is_empty()
            && self.current.size_bytes.saturating_add(size) > self.config.max_bytes
        {
            self.complete_current();
        }
        if self.current.is_empty() {
            self.current.created_at = Instant::now();
        }
        self.current.size_bytes += size;
        self.current.events.push(event);
        if self.current.len() >= self.config.max_size
            || self.current.size_bytes >= self.config.max_bytes
        {
            self.complete_current();
        }
        self.is_ready()
    }

    fn complete_current(&mut self) {
        let batch = std::mem::replace(&mut self.current, EventBatch::new());
        self.complete.push_back(batch);
    }

    /// `true` when a full batch waits, or the open batch's oldest event is `max_wait` old.
    pub fn is_ready(&self) -> bool {
        !self.complete.is_empty()
            || (!self.current.is_empty() && self.current.age() >= self.config.max_wait)
    }

    /// Takes the oldest complete batch, or else the open one (possibly empty).
    pub fn flush(&mut self) -> EventBatch {
        match self.complete.pop_front() {
            Some(batch) => batch,
            None => std::mem::replace(&mut self.current, EventBatch::new()),
        }
    }

    /// Takes every buffered event, complete batches first, as batches.
    pub fn flush_all(&mut self) -> Vec<EventBatch> {
        let mut out: Vec<EventBatch> = self.complete.drain(..).collect();
        if !self.current.is_empty() {
            out.push(std::mem::replace(&mut self.current, EventBatch::new()));
        }
        out
    }

    /// `true` when no event is buffered.
    pub fn is_empty(&self) -> bool {
        self.complete.is_empty() && self.current.is_empty()
    }

    /// Buffered events.
    pub fn len(&self) -> usize {
        self.complete.iter().map(EventBatch::len).sum::<usize>() + self.current.len()
    }

    /// Buffered approximate bytes.
    pub fn size_bytes(&self) -> usize {
        self.complete.iter().map(|b| b.size_bytes).sum::<usize>() + self.current.size_bytes
    }

    /// Time until the open batch becomes due (`None` when it is empty).
    pub fn time_until_due(&self) -> Option<Duration> {
        (!self.current.is_empty()).then(|| self.config.max_wait.saturating_sub(self.current.age()))
    }
}

/// A [`Batcher`] with an awaitable linger timer, for `tokio::select!` loops.
///
/// ```
/// use rivven_connect::prelude::*;
/// use std::time::Duration;
///
/// # async fn run() {
/// let mut batcher = AsyncBatcher::new(BatcherConfig { max_wait: Duration::from_millis(10), ..Default::default() });
/// batcher.add(SourceEvent::record("s", serde_json::json!({})));
/// tokio::select! {
///     _ = batcher.wait_for_timeout() => assert_eq!(batcher.flush().len(), 1),
///     _ = tokio::time::sleep(Duration::from_secs(5)) => panic!("linger did not fire"),
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncBatcher {
    inner: Batcher,
}

impl AsyncBatcher {
    /// An empty batcher.
    pub fn new(config: BatcherConfig) -> Self {
        Self {
            inner: Batcher::new(config),
        }
    }

    /// Resolves when a batch is ready; never resolves while the batcher is empty, so a
    /// `select!` arm using it stays quiet instead of spinning.
    pub async fn wait_for_timeout(&self) {
        if !self.inner.complete.is_empty() {
            return;
        }
        match self.inner.time_until_due() {
            Some(delay) => tokio::time::sleep(delay).await,
            None => std::future::pending().await,
        }
    }
}

impl std::ops::Deref for AsyncBatcher {
    type Target = Batcher;
    fn deref(&self) -> &Batcher {
        &self.inner
    }
}

impl std::ops::DerefMut for AsyncBatcher {
    fn deref_mut(&mut self) -> &mut Batcher {
        &mut self.inner
    }
}

/// Splits `items` into chunks of at most `size` (0 is treated as 1), keeping order.
pub fn chunk_events<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let size = size.max(1);
    let mut chunks = Vec::with_capacity(items.len().div_ceil(size));
    let mut iter = items.into_iter().peekable();
    while iter.peek().is_some() {
        chunks.push(iter.by_ref().take(size).collect());
    }
    chunks
}

/// Groups `items` by `key`, keeping each group's arrival order.
pub fn partition_events<T, K, F>(items: Vec<T>, mut key: F) -> HashMap<K, Vec<T>>
where
    K: Hash + Eq,
    F: FnMut(&T) -> K,
{
    let mut out: HashMap<K, Vec<T>> = HashMap::new();
    for item in items {
        out.entry(key(&item)).or_default().push(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(i: usize, pad: usize) -> SourceEvent {
        SourceEvent::record("s", json!({ "id": i, "pad": "x".repeat(pad) }))
    }

    #[test]
    fn batches_by_count() {
        let mut b = Batcher::new(BatcherConfig {
            max_size: 3,
            ..Default::default()
        });
        assert!(!b.add(ev(0, 0)));
        assert!(!b.add(ev(1, 0)));
        assert!(b.add(ev(2, 0)));
        b.add(ev(3, 0));
        assert_eq!(b.len(), 4);
        assert_eq!(b.flush().len(), 3);
        assert!(!b.is_ready());
        assert_eq!(b.flush().len(), 1);
        assert!(b.is_empty());
    }

    #[test]
    fn byte_limit_is_never_exceeded_by_more_than_one_oversized_event() {
        let one = ev(0, 100).approx_size();
        let mut b = Batcher::new(BatcherConfig {
            max_size: 1000,
            max_bytes: one * 2 + one / 2,
            max_wait: Duration::from_secs(60),
        });
        for i in 0..10 {
            b.add(ev(i, 100));
        }
        b.add(ev(10, 10_000));
        let batches = b.flush_all();
        let sizes: Vec<usize> = batches.iter().map(EventBatch::len).collect();
        assert_eq!(sizes, vec![2, 2, 2, 2, 2, 1]);
        for batch in &batches[..5] {
            assert!(batch.size_bytes <= one * 2 + one / 2);
        }
        let ids: Vec<u64> = batches
            .iter()
            .flat_map(|b| b.events.iter())
            .filter_map(|e| e.data["id"].as_u64())
            .collect();
        assert_eq!(ids, (0..=10).collect::<Vec<u64>>());
    }

    #[test]
    fn ready_after_max_wait() {
        let mut b = Batcher::new(BatcherConfig {
            max_wait: Duration::from_millis(5),
            ..Default::default()
        });
        assert!(b.time_until_due().is_none());
        b.add(ev(0, 0));
        assert!(!b.is_ready());
        std::thread::sleep(Duration::from_millis(10));
        assert!(b.is_ready());
        assert_eq!(b.time_until_due(), Some(Duration::ZERO));
    }

    #[tokio::test]
    async fn async_batcher_wait_returns_immediately_when_full() {
        let mut b = AsyncBatcher::new(BatcherConfig {
            max_size: 1,
            max_wait: Duration::from_secs(3600),
            ..Default::default()
        });
        b.add(ev(0, 0));
        tokio::time::timeout(Duration::from_secs(5), b.wait_for_timeout())
            .await
            .map_err(|_| "wait_for_timeout did not return for a full batch")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.flush().len(), 1);
    }

    #[tokio::test]
    async fn async_batcher_empty_never_fires() {
        let b = AsyncBatcher::new(BatcherConfig::default());
        let r = tokio::time::timeout(Duration::from_millis(20), b.wait_for_timeout()).await;
        assert!(r.is_err());
    }

    #[test]
    fn chunk_and_partition() {
        let chunks = chunk_events((0..7).collect(), 3);
        assert_eq!(chunks, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        assert!(chunk_events(Vec::<u8>::new(), 0).is_empty());
        let parts = partition_events((0..10).collect(), |i| i % 3);
        assert_eq!(parts[&0], vec![0, 3, 6, 9]);
        assert_eq!(parts[&2], vec![2, 5, 8]);
    }
}
