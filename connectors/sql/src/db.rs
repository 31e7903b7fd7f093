//! Connections to PostgreSQL and MySQL/MariaDB: the URL's scheme picks the
//! driver (`postgres://` / `postgresql://`, `mysql://` / `mariadb://`).
//!
//! Statements are built at run time (no sqlx macros), so everything the
//! connectors send goes through [`Conn::execute`] / [`Conn::fetch`] with
//! positional [`Param`]s; transactions are plain `BEGIN` / `COMMIT` on one
//! pooled connection. Errors become [`ConnectorError`]s by SQLSTATE (and, for
//! MySQL, the server's error number), never by their wording.

use std::str::FromStr;
use std::time::Duration;

use rivven_connect::{ConnectorError, SecretString};
use validator::ValidationError;

/// The SQL dialect of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl Dialect {
    /// The dialect a URL asks for.
    pub fn of_url(url: &str) -> Result<Self, ConnectorError> {
        let scheme = url.split("://").next().unwrap_or_default();
        match scheme {
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            _ => Err(ConnectorError::config(format!(
                "url: expected postgres://… or mysql://… (mariadb://…), not `{scheme}://`"
            ))),
        }
    }

    /// `name` quoted as an identifier; `schema.table` is quoted part by part.
    pub fn quote(self, name: &str) -> String {
        let q = match self {
            Self::Postgres => '"',
            Self::MySql => '`',
        };
        name.split('.')
            .map(|part| {
                let escaped = part.replace(q, &format!("{q}{q}"));
                format!("{q}{escaped}{q}")
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The `n`th (1-based) placeholder.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Self::Postgres => format!("${n}"),
            Self::MySql => "?".to_string(),
        }
    }
}

/// Validator of `url`: a postgres:// or mysql:// URL without a password.
pub fn validate_url(url: &str) -> Result<(), ValidationError> {
    check_url(url)
        .map_err(|e| ValidationError::new("url").with_message(e.message().to_owned().into()))
}

fn check_url(url: &str) -> Result<(), ConnectorError> {
    Dialect::of_url(url)?;
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if userinfo.contains(':') {
            return Err(ConnectorError::config(
                "url: put the password in `password` (a secret), not in the URL",
            ));
        }
    }
    Ok(())
}

/// A URL for messages: without its query string (which may carry TLS file paths and more).
pub fn display_url(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// A bound statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// SQL `NULL`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    I64(i64),
    /// A double.
    F64(f64),
    /// Text (JSON documents are passed as text too).
    Text(String),
}

impl Param {
    /// The parameter for a JSON value: objects and arrays as their JSON text;
    /// integers beyond `i64` as text (the server converts or refuses them).
    pub fn from_json(value: &serde_json::Value) -> Self {
        use serde_json::Value as V;
        match value {
            V::Null => Self::Null,
            V::Bool(b) => Self::Bool(*b),
            V::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Self::I64(i),
                (None, Some(_)) if n.is_u64() => Self::Text(n.to_string()),
                (None, Some(f)) => Self::F64(f),
                (None, None) => Self::Text(n.to_string()),
            },
            V::String(s) => Self::Text(s.clone()),
            other => Self::Text(other.to_string()),
        }
    }
}

/// A connection pool of either driver.
#[derive(Debug, Clone)]
pub enum Pool {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// MySQL / MariaDB.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// How to connect.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// The URL.
    pub url: &'a str,
    /// The password, if not trust/peer authentication.
    pub password: Option<&'a SecretString>,
    /// Pool size.
    pub max_connections: u32,
    /// How long connecting (or waiting for a pooled connection) may take.
    pub connect_timeout: Duration,
}

