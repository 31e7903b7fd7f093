//! From YAML, as a user writes it: the connector found by name, a header
//! secret from `${VAR}`, `on_error: dead_letter` into a JSONL `file` sink.

use rivven_connect::config::Loader;
use rivven_connect::registry::Registry;
use serde_json::Value;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_pipeline_delivers_and_dead_letters_the_refused_request() {
    rivven_connect_http::link();
    let server = Receiver::start(|n, _| {
        if n == 2 {
            Reply::Status(422, "{\"error\":\"unprocessable order\"}")
        } else {
            OK
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dlq = dir.path().join("dlq.jsonl");
    let yaml = format!(
        r#"
version: "1.0"
sources:
  gen:
    connector: datagen
    config: {{ pattern: orders, max_events: 50, events_per_second: 0, seed: 7 }}
sinks:
  hook:
    connector: http-webhook
    config:
      url: "{url}"
      headers:
        Authorization: "Bearer ${{HOOK_TOKEN}}"
      batch_size: 5
      retry: {{ max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 50 }}
  refused:
    connector: file
    config: {{ path: "{dlq}" }}
pipelines:
  p:
    source: gen
    sink: hook
    settings: {{ on_error: dead_letter, dead_letter: refused, batch_size: 50 }}
offsets: {{ backend: memory }}
"#,
        url = server.url(),
        dlq = dlq.display()
    );
    let registry = Registry::discovered().unwrap();
    let config = Loader::new(&registry)
        .env(|name| (name == "HOOK_TOKEN").then(|| "yaml-t0ken".to_string()))
        .load(&yaml)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let runtime = config
        .runtime_builder(&registry)
        .unwrap()
        .start()
        .await
        .unwrap();
    let status = runtime.wait().await;
    assert!(status.all_succeeded(), "{status:?}");

    let accepted = server.accepted();
    let delivered: usize = accepted
        .iter()
        .map(|r| r.json().as_array().unwrap().len())
        .sum();
    assert_eq!(delivered, 45);
    assert!(accepted
        .iter()
        .all(|r| r.header("authorization").as_deref() == Some("Bearer yaml-t0ken")));
    let refused = &server.received()[2];
    let letters: Vec<Value> = std::fs::read_to_string(&dlq)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 5, "the refused request's five events");
    let originals: Vec<Value> = letters.iter().map(|l| l["event"]["data"].clone()).collect();
    assert_eq!(
        Value::Array(originals),
        refused.json(),
        "the whole original records"
    );
    for letter in &letters {
        let error = letter["error"].as_str().unwrap();
        assert!(
            error.contains("422") && error.contains("unprocessable order"),
            "{error}"
        );
        assert!(!letter.to_string().contains("yaml-t0ken"));
    }
}
