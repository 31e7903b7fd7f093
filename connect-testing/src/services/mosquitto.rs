//! [`Mosquitto`]: a private Mosquitto MQTT broker.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::process::{find_system_binary, is_root, run_setup, service_dir};
use super::ready::tcp_exchange;
use super::server::{Launcher, Server};
use super::{ServiceError, HOST};

const PACKAGE: &str = "mosquitto";
const STOP_GRACE: Duration = Duration::from_secs(10);

/// MQTT 3.1.1 CONNECT, clean session, client id `rivven-ready-probe`.
const PROBE_CONNECT: &[u8] = b"\x10\x1e\x00\x04MQTT\x04\x02\x00\x3c\x00\x12rivven-ready-probe";
/// A CONNACK, session not present, whatever its return code: accepted
/// (anonymous access) or refused (a broker with a password file).
const PROBE_CONNACK: &[u8] = b"\x20\x02\x00";

/// A private Mosquitto MQTT broker (Debian package `mosquitto`), one plain
/// TCP listener, anonymous access ([`start`](Self::start)) or one user with
/// a password ([`start_with_user`](Self::start_with_user)).
///
/// The queue of an offline persistent session is unlimited
/// (`max_queued_messages 0`; Mosquitto's default, 1 000, drops the rest),
/// so a test that keeps a subscriber away while publishing loses nothing at
/// the broker.
///
/// Persistence is on, but Mosquitto writes its database only on a clean
/// shutdown (or every 30 minutes): after [`kill`](Self::kill) +
/// [`restart`](Self::restart) the broker accepts connections again, with no
/// guarantee about retained messages or sessions.
#[derive(Debug)]
pub struct Mosquitto {
    // Declared first: the server stops before its directory is removed.
    server: Server<MosquittoLauncher>,
    dir: TempDir,
}

#[derive(Debug)]
struct MosquittoLauncher {
    binary: PathBuf,
    dir: PathBuf,
    /// `Some(password file)`: no anonymous access.
    password_file: Option<PathBuf>,
    /// `Some((certificate, key))`: the listener speaks TLS only.
    tls: Option<(PathBuf, PathBuf)>,
    /// `Some(acl file)`: topic access is restricted.
    acl_file: Option<PathBuf>,
    /// `set_tcp_nodelay true`: the broker's small packets (PUBACKs) leave
    /// without waiting for the client's TCP acknowledgement (Nagle).
    tcp_nodelay: bool,
}

impl MosquittoLauncher {
    fn config_path(&self) -> PathBuf {
        self.dir.join("mosquitto.conf")
    }
}

impl Launcher for MosquittoLauncher {
    const SERVICE: &'static str = "mosquitto";

    fn command(&self, port: u16) -> Result<Command, ServiceError> {
        let mut config = format!(
            "listener {port} {HOST}\n\
             max_queued_messages 0\n\
             persistence true\n\
             persistence_location {}/\n\
             log_dest stderr\n",
            self.dir.display()
        );
        if let Some((cert, key)) = &self.tls {
            config.push_str(&format!(
                "certfile {}\nkeyfile {}\n",
                cert.display(),
                key.display()
            ));
        }
        match &self.password_file {
            None => config.push_str("allow_anonymous true\n"),
            Some(file) => config.push_str(&format!(
                "allow_anonymous false\npassword_file {}\n",
                file.display()
            )),
        }
        if let Some(file) = &self.acl_file {
            config.push_str(&format!("acl_file {}\n", file.display()));
        }
        if self.tcp_nodelay {
            config.push_str("set_tcp_nodelay true\n");
        }
        if is_root() {
            // As root Mosquitto would switch to the `mosquitto` user, which
            // cannot write to our directory.
            config.push_str("user root\n");
        }
        let path = self.config_path();
        std::fs::write(&path, config)
            .map_err(|e| ServiceError::io(format!("mosquitto: write {}", path.display()), e))?;
        let mut command = Command::new(&self.binary);
        command.current_dir(&self.dir).arg("-c").arg(path);
        Ok(command)
    }

    fn probe(&self, port: u16) -> impl std::future::Future<Output = bool> + Send {
        // A TLS listener answers no plain CONNECT: accepting is the sign.
        let (request, reply): (&'static [u8], &'static [u8]) = match self.tls {
            None => (PROBE_CONNECT, PROBE_CONNACK),
            Some(_) => (b"", b""),
        };
        tcp_exchange(port, request, reply)
    }
}

/// Options of a private broker: [`Mosquitto::builder`].
#[derive(Debug, Default)]
pub struct MosquittoBuilder {
    user: Option<(String, String)>,
    tls: Option<(PathBuf, PathBuf)>,
    acl: Option<String>,
    tcp_nodelay: bool,
}

