//! A line reader with a bounded buffer, for the `file` source.
//!
//! A line is kept in memory only up to `max_line_bytes`; past that the rest of
//! the line is read in `buffer_size` chunks and discarded until its newline, so
//! one huge line costs at most `max_line_bytes` plus one read buffer.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncBufRead;

/// One line as the reader found it; its bytes are [`LineReader::bytes`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// A line ended by `\n` (its bytes exclude the `\n`; a `\r` before it is kept).
    Complete {
        /// Bytes consumed, including the `\n`.
        consumed: u64,
    },
    /// Bytes after the last `\n` at the end of the file (a line maybe still being written).
    Unterminated,
    /// A line longer than the limit; it was skipped without being kept.
    TooLong {
        /// Bytes consumed, including the `\n` when there was one.
        consumed: u64,
        /// Whether the line ended with `\n` (false: it ran to the end of the file).
        terminated: bool,
    },
}

/// Reads lines of at most `max` bytes from `inner`.
///
/// Poll-based ([`LineReader::poll_next_line`]), so that a hand-written stream
/// can drive it without a generator: the line in progress (`buf`, `consumed`,
/// `too_long`) is kept here between polls.
#[derive(Debug)]
pub(super) struct LineReader<R> {
    inner: R,
    max: usize,
    /// The current line, reused from line to line.
    buf: Vec<u8>,
    /// Bytes of the current line consumed so far (including a skipped part).
    consumed: u64,
    /// Whether the current line passed `max` (its bytes are not kept).
    too_long: bool,
    /// Whether `buf` holds a finished line (cleared when the next one starts).
    finished: bool,
    /// The largest capacity the line buffer ever reached (for tests and metrics).
    peak_buffered: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub(super) fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            buf: Vec::new(),
            consumed: 0,
            too_long: false,
            finished: true,
            peak_buffered: 0,
        }
    }

    /// The bytes of the line [`LineReader::poll_next_line`] returned last (empty for
    /// [`Line::TooLong`]).
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The most bytes this reader has held for one line.
    #[cfg(test)]
    pub(super) fn peak_buffered(&self) -> usize {
        self.peak_buffered
    }

    /// The next line, or `None` at the end of the file.
    #[cfg(test)]
    pub(super) async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        std::future::poll_fn(|cx| self.poll_next_line(cx)).await
    }

    /// Poll for the next line; `Ready(None)` at the end of the file.
    pub(super) fn poll_next_line(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<Option<Line>>> {
        /// A buffer grown by a long line is not kept for the short ones after it.
        const KEEP: usize = 1024 * 1024;
        if self.finished {
            if self.buf.capacity() > KEEP {
                self.buf = Vec::new();
            }
            self.buf.clear();
            self.consumed = 0;
            self.too_long = false;
            self.finished = false;
        }
        loop {
            let mut inner = Pin::new(&mut self.inner);
            let chunk = match inner.as_mut().poll_fill_buf(cx) {
                Poll::Ready(Ok(chunk)) => chunk,
                Poll::Ready(Err(e)) => {
                    self.finished = true;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            };
            if chunk.is_empty() {
                self.finished = true;
                return Poll::Ready(Ok(match (self.consumed, self.too_long) {
                    (0, _) => None,
                    (consumed, true) => Some(Line::TooLong {
                        consumed,
                        terminated: false,
                    }),
                    (_, false) => Some(Line::Unterminated),
                }));
            }
            let (take, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !self.too_long {
                if self.buf.len() + take > self.max {
                    self.too_long = true;
                    self.buf = Vec::new(); // release what was kept
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                    self.peak_buffered = self.peak_buffered.max(self.buf.capacity());
                }
            }
            let used = take + usize::from(found);
            inner.consume(used);
            self.consumed += used as u64;
            if found {
                self.finished = true;
                let consumed = self.consumed;
                return Poll::Ready(Ok(Some(if self.too_long {
                    Line::TooLong {
                        consumed,
                        terminated: true,
                    }
                } else {
                    Line::Complete { consumed }
                })));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn lines(input: &[u8], max: usize, buffer: usize) -> Vec<(Line, Vec<u8>)> {
        let mut reader = LineReader::new(BufReader::with_capacity(buffer, input), max);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap_or_else(|e| panic!("{e}")) {
            out.push((line, reader.bytes().to_vec()));
        }
        out
    }

    /// Fails before the fix: there was no limit, every line was read whole.
    #[tokio::test]
    async fn a_line_at_the_limit_is_read_one_past_it_is_skipped() {
        let input = b"abcd\nabcde\nxy\nabcdefgh";
        let got = lines(input, 4, 2).await;
        assert_eq!(
            got,
            vec![
                (Line::Complete { consumed: 5 }, b"abcd".to_vec()),
                (
                    Line::TooLong {
                        consumed: 6,
                        terminated: true
                    },
                    Vec::new()
                ),
                (Line::Complete { consumed: 3 }, b"xy".to_vec()),
                (
                    Line::TooLong {
                        consumed: 8,
                        terminated: false
                    },
                    Vec::new()
                ),
            ]
        );
        assert_eq!(
            lines(b"ab\r\ncd", 8, 4096).await,
            vec![
                (Line::Complete { consumed: 4 }, b"ab\r".to_vec()),
                (Line::Unterminated, b"cd".to_vec()),
            ]
        );
    }
}
