//! Embedded topics: one source read once, fanned out to many subscribers.
//!
//! A source with a `topic` runs as a *publisher* pipeline whose sink appends to
//! the topic; every subscribing sink runs as a *subscriber* pipeline whose
//! source reads the topic at its consumer group's cursor, with its own
//! batches, transforms, rate limit and `on_error`. A subscriber that fails
//! restarts on its own from its group's committed cursor; the others go on.
//!
//! **Storage `memory`** (the default): the topic holds at most `capacity`
//! events in memory. An append waits while that many are not yet acknowledged
//! by every group (a slow subscriber slows the source, it never grows a
//! queue). The publisher's write is acknowledged once appended, so the
//! source reads on while subscribers write, but the source's state is
//! committed only once every group has committed past it (the publisher's
//! checkpointer waits for the topic, see `checkpointer`). While a
//! subscriber is down or restarting, the source's committed position stays at
//! what that subscriber acknowledged; the source goes on reading until the
//! topic is full, then waits. After a crash the source replays from there, and
//! every subscriber sees the replay (at least once).
//!
//! **Storage `disk`**: records are appended to checksummed segment files under
//! `<data_dir>/topics/<topic>/` and fsynced per batch, and the publisher's
//! write is acknowledged once they are durable, so a fast source is decoupled
//! from a slow sink. Each group's cursor is committed with its pipeline's
//! offsets, so a restarted subscriber resumes from it; segments every group
//! has passed are deleted when the topic is over `retention_bytes` or a
//! segment is older than `retention_ms`. A torn or corrupt tail is truncated at
//! startup (those records were never acknowledged). A topic's directory is
//! locked while it is open: a second rivven-connect with the same `data_dir`
//! (or a second runtime in one process) fails to start, naming the topic.

pub(crate) mod disk;
mod endpoints;

pub use endpoints::{TopicSink, TopicSource};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use disk::DiskLog;

/// Where an embedded topic keeps its records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TopicStorage {
    /// In memory, bounded; the source commits what every subscriber acknowledged.
    #[default]
    Memory,
    /// Segment files under `data_dir`, fsynced per batch; the source commits
    /// what is durably in the topic.
    Disk,
}

/// How an embedded topic is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicOptions {
    /// Memory or disk.
    pub storage: TopicStorage,
    /// Events held in memory (memory: the bound on unacknowledged events;
    /// disk: the cache of recent events that subscribers read without disk I/O).
    pub capacity: usize,
    /// Directory of the segment files (disk storage).
    pub dir: PathBuf,
    /// A segment is closed and a new one started at this size.
    pub segment_bytes: u64,
    /// Segments every group has passed are deleted while the topic is bigger.
    pub retention_bytes: u64,
    /// … or while the oldest such segment is older than this.
    pub retention: Duration,
}

impl Default for TopicOptions {
    fn default() -> Self {
        Self {
            storage: TopicStorage::Memory,
            capacity: 16_384,
            dir: PathBuf::from(crate::runtime::DEFAULT_DATA_DIR).join("topics"),
            segment_bytes: 64 << 20,
            retention_bytes: 1 << 30,
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// A consumer group's position in a topic, in [`TopicStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The group (the subscribing pipeline's sink or pipeline name).
    pub name: String,
    /// Offset of the next event the group has not acknowledged, once known.
    pub committed_offset: Option<u64>,
    /// Events appended and not yet acknowledged by the group.
    pub lag: u64,
}

/// An embedded topic's offsets, for status, `/health` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicStatus {
    /// Topic name.
    pub name: String,
    /// `memory` or `disk`.
    pub storage: TopicStorage,
    /// Offset of the next event appended.
    pub end_offset: u64,
    /// Events held in memory now.
    pub buffered: u64,
    /// Most events held in memory at once.
    pub peak_buffered: u64,
    /// Bytes in segment files (disk storage).
    pub disk_bytes: u64,
    /// Consumer groups.
    pub groups: Vec<GroupStatus>,
}

struct Inner {
    /// Offset of `ring[0]`.
    base: u64,
    ring: VecDeque<SourceEvent>,
    /// Committed cursor per group (`None`: the group has not started yet).
    groups: BTreeMap<String, Option<u64>>,
}

/// One embedded topic, shared by its publishers and subscribers.
pub struct Topic {
    name: String,
    options: TopicOptions,
    inner: Mutex<Inner>,
    disk: Option<Arc<Mutex<DiskLog>>>,
    /// Offset of the next event appended.
    end: watch::Sender<u64>,
    /// The lowest committed cursor over all groups.
    low: watch::Sender<u64>,
    /// Every publisher has finished: subscribers end once they reached `end`.
    closed: watch::Sender<bool>,
    /// A subscriber failed for good: with memory storage the publishers stop
    /// (committing past it would lose what it did not get).
    failed: watch::Sender<Option<String>>,
    open_publishers: AtomicUsize,
    peak: AtomicU64,
}

impl std::fmt::Debug for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topic")
            .field("name", &self.name)
            .field("storage", &self.options.storage)
            .finish_non_exhaustive()
    }
}

