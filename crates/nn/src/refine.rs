//! Lens refinement with the RIM as the source solver (Morningstar et al.
//! 2019, §5 and their Algorithm 1): the encoder's lens is the start; the
//! lens parameters and the lens light then descend the data's χ², where at
//! every step the source is the RIM's reconstruction under the current lens.
//!
//! The gradient is that of χ²(Θ, x) in Θ at the RIM's x(Θ) held fixed. Where
//! x(Θ) minimizes an objective J(Θ, x) = χ² + R(x) whose prior R does not
//! depend on Θ, this partial gradient is the gradient of the profile
//! min_x J (the envelope theorem); the RIM approximates such a minimizer,
//! so one RIM pass and one backward pass of the forward operator give a
//! step, where a derivative-free search (the paper's downhill simplex)
//! spends tens to hundreds of RIM passes. The steps are Adam's, on
//! unconstrained coordinates; each sample keeps the lens of its lowest χ²
//! among the steps' (the start included), so refinement never raises it.
//! The descent is local, and has to be: with a lens far from the truth the
//! RIM still fits the data, and χ² alone cannot tell (measured on held-out
//! v1/v2 samples: a scan of θ_E over 0.6–1.6× the encoder's, the rest of
//! the lens kept, chose θ_E 45–56 % off, and one such lens had a lower χ²
//! than the true lens — a weaker lens lets the source take the arcs' shape,
//! which only a prior on the source would penalize). A Gaussian prior on
//! the lens about the encoder's (widths 1.5× its median errors) changed
//! nothing measurable (60 held-out samples, 30 steps: SSIM mean 0.845
//! against 0.844, θ_E median error 13.6 % against 13.7 %): the χ²
//! differences along the descent are hundreds to thousands.
//! The lens light's flux, which enters the model linearly, is not a step
//! coordinate: at every step it takes its weighted least-squares value.

use crate::data::Batch;
use crate::encoder::{gamma_phi, q_phi};
use crate::evaluate::to_vec;
use crate::forward::{ForwardOperator, LinearOperator};
use crate::joint::Prediction;
use crate::known_lens::{project_source, run_rim, Iterate};
use crate::rim::Rim;
use burn::tensor::{Tensor, TensorData};

/// Settings of a refinement.
#[derive(Debug, Clone, Copy)]
pub struct RefineSettings {
    /// Gradient steps (each one RIM reconstruction and one backward pass of F).
    pub steps: usize,
    /// Multiplies every coordinate's step size ([`STEP_SIZES`]).
    pub step_scale: f64,
    /// Steps of the first stage, the lens fitted with a parametric source
    /// from several starts in θ_E ([`crate::parametric`]), before the RIM's
    /// steps; 0 skips it.
    pub parametric_steps: usize,
    /// Source components of that stage (1: one exponential; each further
    /// one adds `parametric_steps` steps).
    pub parametric_components: usize,
    /// Then refine the lens by the evidence of the regularized inversion
    /// ([`crate::evidence_refine`]), before the RIM's steps.
    pub evidence: bool,
}

/// Number of refined coordinates: the nine of Θ and the lens light's three.
pub const COORDINATES: usize = 12;

/// Index of the lens light's ln flux among the [`coordinates`]: it enters
/// the model linearly, so the descents solve for it instead of stepping it.
pub const LIGHT_FLUX: usize = 9;

/// Adam's step size per coordinate of [`coordinates`], in that coordinate's
/// units, at the first step (decaying linearly to a tenth by the last):
/// ln b, e1, e2, x0, y0 (normalized units: 0.005 is a quarter pixel of a
/// 96² image), γ1, γ2, κ_s, ln r_s, ln flux, ln R_e, n. The flux's entry
/// is unused: it is solved for exactly at every step (it enters linearly).
pub const STEP_SIZES: [f32; COORDINATES] = [0.02, 0.02, 0.02, 0.005, 0.005, 0.01, 0.01, 0.005, 0.02, 0.02, 0.02, 0.05];

/// The unconstrained coordinates of Θ and the lens light, per sample:
/// (ln b, e1, e2, x0, y0, γ1, γ2, κ_s, ln r_s, ln flux, ln R_e, n), with
/// lenstronomy's ellipticity e = (1 − q)/(1 + q) (e1, e2) = e (cos 2φ, sin 2φ)
/// and shear (γ1, γ2) = γ (cos 2γ_φ, sin 2γ_φ).
pub fn coordinates(theta: &[f32], light: &[f32]) -> [f32; COORDINATES] {
    let e = (1.0 - theta[1]) / (1.0 + theta[1]);
    [
        theta[0].max(1e-4).ln(),
        e * (2.0 * theta[2]).cos(),
        e * (2.0 * theta[2]).sin(),
        theta[3],
        theta[4],
        theta[5] * (2.0 * theta[6]).cos(),
        theta[5] * (2.0 * theta[6]).sin(),
        theta[7],
        theta[8].max(1e-3).ln(),
        light[0].max(1e-12).ln(),
        light[1].max(1e-4).ln(),
        light[2],
    ]
}

