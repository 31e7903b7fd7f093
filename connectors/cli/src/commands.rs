//! The subcommands.

use rivven_connect::config::{ConfigError, ConnectConfig, Diagnostic, LogFormat};
use rivven_connect::registry::Registry;
use rivven_connect::runtime::OffsetStore as _;
use rivven_connect::{CheckResult, ConnectorKind};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

use super::output::{self, Report};
use super::{http, init, progress, Command, Format, LogFormatArg, Options, Outcome};

/// Log targets of client crates that log, at ERROR, each failure they also
/// return to the connector (the PostgreSQL replication client logs every
/// refused connection), which the runtime then reports once with its retry.
const ECHOING_CLIENTS: &[&str] = &["pgwire_replication"];

/// How long one connector's `check`/`discover` may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) async fn dispatch(command: &Command, cli: &Options) -> Outcome {
    let registry = match Registry::discovered() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::ConfigError;
        }
    };
    let report = Report::new(cli.format);
    match command {
        Command::New(args) => super::new::run(args),
        Command::Init => {
            print!("{}", init::TEMPLATE);
            Outcome::Success
        }
        Command::Connectors { search, .. } => {
            output::connectors(&report, &registry, search.as_deref());
            Outcome::Success
        }
        Command::Docs { out, check } => super::docs::command(&registry, out, *check),
        Command::Spec { connector, .. } => spec(&report, &registry, connector, false),
        Command::Schema { connector, .. } => spec(&report, &registry, connector, true),
        Command::Status { url, .. } => status(cli, &report, url.as_deref()).await,
        Command::Validate { .. } => match load(cli, &report) {
            Ok(config) => {
                output::validated(&report, &config);
                Outcome::Success
            }
            Err(o) => o,
        },
        Command::Check { source, sink, .. } => match load(cli, &report) {
            Ok(config) => {
                init_logging(cli, &config, false);
                check(
                    &report,
                    &registry,
                    &config,
                    source.as_deref(),
                    sink.as_deref(),
                )
                .await
            }
            Err(o) => o,
        },
        Command::Discover { source, .. } => match load(cli, &report) {
            Ok(config) => {
                init_logging(cli, &config, false);
                discover(&report, &registry, &config, source).await
            }
            Err(o) => o,
        },
        #[cfg(feature = "postgres")]
        Command::Postgres { args, .. } => {
            let config = rivven_connect_cdc::postgres::legacy::config_document(args)
                .and_then(|doc| ConnectConfig::from_str(&doc).map_err(|e| e.to_string()));
            match config {
                Ok(config) => run(cli, &report, &registry, &config, false).await,
                Err(e) => {
                    eprintln!("error: {e}");
                    Outcome::ConfigError
                }
            }
        }
        Command::Run { dry_run, .. } => match load(cli, &report) {
            Ok(config) => run(cli, &report, &registry, &config, *dry_run).await,
            Err(o) => o,
        },
    }
}

/// Load the configuration, reporting every problem (exit 2).
fn load(cli: &Options, report: &Report) -> Result<ConnectConfig, Outcome> {
    ConnectConfig::from_file(&cli.config).map_err(|e| {
        output::config_error(report, &e);
        Outcome::ConfigError
    })
}

/// Whether log lines are JSON (`--log-format`, else `logging.format`).
fn json_logs(cli: &Options, config: &ConnectConfig) -> bool {
    match cli.log_format {
        Some(LogFormatArg::Json) => true,
        Some(LogFormatArg::Pretty) => false,
        None => config.logging.format == LogFormat::Json,
    }
}

