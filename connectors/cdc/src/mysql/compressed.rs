//! MariaDB's compressed binlog events (`log_bin_compress=ON`), inflated
//! into the events they stand for.
//!
//! MariaDB compresses the query text of a `QUERY_EVENT` (type 165,
//! `QUERY_COMPRESSED_EVENT`) and the row data of a rows event (166–168:
//! `WRITE/UPDATE/DELETE_ROWS_COMPRESSED_EVENT_V1`, for types 23–25; 169–171:
//! `WRITE/UPDATE/DELETE_ROWS_COMPRESSED_EVENT`, for types 30–32). Everything
//! before the compressed part is as in the plain event: the post-header,
//! for a query the status variables and the default database, for rows the
//! table id, flags, (v2) extra data, column count and column bitmaps. The
//! compressed part is one header byte — bit 7 set, bits 4–6 the algorithm
//! (0: zlib, the only one), bits 0–2 the number of length bytes (1–4) —
//! then the uncompressed length (big-endian), then a zlib stream.
//!
//! [`inflate`] rebuilds the plain event (same timestamp, server id, flags
//! and `log_pos`; the plain type and its own size), so the decoder reads it
//! like any other event; the caller keeps the *compressed* event's place in
//! the binlog for positions. Every read is bounds-checked: a truncated or
//! corrupt event is an error, never a panic (see the property tests).

use std::fmt;

use mysql_async::binlog::events::{BinlogEventHeader, Event};
use mysql_async::binlog::BinlogChecksumAlg;

/// `QUERY_COMPRESSED_EVENT`.
pub(crate) const QUERY_COMPRESSED: u8 = 165;
/// The last compressed type (`DELETE_ROWS_COMPRESSED_EVENT`).
pub(crate) const LAST_COMPRESSED: u8 = 171;

/// Largest uncompressed body accepted: MariaDB's own limit on an event
/// (`max_allowed_packet` is at most 1 GiB).
const MAX_UNCOMPRESSED: usize = 1 << 30;

/// The query event's fixed post-header: thread id, exec time, db length,
/// error code, status-vars length.
const QUERY_POST_HEADER: usize = 13;
/// Rows events: table id (6) and flags (2); v2 adds the extra-data length.
const ROWS_POST_HEADER_V1: usize = 8;

/// Why a compressed event cannot be inflated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The event ends before its compressed part.
    Truncated(&'static str),
    /// The compressed part's header byte is not a compressed-record header.
    BadHeader(u8),
    /// An algorithm other than zlib.
    Algorithm(u8),
    /// The declared length is 0 or beyond the limit.
    Length(usize),
    /// zlib failed or the data does not have the declared length.
    Zlib(String),
    /// The rebuilt event did not parse.
    Rebuild(String),
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated(what) => write!(f, "the event ends inside its {what}"),
            Self::BadHeader(b) => write!(f, "compressed-record header byte {b:#04x} is invalid"),
            Self::Algorithm(a) => write!(f, "compression algorithm {a} is unknown (only zlib, 0)"),
            Self::Length(n) => write!(f, "declared uncompressed length {n} is invalid"),
            Self::Zlib(e) => write!(f, "zlib: {e}"),
            Self::Rebuild(e) => write!(f, "the inflated event does not parse: {e}"),
        }
    }
}

/// The plain type a compressed type stands for (`None`: not compressed).
pub(crate) fn plain_type(ty: u8) -> Option<u8> {
    match ty {
        QUERY_COMPRESSED => Some(2),
        166..=168 => Some(ty - 166 + 23),
        169..=LAST_COMPRESSED => Some(ty - 169 + 30),
        _ => None,
    }
}

