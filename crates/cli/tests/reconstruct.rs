//! `astrorim reconstruct` end to end: a rendered, noisy lens with lens light
//! is reconstructed from the FITS image alone; the products are complete and
//! `result.json` works as `astrorim invert --lens`; batch runs keep going past
//! a bad row; bad input is refused with one line and exit status 2.

mod common;

use astrorim_infer::posterior::DEFAULT_TEMPERATURE;
use common::{oracle_python, run_astrorim, run_oracle};
use std::path::Path;

/// Renders a 64² lens at 0.08″ with lens light, white noise 0.01 and a
/// Gaussian PSF into `dir` (lens.fits, psf.fits).
fn render(dir: &Path) {
    let scene = r#"{"grid": {"nx": 64, "ny": 64, "pixel_scale": 0.08, "supersampling": 3},
        "lens": [{"type": "SIE", "theta_E": 1.1, "e1": 0.1, "e2": -0.05, "center_x": 0.04, "center_y": -0.02},
                 {"type": "SHEAR", "gamma1": 0.02, "gamma2": 0.01}],
        "source": [{"type": "SERSIC_ELLIPSE", "amp": 12, "R_sersic": 0.2, "n_sersic": 1.0, "e1": 0.1, "e2": 0.0, "center_x": 0.05, "center_y": -0.02}],
        "lens_light": [{"type": "SERSIC_ELLIPSE", "amp": 3, "R_sersic": 0.8, "n_sersic": 4.0, "e1": 0.05, "e2": 0.02, "center_x": 0.04, "center_y": -0.02}],
        "psf": {"type": "GAUSSIAN", "fwhm": 0.15}}"#;
    std::fs::write(dir.join("scene.json"), scene).unwrap();
    let d = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let out = run_astrorim(&[
        "render",
        &d("scene.json"),
        "-o",
        &d("lens.fits"),
        "--noise-rms",
        "0.01",
        "--seed",
        "3",
        "--psf-out",
        &d("psf.fits"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn reconstructs_a_rendered_lens_and_its_products_are_complete() {
    let dir = tempfile::tempdir().unwrap();
    render(dir.path());
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let r = run_astrorim(&[
        "reconstruct",
        &d("lens.fits"),
        "--noise-rms",
        "0.01",
        "--psf",
        &d("psf.fits"),
        "--z-lens",
        "0.5",
        "--z-source",
        "2.0",
        "--max-evaluations",
        "400",
        "--out",
        &d("rec"),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let out = dir.path().join("rec");
    for f in [
        "observed.fits",
        "source.fits",
        "model.fits",
        "lens_light.fits",
        "residual.fits",
        "normalized_residual.fits",
        "kappa.fits",
        "result.json",
        "kappa_radial.csv",
        "kappa_azimuthal.csv",
        "panel.png",
        "coolest.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("result.json")).unwrap()).unwrap();
    for key in [
        "theta_e_arcsec",
        "q",
        "phi_rad",
        "center_x",
        "center_y",
        "gamma_ext",
        "phi_ext_rad",
        "sigma_v_kms",
        "mass_einstein_msun",
        "reduced_chi2",
        "converged",
        "seconds",
        "preparation",
    ] {
        assert!(json.get(key).is_some(), "result.json lacks {key}");
    }
    let theta_e = json["theta_e_arcsec"].as_f64().unwrap();
    assert!((theta_e / 1.1 - 1.0).abs() < 0.03, "θ_E {theta_e}");
    // The lens centre in input pixels: column 31.5 + 0.04/0.08, row 31.5 − 0.02/0.08.
    let c = &json["center_pixel_input"];
    assert!((c[0].as_f64().unwrap() - 32.0).abs() < 0.5 && (c[1].as_f64().unwrap() - 31.25).abs() < 0.5, "{c}");
    assert!(json["fit"]["chi2_after"].as_f64() <= json["fit"]["chi2_before"].as_f64());
    assert!(json["sigma_v_kms"].as_f64().unwrap() > 100.0);
    let radial = std::fs::read_to_string(out.join("kappa_radial.csv")).unwrap();
    assert_eq!(radial.lines().count(), 61, "header + 60 radii");
    // coolest.json loads with the coolest package, and its own SIE (PEMD at
    // γ = 2) and ExternalShear deflect like the lens of result.json: the
    // angle (east of north) and θ_E conventions are right.
    if let Some(python) = oracle_python() {
        let lens = astrorim_physics::scene::parse_lens_list(&std::fs::read_to_string(out.join("result.json")).unwrap()).unwrap();
        let points = [(0.3, 0.2), (-0.5, 0.7), (1.0, -0.1), (-0.2, -1.3), (0.9, 0.9)];
        let mut args = vec![out.to_str().unwrap().to_string()];
        args.extend(points.iter().map(|(x, y)| format!("{x},{y}")));
        let got = run_oracle(&python, "coolest_deflection.py", &args);
        assert_eq!(got["source_type"], "PixelatedRegularGrid");
        assert_eq!(got["lens_redshift"].as_f64(), Some(0.5));
        for (k, &(x, y)) in points.iter().enumerate() {
            let (ax, ay) = lens.deflection(x, y);
            let (cx, cy) = (got["alpha_x"][k].as_f64().unwrap(), got["alpha_y"][k].as_f64().unwrap());
            assert!((ax - cx).abs() < 1e-6 && (ay - cy).abs() < 1e-6, "at ({x}, {y}): astrorim ({ax}, {ay}), coolest ({cx}, {cy})");
        }
    }
    // result.json is a lens file for `astrorim invert` (on the cutout it describes).
    let inv = run_astrorim(&[
        "invert",
        out.join("observed.fits").to_str().unwrap(),
        "--lens",
        out.join("result.json").to_str().unwrap(),
        "--noise-rms",
        "0.01",
        "--source-grid",
        "24",
        "--out",
        &d("inv"),
    ]);
    assert!(inv.status.success(), "{}", String::from_utf8_lossy(&inv.stderr));
}

#[test]
fn batch_keeps_going_past_a_bad_row_and_bad_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    render(dir.path());
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    std::fs::write(
        dir.path().join("batch.csv"),
        "name,image,noise_rms,psf,z_lens,z_source\ngood,lens.fits,0.01,psf.fits,0.5,2.0\nmissing,nothere.fits,0.01,,,\nbadz,lens.fits,0.01,,2.0,0.5\n",
    )
    .unwrap();
    // The batch fits an SIE alone (--lens-model sie): no shear in its results.
    let batch = ["reconstruct", "--list", &d("batch.csv"), "--max-evaluations", "200", "--lens-model", "sie", "--out", &d("batch")];
    let r = run_astrorim(&batch);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let good: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("batch/good/result.json")).unwrap()).unwrap();
    assert_eq!(good["lens_model_list"], serde_json::json!(["SIE"]));
    assert_eq!(good["gamma_ext"].as_f64(), Some(0.0));
    assert!((good["theta_e_arcsec"].as_f64().unwrap() / 1.1 - 1.0).abs() < 0.05, "θ_E {}", good["theta_e_arcsec"]);
    let summary = std::fs::read_to_string(dir.path().join("batch/summary.csv")).unwrap();
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines.len(), 4, "{summary}");
    assert!(lines.iter().any(|l| l.starts_with("good,ok,")), "{summary}");
    assert!(lines.iter().any(|l| l.starts_with("missing,error,") && l.contains("nothere.fits")), "{summary}");
    assert!(lines.iter().any(|l| l.contains(",error,") && l.contains("row 4") && l.contains("z-source")), "{summary}");
    assert!(dir.path().join("batch/good/result.json").exists());
    // A second run resumes: the finished lens is skipped.
    let r = run_astrorim(&batch);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let summary = std::fs::read_to_string(dir.path().join("batch/summary.csv")).unwrap();
    assert!(summary.lines().any(|l| l.starts_with("good,skipped,")), "{summary}");

    let refused = |args: &[&str], expected: &str| {
        let r = run_astrorim(args);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(expected), "'{expected}' not in: {stderr}");
        assert!(!dir.path().join("refused").exists(), "no output for a refused run");
    };
    let o = d("refused");
    let image = d("lens.fits");
    refused(&["reconstruct", &image, "--noise-rms", "0.01", "--pixel-scale=-1", "--out", &o], "pixel-scale");
    refused(&["reconstruct", &image, "--noise-rms", "0.01", "--z-lens", "2", "--z-source", "1", "--out", &o], "z-source");
    refused(&["reconstruct", &image, "--noise-rms", "0.01", "--center", "500,3", "--out", &o], "center");
    refused(&["reconstruct", &d("nothere.fits"), "--out", &o], "nothere.fits");
    std::fs::write(dir.path().join("bad.csv"), "name,image,colour\na,lens.fits,red\n").unwrap();
    refused(&["reconstruct", "--list", &d("bad.csv"), "--out", &o], "colour");
    refused(&["reconstruct", "--list", &d("batch.csv"), "--shard", "3/2", "--out", &o], "shard");
    refused(&["reconstruct", &image, "--noise-rms", "0.01", "--simplex-tolerance", "0", "--out", &o], "simplex-tolerance");
    refused(&["reconstruct", &image, "--noise-rms", "0.01", "--lens-model", "sie", "--uncertainty", "--out", &o], "lens-model");
    refused(&["reconstruct", &image, "--noise-rms", "0.01", "--solver", "rim", "--out", &o], "solver");
    refused(&["reconstruct", &image, "--noise-rms", "0.01", "--fix-light", "--out", &o], "fix-light");
    let unknown = run_astrorim(&["reconstruct", &image, "--noise-rms", "0.01", "--lens-model", "nfw", "--out", &o]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not a lens model"), "{}", String::from_utf8_lossy(&unknown.stderr));
}

#[test]
fn samples_the_lens_posterior_and_resumes_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    render(dir.path());
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    // The lens light held (--fix-light): the lens's 7 parameters.
    let sample = |steps: &str, walkers: &str, extra: &[&str]| {
        let (lens, psf, post) = (d("lens.fits"), d("psf.fits"), d("post"));
        let mut args: Vec<&str> = vec![
            "sample",
            &lens,
            "--noise-rms",
            "0.01",
            "--psf",
            &psf,
            "--z-lens",
            "0.5",
            "--z-source",
            "2.0",
            "--max-evaluations",
            "300",
            "--walkers",
            walkers,
            "--steps",
            steps,
            "--fix-light",
            "--out",
            &post,
        ];
        args.extend_from_slice(extra);
        run_astrorim(&args)
    };
    let bad = sample("50", "15", &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("walkers"), "{}", String::from_utf8_lossy(&bad.stderr));
    assert!(!dir.path().join("post").exists(), "a refused run writes nothing");

    let first = sample("50", "14", &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("under 50 τ"), "a 50-step chain is reported as too short: {stderr}");
    let read = |f: &str| -> serde_json::Value { serde_json::from_slice(&std::fs::read(dir.path().join("post").join(f)).unwrap()).unwrap() };
    let posterior = read("posterior.json");
    assert_eq!(posterior["diagnostics"]["steps"], 50);
    let result = read("result.json");
    let theta = &result["posterior"]["intervals"]["theta_e_arcsec"];
    let (lo, median, hi) = (theta["p2_5"].as_f64().unwrap(), theta["median"].as_f64().unwrap(), theta["p97_5"].as_f64().unwrap());
    assert!(lo <= median && median <= hi && (median / 1.1 - 1.0).abs() < 0.05, "θ_E interval {theta}");
    assert!(result["posterior"]["intervals"]["sigma_v_kms"]["median"].as_f64().unwrap() > 100.0);
    assert!(dir.path().join("post/corner.png").exists());

    // Continued to 100 steps from the chain on disk; NumPy reads it.
    let second = sample("100", "14", &[]);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(read("posterior.json")["diagnostics"]["steps"], 100);
    if let Some(python) = oracle_python() {
        let script = "import numpy as np, sys; z = np.load(sys.argv[1]); c = z['chain']; \
                      print(c.shape, z['log_prob'].shape, [n.decode() for n in z['parameter_names']], bool(np.isfinite(z['log_prob']).all()))";
        let out = std::process::Command::new(python).args(["-c", script, &d("post/chain.npz")]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "(100, 14, 7) (100, 14) ['theta_E', 'e1', 'e2', 'center_x', 'center_y', 'gamma1', 'gamma2'] True"
        );
    }
    // The evidence tempered at the default T; a run at another temperature does not extend the chain.
    assert_eq!(read("posterior.json")["temperature"], DEFAULT_TEMPERATURE);
    assert!(read("posterior.json")["likelihood"].as_str().unwrap().contains(&format!("T = {DEFAULT_TEMPERATURE}")));
    let colder = sample("150", "14", &["--temperature", "1"]);
    assert_eq!(colder.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&colder.stderr).contains(&format!("temperature {DEFAULT_TEMPERATURE}, this run asks for 1")),
        "{}",
        String::from_utf8_lossy(&colder.stderr)
    );
    // Nor does a run that samples the lens light extend one that held it (refused before any work).
    let with_light = run_astrorim(&["sample", &d("lens.fits"), "--noise-rms", "0.01", "--steps", "150", "--out", &d("post")]);
    assert_eq!(with_light.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&with_light.stderr).contains("lens light held"), "{}", String::from_utf8_lossy(&with_light.stderr));
    // Another seed does not silently extend a chain it did not start.
    let mismatch = run_astrorim(&[
        "sample",
        &d("lens.fits"),
        "--noise-rms",
        "0.01",
        "--psf",
        &d("psf.fits"),
        "--max-evaluations",
        "300",
        "--walkers",
        "14",
        "--steps",
        "150",
        "--sampler-seed",
        "9",
        "--out",
        &d("post"),
    ]);
    assert_eq!(mismatch.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("seed"), "{}", String::from_utf8_lossy(&mismatch.stderr));
}

