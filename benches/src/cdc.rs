//! Shared by the CDC benchmarks (`pg_cdc`, `my_cdc`): their command line,
//! the pipeline into the timed file and waiting for the sink.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rivven_connect::builtin::FileSinkConfig;
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineSettings, Runtime};
use rivven_connect::Source;

use crate::sinks::TimedFile;

/// The report's live line: `rows` changes in `live`, end to end, while the
/// database took `written_by_db` to accept them.
pub fn print_live(rows: i64, live: Duration, written_by_db: Duration) {
    println!(
        "  live     {:>9.0} changes/s end to end ({rows} changes in {:.2} s; the database took {:.2} s to accept them)",
        rows as f64 / live.as_secs_f64(),
        live.as_secs_f64(),
        written_by_db.as_secs_f64()
    );
}

/// Start pipeline `bench`: `source` → `sink` writing `path`, default
/// settings, offsets in `store`.
pub async fn start_to_file<S: Source>(
    source: S,
    config: S::Config,
    store: MemoryOffsetStore,
    sink: &TimedFile,
    path: &Path,
) -> Runtime {
    Runtime::builder()
        .offset_store(store)
        .pipeline(
            Pipeline::builder("bench")
                .source(source, config)
                .sink(sink.clone(), FileSinkConfig::new(path))
                .settings(PipelineSettings::default()),
        )
        .start()
        .await
        .unwrap_or_else(|e| panic!("start the pipeline: {e}"))
}

/// The CDC benchmarks' command line: `[--rows N] [--seconds S]`.
#[derive(Debug, Clone, Copy)]
pub struct CdcArgs {
    /// Rows of the live and backlog loads.
    pub rows: i64,
    /// Seconds of the steady load.
    pub seconds: u64,
}

impl CdcArgs {
    /// Parse `std::env::args()`; on a bad argument print the usage of
    /// `program` and exit with status 2.
    pub fn parse(program: &str) -> Self {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        Self::from_args(&argv).unwrap_or_else(|| {
            eprintln!("usage: {program} [--rows N] [--seconds S]");
            std::process::exit(2);
        })
    }

    /// Parse `argv` (without the program name); `None` if it is not valid.
    pub fn from_args(argv: &[String]) -> Option<Self> {
        let mut a = Self {
            rows: 200_000,
            seconds: 10,
        };
        for pair in argv.chunks(2) {
            match (
                pair[0].as_str(),
                pair.get(1).and_then(|v| v.parse::<u64>().ok()),
            ) {
                ("--rows", Some(v)) if v > 0 => a.rows = i64::try_from(v).ok()?,
                ("--seconds", Some(v)) => a.seconds = v,
                _ => return None,
            }
        }
        Some(a)
    }
}

/// Wait until `sink` has written `n` events; panics after 600 s.
pub async fn wait_written(sink: &TimedFile, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while sink.written.load(Ordering::Relaxed) < n {
        assert!(
            Instant::now() < deadline,
            "the pipeline did not deliver {n} changes within 600 s (got {})",
            sink.written.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn arguments_parse_with_defaults() {
        let a = CdcArgs::from_args(&[]).expect("defaults");
        assert_eq!((a.rows, a.seconds), (200_000, 10));
        let a = CdcArgs::from_args(&argv("--rows 20000 --seconds 2")).expect("valid");
        assert_eq!((a.rows, a.seconds), (20_000, 2));
        assert!(CdcArgs::from_args(&argv("--rows")).is_none());
        assert!(CdcArgs::from_args(&argv("--rows 0")).is_none());
        assert!(CdcArgs::from_args(&argv("--frobs 3")).is_none());
    }
}
