//! `astrorim invert` end to end: a rendered lens is inverted with its own
//! lens model, outputs are complete and consistent, and bad input is refused
//! with one line and exit status 2, leaving no output directory.

mod common;

use common::run_astrorim;
use std::path::Path;

const LENS: &str = r#"[{"type": "SIE", "theta_E": 0.9, "e1": 0.1, "e2": -0.05}, {"type": "SHEAR", "gamma1": 0.02, "gamma2": 0.01}]"#;

/// Renders the test lens (Sérsic source) on `grid` with `psf` into `dir`.
fn render(dir: &Path, grid: &str, psf: &str) -> String {
    let scene = format!(
        r#"{{"grid": {grid}, "lens": {LENS},
            "source": [{{"type": "SERSIC_ELLIPSE", "amp": 20, "R_sersic": 0.15, "n_sersic": 1.0, "e1": 0.1, "e2": 0.0, "center_x": 0.05, "center_y": -0.02}}],
            "psf": {psf}}}"#
    );
    let scene_path = dir.join("scene.json");
    std::fs::write(&scene_path, scene).unwrap();
    let image = dir.join("image.fits");
    let out = run_astrorim(&["render", scene_path.to_str().unwrap(), "-o", image.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    image.to_str().unwrap().to_string()
}

const GRID: &str = r#"{"nx": 48, "ny": 48, "pixel_scale": 0.08, "supersampling": 2}"#;
const NO_PSF: &str = r#"{"type": "NONE"}"#;

#[test]
fn inverts_a_rendered_lens_with_its_own_model() {
    let dir = tempfile::tempdir().unwrap();
    let image = render(dir.path(), GRID, NO_PSF);
    let scene = dir.path().join("scene.json");
    let out = dir.path().join("inv");
    let r = run_astrorim(&[
        "invert",
        &image,
        "--lens",
        scene.to_str().unwrap(),
        "--noise-rms",
        "0.02",
        "--source-grid",
        "32",
        "--source-fov",
        "1.6",
        // A negative first coordinate is a value, not a flag.
        "--source-center",
        "-0.02,0.01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for f in ["source.fits", "model.fits", "residual.fits", "evidence.csv", "evidence.png", "inversion.json"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("inversion.json")).unwrap()).unwrap();
    for key in ["lambda", "log_evidence", "reduced_chi2", "regularization", "seconds"] {
        assert!(json.get(key).is_some(), "inversion.json lacks {key}");
    }
    // Noise-free data are fitted far below the stated noise (the source is
    // smooth on the 0.05″ source pixels; the render's 2× rays are the operator's).
    assert!(json["reduced_chi2"].as_f64().unwrap() < 0.5, "{json}");
    assert_eq!(json["regularization"], "gradient");
    // The evidence curve: the grid walk and the refinement, its maximum the
    // reported λ, with solved points on both sides of it.
    let evidence = std::fs::read_to_string(out.join("evidence.csv")).unwrap();
    let points: Vec<(f64, f64)> = evidence
        .lines()
        .skip(1)
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert!(points.len() >= 5, "the grid walk and the refinement: {evidence}");
    let best = points.iter().cloned().fold((0.0, f64::NEG_INFINITY), |a, p| if p.1 > a.1 { p } else { a });
    let lambda = json["lambda"].as_f64().unwrap();
    assert!((best.0 / lambda - 1.0).abs() < 1e-5, "the curve peaks at λ = {} for {lambda}", best.0);
    assert!(points.iter().any(|p| p.0 < lambda) && points.iter().any(|p| p.0 > lambda), "{evidence}");
}

fn assert_refused(args: &[&str], expected: &str, out: &Path) {
    let r = run_astrorim(args);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "'{expected}' not in: {stderr}");
    assert!(!out.exists(), "no output for a refused run");
}

#[test]
fn bad_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = render(dir.path(), GRID, NO_PSF);
    let scene = dir.path().join("scene.json");
    let scene = scene.to_str().unwrap();
    let out = dir.path().join("inv");
    let o = out.to_str().unwrap();
    assert_refused(&["invert", &image, "--lens", scene, "--out", o], "noise", &out);
    assert_refused(&["invert", &image, "--lens", scene, "--noise-rms=-1", "--out", o], "noise-rms", &out);
    assert_refused(&["invert", &image, "--lens", scene, "--noise-rms", "0.1", "--lambda", "0", "--out", o], "lambda", &out);
    assert_refused(&["invert", &image, "--lens", scene, "--noise-rms", "0.1", "--lambda=-3", "--out", o], "lambda", &out);
    let bad_lens = dir.path().join("bad.json");
    std::fs::write(&bad_lens, r#"{"lens": [{"type": "PJAFFE"}]}"#).unwrap();
    assert_refused(&["invert", &image, "--lens", bad_lens.to_str().unwrap(), "--noise-rms", "0.1", "--out", o], "lens[0].type", &out);
    let not_fits = dir.path().join("not.fits");
    std::fs::write(&not_fits, "hello").unwrap();
    assert_refused(&["invert", not_fits.to_str().unwrap(), "--lens", scene, "--noise-rms", "0.1", "--out", o], "not.fits", &out);
    // An even-sized PSF.
    let even_dir = dir.path().join("even");
    std::fs::create_dir(&even_dir).unwrap();
    let even = render(&even_dir, r#"{"nx": 4, "ny": 4, "pixel_scale": 0.08}"#, NO_PSF);
    assert_refused(&["invert", &image, "--lens", scene, "--noise-rms", "0.1", "--psf", &even, "--out", o], "odd", &out);
}
