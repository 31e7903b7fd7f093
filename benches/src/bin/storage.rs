//! The `object-storage` sink (local provider) against a hand-written loop
//! calling the same format writer, in one run: 1 000 000 order events into
//! each format — events/s and MB/s through the runtime (datagen-like mock
//! source → sink holding events into objects of 100 000) vs the loop that
//! writes the same objects with the same `FormatWriter`, compression and
//! `put_object`. With `--features storage-parquet`: Parquet (snappy) vs
//! pyarrow writing the same rows from Python lists (`pa.Table.from_pylist`
//! + `pq.write_table`, timed inside Python), same run.
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin storage --features storage-parquet
//! cargo run -p rivven-connect-benches --bin storage -- --messages 100000     # quick
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use object_store::path::Path as ObjectPath;
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineSettings, Runtime};
use rivven_connect::SourceEvent;
use rivven_connect_benches::messaging::messages_arg;
use rivven_connect_storage::compression::Compression;
use rivven_connect_storage::format::{self, Format, FormatOptions};
use rivven_connect_storage::object_storage::{
    open_store, put_object, ObjectStorageSink, ObjectStorageSinkConfig,
};
use rivven_connect_testing::prelude::*;
use serde_json::json;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const OBJECT: usize = 100_000;
const PRODUCTS: &[&str] = &["laptop", "phone", "tablet", "monitor", "keyboard", "mouse"];
const STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "cancelled"];

/// Order `i` (the fields of the W1f orders, deterministic).
fn order(i: u64) -> SourceEvent {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 7);
    let quantity = h % 5 + 1;
    let price = (h % 100_000) as f64 / 100.0;
    SourceEvent::record(
        "orders",
        json!({
            "order_id": i,
            "customer_id": h % 100_000,
            "customer_name": format!("customer {}", h % 100_000),
            "product": PRODUCTS[(h % PRODUCTS.len() as u64) as usize],
            "quantity": quantity,
            "price": price,
            "total": (price * quantity as f64 * 100.0).round() / 100.0,
            "status": STATUSES[(h % STATUSES.len() as u64) as usize],
            "created_at": format!("2026-01-{:02}T{:02}:00:00Z", h % 28 + 1, h % 24),
        }),
    )
}

fn config(dir: &Path, format: Format, compression: Compression) -> ObjectStorageSinkConfig {
    ObjectStorageSinkConfig {
        format,
        compression,
        batch_size: OBJECT,
        max_file_bytes: u64::MAX,
        ..ObjectStorageSinkConfig::local(dir, "bench")
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        total += if p.is_dir() {
            dir_bytes(&p)
        } else {
            e.metadata().map_or(0, |m| m.len())
        };
    }
    total
}

/// Through the runtime: a mock source making the orders, the sink.
async fn through_runtime(n: u64, config: ObjectStorageSinkConfig) -> Duration {
    let settings = PipelineSettings::default()
        .with_batch_size(1024)
        .with_max_in_flight_batches(8)
        .with_checkpoint_interval(Duration::from_millis(100));
    let started = Instant::now();
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("bench")
                .source(
                    MockSource::new().with_generator(n, order),
                    MockConfig::default(),
                )
                .batch_sink(ObjectStorageSink::new(), config)
                .settings(settings),
        )
        .start()
        .await
        .unwrap();
    let status = runtime.wait().await;
    let p = &status.pipelines[0];
    assert_eq!(p.events_written, n, "{p:?}");
    started.elapsed()
}

/// By hand: make the orders, the same writer, compression and `put_object`.
async fn by_hand(n: u64, config: &ObjectStorageSinkConfig) -> Duration {
    let store = open_store(config).unwrap();
    let options = FormatOptions {
        csv: config.csv.clone(),
        parquet: config.parquet.clone(),
        avro: config.avro.clone(),
    };
    let started = Instant::now();
    let mut writer = format::writer(config.format, &options).unwrap();
    let mut seq = 0;
    for i in 0..n {
        writer.write(&order(i)).unwrap();
        if writer.records() as usize == OBJECT || i + 1 == n {
            seq += 1;
            let body = config
                .compression
                .compress(writer.finish().unwrap())
                .unwrap();
            let path = ObjectPath::from(format!("loop-{seq:06}.{}", config.extension()));
            put_object(store.as_ref(), &path, body.into(), config)
                .await
                .unwrap();
        }
    }
    started.elapsed()
}

#[cfg(feature = "storage-parquet")]
fn pyarrow_seconds(n: u64, dir: &Path) -> Option<f64> {
    let python = rivven_connect_testing::services::test_python(&["pyarrow"]).ok()?;
    let script = format!(
        r#"
import time, pyarrow as pa, pyarrow.parquet as pq
P = {PRODUCTS:?}
S = {STATUSES:?}
rows = []
for i in range({n}):
    h = ((i * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) ^ (i >> 7)
    q = h % 5 + 1
    price = (h % 100000) / 100.0
    rows.append({{"order_id": i, "customer_id": h % 100000, "customer_name": f"customer {{h % 100000}}",
        "product": P[h % len(P)], "quantity": q, "price": price, "total": round(price * q * 100.0) / 100.0,
        "status": S[h % len(S)], "created_at": f"2026-01-{{h % 28 + 1:02}}T{{h % 24:02}}:00:00Z"}})
t0 = time.perf_counter()
for k in range(0, len(rows), {OBJECT}):
    pq.write_table(pa.Table.from_pylist(rows[k:k + {OBJECT}]), "{dir}/py-%06d.parquet" % k,
                   compression="snappy", row_group_size=10000)
print(time.perf_counter() - t0)
"#,
        dir = dir.display()
    );
    let out = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[tokio::main]
async fn main() {
    let n = messages_arg(1_000_000) as u64;
    let mut cases = vec![
        (Format::Jsonl, Compression::None),
        (Format::Jsonl, Compression::Gzip),
        (Format::Jsonl, Compression::Zstd),
        (Format::Json, Compression::None),
        (Format::Csv, Compression::None),
        (Format::Csv, Compression::Lz4),
    ];
    if cfg!(feature = "storage-parquet") {
        cases.push((Format::Parquet, Compression::None));
    }
    println!("{n} order events, objects of {OBJECT}, local provider\n");
    println!("| format | runtime ev/s | runtime MB/s | loop ev/s | loop MB/s | ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (format, compression) in cases {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let runtime = through_runtime(n, config(a.path(), format, compression)).await;
        let looped = by_hand(n, &config(b.path(), format, compression)).await;
        let mb = dir_bytes(a.path()) as f64 / 1e6;
        let name = match compression.extension() {
            Some(c) => format!("{} + {c}", format.name()),
            None => format.name().to_string(),
        };
        let (r, l) = (runtime.as_secs_f64(), looped.as_secs_f64());
        println!(
            "| {name} | {:.0} | {:.1} | {:.0} | {:.1} | {:.2} |",
            n as f64 / r,
            mb / r,
            n as f64 / l,
            mb / l,
            l / r
        );
        #[cfg(feature = "storage-parquet")]
        if format == Format::Parquet {
            let c = tempfile::tempdir().unwrap();
            if let Some(py) = pyarrow_seconds(n, c.path()) {
                println!(
                    "\nParquet (snappy): loop {:.0} ev/s, pyarrow from Python lists {:.0} ev/s, ratio {:.2}\n",
                    n as f64 / l,
                    n as f64 / py,
                    py / l
                );
            }
        }
    }
    println!(
        "\npeak RSS {} MB",
        rivven_connect_benches::peak_rss() / 1_000_000
    );
}
