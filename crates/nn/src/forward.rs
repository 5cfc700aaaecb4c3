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

use crate::conv::convolve_per_image;
use astrorim_physics::light::{SERSIC_K_FLOOR, SERSIC_K_OFFSET, SERSIC_K_SLOPE};
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

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

/// The Sérsic profile exp(−b_n((r/R_e)^{1/n} − 1)) with the renderer's
/// (lenstronomy's) b_n = 1.9992 n − 0.3271 ([`astrorim_physics::light::sersic_k`]);
/// `r` [B, n, n], `r_e` and `index` [B, 1, 1].
fn sersic_profile(r: Tensor<3>, r_e: Tensor<3>, index: Tensor<3>) -> Tensor<3> {
    let b_n = (index.clone() * SERSIC_K_SLOPE - SERSIC_K_OFFSET).clamp_min(SERSIC_K_FLOOR);
    (b_n.neg() * (((r / r_e).log() / index).exp() - 1.0)).exp()
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

    /// A circular Sérsic lens light centred on the lens, [B, 1, N, N]:
    /// I ∝ exp(−b_n((r/R_e)^{1/n} − 1)) with the renderer's (lenstronomy's)
    /// b_n = 1.9992 n − 0.3271 ([`astrorim_physics::light::sersic_k`]),
    /// evaluated at the sub-pixel centres, block-averaged, and scaled so that
    /// the image holds `flux` in total (flux within the field of view).
    /// `light` is [B, 3] = (flux, R_e in normalized units, n); the centre is
    /// Θ's (x0, y0). Differentiable in both.
    pub fn sersic_light(&self, theta: &Tensor<2>, light: &Tensor<2>) -> Tensor<4> {
        let batch = theta.dims()[0];
        let (n, ss) = (self.image_size, self.supersampling);
        let (flux, r_e, index) = (column(light, 0), column(light, 1), column(light, 2));
        let dx = self.x.clone() - column(theta, 3);
        let dy = self.y.clone() - column(theta, 4);
        let r = (dx.square() + dy.square()).add_scalar(1e-12).sqrt();
        let image = self.block_mean(sersic_profile(r, r_e, index).reshape([batch, 1, n * ss, n * ss]));
        let total = image.clone().sum_dims(&[1, 2, 3]).clamp_min(1e-30);
        image / total * flux.reshape([batch, 1, 1, 1])
    }

    /// An elliptical Sérsic source evaluated analytically at the traced
    /// sub-pixel positions β = x − α(x; Θ) (no source grid), block-averaged
    /// and convolved with `psf`: [B, 1, N, N], of peak brightness
    /// exp(b_n) before the blur (its amplitude is the caller's). `source` is
    /// [B, 6] = (x_s, y_s, e1, e2, R_e, n): centre and half-light radius in
    /// normalized units, ellipticity components as lenstronomy's (the
    /// elliptical radius √(q x'² + y'²/q) in the frame rotated by φ).
    /// Differentiable in Θ and the source parameters.
    pub fn lensed_sersic(&self, theta: &Tensor<2>, source: &Tensor<2>, psf: &Tensor<4>) -> Tensor<4> {
        self.lensed_sersics(theta, std::slice::from_ref(source), psf).remove(0)
    }

    /// [`Self::lensed_sersic`] for several source components through one
    /// ray shooting: one image per component, each [B, 1, N, N].
    pub fn lensed_sersics(&self, theta: &Tensor<2>, sources: &[Tensor<2>], psf: &Tensor<4>) -> Vec<Tensor<4>> {
        let batch = theta.dims()[0];
        let (n, ss) = (self.image_size, self.supersampling);
        let (ax, ay) = self.deflection(theta);
        let (bx, by) = (self.x.clone() - ax, self.y.clone() - ay);
        sources
            .iter()
            .map(|source| {
                let dx = bx.clone() - column(source, 0);
                let dy = by.clone() - column(source, 1);
                let (e1, e2) = (source.clone().slice([0..batch, 2..3]), source.clone().slice([0..batch, 3..4]));
                let (q, phi) = crate::encoder::q_phi(e1, e2);
                let (q, phi) = (q.reshape([batch, 1, 1]), phi.reshape([batch, 1, 1]));
                let (cos, sin) = (phi.clone().cos(), phi.sin());
                let xp = cos.clone() * dx.clone() + sin.clone() * dy.clone();
                let yp = cos * dy - sin * dx;
                let r = (q.clone() * xp.square() + yp.square() / q).add_scalar(1e-12).sqrt();
                let fine = sersic_profile(r, column(source, 4), column(source, 5)).reshape([batch, 1, n * ss, n * ss]);
                convolve_per_image(self.block_mean(fine), psf)
            })
            .collect()
    }

    /// The source-plane sampling grid of the sub-pixel centres, [B, n, n, 2],
    /// in `grid_sample` units (the source grid spans [−1, 1]).
    pub fn sampling_grid(&self, theta: &Tensor<2>) -> Tensor<4> {
        let (ax, ay) = self.deflection(theta);
        let bx = (self.x.clone() - ax) / self.source_half_width;
        let by = (self.y.clone() - ay) / self.source_half_width;
        Tensor::stack::<4>(vec![bx, by], 3)
    }

    /// The mean of each pixel's ss × ss sub-pixels: [B, 1, N·ss, N·ss] → [B, 1, N, N].
    fn block_mean(&self, fine: Tensor<4>) -> Tensor<4> {
        let (n, ss) = (self.image_size, self.supersampling);
        if ss == 1 {
            return fine;
        }
        let batch = fine.dims()[0];
        fine.reshape([batch, n, ss, n, ss]).mean_dims(&[2, 4]).reshape([batch, 1, n, n])
    }

    /// F(x; Θ, PSF) + background: [B, 1, N, N]. `source` is [B, 1, M, M],
    /// `theta` [B, 9], `psf` [B, 1, k, k] (k odd, each summing to 1).
    /// Differentiable in the source, Θ and the PSF.
    pub fn forward(&self, source: &Tensor<4>, theta: &Tensor<2>, psf: &Tensor<4>, background: Option<&Tensor<4>>) -> Tensor<4> {
        let blurred = convolve_per_image(self.block_mean(sample(source, self.sampling_grid(theta))), psf);
        match background {
            Some(bg) => blurred + bg.clone(),
            None => blurred,
        }
    }

    /// F with Θ, the PSF and the background fixed (detached): the linear map
    /// x ↦ F x that the RIM iterates against. The ray shooting is done once
    /// here, and the bilinear sampling becomes an explicit sparse matrix.
    pub fn bind(&self, theta: &Tensor<2>, psf: &Tensor<4>, background: Option<&Tensor<4>>) -> LinearOperator<'_> {
        let strip = |t: &Tensor<4>| t.clone().detach().without_autodiff();
        let grid = self.sampling_grid(&theta.clone().detach().without_autodiff());
        let (index, weight) = bilinear_weights(grid, self.source_size);
        LinearOperator { op: self, index, weight, psf: strip(psf), background: background.map(strip), differentiable: false }
    }

    /// The same linear map as [`Self::bind`], differentiable in Θ, the PSF and
    /// the background: the bilinear weights are computed from the traced
    /// positions with autodiff (the corner indices, piecewise constant in Θ,
    /// are not), so everything the operator computes — F x, Fᵀ r, the
    /// likelihood gradient the RIM sees — carries the gradient back to Θ.
    /// What lets the reconstruction loss reach the encoder in joint training.
    pub fn bind_differentiable(&self, theta: &Tensor<2>, psf: &Tensor<4>, background: Option<&Tensor<4>>) -> LinearOperator<'_> {
        let grid = self.sampling_grid(theta);
        let [b, h, w, _] = grid.dims();
        let p = h * w;
        let (index, _) = bilinear_weights(grid.clone().detach().without_autodiff(), self.source_size);
        let m = self.source_size as f32;
        // grid_sample's pixel coordinate u = ((g + 1)·M − 1)/2, its lower
        // corner (constant) and the fraction past it (differentiable).
        let axis = |k: usize| {
            let u = (grid.clone().slice([0..b, 0..h, 0..w, k..k + 1]).reshape([b, p]) + 1.0) * (m / 2.0) - 0.5;
            let corner = u.clone().detach().without_autodiff().floor();
            (u - corner.clone(), corner)
        };
        let ((fu, u0), (fv, v0)) = (axis(0), axis(1));
        // A corner outside the source grid has weight zero.
        let inside = |c: Tensor<2>| c.clone().greater_equal_elem(0.0).float() * c.lower_elem(m).float();
        let (in_u0, in_u1, in_v0, in_v1) = (inside(u0.clone()), inside(u0 + 1.0), inside(v0.clone()), inside(v0 + 1.0));
        let (gu, gv) = (fu.clone().neg() + 1.0, fv.clone().neg() + 1.0);
        let weight = Tensor::cat(
            vec![
                gu.clone() * gv.clone() * in_u0.clone() * in_v0.clone(),
                fu.clone() * gv * in_u1.clone() * in_v0,
                gu * fv.clone() * in_u0 * in_v1.clone(),
                fu * fv * in_u1 * in_v1,
            ],
            1,
        );
        LinearOperator { op: self, index, weight, psf: psf.clone(), background: background.cloned(), differentiable: true }
    }

    /// ∇ₓ ½‖(y − F(x))/σ‖², detached: [B, 1, M, M] — the exact noise-weighted
    /// vector–Jacobian product, through the bound operator's tested transpose.
    pub fn likelihood_gradient(
        &self,
        source: &Tensor<4>,
        theta: &Tensor<2>,
        psf: &Tensor<4>,
        observed: &Tensor<4>,
        sigma: &Tensor<4>,
        background: Option<&Tensor<4>>,
    ) -> Tensor<4> {
        self.bind(theta, psf, background).likelihood_gradient(source, observed, sigma)
    }
}

