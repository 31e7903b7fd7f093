//! [`Postgres`]: a private PostgreSQL server with `wal_level=logical`, as
//! logical replication (change-data-capture) needs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::process::{
    is_root, others_can_traverse, pids_with_cwd, run_setup, service_dir_in, signal_pids,
};
use super::server::{Launcher, Server};
use super::{ServiceError, HOST};

mod launcher;

use launcher::{Binaries, PostgresLauncher, RunAs};

const PACKAGE: &str = "postgresql";
/// `initdb` and `postgres` refuse to run as root; as root we run them as this user.
const OS_USER: &str = "postgres";
const STOP_GRACE: Duration = Duration::from_secs(30);
const DROP_GRACE: Duration = Duration::from_secs(10);

/// A private PostgreSQL server (Debian package `postgresql`).
///
/// The superuser `postgres` logs in without a password (`trust`), for normal
/// and replication connections from `127.0.0.1`. Runs with
/// `wal_level=logical`, 10 replication slots and WAL senders, and `fsync=off`
/// (committed rows still survive [`kill`](Self::kill) + [`restart`](Self::restart):
/// the kernel keeps what PostgreSQL wrote). When the tests run as root the
/// server runs as the OS user `postgres`.
#[derive(Debug)]
pub struct Postgres {
    // Declared first: the server stops before its directory is removed.
    server: Server<PostgresLauncher>,
    _dir: TempDir,
}

/// Options for a [`Postgres`] before it starts.
#[derive(Debug, Default, Clone)]
pub struct PostgresBuilder {
    settings: Vec<(String, String)>,
    bin_dir: Option<PathBuf>,
    password_auth: bool,
    tls: Option<(PathBuf, PathBuf)>,
}

impl PostgresBuilder {
    /// Set a server setting (`-c name=value`), overriding the defaults, e.g.
    /// `.setting("wal_level", "replica")` to test a connector's
    /// "wal_level is not logical" error.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Roles other than the superuser log in over TCP with SCRAM-SHA-256
    /// passwords (normal and replication connections), so a test can create
    /// a role with a password and check what a wrong one does. The
    /// superuser keeps `trust`.
    pub fn password_auth(mut self) -> Self {
        self.password_auth = true;
        self
    }

    /// Serve TLS with this PEM certificate and key (`ssl = on`), and refuse
    /// every TCP connection without TLS (`hostnossl all all … reject`), so a
    /// test knows its session was encrypted. (A `replication` rule would not
    /// do: it matches physical replication only, not a logical replication
    /// session, which names its database.)
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert.into(), key.into()));
        self
    }

    /// Take `initdb`, `postgres`, `pg_isready` and `psql` from this directory
    /// only, instead of the highest `/usr/lib/postgresql/<version>/bin` and `$PATH`.
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Create a cluster with `initdb`, start the server and wait until
    /// `pg_isready` reports it accepts connections.
    pub async fn start(self) -> Result<Postgres, ServiceError> {
        let binaries = Binaries::find(self.bin_dir.as_deref())?;
        let run_as = if is_root() {
            Some(RunAs::find()?)
        } else {
            None
        };
        let mut parent = std::env::temp_dir();
        if run_as.is_some() && !others_can_traverse(&parent) {
            // `postgres` must be able to enter our directory.
            parent = PathBuf::from("/tmp");
        }
        let dir = service_dir_in("postgres", &parent)?;
        let base = dir.path();
        let io =
            |what: &str, e| ServiceError::io(format!("postgres: {what} in {}", base.display()), e);
        std::fs::create_dir(base.join("sock")).map_err(|e| io("create sock/", e))?;
        let log = base.join("postgres.log");
        std::fs::write(&log, "").map_err(|e| io("create postgres.log", e))?;
        let mut settings = self.settings;
        if let Some((cert, key)) = &self.tls {
            // Copied in before the chown below: the server reads them as `postgres`,
            // and refuses a key others can read.
            std::fs::copy(cert, base.join("server.crt"))
                .map_err(|e| io("copy the TLS certificate", e))?;
            std::fs::copy(key, base.join("server.key")).map_err(|e| io("copy the TLS key", e))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                base.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .map_err(|e| io("chmod the TLS key", e))?;
            settings.push(("ssl".into(), "on".into()));
            settings.push((
                "ssl_cert_file".into(),
                base.join("server.crt").display().to_string(),
            ));
            settings.push((
                "ssl_key_file".into(),
                base.join("server.key").display().to_string(),
            ));
        }
        if run_as.is_some() {
            // The tempdir is 0700 root; hand all of it to `postgres`.
            let mut chown = Command::new("chown");
            chown
                .arg("-R")
                .arg(format!("{OS_USER}:{OS_USER}"))
                .arg(base);
            run_setup(PostgresLauncher::SERVICE, chown, &log).await?;
        }
        let mut launcher = PostgresLauncher {
            binaries,
            run_as,
            dir: base.to_path_buf(),
            data_dir: base.join("data"),
            settings,
        };
        let mut initdb = launcher.command_for(&launcher.binaries.initdb);
        initdb
            .arg("-D")
            .arg(&launcher.data_dir)
            .args(["--auth=trust", "-U", OS_USER, "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"]);
        run_setup(PostgresLauncher::SERVICE, initdb, &log).await?;
        // Compare with /proc/<pid>/cwd later: the path the kernel reports.
        launcher.data_dir = launcher
            .data_dir
            .canonicalize()
            .map_err(|e| io("resolve data/", e))?;
        let hba = launcher.data_dir.join("pg_hba.conf");
        let mut rules = std::fs::read_to_string(&hba).map_err(|e| io("read pg_hba.conf", e))?;
        if self.password_auth {
            // First match wins: these come before initdb's `trust` lines.
            rules = format!(
                "host all {OS_USER} 127.0.0.1/32 trust\n\
                 host replication {OS_USER} 127.0.0.1/32 trust\n\
                 host all all 127.0.0.1/32 scram-sha-256\n\
                 host replication all 127.0.0.1/32 scram-sha-256\n{rules}"
            );
        }
        rules.push_str("\nhost replication all 127.0.0.1/32 trust\n");
        if self.tls.is_some() {
            // First of all: nothing over TCP without TLS.
            rules = format!("hostnossl all all 0.0.0.0/0 reject\n{rules}");
        }
        std::fs::write(&hba, rules).map_err(|e| io("write pg_hba.conf", e))?;
        let server = Server::start(launcher, &log).await?;
        Ok(Postgres { server, _dir: dir })
    }
}

