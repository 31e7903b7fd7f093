//! `mask_field`: hides sensitive values (PII, card numbers) in place.
//!
//! ```yaml
//! - type: mask_field          # or MaskField
//!   config:
//!     fields: [ssn, card.number]
//!     mask_char: "X"          # default "*"
//!     keep_last: 4            # "XXXXXXXXXXXX1111"
//! - type: mask_field
//!   config: { fields: [customer_email], replacement: "***" }   # whole value replaced
//! - type: mask_field
//!   config: { fields: [email], hash: true, salt: "${MASK_SALT}" }   # stable pseudonym
//! ```
//!
//! Three modes: character masking (default: every character except the first
//! `keep_first` and last `keep_last` becomes `mask_char`, so the length shows; a
//! value no longer than `keep_first + keep_last` is masked whole), `replacement`
//! (the whole value becomes that string) and `hash` (the hex SHA-256 of `salt` +
//! the value's text, so equal inputs still join). Non-string values
//! (numbers, booleans, objects) are masked by their JSON text and become strings;
//! `null` and missing fields are left alone. Both row images of a CDC envelope are
//! masked.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use validator::{Validate, ValidationError};

use super::FieldPath;
use crate::connector::{in_place_output, Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::secret::SecretString;
use crate::spec::ConnectorSpec;
use crate::transforms::for_each_row_mut;
use crate::TransformConfig;

/// The default `mask_char`.
const DEFAULT_MASK_CHAR: char = '*';

/// Masks, replaces or hashes sensitive fields.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "mask_field",
    version = env!("CARGO_PKG_VERSION"),
    description = "Mask sensitive fields (PII, credit cards): mask characters, replace or hash",
    category = "utility",
    tags = ["pii", "privacy", "gdpr", "hash", "redact"],
    connector = MaskField
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "one_mode"))]
pub struct MaskFieldConfig {
    /// Fields to mask (dotted paths reach nested fields).
    #[validate(length(min = 1))]
    #[schemars(example = ["customer_email"])]
    pub fields: Vec<FieldPath>,
    /// The character that replaces each masked character.
    #[serde(default = "default_mask_char")]
    pub mask_char: char,
    /// Characters left visible at the start.
    #[serde(default)]
    pub keep_first: usize,
    /// Characters left visible at the end (`4` shows a card's last four digits).
    #[serde(default)]
    pub keep_last: usize,
    /// Replace the whole value with this text instead of masking it (unset:
    /// masked with `mask_char`, or hashed with `hash`).
    #[serde(default)]
    pub replacement: Option<String>,
    /// Replace the value with the hex SHA-256 of `salt` + its text.
    #[serde(default)]
    pub hash: bool,
    /// Salt for `hash` (unset: none; keep it secret, or the hashes of guessable
    /// values can be reversed).
    #[serde(default)]
    pub salt: Option<SecretString>,
}

fn default_mask_char() -> char {
    DEFAULT_MASK_CHAR
}

fn one_mode(config: &MaskFieldConfig) -> std::result::Result<(), ValidationError> {
    let conflict =
        |message: &'static str| Err(ValidationError::new("conflict").with_message(message.into()));
    let partial = config.keep_first > 0 || config.keep_last > 0;
    if config.hash && config.replacement.is_some() {
        return conflict("set either `hash` or `replacement`, not both");
    }
    if (config.hash || config.replacement.is_some()) && partial {
        return conflict(
            "`keep_first`/`keep_last` apply to character masking, not to `hash` or `replacement`",
        );
    }
    if config.salt.is_some() && !config.hash {
        return conflict("`salt` needs `hash: true`");
    }
    Ok(())
}

/// The `mask_field` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct MaskField;

#[async_trait]
impl Transform for MaskField {
    type Config = MaskFieldConfig;

    fn spec() -> ConnectorSpec {
        MaskFieldConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &MaskFieldConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        in_place_output(self.transform_in_place(config, &mut event), event)
    }

    fn transform_in_place(
        &self,
        config: &MaskFieldConfig,
        event: &mut SourceEvent,
    ) -> Option<Result<bool>> {
        for_each_row_mut(event, |row| {
            for path in &config.fields {
                if let Some(value) = path.get_mut(row) {
                    if !value.is_null() {
                        *value = Value::String(mask(config, value));
                    }
                }
            }
        });
        Some(Ok(true))
    }
}

