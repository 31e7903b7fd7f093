//! What the messaging benchmarks (`queue`, `nats`, `amqp`) share: their
//! 1 KiB payload events, the rate, the `--messages N` argument and the
//! result table (connector vs the client crate in a hand-written loop).

use std::time::Duration;

use rivven_connect::SourceEvent;
use serde_json::json;

/// Events per write of the sink benchmarks.
pub const BATCH: usize = 1000;

/// The 1 KiB payload every message carries.
pub fn payload() -> String {
    "x".repeat(1024)
}

/// `n` events whose data is [`payload`].
pub fn events(n: usize) -> Vec<SourceEvent> {
    let p = payload();
    (0..n)
        .map(|_| SourceEvent::record("bench", json!(p)))
        .collect()
}

/// Messages per second.
pub fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// `--messages N` from the command line (`default` without it); a bad
/// argument ends the benchmark with its usage.
#[allow(clippy::expect_used)]
pub fn messages_arg(default: usize) -> usize {
    let mut n = default;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--messages" => {
                n = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--messages N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    n
}

/// The results as a Markdown table: `(path, connector msg/s, loop msg/s)`,
/// the loop being the `client` crate by hand.
pub fn print_table(n: usize, client: &str, rows: &[(String, f64, f64)]) {
    println!("{n} messages of 1 KiB\n");
    println!("| path | connector msg/s | {client} loop msg/s | ratio |");
    println!("|---|---:|---:|---:|");
    for (name, connector, raw) in rows {
        println!(
            "| {name} | {connector:.0} | {raw:.0} | {:.2} |",
            connector / raw
        );
    }
}
