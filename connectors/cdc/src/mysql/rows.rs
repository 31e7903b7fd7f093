//! The binary log's row images decoded into [`Cell`]s: every read is
//! bounds-checked, so a malformed or truncated event is an error, never a
//! panic (see the property tests).
//!
//! A rows event carries, per row, one or two images (delete: before;
//! insert: after; update: both). An image is a null bitmap over the
//! columns present in it, then each non-null value in the column's binary
//! form, which the table map describes by a type byte and metadata bytes.

use std::fmt;

use super::value::Cell;

/// How one column's values are stored (from the table map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnCodec {
    /// The type byte (`MYSQL_TYPE_*`).
    pub ty: u8,
    /// The type's metadata bytes.
    pub meta: Vec<u8>,
}

/// One row of a rows event: each image holds a value per column (`None`:
/// the column is not in the image).
#[derive(Debug, Clone, PartialEq)]
pub struct RowImages {
    /// The old row (update, delete).
    pub before: Option<Vec<Option<Cell>>>,
    /// The new row (insert, update).
    pub after: Option<Vec<Option<Cell>>>,
}

/// Why a row image cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The event ends inside a value.
    Truncated {
        /// The column being read.
        column: usize,
    },
    /// A column type this decoder does not know.
    UnknownType {
        /// The column.
        column: usize,
        /// Its type byte.
        ty: u8,
    },
    /// The metadata of a column is not what its type needs.
    BadMetadata {
        /// The column.
        column: usize,
    },
    /// The event and the table map disagree on the number of columns.
    ColumnCount {
        /// Columns in the table map.
        table_map: usize,
        /// Columns in the rows event.
        event: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { column } => {
                write!(f, "row image truncated in column {column}")
            }
            DecodeError::UnknownType { column, ty } => {
                write!(
                    f,
                    "column {column} has type {ty}, which this source cannot decode"
                )
            }
            DecodeError::BadMetadata { column } => {
                write!(f, "column {column} has malformed table-map metadata")
            }
            DecodeError::ColumnCount { table_map, event } => write!(
                f,
                "the rows event has {event} columns but its table map {table_map}"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes the rows of one rows event. `before`/`after` are the event's
/// column-presence bitmaps of each image it carries.
pub fn decode_rows(
    codecs: &[ColumnCodec],
    before: Option<&[bool]>,
    after: Option<&[bool]>,
    data: &[u8],
) -> Result<Vec<RowImages>, DecodeError> {
    for present in [before, after].into_iter().flatten() {
        if present.len() != codecs.len() {
            return Err(DecodeError::ColumnCount {
                table_map: codecs.len(),
                event: present.len(),
            });
        }
    }
    let mut r = Reader { data, at: 0 };
    let mut rows = Vec::new();
    while r.at < data.len() {
        let before = before.map(|p| image(codecs, p, &mut r)).transpose()?;
        let after = after.map(|p| image(codecs, p, &mut r)).transpose()?;
        if before.is_none() && after.is_none() {
            break;
        }
        rows.push(RowImages { before, after });
    }
    Ok(rows)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, column: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => Err(DecodeError::Truncated { column }),
        }
    }

    fn le(&mut self, n: usize, column: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n, column)?
            .iter()
            .rev()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }

    fn be(&mut self, n: usize, column: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n, column)?
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }
}

fn image(
    codecs: &[ColumnCodec],
    present: &[bool],
    r: &mut Reader<'_>,
) -> Result<Vec<Option<Cell>>, DecodeError> {
    let count = present.iter().filter(|p| **p).count();
    let nulls = r.take(count.div_ceil(8), 0)?;
    let mut out = Vec::with_capacity(codecs.len());
    let mut i = 0usize;
    for (column, (codec, &here)) in codecs.iter().zip(present).enumerate() {
        if !here {
            out.push(None);
            continue;
        }
        let is_null = nulls.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0);
        i += 1;
        out.push(Some(if is_null {
            Cell::Null
        } else {
            value(codec, column, r)?
        }));
    }
    Ok(out)
}

fn meta(codec: &ColumnCodec, i: usize, column: usize) -> Result<u8, DecodeError> {
    codec
        .meta
        .get(i)
        .copied()
        .ok_or(DecodeError::BadMetadata { column })
}

fn sign_extend(v: u64, bytes: usize) -> i64 {
    let shift = 64 - 8 * bytes as u32;
    ((v << shift) as i64) >> shift
}