/// The plain event a compressed one stands for.
///
/// `Ok(None)` when `event` is not a compressed event.
pub(crate) fn inflate(event: &Event) -> Result<Option<Event>, InflateError> {
    let header = event.header();
    let ty = header.event_type_raw();
    let Some(plain) = plain_type(ty) else {
        return Ok(None);
    };
    let data = event.data();
    let post_header = |default: usize| {
        event
            .fde()
            .event_type_header_lengths()
            .get(usize::from(ty) - 1)
            .map_or(default, |&n| usize::from(n))
    };
    let head = if ty == QUERY_COMPRESSED {
        query_head(data, post_header(QUERY_POST_HEADER))?
    } else {
        let default = if ty >= 169 { 10 } else { ROWS_POST_HEADER_V1 };
        rows_head(data, post_header(default), plain)?
    };
    let body = inflate_record(&data[head..])?;

    let checksum = event.footer().get_checksum_enabled()
        && matches!(
            event.footer().get_checksum_alg(),
            Ok(Some(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32))
        );
    let size = BinlogEventHeader::LEN + head + body.len() + if checksum { 4 } else { 0 };
    let size32 = u32::try_from(size).map_err(|_| InflateError::Length(size))?;
    let mut raw = Vec::with_capacity(size);
    raw.extend_from_slice(&header.timestamp().to_le_bytes());
    raw.push(plain);
    raw.extend_from_slice(&header.server_id().to_le_bytes());
    raw.extend_from_slice(&size32.to_le_bytes());
    raw.extend_from_slice(&header.log_pos().to_le_bytes());
    raw.extend_from_slice(&header.flags_raw().to_le_bytes());
    raw.extend_from_slice(&data[..head]);
    raw.extend_from_slice(&body);
    if checksum {
        // Room for the checksum the reader expects and takes off without
        // checking (the compressed event's own checksum is the one the
        // server sent; the rebuilt event's is never used).
        raw.extend_from_slice(&[0; 4]);
    }
    let rebuilt =
        Event::read(event.fde(), &raw[..]).map_err(|e| InflateError::Rebuild(e.to_string()))?;
    // Parse it once here, so that a body that does not fit its type is this
    // event's error and not a failure further down.
    rebuilt
        .read_data()
        .map_err(|e| InflateError::Rebuild(e.to_string()))?;
    Ok(Some(rebuilt))
}

/// Bytes before the compressed query text: post-header, status variables,
/// the default database and its terminating NUL.
fn query_head(data: &[u8], post_header: usize) -> Result<usize, InflateError> {
    if post_header < QUERY_POST_HEADER || data.len() < post_header {
        return Err(InflateError::Truncated("query post-header"));
    }
    let db_len = usize::from(data[8]);
    let status_len = usize::from(u16::from_le_bytes([data[11], data[12]]));
    let head = post_header + status_len + db_len + 1;
    if data.len() <= head {
        return Err(InflateError::Truncated("status variables and database"));
    }
    Ok(head)
}

/// Bytes before the compressed row data: post-header, (v2) extra data,
/// column count and the column bitmap(s).
fn rows_head(data: &[u8], post_header: usize, plain: u8) -> Result<usize, InflateError> {
    if post_header < ROWS_POST_HEADER_V1 || data.len() < post_header {
        return Err(InflateError::Truncated("rows post-header"));
    }
    let mut at = ROWS_POST_HEADER_V1;
    if post_header > ROWS_POST_HEADER_V1 {
        // v2: the extra-data length counts its own two bytes.
        let extra = data
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or(InflateError::Truncated("rows extra data"))?;
        if extra < 2 {
            return Err(InflateError::Truncated("rows extra data"));
        }
        at += extra;
    }
    let (width, n) = lenenc(data.get(at..).unwrap_or_default())
        .ok_or(InflateError::Truncated("column count"))?;
    at += n;
    let bitmap =
        usize::try_from(width.div_ceil(8)).map_err(|_| InflateError::Truncated("column bitmap"))?;
    let bitmaps = if plain == 24 || plain == 31 { 2 } else { 1 };
    at = bitmap
        .checked_mul(bitmaps)
        .and_then(|b| b.checked_add(at))
        .ok_or(InflateError::Truncated("column bitmap"))?;
    if data.len() <= at {
        return Err(InflateError::Truncated("column bitmap"));
    }
    Ok(at)
}

