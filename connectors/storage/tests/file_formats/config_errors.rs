//! Bad `file` sink and source configurations fail when the connector is
//! built (as from YAML), naming the key.

use rivven_connect::registry::Registry;
use serde_json::{json, Value};

fn sink_error(config: Value) -> String {
    rivven_connect_storage::link();
    let registry = Registry::discovered().unwrap();
    let file = registry.sink("file").unwrap();
    match file.build(config) {
        Ok(_) => panic!("accepted"),
        Err(e) => {
            assert_eq!(e.kind(), rivven_connect::ErrorKind::Config, "{e}");
            e.to_string()
        }
    }
}

fn source_error(config: Value) -> String {
    rivven_connect_storage::link();
    let registry = Registry::discovered().unwrap();
    match registry.source("file").unwrap().build(config) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

fn assert_has(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
}

/// Fails before the change: `output_format` and `format_options` were
/// unknown keys.
#[test]
fn bad_sink_formats_and_options_are_refused_naming_the_key() {
    let base = |extra: Value| {
        let mut config = json!({"path": "/tmp/never-written.csv"});
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        config
    };
    let text = sink_error(base(
        json!({"output_format": "csv", "format_options": {"delimiter": ";;"}}),
    ));
    assert_has(
        &text,
        &[
            "file",
            "format_options (csv): delimiter: must be exactly one ASCII character",
        ],
    );
    let text = sink_error(base(
        json!({"output_format": "csv", "format_options": {"delimeter": ";"}}),
    ));
    assert_has(
        &text,
        &["format_options (csv)", "unknown field `delimeter`"],
    );
    let text = sink_error(base(
        json!({"output_format": "csv", "format_options": {"include_header": false}}),
    ));
    assert_has(&text, &["format_options (csv): columns: needed"]);
    let text = sink_error(base(
        json!({"output_format": "csv", "max_record_bytes": 10}),
    ));
    assert_has(
        &text,
        &["max_record_bytes: applies to `output_format: jsonl` only"],
    );
    for whole in ["parquet", "avro", "json"] {
        let text = sink_error(base(json!({"output_format": whole})));
        assert_has(
            &text,
            &[
                &format!("output_format: `{whole}` makes whole files"),
                "object-storage",
                "provider: local",
            ],
        );
    }
    let text = sink_error(base(json!({"output_format": "orc"})));
    assert_has(
        &text,
        &[
            "output_format: no format `orc`",
            "csv",
            "rivven-connect-storage",
        ],
    );
}

#[test]
fn bad_source_formats_and_options_are_refused_naming_the_key() {
    let text = source_error(
        json!({"path": "in.csv", "format": "csv", "format_options": {"quote_char": "ab"}}),
    );
    assert_has(
        &text,
        &["format_options (csv): quote_char: must be exactly one ASCII character"],
    );
    let text = source_error(json!({"path": "in.parquet", "format": "parquet"}));
    assert_has(
        &text,
        &[
            "format: `parquet` cannot be read record by record",
            "object-storage",
        ],
    );
    let text = source_error(
        json!({"path": "in.csv", "format": "csv", "format_options": {"include_header": false}}),
    );
    assert_has(&text, &["columns: needed to read CSV without a header"]);
}

/// The registry of a binary linking this crate has every format, and the
/// `file` connectors build with CSV.
#[test]
fn a_binary_linking_the_storage_crate_gets_its_formats() {
    rivven_connect_storage::link();
    let names: Vec<&str> = rivven_connect::format::registry::formats()
        .iter()
        .map(|f| f.name())
        .collect();
    assert_eq!(names, ["avro", "csv", "json", "jsonl", "parquet"]);
    let registry = Registry::discovered().unwrap();
    let sink = registry.sink("file").unwrap();
    assert!(sink
        .build(json!({"path": "/tmp/x.csv", "output_format": "csv", "format_options": {"delimiter": "|"}}))
        .is_ok());
    let source = registry.source("file").unwrap();
    assert!(source
        .build(json!({"path": "/tmp/x.csv", "format": "csv"}))
        .is_ok());
}
