//! Connections to the server: options from the config (TLS modes as for
//! `postgres-cdc`), errors classified by the server's error code with a
//! one-line hint, identifier quoting.

use std::sync::atomic::{AtomicU64, Ordering};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};
use rivven_connect::{ConnectorError, ErrorKind, Result};

use super::config::{MySqlCdcConfig, TlsMode};

/// Opens a connection (TLS per `tls.mode`; `prefer` falls back to plain TCP
/// when the server has no TLS), within `connect_timeout_secs`.
pub(crate) async fn connect(config: &MySqlCdcConfig) -> Result<Conn> {
    let tls = tls_options(config)?;
    let attempt = |ssl: Option<SslOpts>| {
        let opts = options(config, ssl);
        async move {
            match tokio::time::timeout(config.connect_timeout(), Conn::new(opts)).await {
                Ok(result) => result,
                Err(_) => Err(mysql_async::Error::Io(mysql_async::IoError::Io(
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
                ))),
            }
        }
    };
    let result =
        match attempt(tls).await {
            Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer,
            )) if config.tls.mode == TlsMode::Prefer => attempt(None).await,
            other => other,
        };
    let mut conn = result
        .map_err(|e| classify(&e).context(format!("connect to {}:{}", config.host, config.port)))?;
    // Times as UTC (TIMESTAMP values of the snapshot), and the session's
    // reads unaffected by the server's SQL mode.
    conn.query_drop("SET time_zone = '+00:00'")
        .await
        .map_err(|e| classify(&e).context("session setup"))?;
    Ok(conn)
}

fn options(config: &MySqlCdcConfig, ssl: Option<SslOpts>) -> Opts {
    let password = config.password.expose_secret();
    OptsBuilder::default()
        .ip_or_hostname(config.host.clone())
        .tcp_port(config.port)
        .user(Some(config.user.clone()))
        .pass((!password.is_empty()).then(|| password.to_string()))
        .db_name(Some(config.database.clone()))
        .prefer_socket(false)
        .stmt_cache_size(16)
        .ssl_opts(ssl)
        .into()
}

fn tls_options(config: &MySqlCdcConfig) -> Result<Option<SslOpts>> {
    let ca = || {
        SslOpts::default().with_root_certs(
            config
                .tls
                .ca_cert
                .iter()
                .map(|p| p.clone().into())
                .collect(),
        )
    };
    Ok(match config.tls.mode {
        TlsMode::Disable => None,
        TlsMode::Prefer | TlsMode::Require => Some(
            SslOpts::default()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        TlsMode::VerifyCa => Some(ca().with_danger_skip_domain_validation(true)),
        TlsMode::VerifyFull => {
            if config.host.parse::<std::net::IpAddr>().is_ok() {
                return Err(ConnectorError::config(
                    "tls.mode verify-full needs `host` to be the DNS name in the server's certificate, not an IP address",
                ));
            }
            Some(ca())
        }
    })
}

/// The host name a source reports when it registers as a replica
/// (`SHOW SLAVE HOSTS` lists only replicas that report one): unique per
/// source instance, so a registration with the source's `server_id` under
/// another host name is another replica.
pub(crate) fn replica_host() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "rivven-connect-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The replicas registered with the server: `(server_id, host)`.
pub(crate) async fn replicas(conn: &mut Conn) -> Result<Vec<(u32, String)>> {
    let rows: Vec<mysql_async::Row> = conn
        .query("SHOW SLAVE HOSTS")
        .await
        .map_err(|e| classify(&e).context("SHOW SLAVE HOSTS"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some((
                r.get::<u32, _>(0)?,
                r.get::<String, _>(1).unwrap_or_default(),
            ))
        })
        .collect())
}

/// Another replica registered with the server under `config.server_id`
/// (a host name other than `own_host`, this source's): its host name.
/// `None` when there is none, or the server cannot be asked.
pub(crate) async fn other_replica(config: &MySqlCdcConfig, own_host: &str) -> Option<String> {
    let mut conn = connect(config).await.ok()?;
    let listed = replicas(&mut conn).await;
    let _ = conn.disconnect().await;
    listed
        .ok()?
        .into_iter()
        .find(|(id, host)| *id == config.server_id && host != own_host)
        .map(|(_, host)| host)
}

