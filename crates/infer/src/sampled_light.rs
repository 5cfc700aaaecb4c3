//! The lens light as parameters of the lens posterior ([`crate::posterior`]):
//! its Sérsic components — a shared centre, and per component the
//! amplitude, R_sersic, n_sersic, e1 and e2 (lenstronomy's keywords) —
//! sampled beside the lens, so that the lens's intervals carry the light's
//! uncertainty instead of holding the light at its fit.
//!
//! For a proposed light the likelihood sees what the pipeline's model
//! ([`crate::pipeline`]) sees: outside the central disc, the image less the
//! light (binned as the sampled problem is) goes to the source solver;
//! inside the disc, where that model's lensed source is zero, the light
//! alone meets the data, and ln L gains −½ Σ ((d − light)/σ)² over the
//! disc's pixels. (Fine pixels outside the disc whose binned pixel touches
//! it are in neither term, as in the refinement's binned search.) At the
//! fitted light the first term is the fixed-light likelihood exactly.
//!
//! The sky level is sampled too, as an offset from the level the
//! preparation subtracted ([`crate::background`]): that level is the
//! median of the cutout's border, where the lens galaxy's wings still
//! shine, and a level too high by a fraction of the noise makes the light
//! fit too compact and leaves light under the arcs, which biased θ_E low
//! by about its own interval's half-width on simulations
//! (docs/results.md). The offset is subtracted from every pixel the
//! likelihood sees.
//!
//! Prior: uniform in the amplitude and in R_sersic (positive; R at most
//! [`R_MAX_FACTOR`] times the fit's), n_sersic within the light fit's
//! bounds, |e| ≤ the fit's bound, the centre within the lens centre's
//! tolerance of the fitted centre (the mass centre's prior stays centred
//! on the fitted light's centre); uniform in the sky offset within
//! ± [`SKY_OFFSET_MAX`] times the median 1σ of the fitted pixels.

use crate::binning::block_mean;
use crate::lens_light::{LensLight, SersicComponent, E_MAX, N_MAX, N_MIN};
use crate::pipeline::{LensReconstruction, LIGHT_SUPERSAMPLING};
use crate::posterior::sampled_binning;
use crate::refine::RefineOptions;
use astrorim_physics::psf::Kernel;
use astrorim_physics::PixelGrid;

/// Largest R_sersic the prior allows, as a multiple of the fitted one.
pub const R_MAX_FACTOR: f64 = 10.0;

/// Largest sky offset the prior allows, in units of the median 1σ of the
/// pixels the fit uses. The border's bias from the lens's wings is a
/// fraction of the noise (0.4σ on the simulations' 64² cutouts); a
/// constant offset of one σ over the thousands of fitted pixels is far
/// outside what the data allow, so the bound rarely binds.
pub const SKY_OFFSET_MAX: f64 = 1.0;

/// Parameters per component (amplitude, R_sersic, n_sersic, e1, e2).
const PER_COMPONENT: usize = 5;

/// One proposal of the sampled light: the lens light's Sérsic components
/// and the offset added to the subtracted sky level (image units; the sky
/// under the data is the prepared level plus this).
#[derive(Debug, Clone, PartialEq)]
pub struct SampledLight {
    pub light: LensLight,
    pub sky_offset: f64,
}

impl SampledLight {
    /// `light` on the prepared sky level (offset zero): the fit's.
    pub fn at_fit(light: &LensLight) -> Self {
        SampledLight { light: light.clone(), sky_offset: 0.0 }
    }
}

/// What the sampler needs to propose lens lights and score them.
#[derive(Debug, Clone)]
pub struct LightSampling {
    /// The image with the lens light in, on the sampled problem's grid.
    image: Vec<f64>,
    /// The cutout grid, supersampled as the pipeline renders the light, and its PSF.
    render_grid: PixelGrid,
    psf: Option<Kernel>,
    /// Block size from the cutout grid to the sampled problem's (1: the same grid).
    factor: usize,
    /// The central disc's pixels with weight: (cutout index, datum, 1/σ).
    central: Vec<(usize, f64, f64)>,
    fit: LensLight,
    center_tolerance: f64,
    /// The prior's bound on |sky offset| (image units).
    sky_offset_bound: f64,
}

