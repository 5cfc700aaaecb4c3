// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

//! Shared helpers for the integration tests: the `astrorim` binary and a
//! Python virtual environment holding the oracles (lenstronomy, astropy,
//! scikit-image), created by the tests themselves under `target/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Packages the oracle environment needs, pinned so that results are stable.
const REQUIREMENTS: &[&str] = &["lenstronomy==1.14.2", "astropy==8.0.2", "scikit-image==0.26.0"];

pub fn astrorim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_astrorim"))
}

/// Runs `astrorim` with `args`, returning its output.
pub fn run_astrorim(args: &[&str]) -> Output {
    astrorim().args(args).output().expect("the astrorim binary runs")
}

fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("oracle-venv")
}

fn registry_reachable(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=15)"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The oracle environment's Python, installing it on first use. Returns None
/// (after printing why) only when the package registry cannot be reached;
/// any other installation failure fails the calling test.
pub fn oracle_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let dir = venv_dir();
            let python = dir.join("bin").join("python");
            let marker = dir.join(format!("installed-{}", REQUIREMENTS.join("_")));
            if marker.exists() {
                return Some(python);
            }
            let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            let status = Command::new(&system).args(["-m", "venv", "--clear"]).arg(&dir).status().expect("python3 runs");
            assert!(status.success(), "cannot create a virtual environment with {system} -m venv");
            let out = Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(REQUIREMENTS)
                .output()
                .expect("pip runs");
            if !out.status.success() {
                if !registry_reachable(&system) {
                    eprintln!("SKIPPED oracle comparison: the Python package registry is unreachable, so lenstronomy cannot be installed");
                    return None;
                }
                panic!("pip install {:?} failed:\n{}", REQUIREMENTS, String::from_utf8_lossy(&out.stderr));
            }
            std::fs::write(&marker, b"ok").expect("write marker");
            Some(python)
        })
        .clone()
}

/// Runs an oracle script with the environment's Python and parses its JSON stdout.
pub fn run_oracle(python: &Path, script: &str, args: &[String]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle").join(script);
    let out = Command::new(python).arg(&script).args(args).output().expect("oracle runs");
    assert!(out.status.success(), "{} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("oracle printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
