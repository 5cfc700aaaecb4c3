//! Lens jitter: training the known-lens RIM on lenses that are a little
//! wrong. At inference the RIM reconstructs through the lens the encoder
//! and the parametric stage estimate (θ_E a few per cent off, the centre a
//! pixel, the ellipticity and shear a few hundredths), never through the
//! true one; a RIM trained only on true lenses has never seen the data
//! disagree with its operator. With `lens_jitter` in the training
//! configuration, each training sample's operator is bound to its true Θ
//! moved by a random step in the refinement's coordinates
//! ([`crate::refine::coordinates`]); the data, the lens light and the
//! target stay the truth's.

use crate::evaluate::to_vec;
use crate::refine::{coordinates, from_coordinates, COORDINATES};
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Standard deviation of the jitter per lens coordinate at `lens_jitter`
/// = 1 and full per-sample strength, in the coordinates' units: ln b,
/// e1, e2, x0, y0 (normalized units: 0.02 is about one pixel of a 96²
/// image), γ1, γ2, κ_s, ln r_s. Sized on the parametric stage's errors on
/// the held-out set (medians: θ_E 5.9 %, |Δq| 0.09, centre 0.033″, |Δγ|
/// 0.026); the halo is not jittered.
pub const SIGMAS: [f32; 9] = [0.08, 0.06, 0.06, 0.02, 0.02, 0.03, 0.03, 0.0, 0.0];

/// Largest ellipticity |e| a jittered lens keeps (q ≥ 0.11).
const E_MAX: f32 = 0.8;

/// Θ [B, 9] with each sample's lens moved: a per-sample strength s uniform
/// in [0, 1) (so that small errors, and none, are as common as large ones)
/// times `strength` times [`SIGMAS`], Gaussian per coordinate. Deterministic
/// in (`seed`, `stream`, the sample's row).
pub fn jitter_theta(theta: Tensor<2>, strength: f64, seed: u64, stream: u64) -> Tensor<2> {
    let [b, _] = theta.dims();
    let device = theta.device();
    let rows = to_vec(theta);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1e45_717e);
    rng.set_stream(stream);
    let unit = Normal::new(0.0f32, 1.0).expect("unit normal");
    let moved: Vec<f32> = rows
        .chunks(9)
        .flat_map(|t| {
            let mut z = coordinates(t, &[1.0, 1.0, 1.0]);
            let s = rng.gen::<f32>() * strength as f32;
            for (k, sigma) in SIGMAS.iter().enumerate() {
                z[k] += s * sigma * unit.sample(&mut rng);
            }
            let e = (z[1] * z[1] + z[2] * z[2]).sqrt();
            if e > E_MAX {
                z[1] *= E_MAX / e;
                z[2] *= E_MAX / e;
            }
            z
        })
        .collect();
    let (jittered, _) = from_coordinates(Tensor::from_data(TensorData::new(moved, [b, COORDINATES]), &device));
    jittered
}