impl Pool {
    /// Connects (at least one connection, so a bad endpoint fails here).
    pub async fn connect(endpoint: Endpoint<'_>) -> Result<Self, ConnectorError> {
        check_url(endpoint.url)?;
        let url = display_url(endpoint.url);
        let fail = |e: sqlx::Error| classify(&e, &format!("connecting to {url}"));
        let connecting = async {
            match Dialect::of_url(endpoint.url)? {
                Dialect::Postgres => {
                    #[cfg(feature = "postgres")]
                    {
                        let mut options = sqlx::postgres::PgConnectOptions::from_str(endpoint.url)
                            .map_err(|e| ConnectorError::config(format!("url `{url}`: {e}")))?;
                        if let Some(p) = endpoint.password {
                            options = options.password(p.expose_secret());
                        }
                        let pool = sqlx::postgres::PgPoolOptions::new()
                            // No ping before each acquire: a dead connection
                            // fails its statement, and the write is retried.
                            .test_before_acquire(false)
                            .max_connections(endpoint.max_connections.max(1))
                            .acquire_timeout(endpoint.connect_timeout)
                            .connect_with(options)
                            .await
                            .map_err(fail)?;
                        Ok(Self::Postgres(pool))
                    }
                    #[cfg(not(feature = "postgres"))]
                    Err(ConnectorError::config(
                        "url: postgres:// needs rivven-connect-sql's feature `postgres`",
                    ))
                }
                Dialect::MySql => {
                    #[cfg(feature = "mysql")]
                    {
                        let mysql_url = endpoint.url.replacen("mariadb://", "mysql://", 1);
                        let mut options = sqlx::mysql::MySqlConnectOptions::from_str(&mysql_url)
                            .map_err(|e| ConnectorError::config(format!("url `{url}`: {e}")))?;
                        if let Some(p) = endpoint.password {
                            options = options.password(p.expose_secret());
                        }
                        let pool = sqlx::mysql::MySqlPoolOptions::new()
                            // No ping before each acquire: a dead connection
                            // fails its statement, and the write is retried.
                            .test_before_acquire(false)
                            .max_connections(endpoint.max_connections.max(1))
                            .acquire_timeout(endpoint.connect_timeout)
                            .connect_with(options)
                            .await
                            .map_err(fail)?;
                        Ok(Self::MySql(pool))
                    }
                    #[cfg(not(feature = "mysql"))]
                    Err(ConnectorError::config(
                        "url: mysql:// needs rivven-connect-sql's feature `mysql`",
                    ))
                }
            }
        };
        tokio::time::timeout(
            endpoint.connect_timeout + Duration::from_secs(1),
            connecting,
        )
        .await
        .map_err(|_| {
            ConnectorError::timeout(format!(
                "connecting to {url}: no answer within {:?}",
                endpoint.connect_timeout
            ))
        })?
    }

    /// The pool's dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Self::MySql(_) => Dialect::MySql,
        }
    }

    /// One connection of the pool.
    pub async fn acquire(&self) -> Result<Conn, ConnectorError> {
        let fail = |e: sqlx::Error| classify(&e, "acquiring a connection");
        Ok(match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Conn::Postgres(p.acquire().await.map_err(fail)?),
            #[cfg(feature = "mysql")]
            Self::MySql(p) => Conn::MySql(p.acquire().await.map_err(fail)?),
        })
    }
}

/// A pooled connection of either driver.
#[derive(Debug)]
pub enum Conn {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    /// MySQL / MariaDB.
    #[cfg(feature = "mysql")]
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
}

macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                Param::Null => q.bind(None::<String>),
                Param::Bool(b) => q.bind(*b),
                Param::I64(i) => q.bind(*i),
                Param::F64(f) => q.bind(*f),
                Param::Text(s) => q.bind(s.as_str()),
            };
        }
        q
    }};
}

impl Conn {
    /// The connection's dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Self::MySql(_) => Dialect::MySql,
        }
    }

    /// After a failed transaction: roll it back, or drop the connection if
    /// even that fails (it never goes back to the pool mid-transaction).
    pub async fn abandon(&mut self) {
        if self.simple("ROLLBACK").await.is_err() {
            match self {
                #[cfg(feature = "postgres")]
                Self::Postgres(c) => c.close_on_drop(),
                #[cfg(feature = "mysql")]
                Self::MySql(c) => c.close_on_drop(),
            }
        }
    }

    /// Runs a statement without parameters over the simple protocol
    /// (`BEGIN`, `COMMIT`, `SAVEPOINT`, DDL).
    pub async fn simple(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        use sqlx::Executor;
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(c) => c
                .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
                .await
                .map(|_| ()),
            #[cfg(feature = "mysql")]
            Self::MySql(c) => c
                .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
                .await
                .map(|_| ()),
        }
    }

    /// Runs a statement with parameters; the number of rows it affected.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, sqlx::Error> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(c) => {
                let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
                Ok(q.execute(&mut **c).await?.rows_affected())
            }
            #[cfg(feature = "mysql")]
            Self::MySql(c) => {
                let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
                Ok(q.execute(&mut **c).await?.rows_affected())
            }
        }
    }

    /// Runs a query whose columns are all text (cast them in the SQL); NULL is `None`.
    pub async fn fetch(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
        use sqlx::Row;
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(c) => {
                let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
                let rows = q.fetch_all(&mut **c).await?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get::<Option<String>, _>(i))
                            .collect()
                    })
                    .collect()
            }
            #[cfg(feature = "mysql")]
            Self::MySql(c) => {
                let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
                let rows = q.fetch_all(&mut **c).await?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get::<Option<String>, _>(i))
                            .collect()
                    })
                    .collect()
            }
        }
    }

    /// Runs a query and returns each row's columns as JSON values (the
    /// source's reads): numbers, booleans, text and JSON documents keep their
    /// types, anything else is read as text.
    pub async fn fetch_json(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, sqlx::Error> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(c) => {
                let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
                let rows = q.fetch_all(&mut **c).await?;
                Ok(rows.iter().map(crate::values::pg_row).collect())
            }
            #[cfg(feature = "mysql")]
            Self::MySql(c) => {
                let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
                let rows = q.fetch_all(&mut **c).await?;
                Ok(rows.iter().map(crate::values::mysql_row).collect())
            }
        }
    }
}