impl Topic {
    /// Open a topic with its consumer groups and number of publishers (disk
    /// storage: recover its segments, truncating a torn tail).
    pub fn open(
        name: impl Into<String>,
        options: TopicOptions,
        groups: impl IntoIterator<Item = String>,
        publishers: usize,
    ) -> Result<Arc<Self>> {
        let name = name.into();
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || name == "." || name == ".." || !name.chars().all(valid) {
            return Err(ConnectorError::config(format!(
                "topic `{name}`: a topic name uses only letters, digits, `.`, `_` and `-`"
            )));
        }
        if options.capacity == 0 {
            return Err(ConnectorError::config(format!(
                "topic `{name}`: capacity must be at least 1"
            )));
        }
        let disk = match options.storage {
            TopicStorage::Memory => None,
            TopicStorage::Disk => Some(DiskLog::open(
                &name,
                &options.dir.join(&name),
                options.segment_bytes,
            )?),
        };
        let end = disk.as_ref().map_or(0, DiskLog::end);
        let groups = groups.into_iter().map(|g| (g, None)).collect();
        Ok(Arc::new(Self {
            inner: Mutex::new(Inner {
                base: end,
                ring: VecDeque::new(),
                groups,
            }),
            disk: disk.map(|d| Arc::new(Mutex::new(d))),
            end: watch::Sender::new(end),
            low: watch::Sender::new(end),
            closed: watch::Sender::new(publishers == 0),
            failed: watch::Sender::new(None),
            open_publishers: AtomicUsize::new(publishers),
            peak: AtomicU64::new(0),
            name,
            options,
        }))
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The topic's storage.
    pub fn storage(&self) -> TopicStorage {
        self.options.storage
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_disk(&self) -> Option<MutexGuard<'_, DiskLog>> {
        self.disk
            .as_ref()
            .map(|d| d.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Append `events` (in memory storage, first waiting for room); returns
    /// the offset after them. Disk storage returns once they are fsynced
    /// (`payloads` are their encoded records).
    pub async fn append(&self, events: Vec<SourceEvent>, payloads: Vec<Vec<u8>>) -> Result<u64> {
        let n = events.len() as u64;
        if self.disk.is_none() {
            // In pieces of at most `capacity`: the topic never holds more.
            let mut end = self.end();
            let mut rest = events;
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(self.options.capacity));
                end = self
                    .append_memory(std::mem::replace(&mut rest, tail))
                    .await?;
            }
            return Ok(end);
        }
        let Some(disk) = self.disk.clone() else {
            return Err(ConnectorError::fatal("topic without its log"));
        };
        // One writer at a time: the lock serializes appends and their fsync.
        let end = tokio::task::spawn_blocking(move || {
            disk.lock()
                .unwrap_or_else(|p| p.into_inner())
                .append(&payloads)
        })
        .await
        .map_err(|e| ConnectorError::fatal(format!("topic append task failed: {e}")))??;
        let start = end - n;
        self.push(events, start);
        self.retain()?;
        Ok(end)
    }

    /// Append at most `capacity` events to a memory topic, once there is room.
    async fn append_memory(&self, events: Vec<SourceEvent>) -> Result<u64> {
        let n = events.len() as u64;
        let mut low = self.low.subscribe();
        loop {
            self.check_failed()?;
            low.borrow_and_update();
            {
                let inner = self.lock();
                let end = inner.base + inner.ring.len() as u64;
                if inner.ring.len() as u64 + n <= self.options.capacity as u64 {
                    drop(inner);
                    return Ok(self.push(events, end));
                }
            }
            let mut failed = self.failed.subscribe();
            tokio::select! {
                r = low.changed() => if r.is_err() {
                    return Err(ConnectorError::fatal("topic dropped"));
                },
                _ = failed.wait_for(Option::is_some) => {}
            }
        }
    }

    /// Put appended events in memory (at `start`) and publish the new end.
    fn push(&self, events: Vec<SourceEvent>, start: u64) -> u64 {
        let mut inner = self.lock();
        if inner.base + inner.ring.len() as u64 != start {
            // Disk storage after the ring was trimmed past a gap: restart it.
            inner.ring.clear();
            inner.base = start;
        }
        inner.ring.extend(events);
        if self.disk.is_some() {
            // The ring is only a cache of the newest events.
            let over = inner.ring.len().saturating_sub(self.options.capacity);
            inner.ring.drain(..over);
            inner.base += over as u64;
        }
        let end = inner.base + inner.ring.len() as u64;
        self.peak
            .fetch_max(inner.ring.len() as u64, Ordering::Relaxed);
        drop(inner);
        self.end.send_replace(end);
        end
    }

    /// Offset of the next event appended.
    pub(crate) fn end(&self) -> u64 {
        *self.end.borrow()
    }

    /// Every group has committed up to `offset`.
    pub(crate) fn acknowledged(&self, offset: u64) -> bool {
        *self.low.borrow() >= offset
    }

    /// Wait until every group has committed up to `offset` (memory storage).
    pub async fn wait_acknowledged(&self, offset: u64) -> Result<()> {
        let mut low = self.low.subscribe();
        let mut failed = self.failed.subscribe();
        tokio::select! {
            r = low.wait_for(|l| *l >= offset) => r
                .map(|_| ())
                .map_err(|_| ConnectorError::fatal(format!("topic `{}` dropped", self.name))),
            _ = failed.wait_for(Option::is_some) => self.check_failed(),
        }
    }

    /// A subscriber failed for good (see [`Topic::failure`]).
    pub(crate) fn fail(&self, reason: String) {
        self.failed.send_if_modified(|f| {
            let first = f.is_none();
            if first {
                *f = Some(reason);
            }
            first
        });
    }

    /// Why the topic cannot go on, when a subscriber failed for good and
    /// storage is memory: its publishers must not commit past that subscriber.
    pub fn failure(&self) -> Option<String> {
        self.failed.borrow().clone()
    }

    fn check_failed(&self) -> Result<()> {
        match self.failure() {
            Some(reason) => Err(ConnectorError::fatal(format!(
                "topic `{}`: {reason}; the source's position is held at what it acknowledged",
                self.name
            ))),
            None => Ok(()),
        }
    }

    /// Where `group` starts when its pipeline has no committed cursor: its
    /// cursor in this process if it had one, else the oldest event kept.
    pub(crate) fn start_of(&self, group: &str) -> u64 {
        let inner = self.lock();
        if let Some(Some(c)) = inner.groups.get(group) {
            return *c;
        }
        drop(inner);
        self.oldest()
    }

    fn oldest(&self) -> u64 {
        match self.lock_disk() {
            Some(disk) => disk.start(),
            None => self.lock().base,
        }
    }

    /// `group` committed everything before `offset`.
    pub(crate) fn commit(&self, group: &str, offset: u64) -> Result<()> {
        let mut inner = self.lock();
        match inner.groups.get_mut(group) {
            Some(c) => *c = Some(c.map_or(offset, |c| c.max(offset))),
            None => {
                return Err(ConnectorError::fatal(format!(
                    "topic `{}` has no consumer group `{group}`",
                    self.name
                )))
            }
        }
        let low = self.low_of(&inner);
        if let (None, Some(low)) = (&self.disk, low) {
            // Memory: every group has what is below `low`.
            let drop_n = low.saturating_sub(inner.base).min(inner.ring.len() as u64);
            inner.ring.drain(..drop_n as usize);
            inner.base += drop_n;
        }
        drop(inner);
        if let Some(low) = low {
            self.low.send_if_modified(|l| {
                let changed = low > *l;
                *l = (*l).max(low);
                changed
            });
        }
        Ok(())
    }

    /// The lowest committed cursor, once every group has one (memory: a group
    /// that has not started yet is at the start).
    fn low_of(&self, inner: &Inner) -> Option<u64> {
        let mut low: Option<u64> = None;
        for c in inner.groups.values() {
            let c = match (c, self.disk.is_none()) {
                (Some(c), _) => *c,
                (None, true) => 0,
                (None, false) => return None,
            };
            low = Some(low.map_or(c, |l: u64| l.min(c)));
        }
        low
    }

    fn retain(&self) -> Result<()> {
        let Some(low) = self.low_of(&self.lock()) else {
            return Ok(());
        };
        if let Some(mut disk) = self.lock_disk() {
            disk.retain(low, self.options.retention_bytes, self.options.retention)?;
        }
        Ok(())
    }

    /// Up to `max` events from `offset`: from memory when they are there,
    /// else from the segment files (through `reader`, kept by the caller).
    pub(crate) fn read(
        &self,
        offset: u64,
        max: usize,
        reader: &mut Option<disk::SegmentReader>,
    ) -> Result<Vec<SourceEvent>> {
        {
            let inner = self.lock();
            let end = inner.base + inner.ring.len() as u64;
            if offset >= inner.base {
                let from = (offset - inner.base) as usize;
                let to = (end.saturating_sub(inner.base) as usize).min(from + max);
                return Ok(inner.ring.range(from.min(to)..to).cloned().collect());
            }
        }
        self.read_disk(offset, max, reader)
    }

    fn read_disk(
        &self,
        offset: u64,
        max: usize,
        reader: &mut Option<disk::SegmentReader>,
    ) -> Result<Vec<SourceEvent>> {
        let Some(disk) = self.lock_disk() else {
            return Err(ConnectorError::fatal(format!(
                "topic `{}`: offset {offset} is no longer held in memory",
                self.name
            )));
        };
        if reader.as_ref().is_none_or(|r| r.next_offset != offset) {
            *reader = Some(disk.reader(offset)?);
        }
        let next = reader.as_ref().and_then(|r| disk.next_segment(r.base()));
        drop(disk);
        // Only what is complete on disk: records below the published end
        // (the one being appended now may be half written).
        let max = (*self.end.borrow()).saturating_sub(offset).min(max as u64) as usize;
        let mut out = Vec::new();
        let Some(r) = reader.as_mut() else {
            return Ok(out);
        };
        while out.len() < max {
            match r.next_event()? {
                Some(e) => out.push(e),
                None => {
                    // End of this segment: on to the next one, if there is one.
                    match &next {
                        Some((base, path)) if out.is_empty() && *base == r.next_offset => {
                            *r = disk::SegmentReader::open_path(&self.name, *base, path)?;
                        }
                        _ => break,
                    }
                    if out.is_empty() {
                        continue;
                    }
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Wait until an event at `offset` exists; `false` when the topic is
    /// closed and `offset` is its end (nothing more will come).
    pub(crate) async fn wait_for(&self, offset: u64) -> bool {
        let mut end = self.end.subscribe();
        let mut closed = self.closed.subscribe();
        loop {
            if *end.borrow_and_update() > offset {
                return true;
            }
            if *closed.borrow_and_update() {
                return *self.end.borrow() > offset;
            }
            tokio::select! {
                r = end.changed() => if r.is_err() { return false },
                r = closed.changed() => if r.is_err() { return false },
            }
        }
    }

    /// One publisher finished; when the last one has, the topic closes.
    pub(crate) fn publisher_finished(&self) {
        let before = self
            .open_publishers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .unwrap_or(0);
        if before <= 1 {
            tracing::debug!(topic = %self.name, "every publisher finished; the topic is closed");
            self.closed.send_replace(true);
        }
    }

    /// Offsets and lag.
    pub fn status(&self) -> TopicStatus {
        let inner = self.lock();
        let end = inner.base + inner.ring.len() as u64;
        let groups = inner
            .groups
            .iter()
            .map(|(name, c)| GroupStatus {
                name: name.clone(),
                committed_offset: *c,
                lag: end.saturating_sub(c.unwrap_or(0)),
            })
            .collect();
        let buffered = inner.ring.len() as u64;
        drop(inner);
        TopicStatus {
            name: self.name.clone(),
            storage: self.options.storage,
            end_offset: end,
            buffered,
            peak_buffered: self.peak.load(Ordering::Relaxed),
            disk_bytes: self.lock_disk().map_or(0, |d| d.bytes()),
            groups,
        }
    }
}

#[cfg(test)]
mod tests;
