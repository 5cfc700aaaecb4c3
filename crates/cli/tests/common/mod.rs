// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

//! Shared helpers for the integration tests: the `astrorim` binary and a
//! Python virtual environment holding the oracles (lenstronomy, astropy,
//! scikit-image), created by the tests themselves under `target/`.

pub mod venv;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Packages the oracle environment needs, pinned so that results are stable.
const REQUIREMENTS: &[&str] = &["lenstronomy==1.14.2", "astropy==8.0.2", "scikit-image==0.26.0", "coolest==0.1.11"];

pub fn astrorim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_astrorim"))
}

/// Runs `astrorim` with `args`, returning its output.
pub fn run_astrorim(args: &[&str]) -> Output {
    astrorim().args(args).output().expect("the astrorim binary runs")
}

/// The oracle environment's Python (see [`venv::python_env`]).
pub fn oracle_python() -> Option<PathBuf> {
    venv::python_env("oracle-venv", REQUIREMENTS, Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// Runs an oracle script with the environment's Python and parses its JSON stdout.
pub fn run_oracle(python: &Path, script: &str, args: &[String]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle").join(script);
    let out = Command::new(python).arg(&script).args(args).output().expect("oracle runs");
    assert!(out.status.success(), "{} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("oracle printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
