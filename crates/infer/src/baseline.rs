//! The classical baseline on an observation: its pixelated source for a
//! given lens by regularized linear inversion, λ given or set by the
//! Bayesian evidence (the computation behind `astrorim invert` and the
//! Python package's `invert`).

use crate::inversion::{Inversion, Regularization, Solution};
use crate::observation::Observation;
use crate::operator::{LensingOperator, SourceGrid};
use astrorim_physics::mass::LensModel;
use astrorim_physics::PixelGrid;
use serde_json::{json, Value};
use std::time::Instant;

/// Settings of one inversion.
#[derive(Debug, Clone)]
pub struct InvertOptions {
    /// Source grid side in pixels (4–512).
    pub source_size: usize,
    /// Source grid width in arcsec (None: half the image's field).
    pub source_fov: Option<f64>,
    /// Source grid centre in arcsec.
    pub source_center: (f64, f64),
    /// Rays per pixel side.
    pub supersampling: usize,
    pub regularization: Regularization,
    /// λ, or None to maximize the evidence.
    pub lambda: Option<f64>,
    /// PSF taps below this fraction of the peak are dropped, in [0, 1).
    pub psf_floor: f64,
}

impl Default for InvertOptions {
    fn default() -> Self {
        InvertOptions {
            source_size: 64,
            source_fov: None,
            source_center: (0.0, 0.0),
            supersampling: 2,
            regularization: Regularization::Gradient,
            lambda: None,
            psf_floor: 1e-3,
        }
    }
}

/// What an inversion produced.
#[derive(Debug, Clone)]
pub struct Inverted {
    pub source_grid: SourceGrid,
    pub best: Solution,
    /// (λ, ln ε) of every λ tried (one point when λ was given).
    pub curve: Vec<(f64, f64)>,
    /// The content of `inversion.json`.
    pub record: Value,
}

/// Inverts `obs` for `lens`; errors are one line naming the option or `name` (the image).
pub fn invert_observation(obs: &Observation, lens: &LensModel, options: &InvertOptions, name: &str) -> Result<Inverted, String> {
    let start = Instant::now();
    if let Some(l) = options.lambda {
        if !(l > 0.0 && l.is_finite()) {
            return Err(format!("lambda: must be a positive number or 'auto', got {l}"));
        }
    }
    if !(4..=512).contains(&options.source_size) {
        return Err(format!("source-grid: must be in 4..=512, got {}", options.source_size));
    }
    if !(0.0..1.0).contains(&options.psf_floor) {
        return Err(format!("psf-floor: must be in [0, 1), got {}", options.psf_floor));
    }
    let (cx, cy) = options.source_center;
    if !(cx.is_finite() && cy.is_finite()) {
        return Err("source-center: give two finite numbers X,Y in arcsec".into());
    }
    let (nx, ny) = (obs.image.nx, obs.image.ny);
    let grid = PixelGrid::new(nx, ny, obs.pixel_scale, options.supersampling).map_err(|e| format!("supersampling: {e}"))?;
    let width = match options.source_fov {
        Some(w) if w > 0.0 && w.is_finite() => w,
        Some(w) => return Err(format!("source-fov: must be a positive number of arcsec, got {w}")),
        None => 0.5 * nx.max(ny) as f64 * obs.pixel_scale,
    };
    let source_grid = SourceGrid { size: options.source_size, half_width: width / 2.0, center_x: cx, center_y: cy };
    let op = LensingOperator::new(&grid, lens, &source_grid, obs.psf.as_ref(), options.psf_floor);
    let inversion = Inversion::new(&op, &obs.image.data, &obs.sigma, options.regularization).map_err(|e| format!("{name}: {e}"))?;
    let (best, curve) = match options.lambda {
        Some(l) => {
            let s = inversion.solve(l).map_err(|e| format!("lambda: {e}"))?;
            let point = vec![(s.lambda, s.log_evidence)];
            (s, point)
        }
        None => inversion.optimize().map_err(|e| format!("{name}: {e}"))?,
    };
    let record = json!({
        "lambda": best.lambda,
        "log_evidence": best.log_evidence,
        "chi2": best.chi2,
        "reduced_chi2": best.reduced_chi2,
        "n_data": inversion.n_data(),
        "regularization": best.regularization,
        "lambda_search": if options.lambda.is_some() { "given" } else { "evidence maximum" },
        "source_grid": source_grid,
        "source_pixel_scale_arcsec": source_grid.pixel_scale(),
        "pixel_scale_arcsec": obs.pixel_scale,
        "pixel_scale_origin": obs.pixel_scale_origin,
        "supersampling": options.supersampling,
        "rays_outside_source_grid": op.lost_fraction,
        "psf_truncated_flux": op.psf_truncated_flux,
        "masked_pixels": obs.masked_by_mask,
        "unusable_pixels": obs.unusable,
        "seconds": start.elapsed().as_secs_f64(),
    });
    Ok(Inverted { source_grid, best, curve, record })
}
