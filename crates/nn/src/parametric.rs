//! The refinement's first stage: the lens fitted with a parametric source,
//! before the RIM takes over as the source solver ([`crate::refine`]).
//!
//! With the RIM as the source solver, χ² cannot tell a lens far from the
//! truth (a weaker lens lets the source take the arcs' shape; measured in
//! [`crate::refine`]'s doc), so that descent stays local and the encoder's
//! start limits it. A smooth parametric source cannot copy the arcs: it must
//! reproduce every image of itself, so its χ² has its minimum in the basin
//! of the multiply imaged solution — the reason the real-lens pipeline
//! (`astrorim_infer::parametric`, as PyAutoLens's SLaM pipelines) starts
//! from one. Here: one elliptical exponential source (Sérsic n = 1,
//! evaluated analytically at the traced positions by
//! [`ForwardOperator::lensed_sersic`]), its amplitude and the lens light's
//! flux solved linearly (non-negative least squares) at every step, and the
//! lens, the lens light's shape and the source's centre, ellipticity and
//! size descending χ² by Adam (the refinement's steps and schedule) from
//! several starts in θ_E about the encoder's ([`THETA_E_STARTS`]), a quarter
//! of the steps each, then the full count from each sample's best, each
//! sample keeping its lowest χ². With more than one component, each further
//! exponential starts on the source-plane back-projection of what the model
//! leaves, and all descend together (amplitudes by the exact small NNLS of
//! [`astrorim_infer::nnls`]): a disc and a clump, or a bulge and a disc.
//! [`crate::model::AstroRim::reconstruct_refined`]
//! keeps this lens only where the RIM's χ² under it is below the encoder's
//! lens's (the exponential cannot fit every source; measured on 60 held-out
//! samples, see `docs/results.md`).

use crate::data::Batch;
use crate::evaluate::to_vec;
use crate::forward::ForwardOperator;
use crate::joint::Prediction;
use crate::refine::{decay, from_coordinates, start_coordinates, Adam, COORDINATES, LIGHT_FLUX, STEP_SIZES};
use astrorim_infer::nnls::{non_negative_least_squares, normal_equations};
use burn::tensor::{Tensor, TensorData};

/// The source's coordinates: centre (x_s, y_s), ellipticity components
/// (e1, e2) and ln R_e (normalized units); its Sérsic index is [`SOURCE_INDEX`].
pub const SOURCE_COORDINATES: usize = 5;
/// The parametric source's Sérsic index (an exponential disc, as the
/// real-lens pipeline's parametric stage).
pub const SOURCE_INDEX: f32 = 1.0;
/// Adam's first step per source coordinate (decaying as the lens's, [`STEP_SIZES`]).
const SOURCE_STEP_SIZES: [f32; SOURCE_COORDINATES] = [0.005, 0.005, 0.02, 0.02, 0.02];
/// The starts' θ_E as multiples of the encoder's (its median error on the
/// held-out set is 13 %, its 90th percentile 57 %).
pub const THETA_E_STARTS: [f32; 5] = [0.7, 0.85, 1.0, 1.15, 1.3];
/// Bounds of the source's half-light radius at the start, normalized units.
const SOURCE_RADIUS_START: (f32, f32) = (0.01, 0.2);
/// Largest |(e1, e2)| of the lens and the source (q ≥ 0.25) and largest
/// shear |(γ1, γ2)| during the descent: the built-in presets draw e ≤ 0.7 in
/// their own convention and γ ≤ 0.16; unbounded, samples whose source is far
/// from a Sérsic ran to q ≈ 0.05 and γ ≈ 0.5 (measured on held-out v4–v6).
const ELLIPTICITY_BOUND: f32 = 0.6;
const SHEAR_BOUND: f32 = 0.2;

/// Coordinates per descent row: the lens and lens light's, then each
/// source component's.
fn width(components: usize) -> usize {
    COORDINATES + components * SOURCE_COORDINATES
}

/// Most source components [`fit_parametric_source`] accepts (with the lens
/// light, the amplitudes stay few enough for the exact small NNLS).
pub const MAX_COMPONENTS: usize = 3;

/// What the parametric stage found.
#[derive(Debug, Clone)]
pub struct ParametricFit {
    /// The lens and lens light of each sample's lowest χ², [B, 9] and [B, 3].
    pub prediction: Prediction,
    /// That χ² (noise-weighted sum over the image's pixels).
    pub chi2: Vec<f64>,
    /// Which of [`THETA_E_STARTS`] it came from.
    pub start: Vec<usize>,
    /// The source components' (x_s, y_s, e1, e2, R_e), per sample.
    pub source: Vec<Vec<[f32; SOURCE_COORDINATES]>>,
}

