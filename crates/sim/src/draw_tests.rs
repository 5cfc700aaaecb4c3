//! Unit tests of `draw`: every drawn quantity against the preset that
//! produced it, with distributions fixed so that each value has a closed
//! form written out here (not taken from the code under test).

use super::*;
use crate::preset::{builtin, Regime};
use astrorim_physics::ellipticity::e1e2_to_q_phi;
use astrorim_physics::light::LightProfile;

const C_KMS: f64 = 299_792.458;
const ARCSEC: f64 = PI / 180.0 / 3600.0;

fn fixed(v: f64) -> Dist {
    Dist::Fixed(v)
}

/// v1 with every distribution fixed and every optional component switched on.
fn everything_on() -> Preset {
    let mut p = builtin("v1").unwrap();
    p.image.subpixel_shift_prob = 1.0;
    p.regimes = vec![
        Regime { name: "fine".into(), weight: 1.0, pixel_scale: 0.05, psf_fwhm: fixed(0.1) },
        Regime { name: "coarse".into(), weight: 3.0, pixel_scale: 0.1, psf_fwhm: fixed(0.2) },
    ];
    p.cosmology.z_lens = fixed(0.5);
    p.cosmology.z_source = fixed(2.0);
    let l = &mut p.lens;
    l.theta_e = Some(fixed(1.2));
    l.sigma_v = None;
    l.ellipticity = fixed(0.3);
    l.center = fixed(0.0);
    l.shear = fixed(0.05);
    l.nfw_prob = 1.0;
    l.nfw_log10_m200 = None;
    l.nfw_rs = fixed(20.0);
    l.nfw_alpha_rs = fixed(0.9);
    l.subhalo_prob = 1.0;
    l.subhalo_count = CountDist::Fixed(3);
    l.subhalo_theta_e = fixed(0.01);
    l.subhalo_radius = fixed(0.8);
    l.second_lens_prob = 1.0;
    l.second_lens_ratio = fixed(0.5);
    l.second_lens_offset = fixed(1.5);
    let s = &mut p.source;
    s.magnitude = fixed(22.0);
    s.near_caustic_prob = 1.0;
    s.near_caustic_radius = fixed(0.2);
    s.broad_radius = fixed(0.9);
    s.bulge_re = fixed(0.1);
    s.bulge_n = fixed(2.0);
    s.bulge_fraction = fixed(0.4);
    s.disk_re_ratio = fixed(2.0);
    s.ellipticity = fixed(0.2);
    s.misalignment = fixed(0.5);
    s.companions = CountDist::Fixed(2);
    s.companion_offset = fixed(0.3);
    s.companion_flux = fixed(0.1);
    s.companion_re = fixed(0.05);
    s.clump_prob = 1.0;
    s.clump_count = CountDist::Fixed(4);
    s.clump_amplitude = fixed(0.5);
    s.clump_sigma = fixed(2.0);
    s.spiral_prob = 1.0;
    s.spiral_amplitude = fixed(0.06);
    p.lens_light.enabled = true;
    p.lens_light.magnitude_offset = fixed(-2.0);
    p.lens_light.re_ratio = fixed(0.5);
    p.lens_light.n = fixed(4.0);
    let f = &mut p.psf;
    (f.gaussian, f.moffat, f.airy) = (0.0, 1.0, 0.0);
    f.moffat_beta = fixed(3.0);
    f.ellipticity = fixed(0.05);
    f.coma_prob = 1.0;
    f.coma_strength = fixed(0.1);
    f.mismatch_prob = 1.0;
    f.mismatch_fwhm_ratio = fixed(1.2);
    let d = &mut p.detector;
    d.exposure = fixed(1000.0);
    d.gain = fixed(2.0);
    d.sky = fixed(0.5);
    d.read_noise = fixed(5.0);
    d.prnu = 0.01;
    d.sky_gradient = fixed(0.1);
    d.sky_residual_prob = 1.0;
    d.sky_residual = fixed(0.3);
    d.cosmic_prob = 1.0;
    d.cosmic_count = CountDist::Fixed(3);
    d.cosmic_amplitude = fixed(100.0);
    d.correlated_prob = 1.0;
    d.correlated_sigma = fixed(1.5);
    d.cti_prob = 1.0;
    d.cti_fraction = fixed(0.02);
    d.cti_length = fixed(3.0);
    d.vignetting_prob = 1.0;
    d.vignetting = fixed(0.05);
    let c = &mut p.contaminants;
    c.field_galaxy_prob = 1.0;
    c.field_galaxy_count = CountDist::Fixed(2);
    c.field_galaxy_magnitude = fixed(23.0);
    c.star_prob = 1.0;
    c.star_count = CountDist::Fixed(3);
    c.star_magnitude = fixed(21.0);
    p
}

