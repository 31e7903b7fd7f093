//! A line reader with a bounded buffer, for the `file` source.
//!
//! A line is kept in memory only up to `max_line_bytes`; past that the rest of
//! the line is read in `buffer_size` chunks and discarded until its newline, so
//! one huge line costs at most `max_line_bytes` plus one read buffer.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

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
#[derive(Debug)]
pub(super) struct LineReader<R> {
    inner: R,
    max: usize,
    /// The current line, reused from line to line.
    buf: Vec<u8>,
    /// The largest capacity the line buffer ever reached (for tests and metrics).
    peak_buffered: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub(super) fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            buf: Vec::new(),
            peak_buffered: 0,
        }
    }

    /// The bytes of the line [`LineReader::next_line`] returned last (empty for
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
    pub(super) async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        /// A buffer grown by a long line is not kept for the short ones after it.
        const KEEP: usize = 1024 * 1024;
        if self.buf.capacity() > KEEP {
            self.buf = Vec::new();
        }
        self.buf.clear();
        let mut consumed = 0u64;
        let mut too_long = false;
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                return Ok(match (consumed, too_long) {
                    (0, _) => None,
                    (_, true) => Some(Line::TooLong {
                        consumed,
                        terminated: false,
                    }),
                    (_, false) => Some(Line::Unterminated),
                });
            }
            let (take, found) = match memchr(chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > self.max {
                    too_long = true;
                    self.buf = Vec::new(); // release what was kept
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                    self.peak_buffered = self.peak_buffered.max(self.buf.capacity());
                }
            }
            let used = take + usize::from(found);
            self.inner.consume(used);
            consumed += used as u64;
            if found {
                return Ok(Some(if too_long {
                    Line::TooLong {
                        consumed,
                        terminated: true,
                    }
                } else {
                    Line::Complete { consumed }
                }));
            }
        }
    }
}

fn memchr(chunk: &[u8]) -> Option<usize> {
    chunk.iter().position(|b| *b == b'\n')
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
