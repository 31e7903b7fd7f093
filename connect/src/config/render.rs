//! [`ConfigError::render`]: each problem with the source line it is on and a
//! caret under the offending text (on `annotate-snippets`), and the helpers
//! that put positions into the text as the user wrote it.

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use super::diagnostics::{ConfigError, Diagnostic};
use super::tree::Pos;

/// The configuration text as written, and where secrets are written in it
/// (those scalars are shown as `*`s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    text: String,
    secrets: Vec<Pos>,
}

impl Source {
    pub(crate) fn new(text: String, secrets: Vec<Pos>) -> Self {
        Self { text, secrets }
    }

    /// Line `n` (1-based) without its line break.
    fn line(&self, n: u64) -> Option<&str> {
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        self.text
            .split('\n')
            .nth(index)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
    }

    /// Line `n` as shown, with secrets masked, and the byte range of the
    /// caret under `column` in it.
    fn shown(&self, n: u64, column: u64) -> Option<(String, std::ops::Range<usize>)> {
        let written = self.line(n)?;
        // A column past the end (the parser's "expected more" errors): the
        // line is padded to it, so the caret and the header show it.
        let past = usize::try_from(column.saturating_sub(1))
            .unwrap_or(0)
            .saturating_sub(written.chars().count());
        let padded = format!("{written}{}", " ".repeat(past));
        let line = padded.as_str();
        let start = byte_of_column(line, column);
        let caret = start..start + token_len(&line[start..]);
        let mut masked: Vec<std::ops::Range<usize>> = self
            .secrets
            .iter()
            .filter(|s| s.line == n)
            .map(|s| byte_of_column(line, s.column))
            .filter(|&b| b < line.len() && !line[b..].starts_with("${"))
            .map(|b| b..b + token_len(&line[b..]))
            .filter(|r| !r.is_empty())
            .collect();
        masked.sort_by_key(|r| r.start);
        let mut kept: Vec<std::ops::Range<usize>> = Vec::new();
        for r in masked {
            if kept.last().is_none_or(|k| r.start >= k.end) {
                kept.push(r);
            }
        }
        let mut out = String::with_capacity(line.len());
        let mut from = 0;
        // A secret is shown as one `*` per character, so the columns of the
        // line (and the header's) stay those of the file.
        let mask = |r: &std::ops::Range<usize>| line[r.clone()].chars().count();
        for r in &kept {
            out.push_str(&line[from..r.start]);
            out.push_str(&"*".repeat(mask(r)));
            from = r.end;
        }
        out.push_str(&line[from..]);
        // Where byte `b` of the line is in the shown line; inside a masked
        // value, the mask's start (or its end, for the caret's end).
        let place = |b: usize, end: bool| {
            let (mut removed, mut added) = (0, 0);
            for r in &kept {
                if b >= r.end {
                    removed += r.len();
                    added += mask(r);
                } else if b > r.start {
                    return r.start - removed + added + if end { mask(r) } else { 0 };
                } else {
                    break;
                }
            }
            b - removed + added
        };
        Some((out, place(caret.start, false)..place(caret.end, true)))
    }
}

/// The byte offset of 1-based character `column` in `line` (its end when
/// the column is past it).
fn byte_of_column(line: &str, column: u64) -> usize {
    usize::try_from(column.saturating_sub(1))
        .ok()
        .and_then(|c| line.char_indices().nth(c))
        .map_or(line.len(), |(i, _)| i)
}

/// The length in bytes of the YAML token `rest` starts with: a quoted
/// scalar with its quotes, a `${VAR}` reference, a key or plain scalar up to
/// `: `, `,`, `]`, `}` or a comment, or one bracket.
fn token_len(rest: &str) -> usize {
    let Some(first) = rest.chars().next() else {
        return 0;
    };
    if first == '"' || first == '\'' {
        let mut escaped = false;
        let mut chars = rest.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if first == '"' && !escaped => escaped = true,
                // `''` is a quote inside a single-quoted scalar
                '\'' if first == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                    chars.next();
                }
                c if c == first && !escaped => return i + c.len_utf8(),
                _ => escaped = false,
            }
        }
        return rest.len();
    }
    if rest.starts_with("${") {
        return rest.find('}').map_or(rest.len(), |i| i + 1);
    }
    if matches!(first, '{' | '[' | '-' | '}' | ']' | ',' | ':') {
        return first.len_utf8();
    }
    let bytes = rest.as_bytes();
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        let next = bytes.get(i + 1).copied();
        let stop = match c {
            ',' | ']' | '}' => true,
            ':' => next.is_none_or(|b| b == b' ' || b == b'\t'),
            '#' => i > 0 && matches!(bytes[i - 1], b' ' | b'\t'),
            _ => false,
        };
        if stop {
            end = i;
            break;
        }
    }
    rest[..end].trim_end().len().max(first.len_utf8().min(end))
}

