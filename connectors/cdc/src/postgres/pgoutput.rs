//! Decoder for the `pgoutput` logical replication protocol, version 1.
//!
//! Each `XLogData` payload of a logical replication stream that uses the
//! `pgoutput` plugin holds exactly one message, whose first byte names its
//! type (PostgreSQL docs, "Logical Replication Message Formats"):
//!
//! | byte | message    | body                                                          |
//! |------|------------|---------------------------------------------------------------|
//! | `B`  | Begin      | final LSN, commit timestamp, xid                              |
//! | `C`  | Commit     | flags, commit LSN, end LSN, commit timestamp                  |
//! | `O`  | Origin     | commit LSN, origin name                                       |
//! | `R`  | Relation   | id, namespace, name, replica identity, columns                |
//! | `Y`  | Type       | oid, namespace, name                                          |
//! | `I`  | Insert     | relation id, `N` + new tuple                                  |
//! | `U`  | Update     | relation id, optional `K`/`O` + old tuple, `N` + new tuple    |
//! | `D`  | Delete     | relation id, `K`/`O` + old tuple                              |
//! | `T`  | Truncate   | relation count, option flags, relation ids                    |
//! | `M`  | Message    | flags, LSN, prefix, content (from `pg_logical_emit_message`)  |
//!
//! Integers are big-endian, strings are NUL-terminated UTF-8. Timestamps are
//! kept as the server sends them: microseconds since 2000-01-01 00:00:00 UTC.
//!
//! [`decode`] never panics: every read is bounds-checked, and a short,
//! malformed or over-long message is a [`DecodeError`] that names the message
//! type, the byte offset and what was wrong.

use std::fmt;

use bytes::Bytes;

/// One decoded `pgoutput` message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PgOutputMessage {
    /// Start of a transaction (`B`).
    Begin {
        /// LSN of the transaction's commit record.
        final_lsn: u64,
        /// Commit time, microseconds since 2000-01-01 UTC.
        commit_ts_micros: i64,
        /// Transaction id.
        xid: u32,
    },
    /// End of a transaction (`C`).
    Commit {
        /// Flags (currently unused by the server, always 0).
        flags: u8,
        /// LSN of the commit record.
        commit_lsn: u64,
        /// LSN just past the commit record.
        end_lsn: u64,
        /// Commit time, microseconds since 2000-01-01 UTC.
        commit_ts_micros: i64,
    },
    /// Replication origin of the current transaction (`O`).
    Origin {
        /// LSN of the commit on the origin server.
        commit_lsn: u64,
        /// Origin name.
        name: String,
    },
    /// Table description, sent before the first change to it (`R`).
    Relation(Relation),
    /// Description of a non-builtin type used by a relation (`Y`).
    Type {
        /// Type OID.
        oid: u32,
        /// Schema of the type (empty for `pg_catalog`).
        namespace: String,
        /// Type name.
        name: String,
    },
    /// A new row (`I`).
    Insert {
        /// Relation id, as announced by a [`PgOutputMessage::Relation`].
        relation_id: u32,
        /// The new row.
        new: Vec<TupleValue>,
    },
    /// A changed row (`U`).
    ///
    /// `old` is Some when the server sent a 'K' (key columns only,
    /// `old_is_key = true`) or 'O' (full old row, REPLICA IDENTITY FULL) tuple.
    Update {
        /// Relation id.
        relation_id: u32,
        /// The old row or its key, when the server sent one.
        old: Option<Vec<TupleValue>>,
        /// Whether `old` holds only the replica identity key columns.
        old_is_key: bool,
        /// The new row.
        new: Vec<TupleValue>,
    },
    /// A deleted row (`D`).
    Delete {
        /// Relation id.
        relation_id: u32,
        /// The old row (REPLICA IDENTITY FULL) or its key columns.
        old: Vec<TupleValue>,
        /// Whether `old` holds only the replica identity key columns.
        old_is_key: bool,
    },
    /// One `TRUNCATE` of one or more tables (`T`).
    Truncate {
        /// The truncated relations.
        relation_ids: Vec<u32>,
        /// `TRUNCATE ... CASCADE`.
        cascade: bool,
        /// `TRUNCATE ... RESTART IDENTITY`.
        restart_identity: bool,
    },
    /// logical decoding message ('M'), from pg_logical_emit_message
    Message {
        /// Whether the message was emitted inside a transaction.
        transactional: bool,
        /// LSN of the message.
        lsn: u64,
        /// The prefix given to `pg_logical_emit_message`.
        prefix: String,
        /// The message content.
        content: Bytes,
    },
}