fn mask(config: &MaskFieldConfig, value: &Value) -> String {
    if let Some(replacement) = &config.replacement {
        return replacement.clone();
    }
    let text = match value {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(other.to_string()),
    };
    if config.hash {
        let mut hasher = Sha256::new();
        if let Some(salt) = &config.salt {
            hasher.update(salt.expose_secret().as_bytes());
        }
        hasher.update(text.as_bytes());
        return hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    }
    let count = text.chars().count();
    // A value no longer than what would stay visible is masked whole: showing
    // all of a short secret is exactly what masking is meant to prevent.
    if count <= config.keep_first + config.keep_last {
        return std::iter::repeat_n(config.mask_char, count).collect();
    }
    let visible_end = count - config.keep_last;
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if i < config.keep_first || i >= visible_end {
                c
            } else {
                config.mask_char
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::json;

    async fn run(config: Value, data: Value) -> Value {
        let config = MaskFieldConfig::from_value(config).unwrap_or_else(|e| panic!("{e}"));
        let out = MaskField
            .transform(&config, SourceEvent::record("s", data))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        out.into_events().remove(0).data
    }

    #[tokio::test]
    async fn masks_characters_keeping_the_ends() {
        let out = run(
            json!({"fields": ["card", "ssn", "n", "nested.pin", "none", "absent"], "keep_last": 4}),
            json!({"card": "4111111111111111", "ssn": "123", "n": 123456, "nested": {"pin": "9876"}, "none": null}),
        )
        .await;
        assert_eq!(out["card"], "************1111");
        assert_eq!(out["ssn"], "***", "not longer than keep_last: masked whole");
        assert_eq!(out["n"], "**3456", "numbers are masked by their text");
        assert_eq!(out["nested"]["pin"], "****", "nested paths are masked too");
        assert_eq!(out["none"], Value::Null);
        assert!(
            out.get("absent").is_none(),
            "missing fields are not created"
        );

        let out = run(
            json!({"fields": ["name"], "mask_char": "X", "keep_first": 1}),
            json!({"name": "Åsa Ødegård"}),
        )
        .await;
        assert_eq!(out["name"], "ÅXXXXXXXXXX", "counts characters, not bytes");
    }

    #[tokio::test]
    async fn replaces_and_hashes() {
        let out = run(
            json!({"fields": ["email"], "replacement": "***"}),
            json!({"email": "a@x.io"}),
        )
        .await;
        assert_eq!(out["email"], "***");
        let a = run(
            json!({"fields": ["email"], "hash": true}),
            json!({"email": "a@x.io"}),
        )
        .await;
        let b = run(
            json!({"fields": ["email"], "hash": true}),
            json!({"email": "a@x.io"}),
        )
        .await;
        let salted = run(
            json!({"fields": ["email"], "hash": true, "salt": "pepper"}),
            json!({"email": "a@x.io"}),
        )
        .await;
        assert_eq!(a, b, "hashing is stable");
        assert_eq!(a["email"].as_str().map(str::len), Some(64));
        assert_ne!(a, salted);
    }

    #[tokio::test]
    async fn masks_both_cdc_images() {
        let config = MaskFieldConfig::from_value(json!({"fields": ["ssn"]}))
            .unwrap_or_else(|e| panic!("{e}"));
        let event = SourceEvent::cdc_update(
            "u",
            json!({"id": 1, "ssn": "12"}),
            json!({"id": 1, "ssn": "34"}),
        );
        let out = MaskField
            .transform(&config, event)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_events();
        assert_eq!(out[0].data["before"]["ssn"], "**");
        assert_eq!(out[0].data["after"]["ssn"], "**");
        assert_eq!(out[0].data["after"]["id"], 1);
    }

    #[test]
    fn conflicting_modes_are_config_errors() {
        for bad in [
            json!({"fields": ["a"], "hash": true, "replacement": "x"}),
            json!({"fields": ["a"], "replacement": "x", "keep_last": 2}),
            json!({"fields": ["a"], "salt": "s"}),
            json!({"fields": []}),
            json!({"fields": ["a..b"]}),
        ] {
            let err = MaskFieldConfig::from_value(bad.clone()).err();
            assert!(err.is_some(), "{bad} should be rejected");
        }
        let err = MaskFieldConfig::from_value(json!({"fields": ["a"], "salt": "topsecret"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("`salt` needs `hash: true`"), "{err}");
        assert!(!err.contains("topsecret"), "the salt is a secret: {err}");
    }
}
