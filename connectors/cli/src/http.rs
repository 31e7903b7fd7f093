//! The client side of the runtime's HTTP endpoint (`rivven_connect::http`,
//! which the runtime serves itself when `http.enabled`): what `status` uses.
//! HTTP/1.1 with one request per connection.

use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
