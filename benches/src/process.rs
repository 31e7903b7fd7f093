//! Whole-process measurements: wall time from spawn to exit, CPU time
//! (user + system, all threads) and peak RSS of one child process, read with
//! `wait4` when it exits.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

/// What one child process cost.
#[derive(Debug)]
pub struct Finished {
    /// How it exited.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
    /// Seconds from spawn to exit.
    pub wall_seconds: f64,
    /// User + system CPU seconds.
    pub cpu_seconds: f64,
    /// Peak resident set, bytes. Linux counts the memory of the parent at
    /// the spawn in it (the exec'd image inherits its high-water mark), so
    /// keep the parent small, or prefer the child's own `VmHWM`.
    pub peak_rss: u64,
}

/// Run `cmd` to completion with its stdout and stderr captured.
pub fn run(cmd: &mut Command) -> std::io::Result<Finished> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let pid = i32::try_from(child.id()).map_err(std::io::Error::other)?;
    let (status, usage) = wait4(pid)?;
    let wall_seconds = started.elapsed().as_secs_f64();
    Ok(Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        wall_seconds,
        cpu_seconds: usage.cpu_seconds,
        peak_rss: usage.max_rss_kib.saturating_mul(1024),
    })
}

struct Usage {
    cpu_seconds: f64,
    max_rss_kib: u64,
}

/// Reap `pid` and read its resource usage (std's `Child::wait` discards it).
#[allow(unsafe_code)]
fn wait4(pid: i32) -> std::io::Result<(ExitStatus, Usage)> {
    use std::os::unix::process::ExitStatusExt;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero
    // bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the types
        // `wait4` expects; `pid` is our own unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((
        ExitStatus::from_raw(status),
        Usage {
            cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
            // Linux reports kibibytes.
            max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        },
    ))
}
