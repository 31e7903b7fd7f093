//! `content_router`: routes events to a stream (topic) chosen by a field's value.
//!
//! ```yaml
//! - type: content_router        # or ContentRouter
//!   config:
//!     field: region
//!     routes:
//!       us: us-events
//!       eu: eu-events
//!     default: other-events     # optional: without it, unmatched events keep their stream
//! ```
//!
//! Numbers and booleans match by their text (`routes: {"1": priority}`); a missing
//! or `null` field goes to `default`.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use validator::Validate;

use super::FieldPath;
use crate::connector::{Transform, TransformOutput};
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::transforms::row;
use crate::TransformConfig;

/// Routes by the value of one field.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(
    name = "content_router",
    version = env!("CARGO_PKG_VERSION"),
    description = "Route events to a stream (topic) by a field's value",
    category = "utility",
    tags = ["route", "topic"],
    connector = ContentRouter
)]
#[serde(deny_unknown_fields)]
pub struct ContentRouterConfig {
    /// The field whose value picks the route (dotted paths reach nested fields).
    #[schemars(example = &"status")]
    pub field: FieldPath,
    /// Field value → stream name.
    #[validate(length(min = 1))]
    #[schemars(example = serde_json::json!({"cancelled": "orders-cancelled", "paid": "orders-paid"}))]
    pub routes: BTreeMap<String, String>,
    /// Stream for values without a route; unmatched events keep their stream when unset.
    #[serde(default)]
    pub default: Option<String>,
}

/// The `content_router` transform.
#[derive(Debug, Default, Clone, Copy)]
pub struct ContentRouter;

#[async_trait]
impl Transform for ContentRouter {
    type Config = ContentRouterConfig;

    fn spec() -> ConnectorSpec {
        ContentRouterConfigSpec::spec()
    }

    async fn transform(
        &self,
        config: &ContentRouterConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        let route = match row(&event).and_then(|r| config.field.get_in(r)) {
            Some(Value::String(s)) => config.routes.get(s.as_str()),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => config.routes.get(&v.to_string()),
            _ => None,
        };
        if let Some(stream) = route.or(config.default.as_ref()) {
            event.stream.clone_from(stream);
        }
        Ok(TransformOutput::Emit(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::TransformConfig as _;
    use serde_json::json;

    async fn route(config: &ContentRouterConfig, data: Value) -> Result<String> {
        let out = ContentRouter
            .transform(config, SourceEvent::record("in", data))
            .await?;
        Ok(out.into_events().remove(0).stream)
    }

    #[tokio::test]
    async fn routes_by_value_with_default() -> Result<()> {
        let config = ContentRouterConfig::from_value(json!({
            "field": "meta.region", "routes": {"us": "us-events", "1": "one"}, "default": "other"
        }))?;
        assert_eq!(
            route(&config, json!({"meta": {"region": "us"}})).await?,
            "us-events"
        );
        assert_eq!(route(&config, json!({"meta": {"region": 1}})).await?, "one");
        assert_eq!(
            route(&config, json!({"meta": {"region": "eu"}})).await?,
            "other"
        );
        assert_eq!(route(&config, json!({})).await?, "other");
        let keep = ContentRouterConfig::from_value(json!({"field": "r", "routes": {"us": "x"}}))?;
        assert_eq!(route(&keep, json!({"r": "eu"})).await?, "in");
        Ok(())
    }

    #[test]
    fn needs_routes() {
        assert!(ContentRouterConfig::from_value(json!({"field": "r", "routes": {}})).is_err());
    }
}
