//! The lens galaxy's light: one or two concentric elliptical Sérsic
//! components (lenstronomy `SERSIC_ELLIPSE`), fitted to an image by
//! noise-weighted least squares. The amplitudes are linear (solved exactly
//! at every step, constrained to be non-negative); the shapes (R_sersic,
//! n_sersic, e1, e2 per component, a shared centre) are found by Nelder–Mead.

use crate::inversion::has_weight;
use crate::minimize::nelder_mead;
use crate::nnls::{non_negative_least_squares, normal_equations};
use astrorim_physics::light::{LightModel, LightProfile, Sersic};
use astrorim_physics::psf::Kernel;
use astrorim_physics::render::render_light_adaptive;
use astrorim_physics::PixelGrid;
use serde::{Deserialize, Serialize};

/// One elliptical Sérsic component in lenstronomy's keywords: `amp` is the
/// surface brightness at R_sersic (image units per arcsec²), lengths in arcsec.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct SersicComponent {
    pub amp: f64,
    pub R_sersic: f64,
    pub n_sersic: f64,
    pub e1: f64,
    pub e2: f64,
    pub center_x: f64,
    pub center_y: f64,
}

impl SersicComponent {
    pub fn profile(&self) -> Sersic {
        Sersic::new(self.amp, self.R_sersic, self.n_sersic, self.e1, self.e2, self.center_x, self.center_y)
    }

    /// This component as a scene's light entry (`{"type": "SERSIC_ELLIPSE", …}`).
    pub fn scene_entry(&self) -> serde_json::Value {
        serde_json::json!({"type": "SERSIC_ELLIPSE", "amp": self.amp, "R_sersic": self.R_sersic, "n_sersic": self.n_sersic,
            "e1": self.e1, "e2": self.e2, "center_x": self.center_x, "center_y": self.center_y})
    }
}

/// The lens light model: its components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LensLight {
    pub components: Vec<SersicComponent>,
}

impl LensLight {
    pub fn light_model(&self) -> LightModel {
        LightModel::new(self.components.iter().map(|c| Box::new(c.profile()) as Box<dyn LightProfile>).collect())
    }

    /// Flux per pixel on `grid`, convolved with `psf`; supersampled
    /// within [`SUPERSAMPLED_PIXELS`] of the centre, at pixel centres beyond
    /// (J0946+1006: the pipeline's three lens-light fits 10.6 s → 2.2 s).
    pub fn render(&self, grid: &PixelGrid, psf: Option<&Kernel>) -> Vec<f64> {
        render_light_adaptive(grid, &self.light_model(), psf, self.center(), SUPERSAMPLED_PIXELS * grid.pixel_scale).data
    }

    /// The centre shared by the components.
    pub fn center(&self) -> (f64, f64) {
        self.components.first().map_or((0.0, 0.0), |c| (c.center_x, c.center_y))
    }
}

/// Radius (pixels) of the disc about the centre where the lens light is
/// supersampled: beyond it a Sérsic's sub-pixel mean equals its centre's
/// value to ≲ 0.2 % (see [`render_light_adaptive`]).
pub const SUPERSAMPLED_PIXELS: f64 = 10.0;

/// What a fit produced.
#[derive(Debug, Clone)]
pub struct LightFit {
    pub light: LensLight,
    /// χ² over the pixels with finite σ.
    pub chi2: f64,
    pub evaluations: usize,
}

/// Bounds of the non-linear parameters (the objective is +∞ beyond them).
pub(crate) const N_MIN: f64 = 0.3;
pub(crate) const N_MAX: f64 = 8.0;
pub(crate) const E_MAX: f64 = 0.8;

/// Non-negative least-squares amplitudes of `templates` (each of unit amp)
/// for `data` with weights `w` = σ⁻² ([`crate::nnls`]).
fn amplitudes(templates: &[Vec<f64>], data: &[f64], w: &[f64]) -> Vec<f64> {
    let columns: Vec<&[f64]> = templates.iter().map(|t| t.as_slice()).collect();
    let (gram, rhs) = normal_equations(&columns, data, w);
    non_negative_least_squares(&gram, &rhs)
}

/// Decodes the simplex vector: shared centre (x, y), then per component
/// (ln R, n, e1, e2).
fn decode(x: &[f64], n_components: usize) -> Option<Vec<SersicComponent>> {
    let (cx, cy) = (x[0], x[1]);
    let mut out = Vec::with_capacity(n_components);
    for c in 0..n_components {
        let p = &x[2 + 4 * c..6 + 4 * c];
        let (r, n, e1, e2) = (p[0].exp(), p[1], p[2], p[3]);
        if !(N_MIN..=N_MAX).contains(&n) || e1.hypot(e2) > E_MAX || !r.is_finite() {
            return None;
        }
        out.push(SersicComponent { amp: 1.0, R_sersic: r, n_sersic: n, e1, e2, center_x: cx, center_y: cy });
    }
    Some(out)
}