/// A table as described by a `Relation` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    /// Relation id (the table's OID), referenced by row messages.
    pub id: u32,
    /// Schema name (empty for `pg_catalog`).
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// `REPLICA IDENTITY` setting: `d` default, `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    /// The columns, in tuple order.
    pub columns: Vec<RelationColumn>,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelationColumn {
    /// Whether the column is part of the replica identity key (flags & 1).
    pub is_key: bool,
    /// Column name.
    pub name: String,
    /// OID of the column's type.
    pub type_oid: u32,
    /// Type modifier (`atttypmod`), -1 when none.
    pub type_modifier: i32,
}

/// One column value of a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TupleValue {
    /// SQL NULL (`n`).
    Null,
    /// A TOASTed value that did not change and was not sent (`u`).
    UnchangedToast,
    /// A value in text format (`t`).
    Text(String),
    /// A value in binary format (`b`).
    Binary(Bytes),
}

/// A `pgoutput` message that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {} at byte {offset}: {problem}", .problem.headline(), message_name(*.message_type))]
pub(crate) struct DecodeError {
    /// The message type byte, None for an empty buffer.
    message_type: Option<u8>,
    /// Offset in the message where the problem was found.
    offset: usize,
    /// What was wrong.
    problem: Problem,
}

impl DecodeError {
    /// The message type byte, None for an empty buffer.
    #[cfg(test)]
    pub(crate) fn message_type(&self) -> Option<u8> {
        self.message_type
    }

    /// Offset in the message where the problem was found.
    #[cfg(test)]
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    Empty,
    UnknownType,
    Truncated { needed: usize },
    Invalid(String),
    TrailingBytes(usize),
}

impl Problem {
    fn headline(&self) -> &'static str {
        match self {
            Problem::Empty | Problem::Truncated { .. } => "truncated",
            Problem::UnknownType => "unknown",
            Problem::Invalid(_) | Problem::TrailingBytes(_) => "invalid",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("empty buffer, expected a message type byte"),
            Problem::UnknownType => f.write_str("not a pgoutput protocol version 1 message type"),
            Problem::Truncated { needed: 1 } => f.write_str("expected 1 more byte"),
            Problem::Truncated { needed } => write!(f, "expected {needed} more bytes"),
            Problem::Invalid(what) => f.write_str(what),
            Problem::TrailingBytes(n) => write!(f, "{n} unexpected trailing bytes"),
        }
    }
}

fn message_name(message_type: Option<u8>) -> String {
    let name = match message_type {
        None => return "message".to_owned(),
        Some(b'B') => "Begin",
        Some(b'C') => "Commit",
        Some(b'O') => "Origin",
        Some(b'R') => "Relation",
        Some(b'Y') => "Type",
        Some(b'I') => "Insert",
        Some(b'U') => "Update",
        Some(b'D') => "Delete",
        Some(b'T') => "Truncate",
        Some(b'M') => "Message",
        Some(other) if other.is_ascii_graphic() => {
            return format!("message type '{}' (0x{other:02x})", char::from(other))
        }
        Some(other) => return format!("message type 0x{other:02x}"),
    };
    name.to_owned()
}

