//! AstroRIM's joint mode (§3.1–3.3): the LensParameterEncoder predicts, per
//! observation, Θ and a Sérsic lens light; they condition the forward
//! operator the RIM iterates against. Also the PSF model used when an
//! observation carries no kernel — a Moffat with learned global FWHM and β
//! plus a learned residual kernel (Eqs. 22–25) — and the loss terms that
//! train the encoder: forward fidelity (Eq. 45), residual-kernel smoothness
//! (Eq. 46), range and prior penalties (Eqs. 48–49) and an optional
//! supervised term against the simulator's truth.

use crate::data::Batch;
use crate::encoder::{LensParameterEncoder, LENS_PARAMETERS};
use crate::forward::ForwardOperator;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

/// Which PSF the joint forward operator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PsfSource {
    /// The kernel stored with each observation.
    Observed,
    /// The learned global Moffat + residual kernel.
    Learned,
}

/// The learned parts of the joint forward operator.
#[derive(Module, Debug)]
pub struct ForwardModel {
    pub encoder: LensParameterEncoder,
    /// ln FWHM (image pixels) and ln β of the global Moffat.
    log_fwhm: Param<Tensor<1>>,
    log_beta: Param<Tensor<1>>,
    /// Residual kernel added to the Moffat, [1, 1, k, k], initialized to 0.
    residual: Param<Tensor<4>>,
}

/// One batch of encoder predictions.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Θ, [B, 9].
    pub theta: Tensor<2>,
    /// Lens light (flux, R_e, n), [B, 3].
    pub light: Tensor<2>,
}

impl ForwardModel {
    /// A fresh model; the Moffat starts at FWHM 3 px, β 4.5 (the paper's
    /// initialization), the residual kernel (side `psf_size`) at zero.
    pub fn new(psf_size: usize, device: &Device) -> Self {
        ForwardModel {
            encoder: LensParameterEncoder::new(device),
            log_fwhm: Param::from_tensor(Tensor::from_floats([3.0f32.ln()], device)),
            log_beta: Param::from_tensor(Tensor::from_floats([4.5f32.ln()], device)),
            residual: Param::from_tensor(Tensor::zeros([1, 1, psf_size, psf_size], device)),
        }
    }

    /// Θ and lens light predicted from the (scaled) observations.
    pub fn predict(&self, observed: Tensor<4>) -> Prediction {
        let out = self.encoder.forward(observed);
        let b = out.dims()[0];
        let heads = out.dims()[1];
        Prediction { theta: out.clone().slice([0..b, 0..LENS_PARAMETERS]), light: out.slice([0..b, LENS_PARAMETERS..heads]) }
    }

    /// The learned PSF, [1, 1, k, k]: a unit-sum Moffat (1 + (r/α)²)^−β,
    /// α = FWHM / (2 √(2^{1/β} − 1)), plus the residual kernel.
    pub fn learned_psf(&self) -> Tensor<4> {
        let residual = self.residual.val();
        let k = residual.dims()[2];
        let device = residual.device();
        let c = (k as f32 - 1.0) / 2.0;
        let offsets: Vec<f32> = (0..k * k)
            .map(|i| {
                let (x, y) = ((i % k) as f32 - c, (i / k) as f32 - c);
                x * x + y * y
            })
            .collect();
        let r2 = Tensor::<1>::from_floats(offsets.as_slice(), &device);
        let beta = self.log_beta.val().exp();
        let fwhm = self.log_fwhm.val().exp();
        let alpha = fwhm / (((beta.clone().recip() * 2f32.ln()).exp() - 1.0).sqrt() * 2.0);
        let moffat = (r2 / alpha.square() + 1.0).powf(beta.neg());
        let moffat = moffat.clone() / moffat.sum();
        moffat.reshape([1, 1, k, k]) + residual
    }

    /// The PSF batch [B, 1, k, k] the joint operator uses for `batch`.
    pub fn psf(&self, batch: &Batch, source: PsfSource) -> Tensor<4> {
        match source {
            PsfSource::Observed => batch.psf.clone(),
            PsfSource::Learned => {
                let [b, _, k, _] = batch.psf.dims();
                self.learned_psf().expand([b, 1, k, k])
            }
        }
    }

    /// Total variation ‖∇K_residual‖² of the residual kernel (Eq. 46).
    pub fn residual_tv(&self) -> Tensor<1> {
        let r = self.residual.val();
        let k = r.dims()[2];
        let dx = r.clone().slice([0..1, 0..1, 0..k, 1..k]) - r.clone().slice([0..1, 0..1, 0..k, 0..k - 1]);
        let dy = r.clone().slice([0..1, 0..1, 1..k, 0..k]) - r.slice([0..1, 0..1, 0..k - 1, 0..k]);
        dx.square().sum() + dy.square().sum()
    }
}

