//! Evaluates a [`Node`] against an event without allocating.
//!
//! * A missing field reads as `null`.
//! * `=`/`!=`: numbers compare by value (`1 = 1.0`), a number and a numeric
//!   string compare as numbers (PostgreSQL `numeric` arrives as a string),
//!   everything else compares structurally.
//! * `<`, `<=`, `>`, `>=`: numbers (or a number and a numeric string) by value,
//!   two strings lexicographically; any other pair is `false`.
//! * `contains`: substring of a string, or element of an array.
//!   `starts_with`/`ends_with`: strings only. `matches`: the regex finds a match
//!   anywhere in a string (anchor it with `^…$`).

use serde_json::Value;
use std::cmp::Ordering;

use super::lexer::CmpOp;
use super::parser::{Field, Node, Operand, TextOp};
use crate::event::{EventType, SourceEvent};
use crate::smt::path::lookup;
use crate::transforms;

/// A value seen by the evaluator, borrowed from the event or the expression.
#[derive(Clone, Copy)]
enum Val<'a> {
    Json(&'a Value),
    Str(&'a str),
    Missing,
}

impl<'a> Val<'a> {
    fn as_str(self) -> Option<&'a str> {
        match self {
            Val::Json(Value::String(s)) => Some(s),
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    fn is_null(self) -> bool {
        matches!(self, Val::Missing | Val::Json(Value::Null))
    }

    fn json(self) -> Option<&'a Value> {
        match self {
            Val::Json(v) => Some(v),
            _ => None,
        }
    }
}

pub(crate) fn eval(node: &Node, event: &SourceEvent) -> bool {
    match node {
        Node::Or(items) => items.iter().any(|n| eval(n, event)),
        Node::And(items) => items.iter().all(|n| eval(n, event)),
        Node::Not(inner) => !eval(inner, event),
        Node::Compare(l, op, r) => compare(resolve(l, event), *op, resolve(r, event)),
        Node::In(l, list) => {
            let v = resolve(l, event);
            list.iter().any(|item| equal(v, Val::Json(item)))
        }
        Node::Text(l, op, r) => text(resolve(l, event), *op, resolve(r, event)),
        Node::Matches(l, regex) => resolve(l, event)
            .as_str()
            .is_some_and(|s| regex.is_match(s)),
        Node::Truthy(o) => matches!(resolve(o, event), Val::Json(Value::Bool(true))),
    }
}

/// The row fields (`Field::Row`) the expression reads that `event` does not
/// have, in the order written.
pub(crate) fn missing_row_fields(node: &Node, event: &SourceEvent, out: &mut Vec<String>) {
    let mut operand = |o: &Operand| {
        if let Operand::Field(Field::Row(path)) = o {
            if matches!(resolve(o, event), Val::Missing) {
                let name = path.to_string();
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    };
    match node {
        Node::Or(items) | Node::And(items) => {
            for n in items {
                missing_row_fields(n, event, out);
            }
        }
        Node::Not(inner) => missing_row_fields(inner, event, out),
        Node::Compare(l, _, r) | Node::Text(l, _, r) => {
            operand(l);
            operand(r);
        }
        Node::In(o, _) | Node::Matches(o, _) | Node::Truthy(o) => operand(o),
    }
}

fn resolve<'a>(operand: &'a Operand, event: &'a SourceEvent) -> Val<'a> {
    let field = match operand {
        Operand::Literal(v) => return Val::Json(v),
        Operand::Field(f) => f,
    };
    let found = match field {
        Field::Row(path) => {
            let row = transforms::row(event);
            match row.and_then(|r| lookup(r, path.segments())) {
                Some(v) => Some(v),
                // `value.amount` (the Kafka-style spelling) means the row's
                // `amount`, unless the row really has a field named `value`.
                None => match (row, path.segments().split_first()) {
                    (Some(r), Some((first, rest)))
                        if first == "value" && r.get("value").is_none() =>
                    {
                        lookup(r, rest)
                    }
                    _ => None,
                },
            }
        }
        Field::Data(path) => match path {
            Some(p) => lookup(&event.data, p.segments()),
            None => Some(&event.data),
        },
        Field::Key(path) => match (&event.key, path) {
            (Some(key), Some(p)) => lookup(key, p.segments()),
            (Some(key), None) => Some(key),
            (None, _) => None,
        },
        Field::Stream => return Val::Str(&event.stream),
        Field::Namespace => return event.namespace.as_deref().map_or(Val::Missing, Val::Str),
        Field::Op => {
            return match event.op() {
                Some(op) => Val::Str(op),
                None => event.event_type.cdc_op().map_or(Val::Missing, Val::Str),
            }
        }
        Field::EventType => return Val::Str(event_type_name(event.event_type)),
    };
    found.map_or(Val::Missing, Val::Json)
}

fn event_type_name(t: EventType) -> &'static str {
    match t {
        EventType::Record => "record",
        EventType::Insert => "insert",
        EventType::Update => "update",
        EventType::Delete => "delete",
        EventType::Snapshot => "snapshot",
        EventType::Truncate => "truncate",
        EventType::State => "state",
        EventType::Log => "log",
    }
}

/// A number, or a string holding one.
fn numeric(v: Val<'_>) -> Option<Num> {
    match v {
        Val::Json(Value::Number(n)) => Num::of(n),
        other => other
            .as_str()
            .and_then(|s| s.trim().parse::<serde_json::Number>().ok())
            .and_then(|n| Num::of(&n)),
    }
}

#[derive(Clone, Copy)]
enum Num {
    I(i64),
    U(u64),
    F(f64),
}

impl Num {
    fn of(n: &serde_json::Number) -> Option<Num> {
        n.as_i64()
            .map(Num::I)
            .or_else(|| n.as_u64().map(Num::U))
            .or_else(|| n.as_f64().map(Num::F))
    }

    fn cmp(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::I(a), Num::I(b)) => Some(a.cmp(&b)),
            (Num::U(a), Num::U(b)) => Some(a.cmp(&b)),
            // An i64 that did not fit u64 is negative, a u64 that did not fit i64 is large.
            (Num::I(_), Num::U(_)) => Some(Ordering::Less),
            (Num::U(_), Num::I(_)) => Some(Ordering::Greater),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::U(u) => u as f64,
            Num::F(f) => f,
        }
    }
}

