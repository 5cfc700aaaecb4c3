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
//! sample keeping its lowest χ². [`crate::model::AstroRim::reconstruct_refined`]
//! keeps this lens only where the RIM's χ² under it is below the encoder's
//! lens's (the exponential cannot fit every source; measured on 60 held-out
//! samples, see `docs/results.md`).

use crate::data::Batch;
use crate::evaluate::to_vec;
use crate::forward::ForwardOperator;
use crate::joint::Prediction;
use crate::refine::{decay, from_coordinates, start_coordinates, Adam, COORDINATES, LIGHT_FLUX, STEP_SIZES};
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

/// Coordinates per descent: the lens and lens light's, then the source's.
const WIDTH: usize = COORDINATES + SOURCE_COORDINATES;

/// What the parametric stage found.
#[derive(Debug, Clone)]
pub struct ParametricFit {
    /// The lens and lens light of each sample's lowest χ², [B, 9] and [B, 3].
    pub prediction: Prediction,
    /// That χ² (noise-weighted sum over the image's pixels).
    pub chi2: Vec<f64>,
    /// Which of [`THETA_E_STARTS`] it came from.
    pub start: Vec<usize>,
    /// The source's (x_s, y_s, e1, e2, R_e), per sample.
    pub source: Vec<[f32; SOURCE_COORDINATES]>,
}

/// Amplitudes (a_s, a_l) ≥ 0 minimizing Σ w (d − a_s S − a_l L)², from the
/// normal equations' sums [S·S, S·L, L·L, S·d, L·d] (weighted): the 2 × 2
/// solve when both are non-negative, else the better one-term fit.
fn non_negative_amplitudes(m: [f64; 5]) -> (f64, f64) {
    let [ss, sl, ll, sd, ld] = m;
    let objective = |a: f64, c: f64| a * a * ss + 2.0 * a * c * sl + c * c * ll - 2.0 * (a * sd + c * ld);
    let det = ss * ll - sl * sl;
    if det > 0.0 {
        let (a, c) = ((sd * ll - ld * sl) / det, (ld * ss - sd * sl) / det);
        if a >= 0.0 && c >= 0.0 {
            return (a, c);
        }
    }
    let source_only = ((sd / ss).max(0.0), 0.0);
    let light_only = (0.0, (ld / ll).max(0.0));
    let value = |p: (f64, f64)| if p.0.is_finite() && p.1.is_finite() { objective(p.0, p.1) } else { f64::INFINITY };
    if value(source_only) <= value(light_only) {
        source_only
    } else {
        light_only
    }
}

/// The source's start under the lens of `theta`: the back-projection
/// Fᵀ(d − lens light), clipped at zero; centre its square-weighted centroid
/// (the brightest part counts most), R_e its weighted RMS radius (bounded),
/// round.
fn source_start(op: &ForwardOperator, data: &Data, theta: &Tensor<2>, light_image: &Tensor<4>) -> Vec<[f32; 5]> {
    let b = theta.dims()[0];
    let residual = data.observed.clone() - light_image.clone();
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
}

impl Data {
    /// `copies` copies of the batch, stacked (row k·B + i is sample i).
    fn repeated(batch: &Batch, psf: &Tensor<4>, copies: usize) -> Self {
        let stack = |t: &Tensor<4>| Tensor::cat(vec![t.clone().detach().without_autodiff(); copies], 0);
        Data { observed: stack(&batch.observed), weight: stack(&batch.sigma.clone().recip().square()), psf: stack(psf) }
    }
}

