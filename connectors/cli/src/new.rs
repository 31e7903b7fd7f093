//! `rivven-connect new {source|sink|transform} <name>`: writes a connector
//! crate that builds and passes its tests as it is — the connector with a
//! derived config, a `TestHarness` test, a compliance test and a `main.rs`
//! for a custom binary. The templates are the files under `templates/`.

use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

use super::Outcome;

/// Arguments of `rivven-connect new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// What the connector is.
    kind: NewKind,
    /// Connector name (also the crate's): lowercase words joined by hyphens, like `my-source`.
    name: String,
    /// Directory of the new crate (default: `./<name>`); must be missing or empty.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// A rivven-connect source tree to depend on by path (default: the tree
    /// this binary was built from when it still exists, else the registry).
    #[arg(long, value_name = "PATH")]
    rivven_path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum NewKind {
    /// A source: reads from a system, emits events.
    Source,
    /// A sink: writes events to a system.
    Sink,
    /// A transform: changes, drops or multiplies events.
    Transform,
}

impl NewKind {
    fn word(self) -> &'static str {
        match self {
            NewKind::Source => "source",
            NewKind::Sink => "sink",
            NewKind::Transform => "transform",
        }
    }

    /// `(src/lib.rs, tests/pipeline.rs, tests/compliance.rs)`.
    fn templates(self) -> [&'static str; 3] {
        match self {
            NewKind::Source => [
                include_str!("../templates/source.lib.rs.tmpl"),
                include_str!("../templates/source.test.rs.tmpl"),
                include_str!("../templates/source.compliance.rs.tmpl"),
            ],
            NewKind::Sink => [
                include_str!("../templates/sink.lib.rs.tmpl"),
                include_str!("../templates/sink.test.rs.tmpl"),
                include_str!("../templates/sink.compliance.rs.tmpl"),
            ],
            NewKind::Transform => [
                include_str!("../templates/transform.lib.rs.tmpl"),
                include_str!("../templates/transform.test.rs.tmpl"),
                include_str!("../templates/transform.compliance.rs.tmpl"),
            ],
        }
    }
}

const CARGO_TOML: &str = include_str!("../templates/Cargo.toml.tmpl");
const MAIN_RS: &str = include_str!("../templates/main.rs.tmpl");

