//! Analytic PSF kernels (Gaussian, elliptical Gaussian, Moffat, Airy)
//! against astropy.modeling's models discretized the same way.

mod common;

use astrorim_physics::psf::{Kernel, PsfShape};
use common::{oracle_python, run_oracle};

#[test]
fn analytic_psfs_match_astropy() {
    let Some(python) = oracle_python() else { return };
    let s = 0.04;
    let cases = [
        (PsfShape::Gaussian { fwhm: 0.09, e1: 0.0, e2: 0.0 }, serde_json::json!({"type": "GAUSSIAN", "fwhm": 0.09, "e1": 0.0, "e2": 0.0})),
        (
            PsfShape::Gaussian { fwhm: 0.12, e1: 0.15, e2: -0.08 },
            serde_json::json!({"type": "GAUSSIAN", "fwhm": 0.12, "e1": 0.15, "e2": -0.08}),
        ),
        (PsfShape::Moffat { fwhm: 0.1, beta: 2.7, e1: 0.0, e2: 0.0 }, serde_json::json!({"type": "MOFFAT", "fwhm": 0.1, "beta": 2.7})),
        (PsfShape::Airy { fwhm: 0.08 }, serde_json::json!({"type": "AIRY", "fwhm": 0.08})),
    ];
    let size = 21;
    let ours: Vec<Kernel> = cases.iter().map(|(shape, _)| Kernel::sample(*shape, s, size)).collect();
    let specs: Vec<serde_json::Value> = cases
        .iter()
        .map(|(_, spec)| {
            let mut spec = spec.clone();
            spec["pixel_scale"] = s.into();
            spec["size"] = size.into();
            spec["subsampling"] = 5.into();
            spec
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.json");
    std::fs::write(&path, serde_json::to_vec(&specs).unwrap()).unwrap();
    let reference = run_oracle(&python, "psf_astropy.py", &[path.to_string_lossy().into_owned()]);
    for ((kernel, (_, spec)), theirs) in ours.iter().zip(&cases).zip(reference.as_array().unwrap()) {
        let theirs: Vec<f64> =
            theirs.as_array().unwrap().iter().flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap())).collect();
        let peak = theirs.iter().cloned().fold(0.0, f64::max);
        let worst = kernel.data().iter().zip(&theirs).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst < 1e-9 * peak, "{spec}: max |ours − astropy| = {worst:.3e} (peak {peak:.3e})");
    }
}
