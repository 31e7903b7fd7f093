//! The bytes of a webhook request: the body of its events, its gzip form,
//! its HMAC-SHA256 signature and its idempotency key.

use std::io::Write;

use hmac::{Hmac, Mac};
use rivven_connect::{ConnectorError, Result, SourceEvent};
use sha2::{Digest, Sha256};

use super::config::BodyFormat;

/// The content type of a body in `format` of `events` events.
pub fn content_type(format: BodyFormat, events: usize) -> &'static str {
    match format {
        BodyFormat::Jsonl if events > 0 => "application/x-ndjson",
        _ => "application/json",
    }
}

/// The body of one request: one event's data; or several events' data as a
/// JSON array (`json`) or one per line (`jsonl`).
pub fn encode<'a>(
    format: BodyFormat,
    batched: bool,
    events: impl ExactSizeIterator<Item = &'a SourceEvent>,
) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(events.len() * 128);
    let bad = |e: serde_json::Error| ConnectorError::data(format!("encoding the body: {e}"));
    match (format, batched) {
        (BodyFormat::Json, false) => {
            for event in events {
                serde_json::to_writer(&mut body, &event.data).map_err(bad)?;
            }
        }
        (BodyFormat::Json, true) => {
            body.push(b'[');
            for (i, event) in events.enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                serde_json::to_writer(&mut body, &event.data).map_err(bad)?;
            }
            body.push(b']');
        }
        (BodyFormat::Jsonl, _) => {
            for event in events {
                serde_json::to_writer(&mut body, &event.data).map_err(bad)?;
                body.push(b'\n');
            }
        }
    }
    Ok(body)
}

/// `body` compressed with gzip (default level).
pub fn gzip(body: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::default(),
    );
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|e| ConnectorError::data(format!("gzip: {e}")))
}

/// `sha256=<hex>` of the HMAC-SHA256 of `body` with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> Result<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|e| ConnectorError::config(format!("signature.secret: {e}")))?;
    mac.update(body);
    Ok(format!("sha256={}", hex(&mac.finalize().into_bytes())))
}

/// The idempotency key of a request: a digest of its events' identities,
/// in order — stream and position (or sequence, or state update; the data
/// itself for events without any) — so a replay of the same events after a
/// restart carries the same key.
pub fn idempotency_key<'a>(events: impl Iterator<Item = &'a SourceEvent>) -> String {
    let mut digest = Sha256::new();
    for event in events {
        digest.update(event.stream.as_bytes());
        digest.update([0]);
        let meta = &event.metadata;
        let identity = if let Some(position) = &meta.position {
            (b'p', position.to_string())
        } else if let Some(sequence) = meta.sequence {
            (b's', sequence.to_string())
        } else if let Some(state) = &meta.state {
            (b't', serde_json::Value::Object(state.clone()).to_string())
        } else {
            (b'd', event.data.to_string())
        };
        digest.update([identity.0]);
        digest.update(identity.1.as_bytes());
        digest.update([0xff]);
    }
    hex(&digest.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn events() -> Vec<SourceEvent> {
        (0..3)
            .map(|i| SourceEvent::record("s", json!({"id": i})).with_position(json!(i * 10)))
            .collect()
    }

    #[test]
    fn bodies_of_each_format() {
        let e = events();
        assert_eq!(
            encode(BodyFormat::Json, false, e[..1].iter()).unwrap(),
            br#"{"id":0}"#
        );
        assert_eq!(
            encode(BodyFormat::Json, true, e.iter()).unwrap(),
            br#"[{"id":0},{"id":1},{"id":2}]"#
        );
        assert_eq!(
            encode(BodyFormat::Jsonl, true, e.iter()).unwrap(),
            b"{\"id\":0}\n{\"id\":1}\n{\"id\":2}\n"
        );
        assert_eq!(content_type(BodyFormat::Jsonl, 3), "application/x-ndjson");
    }

    #[test]
    fn the_key_follows_the_positions_not_the_data() {
        let e = events();
        let a = idempotency_key(e.iter());
        let mut changed = e.clone();
        changed[1].data = json!({"id": "other"});
        assert_eq!(
            a,
            idempotency_key(changed.iter()),
            "same positions, same key"
        );
        assert_ne!(a, idempotency_key(e[..2].iter()));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn signature_is_the_rfc_4231_hmac() {
        // RFC 4231 test case 2.
        let sig = signature(b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn gzip_round_trips() {
        let body = vec![b'x'; 10_000];
        let packed = gzip(&body).unwrap();
        assert!(packed.len() < 200);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}
