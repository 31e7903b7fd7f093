//! A paginated REST API (axum, on a free loopback port) over records
//! `{"id": i, "name": "item-i"}` sorted by id: `/cursor` (body cursor),
//! `/offset` (offset/limit), `/link` (`Link` header), `/plain` (one page);
//! each honours `since=<id>`; `/beyond`, `/utf8`, `/deep`, `/huge` are
//! hostile pages. It can require a bearer token, answer slowly,
//! fail requests by a script, and grow while it runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub const PAGE: u64 = 20;

/// One request: its query, and when it came.
#[derive(Debug, Clone)]
pub struct Hit {
    pub query: HashMap<String, String>,
    pub at: Instant,
}

type Fail = dyn Fn(usize) -> Option<(u16, Option<&'static str>)> + Send + Sync;

struct Shared {
    records: AtomicU64,
    token: Option<String>,
    delay: Duration,
    fail: Box<Fail>,
    hits: Mutex<Vec<Hit>>,
}

/// The API; stops when dropped.
pub struct Api {
    pub port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How the API behaves.
pub struct Options {
    pub records: u64,
    pub token: Option<&'static str>,
    pub delay: Duration,
    /// Request number → a status (and `Retry-After`) to answer instead.
    pub fail: Box<Fail>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            records: 95,
            token: None,
            delay: Duration::ZERO,
            fail: Box::new(|_| None),
        }
    }
}

impl Api {
    pub async fn start(options: Options) -> Self {
        let shared = Arc::new(Shared {
            records: AtomicU64::new(options.records),
            token: options.token.map(str::to_string),
            delay: options.delay,
            fail: options.fail,
            hits: Mutex::new(Vec::new()),
        });
        let state = Arc::clone(&shared);
        let app = axum::Router::new().route(
            "/{mode}",
            axum::routing::get(
                move |Path(mode): Path<String>, uri: Uri, headers: HeaderMap| {
                    let state = Arc::clone(&state);
                    let query: HashMap<String, String> =
                        reqwest::Url::parse(&format!("http://api{uri}"))
                            .unwrap()
                            .query_pairs()
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect();
                    async move { page(&state, &mode, query, &headers).await }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, shared, task }
    }

    pub fn url(&self, mode: &str) -> String {
        format!("http://127.0.0.1:{}/{mode}", self.port)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Adds records (the API grows between polls).
    pub fn grow(&self, n: u64) {
        self.shared.records.fetch_add(n, Ordering::SeqCst);
    }
}

async fn page(
    state: &Shared,
    mode: &str,
    query: HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let n = {
        let mut hits = state.hits.lock().unwrap();
        hits.push(Hit {
            query: query.clone(),
            at: Instant::now(),
        });
        hits.len() - 1
    };
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    if let Some(token) = &state.token {
        let expected = format!("Bearer {token}");
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return (StatusCode::UNAUTHORIZED, "token required").into_response();
        }
    }
    if let Some((status, retry_after)) = (state.fail)(n) {
        let status = StatusCode::from_u16(status).unwrap();
        return match retry_after {
            Some(after) => (status, [("retry-after", after)], "later").into_response(),
            None => (status, "scripted failure").into_response(),
        };
    }
    let total = state.records.load(Ordering::SeqCst);
    let since: Option<u64> = query.get("since").and_then(|s| s.parse().ok());
    let start_id = since.map_or(0, |s| s + 1);
    let all: Vec<u64> = (start_id..total).collect();
    let num = |k: &str, default: u64| query.get(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    let records = |ids: &[u64]| -> Vec<Value> {
        ids.iter()
            .map(|i| json!({"id": i, "name": format!("item-{i}")}))
            .collect()
    };
    match mode {
        "plain" => Json(json!({"data": records(&all)})).into_response(),
        "cursor" => {
            // The cursor is an opaque token: the index into the filtered list.
            let from = query
                .get("cursor")
                .and_then(|c| c.strip_prefix("c-"))
                .and_then(|c| c.parse::<usize>().ok())
                .unwrap_or(0);
            let end = (from + PAGE as usize).min(all.len());
            let slice = &all[from.min(end)..end];
            let next = (end < all.len()).then(|| format!("c-{end}"));
            Json(json!({"data": records(slice), "meta": {"next": next}})).into_response()
        }
        "offset" => {
            let offset = num("offset", 0) as usize;
            let limit = num("limit", PAGE) as usize;
            let end = (offset + limit).min(all.len());
            Json(json!({"data": records(&all[offset.min(end)..end])})).into_response()
        }
        "link" => {
            let page_no = num("page", 0) as usize;
            let from = page_no * PAGE as usize;
            let end = (from + PAGE as usize).min(all.len());
            let body = Value::Array(records(&all[from.min(end)..end]));
            if end < all.len() {
                let mut next = format!("/link?page={}", page_no + 1);
                if let Some(s) = since {
                    next.push_str(&format!("&since={s}"));
                }
                let link = format!("<{next}>; rel=\"next\", </link?page=0>; rel=\"first\"");
                ([("link", link)], Json(body)).into_response()
            } else {
                Json(body).into_response()
            }
        }
        "broken" => (StatusCode::OK, "<html>not json</html>").into_response(),
        // Hostile pages.
        "beyond" => (StatusCode::OK, r#"{"data": [{"id": 1, "v": 1e400}]}"#).into_response(),
        "utf8" => (
            StatusCode::OK,
            b"{\"data\": [{\"id\": 1, \"v\": \"\xff\xfe\"}]}".to_vec(),
        )
            .into_response(),
        "deep" => {
            let deep = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
            (
                StatusCode::OK,
                format!(r#"{{"data": [{{"id": 1, "v": {deep}}}]}}"#),
            )
                .into_response()
        }
        "huge" => {
            let big = "x".repeat(20 * 1024 * 1024);
            Json(json!({"data": [{"id": 1, "v": big}, {"id": 2}]})).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "no such list").into_response(),
    }
}

/// The ids of events, in order.
pub fn ids(events: &[rivven_connect::SourceEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e.data["id"].as_u64().unwrap())
        .collect()
}

/// A loopback URL nothing listens on.
pub fn closed_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}/cursor", l.local_addr().unwrap().port())
}

/// A JSON answer (without axum's `json` feature).
#[allow(non_snake_case)]
fn Json(body: Value) -> impl IntoResponse {
    ([("content-type", "application/json")], body.to_string())
}
