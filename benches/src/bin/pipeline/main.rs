//! The pipeline harness: each workload through a hand-written
//! single-threaded loop and through the runtime (W1/W1f also as a plain
//! serde_json loop and through the real binary on a YAML file), in separate
//! child processes (so wall, CPU time and peak RSS are each one's own),
//! printing events/s, MB/s, CPU per event, the ratios and peak RSS.
//!
//! ```text
//! cargo run --release -p rivven-connect-benches --bin pipeline -- all
//! cargo run --release -p rivven-connect-benches --bin pipeline -- w1 --events 1000000 --rounds 5
//! ```
//! Each workload runs `--rounds` times (default 5) per mode, alternating the
//! modes; each mode is reported by its median run, with the spread.
//! Workloads: w1 (datagen orders → filter → mask → JSONL file), w1f (JSONL
//! file → same → JSONL file), w2 (datagen CDC → extract_new_record_state →
//! no-op sink), w3 (unlimited datagen → 2 000 events/s sink: memory bound),
//! w4 (start-up of the real `rivven-connect` binary on the quickstart), w5
//! (100 events/s for `--seconds`: source-to-durable latency, default settings).
//! W1/W1f's binary modes run `rivven-connect` next to this executable (same
//! profile), or `--binary PATH`.

use rivven_connect_benches::workloads::{self, Measured, Mode};
use rivven_connect_benches::{binary, process};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

mod render;
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
    binary: Option<PathBuf>,
}

const ALL: [&str; 6] = ["w1", "w1f", "w2", "w3", "w4", "w5"];

fn parse() -> Result<Args, String> {
    let mut args = Args {
        workloads: Vec::new(),
        events: 1_000_000,
        seconds: 10.0,
        dir: std::env::temp_dir().join("rivven-bench"),
        child_mode: None,
        json: false,
        rounds: 5,
        binary: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--events" => args.events = value("--events")?.parse().map_err(|e| format!("--events: {e}"))?,
            "--seconds" => args.seconds = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value("--dir")?),
            "--binary" => args.binary = Some(PathBuf::from(value("--binary")?)),
            "--json" => args.json = true,
            "--rounds" => args.rounds = value("--rounds")?.parse::<usize>().map_err(|e| format!("--rounds: {e}"))?.max(1),
            "--child" => {
                args.child_mode = Some(match value("--child")?.as_str() {
                    "plain" => Mode::Plain,
                    "loop" => Mode::Loop,
                    "runtime" => Mode::Runtime,
                    other => return Err(format!("--child plain|loop|runtime, not {other}")),
                })
            }
            "all" => args.workloads.extend(ALL.map(String::from)),
            w if ALL.contains(&w) => args.workloads.push(a),
            other => return Err(format!("unknown argument `{other}` (workloads: all {}; --events N --seconds S --rounds R --dir D --binary PATH --json)", ALL.join(" "))),
        }
    }
    if args.workloads.is_empty() {
        args.workloads = ALL.map(String::from).to_vec();
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
            match startup::measure(&args.dir, args.rounds, args.binary.as_deref()) {
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
        let modes: &[Mode] = match w.as_str() {
            "w1" | "w1f" => &[
                Mode::Plain,
                Mode::Loop,
                Mode::Runtime,
                Mode::Binary,
                Mode::BinaryBare,
            ],
            "w2" => &[Mode::Loop, Mode::Runtime],
            _ => &[Mode::Runtime],
        };
        let bin = if modes.contains(&Mode::Binary) {
            match binary::locate(args.binary.as_deref()) {
                Ok(b) => Some(b),
                Err(e) => {
                    eprintln!("{w}: {e}");
                    return ExitCode::from(1);
                }
            }
        } else {
            None
        };
        // W1f's input is written once, before any timing.
        let input = if w == "w1f" {
            match workloads::input_file(&args.dir, args.events) {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("{w}: {e}");
                    return ExitCode::from(1);
                }
            }
        } else {
            None
        };
        // Rounds alternate the modes, so a slow spell of this shared machine
        // hits all of them; each mode is reported by its median run.
        let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); modes.len()];
        for _ in 0..args.rounds {
            for (i, &mode) in modes.iter().enumerate() {
                let measured = match (mode, &bin) {
                    (Mode::Binary | Mode::BinaryBare, Some(bin)) => {
                        binary::run(bin, w, mode, args.events, input.as_deref(), &args.dir)
                    }
                    _ => spawn_child(&args, w, mode),
                };
                match measured {
                    Ok(m) => runs[i].push(m),
                    Err(e) => {
                        eprintln!("{w} ({}): {e}", mode.name());
                        return ExitCode::from(1);
                    }
                }
            }
        }
        let medians: Vec<Measured> = runs.iter().map(|r| median(r)).collect();
        print!("{}", render::render(w, &medians, &runs));
        if let Some(bin) = bin.as_deref().filter(|b| binary::is_debug_build(b)) {
            println!(
                "{w:<4} note: {} is a debug build; its figures say nothing about speed (build the release one: `cargo build --release -p rivven-connect-cli --bin rivven-connect`)",
                bin.display()
            );
        }
        println!();
        if let Err(e) = same_job(&medians) {
            eprintln!("{w}: {e}");
            return ExitCode::from(1);
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

/// Every mode doing the job wrote the same number of events; without the
/// transforms, every event.
fn same_job(medians: &[Measured]) -> Result<(), String> {
    let mut job = medians.iter().filter(|m| m.mode != Mode::BinaryBare);
    if let Some(first) = job.next() {
        for m in job {
            if m.events_out != first.events_out {
                return Err(format!(
                    "{} wrote {} events, {} {}: they do not do the same job",
                    first.mode.name(),
                    first.events_out,
                    m.mode.name(),
                    m.events_out
                ));
            }
        }
    }
    for m in medians.iter().filter(|m| m.mode == Mode::BinaryBare) {
        if m.events_out != m.events_in {
            return Err(format!(
                "without transforms the binary wrote {} of {} events",
                m.events_out, m.events_in
            ));
        }
    }
    Ok(())
}

fn spawn_child(args: &Args, workload: &str, mode: Mode) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let done = process::run(
        Command::new(exe)
            .args([
                workload,
                "--child",
                mode.name(),
                "--events",
                &args.events.to_string(),
                "--seconds",
                &args.seconds.to_string(),
            ])
            .arg("--dir")
            .arg(&args.dir),
    )
    .map_err(|e| e.to_string())?;
    if !done.status.success() {
        return Err(String::from_utf8_lossy(&done.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&done.stdout);
    let mut m: Measured =
        serde_json::from_str(text.trim()).map_err(|e| format!("child output `{text}`: {e}"))?;
    m.process_seconds = done.wall_seconds;
    m.cpu_seconds = done.cpu_seconds;
    // `peak_rss` stays the child's own `VmHWM`: `wait4`'s figure also counts
    // this process's memory at the spawn.
    Ok(m)
}

/// The run with the median time (whole process).
fn median(runs: &[Measured]) -> Measured {
    let mut sorted: Vec<&Measured> = runs.iter().collect();
    sorted.sort_by(|a, b| a.process_seconds.total_cmp(&b.process_seconds));
    sorted[sorted.len() / 2].clone()
}
