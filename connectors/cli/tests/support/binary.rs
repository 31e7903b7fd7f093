//! Running the real `rivven-connect` binary from a test (shared by the CLI
//! test files: `#[path = "support/binary.rs"] mod binary;`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::process::{Command, Output};

/// The binary, with no colour, no `RUST_LOG` and no configuration from the
/// environment.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rivven-connect"));
    c.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("RIVVEN_CONNECT_CONFIG");
    c
}

/// Run it with `args` to its end.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// stdout then stderr, as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// stdout as one JSON document.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(out)))
}
