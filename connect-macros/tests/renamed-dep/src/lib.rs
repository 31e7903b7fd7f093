//! `#[rivven(crate = connect)]`: the derives work through a renamed dependency.

use connect::prelude::{Deserialize, JsonSchema, Validate};

/// A config whose derive must resolve everything through `connect`.
#[derive(Debug, Deserialize, Validate, JsonSchema, connect::SinkConfig)]
#[rivven(crate = connect)]
#[sink(batch_size = 5)]
pub struct RenamedSinkConfig {
    /// A value.
    #[validate(range(min = 1))]
    pub x: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect::SinkConfig as _;

    #[test]
    fn works_through_a_renamed_dependency() {
        assert_eq!(RenamedSinkConfigSpec::name(), "renamed-sink");
        assert_eq!(RenamedSinkConfigSpec::batch_config().max_records, 5);
        assert!(RenamedSinkConfig::from_value(serde_json::json!({"x": 1})).is_ok());
        let err = RenamedSinkConfig::from_value(serde_json::json!({"x": 0}));
        assert!(err.is_err());
    }
}
