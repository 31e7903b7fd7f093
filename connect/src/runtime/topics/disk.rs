//! Durable storage of an embedded topic (`topics.storage: disk`): segment
//! files of checksummed records under `<data_dir>/topics/<topic>/`.
//!
//! A segment is named after the offset of its first record
//! (`00000000000000000042.log`) and holds frames:
//!
//! ```text
//! u32 LE payload length | u32 LE CRC-32 of (offset bytes ‖ payload) | u64 LE offset | payload
//! ```
//!
//! The payload is the event as JSON. Every append is one `write` and one
//! `fsync` of the batch, so an acknowledged append survives a crash of the
//! process or the machine. At startup the last segment is scanned: a frame cut
//! short, with a wrong checksum or out of sequence ends the log there — the
//! rest is truncated with a warning, never read as data. A bad frame inside
//! an older segment is found when it is read, and fails the reader with the
//! topic, segment and offset (a gap is never skipped).

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;

const HEADER: usize = 16;
/// Nesting a record may have and still be read back (serde_json's limit is 128).
pub(crate) const MAX_DEPTH: usize = 127;
/// A frame longer than this is corrupt (no record is this large).
const MAX_FRAME: u32 = 1 << 30;

/// One segment file.
#[derive(Debug, Clone)]
struct Segment {
    base: u64,
    path: PathBuf,
    bytes: u64,
}

/// The segment files of one topic.
#[derive(Debug)]
pub(crate) struct DiskLog {
    topic: String,
    dir: PathBuf,
    segment_bytes: u64,
    segments: Vec<Segment>,
    active: File,
    /// Offset of the next record appended.
    end: u64,
    /// `<dir>/.lock`, locked while the log is open: one process writes a
    /// topic (the lock goes with the process, even on `kill -9`).
    _lock: File,
}

fn io_err(topic: &str, what: &str, path: &Path, e: std::io::Error) -> ConnectorError {
    ConnectorError::io(format!("topic `{topic}`: {what} {}: {e}", path.display())).with_source(e)
}

