//! Event shortcuts: `record!`, `state!`, `log_event!`.

/// A record event from a stream name and JSON-literal data.
///
/// ```
/// use rivven_connect::{record, prelude::*};
///
/// let event = record!("users", {"id": 1, "name": "Alice"});
/// assert_eq!(event.stream, "users");
/// assert_eq!(event.data["name"], "Alice");
/// ```
#[macro_export]
macro_rules! record {
    ($stream:expr, $($data:tt)+) => {
        $crate::SourceEvent::record($stream, $crate::__private::serde_json::json!($($data)+))
    };
}

/// A state (checkpoint) event for one stream; `cursor` becomes the stream's cursor, other
/// keys become its data.
///
/// ```
/// use rivven_connect::{state, prelude::*};
///
/// let event = state!("users", {"cursor": "abc123"});
/// assert_eq!(event.event_type, EventType::State);
/// let state: State = serde_json::from_value(event.data).unwrap();
/// assert_eq!(state.get_stream("users").and_then(|s| s.cursor_as_str()), Some("abc123"));
/// ```
#[macro_export]
macro_rules! state {
    ($stream:expr, $($data:tt)+) => {{
        let mut __rivven_state = $crate::State::new();
        if let $crate::__private::serde_json::Value::Object(__rivven_update) =
            $crate::__private::serde_json::json!($($data)+)
        {
            __rivven_state.apply_stream_update($stream, &__rivven_update);
        }
        $crate::SourceEvent::state(__rivven_state)
    }};
}

/// A log event; the message takes `format!` arguments.
///
/// ```
/// use rivven_connect::{log_event, prelude::*};
///
/// let log = log_event!(LogLevel::Info, "Sync started");
/// let warn = log_event!(LogLevel::Warn, "{} rows skipped", 3);
/// assert_eq!(warn.event_type, EventType::Log);
/// # let _ = log;
/// ```
#[macro_export]
macro_rules! log_event {
    ($level:expr, $fmt:literal $(, $arg:expr)* $(,)?) => {
        $crate::SourceEvent::log($level, ::std::format!($fmt $(, $arg)*))
    };
    ($level:expr, $message:expr) => {
        $crate::SourceEvent::log($level, $message)
    };
}
