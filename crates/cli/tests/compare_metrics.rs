//! `astrorim compare` against scikit-image 0.26 on fixed arrays.

mod common;

use common::{oracle_python, run_astrorim, run_oracle};

fn write_scene_image(dir: &std::path::Path, name: &str, scene: &str) -> String {
    let json = dir.join(format!("{name}.json"));
    std::fs::write(&json, scene).unwrap();
    let fits = dir.join(format!("{name}.fits"));
    let o = run_astrorim(&["render", json.to_str().unwrap(), "-o", fits.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fits.to_string_lossy().into_owned()
}

#[test]
fn metrics_match_scikit_image() {
    let Some(python) = oracle_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let grid = r#""grid": {"nx": 40, "ny": 33, "pixel_scale": 0.05, "supersampling": 2}"#;
    let a = write_scene_image(
        dir.path(),
        "a",
        &format!(
            r#"{{{grid}, "lens": [{{"type": "SIE", "theta_E": 0.6, "e1": 0.1, "e2": 0.05}}],
        "source": [{{"type": "SERSIC_ELLIPSE", "amp": 10, "R_sersic": 0.1, "n_sersic": 1.5, "e1": 0.2, "e2": 0.0, "center_x": 0.05}}],
        "lens_light": [{{"type": "GAUSSIAN", "amp": 0.3, "sigma": 0.3}}]}}"#
        ),
    );
    let b = write_scene_image(
        dir.path(),
        "b",
        &format!(
            r#"{{{grid}, "lens": [{{"type": "SIE", "theta_E": 0.65, "e1": 0.05, "e2": 0.05}}],
        "source": [{{"type": "SERSIC_ELLIPSE", "amp": 10, "R_sersic": 0.12, "n_sersic": 1.0, "e1": 0.1, "e2": 0.1, "center_x": 0.02}}],
        "psf": {{"type": "GAUSSIAN", "fwhm": 0.12}}}}"#
        ),
    );
    for how in ["minmax", "max", "none"] {
        let o = run_astrorim(&["compare", &a, &b, "--normalize", how, "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let ours: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let theirs = run_oracle(&python, "skimage_metrics.py", &[a.clone(), b.clone(), how.to_string()]);
        for key in ["mse", "ssim", "ssim_uniform7", "psnr"] {
            let (x, y) = (ours[key].as_f64().unwrap(), theirs[key].as_f64().unwrap());
            let tol = if key == "psnr" { 1e-6 * y.abs() } else { 1e-6 };
            assert!((x - y).abs() < tol, "{how} {key}: astrorim {x} vs scikit-image {y}");
        }
    }
}

#[test]
fn compare_rejects_mismatched_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_scene_image(
        dir.path(),
        "a",
        r#"{"grid": {"nx": 20, "ny": 20, "pixel_scale": 0.05}, "lens_light": [{"type": "GAUSSIAN", "amp": 1, "sigma": 0.2}]}"#,
    );
    let b = write_scene_image(
        dir.path(),
        "b",
        r#"{"grid": {"nx": 21, "ny": 20, "pixel_scale": 0.05}, "lens_light": [{"type": "GAUSSIAN", "amp": 1, "sigma": 0.2}]}"#,
    );
    let o = run_astrorim(&["compare", &a, &b]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("differs"));
}