/// Whether a failed statement was refused because of the data it carried
/// (a value of the wrong type or out of range, a constraint), so that the
/// rows can be tried one by one to find the bad ones.
pub fn is_data_error(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    let state = db.code().map(|c| c.into_owned()).unwrap_or_default();
    if state.starts_with("22") || state.starts_with("23") || state == "42804" {
        return true;
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // Incorrect value, truncated, out of range, bad date, too long,
        // NULL in NOT NULL, invalid JSON, CHECK constraint.
        return matches!(
            my.number(),
            1048 | 1264 | 1265 | 1292 | 1366 | 1406 | 1411 | 3140 | 4025
        );
    }
    false
}

/// A driver error as a connector error, by SQLSTATE / error number.
pub fn classify(e: &sqlx::Error, what: &str) -> ConnectorError {
    let message = format!("{what}: {e}");
    match e {
        sqlx::Error::Configuration(_) => ConnectorError::config(message),
        sqlx::Error::Tls(_) => ConnectorError::connection(message).with_retryable(false),
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => ConnectorError::connection(message),
        sqlx::Error::Database(db) => {
            #[cfg(feature = "mysql")]
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return match my.number() {
                    1044 | 1045 | 1142 | 1227 | 1698 => {
                        ConnectorError::auth(message).with_retryable(false)
                    }
                    1040 | 1053 | 1205 | 1213 | 2002 | 2003 | 2006 | 2013 => {
                        ConnectorError::transient(message)
                    }
                    1049 | 1054 | 1146 => ConnectorError::schema(message),
                    _ if is_data_error(e) => ConnectorError::data(message),
                    _ => ConnectorError::fatal(message),
                };
            }
            let state = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match state.get(..2).unwrap_or_default() {
                "28" => ConnectorError::auth(message).with_retryable(false),
                "08" | "53" | "57" | "40" => ConnectorError::transient(message),
                "22" | "23" => ConnectorError::data(message),
                "42" | "3D" | "3F" => ConnectorError::schema(message),
                _ => ConnectorError::fatal(message),
            }
        }
        _ => ConnectorError::fatal(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_dialect() {
        assert_eq!(
            Dialect::of_url("postgres://h/db").ok(),
            Some(Dialect::Postgres)
        );
        assert_eq!(
            Dialect::of_url("postgresql://h/db").ok(),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::of_url("mysql://h/db").ok(), Some(Dialect::MySql));
        assert_eq!(Dialect::of_url("mariadb://h/db").ok(), Some(Dialect::MySql));
        let err = Dialect::of_url("sqlite://x").err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("sqlite"));
    }

    #[test]
    fn passwords_in_urls_are_refused() {
        assert!(check_url("postgres://u:secret@h/db").is_err());
        assert!(check_url("postgres://u@h/db").is_ok());
        assert!(check_url("mysql://h:3306/db?ssl-mode=required").is_ok());
    }

    #[test]
    fn identifiers_are_quoted_part_by_part() {
        assert_eq!(
            Dialect::Postgres.quote("public.t\"x"),
            "\"public\".\"t\"\"x\""
        );
        assert_eq!(Dialect::MySql.quote("db.t`x"), "`db`.`t``x`");
    }

    #[test]
    fn json_values_become_params() {
        use serde_json::json;
        assert_eq!(Param::from_json(&json!(1)), Param::I64(1));
        assert_eq!(Param::from_json(&json!(1.5)), Param::F64(1.5));
        assert_eq!(
            Param::from_json(&json!(u64::MAX)),
            Param::Text(u64::MAX.to_string())
        );
        assert_eq!(
            Param::from_json(&json!({"a": [1]})),
            Param::Text("{\"a\":[1]}".into())
        );
        assert_eq!(Param::from_json(&json!(null)), Param::Null);
    }
}
