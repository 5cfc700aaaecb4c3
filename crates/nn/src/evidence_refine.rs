//! The lens refined by the Bayesian evidence of the regularized source
//! inversion — the real-lens pipeline's search (`astrorim_infer::refine`:
//! simplexes on ln ε with the pixelated source re-solved at every
//! evaluation, θ_E within 0.8–1.25 of the start, on the image binned 2×2)
//! — run on a batch of the networks' data, from the lens the parametric
//! stage fitted. Why: the RIM's χ² cannot tell a wrong lens from the
//! right one (with a weaker lens the RIM's source copies the arcs), and a
//! smooth parametric source cannot fit the sources' clumps, so its lens is
//! off by the clumps' pull; the evidence charges a pixelated source for
//! the structure it needs (its regularization prior), which pins the lens
//! where the parametric fit is approximate.
//!
//! Units: the networks' normalized ones (the N-pixel image spans [−1, 1],
//! so the lenstronomy lens on a grid of pixel 2/N is the normalized Θ);
//! the data are the observation less the predicted lens light, the noise
//! the batch's with a central disc left out (as in the real-lens
//! pipeline), the PSF the operator's kernel. SIE + external shear only:
//! the start's NFW halo (κ_s, r_s) is kept as it is, outside the search.

use crate::data::Batch;
use crate::evaluate::to_vec;
use crate::forward::ForwardOperator;
use crate::joint::Prediction;
use astrorim_infer::refine::{refine, theta_e_bounds, LensProblem, RefineOptions};
use astrorim_physics::param_map::{AstroRimLens, LenstronomyLens};
use astrorim_physics::psf::Kernel;
use astrorim_physics::PixelGrid;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

/// Pixels above this many σ (after the lens light) are the arcs: they set
/// the inversion's source grid.
const ARC_SIGMA: f32 = 3.0;

/// Fewer arc pixels than this: the sample keeps its start (nothing to fit).
const MIN_ARC_PIXELS: usize = 10;

/// Radius of the central disc left out (σ = ∞), as a fraction of the
/// search's lower θ_E bound: where the predicted lens light's residual
/// outshines the arcs (the real-lens pipeline's rule).
const CENTRAL_MASK_FRACTION: f64 = 0.3;

/// The mass centre is searched within this many pixels of the start's.
const CENTER_PIXELS: f64 = 2.0;

/// A start more elliptical than this (lenstronomy's |e|) is made this round
/// first: the search's prior stops at |e| = 0.5, and a start outside it
/// could not be refined (on 12 held-out samples, the parametric stage left
/// 4 of the v4–v6 lenses at q ≈ 0.25–0.31, |e| ≈ 0.53–0.6).
const MAX_START_ELLIPTICITY: f64 = 0.45;

/// Refines the lens of each sample of `start` (Θ [B, 9], lens light
/// [B, 3]) by the evidence (see the module's doc); `kernel` is the
/// operator's PSF [B, 1, K, K]. The lens light is the start's.
pub fn refine_by_evidence(op: &ForwardOperator, batch: &Batch, start: &Prediction, kernel: &Tensor<4>) -> Prediction {
    let [b, _, n, _] = batch.observed.dims();
    let k = kernel.dims()[2];
    let light = op.sersic_light(&start.theta, &start.light);
    let (observed, light, sigma) = (to_vec(batch.observed.clone()), to_vec(light), to_vec(batch.sigma.clone()));
    let (theta, psf) = (to_vec(start.theta.clone()), to_vec(kernel.clone()));
    let scale = 2.0 / n as f64;
    let grid = PixelGrid::new(n, n, scale, 1).expect("a valid image grid");
    let refined: Vec<[f32; 9]> = (0..b)
        .into_par_iter()
        .map(|i| {
            let t: [f32; 9] = theta[i * 9..(i + 1) * 9].try_into().expect("nine parameters");
            let pixels = i * n * n..(i + 1) * n * n;
            let data: Vec<f64> = observed[pixels.clone()].iter().zip(&light[pixels.clone()]).map(|(o, l)| (o - l) as f64).collect();
            let (x0, y0) = (t[3] as f64, t[4] as f64);
            let central = CENTRAL_MASK_FRACTION * theta_e_bounds(t[0] as f64).0;
            let noise: Vec<f64> = sigma[pixels]
                .iter()
                .enumerate()
                .map(
                    |(p, &s)| if (grid.x_of_col(p % n) - x0).hypot(grid.y_of_row(p / n) - y0) < central { f64::INFINITY } else { s as f64 },
                )
                .collect();
            let arcs: Vec<usize> = (0..n * n).filter(|&p| data[p] > ARC_SIGMA as f64 * noise[p]).collect();
            let Ok(kernel) = Kernel::from_pixels(k, k, psf[i * k * k..(i + 1) * k * k].iter().map(|&v| v as f64).collect()) else {
                return t;
            };
            if arcs.len() < MIN_ARC_PIXELS {
                return t;
            }
            // The search is SIE + shear: the start's NFW halo stays out of it.
            let sie_shear = std::array::from_fn(|k| if k < 7 { t[k] as f64 } else { 0.0 });
            let lens = AstroRimLens::from_array(sie_shear).to_lenstronomy(n, scale);
            let e = lens.e1.hypot(lens.e2);
            let shrink = if e > MAX_START_ELLIPTICITY { MAX_START_ELLIPTICITY / e } else { 1.0 };
            let lens = LenstronomyLens { e1: shrink * lens.e1, e2: shrink * lens.e2, ..lens };
            let problem = LensProblem {
                data: &data,
                sigma: &noise,
                grid: &grid,
                psf: Some(&kernel),
                arc_pixels: &arcs,
                theta_e_bounds: theta_e_bounds(lens.theta_E),
                center_bounds: ((lens.center_x, lens.center_y), CENTER_PIXELS * scale),
                positions: None,
            };
            match refine(&problem, &[("parametric".to_string(), lens)], &RefineOptions::default()) {
                Some((fit, _)) => {
                    let mut refined = fit.lens.to_astrorim(n, scale).to_array().map(|v| v as f32);
                    refined[7..].copy_from_slice(&t[7..]);
                    refined
                }
                None => t,
            }
        })
        .collect();
    let device = start.theta.device();
    let theta = Tensor::<2>::from_data(TensorData::new(refined.into_iter().flatten().collect::<Vec<f32>>(), [b, 9]), &device);
    Prediction { theta, light: start.light.clone() }
}
