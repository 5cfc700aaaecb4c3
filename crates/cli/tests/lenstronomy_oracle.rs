//! astrorim's renderer, deflections and cosmology against lenstronomy and
//! astropy, on scenes written for this test (not the ones the code was
//! developed on): SIE/SHEAR/NFW/SIS/EPL combinations, Sérsic and Gaussian
//! sources and lens light, supersampling 1–4, no PSF or a pixel kernel.

mod common;

use common::{oracle_python, run_astrorim, run_oracle};
use serde_json::{json, Value};

/// An asymmetric kernel, so that a flipped or transposed convolution fails.
fn asymmetric_kernel(size: usize) -> Value {
    let c = (size / 2) as f64;
    let rows: Vec<Vec<f64>> = (0..size)
        .map(|i| {
            (0..size)
                .map(|j| {
                    let (x, y) = (j as f64 - c, i as f64 - c);
                    (-(x * x / 2.0 + y * y / 0.8) / 1.5).exp() * (1.0 + 0.3 * x + 0.1 * y).max(0.05)
                })
                .collect()
        })
        .collect();
    json!(rows)
}

fn scenes() -> Vec<(&'static str, Value)> {
    vec![
        (
            "sie_shear_sersic_ss4_nopsf",
            json!({
                "grid": {"nx": 64, "ny": 64, "pixel_scale": 0.06, "supersampling": 4},
                "lens": [{"type": "SIE", "theta_E": 1.05, "e1": -0.08, "e2": 0.17, "center_x": -0.04, "center_y": 0.03},
                         {"type": "SHEAR", "gamma1": -0.02, "gamma2": 0.045}],
                "source": [{"type": "SERSIC_ELLIPSE", "amp": 25.0, "R_sersic": 0.22, "n_sersic": 2.3, "e1": -0.15, "e2": 0.05, "center_x": -0.06, "center_y": 0.1}],
                "lens_light": [{"type": "SERSIC", "amp": 5.0, "R_sersic": 0.6, "n_sersic": 3.2, "center_x": -0.04, "center_y": 0.03}]
            }),
        ),
        (
            "sis_nfw_two_sources_ss2_kernel5",
            json!({
                "grid": {"nx": 50, "ny": 50, "pixel_scale": 0.08, "supersampling": 2},
                "lens": [{"type": "SIS", "theta_E": 0.9, "center_x": 0.1, "center_y": 0.0},
                         {"type": "NFW", "Rs": 4.0, "alpha_Rs": 0.35, "center_x": 0.05, "center_y": -0.1}],
                "source": [{"type": "GAUSSIAN", "amp": 3.0, "sigma": 0.12, "center_x": 0.2, "center_y": -0.05},
                           {"type": "SERSIC", "amp": 4.0, "R_sersic": 0.3, "n_sersic": 1.0, "center_x": 0.0, "center_y": 0.15}],
                "psf": {"type": "PIXEL", "kernel": asymmetric_kernel(5)}
            }),
        ),
        (
            "sie_nfw_offset_shear_ss1_kernel7",
            json!({
                "grid": {"nx": 44, "ny": 44, "pixel_scale": 0.1, "supersampling": 1},
                "lens": [{"type": "SIE", "theta_E": 1.4, "e1": 0.21, "e2": 0.04},
                         {"type": "NFW", "Rs": 2.5, "alpha_Rs": 0.6, "center_x": -0.3, "center_y": 0.25},
                         {"type": "SHEAR", "gamma1": 0.06, "gamma2": -0.01, "ra_0": 0.4, "dec_0": -0.2}],
                "source": [{"type": "SERSIC_ELLIPSE", "amp": 12.0, "R_sersic": 0.18, "n_sersic": 0.8, "e1": 0.3, "e2": -0.1, "center_x": 0.12, "center_y": -0.04},
                           {"type": "GAUSSIAN", "amp": 1.5, "sigma": 0.07, "center_x": -0.2, "center_y": 0.1}],
                "lens_light": [{"type": "GAUSSIAN", "amp": 30.0, "sigma": 0.4}],
                "psf": {"type": "PIXEL", "kernel": asymmetric_kernel(7)}
            }),
        ),
        (
            "epl_shear_sersic_ss3",
            json!({
                "grid": {"nx": 52, "ny": 52, "pixel_scale": 0.07, "supersampling": 3},
                "lens": [{"type": "EPL", "theta_E": 1.1, "gamma": 2.15, "e1": 0.1, "e2": -0.12, "center_x": 0.02, "center_y": 0.0},
                         {"type": "SHEAR", "gamma1": 0.03, "gamma2": 0.03}],
                "source": [{"type": "SERSIC", "amp": 9.0, "R_sersic": 0.25, "n_sersic": 1.7, "center_x": 0.05, "center_y": -0.07}],
                "lens_light": [{"type": "SERSIC_ELLIPSE", "amp": 3.0, "R_sersic": 0.9, "n_sersic": 4.5, "e1": 0.1, "e2": -0.12, "center_x": 0.02}]
            }),
        ),
        (
            "sie_odd_grid_centre_pixel_ss4_kernel3",
            json!({
                "grid": {"nx": 61, "ny": 61, "pixel_scale": 0.05, "supersampling": 4},
                "lens": [{"type": "SIE", "theta_E": 0.8, "e1": 0.05, "e2": 0.25}],
                "source": [{"type": "SERSIC_ELLIPSE", "amp": 50.0, "R_sersic": 0.1, "n_sersic": 3.0, "e1": 0.0, "e2": 0.2, "center_x": 0.03, "center_y": 0.02}],
                "psf": {"type": "PIXEL", "kernel": [[0.0, 0.1, 0.0], [0.2, 1.0, 0.05], [0.0, 0.3, 0.0]]}
            }),
        ),
    ]
}

