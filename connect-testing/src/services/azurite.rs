//! [`Azurite`]: a private Azure Blob Storage server (`azurite-blob` of the
//! npm package `azurite`, installed outside the clone by
//! `.ci/install-test-deps`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::process::service_dir;
use super::ready::tcp_exchange;
use super::server::{Launcher, Server};
use super::{ServiceError, HOST};

/// The emulator's well-known account name.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// The emulator's well-known account key (public, documented by Microsoft).
pub const AZURITE_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The Azurite version `.ci/install-test-deps` installs.
pub const AZURITE_VERSION: &str = "3.35.0";
/// Where Azurite is looked for: `$RIVVEN_AZURITE_DIR`, else
/// `$HOME/.cache/rivven-connect/azurite` (an npm prefix).
pub const AZURITE_DIR_VAR: &str = "RIVVEN_AZURITE_DIR";

/// A private Azure Blob server: `azurite-blob` on a free loopback port,
/// its blobs in a temporary directory, requests authenticated with the
/// well-known account ([`AZURITE_ACCOUNT`], [`AZURITE_ACCOUNT_KEY`]).
#[derive(Debug)]
pub struct Azurite {
    // Declared first: the server stops before its directory is removed.
    server: Server<AzuriteLauncher>,
    dir: TempDir,
}

#[derive(Debug)]
struct AzuriteLauncher {
    binary: PathBuf,
    dir: PathBuf,
}

impl Launcher for AzuriteLauncher {
    const SERVICE: &'static str = "azurite";

    fn command(&self, port: u16) -> Result<Command, ServiceError> {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(&self.dir)
            .args(["--blobHost", HOST, "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(self.dir.join("data"))
            .args(["--skipApiVersionCheck", "--disableTelemetry"]);
        Ok(command)
    }

    fn probe(&self, port: u16) -> impl std::future::Future<Output = bool> + Send {
        tcp_exchange(port, b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.")
    }
}

/// The `azurite-blob` binary, or an error saying how to install it.
fn find_azurite() -> Result<PathBuf, ServiceError> {
    let dir = std::env::var_os(AZURITE_DIR_VAR)
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/rivven-connect/azurite"))
        })
        .unwrap_or_else(|| PathBuf::from(".cache/rivven-connect/azurite"));
    let binary = dir.join("node_modules/.bin/azurite-blob");
    if binary.is_file() {
        return Ok(binary);
    }
    Err(ServiceError::Setup {
        service: "azurite",
        message: format!(
            "no azurite-blob under {} (${AZURITE_DIR_VAR}): install the npm package \
             `azurite` {AZURITE_VERSION} with `.ci/install-test-deps` (needs the Debian \
             package `npm`), or `npm install --prefix {} azurite@{AZURITE_VERSION}`",
            dir.display(),
            dir.display()
        ),
    })
}

impl Azurite {
    /// Start a private Azurite Blob server and wait until it answers HTTP.
    /// Fails (naming the package and the install command) when it is not
    /// installed.
    pub async fn start() -> Result<Self, ServiceError> {
        let binary = find_azurite()?;
        let dir = service_dir("azurite")?;
        let launcher = AzuriteLauncher {
            binary,
            dir: dir.path().to_path_buf(),
        };
        let server = Server::start(launcher, &dir.path().join("azurite.log")).await?;
        Ok(Self { server, dir })
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The blob endpoint of the account:
    /// `http://127.0.0.1:<port>/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("http://{HOST}:{}/{AZURITE_ACCOUNT}", self.port())
    }

    /// The connection string of the Azure SDKs (e.g. Python's
    /// `azure-storage-blob` in the test venv), in
    /// `AZURE_STORAGE_CONNECTION_STRING`.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};\
             AccountKey={AZURITE_ACCOUNT_KEY};BlobEndpoint={}",
            self.endpoint()
        )
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        self.server.log()
    }

    /// Its temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `SIGKILL` the server.
    pub fn kill(&mut self) {
        self.server.kill();
    }
}