/// A source component's start under the lens of `theta`: the
/// back-projection Fᵀ(d − explained) of what the model so far leaves
/// (`explained`: the lens light, or the whole model), clipped at zero;
/// centre its square-weighted centroid (the brightest part counts most),
/// R_e its weighted RMS radius (bounded), round.
fn source_start(op: &ForwardOperator, data: &Data, theta: &Tensor<2>, explained: &Tensor<4>) -> Vec<[f32; 5]> {
    let b = theta.dims()[0];
    let residual = data.observed.clone() - explained.clone();
    let back = to_vec(op.bind(theta, &data.psf, None).adjoint(&residual).clamp_min(0.0));
    let (m, h) = (op.source_size, op.source_half_width);
    let u = |j: usize| -h + (j as f32 + 0.5) * 2.0 * h / m as f32;
    (0..b)
        .map(|i| {
            let image = &back[i * m * m..(i + 1) * m * m];
            let (mut total, mut sx, mut sy) = (0f64, 0f64, 0f64);
            for (k, &v) in image.iter().enumerate() {
                let w = (v as f64).powi(2);
                total += w;
                sx += w * u(k % m) as f64;
                sy += w * u(k / m) as f64;
            }
            if !(total > 0.0) {
                return [0.0, 0.0, 0.0, 0.0, SOURCE_RADIUS_START.1.ln()];
            }
            let (cx, cy) = (sx / total, sy / total);
            let spread = image
                .iter()
                .enumerate()
                .map(|(k, &v)| (v as f64).powi(2) * ((u(k % m) as f64 - cx).powi(2) + (u(k / m) as f64 - cy).powi(2)))
                .sum::<f64>()
                / total;
            let radius = (spread.sqrt() as f32).clamp(SOURCE_RADIUS_START.0, SOURCE_RADIUS_START.1);
            [cx as f32, cy as f32, 0.0, 0.0, radius.ln()]
        })
        .collect()
}

/// The data a descent fits: observations, weights σ⁻² and PSF kernels, one row per descent.
struct Data {
    observed: Tensor<4>,
    weight: Tensor<4>,
    psf: Tensor<4>,
    /// `observed` and `weight` on the host (the amplitudes' normal equations).
    observed_host: Vec<f64>,
    weight_host: Vec<f64>,
}

impl Data {
    /// `copies` copies of the batch, stacked (row k·B + i is sample i).
    fn repeated(batch: &Batch, psf: &Tensor<4>, copies: usize) -> Self {
        let stack = |t: &Tensor<4>| Tensor::cat(vec![t.clone().detach().without_autodiff(); copies], 0);
        let (observed, weight) = (stack(&batch.observed), stack(&batch.sigma.clone().recip().square()));
        let host = |t: &Tensor<4>| to_vec(t.clone()).into_iter().map(f64::from).collect();
        Data { observed_host: host(&observed), weight_host: host(&weight), observed, weight, psf: stack(psf) }
    }
}

