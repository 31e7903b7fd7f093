//! The SDK's compliance checks of the `sql-sink`.

use futures::FutureExt;
use rivven_connect_sql::SqlSink;
use rivven_connect_testing::{assert_sink_compliance, SinkCompliance};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_passes_the_compliance_checks() {
    for db in both().await {
        let kind = db.name();
        let mut config = json!({
            "url": db.url(), "table_routing": "c_{stream}", "auto_create_table": true,
            "schema_evolution": "add_columns"
        });
        // PostgreSQL's `trust` ignores a password; MariaDB's root has none.
        if kind == "postgres" {
            config["password"] = json!("s3cret-pw");
        }
        let unreachable = json!({
            "url": closed_url(if kind == "postgres" { "postgres" } else { "mysql" }),
            "table": "t", "connect_timeout_ms": 2000, "password": "s3cret-pw"
        });
        let db = std::sync::Arc::new(db);
        let reader = db.clone();
        let compliance = SinkCompliance::new(SqlSink::new(), config)
            .unreachable(unreachable)
            .secret("s3cret-pw")
            .verify(move |events| {
                async move {
                    let records = events.iter().filter(|e| e.stream == "compliance").count();
                    let changes = events
                        .iter()
                        .filter(|e| e.stream == "compliance_cdc")
                        .count();
                    let a = reader.rows("SELECT COUNT(*) FROM c_compliance").await;
                    let b = reader.rows("SELECT COUNT(*) FROM c_compliance_cdc").await;
                    if a[0][0] != records.to_string() || b[0][0] != changes.to_string() {
                        return Err(format!("rows {a:?} / {b:?}, wrote {records} / {changes}"));
                    }
                    Ok(())
                }
                .boxed()
            });
        assert_sink_compliance(compliance).await;
    }
}
