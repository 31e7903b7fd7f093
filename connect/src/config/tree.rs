//! A YAML document as a tree that remembers where every node and key came
//! from, so errors found after parsing (schema, references, connector
//! configs) can still point at a line and column.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;
use std::fmt;

/// A 1-based line and column in the configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line (1-based).
    pub line: u64,
    /// Column (1-based).
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// One node of the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    pub(crate) at: Pos,
}

/// A mapping key and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) at: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

impl Node {
    /// Parse YAML text. Syntax errors come back as the parser renders them
    /// (with line, column and a snippet).
    pub(crate) fn parse(text: &str) -> Result<Node, serde_saphyr::Error> {
        let root: Spanned<Kind> = serde_saphyr::from_str(text)?;
        Ok(Node::from(root))
    }

    /// The node as JSON.
    pub(crate) fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::UInt(u) => Value::from(*u),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The entries of a mapping (empty for other nodes).
    pub(crate) fn entries(&self) -> &[(Key, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The value under `key` of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The key `key` of a mapping.
    pub(crate) fn key(&self, key: &str) -> Option<&Key> {
        self.entries()
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, _)| k)
    }

    /// Where the node at `path` (mapping keys and sequence indexes) is
    /// written: a scalar's own position, a mapping's or list's key (so
    /// "missing key" errors point at `name:`), and when the path goes further
    /// than the document, the deepest existing node on the way.
    pub(crate) fn locate<'a>(&self, path: impl IntoIterator<Item = &'a str>) -> Pos {
        let mut node = self;
        let mut key_at = None;
        for segment in path {
            let next = match &node.kind {
                Kind::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.name == segment)
                    .map(|(k, v)| (Some(k.at), v)),
                Kind::Seq(items) => segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|v| (None, v)),
                _ => None,
            };
            match next {
                Some((k, n)) => {
                    key_at = k;
                    node = n;
                }
                None => break,
            }
        }
        match (&node.kind, key_at) {
            (Kind::Map(_) | Kind::Seq(_), Some(at)) => at,
            _ => node.at,
        }
    }

    /// Where the key `name` of the mapping at `path` is written (for
    /// unknown-key errors), falling back to the mapping itself.
    pub(crate) fn locate_key<'a>(
        &self,
        path: impl IntoIterator<Item = &'a str>,
        name: &str,
    ) -> Pos {
        let mut node = self;
        for segment in path {
            match node.child(segment) {
                Some(n) => node = n,
                None => return node.at,
            }
        }
        node.key(name).map_or(node.at, |k| k.at)
    }

    /// Where the scalars at `path`, or below it, are written (none when
    /// the path goes further than the document).
    pub(crate) fn scalars_under<'a>(&self, path: impl IntoIterator<Item = &'a str>) -> Vec<Pos> {
        let mut node = self;
        for segment in path {
            match node.child(segment) {
                Some(n) => node = n,
                None => return Vec::new(),
            }
        }
        let mut out = Vec::new();
        node.collect_scalars(&mut out);
        out
    }

    fn collect_scalars(&self, out: &mut Vec<Pos>) {
        match &self.kind {
            Kind::Seq(items) => items.iter().for_each(|n| n.collect_scalars(out)),
            Kind::Map(entries) => entries.iter().for_each(|(_, n)| n.collect_scalars(out)),
            _ => out.push(self.at),
        }
    }

    /// The key path of the entry written at `at`: the rightmost key on that
    /// line starting at or before `at.column` (for errors found in the text,
    /// such as an unset variable).
    pub(crate) fn path_at(&self, at: Pos) -> Option<Vec<String>> {
        let mut best: Option<(u64, Vec<String>)> = None;
        let mut path = Vec::new();
        self.find_keys(at, &mut path, &mut best);
        best.map(|(_, p)| p)
    }

    fn find_keys(&self, at: Pos, path: &mut Vec<String>, best: &mut Option<(u64, Vec<String>)>) {
        let children: Vec<(String, Option<Pos>, &Node)> = match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .map(|(k, v)| (k.name.clone(), Some(k.at), v))
                .collect(),
            Kind::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), Some(v.at), v))
                .collect(),
            _ => return,
        };
        for (name, key_at, node) in children {
            path.push(name);
            if let Some(k) = key_at.filter(|k| k.line == at.line && k.column <= at.column) {
                if best.as_ref().is_none_or(|(c, _)| k.column >= *c) {
                    *best = Some((k.column, path.clone()));
                }
            }
            node.find_keys(at, path, best);
            path.pop();
        }
    }

    fn child(&self, segment: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(_) => self.get(segment),
            Kind::Seq(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    }
}

fn pos(loc: &serde_saphyr::Location) -> Pos {
    Pos {
        line: loc.line(),
        column: loc.column(),
    }
}

impl From<Spanned<Kind>> for Node {
    fn from(s: Spanned<Kind>) -> Self {
        Node {
            at: pos(&s.referenced),
            kind: s.value,
        }
    }
}

/// A mapping key: any scalar, kept as text.
struct RawKey(String);

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Kind::deserialize(d)? {
            Kind::Str(s) => Ok(RawKey(s)),
            Kind::Int(i) => Ok(RawKey(i.to_string())),
            Kind::UInt(u) => Ok(RawKey(u.to_string())),
            Kind::Float(f) => Ok(RawKey(f.to_string())),
            Kind::Bool(b) => Ok(RawKey(b.to_string())),
            Kind::Null => Ok(RawKey("null".into())),
            Kind::Seq(_) | Kind::Map(_) => Err(de::Error::custom(
                "a mapping key must be a plain value, not a list or mapping",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Kind>>()? {
            items.push(Node::from(item));
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<RawKey>>()? {
            let value = map.next_value::<Spanned<Kind>>()?;
            let key = Key {
                at: pos(&key.referenced),
                name: key.value.0,
            };
            entries.push((key, Node::from(value)));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_positions_of_nodes_and_keys() {
        let text = "a:\n  b: 1\n  c: [x, {d: true}]\nname: 'x'\n";
        let node = Node::parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            node.to_json(),
            json!({"a": {"b": 1, "c": ["x", {"d": true}]}, "name": "x"})
        );
        assert_eq!(node.locate(["a", "b"]), Pos { line: 2, column: 6 });
        assert_eq!(
            node.locate(["a"]),
            Pos { line: 1, column: 1 },
            "a mapping: its key"
        );
        assert_eq!(node.locate(["a", "c", "1", "d"]).line, 3);
        assert_eq!(node.locate_key(["a"], "c"), Pos { line: 3, column: 3 });
        // a path beyond the document stops at the deepest node that exists
        assert_eq!(node.locate(["a", "zzz", "q"]).line, node.locate(["a"]).line);
        assert_eq!(
            node.scalars_under(["a", "c"]),
            [
                Pos { line: 3, column: 7 },
                Pos {
                    line: 3,
                    column: 14
                }
            ]
        );
        assert!(node.scalars_under(["a", "zzz"]).is_empty());
    }

    #[test]
    fn finds_the_key_written_at_a_position() {
        let text = "a:\n  b: 1\n  c: {d: x, e: y}\n";
        let node = Node::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let at = |line, column| node.path_at(Pos { line, column }).map(|p| p.join("."));
        assert_eq!(at(2, 6).as_deref(), Some("a.b"));
        assert_eq!(at(3, 16).as_deref(), Some("a.c.e"));
        assert_eq!(at(3, 10).as_deref(), Some("a.c.d"));
        assert_eq!(at(9, 1), None);
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let err = Node::parse("a: [1, 2\nb: 3\n").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("line")));
    }
}