impl LightSampling {
    /// The light of `result` (its fit starts the walkers) on the problem the
    /// posterior samples for `refine` ([`crate::posterior::sampled_problem`]).
    pub fn of(result: &LensReconstruction, refine: &RefineOptions) -> Self {
        let grid = result.prepared.grid;
        let raw = &result.prepared.data;
        let factor = sampled_binning(&grid, refine);
        let image =
            if factor > 1 { block_mean(raw, &grid, factor).expect("the sampled problem's binning fits the grid") } else { raw.clone() };
        // The central disc: pixels the fit uses whose σ the source's problem masks.
        let used = |s: f64, d: f64| crate::inversion::has_weight(s, d);
        let central = (0..raw.len())
            .filter(|&p| used(result.sigma[p], raw[p]) && !used(result.lens_data.sigma[p], raw[p]))
            .map(|p| (p, raw[p], 1.0 / result.sigma[p]))
            .collect();
        let mut fitted_sigma: Vec<f64> = (0..raw.len()).filter(|&p| used(result.sigma[p], raw[p])).map(|p| result.sigma[p]).collect();
        let median_sigma = if fitted_sigma.is_empty() { 0.0 } else { crate::background::median(&mut fitted_sigma) };
        LightSampling {
            image,
            render_grid: PixelGrid { supersampling: LIGHT_SUPERSAMPLING, ..grid },
            psf: result.prepared.psf.clone(),
            factor,
            central,
            fit: result.light.clone(),
            center_tolerance: result.lens_data.center_bounds.1,
            sky_offset_bound: SKY_OFFSET_MAX * median_sigma,
        }
    }

    /// The light's prior, in words (`posterior.json → prior`).
    pub fn prior_in_words() -> String {
        format!(
            "the lens light's Sérsic components sampled: uniform in the amplitude and R_sersic (positive, R ≤ {R_MAX_FACTOR}× the fit's), n_sersic in [{N_MIN}, {N_MAX}], |e| ≤ {E_MAX}, the light's centre within the same tolerance of its fit; its central disc scored by −χ²/2 of the light alone; the sky level's offset from the prepared one uniform within ±{SKY_OFFSET_MAX} × the median 1σ of the fitted pixels"
        )
    }

    /// The fitted light on the prepared sky (the walkers start about it).
    pub fn fitted(&self) -> SampledLight {
        SampledLight::at_fit(&self.fit)
    }

    /// The prior's bound on |sky offset| (image units).
    pub fn sky_offset_bound(&self) -> f64 {
        self.sky_offset_bound
    }

    /// Sampled parameters: the centre, five per component and the sky offset.
    pub fn dimension(&self) -> usize {
        2 + PER_COMPONENT * self.fit.components.len() + 1
    }

    /// The chain's column names, in order: `light_center_x`, `light_center_y`,
    /// then `light_amp`, `light_R_sersic`, `light_n_sersic`, `light_e1`,
    /// `light_e2` (a second component's with `light2_`), then `sky_offset`.
    pub fn names(&self) -> Vec<String> {
        let mut names = vec!["light_center_x".to_string(), "light_center_y".to_string()];
        for c in 0..self.fit.components.len() {
            let prefix = if c == 0 { "light".to_string() } else { format!("light{}", c + 1) };
            names.extend(["amp", "R_sersic", "n_sersic", "e1", "e2"].map(|k| format!("{prefix}_{k}")));
        }
        names.push("sky_offset".to_string());
        names
    }

    /// `sampled` in the chain's columns (natural units: amplitude in image
    /// units per arcsec², lengths in arcsec, the sky offset in image units).
    pub fn position(sampled: &SampledLight) -> Vec<f64> {
        let (cx, cy) = sampled.light.center();
        let mut out = vec![cx, cy];
        for c in &sampled.light.components {
            out.extend([c.amp, c.R_sersic, c.n_sersic, c.e1, c.e2]);
        }
        out.push(sampled.sky_offset);
        out
    }