/// Why `new` wrote nothing.
#[derive(Debug, thiserror::Error)]
enum NewError {
    #[error("invalid connector name `{name}`: {rule}")]
    Name { name: String, rule: &'static str },
    #[error("`{}` exists and is not empty: choose another directory with --path", .0.display())]
    NotEmpty(PathBuf),
    #[error("`{}` is not a rivven-connect source tree (no connect/Cargo.toml in it)", .0.display())]
    NotASourceTree(PathBuf),
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl NewError {
    fn outcome(&self) -> Outcome {
        match self {
            NewError::Io { .. } => Outcome::Failure,
            _ => Outcome::ConfigError,
        }
    }
}

pub(crate) fn run(args: &NewArgs) -> Outcome {
    match write_crate(args) {
        Ok(dir) => {
            println!(
                "created the {} `{}` in {}: src/lib.rs (the connector), src/main.rs (a \
                 rivven-connect binary with it), tests/pipeline.rs, tests/compliance.rs",
                args.kind.word(),
                args.name,
                dir.display()
            );
            println!("next: cd {} && cargo test", dir.display());
            Outcome::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.outcome()
        }
    }
}

fn write_crate(args: &NewArgs) -> Result<PathBuf, NewError> {
    check_name(&args.name)?;
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let not_empty = |e: std::io::Error| NewError::Io {
        path: dir.clone(),
        source: e,
    };
    if dir.exists() && std::fs::read_dir(&dir).map_err(not_empty)?.next().is_some() {
        return Err(NewError::NotEmpty(dir));
    }
    let deps = Dependencies::find(args.rivven_path.as_deref())?;
    let vars = Vars::new(&args.name, args.kind, &deps);
    let [lib, test, compliance] = args.kind.templates();
    let files = [
        ("Cargo.toml", CARGO_TOML),
        ("src/lib.rs", lib),
        ("src/main.rs", MAIN_RS),
        ("tests/pipeline.rs", test),
        ("tests/compliance.rs", compliance),
        (".gitignore", "/target\n"),
    ];
    for (file, template) in files {
        let path = dir.join(file);
        let io = |source| NewError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, vars.fill(template)).map_err(io)?;
    }
    format_sources(&dir);
    Ok(dir)
}

/// `rustfmt` on the generated Rust files when it is installed (the templates are
/// formatted for short names; a long name can need other line breaks).
fn format_sources(dir: &Path) {
    let files = [
        "src/lib.rs",
        "src/main.rs",
        "tests/pipeline.rs",
        "tests/compliance.rs",
    ];
    // Best effort: without rustfmt the files are still valid, only perhaps not formatted.
    let _ = std::process::Command::new("rustfmt")
        .args(["--edition", "2021"])
        .args(files.iter().map(|f| dir.join(f)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// The rule a connector name follows (it is the crate's name too).
const NAME_RULE: &str = "a name is 1 to 64 lowercase ASCII letters and digits, in words \
                         joined by single hyphens, starting with a letter (like `my-source`)";

fn check_name(name: &str) -> Result<(), NewError> {
    let err = |rule| {
        Err(NewError::Name {
            name: name.to_string(),
            rule,
        })
    };
    let words_ok = name.split('-').all(|w| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if name.is_empty()
        || name.len() > 64
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
        || !words_ok
    {
        return err(NAME_RULE);
    }
    const RESERVED: &[&str] = &[
        "alloc",
        "core",
        "proc-macro",
        "std",
        "test",
        "self",
        "super",
        "crate",
        "rivven-connect",
    ];
    let ident = name.replace('-', "_");
    if RESERVED.contains(&name) || syn_like_keyword(&ident) {
        return err("the name of a standard crate, a Rust keyword or rivven-connect itself cannot name a crate");
    }
    Ok(())
}

/// Rust's strict and reserved keywords (a crate named one cannot be `use`d).
fn syn_like_keyword(ident: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern",
        "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "static", "struct", "trait", "true", "type", "unsafe",
        "use", "where", "while", "abstract", "become", "box", "do", "final", "macro", "override",
        "priv", "try", "typeof", "unsized", "virtual", "yield",
    ];
    KEYWORDS.contains(&ident)
}

/// How the new crate depends on the rivven crates: the value of each
/// dependency in `Cargo.toml`.
struct Dependencies {
    connect: String,
    cli: String,
    testing: String,
}

impl Dependencies {
    fn find(rivven_path: Option<&Path>) -> Result<Self, NewError> {
        let tree = match rivven_path {
            Some(path) => {
                if !path.join("connect/Cargo.toml").is_file() {
                    return Err(NewError::NotASourceTree(path.to_path_buf()));
                }
                Some(std::path::absolute(path).map_err(|source| NewError::Io {
                    path: path.to_path_buf(),
                    source,
                })?)
            }
            // The tree this binary was built from, if it is still there.
            None => {
                let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
                built_from
                    .join("connect/Cargo.toml")
                    .is_file()
                    .then(|| built_from.canonicalize().ok())
                    .flatten()
            }
        };
        let version = registry_version();
        let dep = |dir: &str| match &tree {
            Some(tree) => format!(
                "{{ version = \"{version}\", path = {} }}",
                toml_string(&tree.join(dir).display().to_string())
            ),
            None => format!("\"{version}\""),
        };
        Ok(Self {
            connect: dep("connect"),
            cli: dep("connectors/cli"),
            testing: dep("connect-testing"),
        })
    }
}

/// `major.minor` of this binary's version (`0.1` for 0.1.x).
fn registry_version() -> String {
    let version = env!("CARGO_PKG_VERSION");
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// The template variables.
struct Vars(Vec<(&'static str, String)>);

impl Vars {
    fn new(name: &str, kind: NewKind, deps: &Dependencies) -> Self {
        let ident = name.replace('-', "_");
        let mut type_name: String = name.split('-').map(capitalized).collect();
        let suffix = capitalized(kind.word());
        if !type_name.ends_with(&suffix) {
            type_name.push_str(&suffix);
        }
        Self(vec![
            ("{{crate}}", name.to_string()),
            ("{{crate_ident}}", ident.clone()),
            ("{{name}}", name.to_string()),
            ("{{stream}}", ident),
            ("{{Type}}", type_name),
            ("{{rivven-connect}}", deps.connect.clone()),
            ("{{rivven-connect-cli}}", deps.cli.clone()),
            ("{{rivven-connect-testing}}", deps.testing.clone()),
        ])
    }

    fn fill(&self, template: &str) -> String {
        self.0
            .iter()
            .fold(template.to_string(), |text, (key, value)| {
                text.replace(key, value)
            })
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for ok in ["ticker", "my-source", "s3-sink", "a1"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "My", "-a", "a-", "a--b", "a_b", "1a", "test", "std", "fn", "über",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn type_names_end_in_the_kind_once() {
        let deps = Dependencies {
            connect: String::new(),
            cli: String::new(),
            testing: String::new(),
        };
        let fill = |name, kind| Vars::new(name, kind, &deps).fill("{{Type}}");
        assert_eq!(fill("ticker", NewKind::Source), "TickerSource");
        assert_eq!(fill("my-source", NewKind::Source), "MySource");
        assert_eq!(fill("s3", NewKind::Sink), "S3Sink");
        assert_eq!(fill("add-env", NewKind::Transform), "AddEnvTransform");
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
