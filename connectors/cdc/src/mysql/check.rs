//! `check`: what the server needs for binlog CDC, one actionable line per
//! failure.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use rivven_connect::{CheckResult, ConnectorError, ErrorKind, Result};

use crate::common::check::summarized;

use super::config::MySqlCdcConfig;
use super::session::classify;

/// Server variables the checks read.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerFacts {
    pub log_bin: bool,
    pub binlog_format: String,
    pub row_image: String,
    pub server_id: u32,
    pub is_mariadb: bool,
}

/// `@@log_bin`, `@@binlog_format`, `@@binlog_row_image`, `@@server_id`, `VERSION()`.
type Variables = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u32>,
    Option<String>,
);

pub(crate) async fn server_facts(conn: &mut Conn) -> Result<ServerFacts> {
    let row: Option<Variables> = conn
        .query_first("SELECT CAST(@@log_bin AS CHAR), @@binlog_format, @@binlog_row_image, @@server_id, VERSION()")
        .await
        .map_err(|e| classify(&e).context("read server variables"))?;
    let (log_bin, format, image, id, version) = row.unwrap_or_default();
    Ok(ServerFacts {
        log_bin: matches!(log_bin.as_deref(), Some("1" | "ON")),
        binlog_format: format.unwrap_or_default(),
        row_image: image.unwrap_or_default(),
        server_id: id.unwrap_or(0),
        is_mariadb: version
            .unwrap_or_default()
            .to_ascii_lowercase()
            .contains("mariadb"),
    })
}

impl ServerFacts {
    pub(crate) fn require_binlog(&self) -> Result<()> {
        if !self.log_bin {
            return Err(ConnectorError::config(
                "the binary log is off: start the server with log_bin (and binlog_format=ROW, binlog_row_image=FULL)",
            ));
        }
        if !self.binlog_format.eq_ignore_ascii_case("ROW") {
            return Err(ConnectorError::config(format!(
                "binlog_format is {}: set binlog_format=ROW (SET GLOBAL binlog_format='ROW' and in the server's config)",
                self.binlog_format
            )));
        }
        if !self.row_image.eq_ignore_ascii_case("FULL") {
            return Err(ConnectorError::config(format!(
                "binlog_row_image is {}: set binlog_row_image=FULL, or updates and deletes lack their whole before image",
                self.row_image
            )));
        }
        Ok(())
    }

    pub(crate) fn require_server_id(&self, config: &MySqlCdcConfig) -> Result<()> {
        if self.server_id == config.server_id {
            return Err(ConnectorError::config(format!(
                "server_id {} is the server's own: give this source a server_id no server or replica uses",
                config.server_id
            )));
        }
        Ok(())
    }
}

/// The grants of the current user, upper-cased.
async fn grants(conn: &mut Conn) -> Result<String> {
    let rows: Vec<Row> = conn
        .query("SHOW GRANTS FOR CURRENT_USER()")
        .await
        .map_err(|e| classify(&e).context("SHOW GRANTS"))?;
    Ok(rows
        .iter()
        .filter_map(|r| r.get::<String, _>(0))
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_uppercase())
}

pub(crate) fn require_privileges(grants: &str, database: &str) -> Result<()> {
    let global = |p: &str| {
        grants
            .lines()
            .filter(|l| l.contains(" ON *.* "))
            .any(|l| l.contains("ALL PRIVILEGES") || l.contains(p))
    };
    let mut missing = Vec::new();
    if !global("REPLICATION SLAVE") {
        missing.push("REPLICATION SLAVE");
    }
    if !(global("REPLICATION CLIENT") || global("BINLOG MONITOR") || global("SUPER")) {
        missing.push("REPLICATION CLIENT");
    }
    let db = format!("`{}`.*", database.to_ascii_uppercase());
    let select = global("SELECT")
        || grants
            .lines()
            .filter(|l| l.contains(&db))
            .any(|l| l.contains("ALL PRIVILEGES") || l.contains("SELECT"));
    if !select {
        missing.push("SELECT");
    }
    if missing.is_empty() {
        return Ok(());
    }
    let on_db: Vec<&str> = missing.iter().copied().filter(|p| *p == "SELECT").collect();
    let global_missing: Vec<&str> = missing.iter().copied().filter(|p| *p != "SELECT").collect();
    let mut fix = Vec::new();
    if !global_missing.is_empty() {
        fix.push(format!(
            "GRANT {} ON *.* TO <user>",
            global_missing.join(", ")
        ));
    }
    if !on_db.is_empty() {
        fix.push(format!("GRANT SELECT ON `{database}`.* TO <user>"));
    }
    Err(ConnectorError::auth(format!(
        "the user lacks {}: {}",
        missing.join(", "),
        fix.join("; ")
    )))
}

/// Every check, each failure one line naming the fix.
pub(crate) async fn run(config: &MySqlCdcConfig) -> CheckResult {
    let failed = |name: &str, e: ConnectorError| {
        CheckResult::builder().check(name, Err::<(), _>(e)).finish()
    };
    let mut conn = match super::session::connect(config).await {
        Ok(c) => c,
        Err(e) => return summarized(failed("connect", e)),
    };
    let mut b = CheckResult::builder().check_passed("connect");
    let facts = match server_facts(&mut conn).await {
        Ok(f) => f,
        Err(e) => return summarized(failed("server", e)),
    };
    b = b.check("binlog", facts.require_binlog());
    b = match grants(&mut conn).await {
        Ok(g) => b.check("privileges", require_privileges(&g, &config.database)),
        Err(e) => b.check("privileges", Err::<(), _>(e)),
    };
    let id = config.server_id;
    b = match facts.require_server_id(config) {
        Err(e) => b.check("server_id", Err::<(), _>(e)),
        Ok(()) => match super::session::replicas(&mut conn).await {
            // Retryable, as the source's own refusal: a run of this source
            // killed a moment ago stays listed until the server notices, and
            // the runtime's check before a (re)start must not fail for good.
            Ok(listed) if listed.iter().any(|(i, _)| *i == id) => b.check_failed_kind(
                "server_id",
                ErrorKind::Transient,
                format!("server_id {id} is in use by another replica of this server (SHOW SLAVE HOSTS): give this source its own server_id"),
            ),
            Ok(_) => b.check_passed("server_id"),
            // Listing replicas needs REPLICATION SLAVE (ADMIN); the privilege check names it.
            Err(_) => b.check_passed("server_id"),
        },
    };
    let _ = conn.disconnect().await;
    summarized(b.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn missing_privileges_name_the_grant() {
        let ok = "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `U`@`%`\nGRANT SELECT ON `SHOP`.* TO `U`@`%`";
        assert!(require_privileges(ok, "shop").is_ok());
        let e = require_privileges(
            "GRANT USAGE ON *.* TO `U`@`%`\nGRANT SELECT ON `SHOP`.* TO `U`@`%`",
            "shop",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*"),
            "{e}"
        );
        let e = require_privileges(
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `U`@`%`",
            "shop",
        )
        .unwrap_err();
        assert!(e.to_string().contains("GRANT SELECT ON `shop`.*"), "{e}");
        assert!(
            require_privileges("GRANT ALL PRIVILEGES ON *.* TO `ROOT`@`LOCALHOST`", "x").is_ok()
        );
    }
}
