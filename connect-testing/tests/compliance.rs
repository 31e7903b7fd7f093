//! The compliance checker passes a well-behaved connector and catches each
//! kind of misbehaviour, by check name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::stream::{self, BoxStream, StreamExt};
use rivven_connect::prelude::*;
use rivven_connect::SecretString;
use rivven_connect_testing::prelude::*;
use rivven_connect_testing::ComplianceReport;
use serde_json::json;
use std::time::Duration;

// --- a well-behaved source with a secret ------------------------------------------------

/// Connects to `host:port` with a password.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "good-source", version = "1.0.0")]
struct GoodConfig {
    /// Host.
    host: String,
    /// Port.
    #[validate(range(min = 1))]
    port: u16,
    /// Password.
    password: SecretString,
}

struct Good;

async fn reachable(c: &GoodConfig) -> std::result::Result<(), String> {
    let addr = format!("{}:{}", c.host, c.port);
    match tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(&addr),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("cannot connect to {addr}: {e}")),
        Err(_) => Err(format!("timed out connecting to {addr}")),
    }
}

#[async_trait]
impl Source for Good {
    type Config = GoodConfig;
    fn spec() -> ConnectorSpec {
        GoodConfigSpec::spec()
    }
    async fn check(&self, c: &GoodConfig) -> Result<CheckResult> {
        if c.password.expose_secret().is_empty() {
            return Ok(CheckResult::failure("empty password"));
        }
        Ok(match reachable(c).await {
            Ok(()) => CheckResult::success(),
            Err(e) => CheckResult::failure(e),
        })
    }
    async fn discover(&self, _: &GoodConfig) -> Result<Catalog> {
        Ok(Catalog::new(vec![Stream::new(
            "n",
            json!({"type": "object"}),
        )]))
    }
    async fn read(
        &self,
        _: &GoodConfig,
        _: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let start = state
            .and_then(|s| s.get_stream("n")?.data.get("next")?.as_u64())
            .unwrap_or(0);
        Ok(stream::iter((start..50).map(|i| {
            Ok(SourceEvent::record("n", json!({ "i": i })).with_state("next", json!(i + 1)))
        }))
        .boxed())
    }
}

async fn listener() -> (tokio::net::TcpListener, u16) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    listener().await.1
}

#[tokio::test]
async fn a_well_behaved_source_passes_every_check() {
    let (_l, port) = listener().await;
    let report = SourceCompliance::new(
        Good,
        json!({"host": "127.0.0.1", "port": port, "password": "hunter2-secret"}),
    )
    .unreachable(
        json!({"host": "127.0.0.1", "port": closed_port().await, "password": "hunter2-secret"}),
    )
    .secret("hunter2-secret")
    .run()
    .await;
    assert!(report.is_compliant(), "{report}");
    for check in [
        "spec.schema",
        "spec.schema_accepts_example",
        "config.loads",
        "secrets.config_debug",
        "secrets.spec",
        "check.unreachable_fails_cleanly",
        "check.succeeds",
        "read.produces_events",
        "ack.commit",
        "resume.from_committed_state",
    ] {
        assert!(
            report.passed.iter().any(|p| p == check),
            "{check} not run: {report:?}"
        );
    }
}

// --- a source that misbehaves in the way its config says --------------------------------

/// Misbehaves on purpose.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "bad-source")]
struct BadConfig {
    /// What `check` does: ok, fail, hang, panic, err, leak.
    check: String,
    /// Plain-text password (leaks through the derived `Debug`).
    password: String,
    /// Whether events carry state.
    #[serde(default)]
    stateless: bool,
    /// Whether a resumed read starts over.
    #[serde(default)]
    restarts: bool,
}

struct Bad;

#[async_trait]
impl Source for Bad {
    type Config = BadConfig;
    fn spec() -> ConnectorSpec {
        BadConfigSpec::spec()
    }
    async fn check(&self, c: &BadConfig) -> Result<CheckResult> {
        match c.check.as_str() {
            "ok" => Ok(CheckResult::success()),
            "hang" => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(CheckResult::success())
            }
            "panic" => panic!("check exploded"),
            "err" => Err(ConnectorError::connection("refused")),
            "leak" => Ok(CheckResult::failure(format!(
                "login with {} refused",
                c.password
            ))),
            _ => Ok(CheckResult::failure("unreachable")),
        }
    }
    async fn discover(&self, _: &BadConfig) -> Result<Catalog> {
        Ok(Catalog::default())
    }
    async fn read(
        &self,
        c: &BadConfig,
        _: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let start = match (c.restarts, state) {
            (false, Some(s)) => s
                .get_stream("b")
                .and_then(|s| s.data.get("next")?.as_u64())
                .unwrap_or(0),
            _ => 0,
        };
        let stateless = c.stateless;
        Ok(stream::iter((start..10).map(move |i| {
            let e = SourceEvent::record("b", json!({ "i": i }));
            Ok(if stateless {
                e
            } else {
                e.with_state("next", json!(i + 1))
            })
        }))
        .boxed())
    }
}

