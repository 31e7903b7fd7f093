//! [`Rivven`]: a private Rivven broker (`rivvend`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::process::{find_binary_described, service_dir};
use super::ready::{tcp_exchange, PortReservation};
use super::server::{Launcher, Server};
use super::{ServiceError, HOST};

/// The `rivvend` version the tests run (the `rivven-client` crate of the
/// broker family has the same version).
pub const RIVVEND_VERSION: &str = "0.0.22";
/// How to install it.
pub const RIVVEND_INSTALL: &str = "cargo install rivvend --version 0.0.22 --locked";

/// `rivvend` takes ~5 s to stop on `SIGTERM`.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// A `Ping` request: length 6, then the wire format (postcard), correlation
/// id 0 and `Request::Ping` (variant 13).
const PROBE_PING: &[u8] = &[0, 0, 0, 6, 0, 0, 0, 0, 0, 13];
/// Its `Response::Pong` (variant 12).
const PROBE_PONG: &[u8] = &[0, 0, 0, 6, 0, 0, 0, 0, 0, 12];

/// A private Rivven broker (`rivvend` from
/// `cargo install rivvend --version 0.0.22 --locked`), standalone, without
/// authentication, every listener on `127.0.0.1` (the client port, and the
/// HTTP API, metrics and cluster ports, which default to `0.0.0.0`), no
/// dashboard.
///
/// What survives what (measured with 0.0.22): a [`terminate`](Self::terminate)
/// (`SIGTERM`, which takes ~5 s) keeps every acknowledged message; a
/// [`kill`](Self::kill) (`SIGKILL`) loses messages the broker had
/// acknowledged (e.g. 51 of 100 just published), because `rivvend`
/// acknowledges before its data is on disk.
///
/// ```no_run
/// use rivven_connect_testing::services::Rivven;
///
/// # async fn demo() -> Result<(), rivven_connect_testing::services::ServiceError> {
/// let mut broker = Rivven::start().await?;
/// let servers = broker.bootstrap_servers(); // ["127.0.0.1:<port>"]
/// broker.terminate().await; // SIGTERM, waits until it exited
/// broker.restart().await?; // same port, same data
/// # let _ = servers; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Rivven {
    // Declared first: the server stops before its directory is removed.
    server: Server<RivvenLauncher>,
    dir: TempDir,
}

#[derive(Debug)]
struct RivvenLauncher {
    binary: PathBuf,
    dir: PathBuf,
    api: PortReservation,
    metrics: PortReservation,
    cluster: PortReservation,
}

impl RivvenLauncher {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Launcher for RivvenLauncher {
    const SERVICE: &'static str = "rivvend";

    fn command(&self, port: u16) -> Result<Command, ServiceError> {
        let bind = |p: u16| format!("{HOST}:{p}");
        let mut command = Command::new(&self.binary);
        command
            .current_dir(&self.dir)
            .env("RUST_LOG", "info")
            .args(["--bind", &bind(port)])
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--api-bind", &bind(self.api.port())])
            .args(["--metrics-bind", &bind(self.metrics.port())])
            .args(["--cluster-bind", &bind(self.cluster.port())])
            .args(["--no-require-auth", "--no-dashboard"]);
        Ok(command)
    }

    fn probe(&self, port: u16) -> impl std::future::Future<Output = bool> + Send {
        tcp_exchange(port, PROBE_PING, PROBE_PONG)
    }
}

/// `rivvend` from `$CARGO_HOME/bin` (default `~/.cargo/bin`) or `$PATH`, of
/// [`RIVVEND_VERSION`]; otherwise an error saying how to install it.
pub fn find_rivvend() -> Result<PathBuf, ServiceError> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"));
    let dirs: Vec<PathBuf> = cargo_bin.into_iter().collect();
    find_rivvend_in(&dirs, true)
}

