//! Shared process handling for the private servers: binary lookup, their
//! directories, setup commands, the server process with its log file,
//! signals and `/proc` look-ups.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::ServiceError;

const POLL_INTERVAL: Duration = Duration::from_millis(25);
const LOG_TAIL_LINES: usize = 40;
const LOG_TAIL_BYTES: u64 = 16 * 1024;

/// See [`super::find_binary`].
pub(super) fn find_binary(
    binary: &str,
    dirs: &[PathBuf],
    search_path: bool,
    package: &'static str,
) -> Result<PathBuf, ServiceError> {
    let mut looked_in: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    if search_path {
        looked_in.push("$PATH".into());
    }
    find_binary_described(binary, dirs, search_path, &looked_in.join(", "), package)
}

/// A binary from a Debian package: `/usr/sbin`, `/usr/bin`, then `$PATH`.
pub(super) fn find_system_binary(
    binary: &str,
    package: &'static str,
) -> Result<PathBuf, ServiceError> {
    find_binary(
        binary,
        &[PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")],
        true,
        package,
    )
}

/// Like [`find_binary`], with a short description of `dirs` for the error.
pub(super) fn find_binary_described(
    binary: &str,
    dirs: &[PathBuf],
    search_path: bool,
    looked_in: &str,
    package: &'static str,
) -> Result<PathBuf, ServiceError> {
    let path_dirs = if search_path {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    dirs.iter()
        .chain(path_dirs.iter())
        .map(|dir| dir.join(binary))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| ServiceError::MissingBinary {
            binary: binary.to_string(),
            looked_in: looked_in.to_string(),
            package,
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether this process runs with effective uid 0 (from `/proc/self/status`).
pub(super) fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Whether the OS user `name` exists (from `/etc/passwd`).
pub(super) fn os_user_exists(name: &str) -> bool {
    fs::read_to_string("/etc/passwd")
        .is_ok_and(|passwd| passwd.lines().any(|l| l.split(':').next() == Some(name)))
}

/// A fresh temporary directory for one server, named after it.
pub(super) fn service_dir(service: &str) -> Result<TempDir, ServiceError> {
    service_dir_in(service, &std::env::temp_dir())
}

/// A fresh directory for one server in `parent`, named after it.
pub(super) fn service_dir_in(service: &str, parent: &Path) -> Result<TempDir, ServiceError> {
    tempfile::Builder::new()
        .prefix(&format!("rivven-{service}-"))
        .tempdir_in(parent)
        .map_err(|e| {
            let context = format!("{service}: create a directory in {}", parent.display());
            ServiceError::io(context, e)
        })
}

/// Whether users other than the owner may enter `dir` and its ancestors.
pub(super) fn others_can_traverse(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    dir.ancestors()
        .all(|d| fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// Run a preparation command (e.g. `initdb`) to completion, its output
/// appended to `log`. Runs on a blocking thread.
pub(super) async fn run_setup(
    service: &'static str,
    mut command: Command,
    log: &Path,
) -> Result<(), ServiceError> {
    let shown = format!("{command:?}");
    tracing::debug!(service, command = %shown, "running setup command");
    let (stdout, stderr, start) = log_stdio(service, log)?;
    command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .map_err(|e| {
            ServiceError::io(
                format!("{service}: wait for `{shown}`"),
                std::io::Error::other(e),
            )
        })?
        .map_err(|e| ServiceError::io(format!("{service}: run `{shown}`"), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(ServiceError::Command {
            service,
            command: shown,
            status: status.to_string(),
            output_tail: log_tail_from(log, start),
        })
    }
}

fn log_stdio(service: &str, log: &Path) -> Result<(File, File, u64), ServiceError> {
    let context = || format!("{service}: open log file {}", log.display());
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| ServiceError::io(context(), e))?;
    let start = file.metadata().map(|m| m.len()).unwrap_or(0);
    let second = file
        .try_clone()
        .map_err(|e| ServiceError::io(context(), e))?;
    Ok((file, second, start))
}

/// The last lines of `log` written at or after byte `start`.
pub(super) fn log_tail_from(log: &Path, start: u64) -> String {
    let Ok(mut file) = File::open(log) else {
        return format!("(no log at {})", log.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let from = start.max(len.saturating_sub(LOG_TAIL_BYTES));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(from)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return format!("(could not read {})", log.display());
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// A running (or already reaped) server process; killed and reaped on drop.
#[derive(Debug)]
pub(super) struct ServerProcess {
    service: &'static str,
    child: Option<Child>,
    log: PathBuf,
    log_start: u64,
}

impl ServerProcess {
    /// Spawn `command` with stdin closed and stdout/stderr appended to `log`.
    pub(super) fn spawn(
        service: &'static str,
        mut command: Command,
        log: &Path,
    ) -> Result<Self, ServiceError> {
        let (stdout, stderr, log_start) = log_stdio(service, log)?;
        command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        let child = command
            .spawn()
            .map_err(|e| ServiceError::io(format!("{service}: spawn {command:?}"), e))?;
        tracing::debug!(service, pid = child.id(), command = ?command, "spawned server");
        Ok(Self {
            service,
            child: Some(child),
            log: log.to_path_buf(),
            log_start,
        })
    }

    /// The pid while the process has not been reaped.
    pub(super) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The exit status if the process has exited (it is then reaped).
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// Whether the process is still running.
    pub(super) fn is_running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// `SIGKILL` the process and reap it.
    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            tracing::debug!(service = self.service, pid = child.id(), "SIGKILL");
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Send `signal` (a name for `kill -s`, e.g. `TERM`) and wait up to
    /// `grace` for the process to exit; `SIGKILL` it after that.
    pub(super) async fn stop(&mut self, signal: &str, grace: Duration) {
        if self.send(signal) {
            let deadline = Instant::now() + grace;
            while self.is_running() && Instant::now() < deadline {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        self.kill();
    }

    /// Like [`stop`](Self::stop), blocking (for `Drop`).
    pub(super) fn stop_blocking(&mut self, signal: &str, grace: Duration) {
        if self.send(signal) {
            let deadline = Instant::now() + grace;
            while self.is_running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.kill();
    }

    /// Send `signal`; true if it was delivered. The child is not reaped yet,
    /// so its pid cannot have been reused.
    fn send(&mut self, signal: &str) -> bool {
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            return false;
        };
        tracing::debug!(service = self.service, pid, signal, "signal");
        signal_pids(signal, &[pid])
    }

    /// The server's name, e.g. `postgres`.
    pub(super) fn service(&self) -> &'static str {
        self.service
    }

    /// The log file the process writes to.
    pub(super) fn log(&self) -> &Path {
        &self.log
    }

    /// The last lines this process wrote to its log.
    pub(super) fn log_tail(&self) -> String {
        log_tail_from(&self.log, self.log_start)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Send `signal` to `pids` with `kill -s` (std has no `kill(2)` and this crate
/// has no unsafe code); true if `kill` succeeded.
pub(super) fn signal_pids(signal: &str, pids: &[u32]) -> bool {
    if pids.is_empty() {
        return false;
    }
    Command::new("kill")
        .arg("-s")
        .arg(signal)
        .args(pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The pids of all processes whose working directory is `dir`.
pub(super) fn pids_with_cwd(dir: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn missing_binary_names_the_debian_package() {
        let empty = tempfile::tempdir().unwrap();
        let err = find_binary_described(
            "initdb",
            &[empty.path().to_path_buf()],
            false,
            "/usr/lib/postgresql/*/bin",
            "postgresql",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`initdb` not found (looked in /usr/lib/postgresql/*/bin): \
             install the Debian package `postgresql`"
        );
    }

    #[test]
    fn finds_an_executable_in_the_given_dirs_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("not-executable");
        fs::write(&plain, "").unwrap();
        let exe = dir.path().join("tool");
        fs::write(&exe, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        let dirs = [dir.path().to_path_buf()];
        assert_eq!(find_binary("tool", &dirs, false, "pkg").unwrap(), exe);
        assert!(find_binary("not-executable", &dirs, false, "pkg").is_err());
    }

    #[test]
    fn log_tail_keeps_the_last_lines_after_the_start_offset() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        fs::write(&log, "old\n").unwrap();
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let mut all = fs::read(&log).unwrap();
        all.extend_from_slice(text.as_bytes());
        fs::write(&log, all).unwrap();
        let tail = log_tail_from(&log, 4);
        assert!(tail.ends_with("line 99"));
        assert!(!tail.contains("old"));
        assert_eq!(tail.lines().count(), LOG_TAIL_LINES);
    }
}
