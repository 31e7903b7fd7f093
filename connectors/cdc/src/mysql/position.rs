//! Where a change sits in the binary log: the committed [`BinlogPosition`]
//! and the MySQL coordinates of the shared envelope.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::common::envelope::SourceCoordinates;
use crate::common::resume::Position;

/// A position in the server's binary log: the end of a committed
/// transaction (streaming resumes there), with the transaction's GTID when
/// the server has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinlogPosition {
    /// Binlog file name, e.g. `binlog.000003`.
    pub file: String,
    /// Offset in the file.
    pub pos: u64,
    /// GTID of the transaction that ends here (MariaDB `domain-server-seq`,
    /// MySQL `uuid:n`), informational: resuming is by `file` and `pos`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
}

impl Position for BinlogPosition {
    const KEY: &'static str = "binlog";
}

impl BinlogPosition {
    /// A position without GTID.
    pub fn new(file: impl Into<String>, pos: u64) -> Self {
        Self {
            file: file.into(),
            pos,
            gtid: None,
        }
    }

    /// Whether `self` is past `other` (file names sort by their sequence number).
    pub fn is_after(&self, other: &BinlogPosition) -> bool {
        (self.file.len(), &self.file, self.pos) > (other.file.len(), &other.file, other.pos)
    }
}

/// One change's coordinates.
#[derive(Debug, Clone)]
pub(crate) struct At {
    pub file: String,
    /// Start of the rows event (the snapshot's point for `op = r`).
    pub pos: u64,
    /// The row's index in its rows event.
    pub row: usize,
    pub gtid: Option<String>,
    pub server_id: u32,
    /// Transaction start (`file:pos` of its BEGIN), the transaction id without GTID.
    pub tx_start: Option<u64>,
    /// Commit time (seconds since the epoch), `None`: now (the snapshot).
    pub ts: Option<u32>,
    pub snapshot: bool,
}

/// `source{…, file, pos, row, gtid, server_id, …}`; `position` =
/// `{file, pos, row}`.
impl SourceCoordinates for At {
    const CONNECTOR: &'static str = "mysql-cdc";

    fn source_fields(&self, source: &mut Map<String, Value>) {
        source.insert("file".into(), json!(self.file));
        source.insert("pos".into(), json!(self.pos));
        source.insert("row".into(), json!(self.row));
        source.insert("gtid".into(), json!(self.gtid));
        source.insert("server_id".into(), json!(self.server_id));
    }

    fn position(&self) -> Value {
        json!({"file": self.file, "pos": self.pos, "row": self.row})
    }

    fn transaction_id(&self) -> Option<String> {
        self.gtid
            .clone()
            .or_else(|| self.tx_start.map(|p| format!("{}:{p}", self.file)))
    }

    fn commit_time(&self) -> Option<DateTime<Utc>> {
        self.ts
            .and_then(|s| DateTime::from_timestamp(i64::from(s), 0))
    }

    fn is_snapshot(&self) -> bool {
        self.snapshot
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_file_then_offset() {
        let a = BinlogPosition::new("binlog.000009", 900);
        let b = BinlogPosition::new("binlog.000010", 4);
        assert!(b.is_after(&a) && !a.is_after(&b));
        assert!(BinlogPosition::new("binlog.1000000", 4)
            .is_after(&BinlogPosition::new("binlog.999999", 9)));
        let stored = serde_json::to_value(&a).unwrap();
        assert_eq!(stored, json!({"file": "binlog.000009", "pos": 900}));
    }
}