/// Numbers by value when at least one side is a number; else `None`.
fn numeric_order(a: Val<'_>, b: Val<'_>) -> Option<Ordering> {
    let one_is_number =
        matches!(a, Val::Json(Value::Number(_))) || matches!(b, Val::Json(Value::Number(_)));
    if !one_is_number {
        return None;
    }
    numeric(a)?.cmp(numeric(b)?)
}

fn equal(a: Val<'_>, b: Val<'_>) -> bool {
    if a.is_null() || b.is_null() {
        return a.is_null() && b.is_null();
    }
    if let Some(order) = numeric_order(a, b) {
        return order == Ordering::Equal;
    }
    match (a.as_str(), b.as_str()) {
        (Some(x), Some(y)) => x == y,
        (Some(_), None) | (None, Some(_)) => false,
        (None, None) => a.json() == b.json(),
    }
}

fn compare(a: Val<'_>, op: CmpOp, b: Val<'_>) -> bool {
    match op {
        CmpOp::Eq => return equal(a, b),
        CmpOp::Ne => return !equal(a, b),
        _ => {}
    }
    let order = numeric_order(a, b).or_else(|| match (a.as_str(), b.as_str()) {
        (Some(x), Some(y)) => Some(x.cmp(y)),
        _ => None,
    });
    let Some(order) = order else {
        return false;
    };
    match op {
        CmpOp::Lt => order == Ordering::Less,
        CmpOp::Le => order != Ordering::Greater,
        CmpOp::Gt => order == Ordering::Greater,
        CmpOp::Ge => order != Ordering::Less,
        CmpOp::Eq | CmpOp::Ne => false,
    }
}

fn text(a: Val<'_>, op: TextOp, b: Val<'_>) -> bool {
    if op == TextOp::Contains {
        if let Val::Json(Value::Array(items)) = a {
            return items.iter().any(|item| equal(Val::Json(item), b));
        }
    }
    let (Some(hay), Some(needle)) = (a.as_str(), b.as_str()) else {
        return false;
    };
    match op {
        TextOp::Contains => hay.contains(needle),
        TextOp::StartsWith => hay.starts_with(needle),
        TextOp::EndsWith => hay.ends_with(needle),
    }
}
