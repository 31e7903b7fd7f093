//! The legacy mode of the original project: `rivven-connect postgres
//! --connection … --slot … --publication …` runs one pipeline from the
//! `postgres-cdc` connector, without a configuration file.
//!
//! This family owns the mapping; the `rivven-connect` binary only mounts
//! [`PostgresArgs`] as a subcommand (with this crate's `cli` feature, which
//! derives `clap::Args` for it) and runs [`config_document`]'s result.
//!
//! The arguments become an ordinary configuration (the same connector, the
//! same runtime, offsets under `--data-dir`): changes go to stdout, or to a
//! JSON Lines file with `--output`. `--broker` is accepted as in the original,
//! but no broker sink is linked into this binary yet, so it is refused with
//! a message rather than ignored.

use std::path::PathBuf;

use serde_json::{json, Value};

/// Arguments of `rivven-connect postgres`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct PostgresArgs {
    /// `postgres://user:password@host:port/database[?sslmode=…]`.
    #[cfg_attr(feature = "cli", arg(long, env = "RIVVEN_POSTGRES_URL"))]
    pub connection: String,
    /// Replication slot (created when missing).
    #[cfg_attr(feature = "cli", arg(long))]
    pub slot: String,
    /// Publication (created for all tables when missing).
    #[cfg_attr(feature = "cli", arg(long))]
    pub publication: String,
    /// Stream (topic) name of every event; default `schema.table` per table.
    /// `{database}`, `{schema}` and `{table}` placeholders are allowed.
    #[cfg_attr(feature = "cli", arg(long))]
    pub topic: Option<String>,
    /// Broker address; refused for now, as no broker sink is linked into
    /// this binary yet (changes go to stdout or `--output`).
    #[cfg_attr(feature = "cli", arg(long))]
    pub broker: Option<String>,
    /// Append events to this JSON Lines file instead of stdout.
    #[cfg_attr(feature = "cli", arg(long))]
    pub output: Option<PathBuf>,
    /// Do not sync the output file to disk before each batch is acknowledged
    /// (faster; survives `kill -9`, not power loss). Syncing is the default.
    #[cfg_attr(feature = "cli", arg(long = "no-fsync", requires = "output"))]
    pub no_fsync: bool,
    /// Where committed offsets are kept.
    #[cfg_attr(feature = "cli", arg(long, default_value = "./rivven-data"))]
    pub data_dir: PathBuf,
    /// `initial` (default), `always`, `never`, `when_needed` or `initial_only`.
    #[cfg_attr(feature = "cli", arg(long, default_value = "initial"))]
    pub snapshot_mode: String,
}

/// A connection URL's parts.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    user: String,
    password: String,
    host: String,
    port: u16,
    database: String,
    sslmode: Option<String>,
}

fn parse_url(url: &str) -> Result<Url, String> {
    let bad = |why: &str| {
        format!("--connection: {why} (expected postgres://user:password@host:port/database)")
    };
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| bad("the URL must start with postgres://"))?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, database) = rest.split_once('/').ok_or_else(|| bad("no database"))?;
    let (userinfo, hostport) = authority.rsplit_once('@').ok_or_else(|| bad("no user"))?;
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| bad("the port is not a number"))?,
        ),
        None => (hostport, 5432),
    };
    if user.is_empty() || host.is_empty() || database.is_empty() {
        return Err(bad("user, host and database must not be empty"));
    }
    let sslmode = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "sslmode")
        .map(|(_, v)| v.to_string());
    Ok(Url {
        user: percent_decode(user)?,
        password: percent_decode(password)?,
        host: host.to_string(),
        port,
        database: percent_decode(database)?,
        sslmode,
    })
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("--connection: bad percent-escape at `{}`", &text[i..]))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "--connection: percent-escapes are not UTF-8".to_string())
}

/// The configuration document (JSON, which is YAML) the arguments stand for.
pub fn config_document(args: &PostgresArgs) -> Result<String, String> {
    if let Some(broker) = &args.broker {
        return Err(format!(
            "--broker {broker}: no broker sink is built into this binary; omit --broker to write to stdout, or use --output FILE"
        ));
    }
    let url = parse_url(&args.connection)?;
    let mut source = json!({
        "host": url.host,
        "port": url.port,
        "database": url.database,
        "user": url.user,
        "password": url.password,
        "slot_name": args.slot,
        "publication_name": args.publication,
        "snapshot_mode": args.snapshot_mode,
    });
    if let Some(mode) = url.sslmode {
        source["tls"] = json!({ "mode": mode });
    }
    if let Some(topic) = &args.topic {
        source["topic_routing"] = Value::String(topic.clone());
    }
    let sink = match &args.output {
        Some(path) => {
            json!({"connector": "file", "config": {"path": path, "fsync": !args.no_fsync}})
        }
        None => json!({"connector": "stdout", "config": {"format": "json"}}),
    };
    let doc = json!({
        "version": "1.0",
        "data_dir": args.data_dir,
        "sources": {"postgres": {"connector": "postgres-cdc", "config": source}},
        "sinks": {"out": sink},
        "pipelines": {"postgres": {"source": "postgres", "sink": "out"}},
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    // The document is loaded like a configuration file, whose `${VAR}`
    // references are resolved; every value here came verbatim from the
    // command line (a password may contain `${X}`), so each `${` is escaped
    // as `$${` (a lone `$` is left alone by the resolver).
    Ok(text.replace("${", "$${"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults_and_escapes() {
        let u = parse_url("postgres://rep:p%40ss@db.local:6543/shop?sslmode=require").unwrap();
        assert_eq!(
            u,
            Url {
                user: "rep".into(),
                password: "p@ss".into(),
                host: "db.local".into(),
                port: 6543,
                database: "shop".into(),
                sslmode: Some("require".into()),
            }
        );
        let u = parse_url("postgresql://me@localhost/db").unwrap();
        assert_eq!((u.port, u.password.as_str()), (5432, ""));
        for bad in [
            "mysql://x@y/z",
            "postgres://host/db",
            "postgres://u@h:port/db",
            "postgres://u@h",
        ] {
            assert!(
                parse_url(bad).unwrap_err().contains("--connection"),
                "{bad}"
            );
        }
    }

    /// Fails before the fix: the password went through `${VAR}`
    /// substitution (`${X}` was an unset variable, an error).
    #[test]
    fn connection_url_is_not_substituted() {
        let args = PostgresArgs {
            connection: "postgres://u:a%24%7BX%7Db%24c%24%24%7BY%7D@h/db".into(),
            slot: "s".into(),
            publication: "p".into(),
            topic: None,
            broker: None,
            output: None,
            no_fsync: false,
            data_dir: "./d".into(),
            snapshot_mode: "initial".into(),
        };
        let doc = config_document(&args).unwrap();
        let config = rivven_connect::config::ConnectConfig::from_str(&doc).unwrap();
        let source = &config.sources["postgres"].config;
        assert_eq!(source.value()["password"], "a${X}b$c$${Y}");
    }

    #[test]
    fn broker_is_refused_with_a_reason() {
        let args = PostgresArgs {
            connection: "postgres://u@h/db".into(),
            slot: "s".into(),
            publication: "p".into(),
            topic: None,
            broker: Some("localhost:9092".into()),
            output: None,
            no_fsync: false,
            data_dir: "./d".into(),
            snapshot_mode: "initial".into(),
        };
        assert!(config_document(&args)
            .unwrap_err()
            .contains("no broker sink"));
    }
}
