//! A connector registered only by its derive (`connector = …`) shows up in
//! `rivven-connect connectors` and runs from YAML by name, when linked into a
//! binary that calls `rivven_connect_cli::run` — here this test executable,
//! re-run as a child process with the CLI's arguments.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::stream::{self, BoxStream, StreamExt};
use rivven_connect::prelude::*;
use serde_json::{json, Value};
use std::process::Command;

/// Counts from `start`, `count` times.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "countup", version = "2.1.0", description = "Counts up (registered by its derive)", connector = CountUp)]
pub struct CountUpConfig {
    /// First number.
    #[serde(default)]
    pub start: u64,
    /// How many numbers.
    #[validate(range(min = 1, max = 1000))]
    pub count: u64,
    /// Credentials (unused: they show how nested secrets are listed).
    #[serde(default)]
    pub auth: Option<Auth>,
}

/// Nested credentials.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Auth {
    /// The token.
    pub token: rivven_connect::SecretString,
}

/// The source.
#[derive(Default)]
pub struct CountUp;

#[async_trait]
impl Source for CountUp {
    type Config = CountUpConfig;
    fn spec() -> ConnectorSpec {
        CountUpConfigSpec::spec()
    }
    async fn check(&self, _: &CountUpConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn discover(&self, _: &CountUpConfig) -> Result<Catalog> {
        Ok(Catalog::new(vec![Stream::new(
            "n",
            json!({"type": "object"}),
        )]))
    }
    async fn read(
        &self,
        c: &CountUpConfig,
        _: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let done = state
            .and_then(|s| s.get_stream("n")?.data.get("done")?.as_u64())
            .unwrap_or(0);
        let start = c.start;
        Ok(stream::iter((done..c.count).map(move |i| {
            Ok(
                SourceEvent::record("n", json!({ "n": start + i }))
                    .with_state("done", json!(i + 1)),
            )
        }))
        .boxed())
    }
}

const CHILD_ARGS: &str = "RIVVEN_TEST_CLI_ARGS";

/// The child side: run the CLI with the arguments the parent passed.
#[test]
fn cli_child() {
    if let Ok(args) = std::env::var(CHILD_ARGS) {
        let args: Vec<String> = serde_json::from_str(&args).unwrap();
        std::process::exit(i32::from(rivven_connect_cli::run(args)));
    }
}

fn cli(args: &[&str]) -> std::process::Output {
    let mut all = vec!["rivven-connect"];
    all.extend_from_slice(args);
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "cli_child", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ARGS, serde_json::to_string(&all).unwrap())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn derive_registered_connector_is_listed_and_usable_by_name() {
    let out = cli(&["connectors", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let start = stdout.find('[').unwrap();
    let end = stdout.rfind(']').unwrap();
    let list: Value = serde_json::from_str(&stdout[start..=end]).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "countup")
        .expect("countup is listed");
    assert_eq!(entry["version"], "2.1.0");
    assert_eq!(entry["kind"], "source");

    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("n.jsonl");
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  nums: {{ connector: countup, config: {{ start: 100, count: 7 }} }}\nsinks:\n  out: {{ connector: file, config: {{ path: {} }} }}\npipelines:\n  p: {{ source: nums, sink: out }}\ndata_dir: {}\n",
            output.display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let run = cli(&["-c", config.to_str().unwrap(), "run"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let written: Vec<u64> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(written, (100..107).collect::<Vec<_>>());

    // Its derived validation applies in YAML too.
    std::fs::write(
        &config,
        "sources:\n  nums: { connector: countup, config: { count: 0 } }\n",
    )
    .unwrap();
    let bad = cli(&["-c", config.to_str().unwrap(), "validate"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("`sources.nums.config.count`") && stderr.contains("minimum of 1"),
        "{stderr}"
    );
}

/// A secret inside a nested object is listed by `spec` under its path.
#[test]
fn spec_lists_nested_secrets_by_path() {
    let out = cli(&["spec", "countup"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("nested secrets: auth.token"), "{stdout}");
}

/// A typo'd key in a derive-registered connector's config fails `validate`, naming
/// the key, the connector and the key it probably meant; nested keys are checked too.
#[test]
fn unknown_keys_of_a_derived_config_are_rejected_in_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "sources:\n  nums:\n    connector: countup\n    config:\n      cuont: 5\n      count: 3\n      auth: { tokne: x }\n",
    )
    .unwrap();
    let bad = cli(&["-c", config.to_str().unwrap(), "validate"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains(
            "error: `sources.nums.config.cuont`: unknown key `cuont` in the `countup` config\n \
             --> "
        ) && stderr.contains("c.yaml:5:7\n")
            && stderr.contains("= help: did you mean `count`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`sources.nums.config.auth.tokne`: unknown key `tokne`")
            && stderr.contains("= help: did you mean `token`?"),
        "{stderr}"
    );
}