/// A length-encoded integer and its size in bytes.
fn lenenc(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let take = |n: usize| -> Option<u64> {
        let bytes = b.get(1..1 + n)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(bytes);
        Some(u64::from_le_bytes(v))
    };
    match first {
        0..=250 => Some((u64::from(first), 1)),
        252 => Some((take(2)?, 3)),
        253 => Some((take(3)?, 4)),
        254 => Some((take(8)?, 9)),
        _ => None,
    }
}

/// One compressed record: header byte, big-endian length, zlib stream.
pub(crate) fn inflate_record(record: &[u8]) -> Result<Vec<u8>, InflateError> {
    let (&first, rest) = record
        .split_first()
        .ok_or(InflateError::Truncated("compressed-record header"))?;
    if first & 0x80 == 0 {
        return Err(InflateError::BadHeader(first));
    }
    let algorithm = (first & 0x70) >> 4;
    if algorithm != 0 {
        return Err(InflateError::Algorithm(algorithm));
    }
    let lenlen = usize::from(first & 0x07);
    if !(1..=4).contains(&lenlen) {
        return Err(InflateError::BadHeader(first));
    }
    let len_bytes = rest
        .get(..lenlen)
        .ok_or(InflateError::Truncated("uncompressed length"))?;
    let len = len_bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    if len == 0 || len > MAX_UNCOMPRESSED {
        return Err(InflateError::Length(len));
    }
    let stream = &rest[lenlen..];
    // The declared length bounds the output, but a corrupt one must not
    // make us reserve a gigabyte up front: grow as zlib produces.
    let mut out = Vec::with_capacity(len.min(1 << 16));
    let mut zlib = flate2::Decompress::new(true);
    loop {
        if out.len() == out.capacity() {
            if out.len() > len {
                break;
            }
            out.reserve_exact((len + 1 - out.len()).min(1 << 20));
        }
        let (read, wrote) = (zlib.total_in(), out.len());
        let input = usize::try_from(read)
            .ok()
            .and_then(|r| stream.get(r..))
            .unwrap_or_default();
        let status = zlib
            .decompress_vec(input, &mut out, flate2::FlushDecompress::None)
            .map_err(|e| InflateError::Zlib(e.to_string()))?;
        match status {
            flate2::Status::StreamEnd => break,
            _ if zlib.total_in() == read && out.len() == wrote => {
                return Err(InflateError::Zlib("the stream is cut short".to_string()));
            }
            _ => {}
        }
    }
    if out.len() != len {
        return Err(InflateError::Zlib(format!(
            "{} bytes inflated, {len} declared",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn compress(body: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(body).unwrap();
        let zipped = z.finish().unwrap();
        let len = body.len() as u32;
        let lenlen = match len {
            0..=0xff => 1,
            0x100..=0xffff => 2,
            0x1_0000..=0xff_ffff => 3,
            _ => 4,
        };
        let mut out = vec![0x80 | lenlen as u8];
        out.extend_from_slice(&len.to_be_bytes()[4 - lenlen..]);
        out.extend_from_slice(&zipped);
        out
    }

    #[test]
    fn compressed_types_map_to_their_plain_types() {
        assert_eq!(plain_type(165), Some(2));
        assert_eq!(plain_type(166), Some(23));
        assert_eq!(plain_type(168), Some(25));
        assert_eq!(plain_type(169), Some(30));
        assert_eq!(plain_type(171), Some(32));
        assert_eq!(plain_type(164), None);
        assert_eq!(plain_type(30), None);
    }

    #[test]
    fn a_record_inflates_to_its_body() {
        let body: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(inflate_record(&compress(&body)).unwrap(), body);
        assert_eq!(inflate_record(&compress(b"x")).unwrap(), b"x");
    }

    #[test]
    fn bad_records_are_errors() {
        let good = compress(b"hello hello hello");
        assert!(matches!(
            inflate_record(&[]),
            Err(InflateError::Truncated(_))
        ));
        assert_eq!(
            inflate_record(&[0x01, 5]),
            Err(InflateError::BadHeader(0x01))
        );
        assert_eq!(inflate_record(&[0x91, 5]), Err(InflateError::Algorithm(1)));
        assert_eq!(
            inflate_record(&[0x80, 5]),
            Err(InflateError::BadHeader(0x80))
        );
        assert_eq!(inflate_record(&[0x81, 0]), Err(InflateError::Length(0)));
        assert!(matches!(
            inflate_record(&[0x82, 1]),
            Err(InflateError::Truncated(_))
        ));
        // A declared length that does not match the data.
        let mut wrong = good.clone();
        wrong[1] += 1;
        assert!(matches!(inflate_record(&wrong), Err(InflateError::Zlib(_))));
        wrong[1] -= 2;
        assert!(matches!(inflate_record(&wrong), Err(InflateError::Zlib(_))));
        // A cut stream.
        assert!(matches!(
            inflate_record(&good[..good.len() - 3]),
            Err(InflateError::Zlib(_))
        ));
    }

    #[test]
    fn rows_head_skips_bitmaps_and_extra_data() {
        // v1 update: post-header 8, width 3 → two 1-byte bitmaps.
        let mut data = vec![0u8; 8];
        data.extend_from_slice(&[3, 0b111, 0b111, 0x81]);
        assert_eq!(rows_head(&data, 8, 24).unwrap(), 11);
        assert_eq!(rows_head(&data, 8, 23).unwrap(), 10);
        // v2 insert: extra data of 4 bytes (length included).
        let mut data = vec![0u8; 8];
        data.extend_from_slice(&[4, 0, 9, 9, 2, 0b11, 0x81]);
        assert_eq!(rows_head(&data, 10, 30).unwrap(), 14);
        assert!(rows_head(&data[..13], 10, 30).is_err());
        assert!(rows_head(&[0; 9], 10, 30).is_err());
    }

    #[test]
    fn query_head_skips_status_and_database() {
        // post-header 13: db_len 2, status_len 3; then status, "db\0".
        let mut data = vec![0u8; 13];
        data[8] = 2;
        data[11] = 3;
        data.extend_from_slice(&[1, 2, 3, b'd', b'b', 0, 0x81]);
        assert_eq!(query_head(&data, 13).unwrap(), 19);
        assert!(query_head(&data[..19], 13).is_err());
        assert!(query_head(&data[..5], 13).is_err());
    }

    proptest! {
        #[test]
        fn cut_or_corrupt_records_never_panic(
            body in proptest::collection::vec(any::<u8>(), 1..2000),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            mask in 1u8..=255,
        ) {
            let good = compress(&body);
            prop_assert_eq!(inflate_record(&good).unwrap(), body.clone());
            let cut = cut.index(good.len());
            prop_assert!(inflate_record(&good[..cut]).is_err());
            let mut bad = good.clone();
            let at = flip.index(bad.len());
            bad[at] ^= mask;
            // Either an error or (a flip zlib's checksum cannot see, e.g. in
            // the length bytes is caught by the length check) exactly the body.
            if let Ok(out) = inflate_record(&bad) {
                prop_assert_eq!(out, body);
            }
        }

        #[test]
        fn arbitrary_rows_and_query_heads_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            post in 0usize..16,
            plain in prop::sample::select(vec![23u8, 24, 25, 30, 31, 32]),
        ) {
            let _ = rows_head(&data, post, plain);
            let _ = query_head(&data, post);
            let _ = inflate_record(&data);
        }
    }
}
