//! [`Moto`]: a private S3 server (`moto_server` of the PyPI package
//! `moto[server]`, from the test clients' venv).

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::process::service_dir;
use super::python::{test_venv, TEST_VENV_INSTALL, TEST_VENV_VAR};
use super::ready::tcp_exchange;
use super::server::{Launcher, Server};
use super::{ServiceError, HOST};

/// Access key id moto accepts (it accepts any; requests are still signed).
pub const MOTO_ACCESS_KEY_ID: &str = "rivventestkey";
/// Secret access key of [`MOTO_ACCESS_KEY_ID`].
pub const MOTO_SECRET_ACCESS_KEY: &str = "rivventestsecret";

/// A private S3 server: `moto_server -H 127.0.0.1 -p PORT`, state in memory.
///
/// Requests are SigV4-signed by the clients; moto checks the signature
/// format, not the key (see [`MOTO_ACCESS_KEY_ID`]). The venv's `boto3`
/// reads back what a connector wrote ([`Moto::boto3_env`]).
#[derive(Debug)]
pub struct Moto {
    // Declared first: the server stops before its directory is removed.
    server: Server<MotoLauncher>,
    dir: TempDir,
}

#[derive(Debug)]
struct MotoLauncher {
    binary: PathBuf,
    dir: PathBuf,
    authenticate: bool,
}

impl Launcher for MotoLauncher {
    const SERVICE: &'static str = "moto";

    fn command(&self, port: u16) -> Result<Command, ServiceError> {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(&self.dir)
            .args(["-H", HOST, "-p", &port.to_string()]);
        if self.authenticate {
            // moto checks credentials against its IAM from the first request on.
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        Ok(command)
    }

    fn probe(&self, port: u16) -> impl std::future::Future<Output = bool> + Send {
        tcp_exchange(port, b"GET /moto-api/ HTTP/1.0\r\n\r\n", b"HTTP/1.")
    }
}

impl Moto {
    /// Start a private moto S3 server and wait until it answers HTTP.
    /// Fails (naming the package and the install command) when the venv has
    /// no `moto_server`.
    pub async fn start() -> Result<Self, ServiceError> {
        Self::launch(false).await
    }

    /// Like [`start`](Self::start), but moto authenticates every request
    /// against its IAM (which knows no keys): every request is denied
    /// (`403 InvalidAccessKeyId`), for testing refused credentials.
    pub async fn start_authenticating() -> Result<Self, ServiceError> {
        Self::launch(true).await
    }

    async fn launch(authenticate: bool) -> Result<Self, ServiceError> {
        let venv = test_venv();
        let binary = venv.join("bin/moto_server");
        if !binary.is_file() {
            return Err(ServiceError::Setup {
                service: "moto",
                message: format!(
                    "no moto_server in the venv at {} (${TEST_VENV_VAR}): install the PyPI \
                     package `moto[server]` with `{TEST_VENV_INSTALL}`",
                    venv.display()
                ),
            });
        }
        let dir = service_dir("moto")?;
        let launcher = MotoLauncher {
            binary,
            dir: dir.path().to_path_buf(),
            authenticate,
        };
        let server = Server::start(launcher, &dir.path().join("moto.log")).await?;
        Ok(Self { server, dir })
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{HOST}:{}", self.port())
    }

    /// Environment for the venv's `boto3` (endpoint, keys, region):
    /// `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_DEFAULT_REGION`.
    pub fn boto3_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_ACCESS_KEY_ID".into(), MOTO_ACCESS_KEY_ID.into()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                MOTO_SECRET_ACCESS_KEY.into(),
            ),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
        ]
    }

    /// The server's log file (its stdout and stderr: one line per request).
    pub fn log_path(&self) -> &Path {
        self.server.log()
    }

    /// Its temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `SIGKILL` the server (its buckets are gone with it).
    pub fn kill(&mut self) {
        self.server.kill();
    }
}
