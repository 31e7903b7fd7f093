//! Records that span lines: in a format with a quote byte (CSV), a newline
//! inside a quoted field does not end the record. Quotes inside a field are
//! doubled, so a record ends at the first newline after an even number of
//! quote bytes. A record on one line (the usual case) is not copied.

/// What a line came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The line is a whole record by itself (not copied).
    Single,
    /// The record goes on in the next line.
    Open,
    /// A record of several lines ended: see [`Records::joined`].
    Joined,
}

/// Joins lines into records.
#[derive(Debug)]
pub(super) struct Records {
    quote: u8,
    max: usize,
    /// The record so far, when it spans lines.
    buf: Vec<u8>,
    consumed: u64,
    lines: u64,
    /// Inside a quoted field at the end of the last line.
    open: bool,
    too_long: bool,
    /// The last call returned a record: start afresh on the next one.
    done: bool,
}

impl Records {
    pub(super) fn new(quote: u8, max: usize) -> Self {
        Self {
            quote,
            max,
            buf: Vec::new(),
            consumed: 0,
            lines: 0,
            open: false,
            too_long: false,
            done: false,
        }
    }

    fn reset_if_done(&mut self) {
        if self.done {
            self.buf.clear();
            self.consumed = 0;
            self.lines = 0;
            self.open = false;
            self.too_long = false;
            self.done = false;
        }
    }

    /// Whether a record has started and not ended.
    pub(super) fn in_record(&self) -> bool {
        !self.done && self.lines > 0
    }

    /// One complete line (without its `\n`), `consumed` bytes with it.
    pub(super) fn push(&mut self, line: &[u8], consumed: u64) -> Step {
        self.reset_if_done();
        let odd = memchr::memchr_iter(self.quote, line).count() % 2 == 1;
        if self.lines == 0 && !odd {
            return Step::Single;
        }
        if !self.too_long {
            let joined = self.buf.len() + usize::from(self.lines > 0) + line.len();
            if joined > self.max {
                self.too_long = true;
                self.buf = Vec::new();
            } else {
                if self.lines > 0 {
                    self.buf.push(b'\n');
                }
                self.buf.extend_from_slice(line);
            }
        }
        self.consumed += consumed;
        self.lines += 1;
        self.open ^= odd;
        if self.open {
            Step::Open
        } else {
            self.end()
        }
    }

    /// A line too long to keep, inside a record: its quotes are unknown, so
    /// it ends the record, which is then too long.
    pub(super) fn push_too_long(&mut self, consumed: u64) -> Step {
        self.reset_if_done();
        self.consumed += consumed;
        self.lines += 1;
        self.too_long = true;
        self.end()
    }

    /// Ends the record where it is (the last line of a complete file).
    pub(super) fn end(&mut self) -> Step {
        self.done = true;
        Step::Joined
    }

    /// The record that ended last: its bytes (`None` when it was too long to
    /// keep), the bytes consumed with every `\n`, and the lines it spans.
    pub(super) fn joined(&self) -> (Option<&[u8]>, u64, u64) {
        let bytes = (!self.too_long).then_some(self.buf.as_slice());
        (bytes, self.consumed, self.lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newline_inside_quotes_continues_the_record() {
        let mut r = Records::new(b'"', 64);
        assert_eq!(r.push(b"1,plain", 8), Step::Single);
        assert_eq!(r.push(b"2,\"two", 7), Step::Open);
        assert!(r.in_record());
        assert_eq!(r.push(b"lines \"\"quoted\"\"", 18), Step::Open);
        assert_eq!(r.push(b"end\",x", 7), Step::Joined);
        assert_eq!(
            r.joined(),
            (Some(&b"2,\"two\nlines \"\"quoted\"\"\nend\",x"[..]), 32, 3)
        );
        assert!(!r.in_record());
        assert_eq!(r.push(b"3,\"a\"\"b\"", 10), Step::Single);
    }

    #[test]
    fn a_record_past_the_limit_is_too_long_but_framing_goes_on() {
        let mut r = Records::new(b'\'', 8);
        assert_eq!(r.push(b"'abcdef", 8), Step::Open);
        assert_eq!(r.push(b"ghij'", 6), Step::Joined);
        assert_eq!(r.joined(), (None, 14, 2));
        assert_eq!(r.push(b"ok", 3), Step::Single);
        assert_eq!(r.push(b"'x", 3), Step::Open);
        assert_eq!(r.push_too_long(100), Step::Joined);
        assert_eq!(r.joined(), (None, 103, 2));
    }
}
