//! Drawing one sample's parameters from a preset.
//!
//! All randomness of sample k comes from the stream `sample_rng(seed, k)`,
//! so a sample does not depend on thread count, sharding or other samples.

use crate::dist::{CountDist, Dist};
use crate::preset::{Preset, ANGLE};
use crate::truth::Truth;
use astrorim_physics::cosmology::FlatLcdm;
use astrorim_physics::ellipticity::q_phi_to_e1e2;
use astrorim_physics::lens_equation::ImagePlaneMap;
use astrorim_physics::light::Sersic;
use astrorim_physics::mass::{LensModel, MassProfile, Nfw, Shear, Sie, Sis};
use astrorim_physics::param_map::LenstronomyLens;
use astrorim_physics::psf::PsfShape;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

/// The random stream of sample `index` of a run with `seed`.
pub fn sample_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// An SIE in lenstronomy keywords.
#[derive(Debug, Clone, Copy)]
pub struct SieDraw {
    pub theta_e: f64,
    pub e1: f64,
    pub e2: f64,
    pub x: f64,
    pub y: f64,
}

/// Every mass component of a sample.
#[derive(Debug, Clone, Default)]
pub struct LensDraw {
    pub sies: Vec<SieDraw>,
    /// SIS subhalos: (θ_E, x, y).
    pub subhalos: Vec<(f64, f64, f64)>,
    pub gamma1: f64,
    pub gamma2: f64,
    /// NFW (Rs, alpha_Rs, x, y).
    pub nfw: Option<(f64, f64, f64, f64)>,
}

impl LensDraw {
    /// The reference (f64) lens model of this draw.
    pub fn model(&self) -> LensModel {
        let mut profiles: Vec<Box<dyn MassProfile>> = Vec::new();
        for s in &self.sies {
            profiles.push(Box::new(Sie::new(s.theta_e, s.e1, s.e2, s.x, s.y)));
        }
        for &(t, x, y) in &self.subhalos {
            profiles.push(Box::new(Sis::new(t, x, y)));
        }
        profiles.push(Box::new(Shear::new(self.gamma1, self.gamma2, 0.0, 0.0)));
        if let Some((rs, a, x, y)) = self.nfw {
            profiles.push(Box::new(Nfw::new(rs, a, x, y)));
        }
        LensModel::new(profiles)
    }
}

/// An elliptical Sérsic in lenstronomy keywords with its total flux (ADU).
#[derive(Debug, Clone, Copy)]
pub struct SersicDraw {
    pub flux: f64,
    pub r_sersic: f64,
    pub n: f64,
    pub e1: f64,
    pub e2: f64,
    pub x: f64,
    pub y: f64,
}

impl SersicDraw {
    /// lenstronomy's amp (surface brightness at R_sersic, ADU/arcsec²) for
    /// this total flux: F = 2π n Γ(2n) e^k k^(−2n) R² amp (product-average radius).
    pub fn amp(&self) -> f64 {
        let k = astrorim_physics::light::sersic_k(self.n);
        let unit_flux = 2.0 * PI * self.n * libm::tgamma(2.0 * self.n) * k.exp() * k.powf(-2.0 * self.n) * self.r_sersic * self.r_sersic;
        self.flux / unit_flux
    }

    pub fn profile(&self) -> Sersic {
        Sersic::new(self.amp(), self.r_sersic, self.n, self.e1, self.e2, self.x, self.y)
    }
}

/// The unlensed source.
#[derive(Debug, Clone, Default)]
pub struct SourceDraw {
    pub components: Vec<SersicDraw>,
    /// Gaussian clumps: (peak relative to the smooth source's peak, σ arcsec, x, y).
    pub clumps: Vec<(f64, f64, f64, f64)>,
    /// Spiral modulation (amplitude, φ0, r_max arcsec) about the source centre.
    pub spiral: Option<(f64, f64, f64)>,
    pub x: f64,
    pub y: f64,
    /// Total flux of the final source grid, ADU.
    pub flux: f64,
}

/// A PSF: analytic core plus an optional coma lobe (flux fraction, offset x, y arcsec).
#[derive(Debug, Clone, Copy)]
pub struct PsfDraw {
    pub shape: PsfShape,
    pub coma: Option<(f64, f64, f64)>,
}