/// `--solver rim`: the RIM of the shipped model as the source solver, the
/// lens light sampled with the lens (the default: each proposal's data are
/// the image less its light); the run says so in posterior.json (no λ), its
/// chain is not continued by the inversion's likelihood, and `--model`
/// without it is refused.
#[test]
fn samples_the_lens_posterior_with_the_rim_as_source_solver() {
    let dir = tempfile::tempdir().unwrap();
    render(dir.path());
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let sample = |solver: &str, extra: &[&str]| {
        let mut args = vec![
            "sample",
            &d("lens.fits"),
            "--noise-rms",
            "0.01",
            "--psf",
            &d("psf.fits"),
            "--max-evaluations",
            "300",
            "--steps",
            "10",
            "--solver",
            solver,
            "--out",
            &d("post"),
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| s.to_string()));
        run_astrorim(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let misplaced = sample("inversion", &["--model", "models/default"]);
    assert_eq!(misplaced.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&misplaced.stderr).contains("model"), "{}", String::from_utf8_lossy(&misplaced.stderr));

    let rim = sample("rim", &[]);
    assert!(rim.status.success(), "{}", String::from_utf8_lossy(&rim.stderr));
    let posterior: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("post/posterior.json")).unwrap()).unwrap();
    assert!(posterior["likelihood"].as_str().unwrap().contains("RIM"), "{}", posterior["likelihood"]);
    assert!(posterior["lambda"].is_null());
    assert_eq!(posterior["temperature"], 1.0, "the RIM's likelihood is not tempered by default");
    assert!(posterior["likelihood"].as_str().unwrap().contains("less its light"), "{}", posterior["likelihood"]);
    let theta = posterior["intervals"]["theta_e_arcsec"]["median"].as_f64().unwrap();
    assert!((theta / 1.1 - 1.0).abs() < 0.05, "θ_E median {theta}");
    // The light's and sky's columns: one Sérsic (8 more) or two (13), twice as many walkers by default.
    let ndim = posterior["diagnostics"]["autocorrelation_time"].as_array().unwrap().len();
    assert!(ndim == 15 || ndim == 20, "{ndim} sampled parameters");
    let sky = &posterior["intervals"]["sky_offset"];
    assert!(sky["p2_5"].as_f64() <= sky["p97_5"].as_f64(), "sky offset {sky}");
    assert_eq!(posterior["diagnostics"]["walkers"].as_u64().unwrap() as usize, 2 * ndim);
    let amp = &posterior["intervals"]["light_amp"];
    assert!(amp["p2_5"].as_f64().unwrap() > 0.0 && amp["p2_5"].as_f64() <= amp["p97_5"].as_f64(), "light amplitude {amp}");

    // At the RIM chain's temperature, so that what refuses it is the likelihood.
    let other = sample("inversion", &["--temperature", "1"]);
    assert_eq!(other.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("other data, settings or solver"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
}