/// F(·; Θ, PSF) + background for fixed Θ, PSF and background (see
/// [`ForwardOperator::bind`]); lives on the inner (non-autodiff) device, or,
/// from [`ForwardOperator::bind_differentiable`], keeps the autodiff graph of Θ, the PSF and the background.
#[derive(Debug, Clone)]
pub struct LinearOperator<'a> {
    op: &'a ForwardOperator,
    /// Flat source-pixel index of the four bilinear corners of every
    /// sub-pixel, [B, 4·P] (P = (N·ss)², corner-major), and their weights.
    index: Tensor<2, Int>,
    weight: Tensor<2>,
    psf: Tensor<4>,
    background: Option<Tensor<4>>,
    /// Made by [`ForwardOperator::bind_differentiable`]: images and
    /// residuals keep their autodiff graph.
    differentiable: bool,
}

impl LinearOperator<'_> {
    /// `t` without its autodiff graph, unless the operator is differentiable.
    fn detached<const D: usize>(&self, t: &Tensor<D>) -> Tensor<D> {
        if self.differentiable {
            t.clone()
        } else {
            t.clone().detach().without_autodiff()
        }
    }

    /// F x + background, [B, 1, N, N].
    pub fn apply(&self, source: &Tensor<4>) -> Tensor<4> {
        let image = self.apply_linear(source);
        match &self.background {
            Some(bg) => image + bg.clone(),
            None => image,
        }
    }

    /// The shape [B, 1, M, M] of a source batch of `b` samples.
    pub fn source_shape(&self, b: usize) -> [usize; 4] {
        [b, 1, self.op.source_size, self.op.source_size]
    }

    /// y − background (detached), [B, 1, N, N].
    pub fn data_minus_background(&self, observed: &Tensor<4>) -> Tensor<4> {
        let y = observed.clone().detach().without_autodiff();
        match &self.background {
            Some(bg) => y - bg.clone(),
            None => y,
        }
    }

    /// F x without the background: sparse bilinear sampling, block mean, PSF.
    pub fn apply_linear(&self, source: &Tensor<4>) -> Tensor<4> {
        let [b, _, m, _] = source.dims();
        let (n, ss) = (self.op.image_size, self.op.supersampling);
        let p = n * ss * n * ss;
        let corners = source.clone().reshape([b, m * m]).gather(1, self.index.clone()) * self.weight.clone();
        let lensed = corners.reshape([b, 4, p]).sum_dim(1).reshape([b, 1, n * ss, n * ss]);
        convolve_per_image(self.op.block_mean(lensed), &self.psf)
    }

    /// Fᵀ applied to an image batch [B, 1, N, N], giving [B, 1, M, M]:
    /// correlation with the PSF (the transpose of the convolution), the
    /// transpose of the block mean (each value spread over its ss²
    /// sub-pixels, ÷ ss²), then the transpose of the sampling matrix (a
    /// scatter-add). Written out because burn's convolution backward also
    /// forms the kernel gradient and costs ten times the forward pass; the
    /// adjoint dot-product test checks it.
    pub fn adjoint(&self, image: &Tensor<4>) -> Tensor<4> {
        let [b, _, n, _] = image.dims();
        let (m, ss) = (self.op.source_size, self.op.supersampling);
        let p = n * ss * n * ss;
        let correlated = convolve_per_image(self.detached(image), &self.psf.clone().flip([2, 3]));
        let spread = if ss == 1 {
            correlated
        } else {
            correlated.reshape([b, n, 1, n, 1]).expand([b, n, ss, n, ss]).reshape([b, 1, n * ss, n * ss]) / (ss * ss) as f32
        };
        let values = spread.reshape([b, 1, p]).expand([b, 4, p]).reshape([b, 4 * p]) * self.weight.clone();
        Tensor::<2>::zeros([b, m * m], &image.device()).scatter(1, self.index.clone(), values, IndexingUpdateOp::Add).reshape([b, 1, m, m])
    }

    /// ∇ₓ ½‖(y − F x − bg)/σ‖² = −Fᵀ((y − F x − bg)/σ²), [B, 1, M, M]; x, y
    /// and σ detached, and the result too unless the operator is differentiable.
    pub fn likelihood_gradient(&self, source: &Tensor<4>, observed: &Tensor<4>, sigma: &Tensor<4>) -> Tensor<4> {
        let x = source.clone().detach().without_autodiff();
        let weight = sigma.clone().detach().without_autodiff().square().recip();
        let residual = observed.clone().detach().without_autodiff() - self.apply(&x);
        self.adjoint(&(residual * weight)).neg()
    }
}

