//! Server prerequisites, the publication and the replication slot.

use std::time::{Duration, Instant};

use rivven_connect::{ConnectorError, ErrorKind};

use super::config::PostgresCdcConfig;
use super::session::{cell, parse_lsn, quote_ident, quote_literal, split_table, text, Session};

/// Facts about the server and the connecting role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerFacts {
    pub wal_level: String,
    pub replication: bool,
    pub superuser: bool,
}

/// Read `wal_level` and the role's attributes.
pub(crate) async fn server_facts(session: &mut Session) -> Result<ServerFacts, ConnectorError> {
    let rows = session
        .query(
            "SELECT current_setting('wal_level'), r.rolreplication, r.rolsuper \
             FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
        )
        .await?;
    let row = rows.into_iter().next().unwrap_or_default();
    Ok(ServerFacts {
        wal_level: text(&row, 0),
        replication: cell(&row, 1) == Some("t"),
        superuser: cell(&row, 2) == Some("t"),
    })
}

impl ServerFacts {
    /// A config error unless `wal_level = logical`.
    pub(crate) fn require_logical(&self) -> Result<(), ConnectorError> {
        if self.wal_level == "logical" {
            Ok(())
        } else {
            Err(ConnectorError::config(format!(
                "wal_level is `{}`: logical decoding needs `wal_level = logical` in postgresql.conf (then restart the server)",
                self.wal_level
            )))
        }
    }

    /// An auth error unless the role may replicate.
    pub(crate) fn require_replication(&self, user: &str) -> Result<(), ConnectorError> {
        if self.replication || self.superuser {
            Ok(())
        } else {
            Err(ConnectorError::auth(format!(
                "role `{user}` lacks the REPLICATION attribute: ALTER ROLE {} REPLICATION",
                quote_ident(user)
            )))
        }
    }
}

/// Whether `publication` exists.
pub(crate) async fn publication_exists(
    session: &mut Session,
    publication: &str,
) -> Result<bool, ConnectorError> {
    let sql = format!(
        "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = {}",
        quote_literal(publication)
    );
    Ok(session.query_value(&sql).await?.is_some())
}

/// Make sure the publication exists: create it when allowed, else a config
/// error that says how.
pub(crate) async fn ensure_publication(
    session: &mut Session,
    config: &PostgresCdcConfig,
) -> Result<(), ConnectorError> {
    let name = config.publication_name();
    if publication_exists(session, name).await? {
        return Ok(());
    }
    let create = create_publication_sql(name, &config.publication_tables);
    if !config.auto_create_publication {
        return Err(ConnectorError::config(format!(
            "publication `{name}` does not exist and auto_create_publication is false: run `{create}`"
        )));
    }
    session.query(&create).await?;
    tracing::info!(publication = name, "created publication");
    Ok(())
}

fn create_publication_sql(name: &str, tables: &[String]) -> String {
    if tables.is_empty() {
        format!("CREATE PUBLICATION {} FOR ALL TABLES", quote_ident(name))
    } else {
        let list: Vec<String> = tables
            .iter()
            .map(|t| {
                let (schema, table) = split_table(t);
                format!("{}.{}", quote_ident(&schema), quote_ident(&table))
            })
            .collect();
        format!(
            "CREATE PUBLICATION {} FOR TABLE {}",
            quote_ident(name),
            list.join(", ")
        )
    }
}

/// A replication slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotInfo {
    pub plugin: String,
    pub database: String,
    pub active_pid: Option<u32>,
    pub confirmed_flush_lsn: Option<u64>,
    /// `pg_replication_slots.wal_status`: `lost` once the server removed WAL
    /// the slot still needed (`max_slot_wal_keep_size`).
    pub wal_status: String,
}

/// How long a slot that another connection holds may take to be released
/// before that is an error: a session of our own that just died (kill -9,
/// a stage restart) keeps the slot until its walsender notices.
pub(crate) const SLOT_RELEASE_WAIT: Duration = Duration::from_secs(5);

/// The slot named in the config, if it exists.
pub(crate) async fn slot_info(
    session: &mut Session,
    slot: &str,
) -> Result<Option<SlotInfo>, ConnectorError> {
    let sql = format!(
        "SELECT coalesce(plugin, ''), coalesce(database, ''), active_pid, confirmed_flush_lsn, \
         coalesce(wal_status, '') FROM pg_catalog.pg_replication_slots WHERE slot_name = {}",
        quote_literal(slot)
    );
    let Some(row) = session.query(&sql).await?.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(SlotInfo {
        plugin: text(&row, 0),
        database: text(&row, 1),
        active_pid: cell(&row, 2).and_then(|p| p.parse().ok()),
        confirmed_flush_lsn: cell(&row, 3).and_then(parse_lsn),
        wal_status: text(&row, 4),
    }))
}

