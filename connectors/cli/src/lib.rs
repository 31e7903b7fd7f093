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

#![warn(missing_docs)]

mod commands;
mod docs;
mod http;
mod init;
mod output;
mod progress;

use clap::{Parser, Subcommand, ValueEnum};
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
    /// Configuration file.
    #[arg(
        short,
        long,
        global = true,
        default_value = "rivven-connect.yaml",
        env = "RIVVEN_CONNECT_CONFIG"
    )]
    config: PathBuf,
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Less log output (errors only).
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Log line format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    /// Output format of check, discover, spec, schema, connectors, validate and status.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// One JSON document on stdout.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormatArg {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run every enabled pipeline until they finish or SIGINT/SIGTERM.
    Run {
        /// Validate the configuration and check connectivity, then exit.
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate the configuration and check connectivity of sources and sinks.
    Check {
        /// Only this source.
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
        /// Only this sink.
        #[arg(long, value_name = "NAME")]
        sink: Option<String>,
    },
    /// Discover the streams of a configured source.
    Discover {
        /// Source name (a key of `sources:`).
        source: String,
    },
    /// Show a connector's specification.
    Spec {
        /// Connector or transform name.
        connector: String,
    },
    /// Print a connector's configuration JSON Schema.
    Schema {
        /// Connector or transform name.
        connector: String,
    },
    /// Print a commented configuration that runs as-is (datagen → transforms → stdout).
    Init,
    /// Validate the configuration without connecting to anything.
    Validate,
    /// List the available connectors and transforms by category.
    Connectors {
        /// `list` (the default; accepted for compatibility).
        #[arg(value_parser = ["list"])]
        action: Option<String>,
        /// Only those whose name, description or tags contain this text.
        #[arg(long)]
        search: Option<String>,
    },
    /// Legacy mode: stream PostgreSQL changes without a configuration file
    /// (the `postgres-cdc` connector to stdout or `--output`).
    #[cfg(feature = "postgres")]
    Postgres(rivven_connect_cdc::postgres::legacy::PostgresArgs),
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
    /// Show the pipelines of a running instance (its `/health` endpoint).
    Status {
        /// Base URL of the instance's HTTP endpoint (default: `http.address`
        /// of the configuration file when there is one, else
        /// `http://127.0.0.1:8083`).
        #[arg(long)]
        url: Option<String>,
    },
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
    runtime.block_on(commands::dispatch(cli)).code()
}

/// References every enabled connector family, so that the linker keeps
/// their crates — and with them the connectors' registrations — in the
/// binary even where no other code of a family is called.
fn link_families() {
    #[cfg(feature = "postgres")]
    rivven_connect_cdc::link();
}
