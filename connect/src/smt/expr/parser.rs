//! Recursive-descent parser: tokens → [`Node`] tree.
//!
//! ```text
//! expr       := and (('or' | '||') and)*
//! and        := unary (('and' | '&&') unary)*
//! unary      := ('not' | '!') unary | '(' expr ')' | predicate
//! predicate  := operand [ cmp operand
//!                       | ['not'] 'in' '[' literal (',' literal)* ']'
//!                       | ['not'] ('contains' | 'starts_with' | 'ends_with') operand
//!                       | ['not'] 'matches' string ]
//! operand    := field | string | number | 'true' | 'false' | 'null'
//! ```

use regex::Regex;
use serde_json::Value;

use super::lexer::{CmpOp, Spanned, Tok};
use super::ExprError;
use crate::smt::FieldPath;

/// How deeply `not`/parentheses may nest (keeps hostile input from exhausting the stack).
const MAX_DEPTH: usize = 64;

/// Where a field reference looks.
#[derive(Debug, Clone)]
pub(crate) enum Field {
    /// A path in the row (`after`/`before` of a CDC envelope, else `data`).
    Row(FieldPath),
    /// `$data[.path]`: the raw payload, envelope included.
    Data(Option<FieldPath>),
    /// `$key[.path]`: the event key.
    Key(Option<FieldPath>),
    /// `$stream`.
    Stream,
    /// `$namespace`.
    Namespace,
    /// `$op`: the CDC operation (`c`, `u`, `d`, `r`, `t`).
    Op,
    /// `$event_type`: `record`, `insert`, `update`, …
    EventType,
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Literal(Value),
    Field(Field),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Compare(Operand, CmpOp, Operand),
    In(Operand, Vec<Value>),
    Text(Operand, TextOp, Operand),
    Matches(Operand, Box<Regex>),
    /// A lone operand: true when it is the boolean `true`.
    Truthy(Operand),
}

pub(crate) struct Parser {
    tokens: Vec<Spanned>,
    pos: usize,
    depth: usize,
}

impl Parser {
    pub(crate) fn new(tokens: Vec<Spanned>) -> Self {
        Self {
            tokens,
            pos: 0,
            depth: 0,
        }
    }