/// Fractional seconds of TIME2/DATETIME2/TIMESTAMP2: (bytes, micros per unit).
fn frac_layout(fsp: u8, column: usize) -> Result<(usize, u32), DecodeError> {
    Ok(match fsp {
        0 => (0, 0),
        1 | 2 => (1, 10_000),
        3 | 4 => (2, 100),
        5 | 6 => (3, 1),
        _ => return Err(DecodeError::BadMetadata { column }),
    })
}

fn value(codec: &ColumnCodec, column: usize, r: &mut Reader<'_>) -> Result<Cell, DecodeError> {
    let int = |r: &mut Reader<'_>, n: usize| -> Result<Cell, DecodeError> {
        Ok(Cell::Int(sign_extend(r.le(n, column)?, n)))
    };
    Ok(match codec.ty {
        1 => int(r, 1)?,
        2 => int(r, 2)?,
        9 => int(r, 3)?,
        3 => int(r, 4)?,
        8 => int(r, 8)?,
        4 => Cell::Float(f32::from_bits(r.le(4, column)? as u32)),
        5 => Cell::Double(f64::from_bits(r.le(8, column)?)),
        246 => decimal(meta(codec, 0, column)?, meta(codec, 1, column)?, column, r)?,
        13 => {
            let y = r.le(1, column)?;
            Cell::Int(if y == 0 { 0 } else { 1900 + y as i64 })
        }
        10 | 14 => {
            let v = r.le(3, column)?;
            date((v >> 9) as u16, ((v >> 5) & 15) as u8, (v & 31) as u8)
        }
        11 => {
            let v = r.le(3, column)?;
            Cell::Time {
                negative: false,
                hours: (v / 10_000) as u32,
                minutes: ((v % 10_000) / 100) as u8,
                seconds: (v % 100) as u8,
                micros: 0,
            }
        }
        19 => time2(meta(codec, 0, column)?, column, r)?,
        12 => {
            let v = r.le(8, column)?;
            let (d, t) = (v / 1_000_000, v % 1_000_000);
            Cell::DateTime {
                year: (d / 10_000) as u16,
                month: ((d % 10_000) / 100) as u8,
                day: (d % 100) as u8,
                hour: (t / 10_000) as u8,
                minute: ((t % 10_000) / 100) as u8,
                second: (t % 100) as u8,
                micros: 0,
            }
        }
        18 => {
            let fsp = meta(codec, 0, column)?;
            let (n, unit) = frac_layout(fsp, column)?;
            let int = r.be(5, column)?.wrapping_sub(0x80_0000_0000);
            let frac = r.be(n, column)? as u32 * unit;
            let ymd = int >> 17;
            let ym = ymd >> 5;
            let hms = int % (1 << 17);
            Cell::DateTime {
                year: (ym / 13).min(u64::from(u16::MAX)) as u16,
                month: (ym % 13) as u8,
                day: (ymd % 32) as u8,
                hour: ((hms >> 12) % 32) as u8,
                minute: ((hms >> 6) % 64) as u8,
                second: (hms % 64) as u8,
                micros: frac,
            }
        }
        7 => Cell::Epoch {
            seconds: r.le(4, column)? as u32,
            micros: 0,
        },
        17 => {
            let fsp = meta(codec, 0, column)?;
            let (n, unit) = frac_layout(fsp, column)?;
            let seconds = r.be(4, column)? as u32;
            let micros = r.be(n, column)? as u32 * unit;
            Cell::Epoch { seconds, micros }
        }
        16 => {
            let bits = usize::from(meta(codec, 0, column)?);
            let bytes = usize::from(meta(codec, 1, column)?);
            let n = bytes + usize::from(bits > 0);
            Cell::Bytes(r.take(n, column)?.to_vec())
        }
        15 | 253 => {
            let max =
                usize::from(meta(codec, 0, column)?) | (usize::from(meta(codec, 1, column)?) << 8);
            let len = r.le(if max < 256 { 1 } else { 2 }, column)? as usize;
            Cell::Bytes(r.take(len, column)?.to_vec())
        }
        254 | 247 | 248 => {
            let (b0, b1) = (meta(codec, 0, column)?, meta(codec, 1, column)?);
            let real = if codec.ty == 254 { b0 } else { codec.ty };
            match real {
                247 => match b1 {
                    1 | 2 => Cell::EnumIndex(r.le(usize::from(b1), column)? as u16),
                    _ => return Err(DecodeError::BadMetadata { column }),
                },
                248 => match b1 {
                    1..=8 => Cell::SetBits(r.le(usize::from(b1), column)?),
                    _ => return Err(DecodeError::BadMetadata { column }),
                },
                _ => {
                    let max = if (b0 & 0x30) != 0x30 {
                        usize::from(b1) | ((usize::from(b0 & 0x30) ^ 0x30) << 4)
                    } else {
                        usize::from(b1)
                    };
                    let len = r.le(if max < 256 { 1 } else { 2 }, column)? as usize;
                    Cell::Bytes(r.take(len, column)?.to_vec())
                }
            }
        }
        249..=252 | 255 | 245 | 243 => {
            let n = usize::from(meta(codec, 0, column)?);
            if !(1..=4).contains(&n) {
                return Err(DecodeError::BadMetadata { column });
            }
            let len = r.le(n, column)? as usize;
            let bytes = r.take(len, column)?;
            match codec.ty {
                // GEOMETRY: a 4-byte SRID, then the WKB.
                255 => Cell::Bytes(bytes.get(4..).unwrap_or_default().to_vec()),
                245 => match super::jsonb::to_json(bytes) {
                    Ok(v) => Cell::Json(v),
                    Err(_) => return Err(DecodeError::BadMetadata { column }),
                },
                _ => Cell::Bytes(bytes.to_vec()),
            }
        }
        ty => return Err(DecodeError::UnknownType { column, ty }),
    })
}