fn init_logging(cli: &Options, config: &ConnectConfig, progress_display: bool) {
    let level = if cli.quiet {
        "error".to_string()
    } else {
        match cli.verbose {
            0 if progress_display => "warn".to_string(),
            0 => config.logging.level.clone(),
            1 => "debug".to_string(),
            _ => "trace".to_string(),
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let mut directives = level;
        if cli.verbose == 0 {
            // Clients that log a failure the runtime reports too (with the
            // pipeline, the connector and the retry): only with `-v`.
            for target in ECHOING_CLIENTS {
                directives.push_str(&format!(",{target}=off"));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&directives)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    });
    let json = json_logs(cli, config);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(progress::is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn spec(report: &Report, registry: &Registry, name: &str, schema_only: bool) -> Outcome {
    let mut specs = Vec::new();
    if let Some(e) = registry.source(name) {
        specs.push(e.spec());
    }
    if let Some(e) = registry.sink(name) {
        specs.push(e.spec());
    }
    if let Some(e) = registry.transform(name) {
        specs.push(e.spec());
    }
    if specs.is_empty() {
        let names: Vec<String> = registry.list().into_iter().map(|m| m.name).collect();
        let hint = rivven_connect::config::did_you_mean(name, names.iter().map(String::as_str))
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        eprintln!(
            "error: unknown connector `{name}`{hint}; run `rivven-connect connectors` to list them"
        );
        return Outcome::ConfigError;
    }
    output::specs(report, &specs, schema_only);
    Outcome::Success
}

/// The instance `status` asks: `--url`, else the configuration's
/// `http.address` (when the file exists: `-c`, or the default file in the
/// working directory), else the default address.
fn status_url(cli: &Options, report: &Report, url: Option<&str>) -> Result<String, Outcome> {
    if let Some(url) = url {
        return Ok(url.to_string());
    }
    if !cli.config.exists() {
        return Ok(format!(
            "http://{}",
            rivven_connect::config::HttpSpec::default().address
        ));
    }
    let config = load(cli, report)?;
    if !config.http.enabled {
        let message = format!(
            "{}: http.enabled is false, so an instance started from it serves no status; \
             set `http: {{ enabled: true }}` there, or pass --url",
            cli.config.display()
        );
        output::error(report, &message);
        return Err(Outcome::ConfigError);
    }
    Ok(format!("http://{}", config.http.address))
}

async fn status(cli: &Options, report: &Report, url: Option<&str>) -> Outcome {
    let url = match status_url(cli, report, url) {
        Ok(url) => url,
        Err(outcome) => return outcome,
    };
    match http::get_json(&url, "/health").await {
        Ok(health) => {
            output::status(report, &health);
            Outcome::Success
        }
        Err(e) => {
            output::error(report, &format!("cannot read the status at {url}: {e}"));
            Outcome::Failure
        }
    }
}

/// One connector's check outcome.
pub(crate) struct CheckLine {
    pub(crate) kind: ConnectorKind,
    pub(crate) name: String,
    pub(crate) connector: String,
    pub(crate) result: Result<CheckResult, String>,
}

async fn check(
    report: &Report,
    registry: &Registry,
    config: &ConnectConfig,
    only_source: Option<&str>,
    only_sink: Option<&str>,
) -> Outcome {
    for (wanted, names, what) in [
        (
            only_source,
            config.sources.keys().collect::<Vec<_>>(),
            "source",
        ),
        (only_sink, config.sinks.keys().collect::<Vec<_>>(), "sink"),
    ] {
        if let Some(w) = wanted {
            if !names.iter().any(|n| n.as_str() == w) {
                let hint =
                    rivven_connect::config::did_you_mean(w, names.iter().map(|n| n.as_str()))
                        .map(|n| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default();
                eprintln!("error: no {what} named `{w}` in the configuration{hint}");
                return Outcome::ConfigError;
            }
        }
    }
    if let Err(e) = config.offset_store().check_writable().await {
        output::error(report, &e.to_string());
        return Outcome::ConfigError;
    }
    let all = only_source.is_none() && only_sink.is_none();
    let lines = check_all(registry, config, |kind, name| {
        all || match kind {
            ConnectorKind::Source => only_source == Some(name),
            _ => only_sink == Some(name),
        }
    })
    .await;
    let ok = lines
        .iter()
        .all(|l| l.result.as_ref().is_ok_and(CheckResult::is_success));
    output::checks(report, &lines);
    if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    }
}

/// Check the selected sources and sinks concurrently.
pub(crate) async fn check_all(
    registry: &Registry,
    config: &ConnectConfig,
    selected: impl Fn(ConnectorKind, &str) -> bool,
) -> Vec<CheckLine> {
    let mut tasks = Vec::new();
    for (name, s) in config
        .sources
        .iter()
        .filter(|(n, _)| selected(ConnectorKind::Source, n))
    {
        let built = registry
            .source(&s.connector)
            .map(|e| e.build(s.config.value().clone()));
        let (name, connector) = (name.clone(), s.connector.clone());
        tasks.push(tokio::spawn(async move {
            let result = match built {
                Some(Ok(src)) => timed(src.check()).await,
                Some(Err(e)) => Err(e.to_string()),
                None => Err(format!("unknown source connector `{connector}`")),
            };
            CheckLine {
                kind: ConnectorKind::Source,
                name,
                connector,
                result,
            }
        }));
    }
    for (topic, built) in config.broker_checks(registry) {
        if !selected(ConnectorKind::Sink, "broker") {
            continue;
        }
        tasks.push(tokio::spawn(async move {
            let result = match built {
                Ok(sink) => timed(sink.check()).await,
                Err(e) => Err(e.to_string()),
            };
            CheckLine {
                kind: ConnectorKind::Sink,
                name: format!("broker topic {topic}"),
                connector: "rivven".to_string(),
                result,
            }
        }));
    }
    for (name, k) in config
        .sinks
        .iter()
        .filter(|(n, _)| selected(ConnectorKind::Sink, n))
    {
        let built = registry
            .sink(&k.connector)
            .map(|e| e.build(k.config.value().clone()));
        let (name, connector) = (name.clone(), k.connector.clone());
        tasks.push(tokio::spawn(async move {
            let result = match built {
                Some(Ok(sink)) => timed(sink.check()).await,
                Some(Err(e)) => Err(e.to_string()),
                None => Err(format!("unknown sink connector `{connector}`")),
            };
            CheckLine {
                kind: ConnectorKind::Sink,
                name,
                connector,
                result,
            }
        }));
    }
    let mut lines = Vec::new();
    for t in tasks {
        match t.await {
            Ok(line) => lines.push(line),
            Err(e) => lines.push(CheckLine {
                kind: ConnectorKind::Source,
                name: "?".into(),
                connector: "?".into(),
                result: Err(format!("check panicked: {e}")),
            }),
        }
    }
    lines
}

async fn timed<T>(
    f: impl std::future::Future<Output = rivven_connect::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
    }
}

async fn discover(
    report: &Report,
    registry: &Registry,
    config: &ConnectConfig,
    name: &str,
) -> Outcome {
    let Some(spec) = config.sources.get(name) else {
        let hint =
            rivven_connect::config::did_you_mean(name, config.sources.keys().map(String::as_str))
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
        eprintln!("error: no source named `{name}` in the configuration{hint}");
        return Outcome::ConfigError;
    };
    let source = match registry
        .source(&spec.connector)
        .map(|e| e.build(spec.config.value().clone()))
    {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Outcome::ConfigError;
        }
        None => {
            eprintln!("error: unknown source connector `{}`", spec.connector);
            return Outcome::ConfigError;
        }
    };
    match timed(source.discover()).await {
        Ok(catalog) => {
            output::catalog(report, name, &catalog);
            Outcome::Success
        }
        Err(e) => {
            eprintln!("error: discovering `{name}` failed: {e}");
            Outcome::Failure
        }
    }
}

async fn run(
    cli: &Options,
    report: &Report,
    registry: &Registry,
    config: &ConnectConfig,
    dry_run: bool,
) -> Outcome {
    let pipelines = config.enabled_pipelines();
    if pipelines.is_empty() {
        let mut e = ConfigError::new(vec![Diagnostic::new(
            "pipelines",
            None,
            "no enabled pipeline to run",
        )
        .with_help("add one under `pipelines:`".to_string())]);
        e.file = Some(cli.config.display().to_string());
        output::config_error(report, &e);
        return Outcome::ConfigError;
    }
    let display = !dry_run && !cli.quiet && progress::is_terminal();
    init_logging(cli, config, display);
    if dry_run {
        let lines = check_all(registry, config, |_, _| true).await;
        let ok = lines
            .iter()
            .all(|l| l.result.as_ref().is_ok_and(CheckResult::is_success));
        output::checks(report, &lines);
        return if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        };
    }
    let builder = match config.runtime_builder(registry) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::ConfigError;
        }
    };
    let runtime = match builder.start().await {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::ConfigError;
        }
    };
    tracing::info!(pipelines = pipelines.len(), "rivven-connect running");
    let timeout = Duration::from_millis(config.shutdown.timeout_ms);
    let status = tokio::select! {
        status = runtime.run_until_signal(timeout) => status,
        () = progress::watch(&runtime, display) => runtime.run_until_signal(timeout).await,
    };
    let summary = if cli.quiet {
        progress::Summary::Quiet
    } else if json_logs(cli, config) {
        progress::Summary::Json
    } else {
        progress::Summary::Text { display }
    };
    progress::summary(&status, summary);
    if report.format == Format::Json {
        println!("{}", json!(status));
    }
    if status.all_succeeded() {
        Outcome::Success
    } else {
        Outcome::Failure
    }
}

/// `{…}` for `--format json` errors.
pub(crate) fn diagnostics_json(e: &ConfigError) -> Value {
    json!({
        "file": e.file,
        "errors": e.diagnostics.iter().map(|d| json!({
            "path": d.path,
            "line": d.at.map(|p| p.line),
            "column": d.at.map(|p| p.column),
            "message": d.message,
            "help": d.help,
        })).collect::<Vec<_>>(),
    })
}
