//! The `http` source: polls a REST API through
//! [reqwest](https://docs.rs/reqwest) (rustls with the ring provider).
//!
//! ```yaml
//! sources:
//!   orders:
//!     connector: http
//!     config:
//!       url: https://api.example.com/v1/orders?order=asc
//!       auth: { type: bearer, token: "${API_TOKEN}" }
//!       records_pointer: /data
//!       pagination: { type: cursor, cursor_pointer: /next_cursor, cursor_param: cursor }
//!       cursor_field: id
//!       cursor_param: since
//!       interval_ms: 30000
//!       rate_limit_per_sec: 5
//! ```
//!
//! # Polling
//! A poll starts at `url` (with `cursor_param=<committed cursor>` when both
//! are set; `offset=0&limit=n` with offset pagination) and follows the
//! pagination — a cursor in the body, offset/limit, or the `Link` header's
//! `rel="next"` — until a page says there is no next one; then it waits
//! `interval_ms` and polls again. Each page's records are the array at
//! `records_pointer` (the whole body by default); each becomes one event of
//! stream `stream` whose data is the record.
//!
//! # Resuming
//! With `cursor_field` every event carries the newest cursor value read so
//! far as its state update (key `cursor`): once the event is durably written
//! the runtime commits it, and after a restart the source starts from that
//! value — it sends it as `cursor_param`, and skips records whose cursor is
//! not newer. So the cursor field must be unique and ascending across pages
//! (an id, or a creation time the API sorts by); every record is then read
//! once. Without `cursor_field` each poll reads everything again.
//!
//! # Failures
//! Requests are retried as the webhook sink's are (connection errors,
//! timeouts, `408/425/429/5xx`, `Retry-After`), behind a circuit breaker and
//! the optional `rate_limit_per_sec`; when the attempts are used up, or on any
//! other `4xx`, a body that is not JSON or records that are not an array, the
//! source fails and the pipeline restarts from its committed state.

pub mod config;
pub mod pagination;
pub mod source;

pub use config::{Auth, Pagination, RestSourceConfig};
pub use source::RestSource;
