//! [`test_python`]: the Python interpreter of the test clients' venv.
//!
//! Some integration tests check what a connector wrote with an independent
//! client written in Python (e.g. `pika` for RabbitMQ, `nats-py` for NATS).
//! `.ci/install-test-deps` creates a virtual environment for them outside
//! the clone, at `$RIVVEN_TEST_VENV` or, when that is unset,
//! `$HOME/.cache/rivven-connect/test-venv`, and installs the modules there.

use std::path::PathBuf;
use std::process::Command;

use super::ServiceError;

/// The environment variable naming the venv (default
/// `$HOME/.cache/rivven-connect/test-venv`).
pub const TEST_VENV_VAR: &str = "RIVVEN_TEST_VENV";

/// The command that creates the venv and installs the test clients.
pub const TEST_VENV_INSTALL: &str = ".ci/install-test-deps";

/// Where the test clients' venv is: `$RIVVEN_TEST_VENV`, else
/// `$HOME/.cache/rivven-connect/test-venv`.
pub fn test_venv() -> PathBuf {
    if let Some(dir) = std::env::var_os(TEST_VENV_VAR).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/rivven-connect/test-venv")
}

/// The venv's `python`, once every module of `modules` imports in it.
///
/// A missing venv or module is an error that says how to install it, so
/// that a test needing the client fails (never skips) with the fix.
///
/// ```no_run
/// let python = rivven_connect_testing::services::test_python(&["pika"]).unwrap();
/// let out = std::process::Command::new(python).args(["-c", "import pika"]).output().unwrap();
/// assert!(out.status.success());
/// ```
pub fn test_python(modules: &[&str]) -> Result<PathBuf, ServiceError> {
    let venv = test_venv();
    let python = venv.join("bin/python");
    if !python.is_file() {
        return Err(ServiceError::Setup {
            service: "python test clients",
            message: format!(
                "no venv at {} (${TEST_VENV_VAR}): run `{TEST_VENV_INSTALL}`",
                venv.display()
            ),
        });
    }
    let imports: String = modules.iter().map(|m| format!("import {m}\n")).collect();
    let out = Command::new(&python)
        .args(["-c", &imports])
        .output()
        .map_err(|e| ServiceError::io(format!("running {}", python.display()), e))?;
    if !out.status.success() {
        return Err(ServiceError::Setup {
            service: "python test clients",
            message: format!(
                "the venv at {} lacks one of {modules:?} ({}): run `{TEST_VENV_INSTALL}`",
                venv.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(python)
}