async fn bad_report(working: serde_json::Value, unreachable_check: &str) -> ComplianceReport {
    let mut unreachable = working.clone();
    unreachable["check"] = json!(unreachable_check);
    SourceCompliance::new(Bad, working)
        .unreachable(unreachable)
        .secret("s3cr3t-pw")
        .check_timeout(Duration::from_millis(300))
        .run()
        .await
}

fn failure<'a>(report: &'a ComplianceReport, check: &str) -> &'a str {
    report
        .failures
        .iter()
        .find(|(c, _)| c == check)
        .map(|(_, m)| m.as_str())
        .unwrap_or_else(|| panic!("`{check}` did not fail: {report}"))
}

#[tokio::test]
async fn each_misbehaviour_is_reported() {
    let base = json!({"check": "ok", "password": "s3cr3t-pw"});

    let report = bad_report(base.clone(), "hang").await;
    assert!(failure(&report, "secrets.config_debug").contains("contains a secret value"));
    assert!(failure(&report, "check.unreachable_fails_cleanly").contains("did not return within"));
    // The message never repeats the secret itself.
    assert!(!report.to_string().contains("s3cr3t-pw"), "{report}");

    let report = bad_report(base.clone(), "panic").await;
    assert_eq!(
        failure(&report, "check.unreachable_fails_cleanly"),
        "check panicked"
    );

    let report = bad_report(base.clone(), "err").await;
    assert!(failure(&report, "check.unreachable_fails_cleanly")
        .contains("should return a failed CheckResult"));

    let report = bad_report(base.clone(), "leak").await;
    assert!(failure(&report, "check.unreachable_fails_cleanly")
        .contains("failed check result contains a secret"));

    let report = bad_report(base.clone(), "ok").await;
    assert!(failure(&report, "check.unreachable_fails_cleanly")
        .contains("succeeded against the unreachable"));

    let mut stateless = base.clone();
    stateless["stateless"] = json!(true);
    let report = bad_report(stateless, "fail").await;
    assert!(failure(&report, "ack.commit").contains("carry no state"));

    let mut restarts = base.clone();
    restarts["restarts"] = json!(true);
    let report = bad_report(restarts.clone(), "fail").await;
    assert!(failure(&report, "resume.from_committed_state").contains("event #5 should be"));
    let report = SourceCompliance::new(Bad, restarts)
        .resume(Resume::NoRestart)
        .run()
        .await;
    assert!(failure(&report, "resume.from_committed_state").contains("started over"));

    let mut broken_check = base.clone();
    broken_check["check"] = json!("fail");
    let report = SourceCompliance::new(Bad, broken_check).run().await;
    assert!(failure(&report, "check.succeeds").contains("unreachable"));
}

#[tokio::test]
async fn bad_example_configs_are_reported_by_schema_and_loader() {
    let report = SourceCompliance::new(Bad, json!({"check": 5})).run().await;
    assert!(failure(&report, "spec.schema_accepts_example").contains("check"));
    let loads = failure(&report, "config.loads");
    assert!(loads.contains("check"), "{loads}");
}

// --- hand-written specs ------------------------------------------------------------------

struct BadSpec;

#[async_trait]
impl Sink for BadSpec {
    type Config = MockConfig;
    fn spec() -> ConnectorSpec {
        let mut spec = ConnectorSpec::builder("bad spec!", "1").build();
        spec.config_schema = Some(json!({"type": 5}));
        spec
    }
    async fn check(&self, _: &MockConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn write(
        &self,
        _: &MockConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        // Loses the last event of every non-empty batch and fails empty ones.
        let n = events.count().await as u64;
        if n == 0 {
            return Err(ConnectorError::data("nothing to write"));
        }
        let mut r = WriteResult::new();
        r.add_success(n - 1, 0);
        Ok(r)
    }
}

#[tokio::test]
async fn sink_checks_catch_a_bad_spec_and_lost_events() {
    let report = SinkCompliance::new(BadSpec, json!({})).run().await;
    assert!(failure(&report, "spec.name").contains("bad spec!"));
    assert!(failure(&report, "spec.kind").contains("expected Sink"));
    assert!(failure(&report, "spec.version").contains("`1`"));
    assert!(failure(&report, "spec.schema").contains("not a valid JSON Schema"));
    assert!(failure(&report, "write.acknowledges_every_event").contains("19 written"));
    assert!(failure(&report, "write.empty_batch").contains("nothing to write"));
    assert!(failure(&report, "write.accepts_redelivery").contains("19"));
    let panic = std::panic::catch_unwind(|| report.assert()).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(text.starts_with("connector `bad spec!`:"), "{text}");
}

#[tokio::test]
async fn mock_sink_passes_with_a_read_back() {
    let sink = MockSink::new();
    let handle = sink.clone();
    SinkCompliance::new(sink, json!({}))
        .events(events::records("x", 7))
        .verify(move |events| async move {
            let written = handle.written_events();
            if written == events {
                Ok(())
            } else {
                Err(format!(
                    "{} events written, {} expected",
                    written.len(),
                    events.len()
                ))
            }
        })
        .assert()
        .await;
}