/// Detector and observing conditions.
#[derive(Debug, Clone, Default)]
pub struct DetectorDraw {
    pub exposure: f64,
    pub gain: f64,
    /// Sky, ADU per pixel over the exposure.
    pub sky: f64,
    pub read_noise: f64,
    pub prnu: f64,
    /// Fractional sky gradient across the image and its direction (radians), 2-D flag.
    pub sky_gradient: f64,
    pub sky_gradient_angle: f64,
    pub sky_gradient_2d: bool,
    /// Sky-subtraction residual, ADU per pixel.
    pub sky_residual: f64,
    /// Amplitude (ADU) of each cosmic-ray hit.
    pub cosmic_amplitudes: Vec<f64>,
    pub cosmic_tracks: bool,
    pub correlated_sigma: f64,
    pub cti_fraction: f64,
    pub cti_length: f64,
    pub vignetting: f64,
}

/// Unlensed contaminants: field galaxies (Sérsics) and stars (flux, x, y).
#[derive(Debug, Clone, Default)]
pub struct ContaminantDraw {
    pub galaxies: Vec<SersicDraw>,
    pub stars: Vec<(f64, f64, f64)>,
}

/// Everything needed to render one sample.
#[derive(Debug, Clone)]
pub struct Draw {
    pub truth: Truth,
    pub pixel_scale: f64,
    pub lens: LensDraw,
    pub source: SourceDraw,
    pub lens_light: Option<SersicDraw>,
    pub psf: PsfDraw,
    /// The PSF stored with the sample (differs from `psf` under mismatch).
    pub stored_psf: PsfDraw,
    pub detector: DetectorDraw,
    pub contaminants: ContaminantDraw,
}

fn chance<R: Rng>(rng: &mut R, p: f64) -> bool {
    rng.gen::<f64>() < p
}

fn weighted<R: Rng>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

/// Counts from an AB magnitude: t_exp · 10^(−0.4 (m − zp)) e⁻, divided by the gain.
pub fn magnitude_to_adu(magnitude: f64, zero_point: f64, exposure: f64, gain: f64) -> f64 {
    exposure * 10f64.powf(-0.4 * (magnitude - zero_point)) / gain
}

fn polar<R: Rng>(rng: &mut R, r: f64) -> (f64, f64) {
    let t = rng.gen::<f64>() * 2.0 * PI;
    (r * t.cos(), r * t.sin())
}

fn count<R: Rng>(rng: &mut R, d: &CountDist) -> u32 {
    d.sample(rng)
}

fn sample<R: Rng>(rng: &mut R, d: &Dist) -> f64 {
    d.sample(rng)
}

