//! The classical baseline of the evaluation: for every sample, the
//! evidence-optimized semilinear inversion (`astrorim_infer::inversion`,
//! gradient prior, λ maximizing the Bayesian evidence) with the operator the
//! RIM iterates against — the same Θ, PSF, noise map and source grid, one
//! ray per pixel, in the RIM's normalized units (image half-width 1, data
//! divided by the observation's maximum) — and the known lens light
//! subtracted from the data, as the RIM's known-lens operator adds it.

use astrorim_infer::inversion::{Inversion, Regularization};
use astrorim_infer::operator::{LensingOperator, SourceGrid};
use astrorim_physics::param_map::AstroRimLens;
use astrorim_physics::psf::Kernel;
use astrorim_physics::PixelGrid;
use burn::tensor::Tensor;
use rayon::prelude::*;

fn to_f64<const D: usize>(t: &Tensor<D>) -> Vec<f64> {
    t.clone().into_data().convert::<f64>().try_into_vec::<f64>().expect("f64 tensor")
}

/// One sample's inversion: its source (M² row-major) and evidence-optimal
/// λ, or why it failed.
pub type Inverted = Result<(Vec<f32>, f64), String>;

/// Inverts the `selected` samples of a batch: `observed`, `sigma`,
/// `background` [B, 1, N, N], `theta` [B, 9] (normalized parameterization),
/// `psf` [B, 1, K, K], on an `source_size`² grid of half-width `half_width`
/// (normalized units). None for the samples not selected.
#[allow(clippy::too_many_arguments)]
pub fn invert_batch(
    selected: &[bool],
    observed: &Tensor<4>,
    sigma: &Tensor<4>,
    background: &Tensor<4>,
    theta: &Tensor<2>,
    psf: &Tensor<4>,
    source_size: usize,
    half_width: f64,
) -> Vec<Option<Inverted>> {
    let [b, _, n, _] = observed.dims();
    let k = psf.dims()[2];
    let (observed, sigma, background, theta, psf) = (to_f64(observed), to_f64(sigma), to_f64(background), to_f64(theta), to_f64(psf));
    (0..b)
        .into_par_iter()
        .map(|i| {
            if !selected[i] {
                return None;
            }
            let lens = AstroRimLens::from_array(theta[i * 9..(i + 1) * 9].try_into().expect("nine parameters"));
            // Pixels of 2/N normalized units: the lenstronomy lens in those units is the normalized one.
            let scale = 2.0 / n as f64;
            let grid = PixelGrid::new(n, n, scale, 1).expect("a valid image grid");
            let kernel = Kernel::from_pixels(k, k, psf[i * k * k..(i + 1) * k * k].to_vec()).map_err(|e| e.to_string());
            let source = SourceGrid { size: source_size, half_width, center_x: 0.0, center_y: 0.0 };
            let pixels = i * n * n..(i + 1) * n * n;
            let data: Vec<f64> = observed[pixels.clone()].iter().zip(&background[pixels.clone()]).map(|(o, g)| o - g).collect();
            let result = kernel.and_then(|kernel| {
                let op = LensingOperator::new(&grid, &lens.to_lenstronomy(n, scale).lens_model(), &source, Some(&kernel), 0.0);
                let inversion = Inversion::new(&op, &data, &sigma[pixels], Regularization::Gradient).map_err(|e| e.to_string())?;
                inversion.optimize().map(|(best, _)| best).map_err(|e| e.to_string())
            });
            Some(result.map(|best| (best.source.iter().map(|&v| v as f32).collect(), best.lambda)))
        })
        .collect()
}
