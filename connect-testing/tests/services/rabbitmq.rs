//! `RabbitMq`: a private node on loopback only, a persistent message
//! through kill/restart (with `pika`), the whole VM gone after `kill` and
//! `Drop`.

use std::path::Path;
use std::process::Command;

use rivven_connect_testing::services::{test_python, RabbitMq};

use crate::SYSTEM_PORTS;

/// `publish` a persistent message to a durable queue (confirmed) or `get`
/// one; prints the body.
const PIKA: &str = r#"
import sys
import pika
port, user, password, op = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
conn = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=port,
    credentials=pika.PlainCredentials(user, password), connection_attempts=1))
ch = conn.channel()
ch.queue_declare(queue="kept", durable=True, passive=(op != "publish"))
if op == "publish":
    ch.confirm_delivery()
    ch.basic_publish(exchange="", routing_key="kept", body=b"hello",
        properties=pika.BasicProperties(delivery_mode=2))
else:
    method, props, body = ch.basic_get(queue="kept", auto_ack=True)
    sys.stdout.write(body.decode() if body else "")
conn.close()
"#;

fn pika(rabbit: &RabbitMq, op: &str) -> Result<String, String> {
    let python = test_python(&["pika"]).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(python)
        .args([
            "-c",
            PIKA,
            &rabbit.port().to_string(),
            rabbit.user(),
            rabbit.password(),
            op,
        ])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The local addresses (hex `ADDR:PORT` of /proc/net/tcp{,6}) of the
/// listening sockets of `pid`.
fn listening_addresses(pid: u32) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.path()).ok()?;
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                out.push(f[1].to_owned());
            }
        }
    }
    out
}

/// Processes whose working directory is `dir`.
fn processes_in(dir: &Path) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c == dir))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_listens_on_loopback_only_and_keeps_persistent_messages_across_kill_and_restart() {
    let mut rabbit = RabbitMq::builder()
        .user("rivven", "pw-1")
        .start()
        .await
        .unwrap();
    assert!(!SYSTEM_PORTS.contains(&rabbit.port()) && rabbit.port() != 5672);
    assert_eq!(
        rabbit.url(),
        format!("amqp://127.0.0.1:{}/%2f", rabbit.port())
    );
    assert!(rabbit.node().starts_with("rivven-"));
    // AMQP and distribution listeners: 127.0.0.1 (0100007F) only.
    let pid = rabbit.pid().unwrap();
    let addresses = listening_addresses(pid);
    assert!(addresses.len() >= 2, "{addresses:?}");
    assert!(
        addresses.iter().all(|a| a.starts_with("0100007F:")),
        "{addresses:?}"
    );
    // rabbitmqctl reaches the private node (its name, epmd port, cookie).
    let status = rabbit.ctl().args(["list_users", "-q"]).output().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("rivven"));

    pika(&rabbit, "publish").unwrap();
    let dir = rabbit.data_dir().to_path_buf();
    rabbit.kill();
    assert!(!rabbit.is_running());
    assert!(
        processes_in(&dir).is_empty(),
        "the whole node is gone: {:?}",
        processes_in(&dir)
    );
    assert!(pika(&rabbit, "get").is_err(), "connecting after kill");
    rabbit.restart().await.unwrap();
    assert_eq!(
        pika(&rabbit, "get").unwrap(),
        "hello",
        "durable queue, persistent message"
    );

    drop(rabbit);
    assert!(!dir.exists());
    assert!(processes_in(&dir).is_empty());
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}