/// Draws sample `index` of `preset` (label `variant`) from `rng`.
pub fn draw(preset: &Preset, variant: &str, index: u64, rng: &mut ChaCha8Rng) -> Draw {
    let regime_idx = weighted(rng, &preset.regimes.iter().map(|r| r.weight).collect::<Vec<_>>());
    let regime = &preset.regimes[regime_idx];
    let s = regime.pixel_scale;
    let n = preset.image.size;
    let fov = n as f64 * s;
    let source_fov = fov * preset.image.source_fov;
    let cosmo = FlatLcdm::new(preset.cosmology.h0, preset.cosmology.omega_m).expect("validated");
    let z_lens = sample(rng, &preset.cosmology.z_lens);
    let z_source = sample(rng, &preset.cosmology.z_source);
    let dist = cosmo.lens_distances(z_lens, z_source).expect("validated redshift ranges");

    let shift = if chance(rng, preset.image.subpixel_shift_prob) {
        ((rng.gen::<f64>() - 0.5) * s, (rng.gen::<f64>() - 0.5) * s)
    } else {
        (0.0, 0.0)
    };

    let mut attempts = 0;
    let (lens, theta_e, sigma_v, source_center, n_images) = loop {
        attempts += 1;
        let l = &preset.lens;
        let (mut theta_e, mut sigma_v) = match (&l.theta_e, &l.sigma_v) {
            (Some(t), _) => {
                let t = sample(rng, t);
                (t, dist.sigma_v_sis_kms(t))
            }
            (None, Some(sv)) => {
                let sv = sample(rng, sv);
                (dist.theta_e_sis_arcsec(sv), sv)
            }
            (None, None) => unreachable!("validated"),
        };
        if chance(rng, l.theta_e_outlier_prob) {
            theta_e = sample(rng, &l.theta_e_outlier);
            sigma_v = dist.sigma_v_sis_kms(theta_e);
        }
        let q = 1.0 - sample(rng, &l.ellipticity);
        let (e1, e2) = q_phi_to_e1e2(q, sample(rng, &ANGLE));
        let cx = sample(rng, &l.center) + shift.0;
        let cy = sample(rng, &l.center) + shift.1;
        let mut lens = LensDraw { sies: vec![SieDraw { theta_e, e1, e2, x: cx, y: cy }], ..Default::default() };
        let (g1, g2) = astrorim_physics::ellipticity::shear_polar_to_cartesian(sample(rng, &l.shear), sample(rng, &ANGLE));
        lens.gamma1 = g1;
        lens.gamma2 = g2;
        if chance(rng, l.nfw_prob) {
            let (rs, alpha_rs) = match &l.nfw_log10_m200 {
                Some(m) => {
                    let m200 = 10f64.powf(sample(rng, m));
                    cosmo.nfw_angles(m200, sample(rng, &l.nfw_concentration), &dist, z_lens)
                }
                None => (sample(rng, &l.nfw_rs), sample(rng, &l.nfw_alpha_rs)),
            };
            lens.nfw = Some((rs, alpha_rs, cx, cy));
        }
        if chance(rng, l.subhalo_prob) {
            for _ in 0..count(rng, &l.subhalo_count) {
                let t = sample(rng, &l.subhalo_theta_e);
                let r = sample(rng, &l.subhalo_radius) * theta_e;
                let (dx, dy) = polar(rng, r);
                lens.subhalos.push((t, cx + dx, cy + dy));
            }
        }
        if chance(rng, l.second_lens_prob) {
            let t2 = sample(rng, &l.second_lens_ratio) * theta_e;
            let r = sample(rng, &l.second_lens_offset);
            let (dx, dy) = polar(rng, r);
            let (e1, e2) = q_phi_to_e1e2(1.0 - sample(rng, &l.ellipticity), sample(rng, &ANGLE));
            lens.sies.push(SieDraw { theta_e: t2, e1, e2, x: cx + dx, y: cy + dy });
        }
        // Source position relative to the lens centre, in units of θ_E, kept
        // inside the source grid with room for the source's extent.
        let radius = if chance(rng, preset.source.near_caustic_prob) {
            sample(rng, &preset.source.near_caustic_radius)
        } else {
            sample(rng, &preset.source.broad_radius)
        };
        let max_r = (0.5 * source_fov * 0.6).max(0.0);
        let (dx, dy) = polar(rng, (radius * theta_e).min(max_r));
        let src = (cx + dx, cy + dy);
        let n_images = if l.reject_multiple_images { count_images(&lens, src, theta_e, fov) } else { 0 };
        if !l.reject_multiple_images || n_images <= 1 {
            break (lens, theta_e, sigma_v, src, n_images);
        }
        if attempts >= l.max_attempts {
            // Last resort: move the source to the edge of the source grid along its direction.
            let r = dx.hypot(dy).max(1e-9);
            let far = (cx + dx / r * max_r, cy + dy / r * max_r);
            let n_far = count_images(&lens, far, theta_e, fov);
            break (lens, theta_e, sigma_v, far, n_far);
        }
    };

    // Source morphology.
    let sp = &preset.source;
    let (morph_name, bulge_n_d, bulge_frac_d, spiral_p, clump_p) = if sp.morphologies.is_empty() {
        (String::new(), sp.bulge_n, sp.bulge_fraction, sp.spiral_prob, sp.clump_prob)
    } else {
        let m = &sp.morphologies[weighted(rng, &sp.morphologies.iter().map(|m| m.weight).collect::<Vec<_>>())];
        (m.name.clone(), m.bulge_n, m.bulge_fraction, m.spiral_prob, m.clump_prob)
    };
    let det = &preset.detector;
    let exposure = sample(rng, &det.exposure);
    let gain = sample(rng, &det.gain);
    let source_mag = sample(rng, &sp.magnitude);
    let source_flux = magnitude_to_adu(source_mag, det.zero_point, exposure, gain);
    let bulge_re = sample(rng, &sp.bulge_re);
    let bulge_n = sample(rng, &bulge_n_d);
    let bulge_fraction = sample(rng, &bulge_frac_d);
    let disk_re = bulge_re * sample(rng, &sp.disk_re_ratio);
    let src_q = 1.0 - sample(rng, &sp.ellipticity);
    let src_phi = sample(rng, &ANGLE);
    let (be1, be2) = q_phi_to_e1e2(src_q, src_phi);
    let (de1, de2) = q_phi_to_e1e2(src_q, src_phi + sample(rng, &sp.misalignment));
    let (sx, sy) = source_center;
    let mut source = SourceDraw { x: sx, y: sy, flux: source_flux, ..Default::default() };
    source.components.push(SersicDraw { flux: bulge_fraction, r_sersic: bulge_re, n: bulge_n, e1: be1, e2: be2, x: sx, y: sy });
    if bulge_fraction < 1.0 {
        source.components.push(SersicDraw { flux: 1.0 - bulge_fraction, r_sersic: disk_re, n: 1.0, e1: de1, e2: de2, x: sx, y: sy });
    }
    for _ in 0..count(rng, &sp.companions) {
        let r = sample(rng, &sp.companion_offset);
        let (dx, dy) = polar(rng, r);
        let (e1, e2) = q_phi_to_e1e2(1.0 - 0.5 * sample(rng, &sp.ellipticity), sample(rng, &ANGLE));
        let flux = sample(rng, &sp.companion_flux);
        source.components.push(SersicDraw {
            flux,
            r_sersic: sample(rng, &sp.companion_re),
            n: 1.0 + 2.0 * rng.gen::<f64>(),
            e1,
            e2,
            x: sx + dx,
            y: sy + dy,
        });
    }
    let source_pixel = source_fov / preset.image.source_size as f64;
    if chance(rng, clump_p) {
        for _ in 0..count(rng, &sp.clump_count) {
            let r = disk_re.max(bulge_re) * 1.5 * rng.gen::<f64>().sqrt();
            let (dx, dy) = polar(rng, r);
            source.clumps.push((sample(rng, &sp.clump_amplitude), sample(rng, &sp.clump_sigma) * source_pixel, sx + dx, sy + dy));
        }
    }
    let spiral = chance(rng, spiral_p);
    if spiral {
        source.spiral = Some((sample(rng, &sp.spiral_amplitude), rng.gen::<f64>() * 2.0 * PI, 3.0 * disk_re.max(bulge_re)));
    }

    // Lens light follows the main SIE's centre and ellipticity.
    let main = lens.sies[0];
    let ll = &preset.lens_light;
    let lens_light = if ll.enabled {
        let mag = source_mag + sample(rng, &ll.magnitude_offset);
        Some(SersicDraw {
            flux: magnitude_to_adu(mag, det.zero_point, exposure, gain),
            r_sersic: sample(rng, &ll.re_ratio) * theta_e,
            n: sample(rng, &ll.n),
            e1: main.e1,
            e2: main.e2,
            x: main.x,
            y: main.y,
        })
    } else {
        None
    };

    // PSF.
    let p = &preset.psf;
    let fwhm = sample(rng, &regime.psf_fwhm);
    let (pe1, pe2) = astrorim_physics::ellipticity::shear_polar_to_cartesian(sample(rng, &p.ellipticity), sample(rng, &ANGLE));
    let family = weighted(rng, &[p.gaussian, p.moffat, p.airy]);
    let beta = sample(rng, &p.moffat_beta);
    let shape_of = |fwhm: f64| match family {
        0 => PsfShape::Gaussian { fwhm, e1: pe1, e2: pe2 },
        1 => PsfShape::Moffat { fwhm, beta, e1: pe1, e2: pe2 },
        _ => PsfShape::Airy { fwhm },
    };
    let coma = if chance(rng, p.coma_prob) {
        let (dx, dy) = polar(rng, 0.5 * fwhm);
        Some((sample(rng, &p.coma_strength), dx, dy))
    } else {
        None
    };
    let psf = PsfDraw { shape: shape_of(fwhm), coma };
    let stored_fwhm = if chance(rng, p.mismatch_prob) { fwhm * sample(rng, &p.mismatch_fwhm_ratio) } else { fwhm };
    let stored_psf = PsfDraw { shape: shape_of(stored_fwhm), coma };

    // Detector.
    let sky_rate = sample(rng, &det.sky);
    let read_noise = sample(rng, &det.read_noise);
    let sky = sky_rate * exposure;
    let sky_sigma = (sky / gain + (read_noise / gain).powi(2)).sqrt();
    let detector = DetectorDraw {
        exposure,
        gain,
        sky,
        read_noise,
        prnu: det.prnu,
        sky_gradient: sample(rng, &det.sky_gradient),
        sky_gradient_angle: rng.gen::<f64>() * 2.0 * PI,
        sky_gradient_2d: det.sky_gradient_2d,
        sky_residual: if chance(rng, det.sky_residual_prob) { sample(rng, &det.sky_residual) * sky_sigma } else { 0.0 },
        cosmic_amplitudes: if chance(rng, det.cosmic_prob) {
            (0..count(rng, &det.cosmic_count)).map(|_| sample(rng, &det.cosmic_amplitude)).collect()
        } else {
            Vec::new()
        },
        cosmic_tracks: det.cosmic_tracks,
        correlated_sigma: if chance(rng, det.correlated_prob) { sample(rng, &det.correlated_sigma) } else { 0.0 },
        cti_fraction: if chance(rng, det.cti_prob) { sample(rng, &det.cti_fraction) } else { 0.0 },
        cti_length: sample(rng, &det.cti_length),
        vignetting: if chance(rng, det.vignetting_prob) { sample(rng, &det.vignetting) } else { 0.0 },
    };

    // Contaminants, placed anywhere in the field but away from the lens.
    let k = &preset.contaminants;
    let mut contaminants = ContaminantDraw::default();
    if chance(rng, k.field_galaxy_prob) {
        for _ in 0..count(rng, &k.field_galaxy_count) {
            let (x, y) = far_position(rng, fov, 1.5 * theta_e);
            let (e1, e2) = q_phi_to_e1e2(1.0 - 0.6 * rng.gen::<f64>(), sample(rng, &ANGLE));
            contaminants.galaxies.push(SersicDraw {
                flux: magnitude_to_adu(sample(rng, &k.field_galaxy_magnitude), det.zero_point, exposure, gain),
                r_sersic: 0.05 + 0.25 * rng.gen::<f64>(),
                n: 0.8 + 3.0 * rng.gen::<f64>(),
                e1,
                e2,
                x,
                y,
            });
        }
    }
    if chance(rng, k.star_prob) {
        for _ in 0..count(rng, &k.star_count) {
            let (x, y) = far_position(rng, fov, 1.5 * theta_e);
            contaminants.stars.push((magnitude_to_adu(sample(rng, &k.star_magnitude), det.zero_point, exposure, gain), x, y));
        }
    }

    let lenstronomy = LenstronomyLens {
        theta_E: main.theta_e,
        e1: main.e1,
        e2: main.e2,
        center_x: main.x,
        center_y: main.y,
        gamma1: lens.gamma1,
        gamma2: lens.gamma2,
        Rs: lens.nfw.map_or(0.0, |h| h.0),
        alpha_Rs: lens.nfw.map_or(0.0, |h| h.1),
    };
    let astrorim = lenstronomy.to_astrorim(n, s);
    let truth = Truth {
        index,
        variant: variant.to_string(),
        regime: regime.name.clone(),
        pixel_scale: s,
        source_pixel_scale: source_pixel,
        z_lens,
        z_source,
        sigma_v_kms: sigma_v,
        einstein_mass_msun: dist.einstein_mass_msun(theta_e),
        theta_E: lenstronomy.theta_E,
        e1: lenstronomy.e1,
        e2: lenstronomy.e2,
        center_x: lenstronomy.center_x,
        center_y: lenstronomy.center_y,
        gamma1: lenstronomy.gamma1,
        gamma2: lenstronomy.gamma2,
        nfw_Rs: lenstronomy.Rs,
        nfw_alpha_Rs: lenstronomy.alpha_Rs,
        n_subhalos: lens.subhalos.len() as u32,
        second_lens_theta_E: lens.sies.get(1).map_or(0.0, |s| s.theta_e),
        b: astrorim.b,
        q: astrorim.q,
        phi: astrorim.phi,
        x0: astrorim.x0,
        y0: astrorim.y0,
        gamma: astrorim.gamma,
        gamma_phi: astrorim.gamma_phi,
        kappa_s: astrorim.kappa_s,
        r_s: astrorim.r_s,
        source_magnitude: source_mag,
        source_flux_adu: source_flux,
        source_x: sx,
        source_y: sy,
        source_bulge_re: bulge_re,
        source_bulge_n: bulge_n,
        source_bulge_fraction: bulge_fraction,
        source_disk_re: disk_re,
        source_q: src_q,
        source_companions: (source.components.len() - if bulge_fraction < 1.0 { 2 } else { 1 }) as u32,
        source_clumps: source.clumps.len() as u32,
        source_spiral: spiral,
        source_morphology: morph_name,
        lens_light_flux_adu: lens_light.map_or(0.0, |l| l.flux),
        lens_light_amp: lens_light.map_or(0.0, |l| l.amp()),
        lens_light_R_sersic: lens_light.map_or(0.0, |l| l.r_sersic),
        lens_light_n_sersic: lens_light.map_or(0.0, |l| l.n),
        psf_type: ["GAUSSIAN", "MOFFAT", "AIRY"][family].to_string(),
        psf_fwhm: fwhm,
        psf_beta: if family == 1 { beta } else { 0.0 },
        psf_e1: if family == 2 { 0.0 } else { pe1 },
        psf_e2: if family == 2 { 0.0 } else { pe2 },
        psf_coma: coma.map_or(0.0, |c| c.0),
        psf_stored_fwhm: stored_fwhm,
        exposure_s: exposure,
        gain,
        sky_adu: sky,
        read_noise_e: read_noise,
        sky_gradient: detector.sky_gradient,
        cosmic_hits: detector.cosmic_amplitudes.len() as u32,
        correlated_sigma_px: detector.correlated_sigma,
        cti_fraction: detector.cti_fraction,
        vignetting: detector.vignetting,
        field_galaxies: contaminants.galaxies.len() as u32,
        stars: contaminants.stars.len() as u32,
        shift_x: shift.0,
        shift_y: shift.1,
        n_images,
        attempts,
    };
    Draw { truth, pixel_scale: s, lens, source, lens_light, psf, stored_psf, detector, contaminants }
}

