//! `${VAR}` / `${VAR:-default}` substitution in the configuration text.
//!
//! Substitution happens on the text before it is parsed, so a variable can
//! supply any value (`port: ${PG_PORT}` becomes a number). References in YAML
//! comments are left alone, and `$${` writes a literal `${`. A reference to an
//! unset variable without a default is an error naming it and its position;
//! every such reference is reported, not only the first.

use super::tree::Pos;

/// One unresolved reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Missing {
    pub(crate) at: Pos,
    pub(crate) message: String,
    pub(crate) help: String,
}

/// Replace every reference in `text` using `lookup`.
pub(crate) fn substitute(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<Missing>> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let comment = comment_start(line);
        let (body, rest) = line.split_at(comment.unwrap_or(line.len()));
        substitute_line(body, index as u64 + 1, &lookup, &mut out, &mut missing);
        out.push_str(rest);
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

fn substitute_line(
    line: &str,
    number: u64,
    lookup: &impl Fn(&str) -> Option<String>,
    out: &mut String,
    missing: &mut Vec<Missing>,
) {
    let mut rest = line;
    let mut column = 1u64;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        column += rest[..at].chars().count() as u64;
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
            column += 3;
            continue;
        }
        if !tail.starts_with("${") {
            out.push('$');
            rest = &tail[1..];
            column += 1;
            continue;
        }
        let Some(end) = tail.find('}') else {
            missing.push(Missing {
                at: Pos {
                    line: number,
                    column,
                },
                message: "`${` is not closed with `}`".into(),
                help: "close it, or write `$${` for a literal `${`".into(),
            });
            out.push_str(tail);
            return;
        };
        let inner = &tail[2..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        let name = name.trim();
        if !valid_name(name) {
            missing.push(Missing {
                at: Pos {
                    line: number,
                    column,
                },
                message: format!("`${{{inner}}}` is not a valid variable reference"),
                help: "variable names are letters, digits and `_`".into(),
            });
        } else {
            match (lookup(name), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => missing.push(Missing {
                    at: Pos {
                        line: number,
                        column,
                    },
                    message: format!("environment variable `{name}` is not set"),
                    help: format!("set it, or write `${{{name}:-default}}`"),
                }),
            }
        }
        column += tail[..=end].chars().count() as u64;
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Byte index where a YAML comment starts on `line`: a `#` at the start or
/// after whitespace, outside single- and double-quoted scalars.
fn comment_start(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (None, '#') if previous.is_whitespace() => return Some(i),
            (None, '\'' | '"') if previous.is_whitespace() || ":[{,-".contains(previous) => {
                quote = Some(c)
            }
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some('\''), '\'') if chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        previous = c;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.local".into()),
            "PORT" => Some("5432".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_values_and_defaults() {
        let text =
            "host: ${HOST}\nport: ${PORT}\nuser: ${USER_X:-postgres}\nempty: \"${NONE:-}\"\n";
        assert_eq!(
            substitute(text, env).unwrap_or_default(),
            "host: db.local\nport: 5432\nuser: postgres\nempty: \"\"\n"
        );
    }

    #[test]
    fn reports_every_missing_variable_with_its_position() {
        let err = substitute("a: ${NOPE}\nb: x ${ALSO_NOPE} ${HOST}\n", env)
            .err()
            .unwrap_or_default();
        assert_eq!(err.len(), 2);
        assert_eq!(err[0].at, Pos { line: 1, column: 4 });
        assert!(err[0].message.contains("`NOPE` is not set"));
        assert_eq!(err[1].at, Pos { line: 2, column: 6 });
    }

    #[test]
    fn leaves_comments_escapes_and_lone_dollars_alone() {
        let text =
            "# password: ${SECRET}\npw: \"a#b ${HOST}\" # ${NOPE}\nprice: $5\nlit: $${HOST}\n";
        assert_eq!(
            substitute(text, env).unwrap_or_default(),
            "# password: ${SECRET}\npw: \"a#b db.local\" # ${NOPE}\nprice: $5\nlit: ${HOST}\n"
        );
    }

    #[test]
    fn rejects_bad_references() {
        let err = substitute("a: ${1X}\nb: ${OPEN\n", env)
            .err()
            .unwrap_or_default();
        assert!(err[0].message.contains("not a valid variable reference"));
        assert!(err[1].message.contains("not closed"));
    }
}