/// `steps` Adam steps on χ² from `z` (rows of [`WIDTH`] coordinates, one
/// per row of `data`), the amplitudes solved at every step; each row's
/// lowest χ² and its coordinates (the lens light's flux set to its solved
/// amplitude).
fn descend(op: &ForwardOperator, data: &Data, mut z: Vec<f32>, steps: usize) -> (Vec<f32>, Vec<f64>) {
    let device = data.observed.device();
    let rows = data.observed.dims()[0];
    let sum = |t: Tensor<4>| to_vec(t.sum_dims(&[1, 2, 3]).reshape([rows]));
    let mut best_z = z.clone();
    let mut best_chi2 = vec![f64::INFINITY; rows];
    let mut adam = Adam::new(z.len());
    for step in 0..=steps {
        let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [rows, WIDTH]), &device).autodiff().require_grad();
        // The unit-amplitude lensed source and the unit-flux lens light.
        let (theta, light) = from_coordinates(zt.clone().slice([0..rows, 0..COORDINATES]));
        let s = zt.clone().slice([0..rows, COORDINATES..WIDTH]);
        let source = Tensor::cat(
            vec![s.clone().slice([0..rows, 0..4]), s.slice([0..rows, 4..5]).exp(), Tensor::<2>::ones([rows, 1], &device) * SOURCE_INDEX],
            1,
        );
        let lensed = op.lensed_sersic(&theta, &source, &data.psf);
        let flux = light.clone().slice([0..rows, 0..1]).reshape([rows, 1, 1, 1]);
        let light_shape = op.sersic_light(&theta, &light) / flux;
        let (sd, ld) = (lensed.clone().detach().without_autodiff(), light_shape.clone().detach().without_autodiff());
        let w = data.weight.clone();
        let sums = [
            sum(sd.clone().square() * w.clone()),
            sum(sd.clone() * ld.clone() * w.clone()),
            sum(ld.clone().square() * w.clone()),
            sum(sd * data.observed.clone() * w.clone()),
            sum(ld * data.observed.clone() * w.clone()),
        ];
        let amplitudes: Vec<(f64, f64)> = (0..rows).map(|i| non_negative_amplitudes(std::array::from_fn(|k| sums[k][i] as f64))).collect();
        let column = |pick: fn(&(f64, f64)) -> f64| {
            let v: Vec<f32> = amplitudes.iter().map(|a| pick(a) as f32).collect();
            Tensor::<4>::from_data(TensorData::new(v, [rows, 1, 1, 1]), &device)
        };
        let model = lensed * column(|a| a.0) + light_shape * column(|a| a.1);
        let chi2 = (model - data.observed.clone()).square().mul(w).sum_dims(&[1, 2, 3]).reshape([rows]);
        for (i, &v) in to_vec(chi2.clone().detach().without_autodiff()).iter().enumerate() {
            if (v as f64) < best_chi2[i] {
                best_chi2[i] = v as f64;
                best_z[i * WIDTH..(i + 1) * WIDTH].copy_from_slice(&z[i * WIDTH..(i + 1) * WIDTH]);
                best_z[i * WIDTH + LIGHT_FLUX] = (amplitudes[i].1.max(1e-12) as f32).ln();
            }
        }
        if step == steps {
            break;
        }
        let grads = chi2.sum().backward();
        let g = to_vec(zt.grad(&grads).expect("χ² depends on the coordinates"));
        let scale = decay(step, steps);
        adam.step(&mut z, &g, |k| match k % WIDTH {
            j if j < COORDINATES => scale * STEP_SIZES[j],
            j => scale * SOURCE_STEP_SIZES[j - COORDINATES],
        });
        // The lens's (e1, e2) at 1, its (γ1, γ2) at 5, the source's (e1, e2) after the lens's coordinates.
        for row in z.chunks_mut(WIDTH) {
            for (pair, bound) in [(1, ELLIPTICITY_BOUND), (5, SHEAR_BOUND), (COORDINATES + 2, ELLIPTICITY_BOUND)] {
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
/// Adam steps from each of [`THETA_E_STARTS`] (all starts in one batch),
/// then `steps` more from each sample's best. `psf` is the kernel batch
/// the operator uses. The descent runs without supersampling (a smooth
/// source needs none; four times fewer rays than the evaluation's 2 × 2).
pub fn fit_parametric_source(op: &ForwardOperator, batch: &Batch, start: &Prediction, psf: &Tensor<4>, steps: usize) -> ParametricFit {
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
    let (scouted, scout_chi2) = descend(op, &scouts, z, (steps / 4).max(1));
    let chosen: Vec<usize> = (0..b)
        .map(|i| (0..starts).min_by(|&k, &l| scout_chi2[k * b + i].total_cmp(&scout_chi2[l * b + i])).expect("at least one start"))
        .collect();
    let z: Vec<f32> = (0..b).flat_map(|i| scouted[(chosen[i] * b + i) * WIDTH..(chosen[i] * b + i + 1) * WIDTH].to_vec()).collect();
    let (best_z, chi2) = descend(op, &Data::repeated(batch, psf, 1), z, steps);
    let lens: Vec<f32> = best_z.chunks(WIDTH).flat_map(|z| z[..COORDINATES].to_vec()).collect();
    let (theta, light) = from_coordinates(Tensor::<2>::from_data(TensorData::new(lens, [b, COORDINATES]), &device));
    ParametricFit {
        prediction: Prediction { theta, light },
        chi2,
        start: chosen,
        source: best_z
            .chunks(WIDTH)
            .map(|z| {
                let s = &z[COORDINATES..];
                [s[0], s[1], s[2], s[3], s[4].exp()]
            })
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

#[cfg(test)]
mod tests {
    use super::non_negative_amplitudes;

    #[test]
    fn amplitudes_solve_the_normal_equations_or_clip_at_zero() {
        // S = (1, 0, 1), L = (0, 1, 1), unit weights; d = 2 S + 3 L.
        let (s, l) = ([1.0, 0.0, 1.0], [0.0, 1.0, 1.0]);
        let sums = |d: [f64; 3]| {
            let dot = |a: &[f64; 3], b: &[f64; 3]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
            [dot(&s, &s), dot(&s, &l), dot(&l, &l), dot(&s, &d), dot(&l, &d)]
        };
        let (a, c) = non_negative_amplitudes(sums([2.0, 3.0, 5.0]));
        assert!((a - 2.0).abs() < 1e-12 && (c - 3.0).abs() < 1e-12, "({a}, {c})");
        // d = 2 S − L: the unconstrained light amplitude is negative; the best
        // non-negative fit is the source alone, a = S·d / S·S = (2 + 1)/2.
        let (a, c) = non_negative_amplitudes(sums([2.0, -1.0, 1.0]));
        assert!((a - 1.5).abs() < 1e-12 && c == 0.0, "({a}, {c})");
    }
}