/// Column `k` of a [B, C] tensor as [B, 1].
fn col(t: &Tensor<2>, k: usize) -> Tensor<2> {
    let b = t.dims()[0];
    t.clone().slice([0..b, k..k + 1])
}

/// Range and prior penalties on Θ (Eqs. 48–49), mean over the batch. The
/// paper's b prior (0.08) and upper range (0.5) are in its units; ours scale
/// b with the pixel count, so the b terms use the built-in presets' median
/// (0.28) and the encoder's upper bound (2.0) instead.
pub fn parameter_penalty(theta: &Tensor<2>) -> Tensor<1> {
    let (b, q, x0, y0) = (col(theta, 0), col(theta, 1), col(theta, 3), col(theta, 4));
    let (gamma, kappa_s, r_s) = (col(theta, 5), col(theta, 7), col(theta, 8));
    let range = b.clone().neg().clamp_min(0.0).square()
        + (b.clone() - 2.0).clamp_min(0.0).square()
        + x0.square()
        + y0.square()
        + (gamma - 0.05).square();
    let prior = (b - 0.28).square() + (q - 0.7).square() + (kappa_s - 0.05).square() + (r_s - 0.2).square();
    (range + prior).mean()
}

/// Supervised parameter loss against the truth: mean squared difference of
/// ln b (so that the Einstein radius is learned to a relative accuracy), the
/// ellipticity components (1−q)/(1+q)·(cos 2φ, sin 2φ)/0.2, the centre /0.2,
/// the shear components γ(cos 2γ_φ, sin 2γ_φ)/0.2 and κ_s/0.5 — each scaled
/// to its range, and written in components so that the π-periodic angles
/// have no wrap-around. r_s is left out: it is undefined without a halo.
/// (The ellipticity was unscaled up to stage 2's step 2 000: its squared
/// error, ~0.01, was a twentieth of ln b's, and the encoder had learned
/// neither q nor φ — median |Δφ| 46°, that of a guess.) `theta_e_weight`
/// multiplies ln b's squared error (1: every feature alike).
pub fn supervised_penalty(predicted: &Tensor<2>, truth: &Tensor<2>, theta_e_weight: f64) -> Tensor<1> {
    let weight = theta_e_weight.sqrt();
    let features = |t: &Tensor<2>| {
        let (q, phi, gamma, gphi) = (col(t, 1), col(t, 2), col(t, 5), col(t, 6));
        let e = (q.clone().neg() + 1.0) / (q + 1.0);
        Tensor::cat(
            vec![
                col(t, 0).clamp_min(1e-3).log() * weight,
                e.clone() * (phi.clone() * 2.0).cos() / 0.2,
                e * (phi * 2.0).sin() / 0.2,
                col(t, 3) / 0.2,
                col(t, 4) / 0.2,
                gamma.clone() * (gphi.clone() * 2.0).cos() / 0.2,
                gamma * (gphi * 2.0).sin() / 0.2,
                col(t, 7) / 0.5,
            ],
            1,
        )
    };
    (features(predicted) - features(&truth.clone().detach())).square().mean()
}

/// Forward fidelity ‖F(x_GT; Θ(y)) + light(y) − y‖² (Eq. 45), mean over pixels.
pub fn forward_fidelity(op: &ForwardOperator, batch: &Batch, prediction: &Prediction, psf: &Tensor<4>) -> Tensor<1> {
    let light = op.sersic_light(&prediction.theta, &prediction.light);
    let model = op.forward(&batch.target.clone().detach(), &prediction.theta, psf, Some(&light));
    (model - batch.observed.clone().detach()).square().mean()
}

#[cfg(test)]
mod tests {
    use super::supervised_penalty;
    use burn::tensor::{Device, Tensor, TensorData};

    #[test]
    fn supervised_penalty_weighs_ln_b_and_scales_each_feature() {
        let device = Device::default();
        let row = |v: [f32; 9]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 9]), &device);
        let truth = [0.5f32, 0.8, 0.3, 0.01, -0.02, 0.05, 0.7, 0.1, 2.0];
        // b 20 % high, x0 off by 0.04 (0.2 of its scale): the eight features' mean of squares.
        let mut predicted = truth;
        predicted[0] = 0.6;
        predicted[3] = 0.05;
        let ln_b = (1.2f64).ln().powi(2);
        for weight in [1.0, 5.0] {
            let value = supervised_penalty(&row(predicted), &row(truth), weight).into_scalar::<f32>() as f64;
            let expected = (weight * ln_b + 0.2f64.powi(2)) / 8.0;
            assert!((value - expected).abs() < 1e-6, "weight {weight}: {value} vs {expected}");
        }
    }
}
