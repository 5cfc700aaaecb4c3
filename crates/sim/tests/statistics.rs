//! Statistical and physical checks of the simulator variants.

use astrorim_physics::lens_equation::ImagePlaneMap;
use astrorim_sim::dataset::Generator;
use astrorim_sim::dist::Dist;
use astrorim_sim::draw::{draw, sample_rng};
use astrorim_sim::preset::builtin;

/// Kolmogorov–Smirnov statistic of `values` against `dist`.
fn ks(values: &mut [f64], dist: &Dist) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len() as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = dist.cdf(v).expect("closed-form CDF");
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn drawn_parameters_follow_the_presets() {
    let n = 2000;
    // Critical KS distance at significance 0.001.
    let critical = 1.95 / (n as f64).sqrt();
    for variant in ["v1", "v2", "v3", "v4", "v6"] {
        let p = builtin(variant).unwrap();
        let draws: Vec<_> = (0..n).map(|k| draw(&p, variant, k, &mut sample_rng(11, k)).truth).collect();
        let mut checks: Vec<(&str, Vec<f64>, Dist)> = vec![
            ("exposure", draws.iter().map(|t| t.exposure_s).collect(), p.detector.exposure),
            ("read_noise", draws.iter().map(|t| t.read_noise_e).collect(), p.detector.read_noise),
            ("z_lens", draws.iter().map(|t| t.z_lens).collect(), p.cosmology.z_lens),
            ("source_magnitude", draws.iter().map(|t| t.source_magnitude).collect(), p.source.magnitude),
            ("source_bulge_re", draws.iter().map(|t| t.source_bulge_re).collect(), p.source.bulge_re),
        ];
        if let Some(t) = p.lens.theta_e {
            checks.push(("theta_E", draws.iter().map(|t| t.theta_E).collect(), t));
        }
        if let (Some(sv), 0.0) = (p.lens.sigma_v, p.lens.theta_e_outlier_prob) {
            checks.push(("sigma_v", draws.iter().map(|t| t.sigma_v_kms).collect(), sv));
        }
        if p.regimes.len() == 1 {
            checks.push(("psf_fwhm", draws.iter().map(|t| t.psf_fwhm).collect(), p.regimes[0].psf_fwhm));
        }
        for (name, mut values, dist) in checks {
            let d = ks(&mut values, &dist);
            assert!(d < critical, "{variant} {name}: KS distance {d:.4} ≥ {critical:.4}");
        }
        // Probabilities of optional components.
        let frac = |f: &dyn Fn(&astrorim_sim::truth::Truth) -> bool| draws.iter().filter(|t| f(t)).count() as f64 / n as f64;
        let tol = 4.0 * (0.25 / n as f64).sqrt();
        assert!((frac(&|t| t.nfw_Rs > 0.0) - p.lens.nfw_prob).abs() < tol, "{variant} NFW fraction");
        assert!((frac(&|t| t.second_lens_theta_E > 0.0) - p.lens.second_lens_prob).abs() < tol, "{variant} second-lens fraction");
        // Lens axis ratios stay physical.
        assert!(draws.iter().all(|t| t.q > 0.0 && t.q <= 1.0));
        if p.regimes.len() == 3 {
            let space = frac(&|t| t.regime == "space");
            assert!((space - 0.45).abs() < tol, "{variant} space-regime fraction {space}");
        }
    }
}

#[test]
fn v5_draws_are_singly_imaged() {
    let p = builtin("v5").unwrap();
    for k in 0..40 {
        let d = draw(&p, "v5", k, &mut sample_rng(5, k));
        assert!(d.truth.n_images <= 1, "sample {k}: {} images after {} attempts", d.truth.n_images, d.truth.attempts);
        // Independent check on a finer grid.
        let model = d.lens.model();
        let half = d.source.x.hypot(d.source.y) + 3.0 * d.truth.theta_E;
        let map = ImagePlaneMap::new(&model, half, 700, 0.25 * d.truth.theta_E);
        let images = map.images_of((d.source.x, d.source.y));
        assert_eq!(images.len(), 1, "sample {k}: source at ({}, {}) has images {images:?}", d.source.x, d.source.y);
    }
}

#[test]
fn noise_maps_match_the_empirical_noise() {
    // Per sample, the mean of ((image − noiseless)/noise)² over pixels without
    // cosmic rays must be 1 on average. Correlated noise (σ up to 4 pixels)
    // leaves few independent pixels per image, so the tolerance is four
    // standard errors of the mean over samples, plus 1 %.
    for variant in ["v1", "v2", "v3", "v4", "v5", "v6"] {
        let g = Generator::named(variant, None).unwrap();
        let per_sample: Vec<f64> = (0..30)
            .map(|k| {
                let s = g.simulate(3, k);
                let r2: Vec<f64> = (0..s.image.len())
                    .filter(|&i| s.cosmic[i] == 0.0)
                    .map(|i| ((s.image[i] - s.clean[i]) as f64 / s.noise[i] as f64).powi(2))
                    .collect();
                r2.iter().sum::<f64>() / r2.len() as f64
            })
            .collect();
        let n = per_sample.len() as f64;
        let mean = per_sample.iter().sum::<f64>() / n;
        let se = (per_sample.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
        assert!((mean - 1.0).abs() < 0.01 + 4.0 * se, "{variant}: mean standardized residual² {mean:.4} ± {se:.4}");
    }
}

#[test]
fn every_variant_produces_finite_consistent_samples() {
    for variant in ["v1", "v2", "v3", "v4", "v5", "v6", "mix"] {
        let g = Generator::named(variant, None).unwrap();
        let (n, m, k) = g.shapes().unwrap();
        for idx in 0..3 {
            let s = g.simulate(9, idx);
            assert_eq!((s.image.len(), s.source.len(), s.psf.len()), (n * n, m * m, k * k));
            assert!(s.image.iter().chain(&s.noise).chain(&s.source).chain(&s.psf).all(|v| v.is_finite()), "{variant}");
            assert!(s.noise.iter().all(|&v| v > 0.0));
            assert!((s.psf.iter().map(|&v| v as f64).sum::<f64>() - 1.0).abs() < 1e-4);
            let flux: f64 = s.source.iter().map(|&v| v as f64).sum::<f64>() * (s.truth.source_pixel_scale / s.truth.pixel_scale).powi(2);
            assert!(
                (flux / s.truth.source_flux_adu - 1.0).abs() < 1e-3,
                "{variant}: source grid flux {flux} vs {}",
                s.truth.source_flux_adu
            );
        }
    }
}