impl Postgres {
    /// Start a private PostgreSQL with the defaults; see [`Postgres::builder`].
    pub async fn start() -> Result<Self, ServiceError> {
        Self::builder().start().await
    }

    /// Options before starting.
    pub fn builder() -> PostgresBuilder {
        PostgresBuilder::default()
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `postgres`, a superuser with replication rights.
    pub fn user(&self) -> &str {
        OS_USER
    }

    /// `postgres`.
    pub fn database(&self) -> &str {
        "postgres"
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        self.url_for(self.database())
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://{OS_USER}@{HOST}:{}/{database}", self.port())
    }

    /// `host=127.0.0.1 port=<port> user=postgres dbname=postgres`.
    pub fn connection_string(&self) -> String {
        format!(
            "host={HOST} port={} user={OS_USER} dbname={}",
            self.port(),
            self.database()
        )
    }

    /// `DATABASE_URL`, `PGHOST`, `PGPORT`, `PGUSER` and `PGDATABASE`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DATABASE_URL".into(), self.url()),
            ("PGHOST".into(), HOST.into()),
            ("PGPORT".into(), self.port().to_string()),
            ("PGUSER".into(), OS_USER.into()),
            ("PGDATABASE".into(), self.database().into()),
        ]
    }

    /// Create database `name` (with `psql`).
    pub async fn create_database(&self, name: &str) -> Result<(), ServiceError> {
        let launcher = self.server.launcher();
        let mut psql = Command::new(&launcher.binaries.psql);
        psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", HOST])
            .args([
                "-p",
                &self.port().to_string(),
                "-U",
                OS_USER,
                "-d",
                "postgres",
                "-c",
            ])
            .arg(format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")));
        run_setup(PostgresLauncher::SERVICE, psql, self.log_path()).await
    }

    /// The cluster's data directory (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.server.launcher().data_dir
    }

    /// The directory of the server's Unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.server.launcher().socket_dir()
    }

    /// The server's log file (its stdout and stderr, and `initdb`'s).
    pub fn log_path(&self) -> &Path {
        self.server.log()
    }

    /// The postmaster's pid while it runs.
    pub fn pid(&mut self) -> Option<u32> {
        self.server.pid()
    }

    /// Whether the postmaster is running.
    pub fn is_running(&mut self) -> bool {
        self.server.is_running()
    }

    /// `SIGKILL` the postmaster and every process of the server (a crash):
    /// connections fail until [`restart`](Self::restart).
    pub fn kill(&mut self) {
        self.server.kill();
        signal_pids("KILL", &pids_with_cwd(self.data_dir()));
    }

    /// Start again on the same port and data directory (after a fast
    /// shutdown if it is running); PostgreSQL recovers from its WAL after a kill.
    pub async fn restart(&mut self) -> Result<(), ServiceError> {
        self.server.stop("INT", STOP_GRACE).await;
        self.server.launcher().reap_orphans().await;
        self.server.relaunch().await
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Immediate shutdown: the postmaster stops its children and removes
        // its shared memory; then make sure nothing is left.
        self.server.stop_blocking("QUIT", DROP_GRACE);
        let launcher = self.server.launcher();
        signal_pids("KILL", &pids_with_cwd(&launcher.data_dir));
        launcher.remove_stale_shared_memory();
    }
}
