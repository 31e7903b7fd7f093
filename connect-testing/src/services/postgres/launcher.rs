//! How a private PostgreSQL runs: its binaries, the OS user it runs as when
//! we are root, and the server command line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{OS_USER, PACKAGE};
use crate::services::process::{find_binary_described, os_user_exists, pids_with_cwd, signal_pids};
use crate::services::ready::command_succeeds;
use crate::services::server::Launcher;
use crate::services::{ServiceError, HOST};

const VERSIONED_BIN_DIRS: &str = "/usr/lib/postgresql/*/bin";
const ORPHAN_TIMEOUT: Duration = Duration::from_secs(10);
/// Settings given before the builder's, which can override them.
const DEFAULT_SETTINGS: [(&str, &str); 6] = [
    ("listen_addresses", HOST),
    ("wal_level", "logical"),
    ("max_replication_slots", "10"),
    ("max_wal_senders", "10"),
    ("fsync", "off"),
    ("shared_buffers", "32MB"),
];

#[derive(Debug)]
pub(super) struct Binaries {
    pub(super) initdb: PathBuf,
    pub(super) postgres: PathBuf,
    pub(super) pg_isready: PathBuf,
    pub(super) psql: PathBuf,
}

impl Binaries {
    pub(super) fn find(bin_dir: Option<&Path>) -> Result<Self, ServiceError> {
        let (dirs, search_path, looked_in) = match bin_dir {
            Some(dir) => (vec![dir.to_path_buf()], false, dir.display().to_string()),
            None => (
                versioned_bin_dirs(),
                true,
                format!("{VERSIONED_BIN_DIRS}, $PATH"),
            ),
        };
        let find = |binary| find_binary_described(binary, &dirs, search_path, &looked_in, PACKAGE);
        Ok(Self {
            initdb: find("initdb")?,
            postgres: find("postgres")?,
            pg_isready: find("pg_isready")?,
            psql: find("psql")?,
        })
    }
}

/// `/usr/lib/postgresql/<version>/bin`, highest version first.
fn versioned_bin_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            let version = name
                .split('.')
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
                .ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// How to run a program as the OS user `postgres`: `setpriv` execs the
/// program (unlike `runuser`, which forks and waits), so the pid we hold is
/// the postmaster's and `kill()` really kills the server.
#[derive(Debug)]
pub(super) struct RunAs {
    setpriv: PathBuf,
}

impl RunAs {
    pub(super) fn find() -> Result<Self, ServiceError> {
        if !os_user_exists(OS_USER) {
            return Err(ServiceError::Setup {
                service: PostgresLauncher::SERVICE,
                message: format!(
                    "running as root, and initdb/postgres refuse root, but there is no OS user \
                     `{OS_USER}` to run them as: install the Debian package `{PACKAGE}` (it creates the user)"
                ),
            });
        }
        let dirs = [PathBuf::from("/usr/bin"), PathBuf::from("/bin")];
        let setpriv = find_binary_described(
            "setpriv",
            &dirs,
            true,
            "/usr/bin, /bin, $PATH",
            "util-linux",
        )?;
        Ok(Self { setpriv })
    }
}

#[derive(Debug)]
pub(super) struct PostgresLauncher {
    pub(super) binaries: Binaries,
    pub(super) run_as: Option<RunAs>,
    pub(super) dir: PathBuf,
    pub(super) data_dir: PathBuf,
    pub(super) settings: Vec<(String, String)>,
}

impl PostgresLauncher {
    pub(super) fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// `program`, as the OS user `postgres` when we are root.
    pub(super) fn command_for(&self, program: &Path) -> Command {
        let mut command = match &self.run_as {
            Some(run_as) => {
                let mut command = Command::new(&run_as.setpriv);
                command
                    .args([
                        format!("--reuid={OS_USER}"),
                        format!("--regid={OS_USER}"),
                        "--init-groups".into(),
                        "--".into(),
                    ])
                    .arg(program);
                command
            }
            None => Command::new(program),
        };
        command.current_dir(&self.dir).env("HOME", &self.dir);
        command
    }

    /// Kill whatever is left of a server in our data directory (backends
    /// outlive a killed postmaster for a moment), and wait until it is gone.
    pub(super) async fn reap_orphans(&self) {
        let deadline = Instant::now() + ORPHAN_TIMEOUT;
        loop {
            let pids = pids_with_cwd(&self.data_dir);
            if pids.is_empty() || Instant::now() >= deadline {
                return;
            }
            signal_pids("KILL", &pids);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// After a crash, `postmaster.pid` names the shared memory segment that
    /// no one will remove: remove it (a restart would do so itself).
    pub(super) fn remove_stale_shared_memory(&self) {
        let Ok(pid_file) = std::fs::read_to_string(self.data_dir.join("postmaster.pid")) else {
            return;
        };
        let shmid = pid_file
            .lines()
            .nth(6)
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|id| id.parse::<u64>().ok());
        if let Some(shmid) = shmid {
            let mut ipcrm = Command::new("ipcrm");
            ipcrm.arg("-m").arg(shmid.to_string());
            let _ = ipcrm
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Launcher for PostgresLauncher {
    const SERVICE: &'static str = "postgres";

    fn command(&self, port: u16) -> Result<Command, ServiceError> {
        let mut command = self.command_for(&self.binaries.postgres);
        command
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-p", &port.to_string(), "-k"])
            .arg(self.socket_dir());
        let defaults = DEFAULT_SETTINGS.iter().map(|&(k, v)| (k, v));
        let custom = self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        for (name, value) in defaults.chain(custom) {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        Ok(command)
    }

    fn probe(&self, port: u16) -> impl std::future::Future<Output = bool> + Send {
        let mut ready = Command::new(&self.binaries.pg_isready);
        ready
            .args(["-q", "-h", HOST, "-p", &port.to_string()])
            .args(["-U", OS_USER, "-d", "postgres", "-t", "2"]);
        command_succeeds(ready)
    }
}
