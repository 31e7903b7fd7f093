//! `Mode::Binary` / `Mode::BinaryBare`: the W1/W1f job through the real
//! `rivven-connect` binary on a YAML file (`<dir>/w1file.yaml`, `w1.yaml`,
//! and the same without the two transforms, `*-bare.yaml`), default settings
//! otherwise (file offsets under a fresh `data_dir`, sink batching, `fsync`).
//! Wall, CPU and peak RSS are the binary process's own (see [`process`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::process;
use crate::workloads::{Measured, Mode};

/// The configuration of the job: `input` is the W1f JSONL file, or `None`
/// for W1's datagen source (`n` orders, seed 42, unlimited rate).
pub fn yaml(
    input: Option<&Path>,
    n: u64,
    output: &Path,
    data_dir: &Path,
    transforms: bool,
) -> String {
    let q = |p: &Path| serde_json::to_string(&p.display().to_string()).unwrap_or_default();
    let source = match input {
        Some(path) => format!("    connector: file\n    config: {{ path: {} }}\n", q(path)),
        None => format!(
            "    connector: datagen\n    config: {{ pattern: orders, events_per_second: 0, max_events: {n}, seed: 42 }}\n"
        ),
    };
    let (defs, list) = if transforms {
        (
            "transforms:\n  drop-cancelled:\n    type: filter\n    config: { condition: \"status != 'cancelled'\" }\n  hide-email:\n    type: mask_field\n    config: { fields: [customer_email], replacement: \"***\" }\n",
            "    transforms: [drop-cancelled, hide-email]\n",
        )
    } else {
        ("", "")
    };
    format!(
        "version: \"1.0\"\nsources:\n  orders:\n{source}{defs}sinks:\n  out:\n    connector: file\n    config: {{ path: {} }}\npipelines:\n  job:\n    source: orders\n    sink: out\n{list}data_dir: {}\n",
        q(output),
        q(data_dir)
    )
}

/// Run `bin` on the job of `workload` (`w1` or `w1f`) in `mode` (`Binary`
/// or `BinaryBare`); files under `dir`.
pub fn run(
    bin: &Path,
    workload: &str,
    mode: Mode,
    n: u64,
    input: Option<&Path>,
    dir: &Path,
) -> Result<Measured, String> {
    let transforms = mode == Mode::Binary;
    let stem = match (workload, transforms) {
        ("w1f", true) => "w1file".to_string(),
        ("w1f", false) => "w1file-bare".to_string(),
        (w, true) => w.to_string(),
        (w, false) => format!("{w}-bare"),
    };
    let config = dir.join(format!("{stem}.yaml"));
    let output = dir.join(format!("{stem}.jsonl"));
    let data_dir = dir.join(format!("{stem}-data"));
    let _ = std::fs::remove_file(&output);
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::write(&config, yaml(input, n, &output, &data_dir, transforms))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    let done = process::run(Command::new(bin).args(["-q", "run", "-c"]).arg(&config))
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !done.status.success() {
        return Err(format!(
            "{} run -c {} failed ({}): {}",
            bin.display(),
            config.display(),
            done.status,
            String::from_utf8_lossy(&done.stderr)
        ));
    }
    let (lines, bytes) = count_lines(&output).map_err(|e| format!("{}: {e}", output.display()))?;
    Ok(Measured {
        workload: workload.to_string(),
        mode,
        events_in: n,
        events_out: lines,
        bytes_out: bytes,
        seconds: done.wall_seconds,
        process_seconds: done.wall_seconds,
        cpu_seconds: done.cpu_seconds,
        peak_rss: done.peak_rss,
        extra: Value::Null,
    })
}

/// Lines and bytes of `path`, read in chunks: the harness stays small, since a
/// child's peak RSS (`wait4`) is at least the parent's at the spawn.
fn count_lines(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut lines, mut bytes) = (0u64, 0u64);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((lines, bytes));
        }
        bytes += n as u64;
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// The `rivven-connect` binary: `explicit` (`--binary`), else the one next to
/// this executable (the same profile: `target/release/rivven-connect` for a
/// release harness); an error naming the build command when it is missing.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.exists() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("--binary {}: no such file", path.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().ok_or("no directory")?;
    let path = dir.join("rivven-connect");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it first with `cargo build{} -p rivven-connect-cli --bin rivven-connect`",
            path.display(),
            if dir.ends_with("release") {
                " --release"
            } else {
                ""
            }
        ))
    }
}

/// Whether `bin` is a debug build (a `target/debug` path): its figures say
/// nothing about speed (CI runs it only so the job cannot rot).
pub fn is_debug_build(bin: &Path) -> bool {
    bin.parent().is_some_and(|d| d.ends_with("debug"))
}
