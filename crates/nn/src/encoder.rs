//! The LensParameterEncoder (AstroRIM §3.1, Eqs. 7–15): four stages of
//! Conv3×3 → GroupNorm(8) → ReLU → MaxPool 2×2 with 32/64/96/128 channels,
//! adaptive average pooling to 8 × 8, FC 8192 → 128 → 64 (ReLU), then one
//! bounded single-layer head per predicted value (the twelve heads are stored
//! as one 64 → 12 linear map; each output column is its own head).
//!
//! Outputs, per observation (normalized image units, see [`crate::forward`]):
//! the nine lens parameters Θ = (b, q, φ, x0, y0, γ, γ_φ, κ_s, r_s) and a
//! circular Sérsic lens light (flux, R_e, n). The heads of q and φ predict
//! the ellipticity components (e1, e2) = e(cos 2φ, sin 2φ), e = (1 − q)/(1 + q)
//! (lenstronomy's), converted to q and φ, and the heads of γ and γ_φ the
//! shear components (γ1, γ2) = γ(cos 2γ_φ, sin 2γ_φ), converted to γ and γ_φ:
//! heads for q and φ themselves
//! trapped the encoder at q = 1 (measured: stage 2 predicted q ≈ 0.99 for
//! every test sample after 32 000 samples) — with φ unknown the supervised
//! loss is least at e = 0, where φ's gradient vanishes and q's sigmoid
//! saturates. The shear's (γ, γ_φ) heads fell into the same trap (measured
//! at 10 400 steps: γ_φ's median error 46°, a guess, with γ ≈ 0.05 — the
//! angle's gradient scales with γ). Ranges are those of the paper
//! widened to cover every Θ the built-in presets draw (tested: b from
//! 0.005 for v4's smallest lenses at 0.2″ pixels up to 2, r_s up to 40 for
//! v6's M200-based haloes): sigmoid heads lo + (hi − lo)·σ(z) for linear ranges, the
//! same in log space for the flux, 0.5·tanh(z) for the ellipticity components
//! and 0.2·tanh(z) for the shear components.
//! Parameters: 1 243 308 (FC 8192 → 128 alone 1 048 704; heads 780) — the
//! paper quotes ~350 k, which its own layer list contradicts (REFERENCE §1).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, sigmoid, tanh};
use burn::tensor::{Device, Tensor};

/// How one head's raw output is bounded.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// lo + (hi − lo)·σ(z).
    Linear(f64, f64),
    /// exp(ln lo + (ln hi − ln lo)·σ(z)).
    Log(f64, f64),
    /// One component of a spin-2 pair, max·tanh(z): the ellipticity (heads
    /// 1 and 2, together converted to q and φ) or the shear (heads 5 and 6,
    /// converted to γ and γ_φ).
    Component(f64),
}

/// Largest ellipticity component: e ≤ 0.5·√2, q ≥ 0.17.
pub const ELLIPTICITY_MAX: f64 = 0.5;

/// Largest shear component: γ ≤ 0.2·√2 (the presets draw γ ≤ 0.16).
pub const SHEAR_MAX: f64 = 0.2;

/// Names and bounds of the twelve heads, in output order.
pub const HEADS: [(&str, Bound); 12] = [
    ("b", Bound::Linear(0.005, 2.0)),
    ("q", Bound::Component(ELLIPTICITY_MAX)),
    ("phi", Bound::Component(ELLIPTICITY_MAX)),
    ("x0", Bound::Linear(-0.2, 0.2)),
    ("y0", Bound::Linear(-0.2, 0.2)),
    ("gamma", Bound::Component(SHEAR_MAX)),
    ("gamma_phi", Bound::Component(SHEAR_MAX)),
    ("kappa_s", Bound::Linear(0.0, 0.5)),
    ("r_s", Bound::Linear(0.05, 40.0)),
    ("light_flux", Bound::Log(1e-2, 1e4)),
    ("light_re", Bound::Linear(0.005, 2.5)),
    ("light_n", Bound::Linear(1.0, 6.0)),
];

