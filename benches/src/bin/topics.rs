//! Embedded topics against the direct pipeline, in one process: datagen
//! `orders` (unlimited rate) → JSONL `file` sink(s), built from YAML.
//!
//! * **direct** — `pipelines: { p: { source: gen, sink: out } }`.
//! * **topic ×1** — the source publishes to a memory topic, one sink subscribes.
//! * **topic ×3** — three sinks (three files) subscribe.
//! * **disk ×1** — one subscriber, `topics.storage: disk`.
//!
//! Each round runs every mode once, in turn; the median of the rounds is
//! reported as source events/s and the ratio to `direct` (target ≥ 0.8).
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin topics                  # 500 000 events, 5 rounds
//! cargo run -p rivven-connect-benches --bin topics -- --events 20000 --rounds 1   # CI size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use rivven_connect::config::Loader;
use rivven_connect::registry::Registry;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const MODES: [&str; 4] = ["direct", "topic x1", "topic x3", "disk x1"];

fn yaml(mode: &str, dir: &Path, events: u64) -> String {
    let d = dir.display();
    let source = |topic: &str| {
        format!(
            "sources:\n  gen: {{ connector: datagen, {topic}config: {{ pattern: orders, seed: 42, max_events: {events}, events_per_second: 0 }} }}\n"
        )
    };
    let sink = |name: &str, topics: &str| {
        format!("  {name}: {{ connector: file, {topics}config: {{ path: {d}/{name}.jsonl }} }}\n")
    };
    let head = format!("data_dir: {d}/data\noffsets: {{ backend: memory }}\n");
    match mode {
        "direct" => format!(
            "{head}{}sinks:\n{}pipelines:\n  p: {{ source: gen, sink: out }}\n",
            source(""),
            sink("out", "")
        ),
        "topic x1" => format!(
            "{head}{}sinks:\n{}",
            source("topic: t, "),
            sink("out", "topics: [t], ")
        ),
        "topic x3" => format!(
            "{head}{}sinks:\n{}{}{}",
            source("topic: t, "),
            sink("a", "topics: [t], "),
            sink("b", "topics: [t], "),
            sink("c", "topics: [t], ")
        ),
        _ => format!(
            "{head}topics: {{ storage: disk }}\n{}sinks:\n{}",
            source("topic: t, "),
            sink("out", "topics: [t], ")
        ),
    }
}

/// One run: wall time from start to every pipeline ended.
async fn run(registry: &Registry, mode: &str, events: u64) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let config = Loader::new(registry)
        .load(&yaml(mode, dir.path(), events))
        .unwrap();
    let started = Instant::now();
    let runtime = config
        .runtime_builder(registry)
        .unwrap()
        .start()
        .await
        .unwrap();
    let status = runtime.wait().await;
    let took = started.elapsed();
    assert!(status.all_succeeded(), "{mode}: {status:?}");
    for p in &status.pipelines {
        assert_eq!(
            p.events_written, events,
            "{mode}: {} wrote every event",
            p.name
        );
    }
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut events = 500_000u64;
    let mut rounds = 5usize;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .expect("a value")
                .parse::<u64>()
                .expect("a number")
        };
        match a.as_str() {
            "--events" => events = value(),
            "--rounds" => rounds = value().max(1) as usize,
            "--only" => only = Some(args.next().expect("a mode")),
            other => panic!("unknown argument {other} (--events N --rounds R --only MODE)"),
        }
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let registry = Registry::builtin();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); MODES.len()];
    rt.block_on(async {
        for _ in 0..rounds {
            for (i, mode) in MODES.iter().enumerate() {
                if only.as_deref().is_some_and(|o| o != *mode && i != 0) {
                    times[i].push(Duration::from_secs(1_000_000));
                    continue;
                }
                times[i].push(run(&registry, mode, events).await);
            }
        }
    });
    let direct = median(times[0].clone()).as_secs_f64();
    println!("topics: {events} datagen orders → file, median of {rounds} round(s)");
    for (mode, t) in MODES.iter().zip(times) {
        let secs = median(t).as_secs_f64();
        println!(
            "  {mode:<9} {:>10.0} source events/s   {:.2}× direct",
            events as f64 / secs,
            direct / secs
        );
    }
}
