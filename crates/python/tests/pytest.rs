//! Runs the Python package's test suite (`tests/python`, pytest) against the
//! extension this build produced, in a virtual environment of its own under
//! `target/` (numpy, pytest, astropy and lenstronomy as oracles, Dask,
//! matplotlib for the tutorial). The package is assembled from
//! `python/astrorim` and the compiled library, as `pip install` lays it out;
//! the command-line tool to compare against is the workspace's `astrorim`
//! binary (built by `cargo test --workspace`; build it first when running
//! this crate's tests alone).

#[path = "../../cli/tests/common/venv.rs"]
mod venv;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Pinned so that results are stable.
const REQUIREMENTS: &[&str] =
    &["numpy==2.4.6", "pytest==9.2.0", "astropy==8.0.2", "lenstronomy==1.14.2", "dask[distributed]==2026.8.0", "matplotlib==3.11.2"];

/// The directory of this build's artifacts (`target/<profile>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    exe.parent().and_then(Path::parent).expect("tests live in target/<profile>/deps").to_path_buf()
}

/// The package laid out as installed: `dir/astrorim/{*.py, *.pyi, py.typed, _astrorim.abi3.so}`.
fn assemble_package(dir: &Path) {
    let package = dir.join("astrorim");
    if dir.exists() {
        std::fs::remove_dir_all(dir).expect("remove the previous package");
    }
    std::fs::create_dir_all(&package).expect("create the package directory");
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("python").join("astrorim");
    for entry in std::fs::read_dir(&sources).expect("python/astrorim exists") {
        let path = entry.expect("a directory entry").path();
        if path.is_file() {
            std::fs::copy(&path, package.join(path.file_name().expect("a file name"))).expect("copy a package file");
        }
    }
    let library = profile_dir().join("deps").join(if cfg!(target_os = "macos") { "lib_astrorim.dylib" } else { "lib_astrorim.so" });
    assert!(library.exists(), "{}: the extension was not built", library.display());
    std::fs::copy(&library, package.join("_astrorim.abi3.so")).expect("copy the extension");
}

#[test]
fn python_package_test_suite() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let Some(python) = venv::python_env("python-venv", REQUIREMENTS, tmp) else { return };
    let binary = profile_dir().join("astrorim");
    assert!(binary.exists(), "{}: build the command-line tool first (cargo build --release -p astrorim-cli)", binary.display());
    let package = tmp.join("python-package");
    assemble_package(&package);
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", "tests/python"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PYTHONPATH", &package)
        .env("ASTRORIM_BIN", &binary)
        .env("MPLBACKEND", "Agg")
        .output()
        .expect("pytest runs");
    let report = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the Python test suite failed:\n{report}");
    println!("{report}");
}
