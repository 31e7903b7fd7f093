//! Secrets are what the config's schema says they are — `SecretString`s wherever they sit,
//! under their serde names — not a guess from a type's name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect::prelude::*;
use rivven_connect::SecretPath;
use serde_json::json;

/// Where secrets come from (a type whose name only starts with `Secret`).
#[derive(Debug, Clone, Default, Deserialize, Validate, JsonSchema)]
pub struct SecretsManagerConfig {
    /// Region of the secrets manager.
    pub region: String,
}

/// Credentials.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    /// User name.
    pub user_name: String,
    /// The user's password.
    pub pass_word: SecretString,
}

/// A config with secrets in several places.
#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "secretive")]
#[serde(rename_all = "kebab-case")]
pub struct SecretiveConfig {
    /// Not a secret, whatever its type's name.
    #[serde(default)]
    pub secrets_manager: SecretsManagerConfig,
    /// Nested credentials.
    pub auth: Auth,
    /// A renamed secret.
    #[serde(rename = "X-Api-Key")]
    pub api_key: Option<SecretString>,
    /// A secret under `rename_all`.
    pub signing_key: SecretString,
    /// Secrets in a list.
    #[serde(default)]
    pub replicas: Vec<Auth>,
}

fn paths() -> Vec<String> {
    SecretiveConfigSpec::spec()
        .secret_paths()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_secrets_manager_config_field_is_not_secret() {
    let paths = paths();
    assert!(
        !paths.iter().any(|p| p.starts_with("secrets-manager")),
        "{paths:?}"
    );
    let spec = SecretiveConfigSpec::spec();
    let schema = spec.config_schema.unwrap();
    let field = &schema["properties"]["secrets-manager"];
    assert!(
        field.get("x-secret").is_none() && field.get("writeOnly").is_none(),
        "{field}"
    );
}

#[test]
fn a_nested_secret_string_is_secret() {
    let paths = paths();
    assert!(paths.contains(&"auth.passWord".to_string()), "{paths:?}");
    assert!(
        paths.contains(&"replicas.*.passWord".to_string()),
        "{paths:?}"
    );
    assert!(!paths.contains(&"auth.userName".to_string()), "{paths:?}");
}

#[test]
fn a_renamed_secret_is_reported_under_its_serde_name() {
    let paths = paths();
    assert!(paths.contains(&"X-Api-Key".to_string()), "{paths:?}");
    assert!(paths.contains(&"signing-key".to_string()), "{paths:?}");
    let schema = SecretiveConfigSpec::spec().config_schema.unwrap();
    assert_eq!(schema["properties"]["X-Api-Key"]["x-secret"], true);
    assert_eq!(schema["properties"]["signing-key"]["writeOnly"], true);
    assert!(schema["properties"].get("api_key").is_none());
}

#[test]
fn every_secret_found_is_redacted_and_nothing_else() {
    let mut config = json!({
        "secrets-manager": {"region": "eu-west-1"},
        "auth": {"userName": "app", "passWord": "hunter2"},
        "X-Api-Key": "k3y",
        "signing-key": "s1gn",
        "replicas": [{"userName": "r", "passWord": "r3pl1ca"}]
    });
    let loaded = SecretiveConfig::from_value(config.clone()).unwrap();
    assert_eq!(loaded.auth.pass_word.expose_secret(), "hunter2");
    for path in SecretiveConfigSpec::spec().secret_paths() {
        path.redact(&mut config);
    }
    let text = config.to_string();
    for secret in ["hunter2", "k3y", "s1gn", "r3pl1ca"] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(text.contains("eu-west-1") && text.contains("app"), "{text}");
    assert_eq!(
        SecretPath::from("auth.passWord").to_string(),
        "auth.passWord"
    );
}

fn no_empty(value: &str) -> std::result::Result<(), validator::ValidationError> {
    if value.is_empty() {
        return Err(validator::ValidationError::new("empty"));
    }
    Ok(())
}

/// A config whose custom-validated fields are renamed.
#[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfig)]
#[serde(rename_all = "camelCase")]
pub struct RenamedValidatorsConfig {
    /// Under `rename_all`.
    #[validate(custom(function = "no_empty"))]
    pub slot_name: String,
    /// Under its own rename.
    #[validate(custom(function = "no_empty"))]
    #[serde(rename = "X-Table")]
    pub table_name: String,
    /// Not validated.
    pub other_field: String,
}

/// Fields are found under the names serde gives them (here for `x-validator`): the
/// derive takes them from schemars, it does not re-implement serde's rename rules.
#[test]
fn custom_validators_are_placed_under_serde_names() {
    let schema = RenamedValidatorsConfigSpec::spec().config_schema.unwrap();
    let p = &schema["properties"];
    assert_eq!(p["slotName"]["x-validator"], "no_empty", "{schema:#}");
    assert_eq!(p["X-Table"]["x-validator"], "no_empty", "{schema:#}");
    assert!(p["otherField"].get("x-validator").is_none());
    assert!(p.get("slot_name").is_none() && p.get("table_name").is_none());
}