/// Lock `<dir>/.lock`, or fail naming the topic and the directory when
/// another process (or another runtime in this one) has the topic open.
fn lock_dir(topic: &str, dir: &Path) -> Result<File> {
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_err(topic, "opening", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(ConnectorError::config(format!(
            "topic `{topic}`: {} is in use by another rivven-connect (one with the same \
             data_dir, or another runtime in this process); a disk topic has one writer",
            dir.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(io_err(topic, "locking", &path, e)),
    }
}

fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

impl DiskLog {
    /// Open (or create) the topic's log in `dir`, truncating a torn tail.
    pub(crate) fn open(topic: &str, dir: &Path, segment_bytes: u64) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| io_err(topic, "creating", dir, e))?;
        let lock = lock_dir(topic, dir)?;
        let mut segments = Vec::new();
        let entries = fs::read_dir(dir).map_err(|e| io_err(topic, "listing", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err(topic, "listing", dir, e))?;
            let name = entry.file_name();
            let Some(base) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let path = entry.path();
            let bytes = entry
                .metadata()
                .map_err(|e| io_err(topic, "reading", &path, e))?
                .len();
            segments.push(Segment { base, path, bytes });
        }
        segments.sort_by_key(|s| s.base);
        if segments.is_empty() {
            let path = segment_path(dir, 0);
            segments.push(Segment {
                base: 0,
                path,
                bytes: 0,
            });
        }
        let last = segments.len() - 1;
        let (end, valid) = scan_tail(topic, &segments[last])?;
        let tail = &mut segments[last];
        let active = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&tail.path)
            .map_err(|e| io_err(topic, "opening", &tail.path, e))?;
        if valid < tail.bytes {
            tracing::warn!(
                topic,
                segment = %tail.path.display(),
                kept_bytes = valid,
                dropped_bytes = tail.bytes - valid,
                next_offset = end,
                "topic segment has a torn or corrupt tail; truncated it (those records were never acknowledged)"
            );
            active
                .set_len(valid)
                .and_then(|()| active.sync_all())
                .map_err(|e| io_err(topic, "truncating", &tail.path, e))?;
            tail.bytes = valid;
        }
        sync_dir(topic, dir)?;
        Ok(Self {
            topic: topic.to_string(),
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(1),
            segments,
            active,
            end,
            _lock: lock,
        })
    }

    /// Offset of the next record appended.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Offset of the oldest record kept.
    pub(crate) fn start(&self) -> u64 {
        self.segments.first().map_or(self.end, |s| s.base)
    }

    /// Bytes kept on disk.
    pub(crate) fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Append already-serialized records and fsync them; returns the offset after them.
    pub(crate) fn append(&mut self, payloads: &[Vec<u8>]) -> Result<u64> {
        if payloads.is_empty() {
            return Ok(self.end);
        }
        if self
            .segments
            .last()
            .is_some_and(|s| s.bytes >= self.segment_bytes)
        {
            self.roll()?;
        }
        let size: usize = payloads.iter().map(|p| p.len() + HEADER).sum();
        let mut buf = Vec::with_capacity(size);
        let mut offset = self.end;
        for payload in payloads {
            let len = u32::try_from(payload.len())
                .ok()
                .filter(|l| *l < MAX_FRAME)
                .ok_or_else(|| {
                    ConnectorError::data(format!(
                        "topic `{}`: a record of {} bytes is too large to store",
                        self.topic,
                        payload.len()
                    ))
                })?;
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&checksum(offset, payload).to_le_bytes());
            buf.extend_from_slice(&offset.to_le_bytes());
            buf.extend_from_slice(payload);
            offset += 1;
        }
        let Some(seg) = self.segments.last_mut() else {
            return Err(ConnectorError::fatal(format!(
                "topic `{}`: no active segment",
                self.topic
            )));
        };
        self.active
            .write_all(&buf)
            .and_then(|()| self.active.sync_data())
            .map_err(|e| io_err(&self.topic, "writing", &seg.path, e).with_retryable(true))?;
        seg.bytes += buf.len() as u64;
        self.end = offset;
        Ok(offset)
    }

    fn roll(&mut self) -> Result<()> {
        let path = segment_path(&self.dir, self.end);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err(&self.topic, "creating", &path, e))?;
        sync_dir(&self.topic, &self.dir)?;
        self.active = file;
        self.segments.push(Segment {
            base: self.end,
            path,
            bytes: 0,
        });
        Ok(())
    }

    /// Delete sealed segments that every reader has passed (`passed` is the
    /// lowest committed offset) while the topic is over `max_bytes` or a
    /// segment is older than `max_age`. Returns the number deleted.
    pub(crate) fn retain(
        &mut self,
        passed: u64,
        max_bytes: u64,
        max_age: std::time::Duration,
    ) -> Result<usize> {
        let mut deleted = 0;
        while self.segments.len() > 1 {
            let next_base = self.segments[1].base;
            if next_base > passed {
                break; // somebody still needs a record of the oldest segment
            }
            let oldest = &self.segments[0];
            let too_big = self.bytes() > max_bytes;
            let too_old = fs::metadata(&oldest.path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > max_age);
            if !too_big && !too_old {
                break;
            }
            fs::remove_file(&oldest.path)
                .map_err(|e| io_err(&self.topic, "deleting", &oldest.path, e))?;
            tracing::info!(topic = %self.topic, segment = %oldest.path.display(), "deleted a topic segment every consumer group has passed");
            self.segments.remove(0);
            deleted += 1;
        }
        Ok(deleted)
    }

    /// A reader from `offset` (which must be kept: `start() <= offset <= end()`).
    pub(crate) fn reader(&self, offset: u64) -> Result<SegmentReader> {
        if offset < self.start() || offset > self.end {
            return Err(ConnectorError::fatal(format!(
                "topic `{}`: offset {offset} is not stored (kept: {}..{})",
                self.topic,
                self.start(),
                self.end
            )));
        }
        let idx = self
            .segments
            .iter()
            .rposition(|s| s.base <= offset)
            .unwrap_or(0);
        let mut reader = SegmentReader::open(&self.topic, &self.segments[idx])?;
        while reader.next_offset < offset {
            if reader.next_frame()?.is_none() {
                break;
            }
        }
        Ok(reader)
    }

    /// The segments after the one based at `base`, for a reader moving on.
    pub(crate) fn next_segment(&self, base: u64) -> Option<(u64, PathBuf)> {
        self.segments
            .iter()
            .find(|s| s.base > base)
            .map(|s| (s.base, s.path.clone()))
    }
}

