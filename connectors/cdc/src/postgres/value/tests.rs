#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::*;

fn ok(t: &PgType, text: &str) -> Value {
    t.decode_text(text)
        .unwrap_or_else(|e| panic!("{} {text:?}: {e}", t.name()))
}

fn err(t: &PgType, text: &str) -> ValueError {
    match t.decode_text(text) {
        Ok(v) => panic!("{} {text:?} decoded to {v}", t.name()),
        Err(e) => e,
    }
}

fn array(t: PgType) -> PgType {
    PgType::Array(Box::new(t))
}

#[test]
fn integers_become_json_integers() {
    for t in [PgType::Int2, PgType::Int4, PgType::Int8, PgType::Oid] {
        assert_eq!(ok(&t, "42"), json!(42));
        assert_eq!(ok(&t, "-7"), json!(-7));
        assert!(t.decode_text("4x").is_err());
        assert!(t.decode_text("").is_err());
        assert!(t.decode_text("1.5").is_err());
    }
    assert_eq!(ok(&PgType::Int8, "-9223372036854775808"), json!(i64::MIN));
    assert_eq!(ok(&PgType::Oid, "4294967295"), json!(4_294_967_295_u32));
    assert!(PgType::Int8.decode_text("9223372036854775808").is_err());
}

#[test]
fn numeric_keeps_the_exact_text() {
    let t = PgType::Numeric;
    for text in [
        "123.4500",
        "-0.000000000000000000000000000001",
        "99999999999999999999999999999999999999",
        "0",
        "NaN",
        "Infinity",
        "-Infinity",
    ] {
        assert_eq!(ok(&t, text), json!(text));
    }
    for bad in ["", "1.2.3", "abc", "1e5", ".5", "5.", "nan", "-"] {
        err(&t, bad);
    }
}

#[test]
fn floats_become_numbers_and_special_values_strings() {
    for t in [PgType::Float4, PgType::Float8] {
        assert_eq!(ok(&t, "1.5"), json!(1.5));
        assert_eq!(ok(&t, "-0.1"), json!(-0.1));
        assert_eq!(ok(&t, "1e+38"), json!(1e38));
        assert_eq!(ok(&t, "1.7976931348623157e+308"), json!(f64::MAX));
        assert_eq!(ok(&t, "NaN"), json!("NaN"));
        assert_eq!(ok(&t, "Infinity"), json!("Infinity"));
        assert_eq!(ok(&t, "-Infinity"), json!("-Infinity"));
        for bad in ["", "abc", "inf", "nan", "1e999"] {
            err(&t, bad);
        }
    }
    // extra_float_digits=3 round-trips the exact double.
    assert_eq!(ok(&PgType::Float8, "0.30000000000000004"), json!(0.1 + 0.2));
}

#[test]
fn bools_are_t_and_f() {
    assert_eq!(ok(&PgType::Bool, "t"), json!(true));
    assert_eq!(ok(&PgType::Bool, "f"), json!(false));
    err(&PgType::Bool, "true");
    err(&PgType::Bool, "");
}

#[test]
fn strings_pass_through() {
    for t in [
        PgType::Text,
        PgType::Enum,
        PgType::Other("point".to_owned()),
    ] {
        for text in ["", "abc ", "ünïcødé", "(1,2)", "NULL", "{1,2}"] {
            assert_eq!(ok(&t, text), json!(text));
        }
    }
}

#[test]
fn bytea_hex_becomes_base64() {
    let t = PgType::Bytea;
    assert_eq!(ok(&t, "\\x0a0bff"), json!("Cgv/"));
    assert_eq!(ok(&t, "\\x0A0BFF"), json!("Cgv/"));
    assert_eq!(ok(&t, "\\x"), json!(""));
    assert_eq!(ok(&t, "\\x68656c6c6f"), json!("aGVsbG8="));
    for bad in ["0a0b", "\\x0", "\\x0g", "\\xé0", "\\001"] {
        err(&t, bad);
    }
}

