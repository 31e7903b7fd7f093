//! Built-in single-message transforms (SMTs), configured from YAML by name.
//!
//! | name (also `PascalCase`) | does |
//! |---|---|
//! | `extract_new_record_state` | flattens a CDC envelope to its row (`add_op`, `add_table`, `add_fields`, `delete_handling`, `drop_tombstones`) |
//! | `value_to_key` | sets the event key from fields of the row |
//! | `mask_field` | masks fields (`mask_char`, `keep_first`/`keep_last`), replaces them (`replacement`) or hashes them (`hash`) |
//! | `insert_field` | adds static fields, a timestamp, a UUID, the stream name |
//! | `replace_field` (alias `rename_field`) | renames (`rename`), keeps (`include`) or removes (`exclude`) fields |
//! | `regex_router` | rewrites the stream (topic) name with a regex |
//! | `content_router` | routes by a field's value to a stream (topic) |
//! | `timestamp_converter` | converts timestamps between ISO 8601, Unix s/ms/µs and custom formats |
//! | `filter` | keeps or drops events by a condition ([`Expr`]) |
//! | `cast` | converts fields to `int`, `float`, `string` or `bool` |
//! | `flatten` | flattens nested objects into `a.b` keys |
//!
//! Every SMT works on plain records and on CDC events: for a Debezium envelope it
//! changes both row images (`before` and `after`) and reads `after` (else `before`).
//! A record an SMT cannot process (a value that cannot be cast, a missing key field…)
//! is rejected with an error naming the field, the value and the record; the pipeline's
//! `on_error` decides what happens to it (skip, stop or dead-letter), so nothing is lost
//! silently. A config that cannot work (an invalid regex or condition, a mask with both
//! `hash` and `replacement`) is rejected when the config loads.
//!
//! ```
//! use rivven_connect::prelude::*;
//! use rivven_connect::registry::Registry;
//! use serde_json::json;
//!
//! # tokio_test_block_on(async {
//! let registry = Registry::builtin();
//! let mask = registry.transform("MaskField").unwrap()
//!     .build(json!({"fields": ["card"], "keep_last": 4})).unwrap();
//! let out = mask.transform(SourceEvent::record("pay", json!({"card": "4111111111111111"}))).await.unwrap();
//! assert_eq!(out.into_events()[0].data["card"], "************1111");
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

mod cast;
mod content_router;
mod expr;
mod extract_new_record_state;
mod filter;
mod flatten;
mod insert_field;
mod mask_field;
pub(crate) mod path;
mod regex_router;
mod replace_field;
mod timestamp_converter;
mod value_to_key;

pub use cast::{Cast, CastConfig, CastConfigSpec, CastType};
pub use content_router::{ContentRouter, ContentRouterConfig, ContentRouterConfigSpec};
pub use expr::{Expr, ExprError, EXPR_GRAMMAR};
pub use extract_new_record_state::{
    DeleteHandling, ExtractNewRecordState, ExtractNewRecordStateConfig,
    ExtractNewRecordStateConfigSpec,
};
pub use filter::{Condition, Filter, FilterAction, FilterConfig, FilterConfigSpec};
pub use flatten::{Flatten, FlattenConfig, FlattenConfigSpec};
pub use insert_field::{
    InsertField, InsertFieldConfig, InsertFieldConfigSpec, TimeSource, TimestampField, UuidField,
};
pub use mask_field::{MaskField, MaskFieldConfig, MaskFieldConfigSpec};
pub use path::FieldPath;
pub use regex_router::{Pattern, RegexRouter, RegexRouterConfig, RegexRouterConfigSpec};
pub use replace_field::{ReplaceField, ReplaceFieldConfig, ReplaceFieldConfigSpec};
pub use timestamp_converter::{
    TimestampConverter, TimestampConverterConfig, TimestampConverterConfigSpec, TimestampFormat,
};
pub use value_to_key::{ValueToKey, ValueToKeyConfig, ValueToKeyConfigSpec};

use std::fmt;

use crate::error::ConnectorError;
use crate::event::SourceEvent;

/// A per-record error naming the record (stream, then key or position).
pub(crate) fn record_error(event: &SourceEvent, message: impl fmt::Display) -> ConnectorError {
    let at = match (&event.key, &event.metadata.position) {
        (Some(key), _) => format!("stream `{}`, key {key}", event.stream),
        (None, Some(position)) => format!("stream `{}`, position {position}", event.stream),
        (None, None) => format!("stream `{}`", event.stream),
    };
    ConnectorError::data(format!("{message} (record in {at})"))
}

/// A JSON value shortened for an error message.
pub(crate) fn shown(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 60 {
        return text;
    }
    let cut: String = text.chars().take(57).collect();
    format!("{cut}...")
}
