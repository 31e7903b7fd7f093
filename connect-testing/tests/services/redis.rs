//! `Redis`: SET/GET, kill/restart with the append-only file.

use rivven_connect_testing::services::Redis;

use crate::{CLIENT_TIMEOUT, SYSTEM_PORTS};

async fn redis_connect(redis: &Redis) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(redis.url())?;
    tokio::time::timeout(CLIENT_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .map_err(|_| redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))?
}

#[tokio::test]
async fn redis_round_trip_survives_kill_and_restart_with_appendonly() {
    use redis::AsyncCommands;
    let mut redis = Redis::start().await.unwrap();
    assert!(!SYSTEM_PORTS.contains(&redis.port()));
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));
    let mut conn = redis_connect(&redis).await.unwrap();
    let () = conn.set("greeting", "hello").await.unwrap();
    let value: String = conn.get("greeting").await.unwrap();
    assert_eq!(value, "hello");

    redis.kill();
    assert!(!redis.is_running());
    assert!(
        redis_connect(&redis).await.is_err(),
        "new connection after kill"
    );

    redis.restart().await.unwrap();
    let mut conn = redis_connect(&redis).await.unwrap();
    let value: Option<String> = conn.get("greeting").await.unwrap();
    assert_eq!(value.as_deref(), Some("hello"));
}
