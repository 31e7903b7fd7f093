//! The generated user reference (`rivven-connect docs`) and the option text
//! of `spec`/`schema`, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/binary.rs"]
mod binary;

use binary::{bin, json, run, text};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[cfg(feature = "postgres")]
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `docs --out <dir>`, asserting success.
fn generate(dir: &Path) {
    let out = run(&["docs", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}

/// (kind, name) of every connector the binary has.
fn connectors() -> Vec<(String, String)> {
    json(&run(&["connectors", "--format", "json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap().to_string(),
                m["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn page(dir: &Path, kind: &str, name: &str) -> PathBuf {
    dir.join(format!("{kind}s")).join(format!("{name}.md"))
}

/// The checked-in reference is generated with the default features, which
/// include `postgres-cdc`.
#[cfg(feature = "postgres")]
#[test]
fn the_checked_in_reference_is_up_to_date() {
    let out = bin()
        .args(["docs", "--check"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docs/reference is stale:\n{}",
        text(&out)
    );
    assert!(text(&out).contains("up to date"), "{}", text(&out));
}

#[test]
fn check_names_each_stale_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("ref");
    generate(&out_dir);
    let check = || run(&["docs", "--check", "--out", out_dir.to_str().unwrap()]);
    assert!(check().status.success(), "{}", text(&check()));

    let filter = page(&out_dir, "transform", "filter");
    let edited = std::fs::read_to_string(&filter).unwrap() + "\nhand edit\n";
    std::fs::write(&filter, edited).unwrap();
    std::fs::remove_file(page(&out_dir, "source", "datagen")).unwrap();
    std::fs::write(page(&out_dir, "sink", "retired"), "# gone\n").unwrap();

    let out = check();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    for needle in [
        "transforms/filter.md (differs)",
        "sources/datagen.md (missing)",
        "sinks/retired.md (not generated",
        "run `cargo run --bin rivven-connect -- docs --out ",
    ] {
        assert!(t.contains(needle), "{needle:?} not in:\n{t}");
    }
    assert!(!t.contains("sources/stdout"), "only the stale files: {t}");

    // Regenerating repairs all three.
    generate(&out_dir);
    assert!(check().status.success(), "{}", text(&check()));
    assert!(!page(&out_dir, "sink", "retired").exists());
}

#[test]
fn the_reference_has_a_page_per_connector_and_the_expression_language() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let index = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    let all = connectors();
    if cfg!(feature = "postgres") {
        assert!(
            all.contains(&("source".into(), "postgres-cdc".into())),
            "{all:?}"
        );
    }
    for (kind, name) in &all {
        let page = page(dir.path(), kind, name);
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(text.starts_with(&format!("# `{name}` ({kind})")), "{text}");
        assert!(
            text.contains("## Options") && text.contains("```yaml"),
            "{text}"
        );
        assert!(
            index.contains(&format!("[`{name}`]({kind}s/{name}.md)")),
            "{name} not in the index:\n{index}"
        );
    }
    for section in ["## Sources", "## Sinks", "## Transforms"] {
        assert!(index.contains(section), "{index}");
    }

    let datagen = std::fs::read_to_string(page(dir.path(), "source", "datagen")).unwrap();
    assert!(
        datagen.contains("| `pattern` | `\"sequence\" \\| "),
        "enum type of pattern:\n{datagen}"
    );
    assert!(datagen.contains("| yes |"), "a required option: {datagen}");
    if cfg!(feature = "postgres") {
        let pg = std::fs::read_to_string(page(dir.path(), "source", "postgres-cdc")).unwrap();
        assert!(
            pg.lines()
                .any(|l| l.starts_with("| `password` |") && l.contains("**secret**")),
            "{pg}"
        );
        assert!(pg.contains("| `tls.mode` |"), "nested options: {pg}");
    }

    let expr = std::fs::read_to_string(dir.path().join("filter-expressions.md")).unwrap();
    for needle in [
        "A bare word is a field name",
        "country = \"NO\"",
        "warns once at run time",
        "starts_with",
    ] {
        assert!(expr.contains(needle), "{needle:?} not in:\n{expr}");
    }
    let filter = std::fs::read_to_string(page(dir.path(), "transform", "filter")).unwrap();
    assert!(filter.contains("(../filter-expressions.md)"), "{filter}");

    // Deterministic: a second run writes nothing new.
    let again = tempfile::tempdir().unwrap();
    generate(again.path());
    for (kind, name) in &all {
        assert_eq!(
            std::fs::read(page(dir.path(), kind, name)).unwrap(),
            std::fs::read(page(again.path(), kind, name)).unwrap()
        );
    }
}

/// The ```yaml block of a page.
fn example_of(page: &str) -> String {
    let start = page.find("```yaml\n").expect("an example") + "```yaml\n".len();
    let len = page[start..].find("```").expect("a closed block");
    page[start..start + len].to_string()
}

/// A whole configuration around a page's example block.
fn config_around(kind: &str, name: &str, example: &str, data_dir: &Path) -> String {
    let instance = format!("my-{name}");
    let source = "sources:\n  gen:\n    connector: datagen\n    config: { pattern: orders, max_events: 1 }\n";
    let sink = "sinks:\n  out:\n    connector: stdout\n";
    let body = match kind {
        "source" => format!("{example}{sink}pipelines:\n  p: {{ source: {instance}, sink: out }}\n"),
        "sink" => format!("{example}{source}pipelines:\n  p: {{ source: gen, sink: {instance} }}\n"),
        _ => format!(
            "{example}{source}{sink}pipelines:\n  p: {{ source: gen, sink: out, transforms: [{instance}] }}\n"
        ),
    };
    format!("{body}data_dir: {}\n", data_dir.display())
}

#[test]
fn every_example_configuration_validates_against_its_connector() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref");
    generate(&reference);
    for (kind, name) in connectors() {
        let page = std::fs::read_to_string(page(&reference, &kind, &name)).unwrap();
        let example = example_of(&page);
        assert!(
            example.contains(&format!("my-{name}:")),
            "{name}: {example}"
        );
        let config = dir.path().join(format!("{kind}-{name}.yaml"));
        std::fs::write(&config, config_around(&kind, &name, &example, dir.path())).unwrap();
        let out = bin()
            .arg("-c")
            .arg(&config)
            .arg("validate")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the example of {kind} `{name}` does not validate:\n{}\n{}",
            std::fs::read_to_string(&config).unwrap(),
            text(&out)
        );
    }
}

#[test]
fn spec_shows_types_and_what_an_unset_option_means() {
    let out = run(&["spec", "filter"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("condition: string  [required"), "{t}");
    assert!(t.contains("action: \"keep\" | \"drop\""), "{t}");
    assert!(t.contains("keep (the default)"), "{t}");
    assert!(!t.contains("default null"), "{t}");
    assert!(t.contains("drop: boolean"), "{t}");

    let t = text(&run(&["spec", "datagen"]));
    assert!(t.contains("pattern: \"sequence\" | "), "{t}");
    assert!(t.contains("max_events: integer"), "{t}");
}

#[test]
fn schema_of_a_source_and_sink_name_labels_both() {
    let out = run(&["schema", "file"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    let (source_at, sink_at) = (
        t.find("source `file`:").expect(&t),
        t.find("sink `file`:").expect(&t),
    );
    assert!(source_at < sink_at, "{t}");
    // Each labelled part is the JSON Schema of that side.
    let source: Value = serde_json::from_str(&t[source_at + 15..sink_at]).unwrap();
    assert!(source["properties"]["read_unterminated_last_line"].is_object());

    let labelled = json(&run(&["schema", "file", "--format", "json"]));
    assert!(
        labelled["source"]["properties"]["read_unterminated_last_line"].is_object(),
        "{labelled}"
    );
    assert!(
        labelled["sink"]["properties"]["fsync"].is_object(),
        "{labelled}"
    );
    // A name of one kind stays the plain schema.
    let stdout = json(&run(&["schema", "stdout"]));
    assert!(stdout["properties"]["format"].is_object(), "{stdout}");
}

#[test]
fn user_facing_text_has_no_rustdoc_links_and_no_seeds() {
    fn descriptions(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if let (true, Some(text)) = (k == "description", v.as_str()) {
                        out.push(text.to_string());
                    }
                    descriptions(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| descriptions(v, out)),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    for (kind, name) in connectors() {
        let spec = json(&run(&["spec", &name, "--format", "json"]));
        let mut texts = Vec::new();
        descriptions(&spec, &mut texts);
        for t in texts {
            if t.contains("[`") || t.to_lowercase().contains("seeds") {
                bad.push(format!("{kind} `{name}`: {t}"));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let mut pending = vec![dir.path().to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if std::fs::read_to_string(&path)
                .unwrap()
                .to_lowercase()
                .contains("seeds")
            {
                bad.push(path.display().to_string());
            }
        }
    }
    let help = text(&run(&["--help"])) + &text(&run(&["docs", "--help"]));
    if help.to_lowercase().contains("seeds") {
        bad.push(help);
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
