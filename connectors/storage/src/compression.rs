//! Output compression of text formats (`jsonl`, `json`, `csv`): the whole
//! file is compressed once it is complete, in the stream format each
//! algorithm's standard tools read (`gzip -d`, `zstd -d`, the snappy framing
//! format of python-snappy's `stream_decompress`, the LZ4 frame format of
//! `lz4 -d`).

use std::io::{Read, Write};

use rivven_connect::{ConnectorError, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Compression of the output file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip (`.gz`).
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
    /// Snappy, framing format (`.snappy`).
    Snappy,
    /// LZ4, frame format (`.lz4`).
    Lz4,
}

impl Compression {
    /// The extension it adds, without the dot (`None` adds none).
    pub fn extension(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gz"),
            Compression::Zstd => Some("zst"),
            Compression::Snappy => Some("snappy"),
            Compression::Lz4 => Some("lz4"),
        }
    }

    /// The compression an object name's extension says (`none` without one).
    pub fn from_name(name: &str) -> Self {
        match name.rsplit('.').next() {
            Some("gz") => Compression::Gzip,
            Some("zst") => Compression::Zstd,
            Some("snappy") => Compression::Snappy,
            Some("lz4") => Compression::Lz4,
            _ => Compression::None,
        }
    }

    /// Compress a whole file.
    pub fn compress(self, data: Vec<u8>) -> Result<Vec<u8>> {
        let failed = |e: std::io::Error| {
            ConnectorError::io(format!("{self:?} compression failed: {e}")).with_source(e)
        };
        match self {
            Compression::None => Ok(data),
            Compression::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::default(),
                );
                enc.write_all(&data).map_err(failed)?;
                enc.finish().map_err(failed)
            }
            Compression::Zstd => zstd::bulk::compress(&data, 3).map_err(failed),
            Compression::Snappy => {
                let mut enc = snap::write::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
                enc.write_all(&data).map_err(failed)?;
                enc.into_inner()
                    .map_err(|e| failed(std::io::Error::other(e.to_string())))
            }
            Compression::Lz4 => {
                let mut enc =
                    lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
                enc.write_all(&data).map_err(failed)?;
                enc.finish()
                    .map_err(|e| failed(std::io::Error::other(e.to_string())))
            }
        }
    }

    /// Decompress a whole file.
    pub fn decompress(self, data: &[u8]) -> Result<Vec<u8>> {
        let failed = |e: std::io::Error| {
            ConnectorError::data(format!("{self:?} decompression failed: {e}")).with_source(e)
        };
        let mut out = Vec::with_capacity(data.len() * 3);
        match self {
            Compression::None => return Ok(data.to_vec()),
            Compression::Gzip => flate2::read::MultiGzDecoder::new(data)
                .read_to_end(&mut out)
                .map_err(failed)?,
            Compression::Zstd => zstd::stream::read::Decoder::new(data)
                .and_then(|mut d| d.read_to_end(&mut out))
                .map_err(failed)?,
            Compression::Snappy => snap::read::FrameDecoder::new(data)
                .read_to_end(&mut out)
                .map_err(failed)?,
            Compression::Lz4 => lz4_flex::frame::FrameDecoder::new(data)
                .read_to_end(&mut out)
                .map_err(failed)?,
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_round_trips_and_names_its_extension() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            let packed = c.compress(data.clone()).unwrap_or_else(|e| panic!("{e}"));
            if c != Compression::None {
                assert!(packed.len() < data.len(), "{c:?}");
            }
            assert_eq!(c.decompress(&packed).unwrap_or_default(), data, "{c:?}");
            let name = format!("x.jsonl.{}", c.extension().unwrap_or("jsonl"));
            assert_eq!(Compression::from_name(&name), c);
        }
        assert!(Compression::Gzip.decompress(b"not gzip").is_err());
        let bad: std::result::Result<Compression, _> = serde_json::from_str("\"brotli\"");
        assert!(bad.is_err());
    }
}
