//! PostgreSQL array literals (`{1,2}`, `{{"a b",NULL}}`, `[0:1]={1,2}`) to
//! JSON arrays, each element decoded with the element type.

use serde_json::Value;

use super::PgType;

/// PostgreSQL's limit on array dimensions (`MAXDIM`).
const MAX_ARRAY_DIMS: usize = 6;

/// One parsed element of an array literal.
enum Element {
    Null,
    Text(String),
    Array(Vec<Element>),
}

/// Decodes an array literal; the error is the reason, without the type.
pub(super) fn decode_array(element_type: &PgType, text: &str) -> Result<Value, String> {
    let mut parser = ArrayParser {
        chars: text.char_indices().peekable(),
    };
    parser.skip_dimensions()?;
    parser.skip_whitespace();
    parser.expect('{')?;
    let root = parser.parse_list(1)?;
    parser.skip_whitespace();
    if let Some((at, c)) = parser.chars.next() {
        return Err(format!("unexpected {c:?} after the array at byte {at}"));
    }
    shape(&root)?;
    let mut index = 0;
    to_json(element_type, root, &mut index)
}

/// The dimensions of a (sub)array; sub-arrays must be uniform.
fn shape(element: &Element) -> Result<Vec<usize>, String> {
    let Element::Array(items) = element else {
        return Ok(Vec::new());
    };
    let mut inner: Option<Vec<usize>> = None;
    for item in items {
        let item_shape = shape(item)?;
        match &inner {
            Some(expected) if *expected != item_shape => {
                return Err(
                    "multidimensional arrays must have sub-arrays with matching dimensions"
                        .to_owned(),
                )
            }
            Some(_) => {}
            None => inner = Some(item_shape),
        }
    }
    let mut dims = vec![items.len()];
    dims.extend(inner.unwrap_or_default());
    Ok(dims)
}

fn to_json(element_type: &PgType, element: Element, index: &mut usize) -> Result<Value, String> {
    match element {
        Element::Null => {
            *index += 1;
            Ok(Value::Null)
        }
        Element::Text(text) => {
            *index += 1;
            element_type
                .decode_inner(&text)
                .map_err(|reason| format!("element {}: {reason}", *index))
        }
        Element::Array(items) => items
            .into_iter()
            .map(|item| to_json(element_type, item, index))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
    }
}

struct ArrayParser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
}

impl ArrayParser<'_> {
    fn skip_whitespace(&mut self) {
        while self.chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    }

    fn expect(&mut self, want: char) -> Result<(), String> {
        match self.chars.next() {
            Some((_, c)) if c == want => Ok(()),
            Some((at, c)) => Err(format!("expected {want:?} at byte {at}, found {c:?}")),
            None => Err(format!("expected {want:?}, found the end")),
        }
    }

    /// Skips an optional `[lo:hi][lo:hi]=` bounds decoration.
    fn skip_dimensions(&mut self) -> Result<(), String> {
        self.skip_whitespace();
        if self.chars.peek().map(|(_, c)| *c) != Some('[') {
            return Ok(());
        }
        for (at, c) in self.chars.by_ref() {
            match c {
                '=' => return Ok(()),
                '[' | ']' | ':' | '-' | '+' => {}
                c if c.is_ascii_digit() || c.is_whitespace() => {}
                c => return Err(format!("unexpected {c:?} in array bounds at byte {at}")),
            }
        }
        Err("array bounds without '='".to_owned())
    }

    /// Parses the items of a list whose `{` was just consumed.
    fn parse_list(&mut self, depth: usize) -> Result<Element, String> {
        if depth > MAX_ARRAY_DIMS {
            return Err(format!("more than {MAX_ARRAY_DIMS} array dimensions"));
        }
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.chars.next_if(|(_, c)| *c == '}').is_some() {
            return Ok(Element::Array(items));
        }
        loop {
            self.skip_whitespace();
            let item = match self.chars.peek().map(|(_, c)| *c) {
                Some('{') => {
                    self.chars.next();
                    self.parse_list(depth + 1)?
                }
                Some('"') => {
                    self.chars.next();
                    self.parse_quoted()?
                }
                Some(_) => self.parse_unquoted()?,
                None => return Err("unterminated array: missing '}'".to_owned()),
            };
            items.push(item);
            self.skip_whitespace();
            match self.chars.next() {
                Some((_, ',')) => {}
                Some((_, '}')) => return Ok(Element::Array(items)),
                Some((at, c)) => {
                    return Err(format!("expected ',' or '}}' at byte {at}, found {c:?}"))
                }
                None => return Err("unterminated array: missing '}'".to_owned()),
            }
        }
    }

    /// A double-quoted element; its opening quote was just consumed.
    fn parse_quoted(&mut self) -> Result<Element, String> {
        let mut out = String::new();
        loop {
            match self.chars.next() {
                Some((_, '"')) => return Ok(Element::Text(out)),
                Some((_, '\\')) => match self.chars.next() {
                    Some((_, c)) => out.push(c),
                    None => break,
                },
                Some((_, c)) => out.push(c),
                None => break,
            }
        }
        Err("unterminated quoted array element".to_owned())
    }

    /// An unquoted element, up to the next `,` or `}`; surrounding whitespace
    /// is dropped, and an unquoted `NULL` (any case) is SQL NULL.
    fn parse_unquoted(&mut self) -> Result<Element, String> {
        let mut out = String::new();
        // Length of `out` up to its last character that is not trailing
        // whitespace (escaped whitespace counts as content).
        let mut content_len = 0;
        let mut escaped_any = false;
        while let Some(&(at, c)) = self.chars.peek() {
            match c {
                ',' | '}' => break,
                '{' | '"' => return Err(format!("unexpected {c:?} in array element at byte {at}")),
                '\\' => {
                    self.chars.next();
                    let (_, escaped) = self
                        .chars
                        .next()
                        .ok_or("unterminated escape in array element")?;
                    out.push(escaped);
                    content_len = out.len();
                    escaped_any = true;
                }
                c => {
                    self.chars.next();
                    out.push(c);
                    if !c.is_whitespace() {
                        content_len = out.len();
                    }
                }
            }
        }
        out.truncate(content_len);
        if out.is_empty() && !escaped_any {
            return Err("empty unquoted array element".to_owned());
        }
        if !escaped_any && out.eq_ignore_ascii_case("NULL") {
            return Ok(Element::Null);
        }
        Ok(Element::Text(out))
    }
}
