//! [`RabbitMq`]: a private RabbitMQ node (its own Erlang VM, epmd and ports).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tempfile::TempDir;

use super::process::{find_system_binary, pids_with_cwd, service_dir, signal_pids};
use super::ready::{tcp_exchange, PortReservation};
use super::server::{Launcher, Server};
use super::{ServiceError, HOST};

const PACKAGE: &str = "rabbitmq-server";
/// The Debian package's own start script (`/usr/sbin/rabbitmq-server` would
/// `su` to the `rabbitmq` user and use the system node's directories).
const SERVER_SCRIPT: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const CTL_SCRIPT: &str = "/usr/lib/rabbitmq/bin/rabbitmqctl";
/// A clean stop writes the message store's index; recovery without it
/// (after a kill) takes longer but loses nothing persistent.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// A private RabbitMQ 3.x node (Debian package `rabbitmq-server`).
///
/// The node has its own name (`rivven-<pid>-<n>@localhost`), its own epmd on
/// a private port (the machine's epmd on 4369 and its RabbitMQ node are left
/// alone), AMQP and distribution listeners on `127.0.0.1` only, its data
/// (`mnesia/`), logs and Erlang cookie (`HOME`) in its temporary directory,
/// and no plugins (no management listener). Every process of the node —
/// epmd, `beam.smp`, `erl_child_setup`, `inet_gethost` — runs in that
/// directory, which is how [`kill`](Self::kill) and `Drop` find them all.
///
/// Durable queues and persistent messages that the broker confirmed survive
/// [`kill`](Self::kill) + [`restart`](Self::restart).
#[derive(Debug)]
pub struct RabbitMq {
    // Declared first: the node stops before its directory is removed.
    server: Server<RabbitMqLauncher>,
    dir: TempDir,
}

/// Options of a [`RabbitMq`] node before it starts.
#[derive(Debug, Clone)]
pub struct RabbitMqBuilder {
    user: String,
    password: String,
    tls: Option<TlsListener>,
}

/// The certificate of the TLS listener, and the CA its clients'
/// certificates must chain to (mutual TLS) if any.
#[derive(Debug, Clone)]
struct TlsListener {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

impl Default for RabbitMqBuilder {
    fn default() -> Self {
        Self {
            user: "guest".into(),
            password: "guest".into(),
            tls: None,
        }
    }
}

impl RabbitMqBuilder {
    /// The node's one user (an administrator of vhost `/`), created at the
    /// first start; `guest`/`guest` by default.
    pub fn user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = user.into();
        self.password = password.into();
        self
    }

    /// Also listen for AMQP over TLS (`amqps://`, on
    /// [`tls_port`](RabbitMq::tls_port)) with this certificate and key
    /// (PEM), e.g. from [`TestCertificates`](super::TestCertificates); the
    /// plain listener stays.
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some(TlsListener {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
        });
        self
    }

    /// With [`tls`](Self::tls): require a client certificate that chains
    /// to this CA (PEM) on the TLS listener (mutual TLS).
    pub fn tls_client_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        if let Some(tls) = &mut self.tls {
            tls.client_ca = Some(ca.into());
        }
        self
    }

    /// Start the node and wait until it answers the AMQP protocol header
    /// (and its TLS listener accepts connections).
    pub async fn start(self) -> Result<RabbitMq, ServiceError> {
        let epmd =
            find_system_binary("epmd", "erlang-base").or_else(|_| find_erts_binary("epmd"))?;
        let script = PathBuf::from(SERVER_SCRIPT);
        if !script.is_file() {
            find_system_binary("rabbitmq-server", PACKAGE)?;
            return Err(ServiceError::Setup {
                service: "rabbitmq",
                message: format!(
                    "{SERVER_SCRIPT} is missing: reinstall the Debian package `{PACKAGE}`"
                ),
            });
        }
        let dir = service_dir("rabbitmq")?;
        static NODES: AtomicU32 = AtomicU32::new(0);
        let node = format!(
            "rivven-{}-{}@localhost",
            std::process::id(),
            NODES.fetch_add(1, Ordering::Relaxed)
        );
        let launcher = RabbitMqLauncher {
            script,
            epmd,
            dir: dir.path().to_path_buf(),
            node,
            dist_port: PortReservation::pick()?,
            epmd_port: PortReservation::pick()?,
            user: self.user,
            password: self.password,
            tls_port: match self.tls {
                Some(_) => Some(PortReservation::pick()?),
                None => None,
            },
            tls: self.tls,
        };
        launcher.write_files()?;
        let server = Server::start(launcher, &dir.path().join("rabbitmq.log")).await?;
        Ok(RabbitMq { server, dir })
    }
}

