//! Python virtual environments that the integration tests build for
//! themselves under `target/` (the oracles; the Python package's test
//! suite). Shared by the CLI's tests and, through `#[path]`, the Python
//! crate's: it uses nothing of either crate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

fn registry_reachable(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=15)"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether oracle comparisons must run: under CI (`CI=true`, which CI sets)
/// or with `ASTRORIM_REQUIRE_ORACLES=1`, an environment that cannot be
/// built fails the test instead of skipping it.
pub fn oracles_required() -> bool {
    let set = |name: &str, value: &str| std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case(value));
    set("CI", "true") || set("ASTRORIM_REQUIRE_ORACLES", "1")
}

fn build(dir: &Path, requirements: &[&str]) -> Result<PathBuf, String> {
    let python = dir.join("bin").join("python");
    let marker = dir.join(format!("installed-{}", requirements.join("_")));
    if marker.exists() {
        return Ok(python);
    }
    let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let venv = Command::new(&system).args(["-m", "venv", "--clear"]).arg(dir).output();
    let failure = match venv {
        Ok(out) if out.status.success() => {
            let out = Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(requirements)
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
    let what = format!("the Python environment {} ({}) could not be built", dir.display(), requirements.join(", "));
    if oracles_required() {
        panic!("{what}, and oracles are required (CI=true or ASTRORIM_REQUIRE_ORACLES=1): {failure}");
    }
    if registry_reachable(&system) {
        panic!("{what}: {failure}");
    }
    Err(format!("{what} and the package registry is unreachable ({failure})"))
}

/// The Python of the environment `name` under `tmp` holding `requirements`,
/// installing it on first use. Returns None only when the package registry
/// cannot be reached and oracles are not required, after writing a one-line
/// `SKIPPED` summary straight to the terminal (a direct write to stderr is
/// not captured by the test harness, unlike `eprintln!`); any other
/// installation failure fails the calling test, and under CI so does an
/// unreachable registry.
pub fn python_env(name: &str, requirements: &[&str], tmp: &Path) -> Option<PathBuf> {
    static ENVS: Mutex<Option<HashMap<String, Result<PathBuf, String>>>> = Mutex::new(None);
    let python = {
        let mut envs = ENVS.lock().unwrap_or_else(|e| e.into_inner());
        let envs = envs.get_or_insert_with(HashMap::new);
        envs.entry(name.to_string()).or_insert_with(|| build(&tmp.join(name), requirements)).clone()
    };
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
