//! The learning engine of astrorim, on burn 0.22.1.
//!
//! Tensors carry their backend in their device, so the code here has no
//! backend type parameter: the default build runs on burn's pure-Rust `flex`
//! CPU backend, and a GPU is a cargo feature (`wgpu`, `cuda`) plus a device
//! choice ([`device::default_device`]).
//!
//! - [`forward`]: the differentiable forward operator F(x; Θ, PSF) — SIE +
//!   external shear + NFW ray shooting in AstroRIM's normalized units,
//!   bilinear sampling of the source grid, block averaging, PSF convolution —
//!   and the exact noise-weighted likelihood gradient ∇ₓ ½‖(y − F x)/σ‖².
//!   [`forward::LinearOperator`] is F bound to fixed Θ and PSF, with a
//!   sparse sampling matrix and a hand-written transpose (tested against autodiff).
//! - [`rim`]: the RIM update network; [`known_lens`]: running it, and the
//!   back-projection and Tikhonov baselines; [`loss`]: the reconstruction
//!   losses (peak-normalized MSE, 1 − SSIM).
//! - [`encoder`]: the LensParameterEncoder; [`joint`]: the joint mode's
//!   forward model (encoder, learned PSF) and loss terms; [`model`]: RIM +
//!   forward model and how each mode binds its operator; [`refine`]: the
//!   encoder's lens refined against the data with the RIM as source solver,
//!   after [`parametric`]: the lens fitted with a parametric source.
//! - [`data`]: batches from simulator shards, operators per source field of
//!   view, and the flip/rotation augmentation.
//! - [`train`]: training and exact resume ([`jitter`]: the known-lens RIM
//!   trained on imperfect lenses); [`config`]: its TOML
//!   configuration; [`checkpoint`]: exported models and the shipped one;
//!   [`stream`]: on-the-fly training data; [`evaluate`]: Table-2 reports;
//!   [`views`]: the encoder read over the grid's eight symmetries.

pub mod baseline;
pub mod checkpoint;
pub mod config;
pub mod conv;
pub mod data;
pub mod data_parallel;
pub mod device;
pub mod encoder;
pub mod evaluate;
pub mod evidence_refine;
pub mod forward;
pub mod jitter;
pub mod joint;
pub mod known_lens;
pub mod loss;
pub mod model;
pub mod parametric;
pub mod refine;
pub mod rim;
pub mod rim_likelihood;
pub mod stream;
pub mod train;
pub mod views;