/// The error for a `server_id` that another replica (`host`) uses. The
/// server ends the older binlog connection of a `server_id` when a new one
/// starts, so the source never connects while the id is listed. Retryable:
/// a run of this source killed a moment ago stays listed (under its own
/// host name) until the server notices its connection is gone, and a
/// restart must then resume rather than fail for good; a replica that
/// really uses the id keeps the source failing with this error.
pub(crate) fn server_id_in_use(config: &MySqlCdcConfig, host: &str, what: &str) -> ConnectorError {
    ConnectorError::transient(format!(
        "another replica with server_id {} is connected to the server (host `{host}`){what}: give each source and replica its own server_id",
        config.server_id
    ))
}

/// A driver or server error as a [`ConnectorError`]: the kind from the
/// server's error code (never from the wording), with a hint on what to fix.
pub(crate) fn classify(error: &mysql_async::Error) -> ConnectorError {
    let (kind, code) = match error {
        mysql_async::Error::Server(e) => (server_kind(e.code), Some(e.code)),
        mysql_async::Error::Io(mysql_async::IoError::Io(_)) => (ErrorKind::Connection, None),
        mysql_async::Error::Io(_) => (ErrorKind::Config, None),
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
            (ErrorKind::Connection, None)
        }
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => {
            (ErrorKind::Config, None)
        }
        mysql_async::Error::Driver(_) => (ErrorKind::Transient, None),
        mysql_async::Error::Url(_) => (ErrorKind::Config, None),
        _ => (ErrorKind::Connection, None),
    };
    let text = clip(&error.to_string());
    let message = match code.and_then(hint) {
        Some(hint) => format!("{text} — {hint}"),
        None => text,
    };
    ConnectorError::new(kind, message)
}

/// The kind of a server error, by its code.
fn server_kind(code: u16) -> ErrorKind {
    match code {
        // access denied (user/password, database, table, privilege)
        1044 | 1045 | 1142 | 1143 | 1227 | 1370 | 1698 => ErrorKind::Auth,
        // unknown database, table or column
        1049 | 1146 | 1054 => ErrorKind::Config,
        // binlog: purged / not found / not a replica-able position / binlog off,
        // duplicate replica id
        1236 | 1381 => ErrorKind::Config,
        // too many connections, server shutting down, lock wait, deadlock,
        // query interrupted, lost connection
        1040 | 1053 | 1205 | 1213 | 1317 | 2006 | 2013 | 1927 => ErrorKind::Connection,
        _ => ErrorKind::Fatal,
    }
}

/// What to do about a server error, by code.
fn hint(code: u16) -> Option<&'static str> {
    Some(match code {
        1045 | 1698 => "check `user` and `password`",
        1044 | 1049 => "check `database` and the user's grants on it",
        1142 | 1143 => "GRANT SELECT ON <database>.* TO <user>",
        1227 => "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO <user> (MariaDB ≥ 10.5: also BINLOG MONITOR)",
        1236 => "the binary log position is gone (purged?) or unreadable: use snapshot_mode when_needed, or delete this pipeline's committed offsets to snapshot again",
        1381 => "the server's binary log is off: start it with log_bin, binlog_format=ROW and binlog_row_image=FULL",
        1040 => "the server has no free connection (max_connections)",
        _ => return None,
    })
}

/// A MySQL identifier in backquotes.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// At most 300 bytes of `text`.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 300;
    if text.len() <= MAX {
        return text.to_string();
    }
    let end = (0..=MAX)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}…", &text[..end])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_classified_by_code_with_a_hint() {
        let denied = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1045,
            message: "Access denied for user 'u'@'localhost' (using password: YES)".into(),
            state: "28000".into(),
        });
        let e = classify(&denied);
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("check `user` and `password`"), "{e}");
        let gone = mysql_async::Error::Server(mysql_async::ServerError {
            code: 2013,
            message: "Lost connection".into(),
            state: "HY000".into(),
        });
        assert!(classify(&gone).is_retryable());
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }

    #[test]
    fn verify_full_refuses_an_ip_address() {
        let mut c = MySqlCdcConfig::new("127.0.0.1", 3306, "d", "u", 1);
        c.tls.mode = TlsMode::VerifyFull;
        assert_eq!(tls_options(&c).unwrap_err().kind(), ErrorKind::Config);
    }
}