#[test]
fn renders_and_deflections_match_lenstronomy() {
    let Some(python) = oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for (name, scene) in scenes() {
        let scene_path = dir.path().join(format!("{name}.json"));
        let fits_path = dir.path().join(format!("{name}.fits"));
        std::fs::write(&scene_path, serde_json::to_vec_pretty(&scene).unwrap()).unwrap();
        let out = run_astrorim(&["render", scene_path.to_str().unwrap(), "-o", fits_path.to_str().unwrap(), "--maps"]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        args.push(scene_path.to_string_lossy().into_owned());
        args.push(fits_path.to_string_lossy().into_owned());
    }
    let result = run_oracle(&python, "lenstronomy_compare.py", &[vec!["render".to_string()], args].concat());
    for (name, _) in scenes() {
        let key = dir.path().join(format!("{name}.json")).to_string_lossy().into_owned();
        let r = &result[&key];
        let (img, alpha, kappa) =
            (r["image_rel_l2"].as_f64().unwrap(), r["alpha_max_abs"].as_f64().unwrap(), r["kappa_rel_max"].as_f64().unwrap());
        eprintln!("{name}: image rel L2 {img:.2e}, max |Δα| {alpha:.2e} arcsec, max rel Δκ {kappa:.2e}");
        assert!(img < 1e-4, "{name}: image relative L2 error {img}");
        assert!(alpha < 1e-6, "{name}: deflection error {alpha} arcsec");
        assert!(kappa < 1e-4, "{name}: convergence error {kappa}");
    }
}

#[test]
fn cosmology_matches_astropy() {
    let Some(python) = oracle_python() else {
        return;
    };
    let keys = ["d_lens_mpc", "d_source_mpc", "d_lens_source_mpc", "sigma_crit_msun_per_arcsec2", "sigma_v_sis_kms", "mass_einstein_msun"];
    for (h0, om, zl, zs, theta_e) in [(70.0, 0.3, 0.295, 0.658, 1.9), (67.7, 0.31, 0.2, 2.5, 0.7), (73.0, 0.25, 0.9, 3.7, 1.3)] {
        let out = run_astrorim(&[
            "cosmo",
            "--z-lens",
            &zl.to_string(),
            "--z-source",
            &zs.to_string(),
            "--theta-e",
            &theta_e.to_string(),
            "--h0",
            &h0.to_string(),
            "--omega-m",
            &om.to_string(),
            "--json",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let ours: Value = serde_json::from_slice(&out.stdout).unwrap();
        let theirs = run_oracle(
            &python,
            "lenstronomy_compare.py",
            &["cosmo", &h0.to_string(), &om.to_string(), &zl.to_string(), &zs.to_string(), &theta_e.to_string()].map(String::from),
        );
        for key in keys {
            let (a, b) = (ours[key].as_f64().unwrap(), theirs[key].as_f64().unwrap());
            assert!((a / b - 1.0).abs() < 1e-6, "{key} at z = ({zl}, {zs}): astrorim {a} vs astropy {b}");
        }
    }
}

#[test]
fn magnitudes_become_the_counts_lenstronomy_gives() {
    let Some(python) = oracle_python() else { return };
    let cases = [(22.5, 25.94, 1000.0, 2.5), (18.0, 25.94, 2400.0, 1.0), (26.3, 28.0, 90.0, 4.2), (24.0, 25.94, 5400.0, 7.0)];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.json");
    std::fs::write(&path, serde_json::to_vec(&cases).unwrap()).unwrap();
    let theirs = run_oracle(&python, "magnitude_lenstronomy.py", &[path.to_string_lossy().into_owned()]);
    for ((m, zp, t, g), want) in cases.iter().zip(theirs.as_array().unwrap()) {
        let want = want.as_f64().unwrap();
        let ours = astrorim_sim::draw::magnitude_to_adu(*m, *zp, *t, *g);
        assert!((ours / want - 1.0).abs() < 1e-12, "m = {m}, zp = {zp}, t = {t}, g = {g}: {ours} ADU vs lenstronomy {want}");
    }
}