/// Number of lens parameters among the heads (Θ comes first).
pub const LENS_PARAMETERS: usize = 9;

/// (q, φ) from the ellipticity components (lenstronomy's
/// [`astrorim_physics::ellipticity::e1e2_to_q_phi`], differentiable): e = |(e1, e2)|,
/// q = (1 − e)/(1 + e), φ = atan2(e2, e1)/2. The ε's keep sqrt's and atan2's
/// gradients finite at e = 0.
pub fn q_phi(e1: Tensor<2>, e2: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let e = (e1.clone().square() + e2.clone().square() + 1e-12).sqrt();
    ((e.clone().neg() + 1.0) / (e + 1.0), e2.atan2(e1 + 1e-9) / 2.0)
}

/// (γ, γ_φ) from the shear components (lenstronomy's
/// [`astrorim_physics::ellipticity::shear_cartesian_to_polar`],
/// differentiable): γ = |(γ1, γ2)|, γ_φ = atan2(γ2, γ1)/2, with the ε's of [`q_phi`].
pub fn gamma_phi(gamma1: Tensor<2>, gamma2: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let gamma = (gamma1.clone().square() + gamma2.clone().square() + 1e-12).sqrt();
    (gamma, gamma2.atan2(gamma1 + 1e-9) / 2.0)
}

/// One Conv3×3 → GroupNorm(8) → ReLU → MaxPool 2×2 stage.
#[derive(Module, Debug)]
pub struct Stage {
    conv: Conv2d,
    norm: GroupNorm,
    pool: MaxPool2d,
}

impl Stage {
    fn new(input: usize, output: usize, device: &Device) -> Self {
        Stage {
            conv: Conv2dConfig::new([input, output], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device),
            norm: GroupNormConfig::new(8, output).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pool.forward(relu(self.norm.forward(crate::conv::conv2d(&self.conv, x))))
    }
}

/// The encoder network.
#[derive(Module, Debug)]
pub struct LensParameterEncoder {
    stages: Vec<Stage>,
    pool: AdaptiveAvgPool2d,
    fc1: Linear,
    fc2: Linear,
    heads: Linear,
}

impl LensParameterEncoder {
    pub fn new(device: &Device) -> Self {
        let widths = [1, 32, 64, 96, 128];
        LensParameterEncoder {
            stages: widths.windows(2).map(|w| Stage::new(w[0], w[1], device)).collect(),
            pool: AdaptiveAvgPool2dConfig::new([8, 8]).init(),
            fc1: LinearConfig::new(128 * 64, 128).init(device),
            fc2: LinearConfig::new(128, 64).init(device),
            heads: LinearConfig::new(64, HEADS.len()).init(device),
        }
    }

    /// Bounded predictions [B, 12] (see [`HEADS`]) from observations [B, 1, N, N]
    /// (N divisible by 16, each scaled to a peak of about 1).
    pub fn forward(&self, observed: Tensor<4>) -> Tensor<2> {
        let b = observed.dims()[0];
        let features = self.stages.iter().fold(observed, |x, stage| stage.forward(x));
        let z = self.pool.forward(features).reshape([b, 128 * 64]);
        let raw = self.heads.forward(relu(self.fc2.forward(relu(self.fc1.forward(z)))));
        let mut columns = HEADS
            .iter()
            .enumerate()
            .map(|(k, (_, bound))| {
                let z = raw.clone().slice([0..b, k..k + 1]);
                match *bound {
                    Bound::Linear(lo, hi) => sigmoid(z) * (hi - lo) + lo,
                    Bound::Log(lo, hi) => (sigmoid(z) * (hi.ln() - lo.ln()) + lo.ln()).exp(),
                    Bound::Component(max) => tanh(z) * max,
                }
            })
            .collect::<Vec<_>>();
        let (q, phi) = q_phi(columns[1].clone(), columns[2].clone());
        columns[1] = q;
        columns[2] = phi;
        let (gamma, gamma_phi) = gamma_phi(columns[5].clone(), columns[6].clone());
        columns[5] = gamma;
        columns[6] = gamma_phi;
        Tensor::cat(columns, 1)
    }
}
