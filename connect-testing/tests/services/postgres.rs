//! `Postgres`: SQL round trip, `wal_level`, kill/restart, parallel starts,
//! settings and the missing-binary error.

use rivven_connect_testing::services::{Postgres, ServiceError};

use crate::SYSTEM_PORTS;

async fn pg_connect(pg: &Postgres) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The single text value `sql` returns.
async fn scalar(client: &tokio_postgres::Client, sql: &str) -> String {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn postgres_round_trip_survives_kill_and_restart() {
    let mut pg = Postgres::start().await.unwrap();
    assert!(!SYSTEM_PORTS.contains(&pg.port()));
    assert_eq!(
        pg.url(),
        format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port())
    );
    assert!(pg
        .env()
        .contains(&("PGPORT".to_string(), pg.port().to_string())));

    let client = pg_connect(&pg).await.unwrap();
    let wal_level = scalar(&client, "SHOW wal_level").await;
    assert_eq!(wal_level, "logical");
    client
        .batch_execute("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'one')")
        .await
        .unwrap();
    let name = scalar(&client, "SELECT name FROM items WHERE id = 1").await;
    assert_eq!(name, "one");

    // The process we hold is the postmaster itself (not a `runuser` wrapper).
    let pid = pg.pid().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "postgres");
    pg.kill();
    assert!(!pg.is_running());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(
        client.simple_query("SELECT 1").await.is_err(),
        "old connection survived kill"
    );
    assert!(pg_connect(&pg).await.is_err(), "new connection after kill");

    pg.restart().await.unwrap();
    let client = pg_connect(&pg).await.unwrap();
    let name = scalar(&client, "SELECT name FROM items WHERE id = 1").await;
    assert_eq!(name, "one");
}

#[tokio::test]
async fn two_postgres_start_at_once_on_different_ports() {
    let (a, b) = tokio::join!(Postgres::start(), Postgres::start());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    for pg in [&a, &b] {
        let client = pg_connect(pg).await.unwrap();
        let port = scalar(&client, "SHOW port").await;
        assert_eq!(port, pg.port().to_string());
    }
}

#[tokio::test]
async fn postgres_settings_override_the_defaults_and_create_database_works() {
    let pg = Postgres::builder()
        .setting("wal_level", "replica")
        .start()
        .await
        .unwrap();
    let client = pg_connect(&pg).await.unwrap();
    let wal_level = scalar(&client, "SHOW wal_level").await;
    assert_eq!(wal_level, "replica");

    pg.create_database("other db").await.unwrap();
    let (client, connection) = tokio_postgres::connect(
        &format!("{} dbname='other db'", pg.connection_string()),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let db = scalar(&client, "SELECT current_database()").await;
    assert_eq!(db, "other db");
}

#[tokio::test]
async fn missing_postgres_binaries_name_the_debian_package() {
    let empty = tempfile::tempdir().unwrap();
    let err = Postgres::builder()
        .bin_dir(empty.path())
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::MissingBinary { binary, package: "postgresql", .. } if binary == "initdb"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "`initdb` not found (looked in {}): install the Debian package `postgresql`",
            empty.path().display()
        )
    );
}
