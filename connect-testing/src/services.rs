//! Private real servers for integration tests.
//!
//! Each type starts its own server process from the installed Debian binaries,
//! in its own temporary directory, on a free TCP port on `127.0.0.1`, and waits
//! until the server really accepts connections. Dropping the value stops the
//! server and removes its directory. [`kill`](Postgres::kill) sends `SIGKILL`
//! to the server (a real crash, for fault-injection tests) and
//! [`restart`](Postgres::restart) starts it again on the same port and data
//! directory, keeping the data.
//!
//! | type | Debian package | persists across `kill` + `restart` |
//! |---|---|---|
//! | [`Postgres`] | `postgresql` | committed rows (`wal_level=logical`, `fsync=off`) |
//! | [`MariaDb`] | `mariadb-server` | committed rows (binlog on, `ROW`, `FULL` metadata) |
//! | [`Mosquitto`] | `mosquitto` | nothing guaranteed (persistence is written on shutdown) |
//! | [`Nats`] | `nats-server` | JetStream streams and messages written to disk |
//! | [`Redis`] | `redis-server` | every acknowledged write (`appendonly yes`, `appendfsync always`) |
//! | [`RabbitMq`] | `rabbitmq-server` | durable queues and the persistent messages the broker confirmed |
//! | [`Moto`] | none: PyPI `moto[server]` in the venv of [`test_python`] | nothing (in memory) |
//! | [`Azurite`] | none: npm `azurite` (`.ci/install-test-deps`; Debian `npm`) | nothing guaranteed |
//! | [`Rivven`] | none: `cargo install rivvend --version 0.0.22 --locked` | acknowledged messages after a `SIGTERM` stop ([`Rivven::terminate`]); a `kill` loses some |
//!
//! Independent Python clients for checking what a connector wrote run from
//! the venv of [`test_python`] (made by `.ci/install-test-deps`).
//!
//! A missing binary is an error naming the package to install: tests that need
//! a server fail, they never skip. Servers are safe to start in parallel, in one
//! process and across processes: each gets its own directory and port, and a
//! lost race for a port is retried on a new one. The system instances on the
//! default ports (5432, 3306, 1883, 4222, 6379, 5672 and epmd's 4369) are never used.
//!
//! ```no_run
//! use rivven_connect_testing::services::Postgres;
//!
//! # async fn demo() -> Result<(), rivven_connect_testing::services::ServiceError> {
//! let mut pg = Postgres::start().await?;
//! let url = pg.url(); // postgres://postgres@127.0.0.1:<port>/postgres
//! // ... connect with any client, write some rows ...
//! pg.kill(); // SIGKILL: the server is gone, connections fail
//! pg.restart().await?; // same port, same data
//! # let _ = url; Ok(()) }
//! ```

use std::path::PathBuf;
use std::time::Duration;

mod azurite;
mod certs;
mod mariadb;
mod mosquitto;
mod moto;
mod nats;
mod postgres;
mod process;
mod python;
mod rabbitmq;
mod ready;
mod redis;
mod rivven;
mod server;

pub use azurite::{
    Azurite, AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, AZURITE_DIR_VAR, AZURITE_VERSION,
};
pub use certs::TestCertificates;
pub use mariadb::{MariaDb, MariaDbBuilder};
pub use mosquitto::{Mosquitto, MosquittoBuilder};
pub use moto::{Moto, MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY};
pub use nats::Nats;
pub use postgres::{Postgres, PostgresBuilder};
pub use python::{test_python, test_venv, TEST_VENV_INSTALL, TEST_VENV_VAR};
pub use rabbitmq::{RabbitMq, RabbitMqBuilder};
pub use redis::Redis;
pub use rivven::{find_rivvend, Rivven, RIVVEND_INSTALL, RIVVEND_VERSION};

/// The address every private server listens on.
pub const HOST: &str = "127.0.0.1";

/// How long [`Postgres::start`] and the other `start`/`restart` methods wait
/// for a server to accept connections (RabbitMQ has taken over 30 s to boot
/// while other test binaries loaded the 2 cores).
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Why a private server could not be started or controlled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A program the server needs is not installed.
    #[error(
        "`{binary}` not found (looked in {looked_in}): install the Debian package `{package}`"
    )]
    MissingBinary {
        /// The program that was looked for, e.g. `initdb`.
        binary: String,
        /// Where it was looked for, e.g. `/usr/lib/postgresql/*/bin, $PATH`.
        looked_in: String,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// Something else the server needs is missing (e.g. an OS user).
    #[error("{service}: {message}")]
    Setup {
        /// The server, e.g. `postgres`.
        service: &'static str,
        /// What is missing and how to get it.
        message: String,
    },
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A preparation command (e.g. `initdb`) failed.
    #[error("{service}: `{command}` failed ({status}); output:\n{output_tail}")]
    Command {
        /// The server being prepared.
        service: &'static str,
        /// The command line that failed.
        command: String,
        /// Its exit status.
        status: String,
        /// The last lines of its output.
        output_tail: String,
    },
    /// The server process exited before it accepted connections.
    #[error("{service} exited during startup ({status}); log {log}:\n{log_tail}")]
    Exited {
        /// The server.
        service: &'static str,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        log_tail: String,
    },
    /// The server could not bind its port (another process took it), even
    /// after retrying on new ports where that is possible.
    #[error(
        "{service} could not bind 127.0.0.1:{port} ({attempts} attempt(s)); log {log}:\n{log_tail}"
    )]
    PortInUse {
        /// The server.
        service: &'static str,
        /// The last port tried.
        port: u16,
        /// How many ports were tried.
        attempts: usize,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        log_tail: String,
    },
    /// The server did not accept connections within the start timeout.
    #[error("{service} did not accept connections on 127.0.0.1:{port} within {timeout:?}; log {log}:\n{log_tail}")]
    StartTimeout {
        /// The server.
        service: &'static str,
        /// The port it should listen on.
        port: u16,
        /// How long we waited.
        timeout: Duration,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        log_tail: String,
    },
}

impl ServiceError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// Look `binary` up in `dirs` (in order), then in `$PATH`.
///
/// On failure the error names `package`, the Debian package to install.
/// The server types use this with their usual install locations; it is public
/// so that a test can check the error with a search path of its own.
///
/// ```
/// use rivven_connect_testing::services::{find_binary, ServiceError};
/// let empty = tempfile::tempdir().unwrap();
/// let err = find_binary("no-such-server-binary", &[empty.path().to_path_buf()], false, "some-package")
///     .unwrap_err();
/// assert!(matches!(err, ServiceError::MissingBinary { package: "some-package", .. }));
/// assert!(err.to_string().contains("install the Debian package `some-package`"));
/// ```
pub fn find_binary(
    binary: &str,
    dirs: &[PathBuf],
    search_path: bool,
    package: &'static str,
) -> Result<PathBuf, ServiceError> {
    process::find_binary(binary, dirs, search_path, package)
}
