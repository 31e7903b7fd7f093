//! The header record of a file (CSV), read from the file's start on every
//! run — also when resuming further on — so the reader knows the columns.

use tokio::io::BufReader;

use super::records::{Records, Step};
use super::FileSourceConfig;
use crate::builtin::file::lines::{Line, LineReader};
use crate::error::{ConnectorError, Result};
use crate::format::RecordReader;

/// Gives the file's header record to `reader`; returns the byte offset and
/// the line number just after it, or `None` while the header is not complete
/// (an empty file, or one still being written).
pub(super) async fn read(
    config: &FileSourceConfig,
    reader: &mut dyn RecordReader,
) -> Result<Option<(u64, u64)>> {
    let failed = |e: std::io::Error| {
        ConnectorError::from(e).context(format!("reading the header of {}", config.path.display()))
    };
    let file = tokio::fs::File::open(&config.path).await.map_err(failed)?;
    let mut lines = LineReader::new(
        BufReader::with_capacity(config.buffer_size.min(64 * 1024), file),
        config.max_line_bytes,
    );
    let mut records = reader
        .quote()
        .map(|q| Records::new(q, config.max_line_bytes));
    loop {
        let line = std::future::poll_fn(|cx| lines.poll_next_line(cx))
            .await
            .map_err(failed)?;
        let consumed = match line {
            Some(Line::Complete { consumed }) => consumed,
            Some(Line::TooLong { .. }) => {
                return Err(ConnectorError::data(format!(
                    "{}: the header is longer than max_line_bytes ({})",
                    config.path.display(),
                    config.max_line_bytes
                )))
            }
            Some(Line::Unterminated) | None => return Ok(None),
        };
        let step = match records.as_mut() {
            Some(records) => records.push(lines.bytes(), consumed),
            None => Step::Single,
        };
        let (bytes, consumed, count) = match (step, records.as_ref()) {
            (Step::Open, _) => continue,
            (Step::Joined, Some(records)) => records.joined(),
            _ => (Some(lines.bytes()), consumed, 1),
        };
        let Some(bytes) = bytes else {
            return Err(ConnectorError::data(format!(
                "{}: the header is longer than max_line_bytes ({})",
                config.path.display(),
                config.max_line_bytes
            )));
        };
        let text = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        reader.header(text).map_err(|e| {
            ConnectorError::data(format!(
                "{}: header: {}",
                config.path.display(),
                e.message()
            ))
        })?;
        return Ok(Some((consumed, count)));
    }
}