#[test]
fn uuid_is_a_lowercase_string() {
    let t = PgType::Uuid;
    let id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    assert_eq!(ok(&t, id), json!(id));
    assert_eq!(ok(&t, &id.to_uppercase()), json!(id));
    for bad in [
        "",
        "a0eebc999c0b4ef8bb6d6bb9bd380a11",
        "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    ] {
        err(&t, bad);
    }
}

#[test]
fn json_is_parsed() {
    for t in [PgType::Json, PgType::Jsonb] {
        assert_eq!(
            ok(&t, r#"{"a": [1, "x", null], "b": {"c": true}}"#),
            json!({"a": [1, "x", null], "b": {"c": true}})
        );
        assert_eq!(ok(&t, "\"s\""), json!("s"));
        assert_eq!(ok(&t, "null"), Value::Null);
        // PostgreSQL stores only valid JSON; text serde_json refuses is
        // kept as it is, never an error (see json_beyond_serde_json_…).
        assert_eq!(ok(&t, "{not json"), json!("{not json"));
    }
}

#[test]
fn dates_pass_through() {
    let t = PgType::Date;
    for text in [
        "2024-01-02",
        "infinity",
        "-infinity",
        "0044-03-15 BC",
        "10000-01-01",
    ] {
        assert_eq!(ok(&t, text), json!(text));
    }
    for bad in ["", "01/02/2024", "2024-01-02 03:04"] {
        err(&t, bad);
    }
}

#[test]
fn times_pass_through_and_timetz_offsets_normalize() {
    assert_eq!(
        ok(&PgType::Time, "13:45:00.123456"),
        json!("13:45:00.123456")
    );
    assert_eq!(ok(&PgType::Time, "24:00:00"), json!("24:00:00"));
    err(&PgType::Time, "13:45:00+02");
    err(&PgType::Time, "noon");

    let t = PgType::TimeTz;
    assert_eq!(ok(&t, "13:45:00+02"), json!("13:45:00+02:00"));
    assert_eq!(ok(&t, "13:45:00+00"), json!("13:45:00+00:00"));
    assert_eq!(ok(&t, "13:45:00.5-05:30"), json!("13:45:00.5-05:30"));
    assert_eq!(ok(&t, "13:45:00+00:09:21"), json!("13:45:00+00:09:21"));
    for bad in [
        "13:45:00",
        "13:45:00+2",
        "13:45:00+02:3",
        "x+02",
        "13:45:00+",
    ] {
        err(&t, bad);
    }
}

#[test]
fn timestamps_get_a_t_separator() {
    let t = PgType::Timestamp;
    assert_eq!(
        ok(&t, "2024-01-02 03:04:05.123456"),
        json!("2024-01-02T03:04:05.123456")
    );
    assert_eq!(ok(&t, "2024-01-02 03:04:05"), json!("2024-01-02T03:04:05"));
    assert_eq!(
        ok(&t, "0044-03-15 12:00:00 BC"),
        json!("0044-03-15T12:00:00 BC")
    );
    assert_eq!(ok(&t, "infinity"), json!("infinity"));
    assert_eq!(ok(&t, "-infinity"), json!("-infinity"));
    for bad in [
        "2024-01-02",
        "2024-01-02T03:04:05",
        "2024-01-02 03:04:05+00",
        "",
    ] {
        err(&t, bad);
    }
}

#[test]
fn timestamptz_offsets_in_every_shape() {
    let t = PgType::TimestampTz;
    let cases = [
        ("2024-01-02 03:04:05.123+00", "2024-01-02T03:04:05.123Z"),
        ("2024-01-02 03:04:05+00:00", "2024-01-02T03:04:05Z"),
        ("2024-01-02 03:04:05+05:30", "2024-01-02T03:04:05+05:30"),
        ("2024-01-02 03:04:05+05", "2024-01-02T03:04:05+05:00"),
        ("2024-01-02 03:04:05.5-08", "2024-01-02T03:04:05.5-08:00"),
        (
            "1850-01-01 00:00:00+00:09:21",
            "1850-01-01T00:00:00+00:09:21",
        ),
        ("0044-03-15 12:00:00+00 BC", "0044-03-15T12:00:00Z BC"),
        ("infinity", "infinity"),
        ("-infinity", "-infinity"),
    ];
    for (text, want) in cases {
        assert_eq!(ok(&t, text), json!(want), "{text}");
    }
    for bad in [
        "2024-01-02 03:04:05",
        "2024-01-02T03:04:05Z",
        "2024-01-02 03:04:05+5",
        "2024-01-02 03:04:05+05:3",
        "2024-01-02 03:04:05+05:30:00:00",
        "2024-01-02",
        "",
    ] {
        err(&t, bad);
    }
}

#[test]
fn intervals_pass_through_iso_8601() {
    let t = PgType::Interval;
    for text in ["P1Y2M3DT4H5M6.5S", "PT0S", "-P1D", "P-1Y-2M3DT-4H"] {
        assert_eq!(ok(&t, text), json!(text));
    }
    for bad in ["1 day", "", "00:00:01", "p1d"] {
        err(&t, bad);
    }
}

#[test]
fn arrays_of_scalars() {
    assert_eq!(ok(&array(PgType::Int4), "{1,2,3}"), json!([1, 2, 3]));
    assert_eq!(ok(&array(PgType::Int4), "{}"), json!([]));
    assert_eq!(ok(&array(PgType::Bool), "{t,f}"), json!([true, false]));
    assert_eq!(
        ok(&array(PgType::Float8), "{1.5,NaN,-Infinity}"),
        json!([1.5, "NaN", "-Infinity"])
    );
    assert_eq!(
        ok(&array(PgType::Bytea), r#"{"\\x0102","\\x"}"#),
        json!(["AQI=", ""])
    );
    assert_eq!(
        ok(&array(PgType::Jsonb), r#"{"{\"a\": 1}","[1, 2]",NULL}"#),
        json!([{"a": 1}, [1, 2], null])
    );
    assert_eq!(
        ok(
            &array(PgType::TimestampTz),
            r#"{"2024-01-02 03:04:05+00","2024-01-02 03:04:05+05"}"#
        ),
        json!(["2024-01-02T03:04:05Z", "2024-01-02T03:04:05+05:00"])
    );
}

#[test]
fn arrays_with_quotes_escapes_and_nulls() {
    let t = array(PgType::Text);
    assert_eq!(
        ok(&t, r#"{NULL,"a b","x\"y","back\\slash"}"#),
        json!([null, "a b", "x\"y", "back\\slash"])
    );
    assert_eq!(
        ok(&t, r#"{null,NuLl,"NULL","null"}"#),
        json!([null, null, "NULL", "null"])
    );
    assert_eq!(
        ok(&t, r#"{"",  a ,"{}",",",\N}"#),
        json!(["", "a", "{}", ",", "N"])
    );
    assert_eq!(ok(&t, r#"{\NULL}"#), json!(["NULL"]));
    assert_eq!(ok(&t, " { a b , c } "), json!(["a b", "c"]));
    assert_eq!(ok(&t, r#"{a\ }"#), json!(["a "]));
    assert_eq!(ok(&t, "{ü,日本}"), json!(["ü", "日本"]));
}

#[test]
fn nested_arrays_and_bounds() {
    let t = array(PgType::Int4);
    assert_eq!(ok(&t, "{{1,2},{3,4}}"), json!([[1, 2], [3, 4]]));
    assert_eq!(
        ok(&t, "{{{1},{2}},{{3},{NULL}}}"),
        json!([[[1], [2]], [[3], [null]]])
    );
    assert_eq!(ok(&t, "[0:1]={1,2}"), json!([1, 2]));
    assert_eq!(ok(&t, "[-1:0][1:2]={{1,2},{3,4}}"), json!([[1, 2], [3, 4]]));
    assert_eq!(ok(&t, "{{}}"), json!([[]]));
}

#[test]
fn malformed_arrays_are_errors() {
    let t = array(PgType::Int4);
    for bad in [
        "",
        "1,2",
        "{",
        "{1,2",
        "{1,2}}",
        "{1,2} x",
        "{{1,2},{3}}",
        "{1,{2}}",
        "{{1},2}",
        "{1,,2}",
        "{,}",
        "{1 2}",
        "{\"1}",
        "{\"1\"2}",
        "{1\"}",
        "{\\",
        "[0:1]{1,2}",
        "[0:x]={1}",
        "{{{{{{{1}}}}}}}",
        "{1,x}",
        "}",
    ] {
        err(&t, bad);
    }
    assert!(err(&t, "{1,x}").to_string().contains("element 2"));
    assert_eq!(ok(&t, "{{{{{{1}}}}}}"), json!([[[[[[1]]]]]]));
}

#[test]
fn every_prefix_of_an_array_literal_decodes_or_errors_without_panicking() {
    let literals = [
        (
            array(PgType::Text),
            r#"{NULL,"a b","x\"y","back\\slash", c }"#,
        ),
        (array(PgType::Int4), "[0:1][1:2]={{1,2},{3,NULL}}"),
        (array(PgType::Bytea), r#"{"\\x0102",NULL}"#),
        (array(PgType::Json), r#"{"{\"k\": [1,2]}","\"é\""}"#),
        (
            array(PgType::TimestampTz),
            r#"{"2024-01-02 03:04:05.123+05:30"}"#,
        ),
        (array(PgType::Text), "{ü,日本,\"ß\"}"),
    ];
    for (t, literal) in &literals {
        assert!(t.decode_text(literal).is_ok(), "{literal}");
        for (end, _) in literal.char_indices() {
            let prefix = &literal[..end];
            // Every proper prefix lacks the closing brace.
            assert!(t.decode_text(prefix).is_err(), "{prefix:?}");
            for suffix in ["}", "\"}", "}}", ",", "\\"] {
                let _ = t.decode_text(&format!("{prefix}{suffix}"));
            }
        }
    }
}

#[test]
fn every_prefix_of_a_scalar_never_panics() {
    let values = [
        (PgType::TimestampTz, "2024-01-02 03:04:05.123+05:30 BC"),
        (PgType::TimeTz, "13:45:00+02:30"),
        (PgType::Bytea, "\\x0a0bff"),
        (PgType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        (PgType::Numeric, "-123.4500"),
    ];
    for (t, text) in &values {
        assert!(t.decode_text(text).is_ok(), "{text}");
        for (end, _) in text.char_indices() {
            let _ = t.decode_text(&text[..end]);
        }
    }
}

#[test]
fn error_names_the_type_and_truncates_the_text() {
    let e = err(&PgType::Int4, "abc");
    let msg = e.to_string();
    assert!(
        msg.starts_with("cannot decode int4 value \"abc\": not an integer"),
        "{msg}"
    );

    let long = "x".repeat(200);
    let msg = err(&array(PgType::Uuid), &long).to_string();
    assert!(msg.contains("uuid[]"), "{msg}");
    assert!(msg.contains(&format!("\"{}…\"", "x".repeat(64))), "{msg}");
    assert!(!msg.contains(&"x".repeat(65)), "{msg}");

    let multibyte = "é".repeat(100);
    let msg = err(&PgType::Int2, &multibyte).to_string();
    assert!(msg.contains(&format!("\"{}…\"", "é".repeat(64))), "{msg}");
}

#[test]
fn builtin_oids_resolve() {
    let scalars = [
        (16, PgType::Bool),
        (17, PgType::Bytea),
        (18, PgType::Text),
        (19, PgType::Text),
        (20, PgType::Int8),
        (21, PgType::Int2),
        (23, PgType::Int4),
        (25, PgType::Text),
        (26, PgType::Oid),
        (114, PgType::Json),
        (700, PgType::Float4),
        (701, PgType::Float8),
        (1042, PgType::Text),
        (1043, PgType::Text),
        (1082, PgType::Date),
        (1083, PgType::Time),
        (1114, PgType::Timestamp),
        (1184, PgType::TimestampTz),
        (1186, PgType::Interval),
        (1266, PgType::TimeTz),
        (1700, PgType::Numeric),
        (2950, PgType::Uuid),
        (3802, PgType::Jsonb),
    ];
    for (oid, t) in &scalars {
        assert_eq!(
            PgType::from_builtin_oid(*oid).as_ref(),
            Some(t),
            "oid {oid}"
        );
    }
    let arrays = [
        (1000, PgType::Bool),
        (1005, PgType::Int2),
        (1007, PgType::Int4),
        (1016, PgType::Int8),
        (1021, PgType::Float4),
        (1022, PgType::Float8),
        (1231, PgType::Numeric),
        (1009, PgType::Text),
        (1015, PgType::Text),
        (1014, PgType::Text),
        (1002, PgType::Text),
        (1003, PgType::Text),
        (1001, PgType::Bytea),
        (2951, PgType::Uuid),
        (199, PgType::Json),
        (3807, PgType::Jsonb),
        (1182, PgType::Date),
        (1183, PgType::Time),
        (1270, PgType::TimeTz),
        (1115, PgType::Timestamp),
        (1185, PgType::TimestampTz),
        (1187, PgType::Interval),
        (1028, PgType::Oid),
    ];
    for (oid, element) in arrays {
        assert_eq!(
            PgType::from_builtin_oid(oid),
            Some(array(element)),
            "oid {oid}"
        );
    }
    for unknown in [0, 1, 600, 16_384, u32::MAX] {
        assert_eq!(PgType::from_builtin_oid(unknown), None);
    }
}

#[test]
fn json_schemas() {
    assert_eq!(PgType::Int4.json_schema(), json!({"type": "integer"}));
    assert_eq!(PgType::Bool.json_schema(), json!({"type": "boolean"}));
    assert_eq!(
        PgType::Numeric.json_schema(),
        json!({"type": "string", "format": "decimal"})
    );
    assert_eq!(
        PgType::Float8.json_schema(),
        json!({"type": ["number", "string"]})
    );
    assert_eq!(
        PgType::Bytea.json_schema(),
        json!({"type": "string", "contentEncoding": "base64"})
    );
    assert_eq!(
        PgType::Uuid.json_schema(),
        json!({"type": "string", "format": "uuid"})
    );
    assert_eq!(
        PgType::Date.json_schema(),
        json!({"type": "string", "format": "date"})
    );
    assert_eq!(
        PgType::TimestampTz.json_schema(),
        json!({"type": "string", "format": "date-time"})
    );
    assert_eq!(
        PgType::Interval.json_schema(),
        json!({"type": "string", "format": "duration"})
    );
    assert_eq!(PgType::Jsonb.json_schema(), json!({}));
    assert_eq!(PgType::Enum.json_schema(), json!({"type": "string"}));
    assert_eq!(
        array(array(PgType::Int8)).json_schema(),
        json!({"type": "array", "items": {"type": "array", "items": {"type": "integer"}}})
    );
}

/// Fails before the fix: `1e400`, a depth-10 000 document and an integer
/// beyond `u64` were errors (or silently rounded), so the change was a
/// record error that `on_error: skip` dropped.
#[test]
fn json_beyond_serde_json_is_kept_as_exact_text() {
    for t in [PgType::Json, PgType::Jsonb] {
        assert_eq!(
            ok(&t, r#"{"a": 1, "b": [1.5, -0.0, "x\"1e400"]}"#),
            json!({"a": 1, "b": [1.5, -0.0, "x\"1e400"]})
        );
        for exact_text in [
            r#"{"a": 1e400}"#,
            r#"{"a": 12345678901234567890123}"#,
            r#"[0.1000000000000000000001]"#,
        ] {
            assert_eq!(ok(&t, exact_text), json!(exact_text), "{exact_text}");
        }
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(ok(&t, &deep), json!(deep));
        let shallow = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(ok(&t, &shallow).is_array());
    }
    // Arrays of json: each element on its own.
    let array = PgType::Array(Box::new(PgType::Jsonb));
    assert_eq!(
        ok(&array, r#"{"{\"a\": 1e400}","{\"b\": 2}"}"#),
        json!([r#"{"a": 1e400}"#, {"b": 2}])
    );
    // numeric[] keeps every digit.
    let numeric = PgType::Array(Box::new(PgType::Numeric));
    assert_eq!(
        ok(
            &numeric,
            "{-1234567890123456789012345678901234567890,123456789012345678901234567890.5}"
        ),
        json!([
            "-1234567890123456789012345678901234567890",
            "123456789012345678901234567890.5"
        ])
    );
}