fn sync_dir(topic: &str, dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(topic, "syncing directory", dir, e))
}

fn checksum(offset: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&offset.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Scan the last segment: the offset after its last good frame and the byte
/// length of its good prefix.
fn scan_tail(topic: &str, seg: &Segment) -> Result<(u64, u64)> {
    let file = match File::open(&seg.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((seg.base, 0)),
        Err(e) => return Err(io_err(topic, "opening", &seg.path, e)),
    };
    let mut r = BufReader::new(file);
    let mut expected = seg.base;
    let mut valid = 0u64;
    loop {
        match read_frame(&mut r) {
            Ok(Some((offset, payload))) if offset == expected => {
                expected += 1;
                valid += (HEADER + payload.len()) as u64;
            }
            Ok(_) | Err(_) => break,
        }
    }
    Ok((expected, valid))
}

/// Why a frame could not be read.
enum FrameError {
    /// Cut short, bad length or bad checksum.
    Corrupt(&'static str),
    Io(std::io::Error),
}

/// One frame: `Ok(None)` at a clean end of file.
fn read_frame(r: &mut impl Read) -> std::result::Result<Option<(u64, Vec<u8>)>, FrameError> {
    let mut header = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Corrupt("a frame header cut short")),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let [l0, l1, l2, l3, c0, c1, c2, c3, o @ ..] = header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]);
    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
    let offset = u64::from_le_bytes(o);
    if len >= MAX_FRAME {
        return Err(FrameError::Corrupt("an impossible frame length"));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Corrupt("a record cut short"),
        _ => FrameError::Io(e),
    })?;
    if checksum(offset, &payload) != crc {
        return Err(FrameError::Corrupt("a checksum mismatch"));
    }
    Ok(Some((offset, payload)))
}

/// Sequential reader of one segment.
pub(crate) struct SegmentReader {
    topic: String,
    base: u64,
    path: PathBuf,
    file: BufReader<File>,
    pub(crate) next_offset: u64,
}

impl SegmentReader {
    fn open(topic: &str, seg: &Segment) -> Result<Self> {
        Self::open_path(topic, seg.base, &seg.path)
    }

    pub(crate) fn open_path(topic: &str, base: u64, path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| io_err(topic, "opening", path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io_err(topic, "reading", path, e))?;
        Ok(Self {
            topic: topic.to_string(),
            base,
            path: path.to_path_buf(),
            file: BufReader::with_capacity(256 * 1024, file),
            next_offset: base,
        })
    }

    /// The base offset of the segment being read.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// The next record's payload, `None` at the end of what is written so far.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
        match read_frame(&mut self.file) {
            Ok(Some((offset, payload))) if offset == self.next_offset => {
                self.next_offset += 1;
                Ok(Some(payload))
            }
            Ok(Some((offset, _))) => Err(self.corrupt(&format!(
                "record {offset} where {} was expected",
                self.next_offset
            ))),
            Ok(None) => Ok(None),
            Err(FrameError::Corrupt(what)) => Err(self.corrupt(what)),
            Err(FrameError::Io(e)) => Err(io_err(&self.topic, "reading", &self.path, e)),
        }
    }

    /// The next record, decoded.
    pub(crate) fn next_event(&mut self) -> Result<Option<SourceEvent>> {
        let offset = self.next_offset;
        let Some(payload) = self.next_frame()? else {
            return Ok(None);
        };
        serde_json::from_slice(&payload).map(Some).map_err(|e| {
            ConnectorError::fatal(format!(
                "topic `{}`: record {offset} in {} does not decode: {e}",
                self.topic,
                self.path.display()
            ))
        })
    }

    fn corrupt(&self, what: &str) -> ConnectorError {
        ConnectorError::fatal(format!(
            "topic `{}`: {what} at record {} of segment {}; the topic is damaged (not skipped)",
            self.topic,
            self.next_offset,
            self.path.display()
        ))
    }
}

/// Nesting depth of serialized JSON (brackets outside strings).
pub(crate) fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}
