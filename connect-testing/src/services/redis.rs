//! [`Redis`]: a private `redis-server` with an append-only file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::process::{find_system_binary, service_dir};
use super::ready::tcp_exchange;
use super::server::{Launcher, Server};
use super::{ServiceError, HOST};

const PACKAGE: &str = "redis-server";
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A private Redis server (Debian package `redis-server`).
///
/// Runs with `appendonly yes` and `appendfsync always`: every write is in the
/// append-only file before Redis replies, so acknowledged keys survive
/// [`kill`](Self::kill) + [`restart`](Self::restart). RDB snapshots are off.
#[derive(Debug)]
pub struct Redis {
    // Declared first: the server stops before its directory is removed.
    server: Server<RedisLauncher>,
    dir: TempDir,
}

#[derive(Debug)]
struct RedisLauncher {
    binary: PathBuf,
    dir: PathBuf,
    /// `Some((certificate, key))`: the port speaks TLS only.
    tls: Option<(PathBuf, PathBuf)>,
}

impl Launcher for RedisLauncher {
    const SERVICE: &'static str = "redis";

    fn command(&self, port: u16) -> Result<Command, ServiceError> {
        let mut command = Command::new(&self.binary);
        command.current_dir(&self.dir);
        match &self.tls {
            None => command.args(["--port", &port.to_string()]),
            Some((cert, key)) => command
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .args(["--tls-auth-clients", "no"]),
        };
        command
            .args(["--bind", HOST])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--daemonize", "no"]);
        Ok(command)
    }

    fn probe(&self, port: u16) -> impl std::future::Future<Output = bool> + Send {
        // While it loads the append-only file Redis answers `-LOADING`; a
        // TLS port answers no plain PING: accepting is the sign.
        let (request, reply): (&'static [u8], &'static [u8]) = match self.tls {
            None => (b"PING\r\n", b"+PONG\r\n"),
            Some(_) => (b"", b""),
        };
        tcp_exchange(port, request, reply)
    }
}

impl Redis {
    /// Start a private Redis and wait until it answers `PING`.
    pub async fn start() -> Result<Self, ServiceError> {
        Self::launch(None).await
    }

    /// Start a private Redis whose port speaks TLS only, with this
    /// certificate and key (PEM, e.g. from
    /// [`TestCertificates`](super::TestCertificates)); clients need no
    /// certificate of their own.
    pub async fn start_with_tls(
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Result<Self, ServiceError> {
        Self::launch(Some((cert.into(), key.into()))).await
    }

    async fn launch(tls: Option<(PathBuf, PathBuf)>) -> Result<Self, ServiceError> {
        let binary = find_system_binary("redis-server", PACKAGE)?;
        let dir = service_dir("redis")?;
        let launcher = RedisLauncher {
            binary,
            dir: dir.path().to_path_buf(),
            tls,
        };
        let server = Server::start(launcher, &dir.path().join("redis.log")).await?;
        Ok(Self { server, dir })
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `redis://127.0.0.1:<port>/` (`rediss://` with TLS).
    pub fn url(&self) -> String {
        let scheme = match self.server.launcher().tls {
            None => "redis",
            Some(_) => "rediss",
        };
        format!("{scheme}://{HOST}:{}/", self.port())
    }

    /// `REDIS_URL`, `REDIS_HOST` and `REDIS_PORT`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("REDIS_URL".into(), self.url()),
            ("REDIS_HOST".into(), HOST.into()),
            ("REDIS_PORT".into(), self.port().to_string()),
        ]
    }

    /// The data directory (holds `appendonlydir/`).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log file (its stdout and stderr).
    pub fn log_path(&self) -> &Path {
        self.server.log()
    }

    /// The server's pid while it runs.
    pub fn pid(&mut self) -> Option<u32> {
        self.server.pid()
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.server.is_running()
    }

    /// `SIGKILL` the server (a crash): connections fail until
    /// [`restart`](Self::restart).
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// Start again on the same port and data directory (after a clean
    /// `SIGTERM` shutdown if it is running).
    pub async fn restart(&mut self) -> Result<(), ServiceError> {
        self.server.stop("TERM", STOP_GRACE).await;
        self.server.relaunch().await
    }
}
