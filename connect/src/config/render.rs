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
        let line = self.line(n)?;
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
        for (i, c) in rest.char_indices().skip(1) {
            match c {
                '\\' if first == '"' && !escaped => escaped = true,
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
            (None, None) => match e.file.as_deref() {
                Some(file) => group.element(Origin::path(file)),
                None => group,
            },
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
