//! A scripted webhook receiver (axum, on a free loopback port): records every
//! request but `HEAD` (the body decompressed, the signature verified) and
//! answers what the test's responder says.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    pub method: Method,
    pub headers: HeaderMap,
    /// The body, gunzipped when `Content-Encoding: gzip`.
    pub body: Vec<u8>,
    /// The body's size on the wire.
    pub wire_len: usize,
    /// What the server answered.
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The `id`s of the events in the body (one document or an array).
    pub fn ids(&self) -> Vec<u64> {
        match self.json() {
            serde_json::Value::Array(items) => {
                items.iter().map(|v| v["id"].as_u64().unwrap()).collect()
            }
            one => vec![one["id"].as_u64().unwrap()],
        }
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16, &'static str),
    RetryAfter(u16, &'static str),
    /// Answer 200 only after this long (past the client's timeout).
    Hang(Duration),
}

pub const OK: Reply = Reply::Status(200, "ok");

type Responder = dyn Fn(usize, &Received) -> Reply + Send + Sync;

struct Shared {
    received: Mutex<Vec<Received>>,
    responder: Box<Responder>,
    secret: Option<Vec<u8>>,
}

/// The server; it stops when dropped.
pub struct Receiver {
    pub port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// A server answering each request (numbered from 0) with `responder`.
    pub async fn start(
        responder: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start_signed(None, responder).await
    }

    /// The same, verifying each request's `X-Signature-256` with `secret`:
    /// a missing or wrong signature is answered 401.
    pub async fn start_signed(
        secret: Option<&[u8]>,
        responder: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            responder: Box::new(responder),
            secret: secret.map(<[u8]>::to_vec),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::clone(&shared);
        let app = axum::Router::new()
            .fallback(move |method: Method, headers: HeaderMap, body: Bytes| {
                let state = Arc::clone(&state);
                async move { handle(&state, method, headers, body).await }
            })
            .layer(axum::extract::DefaultBodyLimit::disable());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }
}

async fn handle(state: &Shared, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    if method == Method::HEAD {
        // The sink's `check`: answered, not recorded.
        return StatusCode::OK.into_response();
    }
    let wire_len = body.len();
    let gzipped = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let body = if gzipped {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        body.to_vec()
    };
    let mut received = Received {
        at: Instant::now(),
        method,
        headers,
        body,
        wire_len,
        answered: 0,
    };
    let reply = match &state.secret {
        Some(secret) if !signed_by(&received, secret) => Reply::Status(401, "bad signature"),
        _ => {
            let n = state.received.lock().unwrap().len();
            (state.responder)(n, &received)
        }
    };
    received.answered = match &reply {
        Reply::Status(s, _) | Reply::RetryAfter(s, _) => *s,
        Reply::Hang(_) => 200,
    };
    state.received.lock().unwrap().push(received);
    match reply {
        Reply::Status(status, body) => {
            (StatusCode::from_u16(status).unwrap(), body).into_response()
        }
        Reply::RetryAfter(status, after) => (
            StatusCode::from_u16(status).unwrap(),
            [("retry-after", after)],
            "slow down",
        )
            .into_response(),
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "late").into_response()
        }
    }
}

/// The receiver's own check of `X-Signature-256: sha256=<hex>`, over the
/// body as received (decompressed), with a constant-time comparison.
fn signed_by(received: &Received, secret: &[u8]) -> bool {
    let Some(header) = received.header("x-signature-256") else {
        return false;
    };
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = unhex(hex) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(&received.body);
    mac.verify_slice(&expected).is_ok()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A loopback URL nothing listens on.
pub fn closed_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}/hook", l.local_addr().unwrap().port())
}

/// Fast retries for tests.
pub fn fast_retry(max_attempts: u32) -> serde_json::Value {
    serde_json::json!({"max_attempts": max_attempts, "initial_backoff_ms": 10, "max_backoff_ms": 50})
}
