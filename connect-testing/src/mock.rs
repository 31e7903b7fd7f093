//! Mock connectors: [`MockSource`], [`MockSink`], [`MockTransform`], and a
//! message source over an in-memory broker ([`MockMessageSource`], [`MockBroker`]).
//!
//! They implement the real connector traits, so a test that runs them
//! through `Runtime` exercises the production code path.

mod message;
mod sink;
mod source;
mod transform;

pub use message::{MockBroker, MockMessageSource, POISON_KEY};
pub use sink::MockSink;
pub use source::{MockSource, POSITION_KEY};
pub use transform::MockTransform;

use rivven_connect::{SinkConfig, SourceConfig, TransformConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// The (empty) config of every mock connector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MockConfig {}

impl SourceConfig for MockConfig {}
impl SinkConfig for MockConfig {}
impl TransformConfig for MockConfig {}
