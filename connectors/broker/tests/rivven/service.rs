//! connect-testing's `services::Rivven`: the real `rivvend` on loopback
//! ports only, clean stop and restart with the data, kill.

use std::time::{Duration, Instant};

use rivven_client::Client;

use crate::support::*;

/// The local addresses process `pid` listens on (IPv4 and IPv6).
fn listening_addresses(pid: u32) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|t| {
            let t = t.to_string_lossy().to_string();
            t.strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    let mut addresses = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                addresses.push(f[1].to_string());
            }
        }
    }
    addresses
}

#[tokio::test]
async fn rivvend_listens_on_loopback_only_and_keeps_its_data_across_a_clean_restart() {
    let mut broker = broker().await;
    let pid = broker.pid().unwrap();
    let listening = listening_addresses(pid);
    assert!(!listening.is_empty());
    // 0100007F = 127.0.0.1; an all-zero address would be 0.0.0.0 or [::].
    assert!(
        listening.iter().all(|a| a.starts_with("0100007F:")),
        "rivvend listens beyond loopback: {listening:?}"
    );
    assert_ne!(broker.port(), 9092);

    let mut client = Client::connect(&broker.addr()).await.unwrap();
    client.create_topic("kept", Some(1)).await.unwrap();
    client
        .publish("kept", b"before-restart".to_vec())
        .await
        .unwrap();
    drop(client);

    let started = Instant::now();
    broker.terminate().await;
    println!("rivvend SIGTERM stop took {:?}", started.elapsed());
    assert!(!broker.is_running());
    assert!(
        Client::connect_with_timeout(&broker.addr(), Duration::from_secs(1))
            .await
            .is_err()
    );

    let port = broker.port();
    let started = Instant::now();
    broker.restart().await.unwrap();
    println!("rivvend start took {:?}", started.elapsed());
    assert_eq!(broker.port(), port);
    let mut client = Client::connect(&broker.addr()).await.unwrap();
    let messages = client.consume("kept", 0, 0, 10).await.unwrap();
    assert_eq!(&messages[0].value[..], b"before-restart");

    broker.kill();
    assert!(!broker.is_running());
    broker.restart().await.unwrap();
    assert!(Client::connect(&broker.addr()).await.is_ok());
}
