//! The inversion's evidence-optimal λ and its log-evidence against an
//! independent computation: the Gaussian marginal likelihood of the data
//! with scipy, maximized over λ by scipy (tests/oracle/evidence_scipy.py),
//! on a small lensed image with a PSF, masked pixels and noise.

mod common;

use astrorim_infer::inversion::{Inversion, Regularization};
use astrorim_infer::operator::{LensingOperator, SourceGrid};
use astrorim_io::npz::{write_npz, NpyArray, NpyData};
use astrorim_physics::mass::{LensModel, Shear, Sie};
use astrorim_physics::psf::{Kernel, PsfShape};
use astrorim_physics::PixelGrid;
use common::{oracle_python, run_oracle};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

#[test]
fn evidence_optimum_matches_scipy() {
    let Some(python) = oracle_python() else { return };
    let (nx, scale, sigma) = (24, 0.1, 0.05);
    let grid = PixelGrid::new(nx, nx, scale, 2).unwrap();
    let lens = LensModel::new(vec![Box::new(Sie::new(0.8, 0.1, -0.05, 0.02, -0.01)), Box::new(Shear::new(0.03, 0.02, 0.0, 0.0))]);
    let source = SourceGrid { size: 12, half_width: 0.6, center_x: 0.0, center_y: 0.0 };
    let psf = Kernel::sample(PsfShape::Gaussian { fwhm: 0.2, e1: 0.0, e2: 0.0 }, scale, 7);
    let op = LensingOperator::new(&grid, &lens, &source, Some(&psf), 0.0);
    let truth: Vec<f64> = (0..source.size * source.size)
        .map(|k| {
            let (x, y) = source.center_of(k);
            3.0 * (-((x - 0.08).powi(2) + (y + 0.05).powi(2)) / (2.0 * 0.15f64.powi(2))).exp()
        })
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let noise = Normal::new(0.0, sigma).unwrap();
    let data: Vec<f64> = op.apply(&truth).iter().map(|v| v + noise.sample(&mut rng)).collect();
    // Every 9th pixel masked (σ = ∞): the oracle sees only the others.
    let sigmas: Vec<f64> = (0..nx * nx).map(|p| if p % 9 == 4 { f64::INFINITY } else { sigma }).collect();
    let inversion = Inversion::new(&op, &data, &sigmas, Regularization::Gradient).unwrap();
    let (best, _) = inversion.optimize().unwrap();

    let used: Vec<usize> = (0..nx * nx).filter(|&p| sigmas[p].is_finite()).collect();
    let mut f = vec![0.0; used.len() * op.n_source];
    for (r, &p) in used.iter().enumerate() {
        for (k, w) in op.row(p) {
            f[r * op.n_source + k] += w;
        }
    }
    let d: Vec<f64> = used.iter().map(|&p| data[p]).collect();
    let s: Vec<f64> = used.iter().map(|&p| sigmas[p]).collect();
    let m = [source.size as f64];
    let dir = tempfile::tempdir().unwrap();
    let system = dir.path().join("system.npz");
    write_npz(
        &system,
        &[
            NpyArray { name: "F", shape: vec![used.len(), op.n_source], data: NpyData::F64(&f) },
            NpyArray { name: "d", shape: vec![d.len()], data: NpyData::F64(&d) },
            NpyArray { name: "sigma", shape: vec![s.len()], data: NpyData::F64(&s) },
            NpyArray { name: "m", shape: vec![1], data: NpyData::F64(&m) },
        ],
    )
    .unwrap();
    let oracle = run_oracle(&python, "evidence_scipy.py", &[system.to_string_lossy().into_owned(), best.lambda.to_string()]);
    let (lambda, evidence, at_ours) =
        (oracle["lambda"].as_f64().unwrap(), oracle["log_evidence"].as_f64().unwrap(), oracle["log_evidence_at_ours"].as_f64().unwrap());
    // The same function at the same λ: equal to rounding.
    assert!((best.log_evidence - at_ours).abs() < 1e-8 * at_ours.abs(), "ln ε at our λ: ours {} vs scipy {at_ours}", best.log_evidence);
    // The optima: λ and ln ε to 1 % (the criterion).
    assert!((best.lambda / lambda - 1.0).abs() < 0.01, "evidence-optimal λ: ours {} vs scipy {lambda}", best.lambda);
    assert!((best.log_evidence - evidence).abs() < 0.01 * evidence.abs(), "optimal ln ε: ours {} vs scipy {evidence}", best.log_evidence);
    eprintln!("λ ours {} scipy {lambda}; ln ε ours {} scipy {evidence}", best.lambda, best.log_evidence);
}