/// The sparse form of [`sample`] on an M × M source: for each grid point
/// its four corner pixels (flat index, corner-major [B, 4·P]) and weights,
/// with grid_sample's conventions (align_corners = false, zero outside: an
/// outside corner gets weight 0 and index 0).
fn bilinear_weights(grid: Tensor<4>, m: usize) -> (Tensor<2, Int>, Tensor<2>) {
    let [b, h, w, _] = grid.dims();
    let device = grid.device();
    let coords = grid.into_data().convert::<f32>().try_into_vec::<f32>().expect("float grid");
    let p = h * w;
    let mut index = vec![0i64; b * 4 * p];
    let mut weight = vec![0f32; b * 4 * p];
    for s in 0..b {
        for k in 0..p {
            let (gx, gy) = (coords[2 * (s * p + k)], coords[2 * (s * p + k) + 1]);
            let u = ((gx + 1.0) * m as f32 - 1.0) / 2.0;
            let v = ((gy + 1.0) * m as f32 - 1.0) / 2.0;
            let (u0, v0) = (u.floor(), v.floor());
            let (fu, fv) = (u - u0, v - v0);
            let corners = [
                (u0, v0, (1.0 - fu) * (1.0 - fv)),
                (u0 + 1.0, v0, fu * (1.0 - fv)),
                (u0, v0 + 1.0, (1.0 - fu) * fv),
                (u0 + 1.0, v0 + 1.0, fu * fv),
            ];
            for (c, &(cu, cv, wt)) in corners.iter().enumerate() {
                if cu >= 0.0 && cv >= 0.0 && cu < m as f32 && cv < m as f32 {
                    let at = s * 4 * p + c * p + k;
                    index[at] = cv as i64 * m as i64 + cu as i64;
                    weight[at] = wt;
                }
            }
        }
    }
    (Tensor::from_data(TensorData::new(index, [b, 4 * p]), &device), Tensor::from_data(TensorData::new(weight, [b, 4 * p]), &device))
}

/// Bilinear sampling of `source` [B, 1, M, M] at `grid` [B, n, n, 2] (zero outside).
fn sample(source: &Tensor<4>, grid: Tensor<4>) -> Tensor<4> {
    let options = GridSampleOptions { mode: InterpolateMode::Bilinear, padding_mode: GridSamplePaddingMode::Zeros, align_corners: false };
    source.clone().grid_sample_2d(grid, options)
}
