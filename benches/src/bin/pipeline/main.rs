//! The pipeline harness: each workload through a hand-written
//! single-threaded loop and through the runtime, in separate child processes
//! (so peak RSS is each one's own), printing events/s, MB/s, the ratio and
//! peak RSS.
//!
//! ```text
//! cargo run --release -p rivven-connect-benches --bin pipeline -- all
//! cargo run --release -p rivven-connect-benches --bin pipeline -- w1 --events 1000000 --rounds 5
//! ```
//! Each workload runs `--rounds` times (default 5) per mode, alternating loop and
//! runtime; each mode is reported by its median run, with the spread.
//! Workloads: w1 (datagen orders → filter → mask → JSONL file), w1f (JSONL
//! file → same → JSONL file), w2 (datagen CDC → extract_new_record_state →
//! no-op sink), w3 (unlimited datagen → 2 000 events/s sink: memory bound),
//! w4 (start-up of the real `rivven-connect` binary on the quickstart).

use rivven_connect_benches::workloads::{self, Measured, Mode};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

mod startup;

/// Both modes run with the allocator the `rivven-connect` binary uses.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct Args {
    workloads: Vec<String>,
    events: u64,
    seconds: f64,
    dir: PathBuf,
    child_mode: Option<Mode>,
    json: bool,
    rounds: usize,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        workloads: Vec::new(),
        events: 1_000_000,
        seconds: 10.0,
        dir: std::env::temp_dir().join("rivven-bench"),
        child_mode: None,
        json: false,
        rounds: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--events" => args.events = value("--events")?.parse().map_err(|e| format!("--events: {e}"))?,
            "--seconds" => args.seconds = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value("--dir")?),
            "--json" => args.json = true,
            "--rounds" => args.rounds = value("--rounds")?.parse::<usize>().map_err(|e| format!("--rounds: {e}"))?.max(1),
            "--child" => {
                args.child_mode = Some(match value("--child")?.as_str() {
                    "loop" => Mode::Loop,
                    "runtime" => Mode::Runtime,
                    other => return Err(format!("--child loop|runtime, not {other}")),
                })
            }
            "all" => args.workloads.extend(["w1", "w1f", "w2", "w3", "w4"].map(String::from)),
            "w1" | "w1f" | "w2" | "w3" | "w4" => args.workloads.push(a),
            other => return Err(format!("unknown argument `{other}` (workloads: all w1 w1f w2 w3 w4; --events N --seconds S --rounds R --dir D --json)")),
        }
    }
    if args.workloads.is_empty() {
        args.workloads.push("all".into());
        args.workloads = ["w1", "w1f", "w2", "w3", "w4"].map(String::from).to_vec();
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.dir) {
        eprintln!("error: {}: {e}", args.dir.display());
        return ExitCode::from(1);
    }
    if let Some(mode) = args.child_mode {
        return child(&args, mode);
    }
    let mut results = Vec::new();
    for w in &args.workloads {
        if w == "w4" {
            match startup::measure(&args.dir, args.rounds) {
                Ok(r) => {
                    println!("{}", startup::render(&r));
                    results.push(json!({"workload": "w4", "startup": r}));
                }
                Err(e) => {
                    eprintln!("w4: {e}");
                    return ExitCode::from(1);
                }
            }
            continue;
        }
        let modes: &[Mode] = if w == "w3" {
            &[Mode::Runtime]
        } else {
            &[Mode::Loop, Mode::Runtime]
        };
        // Rounds alternate the modes, so a slow spell of this shared machine
        // hits both; each mode is reported by its median run.
        let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); modes.len()];
        for _ in 0..args.rounds {
            for (i, &mode) in modes.iter().enumerate() {
                match spawn_child(&args, w, mode) {
                    Ok(m) => runs[i].push(m),
                    Err(e) => {
                        eprintln!("{w} ({mode:?}): {e}");
                        return ExitCode::from(1);
                    }
                }
            }
        }
        let medians: Vec<Measured> = runs.iter().map(|r| median(r)).collect();
        println!("{}", render(w, &medians, &runs));
        if let [baseline, runtime] = medians.as_slice() {
            if baseline.events_out != runtime.events_out {
                eprintln!(
                    "{w}: the loop wrote {} events, the runtime {}: the two do not do the same job",
                    baseline.events_out, runtime.events_out
                );
                return ExitCode::from(1);
            }
        }
        results.push(json!({"workload": w, "median": medians, "runs": runs}));
    }
    if args.json {
        println!("{}", json!(results));
    }
    ExitCode::SUCCESS
}

fn child(args: &Args, mode: Mode) -> ExitCode {
    let Some(workload) = args.workloads.first() else {
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(workloads::run(
        workload,
        mode,
        args.events,
        args.seconds,
        &args.dir,
    )) {
        Ok(m) => {
            println!("{}", json!(m));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn spawn_child(args: &Args, workload: &str, mode: Mode) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mode_arg = match mode {
        Mode::Loop => "loop",
        Mode::Runtime => "runtime",
    };
    let out = Command::new(exe)
        .args([
            workload,
            "--child",
            mode_arg,
            "--events",
            &args.events.to_string(),
            "--seconds",
            &args.seconds.to_string(),
        ])
        .arg("--dir")
        .arg(&args.dir)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|e| format!("child output `{text}`: {e}"))
}

/// The run with the median time.
fn median(runs: &[Measured]) -> Measured {
    let mut sorted: Vec<&Measured> = runs.iter().collect();
    sorted.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    sorted[sorted.len() / 2].clone()
}

fn render(workload: &str, medians: &[Measured], runs: &[Vec<Measured>]) -> String {
    let mut s = String::new();
    for (m, all) in medians.iter().zip(runs) {
        let (lo, hi) = all.iter().fold((f64::MAX, 0f64), |(lo, hi), r| {
            (lo.min(r.seconds), hi.max(r.seconds))
        });
        let spread = if all.len() > 1 {
            format!("  [{} runs {lo:.3}–{hi:.3}s]", all.len())
        } else {
            String::new()
        };
        s.push_str(&format!(
            "{workload:<4} {:<8} {:>9} in {:>9} out {:>8.3}s {:>12.0} ev/s {:>8.1} MB/s  peak RSS {:>6.1} MiB{spread}{}\n",
            format!("{:?}", m.mode).to_lowercase(),
            m.events_in,
            m.events_out,
            m.seconds,
            m.events_per_sec(),
            m.mb_per_sec(),
            m.peak_rss as f64 / 1048576.0,
            if m.extra.is_null() { String::new() } else { format!("  {}", m.extra) }
        ));
    }
    if let [baseline, runtime] = medians {
        s.push_str(&format!(
            "{workload:<4} ratio runtime / loop = {:.2}× (medians)\n",
            runtime.events_per_sec() / baseline.events_per_sec().max(1e-9),
        ));
    }
    s
}