/// The position in `original` of `at`, a position in `substituted` (the
/// same text with `${VAR}` references replaced): columns after a reference
/// on the same line move by the difference in length, a column inside one
/// points at its start. Lines are kept when the texts have as many lines.
pub(crate) fn to_original(original: &str, substituted: &str, at: Pos) -> Pos {
    if original.split('\n').count() != substituted.split('\n').count() {
        return at;
    }
    let index = usize::try_from(at.line.saturating_sub(1)).unwrap_or(usize::MAX);
    let (Some(orig), Some(subst)) = (
        original.split('\n').nth(index),
        substituted.split('\n').nth(index),
    ) else {
        return at;
    };
    if orig == subst {
        return at;
    }
    let o: Vec<char> = orig.chars().collect();
    let s: Vec<char> = subst.chars().collect();
    let prefix = o.iter().zip(&s).take_while(|(a, b)| a == b).count();
    let suffix = o[prefix..]
        .iter()
        .rev()
        .zip(s[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let column = usize::try_from(at.column.saturating_sub(1)).unwrap_or(usize::MAX);
    let mapped = if column < prefix {
        column
    } else if column >= s.len() - suffix {
        column - (s.len() - suffix) + (o.len() - suffix)
    } else {
        prefix
    };
    Pos {
        line: at.line,
        column: u64::try_from(mapped).map_or(at.column, |c| c + 1),
    }
}

/// The header of a diagnostic: "`path`: message".
fn title(d: &Diagnostic) -> String {
    if d.path.is_empty() {
        d.message.clone()
    } else {
        format!("`{}`: {}", d.path, d.message)
    }
}

pub(crate) fn render(e: &ConfigError, source: Option<&Source>, styled: bool) -> String {
    let renderer = if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in &e.diagnostics {
        let title = title(d);
        let shown =
            d.at.and_then(|at| Some((at, source?.shown(at.line, at.column)?)));
        let mut group = Group::with_title(Level::ERROR.primary_title(title.as_str()));
        group = match (&shown, d.at) {
            (Some((at, (line, caret))), _) => group.element(
                Snippet::source(line.as_str())
                    .path(e.file.as_deref().unwrap_or(UNNAMED))
                    .line_start(usize::try_from(at.line).unwrap_or(usize::MAX))
                    .annotation(AnnotationKind::Primary.span(caret.clone())),
            ),
            (None, Some(at)) => group.element(origin(e.file.as_deref(), at)),
            // The file is named in the summary.
            (None, None) => group,
        };
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    let summary = Level::ERROR.primary_title(e.summary());
    out.push_str(&renderer.render(&[Group::with_title(summary)]));
    out
}

/// The file name shown for configuration text not read from a file.
const UNNAMED: &str = "<configuration>";

fn origin(file: Option<&str>, at: Pos) -> Origin<'_> {
    Origin::path(file.unwrap_or(UNNAMED))
        .line(usize::try_from(at.line).unwrap_or(usize::MAX))
        .char_column(usize::try_from(at.column).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str, at: Option<(u64, u64)>, help: Option<&str>) -> ConfigError {
        let at = at.map(|(line, column)| Pos { line, column });
        let mut e = ConfigError::new(vec![
            Diagnostic::new("a.b", at, "went wrong").with_help(help.map(str::to_string))
        ])
        .with_source(text);
        e.file = Some("c.yaml".into());
        e
    }

    const HELP: Option<&str> = Some("did you mean `c`?");

    #[test]
    fn line_one_with_a_caret_under_the_token_and_the_help() {
        let e = error("name: orderz # typo\nb: 2\n", Some((1, 7)), HELP);
        let expected = "\
error: `a.b`: went wrong
 --> c.yaml:1:7
  |
1 | name: orderz # typo
  |       ^^^^^^
  |
  = help: did you mean `c`?

error: invalid configuration `c.yaml`: 1 problem";
        assert_eq!(e.render(), expected);
    }

    #[test]
    fn multi_byte_characters_count_as_one_column() {
        let e = error("é: ünïcødé value\n", Some((1, 4)), None);
        let expected = "\
error: `a.b`: went wrong
 --> c.yaml:1:4
  |
1 | é: ünïcødé value
  |    ^^^^^^^^^^^^^

error: invalid configuration `c.yaml`: 1 problem";
        assert_eq!(e.render(), expected);
    }

    #[test]
    fn a_tab_before_the_column_keeps_the_caret_under_it() {
        let e = error("a:\tx\n", Some((1, 4)), None);
        let expected = "\
error: `a.b`: went wrong
 --> c.yaml:1:4
  |
1 | a:    x
  |       ^

error: invalid configuration `c.yaml`: 1 problem";
        assert_eq!(e.render(), expected);
    }

    #[test]
    fn a_column_past_the_end_of_the_line() {
        let e = error("key: v\n", Some((1, 9)), None);
        let expected = "\
error: `a.b`: went wrong
 --> c.yaml:1:9
  |
1 | key: v  \n  |         ^

error: invalid configuration `c.yaml`: 1 problem";
        assert_eq!(e.render(), expected);
    }

    #[test]
    fn the_last_line_and_the_end_of_the_text() {
        let e = error("a: 1\nb: [2", Some((2, 4)), None);
        assert!(
            e.render().contains("2 | b: [2\n  |    ^\n"),
            "{}",
            e.render()
        );
        let e = error("a: 1\nb: 2\n", Some((3, 1)), None);
        assert!(
            e.render().contains(" --> c.yaml:3:1\n  |\n3 |\n  | ^\n"),
            "{}",
            e.render()
        );
        // A line the text does not have: the position alone.
        let e = error("a: 1\n", Some((7, 2)), None);
        assert!(
            e.render()
                .starts_with("error: `a.b`: went wrong\n--> c.yaml:7:2\n"),
            "{}",
            e.render()
        );
    }

    #[test]
    fn without_text_or_position_the_problem_alone() {
        let mut e = ConfigError::new(vec![
            Diagnostic::new("", None, "cannot read the file"),
            Diagnostic::new("x", Some(Pos { line: 2, column: 3 }), "bad"),
        ]);
        assert_eq!(
            e.render(),
            "error: `x`: bad\n--> <configuration>:2:3\n\nerror: cannot read the file\n\nerror: invalid configuration: 2 problems"
        );
        e.file = Some("c.yaml".into());
        assert!(e
            .render()
            .ends_with("error: invalid configuration `c.yaml`: 2 problems"));
        assert!(!e.render_styled().is_empty());
        assert!(!e.render().contains('\u{1b}'), "plain has no colour codes");
    }

    #[test]
    fn secrets_on_the_line_are_masked_and_columns_kept() {
        let text = "db: { password: hunter2, port: 70000, token: ${TOKEN} }\n";
        let secrets = vec![
            Pos {
                line: 1,
                column: 17,
            },
            Pos {
                line: 1,
                column: 46,
            },
        ];
        let mut e = ConfigError::new(vec![Diagnostic::new(
            "db.port",
            Some(Pos {
                line: 1,
                column: 32,
            }),
            "too big",
        )])
        .with_source_redacted(text.into(), secrets.clone());
        e.file = Some("c.yaml".into());
        let shown = e.render();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains(" --> c.yaml:1:32\n  |\n1 | db: { password: *******, port: 70000, token: ${TOKEN} }\n  |                                ^^^^^\n"),
            "{shown}"
        );
        // The caret on the secret itself covers the mask.
        let source = Source::new(text.into(), secrets);
        let (line, caret) = source.shown(1, 17).unwrap_or_default();
        assert_eq!(&line[caret], "*******");
    }

    #[test]
    fn positions_move_back_to_the_text_as_written() {
        let original = "a: ${X}, b: 1\nc: ${Y}\n";
        let substituted = "a: long value, b: 1\nc: v\n";
        let at = |line, column| Pos { line, column };
        assert_eq!(to_original(original, substituted, at(1, 2)), at(1, 2));
        assert_eq!(
            to_original(original, substituted, at(1, 19)),
            at(1, 13),
            "after"
        );
        assert_eq!(
            to_original(original, substituted, at(1, 8)),
            at(1, 4),
            "inside"
        );
        assert_eq!(to_original(original, substituted, at(2, 4)), at(2, 4));
        // A value with a line break: lines no longer match, left as they are.
        assert_eq!(
            to_original("a: ${X}\nb: 1\n", "a: x\ny\nb: 1\n", at(3, 4)),
            at(3, 4)
        );
    }

    #[test]
    fn tokens_end_where_yaml_ends_them() {
        for (rest, token) in [
            ("conector: datagen", "conector"),
            ("datagen", "datagen"),
            ("orders, max: 1 }", "orders"),
            ("\"a \\\" b\" # c", "\"a \\\" b\""),
            ("'it''s' x", "'it''s'"),
            ("${A:-x} tail", "${A:-x}"),
            ("{ a: 1 }", "{"),
            ("amount > 100 # note", "amount > 100"),
            ("http://x:80/p", "http://x:80/p"),
            ("", ""),
        ] {
            assert_eq!(&rest[..token_len(rest)], token, "{rest}");
        }
    }
}
