//! `astrorim simulate`: datasets numpy can read, previews, and bad input.

mod common;

use common::{oracle_python, run_astrorim, run_oracle};

#[test]
fn mix_dataset_reloads_in_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let o = run_astrorim(&["simulate", "--variant", "mix", "-n", "14", "--shard-size", "5", "--seed", "3", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let Some(python) = oracle_python() else { return };
    let r = run_oracle(&python, "check_dataset.py", &[out.to_string_lossy().into_owned()]);
    assert_eq!(r["samples"].as_u64(), Some(14));
    assert!(r["theta_e_max_abs_diff"].as_f64().unwrap() < 1e-9);
    assert!(r["variants"].as_array().unwrap().len() >= 3, "a mix of 14 should hold several variants: {r}");
}

#[test]
fn preview_writes_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("v6.png");
    let o = run_astrorim(&["simulate", "--variant", "v6", "--preview", png.to_str().unwrap(), "--preview-count", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
}

fn assert_rejected(args: &[&str], expected: &str) {
    let o = run_astrorim(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "'{expected}' not in {stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn bad_input_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = out.to_str().unwrap();
    assert_rejected(&["simulate", "--variant", "v7", "-n", "3", "--out", o], "unknown variant");
    assert_rejected(&["simulate", "--variant", "v1", "-n", "0", "--out", o], "n: must be at least 1");
    assert_rejected(&["simulate", "--variant", "v1", "-n", "3", "--out", o, "--shard", "3/2"], "3/2");
    assert_rejected(&["simulate", "--variant", "v1", "-n", "3", "--out", "/proc/astrorim/x"], "/proc/astrorim/x");
    assert_rejected(&["simulate", "--variant", "v1", "--mix-weights", "1,2", "-n", "3", "--out", o], "mix-weights");
    let v1 = include_str!("../../sim/presets/v1.toml");
    for (edit, field) in [
        (v1.replace("read_noise = { uniform = [0.8, 1.8] }", ""), "read_noise"),
        (v1.replace("psf_fwhm = { uniform = [0.06, 0.10] }", "psf_fwhm = { uniform = [-0.06, 0.10] }"), "regimes[0].psf_fwhm"),
        (v1.replace("ellipticity = { uniform = [0.0, 0.3] }", "ellipticity = { uniform = [-0.2, 0.3] }"), "lens.ellipticity"),
        (v1.replace("[lens]", "[lens]\nq = 1.2"), "q"),
    ] {
        let preset = dir.path().join("p.toml");
        std::fs::write(&preset, edit).unwrap();
        assert_rejected(&["simulate", "--preset", preset.to_str().unwrap(), "-n", "3", "--out", o], field);
    }
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(), "nothing may be written for rejected runs");
}

#[test]
fn user_preset_file_generates() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("v7.toml");
    std::fs::write(
        &preset,
        include_str!("../../sim/presets/v1.toml")
            .replace("name = \"v1\"", "name = \"v7\"")
            .replace("size = 96", "size = 32")
            .replace("source_size = 96", "source_size = 32"),
    )
    .unwrap();
    let out = dir.path().join("d");
    let o = run_astrorim(&["simulate", "--preset", preset.to_str().unwrap(), "-n", "3", "--out", out.to_str().unwrap(), "--threads", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("shard-00000.npz").exists() && out.join("truth.csv").exists());
    assert!(std::fs::read_to_string(out.join("truth.csv")).unwrap().contains(",v7,"));
}