/// The same preset with every optional component switched off.
fn everything_off() -> Preset {
    let mut p = everything_on();
    p.image.subpixel_shift_prob = 0.0;
    let l = &mut p.lens;
    (l.nfw_prob, l.subhalo_prob, l.second_lens_prob) = (0.0, 0.0, 0.0);
    let s = &mut p.source;
    s.bulge_fraction = fixed(1.0);
    s.companions = CountDist::Fixed(0);
    (s.clump_prob, s.spiral_prob, s.near_caustic_prob) = (0.0, 0.0, 0.0);
    p.lens_light.enabled = false;
    (p.psf.coma_prob, p.psf.mismatch_prob) = (0.0, 0.0);
    let d = &mut p.detector;
    (d.sky_residual_prob, d.cosmic_prob, d.correlated_prob, d.cti_prob, d.vignetting_prob) = (0.0, 0.0, 0.0, 0.0, 0.0);
    (p.contaminants.field_galaxy_prob, p.contaminants.star_prob) = (0.0, 0.0);
    p
}

fn draws(p: &Preset, n: u64) -> Vec<Draw> {
    (0..n).map(|k| draw(p, "test", k, &mut sample_rng(7, k))).collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

fn dist_from(p: (f64, f64), c: (f64, f64)) -> f64 {
    (p.0 - c.0).hypot(p.1 - c.1)
}

fn axis_ratio(e1: f64, e2: f64) -> f64 {
    e1e2_to_q_phi(e1, e2).0
}

/// The distances of the fixture's redshifts (0.5, 2.0) in its cosmology.
fn distances(p: &Preset) -> astrorim_physics::cosmology::LensDistances {
    FlatLcdm::new(p.cosmology.h0, p.cosmology.omega_m).unwrap().lens_distances(0.5, 2.0).unwrap()
}

/// Singular isothermal sphere: θ_E = 4π (σ_v/c)² D_ds/D_s, so σ_v = c √(θ_E D_s / (4π D_ds)).
fn sis_sigma_v(theta_e: f64, d: &astrorim_physics::cosmology::LensDistances) -> f64 {
    C_KMS * (theta_e * ARCSEC * d.d_source_mpc / (4.0 * PI * d.d_lens_source_mpc)).sqrt()
}

#[test]
fn magnitudes_become_counts_by_the_zero_point() {
    // At the zero point one electron per second: t/g ADU; 2.5 magnitudes fainter, a tenth.
    assert!(close(magnitude_to_adu(25.0, 25.0, 100.0, 4.0), 25.0, 1e-12));
    assert!(close(magnitude_to_adu(27.5, 25.0, 100.0, 4.0), 2.5, 1e-12));
    assert!(close(magnitude_to_adu(20.0, 25.0, 1.0, 1.0), 100.0, 1e-12));
}

#[test]
fn sersic_amplitude_gives_the_total_flux() {
    // Circular: F = ∫ 2πR I(R) dR on a logarithmic grid to 10⁵ R_sersic.
    for n in [0.7, 1.0, 2.5, 4.0] {
        let s = SersicDraw { flux: 3.7, r_sersic: 0.3, n, e1: 0.0, e2: 0.0, x: 0.0, y: 0.0 };
        let profile = s.profile();
        let (lo, hi, steps) = (1e-7f64.ln(), (0.3 * 1e5f64).ln(), 200_000);
        let h = (hi - lo) / steps as f64;
        let flux: f64 = (0..=steps)
            .map(|i| {
                let r = (lo + i as f64 * h).exp();
                let w = if i == 0 || i == steps { 0.5 } else { 1.0 };
                w * h * 2.0 * PI * r * r * profile.surface_brightness(r, 0.0)
            })
            .sum();
        assert!(close(flux, 3.7, 1e-4), "n = {n}: integrated flux {flux}");
    }
    // Elliptical (product-average radius): the same total flux, summed on a 2-D grid.
    let s = SersicDraw { flux: 2.0, r_sersic: 0.2, n: 1.0, e1: 0.2, e2: -0.1, x: 0.01, y: 0.0 };
    let profile = s.profile();
    let (m, pix) = (1601, 0.005);
    let half = (m as f64 - 1.0) / 2.0;
    let mut flux = 0.0;
    for i in 0..m {
        for j in 0..m {
            flux += profile.surface_brightness((j as f64 - half) * pix, (i as f64 - half) * pix) * pix * pix;
        }
    }
    assert!(close(flux, 2.0, 2e-3), "elliptical: {flux}");
}

#[test]
fn streams_are_reproducible_and_distinct() {
    let take = |seed, k| (0..4).map(|_| sample_rng(seed, k).gen::<u64>()).collect::<Vec<_>>();
    let mut a = sample_rng(3, 9);
    let first: Vec<u64> = (0..4).map(|_| a.gen()).collect();
    let mut b = sample_rng(3, 9);
    assert_eq!(first, (0..4).map(|_| b.gen()).collect::<Vec<u64>>());
    assert_ne!(take(3, 9)[0], take(3, 10)[0]);
    assert_ne!(take(3, 9)[0], take(4, 9)[0]);
}

#[test]
fn weighted_choice_and_chance_follow_their_probabilities() {
    let mut rng = sample_rng(1, 0);
    let weights = [1.0, 3.0, 0.0, 6.0];
    let n = 40_000;
    let mut counts = [0usize; 4];
    let mut hits = 0;
    for _ in 0..n {
        counts[weighted(&mut rng, &weights)] += 1;
        hits += chance(&mut rng, 0.3) as usize;
    }
    for (k, &w) in weights.iter().enumerate() {
        let p = w / 10.0;
        let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
        assert!((counts[k] as f64 / n as f64 - p).abs() <= tol, "weight {w}: {} of {n}", counts[k]);
    }
    assert!((hits as f64 / n as f64 - 0.3).abs() < 5.0 * (0.21 / n as f64).sqrt(), "chance 0.3: {hits} of {n}");
    assert!((0..100).all(|_| chance(&mut rng, 1.0) && !chance(&mut rng, 0.0)));
}

#[test]
fn count_images_of_isothermal_lenses() {
    // SIS: two images inside the Einstein radius, one outside; an SIE: four inside its astroid.
    let sis = LensDraw { sies: vec![SieDraw { theta_e: 1.0, e1: 0.0, e2: 0.0, x: 0.0, y: 0.0 }], ..Default::default() };
    assert_eq!(count_images(&sis, (0.5, 0.0), 1.0, 4.0), 2);
    assert_eq!(count_images(&sis, (0.0, -1.2), 1.0, 4.0), 1);
    let (e1, e2) = q_phi_to_e1e2(0.6, 0.3);
    let sie = LensDraw { sies: vec![SieDraw { theta_e: 1.0, e1, e2, x: 0.1, y: 0.0 }], ..Default::default() };
    assert_eq!(count_images(&sie, (0.11, 0.005), 1.0, 4.0), 4);
    // The map spans half the field of view when that exceeds 2.5 θ_E: a
    // small lens's single image 0.8″ out is found in an 8″ field.
    let small = LensDraw { sies: vec![SieDraw { theta_e: 0.3, e1: 0.0, e2: 0.0, x: 0.0, y: 0.0 }], ..Default::default() };
    assert_eq!(count_images(&small, (0.5, 0.0), 0.3, 8.0), 1);
}

#[test]
fn far_positions_avoid_the_lens_and_stay_in_the_field() {
    let mut rng = sample_rng(2, 0);
    for _ in 0..2000 {
        let (x, y) = far_position(&mut rng, 4.0, 1.5);
        assert!(x.hypot(y) > 1.5 && x.abs() <= 2.0 && y.abs() <= 2.0, "({x}, {y})");
    }
    // No room outside min_r: the documented corner fallback.
    assert_eq!(far_position(&mut rng, 1.0, 5.0), (0.45, 0.45));
}

#[test]
fn every_component_follows_its_fixed_preset_values() {
    let p = everything_on();
    let d_lens = distances(&p);
    let zp = p.detector.zero_point;
    let (n_draws, mut coarse) = (400u64, 0);
    let (mut cos_sum, mut sin_sum, mut angles) = (0.0f64, 0.0f64, 0.0f64);
    // Spiral phases and sky-gradient directions: uniform over the circle.
    let (mut phase_cos, mut phase_sin, mut sky_cos, mut sky_sin) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for d in draws(&p, n_draws) {
        let t = &d.truth;
        let s = d.pixel_scale;
        let fine = s == 0.05;
        coarse += (!fine) as u64;
        assert_eq!(t.regime, if fine { "fine" } else { "coarse" });
        assert_eq!(t.psf_fwhm, if fine { 0.1 } else { 0.2 });
        let fov = p.image.size as f64 * s;
        // Sub-pixel shift, the lens centre (fixed at 0) moved by it.
        assert!(t.shift_x.abs() <= s / 2.0 && t.shift_y.abs() <= s / 2.0 && t.shift_x != 0.0);
        let main = d.lens.sies[0];
        assert_eq!((main.x, main.y), (t.shift_x, t.shift_y));
        let c = (main.x, main.y);
        // Main SIE, shear, NFW.
        assert_eq!(main.theta_e, 1.2);
        assert!(close(axis_ratio(main.e1, main.e2), 0.7, 1e-9));
        assert!(close(d.lens.gamma1.hypot(d.lens.gamma2), 0.05, 1e-12));
        assert_eq!(d.lens.nfw, Some((20.0, 0.9, c.0, c.1)));
        // Subhalos at 0.8 θ_E from the centre, a second SIE of θ_E/2 at 1.5″.
        assert_eq!(d.lens.subhalos.len(), 3);
        for &(te, x, y) in &d.lens.subhalos {
            assert_eq!(te, 0.01);
            assert!(close(dist_from((x, y), c), 0.96, 1e-9));
            let phi = (y - c.1).atan2(x - c.0);
            (cos_sum, sin_sum, angles) = (cos_sum + phi.cos(), sin_sum + phi.sin(), angles + 1.0);
        }
        let second = d.lens.sies[1];
        assert!(close(second.theta_e, 0.6, 1e-12) && close(dist_from((second.x, second.y), c), 1.5, 1e-9));
        assert!(close(axis_ratio(second.e1, second.e2), 0.7, 1e-9));
        // Source 0.2 θ_E from the lens centre.
        let sc = (d.source.x, d.source.y);
        assert!(close(dist_from(sc, c), 0.24, 1e-9));
        assert_eq!((t.source_x, t.source_y), sc);
        // Flux: exposure 10^(−0.4 (m − zp)) / gain.
        let source_flux = 1000.0 * 10f64.powf(-0.4 * (22.0 - zp)) / 2.0;
        assert!(close(d.source.flux, source_flux, 1e-12) && close(t.source_flux_adu, source_flux, 1e-12));
        // Bulge (40 %, n = 2, R = 0.1) and disk (60 %, n = 1, R = 0.2), misaligned by 0.5 rad.
        let (bulge, disk) = (d.source.components[0], d.source.components[1]);
        assert_eq!((bulge.flux, bulge.r_sersic, bulge.n, (bulge.x, bulge.y)), (0.4, 0.1, 2.0, sc));
        assert!(close(disk.flux, 0.6, 1e-12) && close(disk.r_sersic, 0.2, 1e-12) && disk.n == 1.0 && (disk.x, disk.y) == sc);
        let (qb, pb) = e1e2_to_q_phi(bulge.e1, bulge.e2);
        let (qd, pd) = e1e2_to_q_phi(disk.e1, disk.e2);
        assert!(close(qb, 0.8, 1e-9) && close(qd, 0.8, 1e-9));
        let turn = (pd - pb).rem_euclid(PI);
        assert!((turn - 0.5).abs() < 1e-9, "misalignment {turn}");
        // Two companions 0.3″ from the source, 10 % each, q = 1 − e/2.
        assert_eq!(d.source.components.len(), 4);
        assert_eq!(t.source_companions, 2);
        for comp in &d.source.components[2..] {
            assert!(close(dist_from((comp.x, comp.y), sc), 0.3, 1e-9));
            assert_eq!((comp.flux, comp.r_sersic), (0.1, 0.05));
            assert!((1.0..3.0).contains(&comp.n));
            assert!(close(axis_ratio(comp.e1, comp.e2), 0.9, 1e-9));
        }
        // Clumps: σ of 2 source pixels, within 1.5 of the larger R_e.
        let source_pixel = fov * p.image.source_fov / p.image.source_size as f64;
        assert!(close(t.source_pixel_scale, source_pixel, 1e-12));
        assert_eq!(d.source.clumps.len(), 4);
        for &(a, sigma, x, y) in &d.source.clumps {
            assert_eq!(a, 0.5);
            assert!(close(sigma, 2.0 * source_pixel, 1e-12));
            assert!(dist_from((x, y), sc) <= 0.3 + 1e-12);
        }
        let (amp, phase, r_max) = d.source.spiral.expect("spiral on");
        assert!(amp == 0.06 && (0.0..2.0 * PI).contains(&phase) && close(r_max, 0.6, 1e-12));
        (phase_cos, phase_sin) = (phase_cos + phase.cos(), phase_sin + phase.sin());
        // Lens light: 2 magnitudes brighter than the source, R = θ_E/2, the SIE's centre and shape.
        let ll = d.lens_light.expect("lens light on");
        assert!(close(ll.flux, 1000.0 * 10f64.powf(-0.4 * (20.0 - zp)) / 2.0, 1e-12));
        assert_eq!((ll.r_sersic, ll.n, ll.e1, ll.e2, ll.x, ll.y), (0.6, 4.0, main.e1, main.e2, main.x, main.y));
        assert_eq!(t.lens_light_flux_adu, ll.flux);
        // PSF: Moffat β = 3 with |e| = 0.05, a coma lobe half a FWHM away, stored 1.2× wider.
        let fwhm = t.psf_fwhm;
        match d.psf.shape {
            PsfShape::Moffat { fwhm: f, beta, e1, e2 } => assert!(f == fwhm && beta == 3.0 && close(e1.hypot(e2), 0.05, 1e-12)),
            other => panic!("expected a Moffat PSF, got {other:?}"),
        }
        let (strength, cx, cy) = d.psf.coma.expect("coma on");
        assert!(strength == 0.1 && close(cx.hypot(cy), 0.5 * fwhm, 1e-9));
        match d.stored_psf.shape {
            PsfShape::Moffat { fwhm: f, .. } => assert!(close(f, 1.2 * fwhm, 1e-12) && close(t.psf_stored_fwhm, f, 1e-12)),
            other => panic!("stored PSF {other:?}"),
        }
        assert_eq!((t.psf_type.as_str(), t.psf_beta, t.psf_coma), ("MOFFAT", 3.0, 0.1));
        // Detector: sky = rate × exposure; the residual in units of √(sky/g + (r/g)²).
        let det = &d.detector;
        assert_eq!((det.exposure, det.gain, det.sky, det.read_noise, det.prnu), (1000.0, 2.0, 500.0, 5.0, 0.01));
        assert!(close(det.sky_residual, 0.3 * (500.0f64 / 2.0 + 6.25).sqrt(), 1e-12));
        assert_eq!(det.cosmic_amplitudes, vec![100.0; 3]);
        assert_eq!((det.correlated_sigma, det.cti_fraction, det.cti_length, det.vignetting), (1.5, 0.02, 3.0, 0.05));
        assert!(det.sky_gradient == 0.1 && (0.0..2.0 * PI).contains(&det.sky_gradient_angle));
        (sky_cos, sky_sin) = (sky_cos + det.sky_gradient_angle.cos(), sky_sin + det.sky_gradient_angle.sin());
        assert_eq!((t.cosmic_hits, t.correlated_sigma_px, t.cti_fraction, t.vignetting), (3, 1.5, 0.02, 0.05));
        // Contaminants: outside 1.5 θ_E, inside the field, at their magnitudes.
        assert_eq!((d.contaminants.galaxies.len(), d.contaminants.stars.len()), (2, 3));
        for g in &d.contaminants.galaxies {
            assert!(g.x.hypot(g.y) > 1.8 && g.x.abs() <= fov / 2.0 && g.y.abs() <= fov / 2.0);
            assert!(close(g.flux, 1000.0 * 10f64.powf(-0.4 * (23.0 - zp)) / 2.0, 1e-12));
            assert!((0.05..0.3).contains(&g.r_sersic) && (0.8..3.8).contains(&g.n) && axis_ratio(g.e1, g.e2) >= 0.4 - 1e-12);
        }
        for &(flux, x, y) in &d.contaminants.stars {
            assert!(x.hypot(y) > 1.8 && x.abs() <= fov / 2.0 && y.abs() <= fov / 2.0);
            assert!(close(flux, 1000.0 * 10f64.powf(-0.4 * (21.0 - zp)) / 2.0, 1e-12));
        }
        // Truth: σ_v and the Einstein mass from the distances, written out here.
        assert!(close(t.sigma_v_kms, sis_sigma_v(1.2, &d_lens), 1e-9), "σ_v {}", t.sigma_v_kms);
        let (c_ms, g_si, mpc_m, msun_kg) = (299_792_458.0, 6.674_30e-11, 3.085_677_581_491_367e22, 1.988_409_870_698_051e30);
        let theta = 1.2 * ARCSEC;
        let m_e = c_ms * c_ms / (4.0 * g_si) * theta * theta * d_lens.d_lens_mpc * d_lens.d_source_mpc / d_lens.d_lens_source_mpc * mpc_m
            / msun_kg;
        assert!(close(t.einstein_mass_msun, m_e, 1e-4), "M_E {} vs {m_e}", t.einstein_mass_msun);
        assert_eq!((t.z_lens, t.z_source, t.theta_E, t.e1, t.e2), (0.5, 2.0, 1.2, main.e1, main.e2));
        assert_eq!((t.gamma1, t.gamma2, t.nfw_Rs, t.nfw_alpha_Rs), (d.lens.gamma1, d.lens.gamma2, 20.0, 0.9));
        assert_eq!((t.n_subhalos, t.second_lens_theta_E, t.source_clumps, t.field_galaxies, t.stars), (3, second.theta_e, 4, 2, 3));
        assert!(close(t.q, 0.7, 1e-9) && t.source_spiral && t.attempts == 1 && t.n_images == 0);
    }
    // Regimes by weight (1 : 3), subhalo directions isotropic.
    let frac = coarse as f64 / n_draws as f64;
    assert!((frac - 0.75).abs() < 5.0 * (0.1875 / n_draws as f64).sqrt(), "coarse regime in {frac}");
    assert!(cos_sum.abs() < 5.0 * (angles / 2.0).sqrt() && sin_sum.abs() < 5.0 * (angles / 2.0).sqrt());
    let bound = 5.0 * (n_draws as f64 / 2.0).sqrt();
    assert!(phase_cos.abs() < bound && phase_sin.abs() < bound, "spiral phases: Σcos {phase_cos}, Σsin {phase_sin}");
    assert!(sky_cos.abs() < bound && sky_sin.abs() < bound, "sky-gradient angles: Σcos {sky_cos}, Σsin {sky_sin}");
}

#[test]
fn switched_off_components_are_absent() {
    let p = everything_off();
    for d in draws(&p, 50) {
        let t = &d.truth;
        assert_eq!((t.shift_x, t.shift_y), (0.0, 0.0));
        assert_eq!((d.lens.sies.len(), d.lens.subhalos.len(), d.lens.nfw), (1, 0, None));
        // Placed broadly: 0.9 θ_E, clipped to 0.3 of the source grid's field (0.3 × 0.5 × 96 s).
        let max_r = 0.3 * 0.5 * 96.0 * d.pixel_scale;
        assert!(close(dist_from((d.source.x, d.source.y), (d.lens.sies[0].x, d.lens.sies[0].y)), (0.9f64 * 1.2).min(max_r), 1e-9));
        assert_eq!(d.source.components.len(), 1);
        assert_eq!(d.source.components[0].flux, 1.0);
        assert!(d.source.clumps.is_empty() && d.source.spiral.is_none() && d.lens_light.is_none());
        assert!(d.psf.coma.is_none() && t.psf_stored_fwhm == t.psf_fwhm);
        let det = &d.detector;
        assert_eq!((det.sky_residual, det.correlated_sigma, det.cti_fraction, det.vignetting), (0.0, 0.0, 0.0, 0.0));
        assert!(det.cosmic_amplitudes.is_empty() && d.contaminants.galaxies.is_empty() && d.contaminants.stars.is_empty());
        assert_eq!((t.source_companions, t.lens_light_flux_adu, t.nfw_Rs, t.second_lens_theta_E), (0, 0.0, 0.0, 0.0));
    }
}

#[test]
fn velocity_dispersions_and_outliers_set_the_einstein_radius() {
    let mut p = everything_off();
    p.lens.theta_e = None;
    p.lens.sigma_v = Some(fixed(250.0));
    let d_lens = distances(&p);
    for d in draws(&p, 5) {
        // θ_E = 4π (σ_v/c)² D_ds/D_s.
        let theta_e = 4.0 * PI * (250.0 / C_KMS).powi(2) * d_lens.d_lens_source_mpc / d_lens.d_source_mpc / ARCSEC;
        assert!(close(d.truth.theta_E, theta_e, 1e-9) && d.truth.sigma_v_kms == 250.0, "θ_E {}", d.truth.theta_E);
    }
    p.lens.theta_e_outlier_prob = 1.0;
    p.lens.theta_e_outlier = fixed(2.0);
    for d in draws(&p, 5) {
        assert_eq!(d.truth.theta_E, 2.0);
        assert!(close(d.truth.sigma_v_kms, sis_sigma_v(2.0, &d_lens), 1e-9));
    }
}

#[test]
fn multiply_imaged_sources_are_redrawn_then_moved_out() {
    // A source 0.1 θ_E from an SIE always has several images: after
    // max_attempts it is moved along its direction to the grid's edge.
    let mut p = everything_off();
    p.lens.reject_multiple_images = true;
    p.lens.max_attempts = 3;
    p.source.broad_radius = fixed(0.1);
    p.regimes.truncate(1);
    let max_r = 0.3 * 0.5 * 96.0 * 0.05;
    for d in draws(&p, 4) {
        let c = (d.lens.sies[0].x, d.lens.sies[0].y);
        assert_eq!(d.truth.attempts, 3);
        assert!(close(dist_from((d.source.x, d.source.y), c), max_r, 1e-9));
        assert_eq!(d.truth.n_images, count_images(&d.lens, (d.source.x, d.source.y), 1.2, 4.8));
    }
    // A small lens with the source well outside its caustics: accepted at once, singly imaged.
    p.lens.theta_e = Some(fixed(0.3));
    p.source.broad_radius = fixed(1.5);
    for d in draws(&p, 4) {
        assert_eq!((d.truth.attempts, d.truth.n_images), (1, 1));
        assert!(close(dist_from((d.source.x, d.source.y), (d.lens.sies[0].x, d.lens.sies[0].y)), 0.45, 1e-9));
    }
}

#[test]
fn morphology_classes_are_drawn_by_weight() {
    let p = builtin("v6").unwrap();
    let total: f64 = p.source.morphologies.iter().map(|m| m.weight).sum();
    let n = 1500;
    let names: Vec<String> = draws(&p, n).into_iter().map(|d| d.truth.source_morphology).collect();
    for m in &p.source.morphologies {
        let seen = names.iter().filter(|s| **s == m.name).count() as f64 / n as f64;
        let share = m.weight / total;
        assert!((seen - share).abs() < 5.0 * (share * (1.0 - share) / n as f64).sqrt(), "{}: {seen} vs {share}", m.name);
    }
}

#[test]
fn each_psf_family_is_drawn_and_recorded_as_itself() {
    for (weights, name) in [((1.0, 0.0, 0.0), "GAUSSIAN"), ((0.0, 1.0, 0.0), "MOFFAT"), ((0.0, 0.0, 1.0), "AIRY")] {
        let mut p = everything_off();
        (p.psf.gaussian, p.psf.moffat, p.psf.airy) = weights;
        for d in draws(&p, 20) {
            let t = &d.truth;
            assert_eq!(t.psf_type, name);
            // Airy PSFs are round: the truth records no ellipticity for them.
            let (e1, e2) = match d.psf.shape {
                PsfShape::Gaussian { fwhm, e1, e2 } if name == "GAUSSIAN" => {
                    assert_eq!(fwhm, t.psf_fwhm);
                    (e1, e2)
                }
                PsfShape::Moffat { fwhm, beta, e1, e2 } if name == "MOFFAT" => {
                    assert!(fwhm == t.psf_fwhm && beta == 3.0 && t.psf_beta == 3.0);
                    (e1, e2)
                }
                PsfShape::Airy { fwhm } if name == "AIRY" => {
                    assert_eq!(fwhm, t.psf_fwhm);
                    (0.0, 0.0)
                }
                other => panic!("{name}: drew {other:?}"),
            };
            assert!(name == "AIRY" || close(e1.hypot(e2), 0.05, 1e-12), "{name}: |e| = {}", e1.hypot(e2));
            assert_eq!((t.psf_e1, t.psf_e2), (e1, e2), "{name}");
        }
    }
}

#[test]
fn field_galaxies_have_uniform_axis_ratios_sizes_and_indices() {
    // q ~ U(0.4, 1), R ~ U(0.05, 0.3)″, n ~ U(0.8, 3.8): sample means within
    // 4 standard errors of the uniform means (σ = width/√12) over 1000 galaxies.
    let mut p = everything_off();
    p.contaminants.field_galaxy_prob = 1.0;
    p.contaminants.field_galaxy_count = CountDist::Fixed(5);
    let galaxies: Vec<_> = draws(&p, 200).into_iter().flat_map(|d| d.contaminants.galaxies).collect();
    assert_eq!(galaxies.len(), 1000);
    let n = galaxies.len() as f64;
    let check = |values: Vec<f64>, lo: f64, hi: f64, what: &str| {
        assert!(values.iter().all(|v| (lo - 1e-12..=hi + 1e-12).contains(v)), "{what} outside [{lo}, {hi}]");
        let mean = values.iter().sum::<f64>() / n;
        let se = (hi - lo) / 12f64.sqrt() / n.sqrt();
        assert!((mean - 0.5 * (lo + hi)).abs() < 4.0 * se, "{what}: mean {mean} vs {}", 0.5 * (lo + hi));
    };
    check(galaxies.iter().map(|g| axis_ratio(g.e1, g.e2)).collect(), 0.4, 1.0, "q");
    check(galaxies.iter().map(|g| g.r_sersic).collect(), 0.05, 0.3, "R_sersic");
    check(galaxies.iter().map(|g| g.n).collect(), 0.8, 3.8, "n");
}

#[test]
fn far_positions_are_uniform_over_the_field_outside_the_disc() {
    // Uniform on the square [−2, 2]² less the disc r < 1.5: E[x] = 0 and
    // E[x²] = (∫_square x² − ∫_disc x²)/area = (64/3 − π 1.5⁴/4)/(16 − π 1.5²).
    let mut rng = sample_rng(3, 0);
    let points: Vec<(f64, f64)> = (0..4000).map(|_| far_position(&mut rng, 4.0, 1.5)).collect();
    let n = points.len() as f64;
    let expected_x2 = (64.0 / 3.0 - PI * 1.5f64.powi(4) / 4.0) / (16.0 - PI * 2.25);
    for axis in [0, 1] {
        let v: Vec<f64> = points.iter().map(|p| if axis == 0 { p.0 } else { p.1 }).collect();
        let mean = v.iter().sum::<f64>() / n;
        let mean_x2 = v.iter().map(|x| x * x).sum::<f64>() / n;
        let sd_x2 = (v.iter().map(|x| (x * x - mean_x2).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 4.0 * (expected_x2 / n).sqrt(), "axis {axis}: mean {mean}");
        assert!((mean_x2 - expected_x2).abs() < 4.0 * sd_x2 / n.sqrt(), "axis {axis}: ⟨x²⟩ {mean_x2} vs {expected_x2}");
    }
}
