//! The `file` source's event stream, written by hand.
//!
//! A generator (`async_stream`) moved each event through its yield slot and
//! resumed a state machine per line, which cost more than reading the line;
//! this stream returns each event straight from `poll_next`. It also reads the
//! clock once per [`CLOCK_BYTES`] of input rather than once per line: an
//! event's `timestamp` is when its bytes were read.

use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use futures::Stream;
use serde_json::{Map, Value};
use tokio::fs::File;
use tokio::io::BufReader;

use super::records::{Records, Step};
use super::{parse_line, too_long, At, FileSourceConfig};
use crate::builtin::file::lines::{Line, LineReader};
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::format::RecordReader;
use crate::state::State;

/// Input bytes between two clock reads (about one read buffer's worth of lines).
const CLOCK_BYTES: u64 = 64 * 1024;

/// What one line came to.
enum Outcome {
    /// A record.
    Event(Value),
    /// A blank line: nothing.
    Blank,
    /// A line that cannot be read (a `Data` error for `on_error`).
    Rejected(ConnectorError),
    /// The file cannot be read any further.
    Failed(ConnectorError),
}

/// Lines of one file as events, from `offset` on.
pub(super) struct FileEvents {
    lines: LineReader<BufReader<File>>,
    config: FileSourceConfig,
    stream_name: String,
    /// The byte just after the last line read.
    offset: u64,
    /// The number of the last line read (1-based).
    line_no: u64,
    /// When the bytes being read now were read, and the offset at which to
    /// read the clock again.
    now: DateTime<Utc>,
    clock_at: u64,
    /// The state event due after a rejected line.
    queued: Option<SourceEvent>,
    done: bool,
    /// The registered format's reader (`None`: `jsonl` and `text`).
    reader: Option<Box<dyn RecordReader>>,
    /// Joins lines into records when the format quotes newlines (CSV).
    records: Option<Records>,
}

impl std::fmt::Debug for FileEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileEvents")
            .field("path", &self.config.path)
            .field("offset", &self.offset)
            .field("line_no", &self.line_no)
            .finish_non_exhaustive()
    }
}

impl FileEvents {
    pub(super) fn new(
        file: File,
        config: FileSourceConfig,
        stream_name: String,
        offset: u64,
        line_no: u64,
        reader: Option<Box<dyn RecordReader>>,
    ) -> Self {
        let records = reader
            .as_ref()
            .and_then(|r| r.quote())
            .map(|q| Records::new(q, config.max_line_bytes));
        let buffered = BufReader::with_capacity(config.buffer_size, file);
        Self {
            lines: LineReader::new(buffered, config.max_line_bytes),
            config,
            stream_name,
            offset,
            line_no,
            now: Utc::now(),
            clock_at: offset + CLOCK_BYTES,
            queued: None,
            done: false,
            reader,
            records,
        }
    }

    /// The stream state after the last line read.
    fn position(&self) -> Map<String, Value> {
        let mut update = Map::new();
        update.insert("offset".to_string(), Value::from(self.offset));
        update.insert("line".to_string(), Value::from(self.line_no));
        update
    }

    /// The next record's outcome, or the end (`None`, also at an unfinished last record).
    fn next_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outcome>> {
        loop {
            let line = match self.lines.poll_next_line(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(Some(line))) => line,
                Poll::Ready(Ok(None)) => return Poll::Ready(None),
                Poll::Ready(Err(e)) => {
                    let context = format!("reading {}", self.config.path.display());
                    return Poll::Ready(Some(Outcome::Failed(
                        ConnectorError::from(e).context(context),
                    )));
                }
            };
            let config = &self.config;
            let at = At {
                config,
                line_no: self.line_no + 1,
                offset: self.offset,
            };
            let reader = self.reader.as_deref_mut();
            let unterminated_ok = config.read_unterminated_last_line;
            // Where the record is: the line itself, or joined lines.
            let step = match (&line, self.records.as_mut()) {
                (_, None) => Step::Single,
                (Line::Complete { consumed }, Some(records)) => {
                    records.push(self.lines.bytes(), *consumed)
                }
                (Line::Unterminated, Some(records)) if unterminated_ok => {
                    let consumed = self.lines.bytes().len() as u64;
                    match records.push(self.lines.bytes(), consumed) {
                        Step::Open => records.end(),
                        step => step,
                    }
                }
                (
                    Line::TooLong {
                        consumed,
                        terminated,
                    },
                    Some(records),
                ) if records.in_record() && (*terminated || unterminated_ok) => {
                    records.push_too_long(*consumed)
                }
                (_, Some(_)) => Step::Single,
            };
            let (outcome, consumed, lines) = match (step, line) {
                // A quoted newline: the record goes on.
                (Step::Open, _) => continue,
                (Step::Joined, line) => {
                    let terminated = !matches!(
                        line,
                        Line::Unterminated
                            | Line::TooLong {
                                terminated: false,
                                ..
                            }
                    );
                    let Some(records) = self.records.as_ref() else {
                        return Poll::Ready(None);
                    };
                    match records.joined() {
                        (Some(bytes), consumed, lines) => {
                            (parse_line(config, reader, bytes, &at), consumed, lines)
                        }
                        (None, consumed, lines) => {
                            (Err(too_long(&at, consumed, terminated)), consumed, lines)
                        }
                    }
                }
                (Step::Single, Line::Complete { consumed }) => (
                    parse_line(config, reader, self.lines.bytes(), &at),
                    consumed,
                    1,
                ),
                (Step::Single, Line::Unterminated) if unterminated_ok => {
                    let consumed = self.lines.bytes().len() as u64;
                    (
                        parse_line(config, reader, self.lines.bytes(), &at),
                        consumed,
                        1,
                    )
                }
                // Maybe still being written: left for the next run.
                (Step::Single, Line::Unterminated) => return Poll::Ready(None),
                (
                    Step::Single,
                    Line::TooLong {
                        terminated: false, ..
                    },
                ) if !unterminated_ok => return Poll::Ready(None),
                (
                    Step::Single,
                    Line::TooLong {
                        consumed,
                        terminated,
                    },
                ) => (Err(too_long(&at, consumed, terminated)), consumed, 1),
            };
            self.offset += consumed;
            self.line_no += lines;
            return Poll::Ready(Some(match outcome {
                Ok(Some(data)) => Outcome::Event(data),
                Ok(None) => Outcome::Blank,
                Err(e) => Outcome::Rejected(e),
            }));
        }
    }
}

impl Stream for FileEvents {
    type Item = Result<SourceEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.queued.take() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let outcome = match this.next_outcome(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(outcome)) => outcome,
            };
            if this.offset >= this.clock_at {
                this.now = Utc::now();
                this.clock_at = this.offset + CLOCK_BYTES;
            }
            match outcome {
                Outcome::Event(data) => {
                    let mut event =
                        SourceEvent::record_at(this.stream_name.clone(), data, this.now)
                            .with_position(this.offset);
                    event.metadata.state = Some(this.position());
                    return Poll::Ready(Some(Ok(event)));
                }
                Outcome::Blank => {}
                Outcome::Failed(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Outcome::Rejected(e) => {
                    // Past the rejected line once `on_error` has disposed of it.
                    let mut state = State::new();
                    state.merge_stream_update(&this.stream_name, this.position());
                    this.queued = Some(SourceEvent::state(state));
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}
