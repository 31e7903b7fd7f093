//! Tokens of the filter expression language, each with its 1-based column.

use super::ExprError;

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A field path or keyword as written; `quoted` when it used backticks
    /// (then it is never a keyword).
    Word {
        text: String,
        quoted: bool,
    },
    Str(String),
    Num(serde_json::Number),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Cmp(CmpOp),
    AndAnd,
    OrOr,
    Bang,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word { text, .. } => format!("`{text}`"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Num(n) => format!("number {n}"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Cmp(op) => format!("`{}`", op.symbol()),
            Tok::AndAnd => "`&&`".into(),
            Tok::OrOr => "`||`".into(),
            Tok::Bang => "`!`".into(),
            Tok::Eof => "the end of the expression".into(),
        }
    }

    /// The keyword this token is, lowercased (unquoted single words only).
    pub(crate) fn keyword(&self) -> Option<String> {
        match self {
            Tok::Word {
                text,
                quoted: false,
            } if !text.contains('.') && !text.starts_with('$') => Some(text.to_ascii_lowercase()),
            _ => None,
        }
    }
}

/// A token and the column (1-based, in characters) where it starts.
pub(crate) type Spanned = (Tok, usize);

pub(crate) fn tokenize(input: &str) -> Result<Vec<Spanned>, ExprError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        let two = chars.get(i + 1).copied();
        let (tok, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '=' if two == Some('=') => (Tok::Cmp(CmpOp::Eq), 2),
            '=' => (Tok::Cmp(CmpOp::Eq), 1),
            '!' if two == Some('=') => (Tok::Cmp(CmpOp::Ne), 2),
            '!' => (Tok::Bang, 1),
            '<' if two == Some('>') => (Tok::Cmp(CmpOp::Ne), 2),
            '<' if two == Some('=') => (Tok::Cmp(CmpOp::Le), 2),
            '<' => (Tok::Cmp(CmpOp::Lt), 1),
            '>' if two == Some('=') => (Tok::Cmp(CmpOp::Ge), 2),
            '>' => (Tok::Cmp(CmpOp::Gt), 1),
            '&' if two == Some('&') => (Tok::AndAnd, 2),
            '|' if two == Some('|') => (Tok::OrOr, 2),
            '\'' | '"' => string(&chars, i)?,
            c if c.is_ascii_digit() || (c == '-' && two.is_some_and(|d| d.is_ascii_digit())) => {
                number(&chars, i)?
            }
            c if c.is_alphabetic() || c == '_' || c == '$' || c == '`' => word(&chars, i)?,
            other => {
                return Err(ExprError::new(
                    col,
                    format!("unexpected character `{other}`"),
                ))
            }
        };
        out.push((tok, col));
        i += len;
    }
    out.push((Tok::Eof, chars.len() + 1));
    Ok(out)
}

fn string(chars: &[char], start: usize) -> Result<(Tok, usize), ExprError> {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while let Some(&c) = chars.get(i) {
        match c {
            c if c == quote => return Ok((Tok::Str(text), i + 1 - start)),
            '\\' => {
                let escaped = chars
                    .get(i + 1)
                    .copied()
                    .ok_or_else(|| ExprError::new(i + 1, "a `\\` at the end of the expression"))?;
                text.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
                i += 2;
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err(ExprError::new(
        start + 1,
        format!("unterminated string (no closing {quote})"),
    ))
}

fn number(chars: &[char], start: usize) -> Result<(Tok, usize), ExprError> {
    let mut i = start;
    if chars[i] == '-' {
        i += 1;
    }
    let digits = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| c.is_ascii_digit()) {
            *i += 1;
        }
    };
    digits(&mut i);
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
        digits(&mut i);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
            i = j;
            digits(&mut i);
        }
    }
    if chars
        .get(i)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        return Err(ExprError::new(
            i + 1,
            "a number must be followed by a space, an operator or a bracket",
        ));
    }
    let text: String = chars[start..i].iter().collect();
    let number = text
        .parse::<serde_json::Number>()
        .map_err(|e| ExprError::new(start + 1, format!("invalid number `{text}`: {e}")))?;
    Ok((Tok::Num(number), i - start))
}

/// A field path (`a.b.0`, `` a.`odd name` ``, `$key.id`) or a keyword.
fn word(chars: &[char], start: usize) -> Result<(Tok, usize), ExprError> {
    let mut i = start;
    let mut quoted = false;
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    loop {
        match chars.get(i) {
            Some('`') => {
                quoted = true;
                let open = i;
                i += 1;
                while chars.get(i).is_some_and(|c| *c != '`') {
                    i += 1;
                }
                if chars.get(i).is_none() {
                    return Err(ExprError::new(open + 1, "unclosed backtick"));
                }
                i += 1;
            }
            Some(&c) if is_word_char(c) => i += 1,
            _ => break,
        }
        // A dot continues the path when another segment follows it.
        if chars.get(i) == Some(&'.')
            && chars
                .get(i + 1)
                .is_some_and(|c| is_word_char(*c) || *c == '`')
        {
            i += 1;
        } else if !chars.get(i).is_some_and(|c| is_word_char(*c) || *c == '`') {
            break;
        }
    }
    let text: String = chars[start..i].iter().collect();
    Ok((Tok::Word { text, quoted }, i - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    #[test]
    fn operators_words_and_literals() {
        let t = toks("value.amount >= -1.5e2 && a.`b c` <> 'x\\'y'");
        assert_eq!(
            t[0],
            Tok::Word {
                text: "value.amount".into(),
                quoted: false
            }
        );
        assert_eq!(t[1], Tok::Cmp(CmpOp::Ge));
        assert!(matches!(&t[2], Tok::Num(n) if n.as_f64() == Some(-150.0)));
        assert_eq!(t[3], Tok::AndAnd);
        assert!(matches!(&t[4], Tok::Word { quoted: true, .. }));
        assert_eq!(t[5], Tok::Cmp(CmpOp::Ne));
        assert_eq!(t[6], Tok::Str("x'y".into()));
        assert_eq!(t[7], Tok::Eof);
    }

    #[test]
    fn columns_point_at_the_problem() {
        let err = tokenize("a = 'open").err().map(|e| e.column);
        assert_eq!(err, Some(5));
        let err = tokenize("a = 12ab").err().map(|e| e.column);
        assert_eq!(err, Some(7));
        let err = tokenize("a # 1").err().map(|e| e.column);
        assert_eq!(err, Some(3));
    }
}
