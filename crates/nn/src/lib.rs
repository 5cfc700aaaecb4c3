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
//! - [`metrics`]: MSE, PSNR and SSIM exactly as scikit-image 0.26 computes
//!   them (Gaussian 11-tap and uniform 7×7 variants).

pub mod data;
pub mod device;
pub mod encoder;
pub mod evaluate;
pub mod forward;
pub mod joint;
pub mod known_lens;
pub mod metrics;
pub mod model;
pub mod rim;
pub mod train;