/// The slot, once no other connection holds it: waits up to
/// [`SLOT_RELEASE_WAIT`] for a holder to go away, then returns what it found
/// (whose [`SlotInfo::usable`] names the holder).
pub(crate) async fn slot_info_released(
    session: &mut Session,
    slot: &str,
) -> Result<Option<SlotInfo>, ConnectorError> {
    let deadline = Instant::now() + SLOT_RELEASE_WAIT;
    loop {
        let info = slot_info(session, slot).await?;
        match &info {
            Some(SlotInfo {
                active_pid: Some(pid),
                ..
            }) if Instant::now() < deadline => {
                tracing::debug!(
                    slot,
                    pid,
                    "replication slot is held by another connection; waiting for it to be released"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            _ => return Ok(info),
        }
    }
}

/// Drop a slot (one the server invalidated, before re-creating it).
pub(crate) async fn drop_slot(session: &mut Session, slot: &str) -> Result<(), ConnectorError> {
    session
        .query(&format!("DROP_REPLICATION_SLOT {}", quote_ident(slot)))
        .await
        .map(|_| ())
}

/// The pipeline failure for a slot that disappeared (or was invalidated)
/// while the source has a committed position: streaming from a new slot
/// would silently skip every change in between.
pub(crate) fn slot_gone(slot: &str, committed_lsn: u64, lost: bool) -> ConnectorError {
    let what = if lost {
        "was invalidated by the server (wal_status = lost, see max_slot_wal_keep_size)"
    } else {
        "is gone"
    };
    ConnectorError::new(
        ErrorKind::Fatal,
        format!(
            "replication slot `{slot}` {what}; changes since LSN {} may be lost; set snapshot_mode: when_needed to re-snapshot, or drop this pipeline's committed offsets to start over",
            super::session::format_lsn(committed_lsn)
        ),
    )
    .with_retryable(false)
}

impl SlotInfo {
    /// A slot this source can stream from: pgoutput, this database, not in use.
    pub(crate) fn usable(&self, slot: &str, database: &str) -> Result<(), ConnectorError> {
        if self.plugin != "pgoutput" {
            return Err(ConnectorError::config(format!(
                "replication slot `{slot}` uses the `{}` plugin, not pgoutput: drop it or choose another `slot_name`",
                self.plugin
            )));
        }
        if self.database != database {
            return Err(ConnectorError::config(format!(
                "replication slot `{slot}` belongs to database `{}`, not `{database}`: choose another `slot_name`",
                self.database
            )));
        }
        if let Some(pid) = self.active_pid {
            return Err(slot_in_use(slot, Some(pid)));
        }
        Ok(())
    }

    /// Whether the server invalidated the slot (it can no longer stream).
    pub(crate) fn is_lost(&self) -> bool {
        self.wal_status == "lost"
    }
}

/// Another connection streams from `slot` (`pid`: the holder's backend, if
/// known). Not retryable: two readers of one slot would each see only part
/// of the changes, so this needs an operator, not a retry.
pub(crate) fn slot_in_use(slot: &str, pid: Option<u32>) -> ConnectorError {
    let holder = match pid {
        Some(pid) => format!("another connection (pid {pid})"),
        None => "another connection".to_string(),
    };
    ConnectorError::new(
        ErrorKind::Config,
        format!(
            "replication slot `{slot}` is in use by {holder}: another reader streams from it; stop that client (SELECT pg_terminate_backend(pid)) or give this source its own `slot_name`"
        ),
    )
    .with_retryable(false)
}

/// How a new slot's snapshot is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotSnapshot {
    /// Use the slot's snapshot in the current (REPEATABLE READ) transaction.
    Use,
    /// No snapshot.
    Nothing,
}

/// Create the slot; returns its consistent point.
pub(crate) async fn create_slot(
    session: &mut Session,
    slot: &str,
    snapshot: SlotSnapshot,
) -> Result<u64, ConnectorError> {
    let option = match snapshot {
        SlotSnapshot::Use => "USE_SNAPSHOT",
        SlotSnapshot::Nothing => "NOEXPORT_SNAPSHOT",
    };
    let sql = format!(
        "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {option}",
        quote_ident(slot)
    );
    let rows = session.query(&sql).await?;
    let point = rows
        .first()
        .and_then(|r| cell(r, 1))
        .and_then(parse_lsn)
        .ok_or_else(|| {
            ConnectorError::connection(format!(
                "CREATE_REPLICATION_SLOT for `{slot}` returned no consistent point"
            ))
        })?;
    tracing::info!(slot, consistent_point = %super::session::format_lsn(point), "created replication slot");
    Ok(point)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn publication_sql_quotes_names() {
        assert_eq!(
            create_publication_sql("pub", &[]),
            "CREATE PUBLICATION \"pub\" FOR ALL TABLES"
        );
        assert_eq!(
            create_publication_sql("pub", &["orders".into(), "sales.Items".into()]),
            "CREATE PUBLICATION \"pub\" FOR TABLE \"public\".\"orders\", \"sales\".\"Items\""
        );
    }

    #[test]
    fn slot_checks_name_the_problem() {
        let slot = SlotInfo {
            plugin: "pgoutput".into(),
            database: "db".into(),
            active_pid: Some(42),
            confirmed_flush_lsn: None,
            wal_status: "reserved".into(),
        };
        let err = slot.usable("s", "db").unwrap_err();
        assert!(err.to_string().contains("pid 42"), "{err}");
        assert!(err.to_string().contains("`s`"), "{err}");
        assert!(!err.is_retryable());
        assert!(!slot.is_lost());
        let other = SlotInfo {
            plugin: "test_decoding".into(),
            active_pid: None,
            ..slot
        };
        assert!(other
            .usable("s", "db")
            .unwrap_err()
            .to_string()
            .contains("test_decoding"));
    }
}
