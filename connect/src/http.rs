//! Health, readiness, liveness and metrics of a runtime, over HTTP.
//!
//! With the `http` feature (on by default),
//! [`RuntimeBuilder::http`](crate::runtime::RuntimeBuilder::http) serves,
//! for as long as the runtime lives:
//!
//! | path | status | body |
//! |---|---|---|
//! | `GET /health` | 200, or 503 when a pipeline failed | [`health_json`] |
//! | `GET /ready` | 200 when every pipeline passed its check and runs (or completed), else 503 | [`ready_json`] |
//! | `GET /live` | 200 while the runtime's actors are alive, else 503 | `{"status":"live"}` |
//! | `GET /metrics` | 200 | Prometheus text format 0.0.4 (names in [`crate::util::metrics::names`]) |
//!
//! ```no_run
//! # use rivven_connect::runtime::*;
//! # async fn demo(pipeline: PipelineBuilder) -> rivven_connect::Result<()> {
//! let runtime = Runtime::builder()
//!     .pipeline(pipeline)
//!     .http("127.0.0.1:0")
//!     .start()
//!     .await?;
//! let addr = runtime.http_addr().expect("http was configured");
//! println!("curl http://{addr}/metrics");
//! # Ok(())
//! # }
//! ```
//!
//! A service with its own axum app can mount the same routes with
//! [`router`] instead. The JSON builders here need no feature, so a client
//! (such as the CLI's `status`) can share them.

use serde_json::{json, Value};

use crate::runtime::{PipelineState, RuntimeStatus};

#[cfg(feature = "http")]
mod server;
#[cfg(feature = "http")]
pub use server::router;
#[cfg(feature = "http")]
pub(crate) use server::{bind, spawn};

/// The overall health of `status`: `healthy` when every pipeline runs or
/// ended cleanly (completed or stopped), `unhealthy` when any failed,
/// `degraded` otherwise (starting, restarting, draining).
pub fn health_state(status: &RuntimeStatus) -> &'static str {
    let states = status.pipelines.iter().map(|p| p.state);
    if states.clone().any(|s| s == PipelineState::Failed) {
        "unhealthy"
    } else if states.into_iter().all(|s| {
        matches!(
            s,
            PipelineState::Running | PipelineState::Completed | PipelineState::Stopped
        )
    }) {
        "healthy"
    } else {
        "degraded"
    }
}

/// The `/health` body: `{"status": <health_state>, "pipelines": [<PipelineStatus>…]}`,
/// plus `"topics": [<TopicStatus>…]` (end offset, and per consumer group the
/// committed offset and lag) when the runtime has embedded topics.
///
/// ```
/// use rivven_connect::runtime::RuntimeStatus;
///
/// let body = rivven_connect::http::health_json(&RuntimeStatus::default());
/// assert_eq!(body["status"], "healthy");
/// assert!(body["pipelines"].as_array().is_some_and(|p| p.is_empty()));
/// ```
pub fn health_json(status: &RuntimeStatus) -> Value {
    let mut body = json!({ "status": health_state(status), "pipelines": status.pipelines });
    if !status.topics.is_empty() {
        body["topics"] = json!(status.topics);
    }
    body
}

/// The `/health` status code: 503 when [`health_state`] is `unhealthy`, else 200.
pub fn health_status_code(status: &RuntimeStatus) -> u16 {
    if health_state(status) == "unhealthy" {
        503
    } else {
        200
    }
}

/// Whether every pipeline passed its `check` and is running, or has
/// completed (a bounded source that finished): what `/ready` reports.
pub fn is_ready(status: &RuntimeStatus) -> bool {
    status
        .pipelines
        .iter()
        .all(|p| matches!(p.state, PipelineState::Running | PipelineState::Completed))
}

/// The `/ready` body: `{"status": "ready"|"not_ready", "pipelines": {<name>: <state>…}}`.
pub fn ready_json(status: &RuntimeStatus) -> Value {
    let pipelines: serde_json::Map<String, Value> = status
        .pipelines
        .iter()
        .map(|p| (p.name.clone(), Value::from(p.state.as_str())))
        .collect();
    json!({
        "status": if is_ready(status) { "ready" } else { "not_ready" },
        "pipelines": pipelines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::PipelineStatus;

    fn status(states: &[PipelineState]) -> RuntimeStatus {
        RuntimeStatus {
            topics: Vec::new(),
            pipelines: states
                .iter()
                .enumerate()
                .map(|(i, &state)| PipelineStatus {
                    name: format!("p{i}"),
                    state,
                    events_read: 0,
                    events_written: 0,
                    events_dropped: 0,
                    events_failed: 0,
                    events_dead_lettered: 0,
                    bytes_written: 0,
                    restarts: 0,
                    commits: 0,
                    in_flight_events: 0,
                    max_in_flight_events: 0,
                    lag_ms: None,
                    last_error: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_failed_pipeline_makes_the_runtime_unhealthy() {
        use PipelineState::*;
        assert_eq!(
            health_state(&status(&[Running, Completed, Stopped])),
            "healthy"
        );
        assert_eq!(health_state(&status(&[Running, Restarting])), "degraded");
        let failed = status(&[Running, Failed]);
        assert_eq!(health_json(&failed)["status"], "unhealthy");
        assert_eq!(health_json(&failed)["pipelines"][1]["state"], "failed");
        assert_eq!(health_status_code(&failed), 503);
        assert_eq!(health_status_code(&status(&[Starting])), 200);
    }

    #[test]
    fn ready_only_when_every_pipeline_runs_or_completed() {
        use PipelineState::*;
        assert!(is_ready(&status(&[Running, Completed])));
        assert!(!is_ready(&status(&[Running, Starting])));
        assert!(!is_ready(&status(&[Draining])));
        let body = ready_json(&status(&[Running, Restarting]));
        assert_eq!(body["status"], "not_ready");
        assert_eq!(body["pipelines"]["p1"], "restarting");
    }
}
