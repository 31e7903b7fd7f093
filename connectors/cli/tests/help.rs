//! Each subcommand's help shows only the options it takes, and an option
//! given before a subcommand that does not take it is a usage error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/binary.rs"]
mod binary;

use binary::run;

fn help(command: &str) -> String {
    let out = run(&[command, "--help"]);
    assert_eq!(out.status.code(), Some(0), "{command} --help");
    String::from_utf8(out.stdout).unwrap()
}

/// The long option names a help text lists.
fn options(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-").map(|_| l)?;
            l.split([' ', ','])
                .find(|w| w.starts_with("--"))
                .map(|w| w.trim_end_matches("...").to_string())
        })
        .collect()
}

#[test]
fn each_subcommand_lists_only_the_options_it_takes() {
    let cases: &[(&str, &[&str])] = &[
        (
            "run",
            &[
                "--config",
                "--dry-run",
                "--format",
                "--verbose",
                "--quiet",
                "--log-format",
            ],
        ),
        (
            "check",
            &[
                "--config",
                "--source",
                "--sink",
                "--format",
                "--verbose",
                "--quiet",
                "--log-format",
            ],
        ),
        ("validate", &["--config", "--format"]),
        (
            "discover",
            &[
                "--config",
                "--format",
                "--verbose",
                "--quiet",
                "--log-format",
            ],
        ),
        ("status", &["--config", "--url", "--format"]),
        ("connectors", &["--search", "--format"]),
        ("spec", &["--format"]),
        ("schema", &["--format"]),
        ("init", &[]),
    ];
    for (command, expected) in cases {
        let text = help(command);
        let mut listed = options(&text);
        listed.retain(|o| o != "--help" && o != "--version");
        assert_eq!(&listed, expected, "`{command} --help`:\n{text}");
        assert!(!text.contains("module docs"), "{text}");
    }
}

#[cfg(feature = "postgres")]
#[test]
fn the_legacy_postgres_mode_takes_no_config_or_format() {
    let text = help("postgres");
    let listed = options(&text);
    for absent in ["--config", "--format"] {
        assert!(!listed.iter().any(|o| o == absent), "{text}");
    }
    for present in [
        "--connection",
        "--slot",
        "--publication",
        "--output",
        "--quiet",
    ] {
        assert!(listed.iter().any(|o| o == present), "{present}: {text}");
    }
    assert!(!text.contains("module docs"), "{text}");
}

#[test]
fn options_may_come_before_the_subcommand_where_it_takes_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "sources:\n  g: { connector: datagen, config: { pattern: sequence, max_events: 1 } }\n\
         sinks:\n  o: { connector: stdout }\npipelines:\n  p: { source: g, sink: o }\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    for args in [
        &["-c", c, "validate"][..],
        &["validate", "-c", c],
        &["--format", "json", "validate", "--config", c],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The subcommand's own value wins over one given before it.
    let out = run(&["-c", "/nonexistent.yaml", "validate", "-c", c]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (args, option, command) in [
        (&["-c", c, "spec", "file"][..], "--config", "spec"),
        (&["--format", "json", "init"], "--format", "init"),
        (&["-q", "spec", "file"], "--quiet", "spec"),
    ] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("`{option}` is not an option of `{command}`")),
            "{args:?}: {stderr}"
        );
    }
}
