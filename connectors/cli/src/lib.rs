//! The `rivven-connect` command line: run YAML-configured pipelines, check
//! and inspect connectors.
//!
//! Exit codes: 0 success, 1 runtime failure (a pipeline or a check failed),
//! 2 configuration or usage error.
//!
//! The CLI is a library function so a service can ship its own binary with
//! its own connectors: every connector registered with a derive's
//! `connector = …` in the linked crates is listed by `connectors` and usable
//! by name in YAML, with no registration code.
//!
//! ```no_run
//! // src/main.rs of your own connect binary: the built-in connectors, the
//! // families enabled as features of `rivven-connect-cli`, and every
//! // connector of this crate registered with `connector = …`
//! fn main() -> std::process::ExitCode {
//!     rivven_connect_cli::main()
//! }
//! ```
//!
//! `examples/custom_binary.rs` in this package is a complete one (a custom
//! source next to the built-ins).
//!
//! # Features
//! - `jemalloc` (default): the global allocator of the `rivven-connect`
//!   binary only; a custom binary picks its own.
//! - `cdc` (default) = `postgres`: the `rivven-connect-cdc` family
//!   (`postgres-cdc`, and the legacy `rivven-connect postgres …` subcommand,
//!   whose arguments that crate defines).
//! - `rivven` (default): the `rivven-connect-broker` family (the `rivven`
//!   source and sink on a Rivven broker).
//! - `mqtt` (default): the `rivven-connect-queue` family's `mqtt` source and
//!   sink (MQTT 3.1.1; QoS 1/2 acknowledged after the commit).
//! - `redis` (default): the `rivven-connect-queue` family's `redis-streams`
//!   source (consumer group, XACK after the commit) and sink (pipelined XADD).
//! - `amqp` (default): the `rivven-connect-queue` family's `amqp` source
//!   (RabbitMQ queue, basic.ack after the commit) and sink (publisher
//!   confirms).
//! - `nats` (default): the `rivven-connect-queue` family's `nats` source
//!   (JetStream durable pull consumer, each message acked after the commit;
//!   or a core NATS subscription, at-most-once) and sink (JetStream publish
//!   with pipelined acks, or core publish + flush).
//! - `sql` (default) = `sql-postgres` + `sql-mysql`: the `rivven-connect-sql`
//!   family's `sql-sink` (insert / upsert / apply CDC into PostgreSQL or
//!   MySQL/MariaDB tables, optionally exactly-once).
//! - `storage` (default): the `rivven-connect-storage` family's
//!   `object-storage` sink (legacy names `s3`, `gcs`, `azure-blob`) with the
//!   `local` provider and the json, jsonl and csv formats (gzip, zstd, snappy
//!   and lz4 compression); `s3` (default), `gcs` and `azure` add the
//!   providers, `storage-full` all of them.
//! - `webhook` (default): the `rivven-connect-http` family's `http-webhook`
//!   sink (retries with `Retry-After`, circuit breaker, refused events to the
//!   dead-letter queue, signatures, idempotency keys, per-key order).
//! - `rest` (default): the `rivven-connect-http` family's `http` source (REST
//!   polling with pagination and an incremental cursor kept in the state).

#![warn(missing_docs)]

mod commands;
mod docs;
mod http;
mod init;
mod new;
mod options;
mod output;
mod progress;

use clap::{Parser, Subcommand};
use options::{ConfigArgs, FormatArgs, LogArgs, Takes, TopArgs};
pub(crate) use options::{Format, LogFormatArg, Options};
use std::path::PathBuf;
use std::process::ExitCode;

