//! The RIM as the source solver inside the lens posterior (Morningstar et
//! al. 2019, §5 and Fig. 9): for each proposed lens the known-lens RIM
//! reconstructs the source from the data under that lens, and the
//! likelihood is that of the data given the re-lensed reconstruction,
//! ln L = −χ²/2, χ² = Σ (F x̂ − d)² / σ² over the pixels with weight.
//!
//! The data are the posterior's problem (`astrorim_infer::posterior`): the
//! lens-light-subtracted image, its noise and PSF on the search's (binned)
//! grid — or, when the lens light is sampled, each proposal's image less
//! its light. The network sees them as it was trained: divided by the
//! problem's maximum pixel (χ² does not change), in normalized units (the N-pixel
//! image spans [−1, 1]), the source on its trained 96² grid centred on the
//! image centre, of half-width 0.5 or 1 normalized units (the simulator's
//! source fields of view; the smaller one that holds the arcs traced back
//! through the most probable lens). Pixels without weight (masked) enter
//! the RIM with zero data and a noise 10⁶ times the largest σ, and χ²
//! leaves them out. Unlike the inversion's evidence, χ² of a point
//! estimate is not a marginal likelihood: the intervals are those of the
//! RIM's profile of the source, the quantity Morningstar et al. sampled.
//!
//! A batch of lenses is reconstructed together (at most [`MAX_BATCH`]),
//! which is where the RIM's cost per lens falls.

use crate::data::Batch;
use crate::data_parallel::PARTS;
use crate::evaluate::to_vec;
use crate::forward::ForwardOperator;
use crate::known_lens::Iterate;
use crate::refine::rim_source;
use crate::rim::Rim;
use astrorim_infer::inversion::has_weight;
use astrorim_infer::posterior::LensLikelihood;
use astrorim_infer::refine::{source_grid_for, LensProblem};
use astrorim_physics::param_map::{arcsec_per_unit, LenstronomyLens};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

/// Largest number of lenses reconstructed in one pass.
pub const MAX_BATCH: usize = 16;

/// Source grid side the RIM was trained on.
const SOURCE_SIZE: usize = 96;

/// Source half-widths the simulator's presets train on (normalized units).
const TRAINED_HALF_WIDTHS: [f64; 2] = [0.5, 1.0];

/// Noise given to masked pixels, as a multiple of the largest σ.
const MASKED_SIGMA_FACTOR: f32 = 1e6;

/// ln L of lenses with the known-lens RIM's source (see the module's doc).
pub struct RimLikelihood {
    rim: Rim,
    op: ForwardOperator,
    iterations: usize,
    /// The image's side (pixels) and pixel scale (arcsec): the normalized units.
    n: usize,
    pixel_scale: f64,
    /// The problem's maximum datum with weight (the units the network sees) and which pixels have weight.
    peak: f64,
    active: Vec<bool>,
    /// [1, 1, N, N]: data and σ divided by `peak`, and the χ² weight (0 where masked).
    observed: Tensor<4>,
    sigma: Tensor<4>,
    weight: Tensor<4>,
    /// [1, 1, K, K] (a 1×1 delta without a PSF).
    psf: Tensor<4>,
}

