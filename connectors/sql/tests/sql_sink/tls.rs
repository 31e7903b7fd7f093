//! The `sql-sink` over TLS (rustls) against a private PostgreSQL that serves
//! a certificate from a test CA and refuses every TCP connection without
//! TLS; the rows are read back with `psql` (libpq, over TLS too).

use std::process::Command;

use rivven_connect::{Sink, SinkConfig, SourceEvent};
use rivven_connect_sql::{SqlSink, SqlSinkConfig};
use rivven_connect_testing::prelude::*;
use rivven_connect_testing::services::{Postgres, TestCertificates};
use serde_json::json;

/// `psql` on database `app` over TLS (`PGSSLMODE=require`): its output rows.
fn psql(server: &Postgres, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(server.host())
        .args(["-p", &server.port().to_string(), "-U", server.user()])
        .args(["-d", "app", "-c", sql])
        .env("PGSSLMODE", "require")
        .output()
        .expect("psql (Debian package `postgresql-client`)");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A sink config for `items` over `localhost` (the name in the certificate)
/// with the URL's TLS parameters `query`.
fn config(server: &Postgres, query: &str) -> SqlSinkConfig {
    let url = format!(
        "postgres://{}@localhost:{}/app?{query}",
        server.user(),
        server.port()
    );
    SqlSinkConfig::from_value(json!({"url": url, "table": "items", "connect_timeout_ms": 10_000}))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_over_verified_tls_and_refuses_plain_or_untrusted_connections() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "test-ca").unwrap();
    let other = tempfile::tempdir().unwrap();
    let other_certs = TestCertificates::generate(other.path(), "other-ca").unwrap();
    let server = Postgres::builder()
        .tls(&certs.cert, &certs.key)
        .start()
        .await
        .expect("PostgreSQL (Debian package `postgresql`)");
    server.create_database("app").await.unwrap();
    psql(
        &server,
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT)",
    );
    let ca = certs.ca.display().to_string();

    // Verified TLS: the certificate chains to the given CA and names the host.
    let verified = config(&server, &format!("sslmode=verify-full&sslrootcert={ca}"));
    let sink = SqlSink::new();
    let check = sink.check(&verified).await.unwrap();
    assert!(check.is_success(), "{check:?}");
    let events: Vec<SourceEvent> = (0..500)
        .map(|i| SourceEvent::record("items", json!({"id": i, "name": format!("item {i}")})))
        .collect();
    let result = run_sink(&sink, &verified, events).await.unwrap();
    assert_eq!(result.records_written, 500);
    assert_eq!(
        psql(&server, "SELECT COUNT(*), SUM(id) FROM items"),
        "500|124750"
    );
    // (The server refuses plain TCP — below — so those rows came over TLS.)

    // Without TLS: refused by the server, a failed check naming the cause.
    let plain = sink
        .check(&config(&server, "sslmode=disable"))
        .await
        .unwrap();
    assert!(!plain.is_success(), "the server must refuse plain TCP");
    let message = plain.message.unwrap_or_default();
    assert!(message.contains("pg_hba.conf"), "{message}");

    // A certificate of another CA: refused by the verifying mode.
    let wrong = other_certs.ca.display().to_string();
    let untrusted = sink
        .check(&config(
            &server,
            &format!("sslmode=verify-full&sslrootcert={wrong}"),
        ))
        .await
        .unwrap();
    assert!(
        !untrusted.is_success(),
        "accepted a certificate of another CA"
    );
    let message = untrusted.message.unwrap_or_default().to_lowercase();
    assert!(
        message.contains("tls") || message.contains("certificate"),
        "{message}"
    );
}