/// The [`coordinates`] of each sample of a prediction (Θ [B, 9], light [B, 3]).
pub fn start_coordinates(start: &Prediction) -> Vec<[f32; COORDINATES]> {
    let (theta, light) = (to_vec(start.theta.clone()), to_vec(start.light.clone()));
    theta.chunks(9).zip(light.chunks(3)).map(|(t, l)| coordinates(t, l)).collect()
}

/// Θ [B, 9] and the lens light [B, 3] from coordinates [B, 12]
/// (differentiable; the inverse of [`coordinates`]).
pub fn from_coordinates(z: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let b = z.dims()[0];
    let col = |k: usize| z.clone().slice([0..b, k..k + 1]);
    let (q, phi) = q_phi(col(1), col(2));
    let (gamma, gamma_phi) = gamma_phi(col(5), col(6));
    let theta = Tensor::cat(vec![col(0).exp(), q, phi, col(3), col(4), gamma, gamma_phi, col(7).clamp_min(0.0), col(8).exp()], 1);
    let light = Tensor::cat(vec![col(9).exp(), col(10).exp(), col(11).clamp(0.5, 8.0)], 1);
    (theta, light)
}

/// What a refinement produced.
#[derive(Debug, Clone)]
pub struct Refined {
    /// The lens and lens light of each sample's lowest χ², [B, 9] and [B, 3].
    pub prediction: Prediction,
    /// χ² per sample at the start and at the kept lens (noise-weighted sum
    /// over the image's pixels, the RIM's source under that lens).
    pub chi2_start: Vec<f64>,
    pub chi2_best: Vec<f64>,
    /// Step at which each sample's kept lens was reached (0: the start).
    pub best_step: Vec<usize>,
}

/// The RIM's source (projected, detached) for one batch under the lens
/// bound in `f`: the source solver of [`refine_lens`] in Algorithm 1.
pub fn rim_source(rim: &Rim, f: &LinearOperator, batch: &Batch, how: Iterate) -> Tensor<4> {
    let (_, estimates) = run_rim(rim, f, batch, Iterate { lens_gradient: false, ..how });
    project_source(estimates.last().expect("the RIM runs at least one iteration").clone()).detach().without_autodiff()
}

/// The step-size schedule of the refinement's descents: from 1 at the
/// first step linearly down to a tenth at the last of `steps`.
pub(crate) fn decay(step: usize, steps: usize) -> f32 {
    1.0 - 0.9 * step as f32 / steps as f32
}

/// Adam (β1 = 0.9, β2 = 0.999) over a flat coordinate vector, with a step
/// size per coordinate: the descents of [`refine_lens`] and [`crate::parametric`].
pub(crate) struct Adam {
    m1: Vec<f32>,
    m2: Vec<f32>,
    t: i32,
}

impl Adam {
    pub(crate) fn new(len: usize) -> Self {
        Adam { m1: vec![0.0; len], m2: vec![0.0; len], t: 0 }
    }

    /// One step of `z` against the gradient `g` (a non-finite entry counts
    /// as zero); `size(k)` is coordinate k's step size.
    pub(crate) fn step(&mut self, z: &mut [f32], g: &[f32], size: impl Fn(usize) -> f32) {
        let (beta1, beta2) = (0.9f32, 0.999f32);
        self.t += 1;
        let (c1, c2) = (1.0 - beta1.powi(self.t), 1.0 - beta2.powi(self.t));
        for (k, ((zk, gk), (a, v))) in z.iter_mut().zip(g).zip(self.m1.iter_mut().zip(self.m2.iter_mut())).enumerate() {
            let gk = if gk.is_finite() { *gk } else { 0.0 };
            *a = beta1 * *a + (1.0 - beta1) * gk;
            *v = beta2 * *v + (1.0 - beta2) * gk * gk;
            *zk -= size(k) * (*a / c1) / ((*v / c2).sqrt() + 1e-12);
        }
    }
}