impl RimLikelihood {
    /// The likelihood of `problem`'s data (a square image) with `rim` run for
    /// `iterations`; the source grid's extent is set by the arcs traced
    /// through the most probable lens `map`. Errors, in words, for a
    /// non-square image or one without positive data.
    pub fn new(rim: Rim, iterations: usize, problem: &LensProblem, map: &LenstronomyLens, device: &Device) -> Result<Self, String> {
        let grid = problem.grid;
        if grid.nx != grid.ny {
            return Err(format!("the RIM solver needs a square image, not {}×{}", grid.nx, grid.ny));
        }
        let n = grid.nx;
        let active: Vec<bool> = problem.sigma.iter().zip(problem.data).map(|(&s, &d)| has_weight(s, d)).collect();
        let peak = problem.data.iter().zip(&active).filter(|(_, &a)| a).map(|(&d, _)| d).fold(f64::NEG_INFINITY, f64::max);
        if !(peak > 0.0) {
            return Err("the RIM solver needs an image with positive data where it has weight".into());
        }
        let sigma_max = problem.sigma.iter().zip(&active).filter(|(_, &a)| a).map(|(&s, _)| s).fold(0.0, f64::max);
        let masked_sigma = MASKED_SIGMA_FACTOR * (sigma_max / peak) as f32;
        let mut sigma = Vec::with_capacity(n * n);
        let mut weight = Vec::with_capacity(n * n);
        for (&s, &a) in problem.sigma.iter().zip(&active) {
            if a {
                sigma.push((s / peak) as f32);
                weight.push(((peak / s) * (peak / s)) as f32);
            } else {
                sigma.push(masked_sigma);
                weight.push(0.0);
            }
        }
        let observed = scaled(problem.data, peak, &active);
        let image = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, n, n]), device);
        let psf = match problem.psf {
            Some(kernel) => {
                let k = kernel.size();
                Tensor::<4>::from_data(TensorData::new(kernel.data().iter().map(|&v| v as f32).collect::<Vec<f32>>(), [1, 1, k, k]), device)
            }
            None => Tensor::<4>::ones([1, 1, 1, 1], device),
        };
        let half_width = source_half_width(problem, map);
        Ok(RimLikelihood {
            peak,
            active,
            rim,
            op: ForwardOperator::new(n, 1, SOURCE_SIZE, half_width as f32, device),
            iterations,
            n,
            pixel_scale: grid.pixel_scale,
            observed: image(observed),
            sigma: image(sigma),
            weight: image(weight),
            psf,
        })
    }

    /// The source grid's half-width in normalized units.
    pub fn source_half_width(&self) -> f64 {
        self.op.source_half_width as f64
    }

    /// χ² of each lens of one batch (at most [`MAX_BATCH`]), against the
    /// problem's data or lens i's own `data[i]`.
    fn chi2(&self, lenses: &[LenstronomyLens], data: Option<&[Vec<f64>]>) -> Vec<f64> {
        let b = lenses.len();
        let device = self.observed.device();
        let theta: Vec<f32> = lenses.iter().flat_map(|l| l.to_astrorim(self.n, self.pixel_scale).to_array()).map(|v| v as f32).collect();
        let theta = Tensor::<2>::from_data(TensorData::new(theta, [b, 9]), &device);
        let repeat = |t: &Tensor<4>| Tensor::cat(vec![t.clone(); b], 0);
        let observed = match data {
            Some(images) => {
                let values: Vec<f32> = images.iter().flat_map(|d| scaled(d, self.peak, &self.active)).collect();
                Tensor::<4>::from_data(TensorData::new(values, [b, 1, self.n, self.n]), &device)
            }
            None => repeat(&self.observed),
        };
        let batch = Batch {
            sigma: repeat(&self.sigma),
            background: observed.zeros_like(),
            target: Tensor::zeros([b, 1, SOURCE_SIZE, SOURCE_SIZE], &device),
            observed,
            theta: theta.clone(),
            psf: repeat(&self.psf),
            scale: vec![1.0; b],
        };
        let f = self.op.bind(&theta, &batch.psf, None);
        let source = rim_source(&self.rim, &f, &batch, Iterate { iterations: self.iterations, positive: false, lens_gradient: false });
        let residual = f.apply_linear(&source) - batch.observed;
        let chi2 = (residual.square() * self.weight.clone()).sum_dims(&[1, 2, 3]).reshape([b]);
        to_vec(chi2).into_iter().map(f64::from).collect()
    }
}

/// `data` divided by `peak` where `active`, zero elsewhere (the network's view of an image).
fn scaled(data: &[f64], peak: f64, active: &[bool]) -> Vec<f32> {
    data.iter().zip(active).map(|(&d, &a)| if a { (d / peak) as f32 } else { 0.0 }).collect()
}

/// The smaller trained source half-width (normalized units) that holds the
/// arcs traced back through `map` (the inversion's grid for that lens,
/// about the image centre); the traced extent itself beyond the largest.
fn source_half_width(problem: &LensProblem, map: &LenstronomyLens) -> f64 {
    let grid = source_grid_for(map, problem.grid, problem.arc_pixels, SOURCE_SIZE);
    let needed =
        (grid.center_x.abs().max(grid.center_y.abs()) + grid.half_width) / arcsec_per_unit(problem.grid.nx, problem.grid.pixel_scale);
    TRAINED_HALF_WIDTHS.into_iter().find(|&h| needed <= h).unwrap_or(needed)
}

impl LensLikelihood for RimLikelihood {
    fn log_likelihoods(&self, lenses: &[LenstronomyLens], data: Option<&[Vec<f64>]>) -> Vec<f64> {
        // data_parallel::PARTS batches side by side (at most MAX_BATCH each)
        // on rayon's pool: one batch keeps ~1 of 2 cores busy (see
        // `crate::data_parallel`). The cut depends on the number of lenses only.
        let size = lenses.len().div_ceil(PARTS).clamp(1, MAX_BATCH);
        let chi2: Vec<Vec<f64>> = lenses
            .par_chunks(size)
            .enumerate()
            .map(|(k, chunk)| self.chi2(chunk, data.map(|d| &d[k * size..k * size + chunk.len()])))
            .collect();
        chi2.into_iter().flatten().map(|chi2| -0.5 * chi2).collect()
    }

    fn lambda(&self) -> f64 {
        f64::NAN
    }

    fn description(&self) -> &'static str {
        "−χ²/2 of the data against the known-lens RIM's source re-lensed (Morningstar et al. 2019, Fig. 9: the RIM as the source solver), on the lens-light-subtracted image binned as in the refinement's search; the source grid 96², fixed for the run"
    }
}
