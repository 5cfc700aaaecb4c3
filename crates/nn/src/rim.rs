//! The Recurrent Inference Machine (Putzky & Welling 2017; Morningstar et
//! al. 2019): x_{t+1} = x_t + Δx_t, with Δx_t from a convolutional-GRU update
//! network fed the current estimate and the normalized likelihood gradient.
//!
//! Update network (per iteration, source grid M × M):
//! 3×3 stride-2 conv 2→16 (tanh) → ConvGRU(16 → 32) at M/2 → 4×4 stride-2
//! transposed conv 32→8 (tanh) → ConvGRU(8 → 8) at M → 3×3 conv 8→1.
//! Parameters: embed 304, GRU1 27 712 + 13 856, up 4 104, GRU2 2 320 + 1 160,
//! out 73 — 49 529 in all (below the ~300 k budget).
//! Multiply–adds per iteration at M = 96 (each ×2 for FLOPs):
//! embed 48²·2·16·9 = 0.66 M; GRU1 48²·48·96·9 = 95.6 M; up 96²·32·8·4 = 9.4 M;
//! GRU2 96²·16·24·9 = 31.9 M; out 96²·8·9 = 0.66 M — ≈ 138 M MAC ≈ 0.28 GFLOP,
//! within the 0.5 GFLOP budget.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Tensor};

/// A convolutional GRU cell with 3×3 kernels.
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

    /// h' = (1 − z) h + z tanh(W [x, r ⊙ h]), [z, r] = σ(W_g [x, h]).
    pub fn forward(&self, x: Tensor<4>, h: Tensor<4>) -> Tensor<4> {
        let gates = sigmoid(self.gates.forward(Tensor::cat(vec![x.clone(), h.clone()], 1)));
        let [b, _, hh, ww] = gates.dims();
        let z = gates.clone().slice([0..b, 0..self.hidden, 0..hh, 0..ww]);
        let r = gates.slice([0..b, self.hidden..2 * self.hidden, 0..hh, 0..ww]);
        let c = tanh(self.candidate.forward(Tensor::cat(vec![x, r * h.clone()], 1)));
        h.clone() + z * (c - h)
    }
}

/// The RIM update network.
#[derive(Module, Debug)]
pub struct Rim {
    embed: Conv2d,
    gru1: ConvGru,
    up: ConvTranspose2d,
    gru2: ConvGru,
    out: Conv2d,
}

/// Hidden states carried across iterations.
#[derive(Debug, Clone)]
pub struct RimState {
    pub h1: Tensor<4>,
    pub h2: Tensor<4>,
}

/// Channel widths of the update network.
const EMBED: usize = 16;
const HIDDEN1: usize = 32;
const UP: usize = 8;
const HIDDEN2: usize = 8;

impl Rim {
    pub fn new(device: &Device) -> Self {
        Rim {
            embed: Conv2dConfig::new([2, EMBED], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            gru1: ConvGru::new(EMBED, HIDDEN1, device),
            up: ConvTranspose2dConfig::new([HIDDEN1, UP], [4, 4]).with_stride([2, 2]).with_padding([1, 1]).init(device),
            gru2: ConvGru::new(UP, HIDDEN2, device),
            out: Conv2dConfig::new([HIDDEN2, 1], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device),
        }
    }

    /// Zero hidden states for a batch of `b` sources of side `m` (even).
    pub fn initial_state(&self, b: usize, m: usize, device: &Device) -> RimState {
        RimState { h1: Tensor::zeros([b, HIDDEN1, m / 2, m / 2], device), h2: Tensor::zeros([b, HIDDEN2, m, m], device) }
    }

    /// One update: Δx from the estimate `x` and normalized gradient `grad` ([B, 1, M, M]).
    pub fn step(&self, x: Tensor<4>, grad: Tensor<4>, state: RimState) -> (Tensor<4>, RimState) {
        let e = tanh(self.embed.forward(Tensor::cat(vec![x, grad], 1)));
        let h1 = self.gru1.forward(e, state.h1);
        let u = tanh(self.up.forward(h1.clone()));
        let h2 = self.gru2.forward(u, state.h2);
        (self.out.forward(h2.clone()), RimState { h1, h2 })
    }
}

/// Scales each sample's gradient to unit RMS so the network sees O(1) inputs.
pub fn normalize_gradient(grad: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = grad.dims();
    let rms = grad.clone().square().reshape([b, c * h * w]).mean_dim(1).sqrt().add_scalar(1e-12).reshape([b, 1, 1, 1]);
    grad / rms
}