/// Fits `n_components` (1 or 2) concentric Sérsics to `data` (flux per
/// pixel on `grid`, sky subtracted) with noise `sigma` (∞ = excluded), from
/// `start` (its amplitudes are ignored; a second component, when asked for
/// and not given, starts at a third of the first's radius). `max_evaluations`
/// bounds the objective evaluations (each renders every component once).
pub fn fit_lens_light(
    data: &[f64],
    sigma: &[f64],
    grid: &PixelGrid,
    psf: Option<&Kernel>,
    start: &SersicComponent,
    n_components: usize,
    max_evaluations: usize,
) -> LightFit {
    assert!((1..=2).contains(&n_components), "one or two components");
    let w: Vec<f64> = sigma.iter().zip(data).map(|(&s, &d)| if has_weight(s, d) { 1.0 / (s * s) } else { 0.0 }).collect();
    let mut x0 = vec![start.center_x, start.center_y, start.R_sersic.ln(), start.n_sersic.clamp(N_MIN, N_MAX), start.e1, start.e2];
    let mut steps = vec![grid.pixel_scale, grid.pixel_scale, 0.3, 0.5, 0.1, 0.1];
    if n_components == 2 {
        x0.extend([(start.R_sersic / 3.0).ln(), 1.0, start.e1, start.e2]);
        steps.extend([0.3, 0.3, 0.1, 0.1]);
    }
    let templates_of = |components: &[SersicComponent]| -> Vec<Vec<f64>> {
        components.iter().map(|c| LensLight { components: vec![*c] }.render(grid, psf)).collect()
    };
    let chi2_of = |templates: &[Vec<f64>], amps: &[f64]| -> f64 {
        (0..data.len())
            .filter(|&p| w[p] > 0.0)
            .map(|p| {
                let model: f64 = templates.iter().zip(amps).map(|(t, a)| t[p] * a).sum();
                w[p] * (data[p] - model).powi(2)
            })
            .sum()
    };
    let objective = |x: &[f64]| -> f64 {
        let Some(components) = decode(x, n_components) else { return f64::INFINITY };
        let templates = templates_of(&components);
        let amps = amplitudes(&templates, data, &w);
        chi2_of(&templates, &amps)
    };
    let best = nelder_mead(&objective, &x0, &steps, 1e-3, max_evaluations);
    let components = decode(&best.x, n_components).expect("the best point is inside the bounds");
    let templates = templates_of(&components);
    let amps = amplitudes(&templates, data, &w);
    let chi2 = chi2_of(&templates, &amps);
    let components = components.into_iter().zip(amps).map(|(c, a)| SersicComponent { amp: a, ..c }).collect();
    LightFit { light: LensLight { components }, chi2, evaluations: best.evaluations }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astrorim_physics::psf::PsfShape;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn recovers_a_noisy_elliptical_sersic_within_its_errors() {
        let grid = PixelGrid::new(64, 64, 0.05, 2).unwrap();
        let psf = Kernel::analytic(PsfShape::Gaussian { fwhm: 0.12, e1: 0.0, e2: 0.0 }, 0.05).unwrap();
        let truth = SersicComponent { amp: 40.0, R_sersic: 0.5, n_sersic: 3.0, e1: 0.12, e2: -0.08, center_x: 0.03, center_y: -0.02 };
        let clean = LensLight { components: vec![truth] }.render(&grid, Some(&psf));
        let noise = 0.01;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let normal = Normal::new(0.0, noise).unwrap();
        let data: Vec<f64> = clean.iter().map(|v| v + normal.sample(&mut rng)).collect();
        let sigma = vec![noise; data.len()];
        let start = SersicComponent { amp: 1.0, R_sersic: 0.3, n_sersic: 2.0, e1: 0.0, e2: 0.0, center_x: 0.0, center_y: 0.0 };
        let fit = fit_lens_light(&data, &sigma, &grid, Some(&psf), &start, 1, 3000);
        let c = fit.light.components[0];
        // χ² of the truth is ~N ± √(2N); the fit must be at least as good.
        let n = data.len() as f64;
        assert!(fit.chi2 < n + 4.0 * (2.0 * n).sqrt(), "χ² {} for {} pixels", fit.chi2, n);
        assert!((c.R_sersic / 0.5 - 1.0).abs() < 0.05, "{c:?}");
        assert!((c.n_sersic - 3.0).abs() < 0.15, "{c:?}");
        assert!((c.e1 - 0.12).abs() < 0.01 && (c.e2 + 0.08).abs() < 0.01, "{c:?}");
        assert!((c.center_x - 0.03).abs() < 0.003 && (c.center_y + 0.02).abs() < 0.003, "{c:?}");
        assert!((c.amp / 40.0 - 1.0).abs() < 0.1, "{c:?}");
    }

    #[test]
    fn amplitudes_solve_the_normal_equations_and_drop_negative_ones() {
        let t = vec![vec![1.0, 0.0, 1.0], vec![0.0, 1.0, 1.0]];
        let w = vec![1.0; 3];
        // data = 2 t0 + 3 t1 exactly.
        let a = amplitudes(&t, &[2.0, 3.0, 5.0], &w);
        assert!((a[0] - 2.0).abs() < 1e-12 && (a[1] - 3.0).abs() < 1e-12);
        // data = 2 t0 − 3 t1: the second amplitude would be negative.
        let a = amplitudes(&t, &[2.0, -3.0, -1.0], &w);
        assert_eq!(a[1], 0.0);
        // With t1 dropped: a0 = (2·1 + (−1)·1)/2.
        assert!((a[0] - 0.5).abs() < 1e-12);
    }
}