fn date(year: u16, month: u8, day: u8) -> Cell {
    Cell::DateTime {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        micros: 0,
    }
}

fn time2(fsp: u8, column: usize, r: &mut Reader<'_>) -> Result<Cell, DecodeError> {
    let mut int = r.be(3, column)? as i64 - 0x80_0000;
    let packed: i64 = match fsp {
        0 => int << 24,
        1 | 2 => {
            let mut frac = i64::from(r.be(1, column)? as u8 as i8);
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x100;
            }
            (int << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut frac = i64::from(r.be(2, column)? as u16 as i16);
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x10000;
            }
            (int << 24) + frac * 100
        }
        5 | 6 => {
            // The whole value is one 48-bit big-endian number.
            r.at -= 3;
            r.be(6, column)? as i64 - 0x8000_0000_0000
        }
        _ => return Err(DecodeError::BadMetadata { column }),
    };
    let negative = packed < 0;
    let packed = packed.unsigned_abs();
    let hms = packed >> 24;
    Ok(Cell::Time {
        negative,
        hours: ((hms >> 12) % (1 << 10)) as u32,
        minutes: ((hms >> 6) % 64) as u8,
        seconds: (hms % 64) as u8,
        micros: (packed % (1 << 24)) as u32,
    })
}

const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// A `DECIMAL(precision, scale)` in MySQL's binary form, as exact text.
fn decimal(
    precision: u8,
    scale: u8,
    column: usize,
    r: &mut Reader<'_>,
) -> Result<Cell, DecodeError> {
    let (precision, scale) = (usize::from(precision), usize::from(scale));
    if precision == 0 || precision > 65 || scale > 30 || scale > precision {
        return Err(DecodeError::BadMetadata { column });
    }
    let intg = precision - scale;
    let (intg0, intg0x) = (intg / 9, intg % 9);
    let (frac0, frac0x) = (scale / 9, scale % 9);
    let size = intg0 * 4 + DIG2BYTES[intg0x] + frac0 * 4 + DIG2BYTES[frac0x];
    let mut bytes = r.take(size, column)?.to_vec();
    let positive = bytes.first().is_some_and(|b| b & 0x80 != 0);
    if let Some(b) = bytes.first_mut() {
        *b ^= 0x80;
    }
    if !positive {
        bytes.iter_mut().for_each(|b| *b = !*b);
    }
    let mut at = 0usize;
    let mut group = |n: usize| -> u64 {
        let v = bytes[at..at + n]
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b));
        at += n;
        v
    };
    let mut int = String::new();
    if intg0x > 0 {
        int.push_str(&group(DIG2BYTES[intg0x]).to_string());
    }
    for _ in 0..intg0 {
        let g = group(4);
        if int.is_empty() {
            int.push_str(&g.to_string());
        } else {
            int.push_str(&format!("{g:09}"));
        }
    }
    let int = int.trim_start_matches('0');
    let mut text = String::new();
    if !positive {
        text.push('-');
    }
    text.push_str(if int.is_empty() { "0" } else { int });
    if scale > 0 {
        text.push('.');
        for _ in 0..frac0 {
            text.push_str(&format!("{:09}", group(4)));
        }
        if frac0x > 0 {
            let width = frac0x;
            text.push_str(&format!("{:0width$}", group(DIG2BYTES[frac0x])));
        }
    }
    Ok(Cell::Bytes(text.into_bytes()))
}

#[cfg(test)]
mod tests;