/// The model of each row of `data` at coordinates `zt` ([rows, width]):
/// the lensed source components and the lens light, their amplitudes
/// solved by non-negative least squares (detached); returns the model
/// image (differentiable in `zt`) and the amplitudes (the lens light's last).
fn model(op: &ForwardOperator, data: &Data, zt: &Tensor<2>, components: usize) -> (Tensor<4>, Vec<Vec<f64>>) {
    let device = data.observed.device();
    let rows = data.observed.dims()[0];
    let (theta, light) = from_coordinates(zt.clone().slice([0..rows, 0..COORDINATES]));
    let sources: Vec<Tensor<2>> = (0..components)
        .map(|c| {
            let s = zt.clone().slice([0..rows, COORDINATES + c * SOURCE_COORDINATES..COORDINATES + (c + 1) * SOURCE_COORDINATES]);
            Tensor::cat(
                vec![
                    s.clone().slice([0..rows, 0..4]),
                    s.slice([0..rows, 4..5]).exp(),
                    Tensor::<2>::ones([rows, 1], &device) * SOURCE_INDEX,
                ],
                1,
            )
        })
        .collect();
    // The unit-amplitude lensed components and the unit-flux lens light.
    let mut images = op.lensed_sersics(&theta, &sources, &data.psf);
    let flux = light.clone().slice([0..rows, 0..1]).reshape([rows, 1, 1, 1]);
    images.push(op.sersic_light(&theta, &light) / flux);
    let plain: Vec<Vec<f32>> = images.iter().map(|t| to_vec(t.clone().detach().without_autodiff())).collect();
    let pixels = data.observed_host.len() / rows;
    let amplitudes: Vec<Vec<f64>> = (0..rows)
        .map(|i| {
            let span = i * pixels..(i + 1) * pixels;
            let columns: Vec<Vec<f64>> = plain.iter().map(|p| p[span.clone()].iter().map(|&x| f64::from(x)).collect()).collect();
            let refs: Vec<&[f64]> = columns.iter().map(|c| c.as_slice()).collect();
            let (gram, rhs) = normal_equations(&refs, &data.observed_host[span.clone()], &data.weight_host[span]);
            non_negative_least_squares(&gram, &rhs)
        })
        .collect();
    let image = images
        .into_iter()
        .enumerate()
        .map(|(k, t)| {
            let a: Vec<f32> = amplitudes.iter().map(|a| a[k] as f32).collect();
            t * Tensor::<4>::from_data(TensorData::new(a, [rows, 1, 1, 1]), &device)
        })
        .reduce(|a, b| a + b)
        .expect("at least the lens light");
    (image, amplitudes)
}

/// `steps` Adam steps on χ² from `z` (rows of [`width`] coordinates for
/// `components` source components, one row per row of `data`), the
/// amplitudes solved at every step; each row's lowest χ² and its
/// coordinates (the lens light's flux set to its solved amplitude).
fn descend(op: &ForwardOperator, data: &Data, mut z: Vec<f32>, steps: usize, components: usize) -> (Vec<f32>, Vec<f64>) {
    let device = data.observed.device();
    let rows = data.observed.dims()[0];
    let width = width(components);
    let mut best_z = z.clone();
    let mut best_chi2 = vec![f64::INFINITY; rows];
    let mut adam = Adam::new(z.len());
    for step in 0..=steps {
        let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [rows, width]), &device).autodiff().require_grad();
        let (image, amplitudes) = model(op, data, &zt, components);
        let chi2 = (image - data.observed.clone()).square().mul(data.weight.clone()).sum_dims(&[1, 2, 3]).reshape([rows]);
        for (i, &v) in to_vec(chi2.clone().detach().without_autodiff()).iter().enumerate() {
            if (v as f64) < best_chi2[i] {
                best_chi2[i] = v as f64;
                best_z[i * width..(i + 1) * width].copy_from_slice(&z[i * width..(i + 1) * width]);
                best_z[i * width + LIGHT_FLUX] = (amplitudes[i][components].max(1e-12) as f32).ln();
            }
        }
        if step == steps {
            break;
        }
        let grads = chi2.sum().backward();
        let g = to_vec(zt.grad(&grads).expect("χ² depends on the coordinates"));
        let scale = decay(step, steps);
        adam.step(&mut z, &g, |k| match k % width {
            j if j < COORDINATES => scale * STEP_SIZES[j],
            j => scale * SOURCE_STEP_SIZES[(j - COORDINATES) % SOURCE_COORDINATES],
        });
        // The lens's (e1, e2) at 1, its (γ1, γ2) at 5, each component's (e1, e2) at 2 within its five.
        let pairs: Vec<(usize, f32)> = [(1, ELLIPTICITY_BOUND), (5, SHEAR_BOUND)]
            .into_iter()
            .chain((0..components).map(|c| (COORDINATES + c * SOURCE_COORDINATES + 2, ELLIPTICITY_BOUND)))
            .collect();
        for row in z.chunks_mut(width) {
            for &(pair, bound) in &pairs {
                let norm = row[pair].hypot(row[pair + 1]);
                if norm > bound {
                    row[pair] *= bound / norm;
                    row[pair + 1] *= bound / norm;
                }
            }
        }
    }
    (best_z, best_chi2)
}

