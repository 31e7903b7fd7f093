//! `regex_router`: rewrites the stream (topic) name with a regular expression.
//!
//! ```yaml
//! - type: regex_router           # or RegexRouter
//!   config:
//!     regex: "public\\.(.*)"     # must match the whole stream name
//!     replacement: "cdc.$1"      # `$1`, `${name}`; `$$` is a literal `$`
//! ```
//!
//! Like Kafka Connect's `RegexRouter`, the pattern must match the *whole* stream
//! name; other events keep their stream. A replacement naming a group the regex
//! does not have is a config error, not an empty string at run time.

use async_trait::async_trait;
use regex::Regex;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use validator::{Validate, ValidationError};

use crate::connector::{Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::TransformConfig;

/// A regular expression compiled when the config loads, anchored to match a whole name.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles `text` (anchored: it must match the whole input).
    pub fn new(text: &str) -> std::result::Result<Self, regex::Error> {
        Ok(Self {
            text: text.to_string(),
            regex: Regex::new(&format!("^(?:{text})$"))?,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The compiled, anchored regex.
    pub fn regex(&self) -> &Regex {
        &self.regex
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Pattern::new(&text).map_err(|e| {
            serde::de::Error::custom(format!("invalid regular expression `{text}`: {e}"))
        })
    }
}

impl JsonSchema for Pattern {
    fn schema_name() -> Cow<'static, str> {
        "Pattern".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "regex", "minLength": 1})
    }
}

/// Routes events to a stream derived from their current stream name.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "regex_router",
    version = env!("CARGO_PKG_VERSION"),
    description = "Rewrite the stream (topic) name with a regex",
    category = "utility",
    tags = ["route", "topic"],
    connector = RegexRouter
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "groups_exist"))]
pub struct RegexRouterConfig {
    /// Regular expression that must match the whole stream name.
    #[schemars(example = &"cdc\\.shop\\.(.*)")]
    pub regex: Pattern,
    /// The new stream name; `$1`/`${name}` insert captured groups.
    #[schemars(example = &"shop-$1")]
    pub replacement: String,
}

fn groups_exist(config: &RegexRouterConfig) -> std::result::Result<(), ValidationError> {
    let regex = config.regex.regex();
    let names: Vec<&str> = regex.capture_names().flatten().collect();
    // `captures_len` counts the implicit whole-match group 0.
    let groups = regex.captures_len();
    for reference in group_references(&config.replacement) {
        let known = match reference.parse::<usize>() {
            Ok(n) => n < groups,
            Err(_) => names.contains(&reference.as_str()),
        };
        if !known {
            return Err(ValidationError::new("group").with_message(
                format!(
                    "`replacement` refers to group `${reference}`, which `regex` does not have"
                )
                .into(),
            ));
        }
    }
    Ok(())
}

/// The group names/numbers a replacement string refers to (`$1`, `${name}`, `$name`).
fn group_references(replacement: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            continue;
        }
        match chars.peek() {
            Some('$') => {
                chars.next();
            }
            Some('{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                out.push(name);
            }
            _ => {
                let mut name = String::new();
                while let Some(c) = chars
                    .peek()
                    .copied()
                    .filter(|c| c.is_alphanumeric() || *c == '_')
                {
                    name.push(c);
                    chars.next();
                }
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// The `regex_router` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct RegexRouter;

#[async_trait]
impl Transform for RegexRouter {
    type Config = RegexRouterConfig;

    fn spec() -> ConnectorSpec {
        RegexRouterConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &RegexRouterConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        if let Some(captures) = config.regex.regex().captures(&event.stream) {
            let mut stream = String::with_capacity(config.replacement.len() + 16);
            captures.expand(&config.replacement, &mut stream);
            event.stream = stream;
        }
        Ok(TransformOutput::Emit(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::{json, Value};

    async fn route(config: Value, stream: &str) -> Result<String> {
        let config = RegexRouterConfig::from_value(config)?;
        let out = RegexRouter
            .transform(&config, SourceEvent::record(stream, json!({})))
            .await?;
        Ok(out.into_events().remove(0).stream)
    }

    #[tokio::test]
    async fn rewrites_whole_matches_only() -> Result<()> {
        let config = json!({"regex": "public\\.(.*)", "replacement": "cdc.$1"});
        assert_eq!(route(config.clone(), "public.users").await?, "cdc.users");
        assert_eq!(
            route(config.clone(), "xpublic.users").await?,
            "xpublic.users"
        );
        let named =
            json!({"regex": "(?P<schema>\\w+)\\.(?P<table>\\w+)", "replacement": "${table}-$$"});
        assert_eq!(route(named, "shop.orders").await?, "orders-$");
        Ok(())
    }

    #[test]
    fn bad_patterns_and_unknown_groups_are_config_errors() {
        let err = |c: Value| {
            RegexRouterConfig::from_value(c)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(
            err(json!({"regex": "(", "replacement": "x"})).contains("invalid regular expression")
        );
        assert!(err(json!({"regex": "(a)", "replacement": "$2"})).contains("group `$2`"));
        assert!(err(json!({"regex": "(a)", "replacement": "${name}"})).contains("group `$name`"));
        assert!(err(json!({"regex": "(a)", "replacement": "$1-$0"})).is_empty());
    }
}
