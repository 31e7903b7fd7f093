//! One replication session: connect (TLS, SCRAM), run SQL and replication
//! commands before streaming, then `START_REPLICATION`.
//!
//! Everything the source does — checks, catalog reads, slot and publication
//! set-up, the snapshot and the stream — runs on one `replication=database`
//! session of `pgwire-replication`, so the snapshot that `CREATE_REPLICATION_SLOT
//! … USE_SNAPSHOT` pins is the one the snapshot reads, and the stream opens on
//! the same server the checks looked at.
//!
//! Server errors carry their SQLSTATE in the text the crate gives us
//! (`… (SQLSTATE 28P01)`); [`classify`] reads that code, not the wording.

use std::time::Duration;

use pgwire_replication::{
    Lsn, PgWireError, ReplicationClient, ReplicationConfig, SslMode, TlsConfig,
};
use rivven_connect::{ConnectorError, ErrorKind};
use serde::{Deserialize, Serialize};

use super::config::{PostgresCdcConfig, TlsMode};

/// Session settings that make value text formats predictable (see `value.rs`).
const SESSION_OPTIONS: &str =
    "-c datestyle=ISO -c intervalstyle=iso_8601 -c timezone=UTC -c extra_float_digits=3";

/// Replication messages the client's reader task may hold before our stream
/// takes them. They sit outside the runtime's credit window, so this stays a
/// handful (it was 4 096): the window, not this channel, bounds memory. The
/// reader task keeps answering keep-alives while the channel is full.
const REPLICATION_BUFFER: usize = 16;

/// A gated replication session (not streaming yet).
pub(crate) struct Session {
    client: ReplicationClient,
    what: String,
}

/// One result row: text values by column position.
pub(crate) type Row = Vec<Option<String>>;

/// Column `i` of `row` (`None` for NULL or a missing column).
pub(crate) fn cell(row: &Row, i: usize) -> Option<&str> {
    row.get(i).and_then(|v| v.as_deref())
}

/// Column `i` of `row`, empty for NULL.
pub(crate) fn text(row: &Row, i: usize) -> String {
    cell(row, i).unwrap_or_default().to_string()
}

impl Session {
    /// Connect and authenticate; `start_lsn` is where `START_REPLICATION`
    /// will begin (zero: the slot's confirmed position).
    pub(crate) async fn connect(
        config: &PostgresCdcConfig,
        start_lsn: u64,
    ) -> Result<Self, ConnectorError> {
        let what = format!(
            "postgres-cdc {}@{}:{}/{}",
            config.user, config.host, config.port, config.database
        );
        let cfg = replication_config(config, start_lsn)?;
        let connecting = async {
            let mut client = ReplicationClient::connect_gated(cfg).await?;
            // The first query proves connect + authentication worked.
            client.simple_query("SELECT 1").await?;
            Ok::<_, PgWireError>(client)
        };
        let client = match tokio::time::timeout(config.connect_timeout(), connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(classify(&e).context(format!("connecting to {what}"))),
            Err(_) => {
                return Err(ConnectorError::timeout(format!(
                    "connecting to {what}: no answer within {} s",
                    config.connect_timeout_secs
                )))
            }
        };
        Ok(Self { client, what })
    }

    /// Run SQL (or a replication command) with the simple query protocol.
    pub(crate) async fn query(&mut self, sql: &str) -> Result<Vec<Row>, ConnectorError> {
        let rows = self.client.simple_query(sql).await.map_err(|e| {
            classify(&e).context(format!("{}: running `{}`", self.what, brief(sql)))
        })?;
        Ok(rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
                    .collect()
            })
            .collect())
    }

    /// The first column of the first row, if any.
    pub(crate) async fn query_value(
        &mut self,
        sql: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let rows = self.query(sql).await?;
        Ok(rows
            .first()
            .and_then(|row| cell(row, 0))
            .map(str::to_string))
    }

    /// Send `START_REPLICATION` and wait until the server accepted it.
    pub(crate) async fn start(mut self) -> Result<ReplicationClient, ConnectorError> {
        let what = self.what.clone();
        let err = |e: PgWireError| classify(&e).context(format!("{what}: starting replication"));
        self.client.start().await.map_err(err)?;
        self.client.wait_started().await.map_err(err)?;
        Ok(self.client)
    }
}

fn replication_config(
    config: &PostgresCdcConfig,
    start_lsn: u64,
) -> Result<ReplicationConfig, ConnectorError> {
    let ca = config.tls.ca_cert.clone();
    let tls = match config.tls.mode {
        TlsMode::Disable => TlsConfig::disabled(),
        TlsMode::Prefer => {
            let mut tls = TlsConfig::require();
            tls.mode = SslMode::Prefer;
            tls
        }
        TlsMode::Require => TlsConfig::require(),
        TlsMode::VerifyCa => TlsConfig::verify_ca(ca),
        TlsMode::VerifyFull => TlsConfig::verify_full(ca),
    };
    Ok(ReplicationConfig::new(
        config.host.clone(),
        config.user.clone(),
        config.password.expose_secret().to_string(),
        config.database.clone(),
        config.slot_name.clone(),
        config.publication_name().to_string(),
    )
    .with_port(config.port)
    .with_tls(tls)
    .with_start_lsn(Lsn(start_lsn))
    .with_status_interval(config.status_interval())
    .with_wakeup_interval(Duration::from_secs(5).min(config.status_interval()))
    .with_buffer_size(REPLICATION_BUFFER)
    .with_options(SESSION_OPTIONS)
    .with_application_name(format!("rivven-connect/{}", config.slot_name)))
}