    pub(crate) fn parse(mut self) -> Result<Node, ExprError> {
        if matches!(self.peek(), Tok::Eof) {
            return Err(ExprError::new(1, "the expression is empty"));
        }
        let node = self.or()?;
        match self.peek() {
            Tok::Eof => Ok(node),
            other => Err(self.error(format!(
                "expected `and`, `or` or the end of the expression, found {}",
                other.describe()
            ))),
        }
    }

    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |(t, _)| t)
    }

    fn column(&self) -> usize {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .map_or(1, |(_, c)| *c)
    }

    fn advance(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        tok
    }

    fn error(&self, message: impl Into<String>) -> ExprError {
        ExprError::new(self.column(), message)
    }

    fn at_keyword(&self, word: &str) -> bool {
        self.peek().keyword().as_deref() == Some(word)
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        let mut items = vec![self.and()?];
        while self.at_keyword("or") || matches!(self.peek(), Tok::OrOr) {
            self.advance();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Node::Or(items)
        })
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let mut items = vec![self.unary()?];
        while self.at_keyword("and") || matches!(self.peek(), Tok::AndAnd) {
            self.advance();
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Node::And(items)
        })
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!(
                "the expression nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let node = if self.at_keyword("not") || matches!(self.peek(), Tok::Bang) {
            self.advance();
            Node::Not(Box::new(self.unary()?))
        } else if matches!(self.peek(), Tok::LParen) {
            self.advance();
            let inner = self.or()?;
            if !matches!(self.peek(), Tok::RParen) {
                return Err(self.error(format!("expected `)`, found {}", self.peek().describe())));
            }
            self.advance();
            inner
        } else {
            self.predicate()?
        };
        self.depth -= 1;
        Ok(node)
    }

    fn predicate(&mut self) -> Result<Node, ExprError> {
        let left = self.operand()?;
        if let Tok::Cmp(op) = self.peek() {
            let op = *op;
            self.advance();
            let right = self.operand()?;
            return Ok(Node::Compare(left, op, right));
        }
        // After an operand, `not` can only negate the predicate keyword that follows.
        let negated = self.at_keyword("not");
        if negated {
            self.advance();
        }
        let node = match self.peek().keyword().as_deref() {
            Some("in") => {
                self.advance();
                Node::In(left, self.list()?)
            }
            Some(word @ ("contains" | "starts_with" | "ends_with")) => {
                let op = match word {
                    "contains" => TextOp::Contains,
                    "starts_with" => TextOp::StartsWith,
                    _ => TextOp::EndsWith,
                };
                self.advance();
                Node::Text(left, op, self.operand()?)
            }
            Some("matches") => {
                self.advance();
                let column = self.column();
                let Tok::Str(pattern) = self.advance() else {
                    return Err(ExprError::new(
                        column,
                        "`matches` needs a quoted regular expression, e.g. matches '^[a-z]+$'",
                    ));
                };
                let regex = Regex::new(&pattern).map_err(|e| {
                    ExprError::new(column, format!("invalid regular expression: {e}"))
                })?;
                Node::Matches(left, Box::new(regex))
            }
            _ if negated => {
                return Err(self.error(format!(
                    "expected `in`, `contains`, `starts_with`, `ends_with` or `matches` after `not`, found {}",
                    self.peek().describe()
                )))
            }
            _ => return Ok(Node::Truthy(left)),
        };
        Ok(if negated {
            Node::Not(Box::new(node))
        } else {
            node
        })
    }

    fn list(&mut self) -> Result<Vec<Value>, ExprError> {
        if !matches!(self.peek(), Tok::LBracket) {
            return Err(self.error(format!(
                "expected `[` to start the list after `in`, found {}",
                self.peek().describe()
            )));
        }
        self.advance();
        let mut items = Vec::new();
        if matches!(self.peek(), Tok::RBracket) {
            self.advance();
            return Ok(items);
        }
        loop {
            match self.operand()? {
                Operand::Literal(v) => items.push(v),
                Operand::Field(_) => {
                    self.pos = self.pos.saturating_sub(1);
                    return Err(self.error("a list after `in` holds literals only (strings, numbers, true, false, null)"));
                }
            }
            match self.advance() {
                Tok::Comma => {}
                Tok::RBracket => return Ok(items),
                other => {
                    self.pos = self.pos.saturating_sub(1);
                    return Err(self.error(format!(
                        "expected `,` or `]` in the list, found {}",
                        other.describe()
                    )));
                }
            }
        }
    }

    fn operand(&mut self) -> Result<Operand, ExprError> {
        let column = self.column();
        let tok = self.advance();
        let keyword = tok.keyword();
        match tok {
            Tok::Str(s) => Ok(Operand::Literal(Value::String(s))),
            Tok::Num(n) => Ok(Operand::Literal(Value::Number(n))),
            Tok::Word { text, .. } => match keyword.as_deref() {
                Some("true") => Ok(Operand::Literal(Value::Bool(true))),
                Some("false") => Ok(Operand::Literal(Value::Bool(false))),
                Some("null") => Ok(Operand::Literal(Value::Null)),
                Some(
                    kw @ ("and" | "or" | "not" | "in" | "contains" | "starts_with" | "ends_with"
                    | "matches"),
                ) => Err(ExprError::new(
                    column,
                    format!("expected a field or a value, found the keyword `{kw}` (quote a field of that name in backticks)"),
                )),
                _ => field(&text).map(Operand::Field).map_err(|m| ExprError::new(column, m)),
            },
            other => Err(ExprError::new(
                column,
                format!("expected a field or a value, found {}", other.describe()),
            )),
        }
    }
}

fn field(text: &str) -> Result<Field, String> {
    let Some(special) = text.strip_prefix('$') else {
        return FieldPath::parse(text).map(Field::Row);
    };
    let (root, rest) = match special.split_once('.') {
        Some((root, rest)) => (root, Some(FieldPath::parse(rest)?)),
        None => (special, None),
    };
    match (root, rest) {
        ("data", rest) => Ok(Field::Data(rest)),
        ("key", rest) => Ok(Field::Key(rest)),
        ("stream", None) => Ok(Field::Stream),
        ("namespace", None) => Ok(Field::Namespace),
        ("op", None) => Ok(Field::Op),
        ("event_type", None) => Ok(Field::EventType),
        (root, _) => Err(format!(
            "unknown `${root}`: use `$data`, `$key` (each with an optional `.path`), `$stream`, `$namespace`, `$op` or `$event_type`"
        )),
    }
}
