//! [`Nats`]: a private `nats-server` with JetStream.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::process::{find_system_binary, service_dir};
use super::ready::tcp_exchange;
use super::server::{Launcher, Server};
use super::{ServiceError, HOST};

const PACKAGE: &str = "nats-server";
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A private NATS server with JetStream enabled (Debian package `nats-server`).
///
/// No monitoring, cluster or leaf-node ports are opened. JetStream keeps its
/// streams in [`store_dir`](Self::store_dir); what it has written there
/// survives [`kill`](Self::kill) + [`restart`](Self::restart) (it acknowledges
/// a publish before the write reaches the file, so a test that kills right
/// after publishing should first wait for the data to be on disk).
#[derive(Debug)]
pub struct Nats {
    // Declared first: the server stops before its directory is removed.
    server: Server<NatsLauncher>,
    dir: TempDir,
}

#[derive(Debug)]
struct NatsLauncher {
    binary: PathBuf,
    dir: PathBuf,
    /// A configuration file (credentials, TLS) passed with `-c`.
    config: Option<PathBuf>,
    /// Whether the client port requires TLS.
    tls: bool,
}

impl NatsLauncher {
    fn store_dir(&self) -> PathBuf {
        self.dir.join("jetstream")
    }
}

impl Launcher for NatsLauncher {
    const SERVICE: &'static str = "nats";

    fn command(&self, port: u16) -> Result<Command, ServiceError> {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(&self.dir)
            .args(["-a", HOST, "-p", &port.to_string(), "-js", "-sd"])
            .arg(self.store_dir())
            .arg("-P")
            .arg(self.dir.join("nats.pid"));
        if let Some(config) = &self.config {
            command.arg("-c").arg(config);
        }
        Ok(command)
    }

    fn probe(&self, port: u16) -> impl std::future::Future<Output = bool> + Send {
        // A NATS server greets every client with `INFO {...}`.
        tcp_exchange(port, b"", b"INFO ")
    }
}

/// The `tls` block of a server configuration: the server's certificate,
/// and with `client_ca` the verification of the clients' certificates.
fn tls_block(certs: &super::TestCertificates, client_ca: Option<&Path>) -> String {
    // A JSON string is a valid NATS configuration string.
    let quote = |p: &Path| serde_json::Value::String(p.display().to_string()).to_string();
    let verify = match client_ca {
        Some(ca) => format!("  ca_file: {}\n  verify: true\n", quote(ca)),
        None => String::new(),
    };
    format!(
        "tls {{\n  cert_file: {}\n  key_file: {}\n{verify}  timeout: 5\n}}\n",
        quote(&certs.cert),
        quote(&certs.key)
    )
}

impl Nats {
    /// Start a private NATS server with JetStream and wait until it greets
    /// clients.
    pub async fn start() -> Result<Self, ServiceError> {
        Self::launch(None, false).await
    }

    /// Start a private NATS server with JetStream that accepts only the
    /// user `username` with `password` (and the JetStream API for them).
    pub async fn start_with_auth(username: &str, password: &str) -> Result<Self, ServiceError> {
        // A JSON string is a valid NATS configuration string.
        let quote = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        let config = format!(
            "authorization {{\n  users = [\n    {{ user: {}, password: {} }}\n  ]\n}}\n",
            quote(username),
            quote(password)
        );
        Self::launch(Some(config), false).await
    }

    /// Start a private NATS server with JetStream whose clients must use
    /// TLS, with the server certificate of `certs` (see [`url`](Self::url)).
    pub async fn start_with_tls(certs: &super::TestCertificates) -> Result<Self, ServiceError> {
        Self::launch(Some(tls_block(certs, None)), true).await
    }

    /// Like [`start_with_tls`](Self::start_with_tls), and clients must
    /// present a certificate that chains to `client_ca` (PEM): mutual TLS.
    pub async fn start_with_mutual_tls(
        certs: &super::TestCertificates,
        client_ca: &Path,
    ) -> Result<Self, ServiceError> {
        Self::launch(Some(tls_block(certs, Some(client_ca))), true).await
    }

    async fn launch(config: Option<String>, tls: bool) -> Result<Self, ServiceError> {
        let binary = find_system_binary("nats-server", PACKAGE)?;
        let dir = service_dir("nats")?;
        let config = match config {
            Some(text) => {
                let path = dir.path().join("nats.conf");
                std::fs::write(&path, text)
                    .map_err(|e| ServiceError::io(format!("writing {}", path.display()), e))?;
                Some(path)
            }
            None => None,
        };
        let launcher = NatsLauncher {
            binary,
            dir: dir.path().to_path_buf(),
            config,
            tls,
        };
        let server = Server::start(launcher, &dir.path().join("nats.log")).await?;
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

    /// `nats://127.0.0.1:<port>` (`tls://` when the server requires TLS).
    pub fn url(&self) -> String {
        let scheme = if self.server.launcher().tls {
            "tls"
        } else {
            "nats"
        };
        format!("{scheme}://{HOST}:{}", self.port())
    }

    /// `NATS_URL`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("NATS_URL".into(), self.url())]
    }

    /// The JetStream store directory.
    pub fn store_dir(&self) -> PathBuf {
        self.server.launcher().store_dir()
    }

    /// The server's temporary directory (holds the store and the log).
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

    /// Start again on the same port and store (after a clean `SIGTERM`
    /// shutdown if it is running).
    pub async fn restart(&mut self) -> Result<(), ServiceError> {
        self.server.stop("TERM", STOP_GRACE).await;
        self.server.relaunch().await
    }
}
