//! The HTTP endpoint of a running instance (`/health`, `/metrics`) and the
//! client `status` uses. HTTP/1.1 with one request per connection: small
//! enough to write here rather than pull in a web framework.

use rivven_connect::runtime::{PipelineState, PipelineStatus, Runtime, RuntimeStatus};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const MAX_REQUEST: usize = 8 * 1024;

/// Serve `/health` and `/metrics` on `address` until the handle is aborted.
pub(crate) async fn serve(address: &str, runtime: Arc<Runtime>) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(address).await?;
    tracing::info!(address = %listener.local_addr()?, "serving /health and /metrics");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let runtime = Arc::clone(&runtime);
            tokio::spawn(async move {
                if let Err(e) = respond(stream, &runtime).await {
                    tracing::debug!(error = %e, "HTTP request failed");
                }
            });
        }
    }))
}

async fn respond(mut stream: TcpStream, runtime: &Runtime) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "request timed out")
            })??;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let request = String::from_utf8_lossy(&buf);
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let status = runtime.status_now();
    let (code, content_type, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/health") => {
            let health = health(&status);
            let code = if health["status"] == "unhealthy" {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            (code, "application/json", health.to_string())
        }
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", metrics(&status)),
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "method not allowed\n".to_string(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {code}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// `healthy` when every pipeline runs or completed, `unhealthy` when any
/// failed, `degraded` otherwise (restarting, starting, draining).
pub(crate) fn health(status: &RuntimeStatus) -> Value {
    let states: Vec<PipelineState> = status.pipelines.iter().map(|p| p.state).collect();
    let overall = if states.contains(&PipelineState::Failed) {
        "unhealthy"
    } else if states.iter().all(|s| {
        matches!(
            s,
            PipelineState::Running | PipelineState::Completed | PipelineState::Stopped
        )
    }) {
        "healthy"
    } else {
        "degraded"
    };
    json!({ "status": overall, "pipelines": status.pipelines })
}

/// A counter: metric name, help text, and how to read it.
type Counter = (&'static str, &'static str, fn(&PipelineStatus) -> u64);

fn metrics(status: &RuntimeStatus) -> String {
    let mut out = String::new();
    let counters: [Counter; 8] = [
        ("events_read_total", "Events read from the source", |p| {
            p.events_read
        }),
        (
            "events_written_total",
            "Events durably written by the sink",
            |p| p.events_written,
        ),
        (
            "events_dropped_total",
            "Events dropped by transforms",
            |p| p.events_dropped,
        ),
        ("events_failed_total", "Events rejected and skipped", |p| {
            p.events_failed
        }),
        (
            "events_dead_lettered_total",
            "Events written to the dead-letter sink",
            |p| p.events_dead_lettered,
        ),
        ("bytes_written_total", "Bytes written by the sink", |p| {
            p.bytes_written
        }),
        ("restarts_total", "Pipeline restarts after failures", |p| {
            p.restarts
        }),
        ("commits_total", "Offset commits", |p| p.commits),
    ];
    for (name, help, get) in counters {
        out.push_str(&format!(
            "# HELP rivven_connect_{name} {help}\n# TYPE rivven_connect_{name} counter\n"
        ));
        for p in &status.pipelines {
            out.push_str(&format!(
                "rivven_connect_{name}{{pipeline=\"{}\"}} {}\n",
                escape(&p.name),
                get(p)
            ));
        }
    }
    out.push_str("# HELP rivven_connect_lag_ms Event time of the newest durable write to when it was written (CDC: commit to sink), ms\n# TYPE rivven_connect_lag_ms gauge\n");
    for p in &status.pipelines {
        if let Some(lag) = p.lag_ms {
            out.push_str(&format!(
                "rivven_connect_lag_ms{{pipeline=\"{}\"}} {lag}\n",
                escape(&p.name)
            ));
        }
    }
    out.push_str("# HELP rivven_connect_pipeline_up 1 when the pipeline runs or completed\n# TYPE rivven_connect_pipeline_up gauge\n");
    for p in &status.pipelines {
        let up = matches!(p.state, PipelineState::Running | PipelineState::Completed);
        out.push_str(&format!(
            "rivven_connect_pipeline_up{{pipeline=\"{}\",state=\"{}\"}} {}\n",
            escape(&p.name),
            p.state,
            u8::from(up)
        ));
    }
    out
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// GET `path` from `base` (`http://host:port`) and parse the JSON body.
pub(crate) async fn get_json(base: &str, path: &str) -> Result<Value, String> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{base}` is not an http:// URL"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let connect = TcpStream::connect(authority);
    let mut stream = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| "connection timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .map_err(|_| "no response within 10s".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("malformed HTTP response")?;
    let status_line = head.lines().next().unwrap_or("");
    if !(status_line.contains(" 200 ") || status_line.contains(" 503 ")) {
        return Err(format!("unexpected response `{status_line}`"));
    }
    serde_json::from_str(body).map_err(|e| format!("the response is not JSON: {e}"))
}
