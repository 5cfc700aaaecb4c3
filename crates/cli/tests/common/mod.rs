// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

//! Shared helpers for the integration tests: the `astrorim` binary and a
//! Python virtual environment holding the oracles (lenstronomy, astropy,
//! scikit-image), created by the tests themselves under `target/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Packages the oracle environment needs, pinned so that results are stable.
const REQUIREMENTS: &[&str] = &["lenstronomy==1.14.2", "astropy==8.0.2", "scikit-image==0.26.0", "coolest==0.1.11"];

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

/// Whether oracle comparisons must run: under CI (`CI=true`, which CI sets)
/// or with `ASTRORIM_REQUIRE_ORACLES=1`, an oracle environment that cannot be
/// built fails the test instead of skipping it.
fn oracles_required() -> bool {
    let set = |name: &str, value: &str| std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case(value));
    set("CI", "true") || set("ASTRORIM_REQUIRE_ORACLES", "1")
}

/// The oracle environment's Python, installing it on first use. Returns None
/// only when the package registry cannot be reached and oracles are not
/// required, after writing a one-line `SKIPPED` summary straight to the
/// terminal (a direct write to stderr is not captured by the test harness,
/// unlike `eprintln!`); any other installation failure fails the calling test,
/// and under CI so does an unreachable registry.
pub fn oracle_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let python = PYTHON
        .get_or_init(|| {
            let dir = venv_dir();
            let python = dir.join("bin").join("python");
            let marker = dir.join(format!("installed-{}", REQUIREMENTS.join("_")));
            if marker.exists() {
                return Ok(python);
            }
            let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            let venv = Command::new(&system).args(["-m", "venv", "--clear"]).arg(&dir).output();
            let failure = match venv {
                Ok(out) if out.status.success() => {
                    let out = Command::new(&python)
                        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                        .args(REQUIREMENTS)
                        .output()
                        .expect("pip runs");
                    (!out.status.success()).then(|| format!("pip install failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
                }
                Ok(out) => Some(format!("{system} -m venv failed: {}", String::from_utf8_lossy(&out.stderr).trim())),
                Err(e) => Some(format!("cannot run {system}: {e}")),
            };
            let Some(failure) = failure else {
                std::fs::write(&marker, b"ok").expect("write marker");
                return Ok(python);
            };
            let what = format!("the oracle environment ({}) could not be built", REQUIREMENTS.join(", "));
            if oracles_required() {
                panic!("{what}, and oracles are required (CI=true or ASTRORIM_REQUIRE_ORACLES=1): {failure}");
            }
            if registry_reachable(&system) {
                panic!("{what}: {failure}");
            }
            Err(format!("{what} and the package registry is unreachable ({failure})"))
        })
        .clone();
    match python {
        Ok(path) => Some(path),
        Err(why) => {
            use std::io::Write;
            let test = std::thread::current().name().unwrap_or("?").to_string();
            let line = format!("\nSKIPPED oracle comparison in {test}: {why}; CI=true makes this a failure\n");
            std::io::stderr().write_all(line.as_bytes()).ok();
            None
        }
    }
}

/// Runs an oracle script with the environment's Python and parses its JSON stdout.
pub fn run_oracle(python: &Path, script: &str, args: &[String]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle").join(script);
    let out = Command::new(python).arg(&script).args(args).output().expect("oracle runs");
    assert!(out.status.success(), "{} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("oracle printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
