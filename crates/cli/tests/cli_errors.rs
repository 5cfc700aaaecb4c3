//! Bad input never panics: one line naming the problem, exit status 2, and
//! no output file left behind.

mod common;

use common::run_astrorim;

const GOOD_GRID: &str = r#""grid": {"nx": 16, "ny": 16, "pixel_scale": 0.1, "supersampling": 2}"#;

/// Renders `scene` and returns (exit code, stderr); asserts no output exists.
fn render_scene(scene: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let scene_path = dir.path().join("scene.json");
    std::fs::write(&scene_path, scene).unwrap();
    let out_path = dir.path().join("out.fits");
    let out = run_astrorim(&["render", scene_path.to_str().unwrap(), "-o", out_path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("scene.json")], "partial output left behind");
    }
    (out.status.code().unwrap_or(-1), stderr)
}

fn assert_rejected(scene: &str, expected: &str) {
    let (code, stderr) = render_scene(scene);
    assert_eq!(code, 2, "exit status for {scene}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.contains(expected), "'{expected}' not in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn malformed_scenes_are_rejected_with_the_field_named() {
    assert_rejected("{ not json", "invalid JSON");
    assert_rejected(r#"{"lens": []}"#, "grid");
    assert_rejected(r#"{"grid": {"nx": 0, "ny": 16, "pixel_scale": 0.1}}"#, "grid.nx");
    assert_rejected(r#"{"grid": {"nx": 16, "ny": 16, "pixel_scale": -0.1}}"#, "grid.pixel_scale");
    assert_rejected(&format!(r#"{{{GOOD_GRID}, "lens": [{{"type": "PJAFFE", "theta_E": 1}}]}}"#), "lens[0].type");
    assert_rejected(&format!(r#"{{{GOOD_GRID}, "lens": [{{"type": "SIE", "e1": 0.1}}]}}"#), "lens[0] (SIE).theta_E");
    assert_rejected(&format!(r#"{{{GOOD_GRID}, "source": [{{"type": "SERSIC", "amp": 1, "R_sersic": 0.1}}]}}"#), "n_sersic");
    assert_rejected(&format!(r#"{{{GOOD_GRID}, "psf": {{"type": "PIXEL", "kernel": [[1, 2], [3, 4]]}}}}"#), "psf.kernel");
    assert_rejected(&format!(r#"{{{GOOD_GRID}, "psf": {{"type": "PIXEL", "kernel": [[1, 2, 3]]}}}}"#), "psf.kernel");
    assert_rejected(&format!(r#"{{{GOOD_GRID}, "psf": {{"type": "MOFFAT", "fwhm": 0.1}}}}"#), "psf.beta");
    assert_rejected(&format!(r#"{{{GOOD_GRID}, "psf": {{"type": "FITS", "file": "nowhere.fits"}}}}"#), "nowhere.fits");
}

#[test]
fn corrupt_psf_fits_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("psf.fits"), b"SIMPLE  =                    T / garbage").unwrap();
    let scene = format!(r#"{{{GOOD_GRID}, "psf": {{"type": "FITS", "file": "psf.fits"}}}}"#);
    std::fs::write(dir.path().join("scene.json"), scene).unwrap();
    let out_path = dir.path().join("out.fits");
    let out = run_astrorim(&["render", dir.path().join("scene.json").to_str().unwrap(), "-o", out_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("psf.fits"));
    assert!(!out_path.exists());
}

#[test]
fn missing_scene_and_unwritable_output_are_rejected() {
    let out = run_astrorim(&["render", "/nonexistent/scene.json", "-o", "/tmp/x.fits"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/scene.json"));
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("scene.json");
    std::fs::write(&scene, format!("{{{GOOD_GRID}}}")).unwrap();
    let out = run_astrorim(&["render", scene.to_str().unwrap(), "-o", "/nonexistent/dir/out.fits"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dir/out.fits"));
}

#[test]
fn psf_kernel_from_fits_renders() {
    let dir = tempfile::tempdir().unwrap();
    // A 3×3 kernel rendered by astrorim itself, read back as the PSF.
    let kernel_scene = r#"{"grid": {"nx": 3, "ny": 3, "pixel_scale": 0.1}, "lens_light": [{"type": "GAUSSIAN", "amp": 1, "sigma": 0.1}]}"#;
    std::fs::write(dir.path().join("k.json"), kernel_scene).unwrap();
    let k = dir.path().join("k.fits");
    assert!(run_astrorim(&["render", dir.path().join("k.json").to_str().unwrap(), "-o", k.to_str().unwrap()]).status.success());
    let scene = format!(
        r#"{{{GOOD_GRID}, "lens_light": [{{"type": "GAUSSIAN", "amp": 1, "sigma": 0.2}}], "psf": {{"type": "FITS", "file": "k.fits"}}}}"#
    );
    std::fs::write(dir.path().join("s.json"), scene).unwrap();
    let out = run_astrorim(&["render", dir.path().join("s.json").to_str().unwrap(), "-o", dir.path().join("s.fits").to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn cosmo_rejects_unordered_redshifts_and_bad_cosmology() {
    for args in [
        vec!["cosmo", "--z-lens", "0.6", "--z-source", "0.5"],
        vec!["cosmo", "--z-lens", "0.5", "--z-source", "0.5"],
        vec!["cosmo", "--z-lens", "-0.1", "--z-source", "0.5"],
        vec!["cosmo", "--z-lens", "0.3", "--z-source", "1", "--omega-m", "1.5"],
        vec!["cosmo", "--z-lens", "0.3", "--z-source", "1", "--theta-e", "-1"],
        vec!["cosmo", "--z-lens", "abc", "--z-source", "1"],
    ] {
        let out = run_astrorim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn cosmo_json_has_the_documented_keys() {
    let out = run_astrorim(&["cosmo", "--z-lens", "0.295", "--z-source", "0.658", "--theta-e", "1.9", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["d_lens_mpc", "d_source_mpc", "d_lens_source_mpc", "sigma_crit_msun_per_arcsec2", "sigma_v_sis_kms", "mass_einstein_msun"] {
        assert!(v[key].as_f64().is_some(), "{key} missing");
    }
    // Published: RXJ1131, σ_v ≈ 360.7 km/s, M_E ≈ 7.95e11 M☉ (AstroRIM Table 1).
    assert!((v["sigma_v_sis_kms"].as_f64().unwrap() - 360.7).abs() < 0.5);
    assert!((v["mass_einstein_msun"].as_f64().unwrap() / 7.95e11 - 1.0).abs() < 5e-3);
}

/// Runs astrorim and asserts a one-line error with status 2 containing `expected`.
fn assert_command_rejected(args: &[&str], expected: &str) {
    let out = run_astrorim(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.contains(expected), "'{expected}' not in: {stderr}");
}

#[test]
fn train_and_evaluate_reject_bad_configs_models_and_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::write(p("bad.toml"), "data = \"d\"\nout = \"o\"\nbatch_size = -3\n").unwrap();
    assert_command_rejected(&["train", "--config", &p("bad.toml")], "batch_size");
    std::fs::write(p("unknown.toml"), "data = \"d\"\nout = \"o\"\nlearning_rate = 0.1\n").unwrap();
    assert_command_rejected(&["train", "--config", &p("unknown.toml")], "learning_rate");
    std::fs::write(p("nodata.toml"), format!("data = {:?}\nout = {:?}\n", p("missing"), p("run"))).unwrap();
    assert_command_rejected(&["train", "--config", &p("nodata.toml")], "manifest.json");
    assert_command_rejected(&["evaluate", "--model", &p("nomodel"), "--data", &p("missing"), "--out", &p("report")], "model.json");
    assert!(!dir.path().join("report").exists());
    // A damaged shard is refused with the file named.
    let data = p("data");
    let out = run_astrorim(&["simulate", "--variant", "v1", "-n", "4", "--shard-size", "2", "--out", &data, "--threads", "1"]);
    assert!(out.status.success());
    let shard = dir.path().join("data").join("shard-00000.npz");
    let mut bytes = std::fs::read(&shard).unwrap();
    let at = bytes.windows(6).position(|w| w == b"image.").unwrap() + 600;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&shard, bytes).unwrap();
    std::fs::write(p("damaged.toml"), format!("data = {data:?}\nout = {:?}\nvalidation_chunks = 1\n", p("run2"))).unwrap();
    assert_command_rejected(&["train", "--config", &p("damaged.toml")], "shard-00000.npz: array image is unreadable");
}
