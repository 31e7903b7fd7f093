//! The config derives with no attributes and with every attribute.
#![allow(missing_docs)]

use rivven_connect::prelude::*;

/// Every attribute at its default.
#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
pub struct MinimalConfig {}

/// Every attribute given.
#[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "full-sink",
    version = env!("CARGO_PKG_VERSION"),
    description = "A sink with every attribute",
    author = "rivven",
    license = "Apache-2.0",
    documentation_url = "https://example.com/docs",
    batching = true,
    batch_size = 250,
    category = "storage",
    tags = ["files", "archive"]
)]
#[rivven(crate = "rivven_connect")]
pub struct FullSinkConfig {
    /// Where to write.
    #[validate(length(min = 1))]
    pub path: String,
    /// Access key.
    pub secret: SecretString,
}

#[derive(Debug, Deserialize, Validate, JsonSchema, TransformConfigDerive)]
#[transform(name = "tag", version = "2.0.0", description = "Adds a tag")]
pub struct TagConfig {
    #[serde(default)]
    pub tag: Option<String>,
}

/// Every attribute at its default and every attribute given compile, and
/// the generated spec holds them. (A plain test, not a trybuild `pass`
/// case: one pass case makes trybuild build — not check — every dependency
/// again in its own target directory.)
#[test]
fn minimal_and_full_attributes() {
    assert_eq!(MinimalConfigSpec::name(), "minimal");
    assert_eq!(MinimalConfigSpec::version(), "0.0.1");
    let spec = FullSinkConfigSpec::spec();
    assert_eq!(spec.author.as_deref(), Some("rivven"));
    assert_eq!(FullSinkConfigSpec::batch_config().max_records, 250);
    assert_eq!(FullSinkConfigSpec::category(), "storage");
    assert_eq!(TagConfigSpec::version(), "2.0.0");
}
