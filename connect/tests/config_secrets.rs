//! A secret given as a YAML number or bool (a `${VAR}` whose value is all
//! digits) is taken as the text written, and no diagnostic shows a secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect::config::Loader;
use rivven_connect::prelude::*;
use rivven_connect::registry::Registry;

/// A sink that needs a password.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(name = "locked", version = "1.0.0", description = "Needs a password")]
#[serde(deny_unknown_fields)]
pub struct LockedConfig {
    /// The password.
    pub password: SecretString,
    /// A port.
    #[validate(range(min = 1, max = 65535))]
    pub port: u32,
}

/// The sink.
#[derive(Default)]
pub struct Locked;

#[async_trait]
impl Sink for Locked {
    type Config = LockedConfig;
    fn spec() -> ConnectorSpec {
        LockedConfigSpec::spec()
    }
    async fn check(&self, _: &LockedConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn write(
        &self,
        _: &LockedConfig,
        _: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        Ok(WriteResult::new())
    }
}

fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.register_sink::<Locked>().unwrap();
    r
}

fn yaml(port: &str) -> String {
    format!(
        "sources:\n  g:\n    connector: datagen\n    config: {{ pattern: sequence, max_events: 1 }}\n\
         sinks:\n  s:\n    connector: locked\n    config:\n      password: ${{PASS}}\n      port: {port}\n\
         pipelines:\n  p: {{ source: g, sink: s }}\n"
    )
}

/// Fails before the fix: `password: ${PASS}` with `PASS=0012345` became the
/// YAML integer 12345 and the schema error printed it.
#[test]
fn a_numeric_secret_is_its_text_and_is_never_printed() {
    let registry = registry();
    for secret in ["0012345", "12345", "true", "0x1F", "-7"] {
        let env = |n: &str| (n == "PASS").then(|| secret.to_string());
        let config = Loader::new(&registry).env(env).load(&yaml("5432"));
        let config = config.unwrap_or_else(|e| panic!("{secret}: {e}"));
        let sink = &config.sinks["s"];
        assert_eq!(sink.config.value()["password"], secret, "taken verbatim");

        // With another error in the same block, the secret is not in the report.
        let error = Loader::new(&registry)
            .env(env)
            .load(&yaml("70000"))
            .unwrap_err();
        for err in [error.to_string(), error.render()] {
            assert!(err.contains("port"), "{err}");
            assert!(!err.contains(secret), "{secret} printed in: {err}");
        }
    }
}

/// A value of the wrong shape at a secret key is reported without the value.
#[test]
fn a_wrong_type_at_a_secret_key_hides_the_value() {
    let registry = registry();
    let text = yaml("5432").replace("${PASS}", "[hunter2, swordfish]");
    let error = Loader::new(&registry).load(&text).unwrap_err();
    for err in [error.to_string(), error.render()] {
        assert!(err.contains("password"), "{err}");
        assert!(
            !err.contains("hunter2") && !err.contains("swordfish"),
            "{err}"
        );
    }
}

/// The rendered error quotes the offending line; a secret written there is masked
/// (one `*` per character, so the caret and the column stay right).
#[test]
fn the_quoted_line_masks_a_secret_written_on_it() {
    let registry = registry();
    let text = "sinks:\n  s:\n    connector: locked\n    \
                config: { password: 'hunter2', port: 1, colour: red }\n";
    let error = Loader::new(&registry).load(text).unwrap_err();
    let shown = error.render();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("config: { password: *********, port: 1, colour: red }"),
        "{shown}"
    );
    assert!(error.mentions("sinks.s.config.colour"), "{error}");
}

/// A YAML syntax error quotes the text near it; a value from `${VAR}` there is `***`.
#[test]
fn a_syntax_error_does_not_quote_substituted_values() {
    let registry = registry();
    let env = |n: &str| (n == "PASS").then(|| "1e400".to_string());
    let err = Loader::new(&registry)
        .env(env)
        .load(&yaml("5432"))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("1e400"), "{err}");
}

/// Credentials nested in a connector's config.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// The user's token.
    pub token: SecretString,
}

/// A sink whose secrets are nested.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(name = "nested-locked")]
#[serde(deny_unknown_fields)]
pub struct NestedLockedConfig {
    /// Credentials of the main endpoint.
    pub auth: Credentials,
    /// Credentials of the replicas.
    #[serde(default)]
    pub replicas: Vec<Credentials>,
    /// A port.
    #[validate(range(min = 1, max = 65535))]
    pub port: u32,
}

/// The sink.
#[derive(Default)]
pub struct NestedLocked;

#[async_trait]
impl Sink for NestedLocked {
    type Config = NestedLockedConfig;
    fn spec() -> ConnectorSpec {
        NestedLockedConfigSpec::spec()
    }
    async fn check(&self, _: &NestedLockedConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn write(
        &self,
        _: &NestedLockedConfig,
        _: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        Ok(WriteResult::new())
    }
}

fn nested_yaml(port: &str) -> String {
    format!(
        "sources:\n  g:\n    connector: datagen\n    config: {{ pattern: sequence, max_events: 1 }}\n\
         sinks:\n  s:\n    connector: nested-locked\n    config:\n      port: {port}\n\
         \x20     auth: {{ user: app, token: file:///run/token }}\n\
         \x20     replicas: [{{ user: r1, token: ${{TOKEN}} }}]\n\
         pipelines:\n  p: {{ source: g, sink: s }}\n"
    )
}

/// Secrets nested in objects and lists are found from the schema: `file://` is read for
/// them, a numeric one is its text, and none is printed by `Debug`, serialization or a
/// diagnostic.
#[test]
fn nested_secrets_are_resolved_and_never_printed() {
    let mut registry = Registry::builtin();
    registry.register_sink::<NestedLocked>().unwrap();
    let env = |n: &str| (n == "TOKEN").then(|| "0042".to_string());
    let read = |path: &str| {
        assert_eq!(path, "/run/token");
        Ok("s3cr3t-from-file\n".to_string())
    };
    let config = Loader::new(&registry)
        .env(env)
        .read_file(read)
        .load(&nested_yaml("5432"))
        .unwrap_or_else(|e| panic!("{e}"));
    let sink = &config.sinks["s"].config;
    assert_eq!(sink.value()["auth"]["token"], "s3cr3t-from-file");
    assert_eq!(sink.value()["replicas"][0]["token"], "0042");
    let paths: Vec<String> = sink.secret_paths().map(ToString::to_string).collect();
    assert_eq!(paths, ["auth.token", "replicas.*.token"]);
    let shown = format!("{sink:?} {}", serde_json::to_string(sink).unwrap());
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("0042") && shown.contains("r1"),
        "{shown}"
    );

    let err = Loader::new(&registry)
        .env(env)
        .read_file(read)
        .load(&nested_yaml("70000"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("port"), "{err}");
    assert!(!err.contains("s3cr3t") && !err.contains("0042"), "{err}");
}
