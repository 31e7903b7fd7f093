//! The error type every connector and the runtime use.
//!
//! Retryability is a property of the error's [`ErrorKind`] (optionally overridden
//! explicitly), never decided by matching on the message text.

use std::fmt;

use crate::event::AckToken;

/// Result alias used throughout the SDK.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// The original rivven-connect's name of [`ConnectorError`].
pub type ConnectError = ConnectorError;

/// Boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, in categories that decide how the runtime reacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Invalid configuration. Not retryable.
    Config,
    /// Could not reach or lost the connection to the external system. Retryable.
    Connection,
    /// Authentication or authorization failed. Not retryable.
    Auth,
    /// An operation timed out. Retryable.
    Timeout,
    /// The external system throttled us. Retryable.
    RateLimited,
    /// A single record is malformed or was rejected. Handled by the pipeline's `on_error`.
    Data,
    /// A schema mismatch or incompatible schema change. Not retryable.
    Schema,
    /// Local I/O failed (disk, pipe). Retryable.
    Io,
    /// A transient condition that is expected to clear by itself. Retryable.
    Transient,
    /// Anything the connector cannot recover from. Not retryable.
    Fatal,
}

impl ErrorKind {
    /// Whether errors of this kind are retried by default.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Connection
                | ErrorKind::Timeout
                | ErrorKind::RateLimited
                | ErrorKind::Io
                | ErrorKind::Transient
        )
    }

    /// A short lower-case name (`connection`, `data`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Connection => "connection",
            ErrorKind::Auth => "auth",
            ErrorKind::Timeout => "timeout",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Data => "data",
            ErrorKind::Schema => "schema",
            ErrorKind::Io => "io",
            ErrorKind::Transient => "transient",
            ErrorKind::Fatal => "fatal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error raised by a connector, a transform or the runtime.
///
/// ```
/// use rivven_connect::{ConnectorError, ErrorKind};
///
/// let err = ConnectorError::connection("connection refused");
/// assert_eq!(err.kind(), ErrorKind::Connection);
/// assert!(err.is_retryable());
/// assert!(!ConnectorError::data("malformed JSON record").is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{kind} error: {message}")]
pub struct ConnectorError {
    kind: ErrorKind,
    message: String,
    retryable: Option<bool>,
    /// The original bytes of a record a source could not turn into an event,
    /// so that a dead letter carries the whole record (boxed: rarely set).
    raw_record: Option<Box<[u8]>>,
    /// The acknowledgement token of the message this error rejects (message
    /// sources, see [`AckToken`]); never copied.
    ack: Option<AckToken>,
    #[source]
    source: Option<BoxError>,
}

