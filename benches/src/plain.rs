//! The plain-loop baselines (`Mode::Plain`): the W1/W1f job written by hand
//! over raw `serde_json::Value`, without `SourceEvent`, connectors or
//! transforms — what a programmer would write without rivven-connect. Both
//! sync the output every [`BATCH`](crate::workloads::BATCH) lines, the work the
//! `file` sink does with its default `fsync: true` (one sync per batch).

use serde_json::{json, Value};
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

/// SplitMix64 seeded as datagen seeds one row (`Rng::for_item(seed, lane, index)`).
struct Rng(u64);

impl Rng {
    fn for_item(seed: u64, lane: u64, index: u64) -> Self {
        let mut rng = Rng(seed ^ lane.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.0 ^= rng.next_u64() ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = self.below(items.len() as u64);
        usize::try_from(i)
            .ok()
            .and_then(|i| items.get(i))
            .copied()
            .unwrap_or("")
    }
}

const PRODUCTS: &[&str] = &[
    "laptop",
    "phone",
    "tablet",
    "headphones",
    "monitor",
    "keyboard",
    "mouse",
    "camera",
    "watch",
    "speaker",
];
const STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "cancelled"];

/// Row `id` of datagen's `orders` pattern with `seed` (an insert: version 0),
/// replicated here because datagen exposes its rows only as `SourceEvent`s;
/// a test checks it against the `datagen` source.
pub fn orders_row(seed: u64, id: u64) -> Value {
    let mut r = Rng::for_item(seed, 1, id);
    let quantity = r.below(5) + 1;
    let price = (r.below(100_000) + 1) as f64 / 100.0;
    let customer = r.below(10_000) + 1;
    json!({
        "order_id": id,
        "customer_id": customer,
        "customer_email": format!("customer{customer}@example.com"),
        "product": r.pick(PRODUCTS),
        "quantity": quantity,
        "total": ((price * quantity as f64) * 100.0).round() / 100.0,
        "status": r.pick(STATUSES),
    })
}
