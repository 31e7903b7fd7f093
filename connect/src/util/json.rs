//! JSON documents given as text (PostgreSQL `json`/`jsonb`, MariaDB's
//! `JSON`, a message payload): parsed when the JSON values here hold the
//! document exactly, else kept as the document's exact text, a string.
//!
//! A valid document is never a bad record: a number beyond `f64`'s range
//! (`1e400`) or precision (`18446744073709551616`,
//! `0.1000000000000000000001`), or nesting deeper than the parser follows,
//! keeps the document as text rather than rounding it or failing the row.
//!
//! ```
//! use rivven_connect::util::json::decode_json;
//! use serde_json::json;
//!
//! assert_eq!(decode_json(r#"{"a": [1, 2.5]}"#), json!({"a": [1, 2.5]}));
//! assert_eq!(decode_json(r#"{"a": 1e400}"#), json!(r#"{"a": 1e400}"#));
//! ```

use serde_json::Value;

/// A JSON document given as text: the parsed value when it holds the
/// document exactly, else the exact text as a string (text that is not JSON
/// at all comes back as a string too: see [`is_json`]).
pub fn decode_json(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if json_numbers_exact(text) => value,
        _ => Value::String(text.to_owned()),
    }
}

/// Whether `text` is one JSON document, by its syntax alone: numbers of any
/// size or precision (`1e400`) and nesting of any depth are JSON, though a
/// `Value` cannot hold them (then [`decode_json`] keeps the text).
pub fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// Whether every number in the JSON text `text` survives serde_json's
/// `Value` (an `i64`/`u64`, or an `f64` with exactly the same decimal value).
fn json_numbers_exact(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                if !number_exact(&text[start..i]) {
                    return false;
                }
            }
            _ => i += 1,
        }
    }
    true
}

fn number_exact(token: &str) -> bool {
    if token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok() {
        return true;
    }
    match token.parse::<f64>() {
        Ok(f) if f.is_finite() => decimal_parts(token) == decimal_parts(&format!("{f:e}")),
        _ => false,
    }
}

/// A decimal literal as (negative, significant digits, exponent of the last
/// digit): `-12.50e1` → (true, "125", 0). Zero has no digits.
fn decimal_parts(literal: &str) -> Option<(bool, String, i64)> {
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal),
    };
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let trimmed_end = digits.trim_end_matches('0');
    let trailing = i64::try_from(digits.len() - trimmed_end.len()).ok()?;
    let significant = trimmed_end.trim_start_matches('0').to_owned();
    let frac_len = i64::try_from(frac.len()).ok()?;
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, significant, exponent - frac_len + trailing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn valid_documents_beyond_f64_are_json_and_kept_as_text() {
        for doc in [
            r#"{"a": 1e400}"#,
            "18446744073709551616",
            r#"[0.1000000000000000000001]"#,
        ] {
            assert!(is_json(doc), "{doc}");
            assert_eq!(decode_json(doc), json!(doc), "{doc}");
        }
        assert_eq!(
            decode_json(r#"{"a": [1, -2.5e3]}"#),
            json!({"a": [1, -2500.0]})
        );
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert!(is_json(&deep));
        for not_json in ["hello", "{", r#"{"a": }"#, "1 2", ""] {
            assert!(!is_json(not_json), "{not_json}");
        }
    }
}
