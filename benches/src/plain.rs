//! The plain-loop baselines (`Mode::Plain`): the W1/W1f job written by hand
//! over raw `serde_json::Value`, without `SourceEvent`, connectors or
//! transforms — what a programmer would write without rivven-connect. Both
//! sync the output every [`BATCH`](crate::workloads::BATCH) lines, the work the
//! `file` sink does with its default `fsync: true` (one sync per batch).

use rivven_connect::builtin::DataPattern;
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use crate::workloads::BATCH;

/// Lines between two `sync_data` calls.
const SYNC_EVERY: u64 = BATCH as u64;

/// Events read and written by a plain loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Orders read (W1f) or generated (W1).
    pub read: u64,
    /// Orders written.
    pub written: u64,
}

/// The job: `false` when the order is dropped (`status == "cancelled"`),
/// otherwise `customer_email` is replaced with `"***"`.
fn keep_and_mask(order: &mut Value) -> bool {
    if order.get("status").and_then(Value::as_str) == Some("cancelled") {
        return false;
    }
    if let Some(email) = order.get_mut("customer_email") {
        *email = Value::String("***".into());
    }
    true
}

/// A JSONL writer syncing every [`SYNC_EVERY`] lines.
struct Out {
    w: BufWriter<File>,
    written: u64,
}

impl Out {
    fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            w: BufWriter::with_capacity(1 << 20, File::create(path)?),
            written: 0,
        })
    }

    fn write(&mut self, order: &Value) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.w, order)?;
        self.w.write_all(b"\n")?;
        self.written += 1;
        if self.written.is_multiple_of(SYNC_EVERY) {
            self.w.flush()?;
            self.w.get_ref().sync_data()?;
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<u64> {
        let file = self.w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(self.written)
    }
}

/// W1f by hand: `BufReader` lines → `serde_json::from_str::<Value>` → drop
/// cancelled → mask → `serde_json::to_writer` + `\n` into a `BufWriter`.
pub fn w1f(input: &Path, output: &Path) -> std::io::Result<Counts> {
    let reader = BufReader::with_capacity(1 << 16, File::open(input)?);
    let mut out = Out::create(output)?;
    let mut read = 0;
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let mut order: Value = serde_json::from_str(&line)?;
        read += 1;
        if keep_and_mask(&mut order) {
            out.write(&order)?;
        }
    }
    Ok(Counts {
        read,
        written: out.finish()?,
    })
}

/// W1 by hand: the rows of datagen's `orders` pattern (see [`orders_row`]),
/// then the same job.
pub fn w1(n: u64, seed: u64, output: &Path) -> std::io::Result<Counts> {
    let mut out = Out::create(output)?;
    for id in 0..n {
        let mut order = orders_row(seed, id);
        if keep_and_mask(&mut order) {
            out.write(&order)?;
        }
    }
    Ok(Counts {
        read: n,
        written: out.finish()?,
    })
}

/// Row `id` of datagen's `orders` pattern with `seed` (an insert: version 0),
/// as a plain `serde_json::Value`: the generator the `datagen` source uses.
pub fn orders_row(seed: u64, id: u64) -> Value {
    DataPattern::Orders.row(seed, id, 0)
}
