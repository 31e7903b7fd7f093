//! `rivven-connect new`, through the real binary: each kind of crate, a
//! directory that is not empty, a name that breaks the rule. (`.ci/check-snippets`
//! builds and tests the generated crates.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn new(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .arg("new")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The rivven-connect tree of this test (the workspace root).
fn tree() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn each_kind_is_a_crate_with_connector_tests_and_binary() {
    let tmp = tempfile::tempdir().unwrap();
    for (kind, name, ty, derive) in [
        ("source", "ticker", "TickerSource", "SourceConfig"),
        ("sink", "my-printer", "MyPrinterSink", "SinkConfig"),
        ("transform", "add-env", "AddEnvTransform", "TransformConfig"),
    ] {
        let dir = tmp.path().join(kind);
        let out = new(&[kind, name, "--path", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{kind}: {}", text(&out));
        assert!(text(&out).contains("cargo test"), "{}", text(&out));

        let manifest = read(&dir, "Cargo.toml");
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{manifest}"
        );
        // The binary's own tree exists: path dependencies on it.
        let connect = tree().join("connect");
        assert!(
            manifest.contains(&format!("path = \"{}\"", connect.display())),
            "{manifest}"
        );
        assert!(manifest.contains("validator = \"0.21\""), "{manifest}");
        assert!(manifest.contains("rivven-connect-testing"), "{manifest}");

        let lib = read(&dir, "src/lib.rs");
        assert!(lib.contains(&format!("{derive})]")), "{lib}");
        assert!(lib.contains(&format!("name = \"{name}\"")), "{lib}");
        assert!(lib.contains(&format!("connector = {ty})]")), "{lib}");
        assert!(lib.contains(&format!("pub struct {ty}Config")), "{lib}");
        assert!(!lib.contains("{{"), "a placeholder is left: {lib}");

        let ident = name.replace('-', "_");
        let test = read(&dir, "tests/pipeline.rs");
        assert!(test.contains("TestHarness"), "{test}");
        assert!(test.contains(&format!("{ident}::")), "{test}");
        let compliance = read(&dir, "tests/compliance.rs");
        assert!(!compliance.contains("{{"), "{compliance}");
        assert!(read(&dir, "src/main.rs").contains("rivven_connect_cli::main()"));
    }
}

#[test]
fn rivven_path_is_the_path_dependency_and_must_be_a_source_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let tree = tree();
    let out = new(&[
        "source",
        "ticker",
        "--path",
        dir.to_str().unwrap(),
        "--rivven-path",
        tree.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let manifest = read(&dir, "Cargo.toml");
    let testing = tree.join("connect-testing");
    assert!(
        manifest.contains(&format!("path = \"{}\"", testing.display())),
        "{manifest}"
    );

    let elsewhere = tmp.path().join("d");
    let out = new(&[
        "sink",
        "out",
        "--path",
        elsewhere.to_str().unwrap(),
        "--rivven-path",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not a rivven-connect source tree"),
        "{}",
        text(&out)
    );
    assert!(!elsewhere.exists());
}

#[test]
fn refuses_a_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("busy");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let out = new(&["source", "ticker", "--path", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&dir.display().to_string()) && t.contains("not empty"),
        "{t}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "nothing written"
    );
    assert_eq!(read(&dir, "notes.txt"), "mine");

    // An empty directory is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = new(&["source", "ticker", "--path", empty.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(empty.join("src/lib.rs").is_file());
}

#[test]
fn a_bad_name_is_refused_with_the_rule() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["My_Source", "9lives", "a--b", "test"] {
        let dir = tmp.path().join("x");
        let out = new(&["source", bad, "--path", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
        let t = text(&out);
        assert!(
            t.contains(&format!("invalid connector name `{bad}`")),
            "{t}"
        );
        assert!(!dir.exists(), "{bad}: nothing written");
    }
    let out = new(&[
        "source",
        "My_Source",
        "--path",
        tmp.path().join("y").to_str().unwrap(),
    ]);
    assert!(
        text(&out).contains("lowercase ASCII letters and digits"),
        "{}",
        text(&out)
    );
    let out = new(&[
        "source",
        "test",
        "--path",
        tmp.path().join("y").to_str().unwrap(),
    ]);
    assert!(text(&out).contains("standard crate"), "{}", text(&out));

    let out = new(&["widget", "ticker"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
