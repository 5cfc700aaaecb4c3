//! The differentiable forward operator F(x; Θ, PSF) and the likelihood gradient.
//!
//! Coordinates are AstroRIM's normalized image units: an N-pixel image of
//! pixel scale s spans [−1, 1], one unit being (N/2)·s arcsec, and pixel
//! (col j, row i) sits at ((j − (N−1)/2)/(N/2), (i − (N−1)/2)/(N/2)) — the
//! grid convention of `astrorim_physics::grid` rescaled. Θ is a [B, 9] tensor
//! (b, q, φ, x0, y0, γ, γ_φ, κ_s, r_s) in the normalized parameterization
//! defined by `astrorim_physics::param_map` (θ_E = b·u, centre = (x0, y0)·u,
//! Rs = r_s·u, κ_s = ρ0·Rs; (q, φ) and (γ, γ_φ) as lenstronomy); the tests
//! check this operator against the f64 physics renderer through that map.
//!
//! F, per image: ray-shoot the `N·ss`² sub-pixel centres through the SIE
//! (Kormann/NIE deflection, not the AstroRIM paper's Eq. 16), external shear
//! and an NFW halo centred on the SIE (Wright & Brainerd, not Eqs. 18–19);
//! sample the source grid bilinearly at β (zero outside); average each
//! pixel's ss² samples; convolve with the observation's PSF kernel (true
//! convolution, zero padding); add an optional background (e.g. lens light).
//! The source grid (M × M) spans [−h, h]² normalized units, h = its
//! half-width; its values are surface brightness × image-pixel area.

use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use burn::tensor::{Device, Tensor, TensorData};

/// Largest axis ratio used: √(1 − q²) must stay representable in f32.
const Q_MAX: f32 = 1.0 - 1e-4;
/// Floor of the NFW scale radius (normalized units), for Θ without a halo.
const RS_MIN: f32 = 1e-3;

/// The geometry of one forward operator: image side, supersampling, source grid.
#[derive(Debug, Clone)]
pub struct ForwardOperator {
    pub image_size: usize,
    pub supersampling: usize,
    pub source_size: usize,
    /// Half-width of the source grid in normalized image units.
    pub source_half_width: f32,
    /// Sub-pixel centres, [1, n, n] each (n = image_size·supersampling).
    x: Tensor<3>,
    y: Tensor<3>,
}

/// Splits column `k` of a [B, 9] parameter tensor into a [B, 1, 1] tensor.
fn column(theta: &Tensor<2>, k: usize) -> Tensor<3> {
    let b = theta.dims()[0];
    theta.clone().slice([0..b, k..k + 1]).reshape([b, 1, 1])
}

