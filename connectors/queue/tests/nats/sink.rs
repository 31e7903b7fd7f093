//! The `nats` sink: read back with nats-py.

use std::time::Duration;

use rivven_connect::{ErrorKind, Sink, SinkConfig, SourceEvent};
use rivven_connect_queue::nats::{NatsSink, NatsSinkConfig, MSG_ID_HEADER};
use serde_json::json;

use crate::support::*;

fn events(stream: &str, ids: std::ops::Range<u64>) -> Vec<SourceEvent> {
    ids.map(|i| {
        SourceEvent::record(stream, json!({"id": i}))
            .with_key(json!(format!("k{}", i % 3)))
            .with_position(json!({"offset": i}))
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_py_reads_back_exactly_what_was_written_headers_and_keys_included() {
    let nats = server().await;
    let mut config = sink_config(&nats, "out.{stream}.{key}");
    config.create_stream = Some(
        serde_json::from_value(json!({"name": "OUT", "subjects": ["out.>"], "storage": "memory"}))
            .unwrap(),
    );
    let sink = NatsSink::new();
    let mut batch = events("orders", 0..250);
    batch[3] = batch[3]
        .clone()
        .with_metadata("nats_headers", json!({"trace": "abc"}));
    let result = sink.write_borrowed(&config, &batch).await.unwrap();
    assert!(result.is_success(), "{result:?}");
    assert_eq!(result.records_written, 250);
    // The same batch again (a retried write): deduplicated by Nats-Msg-Id.
    let again = sink.write_borrowed(&config, &batch).await.unwrap();
    assert!(again.is_success(), "{again:?}");
    let back = read_back(&nats, "OUT");
    assert_eq!(back.len(), 250, "stored once each");
    for (i, (subject, payload, headers)) in back.iter().enumerate() {
        assert_eq!(subject, &format!("out.orders.k{}", i % 3));
        assert_eq!(payload, &json!({"id": i}).to_string().into_bytes());
        assert_eq!(headers["Rivven-Key"], format!("k{}", i % 3));
        assert!(headers.contains_key(MSG_ID_HEADER), "{headers:?}");
    }
    assert_eq!(back[3].2["trace"], "abc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subjects_and_oversized_payloads_are_per_record_failures() {
    let nats = server().await;
    create_stream(&nats, "PER", &["per.>"]).await;
    let sink = NatsSink::new();
    let config = sink_config(&nats, "per.{key}");
    let mut batch = events("s", 0..10);
    batch[2] = batch[2].clone().with_key(json!("has space"));
    batch[5] = batch[5].clone().with_key(json!("wild.*"));
    // nats-server's default max_payload is 1 MiB.
    batch[7] = SourceEvent::record("s", json!("x".repeat(2 * 1024 * 1024))).with_key(json!("big"));
    let result = sink.write_borrowed(&config, &batch).await.unwrap();
    assert_eq!(result.records_written, 7, "{result:?}");
    let failures: Vec<_> = result.record_failures().collect();
    assert_eq!(
        failures.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![2, 5, 7],
        "{result:?}"
    );
    assert!(failures.iter().all(|f| f.1.kind == ErrorKind::Data));
    assert!(failures[2].1.error.contains("max_payload"), "{result:?}");
    assert_eq!(read_back(&nats, "PER").len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_server_fails_the_write_retryably_and_a_later_write_succeeds() {
    let mut nats = server().await;
    create_stream(&nats, "KEEP", &["keep"]).await;
    let sink = NatsSink::new();
    let config = sink_config(&nats, "keep");
    assert!(sink
        .write_borrowed(&config, &events("s", 0..50))
        .await
        .unwrap()
        .is_success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.kill();
    let err = sink
        .write_borrowed(&config, &events("s", 50..100))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    nats.restart().await.unwrap();
    // The client reconnects by itself; the runtime would retry the write.
    let mut written = false;
    for _ in 0..20 {
        match sink.write_borrowed(&config, &events("s", 50..100)).await {
            Ok(r) if r.is_success() => {
                written = true;
                break;
            }
            Ok(r) => panic!("{r:?}"),
            Err(e) => {
                assert!(e.is_retryable(), "{e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    assert!(written, "the write succeeded after the restart");
    let back = read_back(&nats, "KEEP");
    let ids: Vec<u64> = back
        .iter()
        .map(|(_, p, _)| {
            serde_json::from_slice::<serde_json::Value>(p).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // A publish handed to the client while the server was down may be sent
    // after the reconnect, before the retry (whose copy the server then
    // drops as a duplicate): order may differ, nothing is lost or twice.
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..100).collect::<Vec<_>>(),
        "nothing lost, nothing twice: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_mode_publishes_and_flushes() {
    let nats = server().await;
    let config = NatsSinkConfig::from_value(json!({
        "url": nats.url(), "mode": "core", "subject": "core.{stream}"
    }))
    .unwrap();
    // A subscriber (nats-py) that prints what it gets.
    let python = rivven_connect_testing::services::test_python(&["nats"]).unwrap();
    let script = r#"
import asyncio, sys
import nats
async def main():
    nc = await nats.connect(sys.argv[1])
    sub = await nc.subscribe("core.>")
    await nc.flush()
    print("ready", flush=True)
    for _ in range(20):
        m = await asyncio.wait_for(sub.next_msg(), 10)
        print(m.subject, m.data.decode(), m.headers.get("Rivven-Key") if m.headers else None, flush=True)
    await nc.close()
asyncio.run(main())
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script, &nats.url()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let sink = NatsSink::new();
    let result = sink
        .write_borrowed(&config, &events("c", 0..20))
        .await
        .unwrap();
    assert_eq!(result.records_written, 20, "{result:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines.len(), 20, "{rest}");
    assert_eq!(lines[4], r#"core.c {"id":4} k1"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_runtime_bad_records_go_to_the_dead_letter_queue_and_a_server_restart_loses_nothing(
) {
    use rivven_connect::runtime::{OnError, PipelineSettings, RestartPolicy};
    use rivven_connect_testing::{MockSink, MockSource, TestHarness};
    let mut nats = server().await;
    create_stream(&nats, "PIPE", &["pipe.>"]).await;
    // 300 events, key "bad key" (a subject with a space) on every 50th.
    let batch: Vec<SourceEvent> = events("s", 0..300)
        .into_iter()
        .map(|e| {
            if e.data["id"].as_u64().unwrap() % 50 == 7 {
                e.with_key(json!("bad key"))
            } else {
                e
            }
        })
        .collect();
    let source = MockSource::new()
        .with_events(batch)
        .with_delay(Duration::from_millis(10));
    let dead = MockSink::new();
    let settings = PipelineSettings {
        on_error: OnError::DeadLetter,
        ..PipelineSettings::default()
    }
    .with_restart(RestartPolicy {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        ..RestartPolicy::default()
    });
    let harness = TestHarness::with_configs(
        source,
        Default::default(),
        NatsSink::new(),
        sink_config(&nats, "pipe.{key}"),
    )
    .with_dead_letter(dead.clone(), Default::default())
    .with_settings(settings)
    .with_timeout(Duration::from_secs(40));
    let pipeline = tokio::spawn(async move { harness.run_pipeline().await });
    // Mid-stream: the server is killed and restarted.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    nats.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    nats.restart().await.unwrap();
    let result = pipeline.await.unwrap().unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.dead_lettered, 6, "{result:?}");
    let letters = dead.written_events();
    assert!(letters
        .iter()
        .all(|e| serde_json::to_string(e).unwrap().contains("whitespace")));
    let mut ids: Vec<u64> = read_back(&nats, "PIPE")
        .iter()
        .map(|(_, p, _)| {
            serde_json::from_slice::<serde_json::Value>(p).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    ids.sort_unstable();
    let want: Vec<u64> = (0..300).filter(|i| i % 50 != 7).collect();
    assert_eq!(
        ids, want,
        "each good record stored once (Nats-Msg-Id dedup of the retries)"
    );
}
