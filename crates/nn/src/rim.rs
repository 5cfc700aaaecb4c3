//! The Recurrent Inference Machine (Putzky & Welling 2017; Morningstar et
//! al. 2019): x_{t+1} = x_t + Δx_t, with Δx_t from a convolutional-GRU update
//! network fed the current estimate and the preconditioned likelihood gradient
//! (see [`crate::known_lens::reconstruct_from`]).
//!
//! Update network (per iteration, source grid M × M, M divisible by 4), a
//! U-shaped version of Morningstar's cell with its recurrent memory at the
//! coarsest scale:
//! 3×3 stride-2 conv 2→16 (ReLU, M/2) → 3×3 stride-2 conv 16→32 (ReLU, M/4)
//! → ConvGRU(32 → 32) at M/4 → 4×4 stride-2 transposed conv 32→16 (ReLU,
//! M/2, plus the first embedding as a skip) → 4×4 stride-2 transposed conv
//! 16→8 (ReLU, M) → 1×1 conv [8 + x + ∇] → 1.
//! The GRU gates use the hard sigmoid clamp(x/4 + ½, 0, 1) and the hard tanh
//! clamp(x, −1, 1): on burn's CPU backend tanh costs ~40 ns per element
//! against ~3 ns for a clamp. Convolutions at full resolution are the
//! expensive ones on that backend, so only the transposed conv and a 1×1
//! conv work at M.
//!
//! Parameters: embed 304 + 4 640, GRU1 36 928 + 18 464, up1 8 208, up2
//! 2 056, out 11 — 70 611 in all (budget ~300 k).
//! Multiply–adds per iteration at M = 96 (each ×2 for FLOPs):
//! embed 48²·2·16·9 = 0.66 M + 24²·16·32·9 = 2.65 M; GRU1 24²·64·96·9 =
//! 31.9 M; up1 48²·32·16·4 = 4.7 M; up2 96²·16·8·4 = 4.7 M; out 96²·10 =
//! 0.09 M — ≈ 45 M MAC ≈ 0.09 GFLOP, within the 0.5 GFLOP budget. Measured
//! (`astrorim bench rim`): ≈ 5 ms per iteration at batch 1 on this machine.

use crate::conv::{conv2d, conv_transpose2d};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A 1×1 convolution as one batched matrix product: [1, C_out, C_in] ×
/// [B, C_in, H·W]. Same weights and result as `conv.forward(x)` (tested);
/// hand-written because burn-flex runs a 1×1 convolution's backward through
/// its general conv-transpose and large-kernel weight-gradient paths —
/// measured at batch 8 on the RIM's output layer (10 → 1 channels at 96²):
/// forward + backward 6.4 ms through `Conv2d::forward`, 1.3 ms here, and
/// ten such layers run in every training step.
pub fn pointwise(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [b, c_in, h, w] = x.dims();
    let [c_out, ..] = conv.weight.dims();
    let y = conv.weight.val().reshape([1, c_out, c_in]).matmul(x.reshape([b, c_in, h * w]));
    let y = match &conv.bias {
        Some(bias) => y + bias.val().reshape([1, c_out, 1]),
        None => y,
    };
    y.reshape([b, c_out, h, w])
}

/// Hard sigmoid clamp(x/4 + ½, 0, 1): the gate nonlinearity.
fn hard_sigmoid(x: Tensor<4>) -> Tensor<4> {
    (x * 0.25 + 0.5).clamp(0.0, 1.0)
}

/// A convolutional GRU cell with 3×3 kernels and hard gates.
#[derive(Module, Debug)]
pub struct ConvGru {
    gates: Conv2d,
    candidate: Conv2d,
    hidden: usize,
}

impl ConvGru {
    pub fn new(input: usize, hidden: usize, device: &Device) -> Self {
        let conv = |out| Conv2dConfig::new([input + hidden, out], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device);
        ConvGru { gates: conv(2 * hidden), candidate: conv(hidden), hidden }
    }

    /// h' = (1 − z) h + z c, c = hardtanh(W [x, r ⊙ h]), [z, r] = hardsigmoid(W_g [x, h]).
    pub fn forward(&self, x: Tensor<4>, h: Tensor<4>) -> Tensor<4> {
        let gates = hard_sigmoid(conv2d(&self.gates, Tensor::cat(vec![x.clone(), h.clone()], 1)));
        let [b, _, hh, ww] = gates.dims();
        let z = gates.clone().slice([0..b, 0..self.hidden, 0..hh, 0..ww]);
        let r = gates.slice([0..b, self.hidden..2 * self.hidden, 0..hh, 0..ww]);
        let c = conv2d(&self.candidate, Tensor::cat(vec![x, r * h.clone()], 1)).clamp(-1.0, 1.0);
        h.clone() + z * (c - h)
    }
}