impl ConnectorError {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: None,
            raw_record: None,
            ack: None,
            source: None,
        }
    }

    /// Invalid configuration.
    pub fn configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// Invalid configuration (short alias of [`ConnectorError::configuration`]).
    pub fn config(message: impl Into<String>) -> Self {
        Self::configuration(message)
    }

    /// Connection failure.
    pub fn connection(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Connection, message)
    }

    /// Authentication / authorization failure.
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }

    /// Timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// Throttled by the remote system.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::RateLimited, message)
    }

    /// A malformed or rejected record.
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Data, message)
    }

    /// Schema problem.
    pub fn schema(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Schema, message)
    }

    /// Local I/O failure.
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }

    /// A transient failure that should clear by itself.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    /// An unrecoverable failure.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Fatal, message)
    }

    /// Attach the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Override whether this particular error is retryable.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = Some(retryable);
        self
    }

    /// Attach the whole original record that could not be read (for example a
    /// JSON line that does not parse), so that `on_error: dead_letter` writes it
    /// to the dead-letter queue in full and it can be replayed from there.
    ///
    /// ```
    /// use rivven_connect::ConnectorError;
    ///
    /// let line = b"{\"id\": 1,".to_vec();
    /// let err = ConnectorError::data("orders.jsonl line 7: invalid JSON").with_raw_record(line);
    /// assert_eq!(err.raw_record(), Some(&b"{\"id\": 1,"[..]));
    /// ```
    pub fn with_raw_record(mut self, record: impl Into<Vec<u8>>) -> Self {
        self.raw_record = Some(record.into().into_boxed_slice());
        self
    }

    /// The original record attached with [`ConnectorError::with_raw_record`].
    pub fn raw_record(&self) -> Option<&[u8]> {
        self.raw_record.as_deref()
    }

    /// Take the attached original record out of the error.
    pub fn take_raw_record(&mut self) -> Option<Box<[u8]>> {
        self.raw_record.take()
    }

    /// Attach the acknowledgement token of the message this error rejects, so
    /// that the runtime resolves it like an event's: acknowledged once the
    /// pipeline's `on_error` disposed of the record (skip, dead letter) and the
    /// checkpoint covering it is committed, rejected otherwise (see [`AckToken`]).
    pub fn with_ack(mut self, token: AckToken) -> Self {
        self.ack = Some(token);
        self
    }

    /// Take the attached acknowledgement token out of the error.
    pub fn take_ack(&mut self) -> Option<AckToken> {
        self.ack.take()
    }

    /// Prefix the message with context (for example the record or file position).
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The error's category.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the kind prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying the failed operation may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable.unwrap_or_else(|| self.kind.is_retryable())
    }

    /// A cheap copy that keeps kind, message and retryability, and renders the
    /// source chain into the message (sources are not `Clone`).
    pub fn to_detached(&self) -> Self {
        let mut message = self.message.clone();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Self {
            kind: self.kind,
            message,
            retryable: self.retryable,
            raw_record: self.raw_record.clone(),
            ack: None,
            source: None,
        }
    }
}

impl From<std::io::Error> for ConnectorError {
    fn from(err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::NotConnected
            | std::io::ErrorKind::BrokenPipe => ErrorKind::Connection,
            std::io::ErrorKind::PermissionDenied => ErrorKind::Auth,
            std::io::ErrorKind::InvalidData => ErrorKind::Data,
            _ => ErrorKind::Io,
        };
        ConnectorError::new(kind, err.to_string()).with_source(err)
    }
}

impl From<serde_json::Error> for ConnectorError {
    fn from(err: serde_json::Error) -> Self {
        ConnectorError::data(err.to_string()).with_source(err)
    }
}

impl From<validator::ValidationErrors> for ConnectorError {
    fn from(err: validator::ValidationErrors) -> Self {
        ConnectorError::configuration(err.to_string()).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_kind() {
        for (kind, retryable) in [
            (ErrorKind::Config, false),
            (ErrorKind::Connection, true),
            (ErrorKind::Auth, false),
            (ErrorKind::Timeout, true),
            (ErrorKind::RateLimited, true),
            (ErrorKind::Data, false),
            (ErrorKind::Schema, false),
            (ErrorKind::Io, true),
            (ErrorKind::Transient, true),
            (ErrorKind::Fatal, false),
        ] {
            assert_eq!(
                ConnectorError::new(kind, "x").is_retryable(),
                retryable,
                "{kind}"
            );
        }
    }

    #[test]
    fn override_wins_over_kind() {
        let err = ConnectorError::data("bad").with_retryable(true);
        assert!(err.is_retryable());
        let err = ConnectorError::connection("down").with_retryable(false);
        assert!(!err.is_retryable());
    }

    #[test]
    fn display_names_kind_and_context() {
        let err = ConnectorError::data("invalid JSON").context("orders.jsonl line 3");
        assert_eq!(
            err.to_string(),
            "data error: orders.jsonl line 3: invalid JSON"
        );
    }

    #[test]
    fn io_errors_map_to_kinds() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "nope");
        assert_eq!(ConnectorError::from(refused).kind(), ErrorKind::Connection);
        let other = std::io::Error::other("disk");
        let err = ConnectorError::from(other);
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.is_retryable());
    }

    #[test]
    fn detached_copy_keeps_source_text() {
        let err =
            ConnectorError::io("write failed").with_source(std::io::Error::other("disk full"));
        let d = err.to_detached();
        assert_eq!(d.kind(), ErrorKind::Io);
        assert!(d.message().contains("disk full"));
    }
}