fn find_erts_binary(name: &str) -> Result<PathBuf, ServiceError> {
    let erts = fs::read_dir("/usr/lib/erlang")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .find(|p| p.is_file());
    erts.ok_or_else(|| ServiceError::MissingBinary {
        binary: name.into(),
        looked_in: "$PATH, /usr/lib/erlang/erts-*/bin".into(),
        package: "erlang-base",
    })
}

#[derive(Debug)]
struct RabbitMqLauncher {
    script: PathBuf,
    epmd: PathBuf,
    dir: PathBuf,
    node: String,
    dist_port: PortReservation,
    epmd_port: PortReservation,
    user: String,
    password: String,
    tls: Option<TlsListener>,
    tls_port: Option<PortReservation>,
}

impl RabbitMqLauncher {
    /// The TLS listener's lines of `rabbitmq.conf`.
    fn tls_config(&self) -> String {
        let (Some(tls), Some(port)) = (&self.tls, &self.tls_port) else {
            return String::new();
        };
        let mut config = format!(
            "listeners.ssl.default = {HOST}:{}\nssl_options.certfile = {}\n\
             ssl_options.keyfile = {}\n",
            port.port(),
            tls.cert.display(),
            tls.key.display()
        );
        match &tls.client_ca {
            Some(ca) => config.push_str(&format!(
                "ssl_options.cacertfile = {}\nssl_options.verify = verify_peer\n\
                 ssl_options.fail_if_no_peer_cert = true\n",
                ca.display()
            )),
            None => config.push_str(
                "ssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n",
            ),
        }
        config
    }

    fn config_file(&self) -> PathBuf {
        self.dir.join("rabbitmq.conf")
    }

    /// The environment both the server and `rabbitmqctl` need.
    fn env(&self, command: &mut Command) {
        let dir = &self.dir;
        command
            .current_dir(dir)
            .env("HOME", dir)
            .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_DIST_PORT", self.dist_port.port().to_string())
            .env("ERL_EPMD_PORT", self.epmd_port.port().to_string())
            .env("ERL_EPMD_ADDRESS", HOST)
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_PLUGINS_EXPAND_DIR", dir.join("plugins-expand"))
            .env("RABBITMQ_PID_FILE", dir.join("rabbitmq.pid"))
            .env_remove("ERL_FLAGS")
            .env_remove("RABBITMQ_NODE_PORT");
    }

    fn write_files(&self) -> Result<(), ServiceError> {
        let write = |name: &str, text: &str| {
            fs::write(self.dir.join(name), text)
                .map_err(|e| ServiceError::io(format!("rabbitmq: write {name}"), e))
        };
        // Empty: the system's /etc/rabbitmq/rabbitmq-env.conf names the
        // system node.
        write("rabbitmq-env.conf", "")?;
        write("enabled_plugins", "[].\n")?;
        write(
            "advanced.config",
            "[{kernel, [{inet_dist_use_interface, {127,0,0,1}}]}].\n",
        )
    }
}

impl Launcher for RabbitMqLauncher {
    const SERVICE: &'static str = "rabbitmq";

    fn command(&self, port: u16) -> Result<Command, ServiceError> {
        // The AMQP port is only known here (a lost port race picks another).
        let config = format!(
            "listeners.tcp.default = {HOST}:{port}\nloopback_users = none\n\
             default_user = {}\ndefault_pass = {}\ndefault_permissions.configure = .*\n\
             default_permissions.read = .*\ndefault_permissions.write = .*\n\
             default_user_tags.administrator = true\nlog.console = true\nlog.file = false\n{}",
            self.user,
            self.password,
            self.tls_config()
        );
        fs::write(self.config_file(), config)
            .map_err(|e| ServiceError::io("rabbitmq: write rabbitmq.conf", e))?;
        // The node's own epmd, in the node's directory and process group,
        // then the VM itself (RABBITMQ_ALLOW_INPUT: the script execs `erl`,
        // so the process is the VM; `-noinput` keeps it off stdin).
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("\"$0\" -port \"$ERL_EPMD_PORT\" -address 127.0.0.1 & exec \"$1\"")
            .arg(&self.epmd)
            .arg(&self.script);
        self.env(&mut command);
        command
            .env("RABBITMQ_CONFIG_FILE", self.config_file())
            .env("RABBITMQ_ALLOW_INPUT", "true")
            .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-noinput -noshell");
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        Ok(command)
    }

