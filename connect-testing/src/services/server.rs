//! The lifecycle every private server shares: start on a free port (retrying
//! lost port races), kill, stop and restart on the same port.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::ServerProcess;
use super::ready::{wait_ready, PortReservation};
use super::ServiceError;

/// How many ports a server tries before giving up on a port race.
pub(super) const PORT_ATTEMPTS: usize = 5;

/// How to launch one kind of server on a given port.
pub(super) trait Launcher: std::fmt::Debug {
    /// The server's name in logs and errors, e.g. `postgres`.
    const SERVICE: &'static str;

    /// The command that runs the server in the foreground on `port`.
    fn command(&self, port: u16) -> Result<Command, ServiceError>;

    /// Whether the server on `port` answers like a ready server.
    fn probe(&self, port: u16) -> impl Future<Output = bool> + Send;
}

/// A server process with its port, restartable on that port.
#[derive(Debug)]
pub(super) struct Server<L> {
    // Declared first: the process is killed before the rest is dropped.
    process: Option<ServerProcess>,
    port: PortReservation,
    launcher: L,
    log: PathBuf,
}

impl<L: Launcher> Server<L> {
    /// Start on a free port; if the server loses the port to another process
    /// before binding it, try again on a new port.
    pub(super) async fn start(launcher: L, log: &Path) -> Result<Self, ServiceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = PortReservation::pick()?;
            match launch(&launcher, port.port(), log).await {
                Ok(process) => {
                    return Ok(Self {
                        process: Some(process),
                        port,
                        launcher,
                        log: log.to_path_buf(),
                    })
                }
                Err(ServiceError::PortInUse {
                    service,
                    port,
                    log,
                    log_tail,
                    ..
                }) => {
                    tracing::debug!(service, port, attempt, "port taken by another process");
                    if attempt >= PORT_ATTEMPTS {
                        return Err(ServiceError::PortInUse {
                            service,
                            port,
                            attempts: attempt,
                            log,
                            log_tail,
                        });
                    }
                }
                Err(other) => return Err(other),
            }
        }
    }

    pub(super) fn port(&self) -> u16 {
        self.port.port()
    }

    pub(super) fn launcher(&self) -> &L {
        &self.launcher
    }

    pub(super) fn log(&self) -> &Path {
        &self.log
    }

    /// The server's pid while it runs.
    pub(super) fn pid(&mut self) -> Option<u32> {
        let process = self.process.as_mut()?;
        if process.is_running() {
            process.pid()
        } else {
            None
        }
    }

    pub(super) fn is_running(&mut self) -> bool {
        self.pid().is_some()
    }

    /// `SIGKILL` the server and reap it.
    pub(super) fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Stop with `signal`, `SIGKILL` after `grace`.
    pub(super) async fn stop(&mut self, signal: &str, grace: Duration) {
        if let Some(mut process) = self.process.take() {
            process.stop(signal, grace).await;
        }
    }

    /// Like [`stop`](Self::stop), blocking (for `Drop`).
    pub(super) fn stop_blocking(&mut self, signal: &str, grace: Duration) {
        if let Some(mut process) = self.process.take() {
            process.stop_blocking(signal, grace);
        }
    }

    /// Start again on the same port. The caller stops a running server first.
    pub(super) async fn relaunch(&mut self) -> Result<(), ServiceError> {
        self.kill();
        let process = launch(&self.launcher, self.port.port(), &self.log).await?;
        self.process = Some(process);
        Ok(())
    }
}

async fn launch<L: Launcher>(
    launcher: &L,
    port: u16,
    log: &Path,
) -> Result<ServerProcess, ServiceError> {
    let command = launcher.command(port)?;
    let mut process = ServerProcess::spawn(L::SERVICE, command, log)?;
    wait_ready(&mut process, port, |port| launcher.probe(port)).await?;
    Ok(process)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::super::ready::tcp_exchange;
    use super::*;

    /// Fails its first `failures` launches the way a server that lost its
    /// port does, then runs a real `redis-server`.
    #[derive(Debug)]
    struct Flaky {
        failures: usize,
        launches: AtomicUsize,
        dir: PathBuf,
    }

    impl Launcher for Flaky {
        const SERVICE: &'static str = "flaky";

        fn command(&self, port: u16) -> Result<Command, ServiceError> {
            if self.launches.fetch_add(1, Ordering::SeqCst) < self.failures {
                let mut command = Command::new("sh");
                command.args(["-c", "echo 'bind: Address already in use' >&2; exit 1"]);
                return Ok(command);
            }
            let mut command = Command::new("redis-server");
            command
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                ])
                .current_dir(&self.dir);
            Ok(command)
        }

        fn probe(&self, port: u16) -> impl Future<Output = bool> + Send {
            tcp_exchange(port, b"PING\r\n", b"+PONG\r\n")
        }
    }

    fn flaky(failures: usize) -> (Flaky, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let launcher = Flaky {
            failures,
            launches: AtomicUsize::new(0),
            dir: dir.path().to_path_buf(),
        };
        (launcher, dir)
    }

    #[tokio::test]
    async fn a_lost_port_race_is_retried_on_a_new_port() {
        let (launcher, dir) = flaky(2);
        let mut server = Server::start(launcher, &dir.path().join("log"))
            .await
            .unwrap();
        assert_eq!(server.launcher().launches.load(Ordering::SeqCst), 3);
        assert!(server.is_running());
        server.kill();
        assert!(!server.is_running());
    }

    #[tokio::test]
    async fn gives_up_after_the_port_attempts_with_the_log_tail() {
        let (launcher, dir) = flaky(usize::MAX);
        let err = Server::start(launcher, &dir.path().join("log"))
            .await
            .unwrap_err();
        match err {
            ServiceError::PortInUse {
                attempts, log_tail, ..
            } => {
                assert_eq!(attempts, PORT_ATTEMPTS);
                assert_eq!(log_tail, "bind: Address already in use");
            }
            other => panic!("expected PortInUse, got {other:?}"),
        }
    }

    #[derive(Debug)]
    struct Crashing;

    impl Launcher for Crashing {
        const SERVICE: &'static str = "crashing";

        fn command(&self, _port: u16) -> Result<Command, ServiceError> {
            let mut command = Command::new("sh");
            command.args(["-c", "echo 'FATAL: bad setting' >&2; exit 3"]);
            Ok(command)
        }

        fn probe(&self, _port: u16) -> impl Future<Output = bool> + Send {
            std::future::ready(true)
        }
    }

    #[tokio::test]
    async fn a_server_that_exits_during_startup_reports_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let err = Server::start(Crashing, &dir.path().join("log"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::Exited {
                    service: "crashing",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("FATAL: bad setting"), "{err}");
    }
}
