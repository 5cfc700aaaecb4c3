//! Reconstruction losses of a source estimate against the true source, on
//! the networks' scale (observations divided by their maximum pixel, see
//! [`crate::data::batch`]): the peak-normalized MSE and an SSIM term.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};

/// Floor of the true source's peak (and of its range in [`ssim_loss`]), in
/// units of the observation's maximum pixel.
pub(crate) const PEAK_FLOOR: f64 = 0.1;

/// The batch mean of each sample's MSE divided by the square of its true
/// source's peak (floored at [`PEAK_FLOOR`]): every sample weighs as in the
/// min-max-normalized MSE that Table 2 reports. Without it the loss is
/// dominated by blurred ground-based samples, whose source peaks reach 8×
/// the observation's maximum, against 0.2–1 for weakly lensed or
/// lens-light-dominated ones (test set, 5th–95th percentiles per variant).
pub(crate) fn peak_normalized_mse(estimate: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let batch = target.dims()[0];
    let peak = target.clone().detach().reshape([batch as i64, -1]).max_dim(1).clamp_min(PEAK_FLOOR);
    let per_sample = (estimate - target).square().reshape([batch as i64, -1]).mean_dim(1);
    (per_sample / peak.square()).mean()
}

/// The batch mean of 1 − SSIM of the estimate against the true source, with
/// Table 2's Gaussian window (σ = 1.5, 11 taps, C1 = 0.01², C2 = 0.03²).
/// Both images are scaled by the true source's min–max range (detached,
/// floored at [`PEAK_FLOOR`]), the normalization Table 2 applies to the
/// truth; the metric also rescales the estimate by its own range, which a
/// good estimate shares. The window sums are valid convolutions, so the
/// mean runs over exactly the pixels scikit-image scores after cropping 5
/// from each edge (their windows never reach its reflected border).
pub(crate) fn ssim_loss(estimate: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let [batch, _, _, _] = target.dims();
    let flat = target.clone().detach().reshape([batch as i64, -1]);
    let low = flat.clone().min_dim(1);
    let range = (flat.max_dim(1) - low.clone()).clamp_min(PEAK_FLOOR);
    let low = low.reshape([batch, 1, 1, 1]);
    let range = range.reshape([batch, 1, 1, 1]);
    let x = (estimate - low.clone()) / range.clone();
    let y = (target - low) / range;
    let moments = Tensor::cat(vec![x.clone(), y.clone(), x.clone().square(), y.clone().square(), x * y], 1);
    let means = window_means(moments);
    let part = |k: usize| means.clone().narrow(1, k, 1);
    let (ux, uy) = (part(0), part(1));
    let vx = part(2) - ux.clone().square();
    let vy = part(3) - uy.clone().square();
    let vxy = part(4) - ux.clone() * uy.clone();
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let numerator = (ux.clone() * uy.clone() * 2.0 + c1) * (vxy * 2.0 + c2);
    let denominator = (ux.square() + uy.square() + c1) * (vx + vy + c2);
    let ssim = (numerator / denominator).reshape([batch as i64, -1]).mean_dim(1);
    (ssim.neg() + 1.0).mean()
}

/// Gaussian-window means of each channel of `[B, C, H, W]`: a separable
/// depthwise valid convolution, `[B, C, H − 10, W − 10]`.
fn window_means(images: Tensor<4>) -> Tensor<4> {
    let channels = images.dims()[1];
    let taps: Vec<f32> = astrorim_metrics::ssim_gaussian_taps().into_iter().map(|t| t as f32).collect();
    let n = taps.len();
    let weights: Vec<f32> = (0..channels).flat_map(|_| taps.iter().copied()).collect();
    let device = images.device();
    let along_x = Tensor::<4>::from_data(TensorData::new(weights.clone(), [channels, 1, 1, n]), &device);
    let along_y = Tensor::<4>::from_data(TensorData::new(weights, [channels, 1, n, 1]), &device);
    let options = ConvOptions { stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: channels };
    conv2d(conv2d(images, along_x, None, options.clone()), along_y, None, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn image(n: usize, phase: f64, scale: f64) -> Vec<f64> {
        (0..n * n)
            .map(|k| {
                let (x, y) = ((k % n) as f64 / n as f64, (k / n) as f64 / n as f64);
                scale * ((-((x - 0.45).powi(2) + (y - 0.55).powi(2)) / 0.02).exp() + 0.2 * (9.0 * x + 5.0 * y + phase).sin())
            })
            .collect()
    }

    fn tensor(values: &[f64], n: usize, device: &Device) -> Tensor<4> {
        let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        Tensor::from_data(TensorData::new(v, [1, 1, n, n]), device)
    }

    /// 1 − the loss equals the exact (f64, scikit-image's) Gaussian SSIM of
    /// the two images scaled by the truth's range, for each sample of a batch.
    #[test]
    fn ssim_loss_is_one_minus_the_papers_ssim() {
        let device = Device::default();
        let n = 32;
        let pairs = [(image(n, 0.0, 3.0), image(n, 0.7, 2.6)), (image(n, 1.0, 0.5), image(n, 1.0, 0.5))];
        let mut expected = Vec::new();
        for (estimate, truth) in &pairs {
            let low = truth.iter().cloned().fold(f64::INFINITY, f64::min);
            let high = truth.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let scale = |v: &[f64]| v.iter().map(|x| (x - low) / (high - low)).collect::<Vec<f64>>();
            expected.push(astrorim_metrics::ssim_gaussian(&scale(estimate), &scale(truth), n, n, 1.0));
        }
        assert!(expected[0] < 0.9 && (expected[1] - 1.0).abs() < 1e-12, "{expected:?}");
        for (k, (estimate, truth)) in pairs.iter().enumerate() {
            let loss = ssim_loss(tensor(estimate, n, &device), tensor(truth, n, &device)).into_scalar::<f32>() as f64;
            assert!((1.0 - loss - expected[k]).abs() < 2e-5, "sample {k}: {} vs {}", 1.0 - loss, expected[k]);
        }
        let batch = |i: usize| Tensor::cat(pairs.iter().map(|p| tensor(if i == 0 { &p.0 } else { &p.1 }, n, &device)).collect(), 0);
        let mean = ssim_loss(batch(0), batch(1)).into_scalar::<f32>() as f64;
        assert!((mean - (2.0 - expected[0] - expected[1]) / 2.0).abs() < 2e-5, "batch mean {mean}");
    }
}