impl ForwardOperator {
    pub fn new(image_size: usize, supersampling: usize, source_size: usize, source_half_width: f32, device: &Device) -> Self {
        let n = image_size * supersampling;
        let unit = image_size as f32 / 2.0;
        let coords: Vec<f32> =
            (0..n).map(|j| ((j as f32 + 0.5) / supersampling as f32 - 0.5 - (image_size as f32 - 1.0) / 2.0) / unit).collect();
        let mut xs = Vec::with_capacity(n * n);
        let mut ys = Vec::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                xs.push(coords[j]);
                ys.push(coords[i]);
            }
        }
        ForwardOperator {
            image_size,
            supersampling,
            source_size,
            source_half_width,
            x: Tensor::from_data(TensorData::new(xs, [1, n, n]), device),
            y: Tensor::from_data(TensorData::new(ys, [1, n, n]), device),
        }
    }

    /// Deflection (α_x, α_y), [B, n, n] each, at the sub-pixel centres.
    pub fn deflection(&self, theta: &Tensor<2>) -> (Tensor<3>, Tensor<3>) {
        let (b, q, phi) = (column(theta, 0), column(theta, 1).clamp(0.05, Q_MAX), column(theta, 2));
        let (x0, y0) = (column(theta, 3), column(theta, 4));
        let (gamma, gamma_phi) = (column(theta, 5), column(theta, 6));
        let (kappa_s, r_s) = (column(theta, 7), column(theta, 8).clamp_min(RS_MIN));
        let dx = self.x.clone() - x0;
        let dy = self.y.clone() - y0;
        // SIE in its major-axis frame (NIE with a vanishing core), rotated back.
        let (cos, sin) = (phi.clone().cos(), phi.sin());
        let xp = cos.clone() * dx.clone() + sin.clone() * dy.clone();
        let yp = cos.clone() * dy.clone() - sin.clone() * dx.clone();
        let e = (q.clone().square().neg() + 1.0).sqrt();
        let psi = (q.clone().square() * xp.clone().square() + yp.clone().square()).add_scalar(1e-12).sqrt();
        let scale = b * q.sqrt() / e.clone();
        let axp = scale.clone() * (e.clone() * xp / psi.clone()).atan();
        let ayp = scale * (e * yp / psi).clamp(-0.999_999, 0.999_999).atanh();
        let mut ax = cos.clone() * axp.clone() - sin.clone() * ayp.clone();
        let mut ay = sin * axp + cos * ayp;
        // External shear about the origin.
        let two_phi = gamma_phi * 2.0;
        let (g1, g2) = (gamma.clone() * two_phi.clone().cos(), gamma * two_phi.sin());
        ax = ax + g1.clone() * self.x.clone() + g2.clone() * self.y.clone();
        ay = ay + g2 * self.x.clone() - g1 * self.y.clone();
        // NFW centred on the SIE: |α| = 4 κ_s r_s g(X)/X, X = R/r_s.
        let r = (dx.clone().square() + dy.clone().square()).add_scalar(1e-12).sqrt();
        let big_x = r.clone() / r_s.clone();
        let s = big_x.clone().square().neg() + 1.0;
        let t = s.clone().abs().clamp_min(1e-8).sqrt();
        let t_in = s.clone().clamp_min(1e-8).sqrt();
        let inside = s.greater_elem(0.0);
        let l_in = t.clone().clamp_max(1.0 - 1e-7).atanh() / t.clone();
        let l_out = t.clone().atan() / t;
        let l = l_out.mask_where(inside, l_in.clone());
        let g_regular = (big_x.clone() / 2.0).log() + l;
        // For X < ½ the sum ln(X/2) + L cancels catastrophically in f32; the
        // same g rewritten with d = X²/(1 + t): g = (d ln(2/X) + ln1p(−d/2))/t.
        let d = big_x.clone().square() / (t_in.clone() + 1.0);
        let g_small = (d.clone() * (big_x.clone().recip() * 2.0).log() + (d * -0.5).log1p()) / t_in;
        let g = g_regular.mask_where(big_x.clone().lower_elem(0.5), g_small);
        let magnitude_over_r = kappa_s * r_s * 4.0 * g / (big_x * r);
        ax = ax + magnitude_over_r.clone() * dx;
        ay = ay + magnitude_over_r * dy;
        (ax, ay)
    }

    /// The lensed, supersampled source before averaging: [B, 1, n, n].
    pub fn lensed_supersampled(&self, source: &Tensor<4>, theta: &Tensor<2>) -> Tensor<4> {
        let (ax, ay) = self.deflection(theta);
        let bx = (self.x.clone() - ax) / self.source_half_width;
        let by = (self.y.clone() - ay) / self.source_half_width;
        let grid = Tensor::stack::<4>(vec![bx, by], 3);
        let options =
            GridSampleOptions { mode: InterpolateMode::Bilinear, padding_mode: GridSamplePaddingMode::Zeros, align_corners: false };
        source.clone().grid_sample_2d(grid, options)
    }

    /// F(x; Θ, PSF) + background: [B, 1, N, N]. `source` is [B, 1, M, M],
    /// `theta` [B, 9], `psf` [B, 1, k, k] (k odd, each summing to 1).
    pub fn forward(&self, source: &Tensor<4>, theta: &Tensor<2>, psf: &Tensor<4>, background: Option<&Tensor<4>>) -> Tensor<4> {
        let batch = source.dims()[0];
        let (n, ss) = (self.image_size, self.supersampling);
        let lensed = self.lensed_supersampled(source, theta);
        let image = if ss == 1 { lensed } else { lensed.reshape([batch, n, ss, n, ss]).mean_dims(&[2, 4]).reshape([batch, 1, n, n]) };
        let blurred = convolve_per_image(image, psf);
        match background {
            Some(bg) => blurred + bg.clone(),
            None => blurred,
        }
    }

    /// ∇ₓ ½‖(y − F(x))/σ‖² by reverse-mode autodiff (the exact vector–Jacobian
    /// product of F, noise-weighted), detached: [B, 1, M, M].
    pub fn likelihood_gradient(
        &self,
        source: &Tensor<4>,
        theta: &Tensor<2>,
        psf: &Tensor<4>,
        observed: &Tensor<4>,
        sigma: &Tensor<4>,
        background: Option<&Tensor<4>>,
    ) -> Tensor<4> {
        let x = source.clone().detach().autodiff().require_grad();
        let residual = (observed.clone().detach() - self.forward(&x, &theta.clone().detach(), psf, background)) / sigma.clone();
        let chi2 = residual.square().sum() * 0.5;
        let grads = chi2.backward();
        x.grad(&grads).expect("the source requires a gradient").without_autodiff()
    }
}

/// True 2-D convolution of each image with its own kernel, zero padding,
/// same size: a grouped conv2d (one group per image) with flipped kernels.
pub fn convolve_per_image(images: Tensor<4>, kernels: &Tensor<4>) -> Tensor<4> {
    let [b, _, h, w] = images.dims();
    let k = kernels.dims()[2];
    let p = k / 2;
    let weight = kernels.clone().flip([2, 3]);
    let options = ConvOptions { stride: [1, 1], padding: [(p, p), (p, p)], dilation: [1, 1], groups: b };
    conv2d(images.reshape([1, b, h, w]), weight, None, options).reshape([b, 1, h, w])
}
