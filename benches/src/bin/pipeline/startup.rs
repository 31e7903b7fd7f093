//! W4: start-up time and idle memory of the real `rivven-connect` binary.

use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Serialize)]
pub(crate) struct Startup {
    binary: PathBuf,
    binary_bytes: u64,
    first_event_ms: f64,
    rounds: usize,
    idle_rss_bytes: u64,
}

pub(crate) fn measure(dir: &Path, rounds: usize, bin: Option<&Path>) -> Result<Startup, String> {
    let rounds = rounds.max(1);
    let bin = rivven_connect_benches::binary::locate(bin)?;
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart.yaml");
    let work = dir.join("w4");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;

    // Time to the first event on stdout, the quickstart as shipped; the median
    // of `rounds` fresh starts (each with a fresh data directory).
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let data = work.join(format!("data-{round}"));
        times.push(first_event(&bin, &quickstart, &work, &data)?);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let first_event_ms = times[times.len() / 2] * 1000.0;

    // Idle memory: one pipeline waiting on a 1 event/s source.
    let idle = work.join("idle.yaml");
    std::fs::write(
        &idle,
        "sources:\n  gen: { connector: datagen, config: { pattern: orders, events_per_second: 1 } }\nsinks:\n  out: { connector: stdout }\npipelines:\n  idle: { source: gen, sink: out }\noffsets: { backend: memory }\n",
    )
    .map_err(|e| e.to_string())?;
    let mut child = Command::new(&bin)
        .args(["-q", "-c"])
        .arg(&idle)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(1500));
    let rss =
        rivven_connect_benches::proc_status_bytes(&child.id().to_string(), "VmRSS:").unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    Ok(Startup {
        binary_bytes: std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0),
        binary: bin,
        first_event_ms,
        rounds,
        idle_rss_bytes: rss,
    })
}

pub(crate) fn render(s: &Startup) -> String {
    format!(
        "w4   first event after {:.1} ms (median of {}); idle RSS {:.1} MiB; binary {:.1} MiB ({})",
        s.first_event_ms,
        s.rounds,
        s.idle_rss_bytes as f64 / 1048576.0,
        s.binary_bytes as f64 / 1048576.0,
        s.binary.display()
    )
}

/// Seconds from spawning the binary on `config` to its first line on stdout.
fn first_event(bin: &Path, config: &Path, work: &Path, data: &Path) -> Result<f64, String> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(["-q", "-c"])
        .arg(config)
        .arg("run")
        .env("RIVVEN_DATA_DIR", data)
        .current_dir(work)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .map_err(|e| e.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    if first.is_empty() {
        return Err("the quickstart printed no event".into());
    }
    Ok(elapsed)
}
