//! Property tests: the filter parser and every built-in SMT never panic, whatever
//! the input — arbitrary expression text, arbitrary JSON payloads, records and CDC
//! envelopes — and an SMT either emits events or returns an error, never both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rivven_connect::registry::Registry;
use rivven_connect::smt::Expr;
use rivven_connect::{EventType, SourceEvent};
use serde_json::{json, Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z0-9 .:@_-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("2026-01-02T03:04:05Z"),
            Just("1767323045123"),
            Just("true"),
            Just("-1.5e3"),
            Just("paid"),
            Just("cancelled")
        ]
        .prop_map(|s| Value::String(s.to_string())),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Field names the configs below refer to, plus odd ones.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "status",
            "total",
            "email",
            "a",
            "b",
            "created_at",
            "quantity",
            "value",
            "key",
            "address",
            "city",
            "a.b",
            "before",
            "after",
            "op",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z_.`$ ]{1,8}",
    ]
}

fn event() -> impl Strategy<Value = SourceEvent> {
    let ty = prop::sample::select(vec![
        EventType::Record,
        EventType::Insert,
        EventType::Update,
        EventType::Delete,
        EventType::Snapshot,
        EventType::Truncate,
    ]);
    (
        ty,
        json_value(),
        json_value(),
        json_value(),
        any::<bool>(),
        prop::option::of(json_value()),
    )
        .prop_map(|(ty, data, before, after, envelope, key)| {
            let mut e = if envelope && ty != EventType::Record {
                let mut e = SourceEvent::cdc(ty, "t", Some(before), Some(after));
                if let Some(m) = e.data.as_object_mut() {
                    m.insert("source".into(), data);
                }
                e
            } else {
                let mut e = SourceEvent::record("t", data);
                e.event_type = ty;
                e
            };
            e.key = key;
            e
        })
}

/// Text made of the language's tokens, so the parser gets past the lexer.
fn expression_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "status",
        "total",
        "a.b",
        "value.amount",
        "`x y`",
        "$op",
        "$key.id",
        "$data.after",
        "$nope",
        "=",
        "==",
        "!=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "and",
        "or",
        "not",
        "&&",
        "||",
        "!",
        "(",
        ")",
        "[",
        "]",
        ",",
        "in",
        "contains",
        "starts_with",
        "ends_with",
        "matches",
        "'paid'",
        "\"x\"",
        "'('",
        "'^a+$'",
        "1",
        "-2.5",
        "1e400",
        "true",
        "false",
        "null",
        "'unterminated",
        "#",
        "`",
    ]);
    prop::collection::vec(token, 0..24).prop_map(|t| t.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_filter_parser_never_panics_on_any_text(text in any::<String>()) {
        if let Err(e) = Expr::parse(&text) {
            prop_assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e} for {text:?}");
        }
    }

    #[test]
    fn parsed_expressions_never_panic_on_any_event(text in expression_text(), e in event()) {
        match Expr::parse(&text) {
            Ok(expr) => { let _ = expr.matches(&e); }
            Err(err) => prop_assert!(err.column >= 1 && err.column <= text.chars().count() + 1, "{err} for {text:?}"),
        }
    }

    #[test]
    fn every_smt_handles_any_event(e in event()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for (name, config) in configs() {
            let transform = REGISTRY.with(|r| r.transform(name).unwrap().build(config.clone()))
                .unwrap_or_else(|err| panic!("{name} {config}: {err}"));
            // Ok or a per-record error: both are fine; a panic fails the test.
            let _ = rt.block_on(transform.transform(e.clone()));
        }
    }
}

thread_local! {
    static REGISTRY: Registry = Registry::builtin();
}

/// Representative configs of every built-in SMT.
fn configs() -> Vec<(&'static str, Value)> {
    vec![
        (
            "extract_new_record_state",
            json!({"add_op": true, "add_table": true, "add_fields": ["ts_ms", "source.lsn", "db"]}),
        ),
        (
            "extract_new_record_state",
            json!({"delete_handling": "tombstone", "drop_tombstones": false}),
        ),
        (
            "extract_new_record_state",
            json!({"delete_handling": "drop"}),
        ),
        ("value_to_key", json!({"fields": ["id", "a.b"]})),
        (
            "mask_field",
            json!({"fields": ["email", "a.b", "id"], "keep_first": 1, "keep_last": 2}),
        ),
        (
            "mask_field",
            json!({"fields": ["email"], "hash": true, "salt": "s"}),
        ),
        (
            "mask_field",
            json!({"fields": ["status"], "replacement": "***"}),
        ),
        (
            "insert_field",
            json!({"static": {"a.b": 1, "x": "y"}, "timestamp": {"field": "ts", "format": "custom", "pattern": "%Y"}, "uuid": {"field": "u"}, "stream_field": "s"}),
        ),
        (
            "replace_field",
            json!({"include": ["id", "a"], "exclude": ["a.b"], "rename": {"id": "key.id", "a": "b"}}),
        ),
        ("rename_field", json!({"rename": {"status": "state"}})),
        (
            "regex_router",
            json!({"regex": "(.*)", "replacement": "cdc.$1"}),
        ),
        (
            "content_router",
            json!({"field": "status", "routes": {"paid": "p", "1": "one"}, "default": "other"}),
        ),
        (
            "timestamp_converter",
            json!({"fields": ["created_at", "total", "id"], "format": "iso8601"}),
        ),
        (
            "timestamp_converter",
            json!({"fields": ["created_at"], "format": "custom", "pattern": "%d/%m/%Y", "input_format": "unix_millis"}),
        ),
        (
            "filter",
            json!({"condition": "status != 'cancelled' and (total > 100 or email matches '^a') and $op in ['c', 'u']"}),
        ),
        (
            "filter",
            json!({"condition": "not a.b contains 'x' or value.total >= '5'", "action": "drop"}),
        ),
        (
            "cast",
            json!({"fields": {"total": "int", "quantity": "float", "status": "bool", "id": "string", "a.b": "int"}}),
        ),
        ("flatten", json!({})),
        ("flatten", json!({"delimiter": "__"})),
    ]
}