/// Decodes one `pgoutput` (protocol version 1) message.
pub(crate) fn decode(buf: &[u8]) -> Result<PgOutputMessage, DecodeError> {
    let Some(&message_type) = buf.first() else {
        return Err(DecodeError {
            message_type: None,
            offset: 0,
            problem: Problem::Empty,
        });
    };
    let mut cur = Cursor {
        buf,
        pos: 1,
        message_type,
    };
    let message = match message_type {
        b'B' => PgOutputMessage::Begin {
            final_lsn: cur.u64()?,
            commit_ts_micros: cur.i64()?,
            xid: cur.u32()?,
        },
        b'C' => PgOutputMessage::Commit {
            flags: cur.u8()?,
            commit_lsn: cur.u64()?,
            end_lsn: cur.u64()?,
            commit_ts_micros: cur.i64()?,
        },
        b'O' => PgOutputMessage::Origin {
            commit_lsn: cur.u64()?,
            name: cur.cstr("origin name")?,
        },
        b'R' => PgOutputMessage::Relation(decode_relation(&mut cur)?),
        b'Y' => PgOutputMessage::Type {
            oid: cur.u32()?,
            namespace: cur.cstr("type namespace")?,
            name: cur.cstr("type name")?,
        },
        b'I' => {
            let relation_id = cur.u32()?;
            cur.expect_tag(b"N")?;
            PgOutputMessage::Insert {
                relation_id,
                new: decode_tuple(&mut cur)?,
            }
        }
        b'U' => decode_update(&mut cur)?,
        b'D' => {
            let relation_id = cur.u32()?;
            let tag = cur.expect_tag(b"KO")?;
            PgOutputMessage::Delete {
                relation_id,
                old: decode_tuple(&mut cur)?,
                old_is_key: tag == b'K',
            }
        }
        b'T' => decode_truncate(&mut cur)?,
        b'M' => {
            let flags = cur.u8()?;
            let lsn = cur.u64()?;
            let prefix = cur.cstr("message prefix")?;
            let len = cur.length("message content")?;
            PgOutputMessage::Message {
                transactional: flags & 1 != 0,
                lsn,
                prefix,
                content: Bytes::copy_from_slice(cur.take(len)?),
            }
        }
        _ => return Err(cur.error_at(0, Problem::UnknownType)),
    };
    let trailing = buf.len().saturating_sub(cur.pos);
    if trailing > 0 {
        return Err(cur.error(Problem::TrailingBytes(trailing)));
    }
    Ok(message)
}

fn decode_relation(cur: &mut Cursor<'_>) -> Result<Relation, DecodeError> {
    let id = cur.u32()?;
    let namespace = cur.cstr("relation namespace")?;
    let name = cur.cstr("relation name")?;
    let replica_identity = cur.u8()?;
    let count = cur.count("column count")?;
    let mut columns = Vec::with_capacity(count);
    for _ in 0..count {
        let flags = cur.u8()?;
        columns.push(RelationColumn {
            is_key: flags & 1 != 0,
            name: cur.cstr("column name")?,
            type_oid: cur.u32()?,
            type_modifier: cur.i32()?,
        });
    }
    Ok(Relation {
        id,
        namespace,
        name,
        replica_identity,
        columns,
    })
}

fn decode_update(cur: &mut Cursor<'_>) -> Result<PgOutputMessage, DecodeError> {
    let relation_id = cur.u32()?;
    let (old, old_is_key) = match cur.expect_tag(b"KON")? {
        b'N' => (None, false),
        tag => {
            let old = decode_tuple(cur)?;
            cur.expect_tag(b"N")?;
            (Some(old), tag == b'K')
        }
    };
    Ok(PgOutputMessage::Update {
        relation_id,
        old,
        old_is_key,
        new: decode_tuple(cur)?,
    })
}

fn decode_truncate(cur: &mut Cursor<'_>) -> Result<PgOutputMessage, DecodeError> {
    let count_at = cur.pos;
    let count = cur.i32()?;
    let count = usize::try_from(count).map_err(|_| {
        cur.error_at(
            count_at,
            Problem::Invalid(format!("negative relation count {count}")),
        )
    })?;
    let options = cur.u8()?;
    // Bound the allocation by what the buffer can hold, not by the count.
    let mut relation_ids = Vec::with_capacity(count.min(cur.remaining() / 4));
    for _ in 0..count {
        relation_ids.push(cur.u32()?);
    }
    Ok(PgOutputMessage::Truncate {
        relation_ids,
        cascade: options & 1 != 0,
        restart_identity: options & 2 != 0,
    })
}