/// The SQLSTATE of a server error (`… (SQLSTATE 42501)`), if the error has one.
pub(crate) fn sqlstate(error: &PgWireError) -> Option<&str> {
    let text = match error {
        PgWireError::Server(t) | PgWireError::Auth(t) => t.as_str(),
        _ => return None,
    };
    let at = text.rfind("SQLSTATE ")? + "SQLSTATE ".len();
    text.get(at..at + 5)
}

/// Map a wire error to a connector error whose kind decides retries.
pub(crate) fn classify(error: &PgWireError) -> ConnectorError {
    let kind = match (error, sqlstate(error)) {
        (_, Some("28P01" | "28000")) | (PgWireError::Auth(_), _) => ErrorKind::Auth,
        // insufficient privilege
        (_, Some("42501")) => ErrorKind::Auth,
        // object in use: the slot is active for another connection (the
        // server names it and the holder's PID) — another reader, not a
        // passing condition: an operator must stop one of the two
        (_, Some("55006")) => ErrorKind::Config,
        // cannot connect now, admin shutdown, crash shutdown, too many
        // connections: the server may be fine again soon
        (_, Some("57P01" | "57P02" | "57P03" | "53300")) => ErrorKind::Connection,
        (_, Some(code)) if code.starts_with("08") => ErrorKind::Connection,
        (PgWireError::Io(_) | PgWireError::Task(_), _) => ErrorKind::Connection,
        (PgWireError::Tls(_), _) => ErrorKind::Config,
        (PgWireError::Server(_), _) => ErrorKind::Config,
        _ => ErrorKind::Connection,
    };
    let retryable = matches!(kind, ErrorKind::Connection);
    let message = match sqlstate(error).and_then(hint) {
        Some(hint) => format!("{error} — {hint}"),
        None => error.to_string(),
    };
    ConnectorError::new(kind, message).with_retryable(retryable)
}

/// What to do about a server error, by SQLSTATE.
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "28P01" => "check `user` and `password`",
        "28000" => "pg_hba.conf has no entry for this user, host and `replication` database",
        "42501" => "the role needs the REPLICATION attribute: ALTER ROLE <user> REPLICATION",
        "3D000" => "check `database`",
        "55006" => "another reader is streaming from this slot: stop it or give this source its own `slot_name`",
        "53300" => "the server has no free connection or WAL sender slot (max_connections, max_wal_senders)",
        _ => return None,
    })
}

fn brief(sql: &str) -> String {
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.len() > 120 {
        let cut = (0..=120)
            .rev()
            .find(|&i| one_line.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}…", &one_line[..cut])
    } else {
        one_line
    }
}

/// `"ident"` with embedded quotes doubled.
pub(crate) fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// `'literal'` with embedded quotes doubled (standard_conforming_strings is on
/// since PostgreSQL 9.1).
pub(crate) fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `schema.table` → quoted `"schema"."table"`; a bare `table` is in `public`.
pub(crate) fn split_table(name: &str) -> (String, String) {
    match name.split_once('.') {
        Some((schema, table)) => (schema.to_string(), table.to_string()),
        None => ("public".to_string(), name.to_string()),
    }
}

/// LSN text `16/B374D848` → integer.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    Lsn::parse(text).ok().map(|l| l.0)
}

/// Integer → LSN text.
pub(crate) fn format_lsn(lsn: u64) -> String {
    Lsn(lsn).to_pg_string()
}

/// An LSN as committed states store it: its text form (`"0/16B3748"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PgLsn(pub u64);

impl Serialize for PgLsn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_lsn(self.0))
    }
}

impl<'de> Deserialize<'de> for PgLsn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_lsn(&text).map(PgLsn).ok_or_else(|| {
            serde::de::Error::custom("not an LSN (expected text such as \"0/16B3748\")")
        })
    }
}

impl crate::common::resume::Position for PgLsn {
    const KEY: &'static str = "lsn";
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_is_read_from_the_code_not_the_words() {
        let e = PgWireError::Server("password authentication failed (SQLSTATE 28P01)".into());
        assert_eq!(sqlstate(&e), Some("28P01"));
        assert_eq!(classify(&e).kind(), ErrorKind::Auth);
        let e = PgWireError::Server(
            "replication slot \"s\" is active for PID 7 (SQLSTATE 55006)".into(),
        );
        let c = classify(&e);
        assert_eq!(c.kind(), ErrorKind::Config);
        assert!(
            !c.is_retryable(),
            "a second reader of a slot is not retried"
        );
        assert!(c.to_string().contains("PID 7"), "{c}");
        let e = PgWireError::Server("syntax error (SQLSTATE 42601)".into());
        assert_eq!(classify(&e).kind(), ErrorKind::Config);
        assert!(!classify(&e).is_retryable());
    }

    #[test]
    fn quoting_and_lsns() {
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_literal("o'neil"), "'o''neil'");
        assert_eq!(split_table("orders"), ("public".into(), "orders".into()));
        assert_eq!(
            split_table("sales.orders"),
            ("sales".into(), "orders".into())
        );
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("junk"), None);
    }
}
