//! The private test servers of `rivven_connect_testing::services`, checked
//! with real client crates: a round trip, then `kill()` (connections fail),
//! then `restart()` (the data the server persists is still there).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use rivven_connect_testing::services::{MariaDb, Mosquitto, Nats, Postgres, Redis, HOST};

#[path = "services/mariadb.rs"]
mod mariadb;
#[path = "services/mosquitto.rs"]
mod mosquitto;
#[path = "services/nats.rs"]
mod nats;
#[path = "services/postgres.rs"]
mod postgres;
#[path = "services/rabbitmq.rs"]
mod rabbitmq;
#[path = "services/redis.rs"]
mod redis;

/// The system instances' ports: our servers must never use them.
const SYSTEM_PORTS: [u16; 5] = [5432, 3306, 1883, 4222, 6379];
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn dropping_a_server_stops_it_and_removes_its_directory() {
    let mut pg = Postgres::start().await.unwrap();
    let (dir, port, pid) = (pg.data_dir().to_path_buf(), pg.port(), pg.pid().unwrap());
    drop(pg);
    assert!(!dir.exists());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "postmaster still there"
    );
    assert!(std::net::TcpStream::connect((HOST, port)).is_err());

    let mut redis = Redis::start().await.unwrap();
    let (dir, port, pid) = (
        redis.data_dir().to_path_buf(),
        redis.port(),
        redis.pid().unwrap(),
    );
    drop(redis);
    assert!(!dir.exists());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "redis-server still there"
    );
    assert!(std::net::TcpStream::connect((HOST, port)).is_err());
}

#[test]
fn starting_a_server_can_run_on_a_spawned_task() {
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&Postgres::start());
    assert_send(&MariaDb::start());
    assert_send(&Mosquitto::start());
    assert_send(&Nats::start());
    assert_send(&Redis::start());
    assert_send(&rivven_connect_testing::services::RabbitMq::start());
}