/// `rivvend` in `dirs` (then `$PATH` if `search_path`), of [`RIVVEND_VERSION`].
fn find_rivvend_in(dirs: &[PathBuf], search_path: bool) -> Result<PathBuf, ServiceError> {
    let looked_in = if search_path {
        "$CARGO_HOME/bin, $PATH"
    } else {
        "$CARGO_HOME/bin"
    };
    let binary = find_binary_described("rivvend", dirs, search_path, looked_in, "rivvend")
        .map_err(|_| ServiceError::Setup {
            service: "rivvend",
            message: format!(
                "`rivvend` not found (looked in {looked_in}): install it with `{RIVVEND_INSTALL}`"
            ),
        })?;
    let output = Command::new(&binary)
        .arg("--version")
        .output()
        .map_err(|e| ServiceError::io(format!("rivvend: run {} --version", binary.display()), e))?;
    let version = String::from_utf8_lossy(&output.stdout);
    if !version
        .split_whitespace()
        .any(|word| word == RIVVEND_VERSION)
    {
        return Err(ServiceError::Setup {
            service: "rivvend",
            message: format!(
                "{} is `{}`, not {RIVVEND_VERSION}: install it with `{RIVVEND_INSTALL}`",
                binary.display(),
                version.trim()
            ),
        });
    }
    Ok(binary)
}

impl Rivven {
    /// Start a private broker and wait until it answers a `Ping`.
    pub async fn start() -> Result<Self, ServiceError> {
        let binary = find_rivvend()?;
        let dir = service_dir("rivvend")?;
        let launcher = RivvenLauncher {
            binary,
            dir: dir.path().to_path_buf(),
            api: PortReservation::pick()?,
            metrics: PortReservation::pick()?,
            cluster: PortReservation::pick()?,
        };
        let server = Server::start(launcher, &dir.path().join("rivvend.log")).await?;
        Ok(Self { server, dir })
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("{HOST}:{}", self.port())
    }

    /// `[addr()]`, as the connectors' `bootstrap_servers` take it.
    pub fn bootstrap_servers(&self) -> Vec<String> {
        vec![self.addr()]
    }

    /// `RIVVEN_BOOTSTRAP_SERVERS`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("RIVVEN_BOOTSTRAP_SERVERS".into(), self.addr())]
    }

    /// The broker's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.server.launcher().data_dir()
    }

    /// The broker's temporary directory (holds the data and the log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The broker's log file (its stdout and stderr).
    pub fn log_path(&self) -> &Path {
        self.server.log()
    }

    /// The broker's pid while it runs.
    pub fn pid(&mut self) -> Option<u32> {
        self.server.pid()
    }

    /// Whether the broker process is running.
    pub fn is_running(&mut self) -> bool {
        self.server.is_running()
    }

    /// `SIGKILL` the broker (a crash; it loses messages it acknowledged):
    /// connections fail until [`restart`](Self::restart).
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// `SIGTERM` the broker and wait until it exited (a clean stop: every
    /// acknowledged message is kept). Connections fail until
    /// [`restart`](Self::restart).
    pub async fn terminate(&mut self) {
        self.server.stop("TERM", STOP_GRACE).await;
    }

    /// The same as [`terminate`](Self::terminate).
    pub async fn stop(&mut self) {
        self.terminate().await;
    }

    /// Start again on the same port and data directory (after a clean
    /// `SIGTERM` stop if it is running).
    pub async fn restart(&mut self) -> Result<(), ServiceError> {
        self.terminate().await;
        self.server.relaunch().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_rivvend_names_the_install_command() {
        let empty = tempfile::tempdir().unwrap();
        let err = find_rivvend_in(&[empty.path().to_path_buf()], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rivvend: `rivvend` not found (looked in $CARGO_HOME/bin): \
             install it with `cargo install rivvend --version 0.0.22 --locked`"
        );
    }

    #[test]
    fn another_rivvend_version_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("rivvend");
        std::fs::write(&fake, "#!/bin/sh\necho 'rivvend 0.0.21'\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = find_rivvend_in(&[dir.path().to_path_buf()], false).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("is `rivvend 0.0.21`, not 0.0.22"), "{text}");
        assert!(text.contains(RIVVEND_INSTALL), "{text}");
    }
}