/// Fits the lens of `start` (the encoder's lens and lens light for `batch`)
/// with a parametric source (see the module's doc): a quarter of `steps`
/// Adam steps from each of [`THETA_E_STARTS`] with one source component
/// (all starts in one batch), then `steps` more from each sample's best;
/// then, for each further component up to `components`
/// (≤ [`MAX_COMPONENTS`]), one started on what the model leaves
/// unexplained and `steps` more with all of them. `psf` is the kernel
/// batch the operator uses. The descent runs without supersampling (a
/// smooth source needs none; four times fewer rays than the evaluation's 2 × 2).
pub fn fit_parametric_source(
    op: &ForwardOperator,
    batch: &Batch,
    start: &Prediction,
    psf: &Tensor<4>,
    steps: usize,
    components: usize,
) -> ParametricFit {
    assert!((1..=MAX_COMPONENTS).contains(&components), "{components} source components");
    let device = batch.observed.device();
    let op = &ForwardOperator::new(op.image_size, 1, op.source_size, op.source_half_width, &device);
    let b = batch.observed.dims()[0];
    let starts = THETA_E_STARTS.len();
    let encoder = start_coordinates(start);
    // Row k·B + i: sample i from start k (coordinate 0 is ln b), the source
    // started from the back-projection under that lens.
    let lens: Vec<[f32; COORDINATES]> = THETA_E_STARTS
        .iter()
        .flat_map(|factor| {
            encoder.iter().map(|z| {
                let mut z = *z;
                z[0] += factor.ln();
                z
            })
        })
        .collect();
    let scouts = Data::repeated(batch, psf, starts);
    let flat: Vec<f32> = lens.iter().flatten().copied().collect();
    let (theta, light) = from_coordinates(Tensor::<2>::from_data(TensorData::new(flat, [b * starts, COORDINATES]), &device));
    let sources = source_start(op, &scouts, &theta, &op.sersic_light(&theta, &light));
    let z: Vec<f32> = lens.iter().zip(&sources).flat_map(|(l, s)| l.iter().chain(s.iter()).copied()).collect();
    let (scouted, scout_chi2) = descend(op, &scouts, z, (steps / 4).max(1), 1);
    let chosen: Vec<usize> = (0..b)
        .map(|i| (0..starts).min_by(|&k, &l| scout_chi2[k * b + i].total_cmp(&scout_chi2[l * b + i])).expect("at least one start"))
        .collect();
    let one = width(1);
    let z: Vec<f32> = (0..b).flat_map(|i| scouted[(chosen[i] * b + i) * one..(chosen[i] * b + i + 1) * one].to_vec()).collect();
    let data = Data::repeated(batch, psf, 1);
    let (mut best_z, mut chi2) = descend(op, &data, z, steps, 1);
    for c in 1..components {
        // The next component starts where the current model leaves positive
        // residual flux in the source plane (its back-projection's bright part).
        let zt = Tensor::<2>::from_data(TensorData::new(best_z.clone(), [b, width(c)]), &device);
        let (fitted, _) = model(op, &data, &zt, c);
        let (theta, _) = from_coordinates(zt.slice([0..b, 0..COORDINATES]));
        let next = source_start(op, &data, &theta, &fitted);
        let z: Vec<f32> = best_z.chunks(width(c)).zip(&next).flat_map(|(z, s)| z.iter().chain(s.iter()).copied()).collect();
        (best_z, chi2) = descend(op, &data, z, steps, c + 1);
    }
    let all = width(components);
    let lens: Vec<f32> = best_z.chunks(all).flat_map(|z| z[..COORDINATES].to_vec()).collect();
    let (theta, light) = from_coordinates(Tensor::<2>::from_data(TensorData::new(lens, [b, COORDINATES]), &device));
    ParametricFit {
        prediction: Prediction { theta, light },
        chi2,
        start: chosen,
        source: best_z
            .chunks(all)
            .map(|z| z[COORDINATES..].chunks(SOURCE_COORDINATES).map(|s| [s[0], s[1], s[2], s[3], s[4].exp()]).collect())
            .collect(),
    }
}

/// Per sample, `b`'s lens and lens light where `take_b`, else `a`'s.
pub fn choose(a: &Prediction, b: &Prediction, take_b: &[bool]) -> Prediction {
    let device = a.theta.device();
    let pick = |x: &Tensor<2>, y: &Tensor<2>| {
        let [rows, width] = x.dims();
        let (x, y) = (to_vec(x.clone()), to_vec(y.clone()));
        let v: Vec<f32> = (0..rows)
            .flat_map(|i| if take_b[i] { &y[i * width..(i + 1) * width] } else { &x[i * width..(i + 1) * width] }.to_vec())
            .collect();
        Tensor::<2>::from_data(TensorData::new(v, [rows, width]), &device)
    };
    Prediction { theta: pick(&a.theta, &b.theta), light: pick(&a.light, &b.light) }
}