    fn probe(&self, port: u16) -> impl std::future::Future<Output = bool> + Send {
        // An AMQP 0-9-1 broker answers the protocol header with a
        // Connection.Start method frame (type 1); a TLS listener answers no
        // plain header: accepting is the sign.
        let tls_port = self.tls_port.as_ref().map(PortReservation::port);
        async move {
            tcp_exchange(port, b"AMQP\x00\x00\x09\x01", b"\x01").await
                && match tls_port {
                    Some(tls_port) => tcp_exchange(tls_port, b"", b"").await,
                    None => true,
                }
        }
    }
}

impl RabbitMq {
    /// Start a private node with user `guest`/`guest`.
    pub async fn start() -> Result<Self, ServiceError> {
        Self::builder().start().await
    }

    /// Start a private node with user `guest`/`guest` that also listens
    /// for AMQP over TLS with the server certificate of `certs` (see
    /// [`amqps_url`](Self::amqps_url)).
    pub async fn start_with_tls(certs: &super::TestCertificates) -> Result<Self, ServiceError> {
        Self::builder().tls(&certs.cert, &certs.key).start().await
    }

    /// Options before starting (e.g. another user, TLS).
    pub fn builder() -> RabbitMqBuilder {
        RabbitMqBuilder::default()
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The AMQP port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `amqp://127.0.0.1:<port>/%2f` (no credentials: see
    /// [`user`](Self::user) and [`password`](Self::password)).
    pub fn url(&self) -> String {
        format!("amqp://{HOST}:{}/%2f", self.port())
    }

    /// The TLS listener's port (with [`RabbitMqBuilder::tls`]).
    pub fn tls_port(&self) -> Option<u16> {
        self.server
            .launcher()
            .tls_port
            .as_ref()
            .map(PortReservation::port)
    }

    /// `amqps://127.0.0.1:<tls port>/%2f` (with [`RabbitMqBuilder::tls`]).
    pub fn amqps_url(&self) -> Option<String> {
        self.tls_port()
            .map(|port| format!("amqps://{HOST}:{port}/%2f"))
    }

    /// The node's user.
    pub fn user(&self) -> &str {
        &self.server.launcher().user
    }

    /// That user's password.
    pub fn password(&self) -> &str {
        &self.server.launcher().password
    }

    /// The Erlang node name, e.g. `rivven-123-0@localhost`.
    pub fn node(&self) -> &str {
        &self.server.launcher().node
    }

    /// `AMQP_URL` (without credentials), `AMQP_HOST`, `AMQP_PORT`,
    /// `AMQP_USER`, `AMQP_PASSWORD`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AMQP_URL".into(), self.url()),
            ("AMQP_HOST".into(), HOST.into()),
            ("AMQP_PORT".into(), self.port().to_string()),
            ("AMQP_USER".into(), self.user().into()),
            ("AMQP_PASSWORD".into(), self.password().into()),
        ]
    }

    /// A `rabbitmqctl` command aimed at this node (its name, epmd and
    /// cookie), e.g. `rabbitmq.ctl().args(["list_queues"])`.
    pub fn ctl(&self) -> Command {
        let mut command = Command::new(CTL_SCRIPT);
        self.server.launcher().env(&mut command);
        command.arg("-n").arg(self.node());
        command
    }

    /// The node's directory (`mnesia/` holds the data).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The node's log file (its console output).
    pub fn log_path(&self) -> &Path {
        self.server.log()
    }

    /// The VM's (`beam.smp`) pid while it runs.
    pub fn pid(&mut self) -> Option<u32> {
        self.server.pid()
    }

    /// Whether the VM is running.
    pub fn is_running(&mut self) -> bool {
        self.server.is_running()
    }

    /// `SIGKILL` the whole node — the VM, its helpers and its epmd (a
    /// crash): connections fail until [`restart`](Self::restart).
    pub fn kill(&mut self) {
        self.server.kill();
        self.kill_rest();
    }

    /// Start again on the same ports and data (after a clean stop if it is
    /// running).
    pub async fn restart(&mut self) -> Result<(), ServiceError> {
        self.server.stop("TERM", STOP_GRACE).await;
        self.kill_rest();
        self.server.relaunch().await
    }

    /// The node's remaining processes (epmd, port programs) by their
    /// working directory.
    fn kill_rest(&mut self) {
        for _ in 0..50 {
            let pids = pids_with_cwd(self.dir.path());
            if pids.is_empty() {
                return;
            }
            signal_pids("KILL", &pids);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        self.kill();
    }
}
