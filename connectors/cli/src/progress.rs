//! The live display of `run` on a terminal (one line per pipeline,
//! redrawn in place), periodic log lines otherwise, and the final summary.

use rivven_connect::runtime::{PipelineStatus, Runtime, RuntimeStatus};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Whether stderr is a terminal.
pub(crate) fn is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Redraw the display every 250 ms (terminal) or log every 10 s. Never returns.
pub(crate) async fn watch(runtime: &Runtime, display: bool) {
    let period = if display {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(10)
    };
    let started = Instant::now();
    let mut last: HashMap<String, (u64, Instant)> = HashMap::new();
    let mut drawn = 0usize;
    loop {
        tokio::time::sleep(period).await;
        let status = runtime.status_now();
        let now = Instant::now();
        let lines: Vec<String> = status
            .pipelines
            .iter()
            .map(|p| {
                let (n, t) = last.get(&p.name).copied().unwrap_or((0, started));
                let rate = p.events_written.saturating_sub(n) as f64
                    / now.duration_since(t).as_secs_f64().max(1e-3);
                last.insert(p.name.clone(), (p.events_written, now));
                line(p, rate)
            })
            .collect();
        if display {
            let mut err = std::io::stderr().lock();
            if drawn > 0 {
                let _ = write!(err, "\x1b[{drawn}A");
            }
            for l in &lines {
                let _ = writeln!(err, "\x1b[2K{l}");
            }
            let _ = err.flush();
            drawn = lines.len();
        } else {
            for p in &status.pipelines {
                tracing::info!(pipeline = %p.name, state = %p.state, read = p.events_read, written = p.events_written, failed = p.events_failed, dead_lettered = p.events_dead_lettered, restarts = p.restarts, "progress");
            }
        }
    }
}

fn line(p: &PipelineStatus, rate: f64) -> String {
    format!(
        "{:<24} {:<10} {:>10.0} ev/s  read {:>10}  written {:>10}  filtered {:>7}  rejected {:>6}  restarts {}",
        p.name,
        p.state.as_str(),
        rate,
        p.events_read,
        p.events_written,
        p.events_dropped,
        p.events_failed + p.events_dead_lettered,
        p.restarts
    )
}

/// How the end-of-run summary (on stderr) is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Summary {
    /// `-q`: not at all (the exit code says how it ended).
    Quiet,
    /// JSON log lines (`--log-format json`): one structured event per
    /// pipeline, no free text on stderr.
    Json,
    /// The text table; with `display` false also a log line per pipeline.
    Text { display: bool },
}

pub(crate) fn summary(status: &RuntimeStatus, how: Summary) {
    let display = match how {
        Summary::Quiet => return,
        Summary::Json => {
            for p in &status.pipelines {
                tracing::info!(
                    pipeline = %p.name,
                    state = %p.state,
                    read = p.events_read,
                    written = p.events_written,
                    dropped = p.events_dropped,
                    failed = p.events_failed,
                    dead_lettered = p.events_dead_lettered,
                    restarts = p.restarts,
                    commits = p.commits,
                    last_error = p.last_error.as_deref().unwrap_or(""),
                    "pipeline ended"
                );
            }
            for t in &status.topics {
                for g in &t.groups {
                    tracing::info!(topic = %t.name, end_offset = t.end_offset, group = %g.name, committed = g.committed_offset, lag = g.lag, "topic group");
                }
            }
            return;
        }
        Summary::Text { display } => display,
    };
    if !display {
        for p in &status.pipelines {
            tracing::info!(pipeline = %p.name, state = %p.state, read = p.events_read, written = p.events_written, "pipeline ended");
        }
    }
    eprintln!("summary:");
    for p in &status.pipelines {
        let in_flight = if p.in_flight_events > 0 {
            format!("  in flight {}", p.in_flight_events)
        } else {
            String::new()
        };
        eprintln!(
            "  {:<24} {:<10} read {}  written {}  filtered {}  skipped {}  dead-lettered {}{in_flight}  restarts {}  commits {}{}",
            p.name,
            p.state.as_str(),
            p.events_read,
            p.events_written,
            p.events_dropped,
            p.events_failed,
            p.events_dead_lettered,
            p.restarts,
            p.commits,
            p.last_error.as_deref().map(|e| format!("\n    last error: {e}")).unwrap_or_default()
        );
    }
    for t in &status.topics {
        eprintln!(
            "  topic {:<18} {:<10} end offset {}  held {} (peak {})",
            t.name,
            match t.storage {
                rivven_connect::runtime::topics::TopicStorage::Memory => "memory",
                rivven_connect::runtime::topics::TopicStorage::Disk => "disk",
            },
            t.end_offset,
            t.buffered,
            t.peak_buffered
        );
        for g in &t.groups {
            let committed = g
                .committed_offset
                .map_or("-".to_string(), |c| c.to_string());
            eprintln!(
                "    group {:<18} committed {committed}  lag {}",
                g.name, g.lag
            );
        }
    }
}