fn decode_tuple(cur: &mut Cursor<'_>) -> Result<Vec<TupleValue>, DecodeError> {
    let count = cur.count("tuple column count")?;
    let mut values = Vec::with_capacity(count);
    for column in 0..count {
        let kind_at = cur.pos;
        let value = match cur.u8()? {
            b'n' => TupleValue::Null,
            b'u' => TupleValue::UnchangedToast,
            b't' => {
                let len = cur.length("text value")?;
                let at = cur.pos;
                let bytes = cur.take(len)?;
                let text = std::str::from_utf8(bytes).map_err(|e| {
                    cur.error_at(
                        at + e.valid_up_to(),
                        Problem::Invalid(format!("column {column}: text value is not valid UTF-8")),
                    )
                })?;
                TupleValue::Text(text.to_owned())
            }
            b'b' => {
                let len = cur.length("binary value")?;
                TupleValue::Binary(Bytes::copy_from_slice(cur.take(len)?))
            }
            other => {
                return Err(cur.error_at(
                    kind_at,
                    Problem::Invalid(format!(
                        "column {column}: unknown tuple value kind {}",
                        describe_byte(other)
                    )),
                ))
            }
        };
        values.push(value);
    }
    Ok(values)
}

fn describe_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}' (0x{byte:02x})", char::from(byte))
    } else {
        format!("0x{byte:02x}")
    }
}

/// Bounds-checked big-endian reader over one message.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    message_type: u8,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn error_at(&self, offset: usize, problem: Problem) -> DecodeError {
        DecodeError {
            message_type: Some(self.message_type),
            offset,
            problem,
        }
    }

    fn error(&self, problem: Problem) -> DecodeError {
        self.error_at(self.pos, problem)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match rest.get(..n) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => Err(self.error(Problem::Truncated {
                needed: n - rest.len(),
            })),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let at = self.pos;
        let bytes = self.take(N)?;
        // `take` returned exactly N bytes, so this conversion cannot fail.
        <[u8; N]>::try_from(bytes).map_err(|_| self.error_at(at, Problem::Truncated { needed: N }))
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        let [byte] = self.array()?;
        Ok(byte)
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// An Int16 count that must not be negative.
    fn count(&mut self, what: &str) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.i16()?;
        usize::try_from(n)
            .map_err(|_| self.error_at(at, Problem::Invalid(format!("negative {what} {n}"))))
    }

    /// An Int32 byte length that must not be negative.
    fn length(&mut self, what: &str) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.i32()?;
        usize::try_from(n)
            .map_err(|_| self.error_at(at, Problem::Invalid(format!("negative {what} length {n}"))))
    }

    /// A tag byte that must be one of `allowed`.
    fn expect_tag(&mut self, allowed: &[u8]) -> Result<u8, DecodeError> {
        let at = self.pos;
        let tag = self.u8()?;
        if allowed.contains(&tag) {
            return Ok(tag);
        }
        let expected: Vec<String> = allowed
            .iter()
            .map(|b| format!("'{}'", char::from(*b)))
            .collect();
        Err(self.error_at(
            at,
            Problem::Invalid(format!(
                "expected tuple tag {}, found {}",
                expected.join(" or "),
                describe_byte(tag)
            )),
        ))
    }

    /// A NUL-terminated UTF-8 string.
    fn cstr(&mut self, what: &str) -> Result<String, DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let Some(len) = rest.iter().position(|&b| b == 0) else {
            // At least the terminator is missing.
            self.pos = self.buf.len();
            return Err(self.error(Problem::Truncated { needed: 1 }));
        };
        let at = self.pos;
        let bytes = self.take(len)?;
        self.pos += 1; // the NUL terminator, found above
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| {
            self.error_at(
                at + e.valid_up_to(),
                Problem::Invalid(format!("{what} is not valid UTF-8")),
            )
        })
    }
}

#[cfg(test)]
mod tests;