/// The RIM update network.
#[derive(Module, Debug)]
pub struct Rim {
    embed1: Conv2d,
    embed2: Conv2d,
    gru: ConvGru,
    up1: ConvTranspose2d,
    up2: ConvTranspose2d,
    out: Conv2d,
}

/// Hidden states carried across iterations.
#[derive(Debug, Clone)]
pub struct RimState {
    pub hidden: Tensor<4>,
}

/// Channel widths of the update network.
const EMBED1: usize = 16;
const EMBED2: usize = 32;
const HIDDEN: usize = 32;
const UP2: usize = 8;

impl Rim {
    pub fn new(device: &Device) -> Self {
        let down =
            |i, o| Conv2dConfig::new([i, o], [3, 3]).with_stride([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device);
        let up = |i, o| ConvTranspose2dConfig::new([i, o], [4, 4]).with_stride([2, 2]).with_padding([1, 1]).init(device);
        Rim {
            embed1: down(2, EMBED1),
            embed2: down(EMBED1, EMBED2),
            gru: ConvGru::new(EMBED2, HIDDEN, device),
            up1: up(HIDDEN, EMBED1),
            up2: up(EMBED1, UP2),
            // Zero-initialized: an untrained RIM returns its starting point
            // (the back-projection) unchanged, and training learns corrections.
            out: Conv2dConfig::new([UP2 + 2, 1], [1, 1]).with_initializer(Initializer::Zeros).init(device),
        }
    }

    /// Zero hidden states for a batch of `b` sources of side `m` (divisible by 4).
    pub fn initial_state(&self, b: usize, m: usize, device: &Device) -> RimState {
        RimState { hidden: Tensor::zeros([b, HIDDEN, m / 4, m / 4], device) }
    }

    /// One update: Δx from the estimate `x` and the preconditioned gradient `grad` ([B, 1, M, M]).
    pub fn step(&self, x: Tensor<4>, grad: Tensor<4>, state: RimState) -> (Tensor<4>, RimState) {
        let input = Tensor::cat(vec![x, grad], 1);
        let e1 = relu(conv2d(&self.embed1, input.clone()));
        let e2 = relu(conv2d(&self.embed2, e1.clone()));
        let hidden = self.gru.forward(e2, state.hidden);
        let u1 = relu(conv_transpose2d(&self.up1, hidden.clone())) + e1;
        let u2 = relu(conv_transpose2d(&self.up2, u1));
        (pointwise(&self.out, Tensor::cat(vec![u2, input], 1)), RimState { hidden })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// `pointwise` against burn's own 1×1 convolution: values and the
    /// gradients of the input, weight and bias.
    #[test]
    fn pointwise_equals_the_one_by_one_convolution_and_its_gradients() {
        let device = Device::default().autodiff();
        let conv = Conv2dConfig::new([10, 3], [1, 1]).init(&device);
        let x = Tensor::<4>::random([2, 10, 6, 5], Distribution::Default, &device).require_grad();
        let probe = Tensor::<4>::random([2, 3, 6, 5], Distribution::Default, &device);
        let ours = pointwise(&conv, x.clone());
        let theirs = conv.forward(x.clone());
        let close = |a: Tensor<4>, b: Tensor<4>| (a - b).abs().max().into_scalar::<f32>();
        assert!(close(ours.clone(), theirs.clone()) < 1e-6);
        let g_ours = (ours * probe.clone()).sum().backward();
        let g_theirs = (theirs * probe).sum().backward();
        assert!(close(x.grad(&g_ours).unwrap(), x.grad(&g_theirs).unwrap()) < 1e-5);
        assert!(close(conv.weight.val().grad(&g_ours).unwrap(), conv.weight.val().grad(&g_theirs).unwrap()) < 1e-4);
        let bias = conv.bias.as_ref().unwrap().val();
        let (b_ours, b_theirs) = (bias.grad(&g_ours).unwrap(), bias.grad(&g_theirs).unwrap());
        assert!((b_ours - b_theirs).abs().max().into_scalar::<f32>() < 1e-4);
    }
}
