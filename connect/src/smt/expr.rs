//! The filter expression language: [`Expr`].
//!
//! Its reference is the documentation of [`Expr`], which is also the text
//! of [`EXPR_GRAMMAR`](crate::smt::EXPR_GRAMMAR) and of the page
//! `filter-expressions.md` of the generated reference (`rivven-connect docs`).
//!
//! Parse errors name the column:
//!
//! ```
//! use rivven_connect::smt::Expr;
//! use rivven_connect::SourceEvent;
//! use serde_json::json;
//!
//! let expr = Expr::parse("total >= 100 and status != 'cancelled'").unwrap();
//! assert!(expr.matches(&SourceEvent::record("orders", json!({"total": 120, "status": "paid"}))));
//! assert!(!expr.matches(&SourceEvent::record("orders", json!({"total": 99.5}))));
//!
//! let err = Expr::parse("total >= and status = 'x'").unwrap_err();
//! assert_eq!(err.column, 10);
//! assert_eq!(err.to_string(), "column 10: expected a field or a value, found the keyword `and` (quote a field of that name in backticks)");
//! ```

mod eval;
mod lexer;
mod parser;

use std::fmt;

use crate::event::SourceEvent;

/// The reference text of the expression language (Markdown): the
/// documentation of [`Expr`] and the `filter-expressions.md` page of the
/// generated reference both come from it.
pub const EXPR_GRAMMAR: &str = include_str!("expr/grammar.md");

/// A parse error: what is wrong and where (1-based column, in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ExprError {
    /// Column of the offending token.
    pub column: usize,
    /// What was expected or found.
    pub message: String,
}

impl ExprError {
    fn new(column: usize, message: impl Into<String>) -> Self {
        Self {
            column,
            message: message.into(),
        }
    }
}

/// A parsed filter expression, evaluated per event without allocating.
///
#[doc = include_str!("expr/grammar.md")]
#[derive(Clone)]
pub struct Expr {
    text: String,
    root: parser::Node,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.text)
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Expr {
    /// Parses `text`; the error names the column of the problem.
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        let tokens = lexer::tokenize(text)?;
        let root = parser::Parser::new(tokens).parse()?;
        Ok(Self {
            text: text.to_string(),
            root,
        })
    }

    /// Whether `event` satisfies the expression.
    pub fn matches(&self, event: &SourceEvent) -> bool {
        eval::eval(&self.root, event)
    }

    /// The row fields the expression reads that `event` does not have (a
    /// missing field reads as `null`). A bare word is a field, so in
    /// `country = NO` the unquoted `NO` shows up here when the event has no
    /// field `NO`: the `filter` transform warns about them once.
    ///
    /// ```
    /// use rivven_connect::smt::Expr;
    /// use rivven_connect::SourceEvent;
    /// use serde_json::json;
    ///
    /// let expr = Expr::parse("country = NO").unwrap();
    /// let event = SourceEvent::record("users", json!({"country": "NO"}));
    /// assert_eq!(expr.missing_fields(&event), vec!["NO".to_string()]);
    /// assert!(Expr::parse("country = 'NO'").unwrap().missing_fields(&event).is_empty());
    /// ```
    pub fn missing_fields(&self, event: &SourceEvent) -> Vec<String> {
        let mut out = Vec::new();
        eval::missing_row_fields(&self.root, event, &mut out);
        out
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn is(expr: &str, data: serde_json::Value) -> bool {
        Expr::parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .matches(&SourceEvent::record("orders", data))
    }

    #[test]
    fn comparisons_and_logic() {
        let row = json!({"total": 120, "status": "paid", "qty": 2, "vip": true, "n": null,
                         "address": {"city": "Oslo"}, "tags": ["a", "vip"], "price": "19.90"});
        assert!(is("total >= 100 and status != 'cancelled'", row.clone()));
        assert!(is("total == 120.0", row.clone()));
        assert!(is("total > 119.5 && qty < 3", row.clone()));
        assert!(is("not (total < 100) or status = 'x'", row.clone()));
        assert!(is("!vip = false", row.clone()));
        assert!(is("vip", row.clone()));
        assert!(!is("status", row.clone()));
        assert!(is(
            "n = null and missing = null and missing != 0",
            row.clone()
        ));
        assert!(is(
            "address.city = \"Oslo\" and value.address.city = 'Oslo'",
            row.clone()
        ));
        assert!(is(
            "price > 10 and price = 19.9 and price < '2'",
            row.clone()
        ));
        assert!(!is("status > 5 or status < 5", row.clone()));
        assert!(is("a = 1 or b = 2 or total = 120", row.clone()));
        assert!(is("STATUS = 'x' OR status = 'paid'", row));
    }

    #[test]
    fn lists_text_and_regex() {
        let row = json!({"product": "laptop", "email": "ann@example.com", "tags": ["vip", 3]});
        assert!(is("product in ['laptop', 'phone']", row.clone()));
        assert!(is("product not in ['tablet']", row.clone()));
        assert!(is("tags contains 'vip' and tags contains 3", row.clone()));
        assert!(is(
            "email ends_with '@example.com' and email starts_with 'ann'",
            row.clone()
        ));
        assert!(is(
            "email contains '@' and email not contains '#'",
            row.clone()
        ));
        assert!(is("email matches '^[a-z]+@'", row.clone()));
        assert!(!is("product matches '^x'", row.clone()));
        assert!(is("missing in [null, 1]", row.clone()));
        assert!(!is("product in []", row));
    }

    #[test]
    fn event_fields_and_envelopes() {
        let delete = SourceEvent::cdc_delete("users", json!({"id": 7, "name": "x"}))
            .with_key(json!({"id": 7}));
        let e = |s: &str| {
            Expr::parse(s)
                .unwrap_or_else(|err| panic!("{err}"))
                .matches(&delete)
        };
        assert!(e(
            "$op = 'd' and id = 7 and $key.id = 7 and $stream = 'users'"
        ));
        assert!(e(
            "$event_type = 'delete' and $data.after = null and $data.before.name = 'x'"
        ));
        assert!(e("$namespace = null"));
        let kv = SourceEvent::record("kv", json!({"key": "k", "value": 5}));
        assert!(Expr::parse("value = 5 and key = 'k'")
            .map(|x| x.matches(&kv))
            .unwrap_or(false));
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases = [
            ("", 1, "empty"),
            ("total >", 8, "expected a field or a value"),
            ("total > 1 status = 2", 11, "expected `and`, `or`"),
            ("(a = 1", 7, "expected `)`"),
            ("a in 'x'", 6, "expected `[`"),
            ("a in [b]", 7, "literals only"),
            ("a in [1 2]", 9, "expected `,` or `]`"),
            ("a matches b", 11, "quoted regular expression"),
            ("a matches '('", 11, "invalid regular expression"),
            ("a not = 1", 7, "after `not`"),
            ("$nope = 1", 1, "unknown `$nope`"),
            ("a = 'open", 5, "unterminated string"),
            ("a ~ 1", 3, "unexpected character `~`"),
        ];
        for (text, column, needle) in cases {
            let err = Expr::parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} parsed"));
            assert_eq!(err.column, column, "{text:?}: {err}");
            assert!(err.message.contains(needle), "{text:?}: {err}");
        }
        let deep = format!("{}a = 1{}", "(".repeat(100), ")".repeat(100));
        assert!(Expr::parse(&deep).is_err_and(|e| e.message.contains("nests deeper")));
    }
}
