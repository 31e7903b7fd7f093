//! Ports and readiness for the private servers: a free port reserved per
//! server, and waiting until the server's own process listens and answers.

use std::collections::BTreeSet;
use std::fs;
use std::future::Future;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::process::ServerProcess;
use super::{ServiceError, HOST, START_TIMEOUT};

const POLL_INTERVAL: Duration = Duration::from_millis(25);

static RESERVED_PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port picked by binding `127.0.0.1:0`, reserved against the other servers
/// of this process until dropped.
#[derive(Debug)]
pub(super) struct PortReservation(u16);

impl PortReservation {
    pub(super) fn pick() -> Result<Self, ServiceError> {
        let mut reserved = RESERVED_PORTS.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..100 {
            let listener = TcpListener::bind((HOST, 0))
                .map_err(|e| ServiceError::io("bind 127.0.0.1:0 to pick a free port", e))?;
            let port = listener
                .local_addr()
                .map_err(|e| ServiceError::io("read the picked port", e))?
                .port();
            if reserved.insert(port) {
                return Ok(Self(port));
            }
        }
        Err(ServiceError::io(
            "pick a free port",
            std::io::Error::other("no unreserved port after 100 tries"),
        ))
    }

    pub(super) fn port(&self) -> u16 {
        self.0
    }
}

impl Drop for PortReservation {
    fn drop(&mut self) {
        RESERVED_PORTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// Wait until `process` listens on `port` itself and `probe(port)` succeeds.
///
/// Fails with [`ServiceError::PortInUse`] if the process exited saying the
/// address is in use, [`ServiceError::Exited`] if it exited otherwise and
/// [`ServiceError::StartTimeout`] after [`START_TIMEOUT`].
pub(super) async fn wait_ready<P, F>(
    process: &mut ServerProcess,
    port: u16,
    mut probe: P,
) -> Result<(), ServiceError>
where
    P: FnMut(u16) -> F,
    F: Future<Output = bool>,
{
    let service = process.service();
    let started = Instant::now();
    loop {
        if let Some(status) = process.exited() {
            let log_tail = process.log_tail();
            let log = process.log().to_path_buf();
            return Err(
                if log_tail.to_lowercase().contains("address already in use")
                    // Erlang servers (RabbitMQ) say it with the POSIX name.
                    || log_tail.contains("eaddrinuse")
                {
                    ServiceError::PortInUse {
                        service,
                        port,
                        attempts: 1,
                        log,
                        log_tail,
                    }
                } else {
                    ServiceError::Exited {
                        service,
                        status: status.to_string(),
                        log,
                        log_tail,
                    }
                },
            );
        }
        // The listening socket must be our process's: another server that won
        // a race for the port must not pass for ours.
        let ours = process.pid().is_some_and(|pid| listens_on(pid, port));
        if ours && probe(port).await {
            tracing::debug!(service, port, elapsed = ?started.elapsed(), "server ready");
            return Ok(());
        }
        if started.elapsed() >= START_TIMEOUT {
            process.kill();
            return Err(ServiceError::StartTimeout {
                service,
                port,
                timeout: START_TIMEOUT,
                log: process.log().to_path_buf(),
                log_tail: process.log_tail(),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Probe: connect to `port`, send `request`, and check that the reply starts
/// with `reply_prefix` (within 2 s).
pub(super) async fn tcp_exchange(
    port: u16,
    request: &'static [u8],
    reply_prefix: &'static [u8],
) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((HOST, port)).await.ok()?;
        if !request.is_empty() {
            stream.write_all(request).await.ok()?;
        }
        let mut reply = vec![0; reply_prefix.len()];
        stream.read_exact(&mut reply).await.ok()?;
        Some(reply == reply_prefix)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), exchange).await,
        Ok(Some(true))
    )
}

/// Probe: run `command` (output discarded) on a blocking thread; true if it
/// exits successfully.
pub(super) async fn command_succeeds(mut command: Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    tokio::task::spawn_blocking(move || command.status().is_ok_and(|s| s.success()))
        .await
        .unwrap_or(false)
}

/// Whether process `pid` holds a socket listening on TCP `port` (IPv4).
fn listens_on(pid: u32, port: u16) -> bool {
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let wanted = format!(":{port:04X}");
    let inodes: BTreeSet<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [_, local, _, "0A", _, _, _, _, _, inode, ..] if local.ends_with(&wanted) => {
                    Some(inode.to_string())
                }
                _ => None,
            }
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| {
            let target = target.to_string_lossy();
            target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .is_some_and(|inode| inodes.contains(inode))
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn reserved_ports_are_distinct_until_released() {
        let ports: Vec<_> = (0..20).map(|_| PortReservation::pick().unwrap()).collect();
        let distinct: BTreeSet<u16> = ports.iter().map(PortReservation::port).collect();
        assert_eq!(distinct.len(), ports.len());
        assert!(ports.iter().all(|p| p.port() != 0));
    }
}
