//! Pagination of the `http` source: the next page's URL from a page, and
//! the cursor comparison of incremental reads.

use std::cmp::Ordering;

use reqwest::header::{HeaderMap, LINK};
use reqwest::Url;
use serde_json::Value;

use super::config::Pagination;

/// The URL of the page after `current`, or `None` when `current` was the
/// last page of this poll.
pub fn next_page(
    pagination: &Pagination,
    current: &Url,
    headers: &HeaderMap,
    body: &Value,
    records: usize,
) -> Option<Url> {
    match pagination {
        Pagination::None => None,
        Pagination::Cursor {
            cursor_pointer,
            cursor_param,
        } => {
            if records == 0 {
                return None;
            }
            let cursor = match body.pointer(cursor_pointer)? {
                Value::String(s) if !s.is_empty() => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            let current_cursor = current
                .query_pairs()
                .find(|(k, _)| k == cursor_param.as_str())
                .map(|(_, v)| v.into_owned());
            if current_cursor.as_deref() == Some(cursor.as_str()) {
                return None; // the same page again: the API is not advancing
            }
            Some(with_param(current, cursor_param, &cursor))
        }
        Pagination::Offset {
            offset_param,
            limit_param,
            limit,
        } => {
            if (records as u64) < *limit || records == 0 {
                return None;
            }
            let offset: u64 = current
                .query_pairs()
                .find(|(k, _)| k == offset_param.as_str())
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let next = with_param(
                current,
                offset_param,
                &(offset + records as u64).to_string(),
            );
            Some(with_param(&next, limit_param, &limit.to_string()))
        }
        Pagination::Link => {
            let next = headers
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(link_next)?;
            let url = current.join(&next).ok()?;
            (url != *current).then_some(url)
        }
    }
}

/// The first page's URL: `url`, with the committed cursor as `cursor_param`
/// and, for offset pagination, the first offset and the limit.
pub fn first_page(
    url: &Url,
    pagination: &Pagination,
    cursor_param: Option<&str>,
    cursor: Option<&Value>,
) -> Url {
    let mut url = url.clone();
    if let (Some(param), Some(cursor)) = (cursor_param, cursor) {
        let text = match cursor {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        url = with_param(&url, param, &text);
    }
    if let Pagination::Offset {
        offset_param,
        limit_param,
        limit,
    } = pagination
    {
        url = with_param(&url, offset_param, "0");
        url = with_param(&url, limit_param, &limit.to_string());
    }
    url
}

/// `url` with query parameter `name` set to `value` (replacing it).
pub fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut url = url.clone();
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (k, v) in &kept {
            query.append_pair(k, v);
        }
        query.append_pair(name, value);
    }
    url
}

/// The `rel="next"` target of one `Link` header value.
pub fn link_next(header: &str) -> Option<String> {
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let target = target.strip_prefix('<')?.strip_suffix('>')?;
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=").is_some_and(|rel| {
                rel.trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(target.to_string());
        }
    }
    None
}

/// The order of two cursor values: numbers by value, strings by text;
/// `None` for anything else or a mix.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
            },
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn link_headers_as_github_sends_them() {
        let h =
            r#"<https://api.x/items?page=2>; rel="next", <https://api.x/items?page=9>; rel="last""#;
        assert_eq!(link_next(h).as_deref(), Some("https://api.x/items?page=2"));
        assert_eq!(link_next(r#"<https://api.x/?page=1>; rel="prev""#), None);
        assert_eq!(
            link_next(r#"</p/3>; rel="prefetch next""#).as_deref(),
            Some("/p/3")
        );
        assert_eq!(link_next("garbage"), None);
    }

    #[test]
    fn offsets_advance_by_the_records_read() {
        let p = Pagination::Offset {
            offset_param: "offset".into(),
            limit_param: "limit".into(),
            limit: 10,
        };
        let first = first_page(&Url::parse("http://h/x?sort=id").unwrap(), &p, None, None);
        assert_eq!(first.as_str(), "http://h/x?sort=id&offset=0&limit=10");
        let next = next_page(&p, &first, &HeaderMap::new(), &json!([]), 10).unwrap();
        assert_eq!(next.as_str(), "http://h/x?sort=id&offset=10&limit=10");
        assert!(next_page(&p, &next, &HeaderMap::new(), &json!([]), 3).is_none());
    }

    #[test]
    fn a_cursor_that_does_not_advance_ends_the_poll() {
        let p = Pagination::Cursor {
            cursor_pointer: "/next".into(),
            cursor_param: "c".into(),
        };
        let url = Url::parse("http://h/x?since=5").unwrap();
        let body = json!({"next": "abc"});
        let next = next_page(&p, &url, &HeaderMap::new(), &body, 2).unwrap();
        assert_eq!(next.as_str(), "http://h/x?since=5&c=abc");
        assert!(next_page(&p, &next, &HeaderMap::new(), &body, 2).is_none());
        assert!(next_page(&p, &url, &HeaderMap::new(), &json!({"next": null}), 2).is_none());
    }

    #[test]
    fn cursors_compare_numbers_by_value_and_strings_by_text() {
        assert_eq!(compare(&json!(9), &json!(10)), Some(Ordering::Less));
        assert_eq!(compare(&json!(1.5), &json!(1)), Some(Ordering::Greater));
        assert_eq!(
            compare(&json!(u64::MAX), &json!(1)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(
                &json!("2026-01-02T00:00:00Z"),
                &json!("2026-01-01T23:59:59Z")
            ),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&json!("1"), &json!(1)), None);
    }
}