    /// `sampled` in the sampler's coordinates (ln of the amplitude and of R_sersic).
    pub fn encode(sampled: &SampledLight) -> Vec<f64> {
        let mut x = Self::position(sampled);
        for k in (2..x.len() - 1).step_by(PER_COMPONENT) {
            x[k] = x[k].ln();
            x[k + 1] = x[k + 1].ln();
        }
        x
    }

    /// Sampler coordinates `x` in the chain's columns: the inverse of [`Self::encode`].
    pub fn natural(x: &[f64]) -> Vec<f64> {
        let mut out = x.to_vec();
        for k in (2..x.len() - 1).step_by(PER_COMPONENT) {
            out[k] = out[k].exp();
            out[k + 1] = out[k + 1].exp();
        }
        out
    }

    /// The light and sky offset at sampler coordinates `x` and ln of the
    /// prior's Jacobian (ln amp + ln R per component: the prior is uniform
    /// in both, not in their logarithms); None outside the prior.
    pub fn decode(&self, x: &[f64]) -> Option<(SampledLight, f64)> {
        let (fx, fy) = self.fit.center();
        let (cx, cy) = (x[0], x[1]);
        if (cx - fx).abs() > self.center_tolerance || (cy - fy).abs() > self.center_tolerance {
            return None;
        }
        let mut jacobian = 0.0;
        let mut components = Vec::with_capacity(self.fit.components.len());
        for (c, fitted) in self.fit.components.iter().enumerate() {
            let p = &x[2 + PER_COMPONENT * c..2 + PER_COMPONENT * (c + 1)];
            let (amp, r, n, e1, e2) = (p[0].exp(), p[1].exp(), p[2], p[3], p[4]);
            let inside = amp > 0.0
                && amp.is_finite()
                && r > 0.0
                && r <= R_MAX_FACTOR * fitted.R_sersic
                && (N_MIN..=N_MAX).contains(&n)
                && e1.hypot(e2) <= E_MAX;
            if !inside {
                return None;
            }
            jacobian += p[0] + p[1];
            components.push(SersicComponent { amp, R_sersic: r, n_sersic: n, e1, e2, center_x: cx, center_y: cy });
        }
        let sky_offset = x[x.len() - 1];
        if sky_offset.abs() > self.sky_offset_bound {
            return None;
        }
        Some((SampledLight { light: LensLight { components }, sky_offset }, jacobian))
    }

    /// Half-widths of the walkers' starting box in the sampler's
    /// coordinates (and the Laplace approximation's first finite-difference
    /// steps, [`crate::laplace`]): a tenth of a pixel in the centre, 1 % in the amplitude
    /// and R_sersic, 0.02 in n_sersic, 0.01 in e1 and e2, a hundredth of
    /// the prior's bound in the sky offset.
    pub fn start_half_widths(&self) -> Vec<f64> {
        let s = self.render_grid.pixel_scale;
        let mut half = vec![0.1 * s, 0.1 * s];
        for _ in &self.fit.components {
            half.extend([0.01, 0.01, 0.02, 0.01, 0.01]);
        }
        half.push(0.01 * self.sky_offset_bound);
        half
    }

    /// For `sampled`: the image less its light and sky offset on the
    /// sampled problem's grid (the source solver's data), and ln L of the
    /// central disc, −½ χ² of the light and sky alone there.
    pub fn residual(&self, sampled: &SampledLight) -> (Vec<f64>, f64) {
        let b = sampled.sky_offset;
        let rendered = sampled.light.render(&self.render_grid, self.psf.as_ref());
        let chi2: f64 = self.central.iter().map(|&(p, d, w)| ((d - rendered[p] - b) * w).powi(2)).sum();
        let binned = if self.factor > 1 {
            block_mean(&rendered, &self.render_grid, self.factor).expect("the sampled problem's binning fits the grid")
        } else {
            rendered
        };
        (self.image.iter().zip(&binned).map(|(d, l)| d - l - b).collect(), -0.5 * chi2)
    }
}