/// Move data between systems with YAML-configured pipelines.
#[derive(Debug, Parser)]
#[command(
    name = "rivven-connect",
    version,
    about = "Move data between systems with YAML-configured pipelines",
    propagate_version = true
)]
pub(crate) struct Cli {
    /// The options of a subcommand may also come before it
    /// (`rivven-connect -c app.yaml run`).
    #[command(
        flatten,
        next_help_heading = "Options of the subcommands that take them (before or after the subcommand)"
    )]
    top: TopArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run every enabled pipeline until they finish or SIGINT/SIGTERM.
    Run {
        #[command(flatten)]
        config: ConfigArgs,
        /// Validate the configuration and check connectivity, then exit.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        format: FormatArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Validate the configuration and check connectivity of sources and sinks.
    Check {
        #[command(flatten)]
        config: ConfigArgs,
        /// Only this source.
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
        /// Only this sink.
        #[arg(long, value_name = "NAME")]
        sink: Option<String>,
        #[command(flatten)]
        format: FormatArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Validate the configuration without connecting to anything.
    Validate {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Discover the streams of a configured source.
    Discover {
        /// Source name (a key of `sources:`).
        source: String,
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        format: FormatArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Show the pipelines of a running instance (its `/health` endpoint).
    Status {
        #[command(flatten)]
        config: ConfigArgs,
        /// Base URL of the instance's HTTP endpoint [default: `http.address`
        /// of the configuration file when there is one, else
        /// http://127.0.0.1:8083].
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// List the available connectors and transforms by category.
    Connectors {
        /// `list` (the default; accepted for compatibility).
        #[arg(value_parser = ["list"])]
        action: Option<String>,
        /// Only those whose name, description or tags contain this text.
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Show a connector's or transform's options.
    Spec {
        /// Connector or transform name.
        connector: String,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Print a connector's configuration JSON Schema.
    Schema {
        /// Connector or transform name.
        connector: String,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Print a commented configuration that runs as-is (datagen → transforms → stdout).
    Init,
    /// Legacy mode: stream PostgreSQL changes without a configuration file
    /// (the `postgres-cdc` connector to stdout or `--output`).
    #[cfg(feature = "postgres")]
    Postgres {
        #[command(flatten)]
        args: rivven_connect_cdc::postgres::legacy::PostgresArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Generate the Markdown reference of every connector, transform and the
    /// filter expressions (from this binary's registry).
    Docs {
        /// Output directory.
        #[arg(long, value_name = "DIR", default_value = docs::DEFAULT_OUT)]
        out: PathBuf,
        /// Compare with the files in the directory instead of writing; exit 1
        /// naming the stale ones.
        #[arg(long)]
        check: bool,
    },
    /// Write a new connector crate: the connector, its tests and a binary.
    New(new::NewArgs),
}

impl Command {
    /// The subcommand's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Run { .. } => "run",
            Command::Check { .. } => "check",
            Command::Validate { .. } => "validate",
            Command::Discover { .. } => "discover",
            Command::Status { .. } => "status",
            Command::Connectors { .. } => "connectors",
            Command::Spec { .. } => "spec",
            Command::Schema { .. } => "schema",
            Command::Init => "init",
            Command::Docs { .. } => "docs",
            Command::New(_) => "new",
            #[cfg(feature = "postgres")]
            Command::Postgres { .. } => "postgres",
        }
    }

    /// The option groups it takes.
    fn takes(&self) -> Takes<'_> {
        match self {
            Command::Run {
                config,
                format,
                log,
                ..
            }
            | Command::Check {
                config,
                format,
                log,
                ..
            }
            | Command::Discover {
                config,
                format,
                log,
                ..
            } => Takes {
                config: Some(config),
                format: Some(format),
                log: Some(log),
            },
            Command::Validate { config, format } | Command::Status { config, format, .. } => {
                Takes {
                    config: Some(config),
                    format: Some(format),
                    log: None,
                }
            }
            Command::Connectors { format, .. }
            | Command::Spec { format, .. }
            | Command::Schema { format, .. } => Takes {
                format: Some(format),
                ..Takes::default()
            },
            Command::Init | Command::New(_) | Command::Docs { .. } => Takes::default(),
            #[cfg(feature = "postgres")]
            Command::Postgres { log, .. } => Takes {
                log: Some(log),
                ..Takes::default()
            },
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: a pipeline or check failed.
    Failure,
    /// Exit 2: bad configuration or usage.
    ConfigError,
}

impl Outcome {
    fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::ConfigError => 2,
        }
    }
}

/// Parse the process arguments and run the command; the exit code follows
/// the convention above.
pub fn main() -> ExitCode {
    ExitCode::from(run(std::env::args_os()))
}

/// Run the command line `args` (the first is the program name) and return
/// the exit code (0, 1 or 2; `--help` and `--version` exit 0).
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    link_families();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let options = match cli.top.resolve(cli.command.name(), cli.command.takes()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return 2;
        }
    };
    runtime
        .block_on(commands::dispatch(&cli.command, &options))
        .code()
}

/// References every enabled connector family, so that the linker keeps
/// their crates — and with them the connectors' registrations — in the
/// binary even where no other code of a family is called.
fn link_families() {
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    rivven_connect_cdc::link();
    #[cfg(feature = "rivven")]
    rivven_connect_broker::link();
    #[cfg(any(
        feature = "mqtt",
        feature = "redis",
        feature = "amqp",
        feature = "nats"
    ))]
    rivven_connect_queue::link();
    #[cfg(any(feature = "sql-postgres", feature = "sql-mysql"))]
    rivven_connect_sql::link();
    #[cfg(feature = "storage")]
    rivven_connect_storage::link();
    #[cfg(any(feature = "webhook", feature = "rest"))]
    rivven_connect_http::link();
}
