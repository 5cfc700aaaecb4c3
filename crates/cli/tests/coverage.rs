//! `astrorim bench coverage --save`: the simulated lens written out is the
//! lens the bench fitted (its truth scene redraws the image to the noise),
//! and the pipeline finds the θ_E of a lens it used to miss.

mod common;

use astrorim_infer::posterior::DEFAULT_TEMPERATURE;
use astrorim_io::fits::read_image;
use common::run_astrorim;

#[test]
fn a_saved_coverage_lens_is_redrawn_by_its_truth_and_fitted_near_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let table = d("c.csv");
    // One-step chains, the light held, rows in `table`; `args` pick the lenses and the rest.
    let coverage = |args: &[&str]| {
        let mut all = vec!["bench", "coverage", "--steps", "1", "--fix-light", "--out", &table];
        all.extend_from_slice(args);
        run_astrorim(&all)
    };
    // Lens 10 of seed 1: elongated (q 0.48) with faint arcs, where the
    // parametric stage's two best scan points (one basin at 0.6 θ_E) sent
    // the search to θ_E 0.66″ for 1.196″ until 2026-12-04.
    let out = coverage(&["--from", "10", "-n", "1", "--save", &d("lenses")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d("lenses/lens_10_truth.json")).unwrap()).unwrap();
    let theta_e = truth["lens"][0]["theta_E"].as_f64().unwrap();
    let csv = std::fs::read_to_string(d("c.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).expect("one lens row").split(',').collect();
    let column = |name: &str| row[header.iter().position(|h| *h == name).unwrap()].parse::<f64>().unwrap();
    assert_eq!(column("index"), 10.0);
    assert_eq!(row.len(), header.len());
    // With the light held the sky level is too: its columns are empty.
    assert_eq!(row[header.iter().position(|h| *h == "sky_offset_median").unwrap()], "");
    assert!((column("theta_e_true") - theta_e).abs() < 1e-6);
    // A one-step chain sits on the refined lens.
    let fitted = column("theta_e_median");
    assert!((fitted / theta_e - 1.0).abs() < 0.05, "θ_E {fitted} for {theta_e}");
    // The truth's rank among the samples: on the side of the median the
    // truth is (at least half the samples below a truth above the median, at
    // most half below one under it; exactly half can be either, the median of
    // an even count being the mean of two).
    for (name, truth) in [("theta_e", theta_e), ("q", column("q_true"))] {
        let (rank, median) = (column(&format!("{name}_rank")), column(&format!("{name}_median")));
        let sided = if truth > median { rank >= 0.5 } else { rank <= 0.5 };
        assert!((0.0..=1.0).contains(&rank) && sided, "{name}: rank {rank}, truth {truth}, median {median}");
    }

    // The settings recorded with the row; the same run again continues the
    // file (lens 10 there already: skipped, the rows unchanged); a run at
    // another temperature is refused, naming the file and the setting.
    assert_eq!(row[header.iter().position(|h| *h == "light").unwrap()], "held");
    assert_eq!((column("seed"), column("temperature"), column("steps")), (1.0, DEFAULT_TEMPERATURE, 1.0));
    let out = coverage(&["--from", "9", "-n", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of the lenses already sampled there, skipped"));
    let continued = std::fs::read_to_string(d("c.csv")).unwrap();
    assert!(continued.starts_with(&csv), "the earlier rows kept");
    let indices: Vec<&str> = continued.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(indices, ["10", "9"]);
    let out = coverage(&["--from", "10", "-n", "1", "--temperature", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let message = String::from_utf8_lossy(&out.stderr);
    let refusal = format!("c.csv: lens 10 was sampled with temperature {DEFAULT_TEMPERATURE}, this run asks for 1");
    assert!(message.contains(&refusal), "{message}");
    assert_eq!(std::fs::read_to_string(d("c.csv")).unwrap(), continued, "nothing written");

    // The truth scene, rendered without noise, differs from the saved image by the noise alone (σ = 0.02).
    let out = run_astrorim(&["render", &d("lenses/lens_10_truth.json"), "-o", &d("clean.fits")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let noisy = read_image(&dir.path().join("lenses/lens_10.fits"), None).unwrap();
    let clean = read_image(&dir.path().join("clean.fits"), None).unwrap();
    assert!((noisy.pixel_scale_arcsec.unwrap() - 0.06).abs() < 1e-12);
    let n = noisy.image.data.len() as f64;
    let residual: Vec<f64> = noisy.image.data.iter().zip(&clean.image.data).map(|(a, b)| a - b).collect();
    let mean = residual.iter().sum::<f64>() / n;
    let rms = (residual.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!((rms / 0.02 - 1.0).abs() < 0.05 && mean.abs() < 4.0 * 0.02 / n.sqrt(), "residual mean {mean}, rms {rms}");
    let psf = read_image(&dir.path().join("lenses/lens_10_psf.fits"), None).unwrap();
    assert!((psf.image.data.iter().sum::<f64>() - 1.0).abs() < 1e-9);
}
