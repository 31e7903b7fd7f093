//! Finding the line whose indentation is wrong, when the YAML parser only
//! notices the problem later (at the next key, or at the end of the block).

use super::tree::Pos;

/// Where the user most likely went wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Culprit {
    /// The line (and its first character, or the unclosed bracket).
    pub(crate) at: Pos,
    /// What is wrong with it.
    pub(crate) help: String,
}

/// The line up to `error_line` (the line the parser reported) that most
/// likely holds the mistake: the first whose indentation breaks the pattern
/// of the lines above it (deeper than the line before without that line
/// opening a block, or back to a level no enclosing block has), or a `{`/`[`
/// still open when a line comes back to the block's indentation. Comments,
/// block scalars and the inside of flow collections are skipped; `None`
/// when every line up to there is consistent.
///
/// serde-saphyr reports a wrongly indented block key at its own line, but
/// an unclosed flow collection only at the next block key.
pub(crate) fn culprit(text: &str, error_line: u64) -> Option<Culprit> {
    // Open blocks: the indentation of their keys (or `-` items).
    let mut open: Vec<usize> = vec![0];
    // The previous line opens a block (`key:` with nothing after it, or `- `).
    let mut opens = false;
    let mut flow_depth = 0usize;
    // The outermost unclosed bracket, and the indentation of its line.
    let mut flow_start: Option<(Pos, char, usize)> = None;
    // Inside a block scalar (`key: |`), deeper than this.
    let mut scalar_above: Option<usize> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let number = u64::try_from(index + 1).ok()?;
        if number > error_line {
            break;
        }
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if let Some(parent) = scalar_above {
            if indent > parent {
                continue;
            }
            scalar_above = None;
        }
        let code = strip_comment(content);
        if flow_depth > 0 {
            if let Some((at, bracket, opener_indent)) = flow_start {
                if indent <= opener_indent {
                    let close = if bracket == '{' { '}' } else { ']' };
                    return Some(Culprit {
                        at,
                        help: format!(
                            "the `{bracket}` on line {} is never closed (a `{close}` is missing)",
                            at.line
                        ),
                    });
                }
            }
            flow_depth = flow_depth_after(flow_depth, code);
            continue;
        }
        let top = open.last().copied().unwrap_or(0);
        if indent > top && !opens {
            return Some(Culprit {
                at: at(number, indent),
                help: format!(
                    "line {number} is indented by {indent} spaces, deeper than the key above it \
                     ({top}), which has a value"
                ),
            });
        }
        if indent > top {
            open.push(indent);
        } else if indent < top {
            let below = open.iter().copied().filter(|&l| l < indent).max();
            let above = open.iter().copied().filter(|&l| l > indent).min();
            while open.last().is_some_and(|&l| l > indent) {
                open.pop();
            }
            if open.last() != Some(&indent) {
                let levels = [below, above].into_iter().flatten().map(|l| l.to_string());
                return Some(Culprit {
                    at: at(number, indent),
                    help: format!(
                        "line {number} is indented by {indent} space{}, which lines up with no \
                         enclosing key ({})",
                        if indent == 1 { "" } else { "s" },
                        levels.collect::<Vec<_>>().join(" or ")
                    ),
                });
            }
        }
        // `- key: value`: the item's keys are indented past the dash.
        let mut item = code;
        let mut item_indent = indent;
        while let Some(rest) = item.strip_prefix('-') {
            if !(rest.is_empty() || rest.starts_with(' ')) {
                break;
            }
            let trimmed = rest.trim_start_matches(' ');
            item_indent += 1 + rest.len() - trimmed.len();
            item = trimmed;
            if !item.is_empty() {
                open.push(item_indent);
            }
        }
        let ends_key = item.ends_with(':');
        let value = match item.split_once(": ") {
            Some((_, v)) => v.trim_start(),
            None if ends_key => "",
            None => item,
        };
        opens = ends_key || item.is_empty();
        if value.starts_with('|') || value.starts_with('>') {
            scalar_above = Some(item_indent);
        }
        flow_depth = flow_depth_after(0, value);
        if flow_depth > 0 {
            let offset = line.len() - value.len();
            let bracket = value.chars().next().unwrap_or('{');
            flow_start = Some((at(number, offset), bracket, indent));
        }
    }
    None
}

fn at(line: u64, indent: usize) -> Pos {
    Pos {
        line,
        column: u64::try_from(indent + 1).unwrap_or(u64::MAX),
    }
}

/// The line without a trailing ` # comment` (outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && previous == ' ' => return line[..i].trim_end(),
            None => {}
        }
        previous = c;
    }
    line.trim_end()
}

/// How many flow collections (`{`, `[`) are still open after `text`.
fn flow_depth_after(mut depth: usize, text: &str) -> usize {
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '{' | '[' => depth += 1,
                '}' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str, error_line: u64) -> Option<(u64, u64, String)> {
        culprit(text, error_line).map(|c| (c.at.line, c.at.column, c.help))
    }

    #[test]
    fn a_key_back_to_a_level_no_block_has() {
        let text = "sources:\n  gen:\n    connector: datagen\n   config: {}\nsinks: {}\n";
        assert_eq!(
            found(text, 5),
            Some((
                4,
                4,
                "line 4 is indented by 3 spaces, which lines up with no enclosing key (2 or 4)"
                    .into()
            ))
        );
    }

    #[test]
    fn a_key_deeper_than_its_sibling() {
        let text = "a:\n  b: 1\n    c: 2\n";
        let help =
            "line 3 is indented by 4 spaces, deeper than the key above it (2), which has a value";
        assert_eq!(found(text, 3), Some((3, 5, help.into())));
    }

    #[test]
    fn an_unclosed_flow_collection_is_found_where_it_opens() {
        let text = "a:\n  b: { c: 1,\n       d: 2\ne: 3\n";
        let help = "the `{` on line 2 is never closed (a `}` is missing)";
        assert_eq!(found(text, 4), Some((2, 6, help.into())));
        let text = "a:\n  - [1, 2\n  - 3\n";
        assert_eq!(found(text, 3).map(|f| (f.0, f.1)), Some((2, 5)));
    }

    #[test]
    fn consistent_documents_have_no_culprit() {
        let text = "a:\n  b: 1\n  list:\n    - x: 1\n      y: 2\n    - z\n  flow: { p: 1,\n      q: 2 }\n  text: |\n     free\n       form\n  # comment\n        # deep comment\n  s: \"x # y\" # note\nc:\n- 1\n- k: v\n  j: w\n";
        assert_eq!(found(text, 99), None);
    }

    #[test]
    fn only_lines_up_to_the_reported_one() {
        let text = "a:\n  b: 1\n c: 2\n";
        assert_eq!(found(text, 2), None);
        assert_eq!(found(text, 3).map(|f| f.0), Some(3));
    }
}
