//! Private servers and independent readers for the sink tests.

use mysql_async::prelude::Queryable;
use rivven_connect::SinkConfig;
use rivven_connect_sql::SqlSinkConfig;
use rivven_connect_testing::services::{MariaDb, Postgres};
use serde_json::{json, Value};

/// A private database server of either kind, with an empty database `app`.
pub enum Server {
    Pg(Postgres),
    My(MariaDb),
}

impl Server {
    pub async fn postgres() -> Self {
        let pg = Postgres::start()
            .await
            .expect("PostgreSQL (Debian package `postgresql`)");
        let s = Self::Pg(pg);
        s.exec_on_default("CREATE DATABASE app").await;
        s
    }

    pub async fn mariadb() -> Self {
        let my = MariaDb::start()
            .await
            .expect("MariaDB (Debian package `mariadb-server`)");
        let s = Self::My(my);
        s.exec_on_default("CREATE DATABASE app").await;
        s
    }

    /// Both kinds, one after the other (a test runs its body for each).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pg(_) => "postgres",
            Self::My(_) => "mariadb",
        }
    }

    /// The URL of database `app`.
    pub fn url(&self) -> String {
        match self {
            Self::Pg(pg) => pg.url_for("app"),
            Self::My(my) => format!("mysql://root@127.0.0.1:{}/app", my.port()),
        }
    }

    /// A sink config: `url` plus `extra`.
    pub fn config(&self, extra: Value) -> SqlSinkConfig {
        let mut v = json!({"url": self.url()});
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            v[k] = x;
        }
        SqlSinkConfig::from_value(v).unwrap()
    }

    async fn exec_on_default(&self, sql: &str) {
        match self {
            Self::Pg(pg) => pg_client(pg, "postgres")
                .await
                .batch_execute(sql)
                .await
                .unwrap(),
            Self::My(my) => {
                let mut c = mysql_async::Conn::from_url(my.url()).await.unwrap();
                c.query_drop(sql).await.unwrap();
                c.disconnect().await.unwrap();
            }
        }
    }

    /// Runs statements in database `app` (the independent client).
    pub async fn exec(&self, sql: &str) {
        match self {
            Self::Pg(pg) => pg_client(pg, "app").await.batch_execute(sql).await.unwrap(),
            Self::My(_) => {
                let mut c = mysql_async::Conn::from_url(self.url()).await.unwrap();
                c.query_drop(sql).await.unwrap();
                c.disconnect().await.unwrap();
            }
        }
    }

    /// The rows of a query in database `app`, every column cast to text by
    /// the caller's SQL (NULL as "NULL"), in the query's order.
    pub async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            Self::Pg(pg) => {
                let rows = pg_client(pg, "app").await.simple_query(sql).await.unwrap();
                rows.into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                            (0..r.len())
                                .map(|i| r.get(i).unwrap_or("NULL").to_string())
                                .collect(),
                        ),
                        _ => None,
                    })
                    .collect()
            }
            Self::My(_) => {
                let mut c = mysql_async::Conn::from_url(self.url()).await.unwrap();
                let rows: Vec<mysql_async::Row> = c.query(sql).await.unwrap();
                c.disconnect().await.unwrap();
                rows.into_iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| match r.as_ref(i) {
                                Some(mysql_async::Value::NULL) | None => "NULL".to_string(),
                                Some(mysql_async::Value::Bytes(b)) => {
                                    String::from_utf8_lossy(b).into_owned()
                                }
                                Some(v) => v.as_sql(true).trim_matches('\'').to_string(),
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }
}

/// A tokio-postgres client of `database`.
async fn pg_client(pg: &Postgres, database: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname={database}",
            pg.port()
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    client
}

/// Both servers (started one after the other).
pub async fn both() -> Vec<Server> {
    vec![Server::postgres().await, Server::mariadb().await]
}

/// A URL nothing listens on (of the server's kind).
pub fn closed_url(kind: &str) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    match kind {
        "postgres" => format!("postgres://postgres@127.0.0.1:{port}/app"),
        _ => format!("mysql://root@127.0.0.1:{port}/app"),
    }
}
