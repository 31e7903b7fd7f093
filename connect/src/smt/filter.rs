//! `filter`: keeps (or drops) the events matching a condition.
//!
//! ```yaml
//! transforms:
//!   big-orders:
//!     type: filter            # or Filter
//!     config:
//!       condition: "value.amount > 100 and status != 'cancelled'"
//!       action: keep          # keep matches (default) | drop matches
//! ```
//!
//! The condition language is described in [`Expr`](crate::smt::Expr).
//! `drop: true`, the original rivven-connect's spelling, is accepted as a
//! synonym of `action: drop`.

use async_trait::async_trait;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;
use validator::{Validate, ValidationError};

use super::Expr;
use crate::connector::{in_place_output, Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::TransformConfig;

/// What happens to events matching the condition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterAction {
    /// Keep matching events, drop the rest.
    #[default]
    Keep,
    /// Drop matching events, keep the rest.
    Drop,
}

/// A condition, parsed when the config loads (a syntax error is a config error
/// naming the column).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition(pub Expr);

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Expr::parse(&text)
            .map(Condition)
            .map_err(|e| serde::de::Error::custom(format!("invalid condition `{text}`: {e}")))
    }
}

impl JsonSchema for Condition {
    fn schema_name() -> Cow<'static, str> {
        "Condition".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "examples": ["total >= 100 and status != 'cancelled'"]
        })
    }
}

/// Keeps or drops events by a condition on their fields.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "filter",
    version = env!("CARGO_PKG_VERSION"),
    description = "Keep or drop events by a condition (SQL-like expression)",
    category = "utility",
    tags = ["where", "condition", "drop"],
    connector = Filter
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "action_agrees"))]
pub struct FilterConfig {
    /// The condition, e.g. `total >= 100 and status != 'cancelled'` (see the
    /// filter expressions page of the reference). String values are quoted: a
    /// bare word is a field name.
    pub condition: Condition,
    /// What happens to the events matching the condition: keep (the default)
    /// keeps them and drops the rest; drop drops them and keeps the rest.
    /// Unset, `drop: true` means drop.
    #[serde(default)]
    pub action: Option<FilterAction>,
    /// `true` is a synonym of `action: drop` (the original rivven-connect's
    /// spelling); must agree with `action`.
    #[serde(default)]
    pub drop: Option<bool>,
}

fn action_agrees(config: &FilterConfig) -> std::result::Result<(), ValidationError> {
    match (config.action, config.drop) {
        (Some(FilterAction::Keep), Some(true)) | (Some(FilterAction::Drop), Some(false)) => {
            Err(ValidationError::new("conflict")
                .with_message("`action` and `drop` disagree; set only `action`".into()))
        }
        _ => Ok(()),
    }
}

impl FilterConfig {
    /// Whether matching events are dropped (rather than kept).
    pub fn drops_matches(&self) -> bool {
        match (self.action, self.drop) {
            (Some(action), _) => action == FilterAction::Drop,
            (None, drop) => drop.unwrap_or(false),
        }
    }
}

/// The `filter` transform.
///
/// On the first event it warns once about every field the condition reads
/// that the event does not have — most often a string value written without
/// quotes (`country = NO` compares with a field named `NO`).
#[derive(Debug, Default)]
pub struct Filter {
    checked: std::sync::atomic::AtomicBool,
}

impl Filter {
    /// Warn (once per transform) about fields of the condition missing
    /// from the first event.
    fn check_fields(&self, config: &FilterConfig, event: &SourceEvent) {
        use std::sync::atomic::Ordering;
        if self.checked.swap(true, Ordering::Relaxed) {
            return;
        }
        for field in config.condition.0.missing_fields(event) {
            tracing::warn!(
                condition = %config.condition.0,
                field = %field,
                "filter: the first event (stream `{}`) has no field `{field}`, so it reads as null; \
                 a bare word is a field name: to compare with the text, quote it ('{field}')",
                event.stream
            );
        }
    }
}

#[async_trait]
impl Transform for Filter {
    type Config = FilterConfig;

    fn spec() -> ConnectorSpec {
        FilterConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &FilterConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        in_place_output(self.transform_in_place(config, &mut event), event)
    }

    fn transform_in_place(
        &self,
        config: &FilterConfig,
        event: &mut SourceEvent,
    ) -> Option<Result<bool>> {
        self.check_fields(config, event);
        let matched = config.condition.0.matches(event);
        Some(Ok(matched != config.drops_matches()))
    }
}
