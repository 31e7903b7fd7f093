//! The option groups subcommands share, and their resolution.
//!
//! Each subcommand shows only the groups it takes (`--config` on those that
//! read a configuration, `--format` on those whose output has a JSON form,
//! the log options on those that log). The same options are also accepted
//! before the subcommand (`rivven-connect -c app.yaml run`), where an option
//! the subcommand does not take is a usage error rather than ignored.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// The configuration file when neither `--config` nor the environment names one.
const DEFAULT_CONFIG: &str = "rivven-connect.yaml";
/// The environment variable naming the configuration file.
const CONFIG_ENV: &str = "RIVVEN_CONNECT_CONFIG";

/// `-c/--config`.
#[derive(Debug, Default, Args)]
pub(crate) struct ConfigArgs {
    /// Configuration file [default: $RIVVEN_CONNECT_CONFIG, else rivven-connect.yaml].
    #[arg(short, long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// `--format`.
#[derive(Debug, Default, Args)]
pub(crate) struct FormatArgs {
    /// Output format [default: text].
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
}

/// `-v`, `-q`, `--log-format`.
#[derive(Debug, Default, Args)]
pub(crate) struct LogArgs {
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub(crate) verbose: u8,
    /// Errors only, and no run summary.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Log line format [default: `logging.format` of the configuration, else pretty].
    #[arg(long, value_enum)]
    pub(crate) log_format: Option<LogFormatArg>,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormatArg {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The groups a subcommand takes (`None`: not an option of it).
#[derive(Default)]
pub(crate) struct Takes<'a> {
    pub(crate) config: Option<&'a ConfigArgs>,
    pub(crate) format: Option<&'a FormatArgs>,
    pub(crate) log: Option<&'a LogArgs>,
}

/// The options in effect for one command.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) config: PathBuf,
    pub(crate) format: Format,
    pub(crate) verbose: u8,
    pub(crate) quiet: bool,
    pub(crate) log_format: Option<LogFormatArg>,
}

/// Options given before the subcommand.
#[derive(Debug, Default, Args)]
pub(crate) struct TopArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    #[command(flatten)]
    pub(crate) format: FormatArgs,
    #[command(flatten)]
    pub(crate) log: LogArgs,
}

impl TopArgs {
    /// The options of `command`: its own, else those given before it, else
    /// the environment and the defaults. An option given before a
    /// subcommand that does not take it is an error naming both.
    pub(crate) fn resolve(&self, command: &str, takes: Takes<'_>) -> Result<Options, String> {
        let misplaced = |option: &str| {
            format!("`{option}` is not an option of `{command}` (see `rivven-connect {command} --help`)")
        };
        if takes.config.is_none() && self.config.config.is_some() {
            return Err(misplaced("--config"));
        }
        if takes.format.is_none() && self.format.format.is_some() {
            return Err(misplaced("--format"));
        }
        if takes.log.is_none() {
            let log = &self.log;
            for (given, option) in [
                (log.verbose > 0, "--verbose"),
                (log.quiet, "--quiet"),
                (log.log_format.is_some(), "--log-format"),
            ] {
                if given {
                    return Err(misplaced(option));
                }
            }
        }
        let config = takes
            .config
            .and_then(|c| c.config.clone())
            .or_else(|| self.config.config.clone())
            .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
        let format = takes
            .format
            .and_then(|f| f.format)
            .or(self.format.format)
            .unwrap_or(Format::Text);
        let log = takes.log.unwrap_or(&self.log);
        Ok(Options {
            config,
            format,
            verbose: log.verbose.max(self.log.verbose),
            quiet: log.quiet || self.log.quiet,
            log_format: log.log_format.or(self.log.log_format),
        })
    }
}
