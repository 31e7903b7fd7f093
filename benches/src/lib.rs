//! Shared parts of the benchmarks: memory and process readings, the W1f input
//! file, the test sinks, the CDC benchmarks' command line, the plain-loop
//! baselines, and the workloads the `pipeline` harness runs.
#![warn(missing_docs)]

pub mod binary;
pub mod cdc;
pub mod lowrate;
pub mod messaging;
pub mod plain;
pub mod process;
pub mod sinks;
pub mod workloads;

use serde_json::json;
use std::io::Write;
use std::path::Path;

/// A `VmHWM`/`VmRSS`-style field of `/proc/<pid>/status`, in bytes.
pub fn proc_status_bytes(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak resident memory of this process so far.
pub fn peak_rss() -> u64 {
    proc_status_bytes("self", "VmHWM:").unwrap_or(0)
}

/// Write `n` order events as JSON Lines (~230 bytes each), reproducibly
/// from `seed`: the W1f input, also used to compare with other tools.
pub fn write_orders_jsonl(path: &Path, n: u64, seed: u64) -> std::io::Result<u64> {
    const PRODUCTS: &[&str] = &[
        "laptop",
        "phone",
        "tablet",
        "monitor",
        "keyboard",
        "mouse",
        "headphones",
        "camera",
    ];
    const STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "cancelled"];
    const NAMES: &[&str] = &[
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut bytes = 0;
    for i in 0..n {
        let customer = next() % 100_000;
        let name = NAMES[(next() % NAMES.len() as u64) as usize];
        let quantity = next() % 5 + 1;
        let price = (next() % 100_000) as f64 / 100.0;
        let line = json!({
            "order_id": i,
            "customer_id": customer,
            "customer_name": format!("{name} {customer}"),
            "customer_email": format!("{name}.{customer}@example.com"),
            "product": PRODUCTS[(next() % PRODUCTS.len() as u64) as usize],
            "quantity": quantity,
            "price": price,
            "total": (price * quantity as f64 * 100.0).round() / 100.0,
            "status": STATUSES[(next() % STATUSES.len() as u64) as usize],
            "created_at": format!("2026-01-{:02}T{:02}:{:02}:{:02}Z", next() % 28 + 1, next() % 24, next() % 60, next() % 60),
        });
        let text = line.to_string();
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
        bytes += text.len() as u64 + 1;
    }
    out.flush()?;
    Ok(bytes)
}