/// Refines `start` (the encoder's lens and lens light for `batch`) against
/// the data, the source re-solved by `solve` under the current lens at
/// every evaluation ([`rim_source`] in Algorithm 1; see the module's doc):
/// `settings.steps` Adam steps on χ². `psf` is the kernel batch the
/// operator uses.
pub fn refine_lens(
    op: &ForwardOperator,
    batch: &Batch,
    start: &Prediction,
    psf: &Tensor<4>,
    settings: RefineSettings,
    solve: impl Fn(&LinearOperator, &Batch) -> Tensor<4>,
) -> Refined {
    let device = batch.observed.device();
    let b = batch.observed.dims()[0];
    let observed = batch.observed.clone().detach().without_autodiff();
    let inverse_sigma = batch.sigma.clone().detach().without_autodiff().recip();
    let tensor = |z: &[f32]| Tensor::<2>::from_data(TensorData::new(z.to_vec(), [b, COORDINATES]), &device);
    // The source under the lens of `z`; sets z's lens-light flux, which
    // enters linearly, to its weighted least-squares value against the data
    // less the lensed source.
    let weight = inverse_sigma.clone().square();
    let resolve = |z: &mut [f32]| -> Tensor<4> {
        let (theta, light) = from_coordinates(tensor(z));
        let lens_light = op.sersic_light(&theta, &light);
        let f = op.bind(&theta, psf, Some(&lens_light));
        let source = solve(&f, batch).detach().without_autodiff();
        let shape = lens_light / light.slice([0..b, 0..1]).reshape([b, 1, 1, 1]);
        let residual = observed.clone() - f.apply_linear(&source);
        let numerator = to_vec((shape.clone() * residual * weight.clone()).sum_dims(&[1, 2, 3]).reshape([b]));
        let denominator = to_vec((shape.square() * weight.clone()).sum_dims(&[1, 2, 3]).reshape([b]));
        for i in 0..b {
            let flux = numerator[i] / denominator[i];
            if flux.is_finite() && flux > 0.0 {
                z[i * COORDINATES + LIGHT_FLUX] = flux.ln();
            }
        }
        source
    };
    // χ² per sample of the model with `source` under the lens of `z`, and
    // with `gradient` its gradient in z.
    let chi2 = |z: &[f32], source: &Tensor<4>, gradient: bool| -> (Vec<f32>, Option<Vec<f32>>) {
        let zt = if gradient { tensor(z).autodiff().require_grad() } else { tensor(z) };
        let (theta, light) = from_coordinates(zt.clone());
        let model = op.forward(source, &theta, psf, Some(&op.sersic_light(&theta, &light)));
        let values = ((model - observed.clone()) * inverse_sigma.clone()).square().sum_dims(&[1, 2, 3]).reshape([b]);
        let scalars = to_vec(values.clone().detach().without_autodiff());
        let g = gradient.then(|| {
            let grads = values.sum().backward();
            to_vec(zt.grad(&grads).expect("χ² depends on the coordinates"))
        });
        (scalars, g)
    };
    let z0: Vec<f32> = start_coordinates(start).into_iter().flatten().collect();
    let mut best =
        Refined { prediction: start.clone(), chi2_start: vec![0.0; b], chi2_best: vec![f64::INFINITY; b], best_step: vec![0; b] };
    let mut best_z = z0.clone();
    let keep = |z: &[f32], values: &[f32], best: &mut Refined, best_z: &mut Vec<f32>, step: usize| {
        for (i, &v) in values.iter().enumerate() {
            if step == 0 {
                best.chi2_start[i] = v as f64;
            }
            if (v as f64) < best.chi2_best[i] {
                best_z[i * COORDINATES..(i + 1) * COORDINATES].copy_from_slice(&z[i * COORDINATES..(i + 1) * COORDINATES]);
                best.chi2_best[i] = v as f64;
                best.best_step[i] = step;
            }
        }
    };
    let mut z = z0;
    let mut adam = Adam::new(z.len());
    for step in 0..settings.steps {
        let source = resolve(&mut z);
        let (values, g) = chi2(&z, &source, true);
        keep(&z, &values, &mut best, &mut best_z, step);
        let scale = settings.step_scale as f32 * decay(step, settings.steps);
        adam.step(&mut z, &g.expect("gradient requested"), |k| scale * STEP_SIZES[k % COORDINATES]);
    }
    let source = resolve(&mut z);
    keep(&z, &chi2(&z, &source, false).0, &mut best, &mut best_z, settings.steps);
    let (theta, light) = from_coordinates(tensor(&best_z));
    best.prediction = Prediction { theta, light };
    best
}
