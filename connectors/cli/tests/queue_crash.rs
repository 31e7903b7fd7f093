//! `kill -9` of the binary at random points (seed printed) while an
//! independent client publishes: `mosquitto_pub` at QoS 1 into the `mqtt`
//! source's persistent session, `redis-cli` `XADD`s into the stream of the
//! `redis-streams` source's consumer group. Messages are acknowledged
//! upstream only after the file sink's commit, so after the restarts the file
//! holds every message at least once, checked by id. And a killed binary's
//! MQTT last will is published by the broker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/crash.rs"]
mod crash;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crash::{spawn, terminate, values, Lcg};
use rivven_connect_testing::services::{Mosquitto, Redis};

/// Messages published during the kills.
const N: u64 = 20_000;
/// Ids from here on are probes (is the pipeline subscribed yet?), not
/// counted.
const PROBE: u64 = 1_000_000;

/// `<dir>/<name>.yaml`: source `src` (connector and config, as YAML flow)
/// into the file sink `<dir>/out.jsonl`, offsets in `<dir>/data`.
fn pipeline_config(dir: &Path, name: &str, source: &str) -> std::path::PathBuf {
    let d = dir.display();
    let config = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &config,
        format!(
            "data_dir: {d}/data\n\
             sources:\n  src: {{ {source} }}\n\
             sinks:\n  out: {{ connector: file, config: {{ path: {d}/out.jsonl }} }}\n\
             pipelines:\n  p: {{ source: src, sink: out }}\n"
        ),
    )
    .unwrap();
    config
}

/// The file sink's output, as a set of ids below [`PROBE`].
fn ids(out: &Path) -> BTreeSet<u64> {
    values::<Vec<u64>>(out)
        .into_iter()
        .filter(|v| *v < PROBE)
        .collect()
}

/// Feed `lines` to `command`'s stdin from a thread, in chunks of 100 every
/// 50 ms (about 10 s for [`N`]), so that the kills fall mid-stream.
fn publish_slowly(mut command: Command, lines: Vec<String>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the independent client");
        let mut stdin = child.stdin.take().unwrap();
        for chunk in lines.chunks(100) {
            for line in chunk {
                writeln!(stdin, "{line}").unwrap();
            }
            stdin.flush().unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(stdin);
        assert!(child.wait().unwrap().success(), "the publisher failed");
    })
}

/// Kill the binary 5 times mid-stream (each time once it wrote something
/// new, then after a random delay), then run it until the file holds every
/// id of `0..N` and stop it with SIGTERM; prints the replays.
fn kill_restart_and_catch_up(
    config: &Path,
    log: &Path,
    out: &Path,
    publisher: std::thread::JoinHandle<()>,
) {
    let mut points = Lcg::from_clock();
    for round in 0..5 {
        let before = values::<Vec<u64>>(out).len();
        let mut child = spawn(config, log);
        let deadline = Instant::now() + Duration::from_secs(30);
        while values::<Vec<u64>>(out).len() == before {
            assert!(
                Instant::now() < deadline,
                "round {round}: nothing written in 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let after = points.next(0, 700);
        std::thread::sleep(Duration::from_millis(after));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let written = values::<Vec<u64>>(out).len();
        println!("round {round}: killed {after} ms after the first new line; {written} lines");
    }
    publisher.join().unwrap();
    let child = spawn(config, log);
    let all: BTreeSet<u64> = (0..N).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = ids(out);
        if got.is_superset(&all) {
            break;
        }
        if Instant::now() > deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let missing: Vec<u64> = all.difference(&got).take(10).copied().collect();
            panic!(
                "after the restarts {} of {N} messages are missing (first: {missing:?}); log:\n{}",
                all.difference(&got).count(),
                &text[text.len().saturating_sub(4000)..]
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    terminate(child);
    let lines: Vec<u64> = values(out);
    let lines = lines.iter().filter(|v| **v < PROBE).count();
    println!("{N} messages, {lines} lines: {} replays", lines as u64 - N);
}

#[test]
fn kill_nine_of_an_mqtt_pipeline_loses_no_message() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let broker = rt
        .block_on(Mosquitto::start())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline_config(
        dir.path(),
        "mqtt",
        &format!("connector: mqtt, config: {{ broker_url: \"{}\", topics: [\"crash/#\"], client_id: crash-test, retry_initial_ms: 50, retry_max_ms: 500 }}", broker.url()),
    );
    let (log, out) = (dir.path().join("run.log"), dir.path().join("out.jsonl"));
    let pub_command = || {
        let mut c = Command::new("mosquitto_pub");
        c.args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
            .args(["-t", "crash/load", "-q", "1", "-l"]);
        c
    };
    // The persistent session must exist before the load: probe until one
    // message went through.
    let mut child = spawn(&config, &log);
    let deadline = Instant::now() + Duration::from_secs(30);
    for probe in PROBE.. {
        publish_slowly(pub_command(), vec![format!("{{\"value\":{probe}}}")])
            .join()
            .unwrap();
        if values::<Vec<u64>>(&out).iter().any(|v| *v >= PROBE) {
            break;
        }
        assert!(Instant::now() < deadline, "the pipeline never subscribed");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let lines = (0..N).map(|i| format!("{{\"value\":{i}}}")).collect();
    let publisher = publish_slowly(pub_command(), lines);
    kill_restart_and_catch_up(&config, &log, &out, publisher);
}

#[test]
fn kill_nine_of_a_redis_streams_pipeline_loses_no_entry() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let redis: Redis = rt
        .block_on(Redis::start())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline_config(
        dir.path(),
        "redis",
        &format!("connector: redis-streams, config: {{ url: \"{}\", stream: crash, group: g, block_ms: 100 }}", redis.url()),
    );
    let (log, out) = (dir.path().join("run.log"), dir.path().join("out.jsonl"));
    let mut cli = Command::new("redis-cli");
    cli.args(["-h", "127.0.0.1", "-p", &redis.port().to_string()]);
    // The group starts at `0`: every entry is read, whenever it was added.
    let lines = (0..N)
        .map(|i| format!("XADD crash * payload '{{\"value\":{i}}}'"))
        .collect();
    let publisher = publish_slowly(cli, lines);
    kill_restart_and_catch_up(&config, &log, &out, publisher);
}

#[test]
fn the_last_will_is_published_when_the_binary_dies() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let broker = rt
        .block_on(Mosquitto::start())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline_config(
        dir.path(),
        "will",
        &format!("connector: mqtt, config: {{ broker_url: \"{}\", topics: [\"will/in\"], client_id: will-test, last_will: {{ topic: status/rivven, message: offline, qos: at_least_once, retain: true }} }}", broker.url()),
    );
    let watcher = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args([
            "-i",
            "will-watcher",
            "-t",
            "status/#",
            "-q",
            "1",
            "-v",
            "-C",
            "1",
            "-W",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub (Debian package mosquitto-clients)");
    // The watcher is connected (its SUBSCRIBE follows the CONNACK at once)
    // before the binary starts; the will is retained, so a subscription that
    // lands late under load still gets it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(broker.log_path())
        .unwrap_or_default()
        .contains("as will-watcher")
    {
        assert!(Instant::now() < deadline, "mosquitto_sub never connected");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let log = dir.path().join("run.log");
    let mut child = spawn(&config, &log);
    // Connected: the broker logs the client id.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(broker.log_path())
        .unwrap_or_default()
        .contains("as will-test")
    {
        assert!(Instant::now() < deadline, "the source never connected");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no DISCONNECT, so the will goes out
    child.wait().unwrap();
    let out = watcher.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "status/rivven offline"
    );
}