impl MosquittoBuilder {
    /// Admit only `user` with `password` (no anonymous access).
    pub fn user(mut self, user: &str, password: &str) -> Self {
        self.user = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Serve TLS only, with this certificate and key (PEM), e.g. from
    /// [`TestCertificates`](super::TestCertificates).
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert.into(), key.into()));
        self
    }

    /// Restrict topic access with this Mosquitto `acl_file` text (e.g.
    /// `"topic read public/#\n"`: lines before any `user` line apply to
    /// anonymous clients); for tests of refused subscriptions and publishes
    /// (MQTT 5 reason code 0x87 not authorized).
    pub fn acl(mut self, acl: &str) -> Self {
        self.acl = Some(acl.to_owned());
        self
    }

    /// Send without Nagle's delay (`set_tcp_nodelay true`; Mosquitto's
    /// default is off). With it off, the PUBACKs at the end of a burst of
    /// publishes wait for the client's delayed TCP acknowledgement (~40 ms on
    /// Linux), which a client that awaits every PUBACK of a batch pays once
    /// per batch: the queue benchmark measures both settings.
    pub fn tcp_nodelay(mut self, on: bool) -> Self {
        self.tcp_nodelay = on;
        self
    }

    /// Start the broker and wait until it accepts connections.
    pub async fn start(self) -> Result<Mosquitto, ServiceError> {
        Mosquitto::launch(self).await
    }
}

impl Mosquitto {
    /// Start a private broker and wait until it accepts an MQTT connection.
    pub async fn start() -> Result<Self, ServiceError> {
        Self::builder().start().await
    }

    /// Start a private broker that admits only `user` with `password` (a
    /// password file made with `mosquitto_passwd`), for authentication tests.
    pub async fn start_with_user(user: &str, password: &str) -> Result<Self, ServiceError> {
        Self::builder().user(user, password).start().await
    }

    /// A broker with options: a user, TLS.
    pub fn builder() -> MosquittoBuilder {
        MosquittoBuilder::default()
    }

    async fn launch(options: MosquittoBuilder) -> Result<Self, ServiceError> {
        let binary = find_system_binary("mosquitto", PACKAGE)?;
        let dir = service_dir("mosquitto")?;
        let log = dir.path().join("mosquitto.log");
        let password_file = match &options.user {
            None => None,
            Some((user, password)) => {
                let file = dir.path().join("passwords");
                let mut command = Command::new(find_system_binary("mosquitto_passwd", PACKAGE)?);
                command
                    .args(["-b", "-c"])
                    .arg(&file)
                    .args([user.as_str(), password.as_str()]);
                run_setup("mosquitto", command, &log).await?;
                Some(file)
            }
        };
        let acl_file = match &options.acl {
            None => None,
            Some(acl) => {
                let file = dir.path().join("acl");
                std::fs::write(&file, acl).map_err(|e| {
                    ServiceError::io(format!("mosquitto: write {}", file.display()), e)
                })?;
                Some(file)
            }
        };
        let launcher = MosquittoLauncher {
            binary,
            dir: dir.path().to_path_buf(),
            password_file,
            tls: options.tls,
            acl_file,
            tcp_nodelay: options.tcp_nodelay,
        };
        let server = Server::start(launcher, &log).await?;
        Ok(Self { server, dir })
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The MQTT port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `mqtt://127.0.0.1:<port>` (`mqtts://` with TLS).
    pub fn url(&self) -> String {
        let scheme = match self.server.launcher().tls {
            None => "mqtt",
            Some(_) => "mqtts",
        };
        format!("{scheme}://{HOST}:{}", self.port())
    }

    /// `MQTT_URL`, `MQTT_HOST` and `MQTT_PORT`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("MQTT_URL".into(), self.url()),
            ("MQTT_HOST".into(), HOST.into()),
            ("MQTT_PORT".into(), self.port().to_string()),
        ]
    }

    /// The broker's configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.server.launcher().config_path()
    }

    /// The broker's temporary directory (configuration, persistence, log).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The broker's log file (its stdout and stderr).
    pub fn log_path(&self) -> &Path {
        self.server.log()
    }

    /// The broker's pid while it runs.
    pub fn pid(&mut self) -> Option<u32> {
        self.server.pid()
    }

    /// Whether the broker process is running.
    pub fn is_running(&mut self) -> bool {
        self.server.is_running()
    }

    /// `SIGKILL` the broker (a crash): connections fail until
    /// [`restart`](Self::restart).
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// Start again on the same port and directory (after a clean `SIGTERM`
    /// shutdown if it is running).
    pub async fn restart(&mut self) -> Result<(), ServiceError> {
        self.server.stop("TERM", STOP_GRACE).await;
        self.server.relaunch().await
    }
}
