//! The axum server behind [`RuntimeBuilder::http`](crate::runtime::RuntimeBuilder::http).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{health_json, health_status_code, is_ready, ready_json};
use crate::error::{ConnectorError, Result};
use crate::runtime::{Runtime, RuntimeView};

/// The content type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The routes `/health`, `/ready`, `/live` and `/metrics` of `runtime`, to
/// mount in a service's own axum app (what
/// [`RuntimeBuilder::http`](crate::runtime::RuntimeBuilder::http) serves).
/// The router keeps only shared handles: it does not keep the runtime running.
///
/// ```no_run
/// # async fn demo(runtime: &rivven_connect::runtime::Runtime) -> std::io::Result<()> {
/// let app = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "my service" }))
///     .merge(rivven_connect::http::router(runtime));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
pub fn router(runtime: &Runtime) -> Router {
    routes(runtime.view().clone())
}

fn routes(view: RuntimeView) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/live", get(live))
        .route("/metrics", get(metrics))
        .with_state(view)
}

/// Bind `address` (before anything starts, so a taken port fails `start`).
pub(crate) async fn bind(address: &str) -> Result<TcpListener> {
    TcpListener::bind(address).await.map_err(|e| {
        ConnectorError::configuration(format!(
            "could not listen on the HTTP address `{address}`: {e}"
        ))
        .with_source(e)
    })
}

/// Serve the routes of `view` on `listener` until the task is aborted.
pub(crate) fn spawn(
    listener: TcpListener,
    view: RuntimeView,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let addr = listener.local_addr().map_err(|e| {
        ConnectorError::io(format!("the HTTP listener has no local address: {e}")).with_source(e)
    })?;
    tracing::info!(%addr, "serving /health, /ready, /live and /metrics");
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, routes(view)).await {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    Ok((addr, task))
}

fn json_response(code: StatusCode, body: Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn health(State(view): State<RuntimeView>) -> Response {
    let status = view.status();
    let code = StatusCode::from_u16(health_status_code(&status))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, health_json(&status))
}

async fn ready(State(view): State<RuntimeView>) -> Response {
    let status = view.status();
    let code = if is_ready(&status) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(code, ready_json(&status))
}

async fn live(State(view): State<RuntimeView>) -> Response {
    if view.is_live() {
        json_response(StatusCode::OK, json!({ "status": "live" }))
    } else {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "stopped" }),
        )
    }
}

async fn metrics(State(view): State<RuntimeView>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
        view.render_metrics(),
    )
        .into_response()
}
