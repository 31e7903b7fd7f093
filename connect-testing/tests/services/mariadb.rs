//! `MariaDb`: SQL round trip with the binlog on, kill/restart.

use rivven_connect_testing::services::MariaDb;

use crate::SYSTEM_PORTS;

async fn mysql_connect(db: &MariaDb) -> Result<mysql_async::Conn, mysql_async::Error> {
    mysql_async::Conn::from_url(db.url()).await
}

#[tokio::test]
async fn mariadb_round_trip_with_binlog_survives_kill_and_restart() {
    use mysql_async::prelude::Queryable;
    let mut db = MariaDb::start().await.unwrap();
    assert!(!SYSTEM_PORTS.contains(&db.port()));
    assert_eq!(db.url(), format!("mysql://root@127.0.0.1:{}/", db.port()));
    let mut conn = mysql_connect(&db).await.unwrap();
    let (log_bin, format, metadata, server_id): (i64, String, String, u32) = conn
        .query_first("SELECT @@log_bin, @@binlog_format, @@binlog_row_metadata, @@server_id")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (log_bin, format.as_str(), metadata.as_str()),
        (1, "ROW", "FULL")
    );
    assert_eq!(server_id, db.server_id());
    conn.query_drop(
        "CREATE DATABASE app; CREATE TABLE app.items (id INT PRIMARY KEY, name TEXT); \
         INSERT INTO app.items VALUES (1, 'one')",
    )
    .await
    .unwrap();
    let name: Option<String> = conn
        .query_first("SELECT name FROM app.items WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("one"));

    db.kill();
    assert!(!db.is_running());
    assert!(
        conn.query_drop("SELECT 1").await.is_err(),
        "old connection survived kill"
    );
    assert!(
        mysql_connect(&db).await.is_err(),
        "new connection after kill"
    );

    db.restart().await.unwrap();
    let mut conn = mysql_connect(&db).await.unwrap();
    let name: Option<String> = conn
        .query_first("SELECT name FROM app.items WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("one"));
    conn.disconnect().await.unwrap();
}