/// Number of images of the source centre and of four trial points around it.
pub fn count_images(lens: &LensDraw, source: (f64, f64), theta_e: f64, fov: f64) -> u32 {
    let model = lens.model();
    let half = (0.5 * fov).max(2.5 * theta_e);
    let n = ((2.0 * half / (0.03 * theta_e.max(0.05))).ceil() as usize).clamp(100, 300);
    let map = ImagePlaneMap::new(&model, half, n, (0.25 * theta_e).max(8.0 * half / n as f64));
    let d = 0.05 * theta_e;
    [(0.0, 0.0), (d, 0.0), (-d, 0.0), (0.0, d), (0.0, -d)]
        .iter()
        .map(|(dx, dy)| map.images_of((source.0 + dx, source.1 + dy)).len() as u32)
        .max()
        .unwrap_or(0)
}

fn far_position<R: Rng>(rng: &mut R, fov: f64, min_r: f64) -> (f64, f64) {
    for _ in 0..20 {
        let (x, y) = ((rng.gen::<f64>() - 0.5) * fov, (rng.gen::<f64>() - 0.5) * fov);
        if x.hypot(y) > min_r {
            return (x, y);
        }
    }
    (0.45 * fov, 0.45 * fov)
}

#[cfg(test)]
#[path = "draw_tests.rs"]
mod tests;
