//! [`MariaDb`]: a private MariaDB server with the binary log on (`ROW`, full
//! row metadata), as change-data-capture needs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::process::{find_system_binary, is_root, run_setup, service_dir};
use super::ready::command_succeeds;
use super::server::{Launcher, Server};
use super::{ServiceError, HOST};

const PACKAGE: &str = "mariadb-server";
const STOP_GRACE: Duration = Duration::from_secs(30);
/// Small InnoDB files and buffers: tests start many servers.
const INNODB_OPTIONS: [&str; 3] = [
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--innodb-use-native-aio=0",
];

/// A private MariaDB server (Debian package `mariadb-server`).
///
/// `root` logs in over TCP with an empty password. The binary log is on
/// (`log_bin=1`, `binlog_format=ROW`, `binlog_row_metadata=FULL`) with a
/// server id unique among the servers running here. Committed rows survive
/// [`kill`](Self::kill) + [`restart`](Self::restart) (InnoDB crash recovery).
#[derive(Debug)]
pub struct MariaDb {
    // Declared first: the server stops before its directory is removed.
    server: Server<MariaDbLauncher>,
    dir: TempDir,
}

/// Options for a [`MariaDb`] before it starts.
#[derive(Debug, Default, Clone)]
pub struct MariaDbBuilder {
    options: Vec<(String, String)>,
}

impl MariaDbBuilder {
    /// Pass `--<name>=<value>` to `mariadbd`, after (so overriding) the
    /// defaults, e.g. `.option("binlog-format", "STATEMENT")` to test a
    /// connector's "binlog_format is not ROW" error.
    pub fn option(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((name.into(), value.into()));
        self
    }

    /// Initialize a data directory, start the server and wait until it
    /// answers `mariadb-admin ping`.
    pub async fn start(self) -> Result<MariaDb, ServiceError> {
        let install = find_system_binary("mariadb-install-db", PACKAGE)?;
        let mariadbd = find_system_binary("mariadbd", PACKAGE)?;
        let admin = find_system_binary("mariadb-admin", PACKAGE)?;
        let dir = service_dir("mariadb")?;
        let launcher = MariaDbLauncher {
            mariadbd,
            admin,
            dir: dir.path().to_path_buf(),
            as_root: is_root(),
            options: self.options,
        };
        let log = dir.path().join("mariadbd.log");
        let mut init = Command::new(install);
        init.current_dir(dir.path())
            .arg("--no-defaults")
            .arg(format!("--datadir={}", launcher.data_dir().display()))
            // Its own temporary directory: parallel installs collide in /tmp.
            .arg(format!("--tmpdir={}", dir.path().display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ])
            .args(INNODB_OPTIONS);
        if launcher.as_root {
            init.arg("--user=root");
        }
        run_setup(MariaDbLauncher::SERVICE, init, &log).await?;
        let server = Server::start(launcher, &log).await?;
        Ok(MariaDb { server, dir })
    }
}

#[derive(Debug)]
struct MariaDbLauncher {
    mariadbd: PathBuf,
    admin: PathBuf,
    dir: PathBuf,
    as_root: bool,
    options: Vec<(String, String)>,
}

impl MariaDbLauncher {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}

/// Unique among the servers running on this machine: the port is ours while
/// the server runs, and the pid tells processes apart.
fn server_id(port: u16) -> u32 {
    ((std::process::id() & 0x7fff) << 16) | u32::from(port)
}

impl Launcher for MariaDbLauncher {
    const SERVICE: &'static str = "mariadb";

    fn command(&self, port: u16) -> Result<Command, ServiceError> {
        let dir = &self.dir;
        let mut command = Command::new(&self.mariadbd);
        command
            .current_dir(dir)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir().display()))
            .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .arg(format!("--tmpdir={}", dir.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--bind-address={HOST}"))
            .arg(format!("--log-bin={}", dir.join("binlog").display()))
            .args(["--binlog-format=ROW", "--binlog-row-metadata=FULL"])
            .arg(format!("--server-id={}", server_id(port)))
            .args(["--skip-name-resolve", "--character-set-server=utf8mb4"])
            .args(INNODB_OPTIONS);
        if self.as_root {
            command.arg("--user=root");
        }
        command.args(self.options.iter().map(|(k, v)| format!("--{k}={v}")));
        Ok(command)
    }

    fn probe(&self, port: u16) -> impl std::future::Future<Output = bool> + Send {
        let mut ping = Command::new(&self.admin);
        ping.arg("--no-defaults")
            .arg(format!("-h{HOST}"))
            .arg(format!("-P{port}"))
            .args(["-uroot", "--connect-timeout=2", "ping"]);
        command_succeeds(ping)
    }
}

impl MariaDb {
    /// Start a private MariaDB with the defaults; see [`MariaDb::builder`].
    pub async fn start() -> Result<Self, ServiceError> {
        Self::builder().start().await
    }

    /// Options before starting.
    pub fn builder() -> MariaDbBuilder {
        MariaDbBuilder::default()
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `root`.
    pub fn user(&self) -> &str {
        "root"
    }

    /// The empty password of [`user`](Self::user).
    pub fn password(&self) -> &str {
        ""
    }

    /// The binary log's `server_id`.
    pub fn server_id(&self) -> u32 {
        server_id(self.port())
    }

    /// `mysql://root@127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("mysql://root@{HOST}:{}/", self.port())
    }

    /// `MYSQL_URL`, `MYSQL_HOST`, `MYSQL_TCP_PORT` and `MYSQL_USER`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("MYSQL_URL".into(), self.url()),
            ("MYSQL_HOST".into(), HOST.into()),
            ("MYSQL_TCP_PORT".into(), self.port().to_string()),
            ("MYSQL_USER".into(), self.user().into()),
        ]
    }

    /// The data directory (`--datadir`).
    pub fn data_dir(&self) -> PathBuf {
        self.server.launcher().data_dir()
    }

    /// The server's Unix socket.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// The server's log file (its stdout and stderr, and `mariadb-install-db`'s).
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
    /// `SIGTERM` shutdown if it is running); InnoDB recovers after a kill.
    pub async fn restart(&mut self) -> Result<(), ServiceError> {
        self.server.stop("TERM", STOP_GRACE).await;
        self.server.relaunch().await
    }
}
